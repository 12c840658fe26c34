/*
 * test_post.c — core/post.h: sync in one direction, stores in one process and
 * envelopes handed over by hand (as a relay or a file would). Ada's laptop and
 * phone, her partner Bea. Convergence by posts alone; no empty ping-pong; lost,
 * repeated and reordered envelopes; bundles; what a stranger, a thief and a
 * revoked device get.
 */
#include "kt_devices.h"

#include "core/post.h"
#include "core/relays.h"

#define MAX_ENV 64

struct mail {
  size_t n;
  uint8_t *env[MAX_ENV];
  size_t len[MAX_ENV];
  uint64_t num[MAX_ENV];
  uint8_t box[KITH_BOX_LEN];
};

static void mail_free(struct mail *m)
{
  for (size_t i = 0; i < m->n; i++)
    free(m->env[i]);
  m->n = 0;
}

/* Everything from posts to `to` now, delivered (commit) unless keep is false. */
static struct mail post(struct dev *from, struct dev *to, enum kith_post_mode mode,
                        bool commit)
{
  struct mail m = {0};
  kith_poster *p = NULL;
  assert_rc(kith_poster_new(from->s.st, to->pk, mode, kt_clock(), &p), 0);
  memcpy(m.box, kith_poster_box(p), KITH_BOX_LEN);
  for (;;) {
    uint8_t *env = NULL;
    size_t len = 0;
    uint64_t n = 0;
    int rc = kith_poster_next(p, &env, &len, &n);
    if (rc)
      fail_msg("poster: %s (%s)", kith_strerror(rc), kith_poster_why(p));
    if (!env)
      break;
    assert_true(m.n < MAX_ENV);
    assert_true(len <= KITH_ENVELOPE_MAX);
    m.env[m.n] = env, m.len[m.n] = len, m.num[m.n] = n;
    if (m.n)
      assert_true(n == m.num[m.n - 1] + 1);
    m.n++;
  }
  if (commit && m.n)
    assert_rc(kith_poster_commit(p, m.num[m.n - 1]), 0);
  kith_poster_free(p);
  return m;
}

static int take(struct dev *to, const struct mail *m, size_t i,
                struct kith_inbox_result *res)
{
  kith_inbox *ib = NULL;
  struct kith_inbox_result r;
  assert_rc(kith_inbox_new(to->s.st, kt_clock, &ib), 0);
  int rc = kith_inbox_take(ib, m->box, m->env[i], m->len[i], res ? res : &r);
  kith_inbox_free(ib);
  return rc;
}

static void take_all(struct dev *to, const struct mail *m)
{
  for (size_t i = 0; i < m->n; i++)
    assert_rc(take(to, m, i, NULL), 0);
}

/* from posts to `to` and back, until neither has anything to post. Returns the
 * envelopes that moved. */
static size_t converge(struct dev *a, struct dev *b)
{
  size_t moved = 0;
  for (int round = 0; round < 8; round++) {
    struct mail ab = post(a, b, KITH_POST_RELAY, true);
    take_all(b, &ab);
    struct mail ba = post(b, a, KITH_POST_RELAY, true);
    take_all(a, &ba);
    size_t n = ab.n + ba.n;
    mail_free(&ab);
    mail_free(&ba);
    moved += n;
    if (n == 0)
      return moved;
  }
  fail_msg("posts did not settle in 8 rounds");
  return moved;
}

static void assert_same(struct dev *a, struct dev *b)
{
  uint8_t da[32], db[32];
  digest(a, da);
  digest(b, db);
  assert_memory_equal(da, db, 32);
}

