/*
 * kernels.c: layers (forward, backward, naive _ref twins), the thread pool
 * and the BLIS glue.  See nn.h for the conventions.  On AVX-512 CPUs,
 * stride-1 convolutions bypass BLIS for a direct kernel (see "Direct
 * convolution" below) and the element-wise layers have vector loops; every
 * other case takes the BLIS and plain-C paths.
 */
/* blis.h trips -Wextra; it is not ours to fix. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wtype-limits"
#include <blis.h>
#pragma GCC diagnostic pop
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "nn.h"

/*
 * Thread pool.  The caller is thread 0; workers 1..n-1 wait for a job.
 */
typedef void (*job_fn)(void *arg, int tid, int nthreads);

static struct {
	int		 n;
	pthread_t	 tid[XF_NN_PARTS];
	pthread_mutex_t	 mu;
	pthread_cond_t	 go, done;
	job_fn		 fn;
	void		*arg;
	unsigned	 gen;
	unsigned	 start_gen;	/* gen when the workers were made */
	int		 pending;
	int		 quit;
} pool = {
	.n = 1, .mu = PTHREAD_MUTEX_INITIALIZER,
	.go = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER,
};

static void *
worker(void *p)
{
	int id = (int)(intptr_t)p;
	unsigned seen = pool.start_gen;

	for (;;) {
		job_fn fn;
		void *arg;

		pthread_mutex_lock(&pool.mu);
		while (pool.gen == seen && !pool.quit)
			pthread_cond_wait(&pool.go, &pool.mu);
		if (pool.quit) {
			pthread_mutex_unlock(&pool.mu);
			return NULL;
		}
		seen = pool.gen;
		fn = pool.fn;
		arg = pool.arg;
		pthread_mutex_unlock(&pool.mu);
		fn(arg, id, pool.n);
		pthread_mutex_lock(&pool.mu);
		if (--pool.pending == 0)
			pthread_cond_signal(&pool.done);
		pthread_mutex_unlock(&pool.mu);
	}
}

static void
pool_stop(void)
{
	pthread_mutex_lock(&pool.mu);
	pool.quit = 1;
	pthread_cond_broadcast(&pool.go);
	pthread_mutex_unlock(&pool.mu);
	for (int i = 1; i < pool.n; i++)
		pthread_join(pool.tid[i], NULL);
	pool.quit = 0;
	pool.n = 1;
}

int
xf_nn_set_threads(int n)
{
	if (n <= 0)
		n = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > XF_NN_PARTS)
		n = XF_NN_PARTS;
	pool_stop();
	pool.n = n;
	/* A new worker must not take the last job for a new one. */
	pool.start_gen = pool.gen;
	for (int i = 1; i < n; i++)
		if (pthread_create(&pool.tid[i], NULL, worker,
		    (void *)(intptr_t)i) != 0) {
			/* Workers read pool.n only when a job starts. */
			pool.n = i;
			break;
		}
	return pool.n;
}

int
xf_nn_threads(void)
{
	return pool.n;
}

static void
pool_run(job_fn fn, void *arg)
{
	if (pool.n == 1) {
		fn(arg, 0, 1);
		return;
	}
	pthread_mutex_lock(&pool.mu);
	pool.fn = fn;
	pool.arg = arg;
	pool.pending = pool.n - 1;
	pool.gen++;
	pthread_cond_broadcast(&pool.go);
	pthread_mutex_unlock(&pool.mu);
	fn(arg, 0, pool.n);
	pthread_mutex_lock(&pool.mu);
	while (pool.pending > 0)
		pthread_cond_wait(&pool.done, &pool.mu);
	pthread_mutex_unlock(&pool.mu);
}

void
xf_nn_run(void (*fn)(void *arg, int tid, int nthreads), void *arg)
{
	pool_run(fn, arg);
}

void
xf_nn_split(size_t count, int tid, int nt, size_t *i0, size_t *i1)
{
	size_t blocks = (count + 15) / 16;

	*i0 = blocks * tid / nt * 16;
	*i1 = blocks * (tid + 1) / nt * 16;
	if (*i1 > count)
		*i1 = count;
	if (*i0 > *i1)
		*i0 = *i1;
}

/* Parts [*p0, *p1) of XF_NN_PARTS belong to thread tid of nt. */
static void
parts_of(int tid, int nt, int *p0, int *p1)
{
	*p0 = tid * XF_NN_PARTS / nt;
	*p1 = (tid + 1) * XF_NN_PARTS / nt;
}

/* Items [*i0, *i1) of n in part p. */
static void
part_range(int p, int n, int *i0, int *i1)
{
	*i0 = (int)((long)p * n / XF_NN_PARTS);
	*i1 = (int)((long)(p + 1) * n / XF_NN_PARTS);
}

/*
 * BLIS.  An AVX-512 micro-kernel, 8 rows by 32 columns of C, row-preferring:
 * BLIS packs A in micro-panels of 8 rows (a[p * 8 + i]) and B in panels of 32
 * columns (b[p * 32 + j]).  Each k step is two vector loads of B and eight
 * broadcast FMAs per vector; 16 accumulators hide the FMA latency.
 */
#define UK_MR 8
#define UK_NR 32

__attribute__((target("avx512f")))
static void
sgemm_avx512_8x32(dim_t m, dim_t n, dim_t k, float *restrict alpha,
    float *restrict a, float *restrict b, float *restrict beta,
    float *restrict c, inc_t rs_c, inc_t cs_c, auxinfo_t *restrict data,
    cntx_t *restrict cntx)
{
	__m512 acc[UK_MR][2], va, vb;
	float tile[UK_MR][UK_NR];

#pragma GCC unroll 8
	for (int i = 0; i < UK_MR; i++)
		acc[i][0] = acc[i][1] = _mm512_setzero_ps();
	for (dim_t p = 0; p < k; p++) {
		__m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);

#pragma GCC unroll 8
		for (int i = 0; i < UK_MR; i++) {
			__m512 ai = _mm512_set1_ps(a[i]);

			acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
			acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
		}
		a += UK_MR;
		b += UK_NR;
	}
	va = _mm512_set1_ps(*alpha);
	vb = _mm512_set1_ps(*beta);
	/* beta == 0 must not read C, which may hold NaN. */
	if (cs_c == 1 && m == UK_MR && n == UK_NR) {
#pragma GCC unroll 8
		for (int i = 0; i < UK_MR; i++) {
			float *ci = c + i * rs_c;
			__m512 r0 = _mm512_mul_ps(va, acc[i][0]);
			__m512 r1 = _mm512_mul_ps(va, acc[i][1]);

			if (*beta != 0.0f) {
				r0 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(ci), r0);
				r1 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(ci + 16),
				    r1);
			}
			_mm512_storeu_ps(ci, r0);
			_mm512_storeu_ps(ci + 16, r1);
		}
		return;
	}
#pragma GCC unroll 8
	for (int i = 0; i < UK_MR; i++) {
		_mm512_storeu_ps(tile[i], acc[i][0]);
		_mm512_storeu_ps(tile[i] + 16, acc[i][1]);
	}
	/* The same roundings as the vector path, so an element's value does
	 * not depend on where the tile edges fall. */
	for (dim_t i = 0; i < m; i++)
		for (dim_t j = 0; j < n; j++) {
			float *cij = c + i * rs_c + j * cs_c;
			float r = *alpha * tile[i][j];

			*cij = *beta != 0.0f ? fmaf(*beta, *cij, r) : r;
		}
}

static cntx_t avx512_cntx;
static cntx_t *gemm_cntx;	/* NULL: BLIS's own choice */
static pthread_once_t gemm_once = PTHREAD_ONCE_INIT;

static void
gemm_setup(void)
{
	blksz_t bs[BLIS_NUM_BLKSZS];

	bli_init();
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx512f"))
		return;
	memcpy(&avx512_cntx, bli_gks_query_cntx(), sizeof avx512_cntx);
	for (int i = 0; i < BLIS_NUM_BLKSZS; i++)
		bs[i] = *bli_cntx_get_blksz(i, &avx512_cntx);
	/* Only the float entries change; KC and MC sized for a 48 KB L1 and
	 * a 2 MB L2 per core. */
#define SET(id, val) (bs[id].v[BLIS_BITVAL_FLOAT_TYPE] = \
	bs[id].e[BLIS_BITVAL_FLOAT_TYPE] = (val))
	SET(BLIS_MR, UK_MR);
	SET(BLIS_NR, UK_NR);
	SET(BLIS_MC, 240);
	SET(BLIS_KC, 384);
	SET(BLIS_NC, 3072);
