/* kith referral add | list | show | status | thank | stats (core/referral.h) */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmds.h"
#include "core/referral.h"
#include "proto/hex.h"

static const char add_usage[] =
    "kith referral add --contact ID --to PEER [--reason TEXT] [--value AMOUNT]";
static const char list_usage[] =
    "kith referral list [--given|--received] [--peer PEER]";
static const char show_usage[] = "kith referral show ID";
static const char status_usage[] = "kith referral status ID STATUS [--note TEXT]";
static const char thank_usage[] = "kith referral thank ID [--value AMOUNT]";
static const char stats_usage[] = "kith referral stats [--peer PEER]";

static const char amount_help[] =
    "An AMOUNT is a number (1500, 1500.50) optionally followed by a 3-letter\n"
    "currency (1500 EUR).\n";

static int bad_amount(const char *opt, const char *value)
{
  return cli_error(EX_DATAERR_,
                   "%s '%s' is not an amount (a number such as 1500 or 1500.50, "
                   "then optionally a currency: 1500 EUR)",
                   opt, value);
}

static int load(kith_txn *txn, const uint8_t id[16], struct kith_referral *r)
{
  int rc = kith_referral_load(txn, id, r);
  return rc ? cli_fail(rc, "cannot read the referral") : 0;
}

/* Prints the referral id as JSON (--json), after a write. */
static int print_json(struct cli *cli, const uint8_t id[16])
{
  kith_txn *txn = NULL;
  struct kith_referral r;
  int rc = cli_begin(cli, false, &txn);
  if (rc == 0 && (rc = load(txn, id, &r)) == 0) {
    rc = cli_json_print(kith_referral_json(&r));
    kith_referral_clear(&r);
  }
  kith_txn_abort(txn);
  return rc;
}

/* ---- add ------------------------------------------------------------------- */

/* Whether peer is pending: introduced, not confirmed as a partner yet. */
static bool pending(kith_txn *txn, const uint8_t peer[16])
{
  struct kith_record *p = NULL;
  bool yes = kith_record_load(txn, peer, &p) == 0 && kith_peer_is_pending(p);
  kith_record_free(p);
  return yes;
}

static int referral_add(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = {{"contact", required_argument, NULL, 'c'},
                                       {"to", required_argument, NULL, 't'},
                                       {"reason", required_argument, NULL, 'r'},
                                       {"value", required_argument, NULL, 'v'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *contact = NULL, *to = NULL, *reason = NULL, *value = NULL;
  struct kith_amount a;
  kith_txn *txn = NULL;
  uint8_t cid[16], pid[16], id[16];
  int c, rc;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'c':
      contact = optarg;
      break;
    case 't':
      to = optarg;
      break;
    case 'r':
      reason = optarg;
      break;
    case 'v':
      value = optarg;
      break;
    case 'h':
      printf(
          "usage: %s\n\nShares the contact's card with the partner (or a copy, if it "
          "is shared\nwith someone else) and passes it as a lead, status offered. "
          "Prints the\nreferral's id (with --json: the referral).\n%s",
          add_usage, amount_help);
      return 0;
    default:
      return cli_usage(add_usage, "unknown option or missing value: '%s'",
                       argv[optind - 1]);
    }
  }
  if (optind != argc)
    return cli_usage(add_usage, "unexpected argument '%s'", argv[optind]);
  if (!contact || !to)
    return cli_usage(add_usage, "a referral needs --contact and --to");
  if (value && *value && kith_amount_parse(value, &a, NULL) != 0)
    return bad_amount("--value", value);
  if (reason && !kith_utf8_valid(reason, strlen(reason)))
    return cli_fail(KITH_EBADUTF8, "--reason");
  if ((rc = cli_open(cli)) != 0 || (rc = cli_begin(cli, true, &txn)) != 0)
    return rc;
  if ((rc = cli_resolve(txn, KITH_KIND_CONTACT, contact, cid)) != 0 ||
      (rc = cli_resolve_peer(txn, to, pid)) != 0)
    goto out;
  rc = kith_referral_add(txn, cid, pid, reason, value, id);
  if (rc == KITH_EINVAL)
    rc = cli_error(EX_DATAERR_, "cannot refer to %s: %s", to,
                   pending(txn, pid) ? "not a partner until you confirm them (kith "
                                       "peer confirm)"
                                     : "that partner was paired by an older kith "
                                       "(pair again)");
  else if (rc == KITH_ETOOBIG || rc == KITH_EBADUTF8)
    rc = cli_fail(rc, "--reason");
  else if (rc)
    rc = cli_fail(rc, "cannot add the referral");
  if (rc == 0) {
    rc = cli_commit(txn);
    txn = NULL;
  }
  if (rc == 0 && !cli->json) {
    char hex[33];
    kith_hex_encode(id, 16, hex);
    printf("%s\n", hex); /* the id alone */
  } else if (rc == 0) {
    rc = print_json(cli, id);
  }
out:
  kith_txn_abort(txn);
  return rc;
}

