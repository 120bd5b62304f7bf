/*
 * conv.c: 2-D convolution: im2col + BLIS per image, the naive _ref twins,
 * and the choice of path.  On AVX-512 CPUs, stride-1 convolutions with
 * padding below the kernel size take the direct kernel (conv_direct.c).
 */
#include <string.h>

#include "nn_impl.h"

int
xf_conv2d_dims(struct xf_conv2d_dims *d, int n, int c, int h, int w, int oc,
    int kh, int kw, int stride, int pad, struct xf_err *err)
{
	if (n < 0 || c < 1 || h < 1 || w < 1 || oc < 1 || kh < 1 || kw < 1 ||
	    stride < 1 || pad < 0)
		return xf_errf(err, "conv %dx%d stride %d pad %d on %dx%dx%d: "
		    "bad dimension", kh, kw, stride, pad, c, h, w);
	d->n = n;
	d->c = c;
	d->h = h;
	d->w = w;
	d->oc = oc;
	d->kh = kh;
	d->kw = kw;
	d->stride = stride;
	d->pad = pad;
	d->oh = (h + 2 * pad - kh) / stride + 1;
	d->ow = (w + 2 * pad - kw) / stride + 1;
	if (h + 2 * pad < kh || w + 2 * pad < kw)
		return xf_errf(err, "conv %dx%d pad %d on %dx%d: empty output",
		    kh, kw, pad, h, w);
	return 0;
}

/* A 1x1 stride-1 unpadded conv reads its input as the column matrix. */
static int
conv_is_pointwise(const struct xf_conv2d_dims *d)
{
	return d->kh == 1 && d->kw == 1 && d->stride == 1 && d->pad == 0;
}

static size_t
conv_col_floats(const struct xf_conv2d_dims *d)
{
	return (size_t)d->c * d->kh * d->kw * d->oh * d->ow;
}

/* col (C*KH*KW, OH*OW) from one image (C, H, W). */
static void
im2col(float *col, const float *img, const struct xf_conv2d_dims *d)
{
	int ohw = d->oh * d->ow;

	for (int c = 0; c < d->c; c++)
		for (int kh = 0; kh < d->kh; kh++)
			for (int kw = 0; kw < d->kw; kw++) {
				float *row = col + (size_t)((c * d->kh + kh) *
				    d->kw + kw) * ohw;
				const float *plane = img + (size_t)c * d->h * d->w;

				for (int oh = 0; oh < d->oh; oh++) {
					int ih = oh * d->stride - d->pad + kh;
					float *dst = row + oh * d->ow;

					if (ih < 0 || ih >= d->h) {
						memset(dst, 0, d->ow * sizeof *dst);
						continue;
					}
					const float *src = plane + ih * d->w;
					if (d->stride == 1) {
						/* Valid ow: 0 <= ow - pad + kw < W. */
						int lo = d->pad - kw, hi = d->w + d->pad - kw;

						if (lo < 0)
							lo = 0;
						if (hi > d->ow)
							hi = d->ow;
						if (hi < lo)
							hi = lo;
						for (int ow = 0; ow < lo; ow++)
							dst[ow] = 0;
						memcpy(dst + lo, src + lo - d->pad + kw,
						    (hi - lo) * sizeof *dst);
						for (int ow = hi; ow < d->ow; ow++)
							dst[ow] = 0;
						continue;
					}
					for (int ow = 0; ow < d->ow; ow++) {
						int iw = ow * d->stride - d->pad + kw;

						dst[ow] = iw >= 0 && iw < d->w ?
						    src[iw] : 0.0f;
					}
				}
			}
}

