/*
 * test_referral.c — core/referral.h across in-process stores synced over
 * core/link.h: Ada passes leads to her partner Bea (a laptop and a phone), Bea
 * moves them through the statuses and thanks; what each side holds and sees, the
 * merge of two of Bea's devices changing one referral offline, the giver refused,
 * bad input refused, the stats arithmetic, and the rules on deleting and
 * unsharing.
 */
#include "kt_sync.h"

#include "core/referral.h"

struct pair {
  struct dev ada, bea;
  uint8_t bea_id[16]; /* Bea's peer record in Ada's store */
  uint8_t ada_id[16]; /* and Ada's in Bea's */
};

static void pair_new(struct pair *p)
{
  dev_new(&p->ada, "Ada", "laptop");
  dev_new(&p->bea, "Bea", "laptop");
  partner(&p->ada, "Ada", &p->bea, "Bea", p->bea_id, p->ada_id);
}

static void pair_free(struct pair *p)
{
  dev_free(&p->ada);
  dev_free(&p->bea);
}

static void refer(struct dev *d, const uint8_t contact[16], const uint8_t peer[16],
                  const char *reason, const char *value, uint8_t id[16])
{
  kith_txn *t = kt_begin(d->s.st, true);
  assert_rc(kith_referral_add(t, contact, peer, reason, value, id), 0);
  kt_commit(t);
}

/* Sets a status on d: commits on success, else leaves the store untouched. */
static int set_status(struct dev *d, const uint8_t id[16], const char *status,
                      const char *note)
{
  kith_txn *t = kt_begin(d->s.st, true);
  int rc = kith_referral_set_status(t, id, status, note);
  if (rc == 0)
    kt_commit(t);
  else
    kith_txn_abort(t);
  return rc;
}

static int thank(struct dev *d, const uint8_t id[16], const char *value)
{
  kith_txn *t = kt_begin(d->s.st, true);
  int rc = kith_referral_thank(t, id, value);
  if (rc == 0)
    kt_commit(t);
  else
    kith_txn_abort(t);
  return rc;
}

/* The referral as d sees it; the caller clears it. */
static struct kith_referral seen(struct dev *d, const uint8_t id[16])
{
  struct kith_referral r;
  kith_txn *t = kt_begin(d->s.st, false);
  assert_rc(kith_referral_load(t, id, &r), 0);
  kith_txn_abort(t);
  return r;
}

static const char *status_of(struct dev *d, const uint8_t id[16])
{
  struct kith_referral r = seen(d, id);
  const char *s = kith_referral_status_name(r.status);
  kith_referral_clear(&r);
  return s;
}

static void test_add_reaches_partner(void **state)
{
  (void)state;
  struct pair p;
  uint8_t g[16], other[16], id[16], note[16];
  pair_new(&p);
  add_contact(&p.ada, "Grace Hopper", "secret", g);
  add_contact(&p.ada, "Not Referred", "private", other);
  kith_txn *t = kt_begin(p.ada.s.st, true);
  assert_rc(kith_note_create(t, g, "owes me a favour", note), 0);
  kt_commit(t);
  refer(&p.ada, g, p.bea_id, "needs a COBOL contractor", "1500 eur", id);

  struct kith_referral r = seen(&p.ada, id);
  assert_true(r.given);
  assert_true(r.has_peer);
  assert_string_equal(r.peer_name, "Bea");
  assert_memory_equal(r.contact, g, 16); /* first share: the card itself */
  assert_true(r.contact_shared);
  assert_string_equal(r.contact_name, "Grace Hopper");
  assert_string_equal(r.value, "1500 EUR");
  assert_string_equal(kith_referral_status_name(r.status), "offered");
  assert_int_equal(r.nevents, 1);
  kith_referral_clear(&r);

  sync_ok(&p.bea, &p.ada);
  r = seen(&p.bea, id);
  assert_false(r.given);
  assert_string_equal(r.peer_name, "Ada");
  assert_memory_equal(r.contact, g, 16);
  assert_true(r.contact_shared);
  assert_string_equal(r.contact_name, "Grace Hopper");
  assert_string_equal(r.reason, "needs a COBOL contractor");
  assert_string_equal(r.value, "1500 EUR");
  assert_string_equal(kith_referral_status_name(r.status), "offered");
  assert_null(r.thanked);

  json_t *j = kith_referral_json(&r);
  assert_non_null(j);
  assert_string_equal(json_string_value(json_object_get(j, "direction")), "received");
  assert_string_equal(json_string_value(json_object_get(j, "peer")), "Ada");
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(j, "contact"), "name")),
      "Grace Hopper");
  assert_string_equal(json_string_value(json_object_get(j, "status")), "offered");
  assert_true(json_is_null(json_object_get(j, "note")));
  assert_true(json_is_null(json_object_get(j, "thanked")));
  assert_int_equal(json_array_size(json_object_get(j, "history")), 1);
  assert_non_null(json_object_get(j, "created"));
  assert_non_null(json_object_get(j, "updated"));
  json_decref(j);
  kith_referral_clear(&r);

  /* and nothing private of Ada's: the card, no tag, no note, not the other one */
  struct scan sc = scan(&p.bea, other);
  assert_int_equal(sc.forbidden, 0);
  assert_int_equal(sc.contacts, 1);
  assert_int_equal(sc.private_regs, 0);
  assert_int_equal(sc.notes, 0);
  sc = scan(&p.bea, note);
  assert_int_equal(sc.forbidden, 0);
  pair_free(&p);
}

