/*
 * test_relay.c — net/relay.h and core/relayd.h: the real relay server on
 * 127.0.0.1 (port 0) in this process, driven by scripted clients
 * (tests/relay_client.h) over TCP: deposits acknowledged and fetched back by their
 * owner only, deletes, a box of another owner, an envelope too big (the connection
 * goes on), box and owner quotas, expiry, the deposit rate and connections per
 * address, a full store, malformed requests, a restart that keeps what was
 * acknowledged, and rendezvous (bytes both ways, a tag used once, a wait that runs
 * out).
 *
 * Every loop run is bounded in time and iterations; each test ends with
 * uv_loop_close() == 0, so a handle left open fails it.
 */
#include "kt_loop.h"

#include <signal.h>
#include <sodium.h>
#include <uv.h>

#include "net/relay.h"
#include "tests/relay_client.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* ---- the relay ------------------------------------------------------------------- */

struct relay {
  kith_relay *r;
  char dir[64];
  struct sockaddr_storage addr; /* where it listens */
  int stopped, errors, last_error;
};

static void on_relay_error(void *arg, int code, const char *what)
{
  struct relay *rl = arg;
  (void)what;
  rl->errors++;
  rl->last_error = code;
}

static void cfg_default(struct kith_relay_config *cfg)
{
  kith_relay_config_default(cfg);
  cfg->tick_ms = 20;
}

static void relay_start(struct kl *l, struct relay *rl, struct kith_relay_config *cfg)
{
  struct sockaddr_storage a;
  assert_rc(kith_net_parse_addr("127.0.0.1:0", &a), 0);
  cfg->dir = rl->dir;
  cfg->on_error = on_relay_error;
  cfg->arg = rl;
  rl->stopped = 0;
  assert_rc(kith_relay_start(&l->loop, (struct sockaddr *)&a, cfg, &rl->r), 0);
  char text[32];
  snprintf(text, sizeof text, "127.0.0.1:%u", (unsigned)kith_relay_port(rl->r));
  assert_rc(kith_net_parse_addr(text, &rl->addr), 0);
}

static void on_relay_stopped(void *arg)
{
  ((struct relay *)arg)->stopped++;
}

static void relay_stop(struct kl *l, struct relay *rl)
{
  kith_relay_stop(rl->r, on_relay_stopped, rl);
  rl->r = NULL;
  kl_run_until(l, rl->stopped == 1, 5000);
}

/* True once the relay has let every connection go and answered every request. */
static bool relay_idle(struct relay *rl)
{
  struct kith_relayd_stats st;
  kith_relay_stats(rl->r, &st);
  return st.sessions == 0 && st.queue_bytes == 0;
}

/* ---- clients --------------------------------------------------------------------- */

struct run {
  struct rcl *c;
  int dones, result;
};

static void on_client_done(void *arg, int result)
{
  struct run *r = arg;
  r->dones++;
  r->result = result;
}

static void client_start(struct kl *l, struct relay *rl, const struct rcl_config *cfg,
                         struct run *run)
{
  memset(run, 0, sizeof *run);
  run->c = rcl_new(cfg);
  assert_non_null(run->c);
  assert_rc(kith_net_connect(&l->loop, (struct sockaddr *)&rl->addr, NULL, &rcl_vt,
                             run->c, on_client_done, run),
            0);
}

/* Runs a client to its end; returns it (the caller frees it with rcl_free). */
static struct rcl *client_run(struct kl *l, struct relay *rl,
                              const struct rcl_config *cfg, int want_result)
{
  struct run run;
  client_start(l, rl, cfg, &run);
  kl_run_until(l, run.dones == 1, 10000);
  if (run.result != want_result)
    print_error("client: step %d, error %d, refused %u (%s)\n", run.c->step,
                run.c->error, run.c->refused, run.c->refused_text);
  assert_rc(run.result, want_result);
  return run.c;
}

/* Deposits: each of size sizes[i] (filled with byte 'a' + i), for owner, in box
 * boxes[i]. */
struct deposits {
  size_t n;
  size_t sizes[64];
  uint8_t boxes[64];
  uint8_t owner[32];
  uint8_t *data[64];
};

