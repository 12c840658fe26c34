#include "core/model.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fold.h"
#include "proto/hex.h"

#define C KITH_KIND_CONTACT
#define N KITH_KIND_NOTE
#define P KITH_KIND_PEER
#define D KITH_KIND_DEVICE
#define R KITH_KIND_ROSTER
#define I KITH_KIND_INTRO
#define Q KITH_KIND_PROPOSAL
#define F KITH_KIND_REFERRAL

static const struct kith_field fields[] = {
    {KITH_F_NAME, C, KITH_SHAPE_TEXT, "name", "fn", false},
    {KITH_F_GIVEN, C, KITH_SHAPE_TEXT, "given_name", "given", false},
    {KITH_F_FAMILY, C, KITH_SHAPE_TEXT, "family_name", "family", false},
    {KITH_F_MIDDLE, C, KITH_SHAPE_TEXT, "middle_name", "middle", false},
    {KITH_F_PREFIX, C, KITH_SHAPE_TEXT, "name_prefix", "prefix", false},
    {KITH_F_SUFFIX, C, KITH_SHAPE_TEXT, "name_suffix", "suffix", false},
    {KITH_F_NICKNAME, C, KITH_SHAPE_TEXT, "nickname", NULL, false},
    {KITH_F_ORG, C, KITH_SHAPE_TEXT, "org", "company", false},
    {KITH_F_TITLE, C, KITH_SHAPE_TEXT, "title", NULL, false},
    {KITH_F_BIRTHDAY, C, KITH_SHAPE_DATE, "birthday", "bday", false},
    {KITH_F_MET_AT, C, KITH_SHAPE_TEXT, "met_at", "met-at", false},
    {KITH_F_NEEDS, C, KITH_SHAPE_TEXT, "needs", NULL, false},
    {KITH_F_OFFERS, C, KITH_SHAPE_TEXT, "offers", NULL, false},
    {KITH_F_LAST_CONTACTED, C, KITH_SHAPE_DATE, "last_contacted", "last-contacted",
     true},
    {KITH_F_FOLLOW_UP, C, KITH_SHAPE_DATE, "follow_up", "follow-up", true},
    {KITH_F_EMAILS, C, KITH_SHAPE_TYPED, "emails", "email", false},
    {KITH_F_PHONES, C, KITH_SHAPE_TYPED, "phones", "phone", false},
    {KITH_F_ADDRESSES, C, KITH_SHAPE_ADDR, "addresses", "address", false},
    {KITH_F_LINKS, C, KITH_SHAPE_TYPED, "links", "link", false},
    {KITH_F_IMS, C, KITH_SHAPE_TYPED, "ims", "im", false},
    {KITH_F_TAGS, C, KITH_SHAPE_TAGS, "tags", "tag", true},
    {KITH_F_X, C, KITH_SHAPE_XMAP, "x", NULL, false},
    {KITH_F_NOTE_CONTACT, N, KITH_SHAPE_REF, "contact", NULL, false},
    {KITH_F_NOTE_TEXT, N, KITH_SHAPE_TEXT, "text", NULL, false},
    {KITH_F_PEER_NAME, P, KITH_SHAPE_TEXT, "name", NULL, true},
    {KITH_F_PEER_KEYS, P, KITH_SHAPE_TYPED, "keys", NULL, true},
    {KITH_F_PEER_STATUS, P, KITH_SHAPE_TEXT, "status", NULL, true},
    {KITH_F_PEER_PAIRED, P, KITH_SHAPE_DATE, "paired", NULL, true},
    {KITH_F_PEER_SPACE, P, KITH_SHAPE_TEXT, "space", NULL, true},
    {KITH_F_DEVICE_LABEL, D, KITH_SHAPE_TEXT, "label", NULL, true},
    {KITH_F_DEVICE_KEY, D, KITH_SHAPE_TEXT, "key", NULL, true},
    {KITH_F_DEVICE_ADDED, D, KITH_SHAPE_DATE, "added", NULL, true},
    {KITH_F_DEVICE_REVOKED, D, KITH_SHAPE_DATE, "revoked", NULL, true},
    {KITH_F_ROSTER_KEYS, R, KITH_SHAPE_TYPED, "keys", NULL, false},
    {KITH_F_ROSTER_RELAYS, R, KITH_SHAPE_TYPED, "relays", NULL, false},
    /* referrals: in a partnership, shared data of both (core/referral.h) */
    {KITH_F_REF_CONTACT, F, KITH_SHAPE_REF, "contact", NULL, false},
    {KITH_F_REF_CONTACT_NAME, F, KITH_SHAPE_TEXT, "contact_name", NULL, false},
    {KITH_F_REF_REASON, F, KITH_SHAPE_TEXT, "reason", NULL, false},
    {KITH_F_REF_VALUE, F, KITH_SHAPE_TEXT, "value", NULL, false},
    {KITH_F_REF_FROM, F, KITH_SHAPE_TEXT, "from", NULL, false},
    {KITH_F_REF_EVENTS, F, KITH_SHAPE_EVENT, "events", NULL, false},
    {KITH_F_REF_THANKED, F, KITH_SHAPE_DATE, "thanked", NULL, false},
    {KITH_F_REF_THANK_VALUE, F, KITH_SHAPE_TEXT, "thank_value", NULL, false},
    /* introductions: the intro stays in self; a proposal is shared data */
    {KITH_F_INTRO_PARTY1, I, KITH_SHAPE_TEXT, "party1", NULL, true},
    {KITH_F_INTRO_PARTY2, I, KITH_SHAPE_TEXT, "party2", NULL, true},
    {KITH_F_INTRO_MESSAGE1, I, KITH_SHAPE_TEXT, "message1", NULL, true},
    {KITH_F_INTRO_MESSAGE2, I, KITH_SHAPE_TEXT, "message2", NULL, true},
    {KITH_F_INTRO_EXPIRES, I, KITH_SHAPE_DATE, "expires", NULL, true},
    {KITH_F_INTRO_STATE, I, KITH_SHAPE_TEXT, "state", NULL, true},
    {KITH_F_INTRO_NONCE, I, KITH_SHAPE_TEXT, "nonce", NULL, true},
    {KITH_F_INTRO_CONSENT1, I, KITH_SHAPE_TEXT, "consent1", NULL, true},
    {KITH_F_INTRO_CONSENT2, I, KITH_SHAPE_TEXT, "consent2", NULL, true},
    {KITH_F_PROP_OTHER_NAME, Q, KITH_SHAPE_TEXT, "other_name", NULL, false},
    {KITH_F_PROP_MESSAGE, Q, KITH_SHAPE_TEXT, "message", NULL, false},
    {KITH_F_PROP_EXPIRES, Q, KITH_SHAPE_DATE, "expires", NULL, false},
    {KITH_F_PROP_STATE, Q, KITH_SHAPE_TEXT, "state", NULL, false},
    {KITH_F_PROP_NONCE, Q, KITH_SHAPE_TEXT, "nonce", NULL, false},
    {KITH_F_PROP_PEER_KEY, Q, KITH_SHAPE_TEXT, "peer_key", NULL, false},
    {KITH_F_PROP_VOUCH, Q, KITH_SHAPE_TEXT, "vouch", NULL, false},
    {KITH_F_PROP_FORWARD, Q, KITH_SHAPE_TEXT, "forward", NULL, false},
    {KITH_F_PROP_ANSWER, Q, KITH_SHAPE_TEXT, "answer", NULL, false},
    {KITH_F_PROP_SHARE, Q, KITH_SHAPE_TEXT, "share", NULL, false},
    {KITH_F_PROP_KEY, Q, KITH_SHAPE_TEXT, "key", NULL, false},
    {KITH_F_PROP_SEALED, Q, KITH_SHAPE_TEXT, "sealed", NULL, false},
    {KITH_F_CADENCE_TAG, KITH_KIND_CADENCE, KITH_SHAPE_TEXT, "tag", NULL, true},
    {KITH_F_CADENCE_DAYS, KITH_KIND_CADENCE, KITH_SHAPE_TEXT, "days", NULL, true},
};

