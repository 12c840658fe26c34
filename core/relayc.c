#include "core/relayc.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/chan.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/noise.h"
#include "proto/relaymsg.h"

/* One session's steps. The fetch phase alternates S_FETCH (an R_FETCH page being
 * received) and S_DEL (an R_DEL waiting for its R_OK); a pipe goes S_JOIN (R_WAIT
 * or R_JOIN sent) to S_PIPED, where the relay part stops reading anything. */
enum step {
  S_PREAMBLE,
  S_HANDSHAKE,
  S_INFO,
  S_FETCH,
  S_DEL,
  S_PUTS,
  S_JOIN,
  S_PIPED,
  S_DONE,
  S_FAILED
};

struct inflight {
  uint32_t req;
  uint64_t tag;
};

struct kith_relayc {
  enum step step;
  int error;
  char why[256];
  const struct kith_relayc_ops *ops;
  void *arg;
  bool fetch;
  bool pipe; /* a rendezvous: R_WAIT or R_JOIN after the handshake */
  bool wait; /* pipe: R_WAIT (else R_JOIN) */
  uint8_t tag[KITH_RMSG_TAG_LEN];
  uint32_t page_bytes;
  uint32_t next_req;
  uint8_t sk[KITH_NOISE_KEY_LEN];
  bool pinned;
  uint8_t pin[KITH_RELAY_KEY_LEN];
  bool have_relay_pk;
  uint8_t relay_pk[KITH_RELAY_KEY_LEN];
  uint8_t my_pre[KITH_PREAMBLE_LEN];
  uint8_t prologue[KITH_PROLOGUE_LEN];
  size_t prologue_len;
  kith_noise_hs *hs;
  struct kith_relay_info info;
  uint64_t env_max; /* what this session receives: min(max_envelope, ours) */

  /* fetch */
  uint32_t req_fetch, req_del, req_join;
  uint64_t after;    /* the next R_FETCH's: the last eid handled (handed to
                        mail(), or too large and skipped for good) */
  uint64_t last_eid; /* the last R_MAIL's eid: they must grow */
  size_t page_mails; /* envelopes this page */
  bool page_dropped; /* some were dropped unread: fetch again whatever `more` says */
  bool more;         /* the page's R_OK said more */
  uint64_t *taken;   /* eids mail() took this page */
  size_t ntaken, taken_cap, del_off, del_n;
  bool receiving; /* an R_MAIL's bytes are arriving */
  bool dropping;  /* ... and are dropped (too large, or past the page's cap) */
  uint64_t mail_eid, mail_size, mail_have;
  uint8_t mail_box[KITH_BOX_LEN];
  uint8_t *env; /* the envelope being received */
  size_t env_cap;

  /* deposits */
  struct inflight puts[KITH_RELAYC_PUTS_INFLIGHT];
  size_t nputs;
  bool puts_over; /* next_put said 0 */
  bool streaming; /* cur's bytes are going out */
  struct kith_relayc_put cur;
  uint32_t cur_req;
  size_t cur_off;
  bool cur_answered; /* the relay refused cur before its last byte */
  uint32_t cur_code;
  char cur_text[KITH_RMSG_TEXT_MAX + 1];

  struct kith_relayc_stats stats;
  struct kith_chan ch; /* last: it is large */
};

struct kith_relayc_pipe {
  kith_relayc *c;
  const struct kith_session_vt *vt;
  void *inner;
};

static const char *const MALFORMED = "the relay sent a malformed message";

static int fail(kith_relayc *c, int err, const char *fmt, ...)
{
  va_list ap;
  if (c->step == S_FAILED)
    return c->error;
  c->step = S_FAILED;
  c->error = err;
  va_start(ap, fmt);
  vsnprintf(c->why, sizeof c->why, fmt, ap);
  va_end(ap);
  return err;
}

static int malformed(kith_relayc *c)
{
  return fail(c, KITH_EPROTO, "%s", MALFORMED);
}

static bool ended(const kith_relayc *c)
{
  return c->step == S_DONE || c->step == S_FAILED || c->step == S_PIPED;
}

