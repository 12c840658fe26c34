#include "proto/syncmsg.h"

#include <string.h>

#include "proto/mp.h"

static int fields_of(int type)
{
  switch (type) {
  case KITH_SYNC_HELLO:
    return 2;
  case KITH_SYNC_REGS:
    return 2;
  case KITH_SYNC_END:
    return 5;
  case KITH_SYNC_DONE:
    return 2;
  case KITH_SYNC_ACK:
    return 3;
  case KITH_SYNC_ROUND:
    return 1;
  default:
    return -1;
  }
}

/* HELLO's entries, as HELLO and a post carry them: msgpack-c's result. */
static int pack_hellos(msgpack_packer *pk, const struct kith_sync_hello *hello,
                       size_t n)
{
  int e = msgpack_pack_array(pk, n);
  for (size_t i = 0; i < n; i++) {
    const struct kith_sync_hello *h = &hello[i];
    e |= msgpack_pack_array(pk, 5);
    e |= kith_mp_pack_bin(pk, h->space, KITH_SYNC_GID_LEN);
    e |= kith_mp_pack_bin(pk, h->epoch, KITH_SYNC_EPOCH_LEN);
    e |= msgpack_pack_uint64(pk, h->max);
    e |= h->have_known ? kith_mp_pack_bin(pk, h->have_epoch, KITH_SYNC_EPOCH_LEN)
                       : msgpack_pack_nil(pk);
    e |= msgpack_pack_uint64(pk, h->have_known ? h->have_seq : 0);
  }
  return e;
}

int kith_smsg_encode(const struct kith_smsg *s, uint8_t *out, size_t cap, size_t *len)
{
  struct kith_mp_fixbuf fb = {out, cap, 0};
  msgpack_packer pk;
  int nf = fields_of(s->type), e;
  *len = 0;
  if (nf < 0)
    return KITH_EINVAL;
  msgpack_packer_init(&pk, &fb, kith_mp_fix_write);
  e = msgpack_pack_array(&pk, 2 + (size_t)nf);
  e |= msgpack_pack_uint8(&pk, KITH_MSG_VERSION);
  e |= msgpack_pack_uint8(&pk, (uint8_t)s->type);
  switch (s->type) {
  case KITH_SYNC_HELLO:
    if (s->nhello > KITH_SYNC_HELLO_MAX || (s->nhello && !s->hello))
      return KITH_EINVAL;
    e |= msgpack_pack_uint32(&pk, s->round);
    e |= pack_hellos(&pk, s->hello, s->nhello);
    break;
  case KITH_SYNC_REGS:
    if (s->chunk_len > KITH_SYNC_CHUNK_MAX || (s->chunk_len && !s->chunk))
      return KITH_EINVAL;
    e |= kith_mp_pack_bin(&pk, s->space, KITH_SYNC_GID_LEN);
    e |= kith_mp_pack_bin(&pk, s->chunk, s->chunk_len);
    break;
  case KITH_SYNC_END:
    if (s->to <= s->from)
      return KITH_EINVAL;
    e |= kith_mp_pack_bin(&pk, s->space, KITH_SYNC_GID_LEN);
    e |= kith_mp_pack_bin(&pk, s->epoch, KITH_SYNC_EPOCH_LEN);
    e |= msgpack_pack_uint64(&pk, s->from);
    e |= msgpack_pack_uint64(&pk, s->to);
    e |= msgpack_pack_uint32(&pk, s->records);
    break;
  case KITH_SYNC_DONE:
    e |= kith_mp_pack_bin(&pk, s->space, KITH_SYNC_GID_LEN);
    e |= msgpack_pack_uint32(&pk, s->status);
    break;
  case KITH_SYNC_ACK:
    e |= kith_mp_pack_bin(&pk, s->space, KITH_SYNC_GID_LEN);
    e |= kith_mp_pack_bin(&pk, s->epoch, KITH_SYNC_EPOCH_LEN);
    e |= msgpack_pack_uint64(&pk, s->seq);
    break;
  case KITH_SYNC_ROUND:
    e |= s->more ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
    break;
  }
  if (e)
    return KITH_EINVAL;
  *len = fb.len;
  return 0;
}

/* ---- decoding ---------------------------------------------------------- */

static int get_hello(const msgpack_object *o, struct kith_sync_hello *h)
{
  if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 5)
    return KITH_EBADMSG;
  const msgpack_object *f = o->via.array.ptr;
  if (kith_mp_get_bin(&f[0], h->space, KITH_SYNC_GID_LEN) ||
      kith_mp_get_bin(&f[1], h->epoch, 16) || kith_mp_get_u64(&f[2], &h->max) ||
      kith_mp_get_u64(&f[4], &h->have_seq))
    return KITH_EBADMSG;
  h->have_known = f[3].type != MSGPACK_OBJECT_NIL;
  if (h->have_known)
    return kith_mp_get_bin(&f[3], h->have_epoch, KITH_SYNC_EPOCH_LEN);
  memset(h->have_epoch, 0, sizeof h->have_epoch);
  return h->have_seq == 0 ? 0 : KITH_EBADMSG; /* one encoding of "nothing" */
}

