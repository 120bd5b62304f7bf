/*
 * align.h: permutation alignment of two models of one architecture (Git
 * Re-Basin, Ainsworth, Hayase and Srinivasa 2023), for xf-align, and the
 * linear assignment solver under it.
 *
 * Overview
 *   - lap.c: the linear assignment problem, min Σ_i cost[i][σ(i)] over
 *     injections σ of n rows into m ≥ n columns, by shortest augmenting
 *     paths with potentials (Hungarian / Jonker–Volgenant, O(n²m)), in
 *     double.
 *   - align.c: the permutation symmetry of a network, as a list of
 *     permutation groups.  A group is a set of n units (a conv's output
 *     channels, a linear layer's output features) that can be reordered
 *     without changing the function, and the tensor axes that reorder with
 *     it: the rows of the layer's weight and its bias, its batch norm's four
 *     tensors, and the input axis of every layer that reads the units (the
 *     next conv's columns, or the linear layer that flattens a conv's
 *     output, where unit c owns the block of H·W columns c·H·W ... in C,H,W
 *     order).  The head's outputs (the classes) belong to no group.
 *   - Weight matching (§3.2): maximise Σ over parameter tensors of
 *     ⟨W_A, π(W_B)⟩ by coordinate descent, one linear assignment per group
 *     with the others held, in a seeded random group order, until a sweep
 *     changes no permutation.
 *   - Activation matching (§3.1): for each group, the Pearson correlation
 *     of A's units with B's on data (every example and, for a conv, every
 *     spatial position is a sample), then one assignment per group.
 *   - A permutation perm of a group maps A's unit i to B's unit perm[i]: the
 *     permuted B has unit perm[i] of B at position i.
 *
 * Residual networks (issue 17)
 *   Nothing below looks at the kind of layer once the groups exist: the
 *   solvers and xf_align_apply only walk groups and their axes.  So residual
 *   networks are one more builder, xf_align_groups_resid: for each stretch
 *   of the residual stream it makes ONE group whose axes are the output axis
 *   of every layer that writes into the stream (the stem, or the projecting
 *   block's shortcut conv and bn; conv2 and bn2 of every block on it) and
 *   the input axis of every layer that reads it (each block's conv1, the
 *   next projection, the head); act_module names the module whose
 *   activation carries the stream.  Weight matching then sums each tensor's
 *   contribution into the shared group's cost matrix, as git re-basin's
 *   resnet permutation spec does.  Another architecture is another builder.
 *
 * Usage
 *	struct xf_align_groups g;
 *	int **perm;
 *
 *	if (xf_align_groups(mb, &g, &err) < 0 ||
 *	    (perm = xf_align_perms_alloc(&g)) == NULL ||
 *	    xf_align_weights(ma, a, b, &g, &opt, perm, stats, &err) < 0)
 *		errx(1, "%s", err.msg);
 *	xf_align_apply(mb, &g, perm, b, b2, &err);
 */
#ifndef XF_ALIGN_H
#define XF_ALIGN_H

#include "train.h"

/*
 * Solves min Σ_i cost[i·m + σ(i)] over injective σ (n ≤ m) into assign (n
 * long, the column of each row) and *total (when not NULL; the sum in
 * double, rows in order).  Every cost must be finite.  Returns 0, or -1
 * with err ("cost (3, 5) is nan", "n 4 > m 3").
 */
int xf_lap_solve(const double *cost /* (n, m) */, int n, int m, int *assign,
    double *total, struct xf_err *err);

/* One tensor axis that a group reorders: along axis, unit u owns the block
 * of indices [u·block, (u + 1)·block). */
struct xf_align_axis {
	int tensor;           /* index in the model's tensor list */
	int axis;             /* 0 .. ndim − 1 */
	int block;
};

#define XF_ALIGN_MAX_AXES 64

