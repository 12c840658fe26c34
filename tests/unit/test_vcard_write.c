/*
 * test_vcard_write.c — core/vcard.h, the writer: the exact bytes of a rich contact
 * (escaping of \ , ; and newlines, N and ORG components, kinds as TYPE, BDAY with
 * and without a year, UID from the id and from x "uid", notes, x fields under
 * their vCard names, X-NAME and X-KITH-X), folding at 75 octets without
 * splitting a UTF-8 character, and, over many random values, that every line is
 * at most 75 octets and unfolds and unescapes back to the value.
 */
#include "kith_test.h"

#include <jansson.h>

#include "core/vcard.h"
#include "proto/reg.h"

/* The card kith_vcard_write makes of the JSON text; the caller frees it. */
static char *card_of(const char *json)
{
  json_error_t err;
  json_t *c = json_loads(json, 0, &err);
  if (!c)
    fail_msg("bad test JSON at %d: %s", err.position, err.text);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  assert_rc(kith_vcard_write(f, c), 0);
  assert_int_equal(fclose(f), 0);
  json_decref(c);
  assert_int_equal(strlen(buf), len);
  return buf;
}

/* Every physical line ends in CRLF, holds at most 75 octets and whole UTF-8
 * characters. */
static void assert_lines_ok(const char *card)
{
  const char *p = card;
  while (*p) {
    const char *crlf = strstr(p, "\r\n");
    if (!crlf)
      fail_msg("line without CRLF: \"%s\"", p);
    size_t n = (size_t)(crlf - p);
    if (n > 75)
      fail_msg("line of %zu octets: \"%.*s\"", n, (int)n, p);
    if (memchr(p, '\n', n) || memchr(p, '\r', n))
      fail_msg("bare CR or LF in \"%.*s\"", (int)n, p);
    if (!kith_utf8_valid(p, n))
      fail_msg("line splits a UTF-8 character: \"%.*s\"", (int)n, p);
    p = crlf + 2;
  }
}

static void assert_card(const char *json, const char *want)
{
  char *got = card_of(json);
  if (strcmp(got, want) != 0) {
    size_t i = 0;
    while (got[i] && got[i] == want[i])
      i++;
    fail_msg("card differs at byte %zu\n--- got:\n%s\n--- want:\n%s", i, got, want);
  }
  assert_lines_ok(got);
  free(got);
}

#define PRODID "PRODID:-//kith//kith " KITH_VERSION "//EN\r\n"
#define A10 "aaaaaaaaaa"
#define B10 "bbbbbbbbbb"
#define EURO "\xe2\x82\xac" /* €, three octets */

