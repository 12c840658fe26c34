/*
 * store.h — the local store: one LMDB environment in the kith home folder.
 *
 * What it guarantees
 * - Every change is a register merged by kith_txn_put (proto/reg.h) inside an LMDB
 *   write transaction; a committed transaction is durable (LMDB's fsync is never
 *   turned off), so an acknowledged write survives kill -9 and power loss.
 * - When a record changes in a space, the change gets the next sequence number of
 *   that space, in the same transaction: every register that changed carries it,
 *   and the record's entry in the (space, sequence) log moves to it (the old entry
 *   leaves the log). Changes to one record within one transaction share a number.
 *   With the store's epoch (random, renewed when the store is created or found to
 *   be a copy) this is what sync ships: a peer remembers (epoch, highest sequence)
 *   per space and asks for what follows; it gets each record logged after that,
 *   whole (all its registers in the space), so nothing is skipped.
 * - Merge is kith_reg_merge: the state after any set of changes is the same
 *   whatever their order or repetition (kith_store_digest proves it in tests).
 * - A record's tombstone removes all its other registers at once, and any that
 *   arrive later are dropped: deleted data is not kept.
 * - Stamps more than KITH_HLC_MAX_SKEW_MS ahead of the local clock are refused.
 * - The schema version is checked before anything is written: a store from a newer
 *   kith is refused (KITH_ENEWER) untouched; an older one is migrated on open.
 *   Readers left behind by a killed process are cleared on open.
 *
 * What it does not do: it never reads a clock of its own (the caller passes one in
 * the options) and never prints.
 *
 * Borrowed data: nothing returned here points into the LMDB map; records and
 * registers are copies the caller frees.
 */
#ifndef KITH_STORE_H
#define KITH_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/reg.h"

#define KITH_SCHEMA_VERSION 3
#define KITH_SPACE_SELF 1u
#define KITH_PK_LEN 32
#define KITH_SK_LEN 64
#define KITH_EPOCH_LEN 16
#define KITH_TEXT_MAX 256 /* names and labels in the identity */

typedef struct kith_store kith_store;
typedef struct kith_txn kith_txn;

enum kith_kind {
  KITH_KIND_CONTACT = 1,
  KITH_KIND_NOTE = 2,
  KITH_KIND_PEER = 3,     /* a partner: another user, paired */
  KITH_KIND_DEVICE = 4,   /* one of my own devices */
  KITH_KIND_ROSTER = 5,   /* a partnership's device list, in its space */
  KITH_KIND_MYCARD = 6,   /* my own details (core/mycard.h), in self */
  KITH_KIND_REFERRAL = 7, /* a lead passed to a partner (core/referral.h) */
  /* 8-9: referrals, later */
  KITH_KIND_INTRO = 10,    /* an introduction I propose (self) */
  KITH_KIND_PROPOSAL = 11, /* one party's side of it (our partnership) */
  KITH_KIND_CADENCE = 12,  /* how often a tag's contacts want touching (self) */
};

/* The kind's name as its kind register holds it ("contact"...), or NULL. */
const char *kith_kind_name(int kind);
/* The kind named by name, or 0. */
int kith_kind_by_name(const char *name);

struct kith_store_opts {
  uint64_t (*now_ms)(void); /* wall clock, milliseconds since the epoch */
  size_t map_size;          /* 0: the default (16 GiB of address space) */
};

struct kith_identity {
  char name[KITH_TEXT_MAX];  /* the user's name, may be empty */
  char label[KITH_TEXT_MAX]; /* this device's label */
  uint8_t device_id[KITH_DEVICE_ID_LEN];
  uint8_t pk[KITH_PK_LEN]; /* Ed25519 public key */
  uint8_t epoch[KITH_EPOCH_LEN];
  uint32_t schema;
};

/* An LMDB (or errno) code as a KITH_E code: full disk or map KITH_EFULL, read-only
 * KITH_EREADONLY, corrupt or another LMDB's file KITH_ECORRUPT, no reader slot
 * KITH_EBUSY, the rest KITH_EIO (also for the relay's mailbox store). */
int kith_mdb_err(int rc);

/* Creates a store in home (made 0700 if missing) with a new Ed25519 device key,
 * and opens it. Errors: KITH_EEXISTS if a store is there, KITH_EIO, KITH_EFULL. */
int kith_store_init(const char *home, const char *name, const char *label,
                    const struct kith_store_opts *opts,
                    kith_store **out) KITH_MUST_CHECK;

