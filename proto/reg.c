#include "proto/reg.h"

#include <stdlib.h>
#include <string.h>

#include "proto/mp.h"

bool kith_utf8_valid(const char *s, size_t n)
{
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    unsigned c = p[i];
    size_t k;
    uint32_t cp;
    if (c == 0)
      return false;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf)
      k = 1, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
      k = 2, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
      k = 3, cp = c & 0x07;
    else
      return false;
    if (n - i <= k)
      return false;
    for (size_t j = 1; j <= k; j++) {
      if ((p[i + j] & 0xc0) != 0x80)
        return false;
      cp = cp << 6 | (p[i + j] & 0x3f);
    }
    if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += k + 1;
  }
  return true;
}

void kith_value_free(struct kith_value *v)
{
  if (!v)
    return;
  for (int i = 0; i < v->n; i++)
    free(v->p[i]);
  free(v);
}

struct kith_value *kith_value_new(int n, const char *const *parts)
{
  if (n < 1 || n > KITH_VALUE_MAX_PARTS)
    return NULL;
  struct kith_value *v = calloc(1, sizeof *v);
  if (!v)
    return NULL;
  v->n = n;
  for (int i = 0; i < n; i++) {
    if (parts[i] && !(v->p[i] = strdup(parts[i]))) {
      kith_value_free(v);
      return NULL;
    }
  }
  return v;
}

struct kith_value *kith_value_dup(const struct kith_value *v)
{
  return v ? kith_value_new(v->n, (const char *const *)v->p) : NULL;
}

bool kith_value_equal(const struct kith_value *a, const struct kith_value *b)
{
  if (!a || !b)
    return a == b;
  if (a->n != b->n)
    return false;
  for (int i = 0; i < a->n; i++) {
    if (!a->p[i] || !b->p[i]) {
      if (a->p[i] != b->p[i])
        return false;
    } else if (strcmp(a->p[i], b->p[i]) != 0)
      return false;
  }
  return true;
}

/* A total order on values, for the one case where two different values carry the
 * same stamp (only a forged or buggy peer can cause it): so merge stays a function. */
static int value_cmp(const struct kith_value *a, const struct kith_value *b)
{
  if (!a || !b)
    return (a != NULL) - (b != NULL);
  if (a->n != b->n)
    return a->n < b->n ? -1 : 1;
  for (int i = 0; i < a->n; i++) {
    if (!a->p[i] || !b->p[i]) {
      if (a->p[i] != b->p[i])
        return a->p[i] ? 1 : -1;
      continue;
    }
    int c = strcmp(a->p[i], b->p[i]);
    if (c)
      return c < 0 ? -1 : 1;
  }
  return 0;
}

void kith_reg_clear(struct kith_reg *r)
{
  if (!r)
    return;
  kith_value_free(r->val);
  r->val = NULL;
}

int kith_reg_copy(struct kith_reg *dst, const struct kith_reg *src)
{
  *dst = *src;
  dst->val = NULL;
  if (src->val && !(dst->val = kith_value_dup(src->val)))
    return KITH_ENOMEM;
  return 0;
}

bool kith_reg_live(const struct kith_reg *r)
{
  if (r->has_elem)
    return kith_stamp_cmp(&r->stamp, &r->rem) > 0 && r->val != NULL;
  return r->val != NULL;
}

/* Does (sa, va) beat (sb, vb) as the winning write of a register? */
static bool wins(const struct kith_stamp *sa, const struct kith_value *va,
                 const struct kith_stamp *sb, const struct kith_value *vb)
{
  int c = kith_stamp_cmp(sa, sb);
  return c > 0 || (c == 0 && value_cmp(va, vb) > 0);
}

