#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "data.h"

/*
 * IDX (the MNIST file format): a big-endian magic 0x0000TTDD, where TT is
 * the element type (0x08: unsigned byte) and DD the number of dimensions,
 * then DD big-endian 32-bit sizes, then the data.  gzread reads a gzip file
 * or, transparently, a plain one.
 */

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
	    p[3];
}

/* Exactly n bytes into p; 0, or -1 with err set (short or failed read). */
static int
read_full(gzFile gz, const char *path, void *p, size_t n, const char *what,
    struct xf_err *err)
{
	size_t got = 0;

	while (got < n) {
		unsigned chunk = n - got > (1u << 30) ? 1u << 30 : (unsigned)(n - got);
		int r = gzread(gz, (char *)p + got, chunk);

		if (r < 0) {
			int zerr;
			const char *msg = gzerror(gz, &zerr);

			return xf_errf(err, "%s: %s: %s", path, what,
			    zerr == Z_ERRNO ? strerror(errno) : msg);
		}
		if (r == 0)
			return xf_errf(err, "%s: truncated: %s ends after %zu of "
			    "%zu bytes", path, what, got, n);
		got += (size_t)r;
	}
	return 0;
}

/*
 * One IDX file of unsigned bytes with ndim dimensions: dims into dims[],
 * the data into a malloc'd *data that grows only as bytes arrive.
 */
static int
read_idx(const char *path, int ndim, uint32_t *dims, uint8_t **data,
    size_t *size, struct xf_err *err)
{
	unsigned char head[16];
	uint32_t magic, want = 0x00000800u | (uint32_t)ndim;
	size_t total = 1, got = 0, cap = 0;
	uint8_t *buf = NULL;
	gzFile gz;
	char extra;

	*data = NULL;
	if ((gz = gzopen(path, "rb")) == NULL)
		return xf_errf(err, "%s: %s", path,
		    errno ? strerror(errno) : "cannot open");
	xf_input_note_path(path);
	if (read_full(gz, path, head, 4 + 4 * (size_t)ndim, "the header", err) < 0)
		goto fail;
	magic = be32(head);
	if (magic != want) {
		xf_errf(err, "%s: magic 0x%08x, want 0x%08x (IDX of unsigned "
		    "bytes with %d dimensions)", path, magic, want, ndim);
		goto fail;
	}
	for (int d = 0; d < ndim; d++) {
		dims[d] = be32(head + 4 + 4 * d);
		if (d > 0 && (dims[d] == 0 || dims[d] > 65535)) {
			xf_errf(err, "%s: dimension %d is %u, want 1..65535", path, d,
			    dims[d]);
			goto fail;
		}
		if (dims[d] > 0 && total > SIZE_MAX / dims[d]) {
			xf_errf(err, "%s: dimensions too large", path);
			goto fail;
		}
		total *= dims[d];
	}
	/* Grow by doubling as bytes arrive: a header that declares gigabytes
	 * over a short file costs at most twice what the file holds. */
	while (got < total) {
		if (got == cap) {
			uint8_t *nb;

			cap = cap * 2 > (1u << 20) ? cap * 2 : 1u << 20;
			if (cap > total)
				cap = total;
			if ((nb = realloc(buf, cap)) == NULL) {
				xf_errf(err, "%s: out of memory", path);
				goto fail;
			}
			buf = nb;
		}
		if (read_full(gz, path, buf + got, cap - got, "the data", err) < 0) {
			if (strstr(err->msg, "truncated") != NULL)
				xf_errf(err, "%s: truncated: the data ends before the "
				    "%zu bytes the header declares", path, total);
			goto fail;
		}
		got = cap;
	}
	if (gzread(gz, &extra, 1) != 0) {
		xf_errf(err, "%s: data after the %zu bytes the header declares",
		    path, total);
		goto fail;
	}
	gzclose(gz);
	*data = buf;
	*size = total;
	return 0;
fail:
	free(buf);
	gzclose(gz);
	return -1;
}

int
xf_idx_read(const char *images, const char *labels, struct xf_images *out,
    struct xf_err *err)
{
	uint32_t idims[3], ldims[1];
	uint8_t *x = NULL, *y = NULL;
	size_t xsize, ysize;
	int max = -1;

	memset(out, 0, sizeof *out);
	if (read_idx(labels, 1, ldims, &y, &ysize, err) < 0)
		return -1;
	if (read_idx(images, 3, idims, &x, &xsize, err) < 0) {
		free(y);
		return -1;
	}
	if (idims[0] != ldims[0]) {
		xf_errf(err, "%s: %u labels, the images file %s has %u", labels,
		    ldims[0], images, idims[0]);
		free(x);
		free(y);
		return -1;
	}
	for (size_t i = 0; i < ysize; i++)
		if (y[i] > max)
			max = y[i];
	out->c = 1;
	out->h = idims[1];
	out->w = idims[2];
	out->n = idims[0];
	out->n_classes = max + 1;
	out->x = x;
	out->y = y;
	return 0;
}
