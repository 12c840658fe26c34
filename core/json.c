#include "core/json.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/fold.h"
#include "proto/hex.h"

static const char *const addr_keys[KITH_ADDR_PARTS] = {
    "kind", "po_box", "ext", "street", "locality", "region", "code", "country"};

static const char *const kind_words[] = {"work",  "home", "cell",  "mobile",   "fax",
                                         "pager", "main", "other", "personal", "school",
                                         "voice", "text", "video", "iphone",   NULL};

/* ---- reading records ----------------------------------------------------- */

struct sortable {
  const struct kith_reg *r;
  char *key; /* folded text for tags and x- names; NULL: order by stamp */
};

static int by_display(const void *a, const void *b)
{
  const struct sortable *x = a, *y = b;
  if (x->r->field != y->r->field)
    return x->r->field < y->r->field ? -1 : 1;
  if (x->key && y->key) {
    int c = strcmp(x->key, y->key);
    if (c)
      return c;
  }
  int c = kith_stamp_cmp(&x->r->stamp, &y->r->stamp);
  return c ? c : kith_reg_addr_cmp(x->r, y->r);
}

int kith_record_live(const struct kith_record *rec, const struct kith_reg ***out,
                     size_t *n)
{
  struct sortable *v = calloc(rec->n ? rec->n : 1, sizeof *v);
  size_t k = 0;
  int rc = 0;
  if (!v)
    return KITH_ENOMEM;
  for (size_t i = 0; i < rec->n && rc == 0; i++) {
    const struct kith_reg *r = &rec->regs[i];
    if (!kith_reg_live(r) || (r->field == KITH_F_KIND && !r->has_elem))
      continue;
    v[k].r = r;
    if (r->field == KITH_F_TAGS || r->field == KITH_F_X)
      rc = kith_fold(r->val->p[0], &v[k].key);
    k++;
  }
  const struct kith_reg **o = rc ? NULL : calloc(k ? k : 1, sizeof *o);
  if (!rc && !o)
    rc = KITH_ENOMEM;
  if (!rc) {
    qsort(v, k, sizeof *v, by_display);
    for (size_t i = 0; i < k; i++)
      o[i] = v[i].r;
    *out = o;
    *n = k;
  }
  for (size_t i = 0; i < k; i++)
    free(v[i].key);
  free(v);
  return rc;
}

const char *kith_record_text(const struct kith_record *rec, uint8_t field)
{
  for (size_t i = 0; i < rec->n; i++)
    if (rec->regs[i].field == field && !rec->regs[i].has_elem && rec->regs[i].val)
      return rec->regs[i].val->p[0];
  return NULL;
}

static json_t *iso(const struct kith_stamp *s)
{
  char buf[25];
  kith_hlc_iso(s->hlc, buf);
  return json_string(buf);
}

static json_t *stamp_json(const struct kith_stamp *s)
{
  char buf[50];
  kith_stamp_format(s, buf);
  return json_string(buf);
}

/* The text a set element is known by in JSON ("stamps", "kinds"). */
static const char *elem_label(const struct kith_reg *r, char buf[512])
{
  if (r->field != KITH_F_ADDRESSES)
    return r->val->p[0];
  size_t at = 0;
  buf[0] = 0;
  for (int i = 1; i < r->val->n; i++) {
    int w = snprintf(buf + at, 512 - at, "%s%s", i > 1 ? "\n" : "",
                     r->val->p[i] ? r->val->p[i] : "");
    if (w < 0 || (size_t)w >= 512 - at)
      break;
    at += (size_t)w;
  }
  return buf;
}

/* Notes oldest first: their creation stamps order them the same on every replica
 * (an exported file's notes, imported in one go, keep the file's order). */
static int by_creation(const void *a, const void *b)
{
  const struct kith_record *x = *(struct kith_record *const *)a;
  const struct kith_record *y = *(struct kith_record *const *)b;
  return kith_stamp_cmp(&x->created, &y->created);
}

