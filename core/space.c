#include "core/space.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/relays.h"
#include "proto/hex.h"

const uint8_t kith_gid_self[KITH_GID_LEN] = {0};

/* Local state keys: "sp:" gid -> u32 BE; "sp#" u32 BE -> gid; "sp+" -> next. */
#define K_BY_GID "sp:"
#define K_BY_NUM "sp#"
#define K_NEXT "sp+"

void kith_space_derive(const uint8_t *hash, size_t len, uint8_t gid[KITH_GID_LEN])
{
  crypto_generichash(gid, KITH_GID_LEN, hash, len, (const uint8_t *)"kith space v1",
                     13);
}

static uint32_t get_u32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_u32(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

int kith_space_local(kith_txn *txn, const uint8_t gid[static KITH_GID_LEN], bool create,
                     uint32_t *out)
{
  uint8_t k[3 + KITH_GID_LEN], *v = NULL, nb[4], nk[3 + 4];
  size_t vl = 0;
  if (sodium_is_zero(gid, KITH_GID_LEN)) {
    *out = KITH_SPACE_SELF;
    return 0;
  }
  memcpy(k, K_BY_GID, 3);
  memcpy(k + 3, gid, KITH_GID_LEN);
  int rc = kith_local_get(txn, k, sizeof k, &v, &vl);
  if (rc == 0) {
    rc = vl == 4 ? 0 : KITH_ECORRUPT;
    if (rc == 0)
      *out = get_u32(v);
    free(v);
    return rc;
  }
  if (rc != KITH_ENOTFOUND || !create)
    return rc;
  uint32_t next = KITH_SPACE_SELF + 1;
  if ((rc = kith_local_get(txn, K_NEXT, 3, &v, &vl)) == 0) {
    rc = vl == 4 ? 0 : KITH_ECORRUPT;
    if (rc == 0)
      next = get_u32(v);
    free(v);
  } else if (rc == KITH_ENOTFOUND) {
    rc = 0;
  }
  if (rc)
    return rc;
  if (next == UINT32_MAX)
    return KITH_ETOOBIG;
  put_u32(nb, next);
  memcpy(nk, K_BY_NUM, 3);
  memcpy(nk + 3, nb, 4);
  rc = kith_local_put(txn, k, sizeof k, nb, 4);
  if (rc == 0)
    rc = kith_local_put(txn, nk, sizeof nk, gid, KITH_GID_LEN);
  put_u32(nb, next + 1);
  if (rc == 0)
    rc = kith_local_put(txn, K_NEXT, 3, nb, 4);
  if (rc == 0)
    *out = next;
  return rc;
}

int kith_space_gid(kith_txn *txn, uint32_t local, uint8_t gid[static KITH_GID_LEN])
{
  uint8_t nk[3 + 4], *v = NULL;
  size_t vl = 0;
  if (local == KITH_SPACE_SELF) {
    memset(gid, 0, KITH_GID_LEN);
    return 0;
  }
  memcpy(nk, K_BY_NUM, 3);
  put_u32(nk + 3, local);
  int rc = kith_local_get(txn, nk, sizeof nk, &v, &vl);
  if (rc == 0) {
    rc = vl == KITH_GID_LEN ? 0 : KITH_ECORRUPT;
    if (rc == 0)
      memcpy(gid, v, KITH_GID_LEN);
    free(v);
  }
  return rc;
}

static int record_gid(const struct kith_record *rec, uint8_t gid[KITH_GID_LEN])
{
  const char *hex = kith_record_text(rec, KITH_F_PEER_SPACE);
  if (!hex || kith_hex_decode(hex, gid, KITH_GID_LEN) != 0 ||
      sodium_is_zero(gid, KITH_GID_LEN))
    return KITH_ENOTFOUND;
  return 0;
}

int kith_peer_space(kith_txn *txn, const uint8_t peer[static KITH_ID_LEN],
                    uint8_t gid[static KITH_GID_LEN])
{
  struct kith_record *rec = NULL;
  int rc = kith_record_load(txn, peer, &rec);
  if (rc == 0 && (rec->deleted || rec->kind != KITH_KIND_PEER))
    rc = KITH_ENOTFOUND;
  if (rc == 0)
    rc = record_gid(rec, gid);
  kith_record_free(rec);
  return rc;
}

struct peer_walk {
  kith_txn *txn;
  struct kith_space_list *list;
  const uint8_t *want; /* find this gid's peer */
  uint8_t *peer;
  bool found;
};

static int walk_peer(void *arg, const uint8_t id[KITH_ID_LEN])
{
  struct peer_walk *w = arg;
  uint8_t gid[KITH_GID_LEN];
  struct kith_record *rec = NULL;
  int rc = kith_record_load(w->txn, id, &rec);
  bool pending = rc == 0 && kith_peer_is_pending(rec);
  kith_record_free(rec);
  if (rc == 0 && pending)
    return 0; /* introduced, not confirmed: no partnership yet */
  rc = rc ? rc : kith_peer_space(w->txn, id, gid);
  if (rc == KITH_ENOTFOUND)
    return 0;
  if (rc)
    return rc;
  if (w->want) {
    if (memcmp(gid, w->want, KITH_GID_LEN) == 0) {
      memcpy(w->peer, id, KITH_ID_LEN);
      w->found = true;
      return 1;
    }
    return 0;
  }
  if (w->list->n == KITH_SPACES_MAX)
    return KITH_ETOOBIG;
  memcpy(w->list->gid[w->list->n++], gid, KITH_GID_LEN);
  return 0;
}

int kith_space_peer(kith_txn *txn, const uint8_t gid[static KITH_GID_LEN],
                    uint8_t peer[static KITH_ID_LEN])
{
  struct peer_walk w = {txn, NULL, gid, peer, false};
  int rc = kith_kind_each(txn, KITH_KIND_PEER, walk_peer, &w);
  if (rc < 0)
    return rc;
  return w.found ? 0 : KITH_ENOTFOUND;
}

int kith_partner_spaces(kith_txn *txn, struct kith_space_list *out)
{
  struct peer_walk w = {txn, out, NULL, NULL, false};
  out->n = 0;
  int rc = kith_kind_each(txn, KITH_KIND_PEER, walk_peer, &w);
  return rc < 0 ? rc : 0;
}

/* ---- rosters --------------------------------------------------------------- */

void kith_roster_id(const uint8_t gid[static KITH_GID_LEN], uint8_t id[KITH_ID_LEN])
{
  crypto_generichash(id, KITH_ID_LEN, gid, KITH_GID_LEN,
                     (const uint8_t *)"kith roster v1", 14);
}

static int key_elem(const uint8_t roster[KITH_ID_LEN],
                    const uint8_t pk[KITH_ED25519_PK_LEN], uint8_t elem[KITH_ID_LEN])
{
  char hex[2 * KITH_ED25519_PK_LEN + 1];
  const char *p = hex;
  kith_hex_encode(pk, KITH_ED25519_PK_LEN, hex);
  struct kith_value *v = kith_value_new(1, &p);
  if (!v)
    return KITH_ENOMEM;
  int rc = kith_elem_id(roster, kith_field_by_id(KITH_F_ROSTER_KEYS), v, elem);
  kith_value_free(v);
  return rc;
}

int kith_roster_add(kith_txn *txn, const uint8_t gid[static KITH_GID_LEN],
                    const uint8_t pk[static KITH_ED25519_PK_LEN], const char *label)
{
  uint8_t id[KITH_ID_LEN];
  uint32_t space;
  struct kith_reg k = {0};
  char hex[2 * KITH_ED25519_PK_LEN + 1];
  kith_roster_id(gid, id);
  int rc = kith_space_local(txn, gid, true, &space);
  if (rc)
    return rc;
  rc = kith_txn_get(txn, id, KITH_F_KIND, NULL, &k);
  kith_reg_clear(&k);
  if (rc == KITH_ENOTFOUND) /* the roster's kind goes into its space at once */
    rc = kith_record_create_in(txn, KITH_KIND_ROSTER, space, id);
  if (rc)
    return rc;
  kith_hex_encode(pk, KITH_ED25519_PK_LEN, hex);
  const char *parts[2] = {hex, label && *label ? label : NULL};
  struct kith_value *v = kith_value_new(2, parts);
  rc = v ? kith_set_add(txn, id, kith_field_by_id(KITH_F_ROSTER_KEYS), v) : KITH_ENOMEM;
  kith_value_free(v);
  return rc;
}

int kith_roster_remove(kith_txn *txn, const uint8_t gid[static KITH_GID_LEN],
                       const uint8_t pk[static KITH_ED25519_PK_LEN])
{
  uint8_t id[KITH_ID_LEN];
  char hex[2 * KITH_ED25519_PK_LEN + 1];
  const char *p = hex;
  kith_roster_id(gid, id);
  kith_hex_encode(pk, KITH_ED25519_PK_LEN, hex);
  struct kith_value *v = kith_value_new(1, &p);
  if (!v)
    return KITH_ENOMEM;
  int rc = kith_set_remove(txn, id, kith_field_by_id(KITH_F_ROSTER_KEYS), v);
  kith_value_free(v);
  return rc == KITH_ENOTFOUND || rc == KITH_EDELETED ? 0 : rc;
}

int kith_roster_state(kith_txn *txn, const uint8_t gid[static KITH_GID_LEN],
                      const uint8_t pk[static KITH_ED25519_PK_LEN],
                      enum kith_roster_state *out)
{
  uint8_t id[KITH_ID_LEN], elem[KITH_ID_LEN];
  struct kith_reg r = {0};
  *out = KITH_ROSTER_ABSENT;
  kith_roster_id(gid, id);
  int rc = key_elem(id, pk, elem);
  if (rc == 0)
    rc = kith_txn_get(txn, id, KITH_F_ROSTER_KEYS, elem, &r);
  if (rc == 0)
    *out = kith_reg_live(&r) ? KITH_ROSTER_LIVE : KITH_ROSTER_REMOVED;
  kith_reg_clear(&r);
  return rc == KITH_ENOTFOUND ? 0 : rc;
}

/* My devices in every roster: live ones in, revoked ones out. A device that
 * revoked another (or linked one) before it knew of a partnership leaves that
 * roster behind; sync calls this after each round so that whichever of my devices
 * knows both fixes it. Writes nothing when all is in order. */
struct reconcile {
  kith_txn *txn;
  const struct kith_space_list *spaces;
};

static int reconcile_device(void *arg, const uint8_t id[KITH_ID_LEN])
{
  struct reconcile *c = arg;
  struct kith_record *rec = NULL;
  uint8_t pk[KITH_ED25519_PK_LEN];
  int rc = kith_record_load(c->txn, id, &rec);
  if (rc)
    return rc == KITH_ENOTFOUND ? 0 : rc;
  bool revoked = kith_record_text(rec, KITH_F_DEVICE_REVOKED) != NULL;
  const char *label = kith_record_text(rec, KITH_F_DEVICE_LABEL);
  if (rec->deleted || kith_record_key(rec, pk) != 0) {
    kith_record_free(rec);
    return 0;
  }
  for (size_t i = 0; rc == 0 && i < c->spaces->n; i++) {
    enum kith_roster_state st;
    if ((rc = kith_roster_state(c->txn, c->spaces->gid[i], pk, &st)) != 0)
      break;
    if (revoked && st == KITH_ROSTER_LIVE)
      rc = kith_roster_remove(c->txn, c->spaces->gid[i], pk);
    else if (!revoked && st == KITH_ROSTER_ABSENT)
      rc = kith_roster_add(c->txn, c->spaces->gid[i], pk, label);
  }
  kith_record_free(rec);
  return rc;
}

int kith_rosters_reconcile(kith_txn *txn)
{
  struct kith_space_list all;
  int rc = kith_partner_spaces(txn, &all);
  if (rc || all.n == 0)
    return rc;
  struct reconcile c = {txn, &all};
  rc = kith_kind_each(txn, KITH_KIND_DEVICE, reconcile_device, &c);
  return rc < 0 ? rc : kith_relays_reconcile(txn); /* and my relays in each */
}

/* ---- who syncs what -------------------------------------------------------- */

struct partner_walk {
  kith_txn *txn;
  const uint8_t *pk;
  struct kith_space_list *out;
};

int kith_remote_spaces(kith_txn *txn, const uint8_t pk[static KITH_ED25519_PK_LEN],
                       enum kith_trust *trust, struct kith_space_list *out)
{
  struct kith_space_list all;
  out->n = 0;
  int rc = kith_trust_check(txn, pk, trust);
  if (rc || (*trust != KITH_TRUST_DEVICE && *trust != KITH_TRUST_PEER))
    return rc;
  if ((rc = kith_partner_spaces(txn, &all)) != 0)
    return rc;
  if (*trust == KITH_TRUST_DEVICE) {
    memcpy(out->gid[out->n++], kith_gid_self, KITH_GID_LEN);
    for (size_t i = 0; i < all.n && out->n < KITH_SPACES_MAX; i++)
      memcpy(out->gid[out->n++], all.gid[i], KITH_GID_LEN);
    return 0;
  }
  for (size_t i = 0; i < all.n; i++) {
    bool member;
    if ((rc = kith_partner_key(txn, all.gid[i], pk, &member)) != 0)
      return rc;
    if (member)
      memcpy(out->gid[out->n++], all.gid[i], KITH_GID_LEN);
  }
  return 0;
}

/* ---- sharing --------------------------------------------------------------- */

static void derive_id(const char *what, const uint8_t id[KITH_ID_LEN],
                      const uint8_t *gid, uint8_t out[KITH_ID_LEN])
{
  crypto_generichash_state h;
  crypto_generichash_init(&h, (const uint8_t *)what, strlen(what), KITH_ID_LEN);
  crypto_generichash_update(&h, id, KITH_ID_LEN);
  if (gid)
    crypto_generichash_update(&h, gid, KITH_GID_LEN);
  crypto_generichash_final(&h, out, KITH_ID_LEN);
}

/* Copies from's live registers (only its card's if card_only) into record to, in
 * space, with their stamps: every device that copies the same state makes the
 * same registers. Set elements get to's element ids. */
static int copy_record(kith_txn *txn, const struct kith_record *from,
                       const uint8_t to[KITH_ID_LEN], uint32_t space, bool card_only)
{
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < from->n; i++) {
    const struct kith_reg *r = &from->regs[i];
    if (!kith_reg_live(r) || (card_only && !kith_field_in_card(r->field)))
      continue;
    struct kith_reg c = {0};
    if ((rc = kith_reg_copy(&c, r)) != 0)
      break;
    memcpy(c.ent, to, KITH_ID_LEN);
    c.space = space;
    c.seq = 0;
    if (c.has_elem)
      rc = kith_elem_id(to, kith_field_by_id(c.field), c.val, c.elem);
    if (rc == 0)
      rc = kith_txn_put(txn, &c, NULL);
    kith_reg_clear(&c);
  }
  return rc;
}