static void test_devices_converge(void **state)
{
  (void)state;
  struct dev lap, ph;
  uint8_t a[16], b[16];
  char buf[256];
  dev_new(&lap, "Ada", "laptop");
  dev_new(&ph, "Ada", "phone");
  link_devices(&lap, &ph);
  add_contact(&lap, "Grace Hopper", "mentor", a);
  add_contact(&ph, "Alan Turing", NULL, b);

  struct mail m = post(&lap, &ph, KITH_POST_RELAY, true);
  assert_int_equal(m.n, 1);
  assert_int_equal(m.num[0], 1);
  struct kith_inbox_result r;
  assert_rc(take(&ph, &m, 0, &r), 0);
  assert_memory_equal(r.from, lap.pk, 32);
  assert_true(r.records >= 1);
  mail_free(&m);
  assert_string_equal(get_text(&ph, a, KITH_F_NAME, buf), "Grace Hopper");

  /* The phone owes an acknowledgement and has its own contact to send. */
  m = post(&ph, &lap, KITH_POST_RELAY, true);
  assert_int_equal(m.n, 1);
  take_all(&lap, &m);
  mail_free(&m);
  assert_string_equal(get_text(&lap, b, KITH_F_NAME, buf), "Alan Turing");
  /* The laptop owes the phone an acknowledgement of that; then both are quiet. */
  m = post(&lap, &ph, KITH_POST_RELAY, true);
  assert_int_equal(m.n, 1);
  take_all(&ph, &m);
  mail_free(&m);
  m = post(&ph, &lap, KITH_POST_RELAY, true);
  assert_int_equal(m.n, 0); /* an acknowledgement-only post owes nothing back */
  m = post(&lap, &ph, KITH_POST_RELAY, true);
  assert_int_equal(m.n, 0);
  assert_same(&lap, &ph);

  /* What each knows of the other: nothing lacking either way. */
  kith_txn *t = kt_begin(lap.s.st, false);
  struct kith_sync_status st;
  assert_rc(kith_sync_status(t, ph.pk, &st), 0);
  assert_int_equal(st.they_lack, 0);
  assert_int_equal(st.i_lack, 0);
  assert_true(st.last_ms != 0);
  kith_txn_abort(t);

  /* An edit travels alone: a delta is one small envelope. */
  set_text(&ph, a, KITH_F_ORG, "US Navy");
  m = post(&ph, &lap, KITH_POST_RELAY, true);
  assert_int_equal(m.n, 1);
  assert_int_equal(m.len[0], kith_envelope_size(0)); /* the smallest bucket */
  take_all(&lap, &m);
  mail_free(&m);
  assert_string_equal(get_text(&lap, a, KITH_F_ORG, buf), "US Navy");
  converge(&lap, &ph);
  assert_same(&lap, &ph);
  dev_free(&lap);
  dev_free(&ph);
}

/* Posting again before any answer sends nothing twice (relay mode); a bundle
 * carries everything not acknowledged. */
static void test_relay_vs_bundle(void **state)
{
  (void)state;
  struct dev lap, ph;
  uint8_t a[16], b[16];
  dev_new(&lap, "Ada", "laptop");
  dev_new(&ph, "Ada", "phone");
  link_devices(&lap, &ph);
  add_contact(&lap, "One", NULL, a);
  struct mail m1 = post(&lap, &ph, KITH_POST_RELAY, true);
  assert_int_equal(m1.n, 1);
  struct mail m2 = post(&lap, &ph, KITH_POST_RELAY, true);
  assert_int_equal(m2.n, 0); /* in flight already */
  add_contact(&lap, "Two", NULL, b);
  m2 = post(&lap, &ph, KITH_POST_RELAY, true);
  assert_int_equal(m2.n, 1);
  assert_int_equal(m2.num[0], 2);
  struct mail bun = post(&lap, &ph, KITH_POST_BUNDLE, true);
  assert_int_equal(bun.n, 1);
  assert_int_equal(bun.num[0], 3);
  /* The bundle alone brings both. */
  take_all(&ph, &bun);
  char buf[256];
  assert_string_equal(get_text(&ph, a, KITH_F_NAME, buf), "One");
  assert_string_equal(get_text(&ph, b, KITH_F_NAME, buf), "Two");
  /* The relay's copies arrive later: nothing changes. */
  uint8_t before[32], after[32];
  digest(&ph, before);
  take_all(&ph, &m1);
  take_all(&ph, &m2);
  take_all(&ph, &bun); /* replayed */
  digest(&ph, after);
  assert_memory_equal(before, after, 32);
  mail_free(&m1);
  mail_free(&m2);
  mail_free(&bun);
  converge(&lap, &ph);
  assert_same(&lap, &ph);
  dev_free(&lap);
  dev_free(&ph);
}

/* An envelope lost on the way: the next one is applied past the gap, the phone's
 * answer shows it saw everything and is still behind, and the laptop sends the
 * missing range again. */
