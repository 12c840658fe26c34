#include "core/referral.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "proto/hex.h"

static const char *const status_names[KITH_REF_STATUSES] = {
    "offered", "accepted", "contacted", "met", "won", "lost", "declined"};

const char *kith_referral_status_name(int status)
{
  return status >= 0 && status < KITH_REF_STATUSES ? status_names[status] : NULL;
}

int kith_referral_status_parse(const char *s)
{
  for (int i = 0; s && i < KITH_REF_STATUSES; i++)
    if (strcmp(s, status_names[i]) == 0)
      return i;
  return -1;
}

/* ---- amounts ---------------------------------------------------------------- */

static bool digit(char c)
{
  return c >= '0' && c <= '9';
}

static bool letter(char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

int kith_amount_parse(const char *text, struct kith_amount *out,
                      char canon[KITH_AMOUNT_TEXT])
{
  const char *p = text, *num;
  int64_t units = 0, place = KITH_AMOUNT_SCALE / 10;
  size_t whole = 0, frac = 0;
  char cur[4] = "";
  while (*p == ' ')
    p++;
  for (num = p; digit(*p); p++)
    if (++whole > 13)
      return KITH_EBADMSG;
    else
      units = units * 10 + (*p - '0');
  if (whole == 0)
    return KITH_EBADMSG;
  units *= KITH_AMOUNT_SCALE;
  if (*p == '.') {
    for (p++; digit(*p); p++, place /= 10)
      if (++frac > 4)
        return KITH_EBADMSG;
      else
        units += (*p - '0') * place;
    if (frac == 0)
      return KITH_EBADMSG;
  }
  int numlen = (int)(p - num);
  while (*p == ' ')
    p++;
  if (*p) {
    for (int i = 0; i < 3; i++, p++) {
      if (!letter(*p))
        return KITH_EBADMSG;
      cur[i] = (char)(*p >= 'a' ? *p - 'a' + 'A' : *p);
    }
    while (*p == ' ')
      p++;
    if (*p)
      return KITH_EBADMSG;
  }
  out->units = units;
  memcpy(out->currency, cur, sizeof cur);
  if (canon)
    snprintf(canon, KITH_AMOUNT_TEXT, "%.*s%s%s", numlen, num, cur[0] ? " " : "", cur);
  return 0;
}

void kith_amount_format(int64_t units, char out[KITH_AMOUNT_TEXT])
{
  long long whole = (long long)(units / KITH_AMOUNT_SCALE);
  int frac = (int)(units % KITH_AMOUNT_SCALE), digits = 4;
  if (frac == 0) {
    snprintf(out, KITH_AMOUNT_TEXT, "%lld", whole);
    return;
  }
  while (digits > 2 && frac % 10 == 0)
    frac /= 10, digits--;
  snprintf(out, KITH_AMOUNT_TEXT, "%lld.%0*d", whole, digits, frac);
}

int kith_amount_add(struct kith_amount_sum *s, const struct kith_amount *a)
{
  size_t i = 0;
  while (i < s->n && strcmp(s->v[i].currency, a->currency) < 0)
    i++;
  if (i < s->n && strcmp(s->v[i].currency, a->currency) == 0) {
    if (s->v[i].units > INT64_MAX - a->units)
      return KITH_ETOOBIG;
    s->v[i].units += a->units;
    return 0;
  }
  if (s->n == KITH_AMOUNT_SUMS_MAX)
    return KITH_ETOOBIG;
  memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof s->v[0]);
  s->v[i] = *a;
  s->n++;
  return 0;
}

/* ---- writes ------------------------------------------------------------------ */

/* Sets a one-value field to text; nothing for NULL or "". */
static int set_text(kith_txn *txn, const uint8_t id[KITH_ID_LEN], uint8_t field,
                    const char *text)
{
  if (!text || !*text)
    return 0;
  struct kith_value *v = kith_value_new(1, &text);
  int rc = v ? kith_field_set(txn, id, kith_field_by_id(field), v) : KITH_ENOMEM;
  kith_value_free(v);
  return rc;
}

