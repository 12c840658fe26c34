/*
 * test_relayc.c — core/relayc.h against a relay scripted in this file (a
 * responder built from proto/relaymsg, proto/noise and core/chan), the two wired
 * back to back in one process: fetch paging, commit before delete, deposits and
 * their answers, refusals, every kind of malformed relay message, flipped bytes,
 * random bytes, and the rendezvous pipe.
 *
 * The relay over TCP (net/relay.h) is tested with this client in test_relayc_net.c.
 */
#include "kith_test.h"

#include <sodium.h>

#include "core/chan.h"
#include "core/relayc.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/noise.h"
#include "proto/relaymsg.h"

/* ---- the event log both sides write: the order of commit and delete ---------- */

static char g_log[1 << 16];

static void logf_(const char *fmt, ...)
{
  size_t n = strlen(g_log);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_log + n, sizeof g_log - n, fmt, ap);
  va_end(ap);
}

/* The bytes of envelope `id` (an eid or a put's tag), len of them. */
static void pattern(uint64_t id, uint8_t *b, size_t len)
{
  for (size_t i = 0; i < len; i++)
    b[i] = (uint8_t)(id * 31 + i * 7 + (i >> 8));
}

static bool pattern_ok(uint64_t id, const uint8_t *b, size_t len)
{
  for (size_t i = 0; i < len; i++)
    if (b[i] != (uint8_t)(id * 31 + i * 7 + (i >> 8)))
      return false;
  return true;
}

/* ---- the scripted relay ------------------------------------------------------- */

enum inject {
  INJ_NONE,
  INJ_MAIL_ORDER,   /* a page's second R_MAIL repeats the first's eid */
  INJ_DATA_OVER,    /* an R_DATA past the envelope's size */
  INJ_CLIENT_MSG,   /* an R_PUT, instead of R_INFO */
  INJ_GARBAGE,      /* random plaintext, instead of R_INFO */
  INJ_UNKNOWN_OK,   /* R_OK to a req never sent, after R_INFO */
  INJ_INFO_TWICE,   /* two R_INFO */
  INJ_OK_MID_MAIL,  /* the page's R_OK before an envelope's bytes */
  INJ_MAIL_TOO_BIG, /* the first R_MAIL above R_INFO's max_envelope */
  INJ_REFUSE,       /* REFUSE 6, instead of R_INFO */
  INJ_ERR_FETCH,    /* R_ERR 6 to R_FETCH */
  INJ_MORE_EMPTY,   /* an empty page that says more */
  INJ_BYE,          /* BYE after R_INFO */
  INJ_DEL_COUNT,    /* R_DEL's R_OK counts more than it was sent */
  INJ_PUT_OK_EARLY, /* R_OK to an R_PUT before its bytes */
  INJ_VERSION,      /* a message of version 2 */
  INJ_MAIL_DATA,    /* an R_DATA with no R_MAIL before it */
  INJ_MAIL_NOFETCH, /* an R_MAIL with no R_FETCH before it */
  INJ_FUZZ,         /* random relay messages, after R_INFO or instead */
};

/* A reproducible generator for the random tests. */
static uint64_t g_rng = 1;

static uint32_t rnd(uint32_t n)
{
  g_rng ^= g_rng << 13, g_rng ^= g_rng >> 7, g_rng ^= g_rng << 17;
  return n ? (uint32_t)(g_rng % n) : 0;
}

struct fenv {
  uint64_t eid;
  uint8_t owner[32];
  uint8_t box[16];
  uint8_t *b;
  size_t len;
  bool gone;
};

enum fstate { F_PRE, F_HS1, F_HS3, F_RUN, F_JOINED, F_DONE, F_FAILED };

struct frelay {
  /* script */
  uint8_t sk[32], pk[32];
  uint64_t max_envelope; /* advertised in R_INFO */
  enum inject inject;
  size_t page_mails; /* at most this many envelopes a page (0: by bytes only) */
  int keepalives;    /* rendezvous: empty R_DATA before R_OK */
  bool no_rendezvous;
  const struct kith_session_vt *other_vt; /* rendezvous: the other side */
  void *other;
  long *inner_calls; /* rendezvous: the pipe's inner calls, when R_OK went */
  long inner_calls_at_join;
  /* state */
  enum fstate st;
  uint8_t prologue[KITH_PROLOGUE_LEN];
  kith_noise_hs *hs;
  uint8_t owner[32];
  struct fenv *envs;
  size_t nenvs, cap;
  uint64_t next_eid;
  bool putting, put_refused;
  uint32_t put_req;
  uint8_t put_owner[32], put_box[16];
  uint8_t *put_buf;
  uint64_t put_size, put_have;
  int fetches, dels, byes, puts;
  uint64_t eids[KITH_RMSG_DEL_MAX];
  uint8_t *out; /* unbounded: a page is written all at once */
  size_t out_len, out_cap;
  uint8_t msg[KITH_NOISE_MAX_MSG];
  struct kith_chan ch; /* input: preamble, frames, rx */
};

static void fr_out(struct frelay *r, const uint8_t *b, size_t n)
{
  if (r->out_len + n > r->out_cap) {
    r->out_cap = (r->out_len + n) * 2;
    r->out = realloc(r->out, r->out_cap);
    assert_non_null(r->out);
  }
  memcpy(r->out + r->out_len, b, n);
  r->out_len += n;
}

static void fr_frame(struct frelay *r, const uint8_t *body, size_t len)
{
  uint8_t hdr[2];
  assert_rc(kith_frame_header(len, hdr), 0);
  fr_out(r, hdr, 2);
  fr_out(r, body, len);
}

static void fr_plain(struct frelay *r, const uint8_t *pt, size_t len)
{
  size_t clen = 0;
  uint8_t *ct = malloc(KITH_NOISE_MAX_MSG);
  assert_non_null(ct);
  assert_rc(kith_noise_cipher_encrypt(r->ch.tx, pt, len, ct, KITH_NOISE_MAX_MSG, &clen),
            0);
  fr_frame(r, ct, clen);
  free(ct);
}

static void fr_send(struct frelay *r, const struct kith_rmsg *m)
{
  size_t len = 0;
  assert_rc(kith_rmsg_encode(m, r->msg, KITH_NOISE_MAX_PAYLOAD, &len), 0);
  fr_plain(r, r->msg, len);
}

static void fr_ok(struct frelay *r, uint32_t req, uint64_t value)
{
  struct kith_rmsg m = {.type = KITH_RMSG_OK, .req = req, .value = value};
  fr_send(r, &m);
}

static void fr_err(struct frelay *r, uint32_t req, uint32_t code, const char *text)
{
  struct kith_rmsg m = {.type = KITH_RMSG_ERR, .req = req, .code = code};
  kith_rmsg_set_text(&m, text);
  fr_send(r, &m);
}

static void fr_kmsg(struct frelay *r, const struct kith_msg *m)
{
  size_t len = 0;
  assert_rc(kith_msg_encode(m, r->msg, KITH_NOISE_MAX_PAYLOAD, &len), 0);
  fr_plain(r, r->msg, len);
}

static void fr_data(struct frelay *r, const uint8_t *b, size_t len)
{
  struct kith_rmsg m = {.type = KITH_RMSG_DATA, .chunk = b, .chunk_len = len};
  fr_send(r, &m);
}

/* Deposits an envelope (the test's own, before a session runs). */
static uint64_t fr_add(struct frelay *r, const uint8_t owner[32], uint8_t box0,
                       size_t len)
{
  if (r->nenvs == r->cap) {
    r->cap = r->cap ? r->cap * 2 : 16;
    r->envs = realloc(r->envs, r->cap * sizeof *r->envs);
    assert_non_null(r->envs);
  }
  struct fenv *e = &r->envs[r->nenvs++];
  memset(e, 0, sizeof *e);
  e->eid = ++r->next_eid;
  memcpy(e->owner, owner, 32);
  memset(e->box, box0, 16);
  e->len = len;
  e->b = malloc(len ? len : 1);
  assert_non_null(e->b);
  pattern(e->eid, e->b, len);
  return e->eid;
}

