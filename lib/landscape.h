/*
 * landscape.h: the loss landscape around trained models, for xf-interp and
 * xf-critic.
 *
 * Overview
 *   - Weight vectors are snapshots (train.h's xf_model_snapshot): every
 *     tensor of a model, parameters and batch-norm buffers, back to back in
 *     tensor order.  Directions and gradients use the same layout, with zero
 *     in the buffers' places.
 *   - interp.c: lines and planes in weight space (Neyshabur et al. 2020 §5,
 *     Li et al. 2018, Liu et al. 2019).  A point is a model put together
 *     from snapshots and evaluated on a dataset in eval mode:
 *	line      θ(λ) = (1−λ)·θ₁ + λ·θ₂, and the barrier
 *	random    θ + t·d, d filter-normalised Gaussian
 *	plane     θ + t·d₁ + u·d₂
 *	gradient  θ − η·∇L(θ), with ‖∇L(θ − η∇L(θ)) − ∇L(θ)‖
 *   - critic.c: module criticality (Chatterji, Neyshabur, Sedghi 2020): for
 *     one module, the error over an (α, σ) grid of
 *     (1−α)·θ⁰ + α·θᶠ + σ·z, the rest of the network at θᶠ, and
 *     μ = min over feasible cells of α²·‖θᶠ − θ⁰‖²/σ².
 *
 * Like all of lib, nothing here prints or exits.
 *
 * Usage
 *	struct xf_interp opt = XF_INTERP_DEFAULTS;
 *	struct xf_interp_point *pts = calloc(xf_interp_n_points(&opt), ...);
 *
 *	if (xf_model_same_arch(ma, mb, &err) < 0 ||
 *	    xf_model_same_input(ma, mb, &err) < 0 ||
 *	    xf_interp_run(ma, a, b, &data, &opt, pts, emit, arg, &err) < 0)
 *		errx(1, "%s", err.msg);
 *	xf_interp_summarise(&opt, pts, n, &sum);
 */
#ifndef XF_LANDSCAPE_H
#define XF_LANDSCAPE_H

#include "train.h"

/*
 * Checks that b has a's architecture: the same input shape, class count
 * and tensors (names and shapes, in order).  Returns 0, or -1 with err
 * naming the first difference ("tensor conv1.weight: shape 32x1x3x3, want
 * 16x1x3x3", "tensor fc3.weight: missing", "input 3x32x32, want 1x28x28").
 */
int xf_model_same_arch(const struct xf_model *a, const struct xf_model *b,
    struct xf_err *err);

/*
 * Checks that b sees its input as a does: the same input shape and the same
 * per-channel normalisation (none reads as mean 0, std 1), which a tool that
 * mixes the weights of two models needs, since the mix runs with one
 * normalisation.  Returns 0, or -1 with err naming the first difference in
 * the manifest's terms ("input.mean.0 0.5, want 0.485", "input 3x32x32,
 * want 1x28x28").
 */
int xf_model_same_input(const struct xf_model *a, const struct xf_model *b,
    struct xf_err *err);

/*
 * ‖a − b‖₂ over the parameters of m's layout (buffers left out), a and b
 * snapshots.  module_dist, when not NULL, gets the distance of each module
 * (xf_model_n_modules long); the squares of those sum to the square of the
 * total.  Sums of squares in double.
 */
double xf_params_distance(const struct xf_model *m, const float *a,
    const float *b, double *module_dist);

/*
 * Sets every tensor of m, parameters and buffers, to (1−λ)·a + λ·b,
 * computed in double and rounded once, so λ = 0 gives a's bits and λ = 1
 * b's.
 */
void xf_model_blend(struct xf_model *m, const float *a, const float *b,
    double lambda);
/*
 * Sets m's parameters to base + t·d (+ u·e when e is not NULL), in double
 * and rounded once, and its buffers to base's.
 */
void xf_model_offset(struct xf_model *m, const float *base, const float *d,
    double t, const float *e, double u);

