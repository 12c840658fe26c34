/*
 * cmd_sync.c — kith sync, kith share, kith unshare, and serve's outgoing syncs
 * (cli/syncer.h).
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmds.h"
#include "cli/relayer.h"
#include "cli/syncer.h"
#include "core/fold.h"
#include "core/json.h"
#include "core/space.h"
#include "core/sync.h"
#include "net/conn.h"
#include "net/disc.h"
#include "proto/beacon.h"
#include "proto/hex.h"

static const char sync_usage[] =
    "kith sync [PEER|DEVICE] [--addr HOST:PORT | --relay HOST:PORT] [--wait SEC]";
static const char share_usage[] = "kith share CONTACT --with PEER";
static const char unshare_usage[] = "kith unshare CONTACT --with PEER";

/* ---- where they were seen ----------------------------------------------------- */

static void addr_key(uint8_t k[34], const uint8_t pk[32])
{
  memcpy(k, "ad", 2);
  memcpy(k + 2, pk, 32);
}

int syncer_addr_get(kith_txn *txn, const uint8_t pk[32], char *out, size_t n)
{
  uint8_t k[34], *v = NULL;
  size_t vl = 0;
  addr_key(k, pk);
  int rc = kith_local_get(txn, k, sizeof k, &v, &vl);
  if (rc == 0) {
    snprintf(out, n, "%.*s", (int)(vl < n ? vl : n - 1), (const char *)v);
    free(v);
  }
  return rc;
}

int syncer_addr_put(kith_store *st, const uint8_t pk[32], const char *addr)
{
  uint8_t k[34];
  char have[128] = "";
  kith_txn *txn = NULL;
  addr_key(k, pk);
  int rc = kith_txn_begin(st, false, &txn);
  if (rc == 0 && syncer_addr_get(txn, pk, have, sizeof have) == 0 &&
      strcmp(have, addr) == 0) {
    kith_txn_abort(txn);
    return 0; /* known already: no write */
  }
  kith_txn_abort(txn);
  txn = NULL;
  if ((rc = kith_txn_begin(st, true, &txn)) == 0 &&
      (rc = kith_local_put(txn, k, sizeof k, addr, strlen(addr))) == 0)
    return kith_txn_commit(txn);
  kith_txn_abort(txn);
  return rc;
}

static void sockaddr_text(const struct sockaddr *sa, uint16_t port, char *out, size_t n)
{
  char ip[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof ip);
    snprintf(out, n, "%s:%u", ip, port);
  } else {
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof ip);
    snprintf(out, n, "[%s]:%u", ip, port);
  }
}

/* ---- status ------------------------------------------------------------------ */

json_t *syncer_status(kith_txn *txn, const uint8_t owner[16])
{
  struct kith_remote *t = calloc(KITH_REMOTES_MAX, sizeof *t);
  size_t n = 0;
  uint64_t last = 0, they = 0, me = 0;
  bool any = false;
  json_t *devs = json_array(), *o = NULL;
  if (!t || !devs || kith_remote_devices(txn, t, KITH_REMOTES_MAX, &n) != 0)
    goto out;
  for (size_t i = 0; i < n; i++) {
    struct kith_sync_status st;
    char fp[40], when[32] = "";
    if (memcmp(t[i].owner, owner, 16) != 0 || kith_sync_status(txn, t[i].pk, &st) != 0)
      continue;
    kith_fingerprint(t[i].pk, fp);
    if (st.last_ms)
      kith_hlc_iso(st.last_ms << 16, when);
    json_array_append_new(
        devs, json_pack("{s:s, s:s, s:s?, s:I, s:I}", "fingerprint", fp, "label",
                        t[i].label, "last_sync", st.last_ms ? when : NULL, "they_lack",
                        (json_int_t)st.they_lack, "i_lack", (json_int_t)st.i_lack));
    /* the whole: the most recently synced device's view */
    if (!any || st.last_ms > last) {
      last = st.last_ms;
      they = st.they_lack;
      me = st.i_lack;
      any = true;
    }
  }
  char when[32] = "";
  if (last)
    kith_hlc_iso(last << 16, when);
  o = json_pack("{s:s?, s:I, s:I, s:I, s:o}", "last_sync", last ? when : NULL,
                "last_sync_ms", (json_int_t)last, "they_lack", (json_int_t)they,
                "i_lack", (json_int_t)me, "devices", devs);
  devs = NULL;
out:
  json_decref(devs);
  free(t);
  return o;
}

/* ---- reports ---------------------------------------------------------------- */

static const char *as_text(enum kith_trust t)
{
  return t == KITH_TRUST_PEER ? "partner" : "device";
}

