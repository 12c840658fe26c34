/*
 * relayd.c — the relay's connections and their shared state (relayd.h).
 */
#include "core/relayd.h"

#include <netinet/in.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/chan.h"
#include "proto/noise.h"
#include "proto/relaymsg.h"

#define OUT_LOW (64u * 1024u) /* produce output only below this; read only below it */
#define ANS_MAX 256    /* answers waiting behind an envelope: then read no more */
#define USED_TAGS 4096 /* spent rendezvous tags remembered */
#define ADDR_KEY 16

enum step {
  S_PREAMBLE, /* waiting for the client's 8 bytes */
  S_HS1,      /* waiting for XX message 1 (e) */
  S_HS3,      /* sent message 2, waiting for message 3 (s, se) */
  S_READY,    /* serving requests */
  S_WAITING,  /* a rendezvous waiter */
  S_PIPE,     /* joined: raw bytes both ways */
  S_DONE,
  S_FAILED,
};

/* One address's share: connections, waits, and its deposit buckets. */
struct addr {
  uint8_t key[ADDR_KEY]; /* IPv4 as ::ffff:a.b.c.d; IPv6 cut to its /64 */
  bool used;
  uint32_t conns, waits;
  double tok_env, tok_bytes; /* what the buckets hold */
  uint64_t t_ms;             /* when they were last filled */
};

/* One queued request: a deposit or a delete, until its batch is done. */
struct rop {
  struct rop *next;
  kith_relayd *s; /* NULL once the session is gone */
  uint32_t req;
  struct kith_mb_op op;
  uint8_t *buf; /* the envelope, or the eids: owned */
  size_t bytes; /* what it counts against queue_bytes */
};

struct kith_relayd_batch {
  size_t n;
  struct rop **rops;
  struct kith_mb_op *ops;
  size_t sweep, swept;
  uint64_t now_s;
  int rc;
};

struct answer {
  uint32_t req, code; /* code 0: R_OK with value */
  uint64_t value;
};

struct kith_relayd_ctx {
  kith_mailbox *mb;
  struct kith_relayd_limits lim;
  struct kith_mailbox_limits mbl;
  uint8_t sk[KITH_NOISE_KEY_LEN];
  uint64_t now_ms, now_s;
  bool wake;
  kith_relayd *sessions;
  struct rop *q_head, *q_tail;
  struct kith_relayd_batch *out; /* the batch taken, until done */
  struct addr *addrs;
  size_t naddrs;
  uint8_t used[USED_TAGS][KITH_RMSG_TAG_LEN];
  size_t used_n, used_next;
  uint64_t eids[KITH_RMSG_DEL_MAX]; /* decoding room for an R_DEL */
  struct kith_relayd_stats st;
};

struct kith_relayd {
  kith_relayd_ctx *ctx;
  kith_relayd *prev, *next;
  struct addr *addr; /* NULL: no address (tests) */
  enum step step;
  bool closing; /* BYE or end of stream: finish, then DONE */
  uint8_t my_pre[KITH_PREAMBLE_LEN];
  uint8_t prologue[KITH_PROLOGUE_LEN];
  size_t prologue_len;
  kith_noise_hs *hs;
  uint8_t owner[KITH_RMSG_KEY_LEN]; /* the client's static key */

  /* the deposit being assembled */
  bool put_on;
  uint32_t put_req;
  uint8_t put_owner[KITH_RMSG_KEY_LEN], put_box[KITH_RMSG_BOX_LEN];
  uint64_t put_size, put_got;
  uint8_t *put_buf; /* NULL: refused, its bytes are dropped */

  /* the fetch being streamed */
  bool fetch_on, mail_on;
  uint32_t fetch_req;
  uint64_t fetch_after, fetch_max, fetch_sent;
  uint64_t mail_eid, mail_size, mail_off;

  uint32_t inflight;  /* requests in the queue or a batch */
  struct answer *ans; /* answers waiting behind a streaming envelope */
  size_t nans, capans;

  /* rendezvous */
  uint8_t tag[KITH_RMSG_TAG_LEN];
  uint32_t wait_req;
  uint64_t wait_since, keepalive_at;
  kith_relayd *partner;

  int error;
  char why[160];
  uint8_t small[KITH_RMSG_ENCODED_MAX]; /* one answer's plaintext */
  struct kith_chan ch;                  /* last: it is large */
};

/* ---- limits and context ------------------------------------------------------------
 */

struct kith_relayd_limits kith_relayd_limits_default(uint32_t max_conns)
{
  struct kith_relayd_limits l = {
      .max_conns = max_conns,
      .per_address = KITH_RELAYD_PER_ADDRESS_DEFAULT,
      .rate = KITH_RELAYD_RATE_DEFAULT,
      .burst_s = KITH_RELAYD_BURST_S_DEFAULT,
      .rate_bytes = 0,
      .queue_bytes = KITH_RELAYD_QUEUE_DEFAULT,
      .wait_ms = KITH_RELAYD_WAIT_MS_DEFAULT,
      .keepalive_ms = KITH_RELAYD_KEEPALIVE_MS_DEFAULT,
      .waits_per_address = KITH_RELAYD_WAITS_PER_ADDRESS_DEFAULT,
  };
  return l;
}

