#include "proto/msg.h"

#include <string.h>

#include "proto/mp.h"
#include "proto/reg.h"

/* ---- encoding ---------------------------------------------------------- */

/* Length of s within its array of max + 1 bytes if it is NUL-terminated there,
 * valid UTF-8 and at most max bytes; -1 otherwise. */
static long str_ok(const char *s, size_t max)
{
  size_t n = strnlen(s, max + 1);
  if (n > max || !kith_utf8_valid(s, n))
    return -1;
  return (long)n;
}

static int pack_str(msgpack_packer *pk, const char *s, size_t n)
{
  return msgpack_pack_str(pk, n) | msgpack_pack_str_body(pk, s, n);
}

static bool is_sync(uint64_t type)
{
  return type >= KITH_MSG_SYNC_FIRST && type <= KITH_MSG_TYPE_MAX;
}

int kith_msg_encode(const struct kith_msg *m, uint8_t *out, size_t cap, size_t *len)
{
  struct kith_mp_fixbuf fb = {out, cap, 0};
  msgpack_packer pk;
  int e = 0;
  *len = 0;
  msgpack_packer_init(&pk, &fb, kith_mp_fix_write);

  switch (m->type) {
  case KITH_MSG_BYE:
  case KITH_MSG_PAIR_OK:
    e = msgpack_pack_array(&pk, 2);
    e |= msgpack_pack_uint8(&pk, KITH_MSG_VERSION);
    e |= msgpack_pack_uint8(&pk, (uint8_t)m->type);
    break;
  case KITH_MSG_REFUSE: {
    long n = str_ok(m->u.refuse.text, KITH_REFUSE_TEXT_MAX);
    if (n < 0)
      return KITH_EINVAL;
    e = msgpack_pack_array(&pk, 4);
    e |= msgpack_pack_uint8(&pk, KITH_MSG_VERSION);
    e |= msgpack_pack_uint8(&pk, KITH_MSG_REFUSE);
    e |= msgpack_pack_uint32(&pk, m->u.refuse.code);
    e |= pack_str(&pk, m->u.refuse.text, (size_t)n);
    break;
  }
  case KITH_MSG_PAIR_ID: {
    long nn = str_ok(m->u.pair_id.name, KITH_PAIR_NAME_MAX);
    long nl = str_ok(m->u.pair_id.label, KITH_PAIR_LABEL_MAX);
    if (nn < 0 || nl < 0)
      return KITH_EINVAL;
    e = msgpack_pack_array(&pk, 7);
    e |= msgpack_pack_uint8(&pk, KITH_MSG_VERSION);
    e |= msgpack_pack_uint8(&pk, KITH_MSG_PAIR_ID);
    e |= kith_mp_pack_bin(&pk, m->u.pair_id.pk, KITH_PAIR_PK_LEN);
    e |= pack_str(&pk, m->u.pair_id.name, (size_t)nn);
    e |= pack_str(&pk, m->u.pair_id.label, (size_t)nl);
    e |= m->u.pair_id.link ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
    e |= kith_mp_pack_bin(&pk, m->u.pair_id.sig, KITH_PAIR_SIG_LEN);
    break;
  }
  default:
    if (m->type < 0 || !is_sync((uint64_t)m->type) ||
        m->u.sync.nfields > UINT32_MAX - 2 || (m->u.sync.len && !m->u.sync.body))
      return KITH_EINVAL;
    e = msgpack_pack_array(&pk, 2 + (size_t)m->u.sync.nfields);
    e |= msgpack_pack_uint8(&pk, KITH_MSG_VERSION);
    e |= msgpack_pack_uint16(&pk, (uint16_t)m->type);
    if (!e)
      e = kith_mp_fix_write(&fb, (const char *)m->u.sync.body, m->u.sync.len);
    /* The body is the caller's: it must hold exactly nfields items, which the
     * whole message being one well-formed item proves. */
    if (!e && kith_mp_check(out, fb.len, KITH_MSG_MAX_DEPTH) != 0)
      return KITH_EINVAL;
    break;
  }
  if (e)
    return KITH_EINVAL; /* the only way msgpack-c fails here: out is too small */
  *len = fb.len;
  return 0;
}

/* ---- decoding ---------------------------------------------------------- */

/* Copies a str object of at most max bytes of UTF-8 (no NUL) into dst, which
 * holds max + 1 bytes. */
static int get_str(const msgpack_object *o, size_t max, char *dst)
{
  if (o->type != MSGPACK_OBJECT_STR || o->via.str.size > max ||
      !kith_utf8_valid(o->via.str.ptr, o->via.str.size))
    return KITH_EBADMSG;
  if (o->via.str.size)
    memcpy(dst, o->via.str.ptr, o->via.str.size);
  dst[o->via.str.size] = '\0';
  return 0;
}

/* Bytes taken by an integer item starting with t, or 0 if t starts none. */
static size_t int_len(uint8_t t)
{
  if (t <= 0x7f || t >= 0xe0)
    return 1;
  switch (t) {
  case 0xcc:
  case 0xd0:
    return 2;
  case 0xcd:
  case 0xd1:
    return 3;
  case 0xce:
  case 0xd2:
    return 5;
  case 0xcf:
  case 0xd3:
    return 9;
  }
  return 0;
}

/* Bytes taken by an array header starting with t, or 0 if t starts none. */
static size_t array_hdr_len(uint8_t t)
{
  if ((t & 0xf0) == 0x90)
    return 1;
  return t == 0xdc ? 3 : t == 0xdd ? 5 : 0;
}

