/*
 * nn.h: the neural-net engine of libxf: layers, models, SGD.
 *
 * Overview
 *   - Layers (conv.c, conv_direct.c, linear.c, relu_maxpool.c,
 *     batchnorm.c), llm.c style: a forward and a backward function per
 *     layer, outputs first, then const inputs, then dimensions.  Activations
 *     are NCHW float32; weights use PyTorch layouts: conv (OC, C, KH, KW) and
 *     bias (OC), linear (OUT, IN) and bias (OUT).  Backward functions ADD into
 *     parameter gradients (dw, db), so gradients accumulate until zeroed, and
 *     WRITE the input gradient (din), so activation gradients need no zeroing
 *     and ReLU can run in place.  Each fast kernel has a naive _ref twin
 *     (plain loops, double accumulation) that the tests compare against.
 *   - Dense work goes through BLIS sgemm (gemm.c).  Debian's BLIS 0.9 picks
 *     its AVX2 (haswell) kernels on CPUs it does not recognise, which halves
 *     the speed of AVX-512 machines, so when the CPU has AVX-512 the engine
 *     hands BLIS a context with an AVX-512 micro-kernel of its own (8x32,
 *     row-preferring); BLIS still does the blocking, packing and strides.
 *     On AVX-512, stride-1 convolutions with padding below the kernel size
 *     skip im2col and BLIS: a direct kernel (conv_direct.c) reads a
 *     zero-padded copy of each image into the same 8x32 micro-kernel
 *     (forward, and input gradient with flipped weights) and a second one
 *     forms the weight gradient; other convolutions take im2col + BLIS.
 *   - Threads (threads.c, xf_nn_set_threads): one pool for the process.
 *     Batched layers split the batch into XF_NN_PARTS fixed parts; a thread
 *     takes whole parts, each part accumulates its own partial weight
 *     gradient, and the partials are summed in part order.  Linear layers
 *     split output rows or columns, never the reduction.  So the bytes do
 *     not depend on timing or on the thread count: -j1 and -j2 give
 *     identical results.
 *   - Models from a spec string (spec.c builds, model.c runs); see "Spec
 *     strings" and "Residual networks" below.
 *   - SGD with momentum and weight decay and LR schedules (optim.c).
 *
 * Usage
 *	struct xf_err err;
 *	struct xf_model *m = xf_model_create("cnn", 1, 28, 28, 10, &err);
 *	struct xf_sgd *opt = xf_sgd_create(m, 0.9f, 5e-4f, &err);
 *	struct xf_rng rng;
 *	float loss;
 *
 *	xf_nn_set_threads(0);
 *	xf_rng_seed(&rng, 1);
 *	xf_model_init(m, &rng);
 *	for (each batch x (n, 1, 28, 28) uint8, y (n) int) {
 *		if (xf_model_forward(m, x, y, n, 1, &loss, &err) == -1)
 *			errx(1, "%s", err.msg);
 *		xf_model_zero_grad(m);
 *		xf_model_backward(m);
 *		xf_sgd_step(opt, m, lr);
 *	}
 *	xf_sgd_free(opt);
 *	xf_model_free(m);
 */
#ifndef XF_NN_H
#define XF_NN_H

#include <stddef.h>
#include <stdint.h>

#include "xf.h"

/* The batch is cut into this many parts for reductions; also the most
 * threads the engine uses. */
#define XF_NN_PARTS 12

/*
 * Threads
 */

/*
 * Use n threads (n <= 0: all online cores; at most XF_NN_PARTS) for every
 * later kernel call.  Call it once, before any model work, from one thread.
 * Returns the number of threads in use, which is smaller than asked when
 * threads cannot be created.  Without a call the engine runs on one thread.
 */
int	xf_nn_set_threads(int n);
/* Threads in use. */
int	xf_nn_threads(void);
/* Runs fn(arg, tid, nthreads) on every thread of the pool (the caller is
 * tid 0) and returns when all are done: for code outside the kernels (the
 * optimiser) that splits elementwise work the same way. */
