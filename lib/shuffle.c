#include <stdlib.h>
#include <string.h>

#include "data.h"

static const char *mode_names[] = { "fixed", "image", "pixel" };

int
xf_shuffle_mode_parse(const char *s, enum xf_shuffle_mode *mode)
{
	for (int m = 0; m < 3; m++)
		if (strcmp(s, mode_names[m]) == 0) {
			*mode = (enum xf_shuffle_mode)m;
			return 0;
		}
	return -1;
}

const char *
xf_shuffle_mode_name(enum xf_shuffle_mode mode)
{
	return mode_names[mode];
}

/*
 * The byte map from a permutation: s->src[k] is the input byte that output
 * byte k takes.  Block j of the output is block perm[j] of the input (or,
 * inverted, block perm[j] of the output is block j of the input).
 */
static void
build_map(struct xf_shuffle *s)
{
	size_t nbx, nb = s->n_perm;
	int64_t b = s->b;

	if (s->mode == XF_SHUFFLE_PIXEL) {
		for (size_t k = 0; k < nb; k++) {
			if (s->inverse)
				s->src[s->perm[k]] = (uint32_t)k;
			else
				s->src[k] = s->perm[k];
		}
		return;
	}
	nbx = (size_t)(s->w / b);
	for (size_t j = 0; j < nb; j++) {
		size_t to = s->inverse ? s->perm[j] : j;
		size_t from = s->inverse ? j : s->perm[j];
		size_t ty = to / nbx * b, tx = to % nbx * b;
		size_t fy = from / nbx * b, fx = from % nbx * b;

		for (int64_t ch = 0; ch < s->c; ch++)
			for (int64_t r = 0; r < b; r++) {
				size_t o = ((size_t)ch * s->h + ty + r) * s->w + tx;
				size_t i = ((size_t)ch * s->h + fy + r) * s->w + fx;

				for (int64_t q = 0; q < b; q++)
					s->src[o + q] = (uint32_t)(i + q);
			}
	}
}

int
xf_shuffle_init(struct xf_shuffle *s, enum xf_shuffle_mode mode, int64_t c,
    int64_t h, int64_t w, int64_t b, uint64_t seed, int inverse,
    struct xf_err *err)
{
	size_t size;

	memset(s, 0, sizeof *s);
	if (c < 1 || h < 1 || w < 1 || c * h * w > (1 << 26))
		return xf_errf(err, "image shape %lldx%lldx%lld out of range",
		    (long long)c, (long long)h, (long long)w);
	size = (size_t)(c * h * w);
	if (mode == XF_SHUFFLE_PIXEL)
		b = 1;
	else if (b < 1 || h % b != 0 || w % b != 0)
		return xf_errf(err, "block size %lld does not divide the image's "
		    "%lldx%lld pixels", (long long)b, (long long)h, (long long)w);
	s->mode = mode;
	s->c = c;
	s->h = h;
	s->w = w;
	s->b = b;
	s->inverse = inverse;
	s->n_perm = mode == XF_SHUFFLE_PIXEL ? size : (size_t)(h / b * (w / b));
	s->perm = malloc(s->n_perm * sizeof *s->perm);
	s->src = malloc(size * sizeof *s->src);
	if (s->perm == NULL || s->src == NULL) {
		xf_shuffle_free(s);
		return xf_errf(err, "out of memory");
	}
	xf_rng_seed(&s->rng, seed);
	if (mode != XF_SHUFFLE_IMAGE) {
		xf_rng_permute(&s->rng, s->perm, s->n_perm, 1);
		build_map(s);
	}
	return 0;
}

void
xf_shuffle_apply(struct xf_shuffle *s, uint8_t *restrict out,
    const uint8_t *restrict in)
{
	size_t size = (size_t)(s->c * s->h * s->w);
	const uint32_t *restrict src;

	if (s->mode == XF_SHUFFLE_IMAGE) {
		xf_rng_permute(&s->rng, s->perm, s->n_perm, 1);
		build_map(s);
	}
	/* A local restrict copy: out is bytes, which may alias anything, and
	 * without it every store would reload s->src. */
	src = s->src;
	for (size_t k = 0; k < size; k++)
		out[k] = in[src[k]];
}

void
xf_shuffle_free(struct xf_shuffle *s)
{
	free(s->perm);
	free(s->src);
	memset(s, 0, sizeof *s);
}
