/*
 * post.c — sync in one direction: the poster and the inbox (core/post.h).
 */
#include "core/post.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/intro.h"
#include "core/sync_int.h"

#define RANGES_MAX 8
#define PN_LEN 33
#define PC_LEN (KITH_EPOCH_LEN + 8)

/* ---- local state ------------------------------------------------------------------
 */

struct pn {
  uint64_t next;       /* the number of my next envelope to it */
  uint64_t last_ms;    /* when I last posted to it */
  uint64_t their_seen; /* the highest of mine it has opened, as it said */
  uint64_t seen;       /* the highest of its I have opened */
  bool owed;           /* I applied a batch of its since my last post to it */
};

static void key_of(uint8_t *k, const char *tag, const uint8_t *pk, const uint8_t *gid)
{
  memcpy(k, tag, 2);
  memcpy(k + 2, pk, 32);
  if (gid)
    memcpy(k + 34, gid, KITH_GID_LEN);
}

static int pn_load(kith_txn *txn, const uint8_t *pk, struct pn *out)
{
  uint8_t k[34], *v = NULL;
  size_t vl = 0;
  memset(out, 0, sizeof *out);
  out->next = 1;
  key_of(k, "pn", pk, NULL);
  int rc = kith_local_get(txn, k, sizeof k, &v, &vl);
  if (rc == KITH_ENOTFOUND)
    return 0;
  if (rc == 0 && vl == PN_LEN) {
    out->next = kith_be_get(v, 8);
    out->last_ms = kith_be_get(v + 8, 8);
    out->their_seen = kith_be_get(v + 16, 8);
    out->seen = kith_be_get(v + 24, 8);
    out->owed = v[32] != 0;
    if (out->next == 0)
      out->next = 1;
  }
  free(v);
  return rc;
}

static int pn_save(kith_txn *txn, const uint8_t *pk, const struct pn *p)
{
  uint8_t k[34], v[PN_LEN];
  key_of(k, "pn", pk, NULL);
  kith_be_put(v, p->next, 8);
  kith_be_put(v + 8, p->last_ms, 8);
  kith_be_put(v + 16, p->their_seen, 8);
  kith_be_put(v + 24, p->seen, 8);
  v[32] = p->owed;
  return kith_local_put(txn, k, sizeof k, v, sizeof v);
}

/* How far I posted my log of space gid to pk, while my store's epoch is epoch. */
static int pc_load(kith_txn *txn, const uint8_t *pk, const uint8_t *gid,
                   const uint8_t *epoch, uint64_t *sent)
{
  uint8_t k[50], *v = NULL;
  size_t vl = 0;
  *sent = 0;
  key_of(k, "pc", pk, gid);
  int rc = kith_local_get(txn, k, sizeof k, &v, &vl);
  if (rc == KITH_ENOTFOUND)
    return 0;
  if (rc == 0 && vl == PC_LEN && sodium_memcmp(v, epoch, KITH_EPOCH_LEN) == 0)
    *sent = kith_be_get(v + KITH_EPOCH_LEN, 8);
  free(v);
  return rc;
}

static int pc_save(kith_txn *txn, const uint8_t *pk, const uint8_t *gid,
                   const uint8_t *epoch, uint64_t sent)
{
  uint8_t k[50], v[PC_LEN];
  key_of(k, "pc", pk, gid);
  memcpy(v, epoch, KITH_EPOCH_LEN);
  kith_be_put(v + KITH_EPOCH_LEN, sent, 8);
  return kith_local_put(txn, k, sizeof k, v, sizeof v);
}

/* Ranges of a sender's log applied past a gap in my position, for one epoch. */
struct ranges {
  uint8_t epoch[KITH_EPOCH_LEN];
  int n;
  uint64_t from[RANGES_MAX], to[RANGES_MAX];
};