/* ---- list ------------------------------------------------------------------ */

struct listing {
  struct kith_referral *v;
  size_t n, cap;
};

static void listing_clear(struct listing *l)
{
  for (size_t i = 0; i < l->n; i++)
    kith_referral_clear(&l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}

/* The local space of a partner, for --peer (0: we share no space yet). */
static int peer_space(kith_txn *txn, const char *arg, uint32_t *space)
{
  uint8_t pid[16], gid[KITH_GID_LEN];
  int rc = cli_resolve_peer(txn, arg, pid);
  if (rc)
    return rc;
  *space = 0;
  rc = kith_peer_space(txn, pid, gid);
  if (rc == 0)
    rc = kith_space_local(txn, gid, false, space);
  if (rc == KITH_ENOTFOUND)
    return 0;
  return rc ? cli_fail(rc, "cannot read the store") : 0;
}

/* Every referral (of one space, if space), in id order. */
static int gather(kith_txn *txn, bool by_space, uint32_t space, struct listing *l)
{
  struct kith_id_list ids = {0};
  int rc = kith_kind_each(txn, KITH_KIND_REFERRAL, kith_id_collect, &ids);
  if (rc == 0 && ids.n && !(l->v = calloc(ids.n, sizeof *l->v)))
    rc = KITH_ENOMEM;
  for (size_t i = 0; rc == 0 && i < ids.n; i++) {
    struct kith_referral *r = &l->v[l->n];
    rc = kith_referral_load(txn, ids.v[i], r);
    if (rc == KITH_EINVAL) { /* gone since the walk: not a referral any more */
      rc = 0;
      continue;
    }
    if (rc == 0 && by_space && r->space != space)
      kith_referral_clear(r);
    else if (rc == 0)
      l->n++;
  }
  free(ids.v);
  return rc ? cli_fail(rc, "cannot read the referrals") : 0;
}

static const char *peer_label(const struct kith_referral *r)
{
  return r->has_peer ? r->peer_name : "(not a partner now)";
}

static void when(const struct kith_stamp *s, char out[25])
{
  kith_hlc_iso(s->hlc, out);
  out[16] = 0;
  out[10] = ' ';
}

static int by_created(const void *a, const void *b)
{
  const struct kith_referral *x = a, *y = b;
  return kith_stamp_cmp(&x->created, &y->created);
}

static void print_table(struct cli *cli, struct listing *l)
{
  size_t wp = 4, wc = 7, wv = 5;
  for (size_t i = 0; i < l->n; i++) {
    const struct kith_referral *r = &l->v[i];
    if (cli_width(peer_label(r)) > wp)
      wp = cli_width(peer_label(r));
    if (cli_width(r->contact_name) > wc)
      wc = cli_width(r->contact_name);
    if (r->value && cli_width(r->value) > wv)
      wv = cli_width(r->value);
  }
  wp = wp > 20 ? 20 : wp, wc = wc > 28 ? 28 : wc, wv = wv > 20 ? 20 : wv;
  qsort(l->v, l->n, sizeof *l->v, by_created);
  const char *b = cli->color ? "\033[1m" : "", *e = cli->color ? "\033[0m" : "";
  printf("%s%-8s  %-9s  ", b, "ID", "DIRECTION");
  cli_pad(stdout, "PEER", wp);
  fputs("  ", stdout);
  cli_pad(stdout, "CONTACT", wc);
  printf("  %-9s  ", "STATUS");
  cli_pad(stdout, "VALUE", wv);
  printf("  UPDATED%s\n", e);
  for (size_t i = 0; i < l->n; i++) {
    const struct kith_referral *r = &l->v[i];
    char hex[33], upd[25];
    kith_hex_encode(r->id, 16, hex);
    hex[8] = 0;
    when(&r->updated, upd);
    printf("%s  %-9s  ", hex, r->given ? "given" : "received");
    cli_pad(stdout, peer_label(r), wp);
    fputs("  ", stdout);
    cli_pad(stdout, r->contact_name, wc);
    const char *st = kith_referral_status_name(r->status);
    printf("  %-9s  ", st ? st : "?");
    cli_pad(stdout, r->value ? r->value : "", wv);
    printf("  %s%s\n", upd, r->thanked ? "  (thanked)" : "");
  }
}

static int referral_list(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = {{"given", no_argument, NULL, 'g'},
                                       {"received", no_argument, NULL, 'r'},
                                       {"peer", required_argument, NULL, 'p'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  bool given = false, received = false;
  const char *peer = NULL;
  struct listing l = {0};
  kith_txn *txn = NULL;
  uint32_t space = 0;
  int c, rc;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'g':
      given = true;
      break;
    case 'r':
      received = true;
      break;
    case 'p':
      peer = optarg;
      break;
    case 'h':
      printf("usage: %s\n\nThe referrals you gave and received, oldest first: ID, "
             "DIRECTION, PEER,\nCONTACT, STATUS, VALUE, UPDATED. --given keeps those "
             "you gave, --received\nthose you received, --peer those between you and "
             "one partner. With --json:\nan array sorted by id of {\"id\", "
             "\"direction\", \"peer\", \"contact\": {\"id\",\n\"name\", \"shared\"}, "
             "\"reason\", \"value\", \"status\", \"note\", \"history\": [{\"at\",\n"
             "\"status\", \"note\"}], \"thanked\", \"thank_value\", \"created\", "
             "\"updated\"}.\n",
             list_usage);
      return 0;
    default:
      return cli_usage(list_usage, "unknown option or missing value: '%s'",
                       argv[optind - 1]);
    }
  }
  if (optind != argc)
    return cli_usage(list_usage, "unexpected argument '%s'", argv[optind]);
  if (given && received)
    return cli_usage(list_usage, "--given or --received, not both");
  if ((rc = cli_open(cli)) != 0 || (rc = cli_begin(cli, false, &txn)) != 0)
    return rc;
  if (peer && (rc = peer_space(txn, peer, &space)) != 0)
    goto out;
  if (peer && space == 0)
    space = UINT32_MAX; /* nothing shared with them yet: nothing matches */
  if ((rc = gather(txn, peer != NULL, space, &l)) != 0)
    goto out;
  size_t keep = 0;
  for (size_t i = 0; i < l.n; i++) {
    if ((given && !l.v[i].given) || (received && l.v[i].given))
      kith_referral_clear(&l.v[i]);
    else
      l.v[keep++] = l.v[i];
  }
  l.n = keep;
  if (cli->json) {
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < l.n; i++)
      if (json_array_append_new(arr, kith_referral_json(&l.v[i])) != 0) {
        json_decref(arr);
        arr = NULL;
      }
    rc = cli_json_print(arr);
  } else if (l.n) {
    print_table(cli, &l);
  } else {
    fprintf(stderr, "no referrals%s\n",
            given || received || peer ? " match"
                                      : " yet (pass one with 'kith referral add "
                                        "--contact ID --to PEER')");
  }
out:
  listing_clear(&l);
  kith_txn_abort(txn);
  return rc;
}

