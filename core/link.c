#include "core/link.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/chan.h"
#include "core/json.h"
#include "core/sync.h"
#include "proto/noise.h"

enum role { DIAL, ACCEPT };
enum step { S_PREAMBLE, S_HANDSHAKE, S_WAIT_BYE, S_SYNC, S_DONE, S_FAILED };

struct kith_link {
  enum role role;
  enum step step;
  kith_store *st;
  uint64_t (*now)(void);           /* for the sync protocol to come */
  uint8_t xsk[KITH_NOISE_KEY_LEN]; /* my Noise static key: X25519 form of my sk */
  uint8_t xpk_remote[KITH_NOISE_KEY_LEN]; /* dialer: the X25519 key it dials */
  uint8_t my_pre[KITH_PREAMBLE_LEN];
  uint8_t prologue[KITH_PROLOGUE_LEN];
  size_t prologue_len;
  kith_noise_hs *hs;
  bool want_sync; /* dialer: sync (else a ping: BYE at once) */
  kith_sync *sy;  /* the sync session, once it started */
  struct kith_link_result res;
  uint8_t msg[KITH_NOISE_MAX_PAYLOAD]; /* one sync message out */
  struct kith_chan ch;                 /* last: it is large */
};

static int fail(kith_link *l, int err, const char *fmt, ...)
{
  va_list ap;
  if (l->step == S_FAILED)
    return err;
  l->step = S_FAILED;
  l->res.error = err;
  va_start(ap, fmt);
  vsnprintf(l->res.why, sizeof l->res.why, fmt, ap);
  va_end(ap);
  return err;
}

static int out_append(kith_link *l, const uint8_t *b, size_t n)
{
  int rc = kith_chan_out(&l->ch, b, n);
  return rc ? fail(l, rc, "too much to send") : 0;
}

static int send_frame(kith_link *l, const uint8_t *body, size_t len)
{
  int rc = kith_chan_send_frame(&l->ch, body, len);
  return rc ? fail(l, rc, "cannot send: %s", kith_strerror(rc)) : 0;
}

static int send_msg(kith_link *l, const struct kith_msg *m)
{
  int rc = kith_chan_send_msg(&l->ch, m);
  return rc ? fail(l, rc, "cannot send: %s", kith_strerror(rc)) : 0;
}

/* Why this side refused, as its own user reads it (kith_refuse_text speaks to the
 * side that receives the REFUSE). */
static const char *refusing_text(uint32_t code)
{
  switch (code) {
  case KITH_REFUSE_UNTRUSTED:
    return "refused a device this one does not trust";
  case KITH_REFUSE_REVOKED:
    return "refused a revoked device";
  case KITH_REFUSE_VERSION:
    return "refused a message of an incompatible version";
  default:
    return "refused after a protocol error";
  }
}

/* Sends REFUSE code (if the channel is up) and fails with err. */
static int send_refuse(kith_link *l, uint32_t code, int err)
{
  struct kith_msg m = {.type = KITH_MSG_REFUSE};
  m.u.refuse.code = code;
  snprintf(m.u.refuse.text, sizeof m.u.refuse.text, "%s", kith_refuse_text(code));
  int rc = l->ch.tx ? send_msg(l, &m) : 0;
  l->res.refused = code;
  return rc ? rc : fail(l, err, "%s", refusing_text(code));
}

static int send_bye(kith_link *l)
{
  struct kith_msg m = {.type = KITH_MSG_BYE};
  return send_msg(l, &m);
}

/* Fills the result's view of the other device from its Ed25519 key: what it is to
 * this store and, if known, its record and name. */
static int judge(kith_link *l, kith_txn *txn, const uint8_t ed[KITH_ED25519_PK_LEN])
{
  struct kith_record *rec = NULL;
  int rc = kith_trust_check(txn, ed, &l->res.trust);
  memcpy(l->res.remote_pk, ed, KITH_ED25519_PK_LEN);
  l->res.remote_known = true;
  if (rc || l->res.trust == KITH_TRUST_NONE)
    return rc;
  int kind = l->res.trust == KITH_TRUST_PEER ? KITH_KIND_PEER : KITH_KIND_DEVICE;
  rc = kith_key_owner(txn, kind, ed, l->res.remote_id);
  if (rc == KITH_ENOTFOUND) /* trusted through a roster whose peer is not here yet */
    return 0;
  if (rc == 0)
    rc = kith_record_load(txn, l->res.remote_id, &rec);
  if (rc == 0) {
    const char *s = kith_record_text(rec, kind == KITH_KIND_PEER ? KITH_F_PEER_NAME
                                                                 : KITH_F_DEVICE_LABEL);
    snprintf(l->res.remote_name, sizeof l->res.remote_name, "%s", s ? s : "");
  }
  kith_record_free(rec);
  return rc;
}

