/*
 * fuzz_npy: the .npy header parser (xf_npy_parse) on hostile bytes.
 *
 * It aborts when a promise breaks: an error text that is empty or has a
 * newline; an accepted header whose size is past the input, whose dtype is
 * not one xf reads, or whose count and byte size are not the shape's
 * product (worked out here in 128 bits); a prefix of an accepted header
 * that is not "more bytes needed"; or trailing bytes that change the answer.
 *
 * Built like the other targets (README.md): libFuzzer, AFL++, or replay.c.
 */
#include <stdlib.h>
#include <string.h>

#include "data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_err(const struct xf_err *e)
{
	if (e->msg[0] == 0 || strchr(e->msg, '\n') != NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xf_npy h, h2;
	struct xf_err e;
	ptrdiff_t r = xf_npy_parse(data, size, &h, &e), r2;
	unsigned __int128 count = 1;

	if (r < 0) {
		check_err(&e);
		return 0;
	}
	if (r == 0)
		return 0;
	if ((size_t)r > size || (size_t)r != h.header_bytes ||
	    h.ndim < 0 || h.ndim > XF_NPY_MAXDIM || h.version < 1 ||
	    h.version > 3 || !strchr("buif", h.type) || h.type == 0 ||
	    (h.itemsize != 1 && h.itemsize != 2 && h.itemsize != 4 &&
	    h.itemsize != 8))
		abort();
	for (int d = 0; d < h.ndim; d++) {
		if (h.shape[d] < 0)
			abort();
		count *= (uint64_t)h.shape[d];
	}
	if (count != h.count || count * h.itemsize != h.data_bytes)
		abort();
	/* One byte short of an accepted header is "more bytes needed". */
	if (xf_npy_parse(data, (size_t)r - 1, &h2, &e) != 0)
		abort();
	/* Bytes after the header (the data) do not change it. */
	if (size > (size_t)r) {
		r2 = xf_npy_parse(data, size - 1 > (size_t)r ? size - 1 : (size_t)r,
		    &h2, &e);
		if (r2 != r || memcmp(h.shape, h2.shape, sizeof h.shape) != 0)
			abort();
	}
	return 0;
}

#ifdef __AFL_HAVE_MANUAL_CONTROL
__AFL_FUZZ_INIT();

int
main(void)
{
	__AFL_INIT();
	const unsigned char *buf = __AFL_FUZZ_TESTCASE_BUF;

	while (__AFL_LOOP(10000))
		LLVMFuzzerTestOneInput(buf, __AFL_FUZZ_TESTCASE_LEN);
	return 0;
}
#endif
