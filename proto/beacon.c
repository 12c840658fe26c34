#include "proto/beacon.h"

#include <sodium.h>
#include <string.h>

/* BLAKE2b keys are 16..64 bytes in libsodium: the 14-byte label, zero-padded. */
static const uint8_t BEACON_KEY_KEY[16] = "kith beacon v1\0";

#define HEAD_LEN (KITH_BEACON_LEN - KITH_BEACON_TAG_LEN) /* what the tag covers */

int kith_beacon_key(const uint8_t pk[static KITH_BEACON_PK_LEN],
                    uint8_t key[static KITH_BEACON_KEY_LEN])
{
  if (crypto_generichash(key, KITH_BEACON_KEY_LEN, pk, KITH_BEACON_PK_LEN,
                         BEACON_KEY_KEY, sizeof BEACON_KEY_KEY) != 0) {
    sodium_memzero(key, KITH_BEACON_KEY_LEN);
    return KITH_EINVAL;
  }
  return 0;
}

/* The 23 bytes the tag covers, and the tag over them. */
static void head(const uint8_t nonce[KITH_BEACON_NONCE_LEN], uint32_t minute,
                 uint16_t port, uint8_t out[HEAD_LEN])
{
  out[0] = KITH_BEACON_VERSION;
  memcpy(out + 1, nonce, KITH_BEACON_NONCE_LEN);
  out[17] = (uint8_t)(minute >> 24);
  out[18] = (uint8_t)(minute >> 16);
  out[19] = (uint8_t)(minute >> 8);
  out[20] = (uint8_t)minute;
  out[21] = (uint8_t)(port >> 8);
  out[22] = (uint8_t)port;
}

static int tag(const uint8_t key[KITH_BEACON_KEY_LEN], const uint8_t h[HEAD_LEN],
               uint8_t out[KITH_BEACON_TAG_LEN])
{
  return crypto_generichash(out, KITH_BEACON_TAG_LEN, h, HEAD_LEN, key,
                            KITH_BEACON_KEY_LEN) == 0
             ? 0
             : KITH_EINVAL;
}

int kith_beacon_make(const uint8_t key[static KITH_BEACON_KEY_LEN],
                     const uint8_t nonce[static KITH_BEACON_NONCE_LEN], uint32_t minute,
                     uint16_t port, uint8_t out[static KITH_BEACON_LEN])
{
  if (port == 0)
    goto bad;
  head(nonce, minute, port, out);
  if (tag(key, out, out + HEAD_LEN) != 0)
    goto bad;
  return 0;
bad:
  memset(out, 0, KITH_BEACON_LEN);
  return KITH_EINVAL;
}

int kith_beacon_parse(const uint8_t *buf, size_t len, struct kith_beacon *out)
{
  memset(out, 0, sizeof *out);
  if (len == 0)
    return KITH_EBADMSG;
  if (buf[0] != KITH_BEACON_VERSION)
    return KITH_EVERSION;
  if (len != KITH_BEACON_LEN)
    return KITH_EBADMSG;
  uint16_t port = (uint16_t)(buf[21] << 8 | buf[22]);
  if (port == 0)
    return KITH_EBADMSG;
  memcpy(out->nonce, buf + 1, KITH_BEACON_NONCE_LEN);
  out->minute = (uint32_t)buf[17] << 24 | (uint32_t)buf[18] << 16 |
                (uint32_t)buf[19] << 8 | buf[20];
  out->port = port;
  memcpy(out->tag, buf + HEAD_LEN, KITH_BEACON_TAG_LEN);
  return 0;
}

bool kith_beacon_match(const struct kith_beacon *b,
                       const uint8_t key[static KITH_BEACON_KEY_LEN],
                       uint32_t now_minute)
{
  uint8_t h[HEAD_LEN], want[KITH_BEACON_TAG_LEN];
  uint32_t skew =
      b->minute > now_minute ? b->minute - now_minute : now_minute - b->minute;
  bool ok = false;

  /* The tag first, whatever the time: how long a refusal takes says nothing about
   * which check refused. */
  head(b->nonce, b->minute, b->port, h);
  if (tag(key, h, want) == 0)
    ok = crypto_verify_16(want, b->tag) == 0;
  sodium_memzero(want, sizeof want);
  return ok && skew <= KITH_BEACON_SKEW_MIN;
}

void kith_beacon_seen_init(struct kith_beacon_seen *s)
{
  memset(s, 0, sizeof *s);
}

bool kith_beacon_seen_add(struct kith_beacon_seen *s,
                          const uint8_t nonce[static KITH_BEACON_NONCE_LEN])
{
  /* Nonces are public (they travel in clear), so plain memcmp. */
  for (size_t i = 0; i < s->count; i++)
    if (memcmp(s->nonce[i], nonce, KITH_BEACON_NONCE_LEN) == 0)
      return false;
  memcpy(s->nonce[s->next], nonce, KITH_BEACON_NONCE_LEN);
  s->next = (s->next + 1) % KITH_BEACON_SEEN_MAX;
  if (s->count < KITH_BEACON_SEEN_MAX)
    s->count++;
  return true;
}