struct xf_align_group {
	char name[32];        /* the module whose units these are: "conv2",
	                       * "layer2.0" for a residual stream */
	int n;                /* units */
	int act_module;       /* module whose activation holds the units */
	int n_axes;
	struct xf_align_axis axes[XF_ALIGN_MAX_AXES];
};

struct xf_align_groups {
	int n;
	struct xf_align_group *g;   /* freed by xf_align_groups_free */
};

/*
 * The groups of a plain network (conv, bn, pool, linear stages in a chain,
 * as model.c builds from a spec): one per conv or linear module but the
 * head, in module order.  Returns 0, or -1 with err.
 */
int xf_align_groups_plain(const struct xf_model *m, struct xf_align_groups *g,
    struct xf_err *err);
/*
 * The groups of a residual network (nn.h's r items): the plain stages as
 * above, and per basic block one group for its conv1's outputs and one
 * residual stream shared by every layer that writes into it (the stem or
 * the projecting block's downsample conv and bn, and conv2 and bn2 of each
 * block on that stream) and read by every layer that reads it (each
 * block's conv1, the next projection, the layer after the last block).
 * act_module of a stream is the stem conv, or the block that starts it.
 */
int xf_align_groups_resid(const struct xf_model *m, struct xf_align_groups *g,
    struct xf_err *err);
/* xf_align_groups_resid for a model with residual blocks, else _plain. */
int xf_align_groups(const struct xf_model *m, struct xf_align_groups *g,
    struct xf_err *err);
void xf_align_groups_free(struct xf_align_groups *g);
/* perm[k] for every group k, each the identity; NULL when out of memory.
 * Freed by xf_align_perms_free. */
int **xf_align_perms_alloc(const struct xf_align_groups *g);
void xf_align_perms_free(const struct xf_align_groups *g, int **perm);

/*
 * out = b with every group's permutation applied (snapshots of m's layout,
 * parameters and buffers; out must not be b).  The permuted model computes
 * the same function as b.  Returns 0, or -1 with err (out of memory).
 */
int xf_align_apply(const struct xf_model *m, const struct xf_align_groups *g,
    int *const *perm, const float *b, float *out, struct xf_err *err);

/* ⟨a, b⟩ over m's parameter tensors (buffers left out), in double. */
double xf_align_inner(const struct xf_model *m, const float *a,
    const float *b);

struct xf_align_opt {
	uint64_t seed;        /* weights: the group order of each sweep */
	int max_sweeps;       /* weights: stop after this many sweeps */
	int batch;            /* activations */
};

#define XF_ALIGN_DEFAULTS { 0, 100, 256 }

/* Per group: the objective at the identity and at the permutation found,
 * and how many units moved.  Weights: Σ of ⟨W_A, π(W_B)⟩ over the group's
 * axes' tensors with the other groups at their final permutations (before:
 * every permutation the identity).  Activations: Σ_i corr(A_i, B_perm[i]). */
struct xf_align_stat {
	double before, after;
	int moved;
};

/*
 * Weight matching of b to a (snapshots of m's layout) into perm (from
 * xf_align_perms_alloc; its contents are the starting point).  *sweeps,
 * when not NULL, gets the sweeps run; stats (g->n long) when not NULL.
 * Returns 0, or -1 with err.
 */
int xf_align_weights(const struct xf_model *m, const float *a, const float *b,
    const struct xf_align_groups *g, const struct xf_align_opt *opt,
    int **perm, int *sweeps, struct xf_align_stat *stats, struct xf_err *err);

/*
 * Activation matching of mb to ma on d: both run in eval mode in batches,
 * each group's activation correlated, one assignment per group into perm.
 * A unit that is constant on d has correlation 0 with every unit.  Returns
 * 0, or -1 with err (a non-finite activation: "conv1: cost (0, 3) is nan").
 */
int xf_align_activations(struct xf_model *ma, struct xf_model *mb,
    const struct xf_dataset *d, const struct xf_align_groups *g,
    const struct xf_align_opt *opt, int **perm, struct xf_align_stat *stats,
    struct xf_err *err);

#endif
