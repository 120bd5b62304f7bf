#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <vips/vips.h>

#include "data.h"

/*
 * The folder source (see data.h).  Opening lists the tree as torchvision's
 * ImageFolder does, then reads every file once: its sha256, and its header
 * (size, grey or colour), so that a mixed size or a file that is no image
 * is found before any record goes out.  Reading a record reads the file
 * again and decodes it (imgdecode.c).
 */

#define MAX_CLASSES 256
#define MAX_FILE    (64 << 20)    /* bytes of one image file, at most */

struct file {
	char *path;               /* relative to the folder: "cat/a.png" */
	uint8_t label;
};

struct folder {
	char *dir;
	struct file *files;
	size_t n, cap;
	int channels;             /* output C */
	int h, w;                 /* output H, W */
	int resize;
	unsigned char *data;      /* the current file's bytes */
	size_t len, data_cap;
	uint8_t *pix, *pix2;      /* (H, W, C) decoded, converted */
	size_t pix_cap, pix2_cap;
	int vips_on;
};

/* ---- listing ---- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The suffixes torchvision's IMG_EXTENSIONS takes, compared without case. */
static int
image_name(const char *name)
{
	static const char *ext[] = { ".jpg", ".jpeg", ".png", ".ppm", ".bmp",
	    ".pgm", ".tif", ".tiff", ".webp" };
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
		size_t k = strlen(ext[i]);

		if (n >= k && strcasecmp(name + n - k, ext[i]) == 0)
			return 1;
	}
	return 0;
}

struct names {
	char **v;
	size_t n, cap;
};

static int
names_add(struct names *l, char *s)
{
	if (s == NULL)
		return -1;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		char **v = realloc(l->v, cap * sizeof *v);

		if (v == NULL) {
			free(s);
			return -1;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = s;
	return 0;
}

/* Byte order (qsort is not given a NULL array, even of 0 items). */
static void
names_sort(struct names *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof *l->v, cmp_str);
}

static void
names_free(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof *l);
}

static char *
join(const char *a, const char *b)
{
	char *s;

	return asprintf(&s, "%s/%s", a, b) < 0 ? NULL : s;
}

/*
 * Entries of dir (relative path rel under root): subdirectories into dirs
 * (following symbolic links), image files into files, each as a path
 * relative to root.
 */
static int
list_dir(const char *root, const char *rel, struct names *dirs,
    struct names *files, struct xf_err *err)
{
	char *full = strcmp(rel, ".") == 0 ? strdup(root) : join(root, rel);
	DIR *d;
	struct dirent *e;
	int r = 0;

	if (full == NULL)
		return xf_errf(err, "out of memory");
	if ((d = opendir(full)) == NULL) {
		r = xf_errf(err, "%s: %s", full, strerror(errno));
		free(full);
		return r;
	}
	while (r == 0 && (e = readdir(d)) != NULL) {
		struct stat st;
		char *path, *sub;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if ((path = join(full, e->d_name)) == NULL ||
		    (sub = join(rel, e->d_name)) == NULL) {
			free(path);
			r = xf_errf(err, "out of memory");
			break;
		}
		int sr = stat(path, &st);

		if (sr == 0 && S_ISDIR(st.st_mode)) {
			if (names_add(dirs, sub) < 0)
				r = xf_errf(err, "out of memory");
		} else if (sr < 0 && errno == ELOOP) {
			r = xf_errf(err, "%s: symbolic link loop", path);
			free(sub);
		} else if (image_name(e->d_name)) {
			if (names_add(files, sub) < 0)
				r = xf_errf(err, "out of memory");
		} else
			free(sub);
		free(path);
	}
	closedir(d);
	free(full);
	return r;
}

/* Whether directory path (dev, ino) is already on the walk's chain. */
struct chain {
	dev_t dev;
	ino_t ino;
	const struct chain *up;
};

/*
 * All directories of the tree at root/rel, rel first, into all; a
 * directory that is its own ancestor (a link loop) is an error, where
 * torchvision's os.walk(followlinks=True) would not end.
 */
