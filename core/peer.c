#include "core/peer.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/relays.h"
#include "core/space.h"
#include "proto/hex.h"

void kith_fingerprint(const uint8_t pk[static KITH_ED25519_PK_LEN], char out[40])
{
  uint8_t h[16];
  char hex[33];
  crypto_generichash(h, sizeof h, pk, KITH_ED25519_PK_LEN, (const uint8_t *)"kith fp",
                     7);
  kith_hex_encode(h, sizeof h, hex);
  size_t at = 0;
  for (int i = 0; i < 32; i++) {
    if (i && i % 4 == 0)
      out[at++] = ' ';
    out[at++] = hex[i];
  }
  out[at] = 0;
}

int kith_record_key(const struct kith_record *rec,
                    uint8_t pk[static KITH_ED25519_PK_LEN])
{
  const struct kith_reg *first = NULL;
  for (size_t i = 0; i < rec->n; i++) {
    const struct kith_reg *r = &rec->regs[i];
    if (!kith_reg_live(r))
      continue;
    if (r->field == KITH_F_DEVICE_KEY)
      first = r;
    else if (r->field == KITH_F_PEER_KEYS &&
             (!first || kith_stamp_cmp(&r->stamp, &first->stamp) < 0))
      first = r;
  }
  if (!first || kith_hex_decode(first->val->p[0], pk, KITH_ED25519_PK_LEN) != 0)
    return KITH_ENOTFOUND;
  return 0;
}

struct owner {
  kith_txn *txn;
  int kind;
  char hex[2 * KITH_ED25519_PK_LEN + 1];
  uint8_t id[KITH_ID_LEN];
  bool found;
};

/* A record id derived from a key, so that two of my devices recording the same
 * device or partner apart make one record, not two. */
static void record_id(const char *what, const uint8_t pk[KITH_ED25519_PK_LEN],
                      uint8_t id[KITH_ID_LEN])
{
  crypto_generichash(id, KITH_ID_LEN, pk, KITH_ED25519_PK_LEN, (const uint8_t *)what,
                     strlen(what));
}

void kith_device_id_of(const uint8_t pk[static KITH_ED25519_PK_LEN],
                       uint8_t dev[static KITH_DEVICE_ID_LEN])
{
  crypto_generichash(dev, KITH_DEVICE_ID_LEN, pk, KITH_ED25519_PK_LEN,
                     (const uint8_t *)"kith device id v1", 17);
}

/* My live, unrevoked devices' keys go into a partnership's roster. */
static int roster_my_devices(kith_txn *txn, const uint8_t gid[16])
{
  struct kith_id_list ids = {0};
  int rc = kith_kind_each(txn, KITH_KIND_DEVICE, kith_id_collect, &ids);
  for (size_t i = 0; rc == 0 && i < ids.n; i++) {
    struct kith_record *rec = NULL;
    uint8_t pk[KITH_ED25519_PK_LEN];
    if ((rc = kith_record_load(txn, ids.v[i], &rec)) != 0)
      break;
    if (!kith_record_text(rec, KITH_F_DEVICE_REVOKED) && kith_record_key(rec, pk) == 0)
      rc = kith_roster_add(txn, gid, pk, kith_record_text(rec, KITH_F_DEVICE_LABEL));
    kith_record_free(rec);
  }
  free(ids.v);
  return rc;
}

static int owner_one(void *arg, const uint8_t id[KITH_ID_LEN])
{
  struct owner *o = arg;
  struct kith_record *rec = NULL;
  int rc = kith_record_load(o->txn, id, &rec);
  if (rc)
    return rc == KITH_ENOTFOUND ? 0 : rc;
  uint8_t field = o->kind == KITH_KIND_PEER ? KITH_F_PEER_KEYS : KITH_F_DEVICE_KEY;
  for (size_t i = 0; i < rec->n && !o->found; i++) {
    const struct kith_reg *r = &rec->regs[i];
    if (r->field == field && kith_reg_live(r) && strcmp(r->val->p[0], o->hex) == 0) {
      o->found = true;
      memcpy(o->id, id, KITH_ID_LEN);
    }
  }
  kith_record_free(rec);
  return o->found ? 1 : 0;
}

