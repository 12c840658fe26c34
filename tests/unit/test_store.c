/*
 * test_store.c — core/store.h through its public API only (so that it holds
 * whatever the storage layout): creating and opening, identity and key files,
 * stamps and the clock, merge on put, sequence numbers and the log, tombstones,
 * id prefixes, the derived indexes, schema versions, copies, digests.
 *
 * Every test makes its own store in a fresh folder under /tmp and removes it.
 */
#include "kith_test.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>

#include "core/model.h"

#define MS(x) ((uint64_t)(x) << 16)

static const struct kith_field *F(uint8_t id)
{
  return kith_field_by_id(id);
}

static struct kith_value *val1(const char *a)
{
  struct kith_value *v = kith_value_new(1, &a);
  assert_non_null(v);
  return v;
}

static void set_text(kith_txn *t, const uint8_t id[16], uint8_t field, const char *text)
{
  struct kith_value *v = val1(text);
  assert_rc(kith_field_set(t, id, F(field), v), 0);
  kith_value_free(v);
}

static void add_tag(kith_txn *t, const uint8_t id[16], const char *tag)
{
  struct kith_value *v = val1(tag);
  assert_rc(kith_set_add(t, id, F(KITH_F_TAGS), v), 0);
  kith_value_free(v);
}

static void create(kith_store *st, uint8_t id[16], bool use_id)
{
  kith_txn *t = kt_begin(st, true);
  assert_rc(kith_record_create(t, KITH_KIND_CONTACT, use_id, id), 0);
  kt_commit(t);
}

static uint64_t seq_of(kith_store *st)
{
  kith_txn *t = kt_begin(st, false);
  uint64_t s = 0;
  assert_rc(kith_txn_seq(t, KITH_SPACE_SELF, &s), 0);
  kith_txn_abort(t);
  return s;
}

static void digest(kith_store *st, uint8_t out[32])
{
  kith_txn *t = kt_begin(st, false);
  assert_rc(kith_store_digest(t, out), 0);
  kith_txn_abort(t);
}

static void identity(kith_store *st, struct kith_identity *id)
{
  kith_txn *t = kt_begin(st, false);
  assert_rc(kith_txn_identity(t, id), 0);
  kith_txn_abort(t);
}

/* BLAKE2b of a whole file. */
static void file_hash(const char *path, uint8_t out[32])
{
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  crypto_generichash_state h;
  crypto_generichash_init(&h, NULL, 0, 32);
  uint8_t buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0)
    crypto_generichash_update(&h, buf, n);
  fclose(f);
  crypto_generichash_final(&h, out, 32);
}

static void copy_file(const char *from, const char *to)
{
  FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
  assert_non_null(in);
  assert_non_null(out);
  uint8_t buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0)
    assert_int_equal(fwrite(buf, 1, n, out), n);
  fclose(in);
  assert_int_equal(fclose(out), 0);
}

/* ---- creating and opening ----------------------------------------------------- */

static void test_init_open(void **state)
{
  (void)state;
  struct kt_store s;
  kt_store_new(&s);
  kith_store_close(s.st);
  uint32_t v = 0;
  assert_rc(kith_store_schema(s.home, &v), 0);
  assert_int_equal(v, KITH_SCHEMA_VERSION);
  assert_rc(kith_store_open(s.home, &kt_opts, &s.st), 0);
  kith_store *again = NULL;
  assert_rc(kith_store_init(s.home, "Bob", "phone", &kt_opts, &again), KITH_EEXISTS);
  assert_null(again);
  kith_store_close(s.st);
  /* still refused with the store closed, and the first identity is kept */
  assert_rc(kith_store_init(s.home, "Bob", "phone", &kt_opts, &again), KITH_EEXISTS);
  assert_rc(kith_store_open(s.home, &kt_opts, &s.st), 0);
  struct kith_identity id;
  identity(s.st, &id);
  assert_string_equal(id.name, "Ada");
  kith_store_close(NULL); /* NULL-safe */
  kt_store_free(&s);
}

static void test_open_missing(void **state)
{
  (void)state;
  char dir[64], path[128];
  kith_store *st = NULL;
  kt_tmpdir(dir);
  assert_rc(kith_store_open(dir, &kt_opts, &st), KITH_ENOSTORE); /* empty folder */
  snprintf(path, sizeof path, "%s/nope", dir);
  assert_rc(kith_store_open(path, &kt_opts, &st), KITH_ENOSTORE); /* no folder */
  assert_null(st);
  uint32_t v = 0;
  assert_rc(kith_store_schema(path, &v), KITH_ENOSTORE);
  /* init makes the folder; a missing parent is an I/O error */
  snprintf(path, sizeof path, "%s/a/b", dir);
  assert_rc(kith_store_init(path, "", "", &kt_opts, &st), KITH_EIO);
  kt_rmtree(dir);
}

