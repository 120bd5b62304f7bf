/*
 * xf-eval: accuracy and loss of one or more models on a stream, per-example
 * predictions, the agreement table of mistakes between models, and the
 * activations of named modules as feature streams.
 */
#include <err.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"
#include "train.h"
#include "transfer.h"

#define MAX_MODELS    16
#define MAX_FEATURES  16

static void
usage(void)
{
	fprintf(stderr,
	    "usage: xf-eval [-b batch] [-j threads] -m ckpt [-m ckpt ...] "
	    "[-o out]\n"
	    "               [--examples file] [--features module[,module...]]\n"
	    "               [--pairs file] [--pool k] "
	    "[--score logme,leep,hscore] [file]\n");
	exit(2);
}

struct model {
	const char *path;
	struct xf_model *m;
	struct xf_eval_result r;
	int *pred;
	float *loss, *prob;
	struct scored *sc;
};

struct feature {
	int module;
	char path[4096];
	struct xf_writer *w;
	float *x;                 /* (batch, count) this batch's features */
	size_t count;             /* floats per example after pooling */
};

/* One feature stream per module, opened after the first batch, when the
 * activations' shapes are known. */
static void
setup_features(struct feature *f, int nf, struct model *md, const char *out,
    const struct xf_header *data, const char *self, int pool, int batch)
{
	for (int i = 0; i < nf; i++) {
		struct xf_header h;
		struct xf_err e;

		tool_table_header(&h, "features", data, self);
		snprintf(h.dtype, sizeof h.dtype, "float32");
		snprintf(h.module, sizeof h.module, "%s",
		    xf_model_module(md->m, f[i].module)->name);
		if (xf_features_width(md->m, f[i].module, pool, &f[i].count, &e) < 0)
			errx(2, "--pool %d: %s", pool, e.msg);
		h.ndim = 1;
		h.shape[0] = (int64_t)f[i].count;
		if ((f[i].x = malloc((size_t)batch * f[i].count * 4 + 4)) == NULL)
			err(1, NULL);
		if (nf == 1)
			snprintf(f[i].path, sizeof f[i].path, "%s", out ? out : "-");
		else
			snprintf(f[i].path, sizeof f[i].path, "%s.%s.xfs", out, h.module);
		f[i].w = tool_writer_open(f[i].path, &h);
		xf_header_free(&h);
	}
}

static void
write_features(struct feature *f, int nf, struct model *md,
    const struct xf_dataset *d, int pool)
{
	for (int i = 0; i < nf; i++) {
		xf_features_take(f[i].x, md->m, f[i].module, d->n, pool);
		for (size_t j = 0; j < d->n; j++) {
			xf_writer_begin(f[i].w, 3);
			xf_writer_int(f[i].w, "i", d->index[j]);
			xf_writer_int(f[i].w, "y", d->y[j]);
			xf_writer_bin(f[i].w, "x", f[i].x + j * f[i].count,
			    f[i].count * sizeof(float));
			tool_record_end(f[i].w, f[i].path);
		}
	}
}

static void
write_examples(struct xf_writer *w, const char *path, struct model *md, int nm,
    const struct xf_dataset *d)
{
	char key[32];

	for (size_t j = 0; j < d->n; j++) {
		xf_writer_begin(w, 2 + 4 * nm + (nm >= 2));
		xf_writer_int(w, "i", d->index[j]);
		xf_writer_int(w, "y", d->y[j]);
		for (int k = 0; k < nm; k++) {
			snprintf(key, sizeof key, "pred%d", k);
			xf_writer_int(w, key, md[k].pred[j]);
			snprintf(key, sizeof key, "correct%d", k);
			xf_writer_bool(w, key, md[k].pred[j] == d->y[j]);
			snprintf(key, sizeof key, "loss%d", k);
			xf_writer_float32(w, key, md[k].loss[j]);
			snprintf(key, sizeof key, "prob%d", k);
			xf_writer_float32(w, key, md[k].prob[j]);
		}
		if (nm >= 2) {
			int a = md[0].pred[j] != d->y[j], b = md[1].pred[j] != d->y[j];

			/* The mistake class of the first pair, for quick filtering. */
			xf_writer_str(w, "mistake", a && b ? "common" : a ? "only0" :
			    b ? "only1" : "none");
		}
		tool_record_end(w, path);
	}
}

