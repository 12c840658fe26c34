/*
 * relays.h — where each device fetches its mail (docs/PROTOCOL.md, "Relay").
 *
 * A user lists the relays their devices fetch from (`kith relay add`). The list is
 * a record in self (so all my devices hold it) and, in each partnership, elements
 * of the roster (KITH_F_ROSTER_RELAYS: [HOST:PORT, key of a device of the user who
 * fetches there]), so my partners deposit for me at my relays and I at theirs.
 * kith_relays_reconcile (run with the rosters' reconcile after every sync and
 * every post) makes each roster carry exactly my list; a partner's elements are
 * theirs to change. Relays never coordinate: a change arrives if any one works.
 *
 * Addresses are text as `kith relay add` gave them (checked by the CLI); at most
 * KITH_RELAYS_MAX per user.
 */
#ifndef KITH_RELAYS_H
#define KITH_RELAYS_H

#include "core/space.h"

#define KITH_RELAYS_MAX 16
#define KITH_RELAY_ADDR_MAX 64 /* bytes with the NUL */

struct kith_relay_list {
  size_t n;
  char addr[KITH_RELAYS_MAX][KITH_RELAY_ADDR_MAX];
};

/* My relays, in address order. Store errors. */
int kith_relays_mine(kith_txn *txn, struct kith_relay_list *out) KITH_MUST_CHECK;

/* Adds a relay to my list (0 also if it was there) and to every partnership.
 * KITH_EINVAL (empty or too long), KITH_ETOOBIG (KITH_RELAYS_MAX already). */
int kith_relay_add(kith_txn *txn, const char *addr) KITH_MUST_CHECK;

/* Removes a relay from my list and every partnership: KITH_ENOTFOUND if it was not
 * in my list. */
int kith_relay_remove(kith_txn *txn, const char *addr) KITH_MUST_CHECK;

/* Where the device pk fetches: my list for one of my devices; for a partner's, the
 * relays its user lists in our partnership. None for anyone else. */
int kith_relays_of(kith_txn *txn, const uint8_t pk[static 32],
                   struct kith_relay_list *out) KITH_MUST_CHECK;

/* Makes every partnership's roster list exactly my relays as mine. Writes nothing
 * when all is in order. */
int kith_relays_reconcile(kith_txn *txn) KITH_MUST_CHECK;

#endif
