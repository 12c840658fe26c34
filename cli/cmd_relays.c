/*
 * cmd_relays.c — the relays this home uses (`kith relay add|list|rm`) and one sync
 * round through a relay (`kith sync --relay`, cli/relayer.h).
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cmds.h"
#include "cli/relayer.h"
#include "core/json.h"
#include "net/conn.h"
#include "proto/hex.h"

static const char add_usage[] = "kith relay add HOST:PORT";
static const char rm_usage[] = "kith relay rm HOST:PORT";
static const char list_usage[] = "kith relay list";

static int check_addr(const char *usage, const char *addr)
{
  struct sockaddr_storage ss;
  if (kith_net_parse_addr(addr, &ss) != 0 || strlen(addr) >= KITH_RELAY_ADDR_MAX ||
      strstr(addr, ":0") == addr + strlen(addr) - 2)
    return cli_usage(usage, "bad address '%s' (HOST:PORT with an IP address)", addr);
  return 0;
}

static json_t *list_json(const struct kith_relay_list *l)
{
  json_t *a = json_array();
  for (size_t i = 0; a && i < l->n; i++)
    json_array_append_new(a, json_string(l->addr[i]));
  return a;
}

static int edit(struct cli *cli, int argc, char **argv, bool add)
{
  const char *usage = add ? add_usage : rm_usage;
  if (cli_wants_help(argc, argv)) {
    if (add)
      printf("usage: %s\n\nAdds a relay where your devices fetch their mail. The list "
             "reaches your\nother devices and your partners with the next sync, and "
             "they deposit\nfor you there; 'kith serve' and 'kith sync' fetch from "
             "it. Several\nrelays: a change arrives if any one works.\n",
             usage);
    else
      printf("usage: %s\n\nRemoves a relay from your list (your devices stop fetching "
             "there; your\npartners stop depositing there after their next sync).\n",
             usage);
    return 0;
  }
  if (argc != 2)
    return cli_usage(usage, argc < 2 ? "missing HOST:PORT" : "too many arguments");
  int rc = check_addr(usage, argv[1]);
  kith_txn *txn = NULL;
  struct kith_relay_list l;
  if (rc || (rc = cli_open(cli)) != 0 || (rc = cli_begin(cli, true, &txn)) != 0)
    return rc;
  rc = add ? kith_relay_add(txn, argv[1]) : kith_relay_remove(txn, argv[1]);
  if (rc == 0)
    rc = kith_relays_mine(txn, &l);
  if (rc) {
    kith_txn_abort(txn);
    if (rc == KITH_ENOTFOUND)
      return cli_error(EX_DATAERR_,
                       "%s is not one of your relays (see 'kith relay list')", argv[1]);
    if (rc == KITH_ETOOBIG)
      return cli_error(EX_DATAERR_, "you have %d relays already: remove one first",
                       KITH_RELAYS_MAX);
    return cli_fail(rc, add ? "cannot add the relay" : "cannot remove the relay");
  }
  if ((rc = cli_commit(txn)) != 0)
    return rc;
  if (cli->json)
    return cli_json_print(json_pack("{s:o}", "relays", list_json(&l)));
  printf("%s relay %s; your relays: %zu\n", add ? "Added" : "Removed", argv[1], l.n);
  return 0;
}

int cmd_relay_add(struct cli *cli, int argc, char **argv)
{
  return edit(cli, argc, argv, true);
}

int cmd_relay_rm(struct cli *cli, int argc, char **argv)
{
  return edit(cli, argc, argv, false);
}

int cmd_relay_list(struct cli *cli, int argc, char **argv)
{
  if (cli_wants_help(argc, argv)) {
    printf("usage: %s\n\nYour relays (where your devices fetch), and each partner's "
           "(where you\ndeposit for them).\n",
           list_usage);
    return 0;
  }
  if (argc != 1)
    return cli_usage(list_usage, "too many arguments");
  kith_txn *txn = NULL;
  struct kith_relay_list mine, theirs;
  struct kith_remote *t = calloc(KITH_REMOTES_MAX, sizeof *t);
  size_t n = 0;
  int rc = t ? cli_open(cli) : cli_fail(KITH_ENOMEM, "relay list");
  if (rc || (rc = cli_begin(cli, false, &txn)) != 0) {
    free(t);
    return rc;
  }
  rc = kith_relays_mine(txn, &mine);
  if (rc == 0)
    rc = kith_remote_devices(txn, t, KITH_REMOTES_MAX, &n);
  json_t *partners = json_array();
  if (rc == 0 && !cli->json) {
    printf("Yours (your devices fetch here):\n");
    for (size_t i = 0; i < mine.n; i++)
      printf("  %s\n", mine.addr[i]);
    if (!mine.n)
      printf("  (none: add one with 'kith relay add HOST:PORT')\n");
  }
  const uint8_t *last_owner = NULL;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    if (t[i].trust != KITH_TRUST_PEER ||
        (last_owner && memcmp(last_owner, t[i].owner, 16) == 0))
      continue; /* one line per partner, from its first device */
    last_owner = t[i].owner;
    if ((rc = kith_relays_of(txn, t[i].pk, &theirs)) != 0)
      break;
    if (cli->json) {
      json_array_append_new(partners, json_pack("{s:s, s:o}", "peer", t[i].name,
                                                "relays", list_json(&theirs)));
      continue;
    }
    printf("%s's (you deposit for them here):\n", t[i].name);
    for (size_t k = 0; k < theirs.n; k++)
      printf("  %s\n", theirs.addr[k]);
    if (!theirs.n)
      printf("  (none yet)\n");
  }
  kith_txn_abort(txn);
  free(t);
  if (rc) {
    json_decref(partners);
    return cli_fail(rc, "cannot read the relays");
  }
  if (cli->json)
    return cli_json_print(
        json_pack("{s:o, s:o}", "relays", list_json(&mine), "partners", partners));
  json_decref(partners);
  return 0;
}

