/*
 * train.h: what joins the engine (nn.h) to the formats (xf.h): image data in
 * memory, models to and from checkpoints, the training loop's state, and
 * per-module measurements.  xf-train, xf-eval, xf-cka, xf-interp and
 * xf-critic all go through it.
 *
 *	struct xf_dataset d;
 *	struct xf_model *m;
 *	struct xf_ckpt c = { 0 };
 *
 *	if (xf_dataset_read("train.xfs", &d, &err) < 0 ||
 *	    xf_ckpt_read("p.tar", &c, &err) < 0 ||
 *	    (m = xf_model_load(&c, &err)) == NULL)
 *		errx(1, "%s", err.msg);
 */
#ifndef XF_TRAIN_H
#define XF_TRAIN_H

#include "nn.h"
#include "xf.h"

/* ---- image data in memory ---- */

struct xf_dataset {
	size_t n;                 /* examples */
	int c, h, w;              /* image shape */
	int n_classes;
	uint8_t *x;               /* (n, c, h, w) */
	int *y;                   /* (n) */
	int64_t *index;           /* (n) the "i" of each record */
	struct xf_header header;  /* the stream's header, provenance included */
};

/*
 * Reads an image stream (path "-" or NULL: stdin) into d.  Returns 0, or -1
 * with err ("record 12: ..." or "header: ..."); d is then empty.  Free with
 * xf_dataset_free.
 */
int xf_dataset_read(const char *path, struct xf_dataset *d,
    struct xf_err *err);
/*
 * Reads up to max records of an image stream s into d, replacing what d
 * held (d's buffers grow as needed and are reused).  Returns the count read,
 * 0 at the end, or -1 with err.  For streaming a large input in batches.
 */
long xf_dataset_read_batch(struct xf_stream *s, struct xf_dataset *d,
    size_t max, struct xf_err *err);
void xf_dataset_free(struct xf_dataset *d);
/* The provenance lines joined by "; ", for checkpoint metadata; caller frees. */
char *xf_header_prov_line(const struct xf_header *h);

/* ---- models and checkpoints ---- */

/*
 * Fills c (zeroed by the caller) with m's architecture and tensors, and with
 * opt's momentum buffers when opt is not NULL.  The tensors point into m and
 * opt, which must outlive c.  Returns 0, or -1 with err.
 */
int xf_model_to_ckpt(const struct xf_model *m, const struct xf_sgd *opt,
    struct xf_ckpt *c, struct xf_err *err);
/*
 * A model built from c's arch, input and classes, with every tensor copied
 * from c.  Returns the model (the caller frees it), or NULL with err naming
 * the tensor ("tensor conv1.weight: shape 32x1x3x3, want 16x1x3x3").
 */
struct xf_model *xf_model_load(const struct xf_ckpt *c, struct xf_err *err);
/*
 * The model of c's arch and input with n_classes classes, parameters zero.
 * Every tensor's shape (all but the head's, with skip_head) is checked
 * against c's before anything is allocated, so a hostile arch costs no
 * more memory than c holds.  Returns the model, or NULL with err naming
 * the tensor.
 */
struct xf_model *xf_model_create_ckpt(const struct xf_ckpt *c, int n_classes,
    int skip_head, struct xf_err *err);
/*
 * Copies the tensors of m's modules [0, n_modules) from c, by name and
 * shape.  Modules whose shapes differ are an error, unless they are the
 * head and skip_head is set.  n_modules < 0 means all.  Returns 0, or -1.
 */
int xf_model_copy(struct xf_model *m, const struct xf_ckpt *c, int n_modules,
    int skip_head, struct xf_err *err);
/*
 * The input normalisation c's meta keys input.mean.K and input.std.K hold
 * (none when c has neither) into m (xf_model_set_normalize); xf_model_load
 * calls it.  Returns 0, or -1 with err naming the key.
 */
int xf_model_normalize_load(struct xf_model *m, const struct xf_ckpt *c,
    struct xf_err *err);
