/*
 * rop.c: the exact Hessian-vector product of a model's mean loss on its
 * last forward, by Pearlmutter's R-operator (1994): a forward pass of the
 * directional derivatives R{a} = d a(theta + r v) / dr at r = 0 of every
 * activation, then a backward pass of the gradients g and their
 * directional derivatives R{g} together.  Each layer is linear in its
 * input and in its parameters, so both passes reuse the forward and
 * backward kernels; the ReLU masks and max-pool argmax are the primal's,
 * which is the derivative almost everywhere (as autograd's).  Batch norm
 * is the eval-mode map, gamma (x - mu) / sqrt(var + eps) + beta with the
 * running statistics.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_impl.h"

/* The per-activation buffers of one product: R{a}, g, R{g} for act[0..L]
 * and three temporaries, n examples each. */
struct rop {
	float	**ra, **g, **rg;
	float	*t1, *t2, *t3;
	float	*mem;
};

static size_t
act_count(const struct xf_model *m, int a)
{
	return a == 0 ? m->layers[0].in_count : m->layers[a - 1].out_count;
}

static int
rop_alloc(struct rop *r, const struct xf_model *m, int n, struct xf_err *err)
{
	size_t total = 0, most = m->layers[0].in_count, at = 0;
	int L = m->n_layers;

	for (int a = 0; a <= L; a++) {
		total += act_count(m, a);
		if (act_count(m, a) > most)
			most = act_count(m, a);
	}
	r->ra = calloc(3 * (size_t)(L + 1), sizeof *r->ra);
	r->mem = calloc((size_t)n * (3 * total + 3 * most), sizeof *r->mem);
	if (r->ra == NULL || r->mem == NULL) {
		free(r->ra);
		free(r->mem);
		return xf_errf(err, "out of memory for the R-op of a batch of %d",
		    n);
	}
	r->g = r->ra + L + 1;
	r->rg = r->g + L + 1;
	for (int a = 0; a <= L; a++) {
		size_t c = (size_t)n * act_count(m, a);

		r->ra[a] = r->mem + at;
		r->g[a] = r->mem + at + c;
		r->rg[a] = r->mem + at + 2 * c;
		at += 3 * c;
	}
	r->t1 = r->mem + at;
	r->t2 = r->t1 + (size_t)n * most;
	r->t3 = r->t2 + (size_t)n * most;
	return 0;
}

static void
mask(float *x, const float *out, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (!(out[i] > 0.0f))
			x[i] = 0.0f;
}

static void
add_into(float *y, const float *x, size_t count)
{
	for (size_t i = 0; i < count; i++)
		y[i] += x[i];
}

/* out (N, C, OH, OW) = r at the primal's first maximum of each window of
 * in, the rule of xf_maxpool2d_backward (padding never wins). */
static void
pool_gather(float *out, const float *r, const float *in, const struct layer *l,
    int n)
{
	int h = l->h, w = l->w, k = l->k, s = l->stride, p = l->pad;

	for (size_t pl = 0; pl < (size_t)n * l->c; pl++) {
		const float *x = in + pl * h * w, *rx = r + pl * h * w;
		float *o = out + pl * l->oh * l->ow;

		for (int y = 0; y < l->oh; y++)
			for (int xo = 0; xo < l->ow; xo++)
				o[y * l->ow + xo] = rx[nn_window_max(x, h, w,
				    k, s, p, y, xo)];
	}
}

/* Tensor q of the layer's module in the direction v and in the product hv,
 * both laid out as the parameters. */
#define V(q)	(v + (t[q].data - m->params))
#define HV(q)	(hv + (t[q].data - m->params))

static float
bn_rstd(const float *var, int ch)
{
	return (float)(1.0 / sqrt((double)var[ch] + XF_BN_EPS));
}

