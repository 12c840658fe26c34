/*
 * vcard.h — vCard 2.1, 3.0 and 4.0 in, vCard 4.0 out.
 *
 * The mapping between vCard properties and kith's fields is in docs/VCARD.md.
 */
#ifndef KITH_VCARD_H
#define KITH_VCARD_H

#include <stdio.h>

#include "core/importer.h"

/* Reads every card in buf[0..len) (raw file bytes: UTF-8, UTF-16 with or without a
 * BOM, per-property CHARSET, quoted-printable, folding, CR CR LF...) and passes each
 * to sink->contact in file order. A card that can't be read is reported to
 * sink->skip with its line and the rest go on. Returns 0, the first non-zero
 * return of sink->contact, or KITH_ENOMEM. */
int kith_vcard_read(const char *buf, size_t len, const struct kith_import_sink *sink);

/* Writes one contact (kith_json_record's object; with KITH_JSON_NOTES its notes
 * become NOTE lines) as a vCard 4.0: CRLF line ends, lines folded at 75 octets
 * without splitting a UTF-8 character. 0 or KITH_EIO. */
int kith_vcard_write(FILE *f, const json_t *contact);

#endif
