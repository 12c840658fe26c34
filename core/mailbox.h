/*
 * mailbox.h — the relay's store: envelopes waiting for their recipient, in one LMDB
 * environment in the relay's data folder (not a kith store: no records, no log).
 *
 * What it holds (docs/RELAY.md says what an operator can read off it):
 *   envelopes  owner (32) | eid (8, big-endian) -> box (16) | expiry (8) | bytes
 *   boxes      box (16) -> owner (32) | count (4) | bytes (8)
 *   owners     owner (32) -> count (4) | bytes (8) | boxes (4)
 *   expiry     expiry (8) | owner (32) | eid (8) -> ""
 *   meta       "schema" -> 1; "eid" -> the last eid given; "key" -> the relay's
 *              X25519 static key pair (secret | public); "total" -> count (8) |
 *              bytes (8) | boxes (8), over every owner
 * An owner is a recipient's X25519 public key; a box is a sender-recipient pair's
 * mailbox id (docs/PROTOCOL.md, "Relay"). eids grow with every deposit on this
 * relay (never reused, never 0), so an owner's envelopes come out oldest first.
 * A box's record, and an owner's, goes away with its last envelope: a box is bound
 * to its owner while it holds mail.
 *
 * Writes come in batches (kith_mailbox_apply): every operation of a batch in one
 * write transaction, one fsync (LMDB's default sync; nothing here weakens it), each
 * operation with its own result. The relay queues the requests of all its
 * connections while a batch commits, and answers each only after its batch
 * committed: an acknowledged envelope survives kill -9 and power loss.
 *
 * Threads: kith_mailbox_apply may run on any one thread at a time (the relay's
 * worker), concurrently with the read functions, which must all run on one other
 * thread (the relay's loop: they share one reusable read transaction).
 *
 * A full disk or map (KITH_EFULL) never leaves anything half-written: LMDB aborts
 * the transaction, the batch is retried without its deposits (deleting mail frees
 * room), and every deposit is answered KITH_RERR_BUSY.
 */
#ifndef KITH_MAILBOX_H
#define KITH_MAILBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/err.h"
#include "proto/relaymsg.h"

#define KITH_MAILBOX_SCHEMA 1
/* 1 MiB + 4 KiB: a 1 MiB post and its framing */
#define KITH_MAILBOX_MAX_ENVELOPE_DEFAULT (((uint64_t)1 << 20) + 4096)
#define KITH_MAILBOX_BOX_COUNT_DEFAULT 4096
#define KITH_MAILBOX_BOX_BYTES_DEFAULT ((uint64_t)64 << 20)
#define KITH_MAILBOX_OWNER_BYTES_DEFAULT ((uint64_t)256 << 20)
#define KITH_MAILBOX_TTL_DEFAULT ((uint64_t)14 * 24 * 3600) /* seconds */
#define KITH_MAILBOX_MAP_DEFAULT ((size_t)1 << 40)          /* 1 TiB of address space */

typedef struct kith_mailbox kith_mailbox;

struct kith_mailbox_limits {
  uint64_t max_envelope; /* bytes in one envelope, >= 1 */
  uint32_t box_count;    /* envelopes in one box, >= 1 */
  uint64_t box_bytes;    /* bytes in one box */
  uint64_t owner_bytes;  /* bytes in all of one owner's boxes */
  uint64_t ttl_s;        /* seconds an envelope waits before it expires, >= 1 */
  size_t map_size;       /* LMDB map size: the store's largest size (0: default) */
  unsigned max_readers;  /* LMDB reader slots (0: LMDB's 126) */
};

/* The defaults above (docs/PROTOCOL.md, "Relay"). Can't fail. */
struct kith_mailbox_limits kith_mailbox_limits_default(void);

/* Opens the mailbox in dir, creating dir (mode 0700, parents included) and the
 * store, with a fresh static key pair, if there is none. Clears the reader slots
 * of dead processes. lim may be NULL (defaults); it is copied, and applies from
 * now on (a lower quota refuses new deposits, never drops stored mail).
 * Errors: KITH_EINVAL (limits), KITH_ENEWER (a newer schema), KITH_ECORRUPT,
 * KITH_EREADONLY, KITH_EFULL, KITH_ENOMEM, KITH_EIO. */
int kith_mailbox_open(const char *dir, const struct kith_mailbox_limits *lim,
                      kith_mailbox **out) KITH_MUST_CHECK;

