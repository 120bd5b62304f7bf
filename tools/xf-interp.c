/*
 * xf-interp: loss and accuracy along lines and planes in weight space:
 * between two checkpoints (the barrier of Neyshabur et al. 2020), along a
 * filter-normalised random direction or plane (Li et al. 2018), or along
 * the gradient (Liu et al. 2019).
 */
#include <err.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "landscape.h"
#include "tool.h"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: xf-interp [-b batch] [-j threads] [-n points] [-o out] "
	    "[-s seed]\n"
	    "                 [--biasbn] [--bn interp|reset] [--bn-data file]\n"
	    "                 [--direction line|random|plane|gradient] "
	    "[--range lo:hi]\n"
	    "                 [--summary file] -m ckpt [-m ckpt] [file]\n");
	exit(2);
}

struct out {
	struct xf_writer *w;
	const char *path;
	enum xf_interp_mode mode;
	const struct xf_ensemble *ens;	/* line: the endpoints' ensemble */
};

/* One record per point, as it is computed. */
static void
emit(void *arg, const struct xf_interp_point *p)
{
	struct out *o = arg;
	struct xf_writer *w = o->w;

	switch (o->mode) {
	case XF_INTERP_LINE:
		xf_writer_begin(w, o->ens != NULL ? 9 : 6);
		xf_writer_float(w, "lambda", p->x);
		break;
	case XF_INTERP_RANDOM:
		xf_writer_begin(w, 6);
		xf_writer_float(w, "t", p->x);
		break;
	case XF_INTERP_PLANE:
		xf_writer_begin(w, 7);
		xf_writer_float(w, "t", p->x);
		xf_writer_float(w, "u", p->y);
		break;
	case XF_INTERP_GRADIENT:
		xf_writer_begin(w, 9);
		xf_writer_float(w, "eta", p->x);
		break;
	}
	xf_writer_int(w, "n", (int64_t)p->r.n);
	xf_writer_int(w, "correct", (int64_t)p->r.correct);
	xf_writer_float(w, "acc", p->acc);
	xf_writer_float(w, "error", p->error);
	xf_writer_float(w, "loss", p->loss);
	if (o->mode == XF_INTERP_GRADIENT) {
		xf_writer_float(w, "grad_norm", p->grad_norm);
		xf_writer_float(w, "grad_change", p->grad_change);
		xf_writer_float(w, "step", p->step);
	}
	if (o->ens != NULL) {
		struct xf_eval_result r;

		xf_ensemble_at(o->ens, p->x, &r);
		xf_writer_float(w, "ens_acc", (double)r.correct / r.n);
		xf_writer_float(w, "ens_error", 1 - (double)r.correct / r.n);
		xf_writer_float(w, "ens_loss", r.loss_sum / r.n);
	}
	tool_record_end(w, o->path);
}

static void
write_summary(struct xf_writer *w, const char *path, const struct xf_interp *opt,
    const struct xf_interp_summary *s, const struct xf_model *m, double dist,
    const double *module_dist)
{
	int nm = 0;
	char key[64];

	/* A distance per module with parameters: not per residual block. */
	for (int k = 0; k < xf_model_n_modules(m); k++)
		nm += xf_model_module(m, k)->n_tensors > 0;
	xf_writer_begin(w, 8 + (opt->mode == XF_INTERP_LINE ? 3 + nm : 0) +
	    (opt->mode == XF_INTERP_GRADIENT ? 3 : 0));
	xf_writer_str(w, "direction", xf_interp_mode_name(opt->mode));
	xf_writer_int(w, "points", (int64_t)s->points);
	xf_writer_float(w, "loss_min", s->loss_min);
	xf_writer_float(w, "loss_max", s->loss_max);
	xf_writer_float(w, "loss_mean", s->loss_mean);
	xf_writer_float(w, "error_min", s->error_min);
	xf_writer_float(w, "error_max", s->error_max);
	xf_writer_float(w, "error_mean", s->error_mean);
	if (opt->mode == XF_INTERP_LINE) {
		xf_writer_float(w, "barrier", s->barrier);
		xf_writer_float(w, "barrier_loss", s->barrier_loss);
		xf_writer_float(w, "dist", dist);
		for (int k = 0; k < xf_model_n_modules(m); k++) {
			if (xf_model_module(m, k)->n_tensors == 0)
				continue;
			snprintf(key, sizeof key, "dist_%s",
			    xf_model_module(m, k)->name);
			xf_writer_float(w, key, module_dist[k]);
		}
	}
	if (opt->mode == XF_INTERP_GRADIENT) {
		xf_writer_float(w, "grad_norm", s->grad_norm);
		xf_writer_float(w, "grad_change_max", s->grad_change_max);
		xf_writer_float(w, "lipschitz_max", s->lipschitz_max);
	}
	tool_record_end(w, path);
}