/* A sync failure: the other side is told why (REFUSE 8 with the reason). */
static int sync_failed(kith_link *l, int rc)
{
  struct kith_msg m = {.type = KITH_MSG_REFUSE};
  const char *why = kith_sync_why(l->sy);
  m.u.refuse.code = KITH_REFUSE_PROTOCOL;
  kith_refuse_set_text(&m, why[0] ? why : kith_strerror(rc));
  if (l->ch.tx)
    (void)send_msg(l, &m);
  l->res.refused = KITH_REFUSE_PROTOCOL;
  return fail(l, rc, "sync: %s", why[0] ? why : kith_strerror(rc));
}

static int start_sync(kith_link *l)
{
  int rc = kith_sync_new(l->st, l->res.remote_pk, l->role == DIAL, l->now, &l->sy);
  if (rc)
    return fail(l, rc, "cannot start the sync: %s", kith_strerror(rc));
  l->step = S_SYNC;
  if (l->role == DIAL && (rc = kith_sync_start(l->sy)) != 0)
    return sync_failed(l, rc);
  return 0;
}

static int on_message(kith_link *l, const struct kith_msg *m)
{
  if (m->type >= KITH_MSG_SYNC_FIRST &&
      (l->step == S_SYNC || (l->step == S_WAIT_BYE && l->role == ACCEPT && !l->sy))) {
    int rc = l->sy ? 0 : start_sync(l);
    if (rc == 0 && (rc = kith_sync_recv(l->sy, m)) != 0)
      return sync_failed(l, rc);
    return rc;
  }
  if (l->step == S_SYNC && m->type == KITH_MSG_BYE && l->role == ACCEPT) {
    if (!kith_sync_over(l->sy))
      return fail(l, KITH_ECLOSED, "the other side ended the sync before it finished");
    int rc = send_bye(l);
    if (rc == 0)
      l->step = S_DONE;
    return rc;
  }
  if (m->type == KITH_MSG_REFUSE) {
    l->res.refused = m->u.refuse.code;
    snprintf(l->res.refused_text, sizeof l->res.refused_text, "%s", m->u.refuse.text);
    return fail(l, KITH_EREFUSED, "the other side refused this device: %s",
                kith_refuse_text(m->u.refuse.code));
  }
  if (l->step == S_WAIT_BYE && m->type == KITH_MSG_BYE) {
    if (l->role == ACCEPT) {
      int rc = send_bye(l);
      if (rc)
        return rc;
    }
    l->step = S_DONE;
    return 0;
  }
  return send_refuse(l, KITH_REFUSE_PROTOCOL, KITH_EPROTO);
}

static int finish_handshake(kith_link *l)
{
  int rc = kith_noise_split(l->hs, &l->ch.tx, &l->ch.rx);
  kith_noise_hs_free(l->hs);
  l->hs = NULL;
  if (rc == 0)
    rc = kith_frame_set_max(&l->ch.fr, KITH_FRAME_MAX);
  if (rc)
    return fail(l, rc, "handshake: %s", kith_strerror(rc));
  l->res.established = true;
  l->step = S_WAIT_BYE;
  return 0;
}

/* Acceptor: message 1 names the dialer; message 2 goes back whoever it is, then
 * the trust check decides between waiting for BYE and a refusal. */
