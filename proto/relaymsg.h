/*
 * relaymsg.h — the relay's messages (docs/PROTOCOL.md, "Relay").
 *
 * Each is a kith message [1, type, ...fields] (proto/msg.h) of a type from 64 to
 * 73, carried inside the Noise transport messages of a relay connection:
 *
 *   R_INFO   [1, 64, version, max_envelope, ttl_s, flags]   relay -> client, first
 *   R_PUT    [1, 65, req, owner, box, size]                 an envelope follows
 *   R_DATA   [1, 66, chunk]                                 either way
 *   R_OK     [1, 67, req, value]                            relay: done (durable)
 *   R_ERR    [1, 68, req, code, text]                       relay: refused
 *   R_FETCH  [1, 69, req, after, max_bytes]                 client: my mail after eid
 *   R_MAIL   [1, 70, eid, box, size]                        relay: an envelope follows
 *   R_DEL    [1, 71, req, [eid, ...]]                       client: delete
 *   R_WAIT   [1, 72, req, tag]                              client: rendezvous, wait
 *   R_JOIN   [1, 73, req, tag]                              client: rendezvous, join
 *
 * Field types: req, version, code and flags uint < 2^32; max_envelope, ttl_s,
 * size, value, after, max_bytes and eid uint < 2^64; owner bin 32 (an X25519
 * public key); box bin 16; tag bin 16; chunk bin of 0 to KITH_RMSG_CHUNK_MAX
 * bytes (an empty R_DATA is the keepalive of a rendezvous wait); text str of at
 * most KITH_RMSG_TEXT_MAX bytes of UTF-8 without NUL; the R_DEL array holds 0 to
 * KITH_RMSG_DEL_MAX eids.
 *
 * Decoding is strict, like proto/syncmsg.h: exactly the fields of the type, each
 * of its msgpack type and size; anything else is KITH_EBADMSG. Encoding refuses
 * (KITH_EINVAL) what decoding would refuse, so what kith_rmsg_encode writes,
 * kith_rmsg_decode reads back as the same message; integers are written in their
 * shortest msgpack form. Golden bytes: tests/unit/test_relaymsg.c.
 *
 * Borrowed memory: after a decode, an R_DATA's chunk points into the decoded
 * buffer (the body of the struct kith_msg, itself borrowed from the plaintext it
 * was decoded from: core/chan.h says how long that lives). R_DEL's eids are
 * copied into an array the caller provides (eids, room for KITH_RMSG_DEL_MAX);
 * kith_rmsg_decode keeps that pointer across its memset.
 */
#ifndef KITH_RELAYMSG_H
#define KITH_RELAYMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"

#define KITH_RMSG_VERSION 1        /* R_INFO's version: the relay protocol's */
#define KITH_RMSG_KEY_LEN 32       /* owner: an X25519 public key */
#define KITH_RMSG_BOX_LEN 16       /* box: BLAKE2b-128 */
#define KITH_RMSG_TAG_LEN 16       /* rendezvous tag: an invite's (proto/invite.h) */
#define KITH_RMSG_CHUNK_MAX 60000  /* bytes in one R_DATA */
#define KITH_RMSG_DEL_MAX 1024     /* eids in one R_DEL */
#define KITH_RMSG_TEXT_MAX 200     /* bytes of UTF-8 in an R_ERR's text */
#define KITH_RMSG_PUTS_MAX 64      /* puts a client may have in flight */
#define KITH_RMSG_ENCODED_MAX 9000 /* any message but R_DATA and R_DEL fits in this */

enum kith_rmsg_type {
  KITH_RMSG_INFO = 64,
  KITH_RMSG_PUT = 65,
  KITH_RMSG_DATA = 66,
  KITH_RMSG_OK = 67,
  KITH_RMSG_ERR = 68,
  KITH_RMSG_FETCH = 69,
  KITH_RMSG_MAIL = 70,
  KITH_RMSG_DEL = 71,
  KITH_RMSG_WAIT = 72,
  KITH_RMSG_JOIN = 73,
};
#define KITH_RMSG_FIRST KITH_RMSG_INFO
#define KITH_RMSG_LAST KITH_RMSG_JOIN

/* R_ERR codes. A client accepts any code (a newer relay may send one this build
 * does not know) and shows kith_rmsg_err_text's sentence for it. */
