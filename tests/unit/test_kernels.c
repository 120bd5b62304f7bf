/*
 * test_kernels: every fast layer against its naive _ref twin, every
 * backward against double-precision central differences, and the same
 * bytes on one thread and on two; on the path XF_ISA names (make check runs
 * it once per path the machine has, see nn.h "Instruction sets").
 */
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "tap.h"

static struct xf_rng rng;

static float *
randn(size_t n, float scale)
{
	float *p = malloc((n + 1) * sizeof *p);

	for (size_t i = 0; i < n; i++)
		p[i] = scale * xf_rng_normal(&rng);
	return p;
}

/* max |a - b| / max(1e-3, max |b|): one number per comparison. */
static double
rel_err(const float *a, const float *b, size_t n)
{
	double diff = 0.0, scale = 1e-3;

	for (size_t i = 0; i < n; i++) {
		if (fabs(a[i] - b[i]) > diff || isnan(a[i]))
			diff = isnan(a[i]) ? INFINITY : fabs(a[i] - b[i]);
		if (fabs(b[i]) > scale)
			scale = fabs(b[i]);
	}
	return diff / scale;
}

/*
 * Central differences of L(x) = sum(R . f(x)) for the entries of x, in
 * double over the float _ref forward; compared against the analytic grad.
 */
typedef void (*fwd_fn)(float *out, const float *x, void *ctx);

static double
fd_check(fwd_fn f, void *ctx, float *x, size_t n, const float *grad,
    const float *r, size_t out_n, float h)
{
	float *out = malloc(out_n * sizeof *out);
	float *fd = malloc(n * sizeof *fd);
	double e;

	for (size_t i = 0; i < n; i++) {
		float keep = x[i];
		double lp = 0.0, lm = 0.0;

		x[i] = keep + h;
		f(out, x, ctx);
		for (size_t j = 0; j < out_n; j++)
			lp += (double)r[j] * out[j];
		x[i] = keep - h;
		f(out, x, ctx);
		for (size_t j = 0; j < out_n; j++)
			lm += (double)r[j] * out[j];
		x[i] = keep;
		fd[i] = (float)((lp - lm) / (2.0 * ((double)(keep + h) -
		    (double)keep)));
	}
	e = rel_err(grad, fd, n);
	free(out);
	free(fd);
	return e;
}

/*
 * conv2d
 */
struct conv_ctx {
	const struct xf_conv2d_dims *d;
	float *in, *w, *b;
	int wrt;	/* 0 input, 1 weight, 2 bias */
};

static void
conv_fwd(float *out, const float *x, void *p)
{
	struct conv_ctx *c = p;

	xf_conv2d_forward_ref(out, c->wrt == 0 ? x : c->in,
	    c->wrt == 1 ? x : c->w, c->wrt == 2 ? x : c->b, 0, c->d);
}

