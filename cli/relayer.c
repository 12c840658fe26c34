/*
 * relayer.c — sync through relays (cli/relayer.h).
 */
#include "cli/relayer.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/post.h"
#include "core/relayc.h"
#include "net/conn.h"
#include "proto/relaymsg.h"

#define INFLIGHT KITH_RELAYC_PUTS_INFLIGHT

struct relayer;

/* One connection to one relay. */
struct conn {
  struct relayer *r;
  struct relayer_relay *rel;
  kith_relayc *c;
  bool fetch;
  bool running;
  /* deposits: the posters of the targets this relay serves */
  size_t ndeps, cur;
  struct dep *deps;
  struct {
    uint64_t tag;
    uint8_t *env;
  } fly[INFLIGHT];
};

/* One target's posts at one relay. */
struct dep {
  size_t target;
  kith_poster *p;
  uint64_t first, last;     /* numbers made: first..last (0: none) */
  uint64_t ok_max, bad_min; /* highest acknowledged, lowest refused (0: none) */
  bool exhausted;
  uint64_t records;
};

struct relayer {
  struct cli *cli;
  uv_loop_t *loop;
  const char *only;
  const struct kith_remote *targets;
  struct relayer_report rep;
  void (*done)(void *arg, const struct relayer_report *r);
  void *arg;
  kith_inbox *ib;
  uint8_t xsk[32];
  int pending; /* connections running */
  int phase;   /* 1 fetching, 2 depositing */
  struct conn conns[RELAYER_RELAYS_MAX];
  size_t nconns;
};

struct kith_net_limits relayer_limits(void)
{
  struct kith_net_limits lim = kith_net_limits_default();
  const char *e = getenv("KITH_RELAY_CONNECT_MS");
  if (e && *e)
    lim.connect_ms = (uint32_t)strtoul(e, NULL, 10);
  lim.idle_ms = 60000; /* a relay's commit may take a moment under load */
  return lim;
}

static void why_set(char *why, size_t n, const char *fmt, const char *a, const char *b)
{
  if (!why[0])
    snprintf(why, n, fmt, a, b);
}

static struct relayer_relay *relay_of(struct relayer *r, const char *addr)
{
  for (size_t i = 0; i < r->rep.nrelays; i++)
    if (strcmp(r->rep.relay[i].addr, addr) == 0)
      return &r->rep.relay[i];
  if (r->rep.nrelays == RELAYER_RELAYS_MAX)
    return NULL;
  struct relayer_relay *rel = &r->rep.relay[r->rep.nrelays++];
  memset(rel, 0, sizeof *rel);
  snprintf(rel->addr, sizeof rel->addr, "%s", addr);
  return rel;
}

/* ---- fetching ------------------------------------------------------------------- */

static int on_mail(void *arg, uint64_t eid, const uint8_t box[KITH_BOX_LEN],
                   const uint8_t *env, size_t len)
{
  struct conn *c = arg;
  struct kith_inbox_result res;
  (void)eid;
  int rc = kith_inbox_take(c->r->ib, box, env, len, &res);
  switch (rc) {
  case 0:
    c->rel->envelopes++;
    c->rel->records += res.records;
    c->rel->changed += res.changed;
    return 0;
  case KITH_ENOTFOUND: /* maybe a device I learn of later: leave it */
    c->rel->unknown++;
    return 1;
  case KITH_EBADMSG:
  case KITH_EPROTO:
  case KITH_EREFUSED:
  case KITH_EFUTURE: /* never going to apply: deleted */
    c->rel->rejected++;
    why_set(c->rel->why, sizeof c->rel->why, "%s%s",
            "an envelope was refused: ", kith_inbox_why(c->r->ib));
    return rc == KITH_EFUTURE ? 1 : 0; /* a clock fixed later may take it */
  default:
    why_set(c->rel->why, sizeof c->rel->why, "%s%s",
            "cannot apply mail: ", kith_inbox_why(c->r->ib));
    return rc;
  }
}

/* ---- depositing ---------------------------------------------------------------- */

