/* kith contact add | list | show | set | rm */
#include <errno.h>
#include <getopt.h>
#include <qrencode.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmds.h"
#include "core/cadence.h"
#include "core/fold.h"
#include "core/mycard.h"
#include "core/vcard.h"
#include "proto/hex.h"

static const char add_usage[] =
    "kith contact add --name NAME [--email E]... [--phone P]... [--org O] [--title T]\n"
    "       [--tag T]... [--met-at TEXT] [--link URL]... [--nickname N] [--birthday "
    "DATE]\n"
    "       [--needs TEXT] [--offers TEXT] [--note TEXT] [FIELD=VALUE]...";
static const char list_usage[] = "kith contact list [--tag T]... [--search Q]";
static const char show_usage[] = "kith contact show ID";
static const char set_usage[] = "kith contact set ID FIELD=VALUE...";
static const char rm_usage[] = "kith contact rm ID";

static const char card_usage[] =
    "kith card [show] [--format text|vcard] [-o FILE] [--qr] | kith card set "
    "FIELD=VALUE...";

/* The fields of kind (a contact, or my card) in FIELD=VALUE. */
static void field_help(FILE *f, int kind)
{
  size_t n;
  const struct kith_field *fs = kith_fields(&n);
  fputs("fields:", f);
  for (size_t i = 0; i < n; i++)
    if (kith_field_by_name(kind, fs[i].json) == &fs[i] &&
        fs[i].shape != KITH_SHAPE_XMAP)
      fprintf(f, " %s", fs[i].json);
  fputs(", x-NAME\n", f);
}

static int contact_help(FILE *f)
{
  fprintf(
      f,
      "usage: kith contact add|list|show|set|rm ...\n\n  %s\n  %s\n  %s\n  %s\n  %s\n\n"
      "IDs may be shortened to any unique prefix. On a list field (emails, phones,\n"
      "links, ims, tags, addresses; also email, phone...) FIELD=VALUE sets it to that\n"
      "one value; an empty VALUE clears a field; x-NAME=VALUE sets a free field.\n"
      "E-mails and phones take a kind: --phone cell:+44 20 7946 0000.\n",
      add_usage, list_usage, show_usage, set_usage, rm_usage);
  field_help(f, KITH_KIND_CONTACT);
  return f == stdout ? 0 : EX_USAGE_;
}

/* Applies FIELD=VALUE to a contact or (kind KITH_KIND_MYCARD) my card, with a
 * clear error for the user. */
static int set_pair(kith_txn *txn, int kind, const uint8_t id[16], const char *arg)
{
  bool card = kind == KITH_KIND_MYCARD;
  const char *eq = strchr(arg, '=');
  if (!eq || eq == arg)
    return cli_usage(card ? card_usage : set_usage, "'%s' is not FIELD=VALUE", arg);
  char field[128];
  size_t fl = (size_t)(eq - arg);
  if (fl >= sizeof field)
    return cli_fail(KITH_EUNKFIELD, "'%.40s...'", arg);
  memcpy(field, arg, fl);
  field[fl] = 0;
  int rc = card ? kith_mycard_set_text(txn, field, eq + 1)
                : kith_record_set_text(txn, kind, id, field, eq + 1);
  switch (rc) {
  case 0:
    return 0;
  case KITH_EUNKFIELD:
    return cli_error(EX_DATAERR_, "unknown field '%s'%s (see 'kith %s --help')", field,
                     card && kith_field_by_name(KITH_KIND_CONTACT, field)
                         ? ": your card holds your own details, not this"
                         : "",
                     card ? "card" : "contact");
  case KITH_EBADMSG: {
    const struct kith_field *f = kith_field_by_name(kind, field);
    if (f && f->id == KITH_F_NAME)
      return cli_error(EX_DATAERR_, "a contact needs a name; it cannot be cleared");
    if (f && f->shape == KITH_SHAPE_DATE)
      return cli_error(EX_DATAERR_,
                       "%s: '%s' is not a date (use YYYY-MM-DD, or "
                       "--MM-DD for a birthday without a year)",
                       field, eq + 1);
    return cli_error(EX_DATAERR_, "%s: '%s' is not a valid value", field, eq + 1);
  }
  default:
    return cli_fail(rc, "cannot set %s", field);
  }
}

static int add_pair(kith_txn *txn, const uint8_t id[16], const char *field,
                    const char *value)
{
  const struct kith_field *f = kith_field_by_name(KITH_KIND_CONTACT, field);
  struct kith_value *v = NULL;
  int rc;
  if (!kith_utf8_valid(value, strlen(value)))
    return cli_fail(KITH_EBADUTF8, "--%s", field);
  if (f->shape == KITH_SHAPE_TAGS)
    v = kith_value_new(1, &value);
  else
    v = kith_typed_value(value);
  if (!v)
    return cli_fail(KITH_ENOMEM, "--%s", field);
  rc = kith_set_add(txn, id, f, v);
  kith_value_free(v);
  if (rc)
    return cli_fail(rc, "--%s '%s'", field, value);
  return 0;
}