static int rg_load(kith_txn *txn, const uint8_t *pk, const uint8_t *gid,
                   struct ranges *r)
{
  uint8_t k[50], *v = NULL;
  size_t vl = 0;
  memset(r, 0, sizeof *r);
  key_of(k, "rg", pk, gid);
  int rc = kith_local_get(txn, k, sizeof k, &v, &vl);
  if (rc == KITH_ENOTFOUND)
    return 0;
  if (rc == 0 && vl >= KITH_EPOCH_LEN && (vl - KITH_EPOCH_LEN) % 16 == 0 &&
      (vl - KITH_EPOCH_LEN) / 16 <= RANGES_MAX) {
    memcpy(r->epoch, v, KITH_EPOCH_LEN);
    r->n = (int)((vl - KITH_EPOCH_LEN) / 16);
    for (int i = 0; i < r->n; i++) {
      r->from[i] = kith_be_get(v + KITH_EPOCH_LEN + 16 * i, 8);
      r->to[i] = kith_be_get(v + KITH_EPOCH_LEN + 16 * i + 8, 8);
    }
  }
  free(v);
  return rc;
}

static int rg_save(kith_txn *txn, const uint8_t *pk, const uint8_t *gid,
                   const struct ranges *r)
{
  uint8_t k[50], v[KITH_EPOCH_LEN + 16 * RANGES_MAX];
  key_of(k, "rg", pk, gid);
  if (r->n == 0) {
    int rc = kith_local_del(txn, k, sizeof k);
    return rc == KITH_ENOTFOUND ? 0 : rc;
  }
  memcpy(v, r->epoch, KITH_EPOCH_LEN);
  for (int i = 0; i < r->n; i++) {
    kith_be_put(v + KITH_EPOCH_LEN + 16 * i, r->from[i], 8);
    kith_be_put(v + KITH_EPOCH_LEN + 16 * i + 8, r->to[i], 8);
  }
  return kith_local_put(txn, k, sizeof k, v, KITH_EPOCH_LEN + 16 * (size_t)r->n);
}

static void rg_add(struct ranges *r, const uint8_t *epoch, uint64_t from, uint64_t to)
{
  if (r->n && memcmp(r->epoch, epoch, KITH_EPOCH_LEN) != 0)
    r->n = 0; /* ranges of an older epoch mean nothing now */
  memcpy(r->epoch, epoch, KITH_EPOCH_LEN);
  if (r->n == RANGES_MAX) { /* keep the ranges nearest the position */
    int far = 0;
    for (int i = 1; i < r->n; i++)
      if (r->from[i] > r->from[far])
        far = i;
    if (from >= r->from[far])
      return;
    r->from[far] = r->from[--r->n], r->to[far] = r->to[r->n];
  }
  r->from[r->n] = from, r->to[r->n] = to;
  r->n++;
}

/* Moves the position over every range it reaches now. */
static void rg_absorb(struct ranges *r, struct kith__rx *rx)
{
  if (!rx->known || memcmp(r->epoch, rx->epoch, KITH_EPOCH_LEN) != 0) {
    return;
  }
  for (bool moved = true; moved;) {
    moved = false;
    for (int i = 0; i < r->n; i++) {
      if (r->from[i] > rx->pos)
        continue;
      if (r->to[i] > rx->pos)
        rx->pos = r->to[i];
      r->from[i] = r->from[--r->n], r->to[i] = r->to[r->n];
      moved = true;
      break;
    }
  }
}

static bool in_list(const struct kith_space_list *l, const uint8_t gid[16])
{
  for (size_t i = 0; i < l->n; i++)
    if (memcmp(l->gid[i], gid, KITH_GID_LEN) == 0)
      return true;
  return false;
}

/* ---- the poster ---------------------------------------------------------------------
 */

struct pspace {
  uint8_t gid[KITH_GID_LEN];
  bool have_local;
  uint32_t local;
  uint64_t cur; /* the next batch starts after this */
  bool tagged;
  uint8_t tag[KITH_LOG_TAG_LEN];
  bool done;
};

struct prog { /* after envelope n, space sp had been posted through `to` */
  uint64_t n, to;
  uint32_t sp;
};

struct kith_poster {
  kith_store *st;
  enum kith_post_mode mode;
  uint8_t r_pk[32], box[KITH_BOX_LEN], owner[32], sk[64];
  struct kith_identity me;
  uint64_t now;
  struct pn pn;
  size_t nsp, next_sp;
  struct pspace sp[KITH_SPACES_MAX];
  size_t nhello;
  struct kith_sync_hello hello[KITH_SYNC_HELLO_MAX];
  struct kith_post_batch batch[KITH_POST_BATCH_MAX];
  uint64_t made; /* envelopes made */
  bool finished;
  struct prog *prog;
  size_t nprog, prog_cap;
  struct kith__batch b;
  uint8_t *body, *post; /* a post's batches' bytes; the encoded post */
  struct kith_post_stats stats;
  char why[KITH__WHY_LEN];
};

