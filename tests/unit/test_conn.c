/*
 * test_conn.c — net/conn.h: a kith server and kith or raw libuv clients over
 * 127.0.0.1 (port 0), all in one loop in this process. The sessions are a tiny line
 * protocol defined here: the server echoes each line, is ESTABLISHED after the
 * first, DONE after "bye", FAILED (after queueing "refused") on "bad" or a byte
 * that is not printable ASCII, answers "flood" with 64 MiB of 'x' and "bigbye" with
 * 8 MiB of 'x' and DONE. Its own output buffer is bounded (LS_OUT_MAX). The client
 * sends a script and is DONE when "bye" comes back.
 *
 * Every loop run is bounded in time (a guard timer that fails the test) and in
 * iterations; every test ends with uv_loop_close() == 0, so a handle left open
 * fails it, and the ASan build finds what is not freed.
 */
#include "kt_loop.h"

#include <arpa/inet.h>
#include <uv.h>

#include "net/conn.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static uint64_t now_ms(void)
{
  return uv_hrtime() / 1000000;
}

/* ---- the line session -------------------------------------------------------------
 */

#define LS_OUT_MAX (128 * 1024)
#define FLOOD_TOTAL ((size_t)64 << 20)
#define BIGBYE_TOTAL ((size_t)8 << 20)
#define FRAME_LEN 65537 /* a largest kith frame: 2-byte length + 65,535 */
#define FRAMES 128
static uint8_t flood_buf[256 * 1024];

struct ls {
  bool client;
  enum kith_session_state st;
  char line[64];
  size_t linelen;
  uint8_t out[LS_OUT_MAX];
  size_t outlen;
  size_t flood_left, last_pending, taken, max_take, takes;
  bool framed;    /* flood_left is offered one FRAME_LEN piece at a time */
  char got[4096]; /* client: what came back */
  size_t gotlen;
  int eofs, lines;
  bool ended;  /* the transport said it is done with us */
  bool misuse; /* called against the contract */
};

static void ls_init(struct ls *s, bool client, const char *script)
{
  memset(s, 0, sizeof *s);
  s->client = client;
  s->st = KITH_SESSION_RUNNING;
  if (script) {
    s->outlen = strlen(script);
    assert_true(s->outlen <= LS_OUT_MAX);
    memcpy(s->out, script, s->outlen);
  }
}

static int ls_fail(struct ls *s)
{
  s->st = KITH_SESSION_FAILED;
  if (!s->client && s->outlen + 8 <= LS_OUT_MAX) {
    memcpy(s->out + s->outlen, "refused\n", 8);
    s->outlen += 8;
  }
  return KITH_EBADMSG;
}

static int ls_line(struct ls *s)
{
  s->lines++;
  if (s->st == KITH_SESSION_RUNNING)
    s->st = KITH_SESSION_ESTABLISHED;
  if (s->client) {
    if (strcmp(s->line, "refused") == 0) {
      s->st = KITH_SESSION_FAILED;
      return KITH_EBADMSG;
    }
    if (strcmp(s->line, "bye") == 0)
      s->st = KITH_SESSION_DONE;
    return 0;
  }
  if (strcmp(s->line, "bad") == 0)
    return ls_fail(s);
  if (strcmp(s->line, "flood") == 0) {
    s->flood_left = FLOOD_TOTAL;
    return 0;
  }
  if (strcmp(s->line, "bigbye") == 0) {
    s->flood_left = BIGBYE_TOTAL;
    s->st = KITH_SESSION_DONE;
    return 0;
  }
  if (strcmp(s->line, "framebye") == 0) {
    s->flood_left = (size_t)FRAMES * FRAME_LEN;
    s->framed = true;
    s->st = KITH_SESSION_DONE;
    return 0;
  }
  if (s->outlen + s->linelen + 1 > LS_OUT_MAX)
    return ls_fail(s); /* our own bound on what we buffer */
  memcpy(s->out + s->outlen, s->line, s->linelen);
  s->out[s->outlen + s->linelen] = '\n';
  s->outlen += s->linelen + 1;
  if (strcmp(s->line, "bye") == 0)
    s->st = KITH_SESSION_DONE;
  return 0;
}

static int ls_feed(void *p, const uint8_t *in, size_t len)
{
  struct ls *s = p;
  if (s->ended || len == 0 || s->st == KITH_SESSION_DONE ||
      s->st == KITH_SESSION_FAILED) {
    s->misuse = true;
    return KITH_EINVAL;
  }
  for (size_t i = 0; i < len; i++) {
    uint8_t b = in[i];
    if (s->client && s->gotlen < sizeof s->got)
      s->got[s->gotlen++] = (char)b;
    if (b == '\n') {
      s->line[s->linelen] = '\0';
      int rc = ls_line(s);
      s->linelen = 0;
      if (rc)
        return rc;
      if (s->st == KITH_SESSION_DONE)
        return 0; /* what follows "bye" is ignored */
      continue;
    }
    if (b < 0x20 || b > 0x7e || s->linelen >= sizeof s->line - 1)
      return ls_fail(s);
    s->line[s->linelen++] = (char)b;
  }
  return 0;
}

static size_t ls_pending(void *p, const uint8_t **out)
{
  struct ls *s = p;
  if (s->ended)
    s->misuse = true;
  size_t n = 0;
  if (s->outlen) {
    *out = s->out;
    n = s->outlen;
  } else if (s->flood_left) {
    *out = flood_buf;
    n = s->flood_left < sizeof flood_buf ? s->flood_left : sizeof flood_buf;
    if (s->framed) /* the rest of the current frame only */
      n = FRAME_LEN - (FRAMES * (size_t)FRAME_LEN - s->flood_left) % FRAME_LEN;
  }
  s->last_pending = n;
  return n;
}

static void ls_consumed(void *p, size_t n)
{
  struct ls *s = p;
  if (s->ended || n == 0 || n > s->last_pending) {
    s->misuse = true;
    return;
  }
  if (s->outlen) {
    memmove(s->out, s->out + n, s->outlen - n);
    s->outlen -= n;
  } else {
    s->flood_left -= n;
  }
  s->last_pending -= n;
  s->taken += n;
  s->takes++;
  if (n > s->max_take)
    s->max_take = n;
}

