/*
 * mkseeds: writes the seed corpus, small valid streams and checkpoints made
 * with the lib writers plus the hostile inputs of the unit tests.
 *
 *	mkseeds DIR    writes DIR/stream/NAME and DIR/ckpt/NAME
 *
 * The outputs are committed under tests/fuzz/corpus; rerun this only to
 * change them (make fuzz-seeds).  Every output is deterministic.
 */
#include <err.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <msgpack.h>

#include "xf.h"

static const char *dir;

static void
put(const char *sub, const char *name, const void *p, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(p, 1, n, f) != n ||
	    fclose(f) != 0)
		err(1, "%s", path);
}

/* ---- streams ---- */

static struct xf_writer *
stream_to(const char *name, struct xf_header *h)
{
	char path[512];
	struct xf_err e;
	struct xf_writer *w;

	snprintf(path, sizeof path, "%s/stream/%s", dir, name);
	if ((w = xf_writer_open(path, &e)) == NULL)
		errx(1, "%s: %s", path, e.msg);
	if (xf_writer_header(w, h, &e) < 0)
		errx(1, "%s: %s", path, e.msg);
	return w;
}

static void
done(struct xf_writer *w, struct xf_header *h)
{
	struct xf_err e;

	if (xf_writer_close(w, &e) < 0)
		errx(1, "close: %s", e.msg);
	xf_header_free(h);
}

