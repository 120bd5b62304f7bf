/*
 * fuzz_ckpt: the checkpoint reader on hostile bytes.
 *
 * Reads the input with xf_ckpt_read_mem; when it is accepted, walks every
 * tensor and metadata entry and checks what the reader promises (names,
 * shapes, counts, finite data).  An accepted checkpoint is then written with
 * xf_ckpt_write and read back with xf_ckpt_read, and must come back the same.
 *
 * An input that starts like a msgpack map rather than a tar header is taken
 * as a manifest and wrapped in a one-member tar first, so the manifest
 * parser is fuzzed directly as well as behind libarchive.
 *
 * Built three ways (see README.md): with libFuzzer, with AFL++ persistent
 * mode, or with replay.c as a plain program over files.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "xf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= XF_NAME_MAX || s[0] == '.' || strstr(s, "..") != NULL)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_.") == n;
}

static void
walk(const struct xf_ckpt *c)
{
	uint64_t total = 0;
	float sum = 0;

	if (strlen(c->arch) == 0 || strlen(c->arch) >= sizeof c->arch)
		abort();
	for (size_t i = 0; i < c->n_tensors; i++) {
		const struct xf_tensor *t = &c->tensors[i];
		uint64_t count = 1;

		if (!name_ok(t->name) || t->ndim < 1 || t->ndim > XF_MAX_DIMS ||
		    t->data == NULL || !t->owned || xf_ckpt_find(c, t->name) != t)
			abort();
		for (int d = 0; d < t->ndim; d++) {
			if (t->shape[d] < 1)
				abort();
			count *= (uint64_t)t->shape[d];
		}
		if (count != t->count)
			abort();
		total += count * 4;
		for (size_t j = 0; j < t->count; j++) {
			if (!isfinite(t->data[j]))
				abort();
			sum += t->data[j];
		}
	}
	if (total > XF_CKPT_MAX_BYTES)
		abort();
	for (size_t i = 0; i < c->n_meta; i++) {
		const struct xf_meta *m = &c->meta[i];

		if (strlen(m->key) >= XF_NAME_MAX || xf_ckpt_get(c, m->key) != m)
			abort();
		if (m->type == XF_STR && m->s != NULL)
			sum += strlen(m->s);
		else if (m->type != XF_INT && m->type != XF_FLOAT && m->type != XF_STR)
			abort();
	}
	/* Keep the loops. */
	__asm__ volatile("" : : "g"(&sum) : "memory");
}

static int
meta_same(const struct xf_meta *a, const struct xf_meta *b)
{
	if (b == NULL || a->type != b->type)
		return 0;
	if (a->type == XF_INT)
		return a->i == b->i;
	if (a->type == XF_FLOAT)
		return memcmp(&a->f, &b->f, sizeof a->f) == 0 ||
		    (isnan(a->f) && isnan(b->f));
	return strcmp(a->s ? a->s : "", b->s ? b->s : "") == 0;
}

static char dir[64];

static void
remove_dir(void)
{
	rmdir(dir);
}

/* Write c atomically into a scratch directory, read it back, compare. */
static void
round_trip(const struct xf_ckpt *c)
{
	char path[96];
	struct xf_ckpt d = { 0 };
	struct xf_err err;

	/* The reader accepts a manifest without input or classes, but the
	 * writer then writes zeros that the reader refuses. */
	if (c->input[0] < 1 || c->n_classes < 1)
		return;
	if (dir[0] == 0) {
		const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" :
		    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

		snprintf(dir, sizeof dir, "%s/fuzz_ckpt.XXXXXX", base);
		if (mkdtemp(dir) == NULL)
			abort();
		atexit(remove_dir);
	}
	snprintf(path, sizeof path, "%s/c.tar", dir);
	if (xf_ckpt_write(path, c, &err) < 0) {
		fprintf(stderr, "write: %s\n", err.msg);
		abort();
	}
	if (xf_ckpt_read(path, &d, &err) < 0) {
		fprintf(stderr, "read back: %s\n", err.msg);
		abort();
	}
	unlink(path);
	if (strcmp(c->arch, d.arch) || memcmp(c->input, d.input, sizeof c->input) ||
	    c->n_classes != d.n_classes || c->n_tensors != d.n_tensors ||
	    c->n_meta != d.n_meta)
		abort();
	for (size_t i = 0; i < c->n_tensors; i++) {
		const struct xf_tensor *a = &c->tensors[i], *b = &d.tensors[i];

		if (strcmp(a->name, b->name) || a->ndim != b->ndim ||
		    memcmp(a->shape, b->shape, a->ndim * sizeof a->shape[0]) ||
		    memcmp(a->data, b->data, a->count * 4))
			abort();
	}
	for (size_t i = 0; i < c->n_meta; i++)
		if (!meta_same(&c->meta[i], xf_ckpt_get(&d, c->meta[i].key)))
			abort();
	xf_ckpt_free(&d);
}

