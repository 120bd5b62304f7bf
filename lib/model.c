/*
 * model.c: models from spec strings.  A model is a list of layers (conv,
 * batch norm, pool, linear; ReLU fused into the layer it follows), one
 * activation buffer per layer output, two ping-pong buffers for activation
 * gradients, and one allocation each for parameters, gradients and buffers.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "train.h"

enum layer_kind { LAYER_CONV, LAYER_BN, LAYER_POOL, LAYER_LINEAR };

struct layer {
	enum layer_kind kind;
	int	 module;	/* -1 for pool */
	int	 relu;		/* ReLU fused on the output */
	int	 c, h, w;	/* input per example (C, H, W); linear: (IN, 1, 1) */
	int	 oc, oh, ow;	/* output per example */
	int	 k, stride, pad;	/* conv */
	size_t	 in_count, out_count;	/* floats per example */
	float	*mean, *rstd;	/* bn: batch stats saved for backward (C) */
};

struct xf_model {
	char	*spec;
	int	 c, h, w, n_classes;
	int	 n_layers;
	struct layer *layers;
	int	 n_modules;
	struct xf_module *modules;
	int	*module_first_layer;	/* first layer of each module's stage */
	int	*module_last_layer;	/* last layer of each module's stage */
	int	 n_tensors;
	struct xf_model_tensor *tensors;
	float	*params, *grads, *buffers;
	size_t	 n_params, n_buffers;
	float	*stats;		/* bn mean and rstd of every bn layer */

	int	 cap;		/* examples the buffers hold */
	int	 n;		/* examples in the last forward */
	int	 has_labels;
	float	**act;		/* act[0] input, act[i + 1] output of layer i */
	float	*grad[2];
	float	*probs, *losses;
	int	*labels;
	float	*scratch;
	size_t	 scratch_floats;
};

static const struct {
	const char *name, *spec;
} presets[] = {
	{ "mlp", "f512,f512,f" },
	{ "cnn", "c32,c32,p,c64,c64,p,f256,f" },
	{ "cnn-s", "c16,c16,p,c32,c32,p,f128,f" },
	{ "cnn-bn", "c32,b,c32,b,p,c64,b,c64,b,p,f256,f" },
};

/* Reads a positive decimal at *p, advancing it; -1 when none. */
static int
read_int(const char **p)
{
	long v = 0;

	if (!isdigit((unsigned char)**p))
		return -1;
	while (isdigit((unsigned char)**p)) {
		v = v * 10 + (**p - '0');
		if (v > 1 << 20)
			return -1;
		(*p)++;
	}
	return (int)v;
}

static int
add_tensor(struct xf_model *m, int module, const char *suffix, int is_param,
    int ndim, const int *shape, size_t *offset)
{
	struct xf_model_tensor *t = &m->tensors[m->n_tensors];

	snprintf(t->name, sizeof t->name, "%s.%s", m->modules[module].name,
	    suffix);
	t->ndim = ndim;
	t->count = 1;
	/* A spec's numbers go to 2^20 each: a product that overflows is
	 * kept at SIZE_MAX, which the size check after parse refuses. */
	for (int i = 0; i < ndim; i++) {
		t->shape[i] = shape[i];
		if (__builtin_mul_overflow(t->count, (size_t)shape[i], &t->count))
			t->count = SIZE_MAX;
	}
	if (__builtin_add_overflow(*offset, t->count, offset))
		*offset = SIZE_MAX;
	t->is_param = is_param;
	t->module = module;
	/* data and grad hold offsets until the allocations exist. */
	t->data = (float *)(uintptr_t)(*offset - t->count);
	return m->n_tensors++;
}

static int
add_module(struct xf_model *m, enum xf_module_kind kind, int number,
    int stage)
{
	static const char *prefix[] = { "conv", "bn", "fc" };
	struct xf_module *mod = &m->modules[m->n_modules];

	snprintf(mod->name, sizeof mod->name, "%s%d", prefix[kind], number);
	mod->kind = kind;
	mod->first_tensor = m->n_tensors;
	mod->stage = stage;
	return m->n_modules++;
}

