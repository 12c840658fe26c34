/*
 * relay_client.h — a small scripted relay client (docs/PROTOCOL.md, "Relay"), for
 * the relay's tests, tests/relay_tool.c and bench/relay.c: a sans-I/O session
 * (core/session.h) that kith_net_connect drives. Written apart from core/relayd.c
 * so that the server is checked against a second reading of the spec.
 *
 * A script, fixed before it connects: an optional rendezvous (R_WAIT or R_JOIN,
 * then raw bytes both ways), an optional fetch phase (R_FETCH pages, each followed
 * by R_DEL of what came if asked), then deposits (up to `window` in flight, made
 * lazily by a callback), then BYE (or just the end of stream). What came back is
 * recorded: R_INFO, each deposit's answer, the mail, REFUSE, raw bytes.
 *
 * Header-only (static functions): each program that includes it has its own copy.
 */
#ifndef KITH_TESTS_RELAY_CLIENT_H
#define KITH_TESTS_RELAY_CLIENT_H

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/chan.h"
#include "core/session.h"
#include "proto/noise.h"
#include "proto/relaymsg.h"

#define RCL_REQ_RV 1
#define RCL_REQ_FETCH 2
#define RCL_REQ_DEL 3
#define RCL_REQ_PUT0 1000 /* deposit i is req RCL_REQ_PUT0 + i */
#define RCL_MAILS_MAX 100000
#define RCL_RAW_MAX (1u << 20)

/* Deposit i: its bytes (borrowed until it is answered), owner and box. */
typedef const uint8_t *(*rcl_put_fn)(void *arg, size_t i, size_t *len,
                                     uint8_t owner[32], uint8_t box[16]);

struct rcl_config {
  const uint8_t *sk;    /* X25519 secret to fetch as; NULL: a random key */
  size_t puts;          /* how many deposits */
  rcl_put_fn put;       /* makes deposit i */
  void *arg;            /* for put */
  size_t window;        /* deposits in flight at most (0: 16) */
  bool fetch;           /* fetch my mail (after the rendezvous, before deposits) */
  bool del;             /* delete each page's mail after it came */
  uint64_t fetch_after; /* the first R_FETCH's after */
  uint64_t page;        /* R_FETCH max_bytes (0: 1 MiB) */
  bool keep_mail;       /* keep each envelope (mails[]), else count them only */
  bool wait, join;      /* rendezvous under tag */
  uint8_t tag[16];
  const uint8_t *raw_out; /* sent once joined */
  size_t raw_out_len;
  size_t raw_expect;             /* DONE once this many raw bytes came back */
  bool no_bye;                   /* end with our end of stream only */
  const struct kith_rmsg *first; /* tests: sent first, whatever it is */
  bool wait_close; /* when all is done, wait for the relay to close (tests) */
};

struct rcl_mail {
  uint64_t eid, size;
  uint8_t box[16];
  uint8_t *data; /* keep_mail: size bytes */
};

enum rcl_step { RCL_PRE, RCL_HS, RCL_READY, RCL_PIPE, RCL_DONE, RCL_FAILED };

struct rcl {
  struct rcl_config cfg;
  enum rcl_step step;
  uint8_t sk[32], relay_pk[32];
  uint8_t my_pre[KITH_PREAMBLE_LEN], prologue[KITH_PROLOGUE_LEN];
  size_t prologue_len;
  kith_noise_hs *hs;
  /* results */
  bool got_info;
  struct kith_rmsg info;
  uint32_t *put_code; /* per deposit: 0 ok, an R_ERR code, UINT32_MAX unanswered */
  uint64_t *put_eid;
  size_t puts_sent, puts_answered, puts_ok;
  struct rcl_mail *mails;
  size_t nmails;
  uint64_t mail_bytes, deleted;
  uint32_t fetch_err, del_err, rv_err; /* R_ERR codes to those */
  bool rv_ok;
  uint32_t refused; /* a REFUSE's code */
  char refused_text[KITH_REFUSE_TEXT_MAX + 1];
  uint8_t *raw_in;
  size_t raw_in_len;
  int keepalives, error;
  /* progress */
  bool rv_sent, fetch_active, fetch_done, del_active;
  uint64_t after;
  uint64_t *page_eids;
  size_t npage;
  bool more;
  bool mail_on;
  uint64_t mail_left, mail_off;
  size_t put_cur; /* the deposit being streamed (puts_sent - 1), if put_left */
  size_t put_left, put_off;
  const uint8_t *put_data;
  bool raw_sent, bye_sent, first_sent;
  uint64_t eids[KITH_RMSG_DEL_MAX];
  uint8_t msg[KITH_NOISE_MAX_PAYLOAD];
  struct kith_chan ch;
};

