/* kith followup, kith due, kith tag list | cadence: the everyday reminders */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmds.h"
#include "core/cadence.h"
#include "core/fold.h"
#include "proto/hex.h"

static const char followup_usage[] =
    "kith followup CONTACT DATE | kith followup CONTACT --clear";
static const char due_usage[] = "kith due [--within SPAN] [--tag TAG]";
static const char cadence_usage[] = "kith tag cadence TAG SPAN|off";
static const char tag_list_usage[] = "kith tag list";

/* "3d", "2w", "1m", "1y": a count and a unit, as spans are typed here. The count
 * is 1..9999. False if malformed. */
static bool parse_span(const char *s, unsigned *count, char *unit)
{
  unsigned v = 0;
  size_t i = 0;
  for (; s[i] >= '0' && s[i] <= '9' && i < 4; i++)
    v = v * 10 + (unsigned)(s[i] - '0');
  if (i == 0 || v == 0 || !strchr("dwmy", s[i]) || !s[i] || s[i + 1])
    return false;
  *count = v, *unit = s[i];
  return true;
}

/* today plus a span, on the calendar: +1m is the same day next month (or that
 * month's last day), +1y the same day next year. False past ten years. */
static bool add_span(int32_t today, unsigned count, char unit, int32_t *out)
{
  unsigned days = unit == 'd' ? count : unit == 'w' ? count * 7 : 0;
  unsigned months = unit == 'm' ? count : unit == 'y' ? count * 12 : 0;
  if (days > KITH_CADENCE_MAX_DAYS || months > 120)
    return false;
  *out = months ? kith_day_add_months(today, (int)months) : today + (int32_t)days;
  return true;
}

/* DATE as `followup` takes it: YYYY-MM-DD, today, tomorrow, or +SPAN. */
static bool parse_when(const char *s, int32_t today, int32_t *out)
{
  unsigned count;
  char unit;
  if (strcmp(s, "today") == 0)
    return *out = today, true;
  if (strcmp(s, "tomorrow") == 0)
    return *out = today + 1, true;
  if (s[0] == '+')
    return parse_span(s + 1, &count, &unit) && add_span(today, count, unit, out);
  return strlen(s) == 10 && kith_day_parse(s, out);
}

/* ---- followup ---------------------------------------------------------------- */

static int followup_help(void)
{
  printf("usage: %s\n\n"
         "Sets when to get back to a contact; 'kith due' lists it from that day on.\n"
         "DATE is YYYY-MM-DD, today, tomorrow, or a span from today: +3d (days),\n"
         "+2w (weeks), +1m (the same day next month, or its last day), +1y (next\n"
         "year). --clear (or DATE 'done') removes the follow-up. Dates are local.\n"
         "With --json: the contact, as 'kith contact show --json' prints it.\n\n"
         "examples:\n"
         "  kith followup 3fa2 +2w          # in two weeks\n"
         "  kith followup 3fa2 2026-12-01\n"
         "  kith followup 3fa2 done         # talked to them: clear it\n",
         followup_usage);
  return 0;
}

