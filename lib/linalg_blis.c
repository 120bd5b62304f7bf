/* linalg_blis.c: the BLIS side of linalg.h, apart from lapacke.h. */
#include <blis.h>

#include "linalg.h"

rntm_t *
xf_rntm(rntm_t *r, int threads, double flops)
{
	if (threads <= 0)
		return NULL;
	bli_rntm_init(r);
	bli_rntm_set_num_threads(flops < 5e7 ? 1 : threads, r);
	return r;
}
