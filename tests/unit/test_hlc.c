/*
 * test_hlc.c — proto/hlc.h: stamp order, clock steps, observed clocks, text forms.
 */
#include "kith_test.h"

#include "proto/hlc.h"

#define MS(x) ((uint64_t)(x) << 16)

static struct kith_stamp stamp(uint64_t hlc, uint8_t dev_fill)
{
  struct kith_stamp s;
  s.hlc = hlc;
  memset(s.dev, dev_fill, sizeof s.dev);
  return s;
}

static int sign(int x)
{
  return (x > 0) - (x < 0);
}

/* ---- kith_stamp_cmp ------------------------------------------------------ */

static void test_cmp_clock_first(void **state)
{
  (void)state;
  struct kith_stamp a = stamp(MS(1000), 0xff), b = stamp(MS(1000) + 1, 0x00);
  /* a has the larger device but the smaller clock: the clock decides. */
  assert_int_equal(sign(kith_stamp_cmp(&a, &b)), -1);
  assert_int_equal(sign(kith_stamp_cmp(&b, &a)), 1);
  struct kith_stamp c = stamp(MS(999), 0xff);
  assert_int_equal(sign(kith_stamp_cmp(&c, &a)), -1);
}

static void test_cmp_device_breaks_ties(void **state)
{
  (void)state;
  struct kith_stamp a = stamp(MS(5), 0x10), b = stamp(MS(5), 0x10);
  assert_int_equal(kith_stamp_cmp(&a, &b), 0);
  b.dev[15] = 0x11; /* the last byte alone decides */
  assert_int_equal(sign(kith_stamp_cmp(&a, &b)), -1);
  assert_int_equal(sign(kith_stamp_cmp(&b, &a)), 1);
  a.dev[0] = 0x11; /* the first byte outranks every later one */
  assert_int_equal(sign(kith_stamp_cmp(&a, &b)), 1);
}

static void test_cmp_zero_first(void **state)
{
  (void)state;
  struct kith_stamp zero = {0}, one = stamp(1, 0x00), z2 = {0};
  assert_int_equal(sign(kith_stamp_cmp(&zero, &one)), -1);
  assert_int_equal(sign(kith_stamp_cmp(&one, &zero)), 1);
  assert_int_equal(kith_stamp_cmp(&zero, &z2), 0);
}

/* ---- kith_hlc_next ------------------------------------------------------- */

static void test_next_follows_wall_clock(void **state)
{
  (void)state;
  uint64_t out = 0;
  assert_rc(kith_hlc_next(0, 1000, &out), 0);
  assert_int_equal(out, MS(1000));
  assert_rc(kith_hlc_next(MS(1000) + 7, 1001, &out), 0);
  assert_int_equal(out, MS(1001)); /* a new millisecond resets the counter */
}

static void test_next_same_ms_counts(void **state)
{
  (void)state;
  uint64_t out = 0, last = MS(1000);
  for (int i = 1; i <= 3; i++) {
    assert_rc(kith_hlc_next(last, 1000, &out), 0);
    assert_int_equal(out, MS(1000) + (uint64_t)i);
    last = out;
  }
}

static void test_next_clock_backwards(void **state)
{
  (void)state;
  uint64_t out = 0, last = MS(5000) + 3;
  assert_rc(kith_hlc_next(last, 1000, &out), 0); /* wall clock went back 4 s */
  assert_int_equal(out, last + 1);
  assert_rc(kith_hlc_next(out, 0, &out), 0);
  assert_int_equal(out, last + 2);
}

static void test_next_counter_wrap(void **state)
{
  (void)state;
  uint64_t out = 0x5a5a, last = MS(1000) | 0xffff;
  /* a full counter carries into the next millisecond, wall clock still or behind */
  assert_rc(kith_hlc_next(last, 1000, &out), 0);
  assert_int_equal(out, MS(1001));
  assert_rc(kith_hlc_next(last, 999, &out), 0);
  assert_int_equal(out, MS(1001));
  assert_rc(kith_hlc_next(last, 1005, &out), 0); /* the clock moved further: fine */
  assert_int_equal(out, MS(1005));
  out = 0x5a5a;
  assert_rc(kith_hlc_next(UINT64_MAX, 1000, &out), KITH_EFUTURE); /* the end of time */
  assert_int_equal(out, 0x5a5a);                                  /* left unset */
}

static void test_next_monotonic_random(void **state)
{
  (void)state;
  uint64_t last = 0, now = 1700000000000ull;
  srand(7);
  for (int i = 0; i < 100000; i++) {
    int step = rand() % 6 - 2; /* -2..3 ms: jitters both ways, drifts on */
    now = (uint64_t)((int64_t)now + step);
    uint64_t out;
    assert_rc(kith_hlc_next(last, now, &out), 0);
    assert_true(out > last);
    assert_true(kith_hlc_ms(out) >= now);
    last = out;
  }
}

/* ---- kith_hlc_observe ---------------------------------------------------- */

static void test_observe_max(void **state)
{
  (void)state;
  uint64_t out = 0;
  assert_rc(kith_hlc_observe(MS(100), MS(200), 1000, &out), 0);
  assert_int_equal(out, MS(200));
  assert_rc(kith_hlc_observe(MS(200) + 5, MS(200), 1000, &out), 0);
  assert_int_equal(out, MS(200) + 5);
  assert_rc(kith_hlc_observe(MS(7), 0, 0, &out), 0);
  assert_int_equal(out, MS(7));
}

