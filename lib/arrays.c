#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>

#include "data.h"

/*
 * .npy and .npz sources (see data.h).  An array's data is read in order,
 * one record (the first dimension) at a time: from a FILE for .npy, from a
 * libarchive zip member for .npz.  libarchive, which xf links already for
 * checkpoints, reads zip with deflate (np.savez_compressed) and zip64
 * (np.savez writes it for large arrays); only its zip reader is enabled.
 */

struct in {
	FILE *f;
	struct archive *a;
	char where[512];          /* "x.npy", or "d.npz: member x.npy" */
};

/* Up to n bytes; returns the count (short only at the end), or -1. */
static ptrdiff_t
in_read(struct in *in, void *p, size_t n, struct xf_err *err)
{
	size_t got = 0;

	while (got < n) {
		ptrdiff_t r;

		if (in->f != NULL) {
			r = (ptrdiff_t)fread((char *)p + got, 1, n - got, in->f);
			if (r == 0 && ferror(in->f))
				return xf_errf(err, "%s: %s", in->where,
				    strerror(errno));
		} else {
			r = archive_read_data(in->a, (char *)p + got, n - got);
			if (r < 0)
				return xf_errf(err, "%s: %s", in->where,
				    archive_error_string(in->a));
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ptrdiff_t)got;
}

static int
in_exact(struct in *in, void *p, size_t n, const char *what,
    struct xf_err *err)
{
	ptrdiff_t r = in_read(in, p, n, err);

	if (r < 0)
		return -1;
	if ((size_t)r < n)
		return xf_errf(err, "%s: truncated: %s", in->where, what);
	return 0;
}

/* Skips n bytes. */
static int
in_skip(struct in *in, uint64_t n, struct xf_err *err)
{
	char buf[1 << 14];

	if (in->f != NULL && n > 0) {
		if (fseeko(in->f, (off_t)n, SEEK_CUR) < 0)
			return xf_errf(err, "%s: %s", in->where, strerror(errno));
		return 0;
	}
	while (n > 0) {
		size_t k = n < sizeof buf ? (size_t)n : sizeof buf;

		if (in_exact(in, buf, k, "data shorter than the shape", err) < 0)
			return -1;
		n -= k;
	}
	return 0;
}

static void
in_close(struct in *in)
{
	if (in->f != NULL)
		fclose(in->f);
	if (in->a != NULL)
		archive_read_free(in->a);
	in->f = NULL;
	in->a = NULL;
}

/* Reads and parses the header; size, when >= 0, is the bytes the array
 * file or member holds, which must be exactly header and data. */
static int
read_header(struct in *in, int64_t size, struct xf_npy *h, struct xf_err *err)
{
	static unsigned char buf[12 + XF_NPY_MAX_HEADER];
	struct xf_err e;
	ptrdiff_t got, r;
	size_t pre, hlen;

	if ((got = in_read(in, buf, 8, err)) < 0)
		return -1;
	if ((r = xf_npy_parse(buf, (size_t)got, h, &e)) < 0 || got < 8)
		return xf_errf(err, "%s: %s", in->where, r < 0 ? e.msg :
		    "truncated: the header");
	pre = buf[6] == 1 ? 10 : 12;
	if (in_exact(in, buf + 8, pre - 8, "the header", err) < 0)
		return -1;
	if (xf_npy_parse(buf, pre, h, &e) < 0)
		return xf_errf(err, "%s: %s", in->where, e.msg);
	hlen = pre == 10 ? (size_t)buf[8] | (size_t)buf[9] << 8 :
	    (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 |
	    (size_t)buf[11] << 24;
	if (in_exact(in, buf + pre, hlen, "the header", err) < 0)
		return -1;
	if (xf_npy_parse(buf, pre + hlen, h, &e) <= 0)
		return xf_errf(err, "%s: %s", in->where, e.msg);
	if (size >= 0 && (uint64_t)size - h->header_bytes != h->data_bytes) {
		uint64_t have = (uint64_t)size - h->header_bytes;

		return xf_errf(err, "%s: data has %llu bytes, the shape wants "
		    "%llu", in->where, (unsigned long long)have,
		    (unsigned long long)h->data_bytes);
	}
	return 0;
}

static uint64_t
load_uint(const unsigned char *p, int size, int big)
{
	uint64_t v = 0;

	for (int k = 0; k < size; k++)
		v |= (uint64_t)p[big ? size - 1 - k : k] << (8 * k);
	return v;
}

static void
shape_text(char *buf, size_t cap, const struct xf_npy *h)
{
	size_t off = snprintf(buf, cap, "(");

	for (int d = 0; d < h->ndim && off < cap; d++)
		off += snprintf(buf + off, cap - off, d ? ", %lld" : "%lld",
		    (long long)h->shape[d]);
	if (off < cap)
		snprintf(buf + off, cap - off, h->ndim == 1 ? ",)" : ")");
}

/*
 * Labels: a 1-D integer or bool array of n values in 0..255, into a
 * malloc'd *y that grows with the bytes read, never with a claimed shape.
 */
static int
read_labels(struct in *in, int64_t size, size_t n, uint8_t **y,
    int64_t *n_classes, struct xf_err *err)
{
	struct xf_npy h;
	unsigned char buf[8 << 10];
	uint8_t *out = NULL;
	size_t got = 0, cap = 0;
	int64_t top = -1;

	if (read_header(in, size, &h, err) < 0)
		return -1;
	if (h.type == 'f' || h.ndim != 1)
		return xf_errf(err, "%s: labels must be a 1-D integer array, not "
		    "%s of %d dimensions", in->where, h.type == 'f' ? "float" :
		    "integers", h.ndim);
	if ((uint64_t)h.shape[0] != n)
		return xf_errf(err, "%s: %lld labels, the images have %zu",
		    in->where, (long long)h.shape[0], n);
	while (got < n) {
		size_t k = (n - got) * h.itemsize < sizeof buf ? n - got :
		    sizeof buf / h.itemsize;

		if (in_exact(in, buf, k * h.itemsize, "data shorter than the "
		    "shape", err) < 0)
			goto fail;
		if (got + k > cap) {
			uint8_t *p;

			cap = cap ? 2 * cap : 1 << 16;
			while (cap < got + k)
				cap *= 2;
			if ((p = realloc(out, cap)) == NULL) {
				xf_errf(err, "%s: out of memory", in->where);
				goto fail;
			}
			out = p;
		}
		for (size_t j = 0; j < k; j++) {
			uint64_t u = load_uint(buf + j * h.itemsize, h.itemsize,
			    h.big_endian);
			int64_t v = (int64_t)u;

			if (h.type == 'i' && h.itemsize < 8 &&
			    (u >> (8 * h.itemsize - 1)) & 1)
				v = (int64_t)(u | ~0ULL << (8 * h.itemsize));
			if (v < 0 || v > 255 || (h.type == 'u' && u > 255)) {
				xf_errf(err, "%s: label %zu is %lld: want 0..255",
				    in->where, got + j, (long long)v);
				goto fail;
			}
			out[got + j] = (uint8_t)v;
			if (v > top)
				top = v;
		}
		got += k;
	}
	if (out == NULL && (out = malloc(1)) == NULL)
		return xf_errf(err, "%s: out of memory", in->where);
	*y = out;
	*n_classes = top + 1;
	return 0;
fail:
	free(out);
	return -1;
}

/* ---- the records ---- */

struct array {
	struct in in;
	struct xf_npy h;
	size_t pos;               /* the next record in the data */
	size_t row;               /* bytes of one record in the file */
	enum xf_layout layout;
	unsigned char *buf;       /* (row) */
};

/* Images or features from the header, into s's kind and shape. */
static int
classify(struct xf_source *s, struct array *a, enum xf_layout layout,
    struct xf_err *err)
{
	const struct xf_npy *h = &a->h;
	const int64_t *d = h->shape;
	char shape[128];
	uint64_t per = 1;

	shape_text(shape, sizeof shape, h);
	if (h->ndim < 2 && !(h->type == 'u' && h->itemsize == 1))
		return xf_errf(err, "%s: shape %s: want N records of one or more "
		    "dimensions", a->in.where, shape);
	for (int k = 1; k < h->ndim; k++) {
		per *= (uint64_t)d[k];
		if (d[k] < 1 || d[k] > (1 << 24))
			return xf_errf(err, "%s: shape %s: dimension %d is out of "
			    "1..2^24", a->in.where, shape, k);
	}
	if (h->fortran) {
		int big = 0;

		for (int k = 0; k < h->ndim; k++)
			big += d[k] > 1;
		if (big > 1)
			return xf_errf(err, "%s: fortran_order is True: xf reads C "
			    "order (save np.ascontiguousarray(a))", a->in.where);
	}
	s->n = (size_t)d[0];
	a->row = (size_t)per * h->itemsize;
	if (h->type == 'f') {
		if (per > (1 << 24))
			return xf_errf(err, "%s: shape %s: over 2^24 features a "
			    "record", a->in.where, shape);
		strcpy(s->kind, "features");
		s->ndim = 1;
		s->shape[0] = (int64_t)per;
		s->xsize = (size_t)per * 4;
		return 0;
	}
	if (h->type != 'u' || h->itemsize != 1)
		return xf_errf(err, "%s: dtype %c%d: images must be uint8, "
		    "features float32 or float64", a->in.where, h->type,
		    h->itemsize);
	if (h->ndim == 3 && (layout == XF_LAYOUT_AUTO || layout == XF_LAYOUT_NHW))
		layout = XF_LAYOUT_NHW;
	else if (h->ndim == 4 && layout == XF_LAYOUT_AUTO) {
		int last = d[3] == 1 || d[3] == 3;
		int first = d[1] == 1 || d[1] == 3;

		if (last == first)
			return xf_errf(err, "%s: shape %s: channels first or last? "
			    "give --layout nhwc or nchw", a->in.where, shape);
		layout = last ? XF_LAYOUT_NHWC : XF_LAYOUT_NCHW;
	} else if (h->ndim != 4 || layout == XF_LAYOUT_NHW)
		return xf_errf(err, "%s: uint8 shape %s: want N×H×W, N×H×W×C or "
		    "N×C×H×W%s", a->in.where, shape, layout != XF_LAYOUT_AUTO ?
		    " for that --layout" : "");
	a->layout = layout;
	strcpy(s->kind, "images");
	s->ndim = 3;
	if (layout == XF_LAYOUT_NHW)
		s->shape[0] = 1, s->shape[1] = d[1], s->shape[2] = d[2];
	else if (layout == XF_LAYOUT_NHWC)
		s->shape[0] = d[3], s->shape[1] = d[1], s->shape[2] = d[2];
	else
		s->shape[0] = d[1], s->shape[1] = d[2], s->shape[2] = d[3];
	s->xsize = (size_t)per;
	return 0;
}

static int
array_read(struct xf_source *s, size_t idx, void *x, struct xf_err *err)
{
	struct array *a = s->impl;
	const struct xf_npy *h = &a->h;
	unsigned char *in = a->buf;
	char what[64];

	if (idx < a->pos)
		return xf_errf(err, "%s: record %zu read out of order", a->in.where,
		    idx);
	if (in_skip(&a->in, (uint64_t)(idx - a->pos) * a->row, err) < 0)
		return -1;
	snprintf(what, sizeof what, "record %zu", idx);
	if (in_exact(&a->in, in, a->row, what, err) < 0)
		return -1;
	a->pos = idx + 1;
	if (strcmp(s->kind, "images") == 0) {
		int64_t c = s->shape[0], hw = s->shape[1] * s->shape[2];
		uint8_t *out = x;

		if (a->layout != XF_LAYOUT_NHWC) {
			memcpy(out, in, a->row);
			return 0;
		}
		for (int64_t p = 0; p < hw; p++)
			for (int64_t k = 0; k < c; k++)
				out[k * hw + p] = in[p * c + k];
		return 0;
	}
	float *out = x;
	for (size_t j = 0; j < (size_t)s->shape[0]; j++) {
		uint64_t u = load_uint(in + j * h->itemsize, h->itemsize,
		    h->big_endian);
		double v;

		if (h->itemsize == 4) {
			uint32_t u32 = (uint32_t)u;
			float f;

			memcpy(&f, &u32, 4);
			v = f;
		} else
			memcpy(&v, &u, 8);
		if (!isfinite(v) || fabs(v) > FLT_MAX)
			return xf_errf(err, "%s: record %zu: element %zu is %g, not "
			    "a finite float32", a->in.where, idx, j, v);
		out[j] = (float)v;
	}
	return 0;
}

static void
array_close(struct xf_source *s)
{
	struct array *a = s->impl;

	in_close(&a->in);
	free(a->buf);
	free(a);
}

/*
 * Reads a's header (size: the bytes its file or member holds) and sets s
 * up over it.  On failure a is freed and s left empty.
 */
static int
array_source(struct xf_source *s, struct array *a, int64_t size,
    enum xf_layout layout, struct xf_err *err)
{
	int r = read_header(&a->in, size, &a->h, err);

	if (r == 0 && (r = classify(s, a, layout, err)) == 0 &&
	    ((a->buf = malloc(a->row + 1)) == NULL ||
	    (s->y = calloc(s->n + 1, 1)) == NULL))
		r = xf_errf(err, "%s: out of memory", a->in.where);
	if (r < 0) {
		in_close(&a->in);
		free(a->buf);
		free(a);
		free(s->y);
		memset(s, 0, sizeof *s);
		return -1;
	}
	s->read = array_read;
	s->close = array_close;
	s->impl = a;
	return 0;
}

static void
module_name(char *out, size_t cap, const char *path)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	n = strlen(base);
	if (n > 4 && strcmp(base + n - 4, ".npy") == 0)
		n -= 4;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, base, n);
	out[n] = 0;
}

