/*
 * cka.c: linear and RBF CKA, biased and debiased, whole-matrix and
 * streaming.  See cka.h for the formulas and the precision argument.
 *
 * Storage: a Gram side keeps only the lower triangle of its n x n float
 * matrix (ssyrk writes that half and ssymm reads it), so every reduction
 * below walks j < i and counts off-diagonal terms twice.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cka_impl.h"



void
xf_cka_opts_default(struct xf_cka_opts *o)
{
	memset(o, 0, sizeof *o);
	o->kernel = XF_CKA_LINEAR;
	o->debiased = 0;
	o->rbf_threshold = XF_CKA_RBF_THRESHOLD;
	o->form = XF_CKA_FORM_AUTO;
	o->threads = 0;
}

int
cka_opts_check(const struct xf_cka_opts *o, struct xf_err *err)
{
	if (o->kernel != XF_CKA_LINEAR && o->kernel != XF_CKA_RBF)
		return xf_errf(err, "unknown CKA kernel %d", (int)o->kernel);
	if (o->form != XF_CKA_FORM_AUTO && o->form != XF_CKA_FORM_FEATURE &&
	    o->form != XF_CKA_FORM_GRAM)
		return xf_errf(err, "unknown CKA form %d", (int)o->form);
	if (o->kernel == XF_CKA_RBF && o->form == XF_CKA_FORM_FEATURE)
		return xf_errf(err, "the RBF kernel has no feature form");
	if (o->kernel == XF_CKA_RBF &&
	    !(o->rbf_threshold > 0 && isfinite(o->rbf_threshold)))
		return xf_errf(err, "RBF threshold %g, want a positive number",
		    o->rbf_threshold);
	if (o->threads < 0)
		return xf_errf(err, "%d threads, want 0 or more", o->threads);
	return 0;
}

int
cka_n_check(size_t n, int debiased, struct xf_err *err)
{
	if (debiased && n <= 3)
		return xf_errf(err, "debiased CKA needs n > 3 examples "
		    "(unbiased HSIC divides by n-3), got %zu", n);
	if (n < 2)
		return xf_errf(err, "CKA needs at least 2 examples, got %zu", n);
	return 0;
}

/*
 * NULL means BLIS's own default (BLIS_NUM_THREADS or the global setting).
 * Products under ~50 MFLOP run on one thread: BLIS threads meet at
 * spinning barriers, which on a busy machine cost more than such a small
 * product (a 256 x 256 x 25088 ssyrk went from 0.07 s to 1.3 s on two
 * loaded cores).
 */
rntm_t *
cka_rntm_work(rntm_t *r, int threads, double flops)
{
	if (threads <= 0)
		return NULL;
	if (flops < 5e7)
		threads = 1;
	bli_rntm_init(r);
	bli_rntm_set_num_threads(threads, r);
	return r;
}

/*
 * xc = x - column means.  The means are summed in double: a float running
 * sum over 20,000 rows near 1000 is off by more than the spread of the
 * data, which is exactly the float32 HSIC failure users hit.  mean (p) is
 * the caller's work space and holds the means on return.
 */
void
cka_cols_center(float *xc, double *mean, const float *x, size_t n, size_t p)
{
	size_t i, j;

	for (j = 0; j < p; j++)
		mean[j] = 0;
	for (i = 0; i < n; i++)
		for (j = 0; j < p; j++)
			mean[j] += x[i * p + j];
	for (j = 0; j < p; j++)
		mean[j] /= (double)n;
	for (i = 0; i < n; i++)
		for (j = 0; j < p; j++)
			xc[i * p + j] = (float)(x[i * p + j] - mean[j]);
}

/* Sum of a[0..len) * b[0..len) in double; four accumulators so the adds
 * do not wait on each other. */
double
cka_dot_fd(const float *a, const float *b, size_t len)
{
	double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	size_t j = 0;

	for (; j + 4 <= len; j += 4) {
		s0 += (double)a[j] * b[j];
		s1 += (double)a[j + 1] * b[j + 1];
		s2 += (double)a[j + 2] * b[j + 2];
		s3 += (double)a[j + 3] * b[j + 3];
	}
	for (; j < len; j++)
		s0 += (double)a[j] * b[j];
	return (s0 + s1) + (s2 + s3);
}

