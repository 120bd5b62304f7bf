/*
 * relu_maxpool.c: ReLU and 2x2 max pooling, with AVX-512 loops that give
 * the same bytes as the plain ones, and the naive _ref twins.
 */
#include <math.h>
#include <string.h>

#include "nn_impl.h"

/*
 * ReLU.  The AVX-512 loops give the same bytes as the plain ones: max(x, 0)
 * takes the second operand for NaN, as x > 0 ? x : 0 does.
 */
__attribute__((target("avx512f")))
static void
relu_forward_avx512(float *out, const float *in, size_t count)
{
	__m512 zero = _mm512_setzero_ps();

	for (size_t i = 0; i < count; i += 16) {
		__mmask16 k = mask_first(count - i < 16 ? (int)(count - i) : 16);

		_mm512_mask_storeu_ps(out + i, k,
		    _mm512_max_ps(_mm512_maskz_loadu_ps(k, in + i), zero));
	}
}

__attribute__((target("avx512f")))
static void
relu_backward_avx512(float *din, const float *dout, const float *out,
    size_t count)
{
	__m512 zero = _mm512_setzero_ps();

	for (size_t i = 0; i < count; i += 16) {
		__mmask16 k = mask_first(count - i < 16 ? (int)(count - i) : 16);
		__mmask16 pos = _mm512_mask_cmp_ps_mask(k,
		    _mm512_maskz_loadu_ps(k, out + i), zero, _CMP_GT_OQ);

		_mm512_mask_storeu_ps(din + i, k,
		    _mm512_maskz_loadu_ps(pos, dout + i));
	}
}

/*
 * Element-wise layers split over the pool by element or by plane: every
 * output comes from its own inputs only, so any split gives the same bytes.
 * Small layers stay on the calling thread, where waking the pool costs
 * more than it saves.
 */
#define SPLIT_MIN_FLOATS 65536

/* Forward: out = relu(in).  Backward: out (din) = dout where act > 0. */
struct relu_args {
	float *out;		/* (count) */
	const float *in;	/* (count), forward */
	const float *dout;	/* (count), backward */
	const float *act;	/* (count), backward: the forward's output */
	size_t count;
	int backward;
};

/* The plain loops, for the generic path, and the AVX2 ones (the same
 * bytes: max and blend take 0 for NaN, as the comparisons do). */