static void test_statuses_flow_back(void **state)
{
  (void)state;
  struct pair p;
  uint8_t g[16], id[16];
  pair_new(&p);
  add_contact(&p.ada, "Grace Hopper", NULL, g);
  refer(&p.ada, g, p.bea_id, NULL, "1500 EUR", id);
  sync_ok(&p.bea, &p.ada);
  static const char *const path[] = {"accepted", "contacted", "met", "won"};
  for (size_t i = 0; i < 4; i++) {
    kt_now_ms += 1000;
    assert_rc(set_status(&p.bea, id, path[i], i == 2 ? "coffee went well" : NULL), 0);
    sync_ok(&p.ada, &p.bea);
    assert_string_equal(status_of(&p.ada, id), path[i]); /* Ada sees each step */
  }
  /* the same status again, without a note: nothing changes, nothing to send */
  struct kith_referral before = seen(&p.bea, id);
  kt_now_ms += 1000;
  assert_rc(set_status(&p.bea, id, "won", NULL), 0);
  struct kith_referral after = seen(&p.bea, id);
  assert_int_equal(kith_stamp_cmp(&before.updated, &after.updated), 0);
  kith_referral_clear(&before);
  kith_referral_clear(&after);

  kt_now_ms += 1000;
  assert_rc(thank(&p.bea, id, "1500 eur"), 0);
  struct run run = sync_ok(&p.ada, &p.bea);
  assert_int_equal(run.sa.sent, 1);
  struct kith_referral r = seen(&p.ada, id);
  assert_string_equal(kith_referral_status_name(r.status), "won");
  assert_non_null(r.thanked);
  assert_string_equal(r.thank_value, "1500 EUR");
  assert_int_equal(r.nevents, 5);
  static const char *const all[] = {"offered", "accepted", "contacted", "met", "won"};
  for (size_t i = 0; i < 5; i++)
    assert_string_equal(kith_referral_status_name(r.events[i].status), all[i]);
  assert_string_equal(r.events[3].note, "coffee went well");
  assert_null(r.note); /* the current status's note: won had none */
  kith_referral_clear(&r);
  pair_free(&p);
}

/* Bea's laptop and phone change one referral offline: both events stay in the
 * history everywhere, and the later one is the status everywhere. */
static void test_concurrent_statuses_merge(void **state)
{
  (void)state;
  struct pair p;
  struct dev phone;
  uint8_t g[16], id[16], d1[32], d2[32];
  pair_new(&p);
  dev_new(&phone, "Bea", "phone");
  link_devices(&p.bea, &phone);
  add_contact(&p.ada, "Grace Hopper", NULL, g);
  refer(&p.ada, g, p.bea_id, "a lead", NULL, id);
  sync_ok(&p.bea, &p.ada);
  sync_ok(&phone, &p.bea);
  assert_string_equal(status_of(&phone, id), "offered");

  kt_now_ms += 1000;
  assert_rc(set_status(&p.bea, id, "contacted", "left a message"), 0);
  kt_now_ms += 5;
  assert_rc(set_status(&phone, id, "met", "lunch"), 0); /* the later one */
  /* the earlier change reaches Ada last, through another path */
  sync_ok(&phone, &p.ada);
  assert_string_equal(status_of(&p.ada, id), "met");
  sync_ok(&p.bea, &p.ada);
  sync_ok(&phone, &p.bea);
  struct dev *all[] = {&p.ada, &p.bea, &phone};
  for (size_t i = 0; i < 3; i++) {
    struct kith_referral r = seen(all[i], id);
    assert_string_equal(kith_referral_status_name(r.status), "met");
    assert_string_equal(r.note, "lunch");
    assert_int_equal(r.nevents, 3);
    assert_string_equal(kith_referral_status_name(r.events[1].status), "contacted");
    assert_string_equal(r.events[1].note, "left a message");
    kith_referral_clear(&r);
  }
  digest(&p.bea, d1);
  digest(&phone, d2);
  assert_bytes_equal(d1, 32, d2, 32);
  dev_free(&phone);
  pair_free(&p);
}