/* A new event in the history: its own random id, the status, the note. */
static int add_event(kith_txn *txn, const uint8_t id[KITH_ID_LEN], int status,
                     const char *note)
{
  uint8_t eid[KITH_ID_LEN];
  char hex[2 * KITH_ID_LEN + 1];
  kith_random_id(eid);
  kith_hex_encode(eid, KITH_ID_LEN, hex);
  const char *parts[3] = {hex, kith_referral_status_name(status),
                          note && *note ? note : NULL};
  struct kith_value *v = kith_value_new(3, parts);
  int rc =
      v ? kith_set_add(txn, id, kith_field_by_id(KITH_F_REF_EVENTS), v) : KITH_ENOMEM;
  kith_value_free(v);
  return rc;
}

int kith_referral_add(kith_txn *txn, const uint8_t contact[static KITH_ID_LEN],
                      const uint8_t peer[static KITH_ID_LEN], const char *reason,
                      const char *value, uint8_t id[static KITH_ID_LEN])
{
  char canon[KITH_AMOUNT_TEXT] = "", hex[2 * KITH_ID_LEN + 1];
  char pk[2 * KITH_PK_LEN + 1];
  struct kith_amount a;
  struct kith_identity me;
  struct kith_record *card = NULL;
  uint8_t shared[KITH_ID_LEN];
  uint32_t space = 0;
  int rc = 0;
  if (value && *value)
    rc = kith_amount_parse(value, &a, canon);
  if (rc == 0)
    rc = kith_share(txn, contact, peer, shared);
  if (rc == 0)
    rc = kith_card_space(txn, shared, &space);
  if (rc == 0 && space == KITH_SPACE_SELF)
    rc = KITH_EINVAL; /* kith_share puts it in a partnership or fails */
  if (rc == 0)
    rc = kith_txn_identity(txn, &me);
  if (rc == 0)
    rc = kith_record_load(txn, shared, &card);
  if (rc)
    goto out;
  kith_random_id(id);
  kith_hex_encode(shared, KITH_ID_LEN, hex);
  kith_hex_encode(me.pk, KITH_PK_LEN, pk);
  rc = kith_record_create_in(txn, KITH_KIND_REFERRAL, space, id);
  if (rc == 0)
    rc = set_text(txn, id, KITH_F_REF_CONTACT, hex);
  if (rc == 0)
    rc =
        set_text(txn, id, KITH_F_REF_CONTACT_NAME, kith_record_text(card, KITH_F_NAME));
  if (rc == 0)
    rc = set_text(txn, id, KITH_F_REF_REASON, reason);
  if (rc == 0)
    rc = set_text(txn, id, KITH_F_REF_VALUE, canon);
  if (rc == 0)
    rc = set_text(txn, id, KITH_F_REF_FROM, pk);
  if (rc == 0)
    rc = add_event(txn, id, KITH_REF_OFFERED, NULL);
out:
  kith_record_free(card);
  return rc;
}

/* The referral as the receiver may change it: loaded, and not mine to change if
 * I gave it. */
static int as_receiver(kith_txn *txn, const uint8_t id[KITH_ID_LEN],
                       struct kith_referral *r)
{
  int rc = kith_referral_load(txn, id, r);
  if (rc == 0 && r->given)
    rc = KITH_EREFUSED;
  return rc;
}

int kith_referral_set_status(kith_txn *txn, const uint8_t id[static KITH_ID_LEN],
                             const char *status, const char *note)
{
  struct kith_referral r;
  int s = kith_referral_status_parse(status);
  if (s < 0)
    return KITH_EBADMSG;
  int rc = as_receiver(txn, id, &r);
  bool same = rc == 0 && r.status == s && (!note || !*note);
  kith_referral_clear(&r);
  if (rc || same)
    return rc;
  return add_event(txn, id, s, note);
}