static int accept_hello(kith_link *l, const uint8_t *msg, size_t len)
{
  uint8_t payload[KITH_FRAME_MAX_HANDSHAKE], out[256], x[KITH_NOISE_KEY_LEN],
      ed[KITH_ED25519_PK_LEN];
  size_t plen, olen;
  kith_txn *txn = NULL;
  int rc = kith_noise_read_message(l->hs, msg, len, payload, sizeof payload, &plen);
  if (rc == 0)
    rc = kith_noise_remote_static(l->hs, x);
  if (rc) /* not made for my key, or tampered: nothing to answer */
    return fail(l, KITH_EPROTO, "handshake failed: not addressed to this device");
  rc = kith_txn_begin(l->st, false, &txn);
  if (rc == 0)
    rc = kith_trust_check_x25519(txn, x, &l->res.trust, ed);
  if (rc == 0 && l->res.trust != KITH_TRUST_NONE)
    rc = judge(l, txn, ed);
  kith_txn_abort(txn);
  if (rc)
    return fail(l, rc, "cannot read the store: %s", kith_strerror(rc));
  rc = kith_noise_write_message(l->hs, NULL, 0, out, sizeof out, &olen);
  if (rc == 0)
    rc = send_frame(l, out, olen);
  if (rc)
    return fail(l, rc, "handshake: %s", kith_strerror(rc));
  if ((rc = finish_handshake(l)) != 0)
    return rc;
  switch (l->res.trust) {
  case KITH_TRUST_DEVICE:
  case KITH_TRUST_PEER:
    return 0;
  case KITH_TRUST_REVOKED:
    return send_refuse(l, KITH_REFUSE_REVOKED, KITH_EREFUSED);
  default:
    return send_refuse(l, KITH_REFUSE_UNTRUSTED, KITH_EREFUSED);
  }
}

static int on_handshake(kith_link *l, const uint8_t *msg, size_t len)
{
  if (l->role == ACCEPT)
    return accept_hello(l, msg, len);
  uint8_t payload[KITH_FRAME_MAX_HANDSHAKE];
  size_t plen;
  int rc = kith_noise_read_message(l->hs, msg, len, payload, sizeof payload, &plen);
  if (rc)
    return fail(l, KITH_EPROTO, "handshake failed: %s", kith_strerror(rc));
  if ((rc = finish_handshake(l)) != 0)
    return rc;
  if (l->want_sync)
    return start_sync(l);
  return send_bye(l); /* a ping: say goodbye at once */
}

static int new_hs(kith_link *l, enum kith_noise_role role)
{
  struct kith_noise_config cfg = {
      .protocol = KITH_LINK_PROTOCOL,
      .role = role,
      .prologue = l->prologue,
      .prologue_len = l->prologue_len,
      .local_static = l->xsk,
      .remote_static = role == KITH_NOISE_INITIATOR ? l->xpk_remote : NULL};
  return kith_noise_hs_new(&cfg, &l->hs);
}

static int on_preamble(kith_link *l)
{
  struct kith_preamble in, ans;
  uint8_t out[256], ans_b[KITH_PREAMBLE_LEN];
  size_t olen;
  int rc = kith_preamble_decode(l->ch.pre_in, &in);
  if (rc == KITH_ENOTKITH)
    return fail(l, KITH_ENOTKITH, "the other side is not a kith device");
  if (l->role == ACCEPT) {
    if (in.purpose != KITH_PURPOSE_SYNC)
      return fail(l, KITH_EPROTO, "not a sync connection");
    rc = kith_preamble_answer(&in, KITH_PROTO_VERSION, 0, &ans);
    kith_preamble_encode(&ans, ans_b);
    if (out_append(l, ans_b, sizeof ans_b) != 0)
      return l->res.error;
    if (rc || ans.version == 0)
      return fail(l, KITH_EVERSION, "%s", kith_strerror(KITH_EVERSION));
    kith_prologue(l->ch.pre_in, ans_b, l->prologue, &l->prologue_len);
    if ((rc = new_hs(l, KITH_NOISE_RESPONDER)) != 0)
      return fail(l, rc, "handshake: %s", kith_strerror(rc));
    l->step = S_HANDSHAKE;
    return 0;
  }
  struct kith_preamble sent;
  if (rc == 0 && kith_preamble_decode(l->my_pre, &sent) == 0)
    rc = kith_preamble_check_answer(&sent, &in);
  if (rc)
    return fail(l, rc, "%s", kith_strerror(rc));
  kith_prologue(l->my_pre, l->ch.pre_in, l->prologue, &l->prologue_len);
  if ((rc = new_hs(l, KITH_NOISE_INITIATOR)) != 0 ||
      (rc = kith_noise_write_message(l->hs, NULL, 0, out, sizeof out, &olen)) != 0)
    return fail(l, rc, "handshake: %s", kith_strerror(rc));
  l->step = S_HANDSHAKE;
  return send_frame(l, out, olen);
}

