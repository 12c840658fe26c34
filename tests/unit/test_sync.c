/*
 * test_sync.c — core/sync.h over core/link.h, two or more stores in one process,
 * sessions back to back (no sockets). A laptop and a phone of Ada's, and her
 * partner Bea. Each pitfall of DESIGN.md's "How sync finds what a peer lacks" has
 * its test, and what a partner holds is checked by reading the partner's store.
 */
#include "kt_sync.h"

#include <sodium.h>

#include "core/json.h"
#include "core/model.h"
#include "core/space.h"
#include "proto/noise.h"

/* ---- tests -------------------------------------------------------------------- */

static void test_devices_converge(void **state)
{
  (void)state;
  struct dev lap, ph;
  uint8_t a[16], b[16], d1[32], d2[32];
  char buf[256];
  dev_new(&lap, "Ada", "laptop");
  dev_new(&ph, "Ada", "phone");
  link_devices(&lap, &ph);
  add_contact(&lap, "Grace Hopper", "navy", a);
  add_contact(&ph, "Alan Turing", NULL, b);
  struct run r = sync_ok(&ph, &lap);
  assert_true(r.sd.sent >= 1); /* phone: at least its contact (device records merge) */
  assert_true(r.sd.received >= 3);
  digest(&lap, d1);
  digest(&ph, d2);
  assert_bytes_equal(d1, 32, d2, 32);
  assert_string_equal(get_text(&ph, a, KITH_F_NAME, buf), "Grace Hopper");
  assert_string_equal(get_text(&lap, b, KITH_F_NAME, buf), "Alan Turing");

  /* the same contact edited on both, offline: the later write wins everywhere */
  set_text(&lap, a, KITH_F_ORG, "US Navy");
  kt_now_ms += 1000;
  set_text(&ph, a, KITH_F_ORG, "Harvard");
  set_text(&ph, a, KITH_F_TITLE, "Rear Admiral");
  struct run again = sync_ok(&lap, &ph);
  /* O(changes): the one record, each way at most (not back if what arrived won) */
  assert_true(again.sd.sent + again.sa.sent >= 1 && again.sd.sent + again.sa.sent <= 2);
  digest(&lap, d1);
  digest(&ph, d2);
  assert_bytes_equal(d1, 32, d2, 32);
  assert_string_equal(get_text(&lap, a, KITH_F_ORG, buf), "Harvard");

  /* nothing new: nothing moves */
  struct run idle = sync_ok(&lap, &ph);
  assert_int_equal(idle.sd.sent + idle.sa.sent, 0);
  dev_free(&lap);
  dev_free(&ph);
}

static void test_overwritten_twice_converges(void **state)
{
  (void)state;
  struct dev lap, ph;
  uint8_t a[16], d1[32], d2[32];
  char buf[256];
  dev_new(&lap, "Ada", "laptop");
  dev_new(&ph, "Ada", "phone");
  link_devices(&lap, &ph);
  add_contact(&lap, "Grace", NULL, a);
  sync_ok(&lap, &ph);
  set_text(&lap, a, KITH_F_ORG, "one");
  kt_now_ms += 10;
  set_text(&lap, a, KITH_F_ORG, "two"); /* overwritten twice between syncs */
  kt_now_ms += 10;
  set_text(&ph, a, KITH_F_TITLE, "t");
  sync_ok(&ph, &lap);
  digest(&lap, d1);
  digest(&ph, d2);
  assert_bytes_equal(d1, 32, d2, 32);
  assert_string_equal(get_text(&ph, a, KITH_F_ORG, buf), "two");
  dev_free(&lap);
  dev_free(&ph);
}

