/*
 * bench_nn: speed of the nn engine, for `make bench`.
 *
 *	bench_nn [-m] [-j threads] [-b batch] [-s seconds] [-t torch.tsv]
 *	    [model ...]
 *
 * Prints the BLIS sgemm ceiling (2048^3 on one thread and on the pool),
 * then per model: training images/s (forward, backward, SGD step), eval
 * images/s, GFLOP/s and the share of the ceiling.  With -t, the output of
 * torch_bench.py adds PyTorch's rates and the ratio xf / PyTorch.  With -m
 * every rate comes from the fastest step instead of the mean: on a machine
 * shared with other jobs, the fastest step is the one that had the cores.
 */
#include <err.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/*
 * The ceiling: the engine's linear layer on a 2048 x 2048 x 2048 product
 * (the same GEMM path as every layer), with the pool at nt threads.
 */
/* Rates from the fastest step (-m) rather than the mean. */
static int best_step;

static double
ceiling(int nt, double seconds)
{
	int n = 2048, reps = 0;
	float *a = malloc(sizeof(float) * n * n);
	float *b = malloc(sizeof(float) * n * n);
	float *c = malloc(sizeof(float) * n * n);
	double t0, t, fastest = 1e30;

	if (a == NULL || b == NULL || c == NULL)
		errx(1, "out of memory");
	for (int i = 0; i < n * n; i++) {
		a[i] = (float)(i % 17) * 0.01f;
		b[i] = (float)(i % 13) * 0.01f;
	}
	xf_nn_set_threads(nt);
	xf_linear_forward(c, a, b, NULL, 0, n, n, n);
	t0 = now();
	do {
		t = now();
		xf_linear_forward(c, a, b, NULL, 0, n, n, n);
		if (now() - t < fastest)
			fastest = now() - t;
		reps++;
	} while (now() - t0 < seconds);
	t = now() - t0;
	free(a);
	free(b);
	free(c);
	if (best_step)
		return 2.0 * n * n * n / fastest / 1e9;
	return 2.0 * n * n * n * reps / t / 1e9;
}

struct torch_row {
	char model[32];
	double train, eval;
};

