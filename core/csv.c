/*
 * csv.c — contacts as CSV, in and out.
 *
 * Reading. The whole file becomes UTF-8 first (kith_text_to_utf8: UTF-16 either
 * way, a BOM dropped, legacy bytes read as windows-1252). libcsv, in its lenient
 * mode, does the grammar: quoted fields across raw CR and LF, "" for a quote, rows
 * shorter than the header; a stray quote inside a bare field stays a character,
 * and a quote never closed runs to the end of the file (reported). We feed it one
 * physical line at a time (LF ends a line; CR only in a file without LF) so that
 * each row knows the line it starts on.
 *
 * The header row decides what each column means. Its names are normalised
 * (lowercase, runs of " -_./" as one space) and looked up in this order:
 *   - the layout's own names: Outlook's "Title" is the name prefix and its
 *     "Categories" are split at ';'; LinkedIn's "URL" is a link of kind
 *     "linkedin" and "Connected On" becomes x "linkedin-connected" (an ISO date);
 *     nothing is invented for met_at;
 *   - Google's numbered groups "<what> N - <sub>": E-mail, Phone, Website, IM
 *     (Type/Label, Value, Service), Address (Label, Formatted, Street, City,
 *     PO Box, Region, Postal Code, Country, Extended Address), Relation, Event and
 *     Custom Field (Label, Value), Organization (Name, Title, Department);
 *   - common names (name, first name, last name, company, job title, notes,
 *     birthday, tags/categories/labels/group membership, kith's met at, needs,
 *     offers, last contacted, follow up, file as, ...); address parts with an
 *     optional Business/Work/Home/Other prefix (Outlook, Thunderbird);
 *   - any name with an e-mail, phone, web or IM word in it (Thunderbird's
 *     "Primary Email", Outlook's "Car Phone": the kind comes from the words);
 *   - anything else with a value: x, under the normalised name with '-' for the
 *     spaces ("Custom 1" -> x "custom-1").
 * A header with no name-ish column (name, its parts, nickname, org, file as) and
 * no e-mail column is not contacts: KITH_EBADMSG. A LinkedIn preamble (a first
 * row "Notes:", then rows of one cell) is skipped before the header.
 *
 * In a cell, " ::: " separates several values (Google); pieces of a label cell
 * pair with the value pieces when the counts match, else the first label applies
 * to all. Labels become kinds: lowercased, Google's "* " (primary) dropped. Tags
 * that start with "* " are Google's system groups ("* myContacts") and are
 * dropped. Custom Field labels "met_at", "needs", "offers", "last_contacted",
 * "follow_up" fill those fields, "x-NAME" the x field NAME, any other label an x
 * field; a Relation or an Event is x under its label ("spouse"), or "relation" /
 * "event". Dates are read as ISO, --MM-DD, M/D/YYYY (D/M when the first is over
 * 12), D.M.YYYY, "24 Aug 2023", "Aug 24, 2023"; one that is none of these is kept
 * as x under the field's name, and reported. Outlook's "0/0/00" and
 * "Unspecified" are empty. Every value is trimmed; empty cells are ignored; a cell
 * over 8 KiB (notes: 1 MiB) is dropped and reported. The name is the Name /
 * Display Name column, else File As, else first, middle and last name joined,
 * else the nickname, the org, the first e-mail, the first phone; a row with none
 * of these is skipped.
 *
 * Writing: Google Contacts' current layout, which Google, Outlook.com and most
 * address books import, plus "File As" for kith's display name: up to 5 e-mails,
 * 5 phones, 3 addresses, 5 websites, 3 IMs and 10 custom fields; more go into the
 * last slot joined with " ::: ". Custom fields carry met_at, needs, offers,
 * last_contacted, follow_up and the x fields ("x-NAME"). Several notes share the
 * one Notes cell, separated by a line "---" between blank lines (NOTE_SEP), which
 * the reader splits again. kith_csv_read gives back every field written, kinds
 * lowercased.
 */
#include "core/csv.h"

#include <csv.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/charset.h"
#include "core/fold.h"
#include "core/model.h"
#include "proto/reg.h"

#define CELL_MAX (8u * 1024u) /* a value longer than this is not contact data */
#define NOTE_MAX KITH_VALUE_MAX_BYTES
#define HEADER_NAME_MAX 200    /* longer column names are ignored */
#define PIECES_MAX 64          /* values in one cell; more stay in the last */
#define GROUP_COLS 16          /* columns of one address */
#define COLS_MAX 1024          /* columns mapped, the rest ignored (Google: ~90) */
#define NOTE_SEP "\n\n---\n\n" /* between notes in one Notes cell */

/* ---- small helpers ---------------------------------------------------------- */

struct buf {
  char *p;
  size_t n, cap;
};

static int buf_add(struct buf *b, const char *s, size_t n)
{
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + n + 1)
      cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
      return KITH_ENOMEM;
    b->p = p, b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
  return 0;
}

static int buf_str(struct buf *b, const char *s)
{
  return buf_add(b, s, strlen(s));
}

