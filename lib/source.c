#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "data.h"

int
xf_source_read(struct xf_source *s, size_t idx, void *x, struct xf_err *err)
{
	if (idx >= s->n)
		return xf_errf(err, "record %zu: past the last (%zu)", idx, s->n);
	return s->read(s, idx, x, err);
}

void
xf_source_free(struct xf_source *s)
{
	if (s->close != NULL)
		s->close(s);
	for (int i = 0; i < s->n_prov; i++)
		free(s->prov[i]);
	free(s->y);
	memset(s, 0, sizeof *s);
}

void
xf_source_prov(struct xf_source *s, const char *fmt, ...)
{
	va_list ap;
	char *line;

	if (s->n_prov == XF_SOURCE_PROV)
		return;
	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) >= 0)
		s->prov[s->n_prov++] = line;
	va_end(ap);
}

void
xf_source_prov_classes(struct xf_source *s, const char *const *names,
    size_t n)
{
	char line[1024];
	size_t off = 0;

	for (size_t k = 0; k < n; k++) {
		if (off > 900) {
			xf_source_prov(s, "%s", line);
			off = 0;
		}
		off += snprintf(line + off, sizeof line - off, "%s%zu %.400s",
		    off ? ", " : "# classes ", k, names[k]);
	}
	if (off > 0)
		xf_source_prov(s, "%s", line);
}

/* ---- an image set already in memory ---- */

static int
images_read(struct xf_source *s, size_t idx, void *x, struct xf_err *err)
{
	struct xf_images *set = s->impl;

	memcpy(x, set->x + idx * s->xsize, s->xsize);
	return 0;
}

static void
images_close(struct xf_source *s)
{
	xf_images_free(s->impl);
	free(s->impl);
}

int
xf_source_images(struct xf_source *s, struct xf_images *set,
    struct xf_err *err)
{
	struct xf_images *own = malloc(sizeof *own);

	memset(s, 0, sizeof *s);
	if (own == NULL || (s->y = malloc(set->n + 1)) == NULL) {
		free(own);
		return xf_errf(err, "out of memory");
	}
	*own = *set;
	memset(set, 0, sizeof *set);
	strcpy(s->kind, "images");
	s->ndim = 3;
	s->shape[0] = own->c, s->shape[1] = own->h, s->shape[2] = own->w;
	s->xsize = xf_images_size(own);
	s->n_classes = own->n_classes;
	s->n = own->n;
	memcpy(s->y, own->y, own->n);
	s->read = images_read;
	s->close = images_close;
	s->impl = own;
	return 0;
}

/* ---- sha256 (glib's GChecksum; glib comes with libvips) ---- */

int
xf_sha256_file(const char *path, char hex[65], struct xf_err *err)
{
	GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
	FILE *f = fopen(path, "rb");
	unsigned char buf[1 << 16];
	size_t n;
	int r = 0;

	if (f == NULL) {
		g_checksum_free(sum);
		return xf_errf(err, "%s: %s", path, strerror(errno));
	}
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		g_checksum_update(sum, buf, n);
	if (ferror(f))
		r = xf_errf(err, "%s: %s", path, strerror(errno));
	else
		snprintf(hex, 65, "%s", g_checksum_get_string(sum));
	fclose(f);
	g_checksum_free(sum);
	return r;
}
