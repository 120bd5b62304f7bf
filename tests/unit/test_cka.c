/*
 * test_cka.c: lib/cka.c against a naive double-precision CKA written here
 * from the demo's formulas (explicit H, explicit U-centring steps, median
 * by sorting the full n x n matrix), plus the invariants of papers.md.
 */
#include <stdlib.h>
#include <string.h>

#include "cka.h"
#include "tap.h"
#include "xf.h"

static struct xf_rng rng;

/* Naive reference, all double. */

static double *
ref_center_cols(const float *x, size_t n, size_t p)
{
	double *xc = malloc(n * p * sizeof *xc);
	size_t i, j;

	for (j = 0; j < p; j++) {
		double m = 0;

		for (i = 0; i < n; i++)
			m += x[i * p + j];
		m /= n;
		for (i = 0; i < n; i++)
			xc[i * p + j] = x[i * p + j] - m;
	}
	return xc;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* np.median of a whole array: middle value, or mean of the middle two. */
static double
ref_median(const double *v, size_t len)
{
	double *s = malloc(len * sizeof *s), m;

	memcpy(s, v, len * sizeof *s);
	qsort(s, len, sizeof *s, cmp_double);
	m = len % 2 ? s[len / 2] : 0.5 * (s[len / 2 - 1] + s[len / 2]);
	free(s);
	return m;
}

/* K (n, n) of X (n, p); centring X first changes neither kernel. */
static double *
ref_gram(const float *x, size_t n, size_t p, int rbf, double t)
{
	double *xc = ref_center_cols(x, n, p);
	double *k = malloc(n * n * sizeof *k);
	size_t i, j, l;

	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			double s = 0;

			for (l = 0; l < p; l++) {
				double d = rbf ? xc[i * p + l] - xc[j * p + l] :
				    xc[i * p + l];

				s += rbf ? d * d : d * xc[j * p + l];
			}
			k[i * n + j] = s;
		}
	if (rbf) {
		double med = ref_median(k, n * n);

		for (i = 0; i < n * n; i++)
			k[i] = exp(-k[i] / (2 * t * t * med));
	}
	free(xc);
	return k;
}

/* HKH with an explicit H = I - 11'/n. */
static void
ref_center_biased(double *k, size_t n)
{
	double *h = malloc(n * n * sizeof *h), *t = calloc(n * n, sizeof *t);
	size_t i, j, l;

	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
			h[i * n + j] = (i == j) - 1.0 / n;
	for (i = 0; i < n; i++)
		for (l = 0; l < n; l++)
			for (j = 0; j < n; j++)
				t[i * n + j] += h[i * n + l] * k[l * n + j];
	memset(k, 0, n * n * sizeof *k);
	for (i = 0; i < n; i++)
		for (l = 0; l < n; l++)
			for (j = 0; j < n; j++)
				k[i * n + j] += t[i * n + l] * h[l * n + j];
	free(h);
	free(t);
}

/* The demo's center_gram(unbiased=True), step by step. */
static void
ref_center_unbiased(double *k, size_t n)
{
	double *m = calloc(n, sizeof *m), total = 0;
	size_t i, j;

	for (i = 0; i < n; i++)
		k[i * n + i] = 0;
	for (j = 0; j < n; j++) {
		for (i = 0; i < n; i++)
			m[j] += k[i * n + j];
		m[j] /= (double)(n - 2);
		total += m[j];
	}
	for (j = 0; j < n; j++)
		m[j] -= total / (2.0 * (n - 1));
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
			k[i * n + j] -= m[i] + m[j];
	for (i = 0; i < n; i++)
		k[i * n + i] = 0;
	free(m);
}

static double
ref_dot(const double *a, const double *b, size_t len)
{
	double s = 0;
	size_t i;

	for (i = 0; i < len; i++)
		s += a[i] * b[i];
	return s;
}

