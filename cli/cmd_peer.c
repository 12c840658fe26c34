/* kith peer list | show | verify | rm;  kith device list | revoke */
#include <stdlib.h>
#include <string.h>

#include "cli/cmds.h"
#include "core/fold.h"
#include "core/peer.h"
#include "proto/hex.h"
#include "proto/safety.h"

static const char peer_usage[] = "kith peer list | show PEER | verify PEER | rm PEER";
static const char device_usage[] = "kith device list | revoke DEVICE";

static int peer_help(FILE *f)
{
  fprintf(f,
          "usage: %s\n\n"
          "Partners you have paired with (kith invite / kith join). PEER is an id\n"
          "prefix or a name. 'verify' prints the safety number: read it aloud with\n"
          "your partner; if both of you see the same digits, nobody sits between\n"
          "you. 'rm' forgets a partner: their devices are refused from then on.\n",
          peer_usage);
  return f == stdout ? 0 : EX_USAGE_;
}

static int device_help(FILE *f)
{
  fprintf(f,
          "usage: %s\n\n"
          "Your own linked devices. 'revoke' refuses a lost or retired device from\n"
          "now on, on your other devices and, once synced, at your partners.\n",
          device_usage);
  return f == stdout ? 0 : EX_USAGE_;
}

struct by_name {
  kith_txn *txn;
  char *needle;
  int found;
  uint8_t id[16];
};

static int match_name(void *arg, const uint8_t id[16])
{
  struct by_name *b = arg;
  struct kith_record *rec = NULL;
  char *f = NULL;
  if (kith_record_load(b->txn, id, &rec) != 0)
    return 0;
  const char *name = kith_record_text(rec, KITH_F_PEER_NAME);
  if (!rec->deleted && name && kith_fold(name, &f) == 0 && strcmp(f, b->needle) == 0) {
    if (b->found++ == 0)
      memcpy(b->id, id, 16);
  }
  free(f);
  kith_record_free(rec);
  return 0;
}

/* A peer by id prefix, else by name (ignoring case and accents). */
static int resolve_peer(kith_txn *txn, const char *arg, uint8_t id[16])
{
  int rc = kith_record_resolve(txn, KITH_KIND_PEER, arg, id);
  if (rc == 0)
    return 0;
  if (rc == KITH_EAMBIGUOUS)
    return cli_error(EX_DATAERR_,
                     "id '%s' matches more than one peer; give more digits", arg);
  struct by_name b = {txn, NULL, 0, {0}};
  if (kith_fold(arg, &b.needle) != 0)
    return cli_fail(KITH_EBADUTF8, "peer");
  rc = kith_kind_each(txn, KITH_KIND_PEER, match_name, &b);
  free(b.needle);
  if (rc)
    return cli_fail(rc, "cannot look up peer '%s'", arg);
  if (b.found > 1)
    return cli_error(EX_DATAERR_, "more than one peer is called '%s'; use the id", arg);
  if (b.found == 0)
    return cli_error(EX_DATAERR_, "no peer '%s' (see 'kith peer list')", arg);
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
    for (size_t i = 0; arr && i < c.l.n; i++)
      json_array_append_new(arr, peer_json(c.l.v[i]));
    kith_record_list_clear(&c.l);
    return cli_json_print(arr);
  }
  if (c.l.n)
    printf("%-8s  %-24s  %-10s  %-10s  %s\n", "ID", "NAME", "STATUS", "PAIRED",
           "FINGERPRINT");
  for (size_t i = 0; i < c.l.n; i++) {
    json_t *j = peer_json(c.l.v[i]);
    char hex[33];
    kith_hex_encode(c.l.v[i]->id, 16, hex);
    hex[8] = 0;
    printf("%s  ", hex);
    cli_pad(stdout, json_string_value(json_object_get(j, "name")), 24);
    const char *paired = json_string_value(json_object_get(j, "paired"));
    const char *fp = json_string_value(json_object_get(j, "fingerprint"));
    printf("  %-10s  %-10s  %s\n", json_string_value(json_object_get(j, "status")),
           paired ? paired : "", fp ? fp : "");
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
  bool show = strcmp(sub, "show") == 0, verify = strcmp(sub, "verify") == 0,
       rm = strcmp(sub, "rm") == 0;
  if (!show && !verify && !rm)
    return cli_usage(peer_usage, "unknown subcommand 'peer %s'", sub);
  if (argc != 3)
    return cli_usage(peer_usage, argc < 3 ? "missing PEER" : "too many arguments");
  if (argv[2][0] == '-')
    return cli_usage(peer_usage, "unknown option '%s'", argv[2]);
  if ((rc = cli_open(cli)) != 0 || (rc = cli_begin(cli, rm, &txn)) != 0)
    return rc;
  if ((rc = resolve_peer(txn, argv[2], id)) != 0) {
    kith_txn_abort(txn);
    return rc;
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
    for (size_t i = 0; arr && i < c.l.n; i++)
      json_array_append_new(arr, device_json(c.l.v[i], me.pk));
    kith_record_list_clear(&c.l);
    kith_txn_abort(txn);
    if (cli->json)
      return cli_json_print(arr);
    printf("%-8s  %-20s  %-10s  %-10s  %s\n", "ID", "LABEL", "ADDED", "REVOKED",
           "FINGERPRINT");
    size_t i;
    json_t *d;
    json_array_foreach(arr, i, d)
    {
      const char *added = json_string_value(json_object_get(d, "added"));
      const char *revoked = json_string_value(json_object_get(d, "revoked"));
      const char *fp = json_string_value(json_object_get(d, "fingerprint"));
      printf("%.8s  ", json_string_value(json_object_get(d, "id")));
      cli_pad(stdout, json_string_value(json_object_get(d, "label")), 20);
      printf("  %-10s  %-10s  %s%s\n", added ? added : "", revoked ? revoked : "-",
             fp ? fp : "",
             json_is_true(json_object_get(d, "this_device")) ? "  (this device)" : "");
    }
    json_decref(arr);
    return 0;
  }
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
