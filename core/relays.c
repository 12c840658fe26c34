/*
 * relays.c — where each device fetches its mail (core/relays.h).
 */
#include "core/relays.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "proto/hex.h"

/* My list: one record in self, the same id on all my devices. */
static void self_id(uint8_t id[KITH_ID_LEN])
{
  crypto_generichash(id, KITH_ID_LEN, (const uint8_t *)"kith my relays v1", 17, NULL,
                     0);
}

static const struct kith_field *field(void)
{
  return kith_field_by_id(KITH_F_ROSTER_RELAYS);
}

static int list_add(struct kith_relay_list *l, const char *addr)
{
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->addr[i], addr) == 0)
      return 0;
  if (l->n == KITH_RELAYS_MAX || strlen(addr) >= KITH_RELAY_ADDR_MAX)
    return 0; /* a partner's list longer than ours: the first ones */
  snprintf(l->addr[l->n++], KITH_RELAY_ADDR_MAX, "%s", addr);
  return 0;
}

static bool list_has(const struct kith_relay_list *l, const char *addr)
{
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->addr[i], addr) == 0)
      return true;
  return false;
}

static int cmp_addr(const void *a, const void *b)
{
  return strcmp(a, b);
}

/* Is key (hex) one of my devices (this one included, revoked ones too)? */
static int key_mine(kith_txn *txn, const char *hex, const uint8_t me[32], bool *mine)
{
  uint8_t pk[32];
  enum kith_trust t;
  *mine = false;
  if (!hex || kith_hex_decode(hex, pk, 32) != 0)
    return 0;
  if (sodium_memcmp(pk, me, 32) == 0) {
    *mine = true;
    return 0;
  }
  int rc = kith_trust_check(txn, pk, &t);
  *mine = rc == 0 && (t == KITH_TRUST_DEVICE || t == KITH_TRUST_REVOKED);
  return rc;
}

int kith_relays_mine(kith_txn *txn, struct kith_relay_list *out)
{
  uint8_t id[KITH_ID_LEN];
  struct kith_record *rec = NULL;
  out->n = 0;
  self_id(id);
  int rc = kith_record_load(txn, id, &rec);
  if (rc)
    return rc == KITH_ENOTFOUND ? 0 : rc;
  for (size_t i = 0; i < rec->n; i++) {
    const struct kith_reg *r = &rec->regs[i];
    if (r->field == KITH_F_ROSTER_RELAYS && kith_reg_live(r) && r->val->p[0])
      list_add(out, r->val->p[0]);
  }
  kith_record_free(rec);
  qsort(out->addr, out->n, sizeof out->addr[0], cmp_addr);
  return 0;
}

/* Makes one roster carry exactly my list as mine. */
static int reconcile_one(kith_txn *txn, const uint8_t gid[KITH_GID_LEN],
                         const struct kith_relay_list *mine,
                         const struct kith_identity *me)
{
  uint8_t id[KITH_ID_LEN];
  struct kith_record *rec = NULL;
  struct kith_relay_list have = {0};
  char hex[2 * 32 + 1];
  kith_roster_id(gid, id);
  int rc = kith_record_load(txn, id, &rec);
  if (rc)
    return rc == KITH_ENOTFOUND ? 0 : rc; /* no roster yet: pairing makes it */
  for (size_t i = 0; rc == 0 && i < rec->n; i++) {
    const struct kith_reg *r = &rec->regs[i];
    bool is_mine = false;
    if (r->field != KITH_F_ROSTER_RELAYS || !kith_reg_live(r) || r->val->n < 2)
      continue;
    if ((rc = key_mine(txn, r->val->p[1], me->pk, &is_mine)) != 0 || !is_mine)
      continue;
    if (r->val->p[0] && list_has(mine, r->val->p[0]))
      list_add(&have, r->val->p[0]);
    else
      rc = kith_set_remove(txn, id, field(), r->val);
  }
  kith_record_free(rec);
  kith_hex_encode(me->pk, 32, hex);
  for (size_t i = 0; rc == 0 && i < mine->n; i++) {
    if (list_has(&have, mine->addr[i]))
      continue;
    const char *parts[2] = {mine->addr[i], hex};
    struct kith_value *v = kith_value_new(2, parts);
    rc = v ? kith_set_add(txn, id, field(), v) : KITH_ENOMEM;
    kith_value_free(v);
  }
  return rc == KITH_ENOTFOUND ? 0 : rc;
}