static void test_rich_contact(void **state)
{
  (void)state;
  /* the second note: "NOTE:" and 69 'a' make 74 octets, so the three octets of
   * the € would end at 77: the fold comes before the €, not inside it */
  assert_card(
      "{\"id\": \"0123456789abcdef0123456789abcdef\","
      " \"name\": \"Ada, Countess; of \\\\ Lovelace\","
      " \"given_name\": \"Ada\", \"family_name\": \"King\","
      " \"middle_name\": \"Augusta\", \"name_prefix\": \"Hon.\", \"name_suffix\": null,"
      " \"nickname\": \"Enchantress of Numbers\","
      " \"org\": \"Analytical Engines, Ltd\", \"title\": \"Analyst\","
      " \"birthday\": \"1815-12-10\", \"met_at\": \"Royal Society\","
      " \"needs\": \"a lathe\", \"offers\": \"programs; notes\","
      " \"last_contacted\": \"2026-11-20\", \"follow_up\": \"2026-12-01T09:00Z\","
      " \"emails\": [\"ada@engine.example\", \"ada@home.example\"],"
      " \"phones\": [\"+44 20 7946 0018\", \"+44 20 7946 0019\"],"
      " \"addresses\": [{\"kind\": \"home\", \"po_box\": \"PO 7\","
      "   \"street\": \"12 St James's Square\\nFlat 2\", \"locality\": \"London\","
      "   \"code\": \"SW1Y 4JH\", \"country\": \"UK\"}, {\"street\": \"1 Main St\"}],"
      " \"links\": [\"https://ada.example/a,b\"],"
      " \"ims\": [\"xmpp:ada@jabber.example\"],"
      " \"tags\": [\"math\", \"vip, gold\"],"
      " \"kinds\": {\"emails\": {\"ada@engine.example\": \"work\"},"
      "   \"phones\": {\"+44 20 7946 0018\": \"cell\", \"+44 20 7946 0019\": \"home "
      "fax\"},"
      "   \"links\": {\"https://ada.example/a,b\": \"personal\"}},"
      " \"x\": {\"anniversary\": \"1835-07-08\", \"email\": \"other@example\","
      "   \"GitHub Handle\": \"a\\\"b\", \"github\": \"ada\", \"kith-needs\": \"q\","
      "   \"org-units\": \"Engines; Notes\", \"photo\": "
      "\"data:image/png;base64,iVBOR\","
      "   \"role\": \"Patron, Royal\"},"
      " \"created\": \"2026-11-01T10:00:00.000Z\","
      " \"updated\": \"2026-11-26T06:32:51.123Z\","
      " \"notes\": [{\"text\": \"Met at the Society.\\nTalked about engines, cards; "
      "looms.\"},"
      "   {\"text\": \"" A10 A10 A10 A10 A10 A10
      "aaaaaaaaa" EURO B10 B10 B10 B10 B10 B10 B10 B10 "\"}]}",
      "BEGIN:VCARD\r\n"
      "VERSION:4.0\r\n" PRODID "UID:urn:uuid:01234567-89ab-cdef-0123-456789abcdef\r\n"
      "FN:Ada\\, Countess\\; of \\\\ Lovelace\r\n"
      "N:King;Ada;Augusta;Hon.;\r\n"
      "NICKNAME:Enchantress of Numbers\r\n"
      "ORG:Analytical Engines\\, Ltd;Engines;Notes\r\n"
      "TITLE:Analyst\r\n"
      "BDAY:18151210\r\n"
      "EMAIL;TYPE=work:ada@engine.example\r\n"
      "EMAIL:ada@home.example\r\n"
      "TEL;VALUE=text;TYPE=cell:+44 20 7946 0018\r\n"
      "TEL;VALUE=text;TYPE=home,fax:+44 20 7946 0019\r\n"
      "ADR;TYPE=home:PO 7;;12 St James's Square\\nFlat 2;London;;SW1Y 4JH;UK\r\n"
      "ADR:;;1 Main St;;;;\r\n"
      "URL;TYPE=personal:https://ada.example/a,b\r\n"
      "IMPP:xmpp:ada@jabber.example\r\n"
      "CATEGORIES:math,vip\\, gold\r\n"
      "NOTE:Met at the Society.\\nTalked about engines\\, cards\\; looms.\r\n"
      "NOTE:" A10 A10 A10 A10 A10 A10 "aaaaaaaaa\r\n"
      " " EURO B10 B10 B10 B10 B10 B10 B10 "b\r\n"
      " bbbbbbbbb\r\n"
      "X-KITH-MET-AT:Royal Society\r\n"
      "X-KITH-NEEDS:a lathe\r\n"
      "X-KITH-OFFERS:programs\\; notes\r\n"
      "X-KITH-LAST-CONTACTED:2026-11-20\r\n"
      "X-KITH-FOLLOW-UP:2026-12-01T09:00Z\r\n"
      "ANNIVERSARY:18350708\r\n"
      "X-KITH-X;X-NAME=email:other@example\r\n"
      "X-KITH-X;X-NAME=\"GitHub Handle\":a\"b\r\n"
      "X-GITHUB:ada\r\n"
      "X-KITH-X;X-NAME=kith-needs:q\r\n"
      "PHOTO:data:image/png;base64,iVBOR\r\n"
      "ROLE:Patron\\, Royal\r\n"
      "REV:20261126T063251Z\r\n"
      "END:VCARD\r\n");
}

