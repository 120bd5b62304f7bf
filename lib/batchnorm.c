/*
 * batchnorm.c: batch norm, train and eval forward and train backward, with
 * AVX-512 and AVX2 row loops and the naive _ref twins.
 */
#include <math.h>

#include "nn_impl.h"

/*
 * Batch-norm row loops.  The sums stay in double, as in the _ref; on
 * AVX-512 they run in 16 double lanes added up in a fixed order at the end,
 * so the result does not depend on the thread count.
 */
struct bn_sums {
	double s, ss;		/* sum of a, sum of a b */
};

__attribute__((target("avx512f")))
static double
hsum_pd(__m512d a, __m512d b)
{
	double lane[8], r = 0.0;

	_mm512_storeu_pd(lane, _mm512_add_pd(a, b));
	for (int q = 0; q < 8; q++)
		r += lane[q];
	return r;
}

/* s += sum x; with g, also ss += sum g (x - mean) and s sums g instead. */
__attribute__((target("avx512f")))
static void
bn_sums_avx512(struct bn_sums *r, const float *x, const float *g, int n,
    int rows, size_t stride, float mean)
{
	__m512d s0 = _mm512_setzero_pd(), s1 = s0, t0 = s0, t1 = s0;
	__m512 vm = _mm512_set1_ps(mean);

	for (int i = 0; i < rows; i++) {
		const float *xi = x + i * stride, *gi = g != NULL ? g + i * stride :
		    NULL;

		for (int q = 0; q < n; q += 16) {
			__mmask16 k = mask_first(n - q);
			__m512 v = _mm512_maskz_loadu_ps(k, xi + q);
			__m512d lo, hi;

			if (gi == NULL) {
				s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(
				    _mm512_castps512_ps256(v)));
				s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(
				    _mm256_castpd_ps(_mm512_extractf64x4_pd(
				    _mm512_castps_pd(v), 1))));
				continue;
			}
			__m512 gv = _mm512_maskz_loadu_ps(k, gi + q);
			__m512 dx = _mm512_sub_ps(v, vm);

			lo = _mm512_cvtps_pd(_mm512_castps512_ps256(gv));
			hi = _mm512_cvtps_pd(_mm256_castpd_ps(
			    _mm512_extractf64x4_pd(_mm512_castps_pd(gv), 1)));
			s0 = _mm512_add_pd(s0, lo);
			s1 = _mm512_add_pd(s1, hi);
			t0 = _mm512_fmadd_pd(lo, _mm512_cvtps_pd(
			    _mm512_castps512_ps256(dx)), t0);
			t1 = _mm512_fmadd_pd(hi, _mm512_cvtps_pd(
			    _mm256_castpd_ps(_mm512_extractf64x4_pd(
			    _mm512_castps_pd(dx), 1))), t1);
		}
	}
	r->s = hsum_pd(s0, s1);
	r->ss = hsum_pd(t0, t1);
}

/* Sum of (x - mean)^2 in double, the difference taken in float. */
__attribute__((target("avx512f")))
static double
bn_sumsq_avx512(const float *x, int n, int rows, size_t stride, float mean)
{
	__m512d t0 = _mm512_setzero_pd(), t1 = t0;
	__m512 vm = _mm512_set1_ps(mean);

	for (int i = 0; i < rows; i++) {
		const float *xi = x + i * stride;

		for (int q = 0; q < n; q += 16) {
			__mmask16 k = mask_first(n - q);
			__m512 dx = _mm512_maskz_sub_ps(k,
			    _mm512_maskz_loadu_ps(k, xi + q), vm);
			__m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(dx));
			__m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(
			    _mm512_extractf64x4_pd(_mm512_castps_pd(dx), 1)));

			t0 = _mm512_fmadd_pd(lo, lo, t0);
			t1 = _mm512_fmadd_pd(hi, hi, t1);
		}
	}
	return hsum_pd(t0, t1);
}

