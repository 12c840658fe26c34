/*
 * test_msg.c — proto/msg.h: the golden bytes of every message type, round trips,
 * sync messages passed through raw, and everything a decoder must refuse: other
 * versions (KITH_EVERSION, whatever follows), unknown types, missing, extra and
 * mistyped fields, oversized and non-UTF-8 strings, wrong key and signature sizes,
 * truncated and trailing bytes, nesting bombs. The encoder refuses what the decoder
 * would, and never writes past its capacity.
 *
 * Golden bytes are written by hand from the msgpack spec and the table in
 * docs/PROTOCOL.md ("Messages"), not copied from the encoder's output.
 */
#include "kith_test.h"

#include <sodium.h>

#include "proto/msg.h"

static struct kith_msg msg(int type)
{
  struct kith_msg m;
  memset(&m, 0, sizeof m);
  m.type = type;
  return m;
}

static struct kith_msg refuse(uint32_t code, const char *text)
{
  struct kith_msg m = msg(KITH_MSG_REFUSE);
  m.u.refuse.code = code;
  assert_true(strlen(text) <= KITH_REFUSE_TEXT_MAX);
  memcpy(m.u.refuse.text, text, strlen(text) + 1);
  return m;
}

static struct kith_msg pair_id(const char *name, const char *label, bool link)
{
  struct kith_msg m = msg(KITH_MSG_PAIR_ID);
  for (int i = 0; i < KITH_PAIR_PK_LEN; i++)
    m.u.pair_id.pk[i] = (uint8_t)i;
  for (int i = 0; i < KITH_PAIR_SIG_LEN; i++)
    m.u.pair_id.sig[i] = (uint8_t)(0x40 + i);
  memcpy(m.u.pair_id.name, name, strlen(name) + 1);
  memcpy(m.u.pair_id.label, label, strlen(label) + 1);
  m.u.pair_id.link = link;
  return m;
}

/* Encodes m, checks the bytes against the hex literal, decodes them back to an
 * equal message, and checks that every smaller capacity is refused. */
static void golden(const struct kith_msg *m, const char *hex)
{
  size_t wlen, len = 0;
  uint8_t *want = kt_unhex(hex, &wlen);
  uint8_t *out = malloc(wlen + 16);
  assert_non_null(out);
  assert_rc(kith_msg_encode(m, out, wlen + 16, &len), 0);
  assert_bytes_equal(out, len, want, wlen);

  struct kith_msg back;
  assert_rc(kith_msg_decode(want, wlen, &back), 0);
  assert_true(kith_msg_equal(m, &back));
  assert_true(kith_msg_equal(&back, m));

  assert_rc(kith_msg_encode(m, out, wlen, &len), 0);
  assert_int_equal(len, wlen);
  for (size_t cap = 0; cap < wlen; cap++) {
    memset(out, 0xee, wlen + 16);
    assert_rc(kith_msg_encode(m, out, cap, &len), KITH_EINVAL);
    assert_int_equal(len, 0);
    for (size_t i = cap; i < wlen + 16; i++)
      assert_int_equal(out[i], 0xee); /* nothing past the capacity */
  }

  /* every proper prefix is truncated, every extra byte is trailing */
  for (size_t n = 0; n < wlen; n++)
    assert_rc(kith_msg_decode(want, n, &back), KITH_EBADMSG);
  uint8_t *more = malloc(wlen + 1);
  assert_non_null(more);
  memcpy(more, want, wlen);
  const uint8_t trail[] = {0x00, 0xc0, 0x90, 0xc1};
  for (size_t i = 0; i < sizeof trail; i++) {
    more[wlen] = trail[i];
    assert_rc(kith_msg_decode(more, wlen + 1, &back), KITH_EBADMSG);
    assert_int_equal(back.type, 0); /* zeroed on error */
  }
  free(more);
  free(out);
  free(want);
}

/* Decodes a hex literal and expects rc. */
static void decode_hex(const char *hex, int rc)
{
  size_t len;
  uint8_t *b = kt_unhex(hex, &len);
  struct kith_msg m;
  memset(&m, 0x5a, sizeof m);
  int got = kith_msg_decode(b, len, &m);
  if (got != rc)
    print_error("input: %s\n", hex);
  assert_rc(got, rc);
  if (rc) {
    struct kith_msg zero;
    memset(&zero, 0, sizeof zero);
    assert_memory_equal(&m, &zero, sizeof m);
  }
  free(b);
}

