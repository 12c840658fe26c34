/*
 * fuzz_beacon.c — kith_beacon_parse and kith_beacon_match (proto/beacon.h) on any
 * datagram, against one fixed key (that of the public key 00 01 .. 1f, the golden
 * key of tests/unit/test_beacon.c; the seed corpus holds its golden beacon).
 *
 * A refused input leaves the parsed struct zeroed. An accepted one is exactly 39
 * bytes of version 1 with a port, and making a beacon of its nonce, minute and port
 * with the key gives the same bytes if and only if it matches at its own minute:
 * match accepts exactly the beacons the key makes. Its nonce then goes through the
 * replay filter, which must refuse it the second time.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/beacon.h"

static struct kith_beacon_seen seen;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const struct kith_beacon zero;
  uint8_t pk[KITH_BEACON_PK_LEN], key[KITH_BEACON_KEY_LEN], b[KITH_BEACON_LEN];
  struct kith_beacon p;

  for (int i = 0; i < KITH_BEACON_PK_LEN; i++)
    pk[i] = (uint8_t)i;
  if (kith_beacon_key(pk, key) != 0)
    abort();

  int rc = kith_beacon_parse(data, size, &p);
  if (rc) {
    if ((rc != KITH_EBADMSG && rc != KITH_EVERSION) || memcmp(&p, &zero, sizeof p))
      abort();
    if (size == KITH_BEACON_LEN && data[0] == KITH_BEACON_VERSION &&
        (data[21] | data[22]) != 0)
      abort(); /* a well-formed beacon refused */
    return 0;
  }
  if (size != KITH_BEACON_LEN || data[0] != KITH_BEACON_VERSION || p.port == 0)
    abort();
  if (kith_beacon_make(key, p.nonce, p.minute, p.port, b) != 0)
    abort();
  if (memcmp(b, data, 23) != 0) /* nonce, minute and port read back as written */
    abort();
  bool genuine = memcmp(b, data, KITH_BEACON_LEN) == 0;
  if (kith_beacon_match(&p, key, p.minute) != genuine)
    abort();
  uint32_t later = p.minute + KITH_BEACON_SKEW_MIN + 1; /* wraps near UINT32_MAX */
  if (later > p.minute && kith_beacon_match(&p, key, later))
    abort(); /* too old */

  kith_beacon_seen_add(&seen, p.nonce);
  if (kith_beacon_seen_add(&seen, p.nonce))
    abort();
  return 0;
}
