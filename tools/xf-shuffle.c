/*
 * xf-shuffle: permute b×b blocks of every image in a stream.
 */
#include <err.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "tool.h"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: xf-shuffle [-b B] [-o FILE] [-s SEED] [--inverse]\n"
	    "                  [--mode fixed|image|pixel] [FILE]\n");
	exit(2);
}

/* Every record of s to w, each field as it came, in order; only "x" is
 * shuffled (into buf, size bytes). */
static void
copy_records(struct xf_stream *s, struct xf_writer *w, struct xf_shuffle *sh,
    uint8_t *buf, size_t size, const char *in, const char *out)
{
	const struct xf_record *rec;
	struct xf_value k, v;
	struct xf_err e;
	char key[256];
	int r;

	while ((r = xf_stream_next(s, &rec, &e)) == 1) {
		size_t n = xf_record_len(rec);

		xf_shuffle_apply(sh, buf, xf_record_x(rec));
		xf_writer_begin(w, n);
		for (size_t i = 0; i < n; i++) {
			xf_record_field(rec, i, &k, &v);
			if (k.type != XF_STR || k.n >= sizeof key ||
			    memchr(k.p, 0, k.n) != NULL)
				errx(1, "%s: record %llu: field %zu: the key is not a "
				    "string of under %zu bytes", tool_in_name(in),
				    (unsigned long long)xf_stream_index(s) - 1, i,
				    sizeof key);
			memcpy(key, k.p, k.n);
			key[k.n] = 0;
			if (strcmp(key, "x") == 0)
				xf_writer_bin(w, "x", buf, size);
			else
				xf_writer_value(w, key, &v);
		}
		tool_record_end(w, out);
	}
	if (r < 0)
		errx(1, "%s: %s", tool_in_name(in), e.msg);
}

int
main(int argc, char **argv)
{
	enum { O_INVERSE = 256, O_MODE };
	static const struct option longopts[] = {
		{ "inverse", no_argument,       NULL, O_INVERSE },
		{ "mode",    required_argument, NULL, O_MODE },
		{ NULL, 0, NULL, 0 }
	};
	enum xf_shuffle_mode mode = XF_SHUFFLE_FIXED;
	const char *in, *out = NULL;
	long long b = 0;
	unsigned long long seed = 0;
	int inverse = 0, ch;
	const struct xf_header *ih;
	struct xf_header h;
	struct xf_shuffle sh;
	struct xf_stream *s;
	struct xf_writer *w;
	struct xf_err e;
	uint8_t *buf;
	char *argline, *prov;
	size_t size;

	/* Before getopt_long, which permutes argv. */
	if ((argline = xf_prov_argv(argc, argv)) == NULL)
		err(1, NULL);
	while ((ch = getopt_long(argc, argv, "b:o:s:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'b':
			b = tool_int("-b", optarg, 1, 1 << 24);
			break;
		case 'o':
			out = optarg;
			break;
		case 's':
			seed = (unsigned long long)tool_int("-s", optarg, 0,
			    INT64_MAX);
			break;
		case O_INVERSE:
			inverse = 1;
			break;
		case O_MODE:
			if (xf_shuffle_mode_parse(optarg, &mode) < 0)
				errx(2, "--mode %s: want fixed, image or pixel", optarg);
			break;
		default:
			usage();
		}
	}
	if (argc - optind > 1)
		usage();
	if (b == 0 && mode != XF_SHUFFLE_PIXEL)
		errx(2, "-b: a block size is needed in %s mode",
		    xf_shuffle_mode_name(mode));
	in = optind < argc ? argv[optind] : "-";

	if ((s = xf_stream_open(in, &e)) == NULL)
		errx(1, "%s: %s", tool_in_name(in), e.msg);
	ih = xf_stream_header(s);
	if (strcmp(ih->kind, "images") != 0 || strcmp(ih->dtype, "uint8") != 0 ||
	    ih->ndim != 3)
		errx(1, "%s: a stream of %s, want uint8 images of C×H×W",
		    tool_in_name(in), ih->kind);
	if (xf_shuffle_init(&sh, mode, ih->shape[0], ih->shape[1], ih->shape[2],
	    b, seed, inverse, &e) < 0)
		errx(mode == XF_SHUFFLE_PIXEL ? 1 : 2, "-b %lld: %s", b, e.msg);

	/* The command line, then every parameter, defaults included. */
	if (asprintf(&prov, "%s # mode %s, b %lld, seed %llu%s", argline,
	    xf_shuffle_mode_name(mode), (long long)sh.b, seed,
	    inverse ? ", inverse" : "") < 0)
		err(1, NULL);
	xf_header_copy(&h, ih);
	xf_header_add_prov(&h, prov);
	free(argline);
	free(prov);

	size = xf_header_xsize(&h);
	if ((buf = malloc(size)) == NULL)
		err(1, NULL);
	w = tool_writer_open(out, &h);
	copy_records(s, w, &sh, buf, size, in, out);
	tool_writer_close(w, out);
	xf_stream_close(s);
	xf_shuffle_free(&sh);
	xf_header_free(&h);
	free(buf);
	return 0;
}