static const uint8_t *dep_put(void *arg, size_t i, size_t *len, uint8_t owner[32],
                              uint8_t box[16])
{
  struct deposits *d = arg;
  *len = d->sizes[i];
  memcpy(owner, d->owner, 32);
  memset(box, d->boxes[i], 16);
  return d->data[i];
}

static void dep_init(struct deposits *d, const uint8_t owner[32], size_t n,
                     const size_t *sizes, const uint8_t *boxes)
{
  memset(d, 0, sizeof *d);
  d->n = n;
  memcpy(d->owner, owner, 32);
  for (size_t i = 0; i < n; i++) {
    d->sizes[i] = sizes[i];
    d->boxes[i] = boxes ? boxes[i] : 0xb0;
    d->data[i] = malloc(sizes[i] ? sizes[i] : 1);
    assert_non_null(d->data[i]);
    for (size_t k = 0; k < sizes[i]; k++)
      d->data[i][k] = (uint8_t)('a' + i + k % 7);
  }
}

static void dep_clear(struct deposits *d)
{
  for (size_t i = 0; i < d->n; i++)
    free(d->data[i]);
}

static struct rcl_config dep_cfg(struct deposits *d)
{
  struct rcl_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.puts = d->n;
  cfg.put = dep_put;
  cfg.arg = d;
  return cfg;
}

static struct rcl_config fetch_cfg(const uint8_t sk[32], bool del)
{
  struct rcl_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.sk = sk;
  cfg.fetch = true;
  cfg.del = del;
  cfg.keep_mail = true;
  return cfg;
}

static void keypair(uint8_t sk[32], uint8_t pk[32])
{
  crypto_box_keypair(pk, sk);
}

/* ---- tests ----------------------------------------------------------------------- */

static void test_deposit_fetch_delete(void **state)
{
  (void)state;
  struct kl l;
  struct relay rl;
  struct kith_relay_config cfg;
  uint8_t sk[32], pk[32], other_sk[32], other_pk[32];
  kl_init(&l);
  memset(&rl, 0, sizeof rl);
  kt_tmpdir(rl.dir);
  cfg_default(&cfg);
  relay_start(&l, &rl, &cfg);
  keypair(sk, pk);
  keypair(other_sk, other_pk);

  /* three deposits, one of them several R_DATAs long, pipelined */
  struct deposits d;
  const size_t sizes[] = {100, 150000, 1};
  const uint8_t boxes[] = {1, 2, 1};
  dep_init(&d, pk, 3, sizes, boxes);
  struct rcl_config dc = dep_cfg(&d);
  struct rcl *c = client_run(&l, &rl, &dc, 0);
  assert_true(c->got_info);
  assert_int_equal(c->info.version, KITH_RMSG_VERSION);
  assert_int_equal(c->info.max_envelope, KITH_MAILBOX_MAX_ENVELOPE_DEFAULT);
  assert_int_equal(c->info.ttl_s, KITH_MAILBOX_TTL_DEFAULT);
  assert_int_equal(c->puts_ok, 3);
  uint64_t eids[3];
  for (int i = 0; i < 3; i++) {
    assert_int_equal(c->put_code[i], 0);
    eids[i] = c->put_eid[i];
    assert_true(eids[i] > 0);
    if (i)
      assert_true(eids[i] > eids[i - 1]);
  }
  rcl_free(c);
  struct kith_relayd_stats st;
  kith_relay_stats(rl.r, &st);
  assert_int_equal(st.puts, 3);
  assert_true(st.commits >= 1);

  /* somebody else fetches: nothing of this mailbox */
  struct rcl_config fc = fetch_cfg(other_sk, true);
  c = client_run(&l, &rl, &fc, 0);
  assert_int_equal(c->nmails, 0);
  assert_int_equal(c->fetch_err, 0);
  rcl_free(c);

  /* the owner fetches, in pages smaller than an envelope: all three, in order */
  fc = fetch_cfg(sk, false);
  fc.page = 50;
  c = client_run(&l, &rl, &fc, 0);
  assert_int_equal(c->nmails, 3);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(c->mails[i].eid, eids[i]);
    assert_int_equal(c->mails[i].size, sizes[i]);
    assert_int_equal(c->mails[i].box[0], boxes[i]);
    assert_memory_equal(c->mails[i].data, d.data[i], sizes[i]);
  }
  rcl_free(c);

  /* fetching after the second: the third only */
  fc = fetch_cfg(sk, false);
  fc.fetch_after = eids[1];
  c = client_run(&l, &rl, &fc, 0);
  assert_int_equal(c->nmails, 1);
  assert_int_equal(c->mails[0].eid, eids[2]);
  rcl_free(c);

  /* another key deletes the owner's eids: nothing goes */
  struct kith_rmsg del;
  memset(&del, 0, sizeof del);
  del.type = KITH_RMSG_DEL;
  del.req = RCL_REQ_DEL;
  del.eids = eids;
  del.neids = 3;
  memset(&fc, 0, sizeof fc);
  fc.sk = other_sk;
  fc.first = &del;
  c = client_run(&l, &rl, &fc, 0);
  assert_int_equal(c->del_err, 0);
  assert_int_equal(c->deleted, 0);
  rcl_free(c);
  fc = fetch_cfg(sk, false);
  c = client_run(&l, &rl, &fc, 0);
  assert_int_equal(c->nmails, 3);
  rcl_free(c);

  /* the owner fetches and deletes; then its mailbox is empty */
  fc = fetch_cfg(sk, true);
  c = client_run(&l, &rl, &fc, 0);
  assert_int_equal(c->nmails, 3);
  assert_int_equal(c->deleted, 3);
  rcl_free(c);
  fc = fetch_cfg(sk, true);
  c = client_run(&l, &rl, &fc, 0);
  assert_int_equal(c->nmails, 0);
  rcl_free(c);
  kl_run_until(&l, relay_idle(&rl), 2000);
  kith_relay_stats(rl.r, &st);
  assert_int_equal(st.deleted, 3);

  dep_clear(&d);
  relay_stop(&l, &rl);
  kl_close(&l);
  kt_rmtree(rl.dir);
}

