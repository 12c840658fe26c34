/*
 * fuzz_relayd.c — the relay's connection session (core/relayd.h) on hostile
 * requests. Each input is one connection: a real XX handshake with a fixed client
 * key, then the input, cut into messages (2-byte big-endian length, then that many
 * bytes of plaintext), each encrypted and framed as a client would; a first byte
 * with its low bit set sends the rest raw instead (frames and garbage). After each
 * feed the relay's output is taken and decrypted: every message it sends must be a
 * well-formed kith message, and its output must stay bounded. Queued requests
 * commit every 64 inputs into a small mailbox in a temporary folder (a full one
 * answers busy), so deposits, fetches and deletes meet real data.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/chan.h"
#include "core/relayd.h"
#include "proto/relaymsg.h"

static kith_mailbox *mb;
static kith_relayd_ctx *ctx;
static uint8_t client_sk[32] = {1, 2, 3};
static unsigned inputs;

struct peer { /* the client's side of the connection */
  kith_noise_hs *hs;
  kith_noise_cipher *tx, *rx;
  struct kith_frame_reader fr;
  uint8_t pre[KITH_PREAMBLE_LEN], ans[KITH_PREAMBLE_LEN];
  size_t ans_have;
  int frames;
  uint8_t pt[KITH_NOISE_MAX_MSG];
};

static void setup(void)
{
  char dir[] = "/tmp/kith-fuzz-relayd-XXXXXX";
  if (sodium_init() < 0 || !mkdtemp(dir))
    abort();
  struct kith_mailbox_limits ml = kith_mailbox_limits_default();
  ml.max_envelope = 4096;
  ml.box_count = 8;
  ml.owner_bytes = 64 * 1024;
  ml.map_size = 64u << 20;
  struct kith_relayd_limits rl = kith_relayd_limits_default(8);
  rl.per_address = 0;
  rl.rate = 0;
  if (kith_mailbox_open(dir, &ml, &mb) != 0 || kith_relayd_ctx_new(mb, &rl, &ctx) != 0)
    abort();
  kith_relayd_set_now(ctx, 1000, 1700000000);
}

static void commit(void)
{
  struct kith_relayd_batch *b = NULL;
  if (kith_relayd_batch_take(ctx, 16, &b) != 0 || !b)
    return;
  kith_relayd_batch_run(b, mb);
  (void)kith_relayd_batch_done(ctx, b, NULL);
}

/* Takes everything the relay has to send and reads it as the client would. */
static void drain(kith_relayd *r, struct peer *p)
{
  const uint8_t *out;
  size_t n, m3len = 0;
  uint8_t m3[256];
  for (int rounds = 0; (n = kith_relayd_vt.pending(r, &out)) > 0; rounds++) {
    if (rounds > 100000 || n > 512 * 1024)
      abort(); /* output must stay bounded, and end */
    size_t off = 0;
    if (p->ans_have < KITH_PREAMBLE_LEN) {
      size_t take = KITH_PREAMBLE_LEN - p->ans_have;
      take = take < n ? take : n;
      memcpy(p->ans + p->ans_have, out, take);
      p->ans_have += take, off += take;
    }
    while (off < n) {
      size_t used = 0, blen = 0;
      const uint8_t *body = NULL;
      if (kith_frame_feed(&p->fr, out + off, n - off, &used) != 0 ||
          kith_frame_pop(&p->fr, &body, &blen) != 0)
        abort(); /* the relay never sends a bad frame */
      off += used;
      if (!body)
        continue;
      p->frames++;
      if (p->rx) {
        size_t plen = 0;
        struct kith_msg m;
        if (kith_noise_cipher_decrypt(p->rx, body, blen, p->pt, sizeof p->pt, &plen) ||
            kith_msg_decode(p->pt, plen, &m) != 0)
          abort();        /* every message decrypts and is well formed */
      } else if (p->hs) { /* message 2 of the handshake: message 3 answers it */
        size_t olen, plen;
        if (kith_noise_read_message(p->hs, body, blen, NULL, 0, &plen) ||
            kith_noise_write_message(p->hs, NULL, 0, m3 + 2, sizeof m3 - 2, &olen) ||
            kith_frame_header(olen, m3) || kith_noise_split(p->hs, &p->tx, &p->rx))
          abort();
        m3len = olen + 2;
      }
    }
    kith_relayd_vt.consumed(r, n); /* out is not used after this */
    if (m3len) {
      (void)kith_relayd_vt.feed(r, m3, m3len);
      m3len = 0;
    }
  }
}

