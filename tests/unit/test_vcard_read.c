/*
 * test_vcard_read.c — core/vcard.h's reader: every vCard file of the shared corpus
 * (../shared/vectors/vcard) reads, and each contact it gives is accepted by
 * kith_json_import; the values ../shared/vectors/vcard/EXPECTED.md lists (sections
 * 1-10) come out exactly; line ends, folding, QP, charsets, parameters and escapes
 * written by hand; malformed input is noted at the right line and the other cards
 * are kept.
 */
#include "kith_test.h"

#include <iconv.h>
#include <jansson.h>
#include <time.h>

#include "core/json.h"
#include "core/model.h"
#include "core/vcard.h"

/* What a read gave: the contacts, the lines they start at, the notes. */
struct got {
  json_t *cards; /* [contact...] */
  json_t *lines; /* [line...] */
  json_t *skips; /* ["LINE: why"...] */
};

static int on_contact(void *arg, json_t *c, size_t line)
{
  struct got *g = arg;
  assert_int_equal(json_array_append(g->cards, c), 0);
  assert_int_equal(json_array_append_new(g->lines, json_integer((json_int_t)line)), 0);
  return 0;
}

static void on_skip(void *arg, size_t line, const char *why)
{
  struct got *g = arg;
  char s[320];
  snprintf(s, sizeof s, "%zu: %s", line, why);
  assert_int_equal(json_array_append_new(g->skips, json_string(s)), 0);
}

static void got_free(struct got *g)
{
  json_decref(g->cards);
  json_decref(g->lines);
  json_decref(g->skips);
}

static void read_buf(const char *buf, size_t len, struct got *g)
{
  g->cards = json_array();
  g->lines = json_array();
  g->skips = json_array();
  struct kith_import_sink sink = {on_contact, on_skip, g};
  assert_rc(kith_vcard_read(buf, len, &sink), 0);
}

static void read_str(const char *s, struct got *g)
{
  read_buf(s, strlen(s), g);
}

static char *load(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    fail_msg("cannot open %s", path);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  long n = ftell(f);
  assert_true(n >= 0);
  rewind(f);
  char *buf = malloc((size_t)n + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static void vector_path(const char *rel, char path[512])
{
  const char *shared = getenv("KITH_SHARED");
  if (!shared)
    fail_msg("KITH_SHARED is not set (ctest sets it to the shared folder)");
  snprintf(path, 512, "%s/vectors/vcard/%s", shared, rel);
}

static void read_vector(const char *rel, struct got *g)
{
  char path[512];
  size_t len;
  vector_path(rel, path);
  char *buf = load(path, &len);
  read_buf(buf, len, g);
  free(buf);
}

/* ---- looking at a contact ------------------------------------------------------ */

static void str_eq(const char *got, const char *want, const char *what,
                   const char *file, int line)
{
  if (got == want || (got && want && strcmp(got, want) == 0))
    return;
  print_error("%s:%d: %s is %s%s%s, expected %s%s%s\n", file, line, what,
              got ? "\"" : "", got ? got : "(none)", got ? "\"" : "", want ? "\"" : "",
              want ? want : "(none)", want ? "\"" : "");
  _fail(file, line);
}
#define assert_str(got, want) str_eq((got), (want), #got, __FILE__, __LINE__)

static const char *S(const json_t *c, const char *key)
{
  return json_string_value(json_object_get(c, key));
}

static const char *A(const json_t *c, const char *key, size_t i)
{
  return json_string_value(json_array_get(json_object_get(c, key), i));
}

static size_t NA(const json_t *c, const char *key)
{
  return json_array_size(json_object_get(c, key));
}

/* The kind of value in the set field key. */
static const char *K(const json_t *c, const char *key, const char *value)
{
  return json_string_value(
      json_object_get(json_object_get(json_object_get(c, "kinds"), key), value));
}

static const char *X(const json_t *c, const char *name)
{
  return json_string_value(json_object_get(json_object_get(c, "x"), name));
}

static const char *ADR(const json_t *c, size_t i, const char *part)
{
  return json_string_value(
      json_object_get(json_array_get(json_object_get(c, "addresses"), i), part));
}

static const char *NOTE(const json_t *c, size_t i)
{
  return json_string_value(
      json_object_get(json_array_get(json_object_get(c, "notes"), i), "text"));
}

static json_t *card(const struct got *g, size_t i)
{
  json_t *c = json_array_get(g->cards, i);
  if (!c)
    fail_msg("no card %zu (%zu read)", i, json_array_size(g->cards));
  return c;
}

static void assert_starts(const char *got, const char *want)
{
  if (!got || strncmp(got, want, strlen(want)) != 0)
    fail_msg("\"%.80s\" does not start with \"%s\"", got ? got : "(none)", want);
}

static void assert_count(const struct got *g, size_t want)
{
  if (json_array_size(g->cards) != want)
    fail_msg("%zu cards read, expected %zu", json_array_size(g->cards), want);
}

static void assert_skips(const struct got *g, const char *const *want, size_t n)
{
  size_t have = json_array_size(g->skips);
  for (size_t i = 0; i < have || i < n; i++) {
    const char *s = json_string_value(json_array_get(g->skips, i));
    const char *w = i < n ? want[i] : NULL;
    if (!s || !w || strcmp(s, w) != 0) {
      for (size_t j = 0; j < have; j++)
        print_error("note %zu: %s\n", j,
                    json_string_value(json_array_get(g->skips, j)));
      fail_msg("note %zu is \"%s\", expected \"%s\"", i, s ? s : "(none)",
               w ? w : "(none)");
    }
  }
}

/* The text repeated n times, joined by sep. */
static char *repeat(const char *text, int n, const char *sep)
{
  size_t cap = (strlen(text) + strlen(sep)) * (size_t)n + 1, at = 0;
  char *s = malloc(cap);
  assert_non_null(s);
  s[0] = 0;
  for (int i = 0; i < n; i++)
    at += (size_t)snprintf(s + at, cap - at, "%s%s", i ? sep : "", text);
  return s;
}

/* No string anywhere in v ends with a CR; every contact has a name. */
static void check_strings(const json_t *v, const char *file)
{
  if (json_is_string(v)) {
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n && s[n - 1] == '\r')
      fail_msg("%s: a value ends with a CR: \"%s\"", file, s);
  } else if (json_is_array(v)) {
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) check_strings(e, file);
  } else if (json_is_object(v)) {
    const char *k;
    json_t *e;
    json_object_foreach((json_t *)v, k, e) check_strings(e, file);
  }
}

/* Imports each contact into st, as `kith import` would. */
static void import_all(kith_store *st, const struct got *g, const char *what)
{
  size_t i;
  json_t *c;
  json_array_foreach(g->cards, i, c)
  {
    struct kith_import_stats stats;
    char err[256];
    const char *name = S(c, "name");
    if (!name || !*name)
      fail_msg("%s: card %zu has no name", what, i);
    check_strings(c, what);
    kith_txn *t = kt_begin(st, true);
    int rc = kith_json_import(t, c, &stats, err, sizeof err);
    if (rc) {
      char *dump = json_dumps(c, JSON_COMPACT);
      fail_msg("%s: card %zu is refused: %s (%s)\n%.2000s", what, i, err,
               kith_strerror(rc), dump);
    }
    assert_int_equal(stats.contacts_new, 1);
    assert_int_equal(stats.notes, NA(c, "notes"));
    kt_commit(t);
  }
}

