/* kith import */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cmds.h"
#include "core/charset.h"
#include "core/csv.h"
#include "core/importer.h"
#include "core/vcard.h"

#define IMPORT_MAX ((size_t)1 << 30)

static const char import_usage[] =
    "kith import FILE [--format vcard|csv|google|outlook|linkedin|json] [--dry-run]";

static const char import_help[] =
    "\nImports contacts from FILE ('-' for standard input). The format is guessed\n"
    "from the content when --format is not given:\n"
    "  vcard     vCard 2.1, 3.0 and 4.0 (.vcf): any address book, Apple, Google,\n"
    "            Outlook, Thunderbird, Android, Evolution; UTF-16 and legacy\n"
    "            code pages are decoded\n"
    "  csv       CSV with a header row; the layout below is guessed from it\n"
    "  google    Google Contacts CSV (current and legacy layouts)\n"
    "  outlook   Outlook CSV\n"
    "  linkedin  LinkedIn's Connections.csv (Settings > Data privacy > Get a copy)\n"
    "  json      what 'kith export' writes (ids and stamps kept: a faithful copy),\n"
    "            or contacts with only some fields and no id\n"
    "\n"
    "Importing again is safe: a contact already here (the same vCard UID, e-mail\n"
    "or LinkedIn profile URL) is merged, not duplicated: what the file has that\n"
    "differs replaces the old value, new e-mails, phones, links and notes are\n"
    "added, nothing is removed, and a contact the file adds nothing to is left\n"
    "as it was. A card or row that can't be read is reported with its line and\n"
    "skipped while the rest import. The import is one transaction: if it fails,\n"
    "nothing is written.\n"
    "\n"
    "  --dry-run   show what would be created and merged, write nothing\n"
    "\n"
    "Examples:\n"
    "  kith import contacts.vcf\n"
    "  kith import Connections.csv --dry-run\n"
    "  kith --json import google.csv --format google\n";

static const char *guess_format(const char *buf, size_t len)
{
  char *text = NULL;
  size_t n = 0;
  const char *fmt = "csv";
  /* a prefix is enough to tell, in whatever encoding the file is */
  if (kith_text_to_utf8(buf, len < 65536 ? len : 65536, NULL, &text, &n) != 0)
    return fmt;
  const char *p = text;
  while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
    p++;
  if (*p == '{' || *p == '[') {
    fmt = "json";
  } else {
    for (const char *q = p; q && *q; q = strchr(q, '\n')) {
      while (*q == '\n' || *q == '\r' || *q == ' ')
        q++;
      if (strncasecmp(q, "BEGIN:VCARD", 11) == 0) {
        fmt = "vcard";
        break;
      }
    }
  }
  free(text);
  return fmt;
}

struct run {
  struct cli *cli;
  kith_importer *im;
  const char *path;
  bool dry;
  json_t *skipped, *changes; /* for --json; changes for --dry-run only */
  size_t nskipped;
  size_t total_lines;
  struct cli_progress progress;
  char err[640];
};

static int on_contact(void *arg, json_t *contact, size_t line)
{
  struct run *r = arg;
  json_t *change = NULL;
  int rc = kith_importer_add(r->im, contact, r->dry ? &change : NULL);
  if (rc) {
    const char *why = kith_importer_error(r->im);
    snprintf(r->err, sizeof r->err, "line %zu: %s", line,
             why ? why : kith_strerror(rc));
    return rc;
  }
  cli_progress_update(&r->progress, line);
  if (!change)
    return 0;
  const char *action = json_string_value(json_object_get(change, "action"));
  if (r->cli->json) {
    if (json_object_set_new(change, "line", json_integer((json_int_t)line)) ||
        json_array_append_new(r->changes, change))
      return KITH_ENOMEM;
    return 0;
  }
  if (strcmp(action, "unchanged") != 0) {
    printf("%-9s line %-6zu %s", strcmp(action, "new") == 0 ? "new" : "merge", line,
           json_string_value(json_object_get(change, "name")));
    if (strcmp(action, "merged") == 0) {
      size_t i;
      json_t *f;
      json_array_foreach(json_object_get(change, "fields"), i, f)
      {
        printf("%s%s", i ? ", " : ": ", json_string_value(f));
      }
    }
    putchar('\n');
  }
  json_decref(change);
  return 0;
}

