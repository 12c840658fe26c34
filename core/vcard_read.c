/*
 * vcard_read.c — vCard 2.1, 3.0 and 4.0 in.
 *
 * One pass over the file. A whole-file UTF-16 text (with or without a BOM) is
 * turned into UTF-8 first; everything else is read as bytes. Physical lines end at
 * LF, with any CRs before it dropped (CR LF, bare LF, iOS's CR CR LF); a CR
 * anywhere else is data. A file with no LF at all but CRs ends its lines at CR.
 * A property is its first line, the lines after it that start with a space or a
 * TAB (one character of the fold dropped), for quoted-printable the lines after a
 * soft break `=` (also across one empty line, when what follows is not a property),
 * and for base64 (2.1) the lines of base64 text after it, up to and including an
 * empty line. Blank lines and lines starting with '#' between properties are
 * ignored. Each value is QP-decoded, then turned into UTF-8 from its CHARSET
 * (trusted as declared, except for pure ASCII); a value with no CHARSET that is
 * not UTF-8 is read in the 8-bit charset another property of the card declares
 * (Greek_cp1253.vcf), else as windows-1252; bytes invalid in their charset become
 * U+FFFD. Only then is it split on unescaped ';' (and ',' for lists) and
 * unescaped. A 2.1 value line that ends in a backslash goes on on the next line
 * when that is not a property (Android's v21_adr_multiple_line.vcf).
 *
 * A card is read whole (its properties in one arena, reused) before it is mapped,
 * so VERSION and the Apple X-ABLabel of a group may come anywhere in it.
 * A BEGIN:VCARD inside a card is a nested (AGENT) card, skipped with a note, when
 * an END:VCARD that closes the outer card follows within 256 lines; otherwise the
 * outer card was cut short: it is noted ("no END:VCARD") and still passed on with
 * what was read (if it has a name), and the new card starts. The same holds for a
 * last card that the end of the file cuts short: passed and noted, so a truncated
 * export loses nothing that is in it.
 *
 * Mapping (TYPE words and Apple labels become the element's kind, see below):
 *
 *   vCard                         kith
 *   ----------------------------  --------------------------------------------------
 *   FN                            name (a second FN: x fn-2)
 *   N fam;given;add;prefix;suff   family_name, given_name, middle_name, name_prefix,
 *                                 name_suffix (3.0/4.0: a comma list inside a part
 *                                 is joined with spaces; in 2.1 a comma is data)
 *   (no FN)                       name = prefix given middle family suffix; else
 *                                 org, else the first e-mail, else the first phone;
 *                                 else the card is skipped with a note
 *   NICKNAME                      nickname
 *   ORG org;unit;unit             org; the units -> x org-units, joined with "; "
 *   TITLE                         title
 *   a second ORG/TITLE/NICKNAME   x org-2, title-2, nickname-2 ... (as text)
 *   BDAY                          birthday, normalised (19800322, 1980-03-22,
 *                                 1980-03-22T.., --0203, --02-03); not a real date:
 *                                 x bday (as written) and a note
 *   EMAIL                         emails ("Name" <a@b> -> a@b; mailto: dropped);
 *                                 no address in it: x email / email-N and a note
 *   TEL                           phones, as written, trimmed ("tel:" dropped)
 *   URL                           links
 *   IMPP, X-AIM, X-ICQ, X-JABBER, ims
 *   X-MSN, X-YAHOO, X-SKYPE,
 *   X-GOOGLE-TALK, X-GTALK, X-QQ,
 *   X-MS-IMADDRESS, X-GADUGADU
 *   ADR                           addresses {kind, po_box, ext, street, locality,
 *                                 region, code, country}
 *   CATEGORIES                    tags (split on unescaped commas, trimmed)
 *   NOTE                          notes [{"text"}], one per NOTE
 *   UID                           x uid
 *   X-KITH-MET-AT, -NEEDS,        met_at, needs, offers, last_contacted, follow_up
 *   -OFFERS, -LAST-CONTACTED,     (dates that are not dates: x, with a note)
 *   -FOLLOW-UP
 *   PHOTO, LOGO, SOUND, KEY       base64 -> x photo (logo...) = "data:TYPE;base64,..."
 *   (ENCODING=b/BASE64)           (invalid base64 or too large: skipped, noted)
 *   PHOTO ... as a URI            x photo = the URI
 *   X-NAME                        x name (lower case, without "x-")
 *   any other property            x name (lower case): role, gender, label, geo...
 *   repeated x names              name-2, name-3 ...
 *   group label (X-ABLabel) of    x name-label
 *     a property kept in x
 *   VERSION PRODID REV AGENT      not kept; X-ABLabel is consumed as a kind
 *
 * Kinds ("kinds": {"emails": {value: kind}}) of emails, phones, links, ims and
 * addresses: the TYPE words home, work, other, cell (mobile), iphone, main, pager,
 * fax, modem, car, isdn, video, text, textphone, msg, bbs, personal, school,
 * lower case, space-separated in that order, then any other TYPE word of letters
 * (TYPE=WhatsApp -> whatsapp); pref, internet, voice, x400 and 2.1's other e-mail
 * services, dom, intl, postal, parcel, 2.1's bare VALUE and LANGUAGE words and X-
 * words are dropped. An X-ABLabel in the same group replaces them: _$!<Label>!$_
 * markers stripped and lower-cased (AssistantPhone -> assistant, Mobile -> cell,
 * HomeFAX -> home fax), any other label as written.
 *
 * Text is kept as written (FN "Ñ Ñ " keeps its trailing space); e-mails, phones,
 * links, ims and tags are trimmed. A value longer than KITH_TEXT_FIELD_MAX (note
 * texts included) is dropped with a note; so is a tag over KITH_TAG_MAX bytes.
 * NUL bytes are dropped from values; CRs at the end of a value or a part are too.
 */
#include "core/vcard.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/charset.h"
#include "core/model.h"
#include "proto/hex.h"
#include "proto/reg.h"

#define NAME_MAX_LEN 128   /* property names, groups: longer ones are refused */
#define NEST_LOOKAHEAD 256 /* lines; an AGENT card is short */
#define X_MAX 1000         /* x fields per card */
#define LABELS_MAX 256     /* X-ABLabels looked at per card */

/* ---- growable buffers ------------------------------------------------------ */

struct buf {
  char *p;
  size_t len, cap;
};

static int KITH_MUST_CHECK buf_reserve(struct buf *b, size_t more)
{
  if (b->cap - b->len > more)
    return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap - b->len <= more) {
    if (cap > SIZE_MAX / 2)
      return KITH_ENOMEM;
    cap *= 2;
  }
  char *p = realloc(b->p, cap);
  if (!p)
    return KITH_ENOMEM;
  b->p = p;
  b->cap = cap;
  return 0;
}

/* Appends s[0..n) and keeps the buffer NUL-terminated. */
static int KITH_MUST_CHECK buf_put(struct buf *b, const char *s, size_t n)
{
  int rc = buf_reserve(b, n + 1);
  if (rc)
    return rc;
  if (n)
    memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
  return 0;
}

static int KITH_MUST_CHECK buf_putc(struct buf *b, char c)
{
  return buf_put(b, &c, 1);
}

/* ---- kinds ------------------------------------------------------------------ */

/* TYPE words worth keeping, in the order they are written out. */
static const char *const kind_names[] = {
    "home",  "work",      "other", "cell", "iphone",   "main",
    "pager", "fax",       "modem", "car",  "isdn",     "video",
    "text",  "textphone", "msg",   "bbs",  "personal", "school"};
#define KIND_COUNT (sizeof kind_names / sizeof kind_names[0])

static unsigned kind_bit(const char *w, size_t n)
{
  if (n == 11 && strncasecmp(w, "main-number", 11) == 0)
    return 1u << 5;
  for (size_t i = 0; i < KIND_COUNT; i++)
    if (strlen(kind_names[i]) == n && strncasecmp(w, kind_names[i], n) == 0)
      return 1u << i;
  return 0;
}