static int send_rmsg(kith_relayc *c, const struct kith_rmsg *m)
{
  size_t len = 0;
  /* ch.pt held the last message read; nothing borrows it by the time we send */
  int rc = kith_rmsg_encode(m, c->ch.pt, KITH_NOISE_MAX_PAYLOAD, &len);
  if (rc == 0)
    rc = kith_chan_send_plain(&c->ch, c->ch.pt, len);
  sodium_memzero(c->ch.pt, len);
  return rc ? fail(c, rc, "cannot send to the relay: %s", kith_strerror(rc)) : 0;
}

static uint32_t new_req(kith_relayc *c)
{
  if (++c->next_req == 0)
    c->next_req = 1;
  return c->next_req;
}

static int send_fetch(kith_relayc *c)
{
  struct kith_rmsg m = {.type = KITH_RMSG_FETCH};
  m.req = c->req_fetch = new_req(c);
  m.after = c->last_eid = c->after; /* a page's eids grow from after up */
  m.max_bytes = c->page_bytes;
  c->page_mails = 0;
  c->page_dropped = false;
  c->more = false;
  c->step = S_FETCH;
  return send_rmsg(c, &m);
}

/* The next R_DEL of this page's taken eids, at most KITH_RMSG_DEL_MAX of them. */
static int send_del(kith_relayc *c)
{
  struct kith_rmsg m = {.type = KITH_RMSG_DEL};
  c->del_n = c->ntaken - c->del_off;
  if (c->del_n > KITH_RMSG_DEL_MAX)
    c->del_n = KITH_RMSG_DEL_MAX;
  m.req = c->req_del = new_req(c);
  m.eids = c->taken + c->del_off;
  m.neids = c->del_n;
  c->step = S_DEL;
  return send_rmsg(c, &m);
}

static void start_puts(kith_relayc *c)
{
  c->step = S_PUTS;
  if (!c->ops->next_put)
    c->puts_over = true;
}

/* After a page's R_OK, or an R_DEL's: delete what is left to delete, else the next
 * page, else the deposits. */
static int fetch_next(kith_relayc *c)
{
  if (c->del_off < c->ntaken)
    return send_del(c);
  c->ntaken = c->del_off = 0;
  if (c->more || c->page_dropped)
    return send_fetch(c);
  start_puts(c);
  return 0;
}

static int page_end(kith_relayc *c, uint64_t more)
{
  if (c->receiving || more > 1)
    return malformed(c);
  if (more && c->page_mails == 0)
    return fail(c, KITH_EPROTO, "the relay said more mail waits but sent none");
  c->more = more == 1;
  if (c->ntaken) {
    int rc = c->ops->commit ? c->ops->commit(c->arg) : 0;
    if (rc)
      return fail(c, rc < 0 ? rc : KITH_EIO, "could not keep the fetched mail: %s",
                  kith_strerror(rc < 0 ? rc : KITH_EIO));
  }
  c->del_off = 0;
  return fetch_next(c);
}

/* The whole envelope is in: hand it to mail(). */
static int mail_end(kith_relayc *c)
{
  c->receiving = false;
  if (c->dropping)
    return 0;
  c->after = c->mail_eid;
  c->stats.mails++;
  c->stats.bytes_in += c->mail_size;
  static const uint8_t none[1];
  int rc = c->ops->mail(c->arg, c->mail_eid, c->mail_box, c->env ? c->env : none,
                        c->mail_size);
  if (rc < 0)
    return fail(c, rc, "could not take the fetched mail: %s", kith_strerror(rc));
  if (rc == 0) {
    if (c->ntaken == c->taken_cap) {
      size_t cap = c->taken_cap ? c->taken_cap * 2 : 64;
      uint64_t *t = realloc(c->taken, cap * sizeof *t);
      if (!t)
        return fail(c, KITH_ENOMEM, "out of memory");
      c->taken = t, c->taken_cap = cap;
    }
    c->taken[c->ntaken++] = c->mail_eid;
  }
  return 0;
}