static void test_identity(void **state)
{
  (void)state;
  struct kt_store s, s2;
  kt_store_new(&s);
  kt_store_new(&s2);
  struct kith_identity id, id2;
  identity(s.st, &id);
  identity(s2.st, &id2);
  assert_string_equal(id.name, "Ada");
  assert_string_equal(id.label, "laptop");
  assert_int_equal(id.schema, KITH_SCHEMA_VERSION);
  static const uint8_t zero[32];
  assert_memory_not_equal(id.device_id, zero, KITH_DEVICE_ID_LEN);
  assert_memory_not_equal(id.pk, zero, KITH_PK_LEN);
  assert_memory_not_equal(id.epoch, zero, KITH_EPOCH_LEN);
  /* two stores: two devices, two keys, two epochs */
  assert_memory_not_equal(id.device_id, id2.device_id, KITH_DEVICE_ID_LEN);
  assert_memory_not_equal(id.pk, id2.pk, KITH_PK_LEN);
  assert_memory_not_equal(id.epoch, id2.epoch, KITH_EPOCH_LEN);
  /* the secret key is the public key's */
  kith_txn *t = kt_begin(s.st, false);
  uint8_t sk[KITH_SK_LEN], pk[KITH_PK_LEN];
  assert_rc(kith_txn_secret_key(t, sk), 0);
  kith_txn_abort(t);
  assert_int_equal(crypto_sign_ed25519_sk_to_pk(pk, sk), 0);
  sodium_memzero(sk, sizeof sk);
  assert_memory_equal(pk, id.pk, KITH_PK_LEN);
  /* local stamps carry the device id */
  t = kt_begin(s.st, true);
  struct kith_stamp stp;
  assert_rc(kith_txn_stamp(t, &stp), 0);
  kith_txn_abort(t);
  assert_memory_equal(stp.dev, id.device_id, KITH_DEVICE_ID_LEN);
  kt_store_free(&s);
  kt_store_free(&s2);

  /* names and labels are bounded */
  char dir[64], home[96], big[KITH_TEXT_MAX + 1];
  kith_store *st = NULL;
  kt_tmpdir(dir);
  snprintf(home, sizeof home, "%s/h", dir);
  memset(big, 'n', KITH_TEXT_MAX);
  big[KITH_TEXT_MAX] = 0;
  assert_rc(kith_store_init(home, big, "x", &kt_opts, &st), KITH_ETOOBIG);
  assert_rc(kith_store_init(home, "x", big, &kt_opts, &st), KITH_ETOOBIG);
  big[KITH_TEXT_MAX - 1] = 0; /* the longest that fits */
  assert_rc(kith_store_init(home, big, "", &kt_opts, &st), 0);
  identity(st, &id);
  assert_string_equal(id.name, big);
  assert_string_equal(id.label, "");
  kith_store_close(st);
  kt_rmtree(dir);
}

