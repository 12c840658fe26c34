/*
 * syncer.h — outgoing syncs for `kith sync` and `kith serve`: which devices this
 * home syncs with, where they were last seen, LAN discovery by beacons
 * (proto/beacon.h, net/disc.h), and sync links dialed over net/conn.
 *
 * Discovery's group, port and interface come from the environment, so tests can
 * keep to loopback and to a port of their own:
 *   KITH_DISC=off          no discovery at all
 *   KITH_DISC_GROUP        IPv4 multicast group (default 239.255.70.77)
 *   KITH_DISC_PORT         UDP port (default 21070)
 *   KITH_DISC_IFACE        local IPv4 address to join and send on (e.g. 127.0.0.1)
 */
#ifndef KITH_CLI_SYNCER_H
#define KITH_CLI_SYNCER_H

#include <uv.h>

#include "cli/util.h"
#include "core/link.h"

/* The last address a device was seen at ("HOST:PORT"), from the local state. */
int syncer_addr_get(kith_txn *txn, const uint8_t pk[32], char *out, size_t n);
int syncer_addr_put(kith_store *st, const uint8_t pk[32], const char *addr);

/* The serve side: announces this device on the LAN, discovers its devices and
 * partners, syncs with each it finds, again after local changes and every few
 * minutes. Events go to stdout as serve's do (JSON Lines with --json). */
struct autosync;
int autosync_start(struct cli *cli, uv_loop_t *loop, uint16_t port,
                   struct autosync **out);
void autosync_stop(struct autosync *a);

/* What past syncs left with a partner (owner: its peer record) or one of my
 * devices (its device record): {"last_sync": ISO|null, "they_lack": n, "i_lack":
 * n, "devices": [...per device...]}, the whole being the most recently synced
 * device's. NULL if out of memory. */
json_t *syncer_status(kith_txn *txn, const uint8_t owner[16]);

/* One line (or JSON event) about a finished sync link, for serve's acceptor side
 * and the dialer alike; net is the transport's result (0 for the acceptor). */
void syncer_report(struct cli *cli, const struct kith_link_result *r, const char *addr,
                   int net);

#endif
