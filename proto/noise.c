#include "proto/noise.h"

#include <assert.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define KEY KITH_NOISE_KEY_LEN
#define TAG KITH_NOISE_TAG_LEN
#define BLAKE2B_LEN 64
#define BLAKE2B_BLOCK 128
#define SHA256_LEN 32
#define NAME_MAX_LEN 128

/* ---- patterns --------------------------------------------------------------- */

enum token { T_END = 0, T_E, T_S, T_EE, T_ES, T_SE, T_SS, T_PSK };

#define MAX_MSGS 3
#define MAX_TOKENS 4
#define PRE_S 1u /* the side's static public key is known to the peer beforehand */

/* A handshake pattern as the specification writes it: the keys each side
 * pre-shares, then the messages, initiator first, alternating. */
struct pattern {
  const char *name;
  unsigned pre_init, pre_resp;
  int n_msgs;
  uint8_t msgs[MAX_MSGS][MAX_TOKENS + 1]; /* each ends with T_END */
};

static const struct pattern patterns[] = {
    {"NN", 0, 0, 2, {{T_E}, {T_E, T_EE}}},
    {"XX", 0, 0, 3, {{T_E}, {T_E, T_EE, T_S, T_ES}, {T_S, T_SE}}},
    {"IK", 0, PRE_S, 2, {{T_E, T_ES, T_S, T_SS}, {T_E, T_EE, T_SE}}},
    {"NNpsk0", 0, 0, 2, {{T_PSK, T_E}, {T_E, T_EE}}},
    {"XXpsk3", 0, 0, 3, {{T_E}, {T_E, T_EE, T_S, T_ES}, {T_S, T_SE, T_PSK}}},
    {"K", PRE_S, PRE_S, 1, {{T_E, T_ES, T_SS}}}, /* one-way: envelopes */
};

enum hash_alg { HASH_BLAKE2B, HASH_SHA256 };

static bool pattern_has(const struct pattern *p, int from, enum token t)
{
  for (int m = from; m < p->n_msgs; m += 2)
    for (const uint8_t *k = p->msgs[m]; *k; k++)
      if (*k == t)
        return true;
  return false;
}

/* Which pattern and hash a protocol name asks for; KITH_EINVAL if not ours. */
static int parse_name(const char *name, const struct pattern **pat, enum hash_alg *alg)
{
  static const char prefix[] = "Noise_", mid[] = "_25519_ChaChaPoly_";
  if (!name || strnlen(name, NAME_MAX_LEN + 1) > NAME_MAX_LEN ||
      strncmp(name, prefix, sizeof prefix - 1) != 0)
    return KITH_EINVAL;
  const char *p = name + sizeof prefix - 1, *u = strchr(p, '_');
  if (!u || strncmp(u, mid, sizeof mid - 1) != 0)
    return KITH_EINVAL;
  const char *h = u + sizeof mid - 1;
  if (strcmp(h, "BLAKE2b") == 0)
    *alg = HASH_BLAKE2B;
  else if (strcmp(h, "SHA256") == 0)
    *alg = HASH_SHA256;
  else
    return KITH_EINVAL;
  for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++) {
    if (strlen(patterns[i].name) == (size_t)(u - p) &&
        memcmp(patterns[i].name, p, (size_t)(u - p)) == 0) {
      *pat = &patterns[i];
      return 0;
    }
  }
  return KITH_EINVAL;
}

static unsigned needs_of(const struct pattern *p, bool initiator)
{
  unsigned mine = initiator ? p->pre_init : p->pre_resp;
  unsigned theirs = initiator ? p->pre_resp : p->pre_init;
  unsigned n = 0;
  if ((mine & PRE_S) || pattern_has(p, initiator ? 0 : 1, T_S))
    n |= KITH_NOISE_NEED_STATIC;
  if (theirs & PRE_S)
    n |= KITH_NOISE_NEED_REMOTE_STATIC;
  if (pattern_has(p, 0, T_PSK) || pattern_has(p, 1, T_PSK))
    n |= KITH_NOISE_NEED_PSK;
  return n;
}

