/* kith intro propose | list | show | accept | decline | withdraw */
#include <ctype.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmds.h"
#include "core/fold.h"
#include "core/intro.h"
#include "proto/hex.h"

static const char intro_usage[] =
    "kith intro propose PARTY PARTY [--message TEXT [--message TEXT]] "
    "[--expires DURATION] | list | show ID | accept ID [--share FIELDS] [--for PARTY] "
    "| decline ID [--for PARTY] | withdraw ID";

static int intro_help(FILE *f)
{
  fprintf(f,
          "usage: %s\n\n"
          "Introduce two people who agree to it. A PARTY is a partner (a peer, by id\n"
          "prefix or name) or a contact of yours (someone without kith). Each partner\n"
          "sees a proposal with the other's name and your message, nothing else; one\n"
          "--message goes to both, two go to the first and the second party.\n"
          "--expires: how long the proposal stays open (30m, 12h, 7d; default 14d).\n"
          "\n"
          "A partner answers with 'accept ID --share email,phones' (the fields of its\n"
          "card it gives; its name always) or 'decline ID'. For a contact party you\n"
          "record its consent: 'accept ID --for PARTY --share FIELDS' (the fields of\n"
          "your contact record you pass on). Once both accepted, each side gets the\n"
          "other's details as a contact and a pending peer ('kith peer confirm').\n"
          "A decline is shown to the other side as 'not_going_ahead', like an expiry\n"
          "or a withdrawal. 'withdraw ID' closes your proposal.\n"
          "\n"
          "Statuses: yours proposed, completed, declined, expired, withdrawn (each\n"
          "party pending, accepted, declined); a party's proposed, accepted,\n"
          "completed, not_going_ahead.\n",
          intro_usage);
  return f == stdout ? 0 : EX_USAGE_;
}

struct name_match {
  kith_txn *txn;
  uint8_t field;
  const char *needle; /* folded */
  int found, partial; /* the whole name; its first word(s) ("Bea") */
  uint8_t id[16], pid[16];
};

static int match_one(void *arg, const uint8_t id[16])
{
  struct name_match *m = arg;
  struct kith_record *rec = NULL;
  char *f = NULL;
  if (kith_record_load(m->txn, id, &rec) != 0)
    return 0;
  const char *name = kith_record_text(rec, m->field);
  size_t nl = strlen(m->needle);
  if (!rec->deleted && name && kith_fold(name, &f) == 0) {
    if (strcmp(f, m->needle) == 0 && m->found++ == 0)
      memcpy(m->id, id, 16);
    else if (strncmp(f, m->needle, nl) == 0 && f[nl] == ' ' && m->partial++ == 0)
      memcpy(m->pid, id, 16);
  }
  free(f);
  kith_record_free(rec);
  return 0;
}

/* A party: a peer by id prefix or name, else a contact by id prefix or name. */
static int resolve_party(kith_txn *txn, const char *arg, struct kith_intro_party *p)
{
  char *folded = NULL;
  memset(p, 0, sizeof *p);
  if (kith_record_resolve(txn, KITH_KIND_PEER, arg, p->id) == 0)
    return 0;
  if (kith_record_resolve(txn, KITH_KIND_CONTACT, arg, p->id) == 0) {
    p->contact = true;
    return 0;
  }
  if (kith_fold(arg, &folded) != 0)
    return cli_fail(KITH_EBADUTF8, "party");
  struct name_match pm = {txn, KITH_F_PEER_NAME, folded, 0, 0, {0}, {0}};
  struct name_match cm = {txn, KITH_F_NAME, folded, 0, 0, {0}, {0}};
  int rc = kith_kind_each(txn, KITH_KIND_PEER, match_one, &pm);
  if (rc == 0 && pm.found == 0)
    rc = kith_kind_each(txn, KITH_KIND_CONTACT, match_one, &cm);
  free(folded);
  if (rc)
    return cli_fail(rc, "cannot look up '%s'", arg);
  if (!pm.found && !cm.found && pm.partial + cm.partial == 1) { /* "Bea" */
    pm.found = pm.partial, cm.found = cm.partial;
    memcpy(pm.id, pm.pid, 16);
    memcpy(cm.id, cm.pid, 16);
  }
  if (pm.found > 1 || (!pm.found && cm.found > 1) ||
      (!pm.found && !cm.found && pm.partial + cm.partial > 1))
    return cli_error(EX_DATAERR_,
                     "more than one peer or contact is called '%s'; use the id", arg);
  if (pm.found == 0 && cm.found == 0)
    return cli_error(
        EX_DATAERR_,
        "no peer or contact '%s' (see 'kith peer list', 'kith contact list')", arg);
  memcpy(p->id, pm.found ? pm.id : cm.id, 16);
  p->contact = !pm.found;
  return 0;
}