static int print_contact(struct cli *cli, kith_txn *txn, const uint8_t id[16]);

static int contact_add(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
                                       {"email", required_argument, NULL, 'e'},
                                       {"phone", required_argument, NULL, 'p'},
                                       {"org", required_argument, NULL, 'o'},
                                       {"title", required_argument, NULL, 't'},
                                       {"tag", required_argument, NULL, 'g'},
                                       {"met-at", required_argument, NULL, 'm'},
                                       {"link", required_argument, NULL, 'l'},
                                       {"nickname", required_argument, NULL, 'k'},
                                       {"birthday", required_argument, NULL, 'b'},
                                       {"needs", required_argument, NULL, 'N'},
                                       {"offers", required_argument, NULL, 'O'},
                                       {"note", required_argument, NULL, 'x'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *name = NULL, *note = NULL;
  int c, rc;
  /* First pass: check the options and find the name. */
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (c == 'h') {
      printf("usage: %s\n\nAdds a contact and prints its id.\n", add_usage);
      field_help(stdout, KITH_KIND_CONTACT);
      return 0;
    }
    if (c == '?')
      return cli_usage(add_usage, "unknown option or missing value: '%s'",
                       argv[optind - 1]);
    if (c == 'n')
      name = optarg;
    if (c == 'x')
      note = optarg;
  }
  if (!name || !*name)
    return cli_usage(add_usage, "a contact needs --name");
  if ((rc = cli_open(cli)) != 0)
    return rc;
  kith_txn *txn = NULL;
  uint8_t id[16];
  if ((rc = cli_begin(cli, true, &txn)) != 0)
    return rc;
  if ((rc = kith_record_create(txn, KITH_KIND_CONTACT, false, id)) != 0) {
    rc = cli_fail(rc, "cannot add the contact");
    goto out;
  }
  optind = 0;
  while (rc == 0 && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    const char *text_field = NULL, *set_field = NULL;
    switch (c) {
    case 'n':
      text_field = "name";
      break;
    case 'o':
      text_field = "org";
      break;
    case 't':
      text_field = "title";
      break;
    case 'm':
      text_field = "met_at";
      break;
    case 'k':
      text_field = "nickname";
      break;
    case 'b':
      text_field = "birthday";
      break;
    case 'N':
      text_field = "needs";
      break;
    case 'O':
      text_field = "offers";
      break;
    case 'e':
      set_field = "emails";
      break;
    case 'p':
      set_field = "phones";
      break;
    case 'g':
      set_field = "tags";
      break;
    case 'l':
      set_field = "links";
      break;
    default:
      break;
    }
    if (text_field) {
      char pair[64];
      snprintf(pair, sizeof pair, "%s=", text_field);
      char *full = malloc(strlen(pair) + strlen(optarg) + 1);
      if (!full) {
        rc = cli_fail(KITH_ENOMEM, "--%s", text_field);
        break;
      }
      memcpy(full, pair, strlen(pair));
      memcpy(full + strlen(pair), optarg, strlen(optarg) + 1);
      rc = set_pair(txn, KITH_KIND_CONTACT, id, full);
      free(full);
    } else if (set_field) {
      rc = add_pair(txn, id, set_field, optarg);
    }
  }
  for (int i = optind; rc == 0 && i < argc; i++)
    rc = set_pair(txn, KITH_KIND_CONTACT, id, argv[i]);
  if (rc == 0 && note) {
    uint8_t nid[16];
    rc = kith_note_create(txn, id, note, nid);
    if (rc)
      rc = cli_fail(rc, "cannot add the note");
  }
  if (rc)
    goto out;
  if ((rc = cli_commit(txn)) != 0) {
    txn = NULL;
    goto out;
  }
  txn = NULL;
  if (cli->json) {
    if ((rc = cli_begin(cli, false, &txn)) == 0)
      rc = print_contact(cli, txn, id);
  } else {
    char hex[33];
    kith_hex_encode(id, 16, hex);
    puts(hex);
  }
out:
  kith_txn_abort(txn);
  return rc;
}

/* ---- list ---------------------------------------------------------------- */

struct row {
  struct kith_record *rec;
  char *sort;
};

struct list_ctx {
  kith_txn *txn;
  char **tags;
  int ntags;
  char *needle; /* folded */
  struct row *rows;
  size_t n, cap;
};

static bool has_tag(const struct kith_record *rec, const char *tag)
{
  char *ft = NULL, *fv = NULL;
  bool hit = false;
  if (kith_fold(tag, &ft) != 0)
    return false;
  for (size_t i = 0; i < rec->n && !hit; i++) {
    const struct kith_reg *r = &rec->regs[i];
    if (r->field != KITH_F_TAGS || !kith_reg_live(r))
      continue;
    if (kith_fold(r->val->p[0], &fv) == 0)
      hit = strcmp(fv, ft) == 0;
    free(fv);
    fv = NULL;
  }
  free(ft);
  return hit;
}

struct note_hit {
  kith_txn *txn;
  const char *needle;
};

