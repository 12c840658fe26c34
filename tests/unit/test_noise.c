/*
 * test_noise.c — proto/noise.h: the published vectors byte for byte, round trips of
 * every pattern and hash, and everything a peer or a caller can get wrong: tampered,
 * truncated, replayed and reordered messages, wrong keys, low-order keys, calls out
 * of turn, oversized messages, exhausted nonces.
 */
#include "kith_test.h"

#include <sodium.h>

#include "proto/noise.h"
#include "tests/noise_vec.h"

#define KEY KITH_NOISE_KEY_LEN
#define TAG KITH_NOISE_TAG_LEN

/* Every protocol kith implements; first_clear: the first message's payload travels
 * in clear (no key yet), so tampering with it shows at the reply. */
static const struct proto {
  const char *name;
  bool first_clear;
} protos[] = {
    {"Noise_NN_25519_ChaChaPoly_BLAKE2b", true},
    {"Noise_NN_25519_ChaChaPoly_SHA256", true},
    {"Noise_XX_25519_ChaChaPoly_BLAKE2b", true},
    {"Noise_XX_25519_ChaChaPoly_SHA256", true},
    {"Noise_IK_25519_ChaChaPoly_BLAKE2b", false},
    {"Noise_IK_25519_ChaChaPoly_SHA256", false},
    {"Noise_NNpsk0_25519_ChaChaPoly_BLAKE2b", false},
    {"Noise_NNpsk0_25519_ChaChaPoly_SHA256", false},
    {"Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b", false},
    {"Noise_XXpsk3_25519_ChaChaPoly_SHA256", false},
    {"Noise_K_25519_ChaChaPoly_BLAKE2b", false},
    {"Noise_K_25519_ChaChaPoly_SHA256", false},
};
#define N_PROTOS (sizeof protos / sizeof protos[0])

/* Everything both sides of a handshake start from. */
struct keys {
  uint8_t i_priv[KEY], i_pub[KEY], r_priv[KEY], r_pub[KEY];
  uint8_t i_eph[KEY], r_eph[KEY], psk[KEY];
  uint8_t prologue[19];
};

static void keys_fill(struct keys *k, int seed)
{
  uint8_t *parts[] = {k->i_priv, k->r_priv, k->i_eph, k->r_eph, k->psk};
  if (seed < 0) {
    for (size_t p = 0; p < 5; p++)
      randombytes_buf(parts[p], KEY);
    randombytes_buf(k->prologue, sizeof k->prologue);
  } else {
    for (size_t p = 0; p < 5; p++)
      for (size_t i = 0; i < KEY; i++)
        parts[p][i] = (uint8_t)(seed * 31 + p * 67 + i * 13 + 1);
    memcpy(k->prologue, "kith test prologue", sizeof k->prologue);
  }
  assert_int_equal(crypto_scalarmult_base(k->i_pub, k->i_priv), 0);
  assert_int_equal(crypto_scalarmult_base(k->r_pub, k->r_priv), 0);
}

/* One side's configuration: the keys its protocol needs, and nothing more.
 * fixed_e: use the keys' ephemerals (deterministic messages). */
static struct kith_noise_config side_cfg(const char *proto, enum kith_noise_role role,
                                         const struct keys *k, bool fixed_e)
{
  bool ini = role == KITH_NOISE_INITIATOR;
  unsigned needs;
  struct kith_noise_config c = {0};
  assert_rc(kith_noise_needs(proto, role, &needs), 0);
  c.protocol = proto;
  c.role = role;
  c.prologue = k->prologue;
  c.prologue_len = sizeof k->prologue;
  if (needs & KITH_NOISE_NEED_STATIC)
    c.local_static = ini ? k->i_priv : k->r_priv;
  if (needs & KITH_NOISE_NEED_REMOTE_STATIC)
    c.remote_static = ini ? k->r_pub : k->i_pub;
  if (needs & KITH_NOISE_NEED_PSK)
    c.psk = k->psk;
  if (fixed_e)
    c.ephemeral = ini ? k->i_eph : k->r_eph;
  return c;
}

static void pair_new(const char *proto, const struct keys *k, bool fixed_e,
                     kith_noise_hs **i, kith_noise_hs **r)
{
  struct kith_noise_config ci = side_cfg(proto, KITH_NOISE_INITIATOR, k, fixed_e);
  struct kith_noise_config cr = side_cfg(proto, KITH_NOISE_RESPONDER, k, fixed_e);
  assert_rc(kith_noise_hs_new(&ci, i), 0);
  assert_rc(kith_noise_hs_new(&cr, r), 0);
}

/* The messages of one honest handshake. */
struct transcript {
  int n;
  uint8_t msg[3][512];
  size_t len[3];
  uint8_t payload[3][16];
  size_t plen[3];
};

static void payload_for(int m, uint8_t out[16], size_t *len)
{
  *len = (size_t)(5 + 3 * m);
  for (size_t i = 0; i < *len; i++)
    out[i] = (uint8_t)('a' + m + i);
}

/* Runs a handshake to the end, checking every payload; records it in t if not
 * NULL. */
static void handshake(kith_noise_hs *i, kith_noise_hs *r, struct transcript *t)
{
  uint8_t buf[512], pt[512], payload[16];
  size_t n, pn, plen;
  int m = 0;
  while (!kith_noise_is_finished(i)) {
    bool from_i = kith_noise_next(i) == KITH_NOISE_WRITE;
    kith_noise_hs *tx = from_i ? i : r, *rx = from_i ? r : i;
    assert_int_equal(kith_noise_next(tx), KITH_NOISE_WRITE);
    assert_int_equal(kith_noise_next(rx), KITH_NOISE_READ);
    assert_int_equal(from_i, m % 2 == 0);
    payload_for(m, payload, &plen);
    assert_rc(kith_noise_write_message(tx, payload, plen, buf, sizeof buf, &n), 0);
    assert_rc(kith_noise_read_message(rx, buf, n, pt, sizeof pt, &pn), 0);
    assert_bytes_equal(pt, pn, payload, plen);
    if (t) {
      memcpy(t->msg[m], buf, n);
      t->len[m] = n;
      memcpy(t->payload[m], payload, plen);
      t->plen[m] = plen;
      t->n = m + 1;
    }
    m++;
    assert_true(m <= 3);
  }
  assert_true(kith_noise_is_finished(r));
  assert_int_equal(kith_noise_next(i), KITH_NOISE_SPLIT);
  assert_int_equal(kith_noise_next(r), KITH_NOISE_SPLIT);
}

struct link {
  kith_noise_cipher *i_send, *i_recv, *r_send, *r_recv;
};

static void link_new(const char *proto, const struct keys *k, bool fixed_e,
                     struct link *l)
{
  kith_noise_hs *i = NULL, *r = NULL;
  pair_new(proto, k, fixed_e, &i, &r);
  handshake(i, r, NULL);
  assert_rc(kith_noise_split(i, &l->i_send, &l->i_recv), 0);
  assert_rc(kith_noise_split(r, &l->r_send, &l->r_recv), 0);
  kith_noise_hs_free(i);
  kith_noise_hs_free(r);
}

static void link_free(struct link *l)
{
  kith_noise_cipher_free(l->i_send);
  kith_noise_cipher_free(l->i_recv);
  kith_noise_cipher_free(l->r_send);
  kith_noise_cipher_free(l->r_recv);
  memset(l, 0, sizeof *l);
}

static bool all_zero(const uint8_t *b, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (b[i])
      return false;
  return true;
}

/* ---- the published vectors ------------------------------------------------------ */

