/*
 * test_syncmsg.c — proto/syncmsg.h: the golden bytes of every sync message, each
 * decoded back (kith_msg_decode, then kith_smsg_decode) to the same fields, and
 * everything the decoder must refuse: every truncation, wrong field counts, wrong
 * msgpack types and sizes, an END whose range is empty, a HELLO that says
 * "nothing of yours" with a sequence, more entries than KITH_SYNC_HELLO_MAX, a
 * chunk over KITH_SYNC_CHUNK_MAX. The encoder refuses what the decoder would.
 *
 * The golden vectors were computed once and then checked field by field against
 * the msgpack spec and the layouts in proto/syncmsg.h (the comment above each one
 * reads it back byte by byte). If the encoder and these bytes disagree, the wire
 * format changed: peers of the old format can no longer sync with it.
 */
#include "kith_test.h"

#include "proto/syncmsg.h"

/* The fixed field values of the golden messages. */
#define SPACE "c4 10 000102030405060708090a0b0c0d0e0f"  /* bin 16, 00..0f */
#define EPOCH "c4 10 101112131415161718191a1b1c1d1e1f"  /* bin 16, 10..1f */
#define SPACE2 "c4 10 a0a1a2a3a4a5a6a7a8a9aaabacadaeaf" /* bin 16, a0..af */
#define EPOCH2 "c4 10 b0b1b2b3b4b5b6b7b8b9babbbcbdbebf" /* bin 16, b0..bf */
#define HAVE "c4 10 202122232425262728292a2b2c2d2e2f"   /* bin 16, 20..2f */

static void fill(uint8_t *p, uint8_t first)
{
  for (int i = 0; i < 16; i++)
    p[i] = (uint8_t)(first + i);
}

static struct kith_smsg smsg(int type)
{
  struct kith_smsg m;
  memset(&m, 0, sizeof m);
  m.type = type;
  fill(m.space, 0x00);
  if (type == KITH_SYNC_END || type == KITH_SYNC_ACK)
    fill(m.epoch, 0x10);
  return m;
}

/* The two HELLO entries of the golden HELLO. */
static void hello_entries(struct kith_sync_hello h[2])
{
  memset(h, 0, 2 * sizeof *h);
  fill(h[0].space, 0x00);
  fill(h[0].epoch, 0x10);
  h[0].max = 300;
  h[0].have_known = false; /* nil: I hold nothing of yours there */
  fill(h[1].space, 0xa0);
  fill(h[1].epoch, 0xb0);
  h[1].max = (uint64_t)1 << 40;
  h[1].have_known = true;
  fill(h[1].have_epoch, 0x20);
  h[1].have_seq = 70000;
}

/* Same fields (those of no use to the type must be zero on both). */
static void assert_smsg_equal(const struct kith_smsg *a, const struct kith_smsg *b)
{
  assert_int_equal(a->type, b->type);
  assert_memory_equal(a->space, b->space, KITH_SYNC_GID_LEN);
  assert_memory_equal(a->epoch, b->epoch, KITH_SYNC_EPOCH_LEN);
  assert_int_equal(a->from, b->from);
  assert_int_equal(a->to, b->to);
  assert_int_equal(a->seq, b->seq);
  assert_int_equal(a->round, b->round);
  assert_int_equal(a->status, b->status);
  assert_int_equal(a->records, b->records);
  assert_int_equal(a->more, b->more);
  assert_int_equal(a->chunk_len, b->chunk_len);
  if (a->chunk_len)
    assert_memory_equal(a->chunk, b->chunk, a->chunk_len);
  assert_int_equal(a->nhello, b->nhello);
  for (size_t i = 0; i < a->nhello; i++) {
    const struct kith_sync_hello *x = &a->hello[i], *y = &b->hello[i];
    assert_memory_equal(x->space, y->space, KITH_SYNC_GID_LEN);
    assert_memory_equal(x->epoch, y->epoch, KITH_SYNC_EPOCH_LEN);
    assert_int_equal(x->max, y->max);
    assert_int_equal(x->have_known, y->have_known);
    assert_memory_equal(x->have_epoch, y->have_epoch, KITH_SYNC_EPOCH_LEN);
    assert_int_equal(x->have_seq, y->have_seq);
  }
}

