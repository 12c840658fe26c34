/*
 * test_importer.c — core/importer.h: contacts read from other tools' files find
 * their match (UID, e-mail whatever its case, LinkedIn profile URL in any of its
 * forms, the urn:uuid: kith writes) and merge into it; a file that adds nothing
 * writes nothing; contacts earlier in the same file are matched too.
 */
#include "kith_test.h"

#include "core/importer.h"
#include "core/json.h"
#include "core/model.h"

static json_t *obj(const char *text)
{
  json_error_t e;
  json_t *j = json_loads(text, 0, &e);
  if (!j)
    print_error("bad test JSON: %s\n", e.text);
  assert_non_null(j);
  return j;
}

/* Adds one contact object; returns the change's action, id in id_hex. */
static const char *add(kith_importer *im, const char *text, char id_hex[33],
                       char fields[256])
{
  static char action[16];
  json_t *c = obj(text), *change = NULL;
  assert_rc(kith_importer_add(im, c, &change), 0);
  json_decref(c);
  assert_non_null(change);
  snprintf(action, sizeof action, "%s",
           json_string_value(json_object_get(change, "action")));
  if (id_hex)
    snprintf(id_hex, 33, "%s", json_string_value(json_object_get(change, "id")));
  if (fields) {
    char *f = json_dumps(json_object_get(change, "fields"), JSON_COMPACT);
    snprintf(fields, 256, "%s", f);
    free(f);
  }
  json_decref(change);
  return action;
}

static json_t *load(kith_txn *t, const char *hex)
{
  uint8_t id[KITH_ID_LEN];
  struct kith_record *rec = NULL;
  assert_int_equal(kith_hex_decode(hex, id, KITH_ID_LEN), 0);
  assert_rc(kith_record_load(t, id, &rec), 0);
  json_t *j = kith_json_record(t, rec, KITH_JSON_NOTES);
  kith_record_free(rec);
  assert_non_null(j);
  return j;
}

static size_t count_contacts(kith_txn *t)
{
  struct kith_id_list l = {0};
  assert_rc(kith_kind_each(t, KITH_KIND_CONTACT, kith_id_collect, &l), 0);
  size_t n = l.n;
  free(l.v);
  return n;
}

static void test_match_and_merge(void **state)
{
  (void)state;
  struct kt_store s;
  kt_store_new(&s);
  kith_txn *t = kt_begin(s.st, true);
  kith_importer *im = NULL;
  char a[33], b[33], f[256];
  assert_rc(kith_importer_new(t, &im), 0);
  assert_string_equal(add(im,
                          "{\"name\":\"Zoë Keller\",\"emails\":[\"Zoe@Keller.Studio\"],"
                          "\"kinds\":{\"emails\":{\"Zoe@Keller.Studio\":\"work\"}},"
                          "\"x\":{\"uid\":\"ABC-1\"},\"notes\":[{\"text\":\"met at "
                          "the meetup\"}]}",
                          a, f),
                      "new");
  /* the same person by e-mail in another case: merged, the title added */
  assert_string_equal(add(im,
                          "{\"name\":\"Zoë Keller\",\"emails\":[\"zoe@keller.studio\"],"
                          "\"title\":\"Design lead\",\"notes\":[{\"text\":\"met at "
                          "the meetup\"},{\"text\":\"coffee\"}]}",
                          b, f),
                      "merged");
  assert_string_equal(a, b);
  assert_string_equal(f, "[\"title\",\"notes\"]");
  /* by UID (case and urn:uuid: aside), with nothing new: unchanged */
  assert_string_equal(
      add(im, "{\"name\":\"Zoë Keller\",\"x\":{\"uid\":\"abc-1\"}}", b, f),
      "unchanged");
  assert_string_equal(a, b);
  assert_string_equal(f, "[]");
  /* LinkedIn: the URL in another form finds the same contact */
  assert_string_equal(add(im,
                          "{\"name\":\"Kofi Mensah\",\"links\":[\"https://www."
                          "linkedin.com/in/kofimensah/\"]}",
                          a, f),
                      "new");
  assert_string_equal(add(im,
                          "{\"name\":\"Kofi Mensah\",\"org\":\"Acme\",\"links\":["
                          "\"http://uk.linkedin.com/in/KofiMensah?trk=x\"]}",
                          b, f),
                      "merged");
  assert_string_equal(a, b);
  assert_string_equal(f, "[\"org\"]"); /* the profile is there: no second link */
  /* a non-LinkedIn URL is no identity: two people, one shared company site */
  assert_string_equal(
      add(im, "{\"name\":\"P1\",\"links\":[\"https://acme.example/\"]}", a, f), "new");
  assert_string_equal(
      add(im, "{\"name\":\"P2\",\"links\":[\"https://acme.example/\"]}", b, f), "new");
  assert_string_not_equal(a, b);
  struct kith_import_counts n = kith_importer_counts(im);
  assert_int_equal(n.created, 4);
  assert_int_equal(n.merged, 2);
  assert_int_equal(n.unchanged, 1);
  assert_int_equal(n.notes, 2); /* "met at the meetup" once, "coffee" */
  assert_int_equal(count_contacts(t), 4);
  kith_importer_free(im);
  kt_commit(t);
  kt_store_free(&s);
}

