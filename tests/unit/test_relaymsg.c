/*
 * test_relaymsg.c — proto/relaymsg.h: the golden bytes of every relay message, each
 * decoded back (kith_msg_decode, then kith_rmsg_decode) to the same fields, and
 * what the decoder must refuse: every truncation, wrong field counts, wrong
 * msgpack types and sizes, a chunk over KITH_RMSG_CHUNK_MAX, more than
 * KITH_RMSG_DEL_MAX eids, an error text over its bound or not UTF-8, types that
 * are not the relay's. The encoder refuses what the decoder would.
 *
 * The golden vectors were written by hand from the msgpack spec and the table in
 * docs/PROTOCOL.md (the comment above each reads it back); if the encoder and
 * these bytes disagree, the wire format changed.
 */
#include "kith_test.h"

#include "proto/relaymsg.h"

#define KEY "c4 20 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define BOX "c4 10 a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
#define BOX2 "c4 10 b0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
#define TAG "c4 10 c0c1c2c3c4c5c6c7c8c9cacbcccdcecf"

static uint64_t eid_buf[KITH_RMSG_DEL_MAX];

static void fill(uint8_t *p, size_t n, uint8_t first)
{
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)(first + i);
}

static struct kith_rmsg rmsg(int type)
{
  struct kith_rmsg m;
  memset(&m, 0, sizeof m);
  m.type = type;
  return m;
}

static void assert_rmsg_equal(const struct kith_rmsg *a, const struct kith_rmsg *b)
{
  assert_int_equal(a->type, b->type);
  assert_int_equal(a->req, b->req);
  assert_int_equal(a->version, b->version);
  assert_int_equal(a->max_envelope, b->max_envelope);
  assert_int_equal(a->ttl_s, b->ttl_s);
  assert_int_equal(a->flags, b->flags);
  assert_memory_equal(a->owner, b->owner, KITH_RMSG_KEY_LEN);
  assert_memory_equal(a->box, b->box, KITH_RMSG_BOX_LEN);
  assert_int_equal(a->size, b->size);
  assert_int_equal(a->value, b->value);
  assert_int_equal(a->code, b->code);
  assert_string_equal(a->text, b->text);
  assert_int_equal(a->after, b->after);
  assert_int_equal(a->max_bytes, b->max_bytes);
  assert_int_equal(a->eid, b->eid);
  assert_memory_equal(a->tag, b->tag, KITH_RMSG_TAG_LEN);
  assert_int_equal(a->chunk_len, b->chunk_len);
  if (a->chunk_len)
    assert_memory_equal(a->chunk, b->chunk, a->chunk_len);
  assert_int_equal(a->neids, b->neids);
  for (size_t i = 0; i < a->neids; i++)
    assert_int_equal(a->eids[i], b->eids[i]);
}

/* kith_msg_decode then kith_rmsg_decode, as the relay session does. */
static int decode(const uint8_t *b, size_t n, struct kith_rmsg *out)
{
  struct kith_msg m;
  memset(out, 0x5a, sizeof *out);
  out->eids = eid_buf;
  int rc = kith_msg_decode(b, n, &m);
  if (rc == 0)
    rc = kith_rmsg_decode(&m, out);
  return rc;
}

/* A refused decode leaves every field zero, and the caller's eid room. */
static void assert_cleared(const struct kith_rmsg *r)
{
  struct kith_rmsg zero;
  memset(&zero, 0, sizeof zero);
  zero.eids = eid_buf;
  zero.type = r->type; /* not promised either way */
  assert_ptr_equal(r->eids, eid_buf);
  assert_null(r->chunk);
  assert_rmsg_equal(r, &zero);
}

/* Encodes m and checks the bytes against hex; decodes them back to the same
 * fields; refuses every smaller capacity without writing past it; refuses every
 * truncation of the whole message and of its fields alone (same count), and one
 * byte too many after the fields. */