static struct kith_sync_hello hello_buf[KITH_SYNC_HELLO_MAX];

/* kith_msg_decode then kith_smsg_decode, as the sync session does. */
static int decode(const uint8_t *b, size_t n, struct kith_smsg *out)
{
  struct kith_msg m;
  memset(out, 0x5a, sizeof *out);
  out->hello = hello_buf;
  int rc = kith_msg_decode(b, n, &m);
  if (rc == 0)
    rc = kith_smsg_decode(&m, out);
  return rc;
}

/* A refused decode leaves every field zero, and the caller's HELLO room. */
static void assert_cleared(const struct kith_smsg *s)
{
  struct kith_smsg zero;
  memset(&zero, 0, sizeof zero);
  zero.hello = hello_buf;
  assert_ptr_equal(s->hello, hello_buf);
  assert_smsg_equal(s, &zero);
  assert_null(s->chunk);
}

/* Encodes m and checks the bytes against hex; decodes them back to the same
 * fields; refuses every smaller capacity without writing past it; refuses every
 * truncation, both of the whole message and of its fields alone (same count),
 * and one byte too many after the fields. */
static void golden(const struct kith_smsg *m, const char *hex)
{
  size_t wlen, len = 0;
  uint8_t *want = kt_unhex(hex, &wlen);
  uint8_t *out = malloc(wlen + 16);
  assert_non_null(out);
  assert_rc(kith_smsg_encode(m, out, wlen + 16, &len), 0);
  assert_bytes_equal(out, len, want, wlen);
  assert_rc(kith_smsg_encode(m, out, wlen, &len), 0);
  assert_int_equal(len, wlen);
  for (size_t cap = 0; cap < wlen; cap++) {
    memset(out, 0xee, wlen + 16);
    assert_rc(kith_smsg_encode(m, out, cap, &len), KITH_EINVAL);
    assert_int_equal(len, 0);
    for (size_t i = cap; i < wlen + 16; i++)
      assert_int_equal(out[i], 0xee); /* nothing past the capacity */
  }

  struct kith_smsg back;
  assert_rc(decode(want, wlen, &back), 0);
  assert_smsg_equal(&back, m);
  if (m->type == KITH_SYNC_HELLO)
    assert_ptr_equal(back.hello, hello_buf);
  if (m->type == KITH_SYNC_REGS && m->chunk_len) /* borrowed: the buffer's tail */
    assert_ptr_equal(back.chunk, want + wlen - m->chunk_len);
  else if (m->type != KITH_SYNC_REGS)
    assert_null(back.chunk);

  for (size_t n = 0; n < wlen; n++) /* not one msgpack item: kith_msg_decode */
    assert_rc(decode(want, n, &back), KITH_EBADMSG);

  /* the fields alone, cut short or followed by a byte, under the same count */
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
    back.hello = hello_buf;
    assert_rc(kith_smsg_decode(&cut, &back), KITH_EBADMSG);
    assert_cleared(&back);
  }
  const uint8_t trail[] = {0x00, 0xc0, 0x90, 0xc3};
  for (size_t i = 0; i < sizeof trail; i++) {
    body[raw.u.sync.len] = trail[i];
    cut.u.sync.len = raw.u.sync.len + 1;
    assert_rc(kith_smsg_decode(&cut, &back), KITH_EBADMSG);
    assert_cleared(&back);
  }
  free(body);
  free(out);
  free(want);
}

/* Decodes a hex literal and expects rc. (A refusal leaves the fields cleared
 * except, for more than five fields or a type that is no sync message, the type:
 * the header does not promise it, so it is not checked here.) */
static void decode_hex(const char *hex, int rc)
{
  size_t len;
  uint8_t *b = kt_unhex(hex, &len);
  struct kith_smsg s;
  int got = decode(b, len, &s);
  if (got != rc)
    print_error("input: %s\n", hex);
  assert_rc(got, rc);
  if (rc == KITH_EBADMSG) {
    struct kith_msg m;
    if (kith_msg_decode(b, len, &m) == 0) { /* refused by kith_smsg_decode */
      s.type = 0;
      assert_cleared(&s);
    }
  }
  free(b);
}