/* An intro of mine or a proposal to me, by id prefix. */
static int resolve_intro(kith_txn *txn, const char *arg, uint8_t id[16], bool *mine)
{
  int rc = kith_record_resolve(txn, KITH_KIND_INTRO, arg, id);
  *mine = rc == 0;
  if (rc == KITH_ENOTFOUND)
    rc = kith_record_resolve(txn, KITH_KIND_PROPOSAL, arg, id);
  if (rc == KITH_EAMBIGUOUS)
    return cli_error(EX_DATAERR_, "id '%s' matches more than one introduction", arg);
  if (rc == KITH_ENOTFOUND || rc == KITH_EINVAL)
    return cli_error(EX_DATAERR_, "no introduction '%s' (see 'kith intro list')", arg);
  return rc ? cli_fail(rc, "cannot look up introduction '%s'", arg) : 0;
}

static json_t *view_json(const struct kith_intro_view *v)
{
  char hex[33], exp[25];
  kith_hex_encode(v->id, 16, hex);
  kith_intro_iso(v->expires_ms, exp);
  json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "id", hex, "status", v->status, "role",
                        v->mine ? "introducer" : "party", "expires", exp);
  if (!o)
    return NULL;
  if (v->mine) {
    json_t *parties = json_array();
    for (int i = 0; parties && i < 2; i++) {
      char pid[33];
      kith_hex_encode(v->party[i].id, 16, pid);
      json_array_append_new(parties, json_pack("{s:s, s:s, s:s, s:s, s:s?}", "kind",
                                               v->party[i].contact ? "contact" : "peer",
                                               "id", pid, "name", v->name[i], "answer",
                                               v->answer[i], "message", v->message[i]));
    }
    json_object_set_new(o, "parties", parties);
  } else {
    json_object_set_new(o, "introducer", json_string(v->introducer));
    json_object_set_new(o, "other_name",
                        json_string(v->other_name ? v->other_name : ""));
    json_object_set_new(o, "message",
                        v->my_message ? json_string(v->my_message) : json_null());
    json_object_set_new(o, "share", v->share ? json_string(v->share) : json_null());
    if (v->contact_made) {
      char cid[33];
      kith_hex_encode(v->contact, 16, cid);
      json_object_set_new(o, "contact", json_string(cid));
    }
  }
  return o;
}

static void view_print(const struct kith_intro_view *v, bool full)
{
  char hex[33], exp[25];
  kith_hex_encode(v->id, 16, hex);
  kith_intro_iso(v->expires_ms, exp);
  if (v->mine) {
    printf("%.8s  %-15s  %s (%s) and %s (%s)\n", hex, v->status, v->name[0],
           v->answer[0], v->name[1], v->answer[1]);
    if (full) {
      for (int i = 0; i < 2; i++)
        if (v->message[i])
          printf("  message for %s: %s\n", v->name[i], v->message[i]);
      printf("  expires %s\n", exp);
    }
    return;
  }
  printf("%.8s  %-15s  %s introduces you to %s\n", hex, v->status, v->introducer,
         v->other_name ? v->other_name : "");
  if (full) {
    if (v->my_message)
      printf("  message: %s\n", v->my_message);
    if (v->share)
      printf("  you share: %s\n", v->share);
    if (v->contact_made) {
      char cid[33];
      kith_hex_encode(v->contact, 16, cid);
      printf("  contact: %s (kith contact show %.8s)\n", cid, cid);
    }
    printf("  expires %s\n", exp);
  }
}