static void run_file(const char *file, size_t want)
{
  const char *shared = getenv("KITH_SHARED");
  char path[512], why[256];
  struct nv_vector *v = NULL;
  size_t n = 0;
  if (!shared)
    fail_msg("KITH_SHARED is not set (ctest sets it to the shared folder)");
  snprintf(path, sizeof path, "%s/vectors/noise/%s", shared, file);
  if (nv_load(path, &v, &n, why, sizeof why) != 0)
    fail_msg("%s", why);
  assert_int_equal(n, want);
  for (size_t i = 0; i < n; i++) {
    int rc = nv_run(&v[i], why, sizeof why);
    if (rc != NV_OK)
      fail_msg("%s vector %zu (%s): %s", file, i, v[i].name,
               rc == NV_SKIP ? "skipped" : why);
  }
  nv_free(v, n);
}

static void test_vectors_basic(void **state)
{
  (void)state;
  run_file("noise-vectors.json", 6);
}

static void test_vectors_psk(void **state)
{
  (void)state;
  run_file("noise-psk-vectors.json", 4);
}

static void test_vectors_noise_c(void **state)
{
  (void)state;
  run_file("noise-c-basic-vectors.json", 3);
}

/* The replayer itself fails what it should: a changed byte in a handshake message,
 * a transport message or the handshake hash, and skips an unknown protocol. */
static void test_vectors_negative_controls(void **state)
{
  (void)state;
  const char *shared = getenv("KITH_SHARED");
  char path[512], why[256];
  struct nv_vector *v = NULL;
  size_t n = 0;
  if (!shared)
    fail_msg("KITH_SHARED is not set (ctest sets it to the shared folder)");
  snprintf(path, sizeof path, "%s/vectors/noise/noise-vectors.json", shared);
  if (nv_load(path, &v, &n, why, sizeof why) != 0)
    fail_msg("%s", why);
  assert_true(n >= 4);
  v[0].msgs[1].ct.p[40] ^= 1;
  assert_int_equal(nv_run(&v[0], why, sizeof why), NV_FAIL);
  assert_non_null(strstr(why, "message 1"));
  v[1].hh.p[3] ^= 1;
  assert_int_equal(nv_run(&v[1], why, sizeof why), NV_FAIL);
  v[2].msgs[4].ct.p[0] ^= 1;
  assert_int_equal(nv_run(&v[2], why, sizeof why), NV_FAIL);
  assert_non_null(strstr(why, "transport"));
  v[3].init_prologue.p[0] ^= 1;
  assert_int_equal(nv_run(&v[3], why, sizeof why), NV_FAIL);
  v[3].init_prologue.p[0] ^= 1;
  assert_int_equal(nv_run(&v[3], why, sizeof why), NV_OK);
  v[3].name[6] = 'K'; /* Noise_KX_...: not implemented */
  assert_int_equal(nv_run(&v[3], why, sizeof why), NV_SKIP);
  nv_free(v, n);
}

/* ---- round trips ------------------------------------------------------------------
 */

static void test_round_trips(void **state)
{
  (void)state;
  static uint8_t big[KITH_NOISE_MAX_MSG], ct[KITH_NOISE_MAX_MSG],
      pt[KITH_NOISE_MAX_MSG];
  for (size_t p = 0; p < N_PROTOS; p++) {
    const char *name = protos[p].name;
    unsigned needs;
    struct keys k;
    kith_noise_hs *i = NULL, *r = NULL;
    kith_noise_cipher *is = NULL, *ir = NULL, *rs = NULL, *rr = NULL;
    uint8_t hi[KITH_NOISE_HASH_MAX], hr[KITH_NOISE_HASH_MAX], pk[KEY];
    size_t hil, hrl, n, pn;

    keys_fill(&k, -1);
    pair_new(name, &k, false, &i, &r);
    handshake(i, r, NULL);
    assert_rc(kith_noise_handshake_hash(i, hi, &hil), 0);
    assert_rc(kith_noise_handshake_hash(r, hr, &hrl), 0);
    assert_int_equal(hil, strstr(name, "BLAKE2b") ? 64 : 32);
    assert_bytes_equal(hi, hil, hr, hrl);

    /* Who learnt whose static key. */
    assert_rc(kith_noise_needs(name, KITH_NOISE_RESPONDER, &needs), 0);
    if (needs & KITH_NOISE_NEED_STATIC) {
      assert_rc(kith_noise_remote_static(i, pk), 0);
      assert_bytes_equal(pk, KEY, k.r_pub, KEY);
    } else {
      assert_rc(kith_noise_remote_static(i, pk), KITH_EINVAL);
    }
    assert_rc(kith_noise_needs(name, KITH_NOISE_INITIATOR, &needs), 0);
    if (needs & KITH_NOISE_NEED_STATIC) {
      assert_rc(kith_noise_remote_static(r, pk), 0);
      assert_bytes_equal(pk, KEY, k.i_pub, KEY);
    } else {
      assert_rc(kith_noise_remote_static(r, pk), KITH_EINVAL);
    }

    assert_rc(kith_noise_split(i, &is, &ir), 0);
    assert_rc(kith_noise_split(r, &rs, &rr), 0);
    assert_int_equal(kith_noise_next(i), KITH_NOISE_DONE);
    assert_true(kith_noise_is_finished(i));
    /* Still there after split. */
    assert_rc(kith_noise_handshake_hash(i, hi, &hil), 0);
    assert_bytes_equal(hi, hil, hr, hrl);

    /* Both directions, sizes from empty to the largest payload, in turns. */
    const size_t sizes[] = {0, 1, 15, 16, 17, 1000, KITH_NOISE_MAX_PAYLOAD};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
      for (int dir = 0; dir < 2; dir++) {
        kith_noise_cipher *tx = dir ? rs : is, *rx = dir ? ir : rr;
        randombytes_buf(big, sizes[s]);
        assert_rc(kith_noise_cipher_encrypt(tx, big, sizes[s], ct, sizeof ct, &n), 0);
        assert_int_equal(n, sizes[s] + TAG);
        assert_rc(kith_noise_cipher_decrypt(rx, ct, n, pt, sizeof pt, &pn), 0);
        assert_bytes_equal(pt, pn, big, sizes[s]);
      }
    }
    assert_int_equal(kith_noise_cipher_nonce(is), 7);
    assert_int_equal(kith_noise_cipher_nonce(rr), 7);

    /* In place, both ways. */
    memcpy(big, "in place", 8);
    assert_rc(kith_noise_cipher_encrypt(is, big, 8, big, sizeof big, &n), 0);
    assert_rc(kith_noise_cipher_decrypt(rr, big, n, big, sizeof big, &pn), 0);
    assert_bytes_equal(big, pn, (const uint8_t *)"in place", 8);

    kith_noise_cipher_free(is);
    kith_noise_cipher_free(ir);
    kith_noise_cipher_free(rs);
    kith_noise_cipher_free(rr);
    kith_noise_hs_free(i);
    kith_noise_hs_free(r);
  }
}

/* Without a fixed ephemeral, the same keys never give the same messages twice. */
static void test_ephemeral_is_fresh(void **state)
{
  (void)state;
  struct keys k;
  struct transcript a, b;
  kith_noise_hs *i = NULL, *r = NULL;
  keys_fill(&k, 3);
  for (int run = 0; run < 2; run++) {
    pair_new("Noise_IK_25519_ChaChaPoly_BLAKE2b", &k, false, &i, &r);
    handshake(i, r, run ? &b : &a);
    kith_noise_hs_free(i);
    kith_noise_hs_free(r);
  }
  assert_int_equal(a.len[0], b.len[0]);
  assert_false(memcmp(a.msg[0], b.msg[0], KEY) == 0);
  /* With one, they are identical. */
  for (int run = 0; run < 2; run++) {
    pair_new("Noise_IK_25519_ChaChaPoly_BLAKE2b", &k, true, &i, &r);
    handshake(i, r, run ? &b : &a);
    kith_noise_hs_free(i);
    kith_noise_hs_free(r);
  }
  assert_bytes_equal(a.msg[0], a.len[0], b.msg[0], b.len[0]);
  assert_bytes_equal(a.msg[1], a.len[1], b.msg[1], b.len[1]);
}