static void
write_summary(const char *out, struct model *md, int nm,
    const struct xf_header *dh, const char *self)
{
	struct xf_writer *w = tool_table_open(out, "eval", dh, self);

	for (int k = 0; k < nm; k++) {
		xf_writer_begin(w, 6);
		xf_writer_str(w, "model", md[k].path);
		xf_writer_int(w, "n", (int64_t)md[k].r.n);
		xf_writer_int(w, "correct", (int64_t)md[k].r.correct);
		xf_writer_float(w, "acc", (double)md[k].r.correct / md[k].r.n);
		xf_writer_float(w, "error", 1.0 - (double)md[k].r.correct / md[k].r.n);
		xf_writer_float(w, "loss", md[k].r.loss_sum / md[k].r.n);
		tool_record_end(w, out);
	}
	tool_writer_close(w, out);
}

static void
write_pairs(const char *path, struct model *md, int nm,
    const struct xf_mistakes *pairs, const struct xf_header *dh,
    const char *self)
{
	struct xf_writer *w = tool_table_open(path, "pairs", dh, self);

	for (int a = 0; a < nm; a++)
		for (int b = a + 1; b < nm; b++) {
			const struct xf_mistakes *q = &pairs[a * nm + b];

			xf_writer_begin(w, 8);
			xf_writer_str(w, "a", md[a].path);
			xf_writer_str(w, "b", md[b].path);
			xf_writer_int(w, "n", (int64_t)md[a].r.n);
			xf_writer_int(w, "both_right", q->both_right);
			xf_writer_int(w, "both_wrong", q->both_wrong);
			xf_writer_int(w, "same_wrong", q->same_wrong);
			xf_writer_int(w, "only_a_wrong", q->only_a);
			xf_writer_int(w, "only_b_wrong", q->only_b);
			tool_record_end(w, path);
		}
	tool_writer_close(w, path);
}

/* --score: every example's features as the head reads them and the
 * source softmax, kept for the transferability scores of transfer.h. */
enum { S_LOGME = 1, S_LEEP = 2, S_HSCORE = 4 };

struct scored {
	int head;		/* module */
	size_t d, z, n, cap;	/* feature width, source classes, examples */
	float *f, *theta;	/* (n, d), (n, z) */
	int *y;
};

static int
parse_scores(const char *list)
{
	static const char *const name[] = { "logme", "leep", "hscore" };
	char *copy = strdup(list), *p = copy, *tok;
	int set = 0, i;

	while ((tok = strsep(&p, ",")) != NULL) {
		for (i = 0; i < 3 && strcmp(tok, name[i]) != 0; i++)
			;
		if (i == 3)
			errx(2, "--score %s: want logme, leep or hscore", tok);
		set |= 1 << i;
	}
	free(copy);
	return set;
}

/* The features LogME and H-score read: the head's input (train.h). */
static struct scored *
score_setup(const char *path, struct xf_model *m)
{
	struct scored *sc = calloc(1, sizeof *sc);
	struct xf_err e;
	int c, h, w, k;

	if (sc == NULL)
		err(1, NULL);
	if ((sc->head = xf_features_head(m, &sc->d, &e)) < 0)
		errx(1, "%s: --score: %s", path, e.msg);
	xf_model_input_shape(m, &c, &h, &w, &k);
	sc->z = (size_t)k;
	return sc;
}

/* Appends the last forward's features and softmax (d->n examples). */
static void
score_collect(struct scored *sc, const char *path, struct xf_model *m,
    const struct xf_dataset *d)
{
	if (sc->n + d->n > sc->cap) {
		sc->cap = 2 * (sc->n + d->n);
		sc->f = realloc(sc->f, sc->cap * sc->d * sizeof *sc->f);
		sc->theta = realloc(sc->theta, sc->cap * sc->z * sizeof *sc->theta);
		sc->y = realloc(sc->y, sc->cap * sizeof *sc->y);
		if (sc->f == NULL || sc->theta == NULL || sc->y == NULL)
			errx(1, "%s: --score: out of memory at %zu examples", path,
			    sc->n);
	}
	xf_features_take_input(sc->f + sc->n * sc->d, m, sc->head, d->n);
	memcpy(sc->theta + sc->n * sc->z, xf_model_probs(m),
	    d->n * sc->z * sizeof *sc->theta);
	memcpy(sc->y + sc->n, d->y, d->n * sizeof *sc->y);
	sc->n += d->n;
}

