/*
 * mailbox.c — the relay's LMDB store (mailbox.h).
 */
#include "core/mailbox.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>
#include <sodium.h>

#include "core/store.h"
#include "proto/be.h"

#define KEY_LEN KITH_RMSG_KEY_LEN
#define BOX_LEN KITH_RMSG_BOX_LEN
#define ENV_KEY (KEY_LEN + 8)     /* owner | eid */
#define ENV_HDR (BOX_LEN + 8)     /* box | expiry, before the bytes */
#define BOX_VAL (KEY_LEN + 4 + 8) /* owner | count | bytes */
#define OWNER_VAL (4 + 8 + 4)     /* count | bytes | boxes */
#define EXP_KEY (8 + KEY_LEN + 8) /* expiry | owner | eid */
#define TOTAL_VAL 24              /* count | bytes | boxes */

struct kith_mailbox {
  MDB_env *env;
  MDB_dbi meta, envs, boxes, owners, expiry;
  struct kith_mailbox_limits lim;
  uint8_t sk[32], pk[32];
  MDB_txn *rtxn; /* the read functions' transaction, reset between calls */
};

struct kith_mailbox_limits kith_mailbox_limits_default(void)
{
  struct kith_mailbox_limits l = {
      .max_envelope = KITH_MAILBOX_MAX_ENVELOPE_DEFAULT,
      .box_count = KITH_MAILBOX_BOX_COUNT_DEFAULT,
      .box_bytes = KITH_MAILBOX_BOX_BYTES_DEFAULT,
      .owner_bytes = KITH_MAILBOX_OWNER_BYTES_DEFAULT,
      .ttl_s = KITH_MAILBOX_TTL_DEFAULT,
  };
  return l;
}

/* ---- open and close -------------------------------------------------------------- */

/* mkdir -p with mode 0700 for what it creates. */
static int make_dirs(const char *dir)
{
  char path[4096];
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof path)
    return KITH_EINVAL;
  memcpy(path, dir, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (path[i] != '/' && path[i] != '\0')
      continue;
    char c = path[i];
    path[i] = '\0';
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
      return errno == EACCES || errno == EROFS ? KITH_EREADONLY : KITH_EIO;
    path[i] = c;
  }
  struct stat sb;
  if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
    return KITH_EIO;
  return 0;
}

static int meta_get(MDB_txn *t, MDB_dbi dbi, const char *k, uint8_t *buf, size_t len)
{
  MDB_val key = {strlen(k), (void *)k}, val;
  int rc = mdb_get(t, dbi, &key, &val);
  if (rc)
    return kith_mdb_err(rc);
  if (val.mv_size != len)
    return KITH_ECORRUPT;
  memcpy(buf, val.mv_data, len);
  return 0;
}

static int meta_put(MDB_txn *t, MDB_dbi dbi, const char *k, const uint8_t *buf,
                    size_t len)
{
  MDB_val key = {strlen(k), (void *)k}, val = {len, (void *)buf};
  return kith_mdb_err(mdb_put(t, dbi, &key, &val, 0));
}

