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
#include "proto/be.h"
#include "proto/hex.h"

/*
 * Layout (LMDB named databases):
 *   meta   "schema" u32, "epoch" 16 bytes, "file" (st_dev, st_ino) of data.mdb,
 *          "hlc" u64, "seq" + space u32 -> u64, "pk", "sk", "device", "name", "label"
 *   recs   ent(16)                          -> stored record (proto/reg.h): all
 *                                               its registers, each with the
 *                                               sequence number it last changed at
 *   log    space(4) seq(8), big-endian       -> ent(16): one entry per record and
 *                                               space, at the record's newest
 *                                               sequence in that space
 *   kinds  kind(1) ent(16)                   -> ""        (schema 2)
 *   tags   folded tag, 0, ent(16)            -> ""        (schema 2)
 *   notes  contact(16) note(16)              -> ""        (schema 2)
 *   local  name                              -> bytes: this device's own state,
 *                                               never synced (invites)  (schema 3)
 * Integers in keys are big-endian so that LMDB's byte order is numeric order.
 *
 * Why a record is one value, and the log has one entry per record and space (as
 * Syncthing keeps one per file, not per block): importing or syncing a contact is
 * a handful of B-tree writes instead of one per field, and a sync that finds a
 * record in the log ships all of that record's registers in the space, so a reader
 * that stops part-way through a sync never skips a change it has not received.
 *
 * Within a write transaction the record last touched is held decoded (t->cur) and
 * written back when another record is touched, before any read of the database,
 * and at commit: a contact written field by field is encoded once.
 * Schema 1 had no derived indexes; migration to 2 builds them (kith_txn_reindex).
 */

#define DEFAULT_MAP_SIZE ((size_t)16 << 30)

struct kith_store {
  MDB_env *env;
  MDB_dbi meta, recs, log, kinds, tags, notes, local;
  uint64_t (*now_ms)(void);
  uint8_t device_id[KITH_DEVICE_ID_LEN];
  bool rdonly;
};

#define SEQ_SLOTS 8    /* spaces one record spans (self and its card's space) */
#define TXN_SPACES 512 /* spaces one transaction writes (a revocation: all) */

/* The record being written, decoded. */
struct cur {
  bool valid, dirty;
  uint8_t ent[KITH_ID_LEN];
  struct kith_reg *regs;
  size_t n, cap;
  /* newest sequence per space when loaded: the log entries it had */
  uint32_t sp[SEQ_SLOTS];
  uint64_t was[SEQ_SLOTS];
  uint64_t now[SEQ_SLOTS]; /* the sequence this session's changes got, or 0 */
  bool tagged[SEQ_SLOTS];  /* the new log entry carries tag[] (kith_txn_tag_log) */
  uint8_t tag[SEQ_SLOTS][KITH_LOG_TAG_LEN];
  int nsp;
};

struct kith_txn {
  kith_store *st;
  MDB_txn *txn;
  bool write;
  bool have_hlc;
  uint64_t hlc; /* this transaction's clock; written back on commit */
  /* sequence counters per space, read once, written back on commit */
  uint32_t seq_sp[TXN_SPACES];
  uint64_t seq_v[TXN_SPACES];
  int nseq;
  struct cur cur;
};

/* The kind register holds the kind's name: readable in dumps, fixed in tests. */
static const char *const kind_names[] = {NULL,
                                         "contact",
                                         "note",
                                         "peer",
                                         "device",
                                         "roster",
                                         [KITH_KIND_MYCARD] = "mycard",
                                         [KITH_KIND_REFERRAL] = "referral",
                                         [KITH_KIND_INTRO] = "intro",
                                         [KITH_KIND_PROPOSAL] = "proposal",
                                         [KITH_KIND_CADENCE] = "cadence"};

const char *kith_kind_name(int kind)
{
  return kind > 0 && kind < (int)(sizeof kind_names / sizeof kind_names[0])
             ? kind_names[kind]
             : NULL;
}

int kith_kind_by_name(const char *name)
{
  for (int k = 1; k < (int)(sizeof kind_names / sizeof kind_names[0]); k++)
    if (kind_names[k] && strcmp(name, kind_names[k]) == 0)
      return k;
  return 0;
}

static int kind_of(const struct kith_value *v)
{
  return v && v->p[0] ? kith_kind_by_name(v->p[0]) : 0;
}

