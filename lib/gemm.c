/*
 * gemm.c: the engine's BLIS glue: an AVX-512 micro-kernel and the context
 * that hands it to BLIS, single-threaded and pool-split sgemm, and the
 * choice of BLIS's own kernels for the process (xf_blis_setup).
 */
/* blis.h trips -Wextra; it is not ours to fix. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wtype-limits"
#include <blis.h>
#pragma GCC diagnostic pop
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "nn_impl.h"

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
void
nn_gemm(int ta, int tb, int m, int n, int k, const float *a, int lda,
    const float *b, int ldb, float beta, float *c, int ldc)
{
	float one = 1.0f;
	rntm_t rntm;

	cntx_t *cntx;

	if (m <= 0 || n <= 0)
		return;
	cntx = nn_avx512() ? gemm_cntx : NULL;
	bli_rntm_init(&rntm);
	bli_rntm_set_num_threads(1, &rntm);
	/* The small-matrix path has only AVX2 kernels. */
	if (cntx != NULL)
		bli_rntm_disable_l3_sup(&rntm);
	bli_sgemm_ex(ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
	    tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, m, n, k, &one,
	    (float *)a, lda, 1, (float *)b, ldb, 1, &beta, c, ldc, 1,
	    cntx, &rntm);
}

/*
 * The ISA switch (see nn.h): the best path the CPU has, unless XF_ISA or
 * xf_nn_set_isa asks for a plainer one.  The AVX-512 path is there when
 * gemm_setup made the AVX-512 context.
 */
static const char *const isa_names[] = { "generic", "avx2", "avx512" };
static enum xf_nn_isa isa;
static pthread_once_t isa_once = PTHREAD_ONCE_INIT;

int
xf_nn_isa_parse(const char *name, enum xf_nn_isa *out)
{
	for (int i = 0; i < XF_NN_N_ISAS; i++)
		if (strcmp(name, isa_names[i]) == 0) {
			*out = (enum xf_nn_isa)i;
			return 0;
		}
	return -1;
}

const char *
xf_nn_isa_name(enum xf_nn_isa i)
{
	return (unsigned)i < XF_NN_N_ISAS ? isa_names[i] : "unknown";
}

/* AVX2 with FMA: the direct convolution's AVX2 kernels use both. */
static int
cpu_avx2(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

static int
isa_available(enum xf_nn_isa i)
{
	return i == XF_NN_ISA_GENERIC || (i == XF_NN_ISA_AVX2 && cpu_avx2()) ||
	    (i == XF_NN_ISA_AVX512 && gemm_cntx != NULL);
}

static void
isa_setup(void)
{
	const char *env = getenv("XF_ISA");
	enum xf_nn_isa want;

	pthread_once(&gemm_once, gemm_setup);
	isa = gemm_cntx != NULL ? XF_NN_ISA_AVX512 : cpu_avx2() ?
	    XF_NN_ISA_AVX2 : XF_NN_ISA_GENERIC;
	if (env != NULL && xf_nn_isa_parse(env, &want) == 0 &&
	    isa_available(want))
		isa = want;
}

int
xf_nn_set_isa(enum xf_nn_isa want)
{
	pthread_once(&isa_once, isa_setup);
	if ((unsigned)want >= XF_NN_N_ISAS || !isa_available(want))
		return -1;
	isa = want;
	return 0;
}

enum xf_nn_isa
xf_nn_isa(void)
{
	pthread_once(&isa_once, isa_setup);
	return isa;
}

/* The engine's own AVX-512 kernels replace the plain loops. */
int
nn_avx512(void)
{
	return xf_nn_isa() == XF_NN_ISA_AVX512;
}

/* The AVX2 path's kernels (direct convolution, batch norm's rows) run. */
int
nn_avx2(void)
{
	return xf_nn_isa() == XF_NN_ISA_AVX2;
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
		nn_gemm(g->ta, g->tb, i1 - i0, g->n, g->k,
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
		nn_gemm(g->ta, g->tb, g->m, j1 - j0, g->k, g->a, g->lda,
		    g->tb ? g->b + (size_t)j0 * g->ldb : g->b + j0, g->ldb,
		    g->beta, g->c + j0, g->ldc);
	}
}

void
nn_pgemm(int ta, int tb, int m, int n, int k, const float *a, int lda,
    const float *b, int ldb, float beta, float *c, int ldc)
{
	struct pgemm g = { ta, tb, m, n, k, lda, ldb, ldc, a, b, beta, c };

	xf_nn_run(pgemm_job, &g);
}

/*
 * Debian's BLIS 0.9 does not recognise recent AVX-512 CPUs (under KVM it
 * cannot count their FMA units) and falls back to its AVX2 kernels at half
 * the speed.  Ask for its AVX-512 (skx) kernels when the CPU has every
 * extension they use and the user has not chosen, neither through
 * BLIS_ARCH_TYPE nor by XF_ISA=generic, which asks for what a CPU without
 * AVX-512 runs.  BLIS reads the variable at its first call.
 */
void
xf_blis_setup(void)
{
	const char *env = getenv("XF_ISA");
	enum xf_nn_isa want;

	if (env != NULL && xf_nn_isa_parse(env, &want) == 0 &&
	    want != XF_NN_ISA_AVX512)
		return;
	__builtin_cpu_init();
	if (getenv("BLIS_ARCH_TYPE") == NULL &&
	    __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
	    __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
		setenv("BLIS_ARCH_TYPE", "skx", 0);
}
