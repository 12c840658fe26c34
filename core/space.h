/*
 * space.h — spaces: which records replicate to whom (DESIGN.md, "Spaces and
 * sharing"; docs/PROTOCOL.md, "Spaces").
 *
 * A space is a set of records and the set of devices that replicate it.
 *   self         my own devices: every record of mine, and my private fields;
 *   partnership  one per partner: the cards I share with them, and both users'
 *                device lists (the roster), so each accepts the other's new
 *                devices and refuses revoked ones.
 * On the wire a space is named by a 16-byte id: all zero for self (only ever
 * spoken between my own devices), and for a partnership an id both sides derive
 * from their pairing's handshake hash, kept in the peer record (KITH_F_PEER_SPACE).
 * In the store a space is a small local number (the registers' `space`, the log's
 * key): self is 1, others are given out on first sight and mapped here, in the
 * store's local (never synced) state.
 *
 * A contact's card (its kind and non-private fields) lives in exactly one space;
 * its private fields (tags, follow-up, last contacted) and its notes stay in self.
 *   share     self -> partnership: the card's registers move (same stamps, new
 *             sequence numbers there); if the card already lives in another
 *             partnership, a copy is shared instead, under an id derived from the
 *             card's id and the space's, so that all my devices agree on it.
 *   unshare   the card is copied back into self, with my private fields, under an
 *             id derived from the card's; notes follow the copy; the shared card is
 *             deleted from the partnership. A partner's delete leaves me the same
 *             private copy (kith_keep_private_copy, called by sync).
 * Which spaces a record is in never leaves my own devices: a partnership sees
 * only the card's registers, and copies have unrelated-looking ids.
 */
#ifndef KITH_SPACE_H
#define KITH_SPACE_H

#include "core/peer.h"

#define KITH_GID_LEN 16
#define KITH_SPACES_MAX 256 /* spaces one device syncs with another, at most */

/* The self space's wire id: 16 zero bytes. */
extern const uint8_t kith_gid_self[KITH_GID_LEN];

/* A partnership's id from the pairing's handshake hash: BLAKE2b-128 keyed with
 * "kith space v1". Both sides of a pairing compute the same. */
void kith_space_derive(const uint8_t *hash, size_t len, uint8_t gid[KITH_GID_LEN]);

/* The local number of a space. create: give one out if it has none (write
 * transactions only). Without create, KITH_ENOTFOUND for a space never seen. */
int kith_space_local(kith_txn *txn, const uint8_t gid[static KITH_GID_LEN], bool create,
                     uint32_t *out) KITH_MUST_CHECK;
/* The wire id of a local space number. KITH_ENOTFOUND. */
int kith_space_gid(kith_txn *txn, uint32_t local,
                   uint8_t gid[static KITH_GID_LEN]) KITH_MUST_CHECK;

/* The partnership space of a peer record. KITH_ENOTFOUND if it has none (a peer
 * paired by a kith older than spaces). */
int kith_peer_space(kith_txn *txn, const uint8_t peer[static KITH_ID_LEN],
                    uint8_t gid[static KITH_GID_LEN]) KITH_MUST_CHECK;
/* The peer whose partnership is gid. KITH_ENOTFOUND. */
int kith_space_peer(kith_txn *txn, const uint8_t gid[static KITH_GID_LEN],
                    uint8_t peer[static KITH_ID_LEN]) KITH_MUST_CHECK;

/* The roster: one record per partnership, id derived from the space's. */
void kith_roster_id(const uint8_t gid[static KITH_GID_LEN], uint8_t id[KITH_ID_LEN]);
/* Creates the roster if missing (in its space) and adds a device key to it. */
int kith_roster_add(kith_txn *txn, const uint8_t gid[static KITH_GID_LEN],
                    const uint8_t pk[static KITH_ED25519_PK_LEN],
                    const char *label) KITH_MUST_CHECK;
/* Removes a key (a revocation): 0 also if it was not there. */
int kith_roster_remove(kith_txn *txn, const uint8_t gid[static KITH_GID_LEN],
                       const uint8_t pk[static KITH_ED25519_PK_LEN]) KITH_MUST_CHECK;
enum kith_roster_state { KITH_ROSTER_ABSENT, KITH_ROSTER_LIVE, KITH_ROSTER_REMOVED };
int kith_roster_state(kith_txn *txn, const uint8_t gid[static KITH_GID_LEN],
                      const uint8_t pk[static KITH_ED25519_PK_LEN],
                      enum kith_roster_state *out) KITH_MUST_CHECK;

/* Puts every live device of mine into every partnership's roster and takes every
 * revoked one out, where a device that did not know of the partnership yet left
 * it (sync runs it after each round). */
int kith_rosters_reconcile(kith_txn *txn) KITH_MUST_CHECK;

/* The spaces a remote device may sync with me, by its key: my own device (not
 * revoked): self and every partnership; a partner's device: our partnership(s).
 * Anything else: none. *trust says which. */
struct kith_space_list {
  size_t n;
  uint8_t gid[KITH_SPACES_MAX][KITH_GID_LEN];
};
int kith_remote_spaces(kith_txn *txn, const uint8_t pk[static KITH_ED25519_PK_LEN],
                       enum kith_trust *trust,
                       struct kith_space_list *out) KITH_MUST_CHECK;
/* A device this store syncs with: one of my other devices, or a partner's. */
struct kith_remote {
  uint8_t pk[KITH_ED25519_PK_LEN];
  enum kith_trust trust;         /* KITH_TRUST_DEVICE or KITH_TRUST_PEER */
  uint8_t owner[KITH_ID_LEN];    /* its device record, or the partner's peer record */
  char name[KITH_TEXT_MAX + 1];  /* the partner's name, or my name for my devices */
  char label[KITH_TEXT_MAX + 1]; /* the device's label, if known */
};
#define KITH_REMOTES_MAX 256
/* Every device this store trusts now, but itself: my devices first, then each
 * partner's (the keys it paired with and its roster's). At most max. */
int kith_remote_devices(kith_txn *txn, struct kith_remote *t, size_t max,
                        size_t *n) KITH_MUST_CHECK;

/* Every partnership space of my live peers. */
int kith_partner_spaces(kith_txn *txn, struct kith_space_list *out) KITH_MUST_CHECK;

/* Shares a contact's card with a peer (see above). *out: the shared card's id (the
 * contact's own, or the copy's). KITH_EINVAL: not a contact, or the peer has no
 * space; KITH_ENOTFOUND, KITH_EDELETED. */
int kith_share(kith_txn *txn, const uint8_t contact[static KITH_ID_LEN],
               const uint8_t peer[static KITH_ID_LEN],
               uint8_t out[static KITH_ID_LEN]) KITH_MUST_CHECK;
/* Stops sharing: *out gets the private copy's id. KITH_EINVAL if the card is not
 * in that peer's space. */
int kith_unshare(kith_txn *txn, const uint8_t contact[static KITH_ID_LEN],
                 const uint8_t peer[static KITH_ID_LEN],
                 uint8_t out[static KITH_ID_LEN]) KITH_MUST_CHECK;
/* The private copy a shared card leaves in self (all its live registers, same
 * stamps, under the derived id), with the card's notes pointed at it. Idempotent. */
int kith_keep_private_copy(kith_txn *txn, const uint8_t id[static KITH_ID_LEN],
                           uint8_t out[static KITH_ID_LEN]) KITH_MUST_CHECK;

#endif