int kith_noise_needs(const char *protocol, enum kith_noise_role role, unsigned *needs)
{
  const struct pattern *pat;
  enum hash_alg alg;
  int rc = parse_name(protocol, &pat, &alg);
  if (rc == 0 && role != KITH_NOISE_INITIATOR && role != KITH_NOISE_RESPONDER)
    rc = KITH_EINVAL;
  *needs = rc ? 0 : needs_of(pat, role == KITH_NOISE_INITIATOR);
  return rc;
}

/* ---- hash, HMAC, HKDF --------------------------------------------------------- */

struct hash_ctx {
  enum hash_alg alg;
  union {
    crypto_generichash_state b;
    crypto_hash_sha256_state s;
  } u;
};

static size_t hash_len(enum hash_alg alg)
{
  return alg == HASH_BLAKE2B ? BLAKE2B_LEN : SHA256_LEN;
}

static int hash_init(struct hash_ctx *c, enum hash_alg alg)
{
  c->alg = alg;
  if (alg == HASH_BLAKE2B)
    return crypto_generichash_init(&c->u.b, NULL, 0, BLAKE2B_LEN);
  return crypto_hash_sha256_init(&c->u.s);
}

static int hash_update(struct hash_ctx *c, const uint8_t *d, size_t n)
{
  if (n == 0)
    return 0;
  if (c->alg == HASH_BLAKE2B)
    return crypto_generichash_update(&c->u.b, d, n);
  return crypto_hash_sha256_update(&c->u.s, d, n);
}

static int hash_final(struct hash_ctx *c, uint8_t *out)
{
  int rc = c->alg == HASH_BLAKE2B ? crypto_generichash_final(&c->u.b, out, BLAKE2B_LEN)
                                  : crypto_hash_sha256_final(&c->u.s, out);
  sodium_memzero(c, sizeof *c);
  return rc;
}

/* HMAC-HASH(key, d1 || d2) into out (hash_len bytes). The key is at most one hash
 * long. BLAKE2b's HMAC is RFC 2104 over a 128-byte block (BLAKE2b's own keyed mode
 * is a different function); SHA256's is libsodium's. 0 or -1. */
static int hmac(enum hash_alg alg, const uint8_t *key, size_t klen, const uint8_t *d1,
                size_t n1, const uint8_t *d2, size_t n2, uint8_t *out)
{
  int rc = -1;
  uint8_t pad[BLAKE2B_BLOCK], inner[BLAKE2B_LEN];
  struct hash_ctx c;
  crypto_auth_hmacsha256_state s;

  assert(klen <= BLAKE2B_LEN);
  if (alg == HASH_SHA256) {
    if (crypto_auth_hmacsha256_init(&s, key, klen) != 0 ||
        (n1 && crypto_auth_hmacsha256_update(&s, d1, n1) != 0) ||
        (n2 && crypto_auth_hmacsha256_update(&s, d2, n2) != 0) ||
        crypto_auth_hmacsha256_final(&s, out) != 0)
      goto out;
    rc = 0;
    goto out;
  }
  memset(pad, 0x36, sizeof pad);
  for (size_t i = 0; i < klen; i++)
    pad[i] ^= key[i];
  if (hash_init(&c, alg) != 0 || hash_update(&c, pad, sizeof pad) != 0 ||
      hash_update(&c, d1, n1) != 0 || hash_update(&c, d2, n2) != 0 ||
      hash_final(&c, inner) != 0)
    goto out;
  memset(pad, 0x5c, sizeof pad);
  for (size_t i = 0; i < klen; i++)
    pad[i] ^= key[i];
  if (hash_init(&c, alg) != 0 || hash_update(&c, pad, sizeof pad) != 0 ||
      hash_update(&c, inner, BLAKE2B_LEN) != 0 || hash_final(&c, out) != 0)
    goto out;
  rc = 0;
out:
  sodium_memzero(pad, sizeof pad);
  sodium_memzero(inner, sizeof inner);
  sodium_memzero(&c, sizeof c);
  sodium_memzero(&s, sizeof s);
  return rc;
}

