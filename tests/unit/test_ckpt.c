/* Checkpoints: round trip, atomic writes, and hostile tars. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include <msgpack.h>

#include "tap.h"
#include "xf.h"

static float w1[6] = { 1, 2, 3, 4, 5, 6 };
static float b1[2] = { -1, 0.5f };

static void
small_ckpt(struct xf_ckpt *c)
{
	int64_t s1[2] = { 2, 3 }, s2[1] = { 2 };
	struct xf_err err;

	memset(c, 0, sizeof *c);
	strcpy(c->arch, "mlp");
	c->input[0] = 1, c->input[1] = 2, c->input[2] = 3;
	c->n_classes = 2;
	xf_ckpt_add(c, "fc1.weight", 2, s1, w1, 0, &err);
	xf_ckpt_add(c, "fc1.bias", 1, s2, b1, 0, &err);
	xf_ckpt_set_int(c, "train.step", 42);
	xf_ckpt_set_float(c, "train.lr", 0.125);
	xf_ckpt_set_str(c, "prov.data", "xf-import synthetic");
}

static void
pack(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

static char *
slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	char *buf;

	if (fd < 0)
		return NULL;
	fstat(fd, &st);
	buf = malloc(st.st_size + 1);
	*len = read(fd, buf, st.st_size);
	close(fd);
	return buf;
}

static void
test_round_trip(void)
{
	struct xf_ckpt c, d = { 0 };
	struct xf_err err;
	char path[TAP_PATH_MAX];

	tap_tmp(path, "xf-test-ckpt");

	mkdtemp(path);
	strcat(path, "/a.tar");
	small_ckpt(&c);
	ok(xf_ckpt_write(path, &c, &err) == 0, "write %s", path);
	ok(xf_ckpt_read(path, &d, &err) == 0, "read back (%s)",
	    d.n_tensors ? "ok" : err.msg);
	struct xf_tensor *t = xf_ckpt_find(&d, "fc1.weight");
	ok(t != NULL && t->ndim == 2 && t->shape[1] == 3 &&
	    memcmp(t->data, w1, sizeof w1) == 0, "tensor bytes survive");
	ok(strcmp(d.arch, "mlp") == 0 && d.input[2] == 3 && d.n_classes == 2,
	    "arch, input and classes survive");
	const struct xf_meta *m = xf_ckpt_get(&d, "train.step");
	const struct xf_meta *f = xf_ckpt_get(&d, "train.lr");
	const struct xf_meta *s = xf_ckpt_get(&d, "prov.data");
	ok(m && m->type == XF_INT && m->i == 42 && f && f->f == 0.125 && s &&
	    strcmp(s->s, "xf-import synthetic") == 0, "metadata survives");

	/* Same contents, same bytes. */
	char path2[80];
	size_t l1, l2;
	snprintf(path2, sizeof path2, "%s.2", path);
	xf_ckpt_write(path2, &c, &err);
	char *a = slurp(path, &l1), *b = slurp(path2, &l2);
	ok(l1 == l2 && memcmp(a, b, l1) == 0, "writes are deterministic (%zu bytes)",
	    l1);
	free(a);
	free(b);

	/* A failed write leaves the old file alone and no temp file behind. */
	ok(xf_ckpt_write("/nonexistent-dir/x.tar", &c, &err) < 0,
	    "write into a missing directory fails: \"%s\"", err.msg);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "test $(ls %.*s | wc -l) -eq 2", (int)(strlen(path) - 6),
	    path);
	ok(system(cmd) == 0, "no temporary files left in the directory");
	unlink(path);
	unlink(path2);
	xf_ckpt_free(&c);
	xf_ckpt_free(&d);
}

/* ---- crafting hostile tars ---- */

struct member {
	const char *name;
	const void *data;
	size_t len;
	int type;           /* AE_IFREG, AE_IFLNK, ... */
	const char *link;   /* symlink target or hardlink */
	int gnu;            /* GNU format (long names) */
};