static int on_frame(kith_link *l, const uint8_t *body, size_t len)
{
  struct kith_msg m;
  if (l->step == S_HANDSHAKE)
    return on_handshake(l, body, len);
  int rc = kith_chan_open(&l->ch, body, len, &m);
  if (rc == KITH_EPROTO)
    return fail(l, KITH_EPROTO, "a message failed its check: %s",
                kith_strerror(KITH_EBADMSG));
  if (rc == KITH_EVERSION)
    return send_refuse(l, KITH_REFUSE_VERSION, KITH_EVERSION);
  if (rc)
    return send_refuse(l, KITH_REFUSE_PROTOCOL, KITH_EPROTO);
  return on_message(l, &m);
}

static int on_preamble_cb(void *s)
{
  return on_preamble(s);
}

static int on_frame_cb(void *s, const uint8_t *body, size_t len)
{
  return on_frame(s, body, len);
}

static bool ended_cb(void *s)
{
  kith_link *l = s;
  return l->step == S_DONE || l->step == S_FAILED;
}

static int link_feed(void *s, const uint8_t *in, size_t len)
{
  static const struct kith_chan_handler h = {on_preamble_cb, on_frame_cb, ended_cb};
  kith_link *l = s;
  if (kith_chan_feed(&l->ch, in, len, &h, l) != 0)
    return fail(l, KITH_EPROTO, "malformed frame");
  return l->step == S_FAILED ? l->res.error : 0;
}

/* Fills the output from the sync session while there is room: the transport
 * asks again as the socket drains, so a large sync streams without piling up. */
static void pump(kith_link *l)
{
  while (l->step == S_SYNC && l->ch.out_len < KITH_CHAN_OUT_MAX / 2) {
    size_t len = 0;
    int rc = kith_sync_next(l->sy, l->msg, sizeof l->msg, &len);
    if (rc) {
      sync_failed(l, rc);
      return;
    }
    if (len == 0)
      break;
    if (kith_chan_send_plain(&l->ch, l->msg, len) != 0) {
      fail(l, KITH_ENOMEM, "cannot send");
      return;
    }
  }
  if (l->step == S_SYNC && l->role == DIAL && kith_sync_over(l->sy)) {
    if (send_bye(l) == 0)
      l->step = S_WAIT_BYE;
  }
}

static size_t link_pending(void *s, const uint8_t **out)
{
  kith_link *l = s;
  pump(l);
  return kith_chan_pending(&l->ch, out);
}

static void link_consumed(void *s, size_t n)
{
  kith_chan_consumed(&((kith_link *)s)->ch, n);
}

static int link_eof(void *s)
{
  kith_link *l = s;
  if (l->step == S_DONE || l->step == S_FAILED)
    return l->res.error;
  if (l->role == DIAL && l->step != S_WAIT_BYE && l->step != S_SYNC)
    return fail(l, KITH_ECLOSED,
                "the other side closed during the handshake: it is not the device "
                "this one expects there, or not a kith device");
  return fail(l, KITH_ECLOSED, "the connection ended before the link finished");
}

static enum kith_session_state link_state(void *s)
{
  kith_link *l = s;
  switch (l->step) {
  case S_DONE:
    return KITH_SESSION_DONE;
  case S_FAILED:
    return KITH_SESSION_FAILED;
  case S_WAIT_BYE:
  case S_SYNC:
    return KITH_SESSION_ESTABLISHED;
  default:
    return KITH_SESSION_RUNNING;
  }
}

const struct kith_session_vt kith_link_vt = {link_feed, link_pending, link_consumed,
                                             link_eof, link_state};

