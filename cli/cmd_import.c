/* kith import */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmds.h"

#define IMPORT_MAX ((size_t)1 << 30)

static const char import_usage[] = "kith import FILE [--format json] [--dry-run]";

int cmd_import(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                       {"dry-run", no_argument, NULL, 'n'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
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
      printf(
          "usage: %s\n\nImports contacts and their notes from FILE ('-' for standard "
          "input). JSON is\nwhat 'kith export' writes (ids and stamps kept: a faithful "
          "copy; records\nalready here are merged), or contacts with only some "
          "fields and no id.\nThe whole file is imported in one transaction: if any "
          "record is bad,\nnothing is. --dry-run reports what would change.\n",
          import_usage);
      return 0;
    default:
      return cli_usage(import_usage, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc - 1)
    return cli_usage(import_usage,
                     optind >= argc ? "missing FILE" : "too many arguments");
  const char *path = argv[optind];
  if (format && strcmp(format, "json") != 0)
    return cli_usage(import_usage,
                     "format '%s' is not supported by this version "
                     "(supported: json)",
                     format);
  char *buf = NULL;
  size_t len = 0;
  int rc = cli_read_file(path, IMPORT_MAX, &buf, &len);
  if (rc == KITH_EIO)
    return cli_error(EX_NOINPUT_, "cannot read %s: %s", path, strerror(errno));
  if (rc)
    return cli_fail(rc, "cannot read %s", path);
  kith_txn *txn = NULL;
  struct kith_import_stats st = {0};
  char err[512] = "";
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
    rc = cli_json_print(json_pack("{s:s, s:I, s:I, s:I, s:b}", "format", "json",
                                  "contacts_new", (json_int_t)st.contacts_new,
                                  "contacts_merged", (json_int_t)st.contacts_merged,
                                  "notes", (json_int_t)st.notes, "dry_run", dry));
  } else {
    printf("%s %zu new contact%s, merged %zu, %zu note%s%s\n",
           dry ? "Would import" : "Imported", st.contacts_new,
           st.contacts_new == 1 ? "" : "s", st.contacts_merged, st.notes,
           st.notes == 1 ? "" : "s", dry ? " (dry run: nothing written)" : "");
  }
out:
  kith_txn_abort(txn);
  free(buf);
  return rc;
}