static int live_contact(kith_txn *txn, const uint8_t id[KITH_ID_LEN],
                        struct kith_record **rec)
{
  int rc = kith_record_load(txn, id, rec);
  if (rc == 0 && (*rec)->deleted)
    rc = KITH_EDELETED;
  else if (rc == 0 && (*rec)->kind != KITH_KIND_CONTACT)
    rc = KITH_EINVAL;
  if (rc) {
    kith_record_free(*rec);
    *rec = NULL;
  }
  return rc;
}

/* The private copy's id: from the card's id and the partner's key (the first of
 * its peer record), so that all my devices agree on it while my partner, who
 * keeps a copy of the same card, gets another id (sharing mine again later must
 * not touch theirs). */
static int private_copy_id(kith_txn *txn, const uint8_t id[KITH_ID_LEN],
                           uint8_t out[KITH_ID_LEN])
{
  uint32_t space;
  uint8_t gid[KITH_GID_LEN], peer[KITH_ID_LEN], pk[KITH_ED25519_PK_LEN] = {0};
  struct kith_record *rec = NULL;
  int rc = kith_card_space(txn, id, &space);
  if (rc == 0 && space != KITH_SPACE_SELF && kith_space_gid(txn, space, gid) == 0 &&
      kith_space_peer(txn, gid, peer) == 0 && kith_record_load(txn, peer, &rec) == 0 &&
      kith_record_key(rec, pk) != 0)
    memset(pk, 0, sizeof pk);
  kith_record_free(rec);
  crypto_generichash_state h;
  crypto_generichash_init(&h, (const uint8_t *)"kith private copy v1", 20, KITH_ID_LEN);
  crypto_generichash_update(&h, id, KITH_ID_LEN);
  crypto_generichash_update(&h, pk, sizeof pk);
  crypto_generichash_final(&h, out, KITH_ID_LEN);
  return rc;
}