static size_t fr_count(const struct frelay *r, const uint8_t owner[32])
{
  size_t n = 0;
  for (size_t i = 0; i < r->nenvs; i++)
    n += !r->envs[i].gone && memcmp(r->envs[i].owner, owner, 32) == 0;
  return n;
}

static struct frelay *fr_new(void)
{
  struct frelay *r = calloc(1, sizeof *r);
  assert_non_null(r);
  crypto_box_keypair(r->pk, r->sk);
  r->max_envelope = (1u << 20) + 4096;
  assert_rc(kith_chan_init(&r->ch), 0);
  return r;
}

/* Ready for the next connection, with the same mailboxes and counters at 0. */
static void fr_reset(struct frelay *r)
{
  kith_noise_hs_free(r->hs);
  r->hs = NULL;
  kith_chan_clear(&r->ch);
  assert_rc(kith_chan_init(&r->ch), 0);
  r->st = F_PRE;
  r->out_len = 0;
  r->putting = false;
  r->fetches = r->dels = r->byes = r->puts = 0;
}

static void fr_free(struct frelay *r)
{
  for (size_t i = 0; i < r->nenvs; i++)
    free(r->envs[i].b);
  free(r->envs);
  free(r->put_buf);
  free(r->out);
  kith_noise_hs_free(r->hs);
  kith_chan_clear(&r->ch);
  free(r);
}

static void fr_mail(struct frelay *r, uint64_t eid, const struct fenv *e, uint64_t size)
{
  struct kith_rmsg m = {.type = KITH_RMSG_MAIL, .eid = eid, .size = size};
  memcpy(m.box, e->box, 16);
  fr_send(r, &m);
}

static void fr_page(struct frelay *r, uint32_t req, uint64_t after, uint64_t max_bytes)
{
  size_t sent = 0, n = 0;
  bool more = false;
  r->fetches++;
  if (r->inject == INJ_ERR_FETCH)
    return fr_err(r, req, KITH_RERR_BUSY, "busy");
  if (r->inject == INJ_MORE_EMPTY)
    return fr_ok(r, req, 1);
  for (size_t i = 0; i < r->nenvs; i++) {
    struct fenv *e = &r->envs[i];
    if (e->gone || e->eid <= after || memcmp(e->owner, r->owner, 32) != 0)
      continue;
    if ((n && sent >= max_bytes) || (r->page_mails && n == r->page_mails)) {
      more = true;
      break;
    }
    uint64_t eid = r->inject == INJ_MAIL_ORDER && n == 1 ? r->envs[i - 1].eid : e->eid;
    if (r->inject == INJ_MAIL_TOO_BIG && n == 0) { /* its bytes, then the rest */
      size_t big = r->max_envelope + 1;
      uint8_t *junk = calloc(1, big);
      assert_non_null(junk);
      fr_mail(r, eid, e, big);
      for (size_t off = 0; off < big; off += KITH_RMSG_CHUNK_MAX)
        fr_data(r, junk + off,
                big - off < KITH_RMSG_CHUNK_MAX ? big - off : KITH_RMSG_CHUNK_MAX);
      free(junk);
      n++;
      continue;
    }
    fr_mail(r, eid, e, e->len);
    if (r->inject == INJ_OK_MID_MAIL)
      return fr_ok(r, req, 0);
    for (size_t off = 0; off < e->len; off += KITH_RMSG_CHUNK_MAX) {
      size_t k =
          e->len - off < KITH_RMSG_CHUNK_MAX ? e->len - off : KITH_RMSG_CHUNK_MAX;
      fr_data(r, e->b + off, k);
    }
    if (r->inject == INJ_DATA_OVER)
      fr_data(r, e->b, 1);
    sent += e->len;
    n++;
  }
  fr_ok(r, req, more);
}

static void fr_put_end(struct frelay *r)
{
  r->putting = false;
  r->puts++;
  if (r->put_refused)
    return; /* answered at R_PUT already */
  if (r->put_box[0] == 0xEB) {
    fr_err(r, r->put_req, KITH_RERR_BOX_QUOTA, "box full");
    return;
  }
  uint64_t eid = fr_add(r, r->put_owner, r->put_box[0], r->put_size);
  struct fenv *e = &r->envs[r->nenvs - 1];
  memcpy(e->box, r->put_box, 16);
  memcpy(e->b, r->put_buf, r->put_size);
  fr_ok(r, r->put_req, eid);
}

static void fr_join(struct frelay *r, uint32_t req)
{
  if (r->no_rendezvous)
    return fr_err(r, req, KITH_RERR_NO_RENDEZVOUS, "no such rendezvous");
  for (int i = 0; i < r->keepalives; i++)
    fr_data(r, NULL, 0);
  fr_ok(r, req, 0);
  r->st = F_JOINED;
  if (r->inner_calls)
    r->inner_calls_at_join = *r->inner_calls;
  const uint8_t *b;
  size_t n = r->other_vt->pending(r->other, &b); /* in the same read as R_OK */
  fr_out(r, b, n);
  r->other_vt->consumed(r->other, n);
}

static void fr_fuzz(struct frelay *r);

static void fr_on_msg(struct frelay *r, const struct kith_msg *km)
{
  struct kith_rmsg m;
  if (r->inject == INJ_FUZZ) { /* whatever the client says, more noise */
    if (km->type == KITH_MSG_BYE)
      r->st = F_DONE;
    else
      fr_fuzz(r);
    return;
  }
  if (km->type == KITH_MSG_BYE) {
    r->byes++;
    r->st = F_DONE;
    return;
  }
  memset(&m, 0, sizeof m);
  m.eids = r->eids;
  if (kith_rmsg_decode(km, &m) != 0) {
    r->st = F_FAILED;
    return;
  }
  switch (m.type) {
  case KITH_RMSG_FETCH:
    return fr_page(r, m.req, m.after, m.max_bytes);
  case KITH_RMSG_DEL: {
    size_t n = 0;
    r->dels++;
    for (size_t k = 0; k < m.neids; k++)
      for (size_t i = 0; i < r->nenvs; i++)
        if (r->envs[i].eid == m.eids[k] && !r->envs[i].gone &&
            memcmp(r->envs[i].owner, r->owner, 32) == 0)
          r->envs[i].gone = true, n++;
    logf_("D%zu ", n);
    return fr_ok(r, m.req, r->inject == INJ_DEL_COUNT ? m.neids + 1 : n);
  }
  case KITH_RMSG_PUT:
    assert_false(r->putting);
    r->putting = true;
    r->put_req = m.req;
    memcpy(r->put_owner, m.owner, 32);
    memcpy(r->put_box, m.box, 16);
    r->put_size = m.size, r->put_have = 0;
    r->put_buf = realloc(r->put_buf, m.size ? m.size : 1);
    assert_non_null(r->put_buf);
    r->put_refused = m.box[0] == 0xEA; /* refused at once, its bytes still coming */
    if (r->put_refused)
      fr_err(r, m.req, KITH_RERR_TOO_BIG, "too big for me");
    if (r->inject == INJ_PUT_OK_EARLY)
      fr_ok(r, m.req, 1);
    if (m.size == 0)
      fr_put_end(r);
    return;
  case KITH_RMSG_DATA:
    assert_true(r->putting);
    assert_true(m.chunk_len <= r->put_size - r->put_have);
    memcpy(r->put_buf + r->put_have, m.chunk, m.chunk_len);
    r->put_have += m.chunk_len;
    if (r->put_have == r->put_size)
      fr_put_end(r);
    return;
  case KITH_RMSG_WAIT:
  case KITH_RMSG_JOIN:
    return fr_join(r, m.req);
  default:
    r->st = F_FAILED;
  }
}

/* A few random messages of the relay's (and some of the client's), with small
 * numbers so that some make sense, or random plaintext. */
