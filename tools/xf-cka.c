/*
 * xf-cka: centered kernel alignment between the modules of two models on the
 * same inputs, from checkpoints and a data stream or from two feature
 * streams written by xf-eval --features.
 */
#include <err.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cca.h"
#include "cka.h"
#include "tool.h"
#include "train.h"

#define MAX_MODULES 64

static void
usage(void)
{
	fprintf(stderr,
	    "usage: xf-cka [-j threads] [-o out] [--batch n] [--debiased] "
	    "[--kernel linear|rbf]\n"
	    "              [--keep f] [--matched] "
	    "[--measure cka|svcca|pwcca|procrustes]\n"
	    "              [--modules list] [--pool k] [--threshold t]\n"
	    "              -a ckpt [-b ckpt] [file]\n"
	    "       xf-cka [-j threads] [-o out] [--batch n] [--debiased] "
	    "[--kernel linear|rbf]\n"
	    "              [--keep f] [--measure cka|svcca|pwcca|procrustes]\n"
	    "              [--threshold t] features-a features-b\n");
	exit(2);
}

struct side {
	const char *path;
	struct xf_model *m;
	int n_act;
	int module[MAX_MODULES];
	struct xf_features act[MAX_MODULES];   /* n rows of p floats each */
};

/* The modules to compare: conv and linear ones (a batch norm module's
 * activation is its conv's), or those named in list. */
static void
pick_modules(struct side *s, const char *list)
{
	int first[MAX_MODULES + 1], n_layers;

	if (list != NULL) {
		s->n_act = tool_modules(s->m, s->path, "--modules", list, 0,
		    s->module, MAX_MODULES);
		return;
	}
	xf_model_layers(s->m, first, &n_layers);
	for (int l = 0; l < n_layers && l < MAX_MODULES; l++)
		s->module[s->n_act++] = first[l];
}

/* Appends the batch's activations of every picked module, pooled. */
static void
collect(struct side *s, const struct xf_dataset *d, size_t at, size_t n_total,
    int pool)
{
	struct xf_err e;
	float loss;

	if (xf_model_forward(s->m, d->x, d->y, (int)d->n, 0, &loss, &e) < 0)
		errx(1, "%s: %s", s->path, e.msg);
	for (int i = 0; i < s->n_act; i++) {
		struct xf_features *a = &s->act[i];

		if (a->x == NULL) {
			snprintf(a->module, sizeof a->module, "%s",
			    xf_model_module(s->m, s->module[i])->name);
			if (xf_features_width(s->m, s->module[i], pool, &a->p, &e) < 0)
				errx(2, "--pool %d: %s", pool, e.msg);
			if ((a->x = malloc(n_total * a->p * sizeof(float))) == NULL)
				errx(1, "%s: %s: out of memory for %zu x %zu activations",
				    s->path, a->module, n_total, a->p);
		}
		xf_features_take(a->x + at * a->p, s->m, s->module[i], d->n, pool);
	}
}

static void
emit(struct xf_writer *w, const char *out, const char *a, const char *b,
    double v, size_t n, const struct xf_cka_opts *o, size_t batch)
{
	xf_writer_begin(w, 6);
	xf_writer_str(w, "a", a);
	xf_writer_str(w, "b", b);
	xf_writer_float(w, "cka", v);
	xf_writer_int(w, "n", (int64_t)n);
	xf_writer_str(w, "kernel", o->kernel == XF_CKA_RBF ? "rbf" : "linear");
	xf_writer_str(w, "estimator", batch ? "minibatch-debiased" :
	    o->debiased ? "debiased" : "biased");
	tool_record_end(w, out);
}

/* Checkpoints and data: the activations computed here, in batches, into
 * sa's and sb's acts; returns the example count. */