int kith_keep_private_copy(kith_txn *txn, const uint8_t id[static KITH_ID_LEN],
                           uint8_t out[static KITH_ID_LEN])
{
  struct kith_record *rec = NULL;
  struct kith_id_list notes = {0};
  char hex[2 * KITH_ID_LEN + 1];
  const char *p = hex;
  int rc = private_copy_id(txn, id, out);
  if (rc == 0)
    rc = live_contact(txn, id, &rec);
  if (rc == 0)
    rc = copy_record(txn, rec, out, KITH_SPACE_SELF, false);
  if (rc == 0)
    rc = kith_notes_each(txn, id, kith_id_collect, &notes);
  kith_hex_encode(out, KITH_ID_LEN, hex);
  struct kith_value *v = kith_value_new(1, &p);
  if (rc == 0 && !v)
    rc = KITH_ENOMEM;
  for (size_t i = 0; rc == 0 && i < notes.n; i++)
    rc = kith_field_set(txn, notes.v[i], kith_field_by_id(KITH_F_NOTE_CONTACT), v);
  kith_value_free(v);
  free(notes.v);
  kith_record_free(rec);
  return rc;
}

int kith_share(kith_txn *txn, const uint8_t contact[static KITH_ID_LEN],
               const uint8_t peer[static KITH_ID_LEN], uint8_t out[static KITH_ID_LEN])
{
  struct kith_record *rec = NULL;
  uint8_t gid[KITH_GID_LEN];
  uint32_t space, cur;
  int rc = kith_peer_space(txn, peer, gid);
  if (rc == KITH_ENOTFOUND)
    return KITH_EINVAL;
  if (rc == 0)
    rc = kith_space_local(txn, gid, true, &space);
  if (rc == 0)
    rc = live_contact(txn, contact, &rec);
  if (rc == 0)
    rc = kith_card_space(txn, contact, &cur);
  if (rc)
    goto out;
  memcpy(out, contact, KITH_ID_LEN);
  if (cur == space)
    goto out; /* already shared there */
  if (cur == KITH_SPACE_SELF) {
    for (size_t i = 0; rc == 0 && i < rec->n; i++) {
      const struct kith_reg *r = &rec->regs[i];
      if (kith_field_in_card(r->field))
        rc = kith_txn_move(txn, contact, r->field, r->has_elem ? r->elem : NULL, space);
    }
    goto out;
  }
  derive_id("kith shared copy v1", contact, gid, out); /* lives elsewhere: a copy */
  rc = copy_record(txn, rec, out, space, true);
out:
  kith_record_free(rec);
  return rc;
}

