#include "core/sync.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/intro.h"
#include "core/json.h"
#include "core/sync_int.h"
#include "proto/hex.h"
#include "proto/noise.h"

/* Local state, per remote device key (pk) and space (gid):
 *   "rx" pk gid -> epoch(16) pos(8) remote_max(8): what I committed of its log
 *   "tx" pk gid -> my epoch(16) its epoch(16) held(8): what it is known to hold of
 *                  mine (acknowledged, or logged here from its own batches) while
 *                  neither store was replaced by a copy
 *   "ls" pk     -> ms(8): the last round completed with it */

struct tx {
  uint8_t gid[KITH_GID_LEN];
  uint8_t their_epoch[KITH_EPOCH_LEN]; /* the receiver's store, from its HELLO */
  uint8_t tag[KITH_LOG_TAG_LEN];       /* what marks the log entries it holds */
  uint64_t next_from;                  /* the next batch starts after this sequence */
  uint64_t acked;
  bool log_done, done_sent, refused;
  int inflight;
};

struct rx {
  uint8_t gid[KITH_GID_LEN];
  bool epoch_known;
  uint8_t epoch[KITH_EPOCH_LEN];
  uint64_t pos, remote_max;
  bool done;
};

struct kith_sync {
  kith_store *st;
  uint8_t pk[KITH_ED25519_PK_LEN];
  bool dialer;
  uint64_t (*now)(void);
  uint8_t my_epoch[KITH_EPOCH_LEN];
  uint32_t round;
  bool hello_sent, hello_got, round_sent, round_got, my_more, their_more, over;
  struct kith_space_list asked; /* the spaces of my HELLO this round */
  struct tx tx[KITH_SPACES_MAX];
  size_t ntx;
  struct rx rx[KITH_SPACES_MAX];
  size_t nrx;
  /* control messages waiting, each [len u16][bytes] */
  uint8_t *ctl;
  size_t ctl_len, ctl_off, ctl_cap;
  /* the batch being sent */
  struct kith__batch stage;
  size_t stage_off;
  struct tx *stage_tx;
  uint64_t stage_from, stage_to;
  uint32_t stage_recs;
  /* the batch being received */
  uint8_t *in;
  size_t in_len, in_cap;
  int in_rx; /* index of the rx stream it belongs to, or -1 */
  /* batches received and not yet applied: applied together in one transaction
   * (commits may group batches) when the sender can send no more before an ACK,
   * or at DONE */
  struct {
    uint64_t from, to;
    uint32_t records;
  } pend[KITH_SYNC_INFLIGHT];
  int npend;
  size_t pend_end; /* in_len at the last END */
  uint8_t pend_epoch[KITH_EPOCH_LEN];
  struct kith_sync_hello *hello_out, *hello_in; /* KITH_SYNC_HELLO_MAX each */
  struct kith_sync_stats stats;
  char why[256];
};

static int fail(kith_sync *s, int err, const char *fmt, ...)
{
  va_list ap;
  if (s->why[0])
    return err;
  va_start(ap, fmt);
  vsnprintf(s->why, sizeof s->why, fmt, ap);
  va_end(ap);
  return err;
}

static int grow(uint8_t **buf, size_t *cap, size_t need, size_t max)
{
  if (need <= *cap)
    return 0;
  if (need > max)
    return KITH_ETOOBIG;
  size_t c = *cap ? *cap : 4096;
  while (c < need)
    c *= 2;
  if (c > max)
    c = max;
  uint8_t *p = realloc(*buf, c);
  if (!p)
    return KITH_ENOMEM;
  *buf = p, *cap = c;
  return 0;
}

static struct kith_sync_space_stats *stat_of(kith_sync *s, const uint8_t gid[16])
{
  for (size_t i = 0; i < s->stats.n; i++)
    if (memcmp(s->stats.s[i].space, gid, KITH_GID_LEN) == 0)
      return &s->stats.s[i];
  if (s->stats.n == KITH_SPACES_MAX)
    return &s->stats.s[KITH_SPACES_MAX - 1];
  struct kith_sync_space_stats *st = &s->stats.s[s->stats.n++];
  memset(st, 0, sizeof *st);
  memcpy(st->space, gid, KITH_GID_LEN);
  return st;
}

