/* kith relay: run a relay server (net/relay.h), and the relays this home uses. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cli/cmds.h"
#include "net/relay.h"
#include "proto/hex.h"

static const char relay_usage[] = "kith relay run|add|list|rm ...";
static const char run_usage[] =
    "kith relay run --listen ADDR [--data DIR] [--max-envelope BYTES]\n"
    "       [--box-quota BYTES] [--box-count N] [--owner-quota BYTES] [--ttl "
    "DURATION]\n"
    "       [--max-conns N] [--per-address N] [--rate N]";

/* ---- arguments ------------------------------------------------------------------- */

/* "4096", "64K", "64KiB", "1M", "256MiB", "2G": bytes (binary units). 0 on a bad
 * size or one above 2^50. */
static uint64_t parse_bytes(const char *s)
{
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || v == 0 || s[0] == '-')
    return 0;
  int shift = 0;
  switch (*end) {
  case 'k':
  case 'K':
    shift = 10, end++;
    break;
  case 'm':
  case 'M':
    shift = 20, end++;
    break;
  case 'g':
  case 'G':
    shift = 30, end++;
    break;
  }
  if (shift && strcmp(end, "iB") == 0)
    end += 2;
  else if (shift && (*end == 'B' || *end == 'b'))
    end++;
  if (*end || v > (1ull << (50 - shift)))
    return 0;
  return (uint64_t)v << shift;
}

/* A count from 1 to max; 0 if it is not one. */
static uint32_t parse_count(const char *s, uint32_t max)
{
  char *end = NULL;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || end == s || *end || s[0] == '-' || v == 0 || v > max)
    return 0;
  return (uint32_t)v;
}

/* ---- relay run ----------------------------------------------------------------------
 */

struct runner {
  uv_loop_t *loop;
  kith_relay *relay;
  uv_signal_t sigint, sigterm;
  bool stopping;
  int signum;
};

/* One event, a JSON line, flushed. */
static void event(json_t *ev)
{
  cli_json_print(ev);
  fflush(stdout);
}

static void on_relay_error(void *arg, int code, const char *what)
{
  (void)arg;
  event(json_pack("{s:s, s:s, s:s}", "event", "error", "error", what, "reason",
                  kith_strerror(code)));
}

static void on_closed(uv_handle_t *h)
{
  (void)h;
}

static void on_stopped(void *arg)
{
  struct runner *r = arg;
  uv_close((uv_handle_t *)&r->sigint, on_closed);
  uv_close((uv_handle_t *)&r->sigterm, on_closed);
}

static void on_signal(uv_signal_t *s, int signum)
{
  struct runner *r = s->data;
  if (r->stopping)
    return;
  r->stopping = true;
  r->signum = signum;
  struct kith_relayd_stats st;
  kith_relay_stats(r->relay, &st);
  event(json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "event", "stopping", "signal",
                  signum == SIGINT ? "INT" : "TERM", "deposits", (json_int_t)st.puts,
                  "deleted", (json_int_t)st.deleted, "fetched", (json_int_t)st.fetched,
                  "commits", (json_int_t)st.commits));
  kith_relay_stop(r->relay, on_stopped, r);
  r->relay = NULL;
}