/*
 * "m1,m2,m3/s1,s2,s3" (one mean and one std per channel, at most
 * XF_NORM_MAX_C) into mean, std and *n.  Returns 0, or -1 with err.
 */
int xf_normalize_parse(const char *text, float *mean, float *std, int *n,
    struct xf_err *err);
/* Momentum buffers from c into opt.  Returns 0, or -1 naming the tensor. */
int xf_sgd_load(struct xf_sgd *opt, const struct xf_ckpt *c,
    struct xf_err *err);
/*
 * Checks that the model fits data of shape (c, h, w) and n_classes.
 * Returns 0, or -1 with err ("input 3x32x32, the model wants 1x28x28").
 */
int xf_model_check_input(const struct xf_model *m, int c, int h, int w,
    int n_classes, struct xf_err *err);
/* Index of the first module of each layer (a conv or linear module and its
 * batch norm); *n_layers gets the number of layers.  Modules of layer L are
 * [first[L], first[L + 1]).  first has room for n_modules + 1. */
void xf_model_layers(const struct xf_model *m, int *first, int *n_layers);

/* ---- per-module measurements ---- */

/*
 * The walk over module k's parameter tensors (its buffers left out), in
 * model order: start with *i = 0; each call returns the next one and
 * advances *i, or NULL after the last.
 *	for (int i = 0; (t = xf_module_next_param(m, k, &i)) != NULL; )
 */
const struct xf_model_tensor *xf_module_next_param(const struct xf_model *m,
    int k, int *i);

/* ‖grad‖₂ of module k's parameters; sum of squares in double. */
double xf_module_grad_norm(const struct xf_model *m, int k);
/*
 * ‖θ_k − ref_k‖₂ over module k's parameters and buffers, where ref is a flat
 * copy of all tensors in model order (xf_model_snapshot).
 */
double xf_module_distance(const struct xf_model *m, int k, const float *ref);
/* A flat copy of every tensor (params and buffers) in model order; *n gets
 * its length.  Caller frees.  NULL when out of memory. */
float *xf_model_snapshot(const struct xf_model *m, size_t *n);
/* Where tensor i starts in a snapshot; i = xf_model_n_tensors(m) gives its
 * length. */
size_t xf_snapshot_offset(const struct xf_model *m, int i);
/* Writes a snapshot back into the model's tensors. */
void xf_model_restore(struct xf_model *m, const float *snap);

/* ---- evaluation ---- */

/* Index of the largest of p[0..k), the first on ties: the predicted class. */
int xf_argmax(const float *p, int k);

struct xf_eval_result {
	size_t n;
	size_t correct;
	double loss_sum;
};

/*
 * Evaluates m in eval mode on d in batches of batch; per-example
 * predictions, losses and label probabilities go into pred, loss and prob
 * when not NULL (each d->n long).  Returns 0, or -1 with err.
 */
int xf_model_evaluate(struct xf_model *m, const struct xf_dataset *d,
    int batch, struct xf_eval_result *r, int *pred, float *loss, float *prob,
    struct xf_err *err);

/* sum += r: the one way results of several batches add up (xf-eval,
 * xf_model_eval_chunked), so that their sums agree to the bit. */
void xf_eval_result_add(struct xf_eval_result *sum,
    const struct xf_eval_result *r);

/* How two models' mistakes agree over examples (xf-eval --pairs). */
struct xf_mistakes {
	long both_right, both_wrong;
	long same_wrong;          /* both wrong with the same prediction */
	long only_a, only_b;      /* one model wrong, the other right */
};

/* Adds n examples with labels y (n) and predictions pred_a, pred_b (n). */
void xf_mistakes_add(struct xf_mistakes *t, const int *pred_a,
    const int *pred_b, const int *y, size_t n);

/* ---- features ---- */

/*
 * Averages each k×k window of (n, c, h, w) activations into out (n, c, h/k,
 * w/k); trailing rows and columns that do not fill a window are dropped.
 * k = 1 copies.  in and out must not overlap.
 */
void xf_features_pool(float *out, const float *in, size_t n, int c, int h,
    int w, int k);