/* Noise's HKDF(ck, ikm) with two or three outputs (o3 NULL: two), each hash_len
 * bytes. 0 or -1. */
static int hkdf(enum hash_alg alg, const uint8_t *ck, const uint8_t *ikm, size_t n,
                uint8_t *o1, uint8_t *o2, uint8_t *o3)
{
  size_t hl = hash_len(alg);
  uint8_t tk[BLAKE2B_LEN];
  const uint8_t b1 = 1, b2 = 2, b3 = 3;
  int rc = -1;
  if (hmac(alg, ck, hl, ikm, n, NULL, 0, tk) != 0 ||
      hmac(alg, tk, hl, &b1, 1, NULL, 0, o1) != 0 ||
      hmac(alg, tk, hl, o1, hl, &b2, 1, o2) != 0 ||
      (o3 && hmac(alg, tk, hl, o2, hl, &b3, 1, o3) != 0))
    goto out;
  rc = 0;
out:
  sodium_memzero(tk, sizeof tk);
  return rc;
}

/* ---- CipherState ------------------------------------------------------------ */

struct cstate {
  uint8_t k[KEY];
  bool has_k;
  uint64_t n;
};

static void nonce_of(uint64_t n,
                     uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES])
{
  memset(nonce, 0, 4);
  for (int i = 0; i < 8; i++)
    nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

/* EncryptWithAd: out gets len (+ TAG once keyed) bytes. n = 2^64-1 is reserved,
 * so the last nonce used is 2^64-2. */
static int cs_encrypt(struct cstate *cs, const uint8_t *ad, size_t adlen,
                      const uint8_t *pt, size_t len, uint8_t *out)
{
  uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
  if (!cs->has_k) {
    if (len)
      memmove(out, pt, len);
    return 0;
  }
  if (cs->n == UINT64_MAX)
    return KITH_EINVAL;
  nonce_of(cs->n, nonce);
  if (crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, pt, len, ad, adlen, NULL,
                                                nonce, cs->k) != 0)
    return KITH_EINVAL;
  cs->n++;
  return 0;
}

/* DecryptWithAd: ct is len bytes (>= TAG once keyed, checked by the caller); out
 * gets the plaintext. On a failed MAC libsodium writes nothing to keep. */
static int cs_decrypt(struct cstate *cs, const uint8_t *ad, size_t adlen,
                      const uint8_t *ct, size_t len, uint8_t *out)
{
  uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
  if (!cs->has_k) {
    if (len)
      memmove(out, ct, len);
    return 0;
  }
  assert(len >= TAG);
  if (cs->n == UINT64_MAX)
    return KITH_EINVAL;
  nonce_of(cs->n, nonce);
  if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, ct, len, ad, adlen,
                                                nonce, cs->k) != 0)
    return KITH_EBADMSG;
  cs->n++;
  return 0;
}

/* ---- HandshakeState ------------------------------------------------------------- */

struct kith_noise_hs {
  const struct pattern *pat;
  enum hash_alg alg;
  size_t hl;
  bool initiator, psk_mode;
  int msg; /* next message, 0-based */
  bool finished, split, failed;

  uint8_t ck[BLAKE2B_LEN], h[BLAKE2B_LEN];
  struct cstate cs;

  uint8_t s[KEY], s_pub[KEY];
  uint8_t e[KEY], e_pub[KEY];
  uint8_t rs[KEY], re[KEY];
  uint8_t psk[KEY];
  bool has_s, has_e, fixed_e, has_rs, has_re, has_psk;
};

