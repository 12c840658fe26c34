#include "proto/mp.h"

#include <string.h>

#include "proto/err.h"

static uint64_t be(const uint8_t *p, int n)
{
  uint64_t v = 0;
  for (int i = 0; i < n; i++)
    v = v << 8 | p[i];
  return v;
}

/* Skips one item at *pos; returns 0 or -1. */
static int skip(const uint8_t *b, size_t len, size_t *pos, int depth)
{
  if (depth < 0 || *pos >= len)
    return -1;
  uint8_t t = b[(*pos)++];
  size_t left = len - *pos;
  uint64_t n = 0, payload = 0;
  int container = 0; /* 1 array, 2 map */

  if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3)
    return 0;
  if ((t & 0xe0) == 0xa0)
    payload = t & 0x1f;
  else if ((t & 0xf0) == 0x90)
    n = t & 0x0f, container = 1;
  else if ((t & 0xf0) == 0x80)
    n = t & 0x0f, container = 2;
  else {
    static const struct {
      uint8_t t;
      uint8_t hdr;
      uint8_t fixed;
      uint8_t kind;
    } tab[] = {
        /* kind: 0 fixed payload, 1 length-prefixed, 2 ext, 3 array, 4 map */
        {0xc4, 1, 0, 1},  {0xc5, 2, 0, 1}, {0xc6, 4, 0, 1}, {0xc7, 1, 1, 2},
        {0xc8, 2, 1, 2},  {0xc9, 4, 1, 2}, {0xca, 0, 4, 0}, {0xcb, 0, 8, 0},
        {0xcc, 0, 1, 0},  {0xcd, 0, 2, 0}, {0xce, 0, 4, 0}, {0xcf, 0, 8, 0},
        {0xd0, 0, 1, 0},  {0xd1, 0, 2, 0}, {0xd2, 0, 4, 0}, {0xd3, 0, 8, 0},
        {0xd4, 0, 2, 0},  {0xd5, 0, 3, 0}, {0xd6, 0, 5, 0}, {0xd7, 0, 9, 0},
        {0xd8, 0, 17, 0}, {0xd9, 1, 0, 1}, {0xda, 2, 0, 1}, {0xdb, 4, 0, 1},
        {0xdc, 2, 0, 3},  {0xdd, 4, 0, 3}, {0xde, 2, 0, 4}, {0xdf, 4, 0, 4},
    };
    size_t i;
    for (i = 0; i < sizeof tab / sizeof tab[0]; i++)
      if (tab[i].t == t)
        break;
    if (i == sizeof tab / sizeof tab[0])
      return -1; /* 0xc1 is never used */
    if (left < tab[i].hdr)
      return -1;
    uint64_t h = be(b + *pos, tab[i].hdr);
    *pos += tab[i].hdr;
    left -= tab[i].hdr;
    switch (tab[i].kind) {
    case 0:
      payload = tab[i].fixed;
      break;
    case 1:
      payload = h;
      break;
    case 2:
      payload = h + 1;
      break;
    case 3:
      n = h, container = 1;
      break;
    case 4:
      n = h, container = 2;
      break;
    }
  }
  if (!container) {
    if (payload > left)
      return -1;
    *pos += payload;
    return 0;
  }
  uint64_t items = container == 2 ? n * 2 : n;
  if (items > left)
    return -1;
  for (uint64_t i = 0; i < items; i++)
    if (skip(b, len, pos, depth - 1) != 0)
      return -1;
  return 0;
}

int kith_mp_check(const uint8_t *buf, size_t len, int max_depth)
{
  size_t pos = 0;
  if (skip(buf, len, &pos, max_depth) != 0 || pos != len)
    return KITH_EBADMSG;
  return 0;
}

int kith_mp_unpack(const uint8_t *buf, size_t len, int max_depth, msgpack_unpacked *u)
{
  msgpack_unpacked_init(u);
  if (kith_mp_check(buf, len, max_depth) != 0)
    return KITH_EBADMSG;
  size_t off = 0;
  if (msgpack_unpack_next(u, (const char *)buf, len, &off) != MSGPACK_UNPACK_SUCCESS ||
      off != len)
    return KITH_EBADMSG;
  return 0;
}

void kith_mp_take(msgpack_sbuffer *sb, uint8_t **out, size_t *len)
{
  *out = (uint8_t *)sb->data;
  *len = sb->size;
  sb->data = NULL;
  sb->size = sb->alloc = 0;
}

int kith_mp_fix_write(void *data, const char *buf, size_t n)
{
  struct kith_mp_fixbuf *f = data;
  if (n > f->cap - f->len)
    return -1;
  if (n)
    memcpy(f->p + f->len, buf, n);
  f->len += n;
  return 0;
}

int kith_mp_get_bin(const msgpack_object *o, uint8_t *dst, size_t n)
{
  if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != n)
    return KITH_EBADMSG;
  if (n)
    memcpy(dst, o->via.bin.ptr, n);
  return 0;
}

int kith_mp_get_u64(const msgpack_object *o, uint64_t *v)
{
  if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
    return KITH_EBADMSG;
  *v = o->via.u64;
  return 0;
}

int kith_mp_get_u32(const msgpack_object *o, uint32_t *v)
{
  uint64_t x;
  if (kith_mp_get_u64(o, &x) != 0 || x > UINT32_MAX)
    return KITH_EBADMSG;
  *v = (uint32_t)x;
  return 0;
}

int kith_mp_pack_bin(msgpack_packer *pk, const uint8_t *b, size_t n)
{
  return msgpack_pack_bin(pk, n) | msgpack_pack_bin_body(pk, b, n);
}