/* <Kc, Lc>, <Kc, Kc>, <Lc, Lc> of one pair. */
static void
ref_hsic3(double h[3], const float *x, size_t p, const float *y, size_t q,
    size_t n, int rbf, int debiased, double t)
{
	double *k = ref_gram(x, n, p, rbf, t), *l = ref_gram(y, n, q, rbf, t);

	if (debiased) {
		ref_center_unbiased(k, n);
		ref_center_unbiased(l, n);
	} else {
		ref_center_biased(k, n);
		ref_center_biased(l, n);
	}
	h[0] = ref_dot(k, l, n * n);
	h[1] = ref_dot(k, k, n * n);
	h[2] = ref_dot(l, l, n * n);
	free(k);
	free(l);
}

static double
ref_cka(const float *x, size_t p, const float *y, size_t q, size_t n,
    int rbf, int debiased, double t)
{
	double h[3];

	ref_hsic3(h, x, p, y, q, n, rbf, debiased, t);
	return h[0] / sqrt(h[1] * h[2]);
}

/* Linear CKA in feature space, demo formulas, double; cheap for big n. */
static double
ref_feature_cka(const float *x, size_t p, const float *y, size_t q, size_t n,
    int debiased)
{
	double *xc = ref_center_cols(x, n, p), *yc = ref_center_cols(y, n, q);
	double xy = 0, xx = 0, yy = 0, dxy = 0, dxx = 0, dyy = 0, sx = 0,
	    sy = 0, nd = n;
	size_t i, j, l;

	for (i = 0; i < p; i++)
		for (j = 0; j < q; j++) {
			double s = 0;

			for (l = 0; l < n; l++)
				s += xc[l * p + i] * yc[l * q + j];
			xy += s * s;
		}
	for (i = 0; i < p; i++)
		for (j = 0; j < p; j++) {
			double s = 0;

			for (l = 0; l < n; l++)
				s += xc[l * p + i] * xc[l * p + j];
			xx += s * s;
		}
	for (i = 0; i < q; i++)
		for (j = 0; j < q; j++) {
			double s = 0;

			for (l = 0; l < n; l++)
				s += yc[l * q + i] * yc[l * q + j];
			yy += s * s;
		}
	if (debiased) {
		for (l = 0; l < n; l++) {
			double a = ref_dot(xc + l * p, xc + l * p, p);
			double b = ref_dot(yc + l * q, yc + l * q, q);

			dxy += a * b;
			dxx += a * a;
			dyy += b * b;
			sx += a;
			sy += b;
		}
		xy += -nd / (nd - 2) * dxy + sx * sy / ((nd - 1) * (nd - 2));
		xx += -nd / (nd - 2) * dxx + sx * sx / ((nd - 1) * (nd - 2));
		yy += -nd / (nd - 2) * dyy + sy * sy / ((nd - 1) * (nd - 2));
	}
	free(xc);
	free(yc);
	return xy / sqrt(xx * yy);
}

/* Data. */

static float *
randn(size_t n, size_t p, double mean, double sd)
{
	float *x = malloc(n * p * sizeof *x);
	size_t i;

	for (i = 0; i < n * p; i++)
		x[i] = (float)(mean + sd * xf_rng_normal(&rng));
	return x;
}

/* Y = X W + noise: correlated with X but not a copy. */
static float *
related(const float *x, size_t n, size_t p, size_t q, double noise)
{
	float *w = randn(p, q, 0, 1.0 / sqrt((double)p));
	float *y = randn(n, q, 0, noise);
	size_t i, j, l;

	for (i = 0; i < n; i++)
		for (j = 0; j < q; j++) {
			double s = 0;

			for (l = 0; l < p; l++)
				s += (double)x[i * p + l] * w[l * q + j];
			y[i * q + j] += (float)s;
		}
	free(w);
	return y;
}

/* Random orthogonal p x p (Gram-Schmidt on a Gaussian matrix), times X. */
static float *
rotate(const float *x, size_t n, size_t p)
{
	double *qm = malloc(p * p * sizeof *qm);
	float *y = malloc(n * p * sizeof *y);
	size_t i, j, l;

	for (i = 0; i < p * p; i++)
		qm[i] = xf_rng_normal(&rng);
	for (i = 0; i < p; i++) {	/* rows of qm become orthonormal */
		double norm;

		for (j = 0; j < i; j++) {
			double d = ref_dot(qm + i * p, qm + j * p, p);

			for (l = 0; l < p; l++)
				qm[i * p + l] -= d * qm[j * p + l];
		}
		norm = sqrt(ref_dot(qm + i * p, qm + i * p, p));
		for (l = 0; l < p; l++)
			qm[i * p + l] /= norm;
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < p; j++) {
			double s = 0;

			for (l = 0; l < p; l++)
				s += x[i * p + l] * qm[l * p + j];
			y[i * p + j] = (float)s;
		}
	free(qm);
	return y;
}