/* Opens (creating) the databases, checks the schema, makes or reads the key. */
static int open_schema(kith_mailbox *mb)
{
  MDB_txn *t = NULL;
  uint8_t b[64];
  int rc = kith_mdb_err(mdb_txn_begin(mb->env, NULL, 0, &t));
  if (rc)
    return rc;
  rc = kith_mdb_err(mdb_dbi_open(t, "meta", MDB_CREATE, &mb->meta));
  if (!rc)
    rc = kith_mdb_err(mdb_dbi_open(t, "envelopes", MDB_CREATE, &mb->envs));
  if (!rc)
    rc = kith_mdb_err(mdb_dbi_open(t, "boxes", MDB_CREATE, &mb->boxes));
  if (!rc)
    rc = kith_mdb_err(mdb_dbi_open(t, "owners", MDB_CREATE, &mb->owners));
  if (!rc)
    rc = kith_mdb_err(mdb_dbi_open(t, "expiry", MDB_CREATE, &mb->expiry));
  if (rc)
    goto out;
  rc = meta_get(t, mb->meta, "schema", b, 4);
  if (rc == KITH_ENOTFOUND) { /* a new store */
    kith_be_put(b, KITH_MAILBOX_SCHEMA, 4);
    rc = meta_put(t, mb->meta, "schema", b, 4);
    if (!rc) {
      crypto_box_keypair(b + 32, b); /* X25519: public, secret */
      memcpy(mb->sk, b, 32);
      rc = meta_put(t, mb->meta, "key", b, 64);
    }
    if (!rc) {
      memset(b, 0, sizeof b);
      rc = meta_put(t, mb->meta, "eid", b, 8);
    }
    if (!rc)
      rc = meta_put(t, mb->meta, "total", b, TOTAL_VAL);
    if (rc)
      goto out;
  } else if (rc) {
    goto out;
  } else if (kith_be_get(b, 4) > KITH_MAILBOX_SCHEMA) {
    rc = KITH_ENEWER;
    goto out;
  } else if (kith_be_get(b, 4) < 1) {
    rc = KITH_ECORRUPT;
    goto out;
  }
  if ((rc = meta_get(t, mb->meta, "key", b, 64)) != 0)
    goto out;
  memcpy(mb->sk, b, 32);
  memcpy(mb->pk, b + 32, 32);
  rc = kith_mdb_err(mdb_txn_commit(t));
  t = NULL;
out:
  sodium_memzero(b, sizeof b);
  if (t)
    mdb_txn_abort(t);
  return rc;
}

int kith_mailbox_open(const char *dir, const struct kith_mailbox_limits *lim,
                      kith_mailbox **out)
{
  struct kith_mailbox_limits l = lim ? *lim : kith_mailbox_limits_default();
  if (!out)
    return KITH_EINVAL;
  *out = NULL;
  if (!dir || l.max_envelope < 1 || l.box_count < 1 || l.ttl_s < 1 ||
      l.max_envelope > SIZE_MAX / 2)
    return KITH_EINVAL;
  if (l.map_size == 0)
    l.map_size = KITH_MAILBOX_MAP_DEFAULT;
  if (sodium_init() < 0)
    return KITH_EIO;
  int rc = make_dirs(dir);
  if (rc)
    return rc;
  kith_mailbox *mb = calloc(1, sizeof *mb);
  if (!mb)
    return KITH_ENOMEM;
  mb->lim = l;
  rc = kith_mdb_err(mdb_env_create(&mb->env));
  if (!rc)
    rc = kith_mdb_err(mdb_env_set_maxdbs(mb->env, 8));
  if (!rc)
    rc = kith_mdb_err(mdb_env_set_mapsize(mb->env, l.map_size));
  if (!rc && l.max_readers)
    rc = kith_mdb_err(mdb_env_set_maxreaders(mb->env, l.max_readers));
  /* MDB_NOTLS: read transactions belong to the handle, not to a thread's slot, as
   * the loop reads while a worker thread writes. Sync stays LMDB's default. */
  if (!rc)
    rc = kith_mdb_err(mdb_env_open(mb->env, dir, MDB_NOTLS, 0600));
  if (rc) {
    if (mb->env)
      mdb_env_close(mb->env);
    free(mb);
    return rc;
  }
  int dead = 0;
  mdb_reader_check(mb->env, &dead); /* clear the slots of killed processes */
  rc = open_schema(mb);
  if (rc) {
    kith_mailbox_close(mb);
    return rc;
  }
  *out = mb;
  return 0;
}

void kith_mailbox_close(kith_mailbox *mb)
{
  if (!mb)
    return;
  if (mb->rtxn)
    mdb_txn_abort(mb->rtxn);
  mdb_env_close(mb->env);
  sodium_memzero(mb->sk, sizeof mb->sk);
  free(mb);
}

