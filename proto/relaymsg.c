#include "proto/relaymsg.h"

#include <string.h>

#include "proto/mp.h"
#include "proto/reg.h"

/* Fields after [1, type, ...] for each type; -1: not a relay type. */
static int fields_of(int type)
{
  switch (type) {
  case KITH_RMSG_INFO:
    return 4;
  case KITH_RMSG_PUT:
    return 4;
  case KITH_RMSG_DATA:
    return 1;
  case KITH_RMSG_OK:
    return 2;
  case KITH_RMSG_ERR:
    return 3;
  case KITH_RMSG_FETCH:
    return 3;
  case KITH_RMSG_MAIL:
    return 3;
  case KITH_RMSG_DEL:
    return 2;
  case KITH_RMSG_WAIT:
  case KITH_RMSG_JOIN:
    return 2;
  default:
    return -1;
  }
}

bool kith_rmsg_is_relay(int type)
{
  return fields_of(type) >= 0;
}

/* Length of an R_ERR's text if it is NUL-terminated within its array, valid UTF-8
 * without NUL and within its bound; -1 otherwise. */
static long text_ok(const char *s)
{
  size_t n = strnlen(s, KITH_RMSG_TEXT_MAX + 1);
  if (n > KITH_RMSG_TEXT_MAX || !kith_utf8_valid(s, n))
    return -1;
  return (long)n;
}

int kith_rmsg_encode(const struct kith_rmsg *m, uint8_t *out, size_t cap, size_t *len)
{
  struct kith_mp_fixbuf fb = {out, cap, 0};
  msgpack_packer pk;
  int nf = fields_of(m->type), e;
  long tn = 0;
  *len = 0;
  if (nf < 0)
    return KITH_EINVAL;
  if (m->type == KITH_RMSG_DATA &&
      (m->chunk_len > KITH_RMSG_CHUNK_MAX || (m->chunk_len && !m->chunk)))
    return KITH_EINVAL;
  if (m->type == KITH_RMSG_DEL &&
      (m->neids > KITH_RMSG_DEL_MAX || (m->neids && !m->eids)))
    return KITH_EINVAL;
  if (m->type == KITH_RMSG_ERR && (tn = text_ok(m->text)) < 0)
    return KITH_EINVAL;
  msgpack_packer_init(&pk, &fb, kith_mp_fix_write);
  e = msgpack_pack_array(&pk, 2 + (size_t)nf);
  e |= msgpack_pack_uint8(&pk, KITH_MSG_VERSION);
  e |= msgpack_pack_uint8(&pk, (uint8_t)m->type);
  switch (m->type) {
  case KITH_RMSG_INFO:
    e |= msgpack_pack_uint32(&pk, m->version);
    e |= msgpack_pack_uint64(&pk, m->max_envelope);
    e |= msgpack_pack_uint64(&pk, m->ttl_s);
    e |= msgpack_pack_uint32(&pk, m->flags);
    break;
  case KITH_RMSG_PUT:
    e |= msgpack_pack_uint32(&pk, m->req);
    e |= kith_mp_pack_bin(&pk, m->owner, KITH_RMSG_KEY_LEN);
    e |= kith_mp_pack_bin(&pk, m->box, KITH_RMSG_BOX_LEN);
    e |= msgpack_pack_uint64(&pk, m->size);
    break;
  case KITH_RMSG_DATA:
    e |= kith_mp_pack_bin(&pk, m->chunk, m->chunk_len);
    break;
  case KITH_RMSG_OK:
    e |= msgpack_pack_uint32(&pk, m->req);
    e |= msgpack_pack_uint64(&pk, m->value);
    break;
  case KITH_RMSG_ERR:
    e |= msgpack_pack_uint32(&pk, m->req);
    e |= msgpack_pack_uint32(&pk, m->code);
    e |= msgpack_pack_str(&pk, (size_t)tn);
    e |= msgpack_pack_str_body(&pk, m->text, (size_t)tn);
    break;
  case KITH_RMSG_FETCH:
    e |= msgpack_pack_uint32(&pk, m->req);
    e |= msgpack_pack_uint64(&pk, m->after);
    e |= msgpack_pack_uint64(&pk, m->max_bytes);
    break;
  case KITH_RMSG_MAIL:
    e |= msgpack_pack_uint64(&pk, m->eid);
    e |= kith_mp_pack_bin(&pk, m->box, KITH_RMSG_BOX_LEN);
    e |= msgpack_pack_uint64(&pk, m->size);
    break;
  case KITH_RMSG_DEL:
    e |= msgpack_pack_uint32(&pk, m->req);
    e |= msgpack_pack_array(&pk, m->neids);
    for (size_t i = 0; i < m->neids; i++)
      e |= msgpack_pack_uint64(&pk, m->eids[i]);
    break;
  case KITH_RMSG_WAIT:
  case KITH_RMSG_JOIN:
    e |= msgpack_pack_uint32(&pk, m->req);
    e |= kith_mp_pack_bin(&pk, m->tag, KITH_RMSG_TAG_LEN);
    break;
  }
  if (e)
    return KITH_EINVAL; /* the only way msgpack-c fails here: out is too small */
  *len = fb.len;
  return 0;
}

