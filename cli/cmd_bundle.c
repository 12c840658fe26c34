/*
 * cmd_bundle.c — sync by file (`kith bundle export|import`), for a USB stick at an
 * event with no network (docs/PROTOCOL.md, "Bundles").
 *
 * A bundle is the envelopes posts would deposit at a relay (core/post.h), in bundle
 * mode (everything the recipient has not acknowledged), one per device of the
 * recipient, each after its box:
 *
 *   "KITHBND1" | { box (16) | length (4, big-endian) | envelope }...
 *
 * Only the recipient device opens its envelopes; importing twice changes nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cmds.h"
#include "core/fold.h"
#include "core/json.h"
#include "core/post.h"
#include "proto/hex.h"

#define MAGIC "KITHBND1"
#define MAGIC_LEN 8

static const char export_usage[] = "kith bundle export --to PEER|DEVICE -o FILE";
static const char import_usage[] = "kith bundle import FILE";

static int write_all(int fd, const void *p, size_t n)
{
  const uint8_t *b = p;
  while (n) {
    ssize_t w = write(fd, b, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return errno == ENOSPC || errno == EFBIG ? KITH_EFULL : KITH_EIO;
    b += w, n -= (size_t)w;
  }
  return 0;
}

/* The devices named by who: a partner's (every device of theirs) or one of mine. */
static int pick(struct cli *cli, const char *who, struct kith_remote *t, size_t *n)
{
  kith_txn *txn = NULL;
  uint8_t peer[16];
  size_t all = 0, k = 0;
  int rc = cli_begin(cli, false, &txn);
  if (rc)
    return rc;
  if ((rc = kith_remote_devices(txn, t, KITH_REMOTES_MAX, &all)) != 0) {
    kith_txn_abort(txn);
    return cli_fail(rc, "cannot read your devices and partners");
  }
  char *folded = NULL;
  if (kith_fold(who, &folded) != 0) {
    kith_txn_abort(txn);
    return cli_usage(export_usage, "'%s' is not valid UTF-8", who);
  }
  for (size_t i = 0; i < all; i++) { /* my devices by label or id prefix */
    char hex[33], *lf = NULL;
    kith_hex_encode(t[i].owner, 16, hex);
    bool match = t[i].trust == KITH_TRUST_DEVICE &&
                 (strncmp(hex, who, strlen(who)) == 0 ||
                  (kith_fold(t[i].label, &lf) == 0 && strcmp(lf, folded) == 0));
    free(lf);
    if (match)
      t[k++] = t[i];
  }
  if (k == 0) {
    rc = cli_resolve_peer(txn, who, peer);
    if (rc == 0)
      for (size_t i = 0; i < all; i++)
        if (t[i].trust == KITH_TRUST_PEER && memcmp(t[i].owner, peer, 16) == 0)
          t[k++] = t[i];
  }
  free(folded);
  kith_txn_abort(txn);
  *n = k;
  if (rc)
    return rc;
  return k ? 0 : cli_error(EX_DATAERR_, "no device known for '%s'", who);
}

