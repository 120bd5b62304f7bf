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
	const char *in, *out = NULL, *oname, *omit = NULL, *dtype;
	long long lo = 0, hi = -1;
	int rows = 0, cols = 0, scale = 1, unbuffered = 0, ch, r = 0, formats = 0;
	int have_names = 0;
	char *names[MAX_FIELDS];
	size_t n_names = 0, size = 0, n_img = 0;
	uint8_t *grid = NULL;
	const struct xf_header *h;
	const struct xf_record *rec;
	struct xf_stream *s;
	struct xf_value k, v;
	struct xf_err e;
	FILE *f;

	while ((ch = getopt_long(argc, argv, "o:r:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			out = optarg;
			break;
		case 'r':
			parse_range(optarg, &lo, &hi);
			break;
		case O_HEADER:
			format = HEADER;
			formats++;
			break;
		case O_JSON:
			format = JSON;
			formats++;
			break;
		case O_NO_X:
			omit = "x";
			break;
		case O_PNG:
			format = PNG;
			formats++;
			parse_grid(optarg, &rows, &cols);
			break;
		case O_SCALE:
			scale = (int)tool_int("--scale", optarg, 1, 64);
			break;
		case O_TSV:
			format = TSV;
			formats++;
			break;
		case O_UNBUFFERED:
			unbuffered = 1;
			break;
		default:
			usage();
		}
	}
	if (argc - optind > 1 || formats > 1)
		usage();
	in = optind < argc ? argv[optind] : "-";
	oname = tool_out_name(out);

	if ((s = xf_stream_open(in, &e)) == NULL)
		errx(1, "%s: %s", tool_in_name(in), e.msg);
	h = xf_stream_header(s);
	dtype = h->dtype;
	if (format == PNG) {
		size = xf_header_xsize(h);
		if (strcmp(h->kind, "images") != 0 || strcmp(h->dtype, "uint8") ||
		    h->ndim != 3 || (h->shape[0] != 1 && h->shape[0] != 3))
			errx(1, "%s: --png wants uint8 images of 1 or 3 channels, "
			    "not a stream of %s", tool_in_name(in), h->kind);
		if ((grid = malloc(size * rows * cols)) == NULL)
			err(1, NULL);
	}
	f = tool_fopen(out);

	if (format == HEADER) {
		if (xf_header_json(f, h) < 0 || putc('\n', f) == EOF)
			tool_output_failed(oname);
		tool_fclose(f, out);
		xf_stream_close(s);
		return 0;
	}
	while ((hi < 0 || (long long)xf_stream_index(s) < hi) &&
	    (r = xf_stream_next(s, &rec, &e)) == 1) {
		if ((long long)xf_stream_index(s) - 1 < lo)
			continue;
		switch (format) {
		case PNG:
			memcpy(grid + n_img++ * size, xf_record_x(rec), size);
			break;
		case JSON:
			if (xf_record_json(f, rec, dtype, omit) < 0)
				tool_output_failed(oname);
			putc('\n', f);
			break;
		default:
			if (!have_names) {
				have_names = 1;
				/* The first record's fields name the columns. */
				for (size_t i = 0; i < xf_record_len(rec); i++) {
					if (xf_record_field(rec, i, &k, &v) < 0)
						continue;
					if (n_names == MAX_FIELDS)
						errx(1, "%s: record %llu: more than %d fields",
						    tool_in_name(in),
						    (unsigned long long)xf_stream_index(s) - 1,
						    MAX_FIELDS);
					if ((names[n_names] = key_dup(&k)) == NULL)
						errx(1, "%s: record %llu: field %zu: the key "
						    "is not a string", tool_in_name(in),
						    (unsigned long long)xf_stream_index(s) - 1,
						    i);
					if (omit == NULL || strcmp(names[n_names], omit))
						n_names++;
					else
						free(names[n_names]);
				}
				for (size_t i = 0; i < n_names; i++)
					fprintf(f, i ? "\t%s" : "%s", names[i]);
				putc('\n', f);
			}
			for (size_t i = 0; i < n_names; i++) {
				if (i)
					putc('\t', f);
				if (xf_record_get(rec, names[i], &v) == 0 &&
				    xf_value_text(f, &v, dtype) < 0)
					tool_output_failed(oname);
			}
			putc('\n', f);
			break;
		}
		if (ferror(f) || (unbuffered && fflush(f) != 0))
			tool_output_failed(oname);
		if (format == PNG && n_img == (size_t)rows * cols)
			break;
	}
	if (r < 0)
		errx(1, "%s: %s", tool_in_name(in), e.msg);
	if (format == PNG && xf_png_grid(f, grid, n_img, h->shape[0],
	    h->shape[1], h->shape[2], rows, cols, scale, &e) < 0)
		tool_write_failed(oname, &e);
	tool_fclose(f, out);
	for (size_t i = 0; i < n_names; i++)
		free(names[i]);
	free(grid);
	xf_stream_close(s);
	return 0;
}