static int note_matches(void *arg, const uint8_t id[16])
{
  struct note_hit *h = arg;
  struct kith_record *n = NULL;
  if (kith_record_load(h->txn, id, &n) != 0)
    return 0;
  int hit = !n->deleted &&
            kith_fold_contains(kith_record_text(n, KITH_F_NOTE_TEXT), h->needle);
  kith_record_free(n);
  return hit;
}

static bool matches(kith_txn *txn, const struct kith_record *rec, const char *needle)
{
  static const uint8_t searched[] = {
      KITH_F_NAME,   KITH_F_GIVEN,  KITH_F_FAMILY, KITH_F_NICKNAME, KITH_F_ORG,
      KITH_F_TITLE,  KITH_F_MET_AT, KITH_F_NEEDS,  KITH_F_OFFERS,   KITH_F_EMAILS,
      KITH_F_PHONES, KITH_F_TAGS,   KITH_F_LINKS,  KITH_F_X};
  for (size_t i = 0; i < rec->n; i++) {
    const struct kith_reg *r = &rec->regs[i];
    if (!kith_reg_live(r) || !memchr(searched, r->field, sizeof searched))
      continue;
    for (int p = 0; p < r->val->n; p++)
      if (kith_fold_contains(r->val->p[p], needle))
        return true;
  }
  struct note_hit h = {txn, needle};
  return kith_notes_each(txn, rec->id, note_matches, &h) == 1;
}

static int list_one(void *arg, const uint8_t id[16])
{
  struct list_ctx *c = arg;
  struct kith_record *rec = NULL;
  int rc = kith_record_load(c->txn, id, &rec);
  if (rc == KITH_ENOTFOUND)
    return 0;
  if (rc)
    return rc;
  bool keep = !rec->deleted && rec->kind == KITH_KIND_CONTACT;
  for (int i = 1; keep && i < c->ntags; i++)
    keep = has_tag(rec, c->tags[i]);
  if (keep && c->needle)
    keep = matches(c->txn, rec, c->needle);
  if (!keep) {
    kith_record_free(rec);
    return 0;
  }
  if (c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 64;
    struct row *r = realloc(c->rows, cap * sizeof *r);
    if (!r) {
      kith_record_free(rec);
      return KITH_ENOMEM;
    }
    c->rows = r, c->cap = cap;
  }
  const char *name = kith_record_text(rec, KITH_F_NAME);
  char *sort = NULL;
  if (kith_fold(name ? name : "", &sort) != 0)
    sort = strdup("");
  c->rows[c->n++] = (struct row){rec, sort};
  return 0;
}

static int by_name(const void *a, const void *b)
{
  const struct row *x = a, *y = b;
  int c = strcmp(x->sort, y->sort);
  return c ? c : memcmp(x->rec->id, y->rec->id, 16);
}

/* The first value added to a set field that is still there: the primary one. */
static const char *first_value(const struct kith_record *rec, uint8_t field)
{
  const struct kith_reg *best = NULL;
  for (size_t i = 0; i < rec->n; i++) {
    const struct kith_reg *r = &rec->regs[i];
    if (r->field == field && kith_reg_live(r) &&
        (!best || kith_stamp_cmp(&r->stamp, &best->stamp) < 0))
      best = r;
  }
  return best ? best->val->p[0] : NULL;
}

static void join_tags(const struct kith_record *rec, char *out, size_t n)
{
  const struct kith_reg **live = NULL;
  size_t at = 0, nlive = 0;
  out[0] = 0;
  if (kith_record_live(rec, &live, &nlive) != 0)
    return;
  for (size_t i = 0; i < nlive; i++) {
    const struct kith_reg *r = live[i];
    if (r->field != KITH_F_TAGS)
      continue;
    int w = snprintf(out + at, n - at, "%s%s", at ? ", " : "", r->val->p[0]);
    if (w < 0 || (size_t)w >= n - at)
      break;
    at += (size_t)w;
  }
  free(live);
}

