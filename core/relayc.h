/*
 * relayc.h — the client side of the relay protocol (docs/PROTOCOL.md, "Relay"), as
 * sans-I/O sessions (core/session.h): net/conn.h's kith_net_connect drives them
 * over TCP, a unit test drives them back to back with a relay in the same process.
 *
 * Two sessions:
 *
 * - kith_relayc deposits envelopes in mailboxes and fetches (then deletes) the
 *   envelopes of its own: one connection does an optional fetch phase, then a
 *   deposit phase, then ends.
 *
 *     client                                    relay
 *     preamble (purpose 3)       ->
 *                                <-             preamble (answer)
 *     XX: e                      ->
 *                                <-             e, ee, s, es   (the relay's key)
 *     XX: s, se                  ->             (the client's key: the owner)
 *                                <-             R_INFO          -> ops->info()
 *     fetch (cfg.fetch), page by page:
 *     R_FETCH req after max_bytes ->
 *                                <-             R_MAIL eid box size, R_DATA... (each
 *                                               envelope -> ops->mail())
 *                                <-             R_OK req more
 *                                               ops->commit(), then, if mail() took
 * any: R_DEL req [eid...] (<= 1024)->
 *                                <-             R_OK req n      (one R_DEL at a time)
 *     ...R_FETCH again while `more`
 *     deposits (ops->next_put), up to KITH_RELAYC_PUTS_INFLIGHT unanswered:
 *     R_PUT req owner box size, R_DATA... ->
 *                                <-             R_OK req eid / R_ERR req code text
 *                                               -> ops->put_done()
 *     BYE                        ->             (the session is DONE)
 *
 * - kith_relayc_pipe runs another session through a relay's rendezvous (pairing
 *   through a relay): after the relay joined it with the other side, it carries that
 *   session's bytes untouched, both ways.
 *
 * What it guarantees
 * - An envelope mail() took is deleted at the relay only after commit() returned 0
 *   for it; an envelope mail() left (1), or one the session did not hand to mail()
 *   (see below), stays there. A session that fails deletes nothing more.
 * - Each put offered by next_put gets exactly one put_done, unless the session
 *   fails first: a put without its put_done when the session ends was not
 *   acknowledged (it may or may not be at the relay; depositing it again is the
 *   caller's choice). rc 0 means the relay holds it durably.
 * - Any byte the relay changes fails a MAC; any message that is malformed, or
 *   unexpected at that point, fails the session (never an assert, never a read out
 *   of bounds). A session never calls its transport, so any callback may run from
 *   feed() or pending().
 * - Memory: the kith_chan (about 200 KiB: the frame reader and two message buffers;
 *   output held to KITH_CHAN_OUT_MAX: the session streams a deposit from pending(),
 *   a chunk at a time, as the transport takes its bytes), one envelope being
 *   received (at most min(R_INFO's max_envelope, KITH_RELAYC_ENVELOPE_MAX) bytes),
 *   and the eids of one page's envelopes mail() took (at most
 *   KITH_RELAYC_PAGE_MAILS_MAX of them; past that, the rest of the page is read,
 *   dropped and fetched again by the next R_FETCH).
 *
 * What it does not do: dial, time anything out or retry (net/ and the caller do),
 * seal or open envelopes (the post engine does), or derive keys: the caller passes
 * the X25519 secret to fetch with.
 *
 * Callbacks run on the thread that drives the session and must not call this
 * session's functions (nor free it); kith_relayc_why, _stats and _relay_key are
 * fine.
 */
#ifndef KITH_RELAYC_H
#define KITH_RELAYC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/session.h"
#include "proto/err.h"

#define KITH_RELAY_KEY_LEN 32 /* X25519: the relay's key, an owner's */
#define KITH_BOX_LEN 16       /* a mailbox: BLAKE2b-128 (docs/PROTOCOL.md) */
#define KITH_RELAYC_NOISE "Noise_XX_25519_ChaChaPoly_BLAKE2b"
#define KITH_RELAYC_PUTS_INFLIGHT 16                  /* unanswered deposits, at most */
#define KITH_RELAYC_PAGE_DEFAULT (4u * 1024u * 1024u) /* R_FETCH max_bytes */
#define KITH_RELAYC_ENVELOPE_MAX (16u * 1024u * 1024u) /* received, at most */
#define KITH_RELAYC_PAGE_MAILS_MAX 4096                /* taken per page, at most */

typedef struct kith_relayc kith_relayc;