static int mail_start(kith_relayc *c, const struct kith_rmsg *m)
{
  if (c->receiving || m->eid <= c->last_eid)
    return malformed(c);
  c->last_eid = m->eid;
  c->page_mails++;
  c->receiving = true;
  c->mail_eid = m->eid;
  c->mail_size = m->size;
  c->mail_have = 0;
  memcpy(c->mail_box, m->box, KITH_BOX_LEN);
  /* Past the page's cap: dropped now and fetched again (after stays before it).
   * Too large (for this client, or for the relay's max_envelope, which may have
   * gone down since it was deposited): it stays at the relay, after moves past. */
  c->dropping = true;
  if (c->ntaken == KITH_RELAYC_PAGE_MAILS_MAX || c->page_dropped)
    c->page_dropped = true;
  else if (m->size > c->env_max)
    c->after = m->eid;
  else
    c->dropping = false;
  if (!c->dropping && m->size > c->env_cap) {
    uint8_t *e = malloc(m->size);
    if (!e)
      return fail(c, KITH_ENOMEM, "out of memory for an envelope");
    if (c->env)
      sodium_memzero(c->env, c->env_cap);
    free(c->env);
    c->env = e, c->env_cap = m->size;
  }
  return m->size == 0 ? mail_end(c) : 0;
}

static int on_data(kith_relayc *c, const struct kith_rmsg *m)
{
  if (m->chunk_len == 0)
    return 0; /* a keepalive */
  if (!c->receiving || m->chunk_len > c->mail_size - c->mail_have)
    return malformed(c);
  if (!c->dropping)
    memcpy(c->env + c->mail_have, m->chunk, m->chunk_len);
  c->mail_have += m->chunk_len;
  return c->mail_have == c->mail_size ? mail_end(c) : 0;
}

static void put_answer(kith_relayc *c, uint64_t tag, int rc, uint32_t code,
                       const char *text)
{
  if (rc == 0)
    c->stats.puts_ok++;
  else
    c->stats.puts_refused++;
  c->ops->put_done(c->arg, tag, rc, code, text);
}

/* The answer to put req: deliver it (or keep it until cur's last byte is out).
 * 1 if no put has that req. */
static int put_result(kith_relayc *c, const struct kith_rmsg *m)
{
  size_t i = 0;
  while (i < c->nputs && c->puts[i].req != m->req)
    i++;
  if (i == c->nputs)
    return 1;
  bool ok = m->type == KITH_RMSG_OK;
  if (c->streaming && c->cur_req == m->req) {
    if (ok || c->cur_answered)
      return malformed(c); /* durable before all its bytes came? */
    c->cur_answered = true;
    c->cur_code = m->code;
    snprintf(c->cur_text, sizeof c->cur_text, "%s", m->text);
    return 0;
  }
  uint64_t tag = c->puts[i].tag;
  c->puts[i] = c->puts[--c->nputs];
  put_answer(c, tag, ok ? 0 : KITH_EREFUSED, ok ? 0 : m->code, ok ? "" : m->text);
  return 0;
}

static int on_ok(kith_relayc *c, const struct kith_rmsg *m)
{
  if (c->step == S_FETCH && m->req == c->req_fetch)
    return page_end(c, m->value);
  if (c->step == S_DEL && m->req == c->req_del) {
    if (m->value > c->del_n)
      return malformed(c);
    c->stats.deleted += m->value;
    c->del_off += c->del_n;
    return fetch_next(c);
  }
  if (c->step == S_JOIN && m->req == c->req_join) {
    c->step = S_PIPED;
    return 0;
  }
  if (c->step == S_PUTS) {
    int rc = put_result(c, m);
    if (rc <= 0)
      return rc;
  }
  return malformed(c);
}

static int on_err(kith_relayc *c, const struct kith_rmsg *m)
{
  const char *what = "the relay refused";
  int rc = c->step == S_PUTS ? put_result(c, m) : 1;
  if (rc <= 0)
    return rc;
  if (c->step == S_JOIN && m->req == c->req_join) {
    if (m->code == KITH_RERR_NO_RENDEZVOUS && !c->wait)
      return fail(c, KITH_ENOTFOUND, "no one is waiting with this code at the relay");
    if (m->code == KITH_RERR_NO_RENDEZVOUS) /* the wait ran out, or was replaced */
      return fail(c, KITH_ETIMEDOUT, "%s",
                  "no one came with this code while the relay waited");
    what = c->wait ? "the relay refused to wait" : "the relay refused to join";
  } else if (c->step == S_FETCH && m->req == c->req_fetch) {
    what = "the relay refused to fetch";
  } else if (c->step == S_DEL && m->req == c->req_del) {
    what = "the relay refused to delete";
  }
  return fail(c, KITH_EREFUSED, "%s: %s", what, kith_rmsg_err_text(m->code));
}

