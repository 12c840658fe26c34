#include "core/intro.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/json.h"
#include "core/mycard.h"
#include "core/relays.h"
#include "core/space.h"
#include "proto/envelope.h"
#include "proto/hex.h"

#define PK_HEX (2 * KITH_ED25519_PK_LEN + 1)
#define DETAILS_MAX (12u * 1024u) /* bytes of JSON a party gives: a 16 KiB envelope */

/* ---- small helpers ------------------------------------------------------------ */

void kith_intro_iso(uint64_t ms, char out[25])
{
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 25, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int kith_intro_parse_iso(const char *s, uint64_t *ms)
{
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  if (!s || strlen(s) != 20 || !kith_date_valid(s) || s[19] != 'Z')
    return KITH_EBADMSG;
  tm.tm_year =
      (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + s[3] - '0' - 1900;
  tm.tm_mon = (s[5] - '0') * 10 + s[6] - '0' - 1;
  tm.tm_mday = (s[8] - '0') * 10 + s[9] - '0';
  tm.tm_hour = (s[11] - '0') * 10 + s[12] - '0';
  tm.tm_min = (s[14] - '0') * 10 + s[15] - '0';
  tm.tm_sec = (s[17] - '0') * 10 + s[18] - '0';
  time_t t = timegm(&tm);
  if (t < 0)
    return KITH_EBADMSG;
  *ms = (uint64_t)t * 1000;
  return 0;
}

static int put_text(kith_txn *txn, const uint8_t id[KITH_ID_LEN], uint8_t field,
                    const char *text)
{
  struct kith_value *v = kith_value_new(1, &text);
  int rc = v ? kith_field_set(txn, id, kith_field_by_id(field), v) : KITH_ENOMEM;
  kith_value_free(v);
  return rc;
}

static bool eq(const char *a, const char *b)
{
  return a && b && strcmp(a, b) == 0;
}

static void hash16(const char *label, const uint8_t *a, size_t alen, const uint8_t *b,
                   size_t blen, uint8_t out[16])
{
  crypto_generichash_state h;
  crypto_generichash_init(&h, (const uint8_t *)label, strlen(label), 16);
  crypto_generichash_update(&h, a, alen);
  if (b)
    crypto_generichash_update(&h, b, blen);
  crypto_generichash_final(&h, out, 16);
}

void kith_intro_proposal_id(const uint8_t intro[static KITH_ID_LEN],
                            const uint8_t gid[static 16], uint8_t out[KITH_ID_LEN])
{
  hash16("kith intro proposal v1", intro, KITH_ID_LEN, gid, 16, out);
}

void kith_intro_contact_id(const uint8_t nonce[static KITH_INTRO_NONCE_LEN],
                           const uint8_t pk[static KITH_ED25519_PK_LEN],
                           uint8_t out[KITH_ID_LEN])
{
  hash16("kith intro contact v1", nonce, KITH_INTRO_NONCE_LEN, pk, KITH_ED25519_PK_LEN,
         out);
}

/* The partnership a pending peer from an introduction gets: both sides compute it. */
static void intro_space(const uint8_t nonce[KITH_INTRO_NONCE_LEN],
                        const uint8_t a[KITH_ED25519_PK_LEN],
                        const uint8_t b[KITH_ED25519_PK_LEN], uint8_t gid[16])
{
  uint8_t in[KITH_INTRO_NONCE_LEN + 2 * KITH_ED25519_PK_LEN];
  bool a_first = memcmp(a, b, KITH_ED25519_PK_LEN) < 0;
  memcpy(in, nonce, KITH_INTRO_NONCE_LEN);
  memcpy(in + KITH_INTRO_NONCE_LEN, a_first ? a : b, KITH_ED25519_PK_LEN);
  memcpy(in + KITH_INTRO_NONCE_LEN + KITH_ED25519_PK_LEN, a_first ? b : a,
         KITH_ED25519_PK_LEN);
  hash16("kith intro space v1", in, sizeof in, NULL, 0, gid);
}

static bool hex_key(const char *s, uint8_t pk[KITH_ED25519_PK_LEN])
{
  return s && strlen(s) == 2 * KITH_ED25519_PK_LEN &&
         kith_hex_decode(s, pk, KITH_ED25519_PK_LEN) == 0;
}

/* "KEYHEX.REST": the key, and REST borrowed from s. */
static bool split_keyed(const char *s, uint8_t pk[KITH_ED25519_PK_LEN],
                        const char **rest)
{
  char hex[PK_HEX];
  if (!s || strlen(s) < PK_HEX || s[PK_HEX - 1] != '.')
    return false;
  memcpy(hex, s, PK_HEX - 1);
  hex[PK_HEX - 1] = 0;
  *rest = s + PK_HEX;
  return hex_key(hex, pk);
}

/* The bytes an introducer signs: "kith intro v1" | nonce | key (or none, for a
 * contact party) | other name. */
static uint8_t *vouch_msg(const uint8_t nonce[KITH_INTRO_NONCE_LEN], const uint8_t *pk,
                          const char *other, size_t *len)
{
  size_t on = strlen(other), n = 13 + KITH_INTRO_NONCE_LEN + (pk ? 32 : 0) + on;
  uint8_t *m = malloc(n);
  if (!m)
    return NULL;
  memcpy(m, "kith intro v1", 13);
  memcpy(m + 13, nonce, KITH_INTRO_NONCE_LEN);
  if (pk)
    memcpy(m + 13 + KITH_INTRO_NONCE_LEN, pk, 32);
  memcpy(m + n - on, other, on);
  *len = n;
  return m;
}

/* The proposal's fields, as one party and the introducer read them. */
struct prop {
  struct kith_record *rec;
  uint32_t space;
  uint8_t gid[16];
  bool by_me; /* created by one of my devices: I am the introducer */
  const char *state, *answer, *share, *other_name, *message, *sealed, *forward, *vouch,
      *peer_key_hex;
  uint8_t nonce[KITH_INTRO_NONCE_LEN];
  bool has_nonce;
  uint64_t expires;
  uint8_t key[32]; /* the answering device's */
  bool has_key;
  uint64_t answered_ms; /* when the answer was stamped */
};

static void prop_clear(struct prop *p)
{
  kith_record_free(p->rec);
  memset(p, 0, sizeof *p);
}

/* Loads a live proposal. KITH_ENOTFOUND if absent, KITH_EINVAL if not a live
 * proposal in a partnership. */
static int prop_load(kith_txn *txn, const uint8_t id[KITH_ID_LEN], struct prop *p)
{
  struct kith_reg k = {0};
  memset(p, 0, sizeof *p);
  int rc = kith_record_load(txn, id, &p->rec);
  if (rc)
    return rc;
  if (p->rec->deleted || p->rec->kind != KITH_KIND_PROPOSAL)
    return KITH_EINVAL;
  if ((rc = kith_txn_get(txn, id, KITH_F_KIND, NULL, &k)) != 0)
    return rc;
  p->space = k.space;
  kith_reg_clear(&k);
  if (p->space == KITH_SPACE_SELF || p->space == 0)
    return KITH_EINVAL;
  if ((rc = kith_space_gid(txn, p->space, p->gid)) != 0)
    return rc;
  if ((rc = kith_dev_mine(txn, p->rec->created.dev, &p->by_me)) != 0)
    return rc;
  struct kith_record *r = p->rec;
  p->state = kith_record_text(r, KITH_F_PROP_STATE);
  p->answer = kith_record_text(r, KITH_F_PROP_ANSWER);
  p->share = kith_record_text(r, KITH_F_PROP_SHARE);
  p->other_name = kith_record_text(r, KITH_F_PROP_OTHER_NAME);
  p->message = kith_record_text(r, KITH_F_PROP_MESSAGE);
  p->sealed = kith_record_text(r, KITH_F_PROP_SEALED);
  p->forward = kith_record_text(r, KITH_F_PROP_FORWARD);
  p->vouch = kith_record_text(r, KITH_F_PROP_VOUCH);
  p->peer_key_hex = kith_record_text(r, KITH_F_PROP_PEER_KEY);
  const char *n = kith_record_text(r, KITH_F_PROP_NONCE);
  p->has_nonce =
      n && strlen(n) == 32 && kith_hex_decode(n, p->nonce, KITH_INTRO_NONCE_LEN) == 0;
  if (kith_intro_parse_iso(kith_record_text(r, KITH_F_PROP_EXPIRES), &p->expires))
    p->expires = 0;
  p->has_key = hex_key(kith_record_text(r, KITH_F_PROP_KEY), p->key);
  for (size_t i = 0; i < r->n; i++)
    if (r->regs[i].field == KITH_F_PROP_ANSWER)
      p->answered_ms = kith_hlc_ms(r->regs[i].stamp.hlc);
  if (!p->other_name)
    p->other_name = "";
  return 0;
}

static bool prop_open(const struct prop *p)
{
  return eq(p->state, "proposed");
}

/* Whether the proposal's vouch is a valid signature, by a device of the
 * introducer's in this partnership, over its nonce, peer key and other name. */
static int vouch_valid(kith_txn *txn, const struct prop *p, bool *ok)
{
  uint8_t signer[32], sig[crypto_sign_BYTES], pk[32];
  const char *rest;
  size_t n;
  *ok = false;
  bool has_pk = p->peer_key_hex && *p->peer_key_hex;
  if (!p->has_nonce || !p->peer_key_hex || !split_keyed(p->vouch, signer, &rest) ||
      strlen(rest) != 2 * sizeof sig || kith_hex_decode(rest, sig, sizeof sig) != 0 ||
      (has_pk && !hex_key(p->peer_key_hex, pk)))
    return 0;
  bool member = false;
  int rc = kith_partner_key(txn, p->gid, signer, &member);
  if (rc || !member)
    return rc;
  uint8_t *m = vouch_msg(p->nonce, has_pk ? pk : NULL, p->other_name, &n);
  if (!m)
    return KITH_ENOMEM;
  *ok = crypto_sign_verify_detached(sig, m, n, signer) == 0;
  free(m);
  return 0;
}

/* ---- parties and the intro record ------------------------------------------- */

static void party_text(const struct kith_intro_party *p,
                       char out[8 + 2 * KITH_ID_LEN + 1])
{
  char hex[2 * KITH_ID_LEN + 1];
  kith_hex_encode(p->id, KITH_ID_LEN, hex);
  snprintf(out, 8 + 2 * KITH_ID_LEN + 1, "%s:%s", p->contact ? "contact" : "peer", hex);
}

static bool party_parse(const char *s, struct kith_intro_party *p)
{
  const char *hex;
  if (!s)
    return false;
  if (strncmp(s, "peer:", 5) == 0)
    p->contact = false, hex = s + 5;
  else if (strncmp(s, "contact:", 8) == 0)
    p->contact = true, hex = s + 8;
  else
    return false;
  return strlen(hex) == 2 * KITH_ID_LEN &&
         kith_hex_decode(hex, p->id, KITH_ID_LEN) == 0;
}

/* A party's name, and for a peer its partnership (gid may be NULL). */
static int party_load(kith_txn *txn, const struct kith_intro_party *p,
                      char name[KITH_TEXT_MAX + 1], uint8_t *gid)
{
  struct kith_record *rec = NULL;
  int rc = kith_record_load(txn, p->id, &rec);
  if (rc)
    return rc;
  int want = p->contact ? KITH_KIND_CONTACT : KITH_KIND_PEER;
  if (rec->deleted)
    rc = KITH_EDELETED;
  else if (rec->kind != want)
    rc = KITH_ENOTFOUND;
  else if (!p->contact && eq(kith_record_text(rec, KITH_F_PEER_STATUS), "pending"))
    rc = KITH_EINVAL; /* not paired yet */
  if (rc == 0) {
    const char *n = kith_record_text(rec, p->contact ? KITH_F_NAME : KITH_F_PEER_NAME);
    snprintf(name, KITH_TEXT_MAX + 1, "%s", n && *n ? n : "(no name)");
    if (!p->contact && gid) {
      rc = kith_peer_space(txn, p->id, gid);
      if (rc == KITH_ENOTFOUND)
        rc = KITH_EINVAL;
    }
  }
  kith_record_free(rec);
  return rc;
}

/* The intro record's fields. */
struct intro {
  struct kith_record *rec;
  struct kith_intro_party party[2];
  const char *state, *consent[2];
  uint8_t nonce[KITH_INTRO_NONCE_LEN];
  uint64_t expires;
};

static int intro_load(kith_txn *txn, const uint8_t id[KITH_ID_LEN], struct intro *in)
{
  memset(in, 0, sizeof *in);
  int rc = kith_record_load(txn, id, &in->rec);
  if (rc)
    return rc;
  struct kith_record *r = in->rec;
  const char *n = kith_record_text(r, KITH_F_INTRO_NONCE);
  if (r->deleted || r->kind != KITH_KIND_INTRO ||
      !party_parse(kith_record_text(r, KITH_F_INTRO_PARTY1), &in->party[0]) ||
      !party_parse(kith_record_text(r, KITH_F_INTRO_PARTY2), &in->party[1]) || !n ||
      strlen(n) != 32 || kith_hex_decode(n, in->nonce, KITH_INTRO_NONCE_LEN) != 0 ||
      kith_intro_parse_iso(kith_record_text(r, KITH_F_INTRO_EXPIRES), &in->expires))
    return KITH_EINVAL;
  in->state = kith_record_text(r, KITH_F_INTRO_STATE);
  in->consent[0] = kith_record_text(r, KITH_F_INTRO_CONSENT1);
  in->consent[1] = kith_record_text(r, KITH_F_INTRO_CONSENT2);
  return 0;
}

static void intro_clear(struct intro *in)
{
  kith_record_free(in->rec);
  memset(in, 0, sizeof *in);
}

/* Creates the proposal's kind register in its partnership at once (like a roster),
 * so that all its fields land there. */
static int proposal_create(kith_txn *txn, const uint8_t gid[16],
                           const uint8_t id[KITH_ID_LEN])
{
  uint32_t space;
  int rc = kith_space_local(txn, gid, true, &space);
  return rc ? rc : kith_record_create_in(txn, KITH_KIND_PROPOSAL, space, id);
}

int kith_intro_propose(kith_txn *txn, const struct kith_intro_party p[static 2],
                       const char *const msg[static 2], uint64_t expires_ms,
                       uint64_t now_ms, uint8_t id[static KITH_ID_LEN])
{
  char name[2][KITH_TEXT_MAX + 1], pt[2][8 + 2 * KITH_ID_LEN + 1], exp[25],
      nhex[2 * KITH_INTRO_NONCE_LEN + 1];
  uint8_t gid[2][16], nonce[KITH_INTRO_NONCE_LEN], pid[KITH_ID_LEN];
  int rc = 0;
  if ((p[0].contact == p[1].contact && memcmp(p[0].id, p[1].id, KITH_ID_LEN) == 0) ||
      (p[0].contact && p[1].contact) || expires_ms <= now_ms)
    return KITH_EINVAL;
  for (int i = 0; i < 2; i++) {
    if (msg[i] && strlen(msg[i]) > KITH_INTRO_MESSAGE_MAX)
      return KITH_ETOOBIG;
    if (msg[i] && !kith_utf8_valid(msg[i], strlen(msg[i])))
      return KITH_EBADUTF8;
    if ((rc = party_load(txn, &p[i], name[i], gid[i])) != 0)
      return rc;
    party_text(&p[i], pt[i]);
  }
  randombytes_buf(nonce, sizeof nonce);
  kith_hex_encode(nonce, sizeof nonce, nhex);
  kith_intro_iso(expires_ms, exp);
  if ((rc = kith_record_create(txn, KITH_KIND_INTRO, false, id)) != 0)
    return rc;
  const uint8_t fields[][2] = {{KITH_F_INTRO_PARTY1, KITH_F_INTRO_MESSAGE1},
                               {KITH_F_INTRO_PARTY2, KITH_F_INTRO_MESSAGE2}};
  for (int i = 0; rc == 0 && i < 2; i++) {
    rc = put_text(txn, id, fields[i][0], pt[i]);
    if (rc == 0 && msg[i] && *msg[i])
      rc = put_text(txn, id, fields[i][1], msg[i]);
  }
  if (rc == 0)
    rc = put_text(txn, id, KITH_F_INTRO_EXPIRES, exp);
  if (rc == 0)
    rc = put_text(txn, id, KITH_F_INTRO_STATE, "proposed");
  if (rc == 0)
    rc = put_text(txn, id, KITH_F_INTRO_NONCE, nhex);
  for (int i = 0; rc == 0 && i < 2; i++) {
    if (p[i].contact)
      continue;
    kith_intro_proposal_id(id, gid[i], pid);
    rc = proposal_create(txn, gid[i], pid);
    if (rc == 0)
      rc = put_text(txn, pid, KITH_F_PROP_OTHER_NAME, name[1 - i]);
    if (rc == 0 && msg[i] && *msg[i])
      rc = put_text(txn, pid, KITH_F_PROP_MESSAGE, msg[i]);
    if (rc == 0)
      rc = put_text(txn, pid, KITH_F_PROP_EXPIRES, exp);
    if (rc == 0)
      rc = put_text(txn, pid, KITH_F_PROP_NONCE, nhex);
    if (rc == 0)
      rc = put_text(txn, pid, KITH_F_PROP_STATE, "proposed");
  }
  return rc;
}

/* ---- cards ------------------------------------------------------------------ */

/* Whether every name in share is a field of my contact record for a party that
 * does not use kith that I can pass on (a non-private contact field of a text or
 * a list shape). */
static int share_check(const char *share)
{
  char buf[1024];
  if (!share)
    return 0;
  if (strlen(share) >= sizeof buf)
    return KITH_ETOOBIG;
  snprintf(buf, sizeof buf, "%s", share);
  for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t;
       t = strtok_r(NULL, ", ", &save)) {
    const struct kith_field *f = kith_field_by_name(KITH_KIND_CONTACT, t);
    if (!f || f->priv ||
        (f->shape != KITH_SHAPE_TEXT && f->shape != KITH_SHAPE_DATE &&
         f->shape != KITH_SHAPE_TYPED))
      return KITH_EUNKFIELD;
  }
  return 0;
}

/* The JSON text of record id's fields named in share (with "name" always; a
 * record that is absent gives the name alone), malloc'd in *out: a contact party's
 * details as I hold them. fallback_name: the name when the record has none. */
static int details_json(kith_txn *txn, const uint8_t id[KITH_ID_LEN], const char *share,
                        const char *fallback_name, char **out)
{
  struct kith_record *rec = NULL;
  json_t *all = NULL, *o = json_object();
  char buf[1024];
  int rc = o ? 0 : KITH_ENOMEM;
  if (rc == 0 && (rc = kith_record_load(txn, id, &rec)) == 0 && !rec->deleted)
    all = kith_json_record(txn, rec, 0);
  if (rc == KITH_ENOTFOUND)
    rc = 0;
  const char *nm = all ? json_string_value(json_object_get(all, "name")) : NULL;
  if (rc == 0)
    rc = json_object_set_new(o, "name", json_string(nm && *nm ? nm : fallback_name))
             ? KITH_ENOMEM
             : 0;
  snprintf(buf, sizeof buf, "%s", share ? share : "");
  for (char *save = NULL, *t = strtok_r(buf, ", ", &save); rc == 0 && all && t;
       t = strtok_r(NULL, ", ", &save)) {
    const struct kith_field *f = kith_field_by_name(KITH_KIND_CONTACT, t);
    json_t *v = f && !f->priv ? json_object_get(all, f->json) : NULL;
    if (v && !json_is_null(v) && strcmp(f->json, "name") != 0)
      rc = json_object_set(o, f->json, v) ? KITH_ENOMEM : 0;
  }
  if (rc == 0) {
    *out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    rc = !*out ? KITH_ENOMEM : strlen(*out) > DETAILS_MAX ? KITH_ETOOBIG : 0;
    if (rc)
      free(*out), *out = NULL;
  }
  json_decref(all);
  json_decref(o);
  kith_record_free(rec);
  return rc;
}

/* The details I give (core/mycard.h): my card's fields named in share (my name
 * always), and, for a kith party, my relays; JSON text malloc'd in *out. */
static int my_details(kith_txn *txn, const char *share, bool relays, char **out)
{
  json_t *o = NULL;
  int rc = kith_mycard_subset(txn, share && *share ? share : "name", &o, NULL);
  if (rc == KITH_EUNKFIELD || rc == KITH_EINVAL) /* a card field gone since: name */
    rc = kith_mycard_subset(txn, "name", &o, NULL);
  if (rc == 0 && relays) {
    struct kith_relay_list mine;
    json_t *arr = json_array();
    rc = arr ? kith_relays_mine(txn, &mine) : KITH_ENOMEM;
    for (size_t i = 0; rc == 0 && i < mine.n; i++)
      rc = json_array_append_new(arr, json_string(mine.addr[i])) ? KITH_ENOMEM : 0;
    if (rc == 0 && mine.n)
      rc = json_object_set(o, "relays", arr) ? KITH_ENOMEM : 0;
    json_decref(arr);
  }
  if (rc == 0) {
    *out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    rc = !*out ? KITH_ENOMEM : strlen(*out) > DETAILS_MAX ? KITH_ETOOBIG : 0;
    if (rc)
      free(*out), *out = NULL;
  }
  json_decref(o);
  return rc;
}

/* Seals text from me (sk) to pk: "MYKEYHEX.ENVELOPEHEX" in *out. */
static int seal_hex(const uint8_t sk[64], const uint8_t me[32], const uint8_t pk[32],
                    const char *text, char **out)
{
  uint8_t box[KITH_BOX_LEN], *env = NULL;
  size_t n = 0;
  int rc = kith_box_derive(sk, pk, true, box);
  if (rc == 0)
    rc = kith_envelope_seal(sk, pk, box, (const uint8_t *)text, strlen(text), NULL,
                            &env, &n);
  if (rc == 0) {
    char *s = malloc(PK_HEX + 2 * n + 1);
    if (!s)
      rc = KITH_ENOMEM;
    else {
      kith_hex_encode(me, 32, s);
      s[PK_HEX - 1] = '.';
      kith_hex_encode(env, n, s + PK_HEX);
      *out = s;
    }
  }
  free(env);
  return rc;
}

/* ---- answers ---------------------------------------------------------------- */

int kith_intro_answer(kith_txn *txn, const uint8_t prop[static KITH_ID_LEN],
                      bool accept, const char *share, uint64_t now_ms)
{
  struct prop p;
  struct kith_identity me;
  char hex[PK_HEX];
  int rc = prop_load(txn, prop, &p);
  if (rc == 0 && (p.by_me || !prop_open(&p) || (p.peer_key_hex && p.answer)))
    rc = KITH_EINVAL;
  if (rc == 0 && (!p.expires || now_ms >= p.expires))
    rc = KITH_EEXPIRED;
  if (rc == 0 && accept && share && *share) { /* fields my card holds */
    json_t *o = NULL;
    rc = kith_mycard_subset(txn, share, &o, NULL);
    json_decref(o);
    if (rc == KITH_EINVAL) /* no field named at all (","): my name alone */
      rc = 0;
  }
  if (rc == 0)
    rc = kith_txn_identity(txn, &me);
  if (rc == 0)
    rc = put_text(txn, prop, KITH_F_PROP_ANSWER, accept ? "accepted" : "declined");
  if (rc == 0 && accept) {
    kith_hex_encode(me.pk, 32, hex);
    rc = put_text(txn, prop, KITH_F_PROP_KEY, hex);
    if (rc == 0)
      rc = share && *share
               ? put_text(txn, prop, KITH_F_PROP_SHARE, share)
               : kith_field_set(txn, prop, kith_field_by_id(KITH_F_PROP_SHARE), NULL);
  }
  prop_clear(&p);
  return rc;
}

int kith_intro_consent(kith_txn *txn, const uint8_t intro[static KITH_ID_LEN],
                       int party, bool accept, const char *share, uint64_t now_ms)
{
  struct intro in;
  if (party < 0 || party > 1)
    return KITH_EINVAL;
  int rc = intro_load(txn, intro, &in);
  if (rc == 0 && (!in.party[party].contact || !eq(in.state, "proposed")))
    rc = KITH_EINVAL;
  if (rc == 0 && now_ms >= in.expires)
    rc = KITH_EEXPIRED;
  if (rc == 0 && accept)
    rc = share_check(share);
  if (rc == 0) {
    char buf[1100];
    snprintf(buf, sizeof buf, "%s%s", accept ? "accepted:" : "declined",
             accept && share ? share : "");
    rc = put_text(txn, intro, party ? KITH_F_INTRO_CONSENT2 : KITH_F_INTRO_CONSENT1,
                  buf);
  }
  intro_clear(&in);
  return rc;
}

/* Closes a proposal unless it is closed or completed already. */
static int prop_close(kith_txn *txn, const uint8_t id[KITH_ID_LEN])
{
  struct prop p;
  int rc = prop_load(txn, id, &p);
  if (rc == 0 && prop_open(&p))
    rc = put_text(txn, id, KITH_F_PROP_STATE, "closed");
  prop_clear(&p);
  return rc == KITH_ENOTFOUND || rc == KITH_EINVAL ? 0 : rc;
}

/* The proposal ids of an intro's peer parties (has[i] false for a contact, or a
 * peer whose partnership is gone). */
static int intro_props(kith_txn *txn, const struct intro *in, uint8_t pid[2][16],
                       bool has[2])
{
  for (int i = 0; i < 2; i++) {
    uint8_t gid[16];
    has[i] = false;
    if (in->party[i].contact)
      continue;
    int rc = kith_peer_space(txn, in->party[i].id, gid);
    if (rc == KITH_ENOTFOUND)
      continue;
    if (rc)
      return rc;
    kith_intro_proposal_id(in->rec->id, gid, pid[i]);
    has[i] = true;
  }
  return 0;
}

int kith_intro_withdraw(kith_txn *txn, const uint8_t intro[static KITH_ID_LEN])
{
  struct intro in;
  struct kith_intro_view v;
  uint8_t pid[2][16];
  bool has[2];
  int rc = intro_load(txn, intro, &in);
  if (rc == 0)
    rc = kith_intro_view(txn, in.rec, 0, &v);
  if (rc == 0 && (strcmp(v.status, "completed") == 0 || eq(in.state, "withdrawn")))
    rc = KITH_EINVAL;
  if (rc == 0)
    rc = put_text(txn, intro, KITH_F_INTRO_STATE, "withdrawn");
  if (rc == 0)
    rc = intro_props(txn, &in, pid, has);
  for (int i = 0; rc == 0 && i < 2; i++)
    if (has[i])
      rc = prop_close(txn, pid[i]);
  intro_clear(&in);
  return rc;
}

/* ---- the steps -------------------------------------------------------------- */

/* Errors in data from a peer leave the record alone; store errors stop. */
static int soft(int rc)
{
  return rc == KITH_EBADMSG || rc == KITH_EINVAL || rc == KITH_ENOTFOUND ||
                 rc == KITH_EDELETED || rc == KITH_ETOOBIG || rc == KITH_EBADUTF8 ||
                 rc == KITH_EUNKFIELD
             ? 0
             : rc;
}

/* Step 3 for proposal i: the other party's key (NULL for a contact) and my vouch,
 * written unless a valid vouch for the same key is there. */
static int vouch_one(kith_txn *txn, const uint8_t id[16], struct prop *p,
                     const uint8_t *other_pk, const uint8_t sk[64],
                     const uint8_t me[32])
{
  char khex[PK_HEX] = "", sig_hex[2 * crypto_sign_BYTES + 1],
       v[PK_HEX + 2 * crypto_sign_BYTES + 1];
  uint8_t sig[crypto_sign_BYTES];
  size_t n;
  bool ok;
  if (other_pk)
    kith_hex_encode(other_pk, 32, khex);
  if (eq(p->peer_key_hex, khex)) {
    int rc = vouch_valid(txn, p, &ok);
    if (rc || ok)
      return rc;
  }
  if (!p->has_nonce)
    return 0;
  uint8_t *m = vouch_msg(p->nonce, other_pk, p->other_name, &n);
  if (!m)
    return KITH_ENOMEM;
  crypto_sign_detached(sig, NULL, m, n, sk);
  free(m);
  kith_hex_encode(sig, sizeof sig, sig_hex);
  kith_hex_encode(me, 32, v);
  snprintf(v + PK_HEX - 1, sizeof v - PK_HEX + 1, ".%s", sig_hex);
  int rc = put_text(txn, id, KITH_F_PROP_PEER_KEY, khex);
  if (rc == 0)
    rc = put_text(txn, id, KITH_F_PROP_VOUCH, v);
  return rc;
}

/* The introducer's side of one intro: steps 3 and 5. */
static int step_intro(kith_txn *txn, const uint8_t id[KITH_ID_LEN], uint64_t now_ms,
                      const uint8_t sk[64], const uint8_t me[32])
{
  struct intro in;
  struct prop p[2];
  uint8_t pid[2][16];
  bool has[2], accepted[2], declined[2];
  memset(p, 0, sizeof p);
  int rc = intro_load(txn, id, &in);
  if (rc == 0)
    rc = intro_props(txn, &in, pid, has);
  if (rc)
    goto out;
  for (int i = 0; i < 2; i++) {
    accepted[i] = declined[i] = false;
    if (in.party[i].contact) {
      accepted[i] = in.consent[i] && strncmp(in.consent[i], "accepted:", 9) == 0;
      declined[i] = eq(in.consent[i], "declined");
      continue;
    }
    if (!has[i] || (rc = prop_load(txn, pid[i], &p[i])) != 0) {
      rc = 0;
      goto out; /* its proposal has not come back, or is gone */
    }
    accepted[i] =
        eq(p[i].answer, "accepted") && p[i].has_key && p[i].answered_ms < in.expires;
    declined[i] = eq(p[i].answer, "declined");
  }
  bool vouched = (in.party[0].contact || p[0].peer_key_hex) &&
                 (in.party[1].contact || p[1].peer_key_hex);
  if (eq(in.state, "withdrawn") || declined[0] || declined[1] ||
      (!vouched && now_ms >= in.expires && !(accepted[0] && accepted[1]))) {
    for (int i = 0; rc == 0 && i < 2; i++)
      if (!in.party[i].contact && prop_open(&p[i]))
        rc = put_text(txn, pid[i], KITH_F_PROP_STATE, "closed");
    goto out;
  }
  if (!accepted[0] || !accepted[1] || !eq(in.state, "proposed"))
    goto out;
  for (int i = 0; rc == 0 && i < 2; i++) { /* step 3 */
    if (in.party[i].contact || !prop_open(&p[i]))
      continue;
    const struct prop *o = &p[1 - i];
    rc = soft(
        vouch_one(txn, pid[i], &p[i], in.party[1 - i].contact ? NULL : o->key, sk, me));
  }
  for (int i = 0; rc == 0 && i < 2; i++) { /* step 5 */
    if (in.party[i].contact || !prop_open(&p[i]) || p[i].forward)
      continue;
    char *fwd = NULL;
    if (in.party[1 - i].contact) { /* the contact's details, from my record of it */
      const char *share = in.consent[1 - i] + 9; /* after "accepted:" */
      char *text = NULL;
      rc = details_json(txn, in.party[1 - i].id, share, "(no name)", &text);
      if (rc == 0)
        rc = seal_hex(sk, me, p[i].key, text, &fwd);
      free(text);
      rc = soft(rc);
    } else if (p[1 - i].sealed && p[1 - i].has_key) { /* copied unread */
      char khex[PK_HEX];
      size_t n = strlen(p[1 - i].sealed);
      kith_hex_encode(p[1 - i].key, 32, khex);
      if ((fwd = malloc(PK_HEX + n + 1)) == NULL)
        rc = KITH_ENOMEM;
      else
        snprintf(fwd, PK_HEX + n + 1, "%s.%s", khex, p[1 - i].sealed);
    }
    if (rc == 0 && fwd)
      rc = put_text(txn, pid[i], KITH_F_PROP_FORWARD, fwd);
    free(fwd);
  }
  if (rc)
    goto out;
  /* completed once every peer party's proposal holds a forward */
  bool all = true;
  for (int i = 0; i < 2; i++) {
    if (in.party[i].contact)
      continue;
    struct prop q;
    if ((rc = prop_load(txn, pid[i], &q)) != 0)
      goto out;
    all = all && q.forward;
    prop_clear(&q);
  }
  for (int i = 0; rc == 0 && all && i < 2; i++)
    if (!in.party[i].contact && prop_open(&p[i]))
      rc = put_text(txn, pid[i], KITH_F_PROP_STATE, "completed");
out:
  prop_clear(&p[0]);
  prop_clear(&p[1]);
  intro_clear(&in);
  return soft(rc);
}

/* The introducer's name: the peer whose partnership holds the proposal. */
static int introducer_name(kith_txn *txn, const uint8_t gid[16],
                           char out[KITH_TEXT_MAX + 1])
{
  uint8_t peer[KITH_ID_LEN];
  struct kith_record *rec = NULL;
  snprintf(out, KITH_TEXT_MAX + 1, "(unknown)");
  int rc = kith_space_peer(txn, gid, peer);
  if (rc == 0 && (rc = kith_record_load(txn, peer, &rec)) == 0) {
    const char *n = kith_record_text(rec, KITH_F_PEER_NAME);
    if (n)
      snprintf(out, KITH_TEXT_MAX + 1, "%s", n);
  }
  kith_record_free(rec);
  return rc == KITH_ENOTFOUND ? 0 : rc;
}

/* Adds [addr, key hex] to the relays of gid's roster, creating it (in its space). */
static int roster_relay(kith_txn *txn, const uint8_t gid[16], const char *parts[2])
{
  uint8_t rid[KITH_ID_LEN];
  uint32_t space;
  struct kith_reg k = {0};
  kith_roster_id(gid, rid);
  int rc = kith_space_local(txn, gid, true, &space);
  if (rc == 0 && (rc = kith_txn_get(txn, rid, KITH_F_KIND, NULL, &k)) == KITH_ENOTFOUND)
    rc = kith_record_create_in(txn, KITH_KIND_ROSTER, space, rid);
  kith_reg_clear(&k);
  if (rc)
    return rc;
  struct kith_value *v = kith_value_new(2, parts);
  rc = v ? soft(kith_set_add(txn, rid, kith_field_by_id(KITH_F_ROSTER_RELAYS), v))
         : KITH_ENOMEM;
  kith_value_free(v);
  return rc;
}

/* Step 6: the other's details, opened, as a contact of mine with where it came
 * from in a note, and (for a kith party) a pending peer. */
static int receive(kith_txn *txn, const uint8_t id[16], struct prop *p,
                   const uint8_t sk[64], const uint8_t me[32])
{
  uint8_t from[32], cid[16], box[KITH_BOX_LEN], *env = NULL, *post = NULL, gid[16],
                                                peer[16], nid[16];
  size_t elen, plen = 0;
  const char *rest;
  struct kith_reg k = {0};
  json_t *doc = NULL;
  char who[KITH_TEXT_MAX + 1], day[25], *note = NULL;
  bool kith_party = p->peer_key_hex && *p->peer_key_hex;
  (void)id;
  if (!split_keyed(p->forward, from, &rest))
    return KITH_EBADMSG;
  if (kith_party) { /* sealed by the key A vouched for */
    uint8_t want[32];
    if (!hex_key(p->peer_key_hex, want) || sodium_memcmp(want, from, 32) != 0)
      return KITH_EBADMSG;
  } else { /* a contact party: sealed by one of A's devices */
    bool member = false;
    int rc = kith_partner_key(txn, p->gid, from, &member);
    if (rc || !member)
      return rc ? rc : KITH_EBADMSG;
  }
  kith_intro_contact_id(p->nonce, from, cid);
  int rc = kith_txn_get(txn, cid, KITH_F_KIND, NULL, &k);
  kith_reg_clear(&k);
  if (rc != KITH_ENOTFOUND)
    return rc; /* done already (or deleted since: left so) */
  elen = strlen(rest) / 2;
  if (strlen(rest) % 2 || elen > KITH_ENVELOPE_MAX)
    return KITH_EBADMSG;
  if (!(env = malloc(elen ? elen : 1)))
    return KITH_ENOMEM;
  rc = kith_hex_decode(rest, env, elen) == 0 ? 0 : KITH_EBADMSG;
  if (rc == 0)
    rc = kith_box_derive(sk, from, false, box);
  if (rc == 0)
    rc = kith_envelope_open(sk, from, box, env, elen, &post, &plen);
  if (rc == 0 &&
      (plen > DETAILS_MAX ||
       !(doc = json_loadb((const char *)post, plen, JSON_REJECT_DUPLICATES, NULL)) ||
       !json_is_object(doc)))
    rc = KITH_EBADMSG;
  if (rc == 0)
    rc = kith_record_create(txn, KITH_KIND_CONTACT, true, cid);
  const char *key;
  json_t *val;
  json_object_foreach(doc, key, val)
  {
    if (rc)
      break;
    const struct kith_field *f = kith_field_by_name(KITH_KIND_CONTACT, key);
    if (!f || f->priv)
      continue;
    if (json_is_string(val) &&
        (f->shape == KITH_SHAPE_TEXT || f->shape == KITH_SHAPE_DATE))
      rc = soft(put_text(txn, cid, f->id, json_string_value(val)));
    else if (json_is_object(val) && f->shape == KITH_SHAPE_XMAP) { /* x-NAME */
      const char *xname;
      json_t *xv;
      size_t n = 0;
      json_object_foreach(val, xname, xv)
      {
        const char *parts[2] = {xname, json_string_value(xv)};
        if (!parts[1] || n++ >= 64)
          continue;
        struct kith_value *v = kith_value_new(2, parts);
        rc = v ? soft(kith_set_add(txn, cid, f, v)) : KITH_ENOMEM;
        kith_value_free(v);
        if (rc)
          break;
      }
    } else if (json_is_array(val) && f->shape == KITH_SHAPE_ADDR) {
      /* [{"kind", "po_box", "ext", "street", "locality", "region", "code",
       * "country"}], as a contact's JSON has them (core/json.h) */
      static const char *const keys[KITH_ADDR_PARTS] = {
          "kind", "po_box", "ext", "street", "locality", "region", "code", "country"};
      size_t i;
      json_t *e;
      json_array_foreach(val, i, e)
      {
        const char *parts[KITH_ADDR_PARTS] = {0};
        if (!json_is_object(e) || i >= 16)
          continue;
        for (int j = 0; j < KITH_ADDR_PARTS; j++)
          parts[j] = json_string_value(json_object_get(e, keys[j]));
        struct kith_value *v = kith_value_new(KITH_ADDR_PARTS, parts);
        rc = v ? soft(kith_set_add(txn, cid, f, v)) : KITH_ENOMEM;
        kith_value_free(v);
        if (rc)
          break;
      }
    } else if (json_is_array(val) && f->shape == KITH_SHAPE_TYPED) {
      size_t i;
      json_t *e;
      json_array_foreach(val, i, e)
      {
        const char *parts[2] = {json_string_value(e), NULL};
        if (!parts[0] || i >= 64)
          continue;
        /* "kinds": {"emails": {value: kind}}, as a contact's JSON has them */
        parts[1] = json_string_value(json_object_get(
            json_object_get(json_object_get(doc, "kinds"), key), parts[0]));
        struct kith_value *v = kith_value_new(2, parts);
        rc = v ? soft(kith_set_add(txn, cid, f, v)) : KITH_ENOMEM;
        kith_value_free(v);
        if (rc)
          break;
      }
    }
  }
  if (rc == 0)
    rc = introducer_name(txn, p->gid, who);
  if (rc == 0) {
    struct kith_stamp now;
    if ((rc = kith_txn_stamp(txn, &now)) == 0) {
      kith_hlc_iso(now.hlc, day);
      day[10] = 0;
      size_t n = strlen(who) + (p->message ? strlen(p->message) : 0) + 64;
      if (!(note = malloc(n)))
        rc = KITH_ENOMEM;
      else if (p->message && *p->message)
        snprintf(note, n, "Introduced by %s, on %s, because %s", who, day, p->message);
      else
        snprintf(note, n, "Introduced by %s, on %s", who, day);
    }
  }
  if (rc == 0)
    rc = kith_note_create(txn, cid, note, nid);
  if (rc == 0 && kith_party) {
    const char *nm = json_string_value(json_object_get(doc, "name"));
    intro_space(p->nonce, me, from, gid);
    rc = kith_peer_add_pending(txn, nm && *nm ? nm : p->other_name, from, gid, peer);
    /* where the other fetches: in our future partnership's roster, as a pairing
     * would list them, so that once both confirm we can deposit for each other */
    json_t *relays = json_object_get(doc, "relays"), *e;
    size_t i;
    char khex[PK_HEX];
    kith_hex_encode(from, 32, khex);
    json_array_foreach(relays, i, e)
    {
      const char *parts[2] = {json_string_value(e), khex};
      if (rc || i >= KITH_RELAYS_MAX)
        break;
      if (!parts[0] || !*parts[0] || strlen(parts[0]) >= KITH_RELAY_ADDR_MAX)
        continue;
      rc = roster_relay(txn, gid, parts);
    }
  }
  free(note);
  json_decref(doc);
  if (post)
    sodium_memzero(post, plen);
  free(post);
  free(env);
  return rc;
}

/* A party's side of one proposal: steps 4 and 6, on the device that answered. */
static int step_prop(kith_txn *txn, const uint8_t id[KITH_ID_LEN], const uint8_t sk[64],
                     const uint8_t me[32])
{
  struct prop p;
  bool ok = false;
  char *text = NULL, *sealed = NULL;
  int rc = prop_load(txn, id, &p);
  if (rc || p.by_me || !eq(p.answer, "accepted") || !p.has_key ||
      sodium_memcmp(p.key, me, 32) != 0 || eq(p.state, "closed") || !p.vouch)
    goto out;
  if ((rc = vouch_valid(txn, &p, &ok)) != 0 || !ok)
    goto out; /* a vouch not signed by the introducer is ignored */
  uint8_t to[32];
  bool kith_party = *p.peer_key_hex;
  if (!p.sealed && !eq(p.state, "completed")) { /* step 4 */
    if (kith_party)
      hex_key(p.peer_key_hex, to);
    else if (!split_keyed(p.vouch, to, &(const char *){NULL}))
      goto out;
    if ((rc = my_details(txn, p.share, kith_party, &text)) == 0 &&
        (rc = seal_hex(sk, me, to, text, &sealed)) == 0)
      rc = put_text(txn, id, KITH_F_PROP_SEALED, sealed + PK_HEX);
  }
  if (rc == 0 && p.forward) /* step 6 */
    rc = receive(txn, id, &p, sk, me);
out:
  if (text)
    sodium_memzero(text, strlen(text));
  free(text);
  free(sealed);
  prop_clear(&p);
  return soft(rc);
}

int kith_intros_step(kith_txn *txn, uint64_t now_ms)
{
  struct kith_id_list intros = {0}, props = {0};
  struct kith_identity me;
  uint8_t sk[KITH_SK_LEN];
  int rc = kith_kind_each(txn, KITH_KIND_INTRO, kith_id_collect, &intros);
  if (rc == 0)
    rc = kith_kind_each(txn, KITH_KIND_PROPOSAL, kith_id_collect, &props);
  if (rc || (intros.n == 0 && props.n == 0))
    goto out;
  if ((rc = kith_txn_identity(txn, &me)) != 0 ||
      (rc = kith_txn_secret_key(txn, sk)) != 0)
    goto out;
  for (size_t i = 0; rc == 0 && i < intros.n; i++)
    rc = step_intro(txn, intros.v[i], now_ms, sk, me.pk);
  for (size_t i = 0; rc == 0 && i < props.n; i++)
    rc = step_prop(txn, props.v[i], sk, me.pk);
out:
  sodium_memzero(sk, sizeof sk);
  free(intros.v);
  free(props.v);
  return rc;
}

/* ---- views ------------------------------------------------------------------ */

int kith_intro_view(kith_txn *txn, const struct kith_record *rec, uint64_t now_ms,
                    struct kith_intro_view *out)
{
  int rc = 0;
  memset(out, 0, sizeof *out);
  memcpy(out->id, rec->id, KITH_ID_LEN);
  if (rec->kind == KITH_KIND_INTRO) {
    struct intro in;
    uint8_t pid[2][16];
    bool has[2], completed = true;
    out->mine = true;
    if ((rc = intro_load(txn, rec->id, &in)) != 0 ||
        (rc = intro_props(txn, &in, pid, has)) != 0)
      goto intro_out;
    out->expires_ms = in.expires;
    out->message[0] = kith_record_text(rec, KITH_F_INTRO_MESSAGE1);
    out->message[1] = kith_record_text(rec, KITH_F_INTRO_MESSAGE2);
    bool declined = false, vouched = true;
    for (int i = 0; i < 2; i++) {
      out->party[i] = in.party[i];
      if (party_load(txn, &in.party[i], out->name[i], NULL) != 0)
        snprintf(out->name[i], sizeof out->name[i], "(gone)");
      const char *a = NULL;
      if (in.party[i].contact) {
        a = in.consent[i];
      } else {
        struct prop p;
        if (has[i] && prop_load(txn, pid[i], &p) == 0) {
          a = p.answer;
          completed = completed && eq(p.state, "completed");
          vouched = vouched && p.peer_key_hex;
          snprintf(out->answer[i], sizeof out->answer[i], "%s", a ? a : "pending");
          prop_clear(&p);
        } else {
          completed = false;
        }
      }
      if (in.party[i].contact)
        snprintf(out->answer[i], sizeof out->answer[i], "%s",
                 !a                               ? "pending"
                 : strncmp(a, "accepted", 8) == 0 ? "accepted"
                                                  : "declined");
      if (!out->answer[i][0])
        snprintf(out->answer[i], sizeof out->answer[i], "pending");
      declined |= strcmp(out->answer[i], "declined") == 0;
    }
    const char *s = eq(in.state, "withdrawn")          ? "withdrawn"
                    : completed                        ? "completed"
                    : declined                         ? "declined"
                    : now_ms >= in.expires && !vouched ? "expired"
                                                       : "proposed";
    snprintf(out->status, sizeof out->status, "%s", s);
  intro_out:
    intro_clear(&in);
    return rc;
  }
  struct prop p;
  if ((rc = prop_load(txn, rec->id, &p)) != 0) {
    prop_clear(&p);
    return rc;
  }
  out->expires_ms = p.expires;
  out->other_name = kith_record_text(rec, KITH_F_PROP_OTHER_NAME);
  out->my_message = kith_record_text(rec, KITH_F_PROP_MESSAGE);
  out->share = kith_record_text(rec, KITH_F_PROP_SHARE);
  rc = introducer_name(txn, p.gid, out->introducer);
  const char *s = eq(p.state, "completed") ? "completed"
                  : eq(p.state, "closed") || eq(p.answer, "declined")
                      ? "not_going_ahead"
                  : now_ms >= p.expires && !p.peer_key_hex ? "not_going_ahead"
                  : eq(p.answer, "accepted")               ? "accepted"
                                                           : "proposed";
  snprintf(out->status, sizeof out->status, "%s", s);
  uint8_t from[32];
  const char *rest;
  if (p.has_nonce && split_keyed(p.forward, from, &rest)) {
    struct kith_reg k = {0};
    kith_intro_contact_id(p.nonce, from, out->contact);
    out->contact_made = kith_txn_get(txn, out->contact, KITH_F_KIND, NULL, &k) == 0;
    kith_reg_clear(&k);
  }
  prop_clear(&p);
  return rc;
}