static int contact_list(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = {{"tag", required_argument, NULL, 't'},
                                       {"search", required_argument, NULL, 's'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  struct list_ctx ctx = {0};
  kith_txn *txn = NULL;
  int c, rc = 0;
  ctx.tags = calloc((size_t)argc, sizeof *ctx.tags);
  if (!ctx.tags)
    return cli_fail(KITH_ENOMEM, "list");
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 't':
      ctx.tags[ctx.ntags++] = optarg;
      break;
    case 's':
      free(ctx.needle);
      ctx.needle = NULL;
      if (kith_fold(optarg, &ctx.needle) != 0) {
        rc = cli_fail(KITH_EBADUTF8, "--search");
        goto out;
      }
      break;
    case 'h':
      printf(
          "usage: %s\n\nLists contacts by name; --tag keeps those with every tag "
          "given; --search\nfinds text in names, e-mails, org, title, tags and notes, "
          "ignoring case\nand accents. LAST is when you were last in touch (a note "
          "sets it).\nWith --json: an array sorted by id.\n",
          list_usage);
      goto out;
    default:
      rc = cli_usage(list_usage, "unknown option '%s'", argv[optind - 1]);
      goto out;
    }
  }
  if (optind != argc) {
    rc = cli_usage(list_usage, "unexpected argument '%s'", argv[optind]);
    goto out;
  }
  for (int i = 0; i < ctx.ntags; i++)
    if (!kith_utf8_valid(ctx.tags[i], strlen(ctx.tags[i]))) {
      rc = cli_fail(KITH_EBADUTF8, "--tag");
      goto out;
    }
  if ((rc = cli_open(cli)) != 0 || (rc = cli_begin(cli, false, &txn)) != 0)
    goto out;
  ctx.txn = txn;
  rc = ctx.ntags ? kith_tag_each(txn, ctx.tags[0], list_one, &ctx)
                 : kith_kind_each(txn, KITH_KIND_CONTACT, list_one, &ctx);
  if (rc) {
    rc = cli_fail(rc, "cannot list contacts");
    goto out;
  }
  if (cli->json) {
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < ctx.n; i++)
      json_array_append_new(arr, kith_json_record(txn, ctx.rows[i].rec, 0));
    rc = cli_json_print(arr);
    goto out;
  }
  if (ctx.n) /* rows is NULL when nothing matched; qsort must not get NULL */
    qsort(ctx.rows, ctx.n, sizeof *ctx.rows, by_name);
  size_t wn = 4, wo = 3, we = 5;
  for (size_t i = 0; i < ctx.n; i++) {
    const struct kith_record *r = ctx.rows[i].rec;
    const char *s;
    if ((s = kith_record_text(r, KITH_F_NAME)) && cli_width(s) > wn)
      wn = cli_width(s);
    if ((s = kith_record_text(r, KITH_F_ORG)) && cli_width(s) > wo)
      wo = cli_width(s);
    if ((s = first_value(r, KITH_F_EMAILS)) && cli_width(s) > we)
      we = cli_width(s);
  }
  wn = wn > 28 ? 28 : wn, wo = wo > 24 ? 24 : wo, we = we > 30 ? 30 : we;
  /* LAST: last_contacted relative to today ("3 days ago"), "-" if never */
  int32_t today, last;
  size_t wl = 4;
  char rel[32];
  if (ctx.n && (rc = cli_today(&today)) != 0)
    goto out;
  for (size_t i = 0; i < ctx.n; i++)
    if (kith_day_parse(kith_record_text(ctx.rows[i].rec, KITH_F_LAST_CONTACTED),
                       &last)) {
      cli_day_relative(last, today, rel, sizeof rel);
      wl = strlen(rel) > wl ? strlen(rel) : wl;
    }
  if (ctx.n) {
    cli_paint(stdout, CLI_BOLD, "ID        ");
    cli_paint_pad(stdout, CLI_BOLD, "NAME", wn);
    fputs("  ", stdout);
    cli_paint_pad(stdout, CLI_BOLD, "ORG", wo);
    fputs("  ", stdout);
    cli_paint_pad(stdout, CLI_BOLD, "EMAIL", we);
    fputs("  ", stdout);
    cli_paint_pad(stdout, CLI_BOLD, "LAST", wl);
    fputs("  ", stdout);
    cli_paint(stdout, CLI_BOLD, "TAGS");
    fputc('\n', stdout);
  }
  for (size_t i = 0; i < ctx.n; i++) {
    const struct kith_record *r = ctx.rows[i].rec;
    char hex[33], tags[256];
    const char *s;
    kith_hex_encode(r->id, 16, hex);
    hex[8] = 0;
    printf("%s  ", hex);
    cli_pad(stdout, (s = kith_record_text(r, KITH_F_NAME)) ? s : "", wn);
    fputs("  ", stdout);
    cli_pad(stdout, (s = kith_record_text(r, KITH_F_ORG)) ? s : "", wo);
    fputs("  ", stdout);
    cli_pad(stdout, (s = first_value(r, KITH_F_EMAILS)) ? s : "", we);
    fputs("  ", stdout);
    if (kith_day_parse(kith_record_text(r, KITH_F_LAST_CONTACTED), &last))
      cli_day_relative(last, today, rel, sizeof rel);
    else
      snprintf(rel, sizeof rel, "-");
    cli_pad(stdout, rel, wl);
    join_tags(r, tags, sizeof tags);
    printf("  %s\n", tags);
  }
  if (ctx.n == 0)
    fprintf(stderr, "no contacts%s\n",
            ctx.ntags || ctx.needle ? " match"
                                    : " yet ("
                                      "add one with 'kith "
                                      "contact add --name')");
out:
  for (size_t i = 0; i < ctx.n; i++) {
    kith_record_free(ctx.rows[i].rec);
    free(ctx.rows[i].sort);
  }
  free(ctx.rows);
  free(ctx.tags);
  free(ctx.needle);
  kith_txn_abort(txn);
  return rc;
}

/* ---- show ---------------------------------------------------------------- */

