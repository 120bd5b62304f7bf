/*
 * spec.c: a model's layers, modules and tensors from a spec string
 * (lib/nn.h, "Spec strings" and "Residual networks"): the presets, the
 * item parser, torchvision's names for residual networks, and the shape
 * checks.  model.c allocates and runs what this builds.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_impl.h"

static const struct {
	const char *name, *spec;
} presets[] = {
	{ "mlp", "f512,f512,f" },
	{ "cnn", "c32,c32,p,c64,c64,p,f256,f" },
	{ "cnn-s", "c16,c16,p,c32,c32,p,f128,f" },
	{ "cnn-bn", "c32,b,c32,b,p,c64,b,c64,b,p,f256,f" },
	{ "resnet-8", "c16n,b,r16,r32s2,r64s2,g,f" },
	{ "resnet-20", "c16n,b,r16,r16,r16,r32s2,r32,r32,r64s2,r64,r64,g,f" },
	{ "resnet-18", "c64k7s2p3n,b,pk3s2p1,r64,r64,r128s2,r128,r256s2,r256,"
	    "r512s2,r512,g,f" },
	{ "resnet-18-cifar", "c64n,b,r64,r64,r128s2,r128,r256s2,r256,r512s2,"
	    "r512,g,f" },
	{ "resnet-34", "c64k7s2p3n,b,pk3s2p1,r64,r64,r64,r128s2,r128,r128,"
	    "r128,r256s2,r256,r256,r256,r256,r256,r512s2,r512,r512,g,f" },
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

/* Reads the options kK, sS, pP (each optional, any order) of a conv or
 * pool item into k, s, pad, and a trailing n (no bias) into *nobias when
 * nobias is not NULL.  Returns 0 at the end of the item, -1 otherwise. */
static int
read_opts(const char **p, int *k, int *s, int *pad, int *nobias)
{
	while (**p == 'k' || **p == 's' || **p == 'p') {
		char key = *(*p)++;
		int v = read_int(p);

		if (v < 0)
			return -1;
		if (key == 'k')
			*k = v;
		else if (key == 's')
			*s = v;
		else
			*pad = v;
	}
	if (nobias != NULL && **p == 'n') {
		*nobias = 1;
		(*p)++;
	}
	return **p == ',' || **p == '\0' ? 0 : -1;
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
	m->modules[module].n_tensors++;
	return m->n_tensors++;
}

/*
 * The state of parse(): the running shape, counters for names, and the
 * offsets of the parameter and buffer allocations.
 */
struct build {
	struct xf_model *m;
	const char *spec;
	int	 c, h, w;
	int	 flat, head, stage, group;
	int	 n_conv, n_bn, n_fc;
	int	 layer_no, block_no;	/* residual: layerS.B */
	size_t	 poff, boff;
};

static int
add_module(struct build *b, enum xf_module_kind kind, const char *name)
{
	struct xf_model *m = b->m;
	struct xf_module *mod = &m->modules[m->n_modules];

	snprintf(mod->name, sizeof mod->name, "%.31s", name);
	mod->kind = kind;
	mod->first_tensor = m->n_tensors;
	mod->stage = b->stage;
	mod->group = b->group;
	return m->n_modules++;
}

/* A new layer reading act[src] of shape (c, h, w); its output shape is the
 * caller's to set. */
static struct layer *
add_layer(struct build *b, enum layer_kind kind, int src)
{
	struct xf_model *m = b->m;
	struct layer *l = &m->layers[m->n_layers];
	const struct layer *from = src > 0 ? &m->layers[src - 1] : NULL;

	l->kind = kind;
	l->module = -1;
	l->src = src;
	l->src2 = -1;
	l->c = from != NULL ? from->oc : m->c;
	l->h = from != NULL ? from->oh : m->h;
	l->w = from != NULL ? from->ow : m->w;
	if (from != NULL && from->kind == LAYER_LINEAR)
		l->h = l->w = 1;
	return l;
}