static bool is_blank(char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static char lower(char c)
{
  return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

/* s trimmed in place: the first non-blank byte, the end cut with a NUL. */
static char *trim(char *s)
{
  while (is_blank(*s))
    s++;
  size_t n = strlen(s);
  while (n && is_blank(s[n - 1]))
    n--;
  s[n] = 0;
  return s;
}

/* The number of " ::: " pieces in s (1 without a separator). */
static size_t count_pieces(const char *s)
{
  size_t n = 1;
  for (const char *p = strstr(s, ":::"); p && n < PIECES_MAX; p = strstr(p + 3, ":::"))
    n++;
  return n;
}

/* Cuts s in place at ":::" and at any byte of seps; each piece is trimmed and may
 * be empty. Beyond PIECES_MAX the rest stays in the last piece. */
static size_t split(char *s, const char *seps, char *piece[PIECES_MAX])
{
  size_t n = 0;
  char *start = s;
  for (char *p = s; *p && n < PIECES_MAX - 1; p++) {
    size_t skip = strncmp(p, ":::", 3) == 0 ? 3 : *seps && strchr(seps, *p) ? 1 : 0;
    if (!skip)
      continue;
    *p = 0;
    piece[n++] = trim(start);
    start = p + skip;
    p = start - 1;
  }
  piece[n++] = trim(start);
  return n;
}

/* A label as a kind: "* Home" -> "home"; NULL when nothing is left. */
static const char *kind_of(char *label)
{
  if (!label)
    return NULL;
  if (label[0] == '*' && label[1] == ' ')
    label = trim(label + 2);
  for (char *p = label; *p; p++)
    *p = lower(*p);
  return *label ? label : NULL;
}

/* ---- dates ------------------------------------------------------------------- */

static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                     "jul", "aug", "sep", "oct", "nov", "dec"};

static int month_named(const char *s, size_t n)
{
  if (n < 3)
    return 0;
  for (int i = 0; i < 12; i++)
    if (strncasecmp(s, months[i], 3) == 0)
      return i + 1;
  return 0;
}

/* The digits at *s (at most 4), moved past; -1 if none. */
static int number(const char **s, int *digits)
{
  int v = 0, k = 0;
  while (**s >= '0' && **s <= '9' && k < 5)
    v = v * 10 + (*(*s)++ - '0'), k++;
  *digits = k;
  return k && k <= 4 ? v : -1;
}

/* A date as kith keeps it (YYYY-MM-DD or --MM-DD, time allowed) from the ways
 * exports write one; false when s is none of them. */
static bool parse_date(const char *s, char out[32])
{
  if (strlen(s) < 32 && kith_date_valid(s)) {
    memcpy(out, s, strlen(s) + 1);
    return true;
  }
  int a, b, c = -1, da, db, dc = 0, y, m, d;
  const char *p = s;
  a = number(&p, &da);
  if (a >= 0 && (*p == '/' || *p == '.' || *p == '-')) { /* numeric */
    char sep = *p++;
    b = number(&p, &db);
    if (b < 0 || *p++ != sep)
      return false;
    c = number(&p, &dc);
    if (c < 0 || *p)
      return false;
    if (da == 4 && dc <= 2) /* 2023/08/24 */
      y = a, m = b, d = c;
    else if (dc != 4)
      return false; /* a two-digit year is a guess */
    else if (sep == '.' || a > 12)
      y = c, m = b, d = a; /* 24.8.2023, 24/8/2023 */
    else
      y = c, m = a, d = b; /* Outlook's M/D/YYYY */
  } else if (a >= 0) {     /* "24 Aug 2023" */
    while (*p == ' ')
      p++;
    const char *w = p;
    while (*p && *p != ' ' && *p != ',')
      p++;
    m = month_named(w, (size_t)(p - w));
    while (*p == ' ' || *p == ',')
      p++;
    y = number(&p, &dc);
    d = a;
    if (!m || dc != 4 || *p)
      return false;
  } else { /* "Aug 24, 2023" */
    const char *w = p;
    while (*p && *p != ' ')
      p++;
    m = month_named(w, (size_t)(p - w));
    while (*p == ' ')
      p++;
    d = number(&p, &db);
    while (*p == ' ' || *p == ',')
      p++;
    y = number(&p, &dc);
    if (!m || d < 0 || dc != 4 || *p)
      return false;
  }
  if (m < 1 || m > 12 || d < 1 || d > 31)
    return false;
  snprintf(out, 32, "%04d-%02d-%02d", y, m, d);
  return kith_date_valid(out);
}

/* ---- the header ---------------------------------------------------------------- */

enum role {
  R_NONE,      /* ignored */
  R_TEXT,      /* a one-value field */
  R_DATE,      /* a date field */
  R_FILE_AS,   /* the display name when no Name column has one */
  R_NOTES,     /* a note */
  R_TAGS,      /* tags */
  R_VALUE,     /* the values of a group (e-mails, phones, links, IMs, custom) */
  R_LABEL,     /* their kinds, or a custom field's name */
  R_SERVICE,   /* an IM's service: the kind when there is no label */
  R_PART,      /* a part of a group's address */
  R_FORMATTED, /* a group's address as one text */
  R_BIRTH_Y,   /* Thunderbird's birthday in three columns */
  R_BIRTH_M,
  R_BIRTH_D,
  R_CONNECTED, /* LinkedIn's Connected On */
  R_X,         /* an x field */
};

enum family { G_EMAIL, G_PHONE, G_LINK, G_IM, G_ADDR, G_CUSTOM, G_RELATION, G_EVENT };

static const char *const family_json[] = {"emails", "phones", "links", "ims",
                                          "addresses"};

enum { P_KIND, P_PO_BOX, P_EXT, P_STREET, P_LOCALITY, P_REGION, P_CODE, P_COUNTRY };

static const char *const addr_keys[KITH_ADDR_PARTS] = {
    "kind", "po_box", "ext", "street", "locality", "region", "code", "country"};

struct col {
  enum role role;
  uint8_t field;    /* R_TEXT, R_DATE */
  int part;         /* R_PART */
  int group;        /* the group of R_VALUE ... R_FORMATTED */
  const char *seps; /* R_TAGS: separators besides ":::" */
  char *x;          /* R_X: the x name */
};

struct group {
  enum family fam;
  char *key;        /* columns with the same family and key share the group */
  const char *kind; /* a kind the column name gives ("Business Phone": work) */
  int label, value, service, formatted;
  int parts[GROUP_COLS];
  int nparts;
};

struct rd {
  const struct kith_import_sink *sink;
  enum kith_csv_layout layout;
  int rc;
  bool have_header, preamble;
  size_t rows;
  /* lines */
  size_t line, row_line;
  bool row_open;
  /* the row being read: cells back to back, each NUL-terminated */
  struct buf row;
  size_t *off;
  size_t ncell, capcell;
  /* the header */
  struct col *cols;
  size_t ncols;
  struct group *groups;
  size_t ngroups, capgroups;
  char **cell; /* a row's cells by column, ncols of them */
};

static void skip(struct rd *r, size_t line, const char *why)
{
  if (r->sink->skip)
    r->sink->skip(r->sink->arg, line, why);
}

/* The group of a column: found by family and key, or new (key NULL: always). */
static int group_of(struct rd *r, enum family fam, const char *key, const char *kind)
{
  for (size_t i = 0; key && i < r->ngroups; i++)
    if (r->groups[i].fam == fam && r->groups[i].key &&
        strcmp(r->groups[i].key, key) == 0)
      return (int)i;
  if (r->ngroups == r->capgroups) {
    size_t cap = r->capgroups ? r->capgroups * 2 : 16;
    struct group *more = realloc(r->groups, cap * sizeof *more);
    if (!more)
      return KITH_ENOMEM;
    r->groups = more, r->capgroups = cap;
  }
  struct group *g = &r->groups[r->ngroups];
  memset(g, 0, sizeof *g);
  g->fam = fam;
  g->kind = kind;
  g->label = g->value = g->service = g->formatted = -1;
  if (key && !(g->key = strdup(key)))
    return KITH_ENOMEM;
  return (int)r->ngroups++;
}

/* A column name, normalised: lowercase ASCII, runs of " -_./\t" as one space. */
static char *normalise(const char *s)
{
  char *o = malloc(strlen(s) + 1);
  size_t n = 0;
  if (!o)
    return NULL;
  for (; *s; s++) {
    if (strchr(" -_./\t\r\n", *s)) {
      if (n && o[n - 1] != ' ')
        o[n++] = ' ';
    } else {
      o[n++] = lower(*s);
    }
  }
  while (n && o[n - 1] == ' ')
    n--;
  o[n] = 0;
  return o;
}

static bool has_word(const char *norm, const char *word)
{
  size_t n = strlen(word);
  for (const char *p = strstr(norm, word); p; p = strstr(p + 1, word))
    if ((p == norm || p[-1] == ' ') && (p[n] == 0 || p[n] == ' '))
      return true;
  return false;
}

/* Any word of norm that contains part. */
static bool word_has(const char *norm, const char *part)
{
  return strstr(norm, part) != NULL;
}

struct name_role {
  const char *name;
  enum role role;
  uint8_t field;
};

/* Sorted by strcmp, for bsearch. */
static const struct name_role common_names[] = {
    {"additional name", R_TEXT, KITH_F_MIDDLE},
    {"bday", R_DATE, KITH_F_BIRTHDAY},
    {"birth date", R_DATE, KITH_F_BIRTHDAY},
    {"birth day", R_BIRTH_D, 0},
    {"birth month", R_BIRTH_M, 0},
    {"birth year", R_BIRTH_Y, 0},
    {"birthdate", R_DATE, KITH_F_BIRTHDAY},
    {"birthday", R_DATE, KITH_F_BIRTHDAY},
    {"categories", R_TAGS, 0},
    {"category", R_TAGS, 0},
    {"comments", R_NOTES, 0},
    {"company", R_TEXT, KITH_F_ORG},
    {"company name", R_TEXT, KITH_F_ORG},
    {"connected on", R_CONNECTED, 0},
    {"contact name", R_TEXT, KITH_F_NAME},
    {"date of birth", R_DATE, KITH_F_BIRTHDAY},
    {"display name", R_TEXT, KITH_F_NAME},
    {"dob", R_DATE, KITH_F_BIRTHDAY},
    {"employer", R_TEXT, KITH_F_ORG},
    {"family", R_TEXT, KITH_F_FAMILY},
    {"family name", R_TEXT, KITH_F_FAMILY},
    {"file as", R_FILE_AS, 0},
    {"first", R_TEXT, KITH_F_GIVEN},
    {"first name", R_TEXT, KITH_F_GIVEN},
    {"firstname", R_TEXT, KITH_F_GIVEN},
    {"fn", R_TEXT, KITH_F_NAME},
    {"follow up", R_DATE, KITH_F_FOLLOW_UP},
    {"forename", R_TEXT, KITH_F_GIVEN},
    {"formatted name", R_TEXT, KITH_F_NAME},
    {"full name", R_TEXT, KITH_F_NAME},
    {"given", R_TEXT, KITH_F_GIVEN},
    {"given name", R_TEXT, KITH_F_GIVEN},
    {"group membership", R_TAGS, 0},
    {"groups", R_TAGS, 0},
    {"job title", R_TEXT, KITH_F_TITLE},
    {"labels", R_TAGS, 0},
    {"last", R_TEXT, KITH_F_FAMILY},
    {"last contacted", R_DATE, KITH_F_LAST_CONTACTED},
    {"last name", R_TEXT, KITH_F_FAMILY},
    {"lastname", R_TEXT, KITH_F_FAMILY},
    {"met at", R_TEXT, KITH_F_MET_AT},
    {"middle", R_TEXT, KITH_F_MIDDLE},
    {"middle name", R_TEXT, KITH_F_MIDDLE},
    {"name", R_TEXT, KITH_F_NAME},
    {"name prefix", R_TEXT, KITH_F_PREFIX},
    {"name suffix", R_TEXT, KITH_F_SUFFIX},
    {"needs", R_TEXT, KITH_F_NEEDS},
    {"nick", R_TEXT, KITH_F_NICKNAME},
    {"nick name", R_TEXT, KITH_F_NICKNAME},
    {"nickname", R_TEXT, KITH_F_NICKNAME},
    {"note", R_NOTES, 0},
    {"notes", R_NOTES, 0},
    {"offers", R_TEXT, KITH_F_OFFERS},
    {"org", R_TEXT, KITH_F_ORG},
    {"organisation", R_TEXT, KITH_F_ORG},
    {"organization", R_TEXT, KITH_F_ORG},
    {"organization name", R_TEXT, KITH_F_ORG},
    {"organization title", R_TEXT, KITH_F_TITLE},
    {"position", R_TEXT, KITH_F_TITLE},
    {"prefix", R_TEXT, KITH_F_PREFIX},
    {"role", R_TEXT, KITH_F_TITLE},
    {"salutation", R_TEXT, KITH_F_PREFIX},
    {"suffix", R_TEXT, KITH_F_SUFFIX},
    {"surname", R_TEXT, KITH_F_FAMILY},
    {"tag", R_TAGS, 0},
    {"tags", R_TAGS, 0},
    {"title", R_TEXT, KITH_F_TITLE},
};

static int by_name(const void *key, const void *e)
{
  return strcmp(key, ((const struct name_role *)e)->name);
}

/* Outlook columns that only repeat others or hold defaults. */
static bool outlook_ignored(const char *norm)
{
  static const char *const names[] = {"initials", "priority", "private", "sensitivity",
                                      NULL};
  for (int i = 0; names[i]; i++)
    if (strcmp(norm, names[i]) == 0)
      return true;
  return strncmp(norm, "e mail", 6) == 0 &&
         (has_word(norm, "display") || has_word(norm, "type"));
}

/* Google's "<what> N - <sub>": the family, the key ("<what> N") and sub; false
 * if norm is not of that shape. */
static bool google_numbered(const char *norm, int *fam, char key[64], const char **sub)
{
  static const struct {
    const char *what;
    int fam;
  } whats[] = {{"e mail", G_EMAIL},      {"email", G_EMAIL}, {"phone", G_PHONE},
               {"website", G_LINK},      {"im", G_IM},       {"address", G_ADDR},
               {"relation", G_RELATION}, {"event", G_EVENT}, {"custom field", G_CUSTOM},
               {"organization", -1},     {NULL, 0}};
  if (!strpbrk(norm, "0123456789"))
    return false;
  for (int i = 0; whats[i].what; i++) {
    size_t n = strlen(whats[i].what);
    const char *p = norm + n;
    if (strncmp(norm, whats[i].what, n) != 0 || *p != ' ' || p[1] < '0' || p[1] > '9')
      continue;
    p++;
    while (*p >= '0' && *p <= '9')
      p++;
    if (*p != ' ' || (size_t)(p - norm) >= 64)
      return false;
    memcpy(key, norm, (size_t)(p - norm));
    key[p - norm] = 0;
    *fam = whats[i].fam;
    *sub = p + 1;
    return true;
  }
  return false;
}

/* Outlook's and Thunderbird's "Business Street", "Home City", ... and plain
 * "Street", "City": the part and the prefix (the group's key). */
static bool address_part(const char *norm, int *part, const char **kind, char key[16])
{
  static const struct {
    const char *prefix, *kind;
  } prefixes[] = {{"business ", "work"}, {"work ", "work"}, {"home ", "home"},
                  {"other ", "other"},   {"", NULL},        {NULL, NULL}};
  static const struct {
    const char *rest;
    int part;
  } rests[] = {{"street", P_STREET},          {"street 2", P_STREET},
               {"street 3", P_STREET},        {"address", P_STREET},
               {"address 2", P_STREET},       {"street address", P_STREET},
               {"city", P_LOCALITY},          {"state", P_REGION},
               {"region", P_REGION},          {"province", P_REGION},
               {"postal code", P_CODE},       {"zip", P_CODE},
               {"zip code", P_CODE},          {"zipcode", P_CODE},
               {"postcode", P_CODE},          {"country", P_COUNTRY},
               {"country region", P_COUNTRY}, {"po box", P_PO_BOX},
               {"pobox", P_PO_BOX},           {NULL, 0}};
  for (int i = 0; prefixes[i].prefix; i++) {
    size_t n = strlen(prefixes[i].prefix);
    if (strncmp(norm, prefixes[i].prefix, n) != 0)
      continue;
    for (int j = 0; rests[j].rest; j++) {
      if (strcmp(norm + n, rests[j].rest) == 0) {
        *part = rests[j].part;
        *kind = prefixes[i].kind;
        snprintf(key, 16, "%s", n ? prefixes[i].prefix : "-");
        return true;
      }
    }
  }
  return false;
}

/* A column whose name speaks of e-mail, phones, the web or IM: its family and
 * the kind its words give; -1 for none of these. */
static int typed_by_words(const char *norm, const char **kind)
{
  *kind = NULL;
  if (word_has(norm, "phonetic") || word_has(norm, "yomi"))
    return -1;
  if ((word_has(norm, "email") || has_word(norm, "mail")) &&
      !has_word(norm, "display") && !has_word(norm, "type") &&
      !has_word(norm, "label")) {
    if (has_word(norm, "work") || has_word(norm, "business"))
      *kind = "work";
    else if (has_word(norm, "home") || has_word(norm, "personal"))
      *kind = "home";
    else if (has_word(norm, "other"))
      *kind = "other";
    return G_EMAIL;
  }
  static const char *const phone_words[] = {"phone", "telephone", "tel",   "mobile",
                                            "cell",  "fax",       "pager", "isdn",
                                            "telex", "callback",  NULL};
  bool phone = false;
  for (int i = 0; phone_words[i]; i++)
    phone = phone || has_word(norm, phone_words[i]);
  if (phone || word_has(norm, "phone ") ||
      (strlen(norm) > 5 && strcmp(norm + strlen(norm) - 5, "phone") == 0)) {
    static const struct {
      const char *word, *kind;
    } kinds[] = {{"mobile", "mobile"},
                 {"cell", "mobile"},
                 {"pager", "pager"},
                 {"car", "car"},
                 {"assistant's", "assistant"},
                 {"assistant", "assistant"},
                 {"callback", "callback"},
                 {"isdn", "isdn"},
                 {"radio", "radio"},
                 {"telex", "telex"},
                 {"tty", "tty"},
                 {"main", "main"},
                 {"primary", "main"},
                 {"home", "home"},
                 {"business", "work"},
                 {"work", "work"},
                 {"other", "other"},
                 {NULL, NULL}};
    if (has_word(norm, "fax")) {
      *kind = has_word(norm, "business") || has_word(norm, "work") ? "work fax"
              : has_word(norm, "home")                             ? "home fax"
              : has_word(norm, "other")                            ? "other fax"
                                                                   : "fax";
      return G_PHONE;
    }
    for (int i = 0; kinds[i].word; i++)
      if (has_word(norm, kinds[i].word)) {
        *kind = kinds[i].kind;
        break;
      }
    return G_PHONE;
  }
  if (word_has(norm, "linkedin")) {
    *kind = "linkedin";
    return G_LINK;
  }
  if (has_word(norm, "url") || has_word(norm, "website") || has_word(norm, "web") ||
      has_word(norm, "homepage") || has_word(norm, "home page") ||
      has_word(norm, "blog")) {
    *kind = has_word(norm, "blog") ? "blog" : NULL;
    return G_LINK;
  }
  static const char *const im_words[] = {"skype", "jabber", "xmpp", "icq", NULL};
  for (int i = 0; im_words[i]; i++)
    if (has_word(norm, im_words[i])) {
      *kind = im_words[i];
      return G_IM;
    }
  if (strcmp(norm, "screen name") == 0 || strcmp(norm, "im") == 0 ||
      strcmp(norm, "im address") == 0)
    return G_IM;
  return -1;
}

/* An x field's name from a column name: "Custom 1" -> "custom-1". */
static char *x_name(const char *norm)
{
  char *x = strdup(norm);
  if (x)
    for (char *p = x; *p; p++)
      if (*p == ' ')
        *p = '-';
  return x;
}

/* Sets what column i (its name normalised in norm) means. 0 or KITH_ENOMEM. */
static int map_column(struct rd *r, size_t i, const char *norm)
{
  struct col *c = &r->cols[i];
  const char *kind = NULL, *sub;
  char key[64], pkey[16];
  int fam, part, g;
  c->group = -1;
  c->role = R_NONE;
  if (!*norm || strlen(norm) > HEADER_NAME_MAX)
    return 0;
  if (r->layout == KITH_CSV_OUTLOOK) {
    if (outlook_ignored(norm))
      return 0;
    if (strcmp(norm, "title") == 0) {
      c->role = R_TEXT, c->field = KITH_F_PREFIX;
      return 0;
    }
    if (strcmp(norm, "categories") == 0) {
      c->role = R_TAGS, c->seps = ";";
      return 0;
    }
  }
  if (r->layout == KITH_CSV_LINKEDIN && strcmp(norm, "url") == 0) {
    g = group_of(r, G_LINK, NULL, "linkedin");
    if (g < 0)
      return g;
    c->role = R_VALUE, c->group = g;
    r->groups[g].value = (int)i;
    return 0;
  }
  if (google_numbered(norm, &fam, key, &sub)) {
    if (fam < 0) { /* Organization N - Name/Title/Department */
      if (strcmp(sub, "name") == 0)
        c->role = R_TEXT, c->field = KITH_F_ORG;
      else if (strcmp(sub, "title") == 0)
        c->role = R_TEXT, c->field = KITH_F_TITLE;
      else if (strcmp(sub, "department") == 0)
        c->role = R_X, c->x = strdup("department");
      else
        goto x;
      return c->role == R_X && !c->x ? KITH_ENOMEM : 0;
    }
    enum role role = R_NONE;
    if (strcmp(sub, "type") == 0 || strcmp(sub, "label") == 0)
      role = R_LABEL;
    else if (strcmp(sub, "value") == 0 ||
             (fam == G_EMAIL && strcmp(sub, "address") == 0))
      role = fam == G_ADDR ? R_NONE : R_VALUE;
    else if (fam == G_IM && strcmp(sub, "service") == 0)
      role = R_SERVICE;
    else if (fam == G_ADDR && strcmp(sub, "formatted") == 0)
      role = R_FORMATTED;
    else if (fam == G_ADDR && address_part(sub, &part, &kind, pkey) && !kind)
      role = R_PART;
    else if (fam == G_ADDR && strcmp(sub, "extended address") == 0)
      role = R_PART, part = P_EXT;
    if (role == R_NONE)
      goto x;
    if ((g = group_of(r, (enum family)fam, key, NULL)) < 0)
      return g;
    struct group *gr = &r->groups[g];
    c->role = role, c->group = g;
    if (role == R_LABEL)
      gr->label = (int)i;
    else if (role == R_VALUE)
      gr->value = (int)i;
    else if (role == R_SERVICE)
      gr->service = (int)i;
    else if (role == R_FORMATTED)
      gr->formatted = (int)i;
    else if (gr->nparts < GROUP_COLS)
      c->part = part, gr->parts[gr->nparts++] = (int)i;
    else
      c->role = R_NONE;
    return 0;
  }
  const struct name_role *known =
      bsearch(norm, common_names, sizeof common_names / sizeof *common_names,
              sizeof *common_names, by_name);
  if (known) {
    c->role = known->role;
    c->field = known->field;
    c->seps = r->layout == KITH_CSV_GENERIC ? ";," : "";
    return 0;
  }
  if (strcmp(norm, "department") == 0 || strcmp(norm, "organization department") == 0) {
    c->role = R_X;
    return (c->x = strdup("department")) ? 0 : KITH_ENOMEM;
  }
  if (address_part(norm, &part, &kind, key)) {
    if ((g = group_of(r, G_ADDR, key, kind)) < 0)
      return g;
    if (r->groups[g].nparts < GROUP_COLS) {
      c->role = R_PART, c->group = g, c->part = part;
      r->groups[g].parts[r->groups[g].nparts++] = (int)i;
    }
    return 0;
  }
  if ((fam = typed_by_words(norm, &kind)) >= 0) {
    if ((g = group_of(r, (enum family)fam, NULL, kind)) < 0)
      return g;
    c->role = R_VALUE, c->group = g;
    r->groups[g].value = (int)i;
    return 0;
  }
x:
  c->role = R_X;
  return (c->x = x_name(norm)) ? 0 : KITH_ENOMEM;
}

/* The layout a header is in, from a few names only one layout has. */
static enum kith_csv_layout guess_layout(char **norm, size_t n)
{
  bool google = false, outlook = false;
  for (size_t i = 0; i < n; i++) {
    const char *s = norm[i], *sub;
    int fam;
    char key[64];
    if (strcmp(s, "connected on") == 0)
      return KITH_CSV_LINKEDIN;
    if (strcmp(s, "e mail address") == 0 || strcmp(s, "business street") == 0 ||
        strcmp(s, "business phone") == 0 || strcmp(s, "home street") == 0)
      outlook = true;
    if (strcmp(s, "group membership") == 0 || strcmp(s, "labels") == 0 ||
        (google_numbered(s, &fam, key, &sub) &&
         (strcmp(sub, "value") == 0 || strcmp(sub, "label") == 0 ||
          strcmp(sub, "type") == 0)))
      google = true;
  }
  return outlook ? KITH_CSV_OUTLOOK : google ? KITH_CSV_GOOGLE : KITH_CSV_GENERIC;
}

/* Reads the header row. 0, KITH_ENOMEM, or KITH_EBADMSG for a header that is not
 * contacts. */
static int read_header(struct rd *r)
{
  char **norm = calloc(r->ncell, sizeof *norm);
  int rc = 0;
  if (!norm)
    return KITH_ENOMEM;
  for (size_t i = 0; i < r->ncell && !rc; i++) {
    char *s = trim(r->row.p + r->off[i]);
    if (!(norm[i] = normalise(s)))
      rc = KITH_ENOMEM;
  }
  if (!rc && r->layout == KITH_CSV_AUTO)
    r->layout = guess_layout(norm, r->ncell);
  r->cols = calloc(r->ncell, sizeof *r->cols);
  r->cell = calloc(r->ncell ? r->ncell : 1, sizeof *r->cell);
  if (!rc && (!r->cols || !r->cell))
    rc = KITH_ENOMEM;
  if (!rc)
    r->ncols = r->ncell;
  for (size_t i = 0; i < r->ncols && i < COLS_MAX && !rc; i++)
    rc = map_column(r, i, norm[i]); /* the columns after stay R_NONE */
  bool contacts = false;
  for (size_t i = 0; i < r->ncols && !rc; i++) {
    const struct col *c = &r->cols[i];
    if ((c->role == R_TEXT && c->field <= KITH_F_ORG) || c->role == R_FILE_AS ||
        (c->role == R_VALUE && r->groups[c->group].fam == G_EMAIL))
      contacts = true;
  }
  if (!rc && !contacts)
    rc = KITH_EBADMSG;
  for (size_t i = 0; i < r->ncell; i++)
    free(norm[i]);
  free(norm);
  return rc;
}

/* ---- a row ----------------------------------------------------------------------- */

static json_t *member(json_t *o, const char *key, bool array)
{
  json_t *m = json_object_get(o, key);
  if (!m && (m = array ? json_array() : json_object()) != NULL &&
      json_object_set_new(o, key, m) != 0)
    m = NULL;
  return m;
}

static int set_text(json_t *o, const char *key, const char *s)
{
  return json_object_set_new(o, key, json_string(s)) ? KITH_ENOMEM : 0;
}

/* Appends v (once) to the set fam, with its kind. */
static int add_typed(json_t *o, const char *fam, const char *v, const char *kind)
{
  json_t *a = member(o, fam, true), *e;
  size_t i;
  if (!a)
    return KITH_ENOMEM;
  json_array_foreach(a, i, e)
  {
    if (strcmp(json_string_value(e), v) == 0)
      return 0;
  }
  if (json_array_append_new(a, json_string(v)))
    return KITH_ENOMEM;
  if (kind) {
    json_t *k = member(o, "kinds", false);
    k = k ? member(k, fam, false) : NULL;
    if (!k || set_text(k, v, kind))
      return KITH_ENOMEM;
  }
  return 0;
}

/* x[name] = v; a second value for the same name is appended after "; ". */
static int add_x(json_t *o, const char *name, const char *v)
{
  json_t *x = member(o, "x", false);
  if (!x)
    return KITH_ENOMEM;
  const char *had = json_string_value(json_object_get(x, name));
  if (!had)
    return set_text(x, name, v);
  struct buf b = {0};
  int rc = buf_str(&b, had);
  if (!rc)
    rc = buf_str(&b, "; ");
  if (!rc)
    rc = buf_str(&b, v);
  if (!rc && b.n <= CELL_MAX)
    rc = set_text(x, name, b.p);
  free(b.p);
  return rc;
}

/* A date field from text: the date, else x under the field's name, reported. */
static int add_date(struct rd *r, json_t *o, const char *field, const char *v)
{
  char d[32], why[120];
  if (json_object_get(o, field))
    return 0;
  if (parse_date(v, d))
    return set_text(o, field, d);
  snprintf(why, sizeof why, "%s \"%.40s\" is not a date: kept as x-%s", field, v,
           field);
  skip(r, r->row_line, why);
  return add_x(o, field, v);
}

/* A tag the store can index (kith_value_check: KITH_TAG_MAX bytes, folded too). */
static int tag_fits(const char *tag, bool *fits)
{
  struct kith_value *v = kith_value_new(1, &tag);
  if (!v)
    return KITH_ENOMEM;
  int rc = kith_value_check(kith_field_by_id(KITH_F_TAGS), v);
  kith_value_free(v);
  *fits = rc == 0;
  return rc == KITH_ENOMEM ? rc : 0;
}

static int add_tags(struct rd *r, json_t *o, char *cell, const char *seps)
{
  char *piece[PIECES_MAX];
  size_t n = split(cell, seps, piece);
  int rc = 0;
  bool fits = true;
  for (size_t i = 0; i < n && !rc; i++) {
    if (!*piece[i] || (piece[i][0] == '*' && piece[i][1] == ' '))
      continue; /* Google's system groups: "* myContacts", "* starred" */
    if ((rc = tag_fits(piece[i], &fits)) != 0)
      break;
    if (fits)
      rc = add_typed(o, "tags", piece[i], NULL);
    else
      skip(r, r->row_line, "a tag longer than 200 bytes was dropped");
  }
  return rc;
}

/* A custom field, relation or event: label and value. */
static int add_custom(struct rd *r, json_t *o, enum family fam, char *label, char *v)
{
  static const uint8_t fields[] = {KITH_F_MET_AT, KITH_F_NEEDS, KITH_F_OFFERS,
                                   KITH_F_LAST_CONTACTED, KITH_F_FOLLOW_UP};
  if (!*v)
    return 0;
  if (!label || !*label)
    return add_x(o,
                 fam == G_CUSTOM     ? "custom"
                 : fam == G_RELATION ? "relation"
                                     : "event",
                 v);
  if (fam == G_CUSTOM && strncasecmp(label, "x-", 2) == 0 && label[2])
    return add_x(o, label + 2, v);
  for (size_t i = 0; fam == G_CUSTOM && i < sizeof fields; i++) {
    const struct kith_field *f = kith_field_by_id(fields[i]);
    if (strcasecmp(label, f->json) != 0 &&
        !(f->alias && strcasecmp(label, f->alias) == 0))
      continue;
    if (f->shape == KITH_SHAPE_DATE)
      return add_date(r, o, f->json, v);
    return json_object_get(o, f->json) ? 0 : set_text(o, f->json, v);
  }
  char *norm = normalise(label), *x = norm ? x_name(norm) : NULL;
  int rc = !x ? KITH_ENOMEM : *x ? add_x(o, x, v) : add_x(o, "custom", v);
  free(norm);
  free(x);
  return rc;
}

/* One group's values: e-mails, phones, links, IMs; or custom fields. */
static int add_group(struct rd *r, json_t *o, const struct group *g, char **cell)
{
  char *val[PIECES_MAX], *lab[PIECES_MAX];
  char *vc = g->value >= 0 ? cell[g->value] : NULL;
  char *lc = g->label >= 0 ? cell[g->label] : NULL;
  size_t nv, nl = 0;
  int rc = 0;
  if (!vc)
    return 0;
  if (g->fam >= G_CUSTOM) {
    /* split only when the labels say there are several: a value may hold ":::" */
    if (lc && count_pieces(lc) > 1 && count_pieces(lc) == count_pieces(vc)) {
      nl = split(lc, "", lab);
      nv = split(vc, "", val);
      for (size_t i = 0; i < nv && !rc; i++)
        rc = add_custom(r, o, g->fam, lab[i], val[i]);
      return rc;
    }
    return add_custom(r, o, g->fam, lc, vc);
  }
  nv = split(vc, "", val);
  if (lc)
    nl = split(lc, "", lab);
  else if (g->service >= 0 && cell[g->service])
    nl = split(cell[g->service], "", lab);
  for (size_t i = 0; i < nv && !rc; i++) {
    if (!*val[i])
      continue;
    const char *kind = g->kind;
    if (!kind && nl)
      kind = kind_of(nl == nv ? lab[i] : lab[0]);
    rc = add_typed(o, family_json[g->fam], val[i], kind);
  }
  return rc;
}

/* One group's addresses: each part column may hold several (" ::: "). */
static int add_addresses(struct rd *r, json_t *o, const struct group *g, char **cell)
{
  char *pieces[GROUP_COLS + 2][PIECES_MAX];
  size_t np[GROUP_COLS + 2] = {0}, n = 0;
  int rc = 0;
  /* [0..nparts): the parts, then the label, then the formatted text */
  for (int k = 0; k < g->nparts + 2; k++) {
    int ci = k < g->nparts ? g->parts[k] : k == g->nparts ? g->label : g->formatted;
    if (ci >= 0 && cell[ci])
      np[k] = split(cell[ci], "", pieces[k]);
    if (k != g->nparts && np[k] > n)
      n = np[k];
  }
  for (size_t a = 0; a < n && !rc; a++) {
    struct buf part[KITH_ADDR_PARTS] = {{0}};
    bool any = false;
    for (int k = 0; k < g->nparts && !rc; k++) {
      const char *s = a < np[k] ? pieces[k][a] : "";
      struct buf *b = &part[r->cols[g->parts[k]].part];
      if (!*s)
        continue;
      any = true;
      if (b->n)
        rc = buf_str(b, "\n");
      if (!rc)
        rc = buf_str(b, s);
    }
    size_t fi = (size_t)g->nparts + 1;
    if (!any && !rc && a < np[fi] && *pieces[fi][a])
      rc = buf_str(&part[P_STREET], pieces[fi][a]), any = true;
    const char *kind = g->kind;
    size_t li = (size_t)g->nparts;
    if (!kind && np[li])
      kind = kind_of(np[li] == n ? pieces[li][a] : pieces[li][0]);
    json_t *ad = any && !rc ? json_object() : NULL;
    if (any && !rc && !ad)
      rc = KITH_ENOMEM;
    if (ad && kind)
      rc = set_text(ad, "kind", kind);
    for (int p = 1; p < KITH_ADDR_PARTS && ad && !rc; p++)
      if (part[p].n && part[p].n <= CELL_MAX)
        rc = set_text(ad, addr_keys[p], part[p].p);
    if (ad && !rc) {
      json_t *arr = member(o, "addresses", true);
      rc = arr && json_array_append(arr, ad) == 0 ? 0 : KITH_ENOMEM;
    }
    json_decref(ad);
    for (int p = 0; p < KITH_ADDR_PARTS; p++)
      free(part[p].p);
  }
  return rc;
}

/* The name a row gives: see the top of this file. NULL if none; *own is set when
 * the result is malloc'd. */
static const char *fallback_name(json_t *o, const char *file_as, char **own)
{
  static const char *const parts[] = {"given_name", "middle_name", "family_name"};
  *own = NULL;
  if (file_as)
    return file_as;
  struct buf b = {0};
  for (int i = 0; i < 3; i++) {
    const char *s = json_string_value(json_object_get(o, parts[i]));
    if (s && ((b.n && buf_str(&b, " ")) || buf_str(&b, s))) {
      free(b.p);
      return NULL;
    }
  }
  if (b.n)
    return *own = b.p;
  free(b.p);
  const char *s = json_string_value(json_object_get(o, "nickname"));
  if (!s)
    s = json_string_value(json_object_get(o, "org"));
  if (!s)
    s = json_string_value(json_array_get(json_object_get(o, "emails"), 0));
  if (!s)
    s = json_string_value(json_array_get(json_object_get(o, "phones"), 0));
  return s;
}

/* The cells of the row, trimmed, empty ones NULL; a cell too long is dropped. */
static void row_cells(struct rd *r, char **cell)
{
  bool extra = false, dropped = false;
  for (size_t i = 0; i < r->ncell; i++) {
    char *s = r->row.p + r->off[i], *w = s;
    const char *end = r->row.p + (i + 1 < r->ncell ? r->off[i + 1] : r->row.n) - 1;
    for (const char *p = s; p < end; p++)
      if (*p)
        *w++ = *p; /* a NUL (from UTF-16, say) is no text */
    *w = 0;
    s = trim(s);
    if (i >= r->ncols) {
      extra = extra || *s;
      continue;
    }
    const struct col *c = &r->cols[i];
    if (r->layout == KITH_CSV_OUTLOOK &&
        (strcmp(s, "0/0/00") == 0 || strcmp(s, "0/0/0000") == 0 ||
         strcmp(s, "Unspecified") == 0))
      s = "";
    if (strlen(s) > (c->role == R_NOTES ? NOTE_MAX : CELL_MAX)) {
      dropped = true;
      s = "";
    }
    cell[i] = *s && c->role != R_NONE ? s : NULL;
  }
  for (size_t i = r->ncell; i < r->ncols; i++)
    cell[i] = NULL;
  if (extra)
    skip(r, r->row_line, "more cells than the header has: the extra ones are ignored");
  if (dropped)
    skip(r, r->row_line, "a cell longer than 8 KiB was dropped");
}

/* Turns a data row into a contact for the sink. */
static int read_row(struct rd *r)
{
  char **cell = r->cell;
  const char *file_as = NULL, *by = NULL, *bm = NULL, *bd = NULL;
  char *own = NULL;
  json_t *o = json_object();
  int rc = 0;
  if (!o) {
    rc = KITH_ENOMEM;
    goto out;
  }
  row_cells(r, cell);
  for (size_t i = 0; i < r->ncols && !rc; i++) {
    const struct col *c = &r->cols[i];
    char *s = cell[i], d[32];
    if (!s)
      continue;
    const char *json = c->field ? kith_field_by_id(c->field)->json : NULL;
    switch (c->role) {
    case R_TEXT:
      if (!json_object_get(o, json))
        rc = set_text(o, json, s);
      break;
    case R_DATE:
      rc = add_date(r, o, json, s);
      break;
    case R_FILE_AS:
      file_as = file_as ? file_as : s;
      break;
    case R_NOTES: { /* several notes, as kith writes them: split at NOTE_SEP */
      json_t *notes = member(o, "notes", true);
      rc = notes ? 0 : KITH_ENOMEM;
      for (const char *p = s; !rc && *p;) {
        const char *sep = strstr(p, NOTE_SEP);
        size_t n = sep ? (size_t)(sep - p) : strlen(p);
        json_t *t = json_stringn(p, n);
        if (n && (!t || json_array_append_new(notes, json_pack("{s:o}", "text", t))))
          rc = KITH_ENOMEM;
        else if (!n)
          json_decref(t);
        p += n + (sep ? strlen(NOTE_SEP) : 0);
      }
      break;
    }
    case R_TAGS:
      rc = add_tags(r, o, s, c->seps ? c->seps : "");
      break;
    case R_BIRTH_Y:
      by = s;
      break;
    case R_BIRTH_M:
      bm = s;
      break;
    case R_BIRTH_D:
      bd = s;
      break;
    case R_CONNECTED:
      rc = add_x(o, "linkedin-connected", parse_date(s, d) ? d : s);
      break;
    case R_X:
      rc = add_x(o, c->x, s);
      break;
    default:
      break;
    }
  }
  for (size_t i = 0; i < r->ngroups && !rc; i++)
    rc = r->groups[i].fam == G_ADDR ? add_addresses(r, o, &r->groups[i], cell)
                                    : add_group(r, o, &r->groups[i], cell);
  if (!rc && bm && bd && !json_object_get(o, "birthday")) {
    char d[32];
    long y = by ? strtol(by, NULL, 10) : 0, m = strtol(bm, NULL, 10),
         day = strtol(bd, NULL, 10);
    if (y > 0 && y < 10000)
      snprintf(d, sizeof d, "%04ld-%02ld-%02ld", y, m % 100, day % 100);
    else
      snprintf(d, sizeof d, "--%02ld-%02ld", m % 100, day % 100);
    if (kith_date_valid(d))
      rc = set_text(o, "birthday", d);
  }
  if (rc)
    goto out;
  if (!json_object_get(o, "name")) {
    const char *name = fallback_name(o, file_as, &own);
    if (!name) {
      skip(r, r->row_line, "row has no name, e-mail or phone");
      goto out;
    }
    if ((rc = set_text(o, "name", name)) != 0)
      goto out;
  }
  rc = r->sink->contact(r->sink->arg, o, r->row_line);
out:
  free(own);
  json_decref(o);
  return rc;
}

/* ---- libcsv's callbacks ------------------------------------------------------------
 */

static void on_cell(void *s, size_t n, void *arg)
{
  struct rd *r = arg;
  if (r->rc)
    return;
  if (!r->row_open) { /* a row that starts after a CR on the same line */
    r->row_open = true;
    r->row_line = r->line;
  }
  if (r->ncell == r->capcell) {
    size_t cap = r->capcell ? r->capcell * 2 : 64;
    size_t *off = realloc(r->off, cap * sizeof *off);
    if (!off) {
      r->rc = KITH_ENOMEM;
      return;
    }
    r->off = off, r->capcell = cap;
  }
  r->off[r->ncell++] = r->row.n;
  /* each cell ends with its NUL, kept in the row: cell i is the text at off[i] */
  if (buf_add(&r->row, s ? s : "", s ? n : 0) || buf_add(&r->row, "", 1))
    r->rc = KITH_ENOMEM;
}

static void on_row(int c, void *arg)
{
  struct rd *r = arg;
  (void)c;
  r->row_open = false;
  if (r->rc)
    goto done;
  if (!r->have_header) {
    size_t filled = 0;
    for (size_t i = 0; i < r->ncell; i++)
      filled += *trim(r->row.p + r->off[i]) != 0;
    if (r->rows++ == 0 && r->ncell &&
        strcasecmp(trim(r->row.p + r->off[0]), "notes:") == 0)
      r->preamble = true; /* LinkedIn's Connections.csv */
    if (r->preamble && filled < 2)
      goto done;
    r->have_header = true;
    r->rc = read_header(r);
  } else {
    r->rc = read_row(r);
  }
done:
  r->ncell = 0;
  r->row.n = 0;
}

static bool has_content(const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!is_blank(s[i]))
      return true;
  return false;
}

