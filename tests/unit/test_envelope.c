/*
 * test_envelope.c — proto/envelope.h: boxes and sealed envelopes. Round trips at
 * every bucket's edges with the exact sizes the header promises, golden bytes for
 * fixed keys, and everything a relay or a thief could try: another recipient,
 * another box, a reflected envelope, a flipped, cut, lengthened or reordered one.
 */
#include "kith_test.h"

#include <sodium.h>

#include "proto/envelope.h"
#include "proto/hex.h"

#define GOLDEN_BOX "0ff35b5a55e3abde8951cdac97cf62b7"
#define GOLDEN_ENV "2dbea58b5d170c9ee3f17f3fc2ff98ed"

struct dev {
  uint8_t pk[32], sk[64];
};

static void dev_fixed(struct dev *d, uint8_t seed_byte)
{
  uint8_t seed[32];
  memset(seed, seed_byte, sizeof seed);
  assert_int_equal(crypto_sign_seed_keypair(d->pk, d->sk, seed), 0);
}

static void fill(uint8_t *p, size_t n, unsigned k)
{
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)(i * 7 + k);
}

static void test_box(void **state)
{
  (void)state;
  struct dev s, r, x;
  uint8_t a[KITH_BOX_LEN], b[KITH_BOX_LEN], c[KITH_BOX_LEN], d[KITH_BOX_LEN];
  dev_fixed(&s, 1), dev_fixed(&r, 2), dev_fixed(&x, 3);
  assert_rc(kith_box_derive(s.sk, r.pk, true, a), 0);  /* S computes S -> R */
  assert_rc(kith_box_derive(r.sk, s.pk, false, b), 0); /* R computes S -> R */
  assert_memory_equal(a, b, KITH_BOX_LEN);
  assert_rc(kith_box_derive(r.sk, s.pk, true, c), 0); /* R -> S: another box */
  assert_memory_not_equal(a, c, KITH_BOX_LEN);
  assert_rc(kith_box_derive(x.sk, r.pk, true, d), 0); /* X -> R: another box */
  assert_memory_not_equal(a, d, KITH_BOX_LEN);
  char hex[2 * KITH_BOX_LEN + 1];
  kith_hex_encode(a, KITH_BOX_LEN, hex);
  assert_string_equal(hex, GOLDEN_BOX);
  /* The header's formula, recomputed here. */
  uint8_t xs[32], xr[32], dh[32], msg[11 + 64], want[KITH_BOX_LEN];
  assert_int_equal(crypto_sign_ed25519_sk_to_curve25519(xs, s.sk), 0);
  assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(xr, r.pk), 0);
  assert_int_equal(crypto_scalarmult(dh, xs, xr), 0);
  memcpy(msg, "kith box v1", 11);
  memcpy(msg + 11, s.pk, 32);
  memcpy(msg + 43, r.pk, 32);
  crypto_generichash(want, sizeof want, msg, sizeof msg, dh, sizeof dh);
  assert_memory_equal(a, want, KITH_BOX_LEN);
  uint8_t o1[32], o2[32];
  assert_rc(kith_box_owner(r.pk, o1), 0);
  assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(o2, r.pk), 0);
  assert_memory_equal(o1, o2, 32);
}

static void test_round_trips(void **state)
{
  (void)state;
  struct dev s, r;
  uint8_t box[KITH_BOX_LEN];
  dev_fixed(&s, 1), dev_fixed(&r, 2);
  assert_rc(kith_box_derive(s.sk, r.pk, true, box), 0);
  static const size_t lens[] = {0,     1,      1020,   1021,          4092,
                                4093,  16380,  16381,  65532,         65533,
                                64996, 262140, 262141, (1u << 20) - 4};
  static const size_t want[] = {1074,  1074,  1074,   4146,  4146,   16434,   16434,
                                65604, 65604, 262266, 65604, 262266, 1048914, 1048914};
  uint8_t *post = malloc(1u << 20);
  assert_non_null(post);
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    uint8_t *env = NULL, *back = NULL;
    size_t el = 0, bl = 0;
    fill(post, lens[i], (unsigned)i);
    assert_rc(kith_envelope_seal(s.sk, r.pk, box, post, lens[i], NULL, &env, &el), 0);
    assert_int_equal(el, want[i]);
    assert_int_equal(el, kith_envelope_size(lens[i]));
    assert_rc(kith_envelope_open(r.sk, s.pk, box, env, el, &back, &bl), 0);
    assert_bytes_equal(back, bl, post, lens[i]);
    free(env);
    free(back);
  }
  uint8_t *env = NULL;
  size_t el = 7;
  assert_rc(kith_envelope_seal(s.sk, r.pk, box, post, 1u << 20, NULL, &env, &el),
            KITH_ETOOBIG);
  assert_null(env);
  assert_int_equal(el, 0);
  assert_int_equal(kith_envelope_size(1u << 20), 0);
  free(post);
}

/* Fixed keys and ephemeral: the bytes are pinned (a change of format shows). */
static void test_golden(void **state)
{
  (void)state;
  struct dev s, r;
  uint8_t box[KITH_BOX_LEN], eph[32], *env = NULL, digest[16];
  size_t el = 0;
  dev_fixed(&s, 1), dev_fixed(&r, 2);
  memset(eph, 9, sizeof eph);
  assert_rc(kith_box_derive(s.sk, r.pk, true, box), 0);
  assert_rc(
      kith_envelope_seal(s.sk, r.pk, box, (const uint8_t *)"post", 4, eph, &env, &el),
      0);
  assert_int_equal(el, 1074);
  assert_int_equal(env[0] << 8 | env[1], 1072); /* one frame: e, part, MAC */
  crypto_generichash(digest, sizeof digest, env, el, NULL, 0);
  char hex[33];
  kith_hex_encode(digest, sizeof digest, hex);
  assert_string_equal(hex, GOLDEN_ENV);
  free(env);
}

