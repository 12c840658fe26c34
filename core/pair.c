#include "core/pair.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/chan.h"
#include "core/peer.h"
#include "core/space.h"
#include "core/sync.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/noise.h"

#define PAIR_PROTOCOL "Noise_NNpsk0_25519_ChaChaPoly_BLAKE2b"
#define PAIR_SIG_CONTEXT "kith pair v1"

/* ---- invites in the local store ---------------------------------------------
 * key "invite/" + tag (16); value secret (16) | expires (8) | ended (8) | flags (1)
 * where ended is when it was used (0: not yet) and flags bit 0 is a device link. */

#define INV_PREFIX "invite/"
#define INV_KEY_LEN (7 + KITH_INVITE_TAG_LEN)
#define INV_VAL_LEN (KITH_INVITE_SECRET_LEN + 8 + 8 + 1)

struct stored_invite {
  uint8_t secret[KITH_INVITE_SECRET_LEN];
  uint64_t expires, used;
  bool device;
};

static void put64(uint8_t *p, uint64_t v)
{
  for (int i = 7; i >= 0; i--, v >>= 8)
    p[i] = (uint8_t)v;
}

static uint64_t get64(const uint8_t *p)
{
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = v << 8 | p[i];
  return v;
}

static int invite_key(const uint8_t secret[KITH_INVITE_SECRET_LEN],
                      uint8_t key[INV_KEY_LEN])
{
  memcpy(key, INV_PREFIX, 7);
  return kith_invite_tag(secret, key + 7);
}

static int invite_save(kith_txn *txn, const struct stored_invite *si)
{
  uint8_t key[INV_KEY_LEN], val[INV_VAL_LEN];
  int rc = invite_key(si->secret, key);
  memcpy(val, si->secret, KITH_INVITE_SECRET_LEN);
  put64(val + 16, si->expires);
  put64(val + 24, si->used);
  val[32] = si->device ? 1 : 0;
  if (rc == 0)
    rc = kith_local_put(txn, key, sizeof key, val, sizeof val);
  sodium_memzero(val, sizeof val);
  return rc;
}

static int invite_decode(const uint8_t *val, size_t len, struct stored_invite *si)
{
  if (len != INV_VAL_LEN)
    return KITH_ECORRUPT;
  memcpy(si->secret, val, KITH_INVITE_SECRET_LEN);
  si->expires = get64(val + 16);
  si->used = get64(val + 24);
  si->device = val[32] & 1;
  return 0;
}

static int invite_load(kith_txn *txn, const uint8_t secret[KITH_INVITE_SECRET_LEN],
                       struct stored_invite *si)
{
  uint8_t key[INV_KEY_LEN], *val = NULL;
  size_t len = 0;
  int rc = invite_key(secret, key);
  if (rc == 0)
    rc = kith_local_get(txn, key, sizeof key, &val, &len);
  if (rc == 0)
    rc = invite_decode(val, len, si);
  if (val)
    sodium_memzero(val, len);
  free(val);
  return rc;
}

int kith_pair_invite_create(kith_txn *txn, bool device, uint64_t expires_ms,
                            struct kith_invite *inv)
{
  struct stored_invite si = {.expires = expires_ms, .device = device};
  memset(inv, 0, sizeof *inv);
  randombytes_buf(si.secret, sizeof si.secret);
  int rc = invite_save(txn, &si);
  if (rc == 0) {
    inv->version = KITH_INVITE_VERSION;
    inv->device = device;
    memcpy(inv->secret, si.secret, sizeof si.secret);
  }
  sodium_memzero(&si, sizeof si);
  return rc;
}

int kith_pair_invite_state(kith_txn *txn,
                           const uint8_t secret[static KITH_INVITE_SECRET_LEN],
                           uint64_t now_ms)
{
  struct stored_invite si;
  int rc = invite_load(txn, secret, &si);
  if (rc == 0)
    rc = si.used ? KITH_EUSED : now_ms >= si.expires ? KITH_EEXPIRED : 0;
  sodium_memzero(&si, sizeof si);
  return rc;
}

struct prune {
  kith_txn *txn;
  uint64_t now;
  uint8_t (*keys)[INV_KEY_LEN];
  size_t n, cap;
};

