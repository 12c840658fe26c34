/*
 * fuzz_sync.c — the sync engine (core/sync.h) fed a hostile peer's messages, over
 * a real store: Ada's, in which Bea is a partner (the same partnership id on both
 * sides, as pairing records it; Bea's store is made beside it) with one card
 * shared, and a phone is one of Ada's devices. The stores live in /tmp for the
 * fuzzer's run only, with a 64 MiB map so that what the inputs write stays
 * bounded.
 *
 * Input: one byte of mode (bit 0: Ada dials, else she accepts; bit 1: the other
 * side is her phone, else Bea's laptop; bit 2: one way instead, see below), then
 * messages, each a 2-byte big-endian
 * length and that many bytes, decoded with kith_msg_decode (those that do not
 * decode are dropped, as a channel would have refused them) and passed to
 * kith_sync_recv, with everything the engine has to send drained in between. An
 * epoch of sixteen 0xee bytes in a HELLO's have_epoch or an ACK stands for Ada's
 * store's epoch (random, so an input could not name it otherwise).
 *
 * One way (bit 2): the rest of the input is a post (core/post.h), as an envelope
 * from the phone or Bea would carry it once opened, applied by Ada's inbox; a
 * refusal says why and changes nothing, and the same rule holds for the store.
 *
 * Whatever comes, the engine must not crash or leak; what it sends must be sync
 * messages that decode; once a message is refused it sends nothing more; and the
 * store, which it may change, never holds in the partnership space anything but
 * cards and rosters (no private field, note, peer or device record).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/post.h"
#include "core/space.h"
#include "core/sync.h"
#include "proto/noise.h"

static kith_store *ada, *bea;
static uint8_t ada_epoch[KITH_EPOCH_LEN], bea_pk[32], phone_pk[32];
static char dir[] = "/tmp/kith-fuzz-sync-XXXXXX", ada_home[64], bea_home[64];
static struct kith_sync_hello hello[KITH_SYNC_HELLO_MAX];
static uint8_t out[KITH_NOISE_MAX_PAYLOAD], patched[KITH_NOISE_MAX_PAYLOAD];

/* The partnership's id: any 16 bytes (a pairing's handshake hash gives them). */
static const uint8_t gid[KITH_GID_LEN] = "kith fuzz space";
static const uint8_t magic[KITH_EPOCH_LEN] = {0xee, 0xee, 0xee, 0xee, 0xee, 0xee,
                                              0xee, 0xee, 0xee, 0xee, 0xee, 0xee,
                                              0xee, 0xee, 0xee, 0xee};

static uint64_t clock_ms(void)
{
  return 1700000000000ull;
}

static void rm_home(const char *home)
{
  char path[96];
  snprintf(path, sizeof path, "%s/data.mdb", home);
  remove(path);
  snprintf(path, sizeof path, "%s/lock.mdb", home);
  remove(path);
  remove(home);
}

static void teardown(void)
{
  kith_store_close(ada);
  kith_store_close(bea);
  rm_home(ada_home);
  rm_home(bea_home);
  remove(dir);
}

static kith_store *store(const char *home, const char *name, uint8_t pk[32])
{
  struct kith_store_opts o = {clock_ms, (size_t)64 << 20};
  struct kith_identity me;
  kith_store *st = NULL;
  kith_txn *txn = NULL;
  uint8_t id[16];
  if (kith_store_init(home, name, "laptop", &o, &st) != 0 ||
      kith_txn_begin(st, true, &txn) != 0 || kith_txn_identity(txn, &me) != 0 ||
      kith_device_add(txn, "laptop", me.pk, id) != 0 || kith_txn_commit(txn) != 0)
    abort();
  memcpy(pk, me.pk, 32);
  return st;
}

static void setup(void)
{
  uint8_t ada_pk[32], sk[64], id[16], peer[16], card[16], out_id[16];
  kith_txn *txn = NULL;
  struct kith_identity me;
  if (sodium_init() < 0 || !mkdtemp(dir))
    abort();
  snprintf(ada_home, sizeof ada_home, "%s/ada", dir);
  snprintf(bea_home, sizeof bea_home, "%s/bea", dir);
  ada = store(ada_home, "Ada", ada_pk);
  bea = store(bea_home, "Bea", bea_pk);
  atexit(teardown);
  crypto_sign_keypair(phone_pk, sk);
  const char *name = "Grace Hopper", *tag = "navy";
  struct kith_value *vn = kith_value_new(1, &name), *vt = kith_value_new(1, &tag);
  if (!vn || !vt || kith_txn_begin(ada, true, &txn) != 0 ||
      kith_txn_identity(txn, &me) != 0 ||
      kith_peer_add(txn, "Bea", bea_pk, "laptop", gid, peer) != 0 ||
      kith_device_add(txn, "phone", phone_pk, id) != 0 ||
      kith_record_create(txn, KITH_KIND_CONTACT, false, card) != 0 ||
      kith_field_set(txn, card, kith_field_by_id(KITH_F_NAME), vn) != 0 ||
      kith_set_add(txn, card, kith_field_by_id(KITH_F_TAGS), vt) != 0 ||
      kith_share(txn, card, peer, out_id) != 0 ||
      kith_record_create(txn, KITH_KIND_CONTACT, false, card) != 0 ||
      kith_field_set(txn, card, kith_field_by_id(KITH_F_NAME), vn) != 0 ||
      kith_txn_commit(txn) != 0)
    abort();
  memcpy(ada_epoch, me.epoch, KITH_EPOCH_LEN);
  if (kith_txn_begin(bea, true, &txn) != 0 ||
      kith_peer_add(txn, "Ada", ada_pk, "laptop", gid, peer) != 0 ||
      kith_txn_commit(txn) != 0)
    abort();
  kith_value_free(vn);
  kith_value_free(vt);
}