/* The header says the first payload of NN and XX travels in clear: show it. */
static void test_first_payload_in_clear(void **state)
{
  (void)state;
  for (size_t p = 0; p < N_PROTOS; p++) {
    struct keys k;
    struct transcript t;
    kith_noise_hs *i = NULL, *r = NULL;
    keys_fill(&k, 5);
    pair_new(protos[p].name, &k, true, &i, &r);
    handshake(i, r, &t);
    bool clear = t.len[0] == KEY + t.plen[0] &&
                 memcmp(t.msg[0] + KEY, t.payload[0], t.plen[0]) == 0;
    assert_int_equal(clear, protos[p].first_clear);
    kith_noise_hs_free(i);
    kith_noise_hs_free(r);
  }
}

/* ---- tampering ----------------------------------------------------------------------
 */

/* Runs the deterministic handshake of (proto, k), replacing message idx with bad
 * (n bytes). Returns the index of the message whose read failed, or -1. A failed
 * read must be KITH_EBADMSG, deliver nothing, and leave a dead state. */
static int handshake_with(const char *proto, const struct keys *k, int idx,
                          const uint8_t *bad, size_t bad_len)
{
  kith_noise_hs *i = NULL, *r = NULL;
  uint8_t buf[512], pt[600], payload[16];
  size_t n, pn, plen;
  int failed_at = -1;

  pair_new(proto, k, true, &i, &r);
  for (int m = 0; !kith_noise_is_finished(i); m++) {
    kith_noise_hs *tx = m % 2 == 0 ? i : r, *rx = m % 2 == 0 ? r : i;
    payload_for(m, payload, &plen);
    assert_rc(kith_noise_write_message(tx, payload, plen, buf, sizeof buf, &n), 0);
    memset(pt, 0xa5, sizeof pt);
    pn = 12345;
    int rc = m == idx ? kith_noise_read_message(rx, bad, bad_len, pt, sizeof pt, &pn)
                      : kith_noise_read_message(rx, buf, n, pt, sizeof pt, &pn);
    if (rc) {
      assert_rc(rc, KITH_EBADMSG);
      assert_int_equal(pn, 0);
      assert_true(all_zero(pt, sizeof pt));
      assert_int_equal(kith_noise_next(rx), KITH_NOISE_FAILED);
      assert_false(kith_noise_is_finished(rx));
      /* Dead: the genuine message is refused too, and so is everything else. */
      assert_rc(kith_noise_read_message(rx, buf, n, pt, sizeof pt, &pn), KITH_EINVAL);
      assert_rc(kith_noise_write_message(rx, NULL, 0, buf, sizeof buf, &n),
                KITH_EINVAL);
      failed_at = m;
      break;
    }
  }
  kith_noise_hs_free(i);
  kith_noise_hs_free(r);
  return failed_at;
}

static void expect_rejected(const struct proto *p, const struct keys *k, int idx,
                            const uint8_t *bad, size_t n, const char *what, size_t at)
{
  int got = handshake_with(p->name, k, idx, bad, n);
  bool ok = got == idx || (p->first_clear && idx == 0 && got == 1);
  if (!ok)
    fail_msg("%s: message %d, %s %zu: %s", p->name, idx, what, at,
             got < 0 ? "accepted to the end" : "rejected at the wrong message");
}

static void test_tampered_handshake(void **state)
{
  (void)state;
  uint8_t bad[600];
  for (size_t p = 0; p < N_PROTOS; p++) {
    struct keys k;
    struct transcript t;
    kith_noise_hs *i = NULL, *r = NULL;
    keys_fill(&k, 7);
    pair_new(protos[p].name, &k, true, &i, &r);
    handshake(i, r, &t);
    kith_noise_hs_free(i);
    kith_noise_hs_free(r);
    /* The untampered transcript goes through (the harness is not failing
     * everything). */
    assert_int_equal(handshake_with(protos[p].name, &k, 0, t.msg[0], t.len[0]), -1);

    for (int m = 0; m < t.n; m++) {
      size_t n = t.len[m];
      for (size_t b = 0; b < n; b++) {
        memcpy(bad, t.msg[m], n);
        bad[b] ^= (uint8_t)(1u << (b % 8)); /* byte 31 of a key: its top bit */
        expect_rejected(&protos[p], &k, m, bad, n, "flipped byte", b);
        memcpy(bad, t.msg[m], n);
        bad[b] ^= 0xff;
        expect_rejected(&protos[p], &k, m, bad, n, "inverted byte", b);
      }
      /* Cut short at every length, and one byte too long. */
      for (size_t cut = 0; cut < n; cut++)
        expect_rejected(&protos[p], &k, m, t.msg[m], cut, "truncated to", cut);
      memcpy(bad, t.msg[m], n);
      bad[n] = 0;
      expect_rejected(&protos[p], &k, m, bad, n + 1, "extended to", n + 1);
    }
  }
}

/* Cut short clear payloads are caught one message later. */
static void test_truncated_clear_payload(void **state)
{
  (void)state;
  struct keys k;
  struct transcript t;
  kith_noise_hs *i = NULL, *r = NULL;
  keys_fill(&k, 9);
  pair_new("Noise_XX_25519_ChaChaPoly_BLAKE2b", &k, true, &i, &r);
  handshake(i, r, &t);
  kith_noise_hs_free(i);
  kith_noise_hs_free(r);
  for (size_t cut = KEY; cut < t.len[0]; cut++)
    assert_int_equal(
        handshake_with("Noise_XX_25519_ChaChaPoly_BLAKE2b", &k, 0, t.msg[0], cut), 1);
}

static void test_tampered_transport(void **state)
{
  (void)state;
  static const char *const names[] = {"Noise_IK_25519_ChaChaPoly_BLAKE2b",
                                      "Noise_XXpsk3_25519_ChaChaPoly_SHA256"};
  const uint8_t msg[] = "a transport message";
  uint8_t ct[64], bad[64], pt[64];
  size_t n, pn;
  for (size_t p = 0; p < 2; p++) {
    struct keys k;
    struct link l;
    keys_fill(&k, 11);
    link_new(names[p], &k, true, &l);
    assert_rc(kith_noise_cipher_encrypt(l.i_send, msg, sizeof msg, ct, sizeof ct, &n),
              0);
    link_free(&l);
    for (size_t b = 0; b <= n; b++) {
      for (int kind = 0; kind < 3; kind++) {
        size_t bn = n;
        memcpy(bad, ct, n);
        if (kind == 2 && b == n)
          continue;
        if (b == n)
          bn = kind ? n + 1 : n - 1; /* one byte too long or too short */
        else if (kind == 0)
          bad[b] ^= (uint8_t)(1u << (b % 8));
        else if (kind == 1)
          bad[b] ^= 0xff;
        else
          bn = b; /* truncated */
        link_new(names[p], &k, true, &l);
        memset(pt, 0xa5, sizeof pt);
        pn = 999;
        int rc = kith_noise_cipher_decrypt(l.r_recv, bad, bn, pt, sizeof pt, &pn);
        if (rc != KITH_EBADMSG)
          fail_msg("%s: byte %zu kind %d: decrypt returned %d", names[p], b, kind, rc);
        assert_int_equal(pn, 0);
        assert_true(all_zero(pt, sizeof pt));
        /* Dead: the genuine message is refused too. */
        assert_rc(kith_noise_cipher_decrypt(l.r_recv, ct, n, pt, sizeof pt, &pn),
                  KITH_EINVAL);
        link_free(&l);
      }
    }
    /* The harness itself: the untampered message decrypts. */
    link_new(names[p], &k, true, &l);
    assert_rc(kith_noise_cipher_decrypt(l.r_recv, ct, n, pt, sizeof pt, &pn), 0);
    assert_bytes_equal(pt, pn, msg, sizeof msg);
    link_free(&l);
  }
}

