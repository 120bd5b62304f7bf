/*
 * conv_direct.c: the direct convolution, which conv.c takes for stride-1
 * convolutions with padding below the kernel size on the AVX-512 and AVX2
 * paths (nn.h, "Instruction sets").
 *
 * Direct convolution (stride 1, pad < kernel size): no im2col.
 * The image is copied once into a zero-padded buffer of rows Wp = W + 2 pw
 * wide.  Output pixels are indexed on that padded grid, p = oh Wp + ow, so
 * for a fixed tap (c, kh, kw) the inputs of 32 consecutive p are 32
 * consecutive floats of the padded buffer at c Hp Wp + kh Wp + kw + p: the
 * micro-kernel reads its B operand straight from the image.  The KW - 1
 * columns of each padded row past OW are computed and dropped.
 *
 * The input gradient of a stride-1 conv is the same kind of conv of dout
 * with the weights flipped and C and OC swapped, padded by K - 1 - pad.
 * The weight gradient is a GEMM dw^T (C KH KW, OC) += X (C KH KW, P) dout^T
 * (P, OC) over the real output pixels P, whose row (c, kh, kw) of X is
 * again the padded image read at an offset, row by row.
 *
 * Both paths share the layouts, the tiles and the split over threads; only
 * the micro-kernels differ.  AVX-512 holds a whole 8 x 32 block in its 32
 * registers and stores a tile's real pixels with compressed stores.  AVX2
 * has 16 registers of 8 floats: it computes the forward block in pieces of
 * 6 output rows by 16 pixels (12 accumulators, two loads and six
 * broadcasts a step) and 2 rows by 32 and copies a piece's real pixels out of a row buffer
 * by its mask; the weight gradient's block in the same pieces.
 */
#include <string.h>

#include "nn_impl.h"

#define DC_TAPS 64	/* most taps (KH KW) the direct path takes */
#define DC_CHUNK 256	/* output pixels per weight-gradient pass, for L1 */

/* A stride-1 conv on a padded grid. */
struct dconv {
	int cin, h, w;		/* input (Cin, H, W) */
	int cout, kh, kw;	/* weights packed (Cout/8, Cin, KH KW, 8) */
	int ph, pw;		/* padding */
	int hp, wp;		/* padded input */
	int oh, ow;		/* output (Cout, OH, OW) */
};

static void
dconv_make(struct dconv *g, int cin, int h, int w, int cout, int kh, int kw,
    int ph, int pw)
{
	g->cin = cin;
	g->h = h;
	g->w = w;
	g->cout = cout;
	g->kh = kh;
	g->kw = kw;
	g->ph = ph;
	g->pw = pw;
	g->hp = h + 2 * ph;
	g->wp = w + 2 * pw;
	g->oh = g->hp - kh + 1;
	g->ow = g->wp - kw + 1;
}

/* Floats of a padded image buffer; the tail lets the last 32-pixel tile
 * of the last channel read past the grid. */
static size_t
dconv_padded_floats(const struct dconv *g)
{
	return (size_t)g->cin * g->hp * g->wp + g->kw + 32;
}

static int
round_up(int x, int to)
{
	return (x + to - 1) / to * to;
}

int
nn_conv_is_direct(const struct xf_conv2d_dims *d)
{
	return (nn_avx512() || nn_avx2()) && d->stride == 1 && d->pad < d->kh &&
	    d->pad < d->kw && d->kh * d->kw <= DC_TAPS;
}

/* The two grids of a direct conv: forward, and input gradient. */
static void
direct_grids(struct dconv *fwd, struct dconv *bwd,
    const struct xf_conv2d_dims *d)
{
	dconv_make(fwd, d->c, d->h, d->w, d->oc, d->kh, d->kw, d->pad, d->pad);
	dconv_make(bwd, d->oc, d->oh, d->ow, d->c, d->kh, d->kw,
	    d->kh - 1 - d->pad, d->kw - 1 - d->pad);
}

/* Scratch layout of the direct path, in floats. */
struct direct_scratch {
	size_t pin, pdout, doutt;	/* per thread */
	size_t per_thread;
	size_t wpk, wflip;		/* shared packed weights */
	size_t partial;			/* per part: dw^T (K8, OC32), db (OC) */
	size_t total;
};

