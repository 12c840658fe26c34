/*
 * syncmsg.h — the sync protocol's messages (docs/PROTOCOL.md, "Sync").
 *
 * Each is a kith message [1, type, ...fields] (proto/msg.h) of a sync type:
 *
 *   HELLO  [1, 32, round, [[space, epoch, max, have_epoch|nil, have_seq], ...]]
 *          per space I sync with you: my store's epoch and highest sequence there,
 *          and your (epoch, sequence) through which I hold your changes
 *   REGS   [1, 33, space, chunk]        part of the current batch's bytes
 *   END    [1, 34, space, epoch, from, to, records]
 *          the batch is complete: the changes of my log in (from, to]
 *   DONE   [1, 35, space, status]       0: all sent; 1: not shared with you
 *   ACK    [1, 36, space, epoch, seq]   committed your changes through seq
 *   ROUND  [1, 37, more]                my side of this round is finished; more:
 *                                       I learned of spaces to sync in another
 *
 * space and epoch are bin 16, max/have_seq/from/to/seq uint 64, round, status and
 * records uint 32, chunk bin (at most KITH_SYNC_CHUNK_MAX bytes). A batch's bytes,
 * the concatenation of its REGS chunks, are registers in canonical form
 * (proto/reg.h), each preceded by its length as 4 bytes big-endian.
 *
 * Decoding is strict: exactly the fields of the type, each of its msgpack type and
 * size; anything else is KITH_EBADMSG. Golden bytes in tests/unit/test_syncmsg.c.
 */
#ifndef KITH_SYNCMSG_H
#define KITH_SYNCMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"

#define KITH_SYNC_GID_LEN 16
#define KITH_SYNC_EPOCH_LEN 16
#define KITH_SYNC_CHUNK_MAX 64000 /* fits a 64 KiB frame with its header and tag */
#define KITH_SYNC_HELLO_MAX 256   /* spaces in one HELLO */

enum kith_sync_type {
  KITH_SYNC_HELLO = 32,
  KITH_SYNC_REGS = 33,
  KITH_SYNC_END = 34,
  KITH_SYNC_DONE = 35,
  KITH_SYNC_ACK = 36,
  KITH_SYNC_ROUND = 37,
};

enum { KITH_SYNC_DONE_ALL = 0, KITH_SYNC_DONE_NOT_SHARED = 1 };

struct kith_sync_hello {
  uint8_t space[KITH_SYNC_GID_LEN];
  uint8_t epoch[KITH_SYNC_EPOCH_LEN];
  uint64_t max;
  bool have_known; /* false: nil, I hold nothing of yours there */
  uint8_t have_epoch[KITH_SYNC_EPOCH_LEN];
  uint64_t have_seq;
};

struct kith_smsg {
  int type;
  uint8_t space[KITH_SYNC_GID_LEN];
  uint8_t epoch[KITH_SYNC_EPOCH_LEN];
  uint64_t from, to, seq; /* END: from, to; ACK: seq */
  uint32_t round;         /* HELLO */
  uint32_t status;        /* DONE */
  uint32_t records;       /* END */
  bool more;              /* ROUND */
  const uint8_t *chunk;   /* REGS: borrowed from the decoded buffer */
  size_t chunk_len;
  size_t nhello;
  struct kith_sync_hello *hello; /* HELLO: nhello entries; caller-owned */
};

/* Encodes s as a complete message into out (cap bytes): 0, or KITH_EINVAL (a field
 * out of bounds, or out too small). */
int kith_smsg_encode(const struct kith_smsg *s, uint8_t *out, size_t cap,
                     size_t *len) KITH_MUST_CHECK;

/* Decodes the sync message m (from kith_msg_decode) into s. For a HELLO, s->hello
 * must point at room for KITH_SYNC_HELLO_MAX entries. 0 or KITH_EBADMSG. */
int kith_smsg_decode(const struct kith_msg *m, struct kith_smsg *s) KITH_MUST_CHECK;

/* ---- posts: sync in one direction (docs/PROTOCOL.md, "Posts") ------------------
 *
 *   [1, n, seen, [hello, ...], [[space, epoch, from, to, records, bytes], ...]]
 *
 * n: this post's number from its sender to its recipient (>= 1); seen: the highest
 * the sender opened from the recipient (0: none); hello entries as in HELLO; each
 * batch the records the sender logged in (from, to] of space (to > from), bytes as
 * a batch's concatenated REGS chunks. A post is what one envelope carries. */
#define KITH_POST_BATCH_MAX KITH_SYNC_HELLO_MAX

struct kith_post_batch {
  uint8_t space[KITH_SYNC_GID_LEN];
  uint8_t epoch[KITH_SYNC_EPOCH_LEN];
  uint64_t from, to;
  uint32_t records;
  const uint8_t *bytes; /* after a decode: borrowed from the decoded buffer */
  size_t len;
};

struct kith_post {
  uint64_t n, seen;
  size_t nhello;
  struct kith_sync_hello *hello; /* caller-owned: KITH_SYNC_HELLO_MAX for a decode */
  size_t nbatch;
  struct kith_post_batch *batch; /* caller-owned: KITH_POST_BATCH_MAX for a decode */
};

/* Encodes p into out (cap bytes): 0, or KITH_EINVAL (a field out of bounds, or
 * out too small: *len is then 0). */
int kith_post_encode(const struct kith_post *p, uint8_t *out, size_t cap,
                     size_t *len) KITH_MUST_CHECK;
/* The bytes kith_post_encode needs, at most, for nhello entries and nbatch batches
 * holding bytes in all. Can't fail. */
size_t kith_post_size(size_t nhello, size_t nbatch, size_t bytes);
/* Decodes a post (strictly: exactly one item, every field of its type and size);
 * batches' bytes borrow buf. 0 or KITH_EBADMSG. */
int kith_post_decode(const uint8_t *buf, size_t len,
                     struct kith_post *p) KITH_MUST_CHECK;

#endif