int kith_relayd_ctx_new(kith_mailbox *mb, const struct kith_relayd_limits *lim,
                        kith_relayd_ctx **out)
{
  if (!out)
    return KITH_EINVAL;
  *out = NULL;
  if (!mb || !lim || lim->max_conns < 1 || lim->burst_s < 1 || lim->queue_bytes < 1 ||
      lim->wait_ms < 1 || lim->keepalive_ms < 1)
    return KITH_EINVAL;
  kith_relayd_ctx *ctx = calloc(1, sizeof *ctx);
  if (!ctx)
    return KITH_ENOMEM;
  ctx->naddrs = (size_t)lim->max_conns * 4 + 16;
  ctx->addrs = calloc(ctx->naddrs, sizeof *ctx->addrs);
  if (!ctx->addrs) {
    free(ctx);
    return KITH_ENOMEM;
  }
  ctx->mb = mb;
  ctx->lim = *lim;
  ctx->mbl = kith_mailbox_limits_of(mb);
  if (ctx->lim.rate_bytes == 0)
    ctx->lim.rate_bytes = (uint64_t)ctx->lim.rate * 64 * 1024;
  uint8_t pk[KITH_NOISE_KEY_LEN];
  kith_mailbox_key(mb, ctx->sk, pk);
  *out = ctx;
  return 0;
}

void kith_relayd_ctx_free(kith_relayd_ctx *ctx)
{
  if (!ctx)
    return;
  while (ctx->q_head) { /* never committed: nobody was told they were */
    struct rop *o = ctx->q_head;
    ctx->q_head = o->next;
    free(o->buf);
    free(o);
  }
  sodium_memzero(ctx->sk, sizeof ctx->sk);
  free(ctx->addrs);
  free(ctx);
}

void kith_relayd_set_now(kith_relayd_ctx *ctx, uint64_t mono_ms, uint64_t unix_s)
{
  ctx->now_ms = mono_ms;
  ctx->now_s = unix_s;
}

bool kith_relayd_take_wake(kith_relayd_ctx *ctx)
{
  bool w = ctx->wake;
  ctx->wake = false;
  return w;
}

bool kith_relayd_queued(const kith_relayd_ctx *ctx)
{
  return ctx->q_head != NULL;
}

void kith_relayd_stats(const kith_relayd_ctx *ctx, struct kith_relayd_stats *out)
{
  *out = ctx->st;
}

/* ---- addresses and rates -----------------------------------------------------------
 */

static void addr_key(const struct sockaddr *sa, uint8_t key[ADDR_KEY])
{
  memset(key, 0, ADDR_KEY);
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
    key[10] = key[11] = 0xff;
    memcpy(key + 12, &a->sin_addr, 4);
    return;
  }
  const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)sa;
  const uint8_t *b = a6->sin6_addr.s6_addr;
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (memcmp(b, mapped, 12) == 0)
    memcpy(key, b, 16); /* an IPv4 client of a dual-stack socket */
  else
    memcpy(key, b, 8); /* one /64: what one IPv6 user usually has */
}

/* What an address's buckets hold at most. */
static void caps(const kith_relayd_ctx *ctx, double *env, double *bytes)
{
  const struct kith_relayd_limits *l = &ctx->lim;
  *env = (double)l->rate * l->burst_s;
  *bytes = (double)l->rate_bytes * l->burst_s;
  if (*bytes < 2.0 * (double)ctx->mbl.max_envelope)
    *bytes = 2.0 * (double)ctx->mbl.max_envelope;
}

/* Adds what the time since the last fill earned, up to the caps. */
static void fill(const kith_relayd_ctx *ctx, struct addr *a)
{
  double cap_env, cap_bytes;
  caps(ctx, &cap_env, &cap_bytes);
  double dt = ctx->now_ms > a->t_ms ? (double)(ctx->now_ms - a->t_ms) / 1000.0 : 0;
  a->tok_env += dt * ctx->lim.rate;
  a->tok_bytes += dt * (double)ctx->lim.rate_bytes;
  if (a->tok_env > cap_env)
    a->tok_env = cap_env;
  if (a->tok_bytes > cap_bytes)
    a->tok_bytes = cap_bytes;
  a->t_ms = ctx->now_ms;
}

/* Takes one deposit of size bytes from the address's buckets, if they hold it. */
static bool rate_take(kith_relayd *r, uint64_t size)
{
  kith_relayd_ctx *ctx = r->ctx;
  if (!r->addr || ctx->lim.rate == 0)
    return true;
  fill(ctx, r->addr);
  if (r->addr->tok_env < 1.0 || r->addr->tok_bytes < (double)size)
    return false;
  r->addr->tok_env -= 1.0;
  r->addr->tok_bytes -= (double)size;
  return true;
}

/* The address's entry, made if needed (an idle one is reused, the least recently
 * used first); NULL if the address already has its most connections. */