static void
streams(void)
{
	struct xf_err e;
	struct xf_writer *w;

	/* Images: 1x4x4 uint8, 3 classes, 4 records. */
	struct xf_header img = { .kind = "images", .dtype = "uint8", .ndim = 3,
	    .shape = { 1, 4, 4 }, .n_classes = 3, .count = 4 };
	xf_header_add_prov(&img, "mkseeds images");
	w = stream_to("images.xfs", &img);
	for (int r = 0; r < 4; r++) {
		unsigned char px[16];

		for (int i = 0; i < 16; i++)
			px[i] = (unsigned char)(r * 16 + i * 7);
		xf_writer_begin(w, 3);
		xf_writer_int(w, "i", r);
		xf_writer_int(w, "y", r % 3);
		xf_writer_bin(w, "x", px, 16);
		xf_writer_end(w, &e);
	}
	done(w, &img);

	/* Features: 5 float32, count unknown, a module, extra fields. */
	struct xf_header feat = { .kind = "features", .dtype = "float32",
	    .ndim = 1, .shape = { 5 }, .n_classes = 10, .count = -1,
	    .module = "conv2" };
	xf_header_add_prov(&feat, "xf-import synthetic -n 3");
	xf_header_add_prov(&feat, "xf-features -m conv2 p.tar");
	w = stream_to("features.xfs", &feat);
	for (int r = 0; r < 3; r++) {
		float x[5] = { r, -1.5f, 1e-30f, 3.25e8f, 0.1f * r };

		xf_writer_begin(w, 4);
		xf_writer_int(w, "i", 100 + r);
		xf_writer_int(w, "y", 9 - r);
		xf_writer_bin(w, "x", x, sizeof x);
		xf_writer_str(w, "src", "train");
		xf_writer_end(w, &e);
	}
	done(w, &feat);

	/* A table of every scalar type. */
	struct xf_header eval = { .kind = "eval", .count = 2 };
	w = stream_to("eval.xfs", &eval);
	for (int r = 0; r < 2; r++) {
		xf_writer_begin(w, 6);
		xf_writer_int(w, "step", r * 1000);
		xf_writer_float(w, "loss", r ? 0.5 : 1.0 / 3);
		xf_writer_float(w, "acc", r ? NAN : -INFINITY);
		xf_writer_bool(w, "last", r);
		xf_writer_str(w, "note", r ? "tab\there \"q\" \\ nl\n" : "");
		xf_writer_int(w, "neg", INT64_MIN + r);
		xf_writer_end(w, &e);
	}
	done(w, &eval);

	/* Header only. */
	struct xf_header empty = { .kind = "cka", .count = 0 };
	w = stream_to("header-only.xfs", &empty);
	done(w, &empty);

	/* Nested values, packed by hand: arrays, maps, nil, float32. */
	{
		msgpack_sbuffer sb;
		msgpack_packer pk;
		/* A table holds scalars only: the nested values ride in an
		 * image record, as a field after i, y and x. */
		struct xf_header log = { .kind = "images", .dtype = "uint8",
		    .ndim = 3, .shape = { 1, 1, 1 }, .n_classes = 1, .count = -1 };
		char path[512];
		int fd;

		snprintf(path, sizeof path, "%s/stream/nested.xfs", dir);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		w = xf_writer_fdopen(fd, &e);
		xf_writer_header(w, &log, &e);
		xf_writer_close(w, &e);
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 8);
		msgpack_pack_str_with_body(&pk, "i", 1);
		msgpack_pack_int(&pk, 0);
		msgpack_pack_str_with_body(&pk, "y", 1);
		msgpack_pack_int(&pk, 0);
		msgpack_pack_str_with_body(&pk, "x", 1);
		msgpack_pack_bin_with_body(&pk, "\x2a", 1);
		msgpack_pack_str_with_body(&pk, "a", 1);
		msgpack_pack_array(&pk, 3);
		msgpack_pack_nil(&pk);
		msgpack_pack_float(&pk, 2.5f);
		msgpack_pack_map(&pk, 1);
		msgpack_pack_str_with_body(&pk, "7", 1);
		msgpack_pack_bin_with_body(&pk, "\x01\x02\x03\x04", 4);
		msgpack_pack_str_with_body(&pk, "e", 1);
		msgpack_pack_str_with_body(&pk, "", 0);
		msgpack_pack_str_with_body(&pk, "u", 1);
		msgpack_pack_uint64(&pk, UINT64_MAX);
		msgpack_pack_str_with_body(&pk, "3", 1);
		msgpack_pack_str_with_body(&pk, "str value", 9);
		msgpack_pack_str_with_body(&pk, "k\0z", 3);
		msgpack_pack_true(&pk);
		if (write(fd, sb.data, sb.size) != (ssize_t)sb.size || close(fd))
			err(1, "%s", path);
		msgpack_sbuffer_destroy(&sb);
		xf_header_free(&log);
	}

	/* One stream per class of issue 11: valid but for one thing. */
	static const struct {
		const char *name;
		int features;
		const char *skip, *twice, *endian;
		const char *rec;
		size_t len;
	} one[] = {
		{ "hostile-ext-fixext1", 0, NULL, NULL, NULL,
		    "\x84\xa1i\x00\xa1y\x01\xa1x\xc4\x10" "0123456789abcdef"
		    "\xa1z\xd4\x01\x02", 33 },
		{ "hostile-ext-timestamp", 0, NULL, NULL, NULL,
		    "\x84\xa1i\x00\xa1y\x01\xa1x\xc4\x10" "0123456789abcdef"
		    "\xa1t\xd6\xff\x00\x00\x00\x01", 36 },
		{ "hostile-dup-key-header", 0, NULL, "classes", NULL, "", 0 },
		{ "hostile-dup-key-record", 0, NULL, NULL, NULL,
		    "\x84\xa1i\x00\xa1y\x01\xa1y\x02\xa1x\xc4\x10"
		    "0123456789abcdef", 30 },
		{ "hostile-int-key", 0, NULL, NULL, NULL,
		    "\x84\xa1i\x00\xa1y\x01\xa1x\xc4\x10" "0123456789abcdef"
		    "\x07\x01", 29 },
		{ "hostile-endian-big", 0, NULL, NULL, "big", "", 0 },
		{ "hostile-no-classes", 0, "classes", NULL, NULL, "", 0 },
		{ "hostile-no-dtype", 0, "dtype", NULL, NULL, "", 0 },
		{ "hostile-no-count", 0, "count", NULL, NULL, "", 0 },
		{ "hostile-i-string", 0, NULL, NULL, NULL,
		    "\x83\xa1i\xa1" "7\xa1y\x01\xa1x\xc4\x10" "0123456789abcdef", 29 },
		{ "hostile-i-missing", 0, NULL, NULL, NULL,
		    "\x82\xa1y\x01\xa1x\xc4\x10" "0123456789abcdef", 24 },
		{ "hostile-nan-feature", 1, NULL, NULL, NULL,
		    "\x83\xa1i\x00\xa1y\x01\xa1x\xc4\x08\0\0\x80\x3f\0\0\xc0\x7f", 19 },
		{ "valid-one-record", 0, NULL, NULL, NULL,
		    "\x83\xa1i\x00\xa1y\x01\xa1x\xc4\x10" "0123456789abcdef", 27 },
	};
	for (size_t i = 0; i < sizeof one / sizeof one[0]; i++) {
		const char *keys[] = { "format", "version", "kind", "dtype",
		    "shape", "classes", "count", "endian", "provenance" };
		msgpack_sbuffer sb;
		msgpack_packer pk;
		size_t n = 0;

		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		for (size_t k = 0; k < 9; k++)
			n += (one[i].skip == NULL || strcmp(one[i].skip, keys[k])) +
			    (one[i].twice != NULL && !strcmp(one[i].twice, keys[k]));
		msgpack_pack_map(&pk, n);
		for (size_t k = 0; k < 9; k++) {
			const char *key = keys[k];
			int times = one[i].twice && !strcmp(one[i].twice, key) ? 2 : 1;

			if (one[i].skip && strcmp(one[i].skip, key) == 0)
				continue;
			while (times--) {
				const char *v = NULL;

				msgpack_pack_str_with_body(&pk, key, strlen(key));
				if (!strcmp(key, "format"))
					v = "xf-stream";
				else if (!strcmp(key, "kind"))
					v = one[i].features ? "features" : "images";
				else if (!strcmp(key, "dtype"))
					v = one[i].features ? "float32" : "uint8";
				else if (!strcmp(key, "endian"))
					v = one[i].endian ? one[i].endian : "little";
				if (v != NULL)
					msgpack_pack_str_with_body(&pk, v, strlen(v));
				else if (!strcmp(key, "version"))
					msgpack_pack_int(&pk, 1);
				else if (!strcmp(key, "shape") && one[i].features) {
					msgpack_pack_array(&pk, 1);
					msgpack_pack_int(&pk, 2);
				} else if (!strcmp(key, "shape")) {
					msgpack_pack_array(&pk, 3);
					msgpack_pack_int(&pk, 1);
					msgpack_pack_int(&pk, 4);
					msgpack_pack_int(&pk, 4);
				} else if (!strcmp(key, "classes"))
					msgpack_pack_int(&pk, 3);
				else if (!strcmp(key, "count"))
					msgpack_pack_int(&pk, one[i].len ? 1 : 0);
				else
					msgpack_pack_array(&pk, 0);
			}
		}
		msgpack_sbuffer_write(&sb, one[i].rec, one[i].len);
		put("stream", one[i].name, sb.data, sb.size);
		msgpack_sbuffer_destroy(&sb);
	}
	/* The count as a promise: 4 records under a count of 3 and of 6. */
	{
		char path[512], *buf;
		size_t len;
		FILE *f;

		snprintf(path, sizeof path, "%s/stream/images.xfs", dir);
		if ((f = fopen(path, "rb")) == NULL)
			err(1, "%s", path);
		buf = malloc(1 << 16);
		len = fread(buf, 1, 1 << 16, f);
		fclose(f);
		/* images.xfs's count, 4, is the byte after "count". */
		char *c = memmem(buf, len, "\xa5" "count\x04", 7);
		if (c == NULL)
			errx(1, "images.xfs: no count 4");
		c[6] = 3;
		put("stream", "hostile-count-long", buf, len);
		c[6] = 6;
		put("stream", "hostile-count-short", buf, len);
		free(buf);
	}

	/* The unit tests' hostile streams. */
	static const struct { const char *name, *bytes; size_t len; } h[] = {
		{ "hostile-c1", "\xc1", 1 },
		{ "hostile-array32-4g", "\xdd\xff\x00\x00\x00", 5 },
		{ "hostile-nested-array32", "\xdd\x00\x00\x00\x10\xdd\x00\x00\x00"
		    "\x10\xdd\x00\x00\x00\x10", 15 },
		{ "hostile-bin32-4g", "\xc6\xff\xff\xff\xff", 5 },
		{ "hostile-str32-4g", "\xdb\xff\xff\xff\xff", 5 },
		{ "hostile-map32-4g", "\xdf\xff\xff\xff\xff", 5 },
		{ "hostile-ext32-4g", "\xc9\xff\xff\xff\xff\x01", 6 },
		{ "hostile-header-int", "\x01", 1 },
		{ "hostile-format-zip", "\x81\xa6" "format" "\xa3" "zip", 12 },
		{ "hostile-no-format", "\x81\xa4" "kind" "\xa6" "images", 13 },
		{ "hostile-version-9", "\x82\xa6" "format" "\xa9" "xf-stream"
		    "\xa7" "version" "\x09", 27 },
	};
	for (size_t i = 0; i < sizeof h / sizeof h[0]; i++)
		put("stream", h[i].name, h[i].bytes, h[i].len);
	char bomb[201];
	memset(bomb, 0x91, 200);
	bomb[200] = 0x01;
	put("stream", "hostile-nesting-bomb", bomb, sizeof bomb);
}