/* ---- golden bytes ----------------------------------------------------------- */

static void test_golden_bye_ok(void **state)
{
  (void)state;
  struct kith_msg m = msg(KITH_MSG_BYE);
  golden(&m, "92 01 01");
  m = msg(KITH_MSG_PAIR_OK);
  golden(&m, "92 01 11");
}

static void test_golden_refuse(void **state)
{
  (void)state;
  struct kith_msg m = refuse(KITH_REFUSE_INVITE_USED, "used");
  golden(&m, "94 01 02 03 a4 75736564");
  m = refuse(300, "");
  golden(&m, "94 01 02 cd012c a0");
  m = refuse(70000, "\xc3\xa9"); /* é */
  golden(&m, "94 01 02 ce00011170 a2 c3a9");
  m = refuse(UINT32_MAX, "x");
  golden(&m, "94 01 02 ceffffffff a1 78");

  /* 200 bytes is the bound */
  char text[KITH_REFUSE_TEXT_MAX + 1];
  memset(text, 'a', KITH_REFUSE_TEXT_MAX);
  text[KITH_REFUSE_TEXT_MAX] = '\0';
  m = refuse(8, text);
  char hex[2 * 220 + 1];
  int w = snprintf(hex, sizeof hex, "94 01 02 08 d9 c8");
  for (int i = 0; i < KITH_REFUSE_TEXT_MAX; i++)
    w += snprintf(hex + w, sizeof hex - (size_t)w, "61");
  golden(&m, hex);
}

static void test_golden_pair_id(void **state)
{
  (void)state;
  struct kith_msg m = pair_id("Ada", "laptop", true);
  golden(&m, "97 01 10"
             " c4 20 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
             " a3 416461"
             " a6 6c6170746f70"
             " c3"
             " c4 40 404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
             "       606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f");

  /* 256-byte name (str16), empty label, link false */
  char name[KITH_PAIR_NAME_MAX + 1];
  memset(name, 'n', KITH_PAIR_NAME_MAX);
  name[KITH_PAIR_NAME_MAX] = '\0';
  m = pair_id(name, "", false);
  char hex[2048];
  int w = snprintf(hex, sizeof hex,
                   "97 01 10 c4 20 "
                   "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f "
                   "da 01 00 ");
  for (int i = 0; i < KITH_PAIR_NAME_MAX; i++)
    w += snprintf(hex + w, sizeof hex - (size_t)w, "6e");
  snprintf(hex + w, sizeof hex - (size_t)w,
           " a0 c2 c4 40 "
           "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
           "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f");
  golden(&m, hex);
}

static void test_golden_sync(void **state)
{
  (void)state;
  const uint8_t body[] = {0xa1, 0x78, 0x05}; /* "x", 5 */
  struct kith_msg m = msg(32);
  m.u.sync.body = body;
  m.u.sync.len = sizeof body;
  m.u.sync.nfields = 2;
  golden(&m, "94 01 20 a1 78 05");

  m = msg(300);
  golden(&m, "92 01 cd012c");
  m = msg(KITH_MSG_TYPE_MAX);
  golden(&m, "92 01 cdffff");

  /* the decoded body points into the decoded buffer */
  const uint8_t in[] = {0x94, 0x01, 0x20, 0xa1, 0x78, 0x05};
  struct kith_msg d;
  assert_rc(kith_msg_decode(in, sizeof in, &d), 0);
  assert_int_equal(d.type, 32);
  assert_ptr_equal(d.u.sync.body, in + 3);
  assert_int_equal(d.u.sync.len, 3);
  assert_int_equal(d.u.sync.nfields, 2);
}

/* The raw body is found whatever integer encodings and array header precede it. */
static void test_sync_offsets(void **state)
{
  (void)state;
  struct {
    const char *hex;
    size_t off;
    int type;
  } cases[] = {
      {"93 01 20 05", 3, 32},
      {"93 cc01 20 05", 4, 32},
      {"93 cd0001 20 05", 5, 32},
      {"93 ce00000001 20 05", 7, 32},
      {"93 cf0000000000000001 20 05", 11, 32},
      {"93 d001 d10021 05", 6, 33},
      {"93 d200000001 d3000000000000ffff 05", 15, 65535},
      {"dc0003 01 20 05", 5, 32},
      {"dd00000003 01 20 05", 7, 32},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t len;
    uint8_t *b = kt_unhex(cases[i].hex, &len);
    struct kith_msg m;
    assert_rc(kith_msg_decode(b, len, &m), 0);
    assert_int_equal(m.type, cases[i].type);
    assert_int_equal(m.u.sync.nfields, 1);
    assert_ptr_equal(m.u.sync.body, b + cases[i].off);
    assert_int_equal(m.u.sync.len, 1);
    assert_int_equal(m.u.sync.body[0], 0x05);
    free(b);
  }
  /* non-canonical encodings of the known types decode too */
  decode_hex("dc0002 cc01 cd0001", 0);
  decode_hex("92 d001 d011", 0);
}