/* ---- wrong keys
 * ---------------------------------------------------------------------- */

static void test_wrong_psk(void **state)
{
  (void)state;
  static const struct {
    const char *name;
    int fails_at; /* the message whose read first uses the psk's key */
  } cases[] = {
      {"Noise_NNpsk0_25519_ChaChaPoly_BLAKE2b", 0},
      {"Noise_NNpsk0_25519_ChaChaPoly_SHA256", 0},
      {"Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b", 2},
      {"Noise_XXpsk3_25519_ChaChaPoly_SHA256", 2},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    for (int who = 0; who < 2; who++) { /* whose psk is wrong */
      struct keys k;
      uint8_t other[KEY], buf[512], pt[512];
      size_t n, pn;
      kith_noise_hs *i = NULL, *r = NULL;
      keys_fill(&k, -1);
      memcpy(other, k.psk, KEY);
      other[who ? 31 : 0] ^= 1; /* one bit off */
      struct kith_noise_config ci =
          side_cfg(cases[c].name, KITH_NOISE_INITIATOR, &k, false);
      struct kith_noise_config cr =
          side_cfg(cases[c].name, KITH_NOISE_RESPONDER, &k, false);
      if (who)
        cr.psk = other;
      else
        ci.psk = other;
      assert_rc(kith_noise_hs_new(&ci, &i), 0);
      assert_rc(kith_noise_hs_new(&cr, &r), 0);
      for (int m = 0;; m++) {
        kith_noise_hs *tx = m % 2 == 0 ? i : r, *rx = m % 2 == 0 ? r : i;
        assert_rc(
            kith_noise_write_message(tx, (const uint8_t *)"hi", 2, buf, sizeof buf, &n),
            0);
        int rc = kith_noise_read_message(rx, buf, n, pt, sizeof pt, &pn);
        if (m < cases[c].fails_at) {
          assert_rc(rc, 0);
          continue;
        }
        assert_rc(rc, KITH_EBADMSG);
        assert_int_equal(pn, 0);
        break;
      }
      kith_noise_hs_free(i);
      kith_noise_hs_free(r);
    }
  }
}

static void test_ik_wrong_responder_key(void **state)
{
  (void)state;
  static const char *const names[] = {"Noise_IK_25519_ChaChaPoly_BLAKE2b",
                                      "Noise_IK_25519_ChaChaPoly_SHA256"};
  for (size_t p = 0; p < 2; p++) {
    struct keys k, stranger;
    uint8_t buf[512], pt[512];
    size_t n, pn;
    kith_noise_hs *i = NULL, *r = NULL;
    keys_fill(&k, -1);
    keys_fill(&stranger, -1);
    struct kith_noise_config ci = side_cfg(names[p], KITH_NOISE_INITIATOR, &k, false);
    struct kith_noise_config cr = side_cfg(names[p], KITH_NOISE_RESPONDER, &k, false);
    ci.remote_static = stranger.r_pub; /* the initiator expects someone else */
    assert_rc(kith_noise_hs_new(&ci, &i), 0);
    assert_rc(kith_noise_hs_new(&cr, &r), 0);
    assert_rc(
        kith_noise_write_message(i, (const uint8_t *)"secret", 6, buf, sizeof buf, &n),
        0);
    assert_rc(kith_noise_read_message(r, buf, n, pt, sizeof pt, &pn), KITH_EBADMSG);
    assert_int_equal(pn, 0);
    assert_int_equal(kith_noise_next(r), KITH_NOISE_FAILED);
    kith_noise_hs_free(i);
    kith_noise_hs_free(r);

    /* And a responder that is not the one expected cannot answer either. */
    cr.local_static = stranger.r_priv;
    ci.remote_static = k.r_pub;
    assert_rc(kith_noise_hs_new(&ci, &i), 0);
    assert_rc(kith_noise_hs_new(&cr, &r), 0);
    assert_rc(kith_noise_write_message(i, NULL, 0, buf, sizeof buf, &n), 0);
    assert_rc(kith_noise_read_message(r, buf, n, pt, sizeof pt, &pn), KITH_EBADMSG);
    kith_noise_hs_free(i);
    kith_noise_hs_free(r);
  }
}

/* A different prologue on one side: the handshake fails at the first MAC. */
static void test_prologue_mismatch(void **state)
{
  (void)state;
  struct keys k;
  uint8_t buf[512], pt[512];
  size_t n, pn;
  kith_noise_hs *i = NULL, *r = NULL;
  keys_fill(&k, -1);
  const char *name = "Noise_XX_25519_ChaChaPoly_SHA256";
  struct kith_noise_config ci = side_cfg(name, KITH_NOISE_INITIATOR, &k, false);
  struct kith_noise_config cr = side_cfg(name, KITH_NOISE_RESPONDER, &k, false);
  cr.prologue_len--;
  assert_rc(kith_noise_hs_new(&ci, &i), 0);
  assert_rc(kith_noise_hs_new(&cr, &r), 0);
  assert_rc(kith_noise_write_message(i, NULL, 0, buf, sizeof buf, &n), 0);
  assert_rc(kith_noise_read_message(r, buf, n, pt, sizeof pt, &pn), 0);
  assert_rc(kith_noise_write_message(r, NULL, 0, buf, sizeof buf, &n), 0);
  assert_rc(kith_noise_read_message(i, buf, n, pt, sizeof pt, &pn), KITH_EBADMSG);
  kith_noise_hs_free(i);
  kith_noise_hs_free(r);
}

/* Every encoding of a point of small order, top bit clear and set. */
static const char *const low_order[] = {
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "0100000000000000000000000000000000000000000000000000000000000080",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
};

static void test_low_order_keys(void **state)
{
  (void)state;
  for (size_t j = 0; j < sizeof low_order / sizeof low_order[0]; j++) {
    uint8_t pt_key[KEY], out[KEY], buf[512], pt[512];
    size_t n, pn;
    struct keys k;
    kith_noise_hs *i = NULL, *r = NULL;
    assert_rc(kith_hex_decode(low_order[j], pt_key, KEY), 0);
    keys_fill(&k, -1);
    /* libsodium itself refuses it. */
    assert_int_equal(crypto_scalarmult(out, k.i_priv, pt_key), -1);

    /* As the responder's key an IK initiator is given. */
    struct kith_noise_config ci =
        side_cfg("Noise_IK_25519_ChaChaPoly_BLAKE2b", KITH_NOISE_INITIATOR, &k, false);
    ci.remote_static = pt_key;
    assert_rc(kith_noise_hs_new(&ci, &i), KITH_EINVAL);
    assert_null(i);

    /* As the ephemeral key in a first message (NN: no DH in it, still refused). */
    pair_new("Noise_NN_25519_ChaChaPoly_BLAKE2b", &k, false, &i, &r);
    memcpy(buf, pt_key, KEY);
    assert_rc(kith_noise_read_message(r, buf, KEY, pt, sizeof pt, &pn), KITH_EBADMSG);
    kith_noise_hs_free(i);
    kith_noise_hs_free(r);

    /* As the responder's ephemeral in XX's second message. */
    pair_new("Noise_XX_25519_ChaChaPoly_SHA256", &k, false, &i, &r);
    assert_rc(kith_noise_write_message(i, NULL, 0, buf, sizeof buf, &n), 0);
    assert_rc(kith_noise_read_message(r, buf, n, pt, sizeof pt, &pn), 0);
    assert_rc(kith_noise_write_message(r, NULL, 0, buf, sizeof buf, &n), 0);
    memcpy(buf, pt_key, KEY);
    assert_rc(kith_noise_read_message(i, buf, n, pt, sizeof pt, &pn), KITH_EBADMSG);
    kith_noise_hs_free(i);
    kith_noise_hs_free(r);
  }
}