/* ---- checkpoints ---- */

struct member {
	const char *name;
	const void *data;
	size_t len;
	int type;
	const char *link;
};

static void
tar_of(const char *name, const struct member *m, int n, int gzip)
{
	static char out[1 << 16];
	struct archive *a = archive_write_new();
	size_t used = 0;

	archive_write_set_format_pax_restricted(a);
	if (gzip) {
		archive_write_add_filter_gzip(a);
		/* No mtime in the gzip header: the same bytes every run. */
		archive_write_set_filter_option(a, "gzip", "timestamp", NULL);
	}
	archive_write_set_bytes_in_last_block(a, 1);
	archive_write_open_memory(a, out, sizeof out, &used);
	for (int i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();

		archive_entry_set_pathname(e, m[i].name);
		archive_entry_set_filetype(e, m[i].type ? (unsigned)m[i].type :
		    AE_IFREG);
		archive_entry_set_perm(e, 0644);
		if (m[i].type == AE_IFLNK)
			archive_entry_set_symlink(e, m[i].link);
		archive_entry_set_size(e, m[i].type ? 0 : (la_int64_t)m[i].len);
		archive_write_header(a, e);
		if (!m[i].type)
			archive_write_data(a, m[i].data, m[i].len);
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
	put("ckpt", name, out, used);
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(1 << 20);

	if (f == NULL || buf == NULL)
		err(1, "%s", path);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

static void
ckpts(void)
{
	static float w1[6] = { 1, 2, 3, 4, 5, 6 }, b1[2] = { -1, 0.5f };
	static float k[2 * 1 * 3 * 3];
	int64_t s1[2] = { 2, 3 }, s2[1] = { 2 }, s4[4] = { 2, 1, 3, 3 };
	struct xf_ckpt c = { 0 };
	struct xf_err e;
	char path[512];

	for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
		k[i] = (float)i / 7 - 1;
	strcpy(c.arch, "mlp");
	c.input[0] = 1, c.input[1] = 2, c.input[2] = 3;
	c.n_classes = 2;
	xf_ckpt_add(&c, "fc1.weight", 2, s1, w1, 0, &e);
	xf_ckpt_add(&c, "fc1.bias", 1, s2, b1, 0, &e);
	xf_ckpt_set_int(&c, "train.step", 42);
	xf_ckpt_set_float(&c, "train.lr", 0.125);
	xf_ckpt_set_str(&c, "prov.data", "xf-import synthetic");
	snprintf(path, sizeof path, "%s/ckpt/mlp.tar", dir);
	if (xf_ckpt_write(path, &c, &e) < 0)
		errx(1, "%s: %s", path, e.msg);

	struct xf_ckpt d = { 0 };
	strcpy(d.arch, "cnn-s");
	d.input[0] = 1, d.input[1] = 28, d.input[2] = 28;
	d.n_classes = 10;
	xf_ckpt_add(&d, "conv1.weight", 4, s4, k, 0, &e);
	xf_ckpt_add(&d, "conv1.bias", 1, s2, b1, 0, &e);
	xf_ckpt_add(&d, "momentum.conv1.bias", 1, s2, b1, 0, &e);
	xf_ckpt_set_int(&d, "train.epoch", -3);
	xf_ckpt_set_str(&d, "train.rng", "0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef");
	xf_ckpt_set_str(&d, "prov.parent", "");
	snprintf(path, sizeof path, "%s/ckpt/cnn.tar", dir);
	if (xf_ckpt_write(path, &d, &e) < 0)
		errx(1, "%s: %s", path, e.msg);
	xf_ckpt_free(&d);

	/* Hostile tars around the real manifest. */
	size_t tl;
	snprintf(path, sizeof path, "%s/ckpt/mlp.tar", dir);
	char *tar = slurp(path, &tl);
	size_t ml = strtoul(tar + 124, NULL, 8);
	const char *man = tar + 512;
	float nan_w[6] = { 1, 2, NAN, 4, 5, 6 };
	struct member good[] = {
		{ XF_MANIFEST, man, ml, 0, 0 },
		{ "fc1.weight", w1, sizeof w1, 0, 0 },
		{ "fc1.bias", b1, sizeof b1, 0, 0 },
	};
	tar_of("pax.tar", good, 3, 0);
	/* A bare manifest: fuzz_ckpt wraps it in a tar (see there). */
	put("ckpt", "manifest-mlp.msgpack", man, ml);
	{
		size_t cl;
		snprintf(path, sizeof path, "%s/ckpt/cnn.tar", dir);
		char *cnn = slurp(path, &cl);
		put("ckpt", "manifest-cnn.msgpack", cnn + 512,
		    strtoul(cnn + 124, NULL, 8));
		free(cnn);
	}
	tar_of("hostile-gzip.tar", good, 3, 1);
	struct member wrong[] = { good[0], { "fc1.weight", w1, 20, 0, 0 }, good[2] };
	tar_of("hostile-wrong-size.tar", wrong, 3, 0);
	struct member dup[] = { good[0], good[1], good[1], good[2] };
	tar_of("hostile-duplicate.tar", dup, 4, 0);
	tar_of("hostile-missing.tar", good, 2, 0);
	struct member dotdot[] = { good[0], { "../fc1.weight", w1, sizeof w1, 0, 0 } };
	tar_of("hostile-dotdot.tar", dotdot, 2, 0);
	struct member sym[] = { good[0], { "fc1.weight", NULL, 0, AE_IFLNK,
	    "/etc/passwd" } };
	tar_of("hostile-symlink.tar", sym, 2, 0);
	struct member dirm[] = { good[0], { "fc1.weight", NULL, 0, AE_IFDIR, 0 } };
	tar_of("hostile-dir.tar", dirm, 2, 0);
	struct member first[] = { good[1], good[0], good[2] };
	tar_of("hostile-manifest-second.tar", first, 3, 0);
	struct member nanm[] = { good[0], { "fc1.weight", nan_w, sizeof nan_w, 0, 0 },
	    good[2] };
	tar_of("hostile-nan.tar", nanm, 3, 0);
	static const struct { const char *name, *bytes; size_t len; } mf[] = {
		{ "hostile-manifest-c1.tar", "\xc1", 1 },
		{ "hostile-manifest-array32.tar", "\xdd\xff\xff\xff\xff", 5 },
		{ "hostile-manifest-version-7.tar", "\x82\xa6" "format" "\xad"
		    "xf-checkpoint" "\xa7" "version" "\x07", 31 },
		{ "hostile-manifest-no-format.tar", "\x81\xa4" "arch" "\xa3" "mlp",
		    10 },
#define LIT(s) s, sizeof s - 1
		{ "hostile-manifest-dup-key.tar", LIT("\x82\xa6" "format" "\xad"
		    "xf-checkpoint" "\xa6" "format" "\xad" "xf-checkpoint") },
		{ "hostile-manifest-ext.tar", LIT("\x82\xa6" "format" "\xad"
		    "xf-checkpoint" "\xa4" "meta" "\x81\xa1" "a" "\xd4\x01\x02") },
#undef LIT
	};
	for (size_t i = 0; i < sizeof mf / sizeof mf[0]; i++) {
		struct member m[] = { { XF_MANIFEST, mf[i].bytes, mf[i].len, 0, 0 } };

		tar_of(mf[i].name, m, 1, 0);
	}
	/* Truncated in the last tensor, and a damaged second header. */
	put("ckpt", "hostile-truncated.tar", tar, tl - 1536 + 4);
	tar[512 + ((ml + 511) / 512) * 512 + 10] ^= 0x5a;
	put("ckpt", "hostile-checksum.tar", tar, tl);
	free(tar);
	xf_ckpt_free(&c);
}

int
main(int argc, char **argv)
{
	char path[512];

	if (argc != 2) {
		fprintf(stderr, "usage: mkseeds dir\n");
		return 2;
	}
	dir = argv[1];
	snprintf(path, sizeof path, "%s/stream", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/ckpt", dir);
	mkdir(path, 0755);
	streams();
	ckpts();
	return 0;
}
