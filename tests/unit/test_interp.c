/*
 * test_interp: lines and planes in weight space (lib/interp.c): exact
 * endpoints, the barrier, distances per module, filter-normalised
 * directions, the gradient probe, batch-norm statistics and determinism.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "landscape.h"
#include "fixture.h"
#include "tap.h"

/* n synthetic 1x8x8 images: class k lights quadrant k, plus noise. */
static int
same_bits(const float *a, const float *b, size_t n)
{
	return memcmp(a, b, n * sizeof *a) == 0;
}

static void
test_blend(const struct xf_dataset *d)
{
	struct xf_model *ma = made("c4,p,f8,f", 1, d, 20, NULL);
	struct xf_model *mb = made("c4,p,f8,f", 2, d, 20, NULL);
	size_t n;
	float *a = xf_model_snapshot(ma, &n), *b = xf_model_snapshot(mb, &n);
	float *s;
	struct xf_interp opt = XF_INTERP_DEFAULTS;
	struct xf_interp_point pts[5];
	struct xf_eval_result ra, rb;
	struct xf_err e;

	xf_model_blend(ma, a, b, 0.0);
	s = xf_model_snapshot(ma, &n);
	ok(same_bits(s, a, n), "blend: λ = 0 gives the first model's bits");
	free(s);
	xf_model_blend(ma, a, b, 1.0);
	s = xf_model_snapshot(ma, &n);
	ok(same_bits(s, b, n), "blend: λ = 1 gives the second model's bits");
	free(s);

	xf_model_restore(ma, a);
	xf_model_eval_chunked(ma, d, 64, &ra, &e);
	xf_model_eval_chunked(mb, d, 64, &rb, &e);
	opt.points = 5;
	opt.batch = 64;
	ok(xf_interp_run(ma, a, b, d, &opt, pts, NULL, NULL, &e) == 0,
	    "line: runs");
	ok(pts[0].x == 0 && pts[4].x == 1 && pts[2].x == 0.5,
	    "line: grid 0, .., 0.5, .., 1");
	ok(pts[0].r.loss_sum == ra.loss_sum && pts[0].r.correct == ra.correct,
	    "line: λ = 0 evaluates exactly as the first model (%.17g)",
	    pts[0].loss);
	ok(pts[4].r.loss_sum == rb.loss_sum && pts[4].r.correct == rb.correct,
	    "line: λ = 1 evaluates exactly as the second model (%.17g)",
	    pts[4].loss);

	/* A model with itself: every point is the model, no barrier. */
	struct xf_interp_summary sum;
	xf_interp_run(ma, a, a, d, &opt, pts, NULL, NULL, &e);
	xf_interp_summarise(&opt, pts, 5, &sum);
	ok(sum.barrier == 0 && sum.barrier_loss == 0,
	    "barrier of a model with itself is 0 (%g, %g)", sum.barrier,
	    sum.barrier_loss);
	ok(pts[2].r.loss_sum == ra.loss_sum, "line with itself: flat");

	/* Barrier by the definition. */
	double x[3] = { 0, 0.5, 1 }, v[3] = { 0.1, 0.5, 0.3 };
	close_enough(xf_barrier(x, v, 3), 0.3, 1e-15,
	    "barrier: max e(λ) − ((1−λ)e(0) + λe(1))");
	double flat[3] = { 0.4, 0.2, 0.1 };
	ok(xf_barrier(x, flat, 3) == 0, "barrier: a convex path gives 0");

	/* Distances: per-module squares sum to the total. */
	int nm = xf_model_n_modules(ma);
	double md[8], sq = 0, direct = 0, total;
	total = xf_params_distance(ma, a, b, md);
	for (int k = 0; k < nm; k++)
		sq += md[k] * md[k];
	close_enough(sq, total * total, 1e-12,
	    "distance: module squares sum to the total squared");
	for (size_t i = 0; i < n; i++)
		direct += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
	close_enough(total, sqrt(direct), 1e-12,
	    "distance: no buffers, so all tensors count");
	ok(xf_params_distance(ma, a, a, NULL) == 0, "distance to itself is 0");

	/* Architecture checks. */
	struct xf_model *mc = xf_model_create("c8,p,f8,f", 1, 8, 8, 4, &e);
	ok(xf_model_same_arch(ma, mb, &e) == 0, "same arch: accepted");
	ok(xf_model_same_arch(ma, mc, &e) < 0 &&
	    strstr(e.msg, "conv1.weight") != NULL,
	    "different arch: names the tensor (%s)", e.msg);
	xf_model_free(mc);
	mc = xf_model_create("c4,p,f8,f", 1, 8, 8, 5, &e);
	ok(xf_model_same_arch(ma, mc, &e) < 0, "different classes (%s)", e.msg);
	xf_model_free(mc);

	xf_model_free(ma);
	xf_model_free(mb);
	free(a);
	free(b);
}