int kith_referral_thank(kith_txn *txn, const uint8_t id[static KITH_ID_LEN],
                        const char *value)
{
  struct kith_referral r;
  struct kith_amount a;
  struct kith_stamp now;
  char canon[KITH_AMOUNT_TEXT] = "", iso[25];
  int rc = value && *value ? kith_amount_parse(value, &a, canon) : 0;
  if (rc)
    return rc;
  rc = as_receiver(txn, id, &r);
  if (rc == 0 && r.status != KITH_REF_WON)
    rc = KITH_EINVAL;
  kith_referral_clear(&r);
  if (rc == 0)
    rc = kith_txn_stamp(txn, &now);
  if (rc)
    return rc;
  kith_hlc_iso(now.hlc, iso);
  rc = set_text(txn, id, KITH_F_REF_THANKED, iso);
  if (rc == 0)
    rc = set_text(txn, id, KITH_F_REF_THANK_VALUE, canon);
  return rc;
}

/* ---- reads ------------------------------------------------------------------- */

void kith_referral_clear(struct kith_referral *r)
{
  if (!r)
    return;
  kith_record_free(r->rec);
  free(r->contact_name);
  free(r->events);
  memset(r, 0, sizeof *r);
  r->status = -1;
}

/* Given by me: its giver's key (else its creator's device) is one of my
 * devices. */
static int given_by_me(kith_txn *txn, const struct kith_record *rec, bool *mine)
{
  uint8_t pk[KITH_PK_LEN], dev[KITH_DEVICE_ID_LEN];
  const char *from = kith_record_text(rec, KITH_F_REF_FROM);
  if (from && kith_hex_decode(from, pk, sizeof pk) == 0) {
    kith_device_id_of(pk, dev);
    return kith_dev_mine(txn, dev, mine);
  }
  return kith_dev_mine(txn, rec->created.dev, mine);
}

/* The partner whose space holds the referral, if they are still my peer. */
static int find_peer(kith_txn *txn, struct kith_referral *r)
{
  uint8_t gid[KITH_GID_LEN];
  struct kith_record *p = NULL;
  int rc = kith_space_gid(txn, r->space, gid);
  if (rc == 0)
    rc = kith_space_peer(txn, gid, r->peer);
  if (rc == 0)
    rc = kith_record_load(txn, r->peer, &p);
  if (rc == 0) {
    const char *name = kith_record_text(p, KITH_F_PEER_NAME);
    r->has_peer = true;
    snprintf(r->peer_name, sizeof r->peer_name, "%s", name ? name : "");
  }
  kith_record_free(p);
  return rc == KITH_ENOTFOUND ? 0 : rc;
}

/* The contact's name: its card's now if it is still a live contact here, else the
 * name it had when referred. */
static int find_contact(kith_txn *txn, struct kith_referral *r)
{
  struct kith_record *c = NULL;
  const char *hex = kith_record_text(r->rec, KITH_F_REF_CONTACT);
  const char *name = kith_record_text(r->rec, KITH_F_REF_CONTACT_NAME);
  int rc = 0;
  if (hex && kith_hex_decode(hex, r->contact, KITH_ID_LEN) == 0) {
    rc = kith_record_load(txn, r->contact, &c);
    if (rc == 0 && !c->deleted && c->kind == KITH_KIND_CONTACT) {
      uint32_t space;
      if ((rc = kith_card_space(txn, r->contact, &space)) == 0)
        r->contact_shared = space == r->space;
      if (kith_record_text(c, KITH_F_NAME))
        name = kith_record_text(c, KITH_F_NAME);
    }
    if (rc == KITH_ENOTFOUND)
      rc = 0;
  }
  if (rc == 0 && !(r->contact_name = strdup(name ? name : "")))
    rc = KITH_ENOMEM;
  kith_record_free(c);
  return rc;
}

static int by_stamp(const void *a, const void *b)
{
  const struct kith_referral_event *x = a, *y = b;
  return kith_stamp_cmp(&x->at, &y->at);
}