#undef C
#undef N
#undef P
#undef D
#undef R
#undef I
#undef Q
#undef F

const struct kith_field *kith_fields(size_t *n)
{
  *n = sizeof fields / sizeof fields[0];
  return fields;
}

/* My card holds a contact's descriptive fields: not where I met myself, nor the
 * private ones (tags, follow-up, last contacted). */
static bool mycard_holds(const struct kith_field *f)
{
  return f && !f->priv && f->id != KITH_F_MET_AT;
}

const struct kith_field *kith_field_by_name(int kind, const char *name)
{
  if (kind == KITH_KIND_MYCARD) {
    const struct kith_field *f = kith_field_by_name(KITH_KIND_CONTACT, name);
    return mycard_holds(f) ? f : NULL;
  }
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    const struct kith_field *f = &fields[i];
    if (f->kind == kind &&
        (strcmp(f->json, name) == 0 || (f->alias && strcmp(f->alias, name) == 0)))
      return f;
  }
  return NULL;
}

const struct kith_field *kith_field_by_id(uint8_t id)
{
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    if (fields[i].id == id)
      return &fields[i];
  return NULL;
}

static bool is_set(const struct kith_field *f)
{
  return f->shape == KITH_SHAPE_TYPED || f->shape == KITH_SHAPE_TAGS ||
         f->shape == KITH_SHAPE_ADDR || f->shape == KITH_SHAPE_XMAP ||
         f->shape == KITH_SHAPE_EVENT;
}

