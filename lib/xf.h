/*
 * xf.h: libxf, the library under every xf tool.
 *
 * Overview
 *   - Errors (err.c): lib never prints and never exits.  A function that can
 *     fail returns 0 (or a non-negative count) on success and -1 on failure,
 *     and fills a caller-owned struct xf_err with one line of text naming
 *     what and where ("record 12: key 'x': bin of 784 bytes, want 28x28x1").
 *     The tool prefixes its own name and the file: "xf-cat: a.xfs: record
 *     12: ...".
 *   - Streams: msgpack maps, a header then records; see formats/stream.md.
 *     stream.c reads them (msgcheck.c vets the bytes first), writer.c
 *     writes them, render.c prints values as JSON or text.
 *   - Checkpoints (ckpt.c): tar files of a msgpack manifest and raw float32
 *     tensors; see formats/checkpoint.md.
 *   - Random numbers (rng.c) and the choice of BLIS kernels (gemm.c).
 *   - Option parsing and checked output belong to the tools, not lib:
 *     tools/tool.c.
 *
 * Map of lib: which header covers which files
 *	xf.h		err.c stream.c msgcheck.c writer.c render.c ckpt.c rng.c,
 *			and xf_blis_setup in gemm.c; pack.h (pack.c) is the
 *			msgpack packing writer.c and ckpt.c share
 *	nn.h		the engine.  Layers: conv.c conv_direct.c linear.c
 *			relu_maxpool.c batchnorm.c resid.c (residual add, global
 *			average pool, padded max pool); BLIS glue gemm.c; the
 *			thread pool threads.c; models: spec.c builds one from a
 *			spec string, model.c runs it; SGD optim.c.  nn_impl.h
 *			is the layers' private header, model_impl.h the models'.
 *	data.h		image data: idx.c mnistjson.c synth.c images.c select.c
 *			shuffle.c png.c; users' files for xf-import: source.c
 *			imgfolder.c imgdecode.c npy.c arrays.c cifar.c
 *	train.h		data in memory dataset.c, models in checkpoints
 *			modelio.c, the training loop trainer.c, features of a
 *			module features.c, evaluation sums and the mistakes
 *			table tally.c
 *	cka.h		cka.c (whole matrices) cka_acc.c (streams, minibatches);
 *			cka_impl.h between them
 *	landscape.h	interp.c critic.c
 *
 * Usage
 *	struct xf_err err;
 *	struct xf_stream *s = xf_stream_open_read("-", &err);
 *	if (s == NULL)
 *		errx(1, "%s: %s", "stdin", err.msg);
 */
#ifndef XF_H
#define XF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct xf_err {
	char msg[512];
};

int xf_errf(struct xf_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));



/*
 * Picks BLIS's AVX-512 kernels on CPUs that have them, unless the
 * environment chose (BLIS_ARCH_TYPE).  Call it before any BLIS work: every
 * tool does, through tool_threads.
 */
void xf_blis_setup(void);

/*
 * Random numbers: xoshiro256** seeded through splitmix64.  The whole state
 * is the four words, so a checkpoint can store it and a resumed run draws
 * the same numbers.  Every seeded thing in xf draws from one of these.
 */
struct xf_rng {
	uint64_t s[4];
};

void     xf_rng_seed(struct xf_rng *r, uint64_t seed);
/* splitmix64's finaliser: a bijection that moves every bit of x into every
 * bit of the result; for seeds derived from several numbers. */
uint64_t xf_rng_mix(uint64_t x);
uint64_t xf_rng_next(struct xf_rng *r);
/* Uniform in [0, n), unbiased (rejection); n > 0. */
uint64_t xf_rng_below(struct xf_rng *r, uint64_t n);
/* Uniform float in [0, 1), 24 random bits. */
float    xf_rng_uniform(struct xf_rng *r);
/* Standard normal, Box-Muller on two uniforms (no cached second value, so
 * the state is only the four words). */
float    xf_rng_normal(struct xf_rng *r);
/* Fisher-Yates shuffle of perm[0..n); fills perm with 0..n-1 first when fill. */
void     xf_rng_permute(struct xf_rng *r, uint32_t *perm, size_t n, int fill);

/*
 * Values.  A record is a msgpack map from short string keys to values; the
 * accessors below hand out typed views of one field, valid until the next
 * call to xf_stream_next on the same stream.
 */
enum xf_type {
	XF_NIL, XF_BOOL, XF_INT, XF_FLOAT, XF_STR, XF_BIN, XF_ARRAY, XF_MAP
};

