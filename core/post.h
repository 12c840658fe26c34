/*
 * post.h — sync in one direction, for a relay or a bundle file (docs/PROTOCOL.md,
 * "Posts: sync in one direction").
 *
 * Where the sync session (core/sync.h) asks the other side what it lacks, a post
 * can't: the sender sends what the recipient has not acknowledged, and learns what
 * it holds from the posts that come back. A post is sealed in an envelope
 * (proto/envelope.h) that only the recipient device opens.
 *
 * The poster (sending side), per recipient device:
 *   - per space the two sync, starts after what it last posted (`sent`, relay mode)
 *     or what the recipient acknowledged (bundle mode, or when the recipient saw
 *     every envelope it was posted and is still behind: one was lost; or when the
 *     last post is older than KITH_POST_RESEND_MS);
 *   - packs whole batches into envelopes of at most KITH_ENVELOPE_POST_MAX bytes of
 *     post, each with the sender's acknowledgement of the recipient's log (its
 *     HELLO entries) and a number;
 *   - makes nothing at all when the recipient lacks nothing and is owed no
 *     acknowledgement (owed: records of its were applied since my last post to
 *     it), so two devices never trade empty posts;
 *   - records what it sent only when told the envelopes were delivered
 *     (kith_poster_commit), so a failed deposit costs nothing.
 * The inbox (receiving side):
 *   - finds the sender by the envelope's box among the devices this store trusts,
 *     opens it (proving the sender), checks and applies every batch in one LMDB
 *     transaction (the sync session's checks, core/sync_int.h), advances its
 *     position in the sender's log when a batch continues it, and otherwise keeps
 *     the batch's range until the gap closes; records the sender's
 *     acknowledgement. Applying an envelope twice changes nothing.
 * Positions and acknowledgements are the same local state the sync session keeps
 * ("rx", "tx", "ls"), so a LAN sync and a post see each other's progress. Posting
 * state, per remote device pk, in the local (never synced) state:
 *   "pn" pk      -> next(8) last_ms(8) their_seen(8) seen(8) owed(1)
 *   "pc" pk gid  -> my epoch(16) sent(8)
 *   "rg" pk gid  -> epoch(16) then up to 8 ranges (from 8, to 8) held past a gap
 */
#ifndef KITH_POST_H
#define KITH_POST_H

#include "core/sync.h"
#include "proto/envelope.h"

#define KITH_POST_RESEND_MS (14ull * 24 * 3600 * 1000)

enum kith_post_mode {
  KITH_POST_RELAY,  /* continue after what was posted before */
  KITH_POST_BUNDLE, /* everything the recipient has not acknowledged */
};

struct kith_post_stats {
  uint64_t envelopes, records, bytes; /* bytes: sealed */
};

typedef struct kith_poster kith_poster;

/* A poster for the device r_pk (one this store syncs with). now_ms: the time.
 * Errors: KITH_EREFUSED (r_pk is not a device this store syncs with), store
 * errors, KITH_ENOMEM. */
int kith_poster_new(kith_store *st, const uint8_t r_pk[static 32],
                    enum kith_post_mode mode, uint64_t now_ms,
                    kith_poster **out) KITH_MUST_CHECK;
void kith_poster_free(kith_poster *p); /* NULL-safe; wipes the key */

/* The box and the relay owner (X25519 key) of the recipient. Can't fail. */
const uint8_t *kith_poster_box(const kith_poster *p);
const uint8_t *kith_poster_owner(const kith_poster *p);

/* The next envelope, malloc'd (the caller frees it), and its number; *env NULL
 * when there is nothing more. Errors (kith_poster_why): KITH_ETOOBIG (a record
 * larger than an envelope holds), store errors, KITH_ENOMEM. */
int kith_poster_next(kith_poster *p, uint8_t **env, size_t *len,
                     uint64_t *n) KITH_MUST_CHECK;

/* Every envelope through number upto was delivered (deposited at a relay that
 * acknowledged it, or written to a file): records it. 0 if none was (nothing is
 * recorded); envelopes after a failed one count as not delivered. A bundle records
 * only the numbers it used: what it carried is still sent by relays (a file may
 * never be carried), and it always holds at least one envelope, my
 * acknowledgement. */
int kith_poster_commit(kith_poster *p, uint64_t upto) KITH_MUST_CHECK;

const struct kith_post_stats *kith_poster_stats(const kith_poster *p);
const char *kith_poster_why(const kith_poster *p);

/* ---- receiving ------------------------------------------------------------------ */

typedef struct kith_inbox kith_inbox;

struct kith_inbox_result {
  uint8_t from[32]; /* the sender's key */
  uint64_t n;       /* the envelope's number */
  uint64_t records, changed;
  uint32_t batches;
  uint32_t skipped; /* batches of a space not shared with the sender (yet) */
};

/* An inbox for this store: knows the box of every device it trusts. Errors: store
 * errors, KITH_ENOMEM. */
int kith_inbox_new(kith_store *st, uint64_t (*now_ms)(void),
                   kith_inbox **out) KITH_MUST_CHECK;
void kith_inbox_free(kith_inbox *ib); /* NULL-safe; wipes the key */

/* True if some device this store trusts writes to box. */
bool kith_inbox_knows(const kith_inbox *ib, const uint8_t box[static KITH_BOX_LEN]);

/* Opens and applies one envelope found under box. 0: applied (or nothing new);
 * KITH_ENOTFOUND: no device this store trusts writes to that box (it may be one
 * it does not know yet); KITH_EBADMSG: not an envelope sealed to me by that device
 * (tampered, forged, or not a post); KITH_EREFUSED: the sender was revoked;
 * KITH_EPROTO, KITH_EFUTURE: its content was refused (kith_inbox_why says why);
 * store errors. Nothing of a refused envelope is applied. */
int kith_inbox_take(kith_inbox *ib, const uint8_t box[static KITH_BOX_LEN],
                    const uint8_t *env, size_t len,
                    struct kith_inbox_result *res) KITH_MUST_CHECK;
const char *kith_inbox_why(const kith_inbox *ib);

/* What kith_inbox_take does once the envelope is open: applies a post (plaintext)
 * from the device `from`, with the same results. For tests and fuzzing: a post
 * applied this way proves nothing about its sender. */
int kith_inbox_apply(kith_inbox *ib, const uint8_t from[static 32], const uint8_t *post,
                     size_t len, struct kith_inbox_result *res) KITH_MUST_CHECK;

#endif