static void
parse_range(const char *arg, double *lo, double *hi)
{
	char *copy = strdup(arg), *colon;

	if (copy == NULL)
		err(1, NULL);
	if ((colon = strchr(copy, ':')) == NULL)
		errx(2, "--range %s: want LO:HI", arg);
	*colon = 0;
	*lo = tool_float("--range", copy, -1e6, 1e6);
	*hi = tool_float("--range", colon + 1, -1e6, 1e6);
	if (!(*lo < *hi))
		errx(2, "--range %s: want LO < HI", arg);
	free(copy);
}

static void
read_data(const char *path, struct xf_dataset *d, const struct xf_model *m,
    const char *mpath)
{
	struct xf_err e;

	if (xf_dataset_read(path, d, &e) < 0)
		errx(1, "%s: %s", tool_in_name(path), e.msg);
	if (xf_model_check_input(m, d->c, d->h, d->w, d->n_classes, &e) < 0)
		errx(1, "%s: %s: %s", tool_in_name(path), mpath, e.msg);
}

/* What the options ask for. */
struct run {
	struct xf_interp opt;
	const char *paths[2], *out, *summary, *bn_data, *data;
	int nm, have_range;
};

/* The combinations of options that make no sense: exit 2. */
static void
check_options(struct run *r)
{
	struct xf_interp *opt = &r->opt;

	if (opt->mode == XF_INTERP_LINE && r->nm != 2)
		errx(2, "--direction line: give two models");
	if (opt->mode != XF_INTERP_LINE && r->nm != 1)
		errx(2, "--direction %s: give one model",
		    xf_interp_mode_name(opt->mode));
	if (r->bn_data != NULL && opt->bn != XF_BN_RESET)
		errx(2, "--bn-data: only with --bn reset");
	if (opt->biasbn && opt->mode != XF_INTERP_RANDOM &&
	    opt->mode != XF_INTERP_PLANE)
		errx(2, "--biasbn: only with --direction random or plane");
	if (!r->have_range && (opt->mode == XF_INTERP_RANDOM ||
	    opt->mode == XF_INTERP_PLANE))
		opt->lo = -1;
	if (opt->mode == XF_INTERP_PLANE && (size_t)opt->points * opt->points >
	    1000000)
		errx(2, "-n %d: a plane of at most 1000 by 1000", opt->points);
	if (r->bn_data != NULL && strcmp(r->bn_data, "-") == 0 &&
	    strcmp(r->data, "-") == 0)
		errx(2, "--bn-data -: the data already comes from stdin");
}

