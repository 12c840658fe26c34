/*
 * conn.c — the TCP transport of conn.h: one struct per connection embedding its
 * socket and its timer, an explicit state, freed only when both handles' close
 * callbacks have run.
 */
#include "net/conn.h"

#include <assert.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

enum conn_state {
  CONN_CONNECTING, /* client: uv_tcp_connect in flight */
  CONN_OPEN,       /* reading and writing, feeding the session */
  CONN_DRAINING,   /* session ended: writing what it has left, reads discarded */
  CONN_CLOSING,    /* uv_close called on both handles; freed in the last close_cb */
};

/* One write request copies at most this much, so that progress (and with it the
 * idle clock) is seen at least every 64 KiB a slow peer reads. */
#define WREQ_MAX 65536

struct wreq {
  uv_write_t req;
  struct kith_net_conn *c;
  size_t len;
  uint8_t data[];
};

struct kith_net_conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  enum conn_state state;
  int open_handles; /* close callbacks still to come */
  struct kith_net_limits lim;

  const struct kith_session_vt *vt;
  void *session;

  uint8_t *rbuf; /* lim.read_buf_bytes, allocated once */
  size_t wbytes; /* bytes in write requests not yet completed */
  bool reading, eof_seen, established, shutdown_sent;
  bool held;  /* the session has output that waits for room (conn_pull) */
  int err;    /* why we are draining after a failure, else 0 */
  int result; /* why the connection ended; 0 only after DONE and shutdown */

  uint64_t t_start;  /* connect started, or connection accepted */
  uint64_t t_open;   /* connection up: the handshake deadline counts from here */
  uint64_t t_active; /* last byte read or written */
  uint64_t t_drain;  /* entered DRAINING */

  uv_connect_t connect_req;
  uv_shutdown_t shutdown_req;

  /* client */
  void (*done)(void *arg, int result);
  void *done_arg;

  /* server */
  struct kith_net_server *srv;
  struct kith_net_conn *prev, *next;
  bool admitted; /* counts against max_conns */
};

enum server_state { SRV_LISTENING, SRV_STOPPING };

struct kith_net_server {
  uv_tcp_t tcp;
  enum server_state state;
  bool listener_closed;
  struct kith_net_limits lim;
  struct kith_net_factory_ex factory; /* a plain factory's calls go through plain */
  struct kith_net_factory plain;
  void *arg;
  struct kith_net_conn *conns; /* every connection not yet freed */
  size_t nconns, nadmitted;
  uint16_t port;
  void (*stop_done)(void *arg);
};

static void conn_step(struct kith_net_conn *c);

/* ---- limits and addresses ------------------------------------------------------ */

struct kith_net_limits kith_net_limits_default(void)
{
  struct kith_net_limits l = {
      .max_conns = KITH_NET_MAX_CONNS_DEFAULT,
      .max_write_bytes = KITH_NET_MAX_WRITE_DEFAULT,
      .read_buf_bytes = KITH_NET_READ_BUF_DEFAULT,
      .connect_ms = KITH_NET_CONNECT_MS_DEFAULT,
      .handshake_ms = KITH_NET_HANDSHAKE_MS_DEFAULT,
      .idle_ms = KITH_NET_IDLE_MS_DEFAULT,
  };
  return l;
}

static int limits_check(const struct kith_net_limits *l)
{
  if (l->max_conns < 1 || l->max_write_bytes < 1 ||
      l->max_write_bytes > KITH_NET_BUF_MAX || l->read_buf_bytes < 1 ||
      l->read_buf_bytes > KITH_NET_BUF_MAX || l->connect_ms < 1 ||
      l->handshake_ms < 1 || l->idle_ms < 1)
    return KITH_EINVAL;
  return 0;
}

