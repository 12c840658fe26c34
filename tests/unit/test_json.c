/*
 * test_json.c — core/json.h: export then import is a faithful copy (equal store
 * digests), imports that fail say where and leave nothing once aborted, fields set
 * from typed text, and the live registers of a record in display order.
 */
#include "kith_test.h"

#include <jansson.h>

#include "core/json.h"
#include "core/model.h"

static const struct kith_field *F(uint8_t id)
{
  return kith_field_by_id(id);
}

static void set_text(kith_txn *t, const uint8_t id[16], const char *field,
                     const char *value)
{
  int rc = kith_contact_set_text(t, id, field, value);
  if (rc != 0)
    fail_msg("kith_contact_set_text(%s=%s) returned %d (%s)", field, value, rc,
             kith_strerror(rc));
}

static void add(kith_txn *t, const uint8_t id[16], uint8_t field, const char *a,
                const char *b)
{
  const char *p[8] = {a, b};
  int n = field == KITH_F_TAGS ? 1 : 2;
  struct kith_value *v = kith_value_new(n, p);
  assert_non_null(v);
  assert_rc(kith_set_add(t, id, F(field), v), 0);
  kith_value_free(v);
}

static void digest(kith_store *st, uint8_t out[32])
{
  kith_txn *t = kt_begin(st, false);
  assert_rc(kith_store_digest(t, out), 0);
  kith_txn_abort(t);
}

/* A store with two contacts using every shape of field, and a note. */
static void populate(kith_store *st, uint8_t c1[16], uint8_t c2[16])
{
  kith_txn *t = kt_begin(st, true);
  assert_rc(kith_record_create(t, KITH_KIND_CONTACT, false, c1), 0);
  assert_rc(kith_record_create(t, KITH_KIND_CONTACT, false, c2), 0);
  set_text(t, c1, "name", "Ada Lovelace");
  set_text(t, c1, "given_name", "Ada");
  set_text(t, c1, "org", "Analytical Engines");
  set_text(t, c1, "title", "Countess");
  set_text(t, c1, "birthday", "--12-10");
  set_text(t, c1, "met_at", "Royal Society");
  set_text(t, c1, "needs", "a mechanic");
  set_text(t, c1, "follow_up", "2026-12-01");
  add(t, c1, KITH_F_EMAILS, "ada@example.org", "work");
  add(t, c1, KITH_F_EMAILS, "countess@example.org", NULL);
  add(t, c1, KITH_F_PHONES, "+44 20 7946 0000", "cell");
  add(t, c1, KITH_F_LINKS, "https://example.org/Ada", NULL);
  add(t, c1, KITH_F_IMS, "ada@matrix.example", NULL);
  add(t, c1, KITH_F_TAGS, "vip", NULL);
  add(t, c1, KITH_F_TAGS, "Zo\xc3\xab", NULL);
  add(t, c1, KITH_F_X, "github", "ada");
  set_text(t, c1, "address", "work:1 Main St, London, , N1, UK");
  set_text(t, c2, "name", "Grace");
  uint8_t note[16];
  assert_rc(kith_note_create(t, c1, "met at the salon", note), 0);
  kt_commit(t);
}

struct exp {
  kith_txn *t;
  json_t *arr;
};

static int export_one(void *arg, const uint8_t id[16])
{
  struct exp *e = arg;
  struct kith_record *rec = NULL;
  assert_rc(kith_record_load(e->t, id, &rec), 0);
  json_t *j = kith_json_record(e->t, rec, KITH_JSON_STAMPS | KITH_JSON_NOTES);
  assert_non_null(j);
  assert_int_equal(json_array_append_new(e->arr, j), 0);
  kith_record_free(rec);
  return 0;
}

/* {"contacts": [...]} with stamps and notes, as `kith export --format json`. */
static json_t *export_doc(kith_store *st)
{
  kith_txn *t = kt_begin(st, false);
  struct exp e = {t, json_array()};
  assert_rc(kith_kind_each(t, KITH_KIND_CONTACT, export_one, &e), 0);
  kith_txn_abort(t);
  json_t *doc = json_pack("{s:o}", "contacts", e.arr);
  assert_non_null(doc);
  return doc;
}

