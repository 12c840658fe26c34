/*
 * test_mailbox.c — core/mailbox.h: deposits and their eids, fetch order per owner,
 * owner binding of a box, box and owner quotas, deletes (only the owner's, twice
 * is harmless), expiry by sweep and on read, a batch mixing all of it, everything
 * kept across close and reopen (and the key with it), and a full map refusing
 * deposits as busy while deletes still go through.
 */
#include "kith_test.h"

#include <lmdb.h>
#include <sodium.h>

#include "core/mailbox.h"

static const uint64_t T0 = 1700000000; /* unix seconds, the tests' "now" */

static void key(uint8_t k[32], uint8_t v)
{
  memset(k, v, 32);
}

static struct kith_mb_op put(uint8_t owner, uint8_t box, const void *data, size_t size)
{
  struct kith_mb_op op;
  memset(&op, 0, sizeof op);
  op.kind = KITH_MB_PUT;
  key(op.owner, owner);
  memset(op.box, box, 16);
  op.data = data;
  op.size = size;
  return op;
}

static struct kith_mb_op del(uint8_t owner, const uint64_t *eids, size_t n)
{
  struct kith_mb_op op;
  memset(&op, 0, sizeof op);
  op.kind = KITH_MB_DEL;
  key(op.owner, owner);
  op.eids = eids;
  op.neids = n;
  return op;
}

/* One op in its own batch; returns its err, and its value through *value. */
static uint32_t one(kith_mailbox *mb, struct kith_mb_op op, uint64_t *value)
{
  assert_rc(kith_mailbox_apply(mb, &op, 1, T0, 0, NULL), 0);
  if (value)
    *value = op.value;
  return op.err;
}

static kith_mailbox *open_mb(const char *dir, const struct kith_mailbox_limits *l)
{
  kith_mailbox *mb = NULL;
  assert_rc(kith_mailbox_open(dir, l, &mb), 0);
  assert_non_null(mb);
  return mb;
}

static void test_put_fetch_order(void **state)
{
  (void)state;
  char dir[64];
  kt_tmpdir(dir);
  kith_mailbox *mb = open_mb(dir, NULL);
  uint8_t owner[32], other[32], buf[64];
  key(owner, 1), key(other, 2);

  /* interleaved deposits for two owners, in one batch */
  struct kith_mb_op ops[4] = {put(1, 0xa, "first", 5), put(2, 0xb, "theirs", 6),
                              put(1, 0xc, "second", 6), put(1, 0xa, "third", 5)};
  assert_rc(kith_mailbox_apply(mb, ops, 4, T0, 0, NULL), 0);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(ops[i].err, 0);
    assert_int_equal(ops[i].value, (uint64_t)i + 1); /* eids grow from 1 */
  }

  struct kith_mb_entry e;
  const char *want[] = {"first", "second", "third"};
  const uint64_t eids[] = {1, 3, 4};
  const uint8_t boxes[] = {0xa, 0xc, 0xa};
  uint64_t after = 0;
  for (int i = 0; i < 3; i++) {
    assert_rc(kith_mailbox_next(mb, owner, after, T0, &e), 0);
    assert_int_equal(e.eid, eids[i]);
    assert_int_equal(e.size, strlen(want[i]));
    assert_int_equal(e.box[0], boxes[i]);
    assert_int_equal(e.expiry, T0 + KITH_MAILBOX_TTL_DEFAULT);
    assert_rc(kith_mailbox_read(mb, owner, e.eid, 0, buf, e.size), 0);
    assert_memory_equal(buf, want[i], e.size);
    after = e.eid;
  }
  assert_rc(kith_mailbox_next(mb, owner, after, T0, &e), KITH_ENOTFOUND);
  assert_rc(kith_mailbox_next(mb, owner, UINT64_MAX, T0, &e), KITH_ENOTFOUND);

  /* parts of an envelope; past its end is not there */
  assert_rc(kith_mailbox_read(mb, owner, 3, 2, buf, 4), 0);
  assert_memory_equal(buf, "cond", 4);
  assert_rc(kith_mailbox_read(mb, owner, 3, 2, buf, 5), KITH_ENOTFOUND);
  assert_rc(kith_mailbox_read(mb, owner, 3, 7, buf, 0), KITH_ENOTFOUND);
  /* another owner's eid is not mine to read */
  assert_rc(kith_mailbox_read(mb, owner, 2, 0, buf, 1), KITH_ENOTFOUND);
  assert_rc(kith_mailbox_next(mb, other, 0, T0, &e), 0);
  assert_int_equal(e.eid, 2);

  uint64_t count, bytes, boxes_n;
  assert_rc(kith_mailbox_usage(mb, owner, &count, &bytes, &boxes_n), 0);
  assert_int_equal(count, 3);
  assert_int_equal(bytes, 16);
  assert_int_equal(boxes_n, 2);
  assert_rc(kith_mailbox_usage(mb, NULL, &count, &bytes, &boxes_n), 0);
  assert_int_equal(count, 4);
  assert_int_equal(bytes, 22);
  assert_int_equal(boxes_n, 3);
  kith_mailbox_close(mb);
  kt_rmtree(dir);
}

