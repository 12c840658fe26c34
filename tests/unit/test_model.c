/*
 * test_model.c — core/model.h: the field table, value checks, element ids, and
 * the record operations on a real store (through the public API only).
 */
#include "kith_test.h"

#include "core/model.h"

static struct kith_value *val1(const char *a)
{
  struct kith_value *v = kith_value_new(1, &a);
  assert_non_null(v);
  return v;
}

static struct kith_value *val2(const char *a, const char *b)
{
  const char *p[2] = {a, b};
  struct kith_value *v = kith_value_new(2, p);
  assert_non_null(v);
  return v;
}

static const struct kith_field *F(uint8_t id)
{
  const struct kith_field *f = kith_field_by_id(id);
  assert_non_null(f);
  return f;
}

/* ---- the field table --------------------------------------------------------- */

static void test_field_lookup(void **state)
{
  (void)state;
  const struct kith_field *name = kith_field_by_name(KITH_KIND_CONTACT, "name");
  assert_non_null(name);
  assert_int_equal(name->id, KITH_F_NAME);
  assert_int_equal(name->shape, KITH_SHAPE_TEXT);
  assert_ptr_equal(kith_field_by_name(KITH_KIND_CONTACT, "fn"), name); /* alias */
  assert_ptr_equal(kith_field_by_id(KITH_F_NAME), name);

  static const struct {
    const char *name;
    uint8_t id;
  } contact[] = {
      {"email", KITH_F_EMAILS},  {"emails", KITH_F_EMAILS},
      {"phone", KITH_F_PHONES},  {"company", KITH_F_ORG},
      {"org", KITH_F_ORG},       {"tag", KITH_F_TAGS},
      {"bday", KITH_F_BIRTHDAY}, {"met-at", KITH_F_MET_AT},
      {"met_at", KITH_F_MET_AT}, {"follow-up", KITH_F_FOLLOW_UP},
      {"x", KITH_F_X},           {"address", KITH_F_ADDRESSES},
  };
  for (size_t i = 0; i < sizeof contact / sizeof contact[0]; i++) {
    const struct kith_field *f = kith_field_by_name(KITH_KIND_CONTACT, contact[i].name);
    if (!f || f->id != contact[i].id)
      fail_msg("kith_field_by_name(contact, \"%s\") gave field %d, want %d",
               contact[i].name, f ? f->id : -1, contact[i].id);
  }
  const struct kith_field *text = kith_field_by_name(KITH_KIND_NOTE, "text");
  assert_non_null(text);
  assert_int_equal(text->id, KITH_F_NOTE_TEXT);
  assert_int_equal(text->kind, KITH_KIND_NOTE);
  /* fields belong to one kind; names are case-sensitive; unknown is NULL */
  assert_null(kith_field_by_name(KITH_KIND_CONTACT, "text"));
  assert_null(kith_field_by_name(KITH_KIND_NOTE, "name"));
  assert_null(kith_field_by_name(KITH_KIND_CONTACT, "Name"));
  assert_null(kith_field_by_name(KITH_KIND_CONTACT, "nope"));
  assert_null(kith_field_by_name(KITH_KIND_CONTACT, ""));
  assert_null(kith_field_by_name(0, "name"));
  assert_null(kith_field_by_id(KITH_F_KIND)); /* the kind is no user field */
  assert_null(kith_field_by_id(23));
  assert_null(kith_field_by_id(255));
}

