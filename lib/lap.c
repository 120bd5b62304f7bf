/*
 * lap.c: the linear assignment problem by shortest augmenting paths with
 * dual potentials (Jonker and Volgenant 1987, in the form of Crouse 2016,
 * "On implementing 2D rectangular assignment algorithms", which is also
 * SciPy's): rows enter one at a time, each through a Dijkstra search over
 * the reduced costs cost − u − v of the columns not yet reached, ending at
 * the first free column at the least distance; the potentials are updated
 * once per row.  O(n²m) at worst, in double.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "align.h"

struct lap {
	const double *cost;
	int n, m;
	double *u, *v, *dist;     /* (n), (m), (m) */
	int *path, *row4col, *col4row, *remaining;
	char *row_seen, *col_seen;
};

/* The search from row i; returns the free column reached and sets *min to
 * its distance.  Ties prefer a free column, so the search stops early. */
static int
augment(struct lap *l, int i, double *min)
{
	int left = l->m, sink = -1;
	double dmin = 0;

	for (int k = 0; k < l->m; k++) {
		l->remaining[k] = l->m - k - 1;
		l->dist[k] = INFINITY;
		l->col_seen[k] = 0;
	}
	memset(l->row_seen, 0, l->n);
	while (sink < 0) {
		const double *c = l->cost + (size_t)i * l->m;
		double lowest = INFINITY, ui = l->u[i];
		int at = -1, j;

		l->row_seen[i] = 1;
		for (int k = 0; k < left; k++) {
			double r;

			j = l->remaining[k];
			r = dmin + c[j] - ui - l->v[j];
			if (r < l->dist[j]) {
				l->path[j] = i;
				l->dist[j] = r;
			}
			if (l->dist[j] < lowest ||
			    (l->dist[j] == lowest && l->row4col[j] < 0)) {
				lowest = l->dist[j];
				at = k;
			}
		}
		dmin = lowest;
		j = l->remaining[at];
		if (l->row4col[j] < 0)
			sink = j;
		else
			i = l->row4col[j];
		l->col_seen[j] = 1;
		l->remaining[at] = l->remaining[--left];
	}
	*min = dmin;
	return sink;
}

int
xf_lap_solve(const double *cost, int n, int m, int *assign, double *total,
    struct xf_err *err)
{
	struct lap l = { .cost = cost, .n = n, .m = m };
	int rc = 0;

	if (n < 0 || m < 0 || n > m)
		return xf_errf(err, "cost matrix %dx%d: want rows <= columns", n,
		    m);
	for (size_t i = 0; i < (size_t)n * m; i++)
		if (!isfinite(cost[i]))
			return xf_errf(err, "cost (%zu, %zu) is %s", i / m, i % m,
			    isnan(cost[i]) ? "nan" : "infinite");
	l.u = calloc(n + 1, sizeof *l.u);
	l.v = calloc(m + 1, sizeof *l.v);
	l.dist = calloc(m + 1, sizeof *l.dist);
	l.path = calloc(m + 1, sizeof *l.path);
	l.row4col = malloc((m + 1) * sizeof *l.row4col);
	l.col4row = malloc((n + 1) * sizeof *l.col4row);
	l.remaining = calloc(m + 1, sizeof *l.remaining);
	l.row_seen = calloc(n + 1, 1);
	l.col_seen = calloc(m + 1, 1);
	if (l.u == NULL || l.v == NULL || l.dist == NULL || l.path == NULL ||
	    l.row4col == NULL || l.col4row == NULL || l.remaining == NULL ||
	    l.row_seen == NULL || l.col_seen == NULL) {
		rc = xf_errf(err, "out of memory");
		goto out;
	}
	for (int j = 0; j < m; j++)
		l.row4col[j] = -1;
	for (int i = 0; i < n; i++)
		l.col4row[i] = -1;
	for (int row = 0; row < n; row++) {
		double min;
		int j = augment(&l, row, &min);

		l.u[row] += min;
		for (int i = 0; i < n; i++)
			if (l.row_seen[i] && i != row)
				l.u[i] += min - l.dist[l.col4row[i]];
		for (int k = 0; k < m; k++)
			if (l.col_seen[k])
				l.v[k] -= min - l.dist[k];
		for (;;) {	/* flip the path back to row */
			int i = l.path[j], t = l.col4row[i];

			l.row4col[j] = i;
			l.col4row[i] = j;
			j = t;
			if (i == row)
				break;
		}
	}
	memcpy(assign, l.col4row, n * sizeof *assign);
	if (total != NULL) {
		*total = 0;
		for (int i = 0; i < n; i++)
			*total += cost[(size_t)i * m + assign[i]];
	}
out:
	free(l.u);
	free(l.v);
	free(l.dist);
	free(l.path);
	free(l.row4col);
	free(l.col4row);
	free(l.remaining);
	free(l.row_seen);
	free(l.col_seen);
	return rc;
}