static struct xf_cka_opts
opts(int rbf, int debiased, enum xf_cka_form form)
{
	struct xf_cka_opts o;

	xf_cka_opts_default(&o);
	o.kernel = rbf ? XF_CKA_RBF : XF_CKA_LINEAR;
	o.debiased = debiased;
	o.form = form;
	/* prove -j2 runs tests side by side: one BLIS thread each; the
	 * two-thread paths have a test of their own */
	o.threads = 1;
	return o;
}

static const char *kname[] = { "linear", "rbf" };
static const char *ename[] = { "biased", "debiased" };
static const char *fname[] = { "auto", "feature", "gram" };

static double
cka_or_nan(const float *x, size_t p, const float *y, size_t q, size_t n,
    struct xf_cka_opts o)
{
	struct xf_err err;
	double v;

	if (xf_cka(&v, x, p, y, q, n, &o, &err) == -1) {
		printf("# xf_cka: %s\n", err.msg);
		return NAN;
	}
	return v;
}

static void
test_reference(void)
{
	/* p, q < n takes the feature form; p > n the Gram form. */
	static const size_t shapes[][3] = {
		{ 120, 20, 12 }, { 121, 300, 40 }, { 64, 64, 64 },
	};
	size_t s;
	int rbf, deb;

	for (s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
		size_t n = shapes[s][0], p = shapes[s][1], q = shapes[s][2];
		float *x = randn(n, p, 0.3, 1), *y = related(x, n, p, q, 0.7);

		for (rbf = 0; rbf < 2; rbf++)
			for (deb = 0; deb < 2; deb++) {
				double want = ref_cka(x, p, y, q, n, rbf, deb,
				    0.5);
				double got = cka_or_nan(x, p, y, q, n,
				    opts(rbf, deb, XF_CKA_FORM_AUTO));
				char what[128];

				snprintf(what, sizeof what, "%s %s n=%zu p=%zu "
				    "q=%zu matches the double reference",
				    kname[rbf], ename[deb], n, p, q);
				close_enough(got, want, 1e-6, what);
			}
		free(x);
		free(y);
	}
}

static void
test_invariants(void)
{
	size_t n = 90, p = 30, q = 25;
	float *x = randn(n, p, 1, 1), *y = related(x, n, p, q, 1);
	float *xr = rotate(x, n, p), *xs = malloc(n * p * sizeof *xs);
	size_t i;
	int rbf, deb, form;

	for (i = 0; i < n * p; i++)
		xs[i] = 3.5f * x[i];
	for (rbf = 0; rbf < 2; rbf++)
		for (deb = 0; deb < 2; deb++)
			for (form = 1; form < 3; form++) {
				struct xf_cka_opts o = opts(rbf, deb, form);
				double base;

				if (rbf && form == XF_CKA_FORM_FEATURE)
					continue;
				base = cka_or_nan(x, p, y, q, n, o);
				close_enough(cka_or_nan(x, p, x, p, n, o), 1,
				    1e-6, "CKA(X, X) = 1");
				printf("# %s %s %s\n", kname[rbf], ename[deb],
				    fname[form]);
				close_enough(cka_or_nan(y, q, x, p, n, o), base,
				    1e-6, "symmetric");
				close_enough(cka_or_nan(xr, p, y, q, n, o),
				    base, 1e-5, "orthogonal transform");
				close_enough(cka_or_nan(xs, p, y, q, n, o),
				    base, 1e-6, "isotropic scaling");
			}
	free(x);
	free(y);
	free(xr);
	free(xs);
}

/* The same value whatever the form, also when a Gram side meets a
 * feature side through the side API. */
