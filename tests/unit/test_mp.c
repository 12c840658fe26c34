/*
 * test_mp.c — proto/mp.h: kith_mp_check's bounds (counts, depth, truncation,
 * trailing bytes, the never-used 0xc1), kith_mp_unpack and kith_mp_take.
 */
#include "kith_test.h"

#include "proto/mp.h"

static int check_hex(const char *hex, int max_depth)
{
  size_t len;
  uint8_t *b = kt_unhex(hex, &len);
  int rc = kith_mp_check(b, len, max_depth);
  free(b);
  return rc;
}

/* One item of every format, in its every header size. */
static const char *const valid[] = {
    "00",
    "7f",
    "e0",
    "ff",
    "c0",
    "c2",
    "c3",
    "ca 3f 80 00 00",
    "cb 3f f0 00 00 00 00 00 00",
    "cc ff",
    "cd ff ff",
    "ce ff ff ff ff",
    "cf ff ff ff ff ff ff ff ff",
    "d0 80",
    "d1 80 00",
    "d2 80 00 00 00",
    "d3 80 00 00 00 00 00 00 00",
    "a0",
    "a3 61 62 63",
    "d9 03 61 62 63",
    "da 00 03 61 62 63",
    "db 00 00 00 03 61 62 63",
    "c4 00",
    "c4 02 01 02",
    "c5 00 02 01 02",
    "c6 00 00 00 02 01 02",
    "d4 01 aa",
    "d5 01 aa bb",
    "d6 01 00 01 02 03",
    "d7 01 00 01 02 03 04 05 06 07",
    "d8 01 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f",
    "c7 00 05",
    "c7 02 05 aa bb",
    "c8 00 02 05 aa bb",
    "c9 00 00 00 02 05 aa bb",
    "90",
    "93 01 02 03",
    "dc 00 02 c0 c0",
    "dd 00 00 00 02 c0 c0",
    "80",
    "81 a1 61 01",
    "de 00 01 a1 61 01",
    "df 00 00 00 01 a1 61 01",
    "92 91 c0 81 a1 61 92 c2 c3",
    /* a register in canonical form (proto/reg.h) */
    ("98 c4 10 000102030405060708090a0b0c0d0e0f 01 c0 cf 0001020304050607"
     " c4 10 ffeeddccbbaa99887766554433221100 00 c0 91 a3 416461"),
};

static void test_check_accepts(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
    int rc = check_hex(valid[i], 4);
    if (rc != 0)
      fail_msg("kith_mp_check(%s) returned %d (%s), want 0", valid[i], rc,
               kith_strerror(rc));
  }
}

static void test_check_rejects(void **state)
{
  (void)state;
  static const char *const bad[] = {
      "", /* nothing at all */
      /* counts larger than the bytes left */
      "dd ff ff ff ff", /* array32 of 2^32-1 items in 5 bytes */
      "df ff ff ff ff",
      "dc ff ff",
      "de ff ff",
      "9f",
      "8f",
      "92 c0",
      "81 c0",
      "82 c0 c0 c0",
      /* truncated headers and payloads */
      "a3 61 62",
      "d9",
      "d9 05 61",
      "da 00",
      "db 00 00 00",
      "db ff ff ff ff 61",
      "c4",
      "c4 10 00",
      "c5 00",
      "c6 ff ff ff ff",
      "d4",
      "d4 01",
      "d8 01 00",
      "c7",
      "c7 02",
      "c7 02 05 aa",
      "c8 00 01 05",
      "c9 ff ff ff ff 05",
      "cc",
      "cd 00",
      "ce 00 00 00",
      "cf 00 00 00 00 00 00 00",
      "d0",
      "d3 00",
      "ca 00 00 00",
      "cb 00",
      /* 0xc1 is never used */
      "c1",
      "91 c1",
      "81 c1 c0",
      "81 c0 c1",
      /* trailing bytes */
      "c0 c0",
      "91 c0 c0",
      "a1 61 61",
      "90 00",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = check_hex(bad[i], 4);
    if (rc != KITH_EBADMSG)
      fail_msg("kith_mp_check(\"%s\") returned %d, want KITH_EBADMSG", bad[i], rc);
  }
}

