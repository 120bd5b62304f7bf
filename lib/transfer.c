/* transfer.c: LogME, LEEP and H-score; see transfer.h for the formulas. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <blis.h>

#include "linalg.h"
#include "transfer.h"

static int
check_input(const float *f, size_t n, size_t d, const int *y, int k,
    struct xf_err *err)
{
	if (n < 2 || d == 0 || k < 1)
		return xf_errf(err, "%zu examples of width %zu, %d classes: want "
		    "2 or more examples", n, d, k);
	for (size_t i = 0; i < n; i++) {
		if (y[i] < 0 || y[i] >= k)
			return xf_errf(err, "example %zu: label %d, want 0..%d", i,
			    y[i], k - 1);
		for (size_t j = 0; f != NULL && j < d; j++)
			if (!isfinite(f[i * d + j]))
				return xf_errf(err, "example %zu, feature %zu: %s", i,
				    j, isnan(f[i * d + j]) ? "NaN" : "infinity");
	}
	return 0;
}

/*
 * One class's evidence from the spectrum of F: s (r) the nonzero
 * eigenvalues of F'F, z (r) the coordinates of y on the matching left
 * singular vectors, rest = |y|^2 - |z|^2 the part of y outside F's column
 * space.
 */
static int
logme_class(double *evidence, const double *s, const double *z, size_t r,
    double rest, size_t n, size_t d, struct xf_err *err)
{
	double alpha = 1, beta = 1, gamma = 0, mm = 0, res = 0, logdet;
	int it;

	for (it = 0; it < XF_LOGME_ITERS; it++) {
		double lam = alpha / beta, na, nb;

		gamma = mm = 0;
		res = rest;
		for (size_t i = 0; i < r; i++) {
			double a = alpha + beta * s[i];
			/* m in F's right singular basis: beta sqrt(s) z / a. */
			double m = beta * sqrt(s[i]) * z[i] / a, e;

			gamma += beta * s[i] / a;
			mm += m * m;
			e = sqrt(s[i]) * m - z[i];
			res += e * e;
		}
		if (!(mm > 0) || !(res > 0))
			return xf_errf(err, "LogME: |m|^2 = %g, |Fm - y|^2 = %g: "
			    "the labels are fitted exactly (more features than "
			    "examples?) and the evidence has no maximum", mm, res);
		na = gamma / mm;
		nb = ((double)n - gamma) / res;
		alpha = na;
		beta = nb;
		if (fabs(na / nb - lam) <= XF_LOGME_TOL * lam)
			break;
	}
	if (it == XF_LOGME_ITERS)
		return xf_errf(err, "LogME: alpha / beta did not converge in %d "
		    "iterations", XF_LOGME_ITERS);
	/* Eq. 2 at the fixed point, m and the residual recomputed there. */
	mm = 0;
	res = rest;
	logdet = (double)(d - r) * log(alpha);
	for (size_t i = 0; i < r; i++) {
		double a = alpha + beta * s[i];
		double m = beta * sqrt(s[i]) * z[i] / a, e = sqrt(s[i]) * m - z[i];

		mm += m * m;
		res += e * e;
		logdet += log(a);
	}
	*evidence = 0.5 * (double)n * log(beta) + 0.5 * (double)d * log(alpha) -
	    0.5 * (double)n * log(2 * M_PI) - 0.5 * beta * res -
	    0.5 * alpha * mm - 0.5 * logdet;
	return 0;
}

int
xf_logme(double *score, const float *f, size_t n, size_t d, const int *y,
    int k, int threads, struct xf_err *err)
{
	size_t m = d <= n ? d : n, r = 0;
	double *fd = NULL, *g = NULL, *w = NULL, *proj = NULL, *z = NULL;
	double *ysq = NULL, *u = NULL, one = 1, zero = 0, sum = 0;
	rntm_t rt;
	int ret = -1;

	if (check_input(f, n, d, y, k, err) < 0)
		return -1;
	fd = malloc(n * d * sizeof *fd);
	g = malloc(m * m * sizeof *g);
	w = malloc(m * sizeof *w);
	proj = calloc(m * (size_t)k, sizeof *proj);
	z = malloc(m * sizeof *z);
	ysq = calloc((size_t)k, sizeof *ysq);
	if (!fd || !g || !w || !proj || !z || !ysq) {
		xf_errf(err, "LogME: out of memory for %zu x %zu features", n, d);
		goto out;
	}
	for (size_t i = 0; i < n * d; i++)
		fd[i] = f[i];
	for (size_t i = 0; i < n; i++)
		ysq[y[i]] += 1;
	/* The smaller Gram matrix, F'F (d <= n) or F F'. */
	bli_dsyrk_ex(BLIS_LOWER, d <= n ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
	    (dim_t)m, (dim_t)(d <= n ? n : d), &one, fd, (inc_t)d, 1, &zero, g,
	    (inc_t)m, 1, NULL, xf_rntm(&rt, threads, (double)m * m * n));
	if (xf_symeig(w, g, m, 1, err) < 0)
		goto out;
	while (r < m && w[r] > 1e-12 * w[0])
		r++;
	/* proj (r, k): coordinates of each one-hot column on the left
	 * singular vectors, U = F V_r S_r^-1 (d <= n) or U from F F'. */
	if (d <= n) {
		u = malloc(n * (r ? r : 1) * sizeof *u);
		if (u == NULL) {
			xf_errf(err, "LogME: out of memory for %zu x %zu", n, r);
			goto out;
		}
		bli_dgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, (dim_t)n,
		    (dim_t)r, (dim_t)d, &one, fd, (inc_t)d, 1, g, (inc_t)m, 1,
		    &zero, u, (inc_t)r, 1, NULL,
		    xf_rntm(&rt, threads, 2.0 * n * r * d));
	}
	for (size_t i = 0; i < n; i++)
		for (size_t c = 0; c < r; c++)
			proj[c * (size_t)k + y[i]] += d <= n ?
			    u[i * r + c] / sqrt(w[c]) : g[i * m + c];
	for (int c = 0; c < k; c++) {
		double rest = ysq[c], ev = 0;

		if (ysq[c] == 0) {
			xf_errf(err, "LogME: class %d has no example", c);
			goto out;
		}
		for (size_t i = 0; i < r; i++) {
			z[i] = proj[i * (size_t)k + c];
			rest -= z[i] * z[i];
		}
		if (rest < 0)
			rest = 0;
		if (logme_class(&ev, w, z, r, rest, n, d, err) < 0)
			goto out;
		sum += ev / (double)n;
	}
	*score = sum / k;
	ret = 0;
