/*
 * align.c: permutation groups of a network, weight matching and activation
 * matching (Ainsworth, Hayase and Srinivasa 2023, §3.1 and §3.2), and the
 * permuted model.  See align.h for the structure and for how residual
 * networks add to it.  Cost matrices are sums of products in double, formed
 * by BLIS dgemm.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <blis.h>

#include "align.h"

/* A tensor seen along one group axis: outer × n units × unit floats. */
struct view {
	size_t off;           /* of the tensor in the snapshot */
	size_t outer, unit;
	int n;
};

static size_t
snapshot_count(const struct xf_model *m)
{
	return xf_snapshot_offset(m, xf_model_n_tensors(m));
}

static struct view
axis_view(const struct xf_model *m, const struct xf_align_axis *ax)
{
	const struct xf_model_tensor *t = xf_model_tensor(m, ax->tensor);
	struct view v = { xf_snapshot_offset(m, ax->tensor), 1, ax->block, 0 };

	for (int d = 0; d < ax->axis; d++)
		v.outer *= (size_t)t->shape[d];
	for (int d = ax->axis + 1; d < t->ndim; d++)
		v.unit *= (size_t)t->shape[d];
	v.n = (int)(t->shape[ax->axis] / ax->block);
	return v;
}

/* ---- groups ---- */

static int
add_axis(struct xf_align_group *grp, int tensor, int axis, int block,
    struct xf_err *err)
{
	if (grp->n_axes == XF_ALIGN_MAX_AXES)
		return xf_errf(err, "%s: over %d tensor axes", grp->name,
		    XF_ALIGN_MAX_AXES);
	grp->axes[grp->n_axes++] = (struct xf_align_axis){ tensor, axis, block };
	return 0;
}

/* Every tensor of module k along axis 0. */
static int
add_module_rows(const struct xf_model *m, struct xf_align_group *grp, int k,
    struct xf_err *err)
{
	const struct xf_module *mod = xf_model_module(m, k);

	for (int i = 0; i < mod->n_tensors; i++) {
		const struct xf_model_tensor *t =
		    xf_model_tensor(m, mod->first_tensor + i);

		if (t->shape[0] != grp->n)
			return xf_errf(err, "tensor %s: %lld rows, want %d",
			    t->name, (long long)t->shape[0], grp->n);
		if (add_axis(grp, mod->first_tensor + i, 0, 1, err) < 0)
			return -1;
	}
	return 0;
}

/* The next conv or linear module's weight reads the units along axis 1;
 * a linear layer after a conv reads them in blocks of H·W. */
static int
add_reader(const struct xf_model *m, struct xf_align_group *grp, int k,
    struct xf_err *err)
{
	const struct xf_module *mod = xf_model_module(m, k);
	const struct xf_model_tensor *w = xf_model_tensor(m, mod->first_tensor);

	if (w->ndim < 2 || w->shape[1] % grp->n != 0)
		return xf_errf(err, "tensor %s: %lld inputs, not a multiple of "
		    "%s's %d units", w->name, w->ndim < 2 ? 0LL :
		    (long long)w->shape[1], grp->name, grp->n);
	if (mod->kind == XF_MODULE_CONV && w->shape[1] != grp->n)
		return xf_errf(err, "tensor %s: %lld input channels, want %d",
		    w->name, (long long)w->shape[1], grp->n);
	return add_axis(grp, mod->first_tensor, 1,
	    (int)(w->shape[1] / grp->n), err);
}

int
xf_align_groups_plain(const struct xf_model *m, struct xf_align_groups *g,
    struct xf_err *err)
{
	int nm = xf_model_n_modules(m);