/* ---- control messages ------------------------------------------------------ */

static int queue(kith_sync *s, const struct kith_smsg *m)
{
  uint8_t buf[KITH_NOISE_MAX_PAYLOAD];
  size_t len = 0;
  int rc = kith_smsg_encode(m, buf, sizeof buf, &len);
  if (rc == 0 && s->ctl_off == s->ctl_len)
    s->ctl_off = s->ctl_len = 0;
  if (rc == 0)
    rc = grow(&s->ctl, &s->ctl_cap, s->ctl_len + 2 + len, SIZE_MAX / 2);
  if (rc)
    return fail(s, rc, "cannot queue a message: %s", kith_strerror(rc));
  s->ctl[s->ctl_len] = (uint8_t)(len >> 8);
  s->ctl[s->ctl_len + 1] = (uint8_t)len;
  memcpy(s->ctl + s->ctl_len + 2, buf, len);
  s->ctl_len += 2 + len;
  s->stats.bytes_out += len;
  return 0;
}

static bool in_list(const struct kith_space_list *l, const uint8_t gid[16])
{
  for (size_t i = 0; i < l->n; i++)
    if (memcmp(l->gid[i], gid, KITH_GID_LEN) == 0)
      return true;
  return false;
}

/* The spaces this remote device syncs with me now. */
static int allowed(kith_sync *s, kith_txn *txn, struct kith_space_list *out)
{
  enum kith_trust trust;
  int rc = kith_remote_spaces(txn, s->pk, &trust, out);
  if (rc)
    return rc;
  if (trust != KITH_TRUST_DEVICE && trust != KITH_TRUST_PEER)
    out->n = 0;
  return 0;
}

static int load_rx(kith_sync *s, kith_txn *txn, struct rx *r)
{
  struct kith__rx p;
  int rc = kith__rx_load(txn, s->pk, r->gid, &p);
  r->epoch_known = p.known;
  memcpy(r->epoch, p.epoch, KITH_EPOCH_LEN);
  r->pos = p.pos;
  r->remote_max = p.remote_max;
  return rc;
}

static int save_rx(kith_sync *s, kith_txn *txn, const struct rx *r)
{
  struct kith__rx p = {.known = true, .pos = r->pos, .remote_max = r->remote_max};
  memcpy(p.epoch, r->epoch, KITH_EPOCH_LEN);
  return kith__rx_save(txn, s->pk, r->gid, &p);
}

static int save_tx(kith_sync *s, kith_txn *txn, const struct tx *t)
{
  struct kith__tx p = {.known = true, .acked = t->acked};
  memcpy(p.my_epoch, s->my_epoch, KITH_EPOCH_LEN);
  memcpy(p.their_epoch, t->their_epoch, KITH_EPOCH_LEN);
  return kith__tx_save(txn, s->pk, t->gid, &p);
}

static int send_hello(kith_sync *s)
{
  kith_txn *txn = NULL;
  struct kith_identity me;
  int rc = kith_txn_begin(s->st, false, &txn);
  if (rc == 0)
    rc = kith_txn_identity(txn, &me);
  if (rc == 0)
    rc = allowed(s, txn, &s->asked);
  s->nrx = 0;
  for (size_t i = 0; rc == 0 && i < s->asked.n; i++) {
    struct rx *r = &s->rx[s->nrx++];
    struct kith_sync_hello *h = &s->hello_out[i];
    uint32_t local;
    memset(r, 0, sizeof *r);
    memcpy(r->gid, s->asked.gid[i], KITH_GID_LEN);
    if ((rc = load_rx(s, txn, r)) != 0)
      break;
    memset(h, 0, sizeof *h);
    memcpy(h->space, r->gid, KITH_GID_LEN);
    memcpy(h->epoch, me.epoch, KITH_EPOCH_LEN);
    rc = kith_space_local(txn, r->gid, false, &local);
    if (rc == 0)
      rc = kith_txn_seq(txn, local, &h->max);
    else if (rc == KITH_ENOTFOUND)
      rc = 0; /* a space with nothing here yet */
    h->have_known = r->epoch_known;
    memcpy(h->have_epoch, r->epoch, KITH_EPOCH_LEN);
    h->have_seq = r->epoch_known ? r->pos : 0;
  }
  kith_txn_abort(txn);
  if (rc)
    return fail(s, rc, "cannot read the store: %s", kith_strerror(rc));
  memcpy(s->my_epoch, me.epoch, KITH_EPOCH_LEN);
  struct kith_smsg m = {.type = KITH_SYNC_HELLO, .round = s->round};
  m.nhello = s->asked.n;
  m.hello = s->hello_out;
  s->hello_sent = true;
  return queue(s, &m);
}