__attribute__((target("avx2,fma")))
static void
relu_forward_avx2(float *out, const float *in, size_t count)
{
	size_t n8 = count & ~(size_t)7;

	for (size_t i = 0; i < n8; i += 8)
		_mm256_storeu_ps(out + i, _mm256_max_ps(_mm256_loadu_ps(in + i),
		    _mm256_setzero_ps()));
	for (size_t i = n8; i < count; i++)
		out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

__attribute__((target("avx2,fma")))
static void
relu_backward_avx2(float *din, const float *dout, const float *out,
    size_t count)
{
	size_t n8 = count & ~(size_t)7;

	for (size_t i = 0; i < n8; i += 8) {
		__m256 pos = _mm256_cmp_ps(_mm256_loadu_ps(out + i),
		    _mm256_setzero_ps(), _CMP_GT_OQ);

		_mm256_storeu_ps(din + i, _mm256_and_ps(pos,
		    _mm256_loadu_ps(dout + i)));
	}
	for (size_t i = n8; i < count; i++)
		din[i] = out[i] > 0.0f ? dout[i] : 0.0f;
}

static void
relu_forward_plain(float *out, const float *in, size_t count)
{
	for (size_t i = 0; i < count; i++)
		out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

static void
relu_backward_plain(float *din, const float *dout, const float *out,
    size_t count)
{
	for (size_t i = 0; i < count; i++)
		din[i] = out[i] > 0.0f ? dout[i] : 0.0f;
}

/* One thread's share of a ReLU, on the path in use. */
static void
relu_part(const struct relu_args *j, size_t i0, size_t i1)
{
	int avx512 = nn_avx512(), avx2 = nn_avx2();

	if (j->backward)
		(avx512 ? relu_backward_avx512 : avx2 ? relu_backward_avx2 :
		    relu_backward_plain)(j->out + i0, j->dout + i0, j->act + i0,
		    i1 - i0);
	else
		(avx512 ? relu_forward_avx512 : avx2 ? relu_forward_avx2 :
		    relu_forward_plain)(j->out + i0, j->in + i0, i1 - i0);
}

static void
relu_job(void *arg, int tid, int nt)
{
	struct relu_args *j = arg;
	size_t i0, i1;

	xf_nn_split(j->count, tid, nt, &i0, &i1);
	if (i0 < i1)
		relu_part(j, i0, i1);
}

/* Large layers over the pool, small ones on the calling thread. */
static void
relu_run(struct relu_args *j)
{
	if (j->count >= SPLIT_MIN_FLOATS)
		xf_nn_run(relu_job, j);
	else
		relu_part(j, 0, j->count);
}

void
xf_relu_forward(float *out /* (count) */, const float *in /* (count) */,
    size_t count)
{
	struct relu_args j = { .out = out, .in = in, .count = count };

	relu_run(&j);
}

void
xf_relu_backward(float *din /* (count) */, const float *dout /* (count) */,
    const float *out /* (count) */, size_t count)
{
	struct relu_args j = { .out = din, .dout = dout, .act = out,
	    .count = count, .backward = 1 };

	relu_run(&j);
}

void
xf_relu_forward_ref(float *out /* (count) */, const float *in /* (count) */,
    size_t count)
{
	for (size_t i = 0; i < count; i++)
		out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void
xf_relu_backward_ref(float *din /* (count) */,
    const float *dout /* (count) */, const float *out /* (count) */,
    size_t count)
{
	for (size_t i = 0; i < count; i++)
		din[i] = out[i] > 0.0f ? dout[i] : 0.0f;
}

/*
 * 2x2 max pool, stride 2.  The AVX-512 versions split each input row into
 * its even and odd columns and keep the _ref's order of comparisons (a
 * later element wins only when strictly greater; forward starts from -inf,
 * so it skips NaN), so they give the same bytes.
 */
__attribute__((target("avx512f")))
static void
maxpool_forward_avx512(float *out, const float *in, int n, int c, int h,
    int w)
{
	int oh = h / 2, ow = w / 2;
	__m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12,
	    10, 8, 6, 4, 2, 0);
	__m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));

	for (size_t p = 0; p < (size_t)n * c; p++) {
		const float *src = in + p * h * w;
		float *dst = out + p * oh * ow;

		for (int y = 0; y < oh; y++) {
			const float *r0 = src + 2 * y * w, *r1 = r0 + w;

			for (int x = 0; x < ow; x += 16) {
				int m = ow - x < 16 ? ow - x : 16;
				__mmask16 klo = mask_first(2 * m), khi =
				    mask_first(2 * m > 16 ? 2 * m - 16 : 0);
				__m512 a0 = _mm512_maskz_loadu_ps(klo, r0 + 2 * x);
				__m512 a1 = _mm512_maskz_loadu_ps(khi, r0 + 2 * x + 16);
				__m512 b0 = _mm512_maskz_loadu_ps(klo, r1 + 2 * x);
				__m512 b1 = _mm512_maskz_loadu_ps(khi, r1 + 2 * x + 16);
				__m512 v = _mm512_set1_ps(-INFINITY);

				/* max_ps(x, v) is x > v ? x : v, the _ref's step. */
				v = _mm512_max_ps(_mm512_permutex2var_ps(a0, even, a1), v);
				v = _mm512_max_ps(_mm512_permutex2var_ps(a0, odd, a1), v);
				v = _mm512_max_ps(_mm512_permutex2var_ps(b0, even, b1), v);
				v = _mm512_max_ps(_mm512_permutex2var_ps(b0, odd, b1), v);
				_mm512_mask_storeu_ps(dst + y * ow + x, mask_first(m), v);
			}
		}
	}
}

