/*
 * relayer.h — sync through relays, for `kith sync --relay` and `kith serve`: one
 * round fetches my mail (core/relayc.h, as my device key) at my relays and applies
 * it (core/post.h's inbox), then deposits, for each device I sync with, the posts
 * it lacks (core/post.h's poster) at every relay it fetches from, over connections
 * made with a fresh key each, so a relay does not learn who deposits.
 *
 * One round is asynchronous on a libuv loop; relays are contacted at once, so a
 * relay that is down costs its own connect timeout and nothing else. A target's
 * posts are made once per relay from the same starting point and recorded as sent
 * with the best relay's result: a change arrives if any one relay works.
 */
#ifndef KITH_CLI_RELAYER_H
#define KITH_CLI_RELAYER_H

#include <uv.h>

#include "cli/util.h"
#include "core/relays.h"

#define RELAYER_RELAYS_MAX (2 * KITH_RELAYS_MAX)

/* What happened at one relay. */
struct relayer_relay {
  char addr[KITH_RELAY_ADDR_MAX];
  bool fetched;       /* the fetch completed */
  int fetch_err;      /* KITH_E code, 0 if fine or not tried */
  int deposit_err;    /* KITH_E code of the deposit connection */
  char why[256];      /* the first failure, one line */
  uint64_t envelopes; /* fetched and applied */
  uint64_t records, changed;
  uint64_t unknown;   /* left there: from a device I don't know (yet) */
  uint64_t rejected;  /* deleted: did not open, or content refused */
  uint64_t deposited; /* envelopes it acknowledged */
  uint64_t refused;   /* deposits it refused (quota, size...) */
  char refusal[256];  /* the first refusal's text */
};

/* What was posted to one device. */
struct relayer_target {
  const struct kith_remote *t;
  uint64_t envelopes, records; /* posted, and delivered to at least one relay */
  size_t relays, relays_ok;    /* relays tried for it, relays that took it all */
  char why[256];
};

struct relayer_report {
  size_t nrelays;
  struct relayer_relay relay[RELAYER_RELAYS_MAX];
  size_t ntargets;
  struct relayer_target *target; /* one per target given */
  int error;                     /* the first local error (store), 0 if none */
  char why[256];
};

/* only: one relay for everything (`kith sync --relay`); NULL: fetch at my relays
 * and deposit at each target's own. targets (borrowed until done) are the devices
 * to post to. done runs once, on the loop, with the report (borrowed for the call).
 * Returns 0 (done may have run already, when there was nothing to wait for).
 * Errors: KITH_ENOMEM, with done never called. */
int relayer_start(struct cli *cli, uv_loop_t *loop, const char *only,
                  const struct kith_remote *targets, size_t n,
                  void (*done)(void *arg, const struct relayer_report *r), void *arg);

/* The loop's timeouts for relay connections (also used by tests through
 * KITH_RELAY_CONNECT_MS). */
struct kith_net_limits relayer_limits(void);

#endif