/* The text that identifies an element within its set, before hashing. */
static int elem_key(const struct kith_field *f, const struct kith_value *v, char **out)
{
  const char *s = v->p[0] ? v->p[0] : "";
  size_t n = strlen(s);
  char *k = NULL;
  switch (f->id) {
  case KITH_F_PHONES: /* the digits (and a leading +) identify a phone */
    if (!(k = malloc(n + 1)))
      return KITH_ENOMEM;
    {
      size_t j = 0;
      for (size_t i = 0; i < n; i++)
        if (isdigit((unsigned char)s[i]) || (s[i] == '+' && j == 0))
          k[j++] = s[i];
      if (j == 0) /* no digits at all: keep the text as typed */
        memcpy(k, s, n), j = n;
      k[j] = 0;
    }
    break;
  case KITH_F_ADDRESSES: { /* every part but the kind, folded */
    size_t total = 1;
    for (int i = 1; i < v->n; i++)
      total += (v->p[i] ? strlen(v->p[i]) : 0) + 1;
    char *joined = malloc(total);
    if (!joined)
      return KITH_ENOMEM;
    size_t at = 0;
    for (int i = 1; i < v->n; i++) {
      size_t pl = v->p[i] ? strlen(v->p[i]) : 0;
      memcpy(joined + at, v->p[i] ? v->p[i] : "", pl);
      at += pl;
      joined[at++] = '\n';
    }
    joined[at] = 0;
    int rc = kith_fold(joined, &k);
    free(joined);
    if (rc)
      return rc;
    break;
  }
  case KITH_F_ROSTER_RELAYS: { /* the address and whose: both users may list one */
    const char *who = v->n > 1 && v->p[1] ? v->p[1] : "";
    size_t len = n + 2 + strlen(who);
    if (!(k = malloc(len)))
      return KITH_ENOMEM;
    snprintf(k, len, "%s\n%s", s, who);
    break;
  }
  case KITH_F_X: /* the field name, lowercased */
  case KITH_F_EMAILS:
  default: {
    int rc = kith_fold(s, &k);
    if (rc)
      return rc;
    if (f->id == KITH_F_LINKS || f->id == KITH_F_IMS) {
      /* URLs are case-sensitive past the host, so keep them as typed */
      free(k);
      if (!(k = strdup(s)))
        return KITH_ENOMEM;
    }
  }
  }
  *out = k;
  return 0;
}

int kith_elem_id(const uint8_t ent[static KITH_ID_LEN], const struct kith_field *f,
                 const struct kith_value *v, uint8_t out[static KITH_ID_LEN])
{
  char *k = NULL;
  if (!is_set(f))
    return KITH_EINVAL;
  int rc = elem_key(f, v, &k);
  if (rc)
    return rc;
  crypto_generichash_state h;
  crypto_generichash_init(&h, ent, KITH_ID_LEN, KITH_ID_LEN);
  crypto_generichash_update(&h, &f->id, 1);
  crypto_generichash_update(&h, (const uint8_t *)k, strlen(k));
  crypto_generichash_final(&h, out, KITH_ID_LEN);
  free(k);
  return 0;
}

static bool digits(const char *s, int n)
{
  for (int i = 0; i < n; i++)
    if (!isdigit((unsigned char)s[i]))
      return false;
  return true;
}

int kith_month_days(int year, int mon)
{
  static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mon == 2 && year >= 0)
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28;
  return days[mon - 1]; /* a birthday without a year may be on 29 February */
}