static void new_round(kith_sync *s, uint32_t round)
{
  s->round = round;
  s->hello_sent = s->hello_got = s->round_sent = s->round_got = false;
  s->my_more = s->their_more = false;
  s->ntx = s->nrx = 0;
  s->in_len = 0;
  s->in_rx = -1;
  s->npend = 0;
  s->stats.rounds = round;
}

int kith_sync_start(kith_sync *s)
{
  new_round(s, 1);
  return send_hello(s);
}

/* ---- receiving ------------------------------------------------------------- */

static struct rx *rx_of(kith_sync *s, const uint8_t gid[16])
{
  for (size_t i = 0; i < s->nrx; i++)
    if (memcmp(s->rx[i].gid, gid, KITH_GID_LEN) == 0)
      return &s->rx[i];
  return NULL;
}

static struct tx *tx_of(kith_sync *s, const uint8_t gid[16])
{
  for (size_t i = 0; i < s->ntx; i++)
    if (memcmp(s->tx[i].gid, gid, KITH_GID_LEN) == 0)
      return &s->tx[i];
  return NULL;
}

static int on_hello(kith_sync *s, const struct kith_smsg *m)
{
  int rc;
  if (s->dialer) {
    if (!s->hello_sent || s->hello_got || m->round != s->round)
      return fail(s, KITH_EPROTO, "unexpected HELLO");
  } else {
    if (m->round != s->round + 1 || m->round > KITH_SYNC_MAX_ROUNDS ||
        (s->round && !(s->round_sent && s->round_got)))
      return fail(s, KITH_EPROTO, "unexpected HELLO");
    new_round(s, m->round);
    if ((rc = send_hello(s)) != 0)
      return rc;
  }
  s->hello_got = true;
  struct kith_space_list ok;
  kith_txn *txn = NULL;
  rc = kith_txn_begin(s->st, false, &txn);
  if (rc == 0)
    rc = allowed(s, txn, &ok);
  if (rc) {
    kith_txn_abort(txn);
    return fail(s, rc, "cannot read the store: %s", kith_strerror(rc));
  }
  for (size_t i = 0; rc == 0 && i < m->nhello; i++) {
    const struct kith_sync_hello *h = &m->hello[i];
    if (tx_of(s, h->space)) {
      rc = fail(s, KITH_EPROTO, "a space asked twice");
      break;
    }
    struct tx *t = &s->tx[s->ntx++];
    memset(t, 0, sizeof *t);
    memcpy(t->gid, h->space, KITH_GID_LEN);
    memcpy(t->their_epoch, h->epoch, KITH_EPOCH_LEN);
    kith__log_tag(s->pk, h->epoch, t->tag);
    struct rx *r = rx_of(s, h->space);
    if (r) /* what it has, for the status */
      r->remote_max = h->max;
    if (!in_list(&ok, h->space)) {
      t->refused = t->log_done = t->done_sent = true;
      struct kith_smsg d = {.type = KITH_SYNC_DONE,
                            .status = KITH_SYNC_DONE_NOT_SHARED};
      memcpy(d.space, h->space, KITH_GID_LEN);
      rc = queue(s, &d);
      continue;
    }
    bool same = h->have_known && sodium_memcmp(h->have_epoch, s->my_epoch, 16) == 0;
    t->next_from = t->acked = same ? h->have_seq : 0;
  }
  kith_txn_abort(txn);
  return rc;
}

