/*
 * importer.h — contacts read from other tools' files, merged into the store.
 *
 * The readers (core/vcard.h, core/csv.h) turn a file into contacts in kith's JSON
 * import shape (core/json.h), without ids, and hand them to a sink one by one.
 * The importer (below) finds each one's match in the store (the same UID, e-mail
 * or LinkedIn profile URL) and merges it there, or creates it.
 */
#ifndef KITH_IMPORTER_H
#define KITH_IMPORTER_H

#include <jansson.h>
#include <stddef.h>

#include "core/store.h"

/* Where a reader sends what it read. */
struct kith_import_sink {
  /* One contact: a JSON object as kith_json_import takes it, with no "id":
   * "name" (never empty: the reader falls back to the org, an e-mail or a phone),
   * the other one-value fields, "emails"/"phones"/"links"/"ims"/"tags" arrays of
   * strings, "kinds" ({"emails": {value: kind}, ...}), "addresses" (objects),
   * "x" ({name: value}: the vCard UID as "uid"; properties kith has no field for),
   * "notes" ([{"text": ...}]). line: the file line where the contact starts (1 for
   * the first). Borrowed: json_incref to keep it. A non-zero return stops the read
   * and is returned by it. */
  int (*contact)(void *arg, json_t *contact, size_t line);
  /* A card, row or value that was skipped or repaired, at a file line: why, in a
   * few words ("no END:VCARD", "BDAY 19723101 is not a date: kept as x-bday"). */
  void (*skip)(void *arg, size_t line, const char *why);
  void *arg;
};

/* ---- merging what a reader read ------------------------------------------ */

typedef struct kith_importer kith_importer;

struct kith_import_counts {
  size_t created, merged, unchanged, notes;
};

/* An importer writing in txn; it first indexes the store's live contacts by their
 * match keys: the UID (x "uid", or urn:uuid: of the kith id, as kith writes it), each
 * e-mail (case-folded) and each LinkedIn profile URL (scheme, www., query and
 * trailing slash dropped, lowercased); and the name (folded), which matches only a
 * card that has none of those keys. KITH_ENOMEM or a store error. */
int kith_importer_new(kith_txn *txn, kith_importer **out) KITH_MUST_CHECK;
void kith_importer_free(kith_importer *im);

/* Merges one contact (a reader's object) into its match, or creates it: a field the
 * object has that differs replaces the store's (the file is newer), set elements
 * and notes not yet there are added, nothing is removed; a contact the file adds
 * nothing to is left untouched (no new stamps: re-importing the same file changes
 * nothing). Contacts created earlier in the same import are matched too. If change
 * is not NULL it gets a new object: {"action": "new"|"merged"|"unchanged", "id",
 * "name", "fields": [names of the fields written]}. On a store error the caller
 * aborts txn. */
int kith_importer_add(kith_importer *im, const json_t *contact,
                      json_t **change) KITH_MUST_CHECK;

/* Why the last kith_importer_add failed, when a value was refused (one line), or
 * NULL. */
const char *kith_importer_error(const kith_importer *im);

/* What was done so far. */
struct kith_import_counts kith_importer_counts(const kith_importer *im);

#endif
