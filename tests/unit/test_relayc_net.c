/*
 * test_relayc_net.c — core/relayc.h against the real relay (net/relay.h) on
 * 127.0.0.1 in this process, each session driven by net/conn.h's
 * kith_net_connect: 50 deposits from a random key to owner K are all acknowledged;
 * a fetch as another key gets none of them; a fetch as K gets all 50 in order,
 * page by page, and deletes them after commit(); a second fetch as K gets nothing.
 * Then rendezvous: two pipes with small scripted inner sessions exchange bytes
 * both ways through the relay.
 *
 * Every loop run is bounded in time; each test ends with uv_loop_close() == 0.
 */
#include "kt_loop.h"

#include <signal.h>
#include <sodium.h>
#include <uv.h>

#include "core/relayc.h"
#include "net/conn.h"
#include "net/relay.h"

/* ---- the relay ---------------------------------------------------------------------
 */

struct relay {
  kith_relay *r;
  char dir[64];
  struct sockaddr_storage addr;
  int stopped;
};

static void relay_start(struct kl *l, struct relay *rl)
{
  struct kith_relay_config cfg;
  struct sockaddr_storage a;
  kith_relay_config_default(&cfg);
  cfg.tick_ms = 20;
  kt_tmpdir(rl->dir);
  cfg.dir = rl->dir;
  assert_rc(kith_net_parse_addr("127.0.0.1:0", &a), 0);
  assert_rc(kith_relay_start(&l->loop, (struct sockaddr *)&a, &cfg, &rl->r), 0);
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
  kt_rmtree(rl->dir);
}

/* ---- a client session over TCP ------------------------------------------------------
 */

struct run {
  bool done;
  int result;
};

static void on_done(void *arg, int result)
{
  struct run *r = arg;
  r->done = true;
  r->result = result;
}

/* Connects vt/session to the relay and runs the loop until the connection ended;
 * returns the transport's result. */
static int drive(struct kl *l, struct relay *rl, const struct kith_session_vt *vt,
                 void *session)
{
  struct run r = {false, 0};
  assert_rc(kith_net_connect(&l->loop, (struct sockaddr *)&rl->addr, NULL, vt, session,
                             on_done, &r),
            0);
  kl_run_until(l, r.done, 60000);
  return r.result;
}

static void pattern(uint64_t id, uint8_t *b, size_t len)
{
  for (size_t i = 0; i < len; i++)
    b[i] = (uint8_t)(id * 31 + i * 7 + (i >> 8));
}

#define NPUTS 50

struct cli {
  uint8_t owner[32], box[16];
  uint8_t *bufs[NPUTS];
  size_t lens[NPUTS];
  size_t next;
  int done_count[NPUTS], done_rc[NPUTS];
  uint32_t done_code[NPUTS];
  /* fetch */
  size_t ngot;
  uint64_t last_eid;
  bool bad;
  int commits;
  size_t got_at_commit; /* mails taken by the last commit() */
  struct kith_relay_info info;
};

static void cb_info(void *arg, const struct kith_relay_info *info)
{
  ((struct cli *)arg)->info = *info;
}

static int cb_next_put(void *arg, struct kith_relayc_put *out)
{
  struct cli *k = arg;
  if (k->next == NPUTS)
    return 0;
  size_t i = k->next++;
  out->tag = i;
  memcpy(out->owner, k->owner, 32);
  memcpy(out->box, k->box, 16);
  out->env = k->bufs[i];
  out->len = k->lens[i];
  return 1;
}

static void cb_put_done(void *arg, uint64_t tag, int rc, uint32_t code,
                        const char *text)
{
  struct cli *k = arg;
  (void)text;
  assert_true(tag < NPUTS);
  k->done_count[tag]++;
  k->done_rc[tag] = rc;
  k->done_code[tag] = code;
}

/* The i-th envelope to come must be deposit i: in order, whole, in its box. */
static int cb_mail(void *arg, uint64_t eid, const uint8_t box[KITH_BOX_LEN],
                   const uint8_t *env, size_t len)
{
  struct cli *k = arg;
  size_t i = k->ngot++;
  if (i >= NPUTS || eid <= k->last_eid || len != k->lens[i] ||
      memcmp(env, k->bufs[i], len) != 0 || memcmp(box, k->box, 16) != 0)
    k->bad = true;
  k->last_eid = eid;
  return 0;
}

static int cb_commit(void *arg)
{
  struct cli *k = arg;
  k->commits++;
  k->got_at_commit = k->ngot;
  return 0;
}

static const struct kith_relayc_ops ops = {cb_info, cb_next_put, cb_put_done, cb_mail,
                                           cb_commit};