static struct addr *addr_admit(kith_relayd_ctx *ctx, const struct sockaddr *sa)
{
  uint8_t key[ADDR_KEY];
  struct addr *free_slot = NULL, *idle = NULL;
  addr_key(sa, key);
  for (size_t i = 0; i < ctx->naddrs; i++) {
    struct addr *a = &ctx->addrs[i];
    if (!a->used) {
      if (!free_slot)
        free_slot = a;
      continue;
    }
    if (memcmp(a->key, key, ADDR_KEY) == 0) {
      if (ctx->lim.per_address && a->conns >= ctx->lim.per_address)
        return NULL;
      return a;
    }
    if (a->conns == 0 && a->waits == 0 && (!idle || a->t_ms < idle->t_ms))
      idle = a;
  }
  struct addr *a = free_slot ? free_slot : idle;
  if (!a)
    return NULL; /* never: the table holds 4 x max_conns + 16 */
  memset(a, 0, sizeof *a);
  a->used = true;
  memcpy(a->key, key, ADDR_KEY);
  caps(ctx, &a->tok_env, &a->tok_bytes); /* a new address starts with full buckets */
  a->t_ms = ctx->now_ms;
  return a;
}

/* ---- failing and sending -----------------------------------------------------------
 */

static int fail(kith_relayd *r, int err, const char *fmt, ...)
{
  va_list ap;
  if (r->step == S_FAILED)
    return r->error;
  r->step = S_FAILED;
  r->error = err;
  va_start(ap, fmt);
  vsnprintf(r->why, sizeof r->why, fmt, ap);
  va_end(ap);
  r->ctx->wake = true; /* a partner may be waiting on us */
  return err;
}

static int send_plain(kith_relayd *r, const uint8_t *pt, size_t len)
{
  int rc = kith_chan_send_plain(&r->ch, pt, len);
  return rc ? fail(r, rc, "cannot send: %s", kith_strerror(rc)) : 0;
}

static int send_rmsg(kith_relayd *r, const struct kith_rmsg *m)
{
  size_t len = 0;
  int rc = kith_rmsg_encode(m, r->small, sizeof r->small, &len);
  if (rc)
    return fail(r, rc, "cannot encode an answer");
  return send_plain(r, r->small, len);
}

/* Sends REFUSE code with text (if the channel is up) and fails with err. */
static int refuse(kith_relayd *r, uint32_t code, int err, const char *text)
{
  if (r->ch.tx && r->step != S_FAILED && r->step != S_PIPE) {
    struct kith_msg m = {.type = KITH_MSG_REFUSE};
    m.u.refuse.code = code;
    kith_refuse_set_text(&m, text);
    int sent = kith_chan_send_msg(&r->ch, &m);
    (void)sent; /* best effort: we are closing anyway */
  }
  return fail(r, err, "%s", text);
}

static int malformed(kith_relayd *r, const char *why)
{
  return refuse(r, KITH_REFUSE_PROTOCOL, KITH_EPROTO, why);
}

static int send_answer(kith_relayd *r, const struct answer *a)
{
  struct kith_rmsg m;
  memset(&m, 0, sizeof m);
  m.req = a->req;
  if (a->code == 0) {
    m.type = KITH_RMSG_OK;
    m.value = a->value;
  } else {
    m.type = KITH_RMSG_ERR;
    m.code = a->code;
    kith_rmsg_set_text(&m, kith_rmsg_err_text(a->code));
  }
  return send_rmsg(r, &m);
}

/* Answers req: at once, or after the envelope that is streaming (R_MAIL and its
 * R_DATAs are never split). */
static int answer(kith_relayd *r, uint32_t req, uint32_t code, uint64_t value)
{
  struct answer a = {req, code, value};
  if (code)
    r->ctx->st.refused++;
  if (r->step == S_FAILED || r->step == S_DONE)
    return 0;
  if (!r->mail_on && r->nans == 0)
    return send_answer(r, &a);
  if (r->nans == r->capans) {
    size_t cap = r->capans ? r->capans * 2 : 16;
    struct answer *p = realloc(r->ans, cap * sizeof *p);
    if (!p)
      return fail(r, KITH_ENOMEM, "out of memory");
    r->ans = p, r->capans = cap;
  }
  r->ans[r->nans++] = a;
  return 0;
}

static bool outstanding(const kith_relayd *r)
{
  return r->inflight || r->fetch_on || r->mail_on || r->nans;
}

/* BYE or end of stream came: DONE once nothing is owed. */
static void maybe_finish(kith_relayd *r)
{
  if (r->closing && r->step == S_READY && !outstanding(r) && !r->put_on) {
    r->step = S_DONE;
    r->ctx->wake = true;
  }
}

/* ---- the commit queue --------------------------------------------------------------
 */

static void enqueue(kith_relayd *r, struct rop *o)
{
  kith_relayd_ctx *ctx = r->ctx;
  o->s = r;
  o->next = NULL;
  if (ctx->q_tail)
    ctx->q_tail->next = o;
  else
    ctx->q_head = o;
  ctx->q_tail = o;
  ctx->st.queue_bytes += o->bytes;
  if (ctx->st.queue_bytes > ctx->st.queue_peak)
    ctx->st.queue_peak = ctx->st.queue_bytes;
  r->inflight++;
}