static void test_refusals(void **state)
{
  (void)state;
  struct kl l;
  struct relay rl;
  struct kith_relay_config cfg;
  uint8_t sk[32], pk[32], sk2[32], pk2[32];
  kl_init(&l);
  memset(&rl, 0, sizeof rl);
  kt_tmpdir(rl.dir);
  cfg_default(&cfg);
  cfg.mailbox.max_envelope = 1000;
  cfg.mailbox.box_count = 2;
  cfg.mailbox.owner_bytes = 2500;
  relay_start(&l, &rl, &cfg);
  keypair(sk, pk);
  keypair(sk2, pk2);

  /* too big, then a fitting one on the same connection; a box's third envelope;
   * the owner's third kilobyte... */
  struct deposits d;
  const size_t sizes[] = {1001, 1000, 10, 10, 1000, 1000, 490};
  const uint8_t boxes[] = {1, 1, 1, 1, 2, 3, 4};
  dep_init(&d, pk, 7, sizes, boxes);
  struct rcl_config dc = dep_cfg(&d);
  dc.window = 1; /* one at a time: the quotas see each in order */
  struct rcl *c = client_run(&l, &rl, &dc, 0);
  assert_int_equal(c->info.max_envelope, 1000);
  /* owner: 1000 + 10 + 1000 = 2010; 1000 more is over 2500, 490 fits exactly */
  const uint32_t want[] = {KITH_RERR_TOO_BIG,     0, 0, KITH_RERR_BOX_QUOTA, 0,
                           KITH_RERR_OWNER_QUOTA, 0};
  for (int i = 0; i < 7; i++)
    assert_int_equal(c->put_code[i], want[i]);
  rcl_free(c);
  dep_clear(&d);

  /* box 1 belongs to pk: a deposit naming it for pk2 is refused */
  const size_t one[] = {5};
  const uint8_t box1[] = {1};
  dep_init(&d, pk2, 1, one, box1);
  dc = dep_cfg(&d);
  c = client_run(&l, &rl, &dc, 0);
  assert_int_equal(c->put_code[0], KITH_RERR_NOT_OWNER);
  rcl_free(c);
  dep_clear(&d);

  /* an empty envelope is malformed, answered at once */
  const size_t zero[] = {0};
  dep_init(&d, pk2, 1, zero, box1);
  dc = dep_cfg(&d);
  c = client_run(&l, &rl, &dc, 0);
  assert_int_equal(c->put_code[0], KITH_RERR_MALFORMED);
  rcl_free(c);
  dep_clear(&d);

  relay_stop(&l, &rl);
  kl_close(&l);
  kt_rmtree(rl.dir);
}