/* ---- show ------------------------------------------------------------------ */

static void line(const char *label, const char *value)
{
  if (value)
    printf("  %-10s %s\n", label, value);
}

static void print_referral(struct cli *cli, const struct kith_referral *r)
{
  char hex[33], ch[33], buf[512], at[25];
  kith_hex_encode(r->id, 16, hex);
  kith_hex_encode(r->contact, 16, ch);
  printf("%s%s%s %s %s (%s)\n", cli->color ? "\033[1m" : "", r->contact_name,
         cli->color ? "\033[0m" : "", r->given ? "to" : "from", peer_label(r),
         r->given ? "given" : "received");
  line("id", hex);
  const char *st = kith_referral_status_name(r->status);
  snprintf(buf, sizeof buf, "%s%s%s", st ? st : "?", r->note ? ": " : "",
           r->note ? r->note : "");
  line("status", buf);
  line("reason", r->reason);
  line("value", r->value);
  snprintf(buf, sizeof buf, "%s%s", ch, r->contact_shared ? "" : " (no longer shared)");
  line("contact", buf);
  if (r->thanked) {
    snprintf(buf, sizeof buf, "%.16s%s%s", r->thanked, r->thank_value ? ", for " : "",
             r->thank_value ? r->thank_value : "");
    buf[10] = ' ';
    line("thanked", buf);
  }
  when(&r->created, at);
  line("created", at);
  when(&r->updated, at);
  line("updated", at);
  if (r->nevents)
    puts("history:");
  for (size_t i = 0; i < r->nevents; i++) {
    when(&r->events[i].at, at);
    const char *note = r->events[i].note;
    printf("  %s  %-*s%s%s\n", at, note ? 9 : 0,
           kith_referral_status_name(r->events[i].status), note ? "  " : "",
           note ? note : "");
  }
}

