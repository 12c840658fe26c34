/* charset.c — text in other encodings, to UTF-8 (glibc iconv) */
#include "core/charset.h"

#include "proto/reg.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *kith_charset_sniff(const char *buf, size_t len, size_t *bom)
{
  const unsigned char *b = (const unsigned char *)buf;
  *bom = 0;
  if (len >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf) {
    *bom = 3;
    return "UTF-8";
  }
  if (len >= 2 && b[0] == 0xff && b[1] == 0xfe) {
    *bom = 2;
    return "UTF-16LE";
  }
  if (len >= 2 && b[0] == 0xfe && b[1] == 0xff) {
    *bom = 2;
    return "UTF-16BE";
  }
  /* No mark: text that is mostly ASCII has a NUL in every other byte. */
  size_t even = 0, odd = 0, n = len < 64 ? len & ~(size_t)1 : 64;
  for (size_t i = 0; i < n; i += 2) {
    even += b[i] == 0;
    odd += b[i + 1] == 0;
  }
  if (n >= 4 && even * 2 > n / 2 && odd == 0)
    return "UTF-16BE";
  if (n >= 4 && odd * 2 > n / 2 && even == 0)
    return "UTF-16LE";
  return "UTF-8";
}

/* UTF-8 with each invalid byte replaced by U+FFFD. */
static int utf8_repair(const char *in, size_t len, char **out, size_t *outlen)
{
  char *o = malloc(len * 3 + 1);
  size_t j = 0, i = 0;
  if (!o)
    return KITH_ENOMEM;
  while (i < len) {
    size_t k = 1;
    unsigned c = (unsigned char)in[i];
    if (c >= 0xc2 && c <= 0xdf)
      k = 2;
    else if (c >= 0xe0 && c <= 0xef)
      k = 3;
    else if (c >= 0xf0 && c <= 0xf4)
      k = 4;
    if (k <= len - i && kith_utf8_valid(in + i, k)) {
      memcpy(o + j, in + i, k);
      j += k, i += k;
    } else {
      memcpy(o + j, "\xef\xbf\xbd", 3);
      j += 3, i++;
    }
  }
  o[j] = 0;
  *out = o;
  *outlen = j;
  return 0;
}

int kith_charset_to_utf8(const char *charset, const char *in, size_t len, char **out,
                         size_t *outlen)
{
  *out = NULL;
  *outlen = 0;
  if (!charset || strcasecmp(charset, "UTF-8") == 0 || strcasecmp(charset, "UTF8") == 0)
    return utf8_repair(in, len, out, outlen);
  iconv_t cd = iconv_open("UTF-8", charset);
  if (cd == (iconv_t)-1)
    return errno == ENOMEM ? KITH_ENOMEM : KITH_EINVAL;
  size_t cap = len * 4 + 16, used = 0;
  char *o = malloc(cap);
  int rc = 0;
  char *ip = (char *)in;
  size_t ileft = len;
  if (!o) {
    iconv_close(cd);
    return KITH_ENOMEM;
  }
  while (ileft > 0) {
    char *op = o + used;
    size_t oleft = cap - used - 4;
    size_t r = iconv(cd, &ip, &ileft, &op, &oleft);
    used = (size_t)(op - o);
    if (r != (size_t)-1)
      break;
    if (errno == E2BIG) {
      char *bigger = realloc(o, cap * 2);
      if (!bigger) {
        rc = KITH_ENOMEM;
        break;
      }
      o = bigger, cap *= 2;
    } else { /* EILSEQ or EINVAL (cut short): one replacement, skip a byte */
      if (cap - used < 8) {
        char *bigger = realloc(o, cap * 2);
        if (!bigger) {
          rc = KITH_ENOMEM;
          break;
        }
        o = bigger, cap *= 2;
      }
      memcpy(o + used, "\xef\xbf\xbd", 3);
      used += 3;
      ip++, ileft--;
      iconv(cd, NULL, NULL, NULL, NULL); /* reset the shift state */
    }
  }
  iconv_close(cd);
  if (rc) {
    free(o);
    return rc;
  }
  o[used] = 0;
  *out = o;
  *outlen = used;
  return 0;
}

int kith_text_to_utf8(const char *buf, size_t len, const char *fallback, char **out,
                      size_t *outlen)
{
  size_t bom = 0;
  const char *cs = kith_charset_sniff(buf, len, &bom);
  buf += bom, len -= bom;
  if (strcmp(cs, "UTF-8") == 0 && !kith_utf8_valid(buf, len))
    cs = fallback ? fallback : "windows-1252";
  return kith_charset_to_utf8(cs, buf, len, out, outlen);
}