static void fr_fuzz(struct frelay *r)
{
  uint8_t chunk[3000];
  for (uint32_t n = 1 + rnd(4); n; n--) {
    struct kith_rmsg m = {.type = KITH_RMSG_FIRST + (int)rnd(10)};
    m.req = rnd(6);
    m.version = rnd(3);
    m.max_envelope = rnd(3) ? rnd(5000) : UINT64_MAX - rnd(3);
    m.ttl_s = rnd(100);
    m.size = rnd(3) ? rnd(4000) : UINT64_MAX - rnd(3);
    m.value = rnd(4) ? rnd(3) : rnd(2000);
    m.code = rnd(10);
    m.eid = rnd(8);
    m.after = rnd(5);
    m.max_bytes = rnd(1000);
    for (size_t i = 0; i < sizeof chunk; i++)
      chunk[i] = (uint8_t)rnd(256);
    m.chunk = chunk;
    m.chunk_len = rnd(3) ? rnd(sizeof chunk) : 0;
    uint64_t eids[3] = {rnd(5), rnd(5), rnd(5)};
    m.eids = eids;
    m.neids = rnd(4);
    kith_rmsg_set_text(&m, "fuzz");
    if (rnd(12) == 0) {
      fr_plain(r, chunk, 1 + rnd(100));
    } else if (rnd(15) == 0) {
      struct kith_msg k = {.type = rnd(2) ? KITH_MSG_BYE : KITH_MSG_REFUSE};
      k.u.refuse.code = rnd(12);
      fr_kmsg(r, &k);
    } else {
      fr_send(r, &m);
    }
  }
}

/* After the handshake: R_INFO, or what the script sends instead. */
static void fr_hello(struct frelay *r)
{
  struct kith_rmsg info = {.type = KITH_RMSG_INFO,
                           .version = KITH_RMSG_VERSION,
                           .max_envelope = r->max_envelope,
                           .ttl_s = 14 * 24 * 3600,
                           .flags = 0};
  switch (r->inject) {
  case INJ_FUZZ:
    if (rnd(4))
      fr_send(r, &info);
    return fr_fuzz(r);
  case INJ_CLIENT_MSG: {
    struct kith_rmsg m = {.type = KITH_RMSG_PUT, .req = 1, .size = 3};
    return fr_send(r, &m);
  }
  case INJ_GARBAGE: {
    uint8_t junk[100];
    randombytes_buf(junk, sizeof junk);
    return fr_plain(r, junk, sizeof junk);
  }
  case INJ_REFUSE: {
    struct kith_msg m = {.type = KITH_MSG_REFUSE};
    m.u.refuse.code = KITH_REFUSE_BUSY;
    kith_refuse_set_text(&m, "too many connections");
    return fr_kmsg(r, &m);
  }
  case INJ_VERSION: {
    static const uint8_t v2[] = {0x92, 0x02, 0x40}; /* [2, 64] */
    return fr_plain(r, v2, sizeof v2);
  }
  default:
    break;
  }
  fr_send(r, &info);
  if (r->inject == INJ_UNKNOWN_OK)
    fr_ok(r, 999, 0);
  if (r->inject == INJ_INFO_TWICE)
    fr_send(r, &info);
  if (r->inject == INJ_BYE) {
    struct kith_msg m = {.type = KITH_MSG_BYE};
    fr_kmsg(r, &m);
  }
  if (r->inject == INJ_MAIL_DATA)
    fr_data(r, (const uint8_t *)"x", 1);
  if (r->inject == INJ_MAIL_NOFETCH && r->nenvs)
    fr_mail(r, 1, &r->envs[0], 1);
}

static int fr_preamble(void *s)
{
  struct frelay *r = s;
  struct kith_preamble in, ans;
  uint8_t ans_b[KITH_PREAMBLE_LEN];
  size_t plen = 0;
  if (kith_preamble_decode(r->ch.pre_in, &in) != 0 ||
      in.purpose != KITH_PURPOSE_RELAY) {
    r->st = F_FAILED;
    return -1;
  }
  assert_rc(kith_preamble_answer(&in, KITH_PROTO_VERSION, 0, &ans), 0);
  kith_preamble_encode(&ans, ans_b);
  fr_out(r, ans_b, sizeof ans_b);
  kith_prologue(r->ch.pre_in, ans_b, r->prologue, &plen);
  struct kith_noise_config cfg = {.protocol = KITH_RELAYC_NOISE,
                                  .role = KITH_NOISE_RESPONDER,
                                  .prologue = r->prologue,
                                  .prologue_len = plen,
                                  .local_static = r->sk};
  assert_rc(kith_noise_hs_new(&cfg, &r->hs), 0);
  r->st = F_HS1;
  return 0;
}

static int fr_frame_cb(void *s, const uint8_t *body, size_t len)
{
  struct frelay *r = s;
  uint8_t pl[KITH_FRAME_MAX_HANDSHAKE], out[256];
  size_t plen = 0, olen = 0;
  struct kith_msg m;
  switch (r->st) {
  case F_HS1:
    if (kith_noise_read_message(r->hs, body, len, pl, sizeof pl, &plen) != 0)
      break;
    assert_rc(kith_noise_write_message(r->hs, NULL, 0, out, sizeof out, &olen), 0);
    fr_frame(r, out, olen);
    r->st = F_HS3;
    return 0;
  case F_HS3:
    if (kith_noise_read_message(r->hs, body, len, pl, sizeof pl, &plen) != 0)
      break;
    assert_rc(kith_noise_remote_static(r->hs, r->owner), 0);
    assert_rc(kith_noise_split(r->hs, &r->ch.tx, &r->ch.rx), 0);
    assert_rc(kith_frame_set_max(&r->ch.fr, KITH_FRAME_MAX), 0);
    r->st = F_RUN;
    fr_hello(r);
    return 0;
  case F_RUN:
    if (kith_chan_open(&r->ch, body, len, &m) != 0)
      break;
    fr_on_msg(r, &m);
    return 0;
  default:
    break;
  }
  r->st = F_FAILED;
  return -1;
}

static bool fr_ended(void *s)
{
  struct frelay *r = s;
  return r->st == F_DONE || r->st == F_FAILED || r->st == F_JOINED;
}

static int fr_feed(void *s, const uint8_t *in, size_t len)
{
  static const struct kith_chan_handler h = {fr_preamble, fr_frame_cb, fr_ended};
  struct frelay *r = s;
  if (r->st == F_JOINED)
    return r->other_vt->feed(r->other, in, len);
  if (kith_chan_feed(&r->ch, in, len, &h, r) != 0)
    r->st = F_FAILED;
  return r->st == F_FAILED ? KITH_EPROTO : 0;
}

static size_t fr_pending(void *s, const uint8_t **out)
{
  struct frelay *r = s;
  if (r->out_len || r->st != F_JOINED) {
    *out = r->out;
    return r->out_len;
  }
  return r->other_vt->pending(r->other, out);
}

static void fr_consumed(void *s, size_t n)
{
  struct frelay *r = s;
  if (r->out_len || r->st != F_JOINED) {
    memmove(r->out, r->out + n, r->out_len - n);
    r->out_len -= n;
  } else {
    r->other_vt->consumed(r->other, n);
  }
}

static int fr_eof(void *s)
{
  struct frelay *r = s;
  if (r->st == F_JOINED)
    return r->other_vt->eof(r->other);
  if (r->st != F_DONE)
    r->st = F_FAILED;
  return r->st == F_DONE ? 0 : KITH_ECLOSED;
}

static enum kith_session_state fr_state(void *s)
{
  struct frelay *r = s;
  if (r->st == F_JOINED)
    return r->other_vt->state(r->other);
  return r->st == F_DONE     ? KITH_SESSION_DONE
         : r->st == F_FAILED ? KITH_SESSION_FAILED
                             : KITH_SESSION_RUNNING;
}

static const struct kith_session_vt fr_vt = {.feed = fr_feed,
                                             .pending = fr_pending,
                                             .consumed = fr_consumed,
                                             .eof = fr_eof,
                                             .state = fr_state};

/* ---- two sessions back to back (kt_pump, with one vt each) --------------------- */

static bool ended_state(enum kith_session_state st)
{
  return st == KITH_SESSION_DONE || st == KITH_SESSION_FAILED;
}

/* Moves bytes both ways until both end or nothing moves; chunk bytes per feed at
 * most (0: all); flips the byte at offset flip_ab (a -> b) or flip_ba (-1: none).
 * Returns the bytes moved each way. */
struct flow {
  long ab, ba;
};

