/*
 * vcard_write.c — one contact out as a vCard 4.0 (RFC 6350).
 *
 * The card is written straight to the FILE, folding as it goes, so nothing is
 * built in memory (a 40 kB PHOTO costs no allocation) and the only failure is the
 * FILE's. What goes where (docs/VCARD.md has the table; core/vcard_read.c maps it
 * back):
 *
 *   PRODID       -//kith//kith VERSION//EN (the reader drops it)
 *   UID          urn:uuid:<the kith id, 8-4-4-4-12>, or x "uid" as stored (a card
 *                that came in with a UID goes out with it)
 *   FN, N        name; family;given;middle;prefix;suffix (N only if a part is set)
 *   NICKNAME, TITLE, ORG (org, then x "org-units" split on "; " as units)
 *   BDAY         the birthday in the basic form: 19800322, --0322, 19800322T1030Z
 *   EMAIL, TEL, URL, IMPP, ADR
 *                one line each; the element's kind becomes TYPE, its words (a kind
 *                "home fax" from an import) as TYPE=home,fax. TEL is written with
 *                VALUE=text: kith keeps numbers as people typed them, which are not
 *                tel: URIs
 *   CATEGORIES   the tags, one line
 *   NOTE         one per note, its text, oldest first (as kith_json_record
 *                orders them)
 *   X-KITH-MET-AT, X-KITH-NEEDS, X-KITH-OFFERS, X-KITH-LAST-CONTACTED,
 *   X-KITH-FOLLOW-UP (dates as kith stores them)
 *   x fields     a name vCard defines (photo, role, gender, anniversary...: see
 *                std_props) as that property; another name of lowercase letters,
 *                digits and '-' as X-NAME; any other name (upper case, other
 *                characters, or a name the reader would take for one of the
 *                properties above, such as "email" or "kith-needs") as
 *                X-KITH-X;X-NAME="name":value, so that every x field comes back
 *                under its own name
 *   REV          the "updated" time, 20261126T063251Z
 *
 * Text values escape \ , ; and newlines. RFC 6350 section 3.4 requires the comma
 * escaped in every text value, list or not, and allows the semicolon escaped in
 * any; escaping it everywhere keeps vCard 3.0 readers that split every value on
 * ';' from cutting a NOTE in two. URI values (UID, URL, IMPP, PHOTO...) are
 * written as stored. Control characters other than TAB cannot appear in a vCard
 * line: a CR or LF becomes \n, the others are dropped. Parameter values that are
 * not plain tokens are quoted, with RFC 6868's ^' ^n ^^ for what quotes can't hold.
 * Lines end in CRLF and are folded at 75 octets (CRLF and one space), never inside
 * a UTF-8 character.
 */
#include "core/vcard.h"

#include <stdbool.h>
#include <string.h>

#include "core/model.h"

#define LINE_MAX_OCTETS 75

struct out {
  FILE *f;
  size_t col; /* octets on the current physical line */
};

/* Writes n bytes (whole UTF-8 characters) of the current logical line, folding
 * before the octet that would make the physical line longer than 75. */
static void put(struct out *o, const char *s, size_t n)
{
  while (n > 0) {
    size_t room = LINE_MAX_OCTETS - o->col;
    if (n <= room) {
      fwrite(s, 1, n, o->f);
      o->col += n;
      return;
    }
    size_t cut = room;
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
      cut--; /* s[cut] continues a character: fold before the whole character */
    if (cut == 0 && o->col <= 1)
      cut = room; /* not UTF-8 (kith's values are): split rather than loop */
    fwrite(s, 1, cut, o->f);
    fwrite("\r\n ", 1, 3, o->f);
    o->col = 1;
    s += cut;
    n -= cut;
  }
}

static void puts_(struct out *o, const char *s)
{
  put(o, s, strlen(s));
}

static void eol(struct out *o)
{
  fwrite("\r\n", 1, 2, o->f);
  o->col = 0;
}

/* A text value, s[0..n): \ , ; escaped, CR, LF and CRLF as \n, other controls
 * but TAB dropped. With uri, only the line breaks and controls are touched. */