#undef SET
	bli_cntx_set_l3_nat_ukrs(1, BLIS_GEMM_UKR, BLIS_FLOAT,
	    sgemm_avx512_8x32, TRUE, &avx512_cntx);
	bli_cntx_set_blkszs(BLIS_NAT, 5,
	    BLIS_NC, &bs[BLIS_NC], BLIS_NR,
	    BLIS_KC, &bs[BLIS_KC], BLIS_KR,
	    BLIS_MC, &bs[BLIS_MC], BLIS_MR,
	    BLIS_NR, &bs[BLIS_NR], BLIS_NR,
	    BLIS_MR, &bs[BLIS_MR], BLIS_MR,
	    &avx512_cntx);
	gemm_cntx = &avx512_cntx;
}

/*
 * C (m, n) = beta C + op(A) op(B), all row-major with leading dimensions;
 * op(A) is (m, k): A is stored (m, k), or (k, m) when ta.  One thread: the
 * callers split the work themselves.  BLIS never splits k, so each element
 * is summed in the same order wherever its tile falls.
 */
static void
gemm(int ta, int tb, int m, int n, int k, const float *a, int lda,
    const float *b, int ldb, float beta, float *c, int ldc)
{
	float one = 1.0f;
	rntm_t rntm;

	if (m <= 0 || n <= 0)
		return;
	pthread_once(&gemm_once, gemm_setup);
	bli_rntm_init(&rntm);
	bli_rntm_set_num_threads(1, &rntm);
	/* The small-matrix path has only AVX2 kernels. */
	if (gemm_cntx != NULL)
		bli_rntm_disable_l3_sup(&rntm);
	bli_sgemm_ex(ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
	    tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, m, n, k, &one,
	    (float *)a, lda, 1, (float *)b, ldb, 1, &beta, c, ldc, 1,
	    gemm_cntx, &rntm);
}

/* The CPU runs AVX-512: the engine's own kernels replace the plain loops. */
static int
have_avx512(void)
{
	pthread_once(&gemm_once, gemm_setup);
	return gemm_cntx != NULL;
}

/*
 * The same split over the pool along m or n, whichever is larger, in
 * blocks that keep whole micro-tiles.
 */
struct pgemm {
	int ta, tb, m, n, k, lda, ldb, ldc;
	const float *a, *b;
	float beta, *c;
};

static void
pgemm_job(void *arg, int tid, int nt)
{
	struct pgemm *g = arg;

	if (g->m >= g->n) {
		int blocks = (g->m + UK_MR - 1) / UK_MR;
		int i0 = blocks * tid / nt * UK_MR;
		int i1 = blocks * (tid + 1) / nt * UK_MR;

		if (i1 > g->m)
			i1 = g->m;
		if (i0 >= i1)
			return;
		gemm(g->ta, g->tb, i1 - i0, g->n, g->k,
		    g->ta ? g->a + i0 : g->a + (size_t)i0 * g->lda, g->lda,
		    g->b, g->ldb, g->beta, g->c + (size_t)i0 * g->ldc, g->ldc);
	} else {
		int blocks = (g->n + UK_NR - 1) / UK_NR;
		int j0 = blocks * tid / nt * UK_NR;
		int j1 = blocks * (tid + 1) / nt * UK_NR;

		if (j1 > g->n)
			j1 = g->n;
		if (j0 >= j1)
			return;
		gemm(g->ta, g->tb, g->m, j1 - j0, g->k, g->a, g->lda,
		    g->tb ? g->b + (size_t)j0 * g->ldb : g->b + j0, g->ldb,
		    g->beta, g->c + j0, g->ldc);
	}
}

static void
pgemm(int ta, int tb, int m, int n, int k, const float *a, int lda,
    const float *b, int ldb, float beta, float *c, int ldc)
{
	struct pgemm g = { ta, tb, m, n, k, lda, ldb, ldc, a, b, beta, c };

	pool_run(pgemm_job, &g);
}

/*
 * conv2d
 */
int
xf_conv2d_dims(struct xf_conv2d_dims *d, int n, int c, int h, int w, int oc,
    int kh, int kw, int stride, int pad, struct xf_err *err)
{
	if (n < 0 || c < 1 || h < 1 || w < 1 || oc < 1 || kh < 1 || kw < 1 ||
	    stride < 1 || pad < 0)
		return xf_errf(err, "conv %dx%d stride %d pad %d on %dx%dx%d: "
		    "bad dimension", kh, kw, stride, pad, c, h, w);
	d->n = n;
	d->c = c;
	d->h = h;
	d->w = w;
	d->oc = oc;
	d->kh = kh;
	d->kw = kw;
	d->stride = stride;
	d->pad = pad;
	d->oh = (h + 2 * pad - kh) / stride + 1;
	d->ow = (w + 2 * pad - kw) / stride + 1;
	if (h + 2 * pad < kh || w + 2 * pad < kw)
		return xf_errf(err, "conv %dx%d pad %d on %dx%d: empty output",
		    kh, kw, pad, h, w);
	return 0;
}

/* A 1x1 stride-1 unpadded conv reads its input as the column matrix. */
static int
conv_is_pointwise(const struct xf_conv2d_dims *d)
{
	return d->kh == 1 && d->kw == 1 && d->stride == 1 && d->pad == 0;
}

static size_t
conv_col_floats(const struct xf_conv2d_dims *d)
{
	return (size_t)d->c * d->kh * d->kw * d->oh * d->ow;
}


/* col (C*KH*KW, OH*OW) from one image (C, H, W). */
static void
im2col(float *col, const float *img, const struct xf_conv2d_dims *d)
{
	int ohw = d->oh * d->ow;

	for (int c = 0; c < d->c; c++)
		for (int kh = 0; kh < d->kh; kh++)
			for (int kw = 0; kw < d->kw; kw++) {
				float *row = col + (size_t)((c * d->kh + kh) *
				    d->kw + kw) * ohw;
				const float *plane = img + (size_t)c * d->h * d->w;

				for (int oh = 0; oh < d->oh; oh++) {
					int ih = oh * d->stride - d->pad + kh;
					float *dst = row + oh * d->ow;

					if (ih < 0 || ih >= d->h) {
						memset(dst, 0, d->ow * sizeof *dst);
						continue;
					}
					const float *src = plane + ih * d->w;
					if (d->stride == 1) {
						/* Valid ow: 0 <= ow - pad + kw < W. */
						int lo = d->pad - kw, hi = d->w + d->pad - kw;

						if (lo < 0)
							lo = 0;
						if (hi > d->ow)
							hi = d->ow;
						if (hi < lo)
							hi = lo;
						for (int ow = 0; ow < lo; ow++)
							dst[ow] = 0;
						memcpy(dst + lo, src + lo - d->pad + kw,
						    (hi - lo) * sizeof *dst);
						for (int ow = hi; ow < d->ow; ow++)
							dst[ow] = 0;
						continue;
					}
					for (int ow = 0; ow < d->ow; ow++) {
						int iw = ow * d->stride - d->pad + kw;

						dst[ow] = iw >= 0 && iw < d->w ?
						    src[iw] : 0.0f;
					}
				}
			}
}

/* img (C, H, W) += col2im(col), the adjoint of im2col. */
static void
col2im(float *img, const float *col, const struct xf_conv2d_dims *d)
{
	int ohw = d->oh * d->ow;

	for (int c = 0; c < d->c; c++)
		for (int kh = 0; kh < d->kh; kh++)
			for (int kw = 0; kw < d->kw; kw++) {
				const float *row = col + (size_t)((c * d->kh + kh) *
				    d->kw + kw) * ohw;
				float *plane = img + (size_t)c * d->h * d->w;

				for (int oh = 0; oh < d->oh; oh++) {
					int ih = oh * d->stride - d->pad + kh;
					const float *src = row + oh * d->ow;

					if (ih < 0 || ih >= d->h)
						continue;
					float *dst = plane + ih * d->w;
					if (d->stride == 1) {
						int lo = d->pad - kw, hi = d->w + d->pad - kw;

						if (lo < 0)
							lo = 0;
						if (hi > d->ow)
							hi = d->ow;
						dst += kw - d->pad;
						for (int ow = lo; ow < hi; ow++)
							dst[ow] += src[ow];
						continue;
					}
					for (int ow = 0; ow < d->ow; ow++) {
						int iw = ow * d->stride - d->pad + kw;

						if (iw >= 0 && iw < d->w)
							dst[iw] += src[ow];
					}
				}
			}
}