static void show_line(const char *label, const char *value, const char *kind)
{
  if (!value)
    return;
  printf("  %-15s %s", label, value);
  if (kind)
    printf(" (%s)", kind);
  putchar('\n');
}

static void show_when(const char *label, const struct kith_stamp *s)
{
  char iso[25], rel[48];
  kith_hlc_iso(s->hlc, iso);
  cli_relative(kith_hlc_ms(s->hlc), cli_now_ms(), rel, sizeof rel);
  iso[16] = 0;
  iso[10] = ' ';
  printf("  %-15s %s UTC (%s)\n", label, iso, rel);
}

static int by_created(const void *a, const void *b)
{
  const struct kith_record *x = *(struct kith_record *const *)a,
                           *y = *(struct kith_record *const *)b;
  return kith_stamp_cmp(&x->created, &y->created);
}

/* A contact, or my card, as people read it: name (else fallback), id, every
 * field, tags, when, notes. Frees rec. */
static int print_fields(struct cli *cli, kith_txn *txn, struct kith_record *rec,
                        const char *fallback)
{
  int rc;
  char hex[33];
  kith_hex_encode(rec->id, 16, hex);
  const char *name = kith_record_text(rec, KITH_F_NAME);
  printf("%s%s%s\n", cli->color ? "\033[1m" : "",
         name       ? name
         : fallback ? fallback
                    : "(no name)",
         cli->color ? "\033[0m" : "");
  show_line("id", hex, NULL);
  static const uint8_t order[] = {KITH_F_NICKNAME,
                                  KITH_F_GIVEN,
                                  KITH_F_MIDDLE,
                                  KITH_F_FAMILY,
                                  KITH_F_PREFIX,
                                  KITH_F_SUFFIX,
                                  KITH_F_ORG,
                                  KITH_F_TITLE,
                                  KITH_F_EMAILS,
                                  KITH_F_PHONES,
                                  KITH_F_LINKS,
                                  KITH_F_IMS,
                                  KITH_F_ADDRESSES,
                                  KITH_F_BIRTHDAY,
                                  KITH_F_MET_AT,
                                  KITH_F_NEEDS,
                                  KITH_F_OFFERS,
                                  KITH_F_FOLLOW_UP,
                                  KITH_F_LAST_CONTACTED,
                                  KITH_F_X};
  const struct kith_reg **live = NULL;
  size_t nlive = 0;
  if ((rc = kith_record_live(rec, &live, &nlive)) != 0) {
    kith_record_free(rec);
    return cli_fail(rc, "cannot read the contact");
  }
  for (size_t o = 0; o < sizeof order; o++) {
    const struct kith_field *f = kith_field_by_id(order[o]);
    for (size_t j = 0; j < nlive; j++) {
      const struct kith_reg *r = live[j];
      if (r->field != f->id)
        continue;
      const struct kith_value *v = r->val;
      char label[64];
      snprintf(label, sizeof label, "%s", f->json);
      for (char *p = label; *p; p++)
        if (*p == '_')
          *p = ' ';
      if (f->shape == KITH_SHAPE_TYPED) {
        size_t l = strlen(label);
        if (l > 1 && label[l - 1] == 's')
          label[l - 1] = 0; /* "emails" -> "email" on each line */
        show_line(label, v->p[0], v->p[1]);
      } else if (f->shape == KITH_SHAPE_ADDR) {
        char line[1024];
        size_t at = 0;
        line[0] = 0;
        for (int p = 1; p < v->n; p++) {
          if (!v->p[p] || !*v->p[p])
            continue;
          int w =
              snprintf(line + at, sizeof line - at, "%s%s", at ? ", " : "", v->p[p]);
          if (w < 0 || (size_t)w >= sizeof line - at)
            break;
          at += (size_t)w;
        }
        show_line("address", line, v->p[0]);
      } else if (f->shape == KITH_SHAPE_XMAP) {
        char xl[160];
        snprintf(xl, sizeof xl, "x-%s", v->p[0]);
        show_line(xl, v->p[1], NULL);
      } else {
        show_line(label, v->p[0], NULL);
      }
    }
  }
  free(live);
  char tags[1024];
  join_tags(rec, tags, sizeof tags);
  if (tags[0])
    show_line("tags", tags, NULL);
  if (rec->created.hlc) {
    show_when("created", &rec->created);
    show_when("updated", &rec->updated);
  }

  struct kith_record_list nc = {0};
  rc = kith_notes_load(txn, rec->id, &nc);
  if (rc == 0 && nc.n) {
    qsort(nc.v, nc.n, sizeof *nc.v, by_created);
    printf("notes:\n");
    for (size_t i = 0; i < nc.n; i++) {
      char nh[33], iso[25];
      kith_hex_encode(nc.v[i]->id, 16, nh);
      nh[8] = 0;
      kith_hlc_iso(nc.v[i]->created.hlc, iso);
      iso[10] = 0;
      const char *t = kith_record_text(nc.v[i], KITH_F_NOTE_TEXT);
      printf("  %s  %s  %s\n", iso, nh, t ? t : "");
    }
  }
  kith_record_list_clear(&nc);
  kith_record_free(rec);
  return rc ? cli_fail(rc, "cannot read the notes") : 0;
}