/* ---- replays and order
 * ----------------------------------------------------------------- */

static void test_replay_and_reorder(void **state)
{
  (void)state;
  struct keys k;
  struct link l;
  uint8_t m0[64], m1[64], pt[64];
  size_t n0, n1, pn;
  keys_fill(&k, -1);

  link_new("Noise_IK_25519_ChaChaPoly_BLAKE2b", &k, false, &l);
  assert_rc(kith_noise_cipher_encrypt(l.i_send, (const uint8_t *)"first", 5, m0,
                                      sizeof m0, &n0),
            0);
  assert_rc(kith_noise_cipher_encrypt(l.i_send, (const uint8_t *)"second", 6, m1,
                                      sizeof m1, &n1),
            0);
  assert_rc(kith_noise_cipher_decrypt(l.r_recv, m0, n0, pt, sizeof pt, &pn), 0);
  /* The same message again: its nonce was used. */
  assert_rc(kith_noise_cipher_decrypt(l.r_recv, m0, n0, pt, sizeof pt, &pn),
            KITH_EBADMSG);
  assert_int_equal(pn, 0);
  /* The cipher is dead now: even the next genuine message is refused. */
  assert_rc(kith_noise_cipher_decrypt(l.r_recv, m1, n1, pt, sizeof pt, &pn),
            KITH_EINVAL);
  link_free(&l);

  /* Out of order. */
  link_new("Noise_IK_25519_ChaChaPoly_BLAKE2b", &k, false, &l);
  assert_rc(kith_noise_cipher_encrypt(l.i_send, (const uint8_t *)"first", 5, m0,
                                      sizeof m0, &n0),
            0);
  assert_rc(kith_noise_cipher_encrypt(l.i_send, (const uint8_t *)"second", 6, m1,
                                      sizeof m1, &n1),
            0);
  assert_rc(kith_noise_cipher_decrypt(l.r_recv, m1, n1, pt, sizeof pt, &pn),
            KITH_EBADMSG);
  link_free(&l);

  /* Reflected: a side's own message sent back to it. */
  link_new("Noise_IK_25519_ChaChaPoly_BLAKE2b", &k, false, &l);
  assert_rc(kith_noise_cipher_encrypt(l.i_send, (const uint8_t *)"first", 5, m0,
                                      sizeof m0, &n0),
            0);
  assert_rc(kith_noise_cipher_decrypt(l.i_recv, m0, n0, pt, sizeof pt, &pn),
            KITH_EBADMSG);
  link_free(&l);

  /* From another session with the same keys (fresh ephemerals). */
  struct link other;
  link_new("Noise_IK_25519_ChaChaPoly_BLAKE2b", &k, false, &l);
  link_new("Noise_IK_25519_ChaChaPoly_BLAKE2b", &k, false, &other);
  assert_rc(kith_noise_cipher_encrypt(other.i_send, (const uint8_t *)"first", 5, m0,
                                      sizeof m0, &n0),
            0);
  assert_rc(kith_noise_cipher_decrypt(l.r_recv, m0, n0, pt, sizeof pt, &pn),
            KITH_EBADMSG);
  link_free(&l);
  link_free(&other);
}

/* Handshake messages cannot be replayed into another session either. */
static void test_handshake_replay(void **state)
{
  (void)state;
  struct keys k;
  struct transcript t;
  uint8_t buf[512], pt[512];
  size_t n, pn;
  kith_noise_hs *i = NULL, *r = NULL, *i2 = NULL, *r2 = NULL;
  keys_fill(&k, -1);
  pair_new("Noise_XX_25519_ChaChaPoly_BLAKE2b", &k, false, &i, &r);
  handshake(i, r, &t);
  /* A new initiator (new ephemeral) receives the old responder's second message. */
  pair_new("Noise_XX_25519_ChaChaPoly_BLAKE2b", &k, false, &i2, &r2);
  assert_rc(kith_noise_write_message(i2, NULL, 0, buf, sizeof buf, &n), 0);
  assert_rc(kith_noise_read_message(i2, t.msg[1], t.len[1], pt, sizeof pt, &pn),
            KITH_EBADMSG);
  kith_noise_hs_free(i);
  kith_noise_hs_free(r);
  kith_noise_hs_free(i2);
  kith_noise_hs_free(r2);
}

/* ---- misuse
 * ---------------------------------------------------------------------------- */

static void test_out_of_turn(void **state)
{
  (void)state;
  struct keys k;
  uint8_t buf[512] = {0}, pt[512], h[KITH_NOISE_HASH_MAX], pk[KEY];
  size_t n, pn, hl;
  kith_noise_hs *i = NULL, *r = NULL;
  kith_noise_cipher *s = NULL, *rc = NULL;
  const char *name = "Noise_XX_25519_ChaChaPoly_BLAKE2b";
  keys_fill(&k, -1);

  /* The initiator cannot read first. */
  pair_new(name, &k, false, &i, &r);
  assert_int_equal(kith_noise_next(i), KITH_NOISE_WRITE);
  assert_int_equal(kith_noise_next(r), KITH_NOISE_READ);
  assert_rc(kith_noise_read_message(i, buf, 48, pt, sizeof pt, &pn), KITH_EINVAL);
  /* ... and after that failure every call fails. */
  assert_int_equal(kith_noise_next(i), KITH_NOISE_FAILED);
  assert_rc(kith_noise_write_message(i, NULL, 0, buf, sizeof buf, &n), KITH_EINVAL);
  assert_rc(kith_noise_handshake_hash(i, h, &hl), KITH_EINVAL);
  assert_rc(kith_noise_remote_static(i, pk), KITH_EINVAL);
  assert_rc(kith_noise_split(i, &s, &rc), KITH_EINVAL);
  assert_null(s);
  assert_null(rc);
  /* The responder cannot write first. */
  assert_rc(kith_noise_write_message(r, NULL, 0, buf, sizeof buf, &n), KITH_EINVAL);
  assert_int_equal(n, 0);
  assert_int_equal(kith_noise_next(r), KITH_NOISE_FAILED);
  kith_noise_hs_free(i);
  kith_noise_hs_free(r);

  /* Two writes in a row; split too early. */
  pair_new(name, &k, false, &i, &r);
  assert_rc(kith_noise_split(r, &s, &rc), KITH_EINVAL);
  assert_rc(kith_noise_write_message(i, NULL, 0, buf, sizeof buf, &n), 0);
  assert_rc(kith_noise_write_message(i, NULL, 0, buf, sizeof buf, &n), KITH_EINVAL);
  kith_noise_hs_free(i);
  kith_noise_hs_free(r);

  /* Nothing after the end; split once only; remote key not known before `s`. */
  pair_new(name, &k, false, &i, &r);
  assert_rc(kith_noise_remote_static(i, pk), KITH_EINVAL);
  kith_noise_hs_free(i);
  kith_noise_hs_free(r);
  pair_new(name, &k, false, &i, &r);
  handshake(i, r, NULL);
  assert_rc(kith_noise_split(i, &s, &rc), 0);
  kith_noise_cipher *s2 = NULL, *rc2 = NULL;
  assert_rc(kith_noise_split(i, &s2, &rc2), KITH_EINVAL);
  assert_null(s2);
  assert_int_equal(kith_noise_next(i), KITH_NOISE_FAILED);
  assert_rc(kith_noise_write_message(r, NULL, 0, buf, sizeof buf, &n), KITH_EINVAL);
  kith_noise_cipher_free(s);
  kith_noise_cipher_free(rc);
  kith_noise_hs_free(i);
  kith_noise_hs_free(r);

  /* NULL states. */
  assert_int_equal(kith_noise_next(NULL), KITH_NOISE_FAILED);
  assert_false(kith_noise_is_finished(NULL));
  assert_rc(kith_noise_write_message(NULL, NULL, 0, buf, sizeof buf, &n), KITH_EINVAL);
  assert_rc(kith_noise_cipher_encrypt(NULL, NULL, 0, buf, sizeof buf, &n), KITH_EINVAL);
  kith_noise_hs_free(NULL);
  kith_noise_cipher_free(NULL);
}

