/*
 * test_relayd.c — core/relayd.h as a sans-I/O session, no sockets: a client's side
 * in the test (a real XX handshake), requests fed as a transport would (never more
 * than room() allows), output taken only when the test says. What a transport
 * can't show: a client that floods requests and never reads makes the relay stop
 * reading it (room() 0), never overflow its output or fail; answers never split an
 * envelope's R_MAIL and R_DATAs; requests are answered only after their batch is
 * done; a preamble of another purpose, a handshake of garbage, a message out of
 * place each end the session.
 */
#include "kith_test.h"

#include <arpa/inet.h>
#include <sodium.h>

#include "core/chan.h"
#include "core/relayd.h"
#include "proto/relaymsg.h"

static const uint64_t NOW_S = 1700000000;

struct fix {
  char dir[64];
  kith_mailbox *mb;
  kith_relayd_ctx *ctx;
  kith_relayd *r;
  uint8_t sk[32], pk[32];
  /* the client's side */
  kith_noise_cipher *tx, *rx;
  struct kith_frame_reader fr;
  uint8_t pt[KITH_NOISE_MAX_MSG];
  struct got {
    int type;
    uint32_t req, code;
    uint64_t value, size;
  } got[32768]; /* what came back, in order */
  size_t ngot;
  uint64_t eids[KITH_RMSG_DEL_MAX];
};

static struct fix F;

/* Takes n bytes of output (all if n is SIZE_MAX) and decodes every whole message. */
static void take(size_t n)
{
  const uint8_t *out;
  size_t len = kith_relayd_vt.pending(F.r, &out), off = 0;
  if (n > len)
    n = len;
  while (off < n) {
    size_t used = 0, blen = 0;
    const uint8_t *body = NULL;
    assert_rc(kith_frame_feed(&F.fr, out + off, n - off, &used), 0);
    assert_rc(kith_frame_pop(&F.fr, &body, &blen), 0);
    off += used;
    if (!body)
      continue;
    size_t plen = 0;
    struct kith_msg m;
    assert_rc(kith_noise_cipher_decrypt(F.rx, body, blen, F.pt, sizeof F.pt, &plen), 0);
    assert_rc(kith_msg_decode(F.pt, plen, &m), 0);
    assert_true(F.ngot < sizeof F.got / sizeof F.got[0]);
    struct got *g = &F.got[F.ngot++];
    memset(g, 0, sizeof *g);
    if (m.type == KITH_MSG_REFUSE) {
      g->type = KITH_MSG_REFUSE;
      g->code = m.u.refuse.code;
      continue;
    }
    struct kith_rmsg r = {.eids = F.eids};
    assert_rc(kith_rmsg_decode(&m, &r), 0);
    g->type = r.type, g->req = r.req, g->code = r.code, g->value = r.value;
    g->size = r.size;
  }
  kith_relayd_vt.consumed(F.r, n);
}

/* Feeds bytes as a transport would: never more than room() at once. Returns how
 * many went in (fewer if room() fell to 0). */
static size_t feed(const uint8_t *b, size_t n)
{
  size_t done = 0;
  while (done < n) {
    size_t room = kith_relayd_room(F.r);
    if (room == 0)
      break;
    size_t k = n - done < room ? n - done : room;
    int rc = kith_relayd_vt.feed(F.r, b + done, k);
    assert_rc(rc, 0);
    assert_int_not_equal(kith_relayd_vt.state(F.r), KITH_SESSION_FAILED);
    done += k;
    const uint8_t *out;
    assert_true(kith_relayd_vt.pending(F.r, &out) <= KITH_CHAN_OUT_MAX);
  }
  return done;
}

/* One encrypted, framed request, appended to buf. */
static size_t frame(const struct kith_rmsg *m, uint8_t *buf)
{
  uint8_t pt[KITH_NOISE_MAX_PAYLOAD];
  size_t len = 0, clen = 0;
  assert_rc(kith_rmsg_encode(m, pt, sizeof pt, &len), 0);
  assert_rc(
      kith_noise_cipher_encrypt(F.tx, pt, len, buf + 2, KITH_NOISE_MAX_MSG, &clen), 0);
  assert_rc(kith_frame_header(clen, buf), 0);
  return clen + 2;
}

static void commit(void)
{
  struct kith_relayd_batch *b = NULL;
  assert_rc(kith_relayd_batch_take(F.ctx, 0, &b), 0);
  assert_non_null(b);
  kith_relayd_batch_run(b, F.mb);
  assert_rc(kith_relayd_batch_done(F.ctx, b, NULL), 0);
  assert_true(kith_relayd_take_wake(F.ctx));
}