/* ---- golden bytes --------------------------------------------------------------- */

static void test_golden_hello(void **state)
{
  (void)state;
  struct kith_sync_hello h[2];
  struct kith_smsg m = smsg(KITH_SYNC_HELLO);
  memset(m.space, 0, sizeof m.space); /* HELLO has no space of its own */
  m.round = 1;
  /* 94: array of 4; 01: version 1; 20: type 32 (HELLO); 01: round 1; 90: no
   * entries */
  golden(&m, "94 01 20 01 90");

  hello_entries(h);
  m.round = 3;
  m.nhello = 2;
  m.hello = h;
  /* 94 01 20: [1, 32, ...; 03: round 3; 92: two entries, each an array of 5:
   *   95 | c4 10 00..0f: space | c4 10 10..1f: epoch | cd 012c: max 300 (uint 16)
   *      | c0: have_epoch nil | 00: have_seq 0
   *   95 | c4 10 a0..af: space | c4 10 b0..bf: epoch
   *      | cf 0000010000000000: max 2^40 (uint 64)
   *      | c4 10 20..2f: have_epoch | ce 00011170: have_seq 70000 (uint 32) */
  golden(&m, "94 01 20 03 92"
             " 95" SPACE EPOCH " cd012c c0 00"
             " 95" SPACE2 EPOCH2 " cf0000010000000000" HAVE " ce00011170");

  /* round is a uint 32: its largest value; an entry with everything zero */
  struct kith_sync_hello z;
  memset(&z, 0, sizeof z);
  m.round = UINT32_MAX;
  m.nhello = 1;
  m.hello = &z;
  /* ce ffffffff: round 2^32-1; 91 95: one entry of 5; two bin 16 of zeros; 00
   * max; c0 nil; 00 */
  golden(&m, "94 01 20 ceffffffff 91 95"
             " c410 00000000000000000000000000000000"
             " c410 00000000000000000000000000000000 00 c0 00");
}

/* A HELLO without have_epoch carries have_seq 0 whatever the struct held: the one
 * encoding of "nothing of yours". */
static void test_hello_nil_seq_normalised(void **state)
{
  (void)state;
  struct kith_sync_hello h[2];
  uint8_t a[256], b[256];
  size_t na, nb;
  hello_entries(h);
  struct kith_smsg m = smsg(KITH_SYNC_HELLO);
  m.round = 3, m.nhello = 2, m.hello = h;
  assert_rc(kith_smsg_encode(&m, a, sizeof a, &na), 0);
  h[0].have_seq = 99;
  memset(h[0].have_epoch, 0x77, sizeof h[0].have_epoch);
  assert_rc(kith_smsg_encode(&m, b, sizeof b, &nb), 0);
  assert_bytes_equal(a, na, b, nb);
}

static void test_golden_regs(void **state)
{
  (void)state;
  struct kith_smsg m = smsg(KITH_SYNC_REGS);
  m.chunk = (const uint8_t *)"abc";
  m.chunk_len = 3;
  /* 94 01 21: [1, 33, ...; c4 10 00..0f: space; c4 03 616263: chunk "abc" */
  golden(&m, "94 01 21" SPACE " c4 03 616263");

  m.chunk = NULL;
  m.chunk_len = 0;
  /* an empty chunk: c4 00 */
  golden(&m, "94 01 21" SPACE " c4 00");

  /* 300 bytes: bin 16 (c5 012c); 256 and more do not fit bin 8 */
  uint8_t chunk[300];
  char hex[2 * 400];
  int w = snprintf(hex, sizeof hex, "94 01 21 %s c5 012c ", SPACE);
  for (int i = 0; i < 300; i++) {
    chunk[i] = (uint8_t)(i * 7);
    w += snprintf(hex + w, sizeof hex - (size_t)w, "%02x", chunk[i]);
  }
  m.chunk = chunk;
  m.chunk_len = sizeof chunk;
  golden(&m, hex);
}