static int show_one(struct cli *cli, kith_txn *txn, const uint8_t id[16], bool full,
                    json_t *arr)
{
  struct kith_record *rec = NULL;
  struct kith_intro_view v;
  int rc = kith_record_load(txn, id, &rec);
  if (rc == 0)
    rc = kith_intro_view(txn, rec, cli_now_ms(), &v);
  if (rc) {
    kith_record_free(rec);
    return rc == KITH_EINVAL || rc == KITH_ENOTFOUND ? 0 : rc;
  }
  if (cli->json) {
    json_t *o = view_json(&v);
    rc = o && json_array_append_new(arr, o) == 0 ? 0 : KITH_ENOMEM;
  } else {
    view_print(&v, full);
  }
  kith_record_free(rec);
  return rc;
}

struct listed {
  uint8_t id[16];
  uint64_t hlc; /* when it was made */
};

static int newest_first(const void *a, const void *b)
{
  const struct listed *x = a, *y = b;
  return x->hlc < y->hlc ? 1 : x->hlc > y->hlc ? -1 : memcmp(x->id, y->id, 16);
}

/* My intros and the proposals made to me, newest first. */
static int list(struct cli *cli, kith_txn *txn)
{
  struct kith_id_list ids = {0};
  struct listed *v = NULL;
  size_t n = 0;
  json_t *arr = cli->json ? json_array() : NULL;
  int rc = kith_kind_each(txn, KITH_KIND_INTRO, kith_id_collect, &ids);
  if (rc == 0)
    rc = kith_kind_each(txn, KITH_KIND_PROPOSAL, kith_id_collect, &ids);
  if (rc == 0 && ids.n && !(v = calloc(ids.n, sizeof *v)))
    rc = KITH_ENOMEM;
  for (size_t i = 0; rc == 0 && i < ids.n; i++) {
    struct kith_record *rec = NULL;
    bool mine = false;
    if ((rc = kith_record_load(txn, ids.v[i], &rec)) != 0)
      break;
    /* my own proposals (in each partnership) show as the intro they belong to */
    if (rec->kind == KITH_KIND_PROPOSAL)
      rc = kith_dev_mine(txn, rec->created.dev, &mine);
    if (rc == 0 && !mine) {
      memcpy(v[n].id, rec->id, 16);
      v[n++].hlc = rec->created.hlc;
    }
    kith_record_free(rec);
  }
  if (rc == 0 && n)
    qsort(v, n, sizeof *v, newest_first);
  for (size_t i = 0; rc == 0 && i < n; i++)
    rc = show_one(cli, txn, v[i].id, false, arr);
  free(ids.v);
  free(v);
  if (rc) {
    json_decref(arr);
    return cli_fail(rc, "cannot list introductions");
  }
  if (cli->json)
    return cli_json_print(arr);
  if (n == 0)
    printf("no introductions (kith intro propose PARTY PARTY)\n");
  return 0;
}

static int print_result(struct cli *cli, kith_txn *txn, const uint8_t id[16])
{
  json_t *arr = cli->json ? json_array() : NULL;
  int rc = show_one(cli, txn, id, true, arr);
  if (rc) {
    json_decref(arr);
    return cli_fail(rc, "cannot read the introduction");
  }
  if (!cli->json)
    return 0;
  json_t *one = json_incref(json_array_get(arr, 0));
  json_decref(arr);
  return cli_json_print(one);
}

static int fail_write(kith_txn *txn, int rc, const char *what)
{
  kith_txn_abort(txn);
  if (rc == KITH_EEXPIRED)
    return cli_error(EX_DATAERR_, "cannot %s: the introduction has expired", what);
  if (rc == KITH_EUNKFIELD)
    return cli_error(EX_DATAERR_,
                     "cannot %s: --share names a field a card does not give (name, "
                     "given_name, org, title, emails, phones, links, ims...)",
                     what);
  if (rc == KITH_EINVAL)
    return cli_error(EX_DATAERR_,
                     "cannot %s: the introduction is closed, completed or not yours to "
                     "answer",
                     what);
  return cli_fail(rc, "cannot %s", what);
}