static void test_partner_gets_only_shared_cards(void **state)
{
  (void)state;
  struct dev lap, ph, bea;
  uint8_t a[16], b[16], bea_id[16], ada_id[16], out[16];
  char buf[256];
  dev_new(&lap, "Ada", "laptop");
  dev_new(&ph, "Ada", "phone");
  dev_new(&bea, "Bea", "laptop");
  link_devices(&lap, &ph);
  partner(&lap, "Ada", &bea, "Bea", bea_id, ada_id);
  add_contact(&lap, "Grace Hopper", "mentor", a);
  add_contact(&lap, "Secret Person", "private", b);
  sync_ok(&lap, &bea); /* nothing shared yet: Bea gets the roster only */
  struct scan sc = scan(&bea, a);
  assert_int_equal(sc.forbidden, 0);
  assert_int_equal(sc.contacts, 0);

  /* shared after an earlier sync: it arrives whole */
  kith_txn *t = kt_begin(lap.s.st, true);
  assert_rc(kith_share(t, a, bea_id, out), 0);
  assert_memory_equal(out, a, 16); /* first share: the card itself moves */
  kt_commit(t);
  sync_ok(&bea, &lap);
  assert_string_equal(get_text(&bea, a, KITH_F_NAME, buf), "Grace Hopper");
  sc = scan(&bea, b);
  assert_int_equal(sc.forbidden, 0);          /* the unshared contact: nothing of it */
  assert_int_equal(sc.contacts, 1);           /* exactly the shared card */
  assert_int_equal(sc.private_regs, 0);       /* and none of my tags */
  assert_int_equal(sc.notes + sc.devices, 1); /* Bea's own device record only */

  /* Bea edits the card; the edit reaches Ada, and her phone through either */
  kt_now_ms += 1000;
  set_text(&bea, a, KITH_F_TITLE, "Rear Admiral");
  sync_ok(&lap, &bea);
  assert_string_equal(get_text(&lap, a, KITH_F_TITLE, buf), "Rear Admiral");
  sync_ok(&ph, &lap);
  assert_string_equal(get_text(&ph, a, KITH_F_TITLE, buf), "Rear Admiral");
  uint8_t d1[32], d2[32];
  digest(&lap, d1);
  digest(&ph, d2);
  assert_bytes_equal(d1, 32, d2, 32);

  /* the phone (a device of Ada's now in Bea's roster) syncs with Bea directly */
  kt_now_ms += 1000;
  set_text(&ph, a, KITH_F_ORG, "Navy");
  sync_ok(&bea, &ph);
  assert_string_equal(get_text(&bea, a, KITH_F_ORG, buf), "Navy");

  /* Bea deletes the card: Ada keeps a private copy, notes and tags included */
  t = kt_begin(bea.s.st, true);
  assert_rc(kith_record_delete(t, a), 0);
  kt_commit(t);
  sync_ok(&lap, &bea);
  assert_null(get_text(&lap, a, KITH_F_NAME, buf));
  t = kt_begin(lap.s.st, true);
  uint8_t copy[16];
  assert_rc(kith_keep_private_copy(t, a, copy), KITH_EDELETED); /* already gone */
  kith_txn_abort(t);
  sc = scan(&lap, NULL);
  assert_int_equal(sc.contacts, 2); /* the secret one and the private copy */
  dev_free(&lap);
  dev_free(&ph);
  dev_free(&bea);
}

static void test_two_partnerships_leak_nothing(void **state)
{
  (void)state;
  struct dev ada, bea, cy;
  uint8_t a[16], bea_id[16], cy_id[16], x[16], out1[16], out2[16];
  char buf[256];
  dev_new(&ada, "Ada", "laptop");
  dev_new(&bea, "Bea", "laptop");
  dev_new(&cy, "Cy", "laptop");
  partner(&ada, "Ada", &bea, "Bea", bea_id, x);
  partner(&ada, "Ada", &cy, "Cy", cy_id, x);
  add_contact(&ada, "Grace Hopper", "mentor", a);
  kith_txn *t = kt_begin(ada.s.st, true);
  assert_rc(kith_share(t, a, bea_id, out1), 0);
  assert_rc(kith_share(t, a, cy_id, out2), 0); /* a second partner: a copy */
  kt_commit(t);
  assert_memory_equal(out1, a, 16);
  assert_memory_not_equal(out2, a, 16);
  sync_ok(&bea, &ada);
  sync_ok(&cy, &ada);
  assert_string_equal(get_text(&bea, a, KITH_F_NAME, buf), "Grace Hopper");
  assert_string_equal(get_text(&cy, out2, KITH_F_NAME, buf), "Grace Hopper");
  struct scan sb = scan(&bea, out2), sc = scan(&cy, a);
  assert_int_equal(sb.forbidden, 0); /* Bea: nothing of Cy's copy */
  assert_int_equal(sc.forbidden, 0); /* Cy: nothing of Bea's card */
  assert_int_equal(sb.contacts, 1);
  assert_int_equal(sc.contacts, 1);
  /* and the rosters: Bea's store holds no key of Cy's */
  kith_txn *tb = kt_begin(bea.s.st, false);
  enum kith_trust trust;
  assert_rc(kith_trust_check(tb, cy.pk, &trust), 0);
  assert_int_equal(trust, KITH_TRUST_NONE);
  kith_txn_abort(tb);
  dev_free(&ada);
  dev_free(&bea);
  dev_free(&cy);
}