	memset(g, 0, sizeof *g);
	if (nm < 1 || xf_model_module(m, nm - 1)->kind != XF_MODULE_LINEAR)
		return xf_errf(err, "model has no linear head");
	if ((g->g = calloc(nm, sizeof *g->g)) == NULL)
		return xf_errf(err, "out of memory");
	for (int k = 0; k < nm - 1; k++) {
		const struct xf_module *mod = xf_model_module(m, k);
		struct xf_align_group *grp = &g->g[g->n];
		int r = k + 1;

		if (mod->kind == XF_MODULE_BN)
			continue;
		snprintf(grp->name, sizeof grp->name, "%s", mod->name);
		grp->n = (int)xf_model_tensor(m, mod->first_tensor)->shape[0];
		grp->act_module = k;
		if (add_module_rows(m, grp, k, err) < 0)
			goto fail;
		for (; r < nm && xf_model_module(m, r)->kind == XF_MODULE_BN; r++)
			if (xf_model_module(m, r)->stage == mod->stage &&
			    add_module_rows(m, grp, r, err) < 0)
				goto fail;
		if (r == nm) {
			xf_errf(err, "%s: no layer reads its output", mod->name);
			goto fail;
		}
		if (add_reader(m, grp, r, err) < 0)
			goto fail;
		g->n++;
	}
	return 0;
fail:
	xf_align_groups_free(g);
	return -1;
}

/* A new group for module k's rows, its units in module act's activation. */
static struct xf_align_group *
new_group(const struct xf_model *m, struct xf_align_groups *g, int k, int act,
    const char *name)
{
	struct xf_align_group *grp = &g->g[g->n++];

	snprintf(grp->name, sizeof grp->name, "%s", name);
	grp->n = (int)xf_model_tensor(m, xf_model_module(m, k)->first_tensor)->
	    shape[0];
	grp->act_module = act;
	return grp;
}

/* Module "block.suffix", or -1. */
static int
block_part(const struct xf_model *m, const char *block, const char *suffix)
{
	char name[80];

	snprintf(name, sizeof name, "%s.%s", block, suffix);
	return xf_model_find_module(m, name);
}

/*
 * A basic block (nn.h: conv1-bn1-ReLU-conv2-bn2 plus the shortcut) reading
 * the stream of group *cur: conv1's outputs are a group of their own, read
 * by conv2; conv2 and bn2 write into the stream, so they join *cur when the
 * shortcut is the identity, and with a projection they and the projection
 * start the next stream's group.
 */
static int
add_block(const struct xf_model *m, struct xf_align_groups *g, int k,
    int *cur, char *done, struct xf_err *err)
{
	const char *name = xf_model_module(m, k)->name;
	int c1 = block_part(m, name, "conv1"), b1 = block_part(m, name, "bn1");
	int c2 = block_part(m, name, "conv2"), b2 = block_part(m, name, "bn2");
	int d0 = block_part(m, name, "downsample.0");
	int d1 = block_part(m, name, "downsample.1");
	struct xf_align_group *h, *out;

	if (c1 < 0 || b1 < 0 || c2 < 0 || b2 < 0 || (d0 < 0) != (d1 < 0) ||
	    *cur < 0)
		return xf_errf(err, "%s: not a basic residual block after a "
		    "conv", name);
	done[c1] = done[b1] = done[c2] = done[b2] = 1;
	if (add_reader(m, &g->g[*cur], c1, err) < 0)
		return -1;
	h = new_group(m, g, c1, c1, xf_model_module(m, c1)->name);
	if (add_module_rows(m, h, c1, err) < 0 ||
	    add_module_rows(m, h, b1, err) < 0 || add_reader(m, h, c2, err) < 0)
		return -1;
	if (d0 < 0) {
		out = &g->g[*cur];
	} else {
		done[d0] = done[d1] = 1;
		if (add_reader(m, &g->g[*cur], d0, err) < 0)
			return -1;
		*cur = g->n;
		out = new_group(m, g, c2, k, name);
		if (add_module_rows(m, out, d0, err) < 0 ||
		    add_module_rows(m, out, d1, err) < 0)
			return -1;
	}
	return add_module_rows(m, out, c2, err) < 0 ? -1 :
	    add_module_rows(m, out, b2, err);
}

int
xf_align_groups_resid(const struct xf_model *m, struct xf_align_groups *g,
    struct xf_err *err)
{
	int nm = xf_model_n_modules(m), cur = -1;
	char *done;

