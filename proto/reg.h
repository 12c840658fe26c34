/*
 * reg.h — registers: the unit of state, of merge and of sync.
 *
 * Every piece of a record is a register, addressed by (entity id, field number,
 * element id). A field that holds one value (a name, an org) has one register with
 * no element id: a last-writer-wins register whose stamp is its write. A field that
 * holds a set (emails, tags) has one register per element, the element id derived
 * from the element's normalised value; each is an add-wins register:
 *
 *   stamp  the newest add of the element seen anywhere;
 *   rem    the newest add that a removal had observed when it removed the element.
 *
 * The element is present while stamp > rem. Merging takes the maximum of each, so
 * merge is a join in a lattice: commutative, associative, idempotent. A removal
 * cancels the adds stamped no later than the newest add it saw; an add stamped later
 * (made after it, or offline meanwhile on a device whose clock is later) survives
 * it, and two devices adding different elements offline both keep theirs. (A full
 * observed-remove set would also keep a concurrent add stamped earlier than the
 * add the removal saw; that needs per-device add vectors, a later format.) Field 0
 * is the record's kind; a record is deleted by replacing its kind with a tombstone
 * (no value), which beats any kind and is final.
 *
 * A value is a short array of strings (some may be absent): [text] for a plain
 * field, [value, kind] for an email or phone, [name, value] for a free x- field,
 * address parts for an address. Values that lose a merge, and the values of removed
 * elements, are dropped at once: nothing superseded is kept.
 *
 * The encodings (msgpack) are fixed by golden-byte tests in tests/unit/test_reg.c:
 *
 *   stored value: [seq, space, hlc, dev, rem_hlc, rem_dev|nil, value|nil]
 *   canonical:    [ent, field, elem|nil, hlc, dev, rem_hlc, rem_dev|nil, value|nil]
 *
 * with value = nil | [str|nil, ...] (1 to KITH_VALUE_MAX_PARTS items). The
 * canonical form is what replicas compare and, later, what sync ships.
 *
 * A record is stored as one value: its registers sorted by (field, no element
 * before elements, element id), each [field, elem|nil, stored]:
 *
 *   record:       [[field, elem|nil, [seq, space, hlc, dev, ...]], ...]
 */
#ifndef KITH_REG_H
#define KITH_REG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/hlc.h"

#define KITH_ID_LEN 16
#define KITH_VALUE_MAX_PARTS 8
#define KITH_VALUE_MAX_BYTES (1u << 20) /* all parts of one value together */

struct kith_value {
  int n;                         /* 1..KITH_VALUE_MAX_PARTS */
  char *p[KITH_VALUE_MAX_PARTS]; /* NUL-terminated UTF-8, or NULL */
};

struct kith_reg {
  uint8_t ent[KITH_ID_LEN];
  uint8_t field;
  bool has_elem;
  uint8_t elem[KITH_ID_LEN];
  struct kith_stamp stamp;
  struct kith_stamp rem;  /* set elements only; zero otherwise */
  struct kith_value *val; /* owned; NULL: no value */
  /* Local bookkeeping, kept in the stored form only. */
  uint64_t seq;
  uint32_t space;
};

/* Frees a value made by kith_value_new or a decoder. NULL-safe. */
void kith_value_free(struct kith_value *v);
/* A value of n parts copied from parts[] (entries may be NULL). NULL if out of
 * memory or n is out of range. */
struct kith_value *kith_value_new(int n, const char *const *parts);
struct kith_value *kith_value_dup(const struct kith_value *v);
/* Same parts (and absent parts) in the same places. NULL equals NULL. */
bool kith_value_equal(const struct kith_value *a, const struct kith_value *b);

/* Frees the register's value; leaves the rest. NULL-safe. */
void kith_reg_clear(struct kith_reg *r);
/* Deep copy of src into dst (dst's old contents are not freed). */
int kith_reg_copy(struct kith_reg *dst, const struct kith_reg *src);

/* True if the register holds a value that counts: a set element that is present,
 * a plain register with a value, a kind that is not a tombstone. */
bool kith_reg_live(const struct kith_reg *r);

/* Merges in into cur (which must address the same register), in place. Sets
 * *changed if cur's state moved. Pure apart from memory: returns 0 or
 * KITH_ENOMEM (cur untouched). */
int kith_reg_merge(struct kith_reg *cur, const struct kith_reg *in,
                   bool *changed) KITH_MUST_CHECK;

/* Encoders append to a malloc'd buffer returned in *out (*len bytes); the caller
 * frees it. Return 0 or KITH_ENOMEM. */
int kith_reg_encode_stored(const struct kith_reg *r, uint8_t **out,
                           size_t *len) KITH_MUST_CHECK;
int kith_reg_encode_canonical(const struct kith_reg *r, uint8_t **out,
                              size_t *len) KITH_MUST_CHECK;

/* Decoders fill r from buf (which they do not keep) and allocate r->val. The
 * stored form fills everything but the address (ent, field, elem), which the caller
 * knows from the key. Return 0, or KITH_EBADMSG for anything malformed, oversized,
 * not UTF-8, or followed by trailing bytes. */
int kith_reg_decode_stored(const uint8_t *buf, size_t len,
                           struct kith_reg *r) KITH_MUST_CHECK;
int kith_reg_decode_canonical(const uint8_t *buf, size_t len,
                              struct kith_reg *r) KITH_MUST_CHECK;

#define KITH_REC_MAX_REGS 65536

/* Orders register addresses within a record: field, then the plain register
 * before elements, then element id. */
int kith_reg_addr_cmp(const struct kith_reg *a, const struct kith_reg *b);

/* A record's registers (sorted by kith_reg_addr_cmp, all of one entity) as one
 * stored value; the caller frees *out. 0 or KITH_ENOMEM. */
int kith_rec_encode(const struct kith_reg *regs, size_t n, uint8_t **out,
                    size_t *len) KITH_MUST_CHECK;
/* Decodes a stored record of entity ent into a malloc'd array of n registers that
 * the caller clears and frees. KITH_EBADMSG for anything malformed, unsorted or
 * duplicated. */
int kith_rec_decode(const uint8_t *buf, size_t len, const uint8_t ent[KITH_ID_LEN],
                    struct kith_reg **regs, size_t *n) KITH_MUST_CHECK;

/* A record's registers (one entity, sorted, 1..KITH_REC_MAX_REGS) as sync sends
 * them: the entity once, and each stamp's device once per run of registers by
 * the same device (nil: as the register before):
 *
 *   wire record:  [ent, [[field, elem|nil, hlc, dev|nil, rem_hlc, rem_dev|nil,
 *                         value|nil], ...]]
 *
 * Decoding is as strict as kith_rec_decode (sorted, no duplicates, one encoding
 * per state: a device equal to the one before must be nil). 0, KITH_EINVAL
 * (encode: no registers), KITH_EBADMSG, KITH_ENOMEM. */
int kith_rec_wire_encode(const struct kith_reg *regs, size_t n, uint8_t **out,
                         size_t *len) KITH_MUST_CHECK;
int kith_rec_wire_decode(const uint8_t *buf, size_t len, struct kith_reg **regs,
                         size_t *n) KITH_MUST_CHECK;

/* True if s (n bytes) is valid UTF-8 with no NUL. */
bool kith_utf8_valid(const char *s, size_t n);

#endif
