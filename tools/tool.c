#include <err.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"
#include "train.h"

/*
 * Every tool links this file, so this runs before each tool's main.
 * Over a file size limit (ulimit -f) a write fails with EFBIG and is reported
 * like any other write error instead of killing the tool by SIGXFSZ.  A
 * reader that goes away makes the next write fail with EPIPE instead of
 * killing the tool by SIGPIPE, wherever it is (even mid-checkpoint); the
 * write's caller then ends quietly with exit 0 (tool_output_failed).
 */
static void
tool_killed(int sig)
{
	xf_out_abort_all();
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * An output's temporary goes when the tool exits without finishing it
 * (exit 1 after a bad record) or is stopped by SIGINT, SIGTERM or SIGHUP;
 * only SIGKILL leaves one, which the next run onto that output removes.
 */
__attribute__((constructor)) static void
tool_signals(void)
{
	signal(SIGXFSZ, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	atexit(xf_out_abort_all);
	signal(SIGINT, tool_killed);
	signal(SIGTERM, tool_killed);
	signal(SIGHUP, tool_killed);
}

long long
tool_int(const char *opt, const char *arg, long long min, long long max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (end == arg || *end != 0 || errno == ERANGE || v < min || v > max)
		errx(2, "%s %s: want an integer in %lld..%lld", opt, arg, min, max);
	return v;
}

double
tool_float(const char *opt, const char *arg, double min, double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (end == arg || *end != 0 || errno == ERANGE || !isfinite(v) ||
	    v < min || v > max)
		errx(2, "%s %s: want a number in %g..%g", opt, arg, min, max);
	return v;
}

int
tool_int_list(const char *opt, const char *arg, long long min, long long max,
    long long *out, int cap)
{
	char *copy = strdup(arg), *p = copy, *tok;
	int n = 0;

	if (copy == NULL)
		err(1, NULL);
	while ((tok = strsep(&p, ",")) != NULL) {
		if (n == cap)
			errx(2, "%s %s: more than %d values", opt, arg, cap);
		out[n++] = tool_int(opt, tok, min, max);
	}
	free(copy);
	return n;
}

const char *
tool_in_name(const char *path)
{
	return path == NULL || strcmp(path, "-") == 0 ? "stdin" : path;
}

const char *
tool_out_name(const char *path)
{
	return path == NULL || strcmp(path, "-") == 0 ? "stdout" : path;
}

void
tool_write_failed(const char *file, const struct xf_err *e)
{
	if (errno == EPIPE)
		exit(0);
	errx(1, "%s: %s", file, e->msg);
}

void
tool_output_failed(const char *name)
{
	if (errno == EPIPE)
		exit(0);
	err(1, "%s", name);
}

void
tool_fshut(FILE *f, const char *name)
{
	int bad = fflush(f) != 0 || ferror(f);

	if (fclose(f) != 0 || bad)
		tool_output_failed(name);
}

int
tool_threads(const char *arg)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	xf_blis_setup();
	if (arg != NULL && tool_int("-j", arg, 0, 1024) > 0)
		return (int)tool_int("-j", arg, 0, 1024);
	return n > 0 ? (int)n : 1;
}

void
tool_table_header(struct xf_header *h, const char *kind,
    const struct xf_header *data, const char *self)
{
	memset(h, 0, sizeof *h);
	snprintf(h->kind, sizeof h->kind, "%s", kind);
	h->count = -1;
	h->n_classes = data->n_classes;
	for (int i = 0; i < data->n_prov; i++)
		xf_header_add_prov(h, data->prov[i]);
	xf_header_add_prov(h, self);
}

struct xf_writer *
tool_writer_open(const char *path, const struct xf_header *h)
{
	struct xf_err e;
	struct xf_writer *w = xf_writer_open(path, &e);

	if (w == NULL)
		errx(1, "%s: %s", tool_out_name(path), e.msg);
	if (xf_writer_header(w, h, &e) < 0)
		tool_write_failed(tool_out_name(path), &e);
	return w;
}

struct xf_writer *
tool_table_open(const char *path, const char *kind,
    const struct xf_header *data, const char *self)
{
	struct xf_header h;
	struct xf_writer *w;

	tool_table_header(&h, kind, data, self);
	w = tool_writer_open(path, &h);
	xf_header_free(&h);
	return w;
}

/* Text outputs (xf-cat's TSV, JSON and PNG) go through xf_out as well. */
static struct {
	FILE *f;
	struct xf_out o;
} text_out[4];

FILE *
tool_fopen(const char *path)
{
	struct xf_err e;
	struct xf_out o;
	FILE *f;
	int i;

	if (path == NULL || strcmp(path, "-") == 0) {
		if (xf_out_open(&o, path, &e) < 0)
			errx(1, "stdout: %s", e.msg);
		return stdout;
	}
	for (i = 0; i < 4 && text_out[i].f != NULL; i++)
		;
	if (i == 4)
		errx(1, "%s: too many text outputs", path);
	if (xf_out_open(&o, path, &e) < 0)
		errx(1, "%s: %s", path, e.msg);
	if ((f = fdopen(o.fd, "w")) == NULL)
		err(1, "%s", path);
	o.own = 0;      /* fclose closes the descriptor */
	text_out[i].f = f;
	text_out[i].o = o;
	return f;
}

void
tool_fclose(FILE *f, const char *path)
{
	struct xf_err e;
	int i;

	for (i = 0; i < 4 && text_out[i].f != f; i++)
		;
	if (i == 4 || f == stdout) {
		tool_fshut(f, tool_out_name(path));
		return;
	}
	text_out[i].f = NULL;
	if (fflush(f) != 0 || ferror(f))
		tool_output_failed(path);
	/* The descriptor stays open for the commit's own sync and close. */
	if ((text_out[i].o.fd = dup(fileno(f))) < 0 || fclose(f) != 0)
		tool_output_failed(path);
	text_out[i].o.own = 1;
	if (xf_out_commit(&text_out[i].o, &e) < 0)
		tool_write_failed(path, &e);
}

void
tool_record_end(struct xf_writer *w, const char *path)
{
	struct xf_err e;

	if (xf_writer_end(w, &e) < 0)
		tool_write_failed(tool_out_name(path), &e);
}

void
tool_writer_close(struct xf_writer *w, const char *path)
{
	struct xf_err e;

	if (w != NULL && xf_writer_close(w, &e) < 0)
		tool_write_failed(tool_out_name(path), &e);
}

/*
 * The models a tool has loaded stay reachable from here, so that an error
 * exit after loading (errx with models still live) is not a leak to
 * LeakSanitizer; the tools free their models themselves on success.
 */
static struct xf_model *loaded[64];
static int n_loaded;

struct xf_model *
tool_model_load(const char *path)
{
	struct xf_ckpt c = { 0 };
	struct xf_model *m;
	struct xf_err e;

	if (xf_ckpt_read(path, &c, &e) < 0 || (m = xf_model_load(&c, &e)) == NULL)
		errx(1, "%s: %s", path, e.msg);
	xf_ckpt_free(&c);
	if (n_loaded < (int)(sizeof loaded / sizeof loaded[0]))
		loaded[n_loaded++] = m;
	return m;
}

int
tool_modules(const struct xf_model *m, const char *path, const char *opt,
    const char *list, int unique, int *out, int cap)
{
	char *copy = strdup(list), *p = copy, *tok;
	int n = 0;

	if (copy == NULL)
		err(1, NULL);
	while ((tok = strsep(&p, ",")) != NULL) {
		int k = xf_model_find_module(m, tok);

		if (k < 0)
			errx(2, "%s %s: %s has no module %s", opt, list, path, tok);
		for (int i = 0; unique && i < n; i++)
			if (out[i] == k)
				errx(2, "%s %s: %s twice", opt, list, tok);
		if (n == cap)
			errx(2, "%s: at most %d modules", opt, cap);
		out[n++] = k;
	}
	free(copy);
	return n;
}