static void test_owner_binding(void **state)
{
  (void)state;
  char dir[64];
  kt_tmpdir(dir);
  kith_mailbox *mb = open_mb(dir, NULL);
  uint64_t eid = 0;
  assert_int_equal(one(mb, put(1, 0xa, "x", 1), &eid), 0);
  /* box 0xa now belongs to owner 1: a deposit naming it for owner 2 is refused */
  assert_int_equal(one(mb, put(2, 0xa, "y", 1), NULL), KITH_RERR_NOT_OWNER);
  uint8_t owner2[32];
  key(owner2, 2);
  struct kith_mb_entry e;
  assert_rc(kith_mailbox_next(mb, owner2, 0, T0, &e), KITH_ENOTFOUND);
  /* once the box is empty its binding goes with it */
  assert_int_equal(one(mb, del(1, &eid, 1), NULL), 0);
  assert_int_equal(one(mb, put(2, 0xa, "y", 1), NULL), 0);
  kith_mailbox_close(mb);
  kt_rmtree(dir);
}

static void test_quotas(void **state)
{
  (void)state;
  char dir[64];
  kt_tmpdir(dir);
  struct kith_mailbox_limits l = kith_mailbox_limits_default();
  l.max_envelope = 100;
  l.box_count = 3;
  l.box_bytes = 250;
  l.owner_bytes = 400;
  kith_mailbox *mb = open_mb(dir, &l);
  static uint8_t data[200];

  assert_int_equal(one(mb, put(1, 1, data, 101), NULL), KITH_RERR_TOO_BIG);
  assert_int_equal(one(mb, put(1, 1, data, 0), NULL), KITH_RERR_MALFORMED);
  /* box count: 3 envelopes, the 4th refused */
  for (int i = 0; i < 3; i++)
    assert_int_equal(one(mb, put(1, 1, data, 10), NULL), 0);
  assert_int_equal(one(mb, put(1, 1, data, 10), NULL), KITH_RERR_BOX_QUOTA);
  /* box bytes: 100 + 100 fit, 60 more would make 260 > 250 */
  assert_int_equal(one(mb, put(1, 2, data, 100), NULL), 0);
  assert_int_equal(one(mb, put(1, 2, data, 100), NULL), 0);
  assert_int_equal(one(mb, put(1, 2, data, 60), NULL), KITH_RERR_BOX_QUOTA);
  assert_int_equal(one(mb, put(1, 2, data, 50), NULL), 0); /* exactly 250 */
  /* owner bytes: 30 + 250 = 280 so far; 100 more fits, then 21 more does not */
  assert_int_equal(one(mb, put(1, 3, data, 100), NULL), 0);
  assert_int_equal(one(mb, put(1, 4, data, 21), NULL), KITH_RERR_OWNER_QUOTA);
  assert_int_equal(one(mb, put(1, 4, data, 20), NULL), 0); /* exactly 400 */
  /* another owner is not affected */
  assert_int_equal(one(mb, put(2, 5, data, 100), NULL), 0);

  /* a batch sees the ops before it: the third deposit overflows the box */
  struct kith_mb_op ops[3] = {put(3, 6, data, 100), put(3, 6, data, 100),
                              put(3, 6, data, 100)};
  assert_rc(kith_mailbox_apply(mb, ops, 3, T0, 0, NULL), 0);
  assert_int_equal(ops[0].err, 0);
  assert_int_equal(ops[1].err, 0);
  assert_int_equal(ops[2].err, KITH_RERR_BOX_QUOTA);
  assert_int_equal(ops[2].value, 0);
  kith_mailbox_close(mb);
  kt_rmtree(dir);
}

