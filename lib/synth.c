#include <stdlib.h>
#include <string.h>

#include "data.h"

#define SYNTH_BLOCK 4

int
xf_synth(struct xf_images *out, int64_t c, int64_t h, int64_t w,
    int64_t n_classes, size_t n, uint64_t seed, int test, struct xf_err *err)
{
	size_t size, k;
	uint8_t *tmpl;
	struct xf_rng rng;

	memset(out, 0, sizeof *out);
	if (c < 1 || c > 4 || h < 1 || h > 1024 || w < 1 || w > 1024)
		return xf_errf(err, "shape %lldx%lldx%lld: want C in 1..4, H and W "
		    "in 1..1024", (long long)c, (long long)h, (long long)w);
	if (n_classes < 1 || n_classes > 256)
		return xf_errf(err, "%lld classes: want 1..256",
		    (long long)n_classes);
	size = (size_t)(c * h * w);
	if (n > (1u << 20) || n * size > (1u << 30))
		return xf_errf(err, "%zu images of %zu bytes: want at most 2^20 "
		    "images and 1 GiB", n, size);
	tmpl = malloc(size * (size_t)n_classes);
	out->x = malloc(n * size > 0 ? n * size : 1);
	out->y = malloc(n ? n : 1);
	if (tmpl == NULL || out->x == NULL || out->y == NULL) {
		free(tmpl);
		xf_images_free(out);
		return xf_errf(err, "out of memory");
	}
	xf_rng_seed(&rng, seed);
	/* Templates: one random level per 4×4 block and channel, per class. */
	for (int64_t k = 0; k < n_classes; k++)
		for (int64_t ch = 0; ch < c; ch++)
			for (int64_t by = 0; by < h; by += SYNTH_BLOCK)
				for (int64_t bx = 0; bx < w; bx += SYNTH_BLOCK) {
					uint8_t v = (uint8_t)xf_rng_below(&rng, 256);

					for (int64_t yy = by; yy < by + SYNTH_BLOCK && yy < h;
					    yy++)
						for (int64_t xx = bx;
						    xx < bx + SYNTH_BLOCK && xx < w; xx++)
							tmpl[((k * c + ch) * h + yy) * w + xx] = v;
				}
	/* Same templates, other noise: a held-out split of the same task. */
	if (test)
		xf_rng_seed(&rng, seed ^ 0x7465737473706c74ULL);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *t = tmpl + (i % (size_t)n_classes) * size;

		out->y[i] = (uint8_t)(i % (size_t)n_classes);
		for (k = 0; k < size; k++) {
			/* Integer noise, so the bytes do not depend on libm: four
			 * uniform bytes summed and centred, over 4 (sd about 37). */
			uint64_t r = xf_rng_next(&rng);
			int v = (int)(r & 255) + (int)(r >> 8 & 255) +
			    (int)(r >> 16 & 255) + (int)(r >> 24 & 255) - 510;

			v = t[k] + v / 4;
			out->x[i * size + k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
		}
	}
	free(tmpl);
	out->c = c;
	out->h = h;
	out->w = w;
	out->n = n;
	out->n_classes = n_classes;
	return 0;
}
