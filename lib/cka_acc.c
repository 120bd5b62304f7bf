/*
 * cka_acc.c: CKA over a stream of rows (xf_cka_acc_*): exact, from running
 * sums, or minibatch, the unbiased HSIC of each batch summed as Nguyen et
 * al. 2021 do.  cka.h has the formulas; cka.c the whole-matrix sides this
 * reuses.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cka_impl.h"

/* Rows of a last batch too short for the unbiased HSIC (which needs 4),
 * merged into the batch before it. */
#define MERGE 3

struct xf_cka_acc {
	size_t p, q, batch;
	struct xf_cka_opts o;
	int    finished, status;
	double value;
	size_t rows;		/* rows that counted */
	/* minibatch (batch > 0) */
	float  *bx, *by;	/* (batch + MERGE, p), (batch + MERGE, q) */
	size_t fill;
	double hkl, hkk, hll;
	size_t batches;
	/* exact linear (batch == 0), all sums about the shift */
	int    shifted;
	float  *shift_x, *shift_y;	/* (p), (q) first chunk's column means */
	float  *cx, *cy;	/* (XF_CKA_CHUNK, p), (XF_CKA_CHUNK, q) */
	float  *pxx, *pyy, *pxy;	/* (p, p), (q, q), (p, q) chunk products */
	double *gxx, *gyy, *gxy;	/* (p, p) lower, (q, q) lower, (p, q) */
	double *sum_x, *sum_y;	/* (p), (q) column sums */
	double *sax, *sbx;	/* (p) sum a_i x_i, sum b_i x_i */
	double *say, *sby;	/* (q) sum a_i y_i, sum b_i y_i */
	double *a_row, *b_row;	/* (XF_CKA_CHUNK) a_i = |x_i|^2, b_i = |y_i|^2 */
	double  sa, sb, saa, sbb, sab;
};


void
xf_cka_acc_free(struct xf_cka_acc *a)
{
	if (a == NULL)
		return;
	free(a->bx);
	free(a->by);
	free(a->shift_x);
	free(a->shift_y);
	free(a->cx);
	free(a->cy);
	free(a->pxx);
	free(a->pyy);
	free(a->pxy);
	free(a->gxx);
	free(a->gyy);
	free(a->gxy);
	free(a->sum_x);
	free(a->sum_y);
	free(a->sax);
	free(a->sbx);
	free(a->say);
	free(a->sby);
	free(a->a_row);
	free(a->b_row);
	free(a);
}

struct xf_cka_acc *
xf_cka_acc_new(size_t p, size_t q, size_t batch, const struct xf_cka_opts *o,
    struct xf_err *err)
{
	struct xf_cka_acc *a;
	size_t c = XF_CKA_CHUNK;
	int bad;

	if ((a = calloc(1, sizeof *a)) == NULL) {
		xf_errf(err, "out of memory");
		return NULL;
	}
	if (o == NULL)
		xf_cka_opts_default(&a->o);
	else
		a->o = *o;
	if (cka_opts_check(&a->o, err) == -1)
		goto fail;
	if (p == 0 || q == 0) {
		xf_errf(err, "CKA of %zu and %zu features, want at least 1",
		    p, q);
		goto fail;
	}
	a->p = p;
	a->q = q;
	a->batch = batch;
	if (batch > 0) {
		/* Nguyen et al.'s estimator is the unbiased HSIC of each batch,
		 * whatever o->debiased says. */
		a->o.debiased = 1;
		if (cka_n_check(batch, 1, err) == -1)
			goto fail;
		a->bx = malloc((batch + MERGE) * p * sizeof *a->bx);
		a->by = malloc((batch + MERGE) * q * sizeof *a->by);
		bad = a->bx == NULL || a->by == NULL;
	} else {
		if (a->o.kernel != XF_CKA_LINEAR) {
			xf_errf(err, "exact streaming CKA needs the linear "
			    "kernel; give a batch size or the whole matrices");
			goto fail;
		}
		a->shift_x = malloc(p * sizeof *a->shift_x);
		a->shift_y = malloc(q * sizeof *a->shift_y);
		a->cx = malloc(c * p * sizeof *a->cx);
		a->cy = malloc(c * q * sizeof *a->cy);
		a->pxx = malloc(p * p * sizeof *a->pxx);
		a->pyy = malloc(q * q * sizeof *a->pyy);
		a->pxy = malloc(p * q * sizeof *a->pxy);
		a->gxx = calloc(p * p, sizeof *a->gxx);
		a->gyy = calloc(q * q, sizeof *a->gyy);
		a->gxy = calloc(p * q, sizeof *a->gxy);
		a->sum_x = calloc(p, sizeof *a->sum_x);
		a->sum_y = calloc(q, sizeof *a->sum_y);
		a->sax = calloc(p, sizeof *a->sax);
		a->sbx = calloc(p, sizeof *a->sbx);
		a->say = calloc(q, sizeof *a->say);
		a->sby = calloc(q, sizeof *a->sby);
		a->a_row = malloc(c * sizeof *a->a_row);
		a->b_row = malloc(c * sizeof *a->b_row);
		bad = !a->shift_x || !a->shift_y || !a->cx || !a->cy ||
		    !a->pxx || !a->pyy || !a->pxy || !a->gxx || !a->gyy ||
		    !a->gxy || !a->sum_x || !a->sum_y || !a->sax || !a->sbx ||
		    !a->say || !a->sby || !a->a_row || !a->b_row;
	}
	if (bad) {
		xf_errf(err, "out of memory for a CKA accumulator of %zu and "
		    "%zu features", p, q);
		goto fail;
	}
	return a;
fail:
	xf_cka_acc_free(a);
	return NULL;
}