double
cka_dot_dd(const double *a, const double *b, size_t len)
{
	double s = 0;
	size_t j;

	for (j = 0; j < len; j++)
		s += a[j] * b[j];
	return s;
}

/* <A, B> of two symmetric n x n floats stored as lower triangles. */
static double
sym_dot(const float *a, const float *b, size_t n)
{
	double off = 0, diag = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		off += cka_dot_fd(a + i * n, b + i * n, i);
		diag += (double)a[i * n + i] * b[i * n + i];
	}
	return 2 * off + diag;
}

/* |G|_F^2 of a symmetric p x p double stored as a lower triangle. */
double
cka_sym_sq_norm(const double *g, size_t p)
{
	double off = 0, diag = 0;
	size_t i, j;

	for (i = 0; i < p; i++) {
		for (j = 0; j < i; j++)
			off += g[i * p + j] * g[i * p + j];
		diag += g[i * p + i] * g[i * p + i];
	}
	return 2 * off + diag;
}

/* v' G v for a symmetric p x p double stored as a lower triangle. */
double
cka_sym_quad(const double *g, const double *v, size_t p)
{
	double off = 0, diag = 0;
	size_t i, j;

	for (i = 0; i < p; i++) {
		double s = 0;

		for (j = 0; j < i; j++)
			s += g[i * p + j] * v[j];
		off += s * v[i];
		diag += g[i * p + i] * v[i] * v[i];
	}
	return 2 * off + diag;
}

/*
 * Centre a kernel matrix held in the lower triangle of g, in place.
 * Biased: HKH, written as the demo does, K - m 1' - 1 m' with
 * m = colmean - mean(colmean)/2.  Debiased: the U-centring of Szekely and
 * Rizzo, the steps in papers.md.  Means and subtractions run in double;
 * only the stored result is rounded to float.  m (n) is work space.
 */
static void
gram_center(float *g, double *m, size_t n, int debiased)
{
	double total = 0, shift;
	size_t i, j;

	for (i = 0; i < n; i++)
		m[i] = 0;
	for (i = 0; i < n; i++) {
		const float *row = g + i * n;
		double s0 = 0, s1 = 0;

		for (j = 0; j + 2 <= i; j += 2) {
			s0 += row[j];
			s1 += row[j + 1];
			m[j] += row[j];
			m[j + 1] += row[j + 1];
		}
		for (; j < i; j++) {
			s0 += row[j];
			m[j] += row[j];
		}
		m[i] += s0 + s1;
		if (!debiased)
			m[i] += row[i];
	}
	if (debiased) {
		for (i = 0; i < n; i++) {
			m[i] /= (double)(n - 2);
			total += m[i];
		}
		shift = total / (2.0 * (double)(n - 1));
	} else {
		for (i = 0; i < n; i++) {
			m[i] /= (double)n;
			total += m[i];
		}
		shift = total / (double)n / 2;
	}
	for (i = 0; i < n; i++)
		m[i] -= shift;
	for (i = 0; i < n; i++) {
		float *row = g + i * n;

		for (j = 0; j < i; j++)
			row[j] = (float)((double)row[j] - m[i] - m[j]);
		row[i] = debiased ? 0 : (float)((double)row[i] - 2 * m[i]);
	}
}

/* k-th smallest of a[0..n) by quickselect; reorders a. */
static float
select_kth(float *a, size_t n, size_t k)
{
	ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;

	while (lo < hi) {
		ptrdiff_t i = lo, j = hi, mid = lo + (hi - lo) / 2;
		float x = a[lo], y = a[mid], z = a[hi], pivot, t;

		/* median of three keeps sorted or constant runs linear */
		pivot = x < y ? (y < z ? y : (x < z ? z : x))
		    : (x < z ? x : (y < z ? z : y));
		while (i <= j) {
			while (a[i] < pivot)
				i++;
			while (a[j] > pivot)
				j--;
			if (i <= j) {
				t = a[i];
				a[i] = a[j];
				a[j] = t;
				i++;
				j--;
			}
		}
		if (kk <= j)
			hi = j;
		else if (kk >= i)
			lo = i;
		else
			return a[kk];
	}
	return a[kk];
}

