#include <stdlib.h>
#include <string.h>

#include "data.h"

/*
 * The .npy header, from the format's published specification (numpy's
 * NEP 1, "A simple file format for NumPy arrays"):
 *
 *	"\x93NUMPY" major minor LEN HEADER DATA
 *
 * LEN is a little-endian uint16 in version 1.0 and a uint32 in 2.0 and
 * 3.0; HEADER is LEN bytes of a Python dict literal (ASCII, or UTF-8 in
 * 3.0), padded with spaces and ended by a newline:
 *
 *	{'descr': '<f4', 'fortran_order': False, 'shape': (100, 64), }
 *
 * This parser takes exactly those three keys, each once, in any order.  It
 * never evaluates anything: a descr that names an object dtype ('O', which
 * np.load could only read by unpickling) is refused here.
 */

struct lex {
	const char *p, *end;
};

static void
skip_space(struct lex *l)
{
	while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' ||
	    *l->p == '\n' || *l->p == '\r'))
		l->p++;
}

static int
eat(struct lex *l, char c)
{
	skip_space(l);
	if (l->p < l->end && *l->p == c) {
		l->p++;
		return 1;
	}
	return 0;
}

/* A quoted string without escapes into out (NUL-terminated). */
static int
string(struct lex *l, char *out, size_t cap, struct xf_err *err)
{
	char q;
	size_t n = 0;

	skip_space(l);
	if (l->p >= l->end || (*l->p != '\'' && *l->p != '"'))
		return xf_errf(err, "header: want a quoted string");
	q = *l->p++;
	while (l->p < l->end && *l->p != q) {
		if (*l->p == '\\' || n + 1 >= cap)
			return xf_errf(err, "header: string too long or escaped");
		out[n++] = *l->p++;
	}
	if (l->p >= l->end)
		return xf_errf(err, "header: unterminated string");
	l->p++;
	out[n] = 0;
	return 0;
}

/* A non-negative decimal integer (Python 2's "L" suffix allowed). */
static int
integer(struct lex *l, int64_t *v, struct xf_err *err)
{
	int64_t x = 0;
	int digits = 0;

	skip_space(l);
	while (l->p < l->end && *l->p >= '0' && *l->p <= '9') {
		if (x > (INT64_MAX - 9) / 10)
			return xf_errf(err, "header: shape: a dimension overflows");
		x = x * 10 + (*l->p++ - '0');
		digits++;
	}
	if (digits == 0)
		return xf_errf(err, "header: shape: want a non-negative integer");
	if (l->p < l->end && *l->p == 'L')
		l->p++;
	*v = x;
	return 0;
}

static int
descr(const char *s, struct xf_npy *h, struct xf_err *err)
{
	const char *t = s;
	char *end;
	long size;

	if (*t == '<' || *t == '>' || *t == '|' || *t == '=') {
		h->big_endian = *t == '>';
		t++;
	}
	if (*t == 'O')
		return xf_errf(err, "header: descr '%s': object arrays are "
		    "refused (they are pickles)", s);
	h->type = *t;
	size = strtol(t + 1, &end, 10);
	if (t[1] < '0' || t[1] > '9' || *end != 0)
		size = 0;
	h->itemsize = (int)size;
	switch (h->type) {
	case 'b':
		if (size == 1)
			return 0;
		break;
	case 'u':
	case 'i':
		if (size == 1 || size == 2 || size == 4 || size == 8)
			return 0;
		break;
	case 'f':
		if (size == 4 || size == 8)
			return 0;
		break;
	}
	return xf_errf(err, "header: descr '%s': unsupported dtype (want bool, "
	    "integers, float32 or float64)", s);
}

static int
shape(struct lex *l, struct xf_npy *h, struct xf_err *err)
{
	if (!eat(l, '('))
		return xf_errf(err, "header: shape: want a tuple");
	h->ndim = 0;
	while (!eat(l, ')')) {
		if (h->ndim == XF_NPY_MAXDIM)
			return xf_errf(err, "header: shape: over %d dimensions",
			    XF_NPY_MAXDIM);
		if (integer(l, &h->shape[h->ndim], err) < 0)
			return -1;
		h->ndim++;
		if (!eat(l, ',')) {
			if (!eat(l, ')'))
				return xf_errf(err, "header: shape: want , or )");
			break;
		}
	}
	return 0;
}

