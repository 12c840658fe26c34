/*
 * test_invite.c — proto/invite.h and proto/safety.h, the two things a person reads
 * when pairing: invite codes (golden codes, psk and tag; what a person may type
 * differently and still be understood; every single-character typo, adjacent
 * transposition, deletion and insertion refused; every malformed byte layout
 * refused) and the safety number (golden, symmetric).
 *
 * The golden codes, psk, tag and safety number were computed independently in
 * Python (hashlib.blake2b, base64.b32encode with the alphabet translated to
 * Crockford's), from docs/PROTOCOL.md, not copied from this code's output.
 */
#include "kith_test.h"

#include <sodium.h>

#include "proto/invite.h"
#include "proto/safety.h"

static const char CROCKFORD[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* Invite A: version 1, no flags, secret 00 01 .. 0f, no hints. */
static const char CODE_A[] = "20002-0G30G-2GC1R-81450-P30D1-R7SCE-BM";
/* Invite B: device link, secret ff fe .. f0, hints 192.168.1.20:7777 and
 * [2001:db8::1]:7777. */
static const char CODE_B[] = "27ZZX-ZFWZF-XFKY7-QYVTZ-9WZJY-7R03G-5804A-1WR82-400GV-"
                             "E0000-00000-00000-00000-4F62E-FK9G";
/* Invite C: secret a0 a1 .. af, hints 192.168.1.20:5484 (where the inviter listens),
 * relay 203.0.113.7:5485 (kind 3) and relay [2001:db8::2]:443 (kind 4). */
static const char CODE_C[] = "22GA3-8N3MJ-JTD9X-8N6NA-QB5DN-TQG3G-5804A-1AV03-SC072-"
                             "1RNDM-22008-DQ000-00000-00000-00000-040DV-T219W";
/* Invite D, what 'kith invite --relay 203.0.113.7:5484' makes: secret 00 01 .. 0f,
 * that one relay hint. */
static const char CODE_D[] = "20002-0G30G-2GC1R-81450-P30D1-R7G7J-R0E43-HAV26-M8Z0";

static struct kith_invite invite_a(void)
{
  struct kith_invite inv;
  memset(&inv, 0, sizeof inv);
  inv.version = 1;
  for (int i = 0; i < 16; i++)
    inv.secret[i] = (uint8_t)i;
  return inv;
}

static struct kith_invite invite_b(void)
{
  struct kith_invite inv;
  memset(&inv, 0, sizeof inv);
  inv.version = 1;
  inv.device = true;
  for (int i = 0; i < 16; i++)
    inv.secret[i] = (uint8_t)(0xff - i);
  inv.nhints = 2;
  inv.hints[0].family = 4;
  memcpy(inv.hints[0].addr, "\xc0\xa8\x01\x14", 4);
  inv.hints[0].port = 7777;
  inv.hints[1].family = 6;
  memcpy(inv.hints[1].addr, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
  inv.hints[1].port = 7777;
  return inv;
}

static struct kith_invite invite_c(void)
{
  struct kith_invite inv;
  memset(&inv, 0, sizeof inv);
  inv.version = 1;
  for (int i = 0; i < 16; i++)
    inv.secret[i] = (uint8_t)(0xa0 + i);
  inv.nhints = 3;
  inv.hints[0].family = 4;
  memcpy(inv.hints[0].addr, "\xc0\xa8\x01\x14", 4);
  inv.hints[0].port = 5484;
  inv.hints[1].family = 4;
  memcpy(inv.hints[1].addr, "\xcb\x00\x71\x07", 4);
  inv.hints[1].port = 5485;
  inv.hints[1].relay = true;
  inv.hints[2].family = 6;
  memcpy(inv.hints[2].addr, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02", 16);
  inv.hints[2].port = 443;
  inv.hints[2].relay = true;
  return inv;
}

static struct kith_invite invite_d(void)
{
  struct kith_invite inv = invite_a();
  inv.nhints = 1;
  inv.hints[0].family = 4;
  memcpy(inv.hints[0].addr, "\xcb\x00\x71\x07", 4);
  inv.hints[0].port = 5484;
  inv.hints[0].relay = true;
  return inv;
}

static void assert_invite_equal(const struct kith_invite *a,
                                const struct kith_invite *b)
{
  assert_int_equal(a->version, b->version);
  assert_int_equal(a->device, b->device);
  assert_memory_equal(a->secret, b->secret, 16);
  assert_int_equal(a->nhints, b->nhints);
  for (int i = 0; i < a->nhints; i++) {
    assert_int_equal(a->hints[i].family, b->hints[i].family);
    assert_memory_equal(a->hints[i].addr, b->hints[i].addr,
                        a->hints[i].family == 4 ? 4 : 16);
    assert_int_equal(a->hints[i].port, b->hints[i].port);
    assert_int_equal(a->hints[i].relay, b->hints[i].relay);
  }
}

static int parse(const char *text)
{
  struct kith_invite inv;
  int rc = kith_invite_parse(text, &inv);
  if (rc) {
    /* refused: nothing of the secret is left behind */
    static const struct kith_invite zero;
    assert_memory_equal(&inv, &zero, sizeof inv);
  }
  return rc;
}

/* The code's symbols, without dashes: out holds 200 bytes. */
static size_t symbols(const char *code, char *out)
{
  size_t n = 0;
  for (; *code; code++)
    if (*code != '-')
      out[n++] = *code;
  out[n] = '\0';
  return n;
}

/* A second, bit-by-bit encoder: any bytes (with the check appended if
 * with_check) as a code, with pad_bits OR'ed into the padding. */
static void encode_raw(const uint8_t *b, size_t n, bool with_check, unsigned pad_bits,
                       char *out)
{
  uint8_t buf[256];
  assert_true(n + 3 <= sizeof buf);
  memcpy(buf, b, n);
  if (with_check) {
    static const uint8_t key[16] = "kith invite v1"; /* zero-padded to 16 */
    uint8_t h[32];
    assert_int_equal(crypto_generichash(h, 32, b, n, key, 16), 0);
    memcpy(buf + n, h, 3);
    n += 3;
  }
  size_t bits = n * 8, chars = (bits + 4) / 5, w = 0;
  for (size_t c = 0; c < chars; c++) {
    unsigned v = 0;
    for (size_t k = 0; k < 5; k++) {
      size_t bit = c * 5 + k;
      unsigned x = bit < bits ? (buf[bit / 8] >> (7 - bit % 8)) & 1 : 0;
      v = v << 1 | x;
    }
    if (c == chars - 1)
      v |= pad_bits & ((1u << (chars * 5 - bits)) - 1);
    if (c && c % 5 == 0)
      out[w++] = '-';
    out[w++] = CROCKFORD[v];
  }
  out[w] = '\0';
}

/* ---- golden ---------------------------------------------------------------------- */

static void test_golden(void **state)
{
  (void)state;
  char out[KITH_INVITE_TEXT_MAX];
  struct kith_invite a = invite_a(), b = invite_b(), c = invite_c(), d = invite_d(),
                     back;

  assert_rc(kith_invite_format(&a, out, sizeof out), 0);
  assert_string_equal(out, CODE_A);
  assert_rc(kith_invite_format(&b, out, sizeof out), 0);
  assert_string_equal(out, CODE_B);
  assert_rc(kith_invite_format(&c, out, sizeof out), 0);
  assert_string_equal(out, CODE_C);
  assert_rc(kith_invite_format(&d, out, sizeof out), 0);
  assert_string_equal(out, CODE_D);

  assert_rc(kith_invite_parse(CODE_A, &back), 0);
  assert_invite_equal(&back, &a);
  assert_rc(kith_invite_parse(CODE_B, &back), 0);
  assert_invite_equal(&back, &b);
  /* the unused part of an IPv4 hint's address is zero after a parse */
  for (int i = 4; i < 16; i++)
    assert_int_equal(back.hints[0].addr[i], 0);
  assert_false(back.hints[0].relay);
  assert_false(back.hints[1].relay);
  assert_rc(kith_invite_parse(CODE_C, &back), 0);
  assert_invite_equal(&back, &c);
  assert_rc(kith_invite_parse(CODE_D, &back), 0);
  assert_invite_equal(&back, &d);

  /* the second encoder agrees */
  size_t n;
  uint8_t *bytes = kt_unhex("10000102030405060708090a0b0c0d0e0f", &n);
  encode_raw(bytes, n, true, 0, out);
  assert_string_equal(out, CODE_A);
  free(bytes);
  bytes = kt_unhex("11fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0"
                   "01c0a801141e61"
                   "0220010db8000000000000000000000001 1e61",
                   &n);
  encode_raw(bytes, n, true, 0, out);
  assert_string_equal(out, CODE_B);
  free(bytes);
  bytes = kt_unhex("10a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
                   "01c0a80114156c"
                   "03cb007107156d"
                   "0420010db8000000000000000000000002 01bb",
                   &n);
  encode_raw(bytes, n, true, 0, out);
  assert_string_equal(out, CODE_C);
  free(bytes);
  bytes = kt_unhex("10000102030405060708090a0b0c0d0e0f 03cb007107156c", &n);
  encode_raw(bytes, n, true, 0, out);
  assert_string_equal(out, CODE_D);
  free(bytes);
}

static void test_psk_and_tag(void **state)
{
  (void)state;
  struct kith_invite a = invite_a();
  uint8_t psk[KITH_INVITE_PSK_LEN], tag[KITH_INVITE_TAG_LEN];
  size_t n;
  assert_rc(kith_invite_psk(a.secret, psk), 0);
  uint8_t *want =
      kt_unhex("5745d6a0e626c917e38d0d328f382a2bc89e9c0dfc6745f134b004b827631d06", &n);
  assert_bytes_equal(psk, sizeof psk, want, n);
  free(want);
  assert_rc(kith_invite_tag(a.secret, tag), 0);
  want = kt_unhex("4dba5fe8bd090e7a49f93757648c1e4b", &n);
  assert_bytes_equal(tag, sizeof tag, want, n);
  free(want);

  /* another secret, other values */
  uint8_t psk2[32], tag2[16];
  a.secret[15] ^= 1;
  assert_rc(kith_invite_psk(a.secret, psk2), 0);
  assert_rc(kith_invite_tag(a.secret, tag2), 0);
  assert_memory_not_equal(psk, psk2, 32);
  assert_memory_not_equal(tag, tag2, 16);
}

/* ---- what a person may type -------------------------------------------------------
 */

static void test_typed_variants(void **state)
{
  (void)state;
  struct kith_invite a = invite_a(), b = invite_b(), back;
  const char *as_a[] = {
      "20002-0g30g-2gc1r-81450-p30d1-r7sce-bm",
      "200020G30G2GC1R81450P30D1R7SCEBM",
      "20002 0G30G 2GC1R 81450 P30D1 R7SCE BM",
      "  2-0-0-0-2-0G30G2GC1R81450P30D1R7SCEBM - ",
      "2OOO2-OG3OG-2GCIR-8I45O-P3OD1-R7SCE-BM", /* O for 0, I for 1 */
      "2ooo2-og3og-2gclr-8l45o-p3od1-r7sce-bm", /* o for 0, l for 1 */
      "20002-0G30G-2GCLR-8i450-P30Dl-R7SCE-BM",
  };
  for (size_t i = 0; i < sizeof as_a / sizeof as_a[0]; i++) {
    assert_rc(kith_invite_parse(as_a[i], &back), 0);
    assert_invite_equal(&back, &a);
  }
  /* but a 1 is not a 0 */
  assert_rc(parse("20002-0G30G-2GC1R-81451-P30D1-R7SCE-BM"), KITH_EBADMSG);

  char lower[KITH_INVITE_TEXT_MAX];
  for (size_t i = 0; i <= strlen(CODE_B); i++)
    lower[i] =
        (char)(CODE_B[i] >= 'A' && CODE_B[i] <= 'Z' ? CODE_B[i] + 32 : CODE_B[i]);
  assert_rc(kith_invite_parse(lower, &back), 0);
  assert_invite_equal(&back, &b);
}

static void test_refused_characters(void **state)
{
  (void)state;
  char s[200], sym[200];
  size_t n = symbols(CODE_A, sym);
  const char *bad[] = {"U",  "u", "*", "_",        ".",    "=",    "\n",
                       "\t", "+", "/", "\xc3\xa9", "\xff", "\x7f", "\x01"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    for (size_t at = 0; at <= n; at += n / 2) {
      snprintf(s, sizeof s, "%.*s%s%s", (int)at, sym, bad[i], sym + at);
      assert_rc(parse(s), KITH_EBADMSG);
    }
    /* in place of a symbol, too */
    snprintf(s, sizeof s, "%.*s%s%s", 5, sym, bad[i], sym + 6);
    assert_rc(parse(s), KITH_EBADMSG);
  }
  assert_rc(parse(""), KITH_EBADMSG);
  assert_rc(parse("-----"), KITH_EBADMSG);
  assert_rc(parse("   "), KITH_EBADMSG);
}

/* Every symbol of a code replaced by every other value is refused; by the same
 * value in another spelling (case, I/L/O) it is not. */
static void check_substitutions(const char *code)
{
  char sym[200], s[200];
  size_t n = symbols(code, sym);
  int refused = 0;
  for (size_t i = 0; i < n; i++) {
    for (int v = 0; v < 32; v++) {
      memcpy(s, sym, n + 1);
      s[i] = CROCKFORD[v];
      if (s[i] == sym[i])
        continue;
      assert_rc(parse(s), KITH_EBADMSG);
      refused++;
    }
    memcpy(s, sym, n + 1);
    if (sym[i] == '0' || sym[i] == '1') {
      s[i] = sym[i] == '0' ? 'o' : 'i';
      assert_rc(parse(s), 0);
      s[i] = sym[i] == '0' ? 'O' : 'L';
      assert_rc(parse(s), 0);
    } else if (sym[i] >= 'A') {
      s[i] = (char)(sym[i] + 32);
      assert_rc(parse(s), 0);
    }
  }
  assert_int_equal(refused, (int)n * 31);
}

static void test_every_substitution_refused(void **state)
{
  (void)state;
  check_substitutions(CODE_A);
  check_substitutions(CODE_B);
  check_substitutions(CODE_C);
}

static void check_transpositions(const char *code)
{
  char sym[200], s[200];
  size_t n = symbols(code, sym);
  int refused = 0;
  for (size_t i = 0; i + 1 < n; i++) {
    if (sym[i] == sym[i + 1])
      continue;
    memcpy(s, sym, n + 1);
    s[i] = sym[i + 1];
    s[i + 1] = sym[i];
    assert_rc(parse(s), KITH_EBADMSG);
    refused++;
  }
  assert_true(refused > (int)n / 2);
}

static void test_every_transposition_refused(void **state)
{
  (void)state;
  check_transpositions(CODE_A);
  check_transpositions(CODE_B);
  check_transpositions(CODE_C);
}

static void check_lengths(const char *code)
{
  char sym[200], s[400];
  size_t n = symbols(code, sym);
  /* every prefix */
  for (size_t k = 0; k < n; k++) {
    memcpy(s, sym, k);
    s[k] = '\0';
    assert_rc(parse(s), KITH_EBADMSG);
  }
  /* every single deletion */
  for (size_t i = 0; i < n; i++) {
    snprintf(s, sizeof s, "%.*s%s", (int)i, sym, sym + i + 1);
    assert_rc(parse(s), KITH_EBADMSG);
  }
  /* every single insertion of every symbol */
  for (size_t i = 0; i <= n; i++)
    for (int v = 0; v < 32; v++) {
      snprintf(s, sizeof s, "%.*s%c%s", (int)i, sym, CROCKFORD[v], sym + i);
      assert_rc(parse(s), KITH_EBADMSG);
    }
  /* one to eight more symbols at the end */
  for (int k = 1; k <= 8; k++) {
    snprintf(s, sizeof s, "%s%.*s", sym, k, "00000000");
    assert_rc(parse(s), KITH_EBADMSG);
  }
}

static void test_lengths_refused(void **state)
{
  (void)state;
  check_lengths(CODE_A);
  check_lengths(CODE_B);
  check_lengths(CODE_C);
  /* far too long: refused without reading it all into a buffer */
  char *huge = malloc(100001);
  assert_non_null(huge);
  memset(huge, '0', 100000);
  huge[100000] = '\0';
  assert_rc(parse(huge), KITH_EBADMSG);
  free(huge);
}

/* ---- byte layouts with a correct check ------------------------------------------- */

static void raw_case(const char *hex, unsigned pad_bits, int want)
{
  size_t n;
  uint8_t *b = kt_unhex(hex, &n);
  char text[400];
  encode_raw(b, n, true, pad_bits, text);
  int got = parse(text);
  if (got != want)
    print_error("bytes %s, pad %u: %s\n", hex, pad_bits, text);
  assert_rc(got, want);
  free(b);
}

#define SECRET "000102030405060708090a0b0c0d0e0f"
#define V4 "01 c0a80114 1e61"
#define V6 "02 20010db8000000000000000000000001 1e61"
#define RELAY4 "03 cb007107 156c"
#define RELAY6 "04 20010db8000000000000000000000002 01bb"

static void test_layouts(void **state)
{
  (void)state;
  /* the good ones, for contrast */
  raw_case("10" SECRET, 0, 0);
  raw_case("11" SECRET V4 V6 V4 V6, 0, 0);
  raw_case("10" SECRET V6 V6 V6 V6, 0, 0);
  raw_case("10" SECRET RELAY4, 0, 0);
  raw_case("10" SECRET RELAY6, 0, 0);
  raw_case("11" SECRET V4 RELAY4 V6 RELAY6, 0, 0);
  raw_case("10" SECRET RELAY6 RELAY6 RELAY6 RELAY6, 0, 0);

  /* version and flags */
  const char *flags[] = {"00", "01", "20", "21", "f0", "12", "14", "18", "1f", "1e"};
  for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
    char hex[128];
    snprintf(hex, sizeof hex, "%s" SECRET, flags[i]);
    raw_case(hex, 0, KITH_EBADMSG);
  }
  /* hints: unknown kind (every one past 4, and 0), truncated, too many, port 0,
   * trailing byte */
  raw_case("10" SECRET "00 c0a80114 1e61", 0, KITH_EBADMSG);
  for (int kind = 5; kind < 256; kind++) {
    char hex[128];
    snprintf(hex, sizeof hex, "10" SECRET "%02x c0a80114 1e61", kind);
    raw_case(hex, 0, KITH_EBADMSG);
    snprintf(hex, sizeof hex, "10" SECRET "%02x 20010db8000000000000000000000001 1e61",
             kind);
    raw_case(hex, 0, KITH_EBADMSG);
  }
  raw_case("10" SECRET "04 cb007107 156c", 0, KITH_EBADMSG); /* IPv6 kind, 4 bytes */
  raw_case("10" SECRET "03 cb007107 15", 0, KITH_EBADMSG);
  raw_case("10" SECRET "03", 0, KITH_EBADMSG);
  raw_case("10" SECRET "03 cb007107 0000", 0, KITH_EBADMSG);
  raw_case("10" SECRET "04 20010db8000000000000000000000002 0000", 0, KITH_EBADMSG);
  raw_case("10" SECRET RELAY4 RELAY4 RELAY4 RELAY4 RELAY4, 0, KITH_EBADMSG);
  raw_case("10" SECRET "01 c0a80114 1e", 0, KITH_EBADMSG);
  raw_case("10" SECRET "01 c0a801", 0, KITH_EBADMSG);
  raw_case("10" SECRET "02 c0a80114 1e61", 0, KITH_EBADMSG);
  raw_case("10" SECRET "01", 0, KITH_EBADMSG);
  raw_case("10" SECRET V4 V4 V4 V4 V4, 0, KITH_EBADMSG);
  raw_case("10" SECRET "01 c0a80114 0000", 0, KITH_EBADMSG);
  raw_case("10" SECRET "02 20010db8000000000000000000000001 0000", 0, KITH_EBADMSG);
  raw_case("10" SECRET V4 "00", 0, KITH_EBADMSG);
  /* shorter than a secret */
  raw_case("10 000102030405060708090a0b0c0d0e", 0, KITH_EBADMSG);
  raw_case("10", 0, KITH_EBADMSG);
  raw_case("", 0, KITH_EBADMSG);
  /* padding bits must be zero: 27 bytes leave 4 */
  raw_case("10" SECRET V4, 0, 0);
  for (unsigned p = 1; p < 16; p++)
    raw_case("10" SECRET V4, p, KITH_EBADMSG);
  raw_case("11" SECRET V4 V6, 0, 0); /* 46 bytes leave 2 */
  for (unsigned p = 1; p < 4; p++)
    raw_case("11" SECRET V4 V6, p, KITH_EBADMSG);

  /* a wrong check */
  char text[400];
  size_t n;
  uint8_t *b = kt_unhex("10" SECRET "000000", &n);
  encode_raw(b, n, false, 0, text);
  assert_rc(parse(text), KITH_EBADMSG);
  free(b);
}

/* ---- formatting ----------------------------------------------------------------- */

static void test_format_refused(void **state)
{
  (void)state;
  char out[KITH_INVITE_TEXT_MAX];
  struct kith_invite inv;

  const uint8_t versions[] = {0, 2, 15, 255};
  for (size_t i = 0; i < sizeof versions; i++) {
    inv = invite_a();
    inv.version = versions[i];
    memset(out, 'x', sizeof out);
    assert_rc(kith_invite_format(&inv, out, sizeof out), KITH_EINVAL);
    assert_string_equal(out, "");
  }
  const int nhints[] = {-1, 5, 1000};
  for (size_t i = 0; i < sizeof nhints / sizeof nhints[0]; i++) {
    inv = invite_b();
    inv.nhints = nhints[i];
    assert_rc(kith_invite_format(&inv, out, sizeof out), KITH_EINVAL);
  }
  const int families[] = {0, 5, -4, 46};
  for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
    inv = invite_b();
    inv.hints[1].family = families[i];
    assert_rc(kith_invite_format(&inv, out, sizeof out), KITH_EINVAL);
  }
  inv = invite_b();
  inv.hints[0].port = 0;
  assert_rc(kith_invite_format(&inv, out, sizeof out), KITH_EINVAL);

  /* capacity: the text and its NUL */
  inv = invite_a();
  size_t need = strlen(CODE_A) + 1;
  for (size_t cap = 0; cap < need; cap++) {
    memset(out, 'x', sizeof out);
    assert_rc(kith_invite_format(&inv, out, cap), KITH_EINVAL);
    if (cap)
      assert_int_equal(out[0], '\0');
    for (size_t i = cap ? 1 : 0; i < sizeof out; i++)
      assert_int_equal(out[i], 'x');
  }
  assert_rc(kith_invite_format(&inv, out, need), 0);
  assert_string_equal(out, CODE_A);

  /* the longest code fits KITH_INVITE_TEXT_MAX exactly */
  inv = invite_b();
  inv.nhints = 4;
  inv.hints[2] = inv.hints[3] = inv.hints[1];
  inv.hints[0] = inv.hints[1];
  assert_rc(kith_invite_format(&inv, out, sizeof out), 0);
  assert_int_equal(strlen(out), KITH_INVITE_TEXT_MAX - 1);
  assert_rc(kith_invite_format(&inv, out, KITH_INVITE_TEXT_MAX - 1), KITH_EINVAL);
}

static void test_round_trips(void **state)
{
  (void)state;
  char out[KITH_INVITE_TEXT_MAX];
  for (int i = 0; i < 2000; i++) {
    struct kith_invite inv, back;
    memset(&inv, 0, sizeof inv);
    inv.version = 1;
    inv.device = randombytes_uniform(2);
    randombytes_buf(inv.secret, sizeof inv.secret);
    inv.nhints = (int)randombytes_uniform(5);
    for (int h = 0; h < inv.nhints; h++) {
      inv.hints[h].family = randombytes_uniform(2) ? 4 : 6;
      randombytes_buf(inv.hints[h].addr, inv.hints[h].family == 4 ? 4 : 16);
      inv.hints[h].port = (uint16_t)(1 + randombytes_uniform(65535));
      inv.hints[h].relay = randombytes_uniform(2);
    }
    assert_rc(kith_invite_format(&inv, out, sizeof out), 0);
    size_t len = strlen(out);
    for (size_t k = 0; k < len; k++) {
      assert_true(strchr(CROCKFORD, out[k]) || out[k] == '-');
      assert_int_equal(out[k] == '-', k % 6 == 5);
    }
    assert_rc(kith_invite_parse(out, &back), 0);
    assert_invite_equal(&back, &inv);
    kith_invite_clear(&back);
    static const struct kith_invite zero;
    assert_memory_equal(&back, &zero, sizeof back);
  }
  kith_invite_clear(NULL);
}

/* ---- safety number ----------------------------------------------------------------
 */

static void test_safety_golden(void **state)
{
  (void)state;
  uint8_t a[32], b[32];
  char out[KITH_SAFETY_TEXT_LEN], out2[KITH_SAFETY_TEXT_LEN];
  memset(a, 0x11, 32);
  for (int i = 0; i < 32; i++)
    b[i] = (uint8_t)i;
  const char *want =
      "29949 03111 98488 10476 65141 38587 55570 91669 98731 43275 84626 58121";
  assert_rc(kith_safety_number(a, b, out), 0);
  assert_string_equal(out, want);
  assert_rc(kith_safety_number(b, a, out2), 0);
  assert_string_equal(out2, want);
  assert_int_equal(strlen(out), KITH_SAFETY_TEXT_LEN - 1);

  /* one bit of either key changes it */
  b[31] ^= 1;
  assert_rc(kith_safety_number(a, b, out2), 0);
  assert_string_not_equal(out2, want);
}

static void test_safety_symmetric(void **state)
{
  (void)state;
  for (int i = 0; i < 500; i++) {
    uint8_t a[32], b[32];
    char x[KITH_SAFETY_TEXT_LEN], y[KITH_SAFETY_TEXT_LEN];
    randombytes_buf(a, 32);
    if (i % 10 == 0)
      memcpy(b, a, 32);
    else
      randombytes_buf(b, 32);
    if (i % 10 == 1)
      memcpy(b, a, 31); /* differ in the last byte only */
    assert_rc(kith_safety_number(a, b, x), 0);
    assert_rc(kith_safety_number(b, a, y), 0);
    assert_string_equal(x, y);
    for (int k = 0; k < KITH_SAFETY_TEXT_LEN - 1; k++)
      assert_true(k % 6 == 5 ? x[k] == ' ' : (x[k] >= '0' && x[k] <= '9'));
    assert_int_equal(x[KITH_SAFETY_TEXT_LEN - 1], '\0');
  }
}

int main(void)
{
  if (sodium_init() < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_golden),
      cmocka_unit_test(test_psk_and_tag),
      cmocka_unit_test(test_typed_variants),
      cmocka_unit_test(test_refused_characters),
      cmocka_unit_test(test_every_substitution_refused),
      cmocka_unit_test(test_every_transposition_refused),
      cmocka_unit_test(test_lengths_refused),
      cmocka_unit_test(test_layouts),
      cmocka_unit_test(test_format_refused),
      cmocka_unit_test(test_round_trips),
      cmocka_unit_test(test_safety_golden),
      cmocka_unit_test(test_safety_symmetric),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