/* Builds layers, modules and tensors from the spec; shapes checked. */
static int
parse(struct xf_model *m, const char *spec, struct xf_err *err)
{
	int c = m->c, h = m->h, w = m->w, flat = 0, stage = -1;
	int n_conv = 0, n_bn = 0, n_fc = 0, head = 0;
	size_t items = 1, poff = 0, boff = 0;
	const char *p = spec;

	for (const char *q = spec; *q != '\0'; q++)
		items += *q == ',';
	m->layers = calloc(items, sizeof *m->layers);
	m->modules = calloc(items, sizeof *m->modules);
	m->tensors = calloc(4 * items, sizeof *m->tensors);
	m->module_first_layer = calloc(items, sizeof(int));
	m->module_last_layer = calloc(items, sizeof(int));
	if (m->layers == NULL || m->modules == NULL || m->tensors == NULL ||
	    m->module_first_layer == NULL || m->module_last_layer == NULL)
		return xf_errf(err, "out of memory");
	for (size_t it = 0; it < items; it++) {
		const char *start = p;
		struct layer *l = &m->layers[m->n_layers];
		int mod;

		if (head)
			return xf_errf(err, "spec '%s': the head f must be last",
			    spec);
		l->c = c;
		l->h = h;
		l->w = w;
		l->module = -1;
		if (*p == 'c') {
			p++;
			l->kind = LAYER_CONV;
			l->oc = read_int(&p);
			l->k = 3;
			l->stride = 1;
			l->pad = -1;
			while (*p == 'k' || *p == 's' || *p == 'p') {
				char key = *p++;
				int v = read_int(&p);

				if (v < 0)
					break;
				if (key == 'k')
					l->k = v;
				else if (key == 's')
					l->stride = v;
				else
					l->pad = v;
			}
			if (l->pad < 0)
				l->pad = l->k / 2;
			if (l->oc < 1 || l->k < 1 || l->stride < 1 ||
			    (*p != ',' && *p != '\0'))
				goto bad;
			if (flat)
				return xf_errf(err, "spec '%s': conv after a "
				    "linear layer", spec);
			if (h + 2 * l->pad < l->k || w + 2 * l->pad < l->k)
				return xf_errf(err, "spec '%s': conv%d: kernel "
				    "%d does not fit input %dx%d", spec,
				    n_conv + 1, l->k, h, w);
			l->oh = (h + 2 * l->pad - l->k) / l->stride + 1;
			l->ow = (w + 2 * l->pad - l->k) / l->stride + 1;
			l->relu = 1;
			stage++;
			mod = add_module(m, XF_MODULE_CONV, ++n_conv, stage);
			add_tensor(m, mod, "weight", 1, 4, (int[]){ l->oc, c,
			    l->k, l->k }, &poff);
			add_tensor(m, mod, "bias", 1, 1, (int[]){ l->oc }, &poff);
			m->module_first_layer[mod] = m->n_layers;
			m->module_last_layer[mod] = m->n_layers;
			c = l->oc;
			h = l->oh;
			w = l->ow;
		} else if (*p == 'b') {
			struct layer *prev = m->n_layers > 0 ? l - 1 : NULL;

			p++;
			if (*p != ',' && *p != '\0')
				goto bad;
			if (prev == NULL || prev->kind != LAYER_CONV)
				return xf_errf(err, "spec '%s': b must follow a "
				    "conv", spec);
			l->kind = LAYER_BN;
			l->oc = c;
			l->oh = h;
			l->ow = w;
			/* The ReLU moves after the batch norm. */
			prev->relu = 0;
			l->relu = 1;
			mod = add_module(m, XF_MODULE_BN, ++n_bn, stage);
			add_tensor(m, mod, "weight", 1, 1, &c, &poff);
			add_tensor(m, mod, "bias", 1, 1, &c, &poff);
			add_tensor(m, mod, "running_mean", 0, 1, &c, &boff);
			add_tensor(m, mod, "running_var", 0, 1, &c, &boff);
			m->module_first_layer[mod] = m->n_layers - 1;
			m->module_last_layer[mod] = m->n_layers;
			m->module_last_layer[mod - 1] = m->n_layers;
		} else if (*p == 'p') {
			p++;
			if (*p != ',' && *p != '\0')
				goto bad;
			if (flat || h < 2 || w < 2)
				return xf_errf(err, "spec '%s': pool on %s", spec,
				    flat ? "flat features" : "an input under 2x2");
			l->kind = LAYER_POOL;
			l->oc = c;
			l->oh = h / 2;
			l->ow = w / 2;
			h /= 2;
			w /= 2;
		} else if (*p == 'f') {
			p++;
			l->kind = LAYER_LINEAR;
			l->c = c * h * w;
			l->h = l->w = 1;
			if (*p == ',' || *p == '\0') {
				l->oc = m->n_classes;
				head = 1;
			} else {
				l->oc = read_int(&p);
				l->relu = 1;
				if (l->oc < 1 || (*p != ',' && *p != '\0'))
					goto bad;
			}
			l->oh = l->ow = 1;
			stage++;
			mod = add_module(m, XF_MODULE_LINEAR, ++n_fc, stage);
			add_tensor(m, mod, "weight", 1, 2, (int[]){ l->oc, l->c },
			    &poff);
			add_tensor(m, mod, "bias", 1, 1, &l->oc, &poff);
			m->module_first_layer[mod] = m->n_layers;
			m->module_last_layer[mod] = m->n_layers;
			flat = 1;
			c = l->oc;
			h = w = 1;
		} else
			goto bad;
		if (l->kind != LAYER_POOL)
			l->module = m->n_modules - 1;
		l->in_count = (size_t)l->c * l->h * l->w;
		l->out_count = (size_t)l->oc * l->oh * l->ow;
		m->n_layers++;
		if (l->kind != LAYER_POOL)
			m->modules[l->module].n_tensors = m->n_tensors -
			    m->modules[l->module].first_tensor;
		if (*p == ',')
			p++;
		continue;
bad:
		return xf_errf(err, "spec '%s': bad item at '%.*s'", spec,
		    (int)strcspn(start, ","), start);
	}
	if (!head)
		return xf_errf(err, "spec '%s': no head (a final f)", spec);
	m->n_params = poff;
	m->n_buffers = boff;
	return 0;
}

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
	for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
		if (strcmp(spec, presets[i].name) == 0)
			spec = presets[i].spec;
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
	if (parse(m, spec, err) == -1)
		goto fail;
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
	if (m->params == NULL || m->grads == NULL || m->buffers == NULL ||
	    m->stats == NULL || m->act == NULL) {
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
	free(m->grad[0]);
	free(m->grad[1]);
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

	if (mod->kind == XF_MODULE_BN) {
		for (int q = 0; q < 4; q++)
			for (size_t i = 0; i < t[q].count; i++)
				t[q].data[i] = q == 0 || q == 3 ? 1.0f : 0.0f;
		return;
	}
	/* kaiming_uniform(a = sqrt(5)) and PyTorch's bias rule both give
	 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
	size_t fan_in = t[0].count / t[0].shape[0];
	float bound = (float)(1.0 / sqrt((double)fan_in));

	for (int q = 0; q < 2; q++)
		for (size_t i = 0; i < t[q].count; i++)
			t[q].data[i] = (2.0f * xf_rng_uniform(rng) - 1.0f) * bound;
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
	for (int g = 0; g < 2; g++) {
		free(m->grad[g]);
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
	const float *in = m->act[i];
	float *out = m->act[i + 1];
	struct xf_model_tensor *t = l->module >= 0 ?
	    &m->tensors[m->modules[l->module].first_tensor] : NULL;
	struct xf_conv2d_dims d;

	switch (l->kind) {
	case LAYER_CONV:
		xf_conv2d_dims(&d, n, l->c, l->h, l->w, l->oc, l->k, l->k,
		    l->stride, l->pad, NULL);
		xf_conv2d_forward(out, m->scratch, in, t[0].data, t[1].data,
		    l->relu, &d);
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
		xf_maxpool_forward(out, in, n, l->c, l->h, l->w);
		break;
	case LAYER_LINEAR:
		xf_linear_forward(out, in, t[0].data, t[1].data, l->relu, n,
		    l->c, l->oc);
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
xf_model_forward(struct xf_model *m, const uint8_t *x, const int *labels,
    int n, int train, float *loss, struct xf_err *err)
{
	size_t count;

	if (n < 1)
		return xf_errf(err, "batch of %d examples", n);
	if (reserve(m, n, err) == -1)
		return -1;
	count = (size_t)n * m->layers[0].in_count;
	for (size_t i = 0; i < count; i++)
		m->act[0][i] = x[i] * (1.0f / 255.0f);
	return run_from(m, 0, labels, n, train, loss, err);
}

int
xf_model_forward_from(struct xf_model *m, int k, const float *act,
    const int *labels, int n, int train, float *loss, struct xf_err *err)
{
	int first = m->module_first_layer[k];

	if (n < 1)
		return xf_errf(err, "batch of %d examples", n);
	if (n > m->cap && act == m->act[first])
		return xf_errf(err, "batch of %d examples, the model holds %d",
		    n, m->cap);
	if (reserve(m, n, err) == -1)
		return -1;
	if (act != m->act[first])
		memcpy(m->act[first], act, (size_t)n *
		    m->layers[first].in_count * sizeof *act);
	return run_from(m, first, labels, n, train, loss, err);
}

void
xf_model_backward(struct xf_model *m)
{
	int n = m->n, cur = 0, lowest = m->n_layers;

	if (!m->has_labels)
		return;
	for (int k = 0; k < m->n_modules; k++)
		if (!m->modules[k].frozen &&
		    m->module_first_layer[k] < lowest)
			lowest = m->module_first_layer[k];
	if (lowest == m->n_layers)
		return;
	xf_softmax_xent_backward(m->grad[0], m->probs, m->labels, n,
	    m->n_classes);
	for (int i = m->n_layers - 1; i >= lowest; i--) {
		struct layer *l = &m->layers[i];
		int train = l->module >= 0 && !m->modules[l->module].frozen;
		struct xf_model_tensor *t = l->module >= 0 ?
		    &m->tensors[m->modules[l->module].first_tensor] : NULL;
		float *dout = m->grad[cur];
		float *din = i > lowest ? m->grad[!cur] : NULL;
		struct xf_conv2d_dims d;

		if (l->relu)
			xf_relu_backward(dout, dout, m->act[i + 1],
			    (size_t)n * l->out_count);
		switch (l->kind) {
		case LAYER_CONV:
			xf_conv2d_dims(&d, n, l->c, l->h, l->w, l->oc, l->k,
			    l->k, l->stride, l->pad, NULL);
			xf_conv2d_backward(din, train ? t[0].grad : NULL,
			    train ? t[1].grad : NULL, m->scratch, dout,
			    m->act[i], t[0].data, &d);
			break;
		case LAYER_BN:
			xf_batchnorm_backward(din, train ? t[0].grad : NULL,
			    train ? t[1].grad : NULL, dout, m->act[i], l->mean,
			    l->rstd, t[0].data, n, l->c, l->h * l->w);
			break;
		case LAYER_POOL:
			if (din != NULL)
				xf_maxpool_backward(din, dout, m->act[i], n, l->c,
				    l->h, l->w);
			break;
		case LAYER_LINEAR:
			xf_linear_backward(din, train ? t[0].grad : NULL,
			    train ? t[1].grad : NULL, dout, m->act[i],
			    t[0].data, n, l->c, l->oc);
			break;
		}
		cur = !cur;
	}
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

/* Shape of the activation entering layer i (i == n_layers: the logits). */
static const float *
act_shape(const struct xf_model *m, int i, int *ndim, int shape[3],
    size_t *count)
{
	const struct layer *l = i < m->n_layers ? &m->layers[i] :
	    &m->layers[m->n_layers - 1];

	if (i == m->n_layers || l->kind == LAYER_LINEAR) {
		*ndim = 1;
		shape[0] = i == m->n_layers ? l->oc : l->c;
		*count = shape[0];
	} else {
		*ndim = 3;
		shape[0] = l->c;
		shape[1] = l->h;
		shape[2] = l->w;
		*count = (size_t)l->c * l->h * l->w;
	}
	return m->act[i];
}

const float *
xf_model_activation(const struct xf_model *m, int k, int *ndim,
    int shape[3], size_t *count)
{
	int last = m->module_last_layer[k];
	const struct layer *l = &m->layers[last];

	if (l->kind == LAYER_LINEAR) {
		*ndim = 1;
		shape[0] = l->oc;
		*count = l->oc;
	} else {
		*ndim = 3;
		shape[0] = l->oc;
		shape[1] = l->oh;
		shape[2] = l->ow;
		*count = l->out_count;
	}
	return m->act[last + 1];
}

const float *
xf_model_module_input(const struct xf_model *m, int k, int *ndim,
    int shape[3], size_t *count)
{
	return act_shape(m, m->module_first_layer[k], ndim, shape, count);
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
