/*
 * bench_align.c: the speed of xf-align's parts.  A 512x512 linear
 * assignment of uniform random costs (goal: under 50 ms), and weight
 * matching of two cnn models from different seeds of PyTorch's default
 * initialisation, every sweep to the end (goal: under 1 s).  Each is run
 * -r times; the fastest and the median are printed.
 *
 *	bench_align [-r runs] [-t threads]
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "align.h"

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void
report(const char *what, double *t, int runs, double goal)
{
	qsort(t, runs, sizeof *t, cmp_double);
	printf("%s: fastest %.1f ms, median %.1f ms over %d runs (goal < %.0f ms: "
	    "%s)\n", what, t[0] * 1e3, t[runs / 2] * 1e3, runs, goal * 1e3,
	    t[runs / 2] < goal ? "met" : "missed");
}

int
main(int argc, char **argv)
{
	int runs = 5, threads = 2, ch, n = 512, sweeps = 0;
	struct xf_rng rng;
	struct xf_err e;
	double *cost, *t;
	int *assign;

	while ((ch = getopt(argc, argv, "r:t:")) != -1) {
		switch (ch) {
		case 'r': runs = atoi(optarg); break;
		case 't': threads = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: bench_align [-r runs] [-t threads]\n");
			return 2;
		}
	}
	if (runs < 1)
		runs = 1;
	xf_blis_setup();
	xf_nn_set_threads(threads);
	cost = malloc((size_t)n * n * sizeof *cost);
	assign = malloc(n * sizeof *assign);
	t = malloc(runs * sizeof *t);
	if (cost == NULL || assign == NULL || t == NULL)
		err(1, NULL);
	xf_rng_seed(&rng, 1);
	for (int r = 0; r < runs; r++) {
		for (size_t i = 0; i < (size_t)n * n; i++)
			cost[i] = xf_rng_uniform(&rng);
		double t0 = now();
		if (xf_lap_solve(cost, n, n, assign, NULL, &e) < 0)
			errx(1, "%s", e.msg);
		t[r] = now() - t0;
	}
	report("LAP 512x512, uniform costs", t, runs, 0.05);

	struct xf_model *ma = xf_model_create("cnn", 1, 28, 28, 10, &e);
	struct xf_model *mb = xf_model_create("cnn", 1, 28, 28, 10, &e);
	struct xf_align_groups g;
	struct xf_align_opt opt = XF_ALIGN_DEFAULTS;
	size_t count;
	float *a, *b;

	if (ma == NULL || mb == NULL)
		errx(1, "%s", e.msg);
	xf_rng_seed(&rng, 1);
	xf_model_init(ma, &rng);
	xf_rng_seed(&rng, 2);
	xf_model_init(mb, &rng);
	if ((a = xf_model_snapshot(ma, &count)) == NULL ||
	    (b = xf_model_snapshot(mb, &count)) == NULL)
		err(1, NULL);
	if (xf_align_groups(mb, &g, &e) < 0)
		errx(1, "%s", e.msg);
	for (int r = 0; r < runs; r++) {
		int **perm = xf_align_perms_alloc(&g);

		if (perm == NULL)
			err(1, NULL);
		double t0 = now();
		if (xf_align_weights(mb, a, b, &g, &opt, perm, &sweeps, NULL, &e) < 0)
			errx(1, "%s", e.msg);
		t[r] = now() - t0;
		xf_align_perms_free(&g, perm);
	}
	printf("weight matching of cnn (%zu floats, %d groups): %d sweeps\n",
	    count, g.n, sweeps);
	report("weight matching of cnn", t, runs, 1.0);
	xf_align_groups_free(&g);
	xf_model_free(ma);
	xf_model_free(mb);
	free(a);
	free(b);
	free(cost);
	free(assign);
	free(t);
	return 0;
}