static int ls_eof(void *p)
{
  struct ls *s = p;
  if (s->ended || s->st == KITH_SESSION_DONE || s->st == KITH_SESSION_FAILED)
    s->misuse = true;
  s->eofs++;
  if (s->st == KITH_SESSION_DONE)
    return 0;
  s->st = KITH_SESSION_FAILED; /* a truncated session */
  return KITH_EBADMSG;
}

static enum kith_session_state ls_state(void *p)
{
  struct ls *s = p;
  if (s->ended)
    s->misuse = true;
  return s->st;
}

static const struct kith_session_vt ls_vt = {ls_feed, ls_pending, ls_consumed, ls_eof,
                                             ls_state};

/* ---- server side: the factory ------------------------------------------------------
 */

struct srv {
  kith_net_server *net;
  uint16_t port;
  int news, frees, refuse;
  int stopped, frees_at_stop;
  int misuse, eofs;
  struct ls last; /* a copy of the last session freed */
};

static int srv_new(void *arg, const struct kith_session_vt **vt, void **session)
{
  struct srv *sv = arg;
  sv->news++;
  if (sv->refuse)
    return sv->refuse;
  struct ls *s = malloc(sizeof *s);
  if (!s)
    return KITH_ENOMEM;
  ls_init(s, false, NULL);
  *vt = &ls_vt;
  *session = s;
  return 0;
}

static void srv_free(void *arg, void *session)
{
  struct srv *sv = arg;
  struct ls *s = session;
  sv->frees++;
  sv->misuse += s->misuse;
  sv->eofs += s->eofs;
  sv->last = *s;
  free(s);
}

static const struct kith_net_factory srv_factory = {srv_new, srv_free};

static void srv_stopped(void *arg)
{
  struct srv *sv = arg;
  sv->stopped++;
  sv->frees_at_stop = sv->frees;
}

static void srv_start(struct kl *l, struct srv *sv, const struct kith_net_limits *lim)
{
  struct sockaddr_storage a;
  memset(sv, 0, sizeof *sv);
  assert_rc(kith_net_parse_addr("127.0.0.1:0", &a), 0);
  assert_rc(kith_net_server_start(&l->loop, (struct sockaddr *)&a, lim, &srv_factory,
                                  sv, &sv->net),
            0);
  sv->port = kith_net_server_port(sv->net);
  assert_true(sv->port > 0);
}

/* Stops the server and checks that every session was handed back first. */
static void srv_stop(struct kl *l, struct srv *sv)
{
  kith_net_server_stop(sv->net, srv_stopped);
  sv->net = NULL;
  kl_run_until(l, sv->stopped == 1, 2000);
  assert_int_equal(sv->frees_at_stop, sv->frees);
  assert_int_equal(sv->misuse, 0);
}

static void loopback(uint16_t port, struct sockaddr_storage *a)
{
  char text[32];
  snprintf(text, sizeof text, "127.0.0.1:%u", (unsigned)port);
  assert_rc(kith_net_parse_addr(text, a), 0);
}

/* ---- client side: a kith client ----------------------------------------------------
 */

struct cli {
  struct ls s;
  int dones, result;
  uint64_t t_start, t_done;
};

static void cli_done(void *arg, int result)
{
  struct cli *c = arg;
  c->dones++;
  c->result = result;
  c->t_done = now_ms();
  c->s.ended = true; /* from here the transport must not touch it */
}

static void cli_start(struct kl *l, struct cli *c, uint16_t port, const char *script,
                      const struct kith_net_limits *lim)
{
  struct sockaddr_storage a;
  loopback(port, &a);
  memset(c, 0, sizeof *c);
  ls_init(&c->s, true, script);
  c->t_start = now_ms();
  assert_rc(kith_net_connect(&l->loop, (struct sockaddr *)&a, lim, &ls_vt, &c->s,
                             cli_done, c),
            0);
}

/* ---- client side: a raw libuv client (reads only if asked)
 * --------------------------- */

struct raw {
  uv_tcp_t tcp;
  uv_connect_t creq;
  int connected; /* 1 ok, -1 failed */
  bool eof, closed;
  int read_err;
  char got[8192];
  size_t gotlen, total;
  uint64_t t_end; /* when end of stream or an error came */
  char rbuf[65536];
};

static void raw_on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
  struct raw *r = container_of(h, struct raw, tcp);
  (void)hint;
  *buf = uv_buf_init(r->rbuf, sizeof r->rbuf);
}

static void raw_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  struct raw *r = container_of(s, struct raw, tcp);
  if (n < 0) {
    if (n == UV_EOF)
      r->eof = true;
    else
      r->read_err = (int)n;
    r->t_end = now_ms();
    uv_read_stop(s);
    return;
  }
  size_t k = (size_t)n;
  if (k > sizeof r->got - r->gotlen)
    k = sizeof r->got - r->gotlen;
  memcpy(r->got + r->gotlen, buf->base, k);
  r->gotlen += k;
  r->total += (size_t)n;
}

static void raw_read(struct raw *r)
{
  assert_int_equal(uv_read_start((uv_stream_t *)&r->tcp, raw_on_alloc, raw_on_read), 0);
}

static void raw_on_connect(uv_connect_t *req, int status)
{
  struct raw *r = container_of(req, struct raw, creq);
  r->connected = status == 0 ? 1 : -1;
}

/* Connects to 127.0.0.1:port and waits until connected. */
static void raw_connect(struct kl *l, struct raw *r, uint16_t port, bool read)
{
  struct sockaddr_storage a;
  loopback(port, &a);
  memset(r, 0, sizeof *r);
  assert_int_equal(uv_tcp_init(&l->loop, &r->tcp), 0);
  assert_int_equal(
      uv_tcp_connect(&r->creq, &r->tcp, (struct sockaddr *)&a, raw_on_connect), 0);
  kl_run_until(l, r->connected != 0, 2000);
  assert_int_equal(r->connected, 1);
  if (read)
    raw_read(r);
}

struct raw_w {
  uv_write_t req;
  char data[];
};

static void raw_on_write(uv_write_t *req, int status)
{
  (void)status; /* a raw peer does not care */
  free(container_of(req, struct raw_w, req));
}