const uint8_t *kith_poster_box(const kith_poster *p)
{
  return p->box;
}

const uint8_t *kith_poster_owner(const kith_poster *p)
{
  return p->owner;
}

const struct kith_post_stats *kith_poster_stats(const kith_poster *p)
{
  return &p->stats;
}

const char *kith_poster_why(const kith_poster *p)
{
  return p->why;
}

static void buffers_free(kith_poster *p);

void kith_poster_free(kith_poster *p)
{
  if (!p)
    return;
  sodium_memzero(p->sk, sizeof p->sk);
  free(p->prog);
  buffers_free(p);
  free(p);
}

/* Where to start space s: see post.h. */
static int plan_space(kith_poster *p, kith_txn *txn, struct pspace *s,
                      struct kith_sync_hello *h)
{
  struct kith__tx tx;
  struct kith__rx rx;
  uint64_t sent = 0;
  int rc = kith__tx_load(txn, p->r_pk, s->gid, &tx);
  if (rc == 0)
    rc = kith__rx_load(txn, p->r_pk, s->gid, &rx);
  if (rc == 0)
    rc = pc_load(txn, p->r_pk, s->gid, p->me.epoch, &sent);
  if (rc == 0) {
    rc = kith_space_local(txn, s->gid, false, &s->local);
    s->have_local = rc == 0;
    if (rc == KITH_ENOTFOUND)
      rc = 0;
  }
  if (rc)
    return rc;
  bool ack_ok =
      tx.known && sodium_memcmp(tx.my_epoch, p->me.epoch, KITH_EPOCH_LEN) == 0;
  uint64_t acked = ack_ok ? tx.acked : 0;
  if (tx.known) { /* what it holds is tagged with its epoch */
    s->tagged = true;
    kith__log_tag(p->r_pk, tx.their_epoch, s->tag);
  } else if (rx.known) {
    s->tagged = true;
    kith__log_tag(p->r_pk, rx.epoch, s->tag);
  }
  s->cur = acked;
  if (p->mode == KITH_POST_RELAY && sent > acked) {
    bool all_seen = p->pn.next > 1 && p->pn.their_seen >= p->pn.next - 1;
    bool stale = p->now > p->pn.last_ms + KITH_POST_RESEND_MS;
    if (!all_seen && !stale)
      s->cur = sent; /* in flight: not again */
  }
  memset(h, 0, sizeof *h);
  memcpy(h->space, s->gid, KITH_GID_LEN);
  memcpy(h->epoch, p->me.epoch, KITH_EPOCH_LEN);
  if (s->have_local && (rc = kith_txn_seq(txn, s->local, &h->max)) != 0)
    return rc;
  h->have_known = rx.known;
  memcpy(h->have_epoch, rx.epoch, KITH_EPOCH_LEN);
  h->have_seq = rx.known ? rx.pos : 0;
  s->done = !s->have_local;
  return 0;
}

int kith_poster_new(kith_store *st, const uint8_t r_pk[static 32],
                    enum kith_post_mode mode, uint64_t now_ms, kith_poster **out)
{
  kith_poster *p = calloc(1, sizeof *p);
  kith_txn *txn = NULL;
  struct kith_space_list spaces;
  enum kith_trust trust;
  *out = NULL;
  if (!p)
    return KITH_ENOMEM;
  p->st = st, p->mode = mode, p->now = now_ms;
  memcpy(p->r_pk, r_pk, 32);
  int rc = kith_txn_begin(st, false, &txn);
  if (rc == 0)
    rc = kith_txn_identity(txn, &p->me);
  if (rc == 0)
    rc = kith_txn_secret_key(txn, p->sk);
  if (rc == 0)
    rc = kith_remote_spaces(txn, r_pk, &trust, &spaces);
  if (rc == 0 && ((trust != KITH_TRUST_DEVICE && trust != KITH_TRUST_PEER) ||
                  spaces.n > KITH_SYNC_HELLO_MAX))
    rc = KITH_EREFUSED;
  if (rc == 0)
    rc = pn_load(txn, r_pk, &p->pn);
  if (mode == KITH_POST_BUNDLE) /* a file always carries my acknowledgement */
    p->pn.owed = true;
  for (size_t i = 0; rc == 0 && i < spaces.n; i++) {
    memcpy(p->sp[i].gid, spaces.gid[i], KITH_GID_LEN);
    rc = plan_space(p, txn, &p->sp[i], &p->hello[i]);
  }
  kith_txn_abort(txn);
  p->nsp = p->nhello = spaces.n;
  if (rc == 0 && (kith_box_derive(p->sk, r_pk, true, p->box) != 0 ||
                  kith_box_owner(r_pk, p->owner) != 0))
    rc = KITH_EREFUSED;
  if (rc) {
    kith_poster_free(p);
    return rc;
  }
  *out = p;
  return 0;
}