static size_t
from_models(struct side *sa, struct side *sb, const char *data,
    const char *modules, int pool, struct xf_header *h)
{
	struct xf_dataset d = { 0 };
	struct xf_stream *s;
	struct xf_err e;
	size_t n = 0;
	long got;

	sa->m = tool_model_load(sa->path);
	if (sb->path == NULL)
		sb->path = sa->path;
	sb->m = strcmp(sb->path, sa->path) == 0 ? sa->m : tool_model_load(sb->path);
	pick_modules(sa, modules);
	pick_modules(sb, modules);
	if ((s = xf_stream_open(data, &e)) == NULL)
		errx(1, "%s: %s", tool_in_name(data), e.msg);
	const struct xf_header *dh = xf_stream_header(s);
	size_t total = dh->count > 0 ? (size_t)dh->count : 0;
	if (total == 0)
		errx(1, "%s: header: no count: xf-cka keeps every activation "
		    "and needs the number of records up front", tool_in_name(data));
	for (int i = 0; i < dh->n_prov; i++)
		xf_header_add_prov(h, dh->prov[i]);
	while ((got = xf_dataset_read_batch(s, &d, 256, &e)) > 0) {
		if (n == 0) {
			if (xf_model_check_input(sa->m, d.c, d.h, d.w, d.n_classes, &e) < 0)
				errx(1, "%s: %s: %s", tool_in_name(data), sa->path, e.msg);
			if (xf_model_check_input(sb->m, d.c, d.h, d.w, d.n_classes, &e) < 0)
				errx(1, "%s: %s: %s", tool_in_name(data), sb->path, e.msg);
		}
		if (n + d.n > total)
			errx(1, "%s: more records than the header's count %zu",
			    tool_in_name(data), total);
		collect(sa, &d, n, total, pool);
		if (sb->m != sa->m)
			collect(sb, &d, n, total, pool);
		n += d.n;
	}
	if (got < 0)
		errx(1, "%s: %s", tool_in_name(data), e.msg);
	if (sb->m == sa->m)
		memcpy(sb->act, sa->act, sizeof sa->act);
	xf_stream_close(s);
	xf_dataset_free(&d);
	return n;
}

/* Two feature streams of the same examples, one act each; returns the
 * example count. */
static size_t
from_features(struct side *sa, struct side *sb, const char *a, const char *b)
{
	struct xf_features *fa = &sa->act[0], *fb = &sb->act[0];
	struct xf_err e;

	sa->path = a;
	sb->path = b;
	if (xf_features_read(a, fa, &e) < 0)
		errx(1, "%s: %s", a, e.msg);
	if (xf_features_read(b, fb, &e) < 0)
		errx(1, "%s: %s", b, e.msg);
	if (fa->n != fb->n)
		errx(1, "%s: %zu records, %s has %zu: want the same examples",
		    b, fb->n, a, fa->n);
	for (size_t i = 0; i < fa->n; i++)
		if (fa->index[i] != fb->index[i])
			errx(1, "%s: record %zu is example %lld, %s has %lld: want "
			    "the same examples in the same order", b, i,
			    (long long)fb->index[i], a, (long long)fa->index[i]);
	sa->n_act = sb->n_act = 1;
	return fa->n;
}

/* One record per pair of acts (of the same name, when matched). */
static void
compare(struct xf_writer *w, const char *out, const struct side *sa,
    const struct side *sb, size_t n, const struct xf_cka_opts *o,
    size_t batch, int matched)
{
	/* One side per activation matrix, reused over every pair. */
	struct xf_cka_side *ka[MAX_MODULES] = { 0 }, *kb_own[MAX_MODULES] = { 0 };
	/* A model against itself: B's sides are A's, computed once. */
	struct xf_cka_side **kb = sa->m != NULL && sb->m == sa->m ? ka : kb_own;
	struct xf_err e;

	for (int i = 0; i < sa->n_act; i++)
		for (int j = 0; j < sb->n_act; j++) {
			const struct xf_features *x = &sa->act[i], *y = &sb->act[j];
			double v;

			if (matched && strcmp(x->module, y->module) != 0)
				continue;
			if (batch) {
				struct xf_cka_acc *acc = xf_cka_acc_new(x->p, y->p, batch, o, &e);

				if (acc == NULL || xf_cka_acc_add(acc, x->x, y->x, n, &e) < 0 ||
				    xf_cka_acc_finish(&v, acc, &e) < 0)
					errx(1, "%s %s: %s", x->module, y->module, e.msg);
				xf_cka_acc_free(acc);
			} else {
				if (ka[i] == NULL &&
				    (ka[i] = xf_cka_side_new(x->x, n, x->p, o, &e)) == NULL)
					errx(1, "%s: %s: %s", sa->path, x->module, e.msg);
				if (kb[j] == NULL &&
				    (kb[j] = xf_cka_side_new(y->x, n, y->p, o, &e)) == NULL)
					errx(1, "%s: %s: %s", sb->path, y->module, e.msg);
				if (xf_cka_side_pair(&v, ka[i], kb[j], &e) < 0)
					errx(1, "%s %s: %s", x->module, y->module, e.msg);
			}
			emit(w, out, x->module, y->module, v, n, o, batch);
		}
	for (int i = 0; i < MAX_MODULES; i++) {
		xf_cka_side_free(ka[i]);
		xf_cka_side_free(kb_own[i]);
	}
}