static int run_help(void)
{
  printf(
      "usage: %s\n\n"
      "Runs a relay: a mailbox server that keeps sealed envelopes one device\n"
      "deposits for another until the recipient fetches and deletes them. It\n"
      "never holds a key that opens them. It needs no 'kith init': its data\n"
      "folder holds the mail and the relay's own key, made on first start.\n"
      "Runs until SIGINT or SIGTERM; a deposit is acknowledged only once it is\n"
      "on disk, so stopping it, even with kill -9, loses nothing acknowledged.\n\n"
      "  --listen ADDR        IP:PORT to listen on (port 0: any free port)\n"
      "  --data DIR           data folder (default: HOME/relay, HOME from\n"
      "                       --home or KITH_HOME)\n"
      "  --max-envelope BYTES largest envelope taken (default 1MiB+4KiB = 1052672)\n"
      "  --box-quota BYTES    bytes waiting in one mailbox (default 64MiB)\n"
      "  --box-count N        envelopes waiting in one mailbox (default 4096)\n"
      "  --owner-quota BYTES  bytes waiting for one recipient device, all its\n"
      "                       mailboxes together (default 256MiB)\n"
      "  --ttl DURATION       unfetched mail expires after this (90s, 30m, 2h,\n"
      "                       14d; default 14d)\n"
      "  --max-conns N        connections at once (default 256)\n"
      "  --per-address N      connections from one address (IPv6: one /64) at\n"
      "                       once (default 32)\n"
      "  --rate N             deposits a second from one address, sustained,\n"
      "                       bursts of 10 s worth (default 20)\n"
      "BYTES take K, M, G (KiB, MiB, GiB). Refusals clients see: 1 too big,\n"
      "2 mailbox full, 3 recipient full, 4 rate limited, 5 not the box's owner,\n"
      "6 busy (store full), 8 no rendezvous.\n\n"
      "Prints JSON Lines on stdout, flushed: {\"event\":\"listening\",\"addr\":...,\n"
      "\"key\":...} first (the real port, and the relay's public key in hex), then\n"
      "\"error\" events (a commit that failed, e.g. a full disk), \"stopping\"\n"
      "at a signal. Exit 0 after a signal; 64 usage; 69 the address is in use;\n"
      "74 the data folder cannot be used; 65 it holds a newer or corrupt store.\n"
      "docs/RELAY.md is the operator's guide.\n",
      run_usage);
  return 0;
}