__attribute__((target("avx512f")))
static void
maxpool_backward_avx512(float *din, const float *dout, const float *in, int n,
    int c, int h, int w)
{
	int oh = h / 2, ow = w / 2;
	__m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12,
	    10, 8, 6, 4, 2, 0);
	__m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
	/* Interleave lanes 0-7 (lo) or 8-15 (hi) of an even and an odd
	 * vector back into one row. */
	__m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2,
	    17, 1, 16, 0);
	__m512i hi = _mm512_add_epi32(lo, _mm512_set1_epi32(8));

	for (size_t p = 0; p < (size_t)n * c; p++) {
		const float *src = in + p * h * w;
		const float *g = dout + p * oh * ow;
		float *dst = din + p * h * w;

		/* An odd last row or column is never a window's maximum. */
		if (h % 2 != 0)
			memset(dst + (size_t)(h - 1) * w, 0, w * sizeof *dst);
		for (int y = 0; y < oh; y++) {
			const float *r0 = src + 2 * y * w, *r1 = r0 + w;
			float *d0 = dst + 2 * y * w, *d1 = d0 + w;

			if (w % 2 != 0)
				d0[w - 1] = d1[w - 1] = 0.0f;
			for (int x = 0; x < ow; x += 16) {
				int m = ow - x < 16 ? ow - x : 16;
				__mmask16 klo = mask_first(2 * m), khi =
				    mask_first(2 * m > 16 ? 2 * m - 16 : 0);
				__m512 a0 = _mm512_maskz_loadu_ps(klo, r0 + 2 * x);
				__m512 a1 = _mm512_maskz_loadu_ps(khi, r0 + 2 * x + 16);
				__m512 b0 = _mm512_maskz_loadu_ps(klo, r1 + 2 * x);
				__m512 b1 = _mm512_maskz_loadu_ps(khi, r1 + 2 * x + 16);
				__m512 v[4] = {
					_mm512_permutex2var_ps(a0, even, a1),
					_mm512_permutex2var_ps(a0, odd, a1),
					_mm512_permutex2var_ps(b0, even, b1),
					_mm512_permutex2var_ps(b0, odd, b1),
				};
				__m512 best = v[0], gv = _mm512_maskz_loadu_ps(
				    mask_first(m), g + y * ow + x);
				__mmask16 win[4], taken;

				for (int q = 1; q < 4; q++) {
					win[q] = _mm512_cmp_ps_mask(v[q], best,
					    _CMP_GT_OQ);
					best = _mm512_mask_mov_ps(best, win[q], v[q]);
				}
				/* The last window that won is the first max. */
				win[2] = win[2] & ~win[3];
				win[1] = win[1] & ~(win[2] | win[3]);
				taken = win[1] | win[2] | win[3];
				win[0] = (__mmask16)~taken;
				for (int q = 0; q < 4; q++)
					v[q] = _mm512_maskz_mov_ps(win[q], gv);
				_mm512_mask_storeu_ps(d0 + 2 * x, klo,
				    _mm512_permutex2var_ps(v[0], lo, v[1]));
				_mm512_mask_storeu_ps(d0 + 2 * x + 16, khi,
				    _mm512_permutex2var_ps(v[0], hi, v[1]));
				_mm512_mask_storeu_ps(d1 + 2 * x, klo,
				    _mm512_permutex2var_ps(v[2], lo, v[3]));
				_mm512_mask_storeu_ps(d1 + 2 * x + 16, khi,
				    _mm512_permutex2var_ps(v[2], hi, v[3]));
			}
		}
	}
}

/* Forward: out = pool(in).  Backward: out (din) from dout and in. */
struct maxpool_args {
	float *out;		/* forward (N, C, OH, OW); backward (N, C, H, W) */
	const float *in;	/* (N, C, H, W) */
	const float *dout;	/* (N, C, OH, OW), backward */
	int backward, n, c, h, w;
};

/* The plain loops, for the generic and AVX2 paths. */
static void
maxpool_forward_plain(float *out, const float *in, int n, int c, int h,
    int w)
{
	int oh = h / 2, ow = w / 2;

	for (size_t p = 0; p < (size_t)n * c; p++) {
		const float *src = in + p * h * w;
		float *dst = out + p * oh * ow;

		for (int y = 0; y < oh; y++) {
			const float *r0 = src + 2 * y * w, *r1 = r0 + w;

			for (int x = 0; x < ow; x++) {
				/* Comparisons, not fmaxf: no libm call per
				 * element, and NaN skipped as in the _ref. */
				float a = r0[2 * x], b = r0[2 * x + 1];
				float c2 = r1[2 * x], d2 = r1[2 * x + 1];

				a = a > -INFINITY ? a : -INFINITY;
				a = b > a ? b : a;
				a = c2 > a ? c2 : a;
				dst[y * ow + x] = d2 > a ? d2 : a;
			}
		}
	}
}