/* A decimal port, 0..65535, digits only. */
static int parse_port(const char *s, uint16_t *out)
{
  unsigned long v = 0;
  size_t i = 0;
  for (; s[i]; i++) {
    if (s[i] < '0' || s[i] > '9' || i >= 5)
      return KITH_EINVAL;
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  if (i == 0 || v > 65535)
    return KITH_EINVAL;
  *out = (uint16_t)v;
  return 0;
}

int kith_net_parse_addr(const char *text, struct sockaddr_storage *out)
{
  char host[INET6_ADDRSTRLEN];
  const char *h, *port;
  size_t hlen;
  uint16_t p;

  if (!out)
    return KITH_EINVAL;
  memset(out, 0, sizeof *out);
  if (!text)
    return KITH_EINVAL;
  if (text[0] == '[') {
    const char *close = strchr(text, ']');
    if (!close || close[1] != ':')
      return KITH_EINVAL;
    h = text + 1;
    hlen = (size_t)(close - h);
    port = close + 2;
  } else {
    const char *colon = strchr(text, ':');
    if (!colon || strchr(colon + 1, ':'))
      return KITH_EINVAL; /* no port, or an IPv6 literal without brackets */
    h = text;
    hlen = (size_t)(colon - text);
    port = colon + 1;
  }
  if (hlen == 0 || hlen >= sizeof host || parse_port(port, &p))
    return KITH_EINVAL;
  memcpy(host, h, hlen);
  host[hlen] = '\0';

  if (text[0] == '[') {
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
      goto bad;
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(p);
    return 0;
  }
  struct sockaddr_in *a4 = (struct sockaddr_in *)out;
  if (strcasecmp(host, "localhost") == 0)
    a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  else if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
    goto bad; /* a name that would need DNS, or not an address at all */
  a4->sin_family = AF_INET;
  a4->sin_port = htons(p);
  return 0;
bad:
  memset(out, 0, sizeof *out);
  return KITH_EINVAL;
}

/* libuv codes enter here; what they mean depends on the moment. */
static int map_uv(int uverr, int fallback)
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
  case UV_ECONNRESET:
  case UV_ECONNABORTED:
  case UV_EPIPE:
  case UV_ENOTCONN:
  case UV_EOF:
    return KITH_ECLOSED;
  case UV_ETIMEDOUT:
    return KITH_ETIMEDOUT;
  }
  return fallback;
}

static bool addr_ok(const struct sockaddr *addr)
{
  return addr && (addr->sa_family == AF_INET || addr->sa_family == AF_INET6);
}

static bool vt_ok(const struct kith_session_vt *vt)
{
  return vt && vt->feed && vt->pending && vt->consumed && vt->eof && vt->state;
}

/* ---- connection: time ------------------------------------------------------------ */

/* When the connection's current allowance of time runs out (loop time, ms). */
static uint64_t conn_deadline(const struct kith_net_conn *c)
{
  switch (c->state) {
  case CONN_CONNECTING:
    return c->t_start + c->lim.connect_ms;
  case CONN_OPEN:
    if (!c->established)
      return c->t_open + c->lim.handshake_ms;
    return c->t_active + c->lim.idle_ms;
  case CONN_DRAINING:
    return (c->err ? c->t_drain : c->t_active) + c->lim.idle_ms;
  case CONN_CLOSING:
    break;
  }
  return UINT64_MAX;
}

static void conn_on_timer(uv_timer_t *t);

/* (Re)arms the timer for the current deadline. Activity only moves deadlines later,
 * so it is enough to call this when the state or phase changes: a timer that fires
 * early re-arms itself for what remains. */
static void conn_arm(struct kith_net_conn *c)
{
  if (c->state == CONN_CLOSING)
    return;
  uint64_t now = uv_now(c->tcp.loop), d = conn_deadline(c);
  uv_timer_start(&c->timer, conn_on_timer, d > now ? d - now : 0, 0);
}

/* ---- connection: lifetime ----------------------------------------------------------
 */

static void server_maybe_finish(struct kith_net_server *srv);

/* The last close callback: the connection is gone from libuv. Hand the session
 * back (server) or report (client), then free. */
