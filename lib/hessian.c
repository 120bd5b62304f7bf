/*
 * hessian.c: exact Hessian-vector products (the R-op of rop.c) over the
 * data, Lanczos and Hutchinson on them; see hessian.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hessian.h"
#include "linalg.h"

struct hvp {
	struct xf_model *m;
	const struct xf_dataset *d;
	const struct xf_hessian_opts *o;
	size_t lo, len, n_params;
	float *v, *hv;	/* (n_params) the direction and one batch's H v */
};

/* Module k's parameters: its own tensors, or for a residual block (a module
 * of no tensors) those of every module in its group. */
static int
in_block(const struct xf_model *m, int k, int module)
{
	const struct xf_module *b;

	if (k < 0 || module == k)
		return 1;
	b = xf_model_module(m, k);
	return b->kind == XF_MODULE_BLOCK &&
	    xf_model_module(m, module)->group == b->group;
}

void
xf_hessian_block(const struct xf_model *m, int k, size_t *lo, size_t *len)
{
	size_t off = 0;

	*lo = 0;
	*len = 0;
	for (int i = 0; i < xf_model_n_tensors(m); i++) {
		const struct xf_model_tensor *t = xf_model_tensor(m, i);

		if (!t->is_param)
			continue;
		if (in_block(m, k, t->module)) {
			if (*len == 0)
				*lo = off;
			*len += t->count;
		}
		off += t->count;
	}
}

/* hv (len) = H v over the block: the batches' exact products (R-op, in
 * float32) summed in double, each weighted by its share of the mean. */
static int
apply(double *hv, struct hvp *c, const double *v, struct xf_err *err)
{
	const struct xf_dataset *d = c->d;
	size_t img = (size_t)d->c * d->h * d->w;

	memset(c->v, 0, c->n_params * sizeof *c->v);
	for (size_t j = 0; j < c->len; j++)
		c->v[c->lo + j] = (float)v[j];
	memset(hv, 0, c->len * sizeof *hv);
	for (size_t at = 0; at < d->n; at += c->o->batch) {
		int b = d->n - at < (size_t)c->o->batch ? (int)(d->n - at) :
		    c->o->batch;
		double share = (double)b / (double)d->n;

		if (xf_model_forward(c->m, d->x + at * img, d->y + at, b, 0, NULL,
		    err) < 0)
			return -1;
		memset(c->hv, 0, c->n_params * sizeof *c->hv);
		if (xf_model_hvp(c->m, c->hv, c->v, err) < 0)
			return -1;
		for (size_t j = 0; j < c->len; j++)
			hv[j] += share * c->hv[c->lo + j];
	}
	return 0;
}

static void
hvp_free(struct hvp *c)
{
	free(c->v);
	free(c->hv);
}

static int
hvp_init(struct hvp *c, struct xf_model *m, const struct xf_dataset *d,
    int k, const struct xf_hessian_opts *o, struct xf_err *err)
{
	memset(c, 0, sizeof *c);
	if (d->n == 0)
		return xf_errf(err, "no examples");
	c->m = m;
	c->d = d;
	c->o = o;
	xf_hessian_block(m, k, &c->lo, &c->len);
	if (c->len == 0)
		return xf_errf(err, "module %s has no parameters",
		    xf_model_module(m, k)->name);
	xf_model_params(m, &c->n_params);
	c->v = malloc(c->n_params * sizeof *c->v);
	c->hv = malloc(c->n_params * sizeof *c->hv);
	if (c->v == NULL || c->hv == NULL) {
		hvp_free(c);
		return xf_errf(err, "out of memory for %zu parameters",
		    c->n_params);
	}
	return 0;
}

int
xf_hessian_hvp(double *hv, struct xf_model *m, const struct xf_dataset *d,
    int k, const double *v, const struct xf_hessian_opts *opts,
    struct xf_err *err)
{
	struct hvp c;
	int r;

	if (hvp_init(&c, m, d, k, opts, err) < 0)
		return -1;
	r = apply(hv, &c, v, err);
	hvp_free(&c);
	return r;
}

