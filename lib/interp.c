/*
 * interp.c: lines and planes in weight space, for xf-interp.  See
 * landscape.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "landscape.h"

/* b's input shape against a's; its class count in *bk, a's in *ak. */
static int
same_shape(const struct xf_model *a, const struct xf_model *b, int *ak,
    int *bk, struct xf_err *err)
{
	int ac, ah, aw, bc, bh, bw;

	xf_model_input_shape(a, &ac, &ah, &aw, ak);
	xf_model_input_shape(b, &bc, &bh, &bw, bk);
	if (ac != bc || ah != bh || aw != bw)
		return xf_errf(err, "input %dx%dx%d, want %dx%dx%d", bc, bh, bw,
		    ac, ah, aw);
	return 0;
}

int
xf_model_same_input(const struct xf_model *a, const struct xf_model *b,
    struct xf_err *err)
{
	float am[XF_NORM_MAX_C], as[XF_NORM_MAX_C];
	float bm[XF_NORM_MAX_C], bs[XF_NORM_MAX_C];
	int ak, bk, c, h, w;

	if (same_shape(a, b, &ak, &bk, err) < 0)
		return -1;
	xf_model_input_shape(a, &c, &h, &w, &ak);
	/* No normalisation is mean 0 and std 1, as the manifest reads. */
	for (int i = 0; i < c; i++) {
		am[i] = bm[i] = 0;
		as[i] = bs[i] = 1;
	}
	xf_model_normalize(a, am, as);
	xf_model_normalize(b, bm, bs);
	for (int i = 0; i < c; i++) {
		if (am[i] != bm[i])
			return xf_errf(err, "input.mean.%d %g, want %g", i,
			    (double)bm[i], (double)am[i]);
		if (as[i] != bs[i])
			return xf_errf(err, "input.std.%d %g, want %g", i,
			    (double)bs[i], (double)as[i]);
	}
	return 0;
}

int
xf_model_same_arch(const struct xf_model *a, const struct xf_model *b,
    struct xf_err *err)
{
	int ak, bk;
	int na = xf_model_n_tensors(a), nb = xf_model_n_tensors(b);
	char want[64], got[64];

	if (same_shape(a, b, &ak, &bk, err) < 0)
		return -1;
	if (ak != bk)
		return xf_errf(err, "%d classes, want %d", bk, ak);
	for (int i = 0; i < na || i < nb; i++) {
		const struct xf_model_tensor *ta = i < na ? xf_model_tensor(a, i) :
		    NULL;
		const struct xf_model_tensor *tb = i < nb ? xf_model_tensor(b, i) :
		    NULL;

		if (tb == NULL)
			return xf_errf(err, "tensor %s: missing", ta->name);
		if (ta == NULL)
			return xf_errf(err, "tensor %s: not in the first model",
			    tb->name);
		if (strcmp(ta->name, tb->name) != 0)
			return xf_errf(err, "tensor %d is %s, want %s", i, tb->name,
			    ta->name);
		if (ta->ndim != tb->ndim || memcmp(ta->shape, tb->shape,
		    ta->ndim * sizeof *ta->shape) != 0) {
			xf_shape_str(want, sizeof want, ta->ndim, ta->shape);
			xf_shape_str(got, sizeof got, tb->ndim, tb->shape);
			return xf_errf(err, "tensor %s: shape %s, want %s", ta->name,
			    got, want);
		}
	}
	if (strcmp(xf_model_spec(a), xf_model_spec(b)) != 0)
		return xf_errf(err, "arch \"%s\", want \"%s\"", xf_model_spec(b),
		    xf_model_spec(a));
	return 0;
}

double
xf_params_distance(const struct xf_model *m, const float *a, const float *b,
    double *module_dist)
{
	double total = 0;
	size_t off = 0;

	if (module_dist != NULL)
		for (int k = 0; k < xf_model_n_modules(m); k++)
			module_dist[k] = 0;
	for (int i = 0; i < xf_model_n_tensors(m); i++) {
		const struct xf_model_tensor *t = xf_model_tensor(m, i);
		double s = 0;

		for (size_t j = 0; t->is_param && j < t->count; j++) {
			double d = (double)a[off + j] - b[off + j];

			s += d * d;
		}
		if (module_dist != NULL)
			module_dist[t->module] += s;
		total += s;
		off += t->count;
	}
	if (module_dist != NULL)
		for (int k = 0; k < xf_model_n_modules(m); k++)
			module_dist[k] = sqrt(module_dist[k]);
	return sqrt(total);
}