static void golden(const struct kith_rmsg *m, const char *hex)
{
  size_t wlen, len = 0;
  uint8_t *want = kt_unhex(hex, &wlen);
  uint8_t *out = malloc(wlen + 16);
  assert_non_null(out);
  assert_rc(kith_rmsg_encode(m, out, wlen + 16, &len), 0);
  assert_bytes_equal(out, len, want, wlen);
  for (size_t cap = 0; cap < wlen; cap++) {
    memset(out, 0xee, wlen + 16);
    assert_rc(kith_rmsg_encode(m, out, cap, &len), KITH_EINVAL);
    assert_int_equal(len, 0);
    for (size_t i = cap; i < wlen + 16; i++)
      assert_int_equal(out[i], 0xee); /* nothing past the capacity */
  }

  struct kith_rmsg back;
  assert_rc(decode(want, wlen, &back), 0);
  assert_rmsg_equal(&back, m);
  assert_ptr_equal(back.eids, eid_buf);
  if (m->type == KITH_RMSG_DATA && m->chunk_len) /* borrowed: the buffer's tail */
    assert_ptr_equal(back.chunk, want + wlen - m->chunk_len);
  else
    assert_null(back.chunk);

  for (size_t n = 0; n < wlen; n++) /* not one msgpack item: kith_msg_decode */
    assert_rc(decode(want, n, &back), KITH_EBADMSG);

  struct kith_msg raw;
  assert_rc(kith_msg_decode(want, wlen, &raw), 0);
  assert_int_equal(raw.type, m->type);
  uint8_t *body = malloc(raw.u.sync.len + 1);
  assert_non_null(body);
  memcpy(body, raw.u.sync.body, raw.u.sync.len);
  struct kith_msg cut = raw;
  cut.u.sync.body = body;
  for (size_t n = 0; n < raw.u.sync.len; n++) {
    cut.u.sync.len = n;
    memset(&back, 0x5a, sizeof back);
    back.eids = eid_buf;
    assert_rc(kith_rmsg_decode(&cut, &back), KITH_EBADMSG);
    assert_cleared(&back);
  }
  const uint8_t trail[] = {0x00, 0xc0, 0x90, 0xc3};
  for (size_t i = 0; i < sizeof trail; i++) {
    body[raw.u.sync.len] = trail[i];
    cut.u.sync.len = raw.u.sync.len + 1;
    assert_rc(kith_rmsg_decode(&cut, &back), KITH_EBADMSG);
    assert_cleared(&back);
  }
  free(body);
  free(out);
  free(want);
}

/* Decodes a hex literal and expects rc; a refusal leaves the fields cleared. */
static void decode_hex(const char *hex, int rc)
{
  size_t len;
  uint8_t *b = kt_unhex(hex, &len);
  struct kith_rmsg r;
  int got = decode(b, len, &r);
  if (got != rc)
    print_error("input: %s\n", hex);
  assert_rc(got, rc);
  struct kith_msg m;
  if (rc == KITH_EBADMSG && kith_msg_decode(b, len, &m) == 0)
    assert_cleared(&r); /* refused by kith_rmsg_decode */
  free(b);
}

/* ---- golden bytes --------------------------------------------------------------- */

static void test_golden_info(void **state)
{
  (void)state;
  struct kith_rmsg m = rmsg(KITH_RMSG_INFO);
  m.version = 1;
  m.max_envelope = 1052672; /* 1 MiB + 4 KiB */
  m.ttl_s = 1209600;        /* 14 days */
  m.flags = 0;
  /* array 6, version 1, type 64, version 1, uint32 0x00101000, uint32 0x00127500,
   * flags 0 */
  golden(&m, "96 01 40 01 ce00101000 ce00127500 00");
}

static void test_golden_put(void **state)
{
  (void)state;
  struct kith_rmsg m = rmsg(KITH_RMSG_PUT);
  m.req = 7;
  fill(m.owner, 32, 0x00);
  fill(m.box, 16, 0xa0);
  m.size = 1000;
  /* array 6, 1, 65, req 7, owner bin 32, box bin 16, uint16 1000 */
  golden(&m, "96 01 41 07 " KEY " " BOX " cd03e8");
}

