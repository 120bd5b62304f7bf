/*
 * select.c: xf_select, a seeded choice of records by class, and the
 * selection's release.  See data.h.
 */
#include <stdlib.h>
#include <string.h>

#include "data.h"

void
xf_selection_free(struct xf_selection *s)
{
	free(s->idx);
	free(s->label);
	memset(s, 0, sizeof *s);
}

static int
cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Draws k of the n indices in pool without replacement: a partial
 * Fisher-Yates, so the first k of pool are the sample.
 */
static void
sample(struct xf_rng *rng, size_t *pool, size_t n, size_t k)
{
	for (size_t i = 0; i < k; i++) {
		size_t j = i + (size_t)xf_rng_below(rng, n - i), t = pool[i];

		pool[i] = pool[j];
		pool[j] = t;
	}
}

int
xf_select(struct xf_selection *out, const uint8_t *y, size_t n,
    int64_t n_classes, const long long *classes, int n_sel, size_t per_class,
    size_t take, uint64_t seed, struct xf_err *err)
{
	int16_t relabel[256];   /* new label of each old one, -1: dropped */
	size_t have[256] = {0}, kept = 0, at = 0;
	size_t *pool = NULL;
	struct xf_rng rng;

	memset(out, 0, sizeof *out);
	for (int c = 0; c < 256; c++)
		relabel[c] = n_sel > 0 ? -1 : (int16_t)c;
	for (int k = 0; k < n_sel; k++) {
		if (classes[k] < 0 || classes[k] >= n_classes)
			return xf_errf(err, "class %lld is not in 0..%lld",
			    classes[k], (long long)n_classes - 1);
		if (relabel[classes[k]] >= 0)
			return xf_errf(err, "class %lld is given twice", classes[k]);
		relabel[classes[k]] = (int16_t)k;
	}
	for (size_t i = 0; i < n; i++)
		if (relabel[y[i]] >= 0) {
			have[y[i]]++;
			kept++;
		}
	if (per_class > 0)
		for (int c = 0; c < 256; c++)
			if (relabel[c] >= 0 && (n_sel > 0 || c < n_classes) &&
			    have[c] < per_class)
				return xf_errf(err, "class %d has %zu examples, fewer "
				    "than the %zu asked for", c, have[c], per_class);
	if (take > kept)
		return xf_errf(err, "%zu examples asked for, the source has %zu",
		    take, kept);
	if ((pool = malloc((kept ? kept : 1) * sizeof *pool)) == NULL)
		return xf_errf(err, "out of memory");
	xf_rng_seed(&rng, seed);
	if (per_class > 0) {
		/* Each class in turn, in label order: a fixed draw per seed. */
		for (int c = 0; c < 256; c++) {
			size_t m = 0;

			if (relabel[c] < 0 || have[c] == 0)
				continue;
			for (size_t i = 0; i < n; i++)
				if (y[i] == c)
					pool[at + m++] = i;
			sample(&rng, pool + at, m, per_class);
			at += per_class;
		}
	} else {
		for (size_t i = 0; i < n; i++)
			if (relabel[y[i]] >= 0)
				pool[at++] = i;
		if (take > 0) {
			sample(&rng, pool, at, take);
			at = take;
		}
	}
	qsort(pool, at, sizeof *pool, cmp_size);
	out->n = at;
	out->idx = pool;
	out->label = malloc(at ? at : 1);
	if (out->label == NULL) {
		xf_selection_free(out);
		return xf_errf(err, "out of memory");
	}
	for (size_t i = 0; i < at; i++)
		out->label[i] = (uint8_t)relabel[y[pool[i]]];
	out->n_classes = n_sel > 0 ? n_sel : n_classes;
	return 0;
}