static int
walk(const char *root, const char *rel, const struct chain *up,
    struct names *all, struct xf_err *err)
{
	struct names dirs = { 0 }, files = { 0 };
	struct chain here;
	struct stat st;
	char *full = join(root, rel);
	int r = 0;

	if (full == NULL || names_add(all, strdup(rel)) < 0) {
		free(full);
		return xf_errf(err, "out of memory");
	}
	if (stat(full, &st) < 0) {
		r = xf_errf(err, "%s: %s", full, strerror(errno));
		free(full);
		return r;
	}
	for (const struct chain *c = up; c != NULL; c = c->up)
		if (c->dev == st.st_dev && c->ino == st.st_ino) {
			r = xf_errf(err, "%s: symbolic link loop (a directory "
			    "inside itself)", full);
			free(full);
			return r;
		}
	free(full);
	here.dev = st.st_dev;
	here.ino = st.st_ino;
	here.up = up;
	if (list_dir(root, rel, &dirs, &files, err) < 0)
		r = -1;
	for (size_t i = 0; r == 0 && i < dirs.n; i++)
		r = walk(root, dirs.v[i], &here, all, err);
	names_free(&dirs);
	names_free(&files);
	return r;
}

static int
add_file(struct folder *f, char *path, int label)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 256;
		struct file *v = realloc(f->files, cap * sizeof *v);

		if (v == NULL)
			return -1;
		f->files = v;
		f->cap = cap;
	}
	f->files[f->n].path = path;
	f->files[f->n].label = (uint8_t)label;
	f->n++;
	return 0;
}

/* The images of class cls, in torchvision's order, into f. */
static int
list_class(struct folder *f, const char *cls, int label, struct xf_err *err)
{
	struct names all = { 0 };
	size_t before = f->n;
	int r;

	r = walk(f->dir, cls, NULL, &all, err);
	/* os.walk's roots, sorted as strings; files by name in each. */
	names_sort(&all);
	for (size_t i = 0; r == 0 && i < all.n; i++) {
		struct names dirs = { 0 }, files = { 0 };

		r = list_dir(f->dir, all.v[i], &dirs, &files, err);
		names_sort(&files);
		for (size_t j = 0; r == 0 && j < files.n; j++) {
			if (add_file(f, files.v[j], label) < 0)
				r = xf_errf(err, "out of memory");
			else
				files.v[j] = NULL;
		}
		names_free(&dirs);
		names_free(&files);
	}
	names_free(&all);
	if (r == 0 && f->n == before)
		r = xf_errf(err, "%s/%s: no image files (an empty class folder)",
		    f->dir, cls);
	return r;
}

static int
list_classes(const char *dir, struct names *classes, struct xf_err *err)
{
	struct names files = { 0 };
	int r;

	if ((r = list_dir(dir, ".", classes, &files, err)) == 0) {
		/* list_dir gives "./NAME": keep NAME. */
		for (size_t i = 0; i < classes->n; i++)
			memmove(classes->v[i], classes->v[i] + 2,
			    strlen(classes->v[i]) - 1);
		names_sort(classes);
		if (classes->n == 0)
			r = xf_errf(err, "%s: no class folders", dir);
		else if (classes->n > MAX_CLASSES)
			r = xf_errf(err, "%s: %zu class folders, at most %d", dir,
			    classes->n, MAX_CLASSES);
	}
	names_free(&files);
	return r;
}

/* ---- reading and decoding one file ---- */

static int
read_file(struct folder *f, const char *rel, struct xf_err *err)
{
	char *path = join(f->dir, rel);
	FILE *fp;
	int r = 0;

	if (path == NULL)
		return xf_errf(err, "out of memory");
	if ((fp = fopen(path, "rb")) == NULL) {
		r = xf_errf(err, "%s: %s", path, strerror(errno));
		free(path);
		return r;
	}
	xf_input_note(fileno(fp));
	f->len = 0;
	for (;;) {
		size_t k;

		if (f->len == f->data_cap) {
			size_t cap = f->data_cap ? 2 * f->data_cap : 1 << 16;
			unsigned char *p;

			if (cap > MAX_FILE || (p = realloc(f->data, cap)) == NULL) {
				r = xf_errf(err, "%s: over %d MiB", path,
				    MAX_FILE >> 20);
				break;
			}
			f->data = p;
			f->data_cap = cap;
		}
		k = fread(f->data + f->len, 1, f->data_cap - f->len, fp);
		f->len += k;
		if (k == 0) {
			if (ferror(fp))
				r = xf_errf(err, "%s: %s", path, strerror(errno));
			break;
		}
	}
	fclose(fp);
	free(path);
	return r;
}