int kith_reg_merge(struct kith_reg *cur, const struct kith_reg *in, bool *changed)
{
  struct kith_stamp stamp = cur->stamp, rem = cur->rem;
  const struct kith_value *val = cur->val;
  bool take_in;

  if (!cur->has_elem && cur->field == 0) {
    /* The kind register: a tombstone beats any kind, then the later stamp. */
    bool ct = cur->val == NULL && cur->stamp.hlc,
         it = in->val == NULL && in->stamp.hlc; /* a zero stamp is no write */
    if (ct != it)
      take_in = it;
    else
      take_in = wins(&in->stamp, in->val, &cur->stamp, cur->val);
  } else {
    take_in = wins(&in->stamp, in->val, &cur->stamp, cur->val);
  }
  if (take_in) {
    stamp = in->stamp;
    val = in->val;
  }
  if (cur->has_elem) {
    if (kith_stamp_cmp(&in->rem, &rem) > 0)
      rem = in->rem;
    if (kith_stamp_cmp(&stamp, &rem) <= 0)
      val = NULL; /* removed: the value goes, only the stamps stay */
  }

  bool moved = kith_stamp_cmp(&stamp, &cur->stamp) != 0 ||
               kith_stamp_cmp(&rem, &cur->rem) != 0 || !kith_value_equal(val, cur->val);
  *changed = moved;
  if (!moved)
    return 0;
  struct kith_value *nv = NULL;
  if (val && val != cur->val && !(nv = kith_value_dup(val)))
    return KITH_ENOMEM;
  if (val == cur->val)
    nv = cur->val, cur->val = NULL;
  kith_value_free(cur->val);
  cur->val = nv;
  cur->stamp = stamp;
  cur->rem = rem;
  return 0;
}

/* ---- encoding ---------------------------------------------------------- */

static int pack_stamp(msgpack_packer *pk, const struct kith_stamp *s, bool nil_if_zero)
{
  int e = msgpack_pack_uint64(pk, s->hlc);
  if (nil_if_zero && s->hlc == 0)
    return e | msgpack_pack_nil(pk);
  e |= msgpack_pack_bin(pk, KITH_DEVICE_ID_LEN);
  return e | msgpack_pack_bin_body(pk, s->dev, KITH_DEVICE_ID_LEN);
}

static int pack_value(msgpack_packer *pk, const struct kith_value *v)
{
  if (!v)
    return msgpack_pack_nil(pk);
  int e = msgpack_pack_array(pk, (size_t)v->n);
  for (int i = 0; i < v->n; i++) {
    if (!v->p[i]) {
      e |= msgpack_pack_nil(pk);
      continue;
    }
    size_t n = strlen(v->p[i]);
    e |= msgpack_pack_str(pk, n);
    e |= msgpack_pack_str_body(pk, v->p[i], n);
  }
  return e;
}

static int finish(msgpack_sbuffer *sb, int e, uint8_t **out, size_t *len)
{
  if (e) {
    msgpack_sbuffer_destroy(sb);
    return KITH_ENOMEM;
  }
  kith_mp_take(sb, out, len);
  return 0;
}

static int pack_stored(msgpack_packer *pk, const struct kith_reg *r)
{
  int e = msgpack_pack_array(pk, 7);
  e |= msgpack_pack_uint64(pk, r->seq);
  e |= msgpack_pack_uint32(pk, r->space);
  e |= pack_stamp(pk, &r->stamp, false);
  e |= pack_stamp(pk, &r->rem, true);
  return e | pack_value(pk, r->val);
}

int kith_reg_encode_stored(const struct kith_reg *r, uint8_t **out, size_t *len)
{
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  return finish(&sb, pack_stored(&pk, r), out, len);
}

int kith_rec_encode(const struct kith_reg *regs, size_t n, uint8_t **out, size_t *len)
{
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  int e = msgpack_pack_array(&pk, n);
  for (size_t i = 0; i < n; i++) {
    const struct kith_reg *r = &regs[i];
    e |= msgpack_pack_array(&pk, 3);
    e |= msgpack_pack_uint8(&pk, r->field);
    if (r->has_elem) {
      e |= msgpack_pack_bin(&pk, KITH_ID_LEN);
      e |= msgpack_pack_bin_body(&pk, r->elem, KITH_ID_LEN);
    } else {
      e |= msgpack_pack_nil(&pk);
    }
    e |= pack_stored(&pk, r);
  }
  return finish(&sb, e, out, len);
}