static void test_lost_envelope(void **state)
{
  (void)state;
  struct dev lap, ph;
  uint8_t a[16], b[16];
  char buf[256];
  dev_new(&lap, "Ada", "laptop");
  dev_new(&ph, "Ada", "phone");
  link_devices(&lap, &ph);
  add_contact(&lap, "Lost", NULL, a);
  struct mail m1 = post(&lap, &ph, KITH_POST_RELAY, true); /* never arrives */
  add_contact(&lap, "Arrives", NULL, b);
  struct mail m2 = post(&lap, &ph, KITH_POST_RELAY, true);
  assert_int_equal(m2.n, 1);
  take_all(&ph, &m2);
  assert_string_equal(get_text(&ph, b, KITH_F_NAME, buf), "Arrives");
  assert_null(get_text(&ph, a, KITH_F_NAME, buf));
  struct mail back = post(&ph, &lap, KITH_POST_RELAY, true); /* seen 2, still at 0 */
  assert_int_equal(back.n, 1);
  take_all(&lap, &back);
  struct mail again = post(&lap, &ph, KITH_POST_RELAY, true);
  assert_int_equal(again.n, 1);
  take_all(&ph, &again);
  assert_string_equal(get_text(&ph, a, KITH_F_NAME, buf), "Lost");
  /* The lost one turning up late changes nothing. */
  uint8_t before[32], after[32];
  digest(&ph, before);
  take_all(&ph, &m1);
  digest(&ph, after);
  assert_memory_equal(before, after, 32);
  mail_free(&m1);
  mail_free(&m2);
  mail_free(&back);
  mail_free(&again);
  converge(&lap, &ph);
  assert_same(&lap, &ph);
  /* The phone's position reached the laptop's whole log (no range left over). */
  kith_txn *t = kt_begin(ph.s.st, false);
  struct kith_sync_status st;
  assert_rc(kith_sync_status(t, lap.pk, &st), 0);
  assert_int_equal(st.i_lack, 0);
  kith_txn_abort(t);
  dev_free(&lap);
  dev_free(&ph);
}

/* Envelopes taken out of order (two relays): the gap closes without a resend. */
static void test_reordered(void **state)
{
  (void)state;
  struct dev lap, ph;
  uint8_t id[16];
  dev_new(&lap, "Ada", "laptop");
  dev_new(&ph, "Ada", "phone");
  link_devices(&lap, &ph);
  struct mail m[4];
  for (int i = 0; i < 4; i++) {
    char name[32];
    snprintf(name, sizeof name, "Person %d", i);
    add_contact(&lap, name, NULL, id);
    m[i] = post(&lap, &ph, KITH_POST_RELAY, true);
    assert_int_equal(m[i].n, 1);
  }
  take_all(&ph, &m[3]);
  take_all(&ph, &m[1]);
  take_all(&ph, &m[2]);
  take_all(&ph, &m[0]);
  kith_txn *t = kt_begin(ph.s.st, false);
  struct kith_sync_status st;
  assert_rc(kith_sync_status(t, lap.pk, &st), 0);
  kith_txn_abort(t);
  struct mail back = post(&ph, &lap, KITH_POST_RELAY, true);
  take_all(&lap, &back);
  struct mail more = post(&lap, &ph, KITH_POST_RELAY, true);
  for (size_t i = 0; i < more.n; i++) { /* at most the acknowledgement it owes */
    struct kith_inbox_result r;
    assert_rc(take(&ph, &more, i, &r), 0);
    assert_int_equal(r.records, 0); /* nothing resent (a batch may move the
                                     * position over what the phone sent) */
  }
  t = kt_begin(ph.s.st, false);
  assert_rc(kith_sync_status(t, lap.pk, &st), 0);
  assert_int_equal(st.i_lack, 0); /* the gaps closed: its whole log */
  kith_txn_abort(t);
  for (int i = 0; i < 4; i++)
    mail_free(&m[i]);
  mail_free(&back);
  mail_free(&more);
  converge(&lap, &ph);
  assert_same(&lap, &ph);
  dev_free(&lap);
  dev_free(&ph);
}