json_t *kith_json_record(kith_txn *txn, const struct kith_record *rec, unsigned flags)
{
  char hex[2 * KITH_ID_LEN + 1], lbl[512];
  json_t *o = json_object(), *stamps = json_object(), *kinds = json_object();
  if (!o || !stamps || !kinds)
    goto fail;
  kith_hex_encode(rec->id, KITH_ID_LEN, hex);
  json_object_set_new(o, "id", json_string(hex));
  if (rec->kind == KITH_KIND_CONTACT || rec->kind == KITH_KIND_MYCARD) {
    json_object_set_new(o, "name", json_null());
    json_object_set_new(o, "emails", json_array());
    json_object_set_new(o, "phones", json_array());
    json_object_set_new(o, "org", json_null());
    json_object_set_new(o, "title", json_null());
  }
  if (rec->kind == KITH_KIND_CONTACT)
    json_object_set_new(o, "tags", json_array());
  json_object_set_new(stamps, "kind", stamp_json(&rec->created));

  const struct kith_reg **live = NULL;
  size_t nlive = 0;
  if (kith_record_live(rec, &live, &nlive) != 0)
    goto fail;
  for (size_t i = 0; i < nlive; i++) {
    const struct kith_reg *r = live[i];
    const struct kith_field *f = kith_field_by_id(r->field);
    if (!f)
      continue;
    const struct kith_value *v = r->val;
    switch (f->shape) {
    case KITH_SHAPE_TEXT:
    case KITH_SHAPE_DATE:
    case KITH_SHAPE_REF:
      json_object_set_new(o, f->json, json_string(v->p[0]));
      json_object_set_new(stamps, f->json, stamp_json(&r->stamp));
      break;
    case KITH_SHAPE_TYPED:
    case KITH_SHAPE_TAGS: {
      json_t *a = json_object_get(o, f->json);
      if (!a) {
        a = json_array();
        json_object_set_new(o, f->json, a);
      }
      json_array_append_new(a, json_string(v->p[0]));
      if (f->shape == KITH_SHAPE_TYPED && v->p[1]) {
        json_t *k = json_object_get(kinds, f->json);
        if (!k) {
          k = json_object();
          json_object_set_new(kinds, f->json, k);
        }
        json_object_set_new(k, v->p[0], json_string(v->p[1]));
      }
      goto elem_stamp;
    }
    case KITH_SHAPE_ADDR: {
      json_t *a = json_object_get(o, f->json), *ad = json_object();
      if (!a) {
        a = json_array();
        json_object_set_new(o, f->json, a);
      }
      for (int p = 0; p < KITH_ADDR_PARTS && p < v->n; p++)
        if (v->p[p])
          json_object_set_new(ad, addr_keys[p], json_string(v->p[p]));
      json_array_append_new(a, ad);
      goto elem_stamp;
    }
    case KITH_SHAPE_XMAP: {
      json_t *x = json_object_get(o, "x");
      if (!x) {
        x = json_object();
        json_object_set_new(o, "x", x);
      }
      json_object_set_new(x, v->p[0], json_string(v->p[1]));
      goto elem_stamp;
    }
    default:
      break;
    }
    continue;
  elem_stamp : {
    json_t *m = json_object_get(stamps, f->json);
    if (!m) {
      m = json_object();
      json_object_set_new(stamps, f->json, m);
    }
    json_object_set_new(m, elem_label(r, lbl), stamp_json(&r->stamp));
  }
  }
  free(live);
  if (json_object_size(kinds))
    json_object_set(o, "kinds", kinds);
  json_object_set_new(o, "created", iso(&rec->created));
  json_object_set_new(o, "updated", iso(&rec->updated));
  if ((flags & KITH_JSON_NOTES) && rec->kind == KITH_KIND_CONTACT) {
    struct kith_record_list notes = {0};
    json_t *arr = json_array();
    bool ok = arr && kith_notes_load(txn, rec->id, &notes) == 0;
    if (ok && notes.n > 1)
      qsort(notes.v, notes.n, sizeof *notes.v, by_creation);
    for (size_t i = 0; ok && i < notes.n; i++)
      ok = json_array_append_new(arr, kith_json_record(txn, notes.v[i], flags)) == 0;
    kith_record_list_clear(&notes);
    if (!ok) {
      json_decref(arr);
      goto fail;
    }
    json_object_set_new(o, "notes", arr);
  }
  if (flags & KITH_JSON_STAMPS)
    json_object_set(o, "stamps", stamps);
  json_decref(stamps);
  json_decref(kinds);
  return o;
fail:
  json_decref(o);
  json_decref(stamps);
  json_decref(kinds);
  return NULL;
}

