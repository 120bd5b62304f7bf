/*
 * critic.c: module criticality (Chatterji, Neyshabur, Sedghi 2020), for
 * xf-critic.  See landscape.h.
 *
 * A module's input is computed once at θᶠ and kept; each cell sets the
 * module's parameters and re-runs the network from that module up
 * (xf_model_forward_from).  Cells are independent, so several model copies
 * can take them from a shared counter on threads of their own; each cell's
 * result lands in its own slot, so the output does not depend on timing.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "landscape.h"

double
xf_critic_alpha(const struct xf_critic *opt, int i)
{
	return opt->n_alpha < 2 ? 1.0 : i == opt->n_alpha - 1 ? 1.0 :
	    (double)i / (opt->n_alpha - 1);
}

double
xf_critic_sigma(const struct xf_critic *opt, int j)
{
	/* The public code's tf.linspace(1e-16, 1, n): never exactly 0. */
	if (opt->n_sigma < 2 || j == opt->n_sigma - 1)
		return 1.0;
	return 1e-16 + j * (1.0 - 1e-16) / (opt->n_sigma - 1);
}

int
xf_critic_reference(struct xf_model *m, const struct xf_dataset *d, int batch,
    double *loss, double *error, struct xf_err *err)
{
	struct xf_eval_result r;

	if (xf_model_eval_chunked(m, d, batch, &r, err) < 0)
		return -1;
	*loss = r.loss_sum / r.n;
	*error = 1.0 - (double)r.correct / r.n;
	return 0;
}

/* What every worker shares for one module. */
struct job {
	const struct xf_critic *opt;
	int k;
	const float *input;      /* (n, count) the module's input at θᶠ */
	size_t count;
	const int *labels;       /* (n) */
	size_t n;
	int n_classes;
	const float *p0, *pf;    /* (P) the module's parameters, θ⁰ and θᶠ */
	const float *z;          /* (draws, P) standard normal */
	size_t P;
	double dist2, eps;
	struct xf_critic_cell *cells;
	int n_cells;

	pthread_mutex_t mu;
	int next;                /* the next cell to take */
	int failed;
	struct xf_err err;
};

struct worker {
	struct job *job;
	struct xf_model *m;
	double *base;            /* (P) */
	float *first, *now;      /* (P) the module's parameters of draw 0, r */
	int primed;              /* m holds the whole input: no copies */
};

/* The module's parameter tensors of m, flattened, into or out of v. */
static void
module_params(struct xf_model *m, int k, float *v, int store)
{
	const struct xf_model_tensor *t;
	size_t off = 0;

	for (int i = 0; (t = xf_module_next_param(m, k, &i)) != NULL; ) {
		if (store)
			memcpy(t->data, v + off, t->count * sizeof *v);
		else
			memcpy(v + off, t->data, t->count * sizeof *v);
		off += t->count;
	}
}

static size_t
module_n_params(const struct xf_model *m, int k)
{
	const struct xf_model_tensor *t;
	size_t n = 0;

	for (int i = 0; (t = xf_module_next_param(m, k, &i)) != NULL; )
		n += t->count;
	return n;
}

/* Sets the module's parameters of m to base + sigma·z. */
static void
set_noisy(struct xf_model *m, int k, const double *base, const float *z,
    double sigma)
{
	const struct xf_model_tensor *t;
	size_t off = 0;

	for (int i = 0; (t = xf_module_next_param(m, k, &i)) != NULL; ) {
		for (size_t j = 0; j < t->count; j++)
			t->data[j] = (float)(base[off + j] + sigma * z[off + j]);
		off += t->count;
	}
}

/* Loss and error of m on the job's data from the module's input up, in
 * chunks of the batch, summed as xf_model_eval_chunked does. */