void	xf_nn_run(void (*fn)(void *arg, int tid, int nthreads), void *arg);
/* Thread tid's share [*i0, *i1) of count elements split nt ways, in whole
 * 16-float blocks so no two threads write one cache line.  Element-wise
 * work split this way gives the same bytes for any nt. */
void	xf_nn_split(size_t count, int tid, int nt, size_t *i0, size_t *i1);

/*
 * Instruction sets.  The engine has three paths, chosen once for the
 * process:
 *	generic	the plain-C loops (built for ARCH_FLAGS, x86-64-v3 by
 *		default) and BLIS with its own kernels; im2col for every
 *		convolution.  What any CPU runs.
 *	avx2	the generic path, but stride-1 convolutions take the direct
 *		kernel in AVX2 and FMA (conv_direct.c), and batch norm's
 *		row loops run in AVX2.  What a CPU with AVX2 and FMA and
 *		without AVX-512 runs (AMD Zen 1-3, Intel before Skylake-SP).
 *	avx512	the engine's AVX-512 loops for the element-wise layers,
 *		batch norm and the linear layer's bias steps, its own 8x32
 *		BLIS micro-kernel, and the direct convolution.
 * The best path the CPU has is the default.  XF_ISA=generic or
 * XF_ISA=avx2 in the environment, read at the first kernel call, or
 * xf_nn_set_isa forces a plainer path, so its loops run (and are tested:
 * make check runs the kernel and model tests once per path the machine
 * has) on a machine with a better one.  XF_ISA other than avx512 also keeps
 * xf_blis_setup from asking BLIS for its AVX-512 kernels; xf_nn_set_isa
 * cannot change BLIS's own choice, made at its first call.  An XF_ISA the
 * engine does not know, or one the CPU lacks, leaves the default.  Every
 * path passes the same tests against the _ref twins, but the paths round
 * differently: the bytes of a result are the same for one path at any
 * thread count, not across paths.
 */
enum xf_nn_isa { XF_NN_ISA_GENERIC, XF_NN_ISA_AVX2, XF_NN_ISA_AVX512 };
#define XF_NN_N_ISAS 3

/* Use path isa for every later kernel call.  Call it before any model work,
 * from one thread, like xf_nn_set_threads: conv scratch sizes depend on the
 * path.  Returns 0, or -1 when the CPU lacks isa (nothing changes). */
int	xf_nn_set_isa(enum xf_nn_isa isa);
/* The path in use. */
enum xf_nn_isa xf_nn_isa(void);
/* "generic", "avx2", "avx512"; and back: 0, or -1 for a name it does not know. */
const char *xf_nn_isa_name(enum xf_nn_isa isa);
int	xf_nn_isa_parse(const char *name, enum xf_nn_isa *isa);

/*
 * Layers
 */

/* Dimensions of a 2-D convolution; fill with xf_conv2d_dims. */
struct xf_conv2d_dims {
	int n, c, h, w;		/* input (N, C, H, W) */
	int oc, kh, kw;		/* weight (OC, C, KH, KW) */
	int stride, pad;	/* the same on both axes */
	int oh, ow;		/* output (N, OC, OH, OW) */
};

/* Fills d and returns 0, or -1 with err when the output would be empty or a
 * dimension is not positive. */
int	xf_conv2d_dims(struct xf_conv2d_dims *d, int n, int c, int h, int w,
	    int oc, int kh, int kw, int stride, int pad, struct xf_err *err);
/*
 * Floats of scratch the fast conv2d kernels need for d at the current thread
 * count (im2col buffers per thread, partial weight gradients per part).  The
 * caller owns the scratch; it holds nothing between calls.
 */
size_t	xf_conv2d_scratch(const struct xf_conv2d_dims *d);