struct xf_value {
	enum xf_type type;
	int64_t i;            /* XF_INT, XF_BOOL */
	double f;             /* XF_FLOAT; also set for XF_INT */
	const char *p;        /* XF_STR, XF_BIN: bytes, not NUL-terminated */
	size_t n;             /* XF_STR, XF_BIN: bytes; XF_ARRAY, XF_MAP: items;
	                         XF_FLOAT: 4 for float32, 8 for float64 */
	const void *obj;      /* the underlying object, for xf_value_item */
};

/* Item i of an array (key i of a map when key != NULL).  Returns 0, or -1
 * when v is not an array/map or i is out of range. */
int xf_value_item(const struct xf_value *v, size_t i, struct xf_value *key,
    struct xf_value *out);

/* Writes v as JSON: strings escaped, NaN as null, a bin as an array of
 * float32 numbers when bin_dtype is "float32", else of its bytes.  Returns
 * 0, or -1 on a write error. */
int xf_value_json(FILE *f, const struct xf_value *v, const char *bin_dtype);
/* The same as one TSV cell: a bin's numbers space-separated, tabs and
 * newlines in strings turned to spaces, nested values as JSON. */
int xf_value_text(FILE *f, const struct xf_value *v, const char *bin_dtype);

/*
 * A whole record as one JSON object, or the header as the map the stream
 * holds (format, version, kind, dtype, shape, module, classes, count,
 * endian, provenance), without a newline.  omit, when not NULL, names a
 * field to leave out ("x").  Return 0, or -1 on a write error.
 */
struct xf_record;
struct xf_header;
int xf_record_json(FILE *f, const struct xf_record *r, const char *bin_dtype,
    const char *omit);
int xf_header_json(FILE *f, const struct xf_header *h);

/*
 * Streams: see formats/stream.md and xf-stream(5).
 *
 * The header says what the records hold.  For image and feature streams every
 * record has "x" (bin: the C×H×W uint8 pixels, or D little-endian float32
 * values), "y" (the label) and "i" (the example's index in its source).
 * Other kinds (eval, log, cka, interp, critic) are tables: every record is a
 * flat map of scalars.
 */
#define XF_STREAM_VERSION 1
#define XF_MAX_DIMS       4
#define XF_MAX_PROV       32

struct xf_header {
	char kind[32];              /* "images", "features", "eval", ... */
	char dtype[16];             /* dtype of "x": "uint8", "float32", or "" */
	int ndim;                   /* dims of one record's "x", 0 when none */
	int64_t shape[XF_MAX_DIMS]; /* (C, H, W) for images, (D) for features */
	int64_t n_classes;          /* 0 when the stream has no labels */
	int64_t count;              /* records that follow, -1 when unknown */
	char module[64];            /* features: which module, else "" */
	int n_prov;                 /* provenance: one line per tool, oldest first */
	char *prov[XF_MAX_PROV];
};

/* Bytes of one record's "x" (product of shape times dtype size), or 0;
 * SIZE_MAX when the product overflows. */
size_t xf_header_xsize(const struct xf_header *h);
/* Append a provenance line (copied); the oldest lines go when full. */
void xf_header_add_prov(struct xf_header *h, const char *line);
/* Provenance line from argv: "xf-shuffle -b 7 -s 1".  Caller frees. */
char *xf_prov_argv(int argc, char **argv);
void xf_header_copy(struct xf_header *dst, const struct xf_header *src);
void xf_header_free(struct xf_header *h);

/* Limits on what a reader accepts; the defaults are in stream.c. */
struct xf_limits {
	size_t max_record;  /* bytes of one msgpack object */
	size_t max_depth;   /* nesting of arrays and maps */
	size_t max_items;   /* objects in one record */
};
extern const struct xf_limits xf_default_limits;

/*
 * Checks that buf[0..len) begins with one complete msgpack object within
 * the limits, without allocating.  Every declared str, bin, array and map
 * length is checked against the bytes that remain.  Returns the object's
 * size in bytes; 0 when more bytes are needed (the object is incomplete);
 * -1 with err set when it is malformed or over a limit.
 */
ptrdiff_t xf_msgpack_check(const char *buf, size_t len,
    const struct xf_limits *lim, struct xf_err *err);

/*
 * Checks every map in o, at any depth: its keys are str and none appears
 * twice.  Returns 0, or -1 with err naming the key.  o is a msgpack_object.
 */
struct msgpack_object;
int xf_msgpack_keys(const struct msgpack_object *o, struct xf_err *err);

struct xf_stream;