int kith_unshare(kith_txn *txn, const uint8_t contact[static KITH_ID_LEN],
                 const uint8_t peer[static KITH_ID_LEN],
                 uint8_t out[static KITH_ID_LEN])
{
  uint8_t gid[KITH_GID_LEN];
  uint32_t space, cur;
  int rc = kith_peer_space(txn, peer, gid);
  if (rc == KITH_ENOTFOUND)
    return KITH_EINVAL;
  if (rc == 0)
    rc = kith_space_local(txn, gid, false, &space);
  if (rc == KITH_ENOTFOUND)
    return KITH_EINVAL; /* nothing was ever shared with them */
  if (rc == 0)
    rc = kith_card_space(txn, contact, &cur);
  if (rc == 0 && cur != space)
    rc = KITH_EINVAL;
  if (rc == 0)
    rc = kith_keep_private_copy(txn, contact, out);
  if (rc == 0) { /* the shared card goes; its notes already follow the copy */
    struct kith_reg t = {0};
    memcpy(t.ent, contact, KITH_ID_LEN);
    t.field = KITH_F_KIND;
    if ((rc = kith_txn_stamp(txn, &t.stamp)) == 0)
      rc = kith_txn_put(txn, &t, NULL);
  }
  return rc;
}

/* ---- whom this store syncs with --------------------------------------------- */

