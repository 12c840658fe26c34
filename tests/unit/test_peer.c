/* Tests for core/peer.h: partners, my devices, and the trust decision. */
#include "kith_test.h"

#include <sodium.h>

#include "core/json.h"
#include "core/peer.h"

static void key(uint8_t pk[32], uint8_t seed)
{
  memset(pk, seed, 32);
}

static void test_peer_add_idempotent(void **state)
{
  (void)state;
  struct kt_store s;
  uint8_t pk[32], id1[16], id2[16], got[16];
  kt_store_new(&s);
  key(pk, 7);
  kith_txn *t = kt_begin(s.st, true);
  assert_rc(kith_peer_add(t, "Bea", pk, "phone", NULL, id1), 0);
  assert_rc(kith_peer_add(t, "Bea Rossi", pk, "phone", NULL, id2), 0); /* re-pairing */
  assert_memory_equal(id1, id2, 16);
  kt_commit(t);

  t = kt_begin(s.st, false);
  assert_rc(kith_key_owner(t, KITH_KIND_PEER, pk, got), 0);
  assert_memory_equal(got, id1, 16);
  struct kith_record *rec = NULL;
  assert_rc(kith_record_load(t, id1, &rec), 0);
  assert_int_equal(rec->kind, KITH_KIND_PEER);
  assert_string_equal(kith_record_text(rec, KITH_F_PEER_NAME), "Bea Rossi");
  assert_string_equal(kith_record_text(rec, KITH_F_PEER_STATUS), "confirmed");
  assert_non_null(kith_record_text(rec, KITH_F_PEER_PAIRED));
  uint8_t back[32];
  assert_rc(kith_record_key(rec, back), 0);
  assert_memory_equal(back, pk, 32);
  kith_record_free(rec);
  uint8_t other[32];
  key(other, 8);
  assert_rc(kith_key_owner(t, KITH_KIND_PEER, other, got), KITH_ENOTFOUND);
  kith_txn_abort(t);
  kt_store_free(&s);
}

static void test_trust(void **state)
{
  (void)state;
  struct kt_store s;
  uint8_t mine[32], partner[32], stranger[32], id[16], dev[16];
  enum kith_trust tr;
  struct kith_identity me;
  kt_store_new(&s);
  key(mine, 1), key(partner, 2), key(stranger, 3);
  kith_txn *t = kt_begin(s.st, true);
  assert_rc(kith_txn_identity(t, &me), 0);
  assert_rc(kith_device_add(t, "laptop", me.pk, id), 0);
  assert_rc(kith_device_add(t, "phone", mine, dev), 0);
  assert_rc(kith_peer_add(t, "Bea", partner, "laptop", NULL, id), 0);

  assert_rc(kith_trust_check(t, mine, &tr), 0);
  assert_int_equal(tr, KITH_TRUST_DEVICE);
  assert_rc(kith_trust_check(t, partner, &tr), 0);
  assert_int_equal(tr, KITH_TRUST_PEER);
  assert_rc(kith_trust_check(t, stranger, &tr), 0);
  assert_int_equal(tr, KITH_TRUST_NONE);

  assert_rc(kith_device_revoke(t, dev), 0);
  assert_rc(kith_trust_check(t, mine, &tr), 0);
  assert_int_equal(tr, KITH_TRUST_REVOKED);
  assert_rc(kith_device_revoke(t, dev), 0); /* again: no change, no error */

  /* this device cannot revoke itself */
  assert_rc(kith_key_owner(t, KITH_KIND_DEVICE, me.pk, id), 0);
  assert_rc(kith_device_revoke(t, id), KITH_EINVAL);
  /* a peer is not a device */
  assert_rc(kith_key_owner(t, KITH_KIND_PEER, partner, id), 0);
  assert_rc(kith_device_revoke(t, id), KITH_ENOTFOUND);
  kt_commit(t);
  kt_store_free(&s);
}

/* The X25519 form of a Noise static key leads back to the Ed25519 key it came
 * from, and to the same decision as kith_trust_check. */
static void test_trust_x25519(void **state)
{
  (void)state;
  struct kt_store s;
  uint8_t dev[32], bea1[32], bea2[32], gone[32], stranger[32], bogus[32], sk[64];
  uint8_t x[32], ed[32], id[16], devid[16], goneid[16];
  enum kith_trust tr;
  kt_store_new(&s);
  crypto_sign_keypair(dev, sk), crypto_sign_keypair(bea1, sk);
  crypto_sign_keypair(bea2, sk), crypto_sign_keypair(gone, sk);
  crypto_sign_keypair(stranger, sk);
  memset(bogus, 0xff, sizeof bogus); /* not a point: converts to nothing */
  kith_txn *t = kt_begin(s.st, true);
  assert_rc(kith_device_add(t, "phone", dev, devid), 0);
  assert_rc(kith_device_add(t, "old", gone, goneid), 0);
  assert_rc(kith_device_add(t, "junk", bogus, id), 0);
  assert_rc(kith_device_revoke(t, goneid), 0);
  assert_rc(kith_peer_add(t, "Bea", bea1, "laptop", NULL, id), 0);
  assert_rc(kith_peer_add(t, "Bea", bea2, "phone", NULL, id),
            0); /* her second device */
  kt_commit(t);

  const struct {
    const uint8_t *pk;
    enum kith_trust want;
  } cases[] = {{dev, KITH_TRUST_DEVICE},
               {bea1, KITH_TRUST_PEER},
               {bea2, KITH_TRUST_PEER},
               {gone, KITH_TRUST_REVOKED},
               {stranger, KITH_TRUST_NONE}};
  t = kt_begin(s.st, false);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(x, cases[i].pk), 0);
    memset(ed, 0xaa, sizeof ed);
    assert_rc(kith_trust_check_x25519(t, x, &tr, ed), 0);
    assert_int_equal(tr, cases[i].want);
    if (cases[i].want == KITH_TRUST_NONE) {
      uint8_t zero[32] = {0};
      assert_memory_equal(ed, zero, 32);
    } else {
      assert_memory_equal(ed, cases[i].pk, 32);
    }
  }
  kith_txn_abort(t);
  kt_store_free(&s);
}

static void test_fingerprint(void **state)
{
  (void)state;
  uint8_t a[32], b[32];
  char fa[40], fb[40];
  key(a, 1), key(b, 2);
  kith_fingerprint(a, fa);
  kith_fingerprint(b, fb);
  assert_int_equal(strlen(fa), 39); /* 8 groups of 4, 7 spaces */
  assert_int_equal(fa[4], ' ');
  assert_string_not_equal(fa, fb);
  kith_fingerprint(a, fb);
  assert_string_equal(fa, fb);
}

int main(void)
{
  if (sodium_init() < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_peer_add_idempotent),
      cmocka_unit_test(test_trust),
      cmocka_unit_test(test_trust_x25519),
      cmocka_unit_test(test_fingerprint),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
