/*
 * test_resid.c: the residual layers (resid.c) against their _ref twins at
 * 1 and 2 threads, their gradients against central differences, and
 * residual models: names, groups, shapes, the whole-model gradient per
 * tensor, and spec errors.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "tap.h"
#include "train.h"

static void
fill(float *x, size_t n, struct xf_rng *r)
{
	for (size_t i = 0; i < n; i++)
		x[i] = xf_rng_normal(r);
}

static double
max_diff(const float *a, const float *b, size_t n)
{
	double d = 0;

	for (size_t i = 0; i < n; i++)
		if (fabs((double)a[i] - b[i]) > d || a[i] != a[i] || b[i] != b[i])
			d = a[i] != a[i] || b[i] != b[i] ? INFINITY :
			    fabs((double)a[i] - b[i]);
	return d;
}

static void
test_kernels(int threads)
{
	enum { N = 3, C = 5, H = 9, W = 7 };
	size_t cnt = (size_t)N * C * H * W;
	float *a = malloc(cnt * sizeof *a), *b = malloc(cnt * sizeof *b);
	float *o1 = malloc(cnt * sizeof *a), *o2 = malloc(cnt * sizeof *a);
	float g[N * C], g2[N * C];
	struct xf_rng r;

	xf_nn_set_threads(threads);
	xf_rng_seed(&r, 7);
	fill(a, cnt, &r);
	fill(b, cnt, &r);
	for (int relu = 0; relu < 2; relu++) {
		xf_add_forward(o1, a, b, relu, cnt);
		xf_add_forward_ref(o2, a, b, relu, cnt);
		ok(max_diff(o1, o2, cnt) == 0, "-j%d add relu=%d equals ref",
		    threads, relu);
	}
	xf_avgpool_global_forward(g, a, N, C, H * W);
	xf_avgpool_global_forward_ref(g2, a, N, C, H * W);
	ok(max_diff(g, g2, N * C) == 0, "-j%d global average pool equals ref",
	    threads);
	xf_avgpool_global_backward(o1, g, N, C, H * W);
	xf_avgpool_global_backward_ref(o2, g, N, C, H * W);
	ok(max_diff(o1, o2, cnt) == 0, "-j%d global average pool backward "
	    "equals ref", threads);
	/* (k, s, p): torchvision's stem pool, overlapping and not. */
	static const int pools[][3] = { { 3, 2, 1 }, { 2, 2, 0 }, { 3, 1, 1 },
	    { 4, 3, 2 }, { 1, 1, 0 } };
	for (size_t q = 0; q < sizeof pools / sizeof pools[0]; q++) {
		int k = pools[q][0], s = pools[q][1], p = pools[q][2];
		int oh = (H + 2 * p - k) / s + 1, ow = (W + 2 * p - k) / s + 1;
		size_t oc = (size_t)N * C * oh * ow;
		float *d = malloc(oc * sizeof *d);

		xf_maxpool2d_forward(o1, a, N, C, H, W, k, s, p);
		xf_maxpool2d_forward_ref(o2, a, N, C, H, W, k, s, p);
		ok(max_diff(o1, o2, oc) == 0, "-j%d max pool k%d s%d p%d equals "
		    "ref", threads, k, s, p);
		fill(d, oc, &r);
		xf_maxpool2d_backward(o1, d, a, N, C, H, W, k, s, p);
		xf_maxpool2d_backward_ref(o2, d, a, N, C, H, W, k, s, p);
		ok(max_diff(o1, o2, cnt) == 0, "-j%d max pool k%d s%d p%d "
		    "backward equals ref", threads, k, s, p);
		free(d);
	}
	free(a);
	free(b);
	free(o1);
	free(o2);
}

/* d/dx of sum(w * f(x)) by central differences, in double from the float
 * kernel, against backward: the global average pool (linear, so exact up
 * to rounding) and max pool (piecewise linear; random inputs have no
 * ties). */
