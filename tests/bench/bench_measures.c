/*
 * bench_measures: the timed half of make bench-measures.
 *	bench_measures gen DIR		write the inputs (raw little-endian)
 *	bench_measures svcca|pwcca|logme DIR	time one run, print seconds
 * X, Y (10,000 x 512 float32) share a 64-dimensional latent part plus
 * noise with a decaying spectrum; F (10,000 x 128) and labels (int32,
 * 10 classes) for LogME.  tests/bench/measures_ref.py times numpy on the
 * same files.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cca.h"
#include "transfer.h"
#include "xf.h"

#define N 10000
#define P 512
#define LAT 64
#define D 128
#define K 10

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *
load(const char *dir, const char *name, size_t bytes)
{
	char path[4096];
	void *p = malloc(bytes);
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (p == NULL || (f = fopen(path, "rb")) == NULL ||
	    fread(p, 1, bytes, f) != bytes)
		err(1, "%s", path);
	fclose(f);
	return p;
}

static void
save(const char *dir, const char *name, const void *p, size_t bytes)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(p, 1, bytes, f) != bytes ||
	    fclose(f) != 0)
		err(1, "%s", path);
}

static void
gen(const char *dir)
{
	struct xf_rng r;
	float *z = malloc(sizeof(float) * N * LAT), *x = malloc(sizeof(float) * N * P);
	float *a = malloc(sizeof(float) * LAT * P), *f = malloc(sizeof(float) * N * D);
	int *y = malloc(sizeof(int) * N);

	xf_rng_seed(&r, 1);
	for (size_t i = 0; i < (size_t)N * LAT; i++)
		z[i] = xf_rng_normal(&r);
	for (int side = 0; side < 2; side++) {
		for (size_t i = 0; i < (size_t)LAT * P; i++)
			a[i] = xf_rng_normal(&r) / 8;
		for (size_t i = 0; i < N; i++)
			for (size_t j = 0; j < P; j++) {
				double v = xf_rng_normal(&r) / (1 + j / 32.0);

				for (size_t l = 0; l < LAT; l++)
					v += z[i * LAT + l] * a[l * P + j];
				x[i * P + j] = (float)v;
			}
		save(dir, side ? "y.f32" : "x.f32", x, sizeof(float) * N * P);
	}
	for (size_t i = 0; i < N; i++) {
		y[i] = (int)xf_rng_below(&r, K);
		for (size_t j = 0; j < D; j++)
			f[i * D + j] = xf_rng_normal(&r) + (j % K == (size_t)y[i]);
	}
	save(dir, "f.f32", f, sizeof(float) * N * D);
	save(dir, "y.i32", y, sizeof(int) * N);
}

int
main(int argc, char **argv)
{
	struct xf_err e;
	double t0, v = 0;
	size_t kx, ky;

	if (argc != 3)
		errx(2, "usage: bench_measures gen|svcca|pwcca|logme dir");
	xf_blis_setup();
	if (strcmp(argv[1], "gen") == 0) {
		gen(argv[2]);
		return 0;
	}
	if (strcmp(argv[1], "logme") == 0) {
		float *f = load(argv[2], "f.f32", sizeof(float) * N * D);
		int *y = load(argv[2], "y.i32", sizeof(int) * N);

		t0 = now();
		if (xf_logme(&v, f, N, D, y, K, 2, &e) < 0)
			errx(1, "%s", e.msg);
	} else {
		float *x = load(argv[2], "x.f32", sizeof(float) * N * P);
		float *y = load(argv[2], "y.f32", sizeof(float) * N * P);
		struct xf_cca_side *a, *b;
		int pw = strcmp(argv[1], "pwcca") == 0;

		t0 = now();
		if ((a = xf_cca_side_new(x, N, P, pw, 2, &e)) == NULL ||
		    (b = xf_cca_side_new(y, N, P, pw, 2, &e)) == NULL ||
		    (pw ? xf_pwcca : xf_svcca)(&v, &kx, &ky, a, b,
		    pw ? 0 : XF_SVCCA_KEEP, 2, &e) < 0)
			errx(1, "%s", e.msg);
	}
	printf("%.4f %.10g\n", now() - t0, v);
	return 0;
}