static void
test_conv(int n, int c, int h, int w, int oc, int k, int stride, int pad,
    int relu)
{
	struct xf_conv2d_dims d;
	struct xf_err e;
	size_t ni, no, nw;
	float *in, *wt, *b, *out, *ref, *dout, *din, *dw, *db, *rdin, *rdw, *rdb,
	    *scratch;
	char what[128];

	if (xf_conv2d_dims(&d, n, c, h, w, oc, k, k, stride, pad, &e) == -1) {
		ok(0, "conv dims: %s", e.msg);
		return;
	}
	snprintf(what, sizeof what, "conv n%d c%d %dx%d oc%d k%d s%d p%d%s", n,
	    c, h, w, oc, k, stride, pad, relu ? " relu" : "");
	ni = (size_t)n * c * h * w;
	no = (size_t)n * oc * d.oh * d.ow;
	nw = (size_t)oc * c * k * k;
	in = randn(ni, 1.0f);
	wt = randn(nw, 0.3f);
	b = randn(oc, 0.3f);
	dout = randn(no, 1.0f);
	out = calloc(no, sizeof *out);
	ref = calloc(no, sizeof *ref);
	din = calloc(ni, sizeof *din);
	rdin = calloc(ni, sizeof *rdin);
	dw = randn(nw, 1.0f);
	rdw = malloc(nw * sizeof *rdw);
	memcpy(rdw, dw, nw * sizeof *dw);
	db = randn(oc, 1.0f);
	rdb = malloc(oc * sizeof *rdb);
	memcpy(rdb, db, oc * sizeof *db);
	scratch = malloc(xf_conv2d_scratch(&d) * sizeof *scratch);

	xf_conv2d_forward(out, scratch, in, wt, b, relu, &d);
	xf_conv2d_forward_ref(ref, in, wt, b, relu, &d);
	ok(rel_err(out, ref, no) < 1e-5, "%s: forward vs ref (rel err %.2g)",
	    what, rel_err(out, ref, no));
	/* dw and db start non-zero: backward must add. */
	xf_conv2d_backward(din, dw, db, scratch, dout, in, wt, &d);
	xf_conv2d_backward_ref(rdin, rdw, rdb, dout, in, wt, &d);
	ok(rel_err(din, rdin, ni) < 1e-5 && rel_err(dw, rdw, nw) < 1e-5 &&
	    rel_err(db, rdb, oc) < 1e-5,
	    "%s: backward vs ref (rel err din %.2g dw %.2g db %.2g)", what,
	    rel_err(din, rdin, ni), rel_err(dw, rdw, nw), rel_err(db, rdb, oc));
	free(in);
	free(wt);
	free(b);
	free(dout);
	free(out);
	free(ref);
	free(din);
	free(rdin);
	free(dw);
	free(rdw);
	free(db);
	free(rdb);
	free(scratch);
}

static void
test_conv_fd(int n, int c, int h, int w, int oc, int k, int stride, int pad)
{
	struct xf_conv2d_dims d;
	size_t ni, no, nw;
	float *in, *wt, *b, *r, *din, *dw, *db;
	double ei, ew, eb;

	xf_conv2d_dims(&d, n, c, h, w, oc, k, k, stride, pad, NULL);
	ni = (size_t)n * c * h * w;
	no = (size_t)n * oc * d.oh * d.ow;
	nw = (size_t)oc * c * k * k;
	in = randn(ni, 1.0f);
	wt = randn(nw, 0.3f);
	b = randn(oc, 0.3f);
	r = randn(no, 1.0f);
	din = calloc(ni, sizeof *din);
	dw = calloc(nw, sizeof *dw);
	db = calloc(oc, sizeof *db);
	xf_conv2d_backward_ref(din, dw, db, r, in, wt, &d);
	ei = fd_check(conv_fwd, &(struct conv_ctx){ &d, in, wt, b, 0 }, in, ni,
	    din, r, no, 1e-2f);
	ew = fd_check(conv_fwd, &(struct conv_ctx){ &d, in, wt, b, 1 }, wt, nw,
	    dw, r, no, 1e-2f);
	eb = fd_check(conv_fwd, &(struct conv_ctx){ &d, in, wt, b, 2 }, b, oc,
	    db, r, no, 1e-2f);
	ok(ei < 1e-3 && ew < 1e-3 && eb < 1e-3, "conv k%d s%d p%d: backward vs "
	    "finite differences (max rel err in %.2g w %.2g b %.2g)", k, stride,
	    pad, ei, ew, eb);
	free(in);
	free(wt);
	free(b);
	free(r);
	free(din);
	free(dw);
	free(db);
}

/*
 * linear
 */
struct lin_ctx {
	float *in, *w, *b;
	int n, in_f, out_f, wrt;
};

static void
lin_fwd(float *out, const float *x, void *p)
{
	struct lin_ctx *c = p;

	xf_linear_forward_ref(out, c->wrt == 0 ? x : c->in,
	    c->wrt == 1 ? x : c->w, c->wrt == 2 ? x : c->b, 0, c->n, c->in_f,
	    c->out_f);
}