struct gather {
  kith_txn *txn;
  struct kith_identity me;
  struct kith_remote *t;
  size_t max, n;
};

static int add_target(struct gather *g, const char *hex, enum kith_trust want,
                      const uint8_t owner[16], const char *name, const char *label)
{
  uint8_t pk[32];
  enum kith_trust trust;
  if (!hex || kith_hex_decode(hex, pk, 32) != 0 || sodium_memcmp(pk, g->me.pk, 32) == 0)
    return 0;
  for (size_t i = 0; i < g->n; i++)
    if (memcmp(g->t[i].pk, pk, 32) == 0)
      return 0;
  int rc = kith_trust_check(g->txn, pk, &trust);
  if (rc || trust != want || g->n == g->max)
    return rc;
  struct kith_remote *t = &g->t[g->n++];
  memset(t, 0, sizeof *t);
  memcpy(t->pk, pk, 32);
  t->trust = trust;
  memcpy(t->owner, owner, 16);
  snprintf(t->name, sizeof t->name, "%s", name ? name : "");
  snprintf(t->label, sizeof t->label, "%s", label ? label : "");
  return 0;
}

static int gather_device(void *arg, const uint8_t id[16])
{
  struct gather *g = arg;
  struct kith_record *rec = NULL;
  int rc = kith_record_load(g->txn, id, &rec);
  if (rc)
    return rc == KITH_ENOTFOUND ? 0 : rc;
  if (!rec->deleted)
    rc = add_target(g, kith_record_text(rec, KITH_F_DEVICE_KEY), KITH_TRUST_DEVICE, id,
                    g->me.name, kith_record_text(rec, KITH_F_DEVICE_LABEL));
  kith_record_free(rec);
  return rc;
}