static int
file_in(struct in *in, const char *path, int64_t *size, struct xf_err *err)
{
	struct stat st;

	memset(in, 0, sizeof *in);
	snprintf(in->where, sizeof in->where, "%s", path);
	if ((in->f = fopen(path, "rb")) == NULL)
		return xf_errf(err, "%s: %s", path, strerror(errno));
	xf_input_note(fileno(in->f));
	if (fstat(fileno(in->f), &st) < 0 || !S_ISREG(st.st_mode)) {
		in_close(in);
		return xf_errf(err, "%s: not a regular file", path);
	}
	*size = st.st_size;
	return 0;
}

static int
prov_sha(struct xf_source *s, const char *word, const char *path,
    struct xf_err *err)
{
	char hex[65];

	if (xf_sha256_file(path, hex, err) < 0)
		return -1;
	xf_source_prov(s, "# %s %s sha256 %s", word, path, hex);
	return 0;
}

int
xf_npy_open(struct xf_source *s, const char *path, const char *labels,
    enum xf_layout layout, struct xf_err *err)
{
	struct array *a = calloc(1, sizeof *a);
	struct in lin;
	int64_t size;
	int r;

	memset(s, 0, sizeof *s);
	if (a == NULL)
		return xf_errf(err, "out of memory");
	if (file_in(&a->in, path, &size, err) < 0) {
		free(a);
		return -1;
	}
	if (array_source(s, a, size, layout, err) < 0)
		return -1;
	module_name(s->module, sizeof s->module, path);
	if (prov_sha(s, "npy", path, err) < 0)
		goto fail;
	if (labels != NULL) {
		free(s->y);
		s->y = NULL;
		if (file_in(&lin, labels, &size, err) < 0)
			goto fail;
		r = read_labels(&lin, size, s->n, &s->y, &s->n_classes, err);
		in_close(&lin);
		if (r < 0 || prov_sha(s, "labels", labels, err) < 0)
			goto fail;
	}
	return 0;
fail:
	xf_source_free(s);
	return -1;
}

