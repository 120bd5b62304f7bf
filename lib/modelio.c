#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

static int
add_tensors(struct xf_ckpt *c, const struct xf_model_tensor *t,
    struct xf_err *err)
{
	struct xf_err e;

	if (xf_ckpt_add(c, t->name, t->ndim, t->shape, t->data, 0, &e) == NULL)
		return xf_errf(err, "%s", e.msg);
	return 0;
}

/*
 * The input normalisation is the meta keys input.mean.K and input.std.K
 * (float) of every channel K, written only when the model has one: a
 * checkpoint without them means mean 0 and std 1 (formats/checkpoint.md).
 */
static void
save_normalize(const struct xf_model *m, struct xf_ckpt *c)
{
	float mean[XF_NORM_MAX_C], std[XF_NORM_MAX_C];
	int ch, h, w, k;
	char key[32];

	if (!xf_model_normalize(m, mean, std))
		return;
	xf_model_input_shape(m, &ch, &h, &w, &k);
	for (int i = 0; i < ch; i++) {
		snprintf(key, sizeof key, "input.mean.%d", i);
		xf_ckpt_set_float(c, key, mean[i]);
		snprintf(key, sizeof key, "input.std.%d", i);
		xf_ckpt_set_float(c, key, std[i]);
	}
}

/* One of the keys: a number, or none; a NaN tells the caller it is absent. */
static int
norm_key(const struct xf_ckpt *c, const char *what, int i, float *v,
    struct xf_err *err)
{
	const struct xf_meta *m;
	char key[32];

	snprintf(key, sizeof key, "input.%s.%d", what, i);
	if ((m = xf_ckpt_get(c, key)) == NULL) {
		*v = NAN;
		return 0;
	}
	if (m->type != XF_FLOAT && m->type != XF_INT)
		return xf_errf(err, "meta %s: not a number", key);
	*v = m->type == XF_INT ? (float)m->i : (float)m->f;
	return 0;
}

/* n numbers of "a,b,c" from *p on, up to stop; advances *p. */
static int
float_list(const char **p, int stop, float *v, int *n, struct xf_err *err)
{
	*n = 0;
	for (;;) {
		char *end;
		double x = strtod(*p, &end);

		if (end == *p || **p == ' ' || !isfinite(x) || *n == XF_NORM_MAX_C)
			return xf_errf(err, "want at most %d finite numbers, "
			    "comma-separated, at \"%s\"", XF_NORM_MAX_C, *p);
		v[(*n)++] = (float)x;
		*p = end;
		if (**p == stop)
			return 0;
		if (*(*p)++ != ',')
			return xf_errf(err, "want a comma at \"%s\"", *p - 1);
	}
}

int
xf_normalize_parse(const char *text, float *mean, float *std, int *n,
    struct xf_err *err)
{
	const char *p = text;
	int n_std;

	if (float_list(&p, '/', mean, n, err) < 0)
		return -1;
	p++;
	if (float_list(&p, 0, std, &n_std, err) < 0)
		return -1;
	if (n_std != *n)
		return xf_errf(err, "%d means and %d stds", *n, n_std);
	for (int i = 0; i < *n; i++)
		if (!(std[i] > 0))
			return xf_errf(err, "std %g: want > 0", std[i]);
	return 0;
}

int
xf_model_normalize_load(struct xf_model *m, const struct xf_ckpt *c,
    struct xf_err *err)
{
	float mean[XF_NORM_MAX_C], std[XF_NORM_MAX_C];
	int ch, h, w, k, present = 0;
	struct xf_err e;

	xf_model_input_shape(m, &ch, &h, &w, &k);
	/* A key for a channel the model does not have is a wrong model. */
	for (size_t i = 0; i < c->n_meta; i++) {
		const char *key = c->meta[i].key, *num = NULL;
		char *end;

		if (strncmp(key, "input.mean.", 11) == 0)
			num = key + 11;
		else if (strncmp(key, "input.std.", 10) == 0)
			num = key + 10;
		if (num == NULL)
			continue;
		long v = strtol(num, &end, 10);
		if (*num < '0' || *num > '9' || *end != 0 || v >= ch ||
		    v >= XF_NORM_MAX_C)
			return xf_errf(err, "meta %s: the model takes %d "
			    "channels", key, ch);
		present = 1;
	}
	if (!present)
		return xf_model_set_normalize(m, NULL, NULL, 0, err);
	for (int i = 0; i < ch; i++) {
		if (norm_key(c, "mean", i, &mean[i], err) < 0 ||
		    norm_key(c, "std", i, &std[i], err) < 0)
			return -1;
		if (isnan(mean[i]) || isnan(std[i]))
			return xf_errf(err, "meta input.%s.%d: missing (every "
			    "channel needs input.mean and input.std)",
			    isnan(mean[i]) ? "mean" : "std", i);
	}
	if (xf_model_set_normalize(m, mean, std, ch, &e) < 0)
		return xf_errf(err, "meta input.mean, input.std: %s", e.msg);
	return 0;
}

