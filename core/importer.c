/* importer.c — contacts from other tools' files, merged into the store */
#include "core/importer.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/fold.h"
#include "core/json.h"
#include "core/model.h"
#include "proto/hex.h"

/* Match keys ("u:" UID, "e:" e-mail, "l:" LinkedIn profile) to contact ids: an
 * open-addressing table, doubled at half full. */
struct slot {
  char *key;
  uint8_t id[KITH_ID_LEN];
};

struct kith_importer {
  kith_txn *txn;
  struct slot *t;
  size_t cap, n;
  struct kith_import_counts counts;
  char err[512]; /* why the last kith_importer_add failed */
};

static uint64_t hash(const char *s)
{
  uint64_t h = 1469598103934665603ull;
  while (*s)
    h = (h ^ (unsigned char)*s++) * 1099511628211ull;
  return h;
}

static struct slot *find(kith_importer *im, const char *key)
{
  size_t i = hash(key) & (im->cap - 1);
  while (im->t[i].key && strcmp(im->t[i].key, key) != 0)
    i = (i + 1) & (im->cap - 1);
  return &im->t[i];
}

static int grow(kith_importer *im)
{
  struct slot *old = im->t;
  size_t oldcap = im->cap;
  im->cap = oldcap ? oldcap * 2 : 1024;
  if (!(im->t = calloc(im->cap, sizeof *im->t))) {
    im->t = old, im->cap = oldcap;
    return KITH_ENOMEM;
  }
  for (size_t i = 0; i < oldcap; i++)
    if (old[i].key)
      *find(im, old[i].key) = old[i];
  free(old);
  return 0;
}

/* Adds key -> id unless key is there already (the first contact keeps it). */
static int put_key(kith_importer *im, char *key, const uint8_t id[KITH_ID_LEN])
{
  if ((im->n + 1) * 2 > im->cap) {
    int rc = grow(im);
    if (rc) {
      free(key);
      return rc;
    }
  }
  struct slot *s = find(im, key);
  if (s->key) {
    free(key);
    return 0;
  }
  s->key = key;
  memcpy(s->id, id, KITH_ID_LEN);
  im->n++;
  return 0;
}

static void lower(char *s)
{
  for (; *s; s++)
    *s = (char)tolower((unsigned char)*s);
}

/* A key: tag (one letter) ":" text[0..n), lowercased; NULL if out of memory. */
static char *make_key(char tag, const char *text, size_t n)
{
  char *k = malloc(n + 3);
  if (!k)
    return NULL;
  k[0] = tag, k[1] = ':';
  memcpy(k + 2, text, n);
  k[n + 2] = 0;
  lower(k);
  return k;
}

/* "u:" + the UID lowercased, a urn:uuid: prefix dropped; NULL if empty. */
static char *uid_key(const char *uid)
{
  while (*uid == ' ')
    uid++;
  if (strncasecmp(uid, "urn:uuid:", 9) == 0)
    uid += 9;
  return *uid ? make_key('u', uid, strlen(uid)) : NULL;
}

static char *email_key(const char *e)
{
  return make_key('e', e, strlen(e));
}

/* "n:" + the name folded (case and accents aside; plain ASCII folds to its lower
 * case, without utf8proc). */
static char *name_key(const char *name)
{
  const char *p = name;
  while (*p && (unsigned char)*p < 0x80)
    p++;
  if (!*p)
    return *name ? make_key('n', name, strlen(name)) : NULL;
  char *f = NULL;
  if (kith_fold(name, &f) != 0)
    return NULL;
  char *k = make_key('n', f, strlen(f)); /* folded text is lower case already */
  free(f);
  return k;
}

/* "l:linkedin.com/in/SLUG" for a LinkedIn profile URL, else NULL. */
static char *linkedin_key(const char *url)
{
  const char *p = url;
  if (strncasecmp(p, "https://", 8) == 0)
    p += 8;
  else if (strncasecmp(p, "http://", 7) == 0)
    p += 7;
  const char *slash = strchr(p, '/');
  if (!slash)
    return NULL;
  size_t hl = (size_t)(slash - p);
  /* linkedin.com, www.linkedin.com, uk.linkedin.com... */
  if (hl < 12 || strncasecmp(slash - 12, "linkedin.com", 12) != 0 ||
      (hl > 12 && slash[-13] != '.'))
    return NULL;
  if (strncasecmp(slash, "/in/", 4) != 0)
    return NULL;
  const char *slug = slash + 4;
  size_t sl = strcspn(slug, "/?#");
  if (sl == 0)
    return NULL;
  char path[512];
  int n = snprintf(path, sizeof path, "linkedin.com/in/%.*s", (int)sl, slug);
  return n > 0 && (size_t)n < sizeof path ? make_key('l', path, (size_t)n) : NULL;
}