/*
 * Floats per example of module k's activation in the last forward, after
 * k×k pooling (pool) when the module's output is a conv's (c, h, w); pool
 * does not change other modules.  Returns 0 with *width, or -1 with err
 * ("conv1 is 7x7") when h or w is below pool.
 */
int xf_features_width(const struct xf_model *m, int k, int pool,
    size_t *width, struct xf_err *err);

/* Module k's activation of the last forward's n examples, pooled as
 * xf_features_width says, into out (n, width). */
void xf_features_take(float *out, const struct xf_model *m, int k, size_t n,
    int pool);

/*
 * The features a model's head reads, which the transferability scores use
 * (You et al.'s f_i): the input of the head (the last layer, a linear
 * module), flattened in C, H, W order.  That is the output of the layer
 * below in a plain stack, of a max pool between them, or of the global
 * average pool of a residual network (after the last block's add and
 * ReLU).  Returns the head's module index with *width, or -1 with err (a
 * head that is not linear, or a model that is its head alone).
 */
int xf_features_head(const struct xf_model *m, size_t *width,
    struct xf_err *err);

/* Module k's input of the last forward's n examples (xf_model_module_input)
 * into out (n, its count). */
void xf_features_take_input(float *out, const struct xf_model *m, int k,
    size_t n);

/* A feature stream held whole. */
struct xf_features {
	char module[64];          /* the header's module, or the file's name */
	size_t n, p;              /* examples, floats per example */
	float *x;                 /* (n, p) */
	int64_t *index;           /* (n) each example's "i" */
};

/*
 * Reads the feature stream path (xf-eval --features: kind "features",
 * dtype float32) into f.  Returns 0, or -1 with err (not naming path) and
 * nothing held.  The caller frees f with xf_features_free.
 */
int xf_features_read(const char *path, struct xf_features *f,
    struct xf_err *err);
void xf_features_free(struct xf_features *f);

/* ---- augmentation ---- */

#define XF_AUGMENT_MAX_PAD 512

/* Random crop with zero padding pad (0: none) and horizontal flip. */
struct xf_augment {
	int pad;
	int flip;
};

/*
 * Parses "crop:P", "flip", "crop:P,flip" (items in any order, each once)
 * or "none" into a.  Returns 0, or -1 with err.
 */
int xf_augment_parse(struct xf_augment *a, const char *text,
    struct xf_err *err);
/* The canonical text of a, which xf_augment_parse reads back. */
void xf_augment_str(char *buf, size_t size, const struct xf_augment *a);
/*
 * The draw for one example: crop offsets dy, dx in [0, 2 pad] (the window's
 * corner in the padded image) and flip (0 or 1, 0 without a->flip).  A
 * pure function of (seed, epoch, example), so the same example of the same
 * epoch gets the same image whatever the batching, threads or resume.
 */
void xf_augment_draw(const struct xf_augment *a, uint64_t seed, int epoch,
    uint64_t example, int *dy, int *dx, int *flip);
/*
 * out (c, h, w) = the h×w window at (dy, dx) of in (c, h, w) padded with pad
 * zeros on each side, mirrored left to right when flip.  out and in must
 * not overlap.  The _ref twin pads, crops and mirrors literally.
 */
void xf_augment_image(uint8_t *out, const uint8_t *in, int c, int h, int w,
    int pad, int dy, int dx, int flip);
void xf_augment_image_ref(uint8_t *out, const uint8_t *in, int c, int h,
    int w, int pad, int dy, int dx, int flip);

/* ---- the training loop's state ---- */

struct xf_trainer {
	struct xf_model *model;
	struct xf_sgd *opt;
	const struct xf_dataset *data;
	struct xf_lr_schedule lr;
	int batch;
	uint64_t seed;
	long step;              /* steps taken over the whole run */
	int epoch;              /* epochs completed */
	size_t pos;             /* examples of this epoch already used */
	struct xf_rng rng;      /* state at the start of this epoch */
	uint32_t *order;        /* this epoch's permutation of the data */
	uint8_t *xb;            /* one batch of images */
	int *yb;
	/* Set by the caller after xf_trainer_init (zero: none): */
	struct xf_augment aug;  /* applied to each example of a batch */
	long warmup;            /* steps of linear learning-rate warmup */
	/* The last step: */
	float loss;
	float lr_used;
	size_t correct;
	int size;
};