static void test_giver_refused(void **state)
{
  (void)state;
  struct pair p;
  struct dev phone;
  uint8_t g[16], id[16];
  pair_new(&p);
  dev_new(&phone, "Ada", "phone");
  link_devices(&p.ada, &phone);
  add_contact(&p.ada, "Grace Hopper", NULL, g);
  refer(&p.ada, g, p.bea_id, NULL, NULL, id);
  sync_ok(&phone, &p.ada);
  sync_ok(&p.bea, &p.ada);
  assert_rc(set_status(&p.ada, id, "won", NULL), KITH_EREFUSED);
  assert_rc(set_status(&phone, id, "won", NULL), KITH_EREFUSED); /* any of Ada's */
  assert_rc(set_status(&p.bea, id, "won", NULL), 0);
  sync_ok(&phone, &p.bea); /* Ada's phone syncs with Bea directly */
  assert_string_equal(status_of(&phone, id), "won");
  assert_rc(thank(&phone, id, NULL), KITH_EREFUSED);
  assert_rc(thank(&p.bea, id, NULL), 0);
  struct kith_referral r = seen(&phone, id);
  assert_true(r.given);
  kith_referral_clear(&r);
  dev_free(&phone);
  pair_free(&p);
}

static void test_bad_input_refused(void **state)
{
  (void)state;
  static const struct {
    const char *in, *canon;
    int64_t units;
    const char *cur;
  } good[] = {
      {"1500", "1500", 15000000, ""},
      {"1500.50 EUR", "1500.50 EUR", 15005000, "EUR"},
      {"99eur", "99 EUR", 990000, "EUR"},
      {" 7  usd ", "7 USD", 70000, "USD"},
      {"0.0001", "0.0001", 1, ""},
      {"9999999999999.9999", "9999999999999.9999", 99999999999999999, ""},
  };
  static const char *const bad[] = {"",       "abc",        "1,500",          "-5",
                                    "1.",     ".5",         "1.23456",        "15 EURO",
                                    "15 E1R", "1500 EUR x", "12345678901234", "1e3"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    struct kith_amount a;
    char canon[KITH_AMOUNT_TEXT];
    assert_rc(kith_amount_parse(good[i].in, &a, canon), 0);
    assert_string_equal(canon, good[i].canon);
    assert_int_equal(a.units, good[i].units);
    assert_string_equal(a.currency, good[i].cur);
  }
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct kith_amount a;
    if (kith_amount_parse(bad[i], &a, NULL) != KITH_EBADMSG)
      fail_msg("'%s' was taken for an amount", bad[i]);
  }
  assert_int_equal(kith_referral_status_parse("won"), KITH_REF_WON);
  assert_int_equal(kith_referral_status_parse("Won"), -1);
  assert_null(kith_referral_status_name(KITH_REF_STATUSES));

  struct pair p;
  uint8_t g[16], id[16], before[32], after[32];
  pair_new(&p);
  add_contact(&p.ada, "Grace Hopper", NULL, g);
  digest(&p.ada, before);
  kith_txn *t = kt_begin(p.ada.s.st, true);
  assert_rc(kith_referral_add(t, g, p.bea_id, NULL, "lots", id), KITH_EBADMSG);
  assert_rc(kith_referral_add(t, p.bea_id, p.bea_id, NULL, NULL, id),
            KITH_EINVAL); /* not a contact */
  kith_txn_abort(t);
  digest(&p.ada, after);
  assert_bytes_equal(before, 32, after, 32);

  refer(&p.ada, g, p.bea_id, NULL, NULL, id);
  sync_ok(&p.bea, &p.ada);
  assert_rc(set_status(&p.bea, id, "bogus", NULL), KITH_EBADMSG);
  assert_rc(thank(&p.bea, id, NULL), KITH_EINVAL); /* not won yet */
  assert_rc(set_status(&p.bea, id, "won", NULL), 0);
  assert_rc(thank(&p.bea, id, "a lot"), KITH_EBADMSG);
  uint8_t nobody[16] = {1};
  assert_rc(set_status(&p.bea, nobody, "won", NULL), KITH_ENOTFOUND);
  assert_rc(set_status(&p.bea, p.ada_id, "won", NULL), KITH_EINVAL); /* a peer */
  pair_free(&p);
}

