#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

/*
 * The data order: t->rng holds the state at the start of the current epoch.
 * The epoch's permutation is drawn from a copy of it, and at the end of the
 * epoch that copy becomes the next epoch's start state.  A checkpoint stores
 * the start state and the position, so a resumed run redraws the same
 * permutation and carries on where it stopped.
 */
static void
draw_order(struct xf_trainer *t, struct xf_rng *after)
{
	*after = t->rng;
	xf_rng_permute(after, t->order, t->data->n, 1);
}

int
xf_trainer_init(struct xf_trainer *t, struct xf_model *m, struct xf_sgd *opt,
    const struct xf_dataset *d, int batch, uint64_t seed,
    const struct xf_lr_schedule *lr, struct xf_err *err)
{
	struct xf_rng after;
	size_t img = (size_t)d->c * d->h * d->w;

	memset(t, 0, sizeof *t);
	t->model = m;
	t->opt = opt;
	t->data = d;
	t->lr = *lr;
	t->batch = batch;
	t->seed = seed;
	xf_rng_seed(&t->rng, seed);
	t->order = malloc(d->n * sizeof *t->order);
	t->xb = malloc((size_t)batch * img);
	t->yb = malloc((size_t)batch * sizeof *t->yb);
	if (t->order == NULL || t->xb == NULL || t->yb == NULL) {
		xf_trainer_free(t);
		return xf_errf(err, "out of memory");
	}
	draw_order(t, &after);
	return 0;
}

long
xf_trainer_steps_per_epoch(const struct xf_trainer *t)
{
	return (long)((t->data->n + t->batch - 1) / t->batch);
}

int
xf_init_scheme_parse(enum xf_init_scheme *s, const char *text,
    struct xf_err *err)
{
	if (strcmp(text, "torch") == 0)
		*s = XF_INIT_TORCH;
	else if (strcmp(text, "he") == 0)
		*s = XF_INIT_HE;
	else
		return xf_errf(err, "want torch or he");
	return 0;
}

const char *
xf_init_scheme_name(enum xf_init_scheme s)
{
	return s == XF_INIT_HE ? "he" : "torch";
}

float
xf_lr_warmup(float lr, long step, long warmup)
{
	if (step >= warmup)
		return lr;
	return (float)((double)lr * (double)(step + 1) / (double)warmup);
}

int
xf_trainer_step(struct xf_trainer *t, struct xf_err *err)
{
	const struct xf_dataset *d = t->data;
	size_t img = (size_t)d->c * d->h * d->w;
	size_t n = d->n - t->pos < (size_t)t->batch ? d->n - t->pos : (size_t)t->batch;
	struct xf_err e;
	int c, h, w, k;

	for (size_t i = 0; i < n; i++) {
		uint32_t j = t->order[t->pos + i];
		int dy, dx, flip;

		/* Example j's draw: its place in the data, not in the batch. */
		if (t->aug.pad || t->aug.flip) {
			xf_augment_draw(&t->aug, t->seed, t->epoch, j, &dy, &dx,
			    &flip);
			xf_augment_image(t->xb + i * img, d->x + (size_t)j * img,
			    d->c, d->h, d->w, t->aug.pad, dy, dx, flip);
		} else {
			memcpy(t->xb + i * img, d->x + (size_t)j * img, img);
		}
		t->yb[i] = d->y[j];
	}
	if (xf_model_forward(t->model, t->xb, t->yb, (int)n, 1, &t->loss,
	    &e) < 0)
		return xf_errf(err, "step %ld: %s", t->step + 1, e.msg);
	if (!isfinite(t->loss))
		return xf_errf(err, "step %ld (epoch %d): loss is %s; stopped, "
		    "the last checkpoint written is the last good one",
		    t->step + 1, t->epoch + 1, isnan(t->loss) ? "NaN" : "Inf");
	xf_model_input_shape(t->model, &c, &h, &w, &k);
	const float *logits = xf_model_logits(t->model);
	t->correct = 0;
	for (size_t i = 0; i < n; i++)
		t->correct += xf_argmax(logits + i * k, k) == t->yb[i];
	t->size = (int)n;
	t->lr_used = xf_lr_warmup(xf_lr_at(&t->lr, t->step, t->epoch), t->step,
	    t->warmup);
	xf_model_zero_grad(t->model);
	xf_model_backward(t->model);
	xf_sgd_step(t->opt, t->model, t->lr_used);
	t->step++;
	t->pos += n;
	if (t->pos == d->n) {
		struct xf_rng after;

		draw_order(t, &after);
		t->rng = after;
		t->epoch++;
		t->pos = 0;
		draw_order(t, &after);
	}
	return 0;
}

void
xf_trainer_save(const struct xf_trainer *t, const struct xf_train_settings *s,
    struct xf_ckpt *c)
{
	char rng[80];

