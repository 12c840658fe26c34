/*
 * json.h — records as JSON (jansson), and JSON imported into the store.
 *
 * A contact in JSON:
 *   {"id": hex, "name", "given_name", ... (one-value fields; null or absent when
 *    unset; name, org and title are always present), "emails", "phones", "links",
 *    "ims", "tags": [strings], "kinds": {"emails": {value: kind}, ...} for typed
 *    elements that have a kind, "addresses": [{"kind", "po_box", "ext", "street",
 *    "locality", "region", "code", "country"}], "x": {name: value},
 *    "created", "updated": ISO 8601 UTC, "notes": [note...] (with KITH_JSON_NOTES;
 *    oldest first),
 *    "stamps": {...} (with KITH_JSON_STAMPS)}
 * A note: {"id", "contact", "text", "created", "updated", "stamps"?}.
 * "stamps" maps each field to the stamp of its value (kith_stamp_format), or, for
 * a set, each element's text to its stamp; "kind" holds the creation stamp. With
 * them an import reproduces the exact registers: export then import is a faithful
 * copy, and importing into a store that already has the records merges them.
 */
#ifndef KITH_JSON_H
#define KITH_JSON_H

#include <jansson.h>

#include "core/model.h"

enum {
  KITH_JSON_STAMPS = 1, /* include "stamps" */
  KITH_JSON_NOTES = 2,  /* include the contact's notes */
};

/* A new JSON object for a loaded record (contact or note); NULL if out of memory.
 * KITH_JSON_NOTES reads the notes through txn. */
json_t *kith_json_record(kith_txn *txn, const struct kith_record *rec, unsigned flags);

/* The live registers of rec (its kind aside) in display order: by field number;
 * within a set, tags and x- fields alphabetically (folded), others in the order
 * they were added. The same on every replica. A malloc'd array of pointers into
 * rec (valid while rec lives) that the caller frees. */
int kith_record_live(const struct kith_record *rec, const struct kith_reg ***out,
                     size_t *n) KITH_MUST_CHECK;
/* The value of a one-value field, or NULL. Borrowed from rec. */
const char *kith_record_text(const struct kith_record *rec, uint8_t field);

struct kith_import_stats {
  size_t contacts_new, contacts_merged, notes;
  uint8_t last_contact[KITH_ID_LEN]; /* the id of the last contact imported */
};

/* Applies a JSON document (an export, an array of contacts, or one contact) in
 * txn. On error returns KITH_EBADMSG (or another code) with a one-line reason in
 * err naming where in the document it is; the caller then aborts txn, so nothing
 * is half-imported. */
int kith_json_import(kith_txn *txn, const json_t *doc, struct kith_import_stats *stats,
                     char *err, size_t errlen) KITH_MUST_CHECK;

/* The same, reading the document from text (UTF-8, a BOM allowed) one contact at
 * a time, so that memory holds one contact rather than the whole file. Errors
 * name the line and column, or the contact, at fault. */
int kith_json_import_text(kith_txn *txn, const char *buf, size_t len,
                          struct kith_import_stats *stats, char *err,
                          size_t errlen) KITH_MUST_CHECK;

/* Sets a contact field from text as a user types it on the command line (the
 * FIELD=VALUE of `kith contact set`): an empty value clears; a set field is set to
 * this one value; "kind:value" gives an e-mail or phone a kind (work, home, cell...);
 * x-NAME sets a free field. KITH_EUNKFIELD for an unknown field. */
int kith_contact_set_text(kith_txn *txn, const uint8_t id[static KITH_ID_LEN],
                          const char *field, const char *value) KITH_MUST_CHECK;
/* The same for a record of another kind with contact fields: KITH_KIND_MYCARD
 * takes the fields kith_field_by_name gives it, and its name may be cleared (my
 * user name stands in). */
int kith_record_set_text(kith_txn *txn, int kind, const uint8_t id[static KITH_ID_LEN],
                         const char *field, const char *value) KITH_MUST_CHECK;

/* Splits "kind:value" when kind is a known kind word; else kind is NULL. */
struct kith_value *kith_typed_value(const char *text);

#endif