static void test_interrupted_sync_resumes(void **state)
{
  (void)state;
  struct dev lap, ph;
  uint8_t id[16], d1[32], d2[32];
  char name[96];
  dev_new(&lap, "Ada", "laptop");
  dev_new(&ph, "Ada", "phone");
  link_devices(&lap, &ph);
  kith_txn *t = kt_begin(lap.s.st, true);
  char *longer = malloc(2001);
  assert_non_null(longer);
  memset(longer, 'x', 2000), longer[2000] = 0;
  for (int i = 0; i < 5000; i++) { /* about 11 MB: more than one group of batches */
    snprintf(name, sizeof name, "Person %04d with a longer name to fill batches", i);
    const char *p = name, *q = longer;
    struct kith_value *v = kith_value_new(1, &p), *w = kith_value_new(1, &q);
    assert_rc(kith_record_create(t, KITH_KIND_CONTACT, false, id), 0);
    assert_rc(kith_field_set(t, id, kith_field_by_id(KITH_F_NAME), v), 0);
    assert_rc(kith_field_set(t, id, kith_field_by_id(KITH_F_ORG), v), 0);
    assert_rc(kith_field_set(t, id, kith_field_by_id(KITH_F_NEEDS), w), 0);
    kith_value_free(v);
    kith_value_free(w);
  }
  free(longer);
  kt_commit(t);
  /* cut the connection at several points, some before any commit (a group of
   * batches is applied when the sender may send no more), some after: a third
   * device, synced in full first, measures the stream */
  struct dev tab;
  dev_new(&tab, "Ada", "tablet");
  link_devices(&lap, &tab);
  sync_ok(&tab, &lap);
  long total = last_flow;
  dev_free(&tab);
  long cuts[] = {200, 900, 70000, total * 85 / 100};
  uint64_t got = 0;
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    struct run r = sync_run(&ph, &lap, cuts[i]);
    assert_true(r.d.error != 0); /* cut: never DONE */
    got += r.sd.received;        /* what committed before the cut */
  }
  assert_true(got > 0 && got < 5000);
  struct run r = sync_ok(&ph, &lap);
  assert_true(r.sd.received + got < 5000 + 10); /* resumed, not restarted */
  digest(&lap, d1);
  digest(&ph, d2);
  assert_bytes_equal(d1, 32, d2, 32);
  /* the phone logged 5,000 records it received: none goes back (tags), either way */
  struct run idle = sync_ok(&lap, &ph);
  assert_int_equal(idle.sd.sent + idle.sa.sent, 0);
  idle = sync_ok(&ph, &lap);
  assert_int_equal(idle.sd.sent + idle.sa.sent, 0);
  dev_free(&lap);
  dev_free(&ph);
}

/* A store restored from a copy gets a new epoch: its peers start over from
 * sequence 0 rather than trust numbers the original also gave out. */
static void test_restored_copy_syncs(void **state)
{
  (void)state;
  struct dev lap, ph;
  uint8_t a[16], b[16], c[16], d1[32], d2[32];
  char cmd[512], buf[256];
  dev_new(&lap, "Ada", "laptop");
  dev_new(&ph, "Ada", "phone");
  link_devices(&lap, &ph);
  add_contact(&lap, "Before backup", NULL, a);
  sync_ok(&ph, &lap);
  kith_store_close(lap.s.st);
  snprintf(cmd, sizeof cmd, "cp -a %s %s.bak", lap.s.home, lap.s.home);
  assert_int_equal(system(cmd), 0);
  assert_rc(kith_store_open(lap.s.home, &kt_opts, &lap.s.st), 0);
  for (int i = 0; i < 5; i++) /* seq moves on past the backup's */
    add_contact(&lap, "After backup", NULL, b);
  sync_ok(&ph, &lap);
  kith_store_close(lap.s.st);
  snprintf(cmd, sizeof cmd, "rm -rf %s && mv %s.bak %s", lap.s.home, lap.s.home,
           lap.s.home);
  assert_int_equal(system(cmd), 0);
  assert_rc(kith_store_open(lap.s.home, &kt_opts, &lap.s.st), 0);
  kt_now_ms += 1000;
  add_contact(&lap, "After restore", NULL, c); /* reuses sequence numbers */
  sync_ok(&ph, &lap);
  assert_string_equal(get_text(&ph, c, KITH_F_NAME, buf), "After restore");
  assert_string_equal(get_text(&lap, b, KITH_F_NAME, buf), "After backup");
  digest(&lap, d1);
  digest(&ph, d2);
  assert_bytes_equal(d1, 32, d2, 32);
  dev_free(&lap);
  dev_free(&ph);
}