	xf_ckpt_set_float(c, "train.lr", s->lr);
	xf_ckpt_set_float(c, "train.momentum", s->momentum);
	xf_ckpt_set_float(c, "train.wd", s->wd);
	xf_ckpt_set_int(c, "train.batch", s->batch);
	xf_ckpt_set_str(c, "train.schedule", s->schedule);
	xf_ckpt_set_int(c, "train.copy", s->copy);
	xf_ckpt_set_int(c, "train.freeze", s->freeze);
	xf_ckpt_set_str(c, "train.augment", s->augment ? s->augment : "none");
	xf_ckpt_set_int(c, "train.warmup", s->warmup);
	if (s->init_scheme != NULL)
		xf_ckpt_set_str(c, "train.init_scheme", s->init_scheme);
	xf_ckpt_set_int(c, "train.total_steps", s->total_steps);
	xf_ckpt_set_str(c, "prov.data", s->prov_data ? s->prov_data : "");
	xf_ckpt_set_str(c, "prov.parent", s->parent ? s->parent : "");

	snprintf(rng, sizeof rng, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64
	    "%016" PRIx64, t->rng.s[0], t->rng.s[1], t->rng.s[2], t->rng.s[3]);
	xf_ckpt_set_int(c, "train.step", t->step);
	xf_ckpt_set_int(c, "train.epoch", t->epoch);
	xf_ckpt_set_int(c, "train.pos", (int64_t)t->pos);
	xf_ckpt_set_int(c, "train.seed", (int64_t)t->seed);
	xf_ckpt_set_str(c, "train.rng", rng);
}

void
xf_train_settings_load(struct xf_train_settings *s, const struct xf_ckpt *c)
{
	const struct xf_meta *m;

	if ((m = xf_ckpt_get(c, "train.lr")) != NULL)
		s->lr = (float)m->f;
	if ((m = xf_ckpt_get(c, "train.momentum")) != NULL)
		s->momentum = (float)m->f;
	if ((m = xf_ckpt_get(c, "train.wd")) != NULL)
		s->wd = (float)m->f;
	if ((m = xf_ckpt_get(c, "train.batch")) != NULL && m->i > 0 &&
	    m->i <= 1 << 16)
		s->batch = (int)m->i;
	if ((m = xf_ckpt_get(c, "train.schedule")) != NULL && m->type == XF_STR)
		s->schedule = m->s;
	if ((m = xf_ckpt_get(c, "train.freeze")) != NULL && m->i >= 0 && m->i < 64)
		s->freeze = (int)m->i;
	if ((m = xf_ckpt_get(c, "train.copy")) != NULL && m->i >= -1 && m->i < 64)
		s->copy = (int)m->i;
	/* Absent in checkpoints from before --augment and --warmup: none. */
	m = xf_ckpt_get(c, "train.augment");
	s->augment = m != NULL && m->type == XF_STR ? m->s : NULL;
	m = xf_ckpt_get(c, "train.warmup");
	s->warmup = m != NULL && m->type == XF_INT && m->i > 0 ? m->i : 0;
	m = xf_ckpt_get(c, "train.init_scheme");
	s->init_scheme = m != NULL && m->type == XF_STR ? m->s : NULL;
	m = xf_ckpt_get(c, "train.total_steps");
	s->total_steps = m != NULL && m->i > 0 ? m->i : 0;
	m = xf_ckpt_get(c, "prov.parent");
	s->parent = m && m->type == XF_STR && m->s[0] ? m->s : NULL;
}

static int
meta_int(const struct xf_ckpt *c, const char *key, int64_t lo, int64_t hi,
    int64_t *v, struct xf_err *err)
{
	const struct xf_meta *m = xf_ckpt_get(c, key);

	if (m == NULL || m->type != XF_INT || m->i < lo || m->i > hi)
		return xf_errf(err, "meta %s: missing or out of range", key);
	*v = m->i;
	return 0;
}

int
xf_trainer_restore(struct xf_trainer *t, const struct xf_ckpt *c,
    struct xf_err *err)
{
	const struct xf_meta *rng = xf_ckpt_get(c, "train.rng");
	int64_t step = 0, epoch = 0, pos = 0, seed = 0;
	struct xf_rng after;

	if (meta_int(c, "train.step", 0, INT64_MAX, &step, err) < 0 ||
	    meta_int(c, "train.epoch", 0, INT32_MAX, &epoch, err) < 0 ||
	    meta_int(c, "train.pos", 0, (int64_t)t->data->n - 1, &pos, err) < 0 ||
	    meta_int(c, "train.seed", INT64_MIN, INT64_MAX, &seed, err) < 0)
		return -1;
	if (rng == NULL || rng->type != XF_STR || strlen(rng->s) != 64)
		return xf_errf(err, "meta train.rng: missing or not 64 hex digits");
	for (int i = 0; i < 4; i++) {
		char word[17];
		char *end;

		memcpy(word, rng->s + 16 * i, 16);
		word[16] = 0;
		t->rng.s[i] = strtoull(word, &end, 16);
		if (*end != 0)
			return xf_errf(err, "meta train.rng: not hex");
	}
	t->step = step;
	t->epoch = (int)epoch;
	t->pos = (size_t)pos;
	t->seed = (uint64_t)seed;
	draw_order(t, &after);
	return 0;
}

void
xf_trainer_free(struct xf_trainer *t)
{
	free(t->order);
	free(t->xb);
	free(t->yb);
	t->order = NULL;
	t->xb = NULL;
	t->yb = NULL;
}