static int propose(struct cli *cli, int argc, char **argv)
{
  const char *msg[2] = {NULL, NULL}, *parties[2] = {NULL, NULL};
  uint64_t expires = 14ull * 86400000;
  int nmsg = 0, nparty = 0, rc;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--message") == 0 || strcmp(argv[i], "-m") == 0) {
      if (i + 1 >= argc)
        return cli_usage(intro_usage, "--message needs a TEXT");
      if (nmsg == 2)
        return cli_usage(intro_usage, "--message at most twice");
      msg[nmsg++] = argv[++i];
    } else if (strcmp(argv[i], "--expires") == 0) {
      if (i + 1 >= argc ||
          (expires = cli_parse_duration_ms(argv[++i], 3650ull * 86400000)) == 0)
        return cli_usage(intro_usage,
                         "--expires needs a DURATION like 2s, 30m, 12h, 7d");
    } else if (argv[i][0] == '-' && argv[i][1]) {
      return cli_usage(intro_usage, "unknown option '%s'", argv[i]);
    } else if (nparty == 2) {
      return cli_usage(intro_usage, "too many arguments: two parties");
    } else {
      parties[nparty++] = argv[i];
    }
  }
  if (nparty != 2)
    return cli_usage(intro_usage, "intro propose needs two parties");
  if (nmsg == 1)
    msg[1] = msg[0];
  kith_txn *txn = NULL;
  struct kith_intro_party p[2];
  uint8_t id[16];
  if ((rc = cli_open(cli)) != 0 || (rc = cli_begin(cli, true, &txn)) != 0)
    return rc;
  for (int i = 0; i < 2; i++)
    if ((rc = resolve_party(txn, parties[i], &p[i])) != 0) {
      kith_txn_abort(txn);
      return rc;
    }
  uint64_t now = cli_now_ms();
  rc = kith_intro_propose(txn, p, msg, now + expires, now, id);
  if (rc == KITH_EINVAL) {
    kith_txn_abort(txn);
    return cli_error(EX_DATAERR_, "cannot propose: the parties must be two different "
                                  "people, at least one a partner you are paired with");
  }
  if (rc == 0)
    rc = kith_intros_step(txn, now);
  if (rc)
    return fail_write(txn, rc, "propose the introduction");
  if ((rc = cli_commit(txn)) != 0)
    return rc;
  if ((rc = cli_begin(cli, false, &txn)) != 0)
    return rc;
  rc = print_result(cli, txn, id);
  kith_txn_abort(txn);
  if (rc == 0 && !cli->json)
    printf("sync with your partners to send it\n");
  return rc;
}

/* accept / decline ID [--share FIELDS] [--for PARTY] */
static int answer(struct cli *cli, bool accept, int argc, char **argv)
{
  const char *id_arg = NULL, *share = NULL, *for_arg = NULL;
  int rc;
  for (int i = 1; i < argc; i++) {
    if (accept && strcmp(argv[i], "--share") == 0) {
      if (i + 1 >= argc)
        return cli_usage(intro_usage, "--share needs FIELDS (e.g. emails,phones)");
      share = argv[++i];
    } else if (strcmp(argv[i], "--for") == 0) {
      if (i + 1 >= argc)
        return cli_usage(intro_usage, "--for needs a PARTY");
      for_arg = argv[++i];
    } else if (argv[i][0] == '-' && argv[i][1]) {
      return cli_usage(intro_usage, "unknown option '%s'", argv[i]);
    } else if (id_arg) {
      return cli_usage(intro_usage, "too many arguments");
    } else {
      id_arg = argv[i];
    }
  }
  if (!id_arg)
    return cli_usage(intro_usage, "missing ID");
  kith_txn *txn = NULL;
  uint8_t id[16];
  bool mine;
  const char *what = accept ? "accept" : "decline";
  if ((rc = cli_open(cli)) != 0 || (rc = cli_begin(cli, true, &txn)) != 0)
    return rc;
  if ((rc = resolve_intro(txn, id_arg, id, &mine)) != 0) {
    kith_txn_abort(txn);
    return rc;
  }
  uint64_t now = cli_now_ms();
  if (mine) {
    struct kith_intro_party p;
    struct kith_record *rec = NULL;
    struct kith_intro_view v;
    int party = -1;
    if (!for_arg) {
      kith_txn_abort(txn);
      return cli_usage(intro_usage,
                       "this is your own introduction: --for PARTY records "
                       "a contact party's answer");
    }
    if ((rc = resolve_party(txn, for_arg, &p)) != 0) {
      kith_txn_abort(txn);
      return rc;
    }
    if ((rc = kith_record_load(txn, id, &rec)) == 0 &&
        (rc = kith_intro_view(txn, rec, now, &v)) == 0)
      for (int i = 0; i < 2; i++)
        if (v.party[i].contact == p.contact && memcmp(v.party[i].id, p.id, 16) == 0)
          party = i;
    kith_record_free(rec);
    if (rc == 0 && party < 0) {
      kith_txn_abort(txn);
      return cli_error(EX_DATAERR_, "'%s' is not a party of this introduction",
                       for_arg);
    }
    if (rc == 0 && !p.contact) {
      kith_txn_abort(txn);
      return cli_error(EX_DATAERR_,
                       "'%s' uses kith: they answer themselves (kith intro %s)",
                       for_arg, what);
    }
    if (rc == 0)
      rc = kith_intro_consent(txn, id, party, accept, share, now);
  } else {
    if (for_arg) {
      kith_txn_abort(txn);
      return cli_usage(intro_usage, "--for is for the introducer");
    }
    rc = kith_intro_answer(txn, id, accept, share, now);
  }
  if (rc == 0)
    rc = kith_intros_step(txn, now);
  if (rc)
    return fail_write(txn, rc, what);
  if ((rc = cli_commit(txn)) != 0 || (rc = cli_begin(cli, false, &txn)) != 0)
    return rc;
  rc = print_result(cli, txn, id);
  kith_txn_abort(txn);
  return rc;
}

