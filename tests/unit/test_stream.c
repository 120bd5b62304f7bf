/* Streams: round trip, limits, and hostile inputs that must end cleanly. */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "tap.h"
#include "xf.h"

/* Writes a small image stream through a pipe-less fd (a temp file). */
static char *
make_stream(size_t *len, int n_records)
{
	char path[TAP_PATH_MAX];
	int fd = mkstemp(tap_tmp(path, "xf-test-stream"));
	struct xf_err err;
	struct xf_writer *w = xf_writer_fdopen(fd, &err);
	struct xf_header h = { .kind = "images", .dtype = "uint8", .ndim = 3,
	    .shape = { 1, 4, 4 }, .n_classes = 3, .count = n_records };
	unsigned char px[16];

	xf_header_add_prov(&h, "test make_stream");
	xf_writer_header(w, &h, &err);
	for (int r = 0; r < n_records; r++) {
		for (int i = 0; i < 16; i++)
			px[i] = (unsigned char)(r * 16 + i);
		xf_writer_begin(w, 3);
		xf_writer_int(w, "i", r);
		xf_writer_int(w, "y", r % 3);
		xf_writer_bin(w, "x", px, 16);
		xf_writer_end(w, &err);
	}
	xf_writer_close(w, &err);
	xf_header_free(&h);
	*len = lseek(fd, 0, SEEK_END);
	char *buf = malloc(*len);
	pread(fd, buf, *len, 0);
	close(fd);
	unlink(path);
	return buf;
}

/* Reads all of buf; returns records read, or -1 with err. */
static int
read_all(const void *buf, size_t len, struct xf_err *err)
{
	struct xf_stream *s = xf_stream_memopen(buf, len, err);
	const struct xf_record *rec;
	int n = 0, r;

	if (s == NULL)
		return -1;
	while ((r = xf_stream_next(s, &rec, err)) == 1)
		n++;
	xf_stream_close(s);
	return r < 0 ? -1 : n;
}

static void
test_round_trip(void)
{
	size_t len;
	char *buf = make_stream(&len, 5);
	struct xf_err err;
	struct xf_stream *s = xf_stream_memopen(buf, len, &err);
	const struct xf_record *rec;
	int n = 0, good = 1;

	ok(s != NULL, "memopen reads the header");
	const struct xf_header *h = xf_stream_header(s);
	ok(strcmp(h->kind, "images") == 0 && h->ndim == 3 && h->shape[2] == 4 &&
	    h->n_classes == 3 && h->count == 5, "header fields survive");
	ok(h->n_prov == 1 && strcmp(h->prov[0], "test make_stream") == 0,
	    "provenance survives");
	while (xf_stream_next(s, &rec, &err) == 1) {
		const unsigned char *x = xf_record_x(rec);

		good &= xf_record_i(rec) == n && xf_record_y(rec) == n % 3 &&
		    x[15] == (unsigned char)(n * 16 + 15);
		n++;
	}
	ok(n == 5 && good, "five records with their fields (%d)", n);
	xf_stream_close(s);
	free(buf);
}

static void
test_truncation(void)
{
	size_t len;
	char *buf = make_stream(&len, 3);
	struct xf_err err;
	ok(read_all(buf, 0, &err) < 0 && strstr(err.msg, "empty"),
	    "empty input is an error: \"%s\"", err.msg);
	int errors = 0, clean = 0;
	for (size_t cut = 1; cut < len; cut++) {
		int n = read_all(buf, cut, &err);

		if (n < 0)
			errors++;
		else
			clean++;
	}
	/* 3 records: the only clean cuts are after the header and after 1 and 2. */
	ok(clean == 3 && errors == (int)len - 1 - 3,
	    "truncation at every byte: %d errors, %d clean record boundaries",
	    errors, clean);
	ok(read_all(buf, len - 1, &err) < 0 && strstr(err.msg, "record 2") &&
	    strstr(err.msg, "truncated"), "last byte cut: \"%s\"", err.msg);
	free(buf);
}

struct hostile {
	const char *name;
	const char *bytes;
	size_t len;
	const char *want;   /* substring of the error */
};

/* A valid header prefix for record-level cases. */
static size_t
with_header(char *out, const char *rec, size_t rec_len)
{
	size_t len;
	char *buf = make_stream(&len, 0);

	memcpy(out, buf, len);
	memcpy(out + len, rec, rec_len);
	free(buf);
	return len + rec_len;
}

