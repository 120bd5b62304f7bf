/*
 * test_augment.c: the crop and flip of augment.c against their literal
 * _ref twin (pad, crop, mirror) and a hand-worked image; the draw is a
 * pure function of (seed, epoch, example) that covers every offset about
 * evenly and flips about half; the trainer gives each example of a batch
 * the image its (seed, epoch, index) says; the option's parser; the
 * learning-rate warmup.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "train.h"

static void
test_kernel(void)
{
	struct xf_rng r;
	int bad = 0, cases = 0;

	xf_rng_seed(&r, 5);
	for (int c = 1; c <= 3; c += 2)
		for (int h = 1; h <= 9; h += 4)
			for (int w = 1; w <= 8; w += 3)
				for (int pad = 1; pad <= 10; pad += 3) {
					size_t n = (size_t)c * h * w;
					uint8_t *in = malloc(n), *a = malloc(n), *b = malloc(n);

					for (size_t i = 0; i < n; i++)
						in[i] = (uint8_t)(1 + xf_rng_next(&r) % 255);
					for (int dy = 0; dy <= 2 * pad; dy++)
						for (int dx = 0; dx <= 2 * pad; dx++)
							for (int f = 0; f < 2; f++) {
								memset(a, 0xaa, n);
								xf_augment_image(a, in, c, h, w, pad,
								    dy, dx, f);
								xf_augment_image_ref(b, in, c, h, w,
								    pad, dy, dx, f);
								bad += memcmp(a, b, n) != 0;
								cases++;
							}
					free(in);
					free(a);
					free(b);
				}
	ok(bad == 0, "crop and flip equal the literal pad-crop-mirror in all "
	    "%d cases (C 1 and 3, H 1..9, W 1..8, pad 1..10, every offset)",
	    cases);

	/* By hand: 1x3x3, pad 1, window at (0, 2): shifted up-left by
	 * (-1, +1), then mirrored. */
	const uint8_t in[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	const uint8_t crop[9] = { 0, 0, 0, 2, 3, 0, 5, 6, 0 };
	const uint8_t flip[9] = { 0, 0, 0, 0, 3, 2, 0, 6, 5 };
	uint8_t out[9];

	xf_augment_image(out, in, 1, 3, 3, 1, 0, 2, 0);
	ok(memcmp(out, crop, 9) == 0, "3x3 pad 1 at (0, 2): the hand-worked crop");
	xf_augment_image(out, in, 1, 3, 3, 1, 0, 2, 1);
	ok(memcmp(out, flip, 9) == 0, "and mirrored");
	xf_augment_image(out, in, 1, 3, 3, 1, 1, 1, 0);
	ok(memcmp(out, in, 9) == 0, "the centre window without a flip is the "
	    "image");
}

static void
test_draw(void)
{
	struct xf_augment a = { .pad = 4, .flip = 1 }, none = { 0 };
	enum { N = 20000 };
	int count[9] = { 0 }, flips = 0, same = 1, differ = 0, zero = 1;
	int dy, dx, f, dy2, dx2, f2;

	for (int i = 0; i < N; i++) {
		xf_augment_draw(&a, 7, 3, (uint64_t)i, &dy, &dx, &f);
		xf_augment_draw(&a, 7, 3, (uint64_t)i, &dy2, &dx2, &f2);
		same &= dy == dy2 && dx == dx2 && f == f2;
		if (dy < 0 || dy > 8 || dx < 0 || dx > 8)
			break;
		count[dy]++;
		count[dx]++;
		flips += f;
		xf_augment_draw(&a, 7, 4, (uint64_t)i, &dy2, &dx2, &f2);
		differ += dy != dy2 || dx != dx2 || f != f2;
		xf_augment_draw(&none, 7, 3, (uint64_t)i, &dy2, &dx2, &f2);
		zero &= dy2 == 0 && dx2 == 0 && f2 == 0;
	}
	ok(same, "the same (seed, epoch, example) draws the same crop and flip");
	/* 9 offsets, 2N draws: chi-square with 8 degrees of freedom; 26.1 is
	 * its 0.999 quantile. */
	double chi = 0, e = 2.0 * N / 9;
	for (int k = 0; k < 9; k++)
		chi += (count[k] - e) * (count[k] - e) / e;
	ok(chi < 26.1, "offsets 0..8 are uniform (chi-square %.1f < 26.1)", chi);
	ok(fabs(flips / (double)N - 0.5) < 0.015, "half flip (%.4f)",
	    flips / (double)N);
	ok(differ > N * 0.9, "another epoch draws anew (%d of %d differ)", differ,
	    N);
	ok(zero, "no crop and no flip: offset 0, no flip");
}