/* out = conv(in, w) + b, then max(0, .) when relu is set.  b may be NULL. */
void	xf_conv2d_forward(float *out /* (N, OC, OH, OW) */,
	    float *scratch, const float *in /* (N, C, H, W) */,
	    const float *w /* (OC, C, KH, KW) */, const float *b /* (OC) */,
	    int relu, const struct xf_conv2d_dims *d);
/* din = dL/din (skipped when din is NULL); dw += dL/dw, db += dL/db (each
 * skipped when NULL). */
void	xf_conv2d_backward(float *din /* (N, C, H, W) */,
	    float *dw /* (OC, C, KH, KW) */, float *db /* (OC) */,
	    float *scratch, const float *dout /* (N, OC, OH, OW) */,
	    const float *in /* (N, C, H, W) */,
	    const float *w /* (OC, C, KH, KW) */,
	    const struct xf_conv2d_dims *d);
void	xf_conv2d_forward_ref(float *out, const float *in, const float *w,
	    const float *b, int relu, const struct xf_conv2d_dims *d);
void	xf_conv2d_backward_ref(float *din, float *dw, float *db,
	    const float *dout, const float *in, const float *w,
	    const struct xf_conv2d_dims *d);

/* out = in w^T + b, then max(0, .) when relu is set.  b may be NULL. */
void	xf_linear_forward(float *out /* (N, OUT) */,
	    const float *in /* (N, IN) */, const float *w /* (OUT, IN) */,
	    const float *b /* (OUT) */, int relu, int n, int in_f, int out_f);
/* din = dL/din (skipped when NULL); dw += dL/dw; db += dL/db (skipped when
 * NULL). */
void	xf_linear_backward(float *din /* (N, IN) */, float *dw /* (OUT, IN) */,
	    float *db /* (OUT) */, const float *dout /* (N, OUT) */,
	    const float *in /* (N, IN) */, const float *w /* (OUT, IN) */,
	    int n, int in_f, int out_f);
void	xf_linear_forward_ref(float *out, const float *in, const float *w,
	    const float *b, int relu, int n, int in_f, int out_f);
void	xf_linear_backward_ref(float *din, float *dw, float *db,
	    const float *dout, const float *in, const float *w, int n, int in_f,
	    int out_f);

/* out = max(0, in); out may be in. */
void	xf_relu_forward(float *out /* (count) */, const float *in /* (count) */,
	    size_t count);
/* din = dout where out > 0, else 0; din may be dout. */
void	xf_relu_backward(float *din /* (count) */,
	    const float *dout /* (count) */, const float *out /* (count) */,
	    size_t count);
void	xf_relu_forward_ref(float *out, const float *in, size_t count);
void	xf_relu_backward_ref(float *din, const float *dout, const float *out,
	    size_t count);

/*
 * Residual layers (resid.c).
 *
 * out = a + b, then max(0, .) when relu is set; out may be a or b.
 */
void	xf_add_forward(float *out /* (count) */, const float *a /* (count) */,
	    const float *b /* (count) */, int relu, size_t count);
void	xf_add_forward_ref(float *out, const float *a, const float *b,
	    int relu, size_t count);
/* out = the mean of each channel over its hw positions. */
void	xf_avgpool_global_forward(float *out /* (N, C) */,
	    const float *in /* (N, C, HW) */, int n, int c, int hw);
/* din = dout / hw at every position. */
void	xf_avgpool_global_backward(float *din /* (N, C, HW) */,
	    const float *dout /* (N, C) */, int n, int c, int hw);
void	xf_avgpool_global_forward_ref(float *out, const float *in, int n,
	    int c, int hw);
void	xf_avgpool_global_backward_ref(float *din, const float *dout, int n,
	    int c, int hw);
/* KxK max pool with stride s and padding p (padding never wins, as -inf
 * in PyTorch): OH = (H + 2p - K) / s + 1, likewise OW.  Backward routes
 * dout to the first maximum of each window (row-major), added: windows may
 * overlap. */
void	xf_maxpool2d_forward(float *out /* (N, C, OH, OW) */,
	    const float *in /* (N, C, H, W) */, int n, int c, int h, int w,
	    int k, int s, int p);