/* ---- text input ---------------------------------------------------------- */

struct kith_value *kith_typed_value(const char *text)
{
  const char *colon = strchr(text, ':');
  const char *parts[2] = {text, NULL};
  char kind[16];
  if (colon && (size_t)(colon - text) < sizeof kind) {
    memcpy(kind, text, (size_t)(colon - text));
    kind[colon - text] = 0;
    for (int i = 0; kind_words[i]; i++) {
      if (strcasecmp(kind, kind_words[i]) == 0) {
        for (char *p = kind; *p; p++)
          *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        parts[0] = colon + 1;
        parts[1] = kind;
        break;
      }
    }
  }
  while (*parts[0] == ' ')
    parts[0]++;
  return kith_value_new(2, parts);
}

static struct kith_value *addr_from_text(const char *text)
{
  /* One line: "street, locality, region, code, country"; or a kind first. */
  const char *parts[KITH_ADDR_PARTS] = {0};
  char *copy = strdup(text), *save = NULL;
  if (!copy)
    return NULL;
  struct kith_value *v = NULL;
  const char *rest = copy;
  char *colon = strchr(copy, ':');
  if (colon) {
    *colon = 0;
    for (int i = 0; kind_words[i]; i++)
      if (strcasecmp(copy, kind_words[i]) == 0) {
        parts[0] = kind_words[i];
        rest = colon + 1;
      }
    if (!parts[0])
      *colon = ':';
  }
  int slot = 3;
  for (char *tok = strtok_r((char *)rest, ",", &save); tok && slot < KITH_ADDR_PARTS;
       tok = strtok_r(NULL, ",", &save)) {
    while (*tok == ' ')
      tok++;
    parts[slot++] = tok;
  }
  v = kith_value_new(KITH_ADDR_PARTS, parts);
  free(copy);
  return v;
}

int kith_contact_set_text(kith_txn *txn, const uint8_t id[static KITH_ID_LEN],
                          const char *field, const char *value)
{
  return kith_record_set_text(txn, KITH_KIND_CONTACT, id, field, value);
}

int kith_record_set_text(kith_txn *txn, int kind, const uint8_t id[static KITH_ID_LEN],
                         const char *field, const char *value)
{
  int rc;
  if (!kith_utf8_valid(value, strlen(value)) || !kith_utf8_valid(field, strlen(field)))
    return KITH_EBADUTF8;
  if (strncmp(field, "x-", 2) == 0 && field[2] && kith_field_by_name(kind, "x")) {
    const struct kith_field *xf = kith_field_by_id(KITH_F_X);
    const char *parts[2] = {field + 2, value};
    struct kith_value *v = kith_value_new(2, parts);
    if (!v)
      return KITH_ENOMEM;
    if (*value)
      rc = kith_set_add(txn, id, xf, v);
    else {
      rc = kith_set_remove(txn, id, xf, v);
      if (rc == KITH_ENOTFOUND)
        rc = 0;
    }
    kith_value_free(v);
    return rc;
  }
  const struct kith_field *f = kith_field_by_name(kind, field);
  if (!f || f->shape == KITH_SHAPE_XMAP)
    return KITH_EUNKFIELD;
  if (f->shape == KITH_SHAPE_TEXT || f->shape == KITH_SHAPE_DATE) {
    if (!*value && f->id == KITH_F_NAME && kind == KITH_KIND_CONTACT)
      return KITH_EBADMSG; /* a contact always has a name */
    if (!*value)
      return kith_field_set(txn, id, f, NULL);
    struct kith_value *v = kith_value_new(1, &value);
    if (!v)
      return KITH_ENOMEM;
    rc = kith_field_set(txn, id, f, v);
    kith_value_free(v);
    return rc;
  }
  struct kith_value *v = NULL;
  if (*value) {
    if (f->shape == KITH_SHAPE_TAGS)
      v = kith_value_new(1, &value);
    else if (f->shape == KITH_SHAPE_ADDR)
      v = addr_from_text(value);
    else
      v = kith_typed_value(value);
    if (!v)
      return KITH_ENOMEM;
  }
  rc = kith_set_replace(txn, id, f, v ? &v : NULL, v ? 1 : 0);
  kith_value_free(v);
  return rc;
}