/* One record per model and score, in the order logme, leep, hscore. */
static void
write_scores(const char *out, struct model *md, int nm, int set,
    const struct xf_header *dh, const char *self)
{
	static const char *const name[] = { "logme", "leep", "hscore" };
	struct xf_writer *w = tool_table_open(out, "scores", dh, self);
	int k = (int)dh->n_classes, threads = xf_nn_threads();
	struct xf_err e;

	for (int j = 0; j < nm; j++)
		for (int i = 0; i < 3; i++) {
			const struct scored *sc = md[j].sc;
			double v;
			int r;

			if (!(set & 1 << i))
				continue;
			r = i == 0 ? xf_logme(&v, sc->f, sc->n, sc->d, sc->y, k,
			    threads, &e) :
			    i == 1 ? xf_leep(&v, sc->theta, sc->n, (int)sc->z,
			    sc->y, k, &e) :
			    xf_hscore(&v, sc->f, sc->n, sc->d, sc->y, k, threads, &e);
			if (r < 0)
				errx(1, "%s: %s", md[j].path, e.msg);
			xf_writer_begin(w, 5);
			xf_writer_str(w, "model", md[j].path);
			xf_writer_str(w, "score", name[i]);
			xf_writer_float(w, "value", v);
			xf_writer_int(w, "n", (int64_t)sc->n);
			xf_writer_int(w, "features",
			    (int64_t)(i == 1 ? sc->z : sc->d));
			tool_record_end(w, out);
		}
	tool_writer_close(w, out);
}

/* The models, and the stream they read, checked against each other. */
static struct xf_stream *
open_models(struct model *md, int nm, int batch, const char *data)
{
	struct xf_stream *s;
	struct xf_err e;

	for (int k = 0; k < nm; k++) {
		md[k].m = tool_model_load(md[k].path);
		if ((md[k].pred = malloc(batch * sizeof(int))) == NULL ||
		    (md[k].loss = malloc(batch * sizeof(float))) == NULL ||
		    (md[k].prob = malloc(batch * sizeof(float))) == NULL)
			err(1, NULL);
	}
	if ((s = xf_stream_open(data, &e)) == NULL)
		errx(1, "%s: %s", tool_in_name(data), e.msg);
	const struct xf_header *dh = xf_stream_header(s);
	if (strcmp(dh->kind, "images") != 0 || dh->ndim != 3)
		errx(1, "%s: header: kind \"%s\": want an image stream",
		    tool_in_name(data), dh->kind);
	for (int k = 0; k < nm; k++)
		if (xf_model_check_input(md[k].m, (int)dh->shape[0],
		    (int)dh->shape[1], (int)dh->shape[2], (int)dh->n_classes, &e) < 0)
			errx(1, "%s: %s: %s", tool_in_name(data), md[k].path, e.msg);
	return s;
}

