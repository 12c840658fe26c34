/*
 * conn.h — the TCP transport: one connection drives one sans-I/O session.
 *
 * A server listens and, for each connection it accepts, asks a factory for a
 * session (core/session.h); a client connects and drives a session it is given.
 * Either way net/ only moves bytes and keeps time: it feeds the session what
 * arrives, writes what the session has pending, and closes when the session says
 * so or a limit is crossed. It knows nothing of the protocol and never touches the
 * store.
 *
 * What it guarantees
 * - Callbacks, in order. Server: new_session once per admitted connection; if it
 *   returned 0, free_session exactly once for that session, after the connection's
 *   socket and timer are closed; the stop callback after every free_session. Client:
 *   if kith_net_connect returned 0, done exactly once, after the socket and timer
 *   are closed; if it returned an error, done never fires. After free_session or
 *   done, net/ never touches the session again, so the callee may free it there.
 * - The session is never called once the connection starts closing, nor from inside
 *   another session call (the session never calls back, see session.h).
 * - done's result is 0 only if the session reached DONE, everything it had pending
 *   was handed to the kernel, and our write side was shut down (FIN sent). That
 *   proves the bytes left, not that the peer read them: acknowledgements are the
 *   protocol's business. Otherwise done gets the first reason the connection ended:
 *     KITH_EUNAVAIL   refused, unreachable, or no answer within connect_ms
 *     KITH_ETIMEDOUT  no ESTABLISHED within handshake_ms, or idle for idle_ms
 *     KITH_ESTALLED   our output waited idle_ms for a peer that does not read it
 *     KITH_ECLOSED    the peer closed or reset the connection before DONE
 *     the session's own code when feed() or eof() returned one (negative), or
 *     KITH_EPROTO when the session went FAILED without one; KITH_ENOMEM, KITH_EIO.
 * - A peer costs only its own connection: garbage, a stall, a disconnect in the
 *   middle of a message or a refusal to read end that connection and no other.
 *
 * Memory, per connection (struct kith_net_limits):
 * - one read buffer of read_buf_bytes, allocated once per connection (a client's
 *   in kith_net_connect, a server's when it admits the connection);
 * - at most max_write_bytes of output copied out of the session and not yet
 *   written. When that much waits, the transport takes nothing more from the session
 *   and stops reading from the peer (so a peer that sends without reading cannot
 *   make the session produce without bound); it resumes as the peer reads. A peer
 *   that reads nothing for idle_ms is dropped with KITH_ESTALLED. The same holds
 *   while the room left is less than the session offers and less than a write
 *   worth making (64 KiB, or half the bound if that is smaller): it waits for
 *   room rather than write slivers.
 * - A server holds at most max_conns connections with a session. Beyond that it
 *   accepts and closes at once, without buffers or a session, so a flood of
 *   connections costs a few hundred bytes each for one loop iteration.
 * What a session buffers itself is bounded by the session (session.h).
 *
 * Time, per connection, from the loop's clock (uv_now):
 *   CONNECTING  connect_ms from kith_net_connect                -> KITH_EUNAVAIL
 *   OPEN        handshake_ms from the connection's start, until the session reports
 *               ESTABLISHED, then idle_ms since the last byte read or written
 *                                                  -> KITH_ETIMEDOUT / KITH_ESTALLED
 *   DRAINING    after DONE: idle_ms since the last byte written; after a failure:
 *               idle_ms from the failure, however the peer reads (best effort)
 *   CLOSING     handles closing; freed when both close callbacks have run.
 * Transitions: CONNECTING -> OPEN -> DRAINING -> CLOSING, and any -> CLOSING. The
 * session's DONE, FAILED or a feed() error moves OPEN to DRAINING: net/ sends what
 * the session still has pending, then (DONE) shuts down its write side, or (failure)
 * closes. While DRAINING, what the peer sends is read and discarded, so that closing
 * does not reset the connection under the bytes still in flight. End of stream from
 * the peer while OPEN: net/ calls eof(); if the session is then DONE it drains as
 * above; if eof() returned 0 and the session is still RUNNING or ESTABLISHED, it
 * owes the peer answers: the connection stays OPEN, writing and reading nothing,
 * until the session is DONE (drain) or FAILED, under the idle clock; otherwise the
 * connection closes.
 *
 * What it does not do: resolve names (addresses are literals), encrypt (sessions run
 * Noise), retry, or reconnect. Nothing here is thread-safe: every function and
 * callback runs on the loop's thread. Errors returned by these functions are
 * KITH_E* codes (proto/err.h); libuv codes are mapped where they enter.
 */
#ifndef KITH_NET_CONN_H
#define KITH_NET_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "core/session.h"
#include "proto/err.h"

#define KITH_NET_MAX_CONNS_DEFAULT 64
#define KITH_NET_MAX_WRITE_DEFAULT (256u * 1024) /* bytes waiting to be written */
#define KITH_NET_READ_BUF_DEFAULT (65535u + 2)   /* one largest frame, with length */
#define KITH_NET_CONNECT_MS_DEFAULT 5000
#define KITH_NET_HANDSHAKE_MS_DEFAULT 10000
#define KITH_NET_IDLE_MS_DEFAULT 30000
#define KITH_NET_BUF_MAX (16u * 1024 * 1024) /* largest read or write bound allowed */