static void raw_write(struct raw *r, const char *p, size_t n)
{
  struct raw_w *w = malloc(sizeof *w + n);
  assert_non_null(w);
  memcpy(w->data, p, n);
  uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
  assert_int_equal(uv_write(&w->req, (uv_stream_t *)&r->tcp, &b, 1, raw_on_write), 0);
}

static void raw_on_close(uv_handle_t *h)
{
  container_of(h, struct raw, tcp)->closed = true;
}

static void raw_close(struct kl *l, struct raw *r)
{
  uv_close((uv_handle_t *)&r->tcp, raw_on_close);
  kl_run_until(l, r->closed, 2000);
}

static bool raw_ended(const struct raw *r)
{
  return r->eof || r->read_err;
}

/* ---- tests -------------------------------------------------------------------------
 */

static void test_parse_addr(void **state)
{
  (void)state;
  struct sockaddr_storage a;
  struct sockaddr_in *a4 = (struct sockaddr_in *)&a;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&a;
  char text[64];

  assert_rc(kith_net_parse_addr("192.0.2.1:7000", &a), 0);
  assert_int_equal(a4->sin_family, AF_INET);
  assert_int_equal(ntohs(a4->sin_port), 7000);
  assert_non_null(inet_ntop(AF_INET, &a4->sin_addr, text, sizeof text));
  assert_string_equal(text, "192.0.2.1");

  assert_rc(kith_net_parse_addr("localhost:65535", &a), 0);
  assert_int_equal(a4->sin_family, AF_INET);
  assert_int_equal(ntohs(a4->sin_port), 65535);
  assert_int_equal(ntohl(a4->sin_addr.s_addr), INADDR_LOOPBACK);
  assert_rc(kith_net_parse_addr("LocalHost:1", &a), 0);

  assert_rc(kith_net_parse_addr("0.0.0.0:0", &a), 0);
  assert_int_equal(ntohs(a4->sin_port), 0);

  assert_rc(kith_net_parse_addr("[::1]:443", &a), 0);
  assert_int_equal(a6->sin6_family, AF_INET6);
  assert_int_equal(ntohs(a6->sin6_port), 443);
  assert_true(IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr));
  assert_rc(kith_net_parse_addr("[2001:db8::ff00:42:8329]:08080", &a), 0);
  assert_int_equal(ntohs(a6->sin6_port), 8080);
  assert_non_null(inet_ntop(AF_INET6, &a6->sin6_addr, text, sizeof text));
  assert_string_equal(text, "2001:db8::ff00:42:8329");

  static const char *bad[] = {
      "",
      ":7000",
      "127.0.0.1",
      "127.0.0.1:",
      "127.0.0.1:65536",
      "127.0.0.1:99999",
      "127.0.0.1:123456",
      "127.0.0.1:-1",
      "127.0.0.1:+80",
      "127.0.0.1: 80",
      "127.0.0.1:80 ",
      "127.0.0.1:8o",
      " 127.0.0.1:80",
      "127.0.0.1:80:80",
      "127.1:80",
      "127.0.0.01:80",
      "256.0.0.1:80",
      "example.com:80",
      "kith.example:7000",
      "localhost.:80",
      "::1:80",
      "[::1]",
      "[::1]80",
      "[::1:80",
      "[]:80",
      "[127.0.0.1]:80",
      "[fe80::1%eth0]:80",
      "[::1]:65536",
      "[0000:0000:0000:0000:0000:0000:0000:0000:0000]:1",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    memset(&a, 0xaa, sizeof a);
    int rc = kith_net_parse_addr(bad[i], &a);
    if (rc != KITH_EINVAL)
      fail_msg("\"%s\" parsed (rc %d), should be refused", bad[i], rc);
    assert_int_equal(a.ss_family, 0); /* zeroed on refusal */
  }
  assert_rc(kith_net_parse_addr(NULL, &a), KITH_EINVAL);
  assert_rc(kith_net_parse_addr("127.0.0.1:1", NULL), KITH_EINVAL);
}

static void test_bad_arguments(void **state)
{
  (void)state;
  struct kl l;
  kl_init(&l);
  struct sockaddr_storage a;
  struct cli c;
  kith_net_server *net = NULL;
  loopback(1, &a);
  memset(&c, 0, sizeof c);

  struct kith_net_limits lim = kith_net_limits_default();
  assert_int_equal(lim.max_conns, 64);
  assert_int_equal(lim.max_write_bytes, 256 * 1024);
  assert_int_equal(lim.read_buf_bytes, 65537);
  assert_int_equal(lim.connect_ms, 5000);
  assert_int_equal(lim.handshake_ms, 10000);
  assert_int_equal(lim.idle_ms, 30000);

  struct kith_net_limits zero = lim;
  zero.idle_ms = 0;
  assert_rc(kith_net_connect(&l.loop, (struct sockaddr *)&a, &zero, &ls_vt, &c.s,
                             cli_done, &c),
            KITH_EINVAL);
  assert_rc(kith_net_server_start(&l.loop, (struct sockaddr *)&a, &zero, &srv_factory,
                                  NULL, &net),
            KITH_EINVAL);
  assert_null(net);
  zero = lim;
  zero.read_buf_bytes = 0;
  assert_rc(kith_net_connect(&l.loop, (struct sockaddr *)&a, &zero, &ls_vt, &c.s,
                             cli_done, &c),
            KITH_EINVAL);
  zero = lim;
  zero.max_write_bytes = (size_t)KITH_NET_BUF_MAX + 1;
  assert_rc(kith_net_connect(&l.loop, (struct sockaddr *)&a, &zero, &ls_vt, &c.s,
                             cli_done, &c),
            KITH_EINVAL);

  struct kith_session_vt half = ls_vt;
  half.eof = NULL;
  assert_rc(
      kith_net_connect(&l.loop, (struct sockaddr *)&a, NULL, &half, &c.s, cli_done, &c),
      KITH_EINVAL);
  assert_rc(
      kith_net_connect(&l.loop, (struct sockaddr *)&a, NULL, &ls_vt, &c.s, NULL, &c),
      KITH_EINVAL);
  assert_rc(kith_net_connect(&l.loop, NULL, NULL, &ls_vt, &c.s, cli_done, &c),
            KITH_EINVAL);
  struct sockaddr_storage unspec;
  memset(&unspec, 0, sizeof unspec);
  assert_rc(kith_net_connect(&l.loop, (struct sockaddr *)&unspec, NULL, &ls_vt, &c.s,
                             cli_done, &c),
            KITH_EINVAL);
  struct kith_net_factory nofree = {srv_new, NULL};
  assert_rc(
      kith_net_server_start(&l.loop, (struct sockaddr *)&a, NULL, &nofree, NULL, &net),
      KITH_EINVAL);
  kith_net_server_stop(NULL, srv_stopped); /* NULL-safe */

  /* errors mean no callback and nothing left behind */
  kl_run_for(&l, 50);
  assert_int_equal(c.dones, 0);
  kl_close(&l);
}

