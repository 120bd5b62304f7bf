/*
 * linalg.h: the few dense decompositions xf needs (symmetric eigen, SVD,
 * symmetric tridiagonal eigen), in double, through LAPACKE.
 *
 * Which LAPACK
 *   LAPACKE 3.11 over Debian's reference LAPACK (liblapack3), whose BLAS
 *   calls bind to the BLIS that xf links (libblis.so.4 comes first in the
 *   link map, so LAPACK's dgemm_ resolves there; see the Makefile).
 *   libflame 5.2 was the other candidate: BLIS's companion, but Debian's
 *   build is from 2019, its LAPACK layer maps only part of the API to
 *   FLAME and carries its own netlib copies for the rest, and it states no
 *   BLAS dependency at all.  The reference LAPACK is the one every other
 *   LAPACK is tested against, and what numpy's results are judged by.
 *
 * Every routine returns 0, or -1 with err filled (LAPACK's info, or out
 * of memory).  Matrices are row-major.
 */
#ifndef XF_LINALG_H
#define XF_LINALG_H

#include <stddef.h>

#include "xf.h"

struct rntm_s;	/* BLIS's rntm_t; blis.h is not included here because its
		 * lsame_ clashes with lapacke.h's */

/* The BLIS runtime for one product of `flops`: NULL (BLIS's default) when
 * threads <= 0, one thread under 5e7 flops, where BLIS's spinning barriers
 * cost more than they save on a busy machine (as cka.c), else threads.
 * r is the caller's.  In linalg_blis.c. */
struct rntm_s *xf_rntm(struct rntm_s *r, int threads, double flops);

/* Eigen of the symmetric a (n, n), lower triangle read: on return w (n)
 * holds the eigenvalues in descending order and, if vectors, a holds the
 * matching eigenvectors in its columns. */
int xf_symeig(double *w, double *a, size_t n, int vectors,
    struct xf_err *err);

/* Singular values s (min(m, n)), descending, of a (m, n), which is
 * overwritten.  With u (m, k) and vt (k, n) non-NULL, k = min(m, n), the
 * thin singular vectors too. */
int xf_svd(double *s, double *u, double *vt, double *a, size_t m, size_t n,
    struct xf_err *err);

/* Eigen of the symmetric tridiagonal (d (n), e (n - 1)): w (n) ascending
 * and z (n, n) the eigenvectors in columns (NULL: values only).  d and e
 * are preserved. */
int xf_tridiag_eig(double *w, double *z, const double *d, const double *e,
    size_t n, struct xf_err *err);

#endif
