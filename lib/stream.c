#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msgpack.h>

#include "xf.h"

/*
 * The reader keeps msgpack-c's streaming unpacker and its buffer.  Bytes
 * from read(2) go into that buffer; xf_msgpack_check walks the unparsed part
 * and only when a whole record within the limits is there does
 * msgpack_unpacker_next run, so msgpack-c never sees a length that the
 * bytes do not back.
 */
struct xf_record {
	const msgpack_object *map;
};

struct xf_stream {
	int fd;
	int own_fd;
	const char *mem;        /* memory backend: bytes not yet fed */
	size_t mem_left;
	int eof;
	msgpack_unpacker up;
	msgpack_unpacked cur;
	struct xf_limits lim;
	struct xf_header h;
	size_t xsize;
	uint64_t index;         /* records returned so far */
	uint64_t offset;        /* stream bytes consumed so far */
	struct xf_record rec;
};

static int
fill(struct xf_stream *s, struct xf_err *err)
{
	size_t want = 256 << 10;
	ssize_t n;

	if (!msgpack_unpacker_reserve_buffer(&s->up, want))
		return xf_errf(err, "out of memory");
	if (s->mem != NULL || s->fd < 0) {
		n = s->mem_left < want ? s->mem_left : want;
		if (n > 0)      /* memopen(NULL, 0) is an empty stream */
			memcpy(msgpack_unpacker_buffer(&s->up), s->mem, n);
		s->mem += n;
		s->mem_left -= n;
	} else {
		do
			n = read(s->fd, msgpack_unpacker_buffer(&s->up), want);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return xf_errf(err, "read: %s", strerror(errno));
	}
	if (n == 0)
		s->eof = 1;
	msgpack_unpacker_buffer_consumed(&s->up, n);
	return 0;
}

/*
 * Next msgpack object into s->cur.  Returns 1, 0 at a clean end, -1.  what
 * names the object for messages ("header", "record 12").
 */
static int
next_object(struct xf_stream *s, const char *what, struct xf_err *err)
{
	struct xf_err e;

	for (;;) {
		const char *start = s->up.buffer + s->up.off;
		size_t avail = s->up.used - s->up.off;
		ptrdiff_t size = xf_msgpack_check(start, avail, &s->lim, &e);

		if (size < 0)
			return xf_errf(err, "%s (byte %llu): %s", what,
			    (unsigned long long)s->offset, e.msg);
		if (size > 0) {
			if (msgpack_unpacker_next(&s->up, &s->cur) !=
			    MSGPACK_UNPACK_SUCCESS)
				return xf_errf(err, "%s (byte %llu): malformed msgpack",
				    what, (unsigned long long)s->offset);
			if (xf_msgpack_keys(&s->cur.data, &e) < 0)
				return xf_errf(err, "%s (byte %llu): %s", what,
				    (unsigned long long)s->offset, e.msg);
			s->offset += size;
			return 1;
		}
		if (s->eof) {
			if (avail == 0)
				return 0;
			return xf_errf(err, "%s (byte %llu): truncated: the stream "
			    "ends %zu bytes into it", what,
			    (unsigned long long)s->offset, avail);
		}
		if (fill(s, err) < 0)
			return -1;
	}
}

static int
value_of(const msgpack_object *o, struct xf_value *v)
{
	memset(v, 0, sizeof *v);
	v->obj = o;
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		v->type = XF_NIL;
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		v->type = XF_BOOL;
		v->i = o->via.boolean;
		v->f = v->i;
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		v->type = XF_INT;
		if (o->via.u64 > INT64_MAX) {
			v->type = XF_FLOAT;
			v->f = (double)o->via.u64;
			break;
		}
		v->i = (int64_t)o->via.u64;
		v->f = (double)v->i;
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		v->type = XF_INT;
		v->i = o->via.i64;
		v->f = (double)v->i;
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		v->type = XF_FLOAT;
		v->f = o->via.f64;
		v->n = o->type == MSGPACK_OBJECT_FLOAT32 ? 4 : 8;
		break;
	case MSGPACK_OBJECT_STR:
		v->type = XF_STR;
		v->p = o->via.str.ptr;
		v->n = o->via.str.size;
		break;
	case MSGPACK_OBJECT_BIN:
		v->type = XF_BIN;
		v->p = o->via.bin.ptr;
		v->n = o->via.bin.size;
		break;
	case MSGPACK_OBJECT_ARRAY:
		v->type = XF_ARRAY;
		v->n = o->via.array.size;
		break;
	case MSGPACK_OBJECT_MAP:
		v->type = XF_MAP;
		v->n = o->via.map.size;
		break;
	default:
		return -1;   /* ext */
	}
	return 0;
}