static void
test_hostile(void)
{
	static const struct hostile h[] = {
		{ "empty", "", 0, "empty" },
		{ "0xc1", "\xc1", 1, "not msgpack" },
		{ "array32 of 4G items", "\xdd\xff\x00\x00\x00", 5, "items" },
		{ "three nested array32", "\xdd\x00\x00\x00\x10\xdd\x00\x00\x00\x10"
		    "\xdd\x00\x00\x00\x10", 15, "truncated" },
		{ "bin32 of 4 GB", "\xc6\xff\xff\xff\xff", 5, "record limit" },
		{ "str32 of 4 GB", "\xdb\xff\xff\xff\xff", 5, "record limit" },
		{ "map32 of 4G pairs", "\xdf\xff\xff\xff\xff", 5, "items" },
		{ "ext32 of 4 GB", "\xc9\xff\xff\xff\xff\x01", 6, "record limit" },
		{ "header not a map", "\x01", 1, "not a map" },
		{ "header of the wrong format", "\x81\xa6" "format" "\xa3" "zip",
		    12, "format" },
		{ "header without a format", "\x81\xa4" "kind" "\xa6" "images",
		    13, "not an xf stream" },
		{ "header of version 9", "\x82\xa6" "format" "\xa9" "xf-stream"
		    "\xa7" "version" "\x09", 27, "version 9" },
	};
	char big[4096];
	struct xf_err err;

	for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) {
		int n = read_all(h[i].bytes, h[i].len, &err);

		ok(n < 0 && strstr(err.msg, h[i].want) != NULL &&
		    strchr(err.msg, '\n') == NULL, "hostile %s: \"%s\"", h[i].name,
		    n < 0 ? err.msg : "accepted");
	}

	/* A nesting bomb: 200 one-item arrays. */
	memset(big, 0x91, 200);
	big[200] = 0x01;
	ok(read_all(big, 201, &err) < 0 && strstr(err.msg, "nesting"),
	    "hostile nesting bomb: \"%s\"", err.msg);

	/* Records after a valid header. */
	static const struct hostile rec[] = {
		{ "record not a map", "\x05", 1, "not a map" },
		{ "record without x", "\x81\xa1y\x01", 4, "no bin field" },
		{ "record x of 3 bytes", "\x82\xa1y\x01\xa1x\xc4\x03" "abc", 11,
		    "has 3 bytes" },
		{ "record label out of range", "\x82\xa1y\x07\xa1x\xc4\x10"
		    "0123456789abcdef", 24, "label" },
		{ "record bin32 of 4 GB", "\x81\xa1x\xc6\xff\xff\xff\xff", 8,
		    "record limit" },
		{ "record of a reserved byte", "\x81\xa1x\xc1", 4, "not msgpack" },
	};
	for (size_t i = 0; i < sizeof rec / sizeof rec[0]; i++) {
		size_t len = with_header(big, rec[i].bytes, rec[i].len);
		int n = read_all(big, len, &err);

		ok(n < 0 && strstr(err.msg, rec[i].want) != NULL &&
		    strstr(err.msg, "record 0") != NULL, "hostile %s: \"%s\"",
		    rec[i].name, n < 0 ? err.msg : "accepted");
	}

	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	ok(ru.ru_maxrss < TAP_RSS_LIMIT_KIB, "peak RSS after hostile inputs %ld KiB "
	    "< %d KiB", ru.ru_maxrss, TAP_RSS_LIMIT_KIB);
}

static void
test_limits(void)
{
	struct xf_limits lim = xf_default_limits;
	struct xf_err err;
	char buf[64] = "\x93\x01\x02";

	ok(xf_msgpack_check(buf, 3, &lim, &err) == 0, "incomplete array needs more");
	buf[3] = 0x03;
	ok(xf_msgpack_check(buf, 4, &lim, &err) == 4, "complete array is 4 bytes");
	lim.max_items = 3;
	ok(xf_msgpack_check(buf, 4, &lim, &err) < 0, "item limit enforced");
	lim = xf_default_limits;
	lim.max_record = 10;
	memcpy(buf, "\xc4\x20", 2);
	ok(xf_msgpack_check(buf, 64, &lim, &err) < 0 &&
	    strstr(err.msg, "record limit"), "record size limit enforced");
}

static void
test_write_error(void)
{
	struct xf_err err;
	struct xf_writer *w = xf_writer_open("/dev/full", &err);
	struct xf_header h = { .kind = "eval", .count = -1 };
	int r = xf_writer_header(w, &h, &err);

	for (int i = 0; i < 100000 && r == 0; i++) {
		xf_writer_begin(w, 1);
		xf_writer_float(w, "loss", i);
		r = xf_writer_end(w, &err);
	}
	int c = xf_writer_close(w, &err);
	ok(r < 0 && c < 0 && strstr(err.msg, "No space"),
	    "/dev/full: write fails and close reports it: \"%s\"", err.msg);
}

int
main(void)
{
	test_round_trip();
	test_truncation();
	test_limits();
	test_hostile();
	test_write_error();
	return tap_done();
}
