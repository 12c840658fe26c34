/*
 * mycard.h — my card: my own details (`kith card`), what I give when I accept an
 * introduction.
 *
 * My card is one record of its own kind, `mycard`, in my `self` space: all my
 * devices hold it and no partner does (a partnership refuses the kind: see
 * core/batch.c). It holds a contact's descriptive fields under the contact's field
 * numbers (names, nickname, org, title, birthday, needs, offers, e-mails, phones,
 * addresses, links, IM handles, x-NAME), but not met_at nor the private ones (tags,
 * follow-up, last contacted): kith_field_by_name(KITH_KIND_MYCARD, ...) says which.
 * Being of another kind, it is never listed, searched, exported or shared as a
 * contact, and an import naming its id is refused (an id of another kind).
 *
 * Its id is fixed (BLAKE2b-128 keyed "kith my card v1"), the same on every device,
 * so two of my devices that set fields offline edit the same record, merged field
 * by field like any other. It is the same id for every user: it never leaves self.
 * Until a name is set, my user name (the identity's) stands in for it.
 */
#ifndef KITH_MYCARD_H
#define KITH_MYCARD_H

#include <jansson.h>

#include "core/model.h"

/* My card's id. Can't fail. */
void kith_mycard_id(uint8_t id[static KITH_ID_LEN]);

/* Creates my card if it has never been set (a write transaction), so that fields
 * can be set on it; nothing is written if it exists. KITH_EDELETED if it was
 * deleted (nothing in kith deletes it). */
int kith_mycard_ensure(kith_txn *txn) KITH_MUST_CHECK;

/* Sets a field of my card as `kith card set FIELD=VALUE` does, with the syntax and
 * the meaning of `kith contact set` (kith_record_set_text); creates the card first
 * if needed. KITH_EUNKFIELD for a field a card does not hold, KITH_EBADMSG for a
 * bad value. */
int kith_mycard_set_text(kith_txn *txn, const char *field,
                         const char *value) KITH_MUST_CHECK;

/* My card as JSON, shaped like a contact (core/json.h) without tags or notes:
 * "id", "name" (my user name if none is set), "emails", "phones", "org", "title"
 * always there, the other fields when set, "created"/"updated" (null if never
 * set). *out is a new object the caller owns. KITH_ENOMEM, or a store error. */
int kith_mycard_json(kith_txn *txn, json_t **out) KITH_MUST_CHECK;

/* The details I give: the fields named in fields ("email,phone,org": JSON names
 * or their aliases, separated by commas, spaces allowed; "x-NAME" for one free
 * field) that are set on my card, as a JSON object a contact import takes
 * (kith_json_import): "name" always, then each named field that has a value, with
 * "kinds" for the kinds of the e-mails and phones given. No id, no stamps.
 * KITH_EUNKFIELD for a name a card does not hold (*bad, may be NULL, gets its
 * position in fields and its length), KITH_EINVAL for an empty list. */
struct kith_mycard_bad {
  size_t at, len;
};
int kith_mycard_subset(kith_txn *txn, const char *fields, json_t **out,
                       struct kith_mycard_bad *bad) KITH_MUST_CHECK;

#endif