/* Opens an existing store, clears stale readers, migrates an older schema.
 * Errors: KITH_ENOSTORE, KITH_ENEWER, KITH_ECORRUPT, KITH_EREADONLY, KITH_EIO. */
int kith_store_open(const char *home, const struct kith_store_opts *opts,
                    kith_store **out) KITH_MUST_CHECK;

/* Closes the store. NULL-safe. Transactions must be finished first. */
void kith_store_close(kith_store *st);

/* The schema version found in home's store, without opening it for writing;
 * KITH_ENOSTORE if there is none. For diagnostics and tests. Not while the same
 * store is open in this process: LMDB forbids opening one environment twice in a
 * process, and closing the second breaks the first. */
int kith_store_schema(const char *home, uint32_t *out) KITH_MUST_CHECK;

/* Transactions: one writer at a time across all processes (others wait); readers
 * never block. _commit and _abort free the transaction; _abort is NULL-safe. */
int kith_txn_begin(kith_store *st, bool write, kith_txn **out) KITH_MUST_CHECK;
int kith_txn_commit(kith_txn *txn) KITH_MUST_CHECK;
void kith_txn_abort(kith_txn *txn);

int kith_txn_identity(kith_txn *txn, struct kith_identity *out) KITH_MUST_CHECK;
/* Sets the user's name in the identity (a device linked to a user takes the
 * user's name). KITH_EINVAL if too long or not UTF-8. */
int kith_txn_set_name(kith_txn *txn, const char *name) KITH_MUST_CHECK;
/* The device's Ed25519 secret key; the caller wipes it. */
int kith_txn_secret_key(kith_txn *txn, uint8_t sk[static KITH_SK_LEN]) KITH_MUST_CHECK;

/* A fresh stamp for a local write: this device's id and the next clock value. */
int kith_txn_stamp(kith_txn *txn, struct kith_stamp *out) KITH_MUST_CHECK;

/* Merges reg (whatever its origin) into the store; sets *changed (may be NULL)
 * if the state moved. The space of a new register is reg->space (0 means
 * self). Errors: KITH_EFUTURE (stamp too far ahead; nothing written), KITH_EFULL,
 * KITH_EIO, KITH_EBADMSG (malformed, or a kind other than the record's: a record
 * never changes kind, and an id given to two kinds is refused). */
int kith_txn_put(kith_txn *txn, const struct kith_reg *reg,
                 bool *changed) KITH_MUST_CHECK;

/* Copies one register out (the caller clears it). KITH_ENOTFOUND if absent. */
int kith_txn_get(kith_txn *txn, const uint8_t ent[static KITH_ID_LEN], uint8_t field,
                 const uint8_t *elem, struct kith_reg *out) KITH_MUST_CHECK;

/* A record: its registers in key order, and what is derived from their stamps. */
struct kith_record {
  uint8_t id[KITH_ID_LEN];
  int kind;                  /* 0 if its kind register has not arrived */
  bool deleted;              /* a tombstone */
  struct kith_stamp created; /* the stamp of its kind register */
  struct kith_stamp updated; /* the newest stamp among its registers */
  size_t n;
  struct kith_reg *regs; /* live and removed registers alike */
};

/* Loads a record. KITH_ENOTFOUND if nothing at all is stored under id. */
int kith_record_load(kith_txn *txn, const uint8_t id[static KITH_ID_LEN],
                     struct kith_record **out) KITH_MUST_CHECK;
void kith_record_free(struct kith_record *rec);

/* The one live record of kind whose hex id starts with prefix (1-32 hex digits).
 * Errors: KITH_EINVAL (not hex), KITH_ENOTFOUND, KITH_EAMBIGUOUS. */
int kith_record_resolve(kith_txn *txn, int kind, const char *prefix,
                        uint8_t id[static KITH_ID_LEN]) KITH_MUST_CHECK;

/* Iterators call cb for each id in index order until cb returns non-zero, which
 * is then returned. */
typedef int (*kith_id_cb)(void *arg, const uint8_t id[KITH_ID_LEN]);
/* Live records of a kind, by id. */
int kith_kind_each(kith_txn *txn, int kind, kith_id_cb cb, void *arg);
/* Records carrying tag (compared folded: case and accents ignored). */
int kith_tag_each(kith_txn *txn, const char *tag, kith_id_cb cb, void *arg);
/* Notes pointing at a contact. */
int kith_notes_each(kith_txn *txn, const uint8_t contact[static KITH_ID_LEN],
                    kith_id_cb cb, void *arg);