int
xf_value_item(const struct xf_value *v, size_t i, struct xf_value *key,
    struct xf_value *out)
{
	const msgpack_object *o = v->obj;

	if (o == NULL || i >= v->n)
		return -1;
	if (o->type == MSGPACK_OBJECT_ARRAY && key == NULL)
		return value_of(&o->via.array.ptr[i], out);
	if (o->type == MSGPACK_OBJECT_MAP) {
		if (key != NULL && value_of(&o->via.map.ptr[i].key, key) < 0)
			return -1;
		return value_of(&o->via.map.ptr[i].val, out);
	}
	return -1;
}

static int
str_is(const struct xf_value *v, const char *s)
{
	size_t n = strlen(s);

	return v->type == XF_STR && v->n == n && memcmp(v->p, s, n) == 0;
}

static int
copy_str(char *dst, size_t size, const struct xf_value *v)
{
	/* msgpack-c gives an empty string a NULL pointer. */
	if (v->type != XF_STR || v->n >= size ||
	    (v->n > 0 && memchr(v->p, 0, v->n) != NULL))
		return -1;
	if (v->n > 0)
		memcpy(dst, v->p, v->n);
	dst[v->n] = 0;
	return 0;
}

size_t
xf_record_len(const struct xf_record *r)
{
	return r->map->via.map.size;
}

int
xf_record_field(const struct xf_record *r, size_t i, struct xf_value *key,
    struct xf_value *val)
{
	struct xf_value m;

	value_of(r->map, &m);
	return xf_value_item(&m, i, key, val);
}

int
xf_record_get(const struct xf_record *r, const char *key, struct xf_value *val)
{
	struct xf_value k;

	for (size_t i = 0; i < xf_record_len(r); i++)
		if (xf_record_field(r, i, &k, val) == 0 && str_is(&k, key))
			return 0;
	return -1;
}

const void *
xf_record_x(const struct xf_record *r)
{
	struct xf_value v;

	return xf_record_get(r, "x", &v) == 0 && v.type == XF_BIN ? v.p : NULL;
}

static int64_t
int_field(const struct xf_record *r, const char *key)
{
	struct xf_value v;

	return xf_record_get(r, key, &v) == 0 && v.type == XF_INT ? v.i : -1;
}

int64_t
xf_record_y(const struct xf_record *r)
{
	return int_field(r, "y");
}

int64_t
xf_record_i(const struct xf_record *r)
{
	return int_field(r, "i");
}

size_t
xf_header_xsize(const struct xf_header *h)
{
	size_t size, n = 1;

	if (strcmp(h->dtype, "uint8") == 0)
		size = 1;
	else if (strcmp(h->dtype, "float32") == 0)
		size = 4;
	else
		return 0;
	if (h->ndim == 0)
		return 0;
	/* Four dimensions of up to 2^24 overflow 64 bits; a product that
	 * wrapped could come out small and pass as a plausible size. */
	for (int d = 0; d < h->ndim; d++) {
		if (h->shape[d] < 1)
			return 0;
		if ((uint64_t)h->shape[d] > SIZE_MAX / size / n)
			return SIZE_MAX;
		n *= (size_t)h->shape[d];
	}
	return n * size;
}

void
xf_header_add_prov(struct xf_header *h, const char *line)
{
	char *copy = strdup(line);

	if (copy == NULL)
		return;
	if (h->n_prov == XF_MAX_PROV) {
		free(h->prov[0]);
		memmove(h->prov, h->prov + 1, (XF_MAX_PROV - 1) * sizeof h->prov[0]);
		h->n_prov--;
	}
	h->prov[h->n_prov++] = copy;
}

char *
xf_prov_argv(int argc, char **argv)
{
	size_t len = 1;
	char *s, *p;

	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if ((s = p = malloc(len)) == NULL)
		return NULL;
	for (int i = 0; i < argc; i++) {
		const char *base = argv[i];

		if (i == 0 && strrchr(base, '/') != NULL)
			base = strrchr(base, '/') + 1;
		p += sprintf(p, i ? " %s" : "%s", base);
	}
	*p = 0;
	return s;
}

void
xf_header_copy(struct xf_header *dst, const struct xf_header *src)
{
	*dst = *src;
	dst->n_prov = 0;
	for (int i = 0; i < src->n_prov; i++)
		xf_header_add_prov(dst, src->prov[i]);
}

void
xf_header_free(struct xf_header *h)
{
	for (int i = 0; i < h->n_prov; i++)
		free(h->prov[i]);
	h->n_prov = 0;
}