static void test_field_table_consistent(void **state)
{
  (void)state;
  size_t n = 0;
  const struct kith_field *t = kith_fields(&n);
  size_t base = 0, intro = 0, cadence = 0; /* the blocks of 120+: their owners' */
  for (size_t i = 0; i < n; i++) {
    base += t[i].id < 120;
    intro += t[i].id >= 140 && t[i].id < 170;
    cadence += t[i].id >= 170 && t[i].id < 180;
  }
  assert_int_equal(base, 35);
  assert_int_equal(intro, 21);
  assert_int_equal(cadence, 2);
  for (size_t i = 0; i < n; i++) {
    assert_ptr_equal(kith_field_by_id(t[i].id), &t[i]);
    assert_ptr_equal(kith_field_by_name(t[i].kind, t[i].json), &t[i]);
    if (t[i].alias)
      assert_ptr_equal(kith_field_by_name(t[i].kind, t[i].alias), &t[i]);
    for (size_t j = 0; j < i; j++) {
      assert_int_not_equal(t[i].id, t[j].id);
      if (t[i].kind == t[j].kind)
        assert_string_not_equal(t[i].json, t[j].json);
    }
    /* private fields stay in self: tags, follow-up, last contacted, and all of
     * my peer and device records */
    bool priv = t[i].id == KITH_F_TAGS || t[i].id == KITH_F_FOLLOW_UP ||
                t[i].id == KITH_F_LAST_CONTACTED || t[i].kind == KITH_KIND_PEER ||
                t[i].kind == KITH_KIND_DEVICE || t[i].kind == KITH_KIND_INTRO ||
                t[i].kind == KITH_KIND_CADENCE;
    if (t[i].id < 120 || t[i].id >= 140) /* an intro is mine; a proposal is shared */
      assert_int_equal(t[i].priv, priv);
  }
  /* numbers are stored and shipped: pin a few */
  assert_int_equal(kith_field_by_name(KITH_KIND_CONTACT, "emails")->id, 16);
  assert_int_equal(kith_field_by_name(KITH_KIND_CONTACT, "tags")->id, 21);
  assert_int_equal(kith_field_by_name(KITH_KIND_NOTE, "contact")->id, 40);
  assert_int_equal(kith_field_by_name(KITH_KIND_PEER, "keys")->id, 61);
  assert_int_equal(kith_field_by_name(KITH_KIND_DEVICE, "revoked")->id, 83);
}

/* Referrals (120-139) and my card: a referral is shared data of a partnership,
 * every field of it; my card holds a contact's descriptive fields, under their
 * numbers. */
static void test_referral_and_card_fields(void **state)
{
  (void)state;
  size_t n = 0, refs = 0;
  const struct kith_field *t = kith_fields(&n);
  for (size_t i = 0; i < n; i++) {
    if (t[i].id < 120 || t[i].id >= 140)
      continue;
    refs++;
    assert_int_equal(t[i].kind, KITH_KIND_REFERRAL);
    assert_false(t[i].priv);
    assert_true(kith_field_in_card(t[i].id));
  }
  assert_int_equal(refs, 8);
  assert_int_equal(kith_field_by_name(KITH_KIND_REFERRAL, "contact")->id, 120);
  assert_int_equal(kith_field_by_name(KITH_KIND_REFERRAL, "events")->id, 125);
  assert_int_equal(kith_field_by_name(KITH_KIND_REFERRAL, "thank_value")->id, 127);
  assert_string_equal(kith_kind_name(KITH_KIND_REFERRAL), "referral");
  assert_string_equal(kith_kind_name(KITH_KIND_MYCARD), "mycard");
  assert_int_equal(kith_kind_by_name("mycard"), KITH_KIND_MYCARD);

  assert_ptr_equal(kith_field_by_name(KITH_KIND_MYCARD, "email"),
                   kith_field_by_id(KITH_F_EMAILS));
  assert_ptr_equal(kith_field_by_name(KITH_KIND_MYCARD, "needs"),
                   kith_field_by_id(KITH_F_NEEDS));
  assert_null(kith_field_by_name(KITH_KIND_MYCARD, "tags"));
  assert_null(kith_field_by_name(KITH_KIND_MYCARD, "follow_up"));
  assert_null(kith_field_by_name(KITH_KIND_MYCARD, "last_contacted"));
  assert_null(kith_field_by_name(KITH_KIND_MYCARD, "met_at"));
  assert_null(kith_field_by_name(KITH_KIND_MYCARD, "events"));

  /* an event: [id, status, note]; the id and the status must be there */
  const struct kith_field *ev = kith_field_by_id(KITH_F_REF_EVENTS);
  const char *good[3] = {"00ff", "met", NULL}, *no_status[3] = {"00ff", NULL, "x"};
  const char *two[2] = {"00ff", "met"};
  struct kith_value *v = kith_value_new(3, good), *w = kith_value_new(3, no_status),
                    *x = kith_value_new(2, two);
  assert_rc(kith_value_check(ev, v), 0);
  assert_rc(kith_value_check(ev, w), KITH_EBADMSG);
  assert_rc(kith_value_check(ev, x), KITH_EBADMSG);
  uint8_t ent[16] = {1}, e1[16], e2[16];
  assert_rc(kith_elem_id(ent, ev, v, e1), 0); /* a set: one element per event id */
  assert_rc(kith_elem_id(ent, ev, w, e2), 0);
  assert_memory_equal(e1, e2, 16);
  kith_value_free(v);
  kith_value_free(w);
  kith_value_free(x);
}

