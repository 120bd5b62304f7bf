/*
 * bench_cka.c: linear CKA at the size of the paper's conv2 activations
 * (n = 10,000 examples, 25,088 features a side: Gram form), against the
 * sgemm ceiling of this machine measured in the same run, and minibatch
 * CKA over n = 60,000 rows streamed in chunks, in a child process so its
 * peak RSS is its own.
 *
 *	bench_cka [-n examples] [-p features] [-N minibatch_examples]
 *	    [-b batch] [-t threads] [-r numpy_seconds]
 *
 * -r takes the time printed by tests/bench/cka_numpy.py for the same -n
 * and -p and prints the ratio.  BLIS 0.9 cannot count the FMA units of
 * CPUs newer than it under a hypervisor and falls back to its AVX2
 * (haswell) kernels; on an AVX-512 CPU the bench asks for the skx kernels
 * (BLIS_ARCH_TYPE=skx) unless BLIS_ARCH_TYPE is already set.
 */
#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wunused-function"
#include <blis.h>
#pragma GCC diagnostic pop

#include "cka.h"

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Activations need no statistics here, only speed: xorshift64*. */
static uint64_t state = 0x9e3779b97f4a7c15ull;

static float
uniform(void)
{
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return (float)((state * 0x2545f4914f6cdd1dull) >> 40) * 0x1p-23f - 1;
}

/* X uniform, Y = 0.6 X + 0.8 noise, with Y as wide as X. */
static void
fill(float *x, float *y, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		x[i] = uniform();
		y[i] = 0.6f * x[i] + 0.8f * uniform();
	}
}

static double
sgemm_ceiling(int threads)
{
	dim_t m = 2048;
	float *a = malloc(m * m * sizeof *a), *c = malloc(m * m * sizeof *c);
	float one = 1, zero = 0;
	double best = 1e30, t;
	rntm_t r;
	int i;

	if (a == NULL || c == NULL)
		err(1, "malloc");
	for (i = 0; i < m * m; i++)
		a[i] = uniform();
	bli_rntm_init(&r);
	bli_rntm_set_num_threads(threads, &r);
	for (i = 0; i < 4; i++) {	/* first call warms BLIS up */
		t = now();
		bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, m, m,
		    &one, a, m, 1, a, m, 1, &zero, c, m, 1, NULL, &r);
		t = now() - t;
		if (i > 0 && t < best)
			best = t;
	}
	free(a);
	free(c);
	return 2.0 * m * m * m / best / 1e9;
}

static void
minibatch(size_t n, size_t p, size_t batch, int threads)
{
	size_t chunk = 1000, r0, rows;
	float *x = malloc(chunk * p * sizeof *x), *y = malloc(chunk * p * sizeof *y);
	struct xf_cka_opts o;
	struct xf_cka_acc *a;
	struct xf_err e;
	struct rusage ru;
	double t, t_gen = 0, t0, v;

	if (x == NULL || y == NULL)
		err(1, "malloc");
	xf_cka_opts_default(&o);
	o.debiased = 1;
	o.threads = threads;
	if ((a = xf_cka_acc_new(p, p, batch, &o, &e)) == NULL)
		errx(1, "%s", e.msg);
	t = now();
	for (r0 = 0; r0 < n; r0 += rows) {
		rows = n - r0 < chunk ? n - r0 : chunk;
		t0 = now();
		fill(x, y, rows * p);
		t_gen += now() - t0;
		if (xf_cka_acc_add(a, x, y, rows, &e) == -1)
			errx(1, "%s", e.msg);
	}
	if (xf_cka_acc_finish(&v, a, &e) == -1)
		errx(1, "%s", e.msg);
	t = now() - t - t_gen;
	getrusage(RUSAGE_SELF, &ru);
	printf("minibatch n=%zu p=q=%zu batch=%zu debiased: %.2f s "
	    "(+%.2f s making data), cka %.6f, peak RSS %.0f MB\n", n, p,
	    batch, t, t_gen, v, ru.ru_maxrss / 1024.0);
	xf_cka_acc_free(a);
	free(x);
	free(y);
}

int
main(int argc, char **argv)
{
	size_t n = 10000, p = 25088, mb_n = 60000, batch = 256;
	int threads = 2, c, status;
	double numpy = 0, ceil, t, v, gflops;
	struct xf_cka_opts o;
	struct xf_err e;
	float *x, *y;
	pid_t pid;

	while ((c = getopt(argc, argv, "N:b:n:p:r:t:")) != -1) {
		switch (c) {
		case 'N': mb_n = strtoull(optarg, NULL, 10); break;
		case 'b': batch = strtoull(optarg, NULL, 10); break;
		case 'n': n = strtoull(optarg, NULL, 10); break;
		case 'p': p = strtoull(optarg, NULL, 10); break;
		case 'r': numpy = strtod(optarg, NULL); break;
		case 't': threads = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: bench_cka [-n examples] "
			    "[-p features] [-N minibatch_examples] [-b batch] "
			    "[-t threads] [-r numpy_seconds]\n");
			return 2;
		}
	}
	xf_blis_setup();

	/* Before anything big is allocated, so the child's RSS is its own. */
	fflush(stdout);
	if ((pid = fork()) == -1)
		err(1, "fork");
	if (pid == 0) {
		minibatch(mb_n, p, batch, threads);
		fflush(stdout);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) == -1 || status != 0)
		errx(1, "minibatch child failed");

	bli_init();
	printf("BLIS %s, kernels %s, %d threads\n", bli_info_get_version_str(),
	    bli_arch_string(bli_arch_query_id()), threads);
	ceil = sgemm_ceiling(threads);
	printf("sgemm 2048^3 ceiling: %.1f GFLOP/s\n", ceil);

	x = malloc(n * p * sizeof *x);
	y = malloc(n * p * sizeof *y);
	if (x == NULL || y == NULL)
		err(1, "malloc");
	fill(x, y, n * p);
	xf_cka_opts_default(&o);
	o.threads = threads;
	t = now();
	if (xf_cka(&v, x, p, y, p, n, &o, &e) == -1)
		errx(1, "%s", e.msg);
	t = now() - t;
	/* two ssyrk of n(n+1)/2 p multiply-adds each */
	gflops = 2.0 * (double)n * (n + 1) * p / t / 1e9;
	printf("linear CKA n=%zu p=q=%zu (Gram form): %.2f s, cka %.6f, "
	    "%.1f GFLOP/s, %.0f%% of sgemm ceiling\n", n, p, t, v, gflops,
	    100 * gflops / ceil);
	if (numpy > 0)
		printf("numpy (demo formulas, same BLIS): %.2f s, %.2fx slower\n",
		    numpy, numpy / t);
	free(x);
	free(y);
	return 0;
}
