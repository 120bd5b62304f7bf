/*
 * xf-hessian: the top eigenvalues and the trace of the Hessian of the
 * training loss of a model on given data, for the whole network and per
 * module: the flatness figures of PyHessian.
 */
#include <err.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hessian.h"
#include "landscape.h"
#include "tool.h"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: xf-hessian [-b batch] [-j threads] [-k top] [-o out] "
	    "[-s seed] [--draws m]\n"
	    "                  [--iterations n] [--modules list|all] "
	    "[--step h] [--tol t]\n"
	    "                  -m ckpt [file]\n"
	    "       xf-hessian [-b batch] [-j threads] [--step h] "
	    "--hvp direction -o out\n"
	    "                  -m ckpt [file]\n");
	exit(2);
}

/* One output record, kept until every block is computed, so that a failure
 * leaves no partial table. */
struct rec {
	const char *module, *what;
	size_t params;
	int index, steps;
	double value, error;
};

static void
emit(struct xf_writer *w, const char *out, const struct rec *r)
{
	xf_writer_begin(w, 7);
	xf_writer_str(w, "module", r->module);
	xf_writer_int(w, "params", (int64_t)r->params);
	xf_writer_str(w, "quantity", r->what);
	xf_writer_int(w, "index", r->index);
	xf_writer_float(w, "value", r->value);
	xf_writer_float(w, "error", r->error);
	xf_writer_int(w, "steps", r->steps);
	tool_record_end(w, out);
}

/* One block, the whole network (k < 0) or module k, appended to *recs. */
static void
block(struct rec **recs, int *n_recs, const char *path, struct xf_model *m,
    const struct xf_dataset *d, int k, const struct xf_hessian_opts *o)
{
	const char *name = k < 0 ? "all" : xf_model_module(m, k)->name;
	double *eig = calloc(o->k + 1, sizeof *eig);
	double *resid = calloc(o->k + 1, sizeof *resid);
	struct xf_hessian_result r = { .eig = eig, .resid = resid };
	struct xf_err e;

	*recs = realloc(*recs, (*n_recs + o->k + 1) * sizeof **recs);
	if (eig == NULL || resid == NULL || *recs == NULL)
		err(1, NULL);
	if (xf_hessian(&r, m, d, k, o, &e) < 0)
		errx(1, "%s: %s: %s", path, name, e.msg);
	for (int i = 0; i < o->k; i++)
		(*recs)[(*n_recs)++] = (struct rec){ name, "eigenvalue", r.params,
		    i + 1, r.steps, eig[i], resid[i] };
	if (o->draws > 0)
		(*recs)[(*n_recs)++] = (struct rec){ name, "trace", r.params, 0,
		    o->draws, r.trace, r.trace_se };
	free(eig);
	free(resid);
}

/* --hvp: H v for v the parameters of the checkpoint dir, written as a
 * checkpoint of the same architecture whose parameters are H v. */
static void
hvp_mode(const char *out, const char *dir, const char *path, struct xf_model *m,
    const struct xf_dataset *d, const struct xf_hessian_opts *o)
{
	struct xf_model *v = tool_model_load(dir);
	struct xf_ckpt c = { 0 };
	struct xf_err e;
	size_t n;
	float *pv = xf_model_params(v, &n);
	double *x = malloc(n * sizeof *x), *hx = malloc(n * sizeof *hx);

	if (x == NULL || hx == NULL)
		err(1, NULL);
	if (xf_model_same_arch(m, v, &e) < 0)
		errx(1, "%s: %s", dir, e.msg);
	for (size_t j = 0; j < n; j++)
		x[j] = pv[j];
	if (xf_hessian_hvp(hx, m, d, -1, x, o, &e) < 0)
		errx(1, "%s: %s", path, e.msg);
	for (size_t j = 0; j < n; j++)
		pv[j] = (float)hx[j];
	if (xf_model_to_ckpt(v, NULL, &c, &e) < 0)
		errx(1, "%s: %s", out, e.msg);
	if (xf_ckpt_write(out, &c, &e) < 0)
		tool_write_failed(tool_out_name(out), &e);
	xf_ckpt_free(&c);
	xf_model_free(v);
	free(x);
	free(hx);
}

