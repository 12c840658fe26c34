/* kith peer list | show | verify | rm | ping;  kith device list | revoke | ping */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cli/cmds.h"
#include "cli/syncer.h"
#include "core/fold.h"
#include "core/link.h"
#include "core/peer.h"
#include "net/conn.h"
#include "proto/hex.h"
#include "proto/safety.h"

static const char peer_usage[] =
    "kith peer list | show PEER | verify PEER | confirm PEER | rm PEER | ping PEER "
    "--addr HOST:PORT";
static const char device_usage[] =
    "kith device list | revoke DEVICE | ping DEVICE --addr HOST:PORT";

static int peer_help(FILE *f)
{
  fprintf(f,
          "usage: %s\n\n"
          "Partners you have paired with (kith invite / kith join). PEER is an id\n"
          "prefix or a name. 'verify' prints the safety number: read it aloud with\n"
          "your partner; if both of you see the same digits, nobody sits between\n"
          "you. 'rm' forgets a partner: their devices are refused from then on.\n"
          "'confirm' makes a pending peer (one an introduction gave you, see 'kith\n"
          "intro') a partner: once both of you confirmed, you sync directly.\n"
          "'ping' connects to the partner's device at HOST:PORT (where 'kith serve'\n"
          "runs) and checks that it still trusts this device: exit 0 if so, 77 if it\n"
          "refuses, 69 if it cannot be reached or is not that partner's device.\n",
          peer_usage);
  return f == stdout ? 0 : EX_USAGE_;
}

static int device_help(FILE *f)
{
  fprintf(f,
          "usage: %s\n\n"
          "Your own linked devices. 'revoke' refuses a lost or retired device from\n"
          "now on, on your other devices and, once synced, at your partners.\n"
          "'ping' connects to one of them at HOST:PORT (where 'kith serve' runs) and\n"
          "checks that it trusts this device (exit 0; 77 refused; 69 unreachable).\n",
          device_usage);
  return f == stdout ? 0 : EX_USAGE_;
}

struct by_name {
  kith_txn *txn;
  uint8_t field; /* the peer's name or the device's label */
  char *needle;
  int found, partial; /* the whole name; the first word(s) of a name */
  uint8_t id[16], pid[16];
};

static int match_name(void *arg, const uint8_t id[16])
{
  struct by_name *b = arg;
  struct kith_record *rec = NULL;
  char *f = NULL;
  if (kith_record_load(b->txn, id, &rec) != 0)
    return 0;
  const char *name = kith_record_text(rec, b->field);
  size_t nl = strlen(b->needle);
  if (!rec->deleted && name && kith_fold(name, &f) == 0) {
    if (strcmp(f, b->needle) == 0) {
      if (b->found++ == 0)
        memcpy(b->id, id, 16);
    } else if (strncmp(f, b->needle, nl) == 0 && f[nl] == ' ') { /* "Bea" */
      if (b->partial++ == 0)
        memcpy(b->pid, id, 16);
    }
  }
  free(f);
  kith_record_free(rec);
  return 0;
}

/* A peer by id prefix, else by name (ignoring case and accents). */
int cli_resolve_peer(kith_txn *txn, const char *arg, uint8_t id[16])
{
  int rc = kith_record_resolve(txn, KITH_KIND_PEER, arg, id);
  if (rc == 0)
    return 0;
  if (rc == KITH_EAMBIGUOUS)
    return cli_error(EX_DATAERR_,
                     "id '%s' matches more than one peer; give more digits", arg);
  struct by_name b = {txn, KITH_F_PEER_NAME, NULL, 0, 0, {0}, {0}};
  if (kith_fold(arg, &b.needle) != 0)
    return cli_fail(KITH_EBADUTF8, "peer");
  rc = kith_kind_each(txn, KITH_KIND_PEER, match_name, &b);
  free(b.needle);
  if (rc)
    return cli_fail(rc, "cannot look up peer '%s'", arg);
  if (b.found > 1 || (!b.found && b.partial > 1))
    return cli_error(EX_DATAERR_, "more than one peer is called '%s'; use the id", arg);
  if (b.found == 0 && b.partial == 0)
    return cli_error(EX_DATAERR_, "no peer '%s' (see 'kith peer list')", arg);
  memcpy(id, b.found ? b.id : b.pid, 16);
  return 0;
}

