#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "data.h"

/*
 * PNG and JPEG decoding for the folder source (see data.h).  libpng and
 * libjpeg report errors by longjmp: each decode has its own jmp_buf, set
 * before the library is called, and its own cleanup on the way back; their
 * message and warning hooks print nothing.
 */

#define MAX_PIXELS (64 << 20)     /* bytes of one decoded image, at most */

/*
 * The decoders' state lives in struct decoder, which the caller owns, not
 * in the function that calls setjmp: what a library changes before it
 * longjmps back is then well defined when the cleanup reads it.
 */
struct decoder {
	const unsigned char *p;   /* PNG input */
	size_t len, off;
	jmp_buf jmp;
	char *msg;                /* (msg_cap) the library's error text */
	size_t msg_cap;
	struct jpeg_decompress_struct cinfo;
	struct jpeg_error_mgr jerr;
};

int
xf_grow(uint8_t **p, size_t *cap, size_t n)
{
	uint8_t *q;

	if (n <= *cap)
		return 0;
	if ((q = realloc(*p, n)) == NULL)
		return -1;
	*p = q;
	*cap = n;
	return 0;
}

static void
png_fail(png_structp png, png_const_charp msg)
{
	struct decoder *d = png_get_error_ptr(png);

	snprintf(d->msg, d->msg_cap, "libpng: %s", msg);
	longjmp(d->jmp, 1);
}

static void
png_quiet(png_structp png, png_const_charp msg)
{
}

static void
png_mem_read(png_structp png, png_bytep out, size_t n)
{
	struct decoder *d = png_get_io_ptr(png);

	if (d->len - d->off < n)
		png_error(png, "truncated");
	memcpy(out, d->p + d->off, n);
	d->off += n;
}

/* Decodes (pix != NULL) or only reads the header of the PNG in data. */
static int
png_decode(struct decoder *d, const unsigned char *data, size_t len,
    struct xf_image *in, uint8_t **pix, size_t *cap)
{
	png_structp png;
	png_infop info = NULL;
	png_bytep *volatile rows = NULL;

	d->p = data, d->len = len, d->off = 0;
	png = png_create_read_struct(PNG_LIBPNG_VER_STRING, d, png_fail,
	    png_quiet);
	if (png == NULL || (info = png_create_info_struct(png)) == NULL) {
		png_destroy_read_struct(&png, NULL, NULL);
		snprintf(d->msg, d->msg_cap, "out of memory");
		return -1;
	}
	if (setjmp(d->jmp)) {
		free(rows);
		png_destroy_read_struct(&png, &info, NULL);
		return -1;
	}
	png_set_benign_errors(png, 0);
	png_set_user_limits(png, 1 << 16, 1 << 16);
	png_set_read_fn(png, d, png_mem_read);
	png_read_info(png, info);
	png_set_expand(png);
	png_set_strip_16(png);
	png_set_strip_alpha(png);
	png_set_interlace_handling(png);
	png_read_update_info(png, info);
	in->w = (int)png_get_image_width(png, info);
	in->h = (int)png_get_image_height(png, info);
	in->c = png_get_channels(png, info);
	if ((in->c != 1 && in->c != 3) || png_get_bit_depth(png, info) != 8)
		png_error(png, "unexpected channels or depth after expansion");
	if ((size_t)in->w * in->h * in->c > MAX_PIXELS)
		png_error(png, "image over 64 MiB decoded");
	if (pix != NULL) {
		size_t stride = (size_t)in->w * in->c;

		if (xf_grow(pix, cap, stride * in->h) < 0 ||
		    (rows = malloc(in->h * sizeof *rows)) == NULL)
			png_error(png, "out of memory");
		for (int y = 0; y < in->h; y++)
			rows[y] = *pix + y * stride;
		png_read_image(png, rows);
		png_read_end(png, NULL);
	}
	free(rows);
	png_destroy_read_struct(&png, &info, NULL);
	return 0;
}