/* y = x scale + shift, then ReLU, over rows rows of n. */
__attribute__((target("avx512f")))
static void
bn_affine_avx512(float *y, const float *x, int n, int rows, size_t stride,
    float scale, float shift, int relu)
{
	__m512 vs = _mm512_set1_ps(scale), vt = _mm512_set1_ps(shift);

	for (int i = 0; i < rows; i++)
		for (int q = 0; q < n; q += 16) {
			__mmask16 k = mask_first(n - q);
			__m512 v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k,
			    x + i * stride + q), vs, vt);

			if (relu)
				v = _mm512_max_ps(v, _mm512_setzero_ps());
			_mm512_mask_storeu_ps(y + i * stride + q, k, v);
		}
}

/*
 * The AVX2 twins: 8 double lanes (two vectors of 4), the row's tail past a
 * multiple of 8 in scalars, all added in a fixed order at the end.
 */
__attribute__((target("avx2,fma")))
static double
hsum_pd_avx2(__m256d a, __m256d b, double tail)
{
	double lane[4], r = 0.0;

	_mm256_storeu_pd(lane, _mm256_add_pd(a, b));
	for (int q = 0; q < 4; q++)
		r += lane[q];
	return r + tail;
}

__attribute__((target("avx2,fma")))
static void
bn_sums_avx2(struct bn_sums *r, const float *x, const float *g, int n,
    int rows, size_t stride, float mean)
{
	__m256d s0 = _mm256_setzero_pd(), s1 = s0, t0 = s0, t1 = s0;
	__m256 vm = _mm256_set1_ps(mean);
	double st = 0.0, tt = 0.0;
	int n8 = n & ~7;

	for (int i = 0; i < rows; i++) {
		const float *xi = x + i * stride, *gi = g != NULL ? g + i * stride :
		    NULL;

		for (int q = 0; q < n8; q += 8) {
			__m256 v = _mm256_loadu_ps(xi + q);
			__m256d lo, hi;

			if (gi == NULL) {
				s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(
				    _mm256_castps256_ps128(v)));
				s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(
				    _mm256_extractf128_ps(v, 1)));
				continue;
			}
			__m256 gv = _mm256_loadu_ps(gi + q);
			__m256 dx = _mm256_sub_ps(v, vm);

			lo = _mm256_cvtps_pd(_mm256_castps256_ps128(gv));
			hi = _mm256_cvtps_pd(_mm256_extractf128_ps(gv, 1));
			s0 = _mm256_add_pd(s0, lo);
			s1 = _mm256_add_pd(s1, hi);
			t0 = _mm256_fmadd_pd(lo, _mm256_cvtps_pd(
			    _mm256_castps256_ps128(dx)), t0);
			t1 = _mm256_fmadd_pd(hi, _mm256_cvtps_pd(
			    _mm256_extractf128_ps(dx, 1)), t1);
		}
		for (int q = n8; q < n; q++) {
			if (gi == NULL) {
				st += xi[q];
				continue;
			}
			st += gi[q];
			tt += (double)gi[q] * (double)(xi[q] - mean);
		}
	}
	r->s = hsum_pd_avx2(s0, s1, st);
	r->ss = hsum_pd_avx2(t0, t1, tt);
}

__attribute__((target("avx2,fma")))
static double
bn_sumsq_avx2(const float *x, int n, int rows, size_t stride, float mean)
{
	__m256d t0 = _mm256_setzero_pd(), t1 = t0;
	__m256 vm = _mm256_set1_ps(mean);
	double tt = 0.0;
	int n8 = n & ~7;

	for (int i = 0; i < rows; i++) {
		const float *xi = x + i * stride;

		for (int q = 0; q < n8; q += 8) {
			__m256 dx = _mm256_sub_ps(_mm256_loadu_ps(xi + q), vm);
			__m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(dx));
			__m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(dx, 1));

			t0 = _mm256_fmadd_pd(lo, lo, t0);
			t1 = _mm256_fmadd_pd(hi, hi, t1);
		}
		for (int q = n8; q < n; q++) {
			double dx = xi[q] - mean;

			tt += dx * dx;
		}
	}
	return hsum_pd_avx2(t0, t1, tt);
}

