/*
 * kith — the command line. A table of subcommands, one file per group; only cli/
 * prints. See `kith --help`.
 */
#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmds.h"
#include "cli/util.h"

static const struct cli_cmd commands[] = {
    {"init", cmd_init, "create the store and this device's keys"},
    {"whoami", cmd_whoami, "name, device id, public key, fingerprint"},
    {"card", cmd_card, "show or set your own details (what introductions give)"},
    {"contact", cmd_contact, "add, list, show, set, rm contacts"},
    {"note", cmd_note, "add, list, edit, rm interaction notes"},
    {"followup", cmd_followup, "set or clear when to get back to a contact"},
    {"due", cmd_due, "who needs a follow-up or a touch, soonest first"},
    {"tag", cmd_tag, "list tags; set how often a tag's contacts want a touch"},
    {"import", cmd_import, "import contacts from a file"},
    {"export", cmd_export, "export contacts to a file"},
    {"peer", cmd_peer, "list, show, verify, rm, ping the partners you paired with"},
    {"device", cmd_device, "list, revoke, ping your own linked devices"},
    {"invite", cmd_invite, "print a one-time code to pair with a partner or device"},
    {"join", cmd_join, "pair using someone's invite code"},
    {"serve", cmd_serve, "accept pairings and syncs; find and sync devices on the LAN"},
    {"sync", cmd_sync, "one sync round with your devices and partners, then exit"},
    {"share", cmd_share, "share a contact's card with a partner"},
    {"unshare", cmd_unshare, "stop sharing a contact (you both keep a private copy)"},
    {"referral", cmd_referral, "pass leads to partners, track them, thank, stats"},
    {"relay", cmd_relay, "run a relay; list the relays your devices fetch from"},
    {"bundle", cmd_bundle, "sync by file: export changes for a peer, import theirs"},
    {"intro", cmd_intro, "introduce two people who agree to it; answer introductions"},
};

static void usage(FILE *f)
{
  fputs("usage: kith [--home DIR] [--json] COMMAND [ARGS...]\n\n"
        "kith keeps the people you know, what you talked about, and who can help\n"
        "whom, on your own devices.\n\ncommands:\n",
        f);
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
  fputs("\noptions:\n"
        "  --home DIR   the store folder (default: $KITH_HOME, else\n"
        "               $XDG_DATA_HOME/kith, else ~/.local/share/kith)\n"
        "  --json       print one JSON document on stdout\n"
        "  --version    print the version\n"
        "  -h, --help   this help; 'kith COMMAND --help' for a command\n\n"
        "exit codes: 0 ok, 64 usage, 65 bad data, 66 no store (run 'kith init'),\n"
        "73 store exists, 74 I/O (disk full, read-only), 75 busy\n\n"
        "The manual, with every command and option: man kith\n",
        f);
}

static char *default_home(void)
{
  const char *k = getenv("KITH_HOME");
  if (k && *k)
    return strdup(k);
  const char *x = getenv("XDG_DATA_HOME");
  const char *h = getenv("HOME");
  char buf[4096];
  if (x && *x)
    snprintf(buf, sizeof buf, "%s/kith", x);
  else if (h && *h)
    snprintf(buf, sizeof buf, "%s/.local/share/kith", h);
  else
    return NULL;
  return strdup(buf);
}

int main(int argc, char **argv)
{
  static const struct option opts[] = {
      {"home", required_argument, NULL, 'H'},
      {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0},
  };
  struct cli cli = {0};
  char *home = NULL;
  int c, code;

  setlocale(LC_CTYPE, "");
  signal(SIGXFSZ, SIG_IGN); /* a file-size limit is an error to report, not a death */
  signal(SIGPIPE, SIG_IGN); /* a peer that vanishes mid-write: EPIPE, not a death */
  opterr = 0;
  while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
    switch (c) {
    case 'H':
      free(home);
      home = strdup(optarg);
      break;
    case 'j':
      cli.json = true;
      break;
    case 'h':
      usage(stdout);
      free(home);
      return 0;
    case 'V':
      puts("kith " KITH_VERSION);
      free(home);
      return 0;
    default:
      free(home);
      return cli_usage("kith [--home DIR] [--json] COMMAND [ARGS...]",
                       "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind >= argc) {
    usage(stderr);
    free(home);
    return EX_USAGE_;
  }
  if (!home)
    home = default_home();
  if (!home)
    return cli_usage(NULL, "no home folder: set --home, KITH_HOME or HOME");
  cli.home = home;
  cli.color = cli_color(stdout);

  const char *name = argv[optind];
  const struct cli_cmd *cmd = NULL;
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(commands[i].name, name) == 0)
      cmd = &commands[i];
  if (strcmp(name, "help") == 0) {
    usage(stdout);
    free(home);
    return 0;
  }
  if (!cmd) {
    free(home);
    return cli_usage(NULL, "unknown command '%s' (see 'kith --help')", name);
  }
  int first = optind;
  optind = 0; /* each command parses its own options from scratch */
  code = cmd->run(&cli, argc - first, argv + first);
  kith_store_close(cli.st);
  free(home);
  if (fflush(stdout) != 0 && code == 0)
    code = cli_fail(KITH_EIO, "cannot write the output");
  return code;
}