/* Replaces the magic epoch by Ada's in a message that has one; the message then
 * lives in `patched`. */
static void patch(struct kith_msg *m)
{
  struct kith_smsg s = {.hello = hello};
  bool hit = false;
  size_t n = 0;
  if (kith_smsg_decode(m, &s) != 0)
    return;
  if (s.type == KITH_SYNC_ACK && memcmp(s.epoch, magic, 16) == 0) {
    memcpy(s.epoch, ada_epoch, 16);
    hit = true;
  }
  for (size_t i = 0; s.type == KITH_SYNC_HELLO && i < s.nhello; i++)
    if (hello[i].have_known && memcmp(hello[i].have_epoch, magic, 16) == 0) {
      memcpy(hello[i].have_epoch, ada_epoch, 16);
      hit = true;
    }
  if (hit && (kith_smsg_encode(&s, patched, sizeof patched, &n) != 0 ||
              kith_msg_decode(patched, n, m) != 0))
    abort(); /* what decoded, re-encoded with another epoch, decodes */
}

/* Sends what the engine has to send (bounded: a few batches in flight at most).
 * Each message must be a sync message that decodes. */
static int drain(kith_sync *s)
{
  for (int i = 0; i < 512; i++) {
    size_t len = 0;
    int rc = kith_sync_next(s, out, sizeof out, &len);
    if (rc) {
      if (len || !kith_sync_why(s)[0])
        abort(); /* a failure says why, and sends nothing */
      return rc;
    }
    if (!len)
      return 0;
    struct kith_msg m;
    struct kith_smsg sm = {.hello = hello};
    if (len > sizeof out || kith_msg_decode(out, len, &m) != 0 ||
        kith_smsg_decode(&m, &sm) != 0)
      abort();
  }
  return 0;
}

/* Nothing but cards, rosters, introduction proposals and referrals outside
 * self. */
static int shared_only(void *arg, const struct kith_reg *r)
{
  (void)arg;
  if (r->space == KITH_SPACE_SELF)
    return 0;
  if (!kith_field_in_card(r->field))
    abort();
  if (r->field == KITH_F_KIND && r->val && r->val->p[0] &&
      strcmp(r->val->p[0], "contact") != 0 && strcmp(r->val->p[0], "roster") != 0 &&
      strcmp(r->val->p[0], "proposal") != 0 && strcmp(r->val->p[0], "referral") != 0)
    abort();
  return 0;
}

/* The one-way path: a post applied by Ada's inbox. */
static bool one_way(const uint8_t *remote, const uint8_t *post, size_t len)
{
  kith_inbox *ib = NULL;
  struct kith_inbox_result res;
  uint8_t before[32], after[32];
  kith_txn *txn = NULL;
  if (kith_txn_begin(ada, false, &txn) != 0 || kith_store_digest(txn, before) != 0)
    abort();
  kith_txn_abort(txn);
  if (kith_inbox_new(ada, clock_ms, &ib) != 0)
    abort();
  int rc = kith_inbox_apply(ib, remote, post, len, &res);
  if (rc && !kith_inbox_why(ib)[0])
    abort(); /* a refusal says why */
  kith_inbox_free(ib);
  if (kith_txn_begin(ada, false, &txn) != 0 || kith_store_digest(txn, after) != 0)
    abort();
  kith_txn_abort(txn);
  if (rc && memcmp(before, after, 32) != 0)
    abort(); /* and changes nothing */
  return rc == 0 && res.changed > 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (!ada)
    setup();
  if (size < 1)
    return 0;
  if (data[0] & 4) {
    kith_txn *txn = NULL;
    if (one_way(data[0] & 2 ? phone_pk : bea_pk, data + 1, size - 1) &&
        (kith_txn_begin(ada, false, &txn) != 0 ||
         kith_reg_each(txn, shared_only, NULL) != 0))
      abort();
    kith_txn_abort(txn);
    return 0;
  }
  bool dialer = data[0] & 1;
  const uint8_t *remote = data[0] & 2 ? phone_pk : bea_pk;
  kith_sync *s = NULL;
  if (kith_sync_new(ada, remote, dialer, clock_ms, &s) != 0)
    abort();
  int rc = dialer ? kith_sync_start(s) : 0;
  if (rc == 0)
    rc = drain(s);
  for (size_t off = 1; rc == 0 && off + 2 <= size;) {
    size_t len = (size_t)data[off] << 8 | data[off + 1];
    off += 2;
    if (len > size - off)
      len = size - off;
    struct kith_msg m;
    if (kith_msg_decode(data + off, len, &m) == 0) {
      patch(&m);
      if ((rc = kith_sync_recv(s, &m)) != 0) {
        size_t n = 1;
        if (!kith_sync_why(s)[0] || kith_sync_next(s, out, sizeof out, &n) == 0 || n)
          abort(); /* refused: says why, and sends nothing more */
      }
    }
    off += len;
    if (rc == 0)
      rc = drain(s);
  }
  (void)kith_sync_over(s);
  bool changed = kith_sync_stats(s)->changed > 0;
  kith_sync_free(s);
  kith_txn *txn = NULL;
  if (changed && (kith_txn_begin(ada, false, &txn) != 0 ||
                  kith_reg_each(txn, shared_only, NULL) != 0))
    abort();
  kith_txn_abort(txn);
  return 0;
}