/* Calls fn with each match key of a contact object (kith_json_record's or a
 * reader's); id is the contact's own id when it has one, and with own_uuid its
 * urn:uuid: form is a key too (a contact created by this import needs none: no
 * file names an id that did not exist). Stops at fn's first non-zero return. */
typedef int (*key_fn)(kith_importer *im, char *key, const uint8_t *id, void *arg);

static int each_key(kith_importer *im, const json_t *c, const uint8_t *id,
                    bool own_uuid, key_fn fn, void *arg)
{
  int rc = 0;
  size_t strong = 0; /* keys offered before the name */
  const json_t *x = json_object_get(c, "x");
  const char *uid = json_string_value(json_object_get(x, "uid"));
  char *k;
  if (uid && (k = uid_key(uid)) && (++strong, rc = fn(im, k, id, arg)) != 0)
    return rc;
  if (id && own_uuid) {
    char hex[2 * KITH_ID_LEN + 1], uuid[40];
    kith_hex_encode(id, KITH_ID_LEN, hex);
    snprintf(uuid, sizeof uuid, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
             hex + 16, hex + 20);
    if ((k = uid_key(uuid)) && (rc = fn(im, k, id, arg)) != 0)
      return rc; /* not counted: a contact in the store always has one */
  }
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(c, "emails"), i, v)
  {
    if (json_string_value(v) && (k = email_key(json_string_value(v))) &&
        (++strong, rc = fn(im, k, id, arg)) != 0)
      return rc;
  }
  json_array_foreach(json_object_get(c, "links"), i, v)
  {
    if (json_string_value(v) && (k = linkedin_key(json_string_value(v))) &&
        (++strong, rc = fn(im, k, id, arg)) != 0)
      return rc;
  }
  /* The name is a key only for a card that has none of the above (a phone-only
   * card from an old handset): the store indexes every name, but a card with an
   * e-mail that matches nothing is someone new even if the name is taken. */
  const char *name = json_string_value(json_object_get(c, "name"));
  if (name && (id || strong == 0) && (k = name_key(name)) != NULL)
    rc = fn(im, k, id, arg);
  return rc;
}

static int index_key(kith_importer *im, char *key, const uint8_t *id, void *arg)
{
  (void)arg;
  return put_key(im, key, id);
}

/* Looks a key up: 1 (and *arg = the id) on a hit, which stops the walk. */
static int lookup_key(kith_importer *im, char *key, const uint8_t *id, void *arg)
{
  (void)id;
  struct slot *s = find(im, key);
  free(key);
  if (!s->key)
    return 0;
  memcpy(arg, s->id, KITH_ID_LEN);
  return 1;
}

static int index_one(void *arg, const uint8_t id[KITH_ID_LEN])
{
  kith_importer *im = arg;
  struct kith_record *rec = NULL;
  int rc = kith_record_load(im->txn, id, &rec);
  if (rc)
    return rc == KITH_ENOTFOUND ? 0 : rc;
  if (!rec->deleted && rec->kind == KITH_KIND_CONTACT) {
    json_t *j = kith_json_record(im->txn, rec, 0);
    rc = j ? each_key(im, j, id, true, index_key, NULL) : KITH_ENOMEM;
    json_decref(j);
  }
  kith_record_free(rec);
  return rc;
}

int kith_importer_new(kith_txn *txn, kith_importer **out)
{
  kith_importer *im = calloc(1, sizeof *im);
  int rc;
  *out = NULL;
  if (!im)
    return KITH_ENOMEM;
  im->txn = txn;
  if ((rc = grow(im)) != 0 ||
      (rc = kith_kind_each(txn, KITH_KIND_CONTACT, index_one, im)) != 0) {
    kith_importer_free(im);
    return rc;
  }
  *out = im;
  return 0;
}

void kith_importer_free(kith_importer *im)
{
  if (!im)
    return;
  for (size_t i = 0; i < im->cap; i++)
    free(im->t[i].key);
  free(im->t);
  free(im);
}

struct kith_import_counts kith_importer_counts(const kith_importer *im)
{
  return im->counts;
}

const char *kith_importer_error(const kith_importer *im)
{
  return im->err[0] ? im->err : NULL;
}

/* ---- the patch: what the file adds to a contact ---------------------------- */

static const char *kind_of(const json_t *c, const char *field, const char *value)
{
  return json_string_value(
      json_object_get(json_object_get(json_object_get(c, "kinds"), field), value));
}

/* The index of value in the existing set array, or -1; e-mails match whatever
 * their case. */