static int referral_show(struct cli *cli, int argc, char **argv)
{
  kith_txn *txn = NULL;
  struct kith_referral r;
  uint8_t id[16];
  if (cli_wants_help(argc, argv)) {
    printf("usage: %s\n\nShows a referral and its whole history (with --json: as "
           "'list' does).\n",
           show_usage);
    return 0;
  }
  if (argc > 2)
    return cli_usage(show_usage, "unexpected argument '%s'", argv[2]);
  int rc =
      cli_open_record(cli, argc, argv, show_usage, KITH_KIND_REFERRAL, false, &txn, id);
  if (rc == 0 && (rc = load(txn, id, &r)) == 0) {
    if (cli->json)
      rc = cli_json_print(kith_referral_json(&r));
    else
      print_referral(cli, &r);
    kith_referral_clear(&r);
  }
  kith_txn_abort(txn);
  return rc;
}

/* ---- status, thank ---------------------------------------------------------- */

/* Why a write by the giver is refused, or why it failed. */
static int write_failed(kith_txn *txn, const uint8_t id[16], int rc, const char *what)
{
  struct kith_referral r;
  char hex[33];
  kith_hex_encode(id, 16, hex);
  hex[8] = 0;
  if (rc == KITH_EREFUSED && kith_referral_load(txn, id, &r) == 0) {
    rc = cli_error(EX_NOPERM_, "you gave referral %s: only %s, who received it, %s",
                   hex, r.has_peer ? r.peer_name : "your partner", what);
    kith_referral_clear(&r);
    return rc;
  }
  if (rc == KITH_EINVAL && kith_referral_load(txn, id, &r) == 0) {
    const char *st = kith_referral_status_name(r.status);
    rc = cli_error(EX_DATAERR_,
                   "referral %s is %s, not won: a thank you closes won business "
                   "(kith referral status %s won)",
                   hex, st ? st : "without a status", hex);
    kith_referral_clear(&r);
    return rc;
  }
  return cli_fail(rc, "cannot change referral %s", hex);
}