static void
direct_layout(struct direct_scratch *s, const struct xf_conv2d_dims *d)
{
	struct dconv f, b;
	int k = d->c * d->kh * d->kw;

	direct_grids(&f, &b, d);
	s->pin = dconv_padded_floats(&f);
	s->pdout = dconv_padded_floats(&b);
	s->doutt = (size_t)d->oh * d->ow * round_up(d->oc, 32);
	s->per_thread = s->pin + s->pdout + s->doutt;
	s->wpk = (size_t)round_up(d->oc, 8) * k;
	s->wflip = (size_t)round_up(d->c, 8) * d->oc * d->kh * d->kw;
	s->partial = (size_t)round_up(k, 8) * round_up(d->oc, 32) + d->oc;
	s->total = xf_nn_threads() * s->per_thread + s->wpk + s->wflip +
	    XF_NN_PARTS * s->partial;
}

/*
 * Packs w (Cout, Cin, KH, KW) as (Cout/8, Cin, KH KW, 8), Cout padded with
 * zeros; flip reads w as (Cin, Cout, KH, KW) of the forward conv, turned
 * 180 degrees, which is the input-gradient conv's weight.
 */
static void
dconv_pack_weights(float *pk, const float *w, int cout, int cin, int taps,
    int flip)
{
	for (int ob = 0; ob < cout; ob += 8)
		for (int c = 0; c < cin; c++)
			for (int t = 0; t < taps; t++)
				for (int i = 0; i < 8; i++) {
					int o = ob + i;
					float v = 0.0f;

					if (o < cout)
						v = flip ? w[((size_t)c * cout + o) *
						    taps + taps - 1 - t] :
						    w[((size_t)o * cin + c) * taps + t];
					*pk++ = v;
				}
}

/* The interior of the padded buffer from img (Cin, H, W); the border
 * stays as it was (zero). */
__attribute__((target("avx512f")))
static void
dconv_pad_avx512(float *pimg, const float *img, const struct dconv *g)
{
	for (int c = 0; c < g->cin; c++)
		for (int y = 0; y < g->h; y++) {
			float *dst = pimg + ((size_t)c * g->hp + y + g->ph) *
			    g->wp + g->pw;
			const float *src = img + ((size_t)c * g->h + y) * g->w;

			for (int x = 0; x < g->w; x += 16) {
				__mmask16 k = mask_first(g->w - x);

				_mm512_mask_storeu_ps(dst + x, k,
				    _mm512_maskz_loadu_ps(k, src + x));
			}
		}
}

static void
dconv_pad(float *pimg, const float *img, const struct dconv *g)
{
	if (nn_avx512()) {
		dconv_pad_avx512(pimg, img, g);
		return;
	}
	for (int c = 0; c < g->cin; c++)
		for (int y = 0; y < g->h; y++)
			memcpy(pimg + ((size_t)c * g->hp + y + g->ph) * g->wp +
			    g->pw, img + ((size_t)c * g->h + y) * g->w,
			    (size_t)g->w * sizeof *img);
}

/*
 * Where a 32-pixel tile of the grid lands in the output: the real output
 * pixels among lanes 0-15 (m0) and 16-31 (m1), and the output index of the
 * first.  Dropping the grid's extra columns leaves the real pixels of a
 * tile consecutive in the output, so each row of the tile is two
 * compressed stores.
 */
struct dconv_tile {
	__mmask16 m0, m1;
	size_t at;
};

static void
dconv_tile_of(struct dconv_tile *t, int p0, const struct dconv *g)
{
	int oh = p0 / g->wp, ow = p0 % g->wp, first = -1;

	t->m0 = t->m1 = 0;
	for (int j = 0; j < 32 && oh < g->oh; j++) {
		if (ow < g->ow) {
			if (first < 0)
				first = oh * g->ow + ow;
			if (j < 16)
				t->m0 |= (__mmask16)(1u << j);
			else
				t->m1 |= (__mmask16)(1u << (j - 16));
		}
		if (++ow == g->wp) {
			ow = 0;
			oh++;
		}
	}
	t->at = first < 0 ? 0 : (size_t)first;
}

/*
 * out rows [0, m) (ohw apart), at the tile's pixels, = wpk (Cin KH KW,
 * 8)^T x + b, then ReLU, where x row (c, t) is the 32 floats at px + c
 * plane + toff[t].
 */