int
main(int argc, char **argv)
{
	enum { O_DRAWS = 256, O_HVP, O_ITERATIONS, O_MODULES, O_STEP, O_TOL };
	static const struct option longopts[] = {
		{ "draws", required_argument, NULL, O_DRAWS },
		{ "hvp", required_argument, NULL, O_HVP },
		{ "iterations", required_argument, NULL, O_ITERATIONS },
		{ "modules", required_argument, NULL, O_MODULES },
		{ "step", required_argument, NULL, O_STEP },
		{ "tol", required_argument, NULL, O_TOL },
		{ NULL, 0, NULL, 0 }
	};
	struct xf_hessian_opts o = XF_HESSIAN_DEFAULTS;
	const char *path = NULL, *out = NULL, *jarg = NULL, *modules = NULL;
	const char *data, *hvp = NULL;
	struct xf_dataset d = { 0 };
	struct xf_model *m;
	struct xf_header h = { .kind = "hessian", .count = -1 };
	struct xf_writer *w;
	struct xf_err e;
	char *self = xf_prov_argv(argc, argv);
	struct rec *recs = NULL;
	int ch, n_recs = 0;

	while ((ch = getopt_long(argc, argv, "b:j:k:m:o:s:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'b': o.batch = (int)tool_int("-b", optarg, 1, 65536); break;
		case 'j': jarg = optarg; break;
		case 'k': o.k = (int)tool_int("-k", optarg, 0, 100); break;
		case 'm': path = optarg; break;
		case 'o': out = optarg; break;
		case 's': o.seed = (uint64_t)tool_int("-s", optarg, 0, 1LL << 62); break;
		case O_DRAWS: o.draws = (int)tool_int("--draws", optarg, 2, 100000); break;
		case O_HVP: hvp = optarg; break;
		case O_ITERATIONS: o.iterations = (int)tool_int("--iterations", optarg, 1, 10000); break;
		case O_MODULES: modules = optarg; break;
		/* --step: parsed and ignored, the products are exact. */
		case O_STEP: o.step = tool_float("--step", optarg, 1e-8, 1); break;
		case O_TOL: o.tol = tool_float("--tol", optarg, 1e-12, 1); break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (path == NULL || argc > 1 || (hvp != NULL && (out == NULL || modules)))
		usage();
	if (o.k == 0 && o.draws == 0)
		errx(2, "-k 0 without --draws: nothing to compute");
	if (o.k > o.iterations)
		errx(2, "-k %d: more than --iterations %d", o.k, o.iterations);
	data = argc == 1 ? argv[0] : "-";
	xf_nn_set_threads(tool_threads(jarg));
	m = tool_model_load(path);
	if (xf_dataset_read(data, &d, &e) < 0)
		errx(1, "%s: %s", tool_in_name(data), e.msg);
	if (xf_model_check_input(m, d.c, d.h, d.w, d.n_classes, &e) < 0)
		errx(1, "%s: %s: %s", tool_in_name(data), path, e.msg);

	if (hvp != NULL) {
		hvp_mode(out, hvp, path, m, &d, &o);
		goto done;
	}
	block(&recs, &n_recs, path, m, &d, -1, &o);
	if (modules != NULL && strcmp(modules, "all") == 0) {
		for (int k = 0; k < xf_model_n_modules(m); k++)
			block(&recs, &n_recs, path, m, &d, k, &o);
	} else if (modules != NULL) {
		char *list = strdup(modules), *p = list, *tok;

		while ((tok = strsep(&p, ",")) != NULL) {
			int k = xf_model_find_module(m, tok);

			if (k < 0)
				errx(2, "--modules %s: %s has no module %s", modules,
				    path, tok);
			block(&recs, &n_recs, path, m, &d, k, &o);
		}
		free(list);
	}
	xf_header_add_prov(&h, self);
	w = tool_writer_open(out, &h);
	for (int i = 0; i < n_recs; i++)
		emit(w, out, &recs[i]);
	tool_writer_close(w, out);
	free(recs);
done:
	xf_model_free(m);
	xf_dataset_free(&d);
	xf_header_free(&h);
	free(self);
	return 0;
}
