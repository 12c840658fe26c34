/*
 * test_mycard.c — core/mycard.h: my card's fields and JSON, the subset an
 * introduction gives, and where the card goes: all of my devices (edits merged),
 * never a partner, never a contact (list, share, import).
 */
#include "kt_sync.h"

#include "core/json.h"
#include "core/mycard.h"

static void card_set(struct dev *d, const char *field, const char *value)
{
  kith_txn *t = kt_begin(d->s.st, true);
  assert_rc(kith_mycard_set_text(t, field, value), 0);
  kt_commit(t);
}

/* My card's JSON on d, compact with sorted keys; the caller frees it. */
static char *card_text(struct dev *d)
{
  json_t *j = NULL;
  kith_txn *t = kt_begin(d->s.st, false);
  assert_rc(kith_mycard_json(t, &j), 0);
  kith_txn_abort(t);
  char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(j);
  return s;
}

static json_t *card_json(struct dev *d)
{
  json_t *j = NULL;
  kith_txn *t = kt_begin(d->s.st, false);
  assert_rc(kith_mycard_json(t, &j), 0);
  kith_txn_abort(t);
  return j;
}

static void test_fields_and_json(void **state)
{
  (void)state;
  struct dev ada;
  uint8_t id[16];
  char hex[33];
  dev_new(&ada, "Ada Lovelace", "laptop");
  kith_mycard_id(id);
  kith_hex_encode(id, 16, hex);

  /* never set: my user name stands in, and nothing is stored */
  json_t *j = card_json(&ada);
  assert_string_equal(json_string_value(json_object_get(j, "id")), hex);
  assert_string_equal(json_string_value(json_object_get(j, "name")), "Ada Lovelace");
  assert_int_equal(json_array_size(json_object_get(j, "emails")), 0);
  assert_true(json_is_null(json_object_get(j, "org")));
  assert_true(json_is_null(json_object_get(j, "created")));
  assert_null(json_object_get(j, "tags"));
  json_decref(j);

  card_set(&ada, "email", "work:ada@engine.example");
  card_set(&ada, "phone", "cell:+44 20 7946 0018");
  card_set(&ada, "org", "Analytical Engines");
  card_set(&ada, "x-github", "ada");
  kith_txn *t = kt_begin(ada.s.st, true);
  assert_rc(kith_mycard_set_text(t, "tags", "vip"), KITH_EUNKFIELD); /* private */
  assert_rc(kith_mycard_set_text(t, "follow_up", "2026-01-01"), KITH_EUNKFIELD);
  assert_rc(kith_mycard_set_text(t, "met_at", "a party"), KITH_EUNKFIELD);
  assert_rc(kith_mycard_set_text(t, "nonsense", "x"), KITH_EUNKFIELD);
  assert_rc(kith_mycard_set_text(t, "birthday", "not a date"), KITH_EBADMSG);
  kith_txn_abort(t);
  j = card_json(&ada);
  assert_string_equal(json_string_value(json_object_get(j, "name")), "Ada Lovelace");
  assert_string_equal(
      json_string_value(json_array_get(json_object_get(j, "emails"), 0)),
      "ada@engine.example");
  assert_string_equal(
      json_string_value(json_object_get(
          json_object_get(json_object_get(j, "kinds"), "phones"), "+44 20 7946 0018")),
      "cell");
  assert_string_equal(json_string_value(json_object_get(j, "org")),
                      "Analytical Engines");
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(j, "x"), "github")), "ada");
  assert_false(json_is_null(json_object_get(j, "created")));
  json_decref(j);

  /* a name of its own; cleared, my user name again; a list field set to one */
  card_set(&ada, "name", "Countess Lovelace");
  j = card_json(&ada);
  assert_string_equal(json_string_value(json_object_get(j, "name")),
                      "Countess Lovelace");
  json_decref(j);
  card_set(&ada, "name", "");
  card_set(&ada, "emails", "ada@home.example");
  card_set(&ada, "org", "");
  j = card_json(&ada);
  assert_string_equal(json_string_value(json_object_get(j, "name")), "Ada Lovelace");
  assert_int_equal(json_array_size(json_object_get(j, "emails")), 1);
  assert_true(json_is_null(json_object_get(j, "org")));
  json_decref(j);
  dev_free(&ada);
}

