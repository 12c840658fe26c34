/*
 * test_csv.c — core/csv.h: the CSV files of the shared corpus give exactly what
 * EXPECTED.md says (sections 11 and 12) and the rest read; hand-written LinkedIn,
 * Google (current layout), generic and broken files; every contact a reader hands
 * over is accepted by kith_json_import; kith's CSV read back gives the contact
 * that was written; 100,000 rows read in well under a second.
 */
#include "kith_test.h"

#include <jansson.h>
#include <time.h>

#include "core/csv.h"
#include "core/json.h"
#include "core/model.h"

/* ---- a sink that keeps everything, and imports each contact ------------------- */

struct got {
  json_t *contacts; /* array */
  size_t lines[64];
  size_t skips;
  size_t skip_line[16];
  char skip_why[16][128];
  kith_store *st; /* each contact imported (then rolled back) when set */
  int stop_at;    /* return 1 from the nth contact (1-based); 0: never */
};

static int got_contact(void *arg, json_t *c, size_t line)
{
  struct got *g = arg;
  size_t n = json_array_size(g->contacts);
  if (n < 64)
    g->lines[n] = line;
  const char *name = json_string_value(json_object_get(c, "name"));
  if (!name || !*name)
    fail_msg("contact at line %zu has no name", line);
  if (g->st) {
    struct kith_import_stats stats;
    char err[256];
    kith_txn *t = kt_begin(g->st, true);
    int rc = kith_json_import(t, c, &stats, err, sizeof err);
    if (rc != 0) {
      char *s = json_dumps(c, JSON_COMPACT);
      fail_msg("kith_json_import refused line %zu: %s (%s)\n%s", line, err,
               kith_strerror(rc), s);
    }
    assert_int_equal(stats.contacts_new, 1);
    kith_txn_abort(t);
  }
  assert_int_equal(json_array_append(g->contacts, c), 0);
  return g->stop_at && (int)n + 1 == g->stop_at ? 1 : 0;
}

static void got_skip(void *arg, size_t line, const char *why)
{
  struct got *g = arg;
  if (g->skips < 16) {
    g->skip_line[g->skips] = line;
    snprintf(g->skip_why[g->skips], 128, "%s", why);
  }
  g->skips++;
}

static struct kt_store store; /* for the imports; made once */

static int setup(void **state)
{
  (void)state;
  kt_store_new(&store);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  kt_store_free(&store);
  return 0;
}

/* Reads text as CSV in layout, importing each contact; returns the code. */
static int read_csv(const char *text, size_t len, enum kith_csv_layout layout,
                    struct got *g)
{
  memset(g, 0, sizeof *g);
  g->contacts = json_array();
  g->st = store.st;
  struct kith_import_sink sink = {got_contact, got_skip, g};
  return kith_csv_read(text, len, layout, &sink);
}

static void got_free(struct got *g)
{
  json_decref(g->contacts);
  g->contacts = NULL;
}

