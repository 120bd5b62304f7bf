#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>

#include "pack.h"
#include "xf.h"

/*
 * The writer packs into one growing buffer and hands it to write(2) in
 * large pieces.  The first failure (errno) sticks: nothing after it is
 * written and every later end or close reports it, so a tool never
 * reports success after a partial write.
 */
struct xf_writer {
	int fd;
	struct xf_out out;      /* xf_writer_open's file; out.own when open */
	int unbuffered;
	int werrno;
	char *buf;
	size_t len, cap;
	msgpack_packer pk;
	uint64_t records;
};

static int
buf_append(void *data, const char *p, size_t n)
{
	struct xf_writer *w = data;

	if (w->werrno)
		return -1;
	if (n == 0)     /* an empty str or bin: p may be NULL */
		return 0;
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 1 << 16;
		char *nb;

		while (cap < w->len + n)
			cap *= 2;
		if ((nb = realloc(w->buf, cap)) == NULL) {
			w->werrno = ENOMEM;
			return -1;
		}
		w->buf = nb;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
	return 0;
}

static int
flush(struct xf_writer *w)
{
	size_t off = 0;

	while (off < w->len && !w->werrno) {
		ssize_t n = write(w->fd, w->buf + off, w->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			w->werrno = n < 0 ? errno : EIO;
		else
			off += n;
	}
	w->len = 0;
	return w->werrno ? -1 : 0;
}

static int
report(struct xf_writer *w, struct xf_err *err)
{
	errno = w->werrno;
	return xf_errf(err, "write: %s", strerror(w->werrno));
}

struct xf_writer *
xf_writer_fdopen(int fd, struct xf_err *err)
{
	struct xf_writer *w = calloc(1, sizeof *w);

	if (w == NULL) {
		xf_errf(err, "out of memory");
		return NULL;
	}
	w->fd = fd;
	msgpack_packer_init(&w->pk, w, buf_append);
	return w;
}

/* Through xf_out: a temporary renamed over path by a clean close. */
struct xf_writer *
xf_writer_open(const char *path, struct xf_err *err)
{
	struct xf_writer *w;
	struct xf_out o;

	if (xf_out_open(&o, path, err) < 0)
		return NULL;
	if ((w = xf_writer_fdopen(o.fd, err)) == NULL)
		xf_out_abort(&o);
	else
		w->out = o;
	return w;
}

void
xf_writer_set_unbuffered(struct xf_writer *w, int on)
{
	w->unbuffered = on;
}

static void
key(struct xf_writer *w, const char *k)
{
	xf_pack_str(&w->pk, k);
}

int
xf_writer_header(struct xf_writer *w, const struct xf_header *h,
    struct xf_err *err)
{
	msgpack_packer *pk = &w->pk;
	size_t n = 7 + (h->ndim > 0) + (h->dtype[0] != 0) + (h->module[0] != 0);

	msgpack_pack_map(pk, n);
	key(w, "format");
	xf_pack_str(pk, "xf-stream");
	key(w, "version");
	msgpack_pack_int(pk, XF_STREAM_VERSION);
	key(w, "kind");
	xf_pack_str(pk, h->kind);
	if (h->dtype[0]) {
		key(w, "dtype");
		xf_pack_str(pk, h->dtype);
	}
	if (h->ndim > 0) {
		key(w, "shape");
		msgpack_pack_array(pk, h->ndim);
		for (int d = 0; d < h->ndim; d++)
			msgpack_pack_int64(pk, h->shape[d]);
	}
	if (h->module[0]) {
		key(w, "module");
		xf_pack_str(pk, h->module);
	}
	key(w, "classes");
	msgpack_pack_int64(pk, h->n_classes);
	key(w, "count");
	if (h->count >= 0)
		msgpack_pack_int64(pk, h->count);
	else
		msgpack_pack_nil(pk);
	key(w, "endian");
	xf_pack_str(pk, "little");
	key(w, "provenance");
	msgpack_pack_array(pk, h->n_prov);
	for (int i = 0; i < h->n_prov; i++)
		xf_pack_str(pk, h->prov[i]);
	/* The header goes out at once so a reader down the pipe can start. */
	if (flush(w) < 0)
		return report(w, err);
	return 0;
}

void
xf_writer_begin(struct xf_writer *w, size_t n_fields)
{
	msgpack_pack_map(&w->pk, n_fields);
}

void
xf_writer_int(struct xf_writer *w, const char *k, int64_t v)
{
	key(w, k);
	msgpack_pack_int64(&w->pk, v);
}

void
xf_writer_float(struct xf_writer *w, const char *k, double v)
{
	key(w, k);
	msgpack_pack_double(&w->pk, v);
}

void
xf_writer_bool(struct xf_writer *w, const char *k, int v)
{
	key(w, k);
	if (v)
		msgpack_pack_true(&w->pk);
	else
		msgpack_pack_false(&w->pk);
}

void
xf_writer_float32(struct xf_writer *w, const char *k, float v)
{
	key(w, k);
	msgpack_pack_float(&w->pk, v);
}

void
xf_writer_nil(struct xf_writer *w, const char *k)
{
	key(w, k);
	msgpack_pack_nil(&w->pk);
}

void
xf_writer_str(struct xf_writer *w, const char *k, const char *v)
{
	key(w, k);
	xf_pack_str(&w->pk, v);
}

void
xf_writer_bin(struct xf_writer *w, const char *k, const void *p, size_t n)
{
	key(w, k);
	msgpack_pack_bin(&w->pk, n);
	msgpack_pack_bin_body(&w->pk, p, n);
}

void
xf_writer_value(struct xf_writer *w, const char *k, const struct xf_value *v)
{
	key(w, k);
	msgpack_pack_object(&w->pk, *(const msgpack_object *)v->obj);
}

int
xf_writer_end(struct xf_writer *w, struct xf_err *err)
{
	w->records++;
	if ((w->unbuffered || w->len >= (1 << 20)) && flush(w) < 0)
		return report(w, err);
	if (w->werrno)
		return report(w, err);
	return 0;
}

int
xf_writer_close(struct xf_writer *w, struct xf_err *err)
{
	int r = 0;

	if (w == NULL)
		return 0;
	if (flush(w) < 0)
		r = report(w, err);
	if (r < 0)
		xf_out_abort(&w->out);
	else if ((w->out.own || w->out.tmp) && xf_out_commit(&w->out, err) < 0)
		r = -1;
	free(w->buf);
	free(w);
	return r;
}
