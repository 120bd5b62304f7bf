/*
 * linear.c: the linear layer (BLIS sgemm across the pool, AVX-512 row
 * loops for bias, ReLU and bias gradient) and softmax cross-entropy, with
 * their naive _ref twins.
 */
#include <math.h>

#include "nn_impl.h"

/*
 * The linear layer's row loops on AVX-512, the same bytes as the plain
 * ones: lanes run over features, so each feature's sum keeps its order.
 */
__attribute__((target("avx512f")))
static void
linear_bias_relu_avx512(float *out, const float *b, int relu, int n,
    int out_f)
{
	for (int i = 0; i < n; i++)
		for (int k = 0; k < out_f; k += 16) {
			__mmask16 m = mask_first(out_f - k);
			float *o = out + (size_t)i * out_f + k;
			__m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, o),
			    b != NULL ? _mm512_maskz_loadu_ps(m, b + k) :
			    _mm512_setzero_ps());

			if (relu)
				v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v,
				    _mm512_setzero_ps(), _CMP_LT_OQ),
				    _mm512_setzero_ps());
			_mm512_mask_storeu_ps(o, m, v);
		}
}

/* db (OUT) += column sums of dout (N, OUT), each in row order. */
__attribute__((target("avx512f")))
static void
linear_db_avx512(float *db, const float *dout, int n, int out_f)
{
	for (int k = 0; k < out_f; k += 16) {
		__mmask16 m = mask_first(out_f - k);
		__m512 s = _mm512_setzero_ps();

		for (int i = 0; i < n; i++)
			s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(m,
			    dout + (size_t)i * out_f + k));
		_mm512_mask_storeu_ps(db + k, m, _mm512_add_ps(
		    _mm512_maskz_loadu_ps(m, db + k), s));
	}
}

void
xf_linear_forward(float *out /* (N, OUT) */, const float *in /* (N, IN) */,
    const float *w /* (OUT, IN) */, const float *b /* (OUT) */, int relu, int n,
    int in_f, int out_f)
{
	nn_pgemm(0, 1, n, out_f, in_f, in, in_f, w, in_f, 0.0f, out, out_f);
	if (nn_avx512()) {
		linear_bias_relu_avx512(out, b, relu, n, out_f);
		return;
	}
	for (int i = 0; i < n; i++) {
		float *o = out + (size_t)i * out_f;

		for (int k = 0; k < out_f; k++) {
			float v = o[k] + (b != NULL ? b[k] : 0.0f);

			o[k] = relu && v < 0.0f ? 0.0f : v;
		}
	}
}

void
xf_linear_backward(float *din /* (N, IN) */, float *dw /* (OUT, IN) */,
    float *db /* (OUT) */, const float *dout /* (N, OUT) */,
    const float *in /* (N, IN) */, const float *w /* (OUT, IN) */, int n,
    int in_f, int out_f)
{
	if (dw != NULL)
		nn_pgemm(1, 0, out_f, in_f, n, dout, out_f, in, in_f, 1.0f, dw,
		    in_f);
	if (db != NULL && nn_avx512())
		linear_db_avx512(db, dout, n, out_f);
	else if (db != NULL)
		for (int k = 0; k < out_f; k++) {
			float s = 0.0f;

			for (int i = 0; i < n; i++)
				s += dout[(size_t)i * out_f + k];
			db[k] += s;
		}
	if (din != NULL)
		nn_pgemm(0, 0, n, in_f, out_f, dout, out_f, w, in_f, 0.0f, din,
		    in_f);
}

void
xf_linear_forward_ref(float *out /* (N, OUT) */, const float *in /* (N, IN) */,
    const float *w /* (OUT, IN) */, const float *b /* (OUT) */, int relu, int n,
    int in_f, int out_f)
{
	for (int i = 0; i < n; i++)
		for (int k = 0; k < out_f; k++) {
			double s = b != NULL ? b[k] : 0.0;

			for (int j = 0; j < in_f; j++)
				s += (double)in[(size_t)i * in_f + j] *
				    w[(size_t)k * in_f + j];
			out[(size_t)i * out_f + k] = relu && s < 0.0 ? 0.0f :
			    (float)s;
		}
}