/*
 * One batch of m rows in a->bx, a->by: add its unbiased HSIC terms.  The
 * U-centred <Kc, Lc> is n (n - 3) times Song et al.'s unbiased HSIC, so
 * every batch adds an estimate of the same HSIC, whatever its size.
 */
static int
batch_add(struct xf_cka_acc *a, size_t m, struct xf_err *err)
{
	struct xf_cka_side *kx, *ky;
	double dot, c;
	int rc;

	if (cka_sides_new(&kx, &ky, a->bx, a->p, a->by, a->q, m, &a->o, err) == -1)
		return -1;
	rc = cka_side_dot(&dot, kx, ky, err);
	if (rc == 0) {
		c = (double)m * (double)(m - 3);
		a->hkl += dot / c;
		a->hkk += kx->self / c;
		a->hll += ky->self / c;
		a->batches++;
		a->rows += m;
	}
	xf_cka_side_free(kx);
	xf_cka_side_free(ky);
	return rc;
}

/* Exact linear streaming: rows (<= XF_CKA_CHUNK) of X and Y. */
static void
exact_add(struct xf_cka_acc *a, const float *X, const float *Y, size_t rows)
{
	size_t p = a->p, q = a->q, i, j;
	float one = 1, zero = 0;
	rntm_t r;

	/* Shifting by a mean estimate first keeps XtX - n mu mu' from
	 * cancelling: the sums below are about the shift, not about 0. */
	if (!a->shifted) {
		double *m = a->sum_x;	/* still zero: borrowed as work */

		cka_cols_center(a->cx, m, X, rows, p);
		for (j = 0; j < p; j++)
			a->shift_x[j] = (float)m[j];
		cka_cols_center(a->cy, a->sum_y, Y, rows, q);
		for (j = 0; j < q; j++)
			a->shift_y[j] = (float)a->sum_y[j];
		memset(a->sum_x, 0, p * sizeof *a->sum_x);
		memset(a->sum_y, 0, q * sizeof *a->sum_y);
		a->shifted = 1;
	}
	for (i = 0; i < rows; i++) {
		float *cx = a->cx + i * p, *cy = a->cy + i * q;
		double ai, bi;

		for (j = 0; j < p; j++)
			cx[j] = X[i * p + j] - a->shift_x[j];
		for (j = 0; j < q; j++)
			cy[j] = Y[i * q + j] - a->shift_y[j];
		ai = cka_dot_fd(cx, cx, p);
		bi = cka_dot_fd(cy, cy, q);
		for (j = 0; j < p; j++) {
			a->sum_x[j] += cx[j];
			a->sax[j] += ai * cx[j];
			a->sbx[j] += bi * cx[j];
		}
		for (j = 0; j < q; j++) {
			a->sum_y[j] += cy[j];
			a->say[j] += ai * cy[j];
			a->sby[j] += bi * cy[j];
		}
		a->sa += ai;
		a->sb += bi;
		a->saa += ai * ai;
		a->sbb += bi * bi;
		a->sab += ai * bi;
	}
	bli_ssyrk_ex(BLIS_LOWER, BLIS_TRANSPOSE, (dim_t)p, (dim_t)rows, &one,
	    a->cx, (inc_t)p, 1, &zero, a->pxx, (inc_t)p, 1, NULL,
	    cka_rntm_work(&r, a->o.threads, (double)p * p * rows));
	bli_ssyrk_ex(BLIS_LOWER, BLIS_TRANSPOSE, (dim_t)q, (dim_t)rows, &one,
	    a->cy, (inc_t)q, 1, &zero, a->pyy, (inc_t)q, 1, NULL,
	    cka_rntm_work(&r, a->o.threads, (double)q * q * rows));
	bli_sgemm_ex(BLIS_TRANSPOSE, BLIS_NO_TRANSPOSE, (dim_t)p, (dim_t)q,
	    (dim_t)rows, &one, a->cx, (inc_t)p, 1, a->cy, (inc_t)q, 1, &zero,
	    a->pxy, (inc_t)q, 1, NULL,
	    cka_rntm_work(&r, a->o.threads, 2.0 * p * q * rows));
	for (i = 0; i < p; i++)
		for (j = 0; j <= i; j++)
			a->gxx[i * p + j] += a->pxx[i * p + j];
	for (i = 0; i < q; i++)
		for (j = 0; j <= i; j++)
			a->gyy[i * q + j] += a->pyy[i * q + j];
	for (i = 0; i < p * q; i++)
		a->gxy[i] += a->pxy[i];
	a->rows += rows;
}