static void test_uid_and_birthday_forms(void **state)
{
  (void)state;
  /* x "uid" (a card imported with its UID) goes out as it came, unescaped (a
   * URI), and not again as an x field; a birthday without a year */
  assert_card("{\"id\": \"00000000000000000000000000000001\", \"name\": \"Bob\","
              " \"birthday\": \"--03-22\", \"emails\": [], \"phones\": [],"
              " \"org\": null, \"title\": null, \"tags\": [],"
              " \"x\": {\"uid\": \"urn:uuid:abc;1,2\"},"
              " \"created\": \"2026-01-02T03:04:05.000Z\","
              " \"updated\": \"2026-01-02T03:04:05.000Z\", \"notes\": []}",
              "BEGIN:VCARD\r\n"
              "VERSION:4.0\r\n" PRODID "UID:urn:uuid:abc;1,2\r\n"
              "FN:Bob\r\n"
              "BDAY:--0322\r\n"
              "REV:20260102T030405Z\r\n"
              "END:VCARD\r\n");
  /* a birthday with a time; no id (my card): no UID; never updated: no REV */
  assert_card("{\"name\": \"Cy\", \"birthday\": \"1980-03-22T10:30:15.5Z\","
              " \"updated\": null}",
              "BEGIN:VCARD\r\n"
              "VERSION:4.0\r\n" PRODID "FN:Cy\r\n"
              "BDAY:19800322T103015Z\r\n"
              "END:VCARD\r\n");
  /* a birthday kith would not take (from an old store) goes out as text; an x
   * date that is not a date stays text */
  assert_card("{\"name\": \"Di\", \"birthday\": \"1972-31-01\","
              " \"x\": {\"anniversary\": \"spring, 1990\"}}",
              "BEGIN:VCARD\r\n"
              "VERSION:4.0\r\n" PRODID "FN:Di\r\n"
              "BDAY;VALUE=text:1972-31-01\r\n"
              "ANNIVERSARY:spring\\, 1990\r\n"
              "END:VCARD\r\n");
}

static void test_controls_and_params(void **state)
{
  (void)state;
  /* CR LF, CRLF and CR are each one \n; other controls have no place in a line;
   * kinds that are not tokens are quoted, with RFC 6868 for the quote; x names
   * with upper case or other characters go under X-KITH-X */
  assert_card(
      "{\"name\": \"A\\u0001B\\r\\nC\\rD\\nE\\tF\","
      " \"emails\": [\"a@x\", \"b@x\"],"
      " \"kinds\": {\"emails\": {\"a@x\": \"my,kind\", \"b@x\": \"a\\\"b x^y\"}},"
      " \"x\": {\"ORCID\": \"0000\", \"x-y\": \"v\", \"caf\\u00e9\": \"w\"}}",
      "BEGIN:VCARD\r\n"
      "VERSION:4.0\r\n" PRODID "FN:AB\\nC\\nD\\nE\tF\r\n"
      "EMAIL;TYPE=\"my,kind\":a@x\r\n"
      "EMAIL;TYPE=\"a^'b\",\"x^^y\":b@x\r\n"
      "X-KITH-X;X-NAME=ORCID:0000\r\n"
      "X-X-Y:v\r\n"
      "X-KITH-X;X-NAME=\"caf\xc3\xa9\":w\r\n"
      "END:VCARD\r\n");
}

/* A fold must also come before a 4-octet character and after a 2-octet one that
 * ends exactly at octet 75, and a long parameter folds like a value. */
static void test_fold_boundaries(void **state)
{
  (void)state;
  /* "FN:" + 71 'a' = 74 octets; é (2) would end at 76 */
  assert_card("{\"name\": \"" A10 A10 A10 A10 A10 A10 A10 "a\\u00e9z\"}",
              "BEGIN:VCARD\r\n"
              "VERSION:4.0\r\n" PRODID "FN:" A10 A10 A10 A10 A10 A10 A10 "a\r\n"
              " \xc3\xa9z\r\n"
              "END:VCARD\r\n");
  /* "FN:" + 70 'a' = 73 octets; é ends at 75 exactly: no fold before it */
  assert_card("{\"name\": \"" A10 A10 A10 A10 A10 A10 A10 "\\u00e9z\"}",
              "BEGIN:VCARD\r\n"
              "VERSION:4.0\r\n" PRODID "FN:" A10 A10 A10 A10 A10 A10 A10 "\xc3\xa9\r\n"
              " z\r\n"
              "END:VCARD\r\n");
  /* 😀 is four octets: "FN:" + 70 'a' = 73, it would end at 77 */
  assert_card("{\"name\": \"" A10 A10 A10 A10 A10 A10 A10 "\\ud83d\\ude00\"}",
              "BEGIN:VCARD\r\n"
              "VERSION:4.0\r\n" PRODID "FN:" A10 A10 A10 A10 A10 A10 A10 "\r\n"
              " \xf0\x9f\x98\x80\r\n"
              "END:VCARD\r\n");
}

/* Unfolds (CRLF + space removed) and unescapes the value of the first line that
 * starts with prop; the caller frees it. */
