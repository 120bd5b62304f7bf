#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <msgpack.h>

#include "pack.h"
#include "xf.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoints hold little-endian float32; add byte swapping first"
#endif

#define MANIFEST_MAX  (1u << 20)

static int
name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= XF_NAME_MAX || s[0] == '.' || strstr(s, "..") != NULL)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(s[i] == '_' || s[i] == '.' || (s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
			return 0;
	return 1;
}

void
xf_ckpt_free(struct xf_ckpt *c)
{
	for (size_t i = 0; i < c->n_tensors; i++)
		if (c->tensors[i].owned)
			free(c->tensors[i].data);
	for (size_t i = 0; i < c->n_meta; i++)
		free(c->meta[i].s);
	free(c->tensors);
	free(c->meta);
	memset(c, 0, sizeof *c);
}

struct xf_tensor *
xf_ckpt_find(const struct xf_ckpt *c, const char *name)
{
	for (size_t i = 0; i < c->n_tensors; i++)
		if (strcmp(c->tensors[i].name, name) == 0)
			return &c->tensors[i];
	return NULL;
}

struct xf_tensor *
xf_ckpt_add(struct xf_ckpt *c, const char *name, int ndim,
    const int64_t *shape, float *data, int copy, struct xf_err *err)
{
	struct xf_tensor *t, *nt;
	uint64_t count = 1;

	if (!name_ok(name)) {
		xf_errf(err, "tensor name \"%.80s\": want 1-63 of [A-Za-z0-9_.], "
		    "no leading dot, no \"..\"", name);
		return NULL;
	}
	if (xf_ckpt_find(c, name) != NULL) {
		xf_errf(err, "tensor %s: duplicate", name);
		return NULL;
	}
	if (ndim < 1 || ndim > XF_MAX_DIMS) {
		xf_errf(err, "tensor %s: %d dimensions, want 1 to %d", name, ndim,
		    XF_MAX_DIMS);
		return NULL;
	}
	for (int d = 0; d < ndim; d++) {
		if (shape[d] < 1 || (uint64_t)shape[d] > XF_CKPT_MAX_BYTES / 4 / count) {
			xf_errf(err, "tensor %s: dimension %d is %lld: shape empty "
			    "or over %llu bytes", name, d, (long long)shape[d],
			    (unsigned long long)XF_CKPT_MAX_BYTES);
			return NULL;
		}
		count *= (uint64_t)shape[d];
	}
	nt = realloc(c->tensors, (c->n_tensors + 1) * sizeof *nt);
	if (nt == NULL) {
		xf_errf(err, "out of memory");
		return NULL;
	}
	c->tensors = nt;
	t = &nt[c->n_tensors];
	memset(t, 0, sizeof *t);
	strcpy(t->name, name);
	t->ndim = ndim;
	memcpy(t->shape, shape, ndim * sizeof *shape);
	t->count = count;
	t->data = data;
	if (copy) {
		if ((t->data = malloc(count * sizeof(float))) == NULL) {
			xf_errf(err, "tensor %s: out of memory", name);
			return NULL;
		}
		if (data != NULL)
			memcpy(t->data, data, count * sizeof(float));
		t->owned = 1;
	}
	c->n_tensors++;
	return t;
}

static struct xf_meta *
meta_slot(struct xf_ckpt *c, const char *key)
{
	struct xf_meta *m;

	for (size_t i = 0; i < c->n_meta; i++)
		if (strcmp(c->meta[i].key, key) == 0) {
			free(c->meta[i].s);
			c->meta[i].s = NULL;
			return &c->meta[i];
		}
	if (strlen(key) >= XF_NAME_MAX ||
	    (m = realloc(c->meta, (c->n_meta + 1) * sizeof *m)) == NULL)
		return NULL;
	c->meta = m;
	m = &m[c->n_meta++];
	memset(m, 0, sizeof *m);
	strcpy(m->key, key);
	return m;
}

void
xf_ckpt_set_int(struct xf_ckpt *c, const char *key, int64_t v)
{
	struct xf_meta *m = meta_slot(c, key);

	if (m != NULL) {
		m->type = XF_INT;
		m->i = v;
		m->f = (double)v;
	}
}

void
xf_ckpt_set_float(struct xf_ckpt *c, const char *key, double v)
{
	struct xf_meta *m = meta_slot(c, key);

	if (m != NULL) {
		m->type = XF_FLOAT;
		m->f = v;
	}
}

void
xf_ckpt_set_str(struct xf_ckpt *c, const char *key, const char *v)
{
	struct xf_meta *m = meta_slot(c, key);

	if (m != NULL) {
		m->type = XF_STR;
		m->s = strdup(v);
	}
}

const struct xf_meta *
xf_ckpt_get(const struct xf_ckpt *c, const char *key)
{
	for (size_t i = 0; i < c->n_meta; i++)
		if (strcmp(c->meta[i].key, key) == 0)
			return &c->meta[i];
	return NULL;
}

void
xf_shape_str(char *buf, size_t size, int ndim, const int64_t *shape)
{
	size_t off = 0;

	buf[0] = 0;
	for (int d = 0; d < ndim && off < size; d++)
		off += snprintf(buf + off, size - off, d ? "x%lld" : "%lld",
		    (long long)shape[d]);
}

/* ---- manifest ---- */

static void
manifest_pack(const struct xf_ckpt *c, msgpack_sbuffer *sb)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 7);
	xf_pack_str(&pk, "format");
	xf_pack_str(&pk, "xf-checkpoint");
	xf_pack_str(&pk, "version");
	msgpack_pack_int(&pk, XF_CKPT_VERSION);
	xf_pack_str(&pk, "arch");
	xf_pack_str(&pk, c->arch);
	xf_pack_str(&pk, "input");
	msgpack_pack_array(&pk, 3);
	for (int d = 0; d < 3; d++)
		msgpack_pack_int64(&pk, c->input[d]);
	xf_pack_str(&pk, "classes");
	msgpack_pack_int64(&pk, c->n_classes);
	xf_pack_str(&pk, "tensors");
	msgpack_pack_array(&pk, c->n_tensors);
	for (size_t i = 0; i < c->n_tensors; i++) {
		const struct xf_tensor *t = &c->tensors[i];

		msgpack_pack_map(&pk, 4);
		xf_pack_str(&pk, "name");
		xf_pack_str(&pk, t->name);
		xf_pack_str(&pk, "dtype");
		xf_pack_str(&pk, "float32");
		xf_pack_str(&pk, "shape");
		msgpack_pack_array(&pk, t->ndim);
		for (int d = 0; d < t->ndim; d++)
			msgpack_pack_int64(&pk, t->shape[d]);
		xf_pack_str(&pk, "bytes");
		msgpack_pack_uint64(&pk, t->count * 4);
	}
	xf_pack_str(&pk, "meta");
	msgpack_pack_map(&pk, c->n_meta);
	for (size_t i = 0; i < c->n_meta; i++) {
		const struct xf_meta *m = &c->meta[i];

		xf_pack_str(&pk, m->key);
		if (m->type == XF_INT)
			msgpack_pack_int64(&pk, m->i);
		else if (m->type == XF_FLOAT)
			msgpack_pack_double(&pk, m->f);
		else
			xf_pack_str(&pk, m->s ? m->s : "");
	}
}