static void test_fields_merged(void **state)
{
  (void)state;
  struct kt_store s;
  kt_store_new(&s);
  kith_txn *t = kt_begin(s.st, true);
  kith_importer *im = NULL;
  char a[33], f[256];
  assert_rc(kith_importer_new(t, &im), 0);
  add(im,
      "{\"name\":\"Ana\",\"org\":\"Old Co\",\"emails\":[\"ana@x.example\"],"
      "\"phones\":[\"+1 555 0100\"],\"tags\":[\"climate\"],\"x\":{\"github\":\"ana\"},"
      "\"addresses\":[{\"kind\":\"home\",\"street\":\"1 Main St\",\"locality\":"
      "\"Town\"}]}",
      a, f);
  assert_string_equal(
      add(im,
          "{\"name\":\"Ana\",\"org\":\"New Co\",\"emails\":[\"ana@x.example\","
          "\"ana@new.example\"],\"kinds\":{\"emails\":{\"ana@x.example\":\"home\"}},"
          "\"phones\":[\"+1 555 0100\"],\"tags\":[\"CLIMATE\",\"design\"],\"x\":{"
          "\"github\":\"ana\",\"mastodon\":\"@ana\"},\"addresses\":[{\"kind\":\"work\","
          "\"street\":\"1 Main St\",\"locality\":\"Town\"},{\"street\":\"2 Side "
          "St\"}]}",
          NULL, f),
      "merged");
  assert_string_equal(f, "[\"org\",\"emails\",\"tags\",\"x-mastodon\",\"addresses\"]");
  json_t *j = load(t, a);
  assert_string_equal(json_string_value(json_object_get(j, "org")), "New Co");
  char *emails = json_dumps(json_object_get(j, "emails"), JSON_COMPACT);
  assert_string_equal(emails, "[\"ana@x.example\",\"ana@new.example\"]");
  free(emails);
  assert_string_equal(
      json_string_value(json_object_get(
          json_object_get(json_object_get(j, "kinds"), "emails"), "ana@x.example")),
      "home");
  assert_int_equal(json_array_size(json_object_get(j, "addresses")), 2);
  assert_int_equal(json_array_size(json_object_get(j, "tags")), 2);
  json_decref(j);
  kith_importer_free(im);
  kt_commit(t);
  kt_store_free(&s);
}

/* Importing what is already there writes nothing: the store digest is the same. */
static void test_reimport_writes_nothing(void **state)
{
  (void)state;
  struct kt_store s;
  kt_store_new(&s);
  static const char *const file[] = {
      "{\"name\":\"A\",\"emails\":[\"a@x.example\"],\"notes\":[{\"text\":\"n\"}]}",
      "{\"name\":\"B\",\"x\":{\"uid\":\"u-b\"},\"phones\":[\"1\"]}",
      "{\"name\":\"C\",\"links\":[\"https://linkedin.com/in/c\"]}", NULL};
  uint8_t d1[32], d2[32];
  for (int round = 0; round < 2; round++) {
    kith_txn *t = kt_begin(s.st, true);
    kith_importer *im = NULL;
    assert_rc(kith_importer_new(t, &im), 0);
    for (int i = 0; file[i]; i++)
      assert_string_equal(add(im, file[i], NULL, NULL), round ? "unchanged" : "new");
    kith_importer_free(im);
    kt_commit(t);
    t = kt_begin(s.st, false);
    assert_rc(kith_store_digest(t, round ? d2 : d1), 0);
    kith_txn_abort(t);
  }
  assert_memory_equal(d1, d2, 32);
  kt_store_free(&s);
}