static struct flow pump2(const struct kith_session_vt *va, void *a,
                         const struct kith_session_vt *vb, void *b, size_t chunk,
                         long flip_ab, long flip_ba)
{
  long sent[2] = {0, 0}, flip[2] = {flip_ab, flip_ba};
  bool eof[2] = {false, false}; /* eof[d]: the receiver of direction d saw EOF */
  const struct kith_session_vt *vf[2] = {va, vb}, *vt[2] = {vb, va};
  void *from[2] = {a, b}, *to[2] = {b, a};
  for (int rounds = 0; rounds < 1000000; rounds++) {
    bool moved = false;
    for (int d = 0; d < 2; d++) {
      const uint8_t *buf;
      size_t n = vf[d]->pending(from[d], &buf);
      if (!n || eof[d])
        continue;
      if (chunk && n > chunk)
        n = chunk;
      uint8_t *copy = malloc(n);
      assert_non_null(copy);
      memcpy(copy, buf, n);
      if (flip[d] >= sent[d] && flip[d] < sent[d] + (long)n)
        copy[flip[d] - sent[d]] ^= 0x40;
      vf[d]->consumed(from[d], n);
      if (!ended_state(vt[d]->state(to[d])))
        vt[d]->feed(to[d], copy, n);
      free(copy);
      sent[d] += (long)n;
      moved = true;
    }
    bool a_end = ended_state(va->state(a)), b_end = ended_state(vb->state(b));
    const uint8_t *buf;
    if (a_end && !eof[0] && !va->pending(a, &buf)) {
      if (!b_end)
        vb->eof(b);
      eof[0] = moved = true;
    }
    if (b_end && !eof[1] && !vb->pending(b, &buf)) {
      if (!a_end)
        va->eof(a);
      eof[1] = moved = true;
    }
    if ((a_end && b_end) || !moved)
      break;
  }
  return (struct flow){sent[0], sent[1]};
}

/* ---- the client's side: callbacks that check and record ------------------------- */

#define MAX_PUTS 200

struct cli {
  struct kith_relay_info info;
  int infos;
  /* fetch */
  uint64_t got[8192];
  size_t ngot;
  uint64_t leave_eid; /* mail() leaves this one */
  int mail_fail_eid;  /* mail() fails at this one */
  int commit_rc;      /* commit() returns this */
  int commits;
  bool bad_bytes;  /* an envelope did not hold its pattern */
  bool fetch_over; /* set by the first next_put: mail() must not come after */
  bool mail_after_put;
  /* deposits */
  struct kith_relayc_put plan[MAX_PUTS];
  uint8_t *bufs[MAX_PUTS];
  size_t nplan, next;
  int done_count[MAX_PUTS];
  int done_rc[MAX_PUTS];
  uint32_t done_code[MAX_PUTS];
  int next_put_rc; /* next_put returns this after the plan, if negative */
  size_t max_inflight, inflight;
  kith_relayc *c;
};

static void cb_info(void *arg, const struct kith_relay_info *info)
{
  struct cli *k = arg;
  k->info = *info;
  k->infos++;
}

static int cb_mail(void *arg, uint64_t eid, const uint8_t box[KITH_BOX_LEN],
                   const uint8_t *env, size_t len)
{
  struct cli *k = arg;
  (void)box;
  if (!pattern_ok(eid, env, len))
    k->bad_bytes = true;
  if (k->fetch_over)
    k->mail_after_put = true;
  if (k->mail_fail_eid && eid == (uint64_t)k->mail_fail_eid)
    return KITH_EIO;
  assert_true(k->ngot < sizeof k->got / sizeof k->got[0]);
  k->got[k->ngot++] = eid;
  logf_("m%llu ", (unsigned long long)eid);
  return eid == k->leave_eid ? 1 : 0;
}

static int cb_commit(void *arg)
{
  struct cli *k = arg;
  k->commits++;
  logf_("C ");
  return k->commit_rc;
}

static int cb_next_put(void *arg, struct kith_relayc_put *out)
{
  struct cli *k = arg;
  k->fetch_over = true;
  if (k->next == k->nplan)
    return k->next_put_rc < 0 ? k->next_put_rc : 0;
  *out = k->plan[k->next++];
  if (++k->inflight > k->max_inflight)
    k->max_inflight = k->inflight;
  return 1;
}

static void cb_put_done(void *arg, uint64_t tag, int rc, uint32_t code,
                        const char *text)
{
  struct cli *k = arg;
  assert_true(tag < k->nplan);
  assert_non_null(text);
  k->done_count[tag]++;
  k->done_rc[tag] = rc;
  k->done_code[tag] = code;
  k->inflight--;
  /* the envelope is the caller's again: spoil it, as a caller freeing it would */
  if (k->bufs[tag])
    memset(k->bufs[tag], 0xdd, k->plan[tag].len);
}

static const struct kith_relayc_ops cli_ops = {cb_info, cb_next_put, cb_put_done,
                                               cb_mail, cb_commit};

/* A put of len bytes with tag = its index, to owner, box filled with box0. */
static void plan_put(struct cli *k, const uint8_t owner[32], uint8_t box0, size_t len)
{
  size_t i = k->nplan++;
  assert_true(i < MAX_PUTS);
  k->bufs[i] = malloc(len ? len : 1);
  assert_non_null(k->bufs[i]);
  pattern(i, k->bufs[i], len);
  k->plan[i] = (struct kith_relayc_put){.tag = i, .env = k->bufs[i], .len = len};
  memcpy(k->plan[i].owner, owner, 32);
  memset(k->plan[i].box, box0, 16);
}

static void cli_clear(struct cli *k)
{
  for (size_t i = 0; i < k->nplan; i++)
    free(k->bufs[i]);
  kith_relayc_free(k->c);
  memset(k, 0, sizeof *k);
}

/* A client keyed by sk (NULL: fresh), fetching or not, for relay r. */
static kith_relayc *cli_new(struct cli *k, const uint8_t *sk, bool fetch, uint32_t page)
{
  struct kith_relayc_config cfg = {.static_sk = sk,
                                   .fetch = fetch,
                                   .fetch_page_bytes = page,
                                   .ops = &cli_ops,
                                   .arg = k};
  assert_rc(kith_relayc_new(&cfg, &k->c), 0);
  return k->c;
}

static void run(struct cli *k, struct frelay *r, size_t chunk)
{
  g_log[0] = 0;
  if (r->st != F_PRE)
    fr_reset(r);
  pump2(&kith_relayc_vt, k->c, &fr_vt, r, chunk, -1, -1);
}

static void expect_done(struct cli *k)
{
  if (kith_relayc_vt.state(k->c) != KITH_SESSION_DONE)
    fail_msg("client not DONE: %d (%s): %s", kith_relayc_error(k->c),
             kith_strerror(kith_relayc_error(k->c)), kith_relayc_why(k->c));
  assert_string_equal(kith_relayc_why(k->c), "");
}

static void expect_failed(struct cli *k, int err, const char *why)
{
  assert_int_equal(kith_relayc_vt.state(k->c), KITH_SESSION_FAILED);
  assert_rc(kith_relayc_error(k->c), err);
  if (why && !strstr(kith_relayc_why(k->c), why))
    fail_msg("why is \"%s\", expected \"%s\" in it", kith_relayc_why(k->c), why);
}

static void keypair(uint8_t pk[32], uint8_t sk[32])
{
  crypto_box_keypair(pk, sk);
}

/* ---- tests ---------------------------------------------------------------------- */

