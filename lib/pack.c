/* pack.c: see pack.h. */
#include <string.h>

#include "pack.h"

void
xf_pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}
