/*
 * test_model: spec strings, tensors and modules, training lowers the loss,
 * determinism (seed, thread count), frozen modules, init of one module,
 * forward_from, SGD and LR schedules, the whole-model gradient against
 * central differences, per parameter tensor, and the Hessian-vector product
 * (R-op) against central differences of the gradient, per layer type.
 */
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "tap.h"

/* Synthetic 1x8x8 images: class k lights quadrant k, plus noise. */
static void
make_data(uint8_t *x, int *y, int n, struct xf_rng *r)
{
	for (int i = 0; i < n; i++) {
		y[i] = (int)xf_rng_below(r, 4);
		for (int p = 0; p < 64; p++) {
			int q = (p / 8 >= 4) * 2 + (p % 8 >= 4);

			x[i * 64 + p] = (uint8_t)(xf_rng_below(r, 80) +
			    (q == y[i] ? 150 : 0));
		}
	}
}

/* Trains spec for steps on the synthetic data; returns the last loss. */
static float
train(struct xf_model *m, int steps, uint64_t seed, float *first)
{
	struct xf_err e;
	struct xf_sgd *opt = xf_sgd_create(m, 0.9f, 1e-4f, &e);
	struct xf_rng r;
	uint8_t x[32 * 64];
	int y[32];
	float loss = NAN;

	xf_rng_seed(&r, seed);
	for (int s = 0; s < steps; s++) {
		make_data(x, y, 32, &r);
		if (xf_model_forward(m, x, y, 32, 1, &loss, &e) == -1) {
			ok(0, "forward: %s", e.msg);
			break;
		}
		if (s == 0 && first != NULL)
			*first = loss;
		xf_model_zero_grad(m);
		xf_model_backward(m);
		xf_sgd_step(opt, m, 0.05f);
	}
	xf_sgd_free(opt);
	return loss;
}

static struct xf_model *
made(const char *spec, int c, int h, int w, int k, uint64_t seed)
{
	struct xf_err e;
	struct xf_model *m = xf_model_create(spec, c, h, w, k, &e);
	struct xf_rng r;

	if (m == NULL) {
		ok(0, "create %s: %s", spec, e.msg);
		exit(1);
	}
	xf_rng_seed(&r, seed);
	xf_model_init(m, &r);
	return m;
}

static void
test_specs(void)
{
	struct xf_err e;
	struct xf_model *m;
	static const char *bad[] = { "c32,p", "f,f", "c", "x3,f", "b,f",
	    "c8k9p0,f", "f10,c8,f", "c8s0,f", "c8,,f", "c8z,f", "" };
	int ndim, shape[3];
	size_t count;

	m = xf_model_create("cnn-bn", 1, 28, 28, 10, &e);
	ok(m != NULL, "cnn-bn builds");
	ok(strcmp(xf_model_spec(m), "c32,b,c32,b,p,c64,b,c64,b,p,f256,f") == 0,
	    "preset expands (%s)", xf_model_spec(m));
	ok(xf_model_n_modules(m) == 10, "cnn-bn has 10 modules (%d)",
	    xf_model_n_modules(m));
	ok(xf_model_find_tensor(m, "bn4.running_var") >= 0 &&
	    xf_model_find_tensor(m, "fc2.bias") >= 0 &&
	    xf_model_find_tensor(m, "conv4.weight") >= 0,
	    "PyTorch tensor names");
	const struct xf_model_tensor *t = xf_model_tensor(m,
	    xf_model_find_tensor(m, "conv2.weight"));
	ok(t->ndim == 4 && t->shape[0] == 32 && t->shape[1] == 32 &&
	    t->shape[2] == 3 && t->count == 9216 && t->is_param,
	    "conv2.weight is (32, 32, 3, 3)");
	t = xf_model_tensor(m, xf_model_find_tensor(m, "fc1.weight"));
	ok(t->ndim == 2 && t->shape[0] == 256 && t->shape[1] == 3136,
	    "fc1.weight is (256, 3136)");
	t = xf_model_tensor(m, xf_model_find_tensor(m, "bn1.running_mean"));
	ok(!t->is_param && t->grad == NULL, "running stats are buffers");
	const struct xf_module *mod = xf_model_module(m, xf_model_find_module(m,
	    "bn2"));
	ok(mod->kind == XF_MODULE_BN && mod->n_tensors == 4 &&
	    strcmp(xf_model_tensor(m, mod->first_tensor)->name, "bn2.weight") ==
	    0, "module bn2 owns its four tensors");
	size_t np;
	xf_model_params(m, &np);
	ok(np == 32 * 9 + 32 + 32 * 288 + 32 + 64 * 288 + 64 + 64 * 576 + 64 +
	    256 * 3136 + 256 + 2570 + 2 * (32 + 32 + 64 + 64),
	    "parameter count (%zu)", np);
	ok(xf_model_activation(m, xf_model_find_module(m, "conv3"), &ndim,
	    shape, &count) != NULL || 1, "activation before any forward");
	xf_model_activation(m, xf_model_find_module(m, "conv3"), &ndim, shape,
	    &count);
	ok(ndim == 3 && shape[0] == 64 && shape[1] == 14 && count == 64 * 196,
	    "conv3 activation is 64x14x14");
	xf_model_module_input(m, xf_model_find_module(m, "fc1"), &ndim, shape,
	    &count);
	ok(ndim == 1 && count == 3136, "fc1 input is 3136 features");
	xf_model_free(m);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		m = xf_model_create(bad[i], 1, 8, 8, 3, &e);
		ok(m == NULL, "spec '%s' refused: %s", bad[i], m ? "" : e.msg);
		xf_model_free(m);
	}
	m = xf_model_create("c6k5s2p0,b,c4k1,p,f7,f", 3, 13, 11, 5, &e);
	ok(m != NULL, "spec with kernel, stride, padding builds");
	xf_model_free(m);
}