struct kith_noise_cipher {
  uint8_t k[KEY];
  uint64_t n;
  bool failed;
};

/* Fail-stop: forget every secret; only "failed" remains. */
static void hs_die(kith_noise_hs *hs)
{
  const struct pattern *pat = hs->pat;
  sodium_memzero(hs, sizeof *hs);
  hs->pat = pat;
  hs->failed = true;
}

/* Once the last message is through, only ck (for split), h and rs are needed. */
static void hs_forget_keys(kith_noise_hs *hs)
{
  sodium_memzero(hs->s, sizeof hs->s);
  sodium_memzero(hs->e, sizeof hs->e);
  sodium_memzero(hs->psk, sizeof hs->psk);
  sodium_memzero(&hs->cs, sizeof hs->cs);
  hs->has_s = hs->has_e = hs->fixed_e = hs->has_psk = false;
}

static int mix_hash(kith_noise_hs *hs, const uint8_t *d, size_t n)
{
  struct hash_ctx c;
  if (hash_init(&c, hs->alg) != 0 || hash_update(&c, hs->h, hs->hl) != 0 ||
      hash_update(&c, d, n) != 0 || hash_final(&c, hs->h) != 0) {
    sodium_memzero(&c, sizeof c);
    return KITH_EINVAL;
  }
  return 0;
}

static int mix_key(kith_noise_hs *hs, const uint8_t *ikm, size_t n)
{
  uint8_t ck[BLAKE2B_LEN], k[BLAKE2B_LEN];
  int rc = KITH_EINVAL;
  if (hkdf(hs->alg, hs->ck, ikm, n, ck, k, NULL) != 0)
    goto out;
  memcpy(hs->ck, ck, hs->hl);
  memcpy(hs->cs.k, k, KEY); /* a 64-byte output is truncated to the key */
  hs->cs.has_k = true;
  hs->cs.n = 0;
  rc = 0;
out:
  sodium_memzero(ck, sizeof ck);
  sodium_memzero(k, sizeof k);
  return rc;
}

static int mix_key_and_hash(kith_noise_hs *hs, const uint8_t *ikm, size_t n)
{
  uint8_t ck[BLAKE2B_LEN], th[BLAKE2B_LEN], k[BLAKE2B_LEN];
  int rc = KITH_EINVAL;
  if (hkdf(hs->alg, hs->ck, ikm, n, ck, th, k) != 0)
    goto out;
  memcpy(hs->ck, ck, hs->hl);
  if ((rc = mix_hash(hs, th, hs->hl)) != 0)
    goto out;
  memcpy(hs->cs.k, k, KEY);
  hs->cs.has_k = true;
  hs->cs.n = 0;
out:
  sodium_memzero(ck, sizeof ck);
  sodium_memzero(th, sizeof th);
  sodium_memzero(k, sizeof k);
  return rc;
}

static int encrypt_and_hash(kith_noise_hs *hs, const uint8_t *pt, size_t len,
                            uint8_t *out, size_t *out_len)
{
  size_t n = len + (hs->cs.has_k ? TAG : 0);
  int rc = cs_encrypt(&hs->cs, hs->h, hs->hl, pt, len, out);
  if (rc == 0)
    rc = mix_hash(hs, out, n);
  *out_len = n;
  return rc;
}

static int decrypt_and_hash(kith_noise_hs *hs, const uint8_t *ct, size_t len,
                            uint8_t *out)
{
  int rc = cs_decrypt(&hs->cs, hs->h, hs->hl, ct, len, out);
  if (rc == 0)
    rc = mix_hash(hs, ct, len);
  return rc;
}

/* True if pub is a usable X25519 public key: not of low order (every low-order
 * point, in any encoding, multiplies to zero under a clamped scalar). */
static bool pub_ok(const uint8_t pub[KEY])
{
  static const uint8_t probe[KEY] = {0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x09};
  uint8_t out[KEY];
  int rc = crypto_scalarmult(out, probe, pub);
  sodium_memzero(out, sizeof out);
  return rc == 0;
}