/* ---- import -------------------------------------------------------------- */

struct imp {
  kith_txn *txn;
  char *err;
  size_t errlen;
  const char *where;
  size_t index;
  struct kith_import_stats *stats;
};

static int fail(struct imp *im, int rc, const char *fmt, ...)
{
  va_list ap;
  int n = snprintf(im->err, im->errlen, "%s[%zu]: ", im->where, im->index);
  va_start(ap, fmt);
  if (n >= 0 && (size_t)n < im->errlen)
    vsnprintf(im->err + n, im->errlen - (size_t)n, fmt, ap);
  va_end(ap);
  return rc;
}

/* Puts one register: with the given stamp if the document has one, else with a
 * fresh local stamp. */
static int put(struct imp *im, const uint8_t id[KITH_ID_LEN], uint8_t field,
               const uint8_t *elem, const struct kith_value *v, const json_t *stamp)
{
  struct kith_reg r = {0};
  int rc;
  memcpy(r.ent, id, KITH_ID_LEN);
  r.field = field;
  if (elem) {
    r.has_elem = true;
    memcpy(r.elem, elem, KITH_ID_LEN);
  }
  r.val = (struct kith_value *)v;
  if (stamp) {
    if (!json_is_string(stamp) ||
        kith_stamp_parse(json_string_value(stamp), &r.stamp) != 0 || !r.stamp.hlc)
      return fail(im, KITH_EBADMSG, "bad stamp");
  } else if ((rc = kith_txn_stamp(im->txn, &r.stamp)) != 0) {
    return rc;
  }
  rc = kith_txn_put(im->txn, &r, NULL);
  if (rc == KITH_EFUTURE)
    return fail(im, rc, "stamp is too far in the future");
  return rc;
}

static const json_t *stamp_of(const json_t *stamps, const char *field, const char *elem)
{
  const json_t *s = stamps ? json_object_get(stamps, field) : NULL;
  if (s && elem)
    s = json_is_object(s) ? json_object_get(s, elem) : NULL;
  else if (s && !json_is_string(s))
    s = NULL;
  return s;
}

static int put_elem(struct imp *im, const uint8_t id[KITH_ID_LEN],
                    const struct kith_field *f, struct kith_value *v,
                    const json_t *stamps)
{
  uint8_t elem[KITH_ID_LEN];
  char lbl[512];
  int rc = kith_value_check(f, v);
  if (rc)
    return fail(im, rc, "%s: %s", f->json, kith_strerror(rc));
  if ((rc = kith_elem_id(id, f, v, elem)) != 0)
    return rc;
  struct kith_reg tmp = {.field = f->id, .val = v};
  return put(im, id, f->id, elem, v, stamp_of(stamps, f->json, elem_label(&tmp, lbl)));
}

