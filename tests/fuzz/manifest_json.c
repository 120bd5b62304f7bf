/*
 * manifest_json: a checkpoint manifest (the bytes of manifest.msgpack) as
 * xf reads it, one JSON object on stdout, for tests/tool/differential.sh:
 *
 *	manifest_json FILE
 *
 * {"arch":..., "input":[C,H,W], "classes":N,
 *  "tensors":[{"name":..., "shape":[...]}, ...], "meta":{key: value, ...}}
 *
 * A manifest the reader refuses is exit 1 with its message on stderr.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>

#include "xf.h"

static void
json_str(const char *s)
{
	struct xf_value v = { .type = XF_STR, .p = s, .n = 0 };

	while (s[v.n])
		v.n++;
	xf_value_json(stdout, &v, NULL);
}

int
main(int argc, char **argv)
{
	struct xf_ckpt c = { 0 };
	struct xf_err e;
	char *buf;
	size_t len = 0, cap = 1 << 21;
	FILE *f;

	if (argc != 2)
		errx(2, "usage: manifest_json FILE");
	if ((f = fopen(argv[1], "rb")) == NULL)
		err(1, "%s", argv[1]);
	if ((buf = malloc(cap)) == NULL)
		err(1, NULL);
	len = fread(buf, 1, cap, f);
	fclose(f);
	if (xf_ckpt_manifest(buf, len, &c, &e) < 0)
		errx(1, "%s: %s", argv[1], e.msg);
	printf("{\"arch\":");
	json_str(c.arch);
	printf(",\"input\":[%lld,%lld,%lld],\"classes\":%lld,\"tensors\":[",
	    (long long)c.input[0], (long long)c.input[1], (long long)c.input[2],
	    (long long)c.n_classes);
	for (size_t i = 0; i < c.n_tensors; i++) {
		printf(i ? ",{\"name\":" : "{\"name\":");
		json_str(c.tensors[i].name);
		printf(",\"shape\":[");
		for (int d = 0; d < c.tensors[i].ndim; d++)
			printf(d ? ",%lld" : "%lld", (long long)c.tensors[i].shape[d]);
		printf("]}");
	}
	printf("],\"meta\":{");
	for (size_t i = 0; i < c.n_meta; i++) {
		const struct xf_meta *m = &c.meta[i];

		if (i)
			putchar(',');
		json_str(m->key);
		putchar(':');
		if (m->type == XF_INT)
			printf("%lld", (long long)m->i);
		else if (m->type == XF_FLOAT) {
			struct xf_value v = { .type = XF_FLOAT, .f = m->f, .n = 8 };

			xf_value_json(stdout, &v, NULL);
		} else
			json_str(m->s);
	}
	printf("}}\n");
	xf_ckpt_free(&c);
	free(buf);
	return ferror(stdout) ? 1 : 0;
}