static void value_n(struct out *o, const char *s, size_t n, bool uri)
{
  const char *run = s, *end = s + n;
  for (; s < end; s++) {
    unsigned char c = (unsigned char)*s;
    const char *esc;
    if (c == '\r' || c == '\n')
      esc = "\\n";
    else if (!uri && (c == '\\' || c == ',' || c == ';'))
      esc = c == '\\' ? "\\\\" : c == ',' ? "\\," : "\\;";
    else if ((c >= 0x20 && c != 0x7F) || c == '\t')
      continue;
    else
      esc = ""; /* a control character: no place for it in a vCard line */
    put(o, run, (size_t)(s - run));
    put(o, esc, strlen(esc));
    if (c == '\r' && s + 1 < end && s[1] == '\n')
      s++;
    run = s + 1;
  }
  put(o, run, (size_t)(s - run));
}

static void value(struct out *o, const char *s, bool uri)
{
  value_n(o, s, strlen(s), uri);
}

static bool is_token(const char *s)
{
  if (!*s)
    return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9') || *s == '-'))
      return false;
  return true;
}

/* One parameter value: a token as it is, else quoted (RFC 6868 for ", ^ and
 * line breaks; other controls dropped). */
static void param_value(struct out *o, const char *s, size_t n)
{
  char tok[64];
  if (n < sizeof tok) {
    memcpy(tok, s, n);
    tok[n] = 0;
    if (is_token(tok)) {
      put(o, tok, n);
      return;
    }
  }
  put(o, "\"", 1);
  const char *run = s, *end = s + n;
  for (; s < end; s++) {
    unsigned char c = (unsigned char)*s;
    const char *esc;
    if (c == '"')
      esc = "^'";
    else if (c == '^')
      esc = "^^";
    else if (c == '\n' || c == '\r')
      esc = "^n";
    else if ((c >= 0x20 && c != 0x7F) || c == '\t')
      continue;
    else
      esc = "";
    put(o, run, (size_t)(s - run));
    put(o, esc, strlen(esc));
    run = s + 1;
  }
  put(o, run, (size_t)(s - run));
  put(o, "\"", 1);
}

/* ;TYPE=a,b for a kind of space-separated words (none for NULL or blank). */
static void type_param(struct out *o, const char *kind)
{
  bool first = true;
  while (kind && *kind) {
    size_t skip = strspn(kind, " "), n;
    kind += skip;
    n = strcspn(kind, " ");
    if (!n)
      break;
    puts_(o, first ? ";TYPE=" : ",");
    param_value(o, kind, n);
    first = false;
    kind += n;
  }
}

static const char *str(const json_t *obj, const char *key)
{
  const char *s = json_string_value(json_object_get(obj, key));
  return s && *s ? s : NULL;
}

/* NAME:escaped text, if text is set. */
static void text_prop(struct out *o, const char *name, const char *text)
{
  if (!text)
    return;
  puts_(o, name);
  put(o, ":", 1);
  value(o, text, false);
  eol(o);
}

/* A kith date (YYYY-MM-DD or --MM-DD, maybe THH:MM[:SS[.fff]][Z]) in vCard's basic
 * form: 19800322, --0322, 19800322T103000Z (fractions of a second dropped). False
 * if date is not a kith date. */
static bool basic_date(const char *date, char out[32])
{
  size_t k = 0;
  bool time = false;
  if (!kith_date_valid(date) || strlen(date) >= 32)
    return false;
  if (date[0] == '-') {
    out[k++] = '-', out[k++] = '-';
    date += 2;
  }
  for (; *date; date++) {
    if (*date == 'T')
      time = true;
    if (*date == '.') { /* .fff: up to the Z or the end */
      while (date[1] >= '0' && date[1] <= '9')
        date++;
      continue;
    }
    if (*date == (time ? ':' : '-'))
      continue;
    out[k++] = *date;
  }
  out[k] = 0;
  return true;
}

static void date_prop(struct out *o, const char *name, const char *date)
{
  char basic[32];
  if (!date)
    return;
  if (!basic_date(date, basic)) {
    puts_(o, name);
    puts_(o, ";VALUE=text:");
    value(o, date, false);
  } else {
    puts_(o, name);
    put(o, ":", 1);
    puts_(o, basic);
  }
  eol(o);
}