static void
test_linear(int n, int in_f, int out_f, int relu)
{
	size_t ni = (size_t)n * in_f, no = (size_t)n * out_f,
	    nw = (size_t)in_f * out_f;
	float *in = randn(ni, 1.0f), *w = randn(nw, 0.3f), *b = randn(out_f, 1);
	float *out = calloc(no, 4), *ref = calloc(no, 4), *dout = randn(no, 1);
	float *din = calloc(ni, 4), *rdin = calloc(ni, 4);
	float *dw = randn(nw, 1), *rdw = malloc(nw * 4);
	float *db = randn(out_f, 1), *rdb = malloc(out_f * 4);

	memcpy(rdw, dw, nw * 4);
	memcpy(rdb, db, out_f * 4);
	xf_linear_forward(out, in, w, b, relu, n, in_f, out_f);
	xf_linear_forward_ref(ref, in, w, b, relu, n, in_f, out_f);
	ok(rel_err(out, ref, no) < 1e-5, "linear %dx%d->%d%s: forward vs ref "
	    "(rel err %.2g)", n, in_f, out_f, relu ? " relu" : "",
	    rel_err(out, ref, no));
	xf_linear_backward(din, dw, db, dout, in, w, n, in_f, out_f);
	xf_linear_backward_ref(rdin, rdw, rdb, dout, in, w, n, in_f, out_f);
	ok(rel_err(din, rdin, ni) < 1e-5 && rel_err(dw, rdw, nw) < 1e-5 &&
	    rel_err(db, rdb, out_f) < 1e-5, "linear %dx%d->%d: backward vs ref "
	    "(rel err din %.2g dw %.2g db %.2g)", n, in_f, out_f,
	    rel_err(din, rdin, ni), rel_err(dw, rdw, nw),
	    rel_err(db, rdb, out_f));
	if (n * in_f * out_f < 4000) {
		memset(din, 0, ni * 4);
		memset(dw, 0, nw * 4);
		memset(db, 0, out_f * 4);
		xf_linear_backward_ref(din, dw, db, dout, in, w, n, in_f, out_f);
		double ei = fd_check(lin_fwd, &(struct lin_ctx){ in, w, b, n,
		    in_f, out_f, 0 }, in, ni, din, dout, no, 1e-2f);
		double ew = fd_check(lin_fwd, &(struct lin_ctx){ in, w, b, n,
		    in_f, out_f, 1 }, w, nw, dw, dout, no, 1e-2f);
		double eb = fd_check(lin_fwd, &(struct lin_ctx){ in, w, b, n,
		    in_f, out_f, 2 }, b, out_f, db, dout, no, 1e-2f);

		ok(ei < 1e-3 && ew < 1e-3 && eb < 1e-3, "linear: backward vs "
		    "finite differences (max rel err in %.2g w %.2g b %.2g)",
		    ei, ew, eb);
	}
	free(in); free(w); free(b); free(out); free(ref); free(dout);
	free(din); free(rdin); free(dw); free(rdw); free(db); free(rdb);
}

/*
 * ReLU and max pool
 */
struct pool_ctx {
	int n, c, h, w;
};

static void
pool_fwd(float *out, const float *x, void *p)
{
	struct pool_ctx *c = p;

	xf_maxpool_forward_ref(out, x, c->n, c->c, c->h, c->w);
}

static void
relu_fwd(float *out, const float *x, void *p)
{
	xf_relu_forward(out, x, *(size_t *)p);
}