static void test_stats_arithmetic(void **state)
{
  (void)state;
  static const struct {
    const char *value, *status, *thank;
  } plan[] = {
      {"1500 EUR", "won", "1500 EUR"}, {"250.5 eur", "won", "300"},
      {"100", "lost", NULL},           {NULL, "declined", NULL},
      {"2000 EUR", "met", NULL},       {"7 USD", NULL, NULL},
  };
  struct pair p;
  uint8_t ids[6][16];
  pair_new(&p);
  for (size_t i = 0; i < 6; i++) {
    uint8_t c[16];
    char name[32];
    snprintf(name, sizeof name, "Lead %zu", i);
    add_contact(&p.ada, name, NULL, c);
    refer(&p.ada, c, p.bea_id, NULL, plan[i].value, ids[i]);
  }
  sync_ok(&p.bea, &p.ada);
  for (size_t i = 0; i < 6; i++) {
    kt_now_ms += 10;
    if (plan[i].status)
      assert_rc(set_status(&p.bea, ids[i], plan[i].status, NULL), 0);
    if (plan[i].thank)
      assert_rc(thank(&p.bea, ids[i], plan[i].thank), 0);
  }
  sync_ok(&p.ada, &p.bea);
  struct dev *sides[] = {&p.ada, &p.bea}; /* given on one side, received on the other */
  for (size_t s = 0; s < 2; s++) {
    struct kith_referral_tally t = {0};
    for (size_t i = 0; i < 6; i++) {
      struct kith_referral r = seen(sides[s], ids[i]);
      assert_int_equal(r.given, s == 0);
      assert_rc(kith_referral_tally_add(&t, &r), 0);
      kith_referral_clear(&r);
    }
    assert_int_equal(t.count, 6);
    assert_int_equal(t.by_status[KITH_REF_WON], 2);
    assert_int_equal(t.by_status[KITH_REF_LOST], 1);
    assert_int_equal(t.by_status[KITH_REF_DECLINED], 1);
    assert_int_equal(t.by_status[KITH_REF_MET], 1);
    assert_int_equal(t.by_status[KITH_REF_OFFERED], 1);
    assert_int_equal(t.thanked, 2);
    json_t *j = kith_referral_tally_json(&t);
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(
        text,
        "{\"by_status\":{\"accepted\":0,\"contacted\":0,\"declined\":1,\"lost\":1,"
        "\"met\":1,\"offered\":1,\"won\":2},\"closed\":4,\"conversion\":{\"all\":"
        "0.33333333333333331,\"closed\":0.5},\"count\":6,\"thank_value\":[{"
        "\"amount\":\"300\",\"currency\":null},{\"amount\":\"1500\",\"currency\":"
        "\"EUR\"}],\"thanked\":2,\"won\":2,\"won_value\":[{\"amount\":\"1750.50\","
        "\"currency\":\"EUR\"}]}");
    free(text);
    json_decref(j);
  }

  /* nothing to divide by: null, not a number */
  struct kith_referral_tally none = {0};
  json_t *j = kith_referral_tally_json(&none);
  assert_true(
      json_is_null(json_object_get(json_object_get(j, "conversion"), "closed")));
  assert_true(json_is_null(json_object_get(json_object_get(j, "conversion"), "all")));
  json_decref(j);

  /* sums: exact, per currency, bounded */
  char out[KITH_AMOUNT_TEXT];
  kith_amount_format(17505000, out);
  assert_string_equal(out, "1750.50");
  kith_amount_format(1250, out);
  assert_string_equal(out, "0.125");
  kith_amount_format(10000, out);
  assert_string_equal(out, "1");
  struct kith_amount_sum sum = {0};
  struct kith_amount big = {INT64_MAX - 1, "EUR"}, one = {2, "EUR"};
  assert_rc(kith_amount_add(&sum, &big), 0);
  assert_rc(kith_amount_add(&sum, &one), KITH_ETOOBIG);
  assert_int_equal(sum.v[0].units, INT64_MAX - 1);
  memset(&sum, 0, sizeof sum);
  for (int i = 0; i < KITH_AMOUNT_SUMS_MAX; i++) {
    struct kith_amount a = {1, {(char)('A' + i / 26), (char)('A' + i % 26), 'X', 0}};
    assert_rc(kith_amount_add(&sum, &a), 0);
  }
  struct kith_amount extra = {1, "ZZZ"};
  assert_rc(kith_amount_add(&sum, &extra), KITH_ETOOBIG);
  for (size_t i = 1; i < sum.n; i++)
    assert_true(strcmp(sum.v[i - 1].currency, sum.v[i].currency) < 0);
  pair_free(&p);
}