/* Norm of filter o of a tensor of count floats with out rows. */
static double
filter_norm(const float *v, size_t count, int64_t out, int64_t o)
{
	size_t per = count / (size_t)out;
	double s = 0;

	for (size_t j = o * per; j < (o + 1) * per; j++)
		s += (double)v[j] * v[j];
	return sqrt(s);
}

static void
test_direction(const struct xf_dataset *d)
{
	struct xf_model *m = made("c4,b,p,f8,f", 3, d, 10, NULL);
	size_t n;
	float *th = xf_model_snapshot(m, &n);
	float *d1 = malloc(n * sizeof *d1), *d2 = malloc(n * sizeof *d2);
	struct xf_rng r;
	double worst = 0;
	int zero_1d = 1, zero_buf = 1, copy_1d = 1;
	size_t off = 0;

	xf_rng_seed(&r, 5);
	xf_direction_random(m, th, d1, &r, 0);
	for (int i = 0; i < xf_model_n_tensors(m); i++) {
		const struct xf_model_tensor *t = xf_model_tensor(m, i);

		for (size_t j = 0; j < t->count; j++) {
			if (!t->is_param && d1[off + j] != 0)
				zero_buf = 0;
			if (t->is_param && t->ndim == 1 && d1[off + j] != 0)
				zero_1d = 0;
		}
		if (t->is_param && t->ndim > 1)
			for (int64_t o = 0; o < t->shape[0]; o++) {
				double wn = filter_norm(th + off, t->count,
				    t->shape[0], o);
				double dn = filter_norm(d1 + off, t->count,
				    t->shape[0], o);

				worst = fmax(worst, fabs(dn - wn) / wn);
			}
		off += t->count;
	}
	ok(worst < 1e-6, "direction: each filter has its weight filter's norm "
	    "(worst relative gap %.3g)", worst);
	ok(zero_1d, "direction: biases and bn parameters are 0");
	ok(zero_buf, "direction: running statistics are 0");

	xf_rng_seed(&r, 5);
	xf_direction_random(m, th, d2, &r, 0);
	ok(same_bits(d1, d2, n), "direction: same seed, same bytes");
	xf_rng_seed(&r, 6);
	xf_direction_random(m, th, d2, &r, 0);
	ok(!same_bits(d1, d2, n), "direction: another seed, another direction");

	xf_rng_seed(&r, 5);
	xf_direction_random(m, th, d2, &r, 1);
	off = 0;
	for (int i = 0; i < xf_model_n_tensors(m); i++) {
		const struct xf_model_tensor *t = xf_model_tensor(m, i);

		if (t->is_param && t->ndim == 1 &&
		    !same_bits(d2 + off, th + off, t->count))
			copy_1d = 0;
		off += t->count;
	}
	ok(copy_1d, "direction --biasbn: 1-D parameters copy the weights");

	/* Random line and plane: t = 0 is the model; u = 0 is the line. */
	struct xf_interp opt = XF_INTERP_DEFAULTS;
	struct xf_interp_point line[5], plane[25], again[5];
	struct xf_eval_result r0;
	struct xf_err e;

	opt.mode = XF_INTERP_RANDOM;
	opt.points = 5;
	opt.lo = -1;
	opt.batch = 50;
	opt.seed = 9;
	xf_model_restore(m, th);
	xf_model_eval_chunked(m, d, 50, &r0, &e);
	ok(xf_interp_run(m, th, NULL, d, &opt, line, NULL, NULL, &e) == 0,
	    "random: runs");
	ok(line[2].x == 0 && line[2].r.loss_sum == r0.loss_sum,
	    "random: t = 0 is the model itself");
	xf_interp_run(m, th, NULL, d, &opt, again, NULL, NULL, &e);
	ok(memcmp(line, again, sizeof line) == 0, "random: deterministic");
	opt.mode = XF_INTERP_PLANE;
	ok(xf_interp_run(m, th, NULL, d, &opt, plane, NULL, NULL, &e) == 0,
	    "plane: runs");
	int on_line = 1;
	for (int i = 0; i < 5; i++)
		on_line &= plane[i * 5 + 2].y == 0 &&
		    plane[i * 5 + 2].x == line[i].x &&
		    plane[i * 5 + 2].r.loss_sum == line[i].r.loss_sum;
	ok(on_line, "plane: the u = 0 column is the random line");

	xf_model_free(m);
	free(th);
	free(d1);
	free(d2);
}