static void test_addr_in_use(void **state)
{
  (void)state;
  struct kl l;
  struct srv sv;
  kith_net_server *second = NULL;
  struct sockaddr_storage a;
  kl_init(&l);
  srv_start(&l, &sv, NULL);
  loopback(sv.port, &a);
  assert_rc(kith_net_server_start(&l.loop, (struct sockaddr *)&a, NULL, &srv_factory,
                                  &sv, &second),
            KITH_EADDRINUSE);
  assert_null(second);
  srv_stop(&l, &sv);
  kl_close(&l); /* the failed listener was released too */
}

/* A script goes there and back; done fires once, with 0; the server made and freed
 * one session, which was established and ended by "bye". */
static void test_round_trip(void **state)
{
  (void)state;
  struct kl l;
  struct srv sv;
  struct cli c;
  kl_init(&l);
  srv_start(&l, &sv, NULL);

  cli_start(&l, &c, sv.port, "hello\nworld\nbye\n", NULL);
  kl_run_until(&l, c.dones == 1, 5000);
  assert_rc(c.result, 0);
  assert_int_equal(c.s.gotlen, 16);
  assert_memory_equal(c.s.got, "hello\nworld\nbye\n", 16);
  assert_int_equal(c.s.st, KITH_SESSION_DONE);
  assert_int_equal(c.s.outlen, 0); /* everything was taken */
  assert_int_equal(c.s.taken, 16);
  assert_false(c.s.misuse);

  kl_run_until(&l, sv.frees == 1, 2000);
  assert_int_equal(sv.news, 1);
  assert_int_equal(sv.last.st, KITH_SESSION_DONE);
  assert_int_equal(sv.last.lines, 3);
  assert_int_equal(sv.last.taken, 16);
  assert_int_equal(sv.last.eofs, 0);

  kl_run_for(&l, 50); /* nothing more is coming */
  assert_int_equal(c.dones, 1);
  assert_int_equal(sv.frees, 1);
  srv_stop(&l, &sv);
  kl_close(&l);
}

/* 200 connections one after the other: each ends with 0, each session is made and
 * freed once; ASan checks nothing is left. */
static void test_many_sequential(void **state)
{
  (void)state;
  struct kl l;
  struct srv sv;
  kl_init(&l);
  srv_start(&l, &sv, NULL);
  for (int i = 0; i < 200; i++) {
    struct cli c;
    cli_start(&l, &c, sv.port, "one\ntwo\nbye\n", NULL);
    kl_run_until(&l, c.dones == 1, 5000);
    assert_rc(c.result, 0);
    assert_int_equal(c.s.gotlen, 12);
    assert_false(c.s.misuse);
  }
  kl_run_until(&l, sv.frees == 200, 5000);
  assert_int_equal(sv.news, 200);
  assert_int_equal(sv.misuse, 0);
  srv_stop(&l, &sv);
  kl_close(&l);
}

/* Nobody listens: KITH_EUNAVAIL, quickly, once. */
static void test_refused(void **state)
{
  (void)state;
  struct kl l;
  struct srv sv;
  struct cli c;
  kl_init(&l);
  srv_start(&l, &sv, NULL);
  uint16_t port = sv.port;
  srv_stop(&l, &sv); /* now nothing listens there */

  cli_start(&l, &c, port, "hello\n", NULL);
  kl_run_until(&l, c.dones == 1, 2000);
  assert_rc(c.result, KITH_EUNAVAIL);
  assert_true(c.t_done - c.t_start < 1000);
  assert_int_equal(c.s.taken, 0);
  assert_false(c.s.misuse);
  kl_run_for(&l, 50);
  assert_int_equal(c.dones, 1);
  kl_close(&l);
}

/* A listener whose accept queue is full drops SYNs (Linux), so a connect hangs:
 * connect_ms ends it with KITH_EUNAVAIL. */
static void test_connect_timeout(void **state)
{
  (void)state;
  struct kl l;
  struct raw filler;
  struct cli c;
  kl_init(&l);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a4;
  socklen_t alen = sizeof a4;
  memset(&a4, 0, sizeof a4);
  a4.sin_family = AF_INET;
  a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&a4, sizeof a4), 0);
  assert_int_equal(listen(fd, 0), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a4, &alen), 0);
  uint16_t port = ntohs(a4.sin_port);
  raw_connect(&l, &filler, port, false); /* fills the queue of one */

  struct kith_net_limits lim = kith_net_limits_default();
  lim.connect_ms = 200;
  cli_start(&l, &c, port, "hello\n", &lim);
  kl_run_until(&l, c.dones == 1, 3000);
  assert_rc(c.result, KITH_EUNAVAIL);
  assert_true(c.t_done - c.t_start >= 150);
  assert_true(c.t_done - c.t_start < 1500);
  assert_false(c.s.misuse);
  raw_close(&l, &filler);
  close(fd);
  kl_close(&l);
}

/* The server drops a client that connects and says nothing, after handshake_ms,
 * without calling eof(): the session ended on the timer. */
static void test_handshake_timeout_server(void **state)
{
  (void)state;
  struct kl l;
  struct srv sv;
  struct raw r;
  kl_init(&l);
  struct kith_net_limits lim = kith_net_limits_default();
  lim.handshake_ms = 200;
  srv_start(&l, &sv, &lim);

  uint64_t t0 = now_ms();
  raw_connect(&l, &r, sv.port, true);
  kl_run_until(&l, raw_ended(&r) && sv.frees == 1, 3000);
  assert_true(r.t_end - t0 >= 150);
  assert_true(r.t_end - t0 < 1500);
  assert_int_equal(r.gotlen, 0);
  assert_int_equal(sv.news, 1);
  assert_int_equal(sv.last.eofs, 0);
  assert_int_equal(sv.last.st, KITH_SESSION_RUNNING);
  raw_close(&l, &r);
  srv_stop(&l, &sv);
  kl_close(&l);
}