static int prog_add(kith_poster *p, uint64_t n, uint32_t sp, uint64_t to)
{
  if (p->nprog == p->prog_cap) {
    size_t c = p->prog_cap ? 2 * p->prog_cap : 64;
    struct prog *q = realloc(p->prog, c * sizeof *q);
    if (!q)
      return KITH_ENOMEM;
    p->prog = q, p->prog_cap = c;
  }
  p->prog[p->nprog++] = (struct prog){n, to, sp};
  return 0;
}

/* Fills the next envelope's batches: *nb of them, *body_len bytes in p->body. */
static int fill(kith_poster *p, uint64_t n, size_t *nb, size_t *body_len)
{
  kith_txn *txn = NULL;
  size_t budget = KITH_ENVELOPE_POST_MAX - kith_post_size(p->nhello, p->nsp, 0);
  int rc = kith_txn_begin(p->st, false, &txn);
  *nb = *body_len = 0;
  while (rc == 0 && p->next_sp < p->nsp) {
    struct pspace *s = &p->sp[p->next_sp];
    if (s->done) {
      p->next_sp++;
      continue;
    }
    size_t room = budget - *body_len;
    rc = kith__read_batch(txn, s->local, s->cur, s->tagged ? s->tag : NULL, room, true,
                          &p->b);
    if (rc == KITH_ETOOBIG && *nb) { /* it goes first in the next envelope */
      rc = 0;
      break;
    }
    if (rc == KITH_ETOOBIG)
      rc = kith__why(p->why, rc,
                     "a record is larger than an envelope holds (%u bytes): sync it "
                     "over the LAN",
                     KITH_ENVELOPE_POST_MAX);
    if (rc)
      break;
    if (p->b.recs == 0 && p->b.held == 0) {
      s->done = true;
      continue;
    }
    struct kith_post_batch *b = &p->batch[(*nb)++];
    memcpy(b->space, s->gid, KITH_GID_LEN);
    memcpy(b->epoch, p->me.epoch, KITH_EPOCH_LEN);
    b->from = s->cur;
    b->to = p->b.last;
    b->records = p->b.recs;
    b->bytes = p->body + *body_len;
    b->len = p->b.len;
    if (p->b.len) /* held records only: no bytes, and maybe no buffer yet */
      memcpy(p->body + *body_len, p->b.buf, p->b.len);
    *body_len += p->b.len;
    p->stats.records += p->b.recs;
    s->cur = p->b.last;
    if ((rc = prog_add(p, n, (uint32_t)p->next_sp, s->cur)) != 0)
      break;
    if (p->b.full)
      break; /* the envelope is full */
    s->done = true;
  }
  kith_txn_abort(txn);
  return rc;
}

/* A poster's buffers (2 MiB) exist only while it makes envelopes: a round may hold
 * a poster per device and relay, and makes their envelopes one after another. */
static void buffers_free(kith_poster *p)
{
  free(p->body);
  free(p->post);
  free(p->b.buf);
  p->body = p->post = p->b.buf = NULL;
  p->b.cap = 0;
}

