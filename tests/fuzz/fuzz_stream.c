/*
 * fuzz_stream: the stream reader on hostile bytes.
 *
 * Reads the input as a stream until the end or the first error, and on
 * every record touches each accessor and renders each field as JSON and as
 * TSV text.  Every record read is also written back through the writer and
 * the copy read again, which must give the same records: what the reader
 * accepts, the writer can write and the reader accepts again.
 *
 * Built three ways (see README.md): with libFuzzer, with AFL++ persistent
 * mode, or with replay.c as a plain program over files.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "xf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Everything rendered goes here and is thrown away. */
static FILE *
sink(void)
{
	static FILE *f;

	if (f == NULL && (f = fopen("/dev/null", "w")) == NULL)
		abort();
	return f;
}

/* The header's x size, computed without overflow for the check below. */
static unsigned __int128
xsize_wide(const struct xf_header *h)
{
	unsigned __int128 n = strcmp(h->dtype, "float32") == 0 ? 4 : 1;

	for (int d = 0; d < h->ndim; d++)
		n *= (uint64_t)h->shape[d];
	return n;
}

/* One record's copyable fields: string keys without a NUL, known types. */
static size_t
copyable(const struct xf_record *r, char keys[][64], size_t cap)
{
	struct xf_value k, v;
	size_t n = 0;

	for (size_t i = 0; i < xf_record_len(r); i++) {
		if (xf_record_field(r, i, &k, &v) < 0 || k.type != XF_STR ||
		    k.n >= 64 || (k.n && memchr(k.p, 0, k.n) != NULL) || n == cap)
			continue;
		if (k.n > 0)
			memcpy(keys[n], k.p, k.n);
		keys[n][k.n] = 0;
		n++;
	}
	return n;
}

static void
touch_record(const struct xf_stream *s, const struct xf_record *r)
{
	const struct xf_header *h = xf_stream_header(s);
	FILE *f = sink();
	struct xf_value k, v;
	size_t n = xf_record_len(r);

	for (size_t i = 0; i < n; i++) {
		if (xf_record_field(r, i, &k, &v) < 0)
			continue;
		xf_value_json(f, &k, NULL);
		xf_value_json(f, &v, h->dtype);
		xf_value_text(f, &v, h->dtype);
		xf_value_json(f, &v, "float32");
		if (v.type == XF_ARRAY || v.type == XF_MAP) {
			struct xf_value ik, iv;

			for (size_t j = 0; j < v.n; j++)
				if (xf_value_item(&v, j, v.type == XF_MAP ? &ik : NULL,
				    &iv) == 0)
					xf_value_text(f, &iv, NULL);
			/* One past the end must fail. */
			if (xf_value_item(&v, v.n, &ik, &iv) == 0)
				abort();
		}
	}
	if (xf_record_field(r, n, &k, &v) == 0)
		abort();
	xf_record_json(f, r, h->dtype, NULL);
	xf_record_json(f, r, h->dtype, "x");
	const unsigned char *x = xf_record_x(r);
	size_t xsize = xf_header_xsize(h);
	if (xsize > 0) {
		/* The reader promised x of exactly xsize bytes. */
		if (x == NULL || xf_record_get(r, "x", &v) < 0 || v.n != xsize)
			abort();
		unsigned sum = 0;
		for (size_t i = 0; i < xsize; i++)
			sum += x[i];
		fprintf(f, "%u", sum);
		if (h->n_classes > 0 &&
		    (xf_record_y(r) < 0 || xf_record_y(r) >= h->n_classes))
			abort();
		/* An index >= 0, and features all finite. */
		if (xf_record_i(r) < 0)
			abort();
		if (strcmp(h->dtype, "float32") == 0)
			for (size_t i = 0; i < xsize / 4; i++) {
				float fv;

				memcpy(&fv, x + 4 * i, 4);
				if (!isfinite(fv))
					abort();
			}
	}
	fprintf(f, "%lld %lld\n", (long long)xf_record_y(r),
	    (long long)xf_record_i(r));
}

/*
 * The copy: what was read, written to a memory file through the writer,
 * the header and then each record's copyable fields.
 */
struct copy {
	int fd;
	struct xf_writer *w;
};

static void
copy_begin(struct copy *c, const struct xf_header *h)
{
	struct xf_err err;

	/* The copy's count is nil: the original may fail before its count. */
	struct xf_header nil = *h;

	nil.count = -1;
	c->fd = memfd_create("fuzz_stream", 0);
	if (c->fd < 0 || (c->w = xf_writer_fdopen(c->fd, &err)) == NULL)
		abort();
	if (xf_writer_header(c->w, &nil, &err) < 0)
		abort();
}