/* One of my devices by id prefix, else by label (ignoring case and accents). */
static int resolve_device(kith_txn *txn, const char *arg, uint8_t id[16])
{
  int rc = kith_record_resolve(txn, KITH_KIND_DEVICE, arg, id);
  if (rc == 0)
    return 0;
  if (rc == KITH_EAMBIGUOUS)
    return cli_error(EX_DATAERR_, "id '%s' matches more than one device", arg);
  struct by_name b = {txn, KITH_F_DEVICE_LABEL, NULL, 0, 0, {0}, {0}};
  if (kith_fold(arg, &b.needle) != 0)
    return cli_fail(KITH_EBADUTF8, "device");
  rc = kith_kind_each(txn, KITH_KIND_DEVICE, match_name, &b);
  free(b.needle);
  if (rc)
    return cli_fail(rc, "cannot look up device '%s'", arg);
  if (b.found > 1)
    return cli_error(EX_DATAERR_, "more than one device is labelled '%s'; use the id",
                     arg);
  if (b.found == 0)
    return cli_error(EX_DATAERR_, "no device '%s' (see 'kith device list')", arg);
  memcpy(id, b.id, 16);
  return 0;
}

static json_t *peer_json(const struct kith_record *rec)
{
  char hex[33], fp[40], pkhex[65];
  uint8_t pk[32];
  const char *s;
  kith_hex_encode(rec->id, 16, hex);
  json_t *o = json_pack("{s:s}", "id", hex);
  json_t *devs = json_array();
  if (!o || !devs) {
    json_decref(o);
    json_decref(devs);
    return NULL;
  }
  json_object_set_new(
      o, "name", json_string((s = kith_record_text(rec, KITH_F_PEER_NAME)) ? s : ""));
  if (kith_record_key(rec, pk) == 0) {
    kith_fingerprint(pk, fp);
    kith_hex_encode(pk, 32, pkhex);
    json_object_set_new(o, "fingerprint", json_string(fp));
    json_object_set_new(o, "public_key", json_string(pkhex));
  } else {
    json_object_set_new(o, "fingerprint", json_null());
  }
  json_object_set_new(
      o, "status",
      json_string((s = kith_record_text(rec, KITH_F_PEER_STATUS)) ? s : "confirmed"));
  s = kith_record_text(rec, KITH_F_PEER_PAIRED);
  json_object_set_new(o, "paired", s ? json_string(s) : json_null());
  for (size_t i = 0; i < rec->n; i++) {
    const struct kith_reg *r = &rec->regs[i];
    if (r->field != KITH_F_PEER_KEYS || !kith_reg_live(r))
      continue;
    uint8_t k[32];
    if (kith_hex_decode(r->val->p[0], k, 32) != 0)
      continue;
    kith_fingerprint(k, fp);
    json_array_append_new(devs, json_pack("{s:s, s:s, s:s?}", "key", r->val->p[0],
                                          "fingerprint", fp, "label", r->val->p[1]));
  }
  json_object_set_new(o, "devices", devs);
  return o;
}

/* LAST SYNC, THEY LACK, I LACK: relative time, and counts ("?" before any sync). */
static void print_sync(json_t *st)
{
  const char *last = json_string_value(json_object_get(st, "last_sync"));
  char rel[32] = "never";
  if (last)
    cli_relative((uint64_t)json_integer_value(json_object_get(st, "last_sync_ms")),
                 cli_now_ms(), rel, sizeof rel);
  printf("%-14s  ", rel);
  if (!last) {
    printf("%-9s  %-9s", "-", "-");
    return;
  }
  printf("%-9lld  %-9lld",
         (long long)json_integer_value(json_object_get(st, "they_lack")),
         (long long)json_integer_value(json_object_get(st, "i_lack")));
}

