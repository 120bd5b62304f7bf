/*
 * hessian.h: the spectrum of the Hessian of the training loss, the
 * flatness measures of PyHessian (Yao et al. 2020): the top eigenvalues by
 * Lanczos and the trace by Hutchinson's estimator, for the whole network or
 * for one module's block (the Hessian restricted to that module's
 * parameters, the others held fixed).
 *
 * Hessian-vector products
 *   Exact: the R-operator (Pearlmutter 1994) of xf_model_hvp (rop.c),
 *   through every layer the engine has, on eval-mode forward passes.  The
 *   ReLU masks and the max-pool argmax are held at theta, which is the
 *   derivative almost everywhere and what torch.autograd.functional.hvp
 *   computes, so units on a kink change nothing.  Batch norm is its
 *   eval-mode affine map of the running statistics; its gamma and beta are
 *   in the Hessian, the running statistics are not parameters.  Each batch
 *   (opts.batch examples) runs in float32, the batches summed in double,
 *   weighted by their share of the mean loss.  The stated tolerance,
 *   checked against torch's hvp in tests/tool/hessian.sh (float64 on small
 *   models, float32 on cnn-s and resnet-8):
 *	|Hv - (Hv)_exact| <= 1e-4 |(Hv)_exact|
 *   (float32 rounding; measured near 1e-6), so the top eigenvalues carry
 *   only Lanczos's residual bound.
 *
 * Lanczos
 *   From a seeded Gaussian start, with full reorthogonalisation (twice, by
 *   classical Gram-Schmidt in double), at most opts.iterations steps; the
 *   top k Ritz values (largest first) are converged when each residual
 *   bound beta_j |z_ji| is at most opts.tol times the largest |Ritz value|.
 *   When they are not, the call fails and says so: no value is returned.
 *
 * Module blocks
 *   Module k's block is the Hessian over its parameters, the others held
 *   fixed; for a residual block (layer1.0, a module of no tensors of its
 *   own) over those of every module in it.
 *
 * Hutchinson
 *   tr H ~ (1/m) sum z' H z over m Rademacher z, with the standard error
 *   of that mean, sd / sqrt(m).
 *
 * Determinism: the same seed, data and model give the same numbers for a
 * given thread count.
 */
#ifndef XF_HESSIAN_H
#define XF_HESSIAN_H

#include <stdint.h>

#include "train.h"

#define XF_HESSIAN_STEP	1e-4

struct xf_hessian_opts {
	int	 k;		/* top eigenvalues (0: none) */
	int	 iterations;	/* Lanczos steps at most */
	double	 tol;		/* relative residual bound */
	int	 draws;		/* Hutchinson draws (0: no trace) */
	double	 step;		/* unused: the products are exact; kept for
				 * the --step option of earlier versions */
	int	 batch;		/* examples per forward pass */
	uint64_t seed;
};

#define XF_HESSIAN_DEFAULTS { .k = 1, .iterations = 50, .tol = 1e-3, \
	.draws = 0, .step = XF_HESSIAN_STEP, .batch = 256, .seed = 1 }

struct xf_hessian_result {
	double	*eig;		/* (k) largest first, caller's */
	double	*resid;		/* (k) residual bounds, caller's */
	int	 steps;		/* Lanczos steps taken */
	double	 trace, trace_se;
	size_t	 params;	/* dimension of the block */
};

/*
 * The block of module k (k < 0: every parameter) of the Hessian of the
 * mean loss of m on d, as opts says; m's parameters are not changed.
 * Returns 0, or -1 with err filled (a block of no parameters,
 * Lanczos not converged, out of memory, a forward failure).
 */
int xf_hessian(struct xf_hessian_result *r, struct xf_model *m,
    const struct xf_dataset *d, int k, const struct xf_hessian_opts *opts,
    struct xf_err *err);

/*
 * One product H v over the block of module k (k < 0: all), v and hv of the
 * block's size (xf_hessian_block).  For tests and benchmarks.
 */
int xf_hessian_hvp(double *hv, struct xf_model *m, const struct xf_dataset *d,
    int k, const double *v, const struct xf_hessian_opts *opts,
    struct xf_err *err);

/* The offset and size of module k's parameters in xf_model_params (k < 0:
 * 0 and all of them). */
void xf_hessian_block(const struct xf_model *m, int k, size_t *lo,
    size_t *len);

#endif