static void
r_forward(struct xf_model *m, struct rop *r, const float *v, int i, int n)
{
	struct layer *l = &m->layers[i];
	const float *in = m->act[l->src], *rin = r->ra[l->src];
	float *rout = r->ra[i + 1];
	struct xf_model_tensor *t = l->module >= 0 ?
	    &m->tensors[m->modules[l->module].first_tensor] : NULL;
	size_t oc = (size_t)n * l->out_count;
	struct xf_conv2d_dims d;
	int hw = l->h * l->w;

	switch (l->kind) {
	case LAYER_CONV:
		xf_conv2d_dims(&d, n, l->c, l->h, l->w, l->oc, l->k, l->k,
		    l->stride, l->pad, NULL);
		xf_conv2d_forward(rout, m->scratch, in, V(0),
		    l->bias ? V(1) : NULL, 0, &d);
		if (l->src > 0) {
			xf_conv2d_forward(r->t1, m->scratch, rin, t[0].data, NULL,
			    0, &d);
			add_into(rout, r->t1, oc);
		}
		break;
	case LAYER_LINEAR:
		xf_linear_forward(rout, in, V(0), V(1), 0, n, l->c, l->oc);
		if (l->src > 0) {
			xf_linear_forward(r->t1, rin, t[0].data, NULL, 0, n, l->c,
			    l->oc);
			add_into(rout, r->t1, oc);
		}
		break;
	case LAYER_BN:
		for (int e = 0; e < n; e++)
			for (int ch = 0; ch < l->c; ch++) {
				size_t at = ((size_t)e * l->c + ch) * hw;
				float rs = bn_rstd(t[3].data, ch), mu = t[2].data[ch];
				float gam = t[0].data[ch], vg = V(0)[ch], vb = V(1)[ch];

				for (int q = 0; q < hw; q++)
					rout[at + q] = rs * (gam * rin[at + q] +
					    vg * (in[at + q] - mu)) + vb;
			}
		break;
	case LAYER_POOL:
		pool_gather(rout, rin, in, l, n);
		break;
	case LAYER_ADD:
		xf_add_forward(rout, rin, r->ra[l->src2], 0, oc);
		break;
	case LAYER_GAP:
		xf_avgpool_global_forward(rout, rin, n, l->c, hw);
		break;
	}
	if (l->relu)
		mask(rout, m->act[i + 1], oc);
}

/* Layer i's backward of g and R{g} into its inputs' g and R{g}, and
 * R{g_theta} of its parameters added into hv. */