/* EMAIL, TEL, URL or IMPP lines for the array key, kinds from "kinds". */
static void typed_props(struct out *o, const json_t *c, const char *key,
                        const char *name, const char *params, bool uri)
{
  const json_t *arr = json_object_get(c, key);
  const json_t *kinds = json_object_get(json_object_get(c, "kinds"), key);
  size_t i;
  const json_t *e;
  json_array_foreach(arr, i, e)
  {
    const char *v = json_string_value(e);
    if (!v)
      continue;
    puts_(o, name);
    puts_(o, params);
    type_param(o, json_string_value(json_object_get(kinds, v)));
    put(o, ":", 1);
    value(o, v, uri);
    eol(o);
  }
}

static void adr_props(struct out *o, const json_t *c)
{
  static const char *const parts[] = {"po_box", "ext",  "street", "locality",
                                      "region", "code", "country"};
  size_t i;
  const json_t *a;
  json_array_foreach(json_object_get(c, "addresses"), i, a)
  {
    puts_(o, "ADR");
    type_param(o, str(a, "kind"));
    put(o, ":", 1);
    for (size_t p = 0; p < sizeof parts / sizeof *parts; p++) {
      if (p)
        put(o, ";", 1);
      const char *v = str(a, parts[p]);
      if (v)
        value(o, v, false);
    }
    eol(o);
  }
}

static void org_prop(struct out *o, const char *org, const char *units)
{
  if (!org && !units)
    return;
  puts_(o, "ORG:");
  if (org)
    value(o, org, false);
  while (units) {
    const char *sep = strstr(units, "; ");
    size_t n = sep ? (size_t)(sep - units) : strlen(units);
    put(o, ";", 1);
    value_n(o, units, n, false);
    units = sep ? sep + 2 : NULL;
  }
  eol(o);
}

static void categories(struct out *o, const json_t *tags)
{
  size_t i;
  const json_t *t;
  if (!json_array_size(tags))
    return;
  puts_(o, "CATEGORIES:");
  json_array_foreach(tags, i, t)
  {
    if (i)
      put(o, ",", 1);
    value(o, json_string_value(t) ? json_string_value(t) : "", false);
  }
  eol(o);
}

/* x names vCard 4.0 (RFC 6350, 6474, 6715, 8605, 9554) defines and the reader
 * keeps as x fields; uri says the value is a URI (written unescaped). */
static const struct {
  const char *name;
  bool uri;
} std_props[] = {
    {"anniversary", false}, {"birthplace", false},   {"caladruri", true},
    {"caluri", true},       {"clientpidmap", false}, {"contact-uri", true},
    {"deathdate", false},   {"deathplace", false},   {"expertise", false},
    {"fburl", true},        {"gender", false},       {"geo", true},
    {"hobby", false},       {"interest", false},     {"key", true},
    {"kind", false},        {"lang", false},         {"logo", true},
    {"member", true},       {"org-directory", true}, {"photo", true},
    {"related", true},      {"role", false},         {"socialprofile", true},
    {"sound", true},        {"source", true},        {"tz", false},
    {"xml", false},
};

/* x names that must not go out as their own property: what the reader maps to a
 * kith field (the X- IM properties among them), or what this writer already wrote
 * from one. */
static const char reserved[] =
    " ablabel adr aim bday begin categories email end fn gadugadu google-talk gtalk"
    " icq impp jabber ms-imaddress msn n nickname note org prodid qq rev skype"
    " skype-username tel title uid url version yahoo ";

static void x_prop(struct out *o, const char *name, const char *v)
{
  bool plain = is_token(name), uri = false;
  for (const char *p = name; plain && *p; p++)
    plain = !(*p >= 'A' && *p <= 'Z'); /* the reader lowercases names */
  if (plain && strncmp(name, "kith-", 5) == 0)
    plain = false;
  if (plain) { /* " name " in reserved; a plain name has no space */
    char key[80];
    plain = snprintf(key, sizeof key, " %s ", name) >= (int)sizeof key ||
            !strstr(reserved, key);
  }
  if (!plain) {
    puts_(o, "X-KITH-X;X-NAME=");
    param_value(o, name, strlen(name));
    put(o, ":", 1);
    value(o, v, false);
    eol(o);
    return;
  }
  for (size_t i = 0; i < sizeof std_props / sizeof *std_props; i++) {
    if (strcmp(name, std_props[i].name) != 0)
      continue;
    char basic[32];
    uri = std_props[i].uri;
    if ((strcmp(name, "anniversary") == 0 || strcmp(name, "deathdate") == 0) &&
        basic_date(v, basic)) {
      v = basic; /* a date kith can read: vCard's form of it */
      uri = true;
    }
    for (const char *p = name; *p; p++) {
      char up = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
      put(o, &up, 1);
    }
    put(o, ":", 1);
    value(o, v, uri);
    eol(o);
    return;
  }
  put(o, "X-", 2);
  for (const char *p = name; *p; p++) {
    char up = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    put(o, &up, 1);
  }
  put(o, ":", 1);
  value(o, v, false);
  eol(o);
}

