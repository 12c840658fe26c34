/*
 * be.h — big-endian integers in byte strings: the order kith's keys and fixed
 * fields use, so that LMDB's byte order sorts them as numbers.
 */
#ifndef KITH_BE_H
#define KITH_BE_H

#include <stdint.h>

/* Writes the low n bytes of v (n <= 8) at p, most significant first. */
static inline void kith_be_put(uint8_t *p, uint64_t v, int n)
{
  for (int i = n - 1; i >= 0; i--, v >>= 8)
    p[i] = (uint8_t)v;
}

/* Reads n bytes (n <= 8) at p, most significant first. */
static inline uint64_t kith_be_get(const uint8_t *p, int n)
{
  uint64_t v = 0;
  for (int i = 0; i < n; i++)
    v = v << 8 | p[i];
  return v;
}

#endif