static int print_contact(struct cli *cli, kith_txn *txn, const uint8_t id[16])
{
  struct kith_record *rec = NULL;
  int rc = kith_record_load(txn, id, &rec);
  if (rc)
    return cli_fail(rc, "cannot read the contact");
  if (cli->json) {
    rc = cli_json_print(kith_json_record(txn, rec, KITH_JSON_NOTES));
    kith_record_free(rec);
    return rc;
  }
  return print_fields(cli, txn, rec, NULL);
}

static int contact_show(struct cli *cli, int argc, char **argv)
{
  kith_txn *txn = NULL;
  uint8_t id[16];
  if (cli_wants_help(argc, argv)) {
    printf("usage: %s\n\nShows everything about a contact, with its notes.\n",
           show_usage);
    return 0;
  }
  if (argc > 2)
    return cli_usage(show_usage, "unexpected argument '%s'", argv[2]);
  int rc =
      cli_open_record(cli, argc, argv, show_usage, KITH_KIND_CONTACT, false, &txn, id);
  if (rc == 0)
    rc = print_contact(cli, txn, id);
  kith_txn_abort(txn);
  return rc;
}

static int contact_set(struct cli *cli, int argc, char **argv)
{
  kith_txn *txn = NULL;
  uint8_t id[16];
  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    printf("usage: %s\n\nSets fields; all of them or none.\n", set_usage);
    field_help(stdout, KITH_KIND_CONTACT);
    return 0;
  }
  if (argc < 3)
    return cli_usage(set_usage,
                     argc < 2 ? "missing the contact id" : "missing FIELD=VALUE");
  int rc =
      cli_open_record(cli, argc, argv, set_usage, KITH_KIND_CONTACT, true, &txn, id);
  for (int i = 2; rc == 0 && i < argc; i++)
    rc = set_pair(txn, KITH_KIND_CONTACT, id, argv[i]);
  if (rc == 0) {
    rc = cli_commit(txn);
    txn = NULL;
  }
  if (rc == 0 && cli->json && (rc = cli_begin(cli, false, &txn)) == 0)
    rc = print_contact(cli, txn, id);
  kith_txn_abort(txn);
  return rc;
}

static int contact_rm(struct cli *cli, int argc, char **argv)
{
  kith_txn *txn = NULL;
  uint8_t id[16];
  if (cli_wants_help(argc, argv)) {
    printf("usage: %s\n\nDeletes a contact and its notes, on every device it syncs to. "
           "The values\nare erased; only a tombstone with the id remains.\n",
           rm_usage);
    return 0;
  }
  if (argc > 2)
    return cli_usage(rm_usage, "unexpected argument '%s'", argv[2]);
  int rc =
      cli_open_record(cli, argc, argv, rm_usage, KITH_KIND_CONTACT, true, &txn, id);
  if (rc == 0 && (rc = kith_record_delete(txn, id)) != 0)
    rc = cli_fail(rc, "cannot delete the contact");
  if (rc == 0) {
    rc = cli_commit(txn);
    txn = NULL;
  }
  if (rc == 0 && cli->json) {
    char hex[33];
    kith_hex_encode(id, 16, hex);
    rc = cli_json_print(json_pack("{s:s, s:b}", "id", hex, "deleted", 1));
  }
  kith_txn_abort(txn);
  return rc;
}

/* ---- my card -------------------------------------------------------------- */

static int card_help(FILE *f)
{
  fprintf(
      f,
      "usage: kith card [show] [--format text|vcard] [-o FILE] [--qr]\n"
      "       kith card set FIELD=VALUE...\n\n"
      "Your own details: what you give when you accept an introduction (you then\n"
      "choose which fields). Only your own devices hold your card: it is never\n"
      "listed, searched, exported or shared as a contact. FIELD=VALUE works as in\n"
      "'kith contact set': on a list field (emails, phones, links, ims, addresses;\n"
      "also email, phone...) it sets that one value; an empty VALUE clears a field;\n"
      "x-NAME=VALUE sets a free field; e-mails and phones take a kind\n"
      "(phone=cell:+44 20 7946 0000). Until you set a name, your user name ('kith\n"
      "whoami') stands in. With --json: an object shaped like a contact (no tags).\n\n"
      "--format vcard writes the card as a vCard 4.0 (to FILE with -o, written whole\n"
      "or not at all), for an address book; it has no UID (your card's id is the\n"
      "same for every kith user). --qr draws that vCard as a QR code for a phone's\n"
      "camera; a card too big for one goes without its free fields (x-NAME, such\n"
      "as a photo), and says so. With --json, --format vcard and --qr print\n"
      "{\"vcard\": TEXT} (with --qr, \"left_out\": the fields the code goes without)\n"
      "instead.\n");
  field_help(f, KITH_KIND_MYCARD);
  return f == stdout ? 0 : EX_USAGE_;
}