static int on_regs(kith_sync *s, const struct kith_smsg *m)
{
  struct rx *r = rx_of(s, m->space);
  if (!r || r->done)
    return fail(s, KITH_EPROTO, "changes for a space this side did not ask for");
  int at = (int)(r - s->rx);
  if (s->in_len && s->in_rx != at)
    return fail(s, KITH_EPROTO, "a batch interleaved with another");
  s->in_rx = at;
  size_t cur = s->in_len - (s->npend ? s->pend_end : 0); /* this batch so far */
  if (cur + m->chunk_len > KITH_SYNC_BATCH_MAX)
    return fail(s, KITH_EPROTO, "a batch larger than %u bytes", KITH_SYNC_BATCH_MAX);
  int rc = grow(&s->in, &s->in_cap, s->in_len + m->chunk_len,
                (size_t)KITH_SYNC_GROUP_BYTES + KITH_SYNC_BATCH_MAX);
  if (rc)
    return fail(s, rc, "cannot hold the batch: %s", kith_strerror(rc));
  memcpy(s->in + s->in_len, m->chunk, m->chunk_len);
  s->in_len += m->chunk_len;
  return 0;
}

static int apply(kith_sync *s, struct rx *r, const struct kith_smsg *m)
{
  kith_txn *txn = NULL;
  struct kith_space_list ok;
  enum kith_trust trust;
  uint32_t local;
  struct kith_sync_space_stats *st = stat_of(s, m->space);
  uint8_t tag[KITH_LOG_TAG_LEN];
  kith__log_tag(s->pk, m->epoch, tag);
  int rc = kith_txn_begin(s->st, true, &txn);
  if (rc == 0)
    rc = kith_remote_spaces(txn, s->pk, &trust, &ok);
  if (rc == 0 && !in_list(&ok, m->space))
    rc = fail(s, KITH_EREFUSED, "the other device no longer belongs to this space");
  if (rc == 0)
    rc = kith_space_local(txn, m->space, true, &local);
  uint64_t skipped = 0, changed = 0;
  if (rc == 0)
    rc = kith__apply_batch(txn, local, trust == KITH_TRUST_DEVICE, tag, s->in,
                           s->in_len, &changed, &skipped, s->why);
  if (rc == 0) {
    memcpy(r->epoch, m->epoch, KITH_EPOCH_LEN);
    r->epoch_known = true;
    r->pos = m->to;
    rc = save_rx(s, txn, r);
  }
  if (rc == 0)
    rc = kith_txn_commit(txn);
  else
    kith_txn_abort(txn);
  if (rc)
    return fail(s, rc, "cannot apply the changes received: %s", kith_strerror(rc));
  st->received += m->records;
  st->changed += changed;
  st->skipped += skipped;
  s->stats.received += m->records;
  s->stats.changed += changed;
  return 0;
}

/* Applies the batches pending for rx stream r in one transaction, then ACKs each. */
static int flush_pending(kith_sync *s, struct rx *r)
{
  struct kith_smsg g = {.type = KITH_SYNC_END};
  if (!s->npend)
    return 0;
  memcpy(g.space, r->gid, KITH_GID_LEN);
  memcpy(g.epoch, s->pend_epoch, KITH_EPOCH_LEN);
  g.from = s->pend[0].from;
  g.to = s->pend[s->npend - 1].to;
  for (int i = 0; i < s->npend; i++)
    g.records += s->pend[i].records;
  int rc = 0;
  if (g.records || s->in_len) {
    rc = apply(s, r, &g);
  } else { /* only records this side holds already: the position moves, recorded
            * with the round (save_round); nothing to commit now */
    memcpy(r->epoch, g.epoch, KITH_EPOCH_LEN);
    r->epoch_known = true;
    r->pos = g.to;
  }
  int n = s->npend;
  s->in_len = 0;
  s->in_rx = -1;
  s->npend = 0;
  for (int i = 0; rc == 0 && i < n; i++) {
    struct kith_smsg a = {.type = KITH_SYNC_ACK, .seq = s->pend[i].to};
    memcpy(a.space, g.space, KITH_GID_LEN);
    memcpy(a.epoch, g.epoch, KITH_EPOCH_LEN);
    rc = queue(s, &a);
  }
  return rc;
}

