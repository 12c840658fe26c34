/*
 * fuzz_envelope.c — kith_envelope_open (proto/envelope.h) on any bytes, for two
 * fixed devices, and seal/open round trips of the input taken as a post.
 *
 * Any input either opens to a post that seals back (with the same size) and opens
 * again to the same bytes, or is refused with KITH_EBADMSG and nothing returned.
 * The seed corpus holds envelopes of several buckets from these keys.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/envelope.h"

static uint8_t s_pk[32], s_sk[64], r_pk[32], r_sk[64], box[KITH_BOX_LEN];

static void setup(void)
{
  static int done;
  uint8_t seed[32];
  if (done)
    return;
  if (sodium_init() < 0)
    abort();
  memset(seed, 1, sizeof seed);
  crypto_sign_seed_keypair(s_pk, s_sk, seed);
  memset(seed, 2, sizeof seed);
  crypto_sign_seed_keypair(r_pk, r_sk, seed);
  if (kith_box_derive(s_sk, r_pk, true, box) != 0)
    abort();
  done = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  uint8_t *post = NULL, *env = NULL, *back = NULL;
  size_t pl = 0, el = 0, bl = 0;
  setup();
  int rc = kith_envelope_open(r_sk, s_pk, box, data, size, &post, &pl);
  if (rc) {
    if (rc != KITH_EBADMSG || post || pl)
      abort();
  } else if (kith_envelope_size(pl) != size) {
    abort();
  }
  free(post);
  /* The input as a post. */
  if (size > KITH_ENVELOPE_POST_MAX)
    return 0;
  if (kith_envelope_seal(s_sk, r_pk, box, data, size, NULL, &env, &el) != 0 ||
      el != kith_envelope_size(size) ||
      kith_envelope_open(r_sk, s_pk, box, env, el, &back, &bl) != 0 || bl != size ||
      (size && memcmp(back, data, size) != 0))
    abort();
  free(env);
  free(back);
  return 0;
}