static int csv_read(const char *buf, size_t len, enum kith_csv_layout layout,
                    const struct kith_import_sink *sink, enum kith_csv_layout *found)
{
  struct rd r = {.sink = sink, .layout = layout, .line = 1};
  struct csv_parser p;
  char *own = NULL;
  const char *text = buf;
  size_t n = len, bom;
  /* most files are UTF-8 already: read in place, no copy */
  int rc = 0;
  if (strcmp(kith_charset_sniff(buf, len, &bom), "UTF-8") != 0 || bom ||
      !kith_utf8_valid(buf, len)) {
    rc = kith_text_to_utf8(buf, len, NULL, &own, &n);
    text = own;
  }
  if (rc)
    return rc;
  if (csv_init(&p, 0) != 0) {
    free(own);
    return KITH_ENOMEM;
  }
  /* One physical line at a time: a row's first line is the first one with
   * something on it since the last row ended. */
  char eol = memchr(text, '\n', n) ? '\n' : '\r';
  for (size_t pos = 0; pos < n && !r.rc; r.line++) {
    const char *e = memchr(text + pos, eol, n - pos);
    size_t end = e ? (size_t)(e - text) + 1 : n;
    if (!r.row_open && has_content(text + pos, end - pos)) {
      r.row_open = true;
      r.row_line = r.line;
    }
    if (csv_parse(&p, text + pos, end - pos, on_cell, on_row, &r) != end - pos && !r.rc)
      r.rc = KITH_ENOMEM; /* the lenient parser fails only for memory */
    pos = end;
  }
  if (!r.rc && p.pstate == 2 && p.quoted) /* libcsv's FIELD_BEGUN, in quotes */
    skip(&r, r.row_line, "a quote is not closed: its row runs to the end of the file");
  if (!r.rc)
    csv_fini(&p, on_cell, on_row, &r);
  csv_free(&p);
  rc = r.rc ? r.rc : r.have_header ? 0 : KITH_EBADMSG;
  if (found)
    *found = r.layout;
  for (size_t i = 0; i < r.ncols; i++)
    free(r.cols[i].x);
  for (size_t i = 0; i < r.ngroups; i++)
    free(r.groups[i].key);
  free(r.cols);
  free(r.groups);
  free(r.cell);
  free(r.off);
  free(r.row.p);
  free(own);
  return rc;
}