static int
key_is(const msgpack_object *k, const char *s)
{
	size_t n = strlen(s);

	return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
	    memcmp(k->via.str.ptr, s, n) == 0;
}

static int
obj_str(const msgpack_object *o, char *dst, size_t size)
{
	/* msgpack-c gives an empty string a NULL pointer. */
	if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= size ||
	    (o->via.str.size > 0 &&
	    memchr(o->via.str.ptr, 0, o->via.str.size) != NULL))
		return -1;
	if (o->via.str.size > 0)
		memcpy(dst, o->via.str.ptr, o->via.str.size);
	dst[o->via.str.size] = 0;
	return 0;
}

static int
obj_int(const msgpack_object *o, int64_t lo, int64_t hi, int64_t *v)
{
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
		*v = (int64_t)o->via.u64;
	else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		*v = o->via.i64;
	else
		return -1;
	return *v < lo || *v > hi ? -1 : 0;
}

static int
manifest_tensor(struct xf_ckpt *c, const msgpack_object *o, size_t i,
    struct xf_err *err)
{
	char name[XF_NAME_MAX] = "", dtype[16] = "";
	int64_t shape[XF_MAX_DIMS], bytes = -1;
	int ndim = -1;
	struct xf_err e;

	if (o->type != MSGPACK_OBJECT_MAP)
		return xf_errf(err, "manifest: tensors[%zu] is not a map", i);
	for (uint32_t j = 0; j < o->via.map.size; j++) {
		const msgpack_object *k = &o->via.map.ptr[j].key;
		const msgpack_object *v = &o->via.map.ptr[j].val;

		if (key_is(k, "name") && obj_str(v, name, sizeof name) < 0)
			return xf_errf(err, "manifest: tensors[%zu]: name is not a "
			    "string of 1-63 bytes", i);
		if (key_is(k, "dtype") && obj_str(v, dtype, sizeof dtype) < 0)
			return xf_errf(err, "manifest: tensors[%zu]: bad dtype", i);
		if (key_is(k, "bytes") && obj_int(v, 0, INT64_MAX, &bytes) < 0)
			return xf_errf(err, "manifest: tensors[%zu]: bytes is not a "
			    "non-negative integer", i);
		if (key_is(k, "shape")) {
			if (v->type != MSGPACK_OBJECT_ARRAY ||
			    v->via.array.size > XF_MAX_DIMS)
				return xf_errf(err, "manifest: tensors[%zu]: shape is "
				    "not an array of at most %d", i, XF_MAX_DIMS);
			ndim = (int)v->via.array.size;
			for (int d = 0; d < ndim; d++)
				if (obj_int(&v->via.array.ptr[d], INT64_MIN, INT64_MAX,
				    &shape[d]) < 0)
					return xf_errf(err, "manifest: tensors[%zu]: "
					    "shape[%d] is not an integer", i, d);
		}
	}
	if (name[0] == 0)
		return xf_errf(err, "manifest: tensors[%zu]: no name", i);
	if (strcmp(dtype, "float32") != 0)
		return xf_errf(err, "tensor %s: dtype \"%s\", want float32", name,
		    dtype);
	struct xf_tensor *t = xf_ckpt_add(c, name, ndim, shape, NULL, 0, &e);
	if (t == NULL)
		return xf_errf(err, "manifest: %s", e.msg);
	if (bytes != (int64_t)(t->count * 4))
		return xf_errf(err, "tensor %s: manifest says %lld bytes, its shape "
		    "wants %zu", name, (long long)bytes, t->count * 4);
	return 0;
}

