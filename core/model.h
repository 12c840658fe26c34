/*
 * model.h — kith's records and their fields, on top of the store's registers.
 *
 * A contact or a note is a record: a kind register (field 0) and one register per
 * field, or per element of a set field. The field table below fixes each field's
 * number (stored and, later, shipped: never renumber), its JSON name, its shape and
 * whether it is private (my own tags and follow-ups, which stay in my `self` space
 * when the card is shared).
 *
 * Shapes:
 *   TEXT   one text, last writer wins
 *   DATE   one ISO 8601 date (YYYY-MM-DD, or --MM-DD for a birthday without year)
 *   TYPED  a set of [value, kind] (emails, phones, links, IM handles); add wins
 *   TAGS   a set of [tag]; add wins; indexed for `contact list --tag`
 *   ADDR   a set of addresses [kind, po box, extended, street, locality, region,
 *          postal code, country], vCard's order
 *   XMAP   free fields x-NAME, each [name, value]; one register per name
 *   REF    a record id in hex (a note's contact)
 *   EVENT  a set of [event id hex, status, note]: one element per event, never
 *          removed; the event's time is its register's stamp (a referral's history)
 *
 * Element ids are BLAKE2b-128 of the field number and the element's normalised key
 * (e-mail lowercased, phone digits, tag folded...), keyed with the record id, so
 * that two devices adding the same e-mail offline address the same element, and a
 * removed element's tombstone does not spell out the value.
 */
#ifndef KITH_MODEL_H
#define KITH_MODEL_H

#include "core/store.h"

enum kith_shape {
  KITH_SHAPE_KIND,
  KITH_SHAPE_TEXT,
  KITH_SHAPE_DATE,
  KITH_SHAPE_TYPED,
  KITH_SHAPE_TAGS,
  KITH_SHAPE_ADDR,
  KITH_SHAPE_XMAP,
  KITH_SHAPE_REF,
  KITH_SHAPE_EVENT, /* a set of [event id hex, status, note]: a referral's history */
};

