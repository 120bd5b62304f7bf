/*
 * resid.c: the layers residual networks add to the engine: the shortcut's
 * add (with its ReLU), the global average pool, and the KxK max pool with
 * stride and padding of torchvision's stem.  Each fast kernel splits its
 * work over the pool's threads by whole rows or planes, so every output
 * element is computed by one thread in one order: the bytes do not depend
 * on the thread count.  The _ref twins are the plain loops the tests
 * compare against.
 */
#include <float.h>
#include <string.h>

#include "nn.h"

struct add_job {
	float *out;		/* (count) */
	const float *a, *b;	/* (count) */
	int relu;
	size_t count;
};

static void
add_part(void *arg, int tid, int nt)
{
	struct add_job *j = arg;
	size_t i0, i1;

	xf_nn_split(j->count, tid, nt, &i0, &i1);
	if (j->relu)
		for (size_t i = i0; i < i1; i++) {
			float v = j->a[i] + j->b[i];

			j->out[i] = v > 0.0f ? v : 0.0f;
		}
	else
		for (size_t i = i0; i < i1; i++)
			j->out[i] = j->a[i] + j->b[i];
}

void
xf_add_forward(float *out, const float *a, const float *b, int relu,
    size_t count)
{
	struct add_job j = { out, a, b, relu, count };

	xf_nn_run(add_part, &j);
}

void
xf_add_forward_ref(float *out, const float *a, const float *b, int relu,
    size_t count)
{
	for (size_t i = 0; i < count; i++) {
		float v = a[i] + b[i];

		out[i] = relu && !(v > 0.0f) ? 0.0f : v;
	}
}

/* Thread tid's share [*r0, *r1) of rows rows, in whole rows. */
static void
rows_of(size_t rows, int tid, int nt, size_t *r0, size_t *r1)
{
	*r0 = rows * (size_t)tid / (size_t)nt;
	*r1 = rows * (size_t)(tid + 1) / (size_t)nt;
}

struct gap_job {
	float *out;		/* forward (N, C); backward din (N, C, HW) */
	const float *in;	/* forward (N, C, HW); backward dout (N, C) */
	size_t planes;		/* N * C */
	int hw;
	int backward;
};

static void
gap_part(void *arg, int tid, int nt)
{
	struct gap_job *j = arg;
	size_t r0, r1;

	rows_of(j->planes, tid, nt, &r0, &r1);
	for (size_t r = r0; r < r1; r++) {
		if (j->backward) {
			float g = j->in[r] / (float)j->hw;
			float *d = j->out + r * j->hw;

			for (int i = 0; i < j->hw; i++)
				d[i] = g;
		} else {
			const float *x = j->in + r * j->hw;
			double s = 0.0;

			for (int i = 0; i < j->hw; i++)
				s += x[i];
			j->out[r] = (float)(s / j->hw);
		}
	}
}

void
xf_avgpool_global_forward(float *out, const float *in, int n, int c, int hw)
{
	struct gap_job j = { out, in, (size_t)n * c, hw, 0 };

	xf_nn_run(gap_part, &j);
}

void
xf_avgpool_global_backward(float *din, const float *dout, int n, int c,
    int hw)
{
	struct gap_job j = { din, dout, (size_t)n * c, hw, 1 };

	xf_nn_run(gap_part, &j);
}

void
xf_avgpool_global_forward_ref(float *out, const float *in, int n, int c,
    int hw)
{
	for (size_t r = 0; r < (size_t)n * c; r++) {
		double s = 0.0;

		for (int i = 0; i < hw; i++)
			s += in[r * hw + i];
		out[r] = (float)(s / hw);
	}
}

void
xf_avgpool_global_backward_ref(float *din, const float *dout, int n, int c,
    int hw)
{
	for (size_t r = 0; r < (size_t)n * c; r++)
		for (int i = 0; i < hw; i++)
			din[r * hw + i] = dout[r] / (float)hw;
}

struct pool_job {
	float *out;		/* forward (N, C, OH, OW); backward din */
	const float *dout;	/* backward only */
	const float *in;	/* (N, C, H, W) */
	size_t planes;
	int h, w, k, s, p, oh, ow;
	int backward;
};

/* The offset in its plane of the first maximum of output (y, x)'s window;
 * the window always holds at least one input (p <= k / 2).  rop.c gathers
 * the R-op's max pool through it too. */