static void test_refuse_text(void **state)
{
  (void)state;
  const char *want[] = {
      NULL,
      "the peer does not trust this device",
      "this device has been revoked",
      "this invite code has already been used",
      "this invite code has expired",
      "the inviter does not know this invite code",
      "the peer is busy; try again later",
      "the peer speaks an incompatible kith version",
      "the peer saw a protocol error",
  };
  for (uint32_t c = 1; c <= 8; c++)
    assert_string_equal(kith_refuse_text(c), want[c]);
  const char *unknown = "the peer refused for a reason this kith does not know";
  assert_string_equal(kith_refuse_text(0), unknown);
  assert_string_equal(kith_refuse_text(9), unknown);
  assert_string_equal(kith_refuse_text(UINT32_MAX), unknown);
  assert_int_equal(KITH_REFUSE_UNTRUSTED, 1);
  assert_int_equal(KITH_REFUSE_PROTOCOL, 8);
}

/* ---- what the decoder refuses -------------------------------------------------- */

static void test_decode_version(void **state)
{
  (void)state;
  /* another version is refused as such, whatever follows it */
  decode_hex("92 02 01", KITH_EVERSION);
  decode_hex("91 02", KITH_EVERSION);
  decode_hex("92 00 01", KITH_EVERSION);
  decode_hex("92 cc02 01", KITH_EVERSION);
  decode_hex("93 7f c0 c0", KITH_EVERSION);
  decode_hex("92 cfffffffffffffffff 01", KITH_EVERSION);
  decode_hex("95 02 02 03 a4 75736564 c0", KITH_EVERSION);
  /* but it must still be one well-formed msgpack array */
  decode_hex("92 02", KITH_EBADMSG);
  decode_hex("92 02 01 00", KITH_EBADMSG);
  decode_hex("81 01 01", KITH_EBADMSG);
  /* a version that is not a positive integer is malformed */
  decode_hex("92 ff 01", KITH_EBADMSG);
  decode_hex("92 a131 01", KITH_EBADMSG);
  decode_hex("92 c0 01", KITH_EBADMSG);
  decode_hex("92 c3 01", KITH_EBADMSG);
  decode_hex("92 cb3ff0000000000000 01", KITH_EBADMSG);
}

