/*
 * noise.h — the Noise Protocol Framework (revision 34): handshakes and transport.
 *
 * kith authenticates and encrypts every channel between devices with Noise. This
 * module is the whole of Noise that kith uses, as a pure state machine: bytes in,
 * bytes out, no sockets, no clocks, no allocation after the handshake state exists.
 * The same code runs over TCP, through a relay and in a unit test with two states in
 * one process.
 *
 * What is implemented
 *
 *   Protocol names "Noise_<PATTERN>_25519_ChaChaPoly_<HASH>", HASH being BLAKE2b or
 *   SHA256, PATTERN one of (arrows: who sends; tokens in the order processed):
 *
 *     NN      -> e                  <- e, ee
 *     XX      -> e                  <- e, ee, s, es        -> s, se
 *     IK      <- s (pre-message)    -> e, es, s, ss        <- e, ee, se
 *     NNpsk0  -> psk, e             <- e, ee
 *     XXpsk3  -> e                  <- e, ee, s, es        -> s, se, psk
 *     K       -> s, <- s (pre)      -> e, es, ss            (one-way)
 *
 *   kith syncs with Noise_IK_25519_ChaChaPoly_BLAKE2b, pairs with NNpsk0 or
 *   XXpsk3, talks to relays with XX and seals envelopes with the one-way K (see
 *   docs/PROTOCOL.md); after K's one message only the initiator's sending cipher
 *   is used. Patterns live in one table in noise.c; another
 *   pattern from the specification is one more entry there.
 *
 *   Tokens, as the specification defines them (h: the handshake hash; ck: the
 *   chaining key; MixKey derives a new ck and cipher key from ck and its input with
 *   HKDF; MixHash sets h = HASH(h || data)):
 *
 *     e    the sender's fresh ephemeral public key, in clear; MixHash(e), and in a
 *          psk pattern also MixKey(e).
 *     s    the sender's static public key, encrypted (and MACed) once a key exists.
 *     ee, es, se, ss
 *          MixKey(X25519 of the named keys): the first letter is the initiator's
 *          key, the second the responder's.
 *     psk  MixKeyAndHash(the 32-byte pre-shared key).
 *
 *   Each message ends with the payload, encrypted once a key exists: in every
 *   message but the first of NN and XX, whose payload travels in clear and
 *   unauthenticated until the reply. (XXpsk3's first payload is encrypted, but
 *   with a key derived from public values only: treat it as clear too.) h absorbs
 *   every message, so a byte changed anywhere in the handshake makes a MAC fail, at
 *   the latest in the next message.
 *
 * Primitives (libsodium): X25519 is crypto_scalarmult, and a result of all zeros (a
 * low-order public key) is an error, never a key; ChaChaPoly is
 * crypto_aead_chacha20poly1305_ietf with the nonce 4 zero bytes || little-endian
 * 64-bit counter; BLAKE2b is crypto_generichash with 64-byte output and its HMAC is
 * RFC 2104 over it with a 128-byte block; SHA256 is crypto_hash_sha256 and
 * crypto_auth_hmacsha256.
 *
 * What it guarantees
 *
 *   - Byte-for-byte Noise: it reproduces the published vectors in
 *     ../shared/vectors/noise/ (tests/unit/test_noise.c, tests/noise_vectors.c).
 *   - Every length is checked before use: a message is at most KITH_NOISE_MAX_MSG
 *     bytes, a message too short for its tokens is KITH_EBADMSG, an output buffer too
 *     small is KITH_EINVAL; nothing is written past a capacity.
 *   - A failed MAC, a malformed message or a peer key that yields an all-zero DH is
 *     KITH_EBADMSG, and nothing of that message's payload reaches the caller (the
 *     payload buffer is zeroed, *payload_len is 0).
 *   - Fail-stop: after any error, whatever its cause (a bad message, a call out of
 *     turn, a small buffer), the state is dead and every later call on it returns
 *     KITH_EINVAL. A caller that sees an error drops the session; nothing can be
 *     retried on the same state, so nothing can be probed twice.
 *   - Nonces are counters that are never reused and never wrap: each side counts
 *     its messages from 0, and a cipher refuses to use 2^64-1 (as Noise reserves it).
 *     A replayed, dropped or reordered transport message fails its MAC.
 *   - Keys the pattern has no use for are refused (KITH_EINVAL): passing a remote
 *     key to XX does not make XX check it, so the call says so rather than ignore it.
 *   - Secrets (private keys, psk, chaining key, cipher keys, DH results) are wiped
 *     with sodium_memzero on every path out, and by the free functions.
 *
 * What it does not do
 *
 *   - Decide whom to trust. After an XX or XXpsk3 handshake, kith_noise_remote_static
 *     tells who the peer is; comparing that key with a pinned one is the caller's job.
 *     After IK the responder learns the initiator's key the same way.
 *   - Hide lengths, frame messages or time anything out: the caller frames each
 *     message (length-prefixed, capped before decoding) and owns the timers.
 *   - Re-key, fall back (Noise Pipes), or deliver out of order: transport messages
 *     must arrive once each and in order, as over TCP.
 *   - Protect the first payload of NN and XX, which is sent in clear. Send nothing
 *     secret there. IK's first payload is encrypted to the responder's static key but
 *     can be replayed to it; it does not have forward secrecy against that key.
 *
 * Threads: a state is used by one thread at a time; distinct states are independent.
 */
