/*
 * cka_impl.h: what cka.c (whole-matrix CKA, the sides) and cka_acc.c (the
 * streaming and minibatch accumulator) share.  Not part of libxf's
 * interface.
 */
#ifndef XF_CKA_IMPL_H
#define XF_CKA_IMPL_H

/* blis.h trips -Wextra in its own inlines; -isystem would say the same. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wunused-function"
#include <blis.h>
#pragma GCC diagnostic pop

#include "cka.h"

struct xf_cka_side {
	size_t n, p;
	int    debiased;
	enum xf_cka_form form;	/* FEATURE or GRAM, never AUTO */
	int    threads;
	float  *gram;		/* (n, n) centred kernel, lower triangle */
	float  *feat;		/* (n, p) centred features */
	double *row_sq;		/* (n) squared norms of the rows of feat */
	double  sq_norm;	/* sum of row_sq: |Xc|_F^2 */
	double  self;		/* <Kc, Kc> */
};

int	cka_opts_check(const struct xf_cka_opts *o, struct xf_err *err);
int	cka_n_check(size_t n, int debiased, struct xf_err *err);
rntm_t *	cka_rntm_work(rntm_t *r, int threads, double flops);
void	cka_cols_center(float *xc, double *mean, const float *x, size_t n, size_t p);
double	cka_dot_fd(const float *a, const float *b, size_t len);
double	cka_dot_dd(const double *a, const double *b, size_t len);
double	cka_sym_sq_norm(const double *g, size_t p);
double	cka_sym_quad(const double *g, const double *v, size_t p);
double	cka_debias(double xty, double dxdy, double sx, double sy, size_t n);
int	cka_side_dot(double *dot, const struct xf_cka_side *a, const struct xf_cka_side *b,
	    struct xf_err *err);
int	cka_ratio_of(double *cka, double dot, double self_a, double self_b,
	    struct xf_err *err);
int	cka_sides_new(struct xf_cka_side **a, struct xf_cka_side **b, const float *X,
	    size_t p, const float *Y, size_t q, size_t n,
	    const struct xf_cka_opts *o, struct xf_err *err);

#endif
