/*
 * sync.h — the sync protocol between two devices, sans-I/O (docs/PROTOCOL.md,
 * "Sync"). It runs inside an established link (core/link.h), which carries its
 * messages; it reads and writes the store, and never touches a socket or a clock
 * of its own.
 *
 * How it finds what the other side lacks (Syncthing's scheme, DESIGN.md):
 * - Each store numbers its changes per space (core/store.h: the log). Each side
 *   remembers, per remote device and space, the remote store's epoch and the
 *   highest sequence it has committed from it.
 * - A round: each side sends HELLO, listing the spaces it syncs with the other
 *   (core/space.h decides: my own device gets self and every partnership, a
 *   partner's device our partnership) with its epoch, its highest sequence and its
 *   position in the other's log. Each side then streams, per space the other asked
 *   for, the records logged after that position (all of each record's registers in
 *   the space, so a record shared after an earlier sync arrives whole), in batches
 *   of at most KITH_SYNC_BATCH_BYTES, then DONE. A space not shared is answered
 *   DONE "not shared", and nothing of it is sent.
 * - The receiver checks every batch: it continues exactly where the last one ended
 *   (same epoch, `from` = its position, else it is out of order), the sender still
 *   belongs to the space, every register belongs to it (a partnership carries only
 *   cards and rosters; never private fields, notes, peers or devices; never a
 *   record that lives in another partnership here). Then it applies the batch in
 *   one LMDB transaction with its new position, and ACKs after the commit. Any
 *   failed check rejects the whole batch: nothing of it is applied, and the session
 *   fails with a one-line reason.
 * - When both sides have sent DONE for every space asked, had every batch acked and
 *   received DONE for every space they asked, each says ROUND. If either learned of
 *   spaces meanwhile (a new device gets its partnerships with self), the dialer
 *   starts another round (at most KITH_SYNC_MAX_ROUNDS); else it is over.
 * Re-applying a batch changes nothing (merge is idempotent), and an interrupted
 * sync resumes from the last committed batch.
 */
#ifndef KITH_SYNC_H
#define KITH_SYNC_H

#include "core/space.h"
#include "proto/syncmsg.h"

#define KITH_SYNC_BATCH_BYTES (1u << 20) /* register bytes per batch, about */
#define KITH_SYNC_BATCH_MAX (16u << 20)  /* a batch the receiver accepts, at most */
#define KITH_SYNC_INFLIGHT 8             /* batches sent and not yet acked, at most */
#define KITH_SYNC_GROUP_BYTES (3u << 20) /* batches applied in one transaction */
#define KITH_SYNC_MAX_ROUNDS 4
#define KITH_SYNC_HELD_MAX 10000000  /* records a batch passes over unsent, at most */
#define KITH_SYNC_GROUP_RECORDS 4000 /* records applied in one transaction, about */

typedef struct kith_sync kith_sync;

struct kith_sync_space_stats {
  uint8_t space[KITH_GID_LEN];
  uint64_t sent;     /* records sent */
  uint64_t received; /* records received */
  uint64_t changed;  /* registers that changed here */
  uint64_t skipped;  /* records a partner sent that live only in my self space */
};

struct kith_sync_stats {
  size_t n;
  struct kith_sync_space_stats s[KITH_SPACES_MAX];
  uint64_t sent, received, changed, bytes_in, bytes_out;
  uint32_t rounds;
};

/* A session with the device holding remote_pk (the link established it). */
int kith_sync_new(kith_store *st, const uint8_t remote_pk[static KITH_ED25519_PK_LEN],
                  bool dialer, uint64_t (*now_ms)(void),
                  kith_sync **out) KITH_MUST_CHECK;
void kith_sync_free(kith_sync *s); /* NULL-safe */

/* The dialer's first HELLO goes out through next(). */
int kith_sync_start(kith_sync *s) KITH_MUST_CHECK;

/* A sync message from the other side (m borrows the channel's buffer: it is decoded
 * at once). 0, or an error with kith_sync_why's reason: KITH_EBADMSG, KITH_EPROTO
 * (out of order, out of space), KITH_EREFUSED (no longer a member), store errors. */
int kith_sync_recv(kith_sync *s, const struct kith_msg *m) KITH_MUST_CHECK;

/* The next message to send, encoded into buf (cap >= KITH_NOISE_MAX_PAYLOAD);
 * *len is 0 when there is nothing to send now. Errors as kith_sync_recv. */
int kith_sync_next(kith_sync *s, uint8_t *buf, size_t cap, size_t *len) KITH_MUST_CHECK;

/* Dialer: every round is over, the link may say BYE. Acceptor: the current round
 * is over on both sides (a BYE is welcome). */
bool kith_sync_over(const kith_sync *s);

const struct kith_sync_stats *kith_sync_stats(const kith_sync *s);
const char *kith_sync_why(const kith_sync *s);

/* Status, from what past syncs recorded (local state): what a remote device holds
 * of mine and I of its, per space. */
struct kith_sync_status {
  uint64_t last_ms;   /* last round completed with it; 0: never */
  uint64_t they_lack; /* my records logged after what it acknowledged */
  uint64_t i_lack;    /* its changes after what I committed, as its last HELLO said */
};
int kith_sync_status(kith_txn *txn, const uint8_t remote_pk[static KITH_ED25519_PK_LEN],
                     struct kith_sync_status *out) KITH_MUST_CHECK;

#endif