void
xf_model_blend(struct xf_model *m, const float *a, const float *b,
    double lambda)
{
	size_t off = 0;

	for (int i = 0; i < xf_model_n_tensors(m); i++) {
		const struct xf_model_tensor *t = xf_model_tensor(m, i);

		for (size_t j = 0; j < t->count; j++)
			t->data[j] = (float)((1.0 - lambda) * a[off + j] +
			    lambda * b[off + j]);
		off += t->count;
	}
}

void
xf_model_offset(struct xf_model *m, const float *base, const float *d,
    double t, const float *e, double u)
{
	size_t off = 0;

	for (int i = 0; i < xf_model_n_tensors(m); i++) {
		const struct xf_model_tensor *tn = xf_model_tensor(m, i);

		for (size_t j = 0; j < tn->count; j++) {
			double v = base[off + j];

			if (tn->is_param) {
				v += t * d[off + j];
				if (e != NULL)
					v += u * e[off + j];
			}
			tn->data[j] = (float)v;
		}
		off += tn->count;
	}
}

/*
 * The running statistics are exactly the model's buffers (the tensors that
 * are not parameters): every loop below walks those.
 */
int
xf_model_reset_bn(struct xf_model *m, const struct xf_dataset *d, int batch,
    struct xf_err *err)
{
	size_t img = (size_t)d->c * d->h * d->w, n_stats = 0;
	int nt = xf_model_n_tensors(m);
	long batches = 0;
	double *sum;

	for (int i = 0; i < nt; i++)
		if (!xf_model_tensor(m, i)->is_param)
			n_stats += xf_model_tensor(m, i)->count;
	if (n_stats == 0)
		return 0;
	if ((sum = calloc(n_stats, sizeof *sum)) == NULL)
		return xf_errf(err, "out of memory for batch-norm statistics");
	for (size_t at = 0; at < d->n; at += batch) {
		int n = d->n - at < (size_t)batch ? (int)(d->n - at) : batch;
		size_t s = 0;

		/*
		 * With the running stats at zero before a batch, the engine's
		 * update leaves momentum × the batch statistic in them.
		 */
		for (int i = 0; i < nt; i++) {
			const struct xf_model_tensor *t = xf_model_tensor(m, i);

			if (!t->is_param)
				memset(t->data, 0, t->count * sizeof *t->data);
		}
		if (xf_model_forward(m, d->x + at * img, d->y + at, n, 1, NULL,
		    err) < 0) {
			free(sum);
			return -1;
		}
		for (int i = 0; i < nt; i++) {
			const struct xf_model_tensor *t = xf_model_tensor(m, i);

			for (size_t j = 0; !t->is_param && j < t->count; j++)
				sum[s++] += (double)t->data[j] / XF_BN_MOMENTUM;
		}
		batches++;
	}
	size_t s = 0;
	for (int i = 0; i < nt; i++) {
		const struct xf_model_tensor *t = xf_model_tensor(m, i);

		for (size_t j = 0; !t->is_param && j < t->count; j++)
			t->data[j] = (float)(sum[s++] / batches);
	}
	free(sum);
	return 0;
}

int
xf_model_eval_chunked(struct xf_model *m, const struct xf_dataset *d,
    int batch, struct xf_eval_result *r, struct xf_err *err)
{
	size_t img = (size_t)d->c * d->h * d->w;

	memset(r, 0, sizeof *r);
	for (size_t at = 0; at < d->n; at += batch) {
		struct xf_dataset chunk = *d;
		struct xf_eval_result c;

		chunk.n = d->n - at < (size_t)batch ? d->n - at : (size_t)batch;
		chunk.x = d->x + at * img;
		chunk.y = d->y + at;
		chunk.index = d->index + at;
		if (xf_model_evaluate(m, &chunk, batch, &c, NULL, NULL, NULL,
		    err) < 0)
			return -1;
		xf_eval_result_add(r, &c);
	}
	return 0;
}

