/*
 * test_features: what the tools share through lib for evaluation and
 * features (features.c, tally.c, trainer.c's settings): pooling and the
 * feature width against a naive average, a feature stream written and read
 * back, the mistakes table and batch sums against counts done here, and the
 * train.* keys saved and loaded.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "tap.h"

static void
test_pool(struct xf_model *m, const struct xf_dataset *d)
{
	int ndim, shape[3], n = 5;
	size_t count, width = 0;
	struct xf_err e;
	float loss;

	xf_model_forward(m, d->x, d->y, n, 0, &loss, &e);
	const float *act = xf_model_activation(m, 0, &ndim, shape, &count);
	int rc = xf_features_width(m, 0, 3, &width, &e);
	ok(ndim == 3 && rc == 0 &&
	    width == (size_t)shape[0] * (shape[1] / 3) * (shape[2] / 3),
	    "conv width pooled 3x3: %zu (of %dx%dx%d)", width, shape[0],
	    shape[1], shape[2]);
	float *got = malloc(n * width * sizeof *got);
	xf_features_take(got, m, 0, n, 3);
	/* The naive average of each 3x3 window; the trailing row and column
	 * of an 8x8 map fall off. */
	double worst = 0;
	int oh = shape[1] / 3, ow = shape[2] / 3;
	for (int i = 0; i < n; i++)
		for (int c = 0; c < shape[0]; c++)
			for (int y = 0; y < oh; y++)
				for (int x = 0; x < ow; x++) {
					double s = 0;

					for (int dy = 0; dy < 3; dy++)
						for (int dx = 0; dx < 3; dx++)
							s += act[(((size_t)i * shape[0] + c) *
							    shape[1] + y * 3 + dy) * shape[2] +
							    x * 3 + dx];
					worst = fmax(worst, fabs(s / 9 - got[(((size_t)i *
					    shape[0] + c) * oh + y) * ow + x]));
				}
	ok(worst < 1e-6, "pooled features = the naive 3x3 mean (%.2g)", worst);
	free(got);

	rc = xf_features_width(m, 0, 1, &width, &e);
	ok(rc == 0 && width == count, "pool 1: the whole activation, %zu",
	    width);
	rc = xf_features_width(m, 0, 9, &width, &e);
	ok(rc == -1 && strstr(e.msg, "is 8x8") != NULL, "pool 9 on 8x8: %s",
	    e.msg);
	int head = xf_model_n_modules(m) - 1;
	xf_model_activation(m, head, &ndim, shape, &count);
	got = malloc(n * count * sizeof *got);
	xf_features_take(got, m, head, n, 4);
	act = xf_model_activation(m, head, &ndim, shape, &count);
	rc = xf_features_width(m, head, 4, &width, &e);
	ok(rc == 0 && width == count &&
	    memcmp(got, act, n * count * sizeof *got) == 0,
	    "a linear module: pool changes nothing (%zu floats)", width);
	free(got);
}

static void
write_stream(const char *path, const char *kind, size_t n, size_t p,
    const float *x)
{
	struct xf_header h = { .count = -1, .ndim = 1 };
	struct xf_err e;
	struct xf_writer *w = xf_writer_open(path, &e);

	if (w == NULL) {
		ok(0, "write %s: %s", path, e.msg);
		return;
	}
	snprintf(h.kind, sizeof h.kind, "%s", kind);
	snprintf(h.dtype, sizeof h.dtype, "float32");
	snprintf(h.module, sizeof h.module, "fc9");
	h.shape[0] = (int64_t)p;
	xf_writer_header(w, &h, &e);
	for (size_t i = 0; i < n; i++) {
		xf_writer_begin(w, 3);
		xf_writer_int(w, "i", (int64_t)(1000 + 7 * i));
		xf_writer_int(w, "y", (int64_t)(i % 3));
		xf_writer_bin(w, "x", x + i * p, p * sizeof *x);
		xf_writer_end(w, &e);
	}
	xf_writer_close(w, &e);
}

static void
test_read(void)
{
	char buf[TAP_PATH_MAX], path[TAP_PATH_MAX + 16];
	size_t n = 1500, p = 3;	/* past the first 1024-row allocation */
	float *x = malloc(n * p * sizeof *x);
	struct xf_features f;
	struct xf_err e;
	int same = 1;

	if (mkdtemp(tap_tmp(buf, "test_features")) == NULL)
		exit(1);
	snprintf(path, sizeof path, "%s/f.xfs", buf);
	for (size_t i = 0; i < n * p; i++)
		x[i] = (float)i / 3 - 100;
	write_stream(path, "features", n, p, x);
	int rc = xf_features_read(path, &f, &e);
	ok(rc == 0 && f.n == n && f.p == p &&
	    strcmp(f.module, "fc9") == 0, "read back: %zu x %zu of %s", f.n, f.p,
	    f.module);
	for (size_t i = 0; f.x != NULL && i < n; i++)
		same &= f.index[i] == (int64_t)(1000 + 7 * i);
	ok(same && f.x != NULL && memcmp(f.x, x, n * p * sizeof *x) == 0,
	    "every row and index as written");
	xf_features_free(&f);
	unlink(path);
	/* Another name: the reader has registered f.xfs as an input, and an
	 * output onto an input is refused. */
	snprintf(path, sizeof path, "%s/e.xfs", buf);
	write_stream(path, "eval", 2, p, x);
	rc = xf_features_read(path, &f, &e);
	ok(rc == -1 && f.x == NULL &&
	    strstr(e.msg, "kind \"eval\"") != NULL, "not a feature stream: %s",
	    e.msg);
	unlink(path);
	snprintf(path, sizeof path, "%s/none.xfs", buf);
	rc = xf_features_read(path, &f, &e);
	ok(rc == -1, "no file: %s", e.msg);
	rmdir(buf);
	free(x);
}