#ifndef KITH_NOISE_H
#define KITH_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/err.h"

#define KITH_NOISE_KEY_LEN 32    /* X25519 private and public keys, psk */
#define KITH_NOISE_HASH_MAX 64   /* handshake hash: 64 (BLAKE2b) or 32 (SHA256) */
#define KITH_NOISE_TAG_LEN 16    /* ChaChaPoly's MAC */
#define KITH_NOISE_MAX_MSG 65535 /* any Noise message, handshake or transport */
#define KITH_NOISE_MAX_PAYLOAD (KITH_NOISE_MAX_MSG - KITH_NOISE_TAG_LEN)

typedef struct kith_noise_hs kith_noise_hs;         /* one side of one handshake */
typedef struct kith_noise_cipher kith_noise_cipher; /* one direction of transport */

enum kith_noise_role { KITH_NOISE_INITIATOR, KITH_NOISE_RESPONDER };

/* What a handshake state waits for (kith_noise_next). */
enum kith_noise_next {
  KITH_NOISE_WRITE, /* call kith_noise_write_message */
  KITH_NOISE_READ,  /* call kith_noise_read_message with the peer's message */
  KITH_NOISE_SPLIT, /* handshake done: call kith_noise_split */
  KITH_NOISE_DONE,  /* split already */
  KITH_NOISE_FAILED /* dead after an error */
};

/* What a protocol asks of one role, for kith_noise_needs. */
#define KITH_NOISE_NEED_STATIC 1u        /* a local static key */
#define KITH_NOISE_NEED_REMOTE_STATIC 2u /* the peer's public key, known first */
#define KITH_NOISE_NEED_PSK 4u           /* a 32-byte pre-shared key */

/* The keys and bytes a handshake starts from. Pointers are borrowed for the call
 * only (kith_noise_hs_new copies what it keeps); each key pointer is NULL or points
 * at KITH_NOISE_KEY_LEN bytes. */
struct kith_noise_config {
  const char *protocol; /* "Noise_IK_25519_ChaChaPoly_BLAKE2b", ... */
  enum kith_noise_role role;
  const uint8_t *prologue;      /* bytes both sides must agree on; may be NULL if */
  size_t prologue_len;          /* prologue_len is 0 */
  const uint8_t *local_static;  /* our X25519 private key, if the pattern sends or
                                   pre-shares one for this role */
  const uint8_t *remote_static; /* the peer's public key, if the pattern has the
                                   peer pre-share it (IK initiator) */
  const uint8_t *psk;           /* for psk patterns */
  const uint8_t *ephemeral;     /* tests only: a fixed ephemeral private key; NULL
                                   (always, outside tests) draws a fresh random one */
};

/* Sets *needs to the KITH_NOISE_NEED_* bits that protocol asks of role. Returns 0,
 * or KITH_EINVAL if the protocol name is not one this module implements (a caller
 * can use it to ask "supported?"). Can't fail otherwise. */
int kith_noise_needs(const char *protocol, enum kith_noise_role role,
                     unsigned *needs) KITH_MUST_CHECK;

/* Starts one side of a handshake: parses cfg->protocol, mixes the protocol name, the
 * prologue and the pre-message keys into the handshake hash. The caller frees *out
 * with kith_noise_hs_free. Returns 0; KITH_EINVAL for an unknown protocol, a key the
 * protocol needs and cfg lacks, a key it has no use for, a private key whose public
 * key cannot be computed, or a remote static key of low order; KITH_ENOMEM. On
 * error *out is NULL. */
int kith_noise_hs_new(const struct kith_noise_config *cfg,
                      kith_noise_hs **out) KITH_MUST_CHECK;

/* Wipes every secret the state holds and frees it. NULL-safe. */
void kith_noise_hs_free(kith_noise_hs *hs);

/* What the state waits for next. Can't fail. */
enum kith_noise_next kith_noise_next(const kith_noise_hs *hs);

/* True once the last handshake message has been written or read successfully
 * (and stays true after kith_noise_split). Can't fail. */
bool kith_noise_is_finished(const kith_noise_hs *hs);

/* Writes the next handshake message, carrying payload (len bytes, may be 0 with
 * payload NULL), into out (out_cap bytes; KITH_NOISE_MAX_MSG always suffices); sets
 * *out_len. out must not overlap payload. Returns 0; KITH_EINVAL if it is not this
 * side's turn (kith_noise_next is not KITH_NOISE_WRITE), if out_cap is too small or
 * the state failed before; KITH_ETOOBIG if the message would exceed
 * KITH_NOISE_MAX_MSG; KITH_EBADMSG if a DH with the peer's key gives all zeros. Any
 * error leaves the state dead. */
