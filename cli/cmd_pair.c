/* kith invite, kith join, kith serve: pairing over TCP (net/) with core/pair.h,
 * directly or through a relay's rendezvous (core/relayc.h, kith_relayc_pipe); serve
 * also accepts sync links (core/link.h) on the same port (core/accept.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <qrencode.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "cli/cmds.h"
#include "cli/syncer.h"
#include "core/accept.h"
#include "core/pair.h"
#include "core/peer.h"
#include "core/relayc.h"
#include "net/conn.h"
#include "proto/hex.h"
#include "proto/safety.h"

static const char invite_usage[] = "kith invite [--device] [--expires DURATION] [--qr] "
                                   "[--listen ADDR | --relay HOST:PORT]";
static const char join_usage[] = "kith join CODE";
static const char serve_usage[] = "kith serve [--listen ADDR]";

#define DEFAULT_PORT 5484 /* K-I-T-H on a phone keypad */
/* Through a relay: the relay ends a wait after 15 minutes (docs/PROTOCOL.md, "Relay")
 * and sends a keepalive every 20 s meanwhile, so 60 s of silence means it is gone. */
#define RELAY_IDLE_MS 60000
/* A wait the relay ended sooner than this was not its time limit running out
 * (another R_WAIT took the tag, or the tag is spent): waiting again would loop. */
#define RELAY_REWAIT_MIN_MS 1000
#define SERVE_FILE "serve.addr"

static bool is_any(const struct sockaddr *sa)
{
  if (sa->sa_family == AF_INET6) {
    static const struct in6_addr any = IN6ADDR_ANY_INIT;
    return memcmp(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, &any,
                  sizeof any) == 0;
  }
  return ((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr == INADDR_ANY;
}

static uint16_t sa_port(const struct sockaddr_storage *ss)
{
  return ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
                                         : ((const struct sockaddr_in *)ss)->sin_port);
}

/* The socket address a hint names (the inviter's, or its relay's). */
static void hint_addr(const struct kith_hint *h, struct sockaddr_storage *sa)
{
  memset(sa, 0, sizeof *sa);
  if (h->family == 6) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;
    s6->sin6_family = AF_INET6;
    memcpy(&s6->sin6_addr, h->addr, 16);
    s6->sin6_port = htons(h->port);
  } else {
    struct sockaddr_in *s4 = (struct sockaddr_in *)sa;
    s4->sin_family = AF_INET;
    memcpy(&s4->sin_addr, h->addr, 4);
    s4->sin_port = htons(h->port);
  }
}

static void add_hint(struct kith_invite *inv, const struct sockaddr *sa, uint16_t port)
{
  if (inv->nhints >= KITH_INVITE_MAX_HINTS)
    return;
  struct kith_hint *h = &inv->hints[inv->nhints];
  memset(h, 0, sizeof *h);
  if (sa->sa_family == AF_INET6) {
    h->family = 6;
    memcpy(h->addr, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
  } else {
    h->family = 4;
    memcpy(h->addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
  }
  h->port = port;
  inv->nhints++;
}

/* Where a joiner may reach us: the address we listen on, or, listening on every
 * address, this machine's IPv4 addresses (loopback last, as a fallback). */
static void fill_hints(struct kith_invite *inv, const struct sockaddr *listen,
                       uint16_t port)
{
  if (!is_any(listen)) {
    add_hint(inv, listen, port);
    return;
  }
  uv_interface_address_t *ifs = NULL;
  int n = 0;
  if (uv_interface_addresses(&ifs, &n) == 0) {
    for (int i = 0; i < n && inv->nhints < KITH_INVITE_MAX_HINTS - 1; i++)
      if (!ifs[i].is_internal && ifs[i].address.address4.sin_family == AF_INET)
        add_hint(inv, (const struct sockaddr *)&ifs[i].address.address4, port);
    uv_free_interface_addresses(ifs, n);
  }
  struct sockaddr_in lo = {.sin_family = AF_INET};
  lo.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  add_hint(inv, (const struct sockaddr *)&lo, port);
}

static void print_paired(struct cli *cli, kith_txn *txn,
                         const struct kith_pair_result *r)
{
  struct kith_identity me;
  char safety[KITH_SAFETY_TEXT_LEN] = "", fp[40], hex[33];
  if (kith_txn_identity(txn, &me) == 0 && kith_safety_number(me.pk, r->peer_pk, safety))
    safety[0] = 0;
  kith_fingerprint(r->peer_pk, fp);
  kith_hex_encode(r->peer_id, 16, hex);
  if (cli->json) {
    json_t *ev = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:s}", "event", "paired",
                           "as", r->device ? "device" : "partner", "peer", "id", hex,
                           "name", r->peer_name, "label", r->peer_label, "fingerprint",
                           fp, "safety_number", safety);
    json_object_set_new(ev, "synced", json_boolean(r->synced));
    if (r->synced) {
      json_object_set_new(ev, "sent", json_integer((json_int_t)r->sent));
      json_object_set_new(ev, "received", json_integer((json_int_t)r->received));
    } else if (r->sync_error) {
      json_object_set_new(ev, "sync_error", json_string(r->sync_why));
    }
    cli_json_print(ev);
    return;
  }
  if (r->device)
    printf("Linked %s as one of your devices.\n",
           r->peer_label[0] ? r->peer_label : "a device");
  else
    printf("Paired with %s%s%s%s.\n", r->peer_name[0] ? r->peer_name : "a partner",
           r->peer_label[0] ? " (" : "", r->peer_label, r->peer_label[0] ? ")" : "");
  printf("Safety number: %s\n", safety);
  if (r->synced)
    printf("First sync: received %llu record(s), sent %llu.\n",
           (unsigned long long)r->received, (unsigned long long)r->sent);
  fflush(stdout);
}

