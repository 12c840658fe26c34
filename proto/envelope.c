#include "proto/envelope.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "proto/noise.h"

#define PROTO "Noise_K_25519_ChaChaPoly_BLAKE2b"
#define PROLOGUE "kith envelope v1"
#define PROLOGUE_LEN (sizeof PROLOGUE - 1)
#define TAG KITH_NOISE_TAG_LEN
#define EPH KITH_NOISE_KEY_LEN

static const size_t buckets[] = {1u << 10, 1u << 12, 1u << 14,
                                 1u << 16, 1u << 18, 1u << 20};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

int kith_box_owner(const uint8_t pk[static 32], uint8_t owner[static 32])
{
  return crypto_sign_ed25519_pk_to_curve25519(owner, pk) == 0 ? 0 : KITH_EINVAL;
}

int kith_box_derive(const uint8_t my_sk[static 64], const uint8_t other_pk[static 32],
                    bool i_send, uint8_t box[static KITH_BOX_LEN])
{
  uint8_t xsk[32], xpk[32], dh[32];
  const uint8_t *my_pk = my_sk + 32; /* libsodium's Ed25519 secret: seed | pk */
  int rc = KITH_EINVAL;
  if (crypto_sign_ed25519_sk_to_curve25519(xsk, my_sk) != 0 ||
      crypto_sign_ed25519_pk_to_curve25519(xpk, other_pk) != 0 ||
      crypto_scalarmult(dh, xsk, xpk) != 0)
    goto out;
  crypto_generichash_state h;
  crypto_generichash_init(&h, dh, sizeof dh, KITH_BOX_LEN);
  crypto_generichash_update(&h, (const uint8_t *)"kith box v1", 11);
  crypto_generichash_update(&h, i_send ? my_pk : other_pk, 32);
  crypto_generichash_update(&h, i_send ? other_pk : my_pk, 32);
  crypto_generichash_final(&h, box, KITH_BOX_LEN);
  sodium_memzero(&h, sizeof h);
  rc = 0;
out:
  sodium_memzero(xsk, sizeof xsk);
  sodium_memzero(dh, sizeof dh);
  return rc;
}

/* The padded plaintext's size for a post of len bytes; 0 if none fits. */
static size_t bucket_of(size_t len)
{
  for (size_t i = 0; i < NBUCKETS; i++)
    if (len <= buckets[i] - 4)
      return buckets[i];
  return 0;
}

static size_t sealed_size(size_t padded)
{
  size_t parts = (padded + KITH_ENVELOPE_PART - 1) / KITH_ENVELOPE_PART;
  return EPH + padded + parts * (2 + TAG);
}

size_t kith_envelope_size(size_t len)
{
  size_t b = len <= KITH_ENVELOPE_POST_MAX ? bucket_of(len) : 0;
  return b ? sealed_size(b) : 0;
}