static int on_info(kith_relayc *c, const struct kith_rmsg *m)
{
  if (c->step == S_JOIN)
    return 0; /* a rendezvous has no use for it */
  if (c->step != S_INFO)
    return malformed(c);
  c->info.version = m->version;
  c->info.max_envelope =
      m->max_envelope > UINT32_MAX ? UINT32_MAX : (uint32_t)m->max_envelope;
  c->info.ttl_s = m->ttl_s > UINT32_MAX ? UINT32_MAX : (uint32_t)m->ttl_s;
  c->info.flags = m->flags;
  c->env_max = c->info.max_envelope < KITH_RELAYC_ENVELOPE_MAX
                   ? c->info.max_envelope
                   : KITH_RELAYC_ENVELOPE_MAX;
  if (c->ops->info)
    c->ops->info(c->arg, &c->info);
  if (c->fetch)
    return send_fetch(c);
  start_puts(c);
  return 0;
}

static int on_message(kith_relayc *c, const struct kith_msg *km)
{
  struct kith_rmsg m;
  if (km->type == KITH_MSG_REFUSE)
    return fail(c, KITH_EREFUSED, "the relay refused: %s",
                kith_refuse_text(km->u.refuse.code));
  if (km->type == KITH_MSG_BYE)
    return fail(c, KITH_ECLOSED, "the relay ended the session before it was over");
  /* Only what a relay sends: an R_DEL would need room for its eids, and a client's
   * message coming back is as wrong as garbage. */
  switch (km->type) {
  case KITH_RMSG_INFO:
  case KITH_RMSG_DATA:
  case KITH_RMSG_OK:
  case KITH_RMSG_ERR:
  case KITH_RMSG_MAIL:
    break;
  default:
    return malformed(c);
  }
  memset(&m, 0, sizeof m);
  if (kith_rmsg_decode(km, &m) != 0)
    return malformed(c);
  switch (m.type) {
  case KITH_RMSG_INFO:
    return on_info(c, &m);
  case KITH_RMSG_DATA:
    return on_data(c, &m);
  case KITH_RMSG_OK:
    return on_ok(c, &m);
  case KITH_RMSG_ERR:
    return on_err(c, &m);
  case KITH_RMSG_MAIL:
    return c->step == S_FETCH ? mail_start(c, &m) : malformed(c);
  default:
    return malformed(c);
  }
}

static int finish_handshake(kith_relayc *c)
{
  int rc = kith_noise_split(c->hs, &c->ch.tx, &c->ch.rx);
  kith_noise_hs_free(c->hs);
  c->hs = NULL;
  if (rc == 0)
    rc = kith_frame_set_max(&c->ch.fr, KITH_FRAME_MAX);
  if (rc)
    return fail(c, rc, "relay handshake: %s", kith_strerror(rc));
  if (!c->pipe) {
    c->step = S_INFO;
    return 0;
  }
  struct kith_rmsg m = {.type = c->wait ? KITH_RMSG_WAIT : KITH_RMSG_JOIN};
  m.req = c->req_join = new_req(c);
  memcpy(m.tag, c->tag, sizeof m.tag);
  c->step = S_JOIN;
  return send_rmsg(c, &m);
}

/* XX message 2 (e, ee, s, es) shows the relay's key; message 3 (s, se) shows ours,
 * only once the relay's key is the one pinned, if any. */