static int
manifest_meta(struct xf_ckpt *c, const msgpack_object *o, struct xf_err *err)
{
	if (o->type != MSGPACK_OBJECT_MAP)
		return xf_errf(err, "manifest: meta is not a map");
	for (uint32_t j = 0; j < o->via.map.size; j++) {
		const msgpack_object *k = &o->via.map.ptr[j].key;
		const msgpack_object *v = &o->via.map.ptr[j].val;
		char key[XF_NAME_MAX], s[4096];
		int64_t iv;

		if (obj_str(k, key, sizeof key) < 0)
			return xf_errf(err, "manifest: meta key %u is not a string "
			    "of 1-63 bytes", j);
		if (obj_int(v, INT64_MIN, INT64_MAX, &iv) == 0)
			xf_ckpt_set_int(c, key, iv);
		else if (v->type == MSGPACK_OBJECT_FLOAT64 ||
		    v->type == MSGPACK_OBJECT_FLOAT32)
			xf_ckpt_set_float(c, key, v->via.f64);
		else if (obj_str(v, s, sizeof s) == 0)
			xf_ckpt_set_str(c, key, s);
		else
			return xf_errf(err, "manifest: meta %s: want an integer, a "
			    "float or a string under 4096 bytes", key);
	}
	return 0;
}

