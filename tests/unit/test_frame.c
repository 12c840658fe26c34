/*
 * test_frame.c — proto/frame.h: the preamble's and the prologue's golden bytes,
 * version and capability negotiation, frame headers, and the frame reader fed
 * every way a stream can arrive (whole, byte by byte, many frames at once, random
 * splits) and every way a peer can break it (zero length, over the maximum, over
 * the handshake maximum), which must leave it failed for good.
 *
 * Golden bytes are written by hand from docs/PROTOCOL.md, not from the encoder.
 */
#include "kith_test.h"

#include <sodium.h>

#include "proto/frame.h"

static struct kith_frame_reader *reader_new(void)
{
  struct kith_frame_reader *r = malloc(sizeof *r);
  assert_non_null(r);
  kith_frame_reader_init(r);
  return r;
}

/* Feeds all of in[0..len), popping each frame as it completes into frames[] (up
 * to max; bodies copied to heap). Returns the feed's error, or 0; *nframes. */
struct popped {
  uint8_t *body;
  size_t len;
};

static int feed_all(struct kith_frame_reader *r, const uint8_t *in, size_t len,
                    struct popped *frames, size_t max, size_t *nframes)
{
  while (len) {
    size_t used = 0;
    int rc = kith_frame_feed(r, in, len, &used);
    if (rc) {
      assert_int_equal(used, 0);
      return rc;
    }
    assert_true(used <= len);
    in += used;
    len -= used;
    const uint8_t *body;
    size_t n;
    assert_rc(kith_frame_pop(r, &body, &n), 0);
    if (body) {
      assert_true(*nframes < max);
      assert_true(n >= 1 && n <= r->max);
      frames[*nframes].body = malloc(n);
      assert_non_null(frames[*nframes].body);
      memcpy(frames[*nframes].body, body, n);
      frames[*nframes].len = n;
      (*nframes)++;
    } else {
      assert_int_equal(n, 0);
      assert_int_equal(len, 0); /* no frame: everything was taken */
    }
  }
  return 0;
}

static void popped_free(struct popped *f, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free(f[i].body);
}

/* ---- preamble ------------------------------------------------------------------ */

static void test_preamble_golden(void **state)
{
  (void)state;
  uint8_t out[KITH_PREAMBLE_LEN];
  struct kith_preamble p = {1, KITH_PURPOSE_PAIR, 0};
  kith_preamble_encode(&p, out);
  const uint8_t want[] = {0x6b, 0x69, 0x74, 0x68, 0x01, 0x02, 0x00, 0x00};
  assert_bytes_equal(out, sizeof out, want, sizeof want);

  struct kith_preamble q = {1, KITH_PURPOSE_SYNC, 0x1234};
  kith_preamble_encode(&q, out);
  const uint8_t want2[] = {0x6b, 0x69, 0x74, 0x68, 0x01, 0x01, 0x12, 0x34};
  assert_bytes_equal(out, sizeof out, want2, sizeof want2);

  struct kith_preamble d;
  assert_rc(kith_preamble_decode(want2, &d), 0);
  assert_int_equal(d.version, 1);
  assert_int_equal(d.purpose, KITH_PURPOSE_SYNC);
  assert_int_equal(d.caps, 0x1234);

  /* a future version is read as is: the answer picks the version */
  const uint8_t v9[] = {'k', 'i', 't', 'h', 9, 2, 0xff, 0xff};
  assert_rc(kith_preamble_decode(v9, &d), 0);
  assert_int_equal(d.version, 9);
  assert_int_equal(d.purpose, 2);
  assert_int_equal(d.caps, 0xffff);
  assert_int_equal(KITH_PURPOSE_SYNC, 1);
  assert_int_equal(KITH_PURPOSE_PAIR, 2);
  assert_int_equal(KITH_PURPOSE_RELAY, 3);
}