void
xf_direction_random(const struct xf_model *m, const float *theta, float *d,
    struct xf_rng *rng, int biasbn)
{
	size_t off = 0;

	for (int i = 0; i < xf_model_n_tensors(m); i++) {
		const struct xf_model_tensor *t = xf_model_tensor(m, i);
		const float *w = theta + off;
		float *dir = d + off;

		off += t->count;
		if (!t->is_param) {
			memset(dir, 0, t->count * sizeof *dir);
			continue;
		}
		if (t->ndim == 1) {
			if (biasbn)
				memcpy(dir, w, t->count * sizeof *dir);
			else
				memset(dir, 0, t->count * sizeof *dir);
			continue;
		}
		for (size_t j = 0; j < t->count; j++)
			dir[j] = xf_rng_normal(rng);
		/* Filters are the rows of the (out, ...) layout. */
		size_t per = t->count / (size_t)t->shape[0];
		for (int64_t o = 0; o < t->shape[0]; o++) {
			double wn = 0, dn = 0;

			for (size_t j = o * per; j < (o + 1) * per; j++) {
				wn += (double)w[j] * w[j];
				dn += (double)dir[j] * dir[j];
			}
			double scale = dn > 0 ? sqrt(wn) / sqrt(dn) : 0;
			for (size_t j = o * per; j < (o + 1) * per; j++)
				dir[j] = (float)(dir[j] * scale);
		}
	}
}

int
xf_model_full_grad(struct xf_model *m, const struct xf_dataset *d, int batch,
    float *g, struct xf_eval_result *r, struct xf_err *err)
{
	size_t img = (size_t)d->c * d->h * d->w, n_snap, n_params, off;
	float *keep, *grads;
	double *acc;
	int k;

	xf_model_input_shape(m, &(int){ 0 }, &(int){ 0 }, &(int){ 0 }, &k);
	if ((keep = xf_model_snapshot(m, &n_snap)) == NULL)
		return xf_errf(err, "out of memory for a snapshot");
	grads = xf_model_grads(m, &n_params);
	if ((acc = calloc(n_params, sizeof *acc)) == NULL) {
		free(keep);
		return xf_errf(err, "out of memory for a gradient");
	}
	memset(r, 0, sizeof *r);
	for (size_t at = 0; at < d->n; at += batch) {
		int n = d->n - at < (size_t)batch ? (int)(d->n - at) : batch;
		double share = (double)n / d->n, chunk = 0;

		if (xf_model_forward(m, d->x + at * img, d->y + at, n, 1, NULL,
		    err) < 0) {
			xf_model_restore(m, keep);
			free(keep);
			free(acc);
			return -1;
		}
		const float *probs = xf_model_probs(m);
		const float *losses = xf_model_losses(m);
		for (int i = 0; i < n; i++) {
			r->correct += xf_argmax(probs + (size_t)i * k, k) == d->y[at + i];
			chunk += losses[i];
		}
		r->loss_sum += chunk;
		r->n += n;
		xf_model_zero_grad(m);
		xf_model_backward(m);
		for (size_t j = 0; j < n_params; j++)
			acc[j] += share * grads[j];
	}
	/* The gradients are in parameter order; spread them over the
	 * snapshot layout, which interleaves buffers. */
	off = 0;
	size_t p = 0;
	for (int i = 0; i < xf_model_n_tensors(m); i++) {
		const struct xf_model_tensor *t = xf_model_tensor(m, i);

		for (size_t j = 0; j < t->count; j++)
			g[off + j] = t->is_param ? (float)acc[p + j] : 0.0f;
		if (t->is_param)
			p += t->count;
		off += t->count;
	}
	xf_model_restore(m, keep);
	xf_model_zero_grad(m);
	free(keep);
	free(acc);
	return 0;
}