int cmd_relay_run(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = {
      {"listen", required_argument, NULL, 'l'},
      {"data", required_argument, NULL, 'd'},
      {"max-envelope", required_argument, NULL, 'e'},
      {"box-quota", required_argument, NULL, 'b'},
      {"box-count", required_argument, NULL, 'c'},
      {"owner-quota", required_argument, NULL, 'o'},
      {"ttl", required_argument, NULL, 't'},
      {"max-conns", required_argument, NULL, 'm'},
      {"per-address", required_argument, NULL, 'p'},
      {"rate", required_argument, NULL, 'r'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct kith_relay_config cfg;
  const char *listen = NULL, *data = NULL;
  char datadir[4096];
  int c;
  kith_relay_config_default(&cfg);
  const char *wait = getenv("KITH_RELAY_WAIT_MS"); /* tests: shorter rendezvous */
  if (wait && *wait)
    cfg.relayd.wait_ms = (uint32_t)strtoul(wait, NULL, 10);
  opterr = 0;
  while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
    uint64_t v = 0;
    switch (c) {
    case 'l':
      listen = optarg;
      break;
    case 'd':
      data = optarg;
      break;
    case 'e':
      if (!(v = parse_bytes(optarg)) || v > ((uint64_t)1 << 30))
        return cli_usage(run_usage, "bad --max-envelope '%s' (1 byte to 1GiB)", optarg);
      cfg.mailbox.max_envelope = v;
      break;
    case 'b':
      if (!(cfg.mailbox.box_bytes = parse_bytes(optarg)))
        return cli_usage(run_usage, "bad --box-quota '%s' (bytes: 64M, 1G...)", optarg);
      break;
    case 'c':
      if (!(cfg.mailbox.box_count = parse_count(optarg, UINT32_MAX)))
        return cli_usage(run_usage, "bad --box-count '%s'", optarg);
      break;
    case 'o':
      if (!(cfg.mailbox.owner_bytes = parse_bytes(optarg)))
        return cli_usage(run_usage, "bad --owner-quota '%s' (bytes: 256M, 1G...)",
                         optarg);
      break;
    case 't':
      if (!(cfg.mailbox.ttl_s =
                cli_parse_duration_ms(optarg, 3650ull * 86400000) / 1000))
        return cli_usage(run_usage, "bad --ttl '%s' (90s, 30m, 2h, 14d)", optarg);
      break;
    case 'm':
      if (!(v = parse_count(optarg, 1000000)))
        return cli_usage(run_usage, "bad --max-conns '%s' (1 to 1000000)", optarg);
      cfg.net.max_conns = v;
      break;
    case 'p':
      if (!(cfg.relayd.per_address = parse_count(optarg, UINT32_MAX)))
        return cli_usage(run_usage, "bad --per-address '%s'", optarg);
      break;
    case 'r':
      if (!(cfg.relayd.rate = parse_count(optarg, 1000000)))
        return cli_usage(run_usage, "bad --rate '%s' (deposits a second, 1 to 1000000)",
                         optarg);
      break;
    case 'h':
      return run_help();
    default:
      return cli_usage(run_usage, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc)
    return cli_usage(run_usage, "unexpected argument '%s'", argv[optind]);
  if (!listen)
    return cli_usage(run_usage, "missing --listen ADDR (e.g. 0.0.0.0:5485)");
  struct sockaddr_storage addr;
  if (kith_net_parse_addr(listen, &addr) != 0)
    return cli_usage(run_usage, "bad address '%s' (IP:PORT with an IP address)",
                     listen);
  if (!data) {
    if ((size_t)snprintf(datadir, sizeof datadir, "%s/relay", cli->home) >=
        sizeof datadir)
      return cli_usage(run_usage, "the home folder's name is too long");
    data = datadir;
  }
  cfg.dir = data;
  cfg.on_error = on_relay_error;

  struct runner r = {.loop = uv_default_loop()};
  int rc = kith_relay_start(r.loop, (struct sockaddr *)&addr, &cfg, &r.relay);
  if (rc == KITH_EADDRINUSE) {
    uv_run(r.loop, UV_RUN_NOWAIT);
    uv_loop_close(r.loop);
    return cli_error(EX_UNAVAILABLE_, "cannot listen on %s: %s", listen,
                     kith_strerror(rc));
  }
  if (rc) {
    uv_run(r.loop, UV_RUN_NOWAIT);
    uv_loop_close(r.loop);
    if (rc == KITH_EINVAL)
      return cli_error(EX_USAGE_, "cannot listen on %s: not an address to listen on",
                       listen);
    return cli_fail(rc, "cannot run a relay with data folder %s", data);
  }
  uint16_t port = kith_relay_port(r.relay);
  if (addr.ss_family == AF_INET6)
    ((struct sockaddr_in6 *)&addr)->sin6_port = htons(port);
  else
    ((struct sockaddr_in *)&addr)->sin_port = htons(port);
  char text[128], key[65];
  uint8_t pk[32];
  cli_addr_text((struct sockaddr *)&addr, text, sizeof text);
  kith_relay_public_key(r.relay, pk);
  kith_hex_encode(pk, sizeof pk, key);
  uv_signal_init(r.loop, &r.sigint);
  uv_signal_init(r.loop, &r.sigterm);
  r.sigint.data = r.sigterm.data = &r;
  uv_signal_start(&r.sigint, on_signal, SIGINT);
  uv_signal_start(&r.sigterm, on_signal, SIGTERM);
  event(json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "event", "listening", "addr", text,
                  "key", key, "data", data, "max_envelope",
                  (json_int_t)cfg.mailbox.max_envelope, "ttl_s",
                  (json_int_t)cfg.mailbox.ttl_s));
  uv_run(r.loop, UV_RUN_DEFAULT);
  uv_loop_close(r.loop);
  event(json_pack("{s:s}", "event", "stopped"));
  return 0;
}

/* ---- relay add, list, rm: the relays this home uses --------------------------------
 */

/* The subcommands: `relay run` is the server (above); add, list and rm are the
 * relays this home uses (cli/cmd_relays.c). */
static const struct cli_cmd relay_cmds[] = {
    {"run", cmd_relay_run, "run a relay: a mailbox server for other people's devices"},
    {"add", cmd_relay_add, "add a relay where your devices fetch their mail"},
    {"list", cmd_relay_list, "your relays, and your partners'"},
    {"rm", cmd_relay_rm, "remove one of your relays"},
};

int cmd_relay(struct cli *cli, int argc, char **argv)
{
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    FILE *f = argc < 2 ? stderr : stdout;
    fprintf(f, "usage: %s\n\n", relay_usage);
    for (size_t i = 0; i < sizeof relay_cmds / sizeof relay_cmds[0]; i++)
      fprintf(f, "  %-5s %s\n", relay_cmds[i].name, relay_cmds[i].summary);
    fputs("\n'kith relay SUBCOMMAND --help' for one of them.\n", f);
    return argc < 2 ? EX_USAGE_ : 0;
  }
  for (size_t i = 0; i < sizeof relay_cmds / sizeof relay_cmds[0]; i++)
    if (strcmp(argv[1], relay_cmds[i].name) == 0)
      return relay_cmds[i].run(cli, argc - 1, argv + 1);
  return cli_usage(relay_usage, "unknown relay command '%s'", argv[1]);
}