/* UID:urn:uuid:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx from a 32-digit hex id. */
static void uid_prop(struct out *o, const char *id, const char *xuid)
{
  if (xuid) {
    puts_(o, "UID:");
    value(o, xuid, true);
    eol(o);
    return;
  }
  if (!id || strlen(id) != 32 || strspn(id, "0123456789abcdef") != 32)
    return;
  char u[37];
  size_t k = 0;
  for (int i = 0; i < 32; i++) {
    if (i == 8 || i == 12 || i == 16 || i == 20)
      u[k++] = '-';
    u[k++] = id[i];
  }
  u[k] = 0;
  puts_(o, "UID:urn:uuid:");
  puts_(o, u);
  eol(o);
}

int kith_vcard_write(FILE *f, const json_t *c)
{
  struct out o = {.f = f, .col = 0};
  const json_t *x = json_object_get(c, "x");
  if (!json_is_object(c))
    return KITH_EINVAL;
  puts_(&o, "BEGIN:VCARD");
  eol(&o);
  puts_(&o, "VERSION:4.0");
  eol(&o);
  puts_(&o, "PRODID:-//kith//kith " KITH_VERSION "//EN");
  eol(&o);
  uid_prop(&o, str(c, "id"), str(x, "uid"));

  puts_(&o, "FN:");
  value(&o, str(c, "name") ? str(c, "name") : "", false);
  eol(&o);
  static const char *const n_parts[] = {"family_name", "given_name", "middle_name",
                                        "name_prefix", "name_suffix"};
  bool have_n = false;
  for (int i = 0; i < 5; i++)
    have_n = have_n || str(c, n_parts[i]);
  if (have_n) {
    puts_(&o, "N:");
    for (int i = 0; i < 5; i++) {
      if (i)
        put(&o, ";", 1);
      if (str(c, n_parts[i]))
        value(&o, str(c, n_parts[i]), false);
    }
    eol(&o);
  }
  text_prop(&o, "NICKNAME", str(c, "nickname"));
  org_prop(&o, str(c, "org"), str(x, "org-units"));
  text_prop(&o, "TITLE", str(c, "title"));
  date_prop(&o, "BDAY", str(c, "birthday"));
  typed_props(&o, c, "emails", "EMAIL", "", false);
  typed_props(&o, c, "phones", "TEL", ";VALUE=text", false);
  adr_props(&o, c);
  typed_props(&o, c, "links", "URL", "", true);
  typed_props(&o, c, "ims", "IMPP", "", true);
  categories(&o, json_object_get(c, "tags"));

  size_t i;
  const json_t *note;
  json_array_foreach(json_object_get(c, "notes"), i, note)
      text_prop(&o, "NOTE", str(note, "text"));

  text_prop(&o, "X-KITH-MET-AT", str(c, "met_at"));
  text_prop(&o, "X-KITH-NEEDS", str(c, "needs"));
  text_prop(&o, "X-KITH-OFFERS", str(c, "offers"));
  text_prop(&o, "X-KITH-LAST-CONTACTED", str(c, "last_contacted"));
  text_prop(&o, "X-KITH-FOLLOW-UP", str(c, "follow_up"));

  const char *name;
  const json_t *v;
  json_object_foreach((json_t *)x, name, v)
  {
    const char *s = json_string_value(v);
    if (!s || strcmp(name, "uid") == 0 || strcmp(name, "org-units") == 0)
      continue;
    x_prop(&o, name, s);
  }

  char rev[32];
  const char *updated = str(c, "updated");
  if (updated && basic_date(updated, rev)) {
    puts_(&o, "REV:");
    puts_(&o, rev);
    eol(&o);
  }
  puts_(&o, "END:VCARD");
  eol(&o);
  return ferror(f) ? KITH_EIO : 0;
}