static void test_golden_data(void **state)
{
  (void)state;
  struct kith_rmsg m = rmsg(KITH_RMSG_DATA);
  m.chunk = (const uint8_t *)"hello";
  m.chunk_len = 5;
  golden(&m, "93 01 42 c405 68656c6c6f"); /* array 3, 1, 66, bin 5 "hello" */
  m.chunk = NULL;
  m.chunk_len = 0;
  golden(&m, "93 01 42 c400"); /* the keepalive: an empty chunk */

  static uint8_t big[KITH_RMSG_CHUNK_MAX];
  memset(big, 0x77, sizeof big);
  m.chunk = big;
  m.chunk_len = sizeof big; /* the largest: bin 16 header, 60,000 = 0xea60 */
  uint8_t out[KITH_RMSG_CHUNK_MAX + 16];
  size_t len = 0;
  assert_rc(kith_rmsg_encode(&m, out, sizeof out, &len), 0);
  assert_int_equal(len, 3 + 3 + KITH_RMSG_CHUNK_MAX);
  assert_bytes_equal(out, 6, (const uint8_t *)"\x93\x01\x42\xc5\xea\x60", 6);
  struct kith_rmsg back;
  assert_rc(decode(out, len, &back), 0);
  assert_int_equal(back.chunk_len, KITH_RMSG_CHUNK_MAX);
  assert_ptr_equal(back.chunk, out + 6);
}

/* The header a streamer writes before a chunk is what the encoder writes. */
static void test_data_header(void **state)
{
  (void)state;
  static uint8_t chunk[KITH_RMSG_CHUNK_MAX], out[KITH_RMSG_CHUNK_MAX + 16];
  const size_t lens[] = {0, 1, 255, 256, KITH_RMSG_CHUNK_MAX};
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    struct kith_rmsg m = rmsg(KITH_RMSG_DATA);
    uint8_t hdr[KITH_RMSG_DATA_HDR_MAX];
    size_t hlen = 99, len = 0;
    m.chunk = chunk;
    m.chunk_len = lens[i];
    assert_rc(kith_rmsg_encode(&m, out, sizeof out, &len), 0);
    assert_rc(kith_rmsg_data_header(lens[i], hdr, &hlen), 0);
    assert_int_equal(hlen + lens[i], len);
    assert_memory_equal(hdr, out, hlen);
  }
  uint8_t hdr[KITH_RMSG_DATA_HDR_MAX];
  size_t hlen = 99;
  assert_rc(kith_rmsg_data_header(KITH_RMSG_CHUNK_MAX + 1, hdr, &hlen), KITH_EINVAL);
  assert_int_equal(hlen, 0);
}

static void test_golden_ok(void **state)
{
  (void)state;
  struct kith_rmsg m = rmsg(KITH_RMSG_OK);
  m.req = UINT32_MAX;
  m.value = (uint64_t)1 << 40;
  /* array 4, 1, 67, uint32 ffffffff, uint64 2^40 */
  golden(&m, "94 01 43 ceffffffff cf0000010000000000");
  m.req = 0, m.value = 0;
  golden(&m, "94 01 43 00 00");
}

static void test_golden_err(void **state)
{
  (void)state;
  struct kith_rmsg m = rmsg(KITH_RMSG_ERR);
  m.req = 9;
  m.code = KITH_RERR_NOT_OWNER;
  kith_rmsg_set_text(&m, "not yours");
  /* array 5, 1, 68, req 9, code 5, str 9 "not yours" */
  golden(&m, "95 01 44 09 05 a9 6e6f7420796f757273");
  kith_rmsg_set_text(&m, "");
  golden(&m, "95 01 44 09 05 a0");
  /* the longest text: 200 bytes, str 8 header */
  char t[KITH_RMSG_TEXT_MAX + 1];
  memset(t, 'x', KITH_RMSG_TEXT_MAX);
  t[KITH_RMSG_TEXT_MAX] = 0;
  kith_rmsg_set_text(&m, t);
  uint8_t out[300];
  size_t len;
  assert_rc(kith_rmsg_encode(&m, out, sizeof out, &len), 0);
  assert_int_equal(len, 5 + 2 + KITH_RMSG_TEXT_MAX);
  struct kith_rmsg back;
  assert_rc(decode(out, len, &back), 0);
  assert_string_equal(back.text, t);
}

