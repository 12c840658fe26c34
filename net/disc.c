/*
 * disc.c — the multicast transport of disc.h: one struct embedding the UDP socket
 * and the interval timer, freed when both close callbacks have run.
 */
#include "net/disc.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

enum disc_state { DISC_RUNNING, DISC_CLOSING };

struct kith_disc {
  uv_udp_t udp;
  uv_timer_t timer;
  enum disc_state state;
  int open_handles; /* close callbacks still to come */
  bool making;      /* inside make(): stop and announce are refused there */

  struct sockaddr_in dest; /* the group and port */
  int (*make)(void *arg, uint8_t *buf, size_t cap, size_t *len);
  void (*recv)(void *arg, const uint8_t *buf, size_t len, const struct sockaddr *from);
  void *arg;
  void (*done)(void *arg);
  void *done_arg;

  /* One buffer each way: try_send copies into the kernel before it returns, and
   * libuv hands each received datagram to recv before it reads the next. */
  uint8_t sbuf[KITH_DISC_MAX_DATAGRAM];
  uint8_t rbuf[KITH_DISC_MAX_DATAGRAM];
};

/* libuv codes enter here. Which of them mean "no multicast here" was found on
 * Linux: joining on an interface without multicast or an address that is no
 * interface's gives ENODEV or EADDRNOTAVAIL, joining or sending with no route for
 * the group ENODEV or ENETUNREACH. */
static int map_uv(int uverr)
{
  switch (uverr) {
  case UV_ENOMEM:
  case UV_ENOBUFS:
    return KITH_ENOMEM;
  case UV_EINVAL:
  case UV_EAFNOSUPPORT:
    return KITH_EINVAL;
  case UV_EADDRINUSE:
    return KITH_EADDRINUSE;
  case UV_ENODEV:
  case UV_EADDRNOTAVAIL:
  case UV_ENETUNREACH:
  case UV_ENETDOWN:
  case UV_EHOSTUNREACH:
    return KITH_EUNAVAIL;
  }
  return KITH_EIO;
}

/* Asks make for a datagram and sends it. 0 when make declined, or the kernel had
 * no room for it (UDP would lose it later just as well). */
static int disc_send(struct kith_disc *d)
{
  size_t len = 0;
  d->making = true;
  int rc = d->make(d->arg, d->sbuf, sizeof d->sbuf, &len);
  d->making = false;
  if (rc != 0 || len > sizeof d->sbuf)
    return 0;
  uv_buf_t b = uv_buf_init((char *)d->sbuf, (unsigned)len);
  rc = uv_udp_try_send(&d->udp, &b, 1, (const struct sockaddr *)&d->dest);
  if (rc >= 0 || rc == UV_EAGAIN)
    return 0;
  return map_uv(rc);
}

static void disc_on_timer(uv_timer_t *t)
{
  struct kith_disc *d = container_of(t, struct kith_disc, timer);
  (void)disc_send(d); /* best effort: the next interval tries again */
}

static void disc_on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
  struct kith_disc *d = container_of(h, struct kith_disc, udp);
  (void)hint;
  *buf = uv_buf_init((char *)d->rbuf, sizeof d->rbuf);
}

static void disc_on_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *buf,
                         const struct sockaddr *from, unsigned flags)
{
  struct kith_disc *d = container_of(u, struct kith_disc, udp);
  (void)buf; /* always d->rbuf */
  /* n < 0: a transient socket error, there is nothing to do but read on;
   * from NULL: nothing more to read for now; UV_UDP_PARTIAL: larger than the
   * buffer, so larger than KITH_DISC_MAX_DATAGRAM. */
  if (n < 0 || !from || (flags & UV_UDP_PARTIAL) || d->state != DISC_RUNNING)
    return;
  d->recv(d->arg, d->rbuf, (size_t)n, from);
}

static void disc_on_close(uv_handle_t *h)
{
  struct kith_disc *d = h->data;
  if (--d->open_handles > 0)
    return;
  void (*done)(void *) = d->done;
  void *arg = d->done_arg;
  free(d);
  if (done)
    done(arg);
}