void
xf_linear_backward_ref(float *din /* (N, IN) */, float *dw /* (OUT, IN) */,
    float *db /* (OUT) */, const float *dout /* (N, OUT) */,
    const float *in /* (N, IN) */, const float *w /* (OUT, IN) */, int n,
    int in_f, int out_f)
{
	for (int k = 0; k < out_f; k++) {
		double sb = 0.0;

		for (int i = 0; i < n; i++)
			sb += dout[(size_t)i * out_f + k];
		if (db != NULL)
			db[k] += (float)sb;
		if (dw != NULL)
			for (int j = 0; j < in_f; j++) {
				double s = 0.0;

				for (int i = 0; i < n; i++)
					s += (double)dout[(size_t)i * out_f + k] *
					    in[(size_t)i * in_f + j];
				dw[(size_t)k * in_f + j] += (float)s;
			}
	}
	if (din != NULL)
		for (int i = 0; i < n; i++)
			for (int j = 0; j < in_f; j++) {
				double s = 0.0;

				for (int k = 0; k < out_f; k++)
					s += (double)dout[(size_t)i * out_f + k] *
					    w[(size_t)k * in_f + j];
				din[(size_t)i * in_f + j] = (float)s;
			}
}

/*
 * Softmax cross-entropy
 */
float
xf_softmax_xent_forward(float *probs /* (N, K) */, float *losses /* (N) */,
    const float *logits /* (N, K) */, const int *labels /* (N) */, int n, int k)
{
	double total = 0.0;

	for (int i = 0; i < n; i++) {
		const float *z = logits + (size_t)i * k;
		float *p = probs + (size_t)i * k;
		float max = z[0], sum = 0.0f;

		for (int j = 1; j < k; j++)
			if (z[j] > max)
				max = z[j];
		for (int j = 0; j < k; j++) {
			p[j] = expf(z[j] - max);
			sum += p[j];
		}
		for (int j = 0; j < k; j++)
			p[j] /= sum;
		/* log-sum-exp form: exact even when the probability
		 * underflows. */
		losses[i] = logf(sum) - (z[labels[i]] - max);
		total += losses[i];
	}
	return n > 0 ? (float)(total / n) : 0.0f;
}

void
xf_softmax_xent_backward(float *dlogits /* (N, K) */,
    const float *probs /* (N, K) */, const int *labels /* (N) */, int n, int k)
{
	float inv = 1.0f / (float)n;

	for (int i = 0; i < n; i++) {
		for (int j = 0; j < k; j++)
			dlogits[(size_t)i * k + j] = probs[(size_t)i * k + j] *
			    inv;
		dlogits[(size_t)i * k + labels[i]] -= inv;
	}
}

void
xf_softmax_xent_backward_ref(float *dlogits /* (N, K) */,
    const float *probs /* (N, K) */, const int *labels /* (N) */, int n, int k)
{
	for (int i = 0; i < n; i++)
		for (int j = 0; j < k; j++)
			dlogits[(size_t)i * k + j] = (float)(((double)probs[(size_t)i *
			    k + j] - (j == labels[i] ? 1.0 : 0.0)) / n);
}

float
xf_softmax_xent_forward_ref(float *probs /* (N, K) */,
    float *losses /* (N) */, const float *logits /* (N, K) */,
    const int *labels /* (N) */, int n, int k)
{
	double total = 0.0;

	for (int i = 0; i < n; i++) {
		double max = -INFINITY, sum = 0.0;

		for (int j = 0; j < k; j++)
			if (logits[(size_t)i * k + j] > max)
				max = logits[(size_t)i * k + j];
		for (int j = 0; j < k; j++)
			sum += exp(logits[(size_t)i * k + j] - max);
		for (int j = 0; j < k; j++)
			probs[(size_t)i * k + j] = (float)(exp(logits[(size_t)i *
			    k + j] - max) / sum);
		losses[i] = (float)(log(sum) + max - logits[(size_t)i * k +
		    labels[i]]);
		total += losses[i];
	}
	return n > 0 ? (float)(total / n) : 0.0f;
}