/* out (rows, len) += bias per row, then max(0, .) when relu. */
static void
bias_relu(float *out, const float *b, int rows, int len, int relu)
{
	for (int r = 0; r < rows; r++) {
		float *o = out + (size_t)r * len;
		float bias = b != NULL ? b[r] : 0.0f;

		if (relu)
			for (int i = 0; i < len; i++) {
				float v = o[i] + bias;

				o[i] = v > 0.0f ? v : 0.0f;
			}
		else if (b != NULL)
			for (int i = 0; i < len; i++)
				o[i] += bias;
	}
}

/*
 * Direct convolution on AVX-512 (stride 1, pad < kernel size): no im2col.
 * The image is copied once into a zero-padded buffer of rows Wp = W + 2 pw
 * wide.  Output pixels are indexed on that padded grid, p = oh Wp + ow, so
 * for a fixed tap (c, kh, kw) the inputs of 32 consecutive p are 32
 * consecutive floats of the padded buffer at c Hp Wp + kh Wp + kw + p: the
 * micro-kernel reads its B operand straight from the image.  The KW - 1
 * columns of each padded row past OW are computed and dropped.
 *
 * The input gradient of a stride-1 conv is the same kind of conv of dout
 * with the weights flipped and C and OC swapped, padded by K - 1 - pad.
 * The weight gradient is a GEMM dw^T (C KH KW, OC) += X (C KH KW, P) dout^T
 * (P, OC) over the real output pixels P, whose row (c, kh, kw) of X is
 * again the padded image read at an offset, row by row.
 */
#define DC_TAPS 64	/* most taps (KH KW) the direct path takes */
#define DC_CHUNK 256	/* output pixels per weight-gradient pass, for L1 */

/* The first n of 16 lanes. */
static __mmask16
mask_first(int n)
{
	return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 :
	    (__mmask16)((1u << n) - 1);
}

/* A stride-1 conv on a padded grid. */
struct dconv {
	int cin, h, w;		/* input (Cin, H, W) */
	int cout, kh, kw;	/* weights packed (Cout/8, Cin, KH KW, 8) */
	int ph, pw;		/* padding */
	int hp, wp;		/* padded input */
	int oh, ow;		/* output (Cout, OH, OW) */
};

static void
dconv_make(struct dconv *g, int cin, int h, int w, int cout, int kh, int kw,
    int ph, int pw)
{
	g->cin = cin;
	g->h = h;
	g->w = w;
	g->cout = cout;
	g->kh = kh;
	g->kw = kw;
	g->ph = ph;
	g->pw = pw;
	g->hp = h + 2 * ph;
	g->wp = w + 2 * pw;
	g->oh = g->hp - kh + 1;
	g->ow = g->wp - kw + 1;
}

/* Floats of a padded image buffer; the tail lets the last 32-pixel tile
 * of the last channel read past the grid. */
static size_t
dconv_padded_floats(const struct dconv *g)
{
	return (size_t)g->cin * g->hp * g->wp + g->kw + 32;
}

static int
round_up(int x, int to)
{
	return (x + to - 1) / to * to;
}

static int
conv_is_direct(const struct xf_conv2d_dims *d)
{
	return have_avx512() && d->stride == 1 && d->pad < d->kh &&
	    d->pad < d->kw && d->kh * d->kw <= DC_TAPS;
}

/* The two grids of a direct conv: forward, and input gradient. */
static void
direct_grids(struct dconv *fwd, struct dconv *bwd,
    const struct xf_conv2d_dims *d)
{
	dconv_make(fwd, d->c, d->h, d->w, d->oc, d->kh, d->kw, d->pad, d->pad);
	dconv_make(bwd, d->oc, d->oh, d->ow, d->c, d->kh, d->kw,
	    d->kh - 1 - d->pad, d->kw - 1 - d->pad);
}

/* Scratch layout of the direct path, in floats. */
struct direct_scratch {
	size_t pin, pdout, doutt;	/* per thread */
	size_t per_thread;
	size_t wpk, wflip;		/* shared packed weights */
	size_t partial;			/* per part: dw^T (K8, OC32), db (OC) */
	size_t total;
};

static void
direct_layout(struct direct_scratch *s, const struct xf_conv2d_dims *d)
{
	struct dconv f, b;
	int k = d->c * d->kh * d->kw;

	direct_grids(&f, &b, d);
	s->pin = dconv_padded_floats(&f);
	s->pdout = dconv_padded_floats(&b);
	s->doutt = (size_t)d->oh * d->ow * round_up(d->oc, 32);
	s->per_thread = s->pin + s->pdout + s->doutt;
	s->wpk = (size_t)round_up(d->oc, 8) * k;
	s->wflip = (size_t)round_up(d->c, 8) * d->oc * d->kh * d->kw;
	s->partial = (size_t)round_up(k, 8) * round_up(d->oc, 32) + d->oc;
	s->total = pool.n * s->per_thread + s->wpk + s->wflip +
	    XF_NN_PARTS * s->partial;
}

/*
 * Packs w (Cout, Cin, KH, KW) as (Cout/8, Cin, KH KW, 8), Cout padded with
 * zeros; flip reads w as (Cin, Cout, KH, KW) of the forward conv, turned
 * 180 degrees, which is the input-gradient conv's weight.
 */
static void
dconv_pack_weights(float *pk, const float *w, int cout, int cin, int taps,
    int flip)
{
	for (int ob = 0; ob < cout; ob += 8)
		for (int c = 0; c < cin; c++)
			for (int t = 0; t < taps; t++)
				for (int i = 0; i < 8; i++) {
					int o = ob + i;
					float v = 0.0f;

					if (o < cout)
						v = flip ? w[((size_t)c * cout + o) *
						    taps + taps - 1 - t] :
						    w[((size_t)o * cin + c) * taps + t];
					*pk++ = v;
				}
}

/* The interior of the padded buffer from img (Cin, H, W); the border
 * stays as it was (zero). */
__attribute__((target("avx512f")))
static void
dconv_pad(float *pimg, const float *img, const struct dconv *g)
{
	for (int c = 0; c < g->cin; c++)
		for (int y = 0; y < g->h; y++) {
			float *dst = pimg + ((size_t)c * g->hp + y + g->ph) *
			    g->wp + g->pw;
			const float *src = img + ((size_t)c * g->h + y) * g->w;

			for (int x = 0; x < g->w; x += 16) {
				__mmask16 k = mask_first(g->w - x);

				_mm512_mask_storeu_ps(dst + x, k,
				    _mm512_maskz_loadu_ps(k, src + x));
			}
		}
}

/*
 * Where a 32-pixel tile of the grid lands in the output: the real output
 * pixels among lanes 0-15 (m0) and 16-31 (m1), and the output index of the
 * first.  Dropping the grid's extra columns leaves the real pixels of a
 * tile consecutive in the output, so each row of the tile is two
 * compressed stores.
 */
struct dconv_tile {
	__mmask16 m0, m1;
	size_t at;
};

static void
dconv_tile_of(struct dconv_tile *t, int p0, const struct dconv *g)
{
	int oh = p0 / g->wp, ow = p0 % g->wp, first = -1;

	t->m0 = t->m1 = 0;
	for (int j = 0; j < 32 && oh < g->oh; j++) {
		if (ow < g->ow) {
			if (first < 0)
				first = oh * g->ow + ow;
			if (j < 16)
				t->m0 |= (__mmask16)(1u << j);
			else
				t->m1 |= (__mmask16)(1u << (j - 16));
		}
		if (++ow == g->wp) {
			ow = 0;
			oh++;
		}
	}
	t->at = first < 0 ? 0 : (size_t)first;
}