static int prune_one(void *arg, const uint8_t *k, size_t kl, const uint8_t *v,
                     size_t vl)
{
  struct prune *p = arg;
  struct stored_invite si;
  if (kl != INV_KEY_LEN || invite_decode(v, vl, &si) != 0)
    return 0;
  uint64_t ended = si.used ? si.used : si.expires;
  sodium_memzero(&si, sizeof si);
  if (p->now < ended + KITH_INVITE_KEEP_MS)
    return 0;
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 8;
    void *q = realloc(p->keys, cap * sizeof *p->keys);
    if (!q)
      return KITH_ENOMEM;
    p->keys = q, p->cap = cap;
  }
  memcpy(p->keys[p->n++], k, INV_KEY_LEN);
  return 0;
}

int kith_pair_invite_prune(kith_txn *txn, uint64_t now_ms)
{
  struct prune p = {txn, now_ms, NULL, 0, 0};
  int rc = kith_local_each(txn, INV_PREFIX, 7, prune_one, &p);
  for (size_t i = 0; rc == 0 && i < p.n; i++)
    rc = kith_local_del(txn, p.keys[i], INV_KEY_LEN);
  free(p.keys);
  return rc;
}

/* ---- the session ------------------------------------------------------------ */

enum role { JOIN, HOST };
enum step {
  S_PREAMBLE,
  S_HANDSHAKE,
  S_WAIT_ID,
  S_WAIT_OK,
  S_SYNC, /* paired: the first sync round, on the same channel */
  S_WAIT_BYE,
  S_DONE,
  S_FAILED
};

struct kith_pair {
  enum role role;
  enum step step;
  kith_store *st;
  uint64_t (*now)(void);
  struct kith_invite inv; /* joiner: its code; host: the invite that matched */
  struct kith_identity me;
  uint8_t sk[KITH_SK_LEN];
  uint8_t my_pre[KITH_PREAMBLE_LEN];
  uint8_t prologue[KITH_PROLOGUE_LEN];
  size_t prologue_len;
  kith_noise_hs *hs;
  uint8_t h[KITH_NOISE_HASH_MAX];
  size_t hlen;
  struct kith_pair_result res;
  kith_sync *sy;
  uint8_t msg[KITH_NOISE_MAX_PAYLOAD]; /* one sync message out */
  struct kith_chan ch;                 /* last: it is large */
};

static int fail(kith_pair *p, int err, const char *fmt, ...)
{
  va_list ap;
  if (p->step == S_FAILED)
    return err;
  p->step = S_FAILED;
  p->res.error = err;
  va_start(ap, fmt);
  vsnprintf(p->res.why, sizeof p->res.why, fmt, ap);
  va_end(ap);
  return err;
}

static int out_append(kith_pair *p, const uint8_t *b, size_t n)
{
  int rc = kith_chan_out(&p->ch, b, n);
  return rc ? fail(p, rc, "too much to send") : 0;
}

static int send_frame(kith_pair *p, const uint8_t *body, size_t len)
{
  int rc = kith_chan_send_frame(&p->ch, body, len);
  return rc ? fail(p, rc, "cannot send: %s", kith_strerror(rc)) : 0;
}

static int send_msg(kith_pair *p, const struct kith_msg *m)
{
  int rc = kith_chan_send_msg(&p->ch, m);
  return rc ? fail(p, rc, "cannot send: %s", kith_strerror(rc)) : 0;
}

static int send_refuse(kith_pair *p, uint32_t code, int err)
{
  struct kith_msg m = {.type = KITH_MSG_REFUSE};
  m.u.refuse.code = code;
  snprintf(m.u.refuse.text, sizeof m.u.refuse.text, "%s", kith_refuse_text(code));
  int rc = p->ch.tx ? send_msg(p, &m) : 0;
  p->res.refused = code;
  return rc ? rc : fail(p, err, "%s", kith_refuse_text(code));
}

static int send_bye(kith_pair *p)
{
  struct kith_msg m = {.type = KITH_MSG_BYE};
  return send_msg(p, &m);
}

static void sign_context(const kith_pair *p, uint8_t *buf, size_t *len)
{
  memcpy(buf, PAIR_SIG_CONTEXT, sizeof PAIR_SIG_CONTEXT - 1);
  memcpy(buf + sizeof PAIR_SIG_CONTEXT - 1, p->h, p->hlen);
  *len = sizeof PAIR_SIG_CONTEXT - 1 + p->hlen;
}

