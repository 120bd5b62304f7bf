/*
 * xf-train: train a model from random init (RI-T) or from a checkpoint
 * (P-T), with Yosinski's copy/freeze controls, a checkpoint series, a log
 * stream and exact resume.
 */
#include <err.h>
#include <math.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"
#include "train.h"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: xf-train [-v] [-a arch] [-b batch] [-e epochs] [-j threads] "
	    "[-l lr]\n"
	    "                [-o out] [-s seed] [--augment spec] [--copy n] "
	    "[--freeze n]\n"
	    "                [--init ckpt] [--init-scheme scheme] [--log file]\n"
	    "                [--log-every k] [--momentum m] [--new-head] "
	    "[--normalize m/s]\n"
	    "                [--resume ckpt] [--save-every k] [--save-init file]\n"
	    "                [--save-prefix prefix] [--save-steps k] "
	    "[--schedule s]\n"
	    "                [--steps n] [--val file] [--val-every k] "
	    "[--warmup k]\n"
	    "                [--wd w] [file]\n");
	exit(2);
}

struct opts {
	struct xf_train_settings set;   /* what a resumed run takes over */
	const char *arch, *out, *init, *resume, *log, *val, *save_init;
	const char *save_prefix, *data;
	int epochs, verbose, new_head;
	long steps, log_every, save_every, save_steps, val_every;
	uint64_t seed;
	int settings, length;   /* options given that set these */
	struct xf_augment aug;
	char aug_text[32];      /* aug's canonical text, for train.augment */
	int init_scheme;        /* -1: the spec's default */
	int norm_n;             /* --normalize: channels; 0: not given */
	float norm_mean[XF_NORM_MAX_C], norm_std[XF_NORM_MAX_C];
};

