/*
 * cka.h: centered kernel alignment (Kornblith et al. 2019) and minibatch
 * CKA (Nguyen et al. 2021), computed as the google-research
 * representation_similarity demo computes them.
 *
 * Overview
 *   X (n, p) and Y (n, q) are float32 activations of the same n examples,
 *   row-major, one example per row.  CKA = <Kc, Lc> / (|Kc| |Lc|) where
 *   Kc is the centred kernel matrix of X: HKH (biased HSIC) or the
 *   U-centred K of Szekely and Rizzo (debiased, unbiased HSIC; the value
 *   can be negative and needs n > 3).
 *   - Linear kernel, feature form: |Yc'Xc|^2 / (|Xc'Xc| |Yc'Yc|), cost
 *     O(n p q), memory O(p q).  Used when p and q are both < n.
 *   - Linear kernel, Gram form: K = Xc Xc' by a BLIS ssyrk (half of a
 *     gemm), cost n^2 p, memory one n x n float per side.  Used otherwise.
 *   - RBF kernel: K = exp(-d^2 / (2 t^2 median(d^2))), always Gram form.
 *     As in the demo, the median is np.median over the full n x n matrix
 *     of squared distances, zero diagonal included.
 *
 * Precision
 *   Columns are centred in double before any product, so a large common
 *   offset (activations of mean 1000) costs nothing: the float32 GEMMs
 *   only ever see centred data.  Gram matrices are float32 from BLIS;
 *   their centring means, Frobenius products and norms are accumulated in
 *   double.  Feature-form products are summed over row chunks of 4096 in
 *   float32 and across chunks in double.  Agreement with a double
 *   reference is about 1e-7.
 *
 * Reuse over pairs
 *   Comparing m modules of model A with k modules of model B needs m + k
 *   kernel matrices, not m * k: build one struct xf_cka_side per
 *   activation matrix (that is where all the n^2 p work is), then call
 *   xf_cka_side_pair, which costs O(n^2) for two Gram sides.  A side built
 *   in Gram form and one in feature form pair too (cost n^2 q).  Each Gram
 *   side holds n*n*4 bytes (400 MB at n = 10,000): keep the sides of one
 *   model and stream the other's if memory is short.
 *
 * Streaming
 *   struct xf_cka_acc takes rows in chunks of any size.  With batch > 0
 *   it is minibatch CKA of unbiased HSICs: memory O(batch (p + q) +
 *   batch^2), whatever n.
 *   With batch == 0 it is the exact linear CKA in one pass (feature form,
 *   memory O((p + q)^2) doubles).
 *
 * Threads
 *   opts.threads is the BLIS thread count for each call (0: the BLIS
 *   default, i.e. BLIS_NUM_THREADS or bli_thread_set_num_threads).
 *
 * Usage
 *	struct xf_cka_opts o;
 *	struct xf_err err;
 *	double v;
 *
 *	xf_cka_opts_default(&o);
 *	o.threads = 2;
 *	if (xf_cka(&v, X, p, Y, q, n, &o, &err) == -1)
 *		errx(1, "cka: %s", err.msg);
 */
#ifndef XF_CKA_H
#define XF_CKA_H

#include <stddef.h>

#include "xf.h"

enum xf_cka_kernel {
	XF_CKA_LINEAR = 0,
	XF_CKA_RBF = 1,
};

enum xf_cka_form {
	XF_CKA_FORM_AUTO = 0,	/* feature form when p (and q) < n, else Gram */
	XF_CKA_FORM_FEATURE = 1,	/* linear kernel only */
	XF_CKA_FORM_GRAM = 2,
};

#define XF_CKA_RBF_THRESHOLD 0.5	/* the demo's t */
#define XF_CKA_CHUNK 4096	/* rows per float32 partial product */

struct xf_cka_opts {
	enum xf_cka_kernel kernel;
	int    debiased;	/* unbiased HSIC; needs n > 3 */
	double rbf_threshold;	/* t, fraction of the median distance */
	enum xf_cka_form form;	/* forcing a form is for tests */
	int    threads;		/* BLIS threads per call; 0: BLIS default */
};

/* Linear, biased, auto form, t = 0.5, BLIS default threads. */
void xf_cka_opts_default(struct xf_cka_opts *o);