/*
 * Recomputes the batch-norm running statistics of m on d, PyTorch's
 * torch.optim.swa_utils.update_bn: the statistics are reset, d runs through
 * the network in train mode in batches of batch, and each running mean and
 * variance becomes the equal-weight average over batches of the batch mean
 * and unbiased batch variance (momentum None).  A model without batch norm
 * is left as it is.  Returns 0, or -1 with err.
 */
int xf_model_reset_bn(struct xf_model *m, const struct xf_dataset *d,
    int batch, struct xf_err *err);

/*
 * Evaluates m on d exactly as xf-eval does: in eval mode, in chunks of
 * batch examples, the loss summed in double per chunk and the chunk sums
 * added, so r has the same bits as xf-eval's "loss" and "acc" (loss_sum / n
 * and correct / n) for the same batch.  Returns 0, or -1 with err.
 */
int xf_model_eval_chunked(struct xf_model *m, const struct xf_dataset *d,
    int batch, struct xf_eval_result *r, struct xf_err *err);

/*
 * A filter-normalised random direction (Li et al. 2018) for the weights
 * theta (a snapshot of m's layout) into d: Gaussian draws from rng in tensor
 * order, then each filter of a weight tensor (an output channel of a conv
 * weight, a row of a linear weight) is rescaled to the norm of the matching
 * filter of theta.  One-dimensional parameters (biases, batch-norm weight
 * and bias) are zero, or with biasbn a copy of theta's (Li et al.'s code
 * with ignore=''); buffers are zero.  A filter of theta that is all zero
 * gets a zero direction.
 */
void xf_direction_random(const struct xf_model *m, const float *theta,
    float *d, struct xf_rng *rng, int biasbn);

/*
 * The gradient of the mean loss over d at m's parameters into g (snapshot
 * layout; zero for buffers), accumulated in double over batches of batch
 * weighted by their share of d.  The forward passes run in train mode (the
 * engine's backward wants batch statistics), with the running statistics
 * put back afterwards, so m is unchanged.  r gets the loss and accuracy of
 * those passes (equal to eval mode for a network without batch norm).
 * Returns 0, or -1 with err.
 */
int xf_model_full_grad(struct xf_model *m, const struct xf_dataset *d,
    int batch, float *g, struct xf_eval_result *r, struct xf_err *err);

/* ---- xf-interp ---- */

enum xf_interp_mode {
	XF_INTERP_LINE, XF_INTERP_RANDOM, XF_INTERP_PLANE, XF_INTERP_GRADIENT
};
enum xf_bn_mode { XF_BN_INTERP, XF_BN_RESET };

struct xf_interp {
	enum xf_interp_mode mode;
	enum xf_bn_mode bn;
	const struct xf_dataset *bn_data; /* reset: statistics from here */
	int points;          /* per axis, at least 2; both ends included */
	double lo, hi;       /* range of λ, t (both plane axes) or η */
	uint64_t seed;       /* random, plane: the directions */
	int biasbn;          /* random, plane: see xf_direction_random */
	int batch;
};

#define XF_INTERP_DEFAULTS { XF_INTERP_LINE, XF_BN_INTERP, NULL, 21, 0.0, \
	1.0, 0, 0, 256 }

struct xf_interp_point {
	double x;                 /* λ, t or η */
	double y;                 /* plane: u; else 0 */
	struct xf_eval_result r;  /* n, correct, loss_sum */
	double loss, acc, error;  /* loss_sum / n, correct / n, 1 − acc */
	/* gradient: ‖∇L‖ here, ‖∇L − ∇L(θ)‖, and ‖θ_η − θ‖ = η‖∇L(θ)‖ */
	double grad_norm, grad_change, step;
};

/* Points of a run: points, or points² for a plane. */
size_t xf_interp_n_points(const struct xf_interp *opt);
/* Parses "line", "random", "plane", "gradient" / "interp", "reset";
 * return 0, or -1. */