static int card_show(struct cli *cli, kith_txn *txn)
{
  uint8_t id[16];
  struct kith_record *rec = NULL;
  json_t *card = NULL;
  int rc = kith_mycard_json(txn, &card);
  if (rc)
    return cli_fail(rc, "cannot read your card");
  if (cli->json)
    return cli_json_print(card);
  kith_mycard_id(id);
  rc = kith_record_load(txn, id, &rec);
  if (rc == KITH_ENOTFOUND && (rec = calloc(1, sizeof *rec)) != NULL) {
    memcpy(rec->id, id, 16);
    rc = 0;
    fputs("your card has no details yet (kith card set email=... phone=...)\n", stderr);
  } else if (rc == KITH_ENOTFOUND) {
    rc = KITH_ENOMEM;
  }
  if (rc == 0)
    rc = print_fields(cli, txn, rec, json_string_value(json_object_get(card, "name")));
  else
    rc = cli_fail(rc, "cannot read your card");
  json_decref(card);
  return rc;
}

/* My card (kith_mycard_json's object) as vCard text in a new string. Without the
 * id: it is the same for every kith user (core/mycard.h), so as a UID it would
 * make every kith user's card one card to an address book. */
static int card_vcard(json_t *card, char **out, size_t *len)
{
  json_object_del(card, "id");
  FILE *f = open_memstream(out, len);
  if (!f)
    return KITH_ENOMEM;
  int rc = kith_vcard_write(f, card);
  if (fclose(f) != 0 && rc == 0)
    rc = KITH_ENOMEM;
  if (rc) {
    free(*out);
    *out = NULL;
  }
  return rc;
}

/* Writes len bytes to path whole or not at all (a temporary file, fsync, rename).
 * 0 or an exit code, printed. */
static int card_write_file(const char *path, const char *text, size_t len)
{
  char tmp[4200];
  if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp)
    return cli_error(EX_USAGE_, "cannot write %s: name too long", path);
  int fd = mkstemp(tmp);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (!f) {
    int e = errno;
    if (fd >= 0) {
      close(fd);
      unlink(tmp);
    }
    return cli_error(EX_IOERR_, "cannot write %s: %s", path, strerror(e));
  }
  bool ok = fwrite(text, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
  int e = errno;
  ok = fclose(f) == 0 && ok;
  if (ok && rename(tmp, path) == 0)
    return 0;
  e = ok ? errno : e;
  unlink(tmp);
  return cli_error(EX_IOERR_, "cannot write %s: %s", path, strerror(e));
}

/* Drops x fields from my card's JSON for a QR code: with media, the ones that
 * hold pictures or sounds, else all but org-units (part of ORG). Appends "x-NAME"
 * to left_out for each; false if there was none to drop. */
static bool card_drop(json_t *card, bool media, json_t *left_out)
{
  static const char *const big[] = {"photo", "logo", "sound", "key", NULL};
  json_t *x = json_object_get(card, "x"), *v;
  const char *name;
  void *tmp;
  size_t before = json_array_size(left_out);
  json_object_foreach_safe(x, tmp, name, v)
  {
    bool drop = !media && strcmp(name, "org-units") != 0;
    for (int i = 0; media && big[i]; i++)
      drop = drop || strcmp(name, big[i]) == 0;
    if (!drop)
      continue;
    char label[300];
    snprintf(label, sizeof label, "x-%s", name);
    json_array_append_new(left_out, json_string(label));
    json_object_del(x, name);
  }
  return json_array_size(left_out) > before;
}

/* kith card --qr: the vCard as a QR code (level L: the most room, and a screen is
 * not a torn label). A card too big for one goes without its pictures, then
 * without its other free fields. */
static int card_qr(struct cli *cli, json_t *card)
{
  char *text = NULL;
  size_t len = 0;
  json_t *left_out = json_array();
  int rc = card_vcard(card, &text, &len);
  if (rc == 0)
    rc = cli_print_qr(NULL, text, QR_ECLEVEL_L);
  for (int stage = 0; stage < 2 && rc == KITH_ETOOBIG; stage++) {
    if (!card_drop(card, stage == 0, left_out))
      continue;
    free(text);
    text = NULL;
    if ((rc = card_vcard(card, &text, &len)) == 0)
      rc = cli_print_qr(NULL, text, QR_ECLEVEL_L);
  }
  if (rc == KITH_ETOOBIG)
    rc = cli_error(EX_DATAERR_,
                   "your card is too big for a QR code, even without its free "
                   "fields (%zu bytes of vCard)",
                   len);
  else if (rc)
    rc = cli_fail(rc, "cannot draw your card");
  else if (cli->json)
    rc = cli_json_print(
        json_pack("{s:s%, s:O}", "vcard", text, len, "left_out", left_out));
  else {
    size_t i;
    json_t *v;
    json_array_foreach(left_out, i, v)
    {
      fprintf(stderr, "%s%s",
              i ? ", " : "kith: your card is too big for a QR code: left out ",
              json_string_value(v));
      if (i + 1 == json_array_size(left_out))
        fputc('\n', stderr);
    }
    rc = cli_print_qr(stdout, text, QR_ECLEVEL_L) ? EX_IOERR_ : 0;
  }
  json_decref(left_out);
  free(text);
  return rc;
}