void kith_mailbox_key(const kith_mailbox *mb, uint8_t sk[static 32],
                      uint8_t pk[static 32])
{
  memcpy(sk, mb->sk, 32);
  memcpy(pk, mb->pk, 32);
}

struct kith_mailbox_limits kith_mailbox_limits_of(const kith_mailbox *mb)
{
  return mb->lim;
}

/* ---- writes ---------------------------------------------------------------------- */

/* What a batch changes in the meta records, written once at its end. */
struct tally {
  uint64_t eid;                 /* the last eid given */
  uint64_t count, bytes, boxes; /* totals */
};

static void env_key(uint8_t k[ENV_KEY], const uint8_t owner[KEY_LEN], uint64_t eid)
{
  memcpy(k, owner, KEY_LEN);
  kith_be_put(k + KEY_LEN, eid, 8);
}

static void exp_key(uint8_t k[EXP_KEY], uint64_t expiry, const uint8_t owner[KEY_LEN],
                    uint64_t eid)
{
  kith_be_put(k, expiry, 8);
  memcpy(k + 8, owner, KEY_LEN);
  kith_be_put(k + 8 + KEY_LEN, eid, 8);
}

/* Adds (sign +1) or removes (-1) one envelope of size bytes to box and owner.
 * Records go away when they count nothing. */
static int account(kith_mailbox *mb, MDB_txn *t, struct tally *ty,
                   const uint8_t owner[KEY_LEN], const uint8_t box[BOX_LEN],
                   uint64_t size, int sign)
{
  uint8_t bv[BOX_VAL], ov[OWNER_VAL];
  MDB_val bk = {BOX_LEN, (void *)box}, ok = {KEY_LEN, (void *)owner}, v;
  uint64_t bcount = 0, bbytes = 0, ocount = 0, obytes = 0, oboxes = 0;
  int rc = mdb_get(t, mb->boxes, &bk, &v);
  if (rc == 0) {
    if (v.mv_size != BOX_VAL)
      return KITH_ECORRUPT;
    bcount = kith_be_get((const uint8_t *)v.mv_data + KEY_LEN, 4);
    bbytes = kith_be_get((const uint8_t *)v.mv_data + KEY_LEN + 4, 8);
  } else if (rc != MDB_NOTFOUND) {
    return kith_mdb_err(rc);
  }
  rc = mdb_get(t, mb->owners, &ok, &v);
  if (rc == 0) {
    if (v.mv_size != OWNER_VAL)
      return KITH_ECORRUPT;
    ocount = kith_be_get(v.mv_data, 4);
    obytes = kith_be_get((const uint8_t *)v.mv_data + 4, 8);
    oboxes = kith_be_get((const uint8_t *)v.mv_data + 12, 4);
  } else if (rc != MDB_NOTFOUND) {
    return kith_mdb_err(rc);
  }
  if (sign > 0) {
    if (bcount == 0)
      oboxes++, ty->boxes++;
    bcount++, bbytes += size, ocount++, obytes += size;
    ty->count++, ty->bytes += size;
  } else {
    if (bcount == 0 || ocount == 0 || bbytes < size || obytes < size)
      return KITH_ECORRUPT;
    bcount--, bbytes -= size, ocount--, obytes -= size;
    ty->count--, ty->bytes -= size;
    if (bcount == 0)
      oboxes--, ty->boxes--;
  }
  if (bcount == 0) {
    rc = mdb_del(t, mb->boxes, &bk, NULL);
  } else {
    memcpy(bv, owner, KEY_LEN);
    kith_be_put(bv + KEY_LEN, bcount, 4);
    kith_be_put(bv + KEY_LEN + 4, bbytes, 8);
    v.mv_size = BOX_VAL, v.mv_data = bv;
    rc = mdb_put(t, mb->boxes, &bk, &v, 0);
  }
  if (rc)
    return kith_mdb_err(rc);
  if (ocount == 0) {
    rc = mdb_del(t, mb->owners, &ok, NULL);
  } else {
    kith_be_put(ov, ocount, 4);
    kith_be_put(ov + 4, obytes, 8);
    kith_be_put(ov + 12, oboxes, 4);
    v.mv_size = OWNER_VAL, v.mv_data = ov;
    rc = mdb_put(t, mb->owners, &ok, &v, 0);
  }
  return kith_mdb_err(rc);
}