/* A client whose server never completes the handshake gets KITH_ETIMEDOUT; the
 * server then sees the end of stream and calls eof(). */
static void test_handshake_timeout_client(void **state)
{
  (void)state;
  struct kl l;
  struct srv sv;
  struct cli c;
  kl_init(&l);
  srv_start(&l, &sv, NULL);
  struct kith_net_limits lim = kith_net_limits_default();
  lim.handshake_ms = 200;
  cli_start(&l, &c, sv.port, NULL, &lim); /* says nothing, so nothing comes back */
  kl_run_until(&l, c.dones == 1, 3000);
  assert_rc(c.result, KITH_ETIMEDOUT);
  assert_true(c.t_done - c.t_start >= 150);
  assert_true(c.t_done - c.t_start < 1500);
  kl_run_until(&l, sv.frees == 1, 2000);
  assert_int_equal(sv.last.eofs, 1);
  assert_int_equal(sv.eofs, 1);
  srv_stop(&l, &sv);
  kl_close(&l);
}

/* Once ESTABLISHED, the handshake allowance no longer applies and idle_ms does: the
 * server closes a silent established connection after idle_ms, not before. The
 * client sees the end of stream before "bye": its session's error is the result. */
static void test_idle_timeout_server(void **state)
{
  (void)state;
  struct kl l;
  struct srv sv;
  struct cli c;
  kl_init(&l);
  struct kith_net_limits lim = kith_net_limits_default();
  lim.handshake_ms = 150;
  lim.idle_ms = 600;
  srv_start(&l, &sv, &lim);
  cli_start(&l, &c, sv.port, "hello\n", NULL);
  kl_run_until(&l, c.dones == 1, 3000);
  assert_rc(c.result, KITH_EBADMSG); /* ls_eof: truncated */
  assert_int_equal(c.s.eofs, 1);
  assert_int_equal(c.s.gotlen, 6);
  assert_true(c.t_done - c.t_start >= 550);
  assert_true(c.t_done - c.t_start < 2000);
  kl_run_until(&l, sv.frees == 1, 2000);
  assert_int_equal(sv.last.st, KITH_SESSION_ESTABLISHED);
  assert_int_equal(sv.last.eofs, 0);
  srv_stop(&l, &sv);
  kl_close(&l);
}

/* The client side: established, then the server says nothing more. */
static void test_idle_timeout_client(void **state)
{
  (void)state;
  struct kl l;
  struct srv sv;
  struct cli c;
  kl_init(&l);
  srv_start(&l, &sv, NULL);
  struct kith_net_limits lim = kith_net_limits_default();
  lim.idle_ms = 200;
  cli_start(&l, &c, sv.port, "hello\n", &lim);
  kl_run_until(&l, c.dones == 1, 3000);
  assert_rc(c.result, KITH_ETIMEDOUT);
  assert_int_equal(c.s.st, KITH_SESSION_ESTABLISHED);
  assert_true(c.t_done - c.t_start >= 150);
  assert_true(c.t_done - c.t_start < 1500);
  kl_run_until(&l, sv.frees == 1, 2000);
  srv_stop(&l, &sv);
  kl_close(&l);
}

/* Bytes read keep an established connection alive past idle_ms, even when they
 * make the session say nothing (a line in pieces). */
struct ticker {
  uv_timer_t t;
  struct raw *r;
  int left;
};

static void ticker_cb(uv_timer_t *t)
{
  struct ticker *k = container_of(t, struct ticker, t);
  raw_write(k->r, "a", 1);
  if (--k->left == 0)
    uv_timer_stop(t);
}

static void test_idle_reset_by_traffic(void **state)
{
  (void)state;
  struct kl l;
  struct srv sv;
  struct raw r;
  struct ticker k;
  kl_init(&l);
  struct kith_net_limits lim = kith_net_limits_default();
  lim.idle_ms = 300;
  srv_start(&l, &sv, &lim);
  raw_connect(&l, &r, sv.port, true);
  raw_write(&r, "hi\n", 3);
  uint64_t t0 = now_ms();
  k.r = &r;
  k.left = 6;
  assert_int_equal(uv_timer_init(&l.loop, &k.t), 0);
  uv_timer_start(&k.t, ticker_cb, 100, 100); /* a byte at 100, 200, ... 600 ms */
  kl_run_until(&l, raw_ended(&r), 3000);
  /* last byte at ~600 ms, closed ~300 ms later */
  assert_true(r.t_end - t0 >= 800);
  assert_true(r.t_end - t0 < 2000);
  assert_int_equal(r.gotlen, 3);
  uv_close((uv_handle_t *)&k.t, NULL);
  raw_close(&l, &r);
  kl_run_until(&l, sv.frees == 1, 2000);
  assert_int_equal(sv.last.lines, 1);
  assert_int_equal(sv.last.linelen, 6);
  srv_stop(&l, &sv);
  kl_close(&l);
}

/* With max_conns 2 the third connection is accepted and closed at once, without a
 * session; the others keep working; a freed slot admits the next. */
static void test_max_conns(void **state)
{
  (void)state;
  struct kl l;
  struct srv sv;
  struct raw a, b, c, d;
  kl_init(&l);
  struct kith_net_limits lim = kith_net_limits_default();
  lim.max_conns = 2;
  srv_start(&l, &sv, &lim);

  raw_connect(&l, &a, sv.port, true);
  raw_connect(&l, &b, sv.port, true);
  raw_write(&a, "a\n", 2);
  raw_write(&b, "b\n", 2);
  kl_run_until(&l, a.gotlen == 2 && b.gotlen == 2, 2000);

  raw_connect(&l, &c, sv.port, true);
  kl_run_until(&l, raw_ended(&c), 2000);
  assert_int_equal(c.gotlen, 0);
  assert_int_equal(sv.news, 2);
  raw_close(&l, &c);

  raw_write(&a, "still\n", 6);
  kl_run_until(&l, a.gotlen == 8, 2000);
  assert_memory_equal(a.got, "a\nstill\n", 8);

  raw_close(&l, &a);
  kl_run_until(&l, sv.frees == 1, 2000);
  raw_connect(&l, &d, sv.port, true);
  raw_write(&d, "d\n", 2);
  kl_run_until(&l, d.gotlen == 2, 2000);
  assert_int_equal(sv.news, 3);
  assert_false(raw_ended(&b));

  raw_close(&l, &b);
  raw_close(&l, &d);
  kl_run_until(&l, sv.frees == 3, 2000);
  srv_stop(&l, &sv);
  kl_close(&l);
}