static int bundle_export(struct cli *cli, int argc, char **argv)
{
  const char *to = NULL, *file = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      printf("usage: %s\n\nWrites, sealed to each device of PEER (or to one of your "
             "devices), every\nchange it has not acknowledged, to FILE: carry it there "
             "and run\n'kith bundle import FILE'. Only that device can read it; "
             "importing\ntwice changes nothing. FILE '-' writes to stdout.\n",
             export_usage);
      return 0;
    }
    if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
      to = argv[++i];
    else if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) &&
             i + 1 < argc)
      file = argv[++i];
    else
      return cli_usage(export_usage, "unexpected argument '%s'", argv[i]);
  }
  if (!to || !file)
    return cli_usage(export_usage, !to ? "missing --to PEER" : "missing -o FILE");
  int rc = cli_open(cli);
  struct kith_remote *t = calloc(KITH_REMOTES_MAX, sizeof *t);
  kith_poster **posters = calloc(KITH_REMOTES_MAX, sizeof *posters);
  size_t n = 0, envelopes = 0, records = 0, bytes = MAGIC_LEN;
  char tmp[4200] = "";
  int fd = -1;
  bool out_stdout = strcmp(file, "-") == 0;
  if (!rc && (!t || !posters))
    rc = cli_fail(KITH_ENOMEM, "bundle");
  if (rc || (rc = pick(cli, to, t, &n)) != 0)
    goto done;
  if (out_stdout) {
    fd = STDOUT_FILENO;
  } else {
    snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", file);
    fd = mkstemp(tmp);
    if (fd < 0) {
      rc = cli_fail(KITH_EIO, "cannot write %s", file);
      tmp[0] = 0;
      goto done;
    }
  }
  if ((rc = write_all(fd, MAGIC, MAGIC_LEN)) != 0) {
    rc = cli_fail(rc, "cannot write %s", file);
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    rc = kith_poster_new(cli->st, t[i].pk, KITH_POST_BUNDLE, cli_now_ms(), &posters[i]);
    if (rc) {
      rc = cli_fail(rc, "cannot prepare the bundle");
      goto done;
    }
    for (;;) {
      uint8_t *env = NULL, hdr[KITH_BOX_LEN + 4];
      size_t len = 0;
      uint64_t num = 0;
      rc = kith_poster_next(posters[i], &env, &len, &num);
      if (rc) {
        rc = cli_fail(rc, "%s", kith_poster_why(posters[i]));
        goto done;
      }
      if (!env)
        break;
      memcpy(hdr, kith_poster_box(posters[i]), KITH_BOX_LEN);
      hdr[16] = (uint8_t)(len >> 24), hdr[17] = (uint8_t)(len >> 16);
      hdr[18] = (uint8_t)(len >> 8), hdr[19] = (uint8_t)len;
      rc = write_all(fd, hdr, sizeof hdr);
      if (rc == 0)
        rc = write_all(fd, env, len);
      free(env);
      if (rc) {
        rc = cli_fail(rc, "cannot write %s", file);
        goto done;
      }
      envelopes++;
      bytes += sizeof hdr + len;
    }
    records += kith_poster_stats(posters[i])->records;
  }
  if (!out_stdout) {
    if (fsync(fd) != 0 || close(fd) != 0) {
      fd = -1;
      rc = cli_fail(errno == ENOSPC ? KITH_EFULL : KITH_EIO, "cannot write %s", file);
      goto done;
    }
    fd = -1;
    if (rename(tmp, file) != 0) {
      rc = cli_fail(KITH_EIO, "cannot write %s", file);
      goto done;
    }
    tmp[0] = 0;
  }
  for (size_t i = 0; i < n; i++) { /* the file is whole: record the numbers used */
    if ((rc = kith_poster_commit(posters[i], UINT64_MAX)) != 0) {
      rc = cli_fail(rc, "%s", kith_poster_why(posters[i]));
      goto done;
    }
  }
  const char *who = t[0].trust == KITH_TRUST_PEER ? t[0].name : t[0].label;
  if (cli->json)
    rc = cli_json_print(json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "file", file, "to",
                                  who, "devices", (json_int_t)n, "envelopes",
                                  (json_int_t)envelopes, "records", (json_int_t)records,
                                  "bytes", (json_int_t)bytes));
  else
    fprintf(out_stdout ? stderr : stdout,
            "Wrote %s for %s (%zu device%s): %zu record(s) in %zu envelope(s), %zu "
            "bytes\n",
            out_stdout ? "the bundle" : file, who, n, n == 1 ? "" : "s", records,
            envelopes, bytes);
done:
  if (fd >= 0 && !out_stdout)
    close(fd);
  if (tmp[0])
    unlink(tmp);
  for (size_t i = 0; posters && i < n; i++)
    kith_poster_free(posters[i]);
  free(posters);
  free(t);
  return rc;
}

static int read_exact(FILE *f, void *p, size_t n)
{
  return fread(p, 1, n, f) == n ? 0 : ferror(f) ? KITH_EIO : KITH_EBADMSG;
}