static bool known_key(const char *k)
{
  static const char *const meta[] = {"id",     "created", "updated", "notes",
                                     "stamps", "kinds",   "kind",    NULL};
  for (int i = 0; meta[i]; i++)
    if (strcmp(k, meta[i]) == 0)
      return true;
  return false;
}

static int import_fields(struct imp *im, int kind, const uint8_t id[KITH_ID_LEN],
                         const json_t *obj)
{
  const json_t *stamps = json_object_get(obj, "stamps");
  const json_t *kinds = json_object_get(obj, "kinds");
  const char *key;
  json_t *val;
  int rc;
  if (stamps && !json_is_object(stamps))
    return fail(im, KITH_EBADMSG, "\"stamps\" must be an object");
  json_object_foreach((json_t *)obj, key, val)
  {
    if (known_key(key))
      continue;
    if (kind == KITH_KIND_CONTACT && strncmp(key, "x-", 2) == 0 && key[2]) {
      if (!json_is_string(val))
        return fail(im, KITH_EBADMSG, "%s: must be a string", key);
      const char *parts[2] = {key + 2, json_string_value(val)};
      struct kith_value *v = kith_value_new(2, parts);
      if (!v)
        return KITH_ENOMEM;
      rc = put_elem(im, id, kith_field_by_id(KITH_F_X), v, NULL);
      kith_value_free(v);
      if (rc)
        return rc;
      continue;
    }
    const struct kith_field *f = kith_field_by_name(kind, key);
    if (f && f->id == KITH_F_NOTE_CONTACT)
      continue; /* a note belongs to the contact it is listed under */
    if (!f)
      return fail(im, KITH_EUNKFIELD, "unknown field \"%s\"", key);
    if (json_is_null(val))
      continue;
    switch (f->shape) {
    case KITH_SHAPE_TEXT:
    case KITH_SHAPE_DATE: {
      if (!json_is_string(val))
        return fail(im, KITH_EBADMSG, "%s: must be a string", key);
      const char *s = json_string_value(val);
      if (!*s)
        continue;
      struct kith_value *v = kith_value_new(1, &s);
      if (!v)
        return KITH_ENOMEM;
      rc = kith_value_check(f, v);
      if (rc)
        rc = fail(im, rc, "%s: %s", key,
                  f->shape == KITH_SHAPE_DATE ? "not a date (YYYY-MM-DD)"
                                              : kith_strerror(rc));
      else
        rc = put(im, id, f->id, NULL, v, stamp_of(stamps, f->json, NULL));
      kith_value_free(v);
      if (rc)
        return rc;
      break;
    }
    case KITH_SHAPE_TYPED:
    case KITH_SHAPE_TAGS:
    case KITH_SHAPE_ADDR: {
      if (!json_is_array(val))
        return fail(im, KITH_EBADMSG, "%s: must be an array", key);
      size_t i;
      json_t *e;
      const json_t *km = kinds ? json_object_get(kinds, f->json) : NULL;
      json_array_foreach(val, i, e)
      {
        struct kith_value *v = NULL;
        if (f->shape == KITH_SHAPE_ADDR) {
          const char *parts[KITH_ADDR_PARTS] = {0};
          if (!json_is_object(e))
            return fail(im, KITH_EBADMSG, "%s[%zu]: must be an object", key, i);
          const char *ak;
          json_t *av;
          json_object_foreach(e, ak, av)
          {
            int p;
            for (p = 0; p < KITH_ADDR_PARTS; p++)
              if (strcmp(ak, addr_keys[p]) == 0)
                break;
            if (p == KITH_ADDR_PARTS || !(json_is_string(av) || json_is_null(av)))
              return fail(im, KITH_EBADMSG, "%s[%zu]: bad part \"%s\"", key, i, ak);
            parts[p] = json_string_value(av);
          }
          v = kith_value_new(KITH_ADDR_PARTS, parts);
        } else {
          if (!json_is_string(e) || !*json_string_value(e))
            return fail(im, KITH_EBADMSG, "%s[%zu]: must be a non-empty string", key,
                        i);
          const char *parts[2] = {json_string_value(e), NULL};
          const json_t *k = km ? json_object_get(km, parts[0]) : NULL;
          parts[1] = json_is_string(k) ? json_string_value(k) : NULL;
          v = kith_value_new(f->shape == KITH_SHAPE_TAGS ? 1 : 2, parts);
        }
        if (!v)
          return KITH_ENOMEM;
        rc = put_elem(im, id, f, v, stamps);
        kith_value_free(v);
        if (rc)
          return rc;
      }
      break;
    }
    case KITH_SHAPE_XMAP: {
      if (!json_is_object(val))
        return fail(im, KITH_EBADMSG, "x: must be an object");
      const char *xk;
      json_t *xv;
      json_object_foreach(val, xk, xv)
      {
        if (!json_is_string(xv))
          return fail(im, KITH_EBADMSG, "x.%s: must be a string", xk);
        const char *parts[2] = {xk, json_string_value(xv)};
        struct kith_value *v = kith_value_new(2, parts);
        if (!v)
          return KITH_ENOMEM;
        rc = put_elem(im, id, f, v, stamps);
        kith_value_free(v);
        if (rc)
          return rc;
      }
      break;
    }
    default:
      return fail(im, KITH_EUNKFIELD, "unknown field \"%s\"", key);
    }
  }
  return 0;
}