/* ---- properties kith knows ------------------------------------------------------ */

enum prop_id {
  PR_OTHER, /* kept in x */
  PR_DROP,  /* not kept */
  PR_VERSION,
  PR_LABEL, /* X-ABLabel: the kind of its group */
  PR_FN,
  PR_N,
  PR_NICKNAME,
  PR_ORG,
  PR_TITLE,
  PR_BDAY,
  PR_EMAIL,
  PR_TEL,
  PR_URL,
  PR_IM,
  PR_ADR,
  PR_CATEGORIES,
  PR_NOTE,
  PR_MET_AT,
  PR_NEEDS,
  PR_OFFERS,
  PR_LAST_CONTACTED,
  PR_FOLLOW_UP,
  PR_PHOTO, /* PHOTO, LOGO: base64 or a URI */
  PR_BLOB,  /* SOUND, KEY: base64 or a URI, else text */
};

static const struct prop_name {
  const char *name;
  enum prop_id id;
} prop_names[] = {/* sorted for bsearch */
                  {"ADR", PR_ADR},
                  {"AGENT", PR_DROP},
                  {"BDAY", PR_BDAY},
                  {"BEGIN", PR_DROP},
                  {"CATEGORIES", PR_CATEGORIES},
                  {"EMAIL", PR_EMAIL},
                  {"END", PR_DROP},
                  {"FN", PR_FN},
                  {"IMPP", PR_IM},
                  {"KEY", PR_BLOB},
                  {"LOGO", PR_PHOTO},
                  {"N", PR_N},
                  {"NICKNAME", PR_NICKNAME},
                  {"NOTE", PR_NOTE},
                  {"ORG", PR_ORG},
                  {"PHOTO", PR_PHOTO},
                  {"PRODID", PR_DROP},
                  {"REV", PR_DROP},
                  {"SOUND", PR_BLOB},
                  {"TEL", PR_TEL},
                  {"TITLE", PR_TITLE},
                  {"URL", PR_URL},
                  {"VERSION", PR_VERSION},
                  {"X-ABLABEL", PR_LABEL},
                  {"X-AIM", PR_IM},
                  {"X-GADUGADU", PR_IM},
                  {"X-GOOGLE-TALK", PR_IM},
                  {"X-GTALK", PR_IM},
                  {"X-ICQ", PR_IM},
                  {"X-JABBER", PR_IM},
                  {"X-KITH-FOLLOW-UP", PR_FOLLOW_UP},
                  {"X-KITH-LAST-CONTACTED", PR_LAST_CONTACTED},
                  {"X-KITH-MET-AT", PR_MET_AT},
                  {"X-KITH-NEEDS", PR_NEEDS},
                  {"X-KITH-OFFERS", PR_OFFERS},
                  {"X-MS-IMADDRESS", PR_IM},
                  {"X-MSN", PR_IM},
                  {"X-QQ", PR_IM},
                  {"X-SKYPE", PR_IM},
                  {"X-SKYPE-USERNAME", PR_IM},
                  {"X-YAHOO", PR_IM}};

static int by_name(const void *key, const void *elem)
{
  return strcmp(key, ((const struct prop_name *)elem)->name);
}

static enum prop_id prop_id_of(const char *name)
{
  const struct prop_name *e =
      bsearch(name, prop_names, sizeof prop_names / sizeof prop_names[0],
              sizeof prop_names[0], by_name);
  return e ? e->id : PR_OTHER;
}

/* ---- the reader --------------------------------------------------------------- */

enum {
  P_QP = 1,   /* ENCODING=QUOTED-PRINTABLE */
  P_B64 = 2,  /* ENCODING=b or BASE64 */
  P_URI = 4,  /* VALUE=uri */
  P_UTF8 = 8, /* CHARSET=UTF-8 declared */
};

/* One property of the card being read; text lives in the reader's arena. */
struct vprop {
  size_t line;
  size_t goff, glen; /* group, lower case */
  size_t voff, vlen; /* value: decoded to UTF-8, still escaped */
  unsigned kinds, flags;
  enum prop_id id;
  char name[NAME_MAX_LEN]; /* upper case, no group */
  char media[32];          /* PHOTO's TYPE=JPEG or MEDIATYPE */
  char extra[48];          /* other TYPE words, lower case, space-separated */
  char charset[48];
  char xname[NAME_MAX_LEN]; /* X-KITH-X's X-NAME: the x field's own name */
};

struct rd {
  const char *s;
  size_t len, pos, line; /* line: the number of the last line read */
  char eol;
  bool converted; /* the file was UTF-16: CHARSET no longer applies */
  const struct kith_import_sink *sink;
  struct buf arena, tmp;
  struct vprop *props;
  size_t nprops, capprops;
};

static void note(struct rd *r, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void note(struct rd *r, size_t line, const char *fmt, ...)
{
  char why[256];
  va_list ap;
  if (!r->sink->skip)
    return;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  size_t n = strlen(why);
  while (n && !kith_utf8_valid(why, n)) /* cut short inside a character */
    why[--n] = 0;
  r->sink->skip(r->sink->arg, line, why);
}

/* The next physical line, its end and the CRs before it dropped; false at the end
 * of the text. */
static bool line_next(struct rd *r, const char **l, size_t *n)
{
  if (r->pos >= r->len)
    return false;
  const char *p = r->s + r->pos;
  size_t left = r->len - r->pos;
  const char *e = memchr(p, r->eol, left);
  size_t k = e ? (size_t)(e - p) : left;
  r->pos += e ? k + 1 : k;
  r->line++;
  if (r->eol == '\n')
    while (k && p[k - 1] == '\r')
      k--;
  *l = p;
  *n = k;
  return true;
}

static bool line_peek(struct rd *r, const char **l, size_t *n)
{
  size_t pos = r->pos, line = r->line;
  bool ok = line_next(r, l, n);
  r->pos = pos;
  r->line = line;
  return ok;
}

static bool is_word(const char *l, size_t n, const char *w, size_t k)
{
  if (n < k || (l[0] | 0x20) != (w[0] | 0x20)) /* most lines: one compare */
    return false;
  while (n && (l[n - 1] == ' ' || l[n - 1] == '\t'))
    n--;
  return n == k && strncasecmp(l, w, k) == 0;
}

static bool is_begin(const char *l, size_t n)
{
  return is_word(l, n, "BEGIN:VCARD", 11);
}

static bool is_end(const char *l, size_t n)
{
  return is_word(l, n, "END:VCARD", 9);
}

static bool name_char(char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '_' || c == '.';
}

/* A line that starts a property: NAME followed by ';' or ':'. */
static bool looks_like_prop(const char *l, size_t n)
{
  size_t i = 0;
  while (i < n && name_char(l[i]))
    i++;
  return i > 0 && i < n && (l[i] == ';' || l[i] == ':');
}

static bool b64_char(char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '+' || c == '/' || c == '=';
}

static bool b64_line(const char *l, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!b64_char(l[i]) && l[i] != ' ' && l[i] != '\t')
      return false;
  return n > 0;
}

/* Quoted-printable in place; an '=' not followed by two hex digits is data. */
static size_t qp_decode(char *s, size_t n)
{
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    int hi, lo;
    if (s[i] == '=' && i + 2 < n && (hi = kith_hex_digit(s[i + 1])) >= 0 &&
        (lo = kith_hex_digit(s[i + 2])) >= 0) {
      s[j++] = (char)(hi * 16 + lo);
      i += 2;
    } else {
      s[j++] = s[i];
    }
  }
  return j;
}

/* Another TYPE word kept as a kind after the known ones (TYPE=assistant,
 * TYPE=WhatsApp): letters and '-' only, not X-, not one that says nothing about
 * the element (pref, internet, voice, 2.1's e-mail services, ADR's postal...). */