/* Skipped cards are told after the import (on stderr, or in --json), not in the
 * middle of the progress line. */
static void on_skip(void *arg, size_t line, const char *why)
{
  struct run *r = arg;
  r->nskipped++;
  json_array_append_new(
      r->skipped, json_pack("{s:I, s:s}", "line", (json_int_t)line, "reason", why));
}

static int import_cards(struct cli *cli, const char *path, const char *format,
                        const char *buf, size_t len, bool dry)
{
  struct run r = {.cli = cli, .path = path, .dry = dry};
  kith_txn *txn = NULL;
  int rc;
  for (size_t i = 0; i < len; i++)
    r.total_lines += buf[i] == '\n';
  if (!(r.skipped = json_array()) || !(r.changes = json_array())) {
    rc = cli_fail(KITH_ENOMEM, "import");
    goto out;
  }
  if ((rc = cli_open(cli)) != 0 || (rc = cli_begin(cli, true, &txn)) != 0)
    goto out;
  if ((rc = kith_importer_new(txn, &r.im)) != 0) {
    rc = cli_fail(rc, "cannot read the store");
    goto out;
  }
  struct kith_import_sink sink = {on_contact, on_skip, &r};
  cli_progress_start(&r.progress, "importing", r.total_lines + 1);
  if (strcmp(format, "vcard") == 0) {
    rc = kith_vcard_read(buf, len, &sink);
  } else {
    enum kith_csv_layout layout = KITH_CSV_AUTO;
    if (strcmp(format, "google") == 0)
      layout = KITH_CSV_GOOGLE;
    else if (strcmp(format, "outlook") == 0)
      layout = KITH_CSV_OUTLOOK;
    else if (strcmp(format, "linkedin") == 0)
      layout = KITH_CSV_LINKEDIN;
    rc = kith_csv_read(buf, len, layout, &sink);
    if (rc == KITH_EBADMSG && !r.err[0])
      snprintf(r.err, sizeof r.err,
               "the header row names no column kith knows (a name or an e-mail)");
  }
  cli_progress_end(&r.progress);
  if (rc) {
    rc = cli_error(cli_exit_code(rc), "%s: %s (nothing imported)", path,
                   r.err[0] ? r.err : kith_strerror(rc));
    goto out;
  }
  struct kith_import_counts n = kith_importer_counts(r.im);
  size_t read = n.created + n.merged + n.unchanged;
  if (read == 0) {
    json_t *first = json_array_get(r.skipped, 0);
    if (first)
      rc = cli_error(
          EX_DATAERR_, "%s: no contact could be read (line %lld: %s; nothing imported)",
          path, (long long)json_integer_value(json_object_get(first, "line")),
          json_string_value(json_object_get(first, "reason")));
    else
      rc = cli_error(EX_DATAERR_, "%s: no contacts found (nothing imported)", path);
    goto out;
  }
  if (dry) {
    kith_txn_abort(txn);
  } else if ((rc = cli_commit(txn)) != 0) {
    txn = NULL;
    goto out;
  }
  txn = NULL;
  if (cli->json) {
    json_t *doc =
        json_pack("{s:s, s:I, s:I, s:I, s:I, s:O, s:b}", "format", format,
                  "contacts_new", (json_int_t)n.created, "contacts_merged",
                  (json_int_t)n.merged, "contacts_unchanged", (json_int_t)n.unchanged,
                  "notes", (json_int_t)n.notes, "skipped", r.skipped, "dry_run", dry);
    if (doc && dry)
      json_object_set(doc, "changes", r.changes);
    rc = cli_json_print(doc);
  } else {
    size_t i;
    json_t *sk;
    json_array_foreach(r.skipped, i, sk)
    {
      fprintf(stderr, "kith: %s:%lld: %s\n", path,
              (long long)json_integer_value(json_object_get(sk, "line")),
              json_string_value(json_object_get(sk, "reason")));
    }
    printf("%s %zu new contact%s, merged %zu, %zu unchanged, %zu note%s",
           dry ? "Would import" : "Imported", n.created, n.created == 1 ? "" : "s",
           n.merged, n.unchanged, n.notes, n.notes == 1 ? "" : "s");
    if (r.nskipped)
      printf("; %zu skipped", r.nskipped);
    printf("%s\n", dry ? " (dry run: nothing written)" : "");
  }
out:
  kith_txn_abort(txn);
  kith_importer_free(r.im);
  json_decref(r.skipped);
  json_decref(r.changes);
  return rc;
}

