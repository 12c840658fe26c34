/* kith export */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmds.h"

static const char export_usage[] = "kith export [--format json] [-o FILE]";

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