static void test_golden_fetch(void **state)
{
  (void)state;
  struct kith_rmsg m = rmsg(KITH_RMSG_FETCH);
  m.req = 0;
  m.after = 300;
  m.max_bytes = 1048576;
  golden(&m, "95 01 45 00 cd012c ce00100000"); /* array 5, 1, 69, 0, 300, 2^20 */
}

static void test_golden_mail(void **state)
{
  (void)state;
  struct kith_rmsg m = rmsg(KITH_RMSG_MAIL);
  m.eid = 17;
  fill(m.box, 16, 0xb0);
  m.size = 65536;
  golden(&m, "95 01 46 11 " BOX2 " ce00010000"); /* array 5, 1, 70, 17, box, 2^16 */
}

static void test_golden_del(void **state)
{
  (void)state;
  uint64_t e[3] = {1, 255, (uint64_t)1 << 32};
  struct kith_rmsg m = rmsg(KITH_RMSG_DEL);
  m.req = 3;
  m.eids = e;
  m.neids = 3;
  /* array 4, 1, 71, req 3, array 3 [1, uint8 255, uint64 2^32] */
  golden(&m, "94 01 47 03 93 01 ccff cf0000000100000000");
  m.neids = 0;
  golden(&m, "94 01 47 03 90");

  static uint64_t many[KITH_RMSG_DEL_MAX];
  for (size_t i = 0; i < KITH_RMSG_DEL_MAX; i++)
    many[i] = i + 1;
  m.eids = many;
  m.neids = KITH_RMSG_DEL_MAX;
  static uint8_t out[KITH_RMSG_DEL_MAX * 9 + 32];
  size_t len = 0;
  assert_rc(kith_rmsg_encode(&m, out, sizeof out, &len), 0);
  struct kith_rmsg back;
  assert_rc(decode(out, len, &back), 0);
  assert_int_equal(back.neids, KITH_RMSG_DEL_MAX);
  assert_int_equal(back.eids[KITH_RMSG_DEL_MAX - 1], KITH_RMSG_DEL_MAX);
}

static void test_golden_wait_join(void **state)
{
  (void)state;
  struct kith_rmsg m = rmsg(KITH_RMSG_WAIT);
  m.req = 1;
  fill(m.tag, 16, 0xc0);
  golden(&m, "94 01 48 01 " TAG); /* array 4, 1, 72, req 1, tag bin 16 */
  m.type = KITH_RMSG_JOIN;
  m.req = 2;
  golden(&m, "94 01 49 02 " TAG); /* array 4, 1, 73, req 2, tag bin 16 */
}

/* ---- refusals ------------------------------------------------------------------- */

