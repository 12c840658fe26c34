/*
 * noise_vec.h — reads Noise test vector files and replays one vector through
 * proto/noise.h; shared by tests/noise_vectors.c and tests/unit/test_noise.c.
 *
 * The layout is the one of cacophony, snow and noise-c's exports: {"vectors": [...]},
 * each vector with "protocol_name" (or noise-c's "name"), "init_prologue" /
 * "resp_prologue", "init_static" / "resp_static" (X25519 private keys),
 * "init_ephemeral" / "resp_ephemeral", "init_remote_static" / "resp_remote_static"
 * (public keys known beforehand), "init_psks" / "resp_psks" (arrays), "messages"
 * ([{payload, ciphertext}], the initiator sending the even ones, during the
 * handshake and after it) and an optional "handshake_hash". All values are hex.
 *
 * Header-only (static functions) so each program stays one file.
 */
#ifndef KITH_NOISE_VEC_H
#define KITH_NOISE_VEC_H

#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/err.h"
#include "proto/hex.h"
#include "proto/noise.h"

struct nv_bytes {
  uint8_t *p; /* NULL: absent */
  size_t n;
};

struct nv_msg {
  struct nv_bytes payload, ct;
};

struct nv_vector {
  char *name;
  struct nv_bytes init_prologue, resp_prologue;
  struct nv_bytes init_static, resp_static, init_ephemeral, resp_ephemeral;
  struct nv_bytes init_remote_static, resp_remote_static;
  struct nv_bytes init_psk, resp_psk; /* the first psk of each array */
  size_t init_npsks, resp_npsks;
  struct nv_bytes hh;
  struct nv_msg *msgs;
  size_t n_msgs;
};

enum { NV_OK = 0, NV_SKIP = 1, NV_FAIL = -1 };

static inline int nv_hex(const char *s, struct nv_bytes *b)
{
  size_t n = strlen(s);
  if (n % 2)
    return -1;
  /* One spare byte so that an empty value is a non-NULL pointer ("present"). */
  if (!(b->p = malloc(n / 2 + 1)))
    return -1;
  b->n = n / 2;
  return kith_hex_decode(s, b->p, b->n) == 0 ? 0 : -1;
}

static inline int nv_field(json_t *o, const char *key, struct nv_bytes *b)
{
  json_t *v = json_object_get(o, key);
  if (!v)
    return 0;
  if (!json_is_string(v))
    return -1;
  return nv_hex(json_string_value(v), b);
}

static inline int nv_psks(json_t *o, const char *key, struct nv_bytes *b, size_t *n)
{
  json_t *a = json_object_get(o, key);
  *n = 0;
  if (!a)
    return 0;
  if (!json_is_array(a))
    return -1;
  *n = json_array_size(a);
  if (*n == 0)
    return 0;
  json_t *first = json_array_get(a, 0);
  return json_is_string(first) ? nv_hex(json_string_value(first), b) : -1;
}

static inline void nv_free(struct nv_vector *v, size_t n)
{
  for (size_t i = 0; v && i < n; i++) {
    struct nv_vector *x = &v[i];
    free(x->name);
    struct nv_bytes *all[] = {&x->init_prologue,
                              &x->resp_prologue,
                              &x->init_static,
                              &x->resp_static,
                              &x->init_ephemeral,
                              &x->resp_ephemeral,
                              &x->init_remote_static,
                              &x->resp_remote_static,
                              &x->init_psk,
                              &x->resp_psk,
                              &x->hh};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
      free(all[k]->p);
    for (size_t m = 0; x->msgs && m < x->n_msgs; m++) {
      free(x->msgs[m].payload.p);
      free(x->msgs[m].ct.p);
    }
    free(x->msgs);
  }
  free(v);
}