/* ---- values -------------------------------------------------------------------- */

static void test_date_valid(void **state)
{
  (void)state;
  static const char *const ok[] = {
      "2024-02-29",
      "1999-12-31",
      "0001-01-01",
      "--12-25",
      "--02-29",
      "2024-01-01T10:30",
      "2024-01-01T10:30Z",
      "2024-01-01T10:30:15",
      "2024-01-01T10:30:15Z",
      "2024-01-01T10:30:15.123Z",
      "--06-01T08:00",
      "2000-02-29",
      "2023-04-30",
      "2024-01-01T23:59:59Z",
      "2024-01-01T00:00",
  };
  static const char *const bad[] = {
      "",
      "2024",
      "2024-01",
      "20240101",
      "2024-1-01",
      "2024-01-1",
      "24-01-01",
      "2024-13-01",
      "2024-00-10",
      "2024-01-00",
      "2024-01-32",
      "--13-01",
      "--00-01",
      "--01-32",
      "-01-01",
      "2024/01/01",
      "2024-01-01 ",
      " 2024-01-01",
      "2024-01-01Z",
      "2024-01-01T",
      "2024-01-01T10",
      "2024-01-01T1030",
      "2024-01-01T10:3",
      "2024-01-01T10:30:1",
      "2024-01-01T10:30Zx",
      "2024-01-01T10:30:15+01:00",
      "2024-01-01x",
      "abcd-ef-gh",
      /* real calendar dates only (model.h) */
      "2024-02-30",
      "2023-02-29",
      "1900-02-29",
      "2021-04-31",
      "--02-30",
      "--04-31",
      "2024-01-01T24:00",
      "2024-01-01T99:99",
      "2024-01-01T10:60",
      "2024-01-01T10:30:60",
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    if (!kith_date_valid(ok[i]))
      fail_msg("kith_date_valid(\"%s\") is false, want true", ok[i]);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (kith_date_valid(bad[i]))
      fail_msg("kith_date_valid(\"%s\") is true, want false", bad[i]);
}

static void check_value(uint8_t field, struct kith_value *v, int want)
{
  int rc = kith_value_check(F(field), v);
  if (rc != want)
    fail_msg("kith_value_check(field %d, [%s%s%s]) returned %d (%s), want %d (%s)",
             field, v->p[0] ? v->p[0] : "nil", v->n > 1 ? ", ..." : "", "", rc,
             kith_strerror(rc), want, kith_strerror(want));
  kith_value_free(v);
}

static void test_value_check(void **state)
{
  (void)state;
  check_value(KITH_F_NAME, val1("Ada Lovelace"), 0);
  check_value(KITH_F_NAME, val1(""), 0); /* text may be empty */
  check_value(KITH_F_NAME, val2("Ada", "x"), KITH_EBADMSG);
  check_value(KITH_F_NAME, val1(NULL), KITH_EBADMSG);
  check_value(KITH_F_NAME, val1("bad \xc3\x28"), KITH_EBADUTF8);
  check_value(KITH_F_BIRTHDAY, val1("--12-10"), 0);
  check_value(KITH_F_BIRTHDAY, val1("1815-12-10"), 0);
  check_value(KITH_F_BIRTHDAY, val1("10 Dec 1815"), KITH_EBADMSG);
  check_value(KITH_F_FOLLOW_UP, val1("2024-13-01"), KITH_EBADMSG);
  check_value(KITH_F_EMAILS, val2("ada@example.org", NULL), 0);
  check_value(KITH_F_EMAILS, val2("ada@example.org", "work"), 0);
  check_value(KITH_F_EMAILS, val2("", "work"), KITH_EBADMSG);
  check_value(KITH_F_EMAILS, val2(NULL, "work"), KITH_EBADMSG);
  check_value(KITH_F_EMAILS, val1("ada@example.org"), KITH_EBADMSG);
  check_value(KITH_F_TAGS, val1("vip"), 0);
  check_value(KITH_F_TAGS, val1(""), KITH_EBADMSG);
  check_value(KITH_F_X, val2("github", "ada"), 0);
  check_value(KITH_F_X, val2("", "ada"), KITH_EBADMSG);
  check_value(KITH_F_X, val2("github", NULL), KITH_EBADMSG);
  check_value(KITH_F_NOTE_CONTACT, val1("000102030405060708090a0b0c0d0e0f"), 0);
  check_value(KITH_F_NOTE_CONTACT, val1("000102030405060708090a0b0c0d0e0"),
              KITH_EBADMSG);
  check_value(KITH_F_NOTE_CONTACT, val1("zz0102030405060708090a0b0c0d0e0f"),
              KITH_EBADMSG);

  const char *none[KITH_ADDR_PARTS] = {0},
             *some[KITH_ADDR_PARTS] = {"work",   NULL, NULL, "1 Main St",
                                       "London", NULL, "N1", "UK"};
  struct kith_value *a = kith_value_new(KITH_ADDR_PARTS, none);
  check_value(KITH_F_ADDRESSES, a, 0);
  a = kith_value_new(KITH_ADDR_PARTS, some);
  check_value(KITH_F_ADDRESSES, a, 0);
  a = kith_value_new(KITH_ADDR_PARTS - 1, some);
  check_value(KITH_F_ADDRESSES, a, KITH_EBADMSG);

  /* sizes: tags up to KITH_TAG_MAX bytes, text up to 64 KiB, a note's text 1 MiB */
  char *big = malloc(KITH_VALUE_MAX_BYTES + 2);
  assert_non_null(big);
  memset(big, 'a', KITH_VALUE_MAX_BYTES + 1);
  big[KITH_TAG_MAX] = 0;
  check_value(KITH_F_TAGS, val1(big), 0);
  big[KITH_TAG_MAX] = 'a';
  big[KITH_TAG_MAX + 1] = 0;
  check_value(KITH_F_TAGS, val1(big), KITH_ETOOBIG);
  /* folding can grow a tag past the index's limit: 100 x "¼" (200 bytes) folds to
   * 100 x "1⁄4" (500 bytes) */
  char quarters[2 * 100 + 1] = "";
  for (int i = 0; i < 100; i++)
    memcpy(quarters + 2 * i, "\xc2\xbc", 3);
  check_value(KITH_F_TAGS, val1(quarters), KITH_ETOOBIG);
  quarters[2 * 40] = 0; /* 40 of them fold to 200 bytes: fine */
  check_value(KITH_F_TAGS, val1(quarters), 0);
  big[KITH_TAG_MAX + 1] = 'a';
  big[KITH_TEXT_FIELD_MAX] = 0;
  check_value(KITH_F_NAME, val1(big), 0);
  big[KITH_TEXT_FIELD_MAX] = 'a';
  big[KITH_TEXT_FIELD_MAX + 1] = 0;
  check_value(KITH_F_NAME, val1(big), KITH_ETOOBIG);
  check_value(KITH_F_NOTE_TEXT, val1(big), 0);
  big[KITH_TEXT_FIELD_MAX + 1] = 'a';
  big[KITH_VALUE_MAX_BYTES + 1] = 0;
  check_value(KITH_F_NOTE_TEXT, val1(big), KITH_ETOOBIG);
  free(big);
}

/* ---- element ids ----------------------------------------------------------------- */

static void elem(const uint8_t ent[16], uint8_t field, struct kith_value *v,
                 uint8_t out[16])
{
  assert_rc(kith_elem_id(ent, F(field), v, out), 0);
  kith_value_free(v);
}

static void test_elem_id(void **state)
{
  (void)state;
  uint8_t r1[16] = {1}, r2[16] = {2}, a[16], b[16];
  /* e-mails: case does not matter, the kind is not part of the key */
  elem(r1, KITH_F_EMAILS, val2("Zoe@Example.com", NULL), a);
  elem(r1, KITH_F_EMAILS, val2("zoe@example.com", "work"), b);
  assert_memory_equal(a, b, 16);
  /* another record: another id, so tombstones do not link records */
  elem(r2, KITH_F_EMAILS, val2("zoe@example.com", NULL), b);
  assert_memory_not_equal(a, b, 16);
  /* the same text in another field: another id */
  elem(r1, KITH_F_LINKS, val2("zoe@example.com", NULL), b);
  assert_memory_not_equal(a, b, 16);
  /* phones: only the digits and a leading + count */
  elem(r1, KITH_F_PHONES, val2("+44 20 7946", NULL), a);
  elem(r1, KITH_F_PHONES, val2("+442079 46", "cell"), b);
  assert_memory_equal(a, b, 16);
  elem(r1, KITH_F_PHONES, val2("(+44) 20-7946", NULL), b);
  assert_memory_equal(a, b, 16); /* the first kept character is the + */
  elem(r1, KITH_F_PHONES, val2("44 +20 7946", NULL), b);
  assert_memory_not_equal(a, b, 16); /* a + inside the number is dropped */
  elem(r1, KITH_F_PHONES, val2("442079 46", NULL), b);
  assert_memory_not_equal(a, b, 16);
  /* tags fold accents and case */
  elem(r1, KITH_F_TAGS, val1("Zo\xc3\xab"), a);
  elem(r1, KITH_F_TAGS, val1("ZOE"), b);
  assert_memory_equal(a, b, 16);
  /* links keep their case past the host */
  elem(r1, KITH_F_LINKS, val2("https://x.org/Ada", NULL), a);
  elem(r1, KITH_F_LINKS, val2("https://x.org/ada", NULL), b);
  assert_memory_not_equal(a, b, 16);
  /* x- fields are keyed by name: a new value replaces the old */
  elem(r1, KITH_F_X, val2("GitHub", "ada"), a);
  elem(r1, KITH_F_X, val2("github", "lovelace"), b);
  assert_memory_equal(a, b, 16);
  /* addresses: every part but the kind, folded */
  const char *p1[8] = {"work", NULL, NULL, "1 Main St", "London", NULL, NULL, "UK"};
  const char *p2[8] = {"home", NULL, NULL, "1 MAIN ST", "london", NULL, NULL, "uk"};
  const char *p3[8] = {"work", NULL, NULL, "2 Main St", "London", NULL, NULL, "UK"};
  elem(r1, KITH_F_ADDRESSES, kith_value_new(8, p1), a);
  elem(r1, KITH_F_ADDRESSES, kith_value_new(8, p2), b);
  assert_memory_equal(a, b, 16);
  elem(r1, KITH_F_ADDRESSES, kith_value_new(8, p3), b);
  assert_memory_not_equal(a, b, 16);
  /* one-value fields have no elements */
  struct kith_value *v = val1("Ada");
  assert_rc(kith_elem_id(r1, F(KITH_F_NAME), v, a), KITH_EINVAL);
  kith_value_free(v);
}

static int id_cmp(const void *a, const void *b)
{
  return memcmp(a, b, 16);
}

static void test_random_id(void **state)
{
  (void)state;
  enum { N = 4096 };
  static uint8_t ids[N][16];
  static const uint8_t zero[16];
  for (int i = 0; i < N; i++) {
    kith_random_id(ids[i]);
    assert_memory_not_equal(ids[i], zero, 16);
  }
  qsort(ids, N, 16, id_cmp);
  for (int i = 1; i < N; i++)
    assert_memory_not_equal(ids[i - 1], ids[i], 16);
}

/* ---- writes on a store ------------------------------------------------------------
 */

/* The clock of a register's stamp (0 if absent): whether a write happened. */
static uint64_t stamp_of(kith_txn *t, const uint8_t id[16], uint8_t field,
                         const struct kith_value *v)
{
  struct kith_reg r = {0};
  uint8_t e[16];
  if (v)
    assert_rc(kith_elem_id(id, F(field), v, e), 0);
  int rc = kith_txn_get(t, id, field, v ? e : NULL, &r);
  if (rc == KITH_ENOTFOUND)
    return 0;
  assert_rc(rc, 0);
  kith_reg_clear(&r);
  return r.stamp.hlc;
}

/* The value of a one-value field, or NULL if absent or cleared; a copy. */
static char *text_of(kith_txn *t, const uint8_t id[16], uint8_t field)
{
  struct kith_reg r = {0};
  int rc = kith_txn_get(t, id, field, NULL, &r);
  if (rc == KITH_ENOTFOUND)
    return NULL;
  assert_rc(rc, 0);
  char *s = r.val && r.val->p[0] ? strdup(r.val->p[0]) : NULL;
  kith_reg_clear(&r);
  return s;
}

static bool elem_live(kith_txn *t, const uint8_t id[16], uint8_t field,
                      struct kith_value *v)
{
  uint8_t e[16];
  struct kith_reg r = {0};
  assert_rc(kith_elem_id(id, F(field), v, e), 0);
  int rc = kith_txn_get(t, id, field, e, &r);
  if (rc == KITH_ENOTFOUND)
    return false;
  assert_rc(rc, 0);
  bool live = kith_reg_live(&r);
  kith_reg_clear(&r);
  return live;
}

static void test_record_create_and_fields(void **state)
{
  (void)state;
  struct kt_store s;
  kt_store_new(&s);
  kith_txn *t = kt_begin(s.st, true);
  uint8_t id[16], id2[16] = {0xab, 0xcd};
  assert_rc(kith_record_create(t, KITH_KIND_CONTACT, false, id), 0);
  assert_rc(kith_record_create(t, KITH_KIND_CONTACT, true, id2), 0);
  assert_int_equal(id2[0], 0xab); /* use_id keeps the caller's id */
  assert_rc(kith_record_create(t, 0, false, id), KITH_EINVAL);
  assert_rc(kith_record_create(t, 99, false, id), KITH_EINVAL);

  struct kith_record *rec = NULL;
  assert_rc(kith_record_load(t, id, &rec), 0);
  assert_int_equal(rec->kind, KITH_KIND_CONTACT);
  assert_false(rec->deleted);
  assert_int_equal(rec->n, 1);
  kith_record_free(rec);

  struct kith_value *ada = val1("Ada"), *countess = val1("Countess");
  assert_rc(kith_field_set(t, id, F(KITH_F_NAME), ada), 0);
  char *got = text_of(t, id, KITH_F_NAME);
  assert_string_equal(got, "Ada");
  free(got);
  /* the same value again writes nothing */
  uint64_t before = stamp_of(t, id, KITH_F_NAME, NULL);
  assert_rc(kith_field_set(t, id, F(KITH_F_NAME), ada), 0);
  assert_int_equal(stamp_of(t, id, KITH_F_NAME, NULL), before);
  assert_rc(kith_field_set(t, id, F(KITH_F_NAME), countess), 0);
  uint64_t after = stamp_of(t, id, KITH_F_NAME, NULL);
  assert_true(after > before);
  /* clearing an absent field writes nothing; clearing a set one does */
  assert_rc(kith_field_set(t, id, F(KITH_F_ORG), NULL), 0);
  assert_int_equal(stamp_of(t, id, KITH_F_ORG, NULL), 0);
  assert_rc(kith_field_set(t, id, F(KITH_F_NAME), NULL), 0);
  assert_true(stamp_of(t, id, KITH_F_NAME, NULL) > after);
  assert_null(text_of(t, id, KITH_F_NAME));
  /* refusals */
  struct kith_value *bad = val1("not a date");
  assert_rc(kith_field_set(t, id, F(KITH_F_BIRTHDAY), bad), KITH_EBADMSG);
  assert_rc(kith_field_set(t, id, F(KITH_F_TAGS), ada), KITH_EINVAL);
  uint8_t nobody[16] = {0x77};
  assert_rc(kith_field_set(t, nobody, F(KITH_F_NAME), ada), KITH_ENOTFOUND);
  kt_commit(t);
  kith_value_free(ada);
  kith_value_free(countess);
  kith_value_free(bad);
  kt_store_free(&s);
}

static void test_sets(void **state)
{
  (void)state;
  struct kt_store s;
  kt_store_new(&s);
  kith_txn *t = kt_begin(s.st, true);
  uint8_t id[16];
  assert_rc(kith_record_create(t, KITH_KIND_CONTACT, false, id), 0);
  struct kith_value *vip = val1("vip"), *VIP = val1("VIP"), *friend = val1("friend");
  const struct kith_field *tags = F(KITH_F_TAGS);

  assert_rc(kith_set_add(t, id, tags, vip), 0);
  assert_true(elem_live(t, id, KITH_F_TAGS, vip));
  uint64_t before = stamp_of(t, id, KITH_F_TAGS, vip);
  assert_rc(kith_set_add(t, id, tags, vip), 0); /* present, same value: no-op */
  assert_int_equal(stamp_of(t, id, KITH_F_TAGS, vip), before);
  assert_rc(kith_set_add(t, id, tags, VIP), 0); /* same element, new spelling */
  assert_true(stamp_of(t, id, KITH_F_TAGS, vip) > before);
  assert_rc(kith_set_remove(t, id, tags, vip), 0); /* removes by key */
  assert_false(elem_live(t, id, KITH_F_TAGS, VIP));
  assert_rc(kith_set_remove(t, id, tags, vip), KITH_ENOTFOUND);
  assert_rc(kith_set_remove(t, id, tags, friend), KITH_ENOTFOUND);
  /* an element removed then added again is present again */
  assert_rc(kith_set_add(t, id, tags, vip), 0);
  assert_true(elem_live(t, id, KITH_F_TAGS, vip));
  /* sets only */
  assert_rc(kith_set_add(t, id, F(KITH_F_NAME), vip), KITH_EINVAL);
  assert_rc(kith_set_remove(t, id, F(KITH_F_NAME), vip), KITH_EINVAL);
  struct kith_value *empty = val1("");
  assert_rc(kith_set_add(t, id, tags, empty), KITH_EBADMSG);

  /* replace: {vip, friend} -> {friend, coffee} */
  struct kith_value *coffee = val1("coffee");
  assert_rc(kith_set_add(t, id, tags, friend), 0);
  uint8_t fe[16];
  struct kith_reg fr = {0};
  assert_rc(kith_elem_id(id, tags, friend, fe), 0);
  assert_rc(kith_txn_get(t, id, KITH_F_TAGS, fe, &fr), 0);
  struct kith_value *want[2] = {friend, coffee};
  assert_rc(kith_set_replace(t, id, tags, want, 2), 0);
  assert_false(elem_live(t, id, KITH_F_TAGS, vip));
  assert_true(elem_live(t, id, KITH_F_TAGS, friend));
  assert_true(elem_live(t, id, KITH_F_TAGS, coffee));
  struct kith_reg fr2 = {0};
  assert_rc(kith_txn_get(t, id, KITH_F_TAGS, fe, &fr2), 0);
  assert_int_equal(fr2.stamp.hlc, fr.stamp.hlc); /* a kept element is not rewritten */
  kith_reg_clear(&fr);
  kith_reg_clear(&fr2);
  /* replace with nothing empties the set */
  assert_rc(kith_set_replace(t, id, tags, NULL, 0), 0);
  assert_false(elem_live(t, id, KITH_F_TAGS, friend));
  assert_false(elem_live(t, id, KITH_F_TAGS, coffee));
  kt_commit(t);
  kith_value_free(vip);
  kith_value_free(VIP);
  kith_value_free(friend);
  kith_value_free(coffee);
  kith_value_free(empty);
  kt_store_free(&s);
}

static int count_cb(void *arg, const uint8_t id[16])
{
  (void)id;
  (*(int *)arg)++;
  return 0;
}

static void test_notes_and_delete(void **state)
{
  (void)state;
  struct kt_store s;
  kt_store_new(&s);
  kt_now_ms = 1700000000000ull; /* 2023-11-14T22:13:20Z */
  kith_txn *t = kt_begin(s.st, true);
  uint8_t c[16], other[16], n1[16], n2[16], n3[16];
  assert_rc(kith_record_create(t, KITH_KIND_CONTACT, false, c), 0);
  assert_rc(kith_record_create(t, KITH_KIND_CONTACT, false, other), 0);
  assert_rc(kith_note_create(t, c, "met at the meetup", n1), 0);
  char *day = text_of(t, c, KITH_F_LAST_CONTACTED);
  assert_string_equal(day, "2023-11-14");
  free(day);
  /* a later last_contacted is kept */
  struct kith_value *future = val1("2030-01-01");
  assert_rc(kith_field_set(t, c, F(KITH_F_LAST_CONTACTED), future), 0);
  assert_rc(kith_note_create(t, c, "coffee", n2), 0);
  day = text_of(t, c, KITH_F_LAST_CONTACTED);
  assert_string_equal(day, "2030-01-01");
  free(day);
  assert_rc(kith_note_create(t, other, "call", n3), 0);
  char *txt = text_of(t, n1, KITH_F_NOTE_TEXT);
  assert_string_equal(txt, "met at the meetup");
  free(txt);
  int count = 0;
  assert_rc(kith_notes_each(t, c, count_cb, &count), 0);
  assert_int_equal(count, 2);
  uint8_t nobody[16] = {0x55};
  assert_rc(kith_note_create(t, nobody, "x", n3), KITH_ENOTFOUND);
  assert_rc(kith_note_create(t, c, "bad \xff", n3), KITH_EBADUTF8);

  /* deleting the contact deletes its notes, not the other contact's */
  assert_rc(kith_record_delete(t, c), 0);
  struct kith_record *rec = NULL;
  assert_rc(kith_record_load(t, n1, &rec), 0);
  assert_true(rec->deleted);
  kith_record_free(rec);
  assert_rc(kith_record_load(t, n2, &rec), 0);
  assert_true(rec->deleted);
  kith_record_free(rec);
  count = 0;
  assert_rc(kith_notes_each(t, other, count_cb, &count), 0);
  assert_int_equal(count, 1);
  count = 0;
  assert_rc(kith_notes_each(t, c, count_cb, &count), 0);
  assert_int_equal(count, 0);
  /* a deleted record takes no more writes */
  assert_rc(kith_record_delete(t, c), KITH_EDELETED);
  assert_rc(kith_field_set(t, c, F(KITH_F_ORG), future), KITH_EDELETED);
  assert_rc(kith_set_add(t, c, F(KITH_F_TAGS), future), KITH_EDELETED);
  assert_rc(kith_note_create(t, c, "late", n3), KITH_EDELETED);
  assert_rc(kith_record_delete(t, nobody), KITH_ENOTFOUND);
  kt_commit(t);
  kith_value_free(future);
  kt_store_free(&s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_field_lookup),
      cmocka_unit_test(test_field_table_consistent),
      cmocka_unit_test(test_referral_and_card_fields),
      cmocka_unit_test(test_date_valid),
      cmocka_unit_test(test_value_check),
      cmocka_unit_test(test_elem_id),
      cmocka_unit_test(test_random_id),
      cmocka_unit_test(test_record_create_and_fields),
      cmocka_unit_test(test_sets),
      cmocka_unit_test(test_notes_and_delete),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