enum {
  KITH_F_KIND = 0,
  KITH_F_NAME = 1,
  KITH_F_GIVEN = 2,
  KITH_F_FAMILY = 3,
  KITH_F_MIDDLE = 4,
  KITH_F_PREFIX = 5,
  KITH_F_SUFFIX = 6,
  KITH_F_NICKNAME = 7,
  KITH_F_ORG = 8,
  KITH_F_TITLE = 9,
  KITH_F_BIRTHDAY = 10,
  KITH_F_MET_AT = 11,
  KITH_F_NEEDS = 12,
  KITH_F_OFFERS = 13,
  KITH_F_LAST_CONTACTED = 14,
  KITH_F_FOLLOW_UP = 15,
  KITH_F_EMAILS = 16,
  KITH_F_PHONES = 17,
  KITH_F_ADDRESSES = 18,
  KITH_F_LINKS = 19,
  KITH_F_IMS = 20,
  KITH_F_TAGS = 21,
  KITH_F_X = 22,
  KITH_F_NOTE_CONTACT = 40,
  KITH_F_NOTE_TEXT = 41,
  KITH_F_PEER_NAME = 60,    /* the partner's name, as they gave it when pairing */
  KITH_F_PEER_KEYS = 61,    /* set of [device key hex, device label] */
  KITH_F_PEER_STATUS = 62,  /* "confirmed", or "pending" (introduced, not paired) */
  KITH_F_PEER_PAIRED = 63,  /* when */
  KITH_F_PEER_SPACE = 64,   /* our partnership space's id, hex (core/space.h) */
  KITH_F_DEVICE_LABEL = 80, /* my own device: its label */
  KITH_F_DEVICE_KEY = 81,   /* its Ed25519 key, hex */
  KITH_F_DEVICE_ADDED = 82,
  KITH_F_DEVICE_REVOKED = 83, /* set once revoked: refused from then on */
  KITH_F_ROSTER_KEYS = 100,   /* set of [device key hex, label]: both users' devices */
  KITH_F_ROSTER_RELAYS = 101, /* set of [HOST:PORT, key hex of a device of the user who
                                 fetches there]; in self: my relays, [HOST:PORT] */
  /* 120-139: referrals (core/referral.h): in a partnership, all shared data */
  KITH_F_REF_CONTACT = 120,      /* the shared card's id, hex */
  KITH_F_REF_CONTACT_NAME = 121, /* the card's name when referred */
  KITH_F_REF_REASON = 122,
  KITH_F_REF_VALUE = 123,       /* an amount: "1500", "1500.50 EUR" */
  KITH_F_REF_FROM = 124,        /* the giver's device key, hex */
  KITH_F_REF_EVENTS = 125,      /* EVENT set: the status history */
  KITH_F_REF_THANKED = 126,     /* when the receiver thanked (ISO 8601 time) */
  KITH_F_REF_THANK_VALUE = 127, /* an amount: the closed business */
  /* introductions (core/intro.h); intro: mine, in self */
  KITH_F_INTRO_PARTY1 = 140, /* "peer:ID" or "contact:ID" (hex record id) */
  KITH_F_INTRO_PARTY2 = 141,
  KITH_F_INTRO_MESSAGE1 = 142, /* my message for party 1 */
  KITH_F_INTRO_MESSAGE2 = 143,
  KITH_F_INTRO_EXPIRES = 144,  /* YYYY-MM-DDTHH:MM:SSZ */
  KITH_F_INTRO_STATE = 145,    /* "proposed", "withdrawn" */
  KITH_F_INTRO_NONCE = 146,    /* 16 random bytes, hex */
  KITH_F_INTRO_CONSENT1 = 147, /* a contact party's consent I recorded: its share */
  KITH_F_INTRO_CONSENT2 = 148,
  /* proposal: one party's side, in our partnership; written by the introducer */
  KITH_F_PROP_OTHER_NAME = 150,
  KITH_F_PROP_MESSAGE = 151,
  KITH_F_PROP_EXPIRES = 152,
  KITH_F_PROP_STATE = 153, /* "proposed", "closed", "completed" */
  KITH_F_PROP_NONCE = 154,
  KITH_F_PROP_PEER_KEY = 155, /* the other party's answering device key, hex */
  KITH_F_PROP_VOUCH = 156,    /* signing key hex "." signature hex */
  KITH_F_PROP_FORWARD = 158,  /* sealing key hex "." the sealed details, hex */
  /* ... written by the party */
  KITH_F_PROP_ANSWER = 160, /* "accepted", "declined" */
  KITH_F_PROP_SHARE = 161,  /* card field names, comma-separated */
  KITH_F_PROP_KEY = 162,    /* the answering device's key, hex */
  KITH_F_PROP_SEALED = 163, /* my chosen details to the other, hex envelope */
  /* 170-179: tag cadences (core/cadence.h), in self only */
  KITH_F_CADENCE_TAG = 170,  /* the tag as typed */
  KITH_F_CADENCE_DAYS = 171, /* decimal days; cleared when turned off */
};

#define KITH_ADDR_PARTS 8
#define KITH_TAG_MAX 200 /* bytes; tags are index keys */
#define KITH_TEXT_FIELD_MAX (64u * 1024u)

struct kith_field {
  uint8_t id;
  int kind; /* the record kind it belongs to */
  enum kith_shape shape;
  const char *json;  /* name in JSON and in FIELD=VALUE */
  const char *alias; /* another accepted name, or NULL */
  bool priv;         /* stays in self when the card is shared */
};

/* Field by JSON name or alias (for kind), or NULL. For KITH_KIND_MYCARD: the
 * contact fields my card holds (core/mycard.h), the contact's own entries. */
const struct kith_field *kith_field_by_name(int kind, const char *name);
/* Field by number, or NULL. */
const struct kith_field *kith_field_by_id(uint8_t id);
/* All fields of a kind in table order: *n entries. */
const struct kith_field *kith_fields(size_t *n);

/* Element id of value in a set field of record ent. KITH_EINVAL if the field is
 * not a set, KITH_ENOMEM. */
int kith_elem_id(const uint8_t ent[static KITH_ID_LEN], const struct kith_field *f,
                 const struct kith_value *v,
                 uint8_t out[static KITH_ID_LEN]) KITH_MUST_CHECK;

/* Checks a value for a field: the right number of parts, valid UTF-8 (already
 * checked by decoders), sizes, date syntax, tag length. KITH_EBADMSG,
 * KITH_ETOOBIG, KITH_EINVAL. */