static void
test_gradient(const struct xf_dataset *d)
{
	struct xf_model *m = made("c4,p,f8,f", 4, d, 10, NULL);
	size_t n;
	float *th = xf_model_snapshot(m, &n), *s;
	float *g1 = malloc(n * sizeof *g1), *g2 = malloc(n * sizeof *g2);
	struct xf_eval_result r1, r2;
	struct xf_err e;
	double worst = 0, gn = 0;

	ok(xf_model_full_grad(m, d, (int)d->n, g1, &r1, &e) == 0,
	    "full gradient: one batch");
	xf_model_full_grad(m, d, 7, g2, &r2, &e);
	for (size_t i = 0; i < n; i++) {
		worst = fmax(worst, fabs((double)g1[i] - g2[i]));
		gn = fmax(gn, fabs(g1[i]));
	}
	ok(worst <= 1e-5 * gn && gn > 0, "full gradient: batches of 7 "
	    "weighted by size give the one-batch mean (gap %.3g of %.3g)",
	    worst, gn);
	s = xf_model_snapshot(m, &n);
	ok(same_bits(s, th, n), "full gradient: the model is unchanged");
	free(s);

	/* The directional derivative against a central difference. */
	struct xf_eval_result rp, rm;
	double h = 1e-2, dd = 0;
	for (size_t i = 0; i < n; i++)
		dd += (double)g1[i] * g1[i];
	xf_model_offset(m, th, g1, h / sqrt(dd), NULL, 0);
	xf_model_eval_chunked(m, d, (int)d->n, &rp, &e);
	xf_model_offset(m, th, g1, -h / sqrt(dd), NULL, 0);
	xf_model_eval_chunked(m, d, (int)d->n, &rm, &e);
	close_enough((rp.loss_sum - rm.loss_sum) / d->n / (2 * h), sqrt(dd),
	    2e-2, "full gradient: ‖∇L‖ matches a central difference");

	struct xf_interp opt = XF_INTERP_DEFAULTS;
	struct xf_interp_point pts[4];
	struct xf_interp_summary sum;

	opt.mode = XF_INTERP_GRADIENT;
	opt.points = 4;
	opt.hi = 0.3;
	opt.batch = 64;
	ok(xf_interp_run(m, th, NULL, d, &opt, pts, NULL, NULL, &e) == 0,
	    "gradient: runs");
	ok(pts[0].x == 0 && pts[0].grad_change == 0 && pts[0].step == 0,
	    "gradient: η = 0 has zero gradient change");
	ok(pts[1].grad_change > 0 && pts[3].step > pts[1].step,
	    "gradient: the gradient changes along the path");
	ok(pts[1].loss < pts[0].loss, "gradient: a small step lowers the loss "
	    "(%.6g < %.6g)", pts[1].loss, pts[0].loss);
	xf_interp_summarise(&opt, pts, 4, &sum);
	close_enough(sum.grad_norm, sqrt(dd), 1e-5,
	    "gradient: summary ‖∇L(θ)‖");
	ok(sum.lipschitz_max > 0 && isnan(sum.barrier),
	    "gradient summary: Lipschitz estimate, no barrier");

	xf_model_free(m);
	free(th);
	free(g1);
	free(g2);
}

