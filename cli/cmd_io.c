/* kith import, kith export */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmds.h"

#define IMPORT_MAX ((size_t)1 << 30)

static const char import_usage[] = "kith import FILE [--format json] [--dry-run]";
static const char export_usage[] = "kith export [--format json] [-o FILE]";

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

struct exp {
  kith_txn *txn;
  FILE *f;
  size_t n;
};

static int export_one(void *arg, const uint8_t id[16])
{
  struct exp *e = arg;
  struct kith_record *rec = NULL;
  int rc = kith_record_load(e->txn, id, &rec);
  if (rc)
    return rc == KITH_ENOTFOUND ? 0 : rc;
  if (!rec->deleted && rec->kind == KITH_KIND_CONTACT) {
    json_t *j = kith_json_record(e->txn, rec, KITH_JSON_NOTES | KITH_JSON_STAMPS);
    if (!j)
      rc = KITH_ENOMEM;
    else {
      if (fputs(e->n ? ",\n" : "\n", e->f) < 0 ||
          json_dumpf(j, e->f, JSON_COMPACT) != 0)
        rc = KITH_EIO;
      json_decref(j);
      e->n++;
    }
  }
  kith_record_free(rec);
  return rc;
}

int cmd_export(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                       {"output", required_argument, NULL, 'o'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *format = "json", *out = NULL;
  char tmp[4200] = "";
  int c;
  while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
    switch (c) {
    case 'f':
      format = optarg;
      break;
    case 'o':
      out = optarg;
      break;
    case 'h':
      printf(
          "usage: %s\n\nWrites every contact with its notes, ids and stamps: 'kith "
          "import' of the\nfile into another home makes a faithful copy. With -o the "
          "file is written\nwhole or not at all.\n",
          export_usage);
      return 0;
    default:
      return cli_usage(export_usage, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc)
    return cli_usage(export_usage, "unexpected argument '%s'", argv[optind]);
  if (strcmp(format, "json") != 0)
    return cli_usage(export_usage,
                     "format '%s' is not supported by this version "
                     "(supported: json)",
                     format);
  kith_txn *txn = NULL;
  struct exp e = {0};
  int rc = cli_open(cli);
  if (rc == 0)
    rc = cli_begin(cli, false, &txn);
  if (rc)
    return rc;
  e.txn = txn;
  e.f = stdout;
  if (out && strcmp(out, "-") != 0) {
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", out);
    int fd = mkstemp(tmp);
    if (fd < 0 || !(e.f = fdopen(fd, "w"))) {
      if (fd >= 0)
        close(fd);
      rc = cli_error(EX_IOERR_, "cannot write %s: %s", out, strerror(errno));
      tmp[0] = 0;
      goto done;
    }
  }
  char iso[25];
  kith_hlc_iso(cli_now_ms() << 16, iso);
  fprintf(e.f, "{\"kith_export\":1,\"exported\":\"%s\",\"contacts\":[", iso);
  rc = kith_kind_each(txn, KITH_KIND_CONTACT, export_one, &e);
  if (rc == 0 && fputs("\n]}\n", e.f) < 0)
    rc = KITH_EIO;
  if (e.f != stdout) {
    if (rc == 0 && (fflush(e.f) != 0 || fsync(fileno(e.f)) != 0))
      rc = KITH_EIO;
    if (fclose(e.f) != 0 && rc == 0)
      rc = KITH_EIO;
    if (rc == 0 && rename(tmp, out) != 0)
      rc = KITH_EIO;
    if (rc == 0)
      tmp[0] = 0;
  }
  if (rc) {
    rc = cli_fail(rc, "export failed%s", out ? " (the file was not written)" : "");
    goto done;
  }
  if (out && strcmp(out, "-") != 0 && !cli->json)
    fprintf(stderr, "Exported %zu contact%s to %s\n", e.n, e.n == 1 ? "" : "s", out);
  else if (out && cli->json)
    rc = cli_json_print(
        json_pack("{s:s, s:I}", "file", out, "contacts", (json_int_t)e.n));
done:
  if (tmp[0])
    unlink(tmp);
  kith_txn_abort(txn);
  return rc;
}