int cmd_intro(struct cli *cli, int argc, char **argv)
{
  kith_txn *txn = NULL;
  uint8_t id[16];
  bool mine;
  int rc;
  if (argc < 2)
    return intro_help(stderr);
  const char *sub = argv[1];
  if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 ||
      strcmp(sub, "help") == 0 || cli_wants_help(argc, argv))
    return intro_help(stdout);
  if (strcmp(sub, "propose") == 0)
    return propose(cli, argc - 1, argv + 1);
  if (strcmp(sub, "accept") == 0 || strcmp(sub, "decline") == 0)
    return answer(cli, strcmp(sub, "accept") == 0, argc - 1, argv + 1);
  if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0) {
    if (argc != 2)
      return cli_usage(intro_usage, "unexpected argument '%s'", argv[2]);
    if ((rc = cli_open(cli)) != 0 || (rc = cli_begin(cli, false, &txn)) != 0)
      return rc;
    rc = list(cli, txn);
    kith_txn_abort(txn);
    return rc;
  }
  bool show = strcmp(sub, "show") == 0, withdraw = strcmp(sub, "withdraw") == 0;
  if (!show && !withdraw)
    return cli_usage(intro_usage, "unknown subcommand 'intro %s'", sub);
  if (argc != 3)
    return cli_usage(intro_usage, argc < 3 ? "missing ID" : "too many arguments");
  if (argv[2][0] == '-')
    return cli_usage(intro_usage, "unknown option '%s'", argv[2]);
  if ((rc = cli_open(cli)) != 0 || (rc = cli_begin(cli, withdraw, &txn)) != 0)
    return rc;
  if ((rc = resolve_intro(txn, argv[2], id, &mine)) != 0) {
    kith_txn_abort(txn);
    return rc;
  }
  if (show) {
    rc = print_result(cli, txn, id);
    kith_txn_abort(txn);
    return rc;
  }
  if (!mine) {
    kith_txn_abort(txn);
    return cli_error(EX_DATAERR_,
                     "only the introducer withdraws; decline it instead "
                     "(kith intro decline %s)",
                     argv[2]);
  }
  rc = kith_intro_withdraw(txn, id);
  if (rc == KITH_EINVAL) {
    kith_txn_abort(txn);
    return cli_error(EX_DATAERR_,
                     "cannot withdraw: it is completed or withdrawn already");
  }
  if (rc)
    return fail_write(txn, rc, "withdraw");
  if ((rc = cli_commit(txn)) != 0 || (rc = cli_begin(cli, false, &txn)) != 0)
    return rc;
  rc = print_result(cli, txn, id);
  kith_txn_abort(txn);
  return rc;
}