static void
test_pool_relu(int n, int c, int h, int w)
{
	size_t ni = (size_t)n * c * h * w, no = (size_t)n * c * (h / 2) * (w / 2);
	float *in = randn(ni, 1), *out = calloc(no, 4), *ref = calloc(no, 4);
	float *dout = randn(no, 1), *din = calloc(ni, 4), *rdin = randn(ni, 1);
	float *rout = calloc(ni, 4), *rg = randn(ni, 1), *rdx = calloc(ni, 4);

	xf_maxpool_forward(out, in, n, c, h, w);
	xf_maxpool_forward_ref(ref, in, n, c, h, w);
	ok(memcmp(out, ref, no * 4) == 0, "maxpool %dx%d: forward equals ref",
	    h, w);
	xf_maxpool_backward(din, dout, in, n, c, h, w);
	xf_maxpool_backward_ref(rdin, dout, in, n, c, h, w);
	ok(memcmp(din, rdin, ni * 4) == 0, "maxpool %dx%d: backward equals ref "
	    "(and overwrites din)", h, w);
	ok(fd_check(pool_fwd, &(struct pool_ctx){ n, c, h, w }, in, ni, din,
	    dout, no, 1e-3f) < 1e-3, "maxpool %dx%d: backward vs finite "
	    "differences", h, w);
	xf_relu_forward(rout, in, ni);
	xf_relu_backward(rdx, rg, rout, ni);
	ok(fd_check(relu_fwd, &ni, in, ni, rdx, rg, ni, 1e-3f) < 1e-3,
	    "relu: backward vs finite differences");
	free(in); free(out); free(ref); free(dout); free(din); free(rdin);
	free(rout); free(rg); free(rdx);
}

/*
 * Max pool and ReLU on inputs full of ties (ReLU zeros, small integers) and
 * a few NaNs: the fast kernels must pick the same element as the _ref,
 * byte for byte.
 */
static void
test_pool_ties(int n, int c, int h, int w)
{
	size_t ni = (size_t)n * c * h * w, no = (size_t)n * c * (h / 2) * (w / 2);
	float *in = randn(ni, 2), *out = calloc(no, 4), *ref = calloc(no, 4);
	float *dout = randn(no, 1), *din = randn(ni, 1), *rdin = randn(ni, 1);
	float *r = malloc(ni * 4), *rr = malloc(ni * 4), *g = randn(ni, 1);
	int same = 1;

	for (size_t i = 0; i < ni; i++) {
		in[i] = in[i] > 0.0f ? (float)(int)in[i] : 0.0f;
		if (i % 97 == 5)
			in[i] = NAN;
	}
	xf_maxpool_forward(out, in, n, c, h, w);
	xf_maxpool_forward_ref(ref, in, n, c, h, w);
	ok(memcmp(out, ref, no * 4) == 0, "maxpool %dx%d with ties and NaN: "
	    "forward equals ref", h, w);
	xf_maxpool_backward(din, dout, in, n, c, h, w);
	xf_maxpool_backward_ref(rdin, dout, in, n, c, h, w);
	ok(memcmp(din, rdin, ni * 4) == 0, "maxpool %dx%d with ties and NaN: "
	    "backward equals ref", h, w);
	in[0] = -0.0f;
	xf_relu_forward(r, in, ni);
	xf_relu_forward_ref(rr, in, ni);
	same = memcmp(r, rr, ni * 4) == 0;
	xf_relu_backward(r, g, in, ni);
	xf_relu_backward_ref(rr, g, in, ni);
	ok(same && memcmp(r, rr, ni * 4) == 0, "relu %zu with NaN and -0: "
	    "forward and backward equal ref", ni);
	xf_relu_backward(g, g, in, ni);
	ok(memcmp(g, rr, ni * 4) == 0, "relu: backward in place");
	free(in); free(out); free(ref); free(dout); free(din); free(rdin);
	free(r); free(rr); free(g);
}

/*
 * Batch norm
 */
struct bn_ctx {
	float *in, *w, *b;
	int n, c, hw, wrt;
};

static void
bn_fwd(float *out, const float *x, void *p)
{
	struct bn_ctx *c = p;
	float mean[64], rstd[64], rm[64] = { 0 }, rv[64] = { 0 };

	xf_batchnorm_forward_train_ref(out, mean, rstd, rm, rv,
	    c->wrt == 0 ? x : c->in, c->wrt == 1 ? x : c->w,
	    c->wrt == 2 ? x : c->b, 0, c->n, c->c, c->hw);
}

