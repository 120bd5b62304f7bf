/*
 * xf-critic: module criticality (Chatterji, Neyshabur, Sedghi 2020): the
 * error of the network over an (α, σ) grid that moves one module back
 * towards its initial weights with Gaussian noise, and the criticality
 * number per module and for the network.
 */
#include <err.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "landscape.h"
#include "tool.h"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: xf-critic [-v] [-b batch] [-j threads] [-k draws] [-o out] "
	    "[-s seed]\n"
	    "                 [--alphas n] [--eps x | --eps-abs x] [--loss] "
	    "[--modules list]\n"
	    "                 [--relative] [--sigma-max s] [--sigmas n] "
	    "[--summary file]\n"
	    "                 [--workers n] --init ckpt -m ckpt [file]\n");
	exit(2);
}

/* What the options ask for. */
struct run {
	struct xf_critic opt;
	const char *init, *final, *out, *summary, *modules, *data;
	int verbose;
};

/* One summary record: a module's, or the network's totals. */
static void
summary_record(struct xf_writer *w, const char *path, const char *name,
    const struct xf_critic_module *r, const struct xf_critic_cell *best,
    double ref_loss, double ref_error)
{
	xf_writer_begin(w, 13);
	xf_writer_str(w, "module", name);
	xf_writer_int(w, "params", (int64_t)r->n_params);
	xf_writer_float(w, "dist", r->dist);
	xf_writer_float(w, "weight_norm", r->weight_norm);
	xf_writer_float(w, "sigma_scale", r->sigma_scale);
	xf_writer_float(w, "final_loss", ref_loss);
	xf_writer_float(w, "final_error", ref_error);
	xf_writer_float(w, "eps", r->eps);
	xf_writer_int(w, "feasible", r->n_feasible);
	xf_writer_float(w, "mu", r->mu);
	xf_writer_float(w, "alpha", best ? best->alpha : NAN);
	xf_writer_float(w, "sigma", best ? best->sigma : NAN);
	xf_writer_float(w, "error", best ? best->error : NAN);
	tool_record_end(w, path);
}

/* The grid of one module: a record per cell. */
static void
grid_records(struct xf_writer *w, const char *path, const char *name,
    const struct xf_critic_cell *cells, int n)
{
	for (int i = 0; i < n; i++) {
		const struct xf_critic_cell *c = &cells[i];

		xf_writer_begin(w, 7);
		xf_writer_str(w, "module", name);
		xf_writer_float(w, "alpha", c->alpha);
		xf_writer_float(w, "sigma", c->sigma);
		xf_writer_float(w, "loss", c->loss);
		xf_writer_float(w, "error", c->error);
		xf_writer_bool(w, "feasible", c->feasible);
		xf_writer_float(w, "mu", c->mu);
		tool_record_end(w, path);
	}
}

/* The modules to move: those in --modules, or every module with
 * parameters (a residual block has none of its own: its convs and batch
 * norms are modules of their own). */
static int *
pick_modules(const struct run *r, const struct xf_model *m, int *n_sel)
{
	int *sel;

	if ((sel = calloc(xf_model_n_modules(m), sizeof *sel)) == NULL)
		err(1, NULL);
	*n_sel = 0;
	if (r->modules != NULL) {
		*n_sel = tool_modules(m, r->final, "--modules", r->modules, 1, sel,
		    xf_model_n_modules(m));
		for (int s = 0; s < *n_sel; s++)
			if (xf_model_module(m, sel[s])->n_tensors == 0)
				errx(2, "--modules %s: %s is a residual block, with no "
				    "parameters of its own: name its convs",
				    r->modules, xf_model_module(m, sel[s])->name);
	} else
		for (int k = 0; k < xf_model_n_modules(m); k++)
			if (xf_model_module(m, k)->n_tensors > 0)
				sel[(*n_sel)++] = k;
	return sel;
}