void syncer_report(struct cli *cli, const struct kith_link_result *r, const char *addr,
                   int net)
{
  char fp[40] = "";
  const char *why = r->why;
  if (!r->established && net == KITH_EUNAVAIL)
    why = "unreachable (is 'kith serve' running there?)";
  else if (!r->established && net == KITH_ETIMEDOUT)
    why = "no answer";
  if (r->remote_known)
    kith_fingerprint(r->remote_pk, fp);
  if (r->error == 0) {
    if (cli->json)
      cli_json_print(
          json_pack("{s:s, s:s, s:s, s:s, s:s?, s:b, s:b, s:I, s:I, s:I}", "event",
                    r->synced ? "synced" : "link", "peer", r->remote_name, "as",
                    as_text(r->trust), "fingerprint", fp, "addr", addr, "dialed",
                    r->dialer, "trusted", 1, "sent", (json_int_t)r->sent, "received",
                    (json_int_t)r->received, "changed", (json_int_t)r->changed));
    else if (r->synced)
      printf("Synced with %s (%s): sent %llu, received %llu record(s).\n",
             r->remote_name, as_text(r->trust), (unsigned long long)r->sent,
             (unsigned long long)r->received);
    else
      printf("Link from %s (%s, %s): trusted.\n", r->remote_name, as_text(r->trust),
             fp);
    fflush(stdout);
    return;
  }
  if (cli->json)
    cli_json_print(json_pack("{s:s, s:s, s:s?, s:s?, s:i}", "event",
                             r->refused && !r->synced ? "refused"
                             : r->synced              ? "sync_failed"
                                                      : "link_failed",
                             "why", why, "fingerprint", r->remote_known ? fp : NULL,
                             "addr", addr, "code", (int)r->refused));
  else
    fprintf(stderr, "kith: sync with %s failed: %s\n",
            r->remote_name[0] ? r->remote_name
            : addr            ? addr
                              : "a device",
            why);
  fflush(stdout);
}

/* ---- discovery settings --------------------------------------------------------- */

static bool disc_off(void)
{
  const char *e = getenv("KITH_DISC");
  return e && (strcmp(e, "off") == 0 || strcmp(e, "0") == 0);
}

static void disc_opts(struct kith_disc_opts *o)
{
  const char *p = getenv("KITH_DISC_PORT");
  memset(o, 0, sizeof *o);
  o->group = getenv("KITH_DISC_GROUP");
  o->iface = getenv("KITH_DISC_IFACE");
  o->port = p ? (uint16_t)strtoul(p, NULL, 10) : 0;
}

static uint32_t minute_now(void)
{
  return (uint32_t)(cli_now_ms() / 60000);
}

/* ---- kith sync: one round with each device, then exit -----------------------------
 */

struct one {
  bool done;
  int net;
  kith_link *l;
  uv_timer_t tick; /* redraws the progress line (a terminal only) */
  struct cli_progress progress;
};

static void one_tick(uv_timer_t *t)
{
  struct one *o = t->data;
  const struct kith_sync_stats *st = kith_link_sync_stats(o->l);
  if (st)
    cli_progress_update(&o->progress, st->sent + st->received);
}

static void one_done(void *arg, int result)
{
  struct one *o = arg;
  o->done = true;
  o->net = result;
  uv_timer_stop(&o->tick);
  uv_close((uv_handle_t *)&o->tick, NULL);
}

struct outcome {
  struct kith_remote *t;
  char addr[128];
  struct kith_link_result r;
  int net;
  json_t *spaces; /* per space counts */
};

static json_t *space_counts(kith_store *st, const struct kith_sync_stats *s)
{
  json_t *arr = json_array();
  kith_txn *txn = NULL;
  if (!arr || kith_txn_begin(st, false, &txn) != 0)
    return arr;
  for (size_t i = 0; s && i < s->n; i++) {
    const struct kith_sync_space_stats *sp = &s->s[i];
    char name[KITH_TEXT_MAX + 16] = "self";
    uint8_t peer[16];
    struct kith_record *rec = NULL;
    if (!sodium_is_zero(sp->space, 16)) {
      snprintf(name, sizeof name, "partnership");
      if (kith_space_peer(txn, sp->space, peer) == 0 &&
          kith_record_load(txn, peer, &rec) == 0) {
        const char *n = kith_record_text(rec, KITH_F_PEER_NAME);
        snprintf(name, sizeof name, "with %s", n ? n : "?");
      }
      kith_record_free(rec);
    }
    json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:I, s:I}", "space", name,
                                         "sent", (json_int_t)sp->sent, "received",
                                         (json_int_t)sp->received, "changed",
                                         (json_int_t)sp->changed, "skipped",
                                         (json_int_t)sp->skipped));
  }
  kith_txn_abort(txn);
  return arr;
}