__attribute__((target("avx2,fma")))
static void
bn_affine_avx2(float *y, const float *x, int n, int rows, size_t stride,
    float scale, float shift, int relu)
{
	__m256 vs = _mm256_set1_ps(scale), vt = _mm256_set1_ps(shift);
	int n8 = n & ~7;

	for (int i = 0; i < rows; i++) {
		const float *xi = x + i * stride;
		float *yi = y + i * stride;

		for (int q = 0; q < n8; q += 8) {
			__m256 v = _mm256_fmadd_ps(_mm256_loadu_ps(xi + q), vs, vt);

			if (relu)
				v = _mm256_max_ps(v, _mm256_setzero_ps());
			_mm256_storeu_ps(yi + q, v);
		}
		for (int q = n8; q < n; q++) {
			float v = fmaf(xi[q], scale, shift);

			yi[q] = relu && v < 0.0f ? 0.0f : v;
		}
	}
}

__attribute__((target("avx2,fma")))
static void
bn_dx_avx2(float *dx, const float *g, const float *x, int n, int rows,
    size_t stride, float mean, float scale, float k1, float k2)
{
	__m256 vm = _mm256_set1_ps(mean), vs = _mm256_set1_ps(scale);
	__m256 v1 = _mm256_set1_ps(k1), v2 = _mm256_set1_ps(k2);
	int n8 = n & ~7;

	for (int i = 0; i < rows; i++) {
		size_t at = i * stride;

		for (int q = 0; q < n8; q += 8) {
			__m256 xh = _mm256_sub_ps(_mm256_loadu_ps(x + at + q), vm);
			__m256 v = _mm256_sub_ps(_mm256_loadu_ps(g + at + q), v1);

			v = _mm256_mul_ps(vs, _mm256_fnmadd_ps(xh, v2, v));
			_mm256_storeu_ps(dx + at + q, v);
		}
		for (int q = n8; q < n; q++)
			dx[at + q] = scale * fmaf(-(x[at + q] - mean), k2,
			    g[at + q] - k1);
	}
}

/* The same, on the CPU's best path. */
static void
bn_affine(float *y, const float *x, int n, int rows, size_t stride,
    float scale, float shift, int relu, int avx512)
{
	if (avx512) {
		bn_affine_avx512(y, x, n, rows, stride, scale, shift, relu);
		return;
	}
	if (nn_avx2()) {
		bn_affine_avx2(y, x, n, rows, stride, scale, shift, relu);
		return;
	}
	for (int i = 0; i < rows; i++)
		for (int q = 0; q < n; q++) {
			float v = x[i * stride + q] * scale + shift;

			y[i * stride + q] = relu && v < 0.0f ? 0.0f : v;
		}
}

/* dx = scale (g - k1 - (x - mean) k2). */
__attribute__((target("avx512f")))
static void
bn_dx_avx512(float *dx, const float *g, const float *x, int n, int rows,
    size_t stride, float mean, float scale, float k1, float k2)
{
	__m512 vm = _mm512_set1_ps(mean), vs = _mm512_set1_ps(scale);
	__m512 v1 = _mm512_set1_ps(k1), v2 = _mm512_set1_ps(k2);

	for (int i = 0; i < rows; i++)
		for (int q = 0; q < n; q += 16) {
			size_t at = i * stride + q;
			__mmask16 k = mask_first(n - q);
			__m512 xh = _mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + at),
			    vm);
			__m512 v = _mm512_sub_ps(_mm512_maskz_loadu_ps(k, g + at),
			    v1);

			v = _mm512_mul_ps(vs, _mm512_fnmadd_ps(xh, v2, v));
			_mm512_mask_storeu_ps(dx + at, k, v);
		}
}

/*
 * Batch norm.  Split over the pool by channel, so every sum runs in one
 * thread in a fixed order.
 */
