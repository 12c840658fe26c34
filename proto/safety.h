/*
 * safety.h — the safety number two paired users read aloud and compare
 * (docs/PROTOCOL.md, "Safety number").
 *
 * It is computed from the two Ed25519 public keys alone, in either order, so both
 * sides print the same digits. If a man in the middle stood between them during
 * pairing, each side pinned his key instead of the other's, and the numbers differ.
 *
 *   low, high = the two keys sorted bytewise
 *   h         = BLAKE2b-256, keyed with the 16 bytes "kith safety v1\0\0",
 *               of low | high (64 bytes)
 *   digits    = h's first 30 bytes as 12 big-endian 20-bit integers, each mod
 *               100000, printed as 5 digits and separated by single spaces
 *
 * e.g. "12345 67890 ..." (71 characters). The golden value is in
 * tests/unit/test_invite.c.
 */
#ifndef KITH_SAFETY_H
#define KITH_SAFETY_H

#include <stdint.h>

#include "proto/err.h"

#define KITH_SAFETY_PK_LEN 32   /* Ed25519 public key */
#define KITH_SAFETY_TEXT_LEN 72 /* 12 groups of 5 digits, 11 spaces, NUL */

/* Writes the safety number of keys a and b into out (NUL-terminated). The same
 * for (a, b) and (b, a). Returns 0, or KITH_EINVAL if the hash fails (it does not,
 * with these sizes); out is then "". */
int kith_safety_number(const uint8_t a[static KITH_SAFETY_PK_LEN],
                       const uint8_t b[static KITH_SAFETY_PK_LEN],
                       char out[static KITH_SAFETY_TEXT_LEN]) KITH_MUST_CHECK;

#endif