/* ---- the whole corpus --------------------------------------------------------------
 */

static const struct {
  const char *file;
  size_t cards;
} counts[] = {
    {"ez-vcard/John_Doe_IPHONE.vcf", 1},
    {"ez-vcard/John_Doe_MS_OUTLOOK.vcf", 1},
    {"ez-vcard/John_Doe_ANDROID.vcf", 6},
    {"ez-vcard/John_Doe_EVOLUTION.vcf", 1},
    {"ez-vcard/gmail-list.vcf", 3},
    {"folkerkinzel-vcards/v4.vcf", 2},
    {"kcontacts/vcard10.vcf", 5},
    {"android-vcard/v21_multiple_entry.vcf", 3},
    {"thunderbird/export.vcf", 2},
    {"roundcube/utf-16_sample.vcf", 1},
    {"android-vcard/v21_nest.vcf", 1}, /* the nested cards are skipped */
    {"folkerkinzel-vcards/v3Utf16Bom.vcf", 2},
    {"folkerkinzel-vcards/v3.vcf", 2},
    {"kcontacts/vcard7.vcf", 0}, /* one card with nothing to name it by */
};

struct walk {
  kith_store *st;
  size_t files, cards, counted;
};

static void walk_dir(struct walk *w, const char *root, const char *rel)
{
  char dir[512];
  snprintf(dir, sizeof dir, "%s%s%s", root, *rel ? "/" : "", rel);
  DIR *d = opendir(dir);
  assert_non_null(d);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    char sub[512], path[600];
    if (e->d_name[0] == '.')
      continue;
    snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
    snprintf(path, sizeof path, "%s/%s", root, sub);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    if (S_ISDIR(sb.st_mode)) {
      walk_dir(w, root, sub);
      continue;
    }
    size_t n = strlen(sub);
    if (n < 4 || strcmp(sub + n - 4, ".vcf") != 0)
      continue;
    struct got g;
    read_vector(sub, &g);
    import_all(w->st, &g, sub);
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
      if (strcmp(counts[i].file, sub) == 0) {
        if (json_array_size(g.cards) != counts[i].cards)
          fail_msg("%s: %zu cards, expected %zu", sub, json_array_size(g.cards),
                   counts[i].cards);
        w->counted++;
      }
    w->files++;
    w->cards += json_array_size(g.cards);
    got_free(&g);
  }
  closedir(d);
}

static void test_corpus(void **state)
{
  (void)state;
  struct kt_store s;
  char root[512];
  kt_store_new(&s);
  vector_path("", root);
  root[strlen(root) - 1] = 0; /* no trailing slash */
  struct walk w = {s.st, 0, 0, 0};
  walk_dir(&w, root, "");
  assert_true(w.files >= 70);
  assert_int_equal(w.counted, sizeof counts / sizeof counts[0]);
  assert_true(w.cards >= 85);
  kt_store_free(&s);
}

/* ---- EXPECTED.md, section by section
 * ------------------------------------------------- */

static void test_iphone(void **state) /* 1 */
{
  (void)state;
  struct got g;
  read_vector("ez-vcard/John_Doe_IPHONE.vcf", &g);
  assert_count(&g, 1);
  json_t *c = card(&g, 0);
  assert_str(S(c, "name"), "Mr. John Richter James Doe Sr.");
  assert_str(S(c, "family_name"), "Doe");
  assert_str(S(c, "given_name"), "John");
  assert_str(S(c, "middle_name"), "Richter James");
  assert_str(S(c, "name_prefix"), "Mr.");
  assert_str(S(c, "name_suffix"), "Sr.");
  assert_str(S(c, "nickname"), "Johny");
  assert_str(S(c, "org"), "IBM");
  assert_str(X(c, "org-units"), "Accounting");
  assert_str(S(c, "title"), "Money Counter");
  assert_int_equal(NA(c, "emails"), 1);
  assert_str(A(c, "emails", 0), "john.doe@ibm.com");
  assert_int_equal(NA(c, "phones"), 7);
  static const char *const phones[7][2] = {
      {"905-555-1234", "cell"},     {"905-666-1234", "home"},
      {"905-777-1234", "work"},     {"905-888-1234", "home fax"},
      {"905-999-1234", "work fax"}, {"905-111-1234", "pager"},
      {"905-222-1234", "assistant"}};
  for (size_t i = 0; i < 7; i++) {
    assert_str(A(c, "phones", i), phones[i][0]);
    assert_str(K(c, "phones", phones[i][0]), phones[i][1]);
  }
  assert_int_equal(NA(c, "links"), 1);
  assert_str(A(c, "links", 0), "http://www.ibm.com");
  assert_str(K(c, "links", "http://www.ibm.com"), "homepage");
  assert_int_equal(NA(c, "addresses"), 2);
  assert_str(ADR(c, 0, "kind"), "home");
  assert_str(ADR(c, 0, "street"), "Silicon Alley 5,");
  assert_str(ADR(c, 0, "locality"), "New York");
  assert_str(ADR(c, 0, "region"), "New York");
  assert_str(ADR(c, 0, "code"), "12345");
  assert_str(ADR(c, 0, "country"), "United States of America");
  assert_str(ADR(c, 1, "kind"), "work");
  assert_str(ADR(c, 1, "street"), "Street4\nBuilding 6\nFloor 8");
  assert_str(ADR(c, 1, "locality"), "New York");
  assert_str(ADR(c, 1, "region"), NULL);
  assert_str(ADR(c, 1, "code"), "12345");
  assert_str(ADR(c, 1, "country"), "USA");
  assert_str(S(c, "birthday"), "2012-06-06");
  const char *photo = X(c, "photo");
  assert_starts(photo, "data:image/jpeg;base64,/9j/");
  assert_int_equal(strlen(photo), strlen("data:image/jpeg;base64,") + 43376);
  assert_int_equal(json_array_size(g.skips), 0);
  got_free(&g);
}

static void test_outlook(void **state) /* 2 */
{
  (void)state;
  struct got g;
  read_vector("ez-vcard/John_Doe_MS_OUTLOOK.vcf", &g);
  assert_count(&g, 1);
  json_t *c = card(&g, 0);
  assert_str(S(c, "name"), "Mr. John Richter James Doe Sr.");
  assert_str(S(c, "family_name"), "Doe");
  assert_str(S(c, "given_name"), "John");
  assert_str(S(c, "middle_name"), "Richter,James"); /* 2.1: a comma is data */
  assert_str(S(c, "name_prefix"), "Mr.");
  assert_str(S(c, "name_suffix"), "Sr.");
  assert_str(S(c, "nickname"), "Johny");
  assert_str(S(c, "org"), "IBM");
  assert_str(X(c, "org-units"), "Accounting");
  assert_str(S(c, "title"), "Money Counter");
  assert_str(X(c, "role"), "Counting Money");
  assert_int_equal(NA(c, "emails"), 1);
  assert_str(A(c, "emails", 0), "john.doe@ibm.cm");
  assert_str(K(c, "emails", "john.doe@ibm.cm"), NULL); /* pref, internet: no kind */
  assert_int_equal(NA(c, "phones"), 2);
  assert_str(A(c, "phones", 0), "(905) 555-1234");
  assert_str(K(c, "phones", "(905) 555-1234"), "work");
  assert_str(A(c, "phones", 1), "(905) 666-1234");
  assert_str(K(c, "phones", "(905) 666-1234"), "home");
  assert_int_equal(NA(c, "ims"), 1);
  assert_str(A(c, "ims", 0), "johny5@aol.com");
  assert_str(A(c, "links", 0), "http://www.ibm.com");
  assert_str(K(c, "links", "http://www.ibm.com"), "work");
  assert_str(S(c, "birthday"), "1980-03-22");
  assert_str(X(c, "label"), "Cresent moon drive\r\nAlbaney, New York  12345");
  assert_str(X(c, "label-2"), "Silicon Alley 5,\r\nNew York, New York  12345");
  /* after the PHOTO and the blank line that ends it */
  assert_starts(X(c, "ms-ol-design"), "<card xmlns=");
  assert_str(X(c, "ms-manager"), "Big Blue");
  assert_str(X(c, "ms-assistant"), "Jenny");
  assert_starts(X(c, "photo"), "data:image/jpeg;base64,/9j/4AAQ");
  assert_int_equal(NA(c, "addresses"), 2);
  assert_str(ADR(c, 0, "street"), "Cresent moon drive");
  assert_starts(NOTE(c, 0), "THIS SOFTWARE IS PROVIDED BY GEORGE EL-HADDAD ''AS IS''");
  got_free(&g);
}