static int
dict(struct lex *l, struct xf_npy *h, struct xf_err *err)
{
	int have_descr = 0, have_fortran = 0, have_shape = 0;
	char key[32], val[64];

	if (!eat(l, '{'))
		return xf_errf(err, "header: not a dict");
	while (!eat(l, '}')) {
		if (string(l, key, sizeof key, err) < 0)
			return -1;
		if (!eat(l, ':'))
			return xf_errf(err, "header: want : after '%s'", key);
		skip_space(l);
		if (strcmp(key, "descr") == 0 && !have_descr) {
			if (l->p < l->end && *l->p == '[')
				return xf_errf(err, "header: descr: structured "
				    "dtypes are not supported");
			if (string(l, val, sizeof val, err) < 0 ||
			    descr(val, h, err) < 0)
				return -1;
			have_descr = 1;
		} else if (strcmp(key, "fortran_order") == 0 && !have_fortran) {
			if (l->end - l->p >= 4 && memcmp(l->p, "True", 4) == 0) {
				h->fortran = 1;
				l->p += 4;
			} else if (l->end - l->p >= 5 &&
			    memcmp(l->p, "False", 5) == 0) {
				h->fortran = 0;
				l->p += 5;
			} else
				return xf_errf(err, "header: fortran_order: want "
				    "True or False");
			have_fortran = 1;
		} else if (strcmp(key, "shape") == 0 && !have_shape) {
			if (shape(l, h, err) < 0)
				return -1;
			have_shape = 1;
		} else
			return xf_errf(err, "header: key '%s' unknown or repeated",
			    key);
		if (!eat(l, ',')) {
			if (!eat(l, '}'))
				return xf_errf(err, "header: want , or }");
			break;
		}
	}
	skip_space(l);
	if (l->p != l->end)
		return xf_errf(err, "header: bytes after the dict");
	if (!have_descr || !have_fortran || !have_shape)
		return xf_errf(err, "header: want the keys descr, fortran_order "
		    "and shape");
	return 0;
}

ptrdiff_t
xf_npy_parse(const void *buf, size_t len, struct xf_npy *h, struct xf_err *err)
{
	const unsigned char *b = buf;
	size_t pre, hlen;
	struct lex l;
	uint64_t count = 1, bytes;

	memset(h, 0, sizeof *h);
	if (len < 8)
		return memcmp(b, "\x93NUMPY", len < 6 ? len : 6) == 0 ? 0 :
		    xf_errf(err, "not a .npy file (bad magic)");
	if (memcmp(b, "\x93NUMPY", 6) != 0)
		return xf_errf(err, "not a .npy file (bad magic)");
	if (b[6] < 1 || b[6] > 3 || b[7] != 0)
		return xf_errf(err, "format version %u.%u: want 1.0, 2.0 or 3.0",
		    b[6], b[7]);
	h->version = b[6];
	pre = h->version == 1 ? 10 : 12;
	if (len < pre)
		return 0;
	hlen = h->version == 1 ? (size_t)b[8] | (size_t)b[9] << 8 :
	    (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 |
	    (size_t)b[11] << 24;
	if (hlen > XF_NPY_MAX_HEADER)
		return xf_errf(err, "header of %zu bytes: over the %d-byte limit",
		    hlen, XF_NPY_MAX_HEADER);
	if (len < pre + hlen)
		return 0;
	if (hlen == 0 || b[pre + hlen - 1] != '\n')
		return xf_errf(err, "header: does not end with a newline");
	for (size_t i = pre; i < pre + hlen; i++)
		if (b[i] == 0 || (h->version < 3 && b[i] > 0x7f))
			return xf_errf(err, "header: byte %zu is not %s", i,
			    h->version < 3 ? "ASCII" : "UTF-8 text");
	l.p = (const char *)b + pre;
	l.end = (const char *)b + pre + hlen;
	if (dict(&l, h, err) < 0)
		return -1;
	for (int d = 0; d < h->ndim; d++)
		if (__builtin_mul_overflow(count, (uint64_t)h->shape[d], &count))
			return xf_errf(err, "header: shape's product overflows");
	if (__builtin_mul_overflow(count, (uint64_t)h->itemsize, &bytes) ||
	    bytes > (uint64_t)INT64_MAX)
		return xf_errf(err, "header: shape's size in bytes overflows");
	h->count = count;
	h->data_bytes = bytes;
	h->header_bytes = pre + hlen;
	return (ptrdiff_t)(pre + hlen);
}