int kith_csv_read(const char *buf, size_t len, enum kith_csv_layout layout,
                  const struct kith_import_sink *sink)
{
  return csv_read(buf, len, layout, sink, NULL);
}

/* Stops the read at the first contact: the header has been read by then. */
static int stop_at_first(void *arg, json_t *contact, size_t line)
{
  (void)arg, (void)contact, (void)line;
  return 1;
}

static void ignore_skip(void *arg, size_t line, const char *why)
{
  (void)arg, (void)line, (void)why;
}

enum kith_csv_layout kith_csv_guess(const char *buf, size_t len)
{
  struct kith_import_sink sink = {stop_at_first, ignore_skip, NULL};
  enum kith_csv_layout found = KITH_CSV_AUTO;
  int rc = csv_read(buf, len, KITH_CSV_AUTO, &sink, &found);
  return rc == 0 || rc == 1 ? found : KITH_CSV_AUTO;
}

/* ---- writing
 * ------------------------------------------------------------------------- */

enum {
  W_EMAILS = 5,
  W_PHONES = 5,
  W_ADDRS = 3,
  W_LINKS = 5,
  W_IMS = 3,
  W_CUSTOM = 10,
  C_FIRST = 0,
  C_MIDDLE,
  C_LAST,
  C_PREFIX,
  C_SUFFIX,
  C_NICK,
  C_FILE_AS,
  C_ORG,
  C_TITLE,
  C_BDAY,
  C_NOTES,
  C_LABELS,
  C_EMAIL,
  C_PHONE = C_EMAIL + 2 * W_EMAILS,
  C_ADDR = C_PHONE + 2 * W_PHONES,
  C_LINK = C_ADDR + 9 * W_ADDRS,
  C_IM = C_LINK + 2 * W_LINKS,
  C_CUSTOM = C_IM + 3 * W_IMS,
  W_COLS = C_CUSTOM + 2 * W_CUSTOM,
};