static void conn_free(struct kith_net_conn *c)
{
  assert(c->state == CONN_CLOSING && c->open_handles == 0 && c->wbytes == 0);
  struct kith_net_server *srv = c->srv;
  void (*done)(void *, int) = c->done;
  void *done_arg = c->done_arg;
  int result = c->result;

  if (srv) {
    if (c->prev)
      c->prev->next = c->next;
    else
      srv->conns = c->next;
    if (c->next)
      c->next->prev = c->prev;
    if (c->session)
      srv->factory.free_session(srv->arg, c->session);
    if (c->admitted)
      srv->nadmitted--;
    srv->nconns--;
  }
  free(c->rbuf);
  free(c);
  if (srv)
    server_maybe_finish(srv);
  else if (done)
    done(done_arg, result);
}

static void conn_on_close(uv_handle_t *h)
{
  struct kith_net_conn *c = h->data;
  if (--c->open_handles == 0)
    conn_free(c);
}

/* Ends the connection with result: CLOSING, both handles closed. Pending write,
 * connect and shutdown requests get UV_ECANCELED before the close callbacks run.
 * Safe from any callback, and more than once (the first result stays). */
static void conn_close(struct kith_net_conn *c, int result)
{
  if (c->state == CONN_CLOSING)
    return;
  c->state = CONN_CLOSING;
  c->result = result;
  c->reading = false;
  uv_close((uv_handle_t *)&c->tcp, conn_on_close);
  uv_close((uv_handle_t *)&c->timer, conn_on_close);
}

/* A connection with its two handles initialised (state CONNECTING, not yet
 * registered anywhere else); NULL when out of memory. */
static struct kith_net_conn *conn_new(uv_loop_t *loop,
                                      const struct kith_net_limits *lim)
{
  struct kith_net_conn *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  if (uv_tcp_init(loop, &c->tcp) != 0) {
    free(c);
    return NULL;
  }
  uv_timer_init(loop, &c->timer); /* can't fail */
  c->tcp.data = c;
  c->timer.data = c;
  c->open_handles = 2;
  c->lim = *lim;
  c->state = CONN_CONNECTING;
  c->t_start = uv_now(loop);
  return c;
}

/* ---- connection: bytes -------------------------------------------------------------
 */

static void conn_on_write(uv_write_t *req, int status)
{
  struct wreq *w = container_of(req, struct wreq, req);
  struct kith_net_conn *c = w->c;
  c->wbytes -= w->len;
  free(w);
  if (c->state == CONN_CLOSING)
    return; /* UV_ECANCELED, or the connection ended meanwhile */
  if (status < 0) {
    conn_close(c, map_uv(status, KITH_EIO));
    return;
  }
  c->t_active = uv_now(c->tcp.loop);
  conn_step(c);
}

/* Copies what the session has pending into write requests, as long as fewer than
 * max_write_bytes wait; tells the session what was taken.
 *
 * When less room is left than the session has pending, it takes that room only if
 * it is a worthwhile piece (64 KiB, or half the bound if that is smaller), else it
 * waits for more writes to complete. Taking every sliver of room would keep slivers
 * forever: a completed write frees exactly its own size, which the next request
 * then fills, so each small tail of the session's output (a 65,537-byte frame
 * against 64 KiB requests leaves 1 byte) would add one more tiny write that
 * circulates for the rest of the connection. On a long transfer the writes shrank
 * to a few bytes each and throughput fell tenfold (bench/net.c). Nothing waits
 * forever: with no write in flight, the room is the whole bound. While output is
 * held back so, the peer is not read either, as when the bound is reached. */