/*
 * out rows [0, m) (ohw apart), at the tile's pixels, = wpk (Cin KH KW,
 * 8)^T x + b, then ReLU, where x row (c, t) is the 32 floats at px + c
 * plane + toff[t].
 */
__attribute__((target("avx512f")))
static void
uk_direct(float *out, size_t ohw, int m, const struct dconv_tile *tile,
    const float *b, int relu, const float *wpk, const float *px,
    const int *toff, int taps, int cin, size_t plane)
{
	__m512 acc[8][2];
	int n0 = __builtin_popcount(tile->m0);
	__mmask16 k0 = mask_first(n0);
	__mmask16 k1 = mask_first(__builtin_popcount(tile->m1));

#pragma GCC unroll 8
	for (int i = 0; i < 8; i++)
		acc[i][0] = acc[i][1] = _mm512_setzero_ps();
	for (int c = 0; c < cin; c++, px += plane)
		for (int t = 0; t < taps; t++) {
			const float *bp = px + toff[t];
			__m512 b0 = _mm512_loadu_ps(bp);
			__m512 b1 = _mm512_loadu_ps(bp + 16);

#pragma GCC unroll 8
			for (int i = 0; i < 8; i++) {
				__m512 ai = _mm512_set1_ps(wpk[i]);

				acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
				acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
			}
			wpk += 8;
		}
	out += tile->at;
#pragma GCC unroll 8
	for (int i = 0; i < 8; i++) {
		__m512 v0 = acc[i][0], v1 = acc[i][1];

		if (i >= m)
			break;
		if (b != NULL) {
			__m512 vb = _mm512_set1_ps(b[i]);

			v0 = _mm512_add_ps(v0, vb);
			v1 = _mm512_add_ps(v1, vb);
		}
		if (relu) {
			v0 = _mm512_max_ps(v0, _mm512_setzero_ps());
			v1 = _mm512_max_ps(v1, _mm512_setzero_ps());
		}
		_mm512_mask_storeu_ps(out + i * ohw, k0,
		    _mm512_maskz_compress_ps(tile->m0, v0));
		_mm512_mask_storeu_ps(out + i * ohw + n0, k1,
		    _mm512_maskz_compress_ps(tile->m1, v1));
	}
}

/*
 * Memory the next image will read, fetched into L2 a slice per tile while
 * this image computes: the activations come from L3 otherwise.
 */
struct prefetch {
	const float *at[2];
	size_t floats[2];
};

static void
prefetch_slice(const struct prefetch *pf, int slice, int slices)
{
	for (int r = 0; pf != NULL && r < 2; r++) {
		size_t lines = (pf->floats[r] + 15) / 16;
		size_t l0 = lines * slice / slices, l1 = lines * (slice + 1) / slices;

		for (size_t l = l0; l < l1; l++)
			__builtin_prefetch(pf->at[r] + l * 16, 0, 2);
	}
}

/* out (Cout, OH, OW) = conv(the padded image pimg, wpk) + b, ReLU. */
static void
dconv_image(float *out, const float *pimg, const float *wpk, const float *b,
    int relu, const struct dconv *g, const struct prefetch *pf)
{
	size_t plane = (size_t)g->hp * g->wp, kk = (size_t)g->cin * g->kh * g->kw;
	size_t ohw = (size_t)g->oh * g->ow;
	int taps = g->kh * g->kw, grid = g->oh * g->wp;
	int toff[DC_TAPS];
	struct dconv_tile tile;

	for (int t = 0; t < taps; t++)
		toff[t] = t / g->kw * g->wp + t % g->kw;
	for (int p0 = 0; p0 < grid; p0 += 32) {
		prefetch_slice(pf, p0 / 32, (grid + 31) / 32);
		dconv_tile_of(&tile, p0, g);
		if (tile.m0 == 0 && tile.m1 == 0)
			continue;
		for (int ob = 0; ob < g->cout; ob += 8)
			uk_direct(out + ob * ohw, ohw, g->cout - ob < 8 ?
			    g->cout - ob : 8, &tile, b != NULL ? b + ob : NULL,
			    relu, wpk + ob * kk, pimg + p0, toff, taps, g->cin,
			    plane);
	}
}

/*
 * c (8, 32; rows ldc apart) += sum over y < ny, x < nx of
 * rows[i][y ars + x] bt[y nx + x][j], bt rows ldb apart: a block of output
 * rows of the grid, only its real pixels.
 */
__attribute__((target("avx512f")))
static void
uk_rows(float *c, int ldc, const float *const rows[8], int ars,
    const float *bt, int ldb, int ny, int nx)
{
	const float *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = rows[3];
	const float *r4 = rows[4], *r5 = rows[5], *r6 = rows[6], *r7 = rows[7];
	__m512 acc[8][2];

#pragma GCC unroll 8
	for (int i = 0; i < 8; i++) {
		acc[i][0] = _mm512_loadu_ps(c + i * ldc);
		acc[i][1] = _mm512_loadu_ps(c + i * ldc + 16);
	}
	for (int y = 0; y < ny; y++) {
		size_t row = (size_t)y * ars;

		for (int x = 0; x < nx; x++, bt += ldb) {
			size_t p = row + x;
			__m512 b0 = _mm512_loadu_ps(bt);
			__m512 b1 = _mm512_loadu_ps(bt + 16);
			__m512 a[8] = { _mm512_set1_ps(r0[p]),
			    _mm512_set1_ps(r1[p]), _mm512_set1_ps(r2[p]),
			    _mm512_set1_ps(r3[p]), _mm512_set1_ps(r4[p]),
			    _mm512_set1_ps(r5[p]), _mm512_set1_ps(r6[p]),
			    _mm512_set1_ps(r7[p]) };

#pragma GCC unroll 8
			for (int i = 0; i < 8; i++) {
				acc[i][0] = _mm512_fmadd_ps(a[i], b0, acc[i][0]);
				acc[i][1] = _mm512_fmadd_ps(a[i], b1, acc[i][1]);
			}
		}
	}
#pragma GCC unroll 8
	for (int i = 0; i < 8; i++) {
		_mm512_storeu_ps(c + i * ldc, acc[i][0]);
		_mm512_storeu_ps(c + i * ldc + 16, acc[i][1]);
	}
}

/* r[c] = column c of the 16 x 16 block r. */
__attribute__((target("avx512f")))
static void
transpose16(__m512 r[16])
{
	__m512 t[16];

	for (int i = 0; i < 16; i += 2) {
		t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
		t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
	}
	/* Lane L of r[4q + s] becomes column 4L + s of rows 4q..4q+3. */
	for (int q = 0; q < 16; q += 4)
		for (int s = 0; s < 2; s++) {
			__m512d a = _mm512_castps_pd(t[q + s]);
			__m512d b = _mm512_castps_pd(t[q + s + 2]);

			r[q + 2 * s] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
			r[q + 2 * s + 1] = _mm512_castpd_ps(
			    _mm512_unpackhi_pd(a, b));
		}
	for (int s = 0; s < 4; s++) {
		t[s] = _mm512_shuffle_f32x4(r[s], r[s + 4], 0x88);
		t[s + 4] = _mm512_shuffle_f32x4(r[s], r[s + 4], 0xdd);
		t[s + 8] = _mm512_shuffle_f32x4(r[s + 8], r[s + 12], 0x88);
		t[s + 12] = _mm512_shuffle_f32x4(r[s + 8], r[s + 12], 0xdd);
	}
	for (int c = 0; c < 8; c++) {
		r[c] = _mm512_shuffle_f32x4(t[c], t[c + 8], 0x88);
		r[c + 8] = _mm512_shuffle_f32x4(t[c], t[c + 8], 0xdd);
	}
}

/*
 * doutt (OH OW, OC32) = dout (OC, OH, OW) transposed; the columns past OC
 * are left as they were (zero).  db (OC) += the sum of dout over pixels,
 * when db is not NULL.
 */