/* One sync link to addr with the key pk, run to its end. */
static int sync_once(struct cli *cli, const char *addr_text, const uint8_t pk[32],
                     struct outcome *o)
{
  struct sockaddr_storage addr;
  kith_link *l = NULL;
  struct one one = {.done = false};
  if (kith_net_parse_addr(addr_text, &addr) != 0) {
    o->net = KITH_EINVAL;
    return 0;
  }
  int rc = kith_link_dial_sync_new(cli->st, pk, cli_now_ms, &l);
  if (rc)
    return cli_fail(rc, "cannot start the sync");
  uv_loop_t *loop = uv_default_loop();
  struct kith_net_limits lim = kith_net_limits_default();
  one.l = l;
  uv_timer_init(loop, &one.tick);
  one.tick.data = &one;
  rc = kith_net_connect(loop, (struct sockaddr *)&addr, &lim, &kith_link_vt, l,
                        one_done, &one);
  if (rc == 0) {
    /* records moved so far, on stderr if it is a terminal: a first sync of a big
     * store takes a while */
    cli_progress_start(&one.progress, "syncing", 0);
    uv_timer_start(&one.tick, one_tick, 100, 100);
    uv_run(loop, UV_RUN_DEFAULT); /* bounded by net/: connect, handshake, idle */
    cli_progress_end(&one.progress);
  } else {
    uv_close((uv_handle_t *)&one.tick, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
  }
  kith_link_result(l, &o->r);
  json_decref(o->spaces);
  o->spaces = space_counts(cli->st, kith_link_sync_stats(l));
  kith_link_free(l);
  o->net = rc ? rc : one.net;
  snprintf(o->addr, sizeof o->addr, "%s", addr_text);
  if (o->r.error == 0)
    (void)syncer_addr_put(cli->st, pk, addr_text);
  return 0;
}

/* Listens for beacons until every wanted device is heard from or wait_ms pass. */
struct listen {
  struct kith_remote *t;
  size_t n, left;
  char (*found)[128];
  uint8_t (*keys)[32];
  kith_disc *d;
  uv_timer_t timer;
  struct kith_beacon_seen seen;
};

static int listen_make(void *arg, uint8_t *buf, size_t cap, size_t *len)
{
  (void)arg, (void)buf, (void)cap, (void)len;
  return 1; /* kith sync only listens: serve announces */
}

static void listen_stop(struct listen *ls)
{
  kith_disc_stop(ls->d, NULL, NULL);
  ls->d = NULL;
  uv_timer_stop(&ls->timer);
}

static void listen_recv(void *arg, const uint8_t *buf, size_t len,
                        const struct sockaddr *from)
{
  struct listen *ls = arg;
  struct kith_beacon b;
  if (kith_beacon_parse(buf, len, &b) != 0)
    return;
  for (size_t i = 0; i < ls->n; i++) {
    if (ls->found[i][0] || !kith_beacon_match(&b, ls->keys[i], minute_now()))
      continue;
    sockaddr_text(from, b.port, ls->found[i], sizeof ls->found[i]);
    if (--ls->left == 0)
      listen_stop(ls);
    return;
  }
}

static void listen_timeout(uv_timer_t *t)
{
  listen_stop(t->data);
}

static int discover(struct kith_remote *t, size_t n, char (*found)[128],
                    uint64_t wait_ms)
{
  struct listen ls;
  memset(&ls, 0, sizeof ls);
  ls.t = t, ls.n = n, ls.found = found;
  struct kith_disc_opts o;
  uv_loop_t *loop = uv_default_loop();
  if (!(ls.keys = calloc(n ? n : 1, sizeof *ls.keys)))
    return KITH_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    if (found[i][0])
      continue;
    ls.left++;
    if (kith_beacon_key(t[i].pk, ls.keys[i]) != 0)
      found[i][0] = 0;
  }
  int rc = 0;
  if (ls.left && !disc_off()) {
    disc_opts(&o);
    o.make = listen_make;
    o.recv = listen_recv;
    o.arg = &ls;
    if ((rc = kith_disc_start(loop, &o, &ls.d)) == 0) {
      uv_timer_init(loop, &ls.timer);
      ls.timer.data = &ls;
      uv_timer_start(&ls.timer, listen_timeout, wait_ms, 0);
      uv_run(loop, UV_RUN_DEFAULT);
      uv_close((uv_handle_t *)&ls.timer, NULL);
      uv_run(loop, UV_RUN_DEFAULT);
    }
  }
  free(ls.keys);
  return rc;
}

/* Whether t is what the user named: a partner (name or peer id prefix) or one of
 * my devices (label or device id prefix). */
static bool target_named(const struct kith_remote *t, const char *folded,
                         const char *arg)
{
  char hex[33], *f = NULL;
  bool hit = false;
  kith_hex_encode(t->owner, 16, hex);
  if (strlen(arg) >= 4 && strncmp(hex, arg, strlen(arg)) == 0)
    return true;
  const char *n = t->trust == KITH_TRUST_PEER ? t->name : t->label;
  if (kith_fold(n, &f) == 0)
    hit = strcmp(f, folded) == 0;
  free(f);
  return hit;
}

static int sync_exit(const struct outcome *o)
{
  if (o->r.error == 0)
    return 0;
  if (o->r.refused == KITH_REFUSE_UNTRUSTED || o->r.refused == KITH_REFUSE_REVOKED ||
      o->r.error == KITH_EREFUSED)
    return EX_NOPERM_;
  if (o->r.established)
    return o->r.error == KITH_EBADMSG || o->r.error == KITH_EPROTO ? EX_DATAERR_
                                                                   : EX_UNAVAILABLE_;
  return EX_UNAVAILABLE_;
}

static const char *outcome_why(const struct outcome *o)
{
  if (o->net == KITH_EUNAVAIL)
    return "unreachable (is 'kith serve' running there?)";
  if (!o->r.established && o->r.error == KITH_ECLOSED)
    return "the device there is not the one expected, or not a kith device";
  return o->r.why[0] ? o->r.why : kith_strerror(o->net);
}

