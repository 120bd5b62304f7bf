/*
 * hessian.h: the spectrum of the Hessian of the training loss, the
 * flatness measures of PyHessian (Yao et al. 2020): the top eigenvalues by
 * Lanczos and the trace by Hutchinson's estimator, for the whole network or
 * for one module's block (the Hessian restricted to that module's
 * parameters, the others held fixed).
 *
 * Hessian-vector products
 *   Central differences of gradients,
 *	H v ~ (g(theta + h u) - g(theta - h u)) / (2 h) * |v|,  u = v / |v|,
 *   with h = opts.step (default 1e-4, in the units of the parameters),
 *   each gradient the mean-loss gradient over the whole data, the batches'
 *   float32 gradients summed in double, and the difference taken in
 *   double.  Not an exact R-op: the error is the float32 rounding of the
 *   gradients over 2h, plus the ReLU and max-pool units whose pattern
 *   changes within h (the exact product holds the pattern fixed; with a
 *   larger h, e.g. 1e-3, on images with a flat background whole channels
 *   cross their kink together and the top eigenvalue of cnn-s came out 6
 *   times too large).  The stated tolerance, checked against
 *   torch.autograd.functional.hvp in tests/tool/hessian.sh:
 *	|Hv - (Hv)_exact| <= 2e-3 lambda_1 |v|
 *   (measured 4e-4), so the top eigenvalue is within 1% and smaller ones
 *   within 2e-3 lambda_1 absolute.  In flat directions the error relative
 *   to |Hv| is larger, and on a model whose loss is near zero (saturated
 *   softmax, where float32 resolves 1 - p poorly) the bound does not hold.
 *   The forward passes are
 *   in eval mode.  Models with batch norm are refused: the engine's
 *   backward is that of batch statistics, and the Hessian in eval mode
 *   needs the backward of the running-statistics affine map.
 *
 * Lanczos
 *   From a seeded Gaussian start, with full reorthogonalisation (twice, by
 *   classical Gram-Schmidt in double), at most opts.iterations steps; the
 *   top k Ritz values (largest first) are converged when each residual
 *   bound beta_j |z_ji| is at most opts.tol times the largest |Ritz value|.
 *   When they are not, the call fails and says so: no value is returned.
 *   Then the top Ritz vector's Rayleigh quotient is computed again with a
 *   step of 2h; if it moves by more than 1% the call fails: units on a
 *   kink (a ReLU at exactly zero, e.g. a zero bias on a zero background,
 *   as in an untrained model) make central differences grow like 1/h, and
 *   that must not come out as an eigenvalue.
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
#define XF_HESSIAN_STEP_TOL 1e-2	/* top eigenvalue at h against 2h */

struct xf_hessian_opts {
	int	 k;		/* top eigenvalues (0: none) */
	int	 iterations;	/* Lanczos steps at most */
	double	 tol;		/* relative residual bound */
	int	 draws;		/* Hutchinson draws (0: no trace) */
	double	 step;		/* h of the central differences */
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
 * mean loss of m on d, as opts says.  m's parameters are restored before
 * returning.  Returns 0, or -1 with err filled (batch norm, Lanczos not
 * converged, out of memory, a forward failure).
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