static void put16(uint8_t *p, size_t v)
{
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

/* The handshake state for one envelope, from either side. */
static int hs_new(enum kith_noise_role role, const uint8_t my_sk[static 64],
                  const uint8_t other_pk[static 32], const uint8_t box[KITH_BOX_LEN],
                  const uint8_t *ephemeral, kith_noise_hs **out)
{
  uint8_t xsk[32], xpk[32], prologue[PROLOGUE_LEN + KITH_BOX_LEN];
  int rc = KITH_EINVAL;
  *out = NULL;
  if (crypto_sign_ed25519_sk_to_curve25519(xsk, my_sk) != 0 ||
      crypto_sign_ed25519_pk_to_curve25519(xpk, other_pk) != 0)
    goto out;
  memcpy(prologue, PROLOGUE, PROLOGUE_LEN);
  memcpy(prologue + PROLOGUE_LEN, box, KITH_BOX_LEN);
  struct kith_noise_config cfg = {
      .protocol = PROTO,
      .role = role,
      .prologue = prologue,
      .prologue_len = sizeof prologue,
      .local_static = xsk,
      .remote_static = xpk,
      .ephemeral = ephemeral,
  };
  rc = kith_noise_hs_new(&cfg, out);
out:
  sodium_memzero(xsk, sizeof xsk);
  return rc;
}

int kith_envelope_seal(const uint8_t s_sk[static 64], const uint8_t r_pk[static 32],
                       const uint8_t box[static KITH_BOX_LEN], const uint8_t *post,
                       size_t len, const uint8_t *ephemeral, uint8_t **out,
                       size_t *out_len)
{
  kith_noise_hs *hs = NULL;
  kith_noise_cipher *tx = NULL, *rx = NULL;
  uint8_t *pt = NULL, *env = NULL;
  size_t padded = len <= KITH_ENVELOPE_POST_MAX ? bucket_of(len) : 0, off = 0, w = 0;
  int rc;
  *out = NULL;
  *out_len = 0;
  if (!padded)
    return KITH_ETOOBIG;
  size_t size = sealed_size(padded);
  if (!(pt = calloc(1, padded)) || !(env = malloc(size))) {
    rc = KITH_ENOMEM;
    goto out;
  }
  pt[0] = (uint8_t)(len >> 24), pt[1] = (uint8_t)(len >> 16);
  pt[2] = (uint8_t)(len >> 8), pt[3] = (uint8_t)len;
  if (len)
    memcpy(pt + 4, post, len);
  if ((rc = hs_new(KITH_NOISE_INITIATOR, s_sk, r_pk, box, ephemeral, &hs)) != 0)
    goto out;
  while (off < padded) {
    size_t part = padded - off < KITH_ENVELOPE_PART ? padded - off : KITH_ENVELOPE_PART;
    size_t n = 0;
    if (!tx) {
      rc = kith_noise_write_message(hs, pt + off, part, env + w + 2, size - w - 2, &n);
      if (rc == 0)
        rc = kith_noise_split(hs, &tx, &rx);
    } else {
      rc = kith_noise_cipher_encrypt(tx, pt + off, part, env + w + 2, size - w - 2, &n);
    }
    if (rc)
      goto out;
    put16(env + w, n);
    w += 2 + n;
    off += part;
  }
  *out = env, *out_len = w;
  env = NULL;
out:
  if (pt)
    sodium_memzero(pt, padded);
  free(pt);
  free(env);
  kith_noise_cipher_free(tx);
  kith_noise_cipher_free(rx);
  kith_noise_hs_free(hs);
  return rc;
}

int kith_envelope_open(const uint8_t r_sk[static 64], const uint8_t s_pk[static 32],
                       const uint8_t box[static KITH_BOX_LEN], const uint8_t *env,
                       size_t len, uint8_t **post, size_t *post_len)
{
  kith_noise_hs *hs = NULL;
  kith_noise_cipher *tx = NULL, *rx = NULL;
  uint8_t *pt = NULL;
  size_t padded = 0, have = 0, off = 0;
  int rc = KITH_EBADMSG;
  *post = NULL;
  *post_len = 0;
  for (size_t i = 0; i < NBUCKETS; i++) /* the size says the bucket */
    if (sealed_size(buckets[i]) == len)
      padded = buckets[i];
  if (!padded)
    return KITH_EBADMSG;
  if (!(pt = malloc(padded)))
    return KITH_ENOMEM;
  if ((rc = hs_new(KITH_NOISE_RESPONDER, r_sk, s_pk, box, NULL, &hs)) != 0) {
    rc = rc == KITH_EINVAL ? KITH_EBADMSG : rc;
    goto out;
  }
  while (off < len) {
    size_t n = 0, fl;
    if (len - off < 2 || (fl = (size_t)env[off] << 8 | env[off + 1]) > len - off - 2) {
      rc = KITH_EBADMSG;
      goto out;
    }
    size_t room = padded - have;
    if (!rx) {
      rc = kith_noise_read_message(hs, env + off + 2, fl, pt + have, room, &n);
      if (rc == 0)
        rc = kith_noise_split(hs, &tx, &rx);
    } else {
      rc = kith_noise_cipher_decrypt(rx, env + off + 2, fl, pt + have, room, &n);
    }
    if (rc || n == 0 || (n != KITH_ENVELOPE_PART && have + n != padded)) {
      rc = rc == KITH_ENOMEM ? rc : KITH_EBADMSG;
      goto out;
    }
    have += n;
    off += 2 + fl;
  }
  size_t plen = (size_t)pt[0] << 24 | (size_t)pt[1] << 16 | (size_t)pt[2] << 8 | pt[3];
  rc = KITH_EBADMSG;
  if (have != padded || plen > padded - 4 || bucket_of(plen) != padded)
    goto out;
  for (size_t i = 4 + plen; i < padded; i++)
    if (pt[i])
      goto out;
  memmove(pt, pt + 4, plen);
  *post = pt, *post_len = plen;
  pt = NULL;
  rc = 0;
out:
  if (pt)
    sodium_memzero(pt, padded);
  free(pt);
  kith_noise_cipher_free(tx);
  kith_noise_cipher_free(rx);
  kith_noise_hs_free(hs);
  return rc;
}