static int send_id(kith_pair *p)
{
  struct kith_msg m = {.type = KITH_MSG_PAIR_ID};
  uint8_t ctx[64 + KITH_NOISE_HASH_MAX];
  size_t clen;
  memcpy(m.u.pair_id.pk, p->me.pk, KITH_PAIR_PK_LEN);
  snprintf(m.u.pair_id.name, sizeof m.u.pair_id.name, "%s", p->me.name);
  snprintf(m.u.pair_id.label, sizeof m.u.pair_id.label, "%s", p->me.label);
  m.u.pair_id.link = p->inv.device;
  sign_context(p, ctx, &clen);
  crypto_sign_detached(m.u.pair_id.sig, NULL, ctx, clen, p->sk);
  return send_msg(p, &m);
}

/* Checks the other side's PAIR_ID and keeps what it says. */
static int take_id(kith_pair *p, const struct kith_msg *m)
{
  uint8_t ctx[64 + KITH_NOISE_HASH_MAX];
  size_t clen;
  sign_context(p, ctx, &clen);
  if (crypto_sign_verify_detached(m->u.pair_id.sig, ctx, clen, m->u.pair_id.pk) != 0)
    return send_refuse(p, KITH_REFUSE_PROTOCOL, KITH_EPROTO);
  if (m->u.pair_id.link != p->inv.device)
    return send_refuse(p, KITH_REFUSE_PROTOCOL, KITH_EPROTO);
  if (sodium_memcmp(m->u.pair_id.pk, p->me.pk, KITH_PAIR_PK_LEN) == 0)
    return send_refuse(p, KITH_REFUSE_PROTOCOL, KITH_EPROTO); /* pairing with myself */
  memcpy(p->res.peer_pk, m->u.pair_id.pk, sizeof p->res.peer_pk);
  snprintf(p->res.peer_name, sizeof p->res.peer_name, "%s", m->u.pair_id.name);
  snprintf(p->res.peer_label, sizeof p->res.peer_label, "%s", m->u.pair_id.label);
  p->res.device = p->inv.device;
  return 0;
}

/* Records the other side: a partner, or one more device of mine. */
static int record_peer(kith_pair *p, kith_txn *txn)
{
  if (p->inv.device) { /* a new device of the inviter's user takes the user's name */
    int rc = 0;
    if (p->role == JOIN && !p->me.name[0] && p->res.peer_name[0])
      rc = kith_txn_set_name(txn, p->res.peer_name);
    return rc ? rc
              : kith_device_add(txn, p->res.peer_label, p->res.peer_pk, p->res.peer_id);
  }
  uint8_t gid[KITH_GID_LEN]; /* our partnership space: the same on both sides */
  kith_space_derive(p->h, p->hlen, gid);
  return kith_peer_add(txn, p->res.peer_name, p->res.peer_pk, p->res.peer_label, gid,
                       p->res.peer_id);
}

/* Host: the joiner proved the code and its key; the invite decides. */
static int host_accept(kith_pair *p)
{
  kith_txn *txn = NULL;
  struct stored_invite si;
  uint64_t now = p->now();
  int rc = kith_txn_begin(p->st, true, &txn);
  if (rc == 0)
    rc = invite_load(txn, p->inv.secret, &si);
  if (rc == 0 && si.used) {
    kith_txn_abort(txn);
    return send_refuse(p, KITH_REFUSE_INVITE_USED, KITH_EUSED);
  }
  if (rc == 0 && now >= si.expires) {
    kith_txn_abort(txn);
    return send_refuse(p, KITH_REFUSE_INVITE_EXPIRED, KITH_EEXPIRED);
  }
  if (rc == 0) {
    si.used = now ? now : 1;
    rc = invite_save(txn, &si);
  }
  if (rc == 0)
    rc = record_peer(p, txn);
  if (rc == 0) {
    rc = kith_txn_commit(txn);
    txn = NULL;
  }
  kith_txn_abort(txn);
  sodium_memzero(&si, sizeof si);
  if (rc)
    return send_refuse(p, KITH_REFUSE_BUSY, rc);
  struct kith_msg ok = {.type = KITH_MSG_PAIR_OK};
  if ((rc = send_id(p)) != 0 || (rc = send_msg(p, &ok)) != 0)
    return rc;
  p->step = S_WAIT_BYE;
  return 0;
}