static int
run_data(struct worker *w, double *loss_sum, size_t *correct, struct xf_err *err)
{
	const struct job *jb = w->job;
	struct xf_model *m = w->m;
	size_t batch = (size_t)jb->opt->batch;

	*loss_sum = 0;
	*correct = 0;

	for (size_t at = 0; at < jb->n; at += batch) {
		int n = jb->n - at < batch ? (int)(jb->n - at) : (int)batch;
		const float *in = jb->input + at * jb->count;
		double chunk = 0;
		int nd, shape[3];
		size_t cnt;

		/* With the data in one chunk, the model's own input buffer
		 * keeps it from cell to cell (forward_from leaves it alone). */
		if (w->primed)
			in = xf_model_module_input(m, jb->k, &nd, shape, &cnt);
		if (xf_model_forward_from(m, jb->k, in, jb->labels + at, n, 0,
		    NULL, err) < 0)
			return -1;
		w->primed = n == (int)jb->n;
		const float *probs = xf_model_probs(m);
		const float *losses = xf_model_losses(m);
		for (int i = 0; i < n; i++) {
			*correct += xf_argmax(probs + (size_t)i * jb->n_classes,
			    jb->n_classes) == jb->labels[at + i];
			chunk += losses[i];
		}
		*loss_sum += chunk;
	}
	return 0;
}

static int
run_cell(struct worker *w, struct xf_critic_cell *c, struct xf_err *err)
{
	const struct job *jb = w->job;
	double loss_sum = 0, loss0 = 0;
	size_t correct = 0, correct0 = 0;

	for (size_t j = 0; j < jb->P; j++)
		w->base[j] = (1.0 - c->alpha) * jb->p0[j] + c->alpha * jb->pf[j];
	for (int r = 0; r < jb->opt->draws; r++) {
		double loss;
		size_t right;

		set_noisy(w->m, jb->k, w->base, jb->z + (size_t)r * jb->P,
		    c->sigma);
		/*
		 * Noise below the float spacing of the weights (the σ ≈ 10⁻¹⁶
		 * column) leaves every draw's weights identical to draw 0's:
		 * the engine is deterministic, so reuse draw 0's result.
		 */
		module_params(w->m, jb->k, r == 0 ? w->first : w->now, 0);
		if (r > 0 && memcmp(w->first, w->now, jb->P * sizeof *w->now) ==
		    0) {
			loss = loss0;
			right = correct0;
		} else if (run_data(w, &loss, &right, err) < 0)
			return -1;
		if (r == 0) {
			loss0 = loss;
			correct0 = right;
		}
		loss_sum += loss;
		correct += right;
	}
	/* Means over draws and examples; from counts, so that draws that
	 * agree give exactly the single draw's error. */
	c->loss = loss_sum / ((double)jb->opt->draws * jb->n);
	c->error = 1.0 - (double)correct / ((double)jb->opt->draws * jb->n);
	c->feasible = (jb->opt->objective == XF_CRITIC_LOSS ? c->loss :
	    c->error) <= jb->eps;
	c->mu = c->alpha == 0 ? 0 :
	    c->alpha * c->alpha * jb->dist2 / (c->sigma * c->sigma);
	return 0;
}

static void *
work(void *p)
{
	struct worker *w = p;
	struct job *jb = w->job;
	struct xf_err e;

	for (;;) {
		int i;

		pthread_mutex_lock(&jb->mu);
		i = jb->failed ? jb->n_cells : jb->next++;
		pthread_mutex_unlock(&jb->mu);
		if (i >= jb->n_cells)
			return NULL;
		if (run_cell(w, &jb->cells[i], &e) < 0) {
			pthread_mutex_lock(&jb->mu);
			if (!jb->failed)
				jb->err = e;
			jb->failed = 1;
			pthread_mutex_unlock(&jb->mu);
			return NULL;
		}
	}
}

/* Module k's input at θᶠ for all of d into *input, (n, *count). */
static int
module_input(struct xf_model *m, const struct xf_dataset *d, int k,
    int batch, float **input, size_t *count, struct xf_err *err)
{
	size_t img = (size_t)d->c * d->h * d->w;
	int ndim, shape[3];

	*input = NULL;
	for (size_t at = 0; at < d->n; at += batch) {
		int n = d->n - at < (size_t)batch ? (int)(d->n - at) : batch;

		if (xf_model_forward(m, d->x + at * img, d->y + at, n, 0, NULL,
		    err) < 0)
			return -1;
		const float *in = xf_model_module_input(m, k, &ndim, shape,
		    count);
		if (*input == NULL &&
		    (*input = malloc(d->n * *count * sizeof **input)) == NULL)
			return xf_errf(err, "out of memory for %zu activations of "
			    "%zu floats", d->n, *count);
		memcpy(*input + at * *count, in, (size_t)n * *count *
		    sizeof **input);
	}
	return 0;
}