static void test_config_errors(void **state)
{
  (void)state;
  static const char *const unknown[] = {
      "",
      "Noise_",
      "Noise_XX",
      "Noise_KK_25519_ChaChaPoly_BLAKE2b",
      "Noise_XX_448_ChaChaPoly_BLAKE2b",
      "Noise_XX_25519_AESGCM_SHA256",
      "Noise_XX_25519_ChaChaPoly_BLAKE2s",
      "Noise_XX_25519_ChaChaPoly_SHA512",
      "Noise_XX_25519_ChaChaPoly_BLAKE2b ",
      "Noise_xx_25519_ChaChaPoly_BLAKE2b",
      "Noise_XXpsk0_25519_ChaChaPoly_BLAKE2b",
      "noise_XX_25519_ChaChaPoly_BLAKE2b",
  };
  struct keys k;
  unsigned needs;
  kith_noise_hs *hs = NULL;
  struct kith_noise_config c;
  keys_fill(&k, -1);

  for (size_t u = 0; u < sizeof unknown / sizeof unknown[0]; u++) {
    assert_rc(kith_noise_needs(unknown[u], KITH_NOISE_INITIATOR, &needs), KITH_EINVAL);
    c = (struct kith_noise_config){.protocol = unknown[u]};
    assert_rc(kith_noise_hs_new(&c, &hs), KITH_EINVAL);
    assert_null(hs);
  }
  assert_rc(kith_noise_needs(NULL, KITH_NOISE_INITIATOR, &needs), KITH_EINVAL);
  assert_rc(kith_noise_hs_new(NULL, &hs), KITH_EINVAL);

  /* What each pattern asks of each side. */
  static const struct {
    const char *name;
    unsigned init, resp;
  } want[] = {
      {"Noise_NN_25519_ChaChaPoly_SHA256", 0, 0},
      {"Noise_XX_25519_ChaChaPoly_SHA256", KITH_NOISE_NEED_STATIC,
       KITH_NOISE_NEED_STATIC},
      {"Noise_IK_25519_ChaChaPoly_SHA256",
       KITH_NOISE_NEED_STATIC | KITH_NOISE_NEED_REMOTE_STATIC, KITH_NOISE_NEED_STATIC},
      {"Noise_NNpsk0_25519_ChaChaPoly_SHA256", KITH_NOISE_NEED_PSK,
       KITH_NOISE_NEED_PSK},
      {"Noise_XXpsk3_25519_ChaChaPoly_SHA256",
       KITH_NOISE_NEED_STATIC | KITH_NOISE_NEED_PSK,
       KITH_NOISE_NEED_STATIC | KITH_NOISE_NEED_PSK},
  };
  for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
    assert_rc(kith_noise_needs(want[w].name, KITH_NOISE_INITIATOR, &needs), 0);
    assert_int_equal(needs, want[w].init);
    assert_rc(kith_noise_needs(want[w].name, KITH_NOISE_RESPONDER, &needs), 0);
    assert_int_equal(needs, want[w].resp);
  }

  /* A key missing, a key with no use. */
  const char *xx = "Noise_XX_25519_ChaChaPoly_BLAKE2b";
  c = side_cfg(xx, KITH_NOISE_INITIATOR, &k, false);
  c.local_static = NULL;
  assert_rc(kith_noise_hs_new(&c, &hs), KITH_EINVAL);
  c = side_cfg(xx, KITH_NOISE_INITIATOR, &k, false);
  c.remote_static = k.r_pub; /* XX would not check it: refused, not ignored */
  assert_rc(kith_noise_hs_new(&c, &hs), KITH_EINVAL);
  c = side_cfg(xx, KITH_NOISE_INITIATOR, &k, false);
  c.psk = k.psk;
  assert_rc(kith_noise_hs_new(&c, &hs), KITH_EINVAL);
  c = side_cfg("Noise_NN_25519_ChaChaPoly_BLAKE2b", KITH_NOISE_RESPONDER, &k, false);
  c.local_static = k.r_priv;
  assert_rc(kith_noise_hs_new(&c, &hs), KITH_EINVAL);
  c = side_cfg("Noise_IK_25519_ChaChaPoly_BLAKE2b", KITH_NOISE_INITIATOR, &k, false);
  c.remote_static = NULL;
  assert_rc(kith_noise_hs_new(&c, &hs), KITH_EINVAL);
  c = side_cfg("Noise_NNpsk0_25519_ChaChaPoly_BLAKE2b", KITH_NOISE_RESPONDER, &k,
               false);
  c.psk = NULL;
  assert_rc(kith_noise_hs_new(&c, &hs), KITH_EINVAL);
  c = side_cfg(xx, KITH_NOISE_INITIATOR, &k, false);
  c.prologue = NULL;
  assert_rc(kith_noise_hs_new(&c, &hs), KITH_EINVAL);
  c = side_cfg(xx, KITH_NOISE_INITIATOR, &k, false);
  c.role = (enum kith_noise_role)7;
  assert_rc(kith_noise_hs_new(&c, &hs), KITH_EINVAL);
  assert_null(hs);
  /* An empty prologue may be NULL. */
  c = side_cfg(xx, KITH_NOISE_INITIATOR, &k, false);
  c.prologue = NULL;
  c.prologue_len = 0;
  assert_rc(kith_noise_hs_new(&c, &hs), 0);
  kith_noise_hs_free(hs);
}

/* ---- sizes
 * ------------------------------------------------------------------------------- */