/* Paired: the first sync round runs on the same channel (a new device receives
 * its user's whole store; partners, their roster). Its failure leaves the pairing
 * made, and is reported apart (res.sync_error). */
static int sync_failed(kith_pair *p, int rc)
{
  struct kith_msg m = {.type = KITH_MSG_REFUSE};
  const char *why = p->sy ? kith_sync_why(p->sy) : "";
  p->res.sync_error = rc;
  snprintf(p->res.sync_why, sizeof p->res.sync_why, "%s",
           why[0] ? why : kith_strerror(rc));
  m.u.refuse.code = KITH_REFUSE_PROTOCOL;
  kith_refuse_set_text(&m, p->res.sync_why);
  (void)send_msg(p, &m);
  p->step = S_FAILED; /* the pairing stands: res.error stays 0 */
  return rc;
}

static int start_sync(kith_pair *p)
{
  int rc = kith_sync_new(p->st, p->res.peer_pk, p->role == JOIN, p->now, &p->sy);
  if (rc)
    return sync_failed(p, rc);
  p->step = S_SYNC;
  if (p->role == JOIN && (rc = kith_sync_start(p->sy)) != 0)
    return sync_failed(p, rc);
  return 0;
}

static int joiner_commit(kith_pair *p)
{
  kith_txn *txn = NULL;
  int rc = kith_txn_begin(p->st, true, &txn);
  if (rc == 0)
    rc = record_peer(p, txn);
  if (rc == 0) {
    rc = kith_txn_commit(txn);
    txn = NULL;
  }
  kith_txn_abort(txn);
  if (rc)
    return fail(p, rc, "cannot save the new peer: %s", kith_strerror(rc));
  return start_sync(p);
}

static int refused_error(uint32_t code)
{
  switch (code) {
  case KITH_REFUSE_INVITE_USED:
    return KITH_EUSED;
  case KITH_REFUSE_INVITE_EXPIRED:
    return KITH_EEXPIRED;
  case KITH_REFUSE_VERSION:
    return KITH_EVERSION;
  default:
    return KITH_EREFUSED;
  }
}

static int on_message(kith_pair *p, const struct kith_msg *m)
{
  if (m->type == KITH_MSG_REFUSE && p->sy) { /* paired; the first sync failed there */
    p->res.sync_error = KITH_EREFUSED;
    snprintf(p->res.sync_why, sizeof p->res.sync_why, "the other side: %s",
             m->u.refuse.text[0] ? m->u.refuse.text
                                 : kith_refuse_text(m->u.refuse.code));
    p->step = S_FAILED;
    return KITH_EREFUSED;
  }
  if (m->type == KITH_MSG_REFUSE) {
    p->res.refused = m->u.refuse.code;
    return fail(p, refused_error(m->u.refuse.code), "the other side refused: %s",
                kith_refuse_text(m->u.refuse.code));
  }
  switch (p->step) {
  case S_WAIT_ID:
    if (m->type != KITH_MSG_PAIR_ID)
      break;
    if (take_id(p, m) != 0)
      return p->res.error;
    if (p->role == HOST)
      return host_accept(p);
    p->step = S_WAIT_OK;
    return 0;
  case S_WAIT_OK:
    if (m->type != KITH_MSG_PAIR_OK)
      break;
    return joiner_commit(p);
  case S_SYNC:
    if (m->type >= KITH_MSG_SYNC_FIRST) {
      int rc = kith_sync_recv(p->sy, m);
      return rc ? sync_failed(p, rc) : 0;
    }
    if (m->type != KITH_MSG_BYE || p->role != HOST)
      break;
    if (!kith_sync_over(p->sy))
      return sync_failed(p, KITH_ECLOSED);
    {
      int rc = send_bye(p);
      if (rc)
        return rc;
    }
    p->step = S_DONE;
    return 0;
  case S_WAIT_BYE:
    if (m->type >= KITH_MSG_SYNC_FIRST && p->role == HOST && !p->sy) {
      int rc = start_sync(p); /* the joiner starts the first sync */
      if (rc == 0 && (rc = kith_sync_recv(p->sy, m)) != 0)
        return sync_failed(p, rc);
      return rc;
    }
    if (m->type != KITH_MSG_BYE)
      break;
    if (p->role == HOST) {
      int rc = send_bye(p);
      if (rc)
        return rc;
    }
    p->step = S_DONE;
    return 0;
  default:
    break;
  }
  return send_refuse(p, KITH_REFUSE_PROTOCOL, KITH_EPROTO);
}