static int gather_keys(struct gather *g, const struct kith_record *rec, uint8_t field,
                       const uint8_t owner[16], const char *name)
{
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < rec->n; i++) {
    const struct kith_reg *r = &rec->regs[i];
    if (r->field == field && kith_reg_live(r))
      rc = add_target(g, r->val->p[0], KITH_TRUST_PEER, owner, name, r->val->p[1]);
  }
  return rc;
}

static int gather_peer(void *arg, const uint8_t id[16])
{
  struct gather *g = arg;
  struct kith_record *rec = NULL, *roster = NULL;
  uint8_t gid[16], rid[16];
  int rc = kith_record_load(g->txn, id, &rec);
  if (rc)
    return rc == KITH_ENOTFOUND ? 0 : rc;
  const char *name = kith_record_text(rec, KITH_F_PEER_NAME);
  if (kith_peer_is_pending(rec)) { /* not trusted until confirmed */
    kith_record_free(rec);
    return 0;
  }
  if (!rec->deleted)
    rc = gather_keys(g, rec, KITH_F_PEER_KEYS, id, name);
  if (rc == 0 && !rec->deleted && kith_peer_space(g->txn, id, gid) == 0) {
    kith_roster_id(gid, rid); /* the devices a partner added since we paired */
    if (kith_record_load(g->txn, rid, &roster) == 0)
      rc = gather_keys(g, roster, KITH_F_ROSTER_KEYS, id, name);
  }
  kith_record_free(roster);
  kith_record_free(rec);
  return rc;
}

int kith_remote_devices(kith_txn *txn, struct kith_remote *t, size_t max, size_t *n)
{
  struct gather g;
  memset(&g, 0, sizeof g);
  g.txn = txn, g.t = t, g.max = max;
  int rc = kith_txn_identity(txn, &g.me);
  if (rc == 0)
    rc = kith_kind_each(txn, KITH_KIND_DEVICE, gather_device, &g);
  if (rc == 0)
    rc = kith_kind_each(txn, KITH_KIND_PEER, gather_peer, &g);
  *n = g.n;
  return rc;
}