static int finish_write(struct cli *cli, kith_txn *txn, const uint8_t id[16])
{
  int rc = cli_commit(txn);
  if (rc == 0 && cli->json)
    rc = print_json(cli, id);
  return rc;
}

static const char status_help[] =
    "For a referral you received: moves it to STATUS, one of offered, accepted,\n"
    "contacted, met, won, lost, declined, with an optional note. Your partner\n"
    "sees each change and the whole history after a sync. Only the receiver sets\n"
    "the status: the giver is refused (exit 77).\n";
static const char thank_help[] =
    "For a referral you received and won: thanks your partner for the closed\n"
    "business, recording when and (--value) what it was worth; they see it after\n"
    "a sync. Again later updates both.\n";

/* `status ID STATUS [--note TEXT]` and `thank ID [--value AMOUNT]`: the receiver's
 * two writes, one option each. */
static int referral_write(struct cli *cli, int argc, char **argv, bool thank)
{
  const struct option opts[] = {
      {thank ? "value" : "note", required_argument, NULL, 'o'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *usage = thank ? thank_usage : status_usage, *opt = NULL;
  int want = thank ? 1 : 2; /* ID, or ID STATUS */
  struct kith_amount a;
  kith_txn *txn = NULL;
  uint8_t id[16];
  int c, rc;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (c == 'h') {
      printf("usage: %s\n\n%s%s", usage, thank ? thank_help : status_help,
             thank ? amount_help : "");
      return 0;
    }
    if (c != 'o')
      return cli_usage(usage, "unknown option or missing value: '%s'",
                       argv[optind - 1]);
    opt = optarg;
  }
  /* getopt moved the options first: argv[optind..] are ID [STATUS] */
  if (argc - optind < want)
    return cli_usage(usage, "missing the referral id%s", thank ? "" : " or status");
  if (argc - optind > want)
    return cli_usage(usage, "unexpected argument '%s'", argv[argc - 1]);
  const char *status = thank ? NULL : argv[optind + 1];
  if (status && kith_referral_status_parse(status) < 0)
    return cli_error(EX_DATAERR_,
                     "'%s' is not a status (offered, accepted, contacted, met, won, "
                     "lost, declined)",
                     status);
  if (thank && opt && *opt && kith_amount_parse(opt, &a, NULL) != 0)
    return bad_amount("--value", opt);
  if (opt && !kith_utf8_valid(opt, strlen(opt)))
    return cli_fail(KITH_EBADUTF8, "--note");
  char *args[2] = {argv[0], argv[optind]};
  if ((rc = cli_open_record(cli, 2, args, usage, KITH_KIND_REFERRAL, true, &txn, id)) !=
      0)
    goto out;
  rc = thank ? kith_referral_thank(txn, id, opt)
             : kith_referral_set_status(txn, id, status, opt);
  if (rc) {
    rc = write_failed(txn, id, rc, thank ? "thanks for it" : "sets its status");
    goto out;
  }
  rc = finish_write(cli, txn, id);
  txn = NULL;
out:
  kith_txn_abort(txn);
  return rc;
}

static int referral_status(struct cli *cli, int argc, char **argv)
{
  return referral_write(cli, argc, argv, false);
}

static int referral_thank(struct cli *cli, int argc, char **argv)
{
  return referral_write(cli, argc, argv, true);
}

/* ---- stats ----------------------------------------------------------------- */

struct group {
  uint32_t space; /* 0: a partner we share no referral space with yet */
  bool has_peer;
  uint8_t peer[16];
  char name[KITH_TEXT_MAX + 1];
  struct kith_referral_tally given, received;
};

struct groups {
  struct group *v;
  size_t n, cap;
};

static struct group *group_add(struct groups *g)
{
  if (g->n == g->cap) {
    size_t cap = g->cap ? g->cap * 2 : 8;
    struct group *v = realloc(g->v, cap * sizeof *v);
    if (!v)
      return NULL;
    g->v = v, g->cap = cap;
  }
  memset(&g->v[g->n], 0, sizeof g->v[0]);
  return &g->v[g->n++];
}

/* One group per partner (or only the one of --peer), then one per space whose
 * partner is gone, holding referrals still. */
static int partner_groups(kith_txn *txn, const uint8_t *only, struct groups *g)
{
  struct kith_id_list peers = {0};
  int rc = kith_kind_each(txn, KITH_KIND_PEER, kith_id_collect, &peers);
  for (size_t i = 0; rc == 0 && i < peers.n; i++) {
    uint8_t gid[KITH_GID_LEN];
    struct kith_record *p = NULL;
    struct group *gr = NULL;
    if (only && memcmp(only, peers.v[i], 16) != 0)
      continue;
    if ((rc = kith_record_load(txn, peers.v[i], &p)) != 0)
      break;
    /* a pending peer (introduced, not confirmed) is no partner yet, and one paired
     * by a kith older than spaces has no referrals */
    if (!kith_peer_is_pending(p) && kith_peer_space(txn, peers.v[i], gid) == 0 &&
        !(gr = group_add(g)))
      rc = KITH_ENOMEM;
    if (gr) {
      const char *name = kith_record_text(p, KITH_F_PEER_NAME);
      gr->has_peer = true;
      memcpy(gr->peer, peers.v[i], 16);
      snprintf(gr->name, sizeof gr->name, "%s", name ? name : "");
      rc = kith_space_local(txn, gid, false, &gr->space);
      if (rc == KITH_ENOTFOUND)
        rc = 0, gr->space = 0; /* nothing shared with them yet */
    }
    kith_record_free(p);
  }
  free(peers.v);
  return rc;
}

static int tally(struct groups *g, const struct listing *l)
{
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < l->n; i++) {
    const struct kith_referral *r = &l->v[i];
    struct group *gr = NULL;
    for (size_t k = 0; k < g->n && !gr; k++)
      if (g->v[k].space == r->space)
        gr = &g->v[k];
    if (!gr && !(gr = group_add(g)))
      return KITH_ENOMEM;
    gr->space = r->space;
    rc = kith_referral_tally_add(r->given ? &gr->given : &gr->received, r);
  }
  return rc;
}