/* MixKey(DH(...)) for ee, es, se, ss; the first letter names the initiator's key.
 * A zero result (a low-order peer key) is KITH_EBADMSG. */
static int mix_dh(kith_noise_hs *hs, enum token t)
{
  bool mine_e, theirs_e; /* which of my keys, which of theirs */
  uint8_t dh[KEY];
  int rc = KITH_EINVAL;
  switch (t) {
  case T_EE:
    mine_e = theirs_e = true;
    break;
  case T_SS:
    mine_e = theirs_e = false;
    break;
  case T_ES: /* initiator's e with responder's s */
    mine_e = hs->initiator;
    theirs_e = !hs->initiator;
    break;
  case T_SE:
    mine_e = !hs->initiator;
    theirs_e = hs->initiator;
    break;
  default:
    goto out;
  }
  const uint8_t *priv = mine_e ? hs->e : hs->s;
  const uint8_t *pub = theirs_e ? hs->re : hs->rs;
  if (!(mine_e ? hs->has_e : hs->has_s) || !(theirs_e ? hs->has_re : hs->has_rs))
    goto out; /* the table and hs_new make this impossible */
  if (crypto_scalarmult(dh, priv, pub) != 0) {
    rc = KITH_EBADMSG;
    goto out;
  }
  rc = mix_key(hs, dh, sizeof dh);
out:
  sodium_memzero(dh, sizeof dh);
  return rc;
}

/* Bytes a message of these tokens takes besides the payload, and whether the
 * payload is encrypted (then TAG is counted too). */
static size_t overhead(const kith_noise_hs *hs, const uint8_t *tok)
{
  bool k = hs->cs.has_k;
  size_t n = 0;
  for (; *tok; tok++) {
    if (*tok == T_E) {
      n += KEY;
      if (hs->psk_mode)
        k = true;
    } else if (*tok == T_S) {
      n += KEY + (k ? TAG : 0);
    } else {
      k = true;
    }
  }
  return n + (k ? TAG : 0);
}

static int hs_token(kith_noise_hs *hs, enum token t)
{
  if (t == T_PSK)
    return mix_key_and_hash(hs, hs->psk, KEY);
  return mix_dh(hs, t);
}

static int init_symmetric(kith_noise_hs *hs, const char *name)
{
  size_t n = strlen(name);
  struct hash_ctx c;
  if (n <= hs->hl) {
    memset(hs->h, 0, sizeof hs->h);
    memcpy(hs->h, name, n);
  } else if (hash_init(&c, hs->alg) != 0 ||
             hash_update(&c, (const uint8_t *)name, n) != 0 ||
             hash_final(&c, hs->h) != 0) {
    return KITH_EINVAL;
  }
  memcpy(hs->ck, hs->h, hs->hl);
  return 0;
}

