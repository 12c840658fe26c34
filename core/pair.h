/*
 * pair.h — pairing two devices with an invite code, as a sans-I/O session.
 *
 * The inviter holds invites in its store (kith_pair_invite_create); the joiner holds a
 * parsed code. Each side runs a kith_pair session over any byte stream (net/ drives
 * it through core/session.h). The protocol is docs/PROTOCOL.md, "Pairing":
 * preamble, Noise_NNpsk0 keyed by the invite secret, then PAIR_ID both ways
 * (each an Ed25519 key signed over the handshake hash), PAIR_OK, BYE.
 *
 * What it guarantees
 * - Without the code nobody gets past the first message; a man in the middle
 *   without it fails, and one with it cannot swap keys (the signatures bind each
 *   key to this session's handshake hash).
 * - An invite works once: the inviter checks it is open and marks it used in the
 *   same transaction as it records the joiner, so two joins that race cannot both
 *   win. A used or expired invite is refused with its reason (REFUSE 3 or 4).
 * - Nothing is stored before both identities are verified; the joiner stores the
 *   inviter only after PAIR_OK.
 * - Partner invites make each side a peer of the other; device invites make each a
 *   device of the other's (one) user.
 */
#ifndef KITH_PAIR_H
#define KITH_PAIR_H

#include <stdbool.h>
#include <stdint.h>

#include "core/session.h"
#include "core/store.h"
#include "proto/frame.h"
#include "proto/invite.h"

#define KITH_INVITE_KEEP_MS                                                            \
  (24u * 3600u * 1000u) /* used/expired invites are still                              \
                            recognised this long */

/* Creates an invite in the store: a fresh secret, expiring at expires_ms. Fills
 * inv (version, device, secret; no hints: the caller adds them). */
int kith_pair_invite_create(kith_txn *txn, bool device, uint64_t expires_ms,
                            struct kith_invite *inv) KITH_MUST_CHECK;

/* Forgets invites that ended (used or expired) more than KITH_INVITE_KEEP_MS ago. */
int kith_pair_invite_prune(kith_txn *txn, uint64_t now_ms) KITH_MUST_CHECK;

/* The state of the invite with this secret: 0 open, KITH_EEXPIRED, KITH_EUSED;
 * KITH_ENOTFOUND. */
int kith_pair_invite_state(kith_txn *txn,
                           const uint8_t secret[static KITH_INVITE_SECRET_LEN],
                           uint64_t now_ms) KITH_MUST_CHECK;

typedef struct kith_pair kith_pair;

/* The session for one side; st must outlive it. now_ms reads the clock (expiry). */
int kith_pair_join_new(kith_store *st, const struct kith_invite *inv,
                       uint64_t (*now_ms)(void), kith_pair **out) KITH_MUST_CHECK;
int kith_pair_host_new(kith_store *st, uint64_t (*now_ms)(void),
                       kith_pair **out) KITH_MUST_CHECK;
/* The host, for a connection whose 8-byte preamble was already read (a
 * demultiplexer, core/accept.h, read it to choose the session). The preamble is
 * handled as if fed: the session may already be FAILED (not a pairing preamble, a
 * version we cannot share), with its answer pending. Errors as kith_pair_host_new. */
int kith_pair_host_new_after(kith_store *st, uint64_t (*now_ms)(void),
                             const uint8_t preamble[static KITH_PREAMBLE_LEN],
                             kith_pair **out) KITH_MUST_CHECK;
void kith_pair_free(kith_pair *p); /* NULL-safe; wipes secrets */

/* Drives a kith_pair: pass the kith_pair as the session pointer. */
extern const struct kith_session_vt kith_pair_vt;

struct kith_pair_result {
  int error;           /* 0 when paired; else a kith error code */
  uint32_t refused;    /* the REFUSE code received or sent, or 0 */
  char why[256];       /* one line for a person when error != 0 */
  bool device;         /* a device link rather than a partner */
  uint8_t peer_id[16]; /* the record made for the other side */
  uint8_t peer_pk[32]; /* its Ed25519 key */
  char peer_name[257];
  char peer_label[257];
  /* Once paired, the first sync round runs on the same channel (core/sync.h). */
  bool synced;    /* it completed */
  int sync_error; /* else why not (the pairing stands) */
  char sync_why[256];
  uint64_t sent, received; /* records */
};

/* The outcome, once the session is DONE or FAILED. */
void kith_pair_result(const kith_pair *p, struct kith_pair_result *out);

#endif
