/*
 * relay.h — the relay server (`kith relay run`): a TCP listener whose connections
 * are relay sessions (core/relayd.h) over one mailbox (core/mailbox.h), with a
 * commit queue, a clock and an expiry sweep, all on one libuv loop.
 *
 * Group commit. Requests that write (deposits, deletes) from every connection
 * queue in memory while one worker thread (uv_queue_work) commits the previous
 * batch in one fsync'd LMDB transaction; when it is done, its requests are
 * answered, the connections are looked at again (kith_net_server_wake), and
 * whatever queued meanwhile goes as the next batch. So one fsync (a few ms) covers
 * every deposit that arrived while the last one ran, however many connections
 * sent them, and no deposit is acknowledged before it is on disk.
 *
 * Each loop iteration, before the loop waits (a uv_prepare), the relay: sets the
 * sessions' clock; looks at every connection again if a session said something
 * changed outside its own connection (a rendezvous forwarded bytes, a commit
 * answered); starts a commit if requests wait and none runs. A timer (tick_ms)
 * sends rendezvous keepalives, ends waits that ran out, and every sweep_ms adds an
 * expiry sweep (at most sweep_max envelopes) to the next batch.
 *
 * Memory is bounded whatever the load:
 *   net.max_conns x (read buffer 64 KiB + writes in flight net.max_write_bytes
 *                    + session ~200 KiB + its output, under 256 KiB
 *                    + one envelope being assembled, mailbox.max_envelope)
 *   + the commit queue, relayd.queue_bytes (+ one envelope per connection that was
 *     being assembled when it filled; then sessions stop reading)
 *   + LMDB's map (file pages, the kernel's to evict).
 * With the defaults (256 connections, 128 KiB writes, 1 MiB + 4 KiB envelopes,
 * 64 MiB queue) that is at most about 256 x 1.7 MiB + 64 MiB, about 500 MiB;
 * docs/RELAY.md shows how the limits move it.
 *
 * Stopping (kith_relay_stop) closes the listener and every connection, lets the
 * commit that runs finish (what it acknowledges is durable; what was queued and
 * not yet committed was never acknowledged), then closes the store.
 *
 * Everything runs on the loop's thread except the commits. Errors are KITH_E codes.
 */
#ifndef KITH_NET_RELAY_H
#define KITH_NET_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "core/mailbox.h"
#include "core/relayd.h"
#include "net/conn.h"

#define KITH_RELAY_MAX_CONNS_DEFAULT 256
#define KITH_RELAY_IDLE_MS_DEFAULT 60000
#define KITH_RELAY_WRITE_DEFAULT (128u * 1024)
#define KITH_RELAY_SWEEP_MS_DEFAULT 60000
#define KITH_RELAY_SWEEP_MAX_DEFAULT 10000
#define KITH_RELAY_TICK_MS_DEFAULT 1000

typedef struct kith_relay kith_relay;

struct kith_relay_config {
  const char *dir;                    /* the data folder (made if missing) */
  struct kith_mailbox_limits mailbox; /* envelope size, quotas, ttl */
  struct kith_relayd_limits relayd;   /* per address, rate, queue, rendezvous */
  struct kith_net_limits net;         /* connections, buffers, timeouts */
  uint32_t tick_ms;                   /* keepalives and waits checked this often */
  uint32_t sweep_ms;                  /* expired mail swept this often */
  size_t sweep_max;                   /* at most this many envelopes a sweep */
  /* A commit failed (code: KITH_EFULL, KITH_EIO...; what: one line), on the
   * loop's thread. Its requests were answered R_ERR 6 (busy). May be NULL. */
  void (*on_error)(void *arg, int code, const char *what);
  void *arg; /* for on_error */
};

/* Every default: KITH_RELAY_* above, kith_mailbox_limits_default,
 * kith_relayd_limits_default, and net limits with 256 connections, 128 KiB of
 * writes in flight each, 60 s idle. dir is NULL: set it. Can't fail. */
void kith_relay_config_default(struct kith_relay_config *cfg);

/* Opens the store in cfg->dir and listens on addr (port 0: any free port). cfg
 * is copied (dir only used here); relayd.max_conns is taken from net.max_conns.
 * Errors: KITH_EINVAL (a limit out of range), KITH_EADDRINUSE, the store's
 * (KITH_ENEWER, KITH_ECORRUPT, KITH_EREADONLY, KITH_EIO...), KITH_ENOMEM. On
 * error nothing is left open once the loop has run once (libuv closes handles
 * asynchronously). */
int kith_relay_start(uv_loop_t *loop, const struct sockaddr *addr,
                     const struct kith_relay_config *cfg,
                     kith_relay **out) KITH_MUST_CHECK;

/* The port it listens on. Can't fail. */
uint16_t kith_relay_port(const kith_relay *r);

/* The relay's X25519 static public key (what clients see in the handshake).
 * Can't fail. */
void kith_relay_public_key(const kith_relay *r, uint8_t pk[static 32]);

/* Counters so far (core/relayd.h). Can't fail. */
void kith_relay_stats(const kith_relay *r, struct kith_relayd_stats *out);

/* Stops as described above, then frees r and calls done(arg) (if not NULL). r is
 * invalid from this call on; call it once. NULL-safe. */
void kith_relay_stop(kith_relay *r, void (*done)(void *arg), void *arg);

#endif
