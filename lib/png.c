#include <errno.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "data.h"

#define SEPARATOR 128

/* libpng reports through longjmp; keep its message for the caller. */
struct png_ctx {
	struct xf_err *err;
	int werrno;
};

static void
on_error(png_structp png, png_const_charp msg)
{
	struct png_ctx *ctx = png_get_error_ptr(png);

	xf_errf(ctx->err, "png: %s", msg);
	png_longjmp(png, 1);
}

static void
on_warning(png_structp png, png_const_charp msg)
{
}

static void
on_write(png_structp png, png_bytep p, size_t n)
{
	FILE *f = png_get_io_ptr(png);
	struct png_ctx *ctx = png_get_error_ptr(png);

	if (fwrite(p, 1, n, f) != n) {
		ctx->werrno = errno;
		png_error(png, strerror(errno));
	}
}

static void
on_flush(png_structp png)
{
	FILE *f = png_get_io_ptr(png);
	struct png_ctx *ctx = png_get_error_ptr(png);

	if (fflush(f) != 0) {
		ctx->werrno = errno;
		png_error(png, strerror(errno));
	}
}

int
xf_png_grid(FILE *f, const uint8_t *x, size_t n, int64_t c, int64_t h,
    int64_t w, int rows, int cols, int scale, struct xf_err *err)
{
	struct png_ctx ctx = { err, 0 };
	png_structp png;
	png_infop info;
	uint8_t *volatile img = NULL;
	size_t gw, gh, size = (size_t)(c * h * w);

	if (c != 1 && c != 3)
		return xf_errf(err, "png: images of %lld channels, want 1 or 3",
		    (long long)c);
	if (rows < 1 || cols < 1 || scale < 1 || n > (size_t)rows * cols)
		return xf_errf(err, "png: bad grid");
	gw = (size_t)cols * ((size_t)w * scale + 1) + 1;
	gh = (size_t)rows * ((size_t)h * scale + 1) + 1;
	if (gw > 65535 || gh > 65535 || gw * gh > (1u << 28))
		return xf_errf(err, "png: a grid of %zux%zu pixels is too large",
		    gw, gh);
	if ((img = malloc(gw * gh * c)) == NULL)
		return xf_errf(err, "out of memory");
	memset(img, SEPARATOR, gw * gh * c);
	for (size_t cell = 0; cell < (size_t)rows * cols; cell++) {
		size_t oy = cell / cols * ((size_t)h * scale + 1) + 1;
		size_t ox = cell % cols * ((size_t)w * scale + 1) + 1;

		for (size_t yy = 0; yy < (size_t)h * scale; yy++)
			for (size_t xx = 0; xx < (size_t)w * scale; xx++)
				for (int64_t ch = 0; ch < c; ch++) {
					size_t o = ((oy + yy) * gw + ox + xx) * c + ch;

					img[o] = cell < n ? x[cell * size +
					    ((size_t)ch * h + yy / scale) * w + xx / scale] : 0;
				}
	}
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, on_error,
	    on_warning);
	info = png ? png_create_info_struct(png) : NULL;
	if (png == NULL || info == NULL) {
		png_destroy_write_struct(&png, NULL);
		free(img);
		return xf_errf(err, "out of memory");
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		free(img);
		errno = ctx.werrno;
		return -1;
	}
	png_set_write_fn(png, f, on_write, on_flush);
	png_set_IHDR(png, info, (png_uint_32)gw, (png_uint_32)gh, 8,
	    c == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
	    PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
	    PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (size_t yy = 0; yy < gh; yy++)
		png_write_row(png, img + yy * gw * c);
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	free(img);
	if (fflush(f) != 0 || ferror(f)) {
		int e = errno;

		xf_errf(err, "png: write: %s", strerror(e));
		errno = e;
		return -1;
	}
	return 0;
}