static int conn_pull(struct kith_net_conn *c)
{
  size_t piece =
      c->lim.max_write_bytes / 2 < WREQ_MAX ? c->lim.max_write_bytes / 2 : WREQ_MAX;
  c->held = false;
  while (c->wbytes < c->lim.max_write_bytes) {
    const uint8_t *p = NULL;
    size_t n = c->vt->pending(c->session, &p);
    if (n == 0)
      break;
    size_t room = c->lim.max_write_bytes - c->wbytes;
    if (n > room && room < piece) {
      c->held = true; /* a sliver: wait for a write to complete */
      break;
    }
    if (n > room)
      n = room;
    if (n > WREQ_MAX)
      n = WREQ_MAX;
    struct wreq *w = malloc(sizeof *w + n);
    if (!w)
      return KITH_ENOMEM;
    memcpy(w->data, p, n);
    w->c = c;
    w->len = n;
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)n); /* n <= BUF_MAX */
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, conn_on_write);
    if (rc) {
      free(w);
      return map_uv(rc, KITH_EIO);
    }
    c->wbytes += n;
    c->vt->consumed(c->session, n);
  }
  return 0;
}

/* What the session takes in its next feed (kith_net_factory_ex's room; SIZE_MAX
 * without one). */
static size_t conn_room(struct kith_net_conn *c)
{
  return c->srv && c->srv->factory.room ? c->srv->factory.room(c->srv->arg, c->session)
                                        : SIZE_MAX;
}

static void conn_on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
  struct kith_net_conn *c = h->data;
  (void)hint;
  /* One read is in flight at a time, so the one buffer is always free here. Cut
   * to the session's room: a feed never brings more than it takes (0 makes libuv
   * report UV_ENOBUFS, and the read stops in conn_on_read). */
  size_t n = c->lim.read_buf_bytes, room = c->state == CONN_OPEN ? conn_room(c) : n;
  *buf = uv_buf_init((char *)c->rbuf, (unsigned)(room < n ? room : n));
}

/* Starts the drain: no more feeding; what the session has pending goes out, then
 * a shutdown (err == 0, the session is DONE) or a close (err: why it failed). */
static void conn_drain(struct kith_net_conn *c, int err)
{
  c->state = CONN_DRAINING;
  c->err = err;
  c->t_drain = uv_now(c->tcp.loop);
  conn_arm(c);
}

static void conn_on_eof(struct kith_net_conn *c)
{
  c->eof_seen = true;
  c->reading = false; /* libuv stops reading at end of stream */
  c->t_active = uv_now(c->tcp.loop);
  if (c->state != CONN_OPEN)
    return; /* draining: keep writing, the peer may still read */
  int rc = c->vt->eof(c->session);
  enum kith_session_state st = c->vt->state(c->session);
  if (rc == 0 && st == KITH_SESSION_DONE)
    conn_step(c); /* a clean end: drain and shut down */
  else if (rc == 0 && st != KITH_SESSION_FAILED)
    conn_step(c); /* answers still owed: write on, read nothing, until DONE */
  else if (rc < 0)
    conn_close(c, rc);
  else
    conn_close(c, rc > 0 || st == KITH_SESSION_FAILED ? KITH_EPROTO : KITH_ECLOSED);
}

static void conn_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  struct kith_net_conn *c = container_of(s, struct kith_net_conn, tcp);
  (void)buf; /* always c->rbuf, which the connection owns */
  if (n == UV_EOF) {
    conn_on_eof(c);
    return;
  }
  if (n == UV_ENOBUFS) { /* no room at this moment: stop reading until there is */
    conn_step(c);
    return;
  }
  if (n < 0) {
    conn_close(c, map_uv((int)n, KITH_EIO));
    return;
  }
  if (n == 0 || c->state != CONN_OPEN)
    return; /* nothing read, or draining: discarded */
  c->t_active = uv_now(c->tcp.loop);
  int rc = c->vt->feed(c->session, c->rbuf, (size_t)n);
  if (rc)
    conn_drain(c, rc < 0 ? rc : KITH_EPROTO);
  conn_step(c);
}

/* Reads while open and not held back by output waiting for the peer; reads (to
 * discard) while draining. */