static void test_refused(void **state)
{
  (void)state;
  /* field counts */
  decode_hex("95 01 40 01 ce00101000 ce00127500", KITH_EBADMSG);
  decode_hex("97 01 40 01 ce00101000 ce00127500 00 00", KITH_EBADMSG);
  decode_hex("92 01 42", KITH_EBADMSG);
  decode_hex("94 01 42 c400 c400", KITH_EBADMSG);
  decode_hex("93 01 43 00", KITH_EBADMSG);
  decode_hex("93 01 48 01", KITH_EBADMSG);
  /* types and sizes */
  decode_hex("96 01 41 07 " BOX " " BOX " cd03e8", KITH_EBADMSG); /* owner of 16 */
  decode_hex("96 01 41 07 " KEY " " KEY " cd03e8", KITH_EBADMSG); /* box of 32 */
  decode_hex("96 01 41 cf0000000100000000 " KEY " " BOX " 01",
             KITH_EBADMSG);                                           /* req >= 2^32 */
  decode_hex("96 01 41 ff " KEY " " BOX " 01", KITH_EBADMSG);         /* req -1 */
  decode_hex("96 01 41 07 " KEY " " BOX " c0", KITH_EBADMSG);         /* size nil */
  decode_hex("96 01 41 07 " KEY " " BOX " ca3f800000", KITH_EBADMSG); /* float */
  decode_hex("93 01 42 a568656c6c6f", KITH_EBADMSG);                  /* chunk as str */
  decode_hex("94 01 43 01 c3", KITH_EBADMSG);                         /* value true */
  decode_hex("95 01 44 09 05 c403616263", KITH_EBADMSG);              /* text as bin */
  decode_hex("95 01 44 09 05 a3 61ff63", KITH_EBADMSG);               /* not UTF-8 */
  decode_hex("95 01 44 09 05 a3 610063", KITH_EBADMSG);               /* a NUL */
  decode_hex("95 01 44 09 ce00000001ff a0", KITH_EBADMSG);            /* trailing */
  decode_hex("95 01 44 09 cf0000000100000000 a0", KITH_EBADMSG);      /* code */
  decode_hex("95 01 45 00 c0 00", KITH_EBADMSG);                      /* after nil */
  decode_hex("95 01 46 11 c40f a0a1a2a3a4a5a6a7a8a9aaabacadae ce00010000",
             KITH_EBADMSG);                         /* box of 15 */
  decode_hex("94 01 47 03 91 ff", KITH_EBADMSG);    /* an eid -1 */
  decode_hex("94 01 47 03 91 a1 61", KITH_EBADMSG); /* an eid str */
  decode_hex("94 01 47 03 80", KITH_EBADMSG);       /* a map */
  decode_hex("94 01 47 03 01", KITH_EBADMSG);       /* no array */
  decode_hex("94 01 48 01 c411 c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0",
             KITH_EBADMSG); /* tag of 17 */
  decode_hex("94 01 49 01 c0", KITH_EBADMSG);
  /* other versions and types */
  decode_hex("94 02 43 00 00", KITH_EVERSION);
  decode_hex("94 01 3f 00 00", KITH_EBADMSG); /* 63: a sync type, not the relay's */
  decode_hex("94 01 4a 00 00", KITH_EBADMSG); /* 74 */
  decode_hex("92 01 01", KITH_EBADMSG);       /* BYE is no relay message */

  /* a chunk one byte too long */
  static uint8_t big[KITH_RMSG_CHUNK_MAX + 8];
  big[0] = 0x93, big[1] = 0x01, big[2] = 0x42, big[3] = 0xc5;
  big[4] = (KITH_RMSG_CHUNK_MAX + 1) >> 8, big[5] = (KITH_RMSG_CHUNK_MAX + 1) & 0xff;
  struct kith_rmsg r;
  assert_rc(decode(big, 6 + KITH_RMSG_CHUNK_MAX + 1, &r), KITH_EBADMSG);
  assert_cleared(&r);

  /* 1025 eids */
  static uint8_t many[16 + KITH_RMSG_DEL_MAX + 1];
  size_t n = 0;
  many[n++] = 0x94, many[n++] = 0x01, many[n++] = 0x47, many[n++] = 0x03;
  many[n++] = 0xdc;
  many[n++] = (KITH_RMSG_DEL_MAX + 1) >> 8, many[n++] = (KITH_RMSG_DEL_MAX + 1) & 0xff;
  for (int i = 0; i <= KITH_RMSG_DEL_MAX; i++)
    many[n++] = 0x01;
  assert_rc(decode(many, n, &r), KITH_EBADMSG);
  assert_cleared(&r);
  many[5] = KITH_RMSG_DEL_MAX >> 8, many[6] = KITH_RMSG_DEL_MAX & 0xff;
  assert_rc(decode(many, n - 1, &r), 0); /* 1024: fine */
  assert_int_equal(r.neids, KITH_RMSG_DEL_MAX);

  /* an R_DEL with nowhere to put its eids */
  struct kith_msg m;
  size_t len;
  uint8_t *b = kt_unhex("94 01 47 03 91 01", &len);
  assert_rc(kith_msg_decode(b, len, &m), 0);
  memset(&r, 0, sizeof r);
  assert_rc(kith_rmsg_decode(&m, &r), KITH_EBADMSG);
  free(b);
}