static int
manifest_parse(struct xf_ckpt *c, const char *buf, size_t len,
    struct xf_err *err)
{
	struct xf_limits lim = xf_default_limits;
	msgpack_unpacked up;
	size_t off = 0;
	ptrdiff_t size;
	int64_t version = -1, v = 0;
	int r = 0, seen_format = 0, seen_tensors = 0;
	struct xf_err e;

	lim.max_record = MANIFEST_MAX;
	lim.max_items = 1 << 16;
	size = xf_msgpack_check(buf, len, &lim, &e);
	if (size < 0)
		return xf_errf(err, "manifest: %s", e.msg);
	if (size == 0)
		return xf_errf(err, "manifest: truncated");
	if ((size_t)size != len)
		return xf_errf(err, "manifest: %zu bytes after its map",
		    len - (size_t)size);
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, buf, len, &off) != MSGPACK_UNPACK_SUCCESS) {
		msgpack_unpacked_destroy(&up);
		return xf_errf(err, "manifest: malformed msgpack");
	}
	const msgpack_object *m = &up.data;
	if (xf_msgpack_keys(m, &e) < 0) {
		r = xf_errf(err, "manifest: %s", e.msg);
		goto out;
	}
	if (m->type != MSGPACK_OBJECT_MAP) {
		r = xf_errf(err, "manifest: not a map");
		goto out;
	}
	/* Version first, so an unknown version is named as such. */
	for (uint32_t j = 0; j < m->via.map.size; j++) {
		const msgpack_object *k = &m->via.map.ptr[j].key;
		const msgpack_object *val = &m->via.map.ptr[j].val;

		if (key_is(k, "format")) {
			char f[32];

			if (obj_str(val, f, sizeof f) < 0 ||
			    strcmp(f, "xf-checkpoint") != 0) {
				r = xf_errf(err, "manifest: format is not "
				    "\"xf-checkpoint\"");
				goto out;
			}
			seen_format = 1;
		}
		if (key_is(k, "version") && obj_int(val, 0, INT32_MAX, &version) < 0)
			version = -2;
	}
	if (!seen_format) {
		r = xf_errf(err, "manifest: no format \"xf-checkpoint\"");
		goto out;
	}
	if (version != XF_CKPT_VERSION) {
		r = xf_errf(err, "manifest: version %lld, this xf reads version %d",
		    (long long)version, XF_CKPT_VERSION);
		goto out;
	}
	for (uint32_t j = 0; j < m->via.map.size && r == 0; j++) {
		const msgpack_object *k = &m->via.map.ptr[j].key;
		const msgpack_object *val = &m->via.map.ptr[j].val;

		if (key_is(k, "arch") && obj_str(val, c->arch, sizeof c->arch) < 0)
			r = xf_errf(err, "manifest: arch is not a string under "
			    "256 bytes");
		else if (key_is(k, "classes")) {
			if (obj_int(val, 1, 1 << 24, &c->n_classes) < 0)
				r = xf_errf(err, "manifest: classes is not in "
				    "1..16777216");
		} else if (key_is(k, "input")) {
			if (val->type != MSGPACK_OBJECT_ARRAY ||
			    val->via.array.size != 3) {
				r = xf_errf(err, "manifest: input is not [C, H, W]");
				break;
			}
			for (int d = 0; d < 3 && r == 0; d++) {
				if (obj_int(&val->via.array.ptr[d], 1, 1 << 16, &v) < 0)
					r = xf_errf(err, "manifest: input[%d] is not "
					    "in 1..65536", d);
				c->input[d] = v;
			}
		} else if (key_is(k, "tensors")) {
			seen_tensors = 1;
			if (val->type != MSGPACK_OBJECT_ARRAY) {
				r = xf_errf(err, "manifest: tensors is not an array");
				break;
			}
			for (uint32_t i = 0; i < val->via.array.size && r == 0; i++)
				r = manifest_tensor(c, &val->via.array.ptr[i], i, err);
		} else if (key_is(k, "meta"))
			r = manifest_meta(c, val, err);
	}
	if (r == 0 && !seen_tensors)
		r = xf_errf(err, "manifest: no tensors");
	if (r == 0 && c->arch[0] == 0)
		r = xf_errf(err, "manifest: no arch");
	if (r == 0 && c->input[0] == 0)
		r = xf_errf(err, "manifest: no input");
	if (r == 0 && c->n_classes == 0)
		r = xf_errf(err, "manifest: no classes");