int kith_mdb_err(int rc)
{
  switch (rc) {
  case 0:
    return 0;
  case MDB_NOTFOUND:
    return KITH_ENOTFOUND;
  case MDB_MAP_FULL:
  case MDB_TXN_FULL:
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

/* ---- meta ---------------------------------------------------------------- */

static int meta_get(kith_txn *t, const char *k, void *buf, size_t *len)
{
  MDB_val key = {strlen(k), (void *)k}, val;
  int rc = mdb_get(t->txn, t->st->meta, &key, &val);
  if (rc)
    return kith_mdb_err(rc);
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
  return kith_mdb_err(mdb_put(t->txn, t->st->meta, &key, &val, 0));
}

static int meta_get_u64(kith_txn *t, const char *k, uint64_t *v)
{
  uint8_t b[8];
  int rc = meta_get_exact(t, k, b, 8);
  if (rc == 0)
    *v = kith_be_get(b, 8);
  return rc;
}

static int meta_put_u64(kith_txn *t, const char *k, uint64_t v)
{
  uint8_t b[8];
  kith_be_put(b, v, 8);
  return meta_put(t, k, b, 8);
}

static void seq_key(char out[16], uint32_t space)
{
  snprintf(out, 16, "seq%08x", (unsigned)space);
}

/* ---- open ---------------------------------------------------------------- */

static uint64_t no_clock(void)
{
  return 0;
}

static int env_open(const char *home, const struct kith_store_opts *opts,
                    kith_store **out)
{
  kith_store *st = calloc(1, sizeof *st);
  if (!st)
    return KITH_ENOMEM;
  st->now_ms = opts && opts->now_ms ? opts->now_ms : no_clock;
  size_t map = opts && opts->map_size ? opts->map_size : DEFAULT_MAP_SIZE;
  /* A store on read-only media (a backup on a locked USB stick) can still be read;
   * every write then fails with KITH_EREADONLY. Without a writable lock file LMDB
   * cannot see other writers: fine, as nothing can write there. A failed
   * mdb_env_open leaves its handle unusable, so each try starts afresh. */
  static const unsigned tries[] = {0, MDB_RDONLY, MDB_RDONLY | MDB_NOLOCK};
  int rc = 0;
  for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
    st->env = NULL;
    rc = mdb_env_create(&st->env);
    if (rc == 0)
      rc = mdb_env_set_maxdbs(st->env, 8);
    if (rc == 0)
      rc = mdb_env_set_mapsize(st->env, map);
    if (rc == 0)
      rc = mdb_env_open(st->env, home, tries[i], 0600);
    if (rc == 0) {
      st->rdonly = tries[i] != 0;
      break;
    }
    if (st->env)
      mdb_env_close(st->env);
    st->env = NULL;
    if (rc != EACCES && rc != EROFS)
      break;
  }
  if (rc) {
    free(st);
    return rc == ENOENT ? KITH_ENOSTORE : kith_mdb_err(rc);
  }
  int dead = 0;
  if (!st->rdonly)
    mdb_reader_check(st->env, &dead); /* clear readers of killed processes */
  *out = st;
  return 0;
}

static int open_dbis(kith_txn *t, unsigned flags)
{
  kith_store *st = t->st;
  int rc = mdb_dbi_open(t->txn, "meta", flags, &st->meta);
  if (rc == 0)
    rc = mdb_dbi_open(t->txn, "recs", flags, &st->recs);
  if (rc == 0)
    rc = mdb_dbi_open(t->txn, "log", flags, &st->log);
  if (rc == 0)
    rc = mdb_dbi_open(t->txn, "kinds", flags, &st->kinds);
  if (rc == 0)
    rc = mdb_dbi_open(t->txn, "tags", flags, &st->tags);
  if (rc == 0)
    rc = mdb_dbi_open(t->txn, "notes", flags, &st->notes);
  if (rc == 0)
    rc = mdb_dbi_open(t->txn, "local", flags, &st->local);
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
  kith_be_put(out, (uint64_t)sb.st_dev, 8);
  kith_be_put(out + 8, (uint64_t)sb.st_ino, 8);
  return 0;
}

static int raw_begin(kith_store *st, bool write, kith_txn **out)
{
  if (write && st->rdonly)
    return KITH_EREADONLY;
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
    return kith_mdb_err(rc);
  }
  *out = t;
  return 0;
}

/* Migrations: each takes the store from version i to i+1 inside one write
 * transaction; the version is bumped in the same transaction. */
static int migrate_1_to_2(kith_txn *t)
{
  return kith_txn_reindex(t);
}

/* Schema 3 added the "local" database, which open_dbis creates. */
static int migrate_2_to_3(kith_txn *t)
{
  (void)t;
  return 0;
}

