/*
 * fuzz_relaymsg.c — kith_rmsg_decode (proto/relaymsg.h) on hostile plaintexts,
 * after kith_msg_decode as the relay session does. Whatever decodes must encode
 * (never longer than the input: kith writes integers in their shortest form), decode
 * again to the same fields, and encode again to the same bytes. A chunk borrows the
 * input; a refusal leaves nothing pointing anywhere and the eid room in place.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/relaymsg.h"

static uint64_t eids[KITH_RMSG_DEL_MAX], eids2[KITH_RMSG_DEL_MAX];
static uint8_t enc[70000], enc2[70000];

static void same_or_abort(const struct kith_rmsg *a, const struct kith_rmsg *b)
{
  if (a->type != b->type || a->req != b->req || a->version != b->version ||
      a->max_envelope != b->max_envelope || a->ttl_s != b->ttl_s ||
      a->flags != b->flags || memcmp(a->owner, b->owner, sizeof a->owner) != 0 ||
      memcmp(a->box, b->box, sizeof a->box) != 0 || a->size != b->size ||
      a->value != b->value || a->code != b->code || strcmp(a->text, b->text) != 0 ||
      a->after != b->after || a->max_bytes != b->max_bytes || a->eid != b->eid ||
      memcmp(a->tag, b->tag, sizeof a->tag) != 0 || a->chunk_len != b->chunk_len ||
      a->neids != b->neids ||
      (a->chunk_len && memcmp(a->chunk, b->chunk, a->chunk_len) != 0) ||
      (a->neids && memcmp(a->eids, b->eids, a->neids * sizeof *a->eids) != 0))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct kith_msg m, m2;
  struct kith_rmsg r = {.eids = eids}, back = {.eids = eids2};
  size_t n = 0, n2 = 0;
  if (kith_msg_decode(data, size, &m) != 0)
    return 0;
  int rc = kith_rmsg_decode(&m, &r);
  if (rc != 0) {
    if (rc != KITH_EBADMSG || r.eids != eids || r.chunk || r.neids || r.chunk_len)
      abort(); /* refused: nothing left pointing anywhere */
    return 0;
  }
  if (!kith_rmsg_is_relay(r.type) || r.eids != eids)
    abort();
  if (r.chunk && (r.chunk < data || r.chunk + r.chunk_len > data + size))
    abort(); /* the chunk borrows the input */
  if (r.neids > KITH_RMSG_DEL_MAX || r.chunk_len > KITH_RMSG_CHUNK_MAX ||
      strlen(r.text) > KITH_RMSG_TEXT_MAX)
    abort();
  if (kith_rmsg_encode(&r, enc, sizeof enc, &n) != 0 || n > size)
    abort();
  if (kith_msg_decode(enc, n, &m2) != 0 || kith_rmsg_decode(&m2, &back) != 0)
    abort();
  same_or_abort(&r, &back);
  if (kith_rmsg_encode(&back, enc2, sizeof enc2, &n2) != 0 || n2 != n ||
      memcmp(enc, enc2, n) != 0)
    abort();
  return 0;
}