int kith_relayd_batch_take(kith_relayd_ctx *ctx, size_t sweep,
                           struct kith_relayd_batch **out)
{
  *out = NULL;
  if (ctx->out)
    return KITH_EBUSY;
  size_t n = 0, bytes = 0;
  for (struct rop *o = ctx->q_head; o; o = o->next) {
    if (n > 0 && bytes + o->bytes > ctx->lim.queue_bytes)
      break;
    n++, bytes += o->bytes;
  }
  if (n == 0 && sweep == 0)
    return 0;
  struct kith_relayd_batch *b = calloc(1, sizeof *b);
  if (!b)
    return KITH_ENOMEM;
  if (n) {
    b->rops = calloc(n, sizeof *b->rops);
    b->ops = calloc(n, sizeof *b->ops);
    if (!b->rops || !b->ops) {
      free(b->rops);
      free(b->ops);
      free(b);
      return KITH_ENOMEM;
    }
  }
  for (size_t i = 0; i < n; i++) {
    struct rop *o = ctx->q_head;
    ctx->q_head = o->next;
    b->rops[i] = o;
    b->ops[i] = o->op; /* its pointers point into o->buf, which stays until done */
  }
  if (!ctx->q_head)
    ctx->q_tail = NULL;
  b->n = n;
  b->sweep = sweep;
  b->now_s = ctx->now_s;
  ctx->out = b;
  *out = b;
  return 0;
}

void kith_relayd_batch_run(struct kith_relayd_batch *b, kith_mailbox *mb)
{
  b->rc = kith_mailbox_apply(mb, b->ops, b->n, b->now_s, b->sweep, &b->swept);
}

int kith_relayd_batch_done(kith_relayd_ctx *ctx, struct kith_relayd_batch *b,
                           size_t *swept)
{
  int rc = b->rc;
  if (ctx->out == b)
    ctx->out = NULL;
  ctx->st.commits++;
  ctx->st.committed += b->n;
  ctx->st.swept += b->swept;
  for (size_t i = 0; i < b->n; i++) {
    struct rop *o = b->rops[i];
    const struct kith_mb_op *op = &b->ops[i];
    ctx->st.queue_bytes -= o->bytes;
    if (op->kind == KITH_MB_PUT && op->err == 0)
      ctx->st.puts++;
    if (op->kind == KITH_MB_DEL && op->err == 0)
      ctx->st.deleted += op->value;
    kith_relayd *r = o->s;
    if (r) {
      r->inflight--;
      (void)answer(r, o->req, op->err, op->err ? 0 : op->value);
      maybe_finish(r);
    }
    free(o->buf);
    free(o);
  }
  if (swept)
    *swept = b->swept;
  free(b->rops);
  free(b->ops);
  free(b);
  ctx->wake = true;
  return rc;
}

/* ---- requests ----------------------------------------------------------------------
 */

static int on_put(kith_relayd *r, const struct kith_rmsg *m)
{
  if (m->size == 0)
    return answer(r, m->req, KITH_RERR_MALFORMED, 0); /* no R_DATA follows */
  r->put_on = true;
  r->put_req = m->req;
  memcpy(r->put_owner, m->owner, sizeof r->put_owner);
  memcpy(r->put_box, m->box, sizeof r->put_box);
  r->put_size = m->size;
  r->put_got = 0;
  r->put_buf = NULL;
  if (m->size > r->ctx->mbl.max_envelope)
    return answer(r, m->req, KITH_RERR_TOO_BIG, 0);
  if (!rate_take(r, m->size))
    return answer(r, m->req, KITH_RERR_RATE, 0);
  r->put_buf = malloc(m->size); /* bounded by max_envelope just above */
  if (!r->put_buf)
    return answer(r, m->req, KITH_RERR_BUSY, 0);
  return 0;
}

static int on_data(kith_relayd *r, const struct kith_rmsg *m)
{
  if (!r->put_on)
    return malformed(r, "R_DATA outside a deposit");
  if (m->chunk_len > r->put_size - r->put_got)
    return malformed(r, "more R_DATA than the deposit's size");
  if (r->put_buf && m->chunk_len)
    memcpy(r->put_buf + r->put_got, m->chunk, m->chunk_len);
  r->put_got += m->chunk_len;
  if (r->put_got < r->put_size)
    return 0;
  r->put_on = false;
  if (!r->put_buf)
    return 0; /* refused at R_PUT: answered then */
  struct rop *o = calloc(1, sizeof *o);
  if (!o) {
    free(r->put_buf);
    r->put_buf = NULL;
    return answer(r, r->put_req, KITH_RERR_BUSY, 0);
  }
  o->req = r->put_req;
  o->op.kind = KITH_MB_PUT;
  memcpy(o->op.owner, r->put_owner, sizeof o->op.owner);
  memcpy(o->op.box, r->put_box, sizeof o->op.box);
  o->op.data = r->put_buf;
  o->op.size = (size_t)r->put_size;
  o->buf = r->put_buf;
  o->bytes = (size_t)r->put_size + sizeof *o;
  r->put_buf = NULL;
  enqueue(r, o);
  return 0;
}