enum kith_rmsg_err {
  KITH_RERR_TOO_BIG = 1,       /* the envelope is larger than max_envelope */
  KITH_RERR_BOX_QUOTA = 2,     /* the box holds its most envelopes or bytes */
  KITH_RERR_OWNER_QUOTA = 3,   /* the owner's mailbox holds its most bytes */
  KITH_RERR_RATE = 4,          /* rate limited: too many deposits from this address */
  KITH_RERR_NOT_OWNER = 5,     /* the box belongs to another owner */
  KITH_RERR_BUSY = 6,          /* busy (disk full, queue full...): retry later */
  KITH_RERR_MALFORMED = 7,     /* the request makes no sense here */
  KITH_RERR_NO_RENDEZVOUS = 8, /* nobody waits under that tag (or it was used) */
};

/* One relay message: type, then the fields that type uses (the others are zero
 * after a decode, and ignored by the encoder). */
struct kith_rmsg {
  int type;              /* enum kith_rmsg_type */
  uint32_t req;          /* PUT, OK, ERR, FETCH, DEL, WAIT, JOIN */
  uint32_t version;      /* INFO */
  uint64_t max_envelope; /* INFO: bytes */
  uint64_t ttl_s;        /* INFO: seconds an envelope is kept unfetched */
  uint32_t flags;        /* INFO: none defined yet; unknown bits are ignored */
  uint8_t owner[KITH_RMSG_KEY_LEN];  /* PUT */
  uint8_t box[KITH_RMSG_BOX_LEN];    /* PUT, MAIL */
  uint64_t size;                     /* PUT, MAIL: the envelope's bytes */
  uint64_t value;                    /* OK: PUT the eid, FETCH more (0/1), DEL n */
  uint32_t code;                     /* ERR: enum kith_rmsg_err */
  char text[KITH_RMSG_TEXT_MAX + 1]; /* ERR: NUL-terminated */
  uint64_t after;                    /* FETCH: envelopes with a larger eid */
  uint64_t max_bytes;                /* FETCH: about this many bytes, then R_OK */
  uint64_t eid;                      /* MAIL */
  uint8_t tag[KITH_RMSG_TAG_LEN];    /* WAIT, JOIN */
  const uint8_t *chunk;              /* DATA: borrowed (see above) */
  size_t chunk_len;                  /* DATA: 0..KITH_RMSG_CHUNK_MAX */
  uint64_t *eids;                    /* DEL: the caller's array */
  size_t neids;                      /* DEL: 0..KITH_RMSG_DEL_MAX */
};

/* Encodes m as a complete message ([1, type, ...]) into out (cap bytes) and sets
 * *len. Returns 0, or KITH_EINVAL: an unknown type, a field out of its bounds (a
 * chunk over KITH_RMSG_CHUNK_MAX or NULL with a length, more than
 * KITH_RMSG_DEL_MAX eids, a text that is not NUL-terminated UTF-8 of at most
 * KITH_RMSG_TEXT_MAX bytes), or out too small (*len is then 0). */
int kith_rmsg_encode(const struct kith_rmsg *m, uint8_t *out, size_t cap,
                     size_t *len) KITH_MUST_CHECK;

/* Decodes the relay message m (from kith_msg_decode, a type from 32 up) into *out.
 * For an R_DEL, out->eids must point at room for KITH_RMSG_DEL_MAX eids; the
 * pointer is kept whatever happens. Returns 0, or KITH_EBADMSG (a type that is not
 * a relay type, or anything malformed); *out is then zeroed but for eids. */
int kith_rmsg_decode(const struct kith_msg *m, struct kith_rmsg *out) KITH_MUST_CHECK;

/* The bytes of an R_DATA that come before a chunk of len bytes (at most
 * KITH_RMSG_DATA_HDR_MAX), so that a sender can read the chunk straight into place
 * after them: exactly what kith_rmsg_encode writes before the chunk. Sets *hlen.
 * Returns 0, or KITH_EINVAL if len is above KITH_RMSG_CHUNK_MAX. */
#define KITH_RMSG_DATA_HDR_MAX 6
int kith_rmsg_data_header(size_t len, uint8_t out[static KITH_RMSG_DATA_HDR_MAX],
                          size_t *hlen) KITH_MUST_CHECK;

/* True if type is one of the relay's (64..73). Can't fail. */
bool kith_rmsg_is_relay(int type);

/* Sets an R_ERR's text to s, cut at a character boundary to fit its bound.
 * Can't fail. */
void kith_rmsg_set_text(struct kith_rmsg *m, const char *s);

/* The sentence a person reads for an R_ERR code ("the envelope is too big for
 * this relay"); a generic one for codes this build does not know. Can't fail. */
const char *kith_rmsg_err_text(uint32_t code);

#endif