static void
test_kernel_gradients(void)
{
	enum { N = 2, C = 3, H = 7, W = 6, K = 3, S = 2, P = 1 };
	enum { OH = (H + 2 * P - K) / S + 1, OW = (W + 2 * P - K) / S + 1 };
	size_t cnt = (size_t)N * C * H * W, oc = (size_t)N * C * OH * OW;
	float x[N * C * H * W], din[N * C * H * W], wt[N * C * OH * OW];
	float out[N * C * OH * OW], gw[N * C], gout[N * C];
	double worst_pool = 0, worst_gap = 0;
	struct xf_rng r;

	xf_rng_seed(&r, 11);
	fill(x, cnt, &r);
	fill(wt, oc, &r);
	fill(gw, N * C, &r);
	xf_maxpool2d_backward(din, wt, x, N, C, H, W, K, S, P);
	for (size_t i = 0; i < cnt; i++) {
		float keep = x[i], h = 1e-3f;
		double lp = 0, lm = 0;

		x[i] = keep + h;
		xf_maxpool2d_forward(out, x, N, C, H, W, K, S, P);
		for (size_t j = 0; j < oc; j++)
			lp += (double)wt[j] * out[j];
		x[i] = keep - h;
		xf_maxpool2d_forward(out, x, N, C, H, W, K, S, P);
		for (size_t j = 0; j < oc; j++)
			lm += (double)wt[j] * out[j];
		x[i] = keep;
		worst_pool = fmax(worst_pool, fabs((lp - lm) / (2.0 * h) - din[i]));
	}
	ok(worst_pool < 1e-3, "max pool k3 s2 p1 backward vs central "
	    "differences: max err %.2g", worst_pool);
	xf_avgpool_global_backward(din, gw, N, C, H * W);
	for (size_t i = 0; i < cnt; i++) {
		float keep = x[i], h = 1e-2f;
		double lp = 0, lm = 0;

		x[i] = keep + h;
		xf_avgpool_global_forward(gout, x, N, C, H * W);
		for (int j = 0; j < N * C; j++)
			lp += (double)gw[j] * gout[j];
		x[i] = keep - h;
		xf_avgpool_global_forward(gout, x, N, C, H * W);
		for (int j = 0; j < N * C; j++)
			lm += (double)gw[j] * gout[j];
		x[i] = keep;
		worst_gap = fmax(worst_gap, fabs((lp - lm) / (2.0 * h) - din[i]));
	}
	ok(worst_gap < 1e-4, "global average pool backward vs central "
	    "differences: max err %.2g", worst_gap);
}

static struct xf_model *
model(const char *spec, int c, int h, int w, int k, uint64_t seed)
{
	struct xf_err e;
	struct xf_model *m = xf_model_create(spec, c, h, w, k, &e);
	struct xf_rng r;

	if (m == NULL) {
		ok(0, "create %s: %s", spec, e.msg);
		return NULL;
	}
	xf_rng_seed(&r, seed);
	xf_model_init(m, &r);
	return m;
}

static void
test_names(void)
{
	struct xf_model *m = model("resnet-20", 3, 32, 32, 10, 1);
	int first[128], n_layers, k;
	size_t n;

	if (m == NULL)
		return;
	xf_model_params(m, &n);
	ok(n > 260000 && n < 280000, "resnet-20 has %zu parameters (about "
	    "0.27 M)", n);
	k = xf_model_find_module(m, "layer2.0");
	ok(k >= 0 && xf_model_module(m, k)->kind == XF_MODULE_BLOCK &&
	    xf_model_module(m, k)->n_tensors == 0, "layer2.0 is a block "
	    "module of no tensors");
	ok(xf_model_find_tensor(m, "layer2.0.downsample.0.weight") >= 0 &&
	    xf_model_find_tensor(m, "layer2.0.downsample.1.running_var") >= 0 &&
	    xf_model_find_tensor(m, "layer1.0.downsample.0.weight") < 0 &&
	    xf_model_find_tensor(m, "layer1.2.conv1.bias") < 0 &&
	    xf_model_find_tensor(m, "fc.weight") >= 0 &&
	    xf_model_find_tensor(m, "conv1.bias") < 0, "torchvision's tensor "
	    "names; convs have no bias; projections only where the shape "
	    "changes");
	xf_model_layers(m, first, &n_layers);
	ok(n_layers == 11 && strcmp(xf_model_module(m, first[1])->name,
	    "layer1.0") == 0 && strcmp(xf_model_module(m, first[10])->name,
	    "fc") == 0, "layers for --copy and --freeze: the stem, 9 blocks, "
	    "the head (%d)", n_layers);
	int nd, shape[3];
	size_t cnt;
	xf_model_activation(m, xf_model_find_module(m, "layer3.2"), &nd, shape,
	    &cnt);
	ok(nd == 3 && shape[0] == 64 && shape[1] == 8 && shape[2] == 8,
	    "layer3.2's activation is 64x8x8 (%dx%dx%d)", shape[0], shape[1],
	    shape[2]);
	xf_model_module_input(m, xf_model_find_module(m, "layer2.1.conv2"), &nd,
	    shape, &cnt);
	ok(nd == 3 && shape[0] == 32 && shape[1] == 16, "a module inside a "
	    "block takes the block's input (%dx%dx%d)", shape[0], shape[1],
	    shape[2]);
	xf_model_free(m);
	m = model("resnet-18", 3, 224, 224, 1000, 1);
	if (m == NULL)
		return;
	xf_model_params(m, &n);
	ok(n == 11689512, "resnet-18 has torchvision's 11,689,512 parameters "
	    "(%zu)", n);
	xf_model_free(m);
}