struct bn_train_args {
	float *out;		/* (N, C, HW) */
	float *mean, *rstd;	/* (C), written */
	float *rmean, *rvar;	/* (C), the running stats, moved */
	const float *in;	/* (N, C, HW) */
	const float *w, *b;	/* (C) */
	int relu, n, c, hw;
};

static void
bn_train_job(void *arg, int tid, int nt)
{
	struct bn_train_args *j = arg;
	size_t plane = (size_t)j->c * j->hw;
	double count = (double)j->n * j->hw;
	int avx512 = nn_avx512(), avx2 = nn_avx2();

	for (int ch = j->c * tid / nt; ch < j->c * (tid + 1) / nt; ch++) {
		const float *xc = j->in + (size_t)ch * j->hw;
		double s = 0.0, ss = 0.0, var;
		float mean, rstd, scale, shift;
		struct bn_sums r;

		if (avx512 || avx2) {
			(avx512 ? bn_sums_avx512 : bn_sums_avx2)(&r, xc, NULL,
			    j->hw, j->n, plane, 0.0f);
			s = r.s;
		} else
			for (int i = 0; i < j->n; i++) {
				const float *x = xc + i * plane;

				for (int q = 0; q < j->hw; q++)
					s += x[q];
			}
		mean = (float)(s / count);
		if (avx512 || avx2)
			ss = (avx512 ? bn_sumsq_avx512 : bn_sumsq_avx2)(xc,
			    j->hw, j->n, plane, mean);
		else
			for (int i = 0; i < j->n; i++) {
				const float *x = xc + i * plane;

				for (int q = 0; q < j->hw; q++) {
					double dx = x[q] - mean;

					ss += dx * dx;
				}
			}
		var = ss / count;
		rstd = (float)(1.0 / sqrt(var + XF_BN_EPS));
		j->mean[ch] = mean;
		j->rstd[ch] = rstd;
		j->rmean[ch] = (1.0f - XF_BN_MOMENTUM) * j->rmean[ch] +
		    XF_BN_MOMENTUM * mean;
		j->rvar[ch] = (1.0f - XF_BN_MOMENTUM) * j->rvar[ch] +
		    XF_BN_MOMENTUM * (float)(count > 1 ? ss / (count - 1) : var);
		scale = j->w[ch] * rstd;
		shift = j->b[ch] - mean * scale;
		bn_affine(j->out + (size_t)ch * j->hw, xc, j->hw, j->n, plane,
		    scale, shift, j->relu, avx512);
	}
}

void
xf_batchnorm_forward_train(float *out /* (N, C, HW) */, float *mean /* (C) */,
    float *rstd /* (C) */, float *running_mean /* (C) */,
    float *running_var /* (C) */, const float *in /* (N, C, HW) */,
    const float *w /* (C) */, const float *b /* (C) */, int relu, int n, int c,
    int hw)
{
	struct bn_train_args j = { .out = out, .mean = mean, .rstd = rstd,
	    .rmean = running_mean, .rvar = running_var, .in = in, .w = w,
	    .b = b, .relu = relu, .n = n, .c = c, .hw = hw };

	xf_nn_run(bn_train_job, &j);
}

struct bn_eval_args {
	float *out;			/* (N, C, HW) */
	const float *in;		/* (N, C, HW) */
	const float *w, *b;		/* (C) */
	const float *running_mean;	/* (C) */
	const float *running_var;	/* (C) */
	int relu, n, c, hw;
};

static void
bn_eval_job(void *arg, int tid, int nt)
{
	struct bn_eval_args *j = arg;
	size_t plane = (size_t)j->c * j->hw;
	int avx512 = nn_avx512();

	for (int ch = j->c * tid / nt; ch < j->c * (tid + 1) / nt; ch++) {
		float rstd = 1.0f / sqrtf(j->running_var[ch] + XF_BN_EPS);
		float scale = j->w[ch] * rstd;
		float shift = j->b[ch] - j->running_mean[ch] * scale;

		bn_affine(j->out + (size_t)ch * j->hw, j->in + (size_t)ch * j->hw,
		    j->hw, j->n, plane, scale, shift, j->relu, avx512);
	}
}