__attribute__((target("avx512f")))
static void
uk_direct(float *out, size_t ohw, int m, const struct dconv_tile *tile,
    const float *b, int relu, const float *wpk, const float *px,
    const int *toff, int taps, int cin, size_t plane)
{
	__m512 acc[8][2];
	int n0 = __builtin_popcount(tile->m0);
	__mmask16 k0 = mask_first(n0);
	__mmask16 k1 = mask_first(__builtin_popcount(tile->m1));

#pragma GCC unroll 8
	for (int i = 0; i < 8; i++)
		acc[i][0] = acc[i][1] = _mm512_setzero_ps();
	for (int c = 0; c < cin; c++, px += plane)
		for (int t = 0; t < taps; t++) {
			const float *bp = px + toff[t];
			__m512 b0 = _mm512_loadu_ps(bp);
			__m512 b1 = _mm512_loadu_ps(bp + 16);

#pragma GCC unroll 8
			for (int i = 0; i < 8; i++) {
				__m512 ai = _mm512_set1_ps(wpk[i]);

				acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
				acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
			}
			wpk += 8;
		}
	out += tile->at;
#pragma GCC unroll 8
	for (int i = 0; i < 8; i++) {
		__m512 v0 = acc[i][0], v1 = acc[i][1];

		if (i >= m)
			break;
		if (b != NULL) {
			__m512 vb = _mm512_set1_ps(b[i]);

			v0 = _mm512_add_ps(v0, vb);
			v1 = _mm512_add_ps(v1, vb);
		}
		if (relu) {
			v0 = _mm512_max_ps(v0, _mm512_setzero_ps());
			v1 = _mm512_max_ps(v1, _mm512_setzero_ps());
		}
		_mm512_mask_storeu_ps(out + i * ohw, k0,
		    _mm512_maskz_compress_ps(tile->m0, v0));
		_mm512_mask_storeu_ps(out + i * ohw + n0, k1,
		    _mm512_maskz_compress_ps(tile->m1, v1));
	}
}

/*
 * The AVX2 twin of uk_direct: the same block in pieces of nch output rows
 * by nh halves of 16 pixels, 2 nh nch accumulators: 6 rows by one half,
 * twice, then 2 rows by both halves, so 12 or 8 accumulators hide the FMA
 * latency.  A half's real pixels (bits of its mask) go out through a row
 * buffer; they are consecutive in the output, a half's from dst[h].
 */
__attribute__((target("avx2,fma"), always_inline))
static inline void
uk_direct_avx2_piece(float *const dst[2], size_t ohw, int m,
    const unsigned mask[2], const float *b, int relu, const float *w,
    const float *px, const int *toff, int taps, int cin, size_t plane,
    const int nch, const int nh)
{
	__m256 acc[6][4];

#pragma GCC unroll 6
	for (int i = 0; i < nch; i++)
#pragma GCC unroll 4
		for (int v = 0; v < 2 * nh; v++)
			acc[i][v] = _mm256_setzero_ps();
	for (int c = 0; c < cin; c++, px += plane)
		for (int t = 0; t < taps; t++, w += 8) {
			const float *bp = px + toff[t];
			__m256 bv[4];

#pragma GCC unroll 4
			for (int v = 0; v < 2 * nh; v++)
				bv[v] = _mm256_loadu_ps(bp + 8 * v);
#pragma GCC unroll 6
			for (int i = 0; i < nch; i++) {
				__m256 ai = _mm256_broadcast_ss(w + i);

#pragma GCC unroll 4
				for (int v = 0; v < 2 * nh; v++)
					acc[i][v] = _mm256_fmadd_ps(ai, bv[v],
					    acc[i][v]);
			}
		}
	/* Unrolled, so acc stays in registers. */
#pragma GCC unroll 6
	for (int i = 0; i < nch; i++) {
		if (i >= m)
			break;
#pragma GCC unroll 2
		for (int h = 0; h < nh; h++) {
			__m256 v0 = acc[i][2 * h], v1 = acc[i][2 * h + 1];
			float row[16], *o = dst[h] + (size_t)i * ohw;

			if (mask[h] == 0)
				continue;
			if (b != NULL) {
				__m256 vb = _mm256_set1_ps(b[i]);

				v0 = _mm256_add_ps(v0, vb);
				v1 = _mm256_add_ps(v1, vb);
			}
			if (relu) {
				v0 = _mm256_max_ps(v0, _mm256_setzero_ps());
				v1 = _mm256_max_ps(v1, _mm256_setzero_ps());
			}
			if (mask[h] == 0xffff) {
				_mm256_storeu_ps(o, v0);
				_mm256_storeu_ps(o + 8, v1);
				continue;
			}
			_mm256_storeu_ps(row, v0);
			_mm256_storeu_ps(row + 8, v1);
			for (unsigned k = mask[h]; k != 0; k &= k - 1)
				*o++ = row[__builtin_ctz(k)];
		}
	}
}