/* n arrays of one item nested around nil: "91 91 ... c0". */
static int check_nested(int n, int max_depth, uint8_t open)
{
  uint8_t b[64];
  size_t k = 0;
  for (int i = 0; i < n; i++) {
    b[k++] = open;
    if (open == 0x81) /* a map: key nil, then the nested value */
      b[k++] = 0xc0;
  }
  b[k++] = 0xc0;
  return kith_mp_check(b, k, max_depth);
}

static void test_check_depth(void **state)
{
  (void)state;
  for (int n = 0; n <= 12; n++) {
    assert_rc(check_nested(n, n, 0x91), 0);
    assert_rc(check_nested(n, n + 3, 0x91), 0);
    assert_rc(check_nested(n, n, 0x81), 0);
    if (n > 0) {
      assert_rc(check_nested(n, n - 1, 0x91), KITH_EBADMSG);
      assert_rc(check_nested(n, n - 1, 0x81), KITH_EBADMSG);
    }
  }
  /* empty containers hold nothing deeper */
  assert_rc(check_hex("90", 0), 0);
  assert_rc(check_hex("91 90", 1), 0);
  assert_rc(check_hex("91 90", 0), KITH_EBADMSG);
  assert_rc(check_hex("91 91 c0", 1), KITH_EBADMSG);
}

static void test_unpack(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
    size_t len;
    uint8_t *b = kt_unhex(valid[i], &len);
    msgpack_unpacked u;
    int rc = kith_mp_unpack(b, len, 4, &u);
    msgpack_unpacked_destroy(&u);
    free(b);
    if (rc != 0)
      fail_msg("kith_mp_unpack(%s) returned %d, want 0", valid[i], rc);
  }
  size_t len;
  uint8_t *b = kt_unhex("93 01 a2 68 69 c0", &len);
  msgpack_unpacked u;
  assert_rc(kith_mp_unpack(b, len, 1, &u), 0);
  assert_int_equal(u.data.type, MSGPACK_OBJECT_ARRAY);
  assert_int_equal(u.data.via.array.size, 3);
  assert_int_equal(u.data.via.array.ptr[0].via.u64, 1);
  assert_int_equal(u.data.via.array.ptr[1].via.str.size, 2);
  assert_memory_equal(u.data.via.array.ptr[1].via.str.ptr, "hi", 2);
  assert_int_equal(u.data.via.array.ptr[2].type, MSGPACK_OBJECT_NIL);
  msgpack_unpacked_destroy(&u);
  /* refused before msgpack-c sees it: the bound, the depth, trailing bytes */
  assert_rc(kith_mp_unpack(b, len, 0, &u), KITH_EBADMSG);
  msgpack_unpacked_destroy(&u);
  assert_rc(kith_mp_unpack(b, len - 1, 1, &u), KITH_EBADMSG);
  msgpack_unpacked_destroy(&u);
  free(b);
  b = kt_unhex("dd ff ff ff ff", &len);
  assert_rc(kith_mp_unpack(b, len, 4, &u), KITH_EBADMSG);
  msgpack_unpacked_destroy(&u);
  free(b);
}

static void test_take(void **state)
{
  (void)state;
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  assert_int_equal(msgpack_pack_array(&pk, 2), 0);
  assert_int_equal(msgpack_pack_uint8(&pk, 200), 0);
  assert_int_equal(msgpack_pack_nil(&pk), 0);
  uint8_t *out = NULL;
  size_t len = 0;
  kith_mp_take(&sb, &out, &len);
  const uint8_t want[] = {0x92, 0xcc, 0xc8, 0xc0};
  assert_bytes_equal(out, len, want, sizeof want);
  assert_null(sb.data);
  assert_int_equal(sb.size, 0);
  assert_int_equal(sb.alloc, 0);
  msgpack_sbuffer_destroy(&sb); /* the emptied buffer is still safe to destroy */
  free(out);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_check_accepts), cmocka_unit_test(test_check_rejects),
      cmocka_unit_test(test_check_depth),   cmocka_unit_test(test_unpack),
      cmocka_unit_test(test_take),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
