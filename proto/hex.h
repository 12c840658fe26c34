/*
 * hex.h — lowercase hex for ids and keys.
 */
#ifndef KITH_HEX_H
#define KITH_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Writes 2*n lowercase hex digits and a NUL into out (2*n+1 bytes). Can't fail. */
void kith_hex_encode(const uint8_t *in, size_t n, char *out);

/* The value of one hex digit (either case), or -1. */
int kith_hex_digit(char c);

/* Decodes exactly 2*n hex digits (either case) from s into out. Returns 0, or
 * KITH_EBADMSG if s is not 2*n hex digits followed by the end of the string. */
int kith_hex_decode(const char *s, uint8_t *out, size_t n);

#endif