int
main(int argc, char **argv)
{
	const char *defaults[] = { "mlp", "cnn", "cnn-s", "cnn-bn" };
	const char *torch_path = NULL;
	struct torch_row torch[16];
	int n_torch = 0, threads = 2, batch = 128, ch;
	double seconds = 2.0, ceil1, ceiln;
	struct xf_err e;

	xf_blis_setup();	/* as every tool does */
	while ((ch = getopt(argc, argv, "b:j:ms:t:")) != -1)
		switch (ch) {
		case 'm':
			best_step = 1;
			break;
		case 'b':
			batch = atoi(optarg);
			break;
		case 'j':
			threads = atoi(optarg);
			break;
		case 's':
			seconds = atof(optarg);
			break;
		case 't':
			torch_path = optarg;
			break;
		default:
			fprintf(stderr, "usage: bench_nn [-m] [-j threads] "
			    "[-b batch] [-s seconds] [-t torch.tsv] [model ...]\n");
			return 2;
		}
	argc -= optind;
	argv += optind;
	if (torch_path != NULL) {
		FILE *f = fopen(torch_path, "r");

		while (f != NULL && n_torch < 16 && fscanf(f, "%31s %lf %lf%*[^\n]",
		    torch[n_torch].model, &torch[n_torch].train,
		    &torch[n_torch].eval) == 3)
			n_torch++;
		if (f != NULL)
			fclose(f);
	}
	bli_init();	/* querying the arch before BLIS starts aborts with BLIS_ARCH_TYPE set */
	printf("BLIS %s, arch %s, micro-kernel %s\n", bli_info_get_version_str(),
	    bli_arch_string(bli_arch_query_id()),
	    __builtin_cpu_supports("avx512f") ? "xf avx512 8x32" : "BLIS");
	ceil1 = ceiling(1, seconds / 2);
	ceiln = ceiling(threads, seconds / 2);
	printf("sgemm 2048^3: %.1f GFLOP/s on 1 thread, %.1f on %d "
	    "(the ceiling)\n\n", ceil1, ceiln, threads);
	printf("batch %d, %d threads, 28x28x1, 10 classes\n", batch,
	    xf_nn_set_threads(threads));
	printf("%-7s %9s %9s %7s %6s %9s %9s %7s %6s", "model", "train/s",
	    "GFLOP/s", "%ceil", "", "eval/s", "GFLOP/s", "%ceil", "");
	if (n_torch > 0)
		printf(" %9s %9s %6s %6s", "torch-tr", "torch-ev", "xf/pt", "xf/pt");
	printf("\n");
	for (int mi = 0; mi < (argc > 0 ? argc : 4); mi++) {
		const char *name = argc > 0 ? argv[mi] : defaults[mi];
		struct xf_model *m = xf_model_create(name, 1, 28, 28, 10, &e);
		struct xf_sgd *opt;
		struct xf_rng rng;
		uint8_t *x = malloc((size_t)batch * 784);
		int *y = malloc(sizeof(int) * batch);
		double t0, ts, fastest, train, eval;
		int steps;
		float loss;

		if (m == NULL)
			errx(1, "%s: %s", name, e.msg);
		if ((opt = xf_sgd_create(m, 0.9f, 5e-4f, &e)) == NULL ||
		    x == NULL || y == NULL)
			errx(1, "%s: %s", name, e.msg);
		xf_rng_seed(&rng, 1);
		xf_model_init(m, &rng);
		for (int i = 0; i < batch * 784; i++)
			x[i] = (uint8_t)xf_rng_below(&rng, 256);
		for (int i = 0; i < batch; i++)
			y[i] = (int)xf_rng_below(&rng, 10);
		steps = 0;
		t0 = 0.0;
		fastest = 1e30;
		do {
			if (steps == 2)
				t0 = now();
			ts = now();
			if (xf_model_forward(m, x, y, batch, 1, &loss, &e) == -1)
				errx(1, "%s: %s", name, e.msg);
			xf_model_zero_grad(m);
			xf_model_backward(m);
			xf_sgd_step(opt, m, 0.01f);
			if (steps >= 2 && now() - ts < fastest)
				fastest = now() - ts;
			steps++;
		} while (steps < 3 || now() - t0 < seconds);
		train = best_step ? batch / fastest :
		    (steps - 2) * batch / (now() - t0);
		steps = 0;
		fastest = 1e30;
		do {
			if (steps == 2)
				t0 = now();
			ts = now();
			if (xf_model_forward(m, x, NULL, batch, 0, NULL, &e) == -1)
				errx(1, "%s: %s", name, e.msg);
			if (steps >= 2 && now() - ts < fastest)
				fastest = now() - ts;
			steps++;
		} while (steps < 3 || now() - t0 < seconds);
		eval = best_step ? batch / fastest :
		    (steps - 2) * batch / (now() - t0);
		printf("%-7s %9.0f %9.1f %6.1f%% %6s %9.0f %9.1f %6.1f%% %6s",
		    name, train, train * xf_model_flops(m, 1) / 1e9,
		    100.0 * train * xf_model_flops(m, 1) / 1e9 / ceiln, "",
		    eval, eval * xf_model_flops(m, 0) / 1e9,
		    100.0 * eval * xf_model_flops(m, 0) / 1e9 / ceiln, "");
		for (int t = 0; t < n_torch; t++)
			if (strcmp(torch[t].model, name) == 0)
				printf(" %9.0f %9.0f %6.2f %6.2f", torch[t].train,
				    torch[t].eval, train / torch[t].train,
				    eval / torch[t].eval);
		printf("\n");
		fflush(stdout);
		xf_sgd_free(opt);
		xf_model_free(m);
		free(x);
		free(y);
	}
	return 0;
}
