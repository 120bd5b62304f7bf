/*
 * test_critic: module criticality (lib/critic.c): μ = 0 when θ⁰ = θᶠ,
 * σ → 0 at α = 1 is the final model, the head's loss heatmap is convex
 * along α and σ and rises with σ, feasibility and ε, relative σ, and the
 * same cells whatever the number of workers.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "landscape.h"
#include "fixture.h"
#include "tap.h"

int
main(void)
{
	struct xf_dataset d;
	struct xf_critic opt = XF_CRITIC_DEFAULTS;
	struct xf_critic_module res, res2;
	struct xf_critic_cell *cells, *cells2;
	struct xf_err e;
	double ref_loss, ref_error;
	float *init, *fin;
	size_t n;

	xf_nn_set_threads(1);
	make_data(&d, 200, 1);
	struct xf_model *m = made("c4,p,f8,f", 1, &d, 20, &init);
	fin = xf_model_snapshot(m, &n);
	int got = xf_critic_reference(m, &d, 1000, &ref_loss, &ref_error, &e);
	ok(got == 0 && ref_error < 0.5, "reference: loss %.4g, error %.4g",
	    ref_loss, ref_error);

	/* The grid. */
	ok(xf_critic_alpha(&opt, 0) == 0 && xf_critic_alpha(&opt, 10) == 1 &&
	    xf_critic_alpha(&opt, 5) == 0.5, "grid: α = 0, 0.1, .., 1");
	ok(xf_critic_sigma(&opt, 0) == 1e-16 && xf_critic_sigma(&opt, 10) == 1 &&
	    fabs(xf_critic_sigma(&opt, 3) - 0.3) < 1e-15,
	    "grid: σ = 1e-16, 0.1, .., 1 (the public code's linspace)");

	opt.n_alpha = 3;
	opt.n_sigma = 4;
	opt.draws = 3;
	cells = calloc(64, sizeof *cells);
	cells2 = calloc(64, sizeof *cells2);

	/* θ⁰ = θᶠ: μ = 0. */
	ok(xf_critic_module(m, fin, &d, 1, &opt, ref_error, cells, &res, &e) ==
	    0, "module with θ⁰ = θᶠ: runs");
	ok(res.mu == 0 && res.dist == 0, "module with θ⁰ = θᶠ: μ = 0 (%g)",
	    res.mu);

	/* σ → 0 at α = 1 is the final model. */
	ok(xf_critic_module(m, init, &d, 0, &opt, ref_error, cells, &res, &e) ==
	    0, "conv1: runs");
	const struct xf_critic_cell *c = &cells[2 * opt.n_sigma + 0];
	ok(c->alpha == 1 && c->sigma == 1e-16, "cell (1, 1e-16) in place");
	close_enough(c->loss, ref_loss, 1e-12,
	    "σ → 0, α = 1 reproduces the final loss");
	ok(c->error == ref_error && c->feasible,
	    "σ → 0, α = 1: the final error exactly (%.17g), feasible", c->error);
	size_t check = 0;
	float *now = xf_model_snapshot(m, &check);
	ok(memcmp(now, fin, n * sizeof *fin) == 0, "the model keeps θᶠ");
	free(now);

	/* μ is the minimum of α²‖Δ‖²/σ² over feasible cells. */
	double best = INFINITY;
	for (int i = 0; i < opt.n_alpha * opt.n_sigma; i++)
		if (cells[i].feasible)
			best = fmin(best, cells[i].alpha * cells[i].alpha *
			    res.dist * res.dist / (cells[i].sigma * cells[i].sigma));
	ok(res.mu == best, "μ = min over feasible cells (%g)", res.mu);
	ok(res.eps == 1.01 * ref_error, "ε = 1.01 × final error");

	/* ε: everything or nothing feasible. */
	opt.eps_abs = 1e9;
	xf_critic_module(m, init, &d, 0, &opt, ref_error, cells, &res, &e);
	ok(res.mu == 0 && res.n_feasible == opt.n_alpha * opt.n_sigma,
	    "ε huge: all feasible, α = 0 gives μ = 0");
	opt.eps_abs = 0;
	opt.objective = XF_CRITIC_LOSS;
	xf_critic_module(m, init, &d, 0, &opt, ref_loss, cells, &res, &e);
	ok(isinf(res.mu) && res.best == -1 && res.n_feasible == 0,
	    "ε = 0 on the loss: nothing feasible, μ = inf");
	opt.eps_abs = -1;

	/* Relative σ: scaled by the RMS of the final weights. */
	opt.relative = 1;
	xf_critic_module(m, init, &d, 2, &opt, ref_loss, cells, &res, &e);
	close_enough(res.sigma_scale, res.weight_norm / sqrt((double)res.n_params),
	    1e-15, "relative σ: scale is ‖θᶠ‖/√P");
	close_enough(cells[opt.n_sigma - 1].sigma, res.sigma_scale, 1e-15,
	    "relative σ: the largest σ is the scale");
	opt.relative = 0;

	/* The head: cross-entropy is convex in the head's weights, so the
	 * mean loss over common draws is convex along α and along σ; and it
	 * rises with σ. */
	opt.n_alpha = 5;
	opt.n_sigma = 6;
	opt.draws = 8;
	int head = xf_model_n_modules(m) - 1;
	ok(xf_critic_module(m, init, &d, head, &opt, ref_loss, cells, &res,
	    &e) == 0, "head: runs");
	int convex_a = 1, convex_s = 1, rising = 1;
	for (int i = 0; i < opt.n_alpha; i++)
		for (int j = 1; j + 1 < opt.n_sigma; j++) {
			const struct xf_critic_cell *p = &cells[i * opt.n_sigma + j];

			convex_s &= p[-1].loss - 2 * p[0].loss + p[1].loss > -1e-6;
		}
	for (int j = 0; j < opt.n_sigma; j++)
		for (int i = 1; i + 1 < opt.n_alpha; i++) {
			const struct xf_critic_cell *p = &cells[i * opt.n_sigma + j];

			convex_a &= p[-opt.n_sigma].loss - 2 * p[0].loss +
			    p[opt.n_sigma].loss > -1e-6;
		}
	for (int j = 1; j < opt.n_sigma; j++)
		rising &= cells[(opt.n_alpha - 1) * opt.n_sigma + j].loss >=
		    cells[(opt.n_alpha - 1) * opt.n_sigma + j - 1].loss;
	ok(convex_s, "head: loss convex along σ");
	ok(convex_a, "head: loss convex along α");
	ok(rising, "head at α = 1: loss rises with σ");

	/* Workers: the same cells, bit for bit. */
	opt.workers = 1;
	xf_critic_module(m, init, &d, 1, &opt, ref_error, cells, &res, &e);
	opt.workers = 3;
	ok(xf_critic_module(m, init, &d, 1, &opt, ref_error, cells2, &res2,
	    &e) == 0, "3 workers: runs");
	ok(memcmp(cells, cells2, opt.n_alpha * opt.n_sigma * sizeof *cells) ==
	    0 && res.mu == res2.mu, "3 workers: the same cells as 1");
	/* Chunks: several batches give the same means up to rounding. */
	opt.workers = 1;
	opt.batch = 64;
	xf_critic_module(m, init, &d, 1, &opt, ref_error, cells2, &res2, &e);
	int same_err = 1;
	double worst = 0;
	for (int i = 0; i < opt.n_alpha * opt.n_sigma; i++) {
		same_err &= cells[i].error == cells2[i].error;
		worst = fmax(worst, fabs(cells[i].loss - cells2[i].loss));
	}
	ok(same_err && worst < 1e-6, "batches of 64: same errors, losses "
	    "within %.3g", worst);
	opt.seed = 1;
	xf_critic_module(m, init, &d, 1, &opt, ref_error, cells2, &res2, &e);
	ok(memcmp(cells, cells2, opt.n_alpha * opt.n_sigma * sizeof *cells) !=
	    0, "another seed, other draws");

	/* The walk over a module's parameters: every parameter once, no
	 * buffer, in model order. */
	size_t walked = 0, n_par = 0;
	int in_order = 1, last = -1;
	for (int k = 0; k < xf_model_n_modules(m); k++) {
		const struct xf_model_tensor *t;

		for (int i = 0; (t = xf_module_next_param(m, k, &i)) != NULL; ) {
			int at = (int)(t - xf_model_tensor(m, 0));

			in_order &= t->is_param && t->module == k && at > last;
			last = at;
			walked += t->count;
		}
	}
	for (int i = 0; i < xf_model_n_tensors(m); i++)
		if (xf_model_tensor(m, i)->is_param)
			n_par += xf_model_tensor(m, i)->count;
	ok(in_order && walked == n_par, "xf_module_next_param: %zu of %zu "
	    "parameters, in order, no buffers", walked, n_par);

	/* The network's totals, from the modules' own results. */
	struct xf_critic_module mods[3], net;
	double d2 = 0, w2 = 0, mu = 0;
	size_t params = 0;
	int feas = 0;
	opt = (struct xf_critic)XF_CRITIC_DEFAULTS;
	opt.n_alpha = 3;
	opt.n_sigma = 3;
	opt.draws = 2;
	for (int k = 0; k < 3; k++) {
		xf_critic_module(m, init, &d, k, &opt, ref_error, cells, &mods[k],
		    &e);
		d2 += mods[k].dist * mods[k].dist;
		w2 += mods[k].weight_norm * mods[k].weight_norm;
		mu += mods[k].mu;
		params += mods[k].n_params;
		feas += mods[k].n_feasible;
	}
	xf_critic_network(&net, mods, 3);
	ok(net.n_params == params && net.n_feasible == feas && net.mu == mu &&
	    net.best == -1 && isnan(net.sigma_scale) && net.eps == mods[0].eps,
	    "network: parameters, feasible cells and μ summed (μ %g)", net.mu);
	close_enough(net.dist, sqrt(d2), 1e-15, "network: dist is the root of "
	    "the modules' squares");
	close_enough(net.weight_norm, sqrt(w2), 1e-15,
	    "network: weight norm likewise");

	xf_model_free(m);
	free(init);
	free(fin);
	free(cells);
	free(cells2);
	free(d.x);
	free(d.y);
	free(d.index);
	return tap_done();
}
