#include "core/accept.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"

struct kith_accept {
  kith_store *st;
  uint64_t (*now)(void);
  uint8_t pre[KITH_PREAMBLE_LEN];
  size_t pre_have;
  enum kith_accept_kind kind;
  const struct kith_session_vt *vt; /* the inner session's, once chosen */
  void *inner;
  int error; /* before an inner session exists */
  char why[256];
};

static int fail(kith_accept *a, int err, const char *why)
{
  if (!a->error) {
    a->error = err;
    snprintf(a->why, sizeof a->why, "%s", why);
  }
  return a->error;
}

/* The preamble is complete: make the session its purpose asks for. */
static int choose(kith_accept *a)
{
  struct kith_preamble pre;
  int rc = kith_preamble_decode(a->pre, &pre);
  if (rc == KITH_ENOTKITH) /* another magic, or a purpose nobody defined */
    return fail(a, KITH_ENOTKITH, "the other side is not a kith device");
  if (pre.purpose == KITH_PURPOSE_PAIR) {
    kith_pair *p = NULL;
    if ((rc = kith_pair_host_new_after(a->st, a->now, a->pre, &p)) != 0)
      return fail(a, rc, kith_strerror(rc));
    a->kind = KITH_ACCEPT_PAIR, a->vt = &kith_pair_vt, a->inner = p;
  } else {
    kith_link *l = NULL;
    if ((rc = kith_link_accept_after(a->st, a->now, a->pre, &l)) != 0)
      return fail(a, rc, kith_strerror(rc));
    a->kind = KITH_ACCEPT_LINK, a->vt = &kith_link_vt, a->inner = l;
  }
  return 0;
}

static int accept_feed(void *s, const uint8_t *in, size_t len)
{
  kith_accept *a = s;
  if (a->error)
    return a->error;
  if (!a->inner) {
    size_t take = KITH_PREAMBLE_LEN - a->pre_have;
    if (take > len)
      take = len;
    memcpy(a->pre + a->pre_have, in, take);
    a->pre_have += take, in += take, len -= take;
    if (a->pre_have < KITH_PREAMBLE_LEN)
      return 0;
    int rc = choose(a);
    if (rc)
      return rc;
    if (a->vt->state(a->inner) == KITH_SESSION_FAILED) {
      struct kith_accept_result r;
      kith_accept_result(a, &r);
      return r.error ? r.error : KITH_EPROTO;
    }
  }
  return len ? a->vt->feed(a->inner, in, len) : 0;
}

static size_t accept_pending(void *s, const uint8_t **out)
{
  kith_accept *a = s;
  if (!a->inner) {
    *out = NULL;
    return 0;
  }
  return a->vt->pending(a->inner, out);
}

static void accept_consumed(void *s, size_t n)
{
  kith_accept *a = s;
  if (a->inner)
    a->vt->consumed(a->inner, n);
}

static int accept_eof(void *s)
{
  kith_accept *a = s;
  if (a->inner)
    return a->vt->eof(a->inner);
  return fail(a, KITH_ECLOSED, "the connection ended before it said what it was");
}

static enum kith_session_state accept_state(void *s)
{
  kith_accept *a = s;
  if (a->error)
    return KITH_SESSION_FAILED;
  return a->inner ? a->vt->state(a->inner) : KITH_SESSION_RUNNING;
}

const struct kith_session_vt kith_accept_vt = {
    accept_feed, accept_pending, accept_consumed, accept_eof, accept_state};

int kith_accept_new(kith_store *st, uint64_t (*now_ms)(void), kith_accept **out)
{
  kith_accept *a = calloc(1, sizeof *a);
  if (!a)
    return KITH_ENOMEM;
  a->st = st;
  a->now = now_ms;
  *out = a;
  return 0;
}

void kith_accept_result(const kith_accept *a, struct kith_accept_result *out)
{
  memset(out, 0, sizeof *out);
  out->kind = a->kind;
  if (a->kind == KITH_ACCEPT_PAIR) {
    kith_pair_result(a->inner, &out->pair);
    out->error = out->pair.error;
    snprintf(out->why, sizeof out->why, "%s", out->pair.why);
  } else if (a->kind == KITH_ACCEPT_LINK) {
    kith_link_result(a->inner, &out->link);
    out->error = out->link.error;
    snprintf(out->why, sizeof out->why, "%s", out->link.why);
  } else {
    out->error = a->error ? a->error : KITH_ECLOSED;
    snprintf(out->why, sizeof out->why, "%s",
             a->error ? a->why : "the connection ended before it said what it was");
  }
}

void kith_accept_free(kith_accept *a)
{
  if (!a)
    return;
  if (a->kind == KITH_ACCEPT_PAIR)
    kith_pair_free(a->inner);
  else if (a->kind == KITH_ACCEPT_LINK)
    kith_link_free(a->inner);
  free(a);
}