/* The current file (f->data): header only, or decoded into f->pix. */
static int
decode(struct folder *f, const char *rel, struct xf_image *in, int pixels,
    struct xf_err *err)
{
	struct xf_err e;

	if (xf_image_decode(f->data, f->len, in, pixels ? &f->pix : NULL,
	    &f->pix_cap, &e) < 0)
		return xf_errf(err, "%s/%s: %s", f->dir, rel, e.msg);
	return 0;
}

/* ---- records ---- */

static int
resize(struct folder *f, const char *rel, int w, int h, struct xf_err *err)
{
	VipsImage *in, *out = NULL;
	void *mem = NULL;
	size_t size = 0;
	int r = 0;

	if (!f->vips_on) {
		if (VIPS_INIT("xf-import"))
			return xf_errf(err, "libvips: %s", vips_error_buffer());
		/* No operation cache: it would keep images of earlier files. */
		vips_cache_set_max(0);
		vips_concurrency_set(1);
		f->vips_on = 1;
	}
	in = vips_image_new_from_memory(f->pix2, (size_t)w * h * f->channels, w,
	    h, f->channels, VIPS_FORMAT_UCHAR);
	if (in == NULL || vips_resize(in, &out, (double)f->w / w, "vscale",
	    (double)f->h / h, NULL) != 0 ||
	    (mem = vips_image_write_to_memory(out, &size)) == NULL)
		r = xf_errf(err, "%s/%s: libvips: %s", f->dir, rel,
		    vips_error_buffer());
	else if (out->Xsize != f->w || out->Ysize != f->h ||
	    size != (size_t)f->w * f->h * f->channels)
		r = xf_errf(err, "%s/%s: libvips made %dx%d, want %dx%d", f->dir,
		    rel, out->Ysize, out->Xsize, f->h, f->w);
	else if (xf_grow(&f->pix2, &f->pix2_cap, size) < 0)
		r = xf_errf(err, "out of memory");
	else
		memcpy(f->pix2, mem, size);
	vips_error_clear();
	g_free(mem);
	if (out != NULL)
		g_object_unref(out);
	if (in != NULL)
		g_object_unref(in);
	return r;
}

static int
folder_read(struct xf_source *s, size_t idx, void *x, struct xf_err *err)
{
	struct folder *f = s->impl;
	const char *rel = f->files[idx].path;
	struct xf_image in;
	size_t hw;
	uint8_t *out = x;

	if (read_file(f, rel, err) < 0 || decode(f, rel, &in, 1, err) < 0)
		return -1;
	if (!f->resize && (in.w != f->w || in.h != f->h))
		return xf_errf(err, "%s/%s: %dx%d, the folder's images are %dx%d",
		    f->dir, rel, in.h, in.w, f->h, f->w);
	hw = (size_t)in.w * in.h;
	if (xf_grow(&f->pix2, &f->pix2_cap, hw * 3) < 0)
		return xf_errf(err, "out of memory");
	/* Channels: PIL's convert("L") and convert("RGB"). */
	for (size_t p = 0; p < hw; p++) {
		const uint8_t *v = f->pix + p * in.c;

		if (in.c == f->channels)
			memcpy(f->pix2 + p * in.c, v, in.c);
		else if (f->channels == 1)
			f->pix2[p] = (uint8_t)((v[0] * 19595 + v[1] * 38470 +
			    v[2] * 7471 + 0x8000) >> 16);
		else
			memset(f->pix2 + p * 3, v[0], 3);
	}
	if ((in.w != f->w || in.h != f->h) &&
	    resize(f, rel, in.w, in.h, err) < 0)
		return -1;
	hw = (size_t)f->w * f->h;
	for (size_t p = 0; p < hw; p++)
		for (int k = 0; k < f->channels; k++)
			out[k * hw + p] = f->pix2[p * f->channels + k];
	return 0;
}