static int new_hs(kith_pair *p, enum kith_noise_role role,
                  const uint8_t secret[KITH_INVITE_SECRET_LEN], kith_noise_hs **hs)
{
  uint8_t psk[KITH_INVITE_PSK_LEN];
  int rc = kith_invite_psk(secret, psk);
  struct kith_noise_config cfg = {.protocol = PAIR_PROTOCOL,
                                  .role = role,
                                  .prologue = p->prologue,
                                  .prologue_len = p->prologue_len,
                                  .psk = psk};
  if (rc == 0)
    rc = kith_noise_hs_new(&cfg, hs);
  sodium_memzero(psk, sizeof psk);
  return rc;
}

static int finish_handshake(kith_pair *p)
{
  int rc = kith_noise_handshake_hash(p->hs, p->h, &p->hlen);
  if (rc == 0)
    rc = kith_noise_split(p->hs, &p->ch.tx, &p->ch.rx);
  kith_noise_hs_free(p->hs);
  p->hs = NULL;
  if (rc == 0)
    rc = kith_frame_set_max(&p->ch.fr, KITH_FRAME_MAX);
  if (rc)
    return fail(p, rc, "handshake: %s", kith_strerror(rc));
  p->step = S_WAIT_ID;
  return p->role == JOIN ? send_id(p) : 0;
}

struct trial {
  kith_pair *p;
  const uint8_t *msg;
  size_t len;
  bool found;
};

static int try_invite(void *arg, const uint8_t *k, size_t kl, const uint8_t *v,
                      size_t vl)
{
  struct trial *t = arg;
  struct stored_invite si;
  kith_noise_hs *hs = NULL;
  uint8_t payload[64];
  size_t plen;
  (void)k;
  if (kl != INV_KEY_LEN || invite_decode(v, vl, &si) != 0)
    return 0;
  uint64_t ended = si.used ? si.used : si.expires;
  if (t->p->now() < ended + KITH_INVITE_KEEP_MS &&
      new_hs(t->p, KITH_NOISE_RESPONDER, si.secret, &hs) == 0) {
    if (kith_noise_read_message(hs, t->msg, t->len, payload, sizeof payload, &plen) ==
        0) {
      t->p->hs = hs;
      t->p->inv.version = KITH_INVITE_VERSION;
      t->p->inv.device = si.device;
      memcpy(t->p->inv.secret, si.secret, sizeof si.secret);
      t->found = true;
    } else {
      kith_noise_hs_free(hs);
    }
  }
  sodium_memzero(&si, sizeof si);
  return t->found ? 1 : 0;
}

static int on_handshake(kith_pair *p, const uint8_t *msg, size_t len)
{
  uint8_t payload[64], out[256];
  size_t plen, olen;
  int rc;
  if (p->role == HOST) {
    kith_txn *txn = NULL;
    struct trial t = {p, msg, len, false};
    rc = kith_txn_begin(p->st, false, &txn);
    if (rc == 0)
      rc = kith_local_each(txn, INV_PREFIX, 7, try_invite, &t);
    kith_txn_abort(txn);
    if (rc < 0)
      return fail(p, rc, "cannot read invites: %s", kith_strerror(rc));
    if (!t.found) /* no key to answer with: the joiner sees the connection close */
      return fail(p, KITH_EREFUSED, "%s", kith_refuse_text(KITH_REFUSE_INVITE_UNKNOWN));
    rc = kith_noise_write_message(p->hs, NULL, 0, out, sizeof out, &olen);
    if (rc == 0)
      rc = send_frame(p, out, olen);
  } else {
    rc = kith_noise_read_message(p->hs, msg, len, payload, sizeof payload, &plen);
  }
  if (rc)
    return fail(p, KITH_EPROTO, "handshake failed: %s", kith_strerror(rc));
  return finish_handshake(p);
}

