/*
 * images.c: an image set's size and its release.  See data.h.
 */
#include <stdlib.h>
#include <string.h>

#include "data.h"

size_t
xf_images_size(const struct xf_images *s)
{
	return (size_t)(s->c * s->h * s->w);
}

void
xf_images_free(struct xf_images *s)
{
	free(s->x);
	free(s->y);
	memset(s, 0, sizeof *s);
}