static int bundle_import(struct cli *cli, int argc, char **argv)
{
  if (cli_wants_help(argc, argv)) {
    printf("usage: %s\n\nApplies a bundle addressed to this device ('kith bundle "
           "export' on the\nother side), after checking each envelope was sealed to "
           "this device by\na device it trusts. Importing twice changes nothing. FILE "
           "'-' reads stdin.\n\nexit codes: 0 imported, 65 not a bundle or tampered "
           "with, 77 not for this\ndevice.\n",
           import_usage);
    return 0;
  }
  if (argc != 2)
    return cli_usage(import_usage, argc < 2 ? "missing FILE" : "too many arguments");
  const char *file = argv[1];
  FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
  if (!f)
    return cli_error(EX_NOINPUT_, "cannot open %s: %s", file, strerror(errno));
  int rc = cli_open(cli);
  kith_inbox *ib = NULL;
  uint8_t magic[MAGIC_LEN], *env = NULL;
  uint64_t envelopes = 0, records = 0, changed = 0, other = 0, rejected = 0;
  char why[256] = "";
  if (rc)
    goto done;
  if (read_exact(f, magic, MAGIC_LEN) != 0 || memcmp(magic, MAGIC, MAGIC_LEN) != 0) {
    rc = cli_error(EX_DATAERR_, "%s is not a kith bundle", file);
    goto done;
  }
  if ((rc = kith_inbox_new(cli->st, cli_now_ms, &ib)) != 0 ||
      !(env = malloc(KITH_ENVELOPE_MAX))) {
    rc = cli_fail(rc ? rc : KITH_ENOMEM, "cannot read the bundle");
    goto done;
  }
  for (;;) {
    uint8_t hdr[KITH_BOX_LEN + 4];
    size_t got = fread(hdr, 1, sizeof hdr, f);
    if (got == 0 && feof(f))
      break;
    size_t len =
        (size_t)hdr[16] << 24 | (size_t)hdr[17] << 16 | (size_t)hdr[18] << 8 | hdr[19];
    if (got != sizeof hdr || len > KITH_ENVELOPE_MAX || read_exact(f, env, len) != 0) {
      rc = cli_error(EX_DATAERR_, "%s is cut short or damaged (after %llu envelopes)",
                     file, (unsigned long long)(envelopes + other + rejected));
      goto done;
    }
    if (!kith_inbox_knows(ib, hdr)) {
      other++; /* another device's */
      continue;
    }
    struct kith_inbox_result res;
    int trc = kith_inbox_take(ib, hdr, env, len, &res);
    if (trc == 0) {
      envelopes++;
      records += res.records;
      changed += res.changed;
    } else if (trc == KITH_EBADMSG || trc == KITH_EPROTO || trc == KITH_EREFUSED ||
               trc == KITH_EFUTURE) {
      rejected++;
      if (!why[0])
        snprintf(why, sizeof why, "%s", kith_inbox_why(ib));
    } else {
      rc = cli_fail(trc, "cannot apply the bundle");
      goto done;
    }
  }
  if (cli->json)
    cli_json_print(json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "file", file,
                             "envelopes", (json_int_t)envelopes, "records",
                             (json_int_t)records, "changed", (json_int_t)changed,
                             "other_devices", (json_int_t)other, "rejected",
                             (json_int_t)rejected));
  if (rejected)
    rc = cli_error(EX_DATAERR_, "%llu envelope(s) in %s refused: %s",
                   (unsigned long long)rejected, file, why);
  else if (!envelopes)
    rc = cli_error(EX_NOPERM_,
                   "%s is not for this device (it is sealed to another device, or "
                   "comes from one this home does not trust)",
                   file);
  else if (!cli->json)
    printf("Imported %s: %llu record(s), %llu change(s)%s\n", file,
           (unsigned long long)records, (unsigned long long)changed,
           changed ? "" : " (nothing new)");
done:
  free(env);
  kith_inbox_free(ib);
  if (f != stdin)
    fclose(f);
  return rc;
}

int cmd_bundle(struct cli *cli, int argc, char **argv)
{
  if (argc >= 2 && strcmp(argv[1], "export") == 0)
    return bundle_export(cli, argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "import") == 0)
    return bundle_import(cli, argc - 1, argv + 1);
  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    printf("usage: %s\n       %s\n\nSync by file, for a USB stick at an event with no "
           "network.\n",
           export_usage, import_usage);
    return 0;
  }
  return cli_usage("kith bundle export|import ...",
                   argc < 2 ? "missing export or import" : "unknown subcommand '%s'",
                   argc < 2 ? "" : argv[1]);
}