int kith_poster_next(kith_poster *p, uint8_t **env, size_t *len, uint64_t *n)
{
  size_t nb = 0, body_len = 0, plen = 0;
  *env = NULL, *len = 0, *n = 0;
  if (p->finished) {
    buffers_free(p);
    return 0;
  }
  if (!p->body && (!(p->body = malloc(KITH_ENVELOPE_POST_MAX)) ||
                   !(p->post = malloc(KITH_ENVELOPE_POST_MAX)))) {
    buffers_free(p);
    return kith__why(p->why, KITH_ENOMEM, "cannot post: out of memory");
  }
  uint64_t num = p->pn.next + p->made;
  int rc = fill(p, num, &nb, &body_len);
  if (rc) {
    if (rc != KITH_ETOOBIG)
      kith__why(p->why, rc, "cannot read the changes to post: %s", kith_strerror(rc));
    return rc;
  }
  if (p->next_sp >= p->nsp)
    p->finished = true;
  if (nb == 0 && (p->made || !p->pn.owed)) { /* nothing it lacks, nothing owed */
    p->finished = true;
    buffers_free(p);
    return 0;
  }
  struct kith_post post = {num, p->pn.seen, p->nhello, p->hello, nb, p->batch};
  rc = kith_post_encode(&post, p->post, KITH_ENVELOPE_POST_MAX, &plen);
  if (rc == 0)
    rc = kith_envelope_seal(p->sk, p->r_pk, p->box, p->post, plen, NULL, env, len);
  if (rc)
    return kith__why(p->why, rc, "cannot seal a post: %s", kith_strerror(rc));
  p->made++;
  p->stats.envelopes++;
  p->stats.bytes += *len;
  *n = num;
  return 0;
}

int kith_poster_commit(kith_poster *p, uint64_t upto)
{
  kith_txn *txn = NULL;
  if (!p->made || upto < p->pn.next)
    return 0;
  int rc = kith_txn_begin(p->st, true, &txn);
  struct pn now;
  if (rc == 0) /* read again: an inbox may have moved it since */
    rc = pn_load(txn, p->r_pk, &now);
  for (size_t i = 0; rc == 0 && i < p->nsp; i++) {
    uint64_t to = 0;
    bool any = false;
    for (size_t k = 0; k < p->nprog; k++)
      if (p->prog[k].sp == i && p->prog[k].n <= upto && p->prog[k].to > to)
        to = p->prog[k].to, any = true;
    if (any && p->mode == KITH_POST_RELAY) /* a bundle may never be carried */
      rc = pc_save(txn, p->r_pk, p->sp[i].gid, p->me.epoch, to);
  }
  if (rc == 0) {
    uint64_t last = p->pn.next + p->made - 1;
    if (now.next <= last)
      now.next = last + 1;
    if (p->mode == KITH_POST_RELAY) {
      now.last_ms = p->now;
      now.owed = false;
    }
    rc = pn_save(txn, p->r_pk, &now);
  }
  if (rc == 0)
    rc = kith_txn_commit(txn);
  else
    kith_txn_abort(txn);
  if (rc)
    return kith__why(p->why, rc, "cannot record the post: %s", kith_strerror(rc));
  return 0;
}

/* ---- the inbox
 * ------------------------------------------------------------------------ */

struct ibdev {
  uint8_t pk[32], box[KITH_BOX_LEN];
};

struct kith_inbox {
  kith_store *st;
  uint64_t (*now)(void);
  uint8_t sk[64];
  struct kith_identity me;
  size_t n;
  struct ibdev *dev;
  struct kith_sync_hello hello[KITH_SYNC_HELLO_MAX];
  struct kith_post_batch batch[KITH_POST_BATCH_MAX];
  char why[KITH__WHY_LEN];
};

void kith_inbox_free(kith_inbox *ib)
{
  if (!ib)
    return;
  sodium_memzero(ib->sk, sizeof ib->sk);
  free(ib->dev);
  free(ib);
}

const char *kith_inbox_why(const kith_inbox *ib)
{
  return ib->why;
}

int kith_inbox_new(kith_store *st, uint64_t (*now_ms)(void), kith_inbox **out)
{
  kith_inbox *ib = calloc(1, sizeof *ib);
  struct kith_remote *r = calloc(KITH_REMOTES_MAX, sizeof *r);
  kith_txn *txn = NULL;
  size_t n = 0;
  *out = NULL;
  int rc = ib && r ? 0 : KITH_ENOMEM;
  if (rc == 0 && !(ib->dev = calloc(KITH_REMOTES_MAX, sizeof *ib->dev)))
    rc = KITH_ENOMEM;
  if (rc == 0)
    rc = kith_txn_begin(st, false, &txn);
  if (rc == 0)
    rc = kith_txn_identity(txn, &ib->me);
  if (rc == 0)
    rc = kith_txn_secret_key(txn, ib->sk);
  if (rc == 0)
    rc = kith_remote_devices(txn, r, KITH_REMOTES_MAX, &n);
  kith_txn_abort(txn);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    struct ibdev *d = &ib->dev[ib->n];
    memcpy(d->pk, r[i].pk, 32);
    if (kith_box_derive(ib->sk, r[i].pk, false, d->box) == 0)
      ib->n++;
  }
  free(r);
  if (rc) {
    kith_inbox_free(ib);
    return rc;
  }
  ib->st = st, ib->now = now_ms;
  *out = ib;
  return 0;
}