static void test_golden_end(void **state)
{
  (void)state;
  struct kith_smsg m = smsg(KITH_SYNC_END);
  m.from = 200;
  m.to = 70000;
  m.records = 3;
  /* 97: array of 7; 01 22: [1, 34, ...; space; epoch; cc c8: from 200 (uint 8);
   * ce 00011170: to 70000 (uint 32); 03: records 3 */
  golden(&m, "97 01 22" SPACE EPOCH " ccc8 ce00011170 03");

  m.from = 0;
  m.to = UINT64_MAX;
  m.records = UINT32_MAX;
  /* 00: from 0; cf ffffffffffffffff: to 2^64-1; ce ffffffff: records 2^32-1 */
  golden(&m, "97 01 22" SPACE EPOCH " 00 cfffffffffffffffff ceffffffff");
}

static void test_golden_done(void **state)
{
  (void)state;
  struct kith_smsg m = smsg(KITH_SYNC_DONE);
  m.status = KITH_SYNC_DONE_ALL;
  /* 94 01 23: [1, 35, ...; space; 00: status 0, all sent */
  golden(&m, "94 01 23" SPACE " 00");
  m.status = KITH_SYNC_DONE_NOT_SHARED;
  /* 01: status 1, not shared with you */
  golden(&m, "94 01 23" SPACE " 01");
}

static void test_golden_ack(void **state)
{
  (void)state;
  struct kith_smsg m = smsg(KITH_SYNC_ACK);
  m.seq = (uint64_t)1 << 32;
  /* 95 01 24: [1, 36, ...; space; epoch; cf 0000000100000000: seq 2^32 */
  golden(&m, "95 01 24" SPACE EPOCH " cf0000000100000000");
  m.seq = 0;
  golden(&m, "95 01 24" SPACE EPOCH " 00");
}

static void test_golden_round(void **state)
{
  (void)state;
  struct kith_smsg m = smsg(KITH_SYNC_ROUND);
  memset(m.space, 0, sizeof m.space);
  m.more = true;
  /* 93 01 25: [1, 37, ...; c3: true */
  golden(&m, "93 01 25 c3");
  m.more = false;
  /* c2: false */
  golden(&m, "93 01 25 c2");
}

/* ---- refusals ------------------------------------------------------------------- */

static void test_wrong_field_counts(void **state)
{
  (void)state;
  /* one field short, one too many, for each type */
  decode_hex("93 01 20 01", KITH_EBADMSG);
  decode_hex("95 01 20 01 90 00", KITH_EBADMSG);
  decode_hex("93 01 21" SPACE, KITH_EBADMSG);
  decode_hex("95 01 21" SPACE " c400 c400", KITH_EBADMSG);
  decode_hex("96 01 22" SPACE EPOCH " 05 06", KITH_EBADMSG);
  decode_hex("98 01 22" SPACE EPOCH " 05 06 01 00", KITH_EBADMSG);
  decode_hex("93 01 23" SPACE, KITH_EBADMSG);
  decode_hex("95 01 23" SPACE " 00 00", KITH_EBADMSG);
  decode_hex("94 01 24" SPACE EPOCH, KITH_EBADMSG);
  decode_hex("96 01 24" SPACE EPOCH " 01 01", KITH_EBADMSG);
  decode_hex("92 01 25", KITH_EBADMSG);
  decode_hex("94 01 25 c3 c3", KITH_EBADMSG);
  /* a HELLO entry of 4 and of 6 items */
  decode_hex("94 01 20 01 91 94" SPACE EPOCH " 00 c0", KITH_EBADMSG);
  decode_hex("94 01 20 01 91 96" SPACE EPOCH " 00 c0 00 00", KITH_EBADMSG);
  /* a sync type this build does not know, and a message that is no sync one */
  decode_hex("93 01 26 c3", KITH_EBADMSG);
  decode_hex("92 01 01", KITH_EBADMSG);
  decode_hex("93 01 cd0100 c3", KITH_EBADMSG);
}

