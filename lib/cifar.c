#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "data.h"

/*
 * CIFAR-10 and CIFAR-100 binary batches (see data.h).  Opening reads each
 * file once, in order: its sha256 and the label bytes of every record;
 * records are then read with pread, one at a time.
 */

#define PIXELS 3072
#define MAX_FILES 5

struct cifar {
	int n_files;
	int fd[MAX_FILES];
	char *path[MAX_FILES];
	size_t first[MAX_FILES + 1];  /* index of each file's first record */
	size_t rec;                   /* bytes per record: 1 or 2 + 3072 */
};

static int
cifar_read(struct xf_source *s, size_t idx, void *x, struct xf_err *err)
{
	struct cifar *c = s->impl;
	int k = 0;
	off_t at;
	ssize_t r;

	while (idx >= c->first[k + 1])
		k++;
	at = (off_t)((idx - c->first[k]) * c->rec + (c->rec - PIXELS));
	r = pread(c->fd[k], x, PIXELS, at);
	if (r != PIXELS)
		return xf_errf(err, "%s: record %zu: %s", c->path[k],
		    idx - c->first[k], r < 0 ? strerror(errno) : "truncated");
	return 0;
}

static void
cifar_close(struct xf_source *s)
{
	struct cifar *c = s->impl;

	for (int k = 0; k < c->n_files; k++) {
		close(c->fd[k]);
		free(c->path[k]);
	}
	free(c);
}

static int
exists(const char *dir, const char *name)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

/* One file: checks its size, hashes it, and appends its labels to s->y. */
static int
scan(struct xf_source *s, struct cifar *c, int k, int label_at,
    struct xf_err *err)
{
	static unsigned char buf[64 * 3074];
	GChecksum *sum;
	struct stat st;
	size_t n, got = 0, at = c->first[k];
	uint8_t *y;
	int fd = c->fd[k];

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return xf_errf(err, "%s: not a regular file", c->path[k]);
	if (st.st_size == 0 || (size_t)st.st_size % c->rec != 0)
		return xf_errf(err, "%s: %lld bytes, not a whole number of "
		    "%zu-byte records", c->path[k], (long long)st.st_size, c->rec);
	n = (size_t)st.st_size / c->rec;
	if ((y = realloc(s->y, at + n)) == NULL)
		return xf_errf(err, "out of memory");
	s->y = y;
	sum = g_checksum_new(G_CHECKSUM_SHA256);
	while (got < n) {
		size_t want = n - got < 64 ? n - got : 64, len = want * c->rec;
		ssize_t r = pread(fd, buf, len, (off_t)(got * c->rec));

		if (r != (ssize_t)len) {
			g_checksum_free(sum);
			return xf_errf(err, "%s: %s", c->path[k], r < 0 ?
			    strerror(errno) : "changed while read");
		}
		g_checksum_update(sum, buf, len);
		for (size_t j = 0; j < want; j++) {
			int v = buf[j * c->rec + label_at];

			if (v >= s->n_classes) {
				g_checksum_free(sum);
				return xf_errf(err, "%s: record %zu: label %d, want "
				    "0..%lld", c->path[k], got + j, v,
				    (long long)s->n_classes - 1);
			}
			s->y[at + got + j] = (uint8_t)v;
		}
		got += want;
	}
	c->first[k + 1] = at + n;
	xf_source_prov(s, "# cifar %s sha256 %s", c->path[k],
	    g_checksum_get_string(sum));
	g_checksum_free(sum);
	return 0;
}

/*
 * The class names the distribution has beside the batches (batches.meta.txt,
 * coarse_label_names.txt, fine_label_names.txt: one a line), into the
 * provenance when the file is there and has one per class.
 */
static void
class_names(struct xf_source *s, const char *dir, const char *name)
{
	char path[4096], line[256], *names[100];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\r\n")] = 0;
		if (line[0] == 0)
			continue;
		if (n == (size_t)s->n_classes || (names[n] = strdup(line)) == NULL)
			break;
		n++;
	}
	if (feof(f) && n == (size_t)s->n_classes)
		xf_source_prov_classes(s, (const char *const *)names, n);
	fclose(f);
	for (size_t k = 0; k < n; k++)
		free(names[k]);
}

int
xf_cifar_open(struct xf_source *s, const char *dir, int test, int fine,
    struct xf_err *err)
{
	static const char *ten_train[] = { "data_batch_1.bin", "data_batch_2.bin",
	    "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin" };
	static const char *ten_test[] = { "test_batch.bin" };
	static const char *hundred_train[] = { "train.bin" };
	static const char *hundred_test[] = { "test.bin" };
	const char **names;
	struct cifar *c = calloc(1, sizeof *c);
	int hundred, label_at;

	memset(s, 0, sizeof *s);
	if (c == NULL)
		return xf_errf(err, "out of memory");
	s->impl = c;
	s->close = cifar_close;
	s->read = cifar_read;
	if (exists(dir, "data_batch_1.bin") || exists(dir, "test_batch.bin"))
		hundred = 0;
	else if (exists(dir, "train.bin") || exists(dir, "test.bin"))
		hundred = 1;
	else {
		xf_errf(err, "%s: no CIFAR-10 (data_batch_1.bin, test_batch.bin) "
		    "or CIFAR-100 (train.bin, test.bin) files", dir);
		goto fail;
	}
	if (hundred) {
		names = test ? hundred_test : hundred_train;
		c->n_files = 1;
		c->rec = 2 + PIXELS;
		s->n_classes = fine ? 100 : 20;
		label_at = fine ? 1 : 0;
	} else {
		names = test ? ten_test : ten_train;
		c->n_files = test ? 1 : 5;
		c->rec = 1 + PIXELS;
		s->n_classes = 10;
		label_at = 0;
	}
	for (int k = 0; k < c->n_files; k++)
		c->fd[k] = -1;
	for (int k = 0; k < c->n_files; k++) {
		if (asprintf(&c->path[k], "%s/%s", dir, names[k]) < 0) {
			c->path[k] = NULL;
			c->n_files = k;
			xf_errf(err, "out of memory");
			goto fail;
		}
		if ((c->fd[k] = open(c->path[k], O_RDONLY | O_CLOEXEC)) < 0) {
			xf_errf(err, "%s: %s", c->path[k], strerror(errno));
			free(c->path[k]);
			c->n_files = k;
			goto fail;
		}
		xf_input_note(c->fd[k]);
		if (scan(s, c, k, label_at, err) < 0) {
			c->n_files = k + 1;
			goto fail;
		}
	}
	strcpy(s->kind, "images");
	s->ndim = 3;
	s->shape[0] = 3, s->shape[1] = 32, s->shape[2] = 32;
	s->xsize = PIXELS;
	s->n = c->first[c->n_files];
	if (hundred)
		xf_source_prov(s, "# cifar-100, %s labels", fine ? "fine" :
		    "coarse");
	class_names(s, dir, !hundred ? "batches.meta.txt" : fine ?
	    "fine_label_names.txt" : "coarse_label_names.txt");
	return 0;
fail:
	xf_source_free(s);
	return -1;
}
