/*
 * test_hex.c — proto/hex.h: lowercase hex out, either case in, exact lengths.
 */
#include "kith_test.h"

#include <sodium.h>

static void test_encode_known(void **state)
{
  (void)state;
  const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff};
  char out[2 * sizeof in + 1];
  memset(out, 'x', sizeof out);
  kith_hex_encode(in, sizeof in, out);
  assert_string_equal(out, "00017f80abcdefff");

  char empty[1] = {'x'};
  kith_hex_encode(in, 0, empty);
  assert_string_equal(empty, "");
}

static void test_decode_either_case(void **state)
{
  (void)state;
  uint8_t out[4], want[4] = {0xde, 0xad, 0xbe, 0xef};
  assert_rc(kith_hex_decode("deadbeef", out, 4), 0);
  assert_memory_equal(out, want, 4);
  memset(out, 0, sizeof out);
  assert_rc(kith_hex_decode("DEADBEEF", out, 4), 0);
  assert_memory_equal(out, want, 4);
  memset(out, 0, sizeof out);
  assert_rc(kith_hex_decode("dEaDbEeF", out, 4), 0);
  assert_memory_equal(out, want, 4);
  assert_rc(kith_hex_decode("", out, 0), 0);
}

static void test_round_trip_random(void **state)
{
  (void)state;
  for (size_t n = 0; n <= 64; n++) {
    uint8_t in[64], back[64];
    char text[129];
    randombytes_buf(in, n);
    kith_hex_encode(in, n, text);
    assert_int_equal(strlen(text), 2 * n);
    for (size_t i = 0; i < 2 * n; i++)
      assert_true((text[i] >= '0' && text[i] <= '9') ||
                  (text[i] >= 'a' && text[i] <= 'f'));
    assert_rc(kith_hex_decode(text, back, n), 0);
    assert_bytes_equal(back, n, in, n);
  }
}

static void test_decode_rejects(void **state)
{
  (void)state;
  static const struct {
    const char *s;
    size_t n;
  } bad[] = {
      {"abc", 2},    /* too short, odd */
      {"ab", 2},     /* too short */
      {"abcdef", 2}, /* too long */
      {"abcd ", 2},  /* trailing space */
      {" abc", 2},   /* leading space */
      {"abcg", 2},   /* not hex */
      {"g0", 1},     {"0x", 1}, {"+1", 1},
      {"-1", 1},     {"a", 0}, /* anything for zero bytes */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint8_t out[4] = {0};
    int rc = kith_hex_decode(bad[i].s, out, bad[i].n);
    if (rc != KITH_EBADMSG)
      fail_msg("kith_hex_decode(\"%s\", %zu) returned %d, want KITH_EBADMSG", bad[i].s,
               bad[i].n, rc);
  }
  /* an embedded NUL ends the string: too short */
  const char nul[] = {'a', 'b', 0, 'c', 'd', 0};
  uint8_t out[2];
  assert_rc(kith_hex_decode(nul, out, 2), KITH_EBADMSG);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_encode_known),
      cmocka_unit_test(test_decode_either_case),
      cmocka_unit_test(test_round_trip_random),
      cmocka_unit_test(test_decode_rejects),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