static void
test_bn(int n, int c, int hw, int relu)
{
	size_t ni = (size_t)n * c * hw;
	float *in = randn(ni, 2), *w = randn(c, 1), *b = randn(c, 1);
	float *out = calloc(ni, 4), *ref = calloc(ni, 4), *dout = randn(ni, 1);
	float mean[64], rstd[64], rmean[64], rstd2[64];
	float rm[64], rv[64], rm2[64], rv2[64];
	float *din = calloc(ni, 4), *rdin = calloc(ni, 4);
	float dw[64] = { 0 }, db[64] = { 0 }, rdw[64] = { 0 }, rdb[64] = { 0 };

	for (int i = 0; i < c; i++) {
		in[i] += 3.0f;	/* a channel mean away from zero */
		rm[i] = rm2[i] = 0.5f;
		rv[i] = rv2[i] = 2.0f;
	}
	xf_batchnorm_forward_train(out, mean, rstd, rm, rv, in, w, b, relu, n,
	    c, hw);
	xf_batchnorm_forward_train_ref(ref, rmean, rstd2, rm2, rv2, in, w, b,
	    relu, n, c, hw);
	ok(rel_err(out, ref, ni) < 1e-5 && rel_err(mean, rmean, c) < 1e-5 &&
	    rel_err(rstd, rstd2, c) < 1e-5 && rel_err(rm, rm2, c) < 1e-6 &&
	    rel_err(rv, rv2, c) < 1e-5, "batchnorm n%d c%d hw%d%s: train "
	    "forward and running stats vs ref (rel err %.2g)", n, c, hw,
	    relu ? " relu" : "", rel_err(out, ref, ni));
	xf_batchnorm_forward_eval(out, in, w, b, rm, rv, relu, n, c, hw);
	xf_batchnorm_forward_eval_ref(ref, in, w, b, rm, rv, relu, n, c, hw);
	ok(rel_err(out, ref, ni) < 1e-5, "batchnorm n%d c%d hw%d: eval vs ref "
	    "(rel err %.2g)", n, c, hw, rel_err(out, ref, ni));
	xf_batchnorm_backward(din, dw, db, dout, in, mean, rstd, w, n, c, hw);
	xf_batchnorm_backward_ref(rdin, rdw, rdb, dout, in, mean, rstd, w, n, c,
	    hw);
	ok(rel_err(din, rdin, ni) < 1e-4 && rel_err(dw, rdw, c) < 1e-5 &&
	    rel_err(db, rdb, c) < 1e-5, "batchnorm: backward vs ref (rel err "
	    "din %.2g dw %.2g)", rel_err(din, rdin, ni), rel_err(dw, rdw, c));
	if (!relu) {
		double ei = fd_check(bn_fwd, &(struct bn_ctx){ in, w, b, n, c,
		    hw, 0 }, in, ni, rdin, dout, ni, 1e-2f);
		double ew = fd_check(bn_fwd, &(struct bn_ctx){ in, w, b, n, c,
		    hw, 1 }, w, c, rdw, dout, ni, 1e-2f);
		double eb = fd_check(bn_fwd, &(struct bn_ctx){ in, w, b, n, c,
		    hw, 2 }, b, c, rdb, dout, ni, 1e-2f);

		ok(ei < 1e-2 && ew < 1e-3 && eb < 1e-3, "batchnorm: backward vs "
		    "finite differences (max rel err in %.2g w %.2g b %.2g)",
		    ei, ew, eb);
	}
	free(in); free(w); free(b); free(out); free(ref); free(dout);
	free(din); free(rdin);
}

/*
 * Softmax cross-entropy
 */
struct xent_ctx {
	const int *labels;
	int n, k;
};

static void
xent_fwd(float *out, const float *x, void *p)
{
	struct xent_ctx *c = p;
	float probs[64], losses[8];

	out[0] = xf_softmax_xent_forward_ref(probs, losses, x, c->labels, c->n,
	    c->k);
}