static char *read_back(const char *card, const char *prop)
{
  char *flat = malloc(strlen(card) + 1), *out = NULL;
  size_t k = 0;
  assert_non_null(flat);
  for (const char *p = card; *p; p++) {
    if (p[0] == '\r' && p[1] == '\n' && p[2] == ' ') {
      p += 2;
      continue;
    }
    flat[k++] = *p;
  }
  flat[k] = 0;
  char *line = strstr(flat, prop);
  assert_non_null(line);
  line += strlen(prop);
  char *end = strstr(line, "\r\n");
  assert_non_null(end);
  out = malloc((size_t)(end - line) + 1);
  assert_non_null(out);
  k = 0;
  for (char *p = line; p < end; p++) {
    if (*p == '\\' && p + 1 < end) {
      p++;
      out[k++] = *p == 'n' ? '\n' : *p;
    } else {
      out[k++] = *p;
    }
  }
  out[k] = 0;
  free(flat);
  return out;
}

/* Random text of ASCII, escapes and 2-, 3- and 4-octet characters: every line
 * stays within 75 octets and whole characters, and the NOTE reads back. */
static void test_random_lines(void **state)
{
  (void)state;
  static const char *const atoms[] = {
      "a", " ", ",", ";", "\\", "\n", "\xc3\xa9", EURO, "\xf0\x9f\x98\x80", "Z"};
  uint32_t seed = 12345;
  for (int round = 0; round < 2000; round++) {
    char text[2048];
    size_t n = 0;
    seed = seed * 1103515245u + 12345u;
    size_t atoms_n = (seed >> 8) % 300;
    for (size_t i = 0; i < atoms_n; i++) {
      seed = seed * 1103515245u + 12345u;
      const char *a = atoms[(seed >> 16) % 10];
      memcpy(text + n, a, strlen(a));
      n += strlen(a);
    }
    text[n] = 0;
    json_t *c = json_pack("{s:s, s:[{s:s}], s:{s:s}}", "name", "R", "notes", "text",
                          text, "x", "photo", text);
    assert_non_null(c);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_rc(kith_vcard_write(f, c), 0);
    assert_int_equal(fclose(f), 0);
    assert_lines_ok(buf);
    if (n > 0) { /* an empty note is no NOTE */
      char *back = read_back(buf, "\r\nNOTE:");
      if (strcmp(back, text) != 0)
        fail_msg("round %d: NOTE read back as \"%s\", want \"%s\"", round, back, text);
      free(back);
    }
    free(buf);
    json_decref(c);
  }
}

/* Text that is not UTF-8 (jansson and the store refuse it, but a caller could
 * build it) still ends, in lines of at most 75 octets. */
static void test_not_utf8_terminates(void **state)
{
  (void)state;
  char bad[200];
  memset(bad, 0x80, sizeof bad - 1);
  bad[sizeof bad - 1] = 0;
  json_t *c = json_object();
  json_object_set_new(c, "name", json_string_nocheck(bad));
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  assert_rc(kith_vcard_write(f, c), 0);
  assert_int_equal(fclose(f), 0);
  /* no character boundary to fold at: "FN:" alone, then 74 octets a line */
  const char *fn = strstr(buf, "FN:");
  assert_non_null(fn);
  assert_int_equal(strstr(fn, "\r\n") - fn, 3);
  assert_int_equal(strstr(fn + 5, "\r\n") - (fn + 5), 75);
  assert_int_equal(strstr(fn + 82, "\r\n") - (fn + 82), 75);
  assert_int_equal(strstr(fn + 159, "\r\n") - (fn + 159), 52);
  assert_string_equal(fn + 159 + 52, "\r\nEND:VCARD\r\n");
  free(buf);
  json_decref(c);
}

static void test_write_error(void **state)
{
  (void)state;
  FILE *f = fopen("/dev/full", "w");
  if (!f)
    skip();
  setvbuf(f, NULL, _IONBF, 0);
  json_t *c = json_pack("{s:s}", "name", "Ada");
  assert_rc(kith_vcard_write(f, c), KITH_EIO);
  json_decref(c);
  fclose(f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rich_contact),
      cmocka_unit_test(test_uid_and_birthday_forms),
      cmocka_unit_test(test_controls_and_params),
      cmocka_unit_test(test_fold_boundaries),
      cmocka_unit_test(test_random_lines),
      cmocka_unit_test(test_not_utf8_terminates),
      cmocka_unit_test(test_write_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
