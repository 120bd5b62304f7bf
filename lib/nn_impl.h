/*
 * nn_impl.h: what the engine's kernel files share, private to lib/.
 *
 *	threads.c	the pool (xf_nn_run runs a job on every thread)
 *	gemm.c		BLIS: the AVX-512 context, nn_gemm, nn_pgemm, the ISA
 *			switch (nn_avx512, nn_avx2)
 *	conv.c		conv2d: im2col + BLIS, the _ref twins, the dispatch
 *	conv_direct.c	the direct conv (AVX-512 or AVX2) that conv.c hands
 *			stride-1 work
 *	linear.c	linear and softmax cross-entropy
 *	relu_maxpool.c	ReLU and 2x2 max pooling
 *	batchnorm.c	batch norm
 *
 * A job is a function run as fn(arg, tid, nthreads) on every thread of the
 * pool by xf_nn_run, with arg a struct of its own per kernel.
 */
#ifndef XF_NN_IMPL_H
#define XF_NN_IMPL_H

#include <immintrin.h>

#include "nn.h"

/* C (m, n) = beta C + op(A) op(B) on one thread; see gemm.c. */
void	nn_gemm(int ta, int tb, int m, int n, int k, const float *a, int lda,
	    const float *b, int ldb, float beta, float *c, int ldc);
/* The same, split over the pool. */
void	nn_pgemm(int ta, int tb, int m, int n, int k, const float *a, int lda,
	    const float *b, int ldb, float beta, float *c, int ldc);
/* The engine runs its AVX-512 kernels: the CPU has them and the ISA
 * switch (xf_nn_set_isa, XF_ISA) allows them.  Otherwise the plain loops run. */
int	nn_avx512(void);
/* The engine runs its AVX2 kernels: the AVX2 path (see nn.h). */
int	nn_avx2(void);

/* The direct convolution (conv_direct.c), for the d it takes. */
int	nn_conv_is_direct(const struct xf_conv2d_dims *d);
size_t	nn_direct_scratch(const struct xf_conv2d_dims *d);
void	nn_direct_forward(float *out, float *scratch, const float *in,
	    const float *w, const float *b, int relu,
	    const struct xf_conv2d_dims *d);
void	nn_direct_backward(float *din, float *dw, float *db, float *scratch,
	    const float *dout, const float *in, const float *w,
	    const struct xf_conv2d_dims *d);

/* Parts [*p0, *p1) of XF_NN_PARTS belong to thread tid of nt. */
static inline void
parts_of(int tid, int nt, int *p0, int *p1)
{
	*p0 = tid * XF_NN_PARTS / nt;
	*p1 = (tid + 1) * XF_NN_PARTS / nt;
}

/* Items [*i0, *i1) of n in part p. */
static inline void
part_range(int p, int n, int *i0, int *i1)
{
	*i0 = (int)((long)p * n / XF_NN_PARTS);
	*i1 = (int)((long)(p + 1) * n / XF_NN_PARTS);
}

/* The first n of 16 lanes. */
static inline __mmask16
mask_first(int n)
{
	return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 :
	    (__mmask16)((1u << n) - 1);
}

#endif