static void
test_xent(void)
{
	int n = 5, k = 7, labels[5] = { 0, 6, 3, 3, 1 };
	float *z = randn(n * k, 3), probs[35], rprobs[35], loss[5], rloss[5];
	float dz[35], rdz[35], one = 1.0f;
	float big[3] = { 1000.0f, -1000.0f, 0.0f }, pb[3], lb;
	int lab = 1;
	float mean, rmean;

	mean = xf_softmax_xent_forward(probs, loss, z, labels, n, k);
	rmean = xf_softmax_xent_forward_ref(rprobs, rloss, z, labels, n, k);
	ok(fabs(mean - rmean) < 1e-5 && rel_err(probs, rprobs, n * k) < 1e-5 &&
	    rel_err(loss, rloss, n) < 1e-5, "softmax xent: forward vs ref "
	    "(%.7g vs %.7g)", mean, rmean);
	xf_softmax_xent_backward(dz, probs, labels, n, k);
	xf_softmax_xent_backward_ref(rdz, probs, labels, n, k);
	ok(rel_err(dz, rdz, n * k) < 1e-6, "softmax xent: backward vs ref "
	    "(rel err %.2g)", rel_err(dz, rdz, n * k));
	ok(fd_check(xent_fwd, &(struct xent_ctx){ labels, n, k }, z, n * k, dz,
	    &one, 1, 1e-2f) < 1e-3, "softmax xent: backward vs finite "
	    "differences");
	xf_softmax_xent_forward(pb, &lb, big, &lab, 1, 3);
	ok(isfinite(lb) && fabs(lb - 2000.0f) < 1e-3 && pb[0] == 1.0f,
	    "softmax xent: stable on logits of 1000 (loss %g)", lb);
	free(z);
}

/*
 * The ISA switch: XF_ISA picks the path (make check runs this test once
 * per path the machine has), generic is always there, unknown ones are
 * refused, and the choice reaches the kernels: the AVX2 and AVX-512 paths
 * take the direct convolution, whose scratch differs from im2col's.
 */
static void
test_isa(void)
{
	const char *env = getenv("XF_ISA");
	enum xf_nn_isa isa = xf_nn_isa(), want;
	struct xf_conv2d_dims d;
	size_t col;

	if (env != NULL)
		ok(xf_nn_isa_parse(env, &want) == 0 && isa == want,
		    "XF_ISA=%s: the %s path runs", env, xf_nn_isa_name(isa));
	ok(xf_nn_set_isa(XF_NN_ISA_GENERIC) == 0 &&
	    xf_nn_isa() == XF_NN_ISA_GENERIC, "the generic path is always there");
	ok(xf_nn_isa_parse("neon", &want) == -1 &&
	    xf_nn_set_isa((enum xf_nn_isa)XF_NN_N_ISAS) == -1,
	    "an ISA the engine does not have is refused");
	xf_conv2d_dims(&d, 4, 3, 8, 8, 5, 3, 3, 1, 1, NULL);
	col = (size_t)xf_nn_threads() * 3 * 9 * 64 + XF_NN_PARTS * (5 * 27 + 5);
	ok(xf_conv2d_scratch(&d) == col, "generic: conv 3x3 s1 p1 takes im2col");
	ok(xf_nn_set_isa(isa) == 0 && xf_nn_isa() == isa &&
	    (xf_conv2d_scratch(&d) == col) == (isa == XF_NN_ISA_GENERIC),
	    "back on %s: conv 3x3 s1 p1 takes %s", xf_nn_isa_name(isa),
	    isa == XF_NN_ISA_GENERIC ? "im2col" : "the direct kernel");
}

