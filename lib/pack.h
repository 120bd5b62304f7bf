/*
 * pack.h: msgpack helpers the stream writer (writer.c) and the checkpoint
 * writer (ckpt.c) share; private to lib.
 */
#ifndef XF_PACK_H
#define XF_PACK_H

#include <msgpack.h>

/* s, NUL-terminated, as a msgpack str. */
void xf_pack_str(msgpack_packer *pk, const char *s);

#endif