static void
r_backward(struct xf_model *m, struct rop *r, const float *v, float *hv,
    int i, int n)
{
	struct layer *l = &m->layers[i];
	const float *in = m->act[l->src], *rin = r->ra[l->src];
	float *gout = r->g[i + 1], *rgout = r->rg[i + 1];
	float *gin = l->src > 0 ? r->t1 : NULL, *rgin = l->src > 0 ? r->t2 : NULL;
	struct xf_model_tensor *t = l->module >= 0 ?
	    &m->tensors[m->modules[l->module].first_tensor] : NULL;
	size_t oc = (size_t)n * l->out_count, ic = (size_t)n * l->in_count;
	struct xf_conv2d_dims d;
	int hw = l->h * l->w;

	if (l->relu) {
		mask(gout, m->act[i + 1], oc);
		mask(rgout, m->act[i + 1], oc);
	}
	switch (l->kind) {
	case LAYER_CONV:
		xf_conv2d_dims(&d, n, l->c, l->h, l->w, l->oc, l->k, l->k,
		    l->stride, l->pad, NULL);
		if (gin != NULL)
			xf_conv2d_backward(gin, NULL, NULL, m->scratch, gout, in,
			    t[0].data, &d);
		xf_conv2d_backward(rgin, HV(0), l->bias ? HV(1) : NULL,
		    m->scratch, rgout, in, t[0].data, &d);
		if (gin != NULL) {
			xf_conv2d_backward(r->t3, HV(0), NULL, m->scratch, gout,
			    rin, V(0), &d);
			add_into(rgin, r->t3, ic);
		}
		break;
	case LAYER_LINEAR:
		if (gin != NULL)
			xf_linear_backward(gin, NULL, NULL, gout, in, t[0].data, n,
			    l->c, l->oc);
		xf_linear_backward(rgin, HV(0), HV(1), rgout, in, t[0].data, n,
		    l->c, l->oc);
		if (gin != NULL) {
			xf_linear_backward(r->t3, HV(0), NULL, gout, rin, V(0), n,
			    l->c, l->oc);
			add_into(rgin, r->t3, ic);
		}
		break;
	case LAYER_BN:
		for (int ch = 0; ch < l->c; ch++) {
			float rs = bn_rstd(t[3].data, ch), mu = t[2].data[ch];
			float gam = t[0].data[ch], vg = V(0)[ch];
			double sg = 0, sb = 0;

			for (int e = 0; e < n; e++) {
				size_t at = ((size_t)e * l->c + ch) * hw;

				for (int q = 0; q < hw; q++) {
					float go = gout[at + q], rgo = rgout[at + q];

					sg += rs * (rgo * (in[at + q] - mu) +
					    go * rin[at + q]);
					sb += rgo;
					if (gin != NULL) {
						gin[at + q] = rs * gam * go;
						rgin[at + q] = rs * (gam * rgo + vg * go);
					}
				}
			}
			HV(0)[ch] += (float)sg;
			HV(1)[ch] += (float)sb;
		}
		break;
	case LAYER_POOL:
		if (gin != NULL) {
			xf_maxpool2d_backward(gin, gout, in, n, l->c, l->h, l->w,
			    l->k, l->stride, l->pad);
			xf_maxpool2d_backward(rgin, rgout, in, n, l->c, l->h, l->w,
			    l->k, l->stride, l->pad);
		}
		break;
	case LAYER_ADD:
		add_into(r->g[l->src2], gout, oc);
		add_into(r->rg[l->src2], rgout, oc);
		if (gin != NULL) {
			memcpy(gin, gout, oc * sizeof *gin);
			memcpy(rgin, rgout, oc * sizeof *rgin);
		}
		break;
	case LAYER_GAP:
		if (gin != NULL) {
			xf_avgpool_global_backward(gin, gout, n, l->c, hw);
			xf_avgpool_global_backward(rgin, rgout, n, l->c, hw);
		}
		break;
	}
	if (gin != NULL) {
		add_into(r->g[l->src], gin, ic);
		add_into(r->rg[l->src], rgin, ic);
	}
}

int
xf_model_hvp(struct xf_model *m, float *hv, const float *v,
    struct xf_err *err)
{
	struct rop r = { 0 };
	int n = m->n, L = m->n_layers, k = m->n_classes;
	const float *p = m->probs;
	float *gz, *rgz, *rz;

	if (!m->has_labels)
		return xf_errf(err, "R-op: the last forward had no labels");
	if (rop_alloc(&r, m, n, err) < 0)
		return -1;
	for (int i = 0; i < L; i++)
		r_forward(m, &r, v, i, n);
	/* Softmax cross-entropy of the mean: g_z = (p - y) / n and
	 * R{g_z} = (diag p - p p^T) R{z} / n. */
	gz = r.g[L];
	rgz = r.rg[L];
	rz = r.ra[L];
	xf_softmax_xent_backward(gz, p, m->labels, n, k);
	for (int e = 0; e < n; e++) {
		const float *pe = p + (size_t)e * k, *re = rz + (size_t)e * k;
		double dot = 0;

		for (int j = 0; j < k; j++)
			dot += (double)pe[j] * re[j];
		for (int j = 0; j < k; j++)
			rgz[(size_t)e * k + j] = (float)(pe[j] * (re[j] - dot) /
			    n);
	}
	for (int i = L - 1; i >= 0; i--)
		r_backward(m, &r, v, hv, i, n);
	free(r.ra);
	free(r.mem);
	return 0;
}