static void
maxpool_backward_plain(float *din, const float *dout, const float *in, int n,
    int c, int h, int w)
{
	int oh = h / 2, ow = w / 2;

	memset(din, 0, (size_t)n * c * h * w * sizeof *din);
	for (size_t p = 0; p < (size_t)n * c; p++) {
		const float *src = in + p * h * w;
		const float *g = dout + p * oh * ow;
		float *dst = din + p * h * w;

		for (int y = 0; y < oh; y++)
			for (int x = 0; x < ow; x++) {
				int at = 2 * y * w + 2 * x;
				int cand[4] = { at, at + 1, at + w, at + w + 1 };
				int best = at;

				for (int q = 1; q < 4; q++)
					if (src[cand[q]] > src[best])
						best = cand[q];
				dst[best] = g[y * ow + x];
			}
	}
}

/* A run of planes, a batch of 1 with that many channels, on the path in
 * use. */
static void
maxpool_part(const struct maxpool_args *j, size_t p0, size_t p1)
{
	size_t hw = (size_t)j->h * j->w, ohw = (size_t)(j->h / 2) * (j->w / 2);
	int avx512 = nn_avx512();

	if (j->backward)
		(avx512 ? maxpool_backward_avx512 : maxpool_backward_plain)(
		    j->out + p0 * hw, j->dout + p0 * ohw, j->in + p0 * hw, 1,
		    (int)(p1 - p0), j->h, j->w);
	else
		(avx512 ? maxpool_forward_avx512 : maxpool_forward_plain)(
		    j->out + p0 * ohw, j->in + p0 * hw, 1, (int)(p1 - p0), j->h,
		    j->w);
}

/* Planes [p0, p1) of the n c planes for thread tid. */
static void
maxpool_job(void *arg, int tid, int nt)
{
	struct maxpool_args *j = arg;
	size_t planes = (size_t)j->n * j->c;
	size_t p0 = planes * tid / nt, p1 = planes * (tid + 1) / nt;

	if (p0 < p1)
		maxpool_part(j, p0, p1);
}

/* Large layers over the pool, small ones on the calling thread. */
static void
maxpool_run(struct maxpool_args *j)
{
	if ((size_t)j->n * j->c * j->h * j->w >= SPLIT_MIN_FLOATS)
		xf_nn_run(maxpool_job, j);
	else
		maxpool_part(j, 0, (size_t)j->n * j->c);
}

void
xf_maxpool_forward(float *out /* (N, C, OH, OW) */,
    const float *in /* (N, C, H, W) */, int n, int c, int h, int w)
{
	struct maxpool_args j = { .out = out, .in = in, .n = n, .c = c, .h = h,
	    .w = w };

	maxpool_run(&j);
}

void
xf_maxpool_backward(float *din /* (N, C, H, W) */,
    const float *dout /* (N, C, OH, OW) */, const float *in /* (N, C, H, W) */,
    int n, int c, int h, int w)
{
	struct maxpool_args j = { .out = din, .in = in, .dout = dout, .n = n,
	    .c = c, .h = h, .w = w, .backward = 1 };

	maxpool_run(&j);
}

void
xf_maxpool_forward_ref(float *out /* (N, C, OH, OW) */,
    const float *in /* (N, C, H, W) */, int n, int c, int h, int w)
{
	int oh = h / 2, ow = w / 2;

	for (int p = 0; p < n * c; p++)
		for (int y = 0; y < oh; y++)
			for (int x = 0; x < ow; x++) {
				float m = -INFINITY;

				for (int dy = 0; dy < 2; dy++)
					for (int dx = 0; dx < 2; dx++) {
						float v = in[((size_t)p * h + 2 * y + dy) *
						    w + 2 * x + dx];

						if (v > m)
							m = v;
					}
				out[((size_t)p * oh + y) * ow + x] = m;
			}
}

void
xf_maxpool_backward_ref(float *din /* (N, C, H, W) */,
    const float *dout /* (N, C, OH, OW) */, const float *in /* (N, C, H, W) */,
    int n, int c, int h, int w)
{
	int oh = h / 2, ow = w / 2;

	for (size_t i = 0; i < (size_t)n * c * h * w; i++)
		din[i] = 0.0f;
	for (int p = 0; p < n * c; p++)
		for (int y = 0; y < oh; y++)
			for (int x = 0; x < ow; x++) {
				size_t best = ((size_t)p * h + 2 * y) * w + 2 * x;

				for (int dy = 0; dy < 2; dy++)
					for (int dx = 0; dx < 2; dx++) {
						size_t at = ((size_t)p * h + 2 * y + dy) *
						    w + 2 * x + dx;

						if (in[at] > in[best])
							best = at;
					}
				din[best] = dout[((size_t)p * oh + y) * ow + x];
			}
}