static int by_name(const void *a, const void *b)
{
  const struct group *x = a, *y = b;
  if (x->has_peer != y->has_peer)
    return x->has_peer ? -1 : 1;
  int c = strcmp(x->name, y->name);
  return c ? c : memcmp(x->peer, y->peer, 16);
}

static int add_tallies(struct kith_referral_tally *to,
                       const struct kith_referral_tally *t)
{
  to->count += t->count;
  to->thanked += t->thanked;
  for (int i = 0; i < KITH_REF_STATUSES; i++)
    to->by_status[i] += t->by_status[i];
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < t->won_value.n; i++)
    rc = kith_amount_add(&to->won_value, &t->won_value.v[i]);
  for (size_t i = 0; rc == 0 && i < t->thank_value.n; i++)
    rc = kith_amount_add(&to->thank_value, &t->thank_value.v[i]);
  return rc;
}

static json_t *pair_json(const struct kith_referral_tally *given,
                         const struct kith_referral_tally *received)
{
  json_t *g = kith_referral_tally_json(given), *r = kith_referral_tally_json(received);
  if (!g || !r) {
    json_decref(g);
    json_decref(r);
    return NULL;
  }
  return json_pack("{s:o, s:o}", "given", g, "received", r);
}

static void sums_text(const struct kith_amount_sum *s, char *out, size_t n)
{
  size_t at = 0;
  out[0] = 0;
  for (size_t i = 0; i < s->n; i++) {
    char num[KITH_AMOUNT_TEXT];
    kith_amount_format(s->v[i].units, num);
    int w = snprintf(out + at, n - at, "%s%s%s%s", i ? ", " : "", num,
                     s->v[i].currency[0] ? " " : "", s->v[i].currency);
    if (w < 0 || (size_t)w >= n - at)
      break;
    at += (size_t)w;
  }
}

