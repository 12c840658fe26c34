/*
 * batch.c — batches of records, read from the log and applied from a peer: the part
 * of sync shared by the session (core/sync.c) and posts (core/post.c). See
 * core/sync_int.h.
 */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sync_int.h"

void kith__log_tag(const uint8_t pk[KITH_ED25519_PK_LEN],
                   const uint8_t epoch[KITH_EPOCH_LEN], uint8_t tag[KITH_LOG_TAG_LEN])
{
  crypto_generichash_state h;
  crypto_generichash_init(&h, (const uint8_t *)"kith log tag v1", 15, KITH_LOG_TAG_LEN);
  crypto_generichash_update(&h, pk, KITH_ED25519_PK_LEN);
  crypto_generichash_update(&h, epoch, KITH_EPOCH_LEN);
  crypto_generichash_final(&h, tag, KITH_LOG_TAG_LEN);
}

int kith__why(char *why, int err, const char *fmt, ...)
{
  va_list ap;
  if (why[0])
    return err;
  va_start(ap, fmt);
  vsnprintf(why, KITH__WHY_LEN, fmt, ap);
  va_end(ap);
  return err;
}

#define fail kith__why

/* ---- positions ----------------------------------------------------------------- */

#define POS_KEY_LEN (2 + KITH_ED25519_PK_LEN + KITH_GID_LEN)
#define RX_VAL_LEN (KITH_EPOCH_LEN + 16)
#define TX_VAL_LEN (2 * KITH_EPOCH_LEN + 8)

static void pos_key(uint8_t k[POS_KEY_LEN], const char *tag, const uint8_t *pk,
                    const uint8_t *gid)
{
  memcpy(k, tag, 2);
  memcpy(k + 2, pk, KITH_ED25519_PK_LEN);
  memcpy(k + 2 + KITH_ED25519_PK_LEN, gid, KITH_GID_LEN);
}

int kith__rx_load(kith_txn *txn, const uint8_t *pk, const uint8_t *gid,
                  struct kith__rx *out)
{
  uint8_t k[POS_KEY_LEN], *v = NULL;
  size_t vl = 0;
  memset(out, 0, sizeof *out);
  pos_key(k, "rx", pk, gid);
  int rc = kith_local_get(txn, k, sizeof k, &v, &vl);
  if (rc == KITH_ENOTFOUND)
    return 0;
  if (rc == 0 && vl == RX_VAL_LEN) {
    out->known = true;
    memcpy(out->epoch, v, KITH_EPOCH_LEN);
    out->pos = kith_be_get(v + KITH_EPOCH_LEN, 8);
    out->remote_max = kith_be_get(v + KITH_EPOCH_LEN + 8, 8);
  }
  free(v);
  return rc;
}

int kith__rx_save(kith_txn *txn, const uint8_t *pk, const uint8_t *gid,
                  const struct kith__rx *r)
{
  uint8_t k[POS_KEY_LEN], v[RX_VAL_LEN];
  pos_key(k, "rx", pk, gid);
  memcpy(v, r->epoch, KITH_EPOCH_LEN);
  kith_be_put(v + KITH_EPOCH_LEN, r->pos, 8);
  kith_be_put(v + KITH_EPOCH_LEN + 8, r->remote_max, 8);
  return kith_local_put(txn, k, sizeof k, v, sizeof v);
}

int kith__tx_load(kith_txn *txn, const uint8_t *pk, const uint8_t *gid,
                  struct kith__tx *out)
{
  uint8_t k[POS_KEY_LEN], *v = NULL;
  size_t vl = 0;
  memset(out, 0, sizeof *out);
  pos_key(k, "tx", pk, gid);
  int rc = kith_local_get(txn, k, sizeof k, &v, &vl);
  if (rc == KITH_ENOTFOUND)
    return 0;
  if (rc == 0 && vl == TX_VAL_LEN) {
    out->known = true;
    memcpy(out->my_epoch, v, KITH_EPOCH_LEN);
    memcpy(out->their_epoch, v + KITH_EPOCH_LEN, KITH_EPOCH_LEN);
    out->acked = kith_be_get(v + 2 * KITH_EPOCH_LEN, 8);
  }
  free(v);
  return rc;
}

int kith__tx_save(kith_txn *txn, const uint8_t *pk, const uint8_t *gid,
                  const struct kith__tx *t)
{
  uint8_t k[POS_KEY_LEN], v[TX_VAL_LEN];
  pos_key(k, "tx", pk, gid);
  memcpy(v, t->my_epoch, KITH_EPOCH_LEN);
  memcpy(v + KITH_EPOCH_LEN, t->their_epoch, KITH_EPOCH_LEN);
  kith_be_put(v + 2 * KITH_EPOCH_LEN, t->acked, 8);
  return kith_local_put(txn, k, sizeof k, v, sizeof v);
}

/* ---- reading --------------------------------------------------------------------- */

struct read_ctx {
  struct kith__batch *b;
  size_t max;
  bool strict;
};