/* ---- the pairing host: invite and serve ---------------------------------------- */

struct host {
  struct cli *cli;
  uv_loop_t *loop;
  kith_net_server *srv;
  uv_timer_t timer;
  uv_signal_t sigint, sigterm;
  bool one_shot; /* invite: stop after the first pairing */
  bool demux;    /* serve: pairings and sync links alike (core/accept.h) */
  int code;      /* exit code */
  bool stopping;
  const uint8_t *secret; /* invite: the one we wait for */
  char serve_file[4200];
  struct autosync *autosync; /* serve: outgoing syncs and LAN discovery */
};

static uint64_t now_ms(void)
{
  return cli_now_ms();
}

static int host_new_session(void *arg, const struct kith_session_vt **vt, void **s)
{
  struct host *h = arg;
  if (h->demux) {
    kith_accept *a = NULL;
    int rc = kith_accept_new(h->cli->st, now_ms, &a);
    if (rc)
      return rc;
    *vt = &kith_accept_vt;
    *s = a;
    return 0;
  }
  kith_pair *p = NULL;
  int rc = kith_pair_host_new(h->cli->st, now_ms, &p);
  if (rc)
    return rc;
  *vt = &kith_pair_vt;
  *s = p;
  return 0;
}

static void host_stop(struct host *h, int code)
{
  if (h->stopping)
    return;
  h->stopping = true;
  h->code = code;
  kith_net_server_stop(h->srv, NULL);
  h->srv = NULL;
  autosync_stop(h->autosync);
  h->autosync = NULL;
  uv_close((uv_handle_t *)&h->timer, NULL);
  uv_close((uv_handle_t *)&h->sigint, NULL);
  uv_close((uv_handle_t *)&h->sigterm, NULL);
}

static void report_pair(struct host *h, const struct kith_pair_result *r)
{
  if (r->error == 0) {
    kith_txn *txn = NULL;
    if (kith_txn_begin(h->cli->st, false, &txn) == 0) {
      print_paired(h->cli, txn, r);
      kith_txn_abort(txn);
    }
    if (h->one_shot)
      host_stop(h, 0);
    return;
  }
  /* A failed attempt (a wrong code, a stranger, a vanished joiner) is reported and
   * the wait goes on: it costs nothing but that connection. */
  if (h->cli->json) {
    cli_json_print(json_pack("{s:s, s:s}", "event", "pair_failed", "why", r->why));
  } else {
    fprintf(stderr, "kith: a pairing attempt failed: %s\n", r->why);
  }
}

/* A sync link ended: synced (or, for a ping, said hello and goodbye), refused
 * (REFUSE 1 or 2 sent), or failed (a stranger without our key, a broken stream). */
static void report_link(struct host *h, const struct kith_link_result *r)
{
  syncer_report(h->cli, r, NULL, 0);
}

static void host_free_session(void *arg, void *s)
{
  struct host *h = arg;
  if (!h->demux) {
    struct kith_pair_result r;
    kith_pair_result(s, &r);
    kith_pair_free(s);
    report_pair(h, &r);
    return;
  }
  struct kith_accept_result *r = malloc(sizeof *r);
  if (!r) {
    kith_accept_free(s);
    return;
  }
  kith_accept_result(s, r);
  kith_accept_free(s);
  if (r->kind == KITH_ACCEPT_PAIR)
    report_pair(h, &r->pair);
  else if (r->kind == KITH_ACCEPT_LINK)
    report_link(h, &r->link);
  else if (h->cli->json) /* not a kith connection, or gone before its preamble */
    cli_json_print(json_pack("{s:s, s:s}", "event", "conn_failed", "why", r->why));
  else
    fprintf(stderr, "kith: a connection failed: %s\n", r->why);
  free(r);
}

static void on_signal(uv_signal_t *s, int signum)
{
  (void)signum;
  host_stop(s->data, 0);
}