static ssize_t find_value(const json_t *arr, const char *field, const char *value)
{
  size_t i;
  json_t *v;
  bool icase = strcmp(field, "emails") == 0 || strcmp(field, "tags") == 0;
  char *lk = strcmp(field, "links") == 0 ? linkedin_key(value) : NULL;
  ssize_t at = -1;
  json_array_foreach(arr, i, v)
  {
    const char *s = json_string_value(v);
    if (s && (icase ? strcasecmp(s, value) == 0 : strcmp(s, value) == 0)) {
      at = (ssize_t)i;
      break;
    }
    if (s && lk) { /* one LinkedIn profile, however its URL is written */
      char *k = linkedin_key(s);
      bool same = k && strcmp(k, lk) == 0;
      free(k);
      if (same) {
        at = (ssize_t)i;
        break;
      }
    }
  }
  free(lk);
  return at;
}

/* Two addresses are the same place if every part but the kind is equal. */
static bool same_address(const json_t *a, const json_t *b)
{
  static const char *const parts[] = {"po_box", "ext",  "street",  "locality",
                                      "region", "code", "country", NULL};
  for (int i = 0; parts[i]; i++) {
    const char *x = json_string_value(json_object_get(a, parts[i]));
    const char *y = json_string_value(json_object_get(b, parts[i]));
    if (strcmp(x ? x : "", y ? y : "") != 0)
      return false;
  }
  return true;
}

static int patch_set(json_t *patch, const json_t *in, const json_t *old,
                     const char *field, const json_t *arr, json_t *fields)
{
  size_t i;
  json_t *v;
  json_t *add = NULL, *kinds = NULL;
  json_array_foreach(arr, i, v)
  {
    const char *s = json_string_value(v);
    if (!s)
      continue;
    const char *k = kind_of(in, field, s);
    ssize_t at = find_value(json_object_get(old, field), field, s);
    const char *same =
        at >= 0
            ? json_string_value(json_array_get(json_object_get(old, field), (size_t)at))
            : NULL;
    if (same && strcasecmp(same, s) != 0)
      continue; /* the same LinkedIn profile, its URL written another way */
    if (at >= 0) {
      const char *oldv =
          json_string_value(json_array_get(json_object_get(old, field), (size_t)at));
      const char *ok = kind_of(old, field, oldv);
      if (!k || (ok && strcmp(k, ok) == 0))
        continue; /* there, and its kind too */
    }
    if (!add && (!(add = json_array()) || json_object_set_new(patch, field, add)))
      return KITH_ENOMEM;
    if (json_array_append(add, v))
      return KITH_ENOMEM;
    if (k) {
      json_t *pk = json_object_get(patch, "kinds");
      if (!pk && (!(pk = json_object()) || json_object_set_new(patch, "kinds", pk)))
        return KITH_ENOMEM;
      if (!kinds && (!(kinds = json_object()) || json_object_set_new(pk, field, kinds)))
        return KITH_ENOMEM;
      if (json_object_set_new(kinds, s, json_string(k)))
        return KITH_ENOMEM;
    }
  }
  if (add && json_array_append_new(fields, json_string(field)))
    return KITH_ENOMEM;
  return 0;
}

/* The patch that brings old up to in: the fields that differ, and "fields" names
 * them. */
static int make_patch(const json_t *in, const json_t *old, json_t *patch,
                      json_t *fields)
{
  const char *key;
  json_t *val;
  int rc = 0;
  json_object_foreach((json_t *)in, key, val)
  {
    if (strcmp(key, "kinds") == 0 || strcmp(key, "id") == 0)
      continue;
    if (json_is_string(val)) {
      const char *o = json_string_value(json_object_get(old, key));
      if (!*json_string_value(val) || (o && strcmp(o, json_string_value(val)) == 0))
        continue;
      if (json_object_set(patch, key, val) ||
          json_array_append_new(fields, json_string(key)))
        return KITH_ENOMEM;
    } else if (strcmp(key, "addresses") == 0) {
      json_t *add = NULL;
      size_t i, j;
      json_t *a, *b;
      json_array_foreach(val, i, a)
      {
        bool there = false;
        json_array_foreach(json_object_get(old, "addresses"), j, b)
        {
          there = there || same_address(a, b);
        }
        if (there)
          continue;
        if (!add && (!(add = json_array()) || json_object_set_new(patch, key, add)))
          return KITH_ENOMEM;
        if (json_array_append(add, a))
          return KITH_ENOMEM;
      }
      if (add && json_array_append_new(fields, json_string(key)))
        return KITH_ENOMEM;
    } else if (strcmp(key, "x") == 0) {
      json_t *add = NULL;
      const char *xk;
      json_t *xv;
      json_object_foreach(val, xk, xv)
      {
        const char *o =
            json_string_value(json_object_get(json_object_get(old, "x"), xk));
        /* a UID matched whatever its case: not a change */
        if (!json_is_string(xv) || (o && (strcmp(xk, "uid") == 0 ? strcasecmp : strcmp)(
                                             o, json_string_value(xv)) == 0))
          continue;
        if (!add && (!(add = json_object()) || json_object_set_new(patch, key, add)))
          return KITH_ENOMEM;
        char name[256];
        snprintf(name, sizeof name, "x-%s", xk);
        if (json_object_set(add, xk, xv) ||
            json_array_append_new(fields, json_string(name)))
          return KITH_ENOMEM;
      }
    } else if (strcmp(key, "notes") == 0) {
      json_t *add = NULL;
      size_t i, j;
      json_t *n, *m;
      json_array_foreach(val, i, n)
      {
        const char *t = json_string_value(json_object_get(n, "text"));
        bool there = false;
        json_array_foreach(json_object_get(old, "notes"), j, m)
        {
          const char *u = json_string_value(json_object_get(m, "text"));
          there = there || (t && u && strcmp(t, u) == 0);
        }
        if (!t || there)
          continue;
        if (!add && (!(add = json_array()) || json_object_set_new(patch, key, add)))
          return KITH_ENOMEM;
        if (json_array_append_new(add, json_pack("{s:s}", "text", t)))
          return KITH_ENOMEM;
      }
      if (add && json_array_append_new(fields, json_string(key)))
        return KITH_ENOMEM;
    } else if (json_is_array(val)) {
      if ((rc = patch_set(patch, in, old, key, val, fields)) != 0)
        return rc;
    }
  }
  return 0;
}