/* Asserts that contact i is exactly the JSON want. */
static void assert_contact(struct got *g, size_t i, const char *want)
{
  json_error_t je;
  json_t *w = json_loads(want, 0, &je), *c = json_array_get(g->contacts, i);
  if (!w)
    fail_msg("bad JSON in the test: %s", je.text);
  if (!c || !json_equal(c, w)) {
    char *a = c ? json_dumps(c, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
    char *b = json_dumps(w, JSON_SORT_KEYS | JSON_COMPACT);
    fail_msg("contact %zu:\n got  %s\n want %s", i, a ? a : "(none)", b);
  }
  json_decref(w);
}

static const char *field(struct got *g, size_t i, const char *key)
{
  return json_string_value(json_object_get(json_array_get(g->contacts, i), key));
}

static void assert_str(const char *got, const char *want, const char *what)
{
  if (!got || strcmp(got, want) != 0)
    fail_msg("%s: got \"%s\", want \"%s\"", what, got ? got : "(null)", want);
}

static char *slurp(const char *rel, size_t *len)
{
  const char *shared = getenv("KITH_SHARED");
  char path[512];
  if (!shared)
    fail_msg("KITH_SHARED is not set (ctest sets it to the shared folder)");
  snprintf(path, sizeof path, "%s/vectors/vcard/%s", shared, rel);
  FILE *f = fopen(path, "rb");
  if (!f)
    fail_msg("cannot open %s", path);
  char *buf = malloc(1 << 20);
  assert_non_null(buf);
  *len = fread(buf, 1, 1 << 20, f);
  fclose(f);
  return buf;
}

static void read_vector(const char *rel, struct got *g)
{
  size_t len;
  char *buf = slurp(rel, &len);
  int rc = read_csv(buf, len, KITH_CSV_AUTO, g);
  if (rc != 0)
    fail_msg("%s: kith_csv_read returned %d (%s)", rel, rc, kith_strerror(rc));
  free(buf);
}

/* ---- the corpus ----------------------------------------------------------------- */

static void test_gmail_legacy(void **state)
{
  (void)state;
  struct got g;
  read_vector("roundcube/gmail.csv", &g);
  assert_int_equal(json_array_size(g.contacts), 1);
  assert_int_equal(g.lines[0], 2);
  assert_int_equal(g.skips, 0);
  assert_contact(
      &g, 0,
      "{\"name\": \"Prefix Firstname Middle Lastname Suffix\", \"given_name\": "
      "\"Firstname\", \"middle_name\": \"Middle\", \"family_name\": \"Lastname\","
      " \"name_prefix\": \"Prefix\", \"name_suffix\": \"Suffix\", \"nickname\": "
      "\"nick\","
      " \"birthday\": \"1975-12-12\", \"notes\": [{\"text\": \"note\\\"note\"}],"
      " \"tags\": [\"Test\"],"
      " \"emails\": [\"home@aaa.pl\", \"work@email.pl\", \"unknown@email.com\","
      "  \"other@email.com\"],"
      " \"phones\": [\"pager\", \"mainphone\", \"homephone\", \"homefax\", \"mobile\","
      "  \"workphone\", \"workfax\"],"
      " \"links\": [\"test.com\", \"home.page.com\"],"
      " \"kinds\": {\"emails\": {\"home@aaa.pl\": \"home\", \"work@email.pl\": "
      "\"work\","
      "   \"other@email.com\": \"other\"},"
      "  \"phones\": {\"pager\": \"pager\", \"mainphone\": \"main\", \"homephone\": "
      "\"home\","
      "   \"homefax\": \"home fax\", \"mobile\": \"mobile\", \"workphone\": \"work\","
      "   \"workfax\": \"work fax\"},"
      "  \"links\": {\"test.com\": \"profile\", \"home.page.com\": \"home page\"}},"
      " \"org\": \"company\", \"title\": \"jobtitle\","
      " \"addresses\": [{\"kind\": \"home\", \"street\": \"home_street\", \"po_box\": "
      "\"home_pobox\", \"locality\": \"home_city\", \"region\": \"home_state\","
      "   \"code\": \"home_zip\", \"country\": \"home_country\"},"
      "  {\"kind\": \"work\", \"street\": \"work_street\", \"locality\": \"work_city\","
      "   \"code\": \"work_zip\", \"country\": \"work_country\"}],"
      " \"x\": {\"spouse\": \"spouse\"}}");
  got_free(&g);
}

static void test_thunderbird_export(void **state)
{
  (void)state;
  struct got g;
  read_vector("thunderbird/export.csv", &g);
  assert_int_equal(json_array_size(g.contacts), 2);
  assert_int_equal(g.lines[0], 2);
  assert_int_equal(g.lines[1], 3);
  assert_int_equal(g.skips, 0);
  assert_contact(&g, 0,
                 "{\"name\": \"contact number one\", \"given_name\": \"contact\","
                 " \"family_name\": \"one\", \"emails\": [\"contact1@invalid\"]}");
  assert_contact(&g, 1,
                 "{\"name\": \"contact number two\", \"given_name\": \"contact\","
                 " \"family_name\": \"two\", \"emails\": [\"contact2@invalid\"],"
                 " \"title\": \"\\\"worker\\\"\","
                 " \"x\": {\"custom-1\": \"custom, 1\", \"custom-2\": \"custom\\t2\","
                 "  \"custom-3\": \"custom\\r3\", \"custom-4\": \"custom\\n4\"},"
                 " \"notes\": [{\"text\": \"here's some unicode text\\u2026\"}]}");
  got_free(&g);
}

static void test_outlook_2000(void **state)
{
  (void)state;
  struct got g;
  read_vector("project-open/outlook2000-contacts.csv", &g);
  assert_int_equal(json_array_size(g.contacts), 1);
  assert_int_equal(g.lines[0], 2);
  assert_str(field(&g, 0, "name"), "Frank Bergmann", "name");
  assert_str(field(&g, 0, "given_name"), "Frank", "given");
  assert_str(field(&g, 0, "family_name"), "Bergmann", "family");
  assert_str(field(&g, 0, "org"), "Project/Open", "org");
  assert_str(field(&g, 0, "title"), "Managing Director", "title"); /* Job Title */
  assert_null(field(&g, 0, "name_prefix"));                        /* Title "" */
  assert_null(field(&g, 0, "birthday"));                           /* 0/0/00 */
  json_t *c = json_array_get(g.contacts, 0);
  assert_int_equal(json_array_size(json_object_get(c, "emails")), 1);
  assert_str(json_string_value(json_array_get(json_object_get(c, "emails"), 0)),
             "frank.bergmann@project-open.com", "email");
  /* ISO-8859-1: "Antoní 51, 1º 2ª" */
  json_t *work = json_array_get(json_object_get(c, "addresses"), 0);
  assert_str(json_string_value(json_object_get(work, "street")),
             "Ronda Sant Anton\xc3\xad 51, 1\xc2\xb0 2\xc2\xaa", "street");
  assert_str(json_string_value(json_object_get(work, "kind")), "work", "address kind");
  assert_str(json_string_value(json_object_get(work, "locality")), "Barcelona", "city");
  /* the defaults Outlook writes are not data */
  assert_null(json_object_get(json_object_get(c, "x"), "gender"));
  assert_null(json_object_get(json_object_get(c, "x"), "anniversary"));
  got_free(&g);
}

static void test_thunderbird_utf16_and_quote(void **state)
{
  (void)state;
  struct got g;
  read_vector("thunderbird/utf16_addressbook.csv", &g);
  assert_int_equal(json_array_size(g.contacts), 1);
  assert_str(field(&g, 0, "name"), "John Doe", "name");
  assert_str(json_string_value(json_array_get(
                 json_object_get(json_array_get(g.contacts, 0), "emails"), 0)),
             "johndoe@host.invalid", "email");
  assert_int_equal(g.skips, 0); /* the trailing commas match */
  got_free(&g);

  read_vector("thunderbird/quote.csv", &g);
  assert_int_equal(json_array_size(g.contacts), 1);
  assert_contact(&g, 0,
                 "{\"name\": \"Acer America\", \"org\": \"Acer America\","
                 " \"phones\": [\"(800) 000-0000\"],"
                 " \"kinds\": {\"phones\": {\"(800) 000-0000\": \"work\"}}}");
  got_free(&g);
}

/* Every .csv in the corpus reads, and each contact imports. */
static size_t read_tree(const char *dir, const char *rel)
{
  char path[512], sub[512];
  size_t files = 0;
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  DIR *d = opendir(path);
  struct dirent *e;
  assert_non_null(d);
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
    size_t n = strlen(e->d_name);
    if (n > 4 && strcmp(e->d_name + n - 4, ".csv") == 0) {
      struct got g;
      read_vector(sub, &g);
      if (json_array_size(g.contacts) == 0)
        fail_msg("%s: no contacts", sub);
      got_free(&g);
      files++;
    } else if (!strchr(e->d_name, '.')) {
      char full[600];
      struct stat sb;
      snprintf(full, sizeof full, "%s/%s", dir, sub);
      if (stat(full, &sb) == 0 && S_ISDIR(sb.st_mode))
        files += read_tree(dir, sub);
    }
  }
  closedir(d);
  return files;
}