out:
	free(fd);
	free(g);
	free(w);
	free(proj);
	free(z);
	free(ysq);
	free(u);
	return ret;
}

int
xf_leep(double *score, const float *theta, size_t n, int z, const int *y,
    int k, struct xf_err *err)
{
	double *joint = calloc((size_t)k * z, sizeof *joint);
	double *pz = calloc((size_t)z, sizeof *pz), sum = 0;

	if (joint == NULL || pz == NULL) {
		free(joint);
		free(pz);
		return xf_errf(err, "LEEP: out of memory");
	}
	if (check_input(NULL, n, 1, y, k, err) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++)
		for (int c = 0; c < z; c++) {
			double t = theta[i * z + c];

			if (!isfinite(t) || t < 0) {
				xf_errf(err, "LEEP: example %zu: probability %g", i, t);
				goto fail;
			}
			joint[y[i] * z + c] += t / (double)n;
			pz[c] += t / (double)n;
		}
	for (size_t i = 0; i < n; i++) {
		double p = 0;

		for (int c = 0; c < z; c++)
			if (pz[c] > 0)
				p += joint[y[i] * z + c] / pz[c] * theta[i * z + c];
		sum += log(p);
	}
	*score = sum / (double)n;
	free(joint);
	free(pz);
	return 0;
fail:
	free(joint);
	free(pz);
	return -1;
}

int
xf_hscore(double *score, const float *f, size_t n, size_t d, const int *y,
    int k, int threads, struct xf_err *err)
{
	double *fc = NULL, *cov = NULL, *w = NULL, *mu = NULL, *cnt = NULL;
	double one = 1.0 / (double)(n - 1), zero = 0, h = 0;
	rntm_t rt;
	int ret = -1;

	if (check_input(f, n, d, y, k, err) < 0)
		return -1;
	fc = malloc(n * d * sizeof *fc);
	cov = malloc(d * d * sizeof *cov);
	w = malloc(d * sizeof *w);
	mu = calloc((size_t)k * d, sizeof *mu);
	cnt = calloc((size_t)k, sizeof *cnt);
	if (!fc || !cov || !w || !mu || !cnt) {
		xf_errf(err, "H-score: out of memory for %zu x %zu features", n, d);
		goto out;
	}
	/* Centre, then class means of the centred features. */
	for (size_t j = 0; j < d; j++) {
		double m = 0;

		for (size_t i = 0; i < n; i++)
			m += f[i * d + j];
		m /= (double)n;
		for (size_t i = 0; i < n; i++)
			fc[i * d + j] = f[i * d + j] - m;
	}
	for (size_t i = 0; i < n; i++) {
		cnt[y[i]] += 1;
		for (size_t j = 0; j < d; j++)
			mu[y[i] * d + j] += fc[i * d + j];
	}
	for (int c = 0; c < k; c++)
		for (size_t j = 0; c < k && cnt[c] > 0 && j < d; j++)
			mu[c * d + j] /= cnt[c];
	bli_dsyrk_ex(BLIS_LOWER, BLIS_TRANSPOSE, (dim_t)d, (dim_t)n, &one, fc,
	    (inc_t)d, 1, &zero, cov, (inc_t)d, 1, NULL,
	    xf_rntm(&rt, threads, (double)d * d * n));
	if (xf_symeig(w, cov, d, 1, err) < 0)
		goto out;
	/* tr(C^+ Cg) = sum_i (1/w_i) v_i' Cg v_i, Cg = sum_c n_c mu_c mu_c' /
	 * (n - 1) (the class means of centred data average to zero). */
	for (size_t i = 0; i < d && w[i] > XF_HSCORE_RCOND * w[0]; i++) {
		double q = 0;

		for (int c = 0; c < k; c++) {
			double t = 0;

			for (size_t j = 0; j < d; j++)
				t += mu[c * d + j] * cov[j * d + i];
			q += cnt[c] * t * t;
		}
		h += q / (double)(n - 1) / w[i];
	}
	*score = h;
	ret = 0;
out:
	free(fc);
	free(cov);
	free(w);
	free(mu);
	free(cnt);
	return ret;
}