static void on_expiry(uv_timer_t *t)
{
  struct host *h = t->data;
  if (h->secret) { /* waiting on a serve that runs the pairing: poll the store */
    kith_txn *txn = NULL;
    int st = KITH_EIO;
    if (kith_txn_begin(h->cli->st, false, &txn) == 0) {
      st = kith_pair_invite_state(txn, h->secret, now_ms());
      kith_txn_abort(txn);
    }
    if (st == 0)
      return;
    if (st == KITH_EUSED) {
      if (h->cli->json)
        cli_json_print(json_pack("{s:s}", "event", "used"));
      else
        printf("The invite was used (kith serve paired it; see 'kith peer list').\n");
      host_stop(h, 0);
      return;
    }
  }
  cli_error(0, "the invite expired before anyone joined");
  host_stop(h, EX_TEMPFAIL_);
}

static int host_setup(struct host *h, const struct sockaddr *addr)
{
  struct kith_net_factory f = {host_new_session, host_free_session};
  h->loop = uv_default_loop();
  int rc = kith_net_server_start(h->loop, addr, NULL, &f, h, &h->srv);
  if (rc)
    return rc;
  uv_timer_init(h->loop, &h->timer);
  h->timer.data = h;
  uv_signal_init(h->loop, &h->sigint);
  uv_signal_init(h->loop, &h->sigterm);
  h->sigint.data = h->sigterm.data = h;
  uv_signal_start(&h->sigint, on_signal, SIGINT);
  uv_signal_start(&h->sigterm, on_signal, SIGTERM);
  return 0;
}

static void host_run(struct host *h)
{
  uv_run(h->loop, UV_RUN_DEFAULT);
  uv_loop_close(h->loop);
}

/* A running `kith serve` for this home, if any: its address text. */
static bool serve_running(struct cli *cli, char *addr, size_t n)
{
  char path[4200], buf[256];
  snprintf(path, sizeof path, "%s/" SERVE_FILE, cli->home);
  FILE *f = fopen(path, "r");
  if (!f)
    return false;
  long pid = 0;
  bool ok = fgets(buf, sizeof buf, f) && sscanf(buf, "%ld", &pid) == 1 && pid > 0 &&
            fgets(addr, (int)n, f) != NULL;
  fclose(f);
  if (!ok || kill((pid_t)pid, 0) != 0)
    return false; /* stale: serve was killed */
  addr[strcspn(addr, "\n")] = 0;
  return true;
}

/* ---- invite --relay: the inviter waits at a relay ---------------------------- */

/* An invite waiting at a relay's rendezvous under its tag. Each round is one
 * connection: a kith_relayc_pipe in wait mode around the pairing host session that
 * `invite --listen` gives each incoming connection. The relay ends a wait after 15
 * minutes; a wait it ended that way is renewed, round after round, until the
 * invite expires. The code goes out once the first R_WAIT is on its way to the
 * relay, so a joiner does not find "no one waiting", and an unreachable relay is
 * one line on stderr with nothing on stdout. */
struct rwait {
  struct cli *cli;
  uv_loop_t *loop;
  const char *relay; /* as given */
  struct sockaddr_storage addr;
  uint8_t tag[KITH_INVITE_TAG_LEN];
  uint64_t expires_ms, round_ms; /* cli_now_ms's clock */
  const char *code;              /* the text, printed once the wait is sent */
  bool qr, device, announced, finished;
  int exit_code;
  uv_timer_t expiry;
  uv_check_t check; /* looks for the moment the first wait is sent */
  uv_signal_t sigint, sigterm;
  kith_pair *pair; /* this round's, while its connection runs */
  kith_relayc_pipe *pipe;
};

static int rwait_round(struct rwait *w);

/* Ends the wait with an exit code. A connection still running then (the invite
 * expired, or a signal came, while the relay holds the wait) is left as it is: the
 * loop stops, the process exits, and the kernel's closing the socket ends the wait
 * at the relay. net/ cannot cancel a client connection, and nothing in this one
 * needs saving: the pairing session writes to the store only after a join, and a
 * joined session is always let finish. */
static void rwait_finish(struct rwait *w, int code)
{
  if (w->finished)
    return;
  w->finished = true;
  w->exit_code = code;
  uv_close((uv_handle_t *)&w->expiry, NULL);
  uv_close((uv_handle_t *)&w->check, NULL);
  uv_close((uv_handle_t *)&w->sigint, NULL);
  uv_close((uv_handle_t *)&w->sigterm, NULL);
  if (w->pipe)
    uv_stop(w->loop);
}

static void rwait_announce(struct rwait *w)
{
  w->announced = true;
  if (w->cli->json)
    cli_json_print(json_pack("{s:s}", "code", w->code));
  else
    printf("%s\n", w->code);
  fflush(stdout);
  if (w->qr)
    (void)cli_print_qr(stdout, w->code, QR_ECLEVEL_M);
  if (!w->cli->json)
    fprintf(stderr, "Waiting at relay %s for 'kith join %s'%s... (Ctrl-C to stop)\n",
            w->relay, w->code, w->device ? " on your new device" : "");
}