int cmd_followup(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = {{"clear", no_argument, NULL, 'c'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  bool clear = false;
  int c;
  kith_txn *txn = NULL;
  struct kith_record *rec = NULL;
  uint8_t id[16];
  int32_t today, day = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (c == 'h')
      return followup_help();
    if (c != 'c')
      return cli_usage(followup_usage, "unknown option '%s'", argv[optind - 1]);
    clear = true;
  }
  argc -= optind, argv += optind;
  if (argc < 1)
    return cli_usage(followup_usage, "missing the contact id");
  if (argc > 2)
    return cli_usage(followup_usage, "unexpected argument '%s'", argv[2]);
  if (argc == 2 && strcmp(argv[1], "done") == 0 && !clear)
    clear = true, argc = 1;
  if (clear && argc == 2)
    return cli_usage(followup_usage, "give a DATE or --clear, not both");
  if (!clear && argc < 2)
    return cli_usage(followup_usage, "missing the date (YYYY-MM-DD, today, +3d...)");
  int rc = cli_today(&today);
  if (rc)
    return rc;
  if (!clear && !parse_when(argv[1], today, &day))
    return cli_usage(followup_usage,
                     "'%s' is not a date: give YYYY-MM-DD, today, tomorrow, or +3d, "
                     "+2w, +1m, +1y",
                     argv[1]);
  char text[KITH_DAY_LEN], rel[32];
  kith_day_format(day, text);
  const char *p = text;
  struct kith_value *v = clear ? NULL : kith_value_new(1, &p);
  if (!clear && !v)
    return cli_fail(KITH_ENOMEM, "followup");
  if ((rc = cli_open(cli)) != 0 || (rc = cli_begin(cli, true, &txn)) != 0 ||
      (rc = cli_resolve(txn, KITH_KIND_CONTACT, argv[0], id)) != 0)
    goto out;
  if ((rc = kith_field_set(txn, id, kith_field_by_id(KITH_F_FOLLOW_UP), v)) != 0) {
    rc = cli_fail(rc, "cannot set the follow-up");
    goto out;
  }
  rc = cli_commit(txn);
  txn = NULL;
  if (rc || (rc = cli_begin(cli, false, &txn)) != 0)
    goto out;
  if ((rc = kith_record_load(txn, id, &rec)) != 0) {
    rc = cli_fail(rc, "cannot read the contact");
    goto out;
  }
  if (cli->json) {
    rc = cli_json_print(kith_json_record(txn, rec, KITH_JSON_NOTES));
    goto out;
  }
  const char *name = kith_record_text(rec, KITH_F_NAME);
  cli_day_relative(day, today, rel, sizeof rel);
  if (clear)
    printf("No follow-up with %s.\n", name ? name : "(no name)");
  else
    printf("Follow up with %s on %s (%s).\n", name ? name : "(no name)", text, rel);
out:
  kith_record_free(rec);
  kith_txn_abort(txn);
  kith_value_free(v);
  return rc;
}

/* ---- due --------------------------------------------------------------------- */

static int due_help(void)
{
  printf(
      "usage: %s\n\n"
      "What needs doing, soonest first: contacts whose follow-up ('kith followup')\n"
      "is today or past, and contacts not touched for longer than the cadence of\n"
      "one of their tags ('kith tag cadence'; the smallest counts), from their\n"
      "last contact (a note sets it) or, if never, from when they were added.\n"
      "--within SPAN also lists what falls due in the next SPAN (3d, 2w, 1m, 1y);\n"
      "--tag keeps the contacts with that tag. Overdue dates are red on a\n"
      "terminal (NO_COLOR turns colour off).\n\n"
      "With --json: an array of {\"id\", \"name\", \"due\" (YYYY-MM-DD), \"reason\"\n"
      "(\"follow_up\" or \"cadence\"), \"tag\" and \"cadence_days\" (cadence), "
      "\"last_contacted\"\n(if ever), \"days_overdue\" (negative: not yet due)}, "
      "sorted by due date then id.\n\n"
      "examples:\n"
      "  kith due\n"
      "  kith due --within 1w --tag climate\n",
      due_usage);
  return 0;
}

/* "every 30d (tag climate), last 45 days ago" */
static void why_text(const struct kith_due *d, int32_t today, char *out, size_t n)
{
  char rel[32];
  if (d->reason == KITH_DUE_FOLLOW_UP) {
    snprintf(out, n, "follow-up");
    return;
  }
  if (d->last == KITH_DAY_NONE) {
    snprintf(out, n, "every %ud (tag %s), never contacted", d->every, d->tag);
    return;
  }
  cli_day_relative(d->last, today, rel, sizeof rel);
  snprintf(out, n, "every %ud (tag %s), last %s", d->every, d->tag, rel);
}

static json_t *due_json(const struct kith_due *d, int32_t today)
{
  char hex[33], due[KITH_DAY_LEN], last[KITH_DAY_LEN];
  kith_hex_encode(d->id, 16, hex);
  kith_day_format(d->due, due);
  json_t *o =
      json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", hex, "name", d->name, "due", due,
                "reason", d->reason == KITH_DUE_FOLLOW_UP ? "follow_up" : "cadence",
                "days_overdue", (json_int_t)today - d->due);
  if (o && d->reason == KITH_DUE_CADENCE) {
    json_object_set_new(o, "tag", json_string(d->tag));
    json_object_set_new(o, "cadence_days", json_integer(d->every));
  }
  if (o && d->last != KITH_DAY_NONE) {
    kith_day_format(d->last, last);
    json_object_set_new(o, "last_contacted", json_string(last));
  }
  return o;
}