static void test_relayc_net_deposit_fetch(void **state)
{
  (void)state;
  struct kl l;
  struct relay rl = {0};
  struct cli k = {0}, f = {0};
  uint8_t ksk[32], osk[32], opk[32], relay_pk[32], seen[32];
  kl_init(&l);
  relay_start(&l, &rl);
  kith_relay_public_key(rl.r, relay_pk);
  crypto_box_keypair(k.owner, ksk);
  crypto_box_keypair(opk, osk);
  randombytes_buf(k.box, sizeof k.box);
  for (size_t i = 0; i < NPUTS; i++) {
    k.lens[i] = i % 10 == 3 ? 300000 + i : 1000 + i * 997;
    k.bufs[i] = malloc(k.lens[i]);
    assert_non_null(k.bufs[i]);
    pattern(i, k.bufs[i], k.lens[i]);
  }

  /* 50 deposits from a fresh key, the relay's key pinned */
  kith_relayc *c = NULL;
  struct kith_relayc_config cfg = {.relay_pk = relay_pk, .ops = &ops, .arg = &k};
  assert_rc(kith_relayc_new(&cfg, &c), 0);
  int rc = drive(&l, &rl, &kith_relayc_vt, c);
  if (rc)
    fail_msg("deposit: %s: %s", kith_strerror(rc), kith_relayc_why(c));
  for (size_t i = 0; i < NPUTS; i++) {
    assert_int_equal(k.done_count[i], 1);
    assert_rc(k.done_rc[i], 0);
  }
  assert_int_equal(kith_relayc_stats(c)->puts_ok, NPUTS);
  assert_true(k.info.max_envelope >= (1u << 20));
  assert_rc(kith_relayc_relay_key(c, seen), 0);
  assert_memory_equal(seen, relay_pk, 32);
  kith_relayc_free(c);

  /* another key fetches: nothing of K's */
  memcpy(f.owner, opk, 32);
  cfg = (struct kith_relayc_config){
      .static_sk = osk, .fetch = true, .ops = &ops, .arg = &f};
  f.next = NPUTS; /* no deposits */
  assert_rc(kith_relayc_new(&cfg, &c), 0);
  assert_rc(drive(&l, &rl, &kith_relayc_vt, c), 0);
  assert_int_equal(f.ngot, 0);
  assert_int_equal(f.commits, 0);
  kith_relayc_free(c);

  /* K fetches, in pages of about 1 MB: all 50, in order; deleted after commit */
  k.next = NPUTS;
  cfg = (struct kith_relayc_config){.static_sk = ksk,
                                    .fetch = true,
                                    .fetch_page_bytes = 1000000,
                                    .ops = &ops,
                                    .arg = &k};
  assert_rc(kith_relayc_new(&cfg, &c), 0);
  rc = drive(&l, &rl, &kith_relayc_vt, c);
  if (rc)
    fail_msg("fetch: %s: %s", kith_strerror(rc), kith_relayc_why(c));
  assert_false(k.bad);
  assert_int_equal(k.ngot, NPUTS);
  assert_true(k.commits > 1); /* several pages */
  assert_int_equal(k.got_at_commit, NPUTS);
  const struct kith_relayc_stats *st = kith_relayc_stats(c);
  assert_int_equal(st->mails, NPUTS);
  assert_int_equal(st->deleted, NPUTS);
  kith_relayc_free(c);

  /* and again: nothing left */
  k.ngot = 0, k.commits = 0, k.last_eid = 0;
  assert_rc(kith_relayc_new(&cfg, &c), 0);
  assert_rc(drive(&l, &rl, &kith_relayc_vt, c), 0);
  assert_int_equal(k.ngot, 0);
  assert_int_equal(k.commits, 0);
  kith_relayc_free(c);

  struct kith_relayd_stats rs;
  kith_relay_stats(rl.r, &rs);
  assert_int_equal(rs.puts, NPUTS);
  assert_int_equal(rs.deleted, NPUTS);
  relay_stop(&l, &rl);
  kl_close(&l);
  for (size_t i = 0; i < NPUTS; i++)
    free(k.bufs[i]);
}

/* ---- rendezvous --------------------------------------------------------------------
 */

/* An inner session that says its piece and expects the other's, byte for byte. */
struct chat {
  const uint8_t *say, *expect;
  size_t say_len, off, expect_len, got;
  bool bad;
};

static int chat_feed(void *s, const uint8_t *in, size_t len)
{
  struct chat *c = s;
  if (len > c->expect_len - c->got || memcmp(in, c->expect + c->got, len) != 0) {
    c->bad = true;
    return KITH_EPROTO;
  }
  c->got += len;
  return 0;
}