static void kind_extra(struct vprop *p, const char *v, size_t vl)
{
  static const char *const none[] = {
      "pref",   "internet", "voice",      "x400",       "dom",     "intl",
      "postal", "parcel",   "aol",        "applelink",  "attmail", "cis",
      "eworld", "ibmmail",  "mcimail",    "powershare", "prodigy", "tlx",
      "inline", "url",      "content-id", "cid",        "vcard"};
  size_t at = strlen(p->extra);
  if (vl < 2 || vl > 20 || at + vl + 2 > sizeof p->extra ||
      ((v[0] == 'x' || v[0] == 'X') && v[1] == '-') || (vl >= 4 && v[2] == '-'))
    return; /* too short or long, X-, a 2.1 bare LANGUAGE (de-DE) */
  for (size_t i = 0; i < vl; i++)
    if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') || v[i] == '-'))
      return;
  for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
    if (strlen(none[i]) == vl && strncasecmp(v, none[i], vl) == 0)
      return;
  char w[24];
  for (size_t i = 0; i < vl; i++)
    w[i] = (char)(v[i] >= 'A' && v[i] <= 'Z' ? v[i] + 32 : v[i]);
  w[vl] = 0;
  for (const char *e = strstr(p->extra, w); e; e = strstr(e + 1, w))
    if ((e == p->extra || e[-1] == ' ') && (e[vl] == 0 || e[vl] == ' '))
      return; /* already there */
  if (at)
    p->extra[at++] = ' ';
  memcpy(p->extra + at, w, vl + 1);
}

/* One parameter value (a TYPE word, an encoding...) of p. */
static void param_word(struct vprop *p, const char *key, size_t kl, const char *v,
                       size_t vl)
{
  bool bare = kl == 0;
  if (bare || (kl == 4 && strncasecmp(key, "TYPE", 4) == 0)) {
    unsigned b = kind_bit(v, vl);
    if (b) {
      p->kinds |= b;
      return;
    }
  }
  if (bare || (kl == 8 && strncasecmp(key, "ENCODING", 8) == 0)) {
    if (vl == 16 && strncasecmp(v, "QUOTED-PRINTABLE", 16) == 0) {
      p->flags |= P_QP;
      return;
    }
    if ((vl == 1 && (v[0] == 'b' || v[0] == 'B')) ||
        (vl == 6 && strncasecmp(v, "BASE64", 6) == 0)) {
      p->flags |= P_B64;
      return;
    }
    if (!bare || (vl == 4 && strncasecmp(v, "8BIT", 4) == 0))
      return;
  }
  if (kl == 5 && strncasecmp(key, "VALUE", 5) == 0) {
    if (vl == 3 && strncasecmp(v, "URI", 3) == 0)
      p->flags |= P_URI;
    return;
  }
  if (kl == 6 && strncasecmp(key, "X-NAME", 6) == 0) {
    /* kith's writer: X-KITH-X;X-NAME="Shoe Size":6. RFC 6868's ^^ ^' ^n decoded;
     * a comma split the quoted value into words: put it back */
    size_t at = strlen(p->xname);
    if (at && at + 1 < sizeof p->xname)
      p->xname[at++] = ',';
    for (size_t i = 0; i < vl && at + 1 < sizeof p->xname; i++) {
      char c = v[i];
      if (c == '^' && i + 1 < vl &&
          (v[i + 1] == '^' || v[i + 1] == '\'' || v[i + 1] == 'n')) {
        i++;
        c = v[i] == '^' ? '^' : v[i] == 'n' ? '\n' : '"';
      }
      p->xname[at++] = c;
    }
    p->xname[at] = 0;
    return;
  }
  if (kl == 7 && strncasecmp(key, "CHARSET", 7) == 0) {
    for (size_t i = 0; i < vl; i++) /* a name, printable in a note */
      if (v[i] <= ' ' || v[i] > '~')
        return;
    if (vl && vl < sizeof p->charset) {
      memcpy(p->charset, v, vl);
      p->charset[vl] = 0;
      if (strcasecmp(p->charset, "UTF-8") == 0 || strcasecmp(p->charset, "UTF8") == 0)
        p->flags |= P_UTF8;
    }
    return;
  }
  bool type = bare || (kl == 4 && strncasecmp(key, "TYPE", 4) == 0);
  /* a media type: PHOTO;TYPE=JPEG, PHOTO;JPEG (2.1), MEDIATYPE=image/png (4.0) */
  if ((type || (kl == 9 && strncasecmp(key, "MEDIATYPE", 9) == 0)) && !p->media[0] &&
      vl && vl < sizeof p->media) {
    static const char *const known[] = {"jpeg", "jpg",  "png",  "gif",  "bmp",
                                        "tiff", "webp", "heic", "pict", "wav",
                                        "mp3",  "ogg",  "pdf",  "pgp",  "x509"};
    bool ok = memchr(v, '/', vl) != NULL; /* image/png; else a known subtype */
    for (size_t i = 0; i < sizeof known / sizeof known[0] && !ok; i++)
      ok = strlen(known[i]) == vl && strncasecmp(v, known[i], vl) == 0;
    for (size_t i = 0; i < vl && ok; i++)
      ok = name_char(v[i]) || v[i] == '/' || v[i] == '+';
    for (size_t i = 0; i < vl && ok; i++)
      p->media[i] = (char)(v[i] >= 'A' && v[i] <= 'Z' ? v[i] + 32 : v[i]);
    if (ok)
      p->media[vl] = 0;
  }
  if (type)
    kind_extra(p, v, vl);
}

/* The parameters in h[*i..): ";KEY=v,"v";BARE..." up to the value's ':'. Returns
 * the offset of that ':' or SIZE_MAX. Quotes guard ; : , unless quotes is false
 * (a second try after an unbalanced quote). */
static size_t params_parse(struct vprop *p, const char *h, size_t hl, size_t i,
                           bool quotes)
{
  while (i < hl && h[i] == ';') {
    size_t ks = ++i;
    while (i < hl && h[i] != '=' && h[i] != ';' && h[i] != ':')
      i++;
    size_t ke = i;
    if (i < hl && h[i] == '=') {
      i++;
      /* a list of values, each maybe quoted */
      for (;;) {
        size_t vs = i;
        bool q = false;
        if (quotes && i < hl && h[i] == '"') {
          q = true;
          vs = ++i;
          while (i < hl && h[i] != '"')
            i++;
          if (i >= hl)
            return SIZE_MAX;
        } else {
          while (i < hl && h[i] != ',' && h[i] != ';' && h[i] != ':')
            i++;
        }
        size_t ve = i;
        if (q) {
          i++; /* the closing quote */
          /* TYPE="work,voice": a list inside the quotes */
          size_t a = vs;
          for (size_t j = vs; j <= ve; j++)
            if (j == ve || h[j] == ',') {
              param_word(p, h + ks, ke - ks, h + a, j - a);
              a = j + 1;
            }
        } else {
          param_word(p, h + ks, ke - ks, h + vs, ve - vs);
        }
        if (i < hl && h[i] == ',') {
          i++;
          continue;
        }
        break;
      }
    } else if (ke > ks) {
      param_word(p, NULL, 0, h + ks, ke - ks);
    }
  }
  return i < hl && h[i] == ':' ? i : SIZE_MAX;
}

static bool pure_ascii(const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] >= 0x80)
      return false;
  return true;
}

/* p's value in UTF-8: from its CHARSET; undeclared and not UTF-8, from guess
 * (the card's declared 8-bit charset, else windows-1252, what Windows exports
 * write). A converted value goes to the arena's end, and p to it. Then NULs (which
 * would cut the text short further on) and CRs at the end (line ends) go. */