/* One deposit. Returns an error only if the transaction failed (then it must be
 * aborted); a refusal is op->err. */
static int do_put(kith_mailbox *mb, MDB_txn *t, struct tally *ty, struct kith_mb_op *op,
                  uint64_t now_s)
{
  const struct kith_mailbox_limits *l = &mb->lim;
  MDB_val k, v;
  if (op->size > l->max_envelope) {
    op->err = KITH_RERR_TOO_BIG;
    return 0;
  }
  if (op->size == 0 || !op->data) {
    op->err = KITH_RERR_MALFORMED;
    return 0;
  }
  uint64_t bcount = 0, bbytes = 0, obytes = 0;
  k.mv_size = BOX_LEN, k.mv_data = op->box;
  int rc = mdb_get(t, mb->boxes, &k, &v);
  if (rc == 0) {
    if (v.mv_size != BOX_VAL)
      return KITH_ECORRUPT;
    if (memcmp(v.mv_data, op->owner, KEY_LEN) != 0) { /* public keys, not secrets */
      op->err = KITH_RERR_NOT_OWNER;
      return 0;
    }
    bcount = kith_be_get((const uint8_t *)v.mv_data + KEY_LEN, 4);
    bbytes = kith_be_get((const uint8_t *)v.mv_data + KEY_LEN + 4, 8);
  } else if (rc != MDB_NOTFOUND) {
    return kith_mdb_err(rc);
  }
  if (bcount + 1 > l->box_count || bbytes + op->size > l->box_bytes) {
    op->err = KITH_RERR_BOX_QUOTA;
    return 0;
  }
  k.mv_size = KEY_LEN, k.mv_data = op->owner;
  rc = mdb_get(t, mb->owners, &k, &v);
  if (rc == 0) {
    if (v.mv_size != OWNER_VAL)
      return KITH_ECORRUPT;
    obytes = kith_be_get((const uint8_t *)v.mv_data + 4, 8);
  } else if (rc != MDB_NOTFOUND) {
    return kith_mdb_err(rc);
  }
  if (obytes + op->size > l->owner_bytes) {
    op->err = KITH_RERR_OWNER_QUOTA;
    return 0;
  }

  uint64_t eid = ++ty->eid;
  uint64_t expiry = now_s > UINT64_MAX - l->ttl_s ? UINT64_MAX : now_s + l->ttl_s;
  uint8_t ek[ENV_KEY], xk[EXP_KEY];
  env_key(ek, op->owner, eid);
  k.mv_size = ENV_KEY, k.mv_data = ek;
  v.mv_size = ENV_HDR + op->size, v.mv_data = NULL;
  rc = mdb_put(t, mb->envs, &k, &v, MDB_RESERVE | MDB_NOOVERWRITE);
  if (rc)
    return rc == MDB_KEYEXIST ? KITH_ECORRUPT : kith_mdb_err(rc);
  uint8_t *p = v.mv_data;
  memcpy(p, op->box, BOX_LEN);
  kith_be_put(p + BOX_LEN, expiry, 8);
  memcpy(p + ENV_HDR, op->data, op->size);
  exp_key(xk, expiry, op->owner, eid);
  k.mv_size = EXP_KEY, k.mv_data = xk;
  v.mv_size = 0, v.mv_data = "";
  if ((rc = mdb_put(t, mb->expiry, &k, &v, 0)) != 0)
    return kith_mdb_err(rc);
  if ((rc = account(mb, t, ty, op->owner, op->box, op->size, +1)) != 0)
    return rc;
  op->value = eid;
  return 0;
}