static void test_relayc_new_errors(void **state)
{
  (void)state;
  kith_relayc *c = NULL;
  struct kith_relayc_ops none = {0}, fetch_only = {.mail = cb_mail},
                         put_no_done = {.next_put = cb_next_put};
  uint8_t sk[32], pk[32];
  keypair(pk, sk);
  struct kith_relayc_config cfg = {.ops = NULL};
  assert_rc(kith_relayc_new(&cfg, &c), KITH_EINVAL);
  cfg.ops = &none, cfg.fetch = true, cfg.static_sk = sk;
  assert_rc(kith_relayc_new(&cfg, &c), KITH_EINVAL); /* fetch without mail */
  cfg.ops = &fetch_only, cfg.static_sk = NULL;
  assert_rc(kith_relayc_new(&cfg, &c), KITH_EINVAL); /* fetch with a fresh key */
  cfg.fetch = false, cfg.ops = &put_no_done;
  assert_rc(kith_relayc_new(&cfg, &c), KITH_EINVAL);
  assert_rc(kith_relayc_new(NULL, &c), KITH_EINVAL);

  /* a fresh client: its preamble pending, nothing known of the relay yet */
  cfg.ops = &none;
  c = NULL;
  assert_rc(kith_relayc_new(&cfg, &c), 0);
  const uint8_t *out;
  assert_int_equal(kith_relayc_vt.pending(c, &out), KITH_PREAMBLE_LEN);
  assert_memory_equal(out, "kith\x01\x03\x00\x00", 8);
  assert_int_equal(kith_relayc_vt.state(c), KITH_SESSION_RUNNING);
  uint8_t key[32];
  assert_rc(kith_relayc_relay_key(c, key), KITH_EINVAL);
  assert_string_equal(kith_relayc_why(c), "");
  assert_rc(kith_relayc_vt.eof(c), KITH_ECLOSED); /* the relay hung up on us */
  assert_int_equal(kith_relayc_vt.state(c), KITH_SESSION_FAILED);
  assert_non_null(strstr(kith_relayc_why(c), "during the handshake"));
  kith_relayc_free(c);
  kith_relayc_free(NULL);

  uint8_t tag[16] = {1};
  kith_relayc_pipe *p = NULL;
  assert_rc(kith_relayc_pipe_new(tag, true, NULL, NULL, &p), KITH_EINVAL);
  kith_relayc_pipe_free(NULL);
}

/* Fetch as K, four envelopes a page: every envelope of K's in order with the right
 * bytes, commit() before each R_DEL, the one left stays, the other owner's are not
 * shown; then again (only the one left), then as the other owner. Whole, then in
 * slivers of 1 and 4093 bytes. */
static void test_relayc_fetch_paging(void **state)
{
  (void)state;
  static const size_t sizes[] = {100,   1000,  70000, 5, 0, 200000,
                                 60000, 60001, 7,     8, 9, 10};
  size_t chunks[] = {0, 4093, 1};
  uint8_t kpk[32], ksk[32], opk[32], osk[32];
  keypair(kpk, ksk), keypair(opk, osk);
  for (size_t ci = 0; ci < 3; ci++) {
    struct frelay *r = fr_new();
    struct cli k = {0};
    uint64_t keids[12], bytes = 0;
    for (size_t i = 0; i < 12; i++) {
      keids[i] = fr_add(r, kpk, 1, sizes[i]);
      bytes += sizes[i];
      if (i % 4 == 1)
        fr_add(r, opk, 2, 50); /* the other owner's, in between */
    }
    r->page_mails = 4;
    k.leave_eid = keids[6];
    cli_new(&k, ksk, true, 0);
    run(&k, r, chunks[ci]);
    expect_done(&k);
    assert_int_equal(k.infos, 1);
    assert_int_equal(k.info.version, KITH_RMSG_VERSION);
    assert_int_equal(k.info.max_envelope, r->max_envelope);
    assert_int_equal(k.info.ttl_s, 14 * 24 * 3600);
    assert_false(k.bad_bytes);
    assert_int_equal(k.ngot, 12);
    assert_memory_equal(k.got, keids, sizeof keids);
    char want[512] = "";
    for (size_t i = 0; i < 12; i++) {
      size_t n = strlen(want);
      snprintf(want + n, sizeof want - n, "m%llu ", (unsigned long long)keids[i]);
      if (i % 4 == 3) {
        n = strlen(want);
        snprintf(want + n, sizeof want - n, "C D%d ", i == 7 ? 3 : 4);
      }
    }
    assert_string_equal(g_log, want);
    assert_int_equal(r->fetches, 3);
    assert_int_equal(r->dels, 3);
    assert_int_equal(r->byes, 1);
    assert_int_equal(fr_count(r, kpk), 1);
    assert_int_equal(fr_count(r, opk), 3);
    const struct kith_relayc_stats *st = kith_relayc_stats(k.c);
    assert_int_equal(st->mails, 12);
    assert_int_equal(st->deleted, 11);
    assert_int_equal(st->bytes_in, bytes);
    assert_int_equal(st->puts_ok + st->puts_refused + st->bytes_out, 0);
    uint8_t key[32];
    assert_rc(kith_relayc_relay_key(k.c, key), 0);
    assert_memory_equal(key, r->pk, 32);
    cli_clear(&k);

    /* again: only the one left behind */
    cli_new(&k, ksk, true, 0);
    run(&k, r, chunks[ci]);
    expect_done(&k);
    assert_int_equal(k.ngot, 1);
    assert_int_equal(k.got[0], keids[6]);
    assert_int_equal(fr_count(r, kpk), 0);
    cli_clear(&k);

    /* the other owner sees its own three, none of K's */
    cli_new(&k, osk, true, 0);
    run(&k, r, chunks[ci]);
    expect_done(&k);
    assert_int_equal(k.ngot, 3);
    assert_false(k.bad_bytes);
    assert_int_equal(fr_count(r, opk), 0);
    cli_clear(&k);
    fr_free(r);
  }
}

/* 5,000 small envelopes in one page: mail() takes 4,096 (the page's cap), the rest
 * is dropped and fetched again; R_DELs carry at most 1,024 eids. */
static void test_relayc_fetch_big_page(void **state)
{
  (void)state;
  uint8_t kpk[32], ksk[32];
  keypair(kpk, ksk);
  struct frelay *r = fr_new();
  struct cli k = {0};
  for (int i = 0; i < 5000; i++)
    fr_add(r, kpk, 1, 3);
  cli_new(&k, ksk, true, 0);
  run(&k, r, 0);
  expect_done(&k);
  assert_int_equal(k.ngot, 5000);
  for (size_t i = 0; i < 5000; i++)
    assert_int_equal(k.got[i], i + 1);
  assert_int_equal(r->fetches, 2);
  assert_int_equal(r->dels, 5);
  assert_non_null(strstr(g_log, "m4096 C D1024 D1024 D1024 D1024 m4097 "));
  assert_non_null(strstr(g_log, "m5000 C D904 "));
  assert_int_equal(kith_relayc_stats(k.c)->deleted, 5000);
  assert_int_equal(fr_count(r, kpk), 0);
  cli_clear(&k);
  fr_free(r);
}

/* commit() failing, or mail() failing: nothing is deleted. */
static void test_relayc_fetch_fails(void **state)
{
  (void)state;
  uint8_t kpk[32], ksk[32];
  keypair(kpk, ksk);
  for (int mode = 0; mode < 2; mode++) {
    struct frelay *r = fr_new();
    struct cli k = {0};
    for (int i = 0; i < 6; i++)
      fr_add(r, kpk, 1, 100);
    if (mode == 0)
      k.commit_rc = KITH_EFULL;
    else
      k.mail_fail_eid = 3;
    cli_new(&k, ksk, true, 0);
    run(&k, r, 0);
    expect_failed(&k, mode == 0 ? KITH_EFULL : KITH_EIO,
                  mode == 0 ? "could not keep the fetched mail" : "could not take");
    assert_int_equal(k.commits, mode == 0 ? 1 : 0);
    assert_int_equal(r->dels, 0);
    assert_int_equal(fr_count(r, kpk), 6);
    cli_clear(&k);
    fr_free(r);
  }
}

/* An envelope above R_INFO's max_envelope (the relay's limit went down since it was
 * deposited): its bytes are dropped, mail() never sees it, it stays at the relay,
 * and the rest of the mailbox comes and goes as usual. */
static void test_relayc_fetch_too_big(void **state)
{
  (void)state;
  uint8_t kpk[32], ksk[32];
  keypair(kpk, ksk);
  struct frelay *r = fr_new();
  struct cli k = {0};
  for (int j = 0; j < 3; j++)
    fr_add(r, kpk, 1, 700);
  r->inject = INJ_MAIL_TOO_BIG;
  cli_new(&k, ksk, true, 0);
  run(&k, r, 0);
  expect_done(&k);
  assert_false(k.bad_bytes);
  assert_int_equal(k.ngot, 2);
  assert_int_equal(k.got[0], 2);
  assert_int_equal(k.got[1], 3);
  assert_int_equal(fr_count(r, kpk), 1);
  assert_false(r->envs[0].gone);
  assert_int_equal(kith_relayc_stats(k.c)->mails, 2);
  cli_clear(&k);
  fr_free(r);
}