static void test_permissions(void **state)
{
  (void)state;
  mode_t old = umask(022);
  struct kt_store s;
  kt_store_new(&s);
  char path[160];
  struct stat sb;
  assert_int_equal(stat(s.home, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0700);
  snprintf(path, sizeof path, "%s/data.mdb", s.home);
  assert_int_equal(stat(path, &sb), 0); /* the secret key lives in this file */
  assert_int_equal(sb.st_mode & 0777, 0600);
  kt_store_free(&s);
  umask(old);
}

/* ---- stamps and the clock ------------------------------------------------------ */

static void test_stamps_monotonic(void **state)
{
  (void)state;
  struct kt_store s;
  kt_now_ms = 1700000000000ull;
  kt_store_new(&s);
  struct kith_stamp a, b, c, d;
  kith_txn *t = kt_begin(s.st, true);
  assert_rc(kith_txn_stamp(t, &a), 0);
  assert_int_equal(a.hlc, MS(kt_now_ms));
  assert_rc(kith_txn_stamp(t, &b), 0);
  assert_true(b.hlc > a.hlc);
  kt_commit(t);
  /* the wall clock goes back an hour: stamps still increase */
  kt_now_ms -= 3600 * 1000;
  t = kt_begin(s.st, true);
  assert_rc(kith_txn_stamp(t, &c), 0);
  kt_commit(t);
  assert_true(c.hlc > b.hlc);
  /* and across closing and opening, with a clock at 1970 */
  kith_store_close(s.st);
  kt_now_ms = 1;
  assert_rc(kith_store_open(s.home, &kt_opts, &s.st), 0);
  t = kt_begin(s.st, true);
  assert_rc(kith_txn_stamp(t, &d), 0);
  kt_commit(t);
  assert_true(d.hlc > c.hlc);
  /* a clock that is ahead again is followed */
  kt_now_ms = 1800000000000ull;
  t = kt_begin(s.st, true);
  assert_rc(kith_txn_stamp(t, &d), 0);
  assert_int_equal(d.hlc, MS(kt_now_ms));
  /* read transactions make no stamps */
  kith_txn *r = NULL;
  kt_commit(t);
  r = kt_begin(s.st, false);
  assert_rc(kith_txn_stamp(r, &d), KITH_EINVAL);
  kith_txn_abort(r);
  kith_txn_abort(NULL);
  kt_store_free(&s);
}

static struct kith_reg plain_reg(const uint8_t id[16], uint8_t field, uint64_t hlc,
                                 uint8_t dev, const char *text)
{
  struct kith_reg r;
  memset(&r, 0, sizeof r);
  memcpy(r.ent, id, 16);
  r.field = field;
  r.stamp.hlc = hlc;
  memset(r.stamp.dev, dev, 16);
  if (text)
    r.val = val1(text);
  return r;
}

static void test_put_future_refused(void **state)
{
  (void)state;
  struct kt_store s;
  kt_now_ms = 1700000000000ull;
  kt_store_new(&s);
  uint8_t id[16] = {0x42};
  uint8_t before[32], after[32];
  digest(s.st, before);
  uint64_t seq = seq_of(s.st);

  kith_txn *t = kt_begin(s.st, true);
  struct kith_reg far = plain_reg(
      id, KITH_F_NAME, MS(kt_now_ms + KITH_HLC_MAX_SKEW_MS + 1), 9, "from 2100");
  bool changed = true;
  assert_rc(kith_txn_put(t, &far, &changed), KITH_EFUTURE);
  assert_false(changed);
  struct kith_reg got;
  assert_rc(kith_txn_get(t, id, KITH_F_NAME, NULL, &got), KITH_ENOTFOUND);
  /* nor does it drag the clock forward */
  struct kith_stamp st1;
  assert_rc(kith_txn_stamp(t, &st1), 0);
  assert_true(kith_hlc_ms(st1.hlc) <= kt_now_ms);
  kt_commit(t);
  digest(s.st, after);
  assert_memory_equal(before, after, 32);
  assert_int_equal(seq_of(s.st), seq);

  /* a rem too far ahead is refused as well */
  t = kt_begin(s.st, true);
  struct kith_reg el = plain_reg(id, KITH_F_TAGS, MS(kt_now_ms), 9, NULL);
  el.has_elem = true;
  el.rem = far.stamp;
  assert_rc(kith_txn_put(t, &el, NULL), KITH_EFUTURE);
  kith_txn_abort(t);

  /* exactly at the limit: taken, and later local stamps come after it */
  t = kt_begin(s.st, true);
  struct kith_reg edge =
      plain_reg(id, KITH_F_NAME, MS(kt_now_ms + KITH_HLC_MAX_SKEW_MS) | 0xfff0, 9,
                "just in time");
  assert_rc(kith_txn_put(t, &edge, &changed), 0);
  assert_true(changed);
  struct kith_stamp st2;
  assert_rc(kith_txn_stamp(t, &st2), 0);
  assert_true(st2.hlc > edge.stamp.hlc);
  kt_commit(t);
  digest(s.st, after);
  assert_memory_not_equal(before, after, 32);

  /* malformed: no stamp, or a rem on a register that is not a set element */
  t = kt_begin(s.st, true);
  struct kith_reg nostamp = plain_reg(id, KITH_F_ORG, 0, 9, "x");
  assert_rc(kith_txn_put(t, &nostamp, NULL), KITH_EBADMSG);
  struct kith_reg badrem = plain_reg(id, KITH_F_ORG, MS(kt_now_ms), 9, "x");
  badrem.rem = badrem.stamp;
  assert_rc(kith_txn_put(t, &badrem, NULL), KITH_EBADMSG);
  kith_txn_abort(t);
  /* a read transaction takes no puts */
  t = kt_begin(s.st, false);
  assert_rc(kith_txn_put(t, &nostamp, NULL), KITH_EINVAL);
  kith_txn_abort(t);

  kith_reg_clear(&far);
  kith_reg_clear(&edge);
  kith_reg_clear(&nostamp);
  kith_reg_clear(&badrem);
  kt_store_free(&s);
}

/* ---- sequence numbers and the log ---------------------------------------------- */

struct logged {
  size_t n;
  struct kith_reg regs[256];
};

static int collect_reg(void *arg, const struct kith_reg *r)
{
  struct logged *l = arg;
  assert_true(l->n < 256);
  assert_rc(kith_reg_copy(&l->regs[l->n++], r), 0);
  return 0;
}

static int stop_reg(void *arg, const struct kith_reg *r)
{
  (void)r;
  return ++*(int *)arg == 2 ? 4321 : 0;
}

static void logged_clear(struct logged *l)
{
  for (size_t i = 0; i < l->n; i++)
    kith_reg_clear(&l->regs[i]);
  l->n = 0;
}

static void log_after(kith_store *st, uint64_t after, struct logged *l)
{
  logged_clear(l);
  kith_txn *t = kt_begin(st, false);
  assert_rc(kith_log_each(t, KITH_SPACE_SELF, after, collect_reg, l), 0);
  kith_txn_abort(t);
}

/* How many logged registers have this address. */
static int count_addr(const struct logged *l, const uint8_t id[16], uint8_t field)
{
  int k = 0;
  for (size_t i = 0; i < l->n; i++)
    k += memcmp(l->regs[i].ent, id, 16) == 0 && l->regs[i].field == field &&
         !l->regs[i].has_elem;
  return k;
}

static const struct kith_reg *find_addr(const struct logged *l, const uint8_t id[16],
                                        uint8_t field)
{
  for (size_t i = 0; i < l->n; i++)
    if (memcmp(l->regs[i].ent, id, 16) == 0 && l->regs[i].field == field &&
        !l->regs[i].has_elem)
      return &l->regs[i];
  return NULL;
}

static bool logged_has_record(const struct logged *l, const uint8_t id[16])
{
  for (size_t i = 0; i < l->n; i++)
    if (memcmp(l->regs[i].ent, id, 16) == 0)
      return true;
  return false;
}

static void test_sequence_numbers(void **state)
{
  (void)state;
  struct kt_store s;
  kt_store_new(&s);
  assert_int_equal(seq_of(s.st), 0);
  uint8_t ids[5][16];
  for (int i = 0; i < 5; i++) {
    uint64_t before = seq_of(s.st);
    create(s.st, ids[i], false);
    /* the changed register got the next number of its space */
    kith_txn *t = kt_begin(s.st, false);
    struct kith_reg k;
    assert_rc(kith_txn_get(t, ids[i], KITH_F_KIND, NULL, &k), 0);
    kith_txn_abort(t);
    assert_int_equal(k.seq, before + 1);
    assert_int_equal(k.space, KITH_SPACE_SELF);
    kith_reg_clear(&k);
    assert_int_equal(seq_of(s.st), before + 1);
  }
  struct logged *l = calloc(1, sizeof *l);
  assert_non_null(l);
  log_after(s.st, 0, l);
  assert_int_equal(l->n, 5);
  for (size_t i = 1; i < l->n; i++)
    assert_true(l->regs[i].seq > l->regs[i - 1].seq);

  /* change records 1 and 3: the log after that point holds them, and only them */
  uint64_t mark = seq_of(s.st);
  kith_txn *t = kt_begin(s.st, true);
  set_text(t, ids[1], KITH_F_NAME, "Ada");
  set_text(t, ids[3], KITH_F_ORG, "Engines");
  kt_commit(t);
  assert_true(seq_of(s.st) > mark);
  log_after(s.st, mark, l);
  assert_true(logged_has_record(l, ids[1]));
  assert_true(logged_has_record(l, ids[3]));
  assert_false(logged_has_record(l, ids[0]));
  assert_false(logged_has_record(l, ids[2]));
  assert_false(logged_has_record(l, ids[4]));
  const struct kith_reg *name = find_addr(l, ids[1], KITH_F_NAME);
  assert_non_null(name);
  assert_string_equal(name->val->p[0], "Ada");
  assert_true(name->seq > mark && name->seq <= seq_of(s.st));
  for (size_t i = 0; i < l->n; i++)
    assert_true(l->regs[i].seq <= seq_of(s.st));
  /* after the newest number: nothing */
  log_after(s.st, seq_of(s.st), l);
  assert_int_equal(l->n, 0);

  /* a superseded value leaves the log: two more writes, one entry, the newest */
  t = kt_begin(s.st, true);
  set_text(t, ids[1], KITH_F_NAME, "Ada L.");
  kt_commit(t);
  t = kt_begin(s.st, true);
  set_text(t, ids[1], KITH_F_NAME, "Ada Lovelace");
  kt_commit(t);
  log_after(s.st, 0, l);
  assert_int_equal(count_addr(l, ids[1], KITH_F_NAME), 1);
  name = find_addr(l, ids[1], KITH_F_NAME);
  assert_string_equal(name->val->p[0], "Ada Lovelace");
  assert_int_equal(name->seq, seq_of(s.st));
  for (int i = 0; i < 5; i++)
    assert_int_equal(count_addr(l, ids[i], KITH_F_KIND), 1);
  /* the log from 0 is the whole state of the space: one entry per register */
  size_t total = l->n;
  assert_int_equal(total, 5 + 2);

  /* an identical put changes nothing */
  uint8_t before[32], after[32];
  digest(s.st, before);
  uint64_t seq = seq_of(s.st);
  t = kt_begin(s.st, true);
  struct kith_reg cur;
  assert_rc(kith_txn_get(t, ids[1], KITH_F_NAME, NULL, &cur), 0);
  bool changed = true;
  assert_rc(kith_txn_put(t, &cur, &changed), 0);
  assert_false(changed);
  /* nor does an older write */
  struct kith_reg old =
      plain_reg(ids[1], KITH_F_NAME, cur.stamp.hlc - 1, 0xff, "older");
  assert_rc(kith_txn_put(t, &old, &changed), 0);
  assert_false(changed);
  kt_commit(t);
  assert_int_equal(seq_of(s.st), seq);
  digest(s.st, after);
  assert_memory_equal(before, after, 32);
  kith_reg_clear(&cur);
  kith_reg_clear(&old);

  /* the log stops where the callback says, and returns what it said */
  t = kt_begin(s.st, false);
  int calls = 0;
  assert_int_equal(kith_log_each(t, KITH_SPACE_SELF, 0, stop_reg, &calls), 4321);
  assert_int_equal(calls, 2);
  calls = 0;
  assert_int_equal(kith_reg_each(t, stop_reg, &calls), 4321);
  assert_int_equal(calls, 2);
  kith_txn_abort(t);
  logged_clear(l);
  /* other spaces are empty */
  t = kt_begin(s.st, false);
  assert_rc(kith_log_each(t, 7, 0, collect_reg, l), 0);
  assert_int_equal(l->n, 0);
  uint64_t s7 = 99;
  assert_rc(kith_txn_seq(t, 7, &s7), 0);
  assert_int_equal(s7, 0);
  kith_txn_abort(t);
  free(l);
  kt_store_free(&s);
}

/* A register put in another space numbers there, not in self. */
static void test_spaces(void **state)
{
  (void)state;
  struct kt_store s;
  kt_store_new(&s);
  uint8_t id[16] = {0x31};
  kith_txn *t = kt_begin(s.st, true);
  struct kith_stamp stp;
  assert_rc(kith_txn_stamp(t, &stp), 0);
  struct kith_reg r = plain_reg(id, KITH_F_ORG, stp.hlc, 0, "Shared Ltd");
  r.stamp = stp;
  r.space = 5;
  assert_rc(kith_txn_put(t, &r, NULL), 0);
  kt_commit(t);
  kith_reg_clear(&r);
  t = kt_begin(s.st, false);
  uint64_t s5 = 0, s1 = 0;
  assert_rc(kith_txn_seq(t, 5, &s5), 0);
  assert_rc(kith_txn_seq(t, KITH_SPACE_SELF, &s1), 0);
  assert_int_equal(s5, 1);
  assert_int_equal(s1, 0);
  struct logged *l = calloc(1, sizeof *l);
  assert_non_null(l);
  assert_rc(kith_log_each(t, 5, 0, collect_reg, l), 0);
  assert_int_equal(l->n, 1);
  assert_int_equal(l->regs[0].space, 5);
  assert_string_equal(l->regs[0].val->p[0], "Shared Ltd");
  logged_clear(l);
  assert_rc(kith_log_each(t, KITH_SPACE_SELF, 0, collect_reg, l), 0);
  assert_int_equal(l->n, 0);
  kith_txn_abort(t);
  free(l);
  kt_store_free(&s);
}

/* ---- tombstones ----------------------------------------------------------------- */

static int count_cb(void *arg, const uint8_t id[16])
{
  (void)id;
  (*(int *)arg)++;
  return 0;
}

static int tag_count(kith_store *st, const char *tag)
{
  int n = 0;
  kith_txn *t = kt_begin(st, false);
  assert_rc(kith_tag_each(t, tag, count_cb, &n), 0);
  kith_txn_abort(t);
  return n;
}

static void test_tombstone(void **state)
{
  (void)state;
  struct kt_store s;
  kt_store_new(&s);
  uint8_t id[16], keep[16];
  create(s.st, id, false);
  create(s.st, keep, false);
  kith_txn *t = kt_begin(s.st, true);
  set_text(t, id, KITH_F_NAME, "Grace");
  set_text(t, id, KITH_F_ORG, "Navy");
  add_tag(t, id, "admiral");
  add_tag(t, keep, "admiral");
  kt_commit(t);
  assert_int_equal(tag_count(s.st, "admiral"), 2);

  t = kt_begin(s.st, true);
  assert_rc(kith_record_delete(t, id), 0);
  kt_commit(t);
  /* only the tombstone is left */
  t = kt_begin(s.st, false);
  struct kith_record *rec = NULL;
  assert_rc(kith_record_load(t, id, &rec), 0);
  assert_true(rec->deleted);
  assert_int_equal(rec->n, 1);
  assert_int_equal(rec->regs[0].field, KITH_F_KIND);
  assert_null(rec->regs[0].val);
  kith_record_free(rec);
  int n = 0;
  assert_rc(kith_kind_each(t, KITH_KIND_CONTACT, count_cb, &n), 0);
  assert_int_equal(n, 1);
  kith_txn_abort(t);
  assert_int_equal(tag_count(s.st, "admiral"), 1);
  struct logged *l = calloc(1, sizeof *l);
  assert_non_null(l);
  log_after(s.st, 0, l);
  size_t of_id = 0;
  for (size_t i = 0; i < l->n; i++)
    if (memcmp(l->regs[i].ent, id, 16) == 0) {
      of_id++;
      assert_int_equal(l->regs[i].field, KITH_F_KIND);
    }
  assert_int_equal(of_id, 1);

  /* later writes to the record are dropped, even newer ones from elsewhere */
  t = kt_begin(s.st, true);
  struct kith_stamp stp;
  assert_rc(kith_txn_stamp(t, &stp), 0);
  struct kith_reg late = plain_reg(id, KITH_F_NAME, stp.hlc, 0xee, "Grace Hopper");
  bool changed = true;
  assert_rc(kith_txn_put(t, &late, &changed), 0);
  assert_false(changed);
  struct kith_reg got;
  assert_rc(kith_txn_get(t, id, KITH_F_NAME, NULL, &got), KITH_ENOTFOUND);
  struct kith_reg revive = plain_reg(id, KITH_F_KIND, stp.hlc + 5, 0xee, "contact");
  assert_rc(kith_txn_put(t, &revive, &changed), 0);
  assert_false(changed);
  assert_rc(kith_txn_get(t, id, KITH_F_KIND, NULL, &got), 0);
  assert_null(got.val);
  kith_reg_clear(&got);
  kt_commit(t);
  kith_reg_clear(&late);
  kith_reg_clear(&revive);

  /* registers that arrive before their record's kind are kept; its tombstone
   * then purges them */
  uint8_t early[16] = {0xe0};
  t = kt_begin(s.st, true);
  assert_rc(kith_txn_stamp(t, &stp), 0);
  struct kith_reg field = plain_reg(early, KITH_F_NAME, stp.hlc, 0xee, "early");
  assert_rc(kith_txn_put(t, &field, &changed), 0);
  assert_true(changed);
  assert_rc(kith_record_load(t, early, &rec), 0);
  assert_int_equal(rec->kind, 0);
  assert_false(rec->deleted);
  kith_record_free(rec);
  struct kith_reg tomb = plain_reg(early, KITH_F_KIND, stp.hlc - 100, 0xee, NULL);
  assert_rc(kith_txn_put(t, &tomb, &changed), 0);
  assert_true(changed);
  assert_rc(kith_txn_get(t, early, KITH_F_NAME, NULL, &got), KITH_ENOTFOUND);
  kt_commit(t);
  kith_reg_clear(&field);
  kith_reg_clear(&tomb);
  logged_clear(l);
  free(l);
  kt_store_free(&s);
}

/* ---- records and prefixes ---------------------------------------------------------
 */

static void test_record_load(void **state)
{
  (void)state;
  struct kt_store s;
  kt_now_ms = 1700000000000ull;
  kt_store_new(&s);
  uint8_t id[16], nobody[16] = {0x99};
  create(s.st, id, false);
  kt_now_ms += 5000;
  kith_txn *t = kt_begin(s.st, true);
  set_text(t, id, KITH_F_NAME, "Ada");
  add_tag(t, id, "vip");
  kt_commit(t);
  t = kt_begin(s.st, false);
  struct kith_record *rec = NULL;
  assert_rc(kith_record_load(t, id, &rec), 0);
  assert_memory_equal(rec->id, id, 16);
  assert_int_equal(rec->kind, KITH_KIND_CONTACT);
  assert_int_equal(rec->n, 3);
  assert_int_equal(kith_hlc_ms(rec->created.hlc), 1700000000000ull);
  assert_int_equal(kith_hlc_ms(rec->updated.hlc), 1700000005000ull);
  /* registers come in address order: kind, name, then elements */
  assert_int_equal(rec->regs[0].field, KITH_F_KIND);
  assert_int_equal(rec->regs[1].field, KITH_F_NAME);
  assert_int_equal(rec->regs[2].field, KITH_F_TAGS);
  assert_true(rec->regs[2].has_elem);
  kith_record_free(rec);
  kith_record_free(NULL);
  assert_rc(kith_record_load(t, nobody, &rec), KITH_ENOTFOUND);
  kith_txn_abort(t);
  kt_now_ms = 1700000000000ull;
  kt_store_free(&s);
}

static void test_resolve(void **state)
{
  (void)state;
  struct kt_store s;
  kt_store_new(&s);
  uint8_t a[16] = {0xab, 0x12, 0x00}, b[16] = {0xab, 0x12, 0xf0}, c[16] = {0xcd},
          gone[16] = {0xee, 0x01}, out[16];
  create(s.st, a, true);
  create(s.st, b, true);
  create(s.st, c, true);
  create(s.st, gone, true);
  kith_txn *t = kt_begin(s.st, true);
  uint8_t note[16];
  assert_rc(kith_note_create(t, c, "hello", note), 0);
  assert_rc(kith_record_delete(t, gone), 0);
  kt_commit(t);

  t = kt_begin(s.st, false);
  assert_rc(kith_record_resolve(t, KITH_KIND_CONTACT, "ab12", out), KITH_EAMBIGUOUS);
  assert_rc(kith_record_resolve(t, KITH_KIND_CONTACT, "a", out), KITH_EAMBIGUOUS);
  assert_rc(kith_record_resolve(t, KITH_KIND_CONTACT, "ab120", out), 0); /* odd */
  assert_memory_equal(out, a, 16);
  assert_rc(kith_record_resolve(t, KITH_KIND_CONTACT, "ab12f", out), 0);
  assert_memory_equal(out, b, 16);
  assert_rc(kith_record_resolve(t, KITH_KIND_CONTACT, "c", out), 0);
  assert_memory_equal(out, c, 16);
  assert_rc(kith_record_resolve(t, KITH_KIND_CONTACT, "CD", out), 0);
  assert_memory_equal(out, c, 16);
  assert_rc(kith_record_resolve(t, KITH_KIND_CONTACT,
                                "ab12f000000000000000000000000000", out),
            0);
  assert_memory_equal(out, b, 16);
  assert_rc(kith_record_resolve(t, KITH_KIND_CONTACT,
                                "ab12f000000000000000000000000001", out),
            KITH_ENOTFOUND);
  assert_rc(kith_record_resolve(t, KITH_KIND_CONTACT, "ab13", out), KITH_ENOTFOUND);
  assert_rc(kith_record_resolve(t, KITH_KIND_CONTACT, "0", out), KITH_ENOTFOUND);
  assert_rc(kith_record_resolve(t, KITH_KIND_CONTACT, "ee", out),
            KITH_ENOTFOUND); /* deleted */
  /* kinds are kept apart */
  char nh[33];
  kith_hex_encode(note, 16, nh);
  assert_rc(kith_record_resolve(t, KITH_KIND_NOTE, nh, out), 0);
  assert_memory_equal(out, note, 16);
  assert_rc(kith_record_resolve(t, KITH_KIND_NOTE, "ab12", out), KITH_ENOTFOUND);
  assert_rc(kith_record_resolve(t, KITH_KIND_CONTACT, nh, out), KITH_ENOTFOUND);
  /* not hex, empty, too long */
  assert_rc(kith_record_resolve(t, KITH_KIND_CONTACT, "xyz", out), KITH_EINVAL);
  assert_rc(kith_record_resolve(t, KITH_KIND_CONTACT, "ab-1", out), KITH_EINVAL);
  assert_rc(kith_record_resolve(t, KITH_KIND_CONTACT, "", out), KITH_EINVAL);
  assert_rc(kith_record_resolve(t, KITH_KIND_CONTACT,
                                "ab12f0000000000000000000000000000", out),
            KITH_EINVAL);
  kith_txn_abort(t);
  kt_store_free(&s);
}

/* ---- derived indexes ----------------------------------------------------------------
 */

struct ids {
  int n, stop_at;
  uint8_t id[16][16];
};

static int ids_cb(void *arg, const uint8_t id[16])
{
  struct ids *l = arg;
  if (l->n == l->stop_at)
    return 12345;
  assert_true(l->n < 16);
  memcpy(l->id[l->n++], id, 16);
  return 0;
}

/* The kinds, tags and notes an index iteration finds, as one short string. */
static void check_indexes(kith_store *st, const uint8_t c[3][16])
{
  kith_txn *t = kt_begin(st, false);
  struct ids l = {.stop_at = -1};
  assert_rc(kith_kind_each(t, KITH_KIND_CONTACT, ids_cb, &l), 0);
  assert_int_equal(l.n, 3);
  for (int i = 1; i < l.n; i++) /* by id */
    assert_true(memcmp(l.id[i - 1], l.id[i], 16) < 0);
  l.n = 0;
  assert_rc(kith_kind_each(t, KITH_KIND_NOTE, ids_cb, &l), 0);
  assert_int_equal(l.n, 2);
  /* tags compare folded: case and accents do not matter */
  l.n = 0;
  assert_rc(kith_tag_each(t, "zoe", ids_cb, &l), 0);
  assert_int_equal(l.n, 2);
  l.n = 0;
  assert_rc(kith_tag_each(t, "ZO\xc3\x8b", ids_cb, &l), 0);
  assert_int_equal(l.n, 2);
  l.n = 0;
  assert_rc(kith_tag_each(t, "vip", ids_cb, &l), 0);
  assert_int_equal(l.n, 1);
  assert_memory_equal(l.id[0], c[2], 16);
  l.n = 0;
  assert_rc(kith_tag_each(t, "zo", ids_cb, &l), 0); /* no prefix matches */
  assert_int_equal(l.n, 0);
  l.n = 0;
  assert_rc(kith_notes_each(t, c[0], ids_cb, &l), 0);
  assert_int_equal(l.n, 2);
  l.n = 0;
  assert_rc(kith_notes_each(t, c[1], ids_cb, &l), 0);
  assert_int_equal(l.n, 0);
  /* a callback's non-zero result stops the walk and is returned */
  l.n = 0;
  l.stop_at = 1;
  assert_int_equal(kith_kind_each(t, KITH_KIND_CONTACT, ids_cb, &l), 12345);
  assert_int_equal(l.n, 1);
  kith_txn_abort(t);
}

static void make_indexed(kith_store *st, uint8_t c[3][16])
{
  kith_txn *t = kt_begin(st, true);
  uint8_t n[16];
  for (int i = 0; i < 3; i++)
    assert_rc(kith_record_create(t, KITH_KIND_CONTACT, false, c[i]), 0);
  add_tag(t, c[0], "Zo\xc3\xab");
  add_tag(t, c[1], "zoe");
  add_tag(t, c[2], "VIP");
  add_tag(t, c[2], "friends");
  assert_rc(kith_note_create(t, c[0], "one", n), 0);
  assert_rc(kith_note_create(t, c[0], "two", n), 0);
  kt_commit(t);
  /* a removed tag leaves the index */
  t = kt_begin(st, true);
  struct kith_value *v = val1("friends");
  assert_rc(kith_set_remove(t, c[2], F(KITH_F_TAGS), v), 0);
  kith_value_free(v);
  kt_commit(t);
}

static void test_indexes(void **state)
{
  (void)state;
  struct kt_store s;
  kt_store_new(&s);
  uint8_t c[3][16];
  make_indexed(s.st, c);
  check_indexes(s.st, (const uint8_t(*)[16])c);
  assert_int_equal(tag_count(s.st, "friends"), 0);
  /* rebuilding the indexes gives the same answers */
  kith_txn *t = kt_begin(s.st, true);
  assert_rc(kith_txn_reindex(t), 0);
  kt_commit(t);
  check_indexes(s.st, (const uint8_t(*)[16])c);
  assert_int_equal(tag_count(s.st, "friends"), 0);
  kt_store_free(&s);
}

/* ---- schema versions
 * ------------------------------------------------------------------ */

static void test_schema_newer_untouched(void **state)
{
  (void)state;
  struct kt_store s;
  kt_store_new(&s);
  uint8_t id[16];
  create(s.st, id, false);
  kith_txn *t = kt_begin(s.st, true);
  assert_rc(kith_txn_set_schema(t, KITH_SCHEMA_VERSION + 1), 0);
  kt_commit(t);
  kith_store_close(s.st);
  s.st = NULL;
  char path[160];
  snprintf(path, sizeof path, "%s/data.mdb", s.home);
  uint8_t before[32], after[32];
  file_hash(path, before);
  struct stat sb1, sb2;
  assert_int_equal(stat(path, &sb1), 0);
  assert_rc(kith_store_open(s.home, &kt_opts, &s.st), KITH_ENEWER);
  assert_null(s.st);
  assert_rc(kith_store_open(s.home, &kt_opts, &s.st), KITH_ENEWER);
  file_hash(path, after);
  assert_int_equal(stat(path, &sb2), 0);
  assert_memory_equal(before, after, 32);
  assert_int_equal(sb1.st_size, sb2.st_size);
  uint32_t v = 0;
  assert_rc(kith_store_schema(s.home, &v), 0);
  assert_int_equal(v, KITH_SCHEMA_VERSION + 1);
  file_hash(path, after);
  assert_memory_equal(before, after, 32);
  kt_store_free(&s);
}

static void test_schema_migration(void **state)
{
  (void)state;
  struct kt_store s;
  kt_store_new(&s);
  uint8_t c[3][16];
  make_indexed(s.st, c);
  kith_txn *t = kt_begin(s.st, true);
  assert_rc(kith_txn_set_schema(t, 1), 0);
  kt_commit(t);
  kith_store_close(s.st);
  uint32_t v = 0;
  assert_rc(kith_store_schema(s.home, &v), 0);
  assert_int_equal(v, 1);
  assert_rc(kith_store_open(s.home, &kt_opts, &s.st), 0);
  struct kith_identity id;
  identity(s.st, &id);
  assert_int_equal(id.schema, KITH_SCHEMA_VERSION);
  check_indexes(s.st, (const uint8_t(*)[16])c);
  kith_store_close(s.st); /* one LMDB environment per file and process at a time */
  s.st = NULL;
  assert_rc(kith_store_schema(s.home, &v), 0);
  assert_int_equal(v, KITH_SCHEMA_VERSION);
  kt_store_free(&s);
}

/* ---- copies and digests
 * --------------------------------------------------------------- */

static void test_copy_new_epoch(void **state)
{
  (void)state;
  struct kt_store s;
  kt_store_new(&s);
  uint8_t id[16];
  create(s.st, id, false);
  struct kith_identity orig, again, copy;
  identity(s.st, &orig);
  uint8_t d1[32], d2[32];
  digest(s.st, d1);
  kith_store_close(s.st);

  char home2[128], from[160], to[160];
  snprintf(home2, sizeof home2, "%s/copy", s.dir);
  assert_int_equal(mkdir(home2, 0700), 0);
  snprintf(from, sizeof from, "%s/data.mdb", s.home);
  snprintf(to, sizeof to, "%s/data.mdb", home2);
  copy_file(from, to);

  kith_store *st2 = NULL;
  assert_rc(kith_store_open(home2, &kt_opts, &st2), 0);
  identity(st2, &copy);
  assert_memory_not_equal(copy.epoch, orig.epoch, KITH_EPOCH_LEN);
  digest(st2, d2); /* the same data */
  assert_memory_equal(d1, d2, 32);
  kith_store_close(st2);
  /* the copy keeps its new epoch from then on */
  assert_rc(kith_store_open(home2, &kt_opts, &st2), 0);
  identity(st2, &again);
  assert_memory_equal(again.epoch, copy.epoch, KITH_EPOCH_LEN);
  kith_store_close(st2);
  /* and the original keeps its own */
  assert_rc(kith_store_open(s.home, &kt_opts, &s.st), 0);
  identity(s.st, &again);
  assert_memory_equal(again.epoch, orig.epoch, KITH_EPOCH_LEN);
  kt_store_free(&s);
}

struct regs {
  size_t n, cap;
  struct kith_reg *r;
};

static int regs_cb(void *arg, const struct kith_reg *r)
{
  struct regs *l = arg;
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 64;
    l->r = realloc(l->r, l->cap * sizeof *l->r);
    assert_non_null(l->r);
  }
  assert_rc(kith_reg_copy(&l->r[l->n++], r), 0);
  return 0;
}