int kith_value_check(const struct kith_field *f,
                     const struct kith_value *v) KITH_MUST_CHECK;

/* A new random 128-bit record id. Can't fail. */
void kith_random_id(uint8_t id[static KITH_ID_LEN]);

/* The space a record's card lives in: its kind register's (self if it has none
 * yet). Private fields and notes always live in self. */
int kith_card_space(kith_txn *txn, const uint8_t id[static KITH_ID_LEN],
                    uint32_t *space) KITH_MUST_CHECK;
/* True for the registers that make up a shareable card: the kind and the
 * non-private fields of contacts and rosters; and of the records that live in a
 * partnership, all shared data (proposals, referrals). */
bool kith_field_in_card(uint8_t field);

/* Creates a record of kind with a new random id (or with *id if use_id). */
int kith_record_create(kith_txn *txn, int kind, bool use_id,
                       uint8_t id[static KITH_ID_LEN]) KITH_MUST_CHECK;
/* Creates a record of kind with id whose kind register, and so its card (its
 * fields kith_field_in_card), lives in space: a record born in a partnership (a
 * roster, a referral). */
int kith_record_create_in(kith_txn *txn, int kind, uint32_t space,
                          const uint8_t id[static KITH_ID_LEN]) KITH_MUST_CHECK;
/* Sets a one-value field; v NULL clears it. */
int kith_field_set(kith_txn *txn, const uint8_t id[static KITH_ID_LEN],
                   const struct kith_field *f,
                   const struct kith_value *v) KITH_MUST_CHECK;
/* Adds an element to a set field (or x- field); a no-op if already present with
 * the same value. */
int kith_set_add(kith_txn *txn, const uint8_t id[static KITH_ID_LEN],
                 const struct kith_field *f,
                 const struct kith_value *v) KITH_MUST_CHECK;
/* Removes the element with value v's key; KITH_ENOTFOUND if not present. */
int kith_set_remove(kith_txn *txn, const uint8_t id[static KITH_ID_LEN],
                    const struct kith_field *f,
                    const struct kith_value *v) KITH_MUST_CHECK;
/* Makes the set hold exactly vals[0..n): removes the others, adds the new ones. */
int kith_set_replace(kith_txn *txn, const uint8_t id[static KITH_ID_LEN],
                     const struct kith_field *f, struct kith_value *const *vals,
                     size_t n) KITH_MUST_CHECK;
/* Deletes a record (a tombstone); for a contact, its notes too. */
int kith_record_delete(kith_txn *txn,
                       const uint8_t id[static KITH_ID_LEN]) KITH_MUST_CHECK;

/* Creates a note about contact with text; the contact's last_contacted becomes
 * the note's date if that is later. KITH_EDELETED, KITH_ENOTFOUND for the contact. */
int kith_note_create(kith_txn *txn, const uint8_t contact[static KITH_ID_LEN],
                     const char *text, uint8_t id[static KITH_ID_LEN]) KITH_MUST_CHECK;

/* Ids gathered by an iterator (kith_kind_each, kith_notes_each...): pass
 * kith_id_collect as the callback and a zeroed list; the caller frees v. */
struct kith_id_list {
  size_t n, cap;
  uint8_t (*v)[KITH_ID_LEN];
};
int kith_id_collect(void *arg, const uint8_t id[KITH_ID_LEN]);

/* Live records gathered by kith_notes_load, owned by the list. */
struct kith_record_list {
  struct kith_record **v;
  size_t n, cap;
};
void kith_record_list_clear(struct kith_record_list *l); /* frees all; reusable */

/* Appends the live notes of contact (contact NULL: every live note) to l, in id
 * order. KITH_ENOMEM, or a store error. */
int kith_notes_load(kith_txn *txn, const uint8_t *contact,
                    struct kith_record_list *l) KITH_MUST_CHECK;

/* The days in month mon (1-12) of year, leap years counted; a year < 0 (a
 * birthday without one) gives February 29. */
int kith_month_days(int year, int mon);

/* A real calendar date, YYYY-MM-DD (leap years counted) or --MM-DD (a birthday
 * without a year; --02-29 allowed), optionally followed by THH:MM[:SS[.fff]][Z]. */
bool kith_date_valid(const char *s);

#endif