static void conn_update_reading(struct kith_net_conn *c)
{
  bool want =
      !c->eof_seen && (c->state == CONN_DRAINING ||
                       (c->state == CONN_OPEN && !c->held &&
                        c->wbytes < c->lim.max_write_bytes && conn_room(c) > 0));
  if (want == c->reading)
    return;
  int rc = want ? uv_read_start((uv_stream_t *)&c->tcp, conn_on_alloc, conn_on_read)
                : uv_read_stop((uv_stream_t *)&c->tcp);
  if (rc) {
    conn_close(c, map_uv(rc, KITH_EIO));
    return;
  }
  c->reading = want;
}

static void conn_on_shutdown(uv_shutdown_t *req, int status)
{
  struct kith_net_conn *c = container_of(req, struct kith_net_conn, shutdown_req);
  if (c->state == CONN_CLOSING)
    return;
  conn_close(c, status < 0 ? map_uv(status, KITH_EIO) : 0);
}

/* Moves the connection forward after anything happened: takes the session's
 * output while there is room, follows the session's state, finishes a drain, and
 * reads or not accordingly. */
static void conn_step(struct kith_net_conn *c)
{
  if (c->state != CONN_OPEN && c->state != CONN_DRAINING)
    return;
  int rc = conn_pull(c);
  if (rc) {
    conn_close(c, rc);
    return;
  }
  if (c->state == CONN_OPEN) {
    enum kith_session_state st = c->vt->state(c->session);
    if (st == KITH_SESSION_DONE) {
      conn_drain(c, 0);
    } else if (st == KITH_SESSION_FAILED) {
      conn_drain(c, KITH_EPROTO);
    } else if (st == KITH_SESSION_ESTABLISHED && !c->established) {
      c->established = true; /* the handshake allowance gives way to idle_ms */
      c->t_active = uv_now(c->tcp.loop);
      conn_arm(c);
    }
  }
  if (c->state == CONN_DRAINING && !c->shutdown_sent && c->wbytes == 0) {
    const uint8_t *p = NULL;
    if (c->vt->pending(c->session, &p) == 0) {
      if (c->err) {
        conn_close(c, c->err);
        return;
      }
      rc = uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, conn_on_shutdown);
      if (rc) {
        conn_close(c, map_uv(rc, KITH_EIO));
        return;
      }
      c->shutdown_sent = true;
    }
  }
  conn_update_reading(c);
}

/* The connection is up (accepted, or connected): start the session's clock, send
 * what it has to say first, start reading. */
static void conn_open(struct kith_net_conn *c)
{
  c->state = CONN_OPEN;
  c->t_open = c->t_active = uv_now(c->tcp.loop);
  uv_tcp_nodelay(&c->tcp, 1); /* small protocol messages; best effort */
  conn_arm(c);
  conn_step(c);
}

static void conn_on_timer(uv_timer_t *t)
{
  struct kith_net_conn *c = container_of(t, struct kith_net_conn, timer);
  uint64_t now = uv_now(t->loop), d = conn_deadline(c);
  if (now < d) {
    uv_timer_start(t, conn_on_timer, d - now, 0);
    return;
  }
  switch (c->state) {
  case CONN_CONNECTING:
    conn_close(c, KITH_EUNAVAIL);
    break;
  case CONN_OPEN:
    conn_close(c, c->established && c->wbytes ? KITH_ESTALLED : KITH_ETIMEDOUT);
    break;
  case CONN_DRAINING:
    conn_close(c, c->err ? c->err : c->wbytes ? KITH_ESTALLED : KITH_ETIMEDOUT);
    break;
  case CONN_CLOSING:
    break;
  }
}

/* ---- client ------------------------------------------------------------------------
 */

