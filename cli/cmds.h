/* The commands: each gets argv from its own name on (argv[0] is "contact"...). */
#ifndef KITH_CLI_CMDS_H
#define KITH_CLI_CMDS_H

#include "cli/util.h"
#include "core/space.h"

int cmd_init(struct cli *cli, int argc, char **argv);
int cmd_whoami(struct cli *cli, int argc, char **argv);
int cmd_contact(struct cli *cli, int argc, char **argv);
int cmd_note(struct cli *cli, int argc, char **argv);
int cmd_followup(struct cli *cli, int argc, char **argv); /* in cmd_due.c */
int cmd_due(struct cli *cli, int argc, char **argv);
int cmd_tag(struct cli *cli, int argc, char **argv); /* in cmd_due.c */
int cmd_import(struct cli *cli, int argc, char **argv);
int cmd_export(struct cli *cli, int argc, char **argv);
int cmd_peer(struct cli *cli, int argc, char **argv);
int cmd_device(struct cli *cli, int argc, char **argv);
int cmd_invite(struct cli *cli, int argc, char **argv);
int cmd_join(struct cli *cli, int argc, char **argv);
int cmd_serve(struct cli *cli, int argc, char **argv);
int cmd_sync(struct cli *cli, int argc, char **argv);
int cmd_share(struct cli *cli, int argc, char **argv);
int cmd_unshare(struct cli *cli, int argc, char **argv);
int cmd_relay(struct cli *cli, int argc, char **argv); /* run|add|list|rm */
int cmd_relay_run(struct cli *cli, int argc, char **argv);
int cmd_relay_add(struct cli *cli, int argc, char **argv);
int cmd_relay_list(struct cli *cli, int argc, char **argv);
int cmd_relay_rm(struct cli *cli, int argc, char **argv);
int cmd_bundle(struct cli *cli, int argc, char **argv);
int cmd_intro(struct cli *cli, int argc, char **argv);
int cmd_card(struct cli *cli, int argc, char **argv);     /* in cmd_contact.c */
int cmd_referral(struct cli *cli, int argc, char **argv); /* add|list|show|status... */

/* One sync round through one relay with the devices t[0..n) (cli/relayer.h). */
int relay_sync(struct cli *cli, const char *relay, const struct kith_remote *t,
               size_t n);

/* A partner by id prefix, else by name (case and accents ignored). 0, or the exit
 * code after printing why. */
int cli_resolve_peer(kith_txn *txn, const char *arg, uint8_t id[16]);

#endif
