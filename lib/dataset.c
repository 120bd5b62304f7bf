#include <stdlib.h>
#include <string.h>

#include "train.h"

static int
shape_of(struct xf_dataset *d, const struct xf_header *h, struct xf_err *err)
{
	if (strcmp(h->kind, "images") != 0 || strcmp(h->dtype, "uint8") != 0 ||
	    h->ndim != 3)
		return xf_errf(err, "header: kind \"%s\", dtype \"%s\" with %d dims: "
		    "want an image stream (uint8, C×H×W)", h->kind, h->dtype, h->ndim);
	if (h->n_classes < 1)
		return xf_errf(err, "header: images without classes");
	d->c = (int)h->shape[0];
	d->h = (int)h->shape[1];
	d->w = (int)h->shape[2];
	d->n_classes = (int)h->n_classes;
	return 0;
}

/* Grows d to hold cap examples. */
static int
reserve(struct xf_dataset *d, size_t cap, size_t *have, struct xf_err *err)
{
	size_t img = (size_t)d->c * d->h * d->w;
	uint8_t *x;
	int *y;
	int64_t *ix;

	if (cap <= *have)
		return 0;
	if ((x = realloc(d->x, cap * img)) != NULL)
		d->x = x;
	if ((y = realloc(d->y, cap * sizeof *y)) != NULL)
		d->y = y;
	if ((ix = realloc(d->index, cap * sizeof *ix)) != NULL)
		d->index = ix;
	if (x == NULL || y == NULL || ix == NULL)
		return xf_errf(err, "out of memory for %zu images", cap);
	*have = cap;
	return 0;
}

static long
read_records(struct xf_stream *s, struct xf_dataset *d, size_t max,
    size_t *have, struct xf_err *err)
{
	size_t img = (size_t)d->c * d->h * d->w;
	const struct xf_record *rec;
	int r = 0;

	d->n = 0;
	while (d->n < max && (r = xf_stream_next(s, &rec, err)) == 1) {
		if (d->n == *have &&
		    reserve(d, *have ? 2 * *have : 1024, have, err) < 0)
			return -1;
		memcpy(d->x + d->n * img, xf_record_x(rec), img);
		d->y[d->n] = (int)xf_record_y(rec);
		d->index[d->n] = xf_record_i(rec);
		d->n++;
	}
	return r < 0 ? -1 : (long)d->n;
}

int
xf_dataset_read(const char *path, struct xf_dataset *d, struct xf_err *err)
{
	struct xf_stream *s;
	size_t have = 0;
	long r;

	memset(d, 0, sizeof *d);
	if ((s = xf_stream_open(path, err)) == NULL)
		return -1;
	if (shape_of(d, xf_stream_header(s), err) < 0) {
		xf_stream_close(s);
		return -1;
	}
	xf_header_copy(&d->header, xf_stream_header(s));
	/* The count is checked as records arrive: from a pipe, reserve no
	 * more than 65536 records on its word alone. */
	if (d->header.count > 0 && reserve(d, d->header.count < 65536 ?
	    (size_t)d->header.count : 65536, &have, err) < 0) {
		xf_stream_close(s);
		xf_dataset_free(d);
		return -1;
	}
	r = read_records(s, d, SIZE_MAX, &have, err);
	xf_stream_close(s);
	if (r < 0) {
		xf_dataset_free(d);
		return -1;
	}
	if (d->n == 0) {
		xf_dataset_free(d);
		return xf_errf(err, "no records");
	}
	return 0;
}

long
xf_dataset_read_batch(struct xf_stream *s, struct xf_dataset *d, size_t max,
    struct xf_err *err)
{
	size_t have;

	if (d->x == NULL) {
		if (shape_of(d, xf_stream_header(s), err) < 0)
			return -1;
		have = 0;
		if (reserve(d, max, &have, err) < 0)
			return -1;
	}
	have = max;
	return read_records(s, d, max, &have, err);
}

void
xf_dataset_free(struct xf_dataset *d)
{
	free(d->x);
	free(d->y);
	free(d->index);
	xf_header_free(&d->header);
	memset(d, 0, sizeof *d);
}

char *
xf_header_prov_line(const struct xf_header *h)
{
	size_t len = 1;
	char *s;

	for (int i = 0; i < h->n_prov; i++)
		len += strlen(h->prov[i]) + 2;
	if ((s = malloc(len)) == NULL)
		return NULL;
	s[0] = 0;
	for (int i = 0; i < h->n_prov; i++) {
		if (i)
			strcat(s, "; ");
		strcat(s, h->prov[i]);
	}
	return s;
}
