/* linalg.c: LAPACKE wrappers; see linalg.h. */
#include <stdlib.h>
#include <string.h>

#include <lapacke.h>

#include "linalg.h"

int
xf_symeig(double *w, double *a, size_t n, int vectors, struct xf_err *err)
{
	lapack_int info;

	if (n == 0)
		return 0;
	info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, vectors ? 'V' : 'N', 'L',
	    (lapack_int)n, a, (lapack_int)n, w);
	if (info != 0)
		return xf_errf(err, "symmetric eigen of %zux%zu: LAPACK dsyevd "
		    "info %d", n, n, (int)info);
	/* LAPACK gives ascending order; callers want the largest first. */
	for (size_t i = 0; i < n / 2; i++) {
		size_t j = n - 1 - i;
		double t = w[i];

		w[i] = w[j];
		w[j] = t;
		if (vectors)
			for (size_t r = 0; r < n; r++) {
				t = a[r * n + i];
				a[r * n + i] = a[r * n + j];
				a[r * n + j] = t;
			}
	}
	return 0;
}

int
xf_svd(double *s, double *u, double *vt, double *a, size_t m, size_t n,
    struct xf_err *err)
{
	size_t k = m < n ? m : n;
	lapack_int info;

	if (k == 0)
		return 0;
	if (u != NULL && vt != NULL)
		info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', (lapack_int)m,
		    (lapack_int)n, a, (lapack_int)n, s, u, (lapack_int)k, vt,
		    (lapack_int)n);
	else
		info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'N', (lapack_int)m,
		    (lapack_int)n, a, (lapack_int)n, s, NULL, (lapack_int)m, NULL,
		    (lapack_int)n);
	if (info != 0)
		return xf_errf(err, "SVD of %zux%zu: LAPACK dgesdd info %d",
		    m, n, (int)info);
	return 0;
}

int
xf_tridiag_eig(double *w, double *z, const double *d, const double *e,
    size_t n, struct xf_err *err)
{
	double *ec = malloc((n > 1 ? n - 1 : 1) * sizeof *ec);
	lapack_int info;

	if (ec == NULL)
		return xf_errf(err, "out of memory for a %zu tridiagonal", n);
	memcpy(w, d, n * sizeof *w);
	if (n > 1)
		memcpy(ec, e, (n - 1) * sizeof *ec);
	info = LAPACKE_dstev(LAPACK_ROW_MAJOR, z ? 'V' : 'N', (lapack_int)n,
	    w, ec, z, (lapack_int)n);
	free(ec);
	if (info != 0)
		return xf_errf(err, "tridiagonal eigen of %zu: LAPACK dstev "
		    "info %d", n, (int)info);
	return 0;
}
