#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

/*
 * Training-time augmentation, as CIFAR training uses it (He et al. 2016,
 * torchvision's RandomCrop(size, padding=p) then RandomHorizontalFlip()):
 * the image is padded with p zeros on every side, a window of its own size
 * is cut at a random offset, and it is mirrored left to right with
 * probability 1/2.  The draw for an example is a function of (seed, epoch,
 * example) only, never of a stream RNG's position: the same image comes out
 * whatever the threads, the batch or where a resumed run started.
 */

int
xf_augment_parse(struct xf_augment *a, const char *text, struct xf_err *err)
{
	const char *p = text;

	memset(a, 0, sizeof *a);
	if (strcmp(text, "none") == 0)
		return 0;
	while (*p != 0) {
		size_t len = strcspn(p, ",");

		if (len == 4 && strncmp(p, "flip", 4) == 0 && !a->flip) {
			a->flip = 1;
		} else if (len > 5 && strncmp(p, "crop:", 5) == 0 && a->pad == 0) {
			char *end;
			long v = strtol(p + 5, &end, 10);

			if (end != p + len || v < 1 || v > XF_AUGMENT_MAX_PAD ||
			    p[5] < '0' || p[5] > '9')
				return xf_errf(err, "crop:%.*s: want a padding of "
				    "1..%d", (int)len - 5, p + 5, XF_AUGMENT_MAX_PAD);
			a->pad = (int)v;
		} else {
			return xf_errf(err, "item \"%.*s\": want crop:P, flip "
			    "(each once) or none", (int)len, p);
		}
		p += len;
		if (*p == ',' && *++p == 0)
			return xf_errf(err, "empty item at the end");
	}
	if (p == text)
		return xf_errf(err, "empty: want crop:P, flip or none");
	return 0;
}

void
xf_augment_str(char *buf, size_t size, const struct xf_augment *a)
{
	if (a->pad && a->flip)
		snprintf(buf, size, "crop:%d,flip", a->pad);
	else if (a->pad)
		snprintf(buf, size, "crop:%d", a->pad);
	else
		snprintf(buf, size, "%s", a->flip ? "flip" : "none");
}

void
xf_augment_draw(const struct xf_augment *a, uint64_t seed, int epoch,
    uint64_t example, int *dy, int *dx, int *flip)
{
	/* "augm" keeps these draws apart from the seed's other uses. */
	uint64_t h = xf_rng_mix(seed ^ 0x6175676dULL);
	uint64_t span;

	h = xf_rng_mix(xf_rng_mix(h ^ (uint64_t)epoch) ^ example);
	span = 2 * (uint64_t)a->pad + 1;

	*dy = (int)(h % span);
	h = xf_rng_mix(h);
	*dx = (int)(h % span);
	*flip = a->flip ? (int)(xf_rng_mix(h) >> 63) : 0;
}

/* One row: out[x] = row[x + off] (mirrored: out[x] = row[w-1-x + off]),
 * zero where that falls outside [0, w). */
static void
crop_row(uint8_t *out, const uint8_t *row, int w, int off, int flip)
{
	/* the x whose source column is inside: lo <= x < hi */
	int lo = off < 0 ? -off : 0, hi = off > 0 ? w - off : w;

	if (hi <= lo) {
		memset(out, 0, (size_t)w);
		return;
	}
	if (!flip) {
		memset(out, 0, (size_t)lo);
		memcpy(out + lo, row + lo + off, (size_t)(hi - lo));
		memset(out + hi, 0, (size_t)(w - hi));
		return;
	}
	/* mirrored: out[x] = src[w-1-x], src[x'] = row[x' + off] */
	memset(out, 0, (size_t)(w - hi));
	for (int x = w - hi; x < w - lo; x++)
		out[x] = row[w - 1 - x + off];
	memset(out + (w - lo), 0, (size_t)lo);
}

void
xf_augment_image(uint8_t *out, const uint8_t *in, int c, int h, int w,
    int pad, int dy, int dx, int flip)
{
	for (int ch = 0; ch < c; ch++) {
		const uint8_t *plane = in + (size_t)ch * h * w;
		uint8_t *o = out + (size_t)ch * h * w;

		for (int y = 0; y < h; y++) {
			int sy = y + dy - pad;

			if (sy < 0 || sy >= h)
				memset(o + (size_t)y * w, 0, (size_t)w);
			else
				crop_row(o + (size_t)y * w, plane + (size_t)sy * w,
				    w, dx - pad, flip);
		}
	}
}

void
xf_augment_image_ref(uint8_t *out, const uint8_t *in, int c, int h, int w,
    int pad, int dy, int dx, int flip)
{
	/* Pad, crop, then mirror, literally. */
	int ph = h + 2 * pad, pw = w + 2 * pad;
	uint8_t *padded = calloc((size_t)ph * pw, 1);
	uint8_t *crop = malloc((size_t)h * w);

	if (padded == NULL || crop == NULL)
		abort();
	for (int ch = 0; ch < c; ch++) {
		memset(padded, 0, (size_t)ph * pw);
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++)
				padded[(size_t)(y + pad) * pw + x + pad] =
				    in[((size_t)ch * h + y) * w + x];
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++)
				crop[(size_t)y * w + x] =
				    padded[(size_t)(y + dy) * pw + x + dx];
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++)
				out[((size_t)ch * h + y) * w + x] =
				    crop[(size_t)y * w + (flip ? w - 1 - x : x)];
	}
	free(padded);
	free(crop);
}