static void import_text(kith_store *st, const char *text, int want,
                        struct kith_import_stats *stats, char err[256])
{
  kith_txn *t = kt_begin(st, true);
  err[0] = 0;
  int rc = kith_json_import_text(t, text, strlen(text), stats, err, 256);
  if (rc != want)
    fail_msg("import returned %d (%s: %s), want %d", rc, kith_strerror(rc), err, want);
  if (rc == 0)
    kt_commit(t);
  else
    kith_txn_abort(t);
}

static void test_export_import_faithful(void **state)
{
  (void)state;
  struct kt_store a, b, c;
  kt_store_new(&a);
  kt_store_new(&b);
  kt_store_new(&c);
  uint8_t c1[16], c2[16], da[32], db[32], dc[32];
  populate(a.st, c1, c2);
  json_t *doc = export_doc(a.st);
  char *text = json_dumps(doc, JSON_COMPACT);
  assert_non_null(text);

  struct kith_import_stats stats;
  char err[256];
  import_text(b.st, text, 0, &stats, err);
  assert_int_equal(stats.contacts_new, 2);
  assert_int_equal(stats.contacts_merged, 0);
  assert_int_equal(stats.notes, 1);
  digest(a.st, da);
  digest(b.st, db);
  assert_memory_equal(da, db, 32); /* the same registers, stamps and all */

  /* again: the records merge and nothing changes */
  import_text(b.st, text, 0, &stats, err);
  assert_int_equal(stats.contacts_new, 0);
  assert_int_equal(stats.contacts_merged, 2);
  digest(b.st, db);
  assert_memory_equal(da, db, 32);

  /* the parsed document gives the same */
  kith_txn *t = kt_begin(c.st, true);
  assert_rc(kith_json_import(t, doc, &stats, err, sizeof err), 0);
  kt_commit(t);
  digest(c.st, dc);
  assert_memory_equal(da, dc, 32);

  /* a byte order mark is allowed */
  char *bom = malloc(strlen(text) + 4);
  assert_non_null(bom);
  memcpy(bom, "\xef\xbb\xbf", 3);
  memcpy(bom + 3, text, strlen(text) + 1);
  import_text(c.st, bom, 0, &stats, err);
  assert_int_equal(stats.contacts_merged, 2);
  free(bom);
  free(text);
  json_decref(doc);
  kt_store_free(&a);
  kt_store_free(&b);
  kt_store_free(&c);
}

static int count_cb(void *arg, const uint8_t id[16])
{
  (void)id;
  (*(size_t *)arg)++;
  return 0;
}

static void test_import_partial(void **state)
{
  (void)state;
  struct kt_store s;
  kt_store_new(&s);
  struct kith_import_stats stats;
  char err[256];
  /* no ids, no stamps: new records with local stamps */
  import_text(
      s.st,
      "[{\"name\": \"Bo\", \"emails\": [\"bo@example.org\"], \"tags\": [\"a\"]},"
      " {\"name\": \"Cy\", \"org\": \"ACME\"}]",
      0, &stats, err);
  assert_int_equal(stats.contacts_new, 2);
  import_text(s.st, "{\"name\": \"Di\", \"x\": {\"github\": \"di\"}}", 0, &stats, err);
  assert_int_equal(stats.contacts_new, 1);
  kith_txn *t = kt_begin(s.st, false);
  size_t n = 0;
  assert_rc(kith_kind_each(t, KITH_KIND_CONTACT, count_cb, &n), 0);
  assert_int_equal(n, 3);
  n = 0;
  assert_rc(kith_tag_each(t, "A", count_cb, &n), 0);
  assert_int_equal(n, 1);
  kith_txn_abort(t);
  kt_store_free(&s);
}