/* Deletes owner's envelope eid if it is there: 1 deleted, 0 not there, or an
 * error. */
static int del_one(kith_mailbox *mb, MDB_txn *t, struct tally *ty,
                   const uint8_t owner[KEY_LEN], uint64_t eid)
{
  uint8_t ek[ENV_KEY], xk[EXP_KEY], box[BOX_LEN];
  env_key(ek, owner, eid);
  MDB_val k = {ENV_KEY, ek}, v;
  int rc = mdb_get(t, mb->envs, &k, &v);
  if (rc == MDB_NOTFOUND)
    return 0;
  if (rc)
    return kith_mdb_err(rc);
  if (v.mv_size < ENV_HDR)
    return KITH_ECORRUPT;
  uint64_t size = v.mv_size - ENV_HDR;
  memcpy(box, v.mv_data, BOX_LEN);
  uint64_t expiry = kith_be_get((const uint8_t *)v.mv_data + BOX_LEN, 8);
  if ((rc = mdb_del(t, mb->envs, &k, NULL)) != 0)
    return kith_mdb_err(rc);
  exp_key(xk, expiry, owner, eid);
  MDB_val x = {EXP_KEY, xk};
  rc = mdb_del(t, mb->expiry, &x, NULL);
  if (rc)
    return rc == MDB_NOTFOUND ? KITH_ECORRUPT : kith_mdb_err(rc);
  rc = account(mb, t, ty, owner, box, size, -1);
  return rc ? rc : 1;
}

static int do_del(kith_mailbox *mb, MDB_txn *t, struct tally *ty, struct kith_mb_op *op)
{
  if (op->neids && !op->eids) {
    op->err = KITH_RERR_MALFORMED;
    return 0;
  }
  for (size_t i = 0; i < op->neids; i++) {
    int rc = del_one(mb, t, ty, op->owner, op->eids[i]);
    if (rc < 0)
      return rc;
    op->value += (uint64_t)rc;
  }
  return 0;
}

/* Deletes up to max envelopes that expired at or before now_s, oldest first. */
static int sweep_expired(kith_mailbox *mb, MDB_txn *t, struct tally *ty, uint64_t now_s,
                         size_t max, size_t *swept)
{
  MDB_cursor *c = NULL;
  MDB_val k, v;
  int rc = kith_mdb_err(mdb_cursor_open(t, mb->expiry, &c));
  if (rc)
    return rc;
  /* Collect first, then delete: deleting under the cursor would move it. */
  enum { CHUNK = 256 };
  struct {
    uint8_t owner[KEY_LEN];
    uint64_t eid;
  } found[CHUNK];
  while (*swept < max && rc == 0) {
    size_t n = 0;
    int m = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    for (; m == 0 && n < CHUNK && *swept + n < max;
         m = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
      if (k.mv_size != EXP_KEY) {
        rc = KITH_ECORRUPT;
        break;
      }
      const uint8_t *p = k.mv_data;
      if (kith_be_get(p, 8) > now_s)
        break;
      memcpy(found[n].owner, p + 8, KEY_LEN);
      found[n].eid = kith_be_get(p + 8 + KEY_LEN, 8);
      n++;
    }
    if (rc == 0 && m != 0 && m != MDB_NOTFOUND)
      rc = kith_mdb_err(m);
    for (size_t i = 0; i < n && rc == 0; i++) {
      int d = del_one(mb, t, ty, found[i].owner, found[i].eid);
      if (d < 0)
        rc = d;
      else if (d == 0)
        rc = KITH_ECORRUPT; /* an index entry without its envelope */
    }
    *swept += n;
    if (n < CHUNK)
      break;
  }
  mdb_cursor_close(c);
  return rc;
}