	memset(g, 0, sizeof *g);
	if (nm < 1 || xf_model_module(m, nm - 1)->kind != XF_MODULE_LINEAR)
		return xf_errf(err, "model has no linear head");
	g->g = calloc(nm, sizeof *g->g);
	done = calloc(nm, 1);
	if (g->g == NULL || done == NULL) {
		free(done);
		xf_align_groups_free(g);
		return xf_errf(err, "out of memory");
	}
	for (int k = 0; k < nm; k++) {
		const struct xf_module *mod = xf_model_module(m, k);
		struct xf_align_group *grp;

		if (done[k])
			continue;
		if (mod->kind == XF_MODULE_BLOCK) {
			if (add_block(m, g, k, &cur, done, err) < 0)
				goto fail;
			continue;
		}
		if (mod->kind == XF_MODULE_BN) {
			xf_errf(err, "%s: a batch norm after no conv", mod->name);
			goto fail;
		}
		if (cur >= 0 && add_reader(m, &g->g[cur], k, err) < 0)
			goto fail;
		if (k == nm - 1)
			break;
		cur = g->n;
		grp = new_group(m, g, k, k, mod->name);
		if (add_module_rows(m, grp, k, err) < 0)
			goto fail;
		for (int r = k + 1; r < nm && xf_model_module(m, r)->kind ==
		    XF_MODULE_BN && xf_model_module(m, r)->stage == mod->stage;
		    r++) {
			done[r] = 1;
			if (add_module_rows(m, grp, r, err) < 0)
				goto fail;
		}
	}
	free(done);
	return 0;
fail:
	free(done);
	xf_align_groups_free(g);
	return -1;
}

int
xf_align_groups(const struct xf_model *m, struct xf_align_groups *g,
    struct xf_err *err)
{
	for (int k = 0; k < xf_model_n_modules(m); k++)
		if (xf_model_module(m, k)->kind == XF_MODULE_BLOCK)
			return xf_align_groups_resid(m, g, err);
	return xf_align_groups_plain(m, g, err);
}

void
xf_align_groups_free(struct xf_align_groups *g)
{
	free(g->g);
	memset(g, 0, sizeof *g);
}

int **
xf_align_perms_alloc(const struct xf_align_groups *g)
{
	int **perm = calloc(g->n > 0 ? g->n : 1, sizeof *perm);

	if (perm == NULL)
		return NULL;
	for (int k = 0; k < g->n; k++) {
		if ((perm[k] = malloc(g->g[k].n * sizeof **perm)) == NULL) {
			xf_align_perms_free(g, perm);
			return NULL;
		}
		for (int i = 0; i < g->g[k].n; i++)
			perm[k][i] = i;
	}
	return perm;
}

void
xf_align_perms_free(const struct xf_align_groups *g, int **perm)
{
	for (int k = 0; perm != NULL && k < g->n; k++)
		free(perm[k]);
	free(perm);
}

/* ---- the permuted model ---- */

int
xf_align_apply(const struct xf_model *m, const struct xf_align_groups *g,
    int *const *perm, const float *b, float *out, struct xf_err *err)
{
	size_t max = 0;
	float *tmp;

	for (int i = 0; i < xf_model_n_tensors(m); i++)
		if (xf_model_tensor(m, i)->count > max)
			max = xf_model_tensor(m, i)->count;
	if ((tmp = malloc((max ? max : 1) * sizeof *tmp)) == NULL)
		return xf_errf(err, "out of memory");
	memcpy(out, b, snapshot_count(m) * sizeof *out);
	/* Axes of different groups commute, so one at a time will do. */
	for (int k = 0; k < g->n; k++) {
		for (int a = 0; a < g->g[k].n_axes; a++) {
			struct view v = axis_view(m, &g->g[k].axes[a]);
			size_t len = v.unit * sizeof *tmp, row = v.n * v.unit;
			float *t = out + v.off;

			memcpy(tmp, t, v.outer * row * sizeof *tmp);
			for (size_t o = 0; o < v.outer; o++)
				for (int i = 0; i < v.n; i++)
					memcpy(t + o * row + i * v.unit,
					    tmp + o * row + perm[k][i] * v.unit, len);
		}
	}
	free(tmp);
	return 0;
}

double
xf_align_inner(const struct xf_model *m, const float *a, const float *b)
{
	double s = 0;
	size_t off = 0;

	for (int i = 0; i < xf_model_n_tensors(m); i++) {
		const struct xf_model_tensor *t = xf_model_tensor(m, i);

		for (size_t j = off; t->is_param && j < off + t->count; j++)
			s += (double)a[j] * b[j];
		off += t->count;
	}
	return s;
}