static void send_msg(kith_relayd *r, struct peer *p, const uint8_t *pt, size_t len)
{
  uint8_t ct[KITH_NOISE_MAX_MSG], hdr[2];
  size_t clen = 0;
  if (!p->tx || len > KITH_NOISE_MAX_PAYLOAD ||
      kith_noise_cipher_encrypt(p->tx, pt, len, ct, sizeof ct, &clen) ||
      kith_frame_header(clen, hdr))
    return;
  (void)kith_relayd_vt.feed(r, hdr, 2);
  (void)kith_relayd_vt.feed(r, ct, clen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct peer p;
  if (!mb)
    setup();
  kith_relayd *r = NULL;
  if (kith_relayd_new(ctx, NULL, &r) != 0)
    abort();
  kith_noise_cipher_free(p.tx);
  kith_noise_cipher_free(p.rx);
  memset(&p, 0, sizeof p);
  kith_frame_reader_init(&p.fr);

  /* preamble, XX message 1, the relay's answer and message 2, message 3 */
  struct kith_preamble pre = {KITH_PROTO_VERSION, KITH_PURPOSE_RELAY, 0};
  uint8_t m1[64], hdr[2], prologue[KITH_PROLOGUE_LEN];
  size_t m1len, plen;
  kith_preamble_encode(&pre, p.pre);
  (void)kith_relayd_vt.feed(r, p.pre, sizeof p.pre);
  drain(r, &p);
  kith_prologue(p.pre, p.ans, prologue, &plen);
  struct kith_noise_config cfg = {.protocol = KITH_RELAYD_NOISE,
                                  .role = KITH_NOISE_INITIATOR,
                                  .prologue = prologue,
                                  .prologue_len = plen,
                                  .local_static = client_sk};
  if (kith_noise_hs_new(&cfg, &p.hs) ||
      kith_noise_write_message(p.hs, NULL, 0, m1, sizeof m1, &m1len) ||
      kith_frame_header(m1len, hdr))
    abort();
  (void)kith_relayd_vt.feed(r, hdr, 2);
  (void)kith_relayd_vt.feed(r, m1, m1len);
  drain(r, &p); /* message 2 in, message 3 out, R_INFO back */
  if (!p.rx || kith_relayd_vt.state(r) != KITH_SESSION_ESTABLISHED)
    abort(); /* the handshake itself must work */
  kith_noise_hs_free(p.hs);
  p.hs = NULL;

  if (size && (data[0] & 1)) { /* raw bytes: frames, garbage */
    if (size > 1)
      (void)kith_relayd_vt.feed(r, data + 1, size - 1);
    drain(r, &p);
  } else {
    size_t off = size ? 1 : 0;
    while (off + 2 <= size && kith_relayd_vt.state(r) == KITH_SESSION_ESTABLISHED) {
      size_t len = (size_t)data[off] << 8 | data[off + 1];
      off += 2;
      if (len > size - off)
        len = size - off;
      send_msg(r, &p, data + off, len);
      off += len;
      drain(r, &p);
      (void)kith_relayd_room(r);
    }
  }
  if (kith_relayd_vt.state(r) == KITH_SESSION_ESTABLISHED) {
    (void)kith_relayd_vt.eof(r);
    drain(r, &p);
  }
  kith_relayd_free(r);
  if (++inputs % 64 == 0) {
    commit();
    kith_relayd_set_now(ctx, 1000 + inputs, 1700000000 + inputs);
  }
  return 0;
}