static void test_android(void **state) /* 3 */
{
  (void)state;
  struct got g;
  read_vector("ez-vcard/John_Doe_ANDROID.vcf", &g);
  assert_count(&g, 6);
  json_t *c = card(&g, 0);
  assert_str(S(c, "name"), "john.doe@company.com"); /* no FN, no N: the e-mail */
  assert_str(S(c, "family_name"), NULL);
  assert_str(A(c, "emails", 0), "john.doe@company.com");
  c = card(&g, 1);
  assert_str(S(c, "name"), "jane.doe@company.com");
  assert_str(A(c, "emails", 0), "jane.doe@company.com");

  c = card(&g, 2);
  assert_str(S(c, "name"), "Ñ Ñ Ñ Ñ Ñ ");
  assert_str(S(c, "family_name"), "Ñ Ñ Ñ Ñ ");
  assert_int_equal(NA(c, "phones"), 1);
  assert_str(A(c, "phones", 0), "123456789");
  assert_str(K(c, "phones", "123456789"), "cell");

  c = card(&g, 3);
  char *eleven = repeat("Ñ", 11, " ");
  assert_int_equal(strlen(eleven), 21 + 11); /* 21 characters, Ñ is 2 bytes */
  assert_str(S(c, "name"), eleven);
  assert_str(S(c, "family_name"), eleven);
  free(eleven);
  static const char *const ph4[4][2] = {{"123456", "cell"},
                                        {"234567", "home"},
                                        {"3456789", "cell"},
                                        {"45678901", "home"}};
  assert_int_equal(NA(c, "phones"), 4);
  for (size_t i = 0; i < 4; i++) {
    assert_str(A(c, "phones", i), ph4[i][0]);
    assert_str(K(c, "phones", ph4[i][0]), ph4[i][1]);
  }
  assert_int_equal(NA(c, "notes"), 2);
  assert_starts(NOTE(c, 0), "Ñ Ñ Ñ");

  c = card(&g, 4);
  assert_str(S(c, "name"), "Ñ Ñ Ñ Ñ ");
  assert_str(S(c, "family_name"), "Ñ Ñ ");
  assert_str(S(c, "given_name"), "Ñ Ñ Ñ ");
  assert_int_equal(NA(c, "emails"), 1);
  assert_str(A(c, "emails", 0), "bob@company.com");
  assert_str(K(c, "emails", "bob@company.com"), "work");
  char *fourteen = repeat("Ñ", 14, "");
  assert_str(X(c, "email-2"), fourteen); /* not an address: kept as text */
  free(fourteen);
  assert_int_equal(NA(c, "phones"), 3);
  assert_str(A(c, "phones", 2), "123456");
  char *twelve = repeat("Ñ", 12, "");
  assert_str(S(c, "org"), twelve);
  assert_str(X(c, "org-2"), twelve);
  free(twelve);
  assert_int_equal(NA(c, "links"), 2);
  assert_str(A(c, "links", 0), "www.company.com");
  assert_str(A(c, "links", 1), "http://www.company.com");
  assert_int_equal(NA(c, "tags"), 0);

  c = card(&g, 5);
  assert_str(S(c, "name"), "ÑÑÑÑ");
  assert_str(S(c, "family_name"), "ÑÑÑÑ");
  assert_str(A(c, "emails", 0), "henry@company.com");
  assert_str(A(c, "phones", 0), "55556666");
  assert_str(K(c, "phones", "55556666"), "cell");
  char *fortyfour = repeat("Ñ", 44, "");
  char bad[200];
  snprintf(bad, sizeof bad, "%s\xef\xbf\xbd", fortyfour); /* =80 -> U+FFFD */
  assert_str(S(c, "org"), fortyfour);
  assert_str(X(c, "org-2"), bad);
  assert_str(X(c, "org-3"), fortyfour);
  free(fortyfour);

  for (size_t i = 0; i < 6; i++) {
    c = card(&g, i);
    if (i == 4)
      continue;
    assert_int_equal(NA(c, "tags"), 1);
    assert_str(A(c, "tags", 0), "My Contacts");
  }
  static const char *const notes[] = {"44: EMAIL is not an address: kept as x-email-2",
                                      "52: PHOTO is not valid base64: skipped"};
  assert_skips(&g, notes, 2);
  got_free(&g);
}

static void test_evolution(void **state) /* 4 */
{
  (void)state;
  struct got g;
  read_vector("ez-vcard/John_Doe_EVOLUTION.vcf", &g);
  assert_count(&g, 1);
  json_t *c = card(&g, 0);
  assert_str(S(c, "name"), "Mr. John Richter, James Doe Sr.");
  assert_str(S(c, "family_name"), "Doe");
  assert_str(S(c, "given_name"), "John");
  assert_str(S(c, "middle_name"), "Richter, James");
  assert_str(S(c, "name_prefix"), "Mr.");
  assert_str(S(c, "name_suffix"), "Sr.");
  assert_str(S(c, "nickname"), "Johny");
  assert_int_equal(NA(c, "tags"), 1);
  assert_str(A(c, "tags", 0), "VIP");
  assert_str(S(c, "org"), "IBM");
  assert_str(X(c, "org-units"), "Accounting; Dungeon");
  assert_str(S(c, "title"), "Money Counter");
  assert_int_equal(NA(c, "emails"), 1);
  assert_str(A(c, "emails", 0), "john.doe@ibm.com");
  assert_str(K(c, "emails", "john.doe@ibm.com"), "work");
  assert_int_equal(NA(c, "phones"), 2);
  assert_str(K(c, "phones", "905-666-1234"), "cell");
  assert_str(K(c, "phones", "905-555-1234"), "work");
  assert_int_equal(NA(c, "ims"), 1);
  assert_str(A(c, "ims", 0), "johnny5@aol.com");
  assert_str(K(c, "ims", "johnny5@aol.com"), "home");
  assert_int_equal(NA(c, "links"), 1);
  assert_str(A(c, "links", 0), "http://www.ibm.com");
  assert_int_equal(NA(c, "addresses"), 1);
  assert_str(ADR(c, 0, "kind"), "home");
  assert_str(ADR(c, 0, "po_box"), "ASB-123");
  assert_str(ADR(c, 0, "ext"), NULL);
  assert_str(ADR(c, 0, "street"), "15 Crescent moon drive");
  assert_str(ADR(c, 0, "locality"), "Albaney");
  assert_str(ADR(c, 0, "region"), "New York");
  assert_str(ADR(c, 0, "code"), "12345");
  assert_str(ADR(c, 0, "country"), "United States of America");
  assert_str(S(c, "birthday"), "1980-03-22");
  assert_int_equal(NA(c, "notes"), 1);
  assert_starts(
      NOTE(c, 0),
      "THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS \"AS "
      "IS\" AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED "
      "TO, ");
  assert_non_null(strstr(NOTE(c, 0), "; LOSS OF USE"));
  got_free(&g);
}