/* kith card [show] [--format text|vcard] [-o FILE] [--qr]: argv[0] is "card" or
 * "show". */
static int card_show_cmd(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                       {"output", required_argument, NULL, 'o'},
                                       {"qr", no_argument, NULL, 'q'},
                                       {NULL, 0, NULL, 0}};
  const char *format = "text", *out = NULL;
  bool qr = false;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "+o:", opts, NULL)) != -1) {
    switch (c) {
    case 'f':
      format = optarg;
      break;
    case 'o':
      out = optarg;
      break;
    case 'q':
      qr = true;
      break;
    default:
      return cli_usage(card_usage, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc)
    return cli_usage(card_usage, "unexpected argument '%s'", argv[optind]);
  bool vcard = strcmp(format, "vcard") == 0 || strcmp(format, "vcf") == 0;
  if (!vcard && strcmp(format, "text") != 0)
    return cli_usage(card_usage, "unknown format '%s' (text or vcard)", format);
  if (out && (qr || !vcard))
    return cli_usage(card_usage, "-o writes the vCard: use it with --format vcard");
  kith_txn *txn = NULL;
  int rc = cli_open(cli);
  if (rc == 0)
    rc = cli_begin(cli, false, &txn);
  if (rc)
    return rc;
  if (!vcard && !qr) {
    rc = card_show(cli, txn);
    kith_txn_abort(txn);
    return rc;
  }
  json_t *card = NULL;
  rc = kith_mycard_json(txn, &card);
  kith_txn_abort(txn);
  if (rc)
    return cli_fail(rc, "cannot read your card");
  char *text = NULL;
  size_t len = 0;
  if (qr)
    rc = card_qr(cli, card);
  else if ((rc = card_vcard(card, &text, &len)) != 0)
    rc = cli_fail(rc, "cannot write your card");
  else if (out && strcmp(out, "-") != 0)
    rc = card_write_file(out, text, len);
  else if (cli->json)
    rc = cli_json_print(json_pack("{s:s%}", "vcard", text, len));
  else if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0)
    rc = cli_error(EX_IOERR_, "cannot write your card: %s", strerror(errno));
  if (rc == 0 && out && strcmp(out, "-") != 0 && cli->json)
    rc = cli_json_print(json_pack("{s:s}", "file", out));
  else if (rc == 0 && out && strcmp(out, "-") != 0)
    fprintf(stderr, "Wrote your card to %s\n", out);
  free(text);
  json_decref(card);
  return rc;
}

/* kith card set FIELD=VALUE...: argv[0] is "set". */
static int card_set(struct cli *cli, int argc, char **argv)
{
  kith_txn *txn = NULL;
  uint8_t id[16];
  if (argc < 2)
    return cli_usage(card_usage, "missing FIELD=VALUE");
  kith_mycard_id(id);
  int rc = cli_open(cli);
  if (rc == 0)
    rc = cli_begin(cli, true, &txn);
  for (int i = 1; rc == 0 && i < argc; i++)
    rc = set_pair(txn, KITH_KIND_MYCARD, id, argv[i]);
  if (rc == 0) {
    rc = cli_commit(txn);
    txn = NULL;
  }
  if (rc == 0 && cli->json && (rc = cli_begin(cli, false, &txn)) == 0)
    rc = card_show(cli, txn);
  kith_txn_abort(txn);
  return rc;
}

int cmd_card(struct cli *cli, int argc, char **argv)
{
  const char *sub = argc > 1 ? argv[1] : "show";
  if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 ||
      strcmp(sub, "help") == 0 || cli_wants_help(argc, argv))
    return card_help(stdout);
  if (strcmp(sub, "set") == 0)
    return card_set(cli, argc - 1, argv + 1);
  if (argc < 2 || sub[0] == '-') /* show, the default, maybe with options */
    return card_show_cmd(cli, argc, argv);
  if (strcmp(sub, "show") == 0)
    return card_show_cmd(cli, argc - 1, argv + 1);
  return cli_usage(card_usage, "unknown subcommand 'card %s'", sub);
}

int cmd_contact(struct cli *cli, int argc, char **argv)
{
  if (argc < 2)
    return contact_help(stderr);
  const char *sub = argv[1];
  argc--, argv++;
  if (strcmp(sub, "add") == 0)
    return contact_add(cli, argc, argv);
  if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0)
    return contact_list(cli, argc, argv);
  if (strcmp(sub, "show") == 0)
    return contact_show(cli, argc, argv);
  if (strcmp(sub, "set") == 0)
    return contact_set(cli, argc, argv);
  if (strcmp(sub, "rm") == 0)
    return contact_rm(cli, argc, argv);
  if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0)
    return contact_help(stdout);
  return cli_usage(NULL, "unknown subcommand 'contact %s' (see 'kith contact --help')",
                   sub);
}