/* Creates or finds the record for obj: its own id if it has one. */
static int import_record(struct imp *im, int kind, const json_t *obj,
                         const uint8_t *contact, uint8_t id[KITH_ID_LEN])
{
  const json_t *jid = json_object_get(obj, "id");
  const json_t *stamps = json_object_get(obj, "stamps");
  bool existed = false;
  int rc;
  if (!json_is_object(obj))
    return fail(im, KITH_EBADMSG, "must be an object");
  if (jid) {
    if (!json_is_string(jid) ||
        kith_hex_decode(json_string_value(jid), id, KITH_ID_LEN) != 0)
      return fail(im, KITH_EBADMSG, "\"id\" must be 32 hex digits");
    struct kith_reg k = {0};
    rc = kith_txn_get(im->txn, id, KITH_F_KIND, NULL, &k);
    existed = rc == 0 && k.val;
    bool other = existed && k.val->p[0] &&
                 kith_kind_by_name(k.val->p[0]) != kind; /* an id of another kind */
    kith_reg_clear(&k);
    if (rc && rc != KITH_ENOTFOUND)
      return rc;
    if (other)
      return fail(im, KITH_EBADMSG, "\"id\" names a record of another kind here");
  } else {
    kith_random_id(id);
  }
  if (kind == KITH_KIND_CONTACT) {
    const json_t *name = json_object_get(obj, "name");
    if (!existed && (!json_is_string(name) || !*json_string_value(name)))
      return fail(im, KITH_EBADMSG, "a contact needs a \"name\"");
  } else {
    const json_t *text = json_object_get(obj, "text");
    if (!existed && (!json_is_string(text)))
      return fail(im, KITH_EBADMSG, "a note needs a \"text\"");
  }
  const char *kname = kind == KITH_KIND_CONTACT ? "contact" : "note";
  struct kith_value *kv = kith_value_new(1, &kname);
  if (!kv)
    return KITH_ENOMEM;
  const json_t *ks =
      stamps && json_is_object(stamps) ? stamp_of(stamps, "kind", NULL) : NULL;
  /* a record that exists keeps its creation: no new stamp on its kind */
  rc = existed && !ks ? 0 : put(im, id, KITH_F_KIND, NULL, kv, ks);
  kith_value_free(kv);
  if (rc)
    return rc;
  if (contact) {
    char hex[2 * KITH_ID_LEN + 1];
    const char *p = hex;
    kith_hex_encode(contact, KITH_ID_LEN, hex);
    struct kith_value *cv = kith_value_new(1, &p);
    if (!cv)
      return KITH_ENOMEM;
    rc = put(im, id, KITH_F_NOTE_CONTACT, NULL, cv,
             stamps && json_is_object(stamps) ? stamp_of(stamps, "contact", NULL)
                                              : NULL);
    kith_value_free(cv);
    if (rc)
      return rc;
  }
  if (kind == KITH_KIND_CONTACT) {
    memcpy(im->stats->last_contact, id, KITH_ID_LEN);
    if (existed)
      im->stats->contacts_merged++;
    else
      im->stats->contacts_new++;
  } else {
    im->stats->notes++;
  }
  return import_fields(im, kind, id, obj);
}