static int
int_of(const struct xf_value *v, int64_t lo, int64_t hi, int64_t *out)
{
	if (v->type != XF_INT || v->i < lo || v->i > hi)
		return -1;
	*out = v->i;
	return 0;
}

/* The header's keys, as bits of what parse_header saw. */
enum {
	H_FORMAT = 1, H_VERSION = 2, H_KIND = 4, H_DTYPE = 8, H_SHAPE = 16,
	H_CLASSES = 32, H_COUNT = 64, H_ENDIAN = 128, H_PROV = 256
};

/* What a kind's records hold: images and features have "x" of this dtype
 * and number of dimensions; every other kind is a table, with no "x". */
static int
kind_x(const char *kind, const char **dtype, int *ndim)
{
	if (strcmp(kind, "images") == 0) {
		*dtype = "uint8";
		*ndim = 3;
		return 1;
	}
	if (strcmp(kind, "features") == 0) {
		*dtype = "float32";
		*ndim = 1;
		return 1;
	}
	return 0;
}

/*
 * Header map into s->h.  Every key formats/stream.md calls required must be
 * there with its allowed values; unknown keys are ignored so later versions
 * can add.
 */
static int
parse_header(struct xf_stream *s, struct xf_err *err)
{
	static const struct { int bit; const char *key; } required[] = {
		{ H_KIND, "kind" }, { H_CLASSES, "classes" }, { H_COUNT, "count" },
		{ H_ENDIAN, "endian" }, { H_PROV, "provenance" },
	};
	struct xf_header *h = &s->h;
	struct xf_value top, k, v, item;
	int seen = 0, want_ndim;
	int64_t version = 0;
	const char *want_dtype;

	value_of(&s->cur.data, &top);
	if (top.type != XF_MAP)
		return xf_errf(err, "header: not a map");
	h->count = -1;
	for (size_t i = 0; i < top.n; i++) {
		xf_value_item(&top, i, &k, &v);
		if (str_is(&k, "format")) {
			if (!str_is(&v, "xf-stream"))
				return xf_errf(err, "header: format is not \"xf-stream\"");
			seen |= H_FORMAT;
		} else if (str_is(&k, "version")) {
			if (int_of(&v, 0, INT32_MAX, &version) < 0)
				return xf_errf(err, "header: version is not an integer");
			seen |= H_VERSION;
		} else if (str_is(&k, "kind")) {
			if (copy_str(h->kind, sizeof h->kind, &v) < 0)
				return xf_errf(err, "header: kind is not a short string");
			seen |= H_KIND;
		} else if (str_is(&k, "dtype")) {
			if (copy_str(h->dtype, sizeof h->dtype, &v) < 0)
				return xf_errf(err, "header: dtype is not a short string");
			seen |= H_DTYPE;
		} else if (str_is(&k, "module")) {
			if (copy_str(h->module, sizeof h->module, &v) < 0)
				return xf_errf(err, "header: module is not a short string");
		} else if (str_is(&k, "classes")) {
			if (int_of(&v, 0, 1 << 24, &h->n_classes) < 0)
				return xf_errf(err, "header: classes is not an integer "
				    "in 0..16777216");
			seen |= H_CLASSES;
		} else if (str_is(&k, "count")) {
			if (v.type != XF_NIL && int_of(&v, 0, INT64_MAX, &h->count) < 0)
				return xf_errf(err, "header: count is not a "
				    "non-negative integer or nil");
			seen |= H_COUNT;
		} else if (str_is(&k, "endian")) {
			if (!str_is(&v, "little"))
				return xf_errf(err, "header: endian is not \"little\"");
			seen |= H_ENDIAN;
		} else if (str_is(&k, "shape")) {
			if (v.type != XF_ARRAY || v.n < 1 || v.n > XF_MAX_DIMS)
				return xf_errf(err, "header: shape is not an array of "
				    "1 to %d dimensions", XF_MAX_DIMS);
			h->ndim = (int)v.n;
			for (size_t d = 0; d < v.n; d++) {
				xf_value_item(&v, d, NULL, &item);
				if (int_of(&item, 1, 1 << 24, &h->shape[d]) < 0)
					return xf_errf(err, "header: shape[%zu] is not an "
					    "integer in 1..16777216", d);
			}
			seen |= H_SHAPE;
		} else if (str_is(&k, "provenance")) {
			char line[4096];

			if (v.type != XF_ARRAY)
				return xf_errf(err, "header: provenance is not an array");
			for (size_t d = 0; d < v.n; d++) {
				xf_value_item(&v, d, NULL, &item);
				if (copy_str(line, sizeof line, &item) < 0)
					return xf_errf(err, "header: provenance[%zu] is not "
					    "a string under 4096 bytes", d);
				xf_header_add_prov(h, line);
			}
			seen |= H_PROV;
		}
	}
	if (!(seen & H_FORMAT))
		return xf_errf(err, "header: no format \"xf-stream\": not an xf stream");
	if (!(seen & H_VERSION))
		return xf_errf(err, "header: no version");
	if (version != XF_STREAM_VERSION)
		return xf_errf(err, "header: version %lld, this xf reads version %d",
		    (long long)version, XF_STREAM_VERSION);
	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
		if (!(seen & required[i].bit))
			return xf_errf(err, "header: no %s", required[i].key);
	if (h->kind[0] == 0)
		return xf_errf(err, "header: kind is empty");
	if (kind_x(h->kind, &want_dtype, &want_ndim)) {
		if (!(seen & H_DTYPE) || !(seen & H_SHAPE))
			return xf_errf(err, "header: kind \"%s\" without %s", h->kind,
			    seen & H_DTYPE ? "shape" : "dtype");
		if (strcmp(h->dtype, want_dtype) != 0)
			return xf_errf(err, "header: kind \"%s\" with dtype \"%s\": "
			    "want \"%s\"", h->kind, h->dtype, want_dtype);
		if (h->ndim != want_ndim)
			return xf_errf(err, "header: kind \"%s\" with a shape of %d "
			    "dimensions: want %d", h->kind, h->ndim, want_ndim);
	} else if (seen & (H_DTYPE | H_SHAPE))
		return xf_errf(err, "header: kind \"%s\" is a table: no dtype "
		    "or shape", h->kind);
	s->xsize = xf_header_xsize(h);
	if (s->xsize == SIZE_MAX)
		return xf_errf(err, "header: the shape's product overflows");
	if (s->xsize > s->lim.max_record)
		return xf_errf(err, "header: records of %zu bytes are over the "
		    "limit of %zu", s->xsize, s->lim.max_record);
	return 0;
}