struct list {
  kith_txn *txn;
  int kind;
  struct kith_record_list l;
};

static int gather(void *arg, const uint8_t id[16])
{
  struct list *c = arg;
  struct kith_record *rec = NULL;
  int rc = kith_record_load(c->txn, id, &rec);
  if (rc)
    return rc == KITH_ENOTFOUND ? 0 : rc;
  if (rec->deleted || rec->kind != c->kind) {
    kith_record_free(rec);
    return 0;
  }
  if (c->l.n == c->l.cap) {
    size_t cap = c->l.cap ? c->l.cap * 2 : 8;
    void *p = realloc(c->l.v, cap * sizeof *c->l.v);
    if (!p) {
      kith_record_free(rec);
      return KITH_ENOMEM;
    }
    c->l.v = p, c->l.cap = cap;
  }
  c->l.v[c->l.n++] = rec;
  return 0;
}

static int open_read(struct cli *cli, kith_txn **txn)
{
  int rc = cli_open(cli);
  return rc ? rc : cli_begin(cli, false, txn);
}

static int peer_list(struct cli *cli, kith_txn *txn)
{
  struct list c = {txn, KITH_KIND_PEER, {0}};
  int rc = kith_kind_each(txn, KITH_KIND_PEER, gather, &c);
  if (rc) {
    kith_record_list_clear(&c.l);
    return cli_fail(rc, "cannot list peers");
  }
  if (cli->json) {
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < c.l.n; i++) {
      json_t *j = peer_json(c.l.v[i]);
      json_object_set_new(j, "sync", syncer_status(txn, c.l.v[i]->id));
      json_array_append_new(arr, j);
    }
    kith_record_list_clear(&c.l);
    return cli_json_print(arr);
  }
  if (c.l.n)
    printf("%-8s  %-20s  %-10s  %-14s  %-9s  %-9s  %s\n", "ID", "NAME", "STATUS",
           "LAST SYNC", "THEY LACK", "I LACK", "FINGERPRINT");
  for (size_t i = 0; i < c.l.n; i++) {
    json_t *j = peer_json(c.l.v[i]), *st = syncer_status(txn, c.l.v[i]->id);
    char hex[33];
    kith_hex_encode(c.l.v[i]->id, 16, hex);
    hex[8] = 0;
    printf("%s  ", hex);
    cli_pad(stdout, json_string_value(json_object_get(j, "name")), 20);
    const char *fp = json_string_value(json_object_get(j, "fingerprint"));
    printf("  %-10s  ", json_string_value(json_object_get(j, "status")));
    print_sync(st);
    printf("  %s\n", fp ? fp : "");
    json_decref(st);
    json_decref(j);
  }
  if (c.l.n == 0)
    fprintf(stderr, "no peers yet (pair with 'kith invite' and 'kith join')\n");
  kith_record_list_clear(&c.l);
  return 0;
}