/* Prefix the failing batch to err's message (which may be the source). */
static int
batch_errf(const struct xf_cka_acc *a, struct xf_err *err)
{
	char why[sizeof err->msg];

	if (err == NULL)
		return -1;
	memcpy(why, err->msg, sizeof why);
	return xf_errf(err, "batch %zu (rows %zu..): %s", a->batches + 1,
	    a->rows, why);
}

int
xf_cka_acc_add(struct xf_cka_acc *a, const float *X, const float *Y,
    size_t rows, struct xf_err *err)
{
	size_t done = 0, take;

	if (a->finished)
		return xf_errf(err, "CKA accumulator: rows added after finish");
	if (rows > 0 && (X == NULL || Y == NULL))
		return xf_errf(err, "CKA accumulator: NULL rows");
	while (done < rows) {
		if (a->batch == 0) {
			take = rows - done < XF_CKA_CHUNK ? rows - done :
			    XF_CKA_CHUNK;
			exact_add(a, X + done * a->p, Y + done * a->q, take);
		} else {
			/* A batch goes only when rows beyond the MERGE held
			 * after it come: then what follows it is a batch of
			 * its own (4 rows or more), not a remainder to merge. */
			if (a->fill == a->batch + MERGE) {
				if (batch_add(a, a->batch, err) == -1)
					return batch_errf(a, err);
				memmove(a->bx, a->bx + a->batch * a->p,
				    MERGE * a->p * sizeof *a->bx);
				memmove(a->by, a->by + a->batch * a->q,
				    MERGE * a->q * sizeof *a->by);
				a->fill = MERGE;
			}
			take = a->batch + MERGE - a->fill;
			if (take > rows - done)
				take = rows - done;
			memcpy(a->bx + a->fill * a->p, X + done * a->p,
			    take * a->p * sizeof *X);
			memcpy(a->by + a->fill * a->q, Y + done * a->q,
			    take * a->q * sizeof *Y);
			a->fill += take;
		}
		done += take;
	}
	return 0;
}

/*
 * Centred quantities from sums about the shift (mu, nu: the means of the
 * shifted data; a_i, b_i: squared norms of shifted rows):
 *   Xc'Xc = Gxx - n mu mu',   |Xc|^2 = sum a - n |mu|^2,
 *   sum_i |xc_i|^2 |yc_i|^2 = Sab - 2 Say.nu - 2 Sbx.mu + 4 mu'Gxy nu
 *                             + |nu|^2 Sa + |mu|^2 Sb - 3 n |mu|^2 |nu|^2.
 */