out:
	msgpack_unpacked_destroy(&up);
	return r;
}

int
xf_ckpt_manifest(const void *buf, size_t len, struct xf_ckpt *c,
    struct xf_err *err)
{
	if (len > MANIFEST_MAX)
		return xf_errf(err, "manifest: %zu bytes, over the limit of %u",
		    len, MANIFEST_MAX);
	if (manifest_parse(c, buf, len, err) < 0) {
		xf_ckpt_free(c);
		return -1;
	}
	return 0;
}

/* ---- reading ---- */

/*
 * Reads the current member's data, exactly want bytes, into a buffer grown
 * as bytes arrive: a header that lies about its size costs no more memory
 * than the bytes actually sent.
 */
static int
member_read(struct archive *a, const char *what, size_t want, char **out,
    struct xf_err *err)
{
	size_t have = 0, cap = 0;
	char *buf = NULL, probe;
	la_ssize_t n;

	while (have < want) {
		if (have == cap) {
			size_t ncap = cap ? cap * 2 : 1 << 20;
			char *nb;

			if (ncap > want)
				ncap = want;
			if ((nb = realloc(buf, ncap)) == NULL) {
				free(buf);
				return xf_errf(err, "%s: out of memory", what);
			}
			buf = nb;
			cap = ncap;
		}
		n = archive_read_data(a, buf + have, cap - have);
		if (n < 0) {
			free(buf);
			return xf_errf(err, "%s: %s", what, archive_error_string(a));
		}
		if (n == 0) {
			free(buf);
			return xf_errf(err, "%s: truncated: %zu of %zu bytes", what,
			    have, want);
		}
		have += n;
	}
	if (archive_read_data(a, &probe, 1) != 0) {
		free(buf);
		return xf_errf(err, "%s: more data than its header says", what);
	}
	*out = buf;
	return 0;
}

static int
check_finite(const struct xf_tensor *t, struct xf_err *err)
{
	for (size_t i = 0; i < t->count; i++)
		if (!isfinite(t->data[i]))
			return xf_errf(err, "tensor %s: %s at element %zu", t->name,
			    isnan(t->data[i]) ? "NaN" : "Inf", i);
	return 0;
}

static int
read_archive(struct archive *a, struct xf_ckpt *c, uint64_t input_size,
    struct xf_err *err)
{
	struct archive_entry *e;
	char *seen = NULL, member[80];
	size_t n_members = 0;
	uint64_t total = 0;
	int r, ret = -1;