/*
 * Element r of the sorted full n x n squared-distance matrix, given its
 * strict lower triangle u (m values, reordered).  The full matrix is n
 * zeros (the diagonal) and each off-diagonal value twice; distances are
 * clamped at 0, so the zeros sort first.
 */
static double
full_rank_value(float *u, size_t m, size_t n, size_t r)
{
	if (r < n)
		return 0;
	return select_kth(u, m, (r - n) / 2);
}

/*
 * Turn g, holding Xc Xc' in its lower triangle, into the RBF kernel
 * exp(-d^2 / (2 t^2 median(d^2))).  The median is np.median of the full
 * matrix, zero diagonal included, as in the demo's gram_rbf.
 */
static int
gram_rbf(float *g, size_t n, double t, struct xf_err *err)
{
	size_t i, j, m = n * (n - 1) / 2, nn = n * n, k;
	double *sq, med, scale;
	float *u;

	sq = malloc(n * sizeof *sq);
	u = malloc((m ? m : 1) * sizeof *u);
	if (sq == NULL || u == NULL) {
		free(sq);
		free(u);
		return xf_errf(err, "out of memory for the RBF median of "
		    "%zu examples", n);
	}
	for (i = 0; i < n; i++)
		sq[i] = g[i * n + i];
	k = 0;
	for (i = 0; i < n; i++) {
		float *row = g + i * n;

		for (j = 0; j < i; j++) {
			double d = sq[i] + sq[j] - 2.0 * row[j];

			row[j] = (float)(d > 0 ? d : 0);
			u[k++] = row[j];
		}
		row[i] = 0;
	}
	if (nn % 2)
		med = full_rank_value(u, m, n, nn / 2);
	else
		med = 0.5 * (full_rank_value(u, m, n, nn / 2 - 1) +
		    full_rank_value(u, m, n, nn / 2));
	free(u);
	free(sq);
	if (!(med > 0))
		return xf_errf(err, "RBF kernel: median squared distance is 0 "
		    "(more than half of the %zu examples coincide)", n);
	scale = -1.0 / (2.0 * t * t * med);
	for (i = 0; i < n; i++) {
		float *row = g + i * n;

		for (j = 0; j < i; j++)
			row[j] = (float)exp(row[j] * scale);
		row[i] = 1;
	}
	return 0;
}

/*
 * acc (p, p), lower triangle, += A' A for A (n, p), in row chunks: each
 * chunk's product is a float ssyrk, the sum over chunks is double, so the
 * float error does not grow with n.  work is (p, p) floats.
 */
static void
syrk_chunked(double *acc, float *work, const float *a, size_t n, size_t p,
    int threads)
{
	float one = 1, zero = 0;
	rntm_t r;
	size_t r0, i, j;

	for (r0 = 0; r0 < n; r0 += XF_CKA_CHUNK) {
		size_t rows = n - r0 < XF_CKA_CHUNK ? n - r0 : XF_CKA_CHUNK;

		bli_ssyrk_ex(BLIS_LOWER, BLIS_TRANSPOSE, (dim_t)p, (dim_t)rows,
		    &one, (float *)a + r0 * p, (inc_t)p, 1, &zero, work,
		    (inc_t)p, 1, NULL,
		    cka_rntm_work(&r, threads, (double)p * p * rows));
		for (i = 0; i < p; i++)
			for (j = 0; j <= i; j++)
				acc[i * p + j] += work[i * p + j];
	}
}

/* acc (p, q) += A' B for A (n, p), B (n, q), chunked as syrk_chunked. */
static void
gemm_chunked(double *acc, float *work, const float *a, size_t p,
    const float *b, size_t q, size_t n, int threads)
{
	float one = 1, zero = 0;
	rntm_t r;
	size_t r0, k;

	for (r0 = 0; r0 < n; r0 += XF_CKA_CHUNK) {
		size_t rows = n - r0 < XF_CKA_CHUNK ? n - r0 : XF_CKA_CHUNK;

		bli_sgemm_ex(BLIS_TRANSPOSE, BLIS_NO_TRANSPOSE, (dim_t)p,
		    (dim_t)q, (dim_t)rows, &one, (float *)a + r0 * p, (inc_t)p,
		    1, (float *)b + r0 * q, (inc_t)q, 1, &zero, work, (inc_t)q,
		    1, NULL, cka_rntm_work(&r, threads, 2.0 * p * q * rows));
		for (k = 0; k < p * q; k++)
			acc[k] += work[k];
	}
}