int
main(int argc, char **argv)
{
	enum { O_EXAMPLES = 256, O_FEATURES, O_PAIRS, O_POOL, O_SCORE };
	static const struct option longopts[] = {
		{ "examples", required_argument, NULL, O_EXAMPLES },
		{ "features", required_argument, NULL, O_FEATURES },
		{ "pairs", required_argument, NULL, O_PAIRS },
		{ "pool", required_argument, NULL, O_POOL },
		{ "score", required_argument, NULL, O_SCORE },
		{ NULL, 0, NULL, 0 }
	};
	struct model md[MAX_MODELS] = { 0 };
	struct feature feat[MAX_FEATURES] = { 0 };
	static struct xf_mistakes pairs[MAX_MODELS * MAX_MODELS];
	const char *out = NULL, *examples = NULL, *pairs_path = NULL;
	const char *features = NULL, *jarg = NULL, *data;
	int nm = 0, nf = 0, batch = 256, pool = 1, ch, modules[MAX_FEATURES];
	int scores = 0;
	struct xf_writer *ex = NULL;
	struct xf_dataset d = { 0 };
	struct xf_stream *s;
	struct xf_err e;
	long got;
	char *self = xf_prov_argv(argc, argv);

	while ((ch = getopt_long(argc, argv, "b:j:m:o:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'b': batch = (int)tool_int("-b", optarg, 1, 65536); break;
		case 'j': jarg = optarg; break;
		case 'm':
			if (nm == MAX_MODELS)
				errx(2, "-m: at most %d models", MAX_MODELS);
			md[nm++].path = optarg;
			break;
		case 'o': out = optarg; break;
		case O_EXAMPLES: examples = optarg; break;
		case O_FEATURES: features = optarg; break;
		case O_PAIRS: pairs_path = optarg; break;
		case O_POOL: pool = (int)tool_int("--pool", optarg, 1, 1024); break;
		case O_SCORE: scores = parse_scores(optarg); break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1 || nm == 0)
		usage();
	if (features && nm > 1)
		errx(2, "--features: give one model");
	if (scores && features)
		errx(2, "--score and --features: one at a time");
	if (pairs_path && nm < 2)
		errx(2, "--pairs: give two or more models");
	data = argc == 1 ? argv[0] : "-";
	xf_nn_set_threads(tool_threads(jarg));
	s = open_models(md, nm, batch, data);
	for (int k = 0; scores && k < nm; k++)
		md[k].sc = score_setup(md[k].path, md[k].m);
	const struct xf_header *dh = xf_stream_header(s);
	if (features) {
		nf = tool_modules(md[0].m, md[0].path, "--features", features, 0,
		    modules, MAX_FEATURES);
		for (int i = 0; i < nf; i++)
			feat[i].module = modules[i];
		if (nf > 1 && out == NULL)
			errx(2, "--features with several modules needs -o prefix");
	}
	if (examples)
		ex = tool_table_open(examples, "examples", dh, self);
	while ((got = xf_dataset_read_batch(s, &d, batch, &e)) > 0) {
		for (int k = 0; k < nm; k++) {
			struct xf_eval_result r;

			if (xf_model_evaluate(md[k].m, &d, batch, &r, md[k].pred,
			    md[k].loss, md[k].prob, &e) < 0)
				errx(1, "%s: %s", md[k].path, e.msg);
			xf_eval_result_add(&md[k].r, &r);
			if (scores)
				score_collect(md[k].sc, md[k].path, md[k].m, &d);
		}
		if (features) {
			if (feat[0].w == NULL)
				setup_features(feat, nf, &md[0], out, dh, self, pool, batch);
			write_features(feat, nf, &md[0], &d, pool);
		}
		if (ex)
			write_examples(ex, examples, md, nm, &d);
		for (int a = 0; a < nm; a++)
			for (int b = a + 1; b < nm; b++)
				xf_mistakes_add(&pairs[a * nm + b], md[a].pred, md[b].pred,
				    d.y, d.n);
	}
	if (got < 0)
		errx(1, "%s: %s", tool_in_name(data), e.msg);
	if (md[0].r.n == 0)
		errx(1, "%s: no records", tool_in_name(data));
	/* The summary is opened only now: bad data leaves no half table. */
	if (scores)
		write_scores(out, md, nm, scores, dh, self);
	else if (!features)
		write_summary(out, md, nm, dh, self);
	if (pairs_path)
		write_pairs(pairs_path, md, nm, pairs, dh, self);
	tool_writer_close(ex, examples);
	for (int i = 0; i < nf; i++) {
		tool_writer_close(feat[i].w, feat[i].path);
		free(feat[i].x);
	}
	for (int k = 0; k < nm; k++) {
		xf_model_free(md[k].m);
		free(md[k].pred);
		free(md[k].loss);
		free(md[k].prob);
		if (md[k].sc != NULL) {
			free(md[k].sc->f);
			free(md[k].sc->theta);
			free(md[k].sc->y);
			free(md[k].sc);
		}
	}
	xf_stream_close(s);
	xf_dataset_free(&d);
	free(self);
	return 0;
}