static int on_del(kith_relayd *r, const struct kith_rmsg *m)
{
  if (m->neids == 0)
    return answer(r, m->req, 0, 0);
  struct rop *o = calloc(1, sizeof *o);
  uint64_t *e = malloc(m->neids * sizeof *e);
  if (!o || !e) {
    free(o);
    free(e);
    return answer(r, m->req, KITH_RERR_BUSY, 0);
  }
  memcpy(e, m->eids, m->neids * sizeof *e);
  o->req = m->req;
  o->op.kind = KITH_MB_DEL;
  memcpy(o->op.owner, r->owner, sizeof o->op.owner); /* only ever its own */
  o->op.eids = e;
  o->op.neids = m->neids;
  o->buf = (uint8_t *)e;
  o->bytes = m->neids * sizeof *e + sizeof *o;
  enqueue(r, o);
  return 0;
}

static int on_fetch(kith_relayd *r, const struct kith_rmsg *m)
{
  if (r->fetch_on)
    return answer(r, m->req, KITH_RERR_BUSY, 0); /* one at a time */
  r->fetch_on = true;
  r->fetch_req = m->req;
  r->fetch_after = m->after;
  r->fetch_max = m->max_bytes;
  r->fetch_sent = 0;
  return 0;
}

static bool tag_spent(const kith_relayd_ctx *ctx, const uint8_t tag[KITH_RMSG_TAG_LEN])
{
  for (size_t i = 0; i < ctx->used_n; i++)
    if (sodium_memcmp(ctx->used[i], tag, KITH_RMSG_TAG_LEN) == 0)
      return true;
  return false;
}

static void tag_spend(kith_relayd_ctx *ctx, const uint8_t tag[KITH_RMSG_TAG_LEN])
{
  memcpy(ctx->used[ctx->used_next], tag, KITH_RMSG_TAG_LEN);
  ctx->used_next = (ctx->used_next + 1) % USED_TAGS;
  if (ctx->used_n < USED_TAGS)
    ctx->used_n++;
}

static kith_relayd *waiter_of(kith_relayd_ctx *ctx,
                              const uint8_t tag[KITH_RMSG_TAG_LEN])
{
  for (kith_relayd *w = ctx->sessions; w; w = w->next)
    if (w->step == S_WAITING && sodium_memcmp(w->tag, tag, KITH_RMSG_TAG_LEN) == 0)
      return w;
  return NULL;
}

/* A waiter goes back to serving requests (its wait replaced or ended). */
static void unwait(kith_relayd *w, const char *why)
{
  (void)why;
  w->step = S_READY;
  if (w->addr && w->addr->waits)
    w->addr->waits--;
  (void)answer(w, w->wait_req, KITH_RERR_NO_RENDEZVOUS, 0);
  w->ctx->wake = true;
}

static int on_rendezvous(kith_relayd *r, const struct kith_rmsg *m)
{
  kith_relayd_ctx *ctx = r->ctx;
  if (outstanding(r))
    return answer(r, m->req, KITH_RERR_MALFORMED, 0);
  if (tag_spent(ctx, m->tag))
    return answer(r, m->req, KITH_RERR_NO_RENDEZVOUS, 0);
  kith_relayd *w = waiter_of(ctx, m->tag);
  if (m->type == KITH_RMSG_WAIT) {
    if (r->addr && ctx->lim.waits_per_address &&
        r->addr->waits >= ctx->lim.waits_per_address && !(w && w->addr == r->addr))
      return answer(r, m->req, KITH_RERR_RATE, 0);
    if (w)
      unwait(w, "replaced");
    memcpy(r->tag, m->tag, sizeof r->tag);
    r->wait_req = m->req;
    r->wait_since = r->keepalive_at = ctx->now_ms;
    r->step = S_WAITING;
    if (r->addr)
      r->addr->waits++;
    return 0;
  }
  if (!w)
    return answer(r, m->req, KITH_RERR_NO_RENDEZVOUS, 0);
  tag_spend(ctx, m->tag);
  if (w->addr && w->addr->waits)
    w->addr->waits--;
  struct answer ok = {w->wait_req, 0, 0};
  int rc = send_answer(w, &ok);
  ok.req = m->req;
  if (rc == 0)
    rc = send_answer(r, &ok);
  if (rc)
    return rc;
  w->step = r->step = S_PIPE;
  w->partner = r, r->partner = w;
  ctx->st.joins++;
  ctx->wake = true;
  return 0;
}