/* img (C, H, W) += col2im(col), the adjoint of im2col. */
static void
col2im(float *img, const float *col, const struct xf_conv2d_dims *d)
{
	int ohw = d->oh * d->ow;

	for (int c = 0; c < d->c; c++)
		for (int kh = 0; kh < d->kh; kh++)
			for (int kw = 0; kw < d->kw; kw++) {
				const float *row = col + (size_t)((c * d->kh + kh) *
				    d->kw + kw) * ohw;
				float *plane = img + (size_t)c * d->h * d->w;

				for (int oh = 0; oh < d->oh; oh++) {
					int ih = oh * d->stride - d->pad + kh;
					const float *src = row + oh * d->ow;

					if (ih < 0 || ih >= d->h)
						continue;
					float *dst = plane + ih * d->w;
					if (d->stride == 1) {
						int lo = d->pad - kw, hi = d->w + d->pad - kw;

						if (lo < 0)
							lo = 0;
						if (hi > d->ow)
							hi = d->ow;
						dst += kw - d->pad;
						for (int ow = lo; ow < hi; ow++)
							dst[ow] += src[ow];
						continue;
					}
					for (int ow = 0; ow < d->ow; ow++) {
						int iw = ow * d->stride - d->pad + kw;

						if (iw >= 0 && iw < d->w)
							dst[iw] += src[ow];
					}
				}
			}
}

/* out (rows, len) += bias per row, then max(0, .) when relu. */
static void
bias_relu(float *out, const float *b, int rows, int len, int relu)
{
	for (int r = 0; r < rows; r++) {
		float *o = out + (size_t)r * len;
		float bias = b != NULL ? b[r] : 0.0f;

		if (relu)
			for (int i = 0; i < len; i++) {
				float v = o[i] + bias;

				o[i] = v > 0.0f ? v : 0.0f;
			}
		else if (b != NULL)
			for (int i = 0; i < len; i++)
				o[i] += bias;
	}
}

size_t
xf_conv2d_scratch(const struct xf_conv2d_dims *d)
{
	size_t wsize = (size_t)d->oc * d->c * d->kh * d->kw;
	size_t gemm_path = (size_t)xf_nn_threads() * conv_col_floats(d) +
	    XF_NN_PARTS * (wsize + d->oc);

	if (!nn_conv_is_direct(d))
		return gemm_path;
	return nn_direct_scratch(d);
}

struct conv_fwd_args {
	float *out;		/* (N, OC, OH, OW) */
	float *scratch;		/* per thread: col (C KH KW, OH OW) */
	const float *in;	/* (N, C, H, W) */
	const float *w;		/* (OC, C, KH, KW) */
	const float *b;		/* (OC) or NULL */
	int relu;
	const struct xf_conv2d_dims *d;
};

static void
conv_forward_job(void *arg, int tid, int nt)
{
	struct conv_fwd_args *j = arg;
	const struct xf_conv2d_dims *d = j->d;
	size_t in_img = (size_t)d->c * d->h * d->w;
	size_t out_img = (size_t)d->oc * d->oh * d->ow;
	int ohw = d->oh * d->ow, kk = d->c * d->kh * d->kw;
	float *col = j->scratch + tid * conv_col_floats(d);
	int p0, p1, i0, i1;

	/* The images of this thread's parts; no reduction, so any split works. */
	parts_of(tid, nt, &p0, &p1);
	i0 = (int)((long)p0 * d->n / XF_NN_PARTS);
	i1 = (int)((long)p1 * d->n / XF_NN_PARTS);
	for (int i = i0; i < i1; i++) {
		const float *img = j->in + i * in_img;
		float *out = j->out + i * out_img;

		if (!conv_is_pointwise(d)) {
			im2col(col, img, d);
			img = col;
		}
		nn_gemm(0, 0, d->oc, ohw, kk, j->w, kk, img, ohw, 0.0f, out, ohw);
		bias_relu(out, j->b, d->oc, ohw, j->relu);
	}
}

