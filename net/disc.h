/*
 * disc.h — LAN discovery transport: small datagrams to and from an IPv4 multicast
 * group (docs/PROTOCOL.md, "LAN discovery").
 *
 * One UDP socket, bound to 0.0.0.0:port with SO_REUSEADDR (so that several kith
 * processes on one host share the port, and each gets every datagram sent to the
 * group), joined to the group, multicast TTL 1 (datagrams never leave the link) and
 * multicast loop on (so processes on one host hear each other; a process hears its
 * own datagrams too). It sends what make() writes once at start, then every
 * interval_ms, and at once on kith_disc_announce; it hands every datagram that
 * arrives to recv().
 *
 * It knows nothing of what the datagrams say: the caller makes beacons
 * (proto/beacon.h) in make() and parses and checks them in recv(), dropping its
 * own. Anything anyone sends to the port arrives in recv(), unicast included.
 * Nothing here reads the environment or the clock beyond the loop's timer.
 *
 * What it guarantees
 * - recv is called once per datagram of 0..KITH_DISC_MAX_DATAGRAM bytes, never for
 *   a larger one (dropped unread), never after kith_disc_stop.
 * - Sending is best effort, as UDP is: a periodic send that fails (the network went
 *   away, a full socket buffer) is forgotten and the next interval tries again.
 * - If kith_disc_start returns 0, done fires exactly once after kith_disc_stop,
 *   once both handles are closed; if it returns an error, nothing fires.
 *
 * Interfaces: with iface NULL the kernel picks the interface for the group (the
 * one of the default route); with iface an IPv4 address of this host, the socket
 * joins and sends on that interface (IP_MULTICAST_IF). Loopback needs the latter:
 * on 127.0.0.1 sending works only with IP_MULTICAST_IF=127.0.0.1. IPv6 is not
 * done yet.
 *
 * Nothing here is thread-safe: every function and callback runs on the loop's
 * thread. Errors are KITH_E* codes (proto/err.h); libuv codes are mapped where they
 * enter:
 *   KITH_EINVAL      a bad option (see kith_disc_opts)
 *   KITH_EADDRINUSE  the port is bound by a socket without SO_REUSEADDR
 *   KITH_EUNAVAIL    no multicast here: the interface does not exist or cannot do
 *                    multicast, or there is no route for the group (no network,
 *                    or no default route and no iface); worth trying again later
 *   KITH_ENOMEM      out of memory (or kernel buffers)
 *   KITH_EIO         anything else the system refused
 */
#ifndef KITH_NET_DISC_H
#define KITH_NET_DISC_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "proto/err.h"

#define KITH_DISC_GROUP_DEFAULT "239.255.70.77" /* IPv4 organisation-local scope */
#define KITH_DISC_PORT_DEFAULT 21070
#define KITH_DISC_INTERVAL_MS_DEFAULT 2000
#define KITH_DISC_INTERVAL_MS_MIN 100
#define KITH_DISC_INTERVAL_MS_MAX (24u * 3600 * 1000)
#define KITH_DISC_MAX_DATAGRAM 512 /* larger datagrams are dropped, and never sent */

typedef struct kith_disc kith_disc;

/* What kith_disc_start needs. Read only during that call (the strings too), so it
 * may live on the caller's stack. A zero group, port or interval_ms means its
 * default. */
struct kith_disc_opts {
  const char *group;    /* IPv4 multicast address (224.0.0.0/4); NULL: default */
  uint16_t port;        /* UDP port; 0: KITH_DISC_PORT_DEFAULT */
  const char *iface;    /* IPv4 address of a local interface to join and send on,
                           e.g. "127.0.0.1"; NULL: the kernel's choice */
  uint64_t interval_ms; /* between periodic sends, MIN..MAX; 0: default */
  /* Writes the next datagram into buf (cap bytes, KITH_DISC_MAX_DATAGRAM) and its
   * length into *len (0..cap); returns 0 to send it, anything else to send nothing
   * this time (a *len above cap is not sent either). Called at start, each
   * interval and on announce. Must not call kith_disc_stop nor kith_disc_announce.
   * Required. */
  int (*make)(void *arg, uint8_t *buf, size_t cap, size_t *len);
  /* One datagram that arrived, ours included: buf (borrowed until recv returns),
   * its length, and the sender's address (a struct sockaddr_in). May call
   * kith_disc_announce and kith_disc_stop. Required. */
  void (*recv)(void *arg, const uint8_t *buf, size_t len, const struct sockaddr *from);
  void *arg; /* passed back to make, recv and stop's done */
};

/* Opens the socket on loop as described above, sends one datagram at once (if
 * make gives one), and starts the interval. On success *out is the handle until
 * kith_disc_stop; on an error *out is NULL, nothing fires, and what was made is
 * released when the loop next runs (libuv closes handles asynchronously).
 * Errors: KITH_EINVAL (a NULL loop, o, out, make or recv; a group that is not an
 * IPv4 multicast literal; an iface that is not an IPv4 literal; interval_ms out
 * of range), KITH_EADDRINUSE, KITH_EUNAVAIL (joining the group or the first send
 * found no multicast route or interface), KITH_ENOMEM, KITH_EIO. */
int kith_disc_start(uv_loop_t *loop, const struct kith_disc_opts *o,
                    kith_disc **out) KITH_MUST_CHECK;

/* Sends one datagram now (after a local change, say), without moving the
 * interval. Returns 0 (also when make declined to give one), or the send's error:
 * KITH_EUNAVAIL (no route, network down), KITH_ENOMEM, KITH_EIO; a datagram the
 * kernel could not take at once (a full buffer) is dropped and reported as 0, as
 * UDP would drop it later. Not after kith_disc_stop. */
int kith_disc_announce(kith_disc *d) KITH_MUST_CHECK;

/* Stops sending and receiving at once, closes the handles, frees d, then calls
 * done(arg) (arg as given here) if done is not NULL. d is invalid from this call
 * on; call it once. NULL-safe (done is then not called). */
void kith_disc_stop(kith_disc *d, void (*done)(void *arg), void *arg);

#endif