static void print_tally(const char *dir, const struct kith_referral_tally *t)
{
  unsigned won = t->by_status[KITH_REF_WON];
  unsigned closed = won + t->by_status[KITH_REF_LOST] + t->by_status[KITH_REF_DECLINED];
  char sums[256];
  printf("  %-9s %u", dir, t->count);
  for (int i = 0, first = 1; i < KITH_REF_STATUSES; i++)
    if (t->by_status[i]) {
      printf("%s%s %u", first ? "   " : ", ", kith_referral_status_name(i),
             t->by_status[i]);
      first = 0;
    }
  putchar('\n');
  if (!t->count)
    return;
  printf("            conversion: %u won of %u closed", won, closed);
  if (closed)
    printf(" (%.0f%%)", 100.0 * won / closed);
  printf(", of %u in all (%.0f%%)\n", t->count, 100.0 * won / t->count);
  if (t->won_value.n) {
    sums_text(&t->won_value, sums, sizeof sums);
    printf("            won value: %s\n", sums);
  }
  if (t->thanked) {
    sums_text(&t->thank_value, sums, sizeof sums);
    printf("            thanked: %u%s%s\n", t->thanked,
           sums[0] && t->thank_value.n ? ", for " : "", t->thank_value.n ? sums : "");
  }
}