static const struct ibdev *dev_of(const kith_inbox *ib, const uint8_t box[KITH_BOX_LEN])
{
  for (size_t i = 0; i < ib->n; i++)
    if (sodium_memcmp(ib->dev[i].box, box, KITH_BOX_LEN) == 0)
      return &ib->dev[i];
  return NULL;
}

bool kith_inbox_knows(const kith_inbox *ib, const uint8_t box[static KITH_BOX_LEN])
{
  return dev_of(ib, box) != NULL;
}

/* What the sender's HELLO entries say: how far it holds my log, its own highest. */
static int take_hello(kith_inbox *ib, kith_txn *txn, const uint8_t *pk,
                      const struct kith_space_list *ok, const struct kith_post *post)
{
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < post->nhello; i++) {
    const struct kith_sync_hello *h = &post->hello[i];
    if (!in_list(ok, h->space))
      continue;
    struct kith__rx rx;
    if ((rc = kith__rx_load(txn, pk, h->space, &rx)) != 0)
      break;
    if (rx.known && memcmp(rx.epoch, h->epoch, KITH_EPOCH_LEN) == 0 &&
        h->max > rx.remote_max) {
      rx.remote_max = h->max;
      if ((rc = kith__rx_save(txn, pk, h->space, &rx)) != 0)
        break;
    }
    if (!h->have_known || sodium_memcmp(h->have_epoch, ib->me.epoch, 16) != 0)
      continue;
    struct kith__tx tx;
    if ((rc = kith__tx_load(txn, pk, h->space, &tx)) != 0)
      break;
    bool same = tx.known && memcmp(tx.my_epoch, ib->me.epoch, KITH_EPOCH_LEN) == 0 &&
                memcmp(tx.their_epoch, h->epoch, KITH_EPOCH_LEN) == 0;
    if (same && tx.acked >= h->have_seq)
      continue; /* an older post's news */
    tx.known = true;
    memcpy(tx.my_epoch, ib->me.epoch, KITH_EPOCH_LEN);
    memcpy(tx.their_epoch, h->epoch, KITH_EPOCH_LEN);
    tx.acked = h->have_seq;
    rc = kith__tx_save(txn, pk, h->space, &tx);
  }
  return rc;
}

/* Applies one batch and moves my position in the sender's log (post.h). */
static int take_batch(kith_inbox *ib, kith_txn *txn, const uint8_t *pk, bool mine,
                      struct kith_space_list *ok, const struct kith_post_batch *b,
                      struct kith_inbox_result *res)
{
  uint32_t local;
  uint8_t tag[KITH_LOG_TAG_LEN];
  uint64_t changed = 0, skipped = 0;
  struct kith__rx rx;
  struct ranges rg;
  enum kith_trust trust;
  int rc;
  if (!in_list(ok, b->space) && /* a space an earlier batch just told me of? */
      (rc = kith_remote_spaces(txn, pk, &trust, ok)) != 0)
    return rc;
  if (!in_list(ok, b->space)) { /* not one we share (yet): as the session's DONE 1 */
    res->skipped++;
    return 0;
  }
  rc = kith_space_local(txn, b->space, true, &local);
  kith__log_tag(pk, b->epoch, tag);
  if (rc == 0)
    rc = kith__apply_batch(txn, local, mine, tag, b->bytes, b->len, &changed, &skipped,
                           ib->why);
  if (rc == 0)
    rc = kith__rx_load(txn, pk, b->space, &rx);
  if (rc == 0)
    rc = rg_load(txn, pk, b->space, &rg);
  if (rc)
    return rc;
  bool same = rx.known && memcmp(rx.epoch, b->epoch, KITH_EPOCH_LEN) == 0;
  if (same && b->from <= rx.pos) {
    if (b->to > rx.pos)
      rx.pos = b->to;
  } else if (!same && b->from == 0) { /* a new store (or a copy): from its start */
    rx.known = true;
    memcpy(rx.epoch, b->epoch, KITH_EPOCH_LEN);
    rx.pos = b->to;
  } else {
    rg_add(&rg, b->epoch, b->from, b->to);
  }
  rg_absorb(&rg, &rx);
  if (rx.known && (rc = kith__rx_save(txn, pk, b->space, &rx)) != 0)
    return rc;
  if ((rc = rg_save(txn, pk, b->space, &rg)) != 0)
    return rc;
  res->records += b->records;
  res->changed += changed;
  res->batches++;
  return 0;
}