static int on_end(kith_sync *s, const struct kith_smsg *m)
{
  struct rx *r = rx_of(s, m->space);
  if (!r || r->done || (s->in_len && s->in_rx != (int)(r - s->rx)) ||
      (s->npend && s->in_rx != (int)(r - s->rx)))
    return fail(s, KITH_EPROTO, "a batch end for a space this side did not ask for");
  uint64_t want;
  if (s->npend) { /* continues the pending ones, from the same store */
    if (sodium_memcmp(s->pend_epoch, m->epoch, 16) != 0)
      return fail(s, KITH_EPROTO, "rejected a batch from another store epoch");
    want = s->pend[s->npend - 1].to;
  } else {
    bool same = r->epoch_known && sodium_memcmp(r->epoch, m->epoch, 16) == 0;
    want = same ? r->pos : 0;
  }
  if (m->from != want)
    return fail(s, KITH_EPROTO,
                "rejected a batch out of order (it starts after %llu, this side holds "
                "through %llu)",
                (unsigned long long)m->from, (unsigned long long)want);
  if (s->npend == KITH_SYNC_INFLIGHT)
    return fail(s, KITH_EPROTO, "more batches than a sender may have unacknowledged");
  s->in_rx = (int)(r - s->rx);
  memcpy(s->pend_epoch, m->epoch, KITH_EPOCH_LEN);
  s->pend[s->npend].from = m->from;
  s->pend[s->npend].to = m->to;
  s->pend[s->npend].records = m->records;
  s->npend++;
  s->pend_end = s->in_len;
  /* the sender waits for an ACK once it has this many out: apply them now */
  uint64_t recs = 0; /* a commit holds its dirty pages in memory: bound them */
  for (int i = 0; i < s->npend; i++)
    recs += s->pend[i].records;
  if (s->npend == KITH_SYNC_INFLIGHT || s->in_len >= KITH_SYNC_GROUP_BYTES ||
      recs >= KITH_SYNC_GROUP_RECORDS)
    return flush_pending(s, r);
  return 0;
}

static int on_done(kith_sync *s, const struct kith_smsg *m)
{
  struct rx *r = rx_of(s, m->space);
  if (!r || r->done || s->in_len != (s->npend ? s->pend_end : 0) ||
      (s->npend && s->in_rx != (int)(r - s->rx)))
    return fail(s, KITH_EPROTO, "an unexpected DONE");
  int rc = flush_pending(s, r);
  if (rc)
    return rc;
  r->done = true;
  return 0;
}

static int on_ack(kith_sync *s, const struct kith_smsg *m)
{
  struct tx *t = tx_of(s, m->space);
  if (!t || t->refused || t->inflight == 0 ||
      sodium_memcmp(m->epoch, s->my_epoch, 16) != 0 || m->seq > t->next_from ||
      m->seq <= t->acked)
    return fail(s, KITH_EPROTO, "an unexpected acknowledgement");
  t->inflight--;
  t->acked = m->seq;
  return 0;
}

/* Records, once a round is over on both sides, what each side now holds. */
static int save_round(kith_sync *s)
{
  kith_txn *txn = NULL;
  int rc = kith_txn_begin(s->st, true, &txn);
  for (size_t i = 0; rc == 0 && i < s->ntx; i++)
    if (!s->tx[i].refused)
      rc = save_tx(s, txn, &s->tx[i]);
  for (size_t i = 0; rc == 0 && i < s->nrx; i++)
    if (s->rx[i].epoch_known)
      rc = save_rx(s, txn, &s->rx[i]);
  if (rc == 0) /* what this round taught: my devices, my partnerships */
    rc = kith_rosters_reconcile(txn);
  if (rc == 0) /* and the introductions it moved on */
    rc = kith_intros_step(txn, s->now());
  if (rc == 0) {
    uint8_t lk[2 + KITH_ED25519_PK_LEN], t[8];
    memcpy(lk, "ls", 2);
    memcpy(lk + 2, s->pk, KITH_ED25519_PK_LEN);
    kith_be_put(t, s->now(), 8);
    rc = kith_local_put(txn, lk, sizeof lk, t, sizeof t);
  }
  if (rc == 0)
    rc = kith_txn_commit(txn);
  else
    kith_txn_abort(txn);
  return rc ? fail(s, rc, "cannot record the sync: %s", kith_strerror(rc)) : 0;
}