static void test_subset(void **state)
{
  (void)state;
  struct dev ada;
  struct kith_mycard_bad bad = {0};
  json_t *o = NULL;
  dev_new(&ada, "Ada", "laptop");
  card_set(&ada, "email", "work:ada@engine.example");
  card_set(&ada, "phone", "+44 20 7946 0018");
  card_set(&ada, "title", "Analyst");
  card_set(&ada, "x-github", "ada");
  kith_txn *t = kt_begin(ada.s.st, true);
  assert_rc(kith_mycard_subset(t, "email, phone,org,x-github", &o, NULL), 0);
  char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
  /* no org: none is set; the e-mail's kind with it; name always */
  assert_string_equal(s,
                      "{\"emails\":[\"ada@engine.example\"],\"kinds\":{\"emails\":{"
                      "\"ada@engine.example\":\"work\"}},\"name\":\"Ada\",\"phones\":["
                      "\"+44 20 7946 0018\"],\"x\":{\"github\":\"ada\"}}");
  free(s);

  /* what it gives a contact import takes as a new contact */
  struct kith_import_stats st;
  char err[200];
  assert_rc(kith_json_import(t, o, &st, err, sizeof err), 0);
  assert_int_equal(st.contacts_new, 1);
  json_decref(o);

  assert_rc(kith_mycard_subset(t, "email,tags", &o, &bad), KITH_EUNKFIELD);
  assert_int_equal(bad.at, 6);
  assert_int_equal(bad.len, 4);
  assert_rc(kith_mycard_subset(t, "met_at", &o, NULL), KITH_EUNKFIELD);
  assert_rc(kith_mycard_subset(t, " , ", &o, NULL), KITH_EINVAL);
  assert_rc(kith_mycard_subset(t, "name", &o, NULL), 0);
  s = json_dumps(o, JSON_COMPACT);
  assert_string_equal(s, "{\"name\":\"Ada\"}");
  free(s);
  json_decref(o);
  kith_txn_abort(t);
  dev_free(&ada);
}

static int count(void *arg, const uint8_t id[KITH_ID_LEN])
{
  (void)id;
  (*(int *)arg)++;
  return 0;
}

/* Of another kind: never a contact, not shared, not overwritten by an import. */
static void test_not_a_contact(void **state)
{
  (void)state;
  struct dev ada, bea;
  uint8_t id[16], bea_id[16], ada_id[16], out[16];
  char hex[33], doc[200], err[200];
  int n = 0;
  dev_new(&ada, "Ada", "laptop");
  dev_new(&bea, "Bea", "laptop");
  partner(&ada, "Ada", &bea, "Bea", bea_id, ada_id);
  card_set(&ada, "org", "Analytical Engines");
  kith_mycard_id(id);
  kith_hex_encode(id, 16, hex);
  kith_txn *t = kt_begin(ada.s.st, true);
  assert_rc(kith_kind_each(t, KITH_KIND_CONTACT, count, &n), 0);
  assert_int_equal(n, 0);
  assert_rc(kith_record_resolve(t, KITH_KIND_CONTACT, hex, out), KITH_ENOTFOUND);
  assert_rc(kith_share(t, id, bea_id, out), KITH_EINVAL);
  kith_txn_abort(t);

  char *before = card_text(&ada);
  snprintf(doc, sizeof doc, "{\"id\": \"%s\", \"name\": \"Mallory\", \"org\": \"X\"}",
           hex);
  struct kith_import_stats st;
  t = kt_begin(ada.s.st, true);
  assert_rc(kith_json_import_text(t, doc, strlen(doc), &st, err, sizeof err),
            KITH_EBADMSG);
  assert_non_null(strstr(err, "another kind"));
  kith_txn_abort(t);
  char *after = card_text(&ada);
  assert_string_equal(before, after);
  free(before);
  free(after);

  /* a partner never gets it: not by sync, and not pushed into our space */
  sync_ok(&bea, &ada);
  struct scan sc = scan(&bea, id);
  assert_int_equal(sc.forbidden, 0);
  uint8_t gid[16];
  uint32_t space;
  uint8_t theirs[16];
  t = kt_begin(bea.s.st, true); /* a modified client puts its card in our space */
  assert_rc(kith_peer_space(t, ada_id, gid), 0);
  assert_rc(kith_space_local(t, gid, false, &space), 0);
  kith_random_id(theirs);
  assert_rc(kith_record_create_in(t, KITH_KIND_MYCARD, space, theirs), 0);
  kt_commit(t);
  struct run r = sync_run(&ada, &bea, -1);
  assert_rc(r.d.error, KITH_EPROTO);
  assert_non_null(strstr(r.d.why, "kind no shared space holds"));
  dev_free(&ada);
  dev_free(&bea);
}

/* All my devices hold my card; offline edits on two of them merge. */
static void test_my_devices_merge(void **state)
{
  (void)state;
  struct dev lap, ph;
  uint8_t d1[32], d2[32];
  dev_new(&lap, "Ada", "laptop");
  dev_new(&ph, "Ada", "phone");
  link_devices(&lap, &ph);
  card_set(&ph, "title", "Analyst"); /* each creates the card: the same record */
  kt_now_ms += 10;
  card_set(&lap, "org", "Analytical Engines");
  card_set(&lap, "email", "ada@engine.example");
  kt_now_ms += 10;
  card_set(&ph, "email", "ada@phone.example");
  sync_ok(&ph, &lap);
  digest(&lap, d1);
  digest(&ph, d2);
  assert_bytes_equal(d1, 32, d2, 32);
  json_t *j = card_json(&lap);
  assert_string_equal(json_string_value(json_object_get(j, "title")), "Analyst");
  assert_string_equal(json_string_value(json_object_get(j, "org")),
                      "Analytical Engines");
  /* a list field set on each, offline: both additions survive, as on a contact */
  assert_int_equal(json_array_size(json_object_get(j, "emails")), 2);
  json_decref(j);
  dev_free(&lap);
  dev_free(&ph);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fields_and_json),
      cmocka_unit_test(test_subset),
      cmocka_unit_test(test_not_a_contact),
      cmocka_unit_test(test_my_devices_merge),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
