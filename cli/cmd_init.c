/* kith init, kith whoami */
#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cmds.h"
#include "core/peer.h"
#include "proto/hex.h"

static const char init_usage[] = "kith init [--name NAME] [--device LABEL]";
static const char whoami_usage[] = "kith whoami";

/* Creates home and the folders above it that are missing (0700, as XDG asks), so that
 * the default home ~/.local/share/kith works on a fresh account. Returns 0 or errno. */
static int make_parents(const char *home)
{
  char path[4096];
  if (snprintf(path, sizeof path, "%s", home) >= (int)sizeof path)
    return ENAMETOOLONG;
  for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
    *p = 0;
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
      return errno;
    *p = '/';
  }
  if (mkdir(path, 0700) != 0 && errno != EEXIST)
    return errno;
  return 0;
}

static int print_identity(struct cli *cli, kith_txn *txn, const char *intro)
{
  struct kith_identity id;
  char dev[33], pk[65], fp[40], ep[33];
  int rc = kith_txn_identity(txn, &id);
  if (rc)
    return cli_fail(rc, "cannot read this device's identity");
  kith_hex_encode(id.device_id, sizeof id.device_id, dev);
  kith_hex_encode(id.pk, sizeof id.pk, pk);
  kith_hex_encode(id.epoch, sizeof id.epoch, ep);
  kith_fingerprint(id.pk, fp);
  if (cli->json) {
    return cli_json_print(json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i}", "name",
                                    id.name, "device", id.label, "device_id", dev,
                                    "public_key", pk, "fingerprint", fp, "home",
                                    cli->home, "epoch", ep, "schema", (int)id.schema));
  }
  if (intro)
    printf("%s\n", intro);
  printf("name:        %s\n", id.name[0] ? id.name : "(not set)");
  printf("device:      %s\n", id.label);
  printf("device id:   %s\n", dev);
  printf("public key:  %s\n", pk);
  printf("fingerprint: %s\n", fp);
  printf("home:        %s\n", cli->home);
  return 0;
}

int cmd_init(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
                                       {"device", required_argument, NULL, 'd'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *name = "", *label = NULL;
  char host[256] = "this device";
  int c;
  while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
    switch (c) {
    case 'n':
      name = optarg;
      break;
    case 'd':
      label = optarg;
      break;
    case 'h':
      printf(
          "usage: %s\n\nCreates a kith store in the home folder, with a new key pair "
          "for this\ndevice. --name is your name as your partners will see it; "
          "--device labels\nthis device (default: the host name).\n",
          init_usage);
      return 0;
    default:
      return cli_usage(init_usage, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc)
    return cli_usage(init_usage, "unexpected argument '%s'", argv[optind]);
  if (!label) {
    if (gethostname(host, sizeof host - 1) != 0)
      snprintf(host, sizeof host, "this device");
    label = host;
  }
  if (!kith_utf8_valid(name, strlen(name)) || !kith_utf8_valid(label, strlen(label)))
    return cli_fail(KITH_EBADUTF8, "bad --name or --device");
  if (sodium_init() < 0)
    return cli_fail(KITH_EIO, "cannot initialise libsodium");
  int rc = make_parents(cli->home);
  if (rc)
    return cli_error(EX_CANTCREAT_, "cannot create %s: %s", cli->home, strerror(rc));
  struct kith_store_opts o = cli_store_opts();
  rc = kith_store_init(cli->home, name, label, &o, &cli->st);
  if (rc == KITH_EEXISTS)
    return cli_fail(rc, "%s", cli->home);
  if (rc)
    return cli_fail(rc, "cannot create a store in %s", cli->home);
  /* This device is the first of my devices: the record my other devices and my
   * partners will learn it from. */
  kith_txn *txn = NULL;
  struct kith_identity me;
  uint8_t dev[KITH_ID_LEN];
  if ((rc = cli_begin(cli, true, &txn)) != 0)
    return rc;
  if ((rc = kith_txn_identity(txn, &me)) != 0 ||
      (rc = kith_device_add(txn, me.label, me.pk, dev)) != 0) {
    kith_txn_abort(txn);
    return cli_fail(rc, "cannot record this device");
  }
  if ((rc = cli_commit(txn)) != 0)
    return rc;
  if ((rc = cli_begin(cli, false, &txn)) != 0)
    return rc;
  char intro[4200];
  snprintf(intro, sizeof intro, "Created a kith store in %s", cli->home);
  rc = print_identity(cli, txn, intro);
  kith_txn_abort(txn);
  return rc;
}

int cmd_whoami(struct cli *cli, int argc, char **argv)
{
  if (cli_wants_help(argc, argv)) {
    printf("usage: %s\n\nPrints your name, this device's label and id, its public key "
           "and the\nfingerprint that a partner compares when pairing.\n",
           whoami_usage);
    return 0;
  }
  if (argc != 1)
    return cli_usage(whoami_usage, "unexpected argument '%s'", argv[1]);
  kith_txn *txn = NULL;
  int rc = cli_open(cli);
  if (rc == 0)
    rc = cli_begin(cli, false, &txn);
  if (rc)
    return rc;
  rc = print_identity(cli, txn, NULL);
  kith_txn_abort(txn);
  return rc;
}