static int gather_events(struct kith_referral *r)
{
  const struct kith_record *rec = r->rec;
  size_t n = 0;
  for (size_t i = 0; i < rec->n; i++)
    n += rec->regs[i].field == KITH_F_REF_EVENTS && kith_reg_live(&rec->regs[i]);
  if (n && !(r->events = calloc(n, sizeof *r->events)))
    return KITH_ENOMEM;
  for (size_t i = 0; i < rec->n; i++) {
    const struct kith_reg *g = &rec->regs[i];
    if (g->field != KITH_F_REF_EVENTS || !kith_reg_live(g) || g->val->n != 3)
      continue;
    int s = kith_referral_status_parse(g->val->p[1]);
    if (s < 0)
      continue;
    r->events[r->nevents++] = (struct kith_referral_event){g->stamp, s, g->val->p[2]};
  }
  if (r->nevents)
    qsort(r->events, r->nevents, sizeof *r->events, by_stamp);
  if (r->nevents) {
    r->status = r->events[r->nevents - 1].status;
    r->note = r->events[r->nevents - 1].note;
  }
  return 0;
}

int kith_referral_load(kith_txn *txn, const uint8_t id[static KITH_ID_LEN],
                       struct kith_referral *out)
{
  memset(out, 0, sizeof *out);
  out->status = -1;
  int rc = kith_record_load(txn, id, &out->rec);
  if (rc)
    return rc;
  const struct kith_record *rec = out->rec;
  if (rec->deleted || rec->kind != KITH_KIND_REFERRAL) {
    kith_referral_clear(out);
    return KITH_EINVAL;
  }
  memcpy(out->id, id, KITH_ID_LEN);
  out->created = rec->created;
  out->updated = rec->updated;
  out->reason = kith_record_text(rec, KITH_F_REF_REASON);
  out->value = kith_record_text(rec, KITH_F_REF_VALUE);
  out->thanked = kith_record_text(rec, KITH_F_REF_THANKED);
  out->thank_value = kith_record_text(rec, KITH_F_REF_THANK_VALUE);
  rc = kith_card_space(txn, id, &out->space);
  if (rc == 0)
    rc = find_peer(txn, out);
  if (rc == 0)
    rc = given_by_me(txn, rec, &out->given);
  if (rc == 0)
    rc = find_contact(txn, out);
  if (rc == 0)
    rc = gather_events(out);
  if (rc)
    kith_referral_clear(out);
  return rc;
}

static json_t *text_or_null(const char *s)
{
  return s ? json_string(s) : json_null();
}

static json_t *iso_json(const struct kith_stamp *s)
{
  char buf[25];
  kith_hlc_iso(s->hlc, buf);
  return json_string(buf);
}

json_t *kith_referral_json(const struct kith_referral *r)
{
  char hex[2 * KITH_ID_LEN + 1], peer[2 * KITH_ID_LEN + 1],
      contact[2 * KITH_ID_LEN + 1];
  json_t *o = json_object(), *hist = json_array(), *c = json_object();
  bool ok = o && hist && c;
  kith_hex_encode(r->id, KITH_ID_LEN, hex);
  kith_hex_encode(r->peer, KITH_ID_LEN, peer);
  kith_hex_encode(r->contact, KITH_ID_LEN, contact);
  for (size_t i = 0; ok && i < r->nevents; i++) {
    const struct kith_referral_event *e = &r->events[i];
    json_t *ev = json_object();
    ok = ev && json_array_append_new(hist, ev) == 0 &&
         json_object_set_new(ev, "at", iso_json(&e->at)) == 0 &&
         json_object_set_new(ev, "status",
                             json_string(kith_referral_status_name(e->status))) == 0 &&
         json_object_set_new(ev, "note", text_or_null(e->note)) == 0;
  }
  ok = ok && json_object_set_new(c, "id", json_string(contact)) == 0 &&
       json_object_set_new(c, "name", json_string(r->contact_name)) == 0 &&
       json_object_set_new(c, "shared", json_boolean(r->contact_shared)) == 0;
  ok = ok && json_object_set_new(o, "id", json_string(hex)) == 0 &&
       json_object_set_new(o, "direction",
                           json_string(r->given ? "given" : "received")) == 0 &&
       json_object_set_new(
           o, "peer", r->has_peer ? json_string(r->peer_name) : json_null()) == 0 &&
       json_object_set_new(o, "peer_id",
                           r->has_peer ? json_string(peer) : json_null()) == 0 &&
       json_object_set(o, "contact", c) == 0 &&
       json_object_set_new(o, "reason", text_or_null(r->reason)) == 0 &&
       json_object_set_new(o, "value", text_or_null(r->value)) == 0 &&
       json_object_set_new(o, "status",
                           text_or_null(kith_referral_status_name(r->status))) == 0 &&
       json_object_set_new(o, "note", text_or_null(r->note)) == 0 &&
       json_object_set(o, "history", hist) == 0 &&
       json_object_set_new(o, "thanked", text_or_null(r->thanked)) == 0 &&
       json_object_set_new(o, "thank_value", text_or_null(r->thank_value)) == 0 &&
       json_object_set_new(o, "created", iso_json(&r->created)) == 0 &&
       json_object_set_new(o, "updated", iso_json(&r->updated)) == 0;
  json_decref(hist);
  json_decref(c);
  if (!ok) {
    json_decref(o);
    return NULL;
  }
  return o;
}