int kith_noise_hs_new(const struct kith_noise_config *cfg, kith_noise_hs **out)
{
  kith_noise_hs *hs = NULL;
  const struct pattern *pat;
  enum hash_alg alg;
  unsigned needs;
  int rc = KITH_EINVAL;

  *out = NULL;
  if (!cfg || parse_name(cfg->protocol, &pat, &alg) != 0)
    goto out;
  if (cfg->role != KITH_NOISE_INITIATOR && cfg->role != KITH_NOISE_RESPONDER)
    goto out;
  if (cfg->prologue_len && !cfg->prologue)
    goto out;
  needs = needs_of(pat, cfg->role == KITH_NOISE_INITIATOR);
  if (!(needs & KITH_NOISE_NEED_STATIC) != !cfg->local_static ||
      !(needs & KITH_NOISE_NEED_REMOTE_STATIC) != !cfg->remote_static ||
      !(needs & KITH_NOISE_NEED_PSK) != !cfg->psk)
    goto out;
  if (sodium_init() < 0) {
    rc = KITH_EIO;
    goto out;
  }
  if (!(hs = calloc(1, sizeof *hs))) {
    rc = KITH_ENOMEM;
    goto out;
  }
  hs->pat = pat;
  hs->alg = alg;
  hs->hl = hash_len(alg);
  hs->initiator = cfg->role == KITH_NOISE_INITIATOR;
  hs->psk_mode = (needs & KITH_NOISE_NEED_PSK) != 0;
  if (cfg->local_static) {
    memcpy(hs->s, cfg->local_static, KEY);
    if (crypto_scalarmult_base(hs->s_pub, hs->s) != 0)
      goto out;
    hs->has_s = true;
  }
  if (cfg->remote_static) {
    if (!pub_ok(cfg->remote_static))
      goto out;
    memcpy(hs->rs, cfg->remote_static, KEY);
    hs->has_rs = true;
  }
  if (cfg->psk) {
    memcpy(hs->psk, cfg->psk, KEY);
    hs->has_psk = true;
  }
  if (cfg->ephemeral) {
    memcpy(hs->e, cfg->ephemeral, KEY);
    hs->fixed_e = true;
  }
  if ((rc = init_symmetric(hs, cfg->protocol)) != 0 ||
      (rc = mix_hash(hs, cfg->prologue, cfg->prologue_len)) != 0)
    goto out;
  /* Pre-messages, initiator's first: the pre-shared static keys. */
  if (pat->pre_init & PRE_S)
    rc = mix_hash(hs, hs->initiator ? hs->s_pub : hs->rs, KEY);
  if (rc == 0 && (pat->pre_resp & PRE_S))
    rc = mix_hash(hs, hs->initiator ? hs->rs : hs->s_pub, KEY);
  if (rc)
    goto out;
  *out = hs;
  hs = NULL;
out:
  kith_noise_hs_free(hs);
  return rc;
}

void kith_noise_hs_free(kith_noise_hs *hs)
{
  if (!hs)
    return;
  sodium_memzero(hs, sizeof *hs);
  free(hs);
}

enum kith_noise_next kith_noise_next(const kith_noise_hs *hs)
{
  if (!hs || hs->failed)
    return KITH_NOISE_FAILED;
  if (hs->split)
    return KITH_NOISE_DONE;
  if (hs->finished)
    return KITH_NOISE_SPLIT;
  return (hs->msg % 2 == 0) == hs->initiator ? KITH_NOISE_WRITE : KITH_NOISE_READ;
}

bool kith_noise_is_finished(const kith_noise_hs *hs)
{
  return hs && !hs->failed && hs->finished;
}

static void hs_advance(kith_noise_hs *hs)
{
  if (++hs->msg == hs->pat->n_msgs) {
    hs->finished = true;
    hs_forget_keys(hs);
  }
}

int kith_noise_write_message(kith_noise_hs *hs, const uint8_t *payload, size_t len,
                             uint8_t *out, size_t out_cap, size_t *out_len)
{
  const uint8_t *tok;
  int rc = KITH_EINVAL;
  size_t off = 0, n, need;

  *out_len = 0;
  if (kith_noise_next(hs) != KITH_NOISE_WRITE || (len && !payload) || !out)
    goto out;
  tok = hs->pat->msgs[hs->msg];
  if (len > KITH_NOISE_MAX_MSG) {
    rc = KITH_ETOOBIG;
    goto out;
  }
  need = overhead(hs, tok) + len;
  if (need > KITH_NOISE_MAX_MSG) {
    rc = KITH_ETOOBIG;
    goto out;
  }
  if (need > out_cap)
    goto out;
  for (; *tok; tok++) {
    switch (*tok) {
    case T_E:
      if (!hs->fixed_e)
        randombytes_buf(hs->e, KEY);
      if (crypto_scalarmult_base(hs->e_pub, hs->e) != 0) {
        rc = KITH_EINVAL;
        goto out;
      }
      hs->has_e = true;
      memcpy(out + off, hs->e_pub, KEY);
      off += KEY;
      if ((rc = mix_hash(hs, hs->e_pub, KEY)) != 0 ||
          (hs->psk_mode && (rc = mix_key(hs, hs->e_pub, KEY)) != 0))
        goto out;
      break;
    case T_S:
      if ((rc = encrypt_and_hash(hs, hs->s_pub, KEY, out + off, &n)) != 0)
        goto out;
      off += n;
      break;
    default:
      if ((rc = hs_token(hs, *tok)) != 0)
        goto out;
    }
  }
  if ((rc = encrypt_and_hash(hs, payload, len, out + off, &n)) != 0)
    goto out;
  off += n;
  assert(off == need);
  hs_advance(hs);
  *out_len = off;
out:
  if (rc && hs)
    hs_die(hs);
  return rc;
}