void	xf_maxpool2d_backward(float *din /* (N, C, H, W) */,
	    const float *dout /* (N, C, OH, OW) */,
	    const float *in /* (N, C, H, W) */, int n, int c, int h, int w,
	    int k, int s, int p);
void	xf_maxpool2d_forward_ref(float *out, const float *in, int n, int c,
	    int h, int w, int k, int s, int p);
void	xf_maxpool2d_backward_ref(float *din, const float *dout,
	    const float *in, int n, int c, int h, int w, int k, int s, int p);

/* 2x2 max pool, stride 2; odd trailing rows and columns are dropped, as in
 * PyTorch.  OH = H / 2, OW = W / 2. */
void	xf_maxpool_forward(float *out /* (N, C, OH, OW) */,
	    const float *in /* (N, C, H, W) */, int n, int c, int h, int w);
/* din = dout routed to the first maximum of each window, 0 elsewhere. */
void	xf_maxpool_backward(float *din /* (N, C, H, W) */,
	    const float *dout /* (N, C, OH, OW) */,
	    const float *in /* (N, C, H, W) */, int n, int c, int h, int w);
void	xf_maxpool_forward_ref(float *out, const float *in, int n, int c,
	    int h, int w);
void	xf_maxpool_backward_ref(float *din, const float *dout, const float *in,
	    int n, int c, int h, int w);

/*
 * Batch norm over (N, HW) per channel, PyTorch semantics: eps 1e-5; train
 * mode normalises with the batch mean and biased variance, saves mean and
 * 1/sqrt(var + eps) for backward, and moves the running stats by momentum
 * 0.1 (running_var takes the unbiased variance); eval mode uses the running
 * stats.  relu applies max(0, .) to the output.
 */
#define XF_BN_EPS	1e-5f
#define XF_BN_MOMENTUM	0.1f
void	xf_batchnorm_forward_train(float *out /* (N, C, HW) */,
	    float *mean /* (C) */, float *rstd /* (C) */,
	    float *running_mean /* (C) */, float *running_var /* (C) */,
	    const float *in /* (N, C, HW) */, const float *w /* (C) */,
	    const float *b /* (C) */, int relu, int n, int c, int hw);
void	xf_batchnorm_forward_eval(float *out /* (N, C, HW) */,
	    const float *in /* (N, C, HW) */, const float *w /* (C) */,
	    const float *b /* (C) */, const float *running_mean /* (C) */,
	    const float *running_var /* (C) */, int relu, int n, int c, int hw);
/* Train-mode backward.  din written (skipped when NULL); dw, db added
 * (skipped when NULL). */
void	xf_batchnorm_backward(float *din /* (N, C, HW) */, float *dw /* (C) */,
	    float *db /* (C) */, const float *dout /* (N, C, HW) */,
	    const float *in /* (N, C, HW) */, const float *mean /* (C) */,
	    const float *rstd /* (C) */, const float *w /* (C) */, int n, int c,
	    int hw);
void	xf_batchnorm_forward_train_ref(float *out, float *mean, float *rstd,
	    float *running_mean, float *running_var, const float *in,
	    const float *w, const float *b, int relu, int n, int c, int hw);
void	xf_batchnorm_forward_eval_ref(float *out, const float *in,
	    const float *w, const float *b, const float *running_mean,
	    const float *running_var, int relu, int n, int c, int hw);
void	xf_batchnorm_backward_ref(float *din, float *dw, float *db,
	    const float *dout, const float *in, const float *mean,
	    const float *rstd, const float *w, int n, int c, int hw);

/*
 * Softmax cross-entropy, stable (max subtracted).  Fills probs and the
 * per-example loss and returns the mean loss over the batch.  Labels must
 * lie in [0, K).
 */
float	xf_softmax_xent_forward(float *probs /* (N, K) */,
	    float *losses /* (N) */, const float *logits /* (N, K) */,
	    const int *labels /* (N) */, int n, int k);
