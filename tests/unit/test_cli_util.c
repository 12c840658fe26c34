/*
 * test_cli_util.c — the everyday helpers of cli/util.c: relative days, today (and
 * its KITH_TODAY hook), colour only on a terminal, and the progress line (its
 * text, its 100 ms redraw bound, and erasing it). cli/util.c is not part of
 * libkith, so it is compiled into this test.
 */
#include "kith_test.h"

#include "../../cli/util.c"

/* util.c draws QR codes with libqrencode, which unit tests do not link: these
 * stand in (no test here draws one). */
QRcode *QRcode_encodeString(const char *string, int version, QRecLevel level,
                            QRencodeMode hint, int casesensitive)
{
  (void)string, (void)version, (void)level, (void)hint, (void)casesensitive;
  return NULL;
}
void QRcode_free(QRcode *qrcode)
{
  (void)qrcode;
}

static void test_day_relative(void **state)
{
  (void)state;
  char out[32];
  static const struct {
    int32_t d;
    const char *want;
  } cases[] = {{0, "today"},      {1, "tomorrow"},      {-1, "yesterday"},
               {2, "in 2 days"},  {-45, "45 days ago"}, {400, "in 400 days"},
               {-2, "2 days ago"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cli_day_relative(20783 + cases[i].d, 20783, out, sizeof out);
    assert_string_equal(out, cases[i].want);
  }
}

static void test_today(void **state)
{
  (void)state;
  int32_t d = 0;
  setenv("KITH_TODAY", "2028-02-29", 1);
  assert_int_equal(cli_today(&d), 0);
  assert_int_equal(d, kith_day_from_civil(2028, 2, 29));
  setenv("KITH_TODAY", "2027-02-29", 1);
  assert_int_equal(cli_today(&d), EX_USAGE_);
  setenv("KITH_TODAY", "2028-02-29T10:00", 1); /* a date, nothing else */
  assert_int_equal(cli_today(&d), EX_USAGE_);
  unsetenv("KITH_TODAY");
  time_t t = time(NULL);
  struct tm tm;
  assert_non_null(localtime_r(&t, &tm));
  assert_int_equal(cli_today(&d), 0);
  int32_t want = kith_day_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  assert_true(d == want || d == want + 1); /* midnight may pass in between */
}

/* What f received, from its start; the caller frees. */
static char *contents(FILE *f)
{
  long n = ftell(f);
  char *s = calloc(1, (size_t)n + 1);
  assert_non_null(s);
  rewind(f);
  assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
  return s;
}

static void test_paint_plain_off_a_terminal(void **state)
{
  (void)state;
  FILE *f = tmpfile();
  assert_non_null(f);
  unsetenv("NO_COLOR");
  assert_false(cli_color(f)); /* a file is no terminal */
  cli_paint(f, CLI_RED, "overdue");
  cli_paint_pad(f, CLI_BOLD, "NAME", 6);
  fputc('|', f);
  cli_paint_pad(f, CLI_BOLD, "LONGNAME", 5); /* cut as cli_pad cuts */
  char *s = contents(f);
  assert_string_equal(s, "overdueNAME  |LONG…");
  free(s);
  fclose(f);
}

static void test_progress(void **state)
{
  (void)state;
  char line[160];
  struct cli_progress p = {.what = "importing", .total = 100000, .done = 45000};
  cli_progress_text(&p, line, sizeof line);
  assert_string_equal(line, "importing  [##########..............]  45,000/100,000");
  p.done = 100000;
  cli_progress_text(&p, line, sizeof line);
  assert_string_equal(line, "importing  [########################]  100,000/100,000");
  p.done = 7, p.total = 0; /* unknown total: the count alone */
  cli_progress_text(&p, line, sizeof line);
  assert_string_equal(line, "importing  7");
  p.done = 1234567, p.total = 1000; /* more than announced: a full bar */
  cli_progress_text(&p, line, sizeof line);
  assert_string_equal(line, "importing  [########################]  1,234,567/1,000");

  /* drawing: stderr into a file, as if it were a terminal */
  FILE *f = tmpfile();
  assert_non_null(f);
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  assert_true(saved >= 0);
  assert_true(dup2(fileno(f), STDERR_FILENO) >= 0);
  cli_progress_start(&p, "syncing", 4);
  assert_false(p.on); /* not a terminal: nothing is drawn */
  p.on = true;
  p.last_ms = cli_now_ms();
  cli_progress_update(&p, 1); /* within 100 ms of the last draw: skipped */
  cli_progress_update(&p, 4); /* the end is always drawn */
  p.last_ms -= 1000;
  cli_progress_update(&p, 2); /* later: drawn */
  cli_progress_end(&p);
  fflush(stderr);
  assert_true(dup2(saved, STDERR_FILENO) >= 0);
  close(saved);
  fseek(f, 0, SEEK_END);
  char *s = contents(f);
  const char *want = "\rsyncing  [########################]  4/4"
                     "\rsyncing  [############............]  2/4"
                     "\r                                        \r";
  assert_string_equal(s, want);
  free(s);
  fclose(f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_day_relative),
      cmocka_unit_test(test_today),
      cmocka_unit_test(test_paint_plain_off_a_terminal),
      cmocka_unit_test(test_progress),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
