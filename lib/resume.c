#include <math.h>
#include <stdint.h>
#include <string.h>

#include "train.h"

/*
 * The settings a checkpoint carries for --resume, each checked against the
 * range of the xf-train option that set it: a stored value the command
 * line would have refused is refused here too, never clamped or dropped.
 */
static const struct {
	const char *key, *opt;
	enum xf_type type;      /* XF_INT, XF_FLOAT (an int passes) or XF_STR */
	double lo, hi;          /* XF_FLOAT */
	int64_t ilo, ihi;       /* XF_INT */
} settings[] = {
	{ "train.lr", "-l", XF_FLOAT, 0, 1e6, 0, 0 },
	{ "train.momentum", "--momentum", XF_FLOAT, 0, 1, 0, 0 },
	{ "train.wd", "--wd", XF_FLOAT, 0, 1, 0, 0 },
	{ "train.batch", "-b", XF_INT, 0, 0, 1, 65536 },
	/* -1: the run had no --copy */
	{ "train.copy", "--copy", XF_INT, 0, 0, -1, 63 },
	{ "train.freeze", "--freeze", XF_INT, 0, 0, 0, 63 },
	{ "train.total_steps", "--steps", XF_INT, 0, 0, 1, INT64_MAX },
	{ "train.seed", "-s", XF_INT, 0, 0, 0, INT64_MAX },
	{ "train.schedule", "--schedule", XF_STR, 0, 0, 0, 0 },
	{ "train.augment", "--augment", XF_STR, 0, 0, 0, 0 },
	{ "train.warmup", "--warmup", XF_INT, 0, 0, 0, INT32_MAX },
	{ "train.init_scheme", "--init-scheme", XF_STR, 0, 0, 0, 0 },
};

/* A stored string setting, read as its option reads it. */
static int
check_str(const char *key, const char *v, struct xf_err *err)
{
	struct xf_lr_schedule lr;
	struct xf_augment a;
	enum xf_init_scheme s;

	if (strcmp(key, "train.schedule") == 0)
		return xf_lr_parse(&lr, v, 0.1f, 1, err);
	if (strcmp(key, "train.augment") == 0)
		return xf_augment_parse(&a, v, err);
	return xf_init_scheme_parse(&s, v, err);
}

int
xf_train_settings_check(const struct xf_ckpt *c, struct xf_err *err)
{
	const struct xf_meta *m, *total, *step, *epoch;
	struct xf_err e;

	for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
		const char *key = settings[i].key;
		double lo = settings[i].lo, hi = settings[i].hi;

		if ((m = xf_ckpt_get(c, key)) == NULL)
			continue;
		switch (settings[i].type) {
		case XF_INT:
			if (m->type != XF_INT || m->i < settings[i].ilo ||
			    m->i > settings[i].ihi)
				return xf_errf(err, "meta %s: want an integer in "
				    "%lld..%lld, as %s takes", key,
				    (long long)settings[i].ilo,
				    (long long)settings[i].ihi, settings[i].opt);
			break;
		case XF_FLOAT:
			if ((m->type != XF_FLOAT && m->type != XF_INT) ||
			    !isfinite(m->f) || m->f < lo || m->f > hi)
				return xf_errf(err, "meta %s: want a number in "
				    "%g..%g, as %s takes", key, lo, hi,
				    settings[i].opt);
			break;
		default:
			if (m->type != XF_STR)
				return xf_errf(err, "meta %s: not a string", key);
			if (check_str(key, m->s, &e) < 0)
				return xf_errf(err, "meta %s: %s", key, e.msg);
			break;
		}
	}
	/* The position: at most the run's length, an epoch per step at most. */
	total = xf_ckpt_get(c, "train.total_steps");
	step = xf_ckpt_get(c, "train.step");
	epoch = xf_ckpt_get(c, "train.epoch");
	if (step != NULL && (step->type != XF_INT || step->i < 0 ||
	    (total != NULL && step->i > total->i)))
		return xf_errf(err, "meta train.step: want an integer in 0..%lld "
		    "(train.total_steps)", total ? (long long)total->i : 0LL);
	if (epoch != NULL && (epoch->type != XF_INT || epoch->i < 0 ||
	    (step != NULL && epoch->i > step->i)))
		return xf_errf(err, "meta train.epoch: want an integer in 0..%lld "
		    "(train.step)", step ? (long long)step->i : 0LL);
	return 0;
}
