/*
 * fixture.h: a tiny learnable data set and small trained models, shared by
 * the unit tests of the analyses (test_interp, test_critic).
 */
#ifndef XF_FIXTURE_H
#define XF_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "train.h"

/* n images of 1x8x8 in 4 classes: class k lights up quadrant k. */
static void
make_data(struct xf_dataset *d, size_t n, uint64_t seed)
{
	struct xf_rng r;

	memset(d, 0, sizeof *d);
	d->n = n;
	d->c = 1, d->h = 8, d->w = 8;
	d->n_classes = 4;
	d->x = malloc(n * 64);
	d->y = malloc(n * sizeof *d->y);
	d->index = malloc(n * sizeof *d->index);
	xf_rng_seed(&r, seed);
	for (size_t i = 0; i < n; i++) {
		d->y[i] = (int)xf_rng_below(&r, 4);
		d->index[i] = (int64_t)i;
		for (int p = 0; p < 64; p++) {
			int q = (p / 8 >= 4) * 2 + (p % 8 >= 4);

			d->x[i * 64 + p] = (uint8_t)(xf_rng_below(&r, 80) +
			    (q == d->y[i] ? 150 : 0));
		}
	}
}

/*
 * A model of spec for d's 1x8x8 images and 4 classes, initialised from seed
 * (θ⁰, copied into *init unless init is NULL; the caller frees it) and then
 * trained steps SGD steps on d (θᶠ).
 */
static struct xf_model *
made(const char *spec, uint64_t seed, const struct xf_dataset *d, int steps,
    float **init)
{
	struct xf_err e;
	struct xf_model *m = xf_model_create(spec, 1, 8, 8, 4, &e);
	struct xf_sgd *opt = xf_sgd_create(m, 0.9f, 0, &e);
	struct xf_rng r;
	size_t n;

	xf_rng_seed(&r, seed);
	xf_model_init(m, &r);
	if (init != NULL)
		*init = xf_model_snapshot(m, &n);
	for (int s = 0; s < steps; s++) {
		size_t at = (size_t)(s * 32) % (d->n - 32);

		xf_model_forward(m, d->x + at * 64, d->y + at, 32, 1, NULL, &e);
		xf_model_zero_grad(m);
		xf_model_backward(m);
		xf_sgd_step(opt, m, 0.05f);
	}
	xf_sgd_free(opt);
	return m;
}

#endif