static void
interp(struct run *r, const char *self)
{
	struct xf_interp *opt = &r->opt;
	struct xf_dataset d = { 0 }, bd = { 0 };
	struct xf_model *ma, *mb;
	struct xf_interp_point *pts;
	struct xf_interp_summary s;
	struct xf_err e;
	float *a, *b = NULL;
	size_t n_snap;
	double dist = 0, *module_dist;

	ma = tool_model_load(r->paths[0]);
	if ((a = xf_model_snapshot(ma, &n_snap)) == NULL)
		err(1, NULL);
	if (r->nm == 2) {
		mb = tool_model_load(r->paths[1]);
		if (xf_model_same_arch(ma, mb, &e) < 0)
			errx(1, "%s: %s (the architecture of %s)", r->paths[1], e.msg,
			    r->paths[0]);
		if (xf_model_same_input(ma, mb, &e) < 0)
			errx(1, "%s: %s (the input of %s)", r->paths[1], e.msg,
			    r->paths[0]);
		if ((b = xf_model_snapshot(mb, &n_snap)) == NULL)
			err(1, NULL);
		xf_model_free(mb);
	}
	read_data(r->data, &d, ma, r->paths[0]);
	if (r->bn_data != NULL) {
		read_data(r->bn_data, &bd, ma, r->paths[0]);
		opt->bn_data = &bd;
	}
	if ((module_dist = calloc(xf_model_n_modules(ma), sizeof *module_dist))
	    == NULL ||
	    (pts = calloc(xf_interp_n_points(opt), sizeof *pts)) == NULL)
		err(1, NULL);
	if (b != NULL)
		dist = xf_params_distance(ma, a, b, module_dist);

	/* The ensemble is a mixture only for λ in [0, 1]. */
	struct xf_ensemble ens = { 0 };
	int with_ens = opt->mode == XF_INTERP_LINE && opt->lo >= 0 &&
	    opt->hi <= 1;
	if (with_ens && xf_ensemble_init(&ens, ma, a, b, &d, opt->batch, &e) < 0)
		errx(1, "%s: %s", r->paths[0], e.msg);
	struct out o = { NULL, r->out, opt->mode, with_ens ? &ens : NULL };
	o.w = tool_table_open(r->out, "interp", &d.header, self);
	if (xf_interp_run(ma, a, b, &d, opt, pts, emit, &o, &e) < 0)
		errx(1, "%s: %s", r->paths[0], e.msg);
	xf_interp_summarise(opt, pts, xf_interp_n_points(opt), &s);
	tool_writer_close(o.w, r->out);
	if (r->summary != NULL) {
		struct xf_writer *sw = tool_table_open(r->summary, "interp-summary",
		    &d.header, self);

		write_summary(sw, r->summary, opt, &s, ma, dist, module_dist);
		tool_writer_close(sw, r->summary);
	}
	xf_ensemble_free(&ens);
	xf_model_free(ma);
	xf_dataset_free(&d);
	xf_dataset_free(&bd);
	free(a);
	free(b);
	free(pts);
	free(module_dist);
}

int
main(int argc, char **argv)
{
	enum { O_BIASBN = 256, O_BN, O_BN_DATA, O_DIRECTION, O_POINTS, O_RANGE,
	    O_SUMMARY };
	static const struct option longopts[] = {
		{ "biasbn", no_argument, NULL, O_BIASBN },
		{ "bn", required_argument, NULL, O_BN },
		{ "bn-data", required_argument, NULL, O_BN_DATA },
		{ "direction", required_argument, NULL, O_DIRECTION },
		{ "points", required_argument, NULL, 'n' },
		{ "range", required_argument, NULL, O_RANGE },
		{ "summary", required_argument, NULL, O_SUMMARY },
		{ NULL, 0, NULL, 0 }
	};
	struct run r = { .opt = XF_INTERP_DEFAULTS };
	struct xf_interp *opt = &r.opt;
	const char *jarg = NULL;
	int ch;
	char *self = xf_prov_argv(argc, argv);

	while ((ch = getopt_long(argc, argv, "b:j:m:n:o:s:", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'b': opt->batch = (int)tool_int("-b", optarg, 1, 65536); break;
		case 'j': jarg = optarg; break;
		case 'm':
			if (r.nm == 2)
				errx(2, "-m: at most 2 models");
			r.paths[r.nm++] = optarg;
			break;
		case 'n': opt->points = (int)tool_int("-n", optarg, 2, 100000); break;
		case 'o': r.out = optarg; break;
		case 's':
			opt->seed = (uint64_t)tool_int("-s", optarg, 0, INT64_MAX);
			break;
		case O_BIASBN: opt->biasbn = 1; break;
		case O_BN:
			if (xf_bn_mode_parse(optarg, &opt->bn) < 0)
				errx(2, "--bn %s: want interp or reset", optarg);
			break;
		case O_BN_DATA: r.bn_data = optarg; break;
		case O_DIRECTION:
			if (xf_interp_mode_parse(optarg, &opt->mode) < 0)
				errx(2, "--direction %s: want line, random, plane or "
				    "gradient", optarg);
			break;
		case O_RANGE:
			parse_range(optarg, &opt->lo, &opt->hi);
			r.have_range = 1;
			break;
		case O_SUMMARY: r.summary = optarg; break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1 || r.nm == 0)
		usage();
	r.data = argc == 1 ? argv[0] : "-";
	check_options(&r);
	xf_nn_set_threads(tool_threads(jarg));
	interp(&r, self);
	free(self);
	return 0;
}