static void test_malformed(void **state)
{
  (void)state;
  struct kl l;
  struct relay rl;
  struct kith_relay_config cfg;
  kl_init(&l);
  memset(&rl, 0, sizeof rl);
  kt_tmpdir(rl.dir);
  cfg_default(&cfg);
  relay_start(&l, &rl, &cfg);

  /* R_DATA with no deposit, R_INFO from a client: REFUSE 8, connection closed */
  struct kith_rmsg m;
  memset(&m, 0, sizeof m);
  m.type = KITH_RMSG_DATA;
  m.chunk = (const uint8_t *)"x";
  m.chunk_len = 1;
  struct rcl_config rc;
  memset(&rc, 0, sizeof rc);
  rc.first = &m;
  rc.wait_close = true;
  struct rcl *c = client_run(&l, &rl, &rc, KITH_EREFUSED);
  assert_int_equal(c->refused, KITH_REFUSE_PROTOCOL);
  rcl_free(c);
  memset(&m, 0, sizeof m);
  m.type = KITH_RMSG_INFO;
  c = client_run(&l, &rl, &rc, KITH_EREFUSED);
  assert_int_equal(c->refused, KITH_REFUSE_PROTOCOL);
  rcl_free(c);

  /* the relay still serves everyone else */
  uint8_t sk[32], pk[32];
  keypair(sk, pk);
  struct deposits d;
  const size_t sizes[] = {10};
  dep_init(&d, pk, 1, sizes, NULL);
  struct rcl_config dc = dep_cfg(&d);
  c = client_run(&l, &rl, &dc, 0);
  assert_int_equal(c->puts_ok, 1);
  rcl_free(c);
  dep_clear(&d);

  kl_run_until(&l, relay_idle(&rl), 2000);
  relay_stop(&l, &rl);
  kl_close(&l);
  kt_rmtree(rl.dir);
}

/* Garbage instead of a preamble: closed without a byte; others unaffected. */
struct raw {
  uv_tcp_t tcp;
  uv_connect_t creq;
  uv_write_t wreq;
  int connected;
  bool ended, closed;
  size_t got;
};

static void raw_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
  static char b[4096];
  (void)h, (void)hint;
  *buf = uv_buf_init(b, sizeof b);
}

static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  struct raw *r = container_of(s, struct raw, tcp);
  (void)buf;
  if (n < 0) {
    r->ended = true;
    uv_read_stop(s);
  } else {
    r->got += (size_t)n;
  }
}

static void raw_connected(uv_connect_t *req, int status)
{
  struct raw *r = container_of(req, struct raw, creq);
  r->connected = status == 0 ? 1 : -1;
}

static void raw_connect(struct kl *l, struct raw *r, struct relay *rl)
{
  memset(r, 0, sizeof *r);
  assert_int_equal(uv_tcp_init(&l->loop, &r->tcp), 0);
  assert_int_equal(
      uv_tcp_connect(&r->creq, &r->tcp, (struct sockaddr *)&rl->addr, raw_connected),
      0);
  kl_run_until(l, r->connected != 0, 2000);
  assert_int_equal(r->connected, 1);
  assert_int_equal(uv_read_start((uv_stream_t *)&r->tcp, raw_alloc, raw_read), 0);
}

static void raw_closed(uv_handle_t *h)
{
  container_of(h, struct raw, tcp)->closed = true;
}

static void raw_close(struct kl *l, struct raw *r)
{
  uv_close((uv_handle_t *)&r->tcp, raw_closed);
  kl_run_until(l, r->closed, 2000);
}