/* One try at the batch: puts too, or not (then each put is answered busy). */
static int apply_once(kith_mailbox *mb, struct kith_mb_op *ops, size_t n,
                      uint64_t now_s, size_t sweep, size_t *swept, bool puts)
{
  MDB_txn *t = NULL;
  struct tally ty = {0};
  uint8_t b[TOTAL_VAL];
  *swept = 0;
  for (size_t i = 0; i < n; i++)
    ops[i].err = 0, ops[i].value = 0;
  int rc = kith_mdb_err(mdb_txn_begin(mb->env, NULL, 0, &t));
  if (!rc)
    rc = meta_get(t, mb->meta, "eid", b, 8);
  if (!rc) {
    ty.eid = kith_be_get(b, 8);
    rc = meta_get(t, mb->meta, "total", b, TOTAL_VAL);
  }
  if (rc)
    goto out;
  ty.count = kith_be_get(b, 8), ty.bytes = kith_be_get(b + 8, 8),
  ty.boxes = kith_be_get(b + 16, 8);
  for (size_t i = 0; i < n && rc == 0; i++) {
    struct kith_mb_op *op = &ops[i];
    if (op->kind == KITH_MB_PUT)
      rc = puts ? do_put(mb, t, &ty, op, now_s) : (op->err = KITH_RERR_BUSY, 0);
    else if (op->kind == KITH_MB_DEL)
      rc = do_del(mb, t, &ty, op);
    else
      op->err = KITH_RERR_MALFORMED;
  }
  if (!rc && sweep)
    rc = sweep_expired(mb, t, &ty, now_s, sweep, swept);
  if (!rc) {
    kith_be_put(b, ty.eid, 8);
    rc = meta_put(t, mb->meta, "eid", b, 8);
  }
  if (!rc) {
    kith_be_put(b, ty.count, 8), kith_be_put(b + 8, ty.bytes, 8),
        kith_be_put(b + 16, ty.boxes, 8);
    rc = meta_put(t, mb->meta, "total", b, TOTAL_VAL);
  }
  if (!rc) {
    rc = kith_mdb_err(mdb_txn_commit(t)); /* fsync: the point of it all */
    t = NULL;
  }
out:
  if (t)
    mdb_txn_abort(t);
  if (rc) {
    *swept = 0;
    for (size_t i = 0; i < n; i++)
      ops[i].err = KITH_RERR_BUSY, ops[i].value = 0;
  }
  return rc;
}

int kith_mailbox_apply(kith_mailbox *mb, struct kith_mb_op *ops, size_t n,
                       uint64_t now_s, size_t sweep, size_t *swept)
{
  size_t dummy;
  if (!swept)
    swept = &dummy;
  int rc = apply_once(mb, ops, n, now_s, sweep, swept, true);
  if (rc != KITH_EFULL)
    return rc;
  /* Full: nothing of the first try was written. Deletes and the sweep free room,
   * so they go again; every deposit is answered busy. */
  int rc2 = apply_once(mb, ops, n, now_s, sweep, swept, false);
  return rc2 ? rc2 : KITH_EFULL;
}

/* ---- reads ----------------------------------------------------------------------- */

static int read_begin(kith_mailbox *mb)
{
  int rc = mb->rtxn ? mdb_txn_renew(mb->rtxn)
                    : mdb_txn_begin(mb->env, NULL, MDB_RDONLY, &mb->rtxn);
  if (rc && mb->rtxn) {
    mdb_txn_abort(mb->rtxn);
    mb->rtxn = NULL;
  }
  return kith_mdb_err(rc);
}

static void read_end(kith_mailbox *mb)
{
  mdb_txn_reset(mb->rtxn); /* releases the snapshot; renewed on the next read */
}