static void test_wrong_types(void **state)
{
  (void)state;
  const char *bin15 = " c4 0f 000102030405060708090a0b0c0d0e";
  const char *bin17 = " c4 11 000102030405060708090a0b0c0d0e0f10";
  const char *str16 = " b0 30313233343536373839616263646566";
  char hex[512];
  const char *bad[] = {bin15, bin17, str16, " c0", " 00"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    /* a space that is not bin 16, in each message that has one */
    snprintf(hex, sizeof hex, "94 01 21 %s c4 00", bad[i]);
    decode_hex(hex, KITH_EBADMSG);
    snprintf(hex, sizeof hex, "97 01 22 %s %s 05 06 01", bad[i], EPOCH);
    decode_hex(hex, KITH_EBADMSG);
    snprintf(hex, sizeof hex, "94 01 23 %s 00", bad[i]);
    decode_hex(hex, KITH_EBADMSG);
    snprintf(hex, sizeof hex, "95 01 24 %s %s 01", bad[i], EPOCH);
    decode_hex(hex, KITH_EBADMSG);
    snprintf(hex, sizeof hex, "94 01 20 01 91 95 %s %s 00 c0 00", bad[i], EPOCH);
    decode_hex(hex, KITH_EBADMSG);
    /* an epoch that is not bin 16 */
    snprintf(hex, sizeof hex, "97 01 22 %s %s 05 06 01", SPACE, bad[i]);
    decode_hex(hex, KITH_EBADMSG);
    snprintf(hex, sizeof hex, "95 01 24 %s %s 01", SPACE, bad[i]);
    decode_hex(hex, KITH_EBADMSG);
    snprintf(hex, sizeof hex, "94 01 20 01 91 95 %s %s 00 c0 00", SPACE, bad[i]);
    decode_hex(hex, KITH_EBADMSG);
    /* have_epoch neither nil nor bin 16 (nil is fine) */
    if (strcmp(bad[i], " c0") != 0) {
      snprintf(hex, sizeof hex, "94 01 20 01 91 95 %s %s 00 %s 00", SPACE, EPOCH,
               bad[i]);
      decode_hex(hex, KITH_EBADMSG);
    }
  }
  /* sequences: negative, float, nil, bool, bin */
  const char *notu64[] = {" ff", " d0 80", " cb 3ff0000000000000",
                          " c0", " c3",    " c4 01 01"};
  for (size_t i = 0; i < sizeof notu64 / sizeof notu64[0]; i++) {
    snprintf(hex, sizeof hex, "95 01 24 %s %s %s", SPACE, EPOCH, notu64[i]);
    decode_hex(hex, KITH_EBADMSG);
    snprintf(hex, sizeof hex, "97 01 22 %s %s %s 06 01", SPACE, EPOCH, notu64[i]);
    decode_hex(hex, KITH_EBADMSG);
    snprintf(hex, sizeof hex, "97 01 22 %s %s 05 %s 01", SPACE, EPOCH, notu64[i]);
    decode_hex(hex, KITH_EBADMSG);
    snprintf(hex, sizeof hex, "94 01 20 01 91 95 %s %s %s c0 00", SPACE, EPOCH,
             notu64[i]);
    decode_hex(hex, KITH_EBADMSG);
    snprintf(hex, sizeof hex, "94 01 20 01 91 95 %s %s 00 %s %s", SPACE, EPOCH, HAVE,
             notu64[i]);
    decode_hex(hex, KITH_EBADMSG);
    snprintf(hex, sizeof hex, "94 01 20 %s 90", notu64[i]);
    decode_hex(hex, KITH_EBADMSG);
    snprintf(hex, sizeof hex, "94 01 23 %s %s", SPACE, notu64[i]);
    decode_hex(hex, KITH_EBADMSG);
    snprintf(hex, sizeof hex, "97 01 22 %s %s 05 06 %s", SPACE, EPOCH, notu64[i]);
    decode_hex(hex, KITH_EBADMSG);
  }
  /* uint 32 fields one past their bound: round, status, records */
  decode_hex("94 01 20 cf0000000100000000 90", KITH_EBADMSG);
  decode_hex("94 01 23" SPACE " cf0000000100000000", KITH_EBADMSG);
  decode_hex("97 01 22" SPACE EPOCH " 05 06 cf0000000100000000", KITH_EBADMSG);
  decode_hex("94 01 20 ceffffffff 90", 0); /* and their bound passes */
  /* the entries of a HELLO: a map, nil, an entry that is not an array */
  decode_hex("94 01 20 01 80", KITH_EBADMSG);
  decode_hex("94 01 20 01 c0", KITH_EBADMSG);
  decode_hex("94 01 20 01 91 c0", KITH_EBADMSG);
  decode_hex("94 01 20 01 91 81 00 00", KITH_EBADMSG);
  /* a chunk that is a str, an array, nil */
  decode_hex("94 01 21" SPACE " a3 616263", KITH_EBADMSG);
  decode_hex("94 01 21" SPACE " 93 01 02 03", KITH_EBADMSG);
  decode_hex("94 01 21" SPACE " c0", KITH_EBADMSG);
  /* ROUND's more: a bool, not 0/1 nor nil */
  decode_hex("93 01 25 01", KITH_EBADMSG);
  decode_hex("93 01 25 00", KITH_EBADMSG);
  decode_hex("93 01 25 c0", KITH_EBADMSG);
}