/* A count that the bytes left cannot hold is refused up front (a file or
 * memory; a pipe's count is checked as records arrive). */
static int
check_count(struct xf_stream *s, struct xf_err *err)
{
	struct stat st;
	uint64_t left, per = s->xsize > 0 ? s->xsize + 1 : 1;

	if (s->h.count <= 0)
		return 0;
	if (s->fd < 0)
		left = s->mem_left + (s->up.used - s->up.off);
	else if (fstat(s->fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size >= s->offset)
		left = (uint64_t)st.st_size - s->offset;
	else
		return 0;
	if ((uint64_t)s->h.count > left / per)
		return xf_errf(err, "header: count %lld, but the %llu bytes "
		    "that follow hold at most %llu records",
		    (long long)s->h.count, (unsigned long long)left,
		    (unsigned long long)(left / per));
	return 0;
}

static struct xf_stream *
stream_new(int fd, int own_fd, const char *mem, size_t len, struct xf_err *err)
{
	struct xf_stream *s = calloc(1, sizeof *s);

	if (s == NULL) {
		xf_errf(err, "out of memory");
		if (own_fd)
			close(fd);
		return NULL;
	}
	s->fd = fd;
	s->own_fd = own_fd;
	s->mem = mem;
	s->mem_left = len;
	s->lim = xf_default_limits;
	if (fd >= 0)
		xf_input_note(fd);
	if (!msgpack_unpacker_init(&s->up, 256 << 10)) {
		free(s);
		xf_errf(err, "out of memory");
		return NULL;
	}
	msgpack_unpacked_init(&s->cur);
	int r = next_object(s, "header", err);
	if (r == 0)
		xf_errf(err, "header: empty stream");
	if (r <= 0 || parse_header(s, err) < 0 || check_count(s, err) < 0) {
		xf_stream_close(s);
		return NULL;
	}
	return s;
}

struct xf_stream *
xf_stream_fdopen(int fd, struct xf_err *err)
{
	return stream_new(fd, 0, NULL, 0, err);
}

struct xf_stream *
xf_stream_memopen(const void *buf, size_t len, struct xf_err *err)
{
	return stream_new(-1, 0, buf, len, err);
}

struct xf_stream *
xf_stream_open(const char *path, struct xf_err *err)
{
	int fd;

	if (path == NULL || strcmp(path, "-") == 0)
		return stream_new(0, 0, NULL, 0, err);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		xf_errf(err, "%s", strerror(errno));
		return NULL;
	}
	return stream_new(fd, 1, NULL, 0, err);
}