static int on_handshake(kith_relayc *c, const uint8_t *msg, size_t len)
{
  uint8_t payload[KITH_FRAME_MAX_HANDSHAKE], out[256];
  size_t plen = 0, olen = 0;
  int rc = kith_noise_read_message(c->hs, msg, len, payload, sizeof payload, &plen);
  if (rc == 0)
    rc = kith_noise_remote_static(c->hs, c->relay_pk);
  if (rc)
    return fail(c, KITH_EPROTO, "the relay's handshake failed: %s", kith_strerror(rc));
  if (plen)
    return malformed(c);
  if (c->pinned && sodium_memcmp(c->pin, c->relay_pk, KITH_RELAY_KEY_LEN) != 0)
    return fail(c, KITH_EPROTO, "the relay's key is not the one expected");
  c->have_relay_pk = true;
  rc = kith_noise_write_message(c->hs, NULL, 0, out, sizeof out, &olen);
  if (rc == 0)
    rc = kith_chan_send_frame(&c->ch, out, olen);
  if (rc)
    return fail(c, rc, "relay handshake: %s", kith_strerror(rc));
  return finish_handshake(c);
}

static int on_preamble(kith_relayc *c)
{
  struct kith_preamble in, sent;
  uint8_t out[256];
  size_t olen = 0;
  int rc = kith_preamble_decode(c->ch.pre_in, &in);
  if (rc == KITH_ENOTKITH)
    return fail(c, KITH_ENOTKITH, "the server is not a kith relay");
  if (rc == 0 && kith_preamble_decode(c->my_pre, &sent) == 0)
    rc = kith_preamble_check_answer(&sent, &in);
  if (rc)
    return fail(c, rc, "the relay: %s", kith_strerror(rc));
  kith_prologue(c->my_pre, c->ch.pre_in, c->prologue, &c->prologue_len);
  struct kith_noise_config cfg = {.protocol = KITH_RELAYC_NOISE,
                                  .role = KITH_NOISE_INITIATOR,
                                  .prologue = c->prologue,
                                  .prologue_len = c->prologue_len,
                                  .local_static = c->sk};
  rc = kith_noise_hs_new(&cfg, &c->hs);
  if (rc == 0)
    rc = kith_noise_write_message(c->hs, NULL, 0, out, sizeof out, &olen);
  if (rc == 0)
    rc = kith_chan_send_frame(&c->ch, out, olen);
  if (rc)
    return fail(c, rc, "relay handshake: %s", kith_strerror(rc));
  c->step = S_HANDSHAKE;
  return 0;
}

static int on_frame(kith_relayc *c, const uint8_t *body, size_t len)
{
  struct kith_msg m;
  if (c->step == S_HANDSHAKE)
    return on_handshake(c, body, len);
  int rc = kith_chan_open(&c->ch, body, len, &m);
  if (rc == KITH_EPROTO)
    return fail(c, KITH_EPROTO, "a message from the relay failed its check");
  if (rc == KITH_EVERSION)
    return fail(c, KITH_EVERSION, "the relay speaks an incompatible version");
  if (rc)
    return malformed(c);
  return on_message(c, &m);
}

/* Feeds in until it is all consumed or the relay part ends (done, failed or, for a
 * pipe, joined: the bytes after the R_OK are the other side's). Returns how many
 * bytes it took. */
static size_t relay_feed(kith_relayc *c, const uint8_t *in, size_t len)
{
  size_t off = 0;
  while (off < len && !ended(c)) {
    if (c->ch.pre_have < KITH_PREAMBLE_LEN) {
      size_t take = KITH_PREAMBLE_LEN - c->ch.pre_have;
      if (take > len - off)
        take = len - off;
      memcpy(c->ch.pre_in + c->ch.pre_have, in + off, take);
      c->ch.pre_have += take, off += take;
      if (c->ch.pre_have == KITH_PREAMBLE_LEN)
        (void)on_preamble(c);
      continue;
    }
    size_t used = 0, blen = 0;
    const uint8_t *body = NULL;
    int rc = kith_frame_feed(&c->ch.fr, in + off, len - off, &used);
    off += used;
    if (rc || kith_frame_pop(&c->ch.fr, &body, &blen) != 0) {
      (void)fail(c, KITH_EPROTO, "the relay sent a malformed frame");
      break;
    }
    if (body)
      (void)on_frame(c, body, blen);
    else if (used == 0)
      break; /* took nothing and popped nothing: never spin */
  }
  return off;
}