size_t
xf_interp_n_points(const struct xf_interp *opt)
{
	return opt->mode == XF_INTERP_PLANE ?
	    (size_t)opt->points * opt->points : (size_t)opt->points;
}

static const char *mode_names[] = { "line", "random", "plane", "gradient" };
static const char *bn_names[] = { "interp", "reset" };

/* Index of s in names[0..n), or -1. */
static int
name_index(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

int
xf_interp_mode_parse(const char *s, enum xf_interp_mode *mode)
{
	int i = name_index(mode_names, 4, s);

	if (i >= 0)
		*mode = i;
	return i < 0 ? -1 : 0;
}

const char *
xf_interp_mode_name(enum xf_interp_mode mode)
{
	return mode_names[mode];
}

int
xf_bn_mode_parse(const char *s, enum xf_bn_mode *mode)
{
	int i = name_index(bn_names, 2, s);

	if (i >= 0)
		*mode = i;
	return i < 0 ? -1 : 0;
}

const char *
xf_bn_mode_name(enum xf_bn_mode mode)
{
	return bn_names[mode];
}

/* Grid point i of n over [lo, hi], with both ends exact. */
static double
grid(double lo, double hi, int i, int n)
{
	if (i == n - 1)
		return hi;
	return lo + (hi - lo) * i / (n - 1);
}

static double
norm2(const float *a, const float *b, size_t n)
{
	double s = 0;

	for (size_t i = 0; i < n; i++) {
		double d = (double)a[i] - (b != NULL ? b[i] : 0.0f);

		s += d * d;
	}
	return sqrt(s);
}

static void
finish(struct xf_interp_point *p)
{
	p->loss = p->r.loss_sum / p->r.n;
	p->acc = (double)p->r.correct / p->r.n;
	p->error = 1.0 - p->acc;
}

int
xf_interp_run(struct xf_model *m, const float *a, const float *b,
    const struct xf_dataset *d, const struct xf_interp *opt,
    struct xf_interp_point *pts,
    void (*emit)(void *arg, const struct xf_interp_point *p), void *arg,
    struct xf_err *err)
{
	const struct xf_dataset *bn_data = opt->bn_data ? opt->bn_data : d;
	size_t n_snap = 0, n_pts = xf_interp_n_points(opt);
	float *d1 = NULL, *d2 = NULL, *g0 = NULL, *g = NULL;
	double g0_norm = 0;
	int ret = -1;

	if (opt->points < 2)
		return xf_errf(err, "%d points: want at least 2", opt->points);
	if (opt->batch < 1)
		return xf_errf(err, "batch of %d", opt->batch);
	for (int i = 0; i < xf_model_n_tensors(m); i++)
		n_snap += xf_model_tensor(m, i)->count;
	if (opt->mode == XF_INTERP_RANDOM || opt->mode == XF_INTERP_PLANE) {
		struct xf_rng rng;

		if ((d1 = malloc(n_snap * sizeof *d1)) == NULL ||
		    (d2 = malloc(n_snap * sizeof *d2)) == NULL)
			goto oom;
		xf_rng_seed(&rng, opt->seed);
		/* One generator: a plane's first axis is the random line. */
		xf_direction_random(m, a, d1, &rng, opt->biasbn);
		if (opt->mode == XF_INTERP_PLANE)
			xf_direction_random(m, a, d2, &rng, opt->biasbn);
	}
	if (opt->mode == XF_INTERP_GRADIENT) {
		struct xf_eval_result r;

		if ((g0 = malloc(n_snap * sizeof *g0)) == NULL ||
		    (g = malloc(n_snap * sizeof *g)) == NULL)
			goto oom;
		xf_model_restore(m, a);
		if (xf_model_full_grad(m, d, opt->batch, g0, &r, err) < 0)
			goto out;
		g0_norm = norm2(g0, NULL, n_snap);
	}
	for (size_t i = 0; i < n_pts; i++) {
		struct xf_interp_point *p = &pts[i];
		int xi = opt->mode == XF_INTERP_PLANE ? (int)(i / opt->points) :
		    (int)i;

		memset(p, 0, sizeof *p);
		p->x = grid(opt->lo, opt->hi, xi, opt->points);
		if (opt->mode == XF_INTERP_PLANE)
			p->y = grid(opt->lo, opt->hi, (int)(i % opt->points),
			    opt->points);
		switch (opt->mode) {
		case XF_INTERP_LINE:
			xf_model_blend(m, a, b, p->x);
			break;
		case XF_INTERP_RANDOM:
			xf_model_offset(m, a, d1, p->x, NULL, 0);
			break;
		case XF_INTERP_PLANE:
			xf_model_offset(m, a, d1, p->x, d2, p->y);
			break;
		case XF_INTERP_GRADIENT:
			xf_model_offset(m, a, g0, -p->x, NULL, 0);
			break;
		}
		if (opt->bn == XF_BN_RESET &&
		    xf_model_reset_bn(m, bn_data, opt->batch, err) < 0)
			goto out;
		if (opt->mode == XF_INTERP_GRADIENT) {
			if (xf_model_full_grad(m, d, opt->batch, g, &p->r, err) < 0)
				goto out;
			p->grad_norm = norm2(g, NULL, n_snap);
			p->grad_change = norm2(g, g0, n_snap);
			p->step = fabs(p->x) * g0_norm;
		} else if (xf_model_eval_chunked(m, d, opt->batch, &p->r,
		    err) < 0)
			goto out;
		finish(p);
		if (emit != NULL)
			emit(arg, p);
	}
	ret = 0;
	goto out;
oom:
	xf_errf(err, "out of memory for %zu floats", n_snap);
out:
	free(d1);
	free(d2);
	free(g0);
	free(g);
	return ret;
}

/* min and max that keep a NaN (fmin and fmax drop it): a summary of
 * points with a NaN loss is NaN, never a finite number. */
static double
nan_min(double a, double b)
{
	return isnan(a) || isnan(b) ? NAN : fmin(a, b);
}

static double
nan_max(double a, double b)
{
	return isnan(a) || isnan(b) ? NAN : fmax(a, b);
}

double
xf_barrier(const double *x, const double *v, size_t n)
{
	double best = 0;

	for (size_t i = 0; i < n; i++) {
		double line = (1.0 - x[i]) * v[0] + x[i] * v[n - 1];

		if (isnan(v[i]) || isnan(line))
			return NAN;
		if (v[i] - line > best)
			best = v[i] - line;
	}
	return best;
}

void
xf_interp_summarise(const struct xf_interp *opt,
    const struct xf_interp_point *pts, size_t n, struct xf_interp_summary *s)
{
	memset(s, 0, sizeof *s);
	s->points = n;
	s->loss_min = s->error_min = INFINITY;
	s->loss_max = s->error_max = -INFINITY;
	s->barrier = s->barrier_loss = NAN;
	s->grad_norm = s->grad_change_max = s->lipschitz_max = NAN;
	for (size_t i = 0; i < n; i++) {
		s->loss_min = nan_min(s->loss_min, pts[i].loss);
		s->loss_max = nan_max(s->loss_max, pts[i].loss);
		s->error_min = nan_min(s->error_min, pts[i].error);
		s->error_max = nan_max(s->error_max, pts[i].error);
		s->loss_mean += pts[i].loss / n;
		s->error_mean += pts[i].error / n;
	}
	if (n == 0)
		return;
	if (opt->mode == XF_INTERP_LINE && pts[0].x == 0 && pts[n - 1].x == 1) {
		double *x = malloc(n * sizeof *x), *v = malloc(n * sizeof *v);

		if (x != NULL && v != NULL) {
			for (size_t i = 0; i < n; i++) {
				x[i] = pts[i].x;
				v[i] = pts[i].error;
			}
			s->barrier = xf_barrier(x, v, n);
			for (size_t i = 0; i < n; i++)
				v[i] = pts[i].loss;
			s->barrier_loss = xf_barrier(x, v, n);
		}
		free(x);
		free(v);
	}
	if (opt->mode == XF_INTERP_GRADIENT) {
		s->grad_change_max = s->lipschitz_max = 0;
		for (size_t i = 0; i < n; i++) {
			if (pts[i].x == 0)
				s->grad_norm = pts[i].grad_norm;
			s->grad_change_max = nan_max(s->grad_change_max,
			    pts[i].grad_change);
			if (pts[i].step > 0)
				s->lipschitz_max = nan_max(s->lipschitz_max,
				    pts[i].grad_change / pts[i].step);
		}
	}
}

/* ---- the endpoints' output ensemble ---- */

/* Log-softmax of m's logits on d, in double, into out (n, k). */
static int
log_softmax_all(struct xf_model *m, const struct xf_dataset *d, int batch,
    double *out, int k, struct xf_err *err)
{
	size_t img = (size_t)d->c * d->h * d->w;

	for (size_t at = 0; at < d->n; at += batch) {
		int n = d->n - at < (size_t)batch ? (int)(d->n - at) : batch;
		const float *z;

		if (xf_model_forward(m, d->x + at * img, NULL, n, 0, NULL, err) < 0)
			return -1;
		z = xf_model_logits(m);
		for (int e = 0; e < n; e++) {
			const float *ze = z + (size_t)e * k;
			double *o = out + (at + e) * k, max = ze[0], sum = 0;

			for (int c = 1; c < k; c++)
				max = fmax(max, ze[c]);
			for (int c = 0; c < k; c++)
				sum += exp((double)ze[c] - max);
			for (int c = 0; c < k; c++)
				o[c] = (double)ze[c] - max - log(sum);
		}
	}
	return 0;
}

int
xf_ensemble_init(struct xf_ensemble *ens, struct xf_model *m, const float *a,
    const float *b, const struct xf_dataset *d, int batch, struct xf_err *err)
{
	int c, h, w, k;

	memset(ens, 0, sizeof *ens);
	xf_model_input_shape(m, &c, &h, &w, &k);
	ens->n = d->n;
	ens->k = k;
	ens->y = d->y;
	ens->la = malloc((d->n ? d->n : 1) * k * sizeof *ens->la);
	ens->lb = malloc((d->n ? d->n : 1) * k * sizeof *ens->lb);
	if (ens->la == NULL || ens->lb == NULL) {
		xf_ensemble_free(ens);
		return xf_errf(err, "out of memory");
	}
	xf_model_restore(m, a);
	if (log_softmax_all(m, d, batch, ens->la, k, err) < 0)
		goto fail;
	xf_model_restore(m, b);
	if (log_softmax_all(m, d, batch, ens->lb, k, err) < 0)
		goto fail;
	xf_model_restore(m, a);
	return 0;
fail:
	xf_ensemble_free(ens);
	return -1;
}

void
xf_ensemble_at(const struct xf_ensemble *ens, double lambda,
    struct xf_eval_result *r)
{
	double wa = log1p(-lambda), wb = log(lambda);

	memset(r, 0, sizeof *r);
	r->n = ens->n;
	for (size_t e = 0; e < ens->n; e++) {
		const double *la = ens->la + e * ens->k, *lb = ens->lb + e * ens->k;
		double best = -INFINITY, ya, yb, hi;
		int pred = 0, y = ens->y[e];

		/* The first largest mixture probability, as xf_argmax. */
		for (int c = 0; c < ens->k; c++) {
			double p = (1 - lambda) * exp(la[c]) + lambda * exp(lb[c]);

			if (p > best) {
				best = p;
				pred = c;
			}
		}
		r->correct += pred == y;
		/* −log((1−λ)p_A + λp_B) in log space: no underflow, and exactly
		 * an endpoint's loss at λ = 0 or 1. */
		ya = wa + la[y];
		yb = wb + lb[y];
		if (lambda <= 0)
			hi = la[y];
		else if (lambda >= 1)
			hi = lb[y];
		else {
			hi = fmax(ya, yb);
			hi += log(exp(ya - hi) + exp(yb - hi));
		}
		r->loss_sum -= hi;
	}
}

void
xf_ensemble_free(struct xf_ensemble *ens)
{
	free(ens->la);
	free(ens->lb);
	memset(ens, 0, sizeof *ens);
}