static int value_to_utf8(struct rd *r, struct vprop *p, const char *guess)
{
  const char *v = r->arena.p + p->voff;
  size_t n = p->vlen;
  const char *cs = p->charset[0] && !r->converted ? p->charset : NULL;
  bool valid = kith_utf8_valid(v, n);
  int rc = 0;
  if (p->flags & P_UTF8)
    cs = NULL;
  /* ASCII reads the same in every charset a vCard declares but the wide ones */
  if (cs && pure_ascii(v, n) && strncasecmp(cs, "UTF-1", 5) != 0 &&
      strncasecmp(cs, "UTF-3", 5) != 0 && strncasecmp(cs, "UCS", 3) != 0 &&
      strncasecmp(cs, "UTF-7", 5) != 0)
    cs = NULL;
  if (cs || !valid) {
    bool guessed = false;
    if (!cs && !(p->flags & P_UTF8) && !r->converted) {
      cs = guess;
      guessed = true;
    }
    char *o = NULL;
    size_t on = 0;
    rc = kith_charset_to_utf8(cs, v, n, &o, &on);
    if (rc == KITH_EINVAL) {
      if (!guessed) /* the guess is another property's: noted there */
        note(r, p->line, "%s: unknown CHARSET %s: read as %s", p->name, cs,
             valid ? "UTF-8" : "windows-1252");
      rc = kith_charset_to_utf8(valid ? NULL : "windows-1252", v, n, &o, &on);
    }
    if (rc)
      return rc;
    p->voff = r->arena.len;
    p->vlen = on;
    rc = buf_put(&r->arena, o, on);
    free(o);
    if (rc == 0)
      rc = buf_putc(&r->arena, 0);
    if (rc)
      return rc;
  }
  char *w = r->arena.p + p->voff;
  size_t j = 0;
  for (size_t k = 0; k < p->vlen; k++)
    if (w[k])
      w[j++] = w[k];
  while (j && w[j - 1] == '\r')
    j--;
  w[j] = 0;
  p->vlen = j;
  return 0;
}

/* Reads one property starting at line l (number lineno), pulling in its
 * continuation lines, into the arena and the card's property list. */
static int prop_read(struct rd *r, const char *l, size_t n, size_t lineno)
{
  size_t mark = r->arena.len;
  const char *nl;
  size_t nn;
  int rc = buf_put(&r->arena, l, n);
  /* the next line starts at r->pos: a space or TAB there folds it in */
  while (rc == 0 && r->pos < r->len && (r->s[r->pos] == ' ' || r->s[r->pos] == '\t') &&
         line_next(r, &nl, &nn)) {
    if (nn > 0)
      rc = buf_put(&r->arena, nl + 1, nn - 1);
  }
  if (rc)
    return rc;

  struct vprop p;
  memset(&p, 0, sizeof p);
  p.line = lineno;
  const char *h = r->arena.p + mark;
  size_t hl = r->arena.len - mark, i = 0, dot = SIZE_MAX;
  while (i < hl && name_char(h[i])) {
    if (h[i] == '.')
      dot = i;
    i++;
  }
  size_t ns = dot == SIZE_MAX ? 0 : dot + 1;
  if (i == hl || (h[i] != ';' && h[i] != ':') || i == ns) {
    note(r, lineno,
         memchr(h, ':', hl) ? "not a property: ignored" : "no colon: line ignored");
    r->arena.len = mark;
    return 0;
  }
  if (i - ns >= NAME_MAX_LEN || (dot != SIZE_MAX && dot >= NAME_MAX_LEN)) {
    note(r, lineno, "property name too long: ignored");
    r->arena.len = mark;
    return 0;
  }
  for (size_t k = ns; k < i; k++)
    p.name[k - ns] = (char)(h[k] >= 'a' && h[k] <= 'z' ? h[k] - 32 : h[k]);
  p.id = prop_id_of(p.name);
  if (dot != SIZE_MAX) {
    p.goff = mark;
    p.glen = dot;
    for (size_t k = 0; k < dot; k++)
      if (r->arena.p[mark + k] >= 'A' && r->arena.p[mark + k] <= 'Z')
        r->arena.p[mark + k] += 32;
  }
  struct vprop base = p;
  size_t colon = params_parse(&p, h, hl, i, true);
  if (colon == SIZE_MAX) { /* an unbalanced quote: read it as data */
    p = base;
    colon = params_parse(&p, h, hl, i, false);
  }
  if (colon == SIZE_MAX) {
    note(r, lineno, "%s: no colon: ignored", p.name);
    r->arena.len = mark;
    return 0;
  }
  size_t voff = mark + colon + 1;

  if (p.flags & P_QP) {
    /* soft line breaks: '=' at the end joins the next line, even across one
     * empty line when what follows is not a property (Cropped_2_1.vcf) */
    while (r->arena.len > voff && r->arena.p[r->arena.len - 1] == '=') {
      r->arena.len--; /* the soft break */
      if (!line_peek(r, &nl, &nn) || is_end(nl, nn) || is_begin(nl, nn))
        break;
      if (nn == 0) {
        size_t pos = r->pos, line = r->line;
        line_next(r, &nl, &nn);
        if (!line_peek(r, &nl, &nn) || nn == 0 || looks_like_prop(nl, nn) ||
            is_end(nl, nn) || is_begin(nl, nn)) {
          r->pos = pos;
          r->line = line;
          break;
        }
      }
      line_next(r, &nl, &nn);
      if ((rc = buf_put(&r->arena, nl, nn)) != 0)
        return rc;
    }
    r->arena.len = voff + qp_decode(r->arena.p + voff, r->arena.len - voff);
  } else if (p.flags & P_B64) {
    /* 2.1: base64 lines (indented or not) up to an empty line */
    while (line_peek(r, &nl, &nn) && b64_line(nl, nn) && !looks_like_prop(nl, nn)) {
      line_next(r, &nl, &nn);
      for (size_t k = 0; k < nn; k++)
        if (nl[k] != ' ' && nl[k] != '\t' && (rc = buf_putc(&r->arena, nl[k])) != 0)
          return rc;
    }
    if (line_peek(r, &nl, &nn) && nn == 0)
      line_next(r, &nl, &nn);
  } else {
    /* 2.1 as Android writes it: a backslash at the end of a line goes on to the
     * next line, when that is not a property (v21_adr_multiple_line.vcf) */
    while (r->arena.len > voff && r->arena.p[r->arena.len - 1] == '\\' &&
           line_peek(r, &nl, &nn) && nn > 0 && !looks_like_prop(nl, nn) &&
           !is_end(nl, nn) && !is_begin(nl, nn)) {
      line_next(r, &nl, &nn);
      r->arena.p[r->arena.len - 1] = '\n';
      if ((rc = buf_put(&r->arena, nl, nn)) != 0)
        return rc;
    }
  }
  /* base64 may be indented by more than the one space a fold takes */
  char *v = r->arena.p + voff;
  size_t vn = r->arena.len - voff, j = vn;
  if (p.flags & P_B64) {
    j = 0;
    for (size_t k = 0; k < vn; k++)
      if (v[k] != ' ' && v[k] != '\t' && v[k] != '\r')
        v[j++] = v[k];
  }
  r->arena.len = voff + j;
  if ((rc = buf_putc(&r->arena, 0)) != 0) /* each value NUL-terminated */
    return rc;
  p.voff = voff;
  p.vlen = j;

  if (r->nprops == r->capprops) {
    size_t cap = r->capprops ? r->capprops * 2 : 32;
    struct vprop *np = realloc(r->props, cap * sizeof *np);
    if (!np)
      return KITH_ENOMEM;
    r->props = np;
    r->capprops = cap;
  }
  r->props[r->nprops++] = p;
  return 0;
}

/* ---- mapping a card ----------------------------------------------------------- */

struct card {
  struct rd *r;
  json_t *c, *x, *kinds;
  bool v21;
  bool x_full;
  size_t line;
  int rc;
  int emails; /* EMAIL properties seen */
  size_t nlabels;
  size_t labels[LABELS_MAX]; /* the X-ABLabel properties with a group; last */
};

static const char *pval(const struct card *k, const struct vprop *p)
{
  return k->r->arena.p + p->voff;
}

static void oom(struct card *k)
{
  if (!k->rc)
    k->rc = KITH_ENOMEM;
}

