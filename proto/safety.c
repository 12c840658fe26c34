#include "proto/safety.h"

#include <sodium.h>
#include <stdbool.h>
#include <string.h>

/* BLAKE2b keys are 16..64 bytes in libsodium: the 14-byte label, zero-padded. */
static const uint8_t SAFETY_KEY[16] = "kith safety v1\0";

int kith_safety_number(const uint8_t a[static KITH_SAFETY_PK_LEN],
                       const uint8_t b[static KITH_SAFETY_PK_LEN],
                       char out[static KITH_SAFETY_TEXT_LEN])
{
  uint8_t in[2 * KITH_SAFETY_PK_LEN], h[32];
  bool swap = memcmp(a, b, KITH_SAFETY_PK_LEN) > 0; /* public keys: no secret */

  out[0] = '\0';
  memcpy(in, swap ? b : a, KITH_SAFETY_PK_LEN);
  memcpy(in + KITH_SAFETY_PK_LEN, swap ? a : b, KITH_SAFETY_PK_LEN);
  if (crypto_generichash(h, sizeof h, in, sizeof in, SAFETY_KEY, sizeof SAFETY_KEY) !=
      0)
    return KITH_EINVAL;
  char *w = out;
  for (int g = 0; g < 12; g++) {
    /* bits 20g .. 20g+19 of h, most significant first */
    const uint8_t *p = h + g * 5 / 2;
    uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
    v = g % 2 ? v & 0xfffff : v >> 4;
    v %= 100000;
    if (g)
      *w++ = ' ';
    for (int d = 4; d >= 0; d--, v /= 10)
      w[d] = (char)('0' + v % 10);
    w += 5;
  }
  *w = '\0';
  return 0;
}