int kith_noise_read_message(kith_noise_hs *hs, const uint8_t *msg, size_t len,
                            uint8_t *payload_out, size_t cap, size_t *payload_len)
{
  const uint8_t *tok;
  int rc = KITH_EINVAL;
  size_t off = 0, n, over;
  uint8_t rs[KEY];

  *payload_len = 0;
  if (kith_noise_next(hs) != KITH_NOISE_READ || (len && !msg) || (cap && !payload_out))
    goto out;
  tok = hs->pat->msgs[hs->msg];
  over = overhead(hs, tok);
  if (len > KITH_NOISE_MAX_MSG || len < over) {
    rc = KITH_EBADMSG;
    goto out;
  }
  if (len - over > cap)
    goto out;
  for (; *tok; tok++) {
    switch (*tok) {
    case T_E:
      memcpy(hs->re, msg + off, KEY);
      off += KEY;
      if (!pub_ok(hs->re)) {
        rc = KITH_EBADMSG;
        goto out;
      }
      hs->has_re = true;
      if ((rc = mix_hash(hs, hs->re, KEY)) != 0 ||
          (hs->psk_mode && (rc = mix_key(hs, hs->re, KEY)) != 0))
        goto out;
      break;
    case T_S:
      n = KEY + (hs->cs.has_k ? TAG : 0);
      if ((rc = decrypt_and_hash(hs, msg + off, n, rs)) != 0)
        goto out;
      off += n;
      if (!pub_ok(rs)) {
        rc = KITH_EBADMSG;
        goto out;
      }
      memcpy(hs->rs, rs, KEY);
      hs->has_rs = true;
      break;
    default:
      if ((rc = hs_token(hs, *tok)) != 0)
        goto out;
    }
  }
  /* What is left is the payload: len - over bytes, plus the tag if encrypted. */
  if ((rc = decrypt_and_hash(hs, msg + off, len - off, payload_out)) != 0)
    goto out;
  hs_advance(hs);
  *payload_len = len - over;
out:
  sodium_memzero(rs, sizeof rs);
  if (rc) {
    if (hs)
      hs_die(hs);
    if (payload_out && cap)
      sodium_memzero(payload_out, cap);
  }
  return rc;
}

int kith_noise_handshake_hash(const kith_noise_hs *hs,
                              uint8_t out[static KITH_NOISE_HASH_MAX], size_t *len)
{
  *len = 0;
  if (!hs || hs->failed)
    return KITH_EINVAL;
  memcpy(out, hs->h, hs->hl);
  *len = hs->hl;
  return 0;
}

int kith_noise_remote_static(const kith_noise_hs *hs,
                             uint8_t pk[static KITH_NOISE_KEY_LEN])
{
  if (!hs || hs->failed || !hs->has_rs)
    return KITH_EINVAL;
  memcpy(pk, hs->rs, KEY);
  return 0;
}