static int on_preamble(kith_pair *p)
{
  struct kith_preamble in, ans;
  uint8_t out[256], ans_b[KITH_PREAMBLE_LEN];
  size_t olen;
  int rc = kith_preamble_decode(p->ch.pre_in, &in);
  if (rc)
    return fail(p, KITH_ENOTKITH, "the other side is not a kith device");
  if (p->role == HOST) {
    if (in.purpose != KITH_PURPOSE_PAIR)
      return fail(p, KITH_EPROTO, "not a pairing connection");
    rc = kith_preamble_answer(&in, KITH_PROTO_VERSION, 0, &ans);
    if (rc)
      return fail(p, KITH_EPROTO, "bad preamble");
    kith_preamble_encode(&ans, ans_b);
    if ((rc = out_append(p, ans_b, sizeof ans_b)) != 0)
      return rc;
    if (ans.version == 0)
      return fail(p, KITH_EVERSION, "%s", kith_strerror(KITH_EVERSION));
    kith_prologue(p->ch.pre_in, ans_b, p->prologue, &p->prologue_len);
    p->step = S_HANDSHAKE;
    return 0;
  }
  struct kith_preamble sent;
  if (kith_preamble_decode(p->my_pre, &sent) != 0 ||
      (rc = kith_preamble_check_answer(&sent, &in)) != 0)
    return fail(p, rc ? rc : KITH_EPROTO, "%s", kith_strerror(rc ? rc : KITH_EPROTO));
  kith_prologue(p->my_pre, p->ch.pre_in, p->prologue, &p->prologue_len);
  if ((rc = new_hs(p, KITH_NOISE_INITIATOR, p->inv.secret, &p->hs)) != 0 ||
      (rc = kith_noise_write_message(p->hs, NULL, 0, out, sizeof out, &olen)) != 0)
    return fail(p, rc, "handshake: %s", kith_strerror(rc));
  p->step = S_HANDSHAKE;
  return send_frame(p, out, olen);
}

static int on_frame(kith_pair *p, const uint8_t *body, size_t len)
{
  struct kith_msg m;
  if (p->step == S_HANDSHAKE)
    return on_handshake(p, body, len);
  int rc = kith_chan_open(&p->ch, body, len, &m);
  if (rc == KITH_EPROTO)
    return fail(p, KITH_EPROTO, "a message failed its check: %s",
                kith_strerror(KITH_EBADMSG));
  if (rc == KITH_EVERSION)
    return send_refuse(p, KITH_REFUSE_VERSION, KITH_EVERSION);
  if (rc)
    return send_refuse(p, KITH_REFUSE_PROTOCOL, KITH_EPROTO);
  return on_message(p, &m);
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
  kith_pair *p = s;
  return p->step == S_DONE || p->step == S_FAILED;
}

static int pair_feed(void *s, const uint8_t *in, size_t len)
{
  static const struct kith_chan_handler h = {on_preamble_cb, on_frame_cb, ended_cb};
  kith_pair *p = s;
  if (kith_chan_feed(&p->ch, in, len, &h, p) != 0)
    return fail(p, KITH_EPROTO, "malformed frame");
  return p->step == S_FAILED ? p->res.error : 0;
}

static size_t pair_pending(void *s, const uint8_t **out)
{
  kith_pair *p = s;
  while (p->step == S_SYNC && p->ch.out_len < KITH_CHAN_OUT_MAX / 2) {
    size_t len = 0;
    int rc = kith_sync_next(p->sy, p->msg, sizeof p->msg, &len);
    if (rc) {
      sync_failed(p, rc);
      break;
    }
    if (len == 0)
      break;
    if (kith_chan_send_plain(&p->ch, p->msg, len) != 0) {
      sync_failed(p, KITH_ENOMEM);
      break;
    }
  }
  if (p->step == S_SYNC && p->role == JOIN && kith_sync_over(p->sy) && send_bye(p) == 0)
    p->step = S_WAIT_BYE;
  return kith_chan_pending(&p->ch, out);
}

static void pair_consumed(void *s, size_t n)
{
  kith_chan_consumed(&((kith_pair *)s)->ch, n);
}

static int pair_eof(void *s)
{
  kith_pair *p = s;
  if (p->step == S_DONE || p->step == S_FAILED)
    return p->res.error;
  if (p->role == JOIN && p->step == S_WAIT_BYE) {
    p->step = S_DONE; /* both sides stored each other; only the goodbye is missing */
    return 0;
  }
  if (p->step == S_SYNC) {
    p->res.sync_error = KITH_ECLOSED;
    snprintf(p->res.sync_why, sizeof p->res.sync_why,
             "the connection ended during the first sync");
    p->step = S_FAILED;
    return KITH_ECLOSED;
  }
  if (p->role == JOIN && (p->step == S_HANDSHAKE || p->step == S_PREAMBLE))
    return fail(p, KITH_EREFUSED,
                "the inviter does not know this invite code (mistyped, "
                "or made by another device)");
  return fail(p, KITH_ECLOSED, "the connection ended before pairing finished");
}

