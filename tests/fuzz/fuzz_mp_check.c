/*
 * fuzz_mp_check.c — kith_mp_check, the bound every decoder of peer or file input
 * applies before msgpack-c allocates anything. What it accepts, msgpack-c must
 * unpack whole; and it must never read past the buffer (ASan watches).
 */
#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/mp.h"

#define DEPTH 6

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  /* a copy of exactly size bytes, so that ASan sees any read past the end */
  uint8_t *buf = malloc(size ? size : 1);
  if (!buf)
    return 0;
  if (size)
    memcpy(buf, data, size);
  int rc = kith_mp_check(buf, size, DEPTH);
  msgpack_unpacked u;
  int urc = kith_mp_unpack(buf, size, DEPTH, &u);
  msgpack_unpacked_destroy(&u);
  if ((rc == 0) != (urc == 0))
    abort(); /* kith_mp_unpack takes exactly what kith_mp_check takes */
  if (rc == 0) {
    size_t off = 0;
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, (const char *)buf, size, &off) !=
            MSGPACK_UNPACK_SUCCESS ||
        off != size)
      abort();
    msgpack_unpacked_destroy(&u);
  }
  free(buf);
  return 0;
}
