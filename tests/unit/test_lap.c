/*
 * test_lap: the linear assignment solver (lib/lap.c) against SciPy's
 * scipy.optimize.linear_sum_assignment on 100 random cost matrices, square
 * and rectangular, a third of them integer costs from {0, 1, 2} (many
 * ties), some with equal rows or all equal: the same optimal total, and an
 * injective assignment whose cost is that total.  Non-finite costs and
 * more rows than columns are refused.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "align.h"
#include "tap.h"

#define N_MATRICES 100

static const char scipy_py[] =
    "import sys\n"
    "import numpy as np\n"
    "from scipy.optimize import linear_sum_assignment\n"
    "f = open(sys.argv[1])\n"
    "for line in f:\n"
    "    n, m = map(int, line.split())\n"
    "    c = np.array([float(v) for v in f.readline().split()]).reshape(n, m)\n"
    "    r, col = linear_sum_assignment(c)\n"
    "    print(repr(float(c[r, col].sum())))\n";

struct case_ {
	int n, m;
	double *cost;
};

static void
make_case(struct case_ *c, int i, struct xf_rng *rng)
{
	c->n = 1 + (int)xf_rng_below(rng, i < 90 ? 40 : 200);
	c->m = c->n + (i % 5 == 4 ? (int)xf_rng_below(rng, 10) : 0);
	c->cost = malloc((size_t)c->n * c->m * sizeof *c->cost);
	for (int r = 0; r < c->n; r++)
		for (int j = 0; j < c->m; j++) {
			double *v = &c->cost[(size_t)r * c->m + j];

			if (i % 3 == 0)		/* ties everywhere */
				*v = (double)xf_rng_below(rng, 3);
			else if (i % 10 == 1)	/* all equal */
				*v = 7;
			else if (i % 10 == 5 && r > 0 && r % 2 == 0)
				*v = c->cost[(size_t)(r - 1) * c->m + j];
			else
				*v = (xf_rng_uniform(rng) - 0.5) * 1e3;
		}
}

static int
is_injection(const int *a, int n, int m)
{
	char *seen = calloc(m, 1);
	int good = 1;

	for (int i = 0; i < n; i++) {
		if (a[i] < 0 || a[i] >= m || seen[a[i]])
			good = 0;
		else
			seen[a[i]] = 1;
	}
	free(seen);
	return good;
}

int
main(void)
{
	static char dir[TAP_PATH_MAX], path[TAP_PATH_MAX + 16], cmd[3 * TAP_PATH_MAX];
	struct case_ cs[N_MATRICES];
	struct xf_rng rng;
	struct xf_err e;
	FILE *f, *py;
	int all_inj = 1, all_sum = 1, all_opt = 1, got = 0;
	double worst = 0;

	if (mkdtemp(tap_tmp(dir, "test_lap")) == NULL)
		return 1;
	snprintf(path, sizeof path, "%s/m.txt", dir);
	xf_rng_seed(&rng, 13);
	f = fopen(path, "w");
	for (int i = 0; i < N_MATRICES; i++) {
		make_case(&cs[i], i, &rng);
		fprintf(f, "%d %d\n", cs[i].n, cs[i].m);
		for (size_t j = 0; j < (size_t)cs[i].n * cs[i].m; j++)
			fprintf(f, "%.17g ", cs[i].cost[j]);
		fprintf(f, "\n");
	}
	fclose(f);
	snprintf(path, sizeof path, "%s/lap.py", dir);
	f = fopen(path, "w");
	fputs(scipy_py, f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/lap.py %s/m.txt", dir, dir);
	py = popen(cmd, "r");
	for (int i = 0; i < N_MATRICES; i++) {
		int *a = malloc(cs[i].n * sizeof *a);
		double total, ref, sum = 0;

		if (py == NULL || fscanf(py, "%lf", &ref) != 1)
			break;
		got++;
		if (xf_lap_solve(cs[i].cost, cs[i].n, cs[i].m, a, &total, &e) < 0) {
			all_opt = 0;
			free(a);
			continue;
		}
		if (!is_injection(a, cs[i].n, cs[i].m))
			all_inj = 0;
		for (int r = 0; r < cs[i].n; r++)
			sum += cs[i].cost[(size_t)r * cs[i].m + a[r]];
		if (sum != total)
			all_sum = 0;
		double d = fabs(total - ref) / (1 + fabs(ref));
		if (d > worst)
			worst = d;
		if (d > 1e-12) {
			all_opt = 0;
			printf("# matrix %d (%dx%d): total %.17g, scipy %.17g\n", i,
			    cs[i].n, cs[i].m, total, ref);
		}
		free(a);
	}
	ok(py != NULL && pclose(py) == 0 && got == N_MATRICES,
	    "scipy's linear_sum_assignment ran on all %d matrices (got %d)",
	    N_MATRICES, got);
	ok(all_opt, "optimal total equals scipy's on every matrix (worst "
	    "relative difference %.3g)", worst);
	ok(all_inj, "every assignment is injective (a permutation when square)");
	ok(all_sum, "the total reported is the sum of the assigned costs");

	double nan_cost[4] = { 1, 2, NAN, 4 }, inf_cost[4] = { 1, INFINITY, 3, 4 };
	int a2[2];
	ok(xf_lap_solve(nan_cost, 2, 2, a2, NULL, &e) < 0 &&
	    strstr(e.msg, "cost (1, 0) is nan") != NULL,
	    "a NaN cost is refused, naming it (%s)", e.msg);
	ok(xf_lap_solve(inf_cost, 2, 2, a2, NULL, &e) < 0 &&
	    strstr(e.msg, "cost (0, 1) is infinite") != NULL,
	    "an infinite cost is refused (%s)", e.msg);
	ok(xf_lap_solve(nan_cost, 2, 1, a2, NULL, &e) < 0,
	    "more rows than columns is refused (%s)", e.msg);
	ok(xf_lap_solve(nan_cost, 0, 0, a2, NULL, &e) == 0,
	    "an empty problem is solved");

	for (int i = 0; i < N_MATRICES; i++)
		free(cs[i].cost);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return tap_done();
}