static void test_end_range(void **state)
{
  (void)state;
  /* the batch is (from, to]: empty or backwards is refused, both ways */
  decode_hex("97 01 22" SPACE EPOCH " 05 05 01", KITH_EBADMSG);
  decode_hex("97 01 22" SPACE EPOCH " 06 05 01", KITH_EBADMSG);
  decode_hex("97 01 22" SPACE EPOCH " 00 00 00", KITH_EBADMSG);
  decode_hex("97 01 22" SPACE EPOCH " cfffffffffffffffff cfffffffffffffffff 01",
             KITH_EBADMSG);
  decode_hex("97 01 22" SPACE EPOCH " 05 06 00", 0);
  uint8_t out[128];
  size_t len = 7;
  struct kith_smsg m = smsg(KITH_SYNC_END);
  m.from = m.to = 5;
  assert_rc(kith_smsg_encode(&m, out, sizeof out, &len), KITH_EINVAL);
  assert_int_equal(len, 0);
  m.from = 6;
  assert_rc(kith_smsg_encode(&m, out, sizeof out, &len), KITH_EINVAL);
  m.from = 0, m.to = 0;
  assert_rc(kith_smsg_encode(&m, out, sizeof out, &len), KITH_EINVAL);
}

static void test_hello_nil_with_seq(void **state)
{
  (void)state;
  /* have_epoch nil says "nothing of yours": a sequence with it is refused */
  decode_hex("94 01 20 01 91 95" SPACE EPOCH " 00 c0 01", KITH_EBADMSG);
  decode_hex("94 01 20 01 91 95" SPACE EPOCH " 00 c0 cf0000000100000000", KITH_EBADMSG);
  /* the second entry of two */
  decode_hex("94 01 20 01 92 95" SPACE EPOCH " 00 c0 00 95" SPACE2 EPOCH2 " 00 c0 05",
             KITH_EBADMSG);
  /* with an epoch, sequence 0 is fine: "your log, before its first change" */
  decode_hex("94 01 20 01 91 95" SPACE EPOCH " 00" HAVE " 00", 0);
}

/* The chunk bound on both sides: KITH_SYNC_CHUNK_MAX passes, one more byte is
 * refused. */
static void test_chunk_max(void **state)
{
  (void)state;
  size_t cap = KITH_SYNC_CHUNK_MAX + 64, len = 0;
  uint8_t *chunk = calloc(1, KITH_SYNC_CHUNK_MAX + 1), *out = malloc(cap);
  assert_non_null(chunk);
  assert_non_null(out);
  struct kith_smsg m = smsg(KITH_SYNC_REGS), back;
  m.chunk = chunk;
  m.chunk_len = KITH_SYNC_CHUNK_MAX;
  assert_rc(kith_smsg_encode(&m, out, cap, &len), 0);
  /* 94 01 21, space (18 bytes), c5 fa00: bin 16 of 64000 bytes */
  assert_int_equal(len, 3 + 18 + 3 + KITH_SYNC_CHUNK_MAX);
  assert_int_equal(out[21], 0xc5);
  assert_int_equal(out[22], 0xfa);
  assert_int_equal(out[23], 0x00);
  assert_rc(decode(out, len, &back), 0);
  assert_int_equal(back.chunk_len, KITH_SYNC_CHUNK_MAX);
  assert_ptr_equal(back.chunk, out + 24);

  m.chunk_len = KITH_SYNC_CHUNK_MAX + 1;
  assert_rc(kith_smsg_encode(&m, out, cap, &len), KITH_EINVAL);
  assert_int_equal(len, 0);
  /* the same on the wire, written by hand: c5 fa01, 64001 bytes */
  size_t n = 3 + 18 + 3 + KITH_SYNC_CHUNK_MAX + 1;
  uint8_t *big = calloc(1, n);
  assert_non_null(big);
  memcpy(big, out, 21); /* 94 01 21 and the space */
  big[21] = 0xc5, big[22] = 0xfa, big[23] = 0x01;
  assert_rc(decode(big, n, &back), KITH_EBADMSG);
  assert_cleared(&back);

  /* a chunk length without bytes to go with it */
  m.chunk = NULL;
  m.chunk_len = 1;
  assert_rc(kith_smsg_encode(&m, out, cap, &len), KITH_EINVAL);
  free(big);
  free(chunk);
  free(out);
}