/*
 * Opens path ("-" or NULL for stdin) and reads its header.  Returns the
 * stream, or NULL with err set ("header: ...").  xf_stream_close frees it.
 */
struct xf_stream *xf_stream_open(const char *path, struct xf_err *err);
/* The same over an open descriptor (not closed by xf_stream_close). */
struct xf_stream *xf_stream_fdopen(int fd, struct xf_err *err);
/* The same over memory (not copied: buf must outlive the stream). */
struct xf_stream *xf_stream_memopen(const void *buf, size_t len,
    struct xf_err *err);
void xf_stream_set_limits(struct xf_stream *s, const struct xf_limits *lim);
const struct xf_header *xf_stream_header(const struct xf_stream *s);
/*
 * Reads the next record.  Returns 1 with *rec valid until the next call,
 * 0 at a clean end of stream, -1 with err set ("record 12: ...").  For
 * image and feature streams the reader also checks "x", "y" and "i".
 */
struct xf_record;
int xf_stream_next(struct xf_stream *s, const struct xf_record **rec,
    struct xf_err *err);
/* Records read so far (the index of the next one). */
uint64_t xf_stream_index(const struct xf_stream *s);
void xf_stream_close(struct xf_stream *s);

/* Record fields.  xf_record_get returns 0, or -1 when key is absent. */
size_t xf_record_len(const struct xf_record *r);
int xf_record_field(const struct xf_record *r, size_t i, struct xf_value *key,
    struct xf_value *val);
int xf_record_get(const struct xf_record *r, const char *key,
    struct xf_value *val);
/* Image and feature records, checked by xf_stream_next: */
const void *xf_record_x(const struct xf_record *r); /* header's xsize bytes */
int64_t xf_record_y(const struct xf_record *r);     /* label, -1 if none */
int64_t xf_record_i(const struct xf_record *r);     /* source index */

/*
 * Writer.  Records are built field by field and go out whole:
 *
 *	xf_writer_begin(w, 3);
 *	xf_writer_int(w, "i", 12);
 *	xf_writer_int(w, "y", 3);
 *	xf_writer_bin(w, "x", pixels, 784);
 *	if (xf_writer_end(w, &err) < 0) ...
 *
 * Output is buffered and written with write(2); a failed or short write is
 * an error, reported by the next end or by close.  EPIPE comes back as
 * errno EPIPE so a tool can leave quietly.
 */
struct xf_writer;
struct xf_writer *xf_writer_open(const char *path, struct xf_err *err);
struct xf_writer *xf_writer_fdopen(int fd, struct xf_err *err);
/* Flush after every record (for --unbuffered). */
void xf_writer_set_unbuffered(struct xf_writer *w, int on);
int xf_writer_header(struct xf_writer *w, const struct xf_header *h,
    struct xf_err *err);
void xf_writer_begin(struct xf_writer *w, size_t n_fields);
void xf_writer_int(struct xf_writer *w, const char *key, int64_t v);
void xf_writer_float(struct xf_writer *w, const char *key, double v);
/* A float32 value: half the bytes, and printed with float precision. */
void xf_writer_float32(struct xf_writer *w, const char *key, float v);
void xf_writer_bool(struct xf_writer *w, const char *key, int v);
void xf_writer_nil(struct xf_writer *w, const char *key);
void xf_writer_str(struct xf_writer *w, const char *key, const char *v);
void xf_writer_bin(struct xf_writer *w, const char *key, const void *p,
    size_t n);
/* A field copied from another stream's record. */
void xf_writer_value(struct xf_writer *w, const char *key,
    const struct xf_value *v);
int xf_writer_end(struct xf_writer *w, struct xf_err *err);
/* Flushes, closes (unless fdopen'd) and frees.  Returns 0, or -1 if any
 * write failed since open. */
int xf_writer_close(struct xf_writer *w, struct xf_err *err);

/*
 * Output files (outfile.c), under the stream writer, the checkpoint writer
 * and the tools' text outputs.  xf_out_open refuses a path that is the same
 * file (device and inode) as an input the readers opened in this process,
 * before creating anything.  A regular file is written as
 * PATH.tmp.HOST.PID.XXXXXX beside PATH: xf_out_commit syncs it and renames
 * it over PATH, xf_out_abort removes it, so a failed run leaves the old
 * file.  Opening also removes that output's temporaries left by this host's
 * processes that no longer run (a run killed by SIGKILL).  "-" or NULL is
 * stdout (refused when it is a regular file that is also an input); a
 * device or FIFO is written in place.
 */