int kith_reg_encode_canonical(const struct kith_reg *r, uint8_t **out, size_t *len)
{
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  int e = msgpack_pack_array(&pk, 8);
  e |= msgpack_pack_bin(&pk, KITH_ID_LEN);
  e |= msgpack_pack_bin_body(&pk, r->ent, KITH_ID_LEN);
  e |= msgpack_pack_uint8(&pk, r->field);
  if (r->has_elem) {
    e |= msgpack_pack_bin(&pk, KITH_ID_LEN);
    e |= msgpack_pack_bin_body(&pk, r->elem, KITH_ID_LEN);
  } else {
    e |= msgpack_pack_nil(&pk);
  }
  e |= pack_stamp(&pk, &r->stamp, false);
  e |= pack_stamp(&pk, &r->rem, true);
  e |= pack_value(&pk, r->val);
  return finish(&sb, e, out, len);
}

/* ---- decoding ---------------------------------------------------------- */

static int get_uint(const msgpack_object *o, uint64_t max, uint64_t *out)
{
  if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > max)
    return KITH_EBADMSG;
  *out = o->via.u64;
  return 0;
}

static int get_bin16(const msgpack_object *o, uint8_t out[16])
{
  if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != 16)
    return KITH_EBADMSG;
  memcpy(out, o->via.bin.ptr, 16);
  return 0;
}

static int get_stamp(const msgpack_object *hlc, const msgpack_object *dev,
                     bool may_be_nil, struct kith_stamp *s)
{
  memset(s, 0, sizeof *s);
  if (get_uint(hlc, UINT64_MAX, &s->hlc))
    return KITH_EBADMSG;
  if (dev->type == MSGPACK_OBJECT_NIL)
    return may_be_nil && s->hlc == 0 ? 0 : KITH_EBADMSG;
  if (s->hlc == 0 && may_be_nil)
    return KITH_EBADMSG; /* one encoding per state: a zero stamp has no device */
  return get_bin16(dev, s->dev);
}

static int get_value(const msgpack_object *o, struct kith_value **out)
{
  *out = NULL;
  if (o->type == MSGPACK_OBJECT_NIL)
    return 0;
  if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 1 ||
      o->via.array.size > KITH_VALUE_MAX_PARTS)
    return KITH_EBADMSG;
  struct kith_value *v = calloc(1, sizeof *v);
  if (!v)
    return KITH_ENOMEM;
  size_t total = 0;
  v->n = (int)o->via.array.size;
  for (int i = 0; i < v->n; i++) {
    const msgpack_object *p = &o->via.array.ptr[i];
    if (p->type == MSGPACK_OBJECT_NIL)
      continue;
    if (p->type != MSGPACK_OBJECT_STR)
      goto bad;
    total += p->via.str.size;
    if (total > KITH_VALUE_MAX_BYTES ||
        !kith_utf8_valid(p->via.str.ptr, p->via.str.size))
      goto bad;
    if (!(v->p[i] = malloc(p->via.str.size + 1))) {
      kith_value_free(v);
      return KITH_ENOMEM;
    }
    memcpy(v->p[i], p->via.str.ptr, p->via.str.size);
    v->p[i][p->via.str.size] = '\0';
  }
  *out = v;
  return 0;
bad:
  kith_value_free(v);
  return KITH_EBADMSG;
}

static int get_stored(const msgpack_object *o, struct kith_reg *r)
{
  uint64_t x;
  r->val = NULL;
  if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 7)
    return KITH_EBADMSG;
  const msgpack_object *a = o->via.array.ptr;
  if (get_uint(&a[0], UINT64_MAX, &r->seq) || get_uint(&a[1], UINT32_MAX, &x))
    return KITH_EBADMSG;
  r->space = (uint32_t)x;
  if (get_stamp(&a[2], &a[3], false, &r->stamp) ||
      get_stamp(&a[4], &a[5], true, &r->rem))
    return KITH_EBADMSG;
  return get_value(&a[6], &r->val);
}

int kith_reg_decode_stored(const uint8_t *buf, size_t len, struct kith_reg *r)
{
  msgpack_unpacked u;
  int rc = kith_mp_unpack(buf, len, 4, &u);
  r->val = NULL;
  if (rc == 0)
    rc = get_stored(&u.data, r);
  msgpack_unpacked_destroy(&u);
  return rc;
}