/* One contact with its notes: the unit of import. */
static int import_contact(struct imp *im, const json_t *c, size_t i)
{
  uint8_t id[KITH_ID_LEN];
  im->where = "contacts";
  im->index = i;
  int rc = import_record(im, KITH_KIND_CONTACT, c, NULL, id);
  if (rc)
    return rc;
  const json_t *notes = json_object_get(c, "notes");
  if (!notes)
    return 0;
  if (!json_is_array(notes))
    return fail(im, KITH_EBADMSG, "\"notes\" must be an array");
  size_t j;
  json_t *n;
  char where[64];
  snprintf(where, sizeof where, "contacts[%zu].notes", i);
  im->where = where;
  json_array_foreach(notes, j, n)
  {
    uint8_t nid[KITH_ID_LEN];
    im->index = j;
    if ((rc = import_record(im, KITH_KIND_NOTE, n, id, nid)) != 0)
      break;
  }
  im->where = "contacts";
  return rc;
}

int kith_json_import(kith_txn *txn, const json_t *doc, struct kith_import_stats *stats,
                     char *err, size_t errlen)
{
  struct imp im = {txn, err, errlen, "contacts", 0, stats};
  const json_t *list = doc;
  json_t *one = NULL;
  int rc = 0;
  memset(stats, 0, sizeof *stats);
  err[0] = 0;
  if (json_is_object(doc) && json_object_get(doc, "contacts"))
    list = json_object_get(doc, "contacts");
  else if (json_is_object(doc))
    list = one = json_pack("[O]", doc);
  if (!json_is_array(list)) {
    snprintf(err, errlen, "expected a kith export, an array of contacts or a contact");
    json_decref(one);
    return KITH_EBADMSG;
  }
  size_t i;
  json_t *c;
  json_array_foreach(list, i, c)
  {
    if ((rc = import_contact(&im, c, i)) != 0)
      break;
  }
  json_decref(one);
  if (rc && !err[0])
    snprintf(err, errlen, "%s", kith_strerror(rc));
  return rc;
}

/* ---- streaming ------------------------------------------------------------ */

/* A cursor over the document text; values are parsed one at a time by jansson
 * (JSON_DISABLE_EOF_CHECK tells how many bytes each took), so memory holds one
 * contact, not the whole file. */
struct scan {
  const char *buf;
  size_t len, pos;
  char *err;
  size_t errlen;
};

static void skip_ws(struct scan *s)
{
  while (s->pos < s->len && (s->buf[s->pos] == ' ' || s->buf[s->pos] == '\n' ||
                             s->buf[s->pos] == '\r' || s->buf[s->pos] == '\t'))
    s->pos++;
}

static int scan_fail(struct scan *s, size_t at, const char *what)
{
  size_t line = 1, col = 1;
  for (size_t i = 0; i < at && i < s->len; i++) {
    if (s->buf[i] == '\n')
      line++, col = 1;
    else
      col++;
  }
  snprintf(s->err, s->errlen, "line %zu, column %zu: %s", line, col, what);
  return KITH_EBADMSG;
}