int kith_key_owner(kith_txn *txn, int kind,
                   const uint8_t pk[static KITH_ED25519_PK_LEN],
                   uint8_t id[static KITH_ID_LEN])
{
  struct owner o = {txn, kind, {0}, {0}, false};
  kith_hex_encode(pk, KITH_ED25519_PK_LEN, o.hex);
  int rc = kith_kind_each(txn, kind, owner_one, &o);
  if (rc < 0)
    return rc;
  if (!o.found && kind == KITH_KIND_PEER) { /* a partner's device met via a roster */
    struct kith_space_list all;
    if ((rc = kith_partner_spaces(txn, &all)) != 0)
      return rc;
    for (size_t i = 0; i < all.n && !o.found; i++) {
      enum kith_roster_state st;
      if ((rc = kith_roster_state(txn, all.gid[i], pk, &st)) != 0)
        return rc;
      if (st == KITH_ROSTER_LIVE && kith_space_peer(txn, all.gid[i], o.id) == 0)
        o.found = true;
    }
  }
  if (!o.found)
    return KITH_ENOTFOUND;
  memcpy(id, o.id, KITH_ID_LEN);
  return 0;
}

int kith_partner_key(kith_txn *txn, const uint8_t gid[static 16],
                     const uint8_t pk[static KITH_ED25519_PK_LEN], bool *member)
{
  enum kith_roster_state st;
  uint8_t peer[KITH_ID_LEN];
  struct owner o = {txn, KITH_KIND_PEER, {0}, {0}, false};
  *member = false;
  int rc = kith_roster_state(txn, gid, pk, &st);
  if (rc || st == KITH_ROSTER_REMOVED)
    return rc;
  if (st == KITH_ROSTER_LIVE) {
    *member = true;
    return 0;
  }
  /* Not in the roster yet (nothing synced since pairing): the peer's own keys. */
  if ((rc = kith_space_peer(txn, gid, peer)) != 0)
    return rc == KITH_ENOTFOUND ? 0 : rc;
  kith_hex_encode(pk, KITH_ED25519_PK_LEN, o.hex);
  if ((rc = owner_one(&o, peer)) < 0)
    return rc;
  *member = o.found;
  return 0;
}

int kith_dev_mine(kith_txn *txn, const uint8_t dev[static KITH_DEVICE_ID_LEN],
                  bool *mine)
{
  struct kith_id_list ids = {0};
  int rc = kith_kind_each(txn, KITH_KIND_DEVICE, kith_id_collect, &ids);
  *mine = false;
  for (size_t i = 0; rc == 0 && i < ids.n && !*mine; i++) {
    struct kith_record *rec = NULL;
    uint8_t pk[KITH_ED25519_PK_LEN], d[KITH_DEVICE_ID_LEN];
    if ((rc = kith_record_load(txn, ids.v[i], &rec)) != 0)
      break;
    if (kith_record_key(rec, pk) == 0) {
      kith_device_id_of(pk, d);
      *mine = memcmp(d, dev, KITH_DEVICE_ID_LEN) == 0;
    }
    kith_record_free(rec);
  }
  free(ids.v);
  return rc;
}

static int set_text(kith_txn *txn, const uint8_t id[KITH_ID_LEN], uint8_t field,
                    const char *text)
{
  struct kith_value *v = kith_value_new(1, &text);
  int rc = v ? kith_field_set(txn, id, kith_field_by_id(field), v) : KITH_ENOMEM;
  kith_value_free(v);
  return rc;
}

/* Today's date, from the stamp this transaction's next write gets. */
static int today(kith_txn *txn, char day[25])
{
  struct kith_stamp now;
  int rc = kith_txn_stamp(txn, &now);
  if (rc == 0) {
    kith_hlc_iso(now.hlc, day);
    day[10] = 0;
  }
  return rc;
}