/* A factory that refuses: the connection is closed, free_session is not called. */
static void test_factory_refuses(void **state)
{
  (void)state;
  struct kl l;
  struct srv sv;
  struct raw r;
  kl_init(&l);
  srv_start(&l, &sv, NULL);
  sv.refuse = KITH_EBUSY;
  raw_connect(&l, &r, sv.port, true);
  kl_run_until(&l, raw_ended(&r), 2000);
  assert_int_equal(sv.news, 1);
  assert_int_equal(sv.frees, 0);
  raw_close(&l, &r);
  srv_stop(&l, &sv);
  assert_int_equal(sv.frees, 0);
  kl_close(&l);
}

/* A peer that disconnects in the middle of a line: eof() is called once, the
 * half line is still buffered in the session, and the session is freed. */
static void test_eof_mid_line(void **state)
{
  (void)state;
  struct kl l;
  struct srv sv;
  struct raw r;
  kl_init(&l);
  srv_start(&l, &sv, NULL);
  raw_connect(&l, &r, sv.port, false);
  raw_write(&r, "partial", 7);
  raw_close(&l, &r);
  kl_run_until(&l, sv.frees == 1, 2000);
  assert_int_equal(sv.last.eofs, 1);
  assert_int_equal(sv.last.linelen, 7);
  assert_memory_equal(sv.last.line, "partial", 7);
  assert_int_equal(sv.last.st, KITH_SESSION_FAILED);
  srv_stop(&l, &sv);
  kl_close(&l);
}

/* Garbage fails the session: what it had pending ("refused") still goes out, then
 * the connection closes; the server goes on serving others. A kith client that
 * gets the refusal reports its session's error. */
static void test_garbage(void **state)
{
  (void)state;
  struct kl l;
  struct srv sv;
  struct raw r;
  struct cli c;
  kl_init(&l);
  srv_start(&l, &sv, NULL);

  raw_connect(&l, &r, sv.port, true);
  raw_write(&r, "\x00\xff\x01garbage\r\n", 12);
  kl_run_until(&l, raw_ended(&r) && sv.frees == 1, 2000);
  assert_true(r.eof);
  assert_int_equal(r.gotlen, 8);
  assert_memory_equal(r.got, "refused\n", 8);
  assert_int_equal(sv.last.st, KITH_SESSION_FAILED);
  assert_int_equal(sv.last.eofs, 0);
  raw_close(&l, &r);

  cli_start(&l, &c, sv.port, "hi\nbad\nnever seen\n", NULL);
  kl_run_until(&l, c.dones == 1, 2000);
  assert_rc(c.result, KITH_EBADMSG);
  assert_int_equal(c.s.gotlen, 11);
  assert_memory_equal(c.s.got, "hi\nrefused\n", 11);
  kl_run_until(&l, sv.frees == 2, 2000);

  cli_start(&l, &c, sv.port, "fine\nbye\n", NULL);
  kl_run_until(&l, c.dones == 1, 2000);
  assert_rc(c.result, 0);
  kl_run_until(&l, sv.frees == 3, 2000);
  assert_int_equal(sv.news, 3);
  srv_stop(&l, &sv);
  kl_close(&l);
}

/* A session with endless output and a peer that never reads: the transport holds
 * at most max_write_bytes of it, takes at most 64 KiB at a time, and drops the
 * connection idle_ms after the peer stopped taking any. Then the peer reads what
 * the kernel still has: what the session gave minus what arrived is what the
 * transport was holding, and that is within the bound. */
static void test_write_bound(void **state)
{
  (void)state;
  struct kl l;
  struct srv sv;
  struct raw r;
  kl_init(&l);
  struct kith_net_limits lim = kith_net_limits_default();
  lim.max_write_bytes = 100000;
  lim.idle_ms = 300;
  srv_start(&l, &sv, &lim);

  raw_connect(&l, &r, sv.port, false);
  uint64_t t0 = now_ms();
  raw_write(&r, "flood\n", 6);
  kl_run_until(&l, sv.frees == 1, 10000);
  uint64_t t1 = now_ms();
  assert_true(t1 - t0 >= 300);
  size_t taken = sv.last.taken;
  assert_true(taken > 0);
  assert_true(taken < FLOOD_TOTAL); /* closed long before the session ran dry */
  assert_true(sv.last.max_take <= 65536);
  assert_int_equal(sv.last.eofs, 0);

  raw_read(&r);
  kl_run_until(&l, raw_ended(&r), 10000);
  assert_true(r.eof);
  assert_true(r.total <= taken);
  if (taken - r.total > lim.max_write_bytes)
    fail_msg("transport held %zu bytes, bound %zu", taken - r.total,
             lim.max_write_bytes);
  raw_close(&l, &r);
  srv_stop(&l, &sv);
  kl_close(&l);
}

/* DONE with much still to send: all of it goes out before the end of stream,
 * however many loop turns that takes. */
static void test_done_flushes(void **state)
{
  (void)state;
  struct kl l;
  struct srv sv;
  struct raw r;
  kl_init(&l);
  srv_start(&l, &sv, NULL);
  raw_connect(&l, &r, sv.port, true);
  raw_write(&r, "bigbye\n", 7);
  kl_run_until(&l, raw_ended(&r), 10000);
  assert_true(r.eof);
  assert_int_equal(r.read_err, 0);
  assert_int_equal(r.total, BIGBYE_TOTAL);
  kl_run_until(&l, sv.frees == 1, 2000);
  assert_int_equal(sv.last.st, KITH_SESSION_DONE);
  assert_int_equal(sv.last.taken, BIGBYE_TOTAL);
  raw_close(&l, &r);
  srv_stop(&l, &sv);
  kl_close(&l);
}