/* 50 deposits of many sizes: each answered once, in at most 16 at a time; the
 * relay's refusals (after the bytes, and while they stream) and the local ones
 * reach put_done with their codes; what the relay took is byte for byte what was
 * offered, though the caller spoils each envelope as soon as it is answered. */
static void test_relayc_puts(void **state)
{
  (void)state;
  uint8_t kpk[32], ksk[32];
  keypair(kpk, ksk);
  size_t chunks[] = {0, 9973};
  for (size_t ci = 0; ci < 2; ci++) {
    struct frelay *r = fr_new();
    struct cli k = {0};
    uint64_t streamed = 0;
    size_t n = ci == 0 ? 50 : 35;
    for (size_t i = 0; i < n; i++) {
      size_t len = i % 5 == 0 && i >= 25 ? 200000 : 1000 + i;
      uint8_t box0 = 0x10;
      if (i == 7)
        box0 = 0xEB; /* refused after its bytes: box full */
      if (i == 31)
        box0 = 0xEA, len = 130000; /* refused as it starts, its bytes still go */
      if (i == 13)
        len = 0;
      if (i == 17)
        len = r->max_envelope + 1;
      plan_put(&k, kpk, box0, len);
      if (i != 13 && i != 17)
        streamed += len;
    }
    cli_new(&k, NULL, false, 0);
    run(&k, r, chunks[ci]);
    expect_done(&k);
    assert_int_equal(r->byes, 1);
    size_t ok = 0, j = 0;
    for (size_t i = 0; i < n; i++) {
      assert_int_equal(k.done_count[i], 1);
      if (i == 7 || i == 31 || i == 13 || i == 17) {
        assert_rc(k.done_rc[i], KITH_EREFUSED);
        assert_int_equal(k.done_code[i], i == 7    ? KITH_RERR_BOX_QUOTA
                                         : i == 13 ? KITH_RERR_MALFORMED
                                                   : KITH_RERR_TOO_BIG);
        continue;
      }
      assert_rc(k.done_rc[i], 0);
      ok++;
      /* the relay's envelopes are in the order of the puts it took */
      while (r->envs[j].len != k.plan[i].len)
        j++;
      assert_true(pattern_ok(i, r->envs[j].b, r->envs[j].len));
      assert_int_equal(r->envs[j].box[0], 0x10);
      assert_memory_equal(r->envs[j].owner, kpk, 32);
      j++;
    }
    assert_int_equal(fr_count(r, kpk), ok);
    const struct kith_relayc_stats *st = kith_relayc_stats(k.c);
    assert_int_equal(st->puts_ok, ok);
    assert_int_equal(st->puts_refused, n - ok);
    assert_int_equal(st->bytes_out, streamed);
    assert_int_equal(st->mails, 0);
    assert_true(k.max_inflight <= KITH_RELAYC_PUTS_INFLIGHT);
    assert_int_equal(k.max_inflight, KITH_RELAYC_PUTS_INFLIGHT);
    assert_int_equal(r->puts, (int)n - 2);
    /* the client's static key was a fresh one, not an owner's */
    assert_memory_not_equal(r->owner, kpk, 32);
    cli_clear(&k);
    fr_free(r);
  }
}

/* While a deposit streams, the output stays under the channel's bound: the
 * session produces as the transport takes. */
static void test_relayc_put_streams(void **state)
{
  (void)state;
  uint8_t kpk[32], ksk[32];
  keypair(kpk, ksk);
  struct frelay *r = fr_new();
  struct cli k = {0};
  for (int i = 0; i < 20; i++)
    plan_put(&k, kpk, 0x10, r->max_envelope);
  cli_new(&k, NULL, false, 0);
  size_t most = 0;
  for (int round = 0; round < 100000; round++) {
    const uint8_t *b;
    size_t n = kith_relayc_vt.pending(k.c, &b);
    if (n > most)
      most = n;
    if (n) {
      if (n > 30000)
        n = 30000; /* a slow socket */
      assert_rc(fr_feed(r, b, n), 0);
      kith_relayc_vt.consumed(k.c, n);
    }
    size_t m = fr_pending(r, &b);
    if (m) {
      assert_rc(kith_relayc_vt.feed(k.c, b, m), 0);
      fr_consumed(r, m);
    }
    if (kith_relayc_vt.state(k.c) == KITH_SESSION_DONE &&
        !kith_relayc_vt.pending(k.c, &b))
      break;
  }
  expect_done(&k);
  assert_true(most <= KITH_CHAN_OUT_MAX);
  assert_int_equal(kith_relayc_stats(k.c)->puts_ok, 20);
  cli_clear(&k);
  fr_free(r);
}

static int cb_next_put_logged(void *arg, struct kith_relayc_put *out)
{
  struct cli *k = arg;
  if (k->next == 0 && k->nplan)
    logf_("P ");
  return cb_next_put(arg, out);
}

/* Fetch, then deposits: next_put is first asked once the fetch is over (its
 * deletes answered). */
static void test_relayc_fetch_then_put(void **state)
{
  (void)state;
  uint8_t kpk[32], ksk[32], opk[32], osk[32];
  keypair(kpk, ksk), keypair(opk, osk);
  struct frelay *r = fr_new();
  struct cli k = {0};
  struct kith_relayc_ops ops = cli_ops;
  ops.next_put = cb_next_put_logged;
  for (int i = 0; i < 3; i++)
    fr_add(r, kpk, 1, 500);
  for (int i = 0; i < 3; i++)
    plan_put(&k, opk, 0x10, 700);
  struct kith_relayc_config cfg = {
      .static_sk = ksk, .fetch = true, .ops = &ops, .arg = &k};
  assert_rc(kith_relayc_new(&cfg, &k.c), 0);
  run(&k, r, 0);
  expect_done(&k);
  assert_string_equal(g_log, "m1 m2 m3 C D3 P ");
  assert_false(k.mail_after_put);
  assert_int_equal(fr_count(r, kpk), 0);
  assert_int_equal(fr_count(r, opk), 3);
  assert_int_equal(kith_relayc_stats(k.c)->puts_ok, 3);
  cli_clear(&k);
  fr_free(r);
}

/* No fetch, no deposits: R_INFO, BYE, DONE; and with a pinned relay key. */
static void test_relayc_nothing_and_pin(void **state)
{
  (void)state;
  struct frelay *r = fr_new();
  struct kith_relayc_ops ops = {.info = cb_info};
  struct cli k = {0};
  struct kith_relayc_config cfg = {.relay_pk = r->pk, .ops = &ops, .arg = &k};
  assert_rc(kith_relayc_new(&cfg, &k.c), 0);
  run(&k, r, 0);
  expect_done(&k);
  assert_int_equal(k.infos, 1);
  assert_int_equal(r->byes, 1);
  kith_relayc_free(k.c);
  fr_free(r);

  /* pinned to another key: the client stops before it shows its own */
  uint8_t kpk[32], ksk[32], other[32], osk[32];
  keypair(kpk, ksk), keypair(other, osk);
  r = fr_new();
  cfg.relay_pk = other, cfg.static_sk = ksk;
  assert_rc(kith_relayc_new(&cfg, &k.c), 0);
  run(&k, r, 0);
  expect_failed(&k, KITH_EPROTO, "the relay's key is not the one expected");
  assert_int_equal(r->st, F_FAILED); /* it never got message 3 */
  uint8_t key[32];
  assert_rc(kith_relayc_relay_key(k.c, key), KITH_EINVAL);
  kith_relayc_free(k.c);
  fr_free(r);
}

/* Every kind of message a relay should not send, at the point it should not send
 * it: the client fails cleanly, with the right code and reason. */