static int peer_show(struct cli *cli, kith_txn *txn, const uint8_t id[16], bool verify)
{
  struct kith_record *rec = NULL;
  struct kith_identity me;
  uint8_t pk[32];
  char safety[KITH_SAFETY_TEXT_LEN];
  int rc = kith_record_load(txn, id, &rec);
  if (rc == 0)
    rc = kith_txn_identity(txn, &me);
  if (rc)
    return cli_fail(rc, "cannot read the peer");
  if ((rc = kith_record_key(rec, pk)) != 0 ||
      (rc = kith_safety_number(me.pk, pk, safety)) != 0) {
    kith_record_free(rec);
    return cli_fail(rc, "this peer has no key to verify");
  }
  json_t *j = peer_json(rec);
  kith_record_free(rec);
  if (!j)
    return cli_fail(KITH_ENOMEM, "peer");
  if (cli->json) {
    if (verify) {
      json_t *v =
          json_pack("{s:s, s:O, s:O}", "safety_number", safety, "peer",
                    json_object_get(j, "id"), "name", json_object_get(j, "name"));
      json_decref(j);
      return cli_json_print(v);
    }
    json_object_set_new(j, "safety_number", json_string(safety));
    return cli_json_print(j);
  }
  if (verify) {
    printf("Safety number with %s:\n\n", json_string_value(json_object_get(j, "name")));
    for (int i = 0; i < 12; i++)
      printf("%.5s%s", safety + i * 6, i % 4 == 3 ? "\n" : " ");
    printf(
        "\nRead it aloud together: it is the same on both sides unless someone sits\n"
        "between you.\n");
    json_decref(j);
    return 0;
  }
  const char *paired = json_string_value(json_object_get(j, "paired"));
  printf("%s\n", json_string_value(json_object_get(j, "name")));
  printf("  %-15s %s\n", "id", json_string_value(json_object_get(j, "id")));
  printf("  %-15s %s\n", "status", json_string_value(json_object_get(j, "status")));
  if (paired)
    printf("  %-15s %s\n", "paired", paired);
  size_t i;
  json_t *d;
  json_array_foreach(json_object_get(j, "devices"), i, d)
  {
    const char *label = json_string_value(json_object_get(d, "label"));
    printf("  %-15s %s%s%s%s\n", "device",
           json_string_value(json_object_get(d, "fingerprint")), label ? " (" : "",
           label ? label : "", label ? ")" : "");
  }
  printf("  %-15s %s\n", "safety number", safety);
  json_decref(j);
  return 0;
}

/* ---- ping: a sync link that only says hello (core/link.h) -------------------- */

#define PING_KEYS_MAX 16

struct ping_conn {
  bool done;
  int result;
};

static void ping_done(void *arg, int result)
{
  struct ping_conn *p = arg;
  p->done = true;
  p->result = result;
}

static uint64_t ping_now(void)
{
  return cli_now_ms();
}

/* The device keys of a peer record (each device a partner paired from), or the one
 * key of a device record. */
static size_t record_keys(const struct kith_record *rec, uint8_t keys[][32], size_t max)
{
  size_t n = 0;
  for (size_t i = 0; i < rec->n && n < max; i++) {
    const struct kith_reg *r = &rec->regs[i];
    if ((r->field == KITH_F_PEER_KEYS || r->field == KITH_F_DEVICE_KEY) &&
        kith_reg_live(r) && kith_hex_decode(r->val->p[0], keys[n], 32) == 0)
      n++;
  }
  return n;
}

/* One link to addr with the key pk; *r gets the link's result, *net the
 * transport's. Returns 0, or an exit code if the link could not even start. */
static int ping_once(struct cli *cli, const struct sockaddr *addr, const uint8_t pk[32],
                     struct kith_link_result *r, int *net)
{
  kith_link *l = NULL;
  struct ping_conn pc = {false, 0};
  int rc = kith_link_dial_new(cli->st, pk, ping_now, &l);
  if (rc)
    return cli_fail(rc, "cannot start the link");
  uv_loop_t *loop = uv_default_loop();
  rc = kith_net_connect(loop, addr, NULL, &kith_link_vt, l, ping_done, &pc);
  if (rc == 0)
    uv_run(loop, UV_RUN_DEFAULT); /* net/ bounds it: connect, handshake, idle */
  kith_link_result(l, r);
  kith_link_free(l);
  if (rc)
    return cli_fail(rc, "cannot connect");
  *net = pc.result;
  return 0;
}

/* kith peer ping PEER --addr HOST:PORT, kith device ping DEVICE --addr HOST:PORT:
 * a link that stops after the handshake, to show whether the other side is there
 * and trusts this device. Tries each of a partner's device keys until one answers
 * the handshake at that address. */