/*
 * The demo's _debiased_dot_product_similarity_helper: Song et al.'s
 * unbiased HSIC times n (n - 3), from feature-space quantities.  It equals
 * <Ku, Lu> of the U-centred Gram matrices, so feature and Gram sides mix.
 */
double
cka_debias(double xty, double dxdy, double sx, double sy, size_t n)
{
	double nd = (double)n;

	return xty - nd / (nd - 2) * dxdy + sx * sy / ((nd - 1) * (nd - 2));
}

void
xf_cka_side_free(struct xf_cka_side *s)
{
	if (s == NULL)
		return;
	free(s->gram);
	free(s->feat);
	free(s->row_sq);
	free(s);
}

static int
side_feature(struct xf_cka_side *s, const float *X, struct xf_err *err)
{
	size_t n = s->n, p = s->p, i;
	double *mean, *g;
	float *work;
	int rc = 0;

	s->feat = malloc(n * p * sizeof *s->feat);
	s->row_sq = malloc(n * sizeof *s->row_sq);
	mean = malloc(p * sizeof *mean);
	g = calloc(p * p, sizeof *g);
	work = malloc(p * p * sizeof *work);
	if (s->feat == NULL || s->row_sq == NULL || mean == NULL || g == NULL ||
	    work == NULL) {
		rc = xf_errf(err, "out of memory for %zu x %zu features", n, p);
		goto out;
	}
	cka_cols_center(s->feat, mean, X, n, p);
	s->sq_norm = 0;
	for (i = 0; i < n; i++) {
		s->row_sq[i] = cka_dot_fd(s->feat + i * p, s->feat + i * p, p);
		s->sq_norm += s->row_sq[i];
	}
	syrk_chunked(g, work, s->feat, n, p, s->threads);
	s->self = cka_sym_sq_norm(g, p);
	if (s->debiased)
		s->self = cka_debias(s->self, cka_dot_dd(s->row_sq, s->row_sq, n),
		    s->sq_norm, s->sq_norm, n);
out:
	free(mean);
	free(g);
	free(work);
	return rc;
}

static int
side_gram(struct xf_cka_side *s, const float *X, int kernel, double t,
    struct xf_err *err)
{
	size_t n = s->n, p = s->p;
	float one = 1, zero = 0, *xc;
	double *work;
	rntm_t r;

	if (n > SIZE_MAX / sizeof(float) / n)
		return xf_errf(err, "%zu examples: Gram matrix too large", n);
	s->gram = calloc(n * n, sizeof *s->gram);
	xc = malloc(n * p * sizeof *xc);
	work = malloc((n > p ? n : p) * sizeof *work);
	if (s->gram == NULL || xc == NULL || work == NULL) {
		free(xc);
		free(work);
		return xf_errf(err, "out of memory for a %zu x %zu Gram matrix "
		    "(%.1f GB)", n, n, (double)n * n * 4 / 1e9);
	}
	/* Centring X first changes nothing mathematically (HKH removes it;
	 * distances ignore it) but keeps the float products free of offset. */
	cka_cols_center(xc, work, X, n, p);
	bli_ssyrk_ex(BLIS_LOWER, BLIS_NO_TRANSPOSE, (dim_t)n, (dim_t)p, &one,
	    xc, (inc_t)p, 1, &zero, s->gram, (inc_t)n, 1, NULL,
	    cka_rntm_work(&r, s->threads, (double)n * n * p));
	free(xc);
	if (kernel == XF_CKA_RBF && gram_rbf(s->gram, n, t, err) == -1) {
		free(work);
		return -1;
	}
	gram_center(s->gram, work, n, s->debiased);
	free(work);
	s->self = sym_dot(s->gram, s->gram, n);
	return 0;
}

