/*
 * optim.c: SGD with momentum and weight decay (PyTorch semantics) and
 * learning-rate schedules.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"

struct xf_sgd {
	float	 momentum, weight_decay;
	size_t	 n;
	float	*buf;		/* in the layout of the model's parameters */
	int	 n_tensors;
	struct xf_model_tensor *tensors;
	float	*params;	/* the model's, to locate tensors in buf */
};

struct xf_sgd *
xf_sgd_create(struct xf_model *m, float momentum, float weight_decay,
    struct xf_err *err)
{
	struct xf_sgd *opt;

	if (!(momentum >= 0.0f) || !(weight_decay >= 0.0f)) {
		xf_errf(err, "sgd: momentum %g, weight decay %g: want >= 0",
		    momentum, weight_decay);
		return NULL;
	}
	if ((opt = calloc(1, sizeof *opt)) == NULL)
		goto oom;
	opt->momentum = momentum;
	opt->weight_decay = weight_decay;
	opt->params = xf_model_params(m, &opt->n);
	opt->buf = calloc(opt->n + 1, sizeof *opt->buf);
	opt->tensors = calloc(xf_model_n_tensors(m) + 1, sizeof *opt->tensors);
	if (opt->buf == NULL || opt->tensors == NULL)
		goto oom;
	for (int i = 0; i < xf_model_n_tensors(m); i++) {
		const struct xf_model_tensor *p = xf_model_tensor(m, i);
		struct xf_model_tensor *t = &opt->tensors[opt->n_tensors];

		if (!p->is_param)
			continue;
		*t = *p;
		if ((size_t)snprintf(t->name, sizeof t->name,
		    "%s.momentum_buffer", p->name) >= sizeof t->name) {
			xf_errf(err, "sgd: tensor %s: name too long", p->name);
			xf_sgd_free(opt);
			return NULL;
		}
		t->data = opt->buf + (p->data - opt->params);
		t->grad = NULL;
		t->is_param = 0;
		opt->n_tensors++;
	}
	return opt;
oom:
	xf_sgd_free(opt);
	xf_errf(err, "out of memory");
	return NULL;
}

void
xf_sgd_free(struct xf_sgd *opt)
{
	if (opt == NULL)
		return;
	free(opt->buf);
	free(opt->tensors);
	free(opt);
}

struct sgd_job {
	struct xf_sgd	*opt;
	struct xf_model	*m;
	float		 lr;
};

/*
 * Thread tid of nt updates its share (xf_nn_split) of every trainable
 * tensor: the same arithmetic on each element whatever the split, so any
 * number of threads gives the same bytes.
 */
static void
sgd_job(void *arg, int tid, int nt)
{
	const struct sgd_job *jb = arg;
	struct xf_sgd *opt = jb->opt;
	const float mom = opt->momentum, wd = opt->weight_decay, lr = jb->lr;

	for (int i = 0; i < xf_model_n_tensors(jb->m); i++) {
		const struct xf_model_tensor *t = xf_model_tensor(jb->m, i);
		float *p = t->data, *g = t->grad;
		float *buf = opt->buf + (t->data - opt->params);
		size_t j0, j1;

		if (!t->is_param || xf_model_module(jb->m, t->module)->frozen)
			continue;
		xf_nn_split(t->count, tid, nt, &j0, &j1);
		for (size_t j = j0; j < j1; j++) {
			float d = g[j] + wd * p[j];

			if (mom != 0.0f) {
				buf[j] = mom * buf[j] + d;
				d = buf[j];
			}
			p[j] -= lr * d;
		}
	}
}

/* Below this many parameters one thread is faster than waking the pool. */
#define SGD_SPLIT_MIN 65536

void
xf_sgd_step(struct xf_sgd *opt, struct xf_model *m, float lr)
{
	struct sgd_job jb = { opt, m, lr };

	if (opt->n >= SGD_SPLIT_MIN)
		xf_nn_run(sgd_job, &jb);
	else
		sgd_job(&jb, 0, 1);
}

int
xf_sgd_n_tensors(const struct xf_sgd *opt)
{
	return opt->n_tensors;
}

const struct xf_model_tensor *
xf_sgd_tensor(const struct xf_sgd *opt, int i)
{
	return &opt->tensors[i];
}

int
xf_sgd_find_tensor(const struct xf_sgd *opt, const char *name)
{
	for (int i = 0; i < opt->n_tensors; i++)
		if (strcmp(opt->tensors[i].name, name) == 0)
			return i;
	return -1;
}

int
xf_lr_parse(struct xf_lr_schedule *s, const char *text, float lr,
    long total_steps, struct xf_err *err)
{
	memset(s, 0, sizeof *s);
	s->lr = lr;
	s->gamma = 1.0f;
	s->total_steps = total_steps;
	if (!(lr >= 0.0f) || !isfinite(lr))
		return xf_errf(err, "learning rate %g: want >= 0", lr);
	if (strcmp(text, "constant") == 0) {
		s->kind = XF_LR_CONSTANT;
		return 0;
	}
	if (strcmp(text, "cosine") == 0) {
		if (total_steps < 1)
			return xf_errf(err, "schedule cosine: total steps %ld, "
			    "want >= 1", total_steps);
		s->kind = XF_LR_COSINE;
		return 0;
	}
	if (strncmp(text, "step:", 5) == 0) {
		const char *p = text + 5;
		char *end;

		s->kind = XF_LR_STEP;
		for (;;) {
			long e;

			errno = 0;
			e = strtol(p, &end, 10);
			if (end == p || errno != 0 || e < 0 || e > 1L << 30 ||
			    (s->n_milestones > 0 &&
			    e <= s->milestones[s->n_milestones - 1]))
				return xf_errf(err, "schedule '%s': milestones "
				    "must be ascending epochs", text);
			if (s->n_milestones == XF_LR_MAX_MILESTONES)
				return xf_errf(err, "schedule '%s': more than %d "
				    "milestones", text, XF_LR_MAX_MILESTONES);
			s->milestones[s->n_milestones++] = (int)e;
			p = end;
			if (*p != ',')
				break;
			p++;
		}
		if (*p != ':')
			return xf_errf(err, "schedule '%s': want "
			    "step:E1,E2,...:GAMMA", text);
		p++;
		errno = 0;
		s->gamma = strtof(p, &end);
		if (end == p || *end != '\0' || errno != 0 ||
		    !(s->gamma > 0.0f) || !isfinite(s->gamma))
			return xf_errf(err, "schedule '%s': gamma must be a "
			    "positive number", text);
		return 0;
	}
	return xf_errf(err, "schedule '%s': want constant, step:E1,...:GAMMA "
	    "or cosine", text);
}

float
xf_lr_at(const struct xf_lr_schedule *s, long step, int epoch)
{
	float lr = s->lr;

	switch (s->kind) {
	case XF_LR_CONSTANT:
		break;
	case XF_LR_STEP:
		/* Repeated multiplication, as PyTorch's MultiStepLR does. */
		for (int i = 0; i < s->n_milestones; i++)
			if (epoch >= s->milestones[i])
				lr *= s->gamma;
		break;
	case XF_LR_COSINE:
		if (step >= s->total_steps)
			step = s->total_steps;
		lr = (float)(s->lr * (1.0 + cos(M_PI * (double)step /
		    (double)s->total_steps)) / 2.0);
		break;
	}
	return lr;
}