static int ping(struct cli *cli, int kind, int argc, char **argv)
{
  static const struct option opts[] = {{"addr", required_argument, NULL, 'a'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *usage = kind == KITH_KIND_PEER ? peer_usage : device_usage;
  const char *what = kind == KITH_KIND_PEER ? "PEER" : "DEVICE";
  const char *addr_text = NULL;
  int c, rc;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (c == 'a')
      addr_text = optarg;
    else if (c == 'h')
      return kind == KITH_KIND_PEER ? peer_help(stdout) : device_help(stdout);
    else
      return cli_usage(usage, "unknown option '%s'", argv[optind - 1]);
  }
  if (optind != argc - 1)
    return cli_usage(usage, optind == argc ? "missing %s" : "too many arguments", what);
  if (!addr_text)
    return cli_usage(usage, "ping needs --addr HOST:PORT (where 'kith serve' runs)");
  struct sockaddr_storage addr;
  if (kith_net_parse_addr(addr_text, &addr) != 0)
    return cli_usage(usage, "bad address '%s' (HOST:PORT with an IP address)",
                     addr_text);

  kith_txn *txn = NULL;
  struct kith_record *rec = NULL;
  uint8_t id[16], keys[PING_KEYS_MAX][32];
  enum kith_trust trust = KITH_TRUST_NONE;
  char name[KITH_TEXT_MAX + 1] = "", hex[33];
  size_t nkeys = 0;
  if ((rc = cli_open(cli)) != 0 || (rc = cli_begin(cli, false, &txn)) != 0)
    return rc;
  rc = kind == KITH_KIND_PEER ? cli_resolve_peer(txn, argv[optind], id)
                              : resolve_device(txn, argv[optind], id);
  if (rc == 0 && (rc = kith_record_load(txn, id, &rec)) != 0)
    rc = cli_fail(rc, "cannot read the %s", kind == KITH_KIND_PEER ? "peer" : "device");
  if (rc == 0) {
    const char *s = kith_record_text(rec, kind == KITH_KIND_PEER ? KITH_F_PEER_NAME
                                                                 : KITH_F_DEVICE_LABEL);
    snprintf(name, sizeof name, "%s", s ? s : "");
    nkeys = record_keys(rec, keys, PING_KEYS_MAX);
    if (nkeys && (rc = kith_trust_check(txn, keys[0], &trust)) != 0)
      rc = cli_fail(rc, "cannot read the store");
  }
  kith_record_free(rec);
  kith_txn_abort(txn);
  if (rc)
    return rc;
  if (nkeys == 0)
    return cli_error(EX_DATAERR_, "%s has no key to connect to", name);
  if (trust == KITH_TRUST_REVOKED)
    return cli_error(EX_DATAERR_, "device %s is revoked: kith no longer connects to it",
                     name);

  struct kith_link_result r = {.error = KITH_EUNAVAIL};
  int net = 0;
  for (size_t i = 0; i < nkeys; i++) {
    if ((rc = ping_once(cli, (struct sockaddr *)&addr, keys[i], &r, &net)) != 0)
      return rc;
    if (r.established || net == KITH_EUNAVAIL || net == KITH_ETIMEDOUT)
      break; /* that device answered, or nobody is there: other keys won't help */
  }
  uv_loop_close(uv_default_loop());
  kith_hex_encode(id, sizeof id, hex);
  if (r.error == 0) {
    if (cli->json)
      return cli_json_print(json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "id", hex,
                                      "name", name, "as",
                                      kind == KITH_KIND_PEER ? "partner" : "device",
                                      "addr", addr_text, "reachable", 1, "trusted", 1));
    printf("%s is reachable and trusts this device\n", name);
    return 0;
  }
  if (r.refused)
    return cli_error(EX_NOPERM_, "%s refused the link: %s", name,
                     kith_refuse_text(r.refused));
  if (net == KITH_EUNAVAIL)
    return cli_error(EX_UNAVAILABLE_,
                     "cannot reach %s at %s (is 'kith serve' running "
                     "there?)",
                     name, addr_text);
  if (!r.established)
    return cli_error(EX_UNAVAILABLE_,
                     "the device at %s did not complete the handshake: "
                     "it is not %s's, or not a kith device",
                     addr_text, name);
  return cli_error(EX_UNAVAILABLE_, "the link to %s failed: %s", name,
                   r.why[0] ? r.why : kith_strerror(net));
}