	for (;;) {
		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		/* WARN and RETRY (a bad checksum) are failures here too. */
		if (r != ARCHIVE_OK) {
			const char *why = archive_error_string(a);

			xf_errf(err, "member %zu: %s", n_members + 1,
			    why ? why : "not a tar member");
			goto out;
		}
		const char *path = archive_entry_pathname(e);
		snprintf(member, sizeof member, "%.64s%s", path ? path : "",
		    path && strlen(path) > 64 ? "..." : "");
		if (archive_entry_filetype(e) != AE_IFREG ||
		    archive_entry_hardlink(e) != NULL ||
		    archive_entry_symlink(e) != NULL) {
			xf_errf(err, "member %s: not a regular file", member);
			goto out;
		}
		if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0) {
			xf_errf(err, "member %s: no size", member);
			goto out;
		}
		uint64_t size = (uint64_t)archive_entry_size(e);
		if (n_members == 0) {
			char *buf;

			if (path == NULL || strcmp(path, XF_MANIFEST) != 0) {
				xf_errf(err, "member %s: the first member must be "
				    XF_MANIFEST, member);
				goto out;
			}
			if (size > MANIFEST_MAX) {
				xf_errf(err, "member " XF_MANIFEST ": %llu bytes, over "
				    "the limit of %u", (unsigned long long)size,
				    MANIFEST_MAX);
				goto out;
			}
			if (member_read(a, "member " XF_MANIFEST, size, &buf, err) < 0)
				goto out;
			r = manifest_parse(c, buf, size, err);
			free(buf);
			if (r < 0)
				goto out;
			for (size_t i = 0; i < c->n_tensors; i++)
				total += c->tensors[i].count * 4;
			if (total > XF_CKPT_MAX_BYTES || (input_size && total > input_size)) {
				xf_errf(err, "manifest: %llu bytes of tensors, more than "
				    "the file holds", (unsigned long long)total);
				goto out;
			}
			if ((seen = calloc(c->n_tensors + 1, 1)) == NULL) {
				xf_errf(err, "out of memory");
				goto out;
			}
			n_members++;
			continue;
		}
		struct xf_tensor *t = path ? xf_ckpt_find(c, path) : NULL;
		if (t == NULL) {
			xf_errf(err, "member %s: not a tensor of the manifest", member);
			goto out;
		}
		size_t ti = t - c->tensors;
		if (seen[ti]) {
			xf_errf(err, "tensor %s: duplicate member", t->name);
			goto out;
		}
		if (size != t->count * 4) {
			xf_errf(err, "tensor %s: member has %llu bytes, the manifest's "
			    "shape wants %zu", t->name, (unsigned long long)size,
			    t->count * 4);
			goto out;
		}
		snprintf(member, sizeof member, "tensor %s", t->name);
		if (member_read(a, member, size, (char **)&t->data, err) < 0)
			goto out;
		t->owned = 1;
		seen[ti] = 1;
		if (check_finite(t, err) < 0)
			goto out;
		n_members++;
	}
	if (n_members == 0) {
		xf_errf(err, "empty archive: no " XF_MANIFEST);
		goto out;
	}
	for (size_t i = 0; i < c->n_tensors; i++)
		if (!seen[i]) {
			xf_errf(err, "tensor %s: in the manifest but not in the tar",
			    c->tensors[i].name);
			goto out;
		}
	ret = 0;
out:
	free(seen);
	return ret;
}

static struct archive *
reader_new(void)
{
	struct archive *a = archive_read_new();

	/* Tar only, no filters: a compressed tar is refused, not unpacked. */
	if (a != NULL)
		archive_read_support_format_tar(a);
	return a;
}

static int
read_finish(struct archive *a, int r, struct xf_ckpt *c)
{
	archive_read_free(a);
	if (r < 0)
		xf_ckpt_free(c);
	return r;
}

/*
 * The buffer as one block, with no seek callback: libarchive's own memory
 * reader seeks, and libarchive 3.6.2-1+deb12u5 read a checkpoint's first
 * member short through it (the manifest came out truncated) where the same
 * bytes read from a file were whole.
 */
struct mem_src {
	const void	*buf;
	size_t		 len;
	int		 done;
};

static la_ssize_t
mem_read(struct archive *a, void *p, const void **out)
{
	struct mem_src *m = p;

	(void)a;
	if (m->done)
		return 0;
	m->done = 1;
	*out = m->buf;
	return (la_ssize_t)m->len;
}