/* Whether two models of one spec hold the same parameter bytes.  (The
 * count is read before the comparison: in one call's arguments its read
 * and the calls that set it are unsequenced.) */
static int
same_params(struct xf_model *a, struct xf_model *b)
{
	size_t na, nb;
	const float *pa = xf_model_params(a, &na), *pb = xf_model_params(b, &nb);

	return na == nb && memcmp(pa, pb, na * sizeof(float)) == 0;
}

static void
test_training(void)
{
	struct xf_model *a, *b;
	float first = 0.0f, last;

	a = made("c8,b,p,f16,f", 1, 8, 8, 4, 7);
	last = train(a, 40, 3, &first);
	ok(last < 0.5f * first, "training lowers the loss (%.3f -> %.3f)",
	    first, last);
	b = made("c8,b,p,f16,f", 1, 8, 8, 4, 7);
	train(b, 40, 3, NULL);
	ok(same_params(a, b), "same seed, same parameter bytes");
	xf_model_free(b);
	xf_nn_set_threads(1);
	b = made("c8,b,p,f16,f", 1, 8, 8, 4, 7);
	train(b, 40, 3, NULL);
	xf_nn_set_threads(2);
	ok(same_params(a, b), "1 and 2 threads, same parameter bytes");
	xf_model_free(a);
	xf_model_free(b);
	a = made("mlp", 1, 8, 8, 4, 9);
	last = train(a, 40, 3, &first);
	ok(last < 0.5f * first, "mlp training lowers the loss (%.3f -> %.3f)",
	    first, last);
	xf_model_free(a);
}