static void test_every_corpus_csv(void **state)
{
  (void)state;
  char dir[400];
  snprintf(dir, sizeof dir, "%s/vectors/vcard", getenv("KITH_SHARED"));
  assert_int_equal(read_tree(dir, ""), 5);
}

/* ---- hand-written files ------------------------------------------------------------
 */

static int read_str(const char *text, enum kith_csv_layout layout, struct got *g)
{
  return read_csv(text, strlen(text), layout, g);
}

static void test_linkedin(void **state)
{
  (void)state;
  static const char *const bodies[] = {
      "First Name,Last Name,URL,Email Address,Company,Position,Connected On\r\n"
      "Ada,Lovelace,https://www.linkedin.com/in/ada,,Analytical Engines,Countess,"
      "24 Aug 2023\r\n"
      "Grace,Hopper,https://www.linkedin.com/in/grace,grace@example.org,US Navy,"
      "\"Rear Admiral, Ret.\",01 Jan 2020\r\n",
      "Notes:\r\n"
      "\"When exporting your connection data, you may notice that some of the email "
      "addresses are missing. You will only see email addresses for connections who "
      "have allowed their connections to see or download their email address.\"\r\n"
      "\r\n"
      "First Name,Last Name,URL,Email Address,Company,Position,Connected On\r\n"
      "Ada,Lovelace,https://www.linkedin.com/in/ada,,Analytical Engines,Countess,"
      "24 Aug 2023\r\n"
      "Grace,Hopper,https://www.linkedin.com/in/grace,grace@example.org,US Navy,"
      "\"Rear Admiral, Ret.\",01 Jan 2020\r\n",
  };
  for (int i = 0; i < 2; i++) {
    struct got g;
    assert_rc(read_str(bodies[i], i ? KITH_CSV_LINKEDIN : KITH_CSV_AUTO, &g), 0);
    assert_int_equal(json_array_size(g.contacts), 2);
    assert_int_equal(g.lines[0], i ? 5 : 2); /* the preamble counts */
    assert_int_equal(g.lines[1], i ? 6 : 3);
    assert_contact(&g, 0,
                   "{\"name\": \"Ada Lovelace\", \"given_name\": \"Ada\","
                   " \"family_name\": \"Lovelace\", \"org\": \"Analytical Engines\","
                   " \"title\": \"Countess\","
                   " \"links\": [\"https://www.linkedin.com/in/ada\"],"
                   " \"kinds\": {\"links\": {\"https://www.linkedin.com/in/ada\":"
                   " \"linkedin\"}},"
                   " \"x\": {\"linkedin-connected\": \"2023-08-24\"}}");
    assert_contact(&g, 1,
                   "{\"name\": \"Grace Hopper\", \"given_name\": \"Grace\","
                   " \"family_name\": \"Hopper\", \"org\": \"US Navy\","
                   " \"title\": \"Rear Admiral, Ret.\","
                   " \"emails\": [\"grace@example.org\"],"
                   " \"links\": [\"https://www.linkedin.com/in/grace\"],"
                   " \"kinds\": {\"links\": {\"https://www.linkedin.com/in/grace\":"
                   " \"linkedin\"}},"
                   " \"x\": {\"linkedin-connected\": \"2020-01-01\"}}");
    got_free(&g);
  }
  /* the preamble alone is no header */
  struct got g;
  assert_rc(
      read_str("Notes:\r\n\"some notice, with a comma\"\r\n\r\n", KITH_CSV_AUTO, &g),
      KITH_EBADMSG);
  assert_int_equal(json_array_size(g.contacts), 0);
  got_free(&g);
}