struct kith_net_limits {
  size_t max_conns;       /* server: connections with a session at once, >= 1 */
  size_t max_write_bytes; /* per connection: output copied and not yet written */
  size_t read_buf_bytes;  /* per connection: the one read buffer */
  uint32_t connect_ms;    /* client: until the TCP connection is up */
  uint32_t handshake_ms;  /* from connection start until the session is ESTABLISHED */
  uint32_t idle_ms;       /* then: no byte read nor written for this long */
};

/* The defaults above: 64 connections, 256 KiB of output and a 64 KiB + 2 read
 * buffer per connection; 5 s to connect, 10 s to handshake, 30 s idle. Can't
 * fail. */
struct kith_net_limits kith_net_limits_default(void);

/* Parses "HOST:PORT" into out: HOST is an IPv4 literal ("192.0.2.1"), an IPv6
 * literal in brackets ("[2001:db8::1]") or "localhost" (127.0.0.1); PORT is
 * 0..65535 in decimal (0: any free port, for listening). Names that need DNS, IPv6
 * zone ids, missing or out-of-range ports and stray characters are refused with
 * KITH_EINVAL; out is then zeroed. */
int kith_net_parse_addr(const char *text, struct sockaddr_storage *out) KITH_MUST_CHECK;

/* ---- server ------------------------------------------------------------------ */

typedef struct kith_net_server kith_net_server;

/* How a server gets a session for each connection. new_session returns 0 with *vt
 * (all five functions set) and *session, which stay valid until free_session(arg,
 * session); a non-zero return refuses the connection (closed at once, free_session
 * not called). Neither may call kith_net_server_stop. */
struct kith_net_factory {
  int (*new_session)(void *arg, const struct kith_session_vt **vt, void **session);
  void (*free_session)(void *arg, void *session);
};

/* The same, for a server that needs more (kith_net_server_start_ex): new_session
 * also gets the peer's address (borrowed for the call), so that a server can limit
 * what one address may do; room, if set, says how many bytes a session takes in
 * its next feed: the transport reads only while room(arg, session) is above 0, and
 * feeds at most that much at once (the read buffer is offered cut to that size).
 * A session that forwards what it reads to another connection, or waits on work
 * outside it, so pushes back on its peer. A connection whose room is 0 sits
 * unread, under the idle clock, until a byte moves on it or kith_net_server_wake
 * looks at it again. None may call kith_net_server_stop. */
struct kith_net_factory_ex {
  int (*new_session)(void *arg, const struct sockaddr *peer,
                     const struct kith_session_vt **vt, void **session);
  void (*free_session)(void *arg, void *session);
  size_t (*room)(void *arg, void *session);
};

/* Listens on addr (IPv4 or IPv6; port 0 picks a free port) and serves each
 * accepted connection as described above. limits may be NULL for the defaults; the
 * factory and limits are copied; arg is passed back to the factory and to the stop
 * callback. On success *out is the server until kith_net_server_stop.
 * Errors: KITH_EINVAL (bad argument or limits), KITH_EADDRINUSE, KITH_ENOMEM,
 * KITH_EIO. On an error after the socket was made, its memory is released when
 * the loop next runs (libuv closes handles asynchronously), as with uv_close. */
int kith_net_server_start(uv_loop_t *loop, const struct sockaddr *addr,
                          const struct kith_net_limits *limits,
                          const struct kith_net_factory *factory, void *arg,
                          kith_net_server **out) KITH_MUST_CHECK;

/* kith_net_server_start with a kith_net_factory_ex (new_session and free_session
 * set, room optional). Same errors. */
int kith_net_server_start_ex(uv_loop_t *loop, const struct sockaddr *addr,
                             const struct kith_net_limits *limits,
                             const struct kith_net_factory_ex *factory, void *arg,
                             kith_net_server **out) KITH_MUST_CHECK;

/* The port the server listens on (the one picked, if it asked for 0). Can't
 * fail. */
uint16_t kith_net_server_port(const kith_net_server *srv);

/* Looks at every connection again as if a byte had just moved on it: takes what
 * its session now has pending, follows its state (DONE, FAILED), and reads again
 * if its room (kith_net_factory_ex) reopened. For sessions whose output or room changes
 * without their own connection doing anything: an answer that was waiting on a
 * worker thread, bytes forwarded from another connection. Costs O(connections);
 * call it from the loop thread, outside any session call (the session contract
 * holds: a session is never called from inside another of its calls), e.g. from a
 * uv_prepare or an after_work callback. NULL-safe; a no-op once stopping. */
void kith_net_server_wake(kith_net_server *srv);

/* Closes the listener and every connection at once (no draining), then frees the
 * server and calls done(arg) if done is not NULL, with arg from
 * kith_net_server_start: by then free_session has run for every session. srv is
 * invalid from this call on; call it once. NULL-safe (done is then not called). */
void kith_net_server_stop(kith_net_server *srv, void (*done)(void *arg));

/* ---- client ------------------------------------------------------------------ */

/* Connects to addr and drives session (borrowed; vt's five functions set) over the
 * connection; limits may be NULL for the defaults (max_conns is unused). Returns 0,
 * and then done(arg, result) fires exactly once when the connection has ended and
 * its handles are closed (result as in "What it guarantees"; unreachable peers
 * included); the session is not touched after done. Errors, with done never
 * called and nothing left allocated: KITH_EINVAL (bad argument or limits),
 * KITH_ENOMEM. */
int kith_net_connect(uv_loop_t *loop, const struct sockaddr *addr,
                     const struct kith_net_limits *limits,
                     const struct kith_session_vt *vt, void *session,
                     void (*done)(void *arg, int result), void *arg) KITH_MUST_CHECK;

#endif