static void conn_on_connect(uv_connect_t *req, int status)
{
  struct kith_net_conn *c = container_of(req, struct kith_net_conn, connect_req);
  if (c->state != CONN_CONNECTING)
    return; /* UV_ECANCELED: the connect timed out and the connection is closing */
  if (status < 0) {
    conn_close(c, status == UV_ENOMEM ? KITH_ENOMEM : KITH_EUNAVAIL);
    return;
  }
  conn_open(c);
}

int kith_net_connect(uv_loop_t *loop, const struct sockaddr *addr,
                     const struct kith_net_limits *limits,
                     const struct kith_session_vt *vt, void *session,
                     void (*done)(void *arg, int result), void *arg)
{
  struct kith_net_limits lim = limits ? *limits : kith_net_limits_default();
  if (!loop || !addr_ok(addr) || !vt_ok(vt) || !done || limits_check(&lim))
    return KITH_EINVAL;
  uint8_t *rbuf = malloc(lim.read_buf_bytes);
  if (!rbuf)
    return KITH_ENOMEM;
  struct kith_net_conn *c = conn_new(loop, &lim);
  if (!c) {
    free(rbuf);
    return KITH_ENOMEM;
  }
  c->rbuf = rbuf;
  c->vt = vt;
  c->session = session;
  c->done = done;
  c->done_arg = arg;
  /* From here on every outcome, an immediate failure included, reaches done. */
  int rc = uv_tcp_connect(&c->connect_req, &c->tcp, addr, conn_on_connect);
  if (rc) {
    conn_close(c, rc == UV_ENOMEM ? KITH_ENOMEM : KITH_EUNAVAIL);
    return 0;
  }
  conn_arm(c);
  return 0;
}

/* ---- server ------------------------------------------------------------------------
 */

static void server_maybe_finish(struct kith_net_server *srv)
{
  if (srv->state != SRV_STOPPING || !srv->listener_closed || srv->nconns > 0)
    return;
  void (*done)(void *) = srv->stop_done;
  void *arg = srv->arg;
  free(srv);
  if (done)
    done(arg);
}

static void server_on_close(uv_handle_t *h)
{
  struct kith_net_server *srv = container_of(h, struct kith_net_server, tcp);
  srv->listener_closed = true;
  server_maybe_finish(srv);
}

static void server_on_connection(uv_stream_t *ls, int status)
{
  struct kith_net_server *srv = container_of(ls, struct kith_net_server, tcp);
  if (status < 0 || srv->state != SRV_LISTENING)
    return; /* a failed accept: nothing to clean up */
  /* Out of memory here leaves the connection in the backlog and libuv stops
   * accepting until the next uv_accept: nothing better to do without memory. */
  struct kith_net_conn *c = conn_new(ls->loop, &srv->lim);
  if (!c)
    return;
  c->srv = srv;
  c->next = srv->conns;
  if (srv->conns)
    srv->conns->prev = c;
  srv->conns = c;
  srv->nconns++;

  if (uv_accept(ls, (uv_stream_t *)&c->tcp) != 0 ||
      srv->nadmitted >= srv->lim.max_conns) {
    conn_close(c, KITH_EBUSY); /* beyond max_conns: accepted, closed at once */
    return;
  }
  c->admitted = true;
  srv->nadmitted++;
  c->rbuf = malloc(srv->lim.read_buf_bytes);
  if (!c->rbuf) {
    conn_close(c, KITH_ENOMEM);
    return;
  }
  const struct kith_session_vt *vt = NULL;
  void *session = NULL;
  int rc;
  if (srv->plain.new_session) {
    rc = srv->plain.new_session(srv->arg, &vt, &session);
  } else {
    struct sockaddr_storage peer;
    int plen = (int)sizeof peer;
    memset(&peer, 0, sizeof peer);
    rc = uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&peer, &plen);
    rc = rc ? map_uv(rc, KITH_EIO)
            : srv->factory.new_session(srv->arg, (struct sockaddr *)&peer, &vt,
                                       &session);
  }
  if (rc) {
    conn_close(c, rc);
    return;
  }
  assert(vt_ok(vt));
  c->vt = vt;
  c->session = session;
  conn_open(c);
}

