/*
 * fuzz_invite.c — kith_invite_parse (proto/invite.h) on whatever a person might
 * type. Whatever parses must format, parse again to the same invite, and format
 * again to the same text; and the input, once its case, dashes, spaces and I/L/O
 * are normalised, must be that very text: each invite has one spelling.
 *
 * A random text almost never passes the 24-bit check, so inputs that start with a
 * NUL (an empty text otherwise) drive the other direction: the bytes after it fill
 * a struct kith_invite, which must format if and only if it is valid and then parse
 * back to the same invite.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/invite.h"

/* Takes n bytes from the input, or zeros once it runs out. */
static void take(const uint8_t **p, size_t *left, void *dst, size_t n)
{
  size_t k = n < *left ? n : *left;
  memset(dst, 0, n);
  memcpy(dst, *p, k);
  *p += k;
  *left -= k;
}

static void from_struct(const uint8_t *p, size_t left)
{
  struct kith_invite inv, back;
  char out[KITH_INVITE_TEXT_MAX];
  uint8_t b[3];
  bool valid;
  memset(&inv, 0, sizeof inv);
  take(&p, &left, b, 2);
  inv.version = b[0] & 0x80 ? b[0] : KITH_INVITE_VERSION;
  inv.device = b[1] & 1;
  inv.nhints = b[1] >> 1 & 7; /* 0..7: above 4 is invalid */
  valid = inv.version == KITH_INVITE_VERSION && inv.nhints <= KITH_INVITE_MAX_HINTS;
  take(&p, &left, inv.secret, sizeof inv.secret);
  for (int i = 0; i < KITH_INVITE_MAX_HINTS; i++) {
    struct kith_hint *h = &inv.hints[i];
    take(&p, &left, b, 3);
    h->family = b[0] & 0x80 ? b[0] : b[0] & 1 ? 6 : 4;
    h->relay = b[0] & 2; /* kinds 3 and 4 */
    h->port = (uint16_t)(b[1] << 8 | b[2]);
    take(&p, &left, h->addr, h->family == 4 ? 4 : 16);
    if (i < inv.nhints && ((h->family != 4 && h->family != 6) || h->port == 0))
      valid = false;
  }
  int rc = kith_invite_format(&inv, out, sizeof out);
  if (rc != (valid ? 0 : KITH_EINVAL))
    abort();
  if (!valid)
    return;
  if (kith_invite_parse(out, &back) != 0 || back.version != inv.version ||
      back.device != inv.device || back.nhints != inv.nhints ||
      memcmp(back.secret, inv.secret, sizeof inv.secret) != 0)
    abort();
  for (int i = 0; i < inv.nhints; i++) {
    const struct kith_hint *x = &inv.hints[i], *y = &back.hints[i];
    if (x->family != y->family || x->port != y->port || x->relay != y->relay ||
        memcmp(x->addr, y->addr, x->family == 4 ? 4 : 16) != 0)
      abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size > 0 && data[0] == 0) {
    from_struct(data + 1, size - 1);
    return 0;
  }
  char text[1024], out[KITH_INVITE_TEXT_MAX], out2[KITH_INVITE_TEXT_MAX];
  char norm[1024], flat[KITH_INVITE_TEXT_MAX];
  struct kith_invite inv, back, zero;
  if (size >= sizeof text)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  memset(&zero, 0, sizeof zero);

  if (kith_invite_parse(text, &inv) != 0) {
    if (memcmp(&inv, &zero, sizeof inv) != 0)
      abort(); /* nothing of a refused code is left behind */
    return 0;
  }
  if (kith_invite_format(&inv, out, sizeof out) != 0)
    abort();
  if (kith_invite_parse(out, &back) != 0 || memcmp(&inv, &back, sizeof inv) != 0)
    abort();
  if (kith_invite_format(&back, out2, sizeof out2) != 0 || strcmp(out, out2) != 0)
    abort();

  size_t k = 0, f = 0;
  for (const char *p = text; *p; p++) {
    char c = *p;
    if (c == '-' || c == ' ')
      continue;
    if (c >= 'a' && c <= 'z')
      c = (char)(c - 'a' + 'A');
    if (c == 'I' || c == 'L')
      c = '1';
    if (c == 'O')
      c = '0';
    norm[k++] = c;
  }
  norm[k] = '\0';
  for (const char *p = out; *p; p++)
    if (*p != '-')
      flat[f++] = *p;
  flat[f] = '\0';
  if (strcmp(norm, flat) != 0)
    abort();
  kith_invite_clear(&inv);
  kith_invite_clear(&back);
  return 0;
}