int xf_interp_mode_parse(const char *s, enum xf_interp_mode *mode);
const char *xf_interp_mode_name(enum xf_interp_mode mode);
int xf_bn_mode_parse(const char *s, enum xf_bn_mode *mode);
const char *xf_bn_mode_name(enum xf_bn_mode mode);

/*
 * Evaluates every point of the run on d into pts (xf_interp_n_points long),
 * calling emit (when not NULL) after each, in order: x ascending, and for a
 * plane u ascending within each t.  m is the first model and holds the
 * result of the last point afterwards; a and b are snapshots of m's layout:
 * θ₁ and θ₂ for a line, θ for the other modes (b unused).  The grid is
 * x_i = lo + i·(hi − lo)/(points − 1), with x_0 = lo and the last point hi
 * exactly.  With bn reset each point's statistics are recomputed on bn_data
 * (d when NULL); with interp a line blends them and the other modes keep
 * θ's.  Returns 0, or -1 with err.
 */
int xf_interp_run(struct xf_model *m, const float *a, const float *b,
    const struct xf_dataset *d, const struct xf_interp *opt,
    struct xf_interp_point *pts,
    void (*emit)(void *arg, const struct xf_interp_point *p), void *arg,
    struct xf_err *err);

struct xf_interp_summary {
	size_t points;
	double loss_min, loss_max, loss_mean;
	double error_min, error_max, error_mean;
	/* line over [0, 1]: max_λ e(λ) − ((1−λ)e(0) + λe(1)), for error and
	 * loss; NaN for other modes or ranges */
	double barrier, barrier_loss;
	/* gradient: ‖∇L(θ)‖, max ‖Δ∇L‖, max ‖Δ∇L‖/‖Δθ‖ over η ≠ 0;
	 * NaN for other modes */
	double grad_norm, grad_change_max, lipschitz_max;
};

/*
 * Summary of n points of a run with opt.  The barrier needs the grid's
 * first point at λ = 0 and its last at λ = 1 (the default range), and is
 * NaN otherwise; for a model with itself it is 0.
 */
void xf_interp_summarise(const struct xf_interp *opt,
    const struct xf_interp_point *pts, size_t n,
    struct xf_interp_summary *s);

/*
 * The barrier of values v at grid points x (x[0] = 0, x[n−1] = 1):
 * max_i v_i − ((1−x_i)·v_0 + x_i·v_{n−1}).  Never below 0, as the
 * endpoints contribute 0.
 */
double xf_barrier(const double *x, const double *v, size_t n);

/*
 * The output ensemble of a line's endpoints, as dnn-mode-connectivity
 * reports it beside the path: at λ, the prediction is the first argmax of
 * (1−λ)·softmax(z_A) + λ·softmax(z_B) and the loss −log of that mixture's
 * probability of the label, computed in double in log space (so at λ = 0
 * and 1 it is the endpoint's own cross-entropy).  The endpoints are the
 * snapshots as given, evaluated once in eval mode with their own batch-norm
 * statistics.
 */
struct xf_ensemble {
	size_t n;
	int k;
	double *la, *lb;      /* log-softmax of A and B (n, k) */
	const int *y;         /* the data's labels, borrowed */
};

/*
 * Evaluates a and b (snapshots of m's layout) on d in batches of batch into
 * ens; m holds a afterwards.  d must outlive ens.  Returns 0, or -1 with err.
 * Free with xf_ensemble_free.
 */
int xf_ensemble_init(struct xf_ensemble *ens, struct xf_model *m,
    const float *a, const float *b, const struct xf_dataset *d, int batch,
    struct xf_err *err);
/* r: n, correct and loss_sum of the ensemble at λ in [0, 1]. */
void xf_ensemble_at(const struct xf_ensemble *ens, double lambda,
    struct xf_eval_result *r);
void xf_ensemble_free(struct xf_ensemble *ens);

/* ---- xf-critic ---- */

enum xf_critic_objective { XF_CRITIC_ERROR, XF_CRITIC_LOSS };