int cmd_peer(struct cli *cli, int argc, char **argv)
{
  kith_txn *txn = NULL;
  uint8_t id[16];
  int rc;
  if (argc < 2)
    return peer_help(stderr);
  const char *sub = argv[1];
  if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 ||
      strcmp(sub, "help") == 0 || cli_wants_help(argc, argv))
    return peer_help(stdout);
  if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0) {
    if (argc != 2)
      return cli_usage(peer_usage, "unexpected argument '%s'", argv[2]);
    if ((rc = open_read(cli, &txn)) == 0)
      rc = peer_list(cli, txn);
    kith_txn_abort(txn);
    return rc;
  }
  if (strcmp(sub, "ping") == 0)
    return ping(cli, KITH_KIND_PEER, argc - 1, argv + 1);
  bool show = strcmp(sub, "show") == 0, verify = strcmp(sub, "verify") == 0,
       rm = strcmp(sub, "rm") == 0, confirm = strcmp(sub, "confirm") == 0;
  if (!show && !verify && !rm && !confirm)
    return cli_usage(peer_usage, "unknown subcommand 'peer %s'", sub);
  if (argc != 3)
    return cli_usage(peer_usage, argc < 3 ? "missing PEER" : "too many arguments");
  if (argv[2][0] == '-')
    return cli_usage(peer_usage, "unknown option '%s'", argv[2]);
  if ((rc = cli_open(cli)) != 0 || (rc = cli_begin(cli, rm || confirm, &txn)) != 0)
    return rc;
  if ((rc = cli_resolve_peer(txn, argv[2], id)) != 0) {
    kith_txn_abort(txn);
    return rc;
  }
  if (confirm) {
    if ((rc = kith_peer_confirm(txn, id)) != 0) {
      kith_txn_abort(txn);
      return cli_fail(rc, "cannot confirm the peer");
    }
    if ((rc = cli_commit(txn)) != 0)
      return rc;
    if (cli->json) {
      char hex[33];
      kith_hex_encode(id, 16, hex);
      return cli_json_print(json_pack("{s:s, s:s}", "id", hex, "status", "confirmed"));
    }
    return 0;
  }
  if (!rm) {
    rc = peer_show(cli, txn, id, verify);
    kith_txn_abort(txn);
    return rc;
  }
  if ((rc = kith_record_delete(txn, id)) != 0) {
    kith_txn_abort(txn);
    return cli_fail(rc, "cannot remove the peer");
  }
  if ((rc = cli_commit(txn)) != 0)
    return rc;
  if (cli->json) {
    char hex[33];
    kith_hex_encode(id, 16, hex);
    return cli_json_print(json_pack("{s:s, s:b}", "id", hex, "deleted", 1));
  }
  return 0;
}

static json_t *device_json(const struct kith_record *rec, const uint8_t me[32])
{
  char hex[33], fp[40];
  uint8_t pk[32];
  const char *s;
  kith_hex_encode(rec->id, 16, hex);
  bool has_key = kith_record_key(rec, pk) == 0;
  if (has_key)
    kith_fingerprint(pk, fp);
  json_t *o = json_pack("{s:s, s:s, s:s?, s:b}", "id", hex, "label",
                        (s = kith_record_text(rec, KITH_F_DEVICE_LABEL)) ? s : "",
                        "fingerprint", has_key ? fp : NULL, "this_device",
                        has_key && memcmp(pk, me, 32) == 0);
  s = kith_record_text(rec, KITH_F_DEVICE_ADDED);
  json_object_set_new(o, "added", s ? json_string(s) : json_null());
  s = kith_record_text(rec, KITH_F_DEVICE_REVOKED);
  json_object_set_new(o, "revoked", s ? json_string(s) : json_null());
  return o;
}