static int next_put(void *arg, struct kith_relayc_put *out)
{
  struct conn *c = arg;
  int slot = -1;
  for (int i = 0; i < INFLIGHT; i++)
    if (!c->fly[i].env) {
      slot = i;
      break;
    }
  if (slot < 0)
    return 0; /* can't happen: the session keeps to INFLIGHT */
  while (c->cur < c->ndeps) {
    struct dep *d = &c->deps[c->cur];
    uint8_t *env = NULL;
    size_t len = 0;
    uint64_t n = 0;
    if (d->exhausted || d->bad_min) { /* after a refusal: the rest next time */
      c->cur++;
      continue;
    }
    int rc = kith_poster_next(d->p, &env, &len, &n);
    if (rc) {
      struct relayer_target *t = &c->r->rep.target[d->target];
      why_set(t->why, sizeof t->why, "%s%s", "", kith_poster_why(d->p));
      d->exhausted = true;
      continue;
    }
    if (!env) {
      d->exhausted = true;
      c->cur++;
      continue;
    }
    if (!d->first)
      d->first = n;
    d->last = n;
    d->records = kith_poster_stats(d->p)->records;
    c->fly[slot].env = env;
    c->fly[slot].tag = (uint64_t)c->cur << 40 | n;
    out->tag = c->fly[slot].tag;
    memcpy(out->owner, kith_poster_owner(d->p), KITH_RELAY_KEY_LEN);
    memcpy(out->box, kith_poster_box(d->p), KITH_BOX_LEN);
    out->env = env;
    out->len = len;
    return 1;
  }
  return 0;
}

static void put_done(void *arg, uint64_t tag, int rc, uint32_t code, const char *text)
{
  struct conn *c = arg;
  for (int i = 0; i < INFLIGHT; i++)
    if (c->fly[i].env && c->fly[i].tag == tag) {
      free(c->fly[i].env);
      c->fly[i].env = NULL;
    }
  struct dep *d = &c->deps[tag >> 40];
  uint64_t n = tag & ((1ull << 40) - 1);
  if (rc == 0) {
    c->rel->deposited++;
    if (n > d->ok_max)
      d->ok_max = n;
    return;
  }
  c->rel->refused++;
  if (!d->bad_min || n < d->bad_min)
    d->bad_min = n;
  if (!c->rel->refusal[0])
    snprintf(c->rel->refusal, sizeof c->rel->refusal, "%s",
             text && *text ? text : kith_rmsg_err_text(code));
}

static const struct kith_relayc_ops fetch_ops = {.mail = on_mail};
static const struct kith_relayc_ops put_ops = {.next_put = next_put,
                                               .put_done = put_done};

/* ---- the round ------------------------------------------------------------------ */

static void finish(struct relayer *r);
static int deposit_phase(struct relayer *r);

static void conn_done(void *arg, int result)
{
  struct conn *c = arg;
  int err = kith_relayc_error(c->c);
  if (!err && result)
    err = result;
  if (c->fetch) {
    c->rel->fetch_err = err;
    c->rel->fetched = err == 0;
  } else {
    c->rel->deposit_err = err;
  }
  if (err && !c->rel->why[0]) {
    const char *w = kith_relayc_why(c->c);
    snprintf(c->rel->why, sizeof c->rel->why, "%s", w && *w ? w : kith_strerror(err));
  }
  for (int i = 0; i < INFLIGHT; i++) { /* never answered: not delivered */
    free(c->fly[i].env);
    c->fly[i].env = NULL;
  }
  c->running = false;
  struct relayer *r = c->r;
  if (--r->pending == 0) {
    if (r->phase == 1) {
      (void)deposit_phase(r); /* an error is in the report */
      if (r->pending)
        return; /* the deposits' connections finish the round */
    }
    finish(r);
  }
}