static void
test_bn(const struct xf_dataset *d)
{
	struct xf_model *m = made("c4,b,p,f", 6, d, 10, NULL);
	size_t count, n = d->n;
	float *eval_logits = malloc(n * 4 * sizeof(float));
	struct xf_err e;
	double worst = 0;

	/* One batch: eval mode with the recomputed stats is train mode, up to
	 * the unbiased variance (n·HW/(n·HW − 1)). */
	ok(xf_model_reset_bn(m, d, (int)n, &e) == 0, "reset bn: runs");
	xf_model_forward(m, d->x, d->y, (int)n, 0, NULL, &e);
	memcpy(eval_logits, xf_model_logits(m), n * 4 * sizeof(float));
	float *keep = xf_model_snapshot(m, &count);
	xf_model_forward(m, d->x, d->y, (int)n, 1, NULL, &e);
	const float *lt = xf_model_logits(m);
	for (size_t i = 0; i < n * 4; i++)
		worst = fmax(worst, fabs((double)lt[i] - eval_logits[i]));
	ok(worst < 1e-3, "reset bn, one batch: eval matches train mode "
	    "(worst %.3g)", worst);
	xf_model_restore(m, keep);

	/* Two equal halves: the mean of the means is the mean. */
	int bn = xf_model_find_module(m, "bn1");
	const struct xf_model_tensor *rm = xf_model_tensor(m,
	    xf_model_module(m, bn)->first_tensor + 2);
	float halves[4];
	struct xf_dataset half = *d;
	half.n = n - n % 2;
	xf_model_reset_bn(m, &half, (int)half.n / 2, &e);
	memcpy(halves, rm->data, sizeof halves);
	xf_model_reset_bn(m, &half, (int)half.n, &e);
	worst = 0;
	for (int c = 0; c < 4; c++)
		worst = fmax(worst, fabs((double)halves[c] - rm->data[c]));
	ok(worst < 1e-5, "reset bn: equal-weight average over batches (gap "
	    "%.3g)", worst);

	/* Line with bn reset: deterministic, and endpoints are models with
	 * recomputed statistics. */
	struct xf_model *m2 = made("c4,b,p,f", 7, d, 10, NULL);
	size_t ns;
	float *a = xf_model_snapshot(m, &ns), *b = xf_model_snapshot(m2, &ns);
	struct xf_interp opt = XF_INTERP_DEFAULTS;
	struct xf_interp_point p1[3], p2[3];
	opt.points = 3;
	opt.bn = XF_BN_RESET;
	opt.batch = 50;
	ok(xf_interp_run(m, a, b, d, &opt, p1, NULL, NULL, &e) == 0 &&
	    xf_interp_run(m, a, b, d, &opt, p2, NULL, NULL, &e) == 0 &&
	    memcmp(p1, p2, sizeof p1) == 0, "line --bn reset: deterministic");
	xf_model_free(m2);
	xf_model_free(m);
	free(a);
	free(b);
	free(keep);
	free(eval_logits);
}

int
main(void)
{
	struct xf_dataset d;

	make_data(&d, 300, 1);
	test_blend(&d);
	test_direction(&d);
	test_gradient(&d);
	test_bn(&d);
	free(d.x);
	free(d.y);
	free(d.index);
	return tap_done();
}