__attribute__((target("avx2,fma")))
static void
uk_direct_avx2(float *out, size_t ohw, int m, const struct dconv_tile *tile,
    const float *b, int relu, const float *wpk, const float *px,
    const int *toff, int taps, int cin, size_t plane)
{
	unsigned mask[2] = { tile->m0, tile->m1 };
	float *dst[2] = { out + tile->at, out + tile->at +
	    __builtin_popcount(tile->m0) };

	for (int h = 0; h < 2; h++)
		if (mask[h] != 0)
			uk_direct_avx2_piece(dst + h, ohw, m, mask + h, b, relu,
			    wpk, px + 16 * h, toff, taps, cin, plane, 6, 1);
	if (m > 6) {
		float *dst6[2] = { dst[0] + 6 * ohw, dst[1] + 6 * ohw };

		uk_direct_avx2_piece(dst6, ohw, m - 6, mask, b != NULL ? b + 6 :
		    NULL, relu, wpk + 6, px, toff, taps, cin, plane, 2, 2);
	}
}

/*
 * Memory the next image will read, fetched into L2 a slice per tile while
 * this image computes: the activations come from L3 otherwise.
 */
struct prefetch {
	const float *at[2];
	size_t floats[2];
};

static void
prefetch_slice(const struct prefetch *pf, int slice, int slices)
{
	for (int r = 0; pf != NULL && r < 2; r++) {
		size_t lines = (pf->floats[r] + 15) / 16;
		size_t l0 = lines * slice / slices, l1 = lines * (slice + 1) / slices;

		for (size_t l = l0; l < l1; l++)
			__builtin_prefetch(pf->at[r] + l * 16, 0, 2);
	}
}

/* out (Cout, OH, OW) = conv(the padded image pimg, wpk) + b, ReLU. */
static void
dconv_image(float *out, const float *pimg, const float *wpk, const float *b,
    int relu, const struct dconv *g, const struct prefetch *pf)
{
	size_t plane = (size_t)g->hp * g->wp, kk = (size_t)g->cin * g->kh * g->kw;
	size_t ohw = (size_t)g->oh * g->ow;
	int taps = g->kh * g->kw, grid = g->oh * g->wp;
	int toff[DC_TAPS], avx512 = nn_avx512();
	struct dconv_tile tile;

	for (int t = 0; t < taps; t++)
		toff[t] = t / g->kw * g->wp + t % g->kw;
	for (int p0 = 0; p0 < grid; p0 += 32) {
		prefetch_slice(pf, p0 / 32, (grid + 31) / 32);
		dconv_tile_of(&tile, p0, g);
		if (tile.m0 == 0 && tile.m1 == 0)
			continue;
		for (int ob = 0; ob < g->cout; ob += 8)
			(avx512 ? uk_direct : uk_direct_avx2)(out + ob * ohw,
			    ohw, g->cout - ob < 8 ? g->cout - ob : 8, &tile,
			    b != NULL ? b + ob : NULL, relu, wpk + ob * kk,
			    pimg + p0, toff, taps, g->cin, plane);
	}
}

/*
 * c (8, 32; rows ldc apart) += sum over y < ny, x < nx of
 * rows[i][y ars + x] bt[y nx + x][j], bt rows ldb apart: a block of output
 * rows of the grid, only its real pixels.
 */
__attribute__((target("avx512f")))
static void
uk_rows(float *c, int ldc, const float *const rows[8], int ars,
    const float *bt, int ldb, int ny, int nx)
{
	const float *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = rows[3];
	const float *r4 = rows[4], *r5 = rows[5], *r6 = rows[6], *r7 = rows[7];
	__m512 acc[8][2];

#pragma GCC unroll 8
	for (int i = 0; i < 8; i++) {
		acc[i][0] = _mm512_loadu_ps(c + i * ldc);
		acc[i][1] = _mm512_loadu_ps(c + i * ldc + 16);
	}
	for (int y = 0; y < ny; y++) {
		size_t row = (size_t)y * ars;

		for (int x = 0; x < nx; x++, bt += ldb) {
			size_t p = row + x;
			__m512 b0 = _mm512_loadu_ps(bt);
			__m512 b1 = _mm512_loadu_ps(bt + 16);
			__m512 a[8] = { _mm512_set1_ps(r0[p]),
			    _mm512_set1_ps(r1[p]), _mm512_set1_ps(r2[p]),
			    _mm512_set1_ps(r3[p]), _mm512_set1_ps(r4[p]),
			    _mm512_set1_ps(r5[p]), _mm512_set1_ps(r6[p]),
			    _mm512_set1_ps(r7[p]) };

#pragma GCC unroll 8
			for (int i = 0; i < 8; i++) {
				acc[i][0] = _mm512_fmadd_ps(a[i], b0, acc[i][0]);
				acc[i][1] = _mm512_fmadd_ps(a[i], b1, acc[i][1]);
			}
		}
	}
#pragma GCC unroll 8
	for (int i = 0; i < 8; i++) {
		_mm512_storeu_ps(c + i * ldc, acc[i][0]);
		_mm512_storeu_ps(c + i * ldc + 16, acc[i][1]);
	}
}