/* Loads every vector of a file into *out (n of them). 0, or -1 with why filled. */
static inline int nv_load(const char *path, struct nv_vector **out, size_t *n,
                          char *why, size_t why_len)
{
  json_error_t jerr;
  json_t *root = json_load_file(path, 0, &jerr), *arr;
  struct nv_vector *v = NULL;
  size_t count = 0;
  int rc = -1;

  *out = NULL;
  *n = 0;
  if (!root) {
    snprintf(why, why_len, "%s:%d: %s", path, jerr.line, jerr.text);
    goto out;
  }
  arr = json_object_get(root, "vectors");
  if (!json_is_array(arr)) {
    snprintf(why, why_len, "%s: no \"vectors\" array", path);
    goto out;
  }
  count = json_array_size(arr);
  if (!(v = calloc(count ? count : 1, sizeof *v))) {
    snprintf(why, why_len, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < count; i++) {
    json_t *o = json_array_get(arr, i), *name, *msgs;
    struct nv_vector *x = &v[i];
    name = json_object_get(o, "protocol_name");
    if (!name)
      name = json_object_get(o, "name");
    msgs = json_object_get(o, "messages");
    if (!json_is_string(name) || !json_is_array(msgs)) {
      snprintf(why, why_len, "vector %zu: no protocol name or no messages", i);
      goto out;
    }
    if (!(x->name = strdup(json_string_value(name))))
      goto out;
    if (nv_field(o, "init_prologue", &x->init_prologue) ||
        nv_field(o, "resp_prologue", &x->resp_prologue) ||
        nv_field(o, "init_static", &x->init_static) ||
        nv_field(o, "resp_static", &x->resp_static) ||
        nv_field(o, "init_ephemeral", &x->init_ephemeral) ||
        nv_field(o, "resp_ephemeral", &x->resp_ephemeral) ||
        nv_field(o, "init_remote_static", &x->init_remote_static) ||
        nv_field(o, "resp_remote_static", &x->resp_remote_static) ||
        nv_psks(o, "init_psks", &x->init_psk, &x->init_npsks) ||
        nv_psks(o, "resp_psks", &x->resp_psk, &x->resp_npsks) ||
        nv_field(o, "handshake_hash", &x->hh)) {
      snprintf(why, why_len, "vector %zu: a field is not a hex string", i);
      goto out;
    }
    x->n_msgs = json_array_size(msgs);
    if (!(x->msgs = calloc(x->n_msgs ? x->n_msgs : 1, sizeof *x->msgs)))
      goto out;
    for (size_t m = 0; m < x->n_msgs; m++) {
      json_t *mo = json_array_get(msgs, m);
      if (nv_field(mo, "payload", &x->msgs[m].payload) ||
          nv_field(mo, "ciphertext", &x->msgs[m].ct) || !x->msgs[m].payload.p ||
          !x->msgs[m].ct.p) {
        snprintf(why, why_len, "vector %zu message %zu: bad payload or ciphertext", i,
                 m);
        goto out;
      }
    }
  }
  *out = v;
  *n = count;
  v = NULL;
  rc = 0;
out:
  nv_free(v, count);
  json_decref(root);
  return rc;
}

static inline int nv_fail(char *why, size_t why_len, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, why_len, fmt, ap);
  va_end(ap);
  return NV_FAIL;
}

/* Offset of the first difference, or SIZE_MAX if a and b are equal. */
static inline size_t nv_diff(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
  size_t i = 0;
  while (i < an && i < bn && a[i] == b[i])
    i++;
  return i == an && i == bn ? SIZE_MAX : i;
}

/* Fills one side's configuration from the vector; NV_SKIP or NV_FAIL with why. */
static inline int nv_side(const struct nv_vector *v, enum kith_noise_role role,
                          struct kith_noise_config *cfg, char *why, size_t why_len)
{
  bool ini = role == KITH_NOISE_INITIATOR;
  const char *who = ini ? "init" : "resp";
  const struct nv_bytes *pro = ini ? &v->init_prologue : &v->resp_prologue;
  const struct nv_bytes *s = ini ? &v->init_static : &v->resp_static;
  const struct nv_bytes *e = ini ? &v->init_ephemeral : &v->resp_ephemeral;
  const struct nv_bytes *rs = ini ? &v->init_remote_static : &v->resp_remote_static;
  const struct nv_bytes *psk = ini ? &v->init_psk : &v->resp_psk;
  size_t npsks = ini ? v->init_npsks : v->resp_npsks;
  unsigned needs;

