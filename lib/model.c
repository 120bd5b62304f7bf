/*
 * model.c: running models built from spec strings (spec.c).  A model is a
 * list of layers (conv, batch norm, pools, linear, the residual add; ReLU
 * fused into the layer it follows), one activation buffer per layer
 * output, gradient slots for activation gradients, and one allocation each
 * for parameters, gradients and buffers.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_impl.h"
#include "train.h"

/* The model's layers, modules and tensor shapes, with no parameters yet. */
static struct xf_model *
model_parse(const char *spec, int c, int h, int w, int n_classes,
    struct xf_err *err)
{
	struct xf_model *m;

	if (c < 1 || h < 1 || w < 1 || n_classes < 1 || c > 4096 ||
	    h > 4096 || w > 4096 || n_classes > 1 << 20) {
		xf_errf(err, "input %dx%dx%d with %d classes: bad shape", c, h,
		    w, n_classes);
		return NULL;
	}
	spec = nn_spec_preset(spec);
	if ((m = calloc(1, sizeof *m)) == NULL ||
	    (m->spec = strdup(spec)) == NULL) {
		free(m);
		xf_errf(err, "out of memory");
		return NULL;
	}
	m->c = c;
	m->h = h;
	m->w = w;
	m->n_classes = n_classes;
	if (nn_spec_parse(m, spec, err) == -1)
		goto fail;
	m->init = m->residual ? XF_INIT_HE : XF_INIT_TORCH;
	/* No checkpoint could hold more: refused before any allocation. */
	if (m->n_params > XF_CKPT_MAX_BYTES / 4 - m->n_buffers) {
		xf_errf(err, "spec '%s': over %llu bytes of parameters", spec,
		    (unsigned long long)XF_CKPT_MAX_BYTES);
		goto fail;
	}
	return m;
fail:
	xf_model_free(m);
	return NULL;
}

static int backward_pass(struct xf_model *m, int lowest, int plan);

/* Allocates a parsed model's parameters, gradients and buffers. */
static struct xf_model *
model_alloc(struct xf_model *m, struct xf_err *err)
{
	size_t n_stats = 0;
	float *stats;

	for (int i = 0; i < m->n_layers; i++)
		if (m->layers[i].kind == LAYER_BN)
			n_stats += 2 * m->layers[i].oc;
	m->params = calloc(m->n_params + 1, sizeof *m->params);
	m->grads = calloc(m->n_params + 1, sizeof *m->grads);
	m->buffers = calloc(m->n_buffers + 1, sizeof *m->buffers);
	m->stats = calloc(n_stats + 1, sizeof *m->stats);
	m->act = calloc(m->n_layers + 1, sizeof *m->act);
	m->gslot = calloc(m->n_layers + 1, sizeof *m->gslot);
	if (m->params == NULL || m->grads == NULL || m->buffers == NULL ||
	    m->stats == NULL || m->act == NULL || m->gslot == NULL) {
		xf_errf(err, "out of memory");
		xf_model_free(m);
		return NULL;
	}
	for (int i = 0; i < m->n_tensors; i++) {
		struct xf_model_tensor *t = &m->tensors[i];
		size_t off = (uintptr_t)t->data;

		t->data = (t->is_param ? m->params : m->buffers) + off;
		t->grad = t->is_param ? m->grads + off : NULL;
	}
	stats = m->stats;
	for (int i = 0; i < m->n_layers; i++)
		if (m->layers[i].kind == LAYER_BN) {
			m->layers[i].mean = stats;
			m->layers[i].rstd = stats + m->layers[i].oc;
			stats += 2 * m->layers[i].oc;
		}
	/* The slots of a backward down to layer 0, the most any takes. */
	if ((m->n_grad_slots = backward_pass(m, 0, 1)) < 0) {
		xf_errf(err, "arch \"%s\": backward needs more than %d gradient "
		    "buffers", m->spec, GRAD_SLOTS);
		xf_model_free(m);
		return NULL;
	}
	return m;
}