static void test_garbage_and_per_address(void **state)
{
  (void)state;
  struct kl l;
  struct relay rl;
  struct kith_relay_config cfg;
  struct raw a, b;
  kl_init(&l);
  memset(&rl, 0, sizeof rl);
  kt_tmpdir(rl.dir);
  cfg_default(&cfg);
  cfg.relayd.per_address = 2;
  relay_start(&l, &rl, &cfg);

  raw_connect(&l, &a, &rl);
  static char junk[] = "SSH-2.0-OpenSSH_9.2\r\n";
  uv_buf_t jb = uv_buf_init(junk, sizeof junk - 1);
  assert_int_equal(uv_write(&a.wreq, (uv_stream_t *)&a.tcp, &jb, 1, NULL), 0);
  kl_run_until(&l, a.ended, 2000);
  assert_int_equal(a.got, 0); /* not a byte to a stranger */
  raw_close(&l, &a);

  /* two idle connections from 127.0.0.1: a third is closed at once */
  raw_connect(&l, &a, &rl);
  raw_connect(&l, &b, &rl);
  struct rcl_config rc;
  memset(&rc, 0, sizeof rc);
  struct rcl *c = client_run(&l, &rl, &rc, KITH_ECLOSED);
  assert_false(c->got_info);
  rcl_free(c);
  raw_close(&l, &a);
  kl_run_for(&l, 50); /* the relay sees it go */
  c = client_run(&l, &rl, &rc, 0);
  assert_true(c->got_info);
  rcl_free(c);
  raw_close(&l, &b);

  relay_stop(&l, &rl);
  kl_close(&l);
  kt_rmtree(rl.dir);
}

static void test_rate_limit(void **state)
{
  (void)state;
  struct kl l;
  struct relay rl;
  struct kith_relay_config cfg;
  uint8_t sk[32], pk[32];
  kl_init(&l);
  memset(&rl, 0, sizeof rl);
  kt_tmpdir(rl.dir);
  cfg_default(&cfg);
  cfg.relayd.rate = 2; /* 2 a second, a bucket of 2 */
  cfg.relayd.burst_s = 1;
  relay_start(&l, &rl, &cfg);
  keypair(sk, pk);

  struct deposits d;
  const size_t sizes[] = {10, 10, 10, 10, 10, 10};
  const uint8_t boxes[] = {1, 2, 3, 4, 5, 6};
  dep_init(&d, pk, 6, sizes, boxes);
  struct rcl_config dc = dep_cfg(&d);
  struct rcl *c = client_run(&l, &rl, &dc, 0);
  assert_int_equal(c->put_code[0], 0);
  assert_int_equal(c->put_code[1], 0);
  size_t limited = 0;
  for (int i = 2; i < 6; i++) {
    if (c->put_code[i] == KITH_RERR_RATE)
      limited++;
    else
      assert_int_equal(c->put_code[i], 0); /* refilled meanwhile (a slow machine) */
  }
  assert_true(limited >= 1);
  rcl_free(c);

  /* the bucket refills: after a second, two more go through */
  kl_run_for(&l, 1100);
  dc.puts = 2;
  c = client_run(&l, &rl, &dc, 0);
  assert_int_equal(c->put_code[0], 0);
  assert_int_equal(c->put_code[1], 0);
  rcl_free(c);
  dep_clear(&d);

  relay_stop(&l, &rl);
  kl_close(&l);
  kt_rmtree(rl.dir);
}

