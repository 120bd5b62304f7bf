/*
 * cca.c: SVCCA, PWCCA and the orthogonal Procrustes distance; see cca.h
 * for the formulas and their sources.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <blis.h>

#include "cca.h"
#include "linalg.h"

struct xf_cca_side {
	size_t	 n, p, r;
	double	*s;	/* (r) singular values of Xc, descending */
	double	*P;	/* (n, r) principal components U S */
	double	*G;	/* (p, r) loadings Xc' U = V S */
	double	 norm2;	/* |Xc|_F^2 */
};

/* c (m, k), row stride ldc, = op(a) b: a' b for a (n, m) (trans) or a b
 * for a (m, n), row stride lda; b (n, k), row stride ldb. */
static void
gemm(double *c, size_t ldc, int trans, const double *a, size_t lda,
    size_t m, const double *b, size_t ldb, size_t k, size_t n, int threads)
{
	double one = 1, zero = 0;
	rntm_t r;

	bli_dgemm_ex(trans ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
	    BLIS_NO_TRANSPOSE, (dim_t)m, (dim_t)k, (dim_t)n, &one, (double *)a,
	    (inc_t)lda, 1, (double *)b, (inc_t)ldb, 1, &zero, c, (inc_t)ldc, 1,
	    NULL, xf_rntm(&r, threads, 2.0 * m * k * n));
}

/* Xc (n, p) in double, columns centred about means summed in double. */
static int
centre(double *xc, const float *x, size_t n, size_t p, struct xf_err *err)
{
	double *mean = calloc(p, sizeof *mean);

	if (mean == NULL)
		return xf_errf(err, "out of memory for %zu column means", p);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < p; j++) {
			double v = x[i * p + j];

			if (!isfinite(v)) {
				free(mean);
				return xf_errf(err, "row %zu, column %zu: %s", i, j,
				    isnan(v) ? "NaN" : "infinity");
			}
			mean[j] += v;
		}
	for (size_t j = 0; j < p; j++)
		mean[j] /= (double)n;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < p; j++)
			xc[i * p + j] = x[i * p + j] - mean[j];
	free(mean);
	return 0;
}

struct xf_cca_side *
xf_cca_side_new(const float *X, size_t n, size_t p, int loadings,
    int threads, struct xf_err *err)
{
	struct xf_cca_side *s = NULL;
	size_t m = p <= n ? p : n, r = 0;
	double *xc = NULL, *g = NULL, *w = NULL, one = 1, zero = 0;
	rntm_t rt;

	if (n < 2 || p == 0) {
		xf_errf(err, "%zu examples of width %zu: want at least 2 of "
		    "width 1", n, p);
		return NULL;
	}
	xc = malloc(n * p * sizeof *xc);
	g = malloc(m * m * sizeof *g);
	w = malloc(m * sizeof *w);
	s = calloc(1, sizeof *s);
	if (xc == NULL || g == NULL || w == NULL || s == NULL) {
		xf_errf(err, "out of memory for %zu x %zu activations in double",
		    n, p);
		goto fail;
	}
	if (centre(xc, X, n, p, err) < 0)
		goto fail;
	s->n = n;
	s->p = p;
	/* The Gram matrix of the smaller side: Xc'Xc (p, p) or Xc Xc' (n, n). */
	bli_dsyrk_ex(BLIS_LOWER, p <= n ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
	    (dim_t)m, (dim_t)(p <= n ? n : p), &one, xc, (inc_t)p, 1, &zero,
	    g, (inc_t)m, 1, NULL, xf_rntm(&rt, threads, (double)m * m * n));
	for (size_t i = 0; i < m; i++)
		s->norm2 += g[i * m + i];
	if (xf_symeig(w, g, m, 1, err) < 0)
		goto fail;
	if (!(w[0] > 0)) {
		xf_errf(err, "every column is constant: no variance");
		goto fail;
	}
	while (r < m && w[r] > XF_CCA_RANK_TOL * XF_CCA_RANK_TOL * w[0])
		r++;
	s->r = r;
	s->s = malloc(r * sizeof *s->s);
	s->P = malloc(n * r * sizeof *s->P);
	s->G = loadings ? malloc(p * r * sizeof *s->G) : NULL;
	if (s->s == NULL || s->P == NULL || (loadings && s->G == NULL)) {
		xf_errf(err, "out of memory for %zu components of %zu examples",
		    r, n);
		goto fail;
	}
	for (size_t i = 0; i < r; i++)
		s->s[i] = sqrt(w[i]);
	if (p <= n) {
		/* g holds V (p, p): P = Xc V_r, G = V_r S_r. */
		gemm(s->P, r, 0, xc, p, n, g, m, r, p, threads);
		for (size_t j = 0; loadings && j < p; j++)
			for (size_t i = 0; i < r; i++)
				s->G[j * r + i] = g[j * m + i] * s->s[i];
	} else {
		/* g holds U (n, n): P = U_r S_r, G = Xc' U_r. */
		for (size_t j = 0; j < n; j++)
			for (size_t i = 0; i < r; i++)
				s->P[j * r + i] = g[j * m + i] * s->s[i];
		if (loadings)
			bli_dgemm_ex(BLIS_TRANSPOSE, BLIS_NO_TRANSPOSE,
			    (dim_t)p, (dim_t)r, (dim_t)n, &one, xc, (inc_t)p,
			    1, g, (inc_t)m, 1, &zero, s->G, (inc_t)r, 1, NULL,
			    xf_rntm(&rt, threads, 2.0 * p * r * n));
	}
	free(xc);
	free(g);
	free(w);
	return s;
fail:
	free(xc);
	free(g);
	free(w);
	xf_cca_side_free(s);
	return NULL;
}