void
xf_conv2d_forward(float *out /* (N, OC, OH, OW) */, float *scratch,
    const float *in /* (N, C, H, W) */, const float *w /* (OC, C, KH, KW) */,
    const float *b /* (OC) */, int relu, const struct xf_conv2d_dims *d)
{
	struct conv_fwd_args j = { .out = out, .scratch = scratch, .in = in, .w = w,
	    .b = b, .relu = relu, .d = d };

	if (nn_conv_is_direct(d)) {
		nn_direct_forward(out, scratch, in, w, b, relu, d);
		return;
	}
	xf_nn_run(conv_forward_job, &j);
}

struct conv_bwd_args {
	float *din;		/* (N, C, H, W) or NULL */
	float *dw;		/* (OC, C, KH, KW) or NULL */
	float *db;		/* (OC) or NULL */
	float *scratch;		/* per thread col, then per part dw and db */
	const float *dout;	/* (N, OC, OH, OW) */
	const float *in;	/* (N, C, H, W) */
	const float *w;		/* (OC, C, KH, KW) */
	const struct xf_conv2d_dims *d;
};

/*
 * Backward per part: the part's images add into the part's own slice of
 * partial weight and bias gradients; the input gradient of an image is
 * W^T dout scattered back by col2im.
 */
static void
conv_backward_job(void *arg, int tid, int nt)
{
	struct conv_bwd_args *j = arg;
	const struct xf_conv2d_dims *d = j->d;
	size_t in_img = (size_t)d->c * d->h * d->w;
	size_t out_img = (size_t)d->oc * d->oh * d->ow;
	size_t wsize = (size_t)d->oc * d->c * d->kh * d->kw;
	int ohw = d->oh * d->ow, kk = d->c * d->kh * d->kw;
	float *col = j->scratch + tid * conv_col_floats(d);
	float *partials = j->scratch + xf_nn_threads() * conv_col_floats(d);
	int p0, p1;

	parts_of(tid, nt, &p0, &p1);
	for (int p = p0; p < p1; p++) {
		float *pdw = partials + p * (wsize + d->oc);
		float *pdb = pdw + wsize;
		int i0, i1;

		memset(pdw, 0, (wsize + d->oc) * sizeof *pdw);
		part_range(p, d->n, &i0, &i1);
		for (int i = i0; i < i1; i++) {
			const float *img = j->in + i * in_img;
			const float *dout = j->dout + i * out_img;

			if (j->dw != NULL) {
				if (!conv_is_pointwise(d)) {
					im2col(col, img, d);
					img = col;
				}
				nn_gemm(0, 1, d->oc, kk, ohw, dout, ohw, img, ohw,
				    1.0f, pdw, kk);
			}
			if (j->db != NULL)
				for (int o = 0; o < d->oc; o++) {
					const float *r = dout + (size_t)o * ohw;
					float s = 0.0f;

					for (int q = 0; q < ohw; q++)
						s += r[q];
					pdb[o] += s;
				}
			if (j->din == NULL)
				continue;
			float *din = j->din + i * in_img;
			if (conv_is_pointwise(d)) {
				nn_gemm(1, 0, kk, ohw, d->oc, j->w, kk, dout, ohw,
				    0.0f, din, ohw);
				continue;
			}
			nn_gemm(1, 0, kk, ohw, d->oc, j->w, kk, dout, ohw, 0.0f,
			    col, ohw);
			memset(din, 0, in_img * sizeof *din);
			col2im(din, col, d);
		}
	}
}

/* dw and db += the partials in part order, split over the pool by element. */
static void
conv_reduce_job(void *arg, int tid, int nt)
{
	struct conv_bwd_args *j = arg;
	const struct xf_conv2d_dims *d = j->d;
	size_t wsize = (size_t)d->oc * d->c * d->kh * d->kw;
	size_t total = wsize + d->oc;
	size_t e0 = total * tid / nt, e1 = total * (tid + 1) / nt;
	const float *partials = j->scratch + xf_nn_threads() * conv_col_floats(d);

	for (size_t e = e0; e < e1; e++) {
		float *g = e < wsize ? j->dw + e : j->db + (e - wsize);
		float s = 0.0f;

		if ((e < wsize && j->dw == NULL) || (e >= wsize && j->db == NULL))
			continue;
		for (int p = 0; p < XF_NN_PARTS; p++)
			s += partials[p * total + e];
		*g += s;
	}
}