int cmd_sync(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = {{"addr", required_argument, NULL, 'a'},
                                       {"relay", required_argument, NULL, 'r'},
                                       {"wait", required_argument, NULL, 'w'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *addr = NULL, *who = NULL, *relay = NULL;
  uint64_t wait_ms = 3000;
  int c, rc;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'a':
      addr = optarg;
      break;
    case 'r':
      relay = optarg;
      break;
    case 'w': {
      char *end;
      double s = strtod(optarg, &end);
      if (*end || s < 0 || s > 600)
        return cli_usage(sync_usage, "bad --wait '%s' (seconds, 0 to 600)", optarg);
      wait_ms = (uint64_t)(s * 1000);
      break;
    }
    case 'h':
      printf(
          "usage: %s\n\n"
          "One sync round with your other devices and your partners, then exit.\n"
          "Sends what each lacks, receives what this device lacks, and prints what\n"
          "moved. Exits 0 only once the other side has committed what it was sent.\n\n"
          "  PEER|DEVICE      only this partner (name or id) or device of yours\n"
          "  --addr HOST:PORT where 'kith serve' runs for it (else: the address it "
          "was\n"
          "                   last seen at, or found on the LAN)\n"
          "  --relay HOST:PORT  through this relay instead: fetch what was left "
          "there\n"
          "                   for this device, then deposit what each lacks (they "
          "fetch it\n"
          "                   with their next sync through a relay they use)\n"
          "  --wait SEC       how long to listen for LAN beacons (default 3)\n\n"
          "exit codes: 0 synced, 69 unreachable or nobody found, 77 refused (not\n"
          "trusted, or revoked), 65 the other side sent something invalid.\n",
          sync_usage);
      return 0;
    default:
      return cli_usage(sync_usage, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc)
    who = argv[optind++];
  if (optind < argc)
    return cli_usage(sync_usage, "unexpected argument '%s'", argv[optind]);
  if (addr && relay)
    return cli_usage(sync_usage, "--addr and --relay: one or the other");
  if (addr || relay) {
    struct sockaddr_storage ss;
    if (kith_net_parse_addr(addr ? addr : relay, &ss) != 0)
      return cli_usage(sync_usage, "bad address '%s' (HOST:PORT with an IP address)",
                       addr ? addr : relay);
  }
  if ((rc = cli_open(cli)) != 0)
    return rc;

  struct kith_remote *all = calloc(KITH_REMOTES_MAX, sizeof *all);
  struct outcome *out = calloc(KITH_REMOTES_MAX, sizeof *out);
  char(*where)[128] = calloc(KITH_REMOTES_MAX, sizeof *where);
  char *folded = NULL;
  size_t n = 0, k = 0;
  kith_txn *txn = NULL;
  if (!all || !out || !where) {
    rc = cli_fail(KITH_ENOMEM, "sync");
    goto done;
  }
  if ((rc = cli_begin(cli, false, &txn)) != 0)
    goto done;
  rc = kith_remote_devices(txn, all, KITH_REMOTES_MAX, &n);
  if (rc) {
    kith_txn_abort(txn);
    rc = cli_fail(rc, "cannot read your devices and partners");
    goto done;
  }
  if (who && kith_fold(who, &folded) != 0) {
    kith_txn_abort(txn);
    rc = cli_usage(sync_usage, "'%s' is not valid UTF-8", who);
    goto done;
  }
  for (size_t i = 0; i < n; i++) /* keep the named ones, in order */
    if (!who || target_named(&all[i], folded, who))
      all[k++] = all[i];
  n = k;
  for (size_t i = 0; i < n; i++)
    if (syncer_addr_get(txn, all[i].pk, where[i], sizeof where[i]) != 0)
      where[i][0] = 0;
  kith_txn_abort(txn);
  if (n == 0 && (who || !relay)) { /* through a relay: fetching alone makes sense */
    rc = who ? cli_error(EX_DATAERR_,
                         "no partner or device '%s' (see 'kith peer list', "
                         "'kith device list')",
                         who)
             : cli_error(EX_UNAVAILABLE_, "nobody to sync with yet: pair a device or a "
                                          "partner first ('kith invite', 'kith join')");
    goto done;
  }

  if (relay) {
    rc = relay_sync(cli, relay, all, n);
    goto done;
  }
  size_t tried = 0, ok = 0;
  int first_bad = 0;
  char fails[2048] = "";
  if (addr) {
    /* One address: the device there is one of the candidates; the one seen there
     * last goes first, then the others until one completes the handshake. */
    for (size_t i = 0; i < n; i++)
      if (strcmp(where[i], addr) == 0 && i) {
        struct kith_remote tmp = all[0];
        all[0] = all[i], all[i] = tmp;
        break;
      }
    for (size_t i = 0; i < n; i++) {
      out[0].t = &all[i];
      if ((rc = sync_once(cli, addr, all[i].pk, &out[0])) != 0)
        goto done;
      if (out[0].r.established || out[0].net == KITH_EUNAVAIL ||
          out[0].net == KITH_ETIMEDOUT)
        break;
    }
    tried = 1;
  } else {
    bool missing = false;
    for (size_t i = 0; i < n; i++)
      missing |= !where[i][0];
    if (missing && (rc = discover(all, n, where, wait_ms)) != 0 &&
        rc != KITH_EUNAVAIL && rc != KITH_EADDRINUSE)
      fprintf(stderr, "kith: LAN discovery unavailable: %s\n", kith_strerror(rc));
    for (size_t i = 0; i < n; i++) {
      if (!where[i][0])
        continue;
      out[tried].t = &all[i];
      if ((rc = sync_once(cli, where[i], all[i].pk, &out[tried])) != 0)
        goto done;
      tried++;
    }
  }
  uv_loop_close(uv_default_loop());

  uint64_t sent = 0, received = 0;
  json_t *arr = cli->json ? json_array() : NULL;
  for (size_t i = 0; i < tried; i++) {
    struct outcome *o = &out[i];
    const char *label = o->t->label[0] ? o->t->label : "device";
    if (o->r.error == 0) {
      ok++;
      sent += o->r.sent;
      received += o->r.received;
    } else if (!first_bad) {
      first_bad = sync_exit(o);
    }
    if (arr) {
      json_t *e =
          json_pack("{s:s, s:s, s:s, s:s, s:b}", "peer", o->t->name, "device", label,
                    "as", as_text(o->t->trust), "addr", o->addr, "ok", o->r.error == 0);
      if (o->r.error == 0) {
        json_object_set_new(e, "sent", json_integer((json_int_t)o->r.sent));
        json_object_set_new(e, "received", json_integer((json_int_t)o->r.received));
        json_object_set_new(e, "changed", json_integer((json_int_t)o->r.changed));
        json_object_set(e, "spaces", o->spaces ? o->spaces : json_array());
      } else {
        json_object_set_new(e, "error", json_string(outcome_why(o)));
      }
      json_array_append_new(arr, e);
    } else if (o->r.error == 0) {
      printf("Synced with %s (%s, %s) at %s: sent %llu, received %llu record(s)%s\n",
             o->t->trust == KITH_TRUST_PEER ? o->t->name : label, as_text(o->t->trust),
             o->t->trust == KITH_TRUST_PEER ? label : "yours", o->addr,
             (unsigned long long)o->r.sent, (unsigned long long)o->r.received,
             o->r.changed ? "" : "; nothing new here");
    } else { /* failures: gathered into one line below */
      size_t l = strlen(fails);
      snprintf(fails + l, sizeof fails - l, "%s%s (%s) at %s: %s", l ? "; " : "",
               o->t->trust == KITH_TRUST_PEER ? o->t->name : label,
               as_text(o->t->trust), o->addr, outcome_why(o));
    }
  }
  if (!addr && tried && !cli->json) {
    char missing[1024] = "";
    for (size_t i = 0; i < n; i++) {
      size_t l = strlen(missing);
      if (!where[i][0])
        snprintf(missing + l, sizeof missing - l, "%s%s (%s)", l ? ", " : "",
                 all[i].trust == KITH_TRUST_PEER ? all[i].name : all[i].label,
                 as_text(all[i].trust));
    }
    size_t l = strlen(fails);
    if (missing[0])
      snprintf(fails + l, sizeof fails - l, "%snot found on the LAN: %s", l ? "; " : "",
               missing);
  }
  if (fails[0] && tried && !cli->json) /* one line, however many went wrong */
    fprintf(stderr, "kith: %s%s\n", first_bad ? "sync failed with " : "", fails);
  if (arr) {
    json_t *doc = json_pack("{s:o, s:I, s:I}", "syncs", arr, "sent", (json_int_t)sent,
                            "received", (json_int_t)received);
    cli_json_print(doc);
  }
  if (tried == 0)
    rc = cli_error(EX_UNAVAILABLE_,
                   "no %s found on the LAN (is 'kith serve' running there? or give "
                   "--addr HOST:PORT)",
                   who ? who : "device or partner");
  else
    rc = first_bad;
done:
  for (size_t i = 0; out && i < KITH_REMOTES_MAX; i++)
    json_decref(out[i].spaces);
  free(folded);
  free(all);
  free(out);
  free(where);
  return rc;
}

/* ---- share and unshare ------------------------------------------------------------
 */

static int share_cmd(struct cli *cli, int argc, char **argv, bool share)
{
  static const struct option opts[] = {{"with", required_argument, NULL, 'w'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *usage = share ? share_usage : unshare_usage, *with = NULL;
  int c, rc;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (c == 'w') {
      with = optarg;
    } else if (c == 'h') {
      if (share)
        printf(
            "usage: %s\n\nShares a contact's card (names, emails, phones, org, "
            "title, addresses,\nlinks: not your tags, follow-ups or notes) with a "
            "partner: it moves into\nthe space you share, and edits from either side "
            "reach both. Shared with\na second partner, a copy is shared. Prints the "
            "shared card's id.\n",
            usage);
      else
        printf(
            "usage: %s\n\nStops sharing a contact with a partner: you keep a private "
            "copy (with\nyour tags and notes; printed id), and the shared card is "
            "removed from\nthe space you share; your partner keeps a private copy "
            "too.\n",
            usage);
      return 0;
    } else {
      return cli_usage(usage, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc - 1)
    return cli_usage(usage, optind == argc ? "missing CONTACT" : "too many arguments");
  if (!with)
    return cli_usage(usage, "missing --with PEER");
  kith_txn *txn = NULL;
  uint8_t contact[16], peer[16], out[16];
  char hex[33], chex[33];
  if ((rc = cli_open(cli)) != 0 || (rc = cli_begin(cli, true, &txn)) != 0)
    return rc;
  if (kith_record_resolve(txn, KITH_KIND_CONTACT, argv[optind], contact) ==
          KITH_ENOTFOUND &&
      kith_record_resolve(txn, KITH_KIND_MYCARD, argv[optind], contact) == 0) {
    kith_txn_abort(txn);
    return cli_error(EX_DATAERR_,
                     "that is your own card (kith card): it is never shared; "
                     "an introduction gives the details you choose");
  }
  if ((rc = cli_resolve(txn, KITH_KIND_CONTACT, argv[optind], contact)) != 0 ||
      (rc = cli_resolve_peer(txn, with, peer)) != 0) {
    kith_txn_abort(txn);
    return rc;
  }
  rc = share ? kith_share(txn, contact, peer, out)
             : kith_unshare(txn, contact, peer, out);
  if (rc) {
    kith_txn_abort(txn);
    if (rc == KITH_EINVAL)
      return cli_error(EX_DATAERR_,
                       share ? "cannot share: that partner was paired by an older kith "
                               "(pair again)"
                             : "that contact is not shared with %s",
                       with);
    return cli_fail(rc, share ? "cannot share" : "cannot unshare");
  }
  if ((rc = cli_commit(txn)) != 0)
    return rc;
  kith_hex_encode(out, 16, hex);
  kith_hex_encode(contact, 16, chex);
  if (cli->json)
    return cli_json_print(json_pack("{s:s, s:s, s:s, s:b}", "id", chex,
                                    share ? "shared_id" : "private_id", hex, "with",
                                    with, "copy", memcmp(out, contact, 16) != 0));
  printf("%s\n", hex);
  return 0;
}

int cmd_share(struct cli *cli, int argc, char **argv)
{
  return share_cmd(cli, argc, argv, true);
}

int cmd_unshare(struct cli *cli, int argc, char **argv)
{
  return share_cmd(cli, argc, argv, false);
}

/* ---- serve: announce, discover, sync ------------------------------------------------
 */

#define RETRY_MS 5000     /* a beacon dials a device at most this often (spoofs) */
#define CHANGE_MS 1000    /* a local change dials a device at most this often */
#define PERIODIC_MS 60000 /* and again this often while it is seen */
#define TICK_MS 1000
#define RELAY_POLL_MS                                                                  \
  30000 /* relays: fetch and deposit this often (KITH_RELAY_POLL_MS) */
#define RELAY_DOWN_MAX RELAYER_RELAYS_MAX

struct known {
  struct kith_remote t;
  uint8_t bkey[32];
  char addr[128];
  uint64_t last_try, last_ok;
  bool busy, want; /* want: a change it has not been offered yet */
};

struct dial {
  struct autosync *a;
  struct known *k;
  kith_link *l;
  char addr[128];
};

struct autosync {
  struct cli *cli;
  uv_loop_t *loop;
  uint16_t port;
  kith_disc *disc;
  uv_timer_t tick;
  uint8_t my_bkey[32];
  struct kith_beacon_seen seen;
  struct known *k;
  size_t n;
  uint64_t mark, refreshed;
  int dialing; /* dials and relay rounds in flight */
  bool stopping, closed;
  /* relays: one round at a time (cli/relayer.h) */
  bool relay_busy;
  uint64_t relay_last, relay_mark, relay_every;
  struct kith_remote *relay_targets; /* the round's, until it is done */
  size_t ndown;
  char down[RELAY_DOWN_MAX][KITH_RELAY_ADDR_MAX]; /* relays reported down */
};

static int mark_now(kith_store *st, uint64_t *mark)
{
  kith_txn *txn = NULL;
  struct kith_space_list sp;
  uint64_t sum = 0, v;
  int rc = kith_txn_begin(st, false, &txn);
  if (rc == 0 && (rc = kith_txn_seq(txn, KITH_SPACE_SELF, &sum)) == 0)
    rc = kith_partner_spaces(txn, &sp);
  for (size_t i = 0; rc == 0 && i < sp.n; i++) {
    uint32_t local;
    if (kith_space_local(txn, sp.gid[i], false, &local) == 0 &&
        kith_txn_seq(txn, local, &v) == 0)
      sum += v;
  }
  kith_txn_abort(txn);
  *mark = sum;
  return rc;
}

/* Re-reads whom to sync with, keeping what is known of each. */
static int refresh(struct autosync *a)
{
  struct kith_remote *t = calloc(KITH_REMOTES_MAX, sizeof *t);
  struct known *k = calloc(KITH_REMOTES_MAX, sizeof *k);
  kith_txn *txn = NULL;
  size_t n = 0;
  int rc = t && k ? kith_txn_begin(a->cli->st, false, &txn) : KITH_ENOMEM;
  if (rc == 0)
    rc = kith_remote_devices(txn, t, KITH_REMOTES_MAX, &n);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    k[i].t = t[i];
    if (kith_beacon_key(t[i].pk, k[i].bkey) != 0)
      memset(k[i].bkey, 0, 32);
    if (syncer_addr_get(txn, t[i].pk, k[i].addr, sizeof k[i].addr) != 0)
      k[i].addr[0] = 0;
    for (size_t j = 0; j < a->n; j++)
      if (memcmp(a->k[j].t.pk, t[i].pk, 32) == 0) {
        k[i].last_try = a->k[j].last_try;
        k[i].last_ok = a->k[j].last_ok;
        k[i].busy = a->k[j].busy;
        k[i].want = a->k[j].want;
        if (a->k[j].addr[0])
          memcpy(k[i].addr, a->k[j].addr, sizeof k[i].addr);
      }
  }
  kith_txn_abort(txn);
  free(t);
  if (rc || a->dialing) { /* dials in flight point into the old table */
    free(k);
    return rc;
  }
  free(a->k);
  a->k = k;
  a->n = n;
  return 0;
}

static void dial_done(void *arg, int result)
{
  struct dial *d = arg;
  struct kith_link_result r;
  kith_link_result(d->l, &r);
  kith_link_free(d->l);
  d->k->busy = false;
  d->a->dialing--;
  if (r.error == 0) {
    d->k->last_ok = cli_now_ms();
    (void)syncer_addr_put(d->a->cli->st, d->k->t.pk, d->addr);
  }
  if (!d->a->stopping)
    syncer_report(d->a->cli, &r, d->addr, result);
  if (d->a->closed && d->a->dialing == 0) { /* the last one out frees */
    free(d->a->k);
    free(d->a);
  }
  free(d);
}

static void dial(struct autosync *a, struct known *k, uint64_t every_ms)
{
  struct sockaddr_storage ss;
  uint64_t now = cli_now_ms();
  if (a->stopping || k->busy || !k->addr[0] || now - k->last_try < every_ms ||
      kith_net_parse_addr(k->addr, &ss) != 0)
    return;
  k->want = false;
  struct dial *d = calloc(1, sizeof *d);
  if (!d)
    return;
  k->last_try = now;
  d->a = a;
  d->k = k;
  snprintf(d->addr, sizeof d->addr, "%s", k->addr);
  if (kith_link_dial_sync_new(a->cli->st, k->t.pk, cli_now_ms, &d->l) != 0) {
    free(d);
    return;
  }
  if (kith_net_connect(a->loop, (struct sockaddr *)&ss, NULL, &kith_link_vt, d->l,
                       dial_done, d) != 0) {
    kith_link_free(d->l);
    free(d);
    return;
  }
  k->busy = true;
  a->dialing++;
}

static int beacon_make(void *arg, uint8_t *buf, size_t cap, size_t *len)
{
  struct autosync *a = arg;
  uint8_t nonce[KITH_BEACON_NONCE_LEN];
  if (cap < KITH_BEACON_LEN)
    return 1;
  randombytes_buf(nonce, sizeof nonce);
  if (kith_beacon_make(a->my_bkey, nonce, minute_now(), a->port, buf) != 0)
    return 1;
  *len = KITH_BEACON_LEN;
  return 0;
}

static void beacon_recv(void *arg, const uint8_t *buf, size_t len,
                        const struct sockaddr *from)
{
  struct autosync *a = arg;
  struct kith_beacon b;
  uint32_t now = minute_now();
  if (kith_beacon_parse(buf, len, &b) != 0 || kith_beacon_match(&b, a->my_bkey, now))
    return; /* not a beacon, or my own */
  for (size_t i = 0; i < a->n; i++) {
    struct known *k = &a->k[i];
    if (!kith_beacon_match(&b, k->bkey, now))
      continue;
    if (!kith_beacon_seen_add(&a->seen, b.nonce))
      return; /* a replay */
    char text[128];
    sockaddr_text(from, b.port, text, sizeof text);
    if (strcmp(text, k->addr) != 0) {
      snprintf(k->addr, sizeof k->addr, "%s", text);
      if (a->cli->json)
        cli_json_print(json_pack("{s:s, s:s, s:s, s:s}", "event", "discovered", "peer",
                                 k->t.name, "device", k->t.label, "addr", text));
      else
        printf("Found %s (%s) at %s.\n",
               k->t.trust == KITH_TRUST_PEER ? k->t.name : k->t.label,
               as_text(k->t.trust), text);
      fflush(stdout);
    }
    if (cli_now_ms() - k->last_ok >= PERIODIC_MS || k->want)
      dial(a, k, RETRY_MS);
    return;
  }
}

/* Reports what a relay round did: what arrived and went, and each relay that
 * went down or came back (once, not every round). */
static void relay_done(void *arg, const struct relayer_report *r)
{
  struct autosync *a = arg;
  struct cli *cli = a->cli;
  a->relay_busy = false;
  a->dialing--;
  for (size_t i = 0; !a->stopping && i < r->nrelays; i++) {
    const struct relayer_relay *rel = &r->relay[i];
    int err = rel->fetch_err ? rel->fetch_err : rel->deposit_err;
    size_t d = 0;
    while (d < a->ndown && strcmp(a->down[d], rel->addr) != 0)
      d++;
    bool was_down = d < a->ndown;
    if (err && !was_down && a->ndown < RELAY_DOWN_MAX) {
      snprintf(a->down[a->ndown++], KITH_RELAY_ADDR_MAX, "%s", rel->addr);
      if (cli->json)
        cli_json_print(json_pack("{s:s, s:s, s:s}", "event", "relay_failed", "relay",
                                 rel->addr, "why",
                                 rel->why[0] ? rel->why : kith_strerror(err)));
      else
        printf("Relay %s failed: %s (still trying).\n", rel->addr,
               rel->why[0] ? rel->why : kith_strerror(err));
    } else if (!err && was_down) {
      memmove(a->down[d], a->down[d + 1], (a->ndown - d - 1) * sizeof a->down[0]);
      a->ndown--;
      if (cli->json)
        cli_json_print(
            json_pack("{s:s, s:s}", "event", "relay_ok", "relay", rel->addr));
      else
        printf("Relay %s works again.\n", rel->addr);
    }
    if (rel->envelopes) {
      if (cli->json)
        cli_json_print(
            json_pack("{s:s, s:s, s:I, s:I, s:I}", "event", "relay_fetched", "relay",
                      rel->addr, "envelopes", (json_int_t)rel->envelopes, "records",
                      (json_int_t)rel->records, "changed", (json_int_t)rel->changed));
      else
        printf("Fetched %llu record(s) from relay %s.\n",
               (unsigned long long)rel->records, rel->addr);
    }
    if (rel->refused) {
      if (cli->json)
        cli_json_print(json_pack("{s:s, s:s, s:s}", "event", "relay_refused", "relay",
                                 rel->addr, "why", rel->refusal));
      else
        printf("Relay %s refused a deposit: %s.\n", rel->addr, rel->refusal);
    }
  }
  for (size_t i = 0; !a->stopping && i < r->ntargets; i++) {
    const struct relayer_target *t = &r->target[i];
    if (!t->envelopes)
      continue;
    if (cli->json)
      cli_json_print(json_pack("{s:s, s:s, s:s, s:I, s:I}", "event", "relay_posted",
                               "peer", t->t->name, "device", t->t->label, "envelopes",
                               (json_int_t)t->envelopes, "records",
                               (json_int_t)t->records));
    else
      printf("Posted %llu record(s) for %s (%s) through relays.\n",
             (unsigned long long)t->records,
             t->t->trust == KITH_TRUST_PEER ? t->t->name : t->t->label,
             as_text(t->t->trust));
  }
  if (r->error && !a->stopping)
    fprintf(stderr, "kith: relays: %s\n", r->why);
  fflush(stdout);
  free(a->relay_targets); /* the report pointed into them */
  a->relay_targets = NULL;
  if (a->closed && a->dialing == 0) { /* the last one out frees */
    free(a->k);
    free(a);
  }
}

/* A relay round when it is time: every relay_every, or soon after a change. */
static void relay_round(struct autosync *a, uint64_t now, uint64_t mark)
{
  bool due = now - a->relay_last >= a->relay_every ||
             (mark != a->relay_mark && now - a->relay_last >= CHANGE_MS);
  if (a->stopping || a->relay_busy || !due)
    return;
  struct kith_remote *t = calloc(a->n ? a->n : 1, sizeof *t);
  if (!t)
    return;
  for (size_t i = 0; i < a->n; i++)
    t[i] = a->k[i].t;
  a->relay_last = now;
  a->relay_mark = mark;
  a->relay_busy = true;
  a->relay_targets = t;
  a->dialing++;
  if (relayer_start(a->cli, a->loop, NULL, t, a->n, relay_done, a) != 0) {
    a->relay_busy = false;
    a->dialing--;
    free(t);
    a->relay_targets = NULL;
  }
}

static void on_tick(uv_timer_t *t)
{
  struct autosync *a = t->data;
  uint64_t now = cli_now_ms(), mark = a->mark;
  if (now - a->refreshed >= 5000) {
    if (refresh(a) == 0)
      a->refreshed = now;
  }
  if (mark_now(a->cli->st, &mark) != 0)
    return;
  bool changed = mark != a->mark;
  a->mark = mark;
  if (changed && a->disc && kith_disc_announce(a->disc) != 0) {
    /* a beacon lost: the next interval sends another */
  }
  for (size_t i = 0; i < a->n; i++) {
    struct known *k = &a->k[i];
    k->want |= changed || now - k->last_ok >= PERIODIC_MS;
    if (k->want)
      dial(a, k, CHANGE_MS);
  }
  relay_round(a, now, mark);
}

int autosync_start(struct cli *cli, uv_loop_t *loop, uint16_t port,
                   struct autosync **out)
{
  struct autosync *a = calloc(1, sizeof *a);
  struct kith_identity me;
  kith_txn *txn = NULL;
  if (!a)
    return KITH_ENOMEM;
  a->cli = cli;
  a->loop = loop;
  a->port = port;
  int rc = kith_txn_begin(cli->st, false, &txn);
  if (rc == 0)
    rc = kith_txn_identity(txn, &me);
  kith_txn_abort(txn);
  if (rc == 0)
    rc = kith_beacon_key(me.pk, a->my_bkey);
  if (rc == 0)
    rc = refresh(a);
  if (rc == 0)
    rc = mark_now(cli->st, &a->mark);
  if (rc) {
    free(a->k);
    free(a);
    return rc;
  }
  a->refreshed = cli_now_ms();
  const char *every = getenv("KITH_RELAY_POLL_MS");
  a->relay_every = every && *every ? strtoull(every, NULL, 10) : RELAY_POLL_MS;
  a->relay_mark = a->mark;
  if (!disc_off()) {
    struct kith_disc_opts o;
    disc_opts(&o);
    o.make = beacon_make;
    o.recv = beacon_recv;
    o.arg = a;
    rc = kith_disc_start(loop, &o, &a->disc);
    if (rc) {
      a->disc = NULL;
      if (cli->json)
        cli_json_print(json_pack("{s:s, s:s}", "event", "discovery_off", "why",
                                 kith_strerror(rc)));
      else
        fprintf(stderr, "kith: LAN discovery is off: %s\n", kith_strerror(rc));
    }
  }
  uv_timer_init(loop, &a->tick);
  a->tick.data = a;
  uv_timer_start(&a->tick, on_tick, TICK_MS, TICK_MS);
  for (size_t i = 0; i < a->n; i++) /* the devices seen before: try them now */
    dial(a, &a->k[i], 0);
  a->relay_last = 0; /* and the relays */
  relay_round(a, cli_now_ms(), a->mark);
  *out = a;
  return 0;
}

static void autosync_closed(uv_handle_t *h)
{
  struct autosync *a = h->data;
  a->closed = true;
  if (a->dialing == 0) { /* else the last dial to finish frees */
    free(a->k);
    free(a);
  }
}

void autosync_stop(struct autosync *a)
{
  if (!a)
    return;
  a->stopping = true;
  kith_disc_stop(a->disc, NULL, NULL);
  a->disc = NULL;
  uv_timer_stop(&a->tick);
  uv_close((uv_handle_t *)&a->tick, autosync_closed);
}