/* A mailbox, a context and a session through its handshake (R_INFO taken). */
static int setup(void **state)
{
  (void)state;
  memset(&F, 0, sizeof F);
  kt_tmpdir(F.dir);
  assert_rc(kith_mailbox_open(F.dir, NULL, &F.mb), 0);
  struct kith_relayd_limits l = kith_relayd_limits_default(4);
  assert_rc(kith_relayd_ctx_new(F.mb, &l, &F.ctx), 0);
  kith_relayd_set_now(F.ctx, 1, NOW_S);
  assert_rc(kith_relayd_new(F.ctx, NULL, &F.r), 0);
  crypto_box_keypair(F.pk, F.sk);
  kith_frame_reader_init(&F.fr);

  uint8_t pre[KITH_PREAMBLE_LEN], prologue[KITH_PROLOGUE_LEN], buf[512], pl[64];
  struct kith_preamble p = {KITH_PROTO_VERSION, KITH_PURPOSE_RELAY, 0};
  size_t plen, n, k;
  kith_preamble_encode(&p, pre);
  assert_rc(kith_relayd_vt.feed(F.r, pre, sizeof pre), 0);
  const uint8_t *out;
  assert_int_equal(kith_relayd_vt.pending(F.r, &out), KITH_PREAMBLE_LEN);
  kith_prologue(pre, out, prologue, &plen);
  kith_relayd_vt.consumed(F.r, KITH_PREAMBLE_LEN);
  kith_noise_hs *hs = NULL;
  struct kith_noise_config cfg = {.protocol = KITH_RELAYD_NOISE,
                                  .role = KITH_NOISE_INITIATOR,
                                  .prologue = prologue,
                                  .prologue_len = plen,
                                  .local_static = F.sk};
  assert_rc(kith_noise_hs_new(&cfg, &hs), 0);
  assert_rc(kith_noise_write_message(hs, NULL, 0, buf + 2, sizeof buf - 2, &n), 0);
  assert_rc(kith_frame_header(n, buf), 0);
  assert_rc(kith_relayd_vt.feed(F.r, buf, n + 2), 0);
  n = kith_relayd_vt.pending(F.r, &out); /* message 2, in its frame */
  assert_true(n > 2 && n == 2 + ((size_t)out[0] << 8 | out[1]));
  assert_rc(kith_noise_read_message(hs, out + 2, n - 2, pl, sizeof pl, &k), 0);
  kith_relayd_vt.consumed(F.r, n);
  assert_rc(kith_noise_write_message(hs, NULL, 0, buf + 2, sizeof buf - 2, &n), 0);
  assert_rc(kith_frame_header(n, buf), 0);
  assert_rc(kith_noise_split(hs, &F.tx, &F.rx), 0);
  kith_noise_hs_free(hs);
  assert_rc(kith_relayd_vt.feed(F.r, buf, n + 2), 0);
  assert_int_equal(kith_relayd_vt.state(F.r), KITH_SESSION_ESTABLISHED);
  take(SIZE_MAX);
  assert_int_equal(F.ngot, 1);
  assert_int_equal(F.got[0].type, KITH_RMSG_INFO);
  F.ngot = 0;
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  kith_relayd_free(F.r);
  kith_relayd_ctx_free(F.ctx);
  kith_mailbox_close(F.mb);
  kith_noise_cipher_free(F.tx);
  kith_noise_cipher_free(F.rx);
  kt_rmtree(F.dir);
  return 0;
}

static size_t count(int type, uint32_t code)
{
  size_t n = 0;
  for (size_t i = 0; i < F.ngot; i++)
    n += F.got[i].type == type && (type != KITH_RMSG_ERR || F.got[i].code == code);
  return n;
}

/* Empty R_DELs, each answered at once, 20,000 of them and nothing read: the relay
 * stops reading long before its output is full, and answers them all once read. */