int kith_peer_add(kith_txn *txn, const char *name,
                  const uint8_t pk[static KITH_ED25519_PK_LEN], const char *label,
                  const uint8_t *gid, uint8_t id[static KITH_ID_LEN])
{
  uint8_t have[KITH_GID_LEN];
  char hex[2 * KITH_ED25519_PK_LEN + 1], day[25];
  kith_hex_encode(pk, KITH_ED25519_PK_LEN, hex);
  int rc = kith_key_owner(txn, KITH_KIND_PEER, pk, id);
  bool fresh = rc == KITH_ENOTFOUND;
  if (fresh) { /* an id from the key: my devices pairing apart make one record */
    record_id("kith peer record v1", pk, id);
    rc = kith_record_create(txn, KITH_KIND_PEER, true, id);
  }
  if (rc == 0 && name && *name)
    rc = set_text(txn, id, KITH_F_PEER_NAME, name);
  if (rc == 0 && fresh && (!name || !*name))
    rc = set_text(txn, id, KITH_F_PEER_NAME, "(no name)");
  if (rc == 0) {
    const char *parts[2] = {hex, label && *label ? label : NULL};
    struct kith_value *v = kith_value_new(2, parts);
    rc = v ? kith_set_add(txn, id, kith_field_by_id(KITH_F_PEER_KEYS), v) : KITH_ENOMEM;
    kith_value_free(v);
  }
  if (rc == 0)
    rc = set_text(txn, id, KITH_F_PEER_STATUS, "confirmed");
  if (rc == 0 && fresh && (rc = today(txn, day)) == 0)
    rc = set_text(txn, id, KITH_F_PEER_PAIRED, day);
  if (rc || !gid)
    return rc;
  rc = kith_peer_space(txn, id, have); /* re-pairing keeps the space it has */
  if (rc == KITH_ENOTFOUND) {
    char ghex[2 * KITH_GID_LEN + 1];
    kith_hex_encode(gid, KITH_GID_LEN, ghex);
    if ((rc = set_text(txn, id, KITH_F_PEER_SPACE, ghex)) == 0)
      memcpy(have, gid, KITH_GID_LEN);
  }
  if (rc == 0)
    rc = kith_roster_add(txn, have, pk, label);
  if (rc == 0)
    rc = roster_my_devices(txn, have);
  if (rc == 0) /* and my relays, so the first sync tells where to deposit for me */
    rc = kith_relays_reconcile(txn);
  return rc;
}

int kith_device_add(kith_txn *txn, const char *label,
                    const uint8_t pk[static KITH_ED25519_PK_LEN],
                    uint8_t id[static KITH_ID_LEN])
{
  char hex[2 * KITH_ED25519_PK_LEN + 1], day[25];
  kith_hex_encode(pk, KITH_ED25519_PK_LEN, hex);
  int rc = kith_key_owner(txn, KITH_KIND_DEVICE, pk, id);
  if (rc == 0)
    return label && *label ? set_text(txn, id, KITH_F_DEVICE_LABEL, label) : 0;
  if (rc != KITH_ENOTFOUND)
    return rc;
  record_id("kith device record v1", pk, id); /* the same on every device of mine */
  rc = kith_record_create(txn, KITH_KIND_DEVICE, true, id);
  if (rc == 0)
    rc = set_text(txn, id, KITH_F_DEVICE_KEY, hex);
  if (rc == 0)
    rc = set_text(txn, id, KITH_F_DEVICE_LABEL, label && *label ? label : "device");
  if (rc == 0 && (rc = today(txn, day)) == 0)
    rc = set_text(txn, id, KITH_F_DEVICE_ADDED, day);
  struct kith_space_list all; /* my partners learn of it through our rosters */
  if (rc == 0)
    rc = kith_partner_spaces(txn, &all);
  for (size_t i = 0; rc == 0 && i < all.n; i++)
    rc = kith_roster_add(txn, all.gid[i], pk, label && *label ? label : "device");
  return rc;
}