static void test_sizes(void **state)
{
  (void)state;
  static uint8_t big[KITH_NOISE_MAX_MSG + 2], out[KITH_NOISE_MAX_MSG + 2],
      pt[KITH_NOISE_MAX_MSG + 2];
  struct keys k;
  size_t n, pn;
  kith_noise_hs *i = NULL, *r = NULL;
  const char *nn = "Noise_NN_25519_ChaChaPoly_BLAKE2b";
  keys_fill(&k, -1);
  randombytes_buf(big, sizeof big);

  /* NN's first message: 32 bytes of e and the payload in clear. */
  pair_new(nn, &k, false, &i, &r);
  assert_rc(kith_noise_write_message(i, big, KITH_NOISE_MAX_MSG - KEY + 1, out,
                                     sizeof out, &n),
            KITH_ETOOBIG);
  assert_int_equal(kith_noise_next(i), KITH_NOISE_FAILED);
  kith_noise_hs_free(i);
  kith_noise_hs_free(r);

  pair_new(nn, &k, false, &i, &r);
  assert_rc(kith_noise_write_message(i, big, (size_t)-1, out, sizeof out, &n),
            KITH_ETOOBIG);
  kith_noise_hs_free(i);
  kith_noise_hs_free(r);

  pair_new(nn, &k, false, &i, &r);
  assert_rc(kith_noise_write_message(i, big, 10, out, KEY + 9, &n), KITH_EINVAL);
  kith_noise_hs_free(i);
  kith_noise_hs_free(r);

  /* The largest messages, both ways; the reply's payload is encrypted. */
  pair_new(nn, &k, false, &i, &r);
  assert_rc(
      kith_noise_write_message(i, big, KITH_NOISE_MAX_MSG - KEY, out, sizeof out, &n),
      0);
  assert_int_equal(n, KITH_NOISE_MAX_MSG);
  assert_rc(kith_noise_read_message(r, out, n, pt, KITH_NOISE_MAX_MSG - KEY, &pn), 0);
  assert_bytes_equal(pt, pn, big, KITH_NOISE_MAX_MSG - KEY);
  assert_rc(kith_noise_write_message(r, big, KITH_NOISE_MAX_MSG - KEY - TAG, out,
                                     KITH_NOISE_MAX_MSG, &n),
            0);
  assert_int_equal(n, KITH_NOISE_MAX_MSG);
  assert_rc(kith_noise_read_message(i, out, n, pt, sizeof pt, &pn), 0);
  assert_int_equal(pn, KITH_NOISE_MAX_MSG - KEY - TAG);
  kith_noise_hs_free(i);
  kith_noise_hs_free(r);

  /* Reads: one byte over the maximum, shorter than the tokens, a small buffer. */
  pair_new(nn, &k, false, &i, &r);
  assert_rc(kith_noise_read_message(r, big, KITH_NOISE_MAX_MSG + 1, pt, sizeof pt, &pn),
            KITH_EBADMSG);
  kith_noise_hs_free(i);
  kith_noise_hs_free(r);
  pair_new(nn, &k, false, &i, &r);
  assert_rc(kith_noise_write_message(i, big, 100, out, sizeof out, &n), 0);
  assert_rc(kith_noise_read_message(r, out, n, pt, 99, &pn), KITH_EINVAL);
  assert_true(all_zero(pt, 99));
  kith_noise_hs_free(i);
  kith_noise_hs_free(r);
  pair_new(nn, &k, false, &i, &r);
  assert_rc(kith_noise_write_message(i, NULL, 0, out, sizeof out, &n), 0);
  assert_rc(kith_noise_read_message(r, out, n, NULL, 0, &pn), 0);
  assert_rc(kith_noise_write_message(r, NULL, 0, out, sizeof out, &n), 0);
  assert_int_equal(n, KEY + TAG);
  assert_rc(kith_noise_read_message(i, out, KEY + TAG - 1, NULL, 0, &pn), KITH_EBADMSG);
  kith_noise_hs_free(i);
  kith_noise_hs_free(r);

  /* Transport. */
  struct link l;
  link_new(nn, &k, false, &l);
  assert_rc(kith_noise_cipher_encrypt(l.i_send, big, KITH_NOISE_MAX_PAYLOAD + 1, out,
                                      sizeof out, &n),
            KITH_ETOOBIG);
  assert_rc(kith_noise_cipher_encrypt(l.i_send, big, 1, out, sizeof out, &n),
            KITH_EINVAL); /* dead after the error */
  assert_rc(kith_noise_cipher_encrypt(l.r_send, big, 10, out, 10 + TAG - 1, &n),
            KITH_EINVAL);
  assert_rc(kith_noise_cipher_decrypt(l.r_recv, big, TAG - 1, pt, sizeof pt, &pn),
            KITH_EBADMSG);
  assert_rc(kith_noise_cipher_decrypt(l.i_recv, big, KITH_NOISE_MAX_MSG + 1, pt,
                                      sizeof pt, &pn),
            KITH_EBADMSG);
  link_free(&l);
  link_new(nn, &k, false, &l);
  assert_rc(kith_noise_cipher_encrypt(l.i_send, big, 10, out, sizeof out, &n), 0);
  assert_rc(kith_noise_cipher_decrypt(l.r_recv, out, n, pt, 9, &pn), KITH_EINVAL);
  link_free(&l);
  /* An empty message is a tag alone, and fine. */
  link_new(nn, &k, false, &l);
  assert_rc(kith_noise_cipher_encrypt(l.i_send, NULL, 0, out, TAG, &n), 0);
  assert_int_equal(n, TAG);
  assert_rc(kith_noise_cipher_decrypt(l.r_recv, out, n, NULL, 0, &pn), 0);
  assert_int_equal(pn, 0);
  link_free(&l);
}

static void test_nonce_limit(void **state)
{
  (void)state;
  struct keys k;
  struct link l;
  uint8_t ct[64], pt[64];
  size_t n, pn;
  keys_fill(&k, -1);
  link_new("Noise_IK_25519_ChaChaPoly_SHA256", &k, false, &l);

  /* Both sides skip to a nonce past 2^32 (the counter is 64 bits wide). */
  assert_rc(kith_noise_cipher_set_nonce(l.i_send, (1ull << 32) + 5), 0);
  assert_rc(kith_noise_cipher_set_nonce(l.r_recv, (1ull << 32) + 5), 0);
  assert_rc(
      kith_noise_cipher_encrypt(l.i_send, (const uint8_t *)"x", 1, ct, sizeof ct, &n),
      0);
  assert_rc(kith_noise_cipher_decrypt(l.r_recv, ct, n, pt, sizeof pt, &pn), 0);

  /* The last usable nonce is 2^64-2; then both directions refuse. */
  assert_rc(kith_noise_cipher_set_nonce(l.i_send, UINT64_MAX - 1), 0);
  assert_rc(kith_noise_cipher_set_nonce(l.r_recv, UINT64_MAX - 1), 0);
  assert_rc(
      kith_noise_cipher_encrypt(l.i_send, (const uint8_t *)"y", 1, ct, sizeof ct, &n),
      0);
  assert_int_equal(kith_noise_cipher_nonce(l.i_send), UINT64_MAX);
  assert_rc(kith_noise_cipher_decrypt(l.r_recv, ct, n, pt, sizeof pt, &pn), 0);
  assert_bytes_equal(pt, pn, (const uint8_t *)"y", 1);
  assert_rc(
      kith_noise_cipher_encrypt(l.i_send, (const uint8_t *)"z", 1, ct, sizeof ct, &n),
      KITH_EINVAL);
  assert_rc(kith_noise_cipher_decrypt(l.r_recv, ct, TAG + 1, pt, sizeof pt, &pn),
            KITH_EINVAL);

  /* A nonce never goes back. */
  assert_rc(kith_noise_cipher_set_nonce(l.r_send, 10), 0);
  assert_rc(kith_noise_cipher_set_nonce(l.r_send, 10), 0);
  assert_rc(kith_noise_cipher_set_nonce(l.r_send, 9), KITH_EINVAL);
  assert_rc(
      kith_noise_cipher_encrypt(l.r_send, (const uint8_t *)"w", 1, ct, sizeof ct, &n),
      KITH_EINVAL);
  link_free(&l);
}

/* The handshake hash is the same on both sides at every step, and differs between
 * sessions. */
static void test_handshake_hash_progress(void **state)
{
  (void)state;
  struct keys k;
  uint8_t buf[512], pt[512], a[KITH_NOISE_HASH_MAX], b[KITH_NOISE_HASH_MAX],
      first[KITH_NOISE_HASH_MAX];
  size_t n, pn, al, bl, fl;
  kith_noise_hs *i = NULL, *r = NULL;
  keys_fill(&k, -1);
  pair_new("Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b", &k, false, &i, &r);
  assert_rc(kith_noise_handshake_hash(i, a, &al), 0);
  assert_rc(kith_noise_handshake_hash(r, b, &bl), 0);
  assert_bytes_equal(a, al, b, bl);
  for (int m = 0; m < 3; m++) {
    kith_noise_hs *tx = m % 2 == 0 ? i : r, *rx = m % 2 == 0 ? r : i;
    assert_rc(kith_noise_write_message(tx, NULL, 0, buf, sizeof buf, &n), 0);
    assert_rc(kith_noise_read_message(rx, buf, n, pt, sizeof pt, &pn), 0);
    assert_rc(kith_noise_handshake_hash(i, a, &al), 0);
    assert_rc(kith_noise_handshake_hash(r, b, &bl), 0);
    assert_bytes_equal(a, al, b, bl);
  }
  memcpy(first, a, al);
  fl = al;
  kith_noise_hs_free(i);
  kith_noise_hs_free(r);
  pair_new("Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b", &k, false, &i, &r);
  handshake(i, r, NULL);
  assert_rc(kith_noise_handshake_hash(i, a, &al), 0);
  assert_int_equal(al, fl);
  assert_false(memcmp(a, first, al) == 0);
  kith_noise_hs_free(i);
  kith_noise_hs_free(r);
}

