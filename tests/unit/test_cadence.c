/*
 * test_cadence.c — core/cadence.h: day numbers and calendar arithmetic (month and
 * year ends, leap days), what is due for a contact (the smallest cadence wins, an
 * earlier follow-up wins, no cadence is never due), cadences in the store (one
 * record per folded tag, off and on again), kith_due_load over real contacts, and
 * where cadences travel: to my devices, merged, never to a partner.
 */
#include "kt_sync.h"

#include "core/cadence.h"

static int32_t day(const char *s)
{
  int32_t d = 0;
  if (!kith_day_parse(s, &d))
    fail_msg("'%s' should parse as a day", s);
  return d;
}

static void assert_day(int32_t d, const char *want)
{
  char got[KITH_DAY_LEN];
  kith_day_format(d, got);
  assert_string_equal(got, want);
}

static void test_days(void **state)
{
  (void)state;
  int32_t d;
  assert_int_equal(kith_day_from_civil(1970, 1, 1), 0);
  assert_int_equal(day("2000-03-01"), 11017);
  assert_int_equal(day("2026-11-26"), 20783);
  assert_int_equal(day("2024-02-29"), 19782);
  assert_int_equal(day("1900-01-01"), -25567);
  assert_int_equal(day("0001-01-01"), -719162);
  assert_int_equal(day("9999-12-31"), 2932896);
  assert_int_equal(day("2026-11-26T23:59:00Z"), 20783); /* a time after it: ignored */
  static const char *const bad[] = {
      "2023-02-29", "2026-13-01",  "2026-04-31", "2026-00-10", "2026-1-05",
      "--02-29",    "2026-11-26x", "",           "0000-01-01", "2026/11/26"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (kith_day_parse(bad[i], &d))
      fail_msg("'%s' must not parse as a day", bad[i]);
  assert_false(kith_day_parse(NULL, &d));

  /* every day from 1899 to 2101 formats and parses back, one after the other */
  int32_t first = day("1899-01-01"), last = day("2101-12-31");
  char text[KITH_DAY_LEN], prev[KITH_DAY_LEN] = "";
  for (d = first; d <= last; d++) {
    kith_day_format(d, text);
    assert_int_equal(day(text), d);
    assert_true(strcmp(prev, text) < 0);
    memcpy(prev, text, sizeof text);
  }
  assert_int_equal(last - first + 1, 203 * 365 + 49); /* 49 leap years, 1900 not */

  /* month and year ends */
  assert_day(day("2026-12-31") + 1, "2027-01-01");
  assert_day(day("2024-02-28") + 1, "2024-02-29");
  assert_day(day("2023-02-28") + 1, "2023-03-01");
  assert_day(day("2100-02-28") + 1, "2100-03-01");
  assert_day(day("2000-02-28") + 1, "2000-02-29");
  assert_day(kith_day_add_months(day("2024-01-31"), 1), "2024-02-29");
  assert_day(kith_day_add_months(day("2023-01-31"), 1), "2023-02-28");
  assert_day(kith_day_add_months(day("2026-11-30"), 3), "2027-02-28");
  assert_day(kith_day_add_months(day("2026-11-26"), 1), "2026-12-26");
  assert_day(kith_day_add_months(day("2026-12-15"), 1), "2027-01-15");
  assert_day(kith_day_add_months(day("2024-02-29"), 12), "2025-02-28");
  assert_day(kith_day_add_months(day("2024-02-29"), 48), "2028-02-29");
  assert_day(kith_day_add_months(day("2027-03-31"), -1), "2027-02-28");
  assert_day(kith_day_add_months(day("2027-01-10"), -2), "2026-11-10");
}

static void test_due_of(void **state)
{
  (void)state;
  struct kith_due_at at;
  uint32_t none[] = {0, 0}, three[] = {30, 14, 21}, two14[] = {14, 30, 14};
  int32_t last = day("2026-12-20"), made = day("2026-01-05");

  /* nothing to go by: never due */
  struct kith_due_in in = {KITH_DAY_NONE, last, made, 0, NULL};
  assert_false(kith_due_of(&in, &at));
  in.n = 2, in.every = none; /* tags, none with a cadence */
  assert_false(kith_due_of(&in, &at));

  /* the smallest cadence wins, counted from the last contact, across a year end */
  in.n = 3, in.every = three;
  assert_true(kith_due_of(&in, &at));
  assert_int_equal(at.reason, KITH_DUE_CADENCE);
  assert_int_equal(at.tag, 1);
  assert_int_equal(at.every, 14);
  assert_day(at.due, "2027-01-03");
  in.every = two14; /* a tie between tags: the first */
  assert_true(kith_due_of(&in, &at));
  assert_int_equal(at.tag, 0);

  /* never contacted: from the day it was added; into a leap day */
  in.last = KITH_DAY_NONE, in.created = day("2024-02-15");
  assert_true(kith_due_of(&in, &at));
  assert_day(at.due, "2024-02-29");

  /* a follow-up earlier than the cadence wins; a later one does not; a tie goes to
   * the follow-up, the thing the user asked for */
  in.last = last;
  in.follow_up = day("2026-12-25");
  assert_true(kith_due_of(&in, &at));
  assert_int_equal(at.reason, KITH_DUE_FOLLOW_UP);
  assert_day(at.due, "2026-12-25");
  in.follow_up = day("2027-02-01");
  assert_true(kith_due_of(&in, &at));
  assert_int_equal(at.reason, KITH_DUE_CADENCE);
  assert_day(at.due, "2027-01-03");
  in.follow_up = day("2027-01-03");
  assert_true(kith_due_of(&in, &at));
  assert_int_equal(at.reason, KITH_DUE_FOLLOW_UP);

  /* a follow-up alone, no tags */
  in.n = 0, in.every = NULL;
  assert_true(kith_due_of(&in, &at));
  assert_int_equal(at.reason, KITH_DUE_FOLLOW_UP);
  assert_day(at.due, "2027-01-03");
}

static void cadence(struct dev *d, const char *tag, uint32_t days)
{
  kith_txn *t = kt_begin(d->s.st, true);
  assert_rc(kith_cadence_set(t, tag, days), 0);
  kt_commit(t);
}

/* "tag=days,tag=days" for d's cadences, in order */
static void cadences_text(struct dev *d, char *out, size_t n)
{
  struct kith_cadence_list l = {0};
  size_t at = 0;
  kith_txn *t = kt_begin(d->s.st, false);
  assert_rc(kith_cadences_load(t, &l), 0);
  kith_txn_abort(t);
  out[0] = 0;
  for (size_t i = 0; i < l.n && at < n; i++)
    at += (size_t)snprintf(out + at, n - at, "%s%s=%u", i ? "," : "", l.v[i].tag,
                           l.v[i].days);
  kith_cadence_list_clear(&l);
}

static void test_store(void **state)
{
  (void)state;
  struct dev ada;
  char text[256];
  uint8_t a[16], b[16];
  dev_new(&ada, "Ada", "laptop");
  cadence(&ada, "climate", 30);
  cadence(&ada, "Investors", 14);
  cadence(&ada, "CLIMATE", 21); /* the same tag, folded: the same record */
  cadences_text(&ada, text, sizeof text);
  assert_string_equal(text, "CLIMATE=21,Investors=14");
  assert_rc(kith_cadence_id("Climaté", a), 0);
  assert_rc(kith_cadence_id("climate", b), 0);
  assert_memory_equal(a, b, 16); /* case and accents ignored, as for tags */

  /* off: gone from the list, and on again later (no tombstone in the way) */
  cadence(&ada, "climate", 0);
  cadences_text(&ada, text, sizeof text);
  assert_string_equal(text, "Investors=14");
  cadence(&ada, "never-set", 0); /* off when never on: nothing written */
  uint64_t seq0, seq1;
  kith_txn *t = kt_begin(ada.s.st, true);
  assert_rc(kith_txn_seq(t, KITH_SPACE_SELF, &seq0), 0);
  assert_rc(kith_cadence_set(t, "never-again", 0), 0);
  assert_rc(kith_txn_seq(t, KITH_SPACE_SELF, &seq1), 0);
  assert_int_equal(seq0, seq1);
  assert_rc(kith_cadence_set(t, "", 3), KITH_EINVAL);
  assert_rc(kith_cadence_set(t, "x", KITH_CADENCE_MAX_DAYS + 1), KITH_EINVAL);
  assert_rc(kith_cadence_set(t, "\xff", 3), KITH_EBADUTF8);
  kith_txn_abort(t);
  cadence(&ada, "climate", 7);
  cadences_text(&ada, text, sizeof text);
  assert_string_equal(text, "climate=7,Investors=14");

  /* the id is the same for every user: a record of another kind there (a partner
   * could make one) is never written to */
  uint8_t squat[16];
  assert_rc(kith_cadence_id("squatted", squat), 0);
  t = kt_begin(ada.s.st, true);
  assert_rc(kith_record_create(t, KITH_KIND_CONTACT, true, squat), 0);
  assert_rc(kith_cadence_set(t, "Squatted", 5), KITH_EBADMSG);
  assert_rc(kith_cadence_set(t, "squatted", 0), KITH_EBADMSG);
  kith_txn_abort(t);

  /* cadences are not contacts */
  struct kith_id_list ids = {0};
  t = kt_begin(ada.s.st, false);
  assert_rc(kith_kind_each(t, KITH_KIND_CONTACT, kith_id_collect, &ids), 0);
  kith_txn_abort(t);
  assert_int_equal(ids.n, 0);
  free(ids.v);
  dev_free(&ada);
}

static void test_due_load(void **state)
{
  (void)state;
  struct dev ada;
  uint8_t bea[16], cy[16], dan[16], eve[16];
  struct kith_due_list l = {0};
  dev_new(&ada, "Ada", "laptop");
  int32_t made = (int32_t)(kt_now_ms / 86400000u); /* the day kt's clock says */
  add_contact(&ada, "Bea", "climate", bea);
  add_contact(&ada, "Cy", "Climate", cy);
  add_contact(&ada, "Dan", "investors", dan);
  add_contact(&ada, "Eve", NULL, eve);
  set_text(&ada, bea, KITH_F_LAST_CONTACTED, "2026-11-01");
  set_text(&ada, dan, KITH_F_FOLLOW_UP, "2026-11-20");
  set_text(&ada, eve, KITH_F_FOLLOW_UP, "2026-12-24");
  cadence(&ada, "climate", 30);

  kith_txn *t = kt_begin(ada.s.st, false);
  assert_rc(kith_due_load(t, day("2026-11-26"), NULL, &l), 0);
  /* Cy: never contacted, added long before: due 30 days after it was added;
   * Dan: his follow-up; Bea: Dec 1 is not due yet; Eve neither */
  assert_int_equal(l.n, 2);
  assert_memory_equal(l.v[0].id, cy, 16);
  assert_int_equal(l.v[0].due, made + 30);
  assert_int_equal(l.v[0].last, KITH_DAY_NONE);
  assert_string_equal(l.v[0].tag, "Climate");
  assert_string_equal(l.v[0].name, "Cy");
  assert_memory_equal(l.v[1].id, dan, 16);
  assert_int_equal(l.v[1].reason, KITH_DUE_FOLLOW_UP);
  assert_null(l.v[1].tag);
  kith_due_list_clear(&l);

  /* later, Bea is due (Dec 1) before Eve (Dec 24); sorted by day */
  assert_rc(kith_due_load(t, day("2026-12-31"), NULL, &l), 0);
  assert_int_equal(l.n, 4);
  assert_memory_equal(l.v[2].id, bea, 16);
  assert_day(l.v[2].due, "2026-12-01");
  assert_day(l.v[2].last, "2026-11-01");
  assert_memory_equal(l.v[3].id, eve, 16);
  kith_due_list_clear(&l);

  /* --tag: only the contacts with it (folded) */
  assert_rc(kith_due_load(t, day("2026-12-31"), "CLIMATE", &l), 0);
  assert_int_equal(l.n, 2);
  assert_true(memcmp(l.v[0].id, cy, 16) == 0 || memcmp(l.v[1].id, cy, 16) == 0);
  assert_true(memcmp(l.v[0].id, bea, 16) == 0 || memcmp(l.v[1].id, bea, 16) == 0);
  kith_due_list_clear(&l);
  assert_rc(kith_due_load(t, day("2026-12-31"), "\xff", &l), KITH_EBADUTF8);
  kith_txn_abort(t);

  /* a note (on Nov 30) moves last_contacted on: Bea is no longer due Dec 1 */
  uint8_t nid[16];
  kt_now_ms = (uint64_t)day("2026-11-30") * 86400000u + 43200000u;
  t = kt_begin(ada.s.st, true);
  assert_rc(kith_note_create(t, bea, "coffee", nid), 0);
  kt_commit(t);
  t = kt_begin(ada.s.st, false);
  assert_rc(kith_due_load(t, day("2026-12-01"), "climate", &l), 0);
  for (size_t i = 0; i < l.n; i++)
    assert_memory_not_equal(l.v[i].id, bea, 16);
  kith_due_list_clear(&l);
  kith_txn_abort(t);
  dev_free(&ada);
}

/* My devices share cadences (the same record for the same tag, the later write
 * winning); a partner never gets one, nor can put one into our space. */
static void test_travel(void **state)
{
  (void)state;
  struct dev lap, ph, bea;
  uint8_t id[16], bea_id[16], ada_id[16], theirs[16], d1[32], d2[32];
  char text[256];
  dev_new(&lap, "Ada", "laptop");
  dev_new(&ph, "Ada", "phone");
  dev_new(&bea, "Bea", "laptop");
  link_devices(&lap, &ph);
  partner(&lap, "Ada", &bea, "Bea", bea_id, ada_id);
  cadence(&lap, "climate", 30);
  kt_now_ms += 10;
  cadence(&ph, "Climate", 14); /* offline, later */
  sync_ok(&ph, &lap);
  digest(&lap, d1);
  digest(&ph, d2);
  assert_bytes_equal(d1, 32, d2, 32);
  cadences_text(&lap, text, sizeof text);
  assert_string_equal(text, "Climate=14");

  sync_ok(&bea, &lap);
  assert_rc(kith_cadence_id("climate", id), 0);
  struct scan sc = scan(&bea, id);
  assert_int_equal(sc.forbidden, 0);

  uint8_t gid[16];
  uint32_t space;
  kith_txn *t = kt_begin(bea.s.st, true); /* a modified client tries */
  assert_rc(kith_peer_space(t, ada_id, gid), 0);
  assert_rc(kith_space_local(t, gid, false, &space), 0);
  kith_random_id(theirs);
  assert_rc(kith_record_create_in(t, KITH_KIND_CADENCE, space, theirs), 0);
  kt_commit(t);
  struct run r = sync_run(&lap, &bea, -1);
  assert_rc(r.d.error, KITH_EPROTO);
  assert_non_null(strstr(r.d.why, "kind no shared space holds"));
  dev_free(&lap);
  dev_free(&ph);
  dev_free(&bea);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_days),   cmocka_unit_test(test_due_of),
      cmocka_unit_test(test_store),  cmocka_unit_test(test_due_load),
      cmocka_unit_test(test_travel),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
