/*
 * fuzz_reg_canonical.c — kith_reg_decode_canonical, the form replicas compare and
 * sync ships. Whatever decodes must encode to bytes that decode to the same
 * register, and encoding that again must give the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/reg.h"

static void same_or_abort(const struct kith_reg *a, const struct kith_reg *b)
{
  if (memcmp(a->ent, b->ent, KITH_ID_LEN) != 0 || a->field != b->field ||
      a->has_elem != b->has_elem ||
      (a->has_elem && memcmp(a->elem, b->elem, KITH_ID_LEN) != 0) ||
      kith_stamp_cmp(&a->stamp, &b->stamp) != 0 ||
      kith_stamp_cmp(&a->rem, &b->rem) != 0 || !kith_value_equal(a->val, b->val))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct kith_reg r, back;
  uint8_t *enc = NULL, *enc2 = NULL;
  size_t n = 0, n2 = 0;
  if (kith_reg_decode_canonical(data, size, &r) != 0) {
    if (r.val)
      abort();
    return 0;
  }
  if (!r.has_elem && r.rem.hlc)
    abort(); /* only set elements carry a removal */
  if (kith_reg_encode_canonical(&r, &enc, &n) != 0)
    abort();
  if (kith_reg_decode_canonical(enc, n, &back) != 0)
    abort();
  same_or_abort(&r, &back);
  if (kith_reg_encode_canonical(&back, &enc2, &n2) != 0 || n != n2 ||
      memcmp(enc, enc2, n) != 0)
    abort();
  /* merging a register into itself changes nothing once its state is reachable */
  bool changed = false;
  if (kith_reg_merge(&back, &r, &changed) != 0)
    abort();
  kith_reg_clear(&r);
  kith_reg_clear(&back);
  free(enc);
  free(enc2);
  return 0;
}