static int grow(struct kith__batch *b, size_t need)
{
  if (need <= b->cap)
    return 0;
  size_t c = b->cap ? b->cap : 4096;
  while (c < need)
    c *= 2;
  uint8_t *p = realloc(b->buf, c);
  if (!p)
    return KITH_ENOMEM;
  b->buf = p, b->cap = c;
  return 0;
}

static int read_rec(void *arg, const uint8_t ent[KITH_ID_LEN], uint64_t seq,
                    const struct kith_reg *regs, size_t n)
{
  struct read_ctx *c = arg;
  struct kith__batch *b = c->b;
  (void)ent;
  if ((!c->strict && b->len >= c->max) || b->held >= KITH_SYNC_HELD_MAX) {
    b->full = true;
    return 1;
  }
  if (n == 0) { /* tagged with the receiver: it holds this very version */
    b->last = seq;
    b->held++;
    return 0;
  }
  uint8_t *w = NULL;
  size_t len = 0;
  int rc = kith_rec_wire_encode(regs, n, &w, &len);
  if (rc == 0 && c->strict && b->len + 4 + len > c->max) {
    free(w);
    if (b->recs == 0)
      return KITH_ETOOBIG;
    b->full = true;
    return 1;
  }
  if (rc == 0)
    rc = grow(b, b->len + 4 + len);
  if (rc) {
    free(w);
    return rc;
  }
  uint8_t *p = b->buf + b->len;
  p[0] = (uint8_t)(len >> 24), p[1] = (uint8_t)(len >> 16);
  p[2] = (uint8_t)(len >> 8), p[3] = (uint8_t)len;
  memcpy(p + 4, w, len);
  b->len += 4 + len;
  free(w);
  b->last = seq;
  b->recs++;
  return 0;
}

int kith__read_batch(kith_txn *txn, uint32_t local, uint64_t after, const uint8_t *tag,
                     size_t max_bytes, bool strict, struct kith__batch *b)
{
  struct read_ctx c = {b, max_bytes, strict};
  b->len = 0;
  b->last = after;
  b->recs = b->held = 0;
  b->full = false;
  int rc = kith_log_records(txn, local, after, tag, read_rec, &c);
  return rc < 0 ? rc : 0;
}

/* ---- applying -------------------------------------------------------------------- */

/* Where a received register goes here, or why it can't. */
/* *card: where the record's card lives here (0: it has none yet), looked up at
 * its first register in the batch (UINT32_MAX: not yet) and kept for the others:
 * a kind arriving first lands where the rest would go anyway. */
static int place(char *why, kith_txn *txn, uint32_t local, bool from_mine,
                 struct kith_reg *r, bool *skip, uint32_t *cardp)
{
  int rc;
  *skip = false;
  if (*cardp == UINT32_MAX) {
    struct kith_reg kind = {0};
    rc = kith_txn_get(txn, r->ent, KITH_F_KIND, NULL, &kind);
    *cardp = rc == 0 ? kind.space : 0;
    kith_reg_clear(&kind);
    if (rc && rc != KITH_ENOTFOUND)
      return rc;
  }
  uint32_t card = *cardp;
  if (local == KITH_SPACE_SELF) { /* only my own devices sync self */
    r->space = kith_field_in_card(r->field) && card ? card : KITH_SPACE_SELF;
    return 0;
  }
  if (!kith_field_in_card(r->field))
    return fail(why, KITH_EPROTO,
                "rejected a batch: it carries private data into a shared "
                "space");
  if (r->field == KITH_F_KIND && r->val) {
    const char *k = r->val->p[0];
    if (!k || (strcmp(k, "contact") != 0 && strcmp(k, "roster") != 0 &&
               strcmp(k, "proposal") != 0 && strcmp(k, "referral") != 0))
      return fail(why, KITH_EPROTO,
                  "rejected a batch: a record of a kind no shared "
                  "space holds");
  }
  if (card && card != local) {
    if (card != KITH_SPACE_SELF)
      return fail(why, KITH_EPROTO,
                  "rejected a batch: a record that belongs to another "
                  "space");
    if (!from_mine) { /* a partner can't pull a private record into our space */
      *skip = true;
      return 0;
    }
    /* one of my devices shared it: the card follows it into the space */
    struct kith_record *rec = NULL;
    if ((rc = kith_record_load(txn, r->ent, &rec)) != 0)
      return rc;
    for (size_t i = 0; rc == 0 && i < rec->n; i++)
      if (kith_field_in_card(rec->regs[i].field))
        rc = kith_txn_move(txn, r->ent, rec->regs[i].field,
                           rec->regs[i].has_elem ? rec->regs[i].elem : NULL, local);
    kith_record_free(rec);
    if (rc)
      return rc;
    *cardp = local;
  }
  r->space = local;
  return 0;
}

/* A partner deleting a shared card leaves me a private copy (DESIGN.md). A
 * referral is never deleted, only closed (core/referral.h): a batch that deletes
 * one is refused. */