/*
 * The AVX2 twin of uk_rows, in pieces as uk_direct_avx2's: nr rows of c by
 * nh halves of 16 columns (6 rows by one half, twice, then 2 rows by both),
 * 12 or 8 accumulators.
 */
__attribute__((target("avx2,fma"), always_inline))
static inline void
uk_rows_avx2_piece(float *c, int ldc, const float *const rows[], int ars,
    const float *bt, int ldb, int ny, int nx, const int nr, const int nh)
{
	__m256 acc[6][4];

#pragma GCC unroll 6
	for (int i = 0; i < nr; i++)
#pragma GCC unroll 4
		for (int v = 0; v < 2 * nh; v++)
			acc[i][v] = _mm256_loadu_ps(c + i * ldc + 8 * v);
	for (int y = 0; y < ny; y++) {
		size_t row = (size_t)y * ars;

		for (int x = 0; x < nx; x++, bt += ldb) {
			size_t p = row + x;
			__m256 bv[4];

#pragma GCC unroll 4
			for (int v = 0; v < 2 * nh; v++)
				bv[v] = _mm256_loadu_ps(bt + 8 * v);
#pragma GCC unroll 6
			for (int i = 0; i < nr; i++) {
				__m256 a = _mm256_broadcast_ss(rows[i] + p);

#pragma GCC unroll 4
				for (int v = 0; v < 2 * nh; v++)
					acc[i][v] = _mm256_fmadd_ps(a, bv[v],
					    acc[i][v]);
			}
		}
	}
#pragma GCC unroll 6
	for (int i = 0; i < nr; i++)
#pragma GCC unroll 4
		for (int v = 0; v < 2 * nh; v++)
			_mm256_storeu_ps(c + i * ldc + 8 * v, acc[i][v]);
}

__attribute__((target("avx2,fma")))
static void
uk_rows_avx2(float *c, int ldc, const float *const rows[8], int ars,
    const float *bt, int ldb, int ny, int nx)
{
	for (int h = 0; h < 2; h++)
		uk_rows_avx2_piece(c + 16 * h, ldc, rows, ars, bt + 16 * h, ldb,
		    ny, nx, 6, 1);
	uk_rows_avx2_piece(c + 6 * ldc, ldc, rows + 6, ars, bt, ldb, ny, nx, 2,
	    2);
}

/* r[c] = column c of the 16 x 16 block r. */
__attribute__((target("avx512f")))
static void
transpose16(__m512 r[16])
{
	__m512 t[16];

	for (int i = 0; i < 16; i += 2) {
		t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
		t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
	}
	/* Lane L of r[4q + s] becomes column 4L + s of rows 4q..4q+3. */
	for (int q = 0; q < 16; q += 4)
		for (int s = 0; s < 2; s++) {
			__m512d a = _mm512_castps_pd(t[q + s]);
			__m512d b = _mm512_castps_pd(t[q + s + 2]);

			r[q + 2 * s] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
			r[q + 2 * s + 1] = _mm512_castpd_ps(
			    _mm512_unpackhi_pd(a, b));
		}
	for (int s = 0; s < 4; s++) {
		t[s] = _mm512_shuffle_f32x4(r[s], r[s + 4], 0x88);
		t[s + 4] = _mm512_shuffle_f32x4(r[s], r[s + 4], 0xdd);
		t[s + 8] = _mm512_shuffle_f32x4(r[s + 8], r[s + 12], 0x88);
		t[s + 12] = _mm512_shuffle_f32x4(r[s + 8], r[s + 12], 0xdd);
	}
	for (int c = 0; c < 8; c++) {
		r[c] = _mm512_shuffle_f32x4(t[c], t[c + 8], 0x88);
		r[c + 8] = _mm512_shuffle_f32x4(t[c], t[c + 8], 0xdd);
	}
}

/*
 * doutt (OH OW, OC32) = dout (OC, OH, OW) transposed; the columns past OC
 * are left as they were (zero).  db (OC) += the sum of dout over pixels,
 * when db is not NULL.
 */