static int round_over(kith_sync *s)
{
  if (!(s->round_sent && s->round_got))
    return 0;
  int rc = save_round(s);
  if (rc)
    return rc;
  if (!s->dialer)
    return 0;
  if ((s->my_more || s->their_more) && s->round < KITH_SYNC_MAX_ROUNDS) {
    new_round(s, s->round + 1);
    return send_hello(s);
  }
  s->over = true;
  return 0;
}

static int on_round(kith_sync *s, const struct kith_smsg *m)
{
  if (!s->hello_got || s->round_got)
    return fail(s, KITH_EPROTO, "an unexpected ROUND");
  for (size_t i = 0; i < s->nrx; i++)
    if (!s->rx[i].done)
      return fail(s, KITH_EPROTO, "ROUND before every space asked was answered");
  s->round_got = true;
  s->their_more = m->more;
  return round_over(s);
}

int kith_sync_recv(kith_sync *s, const struct kith_msg *m)
{
  struct kith_smsg sm = {.hello = s->hello_in};
  if (s->why[0])
    return KITH_EPROTO;
  if (kith_smsg_decode(m, &sm) != 0)
    return fail(s, KITH_EBADMSG, "a malformed sync message");
  s->stats.bytes_in += m->u.sync.len;
  if (sm.type != KITH_SYNC_HELLO && !s->hello_got)
    return fail(s, KITH_EPROTO, "a sync message before HELLO");
  switch (sm.type) {
  case KITH_SYNC_HELLO:
    return on_hello(s, &sm);
  case KITH_SYNC_REGS:
    return on_regs(s, &sm);
  case KITH_SYNC_END:
    return on_end(s, &sm);
  case KITH_SYNC_DONE:
    return on_done(s, &sm);
  case KITH_SYNC_ACK:
    return on_ack(s, &sm);
  case KITH_SYNC_ROUND:
    return on_round(s, &sm);
  default:
    return fail(s, KITH_EPROTO, "an unknown sync message");
  }
}

/* ---- sending ----------------------------------------------------------------- */

/* Reads the next batch of t's space into the stage; none left: log_done. */
static int stage_batch(kith_sync *s, struct tx *t)
{
  kith_txn *txn = NULL;
  struct kith_space_list ok;
  uint32_t local;
  s->stage.len = s->stage_off = 0;
  int rc = kith_txn_begin(s->st, false, &txn);
  if (rc == 0)
    rc = allowed(s, txn, &ok); /* membership, checked again for every batch */
  if (rc == 0 && !in_list(&ok, t->gid))
    rc = fail(s, KITH_EREFUSED,
              "the other device no longer belongs to a space it asked");
  if (rc == 0) {
    rc = kith_space_local(txn, t->gid, false, &local);
    if (rc == KITH_ENOTFOUND) { /* nothing in that space here */
      kith_txn_abort(txn);
      t->log_done = true;
      return 0;
    }
  }
  if (rc == 0)
    rc = kith__read_batch(txn, local, t->next_from, t->tag, KITH_SYNC_BATCH_BYTES,
                          false, &s->stage);
  kith_txn_abort(txn);
  if (rc < 0)
    return fail(s, rc, "cannot read the changes to send: %s", kith_strerror(rc));
  if (s->stage.recs == 0 && s->stage.held == 0) {
    t->log_done = true;
    return 0;
  }
  s->stage_tx = t; /* a batch of only what it holds is an END alone: its position */
  s->stage_from = t->next_from;
  s->stage_to = s->stage.last;
  s->stage_recs = s->stage.recs;
  t->next_from = s->stage.last;
  t->log_done = !s->stage.full;
  stat_of(s, t->gid)->sent += s->stage.recs;
  s->stats.sent += s->stage.recs;
  return 0;
}

/* My side of the round: every space asked answered and acked, every space I asked
 * answered. */
