#include "core/store.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fold.h"
#include "core/model.h"
#include "proto/hex.h"

/*
 * Layout (LMDB named databases):
 *   meta   "schema" u32, "epoch" 16 bytes, "file" (st_dev, st_ino) of data.mdb,
 *          "hlc" u64, "seq" + space u32 -> u64, "pk", "sk", "device", "name", "label"
 *   regs   ent(16) field(1) [elem(16)]      -> stored register (proto/reg.h)
 *   log    space(4) seq(8), big-endian       -> register key
 *   kinds  kind(1) ent(16)                   -> ""        (schema 2)
 *   tags   folded tag, 0, ent(16)            -> ""        (schema 2)
 *   notes  contact(16) note(16)              -> ""        (schema 2)
 * Integers in keys are big-endian so that LMDB's byte order is numeric order.
 * Schema 1 had no derived indexes; migration to 2 builds them (kith_txn_reindex).
 */

#define DEFAULT_MAP_SIZE ((size_t)16 << 30)
#define REGKEY_MAX (KITH_ID_LEN + 1 + KITH_ID_LEN)

struct kith_store {
  MDB_env *env;
  MDB_dbi meta, regs, log, kinds, tags, notes;
  uint64_t (*now_ms)(void);
  uint8_t device_id[KITH_DEVICE_ID_LEN];
};

struct kith_txn {
  kith_store *st;
  MDB_txn *txn;
  bool write;
  bool have_hlc;
  uint64_t hlc;  /* this transaction's clock; written back on commit */
};

/* The kind register holds the kind's name: readable in dumps, fixed in tests. */
static int kind_of(const struct kith_value *v)
{
  if (!v || !v->p[0])
    return 0;
  if (strcmp(v->p[0], "contact") == 0)
    return KITH_KIND_CONTACT;
  if (strcmp(v->p[0], "note") == 0)
    return KITH_KIND_NOTE;
  return 0;
}

static int map_err(int rc)
{
  switch (rc) {
  case 0:
    return 0;
  case MDB_NOTFOUND:
    return KITH_ENOTFOUND;
  case MDB_MAP_FULL:
  case ENOSPC:
  case EFBIG:
  case EDQUOT:
    return KITH_EFULL;
  case ENOMEM:
    return KITH_ENOMEM;
  case EACCES:
  case EROFS:
  case EPERM:
    return KITH_EREADONLY;
  case MDB_CORRUPTED:
  case MDB_PAGE_NOTFOUND:
  case MDB_INVALID:
  case MDB_VERSION_MISMATCH:
    return KITH_ECORRUPT;
  case MDB_READERS_FULL:
  case EAGAIN:
    return KITH_EBUSY;
  default:
    return KITH_EIO;
  }
}

static void be_put(uint8_t *p, uint64_t v, int n)
{
  for (int i = n - 1; i >= 0; i--, v >>= 8)
    p[i] = (uint8_t)v;
}

static uint64_t be_get(const uint8_t *p, int n)
{
  uint64_t v = 0;
  for (int i = 0; i < n; i++)
    v = v << 8 | p[i];
  return v;
}

/* ---- meta ---------------------------------------------------------------- */

static int meta_get(kith_txn *t, const char *k, void *buf, size_t *len)
{
  MDB_val key = {strlen(k), (void *)k}, val;
  int rc = mdb_get(t->txn, t->st->meta, &key, &val);
  if (rc)
    return map_err(rc);
  if (val.mv_size > *len)
    return KITH_ECORRUPT;
  memcpy(buf, val.mv_data, val.mv_size);
  *len = val.mv_size;
  return 0;
}

static int meta_get_exact(kith_txn *t, const char *k, void *buf, size_t len)
{
  size_t n = len;
  int rc = meta_get(t, k, buf, &n);
  if (rc == 0 && n != len)
    rc = KITH_ECORRUPT;
  return rc;
}

static int meta_put(kith_txn *t, const char *k, const void *buf, size_t len)
{
  MDB_val key = {strlen(k), (void *)k}, val = {len, (void *)buf};
  return map_err(mdb_put(t->txn, t->st->meta, &key, &val, 0));
}

static int meta_get_u64(kith_txn *t, const char *k, uint64_t *v)
{
  uint8_t b[8];
  int rc = meta_get_exact(t, k, b, 8);
  if (rc == 0)
    *v = be_get(b, 8);
  return rc;
}

static int meta_put_u64(kith_txn *t, const char *k, uint64_t v)
{
  uint8_t b[8];
  be_put(b, v, 8);
  return meta_put(t, k, b, 8);
}

static void seq_key(char out[16], uint32_t space)
{
  snprintf(out, 16, "seq%08x", (unsigned)space);
}

/* ---- open ---------------------------------------------------------------- */