static void test_expiry(void **state)
{
  (void)state;
  struct kl l;
  struct relay rl;
  struct kith_relay_config cfg;
  uint8_t sk[32], pk[32];
  kl_init(&l);
  memset(&rl, 0, sizeof rl);
  kt_tmpdir(rl.dir);
  cfg_default(&cfg);
  cfg.mailbox.ttl_s = 1;
  cfg.sweep_ms = 100;
  relay_start(&l, &rl, &cfg);
  keypair(sk, pk);

  struct deposits d;
  const size_t sizes[] = {10, 20};
  dep_init(&d, pk, 2, sizes, NULL);
  struct rcl_config dc = dep_cfg(&d);
  struct rcl *c = client_run(&l, &rl, &dc, 0);
  assert_int_equal(c->puts_ok, 2);
  assert_int_equal(c->info.ttl_s, 1);
  rcl_free(c);

  /* at most 2 s later they have expired, and a sweep took them */
  struct kith_relayd_stats st;
  kl_run_for(&l, 2300);
  kith_relay_stats(rl.r, &st);
  assert_int_equal(st.swept, 2);
  struct rcl_config fc = fetch_cfg(sk, false);
  c = client_run(&l, &rl, &fc, 0);
  assert_int_equal(c->nmails, 0);
  rcl_free(c);
  dep_clear(&d);

  relay_stop(&l, &rl);
  kl_close(&l);
  kt_rmtree(rl.dir);
}

static void test_restart_keeps(void **state)
{
  (void)state;
  struct kl l;
  struct relay rl;
  struct kith_relay_config cfg;
  uint8_t sk[32], pk[32], key1[32], key2[32];
  kl_init(&l);
  memset(&rl, 0, sizeof rl);
  kt_tmpdir(rl.dir);
  cfg_default(&cfg);
  relay_start(&l, &rl, &cfg);
  kith_relay_public_key(rl.r, key1);
  keypair(sk, pk);

  struct deposits d;
  const size_t sizes[] = {1000, 70000};
  dep_init(&d, pk, 2, sizes, NULL);
  struct rcl_config dc = dep_cfg(&d);
  struct rcl *c = client_run(&l, &rl, &dc, 0);
  assert_int_equal(c->puts_ok, 2);
  assert_memory_equal(c->relay_pk, key1, 32);
  uint64_t eid1 = c->put_eid[1];
  rcl_free(c);
  relay_stop(&l, &rl);

  cfg_default(&cfg);
  relay_start(&l, &rl, &cfg);
  kith_relay_public_key(rl.r, key2);
  assert_memory_equal(key1, key2, 32); /* the same relay */
  struct rcl_config fc = fetch_cfg(sk, true);
  c = client_run(&l, &rl, &fc, 0);
  assert_int_equal(c->nmails, 2);
  assert_memory_equal(c->mails[1].data, d.data[1], sizes[1]);
  assert_int_equal(c->mails[1].eid, eid1);
  rcl_free(c);
  /* eids go on after a restart */
  dc.puts = 1;
  c = client_run(&l, &rl, &dc, 0);
  assert_true(c->put_eid[0] > eid1);
  rcl_free(c);
  dep_clear(&d);

  relay_stop(&l, &rl);
  kl_close(&l);
  kt_rmtree(rl.dir);
}

static void test_full_store(void **state)
{
  (void)state;
  struct kl l;
  struct relay rl;
  struct kith_relay_config cfg;
  uint8_t sk[32], pk[32];
  kl_init(&l);
  memset(&rl, 0, sizeof rl);
  kt_tmpdir(rl.dir);
  cfg_default(&cfg);
  cfg.mailbox.map_size = 1 << 20;
  relay_start(&l, &rl, &cfg);
  keypair(sk, pk);

  struct deposits d;
  size_t sizes[40];
  uint8_t boxes[40];
  for (int i = 0; i < 40; i++)
    sizes[i] = 60000, boxes[i] = (uint8_t)i;
  dep_init(&d, pk, 40, sizes, boxes);
  struct rcl_config dc = dep_cfg(&d);
  dc.window = 1;
  struct rcl *c = client_run(&l, &rl, &dc, 0);
  size_t ok = 0, busy = 0;
  for (int i = 0; i < 40; i++) {
    if (c->put_code[i] == 0)
      assert_int_equal(busy, 0), ok++; /* all before the first busy */
    else
      assert_int_equal(c->put_code[i], KITH_RERR_BUSY), busy++;
  }
  assert_true(ok > 2);
  assert_true(busy > 0);
  assert_true(rl.errors > 0);
  assert_rc(rl.last_error, KITH_EFULL);
  rcl_free(c);

  /* what was acknowledged is there, and deleting it makes room again */
  struct rcl_config fc = fetch_cfg(sk, true);
  c = client_run(&l, &rl, &fc, 0);
  assert_int_equal(c->nmails, ok);
  assert_int_equal(c->deleted, ok);
  rcl_free(c);
  /* LMDB reuses the pages a transaction freed only after one more commit (it keeps
   * the last two snapshots): the first deposit may still be busy, not the second */
  dc.puts = 2;
  c = client_run(&l, &rl, &dc, 0);
  assert_int_equal(c->put_code[1], 0);
  rcl_free(c);
  dep_clear(&d);

  relay_stop(&l, &rl);
  kl_close(&l);
  kt_rmtree(rl.dir);
}