/* dlogits = (probs - onehot(labels)) / N, written: the gradient of the
 * mean loss. */
void	xf_softmax_xent_backward(float *dlogits /* (N, K) */,
	    const float *probs /* (N, K) */, const int *labels /* (N) */, int n,
	    int k);
float	xf_softmax_xent_forward_ref(float *probs, float *losses,
	    const float *logits, const int *labels, int n, int k);
void	xf_softmax_xent_backward_ref(float *dlogits, const float *probs,
	    const int *labels, int n, int k);

/*
 * Models (spec.c, model.c)
 *
 * Spec strings
 *   A model is a comma-separated list of items, applied in order to an input
 *   of shape (C, H, W) taken from the data:
 *	cN		conv, N output channels, 3x3, stride 1, padding 1, ReLU
 *	cNkKsSpP	the same with kernel KxK, stride S, padding P; each of
 *			kK, sS, pP is optional (defaults k3, s1, p = K / 2)
 *	b		batch norm on the output of the conv before it, placed
 *			between that conv and its ReLU
 *	cN...n		a conv item ending in n has no bias (torchvision's
 *			convs before a batch norm)
 *	p		2x2 max pool, stride 2
 *	pkKsSpP		KxK max pool, stride S (default K), padding P (default
 *			0, at most K / 2, padded with -inf as in PyTorch)
 *	rN, rNsS	a basic residual block (He et al. 2016) of N channels
 *			and stride S (default 1): conv3x3(S)-bn-ReLU-conv3x3-bn
 *			plus the shortcut, then ReLU.  The shortcut is the
 *			input, or a projection conv1x1(S)-bn when the stride
 *			or the width changes.  Convs in blocks have no bias.
 *	g		global average pool: (C, H, W) to C features
 *	fN		linear to N features, ReLU; flattens its input
 *	f		the head: linear to the class count, no ReLU; last item,
 *			required
 *   Presets expand to spec strings:
 *	mlp	f512,f512,f
 *	cnn	c32,c32,p,c64,c64,p,f256,f
 *	cnn-s	c16,c16,p,c32,c32,p,f128,f
 *	cnn-bn	c32,b,c32,b,p,c64,b,c64,b,p,f256,f
 *	resnet-8	c16n,b,r16,r32s2,r64s2,g,f
 *	resnet-20	c16n,b,r16,r16,r16,r32s2,r32,r32,r64s2,r64,r64,g,f
 *	resnet-18	c64k7s2p3n,b,pk3s2p1,r64,r64,r128s2,r128,r256s2,
 *			r256,r512s2,r512,g,f (torchvision's resnet18)
 *	resnet-18-cifar	c64n,b,r64,r64,r128s2,r128,r256s2,r256,r512s2,r512,
 *			g,f (3x3 stem, no max pool)
 *	resnet-34	c64k7s2p3n,b,pk3s2p1,r64,r64,r64,r128s2,r128,r128,
 *			r128,r256s2,r256,r256,r256,r256,r256,r512s2,r512,
 *			r512,g,f (torchvision's resnet34)
 *
 * Modules and tensors
 *   Modules are the layers with parameters, numbered per kind from 1 in
 *   order: conv1, conv2, ..., bn1, ..., fc1, ..., the head being the last
 *   fcN.  Their tensors carry PyTorch names: conv1.weight, conv1.bias,
 *   bn1.weight, bn1.bias, bn1.running_mean, bn1.running_var, fc1.weight ...
 *   All parameters live in one float allocation and their gradients in a
 *   second of the same layout; buffers (running stats) have a third and no
 *   gradient.  Tensors are listed module by module, each module's tensors
 *   contiguous in the list.
 *
 * Residual networks
 *   A spec with an r item takes torchvision's names: the stem conv1, bn1;
 *   blocks layerS.B (S counts from 1 and grows at each block that changes
 *   the stride or the width, B counts from 0 within it), each a module of
 *   kind block with no tensors, followed by layerS.B.conv1, .bn1, .conv2,
 *   .bn2 and, for a projection, .downsample.0 (conv) and .downsample.1
 *   (bn); the head is fc (hidden linear layers stay fc1, fc2, ...).  So
 *   torchvision's resnet18 loads an xf resnet-18 with strict=True.  The
 *   activation of a block is its output after the add and the ReLU; the
 *   activation of a conv inside it is its stage's, as elsewhere.  A block
 *   is one layer for --copy and --freeze (struct xf_module's group).  The
 *   input of a module inside a block is the block's input, and
 *   xf_model_forward_from starts at the block: the shortcut needs it.
 *
 * Stages and activations
 *   A stage is a conv or linear module with the batch norm and ReLU that
 *   follow it.  The activation of a module is the output of its stage (after
 *   the ReLU, before any pool); a bn module shares its conv's stage.  The
 *   input of a module is the input of its stage (after any pool before it,
 *   the model input for the first stage).
 *
 * Input
 *   Images are uint8 (N, C, H, W) and enter the network as x / 255, or,
 *   with a per-channel normalisation (xf_model_set_normalize), as
 *   (x / 255 - mean[c]) / std[c], as torchvision's ToTensor then
 *   Normalize(mean, std) give them to a torch model.
 */

