/*
 * tool.h: what every xf tool does the same way, and lib must not: exit.
 * Messages go through err(3), so they start with the tool's name.
 * Exit codes: 0 success, 1 bad data or failure, 2 usage.
 */
#ifndef XF_TOOL_H
#define XF_TOOL_H

#include "xf.h"

/* Integer option value in [min, max]; otherwise "OPT VALUE: ..." and exit 2. */
long long tool_int(const char *opt, const char *arg, long long min,
    long long max);
/* Floating option value in [min, max]; otherwise exit 2. */
double tool_float(const char *opt, const char *arg, double min, double max);
/* "a,b,c" into ints in [min, max]; returns how many (at most cap). */
int tool_int_list(const char *opt, const char *arg, long long min,
    long long max, long long *out, int cap);
/* Quiet exit 0 when the reader went away (EPIPE), else "FILE: msg", exit 1. */
void tool_write_failed(const char *file, const struct xf_err *e)
    __attribute__((noreturn));
/* The same for a stdio output: quiet exit 0 on EPIPE, else "FILE: strerror". */
void tool_output_failed(const char *name) __attribute__((noreturn));
/* Name to print for a path: "stdin"/"stdout" for "-" or NULL. */
const char *tool_in_name(const char *path);
const char *tool_out_name(const char *path);
/* fflush + ferror + fclose on a stdio output (sbase's fshut); exit 1 on error. */
void tool_fshut(FILE *f, const char *name);
/* Threads for BLIS and the kernels, from -j ("0" or absent: all cores).
 * Also picks BLIS's AVX-512 kernels where the CPU has them: call it before
 * any BLIS work. */
int tool_threads(const char *arg);

/*
 * Output streams, the same way in every tool: failures exit 1 with
 * "xf-TOOL: FILE: what", a reader that went away exits 0 quietly.
 */
struct xf_model;
/* A table header of kind: the data's classes and provenance, then self. */
void tool_table_header(struct xf_header *h, const char *kind,
    const struct xf_header *data, const char *self);
/* Opens path ("-" or NULL: stdout) and writes h. */
struct xf_writer *tool_writer_open(const char *path, const struct xf_header *h);
/* tool_table_header and tool_writer_open in one. */
struct xf_writer *tool_table_open(const char *path, const char *kind,
    const struct xf_header *data, const char *self);
/* A text output: "-" or NULL is stdout, a file is written beside path and
 * renamed over it by tool_fclose; an input as output is refused (exit 1). */
FILE *tool_fopen(const char *path);
void tool_fclose(FILE *f, const char *path);
void tool_record_end(struct xf_writer *w, const char *path);
/* Flushes and closes w (NULL is fine). */
void tool_writer_close(struct xf_writer *w, const char *path);
/* The model in checkpoint path, or exit 1 naming the file and tensor. */
struct xf_model *tool_model_load(const char *path);

/*
 * The modules of m (loaded from path) named in list, "a,b,c", into out in
 * the list's order; returns how many.  A name m has not, a name given
 * twice (when unique), or more than cap names is a usage error naming opt
 * ("--modules fc1,x: a.tar has no module x"), exit 2.
 */
int tool_modules(const struct xf_model *m, const char *path, const char *opt,
    const char *list, int unique, int *out, int cap);

#endif
