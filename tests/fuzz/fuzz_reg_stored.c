/*
 * fuzz_reg_stored.c — kith_reg_decode_stored, the decoder of a register as kept in
 * the store. Whatever decodes must encode to bytes that decode to the same state,
 * and encoding that again must give the same bytes (one encoding per state).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/reg.h"

static void same_or_abort(const struct kith_reg *a, const struct kith_reg *b)
{
  if (a->seq != b->seq || a->space != b->space ||
      kith_stamp_cmp(&a->stamp, &b->stamp) != 0 ||
      kith_stamp_cmp(&a->rem, &b->rem) != 0 || !kith_value_equal(a->val, b->val))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct kith_reg r, back;
  uint8_t *enc = NULL, *enc2 = NULL;
  size_t n = 0, n2 = 0;
  memset(&r, 0, sizeof r);
  memset(&back, 0, sizeof back);
  if (kith_reg_decode_stored(data, size, &r) != 0) {
    if (r.val)
      abort(); /* a refused input leaves nothing to free */
    return 0;
  }
  if (kith_reg_encode_stored(&r, &enc, &n) != 0)
    abort();
  if (kith_reg_decode_stored(enc, n, &back) != 0)
    abort();
  same_or_abort(&r, &back);
  if (kith_reg_encode_stored(&back, &enc2, &n2) != 0 || n != n2 ||
      memcmp(enc, enc2, n) != 0)
    abort();
  kith_reg_clear(&r);
  kith_reg_clear(&back);
  free(enc);
  free(enc2);
  return 0;
}