/* KITH_SYNC_HELLO_MAX entries pass, both ways; one more is refused. */
static void test_hello_max(void **state)
{
  (void)state;
  static struct kith_sync_hello h[KITH_SYNC_HELLO_MAX + 1];
  size_t cap = 64 * (KITH_SYNC_HELLO_MAX + 2), len = 0;
  uint8_t *out = malloc(cap);
  assert_non_null(out);
  memset(h, 0, sizeof h);
  for (size_t i = 0; i <= KITH_SYNC_HELLO_MAX; i++) {
    h[i].space[0] = (uint8_t)i, h[i].space[1] = (uint8_t)(i >> 8);
    fill(h[i].epoch, 0x10);
    h[i].max = i;
    h[i].have_known = i % 2;
    h[i].have_seq = h[i].have_known ? i * 1000 : 0;
  }
  struct kith_smsg m = smsg(KITH_SYNC_HELLO), back;
  memset(m.space, 0, sizeof m.space);
  m.round = 2;
  m.hello = h;
  m.nhello = KITH_SYNC_HELLO_MAX;
  assert_rc(kith_smsg_encode(&m, out, cap, &len), 0);
  /* 94 01 20 02, then dc 0100: array 16 of 256 entries */
  assert_int_equal(out[4], 0xdc);
  assert_int_equal(out[5], 0x01);
  assert_int_equal(out[6], 0x00);
  assert_rc(decode(out, len, &back), 0);
  assert_smsg_equal(&back, &m);

  m.nhello = KITH_SYNC_HELLO_MAX + 1;
  assert_rc(kith_smsg_encode(&m, out, cap, &len), KITH_EINVAL);
  assert_int_equal(len, 0);
  /* by hand: dc 0101 and 257 entries (each 95 c410.. c410.. 00 c0 00) */
  size_t n = 7 + 257 * 40;
  uint8_t *big = malloc(n);
  assert_non_null(big);
  memcpy(big, "\x94\x01\x20\x02\xdc\x01\x01", 7);
  for (size_t i = 0; i < 257; i++) {
    uint8_t *e = big + 7 + 40 * i;
    e[0] = 0x95, e[1] = 0xc4, e[2] = 0x10;
    memset(e + 3, (int)i, 16);
    e[19] = 0xc4, e[20] = 0x10;
    memset(e + 21, 0x10, 16);
    e[37] = 0x00, e[38] = 0xc0, e[39] = 0x00;
  }
  assert_rc(decode(big, n, &back), KITH_EBADMSG);
  assert_cleared(&back);
  big[6] = 0x00; /* the same bytes, less the last entry, say 256 */
  assert_rc(decode(big, n - 40, &back), 0);
  assert_int_equal(back.nhello, 256);

  /* a HELLO with entries but no room given for them */
  struct kith_msg raw;
  assert_rc(kith_msg_decode(big, n - 40, &raw), 0);
  memset(&back, 0, sizeof back);
  assert_rc(kith_smsg_decode(&raw, &back), KITH_EBADMSG);
  m.nhello = 1;
  m.hello = NULL;
  assert_rc(kith_smsg_encode(&m, out, cap, &len), KITH_EINVAL);
  free(big);
  free(out);
}

