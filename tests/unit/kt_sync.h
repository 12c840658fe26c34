/*
 * kt_sync.h — one sync session between two in-process stores (kt_devices.h) over
 * core/link.h, bytes pumped back to back with no sockets: the tests of
 * core/sync.h, and of what travels by sync (referrals, my card).
 */
#ifndef KT_SYNC_H
#define KT_SYNC_H

#include "kt_devices.h"

#include "core/link.h"
#include "core/sync.h"

static long last_flow
    __attribute__((unused)); /* bytes both ways in the last sync_run */

struct run {
  struct kith_link_result d, a;
  struct kith_sync_stats sd, sa;
};

/* One sync: dialer dials acceptor; budget bytes (-1: all). */
static inline struct run sync_run(struct dev *dialer, struct dev *acceptor, long budget)
{
  kith_link *ld = NULL, *la = NULL;
  struct run r;
  memset(&r, 0, sizeof r);
  assert_rc(kith_link_dial_sync_new(dialer->s.st, acceptor->pk, kt_clock, &ld), 0);
  assert_rc(kith_link_accept_new(acceptor->s.st, kt_clock, &la), 0);
  struct kt_flow f = kt_pump(&kith_link_vt, ld, la, 0, -1, -1, budget, 100000);
  last_flow = f.ab + f.ba;
  kith_link_result(ld, &r.d);
  kith_link_result(la, &r.a);
  if (kith_link_sync_stats(ld))
    r.sd = *kith_link_sync_stats(ld);
  if (kith_link_sync_stats(la))
    r.sa = *kith_link_sync_stats(la);
  kith_link_free(ld);
  kith_link_free(la);
  return r;
}

/* A sync that must succeed on both sides. */
static inline struct run sync_ok(struct dev *dialer, struct dev *acceptor)
{
  struct run r = sync_run(dialer, acceptor, -1);
  if (r.d.error || r.a.error)
    fail_msg("sync failed: dialer %s (%s); acceptor %s (%s)", kith_strerror(r.d.error),
             r.d.why, kith_strerror(r.a.error), r.a.why);
  return r;
}

#endif