struct xf_out {
	int fd;
	int own;        /* fd is closed by commit or abort */
	int slot;
	char *path, *tmp;
};
int xf_out_open(struct xf_out *o, const char *path, struct xf_err *err);
int xf_out_commit(struct xf_out *o, struct xf_err *err);
void xf_out_abort(struct xf_out *o);
/* Removes every temporary not yet committed: for atexit and signals. */
void xf_out_abort_all(void);
/* Remembers fd's file as an input (the readers call it on every open). */
void xf_input_note(int fd);
void xf_input_note_path(const char *path);

/*
 * Checkpoints: see formats/checkpoint.md and xf-checkpoint(5).
 *
 * A checkpoint is a tar of "manifest.msgpack" and one member per tensor of
 * raw little-endian float32.  In memory it is the manifest's fields, the
 * tensors and a flat list of metadata (training state and provenance).
 */
#define XF_CKPT_VERSION   1
#define XF_NAME_MAX       64
#define XF_MANIFEST       "manifest.msgpack"

struct xf_tensor {
	char name[XF_NAME_MAX];   /* "conv1.weight": [A-Za-z0-9_.], no ".." */
	int ndim;
	int64_t shape[XF_MAX_DIMS];
	size_t count;             /* product of shape */
	float *data;              /* (shape...), row-major */
	int owned;                /* data is freed by xf_ckpt_free */
};

struct xf_meta {
	char key[XF_NAME_MAX];    /* "train.step", "prov.data", ... */
	enum xf_type type;        /* XF_INT, XF_FLOAT or XF_STR */
	int64_t i;
	double f;
	char *s;
};

struct xf_ckpt {
	char arch[256];           /* model spec, e.g. "cnn-s" */
	int64_t input[3];         /* (C, H, W) */
	int64_t n_classes;
	size_t n_tensors;
	struct xf_tensor *tensors;
	size_t n_meta;
	struct xf_meta *meta;
};

/* A zeroed checkpoint is empty and valid; xf_ckpt_free empties it again. */
void xf_ckpt_free(struct xf_ckpt *c);
/*
 * Adds a tensor.  With copy, data is copied and owned; without, the caller
 * keeps data alive until the checkpoint is written or freed.  Returns the
 * tensor, or NULL with err set on a bad name, a duplicate or a bad shape.
 */
struct xf_tensor *xf_ckpt_add(struct xf_ckpt *c, const char *name, int ndim,
    const int64_t *shape, float *data, int copy, struct xf_err *err);
/* A shape as "16x1x3x3" into buf, for messages. */
void xf_shape_str(char *buf, size_t size, int ndim, const int64_t *shape);
/* The tensor of that name, or NULL. */
struct xf_tensor *xf_ckpt_find(const struct xf_ckpt *c, const char *name);
/* Metadata: set replaces a key's value; get returns NULL when absent. */
void xf_ckpt_set_int(struct xf_ckpt *c, const char *key, int64_t v);
void xf_ckpt_set_float(struct xf_ckpt *c, const char *key, double v);
void xf_ckpt_set_str(struct xf_ckpt *c, const char *key, const char *v);
const struct xf_meta *xf_ckpt_get(const struct xf_ckpt *c, const char *key);

/*
 * Reads a checkpoint from path ("-" or NULL for stdin) into c, which the
 * caller zeroes first and frees with xf_ckpt_free.  Only tar is accepted,
 * with no compression; members are read into memory, never extracted.
 * Returns 0, or -1 with err naming the member or tensor ("tensor
 * conv1.weight: member has 400 bytes, the manifest's shape wants 576").
 */
int xf_ckpt_read(const char *path, struct xf_ckpt *c, struct xf_err *err);
int xf_ckpt_read_mem(const void *buf, size_t len, struct xf_ckpt *c,
    struct xf_err *err);
/* The manifest alone (the bytes of manifest.msgpack) into c: the fields,
 * the tensors' names and shapes with no data, the metadata.  Returns 0, or
 * -1 with err set and c emptied. */
int xf_ckpt_manifest(const void *buf, size_t len, struct xf_ckpt *c,
    struct xf_err *err);
/*
 * Writes c to path atomically: a temporary file in the same directory,
 * fsync, rename, fsync of the directory.  On failure the temporary file is
 * removed and any old file at path is untouched.  path "-" writes to stdout.
 * Returns 0, or -1 with err set.
 */
int xf_ckpt_write(const char *path, const struct xf_ckpt *c,
    struct xf_err *err);
/* Largest checkpoint the reader accepts, in bytes of tensor data. */
#define XF_CKPT_MAX_BYTES ((uint64_t)4 << 30)

#endif