static void
test_forms(void)
{
	size_t n = 80, p = 12, q = 150;
	float *x = randn(n, p, -2, 1), *y = related(x, n, p, q, 2);
	struct xf_err err;
	int deb;

	for (deb = 0; deb < 2; deb++) {
		struct xf_cka_opts of = opts(0, deb, XF_CKA_FORM_FEATURE);
		struct xf_cka_opts og = opts(0, deb, XF_CKA_FORM_GRAM);
		struct xf_cka_opts oa = opts(0, deb, XF_CKA_FORM_AUTO);
		double vf = cka_or_nan(x, p, y, q, n, of);
		double vg = cka_or_nan(x, p, y, q, n, og);
		struct xf_cka_side *sx, *sy, *gx;
		double mixed = NAN, again = NAN;

		printf("# %s\n", ename[deb]);
		close_enough(vf, vg, 1e-6, "feature form = Gram form");
		/* AUTO sides: X (p < n) feature, Y (q > n) Gram */
		sx = xf_cka_side_new(x, n, p, &oa, &err);
		sy = xf_cka_side_new(y, n, q, &oa, &err);
		gx = xf_cka_side_new(x, n, p, &og, &err);
		ok(sx && sy && gx, "sides built");
		if (sx && sy && gx) {
			xf_cka_side_pair(&mixed, sx, sy, &err);
			xf_cka_side_pair(&again, sy, sx, &err);
			close_enough(mixed, vg, 1e-6, "feature side x Gram side");
			close_enough(again, vg, 1e-6, "Gram side x feature side");
			close_enough(xf_cka_side_self(sx), xf_cka_side_self(gx),
			    1e-6 * xf_cka_side_self(gx),
			    "self-similarity: feature = Gram");
			ok(xf_cka_side_bytes(gx) >= n * n * sizeof(float),
			    "Gram side holds n^2 floats");
		}
		xf_cka_side_free(sx);
		xf_cka_side_free(sy);
		xf_cka_side_free(gx);
	}
	free(x);
	free(y);
}

static void
test_independent(void)
{
	size_t n = 2000, p = 20, q = 20;
	float *x = randn(n, p, 0, 1), *y = randn(n, q, 0, 1);
	double b = cka_or_nan(x, p, y, q, n, opts(0, 0, XF_CKA_FORM_AUTO));
	double d = cka_or_nan(x, p, y, q, n, opts(0, 1, XF_CKA_FORM_AUTO));

	ok(fabs(d) < 0.003, "debiased CKA of independent Gaussians near 0 "
	    "(%.5f)", d);
	ok(b > 0.005 && b > 3 * fabs(d), "biased CKA is not (%.5f)", b);
	free(x);
	free(y);
}

/* Minibatch against the naive formula: sum h(K,L) / sqrt(sum h(K,K)
 * sum h(L,L)) over consecutive batches, h the unbiased HSIC (normalised by
 * m(m-3)) whatever deb says, a last batch of 1 to 3 rows merged into the
 * one before it. */
static double
ref_minibatch(const float *x, size_t p, const float *y, size_t q, size_t n,
    size_t batch, int rbf, size_t *rows)
{
	double kl = 0, kk = 0, ll = 0, h[3], c;
	size_t r0, m;

	*rows = 0;
	for (r0 = 0; r0 < n; r0 += m) {
		m = n - r0 < batch ? n - r0 : batch;
		if (n - r0 - m < 4)
			m = n - r0;
		ref_hsic3(h, x + r0 * p, p, y + r0 * q, q, m, rbf, 1, 0.5);
		c = (double)m * (m - 3);
		kl += h[0] / c;
		kk += h[1] / c;
		ll += h[2] / c;
		*rows += m;
	}
	return kl / sqrt(kk * ll);
}