static void test_revoked_device_gets_nothing(void **state)
{
  (void)state;
  struct dev lap, ph, bea;
  uint8_t a[16], bea_id[16], ada_id[16], dev_id[16], out[16];
  dev_new(&lap, "Ada", "laptop");
  dev_new(&ph, "Ada", "phone");
  dev_new(&bea, "Bea", "laptop");
  link_devices(&lap, &ph);
  partner(&lap, "Ada", &bea, "Bea", bea_id, ada_id);
  sync_ok(&ph, &lap);
  sync_ok(&bea, &lap); /* Bea's roster now holds the phone */
  kith_txn *t = kt_begin(bea.s.st, false);
  enum kith_trust trust;
  assert_rc(kith_trust_check(t, ph.pk, &trust), 0);
  assert_int_equal(trust, KITH_TRUST_PEER);
  kith_txn_abort(t);

  t = kt_begin(lap.s.st, true);
  assert_rc(kith_key_owner(t, KITH_KIND_DEVICE, ph.pk, dev_id), 0);
  assert_rc(kith_device_revoke(t, dev_id), 0);
  kt_commit(t);
  add_contact(&lap, "After revocation", NULL, a);
  t = kt_begin(lap.s.st, true);
  assert_rc(kith_share(t, a, bea_id, out), 0);
  kt_commit(t);
  struct run r = sync_run(&ph, &lap, -1);
  assert_rc(r.d.error, KITH_EREFUSED);
  assert_int_equal(r.d.refused, KITH_REFUSE_REVOKED);
  sync_ok(&bea, &lap); /* the revocation reaches Bea through the roster */
  t = kt_begin(bea.s.st, false);
  assert_rc(kith_trust_check(t, ph.pk, &trust), 0);
  assert_int_equal(trust, KITH_TRUST_REVOKED);
  kith_txn_abort(t);
  r = sync_run(&ph, &bea, -1);
  assert_rc(r.d.error, KITH_EREFUSED);
  struct scan sc = scan(&ph, a);
  assert_int_equal(sc.forbidden, 0);
  dev_free(&lap);
  dev_free(&ph);
  dev_free(&bea);
}

/* ---- the engine fed by hand: forged, reordered, out-of-space batches ---------- */

struct feeder {
  kith_sync *s;
  struct kith_sync_hello hello[4];
};

static int feed(kith_sync *s, const struct kith_smsg *m)
{
  uint8_t buf[KITH_NOISE_MAX_PAYLOAD];
  size_t len;
  struct kith_msg msg;
  assert_rc(kith_smsg_encode(m, buf, sizeof buf, &len), 0);
  assert_rc(kith_msg_decode(buf, len, &msg), 0);
  return kith_sync_recv(s, &msg);
}

static void drain(kith_sync *s)
{
  uint8_t buf[KITH_NOISE_MAX_PAYLOAD];
  size_t len;
  for (int i = 0; i < 100; i++) {
    assert_rc(kith_sync_next(s, buf, sizeof buf, &len), 0);
    if (!len)
      break;
  }
}

/* One record of n registers (sorted), encoded as a batch's bytes. */
static size_t one_rec(const struct kith_reg *r, size_t n, uint8_t *out)
{
  uint8_t *b = NULL;
  size_t len = 0;
  assert_rc(kith_rec_wire_encode(r, n, &b, &len), 0);
  out[0] = out[1] = 0, out[2] = (uint8_t)(len >> 8), out[3] = (uint8_t)len;
  memcpy(out + 4, b, len);
  free(b);
  return len + 4;
}

/* Ada's laptop accepts a sync from Bea, who then sends batch bytes for their
 * partnership; returns what kith_sync_recv said of the END. */