/* ---- Noise_K, by hand ----------------------------------------------------------
 * No published vector covers the one-way K pattern, so this recomputes its one
 * message and first transport message straight from the specification's
 * definitions (sections 5.1-5.3, 7.4) with libsodium, and checks the module
 * produces exactly those bytes. */
static void hb(const uint8_t *a, size_t al, const uint8_t *b, size_t bl,
               uint8_t out[64])
{
  crypto_generichash_state st;
  crypto_generichash_init(&st, NULL, 0, 64);
  crypto_generichash_update(&st, a, al);
  if (bl)
    crypto_generichash_update(&st, b, bl);
  crypto_generichash_final(&st, out, 64);
}

static void hmac_b(const uint8_t key[64], const uint8_t *m, size_t ml, uint8_t out[64])
{
  uint8_t ipad[128], opad[128], inner[64];
  for (int i = 0; i < 128; i++) {
    uint8_t k = i < 64 ? key[i] : 0;
    ipad[i] = k ^ 0x36;
    opad[i] = k ^ 0x5c;
  }
  hb(ipad, 128, m, ml, inner);
  hb(opad, 128, inner, 64, out);
}

static void hkdf2(uint8_t ck[64], const uint8_t *ikm, size_t il, uint8_t k[32])
{
  uint8_t tk[64], o1[64], o2[64], in2[65];
  uint8_t one = 1;
  hmac_b(ck, ikm, il, tk);
  hmac_b(tk, &one, 1, o1);
  memcpy(in2, o1, 64);
  in2[64] = 2;
  hmac_b(tk, in2, 65, o2);
  memcpy(ck, o1, 64);
  memcpy(k, o2, 32);
}

static void test_k_by_hand(void **state)
{
  (void)state;
  struct keys k;
  keys_fill(&k, 9);
  const char *name = "Noise_K_25519_ChaChaPoly_BLAKE2b";
  uint8_t h[64] = {0}, ck[64], key[32], e_pub[KEY], dh[KEY], nonce[12] = {0};
  uint8_t want[128], payload[] = "an envelope's first part";
  size_t wl = 0;
  memcpy(h, name, strlen(name));
  memcpy(ck, h, 64);
  hb(h, 64, k.prologue, sizeof k.prologue, h);
  hb(h, 64, k.i_pub, KEY, h);
  hb(h, 64, k.r_pub, KEY, h);
  assert_int_equal(crypto_scalarmult_base(e_pub, k.i_eph), 0);
  memcpy(want, e_pub, KEY);
  wl = KEY;
  hb(h, 64, e_pub, KEY, h);
  assert_int_equal(crypto_scalarmult(dh, k.i_eph, k.r_pub), 0); /* es */
  hkdf2(ck, dh, KEY, key);
  assert_int_equal(crypto_scalarmult(dh, k.i_priv, k.r_pub), 0); /* ss */
  hkdf2(ck, dh, KEY, key);
  unsigned long long cl = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(want + wl, &cl, payload, sizeof payload, h,
                                            64, NULL, nonce, key);
  wl += (size_t)cl;
  /* Split: the initiator's sending key is HKDF(ck, "")'s first output. */
  uint8_t t1[64], k1[32], tmsg[64], tpt[] = "part two";
  uint8_t one = 1;
  hmac_b(ck, NULL, 0, t1);
  hmac_b(t1, &one, 1, ck);
  memcpy(k1, ck, 32);
  unsigned long long tl = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(tmsg, &tl, tpt, sizeof tpt, NULL, 0, NULL,
                                            nonce, k1);

  kith_noise_hs *i = NULL, *r = NULL;
  pair_new(name, &k, true, &i, &r);
  uint8_t got[128], pt[128];
  size_t gl = 0, pl = 0;
  assert_rc(kith_noise_write_message(i, payload, sizeof payload, got, sizeof got, &gl),
            0);
  assert_bytes_equal(got, gl, want, wl);
  assert_true(kith_noise_is_finished(i));
  assert_rc(kith_noise_read_message(r, got, gl, pt, sizeof pt, &pl), 0);
  assert_bytes_equal(pt, pl, payload, sizeof payload);
  kith_noise_cipher *is = NULL, *ir = NULL, *rs = NULL, *rr = NULL;
  assert_rc(kith_noise_split(i, &is, &ir), 0);
  assert_rc(kith_noise_split(r, &rs, &rr), 0);
  assert_rc(kith_noise_cipher_encrypt(is, tpt, sizeof tpt, got, sizeof got, &gl), 0);
  assert_bytes_equal(got, gl, tmsg, (size_t)tl);
  assert_rc(kith_noise_cipher_decrypt(rr, got, gl, pt, sizeof pt, &pl), 0);
  assert_bytes_equal(pt, pl, tpt, sizeof tpt);
  /* The same message, read by the initiator's own key in the responder's place
   * (an envelope reflected back to its sender), fails. */
  struct keys swapped = k;
  memcpy(swapped.i_priv, k.r_priv, KEY);
  memcpy(swapped.r_priv, k.i_priv, KEY);
  memcpy(swapped.i_pub, k.r_pub, KEY);
  memcpy(swapped.r_pub, k.i_pub, KEY);
  kith_noise_hs *i2 = NULL, *r2 = NULL;
  pair_new(name, &swapped, true, &i2, &r2);
  assert_rc(kith_noise_write_message(i, payload, 0, got, sizeof got, &gl), KITH_EINVAL);
  assert_int_equal(kith_noise_read_message(r2, want, wl, pt, sizeof pt, &pl),
                   KITH_EBADMSG);
  kith_noise_cipher_free(is);
  kith_noise_cipher_free(ir);
  kith_noise_cipher_free(rs);
  kith_noise_cipher_free(rr);
  kith_noise_hs_free(i);
  kith_noise_hs_free(r);
  kith_noise_hs_free(i2);
  kith_noise_hs_free(r2);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vectors_basic),
      cmocka_unit_test(test_vectors_psk),
      cmocka_unit_test(test_vectors_noise_c),
      cmocka_unit_test(test_vectors_negative_controls),
      cmocka_unit_test(test_round_trips),
      cmocka_unit_test(test_ephemeral_is_fresh),
      cmocka_unit_test(test_first_payload_in_clear),
      cmocka_unit_test(test_tampered_handshake),
      cmocka_unit_test(test_truncated_clear_payload),
      cmocka_unit_test(test_tampered_transport),
      cmocka_unit_test(test_wrong_psk),
      cmocka_unit_test(test_ik_wrong_responder_key),
      cmocka_unit_test(test_prologue_mismatch),
      cmocka_unit_test(test_low_order_keys),
      cmocka_unit_test(test_replay_and_reorder),
      cmocka_unit_test(test_handshake_replay),
      cmocka_unit_test(test_out_of_turn),
      cmocka_unit_test(test_config_errors),
      cmocka_unit_test(test_sizes),
      cmocka_unit_test(test_nonce_limit),
      cmocka_unit_test(test_handshake_hash_progress),
      cmocka_unit_test(test_k_by_hand),
  };
  if (sodium_init() < 0)
    return 1;
  return cmocka_run_group_tests(tests, NULL, NULL);
}
