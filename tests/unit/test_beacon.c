/*
 * test_beacon.c — proto/beacon.h: the golden key and beacon; a beacon matches its
 * own key and no other, not with any one bit flipped, not outside the skew window;
 * parse refuses every other length and version; beacons of one device share
 * nothing but what they must; the replay filter.
 *
 * The golden key and beacon were computed independently in Python
 * (hashlib.blake2b with digest_size 32 and 16), from docs/PROTOCOL.md, not copied
 * from this code's output; test_golden also recomputes the tag with
 * crypto_generichash directly.
 */
#include "kith_test.h"

#include <sodium.h>

#include "proto/beacon.h"

/* pk 00 01 .. 1f, nonce a0 a1 .. af, minute 28333333 (0x01b05515), port 7777. */
#define MINUTE 28333333u
#define PORT 7777
static const char KEY_HEX[] =
    "eb243321a9073ca17e292536cf6705f6cd62f0d1cb56be38cb36bf1b983d5129";
static const char BEACON_HEX[] = "01"
                                 "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
                                 "01b05515"
                                 "1e61"
                                 "57d9d65e02b8e1c00995a9a51bb789e9";

static void golden_inputs(uint8_t pk[32], uint8_t nonce[16])
{
  for (int i = 0; i < 32; i++)
    pk[i] = (uint8_t)i;
  for (int i = 0; i < 16; i++)
    nonce[i] = (uint8_t)(0xa0 + i);
}

static void key_of(uint8_t seed, uint8_t key[KITH_BEACON_KEY_LEN])
{
  uint8_t pk[32];
  memset(pk, seed, sizeof pk);
  assert_rc(kith_beacon_key(pk, key), 0);
}

static void test_golden(void **state)
{
  (void)state;
  uint8_t pk[32], nonce[16], key[KITH_BEACON_KEY_LEN], b[KITH_BEACON_LEN];
  size_t n;
  golden_inputs(pk, nonce);

  assert_rc(kith_beacon_key(pk, key), 0);
  uint8_t *want = kt_unhex(KEY_HEX, &n);
  assert_bytes_equal(key, sizeof key, want, n);
  free(want);

  assert_rc(kith_beacon_make(key, nonce, MINUTE, PORT, b), 0);
  want = kt_unhex(BEACON_HEX, &n);
  assert_bytes_equal(b, sizeof b, want, n);
  free(want);

  /* The tag, from its definition, with libsodium directly. */
  uint8_t t[16];
  assert_int_equal(crypto_generichash(t, sizeof t, b, 23, key, sizeof key), 0);
  assert_bytes_equal(b + 23, 16, t, sizeof t);

  struct kith_beacon p;
  assert_rc(kith_beacon_parse(b, sizeof b, &p), 0);
  assert_memory_equal(p.nonce, nonce, 16);
  assert_int_equal(p.minute, MINUTE);
  assert_int_equal(p.port, PORT);
  assert_memory_equal(p.tag, b + 23, 16);
}

static void test_match(void **state)
{
  (void)state;
  uint8_t pk[32], nonce[16], key[32], other[32], b[KITH_BEACON_LEN];
  struct kith_beacon p;
  golden_inputs(pk, nonce);
  assert_rc(kith_beacon_key(pk, key), 0);
  key_of(0x11, other);
  assert_rc(kith_beacon_make(key, nonce, MINUTE, PORT, b), 0);
  assert_rc(kith_beacon_parse(b, sizeof b, &p), 0);

  assert_true(kith_beacon_match(&p, key, MINUTE));
  assert_false(kith_beacon_match(&p, other, MINUTE));
  /* A key one bit away from the right one. */
  for (int bit = 0; bit < 8 * 32; bit++) {
    key[bit / 8] ^= (uint8_t)(1u << bit % 8);
    assert_false(kith_beacon_match(&p, key, MINUTE));
    key[bit / 8] ^= (uint8_t)(1u << bit % 8);
  }
  assert_true(kith_beacon_match(&p, key, MINUTE));
}

/* Every single flipped bit of the 39 bytes: either parse refuses or the tag does
 * not match, whatever the receiver's clock inside the window. */