static const char *const fixed_cols[] = {
    "First Name",         "Middle Name", "Last Name", "Name Prefix",
    "Name Suffix",        "Nickname",    "File As",   "Organization Name",
    "Organization Title", "Birthday",    "Notes",     "Labels"};

/* An address's columns after its Label, and the part each holds (-1: none). */
static const char *const addr_cols[] = {"Formatted", "Street",          "City",
                                        "PO Box",    "Region",          "Postal Code",
                                        "Country",   "Extended Address"};
static const int addr_col_part[] = {-1,       P_STREET, P_LOCALITY, P_PO_BOX,
                                    P_REGION, P_CODE,   P_COUNTRY,  P_EXT};

int kith_csv_write_header(FILE *f)
{
  static const struct {
    const char *what;
    int n;
    const char *const subs[3];
  } groups[] = {{"E-mail", W_EMAILS, {"Label", "Value"}},
                {"Phone", W_PHONES, {"Label", "Value"}},
                {"Address", W_ADDRS, {"Label"}},
                {"Website", W_LINKS, {"Label", "Value"}},
                {"IM", W_IMS, {"Label", "Service", "Value"}},
                {"Custom Field", W_CUSTOM, {"Label", "Value"}}};
  for (size_t i = 0; i < sizeof fixed_cols / sizeof *fixed_cols; i++)
    fprintf(f, "%s%s", i ? "," : "", fixed_cols[i]);
  for (size_t g = 0; g < sizeof groups / sizeof *groups; g++)
    for (int k = 1; k <= groups[g].n; k++) {
      for (int s = 0; s < 3 && groups[g].subs[s]; s++)
        fprintf(f, ",%s %d - %s", groups[g].what, k, groups[g].subs[s]);
      for (size_t s = 0; g == 2 && s < sizeof addr_cols / sizeof *addr_cols; s++)
        fprintf(f, ",Address %d - %s", k, addr_cols[s]);
    }
  fputs("\r\n", f);
  return ferror(f) ? KITH_EIO : 0;
}