/* ---- stats -------------------------------------------------------------------- */

/* Adds text, if it is an amount, to s. */
static int sum_text(struct kith_amount_sum *s, const char *text)
{
  struct kith_amount a;
  if (!text || kith_amount_parse(text, &a, NULL) != 0)
    return 0;
  return kith_amount_add(s, &a);
}

int kith_referral_tally_add(struct kith_referral_tally *t,
                            const struct kith_referral *r)
{
  struct kith_referral_tally next = *t; /* unchanged on error */
  int rc = 0;
  next.count++;
  if (r->status >= 0 && r->status < KITH_REF_STATUSES)
    next.by_status[r->status]++;
  if (r->status == KITH_REF_WON)
    rc = sum_text(&next.won_value, r->value);
  if (rc == 0 && r->thanked) {
    next.thanked++;
    rc = sum_text(&next.thank_value, r->thank_value);
  }
  if (rc == 0)
    *t = next;
  return rc;
}

static json_t *sums_json(const struct kith_amount_sum *s)
{
  json_t *a = json_array();
  for (size_t i = 0; a && i < s->n; i++) {
    char num[KITH_AMOUNT_TEXT];
    kith_amount_format(s->v[i].units, num);
    json_t *e = json_object();
    if (!e || json_array_append_new(a, e) != 0 ||
        json_object_set_new(e, "amount", json_string(num)) != 0 ||
        json_object_set_new(e, "currency",
                            s->v[i].currency[0] ? json_string(s->v[i].currency)
                                                : json_null()) != 0) {
      json_decref(a);
      return NULL;
    }
  }
  return a;
}

static json_t *ratio(unsigned num, unsigned den)
{
  return den ? json_real((double)num / den) : json_null();
}

json_t *kith_referral_tally_json(const struct kith_referral_tally *t)
{
  unsigned won = t->by_status[KITH_REF_WON];
  unsigned closed = won + t->by_status[KITH_REF_LOST] + t->by_status[KITH_REF_DECLINED];
  json_t *by = json_object(), *o = NULL;
  for (int i = 0; by && i < KITH_REF_STATUSES; i++)
    if (json_object_set_new(by, status_names[i], json_integer(t->by_status[i])) != 0) {
      json_decref(by);
      by = NULL;
    }
  json_t *wv = sums_json(&t->won_value), *tv = sums_json(&t->thank_value);
  if (by && wv && tv)
    o = json_pack("{s:I, s:O, s:I, s:I, s:{s:o, s:o}, s:O, s:I, s:O}", "count",
                  (json_int_t)t->count, "by_status", by, "won", (json_int_t)won,
                  "closed", (json_int_t)closed, "conversion", "closed",
                  ratio(won, closed), "all", ratio(won, t->count), "won_value", wv,
                  "thanked", (json_int_t)t->thanked, "thank_value", tv);
  json_decref(by);
  json_decref(wv);
  json_decref(tv);
  return o;
}