int kith_device_revoke(kith_txn *txn, const uint8_t id[static KITH_ID_LEN])
{
  struct kith_record *rec = NULL;
  struct kith_identity me;
  uint8_t pk[KITH_ED25519_PK_LEN];
  char day[25];
  int rc = kith_txn_identity(txn, &me);
  if (rc == 0)
    rc = kith_record_load(txn, id, &rec);
  if (rc == 0 && (rec->deleted || rec->kind != KITH_KIND_DEVICE))
    rc = KITH_ENOTFOUND;
  if (rc == 0)
    rc = kith_record_key(rec, pk);
  if (rc == 0 && sodium_memcmp(pk, me.pk, KITH_ED25519_PK_LEN) == 0)
    rc = KITH_EINVAL; /* this device cannot revoke itself */
  if (rc == 0 && !kith_record_text(rec, KITH_F_DEVICE_REVOKED) &&
      (rc = today(txn, day)) == 0)
    rc = set_text(txn, id, KITH_F_DEVICE_REVOKED, day);
  struct kith_space_list all; /* and my partners refuse it once this reaches them */
  if (rc == 0)
    rc = kith_partner_spaces(txn, &all);
  for (size_t i = 0; rc == 0 && i < all.n; i++)
    rc = kith_roster_remove(txn, all.gid[i], pk);
  kith_record_free(rec);
  return rc;
}

bool kith_peer_is_pending(const struct kith_record *rec)
{
  const char *s = kith_record_text(rec, KITH_F_PEER_STATUS);
  return s && strcmp(s, "pending") == 0;
}

int kith_peer_add_pending(kith_txn *txn, const char *name,
                          const uint8_t pk[static KITH_ED25519_PK_LEN],
                          const uint8_t gid[static 16], uint8_t id[static KITH_ID_LEN])
{
  char hex[2 * KITH_ED25519_PK_LEN + 1], ghex[2 * 16 + 1];
  int rc = kith_key_owner(txn, KITH_KIND_PEER, pk, id);
  if (rc != KITH_ENOTFOUND)
    return rc; /* a partner already, or pending already */
  kith_hex_encode(pk, KITH_ED25519_PK_LEN, hex);
  kith_hex_encode(gid, 16, ghex);
  record_id("kith peer record v1", pk, id);
  rc = kith_record_create(txn, KITH_KIND_PEER, true, id);
  if (rc == 0)
    rc = set_text(txn, id, KITH_F_PEER_NAME, name && *name ? name : "(no name)");
  if (rc == 0) {
    const char *parts[2] = {hex, NULL};
    struct kith_value *v = kith_value_new(2, parts);
    rc = v ? kith_set_add(txn, id, kith_field_by_id(KITH_F_PEER_KEYS), v) : KITH_ENOMEM;
    kith_value_free(v);
  }
  if (rc == 0)
    rc = set_text(txn, id, KITH_F_PEER_STATUS, "pending");
  if (rc == 0)
    rc = set_text(txn, id, KITH_F_PEER_SPACE, ghex);
  return rc;
}

int kith_peer_confirm(kith_txn *txn, const uint8_t id[static KITH_ID_LEN])
{
  struct kith_record *rec = NULL;
  uint8_t pk[KITH_ED25519_PK_LEN], gid[16], got[KITH_ID_LEN];
  char name[KITH_TEXT_MAX + 1], day[25];
  int rc = kith_record_load(txn, id, &rec);
  if (rc == 0 && rec->deleted)
    rc = KITH_EDELETED;
  else if (rc == 0 && rec->kind != KITH_KIND_PEER)
    rc = KITH_EINVAL;
  if (rc || !kith_peer_is_pending(rec))
    goto out;
  const char *n = kith_record_text(rec, KITH_F_PEER_NAME);
  snprintf(name, sizeof name, "%s", n ? n : "");
  if ((rc = kith_record_key(rec, pk)) == 0 && (rc = kith_peer_space(txn, id, gid)) == 0)
    rc = kith_peer_add(txn, name, pk, NULL, gid, got);
  if (rc == 0 && (rc = today(txn, day)) == 0)
    rc = set_text(txn, id, KITH_F_PEER_PAIRED, day);
out:
  kith_record_free(rec);
  return rc;
}