static int on_message(kith_relayd *r, const struct kith_msg *km)
{
  struct kith_rmsg m;
  if (km->type == KITH_MSG_BYE) {
    if (r->put_on || r->closing)
      return malformed(r, "BYE in the middle of a deposit");
    r->closing = true;
    maybe_finish(r);
    return 0;
  }
  if (km->type == KITH_MSG_REFUSE)
    return fail(r, KITH_EREFUSED, "the client refused: %s",
                kith_refuse_text(km->u.refuse.code));
  m.eids = r->ctx->eids;
  if (!kith_rmsg_is_relay(km->type) || kith_rmsg_decode(km, &m) != 0)
    return malformed(r, "not a relay request");
  if (r->closing)
    return malformed(r, "a request after BYE");
  if (r->put_on && m.type != KITH_RMSG_DATA)
    return malformed(r, "a request in the middle of a deposit");
  switch (m.type) {
  case KITH_RMSG_PUT:
    return on_put(r, &m);
  case KITH_RMSG_DATA:
    return on_data(r, &m);
  case KITH_RMSG_FETCH:
    return on_fetch(r, &m);
  case KITH_RMSG_DEL:
    return on_del(r, &m);
  case KITH_RMSG_WAIT:
  case KITH_RMSG_JOIN:
    return on_rendezvous(r, &m);
  default:
    return malformed(r, "a message only the relay sends");
  }
}

/* ---- handshake ---------------------------------------------------------------------
 */

static int on_preamble(kith_relayd *r)
{
  struct kith_preamble in, ans;
  int rc = kith_preamble_decode(r->ch.pre_in, &in);
  if (rc == KITH_ENOTKITH || (rc == 0 && in.purpose != KITH_PURPOSE_RELAY))
    return fail(r, KITH_ENOTKITH, "not a kith relay client");
  rc = kith_preamble_answer(&in, KITH_PROTO_VERSION, 0, &ans);
  kith_preamble_encode(&ans, r->my_pre);
  if (kith_chan_out(&r->ch, r->my_pre, sizeof r->my_pre) != 0)
    return fail(r, KITH_ENOMEM, "cannot send");
  if (rc || ans.version == 0)
    return fail(r, KITH_EVERSION, "%s", kith_strerror(KITH_EVERSION));
  kith_prologue(r->ch.pre_in, r->my_pre, r->prologue, &r->prologue_len);
  struct kith_noise_config cfg = {.protocol = KITH_RELAYD_NOISE,
                                  .role = KITH_NOISE_RESPONDER,
                                  .prologue = r->prologue,
                                  .prologue_len = r->prologue_len,
                                  .local_static = r->ctx->sk};
  if ((rc = kith_noise_hs_new(&cfg, &r->hs)) != 0)
    return fail(r, rc, "handshake: %s", kith_strerror(rc));
  r->step = S_HS1;
  return 0;
}

static int on_handshake(kith_relayd *r, const uint8_t *msg, size_t len)
{
  uint8_t payload[KITH_FRAME_MAX_HANDSHAKE], out[256];
  size_t plen, olen;
  int rc = kith_noise_read_message(r->hs, msg, len, payload, sizeof payload, &plen);
  if (rc) /* nothing to answer a client whose handshake fails */
    return fail(r, KITH_EPROTO, "handshake failed: %s", kith_strerror(rc));
  if (r->step == S_HS1) {
    rc = kith_noise_write_message(r->hs, NULL, 0, out, sizeof out, &olen);
    if (rc == 0)
      rc = kith_chan_send_frame(&r->ch, out, olen);
    if (rc)
      return fail(r, rc, "handshake: %s", kith_strerror(rc));
    r->step = S_HS3;
    return 0;
  }
  rc = kith_noise_remote_static(r->hs, r->owner);
  if (rc == 0)
    rc = kith_noise_split(r->hs, &r->ch.tx, &r->ch.rx);
  kith_noise_hs_free(r->hs);
  r->hs = NULL;
  if (rc == 0)
    rc = kith_frame_set_max(&r->ch.fr, KITH_FRAME_MAX);
  if (rc)
    return fail(r, rc, "handshake: %s", kith_strerror(rc));
  r->step = S_READY;
  struct kith_rmsg info;
  memset(&info, 0, sizeof info);
  info.type = KITH_RMSG_INFO;
  info.version = KITH_RMSG_VERSION;
  info.max_envelope = r->ctx->mbl.max_envelope;
  info.ttl_s = r->ctx->mbl.ttl_s;
  return send_rmsg(r, &info);
}

static int on_frame(kith_relayd *r, const uint8_t *body, size_t len)
{
  struct kith_msg m;
  if (r->step == S_HS1 || r->step == S_HS3)
    return on_handshake(r, body, len);
  int rc = kith_chan_open(&r->ch, body, len, &m);
  if (rc == KITH_EPROTO)
    return fail(r, KITH_EPROTO, "a message failed its check");
  if (rc == KITH_EVERSION)
    return refuse(r, KITH_REFUSE_VERSION, KITH_EVERSION,
                  kith_refuse_text(KITH_REFUSE_VERSION));
  if (rc)
    return malformed(r, "a malformed message");
  return on_message(r, &m);
}

/* ---- the session's functions
 * ----------------------------------------------------------- */

/* Raw bytes from a joined side, into the other side's output. */
static int pipe_in(kith_relayd *r, const uint8_t *in, size_t len)
{
  kith_relayd *p = r->partner;
  if (!p || p->step != S_PIPE)
    return 0; /* the other side is gone: dropped, we are ending too */
  if (kith_chan_out(&p->ch, in, len) != 0)
    return fail(r, KITH_ENOMEM, "rendezvous: the other side's output is full");
  r->ctx->wake = true; /* the other connection has something to send */
  return 0;
}