static int maybe_round(kith_sync *s)
{
  if (s->round_sent || !s->hello_sent || !s->hello_got || s->stage_tx)
    return 0;
  for (size_t i = 0; i < s->ntx; i++)
    if (!s->tx[i].done_sent || s->tx[i].inflight)
      return 0;
  for (size_t i = 0; i < s->nrx; i++)
    if (!s->rx[i].done)
      return 0;
  struct kith_space_list now;
  kith_txn *txn = NULL;
  int rc = kith_txn_begin(s->st, false, &txn);
  if (rc == 0)
    rc = allowed(s, txn, &now);
  kith_txn_abort(txn);
  if (rc)
    return fail(s, rc, "cannot read the store: %s", kith_strerror(rc));
  s->my_more = false;
  for (size_t i = 0; i < now.n; i++)
    s->my_more |= !in_list(&s->asked, now.gid[i]);
  struct kith_smsg m = {.type = KITH_SYNC_ROUND, .more = s->my_more};
  s->round_sent = true;
  if ((rc = queue(s, &m)) != 0)
    return rc;
  return round_over(s);
}

/* Produces more to send: the staged batch's chunks and end, a new batch, DONEs. */
static int produce(kith_sync *s, uint8_t *buf, size_t cap, size_t *len)
{
  int rc;
  for (;;) {
    if (s->stage_tx) {
      struct kith_smsg m = {.type = KITH_SYNC_REGS};
      memcpy(m.space, s->stage_tx->gid, KITH_GID_LEN);
      if (s->stage_off < s->stage.len) {
        size_t n = s->stage.len - s->stage_off;
        m.chunk = s->stage.buf + s->stage_off;
        m.chunk_len = n > KITH_SYNC_CHUNK_MAX ? KITH_SYNC_CHUNK_MAX : n;
        s->stage_off += m.chunk_len;
      } else {
        m.type = KITH_SYNC_END;
        memcpy(m.epoch, s->my_epoch, KITH_EPOCH_LEN);
        m.from = s->stage_from;
        m.to = s->stage_to;
        m.records = s->stage_recs;
        s->stage_tx->inflight++;
        s->stage_tx = NULL;
        s->stage.len = s->stage_off = 0;
      }
      if ((rc = kith_smsg_encode(&m, buf, cap, len)) != 0)
        return fail(s, rc, "cannot encode a batch");
      s->stats.bytes_out += *len;
      return 0;
    }
    bool waiting = false;
    for (size_t i = 0; i < s->ntx && !s->stage_tx; i++) {
      struct tx *t = &s->tx[i];
      if (t->done_sent)
        continue;
      if (!t->log_done) {
        if (t->inflight >= KITH_SYNC_INFLIGHT) {
          waiting = true;
          break; /* one space at a time, in order */
        }
        if ((rc = stage_batch(s, t)) != 0)
          return rc;
        if (s->stage_tx)
          break;
      }
      if (t->log_done) { /* DONE may go before the last ACKs: they follow it */
        struct kith_smsg d = {.type = KITH_SYNC_DONE, .status = KITH_SYNC_DONE_ALL};
        memcpy(d.space, t->gid, KITH_GID_LEN);
        t->done_sent = true;
        if ((rc = kith_smsg_encode(&d, buf, cap, len)) != 0)
          return fail(s, rc, "cannot encode a message");
        s->stats.bytes_out += *len;
        return 0;
      }
      waiting = true; /* acks outstanding for this space */
      break;
    }
    if (s->stage_tx)
      continue;
    (void)waiting;
    *len = 0;
    return 0;
  }
}

int kith_sync_next(kith_sync *s, uint8_t *buf, size_t cap, size_t *len)
{
  *len = 0;
  if (s->why[0])
    return KITH_EPROTO;
  if (s->ctl_off < s->ctl_len) {
    size_t n = (size_t)s->ctl[s->ctl_off] << 8 | s->ctl[s->ctl_off + 1];
    if (n > cap)
      return fail(s, KITH_EINVAL, "a message larger than the buffer");
    memcpy(buf, s->ctl + s->ctl_off + 2, n);
    s->ctl_off += 2 + n;
    *len = n;
    return 0;
  }
  int rc = s->hello_got ? produce(s, buf, cap, len) : 0;
  if (rc || *len)
    return rc;
  if ((rc = maybe_round(s)) != 0)
    return rc;
  if (s->ctl_off < s->ctl_len)
    return kith_sync_next(s, buf, cap, len);
  return 0;
}