/* Ends the layer that add_layer began: counts and the running shape. */
static int
end_layer(struct build *b, struct layer *l)
{
	struct xf_model *m = b->m;

	l->in_count = (size_t)l->c * l->h * l->w;
	l->out_count = (size_t)l->oc * l->oh * l->ow;
	b->c = l->oc;
	b->h = l->oh;
	b->w = l->ow;
	return m->n_layers++;
}

/* A conv layer named name on act[src]; relu fused unless a bn follows. */
static int
conv_layer(struct build *b, const char *name, int src, int oc, int k,
    int stride, int pad, int bias, int relu)
{
	struct xf_model *m = b->m;
	struct layer *l = add_layer(b, LAYER_CONV, src);
	int mod;

	if (l->h + 2 * pad < k || l->w + 2 * pad < k)
		return -1;
	l->oc = oc;
	l->k = k;
	l->stride = stride;
	l->pad = pad;
	l->bias = bias;
	l->relu = relu;
	l->oh = (l->h + 2 * pad - k) / stride + 1;
	l->ow = (l->w + 2 * pad - k) / stride + 1;
	mod = add_module(b, XF_MODULE_CONV, name);
	l->module = mod;
	add_tensor(m, mod, "weight", 1, 4, (int[]){ oc, l->c, k, k }, &b->poff);
	if (bias)
		add_tensor(m, mod, "bias", 1, 1, (int[]){ oc }, &b->poff);
	m->module_first_layer[mod] = m->n_layers;
	m->module_last_layer[mod] = m->n_layers;
	return end_layer(b, l);
}

/* A batch norm named name on the output of the conv just added. */
static int
bn_layer(struct build *b, const char *name, int relu)
{
	struct xf_model *m = b->m;
	struct layer *l = add_layer(b, LAYER_BN, m->n_layers);
	int mod, c = l->c;

	l->oc = c;
	l->oh = l->h;
	l->ow = l->w;
	l->relu = relu;
	mod = add_module(b, XF_MODULE_BN, name);
	l->module = mod;
	add_tensor(m, mod, "weight", 1, 1, &c, &b->poff);
	add_tensor(m, mod, "bias", 1, 1, &c, &b->poff);
	add_tensor(m, mod, "running_mean", 0, 1, &c, &b->boff);
	add_tensor(m, mod, "running_var", 0, 1, &c, &b->boff);
	m->module_first_layer[mod] = m->n_layers - 1;
	m->module_last_layer[mod] = m->n_layers;
	m->module_last_layer[mod - 1] = m->n_layers;
	return end_layer(b, l);
}

/*
 * A basic residual block (He et al. 2016) of oc channels and stride s on
 * the last output: conv3x3(s)-bn-ReLU-conv3x3-bn, plus the shortcut (the
 * input, or conv1x1(s)-bn when the shape changes), then ReLU.  A block
 * module of no tensors comes first in the group: its activation is the
 * block output.  torchvision's names: layerS.B.conv1, ..., downsample.0.
 */
static int
block_layers(struct build *b, int oc, int s)
{
	struct xf_model *m = b->m;
	int in = m->n_layers, c = b->c, blk, last;
	char pre[24], name[40];
	struct layer *l;

	if (s != 1 || oc != c || b->layer_no == 0) {
		b->layer_no++;
		b->block_no = 0;
	} else
		b->block_no++;
	snprintf(pre, sizeof pre, "layer%d.%d", b->layer_no, b->block_no);
	b->group++;
	blk = add_module(b, XF_MODULE_BLOCK, pre);
	m->module_first_layer[blk] = in;
	b->stage++;
	snprintf(name, sizeof name, "%s.conv1", pre);
	if (conv_layer(b, name, in, oc, 3, s, 1, 0, 0) < 0)
		return -1;
	snprintf(name, sizeof name, "%s.bn1", pre);
	bn_layer(b, name, 1);
	b->stage++;
	snprintf(name, sizeof name, "%s.conv2", pre);
	conv_layer(b, name, m->n_layers, oc, 3, 1, 1, 0, 0);
	snprintf(name, sizeof name, "%s.bn2", pre);
	last = bn_layer(b, name, 0) + 1;
	if (s != 1 || oc != c) {
		int main_h = b->h, main_w = b->w;

		b->stage++;
		snprintf(name, sizeof name, "%s.downsample.0", pre);
		conv_layer(b, name, in, oc, 1, s, 0, 0, 0);
		snprintf(name, sizeof name, "%s.downsample.1", pre);
		bn_layer(b, name, 0);
		if (b->h != main_h || b->w != main_w)
			return -1;
	}
	l = add_layer(b, LAYER_ADD, last);
	l->src2 = m->n_layers == last ? in : m->n_layers;
	l->oc = l->c;
	l->oh = l->h;
	l->ow = l->w;
	l->relu = 1;
	end_layer(b, l);
	m->module_last_layer[blk] = m->n_layers - 1;
	for (int k = blk; k < m->n_modules; k++)
		m->module_entry_layer[k] = in;
	return 0;
}