static void test_preamble_refused(void **state)
{
  (void)state;
  struct kith_preamble d;
  const uint8_t bad_magic[][8] = {
      {'K', 'i', 't', 'h', 1, 1, 0, 0},
      {'k', 'i', 't', 'x', 1, 1, 0, 0},
      {'S', 'S', 'H', '-', '2', '.', '0', '-'},
      {0, 0, 0, 0, 0, 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof bad_magic / sizeof bad_magic[0]; i++) {
    memset(&d, 0xaa, sizeof d);
    assert_rc(kith_preamble_decode(bad_magic[i], &d), KITH_ENOTKITH);
    assert_int_equal(d.version, 0);
    assert_int_equal(d.purpose, 0);
    assert_int_equal(d.caps, 0);
  }
  for (int purpose = 0; purpose < 256; purpose++) {
    const uint8_t in[] = {'k', 'i', 't', 'h', 1, (uint8_t)purpose, 0, 0};
    int want = purpose >= 1 && purpose <= 3 ? 0 : KITH_ENOTKITH;
    assert_rc(kith_preamble_decode(in, &d), want);
  }
  /* version 0: the answer of a responder that shares no version */
  const uint8_t v0[] = {'k', 'i', 't', 'h', 0, 1, 0, 3};
  assert_rc(kith_preamble_decode(v0, &d), KITH_EVERSION);
  assert_int_equal(d.version, 0);
  assert_int_equal(d.purpose, 1);
  assert_int_equal(d.caps, 3);
}

static void test_preamble_answer(void **state)
{
  (void)state;
  struct kith_preamble in = {1, KITH_PURPOSE_SYNC, 0x00ff}, out;

  assert_rc(kith_preamble_answer(&in, 1, 0x0f0f, &out), 0);
  assert_int_equal(out.version, 1);
  assert_int_equal(out.purpose, KITH_PURPOSE_SYNC);
  assert_int_equal(out.caps, 0x000f);
  assert_rc(kith_preamble_check_answer(&in, &out), 0);

  /* a newer initiator: the responder answers with its own, lower version */
  in.version = 7;
  assert_rc(kith_preamble_answer(&in, 1, 0, &out), 0);
  assert_int_equal(out.version, 1);
  assert_int_equal(out.caps, 0);
  assert_rc(kith_preamble_check_answer(&in, &out), 0);

  /* a newer responder: the initiator's version */
  in.version = 1;
  assert_rc(kith_preamble_answer(&in, 5, 0xffff, &out), 0);
  assert_int_equal(out.version, 1);
  assert_int_equal(out.caps, 0x00ff);

  /* nothing shared: version 0, still filled so it can be sent */
  in.version = 0;
  memset(&out, 0xaa, sizeof out);
  assert_rc(kith_preamble_answer(&in, 1, 0xffff, &out), KITH_EVERSION);
  assert_int_equal(out.version, 0);
  assert_int_equal(out.purpose, KITH_PURPOSE_SYNC);
  in.version = 1;
  assert_rc(kith_preamble_answer(&in, 0, 0xffff, &out), KITH_EVERSION);
  assert_int_equal(out.version, 0);

  /* the answer goes through the wire and back */
  uint8_t wire[KITH_PREAMBLE_LEN];
  struct kith_preamble back;
  kith_preamble_encode(&out, wire);
  assert_rc(kith_preamble_decode(wire, &back), KITH_EVERSION);
}

static void test_preamble_check_answer(void **state)
{
  (void)state;
  struct kith_preamble sent = {2, KITH_PURPOSE_PAIR, 0x0003};
  struct kith_preamble ok[] = {{1, 2, 0}, {2, 2, 3}, {2, 2, 1}, {1, 2, 2}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    assert_rc(kith_preamble_check_answer(&sent, &ok[i]), 0);
  struct kith_preamble version[] = {{0, 2, 0}, {3, 2, 0}, {255, 2, 3}};
  for (size_t i = 0; i < sizeof version / sizeof version[0]; i++)
    assert_rc(kith_preamble_check_answer(&sent, &version[i]), KITH_EVERSION);
  /* another purpose, or a capability the initiator did not offer */
  struct kith_preamble bad[] = {{2, 1, 0}, {2, 2, 4}, {1, 2, 0x8000}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_rc(kith_preamble_check_answer(&sent, &bad[i]), KITH_EBADMSG);
}

static void test_prologue(void **state)
{
  (void)state;
  const uint8_t init[] = {0x6b, 0x69, 0x74, 0x68, 0x01, 0x02, 0x00, 0x01};
  const uint8_t resp[] = {0x6b, 0x69, 0x74, 0x68, 0x01, 0x02, 0x00, 0x00};
  uint8_t out[KITH_PROLOGUE_LEN];
  size_t len = 0;
  kith_prologue(init, resp, out, &len);
  size_t wlen;
  uint8_t *want = kt_unhex("6b6974682070726f6c6f677565207631" /* kith prologue v1 */
                           "6b69746801020001"
                           "6b69746801020000",
                           &wlen);
  assert_int_equal(wlen, 32);
  assert_bytes_equal(out, len, want, wlen);
  free(want);
}

/* ---- writing frames -------------------------------------------------------------- */

static void test_frame_header_and_write(void **state)
{
  (void)state;
  uint8_t hdr[2];
  struct {
    size_t len;
    uint8_t b0, b1;
  } cases[] = {
      {1, 0x00, 0x01}, {258, 0x01, 0x02}, {2048, 0x08, 0x00}, {65535, 0xff, 0xff}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    assert_rc(kith_frame_header(cases[i].len, hdr), 0);
    assert_int_equal(hdr[0], cases[i].b0);
    assert_int_equal(hdr[1], cases[i].b1);
  }
  assert_rc(kith_frame_header(0, hdr), KITH_EINVAL);
  assert_rc(kith_frame_header(65536, hdr), KITH_EINVAL);
  assert_rc(kith_frame_header((size_t)-1, hdr), KITH_EINVAL);

  uint8_t out[8];
  size_t n = 99;
  assert_rc(kith_frame_write((const uint8_t *)"abc", 3, out, sizeof out, &n), 0);
  const uint8_t want[] = {0x00, 0x03, 'a', 'b', 'c'};
  assert_bytes_equal(out, n, want, sizeof want);
  /* exactly enough room, then one byte short */
  assert_rc(kith_frame_write((const uint8_t *)"abc", 3, out, 5, &n), 0);
  memset(out, 0xee, sizeof out);
  assert_rc(kith_frame_write((const uint8_t *)"abc", 3, out, 4, &n), KITH_EINVAL);
  assert_int_equal(n, 0);
  assert_int_equal(out[0], 0xee); /* nothing written */
  assert_rc(kith_frame_write((const uint8_t *)"abc", 0, out, 8, &n), KITH_EINVAL);

  /* in place: the body built at out + 2 */
  memcpy(out + 2, "xyz", 3);
  assert_rc(kith_frame_write(out + 2, 3, out, sizeof out, &n), 0);
  const uint8_t want2[] = {0x00, 0x03, 'x', 'y', 'z'};
  assert_bytes_equal(out, n, want2, sizeof want2);

  uint8_t *big = malloc(65537 + 1);
  assert_non_null(big);
  memset(big, 7, 65537);
  assert_rc(kith_frame_write(big, 65535, big, 65537, &n), 0);
  assert_int_equal(n, 65537);
  assert_int_equal(big[0], 0xff);
  assert_int_equal(big[1], 0xff);
  assert_rc(kith_frame_write(big, 65536, big, 65538, &n), KITH_EINVAL);
  free(big);
}

/* ---- reading frames -------------------------------------------------------------- */

static void test_reader_one_frame(void **state)
{
  (void)state;
  struct kith_frame_reader *r = reader_new();
  const uint8_t *body = (const uint8_t *)"junk";
  size_t n = 9, used = 9;

  assert_true(kith_frame_idle(r));
  assert_rc(kith_frame_pop(r, &body, &n), 0);
  assert_null(body);
  assert_int_equal(n, 0);
  assert_rc(kith_frame_feed(r, NULL, 0, &used), 0);
  assert_int_equal(used, 0);

  const uint8_t in[] = {0x00, 0x03, 'a', 'b', 'c', 0x00, 0x01, 'z'};
  assert_rc(kith_frame_feed(r, in, sizeof in, &used), 0);
  assert_int_equal(used, 5); /* stops at the end of the first frame */
  assert_false(kith_frame_idle(r));
  /* while a frame waits, nothing more is taken */
  assert_rc(kith_frame_feed(r, in + 5, 3, &used), 0);
  assert_int_equal(used, 0);
  assert_rc(kith_frame_pop(r, &body, &n), 0);
  assert_non_null(body);
  assert_bytes_equal(body, n, (const uint8_t *)"abc", 3);
  assert_true(kith_frame_idle(r));
  /* popped once only */
  assert_rc(kith_frame_pop(r, &body, &n), 0);
  assert_null(body);

  assert_rc(kith_frame_feed(r, in + 5, 3, &used), 0);
  assert_int_equal(used, 3);
  assert_rc(kith_frame_pop(r, &body, &n), 0);
  assert_bytes_equal(body, n, (const uint8_t *)"z", 1);
  assert_true(kith_frame_idle(r));
  free(r);
}

static void test_reader_byte_by_byte(void **state)
{
  (void)state;
  struct kith_frame_reader *r = reader_new();
  const uint8_t in[] = {0x00, 0x02, 'h', 'i', 0x00, 0x04, 'k', 'i', 't', 'h'};
  struct popped f[4];
  size_t nf = 0;
  for (size_t i = 0; i < sizeof in; i++) {
    assert_rc(feed_all(r, in + i, 1, f, 4, &nf), 0);
    /* idle exactly at frame boundaries */
    assert_int_equal(kith_frame_idle(r), i == 3 || i == 9);
  }
  assert_int_equal(nf, 2);
  assert_bytes_equal(f[0].body, f[0].len, (const uint8_t *)"hi", 2);
  assert_bytes_equal(f[1].body, f[1].len, (const uint8_t *)"kith", 4);
  popped_free(f, nf);
  free(r);
}

static void test_reader_many_frames(void **state)
{
  (void)state;
  struct kith_frame_reader *r = reader_new();
  enum { N = 300 };
  uint8_t *stream = malloc(N * (2 + 255));
  assert_non_null(stream);
  size_t len = 0;
  for (int i = 0; i < N; i++) {
    size_t n = (size_t)(i % 255) + 1, w;
    uint8_t body[255];
    memset(body, i & 0xff, n);
    assert_rc(kith_frame_write(body, n, stream + len, 2 + 255, &w), 0);
    len += w;
  }
  struct popped *f = calloc(N, sizeof *f);
  assert_non_null(f);
  size_t nf = 0;
  assert_rc(feed_all(r, stream, len, f, N, &nf), 0);
  assert_int_equal(nf, N);
  for (int i = 0; i < N; i++) {
    assert_int_equal(f[i].len, (size_t)(i % 255) + 1);
    for (size_t k = 0; k < f[i].len; k++)
      assert_int_equal(f[i].body[k], i & 0xff);
  }
  assert_true(kith_frame_idle(r));
  popped_free(f, nf);
  free(f);
  free(stream);
  free(r);
}

/* Random frames (sizes 1..65535, biased small) cut at random points give the same
 * frames as the whole stream. */
static void test_reader_random_splits(void **state)
{
  (void)state;
  enum { N = 64 };
  size_t lens[N], total = 0;
  for (int i = 0; i < N; i++) {
    uint32_t x = randombytes_uniform(4);
    lens[i] = x == 0 ? 65535 - randombytes_uniform(3)
                     : 1 + randombytes_uniform(x == 1 ? 4 : 3000);
    total += 2 + lens[i];
  }
  uint8_t *stream = malloc(total);
  assert_non_null(stream);
  size_t off = 0;
  for (int i = 0; i < N; i++) {
    size_t w;
    randombytes_buf(stream + off + 2, lens[i]);
    assert_rc(
        kith_frame_write(stream + off + 2, lens[i], stream + off, total - off, &w), 0);
    off += w;
  }
  for (int round = 0; round < 20; round++) {
    struct kith_frame_reader *r = reader_new();
    struct popped f[N];
    size_t nf = 0;
    for (off = 0; off < total;) {
      size_t chunk = 1 + randombytes_uniform(round % 2 ? 7 : 70000);
      if (chunk > total - off)
        chunk = total - off;
      assert_rc(feed_all(r, stream + off, chunk, f, N, &nf), 0);
      off += chunk;
    }
    assert_int_equal(nf, N);
    size_t at = 0;
    for (int i = 0; i < N; i++) {
      assert_bytes_equal(f[i].body, f[i].len, stream + at + 2, lens[i]);
      at += 2 + lens[i];
    }
    popped_free(f, nf);
    free(r);
  }
  free(stream);
}

static void test_reader_zero_length(void **state)
{
  (void)state;
  struct kith_frame_reader *r = reader_new();
  const uint8_t in[] = {0x00, 0x01, 'a', 0x00, 0x00, 0x00, 0x01, 'b'};
  struct popped f[4];
  size_t nf = 0, used = 0;
  assert_rc(feed_all(r, in, sizeof in, f, 4, &nf), KITH_EBADMSG);
  assert_int_equal(nf, 1); /* the frame before is good */
  /* failed for good: feeds, pops and set_max all say so */
  assert_rc(kith_frame_feed(r, in + 5, 3, &used), KITH_EBADMSG);
  assert_int_equal(used, 0);
  const uint8_t *body = (const uint8_t *)"x";
  size_t n = 5;
  assert_rc(kith_frame_pop(r, &body, &n), KITH_EBADMSG);
  assert_null(body);
  assert_int_equal(n, 0);
  assert_rc(kith_frame_set_max(r, 100), KITH_EBADMSG);
  assert_false(kith_frame_idle(r));
  assert_rc(kith_frame_feed(r, in, 3, &used), KITH_EBADMSG);
  /* until reset */
  kith_frame_reader_init(r);
  assert_rc(kith_frame_feed(r, in, 3, &used), 0);
  assert_int_equal(used, 3);
  popped_free(f, nf);
  free(r);
}

static void test_reader_over_max(void **state)
{
  (void)state;
  struct kith_frame_reader *r = reader_new();
  size_t used;

  /* the handshake maximum: 2048 passes, 2049 fails on its header alone */
  assert_rc(kith_frame_set_max(r, KITH_FRAME_MAX_HANDSHAKE), 0);
  assert_int_equal(KITH_FRAME_MAX_HANDSHAKE, 2048);
  uint8_t *buf = calloc(1, 2 + 65535);
  assert_non_null(buf);
  buf[0] = 0x08;
  buf[1] = 0x00;
  assert_rc(kith_frame_feed(r, buf, 2 + 2048, &used), 0);
  assert_int_equal(used, 2050);
  const uint8_t *body;
  size_t n;
  assert_rc(kith_frame_pop(r, &body, &n), 0);
  assert_int_equal(n, 2048);
  const uint8_t over[] = {0x08, 0x01};
  assert_rc(kith_frame_feed(r, over, 1, &used), 0);
  assert_int_equal(used, 1);
  assert_rc(kith_frame_feed(r, over + 1, 1, &used), KITH_EBADMSG);
  assert_int_equal(used, 0);
  assert_rc(kith_frame_feed(r, buf, 10, &used), KITH_EBADMSG);

  /* the default maximum takes 65535 */
  kith_frame_reader_init(r);
  buf[0] = 0xff;
  buf[1] = 0xff;
  assert_rc(kith_frame_feed(r, buf, 2 + 65535, &used), 0);
  assert_int_equal(used, 2 + 65535);
  assert_rc(kith_frame_pop(r, &body, &n), 0);
  assert_int_equal(n, 65535);

  /* and any maximum in between is enforced */
  for (size_t max = 1; max < 70000; max = max * 3 + 1) {
    kith_frame_reader_init(r);
    int rc = kith_frame_set_max(r, max);
    if (max > KITH_FRAME_MAX) {
      assert_rc(rc, KITH_EINVAL);
      continue;
    }
    assert_rc(rc, 0);
    uint8_t hdr[2];
    assert_rc(kith_frame_header(max, hdr), 0);
    assert_rc(kith_frame_feed(r, hdr, 2, &used), 0);
    if (max < KITH_FRAME_MAX) {
      kith_frame_reader_init(r);
      assert_rc(kith_frame_set_max(r, max), 0);
      assert_rc(kith_frame_header(max + 1, hdr), 0);
      assert_rc(kith_frame_feed(r, hdr, 2, &used), KITH_EBADMSG);
    }
  }
  free(buf);
  free(r);
}

static void test_reader_set_max(void **state)
{
  (void)state;
  struct kith_frame_reader *r = reader_new();
  size_t used;
  assert_rc(kith_frame_set_max(r, 0), KITH_EINVAL);
  assert_rc(kith_frame_set_max(r, 65536), KITH_EINVAL);
  assert_int_equal(r->max, KITH_FRAME_MAX); /* unchanged, not failed */
  assert_true(kith_frame_idle(r));

  /* raising the maximum mid-frame keeps the frame */
  assert_rc(kith_frame_set_max(r, 10), 0);
  const uint8_t in[] = {0x00, 0x05, 'h', 'e'};
  assert_rc(kith_frame_feed(r, in, sizeof in, &used), 0);
  assert_rc(kith_frame_set_max(r, 65535), 0);
  assert_rc(kith_frame_feed(r, (const uint8_t *)"llo", 3, &used), 0);
  const uint8_t *body;
  size_t n;
  assert_rc(kith_frame_pop(r, &body, &n), 0);
  assert_bytes_equal(body, n, (const uint8_t *)"hello", 5);

  /* lowering it below a length already read fails the reader */
  assert_rc(kith_frame_feed(r, in, sizeof in, &used), 0);
  assert_rc(kith_frame_set_max(r, 5), 0);
  assert_rc(kith_frame_set_max(r, 4), KITH_EBADMSG);
  assert_rc(kith_frame_feed(r, (const uint8_t *)"llo", 3, &used), KITH_EBADMSG);
  free(r);
}

int main(void)
{
  if (sodium_init() < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_preamble_golden),
      cmocka_unit_test(test_preamble_refused),
      cmocka_unit_test(test_preamble_answer),
      cmocka_unit_test(test_preamble_check_answer),
      cmocka_unit_test(test_prologue),
      cmocka_unit_test(test_frame_header_and_write),
      cmocka_unit_test(test_reader_one_frame),
      cmocka_unit_test(test_reader_byte_by_byte),
      cmocka_unit_test(test_reader_many_frames),
      cmocka_unit_test(test_reader_random_splits),
      cmocka_unit_test(test_reader_zero_length),
      cmocka_unit_test(test_reader_over_max),
      cmocka_unit_test(test_reader_set_max),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