/* What a put of this relay's could never be: refused here, never sent. */
static bool put_refused_here(kith_relayc *c, const struct kith_relayc_put *p)
{
  if (p->len == 0) {
    put_answer(c, p->tag, KITH_EREFUSED, KITH_RERR_MALFORMED, "an empty envelope");
    return true;
  }
  if (p->len > c->info.max_envelope) {
    put_answer(c, p->tag, KITH_EREFUSED, KITH_RERR_TOO_BIG,
               "larger than the relay's max_envelope");
    return true;
  }
  return false;
}

static int put_start(kith_relayc *c)
{
  struct kith_relayc_put p;
  memset(&p, 0, sizeof p);
  int rc = c->ops->next_put(c->arg, &p);
  if (rc < 0)
    return fail(c, rc, "could not get the next deposit: %s", kith_strerror(rc));
  if (rc == 0) {
    c->puts_over = true;
    return 0;
  }
  if (!p.env && p.len)
    return fail(c, KITH_EINVAL, "a deposit without its bytes");
  if (put_refused_here(c, &p))
    return 0;
  struct kith_rmsg m = {.type = KITH_RMSG_PUT};
  m.req = c->cur_req = new_req(c);
  memcpy(m.owner, p.owner, KITH_RELAY_KEY_LEN);
  memcpy(m.box, p.box, KITH_BOX_LEN);
  m.size = p.len;
  c->cur = p;
  c->cur_off = 0;
  c->cur_answered = false;
  c->streaming = true;
  c->puts[c->nputs++] = (struct inflight){c->cur_req, p.tag};
  return send_rmsg(c, &m);
}

static int put_chunk(kith_relayc *c)
{
  struct kith_rmsg m = {.type = KITH_RMSG_DATA};
  size_t n = c->cur.len - c->cur_off;
  if (n > KITH_RMSG_CHUNK_MAX)
    n = KITH_RMSG_CHUNK_MAX;
  m.chunk = c->cur.env + c->cur_off;
  m.chunk_len = n;
  int rc = send_rmsg(c, &m);
  if (rc)
    return rc;
  c->cur_off += n;
  c->stats.bytes_out += n;
  if (c->cur_off < c->cur.len)
    return 0;
  c->streaming = false;
  if (c->cur_answered) { /* refused while it streamed: the answer is due now */
    size_t i = 0;
    while (c->puts[i].req != c->cur_req)
      i++;
    c->puts[i] = c->puts[--c->nputs];
    put_answer(c, c->cur.tag, KITH_EREFUSED, c->cur_code, c->cur_text);
  }
  return 0;
}

/* Fills the output with deposits while there is room (the transport asks again as
 * the socket drains), and ends the session once every put is answered. */
static void pump(kith_relayc *c)
{
  while (c->step == S_PUTS && c->ch.out_len < KITH_CHAN_OUT_MAX / 2) {
    if (c->streaming) {
      if (put_chunk(c) != 0)
        return;
    } else if (!c->puts_over && c->nputs < KITH_RELAYC_PUTS_INFLIGHT) {
      if (put_start(c) != 0)
        return;
    } else {
      break;
    }
  }
  if (c->step == S_PUTS && c->puts_over && c->nputs == 0 && !c->streaming) {
    struct kith_msg m = {.type = KITH_MSG_BYE};
    int rc = kith_chan_send_msg(&c->ch, &m);
    if (rc)
      (void)fail(c, rc, "cannot send to the relay: %s", kith_strerror(rc));
    else
      c->step = S_DONE;
  }
}

/* ---- the kith_relayc session ------------------------------------------------- */

static int rc_feed(void *s, const uint8_t *in, size_t len)
{
  kith_relayc *c = s;
  (void)relay_feed(c, in, len);
  pump(c);
  return c->step == S_FAILED ? c->error : 0;
}

static size_t rc_pending(void *s, const uint8_t **out)
{
  kith_relayc *c = s;
  pump(c);
  return kith_chan_pending(&c->ch, out);
}

static void rc_consumed(void *s, size_t n)
{
  kith_chan_consumed(&((kith_relayc *)s)->ch, n);
}