static int relayd_feed(void *s, const uint8_t *in, size_t len)
{
  kith_relayd *r = s;
  while (len) {
    if (r->step == S_DONE || r->step == S_FAILED)
      break;
    if (r->step == S_PIPE)
      return pipe_in(r, in, len);
    if (r->step == S_WAITING)
      return malformed(r, "a waiter sent bytes before anyone joined");
    if (r->ch.pre_have < KITH_PREAMBLE_LEN) {
      size_t take = KITH_PREAMBLE_LEN - r->ch.pre_have;
      if (take > len)
        take = len;
      memcpy(r->ch.pre_in + r->ch.pre_have, in, take);
      r->ch.pre_have += take, in += take, len -= take;
      if (r->ch.pre_have == KITH_PREAMBLE_LEN && on_preamble(r) != 0)
        break;
      continue;
    }
    size_t used = 0, blen = 0;
    const uint8_t *body = NULL;
    int rc = kith_frame_feed(&r->ch.fr, in, len, &used);
    in += used, len -= used;
    if (rc || kith_frame_pop(&r->ch.fr, &body, &blen) != 0)
      return malformed(r, "a malformed frame");
    if (body && on_frame(r, body, blen) != 0)
      break;
    if (!body && used == 0)
      break; /* never: the reader takes bytes until a frame is whole */
  }
  return r->step == S_FAILED ? r->error : 0;
}

/* Streams the current fetch while the output has room: answers first (never in
 * the middle of an envelope), then the next envelope, a chunk at a time. */
static void pump(kith_relayd *r)
{
  kith_relayd_ctx *ctx = r->ctx;
  while ((r->step == S_READY) && r->ch.out_len < OUT_LOW) {
    if (r->mail_on) {
      uint64_t left = r->mail_size - r->mail_off;
      size_t n = left < KITH_RMSG_CHUNK_MAX ? (size_t)left : KITH_RMSG_CHUNK_MAX, hlen;
      int rc = kith_rmsg_data_header(n, r->ch.pt, &hlen);
      if (rc == 0)
        rc = kith_mailbox_read(ctx->mb, r->owner, r->mail_eid, r->mail_off,
                               r->ch.pt + hlen, n);
      if (rc) { /* deleted or expired while it streamed: the client fetches again */
        refuse(r, KITH_REFUSE_BUSY, KITH_EBUSY, "an envelope went away as it was sent");
        return;
      }
      if (send_plain(r, r->ch.pt, hlen + n) != 0)
        return;
      r->mail_off += n;
      if (r->mail_off == r->mail_size) {
        r->mail_on = false;
        r->fetch_sent += r->mail_size;
      }
      continue;
    }
    if (r->nans) {
      for (size_t i = 0; i < r->nans; i++)
        if (send_answer(r, &r->ans[i]) != 0)
          return;
      r->nans = 0;
      continue;
    }
    if (!r->fetch_on)
      break;
    struct kith_mb_entry e;
    int rc = kith_mailbox_next(ctx->mb, r->owner, r->fetch_after, ctx->now_s, &e);
    if (rc && rc != KITH_ENOTFOUND) {
      r->fetch_on = false;
      (void)answer(r, r->fetch_req, KITH_RERR_BUSY, 0);
      continue;
    }
    if (rc == KITH_ENOTFOUND || r->fetch_sent >= r->fetch_max) {
      r->fetch_on = false;
      (void)answer(r, r->fetch_req, 0, rc == 0);
      continue;
    }
    struct kith_rmsg m;
    memset(&m, 0, sizeof m);
    m.type = KITH_RMSG_MAIL;
    m.eid = e.eid;
    memcpy(m.box, e.box, sizeof m.box);
    m.size = e.size;
    if (send_rmsg(r, &m) != 0)
      return;
    ctx->st.fetched++;
    r->fetch_after = e.eid;
    r->mail_on = true;
    r->mail_eid = e.eid, r->mail_size = e.size, r->mail_off = 0;
  }
  maybe_finish(r);
}

static size_t relayd_pending(void *s, const uint8_t **out)
{
  kith_relayd *r = s;
  pump(r);
  return kith_chan_pending(&r->ch, out);
}

static void relayd_consumed(void *s, size_t n)
{
  kith_relayd *r = s;
  kith_chan_consumed(&r->ch, n);
  if (r->step == S_PIPE && n)
    r->ctx->wake = true; /* the other side may read again */
}

static int relayd_eof(void *s)
{
  kith_relayd *r = s;
  switch (r->step) {
  case S_PIPE:
    if (r->partner && r->partner->step == S_PIPE)
      r->partner->step = S_DONE; /* it sends what it holds, then its end of stream */
    r->step = S_DONE;
    r->ctx->wake = true;
    return 0;
  case S_WAITING:
    if (r->addr && r->addr->waits)
      r->addr->waits--;
    r->step = S_DONE;
    return 0;
  case S_READY:
    if (r->put_on) { /* a deposit cut short: never committed, never answered */
      free(r->put_buf);
      r->put_buf = NULL;
      r->put_on = false;
    }
    r->closing = true;
    maybe_finish(r);
    return 0;
  case S_DONE:
    return 0;
  case S_FAILED:
    return r->error;
  default:
    return fail(r, KITH_ECLOSED, "the client left during the handshake");
  }
}