static void test_encode_unknown_type(void **state)
{
  (void)state;
  uint8_t out[64];
  size_t len = 9;
  int types[] = {0, KITH_MSG_BYE, KITH_SYNC_HELLO - 1, KITH_SYNC_ROUND + 1, -1};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    struct kith_smsg m = smsg(types[i]);
    assert_rc(kith_smsg_encode(&m, out, sizeof out, &len), KITH_EINVAL);
    assert_int_equal(len, 0);
  }
}

/* ---- posts ---------------------------------------------------------------------- */

static void test_golden_post(void **state)
{
  (void)state;
  struct kith_sync_hello h[2], hin[KITH_SYNC_HELLO_MAX];
  struct kith_post_batch b[1], bin[KITH_POST_BATCH_MAX];
  uint8_t out[512], bytes[3] = {0xaa, 0xbb, 0xcc};
  size_t len = 0;
  hello_entries(h);
  memset(b, 0, sizeof b);
  memcpy(b[0].space, h[0].space, 16);
  memcpy(b[0].epoch, h[0].epoch, 16);
  b[0].from = 5, b[0].to = 9, b[0].records = 2, b[0].bytes = bytes, b[0].len = 3;
  struct kith_post p = {7, 3, 1, h, 1, b};
  assert_rc(kith_post_encode(&p, out, sizeof out, &len), 0);
  /* 95: [1, n 7, seen 3, [hello], [batch]]; 91 95 ...: the first hello entry as in
   * HELLO; 91 96: one batch of 6: space, epoch, from 5, to 9, records 2, bin 3 */
  size_t wl = 0;
  uint8_t *want = kt_unhex("95 01 07 03 91 95" SPACE EPOCH " cd012c c0 00"
                           " 91 96" SPACE EPOCH " 05 09 02 c403aabbcc",
                           &wl);
  assert_bytes_equal(out, len, want, wl);
  free(want);
  assert_true(len <= kith_post_size(1, 1, 3));
  struct kith_post q = {.hello = hin, .batch = bin};
  assert_rc(kith_post_decode(out, len, &q), 0);
  assert_int_equal(q.n, 7);
  assert_int_equal(q.seen, 3);
  assert_int_equal(q.nhello, 1);
  assert_int_equal(q.nbatch, 1);
  assert_memory_equal(hin[0].space, h[0].space, 16);
  assert_int_equal(bin[0].from, 5);
  assert_int_equal(bin[0].to, 9);
  assert_bytes_equal(bin[0].bytes, bin[0].len, bytes, 3);
  /* Refusals: n 0, a batch with to <= from, another version, trailing bytes. */
  out[2] = 0;
  assert_rc(kith_post_decode(out, len, &q), KITH_EBADMSG);
  assert_int_equal(q.nbatch, 0);
  out[2] = 7;
  out[1] = 2;
  assert_rc(kith_post_decode(out, len, &q), KITH_EBADMSG);
  out[1] = 1;
  assert_rc(kith_post_decode(out, len + 1, &q), KITH_EBADMSG);
  b[0].to = 5;
  assert_rc(kith_post_encode(&p, out, sizeof out, &len), KITH_EINVAL);
  p.n = 0;
  b[0].to = 9;
  assert_rc(kith_post_encode(&p, out, sizeof out, &len), KITH_EINVAL);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_golden_hello),
      cmocka_unit_test(test_hello_nil_seq_normalised),
      cmocka_unit_test(test_golden_regs),
      cmocka_unit_test(test_golden_end),
      cmocka_unit_test(test_golden_done),
      cmocka_unit_test(test_golden_ack),
      cmocka_unit_test(test_golden_round),
      cmocka_unit_test(test_wrong_field_counts),
      cmocka_unit_test(test_wrong_types),
      cmocka_unit_test(test_end_range),
      cmocka_unit_test(test_hello_nil_with_seq),
      cmocka_unit_test(test_chunk_max),
      cmocka_unit_test(test_hello_max),
      cmocka_unit_test(test_encode_unknown_type),
      cmocka_unit_test(test_golden_post),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
