/*
 * xf-align: B's hidden units permuted to match A's (Git Re-Basin, Ainsworth
 * et al. 2023), by weight matching or activation matching; the output
 * computes the same function as B.
 */
#include <err.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "align.h"
#include "landscape.h"
#include "tool.h"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: xf-align [-v] [-j threads] [-o out] [-s seed] [--batch n] "
	    "[--log file]\n"
	    "                [--method weights|activations] [--sweeps n] "
	    "-a ckpt -b ckpt\n"
	    "                [data]\n");
	exit(2);
}

struct run {
	const char *a, *b, *data, *out, *log;
	int activations, verbose;
	struct xf_align_opt opt;
};

/* The table: one record per group, then the whole model as "total". */
static void
report(const struct run *r, const struct xf_align_groups *g,
    const struct xf_align_stat *st, const struct xf_align_stat *total,
    const struct xf_header *data, const char *self)
{
	struct xf_writer *w = NULL;

	if (r->log != NULL)
		w = tool_table_open(r->log, "align", data, self);
	for (int k = 0; k <= g->n; k++) {
		const struct xf_align_stat *s = k < g->n ? &st[k] : total;
		const char *name = k < g->n ? g->g[k].name : "total";
		int units = 0;

		for (int j = 0; j < g->n; j++)
			if (k == g->n || j == k)
				units += g->g[j].n;
		if (r->verbose)
			fprintf(stderr, "xf-align: %-6s %4d units, %4d moved, "
			    "objective %.6g -> %.6g\n", name, units, s->moved,
			    s->before, s->after);
		if (w == NULL)
			continue;
		xf_writer_begin(w, 5);
		xf_writer_str(w, "layer", name);
		xf_writer_int(w, "units", units);
		xf_writer_int(w, "moved", s->moved);
		xf_writer_float(w, "before", s->before);
		xf_writer_float(w, "after", s->after);
		tool_record_end(w, r->log);
	}
	tool_writer_close(w, r->log);
}

/* B2: B's tensors permuted, B's data provenance, and where B2 came from. */
static void
save(const struct run *r, struct xf_model *mb, const float *b2,
    const struct xf_ckpt *cb, int sweeps)
{
	const struct xf_meta *pd = xf_ckpt_get(cb, "prov.data");
	struct xf_ckpt c = { 0 };
	struct xf_err e;

	xf_model_restore(mb, b2);
	if (xf_model_to_ckpt(mb, NULL, &c, &e) < 0)
		errx(1, "%s: %s", tool_out_name(r->out), e.msg);
	xf_ckpt_set_str(&c, "prov.data", pd != NULL && pd->type == XF_STR ?
	    pd->s : "");
	xf_ckpt_set_str(&c, "prov.parent", r->b);
	xf_ckpt_set_str(&c, "align.reference", r->a);
	xf_ckpt_set_str(&c, "align.method", r->activations ? "activations" :
	    "weights");
	xf_ckpt_set_int(&c, "align.seed", (int64_t)r->opt.seed);
	if (!r->activations)
		xf_ckpt_set_int(&c, "align.sweeps", sweeps);
	if (xf_ckpt_write(r->out, &c, &e) < 0)
		tool_write_failed(tool_out_name(r->out), &e);
	xf_ckpt_free(&c);
}