static int rcl_fail(struct rcl *c, int err)
{
  if (c->step != RCL_FAILED) {
    c->step = RCL_FAILED;
    c->error = err;
  }
  return err;
}

static int rcl_send(struct rcl *c, const struct kith_rmsg *m)
{
  size_t len = 0;
  if (kith_rmsg_encode(m, c->msg, sizeof c->msg, &len) != 0 ||
      kith_chan_send_plain(&c->ch, c->msg, len) != 0)
    return rcl_fail(c, KITH_ENOMEM);
  return 0;
}

static bool rcl_puts_over(const struct rcl *c)
{
  return c->puts_answered == c->cfg.puts;
}

/* What to send next, while the output has room. */
static void rcl_pump(struct rcl *c)
{
  size_t window = c->cfg.window ? c->cfg.window : 16;
  while (c->step == RCL_READY && c->got_info && c->ch.out_len < 64 * 1024) {
    struct kith_rmsg m;
    memset(&m, 0, sizeof m);
    if (c->cfg.first && !c->first_sent) {
      c->first_sent = true;
      if (c->cfg.first->type == KITH_RMSG_DEL && c->cfg.first->req == RCL_REQ_DEL)
        c->del_active = true; /* its answer is awaited like any delete's */
      if (rcl_send(c, c->cfg.first))
        return;
      continue;
    }
    if ((c->cfg.wait || c->cfg.join) && !c->rv_ok) {
      if (c->rv_sent)
        return;
      m.type = c->cfg.wait ? KITH_RMSG_WAIT : KITH_RMSG_JOIN;
      m.req = RCL_REQ_RV;
      memcpy(m.tag, c->cfg.tag, 16);
      c->rv_sent = true;
      if (rcl_send(c, &m))
        return;
      continue;
    }
    if (c->cfg.fetch && !c->fetch_done) {
      if (c->fetch_active || c->del_active)
        return;
      m.type = KITH_RMSG_FETCH;
      m.req = RCL_REQ_FETCH;
      m.after = c->after;
      m.max_bytes = c->cfg.page ? c->cfg.page : 1u << 20;
      c->fetch_active = true;
      c->npage = 0;
      if (rcl_send(c, &m))
        return;
      continue;
    }
    if (c->put_left) { /* the rest of the deposit being streamed */
      size_t n = c->put_left < KITH_RMSG_CHUNK_MAX ? c->put_left : KITH_RMSG_CHUNK_MAX;
      m.type = KITH_RMSG_DATA;
      m.chunk = c->put_data + c->put_off;
      m.chunk_len = n;
      c->put_off += n, c->put_left -= n;
      if (rcl_send(c, &m))
        return;
      continue;
    }
    if (c->puts_sent < c->cfg.puts && c->puts_sent - c->puts_answered < window) {
      size_t i = c->puts_sent++, len = 0;
      m.type = KITH_RMSG_PUT;
      m.req = (uint32_t)(RCL_REQ_PUT0 + i);
      c->put_data = c->cfg.put(c->cfg.arg, i, &len, m.owner, m.box);
      m.size = len;
      c->put_cur = i, c->put_left = len, c->put_off = 0;
      if (rcl_send(c, &m))
        return;
      continue;
    }
    if (rcl_puts_over(c) && !c->del_active && !c->bye_sent && !c->cfg.wait_close) {
      c->bye_sent = true;
      if (!c->cfg.no_bye) {
        struct kith_msg b = {.type = KITH_MSG_BYE};
        if (kith_chan_send_msg(&c->ch, &b) != 0) {
          rcl_fail(c, KITH_ENOMEM);
          return;
        }
      }
      c->step = RCL_DONE;
    }
    return;
  }
}

