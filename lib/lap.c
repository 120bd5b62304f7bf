/*
 * lap.c: the linear assignment problem by shortest augmenting paths with
 * dual potentials (Kuhn–Munkres in the form of Jonker and Volgenant 1987,
 * without their initialisation heuristics): rows enter one at a time, each
 * through a Dijkstra-like search over the reduced costs cost − u − v, so
 * the whole is O(n²m).  Everything in double.
 */
#include <math.h>
#include <stdlib.h>

#include "align.h"

int
xf_lap_solve(const double *cost, int n, int m, int *assign, double *total,
    struct xf_err *err)
{
	double *u, *v, *minv;
	int *p, *way;
	char *used;
	int rc = 0;

	if (n < 0 || m < 0 || n > m)
		return xf_errf(err, "cost matrix %dx%d: want rows <= columns", n,
		    m);
	for (size_t i = 0; i < (size_t)n * m; i++)
		if (!isfinite(cost[i]))
			return xf_errf(err, "cost (%zu, %zu) is %s", i / m, i % m,
			    isnan(cost[i]) ? "nan" : "infinite");
	/* 1-based: row 0 and column 0 are the search's virtual root. */
	u = calloc(n + 1, sizeof *u);
	v = calloc(m + 1, sizeof *v);
	minv = calloc(m + 1, sizeof *minv);
	p = calloc(m + 1, sizeof *p);
	way = calloc(m + 1, sizeof *way);
	used = calloc(m + 1, 1);
	if (u == NULL || v == NULL || minv == NULL || p == NULL || way == NULL ||
	    used == NULL) {
		rc = xf_errf(err, "out of memory");
		goto out;
	}
	for (int i = 1; i <= n; i++) {
		int j0 = 0;

		p[0] = i;
		for (int j = 0; j <= m; j++) {
			minv[j] = INFINITY;
			used[j] = 0;
		}
		do {
			int i0 = p[j0], j1 = 0;
			double delta = INFINITY;

			used[j0] = 1;
			for (int j = 1; j <= m; j++) {
				double cur;

				if (used[j])
					continue;
				cur = cost[(size_t)(i0 - 1) * m + j - 1] - u[i0] -
				    v[j];
				if (cur < minv[j]) {
					minv[j] = cur;
					way[j] = j0;
				}
				if (minv[j] < delta) {
					delta = minv[j];
					j1 = j;
				}
			}
			for (int j = 0; j <= m; j++) {
				if (used[j]) {
					u[p[j]] += delta;
					v[j] -= delta;
				} else
					minv[j] -= delta;
			}
			j0 = j1;
		} while (p[j0] != 0);
		do {
			int j1 = way[j0];

			p[j0] = p[j1];
			j0 = j1;
		} while (j0 != 0);
	}
	for (int j = 1; j <= m; j++)
		if (p[j] != 0)
			assign[p[j] - 1] = j - 1;
	if (total != NULL) {
		*total = 0;
		for (int i = 0; i < n; i++)
			*total += cost[(size_t)i * m + assign[i]];
	}
out:
	free(u);
	free(v);
	free(minv);
	free(p);
	free(way);
	free(used);
	return rc;
}