static void
align(const struct run *r, const char *self)
{
	struct xf_ckpt cb = { 0 };
	struct xf_model *ma = tool_model_load(r->a), *mb;
	struct xf_dataset d = { 0 };
	struct xf_align_groups g;
	struct xf_align_stat *st, total = { 0 };
	struct xf_err e;
	float *a, *b, *b2;
	size_t n;
	int **perm, sweeps = 0;

	if (xf_ckpt_read(r->b, &cb, &e) < 0 || (mb = xf_model_load(&cb, &e)) ==
	    NULL)
		errx(1, "%s: %s", r->b, e.msg);
	if (xf_model_same_arch(ma, mb, &e) < 0)
		errx(1, "%s: %s (the architecture of %s)", r->b, e.msg, r->a);
	if (xf_model_same_input(ma, mb, &e) < 0)
		errx(1, "%s: %s (the input of %s)", r->b, e.msg, r->a);
	if (xf_align_groups(mb, &g, &e) < 0)
		errx(1, "%s: %s", r->b, e.msg);
	if ((perm = xf_align_perms_alloc(&g)) == NULL ||
	    (st = calloc(g.n + 1, sizeof *st)) == NULL ||
	    (a = xf_model_snapshot(ma, &n)) == NULL ||
	    (b = xf_model_snapshot(mb, &n)) == NULL ||
	    (b2 = malloc(n * sizeof *b2)) == NULL)
		err(1, NULL);
	if (r->activations) {
		if (xf_dataset_read(r->data, &d, &e) < 0)
			errx(1, "%s: %s", tool_in_name(r->data), e.msg);
		if (xf_model_check_input(ma, d.c, d.h, d.w, d.n_classes, &e) < 0)
			errx(1, "%s: %s: %s", tool_in_name(r->data), r->a, e.msg);
		if (xf_align_activations(ma, mb, &d, &g, &r->opt, perm, st, &e) <
		    0)
			errx(1, "%s: activations of %s and %s: %s",
			    tool_in_name(r->data), r->a, r->b, e.msg);
	} else if (xf_align_weights(mb, a, b, &g, &r->opt, perm, &sweeps, st,
	    &e) < 0)
		errx(1, "%s: weights of %s: %s", r->b, r->a, e.msg);
	if (xf_align_apply(mb, &g, perm, b, b2, &e) < 0)
		errx(1, "%s: %s", r->b, e.msg);
	for (int k = 0; k < g.n; k++) {
		total.moved += st[k].moved;
		total.before += st[k].before;
		total.after += st[k].after;
	}
	if (!r->activations) {
		total.before = xf_align_inner(mb, a, b);
		total.after = xf_align_inner(mb, a, b2);
	}
	save(r, mb, b2, &cb, sweeps);
	if (r->verbose && !r->activations)
		fprintf(stderr, "xf-align: weight matching: %d sweeps\n", sweeps);
	if (d.header.n_classes == 0)
		d.header.n_classes = cb.n_classes;
	report(r, &g, st, &total, &d.header, self);
	xf_align_perms_free(&g, perm);
	xf_align_groups_free(&g);
	xf_dataset_free(&d);
	xf_ckpt_free(&cb);
	xf_model_free(ma);
	xf_model_free(mb);
	free(st);
	free(a);
	free(b);
	free(b2);
}

int
main(int argc, char **argv)
{
	enum { O_BATCH = 256, O_LOG, O_METHOD, O_SWEEPS };
	static const struct option longopts[] = {
		{ "batch", required_argument, NULL, O_BATCH },
		{ "log", required_argument, NULL, O_LOG },
		{ "method", required_argument, NULL, O_METHOD },
		{ "sweeps", required_argument, NULL, O_SWEEPS },
		{ NULL, 0, NULL, 0 }
	};
	struct run r = { .out = "-", .opt = XF_ALIGN_DEFAULTS };
	const char *jarg = NULL;
	char *self = xf_prov_argv(argc, argv);
	int ch;

	while ((ch = getopt_long(argc, argv, "a:b:j:o:s:v", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'a': r.a = optarg; break;
		case 'b': r.b = optarg; break;
		case 'j': jarg = optarg; break;
		case 'o': r.out = optarg; break;
		case 's':
			r.opt.seed = (uint64_t)tool_int("-s", optarg, 0, INT64_MAX);
			break;
		case 'v': r.verbose = 1; break;
		case O_BATCH:
			r.opt.batch = (int)tool_int("--batch", optarg, 1, 65536);
			break;
		case O_LOG: r.log = optarg; break;
		case O_METHOD:
			if (strcmp(optarg, "weights") != 0 &&
			    strcmp(optarg, "activations") != 0)
				errx(2, "--method %s: want weights or activations",
				    optarg);
			r.activations = optarg[0] == 'a';
			break;
		case O_SWEEPS:
			r.opt.max_sweeps = (int)tool_int("--sweeps", optarg, 1,
			    100000);
			break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1 || r.a == NULL || r.b == NULL)
		usage();
	r.data = argc == 1 ? argv[0] : NULL;
	if (r.activations && r.data == NULL)
		errx(2, "--method activations: give the data (- for stdin)");
	if (!r.activations && r.data != NULL)
		errx(2, "%s: data only with --method activations", r.data);
	if (r.log != NULL && strcmp(r.log, "-") == 0 && strcmp(r.out, "-") == 0)
		errx(2, "--log -: the checkpoint already goes to stdout");
	xf_nn_set_threads(tool_threads(jarg));
	align(&r, self);
	free(self);
	return 0;
}
