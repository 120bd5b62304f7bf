/*
 * model_impl.h: what model.c (running a model) and spec.c (building one
 * from a spec string) share: the layer list and the model struct.  Not
 * part of libxf's interface; tools see struct xf_model as opaque.
 */
#ifndef XF_MODEL_IMPL_H
#define XF_MODEL_IMPL_H

#include "nn.h"

enum layer_kind {
	LAYER_CONV, LAYER_BN, LAYER_POOL, LAYER_LINEAR, LAYER_ADD, LAYER_GAP
};

struct layer {
	enum layer_kind kind;
	int	 module;	/* -1 for pool, add and global average pool */
	int	 relu;		/* ReLU fused on the output */
	int	 src;		/* input: act[src] (i for the layer before) */
	int	 src2;		/* add: the shortcut, act[src2]; else -1 */
	int	 c, h, w;	/* input per example (C, H, W); linear: (IN, 1, 1) */
	int	 oc, oh, ow;	/* output per example */
	int	 k, stride, pad;	/* conv and pool */
	int	 bias;		/* conv: has a bias tensor */
	size_t	 in_count, out_count;	/* floats per example */
	float	*mean, *rstd;	/* bn: batch stats saved for backward (C) */
};

/* Gradient buffers of backward: activation gradients take a slot while
 * they are live (a block input's gradient waits for both its branches). */
#define GRAD_SLOTS 8

struct xf_model {
	char	*spec;
	int	 c, h, w, n_classes;
	int	 residual;	/* has residual blocks: torchvision names */
	enum xf_init_scheme init;
	int	 norm;		/* input normalisation set (xf_model_set_normalize) */
	float	 norm_mean[XF_NORM_MAX_C], norm_std[XF_NORM_MAX_C];
	int	 n_layers;
	struct layer *layers;
	int	 n_modules;
	struct xf_module *modules;
	int	*module_first_layer;	/* first layer of each module's stage */
	int	*module_last_layer;	/* last layer of each module's stage */
	int	*module_entry_layer;	/* where forward_from starts: the
					 * enclosing block's first layer */
	int	 n_tensors;
	struct xf_model_tensor *tensors;
	float	*params, *grads, *buffers;
	size_t	 n_params, n_buffers;
	float	*stats;		/* bn mean and rstd of every bn layer */

	int	 cap;		/* examples the buffers hold */
	int	 n;		/* examples in the last forward */
	int	 has_labels;
	float	**act;		/* act[0] input, act[i + 1] output of layer i */
	float	*grad[GRAD_SLOTS];
	size_t	 grad_floats;	/* floats per example in a gradient slot */
	int	 n_grad_slots;	/* slots a backward takes (model_alloc) */
	int	*gslot;		/* backward: slot of each act's gradient, or -1 */
	float	*probs, *losses;
	int	*labels;
	float	*scratch;
	size_t	 scratch_floats;
};

/* The spec of a preset name, or name itself. */
const char *nn_spec_preset(const char *name);
/*
 * Builds m's layers, modules and tensors (offsets into allocations not yet
 * made) from spec for m's input shape and class count; shapes checked.
 * Returns 0, or -1 with err naming the item.
 */
int	nn_spec_parse(struct xf_model *m, const char *spec, struct xf_err *err);
int	nn_window_max(const float *x, int h, int w, int k, int s, int p, int y,
	    int xo);

#endif