__attribute__((target("avx512f")))
static void
dconv_transpose_dout(float *doutt, float *db, const float *dout,
    const struct xf_conv2d_dims *d)
{
	int ocp = round_up(d->oc, 32);
	size_t ohw = (size_t)d->oh * d->ow;

	for (int ob = 0; ob < d->oc; ob += 16) {
		int rows = d->oc - ob < 16 ? d->oc - ob : 16;
		__m512 sum = _mm512_setzero_ps();

		for (int oh = 0; oh < d->oh; oh++)
			for (int ow = 0; ow < d->ow; ow += 16) {
				int cols = d->ow - ow < 16 ? d->ow - ow : 16;
				const float *src = dout + ob * ohw +
				    (size_t)oh * d->ow + ow;
				float *dst = doutt + ((size_t)oh * d->ow + ow) *
				    ocp + ob;
				__m512 r[16];

				for (int q = 0; q < 16; q++)
					r[q] = q < rows ? _mm512_maskz_loadu_ps(
					    mask_first(cols), src + q * ohw) :
					    _mm512_setzero_ps();
				transpose16(r);
				for (int c = 0; c < cols; c++) {
					_mm512_storeu_ps(dst + (size_t)c * ocp, r[c]);
					sum = _mm512_add_ps(sum, r[c]);
				}
			}
		if (db != NULL)
			_mm512_mask_storeu_ps(db + ob, mask_first(rows),
			    _mm512_add_ps(sum, _mm512_maskz_loadu_ps(
			    mask_first(rows), db + ob)));
	}
}

/*
 * One image's weight gradient into a part's partial: dwt (K8, OC32) +=
 * X dout^T, db (OC) += sums of dout over pixels.  pimg is the padded
 * image; doutt (OH OW, OC32) scratch, zero past OC.  Blocks of output rows
 * keep the block of dout^T in L1.
 */
static void
direct_dw_image(float *dwt, float *db, float *doutt, const float *pimg,
    const float *dout /* (OC, OH, OW) */, const struct xf_conv2d_dims *d,
    const struct dconv *g)
{
	int ocp = round_up(d->oc, 32), taps = d->kh * d->kw;
	int k = d->c * taps, chunk = DC_CHUNK / d->ow > 0 ? DC_CHUNK / d->ow : 1;
	size_t plane = (size_t)g->hp * g->wp;

	dconv_transpose_dout(doutt, db, dout, d);
	if (dwt == NULL)
		return;
	for (int y0 = 0; y0 < d->oh; y0 += chunk) {
		int ny = d->oh - y0 < chunk ? d->oh - y0 : chunk;

		for (int kb = 0; kb < k; kb += 8) {
			const float *rows[8];

			/* Rows past K repeat row K - 1; their sums land in
			 * the padding of dwt. */
			for (int i = 0; i < 8; i++) {
				int r = kb + i < k ? kb + i : k - 1;
				int c = r / taps, t = r % taps;

				rows[i] = pimg + c * plane + (t / d->kw + y0) *
				    g->wp + t % d->kw;
			}
			for (int jb = 0; jb < ocp; jb += 32)
				uk_rows(dwt + (size_t)kb * ocp + jb, ocp, rows,
				    g->wp, doutt + (size_t)y0 * d->ow * ocp + jb,
				    ocp, ny, d->ow);
		}
	}
}

struct direct_job {
	float *out, *din, *dw, *db, *scratch;
	const float *in, *dout, *w, *b;
	int relu;
	const struct xf_conv2d_dims *d;
	struct direct_scratch s;
	struct dconv fwd, bwd;
};

static void
direct_forward_job(void *arg, int tid, int nt)
{
	struct direct_job *j = arg;
	const struct xf_conv2d_dims *d = j->d;
	float *pin = j->scratch + tid * j->s.per_thread;
	const float *wpk = j->scratch + pool.n * j->s.per_thread;
	size_t in_img = (size_t)d->c * d->h * d->w;
	size_t out_img = (size_t)d->oc * d->oh * d->ow;
	int p0, p1, i0, i1;

	parts_of(tid, nt, &p0, &p1);
	i0 = (int)((long)p0 * d->n / XF_NN_PARTS);
	i1 = (int)((long)p1 * d->n / XF_NN_PARTS);
	if (i0 >= i1)
		return;
	memset(pin, 0, j->s.pin * sizeof *pin);
	for (int i = i0; i < i1; i++) {
		struct prefetch pf = { { j->in + (i + 1) * in_img, NULL },
		    { i + 1 < i1 ? in_img : 0, 0 } };

		dconv_pad(pin, j->in + i * in_img, &j->fwd);
		dconv_image(j->out + i * out_img, pin, wpk, j->b, j->relu,
		    &j->fwd, &pf);
	}
}

static void
direct_forward(float *out, float *scratch, const float *in, const float *w,
    const float *b, int relu, const struct xf_conv2d_dims *d)
{
	struct direct_job j = { .out = out, .scratch = scratch, .in = in,
	    .w = w, .b = b, .relu = relu, .d = d };

	direct_layout(&j.s, d);
	direct_grids(&j.fwd, &j.bwd, d);
	dconv_pack_weights(scratch + pool.n * j.s.per_thread, w, d->oc, d->c,
	    d->kh * d->kw, 0);
	pool_run(direct_forward_job, &j);
}

static void
direct_backward_job(void *arg, int tid, int nt)
{
	struct direct_job *j = arg;
	const struct xf_conv2d_dims *d = j->d;
	float *pin = j->scratch + tid * j->s.per_thread;
	float *pdout = pin + j->s.pin, *doutt = pdout + j->s.pdout;
	const float *wflip = j->scratch + pool.n * j->s.per_thread + j->s.wpk;
	float *partials = j->scratch + pool.n * j->s.per_thread + j->s.wpk +
	    j->s.wflip;
	size_t in_img = (size_t)d->c * d->h * d->w;
	size_t out_img = (size_t)d->oc * d->oh * d->ow;
	size_t dwt_floats = j->s.partial - d->oc;
	int p0, p1;

	parts_of(tid, nt, &p0, &p1);
	memset(pin, 0, j->s.per_thread * sizeof *pin);
	for (int p = p0; p < p1; p++) {
		float *dwt = partials + p * j->s.partial, *pdb = dwt + dwt_floats;
		int i0, i1;

		memset(dwt, 0, j->s.partial * sizeof *dwt);
		part_range(p, d->n, &i0, &i1);
		for (int i = i0; i < i1; i++) {
			const float *dout = j->dout + i * out_img;
			int more = i + 1 < i1;
			struct prefetch pf = { { j->in + (i + 1) * in_img,
			    dout + out_img }, { more && j->dw != NULL ? in_img : 0,
			    more ? out_img : 0 } };

			if (j->dw != NULL || j->db != NULL) {
				if (j->dw != NULL)
					dconv_pad(pin, j->in + i * in_img, &j->fwd);
				direct_dw_image(j->dw != NULL ? dwt : NULL,
				    j->db != NULL ? pdb : NULL, doutt, pin,
				    dout, d, &j->fwd);
			}
			if (j->din != NULL) {
				dconv_pad(pdout, dout, &j->bwd);
				dconv_image(j->din + i * in_img, pdout, wflip,
				    NULL, 0, &j->bwd, &pf);
			}
		}
	}
}

/* dw and db += the partials in part order, split over the pool by element. */
static void
direct_reduce_job(void *arg, int tid, int nt)
{
	struct direct_job *j = arg;
	const struct xf_conv2d_dims *d = j->d;
	int k = d->c * d->kh * d->kw, ocp = round_up(d->oc, 32);
	size_t total = (size_t)d->oc * k + d->oc;
	size_t e0 = total * tid / nt, e1 = total * (tid + 1) / nt;
	size_t dwt_floats = j->s.partial - d->oc;
	const float *partials = j->scratch + pool.n * j->s.per_thread +
	    j->s.wpk + j->s.wflip;

	for (size_t e = e0; e < e1; e++) {
		size_t at;
		float *g, s = 0.0f;

		if (e < (size_t)d->oc * k) {
			/* dw (OC, K) from dw^T (K8, OC32) */
			if (j->dw == NULL)
				continue;
			g = j->dw + e;
			at = e % k * ocp + e / k;
		} else {
			if (j->db == NULL)
				continue;
			g = j->db + (e - (size_t)d->oc * k);
			at = dwt_floats + (e - (size_t)d->oc * k);
		}
		for (int p = 0; p < XF_NN_PARTS; p++)
			s += partials[p * j->s.partial + at];
		*g += s;
	}
}

