/*
 * test_fold.c — core/fold.h (case, accents, compatibility forms) and
 * kith_utf8_valid (proto/reg.h), the check every decoder applies to text.
 */
#include "kith_test.h"

#include "core/fold.h"
#include "proto/reg.h"

static void assert_fold(const char *in, const char *want)
{
  char *out = NULL;
  int rc = kith_fold(in, &out);
  if (rc != 0)
    fail_msg("kith_fold(\"%s\") returned %d (%s)", in, rc, kith_strerror(rc));
  if (strcmp(out, want) != 0)
    fail_msg("kith_fold(\"%s\") = \"%s\", want \"%s\"", in, out, want);
  free(out);
}

static void test_fold_accents_and_case(void **state)
{
  (void)state;
  assert_fold("Zo\xc3\xab", "zoe");  /* Zoë, precomposed */
  assert_fold("Zoe\xcc\x88", "zoe"); /* Zoë, e + combining diaeresis */
  assert_fold("ZO\xc3\x8b KELLER", "zoe keller");
  assert_fold("Stra\xc3\x9f"
              "e",
              "strasse"); /* ß casefolds to ss */
  assert_fold("STRASSE", "strasse");
  assert_fold("\xc3\x89milie Dupr\xc3\xa9", "emilie dupre");
  assert_fold("\xef\xbc\xa1\xef\xbc\xa4\xef\xbc\xa1", "ada"); /* fullwidth ＡＤＡ */
  assert_fold("\xef\xac\x81"
              "le",
              "file"); /* the ﬁ ligature */
  assert_fold("", "");
  assert_fold("already folded 123", "already folded 123");
}

static void test_fold_contains(void **state)
{
  (void)state;
  assert_true(kith_fold_contains("ZO\xc3\x8b KELLER", "zoe"));
  assert_true(kith_fold_contains("ZO\xc3\x8b KELLER", "keller"));
  assert_true(kith_fold_contains("ZO\xc3\x8b KELLER", "e k"));
  assert_true(kith_fold_contains("Gro\xc3\x9f"
                                 "e Stra\xc3\x9f"
                                 "e",
                                 "strasse"));
  assert_true(kith_fold_contains("anything", ""));
  assert_false(kith_fold_contains("ZO\xc3\x8b KELLER", "zoey"));
  assert_false(kith_fold_contains(NULL, "zoe"));
  assert_false(kith_fold_contains("\xff", "")); /* text that cannot fold */
}

static void test_fold_rejects_bad_utf8(void **state)
{
  (void)state;
  static const char *const bad[] = {
      "\xff",     "ab\xc3",       "\xc3\x28",         "\x80",
      "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *out = (char *)"untouched";
    int rc = kith_fold(bad[i], &out);
    if (rc != KITH_EBADUTF8)
      fail_msg("kith_fold(bad[%zu]) returned %d, want KITH_EBADUTF8", i, rc);
    assert_string_equal(out, "untouched");
  }
}

static bool valid(const char *s, size_t n)
{
  return kith_utf8_valid(s, n);
}
#define V(lit) valid(lit, sizeof(lit) - 1)

static void test_utf8_valid(void **state)
{
  (void)state;
  assert_true(valid("", 0));
  assert_true(V("plain ascii ~"));
  assert_true(V("\xc2\x80"));         /* U+0080, the first 2-byte */
  assert_true(V("\xc3\xa9"));         /* é */
  assert_true(V("\xdf\xbf"));         /* U+07FF */
  assert_true(V("\xe0\xa0\x80"));     /* U+0800, the first 3-byte */
  assert_true(V("\xe2\x82\xac"));     /* € */
  assert_true(V("\xed\x9f\xbf"));     /* U+D7FF, just below surrogates */
  assert_true(V("\xee\x80\x80"));     /* U+E000, just above */
  assert_true(V("\xef\xbf\xbf"));     /* U+FFFF */
  assert_true(V("\xf0\x90\x80\x80")); /* U+10000, the first 4-byte */
  assert_true(V("\xf0\x9f\x98\x80")); /* 😀 */
  assert_true(V("\xf4\x8f\xbf\xbf")); /* U+10FFFF, the last */
  /* overlong forms */
  assert_false(V("\xc0\x80"));
  assert_false(V("\xc1\xbf"));
  assert_false(V("\xe0\x80\x80"));
  assert_false(V("\xe0\x9f\xbf"));
  assert_false(V("\xf0\x80\x80\x80"));
  assert_false(V("\xf0\x8f\xbf\xbf"));
  /* surrogates */
  assert_false(V("\xed\xa0\x80"));
  assert_false(V("\xed\xbf\xbf"));
  /* beyond U+10FFFF */
  assert_false(V("\xf4\x90\x80\x80"));
  assert_false(V("\xf5\x80\x80\x80"));
  assert_false(V("\xff"));
  assert_false(V("\xfe"));
  /* NUL, at the start, inside, at the end */
  assert_false(valid("\0", 1));
  assert_false(valid("a\0b", 3));
  assert_false(valid("ab\0", 3));
  /* truncated sequences, at the end and followed by ASCII */
  assert_false(V("\xc3"));
  assert_false(V("\xe2\x82"));
  assert_false(V("\xf0\x9f\x98"));
  assert_false(V("a\xf0\x9f\x98"));
  assert_false(V("\xe2\x82"
                 "a"));
  /* stray continuation bytes and bad followers */
  assert_false(V("\x80"));
  assert_false(V("a\xbf"));
  assert_false(V("\xc3\x28"));
  assert_false(V("\xc3\xc3\xa9"));
  /* n bounds what is read: a valid prefix of an invalid string is valid */
  assert_true(valid("ok\xff", 2));
  assert_false(valid("\xc3\xa9", 1));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fold_accents_and_case),
      cmocka_unit_test(test_fold_contains),
      cmocka_unit_test(test_fold_rejects_bad_utf8),
      cmocka_unit_test(test_utf8_valid),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
