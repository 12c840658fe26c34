/*
 * fuzz_wire_rec.c — kith_rec_wire_decode, the decoder of a record as sync sends
 * it (proto/reg.h). Whatever decodes is one entity, sorted, free of duplicates,
 * and encodes to bytes that decode to the same registers and encode to the same
 * bytes again (integers may arrive in a longer form than kith writes).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/reg.h"

static void free_regs(struct kith_reg *r, size_t n)
{
  for (size_t i = 0; i < n; i++)
    kith_reg_clear(&r[i]);
  free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct kith_reg *a = NULL, *b = NULL;
  size_t na = 0, nb = 0, n = 0, n2 = 0;
  uint8_t *enc = NULL, *enc2 = NULL;
  if (kith_rec_wire_decode(data, size, &a, &na) != 0) {
    if (a || na)
      abort();
    return 0;
  }
  if (na == 0)
    abort();
  for (size_t i = 0; i < na; i++) {
    if (memcmp(a[i].ent, a[0].ent, KITH_ID_LEN) != 0 || a[i].stamp.hlc == 0)
      abort();
    if (i && kith_reg_addr_cmp(&a[i - 1], &a[i]) >= 0)
      abort();
  }
  if (kith_rec_wire_encode(a, na, &enc, &n) != 0 ||
      kith_rec_wire_decode(enc, n, &b, &nb) != 0 || nb != na)
    abort();
  for (size_t i = 0; i < na; i++)
    if (kith_reg_addr_cmp(&a[i], &b[i]) != 0 ||
        kith_stamp_cmp(&a[i].stamp, &b[i].stamp) != 0 ||
        kith_stamp_cmp(&a[i].rem, &b[i].rem) != 0 ||
        !kith_value_equal(a[i].val, b[i].val))
      abort();
  if (kith_rec_wire_encode(b, nb, &enc2, &n2) != 0 || n2 != n ||
      memcmp(enc, enc2, n) != 0)
    abort();
  free_regs(a, na);
  free_regs(b, nb);
  free(enc);
  free(enc2);
  return 0;
}