static int (*const migrations[])(kith_txn *) = {
    NULL,           /* 0: never existed */
    migrate_1_to_2, /* 1 -> 2 */
    migrate_2_to_3, /* 2 -> 3 */
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
  rc = open_dbis(t, create_and_migrate ? MDB_CREATE : 0);
  rc =
      rc == MDB_NOTFOUND ? KITH_ECORRUPT : kith_mdb_err(rc); /* a database is missing */
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
    return rc == MDB_NOTFOUND ? KITH_ECORRUPT : kith_mdb_err(rc);
  }
  rc = meta_get_exact(t, "schema", b, 4);
  if (rc == 0 && schema)
    *schema = (uint32_t)kith_be_get(b, 4);
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
  if (st->rdonly && v != KITH_SCHEMA_VERSION)
    return KITH_EREADONLY; /* cannot migrate it here */
  if ((v == KITH_SCHEMA_VERSION && !copied) || st->rdonly)
    return open_all(st, false, v, NULL); /* a read-only copy gives out no numbers */
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
    return errno == ENOENT ? KITH_EIO : kith_mdb_err(errno);
  kith_store *st = NULL;
  kith_txn *t = NULL;
  uint8_t pk[KITH_PK_LEN], sk[KITH_SK_LEN], epoch[KITH_EPOCH_LEN], b[4], fid[16];
  int rc = env_open(home, opts, &st);
  if (rc)
    return rc;
  rc = raw_begin(st, true, &t);
  if (rc)
    goto out;
  rc = kith_mdb_err(open_dbis(t, MDB_CREATE));
  if (rc)
    goto out;
  crypto_sign_keypair(pk, sk);
  crypto_generichash(st->device_id, KITH_DEVICE_ID_LEN, pk, sizeof pk,
                     (const uint8_t *)"kith device id v1", 17);
  randombytes_buf(epoch, sizeof epoch);
  kith_be_put(b, KITH_SCHEMA_VERSION, 4);
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

static int flush(kith_txn *t);
static void cur_reset(struct cur *c);

int kith_txn_commit(kith_txn *t)
{
  int rc = flush(t);
  if (rc == 0 && t->write && t->have_hlc)
    rc = meta_put_u64(t, "hlc", t->hlc);
  for (int i = 0; rc == 0 && i < t->nseq; i++) {
    char k[16];
    seq_key(k, t->seq_sp[i]);
    rc = meta_put_u64(t, k, t->seq_v[i]);
  }
  if (rc) {
    kith_txn_abort(t);
    return rc;
  }
  cur_reset(&t->cur);
  free(t->cur.regs);
  rc = mdb_txn_commit(t->txn);
  free(t);
  return kith_mdb_err(rc);
}

void kith_txn_abort(kith_txn *t)
{
  if (!t)
    return;
  cur_reset(&t->cur);
  free(t->cur.regs);
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
    id->schema = (uint32_t)kith_be_get(b, 4);
  memcpy(id->device_id, t->st->device_id, KITH_DEVICE_ID_LEN);
  return rc;
}

int kith_txn_set_name(kith_txn *t, const char *name)
{
  size_t n = strlen(name);
  if (!t->write || n >= KITH_TEXT_MAX || !kith_utf8_valid(name, n))
    return KITH_EINVAL;
  return meta_put(t, "name", name, n);
}

int kith_txn_secret_key(kith_txn *t, uint8_t sk[static KITH_SK_LEN])
{
  return meta_get_exact(t, "sk", sk, KITH_SK_LEN);
}