static int conn_start(struct relayer *r, struct conn *c, bool fetch)
{
  struct sockaddr_storage ss;
  struct kith_relayc_config cfg = {0};
  c->r = r;
  c->fetch = fetch;
  if (kith_net_parse_addr(c->rel->addr, &ss) != 0) {
    snprintf(c->rel->why, sizeof c->rel->why, "not an address (HOST:PORT)");
    if (fetch)
      c->rel->fetch_err = KITH_EINVAL;
    else
      c->rel->deposit_err = KITH_EINVAL;
    return 0;
  }
  cfg.static_sk = fetch ? r->xsk : NULL;
  cfg.fetch = fetch;
  cfg.ops = fetch ? &fetch_ops : &put_ops;
  cfg.arg = c;
  int rc = kith_relayc_new(&cfg, &c->c);
  struct kith_net_limits lim = relayer_limits();
  if (rc == 0)
    rc = kith_net_connect(r->loop, (struct sockaddr *)&ss, &lim, &kith_relayc_vt, c->c,
                          conn_done, c);
  if (rc) {
    kith_relayc_free(c->c);
    c->c = NULL;
    return rc;
  }
  c->running = true;
  r->pending++;
  return 0;
}

static int fetch_phase(struct relayer *r)
{
  struct kith_relay_list mine;
  kith_txn *txn = NULL;
  uint8_t sk[64];
  int rc = kith_txn_begin(r->cli->st, false, &txn);
  if (rc == 0)
    rc = kith_relays_mine(txn, &mine);
  if (rc == 0)
    rc = kith_txn_secret_key(txn, sk);
  kith_txn_abort(txn);
  if (rc == 0 && crypto_sign_ed25519_sk_to_curve25519(r->xsk, sk) != 0)
    rc = KITH_EINVAL;
  sodium_memzero(sk, sizeof sk);
  if (rc == 0)
    rc = kith_inbox_new(r->cli->st, cli_now_ms, &r->ib);
  if (rc)
    return rc;
  if (r->only) {
    mine.n = 1;
    snprintf(mine.addr[0], sizeof mine.addr[0], "%s", r->only);
  }
  r->phase = 1;
  for (size_t i = 0; rc == 0 && i < mine.n; i++) {
    struct conn *c = &r->conns[r->nconns++];
    c->rel = relay_of(r, mine.addr[i]);
    rc = conn_start(r, c, true);
  }
  return rc;
}

/* Posters for every (target, relay) pair, made before any is sent, so each relay
 * gets the same posts; then one deposit connection per relay. */
static int deposit_phase(struct relayer *r)
{
  kith_txn *txn = NULL;
  struct kith_relay_list *lists = calloc(r->rep.ntargets, sizeof *lists);
  int rc = lists ? kith_txn_begin(r->cli->st, false, &txn) : KITH_ENOMEM;
  r->phase = 2;
  for (size_t i = 0; rc == 0 && i < r->rep.ntargets; i++) {
    if (r->only) {
      lists[i].n = 1;
      snprintf(lists[i].addr[0], sizeof lists[i].addr[0], "%s", r->only);
    } else {
      rc = kith_relays_of(txn, r->targets[i].pk, &lists[i]);
    }
  }
  kith_txn_abort(txn);
  size_t first = r->nconns;
  for (size_t i = 0; rc == 0 && i < r->rep.ntargets; i++) {
    for (size_t k = 0; rc == 0 && k < lists[i].n; k++) {
      struct relayer_relay *rel = relay_of(r, lists[i].addr[k]);
      struct conn *c = NULL;
      if (!rel)
        continue;
      for (size_t j = first; j < r->nconns; j++)
        if (r->conns[j].rel == rel)
          c = &r->conns[j];
      if (!c) {
        if (r->nconns == RELAYER_RELAYS_MAX)
          continue;
        c = &r->conns[r->nconns++];
        memset(c, 0, sizeof *c);
        c->rel = rel;
        c->deps = calloc(r->rep.ntargets, sizeof *c->deps);
        if (!c->deps) {
          rc = KITH_ENOMEM;
          break;
        }
      }
      struct dep *d = &c->deps[c->ndeps];
      d->target = i;
      rc = kith_poster_new(r->cli->st, r->targets[i].pk, KITH_POST_RELAY, cli_now_ms(),
                           &d->p);
      if (rc == KITH_EREFUSED) { /* no longer trusted: nothing to post */
        rc = 0;
        continue;
      }
      if (rc == 0)
        c->ndeps++;
      r->rep.target[i].relays++;
    }
  }
  free(lists);
  for (size_t j = first; rc == 0 && j < r->nconns; j++)
    if (r->conns[j].ndeps)
      rc = conn_start(r, &r->conns[j], false);
  if (rc && !r->rep.error) {
    r->rep.error = rc;
    snprintf(r->rep.why, sizeof r->rep.why, "cannot prepare the posts: %s",
             kith_strerror(rc));
  }
  return rc;
}