/* ---- npz ---- */

/*
 * Opens path's zip and moves to the member NAME.npy; the names of all
 * members go into names (comma-separated) when it is not found.  Returns 1
 * found, 0 not found, -1 error.
 */
static int
npz_member(struct in *in, const char *path, const char *name, int64_t *size,
    char *names, size_t cap, struct xf_err *err)
{
	struct archive_entry *e;
	char want[256];
	size_t off = 0;
	int r;

	memset(in, 0, sizeof *in);
	snprintf(want, sizeof want, "%s.npy", name);
	snprintf(in->where, sizeof in->where, "%s: array %s", path, name);
	if ((in->a = archive_read_new()) == NULL)
		return xf_errf(err, "out of memory");
	archive_read_support_format_zip(in->a);
	xf_input_note_path(path);
	if (archive_read_open_filename(in->a, path, 1 << 16) != ARCHIVE_OK) {
		r = xf_errf(err, "%s: %s%s", path, archive_errno(in->a) ==
		    EILSEQ ? "not a zip file (npz): " : "",
		    archive_error_string(in->a));
		in_close(in);
		return r;
	}
	names[0] = 0;
	while ((r = archive_read_next_header(in->a, &e)) == ARCHIVE_OK) {
		const char *p = archive_entry_pathname(e);

		if (p != NULL && strcmp(p, want) == 0) {
			*size = archive_entry_size_is_set(e) ?
			    archive_entry_size(e) : -1;
			return 1;
		}
		if (p != NULL && off < cap)
			off += snprintf(names + off, cap - off, "%s%.*s",
			    off ? ", " : "", (int)(strlen(p) > 4 &&
			    strcmp(p + strlen(p) - 4, ".npy") == 0 ?
			    strlen(p) - 4 : strlen(p)), p);
	}
	if (r != ARCHIVE_EOF) {
		r = xf_errf(err, "%s: not a zip file (npz): %s", path,
		    archive_error_string(in->a));
		in_close(in);
		return r;
	}
	in_close(in);
	return 0;
}