int
nn_spec_parse(struct xf_model *m, const char *spec, struct xf_err *err)
{
	struct build b = { .m = m, .spec = spec, .c = m->c, .h = m->h,
	    .w = m->w, .stage = -1, .group = -1 };
	size_t items = 1;
	const char *p = spec;
	char name[XF_NAME_MAX];

	for (const char *q = spec; *q != '\0'; q++)
		items += *q == ',';
	for (const char *q = spec; *q != '\0'; q++)
		if (*q == 'r' && (q == spec || q[-1] == ','))
			m->residual = 1;
	/* A residual block is 7 layers, 7 modules and 14 tensors at most. */
	m->layers = calloc(7 * items, sizeof *m->layers);
	m->modules = calloc(7 * items, sizeof *m->modules);
	m->tensors = calloc(14 * items, sizeof *m->tensors);
	m->module_first_layer = calloc(7 * items, sizeof(int));
	m->module_last_layer = calloc(7 * items, sizeof(int));
	m->module_entry_layer = calloc(7 * items, sizeof(int));
	if (m->layers == NULL || m->modules == NULL || m->tensors == NULL ||
	    m->module_first_layer == NULL || m->module_last_layer == NULL ||
	    m->module_entry_layer == NULL)
		return xf_errf(err, "out of memory");
	for (size_t it = 0; it < items; it++) {
		const char *start = p;
		int first_module = m->n_modules, in_block = -2;
		struct layer *l;

		if (b.head)
			return xf_errf(err, "spec '%s': the head f must be last",
			    spec);
		if (*p == 'c') {
			int oc, k = 3, s = 1, pad = -1, nobias = 0;

			p++;
			oc = read_int(&p);
			if (read_opts(&p, &k, &s, &pad, &nobias) < 0 || oc < 1 ||
			    k < 1 || s < 1)
				goto bad;
			if (pad < 0)
				pad = k / 2;
			if (b.flat)
				return xf_errf(err, "spec '%s': conv after a "
				    "linear layer", spec);
			b.stage++;
			b.group++;
			snprintf(name, sizeof name, "conv%d", ++b.n_conv);
			if (conv_layer(&b, name, m->n_layers, oc, k, s, pad,
			    !nobias, 1) < 0)
				return xf_errf(err, "spec '%s': %s: kernel %d does "
				    "not fit input %dx%d", spec, name, k, b.h, b.w);
		} else if (*p == 'b') {
			const struct layer *prev = m->n_layers > 0 ?
			    &m->layers[m->n_layers - 1] : NULL;

			p++;
			if (*p != ',' && *p != '\0')
				goto bad;
			if (prev == NULL || prev->kind != LAYER_CONV)
				return xf_errf(err, "spec '%s': b must follow a "
				    "conv", spec);
			/* The ReLU moves after the batch norm. */
			m->layers[m->n_layers - 1].relu = 0;
			snprintf(name, sizeof name, "bn%d", ++b.n_bn);
			bn_layer(&b, name, 1);
		} else if (*p == 'p') {
			int k = 2, s = -1, pad = 0;

			p++;
			if (read_opts(&p, &k, &s, &pad, NULL) < 0 || k < 1 ||
			    s == 0 || 2 * pad > k)
				goto bad;
			if (s < 0)
				s = k;
			if (b.flat || b.h + 2 * pad < k || b.w + 2 * pad < k)
				return xf_errf(err, "spec '%s': pool on %s", spec,
				    b.flat ? "flat features" : "an input under "
				    "its window");
			l = add_layer(&b, LAYER_POOL, m->n_layers);
			l->k = k;
			l->stride = s;
			l->pad = pad;
			l->oc = l->c;
			l->oh = (l->h + 2 * pad - k) / s + 1;
			l->ow = (l->w + 2 * pad - k) / s + 1;
			end_layer(&b, l);
		} else if (*p == 'r') {
			int oc, k = 3, s = 1, pad = -1;

			p++;
			oc = read_int(&p);
			if (read_opts(&p, &k, &s, &pad, NULL) < 0 || oc < 1 ||
			    k != 3 || pad != -1 || s < 1)
				goto bad;
			if (b.flat)
				return xf_errf(err, "spec '%s': residual block "
				    "after a linear layer", spec);
			in_block = b.group + 1;
			if (block_layers(&b, oc, s) < 0)
				return xf_errf(err, "spec '%s': block r%d%s: "
				    "stride %d does not fit input %dx%d", spec, oc,
				    s > 1 ? "s.." : "", s, b.h, b.w);
		} else if (*p == 'g') {
			p++;
			if (*p != ',' && *p != '\0')
				goto bad;
			if (b.flat)
				return xf_errf(err, "spec '%s': global average "
				    "pool on flat features", spec);
			l = add_layer(&b, LAYER_GAP, m->n_layers);
			l->oc = l->c;
			l->oh = l->ow = 1;
			end_layer(&b, l);
			b.flat = 1;
		} else if (*p == 'f') {
			int out;
			int mod;

			p++;
			if (*p == ',' || *p == '\0') {
				out = m->n_classes;
				b.head = 1;
			} else {
				out = read_int(&p);
				if (out < 1 || (*p != ',' && *p != '\0'))
					goto bad;
			}
			l = add_layer(&b, LAYER_LINEAR, m->n_layers);
			l->c = l->c * l->h * l->w;
			l->h = l->w = 1;
			l->oc = out;
			l->oh = l->ow = 1;
			l->relu = !b.head;
			b.stage++;
			b.group++;
			if (m->residual && b.head)
				snprintf(name, sizeof name, "fc");
			else
				snprintf(name, sizeof name, "fc%d", ++b.n_fc);
			mod = add_module(&b, XF_MODULE_LINEAR, name);
			l->module = mod;
			add_tensor(m, mod, "weight", 1, 2, (int[]){ out, l->c },
			    &b.poff);
			add_tensor(m, mod, "bias", 1, 1, &out, &b.poff);
			m->module_first_layer[mod] = m->n_layers;
			m->module_last_layer[mod] = m->n_layers;
			end_layer(&b, l);
			b.flat = 1;
		} else
			goto bad;
		/* Outside blocks a module's re-evaluation starts at its stage. */
		for (int k = first_module; k < m->n_modules; k++)
			if (m->modules[k].group != in_block)
				m->module_entry_layer[k] =
				    m->module_first_layer[k];
		if (*p == ',')
			p++;
		continue;
bad:
		return xf_errf(err, "spec '%s': bad item at '%.*s'", spec,
		    (int)strcspn(start, ","), start);
	}
	if (!b.head)
		return xf_errf(err, "spec '%s': no head (a final f)", spec);
	m->n_params = b.poff;
	m->n_buffers = b.boff;
	return 0;
}

const char *
nn_spec_preset(const char *name)
{
	for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
		if (strcmp(name, presets[i].name) == 0)
			return presets[i].spec;
	return name;
}