static void due_table(const struct kith_due_list *l, int32_t today)
{
  size_t wn = 4, wd = 3;
  char rel[32], why[512];
  for (size_t i = 0; i < l->n; i++) {
    cli_day_relative(l->v[i].due, today, rel, sizeof rel);
    wn = cli_width(l->v[i].name) > wn ? cli_width(l->v[i].name) : wn;
    wd = strlen(rel) > wd ? strlen(rel) : wd;
  }
  wn = wn > 28 ? 28 : wn;
  cli_paint(stdout, CLI_BOLD, "ID        ");
  cli_paint_pad(stdout, CLI_BOLD, "NAME", wn);
  fputs("  ", stdout);
  cli_paint_pad(stdout, CLI_BOLD, "DUE", wd);
  fputs("  ", stdout);
  cli_paint(stdout, CLI_BOLD, "WHY");
  fputc('\n', stdout);
  for (size_t i = 0; i < l->n; i++) {
    const struct kith_due *d = &l->v[i];
    char hex[33];
    kith_hex_encode(d->id, 16, hex);
    hex[8] = 0;
    printf("%s  ", hex);
    cli_pad(stdout, d->name, wn);
    fputs("  ", stdout);
    cli_day_relative(d->due, today, rel, sizeof rel);
    if (d->due < today)
      cli_paint_pad(stdout, CLI_RED, rel, wd);
    else if (d->due == today)
      cli_paint_pad(stdout, CLI_YELLOW, rel, wd);
    else
      cli_pad(stdout, rel, wd);
    why_text(d, today, why, sizeof why);
    printf("  %s\n", why);
  }
}

