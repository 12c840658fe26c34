/*
 * charset.h — text in other encodings, to UTF-8 (glibc iconv).
 *
 * Address books write UTF-16 (with or without a byte-order mark), Windows code
 * pages, ISO 8859 and Shift_JIS. kith stores UTF-8 only: everything read from a
 * file passes through here first. Bytes that are invalid in their encoding become
 * U+FFFD, so one bad byte costs one character, never the file.
 */
#ifndef KITH_CHARSET_H
#define KITH_CHARSET_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/err.h"

/* The encoding of a whole file from its first bytes: "UTF-16LE" or "UTF-16BE"
 * (a byte-order mark, or NULs in alternate bytes of the first characters), else
 * "UTF-8". *bom is the length of a byte-order mark to skip (0, 2 or 3). */
const char *kith_charset_sniff(const char *buf, size_t len, size_t *bom);

/* Converts in[0..len) from charset (an iconv name, case-insensitive: "UTF-16LE",
 * "windows-1252", "SHIFT_JIS", "ISO-8859-1"...; NULL or "UTF-8" for UTF-8, whose
 * invalid bytes are replaced) to UTF-8 in a malloc'd, NUL-terminated *out of
 * *outlen bytes. Invalid input becomes U+FFFD. KITH_EINVAL for a charset iconv
 * does not know, KITH_ENOMEM. */
int kith_charset_to_utf8(const char *charset, const char *in, size_t len, char **out,
                         size_t *outlen) KITH_MUST_CHECK;

/* A whole file's text as UTF-8: the encoding sniffed (UTF-16 either way, a UTF-8
 * BOM dropped); text that is not valid UTF-8 is read as fallback (NULL:
 * "windows-1252", what legacy Windows exports use). *out as above. */
int kith_text_to_utf8(const char *buf, size_t len, const char *fallback, char **out,
                      size_t *outlen) KITH_MUST_CHECK;

#endif