static void
test_tally(void)
{
	int y[] = { 0, 1, 2, 3, 0, 1, 2, 3, 0 };
	int a[] = { 0, 1, 0, 0, 1, 1, 2, 2, 3 };
	int b[] = { 0, 2, 0, 1, 0, 1, 1, 2, 3 };
	/* by hand: 0 rr, 1 rw, 2 ww same, 3 ww other, 4 wr, 5 rr, 6 rw,
	 * 7 ww same, 8 ww same */
	struct xf_mistakes t = { 0 };

	xf_mistakes_add(&t, a, b, y, 5);
	xf_mistakes_add(&t, a + 5, b + 5, y + 5, 4);
	ok(t.both_right == 2 && t.only_b == 2 && t.only_a == 1 &&
	    t.both_wrong == 4 && t.same_wrong == 3,
	    "mistakes: %ld both right, %ld both wrong (%ld the same), %ld only a, "
	    "%ld only b", t.both_right, t.both_wrong, t.same_wrong, t.only_a,
	    t.only_b);

	struct xf_eval_result s = { 0 }, r1 = { 3, 2, 0.25 }, r2 = { 5, 1, 1.5 };
	xf_eval_result_add(&s, &r1);
	xf_eval_result_add(&s, &r2);
	ok(s.n == 8 && s.correct == 3 && s.loss_sum == 1.75,
	    "eval sums: n, correct and loss added");
}

static void
test_settings(struct xf_model *m, const struct xf_dataset *d)
{
	struct xf_train_settings s = { 0.125f, 0.5f, 0.25f, 16, "cosine", 2, 1,
	    777, "xf-import synthetic", "p.tar", "crop:2,flip", 3, "he" };
	struct xf_train_settings t = { 9, 9, 9, 9, "constant", 9, 9, 9, "", "",
	    "", 9, "" };
	struct xf_lr_schedule lr;
	struct xf_trainer tr;
	struct xf_ckpt c = { 0 };
	struct xf_sgd *opt = xf_sgd_create(m, 0.9f, 0, NULL);
	struct xf_err e;
	int rc;
	static const char *keys[] = { "train.lr", "train.momentum", "train.wd",
	    "train.batch", "train.schedule", "train.copy", "train.freeze",
	    "train.augment", "train.warmup", "train.init_scheme",
	    "train.total_steps", "prov.data", "prov.parent", "train.step",
	    "train.epoch", "train.pos", "train.seed", "train.rng" };
	int in_order = c.n_meta == 0;

	xf_lr_parse(&lr, "constant", 0.1f, 10, &e);
	xf_trainer_init(&tr, m, opt, d, 16, 5, &lr, &e);
	xf_trainer_step(&tr, &e);
	xf_trainer_save(&tr, &s, &c);
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		in_order &= i < c.n_meta && strcmp(c.meta[i].key, keys[i]) == 0;
	ok(in_order && c.n_meta == 18, "the 18 keys, settings first, in order");
	xf_train_settings_load(&t, &c);
	ok(t.lr == s.lr && t.momentum == s.momentum && t.wd == s.wd &&
	    t.batch == 16 && strcmp(t.schedule, "cosine") == 0 && t.copy == 2 &&
	    t.freeze == 1 && t.total_steps == 777 &&
	    strcmp(t.augment, "crop:2,flip") == 0 && t.warmup == 3 &&
	    strcmp(t.init_scheme, "he") == 0 &&
	    strcmp(t.parent, "p.tar") == 0, "settings loaded as saved");
	struct xf_trainer back = tr;
	back.step = 0;
	rc = xf_trainer_restore(&back, &c, &e);
	ok(rc == 0 && back.step == 1 &&
	    back.pos == 16 && back.seed == 5, "state restored: step %ld",
	    back.step);
	xf_ckpt_free(&c);

	struct xf_ckpt empty = { 0 };
	struct xf_train_settings u = s;
	xf_train_settings_load(&u, &empty);
	ok(u.lr == s.lr && u.batch == 16 && u.total_steps == 0 &&
	    u.parent == NULL && u.augment == NULL && u.warmup == 0 &&
	    u.init_scheme == NULL, "no keys: settings kept, no length, no "
	    "parent, no augmentation or warmup");
	xf_trainer_free(&tr);
	xf_sgd_free(opt);
}

int
main(void)
{
	struct xf_dataset d;
	char s[16];
	int64_t shape[] = { 32, 1, 3, 3 };

	xf_nn_set_threads(1);
	make_data(&d, 64, 1);
	struct xf_model *m = made("c4,p,f8,f", 1, &d, 0, NULL);
	test_pool(m, &d);
	test_read();
	test_tally();
	test_settings(m, &d);
	xf_shape_str(s, sizeof s, 4, shape);
	ok(strcmp(s, "32x1x3x3") == 0, "shape as text: %s", s);
	xf_shape_str(s, 5, 4, shape);
	ok(strcmp(s, "32x1") == 0, "cut to fit: %s", s);
	xf_model_free(m);
	free(d.x);
	free(d.y);
	free(d.index);
	return tap_done();
}