bool kith_date_valid(const char *s)
{
  size_t n = strlen(s);
  const char *t = NULL;
  int year = -1, mon, day;
  if (n >= 10 && digits(s, 4) && s[4] == '-' && digits(s + 5, 2) && s[7] == '-' &&
      digits(s + 8, 2)) {
    year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + s[3] - '0';
    mon = (s[5] - '0') * 10 + s[6] - '0';
    day = (s[8] - '0') * 10 + s[9] - '0';
    t = s + 10;
  } else if (n >= 7 && s[0] == '-' && s[1] == '-' && digits(s + 2, 2) && s[4] == '-' &&
             digits(s + 5, 2)) {
    mon = (s[2] - '0') * 10 + s[3] - '0';
    day = (s[5] - '0') * 10 + s[6] - '0';
    t = s + 7;
  } else {
    return false;
  }
  if (mon < 1 || mon > 12 || day < 1 || day > kith_month_days(year, mon))
    return false;
  if (*t == 0)
    return true;
  /* THH:MM[:SS[.fff]][Z] */
  if (t[0] != 'T' || strlen(t) < 6 || !digits(t + 1, 2) || t[3] != ':' ||
      !digits(t + 4, 2) || (t[1] - '0') * 10 + t[2] - '0' > 23 || t[4] > '5')
    return false;
  t += 6;
  if (*t == ':') {
    if (!digits(t + 1, 2) || t[1] > '5') /* no leap seconds: 60 is refused */
      return false;
    t += 3;
    if (*t == '.') {
      t++;
      while (isdigit((unsigned char)*t))
        t++;
    }
  }
  return *t == 0 || (t[0] == 'Z' && t[1] == 0);
}

int kith_value_check(const struct kith_field *f, const struct kith_value *v)
{
  int want;
  switch (f->shape) {
  case KITH_SHAPE_TYPED:
  case KITH_SHAPE_XMAP:
    want = 2;
    break;
  case KITH_SHAPE_ADDR:
    want = KITH_ADDR_PARTS;
    break;
  case KITH_SHAPE_EVENT:
    want = 3;
    break;
  default:
    want = 1;
  }
  if (v->n != want)
    return KITH_EBADMSG;
  size_t total = 0;
  for (int i = 0; i < v->n; i++) {
    if (!v->p[i])
      continue;
    size_t n = strlen(v->p[i]);
    total += n;
    if (!kith_utf8_valid(v->p[i], n))
      return KITH_EBADUTF8;
  }
  if (total > (f->id == KITH_F_NOTE_TEXT ? KITH_VALUE_MAX_BYTES : KITH_TEXT_FIELD_MAX))
    return KITH_ETOOBIG;
  if (f->shape != KITH_SHAPE_ADDR && !v->p[0])
    return KITH_EBADMSG; /* the main part must be there */
  switch (f->shape) {
  case KITH_SHAPE_DATE:
    return kith_date_valid(v->p[0]) ? 0 : KITH_EBADMSG;
  case KITH_SHAPE_TAGS: { /* folded too: the index holds the folded tag, and
                            folding can grow text ("¼" becomes "1⁄4") */
    char *folded = NULL;
    if (!v->p[0][0])
      return KITH_EBADMSG;
    if (strlen(v->p[0]) > KITH_TAG_MAX)
      return KITH_ETOOBIG;
    int rc = kith_fold(v->p[0], &folded);
    if (rc == 0 && strlen(folded) > KITH_TAG_MAX)
      rc = KITH_ETOOBIG;
    free(folded);
    return rc;
  }
  case KITH_SHAPE_XMAP:
  case KITH_SHAPE_EVENT: /* a name (an event id) and a value (a status) */
    return v->p[0][0] && v->p[1] ? 0 : KITH_EBADMSG;
  case KITH_SHAPE_REF: {
    uint8_t id[KITH_ID_LEN];
    return kith_hex_decode(v->p[0], id, KITH_ID_LEN) == 0 ? 0 : KITH_EBADMSG;
  }
  case KITH_SHAPE_TYPED:
    return v->p[0][0] ? 0 : KITH_EBADMSG;
  default:
    return 0;
  }
}

/* ---- writes -------------------------------------------------------------- */

