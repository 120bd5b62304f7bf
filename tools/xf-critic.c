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

/* One summary record; r is NULL for the network's. */
static void
summary_record(struct xf_writer *w, const char *path, const char *name,
    const struct xf_critic_module *r, const struct xf_critic_cell *best,
    size_t params, double dist, double weight_norm, double eps,
    int n_feasible, double mu, double ref_loss, double ref_error)
{
	xf_writer_begin(w, 13);
	xf_writer_str(w, "module", name);
	xf_writer_int(w, "params", (int64_t)params);
	xf_writer_float(w, "dist", dist);
	xf_writer_float(w, "weight_norm", weight_norm);
	xf_writer_float(w, "sigma_scale", r ? r->sigma_scale : NAN);
	xf_writer_float(w, "final_loss", ref_loss);
	xf_writer_float(w, "final_error", ref_error);
	xf_writer_float(w, "eps", eps);
	xf_writer_int(w, "feasible", n_feasible);
	xf_writer_float(w, "mu", mu);
	xf_writer_float(w, "alpha", best ? best->alpha : NAN);
	xf_writer_float(w, "sigma", best ? best->sigma : NAN);
	xf_writer_float(w, "error", best ? best->error : NAN);
	tool_record_end(w, path);
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
	struct xf_critic opt = XF_CRITIC_DEFAULTS;
	const char *init = NULL, *final = NULL, *out = NULL, *summary = NULL;
	const char *modules = NULL, *jarg = NULL, *data;
	int ch, verbose = 0, have_eps = 0, workers = 0, threads, n_sel = 0;
	int *sel;
	struct xf_dataset d = { 0 };
	struct xf_model *m0, *m;
	struct xf_critic_cell *cells;
	struct xf_critic_module *res;
	struct xf_writer *w, *sw = NULL;
	struct xf_err e;
	double ref_loss, ref_error, total_mu = 0, total_d2 = 0, total_w2 = 0;
	size_t total_params = 0, n_snap;
	int total_feasible = 0;
	float *theta0;
	char *self = xf_prov_argv(argc, argv);

	while ((ch = getopt_long(argc, argv, "b:j:k:m:o:s:v", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'b': opt.batch = (int)tool_int("-b", optarg, 1, 65536); break;
		case 'j': jarg = optarg; break;
		case 'k': opt.draws = (int)tool_int("-k", optarg, 1, 10000); break;
		case 'm': final = optarg; break;
		case 'o': out = optarg; break;
		case 's':
			opt.seed = (uint64_t)tool_int("-s", optarg, 0, INT64_MAX);
			break;
		case 'v': verbose = 1; break;
		case O_ALPHAS:
			opt.n_alpha = (int)tool_int("--alphas", optarg, 2, 1000);
			break;
		case O_EPS:
			if (have_eps++)
				errx(2, "--eps, --eps-abs: give one");
			opt.eps_rel = tool_float("--eps", optarg, 0, 1e6);
			break;
		case O_EPS_ABS:
			if (have_eps++)
				errx(2, "--eps, --eps-abs: give one");
			opt.eps_abs = tool_float("--eps-abs", optarg, 0, 1e6);
			break;
		case O_INIT: init = optarg; break;
		case O_LOSS: opt.objective = XF_CRITIC_LOSS; break;
		case O_MODULES: modules = optarg; break;
		case O_RELATIVE: opt.relative = 1; break;
		case O_SIGMA_MAX:
			opt.sigma_max = tool_float("--sigma-max", optarg, 1e-30, 1e6);
			if (opt.sigma_max <= 0)
				errx(2, "--sigma-max %s: want a number above 0", optarg);
			break;
		case O_SIGMAS:
			opt.n_sigma = (int)tool_int("--sigmas", optarg, 2, 1000);
			break;
		case O_SUMMARY: summary = optarg; break;
		case O_WORKERS:
			workers = (int)tool_int("--workers", optarg, 1, XF_NN_PARTS);
			break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1 || init == NULL || final == NULL)
		usage();
	data = argc == 1 ? argv[0] : "-";
	/*
	 * Cells on separate model copies beat the engine's threads inside one
	 * forward (small layers above the module leave the engine idle), so
	 * by default every thread is a worker with a one-thread engine.
	 */
	threads = tool_threads(jarg);
	opt.workers = workers ? workers : threads;
	xf_nn_set_threads(opt.workers > 1 ? 1 : threads);

	m0 = tool_model_load(init);
	m = tool_model_load(final);
	if (xf_model_same_arch(m, m0, &e) < 0)
		errx(1, "%s: %s (the architecture of %s)", init, e.msg, final);
	if ((theta0 = xf_model_snapshot(m0, &n_snap)) == NULL)
		err(1, NULL);
	xf_model_free(m0);
	if (xf_dataset_read(data, &d, &e) < 0)
		errx(1, "%s: %s", tool_in_name(data), e.msg);
	if (xf_model_check_input(m, d.c, d.h, d.w, d.n_classes, &e) < 0)
		errx(1, "%s: %s: %s", tool_in_name(data), final, e.msg);

	if ((sel = calloc(xf_model_n_modules(m), sizeof *sel)) == NULL)
		err(1, NULL);
	if (modules != NULL) {
		char *list = strdup(modules), *p = list, *tok;

		if (list == NULL)
			err(1, NULL);
		while ((tok = strsep(&p, ",")) != NULL) {
			int k = xf_model_find_module(m, tok);

			if (k < 0)
				errx(2, "--modules %s: %s has no module %s", modules,
				    final, tok);
			for (int i = 0; i < n_sel; i++)
				if (sel[i] == k)
					errx(2, "--modules %s: %s twice", modules, tok);
			sel[n_sel++] = k;
		}
		free(list);
	} else
		for (n_sel = 0; n_sel < xf_model_n_modules(m); n_sel++)
			sel[n_sel] = n_sel;

	if (xf_critic_reference(m, &d, opt.batch, &ref_loss, &ref_error, &e) < 0)
		errx(1, "%s: %s", final, e.msg);
	if ((cells = calloc((size_t)opt.n_alpha * opt.n_sigma, sizeof *cells)) ==
	    NULL || (res = calloc(n_sel, sizeof *res)) == NULL)
		err(1, NULL);
	w = tool_table_open(out, "critic", &d.header, self);
	if (summary != NULL)
		sw = tool_table_open(summary, "critic-summary", &d.header, self);
	if (verbose)
		fprintf(stderr, "xf-critic: %s: loss %.6g, error %.6g on %zu "
		    "examples; %d workers\n", final, ref_loss, ref_error, d.n,
		    opt.workers);
	for (int s = 0; s < n_sel; s++) {
		const char *name = xf_model_module(m, sel[s])->name;
		struct timespec t0, t1;
		const struct xf_critic_cell *best;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (xf_critic_module(m, theta0, &d, sel[s], &opt,
		    opt.objective == XF_CRITIC_LOSS ? ref_loss : ref_error, cells,
		    &res[s], &e) < 0)
			errx(1, "%s: module %s: %s", final, name, e.msg);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		for (int i = 0; i < opt.n_alpha * opt.n_sigma; i++) {
			const struct xf_critic_cell *c = &cells[i];

			xf_writer_begin(w, 7);
			xf_writer_str(w, "module", name);
			xf_writer_float(w, "alpha", c->alpha);
			xf_writer_float(w, "sigma", c->sigma);
			xf_writer_float(w, "loss", c->loss);
			xf_writer_float(w, "error", c->error);
			xf_writer_bool(w, "feasible", c->feasible);
			xf_writer_float(w, "mu", c->mu);
			tool_record_end(w, out);
		}
		best = res[s].best >= 0 ? &cells[res[s].best] : NULL;
		if (sw != NULL)
			summary_record(sw, summary, name, &res[s], best,
			    res[s].n_params, res[s].dist, res[s].weight_norm,
			    res[s].eps, res[s].n_feasible, res[s].mu, ref_loss,
			    ref_error);
		total_mu += res[s].mu;
		total_d2 += res[s].dist * res[s].dist;
		total_w2 += res[s].weight_norm * res[s].weight_norm;
		total_params += res[s].n_params;
		total_feasible += res[s].n_feasible;
		if (verbose) {
			double secs = (t1.tv_sec - t0.tv_sec) +
			    (t1.tv_nsec - t0.tv_nsec) / 1e9;

			fprintf(stderr, "xf-critic: %s: mu %.6g, %d of %d cells "
			    "feasible, %.1f s, %.2f cells/s\n", name, res[s].mu,
			    res[s].n_feasible, opt.n_alpha * opt.n_sigma, secs,
			    opt.n_alpha * opt.n_sigma / secs);
		}
	}
	if (sw != NULL) {
		summary_record(sw, summary, "network", NULL, NULL, total_params,
		    sqrt(total_d2), sqrt(total_w2), res[0].eps, total_feasible,
		    total_mu, ref_loss, ref_error);
		tool_writer_close(sw, summary);
	}
	if (verbose)
		fprintf(stderr, "xf-critic: network: mu %.6g\n", total_mu);
	tool_writer_close(w, out);
	xf_model_free(m);
	xf_dataset_free(&d);
	free(theta0);
	free(cells);
	free(res);
	free(sel);
	free(self);
	return 0;
}
