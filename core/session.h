/*
 * session.h — the interface between a sans-I/O protocol session and a transport.
 *
 * A session is one side of one connection's protocol (pairing, sync): it consumes
 * the bytes that arrive and produces the bytes to send, and never touches a socket
 * or a clock. net/ drives it: it feeds what it reads, writes what the session has
 * pending, and closes the connection when the session says so. The same session
 * runs over TCP, in a unit test with two sessions wired back to back, and later
 * over a relay.
 *
 * Contract, for the transport:
 *   - feed(s, bytes): all bytes are consumed (the session buffers what it needs, up
 *     to its own bound). Non-zero return: a protocol error; the transport sends
 *     what is still pending (e.g. a REFUSE) if it can, then closes.
 *   - After every feed, and after a connect, the transport sends
 *     pending(s, &buf) bytes and calls consumed(s, n) for what the socket took.
 *   - eof(s): the peer closed its side. The session decides whether that was a
 *     clean end (after BYE) or a truncated session (an error). A session that
 *     still owes the peer answers returns 0 without being DONE or FAILED: the
 *     transport then keeps writing (reading nothing more) until it is DONE.
 *   - state(s): RUNNING; ESTABLISHED once authenticated (the transport then swaps
 *     its handshake timeout for the idle timeout); DONE (close after the pending
 *     bytes are sent); FAILED (close; the session holds the reason).
 * The session never calls back into the transport, so it can't free it underfoot.
 */
#ifndef KITH_SESSION_H
#define KITH_SESSION_H

#include <stddef.h>
#include <stdint.h>

enum kith_session_state {
  KITH_SESSION_RUNNING,
  KITH_SESSION_ESTABLISHED,
  KITH_SESSION_DONE,
  KITH_SESSION_FAILED,
};

struct kith_session_vt {
  int (*feed)(void *s, const uint8_t *in, size_t len);
  size_t (*pending)(void *s, const uint8_t **out);
  void (*consumed)(void *s, size_t n);
  int (*eof)(void *s);
  enum kith_session_state (*state)(void *s);
};

#endif