static int before_tombstone(char *why, kith_txn *txn, uint32_t local,
                            const struct kith_reg *r)
{
  struct kith_reg kind = {0};
  bool mine;
  uint8_t copy[KITH_ID_LEN];
  if (local == KITH_SPACE_SELF || r->field != KITH_F_KIND || r->has_elem || r->val)
    return 0;
  int rc = kith_txn_get(txn, r->ent, KITH_F_KIND, NULL, &kind);
  bool live_card = rc == 0 && kind.val && kind.space == local && kind.val->p[0] &&
                   strcmp(kind.val->p[0], "contact") == 0;
  bool referral =
      rc == 0 && kind.val && kind.val->p[0] && strcmp(kind.val->p[0], "referral") == 0;
  kith_reg_clear(&kind);
  if (referral)
    return fail(why, KITH_EPROTO,
                "rejected a batch: it deletes a referral (referrals are closed, "
                "never deleted)");
  if (rc == KITH_ENOTFOUND || (rc == 0 && !live_card))
    return 0;
  if (rc == 0)
    rc = kith_dev_mine(txn, r->stamp.dev, &mine);
  if (rc == 0 && !mine)
    rc = kith_keep_private_copy(txn, r->ent, copy);
  return rc;
}

/* After a record's registers are applied: if what it now holds in the space is
 * exactly what the sender sent, its log entry is tagged with the sender, who then
 * is not sent it back (after an initial sync of a million records, the next
 * sync would otherwise send them all back). */
static int tag_if_same(kith_txn *txn, uint32_t local, const uint8_t *tag,
                       const struct kith_reg *got, size_t n)
{
  struct kith_record *rec = NULL;
  size_t k = 0;
  bool same = true;
  int rc = kith_record_load(txn, got[0].ent, &rec);
  if (rc)
    return rc == KITH_ENOTFOUND ? 0 : rc;
  for (size_t i = 0; i < rec->n && same; i++) {
    const struct kith_reg *a = &rec->regs[i];
    if (a->space != local)
      continue;
    const struct kith_reg *b = k < n ? &got[k++] : NULL;
    same = b && kith_reg_addr_cmp(a, b) == 0 &&
           kith_stamp_cmp(&a->stamp, &b->stamp) == 0 &&
           kith_stamp_cmp(&a->rem, &b->rem) == 0 &&
           (kith_reg_live(a) ? kith_value_equal(a->val, b->val) : !kith_reg_live(b));
  }
  same = same && k == n;
  kith_record_free(rec);
  return same ? kith_txn_tag_log(txn, got[0].ent, local, tag) : 0;
}

/* Applies one received record (its registers in the space, sorted). */
static int apply_record(char *why, kith_txn *txn, uint32_t local, bool from_mine,
                        const uint8_t *tag, struct kith_reg *regs, size_t n,
                        uint64_t *changed, uint64_t *skipped)
{
  uint32_t card = UINT32_MAX;
  bool skip = false;
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    bool ch = false;
    struct kith_reg reg = regs[i]; /* placed and put as a copy: regs[] is compared */
    rc = place(why, txn, local, from_mine, &reg, &skip, &card);
    if (rc == 0 && skip) {
      (*skipped)++;
      return 0; /* the whole record */
    }
    if (rc == 0)
      rc = before_tombstone(why, txn, local, &reg);
    if (rc == 0)
      rc = kith_txn_put(txn, &reg, &ch);
    if (rc == KITH_EFUTURE)
      fail(why, rc,
           "rejected a batch: a change is stamped more than 5 minutes ahead of "
           "this device's clock (check the clocks)");
    *changed += ch;
  }
  return rc ? rc : tag_if_same(txn, local, tag, regs, n);
}

int kith__apply_batch(kith_txn *txn, uint32_t local, bool from_mine,
                      const uint8_t tag[KITH_LOG_TAG_LEN], const uint8_t *buf,
                      size_t len, uint64_t *changed, uint64_t *skipped, char *why)
{
  int rc = 0;
  for (size_t off = 0; rc == 0 && off < len;) {
    struct kith_reg *regs = NULL;
    size_t nregs = 0;
    if (len - off < 4)
      return fail(why, KITH_EBADMSG, "rejected a malformed batch");
    size_t n = (size_t)buf[off] << 24 | (size_t)buf[off + 1] << 16 |
               (size_t)buf[off + 2] << 8 | buf[off + 3];
    off += 4;
    if (n > len - off)
      return fail(why, KITH_EBADMSG, "rejected a malformed batch");
    if (kith_rec_wire_decode(buf + off, n, &regs, &nregs) != 0)
      return fail(why, KITH_EBADMSG, "rejected a batch with a malformed record");
    off += n;
    rc = apply_record(why, txn, local, from_mine, tag, regs, nregs, changed, skipped);
    for (size_t i = 0; i < nregs; i++)
      kith_reg_clear(&regs[i]);
    free(regs);
  }
  return rc;
}