static void test_google_current(void **state)
{
  (void)state;
  const char *text =
      "First Name,Middle Name,Last Name,Phonetic First Name,Name Prefix,Name Suffix,"
      "Nickname,File As,Organization Name,Organization Title,Organization Department,"
      "Birthday,Notes,Photo,Labels,E-mail 1 - Label,E-mail 1 - Value,E-mail 2 - Label,"
      "E-mail 2 - Value,Phone 1 - Label,Phone 1 - Value,Address 1 - Label,"
      "Address 1 - Formatted,Address 1 - Street,Address 1 - City,Address 1 - PO Box,"
      "Address 1 - Region,Address 1 - Postal Code,Address 1 - Country,"
      "Address 1 - Extended Address,Website 1 - Label,Website 1 - Value,"
      "Relation 1 - Label,Relation 1 - Value,Event 1 - Label,Event 1 - Value,"
      "IM 1 - Label,IM 1 - Service,IM 1 - Value,Custom Field 1 - Label,"
      "Custom Field 1 - Value\n"
      "Zo\xc3\xab,,Keller,ZOH-ee,Dr.,,Zo,,ACME,CTO,R&D,--03-04,\"line 1\nline 2\",,"
      "* myContacts ::: Friends ::: * starred ::: Climbing,* Work ::: Home,"
      "zoe@acme.example ::: zk@home.example,Other,old@example.org,Mobile,"
      "+41 79 000 00 00 ::: +41 44 000 00 00,Home,\"Bahnhofstr. 1\n8000 "
      "Z\xc3\xbcrich\","
      "Bahnhofstr. 1,Z\xc3\xbcrich,,ZH,8000,Switzerland,,Blog,https://zoe.example,"
      "Sister,Mia,Anniversary,2015-06-01,,Skype,zoe.k,Favourite Colour,green\n"
      ",,,,,,,,,,,,,,,,,,,,,,\"only a formatted address\",,,,,,,,,,,,,,,,,,\n";
  struct got g;
  assert_rc(read_str(text, KITH_CSV_AUTO, &g), 0);
  assert_int_equal(json_array_size(g.contacts), 1);
  assert_int_equal(g.lines[0], 2);
  assert_contact(
      &g, 0,
      "{\"name\": \"Zo\\u00eb Keller\", \"given_name\": \"Zo\\u00eb\","
      " \"family_name\": \"Keller\", \"name_prefix\": \"Dr.\", \"nickname\": \"Zo\","
      " \"org\": \"ACME\", \"title\": \"CTO\", \"birthday\": \"--03-04\","
      " \"notes\": [{\"text\": \"line 1\\nline 2\"}],"
      " \"tags\": [\"Friends\", \"Climbing\"],"
      " \"emails\": [\"zoe@acme.example\", \"zk@home.example\", \"old@example.org\"],"
      " \"phones\": [\"+41 79 000 00 00\", \"+41 44 000 00 00\"],"
      " \"links\": [\"https://zoe.example\"], \"ims\": [\"zoe.k\"],"
      " \"kinds\": {\"emails\": {\"zoe@acme.example\": \"work\", \"zk@home.example\":"
      " \"home\", \"old@example.org\": \"other\"},"
      "  \"phones\": {\"+41 79 000 00 00\": \"mobile\", \"+41 44 000 00 00\": "
      "\"mobile\"},"
      "  \"links\": {\"https://zoe.example\": \"blog\"}, \"ims\": {\"zoe.k\": "
      "\"skype\"}},"
      " \"addresses\": [{\"kind\": \"home\", \"street\": \"Bahnhofstr. 1\","
      "  \"locality\": \"Z\\u00fcrich\", \"region\": \"ZH\", \"code\": \"8000\","
      "  \"country\": \"Switzerland\"}],"
      " \"x\": {\"phonetic-first-name\": \"ZOH-ee\", \"department\": \"R&D\","
      "  \"sister\": \"Mia\", \"anniversary\": \"2015-06-01\","
      "  \"favourite-colour\": \"green\"}}");
  /* the second row has only a formatted address: not a contact */
  assert_int_equal(g.skips, 1);
  assert_int_equal(g.skip_line[0], 5);
  assert_str(g.skip_why[0], "row has no name, e-mail or phone", "why");
  got_free(&g);
}