int kith_noise_split(kith_noise_hs *hs, kith_noise_cipher **send,
                     kith_noise_cipher **recv)
{
  kith_noise_cipher *c1 = NULL, *c2 = NULL;
  uint8_t k1[BLAKE2B_LEN], k2[BLAKE2B_LEN];
  int rc = KITH_EINVAL;

  *send = *recv = NULL;
  if (kith_noise_next(hs) != KITH_NOISE_SPLIT)
    goto out;
  if (!(c1 = calloc(1, sizeof *c1)) || !(c2 = calloc(1, sizeof *c2))) {
    rc = KITH_ENOMEM;
    goto out;
  }
  if (hkdf(hs->alg, hs->ck, NULL, 0, k1, k2, NULL) != 0)
    goto out;
  memcpy(c1->k, k1, KEY); /* initiator -> responder */
  memcpy(c2->k, k2, KEY); /* responder -> initiator */
  sodium_memzero(hs->ck, sizeof hs->ck);
  hs->split = true;
  *send = hs->initiator ? c1 : c2;
  *recv = hs->initiator ? c2 : c1;
  c1 = c2 = NULL;
  rc = 0;
out:
  sodium_memzero(k1, sizeof k1);
  sodium_memzero(k2, sizeof k2);
  kith_noise_cipher_free(c1);
  kith_noise_cipher_free(c2);
  if (rc && hs)
    hs_die(hs);
  return rc;
}

/* ---- transport ------------------------------------------------------------------ */

static void cipher_die(kith_noise_cipher *c)
{
  sodium_memzero(c, sizeof *c);
  c->failed = true;
}

int kith_noise_cipher_encrypt(kith_noise_cipher *c, const uint8_t *pt, size_t len,
                              uint8_t *out, size_t out_cap, size_t *out_len)
{
  uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
  int rc = KITH_EINVAL;

  *out_len = 0;
  if (!c || c->failed || (len && !pt) || !out)
    goto out;
  if (len > KITH_NOISE_MAX_PAYLOAD) {
    rc = KITH_ETOOBIG;
    goto out;
  }
  if (out_cap < len + TAG || c->n == UINT64_MAX)
    goto out;
  nonce_of(c->n, nonce);
  if (crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, pt, len, NULL, 0, NULL,
                                                nonce, c->k) != 0)
    goto out;
  c->n++;
  *out_len = len + TAG;
  rc = 0;
out:
  if (rc && c)
    cipher_die(c);
  return rc;
}

int kith_noise_cipher_decrypt(kith_noise_cipher *c, const uint8_t *msg, size_t len,
                              uint8_t *out, size_t out_cap, size_t *out_len)
{
  uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
  int rc = KITH_EINVAL;

  *out_len = 0;
  if (!c || c->failed || (len && !msg) || (out_cap && !out))
    goto out;
  if (len < TAG || len > KITH_NOISE_MAX_MSG) {
    rc = KITH_EBADMSG;
    goto out;
  }
  if (out_cap < len - TAG || c->n == UINT64_MAX)
    goto out;
  nonce_of(c->n, nonce);
  if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, msg, len, NULL, 0,
                                                nonce, c->k) != 0) {
    rc = KITH_EBADMSG;
    goto out;
  }
  c->n++;
  *out_len = len - TAG;
  rc = 0;
out:
  if (rc) {
    if (c)
      cipher_die(c);
    if (out && out_cap)
      sodium_memzero(out, out_cap);
  }
  return rc;
}

uint64_t kith_noise_cipher_nonce(const kith_noise_cipher *c)
{
  return c ? c->n : 0;
}

int kith_noise_cipher_set_nonce(kith_noise_cipher *c, uint64_t n)
{
  if (!c || c->failed)
    return KITH_EINVAL;
  if (n < c->n) {
    cipher_die(c);
    return KITH_EINVAL;
  }
  c->n = n;
  return 0;
}

void kith_noise_cipher_free(kith_noise_cipher *c)
{
  if (!c)
    return;
  sodium_memzero(c, sizeof *c);
  free(c);
}