/* What sync ships: for each record whose log entry in space is after `after`, in
 * log order, all of that record's registers in the space (older ones included).
 * cb gets registers it must not keep. */
typedef int (*kith_reg_cb)(void *arg, const struct kith_reg *reg);
int kith_log_each(kith_txn *txn, uint32_t space, uint64_t after, kith_reg_cb cb,
                  void *arg);
/* The same walk by whole records: for each log entry of space after `after`, in
 * log order, cb gets the record id, the entry's sequence number and the record's
 * registers in that space (sorted; borrowed for the call). An entry tagged
 * tag_skip (may be NULL) is passed with no registers (n = 0), unread. */
typedef int (*kith_rec_cb)(void *arg, const uint8_t ent[KITH_ID_LEN], uint64_t seq,
                           const struct kith_reg *regs, size_t n);
int kith_log_records(kith_txn *txn, uint32_t space, uint64_t after,
                     const uint8_t *tag_skip, kith_rec_cb cb, void *arg);
/* Tags the log entry that this transaction's changes to ent give it in space
 * (nothing if ent did not change there): sync marks what it applied with the
 * sender, who holds exactly that version and need not be sent it back. A later
 * change to the record makes a new, untagged entry. */
#define KITH_LOG_TAG_LEN 8
int kith_txn_tag_log(kith_txn *txn, const uint8_t ent[static KITH_ID_LEN],
                     uint32_t space,
                     const uint8_t tag[static KITH_LOG_TAG_LEN]) KITH_MUST_CHECK;
/* How many log entries space has after `after`, but those tagged tag_skip (may be
 * NULL): the records a peer that holds everything through `after` still lacks.
 * O(those entries). */
int kith_log_count(kith_txn *txn, uint32_t space, uint64_t after,
                   const uint8_t *tag_skip, uint64_t *out) KITH_MUST_CHECK;
/* Moves one register into space (sharing a card moves its registers): it gets the
 * next sequence number there, and the record's log entries follow at commit. The
 * state is untouched (same stamps, same value). KITH_ENOTFOUND, KITH_EINVAL. */
int kith_txn_move(kith_txn *txn, const uint8_t ent[static KITH_ID_LEN], uint8_t field,
                  const uint8_t *elem, uint32_t space) KITH_MUST_CHECK;
/* The highest sequence number given out in a space (0 if none). */
int kith_txn_seq(kith_txn *txn, uint32_t space, uint64_t *out) KITH_MUST_CHECK;

/* Every register in key order, in canonical form: the replica's whole state. */
int kith_reg_each(kith_txn *txn, kith_reg_cb cb, void *arg);
/* BLAKE2b-256 over the canonical form of every register: equal digests, equal
 * state. */
int kith_store_digest(kith_txn *txn, uint8_t out[static 32]) KITH_MUST_CHECK;

/* Rebuilds the derived indexes (kinds, tags, notes) from the registers. Used by
 * migration; safe to run at any time. */
int kith_txn_reindex(kith_txn *txn) KITH_MUST_CHECK;

/* Local state: this device's own key-value pairs (open invites...), kept in the
 * store for durability and never synced or exported. Keys are 1..400 bytes.
 * kith_local_get copies the value into *val (malloc'd; the caller frees). */
int kith_local_get(kith_txn *txn, const void *key, size_t klen, uint8_t **val,
                   size_t *vlen) KITH_MUST_CHECK;
int kith_local_put(kith_txn *txn, const void *key, size_t klen, const void *val,
                   size_t vlen) KITH_MUST_CHECK;
/* KITH_ENOTFOUND if absent. */
int kith_local_del(kith_txn *txn, const void *key, size_t klen) KITH_MUST_CHECK;
/* Calls cb for each pair whose key starts with prefix, in key order, until cb
 * returns non-zero (then returned). The bytes are borrowed for the call only. */
typedef int (*kith_local_cb)(void *arg, const uint8_t *key, size_t klen,
                             const uint8_t *val, size_t vlen);
int kith_local_each(kith_txn *txn, const void *prefix, size_t plen, kith_local_cb cb,
                    void *arg);

/* For tests: sets the recorded schema version. */
int kith_txn_set_schema(kith_txn *txn, uint32_t version) KITH_MUST_CHECK;

#endif