/* After each loop iteration until the code is out: the pipe is ESTABLISHED once
 * the relay handshake is done, with R_WAIT queued behind it; once nothing is
 * pending, the transport has handed both to the kernel. (pending() and state()
 * only look.) */
static void rwait_on_check(uv_check_t *c)
{
  struct rwait *w = c->data;
  const uint8_t *out = NULL;
  if (!w->pipe || kith_relayc_pipe_vt.state(w->pipe) != KITH_SESSION_ESTABLISHED ||
      kith_relayc_pipe_vt.pending(w->pipe, &out) != 0)
    return;
  uv_check_stop(c);
  rwait_announce(w);
}

static void rwait_expired(struct rwait *w)
{
  cli_error(0, "the invite expired before anyone joined");
  rwait_finish(w, EX_TEMPFAIL_);
}

static void rwait_on_expiry(uv_timer_t *t)
{
  struct rwait *w = t->data;
  if (w->pipe && kith_relayc_pipe_joined(w->pipe))
    return; /* someone joined: the pairing session checks the expiry itself */
  rwait_expired(w);
}

static void rwait_on_signal(uv_signal_t *s, int signum)
{
  (void)signum;
  rwait_finish(s->data, 0);
}

/* The joined round's outcome: what a LAN pairing reports. The relay spent the tag
 * on this join, so a failed pairing cannot wait again: the invite ends. */
static void rwait_paired(struct rwait *w, const struct kith_pair_result *r)
{
  kith_txn *txn = NULL;
  switch (r->error) {
  case 0:
    if (kith_txn_begin(w->cli->st, false, &txn) == 0) {
      print_paired(w->cli, txn, r);
      kith_txn_abort(txn);
    }
    rwait_finish(w, 0);
    return;
  case KITH_EEXPIRED:
    rwait_expired(w);
    return;
  case KITH_EUSED:
    rwait_finish(
        w, cli_error(EX_NOPERM_, "%s", r->why[0] ? r->why : kith_strerror(r->error)));
    return;
  default:
    rwait_finish(w, cli_error(EX_UNAVAILABLE_, "pairing through relay %s failed: %s",
                              w->relay, r->why[0] ? r->why : kith_strerror(r->error)));
  }
}

static void rwait_done(void *arg, int result)
{
  struct rwait *w = arg;
  struct kith_pair_result r;
  char why[256];
  bool joined = kith_relayc_pipe_joined(w->pipe);
  int perr = kith_relayc_pipe_error(w->pipe);
  snprintf(why, sizeof why, "%s", kith_relayc_pipe_why(w->pipe));
  kith_pair_result(w->pair, &r);
  kith_relayc_pipe_free(w->pipe);
  kith_pair_free(w->pair);
  w->pipe = NULL;
  w->pair = NULL;
  if (w->finished)
    return;
  if (joined) {
    rwait_paired(w, &r);
    return;
  }
  uint64_t now = now_ms();
  if (now >= w->expires_ms) {
    rwait_expired(w);
  } else if (perr == KITH_ETIMEDOUT && now - w->round_ms >= RELAY_REWAIT_MIN_MS) {
    int rc = rwait_round(w); /* the relay's 15 minutes ran out: wait again */
    if (rc)
      rwait_finish(w, rc);
  } else if (perr) {
    rwait_finish(w, cli_error(EX_UNAVAILABLE_, "relay %s: %s", w->relay, why));
  } else if (result == KITH_EUNAVAIL) {
    rwait_finish(w,
                 cli_error(EX_UNAVAILABLE_, "cannot reach the relay at %s", w->relay));
  } else {
    rwait_finish(w, cli_error(EX_UNAVAILABLE_, "lost the relay at %s: %s", w->relay,
                              kith_strerror(result)));
  }
}

/* One connection to the relay, waiting there under the tag. 0, or the exit code
 * after printing why. */
static int rwait_round(struct rwait *w)
{
  struct kith_net_limits lim = kith_net_limits_default();
  lim.idle_ms = RELAY_IDLE_MS;
  int rc = kith_pair_host_new(w->cli->st, now_ms, &w->pair);
  if (rc == 0)
    rc = kith_relayc_pipe_new(w->tag, true, &kith_pair_vt, w->pair, &w->pipe);
  if (rc == 0)
    rc = kith_net_connect(w->loop, (struct sockaddr *)&w->addr, &lim,
                          &kith_relayc_pipe_vt, w->pipe, rwait_done, w);
  if (rc) {
    kith_relayc_pipe_free(w->pipe);
    kith_pair_free(w->pair);
    w->pipe = NULL;
    w->pair = NULL;
    return cli_fail(rc, "cannot wait at the relay");
  }
  w->round_ms = now_ms();
  return 0;
}

/* A new invite in the store (forgetting those long ended), expiring at expires_ms:
 * 0, or the exit code after printing why. */