void
xf_batchnorm_forward_eval(float *out /* (N, C, HW) */,
    const float *in /* (N, C, HW) */, const float *w /* (C) */,
    const float *b /* (C) */, const float *running_mean /* (C) */,
    const float *running_var /* (C) */, int relu, int n, int c, int hw)
{
	struct bn_eval_args j = { .out = out, .in = in, .w = w, .b = b,
	    .running_mean = running_mean, .running_var = running_var,
	    .relu = relu, .n = n, .c = c, .hw = hw };

	xf_nn_run(bn_eval_job, &j);
}

struct bn_bwd_args {
	float *din;		/* (N, C, HW) or NULL */
	float *dw, *db;		/* (C) or NULL */
	const float *dout;	/* (N, C, HW) */
	const float *in;	/* (N, C, HW) */
	const float *mean;	/* (C), saved by the train forward */
	const float *rstd;	/* (C), likewise */
	const float *w;		/* (C) */
	int n, c, hw;
};

static void
bn_backward_job(void *arg, int tid, int nt)
{
	struct bn_bwd_args *j = arg;
	size_t plane = (size_t)j->c * j->hw;
	double count = (double)j->n * j->hw;
	int avx512 = nn_avx512(), avx2 = nn_avx2();

	for (int ch = j->c * tid / nt; ch < j->c * (tid + 1) / nt; ch++) {
		float mean = j->mean[ch], rstd = j->rstd[ch];
		double sg = 0.0, sgx = 0.0;
		float k1, k2, scale;
		struct bn_sums r;

		if (avx512 || avx2) {
			(avx512 ? bn_sums_avx512 : bn_sums_avx2)(&r,
			    j->in + (size_t)ch * j->hw,
			    j->dout + (size_t)ch * j->hw, j->hw, j->n, plane, mean);
			sg = r.s;
			sgx = r.ss;
		} else
			for (int i = 0; i < j->n; i++) {
				const float *x = j->in + i * plane +
				    (size_t)ch * j->hw;
				const float *g = j->dout + i * plane +
				    (size_t)ch * j->hw;

				for (int q = 0; q < j->hw; q++) {
					sg += g[q];
					sgx += (double)g[q] * (x[q] - mean);
				}
			}
		if (j->dw != NULL)
			j->dw[ch] += (float)(sgx * rstd);
		if (j->db != NULL)
			j->db[ch] += (float)sg;
		if (j->din == NULL)
			continue;
		/* din = w rstd (g - mean(g) - xhat mean(g xhat)). */
		scale = j->w[ch] * rstd;
		k1 = (float)(sg / count);
		k2 = (float)(sgx * rstd * rstd / count);
		if (avx512 || avx2) {
			(avx512 ? bn_dx_avx512 : bn_dx_avx2)(j->din + (size_t)ch * j->hw,
			    j->dout + (size_t)ch * j->hw, j->in + (size_t)ch * j->hw,
			    j->hw, j->n, plane, mean, scale, k1, k2);
			continue;
		}
		for (int i = 0; i < j->n; i++) {
			const float *x = j->in + i * plane + (size_t)ch * j->hw;
			const float *g = j->dout + i * plane + (size_t)ch * j->hw;
			float *dx = j->din + i * plane + (size_t)ch * j->hw;

			for (int q = 0; q < j->hw; q++)
				dx[q] = scale * (g[q] - k1 - (x[q] - mean) * k2);
		}
	}
}

void
xf_batchnorm_backward(float *din /* (N, C, HW) */, float *dw /* (C) */,
    float *db /* (C) */, const float *dout /* (N, C, HW) */,
    const float *in /* (N, C, HW) */, const float *mean /* (C) */,
    const float *rstd /* (C) */, const float *w /* (C) */, int n, int c,
    int hw)
{
	struct bn_bwd_args j = { .din = din, .dw = dw, .db = db, .dout = dout,
	    .in = in, .mean = mean, .rstd = rstd, .w = w, .n = n, .c = c,
	    .hw = hw };

	xf_nn_run(bn_backward_job, &j);
}