void
xf_conv2d_backward(float *din /* (N, C, H, W) */,
    float *dw /* (OC, C, KH, KW) */, float *db /* (OC) */, float *scratch,
    const float *dout /* (N, OC, OH, OW) */, const float *in /* (N, C, H, W) */,
    const float *w /* (OC, C, KH, KW) */, const struct xf_conv2d_dims *d)
{
	struct conv_bwd_args j = { .din = din, .dw = dw, .db = db,
	    .scratch = scratch, .in = in, .dout = dout, .w = w, .d = d };

	if (nn_conv_is_direct(d)) {
		nn_direct_backward(din, dw, db, scratch, dout, in, w, d);
		return;
	}
	xf_nn_run(conv_backward_job, &j);
	if (dw != NULL || db != NULL)
		xf_nn_run(conv_reduce_job, &j);
}

void
xf_conv2d_forward_ref(float *out /* (N, OC, OH, OW) */,
    const float *in /* (N, C, H, W) */, const float *w /* (OC, C, KH, KW) */,
    const float *b /* (OC) */, int relu, const struct xf_conv2d_dims *d)
{
	for (int n = 0; n < d->n; n++)
		for (int o = 0; o < d->oc; o++)
			for (int oh = 0; oh < d->oh; oh++)
				for (int ow = 0; ow < d->ow; ow++) {
					double s = b != NULL ? b[o] : 0.0;

					for (int c = 0; c < d->c; c++)
						for (int kh = 0; kh < d->kh; kh++)
							for (int kw = 0; kw < d->kw; kw++) {
								int ih = oh * d->stride - d->pad + kh;
								int iw = ow * d->stride - d->pad + kw;

								if (ih < 0 || ih >= d->h || iw < 0 ||
								    iw >= d->w)
									continue;
								s += (double)w[((o * d->c + c) *
								    d->kh + kh) * d->kw + kw] *
								    in[((size_t)(n * d->c + c) *
								    d->h + ih) * d->w + iw];
							}
					if (relu && s < 0.0)
						s = 0.0;
					out[((size_t)(n * d->oc + o) * d->oh + oh) *
					    d->ow + ow] = (float)s;
				}
}

void
xf_conv2d_backward_ref(float *din /* (N, C, H, W) */,
    float *dw /* (OC, C, KH, KW) */, float *db /* (OC) */,
    const float *dout /* (N, OC, OH, OW) */, const float *in /* (N, C, H, W) */,
    const float *w /* (OC, C, KH, KW) */, const struct xf_conv2d_dims *d)
{
	if (din != NULL)
		memset(din, 0, (size_t)d->n * d->c * d->h * d->w * sizeof *din);
	for (int n = 0; n < d->n; n++)
		for (int o = 0; o < d->oc; o++)
			for (int oh = 0; oh < d->oh; oh++)
				for (int ow = 0; ow < d->ow; ow++) {
					float g = dout[((size_t)(n * d->oc + o) *
					    d->oh + oh) * d->ow + ow];

					if (db != NULL)
						db[o] += g;
					for (int c = 0; c < d->c; c++)
						for (int kh = 0; kh < d->kh; kh++)
							for (int kw = 0; kw < d->kw; kw++) {
								int ih = oh * d->stride - d->pad + kh;
								int iw = ow * d->stride - d->pad + kw;
								size_t wi = ((size_t)(o * d->c + c) *
								    d->kh + kh) * d->kw + kw;
								size_t ii = ((size_t)(n * d->c + c) *
								    d->h + ih) * d->w + iw;

								if (ih < 0 || ih >= d->h || iw < 0 ||
								    iw >= d->w)
									continue;
								if (dw != NULL)
									dw[wi] += g * in[ii];
								if (din != NULL)
									din[ii] += g * w[wi];
							}
				}
}