enum xf_module_kind {
	XF_MODULE_CONV, XF_MODULE_BN, XF_MODULE_LINEAR,
	XF_MODULE_BLOCK		/* a residual block: no tensors of its own */
};

/* Initialisation schemes (xf_model_init).  XF_INIT_TORCH: PyTorch's
 * defaults.  XF_INIT_HE: torchvision's ResNet scheme, convs
 * kaiming_normal_(mode="fan_out", nonlinearity="relu") with zero biases;
 * batch norm and linear layers as XF_INIT_TORCH.  Residual specs default to
 * XF_INIT_HE, plain ones to XF_INIT_TORCH. */
enum xf_init_scheme { XF_INIT_TORCH, XF_INIT_HE };

struct xf_model_tensor {
	char	 name[XF_NAME_MAX];	/* "conv1.weight" */
	int	 ndim;
	int64_t	 shape[4];
	size_t	 count;		/* product of shape */
	float	*data;		/* into the params or buffers allocation */
	float	*grad;		/* into the grads allocation; NULL for buffers */
	int	 is_param;	/* 1: trained parameter, 0: buffer */
	int	 module;	/* index of the owning module */
};

struct xf_module {
	char	 name[32];	/* "conv1", "layer2.0.downsample.0" */
	enum xf_module_kind kind;
	int	 first_tensor;	/* tensors [first_tensor, first_tensor + n_tensors) */
	int	 n_tensors;
	int	 stage;		/* the stage it belongs to */
	int	 group;		/* its layer for --copy and --freeze: a conv or
				 * linear module with its batch norm, or a
				 * whole residual block */
	int	 frozen;	/* set by xf_model_freeze */
};

struct xf_model;

/*
 * A model for inputs of shape (c, h, w) and n_classes classes, from a
 * preset name or a spec string.  Parameters are zero until xf_model_init.
 * Returns the model, freed by xf_model_free, or NULL with err (bad spec,
 * shapes that do not fit, out of memory).
 */
struct xf_model *xf_model_create(const char *spec, int c, int h, int w,
	    int n_classes, struct xf_err *err);
void	xf_model_free(struct xf_model *m);
/* The spec string the model was built from (presets expanded). */
const char *xf_model_spec(const struct xf_model *m);
/* The input shape and class count given at create. */
void	xf_model_input_shape(const struct xf_model *m, int *c, int *h, int *w,
	    int *n_classes);

/* PyTorch's default initialisation of every module, drawing from rng in
 * module order: weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for
 * conv and linear (kaiming_uniform, a = sqrt(5)); batch norm weight 1, bias
 * 0, running mean 0, running var 1. */
void	xf_model_init(struct xf_model *m, struct xf_rng *rng);
/* The same for module k alone (head replacement, re-initialised upper
 * modules). */