/* c += x y^T for x, y (n, len) row-major. */
static void
gram_add(double *c /* (n, n) */, const double *x, const double *y, int n,
    size_t len)
{
	double one = 1;

	bli_dgemm(BLIS_NO_TRANSPOSE, BLIS_TRANSPOSE, n, n, (dim_t)len, &one,
	    (double *)x, (inc_t)len, 1, (double *)y, (inc_t)len, 1, &one, c, n, 1);
}

/* Solves max Σ_i score[i][σ(i)] into sigma; *best gets the sum. */
static int
assign_max(const double *score, int n, double *neg, int *sigma, double *best,
    const char *name, struct xf_err *err)
{
	struct xf_err e;
	double total;

	for (size_t i = 0; i < (size_t)n * n; i++)
		neg[i] = -score[i];
	if (xf_lap_solve(neg, n, n, sigma, &total, &e) < 0)
		return xf_errf(err, "%s: %s", name, e.msg);
	*best = -total;
	return 0;
}

/* ---- weight matching ---- */

struct wm {
	const struct xf_model *m;
	const struct xf_align_groups *g;
	const float *b;
	double *da, *db;       /* A and the permuted B, in double */
	float *fb;
	size_t count;
};

/*
 * c += Σ_o Σ_u x[o][i][u] y[o][j][u] over a view: as outer products of
 * (n, unit) blocks, or as min(outer, unit) products of strided (outer, n)
 * slices when there are fewer of those (a linear layer's input axis).
 */
static void
view_gram_add(double *c /* (n, n) */, const double *x, const double *y,
    const struct view *v)
{
	size_t row = (size_t)v->n * v->unit;
	double one = 1;

	if (v->outer <= v->unit) {
		for (size_t o = 0; o < v->outer; o++)
			gram_add(c, x + o * row, y + o * row, v->n, v->unit);
		return;
	}
	for (size_t u = 0; u < v->unit; u++)
		bli_dgemm(BLIS_TRANSPOSE, BLIS_NO_TRANSPOSE, v->n, v->n,
		    (dim_t)v->outer, &one, (double *)x + u, (inc_t)row,
		    (inc_t)v->unit, (double *)y + u, (inc_t)row, (inc_t)v->unit,
		    &one, c, v->n, 1);
}

/* c[i][k] = Σ over the group's parameter axes of ⟨A's unit i, B's unit at
 * position k⟩, B with every current permutation applied. */
static void
wm_cost(const struct wm *w, int k, double *c)
{
	const struct xf_align_group *grp = &w->g->g[k];

	memset(c, 0, (size_t)grp->n * grp->n * sizeof *c);
	for (int a = 0; a < grp->n_axes; a++) {
		struct view v = axis_view(w->m, &grp->axes[a]);

		if (xf_model_tensor(w->m, grp->axes[a].tensor)->is_param)
			view_gram_add(c, w->da + v.off, w->db + v.off, &v);
	}
}

static int
wm_permute(struct wm *w, int *const *perm, struct xf_err *err)
{
	if (xf_align_apply(w->m, w->g, perm, w->b, w->fb, err) < 0)
		return -1;
	for (size_t i = 0; i < w->count; i++)
		w->db[i] = w->fb[i];
	return 0;
}

static double
trace(const double *c, int n)
{
	double s = 0;

	for (int i = 0; i < n; i++)
		s += c[(size_t)i * n + i];
	return s;
}

static int
max_units(const struct xf_align_groups *g)
{
	int max = 1;

	for (int k = 0; k < g->n; k++)
		if (g->g[k].n > max)
			max = g->g[k].n;
	return max;
}