int cmd_device(struct cli *cli, int argc, char **argv)
{
  kith_txn *txn = NULL;
  struct kith_identity me;
  uint8_t id[16];
  int rc;
  if (argc < 2)
    return device_help(stderr);
  const char *sub = argv[1];
  if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 ||
      strcmp(sub, "help") == 0 || cli_wants_help(argc, argv))
    return device_help(stdout);
  if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0) {
    if (argc != 2)
      return cli_usage(device_usage, "unexpected argument '%s'", argv[2]);
    struct list c = {NULL, KITH_KIND_DEVICE, {0}};
    if ((rc = open_read(cli, &txn)) != 0)
      return rc;
    c.txn = txn;
    if ((rc = kith_txn_identity(txn, &me)) != 0 ||
        (rc = kith_kind_each(txn, KITH_KIND_DEVICE, gather, &c)) != 0) {
      kith_record_list_clear(&c.l);
      kith_txn_abort(txn);
      return cli_fail(rc, "cannot list devices");
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < c.l.n; i++) {
      json_t *d = device_json(c.l.v[i], me.pk);
      if (!json_is_true(json_object_get(d, "this_device")) &&
          !json_is_string(json_object_get(d, "revoked")))
        json_object_set_new(d, "sync", syncer_status(txn, c.l.v[i]->id));
      json_array_append_new(arr, d);
    }
    kith_record_list_clear(&c.l);
    kith_txn_abort(txn);
    if (cli->json)
      return cli_json_print(arr);
    printf("%-8s  %-16s  %-10s  %-10s  %-14s  %-9s  %-9s  %s\n", "ID", "LABEL", "ADDED",
           "REVOKED", "LAST SYNC", "THEY LACK", "I LACK", "FINGERPRINT");
    size_t i;
    json_t *d;
    json_array_foreach(arr, i, d)
    {
      const char *added = json_string_value(json_object_get(d, "added"));
      const char *revoked = json_string_value(json_object_get(d, "revoked"));
      const char *fp = json_string_value(json_object_get(d, "fingerprint"));
      printf("%.8s  ", json_string_value(json_object_get(d, "id")));
      cli_pad(stdout, json_string_value(json_object_get(d, "label")), 16);
      printf("  %-10s  %-10s  ", added ? added : "", revoked ? revoked : "-");
      if (json_object_get(d, "sync"))
        print_sync(json_object_get(d, "sync"));
      else
        printf("%-14s  %-9s  %-9s", "", "", "");
      printf("  %s%s\n", fp ? fp : "",
             json_is_true(json_object_get(d, "this_device")) ? "  (this device)" : "");
    }
    json_decref(arr);
    return 0;
  }
  if (strcmp(sub, "ping") == 0)
    return ping(cli, KITH_KIND_DEVICE, argc - 1, argv + 1);
  if (strcmp(sub, "revoke") != 0)
    return cli_usage(device_usage, "unknown subcommand 'device %s'", sub);
  if (argc != 3)
    return cli_usage(device_usage, argc < 3 ? "missing DEVICE" : "too many arguments");
  if (argv[2][0] == '-')
    return cli_usage(device_usage, "unknown option '%s'", argv[2]);
  if ((rc = cli_open(cli)) != 0 || (rc = cli_begin(cli, true, &txn)) != 0)
    return rc;
  rc = kith_record_resolve(txn, KITH_KIND_DEVICE, argv[2], id);
  if (rc) {
    kith_txn_abort(txn);
    return rc == KITH_EAMBIGUOUS
               ? cli_error(EX_DATAERR_, "id '%s' matches more than one device", argv[2])
               : cli_error(EX_DATAERR_,
                           "no device with id '%s' (see 'kith device list')", argv[2]);
  }
  rc = kith_device_revoke(txn, id);
  if (rc == KITH_EINVAL) {
    kith_txn_abort(txn);
    return cli_error(EX_DATAERR_, "this device cannot revoke itself; revoke it from "
                                  "another of your devices");
  }
  if (rc) {
    kith_txn_abort(txn);
    return cli_fail(rc, "cannot revoke the device");
  }
  if ((rc = cli_commit(txn)) != 0)
    return rc;
  if (cli->json) {
    char hex[33];
    kith_hex_encode(id, 16, hex);
    return cli_json_print(json_pack("{s:s, s:b}", "id", hex, "revoked", 1));
  }
  return 0;
}