int
xf_model_to_ckpt(const struct xf_model *m, const struct xf_sgd *opt,
    struct xf_ckpt *c, struct xf_err *err)
{
	int n_classes, ch, h, w;

	xf_model_input_shape(m, &ch, &h, &w, &n_classes);
	if (strlen(xf_model_spec(m)) >= sizeof c->arch)
		return xf_errf(err, "model spec over %zu bytes", sizeof c->arch - 1);
	strcpy(c->arch, xf_model_spec(m));
	c->input[0] = ch, c->input[1] = h, c->input[2] = w;
	c->n_classes = n_classes;
	for (int i = 0; i < xf_model_n_tensors(m); i++)
		if (add_tensors(c, xf_model_tensor(m, i), err) < 0)
			return -1;
	save_normalize(m, c);
	for (int i = 0; opt != NULL && i < xf_sgd_n_tensors(opt); i++)
		if (add_tensors(c, xf_sgd_tensor(opt, i), err) < 0)
			return -1;
	return 0;
}

/* Copies tensor t of the model from c, checking its shape. */
static int
copy_tensor(const struct xf_model_tensor *t, const struct xf_ckpt *c,
    struct xf_err *err)
{
	const struct xf_tensor *src = xf_ckpt_find(c, t->name);
	char want[64], got[64];

	if (src == NULL)
		return xf_errf(err, "tensor %s: missing", t->name);
	if (src->ndim != t->ndim ||
	    memcmp(src->shape, t->shape, t->ndim * sizeof *t->shape) != 0) {
		xf_shape_str(want, sizeof want, t->ndim, t->shape);
		xf_shape_str(got, sizeof got, src->ndim, src->shape);
		return xf_errf(err, "tensor %s: shape %s, want %s", t->name, got,
		    want);
	}
	memcpy(t->data, src->data, t->count * sizeof(float));
	return 0;
}

struct xf_model *
xf_model_load(const struct xf_ckpt *c, struct xf_err *err)
{
	struct xf_model *m;

	if ((m = xf_model_create_ckpt(c, (int)c->n_classes, 0, err)) == NULL)
		return NULL;
	if (xf_model_copy(m, c, -1, 0, err) < 0 ||
	    xf_model_normalize_load(m, c, err) < 0) {
		xf_model_free(m);
		return NULL;
	}
	return m;
}

int
xf_model_copy(struct xf_model *m, const struct xf_ckpt *c, int n_modules,
    int skip_head, struct xf_err *err)
{
	int last = xf_model_n_modules(m) - 1;

	if (n_modules < 0 || n_modules > last + 1)
		n_modules = last + 1;
	for (int k = 0; k < n_modules; k++) {
		const struct xf_module *mod = xf_model_module(m, k);

		if (k == last && skip_head)
			continue;
		for (int i = 0; i < mod->n_tensors; i++)
			if (copy_tensor(xf_model_tensor(m, mod->first_tensor + i), c,
			    err) < 0)
				return -1;
	}
	return 0;
}

int
xf_sgd_load(struct xf_sgd *opt, const struct xf_ckpt *c, struct xf_err *err)
{
	for (int i = 0; i < xf_sgd_n_tensors(opt); i++)
		if (copy_tensor(xf_sgd_tensor(opt, i), c, err) < 0)
			return -1;
	return 0;
}

int
xf_model_check_input(const struct xf_model *m, int c, int h, int w,
    int n_classes, struct xf_err *err)
{
	int mc, mh, mw, mk;

	xf_model_input_shape(m, &mc, &mh, &mw, &mk);
	if (c != mc || h != mh || w != mw)
		return xf_errf(err, "images are %dx%dx%d, the model takes %dx%dx%d",
		    c, h, w, mc, mh, mw);
	if (n_classes > mk)
		return xf_errf(err, "data has %d classes, the model's head has %d",
		    n_classes, mk);
	return 0;
}