__attribute__((target("avx512f")))
static void
dconv_transpose_dout_avx512(float *doutt, float *db, const float *dout,
    const struct xf_conv2d_dims *d)
{
	int ocp = round_up(d->oc, 32);
	size_t ohw = (size_t)d->oh * d->ow;

	for (int ob = 0; ob < d->oc; ob += 16) {
		int rows = d->oc - ob < 16 ? d->oc - ob : 16;
		__m512 sum = _mm512_setzero_ps();

		for (int oh = 0; oh < d->oh; oh++)
			for (int ow = 0; ow < d->ow; ow += 16) {
				int cols = d->ow - ow < 16 ? d->ow - ow : 16;
				const float *src = dout + ob * ohw +
				    (size_t)oh * d->ow + ow;
				float *dst = doutt + ((size_t)oh * d->ow + ow) *
				    ocp + ob;
				__m512 r[16];

				for (int q = 0; q < 16; q++)
					r[q] = q < rows ? _mm512_maskz_loadu_ps(
					    mask_first(cols), src + q * ohw) :
					    _mm512_setzero_ps();
				transpose16(r);
				for (int c = 0; c < cols; c++) {
					_mm512_storeu_ps(dst + (size_t)c * ocp, r[c]);
					sum = _mm512_add_ps(sum, r[c]);
				}
			}
		if (db != NULL)
			_mm512_mask_storeu_ps(db + ob, mask_first(rows),
			    _mm512_add_ps(sum, _mm512_maskz_loadu_ps(
			    mask_first(rows), db + ob)));
	}
}

/* r[j] = column j of the 8 x 8 block r. */
__attribute__((target("avx2,fma")))
static void
transpose8(__m256 r[8])
{
	__m256 t[8], u[8];

	for (int i = 0; i < 8; i += 2) {
		t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
		t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
	}
	for (int q = 0; q < 8; q += 4)
		for (int s = 0; s < 2; s++) {
			u[q + 2 * s] = _mm256_shuffle_ps(t[q + s], t[q + s + 2],
			    0x44);
			u[q + 2 * s + 1] = _mm256_shuffle_ps(t[q + s],
			    t[q + s + 2], 0xee);
		}
	for (int j = 0; j < 4; j++) {
		r[j] = _mm256_permute2f128_ps(u[j], u[j + 4], 0x20);
		r[j + 4] = _mm256_permute2f128_ps(u[j], u[j + 4], 0x31);
	}
}

/* The AVX2 twin of dconv_transpose_dout: 8 x 8 blocks, the ragged edges
 * one by one; each channel's sum over its pixels in 8 lanes, then in
 * order. */
__attribute__((target("avx2,fma")))
static void
dconv_transpose_dout_avx2(float *doutt, float *db, const float *dout,
    const struct xf_conv2d_dims *d)
{
	int ocp = round_up(d->oc, 32), oc8 = d->oc & ~7;
	size_t ohw = (size_t)d->oh * d->ow, p8 = ohw & ~(size_t)7;

	for (int o = 0; o < oc8; o += 8)
		for (size_t p = 0; p < p8; p += 8) {
			__m256 r[8];

			for (int i = 0; i < 8; i++)
				r[i] = _mm256_loadu_ps(dout + (o + i) * ohw + p);
			transpose8(r);
			for (int j = 0; j < 8; j++)
				_mm256_storeu_ps(doutt + (p + j) * ocp + o, r[j]);
		}
	for (int o = 0; o < d->oc; o++)
		for (size_t p = o < oc8 ? p8 : 0; p < ohw; p++)
			doutt[p * ocp + o] = dout[o * ohw + p];
	for (int o = 0; db != NULL && o < d->oc; o++) {
		const float *g = dout + o * ohw;
		__m256 acc = _mm256_setzero_ps();
		float lane[8], sum = 0.0f;

		for (size_t p = 0; p < p8; p += 8)
			acc = _mm256_add_ps(acc, _mm256_loadu_ps(g + p));
		_mm256_storeu_ps(lane, acc);
		for (int q = 0; q < 8; q++)
			sum += lane[q];
		for (size_t p = p8; p < ohw; p++)
			sum += g[p];
		db[o] += sum;
	}
}

/* The same on the path in use (the direct conv runs on these two). */
static void
dconv_transpose_dout(float *doutt, float *db, const float *dout,
    const struct xf_conv2d_dims *d)
{
	if (nn_avx512())
		dconv_transpose_dout_avx512(doutt, db, dout, d);
	else
		dconv_transpose_dout_avx2(doutt, db, dout, d);
}

/*
 * One image's weight gradient into a part's partial: dwt (K8, OC32) +=
 * X dout^T, db (OC) += sums of dout over pixels.  pimg is the padded
 * image; doutt (OH OW, OC32) scratch, zero past OC.  Blocks of output rows
 * keep the block of dout^T in L1.
 */