static int link_new(kith_store *st, enum role role, uint64_t (*now_ms)(void),
                    kith_link **out)
{
  kith_link *l = calloc(1, sizeof *l);
  kith_txn *txn = NULL;
  uint8_t sk[KITH_SK_LEN];
  if (!l)
    return KITH_ENOMEM;
  l->role = role;
  l->st = st;
  l->now = now_ms;
  l->res.dialer = role == DIAL;
  int rc = kith_chan_init(&l->ch);
  if (rc == 0)
    rc = kith_txn_begin(st, false, &txn);
  if (rc == 0)
    rc = kith_txn_secret_key(txn, sk);
  if (rc == 0 && crypto_sign_ed25519_sk_to_curve25519(l->xsk, sk) != 0)
    rc = KITH_ECORRUPT;
  kith_txn_abort(txn);
  sodium_memzero(sk, sizeof sk);
  if (rc) {
    kith_link_free(l);
    return rc;
  }
  *out = l;
  return 0;
}

int kith_link_dial_new(kith_store *st,
                       const uint8_t peer_pk[static KITH_ED25519_PK_LEN],
                       uint64_t (*now_ms)(void), kith_link **out)
{
  kith_link *l = NULL;
  kith_txn *txn = NULL;
  int rc = link_new(st, DIAL, now_ms, &l);
  if (rc)
    return rc;
  if (crypto_sign_ed25519_pk_to_curve25519(l->xpk_remote, peer_pk) != 0)
    rc = KITH_EINVAL; /* not a point: no device holds it */
  if (rc == 0 && (rc = kith_txn_begin(st, false, &txn)) == 0)
    rc = judge(l, txn, peer_pk);
  kith_txn_abort(txn);
  if (rc == 0 && l->res.trust != KITH_TRUST_PEER && l->res.trust != KITH_TRUST_DEVICE)
    rc = KITH_EINVAL; /* a stranger or a revoked device: never dial it */
  struct kith_preamble pre = {KITH_PROTO_VERSION, KITH_PURPOSE_SYNC, 0};
  kith_preamble_encode(&pre, l->my_pre);
  if (rc == 0)
    rc = out_append(l, l->my_pre, sizeof l->my_pre);
  if (rc) {
    kith_link_free(l);
    return rc;
  }
  *out = l;
  return 0;
}

int kith_link_dial_sync_new(kith_store *st,
                            const uint8_t peer_pk[static KITH_ED25519_PK_LEN],
                            uint64_t (*now_ms)(void), kith_link **out)
{
  int rc = kith_link_dial_new(st, peer_pk, now_ms, out);
  if (rc == 0)
    (*out)->want_sync = true;
  return rc;
}

const struct kith_sync_stats *kith_link_sync_stats(const kith_link *l)
{
  return l->sy ? kith_sync_stats(l->sy) : NULL;
}

int kith_link_accept_new(kith_store *st, uint64_t (*now_ms)(void), kith_link **out)
{
  return link_new(st, ACCEPT, now_ms, out);
}

int kith_link_accept_after(kith_store *st, uint64_t (*now_ms)(void),
                           const uint8_t preamble[static KITH_PREAMBLE_LEN],
                           kith_link **out)
{
  kith_link *l = NULL;
  int rc = link_new(st, ACCEPT, now_ms, &l);
  if (rc)
    return rc;
  memcpy(l->ch.pre_in, preamble, KITH_PREAMBLE_LEN);
  l->ch.pre_have = KITH_PREAMBLE_LEN;
  (void)on_preamble(l); /* a failure is the session's state, with its answer */
  *out = l;
  return 0;
}

void kith_link_result(const kith_link *l, struct kith_link_result *out)
{
  *out = l->res;
  if (l->sy) {
    const struct kith_sync_stats *st = kith_sync_stats(l->sy);
    out->synced = true;
    out->sent = st->sent;
    out->received = st->received;
    out->changed = st->changed;
    out->rounds = st->rounds;
  }
  if (l->step != S_DONE && l->step != S_FAILED && !out->error) {
    out->error = KITH_ECLOSED;
    snprintf(out->why, sizeof out->why, "the link did not finish");
  }
}

void kith_link_free(kith_link *l)
{
  if (!l)
    return;
  kith_noise_hs_free(l->hs);
  kith_sync_free(l->sy);
  kith_chan_clear(&l->ch);
  sodium_memzero(l, sizeof *l);
  free(l);
}