static void
test_minibatch(void)
{
	static const size_t cases[][3] = {	/* n, batch, chunk */
		{ 500, 64, 37 }, { 386, 64, 1000 }, { 300, 100, 1 },
		{ 403, 100, 50 }, { 404, 100, 7 }, { 66, 64, 3 },
	};
	size_t c;
	int rbf, deb;

	for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		size_t n = cases[c][0], batch = cases[c][1], chunk = cases[c][2];
		size_t p = 40, q = 90, r0, rows;
		float *x = randn(n, p, 5, 1), *y = related(x, n, p, q, 1.5);

		for (rbf = 0; rbf < 2; rbf++)
			for (deb = 0; deb < 2; deb++) {
				struct xf_cka_opts o = opts(rbf, deb, 0);
				struct xf_cka_acc *a;
				struct xf_err err;
				double want, got = NAN;
				int rc = 0;

				want = ref_minibatch(x, p, y, q, n, batch, rbf,
				    &rows);
				a = xf_cka_acc_new(p, q, batch, &o, &err);
				for (r0 = 0; a && r0 < n && rc == 0; r0 += chunk)
					rc = xf_cka_acc_add(a, x + r0 * p,
					    y + r0 * q, n - r0 < chunk ? n - r0 :
					    chunk, &err);
				if (a && rc == 0)
					rc = xf_cka_acc_finish(&got, a, &err);
				if (rc == -1 || a == NULL)
					printf("# %s\n", err.msg);
				printf("# n=%zu batch=%zu chunk=%zu %s %s\n", n,
				    batch, chunk, kname[rbf], ename[deb]);
				close_enough(got, want, 1e-6,
				    "minibatch = naive minibatch formula");
				ok(a && xf_cka_acc_rows(a) == rows,
				    "rows counted %zu, want %zu",
				    a ? xf_cka_acc_rows(a) : 0, rows);
				xf_cka_acc_free(a);
			}
		free(x);
		free(y);
	}
}

static double
stream_exact(const float *x, size_t p, const float *y, size_t q, size_t n,
    size_t chunk, int deb)
{
	struct xf_cka_opts o = opts(0, deb, 0);
	struct xf_cka_acc *a = xf_cka_acc_new(p, q, 0, &o, NULL);
	double v = NAN;
	size_t r0;

	for (r0 = 0; a && r0 < n; r0 += chunk)
		xf_cka_acc_add(a, x + r0 * p, y + r0 * q,
		    n - r0 < chunk ? n - r0 : chunk, NULL);
	if (a == NULL || xf_cka_acc_finish(&v, a, NULL) == -1)
		v = NAN;
	xf_cka_acc_free(a);
	return v;
}

static void
test_exact_stream(void)
{
	size_t n = 700, p = 24, q = 31;
	float *x = randn(n, p, 3, 2), *y = related(x, n, p, q, 1);
	static const size_t chunks[] = { 1, 333, 5000 };
	size_t c;
	int deb;

	for (deb = 0; deb < 2; deb++) {
		double want = ref_feature_cka(x, p, y, q, n, deb);

		for (c = 0; c < 3; c++) {
			printf("# %s chunk %zu\n", ename[deb], chunks[c]);
			close_enough(stream_exact(x, p, y, q, n, chunks[c], deb),
			    want, 1e-6, "exact streaming = reference");
		}
	}
	free(x);
	free(y);
}

/* The float32 HSIC failure: a big common offset and a small spread. */
static void
test_offset(void)
{
	size_t n = 20000, p = 16, q = 24, ng = 600, pg = 900;
	float *x = randn(n, p, 0, 1), *y = related(x, n, p, q, 0.5);
	float *xg, *yg;
	size_t i;
	int deb;

	for (i = 0; i < n * p; i++)
		x[i] = 1000 + 0.01f * x[i];
	for (i = 0; i < n * q; i++)
		y[i] = -1000 + 0.01f * y[i];
	for (deb = 0; deb < 2; deb++) {
		double want = ref_feature_cka(x, p, y, q, n, deb);
		double got = cka_or_nan(x, p, y, q, n, opts(0, deb, 0));

		printf("# n=%zu mean 1000 sd 0.01, %s (feature form)\n", n,
		    ename[deb]);
		close_enough(got, want, 1e-6, "offset data: xf_cka");
		close_enough(stream_exact(x, p, y, q, n, 777, deb), want, 1e-6,
		    "offset data: exact streaming");
	}
	free(x);
	free(y);
	/* Gram form (p > n) with the same offset; the reference is the
	 * feature form, equal in exact arithmetic and cheap in double. */
	xg = randn(ng, pg, 0, 1);
	yg = related(xg, ng, pg, 50, 0.5);
	for (i = 0; i < ng * pg; i++)
		xg[i] = 1000 + 0.01f * xg[i];
	for (deb = 0; deb < 2; deb++) {
		double want = ref_feature_cka(xg, pg, yg, 50, ng, deb);
		double got = cka_or_nan(xg, pg, yg, 50, ng,
		    opts(0, deb, XF_CKA_FORM_GRAM));

		printf("# n=%zu p=%zu mean 1000 sd 0.01, %s (Gram form)\n", ng,
		    pg, ename[deb]);
		close_enough(got, want, 1e-6, "offset data: Gram form");
	}
	free(xg);
	free(yg);
}