static void
direct_backward(float *din, float *dw, float *db, float *scratch,
    const float *dout, const float *in, const float *w,
    const struct xf_conv2d_dims *d)
{
	struct direct_job j = { .din = din, .dw = dw, .db = db,
	    .scratch = scratch, .in = in, .dout = dout, .w = w, .d = d };

	direct_layout(&j.s, d);
	direct_grids(&j.fwd, &j.bwd, d);
	if (din != NULL)
		dconv_pack_weights(scratch + pool.n * j.s.per_thread + j.s.wpk,
		    w, d->c, d->oc, d->kh * d->kw, 1);
	pool_run(direct_backward_job, &j);
	if (dw != NULL || db != NULL)
		pool_run(direct_reduce_job, &j);
}

size_t
xf_conv2d_scratch(const struct xf_conv2d_dims *d)
{
	size_t wsize = (size_t)d->oc * d->c * d->kh * d->kw;
	size_t gemm_path = (size_t)pool.n * conv_col_floats(d) +
	    XF_NN_PARTS * (wsize + d->oc);
	struct direct_scratch s;

	if (!conv_is_direct(d))
		return gemm_path;
	direct_layout(&s, d);
	return s.total;
}

struct conv_job {
	float *out, *din, *dw, *db, *scratch;
	const float *in, *dout, *w, *b;
	int relu;
	const struct xf_conv2d_dims *d;
};

static void
conv_forward_job(void *arg, int tid, int nt)
{
	struct conv_job *j = arg;
	const struct xf_conv2d_dims *d = j->d;
	size_t in_img = (size_t)d->c * d->h * d->w;
	size_t out_img = (size_t)d->oc * d->oh * d->ow;
	int ohw = d->oh * d->ow, kk = d->c * d->kh * d->kw;
	float *col = j->scratch + tid * conv_col_floats(d);
	int p0, p1, i0, i1;

	/* The images of this thread's parts; no reduction, so any split works. */
	parts_of(tid, nt, &p0, &p1);
	i0 = (int)((long)p0 * d->n / XF_NN_PARTS);
	i1 = (int)((long)p1 * d->n / XF_NN_PARTS);
	for (int i = i0; i < i1; i++) {
		const float *img = j->in + i * in_img;
		float *out = j->out + i * out_img;

		if (!conv_is_pointwise(d)) {
			im2col(col, img, d);
			img = col;
		}
		gemm(0, 0, d->oc, ohw, kk, j->w, kk, img, ohw, 0.0f, out, ohw);
		bias_relu(out, j->b, d->oc, ohw, j->relu);
	}
}

void
xf_conv2d_forward(float *out, float *scratch, const float *in, const float *w,
    const float *b, int relu, const struct xf_conv2d_dims *d)
{
	struct conv_job j = { .out = out, .scratch = scratch, .in = in, .w = w,
	    .b = b, .relu = relu, .d = d };

	if (conv_is_direct(d)) {
		direct_forward(out, scratch, in, w, b, relu, d);
		return;
	}
	pool_run(conv_forward_job, &j);
}

/*
 * Backward per part: the part's images add into the part's own slice of
 * partial weight and bias gradients; the input gradient of an image is
 * W^T dout scattered back by col2im.
 */
static void
conv_backward_job(void *arg, int tid, int nt)
{
	struct conv_job *j = arg;
	const struct xf_conv2d_dims *d = j->d;
	size_t in_img = (size_t)d->c * d->h * d->w;
	size_t out_img = (size_t)d->oc * d->oh * d->ow;
	size_t wsize = (size_t)d->oc * d->c * d->kh * d->kw;
	int ohw = d->oh * d->ow, kk = d->c * d->kh * d->kw;
	float *col = j->scratch + tid * conv_col_floats(d);
	float *partials = j->scratch + pool.n * conv_col_floats(d);
	int p0, p1;

	parts_of(tid, nt, &p0, &p1);
	for (int p = p0; p < p1; p++) {
		float *pdw = partials + p * (wsize + d->oc);
		float *pdb = pdw + wsize;
		int i0, i1;

		memset(pdw, 0, (wsize + d->oc) * sizeof *pdw);
		part_range(p, d->n, &i0, &i1);
		for (int i = i0; i < i1; i++) {
			const float *img = j->in + i * in_img;
			const float *dout = j->dout + i * out_img;

			if (j->dw != NULL) {
				if (!conv_is_pointwise(d)) {
					im2col(col, img, d);
					img = col;
				}
				gemm(0, 1, d->oc, kk, ohw, dout, ohw, img, ohw,
				    1.0f, pdw, kk);
			}
			if (j->db != NULL)
				for (int o = 0; o < d->oc; o++) {
					const float *r = dout + (size_t)o * ohw;
					float s = 0.0f;

					for (int q = 0; q < ohw; q++)
						s += r[q];
					pdb[o] += s;
				}
			if (j->din == NULL)
				continue;
			float *din = j->din + i * in_img;
			if (conv_is_pointwise(d)) {
				gemm(1, 0, kk, ohw, d->oc, j->w, kk, dout, ohw,
				    0.0f, din, ohw);
				continue;
			}
			gemm(1, 0, kk, ohw, d->oc, j->w, kk, dout, ohw, 0.0f,
			    col, ohw);
			memset(din, 0, in_img * sizeof *din);
			col2im(din, col, d);
		}
	}
}

/* dw and db += the partials in part order, split over the pool by element. */
static void
conv_reduce_job(void *arg, int tid, int nt)
{
	struct conv_job *j = arg;
	const struct xf_conv2d_dims *d = j->d;
	size_t wsize = (size_t)d->oc * d->c * d->kh * d->kw;
	size_t total = wsize + d->oc;
	size_t e0 = total * tid / nt, e1 = total * (tid + 1) / nt;
	const float *partials = j->scratch + pool.n * conv_col_floats(d);

	for (size_t e = e0; e < e1; e++) {
		float *g = e < wsize ? j->dw + e : j->db + (e - wsize);
		float s = 0.0f;

		if ((e < wsize && j->dw == NULL) || (e >= wsize && j->db == NULL))
			continue;
		for (int p = 0; p < XF_NN_PARTS; p++)
			s += partials[p * total + e];
		*g += s;
	}
}

void
xf_conv2d_backward(float *din, float *dw, float *db, float *scratch,
    const float *dout, const float *in, const float *w,
    const struct xf_conv2d_dims *d)
{
	struct conv_job j = { .din = din, .dw = dw, .db = db,
	    .scratch = scratch, .in = in, .dout = dout, .w = w, .d = d };

	if (conv_is_direct(d)) {
		direct_backward(din, dw, db, scratch, dout, in, w, d);
		return;
	}
	pool_run(conv_backward_job, &j);
	if (dw != NULL || db != NULL)
		pool_run(conv_reduce_job, &j);
}

void
xf_conv2d_forward_ref(float *out, const float *in, const float *w,
    const float *b, int relu, const struct xf_conv2d_dims *d)
{
	for (int n = 0; n < d->n; n++)
		for (int o = 0; o < d->oc; o++)
			for (int oh = 0; oh < d->oh; oh++)
				for (int ow = 0; ow < d->ow; ow++) {
					double s = b != NULL ? b[o] : 0.0;

					for (int c = 0; c < d->c; c++)
						for (int kh = 0; kh < d->kh; kh++)
							for (int kw = 0; kw < d->kw; kw++) {
								int ih = oh * d->stride - d->pad + kh;
								int iw = ow * d->stride - d->pad + kw;

								if (ih < 0 || ih >= d->h || iw < 0 ||
								    iw >= d->w)
									continue;
								s += (double)w[((o * d->c + c) *
								    d->kh + kh) * d->kw + kw] *
								    in[((size_t)(n * d->c + c) *
								    d->h + ih) * d->w + iw];
							}
					if (relu && s < 0.0)
						s = 0.0;
					out[((size_t)(n * d->oc + o) * d->oh + oh) *
					    d->ow + ow] = (float)s;
				}
}