static size_t chat_pending(void *s, const uint8_t **out)
{
  struct chat *c = s;
  *out = c->say + c->off;
  return c->say_len - c->off;
}

static void chat_consumed(void *s, size_t n)
{
  ((struct chat *)s)->off += n;
}

static int chat_eof(void *s)
{
  struct chat *c = s;
  if (c->got != c->expect_len)
    c->bad = true;
  return c->bad ? KITH_ECLOSED : 0;
}

static enum kith_session_state chat_state(void *s)
{
  struct chat *c = s;
  if (c->bad)
    return KITH_SESSION_FAILED;
  return c->off == c->say_len && c->got == c->expect_len ? KITH_SESSION_DONE
                                                         : KITH_SESSION_RUNNING;
}

static const struct kith_session_vt chat_vt = {.feed = chat_feed,
                                               .pending = chat_pending,
                                               .consumed = chat_consumed,
                                               .eof = chat_eof,
                                               .state = chat_state};

static void test_relayc_net_rendezvous(void **state)
{
  (void)state;
  static uint8_t a_says[300000], b_says[7000];
  struct kl l;
  struct relay rl = {0};
  uint8_t tag[16];
  pattern(1, a_says, sizeof a_says), pattern(2, b_says, sizeof b_says);
  randombytes_buf(tag, sizeof tag);
  kl_init(&l);
  relay_start(&l, &rl);

  /* nobody waits yet: a join is turned away */
  struct chat b = {b_says, a_says, sizeof b_says, 0, sizeof a_says, 0, false};
  kith_relayc_pipe *pb = NULL;
  assert_rc(kith_relayc_pipe_new(tag, false, &chat_vt, &b, &pb), 0);
  assert_rc(drive(&l, &rl, &kith_relayc_pipe_vt, pb), KITH_ENOTFOUND);
  assert_rc(kith_relayc_pipe_error(pb), KITH_ENOTFOUND);
  assert_int_equal(b.off + b.got, 0);
  kith_relayc_pipe_free(pb);

  /* A waits; once its wait is in, B joins; they trade their pieces */
  struct chat a = {a_says, b_says, sizeof a_says, 0, sizeof b_says, 0, false};
  kith_relayc_pipe *pa = NULL;
  struct run ra = {false, 0}, rb = {false, 0};
  assert_rc(kith_relayc_pipe_new(tag, true, &chat_vt, &a, &pa), 0);
  assert_rc(kith_net_connect(&l.loop, (struct sockaddr *)&rl.addr, NULL,
                             &kith_relayc_pipe_vt, pa, on_done, &ra),
            0);
  kl_run_until(&l, kith_relayc_pipe_vt.state(pa) == KITH_SESSION_ESTABLISHED, 10000);
  for (int tries = 0;; tries++) {
    kl_run_for(&l, 50); /* R_WAIT reaches the relay */
    b = (struct chat){b_says, a_says, sizeof b_says, 0, sizeof a_says, 0, false};
    assert_rc(kith_relayc_pipe_new(tag, false, &chat_vt, &b, &pb), 0);
    rb.done = false;
    assert_rc(kith_net_connect(&l.loop, (struct sockaddr *)&rl.addr, NULL,
                               &kith_relayc_pipe_vt, pb, on_done, &rb),
              0);
    kl_run_until(&l, rb.done || kith_relayc_pipe_joined(pb), 10000);
    if (kith_relayc_pipe_joined(pb) || tries == 20)
      break;
    kith_relayc_pipe_free(pb); /* too early: the wait was not in yet */
  }
  assert_true(kith_relayc_pipe_joined(pb));
  kl_run_until(&l, ra.done && rb.done, 30000);
  if (ra.result || rb.result)
    fail_msg("rendezvous: waiter %s (%s), joiner %s (%s)", kith_strerror(ra.result),
             kith_relayc_pipe_why(pa), kith_strerror(rb.result),
             kith_relayc_pipe_why(pb));
  assert_true(kith_relayc_pipe_joined(pa));
  assert_false(a.bad);
  assert_false(b.bad);
  assert_int_equal(a.got, sizeof b_says);
  assert_int_equal(b.got, sizeof a_says);
  struct kith_relayd_stats rs;
  kith_relay_stats(rl.r, &rs);
  assert_int_equal(rs.joins, 1);
  kith_relayc_pipe_free(pa);
  kith_relayc_pipe_free(pb);
  relay_stop(&l, &rl);
  kl_close(&l);
}

int main(void)
{
  if (sodium_init() < 0)
    return 1;
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_relayc_net_deposit_fetch),
      cmocka_unit_test(test_relayc_net_rendezvous),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