void
xf_cca_side_free(struct xf_cca_side *s)
{
	if (s == NULL)
		return;
	free(s->s);
	free(s->P);
	free(s->G);
	free(s);
}

size_t
xf_cca_side_rank(const struct xf_cca_side *s)
{
	return s->r;
}

size_t
xf_cca_side_keep(const struct xf_cca_side *s, double keep)
{
	double sum = 0;
	size_t k = 0;

	if (keep <= 0)
		return s->p;
	/* The fewest top directions whose variance reaches keep of the total;
	 * a relative slack of 1e-12 so that keep 1 does not ask for more than
	 * the rank because of rounding in the sum. */
	while (k < s->r && sum < keep * s->norm2 * (1 - 1e-12))
		sum += s->s[k] * s->s[k], k++;
	return k;
}

long
xf_cca(double *rho, double *alpha, size_t *kx, size_t *ky,
    const struct xf_cca_side *a, const struct xf_cca_side *b, double keep,
    int threads, struct xf_err *err)
{
	const struct xf_cca_side *side[2] = { a, b };
	size_t k[2], c;
	double *m = NULL, *u = NULL, *vt = NULL, *h = NULL;
	long ret = -1;

	if (a->n != b->n)
		return xf_errf(err, "%zu examples against %zu", a->n, b->n);
	if (alpha != NULL && a->G == NULL)
		return xf_errf(err, "side a was decomposed without loadings: "
		    "no PWCCA weights");
	for (int i = 0; i < 2; i++) {
		k[i] = xf_cca_side_keep(side[i], keep);
		if (keep > 0)
			continue;
		if (side[i]->p >= side[i]->n)
			return xf_errf(err, "side %c: %zu examples for %zu "
			    "features: CCA needs more examples than features "
			    "(use --keep)", "ab"[i], side[i]->n, side[i]->p);
		if (side[i]->r < side[i]->p)
			return xf_errf(err, "side %c: rank %zu of %zu features "
			    "(constant or linearly dependent columns): CCA is "
			    "not defined (use --keep)", "ab"[i], side[i]->r,
			    side[i]->p);
	}
	*kx = k[0];
	*ky = k[1];
	c = k[0] < k[1] ? k[0] : k[1];
	m = malloc(k[0] * k[1] * sizeof *m);
	if (alpha != NULL) {
		u = malloc(k[0] * c * sizeof *u);
		vt = malloc(c * k[1] * sizeof *vt);
		h = malloc(a->p * c * sizeof *h);
	}
	if (m == NULL || (alpha != NULL && (u == NULL || vt == NULL ||
	    h == NULL))) {
		xf_errf(err, "out of memory for a %zu x %zu CCA", k[0], k[1]);
		goto out;
	}
	/* Ux' Uy = Sx^-1 Px' Py Sy^-1 on the kept directions. */
	gemm(m, k[1], 1, a->P, a->r, k[0], b->P, b->r, k[1], a->n, threads);
	for (size_t i = 0; i < k[0]; i++)
		for (size_t j = 0; j < k[1]; j++)
			m[i * k[1] + j] /= a->s[i] * b->s[j];
	if (xf_svd(rho, u, vt, m, k[0], k[1], err) < 0)
		goto out;
	for (size_t i = 0; i < c; i++)
		if (rho[i] > 1)
			rho[i] = 1;
	if (alpha != NULL) {
		/* Xc' h_i = G_k u_i: the canonical variates against a's
		 * neurons, without touching the n examples again. */
		double sum = 0;

		gemm(h, c, 0, a->G, a->r, a->p, u, c, c, k[0], threads);
		for (size_t i = 0; i < c; i++)
			alpha[i] = 0;
		for (size_t j = 0; j < a->p; j++)
			for (size_t i = 0; i < c; i++)
				alpha[i] += fabs(h[j * c + i]);
		for (size_t i = 0; i < c; i++)
			sum += alpha[i];
		for (size_t i = 0; i < c; i++)
			alpha[i] /= sum;
	}
	ret = (long)c;
out:
	free(m);
	free(u);
	free(vt);
	free(h);
	return ret;
}