/*
 * CKA of X (n, p) and Y (n, q), both row-major and only read.  o may be
 * NULL for the defaults.  Returns 0 and stores the value in *cka, or -1
 * with err filled (bad sizes, n <= 3 when debiased, a constant input
 * whose self-similarity is zero, out of memory).  Allocates and frees its
 * own work space: two n x n floats in the Gram form.
 */
int xf_cka(double *cka, const float *X, size_t p, const float *Y, size_t q,
    size_t n, const struct xf_cka_opts *o, struct xf_err *err);

/*
 * One activation matrix prepared for any number of pairs: its centred
 * kernel matrix (Gram form) or its centred features (feature form), and
 * its self-similarity.  X (n, p) is only read and may be freed after the
 * call.  With o->form AUTO, a linear side takes the feature form when
 * p < n.  Returns a side the caller frees with xf_cka_side_free, or NULL
 * with err filled.
 */
struct xf_cka_side;

struct xf_cka_side *xf_cka_side_new(const float *X, size_t n, size_t p,
    const struct xf_cka_opts *o, struct xf_err *err);

/*
 * CKA between two sides built from the same n examples with the same
 * estimator (biased or debiased).  Any two forms pair.  Returns 0 and the
 * value in *cka, or -1 with err filled (n or estimator differ).  Reads the
 * sides only, so one side can be paired many times, from several threads.
 */
int xf_cka_side_pair(double *cka, const struct xf_cka_side *a,
    const struct xf_cka_side *b, struct xf_err *err);

/* <Kc, Kc>: the side's HSIC with itself, unnormalised as in the demo
 * (times (n-1)^2 biased, n (n-3) debiased). */
double xf_cka_side_self(const struct xf_cka_side *s);

/* Bytes the side holds, for a caller budgeting memory over many sides. */
size_t xf_cka_side_bytes(const struct xf_cka_side *s);

/* Frees s and everything it holds; NULL is a no-op. */
void xf_cka_side_free(struct xf_cka_side *s);

/*
 * Streaming CKA of X (n, p) and Y (n, q) fed in row chunks.
 *   batch > 0: minibatch CKA (Nguyen et al. 2021), always with the
 *     unbiased HSIC of Song et al. 2012 (o->debiased is not read).  Rows
 *     are cut into consecutive batches of `batch` rows whatever the chunk
 *     sizes; for each, h = <Ku, Lu> / (m (m - 3)), the unbiased HSIC of
 *     its m rows, and CKA = sum h(K,L) / sqrt(sum h(K,K) sum h(L,L)):
 *     every batch weighs the same, as in the paper's mean over batches.
 *     A last batch of 4 rows or more is a batch of its own; a last 1 to 3
 *     rows, too few for the unbiased HSIC, are merged into the batch
 *     before them (which then has batch + 1 .. batch + 3 rows), so every
 *     row counts.  With the RBF kernel the median distance is each
 *     batch's own.  Either kernel.
 *   batch == 0: the exact linear CKA (feature form, either estimator),
 *     from XtX, YtY, XtY, column sums and a few row-norm moments summed in
 *     double about a shift (the first chunk's column means), so a large
 *     common offset does not cancel.  Memory (p^2 + q^2 + p q) doubles.
 * Returns an accumulator the caller frees with xf_cka_acc_free, or NULL
 * with err filled (bad sizes, RBF with batch 0, batch <= 3).
 */
struct xf_cka_acc;

struct xf_cka_acc *xf_cka_acc_new(size_t p, size_t q, size_t batch,
    const struct xf_cka_opts *o, struct xf_err *err);

/* Feeds rows X (rows, p) and Y (rows, q), copied as needed; rows may be 0.
 * Returns 0, or -1 with err filled (after finish, out of memory). */
int xf_cka_acc_add(struct xf_cka_acc *a, const float *X, const float *Y,
    size_t rows, struct xf_err *err);

/* Ends the stream (counts a trailing partial batch) and stores the value in
 * *cka.  Returns 0, or -1 with err filled (too few rows, a constant input).
 * Adding after finish is an error; finishing again returns the same value. */
int xf_cka_acc_finish(double *cka, struct xf_cka_acc *a, struct xf_err *err);

/* Rows that counted so far (batches summed; all rows when batch == 0).
 * After a successful finish with batch > 0, all rows. */
size_t xf_cka_acc_rows(const struct xf_cka_acc *a);

/* Frees a; NULL is a no-op. */
void xf_cka_acc_free(struct xf_cka_acc *a);

#endif