int kith_card_space(kith_txn *txn, const uint8_t id[static KITH_ID_LEN],
                    uint32_t *space)
{
  struct kith_reg k = {0};
  int rc = kith_txn_get(txn, id, KITH_F_KIND, NULL, &k);
  *space = KITH_SPACE_SELF;
  if (rc == 0 && k.space)
    *space = k.space;
  kith_reg_clear(&k);
  return rc == KITH_ENOTFOUND ? 0 : rc;
}

bool kith_field_in_card(uint8_t field)
{
  const struct kith_field *f = kith_field_by_id(field);
  if (field == KITH_F_KIND)
    return true;
  return f && !f->priv &&
         (f->kind == KITH_KIND_CONTACT || f->kind == KITH_KIND_ROSTER ||
          f->kind == KITH_KIND_PROPOSAL || f->kind == KITH_KIND_REFERRAL);
}

/* A local write goes where the record's card lives if it is part of the card,
 * else to self. (An existing register keeps its space: kith_txn_put.) */
static int put_local(kith_txn *txn, struct kith_reg *r)
{
  int rc = 0;
  r->space = KITH_SPACE_SELF;
  if (kith_field_in_card(r->field) && r->field != KITH_F_KIND)
    rc = kith_card_space(txn, r->ent, &r->space);
  if (rc == 0)
    rc = kith_txn_stamp(txn, &r->stamp);
  if (rc == 0)
    rc = kith_txn_put(txn, r, NULL);
  return rc;
}

void kith_random_id(uint8_t id[static KITH_ID_LEN])
{
  /* randombytes_buf is a system call each time; an import makes 100,000 ids. A
   * pool refilled from it is as random, and is refilled after a fork so that two
   * processes never hand out the same bytes. */
  static _Thread_local uint8_t pool[1024];
  static _Thread_local size_t left;
  static _Thread_local pid_t owner;
  if (left < KITH_ID_LEN || owner != getpid()) {
    randombytes_buf(pool, sizeof pool);
    left = sizeof pool;
    owner = getpid();
  }
  left -= KITH_ID_LEN;
  memcpy(id, pool + left, KITH_ID_LEN);
  sodium_memzero(pool + left, KITH_ID_LEN);
}

int kith_record_create(kith_txn *txn, int kind, bool use_id,
                       uint8_t id[static KITH_ID_LEN])
{
  if (!kith_kind_name(kind))
    return KITH_EINVAL; /* before a new id: id is left as it was */
  if (!use_id)
    kith_random_id(id);
  return kith_record_create_in(txn, kind, KITH_SPACE_SELF, id);
}

int kith_record_create_in(kith_txn *txn, int kind, uint32_t space,
                          const uint8_t id[static KITH_ID_LEN])
{
  const char *name = kith_kind_name(kind);
  if (!name)
    return KITH_EINVAL;
  struct kith_reg r = {0};
  memcpy(r.ent, id, KITH_ID_LEN);
  r.field = KITH_F_KIND;
  r.space = space;
  r.val = kith_value_new(1, &name);
  if (!r.val)
    return KITH_ENOMEM;
  int rc = kith_txn_stamp(txn, &r.stamp);
  if (rc == 0)
    rc = kith_txn_put(txn, &r, NULL);
  kith_reg_clear(&r);
  return rc;
}

/* Records that are gone (or never were) take no writes. */
static int require_live(kith_txn *txn, const uint8_t id[KITH_ID_LEN])
{
  struct kith_reg k = {0};
  int rc = kith_txn_get(txn, id, KITH_F_KIND, NULL, &k);
  if (rc == 0 && !k.val)
    rc = KITH_EDELETED;
  kith_reg_clear(&k);
  return rc;
}

int kith_field_set(kith_txn *txn, const uint8_t id[static KITH_ID_LEN],
                   const struct kith_field *f, const struct kith_value *v)
{
  if (is_set(f) || f->shape == KITH_SHAPE_KIND)
    return KITH_EINVAL;
  int rc = v ? kith_value_check(f, v) : 0;
  if (rc == 0)
    rc = require_live(txn, id);
  if (rc)
    return rc;
  struct kith_reg cur = {0};
  rc = kith_txn_get(txn, id, f->id, NULL, &cur);
  bool same = rc == 0 && kith_value_equal(cur.val, v);
  bool absent = rc == KITH_ENOTFOUND;
  kith_reg_clear(&cur);
  if (rc && rc != KITH_ENOTFOUND)
    return rc;
  if (same || (absent && !v))
    return 0; /* nothing would change: write nothing */
  struct kith_reg r = {0};
  memcpy(r.ent, id, KITH_ID_LEN);
  r.field = f->id;
  r.val = (struct kith_value *)v; /* borrowed for the put, which copies */
  return put_local(txn, &r);
}