/*
 * The whole-model gradient of residual specs against central differences,
 * per parameter tensor, with test_model.c's bound doubled: 2% of the tensor's
 * largest gradient (truncation, and steps across a ReLU or pool kink) plus
 * twice the float32 loss's resolution q = ulp(L) / 2h; the blocks double
 * the ReLUs a step can cross, and 1% leaves some at 1.1x.  A lost branch or
 * a wrong shortcut shows in the tensors below it.  Batch norm in train
 * mode.
 */
static void
test_model_gradient(const char *spec, int c, int h, int w)
{
	struct xf_model *m = model(spec, c, h, w, 3, 5);
	struct xf_err e;
	struct xf_rng r;
	int nx = 24, y[24], bad = 0, n_param = 0;
	size_t img = (size_t)c * h * w;
	uint8_t *x = malloc(nx * img);
	float loss, lp, lm;
	const float step = 3e-4f;
	double q, worst = 0;
	const char *where = "";

	if (m == NULL)
		return;
	xf_rng_seed(&r, 3);
	for (size_t i = 0; i < nx * img; i++)
		x[i] = (uint8_t)xf_rng_below(&r, 256);
	for (int i = 0; i < nx; i++)
		y[i] = i % 3;
	xf_model_forward(m, x, y, nx, 1, &loss, &e);
	xf_model_zero_grad(m);
	xf_model_backward(m);
	q = ((double)nextafterf(loss, INFINITY) - loss) / (2.0 * step);
	for (int t = 0; t < xf_model_n_tensors(m); t++) {
		const struct xf_model_tensor *tt = xf_model_tensor(m, t);
		double scale = 0, err = 0;

		if (!tt->is_param)
			continue;
		n_param++;
		for (size_t i = 0; i < tt->count; i++)
			scale = fmax(scale, fabs(tt->grad[i]));
		for (size_t i = 0; i < tt->count; i++) {
			float keep = tt->data[i];

			tt->data[i] = keep + step;
			xf_model_forward(m, x, y, nx, 1, &lp, &e);
			tt->data[i] = keep - step;
			xf_model_forward(m, x, y, nx, 1, &lm, &e);
			tt->data[i] = keep;
			err = fmax(err, fabs(((double)lp - lm) / (2.0 * step) -
			    tt->grad[i]));
		}
		if (err > 2e-2 * scale + 2.0 * q)
			bad++;
		if (err / (2e-2 * scale + 2.0 * q) > worst) {
			worst = err / (2e-2 * scale + 2.0 * q);
			where = tt->name;
		}
	}
	ok(bad == 0, "%s: gradient of each of %d tensors vs central "
	    "differences within 2%% of its scale + 2q (%d outside; worst %s at "
	    "%.2g of its bound)", spec, n_param, bad, where, worst);
	free(x);
	xf_model_free(m);
}

static void
test_spec_errors(void)
{
	static const struct {
		const char *spec;
		const char *want;
	} bad[] = {
		{ "c4,pk3s2,pk3s2,pk3s2,f", "pool on an input under its window" },
		{ "c4,r0,f", "bad item at 'r0'" },
		{ "f4,r4,f", "residual block after a linear layer" },
		{ "c4,g,g,f", "global average pool on flat features" },
		{ "c4,pk9,f", "pool on an input under its window" },
		{ "c4,r4k5,f", "bad item at 'r4k5'" },
		{ "c4,pk2p2,f", "bad item at 'pk2p2'" },
	};
	struct xf_err e;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct xf_model *m = xf_model_create(bad[i].spec, 1, 8, 8, 3, &e);

		ok(m == NULL && strstr(e.msg, bad[i].want) != NULL, "spec %s: "
		    "%s", bad[i].spec, m == NULL ? e.msg : "accepted");
		xf_model_free(m);
	}
}

int
main(void)
{
	test_kernels(1);
	test_kernels(2);
	xf_nn_set_threads(1);
	test_kernel_gradients();
	test_names();
	test_model_gradient("c4n,b,r4,g,f", 1, 8, 8);
	test_model_gradient("c4n,b,r4,r4,g,f", 1, 8, 8);
	test_model_gradient("c4n,b,r4,r6s2,r6,g,f", 2, 8, 8);
	test_model_gradient("c4k3s2p1n,b,pk3s2p1,r4,r4,g,f5,f", 3, 12, 12);
	test_spec_errors();
	return tap_done();
}