/* Run state the helpers below share. */
struct run {
	struct opts *o;
	struct xf_model *m;
	struct xf_sgd *opt;
	struct xf_trainer t;
	struct xf_dataset train, val;
	char *prov_data;
	char *self;             /* this command line, for the log's provenance */
	const char *parent;
	float *theta0;
	long total;
	struct xf_writer *log;
	int layers[64], n_layers;
	double t_start;
	long step_start;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void
save(struct run *r, const char *path, int with_state)
{
	struct xf_ckpt c = { 0 };
	struct xf_err e;

	if (xf_model_to_ckpt(r->m, with_state ? r->opt : NULL, &c, &e) < 0)
		errx(1, "%s: %s", tool_out_name(path), e.msg);
	r->o->set.total_steps = r->total;
	r->o->set.prov_data = r->prov_data ? r->prov_data : "";
	r->o->set.parent = r->parent ? r->parent : "";
	xf_trainer_save(&r->t, &r->o->set, &c);
	if (xf_ckpt_write(path, &c, &e) < 0)
		tool_write_failed(tool_out_name(path), &e);
	xf_ckpt_free(&c);
}

static void
save_series(struct run *r)
{
	char path[4096];

	snprintf(path, sizeof path, "%s-e%03d-s%07ld.tar", r->o->save_prefix,
	    r->t.epoch, r->t.step);
	save(r, path, 1);
}

/* The log stream: the training data's provenance, then this command. */
static void
log_open(struct run *r)
{
	struct xf_header h = { .kind = "log", .count = -1 };

	for (int i = 0; i < r->train.header.n_prov; i++)
		xf_header_add_prov(&h, r->train.header.prov[i]);
	if (r->self != NULL)
		xf_header_add_prov(&h, r->self);
	r->log = tool_writer_open(r->o->log, &h);
	xf_header_free(&h);
}

static void
log_record(struct run *r, int with_val, const struct xf_eval_result *v)
{
	struct xf_trainer *t = &r->t;
	int nm = xf_model_n_modules(r->m), with_params = 0;
	double total = 0;
	char key[64];

	/* A residual block module has no tensors: no columns of its own. */
	for (int k = 0; k < nm; k++)
		with_params += xf_model_module(r->m, k)->n_tensors > 0;
	xf_writer_begin(r->log, 8 + 2 * with_params);
	xf_writer_int(r->log, "step", t->step);
	xf_writer_int(r->log, "epoch", t->epoch);
	xf_writer_float32(r->log, "loss", t->loss);
	xf_writer_float(r->log, "acc", (double)t->correct / t->size);
	xf_writer_float32(r->log, "lr", t->lr_used);
	for (int k = 0; k < nm; k++) {
		double g = xf_module_grad_norm(r->m, k);

		total += g * g;
	}
	xf_writer_float(r->log, "grad_norm", sqrt(total));
	for (int k = 0; k < nm; k++) {
		if (xf_model_module(r->m, k)->n_tensors == 0)
			continue;
		snprintf(key, sizeof key, "grad_norm.%s", xf_model_module(r->m, k)->name);
		xf_writer_float(r->log, key, xf_module_grad_norm(r->m, k));
	}
	for (int k = 0; k < nm; k++) {
		if (xf_model_module(r->m, k)->n_tensors == 0)
			continue;
		snprintf(key, sizeof key, "dist.%s", xf_model_module(r->m, k)->name);
		xf_writer_float(r->log, key, xf_module_distance(r->m, k, r->theta0));
	}
	if (with_val) {
		xf_writer_float(r->log, "val_loss", v->loss_sum / v->n);
		xf_writer_float(r->log, "val_acc", (double)v->correct / v->n);
	} else {
		xf_writer_nil(r->log, "val_loss");
		xf_writer_nil(r->log, "val_acc");
	}
	tool_record_end(r->log, r->o->log);
}

static void
progress(struct run *r, int force)
{
	struct xf_trainer *t = &r->t;
	static double last;
	double tn = now(), rate, eta;

	if (!force && tn - last < 0.5)
		return;
	last = tn;
	rate = (t->step - r->step_start) * (double)r->o->set.batch /
	    (tn - r->t_start + 1e-9);
	eta = (r->total - t->step) * (double)r->o->set.batch / (rate + 1e-9);
	fprintf(stderr, "\repoch %d step %ld/%ld loss %.4f %.0f img/s ETA %d:%02d ",
	    t->epoch + 1, t->step, r->total, t->loss, rate, (int)eta / 60,
	    (int)eta % 60);
}

/*
 * The random start (all of it, or what --init does not copy) in the scheme
 * of --init-scheme or the spec's default, and --normalize over what the
 * model came with.
 */
static void
init_model(struct run *r, struct xf_rng *rng)
{
	struct opts *o = r->o;
	struct xf_err e;

	if (o->init_scheme >= 0)
		xf_model_set_init_scheme(r->m, (enum xf_init_scheme)o->init_scheme);
	if (!o->resume)
		o->set.init_scheme = xf_init_scheme_name(xf_model_init_scheme(r->m));
	xf_model_init(r->m, rng);
	if (o->norm_n && xf_model_set_normalize(r->m, o->norm_mean, o->norm_std,
	    o->norm_n, &e) < 0)
		errx(2, "--normalize: %s", e.msg);
}

/*
 * Builds the model: from --resume or --init (the checkpoint already in
 * from), or random.  Init draws from its own stream, apart from data order.
 */
static void
setup_model(struct run *r, const struct xf_ckpt *from)
{
	struct opts *o = r->o;
	const struct xf_dataset *d = &r->train;
	const char *src = o->resume ? o->resume : o->init;
	struct xf_rng init_rng;
	struct xf_err e;

	xf_rng_seed(&init_rng, o->seed ^ 0x696e6974ULL);
	if (src == NULL) {
		r->m = xf_model_create(o->arch ? o->arch : "cnn", d->c, d->h, d->w,
		    d->n_classes, &e);
		if (r->m == NULL)
			errx(2, "-a %s: %s", o->arch ? o->arch : "cnn", e.msg);
		init_model(r, &init_rng);
	} else {
		int new_head = o->new_head || from->n_classes != d->n_classes;

		r->m = xf_model_create_ckpt(from, new_head ? d->n_classes :
		    (int)from->n_classes, new_head, &e);
		if (r->m == NULL || xf_model_normalize_load(r->m, from, &e) < 0)
			errx(1, "%s: %s", src, e.msg);
		init_model(r, &init_rng);
		xf_model_layers(r->m, r->layers, &r->n_layers);
		if (o->set.copy > r->n_layers - 1)
			errx(2, "--copy %d: the model has %d layers below the head",
			    o->set.copy, r->n_layers - 1);
		/*
		 * --copy n: the first n layers; otherwise all but a new head.
		 * A resumed run takes every tensor from its checkpoint, whatever
		 * the --copy of the run it continues.
		 */
		if (xf_model_copy(r->m, from, o->set.copy >= 0 && !o->resume ?
		    r->layers[o->set.copy] : -1, new_head && !o->resume, &e) < 0)
			errx(1, "%s: %s", src, e.msg);
	}
	xf_model_layers(r->m, r->layers, &r->n_layers);
	if (xf_model_check_input(r->m, d->c, d->h, d->w, d->n_classes, &e) < 0) {
		if (src != NULL)
			errx(1, "%s: %s: %s", tool_in_name(o->data), src, e.msg);
		errx(1, "%s: %s", tool_in_name(o->data), e.msg);
	}
	/* The validation set must fit too: the model reads c*h*w bytes each. */
	if (o->val && xf_model_check_input(r->m, r->val.c, r->val.h, r->val.w,
	    r->val.n_classes, &e) < 0)
		errx(1, "%s: %s", o->val, e.msg);
	if (o->set.freeze > r->n_layers - 1)
		errx(2, "--freeze %d: the model has %d layers below the head",
		    o->set.freeze, r->n_layers - 1);
	for (int k = 0; k < r->layers[o->set.freeze]; k++)
		xf_model_freeze(r->m, k, 1);
}

/* The options into o; exit 2 on a usage error. */
static void
parse_options(int argc, char **argv, struct opts *o, const char **jarg)
{
	enum { O_AUGMENT = 256, O_COPY, O_FREEZE, O_INIT, O_INIT_SCHEME, O_LOG,
	    O_LOG_EVERY, O_MOMENTUM, O_NEW_HEAD, O_NORMALIZE, O_RESUME,
	    O_SAVE_EVERY, O_SAVE_INIT, O_SAVE_PREFIX, O_SAVE_STEPS, O_SCHEDULE,
	    O_STEPS, O_VAL, O_VAL_EVERY, O_WARMUP, O_WD };
	static const struct option longopts[] = {
		{ "augment", required_argument, NULL, O_AUGMENT },
		{ "copy", required_argument, NULL, O_COPY },
		{ "freeze", required_argument, NULL, O_FREEZE },
		{ "init", required_argument, NULL, O_INIT },
		{ "init-scheme", required_argument, NULL, O_INIT_SCHEME },
		{ "log", required_argument, NULL, O_LOG },
		{ "log-every", required_argument, NULL, O_LOG_EVERY },
		{ "momentum", required_argument, NULL, O_MOMENTUM },
		{ "new-head", no_argument, NULL, O_NEW_HEAD },
		{ "normalize", required_argument, NULL, O_NORMALIZE },
		{ "resume", required_argument, NULL, O_RESUME },
		{ "save-every", required_argument, NULL, O_SAVE_EVERY },
		{ "save-init", required_argument, NULL, O_SAVE_INIT },
		{ "save-prefix", required_argument, NULL, O_SAVE_PREFIX },
		{ "save-steps", required_argument, NULL, O_SAVE_STEPS },
		{ "schedule", required_argument, NULL, O_SCHEDULE },
		{ "steps", required_argument, NULL, O_STEPS },
		{ "val", required_argument, NULL, O_VAL },
		{ "val-every", required_argument, NULL, O_VAL_EVERY },
		{ "warmup", required_argument, NULL, O_WARMUP },
		{ "wd", required_argument, NULL, O_WD },
		{ NULL, 0, NULL, 0 }
	};
	enum xf_init_scheme scheme;
	struct xf_err e;
	int ch;

	while ((ch = getopt_long(argc, argv, "a:b:e:j:l:o:s:v", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'a': o->arch = optarg; break;
		case 'b': o->set.batch = (int)tool_int("-b", optarg, 1, 65536); o->settings++; break;
		case 'e': o->epochs = (int)tool_int("-e", optarg, 1, 1000000); o->length++; break;
		case 'j': *jarg = optarg; break;
		case 'l': o->set.lr = (float)tool_float("-l", optarg, 0, 1e6); o->settings++; break;
		case 'o': o->out = optarg; break;
		case 's': o->seed = (uint64_t)tool_int("-s", optarg, 0, INT64_MAX); o->settings++; break;
		case 'v': o->verbose = 1; break;
		case O_AUGMENT:
			if (xf_augment_parse(&o->aug, optarg, &e) < 0)
				errx(2, "--augment %s: %s", optarg, e.msg);
			xf_augment_str(o->aug_text, sizeof o->aug_text, &o->aug);
			o->set.augment = o->aug_text;
			o->settings++;
			break;
		case O_COPY: o->set.copy = (int)tool_int("--copy", optarg, 0, 63); break;
		case O_FREEZE: o->set.freeze = (int)tool_int("--freeze", optarg, 0, 63); o->settings++; break;
		case O_INIT: o->init = optarg; break;
		case O_INIT_SCHEME:
			if (xf_init_scheme_parse(&scheme, optarg, &e) < 0)
				errx(2, "--init-scheme %s: %s", optarg, e.msg);
			o->init_scheme = (int)scheme;
			o->settings++;
			break;
		case O_LOG: o->log = optarg; break;
		case O_LOG_EVERY: o->log_every = tool_int("--log-every", optarg, 1, INT32_MAX); break;
		case O_MOMENTUM: o->set.momentum = (float)tool_float("--momentum", optarg, 0, 1); o->settings++; break;
		case O_NEW_HEAD: o->new_head = 1; break;
		case O_NORMALIZE:
			if (xf_normalize_parse(optarg, o->norm_mean, o->norm_std,
			    &o->norm_n, &e) < 0)
				errx(2, "--normalize %s: %s", optarg, e.msg);
			o->settings++;
			break;
		case O_RESUME: o->resume = optarg; break;
		case O_SAVE_EVERY: o->save_every = tool_int("--save-every", optarg, 1, INT32_MAX); break;
		case O_SAVE_INIT: o->save_init = optarg; break;
		case O_SAVE_PREFIX: o->save_prefix = optarg; break;
		case O_SAVE_STEPS: o->save_steps = tool_int("--save-steps", optarg, 1, INT64_MAX); break;
		case O_SCHEDULE: o->set.schedule = optarg; o->settings++; break;
		case O_STEPS: o->steps = tool_int("--steps", optarg, 1, INT64_MAX); o->length++; break;
		case O_VAL: o->val = optarg; break;
		case O_VAL_EVERY: o->val_every = tool_int("--val-every", optarg, 1, INT32_MAX); break;
		case O_WARMUP: o->set.warmup = tool_int("--warmup", optarg, 0, INT32_MAX); o->settings++; break;
		case O_WD: o->set.wd = (float)tool_float("--wd", optarg, 0, 1); o->settings++; break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1)
		usage();
	o->data = argc == 1 ? argv[0] : "-";
	if (o->resume && (o->init || o->arch || o->set.copy >= 0 || o->new_head ||
	    o->settings))
		errx(2, "--resume continues a run with its own settings: give only "
		    "the data, -e or --steps, outputs and -j");
	if ((o->set.copy >= 0 || o->new_head) && o->init == NULL)
		errx(2, "--copy and --new-head need --init");
	if (o->arch && o->init)
		errx(2, "-a: the architecture comes from --init %s", o->init);
	if (o->out == NULL && isatty(1))
		errx(2, "not writing a checkpoint to a terminal: use -o file or a pipe");
}

/*
 * Everything up to the first step: the data, the checkpoint to start from
 * (from), the model, the optimiser, the schedule and the trainer, θ0 and
 * the outputs written before training.
 */
static void
start(struct run *r, struct xf_ckpt *from)
{
	struct opts *o = r->o;
	struct xf_lr_schedule lr;
	struct xf_err e;
	size_t nsnap;

	if (xf_dataset_read(o->data, &r->train, &e) < 0)
		errx(1, "%s: %s", tool_in_name(o->data), e.msg);
	if (o->val && xf_dataset_read(o->val, &r->val, &e) < 0)
		errx(1, "%s: %s", o->val, e.msg);
	if (o->init && xf_ckpt_read(o->init, from, &e) < 0)
		errx(1, "%s: %s", o->init, e.msg);
	r->parent = o->init;
	if (o->resume) {
		if (xf_ckpt_read(o->resume, from, &e) < 0 ||
		    xf_train_settings_check(from, &e) < 0)
			errx(1, "%s: %s", o->resume, e.msg);
		/* A resumed run keeps the parent of the run it continues. */
		xf_train_settings_load(&o->set, from);
		r->parent = o->set.parent;
	}
	setup_model(r, from);
	r->prov_data = xf_header_prov_line(&r->train.header);
	if ((r->opt = xf_sgd_create(r->m, o->set.momentum, o->set.wd, &e)) == NULL)
		errx(1, "%s", e.msg);

	long per_epoch = (long)((r->train.n + o->set.batch - 1) / o->set.batch);
	r->total = o->steps ? o->steps : per_epoch * o->epochs;
	/* A resumed run goes on to the length of the run it continues. */
	if (o->resume && !o->length && o->set.total_steps > 0)
		r->total = o->set.total_steps;
	if (xf_lr_parse(&lr, o->set.schedule, o->set.lr, r->total, &e) < 0)
		errx(2, "--schedule %s: %s", o->set.schedule, e.msg);
	if (xf_trainer_init(&r->t, r->m, r->opt, &r->train, o->set.batch, o->seed,
	    &lr, &e) < 0)
		errx(1, "%s", e.msg);
	if (o->resume) {
		if (xf_sgd_load(r->opt, from, &e) < 0 ||
		    xf_trainer_restore(&r->t, from, &e) < 0)
			errx(1, "%s: %s", o->resume, e.msg);
		o->seed = r->t.seed;
	}
	/* A resumed run's come from its checkpoint, checked by
	 * xf_train_settings_check. */
	if (o->set.augment && xf_augment_parse(&o->aug, o->set.augment, &e) < 0)
		errx(1, "%s: meta train.augment: %s", o->resume, e.msg);
	r->t.aug = o->aug;
	r->t.warmup = o->set.warmup;
	if ((r->theta0 = xf_model_snapshot(r->m, &nsnap)) == NULL)
		err(1, NULL);
	if (o->save_init)
		save(r, o->save_init, 0);
	if ((o->save_every || o->save_steps) && r->t.step == 0)
		save_series(r);
	if (o->log)
		log_open(r);
}

/* The steps, with the log, the series, validation and progress. */
static void
train(struct run *r)
{
	struct opts *o = r->o;
	struct xf_err e;
	int tty = isatty(2);

	r->t_start = now();
	r->step_start = r->t.step;
	while (r->t.step < r->total) {
		int epoch = r->t.epoch;

		if (xf_trainer_step(&r->t, &e) < 0) {
			struct xf_err le;

			if (tty)
				fputc('\n', stderr);
			/* Keep the log up to the last good step: it shows why. */
			if (r->log && xf_writer_close(r->log, &le) < 0)
				warnx("%s: %s", o->log, le.msg);
			errx(1, "%s: %s", tool_in_name(o->data), e.msg);
		}
		int epoch_end = r->t.epoch != epoch;
		/* --val-every replaces the epoch ends: on a small set an
		 * epoch is a few steps, and validating each one cost more
		 * than training (N = 100, batch 64: 12.8 s against 7.2). */
		int val = o->val && (r->t.step == r->total || (o->val_every ?
		    r->t.step % o->val_every == 0 : epoch_end));
		struct xf_eval_result v = { 0 };
		if (val &&
		    xf_model_evaluate(r->m, &r->val, 256, &v, NULL, NULL, NULL, &e) < 0)
			errx(1, "%s: %s", o->val, e.msg);
		if (r->log && (r->t.step % o->log_every == 0 || epoch_end || val ||
		    r->t.step == r->total))
			log_record(r, val, &v);
		if ((o->save_every && epoch_end && r->t.epoch % o->save_every == 0) ||
		    (o->save_steps && r->t.step % o->save_steps == 0))
			save_series(r);
		if (tty)
			progress(r, 0);
		if (epoch_end && (o->verbose || tty)) {
			if (tty)
				fputc('\n', stderr);
			fprintf(stderr, "xf-train: epoch %d step %ld loss %.4f",
			    r->t.epoch, r->t.step, r->t.loss);
			if (val)
				fprintf(stderr, " val_acc %.4f val_loss %.4f",
				    (double)v.correct / v.n, v.loss_sum / v.n);
			fprintf(stderr, " %.0f img/s\n", (r->t.step - r->step_start) *
			    (double)o->set.batch / (now() - r->t_start));
		}
	}
	if (tty)
		progress(r, 1), fputc('\n', stderr);
}

int
main(int argc, char **argv)
{
	struct opts o = { .set = { .batch = 128, .copy = -1, .lr = 0.05f,
	    .momentum = 0.9f, .wd = 5e-4f, .schedule = "constant" }, .epochs = 1,
	    .seed = 1, .log_every = 50, .save_prefix = "ckpt", .init_scheme = -1 };
	struct run r = { .o = &o };
	struct xf_ckpt from = { 0 };
	const char *jarg = NULL;

	r.self = xf_prov_argv(argc, argv);
	parse_options(argc, argv, &o, &jarg);
	xf_nn_set_threads(tool_threads(jarg));
	start(&r, &from);
	train(&r);
	tool_writer_close(r.log, o.log);
	save(&r, o.out ? o.out : "-", 1);
	xf_trainer_free(&r.t);
	xf_sgd_free(r.opt);
	xf_model_free(r.m);
	xf_ckpt_free(&from);
	xf_dataset_free(&r.train);
	xf_dataset_free(&r.val);
	free(r.theta0);
	free(r.prov_data);
	free(r.self);
	return 0;
}