/* Output offered one 65,537-byte frame at a time, against a bound that is no
 * multiple of it: the transport takes each frame in at most two pieces (64 KiB
 * and the rest) and never fills the last sliver of room with a sliver of a frame,
 * which would stay a sliver for the rest of the connection (each completed write
 * frees its own size) and, on a long transfer, shrink writes to a few bytes. */
static void test_write_no_slivers(void **state)
{
  (void)state;
  struct kl l;
  struct srv sv;
  struct raw r;
  kl_init(&l);
  struct kith_net_limits lim = kith_net_limits_default();
  lim.max_write_bytes = 100000;
  srv_start(&l, &sv, &lim);
  raw_connect(&l, &r, sv.port, true);
  raw_write(&r, "framebye\n", 9);
  kl_run_until(&l, raw_ended(&r), 10000);
  assert_true(r.eof);
  assert_int_equal(r.total, (size_t)FRAMES * FRAME_LEN);
  kl_run_until(&l, sv.frees == 1, 2000);
  if (sv.last.takes > 2 * FRAMES)
    fail_msg("%zu frames taken in %zu pieces (at most 2 each)", (size_t)FRAMES,
             sv.last.takes);
  raw_close(&l, &r);
  srv_stop(&l, &sv);
  kl_close(&l);
}

/* A peer that sends without reading: once max_write_bytes of answers wait, the
 * server stops reading, so the session is never fed more than it can answer (its
 * own bounded buffer does not overflow: it never FAILS), and the stalled
 * connection is dropped after idle_ms. */
static void test_backpressure(void **state)
{
  (void)state;
  struct kl l;
  struct srv sv;
  struct raw r;
  kl_init(&l);
  struct kith_net_limits lim = kith_net_limits_default();
  lim.max_write_bytes = 65536;
  lim.idle_ms = 300;
  srv_start(&l, &sv, &lim);
  raw_connect(&l, &r, sv.port, false);

  const size_t line = 61, nlines = ((size_t)64 << 20) / line;
  char *flood = malloc(line * nlines);
  assert_non_null(flood);
  for (size_t i = 0; i < nlines; i++) {
    memset(flood + i * line, 'a' + (int)(i % 26), line - 1);
    flood[i * line + line - 1] = '\n';
  }
  raw_write(&r, flood, line * nlines);
  free(flood);
  kl_run_until(&l, sv.frees == 1, 10000);
  assert_int_equal(sv.last.st, KITH_SESSION_ESTABLISHED);
  assert_int_equal(sv.last.eofs, 0);
  assert_true(sv.last.lines > 0);
  assert_true((size_t)sv.last.lines < nlines);
  raw_close(&l, &r);
  srv_stop(&l, &sv);
  kl_close(&l);
}

/* The client side of a stall: a session with endless output, a server that
 * accepts and never reads. done gets KITH_ESTALLED, idle_ms after the last byte
 * went out. */
struct raw_server {
  uv_tcp_t tcp;
  struct raw peer; /* the one accepted connection, never read */
  int accepted;
};

static void raw_server_on_connection(uv_stream_t *ls, int status)
{
  struct raw_server *rs = container_of(ls, struct raw_server, tcp);
  assert_int_equal(status, 0);
  assert_int_equal(rs->accepted, 0);
  assert_int_equal(uv_tcp_init(ls->loop, &rs->peer.tcp), 0);
  assert_int_equal(uv_accept(ls, (uv_stream_t *)&rs->peer.tcp), 0);
  rs->accepted = 1;
}

static void test_client_stalled(void **state)
{
  (void)state;
  struct kl l;
  struct raw_server rs;
  struct cli c;
  struct sockaddr_storage a;
  int len = (int)sizeof a;
  kl_init(&l);
  memset(&rs, 0, sizeof rs);
  assert_rc(kith_net_parse_addr("127.0.0.1:0", &a), 0);
  assert_int_equal(uv_tcp_init(&l.loop, &rs.tcp), 0);
  assert_int_equal(uv_tcp_bind(&rs.tcp, (struct sockaddr *)&a, 0), 0);
  assert_int_equal(uv_listen((uv_stream_t *)&rs.tcp, 8, raw_server_on_connection), 0);
  assert_int_equal(uv_tcp_getsockname(&rs.tcp, (struct sockaddr *)&a, &len), 0);

  struct kith_net_limits lim = kith_net_limits_default();
  lim.max_write_bytes = 65536;
  lim.idle_ms = 300;
  cli_start(&l, &c, ntohs(((struct sockaddr_in *)&a)->sin_port), "hello\n", &lim);
  c.s.st = KITH_SESSION_ESTABLISHED; /* so that idle_ms, not the handshake, applies */
  c.s.flood_left = FLOOD_TOTAL;
  kl_run_until(&l, c.dones == 1, 10000);
  assert_rc(c.result, KITH_ESTALLED);
  assert_true(c.t_done - c.t_start >= 300);
  assert_true(c.s.taken > 0 && c.s.taken < FLOOD_TOTAL);
  assert_true(c.s.max_take <= 65536);
  assert_false(c.s.misuse);
  assert_int_equal(rs.accepted, 1);
  raw_close(&l, &rs.peer);
  uv_close((uv_handle_t *)&rs.tcp, NULL);
  kl_close(&l);
}

/* Stopping a server with connections open: they close, every session is freed
 * before the stop callback, and the peers see the end of stream. */
static void test_stop_with_open_conns(void **state)
{
  (void)state;
  struct kl l;
  struct srv sv;
  struct raw a, b;
  kl_init(&l);
  srv_start(&l, &sv, NULL);
  raw_connect(&l, &a, sv.port, true);
  raw_connect(&l, &b, sv.port, true);
  raw_write(&a, "x\n", 2);
  kl_run_until(&l, a.gotlen == 2 && sv.news == 2, 2000);
  srv_stop(&l, &sv);
  assert_int_equal(sv.frees_at_stop, 2);
  kl_run_until(&l, raw_ended(&a) && raw_ended(&b), 2000);
  raw_close(&l, &a);
  raw_close(&l, &b);
  kl_close(&l);
}