static int
exact_finish(double *cka, struct xf_cka_acc *a, struct xf_err *err)
{
	size_t p = a->p, q = a->q, n = a->rows, i, j;
	double nd = (double)n, *mu, *nu, *cxx, *cyy, *cxy, *gnu;
	double al, be, xx, yy, xy, sx, sy, dxy, dxx, dyy;
	int rc;

	if (cka_n_check(n, a->o.debiased, err) == -1)
		return -1;
	mu = malloc(p * sizeof *mu);
	nu = malloc(q * sizeof *nu);
	gnu = malloc(p * sizeof *gnu);
	cxx = malloc(p * p * sizeof *cxx);
	cyy = malloc(q * q * sizeof *cyy);
	cxy = malloc(p * q * sizeof *cxy);
	if (!mu || !nu || !gnu || !cxx || !cyy || !cxy) {
		rc = xf_errf(err, "out of memory");
		goto out;
	}
	for (j = 0; j < p; j++)
		mu[j] = a->sum_x[j] / nd;
	for (j = 0; j < q; j++)
		nu[j] = a->sum_y[j] / nd;
	for (i = 0; i < p; i++)
		for (j = 0; j <= i; j++)
			cxx[i * p + j] = a->gxx[i * p + j] - nd * mu[i] * mu[j];
	for (i = 0; i < q; i++)
		for (j = 0; j <= i; j++)
			cyy[i * q + j] = a->gyy[i * q + j] - nd * nu[i] * nu[j];
	for (i = 0; i < p; i++) {
		for (j = 0; j < q; j++)
			cxy[i * q + j] = a->gxy[i * q + j] - nd * mu[i] * nu[j];
		gnu[i] = cka_dot_dd(a->gxy + i * q, nu, q);
	}
	xx = cka_sym_sq_norm(cxx, p);
	yy = cka_sym_sq_norm(cyy, q);
	xy = cka_dot_dd(cxy, cxy, p * q);
	if (a->o.debiased) {
		al = cka_dot_dd(mu, mu, p);
		be = cka_dot_dd(nu, nu, q);
		sx = a->sa - nd * al;
		sy = a->sb - nd * be;
		dxy = a->sab - 2 * cka_dot_dd(a->say, nu, q) -
		    2 * cka_dot_dd(a->sbx, mu, p) + 4 * cka_dot_dd(mu, gnu, p) +
		    be * a->sa + al * a->sb - 3 * nd * al * be;
		dxx = a->saa - 4 * cka_dot_dd(a->sax, mu, p) +
		    4 * cka_sym_quad(a->gxx, mu, p) + 2 * al * a->sa -
		    3 * nd * al * al;
		dyy = a->sbb - 4 * cka_dot_dd(a->sby, nu, q) +
		    4 * cka_sym_quad(a->gyy, nu, q) + 2 * be * a->sb -
		    3 * nd * be * be;
		xy = cka_debias(xy, dxy, sx, sy, n);
		xx = cka_debias(xx, dxx, sx, sx, n);
		yy = cka_debias(yy, dyy, sy, sy, n);
	}
	rc = cka_ratio_of(cka, xy, xx, yy, err);
out:
	free(mu);
	free(nu);
	free(gnu);
	free(cxx);
	free(cyy);
	free(cxy);
	return rc;
}

int
xf_cka_acc_finish(double *cka, struct xf_cka_acc *a, struct xf_err *err)
{
	size_t least = MERGE + 1;

	if (a->finished) {
		if (a->status == 0)
			*cka = a->value;
		else
			xf_errf(err, "CKA accumulator: finish failed before");
		return a->status;
	}
	a->finished = 1;
	if (a->batch == 0) {
		a->status = exact_finish(&a->value, a, err);
	} else {
		a->status = 0;
		/* The rows held: a last batch of 4 or more rows, or a full
		 * batch with the 1 to 3 rows after it merged in. */
		if (a->fill >= least && batch_add(a, a->fill, err) == -1)
			a->status = batch_errf(a, err);
		a->fill = 0;
		if (a->status == 0 && a->batches == 0)
			a->status = xf_errf(err, "minibatch CKA: no batch of "
			    "%zu or more rows", least);
		if (a->status == 0)
			a->status = cka_ratio_of(&a->value, a->hkl, a->hkk, a->hll,
			    err);
	}
	if (a->status == 0)
		*cka = a->value;
	return a->status;
}

size_t
xf_cka_acc_rows(const struct xf_cka_acc *a)
{
	return a->rows;
}