void
xf_stream_set_limits(struct xf_stream *s, const struct xf_limits *lim)
{
	s->lim = *lim;
}

const struct xf_header *
xf_stream_header(const struct xf_stream *s)
{
	return &s->h;
}

uint64_t
xf_stream_index(const struct xf_stream *s)
{
	return s->index;
}

/*
 * Image and feature records: "i" an integer >= 0, "x" a bin of the header's
 * size (finite float32 values for features), "y" an integer label in
 * 0..classes-1 (with classes 0, no "y" or an integer).
 */
static int
check_sample(struct xf_stream *s, struct xf_err *err)
{
	struct xf_value v;
	unsigned long long idx = s->index;

	if (xf_record_get(&s->rec, "x", &v) < 0 || v.type != XF_BIN)
		return xf_errf(err, "record %llu: no bin field \"x\"", idx);
	if (v.n != s->xsize)
		return xf_errf(err, "record %llu: \"x\" has %zu bytes, the header's "
		    "%s shape wants %zu", idx, v.n, s->h.dtype, s->xsize);
	if (xf_record_get(&s->rec, "y", &v) == 0 && v.type != XF_INT)
		return xf_errf(err, "record %llu: label \"y\" is not an integer",
		    idx);
	if (s->h.n_classes > 0) {
		int64_t y = xf_record_y(&s->rec);

		if (y < 0 || y >= s->h.n_classes)
			return xf_errf(err, "record %llu: label \"y\" missing or not "
			    "in 0..%lld", idx, (long long)s->h.n_classes - 1);
	}
	if (xf_record_get(&s->rec, "i", &v) < 0 || v.type != XF_INT || v.i < 0)
		return xf_errf(err, "record %llu: index \"i\" missing or not an "
		    "integer >= 0", idx);
	xf_record_get(&s->rec, "x", &v);
	if (strcmp(s->h.dtype, "float32") == 0)
		for (size_t j = 0; j < v.n / 4; j++) {
			float f;

			memcpy(&f, v.p + 4 * j, 4);
			if (!isfinite(f))
				return xf_errf(err, "record %llu: \"x\" has %s at "
				    "element %zu", idx, isnan(f) ? "NaN" : "Inf", j);
		}
	return 0;
}

/* A table's record is a flat map of scalars: nil, bool, int, float, str. */
static int
check_table(struct xf_stream *s, struct xf_err *err)
{
	struct xf_value k, v;

	for (size_t i = 0; i < xf_record_len(&s->rec); i++) {
		if (xf_record_field(&s->rec, i, &k, &v) < 0)
			return xf_errf(err, "record %llu: field %zu is not msgpack "
			    "xf reads", (unsigned long long)s->index, i);
		if (v.type == XF_BIN || v.type == XF_ARRAY || v.type == XF_MAP)
			return xf_errf(err, "record %llu: field \"%.*s\" is not a "
			    "scalar: a table's fields are nil, bool, int, float or "
			    "str", (unsigned long long)s->index,
			    (int)(k.n > 64 ? 64 : k.n), k.n ? k.p : "");
	}
	return 0;
}

/*
 * The header's count is a promise: a stream that ends before it, or goes on
 * past it, is refused at that record.
 */
int
xf_stream_next(struct xf_stream *s, const struct xf_record **rec,
    struct xf_err *err)
{
	char what[48];
	int r;
	long long count = s->h.count;

	snprintf(what, sizeof what, "record %llu", (unsigned long long)s->index);
	r = next_object(s, what, err);
	if (r < 0)
		return -1;
	if (r == 0) {
		if (count >= 0 && s->index < (uint64_t)count)
			return xf_errf(err, "%s: the stream ends after %llu records, "
			    "the header's count is %lld", what,
			    (unsigned long long)s->index, count);
		return 0;
	}
	if (count >= 0 && s->index >= (uint64_t)count)
		return xf_errf(err, "%s: more records than the header's count "
		    "of %lld", what, count);
	if (s->cur.data.type != MSGPACK_OBJECT_MAP)
		return xf_errf(err, "%s: not a map", what);
	s->rec.map = &s->cur.data;
	if (s->xsize > 0 && check_sample(s, err) < 0)
		return -1;
	if (s->xsize == 0 && check_table(s, err) < 0)
		return -1;
	s->index++;
	*rec = &s->rec;
	return 1;
}

void
xf_stream_close(struct xf_stream *s)
{
	if (s == NULL)
		return;
	msgpack_unpacked_destroy(&s->cur);
	msgpack_unpacker_destroy(&s->up);
	if (s->own_fd)
		close(s->fd);
	xf_header_free(&s->h);
	free(s);
}