int kith_rmsg_data_header(size_t len, uint8_t out[static KITH_RMSG_DATA_HDR_MAX],
                          size_t *hlen)
{
  struct kith_mp_fixbuf fb = {out, KITH_RMSG_DATA_HDR_MAX, 0};
  msgpack_packer pk;
  *hlen = 0;
  if (len > KITH_RMSG_CHUNK_MAX)
    return KITH_EINVAL;
  msgpack_packer_init(&pk, &fb, kith_mp_fix_write);
  int e = msgpack_pack_array(&pk, 3);
  e |= msgpack_pack_uint8(&pk, KITH_MSG_VERSION);
  e |= msgpack_pack_uint8(&pk, KITH_RMSG_DATA);
  e |= msgpack_pack_bin(&pk, len);
  if (e)
    return KITH_EINVAL; /* never: 6 bytes hold the longest */
  *hlen = fb.len;
  return 0;
}

/* ---- decoding ---------------------------------------------------------- */

/* Decodes the fields of r->type from f[0..n). */
static int get_fields(const msgpack_object *f, uint32_t n, struct kith_rmsg *r)
{
  if (fields_of(r->type) != (int)n)
    return KITH_EBADMSG;
  switch (r->type) {
  case KITH_RMSG_INFO:
    return kith_mp_get_u32(&f[0], &r->version) ||
                   kith_mp_get_u64(&f[1], &r->max_envelope) ||
                   kith_mp_get_u64(&f[2], &r->ttl_s) ||
                   kith_mp_get_u32(&f[3], &r->flags)
               ? KITH_EBADMSG
               : 0;
  case KITH_RMSG_PUT:
    return kith_mp_get_u32(&f[0], &r->req) ||
                   kith_mp_get_bin(&f[1], r->owner, KITH_RMSG_KEY_LEN) ||
                   kith_mp_get_bin(&f[2], r->box, KITH_RMSG_BOX_LEN) ||
                   kith_mp_get_u64(&f[3], &r->size)
               ? KITH_EBADMSG
               : 0;
  case KITH_RMSG_DATA:
    if (f[0].type != MSGPACK_OBJECT_BIN || f[0].via.bin.size > KITH_RMSG_CHUNK_MAX)
      return KITH_EBADMSG;
    /* msgpack-c refers to bin bytes in place: the chunk borrows the body */
    r->chunk = f[0].via.bin.size ? (const uint8_t *)f[0].via.bin.ptr : NULL;
    r->chunk_len = f[0].via.bin.size;
    return 0;
  case KITH_RMSG_OK:
    return kith_mp_get_u32(&f[0], &r->req) || kith_mp_get_u64(&f[1], &r->value)
               ? KITH_EBADMSG
               : 0;
  case KITH_RMSG_ERR:
    if (kith_mp_get_u32(&f[0], &r->req) || kith_mp_get_u32(&f[1], &r->code) ||
        f[2].type != MSGPACK_OBJECT_STR || f[2].via.str.size > KITH_RMSG_TEXT_MAX ||
        !kith_utf8_valid(f[2].via.str.ptr, f[2].via.str.size))
      return KITH_EBADMSG;
    if (f[2].via.str.size)
      memcpy(r->text, f[2].via.str.ptr, f[2].via.str.size);
    r->text[f[2].via.str.size] = '\0';
    return 0;
  case KITH_RMSG_FETCH:
    return kith_mp_get_u32(&f[0], &r->req) || kith_mp_get_u64(&f[1], &r->after) ||
                   kith_mp_get_u64(&f[2], &r->max_bytes)
               ? KITH_EBADMSG
               : 0;
  case KITH_RMSG_MAIL:
    return kith_mp_get_u64(&f[0], &r->eid) ||
                   kith_mp_get_bin(&f[1], r->box, KITH_RMSG_BOX_LEN) ||
                   kith_mp_get_u64(&f[2], &r->size)
               ? KITH_EBADMSG
               : 0;
  case KITH_RMSG_DEL:
    if (kith_mp_get_u32(&f[0], &r->req) || f[1].type != MSGPACK_OBJECT_ARRAY ||
        f[1].via.array.size > KITH_RMSG_DEL_MAX || !r->eids)
      return KITH_EBADMSG;
    for (uint32_t i = 0; i < f[1].via.array.size; i++)
      if (kith_mp_get_u64(&f[1].via.array.ptr[i], &r->eids[i]) != 0)
        return KITH_EBADMSG;
    r->neids = f[1].via.array.size;
    return 0;
  case KITH_RMSG_WAIT:
  case KITH_RMSG_JOIN:
    return kith_mp_get_u32(&f[0], &r->req) ||
                   kith_mp_get_bin(&f[1], r->tag, KITH_RMSG_TAG_LEN)
               ? KITH_EBADMSG
               : 0;
  }
  return KITH_EBADMSG;
}

