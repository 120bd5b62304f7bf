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
/* Name to print for a path: "stdin"/"stdout" for "-" or NULL. */
const char *tool_in_name(const char *path);
const char *tool_out_name(const char *path);
/* fflush + ferror + fclose on a stdio output (sbase's fshut); exit 1 on error. */
void tool_fshut(FILE *f, const char *name);
/* Threads for BLIS and the kernels, from -j ("0" or absent: all cores).
 * Also picks BLIS's AVX-512 kernels where the CPU has them: call it before
 * any BLIS work. */
int tool_threads(const char *arg);

#endif