int kith_reg_addr_cmp(const struct kith_reg *a, const struct kith_reg *b)
{
  if (a->field != b->field)
    return a->field < b->field ? -1 : 1;
  if (a->has_elem != b->has_elem)
    return a->has_elem ? 1 : -1;
  return a->has_elem ? memcmp(a->elem, b->elem, KITH_ID_LEN) : 0;
}

int kith_rec_decode(const uint8_t *buf, size_t len, const uint8_t ent[KITH_ID_LEN],
                    struct kith_reg **out, size_t *n)
{
  msgpack_unpacked u;
  struct kith_reg *regs = NULL;
  size_t k = 0, cnt = 0;
  int rc = kith_mp_unpack(buf, len, 5, &u);
  *out = NULL;
  *n = 0;
  if (rc)
    goto out;
  rc = KITH_EBADMSG;
  if (u.data.type != MSGPACK_OBJECT_ARRAY || u.data.via.array.size > KITH_REC_MAX_REGS)
    goto out;
  cnt = u.data.via.array.size;
  if (cnt && !(regs = calloc(cnt, sizeof *regs))) {
    rc = KITH_ENOMEM;
    goto out;
  }
  for (; k < cnt; k++) {
    const msgpack_object *e = &u.data.via.array.ptr[k];
    struct kith_reg *r = &regs[k];
    uint64_t f;
    if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 3 ||
        get_uint(&e->via.array.ptr[0], 255, &f))
      goto out;
    memcpy(r->ent, ent, KITH_ID_LEN);
    r->field = (uint8_t)f;
    if (e->via.array.ptr[1].type != MSGPACK_OBJECT_NIL) {
      if (get_bin16(&e->via.array.ptr[1], r->elem))
        goto out;
      r->has_elem = true;
    }
    int g = get_stored(&e->via.array.ptr[2], r);
    if (g) {
      rc = g;
      goto out;
    }
    if ((!r->has_elem && r->rem.hlc) || (k && kith_reg_addr_cmp(&regs[k - 1], r) >= 0))
      goto out; /* one encoding per state: sorted, no duplicates */
  }
  *out = regs;
  *n = cnt;
  regs = NULL;
  rc = 0;
out:
  for (size_t i = 0; regs && i < cnt; i++)
    kith_reg_clear(&regs[i]);
  free(regs);
  msgpack_unpacked_destroy(&u);
  return rc;
}

int kith_reg_decode_canonical(const uint8_t *buf, size_t len, struct kith_reg *r)
{
  msgpack_unpacked u;
  uint64_t x;
  int rc = kith_mp_unpack(buf, len, 4, &u);
  memset(r, 0, sizeof *r);
  if (rc)
    goto out;
  rc = KITH_EBADMSG;
  const msgpack_object *o = &u.data;
  if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 8)
    goto out;
  const msgpack_object *a = o->via.array.ptr;
  if (get_bin16(&a[0], r->ent) || get_uint(&a[1], 255, &x))
    goto out;
  r->field = (uint8_t)x;
  if (a[2].type != MSGPACK_OBJECT_NIL) {
    if (get_bin16(&a[2], r->elem))
      goto out;
    r->has_elem = true;
  }
  if (get_stamp(&a[3], &a[4], false, &r->stamp) ||
      get_stamp(&a[5], &a[6], true, &r->rem))
    goto out;
  if (!r->has_elem && r->rem.hlc)
    goto out;
  rc = get_value(&a[7], &r->val);
out:
  msgpack_unpacked_destroy(&u);
  return rc;
}

/* ---- records on the wire ------------------------------------------------------- */