static void
jpeg_exit(j_common_ptr cinfo)
{
	struct decoder *d = cinfo->client_data;
	char text[JMSG_LENGTH_MAX];

	cinfo->err->format_message(cinfo, text);
	snprintf(d->msg, d->msg_cap, "libjpeg: %s", text);
	longjmp(d->jmp, 1);
}

/* Warnings (corrupt data, premature end) are errors; nothing is printed. */
static void
jpeg_emit(j_common_ptr cinfo, int level)
{
	if (level < 0)
		jpeg_exit(cinfo);
}

static void
jpeg_quiet(j_common_ptr cinfo)
{
}

static void
jpeg_refuse(struct decoder *d, const char *why)
{
	snprintf(d->msg, d->msg_cap, "libjpeg: %s", why);
	longjmp(d->jmp, 1);
}

static int
jpeg_decode(struct decoder *d, const unsigned char *data, size_t len,
    struct xf_image *in, uint8_t **pix, size_t *cap)
{
	struct jpeg_decompress_struct *cinfo = &d->cinfo;

	memset(cinfo, 0, sizeof *cinfo);
	cinfo->client_data = d;   /* kept by jpeg_create_decompress */
	cinfo->err = jpeg_std_error(&d->jerr);
	d->jerr.error_exit = jpeg_exit;
	d->jerr.emit_message = jpeg_emit;
	d->jerr.output_message = jpeg_quiet;
	if (setjmp(d->jmp)) {
		jpeg_destroy_decompress(cinfo);
		return -1;
	}
	jpeg_create_decompress(cinfo);
	jpeg_mem_src(cinfo, data, (unsigned long)len);
	jpeg_read_header(cinfo, TRUE);
	if (cinfo->jpeg_color_space == JCS_GRAYSCALE)
		cinfo->out_color_space = JCS_GRAYSCALE;
	else if (cinfo->jpeg_color_space == JCS_YCbCr ||
	    cinfo->jpeg_color_space == JCS_RGB)
		cinfo->out_color_space = JCS_RGB;
	else
		jpeg_refuse(d, "CMYK and YCCK JPEGs are not supported");
	in->w = (int)cinfo->image_width;
	in->h = (int)cinfo->image_height;
	in->c = cinfo->out_color_space == JCS_GRAYSCALE ? 1 : 3;
	if ((size_t)in->w * in->h * in->c > MAX_PIXELS)
		jpeg_refuse(d, "image over 64 MiB decoded");
	if (pix != NULL) {
		size_t stride = (size_t)in->w * in->c;

		if (xf_grow(pix, cap, stride * in->h) < 0)
			jpeg_refuse(d, "out of memory");
		jpeg_start_decompress(cinfo);
		while (cinfo->output_scanline < cinfo->output_height) {
			JSAMPROW row = *pix + cinfo->output_scanline * stride;

			jpeg_read_scanlines(cinfo, &row, 1);
		}
		jpeg_finish_decompress(cinfo);
	}
	jpeg_destroy_decompress(cinfo);
	return 0;
}

int
xf_image_decode(const void *data, size_t len, struct xf_image *in,
    uint8_t **pix, size_t *cap, struct xf_err *err)
{
	static const unsigned char png_sig[8] = { 0x89, 'P', 'N', 'G', '\r',
	    '\n', 0x1a, '\n' };
	const unsigned char *b = data;
	struct decoder *d;
	char msg[256];
	int r;

	memset(in, 0, sizeof *in);
	if (len == 0)
		return xf_errf(err, "empty file");
	if ((d = calloc(1, sizeof *d)) == NULL)
		return xf_errf(err, "out of memory");
	d->msg = msg;
	d->msg_cap = sizeof msg;
	if (len >= 8 && memcmp(b, png_sig, 8) == 0)
		r = png_decode(d, b, len, in, pix, cap);
	else if (len >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
		r = jpeg_decode(d, b, len, in, pix, cap);
	else {
		free(d);
		return xf_errf(err, "not a PNG or JPEG file");
	}
	free(d);
	if (r < 0)
		return xf_errf(err, "%s", msg);
	if (in->w < 1 || in->h < 1)
		return xf_errf(err, "image of %dx%d", in->w, in->h);
	return 0;
}