int
nn_window_max(const float *x, int h, int w, int k, int s, int p, int y, int xo)
{
	int best = -1;
	float m = 0.0f;		/* set by the first input of the window */

	for (int dy = 0; dy < k; dy++) {
		int iy = y * s - p + dy;

		if (iy < 0 || iy >= h)
			continue;
		for (int dx = 0; dx < k; dx++) {
			int ix = xo * s - p + dx;

			if (ix < 0 || ix >= w)
				continue;
			if (best < 0 || x[iy * w + ix] > m) {
				best = iy * w + ix;
				m = x[best];
			}
		}
	}
	return best;
}

static void
pool_plane(const struct pool_job *j, size_t r)
{
	const float *x = j->in + r * j->h * j->w;

	if (j->backward) {
		const float *g = j->dout + r * j->oh * j->ow;
		float *d = j->out + r * j->h * j->w;

		memset(d, 0, (size_t)j->h * j->w * sizeof *d);
		for (int y = 0; y < j->oh; y++)
			for (int xo = 0; xo < j->ow; xo++)
				d[nn_window_max(x, j->h, j->w, j->k, j->s, j->p, y,
				    xo)] += g[y * j->ow + xo];
		return;
	}
	float *o = j->out + r * j->oh * j->ow;

	for (int y = 0; y < j->oh; y++)
		for (int xo = 0; xo < j->ow; xo++)
			o[y * j->ow + xo] = x[nn_window_max(x, j->h, j->w, j->k,
			    j->s, j->p, y, xo)];
}

static void
pool_part(void *arg, int tid, int nt)
{
	struct pool_job *j = arg;
	size_t r0, r1;

	rows_of(j->planes, tid, nt, &r0, &r1);
	for (size_t r = r0; r < r1; r++)
		pool_plane(j, r);
}

static void
pool_run(struct pool_job *j)
{
	j->oh = (j->h + 2 * j->p - j->k) / j->s + 1;
	j->ow = (j->w + 2 * j->p - j->k) / j->s + 1;
	xf_nn_run(pool_part, j);
}

void
xf_maxpool2d_forward(float *out, const float *in, int n, int c, int h, int w,
    int k, int s, int p)
{
	struct pool_job j = { .out = out, .in = in, .planes = (size_t)n * c,
	    .h = h, .w = w, .k = k, .s = s, .p = p };

	pool_run(&j);
}

void
xf_maxpool2d_backward(float *din, const float *dout, const float *in, int n,
    int c, int h, int w, int k, int s, int p)
{
	struct pool_job j = { .out = din, .dout = dout, .in = in,
	    .planes = (size_t)n * c, .h = h, .w = w, .k = k, .s = s, .p = p,
	    .backward = 1 };

	pool_run(&j);
}

void
xf_maxpool2d_forward_ref(float *out, const float *in, int n, int c, int h,
    int w, int k, int s, int p)
{
	int oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;

	for (size_t r = 0; r < (size_t)n * c; r++)
		for (int y = 0; y < oh; y++)
			for (int x = 0; x < ow; x++) {
				float m = -FLT_MAX;

				for (int dy = 0; dy < k; dy++)
					for (int dx = 0; dx < k; dx++) {
						int iy = y * s - p + dy;
						int ix = x * s - p + dx;

						if (iy >= 0 && iy < h && ix >= 0 &&
						    ix < w && in[(r * h + iy) * w +
						    ix] > m)
							m = in[(r * h + iy) * w + ix];
					}
				out[(r * oh + y) * ow + x] = m;
			}
}

void
xf_maxpool2d_backward_ref(float *din, const float *dout, const float *in,
    int n, int c, int h, int w, int k, int s, int p)
{
	int oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;

	memset(din, 0, (size_t)n * c * h * w * sizeof *din);
	for (size_t r = 0; r < (size_t)n * c; r++)
		for (int y = 0; y < oh; y++)
			for (int x = 0; x < ow; x++) {
				int best = -1;

				for (int dy = 0; dy < k; dy++)
					for (int dx = 0; dx < k; dx++) {
						int iy = y * s - p + dy;
						int ix = x * s - p + dx;

						if (iy < 0 || iy >= h || ix < 0 ||
						    ix >= w)
							continue;
						if (best < 0 || in[(r * h + iy) *
						    w + ix] > in[r * h * w + best])
							best = iy * w + ix;
					}
				din[r * h * w + best] += dout[(r * oh + y) *
				    ow + x];
			}
}