static void test_rendezvous(void **state)
{
  (void)state;
  struct kl l;
  struct relay rl;
  struct kith_relay_config cfg;
  kl_init(&l);
  memset(&rl, 0, sizeof rl);
  kt_tmpdir(rl.dir);
  cfg_default(&cfg);
  cfg.relayd.keepalive_ms = 40;
  relay_start(&l, &rl, &cfg);

  /* 200 KB each way: more than the pipe holds, so both sides push back */
  size_t n = 200 * 1000;
  uint8_t *from_w = malloc(n), *from_j = malloc(n);
  assert_non_null(from_w);
  assert_non_null(from_j);
  randombytes_buf(from_w, n);
  randombytes_buf(from_j, n);

  struct rcl_config wc, jc;
  memset(&wc, 0, sizeof wc);
  wc.wait = true;
  memset(wc.tag, 0x77, 16);
  wc.raw_out = from_w, wc.raw_out_len = n, wc.raw_expect = n;
  jc = wc;
  jc.wait = false, jc.join = true;
  jc.raw_out = from_j;

  struct run w, j;
  client_start(&l, &rl, &wc, &w);
  kl_run_until(&l, w.c->keepalives >= 2, 5000); /* it waits: keepalives come */
  client_start(&l, &rl, &jc, &j);
  kl_run_until(&l, w.dones == 1 && j.dones == 1, 10000);
  assert_rc(w.result, 0);
  assert_rc(j.result, 0);
  assert_int_equal(w.c->raw_in_len, n);
  assert_int_equal(j.c->raw_in_len, n);
  assert_memory_equal(w.c->raw_in, from_j, n);
  assert_memory_equal(j.c->raw_in, from_w, n);
  rcl_free(w.c);
  rcl_free(j.c);

  /* the tag is spent: another join, or a wait under it, is refused (8) */
  struct rcl *c = client_run(&l, &rl, &jc, KITH_EREFUSED);
  assert_int_equal(c->rv_err, KITH_RERR_NO_RENDEZVOUS);
  rcl_free(c);
  c = client_run(&l, &rl, &wc, KITH_EREFUSED);
  assert_int_equal(c->rv_err, KITH_RERR_NO_RENDEZVOUS);
  rcl_free(c);
  /* nobody waits under another tag */
  memset(jc.tag, 0x78, 16);
  c = client_run(&l, &rl, &jc, KITH_EREFUSED);
  assert_int_equal(c->rv_err, KITH_RERR_NO_RENDEZVOUS);
  rcl_free(c);

  struct kith_relayd_stats st;
  kl_run_until(&l, relay_idle(&rl), 2000);
  kith_relay_stats(rl.r, &st);
  assert_int_equal(st.joins, 1);
  free(from_w);
  free(from_j);
  relay_stop(&l, &rl);
  kl_close(&l);
  kt_rmtree(rl.dir);
}