int kith_inbox_take(kith_inbox *ib, const uint8_t box[static KITH_BOX_LEN],
                    const uint8_t *env, size_t len, struct kith_inbox_result *res)
{
  const struct ibdev *d = dev_of(ib, box);
  uint8_t *pt = NULL;
  size_t pl = 0;
  ib->why[0] = 0;
  memset(res, 0, sizeof *res);
  if (!d)
    return kith__why(ib->why, KITH_ENOTFOUND,
                     "an envelope from no device this home trusts");
  int rc = kith_envelope_open(ib->sk, d->pk, box, env, len, &pt, &pl);
  if (rc)
    return kith__why(ib->why, rc, "%s",
                     rc == KITH_EBADMSG
                         ? "an envelope that does not open: tampered, or "
                           "not sealed to this device by its sender"
                         : kith_strerror(rc));
  rc = kith_inbox_apply(ib, d->pk, pt, pl, res);
  sodium_memzero(pt, pl);
  free(pt);
  return rc;
}

int kith_inbox_apply(kith_inbox *ib, const uint8_t from[static 32], const uint8_t *pt,
                     size_t pl, struct kith_inbox_result *res)
{
  kith_txn *txn = NULL;
  struct kith_post post = {.hello = ib->hello, .batch = ib->batch};
  struct kith_space_list ok;
  enum kith_trust trust;
  struct ibdev dev = {0};
  const struct ibdev *d = &dev;
  memcpy(dev.pk, from, 32);
  ib->why[0] = 0;
  memset(res, 0, sizeof *res);
  memcpy(res->from, from, 32);
  if (kith_post_decode(pt, pl, &post) != 0)
    return kith__why(ib->why, KITH_EBADMSG, "a post that does not decode");
  res->n = post.n;
  int rc = kith_txn_begin(ib->st, true, &txn);
  if (rc == 0)
    rc = kith_remote_spaces(txn, d->pk, &trust, &ok);
  if (rc == 0 && trust != KITH_TRUST_DEVICE && trust != KITH_TRUST_PEER)
    rc = kith__why(ib->why, KITH_EREFUSED, "a post from a device no longer trusted");
  for (size_t i = 0; rc == 0 && i < post.nbatch; i++)
    rc = take_batch(ib, txn, d->pk, trust == KITH_TRUST_DEVICE, &ok, &post.batch[i],
                    res);
  if (rc == 0) /* after the batches: a position they started is there to update */
    rc = take_hello(ib, txn, d->pk, &ok, &post);
  struct pn pn;
  if (rc == 0)
    rc = pn_load(txn, d->pk, &pn);
  if (rc == 0) {
    if (post.n > pn.seen)
      pn.seen = post.n;
    if (post.seen > pn.their_seen)
      pn.their_seen = post.seen;
    pn.owed |= res->records > 0; /* an acknowledgement is owed for records only */
    rc = pn_save(txn, d->pk, &pn);
  }
  if (rc == 0) {
    uint8_t lk[2 + 32], t[8];
    key_of(lk, "ls", d->pk, NULL);
    kith_be_put(t, ib->now(), 8);
    rc = kith_local_put(txn, lk, sizeof lk, t, sizeof t);
  }
  if (rc == 0) /* what it taught: my devices, my partnerships */
    rc = kith_rosters_reconcile(txn);
  if (rc == 0) /* and the introductions it moved on */
    rc = kith_intros_step(txn, ib->now());
  if (rc == 0)
    rc = kith_txn_commit(txn);
  else
    kith_txn_abort(txn);
  if (rc && !ib->why[0])
    kith__why(ib->why, rc, "cannot apply a post: %s", kith_strerror(rc));
  return rc;
}