  if (kith_noise_needs(v->name, role, &needs) != 0)
    return NV_SKIP;
  memset(cfg, 0, sizeof *cfg);
  cfg->protocol = v->name;
  cfg->role = role;
  cfg->prologue = pro->p;
  cfg->prologue_len = pro->n;
  if (!e->p || e->n != KITH_NOISE_KEY_LEN)
    return nv_fail(why, why_len, "%s_ephemeral missing or not 32 bytes", who);
  cfg->ephemeral = e->p;
  if (needs & KITH_NOISE_NEED_STATIC) {
    if (!s->p || s->n != KITH_NOISE_KEY_LEN)
      return nv_fail(why, why_len, "%s_static missing or not 32 bytes", who);
    cfg->local_static = s->p;
  }
  if (needs & KITH_NOISE_NEED_REMOTE_STATIC) {
    if (!rs->p || rs->n != KITH_NOISE_KEY_LEN)
      return nv_fail(why, why_len, "%s_remote_static missing or not 32 bytes", who);
    cfg->remote_static = rs->p;
  }
  if (needs & KITH_NOISE_NEED_PSK) {
    if (npsks != 1)
      return NV_SKIP; /* our patterns have one psk token */
    if (psk->n != KITH_NOISE_KEY_LEN)
      return nv_fail(why, why_len, "%s_psks[0] is not 32 bytes", who);
    cfg->psk = psk->p;
  }
  return NV_OK;
}

/* Checks that side knows the peer's static key as the vector's private key
 * implies, when the pattern transmits or pre-shares it. */
static inline int nv_check_remote(const kith_noise_hs *hs, const struct nv_bytes *peer,
                                  const char *who, char *why, size_t why_len)
{
  uint8_t got[KITH_NOISE_KEY_LEN], want[KITH_NOISE_KEY_LEN];
  if (kith_noise_remote_static(hs, got) != 0 || !peer->p ||
      peer->n != KITH_NOISE_KEY_LEN)
    return NV_OK; /* not a pattern with a remote static key */
  if (crypto_scalarmult_base(want, peer->p) != 0)
    return nv_fail(why, why_len, "bad static key in vector");
  if (sodium_memcmp(got, want, sizeof got) != 0)
    return nv_fail(why, why_len, "%s learnt the wrong remote static key", who);
  return NV_OK;
}

/* Replays vector v: every handshake message written and read, the handshake hash,
 * the transport messages after split. NV_OK, NV_SKIP (unsupported protocol) or
 * NV_FAIL with a reason in why. */