int kith_rmsg_decode(const struct kith_msg *m, struct kith_rmsg *out)
{
  uint64_t *eids = out->eids;
  msgpack_object items[4];
  msgpack_zone zone;
  size_t off = 0;
  memset(out, 0, sizeof *out);
  out->eids = eids;
  out->type = m->type;
  int nf = fields_of(m->type);
  if (nf < 0 || m->u.sync.nfields != (uint32_t)nf)
    goto bad;
  /* The whole message passed kith_mp_check in kith_msg_decode: every count is
   * bounded by the bytes, so unpacking allocates at most a few times len. */
  if (!msgpack_zone_init(&zone, 4096))
    goto bad;
  int rc = 0;
  for (int i = 0; i < nf && rc == 0; i++) {
    msgpack_unpack_return r = msgpack_unpack((const char *)m->u.sync.body,
                                             m->u.sync.len, &off, &zone, &items[i]);
    if (r != MSGPACK_UNPACK_SUCCESS && r != MSGPACK_UNPACK_EXTRA_BYTES)
      rc = KITH_EBADMSG;
  }
  if (rc == 0 && off != m->u.sync.len)
    rc = KITH_EBADMSG;
  if (rc == 0)
    rc = get_fields(items, (uint32_t)nf, out);
  msgpack_zone_destroy(&zone);
  if (rc == 0)
    return 0;
bad:
  memset(out, 0, sizeof *out);
  out->eids = eids;
  return KITH_EBADMSG;
}

void kith_rmsg_set_text(struct kith_rmsg *m, const char *s)
{
  size_t n = strlen(s);
  if (n > KITH_RMSG_TEXT_MAX) {
    n = KITH_RMSG_TEXT_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
      n--; /* s[n] continues a character: cut before that character */
  }
  memcpy(m->text, s, n);
  m->text[n] = 0;
}

const char *kith_rmsg_err_text(uint32_t code)
{
  switch (code) {
  case KITH_RERR_TOO_BIG:
    return "the envelope is larger than this relay accepts";
  case KITH_RERR_BOX_QUOTA:
    return "the mailbox is full (too many envelopes waiting to be fetched)";
  case KITH_RERR_OWNER_QUOTA:
    return "the recipient's mailboxes on this relay are full";
  case KITH_RERR_RATE:
    return "rate limited: too many deposits from this address; try again later";
  case KITH_RERR_NOT_OWNER:
    return "that mailbox belongs to another device";
  case KITH_RERR_BUSY:
    return "the relay is busy; try again later";
  case KITH_RERR_MALFORMED:
    return "the relay did not understand the request";
  case KITH_RERR_NO_RENDEZVOUS:
    return "nobody is waiting at the relay for this invite";
  }
  return "the relay refused for a reason this kith does not know";
}