int kith_rec_wire_encode(const struct kith_reg *regs, size_t n, uint8_t **out,
                         size_t *len)
{
  msgpack_sbuffer sb;
  msgpack_packer pk;
  if (n == 0 || n > KITH_REC_MAX_REGS)
    return KITH_EINVAL;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  int e = msgpack_pack_array(&pk, 2);
  e |= msgpack_pack_bin(&pk, KITH_ID_LEN);
  e |= msgpack_pack_bin_body(&pk, regs[0].ent, KITH_ID_LEN);
  e |= msgpack_pack_array(&pk, n);
  for (size_t i = 0; i < n; i++) {
    const struct kith_reg *r = &regs[i];
    e |= msgpack_pack_array(&pk, 7);
    e |= msgpack_pack_uint8(&pk, r->field);
    if (r->has_elem) {
      e |= msgpack_pack_bin(&pk, KITH_ID_LEN);
      e |= msgpack_pack_bin_body(&pk, r->elem, KITH_ID_LEN);
    } else {
      e |= msgpack_pack_nil(&pk);
    }
    e |= msgpack_pack_uint64(&pk, r->stamp.hlc);
    if (i && memcmp(r->stamp.dev, regs[i - 1].stamp.dev, KITH_DEVICE_ID_LEN) == 0) {
      e |= msgpack_pack_nil(&pk); /* the same device as the register before */
    } else {
      e |= msgpack_pack_bin(&pk, KITH_DEVICE_ID_LEN);
      e |= msgpack_pack_bin_body(&pk, r->stamp.dev, KITH_DEVICE_ID_LEN);
    }
    e |= pack_stamp(&pk, &r->rem, true);
    e |= pack_value(&pk, r->val);
  }
  return finish(&sb, e, out, len);
}

int kith_rec_wire_decode(const uint8_t *buf, size_t len, struct kith_reg **out,
                         size_t *n)
{
  msgpack_unpacked u;
  struct kith_reg *regs = NULL;
  size_t cnt = 0;
  uint8_t ent[KITH_ID_LEN];
  int rc = kith_mp_unpack(buf, len, 5, &u);
  *out = NULL;
  *n = 0;
  if (rc)
    goto out;
  rc = KITH_EBADMSG;
  if (u.data.type != MSGPACK_OBJECT_ARRAY || u.data.via.array.size != 2 ||
      get_bin16(&u.data.via.array.ptr[0], ent))
    goto out;
  const msgpack_object *list = &u.data.via.array.ptr[1];
  if (list->type != MSGPACK_OBJECT_ARRAY || list->via.array.size == 0 ||
      list->via.array.size > KITH_REC_MAX_REGS)
    goto out;
  cnt = list->via.array.size;
  if (!(regs = calloc(cnt, sizeof *regs))) {
    rc = KITH_ENOMEM;
    goto out;
  }
  for (size_t k = 0; k < cnt; k++) {
    const msgpack_object *e = &list->via.array.ptr[k];
    struct kith_reg *r = &regs[k];
    uint64_t f;
    if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 7)
      goto out;
    const msgpack_object *a = e->via.array.ptr;
    if (get_uint(&a[0], 255, &f))
      goto out;
    memcpy(r->ent, ent, KITH_ID_LEN);
    r->field = (uint8_t)f;
    if (a[1].type != MSGPACK_OBJECT_NIL) {
      if (get_bin16(&a[1], r->elem))
        goto out;
      r->has_elem = true;
    }
    if (get_uint(&a[2], UINT64_MAX, &r->stamp.hlc) || r->stamp.hlc == 0)
      goto out;
    if (a[3].type == MSGPACK_OBJECT_NIL) { /* the device of the register before */
      if (k == 0)
        goto out;
      memcpy(r->stamp.dev, regs[k - 1].stamp.dev, KITH_DEVICE_ID_LEN);
    } else if (get_bin16(&a[3], r->stamp.dev) ||
               (k && memcmp(r->stamp.dev, regs[k - 1].stamp.dev, 16) == 0)) {
      goto out; /* one encoding per state: a repeated device is written nil */
    }
    if (get_stamp(&a[4], &a[5], true, &r->rem))
      goto out;
    int g = get_value(&a[6], &r->val);
    if (g) {
      rc = g;
      goto out;
    }
    if ((!r->has_elem && r->rem.hlc) || (k && kith_reg_addr_cmp(&regs[k - 1], r) >= 0))
      goto out; /* sorted, no duplicates */
  }
  *out = regs;
  *n = cnt;
  regs = NULL;
  rc = 0;
out:
  for (size_t i = 0; regs && i < cnt; i++)
    kith_reg_clear(&regs[i]);
  free(regs);
  msgpack_unpacked_destroy(&u);
  return rc;
}