static inline int nv_run(const struct nv_vector *v, char *why, size_t why_len)
{
  struct kith_noise_config ci, cr;
  kith_noise_hs *hi = NULL, *hr = NULL;
  kith_noise_cipher *ci_send = NULL, *ci_recv = NULL, *cr_send = NULL, *cr_recv = NULL;
  static uint8_t buf[KITH_NOISE_MAX_MSG], pt[KITH_NOISE_MAX_MSG];
  uint8_t hash_i[KITH_NOISE_HASH_MAX], hash_r[KITH_NOISE_HASH_MAX];
  size_t n, pn, hi_len, hr_len, at;
  int rc;

  snprintf(why, why_len, "%s", "");
  if ((rc = nv_side(v, KITH_NOISE_INITIATOR, &ci, why, why_len)) != NV_OK ||
      (rc = nv_side(v, KITH_NOISE_RESPONDER, &cr, why, why_len)) != NV_OK)
    goto out;
  rc = NV_FAIL;
  if (kith_noise_hs_new(&ci, &hi) != 0 || kith_noise_hs_new(&cr, &hr) != 0) {
    nv_fail(why, why_len, "cannot start the handshake states");
    goto out;
  }
  for (size_t m = 0; m < v->n_msgs; m++) {
    const struct nv_msg *msg = &v->msgs[m];
    bool from_init = m % 2 == 0;
    kith_noise_hs *tx = from_init ? hi : hr, *rx = from_init ? hr : hi;
    if (!kith_noise_is_finished(hi)) {
      int e = kith_noise_write_message(tx, msg->payload.p, msg->payload.n, buf,
                                       sizeof buf, &n);
      if (e) {
        nv_fail(why, why_len, "message %zu: write: %s", m, kith_strerror(e));
        goto out;
      }
      if ((at = nv_diff(buf, n, msg->ct.p, msg->ct.n)) != SIZE_MAX) {
        nv_fail(why, why_len, "message %zu: handshake ciphertext differs at byte %zu",
                m, at);
        goto out;
      }
      e = kith_noise_read_message(rx, msg->ct.p, msg->ct.n, pt, sizeof pt, &pn);
      if (e) {
        nv_fail(why, why_len, "message %zu: read: %s", m, kith_strerror(e));
        goto out;
      }
      if (nv_diff(pt, pn, msg->payload.p, msg->payload.n) != SIZE_MAX) {
        nv_fail(why, why_len, "message %zu: payload read back differs", m);
        goto out;
      }
      if (kith_noise_is_finished(hi) != kith_noise_is_finished(hr)) {
        nv_fail(why, why_len, "message %zu: one side finished, not the other", m);
        goto out;
      }
      if (!kith_noise_is_finished(hi))
        continue;
      if (kith_noise_handshake_hash(hi, hash_i, &hi_len) != 0 ||
          kith_noise_handshake_hash(hr, hash_r, &hr_len) != 0 ||
          nv_diff(hash_i, hi_len, hash_r, hr_len) != SIZE_MAX) {
        nv_fail(why, why_len, "the two sides' handshake hashes differ");
        goto out;
      }
      if (v->hh.p && nv_diff(hash_i, hi_len, v->hh.p, v->hh.n) != SIZE_MAX) {
        nv_fail(why, why_len, "handshake_hash differs");
        goto out;
      }
      if (nv_check_remote(hi, &v->resp_static, "initiator", why, why_len) ||
          nv_check_remote(hr, &v->init_static, "responder", why, why_len))
        goto out;
      if (kith_noise_split(hi, &ci_send, &ci_recv) != 0 ||
          kith_noise_split(hr, &cr_send, &cr_recv) != 0) {
        nv_fail(why, why_len, "split failed");
        goto out;
      }
      continue;
    }
    kith_noise_cipher *send = from_init ? ci_send : cr_send;
    kith_noise_cipher *recv = from_init ? cr_recv : ci_recv;
    int e = kith_noise_cipher_encrypt(send, msg->payload.p, msg->payload.n, buf,
                                      sizeof buf, &n);
    if (e) {
      nv_fail(why, why_len, "message %zu: encrypt: %s", m, kith_strerror(e));
      goto out;
    }
    if ((at = nv_diff(buf, n, msg->ct.p, msg->ct.n)) != SIZE_MAX) {
      nv_fail(why, why_len, "message %zu: transport ciphertext differs at byte %zu", m,
              at);
      goto out;
    }
    e = kith_noise_cipher_decrypt(recv, msg->ct.p, msg->ct.n, pt, sizeof pt, &pn);
    if (e) {
      nv_fail(why, why_len, "message %zu: decrypt: %s", m, kith_strerror(e));
      goto out;
    }
    if (nv_diff(pt, pn, msg->payload.p, msg->payload.n) != SIZE_MAX) {
      nv_fail(why, why_len, "message %zu: transport payload differs", m);
      goto out;
    }
  }
  if (!kith_noise_is_finished(hi)) {
    nv_fail(why, why_len, "the vector ends before the handshake does");
    goto out;
  }
  rc = NV_OK;
out:
  kith_noise_hs_free(hi);
  kith_noise_hs_free(hr);
  kith_noise_cipher_free(ci_send);
  kith_noise_cipher_free(ci_recv);
  kith_noise_cipher_free(cr_send);
  kith_noise_cipher_free(cr_recv);
  return rc;
}

#endif