void
xf_model_layers(const struct xf_model *m, int *first, int *n_layers)
{
	int n = 0;

	for (int k = 0; k < xf_model_n_modules(m); k++)
		if (k == 0 || xf_model_module(m, k)->group !=
		    xf_model_module(m, k - 1)->group)
			first[n++] = k;
	first[n] = xf_model_n_modules(m);
	*n_layers = n;
}

const struct xf_model_tensor *
xf_module_next_param(const struct xf_model *m, int k, int *i)
{
	const struct xf_module *mod = xf_model_module(m, k);

	while (*i < mod->n_tensors) {
		const struct xf_model_tensor *t =
		    xf_model_tensor(m, mod->first_tensor + (*i)++);

		if (t->is_param)
			return t;
	}
	return NULL;
}

double
xf_module_grad_norm(const struct xf_model *m, int k)
{
	const struct xf_model_tensor *t;
	double s = 0;

	for (int i = 0; (t = xf_module_next_param(m, k, &i)) != NULL; )
		for (size_t j = 0; j < t->count; j++)
			s += (double)t->grad[j] * t->grad[j];
	return sqrt(s);
}

size_t
xf_snapshot_offset(const struct xf_model *m, int i)
{
	size_t off = 0;

	for (int j = 0; j < i; j++)
		off += xf_model_tensor(m, j)->count;
	return off;
}

double
xf_module_distance(const struct xf_model *m, int k, const float *ref)
{
	const struct xf_module *mod = xf_model_module(m, k);
	size_t off = xf_snapshot_offset(m, mod->first_tensor);
	double s = 0;

	for (int i = 0; i < mod->n_tensors; i++) {
		const struct xf_model_tensor *t =
		    xf_model_tensor(m, mod->first_tensor + i);

		for (size_t j = 0; j < t->count; j++) {
			double d = (double)t->data[j] - ref[off + j];

			s += d * d;
		}
		off += t->count;
	}
	return sqrt(s);
}

float *
xf_model_snapshot(const struct xf_model *m, size_t *n)
{
	size_t total = xf_snapshot_offset(m, xf_model_n_tensors(m)), off = 0;
	float *s = malloc(total * sizeof *s);

	if (s == NULL)
		return NULL;
	for (int i = 0; i < xf_model_n_tensors(m); i++) {
		const struct xf_model_tensor *t = xf_model_tensor(m, i);

		memcpy(s + off, t->data, t->count * sizeof *s);
		off += t->count;
	}
	*n = total;
	return s;
}

void
xf_model_restore(struct xf_model *m, const float *snap)
{
	size_t off = 0;

	for (int i = 0; i < xf_model_n_tensors(m); i++) {
		const struct xf_model_tensor *t = xf_model_tensor(m, i);

		memcpy(t->data, snap + off, t->count * sizeof *snap);
		off += t->count;
	}
}

int
xf_argmax(const float *p, int k)
{
	int best = 0;

	for (int j = 1; j < k; j++)
		if (p[j] > p[best])
			best = j;
	return best;
}

int
xf_model_evaluate(struct xf_model *m, const struct xf_dataset *d, int batch,
    struct xf_eval_result *r, int *pred, float *loss, float *prob,
    struct xf_err *err)
{
	size_t img = (size_t)d->c * d->h * d->w;
	int c, h, w, k;

	xf_model_input_shape(m, &c, &h, &w, &k);
	memset(r, 0, sizeof *r);
	for (size_t at = 0; at < d->n; at += batch) {
		int n = d->n - at < (size_t)batch ? (int)(d->n - at) : batch;
		float mean;

		if (xf_model_forward(m, d->x + at * img, d->y + at, n, 0, &mean,
		    err) < 0)
			return -1;
		const float *probs = xf_model_probs(m);
		const float *losses = xf_model_losses(m);
		for (int i = 0; i < n; i++) {
			const float *p = probs + (size_t)i * k;
			int best = xf_argmax(p, k);

			r->correct += best == d->y[at + i];
			r->loss_sum += losses[i];
			if (pred != NULL)
				pred[at + i] = best;
			if (loss != NULL)
				loss[at + i] = losses[i];
			if (prob != NULL)
				prob[at + i] = p[d->y[at + i]];
		}
		r->n += n;
	}
	return 0;
}