/* R_INFO, as the relay sent it (max_envelope and ttl_s capped at UINT32_MAX). */
struct kith_relay_info {
  uint32_t version;      /* the relay protocol's (KITH_RMSG_VERSION) */
  uint32_t max_envelope; /* the largest envelope it takes, bytes */
  uint32_t ttl_s;        /* how long it keeps an unfetched envelope */
  uint32_t flags;        /* none defined yet */
};

/* One deposit the caller offers. env is borrowed until put_done(tag) is called (or
 * the session is freed). */
struct kith_relayc_put {
  uint64_t tag;                      /* the caller's, echoed in put_done */
  uint8_t owner[KITH_RELAY_KEY_LEN]; /* the recipient's X25519 public key */
  uint8_t box[KITH_BOX_LEN];
  const uint8_t *env;
  size_t len; /* 1 .. the relay's max_envelope */
};

struct kith_relayc_ops {
  /* R_INFO arrived, right after the handshake. May be NULL. */
  void (*info)(void *arg, const struct kith_relay_info *info);
  /* Deposits, pulled lazily whenever fewer than KITH_RELAYC_PUTS_INFLIGHT are
   * unanswered and no put is being streamed: return 1 with *out filled, 0 when
   * there is nothing more (it is not called again; once every put is answered
   * the session says BYE and is DONE), or a negative KITH_E code to fail the
   * session. Called only after the fetch phase (if any) has finished, so the puts
   * can reflect what was fetched. NULL: no deposits. */
  int (*next_put)(void *arg, struct kith_relayc_put *out);
  /* Each put's answer: rc 0 (durable at the relay; code 0, text "") or
   * KITH_EREFUSED with the relay's R_ERR code (proto/relaymsg.h,
   * kith_rmsg_err_text) and its text (UTF-8 from the relay, borrowed for the call).
   * A put the relay cannot take is refused here without being sent: len 0 (code
   * KITH_RERR_MALFORMED) or above R_INFO's max_envelope (KITH_RERR_TOO_BIG).
   * Required if next_put is set. */
  void (*put_done)(void *arg, uint64_t tag, int rc, uint32_t code, const char *text);
  /* Fetch: each envelope of my mailbox (owner = my static key), oldest first.
   * Return 0: taken (deleted at the relay after commit() succeeds); 1: leave it at
   * the relay (this session does not offer it again); negative: fail the session
   * (nothing more is deleted). env (len bytes) and box are borrowed for the call.
   * Required if cfg.fetch. An envelope larger than R_INFO's max_envelope (the
   * relay's limit went down since it was deposited) or KITH_RELAYC_ENVELOPE_MAX is
   * not offered: its bytes are read and dropped, and it stays at the relay until
   * it expires. */
  int (*mail)(void *arg, uint64_t eid, const uint8_t box[KITH_BOX_LEN],
              const uint8_t *env, size_t len);
  /* Called at the end of each R_FETCH page in which mail() took envelopes, before
   * R_DEL goes out for them: make them durable; 0 to go on and delete them, else
   * (a KITH_E code) fail the session. May be NULL (nothing to make durable). */
  int (*commit)(void *arg);
};

struct kith_relayc_config {
  const uint8_t *static_sk;  /* X25519 secret (32) to fetch as its owner; NULL: a
                                fresh random key (deposit only: fetch is refused).
                                Deposits made in a session keyed by static_sk show
                                the relay who deposits them; a session with NULL
                                does not (docs/PROTOCOL.md, "Relay") */
  const uint8_t *relay_pk;   /* the relay's X25519 key (32) if known: the handshake
                                fails before it sends static_sk's public key to any
                                other; NULL: take whatever key the relay shows (see
                                kith_relayc_relay_key) */
  bool fetch;                /* fetch (and delete) my whole mailbox first */
  uint32_t fetch_page_bytes; /* R_FETCH max_bytes; 0: KITH_RELAYC_PAGE_DEFAULT */
  const struct kith_relayc_ops *ops;
  void *arg; /* passed to every op */
};

/* A session ready to run: its preamble is pending at once. cfg and what it points
 * to are copied (the keys) or kept (ops, which must outlive the session). Errors:
 * KITH_EINVAL (no ops; fetch without static_sk or without mail(); next_put without
 * put_done; a static_sk or relay_pk that Noise refuses), KITH_ENOMEM. */
int kith_relayc_new(const struct kith_relayc_config *cfg,
                    kith_relayc **out) KITH_MUST_CHECK;