static void
test_freeze_init(void)
{
	struct xf_model *m = made("c8,c8,p,f16,f", 1, 8, 8, 4, 11);
	const struct xf_module *c1 = xf_model_module(m, 0);
	const struct xf_model_tensor *w1 = xf_model_tensor(m, c1->first_tensor);
	const struct xf_model_tensor *w2 = xf_model_tensor(m, 2);
	float *keep1 = malloc(w1->count * 4), *keep2 = malloc(w2->count * 4);
	size_t n;
	float *before, *params;
	struct xf_rng r;
	int same = 1;

	memcpy(keep1, w1->data, w1->count * 4);
	memcpy(keep2, w2->data, w2->count * 4);
	xf_model_freeze(m, 0, 1);
	train(m, 5, 1, NULL);
	ok(memcmp(keep1, w1->data, w1->count * 4) == 0,
	    "frozen conv1 is byte identical after 5 steps");
	ok(memcmp(keep2, w2->data, w2->count * 4) != 0, "conv2 trained");
	/* Everything below the lowest trainable module stays frozen too. */
	xf_model_freeze(m, 0, 0);
	xf_model_freeze(m, 1, 1);
	memcpy(keep2, w2->data, w2->count * 4);
	xf_model_zero_grad(m);
	train(m, 2, 2, NULL);
	ok(memcmp(keep2, w2->data, w2->count * 4) == 0,
	    "frozen conv2 between trained modules is byte identical");
	ok(memcmp(keep1, w1->data, w1->count * 4) != 0,
	    "conv1 below it trains through it");

	params = xf_model_params(m, &n);
	before = malloc(n * 4);
	memcpy(before, params, n * 4);
	xf_rng_seed(&r, 5);
	xf_model_init_module(m, 2, &r);
	for (int i = 0; i < xf_model_n_tensors(m); i++) {
		const struct xf_model_tensor *t = xf_model_tensor(m, i);
		int changed = memcmp(t->data, before + (t->data - params),
		    t->count * 4) != 0;

		if (changed != (t->module == 2))
			same = 0;
	}
	ok(same, "init_module changes that module's tensors only");
	free(keep1);
	free(keep2);
	free(before);
	xf_model_free(m);
}

static void
test_forward_from(void)
{
	struct xf_model *m = made("cnn-bn", 1, 12, 12, 3, 4);
	struct xf_err e;
	struct xf_rng r;
	uint8_t x[6 * 144];
	int y[6] = { 0, 1, 2, 0, 1, 2 };
	float loss, loss2, logits[18];
	int k = xf_model_find_module(m, "conv3"), ndim, shape[3];
	size_t count;

	xf_rng_seed(&r, 1);
	for (size_t i = 0; i < sizeof x; i++)
		x[i] = (uint8_t)xf_rng_below(&r, 256);
	xf_model_forward(m, x, y, 6, 0, &loss, &e);
	memcpy(logits, xf_model_logits(m), sizeof logits);
	const float *in = xf_model_module_input(m, k, &ndim, shape, &count);
	ok(ndim == 3 && shape[0] == 32 && shape[1] == 6 && count == 32 * 36,
	    "conv3 input is 32x6x6");
	ok(xf_model_forward_from(m, k, in, y, 6, 0, &loss2, &e) == 0 &&
	    loss2 == loss && memcmp(logits, xf_model_logits(m), sizeof logits)
	    == 0, "forward_from conv3 on its cached input gives the same "
	    "logits (%g %g)", loss, loss2);
	y[2] = 3;
	ok(xf_model_forward(m, x, y, 6, 0, &loss, &e) == -1,
	    "label out of range refused: %s", e.msg);
	xf_model_free(m);
}

/* d(mean loss)/d(params) against central differences, train mode. */
/*
 * Whole-model gradient against central differences of the loss, one check
 * per parameter tensor against that tensor's own gradient scale s = max |g|
 * (the tensors' scales differ tenfold, so a scale shared with the largest
 * would hide a wrong small one).  Two things bound |fd - g|:
 *  - The loss is a float32, so lp - lm is known to about one ulp of L and
 *    fd = (lp - lm) / 2h to q = ulp(L) / 2h, 2e-4 at L = 1.09 and
 *    h = 3e-4; 2q allows for the rounding of both evaluations.
 *  - Truncation, O(h^2) and negligible here, and the ReLU and pool kinks a
 *    step can cross.  After batch norm every activation of a channel moves
 *    with its conv weights, so large steps cross kinks: h = 1e-3 gives 2%
 *    on conv1.weight, 3e-4 under 0.1%.  1% of s is left for this.
 * A smaller h would shrink the kinks' share but grow q as 1/h, past 1% of
 * the smallest scales (0.03).  The conv biases under batch norm have a true
 * gradient of zero (the norm removes them): there s is rounding noise and
 * 2q is the test.
 */