/* A referral is closed, never deleted: a partner's batch that deletes one is
 * refused whole, and mine keeps it. */
static void test_never_deleted(void **state)
{
  (void)state;
  struct pair p;
  uint8_t g[16], id[16];
  pair_new(&p);
  add_contact(&p.ada, "Grace Hopper", NULL, g);
  refer(&p.ada, g, p.bea_id, NULL, NULL, id);
  sync_ok(&p.bea, &p.ada);
  kith_txn *t = kt_begin(p.bea.s.st, true); /* as a modified client would */
  assert_rc(kith_record_delete(t, id), 0);
  kt_commit(t);
  struct run r = sync_run(&p.ada, &p.bea, -1);
  assert_rc(r.d.error, KITH_EPROTO);
  assert_non_null(strstr(r.d.why, "deletes a referral"));
  assert_string_equal(status_of(&p.ada, id), "offered");
  pair_free(&p);
}

/* Unsharing the card leaves the referral, with the contact's name; each side
 * keeps its own private copy of the card. */
static void test_unshare_keeps_referral(void **state)
{
  (void)state;
  struct pair p;
  uint8_t g[16], id[16], copy[16];
  pair_new(&p);
  add_contact(&p.ada, "Grace Hopper", "secret", g);
  refer(&p.ada, g, p.bea_id, NULL, NULL, id);
  sync_ok(&p.bea, &p.ada);
  kith_txn *t = kt_begin(p.ada.s.st, true);
  assert_rc(kith_unshare(t, g, p.bea_id, copy), 0);
  kt_commit(t);
  sync_ok(&p.bea, &p.ada);
  struct dev *sides[] = {&p.ada, &p.bea};
  for (size_t s = 0; s < 2; s++) {
    struct kith_referral r = seen(sides[s], id);
    assert_false(r.contact_shared);
    assert_string_equal(r.contact_name, "Grace Hopper");
    assert_memory_equal(r.contact, g, 16);
    kith_referral_clear(&r);
  }
  assert_rc(set_status(&p.bea, id, "contacted", NULL), 0); /* still Bea's to move */
  sync_ok(&p.ada, &p.bea);
  assert_string_equal(status_of(&p.ada, id), "contacted");
  pair_free(&p);
}

/* A contact already shared with another partner: the referral carries a copy,
 * and that other partner gets nothing of the referral. */
static void test_copy_when_shared_elsewhere(void **state)
{
  (void)state;
  struct pair p;
  struct dev cy;
  uint8_t g[16], id[16], cy_id[16], x[16], out[16];
  char buf[256];
  pair_new(&p);
  dev_new(&cy, "Cy", "laptop");
  partner(&p.ada, "Ada", &cy, "Cy", cy_id, x);
  add_contact(&p.ada, "Grace Hopper", NULL, g);
  kith_txn *t = kt_begin(p.ada.s.st, true);
  assert_rc(kith_share(t, g, cy_id, out), 0);
  kt_commit(t);
  refer(&p.ada, g, p.bea_id, NULL, NULL, id);
  struct kith_referral r = seen(&p.ada, id);
  assert_memory_not_equal(r.contact, g, 16);
  memcpy(out, r.contact, 16);
  kith_referral_clear(&r);
  sync_ok(&p.bea, &p.ada);
  sync_ok(&cy, &p.ada);
  assert_string_equal(get_text(&p.bea, out, KITH_F_NAME, buf), "Grace Hopper");
  assert_null(get_text(&p.bea, g, KITH_F_NAME, buf));
  struct scan sc = scan(&cy, id);
  assert_int_equal(sc.forbidden, 0);
  dev_free(&cy);
  pair_free(&p);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_add_reaches_partner),
      cmocka_unit_test(test_statuses_flow_back),
      cmocka_unit_test(test_concurrent_statuses_merge),
      cmocka_unit_test(test_giver_refused),
      cmocka_unit_test(test_bad_input_refused),
      cmocka_unit_test(test_stats_arithmetic),
      cmocka_unit_test(test_never_deleted),
      cmocka_unit_test(test_unshare_keeps_referral),
      cmocka_unit_test(test_copy_when_shared_elsewhere),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