static void test_flood_unread(void **state)
{
  (void)state;
  enum { N = 20000 };
  static uint8_t buf[N * 32];
  size_t len = 0;
  struct kith_rmsg m;
  memset(&m, 0, sizeof m);
  m.type = KITH_RMSG_DEL;
  for (uint32_t i = 0; i < N; i++) {
    m.req = i;
    len += frame(&m, buf + len);
  }
  size_t in = feed(buf, len);
  assert_true(in < len); /* it stopped reading */
  assert_int_equal(kith_relayd_room(F.r), 0);
  const uint8_t *out;
  assert_true(kith_relayd_vt.pending(F.r, &out) <= 192 * 1024);
  for (int rounds = 0; in < len && rounds < 10000; rounds++) {
    take(SIZE_MAX); /* the client reads: the relay reads again */
    in += feed(buf + in, len - in);
  }
  take(SIZE_MAX);
  assert_int_equal(in, len);
  assert_int_equal(count(KITH_RMSG_OK, 0), N);
  for (uint32_t i = 0; i < N; i++)
    assert_int_equal(F.got[i].req, i); /* answered in order here: at once, each */
}

/* An envelope streams while requests pile up behind it: nothing comes between its
 * R_MAIL and its R_DATAs; the answers follow it; a deposit is answered only once
 * its batch is done. */
static void test_fetch_not_split(void **state)
{
  (void)state;
  static uint8_t env[200000], buf[1 << 20];
  randombytes_buf(env, sizeof env);
  struct kith_mb_op op;
  memset(&op, 0, sizeof op);
  op.kind = KITH_MB_PUT;
  memcpy(op.owner, F.pk, 32);
  op.data = env;
  op.size = sizeof env;
  assert_rc(kith_mailbox_apply(F.mb, &op, 1, NOW_S, 0, NULL), 0);

  size_t len = 0;
  struct kith_rmsg m;
  memset(&m, 0, sizeof m);
  m.type = KITH_RMSG_FETCH;
  m.req = 1;
  m.max_bytes = 1 << 20;
  len += frame(&m, buf + len);
  for (uint32_t i = 0; i < 300; i++) { /* a second fetch while one runs: busy */
    m.req = 100 + i;
    len += frame(&m, buf + len);
  }
  memset(&m, 0, sizeof m); /* and a deposit */
  m.type = KITH_RMSG_PUT;
  m.req = 7;
  memset(m.owner, 9, 32);
  memset(m.box, 0x33, 16); /* box 00.. is the fetched envelope's, bound to F.pk */
  m.size = 3;
  len += frame(&m, buf + len);
  memset(&m, 0, sizeof m);
  m.type = KITH_RMSG_DATA;
  m.chunk = (const uint8_t *)"abc";
  m.chunk_len = 3;
  len += frame(&m, buf + len);

  size_t in = 0;
  for (int rounds = 0; in < len && rounds < 10000; rounds++) {
    in += feed(buf + in, len - in);
    take(4096); /* a slow reader */
  }
  assert_int_equal(in, len);
  for (int rounds = 0; rounds < 1000; rounds++)
    take(SIZE_MAX);
  /* one R_MAIL, right followed by its four R_DATAs (answers before or after) */
  assert_int_equal(count(KITH_RMSG_MAIL, 0), 1);
  size_t at = 0;
  while (F.got[at].type != KITH_RMSG_MAIL)
    at++;
  assert_int_equal(F.got[at].size, sizeof env);
  for (size_t i = at + 1; i <= at + 4; i++)
    assert_int_equal(F.got[i].type, KITH_RMSG_DATA);
  assert_int_equal(count(KITH_RMSG_DATA, 0), 4);
  assert_int_equal(count(KITH_RMSG_ERR, KITH_RERR_BUSY), 300);
  assert_int_equal(count(KITH_RMSG_OK, 0), 1); /* the fetch's; not the deposit's yet */
  for (size_t i = 0; i < F.ngot; i++)
    assert_true(F.got[i].type != KITH_RMSG_OK || F.got[i].req == 1);
  assert_true(kith_relayd_queued(F.ctx));
  commit();
  take(SIZE_MAX);
  assert_int_equal(F.got[F.ngot - 1].type, KITH_RMSG_OK);
  assert_int_equal(F.got[F.ngot - 1].req, 7);
  assert_int_equal(F.got[F.ngot - 1].value, 2); /* the second eid of this relay */
}

/* After BYE the session answers what it owes, then is DONE; a request after BYE
 * is refused. */