/* ---- kith_net_server_start_ex: the peer's address, room, wake, answers after eof */

struct ex {
  struct srv sv;     /* counters and the last session, as for the plain factory */
  struct ls *cur;    /* the live session */
  size_t room;       /* what room() answers */
  size_t max_feed;   /* the largest feed seen */
  int feeds, rooms;  /* calls */
  bool finish_later; /* eof() returns 0 and leaves the session running */
  char peer[64];     /* the address new_session was given */
};

static struct ex *ex_of; /* the vt's wrappers find the test here */

static int ex_feed(void *p, const uint8_t *in, size_t len)
{
  ex_of->feeds++;
  if (len > ex_of->max_feed)
    ex_of->max_feed = len;
  return ls_feed(p, in, len);
}

static int ex_eof(void *p)
{
  struct ls *s = p;
  if (ex_of->finish_later && s->st == KITH_SESSION_ESTABLISHED) {
    s->eofs++;
    return 0; /* answers owed: keep writing */
  }
  return ls_eof(p);
}

static const struct kith_session_vt ex_vt = {ex_feed, ls_pending, ls_consumed, ex_eof,
                                             ls_state};

static int ex_new(void *arg, const struct sockaddr *peer,
                  const struct kith_session_vt **vt, void **session)
{
  struct ex *x = arg;
  const struct sockaddr_in *a4 = (const struct sockaddr_in *)peer;
  assert_int_equal(peer->sa_family, AF_INET);
  assert_non_null(inet_ntop(AF_INET, &a4->sin_addr, x->peer, sizeof x->peer));
  int rc = srv_new(&x->sv, vt, session);
  if (rc == 0) {
    *vt = &ex_vt;
    x->cur = *session;
  }
  return rc;
}

static void ex_free(void *arg, void *session)
{
  struct ex *x = arg;
  x->cur = NULL;
  srv_free(&x->sv, session);
}

static size_t ex_room(void *arg, void *session)
{
  struct ex *x = arg;
  assert_ptr_equal(session, x->cur);
  x->rooms++;
  return x->room;
}

static void test_ex_room_wake(void **state)
{
  (void)state;
  static const struct kith_net_factory_ex f = {ex_new, ex_free, ex_room};
  static const struct kith_net_factory_ex no_free = {ex_new, NULL, ex_room};
  struct kl l;
  struct ex x;
  struct raw r;
  struct sockaddr_storage a;
  memset(&x, 0, sizeof x);
  ex_of = &x;
  kl_init(&l);
  assert_rc(kith_net_parse_addr("127.0.0.1:0", &a), 0);
  kith_net_server *bad = (kith_net_server *)1;
  assert_rc(kith_net_server_start_ex(&l.loop, (struct sockaddr *)&a, NULL, &no_free, &x,
                                     &bad),
            KITH_EINVAL);
  assert_null(bad);
  assert_rc(
      kith_net_server_start_ex(&l.loop, (struct sockaddr *)&a, NULL, NULL, &x, &bad),
      KITH_EINVAL);
  assert_rc(
      kith_net_server_start_ex(&l.loop, (struct sockaddr *)&a, NULL, &f, &x, &x.sv.net),
      0);
  x.sv.port = kith_net_server_port(x.sv.net);

  /* room 0: what the peer sends waits in the socket, unread */
  raw_connect(&l, &r, x.sv.port, true);
  raw_write(&r, "hello\n", 6);
  kl_run_until(&l, x.cur != NULL, 2000);
  assert_string_equal(x.peer, "127.0.0.1");
  kl_run_for(&l, 100);
  assert_int_equal(x.feeds, 0);
  assert_true(x.rooms > 0);

  /* room 3: a wake makes the transport read again, 3 bytes a feed at most */
  x.room = 3;
  kith_net_server_wake(x.sv.net);
  kl_run_until(&l, r.gotlen == 6, 2000);
  assert_memory_equal(r.got, "hello\n", 6);
  assert_int_equal(x.max_feed, 3);
  assert_int_equal(x.feeds, 2);

  /* the peer ends its side with answers owed: the connection writes on */
  x.room = SIZE_MAX;
  x.finish_later = true;
  uv_shutdown_t sh;
  assert_int_equal(uv_shutdown(&sh, (uv_stream_t *)&r.tcp, NULL), 0);
  kl_run_until(&l, x.cur && x.cur->eofs == 1, 2000);
  kl_run_for(&l, 50);
  assert_false(raw_ended(&r)); /* still open */
  memcpy(x.cur->out, "late\n", 5);
  x.cur->outlen = 5;
  x.cur->st = KITH_SESSION_DONE;
  kith_net_server_wake(x.sv.net);
  kl_run_until(&l, raw_ended(&r), 2000);
  assert_true(r.eof);
  assert_int_equal(r.gotlen, 11);
  assert_memory_equal(r.got + 6, "late\n", 5);
  kl_run_until(&l, x.sv.frees == 1, 2000);
  raw_close(&l, &r);
  kith_net_server_wake(NULL);
  srv_stop(&l, &x.sv);
  kl_close(&l);
  ex_of = NULL;
}

int main(void)
{
  memset(flood_buf, 'x', sizeof flood_buf);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_addr),
      cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_addr_in_use),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_many_sequential),
      cmocka_unit_test(test_refused),
      cmocka_unit_test(test_connect_timeout),
      cmocka_unit_test(test_handshake_timeout_server),
      cmocka_unit_test(test_handshake_timeout_client),
      cmocka_unit_test(test_idle_timeout_server),
      cmocka_unit_test(test_idle_timeout_client),
      cmocka_unit_test(test_idle_reset_by_traffic),
      cmocka_unit_test(test_max_conns),
      cmocka_unit_test(test_factory_refuses),
      cmocka_unit_test(test_eof_mid_line),
      cmocka_unit_test(test_garbage),
      cmocka_unit_test(test_write_bound),
      cmocka_unit_test(test_write_no_slivers),
      cmocka_unit_test(test_done_flushes),
      cmocka_unit_test(test_backpressure),
      cmocka_unit_test(test_client_stalled),
      cmocka_unit_test(test_stop_with_open_conns),
      cmocka_unit_test(test_ex_room_wake),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
