/*
 * beacon.h — LAN discovery beacons (docs/PROTOCOL.md, "LAN discovery"): a device
 * tells the peers that already know its public key that it listens on a TCP port
 * of the address the beacon came from, and tells nobody else anything.
 *
 *   bytes:  version (1) | nonce (16) | minute (4) | port (2) | tag (16) = 39
 *
 *   version  1
 *   nonce    random, fresh for every beacon (the caller draws it)
 *   minute   unix time in minutes when sent, big-endian
 *   port     the TCP port the device listens on, big-endian, 1..65535
 *   tag      BLAKE2b-128, keyed with the device's beacon key K, of the 23 bytes
 *            before it
 *   K        BLAKE2b-256, keyed with the 16 bytes "kith beacon v1\0\0", of the
 *            device's Ed25519 public key (32 bytes)
 *
 * A receiver computes K once for each device it knows and checks every beacon
 * against each K: one BLAKE2b of 23 bytes per known device per datagram.
 *
 * What it guarantees
 * - To whoever does not know the public key, a beacon is a random nonce, a coarse
 *   timestamp, a port and a tag that looks random: no name, no key, no stable
 *   identifier. Two beacons of one device cannot be told to be the same device's
 *   from their contents (the nonce is fresh and the tag a keyed hash over it).
 * - A beacon that matches K was made by someone who knows K, so by someone who
 *   knows the public key, within KITH_BEACON_SKEW_MIN minutes of the receiver's
 *   clock.
 *
 * What it does not guarantee
 * - Authenticity beyond that: K is derived from a public key, so every peer of the
 *   device can make beacons in its name. A beacon is only a hint where to connect;
 *   the Noise IK handshake that follows proves who answers.
 * - Freshness beyond the skew window: anyone who records a beacon can send it
 *   again, from any address, until the receiver's clock is more than
 *   KITH_BEACON_SKEW_MIN minutes past the beacon's minute (up to 3 minutes after it
 *   was sent). The receiver's cost is one (rate-limited) IK handshake that
 *   fails. struct kith_beacon_seen drops a second copy of a nonce, but the first
 *   copy to arrive wins: a replayer faster than the device delays the device's
 *   discovery until a later beacon, which on a LAN is no more than dropping
 *   packets, something such an attacker can do anyway.
 * - Hiding what is outside the tag: the sender's address, the port (which, if it
 *   stays the same, links beacons as well as the address does), the minute and the
 *   rhythm at which beacons are sent are visible to everyone on the LAN.
 * - Hiding the device from its peers: whoever knows the public key recognises each
 *   of its beacons. That is what they are for.
 */
#ifndef KITH_BEACON_H
#define KITH_BEACON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/err.h"

#define KITH_BEACON_VERSION 1
#define KITH_BEACON_LEN 39
#define KITH_BEACON_PK_LEN 32 /* Ed25519 public key */
#define KITH_BEACON_KEY_LEN 32
#define KITH_BEACON_NONCE_LEN 16
#define KITH_BEACON_TAG_LEN 16
#define KITH_BEACON_SKEW_MIN 2 /* minutes either side of the receiver's clock */
#define KITH_BEACON_SEEN_MAX 256

/* A parsed beacon. Only version 1 parses, so the version is not kept. */
struct kith_beacon {
  uint8_t nonce[KITH_BEACON_NONCE_LEN];
  uint32_t minute; /* unix time / 60 at the sender */
  uint16_t port;   /* 1..65535 */
  uint8_t tag[KITH_BEACON_TAG_LEN];
};

/* Writes the beacon key of the device whose public key is pk. Returns 0, or
 * KITH_EINVAL if the hash fails (it does not, with these sizes); key is then
 * zeroed. */
int kith_beacon_key(const uint8_t pk[static KITH_BEACON_PK_LEN],
                    uint8_t key[static KITH_BEACON_KEY_LEN]) KITH_MUST_CHECK;

/* Writes the beacon of the device with beacon key key, sent at minute, for TCP
 * port port, into out. nonce must be fresh random bytes for every beacon
 * (randombytes_buf); the caller passes them so that tests are deterministic.
 * Returns 0, or KITH_EINVAL for port 0 or a failed hash; out is then zeroed. */
int kith_beacon_make(const uint8_t key[static KITH_BEACON_KEY_LEN],
                     const uint8_t nonce[static KITH_BEACON_NONCE_LEN], uint32_t minute,
                     uint16_t port,
                     uint8_t out[static KITH_BEACON_LEN]) KITH_MUST_CHECK;

/* Reads the len bytes at buf (a datagram, from anyone) into *out, without checking
 * the tag (kith_beacon_match does). Returns 0, or (with *out zeroed):
 *   KITH_EVERSION  the first byte is not 1: another version of the format, which
 *                  may have another length, or not a beacon at all;
 *   KITH_EBADMSG   empty, or version 1 and not exactly KITH_BEACON_LEN bytes, or
 *                  port 0.
 * A receiver drops both alike; the difference is only for diagnostics. */
int kith_beacon_parse(const uint8_t *buf, size_t len,
                      struct kith_beacon *out) KITH_MUST_CHECK;

/* True iff b's tag is the one key gives its nonce, minute and port (compared in
 * constant time) and b->minute is within KITH_BEACON_SKEW_MIN of now_minute, on
 * either side. b must come from kith_beacon_parse. Can't fail: a failing hash
 * gives false. */
bool kith_beacon_match(const struct kith_beacon *b,
                       const uint8_t key[static KITH_BEACON_KEY_LEN],
                       uint32_t now_minute);

/* The last KITH_BEACON_SEEN_MAX nonces added, oldest overwritten first; the
 * caller's storage. */
struct kith_beacon_seen {
  uint8_t nonce[KITH_BEACON_SEEN_MAX][KITH_BEACON_NONCE_LEN];
  size_t next;  /* slot the next nonce goes to */
  size_t count; /* slots in use, up to KITH_BEACON_SEEN_MAX */
};

/* Empties s (a zero-filled struct is empty too). Can't fail. */
void kith_beacon_seen_init(struct kith_beacon_seen *s);

/* Adds nonce to s and returns true, or returns false (s unchanged) if nonce is
 * among the last KITH_BEACON_SEEN_MAX added. Add a beacon only after it matched a
 * key: then strangers' datagrams cannot push real nonces out, and a replay inside
 * the skew window is caught unless more than KITH_BEACON_SEEN_MAX matching beacons
 * arrived since. Can't fail. */
bool kith_beacon_seen_add(struct kith_beacon_seen *s,
                          const uint8_t nonce[static KITH_BEACON_NONCE_LEN]);

#endif
