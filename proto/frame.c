#include "proto/frame.h"

#include <string.h>

static const uint8_t MAGIC[4] = {'k', 'i', 't', 'h'};
static const char PROLOGUE_LABEL[] = "kith prologue v1"; /* 16 bytes, no NUL sent */

/* ---- frames ----------------------------------------------------------------- */

void kith_frame_reader_init(struct kith_frame_reader *r)
{
  r->max = KITH_FRAME_MAX;
  r->len = 0;
  r->have = 0;
  r->hdr[0] = r->hdr[1] = 0;
  r->hdr_have = 0;
  r->ready = false;
  r->err = 0;
}

static int reader_fail(struct kith_frame_reader *r)
{
  r->err = KITH_EBADMSG;
  r->ready = false;
  return r->err;
}

int kith_frame_set_max(struct kith_frame_reader *r, size_t max)
{
  if (r->err)
    return r->err;
  if (max == 0 || max > KITH_FRAME_MAX)
    return KITH_EINVAL;
  r->max = max;
  /* A length read under the old maximum must fit the new one too, even if the
   * frame is already complete and waiting. */
  if (r->len > max)
    return reader_fail(r);
  return 0;
}

int kith_frame_feed(struct kith_frame_reader *r, const uint8_t *in, size_t len,
                    size_t *used)
{
  size_t pos = 0;
  *used = 0;
  if (r->err)
    return r->err;
  if (r->ready)
    return 0;
  while (r->hdr_have < KITH_FRAME_HDR_LEN && pos < len)
    r->hdr[r->hdr_have++] = in[pos++];
  if (r->hdr_have < KITH_FRAME_HDR_LEN) {
    *used = pos;
    return 0;
  }
  if (r->len == 0) {
    size_t n = (size_t)r->hdr[0] << 8 | r->hdr[1];
    if (n == 0 || n > r->max)
      return reader_fail(r);
    r->len = n;
    r->have = 0;
  }
  size_t take = r->len - r->have;
  if (take > len - pos)
    take = len - pos;
  if (take)
    memcpy(r->buf + r->have, in + pos, take);
  r->have += take;
  pos += take;
  if (r->have == r->len)
    r->ready = true;
  *used = pos;
  return 0;
}

int kith_frame_pop(struct kith_frame_reader *r, const uint8_t **body, size_t *len)
{
  *body = NULL;
  *len = 0;
  if (r->err)
    return r->err;
  if (!r->ready)
    return 0;
  *body = r->buf;
  *len = r->len;
  /* The next frame starts; the body stays in buf until the next feed. */
  r->ready = false;
  r->len = 0;
  r->have = 0;
  r->hdr_have = 0;
  return 0;
}

bool kith_frame_idle(const struct kith_frame_reader *r)
{
  return r->err == 0 && !r->ready && r->hdr_have == 0;
}

int kith_frame_header(size_t len, uint8_t hdr[static KITH_FRAME_HDR_LEN])
{
  if (len == 0 || len > KITH_FRAME_MAX)
    return KITH_EINVAL;
  hdr[0] = (uint8_t)(len >> 8);
  hdr[1] = (uint8_t)len;
  return 0;
}

int kith_frame_write(const uint8_t *body, size_t len, uint8_t *out, size_t cap,
                     size_t *out_len)
{
  uint8_t hdr[KITH_FRAME_HDR_LEN];
  *out_len = 0;
  if (kith_frame_header(len, hdr) != 0 || cap < len + KITH_FRAME_HDR_LEN)
    return KITH_EINVAL;
  memmove(out + KITH_FRAME_HDR_LEN, body, len);
  memcpy(out, hdr, KITH_FRAME_HDR_LEN);
  *out_len = len + KITH_FRAME_HDR_LEN;
  return 0;
}

/* ---- preamble ----------------------------------------------------------------- */

void kith_preamble_encode(const struct kith_preamble *p,
                          uint8_t out[static KITH_PREAMBLE_LEN])
{
  memcpy(out, MAGIC, sizeof MAGIC);
  out[4] = p->version;
  out[5] = p->purpose;
  out[6] = (uint8_t)(p->caps >> 8);
  out[7] = (uint8_t)p->caps;
}

static bool purpose_known(uint8_t purpose)
{
  return purpose == KITH_PURPOSE_SYNC || purpose == KITH_PURPOSE_PAIR ||
         purpose == KITH_PURPOSE_RELAY;
}

int kith_preamble_decode(const uint8_t in[static KITH_PREAMBLE_LEN],
                         struct kith_preamble *p)
{
  memset(p, 0, sizeof *p);
  if (memcmp(in, MAGIC, sizeof MAGIC) != 0 || !purpose_known(in[5]))
    return KITH_ENOTKITH;
  p->version = in[4];
  p->purpose = in[5];
  p->caps = (uint16_t)(in[6] << 8 | in[7]);
  return p->version == 0 ? KITH_EVERSION : 0;
}

int kith_preamble_answer(const struct kith_preamble *in, uint8_t my_max_version,
                         uint16_t my_caps, struct kith_preamble *out)
{
  uint8_t v = in->version < my_max_version ? in->version : my_max_version;
  out->version = v >= KITH_PROTO_VERSION_MIN ? v : 0;
  out->purpose = in->purpose;
  out->caps = in->caps & my_caps;
  return out->version ? 0 : KITH_EVERSION;
}

int kith_preamble_check_answer(const struct kith_preamble *sent,
                               const struct kith_preamble *answer)
{
  if (answer->version < KITH_PROTO_VERSION_MIN || answer->version > sent->version)
    return KITH_EVERSION;
  if (answer->purpose != sent->purpose || (answer->caps & ~sent->caps) != 0)
    return KITH_EBADMSG;
  return 0;
}

void kith_prologue(const uint8_t init[static KITH_PREAMBLE_LEN],
                   const uint8_t resp[static KITH_PREAMBLE_LEN],
                   uint8_t out[static KITH_PROLOGUE_LEN], size_t *len)
{
  size_t n = sizeof PROLOGUE_LABEL - 1;
  memcpy(out, PROLOGUE_LABEL, n);
  memcpy(out + n, init, KITH_PREAMBLE_LEN);
  memcpy(out + n + KITH_PREAMBLE_LEN, resp, KITH_PREAMBLE_LEN);
  *len = n + 2 * KITH_PREAMBLE_LEN;
}
