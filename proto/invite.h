/*
 * invite.h — invite codes: what a person reads out or types to pair two devices
 * (docs/PROTOCOL.md, "Invite codes").
 *
 * A code carries a 128-bit secret, whether it links a new device of the same user,
 * and up to four addresses where the inviter can be reached (where it listens, or a
 * relay where it waits), then a 24-bit check:
 *
 *   bytes:  version/flags (1) | secret (16) | hints (0..4 of 7 or 19) | check (3)
 *   text:   Crockford base32 of the bytes, upper case, in groups of 5 joined by '-'
 *
 *   version/flags  high nibble the version (1); bit 0 device link; bits 1-3 zero
 *   hint           a kind (1), an address and a port (2, big-endian):
 *                    kind 1: IPv4 (4), the inviter listens there;
 *                    kind 2: IPv6 (16), the same;
 *                    kind 3: IPv4 (4) of a relay where the inviter waits under the
 *                            tag below (docs/PROTOCOL.md, "Relay": R_WAIT/R_JOIN);
 *                    kind 4: IPv6 (16) of such a relay.
 *                  Any other kind makes the whole code malformed.
 *   check          the first 3 bytes of BLAKE2b-256 keyed with the 16 bytes
 *                  "kith invite v1\0\0" over every byte before it
 *
 * Base32 packs the bytes' bits most significant first, 5 to a character, the last
 * character padded with zero bits: 20 bytes (no hint) make 32 characters in 7
 * groups (tests/unit/test_invite.c has golden codes). Exactly one text (up
 * to case, '-', spaces and I/L/O) reads as a given invite: the character count
 * must be one that whole bytes produce and the padding bits must be zero, so every
 * change of one character changes the bytes, and the check then refuses it
 * except with probability 2^-24.
 *
 * From the secret, two values that do not reveal it:
 *
 *   psk  BLAKE2b-256, keyed with the secret, of "kith invite psk v1": the Noise
 *        NNpsk0 pre-shared key of the pairing handshake;
 *   tag  BLAKE2b-128, keyed with the secret, of "kith invite tag v1": a name to look
 *        the invite up by on a LAN or a relay.
 *
 * A kith_invite holds the secret: clear it with kith_invite_clear when done. The
 * functions here wipe their own copies on every path out. The text of a code holds
 * the secret too; that buffer is the caller's to wipe.
 */
#ifndef KITH_INVITE_H
#define KITH_INVITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/err.h"

#define KITH_INVITE_VERSION 1
#define KITH_INVITE_SECRET_LEN 16
#define KITH_INVITE_PSK_LEN 32
#define KITH_INVITE_TAG_LEN 16
#define KITH_INVITE_MAX_HINTS 4
#define KITH_INVITE_CHECK_LEN 3
#define KITH_INVITE_BYTES_MIN (1 + KITH_INVITE_SECRET_LEN + KITH_INVITE_CHECK_LEN)
#define KITH_INVITE_BYTES_MAX (KITH_INVITE_BYTES_MIN + KITH_INVITE_MAX_HINTS * 19)
/* The longest code: 154 characters, 30 dashes and the NUL. */
#define KITH_INVITE_TEXT_MAX 185

/* Where the inviter may be reached: at addr:port itself, or, if relay, through the
 * relay at addr:port (a rendezvous under the invite's tag). */
struct kith_hint {
  int family;       /* 4 or 6 */
  uint8_t addr[16]; /* network byte order; IPv4 uses the first 4 (the rest zero
                       after a parse, ignored by format) */
  uint16_t port;    /* 1..65535 */
  bool relay;       /* kinds 3 and 4: a relay's address, not the inviter's */
};

struct kith_invite {
  uint8_t version; /* KITH_INVITE_VERSION */
  bool device;     /* links a new device of the inviter's own user */
  uint8_t secret[KITH_INVITE_SECRET_LEN];
  int nhints; /* 0..KITH_INVITE_MAX_HINTS */
  struct kith_hint hints[KITH_INVITE_MAX_HINTS];
};

/* Writes inv as a code into out (cap bytes, NUL-terminated; KITH_INVITE_TEXT_MAX
 * always suffices). Returns 0, or KITH_EINVAL (out is then "" if cap > 0) if inv
 * is not something kith_invite_parse would return (another version, nhints out of
 * range, a family other than 4 or 6, port 0) or cap is too small. */
int kith_invite_format(const struct kith_invite *inv, char *out,
                       size_t cap) KITH_MUST_CHECK;

/* Reads a code as a person typed it: lower or upper case, '-' and spaces anywhere
 * ignored, I and L read as 1, O as 0. Returns 0, or KITH_EBADMSG (and *out zeroed)
 * for any other character, a character count no whole number of bytes gives,
 * non-zero padding bits, a length outside 20..96 bytes, a failed check, another
 * version, a reserved flag bit set, or malformed hints (a kind other than 1 to 4,
 * truncated, more than 4, port 0). */
int kith_invite_parse(const char *text, struct kith_invite *out) KITH_MUST_CHECK;

/* Wipes inv (the secret with it). NULL-safe. */
void kith_invite_clear(struct kith_invite *inv);

/* The pairing psk derived from secret (see above). Returns 0 or KITH_EINVAL if the
 * hash fails (it does not, with these sizes). */
int kith_invite_psk(const uint8_t secret[static KITH_INVITE_SECRET_LEN],
                    uint8_t psk[static KITH_INVITE_PSK_LEN]) KITH_MUST_CHECK;

/* The lookup tag derived from secret (see above). Returns 0 or KITH_EINVAL. */
int kith_invite_tag(const uint8_t secret[static KITH_INVITE_SECRET_LEN],
                    uint8_t tag[static KITH_INVITE_TAG_LEN]) KITH_MUST_CHECK;

#endif