static void test_digest(void **state)
{
  (void)state;
  struct kt_store a, b, c;
  kt_store_new(&a);
  kt_store_new(&b);
  kt_store_new(&c);
  uint8_t da[32], db[32], dc[32], empty[32];
  digest(b.st, empty);
  uint8_t idx[3][16];
  make_indexed(a.st, idx);
  kith_txn *t = kt_begin(a.st, true);
  uint8_t gone[16];
  set_text(t, idx[1], KITH_F_NAME, "Bea");
  assert_rc(kith_record_create(t, KITH_KIND_NOTE, false, gone), 0);
  assert_rc(kith_record_delete(t, gone), 0);
  kt_commit(t);

  struct regs all = {0};
  t = kt_begin(a.st, false);
  assert_rc(kith_reg_each(t, regs_cb, &all), 0);
  kith_txn_abort(t);
  assert_true(all.n > 5);
  /* b gets them in order, c in reverse and twice */
  t = kt_begin(b.st, true);
  for (size_t i = 0; i < all.n; i++)
    assert_rc(kith_txn_put(t, &all.r[i], NULL), 0);
  kt_commit(t);
  t = kt_begin(c.st, true);
  for (size_t k = 0; k < 2; k++)
    for (size_t i = all.n; i-- > 0;)
      assert_rc(kith_txn_put(t, &all.r[i], NULL), 0);
  kt_commit(t);
  digest(a.st, da);
  digest(b.st, db);
  digest(c.st, dc);
  assert_memory_equal(da, db, 32);
  assert_memory_equal(da, dc, 32);
  assert_memory_not_equal(da, empty, 32);
  /* the indexes followed */
  check_indexes(b.st, (const uint8_t(*)[16])idx);

  /* one change and they differ */
  t = kt_begin(c.st, true);
  set_text(t, idx[0], KITH_F_ORG, "Different");
  kt_commit(t);
  digest(c.st, dc);
  assert_memory_not_equal(da, dc, 32);
  for (size_t i = 0; i < all.n; i++)
    kith_reg_clear(&all.r[i]);
  free(all.r);
  kt_store_free(&a);
  kt_store_free(&b);
  kt_store_free(&c);
}