static void
test_model_gradient(void)
{
	struct xf_model *m = made("c3,b,p,c4k3s2,b,f6,f", 2, 8, 8, 3, 21);
	struct xf_err e;
	struct xf_rng r;
	uint8_t x[5 * 128];
	int y[5] = { 0, 1, 2, 1, 0 };
	float loss, lp, lm;
	const float h = 3e-4f;
	double q;

	xf_rng_seed(&r, 2);
	for (size_t i = 0; i < sizeof x; i++)
		x[i] = (uint8_t)xf_rng_below(&r, 256);
	xf_model_forward(m, x, y, 5, 1, &loss, &e);
	xf_model_zero_grad(m);
	xf_model_backward(m);
	q = ((double)nextafterf(loss, INFINITY) - loss) / (2.0 * h);
	for (int t = 0; t < xf_model_n_tensors(m); t++) {
		const struct xf_model_tensor *mt = xf_model_tensor(m, t);
		double s = 0.0, worst = 0.0;

		if (!mt->is_param)
			continue;
		for (size_t i = 0; i < mt->count; i++)
			if (fabs(mt->grad[i]) > s)
				s = fabs(mt->grad[i]);
		for (size_t i = 0; i < mt->count; i++) {
			float keep = mt->data[i];
			double fd;

			mt->data[i] = keep + h;
			xf_model_forward(m, x, y, 5, 1, &lp, &e);
			mt->data[i] = keep - h;
			xf_model_forward(m, x, y, 5, 1, &lm, &e);
			mt->data[i] = keep;
			fd = ((double)lp - lm) / (2.0 * h);
			if (fabs(fd - mt->grad[i]) > worst)
				worst = fabs(fd - mt->grad[i]);
		}
		ok(worst <= 1e-2 * s + 2.0 * q, "gradient of %s vs central "
		    "differences (%zu entries): max err %.2g, bound %.2g "
		    "(1%% of max |grad| %.2g, plus float32 loss resolution "
		    "2 x %.2g)", mt->name, mt->count, worst, 1e-2 * s + 2.0 * q,
		    s, q);
	}
	xf_model_free(m);
}

/*
 * xf_model_hvp (the R-op) against central differences of the gradient,
 * (g(theta + h v) - g(theta - h v)) / 2h, one small model per layer type
 * so each layer's R-op is checked on its own: conv (3x3, 1x1, strided),
 * linear with ReLU, max pool (2x2 and padded 3x3 stride 2).  Noise images,
 * three of them, and a random v; a unit that reaches a kink within h adds
 * O(1/h), so a direction whose differences at h and h/2 disagree is drawn
 * again (a model with a unit within h of its kink at theta, whatever the
 * direction, fails: the seeds here have none).  Float32 gradients over 2h
 * leave about 1e-3 of |Hv|: bound 2e-2 relative in norm.  Batch norm, the residual add and
 * global average pool are not here: the engine's backward is that of batch
 * statistics, so there is no eval-mode gradient to difference; they are
 * checked against torch's hvp in tests/tool/hessian.sh.
 */
/* fd (n) = (g(theta + h v) - g(theta - h v)) / 2h in eval mode; m's
 * parameters are keep (n) again on return. */
static void
grad_diff(double *fd, struct xf_model *m, const uint8_t *x, const int *y,
    int b, const float *keep, const float *v, float h)
{
	struct xf_err e;
	size_t n;
	float *p = xf_model_params(m, &n), *g = xf_model_grads(m, &n);

	for (int side = 0; side < 2; side++) {
		for (size_t i = 0; i < n; i++)
			p[i] = keep[i] + (side == 0 ? h : -h) * v[i];
		xf_model_forward(m, x, y, b, 0, NULL, &e);
		xf_model_zero_grad(m);
		xf_model_backward(m);
		for (size_t i = 0; i < n; i++)
			fd[i] = side == 0 ? g[i] : (fd[i] - g[i]) / (2.0 * h);
	}
	memcpy(p, keep, n * sizeof *p);
}

static double
rel_err(const double *a, const double *b, size_t n)
{
	double num = 0, den = 0;

	for (size_t i = 0; i < n; i++) {
		num += (a[i] - b[i]) * (a[i] - b[i]);
		den += b[i] * b[i];
	}
	return den > 0 ? sqrt(num / den) : INFINITY;
}

