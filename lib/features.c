/*
 * features.c: a module's activations as features: pooled, sized, and read
 * back from a feature stream (xf-eval --features, xf-cka).  See train.h.
 */
#include <stdlib.h>
#include <string.h>

#include "train.h"

void
xf_features_pool(float *out, const float *in, size_t n, int c, int h, int w,
    int k)
{
	int oh = h / k, ow = w / k;
	float scale = 1.0f / (k * k);

	for (size_t i = 0; i < n * c; i++) {
		const float *src = in + i * h * w;
		float *dst = out + i * oh * ow;

		for (int y = 0; y < oh; y++)
			for (int x = 0; x < ow; x++) {
				float s = 0;

				for (int dy = 0; dy < k; dy++)
					for (int dx = 0; dx < k; dx++)
						s += src[(y * k + dy) * w + x * k + dx];
				dst[y * ow + x] = s * scale;
			}
	}
}

int
xf_features_width(const struct xf_model *m, int k, int pool, size_t *width,
    struct xf_err *err)
{
	int ndim, shape[3];
	size_t count;

	xf_model_activation(m, k, &ndim, shape, &count);
	if (ndim != 3 || pool <= 1) {
		*width = count;
		return 0;
	}
	if (shape[1] < pool || shape[2] < pool)
		return xf_errf(err, "%s is %dx%d", xf_model_module(m, k)->name,
		    shape[1], shape[2]);
	*width = (size_t)shape[0] * (shape[1] / pool) * (shape[2] / pool);
	return 0;
}

void
xf_features_take(float *out, const struct xf_model *m, int k, size_t n,
    int pool)
{
	int ndim, shape[3];
	size_t count;
	const float *act = xf_model_activation(m, k, &ndim, shape, &count);

	if (ndim == 3 && pool > 1)
		xf_features_pool(out, act, n, shape[0], shape[1], shape[2], pool);
	else
		memcpy(out, act, n * count * sizeof *out);
}

int
xf_features_head(const struct xf_model *m, size_t *width, struct xf_err *err)
{
	int n = xf_model_n_modules(m), n_layers, ndim, shape[3], head;
	int *first = malloc((n + 1) * sizeof *first);

	if (first == NULL)
		return xf_errf(err, "out of memory");
	xf_model_layers(m, first, &n_layers);
	head = first[n_layers - 1];
	free(first);
	if (n_layers < 2)
		return xf_errf(err, "the model is its head alone: no layer below "
		    "it to score");
	if (xf_model_module(m, head)->kind != XF_MODULE_LINEAR)
		return xf_errf(err, "the head %s is not a linear module",
		    xf_model_module(m, head)->name);
	xf_model_module_input(m, head, &ndim, shape, width);
	return head;
}

void
xf_features_take_input(float *out, const struct xf_model *m, int k, size_t n)
{
	int ndim, shape[3];
	size_t count;
	const float *in = xf_model_module_input(m, k, &ndim, shape, &count);

	memcpy(out, in, n * count * sizeof *out);
}

void
xf_features_free(struct xf_features *f)
{
	free(f->x);
	free(f->index);
	f->x = NULL;
	f->index = NULL;
}

int
xf_features_read(const char *path, struct xf_features *f, struct xf_err *err)
{
	struct xf_stream *s = xf_stream_open(path, err);
	const struct xf_record *rec;
	size_t cap = 0;
	int r;

	memset(f, 0, sizeof *f);
	if (s == NULL)
		return -1;
	const struct xf_header *h = xf_stream_header(s);
	if (strcmp(h->kind, "features") != 0 || strcmp(h->dtype, "float32") != 0) {
		xf_errf(err, "header: kind \"%s\" dtype \"%s\": want a float32 "
		    "feature stream (xf-eval --features)", h->kind, h->dtype);
		xf_stream_close(s);
		return -1;
	}
	snprintf(f->module, sizeof f->module, "%s", h->module[0] ? h->module : path);
	f->p = xf_header_xsize(h) / 4;
	while ((r = xf_stream_next(s, &rec, err)) == 1) {
		if (f->n == cap) {
			float *x;
			int64_t *index;

			cap = cap ? 2 * cap : 1024;
			if ((x = realloc(f->x, cap * f->p * sizeof *x)) != NULL)
				f->x = x;
			if ((index = realloc(f->index, cap * sizeof *index)) != NULL)
				f->index = index;
			if (x == NULL || index == NULL) {
				r = xf_errf(err, "out of memory at record %zu", f->n);
				break;
			}
		}
		memcpy(f->x + f->n * f->p, xf_record_x(rec), f->p * sizeof(float));
		f->index[f->n++] = xf_record_i(rec);
	}
	xf_stream_close(s);
	if (r < 0)
		xf_features_free(f);
	return r < 0 ? -1 : 0;
}