static void test_relayc_malformed(void **state)
{
  (void)state;
  static const char *const bad = "the relay sent a malformed message";
  static const struct {
    enum inject inject;
    bool fetch;
    int puts;
    int err;
    const char *why;
  } cases[] = {
      {INJ_MAIL_ORDER, true, 0, KITH_EPROTO, "malformed"},
      {INJ_DATA_OVER, true, 0, KITH_EPROTO, "malformed"},
      {INJ_CLIENT_MSG, false, 0, KITH_EPROTO, "malformed"},
      {INJ_GARBAGE, false, 0, KITH_EPROTO, "malformed"},
      {INJ_UNKNOWN_OK, false, 0, KITH_EPROTO, "malformed"},
      {INJ_INFO_TWICE, true, 0, KITH_EPROTO, "malformed"},
      {INJ_INFO_TWICE, false, 1, KITH_EPROTO, "malformed"},
      {INJ_OK_MID_MAIL, true, 0, KITH_EPROTO, "malformed"},
      {INJ_REFUSE, true, 0, KITH_EREFUSED, NULL},
      {INJ_ERR_FETCH, true, 0, KITH_EREFUSED, "the relay refused to fetch: "},
      {INJ_MORE_EMPTY, true, 0, KITH_EPROTO, "more mail waits but sent none"},
      {INJ_BYE, false, 1, KITH_ECLOSED, "ended the session"},
      {INJ_DEL_COUNT, true, 0, KITH_EPROTO, "malformed"},
      {INJ_PUT_OK_EARLY, false, 2, KITH_EPROTO, "malformed"},
      {INJ_VERSION, false, 0, KITH_EVERSION, "incompatible version"},
      {INJ_MAIL_DATA, false, 0, KITH_EPROTO, "malformed"},
      {INJ_MAIL_NOFETCH, false, 0, KITH_EPROTO, "malformed"},
  };
  uint8_t kpk[32], ksk[32];
  keypair(kpk, ksk);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct frelay *r = fr_new();
    struct cli k = {0};
    for (int j = 0; j < 3; j++)
      fr_add(r, kpk, 1, 70000);
    for (int j = 0; j < cases[i].puts; j++) /* big: it streams over several reads */
      plan_put(&k, kpk, 0x10, 300000);
    r->inject = cases[i].inject;
    cli_new(&k, ksk, cases[i].fetch, 0);
    run(&k, r, 0);
    print_message("case %zu: %s\n", i, kith_relayc_why(k.c));
    expect_failed(&k, cases[i].err, cases[i].why);
    if (cases[i].why && strcmp(cases[i].why, "malformed") == 0)
      assert_string_equal(kith_relayc_why(k.c), bad);
    if (cases[i].inject == INJ_REFUSE)
      assert_non_null(strstr(kith_relayc_why(k.c), kith_refuse_text(KITH_REFUSE_BUSY)));
    if (cases[i].inject == INJ_ERR_FETCH)
      assert_non_null(strstr(kith_relayc_why(k.c), kith_rmsg_err_text(KITH_RERR_BUSY)));
    assert_false(k.bad_bytes);
    for (int j = 0; j < cases[i].puts; j++)
      assert_int_equal(k.done_count[j], 0); /* never answered: no put_done */
    if (cases[i].inject != INJ_DEL_COUNT)
      assert_int_equal(fr_count(r, kpk), 3);
    cli_clear(&k);
    fr_free(r);
  }
}

/* A standard session: a fetch of three and two deposits. */
static void flip_setup(struct frelay **r, struct cli *k, const uint8_t kpk[32],
                       const uint8_t ksk[32])
{
  *r = fr_new();
  memset(k, 0, sizeof *k);
  fr_add(*r, kpk, 1, 100);
  fr_add(*r, kpk, 1, 70000);
  fr_add(*r, kpk, 1, 30);
  plan_put(k, kpk, 0x10, 70000);
  plan_put(k, kpk, 0x10, 10);
  cli_new(k, ksk, true, 0);
}

/* Any byte flipped, either way: the client never ends DONE, and what mail() got
 * was never altered. */
static void test_relayc_flip(void **state)
{
  (void)state;
  uint8_t kpk[32], ksk[32];
  keypair(kpk, ksk);
  struct frelay *r;
  struct cli k;
  flip_setup(&r, &k, kpk, ksk);
  struct flow f = pump2(&kith_relayc_vt, k.c, &fr_vt, r, 0, -1, -1);
  expect_done(&k);
  assert_true(f.ba > 70000 && f.ab > 70000);
  cli_clear(&k);
  fr_free(r);

  int runs = 0;
  for (int dir = 0; dir < 2; dir++) {
    long total = dir == 0 ? f.ab - 64 : f.ba; /* a -> b: not the final BYE */
    for (long off = 0; off < total; off += off < 400 ? 1 : 997) {
      flip_setup(&r, &k, kpk, ksk);
      pump2(&kith_relayc_vt, k.c, &fr_vt, r, 0, dir == 0 ? off : -1,
            dir == 1 ? off : -1);
      enum kith_session_state st = kith_relayc_vt.state(k.c);
      if (dir == 1 && st == KITH_SESSION_DONE)
        fail_msg("flipped byte %ld from the relay: the client ended DONE", off);
      if (dir == 0 && st == KITH_SESSION_DONE)
        fail_msg("flipped byte %ld to the relay: the client ended DONE", off);
      assert_false(k.bad_bytes);
      runs++;
      cli_clear(&k);
      fr_free(r);
    }
  }
  assert_true(runs > 500);
}

/* Random bytes from a "relay", from the first byte or after a valid preamble, in
 * random slivers: the client survives them and never ends DONE. */
static void test_relayc_random_bytes(void **state)
{
  (void)state;
  uint8_t buf[4096];
  g_rng = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 2000; i++) {
    struct cli k = {0};
    cli_new(&k, NULL, false, 0);
    size_t len = 1 + rnd(sizeof buf);
    for (size_t j = 0; j < len; j++)
      buf[j] = (uint8_t)rnd(256);
    if (i % 2)
      memcpy(buf, "kith\x01\x03\x00\x00", len < 8 ? len : 8);
    if (i % 4 == 1 && len > 10) /* a handshake frame's plausible length */
      buf[8] = 0, buf[9] = (uint8_t)(len - 10 < 255 ? len - 10 : 200);
    for (size_t off = 0; off < len;) {
      size_t n = 1 + rnd(i % 3 ? 64 : (uint32_t)len);
      if (n > len - off)
        n = len - off;
      if (kith_relayc_vt.state(k.c) == KITH_SESSION_FAILED)
        break;
      (void)kith_relayc_vt.feed(k.c, buf + off, n);
      const uint8_t *out;
      kith_relayc_vt.consumed(k.c, kith_relayc_vt.pending(k.c, &out));
      off += n;
    }
    enum kith_session_state st = kith_relayc_vt.state(k.c);
    assert_true(st == KITH_SESSION_RUNNING || st == KITH_SESSION_FAILED);
    if (st == KITH_SESSION_FAILED)
      assert_true(kith_relayc_why(k.c)[0] != 0);
    (void)kith_relayc_vt.eof(k.c);
    assert_int_equal(kith_relayc_vt.state(k.c), KITH_SESSION_FAILED);
    cli_clear(&k);
  }
}

/* Random messages from an authenticated relay, in every phase: the client ends
 * FAILED with a reason, or DONE having had every put answered once; it never
 * reads past what it holds (the sanitizer build watches that). */
static void test_relayc_random_messages(void **state)
{
  (void)state;
  uint8_t kpk[32], ksk[32];
  keypair(kpk, ksk);
  int failed = 0;
  for (int i = 0; i < 1500; i++) {
    g_rng = 0x2545f4914f6cdd1dull + (uint64_t)i * 0x9e3779b97f4a7c15ull;
    struct frelay *r = fr_new();
    struct cli k = {0};
    r->inject = INJ_FUZZ;
    plan_put(&k, kpk, 0x10, 100);
    plan_put(&k, kpk, 0x10, 3);
    cli_new(&k, ksk, i % 2 == 0, (uint32_t)rnd(3));
    run(&k, r, i % 3 ? 0 : 1 + rnd(50));
    enum kith_session_state st = kith_relayc_vt.state(k.c);
    if (st == KITH_SESSION_FAILED) {
      assert_true(kith_relayc_why(k.c)[0] != 0);
      failed++;
    } else if (st == KITH_SESSION_DONE) {
      assert_int_equal(k.done_count[0], 1);
      assert_int_equal(k.done_count[1], 1);
    }
    assert_true(k.done_count[0] <= 1 && k.done_count[1] <= 1);
    cli_clear(&k);
    fr_free(r);
  }
  assert_true(failed > 1000);
}