/* Records, per target, what the best relay took. */
static void commit_posts(struct relayer *r)
{
  for (size_t i = 0; i < r->rep.ntargets; i++) {
    struct dep *best = NULL;
    uint64_t best_upto = 0;
    struct relayer_target *t = &r->rep.target[i];
    for (size_t j = 0; j < r->nconns; j++) {
      struct conn *c = &r->conns[j];
      for (size_t k = 0; k < c->ndeps; k++) {
        struct dep *d = &c->deps[k];
        if (d->target != i)
          continue;
        /* it took all: every envelope made (maybe none), none refused */
        t->relays_ok += d->exhausted && !d->bad_min && d->ok_max == d->last &&
                        c->rel->deposit_err == 0;
        if (!d->first)
          continue;
        uint64_t upto = d->bad_min ? d->bad_min - 1 : d->ok_max;
        if (upto > d->ok_max)
          upto = d->ok_max;
        if (upto >= d->first && upto > best_upto)
          best = d, best_upto = upto;
      }
    }
    if (!best)
      continue;
    int rc = kith_poster_commit(best->p, best_upto);
    if (rc) {
      why_set(t->why, sizeof t->why, "%s%s", "", kith_poster_why(best->p));
      continue;
    }
    t->envelopes = best_upto - best->first + 1;
    t->records = best->records;
  }
}

static void finish(struct relayer *r)
{
  commit_posts(r);
  r->done(r->arg, &r->rep);
  for (size_t j = 0; j < r->nconns; j++) {
    struct conn *c = &r->conns[j];
    for (size_t k = 0; k < c->ndeps; k++)
      kith_poster_free(c->deps[k].p);
    free(c->deps);
    kith_relayc_free(c->c);
  }
  kith_inbox_free(r->ib);
  sodium_memzero(r->xsk, sizeof r->xsk);
  free(r->rep.target);
  free(r);
}

int relayer_start(struct cli *cli, uv_loop_t *loop, const char *only,
                  const struct kith_remote *targets, size_t n,
                  void (*done)(void *arg, const struct relayer_report *r), void *arg)
{
  struct relayer *r = calloc(1, sizeof *r);
  if (!r || !(r->rep.target = calloc(n ? n : 1, sizeof *r->rep.target))) {
    free(r);
    return KITH_ENOMEM;
  }
  r->cli = cli, r->loop = loop, r->only = only, r->targets = targets;
  r->done = done, r->arg = arg;
  r->rep.ntargets = n;
  for (size_t i = 0; i < n; i++)
    r->rep.target[i].t = &targets[i];
  int rc = fetch_phase(r);
  if (rc == 0 && r->pending == 0) /* no relay to fetch from */
    rc = deposit_phase(r);
  if (rc) {
    for (size_t j = 0; j < r->nconns; j++)
      if (r->conns[j].running)
        return 0; /* they finish; the report carries the error */
    r->rep.error = r->rep.error ? r->rep.error : rc;
  }
  if (r->pending == 0) {
    if (rc && !r->rep.why[0])
      snprintf(r->rep.why, sizeof r->rep.why, "%s", kith_strerror(rc));
    finish(r); /* nothing to wait for: the report now */
  }
  return 0; /* the round frees itself when done */
}