/* Adds s to a cell; more than one value in a slot are joined with " ::: ". */
static int cell_add(struct buf *cell, const char *s, bool more)
{
  int rc = more ? buf_str(cell, " ::: ") : 0;
  return rc ? rc : buf_str(cell, s ? s : "");
}

/* "work fax" -> "Work Fax", as Google writes its labels. */
static int cell_label(struct buf *cell, const char *kind, bool more)
{
  size_t at = cell->n + (more ? 5 : 0);
  int rc = cell_add(cell, kind, more);
  for (size_t i = at; !rc && i < cell->n; i++)
    if ((i == at || cell->p[i - 1] == ' ') && cell->p[i] >= 'a' && cell->p[i] <= 'z')
      cell->p[i] = (char)(cell->p[i] - 32);
  return rc;
}

/* A typed set into its slots: width columns each, the label first, the value
 * last. */
static int put_typed(struct buf *cells, const json_t *c, const char *fam, int base,
                     int slots, int width)
{
  const json_t *a = json_object_get(c, fam);
  const json_t *kinds = json_object_get(json_object_get(c, "kinds"), fam), *e;
  size_t i;
  int rc = 0;
  json_array_foreach(a, i, e)
  {
    const char *v = json_string_value(e);
    if (!v || !*v)
      continue;
    int slot = i < (size_t)slots ? (int)i : slots - 1;
    bool more = i >= (size_t)slots;
    struct buf *col = &cells[base + slot * width];
    rc = cell_label(col, json_string_value(json_object_get(kinds, v)), more);
    if (!rc)
      rc = cell_add(col + width - 1, v, more);
    if (rc)
      break;
  }
  return rc;
}

