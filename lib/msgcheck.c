#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "xf.h"

/*
 * msgpack-c trusts every declared length: "dd ff ff ff ff" asks it for an
 * array of 4 billion objects.  This walker looks at the bytes first and
 * lets msgpack-c see only a complete object whose lengths all fit.
 */

const struct xf_limits xf_default_limits = {
	.max_record = 64u << 20,
	.max_depth = 16,
	.max_items = 1u << 20,
};

static uint64_t
be(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * One object's head at p (avail bytes): *head is its header size, *payload
 * the raw bytes after the header, *children the objects inside it (two per
 * map entry).  Returns 0, 1 when the header itself is cut short, -1 for a
 * byte msgpack never uses (0xc1), -2 for an ext type (fixext 1-16, ext 8,
 * 16 and 32, the timestamp among them), which xf refuses.
 */
static int
head_of(const unsigned char *p, size_t avail, size_t *head, uint64_t *payload,
    uint64_t *children)
{
	unsigned t = p[0];
	int lenbytes = 0;

	*head = 1;
	*payload = 0;
	*children = 0;
	if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3)
		return 0;
	if ((t & 0xf0) == 0x80) {
		*children = 2 * (uint64_t)(t & 0x0f);
		return 0;
	}
	if ((t & 0xf0) == 0x90) {
		*children = t & 0x0f;
		return 0;
	}
	if ((t & 0xe0) == 0xa0) {
		*payload = t & 0x1f;
		return 0;
	}
	switch (t) {
	case 0xc1:
		return -1;
	case 0xcc: case 0xd0: *payload = 1; return 0;
	case 0xcd: case 0xd1: *payload = 2; return 0;
	case 0xca: case 0xce: case 0xd2: *payload = 4; return 0;
	case 0xcb: case 0xcf: case 0xd3: *payload = 8; return 0;
	case 0xc7: case 0xc8: case 0xc9:
	case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
		return -2;
	case 0xc4: case 0xd9: lenbytes = 1; break;
	case 0xc5: case 0xda: case 0xdc: case 0xde: lenbytes = 2; break;
	case 0xc6: case 0xdb: case 0xdd: case 0xdf: lenbytes = 4; break;
	}
	*head = 1 + lenbytes;
	if (avail < *head)
		return 1;
	uint64_t n = be(p + 1, lenbytes);
	if (t == 0xdc || t == 0xdd)
		*children = n;
	else if (t == 0xde || t == 0xdf)
		*children = 2 * n;
	else
		*payload = n;
	return 0;
}

ptrdiff_t
xf_msgpack_check(const char *buf, size_t len, const struct xf_limits *lim,
    struct xf_err *err)
{
	const unsigned char *p = (const unsigned char *)buf;
	uint64_t pending[64];   /* objects still owed at each depth */
	size_t depth = 0, off = 0, items = 0;
	size_t max_depth = lim->max_depth < 64 ? lim->max_depth : 64;

	pending[0] = 1;
	for (;;) {
		size_t head;
		uint64_t payload, children;
		int r;

		if (off >= len)
			return 0;
		if (++items > lim->max_items)
			return xf_errf(err, "more than %zu objects in one record",
			    lim->max_items);
		r = head_of(p + off, len - off, &head, &payload, &children);
		if (r == -2)
			return xf_errf(err, "msgpack ext type (byte 0x%02x) at offset "
			    "%zu: xf refuses ext", p[off], off);
		if (r < 0)
			return xf_errf(err, "byte 0x%02x at offset %zu is not msgpack",
			    p[off], off);
		if (r > 0)
			return 0;
		/* Compare lengths before adding them: payload may be 2^32. */
		if (payload > lim->max_record || off + head + payload > lim->max_record)
			return xf_errf(err, "object at offset %zu declares %llu bytes, "
			    "over the record limit of %zu", off,
			    (unsigned long long)payload, lim->max_record);
		if (children > lim->max_items)
			return xf_errf(err, "container at offset %zu declares %llu "
			    "items, over the limit of %zu", off,
			    (unsigned long long)children, lim->max_items);
		/* Every child takes at least one byte. */
		if (children > lim->max_record - (off + head))
			return xf_errf(err, "container at offset %zu declares %llu "
			    "items, more than the record limit's bytes", off,
			    (unsigned long long)children);
		off += head + payload;
		if (off > len)
			return 0;
		pending[depth]--;
		if (children > 0) {
			if (depth + 1 >= max_depth)
				return xf_errf(err, "nesting deeper than %zu at offset %zu",
				    max_depth, off);
			pending[++depth] = children;
		}
		while (pending[depth] == 0) {
			if (depth == 0)
				return (ptrdiff_t)off;
			depth--;
		}
	}
}

/* Orders map keys (all str by then) by length, then bytes. */
static int
str_cmp(const msgpack_object_str *x, const msgpack_object_str *y)
{
	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	return x->size ? memcmp(x->ptr, y->ptr, x->size) : 0;
}

static int
key_cmp(const void *a, const void *b)
{
	return str_cmp(*(const msgpack_object_str *const *)a,
	    *(const msgpack_object_str *const *)b);
}

static int
dup_error(const msgpack_object_str *k, struct xf_err *err)
{
	return xf_errf(err, "key \"%.*s\" appears twice in one map",
	    (int)(k->size > 64 ? 64 : k->size), k->size ? k->ptr : "");
}

/*
 * Every map's keys, at any depth: each a str, none twice.  msgpack-c keeps
 * both entries of a duplicated key, Python's msgpack only the last: a map
 * two readers see differently is refused.
 */
int
xf_msgpack_keys(const struct msgpack_object *o, struct xf_err *err)
{
	if (o->type == MSGPACK_OBJECT_ARRAY) {
		for (uint32_t i = 0; i < o->via.array.size; i++)
			if (xf_msgpack_keys(&o->via.array.ptr[i], err) < 0)
				return -1;
		return 0;
	}
	if (o->type != MSGPACK_OBJECT_MAP)
		return 0;
	uint32_t n = o->via.map.size;
	const msgpack_object_kv *kv = o->via.map.ptr;
	for (uint32_t i = 0; i < n; i++) {
		if (kv[i].key.type != MSGPACK_OBJECT_STR)
			return xf_errf(err, "map key %u is not a string", i);
		if (xf_msgpack_keys(&kv[i].val, err) < 0)
			return -1;
	}
	if (n <= 16) {
		for (uint32_t i = 0; i < n; i++)
			for (uint32_t j = i + 1; j < n; j++)
				if (str_cmp(&kv[i].key.via.str, &kv[j].key.via.str) == 0)
					return dup_error(&kv[i].key.via.str, err);
		return 0;
	}
	const msgpack_object_str **keys = malloc(n * sizeof *keys);
	int r = 0;

	if (keys == NULL)
		return xf_errf(err, "out of memory");
	for (uint32_t i = 0; i < n; i++)
		keys[i] = &kv[i].key.via.str;
	qsort(keys, n, sizeof *keys, key_cmp);
	for (uint32_t i = 1; i < n && r == 0; i++)
		if (key_cmp(&keys[i - 1], &keys[i]) == 0)
			r = dup_error(keys[i], err);
	free(keys);
	return r;
}