static int opens(const struct dev *r, const struct dev *s, const uint8_t box[16],
                 const uint8_t *env, size_t el)
{
  uint8_t *back = NULL;
  size_t bl = 0;
  int rc = kith_envelope_open(r->sk, s->pk, box, env, el, &back, &bl);
  if (rc)
    assert_true(back == NULL && bl == 0);
  free(back);
  return rc;
}

static void test_refusals(void **state)
{
  (void)state;
  struct dev s, r, x;
  uint8_t box[KITH_BOX_LEN], back_box[KITH_BOX_LEN], xbox[KITH_BOX_LEN];
  uint8_t post[3000], *env = NULL, *rev = NULL;
  size_t el = 0, rl = 0;
  dev_fixed(&s, 1), dev_fixed(&r, 2), dev_fixed(&x, 3);
  fill(post, sizeof post, 5);
  assert_rc(kith_box_derive(s.sk, r.pk, true, box), 0);
  assert_rc(kith_box_derive(r.sk, s.pk, true, back_box), 0);
  assert_rc(kith_box_derive(x.sk, r.pk, true, xbox), 0);
  assert_rc(kith_envelope_seal(s.sk, r.pk, box, post, sizeof post, NULL, &env, &el), 0);
  assert_rc(opens(&r, &s, box, env, el), 0);
  /* Not for X; not from X; not in another box. */
  assert_rc(opens(&x, &s, box, env, el), KITH_EBADMSG);
  assert_rc(opens(&r, &x, box, env, el), KITH_EBADMSG);
  assert_rc(opens(&r, &s, xbox, env, el), KITH_EBADMSG);
  assert_rc(opens(&r, &s, back_box, env, el), KITH_EBADMSG);
  /* Reflected: R's own envelope to S, handed back to R as if from S, in either
   * box. */
  assert_rc(
      kith_envelope_seal(r.sk, s.pk, back_box, post, sizeof post, NULL, &rev, &rl), 0);
  assert_rc(opens(&s, &r, back_box, rev, rl), 0);
  assert_rc(opens(&r, &s, back_box, rev, rl), KITH_EBADMSG);
  assert_rc(opens(&r, &s, box, rev, rl), KITH_EBADMSG);
  /* Every byte flipped, in turn. */
  for (size_t i = 0; i < el; i++) {
    env[i] ^= 0x20;
    assert_rc(opens(&r, &s, box, env, el), KITH_EBADMSG);
    env[i] ^= 0x20;
  }
  /* Cut, lengthened, empty. */
  for (size_t cut = 0; cut < el; cut += 97)
    assert_rc(opens(&r, &s, box, env, cut), KITH_EBADMSG);
  uint8_t *longer = malloc(el + 1);
  assert_non_null(longer);
  memcpy(longer, env, el);
  longer[el] = 0;
  assert_rc(opens(&r, &s, box, longer, el + 1), KITH_EBADMSG);
  free(longer);
  free(env);
  free(rev);
}

/* A multi-frame envelope: frames swapped or one replaced by another envelope's. */
static void test_frames(void **state)
{
  (void)state;
  struct dev s, r;
  uint8_t box[KITH_BOX_LEN], *post = malloc(200000), *a = NULL, *b = NULL;
  size_t al = 0, bl = 0;
  assert_non_null(post);
  dev_fixed(&s, 1), dev_fixed(&r, 2);
  fill(post, 200000, 1);
  assert_rc(kith_box_derive(s.sk, r.pk, true, box), 0);
  assert_rc(kith_envelope_seal(s.sk, r.pk, box, post, 200000, NULL, &a, &al), 0);
  assert_rc(kith_envelope_seal(s.sk, r.pk, box, post, 200000, NULL, &b, &bl), 0);
  assert_int_equal(al, bl);
  assert_memory_not_equal(a, b, 64); /* fresh ephemerals */
  /* frames: first at 0; the second starts after it */
  size_t f1 = 2 + ((size_t)a[0] << 8 | a[1]);
  size_t f2 = f1 + 2 + ((size_t)a[f1] << 8 | a[f1 + 1]);
  size_t f3 = f2 + 2 + ((size_t)a[f2] << 8 | a[f2 + 1]);
  assert_int_equal(f3 - f2, f2 - f1); /* two full transport frames */
  uint8_t *t = malloc(al);
  assert_non_null(t);
  memcpy(t, a, al); /* swap frames 2 and 3 */
  memcpy(t + f1, a + f2, f3 - f2);
  memcpy(t + f1 + (f3 - f2), a + f1, f2 - f1);
  assert_rc(opens(&r, &s, box, t, al), KITH_EBADMSG);
  memcpy(t, a, al); /* frame 2 from the other envelope */
  memcpy(t + f1, b + f1, f2 - f1);
  assert_rc(opens(&r, &s, box, t, al), KITH_EBADMSG);
  assert_rc(opens(&r, &s, box, a, al), 0);
  free(t);
  free(a);
  free(b);
  free(post);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_box),    cmocka_unit_test(test_round_trips),
      cmocka_unit_test(test_golden), cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_frames),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