static void test_gmail_list(void **state) /* 5 */
{
  (void)state;
  struct got g;
  static const char *const want[3][4] = {
      {"Arnold Smith", "Smith", "Arnold", "asmithk@gmail.com"},
      {"Chris Beatle", "Beatle", "Chris", "chrisy55d@yahoo.com"},
      {"Doug White", "White", "Doug", "dwhite@gmail.com"}};
  read_vector("ez-vcard/gmail-list.vcf", &g);
  assert_count(&g, 3);
  for (size_t i = 0; i < 3; i++) {
    json_t *c = card(&g, i);
    assert_str(S(c, "name"), want[i][0]);
    assert_str(S(c, "family_name"), want[i][1]);
    assert_str(S(c, "given_name"), want[i][2]);
    assert_int_equal(NA(c, "emails"), 1);
    assert_str(A(c, "emails", 0), want[i][3]);
    assert_int_equal(NA(c, "phones"), 0);
    assert_str(S(c, "org"), NULL);
  }
  got_free(&g);
}

static void test_cardbook_v4(void **state) /* 6 */
{
  (void)state;
  struct got g;
  read_vector("folkerkinzel-vcards/v4.vcf", &g);
  assert_count(&g, 2);
  json_t *c = card(&g, 0);
  assert_str(S(c, "name"), "Möhrke Gerda");
  assert_str(S(c, "family_name"), "Möhrke");
  assert_str(S(c, "given_name"), "Gerda");
  assert_str(S(c, "org"), "KiTa Öhrdingen");
  assert_int_equal(NA(c, "emails"), 1);
  assert_str(A(c, "emails", 0), "info@kinderland-blubblub.de");
  assert_str(K(c, "emails", "info@kinderland-blubblub.de"), "home");
  assert_int_equal(NA(c, "phones"), 2);
  assert_str(A(c, "phones", 0), "034441/ 2 22 67");
  assert_str(K(c, "phones", "034441/ 2 22 67"), "work");
  assert_str(A(c, "phones", 1), "034441/ 39 23 34");
  assert_str(K(c, "phones", "034441/ 39 23 34"), "fax");
  assert_str(A(c, "links", 0), "www.kinderland-ufftata.de");

  c = card(&g, 1);
  assert_str(S(c, "name"), "Dr. Max Horst Mustermann jr. Maxl SED");
  assert_str(S(c, "family_name"), "Mustermann");
  assert_str(S(c, "given_name"), "Max");
  assert_str(S(c, "middle_name"), "Horst");
  assert_str(S(c, "name_prefix"), "Dr.");
  assert_str(S(c, "name_suffix"), "jr.");
  assert_str(S(c, "nickname"), "Maxl");
  assert_str(S(c, "title"), "Gröfaz");
  assert_str(X(c, "role"), "Generalsekretär");
  assert_str(S(c, "org"), "SED");
  assert_str(X(c, "gender"), "M");
  assert_str(NOTE(c, 0), "Kommentar");
  assert_str(S(c, "birthday"), NULL); /* 19723101: month 31 */
  assert_str(X(c, "bday"), "19723101");
  static const char *const emails[4][2] = {{"privat@freenet.de", "home"},
                                           {"geschaeftlich@freenet.de", "work"},
                                           {"sonstige@freenet.de", "other"},
                                           {"nichts@wabbel.de", NULL}};
  assert_int_equal(NA(c, "emails"), 4);
  for (size_t i = 0; i < 4; i++) {
    assert_str(A(c, "emails", i), emails[i][0]);
    assert_str(K(c, "emails", emails[i][0]), emails[i][1]);
  }
  static const char *const phones[10][2] = {{"Privattelefon", "home"},
                                            {"Diensttelefon", "work"},
                                            {"Fax", "fax"},
                                            {"Fax privat", "home fax"},
                                            {"Fax geschäftlich", "work fax"},
                                            {"Festnetz", "main"},
                                            {"Mobil", "cell"},
                                            {"Pager", "pager"},
                                            {"sonstige", "other"},
                                            {"ohne", NULL}};
  assert_int_equal(NA(c, "phones"), 10);
  for (size_t i = 0; i < 10; i++) {
    assert_str(A(c, "phones", i), phones[i][0]);
    assert_str(K(c, "phones", phones[i][0]), phones[i][1]);
  }
  assert_int_equal(NA(c, "addresses"), 2);
  assert_str(ADR(c, 0, "kind"), "home");
  assert_str(ADR(c, 0, "street"), "Alte Str. 32");
  assert_str(ADR(c, 0, "code"), "06789");
  assert_str(ADR(c, 0, "locality"), "Entenhausen");
  assert_str(ADR(c, 0, "region"), "Sachsen-Anhalt");
  assert_str(ADR(c, 0, "country"), "Deutschland");
  assert_str(ADR(c, 1, "kind"), "work");
  assert_str(ADR(c, 1, "street"), "Geschäftsadresse 32");
  assert_str(ADR(c, 1, "locality"), "Entenhausen");
  assert_int_equal(NA(c, "links"), 3);
  assert_str(A(c, "links", 0), "www.business.de");
  assert_str(A(c, "links", 1), "www.privat.de");
  assert_str(A(c, "links", 2), "www.sonstige.de");
  assert_str(X(c, "abdate"), "20190707");
  assert_str(X(c, "abdate-label"), "Hochzeitstag");
  static const char *const notes[] = {
      "22: BDAY 19723101 is not a date: kept as x-bday"};
  assert_skips(&g, notes, 1);
  got_free(&g);
}