/* Imports obj; a new contact's id (obj without "id") comes back in id. */
static int import_obj(kith_importer *im, const json_t *obj, uint8_t id[KITH_ID_LEN])
{
  struct kith_import_stats st;
  int rc = kith_json_import(im->txn, obj, &st, im->err, sizeof im->err);
  if (rc == 0) {
    im->counts.notes += st.notes;
    memcpy(id, st.last_contact, KITH_ID_LEN);
  }
  return rc;
}

int kith_importer_add(kith_importer *im, const json_t *c, json_t **change)
{
  uint8_t id[KITH_ID_LEN];
  char hex[2 * KITH_ID_LEN + 1];
  const char *action;
  json_t *fields = json_array(), *patch = NULL, *old = NULL;
  struct kith_record *rec = NULL;
  int rc;
  if (change)
    *change = NULL;
  im->err[0] = 0;
  if (!fields)
    return KITH_ENOMEM;
  rc = each_key(im, c, NULL, false, lookup_key, id);
  if (rc < 0)
    goto out;
  if (rc == 0) { /* no match: a new contact, as the reader gave it */
    action = "new";
    if (json_object_get(c, "id")) { /* a reader never sets one */
      snprintf(im->err, sizeof im->err, "a contact read from a file has an id");
      rc = KITH_EINVAL;
      goto out;
    }
    if ((rc = import_obj(im, c, id)) != 0)
      goto out;
    kith_hex_encode(id, KITH_ID_LEN, hex);
    if (change) {
      const char *key;
      json_t *val;
      json_object_foreach((json_t *)c, key, val)
      {
        if (strcmp(key, "kinds") && json_array_append_new(fields, json_string(key))) {
          rc = KITH_ENOMEM;
          goto out;
        }
      }
    }
    im->counts.created++;
  } else {
    kith_hex_encode(id, KITH_ID_LEN, hex);
    if ((rc = kith_record_load(im->txn, id, &rec)) != 0)
      goto out;
    if (!(old = kith_json_record(im->txn, rec, KITH_JSON_NOTES)) ||
        !(patch = json_pack("{s:s}", "id", hex))) {
      rc = KITH_ENOMEM;
      goto out;
    }
    if ((rc = make_patch(c, old, patch, fields)) != 0)
      goto out;
    if (json_array_size(fields) == 0) {
      action = "unchanged";
      im->counts.unchanged++;
    } else {
      action = "merged";
      uint8_t same[KITH_ID_LEN];
      if ((rc = import_obj(im, patch, same)) != 0)
        goto out;
      im->counts.merged++;
    }
  }
  /* later contacts in the same file find this one by the keys it brought */
  if ((rc = each_key(im, c, id, false, index_key, NULL)) != 0)
    goto out;
  if (change) {
    const char *name = json_string_value(json_object_get(c, "name"));
    if (!name)
      name = json_string_value(json_object_get(old, "name"));
    *change = json_pack("{s:s, s:s, s:s?, s:O}", "action", action, "id", hex, "name",
                        name, "fields", fields);
    if (!*change)
      rc = KITH_ENOMEM;
  }
out:
  kith_record_free(rec);
  json_decref(old);
  json_decref(patch);
  json_decref(fields);
  return rc;
}