void kith_relayc_free(kith_relayc *c); /* NULL-safe; wipes secrets */

/* Drives a kith_relayc: pass the kith_relayc as the session pointer. The session
 * is ESTABLISHED once the handshake is done, DONE after it sent BYE, FAILED with
 * a reason (kith_relayc_why) and a code: feed() and eof() return it, and
 * kith_relayc_error() keeps it. Codes: KITH_EPROTO (malformed or unexpected
 * message, failed MAC, relay key not the pinned one), KITH_EVERSION, KITH_ENOTKITH,
 * KITH_EREFUSED (a REFUSE, or an R_ERR to a fetch or delete), KITH_ECLOSED (the
 * relay closed or said BYE before the end), KITH_ENOMEM, or a callback's code. */
extern const struct kith_session_vt kith_relayc_vt;

/* One line for a person after a failure ("the relay sent a malformed message");
 * "" while the session has not failed. Can't fail. */
const char *kith_relayc_why(const kith_relayc *c);
/* 0 while the session has not failed (DONE or still running), else its code. */
int kith_relayc_error(const kith_relayc *c);

/* The relay's static X25519 key, once its handshake message was read (and
 * checked against relay_pk): 0, or KITH_EINVAL before that. */
int kith_relayc_relay_key(const kith_relayc *c,
                          uint8_t out[static KITH_RELAY_KEY_LEN]) KITH_MUST_CHECK;

struct kith_relayc_stats {
  uint64_t puts_ok;      /* put_done with rc 0 */
  uint64_t puts_refused; /* put_done with KITH_EREFUSED (the relay's or local) */
  uint64_t mails;        /* envelopes handed to mail() */
  uint64_t deleted;      /* the relay's counts in its answers to R_DEL */
  uint64_t bytes_in;     /* envelope bytes handed to mail() */
  uint64_t bytes_out;    /* envelope bytes streamed in R_DATA */
};
/* So far; borrowed from c. Can't fail. */
const struct kith_relayc_stats *kith_relayc_stats(const kith_relayc *c);

/* ---- rendezvous ---------------------------------------------------------------- */

/* Rendezvous (pairing through a relay): a session that does the relay handshake with
 * a fresh key, sends R_WAIT (wait = true) or R_JOIN with tag (an invite's tag:
 * proto/invite.h), and after the relay's R_OK passes every byte raw to and from
 * inner (another session, e.g. a pairing session, untouched: it never knows it runs
 * through a relay). Before R_OK the inner session is neither fed nor asked for
 * output. Keepalives (empty R_DATA) while waiting are ignored, as is R_INFO.
 *
 * State: RUNNING during the relay handshake, ESTABLISHED while waiting; once joined,
 * the inner session's state (its RUNNING shown as ESTABLISHED: the relay handshake
 * already proved the connection). Errors before the join: R_ERR 8 fails a join
 * with KITH_ENOTFOUND ("no one is waiting with this code at the relay") and a wait
 * with KITH_ETIMEDOUT (the relay ends a wait after 15 minutes with R_ERR 8, or when
 * another R_WAIT takes the tag); another R_ERR or a REFUSE fails with
 * KITH_EREFUSED, a relay closing with KITH_ECLOSED, the rest as kith_relayc_vt.
 * After the join, feed() and eof() return what the inner session's do.
 *
 * inner_vt and inner are borrowed: they must outlive the pipe, which never frees
 * them. Errors: KITH_EINVAL (NULL argument), KITH_ENOMEM. */
typedef struct kith_relayc_pipe kith_relayc_pipe;
int kith_relayc_pipe_new(const uint8_t tag[16], bool wait,
                         const struct kith_session_vt *inner_vt, void *inner,
                         kith_relayc_pipe **out) KITH_MUST_CHECK;
void kith_relayc_pipe_free(kith_relayc_pipe *p); /* NULL-safe; not inner */
extern const struct kith_session_vt kith_relayc_pipe_vt;
/* The relay part's failure, one line; "" if it did not fail (the inner session's
 * outcome is its own: ask it). Can't fail. */
const char *kith_relayc_pipe_why(const kith_relayc_pipe *p);
/* The relay part's failure code, 0 if none. Can't fail. */
int kith_relayc_pipe_error(const kith_relayc_pipe *p);
/* True once the relay joined the two sides (inner runs from then on). */
bool kith_relayc_pipe_joined(const kith_relayc_pipe *p);

#endif
