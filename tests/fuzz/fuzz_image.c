/*
 * fuzz_image: the PNG and JPEG decoders (xf_image_decode: libpng and
 * libjpeg with xf's error and warning hooks) on hostile bytes.
 *
 * Each input is decoded twice, header only and in full.  It aborts when a
 * promise breaks: an error text that is empty or has a newline; an image
 * that is accepted with a size under 1, a channel count other than 1 or 3,
 * over 64 MiB decoded, or a pixel buffer smaller than its size; or a header
 * that disagrees with the full decode.  Under ASan, a longjmp into freed or
 * stale state shows up as a crash.
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
	struct xf_image head, full;
	struct xf_err e;
	uint8_t *pix = NULL;
	size_t cap = 0;
	int rh, rf;

	if ((rh = xf_image_decode(data, size, &head, NULL, NULL, &e)) < 0)
		check_err(&e);
	if ((rf = xf_image_decode(data, size, &full, &pix, &cap, &e)) < 0)
		check_err(&e);
	if (rf == 0) {
		size_t n = (size_t)full.w * full.h * full.c;

		if (rh != 0 || full.w < 1 || full.h < 1 ||
		    (full.c != 1 && full.c != 3) || n > (64u << 20) || cap < n ||
		    memcmp(&head, &full, sizeof head) != 0)
			abort();
		/* Every decoded byte is readable (ASan checks the range). */
		unsigned sum = 0;
		for (size_t i = 0; i < n; i++)
			sum += pix[i];
		if (sum == 0xffffffffu)
			abort();
	}
	free(pix);
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