static void
critic(const struct run *r, const char *self)
{
	const struct xf_critic *opt = &r->opt;
	int n_cells = opt->n_alpha * opt->n_sigma, n_sel, *sel;
	struct xf_dataset d = { 0 };
	struct xf_model *m0, *m;
	struct xf_critic_cell *cells;
	struct xf_critic_module *res, net;
	struct xf_writer *w, *sw = NULL;
	struct xf_err e;
	double ref_loss, ref_error;
	size_t n_snap;
	float *theta0;

	m0 = tool_model_load(r->init);
	m = tool_model_load(r->final);
	if (xf_model_same_arch(m, m0, &e) < 0)
		errx(1, "%s: %s (the architecture of %s)", r->init, e.msg, r->final);
	if (xf_model_same_input(m, m0, &e) < 0)
		errx(1, "%s: %s (the input of %s)", r->init, e.msg, r->final);
	if ((theta0 = xf_model_snapshot(m0, &n_snap)) == NULL)
		err(1, NULL);
	xf_model_free(m0);
	if (xf_dataset_read(r->data, &d, &e) < 0)
		errx(1, "%s: %s", tool_in_name(r->data), e.msg);
	if (xf_model_check_input(m, d.c, d.h, d.w, d.n_classes, &e) < 0)
		errx(1, "%s: %s: %s", tool_in_name(r->data), r->final, e.msg);
	sel = pick_modules(r, m, &n_sel);

	if (xf_critic_reference(m, &d, opt->batch, &ref_loss, &ref_error, &e) < 0)
		errx(1, "%s: %s", r->final, e.msg);
	if ((cells = calloc((size_t)n_cells, sizeof *cells)) == NULL ||
	    (res = calloc(n_sel, sizeof *res)) == NULL)
		err(1, NULL);
	w = tool_table_open(r->out, "critic", &d.header, self);
	if (r->summary != NULL)
		sw = tool_table_open(r->summary, "critic-summary", &d.header, self);
	if (r->verbose)
		fprintf(stderr, "xf-critic: %s: loss %.6g, error %.6g on %zu "
		    "examples; %d workers\n", r->final, ref_loss, ref_error, d.n,
		    opt->workers);
	for (int s = 0; s < n_sel; s++) {
		const char *name = xf_model_module(m, sel[s])->name;
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (xf_critic_module(m, theta0, &d, sel[s], opt,
		    opt->objective == XF_CRITIC_LOSS ? ref_loss : ref_error, cells,
		    &res[s], &e) < 0)
			errx(1, "%s: module %s: %s", r->final, name, e.msg);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		grid_records(w, r->out, name, cells, n_cells);
		if (sw != NULL)
			summary_record(sw, r->summary, name, &res[s], res[s].best >= 0 ?
			    &cells[res[s].best] : NULL, ref_loss, ref_error);
		if (r->verbose) {
			double secs = (t1.tv_sec - t0.tv_sec) +
			    (t1.tv_nsec - t0.tv_nsec) / 1e9;

			fprintf(stderr, "xf-critic: %s: mu %.6g, %d of %d cells "
			    "feasible, %.1f s, %.2f cells/s\n", name, res[s].mu,
			    res[s].n_feasible, n_cells, secs, n_cells / secs);
		}
	}
	xf_critic_network(&net, res, n_sel);
	if (sw != NULL) {
		summary_record(sw, r->summary, "network", &net, NULL, ref_loss,
		    ref_error);
		tool_writer_close(sw, r->summary);
	}
	if (r->verbose)
		fprintf(stderr, "xf-critic: network: mu %.6g\n", net.mu);
	tool_writer_close(w, r->out);
	xf_model_free(m);
	xf_dataset_free(&d);
	free(theta0);
	free(cells);
	free(res);
	free(sel);
}

int
main(int argc, char **argv)
{
	enum { O_ALPHAS = 256, O_EPS, O_EPS_ABS, O_INIT, O_LOSS, O_MODULES,
	    O_RELATIVE, O_SIGMA_MAX, O_SIGMAS, O_SUMMARY, O_WORKERS };
	static const struct option longopts[] = {
		{ "alphas", required_argument, NULL, O_ALPHAS },
		{ "eps", required_argument, NULL, O_EPS },
		{ "eps-abs", required_argument, NULL, O_EPS_ABS },
		{ "init", required_argument, NULL, O_INIT },
		{ "loss", no_argument, NULL, O_LOSS },
		{ "modules", required_argument, NULL, O_MODULES },
		{ "relative", no_argument, NULL, O_RELATIVE },
		{ "sigma-max", required_argument, NULL, O_SIGMA_MAX },
		{ "sigmas", required_argument, NULL, O_SIGMAS },
		{ "summary", required_argument, NULL, O_SUMMARY },
		{ "workers", required_argument, NULL, O_WORKERS },
		{ NULL, 0, NULL, 0 }
	};
	struct run r = { .opt = XF_CRITIC_DEFAULTS };
	struct xf_critic *opt = &r.opt;
	const char *jarg = NULL;
	int ch, have_eps = 0, workers = 0, threads;
	char *self = xf_prov_argv(argc, argv);

	while ((ch = getopt_long(argc, argv, "b:j:k:m:o:s:v", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'b': opt->batch = (int)tool_int("-b", optarg, 1, 65536); break;
		case 'j': jarg = optarg; break;
		case 'k': opt->draws = (int)tool_int("-k", optarg, 1, 10000); break;
		case 'm': r.final = optarg; break;
		case 'o': r.out = optarg; break;
		case 's':
			opt->seed = (uint64_t)tool_int("-s", optarg, 0, INT64_MAX);
			break;
		case 'v': r.verbose = 1; break;
		case O_ALPHAS:
			opt->n_alpha = (int)tool_int("--alphas", optarg, 2, 1000);
			break;
		case O_EPS:
			if (have_eps++)
				errx(2, "--eps, --eps-abs: give one");
			opt->eps_rel = tool_float("--eps", optarg, 0, 1e6);
			break;
		case O_EPS_ABS:
			if (have_eps++)
				errx(2, "--eps, --eps-abs: give one");
			opt->eps_abs = tool_float("--eps-abs", optarg, 0, 1e6);
			break;
		case O_INIT: r.init = optarg; break;
		case O_LOSS: opt->objective = XF_CRITIC_LOSS; break;
		case O_MODULES: r.modules = optarg; break;
		case O_RELATIVE: opt->relative = 1; break;
		case O_SIGMA_MAX:
			opt->sigma_max = tool_float("--sigma-max", optarg, 1e-30, 1e6);
			if (opt->sigma_max <= 0)
				errx(2, "--sigma-max %s: want a number above 0", optarg);
			break;
		case O_SIGMAS:
			opt->n_sigma = (int)tool_int("--sigmas", optarg, 2, 1000);
			break;
		case O_SUMMARY: r.summary = optarg; break;
		case O_WORKERS:
			workers = (int)tool_int("--workers", optarg, 1, XF_NN_PARTS);
			break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1 || r.init == NULL || r.final == NULL)
		usage();
	r.data = argc == 1 ? argv[0] : "-";
	/*
	 * Cells on separate model copies beat the engine's threads inside one
	 * forward (small layers above the module leave the engine idle), so
	 * by default every thread is a worker with a one-thread engine.
	 */
	threads = tool_threads(jarg);
	opt->workers = workers ? workers : threads;
	xf_nn_set_threads(opt->workers > 1 ? 1 : threads);
	critic(&r, self);
	free(self);
	return 0;
}
