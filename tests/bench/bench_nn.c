/*
 * bench_nn: one measurement of the nn engine, for tests/bench/nn.py.
 *
 *	bench_nn -g [-j threads] [-s seconds]
 *	bench_nn [-j threads] [-b batch] [-s seconds] [-i CxHxW] model
 *
 * With -g, the BLIS sgemm ceiling: the engine's linear layer on a 2048^3
 * product on the pool, one line, tab-separated:
 *	sgemm  GFLOP/s  BLIS-version  arch  micro-kernel
 * Otherwise one model (a preset or a spec, as in xf-train(1)) on random
 * images of the given shape (default 1x28x28), 10 classes: training steps
 * (forward, backward, SGD step with momentum), then eval forwards, each for
 * the given seconds after two warm-up steps; one line, tab-separated:
 *	xf  model  CxHxW  train-img/s  eval-img/s  peak-RSS-KB  train-GFLOP/s
 *	eval-GFLOP/s
 * The peak RSS is the process's after training, before evaluation.
 */
#include <sys/resource.h>

#include <err.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wunused-function"
#include <blis.h>
#pragma GCC diagnostic pop

#include "nn.h"

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

/* The ceiling: the engine's linear layer (the GEMM path of every layer). */
static double
ceiling(double seconds)
{
	int n = 2048, reps = 0;
	float *a = malloc(sizeof(float) * n * n);
	float *b = malloc(sizeof(float) * n * n);
	float *c = malloc(sizeof(float) * n * n);
	double t0;

	if (a == NULL || b == NULL || c == NULL)
		errx(1, "out of memory");
	for (int i = 0; i < n * n; i++) {
		a[i] = (float)(i % 17) * 0.01f;
		b[i] = (float)(i % 13) * 0.01f;
	}
	xf_linear_forward(c, a, b, NULL, 0, n, n, n);
	t0 = now();
	do {
		xf_linear_forward(c, a, b, NULL, 0, n, n, n);
		reps++;
	} while (now() - t0 < seconds);
	t0 = now() - t0;
	free(a);
	free(b);
	free(c);
	return 2.0 * n * n * n * reps / t0 / 1e9;
}

/* Images/s of train (1) or eval (0) steps for the given seconds. */
static double
rate(struct xf_model *m, struct xf_sgd *opt, const uint8_t *x, const int *y,
    int batch, int train, double seconds, const char *name)
{
	struct xf_err e;
	double t0 = 0.0;
	float loss;
	int steps = 0;

	do {
		if (steps == 2)
			t0 = now();
		if (xf_model_forward(m, x, train ? y : NULL, batch, train,
		    train ? &loss : NULL, &e) == -1)
			errx(1, "%s: %s", name, e.msg);
		if (train) {
			xf_model_zero_grad(m);
			xf_model_backward(m);
			xf_sgd_step(opt, m, 0.01f);
		}
		steps++;
	} while (steps < 3 || now() - t0 < seconds);
	return (steps - 2) * batch / (now() - t0);
}

static void
model(const char *name, int c, int h, int w, int batch, double seconds)
{
	struct xf_err e;
	struct xf_model *m = xf_model_create(name, c, h, w, 10, &e);
	struct xf_sgd *opt;
	struct xf_rng rng;
	struct rusage ru;
	size_t n = (size_t)batch * c * h * w;
	uint8_t *x = malloc(n);
	int *y = malloc(sizeof(int) * batch);
	double train, eval;

	if (m == NULL || (opt = xf_sgd_create(m, 0.9f, 5e-4f, &e)) == NULL)
		errx(1, "%s: %s", name, e.msg);
	if (x == NULL || y == NULL)
		errx(1, "%s: out of memory", name);
	xf_rng_seed(&rng, 1);
	xf_model_init(m, &rng);
	for (size_t i = 0; i < n; i++)
		x[i] = (uint8_t)xf_rng_below(&rng, 256);
	for (int i = 0; i < batch; i++)
		y[i] = (int)xf_rng_below(&rng, 10);
	train = rate(m, opt, x, y, batch, 1, seconds, name);
	getrusage(RUSAGE_SELF, &ru);
	eval = rate(m, opt, x, y, batch, 0, seconds, name);
	printf("xf\t%s\t%dx%dx%d\t%.1f\t%.1f\t%ld\t%.2f\t%.2f\n", name, c, h, w,
	    train, eval, ru.ru_maxrss, train * xf_model_flops(m, 1) / 1e9,
	    eval * xf_model_flops(m, 0) / 1e9);
	xf_sgd_free(opt);
	xf_model_free(m);
	free(x);
	free(y);
}

int
main(int argc, char **argv)
{
	int threads = 2, batch = 128, gemm = 0, c = 1, h = 28, w = 28, ch;
	double seconds = 2.0;

	xf_blis_setup();	/* as every tool does */
	while ((ch = getopt(argc, argv, "b:gi:j:s:")) != -1)
		switch (ch) {
		case 'b':
			batch = atoi(optarg);
			break;
		case 'g':
			gemm = 1;
			break;
		case 'i':
			if (sscanf(optarg, "%dx%dx%d", &c, &h, &w) != 3)
				errx(2, "-i %s: want CxHxW", optarg);
			break;
		case 'j':
			threads = atoi(optarg);
			break;
		case 's':
			seconds = atof(optarg);
			break;
		default:
			goto usage;
		}
	argc -= optind;
	argv += optind;
	if (gemm ? argc != 0 : argc != 1)
		goto usage;
	bli_init();	/* querying the arch before BLIS starts aborts with BLIS_ARCH_TYPE set */
	xf_nn_set_threads(threads);
	if (gemm)
		printf("sgemm\t%.2f\t%s\t%s\t%s\n", ceiling(seconds),
		    bli_info_get_version_str(),
		    bli_arch_string(bli_arch_query_id()),
		    __builtin_cpu_supports("avx512f") ? "xf-avx512-8x32" : "BLIS");
	else
		model(argv[0], c, h, w, batch, seconds);
	return 0;
usage:
	fprintf(stderr, "usage: bench_nn -g [-j threads] [-s seconds]\n"
	    "       bench_nn [-j threads] [-b batch] [-s seconds] [-i CxHxW] "
	    "model\n");
	return 2;
}