static void test_bit_flips(void **state)
{
  (void)state;
  uint8_t pk[32], nonce[16], key[32], b[KITH_BEACON_LEN];
  struct kith_beacon p;
  golden_inputs(pk, nonce);
  assert_rc(kith_beacon_key(pk, key), 0);
  assert_rc(kith_beacon_make(key, nonce, MINUTE, PORT, b), 0);
  int refused_by_parse = 0;
  for (int bit = 0; bit < 8 * KITH_BEACON_LEN; bit++) {
    b[bit / 8] ^= (uint8_t)(1u << bit % 8);
    int rc = kith_beacon_parse(b, sizeof b, &p);
    if (rc) {
      assert_true(rc == KITH_EVERSION || rc == KITH_EBADMSG);
      refused_by_parse++;
    } else {
      for (uint32_t now = MINUTE - 3; now <= MINUTE + 3; now++)
        if (kith_beacon_match(&p, key, now))
          fail_msg("bit %d flipped, now %u: still matches", bit, now);
    }
    b[bit / 8] ^= (uint8_t)(1u << bit % 8);
  }
  assert_int_equal(refused_by_parse, 8); /* the version byte's bits */
  assert_rc(kith_beacon_parse(b, sizeof b, &p), 0);
  assert_true(kith_beacon_match(&p, key, MINUTE));
}

static void test_skew(void **state)
{
  (void)state;
  uint8_t key[32], nonce[16] = {0}, b[KITH_BEACON_LEN];
  struct kith_beacon p;
  key_of(0x22, key);
  assert_rc(kith_beacon_make(key, nonce, MINUTE, PORT, b), 0);
  assert_rc(kith_beacon_parse(b, sizeof b, &p), 0);
  for (int d = -2; d <= 2; d++)
    assert_true(kith_beacon_match(&p, key, (uint32_t)((int64_t)MINUTE + d)));
  assert_false(kith_beacon_match(&p, key, MINUTE - 3)); /* from the future */
  assert_false(kith_beacon_match(&p, key, MINUTE + 3)); /* too old */
  assert_false(kith_beacon_match(&p, key, 0));
  assert_false(kith_beacon_match(&p, key, UINT32_MAX));

  /* At the ends of the range, no wrap-around. */
  assert_rc(kith_beacon_make(key, nonce, 0, PORT, b), 0);
  assert_rc(kith_beacon_parse(b, sizeof b, &p), 0);
  assert_true(kith_beacon_match(&p, key, 2));
  assert_false(kith_beacon_match(&p, key, 3));
  assert_false(kith_beacon_match(&p, key, UINT32_MAX));
  assert_rc(kith_beacon_make(key, nonce, UINT32_MAX, PORT, b), 0);
  assert_rc(kith_beacon_parse(b, sizeof b, &p), 0);
  assert_true(kith_beacon_match(&p, key, UINT32_MAX - 2));
  assert_false(kith_beacon_match(&p, key, UINT32_MAX - 3));
  assert_false(kith_beacon_match(&p, key, 0));
}

static void assert_parse_refused(const uint8_t *buf, size_t len, int want)
{
  struct kith_beacon p, zero;
  memset(&zero, 0, sizeof zero);
  memset(&p, 0x5a, sizeof p);
  assert_rc(kith_beacon_parse(buf, len, &p), want);
  assert_memory_equal(&p, &zero, sizeof p);
}

static void test_parse_refuses(void **state)
{
  (void)state;
  uint8_t key[32], nonce[16] = {1}, b[KITH_BEACON_LEN + 1] = {0};
  key_of(0x33, key);
  assert_rc(kith_beacon_make(key, nonce, MINUTE, PORT, b), 0);

  assert_parse_refused(b, 0, KITH_EBADMSG);
  for (size_t len = 1; len <= sizeof b; len++)
    if (len != KITH_BEACON_LEN)
      assert_parse_refused(b, len, KITH_EBADMSG);
  assert_parse_refused(b, 38, KITH_EBADMSG);
  assert_parse_refused(b, 40, KITH_EBADMSG);

  b[0] = 2;
  assert_parse_refused(b, KITH_BEACON_LEN, KITH_EVERSION);
  assert_parse_refused(b, 40, KITH_EVERSION);
  b[0] = 0;
  assert_parse_refused(b, KITH_BEACON_LEN, KITH_EVERSION);
  b[0] = 1;

  /* Port 0 neither parses nor is made. */
  b[21] = b[22] = 0;
  assert_parse_refused(b, KITH_BEACON_LEN, KITH_EBADMSG);
  uint8_t out[KITH_BEACON_LEN], zero[KITH_BEACON_LEN] = {0};
  memset(out, 0x5a, sizeof out);
  assert_rc(kith_beacon_make(key, nonce, MINUTE, 0, out), KITH_EINVAL);
  assert_memory_equal(out, zero, sizeof out);
}