int kith_trust_check(kith_txn *txn, const uint8_t pk[static KITH_ED25519_PK_LEN],
                     enum kith_trust *out)
{
  uint8_t id[KITH_ID_LEN];
  struct kith_record *rec = NULL;
  *out = KITH_TRUST_NONE;
  int rc = kith_key_owner(txn, KITH_KIND_DEVICE, pk, id);
  if (rc == 0) {
    if ((rc = kith_record_load(txn, id, &rec)) != 0)
      return rc;
    *out = kith_record_text(rec, KITH_F_DEVICE_REVOKED) ? KITH_TRUST_REVOKED
                                                        : KITH_TRUST_DEVICE;
    kith_record_free(rec);
    return 0;
  }
  if (rc != KITH_ENOTFOUND)
    return rc;
  /* A partner's device: in one of our partnership rosters, or one of the keys I
   * paired with and not removed from that roster since (revoked by its owner). */
  struct kith_space_list all;
  bool removed = false;
  if ((rc = kith_partner_spaces(txn, &all)) != 0)
    return rc;
  for (size_t i = 0; i < all.n; i++) {
    enum kith_roster_state st;
    bool member;
    if ((rc = kith_roster_state(txn, all.gid[i], pk, &st)) != 0 ||
        (rc = kith_partner_key(txn, all.gid[i], pk, &member)) != 0)
      return rc;
    if (member) {
      *out = KITH_TRUST_PEER;
      return 0;
    }
    removed |= st == KITH_ROSTER_REMOVED;
  }
  if (removed) {
    *out = KITH_TRUST_REVOKED;
    return 0;
  }
  rc = kith_key_owner(txn, KITH_KIND_PEER, pk, id); /* a peer paired before spaces */
  if (rc == 0 && (rc = kith_record_load(txn, id, &rec)) == 0) {
    if (!kith_peer_is_pending(rec)) /* an introduced peer is trusted once confirmed */
      *out = KITH_TRUST_PEER;
    kith_record_free(rec);
  }
  return rc == KITH_ENOTFOUND ? 0 : rc;
}

struct x_match {
  kith_txn *txn;
  int kind;
  const uint8_t *x_pk;
  uint8_t ed_pk[KITH_ED25519_PK_LEN];
  bool found;
};

static int x_match_one(void *arg, const uint8_t id[KITH_ID_LEN])
{
  struct x_match *m = arg;
  struct kith_record *rec = NULL;
  int rc = kith_record_load(m->txn, id, &rec);
  if (rc)
    return rc == KITH_ENOTFOUND ? 0 : rc;
  uint8_t field = m->kind == KITH_KIND_PEER     ? KITH_F_PEER_KEYS
                  : m->kind == KITH_KIND_ROSTER ? KITH_F_ROSTER_KEYS
                                                : KITH_F_DEVICE_KEY;
  for (size_t i = 0; i < rec->n && !m->found; i++) {
    const struct kith_reg *r = &rec->regs[i];
    uint8_t ed[KITH_ED25519_PK_LEN], x[32];
    if (r->field != field || !kith_reg_live(r) ||
        kith_hex_decode(r->val->p[0], ed, sizeof ed) != 0 ||
        crypto_sign_ed25519_pk_to_curve25519(x, ed) != 0)
      continue; /* not a key, or not a point: it can match nothing */
    if (memcmp(x, m->x_pk, sizeof x) == 0) {
      memcpy(m->ed_pk, ed, sizeof ed);
      m->found = true;
    }
  }
  kith_record_free(rec);
  return m->found ? 1 : 0;
}

int kith_trust_check_x25519(kith_txn *txn, const uint8_t x_pk[static 32],
                            enum kith_trust *out,
                            uint8_t ed_pk[static KITH_ED25519_PK_LEN])
{
  static const int kinds[] = {KITH_KIND_DEVICE, KITH_KIND_PEER, KITH_KIND_ROSTER};
  struct x_match m = {txn, 0, x_pk, {0}, false};
  *out = KITH_TRUST_NONE;
  memset(ed_pk, 0, KITH_ED25519_PK_LEN);
  for (size_t i = 0; i < 3 && !m.found; i++) {
    m.kind = kinds[i];
    int rc = kith_kind_each(txn, m.kind, x_match_one, &m);
    if (rc < 0)
      return rc;
  }
  if (!m.found)
    return 0;
  memcpy(ed_pk, m.ed_pk, KITH_ED25519_PK_LEN);
  return kith_trust_check(txn, ed_pk, out);
}