static double
dot(const double *a, const double *b, size_t n)
{
	double s = 0;

	for (size_t i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

/* Lanczos with full reorthogonalisation: the top k Ritz values. */
static int
lanczos(struct xf_hessian_result *r, struct hvp *c, struct xf_rng *rng,
    struct xf_err *err)
{
	const struct xf_hessian_opts *o = c->o;
	size_t n = c->len, steps = (size_t)o->iterations;
	double *q = NULL, *w = NULL, *alpha = NULL, *beta = NULL, *ritz = NULL;
	double *z = NULL, nrm;
	int ret = -1, k = o->k;

	if (steps > n)
		steps = n;
	q = malloc(steps * n * sizeof *q);
	w = malloc(n * sizeof *w);
	alpha = malloc(steps * sizeof *alpha);
	beta = malloc(steps * sizeof *beta);
	ritz = malloc(steps * sizeof *ritz);
	z = malloc(steps * steps * sizeof *z);
	if (!q || !w || !alpha || !beta || !ritz || !z) {
		xf_errf(err, "Lanczos: out of memory for %zu vectors of %zu",
		    steps, n);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		q[i] = xf_rng_normal(rng);
	nrm = sqrt(dot(q, q, n));
	for (size_t i = 0; i < n; i++)
		q[i] /= nrm;
	for (size_t j = 0; j < steps; j++) {
		double *qj = q + j * n, worst = 0, top;
		size_t m = j + 1;

		if (apply(w, c, qj, err) < 0)
			goto out;
		alpha[j] = dot(qj, w, n);
		/* Full reorthogonalisation, twice: in floating point the
		 * plain three-term recurrence loses orthogonality once a
		 * Ritz value converges, and repeats eigenvalues. */
		for (int pass = 0; pass < 2; pass++)
			for (size_t i = 0; i <= j; i++) {
				double h = dot(q + i * n, w, n);

				for (size_t l = 0; l < n; l++)
					w[l] -= h * q[i * n + l];
			}
		beta[j] = sqrt(dot(w, w, n));
		if (xf_tridiag_eig(ritz, z, alpha, beta, m, err) < 0)
			goto out;
		r->steps = (int)m;
		if (m < (size_t)k && m < n && beta[j] > 0)
			goto next;
		top = fmax(fabs(ritz[m - 1]), fabs(ritz[0]));
		for (int i = 0; i < k && (size_t)i < m; i++) {
			/* Ritz values ascend: the i-th largest is m - 1 - i. */
			size_t col = m - 1 - i;

			r->eig[i] = ritz[col];
			r->resid[i] = beta[j] * fabs(z[(m - 1) * m + col]);
			worst = fmax(worst, r->resid[i]);
		}
		if (worst <= o->tol * top || m == n || beta[j] == 0) {
			ret = 0;
			goto out;
		}
next:
		if (j + 1 < steps)
			for (size_t l = 0; l < n; l++)
				q[(j + 1) * n + l] = w[l] / beta[j];
	}
	xf_errf(err, "Lanczos did not converge in %zu steps: residual of the "
	    "top %d at %.3g of |lambda|, want %g (raise --iterations)", steps,
	    k, (r->resid[k - 1] > r->resid[0] ? r->resid[k - 1] : r->resid[0]) /
	    fmax(fabs(r->eig[0]), 1e-300), o->tol);
out:
	free(q);
	free(w);
	free(alpha);
	free(beta);
	free(ritz);
	free(z);
	return ret;
}

static int
hutchinson(struct xf_hessian_result *r, struct hvp *c, struct xf_rng *rng,
    struct xf_err *err)
{
	size_t n = c->len;
	double *v = malloc(n * sizeof *v), *hv = malloc(n * sizeof *hv);
	double sum = 0, sum2 = 0;
	int m = c->o->draws;

	if (v == NULL || hv == NULL) {
		free(v);
		free(hv);
		return xf_errf(err, "out of memory for %zu parameters", n);
	}
	for (int t = 0; t < m; t++) {
		double s;

		for (size_t i = 0; i < n; i++)
			v[i] = xf_rng_next(rng) >> 63 ? 1.0 : -1.0;
		if (apply(hv, c, v, err) < 0) {
			free(v);
			free(hv);
			return -1;
		}
		s = dot(v, hv, n);
		sum += s;
		sum2 += s * s;
	}
	r->trace = sum / m;
	r->trace_se = m > 1 ? sqrt(fmax(0, (sum2 - sum * sum / m) / (m - 1)) /
	    m) : NAN;
	free(v);
	free(hv);
	return 0;
}

int
xf_hessian(struct xf_hessian_result *r, struct xf_model *m,
    const struct xf_dataset *d, int k, const struct xf_hessian_opts *opts,
    struct xf_err *err)
{
	struct hvp c;
	struct xf_rng rng;
	int ret = 0;

	if (hvp_init(&c, m, d, k, opts, err) < 0)
		return -1;
	r->params = c.len;
	r->steps = 0;
	r->trace = r->trace_se = NAN;
	/* One stream per block and task, so adding --draws does not move the
	 * eigenvalues and the module order does not matter. */
	xf_rng_seed(&rng, opts->seed * 1000003u + (uint64_t)(k + 1) * 2);
	if (opts->k > 0)
		ret = lanczos(r, &c, &rng, err);
	xf_rng_seed(&rng, opts->seed * 1000003u + (uint64_t)(k + 1) * 2 + 1);
	if (ret == 0 && opts->draws > 0)
		ret = hutchinson(r, &c, &rng, err);
	hvp_free(&c);
	return ret;
}