static uint64_t no_clock(void) { return 0; }

static int env_open(const char *home, const struct kith_store_opts *opts,
                    kith_store **out)
{
  kith_store *st = calloc(1, sizeof *st);
  if (!st)
    return KITH_ENOMEM;
  st->now_ms = opts && opts->now_ms ? opts->now_ms : no_clock;
  size_t map = opts && opts->map_size ? opts->map_size : DEFAULT_MAP_SIZE;
  int rc = mdb_env_create(&st->env);
  if (rc == 0)
    rc = mdb_env_set_maxdbs(st->env, 8);
  if (rc == 0)
    rc = mdb_env_set_mapsize(st->env, map);
  if (rc == 0)
    rc = mdb_env_open(st->env, home, 0, 0600);
  if (rc) {
    if (st->env)
      mdb_env_close(st->env);
    free(st);
    return rc == ENOENT ? KITH_ENOSTORE : map_err(rc);
  }
  int dead = 0;
  mdb_reader_check(st->env, &dead); /* clear readers of killed processes */
  *out = st;
  return 0;
}

static int open_dbis(kith_txn *t, unsigned flags)
{
  kith_store *st = t->st;
  int rc = mdb_dbi_open(t->txn, "meta", flags, &st->meta);
  if (rc == 0)
    rc = mdb_dbi_open(t->txn, "regs", flags, &st->regs);
  if (rc == 0)
    rc = mdb_dbi_open(t->txn, "log", flags, &st->log);
  if (rc == 0)
    rc = mdb_dbi_open(t->txn, "kinds", flags, &st->kinds);
  if (rc == 0)
    rc = mdb_dbi_open(t->txn, "tags", flags, &st->tags);
  if (rc == 0)
    rc = mdb_dbi_open(t->txn, "notes", flags, &st->notes);
  return rc;
}

static int file_id(const char *home, uint8_t out[16])
{
  char path[4096];
  struct stat sb;
  if ((size_t)snprintf(path, sizeof path, "%s/data.mdb", home) >= sizeof path)
    return KITH_EINVAL;
  if (stat(path, &sb) != 0)
    return KITH_EIO;
  be_put(out, (uint64_t)sb.st_dev, 8);
  be_put(out + 8, (uint64_t)sb.st_ino, 8);
  return 0;
}