static void test_bye(void **state)
{
  (void)state;
  uint8_t buf[4096];
  size_t len = 0;
  struct kith_rmsg m;
  memset(&m, 0, sizeof m);
  m.type = KITH_RMSG_PUT;
  m.req = 3;
  m.size = 2;
  len += frame(&m, buf + len);
  memset(&m, 0, sizeof m);
  m.type = KITH_RMSG_DATA;
  m.chunk = (const uint8_t *)"hi";
  m.chunk_len = 2;
  len += frame(&m, buf + len);
  uint8_t pt[8];
  size_t plen = 0, clen = 0;
  struct kith_msg bye = {.type = KITH_MSG_BYE};
  assert_rc(kith_msg_encode(&bye, pt, sizeof pt, &plen), 0);
  assert_rc(kith_noise_cipher_encrypt(F.tx, pt, plen, buf + len + 2, 64, &clen), 0);
  assert_rc(kith_frame_header(clen, buf + len), 0);
  len += clen + 2;
  assert_int_equal(feed(buf, len), len);
  assert_int_equal(kith_relayd_vt.state(F.r), KITH_SESSION_ESTABLISHED); /* owes one */
  commit();
  take(SIZE_MAX);
  assert_int_equal(kith_relayd_vt.state(F.r), KITH_SESSION_DONE);
  assert_int_equal(F.got[0].type, KITH_RMSG_OK);
  assert_int_equal(F.got[0].req, 3);
}

static void test_out_of_place(void **state)
{
  (void)state;
  uint8_t buf[256];
  struct kith_rmsg m;
  memset(&m, 0, sizeof m);
  m.type = KITH_RMSG_MAIL; /* only the relay sends that */
  m.size = 1;
  size_t len = frame(&m, buf);
  assert_true(kith_relayd_vt.feed(F.r, buf, len) < 0);
  assert_int_equal(kith_relayd_vt.state(F.r), KITH_SESSION_FAILED);
  take(SIZE_MAX);
  assert_int_equal(F.got[0].type, KITH_MSG_REFUSE);
  assert_int_equal(F.got[0].code, KITH_REFUSE_PROTOCOL);
  assert_string_not_equal(kith_relayd_why(F.r), "");
}

/* A sync preamble, or garbage as message 1: closed, nothing sent after the
 * preamble answer (or not even that). */
static void test_bad_starts(void **state)
{
  (void)state;
  kith_relayd *r = NULL;
  uint8_t pre[KITH_PREAMBLE_LEN];
  struct kith_preamble p = {KITH_PROTO_VERSION, KITH_PURPOSE_SYNC, 0};
  kith_preamble_encode(&p, pre);
  assert_rc(kith_relayd_new(F.ctx, NULL, &r), 0);
  assert_true(kith_relayd_vt.feed(r, pre, sizeof pre) < 0);
  const uint8_t *out;
  assert_int_equal(kith_relayd_vt.pending(r, &out), 0);
  kith_relayd_free(r);

  p.purpose = KITH_PURPOSE_RELAY;
  kith_preamble_encode(&p, pre);
  assert_rc(kith_relayd_new(F.ctx, NULL, &r), 0);
  assert_rc(kith_relayd_vt.feed(r, pre, sizeof pre), 0);
  uint8_t junk[34] = {0, 32};
  assert_true(kith_relayd_vt.feed(r, junk, sizeof junk) < 0); /* a zero key */
  assert_int_equal(kith_relayd_vt.state(r), KITH_SESSION_FAILED);
  assert_int_equal(kith_relayd_vt.pending(r, &out), KITH_PREAMBLE_LEN); /* only it */
  kith_relayd_free(r);

  /* per address: two from one address, the third refused */
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(0x0a000001);
  kith_relayd *x[3] = {NULL, NULL, NULL};
  struct kith_relayd_limits l = kith_relayd_limits_default(4);
  l.per_address = 2;
  kith_relayd_ctx *ctx = NULL;
  assert_rc(kith_relayd_ctx_new(F.mb, &l, &ctx), 0);
  assert_rc(kith_relayd_new(ctx, (struct sockaddr *)&a, &x[0]), 0);
  assert_rc(kith_relayd_new(ctx, (struct sockaddr *)&a, &x[1]), 0);
  assert_rc(kith_relayd_new(ctx, (struct sockaddr *)&a, &x[2]), KITH_EBUSY);
  a.sin_addr.s_addr = htonl(0x0a000002); /* another address is fine */
  assert_rc(kith_relayd_new(ctx, (struct sockaddr *)&a, &x[2]), 0);
  for (int i = 0; i < 3; i++)
    kith_relayd_free(x[i]);
  kith_relayd_ctx_free(ctx);
}

int main(void)
{
  if (sodium_init() < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_flood_unread, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fetch_not_split, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bye, setup, teardown),
      cmocka_unit_test_setup_teardown(test_out_of_place, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_starts, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