struct xf_model *
xf_model_create(const char *spec, int c, int h, int w, int n_classes,
    struct xf_err *err)
{
	struct xf_model *m = model_parse(spec, c, h, w, n_classes, err);

	return m == NULL ? NULL : model_alloc(m, err);
}

/*
 * The model of c's arch and input, n_classes classes.  Every tensor's shape
 * is checked against c's (all but the head's with skip_head) before the
 * parameters are allocated, so their size is bounded by what c holds.
 */
struct xf_model *
xf_model_create_ckpt(const struct xf_ckpt *c, int n_classes, int skip_head,
    struct xf_err *err)
{
	struct xf_model *m;
	struct xf_err e;
	char want[64], got[64];

	m = model_parse(c->arch, (int)c->input[0], (int)c->input[1],
	    (int)c->input[2], n_classes, &e);
	if (m == NULL) {
		xf_errf(err, "arch \"%s\": %s", c->arch, e.msg);
		return NULL;
	}
	for (int i = 0; i < m->n_tensors; i++) {
		const struct xf_model_tensor *t = &m->tensors[i];
		const struct xf_tensor *src = xf_ckpt_find(c, t->name);

		if (skip_head && t->module == m->n_modules - 1)
			continue;
		if (src == NULL) {
			xf_errf(err, "tensor %s: in arch \"%s\" but not in the "
			    "checkpoint", t->name, c->arch);
			goto fail;
		}
		if (src->ndim != t->ndim ||
		    memcmp(src->shape, t->shape, t->ndim * sizeof *t->shape)) {
			xf_shape_str(want, sizeof want, t->ndim, t->shape);
			xf_shape_str(got, sizeof got, src->ndim, src->shape);
			xf_errf(err, "tensor %s: shape %s, arch \"%s\" wants %s",
			    t->name, got, c->arch, want);
			goto fail;
		}
	}
	return model_alloc(m, err);
fail:
	xf_model_free(m);
	return NULL;
}

void
xf_model_free(struct xf_model *m)
{
	if (m == NULL)
		return;
	if (m->act != NULL)
		for (int i = 0; i <= m->n_layers; i++)
			free(m->act[i]);
	free(m->act);
	for (int g = 0; g < GRAD_SLOTS; g++)
		free(m->grad[g]);
	free(m->gslot);
	free(m->probs);
	free(m->losses);
	free(m->labels);
	free(m->scratch);
	free(m->stats);
	free(m->params);
	free(m->grads);
	free(m->buffers);
	free(m->tensors);
	free(m->modules);
	free(m->module_first_layer);
	free(m->module_last_layer);
	free(m->module_entry_layer);
	free(m->layers);
	free(m->spec);
	free(m);
}

const char *
xf_model_spec(const struct xf_model *m)
{
	return m->spec;
}

void
xf_model_input_shape(const struct xf_model *m, int *c, int *h, int *w,
    int *n_classes)
{
	*c = m->c;
	*h = m->h;
	*w = m->w;
	*n_classes = m->n_classes;
}