/* The first batch of a trainer holds each example as its draw says. */
static void
test_trainer(void)
{
	enum { N = 13, C = 3, H = 6, W = 5, B = 5 };
	struct xf_dataset d = { .n = N, .c = C, .h = H, .w = W, .n_classes = 2 };
	struct xf_trainer t;
	struct xf_lr_schedule lr;
	struct xf_model *m;
	struct xf_sgd *opt;
	struct xf_err e;
	struct xf_rng r;
	uint8_t want[C * H * W];
	size_t img = C * H * W;
	int bad = 0;

	d.x = malloc(N * img);
	d.y = calloc(N, sizeof *d.y);
	xf_rng_seed(&r, 2);
	for (size_t i = 0; i < N * img; i++)
		d.x[i] = (uint8_t)xf_rng_next(&r);
	m = xf_model_create("f", C, H, W, 2, &e);
	opt = xf_sgd_create(m, 0.9f, 0, &e);
	xf_lr_parse(&lr, "constant", 0.1f, 10, &e);
	if (xf_trainer_init(&t, m, opt, &d, B, 11, &lr, &e) < 0) {
		ok(0, "trainer: %s", e.msg);
		return;
	}
	t.aug.pad = 2;
	t.aug.flip = 1;
	for (int step = 0; step < 3; step++) {
		size_t pos = t.pos;
		int epoch = t.epoch;

		xf_trainer_step(&t, &e);
		for (int i = 0; i < t.size; i++) {
			uint32_t j = t.order[pos + i];
			int dy, dx, f;

			if (step == 2)        /* the epoch ended: order is the next */
				break;
			xf_augment_draw(&t.aug, 11, epoch, j, &dy, &dx, &f);
			xf_augment_image_ref(want, d.x + j * img, C, H, W, 2, dy, dx,
			    f);
			bad += memcmp(want, t.xb + i * img, img) != 0;
		}
	}
	ok(bad == 0, "the trainer's batch holds each example's own crop and "
	    "flip, by (seed, epoch, index)");
	ok(t.epoch == 1, "13 examples in batches of 5: one epoch in 3 steps");
	xf_trainer_free(&t);
	xf_sgd_free(opt);
	xf_model_free(m);
	free(d.x);
	free(d.y);
}

static void
test_parse(void)
{
	const char *good[] = { "crop:4,flip", "flip,crop:4", "crop:1", "flip",
	    "none", "crop:512" };
	const char *want[] = { "crop:4,flip", "crop:4,flip", "crop:1", "flip",
	    "none", "crop:512" };
	const char *bad[] = { "", "crop", "crop:", "crop:0", "crop:513",
	    "crop:4x", "crop: 4", "crop:-1", "flip,flip", "crop:2,crop:3",
	    "flip,", ",flip", "mirror", "none,flip" };
	struct xf_augment a;
	struct xf_err e;
	char buf[32];
	int n_ok = 0, n_bad = 0;

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		if (xf_augment_parse(&a, good[i], &e) == 0) {
			xf_augment_str(buf, sizeof buf, &a);
			n_ok += strcmp(buf, want[i]) == 0;
		}
	}
	ok(n_ok == 6, "good specs parse and print back canonically");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		n_bad += xf_augment_parse(&a, bad[i], &e) < 0;
	ok(n_bad == (int)(sizeof bad / sizeof bad[0]), "bad specs are refused "
	    "(%d of %zu)", n_bad, sizeof bad / sizeof bad[0]);
}

static void
test_warmup(void)
{
	int good = 1;

	for (long s = 0; s < 10; s++) {
		double want = s < 4 ? 0.2 * (s + 1) / 4 : 0.2;

		good &= fabs(xf_lr_warmup(0.2f, s, 4) - want) < 1e-7;
	}
	ok(good, "warmup 4: 0.05, 0.1, 0.15, 0.2, then 0.2");
	ok(xf_lr_warmup(0.2f, 0, 0) == 0.2f, "warmup 0 is none");
}

int
main(void)
{
	test_kernel();
	test_draw();
	test_trainer();
	test_parse();
	test_warmup();
	return tap_done();
}