void	xf_model_init_module(struct xf_model *m, int k, struct xf_rng *rng);
/* The scheme xf_model_init uses from now on, and the one in force. */
void	xf_model_set_init_scheme(struct xf_model *m, enum xf_init_scheme s);
enum xf_init_scheme xf_model_init_scheme(const struct xf_model *m);

/* Channels a per-channel input normalisation can hold. */
#define XF_NORM_MAX_C 4
/*
 * The input normalisation of every forward from now on: channel c enters
 * as (x / 255 - mean[c]) / std[c].  n must be the model's channel count
 * (at most XF_NORM_MAX_C), each mean finite and each std finite and > 0.
 * Means 0 with stds 1 (or mean and std NULL) is no normalisation.  Returns
 * 0, or -1 with err and the model unchanged.
 */
int	xf_model_set_normalize(struct xf_model *m, const float *mean,
	    const float *std, int n, struct xf_err *err);
/* 1 and the model's mean and std (C each) when it normalises, else 0 (then
 * mean and std are left alone). */
int	xf_model_normalize(const struct xf_model *m, float *mean, float *std);

int	xf_model_n_tensors(const struct xf_model *m);
const struct xf_model_tensor *xf_model_tensor(const struct xf_model *m, int i);
/* Index of the tensor called name, or -1. */
int	xf_model_find_tensor(const struct xf_model *m, const char *name);
int	xf_model_n_modules(const struct xf_model *m);
const struct xf_module *xf_model_module(const struct xf_model *m, int k);
/* Index of the module called name, or -1. */
int	xf_model_find_module(const struct xf_model *m, const char *name);
/* All parameters (and their gradients) as one flat vector of *n floats, in
 * tensor order. */
float	*xf_model_params(struct xf_model *m, size_t *n);
float	*xf_model_grads(struct xf_model *m, size_t *n);

/* Freeze (frozen = 1) or unfreeze module k.  SGD leaves a frozen module's
 * parameters untouched, and backward computes no gradient for it; backward
 * stops below the lowest module that is not frozen. */
void	xf_model_freeze(struct xf_model *m, int k, int frozen);

/*
 * Run the network on n images x (n, C, H, W) in train mode (batch-norm
 * batch statistics, running stats updated) or eval mode (train = 0).
 * With labels, stores the mean cross-entropy in *loss; labels may be NULL
 * for logits only (then backward is not allowed).  Activations grow to fit
 * n and hold one batch.  Returns 0, or -1 with err (a label out of range,
 * out of memory).
 */
int	xf_model_forward(struct xf_model *m, const uint8_t *x,
	    const int *labels, int n, int train, float *loss,
	    struct xf_err *err);
/*
 * Run the stages from module k's stage upwards on act, n examples of module
 * k's input (see xf_model_module_input), as xf_model_forward does for the
 * whole network.  act may be the model's own buffer from
 * xf_model_module_input.  Module criticality uses it to re-evaluate only the
 * modules above a perturbed one.  Returns 0 or -1 with err.
 */
int	xf_model_forward_from(struct xf_model *m, int k, const float *act,
	    const int *labels, int n, int train, float *loss,
	    struct xf_err *err);
/* After a forward with labels: param grads += d(mean loss)/d(params), for
 * modules that are not frozen. */
void	xf_model_backward(struct xf_model *m);
/*
 * After a forward with labels in eval mode (train = 0): hv (n_params) +=
 * H v, the exact Hessian of the batch's mean loss times v (n_params), by
 * the R-operator (Pearlmutter 1994) through every layer (rop.c): the ReLU
 * masks and max-pool argmax held at theta, as autograd's hvp; batch norm as
 * its eval-mode affine map of the running statistics, gamma and beta in the
 * Hessian.  Every parameter takes part, frozen or not.  Float32 throughout.
 * Returns 0, or -1 with err (no labels, out of memory).
 */
int	xf_model_hvp(struct xf_model *m, float *hv, const float *v,
	    struct xf_err *err);