int kith_set_add(kith_txn *txn, const uint8_t id[static KITH_ID_LEN],
                 const struct kith_field *f, const struct kith_value *v)
{
  struct kith_reg r = {0}, cur = {0};
  if (!is_set(f))
    return KITH_EINVAL;
  int rc = kith_value_check(f, v);
  if (rc == 0)
    rc = require_live(txn, id);
  if (rc == 0)
    rc = kith_elem_id(id, f, v, r.elem);
  if (rc)
    return rc;
  rc = kith_txn_get(txn, id, f->id, r.elem, &cur);
  if (rc && rc != KITH_ENOTFOUND)
    return rc;
  bool same = rc == 0 && kith_reg_live(&cur) && kith_value_equal(cur.val, v);
  r.rem = rc == 0 ? cur.rem : (struct kith_stamp){0};
  kith_reg_clear(&cur);
  if (same)
    return 0;
  memcpy(r.ent, id, KITH_ID_LEN);
  r.field = f->id;
  r.has_elem = true;
  r.val = (struct kith_value *)v;
  return put_local(txn, &r);
}

/* Removal: the element's rem becomes the newest add this replica has seen, so
 * only adds seen here are cancelled; an add made elsewhere meanwhile survives. */
static int remove_elem(kith_txn *txn, const uint8_t id[KITH_ID_LEN], uint8_t field,
                       const uint8_t elem[KITH_ID_LEN])
{
  struct kith_reg cur = {0};
  int rc = kith_txn_get(txn, id, field, elem, &cur);
  if (rc)
    return rc;
  if (!kith_reg_live(&cur)) {
    kith_reg_clear(&cur);
    return KITH_ENOTFOUND;
  }
  cur.rem = cur.stamp;
  kith_value_free(cur.val);
  cur.val = NULL;
  rc = kith_txn_put(txn, &cur, NULL);
  kith_reg_clear(&cur);
  return rc;
}

int kith_set_remove(kith_txn *txn, const uint8_t id[static KITH_ID_LEN],
                    const struct kith_field *f, const struct kith_value *v)
{
  uint8_t elem[KITH_ID_LEN];
  int rc = kith_elem_id(id, f, v, elem);
  if (rc == 0)
    rc = remove_elem(txn, id, f->id, elem);
  return rc;
}

int kith_set_replace(kith_txn *txn, const uint8_t id[static KITH_ID_LEN],
                     const struct kith_field *f, struct kith_value *const *vals,
                     size_t n)
{
  struct kith_record *rec = NULL;
  uint8_t(*keep)[KITH_ID_LEN] = NULL;
  int rc;
  for (size_t i = 0; i < n; i++)
    if ((rc = kith_value_check(f, vals[i])) != 0)
      return rc;
  if (n && !(keep = calloc(n, sizeof *keep)))
    return KITH_ENOMEM;
  for (size_t i = 0; i < n; i++)
    if ((rc = kith_elem_id(id, f, vals[i], keep[i])) != 0)
      goto out;
  rc = kith_record_load(txn, id, &rec);
  if (rc)
    goto out;
  for (size_t i = 0; i < rec->n; i++) {
    const struct kith_reg *r = &rec->regs[i];
    if (r->field != f->id || !r->has_elem || !kith_reg_live(r))
      continue;
    bool kept = false;
    for (size_t j = 0; j < n && !kept; j++)
      kept = memcmp(keep[j], r->elem, KITH_ID_LEN) == 0;
    if (!kept && (rc = remove_elem(txn, id, f->id, r->elem)) != 0)
      goto out;
  }
  for (size_t i = 0; i < n; i++)
    if ((rc = kith_set_add(txn, id, f, vals[i])) != 0)
      goto out;
out:
  kith_record_free(rec);
  free(keep);
  return rc;
}

