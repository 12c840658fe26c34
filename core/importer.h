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

#endif