/* Sets key of o to a new string s[0..n) (valid UTF-8 by now). */
static void set_str(struct card *k, json_t *o, const char *key, const char *s, size_t n)
{
  while (n && s[n - 1] == '\r') /* a CR at the end was a line end (or "=0D") */
    n--;
  json_t *v = json_stringn_nocheck(s, n); /* valid UTF-8 by now */
  if (!v || json_object_set_new_nocheck(o, key, v) != 0)
    oom(k);
}

static json_t *child(struct card *k, json_t *o, const char *key, bool array)
{
  json_t *a = json_object_get(o, key);
  if (a)
    return a;
  a = array ? json_array() : json_object();
  if (!a || json_object_set_new_nocheck(o, key, a) != 0) {
    oom(k);
    return NULL;
  }
  return a;
}

/* Unescapes s[0..n) into b: \n \N -> LF, \, \; \: \\ \" -> the character; other
 * backslashes stay. With lists, an unescaped ',' becomes sep (0: kept). */
static int unescape(struct buf *b, const char *s, size_t n, char sep)
{
  int rc = buf_reserve(b, n + 1);
  if (rc)
    return rc;
  char *o = b->p + b->len;
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '\\' && i + 1 < n) {
      char d = s[i + 1];
      if (d == 'n' || d == 'N') {
        o[j++] = '\n';
        i++;
        continue;
      }
      if (d == ',' || d == ';' || d == ':' || d == '\\' || d == '"') {
        o[j++] = d;
        i++;
        continue;
      }
    } else if (c == ',' && sep) {
      c = sep;
    }
    o[j++] = c;
  }
  b->len += j;
  b->p[b->len] = 0;
  return 0;
}

/* Splits v on unescaped ';' into at most max parts (the last takes the rest),
 * each unescaped into k->r->tmp (NUL-terminated); part[i] point there, *np is how
 * many. sep as for unescape. */
static int split(struct card *k, const char *v, size_t n, size_t max, char sep,
                 const char **part, size_t *np)
{
  struct buf *b = &k->r->tmp;
  size_t offs[16];
  size_t cnt = 0, a = 0;
  int rc = 0;
  b->len = 0;
  if (max > 16)
    max = 16;
  for (size_t i = 0; i <= n && rc == 0; i++) {
    if (i + 1 < n && v[i] == '\\') {
      i++;
      continue;
    }
    if (i == n || (v[i] == ';' && cnt + 1 < max)) {
      offs[cnt++] = b->len;
      rc = unescape(b, v + a, (i < n ? i : n) - a, sep);
      if (rc == 0)
        rc = buf_putc(b, 0);
      a = i + 1;
    }
  }
  if (rc)
    return rc;
  for (size_t i = 0; i < cnt; i++)
    part[i] = b->p + offs[i];
  *np = cnt;
  return 0;
}

static void trim(const char **s, size_t *n)
{
  while (*n &&
         ((*s)[0] == ' ' || (*s)[0] == '\t' || (*s)[0] == '\r' || (*s)[0] == '\n'))
    (*s)++, (*n)--;
  while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r' ||
                (*s)[*n - 1] == '\n'))
    (*n)--;
}

static bool blank(const char *s, size_t n)
{
  trim(&s, &n);
  return n == 0;
}

/* x NAME = s[0..n): NAME-2, NAME-3 ... when taken; from 2: NAME-2 at least (a
 * second ORG, TITLE...: the first one is a field). */
static void x_put(struct card *k, const struct vprop *p, const char *name,
                  const char *s, size_t n, int from)
{
  char key[NAME_MAX_LEN + 16];
  if (n == 0 || k->rc)
    return;
  if (k->x_full)
    return;
  if (!k->x && !(k->x = child(k, k->c, "x", false)))
    return;
  if (json_object_size(k->x) >= X_MAX) {
    k->x_full = true;
    note(k->r, p->line, "more than %d other fields: the rest dropped", X_MAX);
    return;
  }
  if (from < 2)
    snprintf(key, sizeof key, "%s", name);
  else
    snprintf(key, sizeof key, "%s-%d", name, from);
  for (int i = from < 2 ? 2 : from + 1; json_object_get(k->x, key); i++)
    snprintf(key, sizeof key, "%s-%d", name, i);
  if (strlen(key) + n > KITH_TEXT_FIELD_MAX) {
    note(k->r, p->line, "%s: value too large (%zu bytes): dropped", p->name, n);
    return;
  }
  set_str(k, k->x, key, s, n);
}

static void x_add(struct card *k, const struct vprop *p, const char *name,
                  const char *s, size_t n)
{
  x_put(k, p, name, s, n, 1);
}

/* The x name of a property: lower case, without "x-"; for kith's X-KITH-X, the
 * name its X-NAME parameter gives, as written. */
static void x_name(const struct vprop *p, char out[NAME_MAX_LEN])
{
  const char *s = p->name;
  if (strcmp(s, "X-KITH-X") == 0 && p->xname[0]) {
    memcpy(out, p->xname, strlen(p->xname) + 1);
    return;
  }
  if ((s[0] == 'X' && s[1] == '-' && s[2]))
    s += 2;
  size_t i = 0;
  for (; s[i] && i + 1 < NAME_MAX_LEN; i++)
    out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
  out[i] = 0;
}

/* The label of p's group (X-ABLabel), or NULL. */
static const char *group_label(struct card *k, const struct vprop *p, char *buf,
                               size_t cap)
{
  struct rd *r = k->r;
  if (!p->glen)
    return NULL;
  for (size_t i = 0; i < k->nlabels; i++) {
    const struct vprop *q = &r->props[k->labels[i]];
    if (q->glen != p->glen ||
        memcmp(r->arena.p + q->goff, r->arena.p + p->goff, p->glen) != 0)
      continue;
    const char *s = pval(k, q);
    size_t n = q->vlen;
    trim(&s, &n);
    if (n >= 8 && strncmp(s, "_$!<", 4) == 0 && strncmp(s + n - 4, ">!$_", 4) == 0) {
      static const char *const apple[][2] = {{"assistantphone", "assistant"},
                                             {"mobile", "cell"},
                                             {"homefax", "home fax"},
                                             {"workfax", "work fax"},
                                             {"otherfax", "other fax"}};
      s += 4, n -= 8;
      if (n >= cap)
        return NULL;
      for (size_t j = 0; j < n; j++)
        buf[j] = (char)(s[j] >= 'A' && s[j] <= 'Z' ? s[j] + 32 : s[j]);
      buf[n] = 0;
      for (size_t j = 0; j < sizeof apple / sizeof apple[0]; j++)
        if (strcmp(buf, apple[j][0]) == 0)
          snprintf(buf, cap, "%s", apple[j][1]);
      return buf[0] ? buf : NULL;
    }
    if (n == 0 || n >= cap)
      return NULL;
    size_t j = 0;
    for (size_t m = 0; m < n; m++) /* a label is a kind word: no CR or LF in it */
      buf[j++] = s[m] == '\r' || s[m] == '\n' ? ' ' : s[m];
    buf[j] = 0;
    return buf;
  }
  return NULL;
}

/* The kind of p: its group's label, else its TYPE words. */
static const char *kind_of(struct card *k, const struct vprop *p, char *buf, size_t cap)
{
  const char *l = group_label(k, p, buf, cap);
  if (l)
    return l;
  size_t at = 0;
  buf[0] = 0;
  for (size_t i = 0; i < KIND_COUNT; i++)
    if (p->kinds & (1u << i)) {
      size_t w = strlen(kind_names[i]);
      if (at + w + 2 > cap)
        break;
      if (at)
        buf[at++] = ' ';
      memcpy(buf + at, kind_names[i], w + 1);
      at += w;
    }
  size_t w = strlen(p->extra);
  if (w && at + w + 2 <= cap) {
    if (at)
      buf[at++] = ' ';
    memcpy(buf + at, p->extra, w + 1);
    at += w;
  }
  return at ? buf : NULL;
}