static void test_kcontacts_qp(void **state) /* 7 */
{
  (void)state;
  struct got g;
  read_vector("kcontacts/vcard10.vcf", &g);
  assert_count(&g, 5);
  json_t *c = card(&g, 0);
  assert_str(S(c, "name"), "Bike Shop"); /* no N, no FN: the org */
  assert_str(S(c, "org"), "Bike Shop");
  assert_str(ADR(c, 0, "kind"), "work");
  assert_str(ADR(c, 0, "street"), "DDDDDDDDDDDDDDD-Staße 2\n00000 DDDDDDDDDD");
  assert_str(NOTE(c, 0),
             "This one has a funny character at the end in the contact list");
  for (size_t i = 1; i <= 2; i++) {
    c = card(&g, i);
    assert_str(S(c, "name"), i == 1 ? "Field after Address broken"
                                    : "Field after Address not broken");
    assert_str(S(c, "given_name"), "Broken");
    assert_str(S(c, "family_name"), NULL);
    assert_str(ADR(c, 0, "kind"), "home");
    assert_str(ADR(c, 0, "street"), "AAAAAAA-AäAAAAA 11");
    assert_str(ADR(c, 0, "locality"), "Urt");
    assert_str(ADR(c, 0, "code"), "00000");
    assert_int_equal(NA(c, "links"), 1);
    assert_str(A(c, "links", 0), "http://some-webseite.com");
  }
  c = card(&g, 3);
  assert_str(S(c, "name"), "Dr. med. Surname Name");
  assert_str(S(c, "family_name"), "Name");
  assert_str(S(c, "given_name"), "Surname");
  assert_str(S(c, "name_prefix"), "Dr. med.");
  assert_str(S(c, "title"), "Facharzt für Allgemeinmedizin");
  const char *note = NOTE(c, 0);
  assert_starts(note, "Sprechzeiten:\nMo   8–12, 15–18\nDi     8–12\n");
  size_t lines = 1;
  for (const char *p = note; *p; p++)
    lines += *p == '\n';
  assert_int_equal(lines, 6);
  c = card(&g, 4);
  assert_str(S(c, "name"), "Second Doctor");
  assert_str(S(c, "family_name"), "Doctor");
  assert_str(S(c, "given_name"), "Second");
  assert_str(S(c, "org"), NULL); /* ORG: is empty */
  assert_str(S(c, "title"), "Dentist");
  assert_str(ADR(c, 0, "street"), "DDDDDDDDDDDstraße 26\n00000 DDDDDDDDDDDDDDDDD");
  for (size_t i = 0; i < 5; i++) {
    assert_int_equal(NA(card(&g, i), "emails"), 0);
    assert_int_equal(NA(card(&g, i), "phones"), 0);
  }
  assert_int_equal(json_array_size(g.skips), 0);
  got_free(&g);
}

static void test_shift_jis(void **state) /* 8 */
{
  (void)state;
  struct got g;
  static const char *const names[3] = {"安藤ロイド3", "安藤ロイド4", "安藤ロイド5"};
  static const char *const sounds[3] = {"ｱﾝﾄﾞｳﾛｲﾄﾞ3", "ｱﾝﾄﾞｳﾛｲﾄﾞ4", "ｱﾝﾄﾞｳﾛｲﾄﾞ5"};
  static const char *const phones[3][4] = {
      {"9", "10", "11", "12"}, {"13", "14", "15", "16"}, {"17", "18", "19", "20"}};
  read_vector("android-vcard/v21_multiple_entry.vcf", &g);
  assert_count(&g, 3);
  for (size_t i = 0; i < 3; i++) {
    json_t *c = card(&g, i);
    assert_str(S(c, "name"), names[i]);
    assert_str(S(c, "family_name"), names[i]);
    assert_str(X(c, "sound"), sounds[i]);
    assert_int_equal(NA(c, "phones"), 4);
    for (size_t j = 0; j < 4; j++)
      assert_str(A(c, "phones", j), phones[i][j]);
  }
  assert_str(K(card(&g, 0), "phones", "12"), "home fax");
  assert_str(K(card(&g, 1), "phones", "13"), "modem");
  assert_str(K(card(&g, 1), "phones", "14"), "pager");
  assert_int_equal(json_integer_value(json_array_get(g.lines, 2)), 23);
  got_free(&g);
}

static void test_thunderbird(void **state) /* 9 */
{
  (void)state;
  struct got g;
  read_vector("thunderbird/export.vcf", &g);
  assert_count(&g, 2);
  json_t *c = card(&g, 0);
  assert_str(S(c, "name"), "contact number one");
  assert_str(S(c, "family_name"), "one");
  assert_str(S(c, "given_name"), "contact");
  assert_str(A(c, "emails", 0), "contact1@invalid");
  c = card(&g, 1);
  assert_str(S(c, "name"), "contact number two");
  assert_str(S(c, "family_name"), "two");
  assert_str(S(c, "given_name"), "contact");
  assert_str(A(c, "emails", 0), "contact2@invalid");
  assert_str(S(c, "title"), "\"worker\"");
  assert_str(NOTE(c, 0), "here's some unicode text…");
  assert_str(X(c, "custom1"), "custom, 1");
  assert_str(X(c, "custom2"), "custom\t2");
  assert_str(X(c, "custom3"), "custom\r3"); /* a bare CR is data */
  assert_str(X(c, "custom4"), "custom\n4");
  assert_str(X(c, "uid"), "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy");
  assert_int_equal(json_array_size(g.skips), 0);
  got_free(&g);
}

static void test_utf16be_no_bom(void **state) /* 10 */
{
  (void)state;
  struct got g;
  read_vector("roundcube/utf-16_sample.vcf", &g);
  assert_count(&g, 1);
  json_t *c = card(&g, 0);
  assert_str(S(c, "name"), "Ǽgean ĽdaMonté");
  assert_str(S(c, "family_name"), "ĽdaMonté");
  assert_str(S(c, "given_name"), "Ǽgean");
  assert_int_equal(NA(c, "addresses"), 1);
  assert_str(ADR(c, 0, "kind"), "work");
  assert_str(ADR(c, 0, "street"), "169 Mária Canal");
  assert_str(ADR(c, 0, "locality"), "LaPaz");
  assert_str(ADR(c, 0, "region"), "Conceptión");
  assert_str(ADR(c, 0, "code"), "245-876");
  assert_str(ADR(c, 0, "country"), "Perú");
  assert_int_equal(NA(c, "emails"), 0);
  assert_int_equal(NA(c, "phones"), 0);
  assert_str(S(c, "org"), NULL);
  got_free(&g);
}

/* ---- written by hand
 * ----------------------------------------------------------------- */

static char *to_utf16(const char *s, const char *cs, size_t *len)
{
  iconv_t cd = iconv_open(cs, "UTF-8");
  assert_true(cd != (iconv_t)-1);
  size_t in = strlen(s), cap = in * 4 + 4, out = cap;
  char *buf = malloc(cap), *ip = (char *)s, *op = buf;
  assert_non_null(buf);
  assert_true(iconv(cd, &ip, &in, &op, &out) != (size_t)-1);
  iconv_close(cd);
  *len = cap - out;
  return buf;
}

