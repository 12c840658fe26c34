/*
 * intro.h — consent-based introductions (docs/PROTOCOL.md, "Introductions").
 *
 * A introduces B and C. A's intro record stays in A's self space; each party that
 * uses kith (a peer of A's) gets its own proposal record in its partnership space
 * with A, showing the other party's name and A's message for it, nothing else. A
 * party that does not use kith (a contact of A's) consents out of band, and A
 * records its consent (kith_intro_consent).
 *
 * What it guarantees
 * - Nothing of one party is written where the other can read it before both
 *   accepted: until then a proposal holds the other's name and A's message only.
 *   A decline, an expiry and a withdrawal look the same to the other party: its
 *   proposal's state becomes "closed".
 * - Once both accepted (before the proposal expires), A's device vouches for each
 *   party's answering device key to the other (an Ed25519 signature over
 *   "kith intro v1" | nonce | key | other name), each party's answering device
 *   seals its chosen details to the other's key (proto/envelope.h), A's devices
 *   forward the envelopes unread, and each party ends with a contact and a pending
 *   peer (core/peer.h) for the other.
 * - Every step is a register change in the space that holds it, so it travels by
 *   any sync (LAN, relay, bundle) and survives days offline; kith_intros_step runs
 *   the steps each device can run, idempotently, after every sync round and post.
 *
 * What it does not do: the sealing and opening are done by the device that
 * answered (its key is the one vouched for); if that device is lost before the
 * introduction completes, the introduction stalls (the party can decline it).
 */
#ifndef KITH_INTRO_H
#define KITH_INTRO_H

#include "core/peer.h"

#define KITH_INTRO_NONCE_LEN 16
#define KITH_INTRO_MESSAGE_MAX 4096 /* bytes of a message */

/* A party: a peer of mine (a kith user I am paired with) or a contact of mine. */
struct kith_intro_party {
  bool contact;
  uint8_t id[KITH_ID_LEN];
};

/* Proposes to introduce p[0] and p[1], with msg[i] (may be NULL) for party i, open
 * until expires_ms. Creates the intro record and a proposal in each peer party's
 * partnership. *id gets the intro's id. KITH_EINVAL: the parties are the same, no
 * party is a peer, a peer has no partnership (or is pending), an expiry in the
 * past; KITH_ENOTFOUND, KITH_EDELETED for a party; KITH_ETOOBIG for a message. */
int kith_intro_propose(kith_txn *txn, const struct kith_intro_party p[static 2],
                       const char *const msg[static 2], uint64_t expires_ms,
                       uint64_t now_ms, uint8_t id[static KITH_ID_LEN]) KITH_MUST_CHECK;

/* A party answers its proposal: accept (share: the comma-separated names of my
 * card's fields to give (core/mycard.h), may be NULL or "" for my name only) or
 * decline. Refused
 * (KITH_EEXPIRED) after the proposal's expiry, (KITH_EINVAL) once it is closed or
 * completed, once the keys are vouched for, or for my own proposal (I am its
 * introducer); KITH_EUNKFIELD for a share name that is not a card field. */
int kith_intro_answer(kith_txn *txn, const uint8_t prop[static KITH_ID_LEN],
                      bool accept, const char *share, uint64_t now_ms) KITH_MUST_CHECK;

/* The introducer records the consent of party `party` (0 or 1), a contact: accept
 * with share (the names of my contact record's fields to give the other party),
 * or decline. KITH_EINVAL if that party is a peer or the intro is not open;
 * KITH_EEXPIRED after its expiry. */
int kith_intro_consent(kith_txn *txn, const uint8_t intro[static KITH_ID_LEN],
                       int party, bool accept, const char *share,
                       uint64_t now_ms) KITH_MUST_CHECK;

/* The introducer withdraws: the intro and its proposals close. KITH_EINVAL once
 * completed. */
int kith_intro_withdraw(kith_txn *txn,
                        const uint8_t intro[static KITH_ID_LEN]) KITH_MUST_CHECK;

/* Runs the steps this device can run (PROTOCOL.md, steps 3-6), on every intro and
 * proposal in the store; idempotent. Data from a peer that is malformed, forged or
 * not vouched for is left alone; only store errors are returned. */
int kith_intros_step(kith_txn *txn, uint64_t now_ms) KITH_MUST_CHECK;

/* The proposal of intro in the partnership gid: its id (so my devices agree). */
void kith_intro_proposal_id(const uint8_t intro[static KITH_ID_LEN],
                            const uint8_t gid[static 16], uint8_t out[KITH_ID_LEN]);
/* The contact an introduction gives me: its id, from the nonce and the key of the
 * other party (or of the introducer's device, for a contact party). */
void kith_intro_contact_id(const uint8_t nonce[static KITH_INTRO_NONCE_LEN],
                           const uint8_t pk[static KITH_ED25519_PK_LEN],
                           uint8_t out[KITH_ID_LEN]);

/* Statuses (DESIGN.md). For the introducer: "proposed", "completed", "declined",
 * "expired", "withdrawn"; each party's answer "pending", "accepted", "declined".
 * For a party: "proposed", "accepted", "completed", "not_going_ahead". */
struct kith_intro_view {
  bool mine; /* I am the introducer: an intro record; else a proposal */
  uint8_t id[KITH_ID_LEN];
  char status[24];
  uint64_t expires_ms;
  /* introducer */
  struct kith_intro_party party[2];
  char name[2][KITH_TEXT_MAX + 1];
  char answer[2][16];
  const char *message[2]; /* borrowed from rec */
  /* party */
  char introducer[KITH_TEXT_MAX + 1];
  const char *other_name, *my_message, *share; /* borrowed from rec */
  bool contact_made;
  uint8_t contact[KITH_ID_LEN];
};
/* The view of an intro or proposal record rec (loaded by the caller, who keeps it
 * while the view is used). KITH_EINVAL if rec is neither. */
int kith_intro_view(kith_txn *txn, const struct kith_record *rec, uint64_t now_ms,
                    struct kith_intro_view *out) KITH_MUST_CHECK;

/* ISO 8601 UTC (YYYY-MM-DDTHH:MM:SSZ) of ms, and back (KITH_EBADMSG). */
void kith_intro_iso(uint64_t ms, char out[25]);
int kith_intro_parse_iso(const char *s, uint64_t *ms) KITH_MUST_CHECK;

#endif
