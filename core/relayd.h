/*
 * relayd.h — the relay's side of one connection (docs/PROTOCOL.md, "Relay"), as a
 * sans-I/O session (core/session.h), and what all of one relay's sessions share:
 * the mailbox, the commit queue, per-address limits, the rendezvous table.
 *
 *     client                                    relay
 *     preamble (purpose 3)       ->
 *                                <-             preamble (answer)
 *     XX: e                      ->
 *                                <-             e, ee, s, es   (the relay's key)
 *     XX: s, se                  ->             the client's key: the owner it
 *                                <-             R_INFO          fetches as
 *     requests, pipelined        ->
 *                                <-             answers, matched by req
 *
 * Requests
 * - R_PUT + R_DATA...: the envelope is assembled (at most max_envelope bytes, one
 *   buffer of its size), then queued for the next commit. R_OK req eid comes only
 *   after the batch holding it committed (fsync'd); R_ERR req code otherwise.
 *   Refusals decided here come at once: an empty envelope (7), too big (1), rate
 *   limited (4); the refused envelope's R_DATAs are still read, and dropped. No
 *   other message may come between an R_PUT and its last R_DATA.
 * - R_FETCH: the owner's envelopes after `after`, oldest first, each as R_MAIL and
 *   its R_DATAs with no other message between them, read from the store a chunk at
 *   a time as the output drains (the output stays under about 128 KiB), while the
 *   bytes sent before the next envelope are below max_bytes (0: none; R_OK then
 *   just says whether there is mail); then R_OK req more. One fetch at a time: a
 *   second while one streams gets R_ERR 6.
 * - R_DEL: queued for the next commit; R_OK req n after it.
 * - R_WAIT tag / R_JOIN tag: only on a connection with nothing outstanding (else
 *   R_ERR 7). A waiter sends nothing more; it gets an empty R_DATA every
 *   keepalive_ms, and R_ERR req 8 after wait_ms with nobody (the connection then
 *   serves requests again). A second R_WAIT under a tag replaces the first (which
 *   gets R_ERR 8). R_JOIN with a waiter: both get R_OK req 0, the tag is spent
 *   (remembered among the last 4,096 joined), and from then on each connection's
 *   bytes are copied raw into the other's output, at most KITH_RELAYD_PIPE_MAX
 *   waiting (the copying side's room is what is left); when either side ends, the
 *   other gets what was in flight, then its end of stream. R_JOIN without a waiter,
 *   or with a spent tag: R_ERR 8. At most waits_per_address waits (R_ERR 4).
 * - BYE, or the client's end of stream: the session finishes what it owes (answers
 *   of queued requests, a fetch) and is DONE.
 * Anything else (a malformed message, a message out of place, bytes from a waiter)
 * is answered REFUSE 8 and the connection closes; it costs only that connection.
 *
 * Backpressure: a session takes no more input (room() is 0) while its output holds
 * 64 KiB or more, while KITH_RMSG_PUTS_MAX of its requests wait for a commit, while
 * 256 answers wait behind a streaming envelope, or while the commit queue holds
 * queue_bytes: busy means "stop reading", never R_ERR 6. Otherwise room() is a
 * quarter of what is left under 192 KiB of output, so that the answers to what one
 * feed brings can never overflow it. Memory per session: the kith_chan (about 200
 * KiB, and its output, under 256 KiB), one envelope being assembled
 * (max_envelope), answers waiting behind a streaming envelope (16 bytes each, a
 * few thousand at most); the commit queue: queue_bytes, plus at most one envelope
 * per session that was being assembled when the bound was reached.
 *
 * Threads and time: everything here runs on one thread (the loop's), except
 * kith_relayd_batch_run, which touches only its batch and the mailbox (a worker
 * thread). The clock comes from the caller (kith_relayd_set_now). Sessions never
 * call back into the transport; whoever drives them asks kith_relayd_take_wake
 * after anything happened, and if true makes the transport look at every
 * connection again (net/conn.h: kith_net_server_wake).
 */
#ifndef KITH_RELAYD_H
#define KITH_RELAYD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/mailbox.h"
#include "core/session.h"
#include "proto/err.h"

#define KITH_RELAYD_NOISE "Noise_XX_25519_ChaChaPoly_BLAKE2b"
#define KITH_RELAYD_PIPE_MAX (64u * 1024u)           /* rendezvous bytes in flight */
#define KITH_RELAYD_QUEUE_DEFAULT ((size_t)64 << 20) /* commit queue bytes */
#define KITH_RELAYD_PER_ADDRESS_DEFAULT 32
#define KITH_RELAYD_RATE_DEFAULT 20    /* deposits a second per address, sustained */
#define KITH_RELAYD_BURST_S_DEFAULT 10 /* a bucket holds this many seconds of rate */
#define KITH_RELAYD_WAIT_MS_DEFAULT (15u * 60 * 1000)
#define KITH_RELAYD_KEEPALIVE_MS_DEFAULT 20000u
#define KITH_RELAYD_WAITS_PER_ADDRESS_DEFAULT 4

typedef struct kith_relayd_ctx kith_relayd_ctx; /* one relay */
typedef struct kith_relayd kith_relayd;         /* one connection */