static void test_generic(void **state)
{
  (void)state;
  /* a UTF-8 BOM, kith's own field names, odd spacing and case */
  const char *text =
      "\xef\xbb\xbf"
      "  FULL NAME , e-mail,Mobile,Work Phone,tags,met_at,follow-up,"
      "Birthday,LinkedIn,Shoe Size,City,Country\r\n"
      "  Ada Lovelace , ada@example.org,+44 1,+44 2,\"vip; math\",Salon,"
      "2026-12-01,12/10/1815,https://linkedin.com/in/ada,38,London,UK\r\n"
      "Bo,,,,,,,31/02/2001,,,,\r\n"
      ",,+1 555,,,,,,,,,\r\n";
  struct got g;
  assert_rc(read_str(text, KITH_CSV_AUTO, &g), 0);
  assert_int_equal(json_array_size(g.contacts), 3);
  assert_contact(
      &g, 0,
      "{\"name\": \"Ada Lovelace\", \"emails\": [\"ada@example.org\"],"
      " \"phones\": [\"+44 1\", \"+44 2\"], \"tags\": [\"vip\", \"math\"],"
      " \"met_at\": \"Salon\", \"follow_up\": \"2026-12-01\","
      " \"birthday\": \"1815-12-10\","
      " \"links\": [\"https://linkedin.com/in/ada\"],"
      " \"kinds\": {\"phones\": {\"+44 1\": \"mobile\", \"+44 2\": \"work\"},"
      "  \"links\": {\"https://linkedin.com/in/ada\": \"linkedin\"}},"
      " \"addresses\": [{\"locality\": \"London\", \"country\": \"UK\"}],"
      " \"x\": {\"shoe-size\": \"38\"}}");
  /* 31 February: kept aside, and said so */
  assert_contact(&g, 1, "{\"name\": \"Bo\", \"x\": {\"birthday\": \"31/02/2001\"}}");
  assert_int_equal(g.skips, 1);
  assert_int_equal(g.skip_line[0], 3);
  assert_str(g.skip_why[0], "birthday \"31/02/2001\" is not a date: kept as x-birthday",
             "why");
  /* a phone alone names the contact */
  assert_contact(&g, 2,
                 "{\"name\": \"+1 555\", \"phones\": [\"+1 555\"],"
                 " \"kinds\": {\"phones\": {\"+1 555\": \"mobile\"}}}");
  assert_int_equal(g.lines[2], 4);
  got_free(&g);
}

static void test_dates(void **state)
{
  (void)state;
  const char *text =
      "Name,Birthday\n"
      "a,1975-12-12\nb,--12-12\nc,12/31/1999\nd,31/12/1999\ne,31.12.1999\n"
      "f,24 Aug 2023\ng,Aug 24 2023\nh,\"August 24, 2023\"\ni,2023/8/24\n"
      "j,1/2/75\nk,2024-02-30\nl,soon\n";
  static const char *const want[] = {"1975-12-12", "--12-12",    "1999-12-31",
                                     "1999-12-31", "1999-12-31", "2023-08-24",
                                     "2023-08-24", "2023-08-24", "2023-08-24"};
  struct got g;
  assert_rc(read_str(text, KITH_CSV_GENERIC, &g), 0);
  assert_int_equal(json_array_size(g.contacts), 12);
  for (size_t i = 0; i < 9; i++)
    assert_str(field(&g, i, "birthday"), want[i], "birthday");
  for (size_t i = 9; i < 12; i++) {
    assert_null(field(&g, i, "birthday"));
    assert_non_null(json_object_get(json_object_get(json_array_get(g.contacts, i), "x"),
                                    "birthday"));
  }
  assert_int_equal(g.skips, 3);
  got_free(&g);
}

