/*
 * test_err.c — proto/err.h: one table of codes, each with its sentence.
 */
#include "kith_test.h"

static void test_strerror(void **state)
{
  (void)state;
  struct {
    int code;
    const char *text;
  } table[] = {
#define ROW(name, code, text) {KITH_E##name, text},
      KITH_ERRORS(ROW)
#undef ROW
  };
  size_t n = sizeof table / sizeof table[0];
  assert_true(n >= 18);
  for (size_t i = 0; i < n; i++) {
    assert_true(table[i].code < 0);
    assert_string_equal(kith_strerror(table[i].code), table[i].text);
    assert_true(strlen(table[i].text) > 0);
    for (size_t j = 0; j < i; j++) {
      assert_int_not_equal(table[i].code, table[j].code);
      assert_string_not_equal(table[i].text, table[j].text);
    }
  }
  /* codes are fixed: they reach exit codes and logs */
  assert_int_equal(KITH_ENOTFOUND, -1001);
  assert_int_equal(KITH_EFUTURE, -1007);
  assert_string_equal(kith_strerror(KITH_EFUTURE),
                      "change is stamped too far in the future");
  assert_string_equal(kith_strerror(0), "success");
  assert_string_equal(kith_strerror(-1), "unknown error");
  assert_string_equal(kith_strerror(1), "unknown error");
  assert_string_equal(kith_strerror(-1000), "unknown error");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_strerror),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