int cmd_due(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = {{"within", required_argument, NULL, 'w'},
                                       {"tag", required_argument, NULL, 't'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *within = NULL, *tag = NULL;
  struct kith_due_list l = {0};
  kith_txn *txn = NULL;
  int32_t today, until;
  unsigned count = 0;
  char unit = 'd';
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'w':
      within = optarg;
      break;
    case 't':
      tag = optarg;
      break;
    case 'h':
      return due_help();
    default:
      return cli_usage(due_usage, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc)
    return cli_usage(due_usage, "unexpected argument '%s'", argv[optind]);
  int rc = cli_today(&today);
  if (rc)
    return rc;
  until = today;
  if (within &&
      (!parse_span(within, &count, &unit) || !add_span(today, count, unit, &until)))
    return cli_usage(due_usage, "--within '%s' is not a span: give 3d, 2w, 1m or 1y",
                     within);
  if (tag && !kith_utf8_valid(tag, strlen(tag)))
    return cli_fail(KITH_EBADUTF8, "--tag");
  if ((rc = cli_open(cli)) != 0 || (rc = cli_begin(cli, false, &txn)) != 0)
    goto out;
  if ((rc = kith_due_load(txn, until, tag, &l)) != 0) {
    rc = cli_fail(rc, "cannot work out what is due");
    goto out;
  }
  if (cli->json) {
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < l.n; i++)
      if (json_array_append_new(arr, due_json(&l.v[i], today)) != 0) {
        json_decref(arr);
        arr = NULL;
      }
    rc = cli_json_print(arr);
  } else if (l.n == 0) {
    puts("Nothing due.");
  } else {
    due_table(&l, today);
  }
out:
  kith_due_list_clear(&l);
  kith_txn_abort(txn);
  return rc;
}

/* ---- tag --------------------------------------------------------------------- */

static int tag_help(FILE *f)
{
  fprintf(f,
          "usage: kith tag list|cadence ...\n\n  %s\n  %s\n\n"
          "list: every tag on your contacts, how many contacts carry it, and its\n"
          "cadence. With --json: an array of {\"tag\", \"contacts\", \"cadence_days\"\n"
          "(null if none)} sorted by tag (case and accents ignored).\n\n"
          "cadence: how often the contacts with TAG want a touch (a note, a call);\n"
          "'kith due' lists those left longer. SPAN is 30d (days), 2w (weeks), 3m\n"
          "(a month counts 30 days) or 1y (365 days), at most ten years; off removes\n"
          "it. Cadences sync to your own devices only, never to partners. With\n"
          "--json: {\"tag\", \"cadence_days\"}.\n\n"
          "examples:\n"
          "  kith tag cadence climate 30d\n"
          "  kith tag cadence investors 2w\n"
          "  kith tag cadence climate off\n",
          tag_list_usage, cadence_usage);
  return f == stdout ? 0 : EX_USAGE_;
}

static int tag_cadence(struct cli *cli, int argc, char **argv)
{
  kith_txn *txn = NULL;
  unsigned count = 0, days = 0;
  char unit = 0;
  if (cli_wants_help(argc, argv))
    return tag_help(stdout);
  if (argc != 3)
    return cli_usage(cadence_usage,
                     argc < 2   ? "missing the tag"
                     : argc < 3 ? "missing the span (30d, 2w, 3m, 1y) or 'off'"
                                : "too many arguments (quote a tag with spaces)");
  const char *tag = argv[1], *span = argv[2];
  if (strcmp(span, "off") != 0) {
    if (!parse_span(span, &count, &unit))
      return cli_usage(cadence_usage, "'%s' is not a span: give 30d, 2w, 3m, 1y or off",
                       span);
    days = count * (unit == 'd' ? 1 : unit == 'w' ? 7 : unit == 'm' ? 30 : 365);
    if (days > KITH_CADENCE_MAX_DAYS)
      return cli_usage(cadence_usage, "'%s' is longer than ten years", span);
  }
  if (!*tag || strlen(tag) > KITH_TAG_MAX)
    return cli_usage(cadence_usage, "a tag is 1 to %d bytes", KITH_TAG_MAX);
  if (!kith_utf8_valid(tag, strlen(tag)))
    return cli_fail(KITH_EBADUTF8, "tag");
  int rc = cli_open(cli);
  if (rc == 0)
    rc = cli_begin(cli, true, &txn);
  if (rc == 0 && (rc = kith_cadence_set(txn, tag, days)) != 0)
    rc = cli_fail(rc, "cannot set the cadence of tag '%s'", tag);
  if (rc == 0) {
    rc = cli_commit(txn);
    txn = NULL;
  }
  if (rc)
    goto out;
  if (cli->json)
    rc = cli_json_print(json_pack("{s:s, s:o}", "tag", tag, "cadence_days",
                                  days ? json_integer(days) : json_null()));
  else if (days)
    printf("Contacts tagged %s want a touch every %u days.\n", tag, days);
  else
    printf("Tag %s has no cadence.\n", tag);
out:
  kith_txn_abort(txn);
  return rc;
}

/* One tag on one contact, for counting. */
struct tag_seen {
  char *folded;
  const char *tag; /* borrowed from the record kept in recs */
};

struct tag_ctx {
  kith_txn *txn;
  struct tag_seen *v;
  size_t n, cap;
  struct kith_record **recs;
  size_t nrec, caprec;
};

static int tag_gather(void *arg, const uint8_t id[16])
{
  struct tag_ctx *c = arg;
  struct kith_record *rec = NULL;
  int rc = kith_record_load(c->txn, id, &rec);
  if (rc)
    return rc == KITH_ENOTFOUND ? 0 : rc;
  if (rec->deleted || rec->kind != KITH_KIND_CONTACT) {
    kith_record_free(rec);
    return 0;
  }
  if (c->nrec == c->caprec) {
    size_t cap = c->caprec ? c->caprec * 2 : 64;
    struct kith_record **r = realloc(c->recs, cap * sizeof *r);
    if (!r) {
      kith_record_free(rec);
      return KITH_ENOMEM;
    }
    c->recs = r, c->caprec = cap;
  }
  c->recs[c->nrec++] = rec;
  for (size_t i = 0; i < rec->n; i++) {
    const struct kith_reg *r = &rec->regs[i];
    char *folded = NULL;
    if (r->field != KITH_F_TAGS || !kith_reg_live(r) || !r->val->p[0])
      continue;
    if (kith_fold(r->val->p[0], &folded) != 0)
      continue;
    if (c->n == c->cap) {
      size_t cap = c->cap ? c->cap * 2 : 64;
      struct tag_seen *v = realloc(c->v, cap * sizeof *v);
      if (!v) {
        free(folded);
        return KITH_ENOMEM;
      }
      c->v = v, c->cap = cap;
    }
    c->v[c->n++] = (struct tag_seen){folded, r->val->p[0]};
  }
  return 0;
}

static int by_tag(const void *a, const void *b)
{
  const struct tag_seen *x = a, *y = b;
  int c = strcmp(x->folded, y->folded);
  return c ? c : strcmp(x->tag, y->tag);
}

/* A row of `tag list`: the tag as most of its contacts spell it, how many
 * contacts carry it, its cadence. */
struct tag_row {
  const char *tag, *folded;
  size_t contacts;
  uint32_t days;
};

static int tag_list(struct cli *cli, int argc, char **argv)
{
  struct tag_ctx c = {0};
  struct kith_cadence_list cad = {0};
  struct tag_row *rows = NULL;
  size_t nrows = 0;
  kith_txn *txn = NULL;
  if (cli_wants_help(argc, argv))
    return tag_help(stdout);
  if (argc > 1)
    return cli_usage(tag_list_usage, "unexpected argument '%s'", argv[1]);
  int rc = cli_open(cli);
  if (rc == 0)
    rc = cli_begin(cli, false, &txn);
  if (rc)
    return rc;
  c.txn = txn;
  if ((rc = kith_kind_each(txn, KITH_KIND_CONTACT, tag_gather, &c)) != 0 ||
      (rc = kith_cadences_load(txn, &cad)) != 0) {
    rc = cli_fail(rc, "cannot list tags");
    goto out;
  }
  if (c.n)
    qsort(c.v, c.n, sizeof *c.v, by_tag);
  if (!(rows = calloc(c.n + cad.n + 1, sizeof *rows))) {
    rc = cli_fail(KITH_ENOMEM, "tag list");
    goto out;
  }
  /* merge the sorted tags seen and the sorted cadences, both by folded tag */
  for (size_t i = 0, k = 0; i < c.n || k < cad.n;) {
    int cmp = i == c.n ? 1 : k == cad.n ? -1 : strcmp(c.v[i].folded, cad.v[k].folded);
    struct tag_row *r = &rows[nrows++];
    if (cmp <= 0) { /* the spelling most contacts use; on a tie, the first */
      size_t best = 0;
      r->tag = c.v[i].tag, r->folded = c.v[i].folded;
      while (i < c.n && strcmp(c.v[i].folded, r->folded) == 0) {
        size_t same = 1;
        while (i + same < c.n && strcmp(c.v[i + same].tag, c.v[i].tag) == 0)
          same++;
        if (same > best)
          best = same, r->tag = c.v[i].tag;
        i += same, r->contacts += same;
      }
    } else {
      r->tag = cad.v[k].tag, r->folded = cad.v[k].folded;
    }
    if (cmp >= 0)
      r->days = cad.v[k++].days;
  }
  if (cli->json) {
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < nrows; i++)
      if (json_array_append_new(arr, json_pack("{s:s, s:I, s:o}", "tag", rows[i].tag,
                                               "contacts", (json_int_t)rows[i].contacts,
                                               "cadence_days",
                                               rows[i].days ? json_integer(rows[i].days)
                                                            : json_null())) != 0) {
        json_decref(arr);
        arr = NULL;
      }
    rc = cli_json_print(arr);
    goto out;
  }
  if (nrows == 0) {
    fprintf(stderr, "no tags yet (add one with 'kith contact add --tag' or "
                    "'kith contact set ID tags=...')\n");
    goto out;
  }
  size_t wt = 3;
  for (size_t i = 0; i < nrows; i++)
    wt = cli_width(rows[i].tag) > wt ? cli_width(rows[i].tag) : wt;
  wt = wt > 32 ? 32 : wt;
  cli_paint_pad(stdout, CLI_BOLD, "TAG", wt);
  fputs("  ", stdout);
  cli_paint(stdout, CLI_BOLD, "CONTACTS  CADENCE");
  fputc('\n', stdout);
  for (size_t i = 0; i < nrows; i++) {
    char every[32] = "-";
    if (rows[i].days)
      snprintf(every, sizeof every, "every %ud", rows[i].days);
    cli_pad(stdout, rows[i].tag, wt);
    printf("  %8zu  %s\n", rows[i].contacts, every);
  }
out:
  free(rows);
  for (size_t i = 0; i < c.n; i++)
    free(c.v[i].folded);
  free(c.v);
  for (size_t i = 0; i < c.nrec; i++)
    kith_record_free(c.recs[i]);
  free(c.recs);
  kith_cadence_list_clear(&cad);
  kith_txn_abort(txn);
  return rc;
}

int cmd_tag(struct cli *cli, int argc, char **argv)
{
  if (argc < 2)
    return tag_help(stderr);
  const char *sub = argv[1];
  argc--, argv++;
  if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0)
    return tag_list(cli, argc, argv);
  if (strcmp(sub, "cadence") == 0)
    return tag_cadence(cli, argc, argv);
  if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0)
    return tag_help(stdout);
  return cli_usage(NULL, "unknown subcommand 'tag %s' (see 'kith tag --help')", sub);
}
