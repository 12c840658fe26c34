/*
 * relay.c — the relay server of relay.h: a net/conn server of relayd sessions, a
 * uv_prepare that wakes connections and starts commits, a uv_idle that keeps the
 * loop from sleeping while a wake is owed, a timer, and one uv_work_t for the
 * commit in flight.
 */
#include "net/relay.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

struct kith_relay {
  uv_loop_t *loop;
  kith_mailbox *mb;
  kith_relayd_ctx *ctx;
  kith_net_server *srv;
  uv_prepare_t prep;
  uv_idle_t idle;
  uv_timer_t tick;
  uv_work_t work;
  struct kith_relayd_batch *batch; /* the commit in flight, or NULL */
  struct kith_relay_config cfg;
  uint8_t pk[32];
  uint64_t next_sweep;
  bool sweep_due, idling, stopping, srv_stopped;
  int handles; /* open among prep, idle, tick */
  void (*done)(void *arg);
  void *done_arg;
};

void kith_relay_config_default(struct kith_relay_config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  cfg->mailbox = kith_mailbox_limits_default();
  cfg->net = kith_net_limits_default();
  cfg->net.max_conns = KITH_RELAY_MAX_CONNS_DEFAULT;
  cfg->net.max_write_bytes = KITH_RELAY_WRITE_DEFAULT;
  cfg->net.idle_ms = KITH_RELAY_IDLE_MS_DEFAULT;
  cfg->relayd = kith_relayd_limits_default(KITH_RELAY_MAX_CONNS_DEFAULT);
  cfg->tick_ms = KITH_RELAY_TICK_MS_DEFAULT;
  cfg->sweep_ms = KITH_RELAY_SWEEP_MS_DEFAULT;
  cfg->sweep_max = KITH_RELAY_SWEEP_MAX_DEFAULT;
}

static void set_now(kith_relay *r)
{
  kith_relayd_set_now(r->ctx, uv_now(r->loop), (uint64_t)time(NULL));
}

/* ---- the factory --------------------------------------------------------------- */

static int new_session(void *arg, const struct sockaddr *peer,
                       const struct kith_session_vt **vt, void **session)
{
  kith_relay *r = arg;
  kith_relayd *s = NULL;
  set_now(r);
  int rc = kith_relayd_new(r->ctx, peer, &s);
  if (rc)
    return rc;
  *vt = &kith_relayd_vt;
  *session = s;
  return 0;
}

static void free_session(void *arg, void *session)
{
  (void)arg;
  kith_relayd_free(session);
}

static size_t room(void *arg, void *session)
{
  (void)arg;
  return kith_relayd_room(session);
}

/* ---- commits --------------------------------------------------------------------- */

static void finish_stop(kith_relay *r);
static void maybe_commit(kith_relay *r);

static void on_work(uv_work_t *w)
{
  kith_relay *r = container_of(w, kith_relay, work);
  kith_relayd_batch_run(r->batch, r->mb);
}

static void after_work(uv_work_t *w, int status)
{
  kith_relay *r = container_of(w, kith_relay, work);
  (void)status; /* never cancelled: the batch ran */
  struct kith_relayd_batch *b = r->batch;
  r->batch = NULL;
  set_now(r);
  int rc = kith_relayd_batch_done(r->ctx, b, NULL);
  if (rc && r->cfg.on_error)
    r->cfg.on_error(r->cfg.arg, rc,
                    rc == KITH_EFULL
                        ? "the store is full: deposits are refused (busy)"
                        : "a commit failed: its requests were refused (busy)");
  if (r->stopping) {
    finish_stop(r);
    return;
  }
  (void)kith_relayd_take_wake(r->ctx);
  kith_net_server_wake(r->srv); /* answers are waiting to go out */
  maybe_commit(r);
}

static void maybe_commit(kith_relay *r)
{
  if (r->batch || r->stopping)
    return;
  struct kith_relayd_batch *b = NULL;
  set_now(r);
  int rc = kith_relayd_batch_take(r->ctx, r->sweep_due ? r->cfg.sweep_max : 0, &b);
  if (rc || !b)
    return; /* nothing to do, or no memory: the next iteration tries again */
  r->sweep_due = false;
  r->batch = b;
  rc = uv_queue_work(r->loop, &r->work, on_work, after_work);
  if (rc) { /* never with a valid loop: answer busy rather than hang */
    r->batch = NULL;
    kith_relayd_batch_run(b, r->mb);
    (void)kith_relayd_batch_done(r->ctx, b, NULL);
  }
}

/* ---- the loop's hooks --------------------------------------------------------------
 */

static void on_idle(uv_idle_t *h)
{
  (void)h; /* only keeps the loop from blocking while a wake is owed */
}

