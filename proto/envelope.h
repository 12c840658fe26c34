/*
 * envelope.h — sealed one-way messages from one device to another, for the relay
 * and for bundle files (docs/PROTOCOL.md, "Posts: sync in one direction").
 *
 * A box names the direction S -> R of a pair of devices: only S and R can compute
 * it (it is keyed with X25519 of their keys), so a relay that stores envelopes
 * under it cannot tell who writes to whom:
 *
 *   box = BLAKE2b-128(key = X25519(S, R), "kith box v1" | S's Ed25519 key |
 *                     R's Ed25519 key)
 *
 * An envelope is a Noise_K_25519_ChaChaPoly_BLAKE2b one-way handshake from S to R
 * (prologue "kith envelope v1" | box) and transport messages from its split, all as
 * frames (2-byte big-endian length, then the Noise message). Their plaintext, cut
 * into parts of at most KITH_ENVELOPE_PART bytes, is
 *
 *   length (4, big-endian) | post | zeros     padded to a bucket: 1, 4, 16, 64 or
 *                                             256 KiB, or 1 MiB
 *
 * so the envelope's size is a function of the bucket alone. Opening one proves it
 * was sealed by S (or R) for this box and direction: a reflected, moved, truncated,
 * reordered or altered envelope fails.
 *
 * Keys are the devices' Ed25519 keys (converted to X25519 here); secret keys are
 * libsodium's 64-byte Ed25519 form. Every secret derived here is wiped on every
 * path out.
 */
#ifndef KITH_ENVELOPE_H
#define KITH_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/err.h"

#define KITH_BOX_LEN 16
#define KITH_ENVELOPE_PART 65000u /* plaintext bytes per frame, at most */
#define KITH_ENVELOPE_POST_MAX ((1u << 20) - 4u) /* a post, at most */
#define KITH_ENVELOPE_MAX ((1u << 20) + 4096u)   /* an envelope, at most (1 MiB post) */
#define KITH_ENVELOPE_MIN 1074u                  /* the smallest (1 KiB bucket) */

/* The box for the direction sender -> recipient, computed by either of the two
 * with its own secret key: i_send says whether my_sk is the sender's. 0, or
 * KITH_EINVAL if a key does not convert or the X25519 result is all zero. */
int kith_box_derive(const uint8_t my_sk[static 64], const uint8_t other_pk[static 32],
                    bool i_send, uint8_t box[static KITH_BOX_LEN]) KITH_MUST_CHECK;

/* The X25519 key a relay knows a device by (its mailbox owner). KITH_EINVAL if pk
 * is not a valid Ed25519 key. */
int kith_box_owner(const uint8_t pk[static 32],
                   uint8_t owner[static 32]) KITH_MUST_CHECK;

/* The size of the envelope that seals a post of len bytes: 0 if len is over
 * KITH_ENVELOPE_POST_MAX. Can't fail. */
size_t kith_envelope_size(size_t len);

/* Seals post (len bytes, at most KITH_ENVELOPE_POST_MAX) from the device whose
 * secret key is s_sk to the device r_pk, for box. *out (malloc'd, the caller's)
 * gets kith_envelope_size(len) bytes. ephemeral: NULL (always, outside tests) for a
 * fresh key. Errors: KITH_ETOOBIG, KITH_EINVAL (a bad key), KITH_ENOMEM. */
int kith_envelope_seal(const uint8_t s_sk[static 64], const uint8_t r_pk[static 32],
                       const uint8_t box[static KITH_BOX_LEN], const uint8_t *post,
                       size_t len, const uint8_t *ephemeral, uint8_t **out,
                       size_t *out_len) KITH_MUST_CHECK;

/* Opens an envelope (len bytes) sealed by s_pk to the device whose secret key is
 * r_sk, for box. *post (malloc'd, the caller's) gets the post and *post_len its
 * length. Errors: KITH_EBADMSG for anything that is not an envelope sealed by s_pk
 * to me for this box (nothing of it is returned), KITH_ENOMEM. */
int kith_envelope_open(const uint8_t r_sk[static 64], const uint8_t s_pk[static 32],
                       const uint8_t box[static KITH_BOX_LEN], const uint8_t *env,
                       size_t len, uint8_t **post, size_t *post_len) KITH_MUST_CHECK;

#endif