static int raw_begin(kith_store *st, bool write, kith_txn **out)
{
  kith_txn *t = calloc(1, sizeof *t);
  if (!t)
    return KITH_ENOMEM;
  t->st = st;
  t->write = write;
  int rc = mdb_txn_begin(st->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
  if (rc == MDB_MAP_RESIZED) {
    mdb_env_set_mapsize(st->env, 0); /* another process grew the map */
    rc = mdb_txn_begin(st->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
  }
  if (rc) {
    free(t);
    return map_err(rc);
  }
  *out = t;
  return 0;
}

/* Migrations: each takes the store from version i to i+1 inside one write
 * transaction; the version is bumped in the same transaction. */
static int migrate_1_to_2(kith_txn *t) { return kith_txn_reindex(t); }

static int (*const migrations[])(kith_txn *) = {
    NULL,           /* 0: never existed */
    migrate_1_to_2, /* 1 -> 2 */
};

/* Opens the named databases for the life of the environment: handles opened in a
 * transaction become shared only when it commits. */
static int open_all(kith_store *st, bool create_and_migrate, uint32_t from,
                    const uint8_t *new_fid)
{
  kith_txn *t = NULL;
  int rc = raw_begin(st, create_and_migrate, &t);
  if (rc)
    return rc;
  rc = map_err(open_dbis(t, create_and_migrate ? MDB_CREATE : 0));
  for (uint32_t v = from; rc == 0 && v < KITH_SCHEMA_VERSION; v++) {
    rc = migrations[v](t);
    if (rc == 0)
      rc = kith_txn_set_schema(t, v + 1);
  }
  if (rc == 0 && new_fid) {
    /* A copy of a store (a backup restored, a folder copied) must not reuse the
     * original's sequence numbers under the same epoch: peers would skip changes. */
    uint8_t epoch[KITH_EPOCH_LEN];
    randombytes_buf(epoch, sizeof epoch);
    rc = meta_put(t, "epoch", epoch, sizeof epoch);
    if (rc == 0)
      rc = meta_put(t, "file", new_fid, 16);
  }
  if (rc) {
    kith_txn_abort(t);
    return rc;
  }
  return kith_txn_commit(t);
}

/* Reads what must be checked before anything is written: the schema version, the
 * device id, the data file's identity. */
static int read_header(kith_store *st, uint32_t *schema, uint8_t fid[16])
{
  kith_txn *t = NULL;
  uint8_t b[4];
  int rc = raw_begin(st, false, &t);
  if (rc)
    return rc;
  rc = mdb_dbi_open(t->txn, "meta", 0, &st->meta);
  if (rc) {
    kith_txn_abort(t);
    return rc == MDB_NOTFOUND ? KITH_ECORRUPT : map_err(rc);
  }
  rc = meta_get_exact(t, "schema", b, 4);
  if (rc == 0 && schema)
    *schema = (uint32_t)be_get(b, 4);
  if (rc == 0)
    rc = meta_get_exact(t, "device", st->device_id, KITH_DEVICE_ID_LEN);
  if (rc == 0 && fid)
    rc = meta_get_exact(t, "file", fid, 16);
  kith_txn_abort(t);
  return rc == KITH_ENOTFOUND ? KITH_ECORRUPT : rc;
}

static int check_and_migrate(kith_store *st, const char *home)
{
  uint8_t fid[16], stored_fid[16];
  uint32_t v = 0;
  int rc = read_header(st, &v, stored_fid);
  if (rc)
    return rc;
  if (v > KITH_SCHEMA_VERSION)
    return KITH_ENEWER;
  if (v == 0)
    return KITH_ECORRUPT;
  if ((rc = file_id(home, fid)) != 0)
    return rc;
  bool copied = memcmp(fid, stored_fid, 16) != 0;
  if (v == KITH_SCHEMA_VERSION && !copied)
    return open_all(st, false, v, NULL);
  return open_all(st, true, v, copied ? fid : NULL);
}

int kith_store_open(const char *home, const struct kith_store_opts *opts,
                    kith_store **out)
{
  char path[4096];
  struct stat sb;
  if ((size_t)snprintf(path, sizeof path, "%s/data.mdb", home) >= sizeof path)
    return KITH_EINVAL;
  if (stat(path, &sb) != 0)
    return KITH_ENOSTORE;
  kith_store *st = NULL;
  int rc = env_open(home, opts, &st);
  if (rc)
    return rc;
  rc = check_and_migrate(st, home);
  if (rc) {
    kith_store_close(st);
    return rc;
  }
  *out = st;
  return 0;
}

int kith_store_schema(const char *home, uint32_t *out)
{
  kith_store *st = NULL;
  char path[4096];
  struct stat sb;
  if ((size_t)snprintf(path, sizeof path, "%s/data.mdb", home) >= sizeof path)
    return KITH_EINVAL;
  if (stat(path, &sb) != 0)
    return KITH_ENOSTORE;
  int rc = env_open(home, NULL, &st);
  if (rc == 0)
    rc = read_header(st, out, NULL);
  kith_store_close(st);
  return rc;
}

int kith_store_init(const char *home, const char *name, const char *label,
                    const struct kith_store_opts *opts, kith_store **out)
{
  char path[4096];
  struct stat sb;
  if (strlen(name) >= KITH_TEXT_MAX || strlen(label) >= KITH_TEXT_MAX)
    return KITH_ETOOBIG;
  if ((size_t)snprintf(path, sizeof path, "%s/data.mdb", home) >= sizeof path)
    return KITH_EINVAL;
  if (stat(path, &sb) == 0)
    return KITH_EEXISTS;
  if (mkdir(home, 0700) != 0 && errno != EEXIST)
    return errno == ENOENT ? KITH_EIO : map_err(errno);
  kith_store *st = NULL;
  kith_txn *t = NULL;
  uint8_t pk[KITH_PK_LEN], sk[KITH_SK_LEN], epoch[KITH_EPOCH_LEN], b[4], fid[16];
  int rc = env_open(home, opts, &st);
  if (rc)
    return rc;
  rc = raw_begin(st, true, &t);
  if (rc)
    goto out;
  rc = map_err(open_dbis(t, MDB_CREATE));
  if (rc)
    goto out;
  crypto_sign_keypair(pk, sk);
  crypto_generichash(st->device_id, KITH_DEVICE_ID_LEN, pk, sizeof pk,
                     (const uint8_t *)"kith device id v1", 17);
  randombytes_buf(epoch, sizeof epoch);
  be_put(b, KITH_SCHEMA_VERSION, 4);
  rc = meta_put(t, "schema", b, 4);
  if (rc == 0)
    rc = meta_put(t, "pk", pk, sizeof pk);
  if (rc == 0)
    rc = meta_put(t, "sk", sk, sizeof sk);
  if (rc == 0)
    rc = meta_put(t, "device", st->device_id, KITH_DEVICE_ID_LEN);
  if (rc == 0)
    rc = meta_put(t, "epoch", epoch, sizeof epoch);
  if (rc == 0)
    rc = meta_put(t, "name", name, strlen(name));
  if (rc == 0)
    rc = meta_put(t, "label", label, strlen(label));
  if (rc == 0)
    rc = meta_put_u64(t, "hlc", 0);
  if (rc == 0)
    rc = file_id(home, fid);
  if (rc == 0)
    rc = meta_put(t, "file", fid, 16);
  if (rc == 0) {
    rc = kith_txn_commit(t);
    t = NULL;
  }
out:
  sodium_memzero(sk, sizeof sk);
  kith_txn_abort(t);
  if (rc) {
    kith_store_close(st);
    return rc;
  }
  *out = st;
  return 0;
}

void kith_store_close(kith_store *st)
{
  if (!st)
    return;
  mdb_env_close(st->env);
  free(st);
}

/* ---- transactions -------------------------------------------------------- */

int kith_txn_begin(kith_store *st, bool write, kith_txn **out)
{
  return raw_begin(st, write, out);
}

int kith_txn_commit(kith_txn *t)
{
  int rc = 0;
  if (t->write && t->have_hlc)
    rc = meta_put_u64(t, "hlc", t->hlc);
  if (rc) {
    kith_txn_abort(t);
    return rc;
  }
  rc = mdb_txn_commit(t->txn);
  free(t);
  return map_err(rc);
}

void kith_txn_abort(kith_txn *t)
{
  if (!t)
    return;
  mdb_txn_abort(t->txn);
  free(t);
}

static int load_hlc(kith_txn *t)
{
  if (t->have_hlc)
    return 0;
  int rc = meta_get_u64(t, "hlc", &t->hlc);
  if (rc == KITH_ENOTFOUND)
    t->hlc = 0, rc = 0;
  if (rc == 0)
    t->have_hlc = true;
  return rc;
}

int kith_txn_identity(kith_txn *t, struct kith_identity *id)
{
  memset(id, 0, sizeof *id);
  size_t n = sizeof id->name - 1;
  uint8_t b[4];
  int rc = meta_get(t, "name", id->name, &n);
  if (rc == 0)
    n = sizeof id->label - 1, rc = meta_get(t, "label", id->label, &n);
  if (rc == 0)
    rc = meta_get_exact(t, "pk", id->pk, KITH_PK_LEN);
  if (rc == 0)
    rc = meta_get_exact(t, "epoch", id->epoch, KITH_EPOCH_LEN);
  if (rc == 0)
    rc = meta_get_exact(t, "schema", b, 4);
  if (rc == 0)
    id->schema = (uint32_t)be_get(b, 4);
  memcpy(id->device_id, t->st->device_id, KITH_DEVICE_ID_LEN);
  return rc;
}

int kith_txn_secret_key(kith_txn *t, uint8_t sk[static KITH_SK_LEN])
{
  return meta_get_exact(t, "sk", sk, KITH_SK_LEN);
}

int kith_txn_set_schema(kith_txn *t, uint32_t version)
{
  uint8_t b[4];
  be_put(b, version, 4);
  return meta_put(t, "schema", b, 4);
}

int kith_txn_stamp(kith_txn *t, struct kith_stamp *out)
{
  if (!t->write)
    return KITH_EINVAL;
  int rc = load_hlc(t);
  if (rc)
    return rc;
  rc = kith_hlc_next(t->hlc, t->st->now_ms(), &t->hlc);
  if (rc)
    return rc;
  out->hlc = t->hlc;
  memcpy(out->dev, t->st->device_id, KITH_DEVICE_ID_LEN);
  return 0;
}

int kith_txn_seq(kith_txn *t, uint32_t space, uint64_t *out)
{
  char k[16];
  seq_key(k, space);
  int rc = meta_get_u64(t, k, out);
  if (rc == KITH_ENOTFOUND)
    *out = 0, rc = 0;
  return rc;
}

/* ---- registers ----------------------------------------------------------- */

static size_t reg_key(const struct kith_reg *r, uint8_t k[REGKEY_MAX])
{
  memcpy(k, r->ent, KITH_ID_LEN);
  k[KITH_ID_LEN] = r->field;
  if (!r->has_elem)
    return KITH_ID_LEN + 1;
  memcpy(k + KITH_ID_LEN + 1, r->elem, KITH_ID_LEN);
  return REGKEY_MAX;
}

/* Fills r's address from a register key. */
static int key_to_reg(const MDB_val *k, struct kith_reg *r)
{
  if (k->mv_size != KITH_ID_LEN + 1 && k->mv_size != REGKEY_MAX)
    return KITH_ECORRUPT;
  const uint8_t *p = k->mv_data;
  memcpy(r->ent, p, KITH_ID_LEN);
  r->field = p[KITH_ID_LEN];
  r->has_elem = k->mv_size == REGKEY_MAX;
  if (r->has_elem)
    memcpy(r->elem, p + KITH_ID_LEN + 1, KITH_ID_LEN);
  else
    memset(r->elem, 0, KITH_ID_LEN);
  return 0;
}

static int decode_at(const MDB_val *k, const MDB_val *v, struct kith_reg *r)
{
  int rc = kith_reg_decode_stored(v->mv_data, v->mv_size, r);
  if (rc)
    return rc == KITH_ENOMEM ? rc : KITH_ECORRUPT;
  return key_to_reg(k, r);
}

int kith_txn_get(kith_txn *t, const uint8_t ent[static KITH_ID_LEN],
                 uint8_t field, const uint8_t *elem, struct kith_reg *out)
{
  uint8_t k[REGKEY_MAX];
  memcpy(k, ent, KITH_ID_LEN);
  k[KITH_ID_LEN] = field;
  if (elem)
    memcpy(k + KITH_ID_LEN + 1, elem, KITH_ID_LEN);
  MDB_val key = {elem ? REGKEY_MAX : KITH_ID_LEN + 1, k}, val;
  int rc = mdb_get(t->txn, t->st->regs, &key, &val);
  if (rc)
    return map_err(rc);
  return decode_at(&key, &val, out);
}

/* ---- derived indexes ----------------------------------------------------- */

static int tag_key(const struct kith_reg *r, uint8_t *k, size_t *n)
{
  char *f = NULL;
  if (!r->val || !r->val->p[0])
    return KITH_ENOTFOUND;
  int rc = kith_fold(r->val->p[0], &f);
  if (rc)
    return rc;
  size_t fl = strlen(f);
  if (fl > 400) { /* LMDB keys stop at 511 bytes; kith_value_check keeps tags short */
    free(f);
    return KITH_ETOOBIG;
  }
  memcpy(k, f, fl);
  k[fl] = 0;
  memcpy(k + fl + 1, r->ent, KITH_ID_LEN);
  *n = fl + 1 + KITH_ID_LEN;
  free(f);
  return 0;
}

static int note_key(const struct kith_reg *r, uint8_t k[32])
{
  if (!r->val || !r->val->p[0] || kith_hex_decode(r->val->p[0], k, KITH_ID_LEN) != 0)
    return KITH_ENOTFOUND;
  memcpy(k + KITH_ID_LEN, r->ent, KITH_ID_LEN);
  return 0;
}

static int idx_del(kith_txn *t, MDB_dbi dbi, void *k, size_t n)
{
  MDB_val key = {n, k};
  int rc = mdb_del(t->txn, dbi, &key, NULL);
  return rc == MDB_NOTFOUND ? 0 : map_err(rc);
}

static int idx_put(kith_txn *t, MDB_dbi dbi, void *k, size_t n)
{
  MDB_val key = {n, k}, val = {0, ""};
  return map_err(mdb_put(t->txn, dbi, &key, &val, 0));
}

/* Adds (add=true) or removes the index entries that register r's live value
 * implies. Registers that are not live imply none. */
static int index_reg(kith_txn *t, const struct kith_reg *r, bool add)
{
  uint8_t k[512];
  size_t n;
  int rc;
  if (!kith_reg_live(r))
    return 0;
  if (r->field == KITH_F_KIND && !r->has_elem) {
    if (!kind_of(r->val))
      return 0;
    k[0] = (uint8_t)kind_of(r->val);
    memcpy(k + 1, r->ent, KITH_ID_LEN);
    n = 1 + KITH_ID_LEN;
    return add ? idx_put(t, t->st->kinds, k, n) : idx_del(t, t->st->kinds, k, n);
  }
  if (r->field == KITH_F_TAGS && r->has_elem) {
    rc = tag_key(r, k, &n);
    if (rc)
      return rc == KITH_ENOTFOUND ? 0 : rc;
    return add ? idx_put(t, t->st->tags, k, n) : idx_del(t, t->st->tags, k, n);
  }
  if (r->field == KITH_F_NOTE_CONTACT && !r->has_elem) {
    if (note_key(r, k) != 0)
      return 0;
    return add ? idx_put(t, t->st->notes, k, 32) : idx_del(t, t->st->notes, k, 32);
  }
  return 0;
}

static int log_key(uint8_t k[12], uint32_t space, uint64_t seq)
{
  be_put(k, space, 4);
  be_put(k + 4, seq, 8);
  return 0;
}

/* Removes a stored register and everything that points at it. */
static int drop_reg(kith_txn *t, MDB_cursor *c, const struct kith_reg *old)
{
  uint8_t lk[12];
  log_key(lk, old->space, old->seq);
  int rc = idx_del(t, t->st->log, lk, 12);
  if (rc == 0)
    rc = index_reg(t, old, false);
  if (rc == 0)
    rc = map_err(mdb_cursor_del(c, 0));
  return rc;
}

/* Writes r (its state final) as the register's new state with the next sequence
 * number of its space; old (may be NULL) is what it replaces. */
static int store_reg(kith_txn *t, struct kith_reg *r, const struct kith_reg *old)
{
  uint8_t k[REGKEY_MAX], lk[12];
  char sk[16];
  uint64_t seq;
  int rc;
  if (old) {
    log_key(lk, old->space, old->seq);
    if ((rc = idx_del(t, t->st->log, lk, 12)) != 0 ||
        (rc = index_reg(t, old, false)) != 0)
      return rc;
  }
  if ((rc = kith_txn_seq(t, r->space, &seq)) != 0)
    return rc;
  r->seq = ++seq;
  seq_key(sk, r->space);
  if ((rc = meta_put_u64(t, sk, seq)) != 0)
    return rc;
  uint8_t *buf = NULL;
  size_t len = 0;
  if ((rc = kith_reg_encode_stored(r, &buf, &len)) != 0)
    return rc;
  size_t kn = reg_key(r, k);
  MDB_val key = {kn, k}, val = {len, buf};
  rc = map_err(mdb_put(t->txn, t->st->regs, &key, &val, 0));
  free(buf);
  if (rc)
    return rc;
  log_key(lk, r->space, r->seq);
  MDB_val lkey = {12, lk}, lval = {kn, k};
  if ((rc = map_err(mdb_put(t->txn, t->st->log, &lkey, &lval, 0))) != 0)
    return rc;
  return index_reg(t, r, true);
}

/* After a tombstone: every other register of the record goes. */
static int purge_record(kith_txn *t, const uint8_t ent[KITH_ID_LEN])
{
  MDB_cursor *c = NULL;
  uint8_t k[KITH_ID_LEN + 1];
  memcpy(k, ent, KITH_ID_LEN);
  k[KITH_ID_LEN] = KITH_F_KIND + 1;
  int rc = map_err(mdb_cursor_open(t->txn, t->st->regs, &c));
  while (rc == 0) {
    MDB_val key = {sizeof k, k}, val;
    int m = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
    if (m == MDB_NOTFOUND || (m == 0 && (key.mv_size < KITH_ID_LEN ||
                                         memcmp(key.mv_data, ent, KITH_ID_LEN) != 0)))
      break;
    if (m) {
      rc = map_err(m);
      break;
    }
    struct kith_reg old = {0};
    rc = decode_at(&key, &val, &old);
    if (rc == 0)
      rc = drop_reg(t, c, &old);
    kith_reg_clear(&old);
  }
  mdb_cursor_close(c);
  return rc;
}

int kith_txn_put(kith_txn *t, const struct kith_reg *in, bool *changed)
{
  bool moved = false;
  struct kith_reg cur = {0}, kind = {0};
  int rc;
  if (changed)
    *changed = false;
  if (!t->write)
    return KITH_EINVAL;
  if (in->stamp.hlc == 0 || (!in->has_elem && in->rem.hlc != 0))
    return KITH_EBADMSG;
  if ((rc = load_hlc(t)) != 0)
    return rc;
  uint64_t now = t->st->now_ms(), h = t->hlc;
  if ((rc = kith_hlc_observe(h, in->stamp.hlc, now, &h)) != 0 ||
      (rc = kith_hlc_observe(h, in->rem.hlc, now, &h)) != 0)
    return rc;
  t->hlc = h;

  /* Nothing is kept for a deleted record but its tombstone. */
  if (!(in->field == KITH_F_KIND && !in->has_elem)) {
    rc = kith_txn_get(t, in->ent, KITH_F_KIND, NULL, &kind);
    bool dead = rc == 0 && kind.val == NULL;
    kith_reg_clear(&kind);
    if (rc && rc != KITH_ENOTFOUND)
      return rc;
    if (dead)
      return 0;
  }

  rc = kith_txn_get(t, in->ent, in->field, in->has_elem ? in->elem : NULL, &cur);
  if (rc == KITH_ENOTFOUND) {
    if ((rc = kith_reg_copy(&cur, in)) != 0)
      return rc;
    if (cur.has_elem && kith_stamp_cmp(&cur.stamp, &cur.rem) <= 0) {
      kith_value_free(cur.val); /* arrived already removed: no value to keep */
      cur.val = NULL;
    }
    cur.space = in->space ? in->space : KITH_SPACE_SELF;
    rc = store_reg(t, &cur, NULL);
    moved = true;
  } else if (rc == 0) {
    struct kith_reg old;
    if ((rc = kith_reg_copy(&old, &cur)) != 0)
      goto out;
    rc = kith_reg_merge(&cur, in, &moved);
    if (rc == 0 && moved)
      rc = store_reg(t, &cur, &old);
    kith_reg_clear(&old);
  }
  if (rc == 0 && moved && cur.field == KITH_F_KIND && !cur.has_elem &&
      cur.val == NULL)
    rc = purge_record(t, cur.ent);
out:
  kith_reg_clear(&cur);
  if (rc == 0 && changed)
    *changed = moved;
  return rc;
}

/* ---- reading ------------------------------------------------------------- */

void kith_record_free(struct kith_record *rec)
{
  if (!rec)
    return;
  for (size_t i = 0; i < rec->n; i++)
    kith_reg_clear(&rec->regs[i]);
  free(rec->regs);
  free(rec);
}

int kith_record_load(kith_txn *t, const uint8_t id[static KITH_ID_LEN],
                     struct kith_record **out)
{
  MDB_cursor *c = NULL;
  MDB_val key = {KITH_ID_LEN, (void *)id}, val;
  struct kith_record *rec = calloc(1, sizeof *rec);
  size_t cap = 0;
  int rc;
  if (!rec)
    return KITH_ENOMEM;
  memcpy(rec->id, id, KITH_ID_LEN);
  if ((rc = map_err(mdb_cursor_open(t->txn, t->st->regs, &c))) != 0)
    goto out;
  int m = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
  for (; m == 0; m = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
    if (key.mv_size < KITH_ID_LEN || memcmp(key.mv_data, id, KITH_ID_LEN) != 0)
      break;
    if (rec->n == cap) {
      size_t ncap = cap ? cap * 2 : 16;
      struct kith_reg *nr = realloc(rec->regs, ncap * sizeof *nr);
      if (!nr) {
        rc = KITH_ENOMEM;
        goto out;
      }
      rec->regs = nr, cap = ncap;
    }
    struct kith_reg *r = &rec->regs[rec->n];
    memset(r, 0, sizeof *r);
    if ((rc = decode_at(&key, &val, r)) != 0)
      goto out;
    rec->n++;
    if (r->field == KITH_F_KIND && !r->has_elem) {
      rec->created = r->stamp;
      rec->deleted = r->val == NULL;
      rec->kind = kind_of(r->val);
    }
    if (kith_stamp_cmp(&r->stamp, &rec->updated) > 0)
      rec->updated = r->stamp;
  }
  if (m != 0 && m != MDB_NOTFOUND) {
    rc = map_err(m);
    goto out;
  }
  if (rec->n == 0) {
    rc = KITH_ENOTFOUND;
    goto out;
  }
  *out = rec;
  rec = NULL;
out:
  mdb_cursor_close(c);
  kith_record_free(rec);
  return rc;
}

static int each_prefix(kith_txn *t, MDB_dbi dbi, const uint8_t *prefix,
                       size_t plen, kith_id_cb cb, void *arg)
{
  MDB_cursor *c = NULL;
  MDB_val key = {plen, (void *)prefix}, val;
  int rc = map_err(mdb_cursor_open(t->txn, dbi, &c));
  if (rc)
    return rc;
  int m = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
  for (; m == 0; m = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
    if (key.mv_size != plen + KITH_ID_LEN ||
        memcmp(key.mv_data, prefix, plen) != 0)
      break;
    uint8_t id[KITH_ID_LEN];
    memcpy(id, (uint8_t *)key.mv_data + plen, KITH_ID_LEN);
    if ((rc = cb(arg, id)) != 0)
      break;
  }
  if (rc == 0 && m != 0 && m != MDB_NOTFOUND)
    rc = map_err(m);
  mdb_cursor_close(c);
  return rc;
}

int kith_kind_each(kith_txn *t, int kind, kith_id_cb cb, void *arg)
{
  uint8_t k = (uint8_t)kind;
  return each_prefix(t, t->st->kinds, &k, 1, cb, arg);
}

int kith_tag_each(kith_txn *t, const char *tag, kith_id_cb cb, void *arg)
{
  char *f = NULL;
  int rc = kith_fold(tag, &f);
  if (rc)
    return rc;
  size_t n = strlen(f);
  if (n > 400) {
    free(f);
    return 0; /* no tag that long is ever indexed */
  }
  uint8_t k[402];
  memcpy(k, f, n);
  k[n] = 0;
  free(f);
  return each_prefix(t, t->st->tags, k, n + 1, cb, arg);
}

int kith_notes_each(kith_txn *t, const uint8_t contact[static KITH_ID_LEN],
                    kith_id_cb cb, void *arg)
{
  return each_prefix(t, t->st->notes, contact, KITH_ID_LEN, cb, arg);
}

struct resolve_ctx {
  kith_txn *t;
  int kind;
  int found;
  uint8_t id[KITH_ID_LEN];
};

int kith_record_resolve(kith_txn *t, int kind, const char *prefix,
                        uint8_t id[static KITH_ID_LEN])
{
  size_t n = strlen(prefix);
  uint8_t lo[1 + KITH_ID_LEN] = {(uint8_t)kind}, hi[1 + KITH_ID_LEN];
  if (n == 0 || n > 2 * KITH_ID_LEN)
    return KITH_EINVAL;
  for (size_t i = 0; i < n; i++) {
    char ch = prefix[i];
    int v = ch >= '0' && ch <= '9'   ? ch - '0'
            : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
            : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                     : -1;
    if (v < 0)
      return KITH_EINVAL;
    lo[1 + i / 2] |= (uint8_t)(i % 2 ? v : v << 4);
  }
  /* hi: the prefix with every following bit set */
  memcpy(hi, lo, sizeof hi);
  for (size_t i = n; i < 2 * KITH_ID_LEN; i++)
    hi[1 + i / 2] |= (uint8_t)(i % 2 ? 0x0f : 0xf0);

  MDB_cursor *c = NULL;
  MDB_val key = {sizeof lo, lo}, val;
  int found = 0;
  int rc = map_err(mdb_cursor_open(t->txn, t->st->kinds, &c));
  if (rc)
    return rc;
  int m = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
  for (; m == 0 && found < 2; m = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
    if (key.mv_size != sizeof hi || memcmp(key.mv_data, hi, sizeof hi) > 0)
      break;
    if (found == 0)
      memcpy(id, (uint8_t *)key.mv_data + 1, KITH_ID_LEN);
    found++;
  }
  mdb_cursor_close(c);
  if (m != 0 && m != MDB_NOTFOUND)
    return map_err(m);
  return found == 0 ? KITH_ENOTFOUND : found > 1 ? KITH_EAMBIGUOUS : 0;
}

int kith_log_each(kith_txn *t, uint32_t space, uint64_t after, kith_reg_cb cb,
                  void *arg)
{
  MDB_cursor *c = NULL;
  uint8_t lk[12];
  log_key(lk, space, after + 1);
  MDB_val key = {12, lk}, val;
  int rc = map_err(mdb_cursor_open(t->txn, t->st->log, &c));
  if (rc)
    return rc;
  int m = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
  for (; m == 0; m = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
    if (key.mv_size != 12 || be_get(key.mv_data, 4) != space)
      break;
    MDB_val rk = val, rv;
    struct kith_reg r = {0};
    if ((rc = map_err(mdb_get(t->txn, t->st->regs, &rk, &rv))) != 0)
      break;
    if ((rc = decode_at(&rk, &rv, &r)) == 0)
      rc = cb(arg, &r);
    kith_reg_clear(&r);
    if (rc)
      break;
  }
  if (rc == 0 && m != 0 && m != MDB_NOTFOUND)
    rc = map_err(m);
  mdb_cursor_close(c);
  return rc == KITH_ENOTFOUND ? KITH_ECORRUPT : rc;
}

int kith_reg_each(kith_txn *t, kith_reg_cb cb, void *arg)
{
  MDB_cursor *c = NULL;
  MDB_val key, val;
  int rc = map_err(mdb_cursor_open(t->txn, t->st->regs, &c));
  if (rc)
    return rc;
  int m = mdb_cursor_get(c, &key, &val, MDB_FIRST);
  for (; m == 0; m = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
    struct kith_reg r = {0};
    if ((rc = decode_at(&key, &val, &r)) == 0)
      rc = cb(arg, &r);
    kith_reg_clear(&r);
    if (rc)
      break;
  }
  if (rc == 0 && m != 0 && m != MDB_NOTFOUND)
    rc = map_err(m);
  mdb_cursor_close(c);
  return rc;
}

static int digest_one(void *arg, const struct kith_reg *r)
{
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc = kith_reg_encode_canonical(r, &buf, &len);
  if (rc)
    return rc;
  crypto_generichash_update(arg, buf, len);
  free(buf);
  return 0;
}

int kith_store_digest(kith_txn *t, uint8_t out[static 32])
{
  crypto_generichash_state h;
  crypto_generichash_init(&h, NULL, 0, 32);
  int rc = kith_reg_each(t, digest_one, &h);
  if (rc == 0)
    crypto_generichash_final(&h, out, 32);
  return rc;
}

static int reindex_one(void *arg, const struct kith_reg *r)
{
  return index_reg(arg, r, true);
}

int kith_txn_reindex(kith_txn *t)
{
  int rc = map_err(mdb_drop(t->txn, t->st->kinds, 0));
  if (rc == 0)
    rc = map_err(mdb_drop(t->txn, t->st->tags, 0));
  if (rc == 0)
    rc = map_err(mdb_drop(t->txn, t->st->notes, 0));
  if (rc == 0)
    rc = kith_reg_each(t, reindex_one, t);
  return rc;
}