static void test_decode_shape(void **state)
{
  (void)state;
  const char *bad[] = {
      "",
      "c0",
      "01",
      "a3 616263",
      "80",
      "90",
      "91 01",
      "c1",
      "92 01",
      "93 01 01",
      "92 01 c0",
      "92 01 a101",
      "92 01 ff",
      "92 01 cb4000000000000000",
      /* unknown types below 32, and above the maximum */
      "92 01 00",
      "92 01 03",
      "92 01 0f",
      "92 01 12",
      "92 01 1f",
      "92 01 ce00010000",
      "92 01 cfffffffffffffffff",
      /* BYE and PAIR_OK take no fields */
      "93 01 01 c0",
      "93 01 11 00",
      /* a map, not an array */
      "82 00 01 01 01",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    decode_hex(bad[i], KITH_EBADMSG);
  /* a null pointer with no bytes */
  struct kith_msg m;
  assert_rc(kith_msg_decode(NULL, 0, &m), KITH_EBADMSG);
}

static void test_decode_refuse_bad(void **state)
{
  (void)state;
  const char *bad[] = {
      "93 01 02 03",                    /* no text */
      "95 01 02 03 a0 c0",              /* an extra field */
      "94 01 02 a133 a0",               /* code as a string */
      "94 01 02 ff a0",                 /* negative code */
      "94 01 02 c0 a0",                 /* nil code */
      "94 01 02 cf0000000100000000 a0", /* code over 32 bits */
      "94 01 02 03 c400",               /* text as bin */
      "94 01 02 03 c0",                 /* nil text */
      "94 01 02 03 a2 c328",            /* not UTF-8 */
      "94 01 02 03 a1 00",              /* NUL */
      "94 01 02 03 a3 610062",          /* NUL inside */
      "94 01 02 03 a2 c080",            /* overlong */
      "94 01 02 03 a3 eda080",          /* surrogate */
      "94 01 02 03 a4 f4908080",        /* above U+10FFFF */
      "94 01 02 03 a1 80",              /* lone continuation */
      "94 01 02 03 a2 e282",            /* cut sequence */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    decode_hex(bad[i], KITH_EBADMSG);

  /* 201 bytes of text is one too many */
  char hex[2 * 220 + 1];
  int w = snprintf(hex, sizeof hex, "94 01 02 08 d9 c9");
  for (int i = 0; i < KITH_REFUSE_TEXT_MAX + 1; i++)
    w += snprintf(hex + w, sizeof hex - (size_t)w, "61");
  decode_hex(hex, KITH_EBADMSG);
  /* 200 bytes of multibyte UTF-8 is fine */
  w = snprintf(hex, sizeof hex, "94 01 02 08 d9 c8");
  for (int i = 0; i < KITH_REFUSE_TEXT_MAX / 2; i++)
    w += snprintf(hex + w, sizeof hex - (size_t)w, "c3a9");
  decode_hex(hex, 0);
}

/* PAIR_ID hex with each field replaceable. */
static void pair_hex(char *out, size_t cap, const char *pk, const char *name,
                     const char *label, const char *link, const char *sig, int n)
{
  snprintf(out, cap, "%x 01 10 %s %s %s %s %s", 0x90 + n, pk, name, label, link, sig);
}

#define PK32 "c420 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define SIG64                                                                          \
  "c440 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"              \
  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static void test_decode_pair_id_bad(void **state)
{
  (void)state;
  char hex[4096];
  pair_hex(hex, sizeof hex, PK32, "a3416461", "a0", "c3", SIG64, 7);
  decode_hex(hex, 0);

  struct {
    const char *pk, *name, *label, *link, *sig;
    int n;
  } bad[] = {
      /* key sizes and types */
      {"c41f 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e", "a0",
       "a0", "c3", SIG64, 7},
      {"c421 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20", "a0",
       "a0", "c3", SIG64, 7},
      {"b0 000102030405060708090a0b0c0d0e0f", "a0", "a0", "c3", SIG64, 7},
      {"c0", "a0", "a0", "c3", SIG64, 7},
      /* signature sizes */
      {PK32, "a0", "a0", "c3", "c43f 00", 7},
      {PK32, "a0", "a0", "c3", "c400", 7},
      {PK32, "a0", "a0", "c3", "c0", 7},
      /* link must be a bool */
      {PK32, "a0", "a0", "01", SIG64, 7},
      {PK32, "a0", "a0", "c0", SIG64, 7},
      {PK32, "a0", "a0", "a0", SIG64, 7},
      /* strings */
      {PK32, "c403 416461", "a0", "c3", SIG64, 7},
      {PK32, "c0", "a0", "c3", SIG64, 7},
      {PK32, "a0", "01", "c3", SIG64, 7},
      {PK32, "a2 c328", "a0", "c3", SIG64, 7},
      {PK32, "a0", "a2 ff41", "c3", SIG64, 7},
      {PK32, "a0", "a1 00", "c3", SIG64, 7},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    pair_hex(hex, sizeof hex, bad[i].pk, bad[i].name, bad[i].label, bad[i].link,
             bad[i].sig, bad[i].n);
    decode_hex(hex, KITH_EBADMSG);
  }
  /* fields missing or extra */
  snprintf(hex, sizeof hex, "96 01 10 %s a0 a0 c3", PK32);
  decode_hex(hex, KITH_EBADMSG);
  snprintf(hex, sizeof hex, "98 01 10 %s a0 a0 c3 %s c0", PK32, SIG64);
  decode_hex(hex, KITH_EBADMSG);

  /* 256 bytes of name and label pass, 257 do not */
  for (int which = 0; which < 2; which++) {
    for (int n = 256; n <= 257; n++) {
      char s[2 * 257 + 16];
      int w = snprintf(s, sizeof s, "da %04x ", n);
      for (int i = 0; i < n; i++)
        w += snprintf(s + w, sizeof s - (size_t)w, "7a");
      pair_hex(hex, sizeof hex, PK32, which ? "a0" : s, which ? s : "a0", "c2", SIG64,
               7);
      decode_hex(hex, n == 256 ? 0 : KITH_EBADMSG);
    }
  }
}

static void test_decode_sync_bad(void **state)
{
  (void)state;
  decode_hex("93 01 20", KITH_EBADMSG);       /* says 3 items, holds 2 */
  decode_hex("93 01 20 05 05", KITH_EBADMSG); /* trailing */
  decode_hex("93 01 20 c1", KITH_EBADMSG);    /* never-used byte */
  decode_hex("93 01 20 d9ff 61", KITH_EBADMSG);

  /* nesting: KITH_MSG_MAX_DEPTH bounds the whole message */
  uint8_t deep[64];
  for (int depth = 1; depth < 30; depth++) {
    size_t n = 0;
    deep[n++] = 0x93;
    deep[n++] = 0x01;
    deep[n++] = 0x20;
    for (int i = 0; i < depth; i++)
      deep[n++] = 0x91;
    deep[n++] = 0x00;
    struct kith_msg m;
    /* the outer array is one level; its items' arrays the rest */
    int want = depth + 1 <= KITH_MSG_MAX_DEPTH ? 0 : KITH_EBADMSG;
    assert_rc(kith_msg_decode(deep, n, &m), want);
  }
  /* a count that claims more items than bytes is refused before any allocation */
  decode_hex("dd ffffffff 01 20", KITH_EBADMSG);
  decode_hex("93 01 20 dd7fffffff", KITH_EBADMSG);
}

/* ---- what the encoder refuses -------------------------------------------------- */

static void test_encode_refused(void **state)
{
  (void)state;
  uint8_t out[1024];
  size_t len = 99;
  const int types[] = {0, 3, 15, 18, 31, -1, -32, KITH_MSG_TYPE_MAX + 1, 1 << 30};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    struct kith_msg m = msg(types[i]);
    assert_rc(kith_msg_encode(&m, out, sizeof out, &len), KITH_EINVAL);
    assert_int_equal(len, 0);
  }

  struct kith_msg m = refuse(1, "");
  memset(m.u.refuse.text, 'a', sizeof m.u.refuse.text); /* no NUL in the array */
  assert_rc(kith_msg_encode(&m, out, sizeof out, &len), KITH_EINVAL);
  m.u.refuse.text[KITH_REFUSE_TEXT_MAX] = '\0'; /* 200 bytes: fine */
  assert_rc(kith_msg_encode(&m, out, sizeof out, &len), 0);
  m = refuse(1, "\xc3(");
  assert_rc(kith_msg_encode(&m, out, sizeof out, &len), KITH_EINVAL);
  m = refuse(1, "\xed\xa0\x80");
  assert_rc(kith_msg_encode(&m, out, sizeof out, &len), KITH_EINVAL);

  m = pair_id("Ada", "laptop", true);
  memset(m.u.pair_id.name, 'n', sizeof m.u.pair_id.name);
  assert_rc(kith_msg_encode(&m, out, sizeof out, &len), KITH_EINVAL);
  m = pair_id("Ada", "laptop", true);
  memset(m.u.pair_id.label, 'l', sizeof m.u.pair_id.label);
  assert_rc(kith_msg_encode(&m, out, sizeof out, &len), KITH_EINVAL);
  m = pair_id("\xff", "laptop", true);
  assert_rc(kith_msg_encode(&m, out, sizeof out, &len), KITH_EINVAL);
  m = pair_id("Ada", "\xc0\x80", true);
  assert_rc(kith_msg_encode(&m, out, sizeof out, &len), KITH_EINVAL);

  /* a sync body must hold exactly nfields well-formed items */
  const uint8_t five[] = {0x05}, bad[] = {0xc1}, cut[] = {0xa3, 0x61};
  struct {
    const uint8_t *body;
    size_t len;
    uint32_t nfields;
    int rc;
  } sync[] = {
      {five, 1, 1, 0},           {five, 1, 2, KITH_EINVAL},
      {five, 1, 0, KITH_EINVAL}, {NULL, 0, 1, KITH_EINVAL},
      {NULL, 1, 1, KITH_EINVAL}, {bad, 1, 1, KITH_EINVAL},
      {cut, 2, 1, KITH_EINVAL},  {NULL, 0, UINT32_MAX, KITH_EINVAL},
  };
  for (size_t i = 0; i < sizeof sync / sizeof sync[0]; i++) {
    m = msg(40);
    m.u.sync.body = sync[i].body;
    m.u.sync.len = sync[i].len;
    m.u.sync.nfields = sync[i].nfields;
    assert_rc(kith_msg_encode(&m, out, sizeof out, &len), sync[i].rc);
  }
}

/* ---- round trips ------------------------------------------------------------------
 */

/* Random valid UTF-8 of at most max bytes: ASCII, 2-, 3- and 4-byte sequences. */
static void random_utf8(char *s, size_t max)
{
  static const char *pieces[] = {"a",
                                 "Z",
                                 " ",
                                 "~",
                                 "\xc3\xa9",
                                 "\xe2\x82\xac",
                                 "\xf0\x9f\x98\x80",
                                 "\xef\xbf\xbd",
                                 "\xc2\x80"};
  size_t want = randombytes_uniform((uint32_t)max + 1), n = 0;
  for (;;) {
    const char *p = pieces[randombytes_uniform(sizeof pieces / sizeof pieces[0])];
    size_t k = strlen(p);
    if (n + k > want)
      break;
    memcpy(s + n, p, k);
    n += k;
  }
  s[n] = '\0';
}

static void test_round_trips(void **state)
{
  (void)state;
  uint8_t out[2048];
  for (int i = 0; i < 3000; i++) {
    struct kith_msg m = msg(0), back;
    switch (i % 4) {
    case 0:
      m.type = i % 8 ? KITH_MSG_BYE : KITH_MSG_PAIR_OK;
      break;
    case 1:
      m.type = KITH_MSG_REFUSE;
      m.u.refuse.code = randombytes_random() >> randombytes_uniform(32);
      random_utf8(m.u.refuse.text, KITH_REFUSE_TEXT_MAX);
      break;
    case 2:
      m.type = KITH_MSG_PAIR_ID;
      randombytes_buf(m.u.pair_id.pk, sizeof m.u.pair_id.pk);
      randombytes_buf(m.u.pair_id.sig, sizeof m.u.pair_id.sig);
      random_utf8(m.u.pair_id.name, KITH_PAIR_NAME_MAX);
      random_utf8(m.u.pair_id.label, KITH_PAIR_LABEL_MAX);
      m.u.pair_id.link = randombytes_uniform(2);
      break;
    case 3: {
      static const uint8_t items[] = {0x05, 0xc0, 0xa1, 0x78, 0x92, 0x01, 0x02};
      /* 0..3 fields out of: 5, nil, "x", [1, 2] */
      static const struct {
        size_t off, len;
      } f[] = {{0, 1}, {1, 1}, {2, 2}, {4, 3}};
      static uint8_t body[16];
      size_t n = 0, k = randombytes_uniform(4);
      for (size_t j = 0; j < k; j++) {
        size_t which = randombytes_uniform(4);
        memcpy(body + n, items + f[which].off, f[which].len);
        n += f[which].len;
      }
      m.type = 32 + (int)randombytes_uniform(KITH_MSG_TYPE_MAX - 31);
      m.u.sync.body = body;
      m.u.sync.len = n;
      m.u.sync.nfields = (uint32_t)k;
      break;
    }
    }
    size_t len;
    assert_rc(kith_msg_encode(&m, out, sizeof out, &len), 0);
    assert_rc(kith_msg_decode(out, len, &back), 0);
    assert_true(kith_msg_equal(&m, &back));
    /* and a changed field is not equal */
    if (m.type == KITH_MSG_PAIR_ID) {
      back.u.pair_id.sig[randombytes_uniform(KITH_PAIR_SIG_LEN)] ^= 1;
      assert_false(kith_msg_equal(&m, &back));
    }
  }
}

int main(void)
{
  if (sodium_init() < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_golden_bye_ok),
      cmocka_unit_test(test_golden_refuse),
      cmocka_unit_test(test_golden_pair_id),
      cmocka_unit_test(test_golden_sync),
      cmocka_unit_test(test_sync_offsets),
      cmocka_unit_test(test_refuse_text),
      cmocka_unit_test(test_decode_version),
      cmocka_unit_test(test_decode_shape),
      cmocka_unit_test(test_decode_refuse_bad),
      cmocka_unit_test(test_decode_pair_id_bad),
      cmocka_unit_test(test_decode_sync_bad),
      cmocka_unit_test(test_encode_refused),
      cmocka_unit_test(test_round_trips),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