void
xf_batchnorm_forward_train_ref(float *out /* (N, C, HW) */,
    float *mean /* (C) */, float *rstd /* (C) */, float *running_mean /* (C) */,
    float *running_var /* (C) */, const float *in /* (N, C, HW) */,
    const float *w /* (C) */, const float *b /* (C) */, int relu, int n, int c,
    int hw)
{
	double count = (double)n * hw;

	for (int ch = 0; ch < c; ch++) {
		double s = 0.0, ss = 0.0, m, var;

		for (int i = 0; i < n; i++)
			for (int q = 0; q < hw; q++)
				s += in[((size_t)i * c + ch) * hw + q];
		m = s / count;
		for (int i = 0; i < n; i++)
			for (int q = 0; q < hw; q++) {
				double dx = in[((size_t)i * c + ch) * hw + q] - m;

				ss += dx * dx;
			}
		var = ss / count;
		mean[ch] = (float)m;
		rstd[ch] = (float)(1.0 / sqrt(var + XF_BN_EPS));
		running_mean[ch] = (float)((1.0 - XF_BN_MOMENTUM) *
		    running_mean[ch] + XF_BN_MOMENTUM * m);
		running_var[ch] = (float)((1.0 - XF_BN_MOMENTUM) *
		    running_var[ch] + XF_BN_MOMENTUM *
		    (count > 1 ? ss / (count - 1) : var));
		for (int i = 0; i < n; i++)
			for (int q = 0; q < hw; q++) {
				size_t at = ((size_t)i * c + ch) * hw + q;
				double v = (in[at] - m) / sqrt(var + XF_BN_EPS) *
				    w[ch] + b[ch];

				out[at] = (float)(relu && v < 0.0 ? 0.0 : v);
			}
	}
}

void
xf_batchnorm_forward_eval_ref(float *out /* (N, C, HW) */,
    const float *in /* (N, C, HW) */, const float *w /* (C) */,
    const float *b /* (C) */, const float *running_mean /* (C) */,
    const float *running_var /* (C) */, int relu, int n, int c, int hw)
{
	for (int i = 0; i < n; i++)
		for (int ch = 0; ch < c; ch++)
			for (int q = 0; q < hw; q++) {
				size_t at = ((size_t)i * c + ch) * hw + q;
				double v = (in[at] - running_mean[ch]) /
				    sqrt((double)running_var[ch] + XF_BN_EPS) *
				    w[ch] + b[ch];

				out[at] = (float)(relu && v < 0.0 ? 0.0 : v);
			}
}

void
xf_batchnorm_backward_ref(float *din /* (N, C, HW) */, float *dw /* (C) */,
    float *db /* (C) */, const float *dout /* (N, C, HW) */,
    const float *in /* (N, C, HW) */, const float *mean /* (C) */,
    const float *rstd /* (C) */, const float *w /* (C) */, int n, int c,
    int hw)
{
	double count = (double)n * hw;

	for (int ch = 0; ch < c; ch++) {
		double sg = 0.0, sgxh = 0.0;

		for (int i = 0; i < n; i++)
			for (int q = 0; q < hw; q++) {
				size_t at = ((size_t)i * c + ch) * hw + q;

				sg += dout[at];
				sgxh += dout[at] * (in[at] - (double)mean[ch]) *
				    rstd[ch];
			}
		if (dw != NULL)
			dw[ch] += (float)sgxh;
		if (db != NULL)
			db[ch] += (float)sg;
		if (din == NULL)
			continue;
		for (int i = 0; i < n; i++)
			for (int q = 0; q < hw; q++) {
				size_t at = ((size_t)i * c + ch) * hw + q;
				double xh = (in[at] - (double)mean[ch]) * rstd[ch];

				din[at] = (float)((double)w[ch] * rstd[ch] *
				    (dout[at] - sg / count - xh * sgxh / count));
			}
	}
}