/* Both start functions: exactly one of plain and ex is set. */
static int server_start(uv_loop_t *loop, const struct sockaddr *addr,
                        const struct kith_net_limits *limits,
                        const struct kith_net_factory *plain,
                        const struct kith_net_factory_ex *ex, void *arg,
                        kith_net_server **out)
{
  struct kith_net_limits lim = limits ? *limits : kith_net_limits_default();
  if (!out)
    return KITH_EINVAL;
  *out = NULL;
  if (!loop || !addr_ok(addr) || (!plain && !ex) ||
      (plain && (!plain->new_session || !plain->free_session)) ||
      (ex && (!ex->new_session || !ex->free_session)) || limits_check(&lim))
    return KITH_EINVAL;
  struct kith_net_server *srv = calloc(1, sizeof *srv);
  if (!srv)
    return KITH_ENOMEM;
  if (uv_tcp_init(loop, &srv->tcp) != 0) {
    free(srv);
    return KITH_ENOMEM;
  }
  srv->state = SRV_LISTENING;
  srv->lim = lim;
  if (plain) {
    srv->plain = *plain;
    srv->factory.free_session = plain->free_session;
  } else {
    srv->factory = *ex;
  }
  srv->arg = arg;

  struct sockaddr_storage bound;
  int len = (int)sizeof bound;
  int rc = uv_tcp_bind(&srv->tcp, addr, 0);
  if (!rc)
    rc = uv_listen((uv_stream_t *)&srv->tcp, SOMAXCONN, server_on_connection);
  if (!rc)
    rc = uv_tcp_getsockname(&srv->tcp, (struct sockaddr *)&bound, &len);
  if (rc) {
    srv->state = SRV_STOPPING; /* freed, silently, once the listener is closed */
    uv_close((uv_handle_t *)&srv->tcp, server_on_close);
    return map_uv(rc, KITH_EIO);
  }
  if (bound.ss_family == AF_INET6)
    srv->port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
  else
    srv->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
  *out = srv;
  return 0;
}

int kith_net_server_start(uv_loop_t *loop, const struct sockaddr *addr,
                          const struct kith_net_limits *limits,
                          const struct kith_net_factory *factory, void *arg,
                          kith_net_server **out)
{
  if (!factory) {
    if (out)
      *out = NULL;
    return KITH_EINVAL;
  }
  return server_start(loop, addr, limits, factory, NULL, arg, out);
}

int kith_net_server_start_ex(uv_loop_t *loop, const struct sockaddr *addr,
                             const struct kith_net_limits *limits,
                             const struct kith_net_factory_ex *factory, void *arg,
                             kith_net_server **out)
{
  if (!factory) {
    if (out)
      *out = NULL;
    return KITH_EINVAL;
  }
  return server_start(loop, addr, limits, NULL, factory, arg, out);
}

uint16_t kith_net_server_port(const kith_net_server *srv)
{
  assert(srv);
  return srv->port;
}

void kith_net_server_wake(kith_net_server *srv)
{
  if (!srv || srv->state != SRV_LISTENING)
    return;
  /* conn_step may close a connection, which only marks it and closes its
   * handles: the list changes in close callbacks, never under this walk. */
  for (struct kith_net_conn *c = srv->conns; c; c = c->next)
    if (c->state == CONN_OPEN || c->state == CONN_DRAINING)
      conn_step(c);
}

void kith_net_server_stop(kith_net_server *srv, void (*done)(void *arg))
{
  if (!srv)
    return;
  assert(srv->state == SRV_LISTENING);
  srv->state = SRV_STOPPING;
  srv->stop_done = done;
  uv_close((uv_handle_t *)&srv->tcp, server_on_close);
  /* conn_close only marks and closes; the list changes in close callbacks. */
  for (struct kith_net_conn *c = srv->conns; c; c = c->next)
    conn_close(c, KITH_ECLOSED);
}
