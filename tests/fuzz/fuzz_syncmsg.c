/*
 * fuzz_syncmsg.c — kith_smsg_decode (proto/syncmsg.h) on hostile plaintexts, after
 * kith_msg_decode as a session does. Whatever decodes must encode (never longer
 * than the input: msgpack has longer forms of the same values, kith writes the
 * shortest, so the bytes need not be the input's), decode again to the same
 * fields, and encode again to the same bytes. A chunk borrows the input; a
 * refusal leaves nothing pointing anywhere.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/syncmsg.h"

static struct kith_sync_hello hello[KITH_SYNC_HELLO_MAX], hello2[KITH_SYNC_HELLO_MAX];
static uint8_t enc[70000], enc2[70000];

static void same_or_abort(const struct kith_smsg *a, const struct kith_smsg *b)
{
  if (a->type != b->type || memcmp(a->space, b->space, KITH_SYNC_GID_LEN) != 0 ||
      memcmp(a->epoch, b->epoch, KITH_SYNC_EPOCH_LEN) != 0 || a->from != b->from ||
      a->to != b->to || a->seq != b->seq || a->round != b->round ||
      a->status != b->status || a->records != b->records || a->more != b->more ||
      a->chunk_len != b->chunk_len || a->nhello != b->nhello ||
      (a->chunk_len && memcmp(a->chunk, b->chunk, a->chunk_len) != 0))
    abort();
  for (size_t i = 0; i < a->nhello; i++) {
    const struct kith_sync_hello *x = &a->hello[i], *y = &b->hello[i];
    if (memcmp(x->space, y->space, KITH_SYNC_GID_LEN) != 0 ||
        memcmp(x->epoch, y->epoch, KITH_SYNC_EPOCH_LEN) != 0 || x->max != y->max ||
        x->have_known != y->have_known ||
        memcmp(x->have_epoch, y->have_epoch, KITH_SYNC_EPOCH_LEN) != 0 ||
        x->have_seq != y->have_seq)
      abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct kith_msg m, m2;
  struct kith_smsg s = {.hello = hello}, back = {.hello = hello2};
  size_t n = 0, n2 = 0;
  if (kith_msg_decode(data, size, &m) != 0)
    return 0;
  int rc = kith_smsg_decode(&m, &s);
  if (rc != 0) {
    if (rc != KITH_EBADMSG || s.hello != hello || s.chunk || s.nhello)
      abort(); /* refused: nothing left pointing anywhere */
    return 0;
  }
  if (s.chunk && (s.chunk < data || s.chunk + s.chunk_len > data + size))
    abort(); /* the chunk borrows the input */
  if (s.nhello > KITH_SYNC_HELLO_MAX || s.chunk_len > KITH_SYNC_CHUNK_MAX)
    abort();
  if (kith_smsg_encode(&s, enc, sizeof enc, &n) != 0 || n > size)
    abort();
  if (kith_msg_decode(enc, n, &m2) != 0 || kith_smsg_decode(&m2, &back) != 0)
    abort();
  same_or_abort(&s, &back);
  if (kith_smsg_encode(&back, enc2, sizeof enc2, &n2) != 0 || n2 != n ||
      memcmp(enc, enc2, n) != 0)
    abort();
  return 0;
}
