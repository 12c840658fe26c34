/*
 * fuzz_msg.c — kith_msg_decode (proto/msg.h) on hostile plaintexts. Whatever
 * decodes must encode, decode again to an equal message, and encode again to the
 * same bytes; whatever does not decode leaves the message zeroed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/msg.h"

static uint8_t enc[70000], enc2[70000];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct kith_msg m, back, zero;
  size_t n = 0, n2 = 0;
  memset(&zero, 0, sizeof zero);
  int rc = kith_msg_decode(data, size, &m);
  if (rc != 0) {
    if ((rc != KITH_EBADMSG && rc != KITH_EVERSION) || memcmp(&m, &zero, sizeof m) != 0)
      abort();
    return 0;
  }
  if (m.type >= KITH_MSG_SYNC_FIRST &&
      (m.u.sync.body < data || m.u.sync.body + m.u.sync.len != data + size))
    abort(); /* the raw fields are the tail of the input */
  if (kith_msg_encode(&m, enc, sizeof enc, &n) != 0 || n > size)
    abort(); /* canonical encodings are never longer */
  if (kith_msg_decode(enc, n, &back) != 0 || !kith_msg_equal(&m, &back))
    abort();
  if (kith_msg_encode(&back, enc2, sizeof enc2, &n2) != 0 || n != n2 ||
      memcmp(enc, enc2, n) != 0)
    abort();
  return 0;
}