void
xf_model_init_module(struct xf_model *m, int k, struct xf_rng *rng)
{
	const struct xf_module *mod = &m->modules[k];
	struct xf_model_tensor *t = &m->tensors[mod->first_tensor];

	if (mod->kind == XF_MODULE_BLOCK)
		return;
	if (mod->kind == XF_MODULE_BN) {
		for (int q = 0; q < 4; q++)
			for (size_t i = 0; i < t[q].count; i++)
				t[q].data[i] = q == 0 || q == 3 ? 1.0f : 0.0f;
		return;
	}
	if (mod->kind == XF_MODULE_CONV && m->init == XF_INIT_HE) {
		/* torchvision's ResNet: kaiming_normal_(mode="fan_out",
		 * nonlinearity="relu"), std sqrt(2 / fan_out); biases 0. */
		size_t fan_out = t[0].count / t[0].shape[1];
		float std = (float)sqrt(2.0 / (double)fan_out);

		for (size_t i = 0; i < t[0].count; i++)
			t[0].data[i] = xf_rng_normal(rng) * std;
		for (int q = 1; q < mod->n_tensors; q++)
			memset(t[q].data, 0, t[q].count * sizeof *t[q].data);
		return;
	}
	/* kaiming_uniform(a = sqrt(5)) and PyTorch's bias rule both give
	 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
	size_t fan_in = t[0].count / t[0].shape[0];
	float bound = (float)(1.0 / sqrt((double)fan_in));

	for (int q = 0; q < mod->n_tensors; q++)
		for (size_t i = 0; i < t[q].count; i++)
			t[q].data[i] = (2.0f * xf_rng_uniform(rng) - 1.0f) * bound;
}

void
xf_model_set_init_scheme(struct xf_model *m, enum xf_init_scheme s)
{
	m->init = s;
}

enum xf_init_scheme
xf_model_init_scheme(const struct xf_model *m)
{
	return m->init;
}

void
xf_model_init(struct xf_model *m, struct xf_rng *rng)
{
	for (int k = 0; k < m->n_modules; k++)
		xf_model_init_module(m, k, rng);
}

int
xf_model_n_tensors(const struct xf_model *m)
{
	return m->n_tensors;
}

const struct xf_model_tensor *
xf_model_tensor(const struct xf_model *m, int i)
{
	return &m->tensors[i];
}

int
xf_model_find_tensor(const struct xf_model *m, const char *name)
{
	for (int i = 0; i < m->n_tensors; i++)
		if (strcmp(m->tensors[i].name, name) == 0)
			return i;
	return -1;
}

int
xf_model_n_modules(const struct xf_model *m)
{
	return m->n_modules;
}

const struct xf_module *
xf_model_module(const struct xf_model *m, int k)
{
	return &m->modules[k];
}

int
xf_model_find_module(const struct xf_model *m, const char *name)
{
	for (int k = 0; k < m->n_modules; k++)
		if (strcmp(m->modules[k].name, name) == 0)
			return k;
	return -1;
}

float *
xf_model_params(struct xf_model *m, size_t *n)
{
	*n = m->n_params;
	return m->params;
}

float *
xf_model_grads(struct xf_model *m, size_t *n)
{
	*n = m->n_params;
	return m->grads;
}

void
xf_model_freeze(struct xf_model *m, int k, int frozen)
{
	m->modules[k].frozen = frozen != 0;
}

void
xf_model_zero_grad(struct xf_model *m)
{
	memset(m->grads, 0, m->n_params * sizeof *m->grads);
}

/* Grows the per-batch buffers to hold n examples. */
static int
reserve(struct xf_model *m, int n, struct xf_err *err)
{
	size_t most = m->layers[0].in_count, scratch = 0;

	for (int i = 0; i < m->n_layers; i++) {
		struct layer *l = &m->layers[i];
		struct xf_conv2d_dims d;

		if (l->out_count > most)
			most = l->out_count;
		if (l->kind == LAYER_CONV) {
			xf_conv2d_dims(&d, n, l->c, l->h, l->w, l->oc, l->k, l->k,
			    l->stride, l->pad, NULL);
			if (xf_conv2d_scratch(&d) > scratch)
				scratch = xf_conv2d_scratch(&d);
		}
	}
	if (scratch > m->scratch_floats) {
		free(m->scratch);
		if ((m->scratch = malloc(scratch * sizeof(float))) == NULL) {
			m->scratch_floats = 0;
			return xf_errf(err, "out of memory for conv scratch");
		}
		m->scratch_floats = scratch;
	}
	if (n <= m->cap)
		return 0;
	m->cap = 0;
	for (int i = 0; i <= m->n_layers; i++) {
		size_t count = i == 0 ? m->layers[0].in_count :
		    m->layers[i - 1].out_count;

		free(m->act[i]);
		if ((m->act[i] = malloc((size_t)n * count * sizeof(float))) ==
		    NULL)
			goto oom;
	}
	/* Every slot a backward takes (model_alloc's plan), so that
	 * backward cannot run out of memory. */
	m->grad_floats = most;
	for (int g = 0; g < GRAD_SLOTS; g++) {
		free(m->grad[g]);
		m->grad[g] = NULL;
		if (g >= m->n_grad_slots)
			continue;
		if ((m->grad[g] = malloc((size_t)n * most * sizeof(float))) ==
		    NULL)
			goto oom;
	}
	free(m->probs);
	free(m->losses);
	free(m->labels);
	m->probs = malloc((size_t)n * m->n_classes * sizeof *m->probs);
	m->losses = malloc((size_t)n * sizeof *m->losses);
	m->labels = malloc((size_t)n * sizeof *m->labels);
	if (m->probs == NULL || m->losses == NULL || m->labels == NULL)
		goto oom;
	m->cap = n;
	return 0;
oom:
	return xf_errf(err, "out of memory for a batch of %d", n);
}

static void
layer_forward(struct xf_model *m, int i, int n, int train)
{
	struct layer *l = &m->layers[i];
	const float *in = m->act[l->src];
	float *out = m->act[i + 1];
	struct xf_model_tensor *t = l->module >= 0 ?
	    &m->tensors[m->modules[l->module].first_tensor] : NULL;
	struct xf_conv2d_dims d;

	switch (l->kind) {
	case LAYER_CONV:
		xf_conv2d_dims(&d, n, l->c, l->h, l->w, l->oc, l->k, l->k,
		    l->stride, l->pad, NULL);
		xf_conv2d_forward(out, m->scratch, in, t[0].data,
		    l->bias ? t[1].data : NULL, l->relu, &d);
		break;
	case LAYER_BN:
		if (train)
			xf_batchnorm_forward_train(out, l->mean, l->rstd,
			    t[2].data, t[3].data, in, t[0].data, t[1].data,
			    l->relu, n, l->c, l->h * l->w);
		else
			xf_batchnorm_forward_eval(out, in, t[0].data, t[1].data,
			    t[2].data, t[3].data, l->relu, n, l->c,
			    l->h * l->w);
		break;
	case LAYER_POOL:
		if (l->k == 2 && l->stride == 2 && l->pad == 0)
			xf_maxpool_forward(out, in, n, l->c, l->h, l->w);
		else
			xf_maxpool2d_forward(out, in, n, l->c, l->h, l->w, l->k,
			    l->stride, l->pad);
		break;
	case LAYER_LINEAR:
		xf_linear_forward(out, in, t[0].data, t[1].data, l->relu, n,
		    l->c, l->oc);
		break;
	case LAYER_ADD:
		xf_add_forward(out, in, m->act[l->src2], l->relu,
		    (size_t)n * l->out_count);
		break;
	case LAYER_GAP:
		xf_avgpool_global_forward(out, in, n, l->c, l->h * l->w);
		break;
	}
}

/* Runs layers [first, n_layers) on act[first] and the loss. */
static int
run_from(struct xf_model *m, int first, const int *labels, int n, int train,
    float *loss, struct xf_err *err)
{
	float mean;

	if (labels != NULL)
		for (int i = 0; i < n; i++)
			if (labels[i] < 0 || labels[i] >= m->n_classes)
				return xf_errf(err, "example %d: label %d, want "
				    "0..%d", i, labels[i], m->n_classes - 1);
	for (int i = first; i < m->n_layers; i++)
		layer_forward(m, i, n, train);
	m->n = n;
	m->has_labels = labels != NULL;
	if (labels == NULL) {
		/* Probabilities without a loss: any valid label will do. */
		memset(m->labels, 0, (size_t)n * sizeof *m->labels);
		xf_softmax_xent_forward(m->probs, m->losses,
		    m->act[m->n_layers], m->labels, n, m->n_classes);
		return 0;
	}
	memcpy(m->labels, labels, (size_t)n * sizeof *labels);
	mean = xf_softmax_xent_forward(m->probs, m->losses,
	    m->act[m->n_layers], labels, n, m->n_classes);
	if (loss != NULL)
		*loss = mean;
	return 0;
}

int
xf_model_set_normalize(struct xf_model *m, const float *mean,
    const float *std, int n, struct xf_err *err)
{
	int identity = 1;

	if (mean == NULL || std == NULL) {
		m->norm = 0;
		return 0;
	}
	if (n != m->c)
		return xf_errf(err, "normalisation of %d channels, the model takes "
		    "%d", n, m->c);
	if (n > XF_NORM_MAX_C)
		return xf_errf(err, "normalisation of %d channels: at most %d", n,
		    XF_NORM_MAX_C);
	for (int c = 0; c < n; c++) {
		if (!isfinite(mean[c]))
			return xf_errf(err, "mean of channel %d is not finite", c);
		if (!isfinite(std[c]) || !(std[c] > 0))
			return xf_errf(err, "std of channel %d: want a finite "
			    "number > 0", c);
		identity &= mean[c] == 0 && std[c] == 1;
	}
	for (int c = 0; c < n; c++) {
		m->norm_mean[c] = mean[c];
		m->norm_std[c] = std[c];
	}
	m->norm = !identity;
	return 0;
}

int
xf_model_normalize(const struct xf_model *m, float *mean, float *std)
{
	if (!m->norm)
		return 0;
	memcpy(mean, m->norm_mean, (size_t)m->c * sizeof *mean);
	memcpy(std, m->norm_std, (size_t)m->c * sizeof *std);
	return 1;
}

/* act (n, C, H, W) = (x / 255 - mean[c]) / std[c], in torch's order of
 * operations (ToTensor's x / 255, then Normalize). */
static void
normalize_input(const struct xf_model *m, float *act, const uint8_t *x, int n)
{
	size_t plane = (size_t)m->h * m->w;

	for (int i = 0; i < n; i++)
		for (int c = 0; c < m->c; c++) {
			float mean = m->norm_mean[c], std = m->norm_std[c];
			size_t at = ((size_t)i * m->c + c) * plane;

			for (size_t p = 0; p < plane; p++)
				act[at + p] = (x[at + p] * (1.0f / 255.0f) - mean) /
				    std;
		}
}

int
xf_model_forward(struct xf_model *m, const uint8_t *x, const int *labels,
    int n, int train, float *loss, struct xf_err *err)
{
	size_t count;

	if (n < 1)
		return xf_errf(err, "batch of %d examples", n);
	if (reserve(m, n, err) == -1)
		return -1;
	count = (size_t)n * m->layers[0].in_count;
	if (!m->norm)
		for (size_t i = 0; i < count; i++)
			m->act[0][i] = x[i] * (1.0f / 255.0f);
	else
		normalize_input(m, m->act[0], x, n);
	return run_from(m, 0, labels, n, train, loss, err);
}

int
xf_model_forward_from(struct xf_model *m, int k, const float *act,
    const int *labels, int n, int train, float *loss, struct xf_err *err)
{
	int first = m->module_entry_layer[k];
	int src = m->layers[first].src;

	if (n < 1)
		return xf_errf(err, "batch of %d examples", n);
	if (n > m->cap && act == m->act[src])
		return xf_errf(err, "batch of %d examples, the model holds %d",
		    n, m->cap);
	if (reserve(m, n, err) == -1)
		return -1;
	if (act != m->act[src])
		memcpy(m->act[src], act, (size_t)n *
		    m->layers[first].in_count * sizeof *act);
	return run_from(m, first, labels, n, train, loss, err);
}

/* A free gradient slot; *n_used grows to cover it.  -1 when all
 * GRAD_SLOTS are live (model_alloc's plan makes sure backward never is). */
static int
take_slot(const struct xf_model *m, int *n_used)
{
	int used[GRAD_SLOTS] = { 0 };

	for (int a = 0; a <= m->n_layers; a++)
		if (m->gslot[a] >= 0)
			used[m->gslot[a]] = 1;
	for (int g = 0; g < GRAD_SLOTS; g++) {
		if (used[g])
			continue;
		if (g >= *n_used)
			*n_used = g + 1;
		return g;
	}
	return -1;
}

/*
 * Where layer i's input gradient for act[a] goes: a fresh slot when act[a]
 * has none yet (its last consumer writes it), else a scratch slot that
 * add_pending() then sums in.  -1 when no slot is free.
 */
static int
din_slot(struct xf_model *m, int a, int *pending, int *n_used)
{
	int g = take_slot(m, n_used);

	*pending = m->gslot[a] >= 0 ? g : -1;
	if (g >= 0 && *pending < 0)
		m->gslot[a] = g;
	return g;
}

static void
add_pending(struct xf_model *m, int a, int pending, size_t count)
{
	if (pending < 0)
		return;
	xf_add_forward(m->grad[m->gslot[a]], m->grad[m->gslot[a]],
	    m->grad[pending], 0, count);
}

/*
 * Backward in reverse layer order, down to layer lowest.  Each
 * activation's gradient lives in a slot from its last consumer's backward
 * to its producer's; an activation read by two layers (a block input) sums
 * the second into the first, in layer order, so the bytes do not depend on
 * timing.  With plan set only the slots are handed out, no buffer touched:
 * model_alloc runs it so that reserve can allocate every slot a backward
 * takes.  Returns the number of slots taken, or -1 when it needs more than
 * GRAD_SLOTS.
 */
static int
backward_pass(struct xf_model *m, int lowest, int plan)
{
	int n = m->n, n_used = 0;

	for (int a = 0; a <= m->n_layers; a++)
		m->gslot[a] = -1;
	if ((m->gslot[m->n_layers] = take_slot(m, &n_used)) < 0)
		return -1;
	if (!plan)
		xf_softmax_xent_backward(m->grad[m->gslot[m->n_layers]],
		    m->probs, m->labels, n, m->n_classes);
	for (int i = m->n_layers - 1; i >= lowest; i--) {
		struct layer *l = &m->layers[i];
		int train = l->module >= 0 && !m->modules[l->module].frozen;
		struct xf_model_tensor *t = l->module >= 0 ?
		    &m->tensors[m->modules[l->module].first_tensor] : NULL;
		int out_slot = m->gslot[i + 1], pending = -1, g = -1;
		float *dout = m->grad[out_slot];
		float *din = NULL;
		size_t in_count = (size_t)n * l->in_count;
		struct xf_conv2d_dims d;

		if (l->relu && !plan)
			xf_relu_backward(dout, dout, m->act[i + 1],
			    (size_t)n * l->out_count);
		if (l->kind == LAYER_ADD) {
			/* The shortcut gets a copy; the main path takes the
			 * slot itself. */
			if ((g = din_slot(m, l->src2, &pending, &n_used)) < 0)
				return -1;
			if (!plan) {
				memcpy(m->grad[g], dout, in_count * sizeof *dout);
				add_pending(m, l->src2, pending, in_count);
			}
			m->gslot[i + 1] = -1;
			if (m->gslot[l->src] < 0)
				m->gslot[l->src] = out_slot;
			else if (!plan)
				add_pending(m, l->src, out_slot, in_count);
			continue;
		}
		if (l->src > lowest) {
			if ((g = din_slot(m, l->src, &pending, &n_used)) < 0)
				return -1;
			din = m->grad[g];
		}
		m->gslot[i + 1] = -1;
		if (plan)
			continue;
		switch (l->kind) {
		case LAYER_CONV:
			xf_conv2d_dims(&d, n, l->c, l->h, l->w, l->oc, l->k,
			    l->k, l->stride, l->pad, NULL);
			xf_conv2d_backward(din, train ? t[0].grad : NULL,
			    train && l->bias ? t[1].grad : NULL, m->scratch, dout,
			    m->act[l->src], t[0].data, &d);
			break;
		case LAYER_BN:
			xf_batchnorm_backward(din, train ? t[0].grad : NULL,
			    train ? t[1].grad : NULL, dout, m->act[l->src],
			    l->mean, l->rstd, t[0].data, n, l->c, l->h * l->w);
			break;
		case LAYER_POOL:
			if (din == NULL)
				break;
			if (l->k == 2 && l->stride == 2 && l->pad == 0)
				xf_maxpool_backward(din, dout, m->act[l->src], n,
				    l->c, l->h, l->w);
			else
				xf_maxpool2d_backward(din, dout, m->act[l->src], n,
				    l->c, l->h, l->w, l->k, l->stride, l->pad);
			break;
		case LAYER_LINEAR:
			xf_linear_backward(din, train ? t[0].grad : NULL,
			    train ? t[1].grad : NULL, dout, m->act[l->src],
			    t[0].data, n, l->c, l->oc);
			break;
		case LAYER_GAP:
			if (din != NULL)
				xf_avgpool_global_backward(din, dout, n, l->c,
				    l->h * l->w);
			break;
		case LAYER_ADD:
			break;
		}
		if (din != NULL)
			add_pending(m, l->src, pending, in_count);
	}
	return n_used;
}

/*
 * Every slot backward_pass takes was allocated by reserve from the plan
 * of model_alloc (a backward that stops higher takes a prefix of the same
 * steps, and no more slots), so it cannot fail.
 */
void
xf_model_backward(struct xf_model *m)
{
	int lowest = m->n_layers;

	if (!m->has_labels)
		return;
	for (int k = 0; k < m->n_modules; k++)
		if (!m->modules[k].frozen && m->modules[k].n_tensors > 0 &&
		    m->module_first_layer[k] < lowest)
			lowest = m->module_first_layer[k];
	if (lowest == m->n_layers)
		return;
	backward_pass(m, lowest, 0);
}

const float *
xf_model_logits(const struct xf_model *m)
{
	return m->act[m->n_layers];
}

const float *
xf_model_probs(const struct xf_model *m)
{
	return m->probs;
}

const float *
xf_model_losses(const struct xf_model *m)
{
	return m->losses;
}

/* Shape of act[a]: the model input (a = 0) or layer a - 1's output. */
static const float *
act_shape(const struct xf_model *m, int a, int *ndim, int shape[3],
    size_t *count)
{
	const struct layer *l = a > 0 ? &m->layers[a - 1] : NULL;

	if (l != NULL && (l->kind == LAYER_LINEAR || l->kind == LAYER_GAP)) {
		*ndim = 1;
		shape[0] = l->oc;
		*count = l->oc;
	} else {
		*ndim = 3;
		shape[0] = l != NULL ? l->oc : m->c;
		shape[1] = l != NULL ? l->oh : m->h;
		shape[2] = l != NULL ? l->ow : m->w;
		*count = (size_t)shape[0] * shape[1] * shape[2];
	}
	return m->act[a];
}

const float *
xf_model_activation(const struct xf_model *m, int k, int *ndim,
    int shape[3], size_t *count)
{
	return act_shape(m, m->module_last_layer[k] + 1, ndim, shape, count);
}

const float *
xf_model_module_input(const struct xf_model *m, int k, int *ndim,
    int shape[3], size_t *count)
{
	const struct layer *l = &m->layers[m->module_entry_layer[k]];

	if (l->kind == LAYER_LINEAR) {
		/* A linear module's input, flattened in C, H, W order. */
		*ndim = 1;
		shape[0] = l->c;
		*count = l->c;
		return m->act[l->src];
	}
	return act_shape(m, l->src, ndim, shape, count);
}

double
xf_model_flops(const struct xf_model *m, int train)
{
	double fwd = 0.0, first = -1.0;

	for (int i = 0; i < m->n_layers; i++) {
		const struct layer *l = &m->layers[i];
		double f;

		if (l->kind == LAYER_CONV)
			f = 2.0 * l->oc * l->c * l->k * l->k * l->oh * l->ow;
		else if (l->kind == LAYER_LINEAR)
			f = 2.0 * l->c * l->oc;
		else
			continue;
		if (first < 0.0)
			first = f;
		fwd += f;
	}
	return train ? 3.0 * fwd - first : fwd;
}