enum measure { M_CKA, M_SVCCA, M_PWCCA, M_PROCRUSTES };
static const char *const measure_name[] = { "cka", "svcca", "pwcca",
	"procrustes" };

/*
 * The CCA and Procrustes measures (cca.h) over every pair, each side
 * decomposed once.  keep < 0: the measure's default (0.99 for SVCCA, full
 * CCA for PWCCA).
 */
static void
measure_pairs(struct xf_writer *w, const char *out, const struct side *sa,
    const struct side *sb, int matched, enum measure m, double keep,
    size_t n, int threads)
{
	static const char *const column[] = { "cka", "svcca", "pwcca",
		"procrustes_distance" };
	struct xf_cca_side *ca[MAX_MODULES] = { 0 }, *cb_own[MAX_MODULES] = { 0 };
	struct xf_cca_side **cb = sa->m != NULL && sb->m == sa->m ? ca : cb_own;
	struct xf_err e;

	if (keep < 0)
		keep = m == M_SVCCA ? XF_SVCCA_KEEP : 0;
	for (int i = 0; i < sa->n_act; i++)
		for (int j = 0; j < sb->n_act; j++) {
			const struct xf_features *x = &sa->act[i], *y = &sb->act[j];
			size_t kx, ky;
			double v;
			int r;

			if (matched && strcmp(x->module, y->module) != 0)
				continue;
			if (ca[i] == NULL && (ca[i] = xf_cca_side_new(x->x, n,
			    x->p, m == M_PWCCA, threads, &e)) == NULL)
				errx(1, "%s: %s: %s", sa->path, x->module, e.msg);
			if (cb[j] == NULL && (cb[j] = xf_cca_side_new(y->x, n,
			    y->p, m == M_PWCCA, threads, &e)) == NULL)
				errx(1, "%s: %s: %s", sb->path, y->module, e.msg);
			if (m == M_PROCRUSTES) {
				r = xf_procrustes(&v, ca[i], cb[j], threads, &e);
				kx = xf_cca_side_rank(ca[i]);
				ky = xf_cca_side_rank(cb[j]);
			} else
				r = (m == M_SVCCA ? xf_svcca : xf_pwcca)(&v, &kx,
				    &ky, ca[i], cb[j], keep, threads, &e);
			if (r < 0)
				errx(1, "%s %s, %s %s: %s", sa->path, x->module,
				    sb->path, y->module, e.msg);
			xf_writer_begin(w, 6);
			xf_writer_str(w, "a", x->module);
			xf_writer_str(w, "b", y->module);
			xf_writer_float(w, column[m], v);
			xf_writer_int(w, "n", (int64_t)n);
			xf_writer_int(w, "dims_a", (int64_t)kx);
			xf_writer_int(w, "dims_b", (int64_t)ky);
			tool_record_end(w, out);
		}
	for (int i = 0; i < MAX_MODULES; i++) {
		xf_cca_side_free(ca[i]);
		xf_cca_side_free(cb_own[i]);
	}
}

static void
sides_free(struct side *sa, struct side *sb)
{
	for (int i = 0; i < sa->n_act; i++)
		xf_features_free(&sa->act[i]);
	if (sb->m != sa->m || sa->m == NULL)
		for (int i = 0; i < sb->n_act; i++)
			xf_features_free(&sb->act[i]);
	if (sb->m != sa->m)
		xf_model_free(sb->m);
	xf_model_free(sa->m);
}