static void test_broken_files(void **state)
{
  (void)state;
  struct got g;
  /* empty, blank, header only, a header that is not contacts */
  assert_rc(read_str("", KITH_CSV_AUTO, &g), KITH_EBADMSG);
  got_free(&g);
  assert_rc(read_str("\r\n \r\n", KITH_CSV_AUTO, &g), KITH_EBADMSG);
  got_free(&g);
  assert_rc(read_str("Name,Email\r\n", KITH_CSV_AUTO, &g), 0);
  assert_int_equal(json_array_size(g.contacts), 0);
  got_free(&g);
  assert_rc(read_str("Date,Amount,Currency\n2024-01-01,12,EUR\n", KITH_CSV_AUTO, &g),
            KITH_EBADMSG);
  assert_int_equal(json_array_size(g.contacts), 0);
  assert_int_equal(g.skips, 0);
  got_free(&g);

  /* a short row, a row with too many cells, a stray quote in a bare cell, blank
   * lines, a quoted cell over three lines, then a quote never closed */
  const char *text = "Name,Email,Notes\n"
                     "Short\n"
                     "Long,l@example.org,n,surplus\n"
                     "\n"
                     "Dr. \"Q\",q@example.org\n"
                     "\"Multi\",m@example.org,\"one\ntwo\nthree\"\n"
                     "After,a@example.org\n"
                     "Open,o@example.org,\"never closed\nstill in it\n";
  assert_rc(read_str(text, KITH_CSV_AUTO, &g), 0);
  assert_int_equal(json_array_size(g.contacts), 6);
  static const size_t lines[] = {2, 3, 5, 6, 9, 10};
  static const char *const names[] = {"Short", "Long",  "Dr. \"Q\"",
                                      "Multi", "After", "Open"};
  for (size_t i = 0; i < 6; i++) {
    assert_int_equal(g.lines[i], lines[i]);
    assert_str(field(&g, i, "name"), names[i], "name");
  }
  json_t *open = json_array_get(g.contacts, 5);
  assert_str(json_string_value(json_object_get(
                 json_array_get(json_object_get(open, "notes"), 0), "text")),
             "never closed\nstill in it", "unclosed note");
  assert_int_equal(g.skips, 2);
  assert_int_equal(g.skip_line[0], 3);
  assert_str(g.skip_why[0],
             "more cells than the header has: the extra ones are ignored", "why");
  assert_int_equal(g.skip_line[1], 10);
  assert_str(g.skip_why[1],
             "a quote is not closed: its row runs to the end of the file", "why");
  got_free(&g);

  /* windows-1252 bytes, a NUL, CR-only lines */
  const char caf[] = "Name,Company\rJos\xe9,Caf\xe9\rN\0ul,x\r";
  assert_rc(read_csv(caf, sizeof caf - 1, KITH_CSV_AUTO, &g), 0);
  assert_int_equal(json_array_size(g.contacts), 2);
  assert_str(field(&g, 0, "name"), "Jos\xc3\xa9", "name");
  assert_str(field(&g, 0, "org"), "Caf\xc3\xa9", "org");
  assert_str(field(&g, 1, "name"), "Nul", "name");
  assert_int_equal(g.lines[1], 3);
  got_free(&g);
}

/* A tag the store could not index is dropped, even when folding is what makes it
 * too long: 100 x "¼" is 200 bytes, folded "1⁄4" x 100 is 500. */
static void test_long_tags(void **state)
{
  (void)state;
  char text[1024];
  size_t n = (size_t)snprintf(text, sizeof text, "Name,Tags\nA,\"ok;");
  for (int i = 0; i < 100; i++)
    n += (size_t)snprintf(text + n, sizeof text - n, "\xc2\xbc");
  n += (size_t)snprintf(text + n, sizeof text - n, ";");
  for (int i = 0; i < 201; i++)
    text[n++] = 'x';
  n += (size_t)snprintf(text + n, sizeof text - n, "\"\n");
  struct got g;
  assert_rc(read_csv(text, n, KITH_CSV_GENERIC, &g), 0);
  assert_contact(&g, 0, "{\"name\": \"A\", \"tags\": [\"ok\"]}");
  assert_int_equal(g.skips, 2);
  assert_str(g.skip_why[0], "a tag longer than 200 bytes was dropped", "why");
  got_free(&g);
}

static void test_sink_stops(void **state)
{
  (void)state;
  struct got g;
  memset(&g, 0, sizeof g);
  g.contacts = json_array();
  g.stop_at = 2;
  struct kith_import_sink sink = {got_contact, got_skip, &g};
  const char *text = "Name\na\nb\nc\n";
  assert_int_equal(kith_csv_read(text, strlen(text), KITH_CSV_AUTO, &sink), 1);
  assert_int_equal(json_array_size(g.contacts), 2);
  got_free(&g);
}

/* ---- kith's CSV
 * ------------------------------------------------------------------------ */

static char *write_csv(const json_t *contacts, size_t *len)
{
  char *out = NULL;
  FILE *f = open_memstream(&out, len);
  assert_non_null(f);
  assert_rc(kith_csv_write_header(f), 0);
  size_t i;
  json_t *c;
  json_array_foreach(contacts, i, c) assert_rc(kith_csv_write(f, c), 0);
  assert_int_equal(fclose(f), 0);
  return out;
}

static void test_write_header(void **state)
{
  (void)state;
  size_t len;
  json_t *none = json_array();
  char *out = write_csv(none, &len);
  const char *start =
      "First Name,Middle Name,Last Name,Name Prefix,Name Suffix,Nickname,"
      "File As,Organization Name,Organization Title,Birthday,Notes,Labels,"
      "E-mail 1 - Label,E-mail 1 - Value,E-mail 2 - Label,";
  assert_int_equal(strncmp(out, start, strlen(start)), 0);
  assert_non_null(strstr(out, ",Address 1 - Label,Address 1 - Formatted,Address 1 - "
                              "Street,Address 1 - City,Address 1 - PO Box,Address 1 - "
                              "Region,Address 1 - Postal Code,Address 1 - Country,"
                              "Address 1 - Extended Address,Address 2 - Label,"));
  assert_non_null(strstr(out, ",IM 3 - Label,IM 3 - Service,IM 3 - Value,"));
  const char *end = ",Custom Field 10 - Label,Custom Field 10 - Value\r\n";
  assert_string_equal(out + len - strlen(end), end);
  size_t commas = 0;
  for (size_t i = 0; i < len; i++)
    commas += out[i] == ',';
  assert_int_equal(commas, 97); /* 98 columns */
  free(out);
  json_decref(none);
}