void
xf_conv2d_backward_ref(float *din, float *dw, float *db, const float *dout,
    const float *in, const float *w, const struct xf_conv2d_dims *d)
{
	if (din != NULL)
		memset(din, 0, (size_t)d->n * d->c * d->h * d->w * sizeof *din);
	for (int n = 0; n < d->n; n++)
		for (int o = 0; o < d->oc; o++)
			for (int oh = 0; oh < d->oh; oh++)
				for (int ow = 0; ow < d->ow; ow++) {
					float g = dout[((size_t)(n * d->oc + o) *
					    d->oh + oh) * d->ow + ow];

					if (db != NULL)
						db[o] += g;
					for (int c = 0; c < d->c; c++)
						for (int kh = 0; kh < d->kh; kh++)
							for (int kw = 0; kw < d->kw; kw++) {
								int ih = oh * d->stride - d->pad + kh;
								int iw = ow * d->stride - d->pad + kw;
								size_t wi = ((size_t)(o * d->c + c) *
								    d->kh + kh) * d->kw + kw;
								size_t ii = ((size_t)(n * d->c + c) *
								    d->h + ih) * d->w + iw;

								if (ih < 0 || ih >= d->h || iw < 0 ||
								    iw >= d->w)
									continue;
								if (dw != NULL)
									dw[wi] += g * in[ii];
								if (din != NULL)
									din[ii] += g * w[wi];
							}
				}
}

/*
 * linear
 */
/*
 * The linear layer's row loops on AVX-512, the same bytes as the plain
 * ones: lanes run over features, so each feature's sum keeps its order.
 */
__attribute__((target("avx512f")))
static void
linear_bias_relu_avx512(float *out, const float *b, int relu, int n,
    int out_f)
{
	for (int i = 0; i < n; i++)
		for (int k = 0; k < out_f; k += 16) {
			__mmask16 m = mask_first(out_f - k);
			float *o = out + (size_t)i * out_f + k;
			__m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, o),
			    b != NULL ? _mm512_maskz_loadu_ps(m, b + k) :
			    _mm512_setzero_ps());

			if (relu)
				v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v,
				    _mm512_setzero_ps(), _CMP_LT_OQ),
				    _mm512_setzero_ps());
			_mm512_mask_storeu_ps(o, m, v);
		}
}

/* db (OUT) += column sums of dout (N, OUT), each in row order. */
__attribute__((target("avx512f")))
static void
linear_db_avx512(float *db, const float *dout, int n, int out_f)
{
	for (int k = 0; k < out_f; k += 16) {
		__mmask16 m = mask_first(out_f - k);
		__m512 s = _mm512_setzero_ps();

		for (int i = 0; i < n; i++)
			s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(m,
			    dout + (size_t)i * out_f + k));
		_mm512_mask_storeu_ps(db + k, m, _mm512_add_ps(
		    _mm512_maskz_loadu_ps(m, db + k), s));
	}
}

void
xf_linear_forward(float *out, const float *in, const float *w, const float *b,
    int relu, int n, int in_f, int out_f)
{
	pgemm(0, 1, n, out_f, in_f, in, in_f, w, in_f, 0.0f, out, out_f);
	if (have_avx512()) {
		linear_bias_relu_avx512(out, b, relu, n, out_f);
		return;
	}
	for (int i = 0; i < n; i++) {
		float *o = out + (size_t)i * out_f;

		for (int k = 0; k < out_f; k++) {
			float v = o[k] + (b != NULL ? b[k] : 0.0f);

			o[k] = relu && v < 0.0f ? 0.0f : v;
		}
	}
}

void
xf_linear_backward(float *din, float *dw, float *db, const float *dout,
    const float *in, const float *w, int n, int in_f, int out_f)
{
	if (dw != NULL)
		pgemm(1, 0, out_f, in_f, n, dout, out_f, in, in_f, 1.0f, dw,
		    in_f);
	if (db != NULL && have_avx512())
		linear_db_avx512(db, dout, n, out_f);
	else if (db != NULL)
		for (int k = 0; k < out_f; k++) {
			float s = 0.0f;

			for (int i = 0; i < n; i++)
				s += dout[(size_t)i * out_f + k];
			db[k] += s;
		}
	if (din != NULL)
		pgemm(0, 0, n, in_f, out_f, dout, out_f, w, in_f, 0.0f, din,
		    in_f);
}

void
xf_linear_forward_ref(float *out, const float *in, const float *w,
    const float *b, int relu, int n, int in_f, int out_f)
{
	for (int i = 0; i < n; i++)
		for (int k = 0; k < out_f; k++) {
			double s = b != NULL ? b[k] : 0.0;

			for (int j = 0; j < in_f; j++)
				s += (double)in[(size_t)i * in_f + j] *
				    w[(size_t)k * in_f + j];
			out[(size_t)i * out_f + k] = relu && s < 0.0 ? 0.0f :
			    (float)s;
		}
}

void
xf_linear_backward_ref(float *din, float *dw, float *db, const float *dout,
    const float *in, const float *w, int n, int in_f, int out_f)
{
	for (int k = 0; k < out_f; k++) {
		double sb = 0.0;

		for (int i = 0; i < n; i++)
			sb += dout[(size_t)i * out_f + k];
		if (db != NULL)
			db[k] += (float)sb;
		if (dw != NULL)
			for (int j = 0; j < in_f; j++) {
				double s = 0.0;

				for (int i = 0; i < n; i++)
					s += (double)dout[(size_t)i * out_f + k] *
					    in[(size_t)i * in_f + j];
				dw[(size_t)k * in_f + j] += (float)s;
			}
	}
	if (din != NULL)
		for (int i = 0; i < n; i++)
			for (int j = 0; j < in_f; j++) {
				double s = 0.0;

				for (int k = 0; k < out_f; k++)
					s += (double)dout[(size_t)i * out_f + k] *
					    w[(size_t)k * in_f + j];
				din[(size_t)i * in_f + j] = (float)s;
			}
}

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

struct elem_job {
	float *out;
	const float *in, *dout, *act;
	size_t count;
	int backward, n, c, h, w;
};

static void
relu_job(void *arg, int tid, int nt)
{
	struct elem_job *j = arg;
	size_t i0, i1;

	xf_nn_split(j->count, tid, nt, &i0, &i1);
	if (i0 == i1)
		return;
	if (j->backward)
		relu_backward_avx512(j->out + i0, j->dout + i0, j->act + i0,
		    i1 - i0);
	else
		relu_forward_avx512(j->out + i0, j->in + i0, i1 - i0);
}