/*
 * Sets up t for m on d.  The data order of epoch e is a permutation drawn
 * from an RNG seeded with seed and carried from epoch to epoch, so a run is
 * determined by its seed.  Returns 0, or -1 with err.
 */
int xf_trainer_init(struct xf_trainer *t, struct xf_model *m,
    struct xf_sgd *opt, const struct xf_dataset *d, int batch, uint64_t seed,
    const struct xf_lr_schedule *lr, struct xf_err *err);
/*
 * One SGD step on the next batch (the last batch of an epoch may be
 * smaller; the epoch ends after it).  Returns 0, or -1 with err when the
 * loss is NaN or Inf ("step 1234: loss is NaN"); the model is then not
 * updated.
 */
int xf_trainer_step(struct xf_trainer *t, struct xf_err *err);
/* Steps in one epoch. */
long xf_trainer_steps_per_epoch(const struct xf_trainer *t);
/* "torch" or "he" into *s (xf_model_set_init_scheme).  Returns 0, or -1. */
int xf_init_scheme_parse(enum xf_init_scheme *s, const char *text,
    struct xf_err *err);
const char *xf_init_scheme_name(enum xf_init_scheme s);
/*
 * The rate of step (from 0) under a linear warmup of warmup steps:
 * lr · (step + 1) / warmup for step < warmup, then lr.  warmup 0: lr.
 */
float xf_lr_warmup(float lr, long step, long warmup);
/*
 * A run's settings, which a resumed run takes over from its checkpoint,
 * and its provenance.  Stored as the keys train.lr, train.momentum,
 * train.wd, train.batch, train.schedule, train.copy, train.freeze,
 * train.augment, train.warmup, train.init_scheme, train.total_steps,
 * prov.data and prov.parent.
 */
struct xf_train_settings {
	float lr, momentum, wd;
	int batch;
	const char *schedule;     /* xf_lr_parse's spec */
	int copy, freeze;         /* --copy (-1: none) and --freeze layers */
	long total_steps;         /* 0 in a checkpoint without the key */
	const char *prov_data;    /* the data's provenance line */
	const char *parent;       /* the --init checkpoint; NULL or "": none */
	const char *augment;      /* xf_augment_parse's text; NULL: none */
	long warmup;              /* --warmup steps */
	const char *init_scheme;  /* "torch" or "he"; NULL: not recorded */
};

/*
 * Stores every train.* key of a checkpoint in c's metadata: s's
 * settings and provenance, then t's step, epoch, position, RNG state and
 * seed, which xf_trainer_restore reads back.
 */
void xf_trainer_save(const struct xf_trainer *t,
    const struct xf_train_settings *s, struct xf_ckpt *c);

/*
 * The settings c holds, over those in s: each key present and in range
 * replaces its field; the others stay.  total_steps, parent, augment,
 * warmup and init_scheme are set from c (0 and NULL when absent: a
 * checkpoint from before --augment and --warmup had neither).  Strings
 * point into c.
 */
void xf_train_settings_load(struct xf_train_settings *s,
    const struct xf_ckpt *c);
/* Restores them from c (after xf_trainer_init).  Returns 0, or -1. */
int xf_trainer_restore(struct xf_trainer *t, const struct xf_ckpt *c,
    struct xf_err *err);
void xf_trainer_free(struct xf_trainer *t);

/*
 * The train.* settings of a checkpoint for --resume, each within the range
 * of the xf-train option that sets it (train.lr as -l, train.batch as -b,
 * ...), and train.step and train.epoch within the run.  Returns 0, or -1
 * with err naming the key.
 */
int xf_train_settings_check(const struct xf_ckpt *c, struct xf_err *err);

#endif