/* A card with no UID, e-mail or profile URL is found by its name; a card with an
 * e-mail nobody has is someone new, whatever its name. */
static void test_name_fallback(void **state)
{
  (void)state;
  struct kt_store s;
  kt_store_new(&s);
  kith_txn *t = kt_begin(s.st, true);
  kith_importer *im = NULL;
  char a[33], b[33];
  assert_rc(kith_importer_new(t, &im), 0);
  assert_string_equal(
      add(im, "{\"name\":\"Old Phone\",\"phones\":[\"+1 555 0100\"]}", a, NULL), "new");
  assert_string_equal(
      add(im, "{\"name\":\"Old Phone\",\"phones\":[\"+1 555 0100\"]}", b, NULL),
      "unchanged");
  assert_string_equal(a, b);
  /* found whatever the case; the file's spelling replaces the old */
  assert_string_equal(add(im, "{\"name\":\"OLD PHONE\"}", b, NULL), "merged");
  assert_string_equal(a, b);
  assert_string_equal(
      add(im, "{\"name\":\"Old Phone\",\"emails\":[\"someone@else.example\"]}", b,
          NULL),
      "new");
  assert_string_not_equal(a, b);
  kith_importer_free(im);
  kt_commit(t);
  kt_store_free(&s);
}

/* kith's own vCard UID (urn:uuid: of the id) finds the contact it came from. */
static void test_kith_uid(void **state)
{
  (void)state;
  struct kt_store s;
  kt_store_new(&s);
  kith_txn *t = kt_begin(s.st, true);
  uint8_t id[KITH_ID_LEN];
  assert_rc(kith_record_create(t, KITH_KIND_CONTACT, false, id), 0);
  assert_rc(kith_contact_set_text(t, id, "name", "Dee"), 0);
  kt_commit(t);
  char hex[33], uid[80], text[200], got[33];
  kith_hex_encode(id, KITH_ID_LEN, hex);
  snprintf(uid, sizeof uid, "urn:uuid:%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8,
           hex + 12, hex + 16, hex + 20);
  snprintf(text, sizeof text,
           "{\"name\":\"Dee\",\"title\":\"CTO\",\"x\":{\"uid\":\"%s\"}}", uid);
  t = kt_begin(s.st, true);
  kith_importer *im = NULL;
  assert_rc(kith_importer_new(t, &im), 0);
  assert_string_equal(add(im, text, got, NULL), "merged");
  assert_string_equal(got, hex);
  kith_importer_free(im);
  kt_commit(t);
  kt_store_free(&s);
}

/* A value the store refuses fails the add with a reason (the caller aborts). */
static void test_bad_value(void **state)
{
  (void)state;
  struct kt_store s;
  kt_store_new(&s);
  kith_txn *t = kt_begin(s.st, true);
  kith_importer *im = NULL;
  assert_rc(kith_importer_new(t, &im), 0);
  json_t *c = obj("{\"name\":\"E\",\"birthday\":\"1972-31-01\"}");
  assert_int_not_equal(kith_importer_add(im, c, NULL), 0);
  assert_non_null(kith_importer_error(im));
  assert_non_null(strstr(kith_importer_error(im), "birthday"));
  json_decref(c);
  kith_importer_free(im);
  kith_txn_abort(t);
  kt_store_free(&s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_match_and_merge),
      cmocka_unit_test(test_fields_merged),
      cmocka_unit_test(test_reimport_writes_nothing),
      cmocka_unit_test(test_name_fallback),
      cmocka_unit_test(test_kith_uid),
      cmocka_unit_test(test_bad_value),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