int kith_noise_write_message(kith_noise_hs *hs, const uint8_t *payload, size_t len,
                             uint8_t *out, size_t out_cap,
                             size_t *out_len) KITH_MUST_CHECK;

/* Reads the peer's next handshake message (msg, len bytes) and puts its payload in
 * payload_out (cap bytes; len bytes always suffice; may be NULL if cap is 0); sets
 * *payload_len. payload_out must not overlap msg. Returns 0; KITH_EBADMSG if msg
 * is longer than KITH_NOISE_MAX_MSG or too short for its tokens, if a MAC fails, or
 * if a public key in it is of low order (its DH gives all zeros); KITH_EINVAL if it
 * is not the peer's turn, cap is too small or the state failed before. On any error
 * the state is dead, *payload_len is 0 and the first cap bytes of payload_out are
 * zeroed. */
int kith_noise_read_message(kith_noise_hs *hs, const uint8_t *msg, size_t len,
                            uint8_t *payload_out, size_t cap,
                            size_t *payload_len) KITH_MUST_CHECK;

/* Copies the handshake hash h into out and sets *len (64 for BLAKE2b, 32 for
 * SHA256). Once the handshake is finished, h identifies this session uniquely on
 * both sides: sign it to bind an identity to the channel. Before that it covers
 * the messages so far only. Returns 0, or KITH_EINVAL if the state failed. */
int kith_noise_handshake_hash(const kith_noise_hs *hs,
                              uint8_t out[static KITH_NOISE_HASH_MAX],
                              size_t *len) KITH_MUST_CHECK;

/* Copies the peer's static public key into pk once it is known: from the start for
 * an IK initiator, after the message carrying `s` has been read otherwise. The key
 * is authenticated (the peer holds its private key) once that read succeeds.
 * Returns 0, or KITH_EINVAL if it is not known (yet, or ever, as in NN) or the state
 * failed. */
int kith_noise_remote_static(const kith_noise_hs *hs,
                             uint8_t pk[static KITH_NOISE_KEY_LEN]) KITH_MUST_CHECK;

/* After the handshake, derives the two transport ciphers: *send encrypts what this
 * side sends, *recv decrypts what it receives (the initiator sends with Noise's
 * first key, the responder with the second). The caller frees both. Works once: the
 * handshake's remaining secrets are wiped, and a second call (which would hand out
 * the same keys again, and so reuse nonces) is KITH_EINVAL; so is a call before the
 * handshake is finished or after a failure. KITH_ENOMEM. On error both are NULL. The
 * handshake hash and the remote key stay available. */
int kith_noise_split(kith_noise_hs *hs, kith_noise_cipher **send,
                     kith_noise_cipher **recv) KITH_MUST_CHECK;

/* Encrypts one transport message: pt (len bytes, at most KITH_NOISE_MAX_PAYLOAD; pt
 * may be NULL if len is 0) into out (out_cap >= len + KITH_NOISE_TAG_LEN); sets
 * *out_len. out may be pt exactly (in place), but must not overlap it otherwise.
 * Uses the next nonce. Returns 0; KITH_ETOOBIG if len is over
 * KITH_NOISE_MAX_PAYLOAD; KITH_EINVAL if out_cap is too small, the nonces are
 * exhausted (2^64-1 messages) or the cipher failed before. Any error kills it. */
int kith_noise_cipher_encrypt(kith_noise_cipher *c, const uint8_t *pt, size_t len,
                              uint8_t *out, size_t out_cap,
                              size_t *out_len) KITH_MUST_CHECK;

/* Decrypts one transport message msg (len bytes) into out (out_cap >= len -
 * KITH_NOISE_TAG_LEN), with the next nonce; sets *out_len. out may be msg exactly.
 * Returns 0; KITH_EBADMSG if len is under KITH_NOISE_TAG_LEN or over
 * KITH_NOISE_MAX_MSG, or the MAC fails (a tampered, replayed, reordered or foreign
 * message); KITH_EINVAL if out_cap is too small, the nonces are exhausted or the
 * cipher failed before. On any error the cipher is dead, *out_len is 0 and the
 * first out_cap bytes of out are zeroed. */
int kith_noise_cipher_decrypt(kith_noise_cipher *c, const uint8_t *msg, size_t len,
                              uint8_t *out, size_t out_cap,
                              size_t *out_len) KITH_MUST_CHECK;

/* The nonce the next message will use (the count of messages so far). Can't fail. */
uint64_t kith_noise_cipher_nonce(const kith_noise_cipher *c);

/* Moves the counter forward to n. It exists so that tests reach the end of the
 * nonce space without 2^64 messages; it cannot move backwards, so it cannot make a
 * nonce be used twice. Returns 0, or KITH_EINVAL (and kills the cipher) if n is
 * below the current nonce or the cipher failed before. */
int kith_noise_cipher_set_nonce(kith_noise_cipher *c, uint64_t n) KITH_MUST_CHECK;

/* Wipes the key and frees the cipher. NULL-safe. */
void kith_noise_cipher_free(kith_noise_cipher *c);

#endif