static int referral_stats(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = {{"peer", required_argument, NULL, 'p'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *peer = NULL;
  struct listing l = {0};
  struct groups g = {0};
  struct kith_referral_tally tg = {0}, tr = {0};
  kith_txn *txn = NULL;
  uint8_t pid[16];
  uint32_t space = 0;
  int c, rc;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (c == 'h') {
      printf(
          "usage: %s\n\nThe numbers accountability partners review: per partner and "
          "in total, for\nthe referrals you gave and those you received, how many, "
          "how many are now\nin each status, and\n"
          "  conversion of closed = won / (won + lost + declined)\n"
          "  conversion of all    = won / all of them\n"
          "  won value            = the sum of the values of the referrals now won\n"
          "  thanked, thank value = how many were thanked, the sum of their thank "
          "values\nSums are per currency (amounts without one add up together). "
          "--peer: one\npartner. With --json: {\"partners\": [{\"peer\", \"peer_id\", "
          "\"given\": S,\n\"received\": S}], \"total\": {\"given\": S, \"received\": "
          "S}}, S = {\"count\",\n\"by_status\": {STATUS: n}, \"won\", \"closed\", "
          "\"conversion\": {\"closed\", \"all\"}\n(null when there is nothing to "
          "divide by), \"won_value\": [{\"amount\", \"currency\"}],\n\"thanked\", "
          "\"thank_value\": [...]}; amounts are decimal strings.\n",
          stats_usage);
      return 0;
    }
    if (c != 'p')
      return cli_usage(stats_usage, "unknown option or missing value: '%s'",
                       argv[optind - 1]);
    peer = optarg;
  }
  if (optind != argc)
    return cli_usage(stats_usage, "unexpected argument '%s'", argv[optind]);
  if ((rc = cli_open(cli)) != 0 || (rc = cli_begin(cli, false, &txn)) != 0)
    return rc;
  if (peer && ((rc = cli_resolve_peer(txn, peer, pid)) != 0 ||
               (rc = peer_space(txn, peer, &space)) != 0))
    goto out;
  if ((rc = gather(txn, peer != NULL, space ? space : UINT32_MAX, &l)) != 0)
    goto out;
  if ((rc = partner_groups(txn, peer ? pid : NULL, &g)) != 0 ||
      (rc = tally(&g, &l)) != 0) {
    rc = cli_fail(rc, "cannot count the referrals");
    goto out;
  }
  if (g.n)
    qsort(g.v, g.n, sizeof *g.v, by_name);
  for (size_t i = 0; rc == 0 && i < g.n; i++)
    if ((rc = add_tallies(&tg, &g.v[i].given)) == 0)
      rc = add_tallies(&tr, &g.v[i].received);
  if (rc) {
    rc = cli_fail(rc, "cannot count the referrals");
    goto out;
  }
  if (cli->json) {
    json_t *arr = json_array(), *doc = NULL;
    for (size_t i = 0; arr && i < g.n; i++) {
      char hex[33];
      kith_hex_encode(g.v[i].peer, 16, hex);
      json_t *p = pair_json(&g.v[i].given, &g.v[i].received);
      if (!p ||
          json_object_set_new(p, "peer",
                              g.v[i].has_peer ? json_string(g.v[i].name)
                                              : json_null()) != 0 ||
          json_object_set_new(p, "peer_id",
                              g.v[i].has_peer ? json_string(hex) : json_null()) != 0 ||
          json_array_append_new(arr, p) != 0) {
        json_decref(arr);
        arr = NULL;
      }
    }
    json_t *total = pair_json(&tg, &tr);
    if (arr && total)
      doc = json_pack("{s:o, s:o}", "partners", arr, "total", total);
    else {
      json_decref(arr);
      json_decref(total);
    }
    rc = cli_json_print(doc);
    goto out;
  }
  for (size_t i = 0; i < g.n; i++) {
    printf("%s\n", g.v[i].has_peer ? g.v[i].name : "(not a partner now)");
    print_tally("given", &g.v[i].given);
    print_tally("received", &g.v[i].received);
  }
  if (g.n != 1) {
    printf("total\n");
    print_tally("given", &tg);
    print_tally("received", &tr);
  }
out:
  free(g.v);
  listing_clear(&l);
  kith_txn_abort(txn);
  return rc;
}

static const struct cli_cmd subs[] = {
    {"add", referral_add, add_usage},       {"list", referral_list, list_usage},
    {"show", referral_show, show_usage},    {"status", referral_status, status_usage},
    {"thank", referral_thank, thank_usage}, {"stats", referral_stats, stats_usage},
};

static int referral_help(FILE *f)
{
  fputs("usage: kith referral add|list|show|status|thank|stats ...\n\n", f);
  for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
    fprintf(f, "  %s\n", subs[i].summary);
  fprintf(f,
          "\nPass a lead to a partner: the contact's card is shared with them (not "
          "your\ntags or notes) and the referral lives in the space you share, so "
          "both of you\nsee it after any sync. The partner who received it moves it "
          "through the\nstatuses offered, accepted, contacted, met, won, lost, "
          "declined, and thanks\nyou for closed business; you see each step. "
          "Referrals are never deleted,\nonly closed. IDs may be shortened to any "
          "unique prefix.\n%s",
          amount_help);
  return f == stdout ? 0 : EX_USAGE_;
}

int cmd_referral(struct cli *cli, int argc, char **argv)
{
  if (argc < 2)
    return referral_help(stderr);
  for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
    if (strcmp(argv[1], subs[i].name) == 0)
      return subs[i].run(cli, argc - 1, argv + 1);
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0)
    return referral_help(stdout);
  return cli_usage(
      NULL, "unknown subcommand 'referral %s' (see 'kith referral --help')", argv[1]);
}
