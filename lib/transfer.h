/*
 * transfer.h: transferability scores, which rate a pretrained model for a
 * target task from one pass over the target data, without fine-tuning.
 *
 *   LogME (You et al. 2021): for each target class k, the log marginal
 *     evidence of a Bayesian linear regression of the one-hot column y_k on
 *     the features F (n, D), prior w ~ N(0, 1/alpha), noise N(0, 1/beta),
 *     at the alpha, beta of the paper's fixed-point iteration (Algorithm
 *     2): with A = alpha I + beta F'F, m = beta A^-1 F'y,
 *	 gamma = sum_i beta s_i / (alpha + beta s_i)	(s_i eigenvalues of F'F)
 *	 alpha <- gamma / |m|^2,  beta <- (n - gamma) / |Fm - y|^2,
 *     from alpha = beta = 1, until alpha / beta moves by less than
 *     XF_LOGME_TOL relative (XF_LOGME_ITERS at most, else an error).  The
 *     evidence is their Eq. 2 at that point,
 *	 L = n/2 log beta + D/2 log alpha - n/2 log 2 pi - beta/2 |Fm - y|^2
 *	     - alpha/2 |m|^2 - 1/2 log |A|,
 *     with log |A| over all D eigenvalues, the D - rank zero ones giving
 *     (D - rank) log alpha.  The official code sums only the n eigenvalues
 *     of F F' when D > n (and adds 1e-5 to both norms), which drops that
 *     term; this one does not, so the two differ when D > n.  LogME is
 *     (1 / K) sum_k L_k / n.
 *   LEEP (Nguyen et al. 2020): theta (n, Z) the source head's softmax on
 *     the target examples, P(y, z) = (1/n) sum_{i: y_i = y} theta_iz,
 *     P(y | z) = P(y, z) / P(z), LEEP = (1/n) sum_i log sum_z
 *     P(y_i | z) theta_iz.  At most 0; higher is more transferable.
 *   H-score (Bao et al. 2019): tr(cov(f)^+ cov(E[f | y])), the covariances
 *     with 1/(n-1), the pseudo-inverse dropping eigenvalues at or below
 *     XF_HSCORE_RCOND times the largest (as np.linalg.pinv's rcond).
 *
 * Everything is computed in double from float32 inputs; the eigen
 * decompositions go through LAPACK (linalg.h).  Labels are 0..k-1.
 * Each function returns 0 with the score in *score, or -1 with err filled
 * (sizes, a label out of range, a class with no example, NaN features, no
 * convergence, out of memory).
 */
#ifndef XF_TRANSFER_H
#define XF_TRANSFER_H

#include <stddef.h>

#include "xf.h"

#define XF_LOGME_TOL	1e-10
#define XF_LOGME_ITERS	1000
#define XF_HSCORE_RCOND	1e-10

int xf_logme(double *score, const float *f, size_t n, size_t d,
    const int *y, int k, int threads, struct xf_err *err);
int xf_leep(double *score, const float *theta, size_t n, int z,
    const int *y, int k, struct xf_err *err);
int xf_hscore(double *score, const float *f, size_t n, size_t d,
    const int *y, int k, int threads, struct xf_err *err);

#endif