static void on_prepare(uv_prepare_t *h)
{
  kith_relay *r = container_of(h, kith_relay, prep);
  if (r->stopping)
    return;
  set_now(r);
  /* A wake can owe another (one side of a rendezvous drains, the other may read
   * again): a few rounds here, and if one is still owed the idle handle keeps the
   * loop from blocking until the next iteration. */
  for (int i = 0; i < 4 && kith_relayd_take_wake(r->ctx); i++)
    kith_net_server_wake(r->srv);
  maybe_commit(r);
  bool owed = kith_relayd_take_wake(r->ctx);
  if (owed) /* put it back for the next iteration */
    kith_net_server_wake(r->srv);
  if (owed && !r->idling)
    uv_idle_start(&r->idle, on_idle);
  else if (!owed && r->idling)
    uv_idle_stop(&r->idle);
  r->idling = owed;
}

static void on_tick(uv_timer_t *t)
{
  kith_relay *r = container_of(t, kith_relay, tick);
  set_now(r);
  kith_relayd_tick(r->ctx);
  uint64_t now = uv_now(r->loop);
  if (now >= r->next_sweep) {
    r->sweep_due = true;
    r->next_sweep = now + r->cfg.sweep_ms;
  }
  /* the prepare hook that follows does the wake and the commit */
}

/* ---- start and stop
 * ------------------------------------------------------------------ */

static void on_handle_closed(uv_handle_t *h)
{
  kith_relay *r = h->data;
  if (--r->handles > 0)
    return;
  void (*done)(void *) = r->done;
  void *arg = r->done_arg;
  kith_relayd_ctx_free(r->ctx);
  kith_mailbox_close(r->mb);
  free(r);
  if (done)
    done(arg);
}

/* Once the server is gone and no commit runs: close the hooks, then free. */
static void finish_stop(kith_relay *r)
{
  if (!r->srv_stopped || r->batch || r->handles == 0)
    return;
  uv_close((uv_handle_t *)&r->prep, on_handle_closed);
  uv_close((uv_handle_t *)&r->idle, on_handle_closed);
  uv_close((uv_handle_t *)&r->tick, on_handle_closed);
}

static void on_server_stopped(void *arg)
{
  kith_relay *r = arg;
  r->srv = NULL;
  r->srv_stopped = true;
  finish_stop(r);
}

int kith_relay_start(uv_loop_t *loop, const struct sockaddr *addr,
                     const struct kith_relay_config *cfg, kith_relay **out)
{
  static const struct kith_net_factory_ex factory = {new_session, free_session, room};
  if (!out)
    return KITH_EINVAL;
  *out = NULL;
  if (!loop || !addr || !cfg || !cfg->dir || cfg->tick_ms < 1 || cfg->sweep_ms < 1)
    return KITH_EINVAL;
  kith_relay *r = calloc(1, sizeof *r);
  if (!r)
    return KITH_ENOMEM;
  r->loop = loop;
  r->cfg = *cfg;
  r->cfg.dir = NULL;
  r->cfg.relayd.max_conns = (uint32_t)cfg->net.max_conns;
  if (cfg->net.max_conns < 1 || cfg->net.max_conns > UINT32_MAX) {
    free(r);
    return KITH_EINVAL;
  }
  uint8_t sk[32];
  int rc = kith_mailbox_open(cfg->dir, &cfg->mailbox, &r->mb);
  if (rc == 0) {
    kith_mailbox_key(r->mb, sk, r->pk);
    sodium_memzero(sk, sizeof sk);
    rc = kith_relayd_ctx_new(r->mb, &r->cfg.relayd, &r->ctx);
  }
  if (rc == 0) {
    set_now(r);
    rc = kith_net_server_start_ex(loop, addr, &cfg->net, &factory, r, &r->srv);
  }
  if (rc) {
    kith_relayd_ctx_free(r->ctx);
    kith_mailbox_close(r->mb);
    free(r);
    return rc;
  }
  uv_prepare_init(loop, &r->prep); /* these three can't fail */
  uv_idle_init(loop, &r->idle);
  uv_timer_init(loop, &r->tick);
  r->prep.data = r->idle.data = r->tick.data = r;
  r->handles = 3;
  uv_prepare_start(&r->prep, on_prepare);
  uv_timer_start(&r->tick, on_tick, cfg->tick_ms, cfg->tick_ms);
  r->next_sweep = uv_now(loop); /* the first tick sweeps what expired while down */
  *out = r;
  return 0;
}

uint16_t kith_relay_port(const kith_relay *r)
{
  return kith_net_server_port(r->srv);
}

void kith_relay_public_key(const kith_relay *r, uint8_t pk[static 32])
{
  memcpy(pk, r->pk, 32);
}

void kith_relay_stats(const kith_relay *r, struct kith_relayd_stats *out)
{
  kith_relayd_stats(r->ctx, out);
}

void kith_relay_stop(kith_relay *r, void (*done)(void *arg), void *arg)
{
  if (!r)
    return;
  r->stopping = true;
  r->done = done;
  r->done_arg = arg;
  uv_timer_stop(&r->tick);
  uv_idle_stop(&r->idle);
  kith_net_server_stop(r->srv, on_server_stopped);
}
