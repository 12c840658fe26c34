/*
 * msg.h — the messages of a kith connection, carried inside Noise transport
 * messages (docs/PROTOCOL.md, "Messages").
 *
 * Each message is one msgpack array, [version, type, ...fields]:
 *
 *   BYE      [1, 1]
 *   REFUSE   [1, 2, code (uint, < 2^32), text (str, <= 200 bytes)]
 *   PAIR_ID  [1, 16, key (bin 32), name (str, <= 256), label (str, <= 256),
 *             link (bool), signature (bin 64)]
 *   PAIR_OK  [1, 17]
 *   sync     [1, type (32..65535), ...fields]: defined by the sync work
 *
 * The golden bytes of each are in tests/unit/test_msg.c.
 *
 * Decoding is strict and bounded: the message must be exactly one msgpack item
 * (checked by kith_mp_check before msgpack-c allocates anything), with exactly the
 * fields of its type, each of the right msgpack type; strings must be UTF-8 without
 * NUL and within their bound. The version is read first and alone: a message whose
 * first element is a version other than 1 is KITH_EVERSION whatever follows, since
 * another version may lay out the rest differently; that is what a receiver
 * answers with REFUSE 7. Everything else malformed is KITH_EBADMSG.
 *
 * Decoded messages own no memory: strings are copied into fixed arrays inside
 * struct kith_msg, so there is nothing to free. The one exception is a sync
 * message, whose fields are left as raw msgpack for the sync module and borrowed
 * from the buffer that was decoded (see struct kith_msg).
 *
 * Encoding refuses what decoding would refuse (KITH_EINVAL), so whatever
 * kith_msg_encode writes, kith_msg_decode reads back as the same message.
 */
#ifndef KITH_MSG_H
#define KITH_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/err.h"

#define KITH_MSG_VERSION 1
#define KITH_MSG_MAX_DEPTH 16 /* kith_mp_check's max_depth for a whole message */
#define KITH_MSG_TYPE_MAX 65535
#define KITH_REFUSE_TEXT_MAX 200 /* bytes of UTF-8 */
#define KITH_PAIR_NAME_MAX 256
#define KITH_PAIR_LABEL_MAX 256
#define KITH_PAIR_PK_LEN 32  /* Ed25519 public key */
#define KITH_PAIR_SIG_LEN 64 /* Ed25519 signature */

enum kith_msg_type {
  KITH_MSG_BYE = 1,
  KITH_MSG_REFUSE = 2,
  KITH_MSG_PAIR_ID = 16,
  KITH_MSG_PAIR_OK = 17,
  KITH_MSG_SYNC_FIRST = 32 /* types from here up are sync messages */
};

/* REFUSE codes. A receiver accepts any code (a newer peer may send one this build
 * does not know) and shows kith_refuse_text's sentence for it. */
enum kith_refuse_code {
  KITH_REFUSE_UNTRUSTED = 1,      /* untrusted device */
  KITH_REFUSE_REVOKED = 2,        /* revoked device */
  KITH_REFUSE_INVITE_USED = 3,    /* invite already used */
  KITH_REFUSE_INVITE_EXPIRED = 4, /* invite expired */
  KITH_REFUSE_INVITE_UNKNOWN = 5, /* unknown invite */
  KITH_REFUSE_BUSY = 6,           /* busy */
  KITH_REFUSE_VERSION = 7,        /* incompatible version */
  KITH_REFUSE_PROTOCOL = 8        /* protocol error */
};

/* One message. Set type, then the member of u that type names (none for BYE and
 * PAIR_OK). Strings are NUL-terminated UTF-8. */
struct kith_msg {
  int type; /* enum kith_msg_type, or a sync type from KITH_MSG_SYNC_FIRST up */
  union {
    struct {
      uint32_t code; /* enum kith_refuse_code */
      char text[KITH_REFUSE_TEXT_MAX + 1];
    } refuse;
    struct {
      uint8_t pk[KITH_PAIR_PK_LEN];
      char name[KITH_PAIR_NAME_MAX + 1];
      char label[KITH_PAIR_LABEL_MAX + 1];
      bool link; /* joins as a new device of the inviter's user */
      uint8_t sig[KITH_PAIR_SIG_LEN];
    } pair_id;
    struct {
      /* The fields after the type, as nfields consecutive msgpack items
       * (len bytes at body). After a decode, body points into the decoded
       * buffer and lives as long as it does. */
      const uint8_t *body;
      size_t len;
      uint32_t nfields;
    } sync;
  } u;
};

/* Writes m as one msgpack message into out (cap bytes) and sets *len. Returns 0;
 * KITH_EINVAL if m is not something kith_msg_decode would accept (an unknown type;
 * a string that is not NUL-terminated within its array, longer than its bound or
 * not UTF-8; a sync body that is not nfields well-formed msgpack items) or if out
 * is too small. On error *len is 0 and out's contents are unspecified. */
int kith_msg_encode(const struct kith_msg *m, uint8_t *out, size_t cap,
                    size_t *len) KITH_MUST_CHECK;

/* Reads one message from buf (len bytes) into *m. Returns 0; KITH_EVERSION if it
 * is an array whose first element is a version other than KITH_MSG_VERSION;
 * KITH_EBADMSG for anything else that is not exactly one message of a known type
 * (or a sync type) with exactly its fields: truncated or trailing bytes, wrong
 * msgpack types, oversized or non-UTF-8 strings, wrong key or signature sizes
 * (and if msgpack-c runs out of memory, which kith_mp_check bounds by len). On
 * error *m is zeroed. A sync message's u.sync.body borrows buf. */
int kith_msg_decode(const uint8_t *buf, size_t len, struct kith_msg *m) KITH_MUST_CHECK;

/* True if a and b are the same message: same type and the same fields (strings
 * compared as strings, a sync body compared by its bytes). Can't fail. */
bool kith_msg_equal(const struct kith_msg *a, const struct kith_msg *b);

/* Sets a REFUSE's text to s, cut at a character boundary to fit its bound (a
 * reason longer than 200 bytes still makes a valid REFUSE). Can't fail. */
void kith_refuse_set_text(struct kith_msg *m, const char *s);

/* The sentence a person reads for a REFUSE code ("this invite code has already
 * been used"); a generic one for codes this build does not know. Can't fail. */
const char *kith_refuse_text(uint32_t code);

#endif