/* ---- the rendezvous pipe -------------------------------------------------------- */

/* An inner session that says its piece and expects the other's, byte for byte. */
struct chat {
  const uint8_t *say, *expect;
  size_t say_len, off, expect_len, got;
  bool bad;
  long calls;
};

static int chat_feed(void *s, const uint8_t *in, size_t len)
{
  struct chat *c = s;
  c->calls++;
  if (len > c->expect_len - c->got || memcmp(in, c->expect + c->got, len) != 0) {
    c->bad = true;
    return KITH_EPROTO;
  }
  c->got += len;
  return 0;
}

static size_t chat_pending(void *s, const uint8_t **out)
{
  struct chat *c = s;
  c->calls++;
  *out = c->say + c->off;
  return c->say_len - c->off;
}

static void chat_consumed(void *s, size_t n)
{
  struct chat *c = s;
  c->calls++;
  c->off += n;
}

static int chat_eof(void *s)
{
  struct chat *c = s;
  c->calls++;
  if (c->got != c->expect_len)
    c->bad = true;
  return c->bad ? KITH_ECLOSED : 0;
}

static enum kith_session_state chat_state(void *s)
{
  struct chat *c = s;
  c->calls++;
  if (c->bad)
    return KITH_SESSION_FAILED;
  return c->off == c->say_len && c->got == c->expect_len ? KITH_SESSION_DONE
                                                         : KITH_SESSION_RUNNING;
}

static const struct kith_session_vt chat_vt = {.feed = chat_feed,
                                               .pending = chat_pending,
                                               .consumed = chat_consumed,
                                               .eof = chat_eof,
                                               .state = chat_state};

/* A pipe (waiting or joining) and the relay's other side exchange their pieces:
 * nothing reaches the inner session before R_OK, keepalives and R_INFO are skipped,
 * and the bytes that follow R_OK in the same read are the other side's. */
static void test_relayc_pipe(void **state)
{
  (void)state;
  static uint8_t a_says[100000], b_says[5000];
  pattern(1, a_says, sizeof a_says), pattern(2, b_says, sizeof b_says);
  uint8_t tag[16];
  memset(tag, 0x5a, sizeof tag);
  size_t chunks[] = {0, 1, 777};
  for (int w = 0; w < 2; w++) {
    for (size_t ci = 0; ci < 3; ci++) {
      struct chat a = {a_says, b_says, sizeof a_says, 0, sizeof b_says, 0, false, 0};
      struct chat b = {b_says, a_says, sizeof b_says, 0, sizeof a_says, 0, false, 0};
      struct frelay *r = fr_new();
      kith_relayc_pipe *p = NULL;
      r->keepalives = 3;
      r->other_vt = &chat_vt, r->other = &b;
      r->inner_calls = &a.calls;
      assert_rc(kith_relayc_pipe_new(tag, w == 0, &chat_vt, &a, &p), 0);
      assert_int_equal(kith_relayc_pipe_vt.state(p), KITH_SESSION_RUNNING);
      assert_false(kith_relayc_pipe_joined(p));
      pump2(&kith_relayc_pipe_vt, p, &fr_vt, r, chunks[ci], -1, -1);
      assert_true(kith_relayc_pipe_joined(p));
      assert_int_equal(r->inner_calls_at_join, 0);
      assert_false(a.bad);
      assert_false(b.bad);
      assert_int_equal(a.got, sizeof b_says);
      assert_int_equal(b.got, sizeof a_says);
      assert_int_equal(kith_relayc_pipe_vt.state(p), KITH_SESSION_DONE);
      assert_string_equal(kith_relayc_pipe_why(p), "");
      assert_int_equal(kith_relayc_pipe_error(p), 0);
      kith_relayc_pipe_free(p);
      fr_free(r);
    }
  }
}

/* Nobody waits under the tag: KITH_ENOTFOUND, and the inner session never ran; a
 * wait the relay ends (R_ERR 8 to R_WAIT): KITH_ETIMEDOUT; the relay closing
 * during the wait: KITH_ECLOSED. */
static void test_relayc_pipe_fails(void **state)
{
  (void)state;
  uint8_t tag[16] = {7};
  struct chat a = {(const uint8_t *)"hi", (const uint8_t *)"yo", 2, 0, 2, 0, false, 0};
  struct frelay *r;
  kith_relayc_pipe *p = NULL;
  for (int w = 0; w < 2; w++) {
    r = fr_new();
    r->no_rendezvous = true;
    assert_rc(kith_relayc_pipe_new(tag, w == 1, &chat_vt, &a, &p), 0);
    pump2(&kith_relayc_pipe_vt, p, &fr_vt, r, 0, -1, -1);
    assert_int_equal(kith_relayc_pipe_vt.state(p), KITH_SESSION_FAILED);
    assert_rc(kith_relayc_pipe_error(p), w ? KITH_ETIMEDOUT : KITH_ENOTFOUND);
    assert_string_equal(kith_relayc_pipe_why(p),
                        w ? "no one came with this code while the relay waited"
                          : "no one is waiting with this code at the relay");
    assert_false(kith_relayc_pipe_joined(p));
    assert_int_equal(a.calls, 0);
    kith_relayc_pipe_free(p);
    fr_free(r);
  }

  /* the relay hangs up while we wait */
  struct chat b = {(const uint8_t *)"hi", (const uint8_t *)"yo", 2, 0, 2, 0, false, 0};
  r = fr_new();
  r->other_vt = &chat_vt, r->other = &b;
  assert_rc(kith_relayc_pipe_new(tag, true, &chat_vt, &a, &p), 0);
  const uint8_t *out;
  for (int i = 0; i < 4; i++) { /* the handshake, and R_WAIT out */
    size_t n = kith_relayc_pipe_vt.pending(p, &out);
    if (n) {
      uint8_t *copy = malloc(n);
      memcpy(copy, out, n);
      kith_relayc_pipe_vt.consumed(p, n);
      r->no_rendezvous = true; /* whatever R_WAIT gets, drop it: */
      fr_feed(r, copy, n);
      free(copy);
    }
    n = fr_pending(r, &out);
    if (n && i < 2) { /* the preamble and message 2, not what answers R_WAIT */
      assert_rc(kith_relayc_pipe_vt.feed(p, out, n), 0);
      fr_consumed(r, n);
    }
  }
  assert_int_equal(kith_relayc_pipe_vt.state(p), KITH_SESSION_ESTABLISHED);
  assert_rc(kith_relayc_pipe_vt.eof(p), KITH_ECLOSED);
  assert_non_null(strstr(kith_relayc_pipe_why(p), "before the other side came"));
  assert_int_equal(a.calls, 0);
  kith_relayc_pipe_free(p);
  fr_free(r);
}

int main(void)
{
  if (sodium_init() < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_relayc_new_errors),
      cmocka_unit_test(test_relayc_fetch_paging),
      cmocka_unit_test(test_relayc_fetch_big_page),
      cmocka_unit_test(test_relayc_fetch_fails),
      cmocka_unit_test(test_relayc_fetch_too_big),
      cmocka_unit_test(test_relayc_puts),
      cmocka_unit_test(test_relayc_put_streams),
      cmocka_unit_test(test_relayc_fetch_then_put),
      cmocka_unit_test(test_relayc_nothing_and_pin),
      cmocka_unit_test(test_relayc_malformed),
      cmocka_unit_test(test_relayc_flip),
      cmocka_unit_test(test_relayc_random_bytes),
      cmocka_unit_test(test_relayc_random_messages),
      cmocka_unit_test(test_relayc_pipe),
      cmocka_unit_test(test_relayc_pipe_fails),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
