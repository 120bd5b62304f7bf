/*
 * tally.c: evaluation results summed over batches, and the agreement of
 * two models' mistakes.  See train.h.
 */
#include "train.h"

void
xf_eval_result_add(struct xf_eval_result *sum, const struct xf_eval_result *r)
{
	sum->n += r->n;
	sum->correct += r->correct;
	sum->loss_sum += r->loss_sum;
}

void
xf_mistakes_add(struct xf_mistakes *t, const int *pred_a, const int *pred_b,
    const int *y, size_t n)
{
	for (size_t j = 0; j < n; j++) {
		int wa = pred_a[j] != y[j];
		int wb = pred_b[j] != y[j];

		t->both_right += !wa && !wb;
		t->both_wrong += wa && wb;
		t->same_wrong += wa && wb && pred_a[j] == pred_b[j];
		t->only_a += wa && !wb;
		t->only_b += !wa && wb;
	}
}