static int import_json(struct cli *cli, const char *path, const char *buf, size_t len,
                       bool dry)
{
  kith_txn *txn = NULL;
  struct kith_import_stats st = {0};
  char err[512] = "";
  int rc;
  if ((rc = cli_open(cli)) != 0 || (rc = cli_begin(cli, true, &txn)) != 0)
    goto out;
  rc = kith_json_import_text(txn, buf, len, &st, err, sizeof err);
  if (rc) {
    rc = cli_error(cli_exit_code(rc), "%s: %s (nothing imported)", path, err);
    goto out;
  }
  if (dry) {
    kith_txn_abort(txn);
  } else if ((rc = cli_commit(txn)) != 0) {
    txn = NULL;
    goto out;
  }
  txn = NULL;
  if (cli->json) {
    rc = cli_json_print(json_pack("{s:s, s:I, s:I, s:I, s:I, s:[], s:b}", "format",
                                  "json", "contacts_new", (json_int_t)st.contacts_new,
                                  "contacts_merged", (json_int_t)st.contacts_merged,
                                  "contacts_unchanged", (json_int_t)0, "notes",
                                  (json_int_t)st.notes, "skipped", "dry_run", dry));
  } else {
    printf("%s %zu new contact%s, merged %zu, %zu note%s%s\n",
           dry ? "Would import" : "Imported", st.contacts_new,
           st.contacts_new == 1 ? "" : "s", st.contacts_merged, st.notes,
           st.notes == 1 ? "" : "s", dry ? " (dry run: nothing written)" : "");
  }
out:
  kith_txn_abort(txn);
  return rc;
}

int cmd_import(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                       {"dry-run", no_argument, NULL, 'n'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  static const char *const formats[] = {"vcard",    "csv",  "google", "outlook",
                                        "linkedin", "json", NULL};
  const char *format = NULL;
  bool dry = false;
  int c;
  while ((c = getopt_long(argc, argv, "hn", opts, NULL)) != -1) {
    switch (c) {
    case 'f':
      format = optarg;
      break;
    case 'n':
      dry = true;
      break;
    case 'h':
      printf("usage: %s\n%s", import_usage, import_help);
      return 0;
    default:
      return cli_usage(import_usage, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc - 1)
    return cli_usage(import_usage,
                     optind >= argc ? "missing FILE" : "too many arguments");
  const char *path = argv[optind];
  if (format) {
    int i;
    for (i = 0; formats[i] && strcmp(format, formats[i]) != 0; i++)
      ;
    if (!formats[i])
      return cli_usage(import_usage,
                       "unknown format '%s' (vcard, csv, google, outlook, linkedin, "
                       "json)",
                       format);
  }
  char *buf = NULL;
  size_t len = 0;
  int rc = cli_read_file(path, IMPORT_MAX, &buf, &len);
  if (rc == KITH_EIO)
    return cli_error(EX_NOINPUT_, "cannot read %s: %s", path, strerror(errno));
  if (rc)
    return cli_fail(rc, "cannot read %s", path);
  if (!format)
    format = guess_format(buf, len);
  if (strcmp(format, "csv") == 0) { /* tell which CSV it was */
    static const char *const names[] = {[KITH_CSV_GOOGLE] = "google",
                                        [KITH_CSV_OUTLOOK] = "outlook",
                                        [KITH_CSV_LINKEDIN] = "linkedin",
                                        [KITH_CSV_GENERIC] = "csv"};
    enum kith_csv_layout l = kith_csv_guess(buf, len);
    if (l != KITH_CSV_AUTO)
      format = names[l];
  }
  if (strcmp(format, "json") == 0)
    rc = import_json(cli, path, buf, len, dry);
  else
    rc = import_cards(cli, path, format, buf, len, dry);
  free(buf);
  return rc;
}
