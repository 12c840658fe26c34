/*
 * test_disc.c — net/disc.h over loopback multicast: two kith_disc instances in
 * one loop, on group 239.255.70.77, a port derived from the pid (so that two test
 * runs on one host rarely meet) and iface 127.0.0.1. Each must hear the other;
 * announce sends at once; datagrams over 512 bytes are dropped; bad options are
 * refused; stop calls done after the handles are closed.
 *
 * Payloads carry a random run token, so strays from another process on the same
 * group and port are ignored. A host without loopback multicast (start fails with
 * KITH_EUNAVAIL) skips these tests rather than failing them.
 *
 * Every loop run is bounded by a 5 s guard timer that fails the test; every test
 * ends with uv_loop_close() == 0, so a handle left open fails it.
 */
#include "kt_loop.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <uv.h>

#include "net/disc.h"

#define GROUP "239.255.70.77"
#define IFACE "127.0.0.1"
#define GUARD_MS 5000

static uint8_t token[8]; /* this run's, in every payload */

static uint16_t test_port(void)
{
  return (uint16_t)(20000 + getpid() % 20000);
}

/* ---- a peer: sends "token | name | counter", records what it hears ----------- */

struct peer {
  char name;           /* 'a' or 'b' */
  uint32_t sent;       /* payloads made so far */
  bool decline;        /* make() declines to give a payload */
  size_t size;         /* if not 0: send this many bytes (token, name, zeros) */
  uint32_t heard[256]; /* by sender name: the highest counter heard (from 1) */
  int datagrams;       /* of this run, any sender */
  size_t last_len;
  struct sockaddr_in last_from;
  bool stopped;
  int makes;
};

#define HDR (sizeof token + 1)

static int peer_make(void *arg, uint8_t *buf, size_t cap, size_t *len)
{
  struct peer *p = arg;
  p->makes++;
  assert_int_equal(cap, KITH_DISC_MAX_DATAGRAM);
  if (p->decline)
    return KITH_EINVAL;
  memcpy(buf, token, sizeof token);
  buf[sizeof token] = (uint8_t)p->name;
  p->sent++;
  memcpy(buf + HDR, &p->sent, sizeof p->sent);
  *len = HDR + sizeof p->sent;
  return 0;
}

static void peer_recv(void *arg, const uint8_t *buf, size_t len,
                      const struct sockaddr *from)
{
  struct peer *p = arg;
  uint32_t n;
  assert_false(p->stopped);
  assert_true(len <= KITH_DISC_MAX_DATAGRAM);
  if (len < HDR + sizeof n || memcmp(buf, token, sizeof token) != 0)
    return; /* another process's */
  assert_int_equal(from->sa_family, AF_INET);
  memcpy(&p->last_from, from, sizeof p->last_from);
  p->datagrams++;
  p->last_len = len;
  memcpy(&n, buf + HDR, sizeof n);
  if (n > p->heard[buf[sizeof token]])
    p->heard[buf[sizeof token]] = n;
}

static void peer_init(struct peer *p, char name)
{
  memset(p, 0, sizeof *p);
  p->name = name;
}

static struct kith_disc_opts opts_for(struct peer *p, uint64_t interval_ms)
{
  struct kith_disc_opts o = {
      .group = GROUP,
      .port = test_port(),
      .iface = IFACE,
      .interval_ms = interval_ms,
      .make = peer_make,
      .recv = peer_recv,
      .arg = p,
  };
  return o;
}

static int dones;
static void on_done(void *arg)
{
  struct peer *p = arg;
  p->stopped = true;
  dones++;
}

/* Starts a disc for p; skips the test (after closing the loop) if this host has
 * no loopback multicast. */
static kith_disc *start_or_skip(struct kl *l, struct peer *p, uint64_t interval_ms)
{
  struct kith_disc_opts o = opts_for(p, interval_ms);
  kith_disc *d = NULL;
  int rc = kith_disc_start(&l->loop, &o, &d);
  if (rc == KITH_EUNAVAIL) {
    assert_null(d);
    kl_close(l);
    print_message("no multicast on %s here (%s): skipped\n", IFACE, kith_strerror(rc));
    skip();
  }
  assert_rc(rc, 0);
  assert_non_null(d);
  return d;
}

static void stop_both(struct kl *l, kith_disc *a, struct peer *pa, kith_disc *b,
                      struct peer *pb)
{
  dones = 0;
  kith_disc_stop(a, on_done, pa);
  kith_disc_stop(b, on_done, pb);
  assert_int_equal(dones, 0); /* only after the close callbacks */
  kl_run_until(l, dones == 2, GUARD_MS);
  assert_true(pa->stopped && pb->stopped);
}

/* ---- tests ------------------------------------------------------------------- */

