#include "core/chan.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int kith_chan_init(struct kith_chan *c)
{
  memset(c, 0, sizeof *c - sizeof c->fr);
  kith_frame_reader_init(&c->fr);
  return kith_frame_set_max(&c->fr, KITH_FRAME_MAX_HANDSHAKE);
}

void kith_chan_clear(struct kith_chan *c)
{
  kith_noise_cipher_free(c->tx);
  kith_noise_cipher_free(c->rx);
  c->tx = c->rx = NULL;
  if (c->out)
    sodium_memzero(c->out, c->out_cap);
  free(c->out);
  c->out = NULL;
  c->out_len = c->out_cap = 0;
  sodium_memzero(c->pt, sizeof c->pt);
}

int kith_chan_out(struct kith_chan *c, const uint8_t *b, size_t n)
{
  if (c->out_len + n > KITH_CHAN_OUT_MAX)
    return KITH_ENOMEM;
  if (c->out_len + n > c->out_cap) {
    size_t cap = c->out_cap ? c->out_cap : 1024;
    while (cap < c->out_len + n)
      cap *= 2;
    uint8_t *q = realloc(c->out, cap);
    if (!q)
      return KITH_ENOMEM;
    c->out = q, c->out_cap = cap;
  }
  memcpy(c->out + c->out_len, b, n);
  c->out_len += n;
  return 0;
}

int kith_chan_send_frame(struct kith_chan *c, const uint8_t *body, size_t len)
{
  uint8_t hdr[KITH_FRAME_HDR_LEN];
  int rc = kith_frame_header(len, hdr);
  if (rc == 0)
    rc = kith_chan_out(c, hdr, sizeof hdr);
  if (rc == 0)
    rc = kith_chan_out(c, body, len);
  return rc;
}

int kith_chan_send_msg(struct kith_chan *c, const struct kith_msg *m)
{
  size_t len = 0, clen = 0;
  int rc = kith_msg_encode(m, c->pt, KITH_NOISE_MAX_PAYLOAD, &len);
  if (rc == 0)
    rc = kith_noise_cipher_encrypt(c->tx, c->pt, len, c->ct, sizeof c->ct, &clen);
  sodium_memzero(c->pt, len);
  return rc ? rc : kith_chan_send_frame(c, c->ct, clen);
}

int kith_chan_send_plain(struct kith_chan *c, const uint8_t *pt, size_t len)
{
  size_t clen = 0;
  int rc = kith_noise_cipher_encrypt(c->tx, pt, len, c->ct, sizeof c->ct, &clen);
  return rc ? rc : kith_chan_send_frame(c, c->ct, clen);
}

int kith_chan_open(struct kith_chan *c, const uint8_t *body, size_t len,
                   struct kith_msg *m)
{
  size_t plen = 0;
  if (kith_noise_cipher_decrypt(c->rx, body, len, c->pt, sizeof c->pt, &plen) != 0)
    return KITH_EPROTO;
  int rc = kith_msg_decode(c->pt, plen, m);
  if (rc || m->type < KITH_MSG_SYNC_FIRST) /* a sync body borrows pt: kept */
    sodium_memzero(c->pt, plen);
  return rc;
}

int kith_chan_feed(struct kith_chan *c, const uint8_t *in, size_t len,
                   const struct kith_chan_handler *h, void *s)
{
  while (len && !h->ended(s)) {
    if (c->pre_have < KITH_PREAMBLE_LEN) {
      size_t take = KITH_PREAMBLE_LEN - c->pre_have;
      if (take > len)
        take = len;
      memcpy(c->pre_in + c->pre_have, in, take);
      c->pre_have += take, in += take, len -= take;
      if (c->pre_have == KITH_PREAMBLE_LEN && h->preamble(s) != 0)
        break;
      continue;
    }
    size_t used = 0;
    const uint8_t *body = NULL;
    size_t blen = 0;
    int rc = kith_frame_feed(&c->fr, in, len, &used);
    in += used, len -= used;
    if (rc || kith_frame_pop(&c->fr, &body, &blen) != 0)
      return KITH_EPROTO;
    if (body && h->frame(s, body, blen) != 0)
      break;
    if (used == 0 && !body && len)
      break; /* took nothing and popped nothing: never spin */
  }
  return 0;
}

size_t kith_chan_pending(const struct kith_chan *c, const uint8_t **out)
{
  *out = c->out;
  return c->out_len;
}

void kith_chan_consumed(struct kith_chan *c, size_t n)
{
  if (n > c->out_len)
    n = c->out_len;
  if (n == 0)
    return; /* out may still be NULL */
  memmove(c->out, c->out + n, c->out_len - n);
  c->out_len -= n;
}