static int bea_sends(struct dev *ada, struct dev *bea, const uint8_t gid[16],
                     const uint8_t *bytes, size_t n, uint64_t from, uint64_t to,
                     char why[256])
{
  kith_sync *s = NULL;
  struct kith_identity bi;
  kith_txn *t = kt_begin(bea->s.st, false);
  assert_rc(kith_txn_identity(t, &bi), 0);
  kith_txn_abort(t);
  assert_rc(kith_sync_new(ada->s.st, bea->pk, false, kt_clock, &s), 0);
  struct kith_sync_hello h = {0};
  memcpy(h.space, gid, 16);
  memcpy(h.epoch, bi.epoch, 16);
  h.max = to;
  struct kith_smsg m = {.type = KITH_SYNC_HELLO, .round = 1, .nhello = 1, .hello = &h};
  assert_rc(feed(s, &m), 0);
  drain(s);
  struct kith_smsg regs = {.type = KITH_SYNC_REGS, .chunk = bytes, .chunk_len = n};
  memcpy(regs.space, gid, 16);
  int rc = feed(s, &regs);
  if (rc == 0) {
    struct kith_smsg end = {
        .type = KITH_SYNC_END, .from = from, .to = to, .records = 1};
    memcpy(end.space, gid, 16);
    memcpy(end.epoch, bi.epoch, 16);
    rc = feed(s, &end);
  }
  if (rc == 0) { /* DONE: the receiver applies what it holds pending */
    struct kith_smsg done = {.type = KITH_SYNC_DONE, .status = KITH_SYNC_DONE_ALL};
    memcpy(done.space, gid, 16);
    rc = feed(s, &done);
  }
  snprintf(why, 256, "%s", kith_sync_why(s));
  kith_sync_free(s);
  return rc;
}

static void test_bad_batches_rejected_whole(void **state)
{
  (void)state;
  struct dev ada, bea;
  uint8_t bea_id[16], ada_id[16], gid[16], mine[16], before[32], after[32];
  uint8_t bytes[4096];
  char why[256];
  dev_new(&ada, "Ada", "laptop");
  dev_new(&bea, "Bea", "laptop");
  partner(&ada, "Ada", &bea, "Bea", bea_id, ada_id);
  add_contact(&ada, "Private Person", "private", mine);
  kith_txn *t = kt_begin(ada.s.st, false);
  assert_rc(kith_peer_space(t, bea_id, gid), 0);
  kith_txn_abort(t);
  digest(&ada, before);

  /* a new card, and a private field on it: out of space, the whole batch refused */
  struct kith_reg card = {0}, tag = {0};
  const char *k = "contact", *tg = "injected";
  randombytes_buf(card.ent, 16);
  card.field = KITH_F_KIND;
  card.stamp.hlc = kt_now_ms << 16;
  memset(card.stamp.dev, 7, 16);
  card.val = kith_value_new(1, &k);
  tag = card;
  tag.field = KITH_F_TAGS;
  tag.has_elem = true;
  randombytes_buf(tag.elem, 16);
  tag.val = kith_value_new(1, &tg);
  struct kith_reg both[2] = {card, tag};
  size_t n = one_rec(both, 2, bytes);
  assert_rc(bea_sends(&ada, &bea, gid, bytes, n, 0, 5, why), KITH_EPROTO);
  assert_non_null(strstr(why, "private"));
  digest(&ada, after);
  assert_bytes_equal(before, 32, after, 32); /* nothing of it applied */

  /* a record of Ada's own self space, named by a partner: skipped, not leaked */
  struct kith_reg probe = card;
  memcpy(probe.ent, mine, 16);
  probe.field = KITH_F_ORG;
  probe.val = tag.val;
  n = one_rec(&probe, 1, bytes);
  assert_rc(bea_sends(&ada, &bea, gid, bytes, n, 0, 5, why), 0);
  kith_txn *ta = kt_begin(ada.s.st, false);
  uint32_t sp;
  assert_rc(kith_card_space(ta, mine, &sp), 0);
  assert_int_equal(sp, KITH_SPACE_SELF);
  kith_txn_abort(ta);

  /* out of order: a batch that does not start where the last one ended */
  n = one_rec(&card, 1, bytes);
  assert_rc(bea_sends(&ada, &bea, gid, bytes, n, 9, 12, why), KITH_EPROTO);
  assert_non_null(strstr(why, "out of order"));

  /* a space Bea does not share with Ada: self */
  assert_rc(bea_sends(&ada, &bea, kith_gid_self, bytes, n, 0, 1, why), KITH_EPROTO);

  /* a malformed register inside */
  bytes[4] ^= 0xff; /* the record's array header */
  assert_rc(bea_sends(&ada, &bea, gid, bytes, n, 5, 6, why), KITH_EBADMSG);
  kith_value_free(card.val);
  kith_value_free(tag.val);
  dev_free(&ada);
  dev_free(&bea);
}