static void test_line_ends_and_encodings(void **state)
{
  (void)state;
  struct got g;
  const char *text = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Zoë Ångström\r\nEND:VCARD\r\n";
  static const char *const cs[] = {"UTF-16LE", "UTF-16BE",
                                   "UTF-16"}; /* "UTF-16": BOM */
  for (size_t i = 0; i < 3; i++) {
    size_t len;
    char *u = to_utf16(text, cs[i], &len);
    read_buf(u, len, &g);
    assert_count(&g, 1);
    assert_str(S(card(&g, 0), "name"), "Zoë Ångström");
    got_free(&g);
    free(u);
  }
  /* a UTF-8 BOM; CR CR LF; bare LF; CR only */
  read_str("\xef\xbb\xbf"
           "BEGIN:VCARD\r\r\nFN:Crcrlf\r\r\nTEL:1\r\r\nEND:VCARD\r\r\n"
           "BEGIN:VCARD\nFN:Lf\nEND:VCARD",
           &g);
  assert_count(&g, 2);
  assert_str(S(card(&g, 0), "name"), "Crcrlf");
  assert_str(A(card(&g, 0), "phones", 0), "1");
  assert_str(S(card(&g, 1), "name"), "Lf");
  assert_int_equal(json_integer_value(json_array_get(g.lines, 1)), 5);
  got_free(&g);
  read_str("BEGIN:VCARD\rFN:Old Mac\rNOTE:one\rEND:VCARD\r", &g);
  assert_count(&g, 1);
  assert_str(S(card(&g, 0), "name"), "Old Mac");
  assert_str(NOTE(card(&g, 0), 0), "one");
  got_free(&g);

  /* charsets: undeclared 8-bit (windows-1252), declared, declared UTF-8 broken,
   * unknown; a card's declared 8-bit charset is the guess for its undeclared text */
  read_str("BEGIN:VCARD\nVERSION:2.1\nFN:M\xfcller \x80\n"
           "NOTE;CHARSET=UTF-8:ok \xc3\n"
           "TITLE;CHARSET=us-ascii:Boss\n"
           "END:VCARD\n"
           "BEGIN:VCARD\nFN:\xc1\xe8\xde\xed\xe1\n"
           "N;CHARSET=ISO-8859-7:\xc1\xe8\xde\xed\xe1\nEND:VCARD\n"
           "BEGIN:VCARD\nFN:R\nROLE;CHARSET=no-such-charset:x\xe9y\nEND:VCARD\n",
           &g);
  assert_count(&g, 3);
  json_t *c = card(&g, 0);
  assert_str(S(c, "name"), "Müller €");
  assert_str(NOTE(c, 0), "ok \xef\xbf\xbd");
  assert_str(S(c, "title"), "Boss");
  c = card(&g, 1);
  assert_str(S(c, "name"), "Αθήνα");
  assert_str(S(c, "family_name"), "Αθήνα");
  c = card(&g, 2);
  assert_str(X(c, "role"), "xéy");
  static const char *const n1[] = {
      "13: ROLE: unknown CHARSET no-such-charset: read as windows-1252"};
  assert_skips(&g, n1, 1);
  got_free(&g);

  /* the card's declared 8-bit charset is the guess for its undeclared text */
  read_vector("folkerkinzel-vcards/Greek_cp1253.vcf", &g);
  assert_str(S(card(&g, 0), "family_name"), "Παπαθανασίου");
  got_free(&g);
}

static void test_folding_and_qp(void **state)
{
  (void)state;
  struct got g;
  read_str("BEGIN:VCARD\r\n"
           "VERSION:2.1\r\n"
           "FN:Fol\r\n ded\r\n\tName\r\n"
           "TEL;TY\r\n PE=HOME:12\r\n 3\r\n"
           "NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:a=C3=\r\n=A9b=\r\n\r\n=20c\r\n"
           "TITLE;QUOTED-PRINTABLE:end=\r\n"
           "\r\n"
           "ORG;ENCODING=QUOTED-PRINTABLE:x=3Dy=0D=0Az\r\n"
           "# a comment between properties\r\n"
           "X-A;ENCODING=QUOTED-PRINTABLE:line=\r\n# not a comment\r\n"
           "END:VCARD\r\n",
           &g);
  json_t *c = card(&g, 0);
  assert_str(S(c, "name"), "FoldedName");
  assert_str(A(c, "phones", 0), "123");
  assert_str(K(c, "phones", "123"), "home");
  assert_str(NOTE(c, 0), "aéb c");  /* a soft break across an empty line */
  assert_str(S(c, "title"), "end"); /* ... and one that ends before a property */
  assert_str(S(c, "org"), "x=y\r\nz");
  assert_str(X(c, "a"), "line# not a comment");
  assert_int_equal(json_array_size(g.skips), 0);
  got_free(&g);
}

static void test_params_and_escapes(void **state)
{
  (void)state;
  struct got g;
  read_str("begin:vcard\n"
           "n:Doe;Jane,Ann;;;\n"
           "fn:Jane Doe\n"
           "TEL;TYPE=\"cell,home\";X-P=\"a:b;c,d\";PREF=1:+1 555\n"
           "TEL;type=WORK;type=VOICE;VALUE=uri:tel:+1-555-0100\n"
           "EMAIL;TYPE=INTERNET,WORK: \"Omega\" <omega@example.com> \n"
           "EMAIL:MAILTO:m@example.org\n"
           "NOTE:a\\,b\\;c\\\\d\\ne\\Nf\\:g\\\"h\\qi\n"
           "CATEGORIES:a, b\\,c,,  d \n"
           "URL:http\\://x.example/\n"
           "X-FOO:1\n"
           "X-FOO:2\n"
           "TITLE:One\n"
           "TITLE:Two\n"
           "UID:urn:uuid:1234\n"
           "X-KITH-MET-AT:FOSDEM\n"
           "X-KITH-NEEDS:a job\n"
           "X-KITH-OFFERS:advice\n"
           "X-KITH-LAST-CONTACTED:20260102\n"
           "X-KITH-FOLLOW-UP:2026-03-01\n"
           "X-GENDER-IDENTITY:;\n"
           "GEO:geo:37.386013\\,-122.082932\n"
           "X-SOUND;X-IRMC-N:Ab;Cd;;;\n"
           "item1.TEL:555\n"
           "item1.X-ABLabel:_$!<Mobile>!$_\n"
           "ITEM2.EMAIL:o@example.com\n"
           "item2.X-ABLABEL:_$!<Other>!$_\n"
           "item3.ADR:;;1 Main St;Town;;;\n"
           "item3.X-ABLabel:Boat\n"
           "version:3.0\n"
           "end:vcard\n",
           &g);
  json_t *c = card(&g, 0);
  assert_str(S(c, "given_name"), "Jane Ann"); /* 3.0: VERSION comes last */
  assert_str(A(c, "phones", 0), "+1 555");
  assert_str(K(c, "phones", "+1 555"), "home cell");
  assert_str(A(c, "phones", 1), "+1-555-0100");
  assert_str(K(c, "phones", "+1-555-0100"), "work");
  assert_str(A(c, "phones", 2), "555");
  assert_str(K(c, "phones", "555"), "cell");
  assert_str(A(c, "emails", 0), "omega@example.com");
  assert_str(K(c, "emails", "omega@example.com"), "work");
  assert_str(A(c, "emails", 1), "m@example.org");
  assert_str(A(c, "emails", 2), "o@example.com");
  assert_str(K(c, "emails", "o@example.com"), "other");
  assert_str(NOTE(c, 0), "a,b;c\\d\ne\nf:g\"h\\qi");
  assert_int_equal(NA(c, "tags"), 3);
  assert_str(A(c, "tags", 0), "a");
  assert_str(A(c, "tags", 1), "b,c");
  assert_str(A(c, "tags", 2), "d");
  assert_str(A(c, "links", 0), "http://x.example/");
  assert_str(X(c, "foo"), "1");
  assert_str(X(c, "foo-2"), "2");
  assert_str(S(c, "title"), "One");
  assert_str(X(c, "title-2"), "Two");
  assert_str(X(c, "uid"), "urn:uuid:1234");
  assert_str(S(c, "met_at"), "FOSDEM");
  assert_str(S(c, "needs"), "a job");
  assert_str(S(c, "offers"), "advice");
  assert_str(S(c, "last_contacted"), "2026-01-02");
  assert_str(S(c, "follow_up"), "2026-03-01");
  assert_str(X(c, "gender-identity"), NULL); /* only empty parts */
  assert_str(X(c, "geo"), "geo:37.386013,-122.082932");
  assert_str(X(c, "sound"), "Ab;Cd");
  assert_str(ADR(c, 0, "kind"), "Boat");
  assert_str(ADR(c, 0, "street"), "1 Main St");
  assert_int_equal(json_array_size(g.skips), 0);
  got_free(&g);

  /* TYPE words kith has no name for are kept after the known ones; encodings,
   * pref, X- words and e-mail services are not kinds */
  read_str("BEGIN:VCARD\nVERSION:2.1\nFN:K\nTEL;TYPE=WhatsApp;TYPE=X-NEC-SECRET:1\n"
           "TEL;TYPE=assistant,work,pref:2\nEMAIL;AOL;INTERNET:k@example.com\n"
           "ADR;HOME;QUOTED-PRINTABLE;POSTAL:;;Stra=C3=9Fe 1;;;;\nEND:VCARD\n",
           &g);
  c = card(&g, 0);
  assert_str(K(c, "phones", "1"), "whatsapp");
  assert_str(K(c, "phones", "2"), "work assistant");
  assert_str(K(c, "emails", "k@example.com"), NULL);
  assert_str(ADR(c, 0, "kind"), "home");
  assert_str(ADR(c, 0, "street"), "Straße 1");
  got_free(&g);

  /* 2.1: a comma in N is data; bare parameters */
  read_str("BEGIN:VCARD\nVERSION:2.1\nN:Doe;Jane,Ann\nTEL;WORK;FAX:9\nEND:VCARD\n", &g);
  c = card(&g, 0);
  assert_str(S(c, "given_name"), "Jane,Ann");
  assert_str(S(c, "name"), "Jane,Ann Doe");
  assert_str(K(c, "phones", "9"), "work fax");
  got_free(&g);
}