static void test_encode_refused(void **state)
{
  (void)state;
  uint8_t out[KITH_RMSG_CHUNK_MAX + 64];
  size_t len = 99;
  struct kith_rmsg m = rmsg(KITH_RMSG_DATA);
  static uint8_t big[KITH_RMSG_CHUNK_MAX + 1];
  m.chunk = big;
  m.chunk_len = sizeof big;
  assert_rc(kith_rmsg_encode(&m, out, sizeof out, &len), KITH_EINVAL);
  assert_int_equal(len, 0);
  m.chunk = NULL;
  m.chunk_len = 1;
  assert_rc(kith_rmsg_encode(&m, out, sizeof out, &len), KITH_EINVAL);

  static uint64_t e[KITH_RMSG_DEL_MAX + 1];
  m = rmsg(KITH_RMSG_DEL);
  m.eids = e;
  m.neids = KITH_RMSG_DEL_MAX + 1;
  assert_rc(kith_rmsg_encode(&m, out, sizeof out, &len), KITH_EINVAL);
  m.eids = NULL;
  m.neids = 1;
  assert_rc(kith_rmsg_encode(&m, out, sizeof out, &len), KITH_EINVAL);

  m = rmsg(KITH_RMSG_ERR);
  memset(m.text, 'x', sizeof m.text); /* not NUL-terminated within its array */
  assert_rc(kith_rmsg_encode(&m, out, sizeof out, &len), KITH_EINVAL);
  memcpy(m.text, "a\xff", 3); /* not UTF-8 */
  assert_rc(kith_rmsg_encode(&m, out, sizeof out, &len), KITH_EINVAL);

  m = rmsg(KITH_MSG_BYE);
  assert_rc(kith_rmsg_encode(&m, out, sizeof out, &len), KITH_EINVAL);
  m = rmsg(74);
  assert_rc(kith_rmsg_encode(&m, out, sizeof out, &len), KITH_EINVAL);
  assert_false(kith_rmsg_is_relay(63));
  assert_true(kith_rmsg_is_relay(64));
  assert_true(kith_rmsg_is_relay(73));
  assert_false(kith_rmsg_is_relay(74));
}

static void test_text(void **state)
{
  (void)state;
  struct kith_rmsg m = rmsg(KITH_RMSG_ERR);
  char s[300];
  memset(s, 'a', 199);
  memcpy(s + 199, "\xc3\xa9zz", 5); /* é straddles the 200-byte bound */
  kith_rmsg_set_text(&m, s);
  assert_int_equal(strlen(m.text), 199); /* cut before the character */
  for (uint32_t c = 1; c <= 8; c++)
    assert_string_not_equal(kith_rmsg_err_text(c), kith_rmsg_err_text(99));
  assert_string_equal(kith_rmsg_err_text(KITH_RERR_RATE),
                      "rate limited: too many deposits from this address; try again "
                      "later");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_golden_info),  cmocka_unit_test(test_golden_put),
      cmocka_unit_test(test_golden_data),  cmocka_unit_test(test_data_header),
      cmocka_unit_test(test_golden_ok),    cmocka_unit_test(test_golden_err),
      cmocka_unit_test(test_golden_fetch), cmocka_unit_test(test_golden_mail),
      cmocka_unit_test(test_golden_del),   cmocka_unit_test(test_golden_wait_join),
      cmocka_unit_test(test_refused),      cmocka_unit_test(test_encode_refused),
      cmocka_unit_test(test_text),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