static int invite_create(struct cli *cli, bool device, uint64_t expires_ms,
                         struct kith_invite *inv)
{
  kith_txn *txn = NULL;
  int rc = cli_begin(cli, true, &txn);
  if (rc)
    return rc;
  rc = kith_pair_invite_prune(txn, now_ms());
  if (rc == 0)
    rc = kith_pair_invite_create(txn, device, expires_ms, inv);
  if (rc == 0) {
    rc = cli_commit(txn);
    txn = NULL;
  } else {
    rc = cli_fail(rc, "cannot create the invite");
  }
  kith_txn_abort(txn);
  return rc;
}

/* The invite inv (made, in the store) waits at relay (parsed into addr) until
 * someone joins or it expires at expires_ms. The exit code. */
static int invite_via_relay(struct cli *cli, struct kith_invite *inv, const char *relay,
                            const struct sockaddr_storage *addr, uint64_t expires_ms,
                            bool qr)
{
  struct rwait w = {.cli = cli,
                    .relay = relay,
                    .addr = *addr,
                    .expires_ms = expires_ms,
                    .qr = qr,
                    .device = inv->device};
  char code[KITH_INVITE_TEXT_MAX];
  inv->nhints = 0; /* the relay alone: this device listens nowhere */
  add_hint(inv, (const struct sockaddr *)addr, sa_port(addr));
  inv->hints[0].relay = true;
  int rc = kith_invite_tag(inv->secret, w.tag);
  if (rc == 0)
    rc = kith_invite_format(inv, code, sizeof code);
  if (rc) {
    rc = cli_fail(rc, "cannot make the code");
    goto out;
  }
  w.code = code;
  w.loop = uv_default_loop();
  uv_timer_init(w.loop, &w.expiry);
  uv_check_init(w.loop, &w.check);
  uv_signal_init(w.loop, &w.sigint);
  uv_signal_init(w.loop, &w.sigterm);
  w.expiry.data = w.check.data = w.sigint.data = w.sigterm.data = &w;
  uv_signal_start(&w.sigint, rwait_on_signal, SIGINT);
  uv_signal_start(&w.sigterm, rwait_on_signal, SIGTERM);
  uint64_t now = now_ms();
  uv_timer_start(&w.expiry, rwait_on_expiry, expires_ms > now ? expires_ms - now : 0,
                 0);
  uv_check_start(&w.check, rwait_on_check);
  if ((rc = rwait_round(&w)) != 0)
    rwait_finish(&w, rc);
  uv_run(w.loop, UV_RUN_DEFAULT);
  if (!w.pipe) /* else stopped with a connection running: see rwait_finish */
    uv_loop_close(w.loop);
  rc = w.exit_code;
out:
  sodium_memzero(code, sizeof code);
  sodium_memzero(w.tag, sizeof w.tag);
  return rc;
}

/* kith invite --relay. */
static int invite_relay(struct cli *cli, bool device, uint64_t ttl, bool qr,
                        const char *relay, const struct sockaddr_storage *addr)
{
  struct kith_invite inv;
  uint64_t expires_ms = now_ms() + ttl;
  int rc = cli_open(cli);
  if (rc == 0)
    rc = invite_create(cli, device, expires_ms, &inv);
  if (rc)
    return rc;
  rc = invite_via_relay(cli, &inv, relay, addr, expires_ms, qr);
  kith_invite_clear(&inv);
  return rc;
}

