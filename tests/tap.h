/*
 * tap.h: the smallest TAP producer, for the unit tests in tests/unit.
 *
 *	ok(x == 1, "x is one (got %d)", x);
 *	close_enough(a, b, 1e-6, "forward matches ref");
 *	return tap_done();
 *
 * prove(1) reads the output; make check runs prove over every test.
 */
#ifndef XF_TAP_H
#define XF_TAP_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * Peak-RSS bounds in the tests, in KiB: 64 MiB, plus room for ASan's shadow
 * memory and quarantine under make SAN=1.  A 4 GiB allocation still fails.
 */
#if defined(__SANITIZE_ADDRESS__)
#define TAP_RSS_LIMIT_KIB (256 * 1024)
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TAP_RSS_LIMIT_KIB (256 * 1024)
#endif
#endif
#ifndef TAP_RSS_LIMIT_KIB
#define TAP_RSS_LIMIT_KIB (64 * 1024)
#endif

static int tap_n, tap_failed;

/*
 * tap_tmp(buf, STEM): "$TMPDIR/STEM.XXXXXX" (or /tmp when TMPDIR is unset)
 * in buf, ready for mkstemp or mkdtemp, so no test writes outside the
 * scratch area the caller chose.  buf is static storage of 4096 bytes.
 */
#define TAP_PATH_MAX 4096
static __attribute__((unused)) char *
tap_tmp(char *buf, const char *stem)
{
	const char *t = getenv("TMPDIR");

	snprintf(buf, TAP_PATH_MAX, "%s/%s.XXXXXX", t && *t ? t : "/tmp", stem);
	return buf;
}

static __attribute__((unused)) int
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%s %d - ", cond ? "ok" : "not ok", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	return cond;
}

static __attribute__((unused)) void
skip(const char *why)
{
	tap_n++;
	printf("ok %d # skip %s\n", tap_n, why);
}

/* Relative-or-absolute closeness: |a-b| <= tol * max(1, |a|, |b|). */
static __attribute__((unused)) int
close_enough(double a, double b, double tol, const char *what)
{
	double scale = fmax(1.0, fmax(fabs(a), fabs(b)));

	return ok(fabs(a - b) <= tol * scale && !isnan(a) && !isnan(b),
	    "%s (%.9g vs %.9g)", what, a, b);
}

static __attribute__((unused)) int
tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed != 0;
}

#endif
