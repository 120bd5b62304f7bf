/*
 * xf-cat: render any xf stream as TSV, JSON lines or a PNG grid.
 */
#include <err.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "tool.h"

#define MAX_FIELDS 256

static void
usage(void)
{
	fprintf(stderr,
	    "usage: xf-cat [-o FILE] [-r A:B] [--header | --json | --png RxC | "
	    "--tsv]\n"
	    "              [--no-x] [--scale K] [--unbuffered] [FILE]\n");
	exit(2);
}

/* "A:B", "A:", ":B" or ":" into [*lo, *hi); hi -1 for no end. */
static void
parse_range(const char *arg, long long *lo, long long *hi)
{
	const char *colon = strchr(arg, ':');
	char a[32];

	if (colon == NULL || (size_t)(colon - arg) >= sizeof a)
		errx(2, "-r %s: want A:B, A: or :B", arg);
	memcpy(a, arg, colon - arg);
	a[colon - arg] = 0;
	*lo = a[0] ? tool_int("-r", a, 0, INT64_MAX) : 0;
	*hi = colon[1] ? tool_int("-r", colon + 1, 0, INT64_MAX) : -1;
}

static void
parse_grid(const char *arg, int *rows, int *cols)
{
	const char *x = strchr(arg, 'x');
	char a[32];

	if (x == NULL || (size_t)(x - arg) >= sizeof a)
		errx(2, "--png %s: want RxC, e.g. 8x8", arg);
	memcpy(a, arg, x - arg);
	a[x - arg] = 0;
	*rows = (int)tool_int("--png", a, 1, 256);
	*cols = (int)tool_int("--png", x + 1, 1, 256);
}

/* A record's key as a C string, or NULL when it is not a plain string. */
static char *
key_dup(const struct xf_value *k)
{
	char *s;

	if (k->type != XF_STR || memchr(k->p, 0, k->n) != NULL ||
	    (s = malloc(k->n + 1)) == NULL)
		return NULL;
	memcpy(s, k->p, k->n);
	s[k->n] = 0;
	return s;
}

/* One run: the input, the output and the record range. */
struct cat {
	const char *in, *oname;
	struct xf_stream *s;
	const struct xf_header *h;
	FILE *f;
	long long lo, hi;         /* [lo, hi) of record numbers; hi -1: no end */
	const char *omit;         /* a field not to show, or NULL */
	int unbuffered;
};

/* The next record in the range: 1 with *rec, or 0 at its end; exit 1 on
 * bad input. */
static int
next(struct cat *c, const struct xf_record **rec)
{
	struct xf_err e;
	int r = 0;

	while ((c->hi < 0 || (long long)xf_stream_index(c->s) < c->hi) &&
	    (r = xf_stream_next(c->s, rec, &e)) == 1)
		if ((long long)xf_stream_index(c->s) - 1 >= c->lo)
			return 1;
	if (c->hi >= 0 && (long long)xf_stream_index(c->s) >= c->hi)
		return 0;
	if (r < 0)
		errx(1, "%s: %s", tool_in_name(c->in), e.msg);
	return 0;
}

/* After each record: a write error, or the flush --unbuffered asks for. */
static void
written(const struct cat *c)
{
	if (ferror(c->f) || (c->unbuffered && fflush(c->f) != 0))
		tool_output_failed(c->oname);
}

/* --header: the header as one JSON object. */
static void
h_cat(struct cat *c)
{
	if (xf_header_json(c->f, c->h) < 0 || putc('\n', c->f) == EOF)
		tool_output_failed(c->oname);
}

/* --json: a JSON object per record. */
static void
j_cat(struct cat *c)
{
	const struct xf_record *rec;

	while (next(c, &rec)) {
		if (xf_record_json(c->f, rec, c->h->dtype, c->omit) < 0)
			tool_output_failed(c->oname);
		putc('\n', c->f);
		written(c);
	}
}

/* The first record's fields, which name the columns, into names. */
static size_t
column_names(const struct cat *c, const struct xf_record *rec, char **names)
{
	unsigned long long at = (unsigned long long)xf_stream_index(c->s) - 1;
	struct xf_value k, v;
	size_t n = 0;

	for (size_t i = 0; i < xf_record_len(rec); i++) {
		if (xf_record_field(rec, i, &k, &v) < 0)
			continue;
		if (n == MAX_FIELDS)
			errx(1, "%s: record %llu: more than %d fields",
			    tool_in_name(c->in), at, MAX_FIELDS);
		if ((names[n] = key_dup(&k)) == NULL)
			errx(1, "%s: record %llu: field %zu: the key is not a "
			    "string", tool_in_name(c->in), at, i);
		if (c->omit == NULL || strcmp(names[n], c->omit))
			n++;
		else
			free(names[n]);
	}
	return n;
}