static void disc_close(struct kith_disc *d, void (*done)(void *arg), void *arg)
{
  d->state = DISC_CLOSING;
  d->done = done;
  d->done_arg = arg;
  uv_close((uv_handle_t *)&d->udp, disc_on_close);
  uv_close((uv_handle_t *)&d->timer, disc_on_close);
}

/* A dotted IPv4 literal into out (at least INET_ADDRSTRLEN bytes) and addr. */
static bool ipv4_literal(const char *text, char *out, struct in_addr *addr)
{
  size_t n = strnlen(text, INET_ADDRSTRLEN);
  if (n == INET_ADDRSTRLEN || inet_pton(AF_INET, text, addr) != 1)
    return false;
  memcpy(out, text, n + 1);
  return true;
}

int kith_disc_start(uv_loop_t *loop, const struct kith_disc_opts *o, kith_disc **out)
{
  char group[INET_ADDRSTRLEN], iface[INET_ADDRSTRLEN];
  struct in_addr ga, ia;
  struct sockaddr_in any;
  struct kith_disc *d = NULL;
  int rc;

  if (!out)
    return KITH_EINVAL;
  *out = NULL;
  if (!loop || !o || !o->make || !o->recv)
    return KITH_EINVAL;
  uint64_t interval = o->interval_ms ? o->interval_ms : KITH_DISC_INTERVAL_MS_DEFAULT;
  uint16_t port = o->port ? o->port : KITH_DISC_PORT_DEFAULT;
  if (!ipv4_literal(o->group ? o->group : KITH_DISC_GROUP_DEFAULT, group, &ga) ||
      !IN_MULTICAST(ntohl(ga.s_addr)) ||
      (o->iface && !ipv4_literal(o->iface, iface, &ia)) ||
      interval < KITH_DISC_INTERVAL_MS_MIN || interval > KITH_DISC_INTERVAL_MS_MAX)
    return KITH_EINVAL;

  d = calloc(1, sizeof *d);
  if (!d)
    return KITH_ENOMEM;
  if (uv_udp_init(loop, &d->udp) != 0) {
    free(d);
    return KITH_ENOMEM;
  }
  uv_timer_init(loop, &d->timer); /* can't fail */
  d->udp.data = d;
  d->timer.data = d;
  d->open_handles = 2;
  d->state = DISC_RUNNING;
  d->make = o->make;
  d->recv = o->recv;
  d->arg = o->arg;
  d->dest.sin_family = AF_INET;
  d->dest.sin_addr = ga;
  d->dest.sin_port = htons(port);

  memset(&any, 0, sizeof any);
  any.sin_family = AF_INET;
  any.sin_addr.s_addr = htonl(INADDR_ANY);
  any.sin_port = htons(port);
  /* From here on, a failure closes both handles and d is freed in disc_on_close,
   * silently (no done). */
  rc = uv_udp_bind(&d->udp, (const struct sockaddr *)&any, UV_UDP_REUSEADDR);
  if (!rc)
    rc = uv_udp_set_membership(&d->udp, group, o->iface ? iface : NULL, UV_JOIN_GROUP);
  if (!rc && o->iface)
    rc = uv_udp_set_multicast_interface(&d->udp, iface);
  if (!rc)
    rc = uv_udp_set_multicast_ttl(&d->udp, 1);
  if (!rc)
    rc = uv_udp_set_multicast_loop(&d->udp, 1);
  if (!rc)
    rc = uv_udp_recv_start(&d->udp, disc_on_alloc, disc_on_recv);
  if (rc) {
    rc = map_uv(rc);
    goto fail;
  }
  rc = disc_send(d);
  if (rc)
    goto fail;
  uv_timer_start(&d->timer, disc_on_timer, interval, interval);
  *out = d;
  return 0;
fail:
  disc_close(d, NULL, NULL);
  return rc;
}

int kith_disc_announce(kith_disc *d)
{
  assert(d && d->state == DISC_RUNNING && !d->making);
  return disc_send(d);
}

void kith_disc_stop(kith_disc *d, void (*done)(void *arg), void *arg)
{
  if (!d)
    return;
  assert(d->state == DISC_RUNNING && !d->making);
  disc_close(d, done, arg);
}