static int relay_eof(kith_relayc *c)
{
  switch (c->step) {
  case S_DONE:
  case S_PIPED:
    return 0;
  case S_FAILED:
    return c->error;
  case S_PREAMBLE:
  case S_HANDSHAKE:
    return fail(c, KITH_ECLOSED,
                "the relay closed the connection during the handshake: not a kith "
                "relay, or not the one expected");
  case S_JOIN:
    return fail(c, KITH_ECLOSED,
                "the relay closed the connection before the other "
                "side came");
  default:
    return fail(c, KITH_ECLOSED, "the relay closed the connection before the end");
  }
}

static int rc_eof(void *s)
{
  return relay_eof(s);
}

static enum kith_session_state relay_state(const kith_relayc *c)
{
  switch (c->step) {
  case S_PREAMBLE:
  case S_HANDSHAKE:
    return KITH_SESSION_RUNNING;
  case S_DONE:
    return KITH_SESSION_DONE;
  case S_FAILED:
    return KITH_SESSION_FAILED;
  default:
    return KITH_SESSION_ESTABLISHED;
  }
}

static enum kith_session_state rc_state(void *s)
{
  return relay_state(s);
}

const struct kith_session_vt kith_relayc_vt = {.feed = rc_feed,
                                               .pending = rc_pending,
                                               .consumed = rc_consumed,
                                               .eof = rc_eof,
                                               .state = rc_state};

/* A session with its preamble pending, keyed by sk (NULL: a fresh key). */
static int relay_new(const uint8_t *sk, const uint8_t *pin, kith_relayc **out)
{
  kith_relayc *c = calloc(1, sizeof *c);
  uint8_t pk[KITH_NOISE_KEY_LEN];
  if (!c)
    return KITH_ENOMEM;
  int rc = kith_chan_init(&c->ch);
  if (sk)
    memcpy(c->sk, sk, sizeof c->sk);
  else
    crypto_box_keypair(pk, c->sk);
  if (pin) {
    c->pinned = true;
    memcpy(c->pin, pin, sizeof c->pin);
  }
  /* A key Noise would refuse later is refused now (its public key cannot be
   * made, or a pinned key of low order). */
  if (rc == 0 && crypto_scalarmult_base(pk, c->sk) != 0)
    rc = KITH_EINVAL;
  if (rc == 0 && pin && crypto_scalarmult(pk, c->sk, pin) != 0)
    rc = KITH_EINVAL;
  sodium_memzero(pk, sizeof pk);
  struct kith_preamble pre = {KITH_PROTO_VERSION, KITH_PURPOSE_RELAY, 0};
  kith_preamble_encode(&pre, c->my_pre);
  if (rc == 0)
    rc = kith_chan_out(&c->ch, c->my_pre, sizeof c->my_pre);
  if (rc) {
    kith_relayc_free(c);
    return rc;
  }
  c->step = S_PREAMBLE;
  *out = c;
  return 0;
}

int kith_relayc_new(const struct kith_relayc_config *cfg, kith_relayc **out)
{
  kith_relayc *c = NULL;
  if (!cfg || !out || !cfg->ops)
    return KITH_EINVAL;
  if (cfg->fetch && (!cfg->static_sk || !cfg->ops->mail))
    return KITH_EINVAL;
  if (cfg->ops->next_put && !cfg->ops->put_done)
    return KITH_EINVAL;
  int rc = relay_new(cfg->static_sk, cfg->relay_pk, &c);
  if (rc)
    return rc;
  c->ops = cfg->ops;
  c->arg = cfg->arg;
  c->fetch = cfg->fetch;
  c->page_bytes =
      cfg->fetch_page_bytes ? cfg->fetch_page_bytes : KITH_RELAYC_PAGE_DEFAULT;
  *out = c;
  return 0;
}

void kith_relayc_free(kith_relayc *c)
{
  if (!c)
    return;
  kith_noise_hs_free(c->hs);
  kith_chan_clear(&c->ch);
  if (c->env)
    sodium_memzero(c->env, c->env_cap);
  free(c->env);
  free(c->taken);
  sodium_memzero(c, sizeof *c);
  free(c);
}