struct xf_cka_side *
xf_cka_side_new(const float *X, size_t n, size_t p,
    const struct xf_cka_opts *o, struct xf_err *err)
{
	struct xf_cka_opts def;
	struct xf_cka_side *s;
	int rc;

	if (o == NULL) {
		xf_cka_opts_default(&def);
		o = &def;
	}
	if (cka_opts_check(o, err) == -1 || cka_n_check(n, o->debiased, err) == -1)
		return NULL;
	if (X == NULL || p == 0) {
		xf_errf(err, "CKA input of %zu features, want at least 1", p);
		return NULL;
	}
	if ((s = calloc(1, sizeof *s)) == NULL) {
		xf_errf(err, "out of memory");
		return NULL;
	}
	s->n = n;
	s->p = p;
	s->debiased = o->debiased != 0;
	s->threads = o->threads;
	s->form = o->form;
	if (s->form == XF_CKA_FORM_AUTO)
		s->form = o->kernel == XF_CKA_LINEAR && p < n ?
		    XF_CKA_FORM_FEATURE : XF_CKA_FORM_GRAM;
	if (s->form == XF_CKA_FORM_FEATURE)
		rc = side_feature(s, X, err);
	else
		rc = side_gram(s, X, o->kernel, o->rbf_threshold, err);
	if (rc == -1) {
		xf_cka_side_free(s);
		return NULL;
	}
	return s;
}

double
xf_cka_side_self(const struct xf_cka_side *s)
{
	return s->self;
}

size_t
xf_cka_side_bytes(const struct xf_cka_side *s)
{
	size_t b = sizeof *s;

	if (s->gram != NULL)
		b += s->n * s->n * sizeof *s->gram;
	if (s->feat != NULL)
		b += s->n * s->p * sizeof *s->feat + s->n * sizeof *s->row_sq;
	return b;
}

/* tr(Yc' Kc Yc) = <Kc, Yc Yc'>, which is <Kc, Lc> for both estimators:
 * Kc has zero row sums (and, debiased, a zero diagonal), so centring or
 * U-centring L changes nothing in the product. */
static int
dot_gram_feature(double *dot, const struct xf_cka_side *g,
    const struct xf_cka_side *f, struct xf_err *err)
{
	size_t n = g->n, q = f->p;
	float one = 1, zero = 0, *t;
	rntm_t r;

	if ((t = malloc(n * q * sizeof *t)) == NULL)
		return xf_errf(err, "out of memory for %zu x %zu", n, q);
	bli_ssymm_ex(BLIS_LEFT, BLIS_LOWER, BLIS_NO_CONJUGATE,
	    BLIS_NO_TRANSPOSE, (dim_t)n, (dim_t)q, &one, g->gram, (inc_t)n, 1,
	    f->feat, (inc_t)q, 1, &zero, t, (inc_t)q, 1, NULL,
	    cka_rntm_work(&r, g->threads, 2.0 * n * n * q));
	*dot = cka_dot_fd(t, f->feat, n * q);
	free(t);
	return 0;
}

static int
dot_feature_feature(double *dot, const struct xf_cka_side *a,
    const struct xf_cka_side *b, struct xf_err *err)
{
	size_t n = a->n, p = a->p, q = b->p;
	double *g;
	float *work;

	g = calloc(p * q, sizeof *g);
	work = malloc(p * q * sizeof *work);
	if (g == NULL || work == NULL) {
		free(g);
		free(work);
		return xf_errf(err, "out of memory for %zu x %zu", p, q);
	}
	gemm_chunked(g, work, a->feat, p, b->feat, q, n, a->threads);
	*dot = cka_dot_dd(g, g, p * q);
	free(g);
	free(work);
	if (a->debiased)
		*dot = cka_debias(*dot, cka_dot_dd(a->row_sq, b->row_sq, n),
		    a->sq_norm, b->sq_norm, n);
	return 0;
}