int kith_id_collect(void *arg, const uint8_t id[KITH_ID_LEN])
{
  struct kith_id_list *l = arg;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    void *p = realloc(l->v, cap * sizeof *l->v);
    if (!p)
      return KITH_ENOMEM;
    l->v = p, l->cap = cap;
  }
  memcpy(l->v[l->n++], id, KITH_ID_LEN);
  return 0;
}

static int tombstone(kith_txn *txn, const uint8_t id[KITH_ID_LEN])
{
  struct kith_reg r = {0};
  memcpy(r.ent, id, KITH_ID_LEN);
  r.field = KITH_F_KIND;
  return put_local(txn, &r);
}

int kith_record_delete(kith_txn *txn, const uint8_t id[static KITH_ID_LEN])
{
  struct kith_id_list notes = {0};
  int rc = require_live(txn, id);
  if (rc == 0)
    rc = kith_notes_each(txn, id, kith_id_collect, &notes);
  for (size_t i = 0; rc == 0 && i < notes.n; i++)
    rc = tombstone(txn, notes.v[i]);
  if (rc == 0)
    rc = tombstone(txn, id);
  free(notes.v);
  return rc;
}

int kith_note_create(kith_txn *txn, const uint8_t contact[static KITH_ID_LEN],
                     const char *text, uint8_t id[static KITH_ID_LEN])
{
  char hex[2 * KITH_ID_LEN + 1], day[25];
  const char *p = hex, *d = day;
  struct kith_reg last = {0};
  struct kith_stamp now;
  int rc = require_live(txn, contact);
  if (rc)
    return rc;
  kith_hex_encode(contact, KITH_ID_LEN, hex);
  struct kith_value *cv = kith_value_new(1, &p), *tv = kith_value_new(1, &text);
  if (!cv || !tv)
    rc = KITH_ENOMEM;
  if (rc == 0)
    rc = kith_value_check(kith_field_by_id(KITH_F_NOTE_TEXT), tv);
  if (rc == 0)
    rc = kith_record_create(txn, KITH_KIND_NOTE, false, id);
  if (rc == 0)
    rc = kith_field_set(txn, id, kith_field_by_id(KITH_F_NOTE_CONTACT), cv);
  if (rc == 0)
    rc = kith_field_set(txn, id, kith_field_by_id(KITH_F_NOTE_TEXT), tv);
  if (rc == 0)
    rc = kith_txn_stamp(txn, &now);
  if (rc == 0) {
    kith_hlc_iso(now.hlc, day);
    day[10] = 0;
    int g = kith_txn_get(txn, contact, KITH_F_LAST_CONTACTED, NULL, &last);
    bool later = g == KITH_ENOTFOUND ||
                 (g == 0 && (!last.val || strcmp(last.val->p[0], day) < 0));
    if (g && g != KITH_ENOTFOUND)
      rc = g;
    else if (later) {
      struct kith_value *dv = kith_value_new(1, &d);
      rc =
          dv ? kith_field_set(txn, contact, kith_field_by_id(KITH_F_LAST_CONTACTED), dv)
             : KITH_ENOMEM;
      kith_value_free(dv);
    }
  }
  kith_reg_clear(&last);
  kith_value_free(cv);
  kith_value_free(tv);
  return rc;
}

void kith_record_list_clear(struct kith_record_list *l)
{
  for (size_t i = 0; i < l->n; i++)
    kith_record_free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}

struct notes_load {
  kith_txn *txn;
  struct kith_record_list *l;
};

static int load_note(void *arg, const uint8_t id[KITH_ID_LEN])
{
  struct notes_load *c = arg;
  struct kith_record *rec = NULL;
  int rc = kith_record_load(c->txn, id, &rec);
  if (rc)
    return rc == KITH_ENOTFOUND ? 0 : rc;
  if (rec->deleted || rec->kind != KITH_KIND_NOTE) {
    kith_record_free(rec);
    return 0;
  }
  struct kith_record_list *l = c->l;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    void *p = realloc(l->v, cap * sizeof *l->v);
    if (!p) {
      kith_record_free(rec);
      return KITH_ENOMEM;
    }
    l->v = p, l->cap = cap;
  }
  l->v[l->n++] = rec;
  return 0;
}

int kith_notes_load(kith_txn *txn, const uint8_t *contact, struct kith_record_list *l)
{
  struct notes_load c = {txn, l};
  return contact ? kith_notes_each(txn, contact, load_note, &c)
                 : kith_kind_each(txn, KITH_KIND_NOTE, load_note, &c);
}