static void test_observe_skew_limit(void **state)
{
  (void)state;
  const uint64_t now = 1700000000000ull;
  uint64_t out = 0;
  /* exactly at the limit, even with the counter at its top: accepted */
  assert_rc(kith_hlc_observe(0, MS(now + KITH_HLC_MAX_SKEW_MS) | 0xffff, now, &out), 0);
  assert_int_equal(out, MS(now + KITH_HLC_MAX_SKEW_MS) | 0xffff);
  /* one millisecond past it: refused, out untouched */
  out = 42;
  assert_rc(kith_hlc_observe(0, MS(now + KITH_HLC_MAX_SKEW_MS + 1), now, &out),
            KITH_EFUTURE);
  assert_int_equal(out, 42);
  /* a clock in 2100 */
  assert_rc(kith_hlc_observe(MS(now), MS(4102444800000ull), now, &out), KITH_EFUTURE);
  assert_int_equal(out, 42);
  /* 5 min is 300000 ms */
  assert_int_equal(KITH_HLC_MAX_SKEW_MS, 300000);
}

/* ---- text ---------------------------------------------------------------- */

static void test_iso(void **state)
{
  (void)state;
  char out[25];
  kith_hlc_iso(MS(1795642800123ull), out);
  assert_string_equal(out, "2026-11-25T21:40:00.123Z");
  kith_hlc_iso(MS(1795642800123ull) | 0xffff, out); /* the counter is not time */
  assert_string_equal(out, "2026-11-25T21:40:00.123Z");
  kith_hlc_iso(0, out);
  assert_string_equal(out, "1970-01-01T00:00:00.000Z");
  kith_hlc_iso(MS(951868799999ull), out);
  assert_string_equal(out, "2000-02-29T23:59:59.999Z");
  kith_hlc_iso(MS(253402300799000ull), out);
  assert_string_equal(out, "9999-12-31T23:59:59.000Z");
  /* the largest clock still gives 24 characters and a NUL */
  memset(out, 'x', sizeof out);
  kith_hlc_iso(UINT64_MAX, out);
  assert_int_equal(strlen(out), 24);
}

static void test_stamp_text_round_trip(void **state)
{
  (void)state;
  struct kith_stamp s = {.hlc = 0x0001020304050607ull}, back;
  for (int i = 0; i < 16; i++)
    s.dev[i] = (uint8_t)(0xff - 0x11 * i);
  char text[50];
  kith_stamp_format(&s, text);
  assert_string_equal(text, "0001020304050607-ffeeddccbbaa99887766554433221100");
  memset(&back, 0xaa, sizeof back);
  assert_rc(kith_stamp_parse(text, &back), 0);
  assert_int_equal(back.hlc, s.hlc);
  assert_memory_equal(back.dev, s.dev, 16);

  struct kith_stamp z = {0};
  kith_stamp_format(&z, text);
  assert_string_equal(text, "0000000000000000-00000000000000000000000000000000");
  assert_rc(kith_stamp_parse(text, &back), 0);
  assert_int_equal(back.hlc, 0);

  struct kith_stamp m;
  m.hlc = UINT64_MAX;
  memset(m.dev, 0xff, 16);
  kith_stamp_format(&m, text);
  assert_rc(kith_stamp_parse(text, &back), 0);
  assert_int_equal(back.hlc, UINT64_MAX);
  assert_memory_equal(back.dev, m.dev, 16);
}

static void test_stamp_parse_rejects(void **state)
{
  (void)state;
  static const char *const bad[] = {
      "",
      "0001020304050607",
      "0001020304050607-",
      /* one digit short, one too many */
      "0001020304050607-ffeeddccbbaa9988776655443322110",
      "0001020304050607-ffeeddccbbaa998877665544332211000",
      /* the dash misplaced or missing */
      "000102030405060-7ffeeddccbbaa99887766554433221100",
      "0001020304050607_ffeeddccbbaa99887766554433221100",
      "0001020304050607fffeeddccbbaa99887766554433221100",
      /* not hex */
      "000102030405060g-ffeeddccbbaa99887766554433221100",
      "0001020304050607-ffeeddccbbaa9988776655443322110z",
      " 001020304050607-ffeeddccbbaa99887766554433221100",
      "-001020304050607-ffeeddccbbaa99887766554433221100",
      "0001020304050607-ffeeddccbbaa99887766554433221 00",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct kith_stamp out = {.hlc = 99};
    int rc = kith_stamp_parse(bad[i], &out);
    if (rc != KITH_EBADMSG)
      fail_msg("kith_stamp_parse(\"%s\") returned %d, want KITH_EBADMSG", bad[i], rc);
    assert_int_equal(out.hlc, 99); /* a refused text leaves the clock unset */
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cmp_clock_first),
      cmocka_unit_test(test_cmp_device_breaks_ties),
      cmocka_unit_test(test_cmp_zero_first),
      cmocka_unit_test(test_next_follows_wall_clock),
      cmocka_unit_test(test_next_same_ms_counts),
      cmocka_unit_test(test_next_clock_backwards),
      cmocka_unit_test(test_next_counter_wrap),
      cmocka_unit_test(test_next_monotonic_random),
      cmocka_unit_test(test_observe_max),
      cmocka_unit_test(test_observe_skew_limit),
      cmocka_unit_test(test_iso),
      cmocka_unit_test(test_stamp_text_round_trip),
      cmocka_unit_test(test_stamp_parse_rejects),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
