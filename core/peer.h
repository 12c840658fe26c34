/*
 * peer.h — partners and my own devices: the keys this device trusts.
 *
 * A peer record is a partner (another user) I have paired with: their name and
 * the Ed25519 keys of their devices, each with its label. A device record is one
 * of my own devices, with its key and, once revoked, when. Both live in my `self`
 * space, so every device of mine knows my partners and my other devices.
 *
 * Trust is decided here and nowhere else: kith_trust_check says whether a key that
 * just completed a handshake belongs to one of my devices, to a partner's device,
 * to a revoked device, or to nobody I know.
 */
#ifndef KITH_PEER_H
#define KITH_PEER_H

#include "core/model.h"

#define KITH_ED25519_PK_LEN 32

enum kith_trust {
  KITH_TRUST_NONE = 0, /* a stranger */
  KITH_TRUST_DEVICE,   /* one of my own devices, not revoked */
  KITH_TRUST_PEER,     /* a device of a partner */
  KITH_TRUST_REVOKED,  /* one of my devices, revoked */
};

/* Records a partner paired with: creates the peer, or, if one already holds pk,
 * updates its name and adds the key (re-pairing is idempotent). Status becomes
 * "confirmed". *id gets the peer's id. */
int kith_peer_add(kith_txn *txn, const char *name,
                  const uint8_t pk[static KITH_ED25519_PK_LEN], const char *label,
                  const uint8_t *gid, uint8_t id[static KITH_ID_LEN]) KITH_MUST_CHECK;
/* gid (16 bytes, may be NULL): our partnership space (core/space.h), derived from
 * the pairing; a new peer takes it, and its roster gets pk and my devices' keys. */

/* Records a peer an introduction gave me (core/intro.h): status "pending", not
 * trusted (no sync, no partnership) until kith_peer_confirm. If a peer already
 * holds pk, nothing changes. gid: the partnership both sides derived. */
int kith_peer_add_pending(kith_txn *txn, const char *name,
                          const uint8_t pk[static KITH_ED25519_PK_LEN],
                          const uint8_t gid[static 16],
                          uint8_t id[static KITH_ID_LEN]) KITH_MUST_CHECK;
/* Makes a pending peer a partner (as kith_peer_add does, with its key and space).
 * 0 if it is confirmed already; KITH_ENOTFOUND, KITH_EDELETED, KITH_EINVAL (not a
 * peer). */
int kith_peer_confirm(kith_txn *txn,
                      const uint8_t id[static KITH_ID_LEN]) KITH_MUST_CHECK;
/* Whether a peer record is pending (introduced, not confirmed). */
bool kith_peer_is_pending(const struct kith_record *rec);

/* Whether pk is a partner's device in partnership gid: in its roster, or one of
 * that peer's own keys not removed from the roster (revoked by its owner). */
int kith_partner_key(kith_txn *txn, const uint8_t gid[static 16],
                     const uint8_t pk[static KITH_ED25519_PK_LEN],
                     bool *member) KITH_MUST_CHECK;

/* The device id (the `dev` of its stamps) of the device holding Ed25519 key pk. */
void kith_device_id_of(const uint8_t pk[static KITH_ED25519_PK_LEN],
                       uint8_t dev[static KITH_DEVICE_ID_LEN]);
/* Whether dev is one of my devices (revoked ones too). */
int kith_dev_mine(kith_txn *txn, const uint8_t dev[static KITH_DEVICE_ID_LEN],
                  bool *mine) KITH_MUST_CHECK;

/* The live peer or device record holding pk, by kind. KITH_ENOTFOUND. */
int kith_key_owner(kith_txn *txn, int kind,
                   const uint8_t pk[static KITH_ED25519_PK_LEN],
                   uint8_t id[static KITH_ID_LEN]) KITH_MUST_CHECK;

/* Records one of my devices (idempotent on pk); its key joins every partnership's
 * roster. */
int kith_device_add(kith_txn *txn, const char *label,
                    const uint8_t pk[static KITH_ED25519_PK_LEN],
                    uint8_t id[static KITH_ID_LEN]) KITH_MUST_CHECK;

/* Marks a device revoked (from now on refused everywhere this record reaches) and
 * removes its key from every partnership's roster, so my partners refuse it too.
 * KITH_EINVAL for this device itself. */
int kith_device_revoke(kith_txn *txn,
                       const uint8_t id[static KITH_ID_LEN]) KITH_MUST_CHECK;

/* What pk is to this store. Can fail only on store errors. */
int kith_trust_check(kith_txn *txn, const uint8_t pk[static KITH_ED25519_PK_LEN],
                     enum kith_trust *out) KITH_MUST_CHECK;

/* The same decision for a Noise static key: x_pk is an X25519 public key, as an IK
 * responder learns the initiator's (a device's Noise key is the X25519 form of its
 * Ed25519 key). Each Ed25519 key this store knows, my devices' (revoked ones too)
 * then my partners', is converted (crypto_sign_ed25519_pk_to_curve25519) and
 * compared; the first that matches goes to ed_pk and is judged by kith_trust_check.
 * None matches: *out is KITH_TRUST_NONE and ed_pk is zeroed. Costs one conversion
 * per known key. Can fail only on store errors. */
int kith_trust_check_x25519(kith_txn *txn, const uint8_t x_pk[static 32],
                            enum kith_trust *out,
                            uint8_t ed_pk[static KITH_ED25519_PK_LEN]) KITH_MUST_CHECK;

/* The first key of a peer or the key of a device, from its record: 0 or
 * KITH_ENOTFOUND. */
int kith_record_key(const struct kith_record *rec,
                    uint8_t pk[static KITH_ED25519_PK_LEN]) KITH_MUST_CHECK;

/* "a1b2 c3d4 ..." : 32 hex digits of BLAKE2b-128 over a key, in groups of four;
 * what people compare when they check a key. out holds 40 bytes. */
void kith_fingerprint(const uint8_t pk[static KITH_ED25519_PK_LEN], char out[40]);

#endif