/* Appends value s[0..n) to the typed set field (emails, phones...) with p's kind. */
static void typed_add(struct card *k, const struct vprop *p, const char *field,
                      const char *s, size_t n)
{
  char kb[128];
  trim(&s, &n);
  if (!n || k->rc)
    return;
  if (n + sizeof kb > KITH_TEXT_FIELD_MAX) {
    note(k->r, p->line, "%s: value too large (%zu bytes): dropped", p->name, n);
    return;
  }
  json_t *a = child(k, k->c, field, true);
  json_t *v = json_stringn_nocheck(s, n);
  if (!a || !v || json_array_append_new(a, v) != 0) {
    oom(k);
    return;
  }
  const char *kind = kind_of(k, p, kb, sizeof kb);
  if (!kind)
    return;
  if (!k->kinds && !(k->kinds = child(k, k->c, "kinds", false)))
    return;
  json_t *m = child(k, k->kinds, field, false);
  if (!m)
    return;
  if (!json_object_getn(m, s, n)) {
    json_t *v2 = json_string_nocheck(kind);
    if (!v2 || json_object_setn_new_nocheck(m, s, n, v2) != 0)
      oom(k);
  }
}

/* A one-value text field: the first one wins; later ones go to x NAME-2... */
static void text_set(struct card *k, const struct vprop *p, const char *field,
                     const char *s, size_t n)
{
  char xn[NAME_MAX_LEN];
  if (!n || blank(s, n))
    return;
  if (json_object_get(k->c, field)) {
    x_name(p, xn);
    x_put(k, p, xn, s, n, 2);
    return;
  }
  if (n > KITH_TEXT_FIELD_MAX) {
    note(k->r, p->line, "%s: value too large (%zu bytes): dropped", p->name, n);
    return;
  }
  set_str(k, k->c, field, s, n);
}

/* YYYYMMDD, YYYY-MM-DD, either with a time after a T, --MMDD, --MM-DD, as
 * YYYY-MM-DD or --MM-DD in out; false if it is not a real date. */
static bool date_norm(const char *s, size_t n, char out[11])
{
  size_t d = 0;
  trim(&s, &n);
  while (d < n && s[d] >= '0' && s[d] <= '9')
    d++;
  bool end = d == n || s[d] == 'T' || s[d] == 't';
  if (d == 8 && end) {
    snprintf(out, 11, "%.4s-%.2s-%.2s", s, s + 4, s + 6);
  } else if (n >= 10 && d == 4 && s[4] == '-' && (n == 10 || s[10] == 'T')) {
    memcpy(out, s, 10);
    out[10] = 0;
  } else if (n >= 6 && s[0] == '-' && s[1] == '-') {
    const char *t = s + 2;
    size_t m = n - 2, k = 0;
    while (k < m && t[k] >= '0' && t[k] <= '9')
      k++;
    if (k == 4 && (m == 4 || t[4] == 'T'))
      snprintf(out, 11, "--%.2s-%.2s", t, t + 2);
    else if (m >= 5 && k == 2 && t[2] == '-' && (m == 5 || t[5] == 'T'))
      snprintf(out, 11, "--%.5s", t);
    else
      return false;
  } else {
    return false;
  }
  for (size_t i = 0; out[i]; i++)
    if (!((out[i] >= '0' && out[i] <= '9') || out[i] == '-'))
      return false;
  return kith_date_valid(out);
}

static void date_set(struct card *k, const struct vprop *p, const char *field,
                     const char *s, size_t n)
{
  char d[11], xn[NAME_MAX_LEN];
  if (blank(s, n))
    return;
  if (!json_object_get(k->c, field) && date_norm(s, n, d)) {
    set_str(k, k->c, field, d, strlen(d));
    return;
  }
  x_name(p, xn);
  if (json_object_get(k->c, field)) {
    x_put(k, p, xn, s, n, 2);
    return;
  }
  size_t cut = n > 40 ? 40 : n;
  while (cut < n && cut && ((unsigned char)s[cut] & 0xc0) == 0x80)
    cut--; /* not in the middle of a character */
  note(k->r, p->line, "%s %.*s is not a date: kept as x-%s", p->name, (int)cut, s, xn);
  x_add(k, p, xn, s, n);
}

/* The address in an e-mail value: "Name" <a@b> -> a@b, mailto: dropped; NULL
 * if there is none. */
static const char *email_addr(const char *s, size_t n, size_t *len)
{
  trim(&s, &n);
  const char *lt = memchr(s, '<', n);
  if (lt) {
    const char *gt = memchr(lt, '>', n - (size_t)(lt - s));
    if (gt) {
      n = (size_t)(gt - lt - 1);
      s = lt + 1;
      trim(&s, &n);
    }
  }
  if (n > 7 && strncasecmp(s, "mailto:", 7) == 0)
    s += 7, n -= 7;
  const char *at = memchr(s, '@', n);
  if (!at || at == s || at == s + n - 1)
    return NULL;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] <= ' ')
      return NULL;
  *len = n;
  return s;
}

/* Base64 text (whitespace already out): valid, padding only at the end. */
static bool b64_valid(const char *s, size_t n)
{
  size_t pad = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '=') {
      pad++;
      continue;
    }
    if (pad || !b64_char(s[i]))
      return false;
  }
  return pad <= 2 && (n - pad) % 4 != 1 && n > 0;
}

/* PHOTO, LOGO, SOUND, KEY: a data: URI from base64, or the URI as given. */
static void binary_add(struct card *k, const struct vprop *p)
{
  char xn[NAME_MAX_LEN];
  const char *s = pval(k, p);
  size_t n = p->vlen;
  x_name(p, xn);
  trim(&s, &n);
  if (!n)
    return;
  if (!(p->flags & P_B64)) {
    if (n + strlen(xn) > KITH_TEXT_FIELD_MAX) {
      note(k->r, p->line, "%s too large (%zu bytes): skipped", p->name, n);
      return;
    }
    x_add(k, p, xn, s, n);
    return;
  }
  if (!b64_valid(s, n)) {
    note(k->r, p->line, "%s is not valid base64: skipped", p->name);
    return;
  }
  char mime[64];
  const char *top = strcmp(p->name, "SOUND") == 0 ? "audio"
                    : strcmp(p->name, "KEY") == 0 ? "application"
                                                  : "image";
  if (strchr(p->media, '/'))
    snprintf(mime, sizeof mime, "%s", p->media);
  else if (p->media[0])
    snprintf(mime, sizeof mime, "%s/%s", top,
             strcmp(p->media, "jpg") == 0 ? "jpeg" : p->media);
  else if (n >= 4 && strncmp(s, "/9j/", 4) == 0)
    snprintf(mime, sizeof mime, "image/jpeg");
  else if (n >= 6 && strncmp(s, "iVBORw", 6) == 0)
    snprintf(mime, sizeof mime, "image/png");
  else if (n >= 6 && strncmp(s, "R0lGOD", 6) == 0)
    snprintf(mime, sizeof mime, "image/gif");
  else
    snprintf(mime, sizeof mime, "application/octet-stream");
  size_t head = strlen("data:;base64,") + strlen(mime);
  if (head + n + strlen(xn) + 8 > KITH_TEXT_FIELD_MAX) {
    note(k->r, p->line, "%s too large (%zu bytes of base64): skipped", p->name, n);
    return;
  }
  struct buf *b = &k->r->tmp;
  b->len = 0;
  int rc = buf_put(b, "data:", 5);
  if (!rc)
    rc = buf_put(b, mime, strlen(mime));
  if (!rc)
    rc = buf_put(b, ";base64,", 8);
  if (!rc)
    rc = buf_put(b, s, n);
  if (rc) {
    oom(k);
    return;
  }
  x_add(k, p, xn, b->p, b->len);
}

static void name_parts(struct card *k, const struct vprop *p)
{
  static const char *const keys[5] = {"family_name", "given_name", "middle_name",
                                      "name_prefix", "name_suffix"};
  const char *part[5];
  size_t np = 0;
  if (json_object_get(k->c, "family_name") || json_object_get(k->c, "given_name") ||
      json_object_get(k->c, "middle_name")) {
    char xn[NAME_MAX_LEN];
    x_name(p, xn);
    x_put(k, p, xn, pval(k, p), p->vlen, 2);
    return;
  }
  if (split(k, pval(k, p), p->vlen, 5, k->v21 ? 0 : ' ', part, &np) != 0) {
    oom(k);
    return;
  }
  for (size_t i = 0; i < np; i++)
    if (!blank(part[i], strlen(part[i])))
      set_str(k, k->c, keys[i], part[i], strlen(part[i]));
}