static void test_batch_twice_changes_nothing(void **state)
{
  (void)state;
  struct dev lap, ph;
  uint8_t a[16], d1[32], d2[32];
  dev_new(&lap, "Ada", "laptop");
  dev_new(&ph, "Ada", "phone");
  link_devices(&lap, &ph);
  add_contact(&lap, "Grace", "x", a);
  sync_ok(&ph, &lap);
  digest(&ph, d1);
  /* forget every position: the same batches arrive again */
  kith_txn *t = kt_begin(ph.s.st, true);
  uint8_t key[2 + 32 + 16];
  memcpy(key, "rx", 2);
  memcpy(key + 2, lap.pk, 32);
  memset(key + 34, 0, 16);
  assert_rc(kith_local_del(t, key, sizeof key), 0);
  kt_commit(t);
  t = kt_begin(lap.s.st, true); /* and what the laptop knows the phone holds */
  memcpy(key, "tx", 2);
  memcpy(key + 2, ph.pk, 32);
  assert_rc(kith_local_del(t, key, sizeof key), 0);
  kt_commit(t);
  struct run r = sync_ok(&ph, &lap);
  assert_true(r.sd.received > 0);
  assert_int_equal(r.sd.changed, 0);
  digest(&ph, d2);
  assert_bytes_equal(d1, 32, d2, 32);
  dev_free(&lap);
  dev_free(&ph);
}

static void test_new_device_gets_partnerships(void **state)
{
  (void)state;
  struct dev lap, ph, bea;
  uint8_t a[16], bea_id[16], ada_id[16], out[16], d1[32], d2[32];
  char buf[256];
  dev_new(&lap, "Ada", "laptop");
  dev_new(&bea, "Bea", "laptop");
  partner(&lap, "Ada", &bea, "Bea", bea_id, ada_id);
  add_contact(&lap, "Grace", "x", a);
  kith_txn *t = kt_begin(lap.s.st, true);
  assert_rc(kith_share(t, a, bea_id, out), 0);
  kt_commit(t);
  dev_new(&ph, "Ada", "phone"); /* joins later: learns the partnership from self */
  link_devices(&lap, &ph);
  struct run r = sync_ok(&ph, &lap);
  assert_int_equal(r.sd.rounds, 2);
  assert_string_equal(get_text(&ph, a, KITH_F_NAME, buf), "Grace");
  digest(&lap, d1);
  digest(&ph, d2);
  assert_bytes_equal(d1, 32, d2, 32);
  struct kith_sync_status st;
  t = kt_begin(ph.s.st, false);
  assert_rc(kith_sync_status(t, lap.pk, &st), 0);
  kith_txn_abort(t);
  assert_true(st.last_ms > 0);
  assert_int_equal(st.they_lack, 0);
  assert_int_equal(st.i_lack, 0);
  add_contact(&ph, "New on phone", NULL, a);
  t = kt_begin(ph.s.st, false);
  assert_rc(kith_sync_status(t, lap.pk, &st), 0);
  kith_txn_abort(t);
  assert_int_equal(st.they_lack, 1);
  dev_free(&lap);
  dev_free(&ph);
  dev_free(&bea);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_devices_converge),
      cmocka_unit_test(test_overwritten_twice_converges),
      cmocka_unit_test(test_partner_gets_only_shared_cards),
      cmocka_unit_test(test_two_partnerships_leak_nothing),
      cmocka_unit_test(test_interrupted_sync_resumes),
      cmocka_unit_test(test_restored_copy_syncs),
      cmocka_unit_test(test_revoked_device_gets_nothing),
      cmocka_unit_test(test_bad_batches_rejected_whole),
      cmocka_unit_test(test_batch_twice_changes_nothing),
      cmocka_unit_test(test_new_device_gets_partnerships),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