int
main(int argc, char **argv)
{
	enum { O_BATCH = 256, O_DEBIASED, O_KERNEL, O_MATCHED, O_MODULES, O_POOL,
	    O_THRESHOLD, O_KEEP, O_MEASURE };
	static const struct option longopts[] = {
		{ "batch", required_argument, NULL, O_BATCH },
		{ "debiased", no_argument, NULL, O_DEBIASED },
		{ "keep", required_argument, NULL, O_KEEP },
		{ "kernel", required_argument, NULL, O_KERNEL },
		{ "measure", required_argument, NULL, O_MEASURE },
		{ "matched", no_argument, NULL, O_MATCHED },
		{ "modules", required_argument, NULL, O_MODULES },
		{ "pool", required_argument, NULL, O_POOL },
		{ "threshold", required_argument, NULL, O_THRESHOLD },
		{ NULL, 0, NULL, 0 }
	};
	struct side sa = { 0 }, sb = { 0 };
	struct xf_cka_opts o;
	const char *out = NULL, *modules = NULL, *jarg = NULL;
	int matched = 0, pool = 1, ch, cka_only = 0;
	enum measure measure = M_CKA;
	double keep = -1;
	size_t batch = 0, n;
	struct xf_writer *w;
	struct xf_header h = { .kind = "cka", .count = -1 };
	char *self = xf_prov_argv(argc, argv);

	xf_cka_opts_default(&o);
	while ((ch = getopt_long(argc, argv, "a:b:j:o:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'a': sa.path = optarg; break;
		case 'b': sb.path = optarg; break;
		case 'j': jarg = optarg; break;
		case 'o': out = optarg; break;
		case O_BATCH: batch = (size_t)tool_int("--batch", optarg, 4, 1 << 16); cka_only = 1; break;
		case O_DEBIASED: o.debiased = 1; cka_only = 1; break;
		case O_KEEP: keep = tool_float("--keep", optarg, 1e-6, 1); break;
		case O_MEASURE:
			for (measure = M_CKA; measure <= M_PROCRUSTES; measure++)
				if (strcmp(optarg, measure_name[measure]) == 0)
					break;
			if (measure > M_PROCRUSTES)
				errx(2, "--measure %s: want cka, svcca, pwcca or "
				    "procrustes", optarg);
			break;
		case O_KERNEL:
			if (strcmp(optarg, "linear") == 0)
				o.kernel = XF_CKA_LINEAR;
			else if (strcmp(optarg, "rbf") == 0)
				o.kernel = XF_CKA_RBF;
			else
				errx(2, "--kernel %s: want linear or rbf", optarg);
			break;
		case O_MATCHED: matched = 1; break;
		case O_MODULES: modules = optarg; break;
		case O_POOL: pool = (int)tool_int("--pool", optarg, 1, 1024); break;
		case O_THRESHOLD: o.rbf_threshold = tool_float("--threshold", optarg, 1e-6, 1e6); break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (measure != M_CKA && (cka_only || o.kernel != XF_CKA_LINEAR))
		errx(2, "--batch, --debiased and --kernel are for --measure cka");
	if (keep >= 0 && measure != M_SVCCA && measure != M_PWCCA)
		errx(2, "--keep is for --measure svcca or pwcca");
	o.threads = tool_threads(jarg);
	xf_nn_set_threads(o.threads);

	if (sa.path != NULL) {
		if (argc > 1)
			usage();
		n = from_models(&sa, &sb, argc == 1 ? argv[0] : "-", modules, pool, &h);
	} else {
		if (argc != 2 || modules || pool != 1)
			usage();
		n = from_features(&sa, &sb, argv[0], argv[1]);
	}
	if (o.debiased && n <= 3)
		errx(1, "%s: %zu examples: debiased CKA needs more than 3",
		    sa.path, n);
	xf_header_add_prov(&h, self);
	w = tool_writer_open(out, &h);
	if (measure != M_CKA)
		measure_pairs(w, out, &sa, &sb, matched, measure, keep, n,
		    o.threads);
	else
		compare(w, out, &sa, &sb, n, &o, batch, matched);
	tool_writer_close(w, out);
	sides_free(&sa, &sb);
	xf_header_free(&h);
	free(self);
	return 0;
}