static void test_rendezvous_ends(void **state)
{
  (void)state;
  struct kl l;
  struct relay rl;
  struct kith_relay_config cfg;
  kl_init(&l);
  memset(&rl, 0, sizeof rl);
  kt_tmpdir(rl.dir);
  cfg_default(&cfg);
  cfg.relayd.wait_ms = 300;
  cfg.relayd.waits_per_address = 1;
  relay_start(&l, &rl, &cfg);

  /* a wait runs out: R_ERR 8 */
  struct rcl_config wc;
  memset(&wc, 0, sizeof wc);
  wc.wait = true;
  memset(wc.tag, 0x55, 16);
  struct rcl *c = client_run(&l, &rl, &wc, KITH_EREFUSED);
  assert_int_equal(c->rv_err, KITH_RERR_NO_RENDEZVOUS);
  rcl_free(c);

  /* one wait per address: a second, under another tag, is rate limited */
  struct run w;
  client_start(&l, &rl, &wc, &w);
  kl_run_for(&l, 50);
  memset(wc.tag, 0x56, 16);
  c = client_run(&l, &rl, &wc, KITH_EREFUSED);
  assert_int_equal(c->rv_err, KITH_RERR_RATE);
  rcl_free(c);
  kl_run_until(&l, w.dones == 1, 2000);
  rcl_free(w.c);

  /* a joined side that leaves ends the other once what was in flight is out */
  wc.raw_expect = 5;
  memset(wc.tag, 0x57, 16);
  struct rcl_config jc = wc;
  jc.wait = false, jc.join = true;
  jc.raw_out = (const uint8_t *)"hello", jc.raw_out_len = 5;
  jc.raw_expect = 0; /* DONE as soon as it sent: its end of stream follows */
  struct run j;
  client_start(&l, &rl, &wc, &w);
  kl_run_for(&l, 50);
  client_start(&l, &rl, &jc, &j);
  kl_run_until(&l, w.dones == 1 && j.dones == 1, 5000);
  assert_rc(j.result, 0);
  assert_rc(w.result, 0);
  assert_int_equal(w.c->raw_in_len, 5);
  assert_memory_equal(w.c->raw_in, "hello", 5);
  rcl_free(w.c);
  rcl_free(j.c);

  relay_stop(&l, &rl);
  kl_close(&l);
  kt_rmtree(rl.dir);
}

/* Stopping with deposits in flight: whatever was acknowledged is there after. */
static void test_stop_midway(void **state)
{
  (void)state;
  struct kl l;
  struct relay rl;
  struct kith_relay_config cfg;
  uint8_t sk[32], pk[32];
  kl_init(&l);
  memset(&rl, 0, sizeof rl);
  kt_tmpdir(rl.dir);
  cfg_default(&cfg);
  relay_start(&l, &rl, &cfg);
  keypair(sk, pk);

  struct deposits d;
  size_t sizes[64];
  uint8_t boxes[64];
  for (int i = 0; i < 64; i++)
    sizes[i] = 4000, boxes[i] = (uint8_t)(i % 8);
  dep_init(&d, pk, 64, sizes, boxes);
  struct rcl_config dc = dep_cfg(&d);
  dc.window = 8;
  struct run run;
  client_start(&l, &rl, &dc, &run);
  kl_run_until(&l, run.c->puts_ok >= 10, 5000);
  relay_stop(&l, &rl);
  kl_run_until(&l, run.dones == 1, 5000);
  size_t acked = run.c->puts_ok;
  assert_true(acked >= 10);

  relay_start(&l, &rl, &cfg);
  struct rcl_config fc = fetch_cfg(sk, false);
  struct rcl *c = client_run(&l, &rl, &fc, 0);
  assert_true(c->nmails >= acked); /* maybe more: committed, not yet answered */
  for (size_t i = 0; i < 64; i++) {
    if (run.c->put_code[i] != 0)
      continue;
    bool found = false;
    for (size_t k = 0; k < c->nmails; k++)
      found |= c->mails[k].eid == run.c->put_eid[i];
    assert_true(found);
  }
  rcl_free(c);
  rcl_free(run.c);
  dep_clear(&d);
  relay_stop(&l, &rl);
  kl_close(&l);
  kt_rmtree(rl.dir);
}

int main(void)
{
  if (sodium_init() < 0)
    return 1;
  signal(SIGPIPE, SIG_IGN); /* a client that left: EPIPE, not a death */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_deposit_fetch_delete),
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_garbage_and_per_address),
      cmocka_unit_test(test_rate_limit),
      cmocka_unit_test(test_expiry),
      cmocka_unit_test(test_restart_keeps),
      cmocka_unit_test(test_full_store),
      cmocka_unit_test(test_rendezvous),
      cmocka_unit_test(test_rendezvous_ends),
      cmocka_unit_test(test_stop_midway),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