static size_t
build_tar(char *out, size_t cap, const struct member *m, int n, int gzip)
{
	struct archive *a = archive_write_new();
	size_t used = 0;

	if (m[0].gnu)
		archive_write_set_format_gnutar(a);
	else
		archive_write_set_format_pax_restricted(a);
	if (gzip)
		archive_write_add_filter_gzip(a);
	archive_write_set_bytes_in_last_block(a, 1);
	archive_write_open_memory(a, out, cap, &used);
	for (int i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();

		archive_entry_set_pathname(e, m[i].name);
		archive_entry_set_filetype(e, m[i].type ? (unsigned)m[i].type : AE_IFREG);
		archive_entry_set_perm(e, 0644);
		if (m[i].type == AE_IFLNK)
			archive_entry_set_symlink(e, m[i].link);
		else if (m[i].link)
			archive_entry_set_hardlink(e, m[i].link);
		archive_entry_set_size(e, m[i].type && m[i].type != AE_IFREG ? 0 :
		    m[i].link ? 0 : (la_int64_t)m[i].len);
		archive_write_header(a, e);
		if (m[i].len && !m[i].link && (!m[i].type || m[i].type == AE_IFREG))
			archive_write_data(a, m[i].data, m[i].len);
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
	return used;
}

/* The manifest bytes of the small checkpoint, taken from a real write. */
static char *
manifest_of(struct xf_ckpt *c, size_t *len)
{
	char path[TAP_PATH_MAX];
	struct xf_err err;
	int fd = mkstemp(tap_tmp(path, "xf-test-manifest"));
	size_t tl;

	close(fd);
	if (xf_ckpt_write(path, c, &err) < 0) {
		printf("Bail out! manifest_of: %s: %s\n", path, err.msg);
		exit(1);
	}
	char *tar = slurp(path, &tl);
	unlink(path);
	/* ustar: the manifest is the first member, data at offset 512. */
	size_t size = strtoul(tar + 124, NULL, 8);
	char *m = malloc(size);
	memcpy(m, tar + 512, size);
	free(tar);
	*len = size;
	return m;
}

static int
read_mem(const char *buf, size_t len, struct xf_err *err)
{
	struct xf_ckpt c = { 0 };
	int r = xf_ckpt_read_mem(buf, len, &c, err);

	xf_ckpt_free(&c);
	return r;
}

static void
expect_bad(const char *name, const char *buf, size_t len, const char *want)
{
	struct xf_err err;
	int r = read_mem(buf, len, &err);

	ok(r < 0 && strstr(err.msg, want) != NULL && strchr(err.msg, '\n') == NULL,
	    "hostile %s: \"%s\"", name, r < 0 ? err.msg : "accepted");
}

/*
 * The hostile tars: each case lists the members it is built from, in
 * order, then edits the bytes, and must be refused with a message holding
 * its text.  The members are the small checkpoint's own (MAN, W, B) and the
 * bad ones a case swaps in.
 */
enum { MAN, W, B, W20, W9, DOTDOT, ABS, SYM, HARD, DEV, DIR, GMAN, GLONG,
    NANW, N_MEMBERS, END = -1 };
enum edit {
	NONE,
	KEEP,		/* keep the first arg bytes */
	DROP,		/* drop the last arg bytes */
	FLIP2,		/* damage byte arg of the second member's header */
};
static const struct hostile {
	const char *what;
	signed char m[5];	/* members, ended by END */
	int gzip;
	enum edit edit;
	size_t arg;
	const char *want;
} hostile[] = {
	{ "wrong-size member", { MAN, W20, B, END }, 0, NONE, 0, "member has 20 bytes" },
	{ "duplicate tensor", { MAN, W, W, B, END }, 0, NONE, 0, "fc1.weight: duplicate" },
	{ "missing tensor", { MAN, W, END }, 0, NONE, 0, "fc1.bias: in the manifest but not" },
	{ "extra tensor", { MAN, W, B, W9, END }, 0, NONE, 0, "fc9.weight: not a tensor" },
	{ "../ member name", { MAN, DOTDOT, END }, 0, NONE, 0, "../fc1.weight: not a tensor" },
	{ "absolute member name", { MAN, ABS, END }, 0, NONE, 0, "not a tensor" },
	{ "symlink member", { MAN, SYM, END }, 0, NONE, 0, "not a regular file" },
	{ "hardlink member", { MAN, HARD, END }, 0, NONE, 0, "not a regular file" },
	{ "device member", { MAN, DEV, END }, 0, NONE, 0, "not a regular file" },
	{ "directory member", { MAN, DIR, END }, 0, NONE, 0, "not a regular file" },
	{ "GNU long-name member", { GMAN, GLONG, END }, 0, NONE, 0, "not a tensor" },
	{ "gzip-compressed tar", { MAN, W, B, END }, 1, NONE, 0, "" },
	{ "manifest not first", { W, MAN, B, END }, 0, NONE, 0, "first member must be" },
	{ "NaN in a tensor", { MAN, NANW, B, END }, 0, NONE, 0, "fc1.weight: NaN at element 2" },
	/* The checksum field is at byte 148 of a header; 10 is in the name. */
	{ "damaged checksum on the second member", { MAN, W, B, END }, 0, FLIP2, 10, "member 2" },
	/* The last member's data starts 512 + 1024 bytes before the end. */
	{ "truncated in the last tensor", { MAN, W, B, END }, 0, DROP, 1536 - 4,
	    "tensor fc1.bias: Truncated" },
	{ "truncated in a header", { MAN, W, B, END }, 0, KEEP, 700, "" },
	{ "empty input", { MAN, W, B, END }, 0, KEEP, 0, "" },
};

static void
test_hostile(void)
{
	static char tar[1 << 16];
	struct xf_ckpt c;
	size_t ml, n;
	char *man, longname[151];
	float nan_w[6] = { 1, 2, NAN, 4, 5, 6 };
	struct xf_err err = { 0 };

	small_ckpt(&c);
	man = manifest_of(&c, &ml);
	memset(longname, 'a', 150);
	longname[150] = 0;
	const struct member pool[N_MEMBERS] = {
		[MAN] = { XF_MANIFEST, man, ml, 0, 0, 0 },
		[W] = { "fc1.weight", w1, sizeof w1, 0, 0, 0 },
		[B] = { "fc1.bias", b1, sizeof b1, 0, 0, 0 },
		[W20] = { "fc1.weight", w1, 20, 0, 0, 0 },
		[W9] = { "fc9.weight", w1, sizeof w1, 0, 0, 0 },
		[DOTDOT] = { "../fc1.weight", w1, sizeof w1, 0, 0, 0 },
		[ABS] = { "/etc/passwd", w1, sizeof w1, 0, 0, 0 },
		[SYM] = { "fc1.weight", NULL, 0, AE_IFLNK, "/etc/passwd", 0 },
		[HARD] = { "fc1.weight", NULL, 0, AE_IFREG, XF_MANIFEST, 0 },
		[DEV] = { "fc1.weight", NULL, 0, AE_IFCHR, NULL, 0 },
		[DIR] = { "fc1.weight", NULL, 0, AE_IFDIR, NULL, 0 },
		[GMAN] = { XF_MANIFEST, man, ml, 0, 0, 1 },
		[GLONG] = { longname, w1, sizeof w1, 0, 0, 1 },
		[NANW] = { "fc1.weight", nan_w, sizeof nan_w, 0, 0, 0 },
	};
	struct member m[5];
	const struct member good[] = { pool[MAN], pool[W], pool[B] };

	n = build_tar(tar, sizeof tar, good, 3, 0);
	ok(read_mem(tar, n, &err) == 0, "a hand-built pax tar is accepted (%s)",
	    err.msg);
	for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
		const struct hostile *h = &hostile[i];
		int k;

		for (k = 0; h->m[k] != END; k++)
			m[k] = pool[h->m[k]];
		n = build_tar(tar, sizeof tar, m, k, h->gzip);
		switch (h->edit) {
		case NONE:
			break;
		case KEEP:
			n = h->arg;
			break;
		case DROP:
			n -= h->arg;
			break;
		case FLIP2:
			/* pax_restricted with short names is plain ustar:
			 * member 2's header follows member 1's data, rounded
			 * to 512. */
			tar[512 + (ml + 511) / 512 * 512 + h->arg] ^= 0x5a;
			break;
		}
		expect_bad(h->what, tar, n, h->want);
	}
	expect_bad("garbage", "hello world, not a tar at all", 29, "");

	/* Manifest lies. */
	static const struct { const char *name, *bytes; size_t len; const char *want; }
	    manifests[] = {
		{ "manifest not msgpack", "\xc1", 1, "not msgpack" },
		{ "manifest array32 bomb", "\xdd\xff\xff\xff\xff", 5, "items" },
		{ "manifest of version 7", "\x82\xa6" "format" "\xad" "xf-checkpoint"
		    "\xa7" "version" "\x07", 31, "version 7" },
		{ "manifest without format", "\x81\xa4" "arch" "\xa3" "mlp", 10,
		    "no format" },
	};
	for (size_t i = 0; i < sizeof manifests / sizeof manifests[0]; i++) {
		struct member mm[] = { { XF_MANIFEST, manifests[i].bytes,
		    manifests[i].len, 0, 0, 0 } };
		char what[80];

		n = build_tar(tar, sizeof tar, mm, 1, 0);
		snprintf(what, sizeof what, "%s", manifests[i].name);
		expect_bad(what, tar, n, manifests[i].want);
	}

	/* Shapes that overflow or lie about bytes: edit a real manifest. */
	{
		struct xf_ckpt big = { 0 };
		int64_t s[4] = { 1 << 20, 1 << 20, 1 << 20, 1 << 20 };

		strcpy(big.arch, "mlp");
		ok(xf_ckpt_add(&big, "w", 4, s, NULL, 0, &err) == NULL &&
		    strstr(err.msg, "over"), "absurd shape refused: \"%s\"", err.msg);
		int64_t neg[1] = { -4 };
		ok(xf_ckpt_add(&big, "w", 1, neg, NULL, 0, &err) == NULL,
		    "negative shape refused: \"%s\"", err.msg);
		ok(xf_ckpt_add(&big, "../w", 1, s, NULL, 0, &err) == NULL,
		    "bad tensor name refused: \"%s\"", err.msg);
		xf_ckpt_free(&big);
	}
	/* A manifest promising 1 GiB of tensors in a tiny file. */
	{
		msgpack_sbuffer sb;
		msgpack_packer pk;

		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 6);
		pack(&pk, "format"), pack(&pk, "xf-checkpoint");
		pack(&pk, "version"), msgpack_pack_int(&pk, 1);
		pack(&pk, "arch"), pack(&pk, "mlp");
		pack(&pk, "input");
		msgpack_pack_array(&pk, 3);
		msgpack_pack_int(&pk, 1), msgpack_pack_int(&pk, 28), msgpack_pack_int(&pk, 28);
		pack(&pk, "classes"), msgpack_pack_int(&pk, 10);
		pack(&pk, "tensors");
		msgpack_pack_array(&pk, 1);
		msgpack_pack_map(&pk, 4);
		pack(&pk, "name"), pack(&pk, "w");
		pack(&pk, "dtype"), pack(&pk, "float32");
		pack(&pk, "shape");
		msgpack_pack_array(&pk, 2);
		msgpack_pack_int(&pk, 16384), msgpack_pack_int(&pk, 16384);
		pack(&pk, "bytes"), msgpack_pack_uint64(&pk, 1ull << 30);
		struct member mm[] = { { XF_MANIFEST, sb.data, sb.size, 0, 0, 0 },
		    { "w", w1, 4, 0, 0, 0 } };
		n = build_tar(tar, sizeof tar, mm, 2, 0);
		expect_bad("manifest promising 1 GiB", tar, n, "more than the file holds");
		/* The same shape with a lying byte count. */
		msgpack_sbuffer_clear(&sb);
		msgpack_pack_map(&pk, 3);
		pack(&pk, "format"), pack(&pk, "xf-checkpoint");
		pack(&pk, "version"), msgpack_pack_int(&pk, 1);
		pack(&pk, "tensors");
		msgpack_pack_array(&pk, 1);
		msgpack_pack_map(&pk, 4);
		pack(&pk, "name"), pack(&pk, "w");
		pack(&pk, "dtype"), pack(&pk, "float32");
		pack(&pk, "shape");
		msgpack_pack_array(&pk, 1);
		msgpack_pack_int(&pk, 6);
		pack(&pk, "bytes"), msgpack_pack_uint64(&pk, 20);
		struct member m2[] = { { XF_MANIFEST, sb.data, sb.size, 0, 0, 0 } };
		n = build_tar(tar, sizeof tar, m2, 1, 0);
		expect_bad("manifest bytes disagree with shape", tar, n,
		    "manifest says 20 bytes");
		msgpack_sbuffer_destroy(&sb);
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	ok(ru.ru_maxrss < TAP_RSS_LIMIT_KIB, "peak RSS after hostile tars %ld KiB "
	    "< %d KiB", ru.ru_maxrss, TAP_RSS_LIMIT_KIB);
	free(man);
	xf_ckpt_free(&c);
}

int
main(void)
{
	test_round_trip();
	test_hostile();
	return tap_done();
}