static int put_addresses(struct buf *cells, const json_t *c)
{
  const json_t *a = json_object_get(c, "addresses"), *e;
  size_t i;
  int rc = 0;
  json_array_foreach(a, i, e)
  {
    int slot = i < W_ADDRS ? (int)i : W_ADDRS - 1;
    bool more = i >= W_ADDRS;
    struct buf *col = &cells[C_ADDR + slot * 9];
    rc = cell_label(col, json_string_value(json_object_get(e, "kind")), more);
    for (int k = 1; k < 9 && !rc; k++)
      if (addr_col_part[k - 1] >= 0)
        rc = cell_add(
            col + k,
            json_string_value(json_object_get(e, addr_keys[addr_col_part[k - 1]])),
            more);
    if (rc)
      break;
  }
  return rc;
}

static int put_custom(struct buf *cells, int *n, const char *label, const char *v)
{
  if (!v || !*v)
    return 0;
  int slot = *n < W_CUSTOM ? *n : W_CUSTOM - 1;
  bool more = *n >= W_CUSTOM;
  (*n)++;
  int rc = cell_add(&cells[C_CUSTOM + 2 * slot], label, more);
  return rc ? rc : cell_add(&cells[C_CUSTOM + 2 * slot + 1], v, more);
}

/* A last slot whose values all were empty (" :::  ::: ") is written empty. */
static bool only_separators(const char *s)
{
  if (!strstr(s, " ::: "))
    return false;
  while (*s == ' ' || *s == ':')
    s++;
  return *s == 0;
}