static void
test_model_hvp(void)
{
	static const char *specs[] = { "c3,f", "c3k1,f", "c3s2,f", "f5,f",
	    "c3,p,f", "c3,pk3s2p1,f", "c3,c4k1s2,f" };
	struct xf_err e;
	struct xf_rng r;
	uint8_t x[3 * 2 * 8 * 8];
	int y[3] = { 0, 1, 2 };
	const float h = 1e-4f;

	xf_rng_seed(&r, 5);
	for (size_t i = 0; i < sizeof x; i++)
		x[i] = (uint8_t)xf_rng_below(&r, 256);
	for (size_t s = 0; s < sizeof specs / sizeof *specs; s++) {
		struct xf_model *m = made(specs[s], 2, 8, 8, 3, 40 + s);
		size_t n;
		float *p = xf_model_params(m, &n);
		float *v = malloc(n * sizeof *v), *hv = malloc(n * sizeof *hv);
		float *keep = malloc(n * sizeof *keep);
		double *fd = malloc(n * sizeof *fd), *fd2 = malloc(n * sizeof *fd2);
		double *got = malloc(n * sizeof *got), err = INFINITY;
		int rc = -1, draw;

		memcpy(keep, p, n * sizeof *p);
		/* A direction whose differences at h and h/2 disagree puts a
		 * unit on a kink within h: draw another, at most 5. */
		for (draw = 1; draw <= 5; draw++) {
			for (size_t i = 0; i < n; i++)
				v[i] = xf_rng_normal(&r);
			grad_diff(fd, m, x, y, 3, keep, v, h);
			grad_diff(fd2, m, x, y, 3, keep, v, h / 2);
			if (rel_err(fd2, fd, n) < 1e-2)
				break;
		}
		xf_model_forward(m, x, y, 3, 0, NULL, &e);
		memset(hv, 0, n * sizeof *hv);
		rc = xf_model_hvp(m, hv, v, &e);
		for (size_t i = 0; i < n; i++)
			got[i] = hv[i];
		if (draw <= 5)
			err = rel_err(got, fd, n);
		ok(rc == 0 && err <= 2e-2, "R-op of %s vs central differences "
		    "of the gradient (%zu parameters, direction %d): relative "
		    "error %.2g (bound 2e-2)", specs[s], n, draw, err);
		free(v);
		free(hv);
		free(keep);
		free(fd);
		free(fd2);
		free(got);
		xf_model_free(m);
	}
}

static void
test_sgd(void)
{
	struct xf_model *m = made("f3,f", 1, 1, 2, 2, 1);
	struct xf_err e;
	struct xf_sgd *opt = xf_sgd_create(m, 0.9f, 0.1f, &e);
	size_t n;
	float *p = xf_model_params(m, &n), *g = xf_model_grads(m, &n);
	float p0 = p[0], buf;

	ok(xf_sgd_n_tensors(opt) == 4 && xf_sgd_find_tensor(opt,
	    "fc1.weight.momentum_buffer") == 0, "momentum buffers are named "
	    "tensors");
	g[0] = 0.5f;
	xf_sgd_step(opt, m, 0.1f);
	buf = 0.5f + 0.1f * p0;
	ok(p[0] == p0 - 0.1f * buf, "first step: p -= lr (g + wd p)");
	p0 = p[0];
	xf_sgd_step(opt, m, 0.1f);
	buf = 0.9f * buf + (0.5f + 0.1f * p0);
	ok(p[0] == p0 - 0.1f * buf && xf_sgd_tensor(opt, 0)->data[0] == buf,
	    "second step: buf = m buf + d");
	xf_sgd_free(opt);
	xf_model_free(m);
}

/*
 * A model past the split threshold (the step runs on the pool): every
 * element follows the naive update, with the same bytes on 1 and 2 threads,
 * and a frozen module is left alone.
 */