/* Closes the store. Every kith_mailbox_apply must have returned. NULL-safe. */
void kith_mailbox_close(kith_mailbox *mb);

/* The relay's X25519 static key pair, made at the store's creation. The caller
 * wipes sk. Can't fail. */
void kith_mailbox_key(const kith_mailbox *mb, uint8_t sk[static 32],
                      uint8_t pk[static 32]);

/* The limits in force. Can't fail. */
struct kith_mailbox_limits kith_mailbox_limits_of(const kith_mailbox *mb);

/* ---- writes -------------------------------------------------------------------- */

enum kith_mb_kind {
  KITH_MB_PUT = 1, /* deposit data (size bytes) into box, for owner */
  KITH_MB_DEL = 2, /* delete owner's envelopes eids[0..neids) */
};

/* One operation of a batch: the caller fills the request, apply fills the result.
 * Pointers are borrowed for the call. */
struct kith_mb_op {
  int kind;
  uint8_t owner[KITH_RMSG_KEY_LEN];
  uint8_t box[KITH_RMSG_BOX_LEN]; /* PUT */
  const uint8_t *data;            /* PUT */
  size_t size;                    /* PUT */
  const uint64_t *eids;           /* DEL: eids not the owner's, or gone, are skipped */
  size_t neids;                   /* DEL */
  /* results */
  uint32_t err;   /* 0, or why it was refused: an R_ERR code (KITH_RERR_*) */
  uint64_t value; /* PUT: the new eid; DEL: how many envelopes were deleted */
};

/* Applies ops[0..n) in order, each seeing the ones before, and then deletes up to
 * sweep envelopes whose expiry is at or before now_s (*swept: how many; may be
 * NULL), all in one write transaction, committed (fsync'd) before it returns.
 * Refusals are per operation (err): KITH_RERR_TOO_BIG (size above max_envelope),
 * KITH_RERR_MALFORMED (an empty envelope, an unknown kind), KITH_RERR_NOT_OWNER
 * (the box is bound to another owner), KITH_RERR_BOX_QUOTA, KITH_RERR_OWNER_QUOTA.
 * Every op's err and value are set whatever the return:
 *   0            committed;
 *   KITH_EFULL   the store is full: every PUT got KITH_RERR_BUSY, and the rest
 *                (deletes, sweep) was committed in a second transaction, unless
 *                that failed too (then its ops got KITH_RERR_BUSY as well and the
 *                error of that second try is returned instead);
 *   other        nothing committed (KITH_EIO, KITH_ENOMEM...): every op got
 *                KITH_RERR_BUSY. */
int kith_mailbox_apply(kith_mailbox *mb, struct kith_mb_op *ops, size_t n,
                       uint64_t now_s, size_t sweep, size_t *swept) KITH_MUST_CHECK;

/* ---- reads (one thread: see above) ---------------------------------------------- */

struct kith_mb_entry {
  uint64_t eid;
  uint8_t box[KITH_RMSG_BOX_LEN];
  uint64_t size;   /* bytes */
  uint64_t expiry; /* unix seconds */
};

/* The first envelope of owner with an eid above after that has not expired at now_s.
 * 0 and *out; KITH_ENOTFOUND if there is none; KITH_EIO, KITH_EBUSY (reader slots
 * full), KITH_ECORRUPT. */
int kith_mailbox_next(kith_mailbox *mb, const uint8_t owner[static KITH_RMSG_KEY_LEN],
                      uint64_t after, uint64_t now_s,
                      struct kith_mb_entry *out) KITH_MUST_CHECK;

/* Copies len bytes of owner's envelope eid, from byte off, into buf. 0;
 * KITH_ENOTFOUND if the envelope is gone (deleted or swept since it was found) or
 * shorter than off + len; KITH_EIO, KITH_EBUSY, KITH_ECORRUPT. */
int kith_mailbox_read(kith_mailbox *mb, const uint8_t owner[static KITH_RMSG_KEY_LEN],
                      uint64_t eid, uint64_t off, uint8_t *buf,
                      size_t len) KITH_MUST_CHECK;

/* What is stored: envelopes and their bytes in all, per owner (owner NULL: all
 * owners), and that owner's boxes (all boxes if owner is NULL). Any out-param may
 * be NULL. 0, or a read error as above. */
int kith_mailbox_usage(kith_mailbox *mb, const uint8_t *owner, uint64_t *count,
                       uint64_t *bytes, uint64_t *boxes) KITH_MUST_CHECK;

#endif