void	xf_model_zero_grad(struct xf_model *m);

/* Results of the last forward, valid until the next one: logits and probs
 * (n, n_classes); per-example losses (n), when labels were given. */
const float *xf_model_logits(const struct xf_model *m);
const float *xf_model_probs(const struct xf_model *m);
const float *xf_model_losses(const struct xf_model *m);
/* Activation (output of its stage) of module k for the last forward:
 * *count floats per example, shape in shape[0..*ndim) (C, H, W or F);
 * n examples back to back.  Valid until the next forward. */
const float *xf_model_activation(const struct xf_model *m, int k,
	    int *ndim, int shape[3], size_t *count);
/* Input of module k's stage for the last forward, likewise. */
const float *xf_model_module_input(const struct xf_model *m, int k,
	    int *ndim, int shape[3], size_t *count);

/* Multiply-adds times two per example of a forward pass, and of a training
 * step (forward, input gradients except the first layer's, weight
 * gradients). */
double	xf_model_flops(const struct xf_model *m, int train);

/*
 * SGD (optim.c), PyTorch semantics: d = g + weight_decay * p;
 * buf = momentum * buf + d (buf starts at zero, so the first step takes d);
 * p -= lr * buf.  Frozen modules are skipped entirely.
 */
struct xf_sgd;

/* An optimiser for m's parameters.  The momentum buffers are one allocation
 * in the layout of the parameters, exposed as tensors named
 * "<param>.momentum_buffer" so a checkpoint can store them.  Returns the
 * optimiser, freed by xf_sgd_free (before or after the model), or NULL with
 * err. */
struct xf_sgd *xf_sgd_create(struct xf_model *m, float momentum,
	    float weight_decay, struct xf_err *err);
void	xf_sgd_free(struct xf_sgd *opt);
void	xf_sgd_step(struct xf_sgd *opt, struct xf_model *m, float lr);
int	xf_sgd_n_tensors(const struct xf_sgd *opt);
const struct xf_model_tensor *xf_sgd_tensor(const struct xf_sgd *opt, int i);
int	xf_sgd_find_tensor(const struct xf_sgd *opt, const char *name);

/*
 * Learning-rate schedules: pure functions of (step, epoch), so a resumed
 * run gets the same rates.
 *	constant	lr
 *	step		lr * gamma^(number of milestones <= epoch)
 *	cosine		lr * (1 + cos(pi * step / total_steps)) / 2, PyTorch's
 *			CosineAnnealingLR with eta_min 0, over total_steps
 */
enum xf_lr_kind { XF_LR_CONSTANT, XF_LR_STEP, XF_LR_COSINE };

#define XF_LR_MAX_MILESTONES 16

struct xf_lr_schedule {
	enum xf_lr_kind kind;
	float	lr;
	float	gamma;
	int	n_milestones;
	int	milestones[XF_LR_MAX_MILESTONES];	/* epochs, ascending */
	long	total_steps;
};

/*
 * Parse "constant", "step:E1,E2,...:GAMMA" (e.g. "step:30,60:0.1") or
 * "cosine" into s with base rate lr; total_steps is for cosine.  Returns 0,
 * or -1 with err.
 */
int	xf_lr_parse(struct xf_lr_schedule *s, const char *text, float lr,
	    long total_steps, struct xf_err *err);
/* The rate for step (counted from 0 over the whole run) in epoch (from 0). */
float	xf_lr_at(const struct xf_lr_schedule *s, long step, int epoch);

/*
 * Threads outside this pool, and why.  critic.c's workers each run whole
 * forwards on a model copy of their own, with the engine set to one
 * thread; the pool cannot carry them, since its jobs are the kernels such
 * a forward calls (a job that runs kernels would wait on itself).  cka.c
 * builds the two sides of a CKA pair on two threads at once, each giving
 * BLIS half of the threads for its own ssyrk: BLIS threads, not the
 * engine's, do that work, and the pool never runs during it.
 */

#endif