/* A partner gets the shared card only; private fields and the rest never. */
static void test_partner(void **state)
{
  (void)state;
  struct dev lap, bea;
  uint8_t a[16], b[16], bea_id[16], ada_id[16], out[16];
  char buf[256];
  dev_new(&lap, "Ada", "laptop");
  dev_new(&bea, "Bea", "laptop");
  partner(&lap, "Ada", &bea, "Bea", bea_id, ada_id);
  add_contact(&lap, "Grace Hopper", "mentor", a);
  add_contact(&lap, "Secret Person", "private", b);
  kith_txn *t = kt_begin(lap.s.st, true);
  assert_rc(kith_share(t, a, bea_id, out), 0);
  kt_commit(t);
  converge(&lap, &bea);
  assert_string_equal(get_text(&bea, a, KITH_F_NAME, buf), "Grace Hopper");
  struct scan sc = scan(&bea, b);
  assert_int_equal(sc.forbidden, 0);
  assert_int_equal(sc.private_regs, 0);
  assert_int_equal(sc.contacts, 1);
  /* Bea's edit comes back. */
  set_text(&bea, a, KITH_F_TITLE, "Rear Admiral");
  converge(&lap, &bea);
  assert_string_equal(get_text(&lap, a, KITH_F_TITLE, buf), "Rear Admiral");
  dev_free(&lap);
  dev_free(&bea);
}

/* A stranger can't open or place an envelope; a thief's edit fails; a revoked
 * device's post is refused; none of it changes the store. */
static void test_refusals(void **state)
{
  (void)state;
  struct dev lap, ph, bea, eve;
  uint8_t a[16], bea_id[16], ada_id[16], dev_id[16], before[32], after[32];
  dev_new(&lap, "Ada", "laptop");
  dev_new(&ph, "Ada", "phone");
  dev_new(&bea, "Bea", "laptop");
  dev_new(&eve, "Eve", "laptop");
  link_devices(&lap, &ph);
  partner(&lap, "Ada", &bea, "Bea", bea_id, ada_id);
  add_contact(&lap, "Grace Hopper", NULL, a);
  struct mail m = post(&lap, &ph, KITH_POST_RELAY, true);
  assert_int_equal(m.n, 1);

  /* For the phone, taken by Bea or Eve: no device of theirs writes to that box. */
  digest(&bea, before);
  assert_rc(take(&bea, &m, 0, NULL), KITH_ENOTFOUND);
  assert_rc(take(&eve, &m, 0, NULL), KITH_ENOTFOUND);
  digest(&bea, after);
  assert_memory_equal(before, after, 32);

  /* Tampered: any byte. */
  digest(&ph, before);
  for (size_t i = 0; i < m.len[0]; i += 61) {
    m.env[0][i] ^= 1;
    assert_rc(take(&ph, &m, 0, NULL), KITH_EBADMSG);
    m.env[0][i] ^= 1;
  }
  /* Eve posting to the phone as herself: the phone does not know her box. */
  kith_poster *p = NULL;
  assert_rc(kith_poster_new(eve.s.st, ph.pk, KITH_POST_RELAY, kt_clock(), &p),
            KITH_EREFUSED);
  assert_null(p);
  digest(&ph, after);
  assert_memory_equal(before, after, 32);
  assert_rc(take(&ph, &m, 0, NULL), 0);

  /* The phone revoked: its posts are refused by the laptop. */
  add_contact(&ph, "From a lost phone", NULL, a);
  struct mail late = post(&ph, &lap, KITH_POST_RELAY, true);
  assert_int_equal(late.n, 1);
  kith_txn *t = kt_begin(lap.s.st, true);
  assert_rc(kith_key_owner(t, KITH_KIND_DEVICE, ph.pk, dev_id), 0);
  assert_rc(kith_device_revoke(t, dev_id), 0);
  kt_commit(t);
  digest(&lap, before);
  int rc = take(&lap, &late, 0, NULL);
  assert_true(rc == KITH_ENOTFOUND || rc == KITH_EREFUSED);
  digest(&lap, after);
  assert_memory_equal(before, after, 32);
  mail_free(&m);
  mail_free(&late);
  dev_free(&lap);
  dev_free(&ph);
  dev_free(&bea);
  dev_free(&eve);
}