const char *kith_relayc_why(const kith_relayc *c)
{
  return c->why;
}

int kith_relayc_error(const kith_relayc *c)
{
  return c->error;
}

int kith_relayc_relay_key(const kith_relayc *c, uint8_t out[static KITH_RELAY_KEY_LEN])
{
  if (!c->have_relay_pk)
    return KITH_EINVAL;
  memcpy(out, c->relay_pk, KITH_RELAY_KEY_LEN);
  return 0;
}

const struct kith_relayc_stats *kith_relayc_stats(const kith_relayc *c)
{
  return &c->stats;
}

/* ---- the rendezvous pipe ------------------------------------------------------- */

static const struct kith_relayc_ops no_ops = {0};

static int pipe_feed(void *s, const uint8_t *in, size_t len)
{
  kith_relayc_pipe *p = s;
  if (p->c->step != S_PIPED) {
    size_t used = relay_feed(p->c, in, len);
    if (p->c->step == S_FAILED)
      return p->c->error;
    in += used, len -= used;
    if (p->c->step != S_PIPED || len == 0)
      return 0;
  }
  return p->vt->feed(p->inner, in, len);
}

/* The relay part's own bytes (the handshake, R_WAIT/R_JOIN) go first; once they are
 * gone and the relay joined us, the inner session's. Nothing is added to the relay
 * part's output after the join, so consumed() goes where pending() looked. */
static size_t pipe_pending(void *s, const uint8_t **out)
{
  kith_relayc_pipe *p = s;
  size_t n = kith_chan_pending(&p->c->ch, out);
  if (n || p->c->step != S_PIPED)
    return n;
  return p->vt->pending(p->inner, out);
}

static void pipe_consumed(void *s, size_t n)
{
  kith_relayc_pipe *p = s;
  if (p->c->ch.out_len || p->c->step != S_PIPED)
    kith_chan_consumed(&p->c->ch, n);
  else
    p->vt->consumed(p->inner, n);
}

static int pipe_eof(void *s)
{
  kith_relayc_pipe *p = s;
  if (p->c->step == S_PIPED)
    return p->vt->eof(p->inner);
  return relay_eof(p->c);
}

static enum kith_session_state pipe_state(void *s)
{
  kith_relayc_pipe *p = s;
  if (p->c->step != S_PIPED)
    return relay_state(p->c);
  enum kith_session_state st = p->vt->state(p->inner);
  return st == KITH_SESSION_RUNNING ? KITH_SESSION_ESTABLISHED : st;
}

const struct kith_session_vt kith_relayc_pipe_vt = {.feed = pipe_feed,
                                                    .pending = pipe_pending,
                                                    .consumed = pipe_consumed,
                                                    .eof = pipe_eof,
                                                    .state = pipe_state};

int kith_relayc_pipe_new(const uint8_t tag[16], bool wait,
                         const struct kith_session_vt *inner_vt, void *inner,
                         kith_relayc_pipe **out)
{
  kith_relayc_pipe *p = NULL;
  if (!tag || !inner_vt || !inner || !out)
    return KITH_EINVAL;
  p = calloc(1, sizeof *p);
  if (!p)
    return KITH_ENOMEM;
  int rc = relay_new(NULL, NULL, &p->c);
  if (rc) {
    free(p);
    return rc;
  }
  p->c->ops = &no_ops;
  p->c->pipe = true;
  p->c->wait = wait;
  memcpy(p->c->tag, tag, KITH_RMSG_TAG_LEN);
  p->vt = inner_vt;
  p->inner = inner;
  *out = p;
  return 0;
}

void kith_relayc_pipe_free(kith_relayc_pipe *p)
{
  if (!p)
    return;
  kith_relayc_free(p->c);
  free(p);
}

const char *kith_relayc_pipe_why(const kith_relayc_pipe *p)
{
  return p->c->why;
}

int kith_relayc_pipe_error(const kith_relayc_pipe *p)
{
  return p->c->error;
}

bool kith_relayc_pipe_joined(const kith_relayc_pipe *p)
{
  return p->c->step == S_PIPED;
}
