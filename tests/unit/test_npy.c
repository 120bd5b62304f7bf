/*
 * test_npy: the .npy header parser (lib/npy.c), as a table of headers and
 * what xf_npy_parse must make of them: the dtype, order and shape, or the
 * error.  The valid headers are the ones numpy's np.save writes (version
 * 1.0, keys sorted, padded to 64 bytes) and hand-made 2.0 and 3.0 ones.
 */
#include <stdio.h>
#include <string.h>

#include "data.h"
#include "tap.h"

/* A file's first bytes: magic, version, length, dict, padding, newline. */
static size_t
npy(unsigned char *buf, int version, const char *dict)
{
	size_t pre = version == 1 ? 10 : 12, n = strlen(dict);
	size_t len = n + 1;

	memcpy(buf, "\x93NUMPY", 6);
	buf[6] = (unsigned char)version;
	buf[7] = 0;
	while ((pre + len) % 64 != 0)
		len++;
	for (int k = 0; k < (version == 1 ? 2 : 4); k++)
		buf[8 + k] = (unsigned char)(len >> (8 * k));
	memcpy(buf + pre, dict, n);
	memset(buf + pre + n, ' ', len - n - 1);
	buf[pre + len - 1] = '\n';
	return pre + len;
}

struct good {
	int version;
	const char *dict;
	char type;
	int itemsize, big, fortran, ndim;
	int64_t shape[3];
};

struct bad {
	int version;
	const char *dict;
	const char *msg;
};

int
main(void)
{
	static const struct good goods[] = {
		{ 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (60000, 28, 28), }",
		  'u', 1, 0, 0, 3, { 60000, 28, 28 } },
		{ 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (10, 512), }",
		  'f', 4, 0, 0, 2, { 10, 512 } },
		{ 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (7,), }",
		  'i', 8, 0, 0, 1, { 7 } },
		{ 1, "{'descr': '>f8', 'fortran_order': True, 'shape': (2, 3), }",
		  'f', 8, 1, 1, 2, { 2, 3 } },
		{ 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
		  'f', 4, 0, 0, 0, { 0 } },
		{ 2, "{'shape': (3L, 4L), 'descr': '|b1', 'fortran_order': False}",
		  'b', 1, 0, 0, 2, { 3, 4 } },
		{ 3, "{\"descr\": \"<u2\", \"fortran_order\": False, \"shape\": (0, 5)}",
		  'u', 2, 0, 0, 2, { 0, 5 } },
	};
	static const struct bad bads[] = {
		{ 1, "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }",
		  "object arrays are refused" },
		{ 1, "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }",
		  "unsupported dtype" },
		{ 1, "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }",
		  "unsupported dtype" },
		{ 1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }",
		  "structured dtypes" },
		{ 1, "{'descr': '<f4', 'shape': (2,), }", "want the keys" },
		{ 1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
		  "unknown or repeated" },
		{ 1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }",
		  "want True or False" },
		{ 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }",
		  "non-negative integer" },
		{ 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}",
		  "dimension overflows" },
		{ 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 2)}",
		  "product overflows" },
		{ 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (576460752303423488, 2)}",
		  "size in bytes overflows" },
		{ 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x",
		  "bytes after the dict" },
		{ 1, "['descr', '<f4']", "not a dict" },
		{ 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3, 4, 5, 6, 7, 8, 9)}",
		  "over 8 dimensions" },
	};
	unsigned char buf[1 << 17];
	struct xf_npy h;
	struct xf_err e;
	size_t n;
	ptrdiff_t r;

	for (size_t i = 0; i < sizeof goods / sizeof goods[0]; i++) {
		const struct good *g = &goods[i];
		int same = 1;

		n = npy(buf, g->version, g->dict);
		r = xf_npy_parse(buf, n, &h, &e);
		for (int d = 0; d < g->ndim; d++)
			same &= h.shape[d] == g->shape[d];
		ok(r == (ptrdiff_t)n && h.header_bytes == n && h.type == g->type &&
		    h.itemsize == g->itemsize && h.big_endian == g->big &&
		    h.fortran == g->fortran && h.ndim == g->ndim && same,
		    "v%d %s", g->version, g->dict);
		/* A prefix asks for more; the data after it changes nothing. */
		ok(xf_npy_parse(buf, n - 1, &h, &e) == 0 &&
		    xf_npy_parse(buf, n + 100, &h, &e) == (ptrdiff_t)n,
		    "v%d header: prefix wants more, data after is ignored",
		    g->version);
	}
	for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
		n = npy(buf, bads[i].version, bads[i].dict);
		r = xf_npy_parse(buf, n, &h, &e);
		ok(r < 0 && strstr(e.msg, bads[i].msg) != NULL, "%s: %s", bads[i].dict,
		    r < 0 ? e.msg : "accepted");
	}
	memcpy(buf, "\x93NUMPZ\x01\x00", 8);
	ok(xf_npy_parse(buf, 8, &h, &e) < 0 && strstr(e.msg, "bad magic"),
	    "bad magic");
	ok(xf_npy_parse("PK\3", 3, &h, &e) < 0 &&
	    xf_npy_parse("\x93NU", 3, &h, &e) == 0,
	    "3 bytes: bad magic refused, a good start wants more");
	memcpy(buf, "\x93NUMPY\x04\x00", 8);
	ok(xf_npy_parse(buf, 8, &h, &e) < 0 && strstr(e.msg, "version 4.0"),
	    "version 4.0 refused");
	memcpy(buf, "\x93NUMPY\x02\x00\x01\x00\x01\x00", 12);
	ok(xf_npy_parse(buf, 12, &h, &e) < 0 && strstr(e.msg, "65537 bytes"),
	    "a header of 65537 bytes refused before it is read");
	n = npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}");
	buf[20] = 0xc3;
	ok(xf_npy_parse(buf, n, &h, &e) < 0 && strstr(e.msg, "not ASCII"),
	    "a version 1.0 header with a non-ASCII byte");
	n = npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}");
	buf[n - 1] = ' ';
	ok(xf_npy_parse(buf, n, &h, &e) < 0 && strstr(e.msg, "newline"),
	    "a header that does not end with a newline");
	return tap_done();
}