static void
folder_close(struct xf_source *s)
{
	struct folder *f = s->impl;

	for (size_t i = 0; i < f->n; i++)
		free(f->files[i].path);
	free(f->files);
	free(f->dir);
	free(f->data);
	free(f->pix);
	free(f->pix2);
	if (f->vips_on)
		vips_shutdown();
	free(f);
}

/* The provenance: the class mapping, and one sha256 for all files. */
static int
folder_check(struct xf_source *s, struct folder *f,
    const struct xf_folder_opts *o, struct xf_err *err)
{
	GChecksum *list = g_checksum_new(G_CHECKSUM_SHA256);
	struct xf_image first = { 0 }, in;
	size_t first_at = 0;
	int r = 0;

	for (size_t i = 0; r == 0 && i < f->n; i++) {
		const char *rel = f->files[i].path;
		char line[64 + 3];
		gchar *one;

		if (read_file(f, rel, err) < 0 || decode(f, rel, &in, 0, err) < 0) {
			r = -1;
			break;
		}
		one = g_compute_checksum_for_data(G_CHECKSUM_SHA256, f->data,
		    f->len);
		snprintf(line, sizeof line, "%s  ", one);
		g_free(one);
		g_checksum_update(list, (const guchar *)line, strlen(line));
		g_checksum_update(list, (const guchar *)rel, strlen(rel));
		g_checksum_update(list, (const guchar *)"\n", 1);
		if (i == 0) {
			first = in;
			continue;
		}
		if (!o->resize_h && (in.w != first.w || in.h != first.h))
			r = xf_errf(err, "%s/%s: %dx%d, but %s is %dx%d (give "
			    "--resize H,W)", f->dir, rel, in.h, in.w,
			    f->files[first_at].path, first.h, first.w);
		else if (!o->channels && in.c != first.c)
			r = xf_errf(err, "%s/%s: %s, but %s is %s (give --channels "
			    "1 or 3)", f->dir, rel, in.c == 1 ? "grey" : "colour",
			    f->files[first_at].path, first.c == 1 ? "grey" :
			    "colour");
	}
	if (r == 0) {
		f->channels = o->channels ? o->channels : first.c;
		f->h = o->resize_h ? o->resize_h : first.h;
		f->w = o->resize_w ? o->resize_w : first.w;
		f->resize = o->resize_h > 0;
		xf_source_prov(s, "# folder %s: %zu images, sha256 of their "
		    "sha256sum list %s", f->dir, f->n, g_checksum_get_string(list));
	}
	g_checksum_free(list);
	return r;
}

int
xf_folder_open(struct xf_source *s, const char *dir,
    const struct xf_folder_opts *o, struct xf_err *err)
{
	struct folder *f = calloc(1, sizeof *f);
	struct names classes = { 0 };
	int r;

	memset(s, 0, sizeof *s);
	if (f == NULL || (f->dir = strdup(dir)) == NULL) {
		free(f);
		return xf_errf(err, "out of memory");
	}
	s->impl = f;
	s->close = folder_close;
	s->read = folder_read;
	r = list_classes(dir, &classes, err);
	for (size_t k = 0; r == 0 && k < classes.n; k++)
		r = list_class(f, classes.v[k], (int)k, err);
	if (r == 0)
		r = folder_check(s, f, o, err);
	if (r == 0 && (s->y = malloc(f->n)) == NULL)
		r = xf_errf(err, "out of memory");
	if (r < 0) {
		names_free(&classes);
		xf_source_free(s);
		return -1;
	}
	for (size_t i = 0; i < f->n; i++)
		s->y[i] = f->files[i].label;
	strcpy(s->kind, "images");
	s->ndim = 3;
	s->shape[0] = f->channels, s->shape[1] = f->h, s->shape[2] = f->w;
	s->xsize = (size_t)f->channels * f->h * f->w;
	s->n = f->n;
	s->n_classes = (int64_t)classes.n;
	xf_source_prov_classes(s, (const char *const *)classes.v, classes.n);
	names_free(&classes);
	return 0;
}