/* Each hears the other (and itself) within the guard, by the interval alone. */
static void test_hear_each_other(void **state)
{
  (void)state;
  struct kl l;
  struct peer pa, pb;
  kl_init(&l);
  peer_init(&pa, 'a');
  peer_init(&pb, 'b');
  kith_disc *a = start_or_skip(&l, &pa, KITH_DISC_INTERVAL_MS_MIN);
  kith_disc *b = start_or_skip(&l, &pb, KITH_DISC_INTERVAL_MS_MIN);
  assert_int_equal(pa.makes, 1); /* one at once */
  assert_int_equal(pb.makes, 1);

  kl_run_until(&l, pa.heard['b'] > 0 && pb.heard['a'] > 0, GUARD_MS);
  kl_run_until(&l, pa.heard['a'] > 0 && pb.heard['b'] > 0, GUARD_MS); /* looped */
  assert_int_equal(pa.last_from.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  assert_int_equal(ntohs(pa.last_from.sin_port), test_port()); /* the bound port */
  assert_int_equal(pa.last_len, HDR + 4);

  stop_both(&l, a, &pa, b, &pb);
  kl_close(&l);
}

/* With an interval far beyond the test, only start and announce send; b's
 * payload sent at start reaches a, which already listens, and a's announce
 * reaches b at once. */
static void test_announce(void **state)
{
  (void)state;
  struct kl l;
  struct peer pa, pb;
  kl_init(&l);
  peer_init(&pa, 'a');
  peer_init(&pb, 'b');
  kith_disc *a = start_or_skip(&l, &pa, 3600 * 1000);
  kith_disc *b = start_or_skip(&l, &pb, 3600 * 1000);
  kl_run_until(&l, pa.heard['b'] == 1, GUARD_MS);
  assert_int_equal(pb.heard['a'], 0); /* a's first went out before b listened */

  uint64_t t0 = uv_now(&l.loop);
  assert_rc(kith_disc_announce(a), 0);
  assert_int_equal(pa.sent, 2);
  kl_run_until(&l, pb.heard['a'] == 2, GUARD_MS);
  assert_true(uv_now(&l.loop) - t0 < 1000);

  /* make declining: nothing sent, and announce still returns 0. */
  pa.decline = true;
  assert_rc(kith_disc_announce(a), 0);
  assert_int_equal(pa.makes, 3);
  pa.decline = false;
  assert_rc(kith_disc_announce(a), 0);
  kl_run_until(&l, pb.heard['a'] == 3, GUARD_MS);

  stop_both(&l, a, &pa, b, &pb);
  kl_close(&l);
}

/* A raw sender on the group: 513 bytes are dropped, 512 arrive. */
static void test_too_large(void **state)
{
  (void)state;
  struct kl l;
  struct peer pa, pb;
  uv_udp_t raw;
  struct sockaddr_in to;
  uint8_t big[KITH_DISC_MAX_DATAGRAM + 1];
  kl_init(&l);
  peer_init(&pa, 'a');
  peer_init(&pb, 'b');
  kith_disc *a = start_or_skip(&l, &pa, 3600 * 1000);
  kith_disc *b = start_or_skip(&l, &pb, 3600 * 1000);
  kl_run_until(&l, pa.heard['b'] == 1, GUARD_MS);
  int before = pa.datagrams;

  assert_int_equal(uv_udp_init(&l.loop, &raw), 0);
  assert_int_equal(uv_ip4_addr(IFACE, 0, &to), 0);
  assert_int_equal(uv_udp_bind(&raw, (struct sockaddr *)&to, 0), 0);
  assert_int_equal(uv_udp_set_multicast_interface(&raw, IFACE), 0);
  assert_int_equal(uv_ip4_addr(GROUP, test_port(), &to), 0);
  memset(big, 0, sizeof big);
  memcpy(big, token, sizeof token);
  big[sizeof token] = 'r';
  uv_buf_t buf = uv_buf_init((char *)big, sizeof big);
  assert_int_equal(uv_udp_try_send(&raw, &buf, 1, (struct sockaddr *)&to),
                   (int)sizeof big);
  buf.len = KITH_DISC_MAX_DATAGRAM;
  uint32_t seven = 7;
  memcpy(big + HDR, &seven, sizeof seven);
  assert_int_equal(uv_udp_try_send(&raw, &buf, 1, (struct sockaddr *)&to),
                   KITH_DISC_MAX_DATAGRAM);
  kl_run_until(&l, pa.heard['r'] == 7, GUARD_MS);
  /* Datagrams arrive in order on loopback: the 513 came first and was dropped. */
  assert_int_equal(pa.datagrams, before + 1);
  assert_int_equal(pa.last_len, KITH_DISC_MAX_DATAGRAM);

  uv_close((uv_handle_t *)&raw, NULL);
  stop_both(&l, a, &pa, b, &pb);
  kl_close(&l);
}

/* recv may stop its own disc; nothing arrives after. */
static struct kith_disc *self_stopper;
static int self_stop_recvs;
static void recv_and_stop(void *arg, const uint8_t *buf, size_t len,
                          const struct sockaddr *from)
{
  (void)buf;
  (void)len;
  (void)from;
  self_stop_recvs++;
  assert_non_null(self_stopper);
  kith_disc_stop(self_stopper, on_done, arg);
  self_stopper = NULL;
}

static void test_stop_in_recv(void **state)
{
  (void)state;
  struct kl l;
  struct peer pa;
  kl_init(&l);
  peer_init(&pa, 'a');
  struct kith_disc_opts o = opts_for(&pa, KITH_DISC_INTERVAL_MS_MIN);
  o.recv = recv_and_stop;
  dones = 0;
  self_stop_recvs = 0;
  int rc = kith_disc_start(&l.loop, &o, &self_stopper);
  if (rc == KITH_EUNAVAIL) {
    kl_close(&l);
    skip();
  }
  assert_rc(rc, 0);
  /* Its own first datagram comes back (loop on) and stops it. */
  kl_run_until(&l, dones == 1, GUARD_MS);
  assert_int_equal(self_stop_recvs, 1);
  kl_close(&l);
}

static void test_bad_options(void **state)
{
  (void)state;
  struct kl l;
  struct peer p;
  kith_disc *d = (kith_disc *)&p; /* must be reset to NULL */
  kl_init(&l);
  peer_init(&p, 'a');
  struct kith_disc_opts o = opts_for(&p, 0);

  assert_rc(kith_disc_start(&l.loop, &o, NULL), KITH_EINVAL);
  assert_rc(kith_disc_start(NULL, &o, &d), KITH_EINVAL);
  assert_null(d);
  assert_rc(kith_disc_start(&l.loop, NULL, &d), KITH_EINVAL);

  static const char *bad_groups[] = {"10.0.0.1", "240.0.0.1", "239.255.70",
                                     "ff02::1",  "",          "239.255.70.77 ",
                                     "localhost"};
  for (size_t i = 0; i < sizeof bad_groups / sizeof *bad_groups; i++) {
    o = opts_for(&p, 0);
    o.group = bad_groups[i];
    assert_rc(kith_disc_start(&l.loop, &o, &d), KITH_EINVAL);
    assert_null(d);
  }
  static const char *bad_ifaces[] = {"", "lo", "::1", "127.0.0.1.1",
                                     "127.000.000.001.000000"};
  for (size_t i = 0; i < sizeof bad_ifaces / sizeof *bad_ifaces; i++) {
    o = opts_for(&p, 0);
    o.iface = bad_ifaces[i];
    assert_rc(kith_disc_start(&l.loop, &o, &d), KITH_EINVAL);
  }
  o = opts_for(&p, KITH_DISC_INTERVAL_MS_MIN - 1);
  assert_rc(kith_disc_start(&l.loop, &o, &d), KITH_EINVAL);
  o = opts_for(&p, (uint64_t)KITH_DISC_INTERVAL_MS_MAX + 1);
  assert_rc(kith_disc_start(&l.loop, &o, &d), KITH_EINVAL);
  o = opts_for(&p, 0);
  o.make = NULL;
  assert_rc(kith_disc_start(&l.loop, &o, &d), KITH_EINVAL);
  o = opts_for(&p, 0);
  o.recv = NULL;
  assert_rc(kith_disc_start(&l.loop, &o, &d), KITH_EINVAL);
  assert_int_equal(p.makes, 0);

  /* An address that is no interface of this host: no multicast there. */
  o = opts_for(&p, 0);
  o.iface = "192.0.2.1";
  assert_rc(kith_disc_start(&l.loop, &o, &d), KITH_EUNAVAIL);
  assert_null(d);
  assert_int_equal(p.makes, 0);

  kith_disc_stop(NULL, on_done, &p); /* NULL-safe, done not called */
  assert_false(p.stopped);
  kl_close(&l); /* what the failed starts made is gone */
}

/* A port taken by a socket without SO_REUSEADDR (one the kernel picked, so no
 * other test run holds it). */
static void test_addr_in_use(void **state)
{
  (void)state;
  struct kl l;
  struct peer p;
  uv_udp_t taker;
  struct sockaddr_in any;
  int len = (int)sizeof any;
  kith_disc *d = NULL;
  kl_init(&l);
  peer_init(&p, 'a');
  assert_int_equal(uv_udp_init(&l.loop, &taker), 0);
  assert_int_equal(uv_ip4_addr("0.0.0.0", 0, &any), 0);
  assert_int_equal(uv_udp_bind(&taker, (struct sockaddr *)&any, 0), 0);
  assert_int_equal(uv_udp_getsockname(&taker, (struct sockaddr *)&any, &len), 0);
  struct kith_disc_opts o = opts_for(&p, 0);
  o.port = ntohs(any.sin_port);
  assert_rc(kith_disc_start(&l.loop, &o, &d), KITH_EADDRINUSE);
  assert_null(d);
  uv_close((uv_handle_t *)&taker, NULL);
  kl_close(&l);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hear_each_other), cmocka_unit_test(test_announce),
      cmocka_unit_test(test_too_large),       cmocka_unit_test(test_stop_in_recv),
      cmocka_unit_test(test_bad_options),     cmocka_unit_test(test_addr_in_use),
  };
  if (sodium_init() < 0)
    return 1;
  randombytes_buf(token, sizeof token);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
