#include "proto/hlc.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "proto/hex.h"

int kith_stamp_cmp(const struct kith_stamp *a, const struct kith_stamp *b)
{
  if (a->hlc != b->hlc)
    return a->hlc < b->hlc ? -1 : 1;
  return memcmp(a->dev, b->dev, KITH_DEVICE_ID_LEN);
}

int kith_hlc_next(uint64_t last, uint64_t now_ms, uint64_t *out)
{
  uint64_t wall = now_ms << 16;
  if (wall > last) {
    *out = wall;
    return 0;
  }
  if (last == UINT64_MAX)
    return KITH_EFUTURE;
  *out = last + 1; /* a full counter carries into the next millisecond */
  return 0;
}

int kith_hlc_observe(uint64_t last, uint64_t remote, uint64_t now_ms, uint64_t *out)
{
  if (kith_hlc_ms(remote) > now_ms + KITH_HLC_MAX_SKEW_MS)
    return KITH_EFUTURE;
  *out = remote > last ? remote : last;
  return 0;
}

void kith_hlc_iso(uint64_t hlc, char out[25])
{
  uint64_t ms = kith_hlc_ms(hlc);
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
           (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
           tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000));
  memcpy(out, buf, 24);
  out[24] = '\0';
}

void kith_stamp_format(const struct kith_stamp *s, char out[50])
{
  snprintf(out, 18, "%016llx-", (unsigned long long)s->hlc);
  kith_hex_encode(s->dev, KITH_DEVICE_ID_LEN, out + 17);
}

int kith_stamp_parse(const char *text, struct kith_stamp *out)
{
  if (strlen(text) != 49 || text[16] != '-')
    return KITH_EBADMSG;
  uint8_t raw[8];
  char hlc[17];
  memcpy(hlc, text, 16);
  hlc[16] = '\0';
  if (kith_hex_decode(hlc, raw, 8) != 0)
    return KITH_EBADMSG;
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = v << 8 | raw[i];
  if (kith_hex_decode(text + 17, out->dev, KITH_DEVICE_ID_LEN) != 0)
    return KITH_EBADMSG;
  out->hlc = v;
  return 0;
}