static void
test_sgd_threads(void)
{
	struct xf_model *m[2];
	struct xf_sgd *opt[2];
	struct xf_rng r;
	struct xf_err e;
	size_t n, bad = 0;
	float *p[2], *g[2], *ref, *buf;

	for (int k = 0; k < 2; k++) {
		m[k] = made("f300,f", 1, 16, 16, 10, 5);
		xf_model_freeze(m[k], 1, 1);
		opt[k] = xf_sgd_create(m[k], 0.9f, 5e-4f, &e);
		p[k] = xf_model_params(m[k], &n);
		g[k] = xf_model_grads(m[k], &n);
	}
	ref = malloc(n * sizeof *ref);
	buf = calloc(n, sizeof *buf);
	memcpy(ref, p[0], n * sizeof *ref);
	xf_rng_seed(&r, 11);
	for (int step = 0; step < 3; step++) {
		for (size_t j = 0; j < n; j++)
			g[0][j] = g[1][j] = xf_rng_uniform(&r) - 0.5f;
		for (int k = 0; k < 2; k++) {
			xf_nn_set_threads(k + 1);
			xf_sgd_step(opt[k], m[k], 0.05f);
		}
		for (int i = 0; i < xf_model_n_tensors(m[0]); i++) {
			const struct xf_model_tensor *t = xf_model_tensor(m[0], i);
			size_t off = (size_t)(t->data - p[0]);

			if (!t->is_param || xf_model_module(m[0], t->module)->frozen)
				continue;
			for (size_t j = off; j < off + t->count; j++) {
				float d = g[0][j] + 5e-4f * ref[j];

				buf[j] = 0.9f * buf[j] + d;
				ref[j] -= 0.05f * buf[j];
			}
		}
	}
	for (size_t j = 0; j < n; j++)
		bad += p[0][j] != ref[j] || p[1][j] != ref[j];
	ok(n > 65536 && bad == 0, "sgd on the pool: %zu params, 1 and 2 threads "
	    "match the naive update (frozen fc2 untouched): %zu differ", n, bad);
	xf_nn_set_threads(2);
	for (int k = 0; k < 2; k++) {
		xf_sgd_free(opt[k]);
		xf_model_free(m[k]);
	}
	free(ref);
	free(buf);
}

static void
test_lr(void)
{
	struct xf_lr_schedule s;
	struct xf_err e;

	ok(xf_lr_parse(&s, "step:2,4:0.1", 1.0f, 0, &e) == 0 &&
	    xf_lr_at(&s, 0, 1) == 1.0f && xf_lr_at(&s, 0, 2) == 0.1f &&
	    fabsf(xf_lr_at(&s, 0, 5) - 0.01f) < 1e-9f, "step schedule");
	ok(xf_lr_parse(&s, "cosine", 0.4f, 100, &e) == 0 &&
	    xf_lr_at(&s, 0, 0) == 0.4f &&
	    fabsf(xf_lr_at(&s, 50, 0) - 0.2f) < 1e-7f &&
	    xf_lr_at(&s, 100, 0) == 0.0f, "cosine schedule");
	ok(xf_lr_parse(&s, "constant", 0.3f, 0, &e) == 0 &&
	    xf_lr_at(&s, 99, 9) == 0.3f, "constant schedule");
	ok(xf_lr_parse(&s, "step:4,2:0.1", 1.0f, 0, &e) == -1 &&
	    xf_lr_parse(&s, "step:2", 1.0f, 0, &e) == -1 &&
	    xf_lr_parse(&s, "linear", 1.0f, 0, &e) == -1, "bad schedules "
	    "refused (%s)", e.msg);
}

int
main(void)
{
	const char *isa = getenv("XF_ISA");
	enum xf_nn_isa want;

	/* make check runs this test once per ISA path the machine has. */
	if (isa != NULL)
		ok(xf_nn_isa_parse(isa, &want) == 0 && xf_nn_isa() == want,
		    "XF_ISA=%s: the %s path runs", isa,
		    xf_nn_isa_name(xf_nn_isa()));
	xf_nn_set_threads(2);
	test_specs();
	test_training();
	test_freeze_init();
	test_forward_from();
	test_model_gradient();
	test_model_hvp();
	test_sgd();
	test_sgd_threads();
	test_lr();
	return tap_done();
}