int
xf_ckpt_read_mem(const void *buf, size_t len, struct xf_ckpt *c,
    struct xf_err *err)
{
	struct archive *a = reader_new();
	struct mem_src src = { buf, len, 0 };
	int r;

	if (a == NULL)
		return xf_errf(err, "out of memory");
	if (archive_read_open(a, &src, NULL, mem_read, NULL) != ARCHIVE_OK)
		r = xf_errf(err, "%s", archive_error_string(a));
	else
		r = read_archive(a, c, len, err);
	return read_finish(a, r, c);
}

int
xf_ckpt_read(const char *path, struct xf_ckpt *c, struct xf_err *err)
{
	struct archive *a;
	struct stat st;
	int fd = 0, r;
	uint64_t size = 0;

	if (path != NULL && strcmp(path, "-") != 0 &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return xf_errf(err, "%s", strerror(errno));
	xf_input_note(fd);
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		size = (uint64_t)st.st_size;
	if ((a = reader_new()) == NULL) {
		r = xf_errf(err, "out of memory");
	} else if (archive_read_open_fd(a, fd, 64 << 10) != ARCHIVE_OK) {
		r = xf_errf(err, "%s", archive_error_string(a));
		r = read_finish(a, r, c);
	} else {
		r = read_finish(a, read_archive(a, c, size, err), c);
	}
	if (fd != 0)
		close(fd);
	return r;
}

/* ---- writing ---- */

/* A failed write's reason: the system's words (ENOSPC, EFBIG, EPIPE, which
 * the tools test errno for) when libarchive has an errno, else its own. */
static const char *
write_error(struct archive *a)
{
	if (archive_errno(a) > 0) {
		errno = archive_errno(a);
		return strerror(errno);
	}
	return archive_error_string(a);
}

static int
add_member(struct archive *a, const char *name, const void *p, size_t n,
    struct xf_err *err)
{
	struct archive_entry *e = archive_entry_new();
	int r = 0;

	if (e == NULL)
		return xf_errf(err, "out of memory");
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)n);
	/* mtime 0 and no owner names: the same tensors give the same bytes. */
	archive_entry_set_mtime(e, 0, 0);
	if (archive_write_header(a, e) != ARCHIVE_OK ||
	    archive_write_data(a, p, n) != (la_ssize_t)n)
		r = xf_errf(err, "member %s: %s", name, write_error(a));
	archive_entry_free(e);
	return r;
}

static int
write_fd(int fd, const struct xf_ckpt *c, struct xf_err *err)
{
	struct archive *a = archive_write_new();
	msgpack_sbuffer sb;
	int r = 0;

	if (a == NULL)
		return xf_errf(err, "out of memory");
	msgpack_sbuffer_init(&sb);
	manifest_pack(c, &sb);
	archive_write_set_format_ustar(a);
	archive_write_add_filter_none(a);
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open_fd(a, fd) != ARCHIVE_OK)
		r = xf_errf(err, "%s", write_error(a));
	if (r == 0)
		r = add_member(a, XF_MANIFEST, sb.data, sb.size, err);
	for (size_t i = 0; i < c->n_tensors && r == 0; i++)
		r = add_member(a, c->tensors[i].name, c->tensors[i].data,
		    c->tensors[i].count * 4, err);
	if (archive_write_close(a) != ARCHIVE_OK && r == 0)
		r = xf_errf(err, "%s", write_error(a));
	archive_write_free(a);
	msgpack_sbuffer_destroy(&sb);
	return r;
}

/* Through xf_out: a temporary beside path, renamed over it when whole. */
int
xf_ckpt_write(const char *path, const struct xf_ckpt *c, struct xf_err *err)
{
	struct xf_out o;

	if (xf_out_open(&o, path, err) < 0)
		return -1;
	if (write_fd(o.fd, c, err) < 0) {
		xf_out_abort(&o);
		return -1;
	}
	return xf_out_commit(&o, err);
}