static int rcl_on_rmsg(struct rcl *c, const struct kith_rmsg *m)
{
  switch (m->type) {
  case KITH_RMSG_INFO:
    c->got_info = true;
    c->info = *m;
    return 0;
  case KITH_RMSG_MAIL:
    if (!c->fetch_active || c->mail_on || m->size == 0 ||
        (c->cfg.keep_mail && c->nmails >= RCL_MAILS_MAX))
      return rcl_fail(c, KITH_EPROTO);
    if (c->cfg.keep_mail) {
      c->mails[c->nmails] = (struct rcl_mail){.eid = m->eid, .size = m->size};
      memcpy(c->mails[c->nmails].box, m->box, 16);
      if (!(c->mails[c->nmails].data = malloc(m->size)))
        return rcl_fail(c, KITH_ENOMEM);
    }
    c->mail_on = true;
    c->mail_left = m->size, c->mail_off = 0;
    if (c->npage < KITH_RMSG_DEL_MAX)
      c->page_eids[c->npage++] = m->eid;
    c->after = m->eid;
    return 0;
  case KITH_RMSG_DATA:
    if (!c->mail_on) {
      if (m->chunk_len == 0) { /* a keepalive */
        c->keepalives++;
        return 0;
      }
      return rcl_fail(c, KITH_EPROTO);
    }
    if (m->chunk_len > c->mail_left)
      return rcl_fail(c, KITH_EPROTO);
    if (c->cfg.keep_mail && m->chunk_len)
      memcpy(c->mails[c->nmails].data + c->mail_off, m->chunk, m->chunk_len);
    c->mail_off += m->chunk_len, c->mail_left -= m->chunk_len;
    c->mail_bytes += m->chunk_len;
    if (c->mail_left == 0) {
      c->mail_on = false;
      c->nmails++;
    }
    return 0;
  case KITH_RMSG_OK:
  case KITH_RMSG_ERR: {
    uint32_t code = m->type == KITH_RMSG_ERR ? m->code : 0;
    if (c->mail_on)
      return rcl_fail(c, KITH_EPROTO); /* never between R_MAIL and its R_DATAs */
    if (m->req == RCL_REQ_RV && c->rv_sent && !c->rv_ok) {
      if (code) {
        c->rv_err = code;
        return rcl_fail(c, KITH_EREFUSED);
      }
      c->rv_ok = true;
      c->step = RCL_PIPE;
      return 0;
    }
    if (m->req == RCL_REQ_FETCH && c->fetch_active) {
      c->fetch_active = false;
      c->fetch_err = code;
      c->more = !code && m->value;
      if (code)
        return rcl_fail(c, KITH_EREFUSED);
      if (c->cfg.del && c->npage) {
        struct kith_rmsg d;
        memset(&d, 0, sizeof d);
        d.type = KITH_RMSG_DEL;
        d.req = RCL_REQ_DEL;
        d.eids = c->page_eids;
        d.neids = c->npage;
        c->del_active = true;
        return rcl_send(c, &d);
      }
      if (!c->more)
        c->fetch_done = true;
      return 0;
    }
    if (m->req == RCL_REQ_DEL && c->del_active) {
      c->del_active = false;
      c->del_err = code;
      if (code)
        return rcl_fail(c, KITH_EREFUSED);
      c->deleted += m->value;
      if (!c->more)
        c->fetch_done = true;
      return 0;
    }
    if (m->req >= RCL_REQ_PUT0 && m->req - RCL_REQ_PUT0 < c->puts_sent) {
      size_t i = m->req - RCL_REQ_PUT0;
      if (c->put_code[i] != UINT32_MAX)
        return rcl_fail(c, KITH_EPROTO); /* answered twice */
      c->put_code[i] = code;
      c->put_eid[i] = code ? 0 : m->value;
      c->puts_answered++;
      c->puts_ok += !code;
      return 0;
    }
    return rcl_fail(c, KITH_EPROTO);
  }
  default:
    return rcl_fail(c, KITH_EPROTO);
  }
}