int kith_mailbox_next(kith_mailbox *mb, const uint8_t owner[static KITH_RMSG_KEY_LEN],
                      uint64_t after, uint64_t now_s, struct kith_mb_entry *out)
{
  MDB_cursor *c = NULL;
  uint8_t ek[ENV_KEY];
  int rc = read_begin(mb);
  if (rc)
    return rc;
  memset(out, 0, sizeof *out);
  if (after == UINT64_MAX) {
    rc = KITH_ENOTFOUND;
    goto out;
  }
  if ((rc = kith_mdb_err(mdb_cursor_open(mb->rtxn, mb->envs, &c))) != 0)
    goto out;
  env_key(ek, owner, after + 1);
  MDB_val k = {ENV_KEY, ek}, v;
  int m = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
  rc = KITH_ENOTFOUND;
  for (; m == 0; m = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    if (k.mv_size != ENV_KEY || memcmp(k.mv_data, owner, KEY_LEN) != 0)
      break; /* past the owner's envelopes */
    if (v.mv_size < ENV_HDR) {
      rc = KITH_ECORRUPT;
      break;
    }
    const uint8_t *p = v.mv_data;
    uint64_t expiry = kith_be_get(p + BOX_LEN, 8);
    if (expiry <= now_s)
      continue; /* expired: the next sweep deletes it */
    out->eid = kith_be_get((const uint8_t *)k.mv_data + KEY_LEN, 8);
    memcpy(out->box, p, BOX_LEN);
    out->size = v.mv_size - ENV_HDR;
    out->expiry = expiry;
    rc = 0;
    break;
  }
  if (m != 0 && m != MDB_NOTFOUND)
    rc = kith_mdb_err(m);
out:
  if (c)
    mdb_cursor_close(c);
  read_end(mb);
  return rc;
}

int kith_mailbox_read(kith_mailbox *mb, const uint8_t owner[static KITH_RMSG_KEY_LEN],
                      uint64_t eid, uint64_t off, uint8_t *buf, size_t len)
{
  uint8_t ek[ENV_KEY];
  int rc = read_begin(mb);
  if (rc)
    return rc;
  env_key(ek, owner, eid);
  MDB_val k = {ENV_KEY, ek}, v;
  rc = kith_mdb_err(mdb_get(mb->rtxn, mb->envs, &k, &v));
  if (rc == 0 && v.mv_size < ENV_HDR)
    rc = KITH_ECORRUPT;
  if (rc == 0 && (off > v.mv_size - ENV_HDR || len > v.mv_size - ENV_HDR - off))
    rc = KITH_ENOTFOUND;
  if (rc == 0 && len)
    memcpy(buf, (const uint8_t *)v.mv_data + ENV_HDR + off, len);
  read_end(mb);
  return rc;
}

int kith_mailbox_usage(kith_mailbox *mb, const uint8_t *owner, uint64_t *count,
                       uint64_t *bytes, uint64_t *boxes)
{
  uint8_t b[TOTAL_VAL];
  uint64_t c = 0, y = 0, x = 0;
  int rc = read_begin(mb);
  if (rc)
    return rc;
  if (!owner) {
    rc = meta_get(mb->rtxn, mb->meta, "total", b, TOTAL_VAL);
    if (rc == 0)
      c = kith_be_get(b, 8), y = kith_be_get(b + 8, 8), x = kith_be_get(b + 16, 8);
  } else {
    MDB_val k = {KEY_LEN, (void *)owner}, v;
    rc = kith_mdb_err(mdb_get(mb->rtxn, mb->owners, &k, &v));
    if (rc == 0 && v.mv_size != OWNER_VAL)
      rc = KITH_ECORRUPT;
    if (rc == 0) {
      const uint8_t *p = v.mv_data;
      c = kith_be_get(p, 4), y = kith_be_get(p + 4, 8), x = kith_be_get(p + 12, 4);
    } else if (rc == KITH_ENOTFOUND) {
      rc = 0; /* an owner with nothing stored */
    }
  }
  read_end(mb);
  if (rc == 0) {
    if (count)
      *count = c;
    if (bytes)
      *bytes = y;
    if (boxes)
      *boxes = x;
  }
  return rc;
}