/*
 * The grid and the test, after the public code
 * (meta_dataset/analysis/transferability/criticality.py):
 *	α_i = i / (n_alpha − 1)                   i = 0 .. n_alpha − 1
 *	σ_j = s · (10⁻¹⁶ + j·(1 − 10⁻¹⁶)/(n_sigma − 1))  j = 0 .. n_sigma − 1
 * with s = sigma_max, times ‖θᶠ‖_F/√P (the RMS of the module's final
 * parameters) when relative.  A cell's objective is the mean over draws of
 * the error (or loss) on the data; it is feasible when that is at most ε =
 * eps_abs when eps_abs ≥ 0, else eps_rel × the final model's value.
 */
struct xf_critic {
	int n_alpha, n_sigma;
	double sigma_max;
	int relative;
	int draws;
	uint64_t seed;
	enum xf_critic_objective objective;
	double eps_rel, eps_abs;
	int batch;
	int workers;          /* models evaluating cells at once */
};

#define XF_CRITIC_DEFAULTS { 11, 11, 1.0, 0, 10, 0, XF_CRITIC_ERROR, 1.01, \
	-1.0, 1000, 1 }

struct xf_critic_cell {
	int alpha_i, sigma_j;
	double alpha, sigma;   /* sigma: the absolute standard deviation */
	double loss, error;    /* means over draws */
	int feasible;
	double mu;             /* α²·‖θᶠ − θ⁰‖²/σ² */
};

struct xf_critic_module {
	int module;
	size_t n_params;
	double dist;           /* ‖θᶠ − θ⁰‖_F over the module's parameters */
	double weight_norm;    /* ‖θᶠ‖_F */
	double sigma_scale;    /* σ_j = sigma_scale · grid value */
	double eps;
	int n_feasible;
	double mu;             /* min over feasible cells; INFINITY if none */
	int best;              /* index of that cell, -1 if none */
};

/* Final model's loss and error on d (eval mode), the reference of ε. */
int xf_critic_reference(struct xf_model *m, const struct xf_dataset *d,
    int batch, double *loss, double *error, struct xf_err *err);

/*
 * Criticality of module k of m (at θᶠ) towards init (a snapshot of θ⁰ in
 * m's layout) on d.  Only the module's parameters move; its buffers and
 * every other module stay at θᶠ, and the network runs in eval mode.  The
 * module's input is computed once, and each cell re-runs only the module
 * and what is above it (xf_model_forward_from).
 *
 * Noise: draw r (0 ≤ r < draws) is σ·z_r, where z_r is a standard normal
 * vector over the module's parameters drawn from an xf_rng seeded from
 * (seed, k, r); the same z_r serve every cell of the module (common random
 * numbers), so cells differ only by α and σ.
 *
 * cells gets n_alpha·n_sigma cells, α-major (cell i·n_sigma + j).  With
 * workers > 1, that many model copies evaluate cells on threads of their
 * own; the engine must then run on one thread (xf_nn_set_threads(1)).  The
 * results do not depend on workers.  m keeps θᶠ.  Returns 0, or -1 with err.
 */
int xf_critic_module(struct xf_model *m, const float *init,
    const struct xf_dataset *d, int k, const struct xf_critic *opt,
    double reference, struct xf_critic_cell *cells,
    struct xf_critic_module *res, struct xf_err *err);

/*
 * The network's totals over the n modules' results res: n_params,
 * n_feasible and mu summed (mu is the sum of the modules' criticalities),
 * dist and weight_norm the root of their summed squares (the modules hold
 * disjoint parameters), eps the first module's; sigma_scale NaN and best
 * -1, as no one cell stands for the network.
 */
void xf_critic_network(struct xf_critic_module *net,
    const struct xf_critic_module *res, int n);

/* α_i and the unscaled σ_j of the grid. */
double xf_critic_alpha(const struct xf_critic *opt, int i);
double xf_critic_sigma(const struct xf_critic *opt, int j);

#endif