/* <Kc, Lc> of two sides, unnormalised. */
int
cka_side_dot(double *dot, const struct xf_cka_side *a, const struct xf_cka_side *b,
    struct xf_err *err)
{
	if (a->n != b->n)
		return xf_errf(err, "CKA of %zu and %zu examples", a->n, b->n);
	if (a->debiased != b->debiased)
		return xf_errf(err, "CKA of a biased and a debiased side");
	if (a->form == XF_CKA_FORM_GRAM && b->form == XF_CKA_FORM_GRAM) {
		*dot = sym_dot(a->gram, b->gram, a->n);
		return 0;
	}
	if (a->form == XF_CKA_FORM_GRAM)
		return dot_gram_feature(dot, a, b, err);
	if (b->form == XF_CKA_FORM_GRAM)
		return dot_gram_feature(dot, b, a, err);
	return dot_feature_feature(dot, a, b, err);
}

int
cka_ratio_of(double *cka, double dot, double self_a, double self_b,
    struct xf_err *err)
{
	/* A constant input has Kc = 0; debiased rounding can leave a tiny
	 * negative instead.  Either way CKA is undefined, not NaN. */
	if (!(self_a > 0) || !(self_b > 0))
		return xf_errf(err, "CKA undefined: %s input has zero "
		    "self-similarity (constant activations?)",
		    self_a > 0 ? "second" : "first");
	*cka = dot / sqrt(self_a * self_b);
	return 0;
}

int
xf_cka_side_pair(double *cka, const struct xf_cka_side *a,
    const struct xf_cka_side *b, struct xf_err *err)
{
	double dot;

	if (cka_side_dot(&dot, a, b, err) == -1)
		return -1;
	return cka_ratio_of(cka, dot, a->self, b->self, err);
}

/* Two sides at once when there are threads for both: each side gets half
 * the BLIS threads.  Two independent single-threaded ssyrk calls need no
 * BLIS barriers, which keeps the speed when other work shares the cores,
 * and the centring passes run in parallel for free. */
struct side_job {
	const float *x;
	size_t n, p;
	struct xf_cka_opts o;
	struct xf_cka_side *side;
	struct xf_err err;
};

static void *
side_job_run(void *arg)
{
	struct side_job *j = arg;

	j->side = xf_cka_side_new(j->x, j->n, j->p, &j->o, &j->err);
	return NULL;
}

int
cka_sides_new(struct xf_cka_side **a, struct xf_cka_side **b, const float *X,
    size_t p, const float *Y, size_t q, size_t n,
    const struct xf_cka_opts *o, struct xf_err *err)
{
	struct side_job ja = { X, n, p, *o, NULL, { "" } };
	struct side_job jb = { Y, n, q, *o, NULL, { "" } };
	pthread_t t;
	int par = o->threads >= 2;

	if (par) {
		ja.o.threads = o->threads / 2;
		jb.o.threads = o->threads - o->threads / 2;
		par = pthread_create(&t, NULL, side_job_run, &jb) == 0;
	}
	side_job_run(&ja);
	if (par)
		pthread_join(t, NULL);
	else
		side_job_run(&jb);
	if (ja.side == NULL || jb.side == NULL) {
		xf_errf(err, "%s", ja.side == NULL ? ja.err.msg : jb.err.msg);
		xf_cka_side_free(ja.side);
		xf_cka_side_free(jb.side);
		return -1;
	}
	/* pairs run on the caller's full thread count */
	ja.side->threads = jb.side->threads = o->threads;
	*a = ja.side;
	*b = jb.side;
	return 0;
}

int
xf_cka(double *cka, const float *X, size_t p, const float *Y, size_t q,
    size_t n, const struct xf_cka_opts *o, struct xf_err *err)
{
	struct xf_cka_opts oo;
	struct xf_cka_side *a, *b;
	int rc;

	if (o == NULL)
		xf_cka_opts_default(&oo);
	else
		oo = *o;
	if (cka_opts_check(&oo, err) == -1)
		return -1;
	/* One form for both sides, chosen on both widths: the feature form
	 * only pays when p and q are both below n. */
	if (oo.form == XF_CKA_FORM_AUTO)
		oo.form = oo.kernel == XF_CKA_LINEAR && p < n && q < n ?
		    XF_CKA_FORM_FEATURE : XF_CKA_FORM_GRAM;
	if (cka_sides_new(&a, &b, X, p, Y, q, n, &oo, err) == -1)
		return -1;
	rc = xf_cka_side_pair(cka, a, b, err);
	xf_cka_side_free(a);
	xf_cka_side_free(b);
	return rc;
}