/* Points m->u.sync at the raw items after [version, type in buf (which holds one
 * well-formed array whose first two items are integers). */
static int get_sync(const uint8_t *buf, size_t len, uint32_t nfields,
                    struct kith_msg *m)
{
  size_t off = array_hdr_len(buf[0]), k;
  for (int i = 0; i < 2; i++) {
    if (off == 0 || off >= len || (k = int_len(buf[off])) == 0)
      return KITH_EBADMSG;
    off += k;
  }
  if (off > len || (nfields == 0) != (off == len))
    return KITH_EBADMSG;
  m->u.sync.body = buf + off;
  m->u.sync.len = len - off;
  m->u.sync.nfields = nfields;
  return 0;
}

int kith_msg_decode(const uint8_t *buf, size_t len, struct kith_msg *m)
{
  msgpack_unpacked u;
  memset(m, 0, sizeof *m);
  int rc = kith_mp_unpack(buf, len, KITH_MSG_MAX_DEPTH, &u);
  if (rc)
    goto out;
  rc = KITH_EBADMSG;
  const msgpack_object *o = &u.data;
  if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 1)
    goto out;
  const msgpack_object *a = o->via.array.ptr;
  uint32_t n = o->via.array.size;
  if (a[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
    goto out;
  if (a[0].via.u64 != KITH_MSG_VERSION) {
    rc = KITH_EVERSION;
    goto out;
  }
  if (n < 2 || a[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
      a[1].via.u64 > KITH_MSG_TYPE_MAX)
    goto out;
  m->type = (int)a[1].via.u64;
  switch (m->type) {
  case KITH_MSG_BYE:
  case KITH_MSG_PAIR_OK:
    if (n == 2)
      rc = 0;
    break;
  case KITH_MSG_REFUSE:
    if (n != 4 || a[2].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        a[2].via.u64 > UINT32_MAX)
      break;
    m->u.refuse.code = (uint32_t)a[2].via.u64;
    rc = get_str(&a[3], KITH_REFUSE_TEXT_MAX, m->u.refuse.text);
    break;
  case KITH_MSG_PAIR_ID:
    if (n != 7 || a[5].type != MSGPACK_OBJECT_BOOLEAN)
      break;
    m->u.pair_id.link = a[5].via.boolean;
    if (kith_mp_get_bin(&a[2], m->u.pair_id.pk, KITH_PAIR_PK_LEN) ||
        get_str(&a[3], KITH_PAIR_NAME_MAX, m->u.pair_id.name) ||
        get_str(&a[4], KITH_PAIR_LABEL_MAX, m->u.pair_id.label) ||
        kith_mp_get_bin(&a[6], m->u.pair_id.sig, KITH_PAIR_SIG_LEN))
      break;
    rc = 0;
    break;
  default:
    if (is_sync((uint64_t)m->type))
      rc = get_sync(buf, len, n - 2, m);
    break;
  }
out:
  msgpack_unpacked_destroy(&u);
  if (rc)
    memset(m, 0, sizeof *m);
  return rc;
}

bool kith_msg_equal(const struct kith_msg *a, const struct kith_msg *b)
{
  if (a->type != b->type)
    return false;
  switch (a->type) {
  case KITH_MSG_BYE:
  case KITH_MSG_PAIR_OK:
    return true;
  case KITH_MSG_REFUSE:
    return a->u.refuse.code == b->u.refuse.code &&
           strncmp(a->u.refuse.text, b->u.refuse.text, sizeof a->u.refuse.text) == 0;
  case KITH_MSG_PAIR_ID:
    return memcmp(a->u.pair_id.pk, b->u.pair_id.pk, KITH_PAIR_PK_LEN) == 0 &&
           strncmp(a->u.pair_id.name, b->u.pair_id.name, sizeof a->u.pair_id.name) ==
               0 &&
           strncmp(a->u.pair_id.label, b->u.pair_id.label, sizeof a->u.pair_id.label) ==
               0 &&
           a->u.pair_id.link == b->u.pair_id.link &&
           memcmp(a->u.pair_id.sig, b->u.pair_id.sig, KITH_PAIR_SIG_LEN) == 0;
  }
  return a->u.sync.nfields == b->u.sync.nfields && a->u.sync.len == b->u.sync.len &&
         (a->u.sync.len == 0 ||
          memcmp(a->u.sync.body, b->u.sync.body, a->u.sync.len) == 0);
}

const char *kith_refuse_text(uint32_t code)
{
  switch (code) {
  case KITH_REFUSE_UNTRUSTED:
    return "the peer does not trust this device";
  case KITH_REFUSE_REVOKED:
    return "this device has been revoked";
  case KITH_REFUSE_INVITE_USED:
    return "this invite code has already been used";
  case KITH_REFUSE_INVITE_EXPIRED:
    return "this invite code has expired";
  case KITH_REFUSE_INVITE_UNKNOWN:
    return "the inviter does not know this invite code";
  case KITH_REFUSE_BUSY:
    return "the peer is busy; try again later";
  case KITH_REFUSE_VERSION:
    return "the peer speaks an incompatible kith version";
  case KITH_REFUSE_PROTOCOL:
    return "the peer saw a protocol error";
  }
  return "the peer refused for a reason this kith does not know";
}

void kith_refuse_set_text(struct kith_msg *m, const char *s)
{
  size_t n = strlen(s);
  if (n > KITH_REFUSE_TEXT_MAX) {
    n = KITH_REFUSE_TEXT_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
      n--; /* s[n] continues a character: cut before that character */
  }
  memcpy(m->u.refuse.text, s, n);
  m->u.refuse.text[n] = 0;
}