void
xf_relu_forward(float *out, const float *in, size_t count)
{
	struct elem_job j = { .out = out, .in = in, .count = count };

	if (have_avx512()) {
		if (count >= SPLIT_MIN_FLOATS)
			pool_run(relu_job, &j);
		else
			relu_forward_avx512(out, in, count);
		return;
	}
	for (size_t i = 0; i < count; i++)
		out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void
xf_relu_backward(float *din, const float *dout, const float *out,
    size_t count)
{
	struct elem_job j = { .out = din, .dout = dout, .act = out,
	    .count = count, .backward = 1 };

	if (have_avx512()) {
		if (count >= SPLIT_MIN_FLOATS)
			pool_run(relu_job, &j);
		else
			relu_backward_avx512(din, dout, out, count);
		return;
	}
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

/* Planes [p0, p1) of the n c planes for thread tid. */
static void
maxpool_job(void *arg, int tid, int nt)
{
	struct elem_job *j = arg;
	size_t planes = (size_t)j->n * j->c, hw = (size_t)j->h * j->w;
	size_t ohw = (size_t)(j->h / 2) * (j->w / 2);
	size_t p0 = planes * tid / nt, p1 = planes * (tid + 1) / nt;

	if (p0 >= p1)
		return;
	/* A run of planes is a batch of 1 with p1 - p0 channels. */
	if (j->backward)
		maxpool_backward_avx512(j->out + p0 * hw, j->dout + p0 * ohw,
		    j->in + p0 * hw, 1, (int)(p1 - p0), j->h, j->w);
	else
		maxpool_forward_avx512(j->out + p0 * ohw, j->in + p0 * hw, 1,
		    (int)(p1 - p0), j->h, j->w);
}

void
xf_maxpool_forward(float *out, const float *in, int n, int c, int h, int w)
{
	int oh = h / 2, ow = w / 2;
	struct elem_job j = { .out = out, .in = in, .n = n, .c = c, .h = h,
	    .w = w };

	if (have_avx512()) {
		if ((size_t)n * c * h * w >= SPLIT_MIN_FLOATS)
			pool_run(maxpool_job, &j);
		else
			maxpool_forward_avx512(out, in, n, c, h, w);
		return;
	}
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

void
xf_maxpool_backward(float *din, const float *dout, const float *in, int n,
    int c, int h, int w)
{
	int oh = h / 2, ow = w / 2;
	struct elem_job j = { .out = din, .in = in, .dout = dout, .n = n,
	    .c = c, .h = h, .w = w, .backward = 1 };

	if (have_avx512()) {
		if ((size_t)n * c * h * w >= SPLIT_MIN_FLOATS)
			pool_run(maxpool_job, &j);
		else
			maxpool_backward_avx512(din, dout, in, n, c, h, w);
		return;
	}
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

void
xf_maxpool_forward_ref(float *out, const float *in, int n, int c, int h,
    int w)
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
xf_maxpool_backward_ref(float *din, const float *dout, const float *in,
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

/* The same, on the CPU's best path. */
static void
bn_affine(float *y, const float *x, int n, int rows, size_t stride,
    float scale, float shift, int relu, int avx512)
{
	if (avx512) {
		bn_affine_avx512(y, x, n, rows, stride, scale, shift, relu);
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
struct bn_job {
	float *out, *din, *dw, *db, *mean, *rstd, *rmean, *rvar;
	const float *in, *dout, *w, *b, *cmean, *crstd;
	int relu, n, c, hw;
};

static void
bn_train_job(void *arg, int tid, int nt)
{
	struct bn_job *j = arg;
	size_t plane = (size_t)j->c * j->hw;
	double count = (double)j->n * j->hw;
	int avx512 = have_avx512();

	for (int ch = j->c * tid / nt; ch < j->c * (tid + 1) / nt; ch++) {
		const float *xc = j->in + (size_t)ch * j->hw;
		double s = 0.0, ss = 0.0, var;
		float mean, rstd, scale, shift;
		struct bn_sums r;

		if (avx512) {
			bn_sums_avx512(&r, xc, NULL, j->hw, j->n, plane, 0.0f);
			s = r.s;
		} else
			for (int i = 0; i < j->n; i++) {
				const float *x = xc + i * plane;

				for (int q = 0; q < j->hw; q++)
					s += x[q];
			}
		mean = (float)(s / count);
		if (avx512)
			ss = bn_sumsq_avx512(xc, j->hw, j->n, plane, mean);
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
xf_batchnorm_forward_train(float *out, float *mean, float *rstd,
    float *running_mean, float *running_var, const float *in, const float *w,
    const float *b, int relu, int n, int c, int hw)
{
	struct bn_job j = { .out = out, .mean = mean, .rstd = rstd,
	    .rmean = running_mean, .rvar = running_var, .in = in, .w = w,
	    .b = b, .relu = relu, .n = n, .c = c, .hw = hw };

	pool_run(bn_train_job, &j);
}

static void
bn_eval_job(void *arg, int tid, int nt)
{
	struct bn_job *j = arg;
	size_t plane = (size_t)j->c * j->hw;
	int avx512 = have_avx512();

	for (int ch = j->c * tid / nt; ch < j->c * (tid + 1) / nt; ch++) {
		float rstd = 1.0f / sqrtf(j->crstd[ch] + XF_BN_EPS);
		float scale = j->w[ch] * rstd;
		float shift = j->b[ch] - j->cmean[ch] * scale;

		bn_affine(j->out + (size_t)ch * j->hw, j->in + (size_t)ch * j->hw,
		    j->hw, j->n, plane, scale, shift, j->relu, avx512);
	}
}

void
xf_batchnorm_forward_eval(float *out, const float *in, const float *w,
    const float *b, const float *running_mean, const float *running_var,
    int relu, int n, int c, int hw)
{
	/* cmean and crstd carry the running mean and variance here. */
	struct bn_job j = { .out = out, .in = in, .w = w, .b = b,
	    .cmean = running_mean, .crstd = running_var, .relu = relu, .n = n,
	    .c = c, .hw = hw };

	pool_run(bn_eval_job, &j);
}

static void
bn_backward_job(void *arg, int tid, int nt)
{
	struct bn_job *j = arg;
	size_t plane = (size_t)j->c * j->hw;
	double count = (double)j->n * j->hw;
	int avx512 = have_avx512();

	for (int ch = j->c * tid / nt; ch < j->c * (tid + 1) / nt; ch++) {
		float mean = j->cmean[ch], rstd = j->crstd[ch];
		double sg = 0.0, sgx = 0.0;
		float k1, k2, scale;
		struct bn_sums r;

		if (avx512) {
			bn_sums_avx512(&r, j->in + (size_t)ch * j->hw,
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
		if (avx512) {
			bn_dx_avx512(j->din + (size_t)ch * j->hw,
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
xf_batchnorm_backward(float *din, float *dw, float *db, const float *dout,
    const float *in, const float *mean, const float *rstd, const float *w,
    int n, int c, int hw)
{
	struct bn_job j = { .din = din, .dw = dw, .db = db, .dout = dout,
	    .in = in, .cmean = mean, .crstd = rstd, .w = w, .n = n, .c = c,
	    .hw = hw };

	pool_run(bn_backward_job, &j);
}

void
xf_batchnorm_forward_train_ref(float *out, float *mean, float *rstd,
    float *running_mean, float *running_var, const float *in, const float *w,
    const float *b, int relu, int n, int c, int hw)
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
xf_batchnorm_forward_eval_ref(float *out, const float *in, const float *w,
    const float *b, const float *running_mean, const float *running_var,
    int relu, int n, int c, int hw)
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
xf_batchnorm_backward_ref(float *din, float *dw, float *db,
    const float *dout, const float *in, const float *mean, const float *rstd,
    const float *w, int n, int c, int hw)
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

/*
 * Softmax cross-entropy
 */
float
xf_softmax_xent_forward(float *probs, float *losses, const float *logits,
    const int *labels, int n, int k)
{
	double total = 0.0;

	for (int i = 0; i < n; i++) {
		const float *z = logits + (size_t)i * k;
		float *p = probs + (size_t)i * k;
		float max = z[0], sum = 0.0f;

		for (int j = 1; j < k; j++)
			if (z[j] > max)
				max = z[j];
		for (int j = 0; j < k; j++) {
			p[j] = expf(z[j] - max);
			sum += p[j];
		}
		for (int j = 0; j < k; j++)
			p[j] /= sum;
		/* log-sum-exp form: exact even when the probability
		 * underflows. */
		losses[i] = logf(sum) - (z[labels[i]] - max);
		total += losses[i];
	}
	return n > 0 ? (float)(total / n) : 0.0f;
}

void
xf_softmax_xent_backward(float *dlogits, const float *probs,
    const int *labels, int n, int k)
{
	float inv = 1.0f / (float)n;

	for (int i = 0; i < n; i++) {
		for (int j = 0; j < k; j++)
			dlogits[(size_t)i * k + j] = probs[(size_t)i * k + j] *
			    inv;
		dlogits[(size_t)i * k + labels[i]] -= inv;
	}
}

float
xf_softmax_xent_forward_ref(float *probs, float *losses, const float *logits,
    const int *labels, int n, int k)
{
	double total = 0.0;

	for (int i = 0; i < n; i++) {
		double max = -INFINITY, sum = 0.0;

		for (int j = 0; j < k; j++)
			if (logits[(size_t)i * k + j] > max)
				max = logits[(size_t)i * k + j];
		for (int j = 0; j < k; j++)
			sum += exp(logits[(size_t)i * k + j] - max);
		for (int j = 0; j < k; j++)
			probs[(size_t)i * k + j] = (float)(exp(logits[(size_t)i *
			    k + j] - max) / sum);
		losses[i] = (float)(log(sum) + max - logits[(size_t)i * k +
		    labels[i]]);
		total += losses[i];
	}
	return n > 0 ? (float)(total / n) : 0.0f;
}
