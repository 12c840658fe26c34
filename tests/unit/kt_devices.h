/*
 * kt_devices.h — test fixtures for sync tests: devices of users (each its own store
 * in a temporary folder), linked as a device link or paired as partners records
 * them, and small edits and reads. Included by the tests of core/sync.h and
 * core/post.h.
 */
#ifndef KT_DEVICES_H
#define KT_DEVICES_H

#include "kith_test.h"

#include <sodium.h>

#include "core/json.h"
#include "core/model.h"
#include "core/peer.h"
#include "core/space.h"

struct dev {
  struct kt_store s;
  uint8_t pk[32];
};

static inline void dev_new(struct dev *d, const char *name, const char *label)
{
  struct kith_identity me;
  uint8_t id[16];
  memset(d, 0, sizeof *d);
  kt_tmpdir(d->s.dir);
  snprintf(d->s.home, sizeof d->s.home, "%s/home", d->s.dir);
  assert_rc(kith_store_init(d->s.home, name, label, &kt_opts, &d->s.st), 0);
  kith_txn *t = kt_begin(d->s.st, true);
  assert_rc(kith_txn_identity(t, &me), 0);
  assert_rc(kith_device_add(t, label, me.pk, id), 0); /* as kith init does */
  kt_commit(t);
  memcpy(d->pk, me.pk, 32);
}

static inline void dev_free(struct dev *d)
{
  kt_store_free(&d->s);
}

/* a and b: two devices of one user (as a device link records them). */
static inline void link_devices(struct dev *a, struct dev *b)
{
  uint8_t id[16];
  kith_txn *t = kt_begin(a->s.st, true);
  assert_rc(kith_device_add(t, "other", b->pk, id), 0);
  kt_commit(t);
  t = kt_begin(b->s.st, true);
  assert_rc(kith_device_add(t, "other", a->pk, id), 0);
  kt_commit(t);
}

/* a and b: partners (as pairing records them, with the same space id). */
static inline void partner(struct dev *a, const char *aname, struct dev *b,
                           const char *bname, uint8_t a_peer[16], uint8_t b_peer[16])
{
  uint8_t gid[16];
  randombytes_buf(gid, sizeof gid);
  kith_txn *t = kt_begin(a->s.st, true);
  assert_rc(kith_peer_add(t, bname, b->pk, "laptop", gid, a_peer), 0);
  kt_commit(t);
  t = kt_begin(b->s.st, true);
  assert_rc(kith_peer_add(t, aname, a->pk, "laptop", gid, b_peer), 0);
  kt_commit(t);
}

static inline void digest(struct dev *d, uint8_t out[32])
{
  kith_txn *t = kt_begin(d->s.st, false);
  assert_rc(kith_store_digest(t, out), 0);
  kith_txn_abort(t);
}

static inline void add_contact(struct dev *d, const char *name, const char *tag,
                               uint8_t id[16])
{
  kith_txn *t = kt_begin(d->s.st, true);
  const char *p = name;
  struct kith_value *v = kith_value_new(1, &p);
  assert_rc(kith_record_create(t, KITH_KIND_CONTACT, false, id), 0);
  assert_rc(kith_field_set(t, id, kith_field_by_id(KITH_F_NAME), v), 0);
  kith_value_free(v);
  if (tag) {
    p = tag;
    v = kith_value_new(1, &p);
    assert_rc(kith_set_add(t, id, kith_field_by_id(KITH_F_TAGS), v), 0);
    kith_value_free(v);
  }
  kt_commit(t);
}

static inline void set_text(struct dev *d, const uint8_t id[16], uint8_t field,
                            const char *s)
{
  kith_txn *t = kt_begin(d->s.st, true);
  struct kith_value *v = kith_value_new(1, &s);
  assert_rc(kith_field_set(t, id, kith_field_by_id(field), v), 0);
  kith_value_free(v);
  kt_commit(t);
}

/* The text of a field of record id in d, or NULL (copied into buf). */
static inline const char *get_text(struct dev *d, const uint8_t id[16], uint8_t field,
                                   char buf[256])
{
  struct kith_record *rec = NULL;
  kith_txn *t = kt_begin(d->s.st, false);
  int rc = kith_record_load(t, id, &rec);
  const char *s = NULL;
  if (rc == 0 && !rec->deleted) {
    s = kith_record_text(rec, field);
    if (s) {
      snprintf(buf, 256, "%s", s);
      s = buf;
    }
  }
  kith_record_free(rec);
  kith_txn_abort(t);
  return s;
}

/* Every register d holds, checked by cb. */
struct scan {
  const uint8_t *forbid; /* a record id that must not be there, or NULL */
  int contacts, private_regs, notes, devices, peers, forbidden;
};

static inline int scan_one(void *arg, const struct kith_reg *r)
{
  struct scan *sc = arg;
  const struct kith_field *f = kith_field_by_id(r->field);
  if (sc->forbid && memcmp(r->ent, sc->forbid, 16) == 0)
    sc->forbidden++;
  if (r->field == KITH_F_KIND && r->val && r->val->p[0]) {
    sc->contacts += strcmp(r->val->p[0], "contact") == 0;
    sc->notes += strcmp(r->val->p[0], "note") == 0;
    sc->devices += strcmp(r->val->p[0], "device") == 0;
    sc->peers += strcmp(r->val->p[0], "peer") == 0;
  }
  if (f && f->priv && f->kind == KITH_KIND_CONTACT)
    sc->private_regs++;
  return 0;
}

static inline struct scan scan(struct dev *d, const uint8_t *forbid)
{
  struct scan sc = {forbid, 0, 0, 0, 0, 0, 0};
  kith_txn *t = kt_begin(d->s.st, false);
  assert_rc(kith_reg_each(t, scan_one, &sc), 0);
  kith_txn_abort(t);
  return sc;
}

#endif