/* Decodes the fields of s->type from f[0..n). */
static int get_fields(const msgpack_object *f, uint32_t n, struct kith_smsg *s)
{
  if (fields_of(s->type) != (int)n)
    return KITH_EBADMSG;
  switch (s->type) {
  case KITH_SYNC_HELLO:
    if (kith_mp_get_u32(&f[0], &s->round) || f[1].type != MSGPACK_OBJECT_ARRAY ||
        f[1].via.array.size > KITH_SYNC_HELLO_MAX || !s->hello)
      return KITH_EBADMSG;
    s->nhello = f[1].via.array.size;
    for (size_t i = 0; i < s->nhello; i++)
      if (get_hello(&f[1].via.array.ptr[i], &s->hello[i]) != 0)
        return KITH_EBADMSG;
    return 0;
  case KITH_SYNC_REGS:
    if (kith_mp_get_bin(&f[0], s->space, KITH_SYNC_GID_LEN) ||
        f[1].type != MSGPACK_OBJECT_BIN || f[1].via.bin.size > KITH_SYNC_CHUNK_MAX)
      return KITH_EBADMSG;
    s->chunk = (const uint8_t *)f[1].via.bin.ptr;
    s->chunk_len = f[1].via.bin.size;
    return 0; /* msgpack-c refers to bin bytes in place: chunk borrows the body */
  case KITH_SYNC_END:
    if (kith_mp_get_bin(&f[0], s->space, KITH_SYNC_GID_LEN) ||
        kith_mp_get_bin(&f[1], s->epoch, KITH_SYNC_EPOCH_LEN) ||
        kith_mp_get_u64(&f[2], &s->from) || kith_mp_get_u64(&f[3], &s->to) ||
        kith_mp_get_u32(&f[4], &s->records) || s->to <= s->from)
      return KITH_EBADMSG;
    return 0;
  case KITH_SYNC_DONE:
    return kith_mp_get_bin(&f[0], s->space, KITH_SYNC_GID_LEN) ||
                   kith_mp_get_u32(&f[1], &s->status)
               ? KITH_EBADMSG
               : 0;
  case KITH_SYNC_ACK:
    return kith_mp_get_bin(&f[0], s->space, KITH_SYNC_GID_LEN) ||
                   kith_mp_get_bin(&f[1], s->epoch, KITH_SYNC_EPOCH_LEN) ||
                   kith_mp_get_u64(&f[2], &s->seq)
               ? KITH_EBADMSG
               : 0;
  case KITH_SYNC_ROUND:
    if (f[0].type != MSGPACK_OBJECT_BOOLEAN)
      return KITH_EBADMSG;
    s->more = f[0].via.boolean;
    return 0;
  }
  return KITH_EBADMSG;
}

int kith_smsg_decode(const struct kith_msg *m, struct kith_smsg *s)
{
  struct kith_sync_hello *hello = s->hello;
  msgpack_object items[5];
  msgpack_zone zone;
  size_t off = 0;
  memset(s, 0, sizeof *s);
  s->hello = hello;
  s->type = m->type;
  if (fields_of(m->type) < 0 || m->u.sync.nfields > 5)
    return KITH_EBADMSG;
  /* The whole message passed kith_mp_check in kith_msg_decode: every count is
   * bounded by the bytes, so unpacking allocates at most a few times len. */
  if (!msgpack_zone_init(&zone, 4096))
    return KITH_EBADMSG;
  int rc = 0;
  for (uint32_t i = 0; i < m->u.sync.nfields && rc == 0; i++) {
    msgpack_unpack_return r = msgpack_unpack((const char *)m->u.sync.body,
                                             m->u.sync.len, &off, &zone, &items[i]);
    if (r != MSGPACK_UNPACK_SUCCESS && r != MSGPACK_UNPACK_EXTRA_BYTES)
      rc = KITH_EBADMSG;
  }
  if (rc == 0 && off != m->u.sync.len)
    rc = KITH_EBADMSG;
  if (rc == 0)
    rc = get_fields(items, m->u.sync.nfields, s);
  msgpack_zone_destroy(&zone);
  if (rc) {
    memset(s, 0, sizeof *s);
    s->hello = hello;
  }
  return rc;
}

/* ---- posts ------------------------------------------------------------------- */