static void test_delete(void **state)
{
  (void)state;
  char dir[64];
  kt_tmpdir(dir);
  kith_mailbox *mb = open_mb(dir, NULL);
  uint64_t a, b, c, n;
  assert_int_equal(one(mb, put(1, 1, "aa", 2), &a), 0);
  assert_int_equal(one(mb, put(1, 1, "bb", 2), &b), 0);
  assert_int_equal(one(mb, put(2, 2, "cc", 2), &c), 0);

  /* owner 2 names owner 1's eids and its own: only its own goes */
  uint64_t mixed[] = {a, b, c, 999};
  assert_int_equal(one(mb, del(2, mixed, 4), &n), 0);
  assert_int_equal(n, 1);
  uint8_t o1[32], o2[32];
  key(o1, 1), key(o2, 2);
  struct kith_mb_entry e;
  assert_rc(kith_mailbox_next(mb, o2, 0, T0, &e), KITH_ENOTFOUND);
  assert_rc(kith_mailbox_next(mb, o1, 0, T0, &e), 0);
  assert_int_equal(e.eid, a);

  /* owner 1 deletes a, then a again and b: a second delete is harmless */
  assert_int_equal(one(mb, del(1, &a, 1), &n), 0);
  assert_int_equal(n, 1);
  uint64_t again[] = {a, b, b};
  assert_int_equal(one(mb, del(1, again, 3), &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(one(mb, del(1, again, 3), &n), 0);
  assert_int_equal(n, 0);
  assert_rc(kith_mailbox_next(mb, o1, 0, T0, &e), KITH_ENOTFOUND);
  uint64_t count = 9, bytes = 9, boxes = 9;
  assert_rc(kith_mailbox_usage(mb, NULL, &count, &bytes, &boxes), 0);
  assert_int_equal(count, 0);
  assert_int_equal(bytes, 0);
  assert_int_equal(boxes, 0);
  assert_rc(kith_mailbox_usage(mb, o1, &count, &bytes, &boxes), 0);
  assert_int_equal(count, 0);
  /* an empty delete is fine too */
  assert_int_equal(one(mb, del(1, NULL, 0), &n), 0);
  assert_int_equal(n, 0);
  kith_mailbox_close(mb);
  kt_rmtree(dir);
}

static void test_expiry(void **state)
{
  (void)state;
  char dir[64];
  kt_tmpdir(dir);
  struct kith_mailbox_limits l = kith_mailbox_limits_default();
  l.ttl_s = 100;
  kith_mailbox *mb = open_mb(dir, &l);
  uint8_t o1[32];
  key(o1, 1);
  /* three deposits at T0, T0 + 10, T0 + 20 */
  for (uint64_t i = 0; i < 3; i++) {
    struct kith_mb_op op = put(1, 1, "e", 1);
    assert_rc(kith_mailbox_apply(mb, &op, 1, T0 + 10 * i, 0, NULL), 0);
    assert_int_equal(op.err, 0);
  }
  struct kith_mb_entry e;
  /* at T0 + 105, the first has expired: not fetched any more, though not swept */
  assert_rc(kith_mailbox_next(mb, o1, 0, T0 + 105, &e), 0);
  assert_int_equal(e.eid, 2);
  assert_rc(kith_mailbox_next(mb, o1, 0, T0 + 99, &e), 0);
  assert_int_equal(e.eid, 1);
  uint64_t count;
  assert_rc(kith_mailbox_usage(mb, o1, &count, NULL, NULL), 0);
  assert_int_equal(count, 3);
  /* a sweep at T0 + 115 deletes two, or one when limited to one */
  size_t swept = 9;
  assert_rc(kith_mailbox_apply(mb, NULL, 0, T0 + 115, 1, &swept), 0);
  assert_int_equal(swept, 1);
  assert_rc(kith_mailbox_apply(mb, NULL, 0, T0 + 115, 100, &swept), 0);
  assert_int_equal(swept, 1);
  assert_rc(kith_mailbox_apply(mb, NULL, 0, T0 + 115, 100, &swept), 0);
  assert_int_equal(swept, 0);
  assert_rc(kith_mailbox_usage(mb, o1, &count, NULL, NULL), 0);
  assert_int_equal(count, 1);
  assert_rc(kith_mailbox_next(mb, o1, 0, T0 + 115, &e), 0);
  assert_int_equal(e.eid, 3);
  /* the sweep runs after the batch's ops, in the same transaction */
  struct kith_mb_op op = put(1, 1, "f", 1);
  assert_rc(kith_mailbox_apply(mb, &op, 1, T0 + 500, 100, &swept), 0);
  assert_int_equal(swept, 1);
  assert_int_equal(op.err, 0);
  assert_rc(kith_mailbox_usage(mb, o1, &count, NULL, NULL), 0);
  assert_int_equal(count, 1);
  /* a sweep of many more than one chunk */
  for (int round = 0; round < 3; round++) {
    struct kith_mb_op ops[200];
    for (int i = 0; i < 200; i++)
      ops[i] = put(2, (uint8_t)(10 + i % 20), "g", 1);
    assert_rc(kith_mailbox_apply(mb, ops, 200, T0 + 1000, 0, NULL), 0);
  }
  assert_rc(kith_mailbox_apply(mb, NULL, 0, T0 + 2000, 1000, &swept), 0);
  assert_int_equal(swept, 601);
  assert_rc(kith_mailbox_usage(mb, NULL, &count, NULL, NULL), 0);
  assert_int_equal(count, 0);
  kith_mailbox_close(mb);
  kt_rmtree(dir);
}

static void test_reopen(void **state)
{
  (void)state;
  char dir[64], sub[128];
  kt_tmpdir(dir);
  snprintf(sub, sizeof sub, "%s/a/b", dir); /* made with its parents */
  kith_mailbox *mb = open_mb(sub, NULL);
  uint8_t sk[32], pk[32], sk2[32], pk2[32], o1[32], buf[8];
  kith_mailbox_key(mb, sk, pk);
  assert_false(sodium_is_zero(pk, 32));
  uint64_t a, b;
  assert_int_equal(one(mb, put(1, 1, "kept", 4), &a), 0);
  assert_int_equal(one(mb, put(1, 1, "gone", 4), &b), 0);
  assert_int_equal(one(mb, del(1, &b, 1), NULL), 0);
  kith_mailbox_close(mb);

  mb = open_mb(sub, NULL);
  kith_mailbox_key(mb, sk2, pk2);
  assert_memory_equal(sk, sk2, 32);
  assert_memory_equal(pk, pk2, 32);
  key(o1, 1);
  struct kith_mb_entry e;
  assert_rc(kith_mailbox_next(mb, o1, 0, T0, &e), 0);
  assert_int_equal(e.eid, a);
  assert_rc(kith_mailbox_read(mb, o1, a, 0, buf, 4), 0);
  assert_memory_equal(buf, "kept", 4);
  assert_rc(kith_mailbox_next(mb, o1, a, T0, &e), KITH_ENOTFOUND);
  uint64_t c;
  assert_int_equal(one(mb, put(1, 1, "new", 3), &c), 0);
  assert_int_equal(c, b + 1); /* eids are never reused */
  /* the binding survives too */
  assert_int_equal(one(mb, put(2, 1, "x", 1), NULL), KITH_RERR_NOT_OWNER);
  kith_mailbox_close(mb);
  kt_rmtree(dir);
}

static void test_full(void **state)
{
  (void)state;
  char dir[64];
  kt_tmpdir(dir);
  struct kith_mailbox_limits l = kith_mailbox_limits_default();
  l.map_size = 1 << 20; /* 1 MiB: full after a few hundred KiB of mail */
  kith_mailbox *mb = open_mb(dir, &l);
  static uint8_t data[64 * 1024];
  uint64_t eids[64];
  size_t kept = 0;
  int rc = 0;
  for (int i = 0; i < 64 && rc == 0; i++) {
    struct kith_mb_op op = put(1, (uint8_t)i, data, sizeof data);
    rc = kith_mailbox_apply(mb, &op, 1, T0, 0, NULL);
    if (rc == 0) {
      assert_int_equal(op.err, 0);
      eids[kept++] = op.value;
    } else {
      assert_rc(rc, KITH_EFULL);
      assert_int_equal(op.err, KITH_RERR_BUSY);
    }
  }
  assert_rc(rc, KITH_EFULL);
  assert_true(kept > 2);
  /* a batch with a deposit and a delete: the deposit busy, the delete done */
  struct kith_mb_op ops[2] = {put(1, 0xee, data, sizeof data), del(1, eids, 2)};
  assert_rc(kith_mailbox_apply(mb, ops, 2, T0, 0, NULL), KITH_EFULL);
  assert_int_equal(ops[0].err, KITH_RERR_BUSY);
  assert_int_equal(ops[1].err, 0);
  assert_int_equal(ops[1].value, 2);
  /* what was acknowledged is all there, and readable */
  uint8_t o1[32];
  key(o1, 1);
  uint64_t count;
  assert_rc(kith_mailbox_usage(mb, o1, &count, NULL, NULL), 0);
  assert_int_equal(count, kept - 2);
  struct kith_mb_entry e;
  assert_rc(kith_mailbox_next(mb, o1, 0, T0, &e), 0);
  assert_int_equal(e.eid, eids[2]);
  kith_mailbox_close(mb);
  mb = open_mb(dir, &l);
  assert_rc(kith_mailbox_usage(mb, o1, &count, NULL, NULL), 0);
  assert_int_equal(count, kept - 2);
  kith_mailbox_close(mb);
  kt_rmtree(dir);
}

/* A store written by a newer kith (schema 2) is refused, not read or rewritten. */
static void test_newer_schema(void **state)
{
  (void)state;
  char dir[64];
  kt_tmpdir(dir);
  kith_mailbox *mb = open_mb(dir, NULL);
  kith_mailbox_close(mb);
  MDB_env *env = NULL;
  MDB_txn *t = NULL;
  MDB_dbi meta;
  uint8_t two[4] = {0, 0, 0, 2};
  MDB_val k = {6, "schema"}, v = {4, two};
  assert_int_equal(mdb_env_create(&env), 0);
  assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
  assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
  assert_int_equal(mdb_txn_begin(env, NULL, 0, &t), 0);
  assert_int_equal(mdb_dbi_open(t, "meta", 0, &meta), 0);
  assert_int_equal(mdb_put(t, meta, &k, &v, 0), 0);
  assert_int_equal(mdb_txn_commit(t), 0);
  mdb_env_close(env);
  mb = (kith_mailbox *)1;
  assert_rc(kith_mailbox_open(dir, NULL, &mb), KITH_ENEWER);
  assert_null(mb);
  kt_rmtree(dir);
}

static void test_bad_open(void **state)
{
  (void)state;
  kith_mailbox *mb = (kith_mailbox *)1;
  struct kith_mailbox_limits l = kith_mailbox_limits_default();
  l.ttl_s = 0;
  assert_rc(kith_mailbox_open("/tmp", &l, &mb), KITH_EINVAL);
  assert_null(mb);
  assert_rc(kith_mailbox_open("/proc/kith-no-such/relay", NULL, &mb), KITH_EIO);
  kith_mailbox_close(NULL);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_put_fetch_order),
      cmocka_unit_test(test_owner_binding),
      cmocka_unit_test(test_quotas),
      cmocka_unit_test(test_delete),
      cmocka_unit_test(test_expiry),
      cmocka_unit_test(test_reopen),
      cmocka_unit_test(test_full),
      cmocka_unit_test(test_newer_schema),
      cmocka_unit_test(test_bad_open),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