int kith_txn_set_schema(kith_txn *t, uint32_t version)
{
  uint8_t b[4];
  kith_be_put(b, version, 4);
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

/* The counter slot of a space, read from meta on first use. */
static int seq_slot(kith_txn *t, uint32_t space, int *slot)
{
  for (int i = 0; i < t->nseq; i++)
    if (t->seq_sp[i] == space) {
      *slot = i;
      return 0;
    }
  if (t->nseq == TXN_SPACES)
    return KITH_ETOOBIG; /* more spaces in one transaction than kith uses */
  char k[16];
  uint64_t v;
  seq_key(k, space);
  int rc = meta_get_u64(t, k, &v);
  if (rc == KITH_ENOTFOUND)
    v = 0, rc = 0;
  if (rc)
    return rc;
  *slot = t->nseq++;
  t->seq_sp[*slot] = space;
  t->seq_v[*slot] = v;
  return 0;
}

int kith_txn_seq(kith_txn *t, uint32_t space, uint64_t *out)
{
  int slot, rc = seq_slot(t, space, &slot);
  if (rc == 0)
    *out = t->seq_v[slot];
  return rc;
}

/* ---- records ------------------------------------------------------------- */

static void cur_reset(struct cur *c)
{
  for (size_t i = 0; i < c->n; i++)
    kith_reg_clear(&c->regs[i]);
  c->n = 0;
  c->nsp = 0;
  c->valid = c->dirty = false;
}

/* Decodes the stored record of ent; KITH_ENOTFOUND if there is none. */
static int read_record(kith_txn *t, const uint8_t ent[KITH_ID_LEN],
                       struct kith_reg **regs, size_t *n)
{
  MDB_val key = {KITH_ID_LEN, (void *)ent}, val;
  int rc = mdb_get(t->txn, t->st->recs, &key, &val);
  if (rc)
    return kith_mdb_err(rc);
  rc = kith_rec_decode(val.mv_data, val.mv_size, ent, regs, n);
  return rc == KITH_EBADMSG ? KITH_ECORRUPT : rc;
}

static int cur_space(struct cur *c, uint32_t space)
{
  for (int i = 0; i < c->nsp; i++)
    if (c->sp[i] == space)
      return i;
  if (c->nsp == SEQ_SLOTS)
    return -1;
  c->sp[c->nsp] = space;
  c->was[c->nsp] = c->now[c->nsp] = 0;
  c->tagged[c->nsp] = false;
  return c->nsp++;
}

/* Writes the held record back, with its log entries. */
static int flush(kith_txn *t)
{
  struct cur *c = &t->cur;
  int rc = 0;
  if (!c->valid || !c->dirty)
    return 0;
  uint64_t after[SEQ_SLOTS] = {0};
  for (size_t i = 0; i < c->n; i++) {
    int s = cur_space(c, c->regs[i].space);
    if (s < 0)
      return KITH_ETOOBIG;
    if (c->regs[i].seq > after[s])
      after[s] = c->regs[i].seq;
  }
  for (int s = 0; rc == 0 && s < c->nsp; s++) {
    uint8_t lk[12];
    if (after[s] == c->was[s])
      continue;
    kith_be_put(lk, c->sp[s], 4);
    if (c->was[s]) {
      kith_be_put(lk + 4, c->was[s], 8);
      MDB_val key = {12, lk};
      int d = mdb_del(t->txn, t->st->log, &key, NULL);
      rc = d == MDB_NOTFOUND ? 0 : kith_mdb_err(d);
    }
    if (rc == 0 && after[s]) {
      uint8_t v[KITH_ID_LEN + KITH_LOG_TAG_LEN];
      memcpy(v, c->ent, KITH_ID_LEN);
      memcpy(v + KITH_ID_LEN, c->tag[s], KITH_LOG_TAG_LEN);
      kith_be_put(lk + 4, after[s], 8);
      MDB_val key = {12, lk},
              val = {c->tagged[s] && after[s] == c->now[s] ? sizeof v : KITH_ID_LEN, v};
      rc = kith_mdb_err(mdb_put(t->txn, t->st->log, &key, &val, 0));
    }
    c->was[s] = after[s];
  }
  if (rc)
    return rc;
  uint8_t *buf = NULL;
  size_t len = 0;
  if ((rc = kith_rec_encode(c->regs, c->n, &buf, &len)) != 0)
    return rc;
  MDB_val key = {KITH_ID_LEN, c->ent}, val = {len, buf};
  rc = kith_mdb_err(mdb_put(t->txn, t->st->recs, &key, &val, 0));
  free(buf);
  if (rc == 0)
    c->dirty = false;
  return rc;
}

/* Makes the held record ent's (empty if it has none yet). */
static int hold(kith_txn *t, const uint8_t ent[KITH_ID_LEN])
{
  struct cur *c = &t->cur;
  if (c->valid && memcmp(c->ent, ent, KITH_ID_LEN) == 0)
    return 0;
  int rc = flush(t);
  if (rc)
    return rc;
  cur_reset(c);
  struct kith_reg *regs = NULL;
  size_t n = 0;
  rc = read_record(t, ent, &regs, &n);
  if (rc && rc != KITH_ENOTFOUND)
    return rc;
  free(c->regs);
  c->regs = regs;
  c->n = c->cap = n;
  memcpy(c->ent, ent, KITH_ID_LEN);
  for (size_t i = 0; i < n; i++) {
    int s = cur_space(c, regs[i].space);
    if (s < 0)
      return KITH_ECORRUPT;
    if (regs[i].seq > c->was[s])
      c->was[s] = regs[i].seq;
  }
  c->valid = true;
  return 0;
}

/* Index of the register addressed like key in regs (sorted), or where it goes. */
static size_t find(const struct kith_reg *regs, size_t n, const struct kith_reg *key,
                   bool *found)
{
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int cmp = kith_reg_addr_cmp(&regs[mid], key);
    if (cmp == 0) {
      *found = true;
      return mid;
    }
    if (cmp < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = false;
  return lo;
}

/* The sequence number that changes in space get in this session of the held
 * record: the space's next number, taken once. */
static int session_seq(kith_txn *t, uint32_t space, uint64_t *out)
{
  struct cur *c = &t->cur;
  int s = cur_space(c, space), slot;
  if (s < 0)
    return KITH_ETOOBIG;
  if (!c->now[s]) {
    int rc = seq_slot(t, space, &slot);
    if (rc)
      return rc;
    c->now[s] = ++t->seq_v[slot];
  }
  *out = c->now[s];
  return 0;
}

int kith_txn_get(kith_txn *t, const uint8_t ent[static KITH_ID_LEN], uint8_t field,
                 const uint8_t *elem, struct kith_reg *out)
{
  struct kith_reg key = {.field = field, .has_elem = elem != NULL};
  struct kith_reg *regs;
  size_t n, i;
  bool found;
  int rc;
  if (elem)
    memcpy(key.elem, elem, KITH_ID_LEN);
  if (t->write) {
    if ((rc = hold(t, ent)) != 0)
      return rc;
    i = find(t->cur.regs, t->cur.n, &key, &found);
    return found ? kith_reg_copy(out, &t->cur.regs[i]) : KITH_ENOTFOUND;
  }
  if ((rc = read_record(t, ent, &regs, &n)) != 0)
    return rc;
  i = find(regs, n, &key, &found);
  rc = KITH_ENOTFOUND;
  if (found) {
    *out = regs[i]; /* moves the value out */
    regs[i].val = NULL;
    rc = 0;
  }
  for (size_t j = 0; j < n; j++)
    kith_reg_clear(&regs[j]);
  free(regs);
  return rc;
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
  return rc == MDB_NOTFOUND ? 0 : kith_mdb_err(rc);
}

static int idx_put(kith_txn *t, MDB_dbi dbi, void *k, size_t n)
{
  MDB_val key = {n, k}, val = {0, ""};
  return kith_mdb_err(mdb_put(t->txn, dbi, &key, &val, 0));
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

/* After a tombstone: every other register of the held record goes. */
static int purge_held(kith_txn *t)
{
  struct cur *c = &t->cur;
  size_t keep = 0;
  int rc = 0;
  for (size_t i = 0; i < c->n; i++) {
    struct kith_reg *r = &c->regs[i];
    if (r->field == KITH_F_KIND && !r->has_elem) {
      c->regs[keep++] = *r;
      continue;
    }
    if (rc == 0)
      rc = index_reg(t, r, false);
    kith_reg_clear(r);
  }
  c->n = keep;
  c->dirty = true;
  return rc;
}

int kith_txn_put(kith_txn *t, const struct kith_reg *in, bool *changed)
{
  bool moved = false, found;
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
  if ((rc = hold(t, in->ent)) != 0)
    return rc;
  t->hlc = h;
  struct cur *c = &t->cur;
  bool is_kind = in->field == KITH_F_KIND && !in->has_elem;

  /* Nothing is kept for a deleted record but its tombstone. */
  if (!is_kind && c->n && c->regs[0].field == KITH_F_KIND && !c->regs[0].has_elem &&
      c->regs[0].val == NULL)
    return 0;

  size_t at = find(c->regs, c->n, in, &found);
  struct kith_reg old = {0};
  if (!found) {
    if (c->n == c->cap) {
      size_t cap = c->cap ? c->cap * 2 : 8;
      struct kith_reg *nr = realloc(c->regs, cap * sizeof *nr);
      if (!nr)
        return KITH_ENOMEM;
      c->regs = nr, c->cap = cap;
    }
    struct kith_reg fresh;
    if ((rc = kith_reg_copy(&fresh, in)) != 0)
      return rc;
    if (fresh.has_elem && kith_stamp_cmp(&fresh.stamp, &fresh.rem) <= 0) {
      kith_value_free(fresh.val); /* arrived already removed: no value to keep */
      fresh.val = NULL;
    }
    fresh.space = in->space ? in->space : KITH_SPACE_SELF;
    memmove(&c->regs[at + 1], &c->regs[at], (c->n - at) * sizeof *c->regs);
    c->regs[at] = fresh;
    c->n++;
    moved = true;
  } else {
    struct kith_reg *cur = &c->regs[at];
    if (is_kind && cur->val && in->val && !kith_value_equal(cur->val, in->val))
      return KITH_EBADMSG; /* a record never changes kind: an id used twice */
    if ((rc = kith_reg_copy(&old, cur)) != 0)
      return rc;
    if ((rc = kith_reg_merge(cur, in, &moved)) != 0 || !moved)
      goto out;
    if ((rc = index_reg(t, &old, false)) != 0)
      goto out;
  }
  struct kith_reg *r = &c->regs[at];
  c->dirty = true;
  if ((rc = session_seq(t, r->space, &r->seq)) != 0 ||
      (rc = index_reg(t, r, true)) != 0)
    goto out;
  if (is_kind && r->val == NULL)
    rc = purge_held(t);
out:
  kith_reg_clear(&old);
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
  struct kith_record *rec = calloc(1, sizeof *rec);
  int rc;
  if (!rec)
    return KITH_ENOMEM;
  memcpy(rec->id, id, KITH_ID_LEN);
  if (t->write) {
    if ((rc = hold(t, id)) == 0 && t->cur.n == 0)
      rc = KITH_ENOTFOUND;
    if (rc == 0 && !(rec->regs = calloc(t->cur.n, sizeof *rec->regs)))
      rc = KITH_ENOMEM;
    for (size_t i = 0; rc == 0 && i < t->cur.n; i++, rec->n++)
      rc = kith_reg_copy(&rec->regs[i], &t->cur.regs[i]);
  } else {
    rc = read_record(t, id, &rec->regs, &rec->n);
  }
  if (rc) {
    kith_record_free(rec);
    return rc;
  }
  for (size_t i = 0; i < rec->n; i++) {
    const struct kith_reg *r = &rec->regs[i];
    if (r->field == KITH_F_KIND && !r->has_elem) {
      rec->created = r->stamp;
      rec->deleted = r->val == NULL;
      rec->kind = kind_of(r->val);
    }
    if (kith_stamp_cmp(&r->stamp, &rec->updated) > 0)
      rec->updated = r->stamp;
  }
  *out = rec;
  return 0;
}

static int each_prefix(kith_txn *t, MDB_dbi dbi, const uint8_t *prefix, size_t plen,
                       kith_id_cb cb, void *arg)
{
  MDB_cursor *c = NULL;
  MDB_val key = {plen, (void *)prefix}, val;
  int rc = flush(t);
  if (rc)
    return rc;
  rc = kith_mdb_err(mdb_cursor_open(t->txn, dbi, &c));
  if (rc)
    return rc;
  int m = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
  for (; m == 0; m = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
    if (key.mv_size != plen + KITH_ID_LEN || memcmp(key.mv_data, prefix, plen) != 0)
      break;
    uint8_t id[KITH_ID_LEN];
    memcpy(id, (uint8_t *)key.mv_data + plen, KITH_ID_LEN);
    if ((rc = cb(arg, id)) != 0)
      break;
  }
  if (rc == 0 && m != 0 && m != MDB_NOTFOUND)
    rc = kith_mdb_err(m);
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
    int v = kith_hex_digit(prefix[i]);
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
  int rc = flush(t);
  if (rc)
    return rc;
  rc = kith_mdb_err(mdb_cursor_open(t->txn, t->st->kinds, &c));
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
    return kith_mdb_err(m);
  return found == 0 ? KITH_ENOTFOUND : found > 1 ? KITH_EAMBIGUOUS : 0;
}

/* Calls cb for each register of a decoded record (in space, unless space is 0). */
static int emit(const struct kith_reg *regs, size_t n, uint32_t space, kith_reg_cb cb,
                void *arg)
{
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < n; i++)
    if (!space || regs[i].space == space)
      rc = cb(arg, &regs[i]);
  return rc;
}

static void free_regs(struct kith_reg *regs, size_t n)
{
  for (size_t i = 0; i < n; i++)
    kith_reg_clear(&regs[i]);
  free(regs);
}

struct each_reg {
  kith_reg_cb cb;
  void *arg;
};

static int each_reg(void *arg, const uint8_t ent[KITH_ID_LEN], uint64_t seq,
                    const struct kith_reg *regs, size_t n)
{
  const struct each_reg *e = arg;
  (void)ent, (void)seq;
  return emit(regs, n, 0, e->cb, e->arg); /* already the space's registers */
}

int kith_log_each(kith_txn *t, uint32_t space, uint64_t after, kith_reg_cb cb,
                  void *arg)
{
  struct each_reg e = {cb, arg};
  return kith_log_records(t, space, after, NULL, each_reg, &e);
}

int kith_log_records(kith_txn *t, uint32_t space, uint64_t after,
                     const uint8_t *tag_skip, kith_rec_cb cb, void *arg)
{
  MDB_cursor *c = NULL;
  uint8_t lk[12];
  kith_be_put(lk, space, 4);
  kith_be_put(lk + 4, after + 1, 8);
  MDB_val key = {12, lk}, val;
  int rc = flush(t);
  if (rc == 0)
    rc = kith_mdb_err(mdb_cursor_open(t->txn, t->st->log, &c));
  if (rc)
    return rc;
  int m = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
  for (; m == 0; m = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
    if (key.mv_size != 12 || kith_be_get(key.mv_data, 4) != space)
      break;
    struct kith_reg *regs = NULL;
    size_t n = 0, k = 0;
    if (val.mv_size != KITH_ID_LEN && val.mv_size != KITH_ID_LEN + KITH_LOG_TAG_LEN) {
      rc = KITH_ECORRUPT;
      break;
    }
    uint64_t seq = kith_be_get((const uint8_t *)key.mv_data + 4, 8);
    uint8_t ent[KITH_ID_LEN], tag[KITH_LOG_TAG_LEN] = {0};
    memcpy(ent, val.mv_data, KITH_ID_LEN);
    if (val.mv_size > KITH_ID_LEN)
      memcpy(tag, (const uint8_t *)val.mv_data + KITH_ID_LEN, KITH_LOG_TAG_LEN);
    if (tag_skip && memcmp(tag, tag_skip, KITH_LOG_TAG_LEN) == 0) {
      if ((rc = cb(arg, ent, seq, NULL, 0)) != 0) /* it holds this: no read */
        break;
      continue;
    }
    if ((rc = read_record(t, ent, &regs, &n)) != 0) {
      rc = rc == KITH_ENOTFOUND ? KITH_ECORRUPT : rc;
      break;
    }
    for (size_t i = 0; i < n; i++) { /* keep the registers in space, in order */
      if (regs[i].space != space) {
        kith_reg_clear(&regs[i]);
        continue;
      }
      regs[k++] = regs[i];
    }
    rc = cb(arg, ent, seq, regs, k);
    free_regs(regs, k);
    if (rc)
      break;
  }
  if (rc == 0 && m != 0 && m != MDB_NOTFOUND)
    rc = kith_mdb_err(m);
  mdb_cursor_close(c);
  return rc;
}

int kith_log_count(kith_txn *t, uint32_t space, uint64_t after, const uint8_t *tag_skip,
                   uint64_t *out)
{
  MDB_cursor *c = NULL;
  uint8_t lk[12];
  kith_be_put(lk, space, 4);
  kith_be_put(lk + 4, after + 1, 8);
  MDB_val key = {12, lk}, val;
  *out = 0;
  int rc = flush(t);
  if (rc == 0)
    rc = kith_mdb_err(mdb_cursor_open(t->txn, t->st->log, &c));
  if (rc)
    return rc;
  int m = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
  for (; m == 0; m = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
    if (key.mv_size != 12 || kith_be_get(key.mv_data, 4) != space)
      break;
    if (tag_skip && val.mv_size == KITH_ID_LEN + KITH_LOG_TAG_LEN &&
        memcmp((const uint8_t *)val.mv_data + KITH_ID_LEN, tag_skip,
               KITH_LOG_TAG_LEN) == 0)
      continue; /* it holds this one */
    (*out)++;
  }
  if (m != 0 && m != MDB_NOTFOUND)
    rc = kith_mdb_err(m);
  mdb_cursor_close(c);
  return rc;
}

int kith_txn_tag_log(kith_txn *t, const uint8_t ent[static KITH_ID_LEN], uint32_t space,
                     const uint8_t tag[static KITH_LOG_TAG_LEN])
{
  if (!t->write)
    return KITH_EINVAL;
  int rc = hold(t, ent);
  if (rc)
    return rc;
  struct cur *c = &t->cur;
  int s = cur_space(c, space);
  if (s < 0)
    return KITH_ETOOBIG;
  if (!c->now[s])
    return 0; /* nothing changed there in this transaction: no new entry to tag */
  c->tagged[s] = true;
  memcpy(c->tag[s], tag, KITH_LOG_TAG_LEN);
  c->dirty = true;
  c->was[s] = c->was[s] == c->now[s] ? 0 : c->was[s]; /* rewrite the entry */
  return 0;
}

int kith_txn_move(kith_txn *t, const uint8_t ent[static KITH_ID_LEN], uint8_t field,
                  const uint8_t *elem, uint32_t space)
{
  struct kith_reg key = {.field = field, .has_elem = elem != NULL};
  bool found;
  int rc;
  if (!t->write || space == 0)
    return KITH_EINVAL;
  if (elem)
    memcpy(key.elem, elem, KITH_ID_LEN);
  if ((rc = hold(t, ent)) != 0)
    return rc;
  struct cur *c = &t->cur;
  size_t at = find(c->regs, c->n, &key, &found);
  if (!found)
    return KITH_ENOTFOUND;
  struct kith_reg *r = &c->regs[at];
  if (r->space == space)
    return 0;
  if (cur_space(c, space) < 0)
    return KITH_ETOOBIG;
  r->space = space;
  c->dirty = true;
  return session_seq(t, space, &r->seq);
}

int kith_reg_each(kith_txn *t, kith_reg_cb cb, void *arg)
{
  MDB_cursor *c = NULL;
  MDB_val key, val;
  int rc = flush(t);
  if (rc == 0)
    rc = kith_mdb_err(mdb_cursor_open(t->txn, t->st->recs, &c));
  if (rc)
    return rc;
  int m = mdb_cursor_get(c, &key, &val, MDB_FIRST);
  for (; m == 0; m = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
    struct kith_reg *regs = NULL;
    size_t n = 0;
    if (key.mv_size != KITH_ID_LEN) {
      rc = KITH_ECORRUPT;
      break;
    }
    rc = kith_rec_decode(val.mv_data, val.mv_size, key.mv_data, &regs, &n);
    if (rc) {
      rc = rc == KITH_EBADMSG ? KITH_ECORRUPT : rc;
      break;
    }
    rc = emit(regs, n, 0, cb, arg);
    free_regs(regs, n);
    if (rc)
      break;
  }
  if (rc == 0 && m != 0 && m != MDB_NOTFOUND)
    rc = kith_mdb_err(m);
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
  int rc = kith_mdb_err(mdb_drop(t->txn, t->st->kinds, 0));
  if (rc == 0)
    rc = kith_mdb_err(mdb_drop(t->txn, t->st->tags, 0));
  if (rc == 0)
    rc = kith_mdb_err(mdb_drop(t->txn, t->st->notes, 0));
  if (rc == 0)
    rc = kith_reg_each(t, reindex_one, t);
  return rc;
}

/* ---- local state ----------------------------------------------------------- */

int kith_local_get(kith_txn *t, const void *key, size_t klen, uint8_t **val,
                   size_t *vlen)
{
  MDB_val k = {klen, (void *)key}, v;
  if (klen == 0 || klen > 400)
    return KITH_EINVAL;
  int rc = mdb_get(t->txn, t->st->local, &k, &v);
  if (rc)
    return kith_mdb_err(rc);
  if (!(*val = malloc(v.mv_size ? v.mv_size : 1)))
    return KITH_ENOMEM;
  memcpy(*val, v.mv_data, v.mv_size);
  *vlen = v.mv_size;
  return 0;
}

int kith_local_put(kith_txn *t, const void *key, size_t klen, const void *val,
                   size_t vlen)
{
  MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
  if (!t->write)
    return KITH_EINVAL;
  if (klen == 0 || klen > 400)
    return KITH_EINVAL;
  return kith_mdb_err(mdb_put(t->txn, t->st->local, &k, &v, 0));
}

int kith_local_del(kith_txn *t, const void *key, size_t klen)
{
  MDB_val k = {klen, (void *)key};
  if (!t->write)
    return KITH_EINVAL;
  return kith_mdb_err(mdb_del(t->txn, t->st->local, &k, NULL));
}

int kith_local_each(kith_txn *t, const void *prefix, size_t plen, kith_local_cb cb,
                    void *arg)
{
  MDB_cursor *c = NULL;
  MDB_val k = {plen, (void *)prefix}, v;
  int rc = kith_mdb_err(mdb_cursor_open(t->txn, t->st->local, &c));
  if (rc)
    return rc;
  int m = mdb_cursor_get(c, &k, &v, plen ? MDB_SET_RANGE : MDB_FIRST);
  for (; m == 0; m = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
      break;
    if ((rc = cb(arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size)) != 0)
      break;
  }
  if (rc == 0 && m != 0 && m != MDB_NOTFOUND)
    rc = kith_mdb_err(m);
  mdb_cursor_close(c);
  return rc;
}
