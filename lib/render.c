#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xf.h"

/* Shortest %g that reads back as the same double. */
static void
put_double(FILE *f, double d, int json)
{
	char s[32];

	if (!isfinite(d)) {
		/* JSON has no NaN; TSV readers (gnuplot, pandas) take "nan". */
		fputs(json ? "null" : isnan(d) ? "nan" : d > 0 ? "inf" : "-inf", f);
		return;
	}
	for (int prec = 6; prec <= 17; prec++) {
		snprintf(s, sizeof s, "%.*g", prec, d);
		if (strtod(s, NULL) == d)
			break;
	}
	fputs(s, f);
}

static void
put_float(FILE *f, float x, int json)
{
	char s[32];

	if (!isfinite(x)) {
		put_double(f, x, json);
		return;
	}
	for (int prec = 6; prec <= 9; prec++) {
		snprintf(s, sizeof s, "%.*g", prec, x);
		if (strtof(s, NULL) == x)
			break;
	}
	fputs(s, f);
}

static void
put_json_str(FILE *f, const char *p, size_t n)
{
	putc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			putc(c, f);
	}
	putc('"', f);
}

static void
put_bin(FILE *f, const struct xf_value *v, const char *dtype, int json,
    const char *sep)
{
	if (json)
		putc('[', f);
	if (dtype != NULL && strcmp(dtype, "float32") == 0 && v->n % 4 == 0) {
		for (size_t i = 0; i < v->n / 4; i++) {
			float x;

			memcpy(&x, v->p + 4 * i, 4);
			if (i)
				fputs(sep, f);
			put_float(f, x, json);
		}
	} else {
		for (size_t i = 0; i < v->n; i++)
			fprintf(f, i ? "%s%u" : "%.0s%u", sep,
			    (unsigned char)v->p[i]);
	}
	if (json)
		putc(']', f);
}

static void
put_value(FILE *f, const struct xf_value *v, const char *dtype, int json)
{
	struct xf_value k, item;

	switch (v->type) {
	case XF_NIL:
		fputs(json ? "null" : "", f);
		break;
	case XF_BOOL:
		fputs(v->i ? "true" : "false", f);
		break;
	case XF_INT:
		fprintf(f, "%lld", (long long)v->i);
		break;
	case XF_FLOAT:
		if (v->n == 4)
			put_float(f, (float)v->f, json);
		else
			put_double(f, v->f, json);
		break;
	case XF_STR:
		if (json)
			put_json_str(f, v->p, v->n);
		else
			for (size_t i = 0; i < v->n; i++)
				putc(v->p[i] == '\t' || v->p[i] == '\n' ? ' ' : v->p[i], f);
		break;
	case XF_BIN:
		put_bin(f, v, dtype, json, json ? "," : " ");
		break;
	case XF_ARRAY:
		putc('[', f);
		for (size_t i = 0; i < v->n; i++) {
			if (i)
				putc(',', f);
			if (xf_value_item(v, i, NULL, &item) == 0)
				put_value(f, &item, dtype, 1);
		}
		putc(']', f);
		break;
	case XF_MAP:
		putc('{', f);
		for (size_t i = 0; i < v->n; i++) {
			if (i)
				putc(',', f);
			if (xf_value_item(v, i, &k, &item) == 0) {
				put_value(f, &k, dtype, 1);
				putc(':', f);
				put_value(f, &item, dtype, 1);
			}
		}
		putc('}', f);
		break;
	}
}

int
xf_value_json(FILE *f, const struct xf_value *v, const char *bin_dtype)
{
	put_value(f, v, bin_dtype, 1);
	return ferror(f) ? -1 : 0;
}

int
xf_value_text(FILE *f, const struct xf_value *v, const char *bin_dtype)
{
	put_value(f, v, bin_dtype, 0);
	return ferror(f) ? -1 : 0;
}

static int
key_is(const struct xf_value *k, const char *s)
{
	size_t n = strlen(s);

	return k->type == XF_STR && k->n == n && memcmp(k->p, s, n) == 0;
}

int
xf_record_json(FILE *f, const struct xf_record *r, const char *bin_dtype,
    const char *omit)
{
	struct xf_value k, v;
	int first = 1;

	putc('{', f);
	for (size_t i = 0; i < xf_record_len(r); i++) {
		if (xf_record_field(r, i, &k, &v) < 0 ||
		    (omit != NULL && key_is(&k, omit)))
			continue;
		if (!first)
			putc(',', f);
		first = 0;
		put_value(f, &k, bin_dtype, 1);
		putc(':', f);
		put_value(f, &v, bin_dtype, 1);
	}
	putc('}', f);
	return ferror(f) ? -1 : 0;
}

static void
put_cstr(FILE *f, const char *key, const char *s)
{
	fprintf(f, ",\"%s\":", key);
	put_json_str(f, s, strlen(s));
}

int
xf_header_json(FILE *f, const struct xf_header *h)
{
	fprintf(f, "{\"format\":\"xf-stream\",\"version\":%d", XF_STREAM_VERSION);
	put_cstr(f, "kind", h->kind);
	if (h->dtype[0])
		put_cstr(f, "dtype", h->dtype);
	if (h->ndim > 0) {
		fputs(",\"shape\":[", f);
		for (int d = 0; d < h->ndim; d++)
			fprintf(f, d ? ",%lld" : "%lld", (long long)h->shape[d]);
		putc(']', f);
	}
	if (h->module[0])
		put_cstr(f, "module", h->module);
	fprintf(f, ",\"classes\":%lld", (long long)h->n_classes);
	if (h->count >= 0)
		fprintf(f, ",\"count\":%lld", (long long)h->count);
	else
		fputs(",\"count\":null", f);
	fputs(",\"endian\":\"little\",\"provenance\":[", f);
	for (int i = 0; i < h->n_prov; i++) {
		if (i)
			putc(',', f);
		put_json_str(f, h->prov[i], strlen(h->prov[i]));
	}
	fputs("]}", f);
	return ferror(f) ? -1 : 0;
}