static enum kith_session_state relayd_state(void *s)
{
  kith_relayd *r = s;
  switch (r->step) {
  case S_DONE:
    return KITH_SESSION_DONE;
  case S_FAILED:
    return KITH_SESSION_FAILED;
  case S_READY:
  case S_WAITING:
  case S_PIPE:
    return KITH_SESSION_ESTABLISHED;
  default:
    return KITH_SESSION_RUNNING;
  }
}

const struct kith_session_vt kith_relayd_vt = {
    relayd_feed, relayd_pending, relayd_consumed, relayd_eof, relayd_state};

size_t kith_relayd_room(kith_relayd *r)
{
  const kith_relayd_ctx *ctx = r->ctx;
  switch (r->step) {
  case S_PIPE:
    if (!r->partner || r->partner->step != S_PIPE)
      return SIZE_MAX; /* read and dropped */
    return r->partner->ch.out_len < KITH_RELAYD_PIPE_MAX
               ? KITH_RELAYD_PIPE_MAX - r->partner->ch.out_len
               : 0;
  case S_READY:
    if (r->ch.out_len >= OUT_LOW || r->inflight >= KITH_RMSG_PUTS_MAX ||
        r->nans >= ANS_MAX || ctx->st.queue_bytes >= ctx->lim.queue_bytes)
      return 0;
    /* Requests answered at once bring at most ~3 bytes out per byte in (a 24-byte
     * R_FETCH, a 62-byte R_ERR): a quarter of what is left under the output's
     * bound, less a margin for one R_DATA, keeps it there whatever is read. */
    return (KITH_CHAN_OUT_MAX - OUT_LOW - r->ch.out_len) / 4;
  default:
    return SIZE_MAX;
  }
}

const char *kith_relayd_why(const kith_relayd *r)
{
  return r->why;
}

/* ---- sessions: lifetime
 * ---------------------------------------------------------------- */

int kith_relayd_new(kith_relayd_ctx *ctx, const struct sockaddr *peer,
                    kith_relayd **out)
{
  *out = NULL;
  struct addr *a = NULL;
  if (peer && (peer->sa_family == AF_INET || peer->sa_family == AF_INET6)) {
    a = addr_admit(ctx, peer);
    if (!a)
      return KITH_EBUSY;
  }
  kith_relayd *r = calloc(1, sizeof *r);
  if (!r)
    return KITH_ENOMEM;
  if (kith_chan_init(&r->ch) != 0) {
    free(r);
    return KITH_ENOMEM;
  }
  r->ctx = ctx;
  r->addr = a;
  if (a)
    a->conns++;
  r->step = S_PREAMBLE;
  r->next = ctx->sessions;
  if (ctx->sessions)
    ctx->sessions->prev = r;
  ctx->sessions = r;
  ctx->st.sessions++;
  *out = r;
  return 0;
}

void kith_relayd_free(kith_relayd *r)
{
  if (!r)
    return;
  kith_relayd_ctx *ctx = r->ctx;
  for (struct rop *o = ctx->q_head; o; o = o->next)
    if (o->s == r)
      o->s = NULL;
  if (ctx->out)
    for (size_t i = 0; i < ctx->out->n; i++)
      if (ctx->out->rops[i]->s == r)
        ctx->out->rops[i]->s = NULL;
  if (r->partner) {
    if (r->partner->step == S_PIPE)
      r->partner->step = S_DONE; /* it sends what it holds, then ends */
    r->partner->partner = NULL;
    ctx->wake = true;
  }
  if (r->step == S_WAITING && r->addr && r->addr->waits)
    r->addr->waits--;
  if (r->addr) {
    r->addr->conns--;
    r->addr->t_ms = ctx->now_ms;
  }
  if (r->prev)
    r->prev->next = r->next;
  else
    ctx->sessions = r->next;
  if (r->next)
    r->next->prev = r->prev;
  ctx->st.sessions--;
  kith_noise_hs_free(r->hs);
  free(r->put_buf);
  free(r->ans);
  kith_chan_clear(&r->ch);
  free(r);
}

void kith_relayd_tick(kith_relayd_ctx *ctx)
{
  for (kith_relayd *r = ctx->sessions; r; r = r->next) {
    if (r->step != S_WAITING)
      continue;
    if (ctx->now_ms - r->wait_since >= ctx->lim.wait_ms) {
      unwait(r, "nobody joined in time");
      continue;
    }
    if (ctx->now_ms - r->keepalive_at >= ctx->lim.keepalive_ms) {
      struct kith_rmsg m;
      memset(&m, 0, sizeof m);
      m.type = KITH_RMSG_DATA; /* empty: a keepalive */
      r->keepalive_at = ctx->now_ms;
      (void)send_rmsg(r, &m);
      ctx->wake = true;
    }
  }
}
