/* kith export */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmds.h"
#include "core/csv.h"
#include "core/vcard.h"

static const char export_usage[] = "kith export [--format json|vcard|csv] [-o FILE]";

enum exp_format { EXP_JSON, EXP_VCARD, EXP_CSV };

struct exp {
  kith_txn *txn;
  FILE *f;
  enum exp_format format;
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
    /* stamps only where an import reads them back: vCard and CSV have no place */
    unsigned flags = KITH_JSON_NOTES | (e->format == EXP_JSON ? KITH_JSON_STAMPS : 0);
    json_t *j = kith_json_record(e->txn, rec, flags);
    if (!j)
      rc = KITH_ENOMEM;
    else {
      if (e->format == EXP_VCARD)
        rc = kith_vcard_write(e->f, j);
      else if (e->format == EXP_CSV)
        rc = kith_csv_write(e->f, j);
      else if (fputs(e->n ? ",\n" : "\n", e->f) < 0 ||
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
      printf("usage: %s\n\n"
             "Writes every contact with its notes, in id order, to FILE (else to "
             "stdout).\nWith -o the file is written whole or not at all.\n\n"
             "  json   (the default) ids, notes and the stamps of every field: 'kith "
             "import'\n         of the file into another home makes a faithful "
             "copy. Use it for backups\n         and moving between kith homes.\n"
             "  vcard  vCard 4.0 for other address books: one card per contact, "
             "every field\n         and note (kith's own as X-KITH-*, free fields "
             "as X-NAME), the id as\n         UID; no stamps: for other tools, not "
             "for moving between kith homes.\n"
             "  csv    one row per contact, with a header row, for spreadsheets; no "
             "stamps.\n",
             export_usage);
      return 0;
    default:
      return cli_usage(export_usage, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc)
    return cli_usage(export_usage, "unexpected argument '%s'", argv[optind]);
  struct exp e = {0};
  if (strcmp(format, "json") == 0)
    e.format = EXP_JSON;
  else if (strcmp(format, "vcard") == 0 || strcmp(format, "vcf") == 0)
    e.format = EXP_VCARD;
  else if (strcmp(format, "csv") == 0)
    e.format = EXP_CSV;
  else
    return cli_usage(export_usage, "unknown format '%s' (json, vcard or csv)", format);
  kith_txn *txn = NULL;
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
  if (e.f != stdout)
    setvbuf(e.f, NULL, _IOFBF, 1 << 16);
  if (e.format == EXP_JSON) {
    char iso[25];
    kith_hlc_iso(cli_now_ms() << 16, iso);
    fprintf(e.f, "{\"kith_export\":1,\"exported\":\"%s\",\"contacts\":[", iso);
  } else if (e.format == EXP_CSV) {
    rc = kith_csv_write_header(e.f);
  }
  if (rc == 0)
    rc = kith_kind_each(txn, KITH_KIND_CONTACT, export_one, &e);
  if (rc == 0 && e.format == EXP_JSON && fputs("\n]}\n", e.f) < 0)
    rc = KITH_EIO;
  if (rc == 0 && e.f == stdout && fflush(stdout) != 0)
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
