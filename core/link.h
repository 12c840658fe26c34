/*
 * link.h — the sync connection between two known devices, as a sans-I/O session.
 *
 * A link is what `kith sync` and `kith serve` will run the sync protocol over: a
 * preamble each way (purpose KITH_PURPOSE_SYNC), then Noise_IK_25519_ChaChaPoly_BLAKE2b
 * (docs/PROTOCOL.md, "Sync handshake"). A device's Noise static key is the X25519
 * form of its Ed25519 key, so one key pair is its identity everywhere. The dialer
 * must know the key of the device it dials (a pinned partner device, or one of
 * mine); the acceptor learns the dialer's key from message 1 and decides, through
 * core/peer.h, whether it trusts it.
 *
 * A ping (`kith peer ping`) ends at once: the dialer sends BYE, the acceptor
 * answers BYE, and both are DONE. A sync link (kith_link_dial_sync_new) runs the
 * sync protocol (core/sync.h) first, then the same BYE exchange.
 *
 *   dialer                                  acceptor
 *   preamble (sync)          ->
 *                            <-             preamble (answer)
 *   IK message 1 (e,es,s,ss) ->             reads the dialer's key; trust check
 *                            <-             IK message 2 (e,ee,se)
 *                            <-             REFUSE 1 / 2 and close, if untrusted
 *   BYE                      ->
 *                            <-             BYE
 *
 * What it guarantees
 * - The acceptor answers message 2 whoever the dialer is, so a refusal travels
 *   encrypted and only the dialer can read it; then REFUSE 1 (a key it does not
 *   know, or one it no longer knows: a removed partner) or REFUSE 2 (one of my
 *   devices, revoked), and the session is FAILED with KITH_EREFUSED on both sides.
 * - Someone who does not hold the acceptor's key cannot produce a message 1 it
 *   reads: the acceptor fails without sending a byte after its preamble, and
 *   reveals no static key (IK never sends the responder's). Until the handshake
 *   and the trust check pass, nothing is stored on either side.
 * - A stream that ends without BYE is a truncated session, never DONE; any changed
 *   byte fails a MAC or the preamble check.
 *
 * What it does not do: retry or time out (net/ does).
 */
#ifndef KITH_LINK_H
#define KITH_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "core/peer.h"
#include "core/session.h"
#include "core/store.h"
#include "proto/frame.h"
#include "proto/msg.h"

#define KITH_LINK_PROTOCOL "Noise_IK_25519_ChaChaPoly_BLAKE2b"

typedef struct kith_link kith_link;

/* The dialing side: connects to the device whose Ed25519 key is peer_pk. That key
 * must be one this store trusts now (a partner's device, or one of my devices not
 * revoked): else KITH_EINVAL, as for a key that is not a valid point. now_ms is
 * kept for the sync protocol (the handshake reads no clock). st must outlive the
 * session. The preamble is pending at once. Errors: KITH_EINVAL, KITH_ENOMEM,
 * store errors. */
int kith_link_dial_new(kith_store *st,
                       const uint8_t peer_pk[static KITH_ED25519_PK_LEN],
                       uint64_t (*now_ms)(void), kith_link **out) KITH_MUST_CHECK;

/* The same, to sync (core/sync.h) rather than ping: after the handshake the
 * dialer starts a sync round; the link ends with BYE once every round is over
 * on both sides. The acceptor syncs when the dialer starts to. */
int kith_link_dial_sync_new(kith_store *st,
                            const uint8_t peer_pk[static KITH_ED25519_PK_LEN],
                            uint64_t (*now_ms)(void), kith_link **out) KITH_MUST_CHECK;
/* What the sync moved so far; NULL if the link did not sync. */
struct kith_sync_stats;
const struct kith_sync_stats *kith_link_sync_stats(const kith_link *l);

/* The accepting side, for a connection that has sent nothing yet. */
int kith_link_accept_new(kith_store *st, uint64_t (*now_ms)(void),
                         kith_link **out) KITH_MUST_CHECK;

/* The accepting side, for a connection whose 8-byte preamble was already read (a
 * demultiplexer, core/accept.h, read it to choose the session). The preamble is
 * handled as if fed: the session may already be FAILED (a preamble that is not a
 * sync one, a version we cannot share), with an answer pending. Errors as
 * kith_link_accept_new. */
int kith_link_accept_after(kith_store *st, uint64_t (*now_ms)(void),
                           const uint8_t preamble[static KITH_PREAMBLE_LEN],
                           kith_link **out) KITH_MUST_CHECK;

void kith_link_free(kith_link *l); /* NULL-safe; wipes keys */

/* Drives a kith_link: pass the kith_link as the session pointer. */
extern const struct kith_session_vt kith_link_vt;

struct kith_link_result {
  int error;        /* 0 when DONE; else a kith error code */
  uint32_t refused; /* the REFUSE code received or sent, or 0 */
  char refused_text[KITH_REFUSE_TEXT_MAX + 1]; /* the text a received REFUSE carried
                                                  (UTF-8 from the peer: show why) */
  char why[256];                               /* one line for a person if error */
  bool dialer;                                 /* this side dialed */
  bool established;                            /* the Noise handshake completed */
  bool remote_known;                           /* remote_pk is the other device's key */
  uint8_t remote_pk[KITH_ED25519_PK_LEN];      /* its Ed25519 key */
  enum kith_trust trust;                       /* what that key is to this store */
  uint8_t remote_id[KITH_ID_LEN];      /* its peer or device record, if trusted */
  char remote_name[KITH_TEXT_MAX + 1]; /* the partner's name or device's label */
  bool synced;                         /* the link ran the sync protocol */
  uint64_t sent, received, changed;    /* records sent, received; registers changed */
  uint32_t rounds;
};

/* The outcome so far; final once the session is DONE or FAILED (before that,
 * error is KITH_ECLOSED, "the link did not finish"). Can't fail. */
void kith_link_result(const kith_link *l, struct kith_link_result *out);

#endif