int kith_relays_reconcile(kith_txn *txn)
{
  struct kith_space_list *all = malloc(sizeof *all);
  struct kith_relay_list mine;
  struct kith_identity me;
  int rc = all ? 0 : KITH_ENOMEM;
  if (rc == 0)
    rc = kith_txn_identity(txn, &me);
  if (rc == 0)
    rc = kith_relays_mine(txn, &mine);
  if (rc == 0)
    rc = kith_partner_spaces(txn, all);
  for (size_t i = 0; rc == 0 && i < all->n; i++)
    rc = reconcile_one(txn, all->gid[i], &mine, &me);
  free(all);
  return rc;
}

int kith_relay_add(kith_txn *txn, const char *addr)
{
  uint8_t id[KITH_ID_LEN];
  struct kith_relay_list mine;
  struct kith_reg k = {0};
  if (!addr || !*addr || strlen(addr) >= KITH_RELAY_ADDR_MAX)
    return KITH_EINVAL;
  int rc = kith_relays_mine(txn, &mine);
  if (rc || list_has(&mine, addr))
    return rc;
  if (mine.n == KITH_RELAYS_MAX)
    return KITH_ETOOBIG;
  self_id(id);
  rc = kith_txn_get(txn, id, KITH_F_KIND, NULL, &k);
  kith_reg_clear(&k);
  if (rc == KITH_ENOTFOUND)
    rc = kith_record_create(txn, KITH_KIND_ROSTER, true, id);
  if (rc)
    return rc;
  const char *parts[2] = {addr, NULL};
  struct kith_value *v = kith_value_new(2, parts);
  rc = v ? kith_set_add(txn, id, field(), v) : KITH_ENOMEM;
  kith_value_free(v);
  return rc ? rc : kith_relays_reconcile(txn);
}

int kith_relay_remove(kith_txn *txn, const char *addr)
{
  uint8_t id[KITH_ID_LEN];
  struct kith_relay_list mine;
  int rc = kith_relays_mine(txn, &mine);
  if (rc)
    return rc;
  if (!addr || !list_has(&mine, addr))
    return KITH_ENOTFOUND;
  self_id(id);
  const char *parts[2] = {addr, NULL};
  struct kith_value *v = kith_value_new(2, parts);
  rc = v ? kith_set_remove(txn, id, field(), v) : KITH_ENOMEM;
  kith_value_free(v);
  return rc ? rc : kith_relays_reconcile(txn);
}

int kith_relays_of(kith_txn *txn, const uint8_t pk[static 32],
                   struct kith_relay_list *out)
{
  struct kith_space_list *spaces = malloc(sizeof *spaces);
  struct kith_identity me;
  enum kith_trust trust;
  out->n = 0;
  if (!spaces)
    return KITH_ENOMEM;
  int rc = kith_remote_spaces(txn, pk, &trust, spaces);
  if (rc == 0 && trust == KITH_TRUST_DEVICE)
    rc = kith_relays_mine(txn, out);
  if (rc == 0 && trust == KITH_TRUST_PEER)
    rc = kith_txn_identity(txn, &me);
  for (size_t i = 0; rc == 0 && trust == KITH_TRUST_PEER && i < spaces->n; i++) {
    uint8_t id[KITH_ID_LEN];
    struct kith_record *rec = NULL;
    kith_roster_id(spaces->gid[i], id);
    rc = kith_record_load(txn, id, &rec);
    if (rc) {
      rc = rc == KITH_ENOTFOUND ? 0 : rc;
      continue;
    }
    for (size_t k = 0; rc == 0 && k < rec->n; k++) {
      const struct kith_reg *r = &rec->regs[k];
      bool mine = false;
      if (r->field != KITH_F_ROSTER_RELAYS || !kith_reg_live(r) || r->val->n < 2 ||
          !r->val->p[0])
        continue;
      if ((rc = key_mine(txn, r->val->p[1], me.pk, &mine)) == 0 && !mine)
        list_add(out, r->val->p[0]);
    }
    kith_record_free(rec);
  }
  free(spaces);
  if (rc == 0)
    qsort(out->addr, out->n, sizeof out->addr[0], cmp_addr);
  return rc;
}