/* The contact a reader should give back for rec: kith_json_record's object
 * without ids, stamps and dates, its notes as texts. */
static json_t *comparable(const json_t *rec)
{
  json_t *c = json_deep_copy(rec);
  const char *drop[] = {"id", "created", "updated", "stamps", NULL};
  for (int i = 0; drop[i]; i++)
    json_object_del(c, drop[i]);
  const char *key;
  json_t *v, *tmp;
  json_object_foreach_safe(c, tmp, key, v)
  {
    if (json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0))
      json_object_del(c, key);
  }
  json_t *notes = json_object_get(c, "notes");
  size_t i;
  json_t *n;
  json_array_foreach(notes, i, n)
  {
    json_t *t = json_pack("{s:O}", "text", json_object_get(n, "text"));
    json_array_set_new(notes, i, t);
  }
  return c;
}

static json_t *record_of(kith_store *st, const char *contact_json)
{
  struct kith_import_stats stats;
  char err[256];
  json_error_t je;
  json_t *c = json_loads(contact_json, 0, &je);
  if (!c)
    fail_msg("bad JSON in the test: %s", je.text);
  kith_txn *t = kt_begin(st, true);
  int rc = kith_json_import(t, c, &stats, err, sizeof err);
  if (rc)
    fail_msg("import: %s", err);
  kt_commit(t);
  json_decref(c);
  /* the store is fresh: the one contact there is this one */
  struct kith_id_list ids = {0};
  t = kt_begin(st, false);
  assert_rc(kith_kind_each(t, KITH_KIND_CONTACT, kith_id_collect, &ids), 0);
  assert_int_equal(ids.n, 1);
  struct kith_record *rec = NULL;
  assert_rc(kith_record_load(t, ids.v[0], &rec), 0);
  json_t *out = kith_json_record(t, rec, KITH_JSON_NOTES);
  kith_record_free(rec);
  free(ids.v);
  kith_txn_abort(t);
  assert_non_null(out);
  return out;
}

static void assert_round_trip(const char *contact_json)
{
  struct kt_store s;
  kt_store_new(&s);
  json_t *rec = record_of(s.st, contact_json);
  json_t *arr = json_pack("[O]", rec);
  size_t len;
  char *out = write_csv(arr, &len);
  struct got g;
  assert_rc(read_csv(out, len, KITH_CSV_AUTO, &g), 0);
  assert_int_equal(json_array_size(g.contacts), 1);
  assert_int_equal(g.skips, 0);
  json_t *want = comparable(rec), *back = json_array_get(g.contacts, 0);
  if (!json_equal(want, back)) {
    char *a = json_dumps(back, JSON_SORT_KEYS | JSON_COMPACT);
    char *b = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
    fail_msg("round trip:\n got  %s\n want %s\n csv  %s", a, b, out);
  }
  json_decref(want);
  got_free(&g);
  free(out);
  json_decref(arr);
  json_decref(rec);
  kt_store_free(&s);
}

static void test_round_trip_rich(void **state)
{
  (void)state;
  assert_round_trip(
      "{\"name\": \"RT Ada, Countess of Lovelace\", \"given_name\": \"Ada\","
      " \"middle_name\": \"Augusta\", \"family_name\": \"King\", \"name_prefix\": "
      "\"Lady\","
      " \"name_suffix\": \"FRS\", \"nickname\": \"Enchantress\", \"org\": "
      "\"Analytical, "
      "Inc.\","
      " \"title\": \"\\\"Poet\\\" of science\", \"birthday\": \"1815-12-10\","
      " \"met_at\": \"Babbage's salon\", \"needs\": \"a mechanic\\nwho listens\","
      " \"offers\": \"notes on the engine\", \"last_contacted\": \"2026-11-01\","
      " \"follow_up\": \"2026-12-01\","
      " \"emails\": [\"ada@example.org\", \"countess@example.org\"],"
      " \"phones\": [\"+44 20 7946 0000\", \"+44 20 7946 0001\"],"
      " \"links\": [\"https://example.org/ada\", "
      "\"https://www.linkedin.com/in/ada\"],"
      " \"ims\": [\"ada@matrix.example\"], \"tags\": [\"vip\", \"Zo\\u00eb's "
      "friends\"],"
      " \"kinds\": {\"emails\": {\"ada@example.org\": \"work\"},"
      "  \"phones\": {\"+44 20 7946 0000\": \"cell\", \"+44 20 7946 0001\": \"work "
      "fax\"},"
      "  \"links\": {\"https://www.linkedin.com/in/ada\": \"linkedin\"},"
      "  \"ims\": {\"ada@matrix.example\": \"matrix\"}},"
      " \"addresses\": [{\"kind\": \"home\", \"street\": \"12 St James's Sq\\nFlat 2\","
      "  \"locality\": \"London\", \"code\": \"SW1\", \"country\": \"UK\"},"
      "  {\"po_box\": \"PO 7\", \"ext\": \"c/o Babbage\", \"region\": \"Surrey\"}],"
      " \"x\": {\"github\": \"ada\", \"uid\": \"urn:uuid:1234\", \"shoe size\": "
      "\"38\"},"
      " \"notes\": [{\"text\": \"met at the salon, \\\"1833\\\"\\r\\nwith a CR "
      "LF\"}]}");
  /* a bare contact, and a birthday without a year */
  assert_round_trip("{\"name\": \"RT Bo\", \"birthday\": \"--02-29\"}");
}