int cmd_invite(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = {{"device", no_argument, NULL, 'd'},
                                       {"expires", required_argument, NULL, 'e'},
                                       {"qr", no_argument, NULL, 'q'},
                                       {"listen", required_argument, NULL, 'l'},
                                       {"relay", required_argument, NULL, 'r'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  bool device = false, qr = false;
  uint64_t ttl = 3600 * 1000;
  const char *listen = NULL, *relay = NULL;
  int c, rc;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'd':
      device = true;
      break;
    case 'e':
      if (!(ttl = cli_parse_duration_ms(optarg, 365ull * 86400000)))
        return cli_usage(invite_usage, "bad --expires '%s' (use 90s, 30m, 2h, 7d)",
                         optarg);
      break;
    case 'q':
      qr = true;
      break;
    case 'l':
      listen = optarg;
      break;
    case 'r':
      relay = optarg;
      break;
    case 'h':
      printf(
          "usage: %s\n\nPrints a one-time invite code on the first line, then waits "
          "until someone\njoins with it ('kith join CODE') or it expires (default "
          "1h; exit 75).\n--device links a new device of your own instead of a "
          "partner. The code\ncarries where to reach this device (--listen ADDR, "
          "default every address\nof this machine); if 'kith serve' runs for this "
          "home, it takes the join.\n"
          "--relay HOST:PORT  for a joiner on another network: instead of listening, "
          "wait\n  at that relay ('kith relay run'); the code then carries only the "
          "relay's\n  address (no LAN address). The relay sees two connections meet "
          "under a tag\n  that does not reveal the code; the pairing inside is "
          "end-to-end encrypted.\n  The code is printed once the relay holds the "
          "wait; a relay ends a wait\n  after 15 minutes, and kith then waits "
          "again, until the invite expires.\n  Exit 69 if the relay cannot be "
          "reached or is lost.\n",
          invite_usage);
      return 0;
    default:
      return cli_usage(invite_usage, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc)
    return cli_usage(invite_usage, "unexpected argument '%s'", argv[optind]);
  struct sockaddr_storage addr;
  if (relay && listen)
    return cli_usage(invite_usage, "--listen and --relay: one or the other");
  if (relay) {
    if (kith_net_parse_addr(relay, &addr) != 0 || is_any((struct sockaddr *)&addr) ||
        sa_port(&addr) == 0)
      return cli_usage(invite_usage,
                       "bad relay address '%s' (HOST:PORT with an IP address)", relay);
    return invite_relay(cli, device, ttl, qr, relay, &addr);
  }
  char serve_addr[256];
  bool via_serve = !listen && serve_running(cli, serve_addr, sizeof serve_addr);
  const char *where = listen ? listen : via_serve ? serve_addr : "0.0.0.0:5484";
  if (kith_net_parse_addr(where, &addr) != 0)
    return cli_usage(invite_usage, "bad address '%s' (HOST:PORT with an IP address)",
                     where);
  if ((rc = cli_open(cli)) != 0)
    return rc;

  struct host h = {.cli = cli, .one_shot = true};
  struct kith_invite inv;
  uint16_t port;
  if (!via_serve) {
    if ((rc = host_setup(&h, (struct sockaddr *)&addr)) != 0)
      return cli_fail(rc, "cannot listen on %s", where);
    port = kith_net_server_port(h.srv);
  } else {
    port = sa_port(&addr);
  }
  rc = invite_create(cli, device, now_ms() + ttl, &inv);
  if (rc) {
    if (h.srv) {
      host_stop(&h, rc);
      host_run(&h);
    }
    return rc;
  }
  fill_hints(&inv, (struct sockaddr *)&addr, port);
  char code[KITH_INVITE_TEXT_MAX];
  rc = kith_invite_format(&inv, code, sizeof code);
  if (cli->json)
    cli_json_print(json_pack("{s:s}", "code", code));
  else
    printf("%s\n", code);
  fflush(stdout);
  if (qr)
    (void)cli_print_qr(stdout, code, QR_ECLEVEL_M);
  if (!cli->json)
    fprintf(stderr, "Waiting for 'kith join %s'%s... (Ctrl-C to stop)\n", code,
            device ? " on your new device" : "");

  if (via_serve) {
    /* serve holds the listener; wait for the store to say the invite was used */
    h.loop = uv_default_loop();
    uv_timer_init(h.loop, &h.timer);
    uv_signal_init(h.loop, &h.sigint);
    uv_signal_init(h.loop, &h.sigterm);
    h.timer.data = h.sigint.data = h.sigterm.data = &h;
    uv_signal_start(&h.sigint, on_signal, SIGINT);
    uv_signal_start(&h.sigterm, on_signal, SIGTERM);
    h.secret = inv.secret; /* the store says when it is used or expired */
    uv_timer_start(&h.timer, on_expiry, 200, 200);
    host_run(&h);
  } else {
    uv_timer_start(&h.timer, on_expiry, ttl, 0);
    host_run(&h);
  }
  kith_invite_clear(&inv);
  return h.code;
}

int cmd_serve(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *listen = "0.0.0.0:5484";
  int c, rc;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'l':
      listen = optarg;
      break;
    case 'h':
      printf(
          "usage: %s\n\n"
          "Runs until stopped (Ctrl-C, SIGTERM). It:\n"
          "  - accepts pairings for the invites this home made ('kith invite'\n"
          "    registers with it);\n"
          "  - accepts syncs from your devices and your partners' (refusing any\n"
          "    other device);\n"
          "  - announces this device on the LAN by UDP multicast, with beacons only\n"
          "    your devices and partners can recognise, and syncs with each of them\n"
          "    it hears from, again after each local change, and every minute;\n"
          "  - fetches this device's mail at your relays ('kith relay add') and\n"
          "    deposits for each of your devices and partners what it lacks at\n"
          "    their relays: every 30 s and about a second after a local change\n"
          "    (a relay that is down is retried; the others and the LAN go on).\n"
          "Default address 0.0.0.0:5484. KITH_DISC=off turns discovery off;\n"
          "KITH_DISC_GROUP, KITH_DISC_PORT and KITH_DISC_IFACE (a local IPv4\n"
          "address) choose its group, port and interface; KITH_RELAY_POLL_MS the\n"
          "relay interval.\n"
          "With --json, one event per line: listening, paired, pair_failed,\n"
          "discovered, synced, link (a ping), refused, sync_failed, link_failed,\n"
          "conn_failed, discovery_off, relay_fetched, relay_posted, relay_failed\n"
          "(once, when a relay goes down), relay_ok (back), relay_refused.\n",
          serve_usage);
      return 0;
    default:
      return cli_usage(serve_usage, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc)
    return cli_usage(serve_usage, "unexpected argument '%s'", argv[optind]);
  struct sockaddr_storage addr;
  if (kith_net_parse_addr(listen, &addr) != 0)
    return cli_usage(serve_usage, "bad address '%s' (HOST:PORT with an IP address)",
                     listen);
  if ((rc = cli_open(cli)) != 0)
    return rc;
  struct host h = {.cli = cli, .demux = true};
  if ((rc = host_setup(&h, (struct sockaddr *)&addr)) != 0)
    return cli_fail(rc, "cannot listen on %s", listen);
  uint16_t port = kith_net_server_port(h.srv);
  if (addr.ss_family == AF_INET6)
    ((struct sockaddr_in6 *)&addr)->sin6_port = htons(port);
  else
    ((struct sockaddr_in *)&addr)->sin_port = htons(port);
  char text[128];
  cli_addr_text((struct sockaddr *)&addr, text, sizeof text);
  /* Tell `kith invite` where serve listens (and that it runs: the pid). */
  snprintf(h.serve_file, sizeof h.serve_file, "%s/" SERVE_FILE, cli->home);
  FILE *f = fopen(h.serve_file, "w");
  if (f) {
    fprintf(f, "%ld\n%s\n", (long)getpid(), text);
    fclose(f);
  }
  if (cli->json)
    cli_json_print(json_pack("{s:s, s:s}", "event", "listening", "addr", text));
  else
    printf("kith serve: listening on %s (Ctrl-C to stop)\n", text);
  fflush(stdout);
  if ((rc = autosync_start(cli, h.loop, port, &h.autosync)) != 0) {
    host_stop(&h, cli_fail(rc, "cannot start syncing"));
  }
  host_run(&h);
  unlink(h.serve_file);
  return h.code;
}

/* ---- join ------------------------------------------------------------------------ */

struct joiner {
  int result;
  bool done;
};

static void join_done(void *arg, int result)
{
  struct joiner *j = arg;
  j->result = result;
  j->done = true;
}

/* One attempt by one hint: straight to the inviter, or through the relay the hint
 * names (R_JOIN under the invite's tag, then the same pairing session inside, end
 * to end). Fills r: its error is KITH_EUNAVAIL if no one answered there (with why,
 * if a relay said why), KITH_ENOTFOUND if the relay had no one waiting with this
 * code, else the pairing's outcome. 0, or a code if the attempt could not start. */
static int join_one(struct cli *cli, uv_loop_t *loop, const struct kith_invite *inv,
                    const struct kith_hint *h,
                    const uint8_t tag[static KITH_INVITE_TAG_LEN],
                    struct kith_pair_result *r)
{
  struct sockaddr_storage sa;
  struct kith_net_limits lim = kith_net_limits_default();
  const struct kith_session_vt *vt = &kith_pair_vt;
  kith_pair *p = NULL;
  kith_relayc_pipe *pipe = NULL;
  struct joiner j = {0};
  void *s;
  int rc = kith_pair_join_new(cli->st, inv, now_ms, &p);
  if (rc)
    return rc;
  s = p;
  if (h->relay) {
    lim.idle_ms = RELAY_IDLE_MS;
    if ((rc = kith_relayc_pipe_new(tag, false, &kith_pair_vt, p, &pipe)) != 0)
      goto out;
    vt = &kith_relayc_pipe_vt;
    s = pipe;
  }
  hint_addr(h, &sa);
  if ((rc = kith_net_connect(loop, (struct sockaddr *)&sa, &lim, vt, s, join_done,
                             &j)) != 0)
    goto out;
  uv_run(loop, UV_RUN_DEFAULT);
  kith_pair_result(p, r);
  if (pipe && !kith_relayc_pipe_joined(pipe)) {
    int perr = kith_relayc_pipe_error(pipe);
    memset(r, 0, sizeof *r);
    r->error = perr == KITH_ENOTFOUND ? KITH_ENOTFOUND : KITH_EUNAVAIL;
    if (perr)
      snprintf(r->why, sizeof r->why, "%s", kith_relayc_pipe_why(pipe));
  } else if (j.result == KITH_EUNAVAIL && r->refused == 0) {
    r->error = KITH_EUNAVAIL;
    r->why[0] = '\0';
  } else if (r->error == 0 && !r->sync_error && j.result != 0 &&
             j.result != KITH_ECLOSED) {
    r->error = j.result;
  }
out:
  kith_relayc_pipe_free(pipe);
  kith_pair_free(p);
  return rc;
}

int cmd_join(struct cli *cli, int argc, char **argv)
{
  if (cli_wants_help(argc, argv)) {
    printf(
        "usage: %s\n\nPairs with whoever printed CODE with 'kith invite': as partners, "
        "or, for\na code from 'invite --device', as a new device of their own user "
        "(a fresh\nhome is created). Prints the safety number to compare aloud.\n"
        "A code from 'invite --relay' names a relay: the two sides meet there, and "
        "the\npairing inside is end-to-end encrypted. The inviter's own addresses "
        "are tried\nfirst, then its relays.\n"
        "Exit 65: not a valid code (a typo); 77: refused (used, expired, unknown, or "
        "no\none waiting with it at the relay); 69: the inviter cannot be reached.\n",
        join_usage);
    return 0;
  }
  if (argc != 2)
    return cli_usage(join_usage, argc < 2 ? "missing CODE"
                                          : "too many arguments "
                                            "(quote the code)");
  struct kith_invite inv;
  if (kith_invite_parse(argv[1], &inv) != 0)
    return cli_error(EX_DATAERR_,
                     "'%s' is not a valid invite code (check it for typos)", argv[1]);
  if (inv.nhints == 0) {
    kith_invite_clear(&inv);
    return cli_error(EX_UNAVAILABLE_, "the code says nowhere to reach the inviter");
  }
  struct kith_store_opts o = cli_store_opts();
  int rc = kith_store_open(cli->home, &o, &cli->st);
  if (rc == KITH_ENOSTORE && inv.device) {
    char host[256] = "new device";
    gethostname(host, sizeof host - 1);
    rc = kith_store_init(cli->home, "", host, &o, &cli->st);
    kith_txn *txn = NULL;
    struct kith_identity me;
    uint8_t dev[16];
    if (rc == 0 && (rc = kith_txn_begin(cli->st, true, &txn)) == 0) {
      if ((rc = kith_txn_identity(txn, &me)) == 0 &&
          (rc = kith_device_add(txn, me.label, me.pk, dev)) == 0) {
        rc = kith_txn_commit(txn);
        txn = NULL;
      }
      kith_txn_abort(txn);
    }
    if (rc) {
      kith_invite_clear(&inv);
      return cli_fail(rc, "cannot create a store in %s", cli->home);
    }
  } else if (rc) {
    kith_invite_clear(&inv);
    cli->st = NULL;
    return cli_open(cli);
  }

  uv_loop_t *loop = uv_default_loop();
  struct kith_pair_result r = {.error = KITH_EUNAVAIL};
  char tried[512] = "", nobody_at[128] = "";
  uint8_t tag[KITH_INVITE_TAG_LEN];
  if ((rc = kith_invite_tag(inv.secret, tag)) != 0) {
    kith_invite_clear(&inv);
    return cli_fail(rc, "cannot start pairing");
  }
  /* the inviter's own addresses first (one LAN, no third party), then its relays */
  for (int i = 0; i < 2 * inv.nhints && r.error == KITH_EUNAVAIL; i++) {
    const struct kith_hint *h = &inv.hints[i % inv.nhints];
    if (h->relay != (i >= inv.nhints))
      continue;
    struct sockaddr_storage sa;
    char text[128];
    hint_addr(h, &sa);
    cli_addr_text((struct sockaddr *)&sa, text, sizeof text);
    if ((rc = join_one(cli, loop, &inv, h, tag, &r)) != 0) {
      kith_invite_clear(&inv);
      return cli_fail(rc, "cannot start pairing");
    }
    size_t tl = strlen(tried);
    snprintf(tried + tl, sizeof tried - tl, "%s%s%s%s%s%s", tl ? ", " : "",
             h->relay ? "relay " : "", text, r.why[0] ? " (" : "", r.why,
             r.why[0] ? ")" : "");
    if (r.error == KITH_ENOTFOUND) { /* another relay may have the inviter */
      snprintf(nobody_at, sizeof nobody_at, "%s", text);
      r.error = KITH_EUNAVAIL;
    }
  }
  uv_loop_close(loop);
  kith_invite_clear(&inv);
  sodium_memzero(tag, sizeof tag);
  if (r.error == KITH_EUNAVAIL && nobody_at[0])
    return cli_error(EX_NOPERM_,
                     "no one is waiting with this code at relay %s: the invite "
                     "ended or was never started there",
                     nobody_at);
  switch (r.error) {
  case 0: {
    kith_txn *txn = NULL;
    if ((rc = cli_begin(cli, false, &txn)) != 0)
      return rc;
    print_paired(cli, txn, &r);
    kith_txn_abort(txn);
    if (r.sync_error) /* paired all the same: a later sync catches up */
      return cli_error(EX_UNAVAILABLE_,
                       "paired, but the first sync did not finish (%s); run 'kith "
                       "sync' with it",
                       r.sync_why);
    return 0;
  }
  case KITH_EUNAVAIL:
    return cli_error(EX_UNAVAILABLE_,
                     "cannot reach the inviter (tried %s); is 'kith "
                     "invite' still running there?",
                     tried);
  case KITH_EUSED:
  case KITH_EEXPIRED:
  case KITH_EREFUSED:
    return cli_error(EX_NOPERM_, "%s", r.why[0] ? r.why : kith_strerror(r.error));
  default:
    return cli_error(EX_UNAVAILABLE_, "pairing failed: %s",
                     r.why[0] ? r.why : kith_strerror(r.error));
  }
}