static void
direct_dw_image(float *dwt, float *db, float *doutt, const float *pimg,
    const float *dout /* (OC, OH, OW) */, const struct xf_conv2d_dims *d,
    const struct dconv *g)
{
	int ocp = round_up(d->oc, 32), taps = d->kh * d->kw;
	int k = d->c * taps, chunk = DC_CHUNK / d->ow > 0 ? DC_CHUNK / d->ow : 1;
	int avx512 = nn_avx512();
	size_t plane = (size_t)g->hp * g->wp;

	dconv_transpose_dout(doutt, db, dout, d);
	if (dwt == NULL)
		return;
	for (int y0 = 0; y0 < d->oh; y0 += chunk) {
		int ny = d->oh - y0 < chunk ? d->oh - y0 : chunk;

		for (int kb = 0; kb < k; kb += 8) {
			const float *rows[8];

			/* Rows past K repeat row K - 1; their sums land in
			 * the padding of dwt. */
			for (int i = 0; i < 8; i++) {
				int r = kb + i < k ? kb + i : k - 1;
				int c = r / taps, t = r % taps;

				rows[i] = pimg + c * plane + (t / d->kw + y0) *
				    g->wp + t % d->kw;
			}
			for (int jb = 0; jb < ocp; jb += 32)
				(avx512 ? uk_rows : uk_rows_avx2)(dwt + (size_t)kb * ocp + jb, ocp, rows,
				    g->wp, doutt + (size_t)y0 * d->ow * ocp + jb,
				    ocp, ny, d->ow);
		}
	}
}

size_t
nn_direct_scratch(const struct xf_conv2d_dims *d)
{
	struct direct_scratch s;

	direct_layout(&s, d);
	return s.total;
}

struct direct_fwd_args {
	float *out;		/* (N, OC, OH, OW) */
	float *scratch;		/* laid out as struct direct_scratch */
	const float *in;	/* (N, C, H, W) */
	const float *w;		/* (OC, C, KH, KW) */
	const float *b;		/* (OC) or NULL */
	int relu;
	const struct xf_conv2d_dims *d;
	struct direct_scratch s;
	struct dconv fwd;
};

static void
direct_forward_job(void *arg, int tid, int nt)
{
	struct direct_fwd_args *j = arg;
	const struct xf_conv2d_dims *d = j->d;
	float *pin = j->scratch + tid * j->s.per_thread;
	const float *wpk = j->scratch + xf_nn_threads() * j->s.per_thread;
	size_t in_img = (size_t)d->c * d->h * d->w;
	size_t out_img = (size_t)d->oc * d->oh * d->ow;
	int p0, p1, i0, i1;

	parts_of(tid, nt, &p0, &p1);
	i0 = (int)((long)p0 * d->n / XF_NN_PARTS);
	i1 = (int)((long)p1 * d->n / XF_NN_PARTS);
	if (i0 >= i1)
		return;
	memset(pin, 0, j->s.pin * sizeof *pin);
	for (int i = i0; i < i1; i++) {
		struct prefetch pf = { { j->in + (i + 1) * in_img, NULL },
		    { i + 1 < i1 ? in_img : 0, 0 } };

		dconv_pad(pin, j->in + i * in_img, &j->fwd);
		dconv_image(j->out + i * out_img, pin, wpk, j->b, j->relu,
		    &j->fwd, &pf);
	}
}

void
nn_direct_forward(float *out /* (N, OC, OH, OW) */, float *scratch,
    const float *in /* (N, C, H, W) */, const float *w /* (OC, C, KH, KW) */,
    const float *b /* (OC) */, int relu, const struct xf_conv2d_dims *d)
{
	struct direct_fwd_args j = { .out = out, .scratch = scratch, .in = in,
	    .w = w, .b = b, .relu = relu, .d = d };
	struct dconv bwd;

	direct_layout(&j.s, d);
	direct_grids(&j.fwd, &bwd, d);
	dconv_pack_weights(scratch + xf_nn_threads() * j.s.per_thread, w, d->oc, d->c,
	    d->kh * d->kw, 0);
	xf_nn_run(direct_forward_job, &j);
}

struct direct_bwd_args {
	float *din;		/* (N, C, H, W) or NULL */
	float *dw;		/* (OC, C, KH, KW) or NULL */
	float *db;		/* (OC) or NULL */
	float *scratch;		/* laid out as struct direct_scratch */
	const float *dout;	/* (N, OC, OH, OW) */
	const float *in;	/* (N, C, H, W) */
	const float *w;		/* (OC, C, KH, KW) */
	const struct xf_conv2d_dims *d;
	struct direct_scratch s;
	struct dconv fwd, bwd;
};