static void test_round_trip_overflow(void **state)
{
  (void)state;
  /* more e-mails, phones, addresses, links and x fields than there are slots */
  struct buf {
    char p[8192];
    size_t n;
  } b = {{0}, 0};
#define ADD(...) (b.n += (size_t)snprintf(b.p + b.n, sizeof b.p - b.n, __VA_ARGS__))
  ADD("{\"name\": \"RT Many\", \"emails\": [");
  for (int i = 0; i < 8; i++)
    ADD("%s\"e%d@example.org\"", i ? "," : "", i);
  ADD("], \"phones\": [");
  for (int i = 0; i < 7; i++)
    ADD("%s\"+1 555 000%d\"", i ? "," : "", i);
  ADD("], \"links\": [");
  for (int i = 0; i < 6; i++)
    ADD("%s\"https://l%d.example\"", i ? "," : "", i);
  ADD("], \"ims\": [\"a@im\", \"b@im\", \"c@im\", \"d@im\"],"
      " \"kinds\": {\"emails\": {\"e1@example.org\": \"home\", \"e6@example.org\": "
      "\"work\"},"
      " \"phones\": {\"+1 555 0005\": \"cell\", \"+1 555 0006\": \"home fax\"}},"
      " \"addresses\": [");
  for (int i = 0; i < 5; i++)
    ADD("%s{\"street\": \"%d Main St\"%s}", i ? "," : "", i,
        i == 3 ? ", \"kind\": \"work\", \"country\": \"NZ\"" : "");
  ADD("], \"tags\": [\"a\", \"b\", \"c\"], \"x\": {");
  for (int i = 0; i < 12; i++)
    ADD("%s\"f%02d\": \"v%d\"", i ? "," : "", i, i);
  ADD("}, \"met_at\": \"here\"}");
#undef ADD
  assert_round_trip(b.p);
}

/* ---- speed
 * ------------------------------------------------------------------------------ */

static int count_only(void *arg, json_t *c, size_t line)
{
  (void)c, (void)line;
  (*(size_t *)arg)++;
  return 0;
}

/* 100,000 rows in well under a second (release builds; an instrumented build
 * reads 10,000 and checks only the count). */
static void test_speed_100k(void **state)
{
  (void)state;
#if defined(NDEBUG)
  const int rows = 100000;
#else
  const int rows = 10000;
#endif
  size_t cap = (size_t)rows * 128, n = 0, count = 0;
  char *text = malloc(cap);
  assert_non_null(text);
  n +=
      (size_t)snprintf(text, cap, "First Name,Last Name,Email,Phone,Company,Notes\r\n");
  for (int i = 0; i < rows; i++)
    n += (size_t)snprintf(text + n, cap - n,
                          "Given%d,Family%d,p%d@example.org,+1 555 %07d,ACME %d,"
                          "\"a note, with a comma\"\r\n",
                          i, i, i, i, i % 100);
  struct kith_import_sink sink = {count_only, NULL, &count};
  struct timespec t0, t1;
  /* CPU time: other builds and tests may share the machine */
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
  int rc = kith_csv_read(text, n, KITH_CSV_AUTO, &sink);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
  free(text);
  assert_rc(rc, 0);
  assert_int_equal(count, (size_t)rows);
  double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  print_message("%d rows (%zu bytes) in %.3f s of CPU\n", rows, n, s);
#if defined(NDEBUG)
  assert_true(s < 1.0);
#endif
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gmail_legacy),
      cmocka_unit_test(test_thunderbird_export),
      cmocka_unit_test(test_outlook_2000),
      cmocka_unit_test(test_thunderbird_utf16_and_quote),
      cmocka_unit_test(test_every_corpus_csv),
      cmocka_unit_test(test_linkedin),
      cmocka_unit_test(test_google_current),
      cmocka_unit_test(test_generic),
      cmocka_unit_test(test_dates),
      cmocka_unit_test(test_broken_files),
      cmocka_unit_test(test_long_tags),
      cmocka_unit_test(test_sink_stops),
      cmocka_unit_test(test_write_header),
      cmocka_unit_test(test_round_trip_rich),
      cmocka_unit_test(test_round_trip_overflow),
      cmocka_unit_test(test_speed_100k),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