int kith_csv_write(FILE *f, const json_t *contact)
{
  static const struct {
    int col;
    const char *json;
  } texts[] = {{C_FIRST, "given_name"},   {C_MIDDLE, "middle_name"},
               {C_LAST, "family_name"},   {C_PREFIX, "name_prefix"},
               {C_SUFFIX, "name_suffix"}, {C_NICK, "nickname"},
               {C_FILE_AS, "name"},       {C_ORG, "org"},
               {C_TITLE, "title"},        {C_BDAY, "birthday"}};
  static const char *const customs[] = {"met_at", "needs", "offers", "last_contacted",
                                        "follow_up"};
  struct buf cells[W_COLS] = {{0}};
  const json_t *e;
  const char *k;
  size_t i;
  int rc = 0, ncustom = 0;
  for (i = 0; i < sizeof texts / sizeof *texts && !rc; i++)
    rc = cell_add(&cells[texts[i].col],
                  json_string_value(json_object_get(contact, texts[i].json)), false);
  json_array_foreach(json_object_get(contact, "notes"), i, e)
  {
    const char *t = json_string_value(json_object_get(e, "text"));
    if (t && *t && !rc)
      rc = cell_add(&cells[C_NOTES], cells[C_NOTES].n ? NOTE_SEP : "", false);
    if (t && *t && !rc)
      rc = cell_add(&cells[C_NOTES], t, false);
  }
  json_array_foreach(json_object_get(contact, "tags"), i, e)
  {
    if (!rc && json_string_value(e))
      rc = cell_add(&cells[C_LABELS], json_string_value(e), cells[C_LABELS].n > 0);
  }
  if (!rc)
    rc = put_typed(cells, contact, "emails", C_EMAIL, W_EMAILS, 2);
  if (!rc)
    rc = put_typed(cells, contact, "phones", C_PHONE, W_PHONES, 2);
  if (!rc)
    rc = put_typed(cells, contact, "links", C_LINK, W_LINKS, 2);
  if (!rc)
    rc = put_typed(cells, contact, "ims", C_IM, W_IMS, 3);
  if (!rc)
    rc = put_addresses(cells, contact);
  for (i = 0; i < sizeof customs / sizeof *customs && !rc; i++)
    rc = put_custom(cells, &ncustom, customs[i],
                    json_string_value(json_object_get(contact, customs[i])));
  json_object_foreach((json_t *)json_object_get(contact, "x"), k, e)
  {
    struct buf label = {0};
    if (!rc)
      rc = buf_str(&label, "x-");
    if (!rc)
      rc = buf_str(&label, k);
    if (!rc)
      rc = put_custom(cells, &ncustom, label.p, json_string_value(e));
    free(label.p);
  }
  for (i = 0; i < W_COLS && !rc; i++) {
    if (i)
      putc(',', f);
    if (cells[i].n && !only_separators(cells[i].p) &&
        csv_fwrite(f, cells[i].p, cells[i].n) != 0)
      rc = KITH_EIO;
  }
  if (!rc)
    fputs("\r\n", f);
  for (i = 0; i < W_COLS; i++)
    free(cells[i].p);
  if (rc == KITH_ENOMEM)
    return rc;
  return rc || ferror(f) ? KITH_EIO : 0;
}