size_t kith_post_size(size_t nhello, size_t nbatch, size_t bytes)
{
  /* array and header ints: 32; a hello: 1 + 18 + 18 + 9 + 18 + 9; a batch: 1 + 18
   * + 18 + 9 + 9 + 5 + 5 (bin header) */
  return 32 + nhello * 73 + nbatch * 65 + bytes;
}

int kith_post_encode(const struct kith_post *p, uint8_t *out, size_t cap, size_t *len)
{
  struct kith_mp_fixbuf fb = {out, cap, 0};
  msgpack_packer pk;
  int e;
  *len = 0;
  if (p->n == 0 || p->nhello > KITH_SYNC_HELLO_MAX || p->nbatch > KITH_POST_BATCH_MAX ||
      (p->nhello && !p->hello) || (p->nbatch && !p->batch))
    return KITH_EINVAL;
  msgpack_packer_init(&pk, &fb, kith_mp_fix_write);
  e = msgpack_pack_array(&pk, 5);
  e |= msgpack_pack_uint8(&pk, KITH_MSG_VERSION);
  e |= msgpack_pack_uint64(&pk, p->n);
  e |= msgpack_pack_uint64(&pk, p->seen);
  e |= pack_hellos(&pk, p->hello, p->nhello);
  e |= msgpack_pack_array(&pk, p->nbatch);
  for (size_t i = 0; i < p->nbatch; i++) {
    const struct kith_post_batch *b = &p->batch[i];
    if (b->to <= b->from || (b->len && !b->bytes) || b->len > UINT32_MAX)
      return KITH_EINVAL;
    e |= msgpack_pack_array(&pk, 6);
    e |= kith_mp_pack_bin(&pk, b->space, KITH_SYNC_GID_LEN);
    e |= kith_mp_pack_bin(&pk, b->epoch, KITH_SYNC_EPOCH_LEN);
    e |= msgpack_pack_uint64(&pk, b->from);
    e |= msgpack_pack_uint64(&pk, b->to);
    e |= msgpack_pack_uint32(&pk, b->records);
    e |= kith_mp_pack_bin(&pk, b->bytes, b->len);
  }
  if (e)
    return KITH_EINVAL;
  *len = fb.len;
  return 0;
}

static int get_batch(const msgpack_object *o, struct kith_post_batch *b)
{
  if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 6)
    return KITH_EBADMSG;
  const msgpack_object *f = o->via.array.ptr;
  if (kith_mp_get_bin(&f[0], b->space, KITH_SYNC_GID_LEN) ||
      kith_mp_get_bin(&f[1], b->epoch, KITH_SYNC_EPOCH_LEN) ||
      kith_mp_get_u64(&f[2], &b->from) || kith_mp_get_u64(&f[3], &b->to) ||
      kith_mp_get_u32(&f[4], &b->records) || b->to <= b->from ||
      f[5].type != MSGPACK_OBJECT_BIN)
    return KITH_EBADMSG;
  b->bytes = (const uint8_t *)f[5].via.bin.ptr;
  b->len = f[5].via.bin.size;
  return 0;
}

int kith_post_decode(const uint8_t *buf, size_t len, struct kith_post *p)
{
  struct kith_sync_hello *hello = p->hello;
  struct kith_post_batch *batch = p->batch;
  msgpack_unpacked u;
  memset(p, 0, sizeof *p);
  p->hello = hello, p->batch = batch;
  int rc = kith_mp_unpack(buf, len, 4, &u);
  const msgpack_object *o = &u.data, *f = o->via.array.ptr;
  if (rc == 0 &&
      (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 5 ||
       f[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
       f[0].via.u64 != KITH_MSG_VERSION || kith_mp_get_u64(&f[1], &p->n) ||
       kith_mp_get_u64(&f[2], &p->seen) || p->n == 0 ||
       f[3].type != MSGPACK_OBJECT_ARRAY || f[3].via.array.size > KITH_SYNC_HELLO_MAX ||
       f[4].type != MSGPACK_OBJECT_ARRAY || f[4].via.array.size > KITH_POST_BATCH_MAX ||
       !hello || !batch))
    rc = KITH_EBADMSG;
  if (rc == 0) {
    p->nhello = f[3].via.array.size;
    p->nbatch = f[4].via.array.size;
  }
  for (size_t i = 0; rc == 0 && i < p->nhello; i++)
    rc = get_hello(&f[3].via.array.ptr[i], &hello[i]);
  for (size_t i = 0; rc == 0 && i < p->nbatch; i++)
    rc = get_batch(&f[4].via.array.ptr[i], &batch[i]);
  msgpack_unpacked_destroy(&u);
  if (rc) {
    memset(p, 0, sizeof *p);
    p->hello = hello, p->batch = batch;
    return KITH_EBADMSG;
  }
  return 0;
}