static void test_dates(void **state)
{
  (void)state;
  static const char *const cases[][2] = {{"19800322", "1980-03-22"},
                                         {"1980-03-22", "1980-03-22"},
                                         {"1980-03-22T10:00:00Z", "1980-03-22"},
                                         {"19800322T000000", "1980-03-22"},
                                         {"--0203", "--02-03"},
                                         {"--02-03", "--02-03"},
                                         {"20000229", "2000-02-29"},
                                         {"--0229", "--02-29"},
                                         {"19000229", NULL},
                                         {"2023-02-29", NULL},
                                         {"19723101", NULL},
                                         {"circa 1800", NULL},
                                         {"1985", NULL},
                                         {"2023-13-01", NULL}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct got g;
    char text[200];
    snprintf(text, sizeof text, "BEGIN:VCARD\nFN:D\nBDAY:%s\nEND:VCARD\n", cases[i][0]);
    read_str(text, &g);
    json_t *c = card(&g, 0);
    assert_str(S(c, "birthday"), cases[i][1]);
    if (!cases[i][1]) {
      assert_str(X(c, "bday"), cases[i][0]);
      assert_int_equal(json_array_size(g.skips), 1);
    }
    got_free(&g);
  }
}

static void test_photos(void **state)
{
  (void)state;
  struct got g;
  /* 2.1: base64 lines not indented, ended by an empty line */
  read_str("BEGIN:VCARD\r\nVERSION:2.1\r\nFN:P\r\n"
           "PHOTO;ENCODING=BASE64;TYPE=PNG:iVBORw0K\r\n"
           "GgoAAAAN\r\n"
           "SUhEUg==\r\n"
           "\r\n"
           "TEL:1\r\n"
           "LOGO;ENCODING=b:R0lGODlh\r\n"
           "PHOTO;INLINE;JPG;ENCODING=BASE64:/9j/AA==\r\n"
           "END:VCARD\r\n",
           &g);
  json_t *c = card(&g, 0);
  assert_str(X(c, "photo"), "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==");
  assert_str(X(c, "logo"), "data:image/gif;base64,R0lGODlh");
  assert_str(X(c, "photo-2"), "data:image/jpeg;base64,/9j/AA==");
  assert_str(A(c, "phones", 0), "1");
  got_free(&g);

  read_str("BEGIN:VCARD\nVERSION:4.0\nFN:P\n"
           "PHOTO:data:image/jpeg;base64,/9j/4AAQ\n"
           "PHOTO;VALUE=uri:http://example.com/me.jpg\n"
           "PHOTO;ENCODING=b:not base64!\n"
           "END:VCARD\n",
           &g);
  c = card(&g, 0);
  assert_str(X(c, "photo"), "data:image/jpeg;base64,/9j/4AAQ");
  assert_str(X(c, "photo-2"), "http://example.com/me.jpg");
  static const char *const n1[] = {"6: PHOTO is not valid base64: skipped"};
  assert_skips(&g, n1, 1);
  got_free(&g);

  /* a photo over KITH_TEXT_FIELD_MAX is skipped; a big one under it is kept */
  for (int big = 0; big < 2; big++) {
    size_t n = big ? KITH_TEXT_FIELD_MAX : KITH_TEXT_FIELD_MAX - 100;
    n -= n % 4;
    char *text = malloc(n + 200);
    assert_non_null(text);
    size_t at = (size_t)snprintf(text, 200, "BEGIN:VCARD\nFN:Big\nPHOTO;ENCODING=b:");
    memset(text + at, 'A', n);
    snprintf(text + at + n, 200, "\nEND:VCARD\n");
    read_str(text, &g);
    c = card(&g, 0);
    if (big) {
      assert_str(X(c, "photo"), NULL);
      static const char *const n2[] = {
          "3: PHOTO too large (65536 bytes of base64): skipped"};
      assert_skips(&g, n2, 1);
    } else {
      assert_non_null(X(c, "photo"));
      assert_int_equal(strlen(X(c, "photo")),
                       n + strlen("data:application/octet-stream;base64,"));
    }
    struct kt_store s;
    kt_store_new(&s);
    import_all(s.st, &g, "big photo");
    kt_store_free(&s);
    got_free(&g);
    free(text);
  }
}