int
xf_npz_open(struct xf_source *s, const char *path, const char *x,
    const char *y, enum xf_layout layout, struct xf_err *err)
{
	struct array *a = calloc(1, sizeof *a);
	char names[256];
	struct in lin;
	int64_t size;
	int r;

	memset(s, 0, sizeof *s);
	if (a == NULL)
		return xf_errf(err, "out of memory");
	if ((r = npz_member(&a->in, path, x, &size, names, sizeof names,
	    err)) <= 0) {
		free(a);
		return r < 0 ? -1 : xf_errf(err, "%s: no array %s (it has: %s)",
		    path, x, names[0] ? names : "nothing");
	}
	if (array_source(s, a, size, layout, err) < 0)
		return -1;
	snprintf(s->module, sizeof s->module, "%s", x);
	if (y == NULL || *y != 0) {
		if ((r = npz_member(&lin, path, y ? y : "y", &size, names,
		    sizeof names, err)) <= 0) {
			if (r == 0 && y == NULL)
				goto unlabelled;
			if (r == 0)
				xf_errf(err, "%s: no array %s (it has: %s)", path, y,
				    names[0] ? names : "nothing");
			goto fail;
		}
		free(s->y);
		s->y = NULL;
		r = read_labels(&lin, size, s->n, &s->y, &s->n_classes, err);
		in_close(&lin);
		if (r < 0)
			goto fail;
		y = y ? y : "y";
	}
unlabelled:
	if (prov_sha(s, "npz", path, err) < 0)
		goto fail;
	xf_source_prov(s, "# arrays %s%s%s", x, y && *y ? ", labels " : "",
	    y && *y ? y : "");
	return 0;
fail:
	xf_source_free(s);
	return -1;
}

int
xf_layout_parse(const char *s, enum xf_layout *layout)
{
	if (strcmp(s, "nhw") == 0)
		*layout = XF_LAYOUT_NHW;
	else if (strcmp(s, "nhwc") == 0)
		*layout = XF_LAYOUT_NHWC;
	else if (strcmp(s, "nchw") == 0)
		*layout = XF_LAYOUT_NCHW;
	else
		return -1;
	return 0;
}