/* The pool splits work by fixed parts: 1 and 2 threads, identical bytes. */
static void
test_threads(void)
{
	struct xf_conv2d_dims d;
	size_t ni, no, nw;
	float *in, *wt, *b, *dout, *out[2], *din[2], *dw[2], *db[2], *scratch;

	xf_conv2d_dims(&d, 19, 5, 11, 9, 12, 3, 3, 1, 1, NULL);
	ni = (size_t)d.n * d.c * d.h * d.w;
	no = (size_t)d.n * d.oc * d.oh * d.ow;
	nw = (size_t)d.oc * d.c * 9;
	in = randn(ni, 1);
	wt = randn(nw, 1);
	b = randn(d.oc, 1);
	dout = randn(no, 1);
	for (int t = 0; t < 2; t++) {
		xf_nn_set_threads(t + 1);
		scratch = malloc(xf_conv2d_scratch(&d) * sizeof *scratch);
		out[t] = malloc(no * 4);
		din[t] = malloc(ni * 4);
		dw[t] = calloc(nw, 4);
		db[t] = calloc(d.oc, 4);
		xf_conv2d_forward(out[t], scratch, in, wt, b, 1, &d);
		xf_conv2d_backward(din[t], dw[t], db[t], scratch, dout, in, wt,
		    &d);
		free(scratch);
	}
	ok(xf_nn_threads() == 2, "two threads in use");
	ok(memcmp(out[0], out[1], no * 4) == 0 &&
	    memcmp(din[0], din[1], ni * 4) == 0 &&
	    memcmp(dw[0], dw[1], nw * 4) == 0 &&
	    memcmp(db[0], db[1], d.oc * 4) == 0,
	    "conv: 1 and 2 threads give the same bytes");
	for (int t = 0; t < 2; t++) {
		free(out[t]);
		free(din[t]);
		free(dw[t]);
		free(db[t]);
	}
	free(in); free(wt); free(b); free(dout);
}

int
main(void)
{
	static const int convs[][8] = {
		/* n, c, h, w, oc, k, stride, pad */
		{ 2, 3, 8, 8, 4, 3, 1, 1 },
		{ 3, 1, 28, 28, 32, 3, 1, 1 },
		{ 5, 7, 9, 11, 13, 3, 2, 1 },
		{ 2, 4, 10, 7, 6, 5, 1, 2 },
		{ 4, 6, 12, 12, 9, 5, 2, 0 },
		{ 3, 16, 6, 6, 8, 1, 1, 0 },
		{ 2, 5, 7, 7, 3, 1, 2, 0 },
		{ 13, 33, 14, 14, 40, 3, 1, 1 },
		{ 2, 2, 5, 5, 3, 3, 1, 2 },
		{ 1, 3, 4, 4, 2, 5, 1, 2 },
		{ 3, 8, 16, 16, 24, 3, 2, 2 },
		/* direct: 8 + 4 output channels, 63 pixels (ragged blocks) */
		{ 3, 5, 9, 7, 12, 3, 1, 1 },
	};

	test_isa();
	xf_rng_seed(&rng, 42);
	for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++) {
		const int *c = convs[i];

		xf_nn_set_threads(i % 2 + 1);
		test_conv(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], i % 3 == 0);
	}
	test_conv_fd(2, 2, 5, 5, 3, 3, 1, 1);
	test_conv_fd(2, 2, 7, 6, 2, 3, 2, 1);
	test_conv_fd(1, 2, 6, 6, 2, 5, 1, 2);
	test_conv_fd(2, 3, 4, 4, 2, 1, 1, 0);
	test_linear(7, 13, 5, 0);
	test_linear(128, 784, 512, 1);
	test_linear(33, 100, 10, 0);
	test_linear(3, 9, 300, 0);
	test_pool_relu(2, 3, 6, 6);
	test_pool_relu(2, 2, 7, 5);
	test_pool_ties(3, 4, 28, 28);
	test_pool_ties(2, 3, 37, 41);
	test_pool_ties(1, 1, 3, 67);
	xf_nn_set_threads(2);
	test_pool_ties(8, 16, 28, 29);	/* big enough to split over threads */
	test_bn(4, 3, 5, 0);
	test_bn(16, 40, 49, 1);
	test_bn(5, 2, 1, 0);
	test_xent();
	test_threads();
	return tap_done();
}