struct kith_relayd_limits {
  uint32_t max_conns;    /* the server's: sizes the address table, >= 1 */
  uint32_t per_address;  /* connections from one address at once (0: no limit) */
  uint32_t rate;         /* deposits a second per address, sustained (0: no limit) */
  uint32_t burst_s;      /* bucket depth, in seconds of rate, >= 1 */
  uint64_t rate_bytes;   /* deposit bytes a second per address (0: rate x 64 KiB);
                            its bucket always holds at least 2 x max_envelope */
  size_t queue_bytes;    /* commit queue bound (bytes of queued requests), >= 1 */
  uint32_t wait_ms;      /* a rendezvous wait lasts at most this, >= 1 */
  uint32_t keepalive_ms; /* an empty R_DATA to a waiter this often, >= 1 */
  uint32_t waits_per_address; /* rendezvous waits from one address at once */
};

/* The defaults above, for max_conns connections. Can't fail. */
struct kith_relayd_limits kith_relayd_limits_default(uint32_t max_conns);

/* A relay's shared state over mb (borrowed: it must outlive the context), with its
 * static key (kith_mailbox_key) and limits (copied). Errors: KITH_EINVAL, KITH_ENOMEM.
 */
int kith_relayd_ctx_new(kith_mailbox *mb, const struct kith_relayd_limits *lim,
                        kith_relayd_ctx **out) KITH_MUST_CHECK;
/* Frees the context; every session must have been freed, and every batch taken
 * handed back with kith_relayd_batch_done. NULL-safe. */
void kith_relayd_ctx_free(kith_relayd_ctx *ctx);

/* The clock: a monotonic millisecond count (rates, waits, keepalives) and unix
 * seconds (expiry). Set it before feeding sessions and before taking a batch. */
void kith_relayd_set_now(kith_relayd_ctx *ctx, uint64_t mono_ms, uint64_t unix_s);

/* Sends keepalives to waiters and ends waits that ran out. Call it about once a
 * second. Can't fail (a session that can't send fails on its own). */
void kith_relayd_tick(kith_relayd_ctx *ctx);

/* True (and cleared) if some session's output, state or room may have changed
 * outside its own connection's calls since the last time: the transport must
 * look at every connection again. */
bool kith_relayd_take_wake(kith_relayd_ctx *ctx);

/* ---- sessions ------------------------------------------------------------------ */

/* A session for a connection from peer (IPv4, IPv6, or NULL for "no address": a
 * test). KITH_EBUSY if that address already has per_address connections (the
 * connection should be closed at once), KITH_ENOMEM. */
int kith_relayd_new(kith_relayd_ctx *ctx, const struct sockaddr *peer,
                    kith_relayd **out) KITH_MUST_CHECK;
/* Frees a session; its queued requests still commit, unanswered; its rendezvous
 * partner ends after what is in flight. NULL-safe. */
void kith_relayd_free(kith_relayd *r);

/* Drives a kith_relayd (pass it as the session). room: what the next feed may
 * bring (for kith_net_factory_ex's room). */
extern const struct kith_session_vt kith_relayd_vt;
size_t kith_relayd_room(kith_relayd *r);

/* Why the session failed, one line ("" if it did not). Can't fail. */
const char *kith_relayd_why(const kith_relayd *r);

/* ---- the commit queue -------------------------------------------------------------
 *
 * Group commit: requests of every session queue up while one batch commits; when
 * it is done, everything queued meanwhile goes in the next one. */

struct kith_relayd_batch;

/* Takes what is queued (up to queue_bytes of it, at least one request) as a batch
 * that also sweeps up to sweep expired envelopes; *out is NULL (and 0 returned)
 * when there is nothing to do. One batch at a time: KITH_EBUSY while one is out.
 * KITH_ENOMEM. */
int kith_relayd_batch_take(kith_relayd_ctx *ctx, size_t sweep,
                           struct kith_relayd_batch **out) KITH_MUST_CHECK;

/* Commits the batch (kith_mailbox_apply): on any thread, touching only the batch
 * and the mailbox. Can't fail: the result is the batch's. */
void kith_relayd_batch_run(struct kith_relayd_batch *b, kith_mailbox *mb);

/* Back on the loop's thread: answers every request of the batch whose session is
 * still there, frees the batch, and returns kith_mailbox_apply's result (0,
 * KITH_EFULL...), with how many expired envelopes went (*swept, may be NULL). */
int kith_relayd_batch_done(kith_relayd_ctx *ctx, struct kith_relayd_batch *b,
                           size_t *swept);

/* True if requests wait in the queue (a batch is worth taking). */
bool kith_relayd_queued(const kith_relayd_ctx *ctx);

/* ---- counters -------------------------------------------------------------------- */

struct kith_relayd_stats {
  uint64_t sessions;    /* sessions now */
  uint64_t commits;     /* batches committed */
  uint64_t committed;   /* requests in them */
  uint64_t puts;        /* envelopes acknowledged (R_OK) */
  uint64_t refused;     /* R_ERR answers */
  uint64_t deleted;     /* envelopes deleted by R_DEL */
  uint64_t fetched;     /* envelopes sent (R_MAIL) */
  uint64_t swept;       /* envelopes expired */
  uint64_t joins;       /* rendezvous joined */
  uint64_t queue_bytes; /* bytes queued or committing now */
  uint64_t queue_peak;  /* the most that ever were */
};
void kith_relayd_stats(const kith_relayd_ctx *ctx, struct kith_relayd_stats *out);

#endif