int
xf_align_weights(const struct xf_model *m, const float *a, const float *b,
    const struct xf_align_groups *g, const struct xf_align_opt *opt,
    int **perm, int *sweeps, struct xf_align_stat *stats, struct xf_err *err)
{
	struct wm w = { m, g, b, NULL, NULL, NULL, snapshot_count(m) };
	size_t nn = (size_t)max_units(g) * max_units(g);
	double *c = malloc(nn * sizeof *c), *score = malloc(nn * sizeof *score);
	double *neg = malloc(nn * sizeof *neg);
	int *sigma = malloc(max_units(g) * sizeof *sigma), rc = -1, s = 0;
	uint32_t *order = malloc((g->n ? g->n : 1) * sizeof *order);
	struct xf_rng rng;

	w.da = malloc(w.count * sizeof *w.da);
	w.db = malloc(w.count * sizeof *w.db);
	w.fb = malloc(w.count * sizeof *w.fb);
	if (c == NULL || score == NULL || neg == NULL || sigma == NULL ||
	    order == NULL || w.da == NULL || w.db == NULL || w.fb == NULL) {
		xf_errf(err, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < w.count; i++)
		w.da[i] = a[i];
	if (wm_permute(&w, perm, err) < 0)
		goto out;
	for (int k = 0; stats != NULL && k < g->n; k++) {
		wm_cost(&w, k, c);
		stats[k].before = trace(c, g->g[k].n);
	}
	xf_rng_seed(&rng, opt->seed);
	for (s = 0; s < opt->max_sweeps; ) {
		int progress = 0;

		xf_rng_permute(&rng, order, g->n, 1);
		for (int o = 0; o < g->n; o++) {
			int k = order[o], n = g->g[k].n;
			double old, best;

			wm_cost(&w, k, c);
			old = trace(c, n);
			/* Column perm[k][j] of B holds the unit at position j. */
			for (int i = 0; i < n; i++)
				for (int j = 0; j < n; j++)
					score[(size_t)i * n + perm[k][j]] =
					    c[(size_t)i * n + j];
			if (assign_max(score, n, neg, sigma, &best, g->g[k].name,
			    err) < 0)
				goto out;
			/* Ties and rounding must not make the descent cycle:
			 * only a strict gain moves a permutation. */
			if (best > old + 1e-12 * fmax(1, fabs(old)) &&
			    memcmp(sigma, perm[k], n * sizeof *sigma) != 0) {
				memcpy(perm[k], sigma, n * sizeof *sigma);
				if (wm_permute(&w, perm, err) < 0)
					goto out;
				progress = 1;
			}
		}
		s++;
		if (!progress)
			break;
	}
	for (int k = 0; stats != NULL && k < g->n; k++) {
		wm_cost(&w, k, c);
		stats[k].after = trace(c, g->g[k].n);
		stats[k].moved = 0;
		for (int i = 0; i < g->g[k].n; i++)
			stats[k].moved += perm[k][i] != i;
	}
	if (sweeps != NULL)
		*sweeps = s;
	rc = 0;
out:
	free(c);
	free(score);
	free(neg);
	free(sigma);
	free(order);
	free(w.da);
	free(w.db);
	free(w.fb);
	return rc;
}

/* ---- activation matching ---- */

/* Sums over samples of one group's units in A and B. */
struct moments {
	double *sa, *sb, *qa, *qb;   /* (n): Σa, Σb, Σa², Σb² */
	double *cross;               /* (n, n): Σ a_i b_j */
	double samples;
};

static int
moments_alloc(struct moments *mo, int n)
{
	memset(mo, 0, sizeof *mo);
	mo->sa = calloc(4 * (size_t)n + (size_t)n * n, sizeof(double));
	if (mo->sa == NULL)
		return -1;
	mo->sb = mo->sa + n;
	mo->qa = mo->sb + n;
	mo->qb = mo->qa + n;
	mo->cross = mo->qb + n;
	return 0;
}

/* Adds n examples of activations (n, units, hw) of A and B; buf holds
 * 2·batch·units·hw doubles. */
static void
moments_add(struct moments *mo, const float *fa, const float *fb, int n,
    int units, size_t hw, double *buf)
{
	size_t per = (size_t)units * hw, all = per * n;
	double *da = buf, *db = buf + all, one = 1;

	for (size_t i = 0; i < all; i++) {
		int u = (int)(i / hw % units);

		da[i] = fa[i];
		db[i] = fb[i];
		mo->sa[u] += da[i];
		mo->sb[u] += db[i];
		mo->qa[u] += da[i] * da[i];
		mo->qb[u] += db[i] * db[i];
	}
	if (hw == 1)	/* (n, units): one product over the batch */
		bli_dgemm(BLIS_TRANSPOSE, BLIS_NO_TRANSPOSE, units, units, n, &one,
		    da, units, 1, db, units, 1, &one, mo->cross, units, 1);
	else
		for (int e = 0; e < n; e++)
			gram_add(mo->cross, da + e * per, db + e * per, units, hw);
	mo->samples += (double)n * hw;
}

/* Pearson correlation of A's unit i with B's unit j into corr; a unit
 * constant on the data correlates 0 with everything. */
static void
moments_corr(const struct moments *mo, int n, double *corr)
{
	double N = mo->samples;

	for (int i = 0; i < n; i++) {
		double ma = mo->sa[i] / N;
		double va = mo->qa[i] / N - ma * ma;

		for (int j = 0; j < n; j++) {
			double mb = mo->sb[j] / N;
			double vb = mo->qb[j] / N - mb * mb;
			double cov = mo->cross[(size_t)i * n + j] / N - ma * mb;

			/* Rounding leaves a constant unit a variance of
			 * about 1e-16 of its square, not 0. */
			if (va <= 1e-12 * mo->qa[i] / N ||
			    vb <= 1e-12 * mo->qb[j] / N)
				corr[(size_t)i * n + j] = 0;
			else
				corr[(size_t)i * n + j] = cov / sqrt(va * vb);
		}
	}
}

int
xf_align_activations(struct xf_model *ma, struct xf_model *mb,
    const struct xf_dataset *d, const struct xf_align_groups *g,
    const struct xf_align_opt *opt, int **perm, struct xf_align_stat *stats,
    struct xf_err *err)
{
	size_t img = (size_t)d->c * d->h * d->w, max = 1;
	size_t nn = (size_t)max_units(g) * max_units(g);
	struct moments *mo = calloc(g->n ? g->n : 1, sizeof *mo);
	double *corr = malloc(nn * sizeof *corr), *neg = malloc(nn * sizeof *neg);
	double *buf = NULL;
	int rc = -1;

	if (mo == NULL || corr == NULL || neg == NULL)
		goto oom;
	for (int k = 0; k < g->n; k++)
		if (moments_alloc(&mo[k], g->g[k].n) < 0)
			goto oom;
	if (d->n == 0) {
		xf_errf(err, "no examples");
		goto out;
	}
	for (size_t at = 0; at < d->n; at += opt->batch) {
		int n = d->n - at < (size_t)opt->batch ? (int)(d->n - at) :
		    opt->batch;
		float loss;

		if (xf_model_forward(ma, d->x + at * img, NULL, n, 0, &loss,
		    err) < 0 ||
		    xf_model_forward(mb, d->x + at * img, NULL, n, 0, &loss,
		    err) < 0)
			goto out;
		for (int k = 0; k < g->n; k++) {
			const struct xf_align_group *grp = &g->g[k];
			int ndim, shape[3];
			size_t count;
			const float *fa = xf_model_activation(ma, grp->act_module,
			    &ndim, shape, &count);
			const float *fb = xf_model_activation(mb, grp->act_module,
			    &ndim, shape, &count);

			if (shape[0] != grp->n || count % grp->n != 0) {
				xf_errf(err, "%s: activation of %d units, want %d",
				    grp->name, shape[0], grp->n);
				goto out;
			}
			if (2 * count * n > max) {
				max = 2 * count * opt->batch;
				free(buf);
				if ((buf = malloc(max * sizeof *buf)) == NULL)
					goto oom;
			}
			moments_add(&mo[k], fa, fb, n, grp->n, count / grp->n,
			    buf);
		}
	}
	for (int k = 0; k < g->n; k++) {
		int n = g->g[k].n;
		double best;

		moments_corr(&mo[k], n, corr);
		if (assign_max(corr, n, neg, perm[k], &best, g->g[k].name,
		    err) < 0)
			goto out;
		if (stats != NULL) {
			stats[k].before = trace(corr, n);
			stats[k].after = best;
			stats[k].moved = 0;
			for (int i = 0; i < n; i++)
				stats[k].moved += perm[k][i] != i;
		}
	}
	rc = 0;
	goto out;
oom:
	xf_errf(err, "out of memory");
out:
	for (int k = 0; mo != NULL && k < g->n; k++)
		free(mo[k].sa);
	free(mo);
	free(corr);
	free(neg);
	free(buf);
	return rc;
}