/* The seed of draw r of module k: splitmix64's finaliser chained over
 * seed, k and r, so that no two (seed, k, r) share a stream by design. */
static uint64_t
draw_seed(uint64_t seed, int k, int r)
{
	return xf_rng_mix(xf_rng_mix(xf_rng_mix(seed) ^ (uint64_t)k) ^
	    (uint64_t)r);
}

int
xf_critic_module(struct xf_model *m, const float *init,
    const struct xf_dataset *d, int k, const struct xf_critic *opt,
    double reference, struct xf_critic_cell *cells,
    struct xf_critic_module *res, struct xf_err *err)
{
	struct job jb = { 0 };
	struct worker *ws = NULL;
	pthread_t *tids = NULL;
	float *input = NULL, *p0 = NULL, *pf = NULL, *z = NULL, *snap = NULL;
	int n_workers = opt->workers < 1 ? 1 : opt->workers, started = 0;
	int c, h, w, n_classes, ret = -1;
	size_t P, n_snap, count;
	double wn = 0;

	if (k < 0 || k >= xf_model_n_modules(m))
		return xf_errf(err, "module %d: out of range", k);
	if (opt->n_alpha < 1 || opt->n_sigma < 1 || opt->draws < 1 ||
	    opt->batch < 1 || opt->sigma_max <= 0)
		return xf_errf(err, "bad grid: %d alphas, %d sigmas, %d draws",
		    opt->n_alpha, opt->n_sigma, opt->draws);
	if (n_workers > 1 && xf_nn_threads() > 1)
		return xf_errf(err, "%d workers need the engine on one thread",
		    n_workers);
	if (d->n == 0)
		return xf_errf(err, "no examples");
	xf_model_input_shape(m, &c, &h, &w, &n_classes);
	if (n_workers > opt->n_alpha * opt->n_sigma)
		n_workers = opt->n_alpha * opt->n_sigma;

	P = module_n_params(m, k);
	if (P == 0)
		return xf_errf(err, "module %s has no parameters of its own%s",
		    xf_model_module(m, k)->name,
		    xf_model_module(m, k)->kind == XF_MODULE_BLOCK ?
		    " (a residual block: name its convs)" : "");
	memset(res, 0, sizeof *res);
	res->module = k;
	res->n_params = P;
	res->best = -1;
	res->mu = INFINITY;
	if ((snap = xf_model_snapshot(m, &n_snap)) == NULL ||
	    (p0 = malloc(P * sizeof *p0)) == NULL ||
	    (pf = malloc(P * sizeof *pf)) == NULL ||
	    (z = malloc((size_t)opt->draws * P * sizeof *z)) == NULL ||
	    (ws = calloc(n_workers, sizeof *ws)) == NULL ||
	    (tids = calloc(n_workers, sizeof *tids)) == NULL) {
		xf_errf(err, "out of memory for module %s",
		    xf_model_module(m, k)->name);
		goto out;
	}
	module_params(m, k, pf, 0);
	xf_model_restore(m, init);
	module_params(m, k, p0, 0);
	xf_model_restore(m, snap);
	for (size_t j = 0; j < P; j++) {
		double dd = (double)pf[j] - p0[j];

		jb.dist2 += dd * dd;
		wn += (double)pf[j] * pf[j];
	}
	res->dist = sqrt(jb.dist2);
	res->weight_norm = sqrt(wn);
	res->sigma_scale = opt->sigma_max;
	if (opt->relative)
		res->sigma_scale *= P > 0 ? res->weight_norm / sqrt((double)P) : 0;
	res->eps = opt->eps_abs >= 0 ? opt->eps_abs : opt->eps_rel * reference;
	for (int r = 0; r < opt->draws; r++) {
		struct xf_rng rng;

		xf_rng_seed(&rng, draw_seed(opt->seed, k, r));
		for (size_t j = 0; j < P; j++)
			z[(size_t)r * P + j] = xf_rng_normal(&rng);
	}
	if (module_input(m, d, k, opt->batch, &input, &count, err) < 0)
		goto out;

