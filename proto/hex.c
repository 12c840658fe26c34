#include "proto/hex.h"

#include <string.h>

#include "proto/err.h"

void kith_hex_encode(const uint8_t *in, size_t n, char *out)
{
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * n] = '\0';
}

int kith_hex_digit(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int kith_hex_decode(const char *s, uint8_t *out, size_t n)
{
  if (strlen(s) != 2 * n)
    return KITH_EBADMSG;
  for (size_t i = 0; i < n; i++) {
    int hi = kith_hex_digit(s[2 * i]), lo = kith_hex_digit(s[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return KITH_EBADMSG;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}