static int rcl_on_frame(struct rcl *c, const uint8_t *body, size_t len)
{
  uint8_t payload[256], out[256];
  size_t plen, olen;
  if (c->step == RCL_HS) {
    if (kith_noise_read_message(c->hs, body, len, payload, sizeof payload, &plen) ||
        kith_noise_remote_static(c->hs, c->relay_pk) ||
        kith_noise_write_message(c->hs, NULL, 0, out, sizeof out, &olen) ||
        kith_chan_send_frame(&c->ch, out, olen) ||
        kith_noise_split(c->hs, &c->ch.tx, &c->ch.rx) ||
        kith_frame_set_max(&c->ch.fr, KITH_FRAME_MAX))
      return rcl_fail(c, KITH_EPROTO);
    kith_noise_hs_free(c->hs);
    c->hs = NULL;
    c->step = RCL_READY;
    return 0;
  }
  struct kith_msg km;
  struct kith_rmsg m;
  if (kith_chan_open(&c->ch, body, len, &km) != 0)
    return rcl_fail(c, KITH_EPROTO);
  if (km.type == KITH_MSG_REFUSE) {
    c->refused = km.u.refuse.code;
    memcpy(c->refused_text, km.u.refuse.text, sizeof c->refused_text);
    return rcl_fail(c, KITH_EREFUSED);
  }
  memset(&m, 0, sizeof m);
  m.eids = c->eids;
  if (kith_rmsg_decode(&km, &m) != 0)
    return rcl_fail(c, KITH_EPROTO);
  return rcl_on_rmsg(c, &m);
}

static int rcl_feed(void *s, const uint8_t *in, size_t len)
{
  struct rcl *c = s;
  while (len && c->step != RCL_FAILED) {
    if (c->step == RCL_PIPE || c->step == RCL_DONE) {
      if (c->step == RCL_PIPE) {
        size_t k =
            len < RCL_RAW_MAX - c->raw_in_len ? len : RCL_RAW_MAX - c->raw_in_len;
        memcpy(c->raw_in + c->raw_in_len, in, k);
        c->raw_in_len += k;
        if (c->raw_in_len >= c->cfg.raw_expect)
          c->step = RCL_DONE;
      }
      return 0;
    }
    if (c->ch.pre_have < KITH_PREAMBLE_LEN) {
      size_t take = KITH_PREAMBLE_LEN - c->ch.pre_have;
      take = take < len ? take : len;
      memcpy(c->ch.pre_in + c->ch.pre_have, in, take);
      c->ch.pre_have += take, in += take, len -= take;
      if (c->ch.pre_have == KITH_PREAMBLE_LEN) {
        struct kith_preamble sent, ans;
        uint8_t out[256];
        size_t olen;
        if (kith_preamble_decode(c->ch.pre_in, &ans) ||
            kith_preamble_decode(c->my_pre, &sent) ||
            kith_preamble_check_answer(&sent, &ans))
          return rcl_fail(c, KITH_EPROTO);
        kith_prologue(c->my_pre, c->ch.pre_in, c->prologue, &c->prologue_len);
        struct kith_noise_config cfg = {.protocol = "Noise_XX_25519_ChaChaPoly_BLAKE2b",
                                        .role = KITH_NOISE_INITIATOR,
                                        .prologue = c->prologue,
                                        .prologue_len = c->prologue_len,
                                        .local_static = c->sk};
        if (kith_noise_hs_new(&cfg, &c->hs) ||
            kith_noise_write_message(c->hs, NULL, 0, out, sizeof out, &olen) ||
            kith_chan_send_frame(&c->ch, out, olen))
          return rcl_fail(c, KITH_EPROTO);
        c->step = RCL_HS;
      }
      continue;
    }
    size_t used = 0, blen = 0;
    const uint8_t *body = NULL;
    if (kith_frame_feed(&c->ch.fr, in, len, &used) ||
        kith_frame_pop(&c->ch.fr, &body, &blen))
      return rcl_fail(c, KITH_EPROTO);
    in += used, len -= used;
    if (body && rcl_on_frame(c, body, blen) != 0)
      break;
  }
  return c->step == RCL_FAILED ? c->error : 0;
}