static void test_malformed(void **state)
{
  (void)state;
  struct got g;
  /* an empty file; only blank lines */
  read_str("", &g);
  assert_count(&g, 0);
  assert_int_equal(json_array_size(g.skips), 0);
  got_free(&g);
  read_str("\r\n\n  \n", &g);
  assert_count(&g, 0);
  assert_int_equal(json_array_size(g.skips), 0);
  got_free(&g);

  /* a truncated last card is passed, and noted */
  read_str(
      "BEGIN:VCARD\r\nFN:Alpha\r\nEND:VCARD\r\nBEGIN:VCARD\r\nFN:Beta\r\nTEL:1\r\n",
      &g);
  assert_count(&g, 2);
  assert_str(S(card(&g, 1), "name"), "Beta");
  static const char *const n1[] = {"4: no END:VCARD"};
  assert_skips(&g, n1, 1);
  got_free(&g);

  /* a card cut short by the next one */
  read_str("BEGIN:VCARD\nFN:A\nBEGIN:VCARD\nFN:B\nEND:VCARD\nBEGIN:VCARD\nFN:C\n"
           "END:VCARD\n",
           &g);
  assert_count(&g, 3);
  assert_str(S(card(&g, 0), "name"), "A");
  assert_str(S(card(&g, 1), "name"), "B");
  assert_str(S(card(&g, 2), "name"), "C");
  static const char *const n2[] = {"1: no END:VCARD"};
  assert_skips(&g, n2, 1);
  got_free(&g);

  /* garbage between cards; a line with no colon; a card with nothing to name it */
  read_str("BEGIN:VCARD\nFN:A\nEND:VCARD\n"
           "hello world\n"
           "more junk\n"
           "END:VCARD\n"
           "BEGIN:VCARD\nFN:B\nTHIS IS JUNK\nEMAIL:b@example.com\nEND:VCARD\n"
           "BEGIN:VCARD\nNOTE:who?\nEND:VCARD\n"
           "BEGIN:VCARD\nTEL:+1 555\nEND:VCARD\n"
           "BEGIN:VCARD\nN:;;;;\nORG:;Unit\nEND:VCARD\n",
           &g);
  assert_count(&g, 4);
  assert_str(S(card(&g, 0), "name"), "A");
  assert_str(S(card(&g, 1), "name"), "B");
  assert_str(A(card(&g, 1), "emails", 0), "b@example.com");
  assert_str(S(card(&g, 2), "name"), "+1 555");
  assert_str(S(card(&g, 3), "name"), "Unit");
  assert_int_equal(json_integer_value(json_array_get(g.lines, 1)), 7);
  static const char *const n3[] = {"4: text outside a card: ignored",
                                   "9: no colon: line ignored",
                                   "12: card with no name, e-mail or phone: skipped"};
  assert_skips(&g, n3, 3);
  got_free(&g);

  /* nested cards are skipped, the outer one read to its end */
  read_vector("android-vcard/v21_nest.vcf", &g);
  assert_count(&g, 1);
  assert_str(S(card(&g, 0), "name"), "parent");
  assert_str(A(card(&g, 0), "phones", 0), "1");
  static const char *const n4[] = {"4: nested card skipped", "8: nested card skipped"};
  assert_skips(&g, n4, 2);
  got_free(&g);

  /* binary junk, alone and inside a card, and its prefixes */
  unsigned char junk[4096];
  uint32_t x = 12345;
  for (size_t i = 0; i < sizeof junk; i++) {
    x = x * 1103515245u + 12345u;
    junk[i] = (unsigned char)(x >> 16);
  }
  for (size_t n = 0; n <= sizeof junk; n += 97) {
    read_buf((const char *)junk, n, &g);
    got_free(&g);
  }
  char *mixed = malloc(sizeof junk + 100);
  assert_non_null(mixed);
  size_t at = (size_t)snprintf(mixed, 100, "BEGIN:VCARD\nFN:Survivor\nNOTE:");
  for (size_t i = 0; i < sizeof junk; i++) /* no line in it can be an END:VCARD */
    mixed[at++] = junk[i] == 'E' || junk[i] == 'e' ? 'x' : (char)junk[i];
  at += (size_t)snprintf(mixed + at, 100,
                         "\nEND:VCARD\nBEGIN:VCARD\nFN:Next\nEND:VCARD\n");
  read_buf(mixed, at, &g);
  assert_count(&g, 2);
  assert_str(S(card(&g, 0), "name"), "Survivor");
  assert_str(S(card(&g, 1), "name"), "Next");
  struct kt_store s;
  kt_store_new(&s);
  import_all(s.st, &g, "junk");
  kt_store_free(&s);
  got_free(&g);
  free(mixed);
}

static void test_limits(void **state)
{
  (void)state;
  struct got g;
  size_t big = KITH_TEXT_FIELD_MAX + 1, at = 0;
  char *text = malloc(2 * big + KITH_TAG_MAX + 1000);
  assert_non_null(text);
  at += (size_t)snprintf(text, 100, "BEGIN:VCARD\nFN:L\nNOTE:");
  memset(text + at, 'n', big);
  at += big;
  at += (size_t)snprintf(text + at, 100, "\nNOTE:short\nCATEGORIES:ok,");
  memset(text + at, 't', KITH_TAG_MAX + 1);
  at += KITH_TAG_MAX + 1;
  at += (size_t)snprintf(text + at, 100, "\nX-BIG:");
  memset(text + at, 'x', big);
  at += big;
  at += (size_t)snprintf(text + at, 100, "\nEND:VCARD\n");
  read_buf(text, at, &g);
  json_t *c = card(&g, 0);
  assert_int_equal(NA(c, "notes"), 1);
  assert_str(NOTE(c, 0), "short");
  assert_int_equal(NA(c, "tags"), 1);
  assert_str(A(c, "tags", 0), "ok");
  assert_str(X(c, "big"), NULL);
  static const char *const notes[] = {
      "3: NOTE: too large (65537 bytes): dropped",
      "5: CATEGORIES: a tag over 200 bytes: dropped",
      "6: X-BIG: value too large (65537 bytes): dropped"};
  assert_skips(&g, notes, 3);
  struct kt_store s;
  kt_store_new(&s);
  import_all(s.st, &g, "limits");
  kt_store_free(&s);
  got_free(&g);
  free(text);
}

static int stop_at_second(void *arg, json_t *c, size_t line)
{
  (void)c, (void)line;
  return ++*(int *)arg == 2 ? KITH_EIO : 0;
}

static void test_sink_stops(void **state)
{
  (void)state;
  int seen = 0;
  struct kith_import_sink sink = {stop_at_second, NULL, &seen};
  const char *s = "BEGIN:VCARD\nFN:A\nEND:VCARD\nBEGIN:VCARD\nFN:B\nEND:VCARD\n"
                  "BEGIN:VCARD\nFN:C\nEND:VCARD\n";
  assert_rc(kith_vcard_read(s, strlen(s), &sink), KITH_EIO);
  assert_int_equal(seen, 2);
}

static int count_only(void *arg, json_t *c, size_t line)
{
  (void)c, (void)line;
  ++*(size_t *)arg;
  return 0;
}

/* 100,000 cards in one pass: how long it takes is printed, not asserted. */
static void test_many_cards(void **state)
{
  (void)state;
  size_t cap = 100000 * 260, at = 0, seen = 0;
  char *buf = malloc(cap);
  assert_non_null(buf);
  for (int i = 0; i < 100000; i++)
    at += (size_t)snprintf(buf + at, cap - at,
                           "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Person%d;Given;;;\r\n"
                           "FN:Given Person%d\r\nORG:Company %d;Unit\r\n"
                           "EMAIL;TYPE=INTERNET,WORK:p%d@example.com\r\n"
                           "TEL;TYPE=CELL:+1 555 %07d\r\nNOTE:met at a conf\\, 2024\r\n"
                           "CATEGORIES:friends,work\r\nEND:VCARD\r\n",
                           i, i, i, i, i);
  struct kith_import_sink sink = {count_only, NULL, &seen};
  struct timespec t0, t1;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
  assert_rc(kith_vcard_read(buf, at, &sink), 0);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
  assert_int_equal(seen, 100000);
  print_message("100000 cards (%zu MB) read in %.3f s of CPU\n", at >> 20,
                (double)(t1.tv_sec - t0.tv_sec) +
                    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
  free(buf);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_corpus),
      cmocka_unit_test(test_iphone),
      cmocka_unit_test(test_outlook),
      cmocka_unit_test(test_android),
      cmocka_unit_test(test_evolution),
      cmocka_unit_test(test_gmail_list),
      cmocka_unit_test(test_cardbook_v4),
      cmocka_unit_test(test_kcontacts_qp),
      cmocka_unit_test(test_shift_jis),
      cmocka_unit_test(test_thunderbird),
      cmocka_unit_test(test_utf16be_no_bom),
      cmocka_unit_test(test_line_ends_and_encodings),
      cmocka_unit_test(test_folding_and_qp),
      cmocka_unit_test(test_params_and_escapes),
      cmocka_unit_test(test_dates),
      cmocka_unit_test(test_photos),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_sink_stops),
      cmocka_unit_test(test_many_cards),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