static void org_set(struct card *k, const struct vprop *p)
{
  const char *part[16];
  size_t np = 0, first = 0;
  char xn[NAME_MAX_LEN];
  if (split(k, pval(k, p), p->vlen, 16, 0, part, &np) != 0) {
    oom(k);
    return;
  }
  while (first < np && blank(part[first], strlen(part[first])))
    first++;
  if (first == np)
    return;
  struct buf *b = &k->r->arena; /* the units, joined, after the card's text */
  size_t mark = b->len;
  int rc = 0;
  bool any = false;
  for (size_t i = first + 1; i < np && rc == 0; i++) {
    if (blank(part[i], strlen(part[i])))
      continue;
    if (any)
      rc = buf_put(b, "; ", 2);
    if (!rc)
      rc = buf_put(b, part[i], strlen(part[i]));
    any = true;
  }
  if (rc) {
    oom(k);
    return;
  }
  if (json_object_get(k->c, "org")) {
    /* a second ORG: kept whole, as text */
    struct buf whole = {0};
    for (size_t i = first; i < np && rc == 0; i++) {
      if (blank(part[i], strlen(part[i])))
        continue;
      if (whole.len)
        rc = buf_put(&whole, "; ", 2);
      if (!rc)
        rc = buf_put(&whole, part[i], strlen(part[i]));
    }
    x_name(p, xn);
    if (rc)
      oom(k);
    else
      x_put(k, p, xn, whole.p, whole.len, 2);
    free(whole.p);
  } else {
    text_set(k, p, "org", part[first], strlen(part[first]));
    if (any)
      x_add(k, p, "org-units", b->p + mark, b->len - mark);
  }
  b->len = mark;
}

static void addr_add(struct card *k, const struct vprop *p)
{
  static const char *const keys[7] = {"po_box", "ext",  "street", "locality",
                                      "region", "code", "country"};
  const char *part[7];
  size_t np = 0, total = 0;
  char kb[128];
  bool any = false;
  if (split(k, pval(k, p), p->vlen, 7, 0, part, &np) != 0) {
    oom(k);
    return;
  }
  for (size_t i = 0; i < np; i++) {
    total += strlen(part[i]);
    any = any || !blank(part[i], strlen(part[i]));
  }
  if (!any)
    return;
  if (total + sizeof kb > KITH_TEXT_FIELD_MAX) {
    note(k->r, p->line, "ADR: value too large (%zu bytes): dropped", total);
    return;
  }
  json_t *a = child(k, k->c, "addresses", true), *o = json_object();
  if (!a || !o || json_array_append_new(a, o) != 0) {
    oom(k);
    return;
  }
  const char *kind = kind_of(k, p, kb, sizeof kb);
  if (kind)
    set_str(k, o, "kind", kind, strlen(kind));
  for (size_t i = 0; i < np; i++)
    if (!blank(part[i], strlen(part[i])))
      set_str(k, o, keys[i], part[i], strlen(part[i]));
}

/* A tag the store takes (kith_value_check: folding can make it too long). */
static bool tag_ok(const char *t, size_t n)
{
  char *dup = strndup(t, n);
  struct kith_value *v = dup ? kith_value_new(1, (const char **)&dup) : NULL;
  bool ok = v && kith_value_check(kith_field_by_id(KITH_F_TAGS), v) == 0;
  kith_value_free(v);
  free(dup);
  return ok;
}

static void tags_add(struct card *k, const struct vprop *p)
{
  struct buf *b = &k->r->tmp;
  const char *v = pval(k, p);
  size_t n = p->vlen, a = 0;
  for (size_t i = 0; i <= n && !k->rc; i++) {
    if (i + 1 < n && v[i] == '\\') {
      i++;
      continue;
    }
    if (i < n && v[i] != ',')
      continue;
    b->len = 0;
    if (unescape(b, v + a, i - a, 0) != 0) {
      oom(k);
      return;
    }
    a = i + 1;
    const char *t = b->p;
    size_t tn = b->len;
    trim(&t, &tn);
    if (tn > KITH_TAG_MAX || (tn && !tag_ok(t, tn))) {
      note(k->r, p->line, "CATEGORIES: a tag over %d bytes: dropped", KITH_TAG_MAX);
    } else if (tn) {
      json_t *arr = child(k, k->c, "tags", true);
      json_t *js = json_stringn_nocheck(t, tn);
      if (!arr || !js || json_array_append_new(arr, js) != 0)
        oom(k);
    }
  }
}

static void note_add(struct card *k, const struct vprop *p, const char *s, size_t n)
{
  if (blank(s, n))
    return;
  if (n > KITH_TEXT_FIELD_MAX) {
    note(k->r, p->line, "NOTE: too large (%zu bytes): dropped", n);
    return;
  }
  json_t *a = child(k, k->c, "notes", true), *o = json_object();
  if (!a || !o || json_array_append_new(a, o) != 0) {
    oom(k);
    return;
  }
  set_str(k, o, "text", s, n);
}

/* The unescaped text of p's first raw bytes, in k->r->tmp. */
static const char *text_of(struct card *k, const struct vprop *p, size_t raw, size_t *n)
{
  struct buf *b = &k->r->tmp;
  b->len = 0;
  if (unescape(b, pval(k, p), raw, 0) != 0) {
    oom(k);
    *n = 0;
    return "";
  }
  *n = b->len;
  return b->p;
}

static void prop_map(struct card *k, const struct vprop *p)
{
  const char *s = NULL, *a;
  size_t n = 0, an = 0;
  char xn[NAME_MAX_LEN], lb[128];
  switch (p->id) {
  case PR_DROP:
  case PR_VERSION:
  case PR_LABEL:
    return;
  case PR_N:
    name_parts(k, p);
    return;
  case PR_ORG:
    org_set(k, p);
    return;
  case PR_ADR:
    addr_add(k, p);
    return;
  case PR_CATEGORIES:
    tags_add(k, p);
    return;
  case PR_PHOTO:
    binary_add(k, p);
    return;
  case PR_BLOB:
    if (p->flags & (P_B64 | P_URI)) {
      binary_add(k, p);
      return;
    }
    break;
  default:
    if (p->flags & P_B64) {
      binary_add(k, p);
      return;
    }
    break;
  }
  if (p->id == PR_OTHER || p->id == PR_BLOB) {
    /* a structured value without its empty trailing parts: "Name;;;;" */
    size_t raw = p->vlen;
    const char *v = pval(k, p);
    while (raw && v[raw - 1] == ';' && (raw < 2 || v[raw - 2] != '\\'))
      raw--;
    s = text_of(k, p, raw, &n);
    if (blank(s, n))
      return;
    x_name(p, xn);
    x_add(k, p, xn, s, n);
    const char *label = group_label(k, p, lb, sizeof lb);
    if (label) {
      char ln[NAME_MAX_LEN + 8];
      snprintf(ln, sizeof ln, "%s-label", xn);
      x_add(k, p, ln, label, strlen(label));
    }
    return;
  }
  s = text_of(k, p, p->vlen, &n);
  switch (p->id) {
  case PR_FN:
    text_set(k, p, "name", s, n);
    break;
  case PR_NICKNAME:
    text_set(k, p, "nickname", s, n);
    break;
  case PR_TITLE:
    text_set(k, p, "title", s, n);
    break;
  case PR_BDAY:
    date_set(k, p, "birthday", s, n);
    break;
  case PR_EMAIL:
    k->emails++;
    if (blank(s, n))
      break;
    if ((a = email_addr(s, n, &an)) != NULL) {
      typed_add(k, p, "emails", a, an);
      break;
    }
    if (k->emails == 1)
      snprintf(xn, sizeof xn, "email");
    else
      snprintf(xn, sizeof xn, "email-%d", k->emails);
    note(k->r, p->line, "EMAIL is not an address: kept as x-%s", xn);
    x_add(k, p, xn, s, n);
    break;
  case PR_TEL:
    trim(&s, &n);
    if (n > 4 && strncasecmp(s, "tel:", 4) == 0)
      s += 4, n -= 4;
    typed_add(k, p, "phones", s, n);
    break;
  case PR_URL:
    typed_add(k, p, "links", s, n);
    break;
  case PR_IM:
    typed_add(k, p, "ims", s, n);
    break;
  case PR_NOTE:
    note_add(k, p, s, n);
    break;
  case PR_MET_AT:
    text_set(k, p, "met_at", s, n);
    break;
  case PR_NEEDS:
    text_set(k, p, "needs", s, n);
    break;
  case PR_OFFERS:
    text_set(k, p, "offers", s, n);
    break;
  case PR_LAST_CONTACTED:
    date_set(k, p, "last_contacted", s, n);
    break;
  case PR_FOLLOW_UP:
    date_set(k, p, "follow_up", s, n);
    break;
  default:
    break;
  }
}