static size_t rcl_pending(void *s, const uint8_t **out)
{
  struct rcl *c = s;
  rcl_pump(c);
  if (c->step == RCL_PIPE && !c->raw_sent) {
    c->raw_sent = true;
    if (c->cfg.raw_out_len && kith_chan_out(&c->ch, c->cfg.raw_out, c->cfg.raw_out_len))
      rcl_fail(c, KITH_ENOMEM);
    if (c->raw_in_len >= c->cfg.raw_expect)
      c->step = RCL_DONE;
  }
  return kith_chan_pending(&c->ch, out);
}

static void rcl_consumed(void *s, size_t n)
{
  kith_chan_consumed(&((struct rcl *)s)->ch, n);
}

static int rcl_eof(void *s)
{
  struct rcl *c = s;
  if (c->step == RCL_DONE)
    return 0;
  return rcl_fail(c, KITH_ECLOSED);
}

static enum kith_session_state rcl_state(void *s)
{
  struct rcl *c = s;
  switch (c->step) {
  case RCL_DONE:
    return KITH_SESSION_DONE;
  case RCL_FAILED:
    return KITH_SESSION_FAILED;
  case RCL_READY:
  case RCL_PIPE:
    return KITH_SESSION_ESTABLISHED;
  default:
    return KITH_SESSION_RUNNING;
  }
}

static const struct kith_session_vt rcl_vt = {rcl_feed, rcl_pending, rcl_consumed,
                                              rcl_eof, rcl_state};

static void rcl_free(struct rcl *c)
{
  if (!c)
    return;
  for (size_t i = 0; c->cfg.keep_mail && i < c->nmails + (c->mail_on ? 1 : 0); i++)
    free(c->mails[i].data);
  free(c->mails);
  free(c->put_code);
  free(c->put_eid);
  free(c->page_eids);
  free(c->raw_in);
  kith_noise_hs_free(c->hs);
  kith_chan_clear(&c->ch);
  sodium_memzero(c->sk, sizeof c->sk);
  free(c);
}

/* A client ready to connect (its preamble pending), or NULL (no memory). */
static struct rcl *rcl_new(const struct rcl_config *cfg)
{
  struct rcl *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->cfg = *cfg;
  size_t np = cfg->puts ? cfg->puts : 1;
  c->put_code = malloc(np * sizeof *c->put_code);
  c->put_eid = calloc(np, sizeof *c->put_eid);
  c->mails = calloc(cfg->fetch && cfg->keep_mail ? RCL_MAILS_MAX : 1, sizeof *c->mails);
  c->page_eids = calloc(KITH_RMSG_DEL_MAX, sizeof *c->page_eids);
  c->raw_in = malloc(cfg->wait || cfg->join ? RCL_RAW_MAX : 1);
  if (!c->put_code || !c->put_eid || !c->mails || !c->page_eids || !c->raw_in ||
      kith_chan_init(&c->ch) != 0) {
    rcl_free(c);
    return NULL;
  }
  for (size_t i = 0; i < np; i++)
    c->put_code[i] = UINT32_MAX;
  c->after = cfg->fetch_after;
  if (cfg->sk) {
    memcpy(c->sk, cfg->sk, 32);
  } else {
    uint8_t pk[32];
    crypto_box_keypair(pk, c->sk);
  }
  struct kith_preamble pre = {KITH_PROTO_VERSION, KITH_PURPOSE_RELAY, 0};
  kith_preamble_encode(&pre, c->my_pre);
  if (kith_chan_out(&c->ch, c->my_pre, sizeof c->my_pre) != 0) {
    rcl_free(c);
    return NULL;
  }
  return c;
}

#endif
