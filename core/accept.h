/*
 * accept.h — one listening port for every kind of kith connection (`kith serve`).
 *
 * A kith_accept session reads the 8-byte preamble a connection opens with and,
 * by its purpose, becomes a pairing host (core/pair.h, purpose 2) or a sync link
 * acceptor (core/link.h, purpose 1); from then on it passes every call through to
 * that session. A preamble that is not kith's, or names no purpose kith knows,
 * fails the session (KITH_ENOTKITH) without a byte sent back. Until the preamble
 * has arrived it holds 8 bytes and sends nothing.
 */
#ifndef KITH_ACCEPT_H
#define KITH_ACCEPT_H

#include "core/link.h"
#include "core/pair.h"
#include "core/session.h"
#include "core/store.h"

typedef struct kith_accept kith_accept;

/* A session for one accepted connection; st must outlive it; now_ms is passed to
 * the pairing or link session. Errors: KITH_ENOMEM. */
int kith_accept_new(kith_store *st, uint64_t (*now_ms)(void),
                    kith_accept **out) KITH_MUST_CHECK;
void kith_accept_free(kith_accept *a); /* NULL-safe; frees the inner session */

/* Drives a kith_accept: pass the kith_accept as the session pointer. */
extern const struct kith_session_vt kith_accept_vt;

enum kith_accept_kind {
  KITH_ACCEPT_NONE, /* the preamble never chose one: see error and why */
  KITH_ACCEPT_PAIR, /* see pair */
  KITH_ACCEPT_LINK, /* see link */
};

struct kith_accept_result {
  enum kith_accept_kind kind;
  int error;     /* the outcome whatever the kind: 0 when DONE */
  char why[256]; /* KITH_ACCEPT_NONE: one line if error */
  struct kith_pair_result pair;
  struct kith_link_result link;
};

/* The outcome, once the session is DONE or FAILED (before that, an error). Can't
 * fail. */
void kith_accept_result(const kith_accept *a, struct kith_accept_result *out);

#endif