/* ---- kith sync --relay ------------------------------------------------------------
 */

struct wait {
  struct cli *cli;
  int rc;
  bool done;
};

static const char *as_text(enum kith_trust t)
{
  return t == KITH_TRUST_PEER ? "partner" : "yours";
}

static void sync_done(void *arg, const struct relayer_report *r)
{
  struct wait *w = arg;
  struct cli *cli = w->cli;
  const struct relayer_relay *rel = r->nrelays ? &r->relay[0] : NULL;
  json_t *posted = cli->json ? json_array() : NULL;
  int rc = 0;
  w->done = true;
  if (r->error) {
    w->rc = cli_fail(r->error, "%s", r->why);
    return;
  }
  if (!rel) {
    w->rc = cli_error(EX_UNAVAILABLE_, "no relay to sync through");
    return;
  }
  if (!rel->fetched) {
    w->rc = cli_error(cli_exit_code(rel->fetch_err), "relay %s: %s", rel->addr,
                      rel->why[0] ? rel->why : kith_strerror(rel->fetch_err));
    return;
  }
  for (size_t i = 0; i < r->ntargets; i++) { /* first: did every deposit go? */
    const struct relayer_target *t = &r->target[i];
    if (!rc && t->relays && t->relays_ok != t->relays)
      rc = rel->deposit_err == 0 && rel->refused ? EX_NOPERM_ : EX_UNAVAILABLE_;
  }
  if (rel->rejected && !rc)
    rc = EX_DATAERR_;
  if (!cli->json && !rc) { /* on an error: stderr's one line, nothing here */
    if (rel->records || rel->unknown)
      printf("Fetched from %s: %llu record(s), %llu change(s)%s\n", rel->addr,
             (unsigned long long)rel->records, (unsigned long long)rel->changed,
             rel->unknown ? "; some left there, from devices not known here yet" : "");
    else
      printf("Fetched from %s: nothing new\n", rel->addr);
  }
  for (size_t i = 0; i < r->ntargets; i++) {
    const struct relayer_target *t = &r->target[i];
    const char *label = t->t->label[0] ? t->t->label : "device";
    const char *who = t->t->trust == KITH_TRUST_PEER ? t->t->name : label;
    bool ok = t->relays == 0 || t->relays_ok == t->relays;
    if (posted)
      json_array_append_new(posted, json_pack("{s:s, s:s, s:s, s:I, s:I, s:b}", "peer",
                                              t->t->name, "device", label, "as",
                                              as_text(t->t->trust), "envelopes",
                                              (json_int_t)t->envelopes, "records",
                                              (json_int_t)t->records, "ok", ok));
    else if (t->envelopes && !rc && t->records)
      printf("Posted to %s (%s%s%s): %llu record(s)\n", who, as_text(t->t->trust),
             t->t->trust == KITH_TRUST_PEER ? ", " : "",
             t->t->trust == KITH_TRUST_PEER ? label : "",
             (unsigned long long)t->records);
  }
  if (cli->json) {
    json_t *doc = json_pack(
        "{s:s, s:{s:I, s:I, s:I, s:I, s:I}, s:o, s:b}", "relay", rel->addr, "fetched",
        "envelopes", (json_int_t)rel->envelopes, "records", (json_int_t)rel->records,
        "changed", (json_int_t)rel->changed, "unknown", (json_int_t)rel->unknown,
        "rejected", (json_int_t)rel->rejected, "posted", posted, "ok", rc == 0);
    cli_json_print(doc);
  }
  if (rc == EX_NOPERM_)
    fprintf(stderr, "kith: relay %s refused a deposit: %s\n", rel->addr,
            rel->refusal[0] ? rel->refusal : "refused");
  else if (rc == EX_UNAVAILABLE_)
    fprintf(stderr, "kith: relay %s: deposit failed: %s\n", rel->addr,
            rel->why[0] ? rel->why : kith_strerror(rel->deposit_err));
  else if (rc == EX_DATAERR_)
    fprintf(stderr, "kith: relay %s: %llu envelope(s) refused: %s\n", rel->addr,
            (unsigned long long)rel->rejected, rel->why);
  w->rc = rc;
}

int relay_sync(struct cli *cli, const char *relay, const struct kith_remote *t,
               size_t n)
{
  struct wait w = {cli, 0, false};
  uv_loop_t loop;
  if (uv_loop_init(&loop) != 0)
    return cli_fail(KITH_ENOMEM, "sync");
  int rc = relayer_start(cli, &loop, relay, t, n, sync_done, &w);
  if (rc == 0)
    uv_run(&loop, UV_RUN_DEFAULT); /* bounded by net/: connect, handshake, idle */
  uv_loop_close(&loop);
  if (rc)
    return cli_fail(rc, "sync through %s", relay);
  return w.done ? w.rc : cli_error(EX_UNAVAILABLE_, "the relay round did not finish");
}
