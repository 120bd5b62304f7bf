/* Streams: round trip, limits, and hostile inputs that must end cleanly. */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <msgpack.h>

#include "tap.h"
#include "xf.h"

/* Writes a small image stream through a pipe-less fd (a temp file). */
static char *
make_stream_count(size_t *len, int n_records, int64_t count)
{
	char path[TAP_PATH_MAX];
	int fd = mkstemp(tap_tmp(path, "xf-test-stream"));
	struct xf_err err;
	struct xf_writer *w = xf_writer_fdopen(fd, &err);
	struct xf_header h = { .kind = "images", .dtype = "uint8", .ndim = 3,
	    .shape = { 1, 4, 4 }, .n_classes = 3, .count = count };
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

static char *
make_stream(size_t *len, int n_records)
{
	return make_stream_count(len, n_records, n_records);
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
	for (size_t cut = 1; cut < len; cut++)
		read_all(buf, cut, &err) < 0 ? errors++ : clean++;
	/* A count of 3 is a promise: no cut short of the end is clean. */
	ok(clean == 0 && errors == (int)len - 1,
	    "truncation at every byte: %d errors, %d clean", errors, clean);
	ok(read_all(buf, len - 1, &err) < 0 && strstr(err.msg, "record 2") &&
	    strstr(err.msg, "truncated"), "last byte cut: \"%s\"", err.msg);
	free(buf);
	/* Without a count, the cuts at record boundaries are clean ends. */
	buf = make_stream_count(&len, 3, -1);
	errors = clean = 0;
	for (size_t cut = 1; cut < len; cut++)
		read_all(buf, cut, &err) < 0 ? errors++ : clean++;
	ok(clean == 3 && errors == (int)len - 1 - 3,
	    "count nil: %d errors, %d clean record boundaries", errors, clean);
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
	char *buf = make_stream_count(&len, 0, -1);

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
		{ "ext32 of 4 GB", "\xc9\xff\xff\xff\xff\x01", 6, "ext" },
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

/*
 * A header map packed field by field: the images header of make_stream
 * with count nil, or a features header (D = 2).  skip drops a key, twice
 * packs a key a second time, endian replaces "little"; then rec_len bytes
 * of records follow.
 */
struct hdr_spec {
	int features;
	const char *skip, *twice, *endian;
};

static size_t
hostile_stream(char *out, size_t cap, const struct hdr_spec *sp,
    const char *rec, size_t rec_len)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	const char *keys[] = { "format", "version", "kind", "dtype", "shape",
	    "classes", "count", "endian", "provenance" };
	size_t n = 0, len;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	for (size_t i = 0; i < 9; i++)
		n += (sp->skip == NULL || strcmp(sp->skip, keys[i]) != 0) +
		    (sp->twice != NULL && strcmp(sp->twice, keys[i]) == 0);
	msgpack_pack_map(&pk, n);
	for (size_t i = 0; i < 9; i++) {
		const char *k = keys[i], *v = NULL;
		int times = sp->twice && strcmp(sp->twice, k) == 0 ? 2 : 1;

		if (sp->skip && strcmp(sp->skip, k) == 0)
			continue;
		while (times--) {
			msgpack_pack_str_with_body(&pk, k, strlen(k));
			if (strcmp(k, "format") == 0)
				v = "xf-stream";
			else if (strcmp(k, "kind") == 0)
				v = sp->features ? "features" : "images";
			else if (strcmp(k, "dtype") == 0)
				v = sp->features ? "float32" : "uint8";
			else if (strcmp(k, "endian") == 0)
				v = sp->endian ? sp->endian : "little";
			if (v != NULL)
				msgpack_pack_str_with_body(&pk, v, strlen(v));
			else if (strcmp(k, "version") == 0)
				msgpack_pack_int(&pk, 1);
			else if (strcmp(k, "shape") == 0 && sp->features) {
				msgpack_pack_array(&pk, 1);
				msgpack_pack_int(&pk, 2);
			} else if (strcmp(k, "shape") == 0) {
				msgpack_pack_array(&pk, 3);
				msgpack_pack_int(&pk, 1);
				msgpack_pack_int(&pk, 4);
				msgpack_pack_int(&pk, 4);
			} else if (strcmp(k, "classes") == 0)
				msgpack_pack_int(&pk, 3);
			else if (strcmp(k, "count") == 0)
				msgpack_pack_nil(&pk);
			else
				msgpack_pack_array(&pk, 0);
		}
	}
	len = sb.size + rec_len;
	if (len <= cap) {
		memcpy(out, sb.data, sb.size);
		memcpy(out + sb.size, rec, rec_len);
	}
	msgpack_sbuffer_destroy(&sb);
	return len;
}

#define R(lit) lit, sizeof lit - 1

/* The classes of issue 11, one case or more each, through the reader. */
static void
test_promises(void)
{
	static const char x16[] = "\xa1x\xc4\x10" "0123456789abcdef";
	static const struct {
		const char *name;
		struct hdr_spec h;
		const char *rec;
		size_t rec_len;
		const char *want;
	} c[] = {
		/* 4: ext types, in a header and in a record */
		{ "fixext 1 in a record", { 0 }, R("\x81\xa1z\xd4\x01\x02"), "ext" },
		{ "ext 8 in a record", { 0 }, R("\x81\xa1z\xc7\x01\x05\x00"), "ext" },
		{ "timestamp 32 in a record", { 0 },
		    R("\x81\xa1z\xd6\xff\x00\x00\x00\x01"), "ext" },
		{ "ext 16 in a record", { 0 }, R("\x81\xa1z\xc8\x00\x01\x05\x00"),
		    "ext" },
		/* 5: duplicate keys */
		{ "duplicate kind in the header", { .twice = "kind" }, R(""),
		    "\"kind\" appears twice" },
		{ "duplicate y in a record", { 0 },
		    R("\x84\xa1i\x00\xa1y\x01\xa1y\x02\xa1x\xc4\x10" "0123456789abcdef"),
		    "\"y\" appears twice" },
		{ "duplicate key in a nested map", { 0 },
		    R("\x84\xa1i\x00\xa1y\x01\xa1m\x82\xa1" "a\x01\xa1" "a\x02"
		    "\xa1x\xc4\x10" "0123456789abcdef"), "\"a\" appears twice" },
		{ "an integer map key", { 0 }, R("\x81\x01\x02"), "not a string" },
		/* 6: required header fields and their values */
		{ "endian big", { .endian = "big" }, R(""), "endian" },
		{ "no classes", { .skip = "classes" }, R(""), "no classes" },
		{ "no dtype", { .skip = "dtype" }, R(""), "without dtype" },
		{ "no shape", { .skip = "shape" }, R(""), "without shape" },
		{ "no count", { .skip = "count" }, R(""), "no count" },
		{ "no endian", { .skip = "endian" }, R(""), "no endian" },
		{ "no provenance", { .skip = "provenance" }, R(""), "no provenance" },
		{ "no version", { .skip = "version" }, R(""), "no version" },
		{ "no kind", { .skip = "kind" }, R(""), "no kind" },
		/* 7: record fields of the spec's types */
		{ "i a string", { 0 }, R("\x82\xa1i\xa1" "7\xa1y\x01"), "\"i\"" },
		{ "i a float", { 0 },
		    R("\x82\xa1i\xcb\x3f\xf0\0\0\0\0\0\0\xa1y\x01"), "\"i\"" },
		{ "i missing", { 0 }, R("\x81\xa1y\x01"), "\"i\"" },
		{ "i negative", { 0 }, R("\x82\xa1i\xff\xa1y\x01"), "\"i\"" },
		{ "y a string", { 0 }, R("\x82\xa1i\x00\xa1y\xa1" "1"), "\"y\"" },
		/* 8: non-finite features */
		{ "NaN feature", { .features = 1 },
		    R("\x83\xa1i\x00\xa1y\x01\xa1x\xc4\x08\0\0\x80\x3f\0\0\xc0\x7f"),
		    "NaN at element 1" },
		{ "Inf feature", { .features = 1 },
		    R("\x83\xa1i\x00\xa1y\x01\xa1x\xc4\x08\0\0\x80\x7f\0\0\0\0"),
		    "Inf at element 0" },
	};
	char buf[4096], rec[256];
	struct xf_err err;

	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		size_t rl = c[i].rec_len;

		/* Records of the 7 class need an x to get past the x check. */
		memcpy(rec, c[i].rec, rl);
		if (strstr(c[i].name, "i ") == c[i].name ||
		    strstr(c[i].name, "y ") == c[i].name) {
			rec[0]++;
			memcpy(rec + rl, x16, sizeof x16 - 1);
			rl += sizeof x16 - 1;
		}
		size_t len = hostile_stream(buf, sizeof buf, &c[i].h, rec, rl);
		int n = read_all(buf, len, &err);

		ok(n < 0 && strstr(err.msg, c[i].want) != NULL &&
		    (c[i].rec_len == 0 || strstr(err.msg, "record 0") != NULL),
		    "refused: %s: \"%s\"", c[i].name, n < 0 ? err.msg : "accepted");
	}
	/* 7, tables: a flat map of scalars. */
	static const char tab_hdr[] = "\x87\xa6" "format" "\xa9" "xf-stream"
	    "\xa7" "version" "\x01\xa4" "kind" "\xa4" "eval\xa7" "classes" "\x00"
	    "\xa5" "count" "\xc0\xa6" "endian" "\xa6" "little" "\xaa"
	    "provenance" "\x90";
	static const struct { const char *name, *rec; size_t len; int good; } t[] = {
		{ "every scalar", R("\x85\xa1" "a\xc0\xa1" "b\xc3\xa1" "c\x05\xa1"
		    "d\xca\x3f\x80\0\0\xa1" "e\xa0"), 1 },
		{ "a bin", R("\x81\xa1" "a\xc4\x01\x00"), 0 },
		{ "an array", R("\x81\xa1" "a\x91\x01"), 0 },
		{ "a map", R("\x81\xa1" "a\x81\xa1" "b\x01"), 0 },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		size_t hl = sizeof tab_hdr - 1;

		memcpy(buf, tab_hdr, hl);
		memcpy(buf + hl, t[i].rec, t[i].len);
		int n = read_all(buf, hl + t[i].len, &err);

		ok(t[i].good ? n == 1 : n < 0 && strstr(err.msg, "record 0: field "
		    "\"a\" is not a scalar") != NULL, "table record with %s: %s",
		    t[i].name, n < 0 ? err.msg : "read");
	}
	/* The same header with all its fields is good: the cases above differ
	 * from a valid stream only where they say. */
	struct hdr_spec good = { 0 };
	size_t len = hostile_stream(buf, sizeof buf, &good, R("\x83\xa1i\x00\xa1y"
	    "\x01\xa1x\xc4\x10" "0123456789abcdef"));
	ok(read_all(buf, len, &err) == 1, "the full header and one record: read");

	/* 3: count is a promise, both ways, named at the record. */
	size_t mlen;
	char *m = make_stream_count(&mlen, 4, 6);
	ok(read_all(m, mlen, &err) < 0 && strstr(err.msg, "record 4: the stream "
	    "ends after 4 records, the header's count is 6"), "count 6, 4 records: "
	    "\"%s\"", err.msg);
	free(m);
	m = make_stream_count(&mlen, 4, 2);
	ok(read_all(m, mlen, &err) < 0 && strstr(err.msg, "record 2: more records "
	    "than the header's count of 2"), "count 2, 4 records: \"%s\"", err.msg);
	free(m);
	m = make_stream_count(&mlen, 4, 1000000);
	ok(read_all(m, mlen, &err) < 0 && strstr(err.msg, "header: count 1000000"),
	    "count 1000000 in a small file is refused up front: \"%s\"", err.msg);
	free(m);
}

int
main(void)
{
	test_round_trip();
	test_truncation();
	test_limits();
	test_hostile();
	test_promises();
	test_write_error();
	return tap_done();
}