/* Two beacons of one device, same minute and port, other nonces: besides the
 * version, minute and port, they share nothing, and neither bears the key. */
static void test_unlinkable(void **state)
{
  (void)state;
  uint8_t key[32], n1[16], n2[16], b1[KITH_BEACON_LEN], b2[KITH_BEACON_LEN];
  key_of(0x44, key);
  memset(n1, 0x01, sizeof n1);
  memset(n2, 0x02, sizeof n2);
  assert_rc(kith_beacon_make(key, n1, MINUTE, PORT, b1), 0);
  assert_rc(kith_beacon_make(key, n2, MINUTE, PORT, b2), 0);
  assert_memory_not_equal(b1 + 1, b2 + 1, 16);
  assert_memory_not_equal(b1 + 23, b2 + 23, 16);
  assert_memory_equal(b1 + 17, b2 + 17, 6); /* minute and port: in clear */
  int same = 0;
  for (int i = 0; i < 16; i++)
    same += b1[23 + i] == b2[23 + i];
  assert_true(same < 6); /* 16 random bytes: 1/16 expected, under 6 with 1 - 2^-30 */
  for (size_t i = 0; i + 4 <= KITH_BEACON_LEN; i++) {
    assert_memory_not_equal(b1 + i, key, 4);
    assert_memory_not_equal(b1 + i, key + 28, 4);
  }
}

static void test_seen(void **state)
{
  (void)state;
  struct kith_beacon_seen *s = malloc(sizeof *s);
  uint8_t n[16];
  assert_non_null(s);
  memset(s, 0xff, sizeof *s);
  kith_beacon_seen_init(s);

  memset(n, 0, sizeof n); /* the all-zero nonce is not "seen" in an empty filter */
  assert_true(kith_beacon_seen_add(s, n));
  assert_false(kith_beacon_seen_add(s, n));

  /* 255 more: all 256 remembered. */
  for (int i = 1; i < KITH_BEACON_SEEN_MAX; i++) {
    n[0] = (uint8_t)i;
    assert_true(kith_beacon_seen_add(s, n));
  }
  for (int i = 0; i < KITH_BEACON_SEEN_MAX; i++) {
    n[0] = (uint8_t)i;
    assert_false(kith_beacon_seen_add(s, n));
  }
  /* One more pushes out the oldest (nonce 0), and only it. */
  n[0] = 0;
  n[1] = 1;
  assert_true(kith_beacon_seen_add(s, n));
  assert_false(kith_beacon_seen_add(s, n));
  n[1] = 0;
  for (int i = 1; i < KITH_BEACON_SEEN_MAX; i++) {
    n[0] = (uint8_t)i;
    assert_false(kith_beacon_seen_add(s, n));
  }
  n[0] = 0;
  assert_true(kith_beacon_seen_add(s, n)); /* forgotten, so new again */

  /* A zero-filled struct is an empty filter too. */
  memset(s, 0, sizeof *s);
  assert_true(kith_beacon_seen_add(s, n));
  assert_false(kith_beacon_seen_add(s, n));
  free(s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_golden),        cmocka_unit_test(test_match),
      cmocka_unit_test(test_bit_flips),     cmocka_unit_test(test_skew),
      cmocka_unit_test(test_parse_refuses), cmocka_unit_test(test_unlinkable),
      cmocka_unit_test(test_seen),
  };
  if (sodium_init() < 0)
    return 1;
  return cmocka_run_group_tests(tests, NULL, NULL);
}
