#include "core/mycard.h"

#include <sodium.h>
#include <string.h>

#include "core/json.h"

void kith_mycard_id(uint8_t id[static KITH_ID_LEN])
{
  crypto_generichash(id, KITH_ID_LEN, NULL, 0, (const uint8_t *)"kith my card v1", 15);
}

int kith_mycard_ensure(kith_txn *txn)
{
  uint8_t id[KITH_ID_LEN];
  struct kith_reg k = {0};
  kith_mycard_id(id);
  int rc = kith_txn_get(txn, id, KITH_F_KIND, NULL, &k);
  bool dead = rc == 0 && !k.val;
  kith_reg_clear(&k);
  if (rc == KITH_ENOTFOUND)
    return kith_record_create(txn, KITH_KIND_MYCARD, true, id);
  return rc ? rc : dead ? KITH_EDELETED : 0;
}

int kith_mycard_set_text(kith_txn *txn, const char *field, const char *value)
{
  uint8_t id[KITH_ID_LEN];
  int rc = kith_mycard_ensure(txn);
  kith_mycard_id(id);
  return rc ? rc : kith_record_set_text(txn, KITH_KIND_MYCARD, id, field, value);
}

int kith_mycard_json(kith_txn *txn, json_t **out)
{
  struct kith_record *rec = NULL, none = {.kind = KITH_KIND_MYCARD};
  struct kith_identity me;
  json_t *o = NULL;
  int rc = kith_txn_identity(txn, &me);
  if (rc)
    return rc;
  kith_mycard_id(none.id);
  rc = kith_record_load(txn, none.id, &rec);
  if (rc && rc != KITH_ENOTFOUND)
    return rc;
  bool set = rc == 0 && !rec->deleted && rec->kind == KITH_KIND_MYCARD;
  o = kith_json_record(txn, set ? rec : &none, 0);
  kith_record_free(rec);
  if (!o)
    return KITH_ENOMEM;
  if (json_is_null(json_object_get(o, "name")) && me.name[0])
    json_object_set_new(o, "name", json_string(me.name));
  if (!set) {
    json_object_set_new(o, "created", json_null());
    json_object_set_new(o, "updated", json_null());
  }
  *out = o;
  return 0;
}

/* Copies what the card holds for field f (or, x non-NULL, for the free field x)
 * from card into out. */
static int pick(const json_t *card, const struct kith_field *f, const char *x,
                json_t *out)
{
  const json_t *v = json_object_get(card, f->json);
  if (!v || json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0))
    return 0;
  if (x) {
    const json_t *one = json_object_get(v, x);
    json_t *xo = json_object_get(out, "x");
    if (!one)
      return 0;
    if (!xo && json_object_set_new(out, "x", xo = json_object()) != 0)
      return KITH_ENOMEM;
    return json_object_set(xo, x, (json_t *)one) ? KITH_ENOMEM : 0;
  }
  if (json_object_set(out, f->json, (json_t *)v) != 0)
    return KITH_ENOMEM;
  const json_t *k = json_object_get(json_object_get(card, "kinds"), f->json);
  json_t *ko = json_object_get(out, "kinds");
  if (!k)
    return 0;
  if (!ko && json_object_set_new(out, "kinds", ko = json_object()) != 0)
    return KITH_ENOMEM;
  return json_object_set(ko, f->json, (json_t *)k) ? KITH_ENOMEM : 0;
}

int kith_mycard_subset(kith_txn *txn, const char *fields, json_t **out,
                       struct kith_mycard_bad *bad)
{
  json_t *card = NULL, *o = NULL;
  char name[128];
  size_t picked = 0;
  int rc = kith_mycard_json(txn, &card);
  if (rc)
    return rc;
  if (!(o = json_object()) ||
      json_object_set(o, "name", json_object_get(card, "name")) != 0) {
    rc = KITH_ENOMEM;
    goto out;
  }
  for (const char *p = fields; rc == 0 && *p;) {
    while (*p == ' ' || *p == ',')
      p++;
    size_t n = strcspn(p, ", ");
    if (n == 0)
      break;
    const struct kith_field *f = NULL;
    const char *x = NULL;
    if (n < sizeof name) {
      memcpy(name, p, n);
      name[n] = 0;
      if (strncmp(name, "x-", 2) == 0 && name[2])
        f = kith_field_by_name(KITH_KIND_MYCARD, "x"), x = name + 2;
      else
        f = kith_field_by_name(KITH_KIND_MYCARD, name);
    }
    if (!f) {
      if (bad)
        bad->at = (size_t)(p - fields), bad->len = n;
      rc = KITH_EUNKFIELD;
      break;
    }
    rc = pick(card, f, x, o);
    picked++;
    p += n;
  }
  if (rc == 0 && picked == 0)
    rc = KITH_EINVAL;
out:
  json_decref(card);
  if (rc)
    json_decref(o);
  else
    *out = o;
  return rc;
}