static int scan_value(struct scan *s, json_t **out)
{
  json_error_t je;
  skip_ws(s);
  *out = json_loadb(s->buf + s->pos, s->len - s->pos,
                    JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
                    &je);
  if (!*out) {
    char what[200];
    snprintf(what, sizeof what, "not valid JSON: %s", je.text);
    return scan_fail(s, s->pos + (size_t)(je.position > 0 ? je.position : 0), what);
  }
  s->pos += (size_t)je.position;
  return 0;
}

/* Expects c (after white space); 0 if found and skipped. */
static int scan_char(struct scan *s, char c)
{
  skip_ws(s);
  if (s->pos < s->len && s->buf[s->pos] == c) {
    s->pos++;
    return 0;
  }
  char what[64];
  snprintf(what, sizeof what, "expected '%c'", c);
  return scan_fail(s, s->pos, what);
}

static bool scan_peek(struct scan *s, char c)
{
  skip_ws(s);
  return s->pos < s->len && s->buf[s->pos] == c;
}

/* Imports the elements of an array at the cursor, one contact at a time. */
static int scan_contacts(struct scan *s, struct imp *im)
{
  int rc = scan_char(s, '[');
  size_t i = 0;
  if (rc || scan_peek(s, ']'))
    return rc ? rc : scan_char(s, ']');
  for (;; i++) {
    json_t *c = NULL;
    if ((rc = scan_value(s, &c)) != 0)
      return rc;
    rc = import_contact(im, c, i);
    json_decref(c);
    if (rc)
      return rc;
    if (scan_peek(s, ']'))
      return scan_char(s, ']');
    if ((rc = scan_char(s, ',')) != 0)
      return rc;
  }
}

int kith_json_import_text(kith_txn *txn, const char *buf, size_t len,
                          struct kith_import_stats *stats, char *err, size_t errlen)
{
  struct scan s = {buf, len, 0, err, errlen};
  struct imp im = {txn, err, errlen, "contacts", 0, stats};
  json_t *top = NULL;
  bool had_contacts = false;
  int rc;
  memset(stats, 0, sizeof *stats);
  err[0] = 0;
  if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
    s.pos = 3; /* a UTF-8 byte order mark */
  if (scan_peek(&s, '[')) {
    rc = scan_contacts(&s, &im);
  } else if (scan_peek(&s, '{')) {
    /* An export ({"contacts": [...], ...}) streams its contacts; any other object
     * is one contact, gathered whole. */
    top = json_object();
    rc = top ? scan_char(&s, '{') : KITH_ENOMEM;
    while (rc == 0 && !scan_peek(&s, '}')) {
      json_t *key = NULL, *val = NULL;
      if (json_object_size(top) || had_contacts)
        if ((rc = scan_char(&s, ',')) != 0)
          break;
      if (!scan_peek(&s, '"')) {
        rc = scan_fail(&s, s.pos, "expected a member name");
        break;
      }
      if ((rc = scan_value(&s, &key)) != 0 || (rc = scan_char(&s, ':')) != 0) {
        json_decref(key);
        break;
      }
      const char *k = json_string_value(key);
      if (strcmp(k, "contacts") == 0 && !had_contacts) {
        had_contacts = true;
        rc = scan_contacts(&s, &im);
      } else if (json_object_get(top, k) || strcmp(k, "contacts") == 0) {
        rc = scan_fail(&s, s.pos, "duplicate member name");
      } else if ((rc = scan_value(&s, &val)) == 0) {
        json_object_set_new(top, k, val);
      }
      json_decref(key);
    }
    if (rc == 0)
      rc = scan_char(&s, '}');
    if (rc == 0 && !had_contacts)
      rc = import_contact(&im, top, 0);
  } else {
    rc = scan_fail(&s, s.pos,
                   "expected a kith export, an array of contacts or a contact");
  }
  skip_ws(&s);
  if (rc == 0 && s.pos != s.len)
    rc = scan_fail(&s, s.pos, "unexpected text after the document");
  json_decref(top);
  if (rc && !err[0])
    snprintf(err, errlen, "%s", kith_strerror(rc));
  return rc;
}
