#include "proto/invite.h"

#include <sodium.h>
#include <string.h>

static const char B32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/* BLAKE2b keys are 16..64 bytes in libsodium: the 14-byte label, zero-padded. */
static const uint8_t CHECK_KEY[16] = "kith invite v1\0";
static const char PSK_LABEL[] = "kith invite psk v1";
static const char TAG_LABEL[] = "kith invite tag v1";

#define MAX_CHARS ((KITH_INVITE_BYTES_MAX * 8 + 4) / 5)

/* The value of a code character, or -1. */
static int b32_value(char c)
{
  if (c >= 'a' && c <= 'z')
    c = (char)(c - 'a' + 'A');
  if (c == 'I' || c == 'L')
    return 1;
  if (c == 'O')
    return 0;
  const char *p = c ? strchr(B32, c) : NULL;
  return p ? (int)(p - B32) : -1;
}

static int check(const uint8_t *b, size_t n, uint8_t out[KITH_INVITE_CHECK_LEN])
{
  uint8_t h[32];
  int rc = KITH_EINVAL;
  if (crypto_generichash(h, sizeof h, b, n, CHECK_KEY, sizeof CHECK_KEY) == 0) {
    memcpy(out, h, KITH_INVITE_CHECK_LEN);
    rc = 0;
  }
  sodium_memzero(h, sizeof h); /* a hash of the secret */
  return rc;
}

int kith_invite_format(const struct kith_invite *inv, char *out, size_t cap)
{
  uint8_t b[KITH_INVITE_BYTES_MAX];
  size_t n = 0;
  uint32_t acc = 0;
  int bits = 0, rc = KITH_EINVAL;

  if (cap)
    out[0] = '\0';
  if (inv->version != KITH_INVITE_VERSION || inv->nhints < 0 ||
      inv->nhints > KITH_INVITE_MAX_HINTS)
    goto out;
  b[n++] = (uint8_t)(KITH_INVITE_VERSION << 4 | (inv->device ? 1 : 0));
  memcpy(b + n, inv->secret, KITH_INVITE_SECRET_LEN);
  n += KITH_INVITE_SECRET_LEN;
  for (int i = 0; i < inv->nhints; i++) {
    const struct kith_hint *h = &inv->hints[i];
    size_t alen = h->family == 4 ? 4 : h->family == 6 ? 16 : 0;
    if (!alen || h->port == 0)
      goto out;
    b[n++] = (uint8_t)((h->family == 4 ? 1 : 2) + (h->relay ? 2 : 0));
    memcpy(b + n, h->addr, alen);
    n += alen;
    b[n++] = (uint8_t)(h->port >> 8);
    b[n++] = (uint8_t)h->port;
  }
  if (check(b, n, b + n) != 0)
    goto out;
  n += KITH_INVITE_CHECK_LEN;

  size_t chars = (n * 8 + 4) / 5;
  if (cap < chars + (chars - 1) / 5 + 1)
    goto out;
  size_t k = 0, w = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i < n) {
      acc = (acc << 8 | b[i]) & 0x1fff; /* at most 4 + 8 bits are pending */
      bits += 8;
    } else if (bits > 0) {
      acc <<= 5 - bits; /* pad the last character with zero bits */
      bits = 5;
    }
    for (; bits >= 5; bits -= 5, k++) {
      if (k && k % 5 == 0)
        out[w++] = '-';
      out[w++] = B32[(acc >> (bits - 5)) & 31];
    }
  }
  out[w] = '\0';
  rc = 0;
out:
  sodium_memzero(b, sizeof b);
  sodium_memzero(&acc, sizeof acc);
  return rc;
}

/* Reads the hints between the secret and the check: b[pos..end). Kinds 1 and 3
 * carry IPv4, 2 and 4 IPv6; 3 and 4 name a relay. */
static int parse_hints(const uint8_t *b, size_t pos, size_t end,
                       struct kith_invite *out)
{
  while (pos < end) {
    if (out->nhints == KITH_INVITE_MAX_HINTS)
      return KITH_EBADMSG;
    struct kith_hint *h = &out->hints[out->nhints];
    uint8_t kind = b[pos++];
    size_t alen = kind == 1 || kind == 3 ? 4 : kind == 2 || kind == 4 ? 16 : 0;
    if (!alen || end - pos < alen + 2)
      return KITH_EBADMSG;
    h->family = alen == 4 ? 4 : 6;
    h->relay = kind >= 3;
    memcpy(h->addr, b + pos, alen);
    pos += alen;
    h->port = (uint16_t)(b[pos] << 8 | b[pos + 1]);
    pos += 2;
    if (h->port == 0)
      return KITH_EBADMSG;
    out->nhints++;
  }
  return 0;
}

int kith_invite_parse(const char *text, struct kith_invite *out)
{
  uint8_t b[KITH_INVITE_BYTES_MAX], want[KITH_INVITE_CHECK_LEN];
  size_t n = 0, chars = 0;
  uint32_t acc = 0;
  int bits = 0, rc = KITH_EBADMSG;

  memset(out, 0, sizeof *out);
  for (const char *p = text; *p; p++) {
    if (*p == '-' || *p == ' ')
      continue;
    int v = b32_value(*p);
    if (v < 0 || ++chars > MAX_CHARS)
      goto out;
    acc = (acc << 5 | (uint32_t)v) & 0xfff; /* at most 7 + 5 bits are pending */
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      b[n++] = (uint8_t)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  /* Fewer than 5 bits left over, all zero: the text is the one encoding of n
   * bytes. 5 or more would be a whole character too many. */
  if (bits >= 5 || acc != 0 || n < KITH_INVITE_BYTES_MIN)
    goto out;
  n -= KITH_INVITE_CHECK_LEN;
  if (check(b, n, want) != 0 || sodium_memcmp(want, b + n, KITH_INVITE_CHECK_LEN) != 0)
    goto out;
  if (b[0] >> 4 != KITH_INVITE_VERSION || (b[0] & 0x0e) != 0)
    goto out;
  out->version = KITH_INVITE_VERSION;
  out->device = b[0] & 1;
  memcpy(out->secret, b + 1, KITH_INVITE_SECRET_LEN);
  if (parse_hints(b, 1 + KITH_INVITE_SECRET_LEN, n, out) != 0)
    goto out;
  rc = 0;
out:
  if (rc)
    sodium_memzero(out, sizeof *out);
  sodium_memzero(b, sizeof b);
  sodium_memzero(want, sizeof want);
  sodium_memzero(&acc, sizeof acc);
  return rc;
}

void kith_invite_clear(struct kith_invite *inv)
{
  if (inv)
    sodium_memzero(inv, sizeof *inv);
}

static int derive(const uint8_t secret[static KITH_INVITE_SECRET_LEN],
                  const char *label, uint8_t *out, size_t len)
{
  if (crypto_generichash(out, len, (const uint8_t *)label, strlen(label), secret,
                         KITH_INVITE_SECRET_LEN) != 0) {
    sodium_memzero(out, len);
    return KITH_EINVAL;
  }
  return 0;
}

int kith_invite_psk(const uint8_t secret[static KITH_INVITE_SECRET_LEN],
                    uint8_t psk[static KITH_INVITE_PSK_LEN])
{
  return derive(secret, PSK_LABEL, psk, KITH_INVITE_PSK_LEN);
}

int kith_invite_tag(const uint8_t secret[static KITH_INVITE_SECRET_LEN],
                    uint8_t tag[static KITH_INVITE_TAG_LEN])
{
  return derive(secret, TAG_LABEL, tag, KITH_INVITE_TAG_LEN);
}