bool kith_sync_over(const kith_sync *s)
{
  if (s->why[0])
    return false;
  if (s->dialer)
    return s->over && s->ctl_off == s->ctl_len;
  return s->round_sent && s->round_got && s->ctl_off == s->ctl_len;
}

const struct kith_sync_stats *kith_sync_stats(const kith_sync *s)
{
  return &s->stats;
}

const char *kith_sync_why(const kith_sync *s)
{
  return s->why;
}

int kith_sync_new(kith_store *st, const uint8_t remote_pk[static KITH_ED25519_PK_LEN],
                  bool dialer, uint64_t (*now_ms)(void), kith_sync **out)
{
  kith_sync *s = calloc(1, sizeof *s);
  if (!s)
    return KITH_ENOMEM;
  s->hello_out = calloc(KITH_SYNC_HELLO_MAX, sizeof *s->hello_out);
  s->hello_in = calloc(KITH_SYNC_HELLO_MAX, sizeof *s->hello_in);
  if (!s->hello_out || !s->hello_in) {
    kith_sync_free(s);
    return KITH_ENOMEM;
  }
  s->st = st;
  memcpy(s->pk, remote_pk, KITH_ED25519_PK_LEN);
  s->dialer = dialer;
  s->now = now_ms;
  s->in_rx = -1;
  kith_txn *txn = NULL;
  struct kith_identity me;
  int rc = kith_txn_begin(st, false, &txn);
  if (rc == 0)
    rc = kith_txn_identity(txn, &me);
  kith_txn_abort(txn);
  if (rc) {
    kith_sync_free(s);
    return rc;
  }
  memcpy(s->my_epoch, me.epoch, KITH_EPOCH_LEN);
  *out = s;
  return 0;
}

void kith_sync_free(kith_sync *s)
{
  if (!s)
    return;
  free(s->ctl);
  free(s->stage.buf);
  free(s->in);
  free(s->hello_out);
  free(s->hello_in);
  free(s);
}

/* ---- status ------------------------------------------------------------------ */

int kith_sync_status(kith_txn *txn, const uint8_t remote_pk[static KITH_ED25519_PK_LEN],
                     struct kith_sync_status *out)
{
  struct kith_space_list spaces;
  enum kith_trust trust;
  struct kith_identity me;
  uint8_t lk[2 + KITH_ED25519_PK_LEN], *v = NULL, tag[KITH_LOG_TAG_LEN];
  size_t vl = 0;
  memset(out, 0, sizeof *out);
  memcpy(lk, "ls", 2);
  memcpy(lk + 2, remote_pk, KITH_ED25519_PK_LEN);
  int rc = kith_local_get(txn, lk, sizeof lk, &v, &vl);
  if (rc == 0 && vl == 8)
    out->last_ms = kith_be_get(v, 8);
  free(v);
  if (rc && rc != KITH_ENOTFOUND)
    return rc;
  if ((rc = kith_txn_identity(txn, &me)) != 0 ||
      (rc = kith_remote_spaces(txn, remote_pk, &trust, &spaces)) != 0)
    return rc;
  for (size_t i = 0; i < spaces.n; i++) {
    uint32_t local;
    uint64_t after = 0, n = 0;
    struct kith__tx t;
    struct kith__rx r;
    if ((rc = kith__tx_load(txn, remote_pk, spaces.gid[i], &t)) != 0)
      return rc;
    bool tagged = t.known && sodium_memcmp(t.my_epoch, me.epoch, KITH_EPOCH_LEN) == 0;
    if (tagged) {
      after = t.acked;
      kith__log_tag(remote_pk, t.their_epoch, tag); /* its epoch when it acknowledged */
    }
    rc = kith_space_local(txn, spaces.gid[i], false, &local);
    if (rc == 0 &&
        (rc = kith_log_count(txn, local, after, tagged ? tag : NULL, &n)) != 0)
      return rc;
    if (rc && rc != KITH_ENOTFOUND)
      return rc;
    out->they_lack += n;
    if ((rc = kith__rx_load(txn, remote_pk, spaces.gid[i], &r)) != 0)
      return rc;
    if (r.known)
      out->i_lack += r.remote_max > r.pos ? r.remote_max - r.pos : 0;
  }
  return 0;
}