static void test_import_errors(void **state)
{
  (void)state;
  struct kt_store s;
  kt_store_new(&s);
  uint8_t before[32], after[32];
  digest(s.st, before);
  struct kith_import_stats stats;
  char err[256];
  static const struct {
    const char *doc;
    int rc;
    const char *where; /* a part of the reason */
  } bad[] = {
      {"42", KITH_EBADMSG, ""},
      {"", KITH_EBADMSG, ""},
      {"[{\"name\": \"ok\"}, {\"org\": \"no name\"}]", KITH_EBADMSG, "contacts[1]"},
      {"[{\"name\": \"ok\"}, 7]", KITH_EBADMSG, "contacts[1]"},
      {"[{\"id\": \"xyz\", \"name\": \"A\"}]", KITH_EBADMSG, "contacts[0]"},
      {"[{\"name\": \"A\", \"birthday\": \"tomorrow\"}]", KITH_EBADMSG, "contacts[0]"},
      {"[{\"name\": \"A\", \"stamps\": {\"name\": \"not a stamp\"}}]", KITH_EBADMSG,
       "contacts[0]"},
      {"[{\"name\": \"A\", \"stamps\": {\"name\": "
       "\"7fffffffffff0000-00000000000000000000000000000000\"}}]",
       KITH_EFUTURE, "future"},
      {"[{\"name\": \"A\"}", KITH_EBADMSG, ""},
      {"[{\"name\": \"A\"}] trailing", KITH_EBADMSG, ""},
      {"[{\"name\": \"A\", \"notes\": 5}]", KITH_EBADMSG, "notes"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    import_text(s.st, bad[i].doc, bad[i].rc, &stats, err);
    if (!err[0] || !strstr(err, bad[i].where))
      fail_msg("import of %s: reason \"%s\" does not name \"%s\"", bad[i].doc, err,
               bad[i].where);
  }
  /* the caller aborted each time: nothing was half-imported */
  digest(s.st, after);
  assert_memory_equal(before, after, 32);
  kt_store_free(&s);
}

/* ---- typed text and display order -------------------------------------------- */

static void test_typed_value(void **state)
{
  (void)state;
  struct kith_value *v = kith_typed_value("work:ada@example.org");
  assert_int_equal(v->n, 2);
  assert_string_equal(v->p[0], "ada@example.org");
  assert_string_equal(v->p[1], "work");
  kith_value_free(v);
  v = kith_typed_value("CELL: +44 20");
  assert_string_equal(v->p[0], "+44 20");
  assert_string_equal(v->p[1], "cell"); /* lowercased */
  kith_value_free(v);
  v = kith_typed_value("https://example.org"); /* not a kind word */
  assert_string_equal(v->p[0], "https://example.org");
  assert_null(v->p[1]);
  kith_value_free(v);
  v = kith_typed_value("plain");
  assert_string_equal(v->p[0], "plain");
  assert_null(v->p[1]);
  kith_value_free(v);
}

static void test_contact_set_text(void **state)
{
  (void)state;
  struct kt_store s;
  kt_store_new(&s);
  kith_txn *t = kt_begin(s.st, true);
  uint8_t id[16];
  assert_rc(kith_record_create(t, KITH_KIND_CONTACT, false, id), 0);
  set_text(t, id, "fn", "Ada"); /* an alias */
  set_text(t, id, "email", "work:a@example.org");
  set_text(t, id, "email", "b@example.org"); /* a set field takes this one value */
  set_text(t, id, "x-github", "ada");
  set_text(t, id, "tags", "vip");
  set_text(t, id, "address", "home:2 High St, Oxford, , OX1, UK");
  assert_rc(kith_contact_set_text(t, id, "nope", "x"), KITH_EUNKFIELD);
  assert_rc(kith_contact_set_text(t, id, "x-", "x"), KITH_EUNKFIELD);
  assert_rc(kith_contact_set_text(t, id, "x", "x"), KITH_EUNKFIELD);
  assert_rc(kith_contact_set_text(t, id, "text", "x"), KITH_EUNKFIELD); /* a note's */
  assert_rc(kith_contact_set_text(t, id, "org", "bad \xff"), KITH_EBADUTF8);
  assert_rc(kith_contact_set_text(t, id, "birthday", "someday"), KITH_EBADMSG);

  struct kith_record *rec = NULL;
  assert_rc(kith_record_load(t, id, &rec), 0);
  assert_string_equal(kith_record_text(rec, KITH_F_NAME), "Ada");
  assert_null(kith_record_text(rec, KITH_F_ORG));
  const struct kith_reg **live = NULL;
  size_t n = 0;
  assert_rc(kith_record_live(rec, &live, &n), 0);
  /* name, one e-mail (b), the address, the tag, the x field: by field number */
  assert_int_equal(n, 5);
  assert_int_equal(live[0]->field, KITH_F_NAME);
  assert_int_equal(live[1]->field, KITH_F_EMAILS);
  assert_string_equal(live[1]->val->p[0], "b@example.org");
  assert_null(live[1]->val->p[1]);
  assert_int_equal(live[2]->field, KITH_F_ADDRESSES);
  assert_string_equal(live[2]->val->p[0], "home");
  assert_string_equal(live[2]->val->p[3], "2 High St");
  assert_string_equal(live[2]->val->p[4], "Oxford");
  assert_int_equal(live[3]->field, KITH_F_TAGS);
  assert_int_equal(live[4]->field, KITH_F_X);
  assert_string_equal(live[4]->val->p[1], "ada");
  free(live);
  kith_record_free(rec);

  /* clearing: an empty value */
  set_text(t, id, "x-github", "");
  set_text(t, id, "email", "");
  set_text(t, id, "x-never-set", "");
  assert_rc(kith_record_load(t, id, &rec), 0);
  assert_rc(kith_record_live(rec, &live, &n), 0);
  assert_int_equal(n, 3);
  for (size_t i = 0; i < n; i++) {
    assert_int_not_equal(live[i]->field, KITH_F_EMAILS);
    assert_int_not_equal(live[i]->field, KITH_F_X);
  }
  free(live);
  kith_record_free(rec);
  kt_commit(t);
  kt_store_free(&s);
}

static void test_record_live_order(void **state)
{
  (void)state;
  struct kt_store s;
  kt_store_new(&s);
  kith_txn *t = kt_begin(s.st, true);
  uint8_t id[16];
  assert_rc(kith_record_create(t, KITH_KIND_CONTACT, false, id), 0);
  add(t, id, KITH_F_TAGS, "zeta", NULL);
  add(t, id, KITH_F_TAGS, "Alpha", NULL);
  add(t, id, KITH_F_TAGS,
      "\xc3\x89"
      "cole",
      NULL); /* École folds to ecole */
  add(t, id, KITH_F_TAGS, "beta", NULL);
  add(t, id, KITH_F_EMAILS, "z@example.org", NULL);
  add(t, id, KITH_F_EMAILS, "a@example.org", NULL);
  add(t, id, KITH_F_EMAILS, "m@example.org", NULL);
  struct kith_value *gone = kith_value_new(1, (const char *[]){"beta"});
  assert_rc(kith_set_remove(t, id, F(KITH_F_TAGS), gone), 0);
  kith_value_free(gone);
  struct kith_record *rec = NULL;
  assert_rc(kith_record_load(t, id, &rec), 0);
  const struct kith_reg **live = NULL;
  size_t n = 0;
  assert_rc(kith_record_live(rec, &live, &n), 0);
  static const char *const want[] = {"z@example.org",
                                     "a@example.org",
                                     "m@example.org",
                                     "Alpha",
                                     ("\xc3\x89"
                                      "cole"),
                                     "zeta"};
  assert_int_equal(n, 6); /* the kind and the removed tag are not live values */
  for (size_t i = 0; i < n; i++)
    if (strcmp(live[i]->val->p[0], want[i]) != 0)
      fail_msg("live[%zu] = \"%s\", want \"%s\"", i, live[i]->val->p[0], want[i]);
  free(live);
  kith_record_free(rec);
  kith_txn_abort(t);
  kt_store_free(&s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_export_import_faithful),
      cmocka_unit_test(test_import_partial),
      cmocka_unit_test(test_import_errors),
      cmocka_unit_test(test_typed_value),
      cmocka_unit_test(test_contact_set_text),
      cmocka_unit_test(test_record_live_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
