/*
 * sync_int.h — what the sync session (core/sync.c) and posts (core/post.c) share:
 * reading a batch of records from the log, applying a received batch, and the
 * positions kept per remote device and space. Internal to core/.
 */
#ifndef KITH_SYNC_INT_H
#define KITH_SYNC_INT_H

#include "core/sync.h"
#include "proto/be.h"

#define KITH__WHY_LEN 256

/* The tag that marks log entries a device holds as they are (kith_txn_tag_log):
 * its key and its store's epoch, so that a store restored from a copy (a new
 * epoch) is sent everything again, not what the original held. */
void kith__log_tag(const uint8_t pk[KITH_ED25519_PK_LEN],
                   const uint8_t epoch[KITH_EPOCH_LEN], uint8_t tag[KITH_LOG_TAG_LEN]);

/* Sets why (KITH__WHY_LEN bytes) if it is still empty; returns err. */
int kith__why(char *why, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A batch read from the log: each record as its length (4 bytes, big-endian) and
 * its wire form (proto/reg.h). */
struct kith__batch {
  uint8_t *buf;
  size_t len, cap;
  uint64_t last; /* the log position the batch reaches */
  uint32_t recs; /* records in buf */
  uint32_t held; /* records passed over: tagged as held by the receiver */
  bool full;     /* stopped at the size bound: more may follow */
};

/* Reads into b (emptied first) the records logged in space local after `after`,
 * passing over those tagged with tag (may be NULL), until about max_bytes: a record
 * is never cut; unless strict, the batch may pass max_bytes by its last record;
 * with strict it never does, and a first record larger than max_bytes is
 * KITH_ETOOBIG. Store errors, KITH_ENOMEM. */
int kith__read_batch(kith_txn *txn, uint32_t local, uint64_t after, const uint8_t *tag,
                     size_t max_bytes, bool strict,
                     struct kith__batch *b) KITH_MUST_CHECK;

/* Applies a received batch (buf as a kith__batch's) from a device of mine
 * (from_mine) or a partner's to space local, in txn: every check of
 * docs/PROTOCOL.md "Sync" step 3; records applied exactly as sent get their log
 * entry tagged with tag. Counts registers changed and records skipped (a partner's
 * record that lives only in my self space). Errors (why set): KITH_EBADMSG
 * (malformed), KITH_EPROTO (refused content), KITH_EFUTURE, store errors. Any error
 * leaves txn to be aborted. */
int kith__apply_batch(kith_txn *txn, uint32_t local, bool from_mine,
                      const uint8_t tag[KITH_LOG_TAG_LEN], const uint8_t *buf,
                      size_t len, uint64_t *changed, uint64_t *skipped,
                      char *why) KITH_MUST_CHECK;

/* Local state keys and values, per remote device key and space (PROTOCOL.md "Sync"):
 *   "rx" pk gid -> epoch(16) pos(8) remote_max(8): what I committed of its log
 *   "tx" pk gid -> my epoch(16) its epoch(16) held(8): what it holds of mine */
struct kith__rx {
  bool known; /* an epoch and position are recorded */
  uint8_t epoch[KITH_EPOCH_LEN];
  uint64_t pos, remote_max;
};
int kith__rx_load(kith_txn *txn, const uint8_t *pk, const uint8_t *gid,
                  struct kith__rx *out) KITH_MUST_CHECK;
int kith__rx_save(kith_txn *txn, const uint8_t *pk, const uint8_t *gid,
                  const struct kith__rx *r) KITH_MUST_CHECK;
struct kith__tx {
  bool known;
  uint8_t my_epoch[KITH_EPOCH_LEN], their_epoch[KITH_EPOCH_LEN];
  uint64_t acked;
};
int kith__tx_load(kith_txn *txn, const uint8_t *pk, const uint8_t *gid,
                  struct kith__tx *out) KITH_MUST_CHECK;
int kith__tx_save(kith_txn *txn, const uint8_t *pk, const uint8_t *gid,
                  const struct kith__tx *t) KITH_MUST_CHECK;

#endif