/* data as the manifest of a one-member tar; returns the tar's size. */
static size_t
wrap_manifest(const uint8_t *data, size_t size, uint8_t **out)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	size_t cap = size + 4096, used = 0;

	if (a == NULL || e == NULL || (*out = malloc(cap)) == NULL)
		abort();
	archive_write_set_format_ustar(a);
	archive_write_set_bytes_in_last_block(a, 1);
	archive_write_open_memory(a, *out, cap, &used);
	archive_entry_set_pathname(e, XF_MANIFEST);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)size);
	if (archive_write_header(a, e) != ARCHIVE_OK ||
	    archive_write_data(a, data, size) != (la_ssize_t)size ||
	    archive_write_close(a) != ARCHIVE_OK)
		abort();
	archive_entry_free(e);
	archive_write_free(a);
	return used;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xf_ckpt c = { 0 };
	struct xf_err err = { "" };
	uint8_t *wrapped = NULL;

	if (size > 0 && size <= (1 << 20) && ((data[0] & 0xf0) == 0x80 ||
	    data[0] == 0xde || data[0] == 0xdf)) {
		size = wrap_manifest(data, size, &wrapped);
		data = wrapped;
	}
	int r = xf_ckpt_read_mem(data, size, &c, &err);
	free(wrapped);
	if (r < 0) {
		/* A failed read frees everything and says why on one line. */
		if (c.n_tensors != 0 || c.tensors != NULL || c.meta != NULL ||
		    strchr(err.msg, '\n') != NULL)
			abort();
		return 0;
	}
	walk(&c);
	round_trip(&c);
	xf_ckpt_free(&c);
	return 0;
}

#ifdef XF_LIBFUZZER
/*
 * A byte flip in a tar header breaks its checksum and libarchive stops
 * there, so plain mutation rarely reaches the manifest and tensors.  After
 * libFuzzer's own mutation, this walks the members and rewrites each
 * header's checksum, but only on three inputs in four: bad checksums stay
 * covered too.
 */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
    unsigned int seed);

static void
fix_checksums(uint8_t *p, size_t size)
{
	size_t off = 0;

	while (off + 512 <= size) {
		uint8_t *h = p + off;
		unsigned sum = 0;
		char field[13];

		if (h[0] == 0)
			break;
		memcpy(field, h + 124, 12);
		field[12] = 0;
		unsigned long long len = strtoull(field, NULL, 8);
		memset(h + 148, ' ', 8);
		for (int i = 0; i < 512; i++)
			sum += h[i];
		snprintf((char *)h + 148, 8, "%06o", sum & 0777777);
		h[155] = ' ';
		if (len > size)
			break;
		off += 512 + (len + 511) / 512 * 512;
	}
}

size_t
LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
    unsigned int seed)
{
	size = LLVMFuzzerMutate(data, size, max_size);
	if (seed % 4 != 0)
		fix_checksums(data, size);
	return size;
}
#endif

#ifdef __AFL_HAVE_MANUAL_CONTROL
/* AFL++ persistent mode: afl-clang-fast -o fuzz_ckpt.afl ... (README). */
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
