/*
 * cca.h: similarity measures built on canonical correlation and on the
 * orthogonal Procrustes problem, between activations X (n, p) and Y (n, q)
 * of the same n examples.
 *
 *   SVCCA (Raghu et al. 2017): keep the top singular directions of each
 *     centred side that explain a fraction `keep` of its variance (0.99 in
 *     the paper), then CCA between the reduced sides; the value is the mean
 *     of the min(kx, ky) canonical correlations.
 *   PWCCA (Morcos et al. 2018): CCA (of the reduced sides when keep > 0,
 *     of the full sides when keep == 0), each canonical correlation rho_i
 *     weighted by alpha_i = sum_j |<h_i, x_j>| / sum_i (...), where h_i is
 *     the i-th canonical variate of X (unit norm, a column of Xc Wx) and x_j
 *     the j-th centred neuron of X.  This is the paper's Eq. on the true
 *     canonical variates; google/svcca's pwcca.py orthonormalises
 *     directions to which it has added the means back, which depends on the
 *     sign LAPACK gives each singular vector.  The weights come from X only:
 *     PWCCA is invariant to orthogonal maps of Y, not of X, and
 *     pwcca(X, Y) != pwcca(Y, X).
 *   Procrustes (Ding et al. 2021): centre, scale each side to unit
 *     Frobenius norm, d = 2 - 2 |Xc' Yc|_* (nuclear norm), a distance in
 *     [0, 2]; 0 when Y is an orthogonal map of X.
 *
 * How
 *   Each side is decomposed once (struct xf_cca_side) into its principal
 *   components P = Xc V = U S (n, r) and loadings G = Xc' U (p, r), r its
 *   numerical rank, from the eigen of Xc'Xc (p <= n) or Xc Xc' (p > n),
 *   formed in double by BLIS and decomposed by LAPACK (linalg.h).  A pair
 *   then costs one (n, kx) x (n, ky) product and a kx x ky SVD:
 *   canonical correlations are the singular values of
 *   Sx^-1 Px' Py Sy^-1 = Ux' Uy.  The canonical variates' inner products
 *   with the neurons, Xc' h_i, are G u_i, so PWCCA needs no n-sized work.
 *   Everything past the float32 input is double.
 *
 * Rank
 *   Directions with s_i <= 1e-6 s_1 (s_i^2 <= 1e-12 s_1^2, well above the
 *   double eigen solver's noise, below what float32 data can resolve)
 *   count as null.  CCA without keep needs full column rank, r == p (so
 *   n > p after centring): otherwise the canonical weights are not
 *   defined, and the pair fails with a message that says to use keep.
 *   SVCCA (keep > 0) and Procrustes handle rank-deficient sides: null
 *   directions are never kept and contribute nothing.
 */
#ifndef XF_CCA_H
#define XF_CCA_H

#include <stddef.h>

#include "xf.h"

#define XF_CCA_RANK_TOL 1e-6	/* s_i / s_1 at or below: a null direction */
#define XF_SVCCA_KEEP 0.99	/* Raghu et al.'s variance fraction */

struct xf_cca_side;

/*
 * Decomposes X (n, p), only read.  loadings: also keep Xc'U (p, r), which
 * only PWCCA's weights read (xf_cca with alpha; it costs a product as large
 * as the Gram matrix's, twice its time, so SVCCA and Procrustes go
 * without).  threads as in cka.h (0: BLIS default).  Returns a side the
 * caller frees with xf_cca_side_free, or NULL with err filled (n < 2, a NaN
 * or infinity at row/column, a constant input, out of memory, LAPACK
 * failure).
 */
struct xf_cca_side *xf_cca_side_new(const float *X, size_t n, size_t p,
    int loadings, int threads, struct xf_err *err);
void xf_cca_side_free(struct xf_cca_side *s);

/* The numerical rank r, and how many top directions explain `keep` of the
 * variance (keep 0: all p, which needs r == p). */
size_t xf_cca_side_rank(const struct xf_cca_side *s);
size_t xf_cca_side_keep(const struct xf_cca_side *s, double keep);

/*
 * The canonical correlations rho (min(kx, ky), descending, caller's space of
 * at least min(p, q)) of the two sides' top directions, with the counts
 * kept in *kx, *ky; with alpha non-NULL also PWCCA's weights of a (summing
 * to 1).  keep 0: full CCA.  Returns the count, or -1 with err filled (n
 * differs, keep 0 on a side of rank < p).
 */
long xf_cca(double *rho, double *alpha, size_t *kx, size_t *ky,
    const struct xf_cca_side *a, const struct xf_cca_side *b, double keep,
    int threads, struct xf_err *err);

/* SVCCA and PWCCA as above (keep as in xf_cca); 0 or -1 with err. */
int xf_svcca(double *v, size_t *kx, size_t *ky, const struct xf_cca_side *a,
    const struct xf_cca_side *b, double keep, int threads, struct xf_err *err);
int xf_pwcca(double *v, size_t *kx, size_t *ky, const struct xf_cca_side *a,
    const struct xf_cca_side *b, double keep, int threads, struct xf_err *err);

/* The orthogonal Procrustes distance; 0 or -1 with err. */
int xf_procrustes(double *d, const struct xf_cca_side *a,
    const struct xf_cca_side *b, int threads, struct xf_err *err);

#endif