/* ---- local state ------------------------------------------------------------- */

static int count_local(void *arg, const uint8_t *k, size_t kl, const uint8_t *v,
                       size_t vl)
{
  (void)k, (void)v;
  assert_true(kl > 0 && vl > 0);
  ++*(int *)arg;
  return 0;
}

static void test_local(void **state)
{
  (void)state;
  struct kt_store s;
  uint8_t *v = NULL, d1[32], d2[32];
  size_t n = 0;
  int count = 0;
  kt_store_new(&s);
  kith_txn *t = kt_begin(s.st, true);
  assert_rc(kith_store_digest(t, d1), 0);
  assert_rc(kith_local_put(t, "invite/a", 8, "one", 3), 0);
  assert_rc(kith_local_put(t, "invite/b", 8, "two", 3), 0);
  assert_rc(kith_local_put(t, "other", 5, "three", 5), 0);
  assert_rc(kith_local_put(t, "", 0, "x", 1), KITH_EINVAL);
  kt_commit(t);

  t = kt_begin(s.st, false);
  assert_rc(kith_local_get(t, "invite/b", 8, &v, &n), 0);
  assert_int_equal(n, 3);
  assert_memory_equal(v, "two", 3);
  free(v);
  assert_rc(kith_local_get(t, "invite/c", 8, &v, &n), KITH_ENOTFOUND);
  assert_rc(kith_local_each(t, "invite/", 7, count_local, &count), 0);
  assert_int_equal(count, 2);
  assert_rc(kith_local_put(t, "x", 1, "y", 1), KITH_EINVAL); /* read-only txn */
  /* local state is not part of the replicated state */
  assert_rc(kith_store_digest(t, d2), 0);
  assert_memory_equal(d1, d2, 32);
  kith_txn_abort(t);

  t = kt_begin(s.st, true);
  assert_rc(kith_local_del(t, "invite/a", 8), 0);
  assert_rc(kith_local_del(t, "invite/a", 8), KITH_ENOTFOUND);
  kt_commit(t);
  t = kt_begin(s.st, false);
  count = 0;
  assert_rc(kith_local_each(t, "invite/", 7, count_local, &count), 0);
  assert_int_equal(count, 1);
  kith_txn_abort(t);
  kt_store_free(&s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_init_open),
      cmocka_unit_test(test_open_missing),
      cmocka_unit_test(test_identity),
      cmocka_unit_test(test_permissions),
      cmocka_unit_test(test_stamps_monotonic),
      cmocka_unit_test(test_put_future_refused),
      cmocka_unit_test(test_sequence_numbers),
      cmocka_unit_test(test_spaces),
      cmocka_unit_test(test_tombstone),
      cmocka_unit_test(test_record_load),
      cmocka_unit_test(test_resolve),
      cmocka_unit_test(test_indexes),
      cmocka_unit_test(test_schema_newer_untouched),
      cmocka_unit_test(test_schema_migration),
      cmocka_unit_test(test_copy_new_epoch),
      cmocka_unit_test(test_digest),
      cmocka_unit_test(test_local),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