static void
direct_backward_job(void *arg, int tid, int nt)
{
	struct direct_bwd_args *j = arg;
	const struct xf_conv2d_dims *d = j->d;
	float *pin = j->scratch + tid * j->s.per_thread;
	float *pdout = pin + j->s.pin, *doutt = pdout + j->s.pdout;
	const float *wflip = j->scratch + xf_nn_threads() * j->s.per_thread + j->s.wpk;
	float *partials = j->scratch + xf_nn_threads() * j->s.per_thread + j->s.wpk +
	    j->s.wflip;
	size_t in_img = (size_t)d->c * d->h * d->w;
	size_t out_img = (size_t)d->oc * d->oh * d->ow;
	size_t dwt_floats = j->s.partial - d->oc;
	int p0, p1;

	parts_of(tid, nt, &p0, &p1);
	memset(pin, 0, j->s.per_thread * sizeof *pin);
	for (int p = p0; p < p1; p++) {
		float *dwt = partials + p * j->s.partial, *pdb = dwt + dwt_floats;
		int i0, i1;

		memset(dwt, 0, j->s.partial * sizeof *dwt);
		part_range(p, d->n, &i0, &i1);
		for (int i = i0; i < i1; i++) {
			const float *dout = j->dout + i * out_img;
			int more = i + 1 < i1;
			struct prefetch pf = { { j->in + (i + 1) * in_img,
			    dout + out_img }, { more && j->dw != NULL ? in_img : 0,
			    more ? out_img : 0 } };

			if (j->dw != NULL || j->db != NULL) {
				if (j->dw != NULL)
					dconv_pad(pin, j->in + i * in_img, &j->fwd);
				direct_dw_image(j->dw != NULL ? dwt : NULL,
				    j->db != NULL ? pdb : NULL, doutt, pin,
				    dout, d, &j->fwd);
			}
			if (j->din != NULL) {
				dconv_pad(pdout, dout, &j->bwd);
				dconv_image(j->din + i * in_img, pdout, wflip,
				    NULL, 0, &j->bwd, &pf);
			}
		}
	}
}

/* dw and db += the partials in part order, split over the pool by element. */
static void
direct_reduce_job(void *arg, int tid, int nt)
{
	struct direct_bwd_args *j = arg;
	const struct xf_conv2d_dims *d = j->d;
	int k = d->c * d->kh * d->kw, ocp = round_up(d->oc, 32);
	size_t total = (size_t)d->oc * k + d->oc;
	size_t e0 = total * tid / nt, e1 = total * (tid + 1) / nt;
	size_t dwt_floats = j->s.partial - d->oc;
	const float *partials = j->scratch + xf_nn_threads() * j->s.per_thread +
	    j->s.wpk + j->s.wflip;

	for (size_t e = e0; e < e1; e++) {
		size_t at;
		float *g, s = 0.0f;

		if (e < (size_t)d->oc * k) {
			/* dw (OC, K) from dw^T (K8, OC32) */
			if (j->dw == NULL)
				continue;
			g = j->dw + e;
			at = e % k * ocp + e / k;
		} else {
			if (j->db == NULL)
				continue;
			g = j->db + (e - (size_t)d->oc * k);
			at = dwt_floats + (e - (size_t)d->oc * k);
		}
		for (int p = 0; p < XF_NN_PARTS; p++)
			s += partials[p * j->s.partial + at];
		*g += s;
	}
}

void
nn_direct_backward(float *din /* (N, C, H, W) */,
    float *dw /* (OC, C, KH, KW) */, float *db /* (OC) */, float *scratch,
    const float *dout /* (N, OC, OH, OW) */, const float *in /* (N, C, H, W) */,
    const float *w /* (OC, C, KH, KW) */, const struct xf_conv2d_dims *d)
{
	struct direct_bwd_args j = { .din = din, .dw = dw, .db = db,
	    .scratch = scratch, .in = in, .dout = dout, .w = w, .d = d };

	direct_layout(&j.s, d);
	direct_grids(&j.fwd, &j.bwd, d);
	if (din != NULL)
		dconv_pack_weights(scratch + xf_nn_threads() * j.s.per_thread + j.s.wpk,
		    w, d->c, d->oc, d->kh * d->kw, 1);
	xf_nn_run(direct_backward_job, &j);
	if (dw != NULL || db != NULL)
		xf_nn_run(direct_reduce_job, &j);
}