static const char *jstr(const json_t *o, const char *key)
{
  const char *s = json_string_value(json_object_get(o, key));
  return s && *s ? s : NULL;
}

/* A name when the card has no FN: from N, then org, e-mail, phone. */
static void name_fallback(struct card *k)
{
  static const char *const order[5] = {"name_prefix", "given_name", "middle_name",
                                       "family_name", "name_suffix"};
  const char *fn = jstr(k->c, "name");
  if (fn && !blank(fn, strlen(fn)))
    return;
  struct buf *b = &k->r->tmp;
  b->len = 0;
  for (int i = 0; i < 5 && !k->rc; i++) {
    const char *s = jstr(k->c, order[i]);
    size_t n = s ? strlen(s) : 0;
    trim(&s, &n);
    if (!n)
      continue;
    if ((b->len && buf_putc(b, ' ') != 0) || buf_put(b, s, n) != 0)
      oom(k);
  }
  if (b->len && b->len <= KITH_TEXT_FIELD_MAX) {
    set_str(k, k->c, "name", b->p, b->len);
    return;
  }
  const char *alt = jstr(k->c, "org");
  if (!alt)
    alt = json_string_value(json_array_get(json_object_get(k->c, "emails"), 0));
  if (!alt)
    alt = json_string_value(json_array_get(json_object_get(k->c, "phones"), 0));
  if (alt)
    set_str(k, k->c, "name", alt, strlen(alt));
  else
    json_object_del(k->c, "name");
}

/* Maps the card read (r->props) and passes it to the sink. */
static int card_emit(struct rd *r, size_t line)
{
  struct card k;
  memset(&k, 0, offsetof(struct card, labels)); /* labels[] is filled as counted */
  int rc = 0;
  k.r = r;
  k.line = line;
  for (size_t i = 0; i < r->nprops; i++) {
    if (r->props[i].id == PR_LABEL && r->props[i].glen && k.nlabels < LABELS_MAX)
      k.labels[k.nlabels++] = i;
    if (r->props[i].id == PR_VERSION) {
      const char *v = r->arena.p + r->props[i].voff;
      k.v21 = strncmp(v, "2.1", 3) == 0 || strncmp(v, "2.0", 3) == 0;
    }
  }
  /* undeclared 8-bit text is read in the charset the card declares elsewhere
   * (Greek_cp1253.vcf), else as windows-1252 */
  const char *guess = "windows-1252";
  for (size_t i = 0; i < r->nprops; i++) {
    const struct vprop *p = &r->props[i];
    if (p->charset[0] && !(p->flags & P_UTF8) && strncasecmp(p->charset, "UTF", 3) &&
        strncasecmp(p->charset, "UCS", 3) && strcasecmp(p->charset, "us-ascii")) {
      guess = p->charset;
      break;
    }
  }
  for (size_t i = 0; i < r->nprops; i++)
    if ((rc = value_to_utf8(r, &r->props[i], guess)) != 0)
      return rc;
  if (!(k.c = json_object()))
    return KITH_ENOMEM;
  for (size_t i = 0; i < r->nprops && !k.rc; i++)
    prop_map(&k, &r->props[i]);
  if (!k.rc)
    name_fallback(&k);
  if (k.rc)
    rc = k.rc;
  else if (!jstr(k.c, "name"))
    note(r, line, "card with no name, e-mail or phone: skipped");
  else
    rc = r->sink->contact(r->sink->arg, k.c, line);
  json_decref(k.c);
  return rc;
}

static void card_reset(struct rd *r)
{
  r->arena.len = 0;
  r->nprops = 0;
}

/* After a BEGIN:VCARD inside a card: true if an END:VCARD that closes the outer
 * card follows (the inner card is nested), false if the outer card was cut short. */
static bool nested_ahead(struct rd *r)
{
  size_t pos = r->pos, line = r->line;
  const char *l;
  size_t n;
  long depth = 1;
  bool nested = false;
  for (int i = 0; i < NEST_LOOKAHEAD && line_next(r, &l, &n); i++) {
    if (is_begin(l, n))
      depth++;
    else if (is_end(l, n) && --depth < 0) {
      nested = true;
      break;
    }
  }
  r->pos = pos;
  r->line = line;
  return nested;
}

/* Skips a nested card whose BEGIN was just read, up to its END. */
static void nested_skip(struct rd *r)
{
  const char *l;
  size_t n;
  long depth = 1;
  while (depth > 0 && line_next(r, &l, &n)) {
    if (is_begin(l, n))
      depth++;
    else if (is_end(l, n))
      depth--;
  }
}

int kith_vcard_read(const char *buf, size_t len, const struct kith_import_sink *sink)
{
  struct rd r;
  char *conv = NULL;
  size_t bom = 0, card_line = 0;
  bool in_card = false, garbage = false;
  int rc = 0;
  memset(&r, 0, sizeof r);
  r.sink = sink;
  if (len == 0)
    return 0; /* (buf may be NULL) */
  const char *cs = kith_charset_sniff(buf, len, &bom);
  if (strcmp(cs, "UTF-8") != 0) {
    size_t clen = 0;
    if ((rc = kith_charset_to_utf8(cs, buf + bom, len - bom, &conv, &clen)) != 0)
      return rc;
    r.s = conv;
    r.len = clen;
    r.converted = true;
  } else {
    r.s = buf + bom;
    r.len = len - bom;
  }
  r.eol = !memchr(r.s, '\n', r.len) && memchr(r.s, '\r', r.len) ? '\r' : '\n';

  const char *l;
  size_t n;
  while (rc == 0 && line_next(&r, &l, &n)) {
    size_t lineno = r.line;
    if (!in_card) {
      if (blank(l, n) || l[0] == '#')
        continue;
      if (is_begin(l, n)) {
        in_card = true;
        card_line = lineno;
        garbage = false;
        card_reset(&r);
      } else if (!garbage) {
        note(&r, lineno, "text outside a card: ignored");
        garbage = true;
      }
      continue;
    }
    if (n == 0 || l[0] == '#' || blank(l, n))
      continue;
    if (is_end(l, n)) {
      rc = card_emit(&r, card_line);
      in_card = false;
    } else if (is_begin(l, n)) {
      if (nested_ahead(&r)) {
        note(&r, lineno, "nested card skipped");
        nested_skip(&r);
      } else {
        note(&r, card_line, "no END:VCARD");
        rc = card_emit(&r, card_line);
        card_line = lineno;
        card_reset(&r);
      }
    } else {
      rc = prop_read(&r, l, n, lineno);
    }
  }
  if (rc == 0 && in_card) {
    note(&r, card_line, "no END:VCARD");
    rc = card_emit(&r, card_line);
  }
  free(r.arena.p);
  free(r.tmp.p);
  free(r.props);
  free(conv);
  return rc;
}