static int
cca_measure(double *v, size_t *kx, size_t *ky, const struct xf_cca_side *a,
    const struct xf_cca_side *b, double keep, int weighted, int threads,
    struct xf_err *err)
{
	size_t c = a->p < b->p ? a->p : b->p;
	double *rho = malloc(c * sizeof *rho), *alpha = malloc(c * sizeof *alpha);
	long got;

	if (rho == NULL || alpha == NULL) {
		free(rho);
		free(alpha);
		return xf_errf(err, "out of memory for %zu correlations", c);
	}
	got = xf_cca(rho, weighted ? alpha : NULL, kx, ky, a, b, keep, threads,
	    err);
	if (got > 0) {
		double sum = 0;

		for (long i = 0; i < got; i++)
			sum += weighted ? alpha[i] * rho[i] : rho[i];
		*v = weighted ? sum : sum / (double)got;
	} else if (got == 0)
		got = xf_errf(err, "no direction kept");
	free(rho);
	free(alpha);
	return got < 0 ? -1 : 0;
}

int
xf_svcca(double *v, size_t *kx, size_t *ky, const struct xf_cca_side *a,
    const struct xf_cca_side *b, double keep, int threads, struct xf_err *err)
{
	return cca_measure(v, kx, ky, a, b, keep, 0, threads, err);
}

int
xf_pwcca(double *v, size_t *kx, size_t *ky, const struct xf_cca_side *a,
    const struct xf_cca_side *b, double keep, int threads, struct xf_err *err)
{
	return cca_measure(v, kx, ky, a, b, keep, 1, threads, err);
}

int
xf_procrustes(double *d, const struct xf_cca_side *a,
    const struct xf_cca_side *b, int threads, struct xf_err *err)
{
	size_t c = a->r < b->r ? a->r : b->r;
	double *m, *s, nuc = 0;

	if (a->n != b->n)
		return xf_errf(err, "%zu examples against %zu", a->n, b->n);
	m = malloc(a->r * b->r * sizeof *m);
	s = malloc(c * sizeof *s);
	if (m == NULL || s == NULL) {
		free(m);
		free(s);
		return xf_errf(err, "out of memory for a %zu x %zu product",
		    a->r, b->r);
	}
	/* |Xc'Yc|_* = |Vx Px' Py Vy'|_* = |Px' Py|_*. */
	gemm(m, b->r, 1, a->P, a->r, a->r, b->P, b->r, b->r, a->n, threads);
	if (xf_svd(s, NULL, NULL, m, a->r, b->r, err) < 0) {
		free(m);
		free(s);
		return -1;
	}
	for (size_t i = c; i-- > 0; )
		nuc += s[i];
	*d = 2 - 2 * nuc / sqrt(a->norm2 * b->norm2);
	if (*d < 0)
		*d = 0;
	free(m);
	free(s);
	return 0;
}