static void
copy_record(struct copy *c, const struct xf_record *r)
{
	static char keys[256][64];
	size_t n = copyable(r, keys, 256);
	struct xf_err err;
	struct xf_value v;

	xf_writer_begin(c->w, n);
	for (size_t i = 0, j = 0; i < xf_record_len(r) && j < n; i++) {
		struct xf_value k;

		if (xf_record_field(r, i, &k, &v) < 0 || k.type != XF_STR ||
		    k.n >= 64 || (k.n && memchr(k.p, 0, k.n) != NULL))
			continue;
		xf_writer_value(c->w, keys[j++], &v);
	}
	if (xf_writer_end(c->w, &err) < 0)
		abort();
}

/* Reads the copy back: same header fields, same records. */
static void
copy_check(struct copy *c, const uint8_t *orig, size_t orig_len,
    uint64_t n_records)
{
	struct xf_err err;
	const struct xf_record *r, *o;
	struct xf_stream *s, *os;
	uint64_t n = 0;
	int rr;

	if (xf_writer_close(c->w, &err) < 0)
		abort();
	off_t len = lseek(c->fd, 0, SEEK_END);
	char *buf = malloc(len ? len : 1);
	if (buf == NULL || pread(c->fd, buf, len, 0) != len)
		abort();
	close(c->fd);
	if ((s = xf_stream_memopen(buf, len, &err)) == NULL) {
		fprintf(stderr, "copy: %s\n", err.msg);
		abort();
	}
	os = xf_stream_memopen(orig, orig_len, &err);
	const struct xf_header *h = xf_stream_header(s), *oh = xf_stream_header(os);
	if (strcmp(h->kind, oh->kind) || strcmp(h->dtype, oh->dtype) ||
	    h->ndim != oh->ndim ||
	    memcmp(h->shape, oh->shape, h->ndim * sizeof h->shape[0]) ||
	    h->n_classes != oh->n_classes || h->count != -1 ||
	    h->n_prov != oh->n_prov || strcmp(h->module, oh->module))
		abort();
	for (int i = 0; i < h->n_prov; i++)
		if (strcmp(h->prov[i], oh->prov[i]) != 0)
			abort();
	while (n < n_records && (rr = xf_stream_next(s, &r, &err)) == 1) {
		if (xf_stream_next(os, &o, &err) != 1)
			abort();
		if (xf_record_y(r) != xf_record_y(o) ||
		    xf_record_i(r) != xf_record_i(o) ||
		    (xf_header_xsize(h) > 0 &&
		    memcmp(xf_record_x(r), xf_record_x(o), xf_header_xsize(h))))
			abort();
		n++;
	}
	if (n != n_records || xf_stream_next(s, &r, &err) != 0) {
		fprintf(stderr, "copy: %llu of %llu records: %s\n",
		    (unsigned long long)n, (unsigned long long)n_records, err.msg);
		abort();
	}
	xf_stream_close(os);
	xf_stream_close(s);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xf_err err;
	struct xf_stream *s = xf_stream_memopen(data, size, &err);
	const struct xf_record *r;
	struct xf_header copyh;
	struct copy c;
	int rv;

	if (s == NULL) {
		if (strchr(err.msg, '\n') != NULL || err.msg[0] == 0)
			abort();
		return 0;
	}
	const struct xf_header *h = xf_stream_header(s);
	/* xsize must be the shape's product, or 0 only when it has no x. */
	size_t xsize = xf_header_xsize(h);
	if (h->dtype[0] != 0 && (xsize == 0 || xsize != xsize_wide(h)))
		abort();
	xf_header_json(sink(), h);
	xf_header_copy(&copyh, h);
	xf_header_add_prov(&copyh, "fuzz_stream");
	copy_begin(&c, h);
	while ((rv = xf_stream_next(s, &r, &err)) == 1) {
		touch_record(s, r);
		copy_record(&c, r);
	}
	if (rv < 0 && (strchr(err.msg, '\n') != NULL || err.msg[0] == 0))
		abort();
	/* A clean end keeps the header's count. */
	if (rv == 0 && h->count >= 0 && xf_stream_index(s) != (uint64_t)h->count)
		abort();
	copy_check(&c, data, size, xf_stream_index(s));
	xf_header_free(&copyh);
	xf_stream_close(s);
	return 0;
}

#ifdef __AFL_HAVE_MANUAL_CONTROL
/* AFL++ persistent mode: afl-clang-fast -o fuzz_stream.afl ... (README). */
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