/* An initial sync larger than one envelope: several, each whole. */
static void test_many_envelopes(void **state)
{
  (void)state;
  struct dev lap, ph;
  uint8_t id[16];
  dev_new(&lap, "Ada", "laptop");
  dev_new(&ph, "Ada", "phone");
  link_devices(&lap, &ph);
  kith_txn *t = kt_begin(lap.s.st, true);
  char note[2000];
  memset(note, 'x', sizeof note - 1);
  note[sizeof note - 1] = 0;
  const char *p = note;
  struct kith_value *v = kith_value_new(1, &p);
  for (int i = 0; i < 1500; i++) { /* about 3 MB */
    assert_rc(kith_record_create(t, KITH_KIND_CONTACT, false, id), 0);
    assert_rc(kith_field_set(t, id, kith_field_by_id(KITH_F_MET_AT), v), 0);
  }
  kith_value_free(v);
  kt_commit(t);
  struct mail m = post(&lap, &ph, KITH_POST_RELAY, true);
  assert_true(m.n >= 3);
  for (size_t i = 0; i + 1 < m.n; i++) /* full ones: the largest bucket */
    assert_int_equal(m.len[i], kith_envelope_size(KITH_ENVELOPE_POST_MAX));
  take_all(&ph, &m);
  mail_free(&m);
  converge(&lap, &ph);
  assert_same(&lap, &ph);
  dev_free(&lap);
  dev_free(&ph);
}

static struct kith_relay_list relays_of(struct dev *d, struct dev *of)
{
  struct kith_relay_list l;
  kith_txn *t = kt_begin(d->s.st, false);
  assert_rc(kith_relays_of(t, of->pk, &l), 0);
  kith_txn_abort(t);
  return l;
}

static void relay_edit(struct dev *d, const char *addr, bool add)
{
  kith_txn *t = kt_begin(d->s.st, true);
  assert_rc(add ? kith_relay_add(t, addr) : kith_relay_remove(t, addr), 0);
  kt_commit(t);
}

/* Relay lists reach my devices through self and my partners through our roster;
 * each side sees only the other user's relays as where to deposit for them. */
static void test_relay_lists(void **state)
{
  (void)state;
  struct dev lap, ph, bea;
  uint8_t bea_id[16], ada_id[16];
  dev_new(&lap, "Ada", "laptop");
  dev_new(&ph, "Ada", "phone");
  dev_new(&bea, "Bea", "laptop");
  link_devices(&lap, &ph);
  partner(&lap, "Ada", &bea, "Bea", bea_id, ada_id);
  relay_edit(&lap, "192.0.2.1:7000", true);
  relay_edit(&lap, "192.0.2.2:7000", true);
  relay_edit(&bea, "192.0.2.2:7000", true); /* both use one relay */
  relay_edit(&bea, "198.51.100.9:443", true);
  kith_txn *t = kt_begin(lap.s.st, true);
  assert_rc(kith_relay_add(t, "192.0.2.1:7000"), 0); /* again: no-op */
  assert_rc(kith_relay_remove(t, "203.0.113.1:1"), KITH_ENOTFOUND);
  assert_rc(kith_relay_add(t, ""), KITH_EINVAL);
  kt_commit(t);
  converge(&lap, &ph);
  converge(&lap, &bea);
  struct kith_relay_list l = relays_of(&ph, &lap); /* my own devices: my list */
  assert_int_equal(l.n, 2);
  assert_string_equal(l.addr[0], "192.0.2.1:7000");
  assert_string_equal(l.addr[1], "192.0.2.2:7000");
  l = relays_of(&bea, &lap); /* Bea deposits for Ada at Ada's */
  assert_int_equal(l.n, 2);
  assert_string_equal(l.addr[0], "192.0.2.1:7000");
  l = relays_of(&lap, &bea); /* and Ada for Bea at Bea's */
  assert_int_equal(l.n, 2);
  assert_string_equal(l.addr[0], "192.0.2.2:7000");
  assert_string_equal(l.addr[1], "198.51.100.9:443");
  /* The phone drops a relay; it reaches the laptop, then Bea. */
  relay_edit(&ph, "192.0.2.1:7000", false);
  converge(&ph, &lap);
  converge(&lap, &bea);
  l = relays_of(&bea, &lap);
  assert_int_equal(l.n, 1);
  assert_string_equal(l.addr[0], "192.0.2.2:7000");
  l = relays_of(&lap, &bea); /* Bea's own list untouched */
  assert_int_equal(l.n, 2);
  /* A stranger's relays: none. */
  struct dev eve;
  dev_new(&eve, "Eve", "laptop");
  l = relays_of(&lap, &eve);
  assert_int_equal(l.n, 0);
  dev_free(&eve);
  dev_free(&lap);
  dev_free(&ph);
  dev_free(&bea);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_devices_converge), cmocka_unit_test(test_relay_vs_bundle),
      cmocka_unit_test(test_lost_envelope),    cmocka_unit_test(test_reordered),
      cmocka_unit_test(test_partner),          cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_many_envelopes),   cmocka_unit_test(test_relay_lists),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