	jb.opt = opt;
	jb.k = k;
	jb.input = input;
	jb.count = count;
	jb.labels = d->y;
	jb.n = d->n;
	jb.n_classes = n_classes;
	jb.p0 = p0;
	jb.pf = pf;
	jb.z = z;
	jb.P = P;
	jb.eps = res->eps;
	jb.cells = cells;
	jb.n_cells = opt->n_alpha * opt->n_sigma;
	pthread_mutex_init(&jb.mu, NULL);
	for (int i = 0; i < opt->n_alpha; i++)
		for (int j = 0; j < opt->n_sigma; j++) {
			struct xf_critic_cell *cl = &cells[i * opt->n_sigma + j];

			memset(cl, 0, sizeof *cl);
			cl->alpha_i = i;
			cl->sigma_j = j;
			cl->alpha = xf_critic_alpha(opt, i);
			cl->sigma = xf_critic_sigma(opt, j) * res->sigma_scale;
		}
	for (int i = 0; i < n_workers; i++) {
		struct xf_err e;

		ws[i].job = &jb;
		if ((ws[i].base = malloc(P * sizeof *ws[i].base)) == NULL ||
		    (ws[i].first = malloc(P * sizeof *ws[i].first)) == NULL ||
		    (ws[i].now = malloc(P * sizeof *ws[i].now)) == NULL) {
			xf_errf(err, "out of memory for a worker");
			goto join;
		}
		if (i == 0)
			ws[i].m = m;
		else if ((ws[i].m = xf_model_create(xf_model_spec(m), c, h, w,
		    n_classes, &e)) == NULL) {
			xf_errf(err, "worker %d: %s", i, e.msg);
			goto join;
		} else
			xf_model_restore(ws[i].m, snap);
	}
	for (started = 1; started < n_workers; started++)
		if (pthread_create(&tids[started], NULL, work, &ws[started]) != 0)
			break;
	work(&ws[0]);
join:
	for (int i = 1; i < started; i++)
		pthread_join(tids[i], NULL);
	pthread_mutex_destroy(&jb.mu);
	if (started == 0)
		goto out;
	if (jb.failed) {
		*err = jb.err;
		goto out;
	}
	for (int i = 0; i < jb.n_cells; i++) {
		if (!cells[i].feasible)
			continue;
		res->n_feasible++;
		if (cells[i].mu < res->mu) {
			res->mu = cells[i].mu;
			res->best = i;
		}
	}
	ret = 0;
out:
	if (snap != NULL)
		xf_model_restore(m, snap);
	for (int i = 0; ws != NULL && i < n_workers; i++) {
		free(ws[i].base);
		free(ws[i].first);
		free(ws[i].now);
		if (i > 0)
			xf_model_free(ws[i].m);
	}
	free(ws);
	free(tids);
	free(input);
	free(p0);
	free(pf);
	free(z);
	free(snap);
	return ret;
}

void
xf_critic_network(struct xf_critic_module *net,
    const struct xf_critic_module *res, int n)
{
	double d2 = 0, w2 = 0;

	memset(net, 0, sizeof *net);
	net->module = -1;
	net->sigma_scale = NAN;
	net->eps = n > 0 ? res[0].eps : NAN;
	net->best = -1;
	for (int s = 0; s < n; s++) {
		net->mu += res[s].mu;
		d2 += res[s].dist * res[s].dist;
		w2 += res[s].weight_norm * res[s].weight_norm;
		net->n_params += res[s].n_params;
		net->n_feasible += res[s].n_feasible;
	}
	net->dist = sqrt(d2);
	net->weight_norm = sqrt(w2);
}