static enum kith_session_state pair_state(void *s)
{
  kith_pair *p = s;
  switch (p->step) {
  case S_DONE:
    return KITH_SESSION_DONE;
  case S_FAILED:
    return KITH_SESSION_FAILED;
  case S_WAIT_ID:
  case S_WAIT_OK:
  case S_SYNC:
  case S_WAIT_BYE:
    return KITH_SESSION_ESTABLISHED;
  default:
    return KITH_SESSION_RUNNING;
  }
}

const struct kith_session_vt kith_pair_vt = {pair_feed, pair_pending, pair_consumed,
                                             pair_eof, pair_state};

static int pair_new(kith_store *st, enum role role, uint64_t (*now_ms)(void),
                    kith_pair **out)
{
  kith_pair *p = calloc(1, sizeof *p);
  kith_txn *txn = NULL;
  if (!p)
    return KITH_ENOMEM;
  p->role = role;
  p->st = st;
  p->now = now_ms;
  int rc = kith_chan_init(&p->ch);
  if (rc == 0)
    rc = kith_txn_begin(st, false, &txn);
  if (rc == 0)
    rc = kith_txn_identity(txn, &p->me);
  if (rc == 0)
    rc = kith_txn_secret_key(txn, p->sk);
  kith_txn_abort(txn);
  if (rc) {
    kith_pair_free(p);
    return rc;
  }
  *out = p;
  return 0;
}

int kith_pair_join_new(kith_store *st, const struct kith_invite *inv,
                       uint64_t (*now_ms)(void), kith_pair **out)
{
  kith_pair *p = NULL;
  int rc = pair_new(st, JOIN, now_ms, &p);
  if (rc)
    return rc;
  p->inv = *inv;
  struct kith_preamble pre = {KITH_PROTO_VERSION, KITH_PURPOSE_PAIR, 0};
  kith_preamble_encode(&pre, p->my_pre);
  if ((rc = out_append(p, p->my_pre, sizeof p->my_pre)) != 0) {
    kith_pair_free(p);
    return rc;
  }
  *out = p;
  return 0;
}

int kith_pair_host_new(kith_store *st, uint64_t (*now_ms)(void), kith_pair **out)
{
  return pair_new(st, HOST, now_ms, out);
}

int kith_pair_host_new_after(kith_store *st, uint64_t (*now_ms)(void),
                             const uint8_t preamble[static KITH_PREAMBLE_LEN],
                             kith_pair **out)
{
  kith_pair *p = NULL;
  int rc = pair_new(st, HOST, now_ms, &p);
  if (rc)
    return rc;
  memcpy(p->ch.pre_in, preamble, KITH_PREAMBLE_LEN);
  p->ch.pre_have = KITH_PREAMBLE_LEN;
  (void)on_preamble(p); /* a failure is the session's state, with its answer */
  *out = p;
  return 0;
}

void kith_pair_result(const kith_pair *p, struct kith_pair_result *out)
{
  *out = p->res;
  if (p->sy) {
    const struct kith_sync_stats *st = kith_sync_stats(p->sy);
    out->synced = p->step == S_DONE && !out->sync_error;
    out->sent = st->sent;
    out->received = st->received;
  }
  if (p->step != S_DONE && p->step != S_FAILED && !out->error) {
    if (p->sy) { /* paired; the first sync did not finish */
      out->sync_error = KITH_ECLOSED;
      snprintf(out->sync_why, sizeof out->sync_why, "the first sync did not finish");
      return;
    }
    out->error = KITH_ECLOSED;
    snprintf(out->why, sizeof out->why, "pairing did not finish");
  }
}

void kith_pair_free(kith_pair *p)
{
  if (!p)
    return;
  kith_sync_free(p->sy);
  kith_noise_hs_free(p->hs);
  kith_chan_clear(&p->ch);
  sodium_memzero(p, sizeof *p);
  free(p);
}