/* --tsv: a header line of the first record's fields, then a line per
 * record. */
static void
t_cat(struct cat *c)
{
	const struct xf_record *rec;
	char *names[MAX_FIELDS];
	size_t n_names = 0;
	int have_names = 0;
	struct xf_value v;

	while (next(c, &rec)) {
		if (!have_names) {
			have_names = 1;
			n_names = column_names(c, rec, names);
			for (size_t i = 0; i < n_names; i++)
				fprintf(c->f, i ? "\t%s" : "%s", names[i]);
			putc('\n', c->f);
		}
		for (size_t i = 0; i < n_names; i++) {
			if (i)
				putc('\t', c->f);
			if (xf_record_get(rec, names[i], &v) == 0 &&
			    xf_value_text(c->f, &v, c->h->dtype) < 0)
				tool_output_failed(c->oname);
		}
		putc('\n', c->f);
		written(c);
	}
	for (size_t i = 0; i < n_names; i++)
		free(names[i]);
}

/* --png RxC: the first rows x cols images as one grid. */
static void
p_cat(struct cat *c, int rows, int cols, int scale)
{
	const struct xf_header *h = c->h;
	const struct xf_record *rec;
	size_t size = xf_header_xsize(h), n_img = 0;
	uint8_t *grid;
	struct xf_err e;

	if ((grid = malloc(size * rows * cols)) == NULL)
		err(1, NULL);
	while (n_img < (size_t)rows * cols && next(c, &rec)) {
		memcpy(grid + n_img++ * size, xf_record_x(rec), size);
		written(c);
	}
	if (xf_png_grid(c->f, grid, n_img, h->shape[0], h->shape[1],
	    h->shape[2], rows, cols, scale, &e) < 0)
		tool_write_failed(c->oname, &e);
	free(grid);
}

int
main(int argc, char **argv)
{
	enum { O_HEADER = 256, O_JSON, O_NO_X, O_PNG, O_SCALE, O_TSV,
	    O_UNBUFFERED };
	enum { TSV, JSON, HEADER, PNG } format = TSV;
	static const struct option longopts[] = {
		{ "header",     no_argument,       NULL, O_HEADER },
		{ "json",       no_argument,       NULL, O_JSON },
		{ "no-x",       no_argument,       NULL, O_NO_X },
		{ "png",        required_argument, NULL, O_PNG },
		{ "range",      required_argument, NULL, 'r' },
		{ "scale",      required_argument, NULL, O_SCALE },
		{ "tsv",        no_argument,       NULL, O_TSV },
		{ "unbuffered", no_argument,       NULL, O_UNBUFFERED },
		{ NULL, 0, NULL, 0 }
	};
	struct cat c = { .hi = -1 };
	const char *out = NULL;
	int rows = 0, cols = 0, scale = 1, ch, formats = 0;
	struct xf_err e;

	while ((ch = getopt_long(argc, argv, "o:r:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'o': out = optarg; break;
		case 'r': parse_range(optarg, &c.lo, &c.hi); break;
		case O_HEADER: format = HEADER; formats++; break;
		case O_JSON: format = JSON; formats++; break;
		case O_NO_X: c.omit = "x"; break;
		case O_PNG:
			format = PNG;
			formats++;
			parse_grid(optarg, &rows, &cols);
			break;
		case O_SCALE: scale = (int)tool_int("--scale", optarg, 1, 64); break;
		case O_TSV: format = TSV; formats++; break;
		case O_UNBUFFERED: c.unbuffered = 1; break;
		default: usage();
		}
	}
	if (argc - optind > 1 || formats > 1)
		usage();
	c.in = optind < argc ? argv[optind] : "-";
	c.oname = tool_out_name(out);

	if ((c.s = xf_stream_open(c.in, &e)) == NULL)
		errx(1, "%s: %s", tool_in_name(c.in), e.msg);
	c.h = xf_stream_header(c.s);
	if (format == PNG && (strcmp(c.h->kind, "images") != 0 ||
	    strcmp(c.h->dtype, "uint8") || c.h->ndim != 3 ||
	    (c.h->shape[0] != 1 && c.h->shape[0] != 3)))
		errx(1, "%s: --png wants uint8 images of 1 or 3 channels, "
		    "not a stream of %s", tool_in_name(c.in), c.h->kind);
	c.f = tool_fopen(out);
	switch (format) {
	case HEADER: h_cat(&c); break;
	case JSON: j_cat(&c); break;
	case PNG: p_cat(&c, rows, cols, scale); break;
	default: t_cat(&c); break;
	}
	tool_fclose(c.f, out);
	xf_stream_close(c.s);
	return 0;
}
