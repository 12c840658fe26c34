/*
 * csv.h — contacts as CSV: Google Contacts (both layouts), Outlook, LinkedIn's
 * Connections.csv, Thunderbird and any CSV with a header row; kith's own CSV out.
 *
 * The columns each layout maps to kith's fields are in docs/VCARD.md ("CSV").
 */
#ifndef KITH_CSV_H
#define KITH_CSV_H

#include <stdio.h>

#include "core/importer.h"

enum kith_csv_layout {
  KITH_CSV_AUTO,     /* guessed from the header row */
  KITH_CSV_GOOGLE,   /* Google Contacts, the current or the legacy layout */
  KITH_CSV_OUTLOOK,  /* Outlook's "First Name,...,E-mail Address,..." */
  KITH_CSV_LINKEDIN, /* Connections.csv, its "Notes:" preamble skipped */
  KITH_CSV_GENERIC,  /* any header: columns matched by name */
};

/* Reads buf[0..len) (raw bytes: UTF-8 with or without a BOM, UTF-16, else a
 * Windows code page) as CSV in layout and passes each row's contact to sink in
 * file order; a row that can't be read is reported to sink->skip with its line.
 * KITH_EBADMSG (with nothing passed) when the header matches no layout kith
 * knows. Returns as kith_vcard_read does. */
int kith_csv_read(const char *buf, size_t len, enum kith_csv_layout layout,
                  const struct kith_import_sink *sink);

/* The layout kith_csv_read guesses from buf's header row (KITH_CSV_GENERIC for a
 * header of common column names), or KITH_CSV_AUTO when buf is no contacts CSV:
 * to tell the user what was read. */
enum kith_csv_layout kith_csv_guess(const char *buf, size_t len);

/* kith's CSV: the header row, then one row per contact (kith_json_record's
 * object, with KITH_JSON_NOTES). 0 or KITH_EIO. */
int kith_csv_write_header(FILE *f);
int kith_csv_write(FILE *f, const json_t *contact);

#endif