/* Two threads (two sides at once, BLIS threads on big products) give
 * the value one thread gives. */
static void
test_threads(void)
{
	size_t n = 200, p = 400, q = 60;
	float *x = randn(n, p, 0, 1), *y = related(x, n, p, q, 1);
	int rbf, deb;

	for (rbf = 0; rbf < 2; rbf++)
		for (deb = 0; deb < 2; deb++) {
			struct xf_cka_opts o = opts(rbf, deb, 0);
			double one = cka_or_nan(x, p, y, q, n, o);

			o.threads = 2;
			printf("# %s %s\n", kname[rbf], ename[deb]);
			close_enough(cka_or_nan(x, p, y, q, n, o), one, 1e-6,
			    "2 threads = 1 thread");
		}
	free(x);
	free(y);
}

static void
test_errors(void)
{
	float x[3 * 2] = { 1, 2, 3, 4, 5, 7 }, c[8 * 2];
	struct xf_cka_opts o = opts(0, 1, 0);
	struct xf_err err;
	double v;
	size_t i;
	int rc;

	memset(&err, 0, sizeof err);
	ok(xf_cka(&v, x, 2, x, 2, 3, &o, &err) == -1 &&
	    strstr(err.msg, "n > 3") != NULL, "debiased n=3 fails: %s",
	    err.msg);
	ok(xf_cka_acc_new(2, 2, 3, &o, &err) == NULL &&
	    strstr(err.msg, "n > 3") != NULL, "debiased batch 3 fails: %s",
	    err.msg);
	o.debiased = 0;
	ok(xf_cka_acc_new(2, 2, 3, &o, &err) == NULL &&
	    strstr(err.msg, "n > 3") != NULL, "minibatch is unbiased: biased "
	    "batch 3 fails too: %s", err.msg);
	{
		struct xf_cka_acc *a = xf_cka_acc_new(2, 2, 8, &o, &err);

		ok(a != NULL && xf_cka_acc_add(a, x, x, 3, &err) == 0 &&
		    xf_cka_acc_finish(&v, a, &err) == -1 &&
		    strstr(err.msg, "4 or more") != NULL,
		    "minibatch of 3 rows in all fails: %s", err.msg);
		xf_cka_acc_free(a);
	}
	v = NAN;
	rc = xf_cka(&v, x, 2, x, 2, 3, &o, &err);
	ok(rc == 0 && fabs(v - 1) < 1e-6, "biased n=3 works (%g)", v);
	for (i = 0; i < 16; i++)
		c[i] = 4;
	ok(xf_cka(&v, c, 2, x, 2, 3, &o, &err) == -1,
	    "constant input fails, no NaN: %s", err.msg);
	o.kernel = XF_CKA_RBF;
	ok(xf_cka(&v, c, 2, c, 2, 8, &o, &err) == -1,
	    "RBF of coincident points fails: %s", err.msg);
	o.form = XF_CKA_FORM_FEATURE;
	ok(xf_cka(&v, x, 2, x, 2, 3, &o, &err) == -1,
	    "RBF feature form fails: %s", err.msg);
	o = opts(1, 0, 0);
	ok(xf_cka_acc_new(2, 2, 0, &o, &err) == NULL,
	    "exact streaming RBF fails: %s", err.msg);
}

int
main(void)
{
	xf_rng_seed(&rng, 20190514);
	test_reference();
	test_invariants();
	test_forms();
	test_independent();
	test_minibatch();
	test_exact_stream();
	test_offset();
	test_threads();
	test_errors();
	return tap_done();
}
