/*
 * fuzz_rec.c — kith_rec_decode, the decoder of a whole stored record (all its
 * registers in one LMDB value). Whatever decodes is sorted and free of
 * duplicates, and encodes to bytes that decode to the same registers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/reg.h"

static const uint8_t ent[KITH_ID_LEN] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05,
                                         0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
                                         0x0c, 0x0d, 0x0e, 0x0f};

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
  if (kith_rec_decode(data, size, ent, &a, &na) != 0) {
    if (a || na)
      abort();
    return 0;
  }
  for (size_t i = 0; i < na; i++) {
    if (memcmp(a[i].ent, ent, KITH_ID_LEN) != 0)
      abort();
    if (i && kith_reg_addr_cmp(&a[i - 1], &a[i]) >= 0)
      abort();
  }
  if (kith_rec_encode(a, na, &enc, &n) != 0 ||
      kith_rec_decode(enc, n, ent, &b, &nb) != 0 || na != nb)
    abort();
  for (size_t i = 0; i < na; i++)
    if (kith_reg_addr_cmp(&a[i], &b[i]) != 0 || a[i].seq != b[i].seq ||
        a[i].space != b[i].space || kith_stamp_cmp(&a[i].stamp, &b[i].stamp) != 0 ||
        kith_stamp_cmp(&a[i].rem, &b[i].rem) != 0 ||
        !kith_value_equal(a[i].val, b[i].val))
      abort();
  if (kith_rec_encode(b, nb, &enc2, &n2) != 0 || n != n2 || memcmp(enc, enc2, n) != 0)
    abort();
  free_regs(a, na);
  free_regs(b, nb);
  free(enc);
  free(enc2);
  return 0;
}
