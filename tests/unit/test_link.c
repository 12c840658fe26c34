/*
 * test_link.c — core/link.h: the IK sync link between two stores, through two
 * sessions wired back to back in one process (no sockets). A partner and one of my
 * devices get in; a revoked device, a stranger and a removed partner are refused
 * with the right code on both sides; a dialer that has the wrong key for the
 * acceptor gets nothing; a changed byte anywhere never ends in DONE.
 */
#include "kith_test.h"

#include <sodium.h>

#include "core/link.h"
#include "core/peer.h"

static uint64_t clock_fn(void)
{
  return kt_now_ms;
}

/* The shared pump (kith_test.h) over links, without a budget. */
static struct kt_flow pump(void *a, void *b, size_t chunk, long flip_ab, long flip_ba)
{
  return kt_pump(&kith_link_vt, a, b, chunk, flip_ab, flip_ba, -1, 1000);
}

struct side {
  struct kt_store s;
  uint8_t pk[32];
  kith_link *l;
  struct kith_link_result r;
};

static void new_side(struct side *s, const char *name, const char *label)
{
  struct kith_identity me;
  memset(s, 0, sizeof *s);
  kt_tmpdir(s->s.dir);
  snprintf(s->s.home, sizeof s->s.home, "%s/home", s->s.dir);
  assert_rc(kith_store_init(s->s.home, name, label, &kt_opts, &s->s.st), 0);
  kith_txn *t = kt_begin(s->s.st, false);
  assert_rc(kith_txn_identity(t, &me), 0);
  kith_txn_abort(t);
  memcpy(s->pk, me.pk, 32);
}

/* a records b as a partner (name) or, with name NULL, as one of its devices. */
static void knows(struct side *a, const struct side *b, const char *name)
{
  uint8_t id[16];
  kith_txn *t = kt_begin(a->s.st, true);
  if (name)
    assert_rc(kith_peer_add(t, name, b->pk, "laptop", NULL, id), 0);
  else
    assert_rc(kith_device_add(t, "second", b->pk, id), 0);
  kt_commit(t);
}

/* dialer dials the key `to` (acceptor's own, unless a test lies) and the acceptor
 * answers; results land in each side. */
static struct kt_flow link_run(struct side *dialer, const uint8_t to[32],
                               struct side *acceptor, size_t chunk, long flip_ab,
                               long flip_ba)
{
  assert_rc(kith_link_dial_new(dialer->s.st, to, clock_fn, &dialer->l), 0);
  assert_rc(kith_link_accept_new(acceptor->s.st, clock_fn, &acceptor->l), 0);
  struct kt_flow f = pump(dialer->l, acceptor->l, chunk, flip_ab, flip_ba);
  kith_link_result(dialer->l, &dialer->r);
  kith_link_result(acceptor->l, &acceptor->r);
  kith_link_free(dialer->l);
  kith_link_free(acceptor->l);
  dialer->l = acceptor->l = NULL;
  return f;
}

static void digest(struct side *s, uint8_t out[32])
{
  kith_txn *t = kt_begin(s->s.st, false);
  assert_rc(kith_store_digest(t, out), 0);
  kith_txn_abort(t);
}

static void expect_done(const struct side *s)
{
  if (s->r.error)
    fail_msg("%s side: error %d (%s): %s", s->r.dialer ? "dialer" : "acceptor",
             s->r.error, kith_strerror(s->r.error), s->r.why);
  assert_true(s->r.established);
  assert_int_equal(s->r.refused, 0);
}

static void test_link_partner(void **state)
{
  (void)state;
  struct side a, b;
  new_side(&a, "Ana", "laptop"), new_side(&b, "Bea", "phone");
  knows(&a, &b, "Bea"), knows(&b, &a, "Ana");
  uint8_t before[32], after[32];
  digest(&a, before);
  for (size_t chunk = 0; chunk <= 1; chunk++) { /* all at once, then byte by byte */
    link_run(&b, a.pk, &a, chunk, -1, -1);
    expect_done(&a), expect_done(&b);
    assert_true(b.r.dialer && !a.r.dialer);
    assert_true(a.r.remote_known && b.r.remote_known);
    assert_memory_equal(a.r.remote_pk, b.pk, 32);
    assert_memory_equal(b.r.remote_pk, a.pk, 32);
    assert_int_equal(a.r.trust, KITH_TRUST_PEER);
    assert_int_equal(b.r.trust, KITH_TRUST_PEER);
    assert_string_equal(a.r.remote_name, "Bea");
    assert_string_equal(b.r.remote_name, "Ana");
  }
  digest(&a, after);
  assert_memory_equal(before, after, 32); /* a link writes nothing */
  kt_store_free(&a.s), kt_store_free(&b.s);
}

static void test_link_own_device(void **state)
{
  (void)state;
  struct side a, d;
  new_side(&a, "Ana", "laptop"), new_side(&d, "Ana", "phone");
  knows(&a, &d, NULL), knows(&d, &a, NULL);
  link_run(&d, a.pk, &a, 0, -1, -1);
  expect_done(&a), expect_done(&d);
  assert_int_equal(a.r.trust, KITH_TRUST_DEVICE);
  assert_string_equal(a.r.remote_name, "second");
  /* and the other way round */
  link_run(&a, d.pk, &d, 0, -1, -1);
  expect_done(&a), expect_done(&d);
  assert_int_equal(d.r.trust, KITH_TRUST_DEVICE);
  kt_store_free(&a.s), kt_store_free(&d.s);
}

static void test_link_revoked(void **state)
{
  (void)state;
  struct side a, d;
  uint8_t id[16];
  new_side(&a, "Ana", "laptop"), new_side(&d, "Ana", "phone");
  knows(&a, &d, NULL), knows(&d, &a, NULL);
  kith_txn *t = kt_begin(a.s.st, true);
  assert_rc(kith_key_owner(t, KITH_KIND_DEVICE, d.pk, id), 0);
  assert_rc(kith_device_revoke(t, id), 0);
  kt_commit(t);

  link_run(&d, a.pk, &a, 0, -1, -1);
  assert_rc(a.r.error, KITH_EREFUSED);
  assert_rc(d.r.error, KITH_EREFUSED);
  assert_int_equal(a.r.refused, KITH_REFUSE_REVOKED);
  assert_int_equal(d.r.refused, KITH_REFUSE_REVOKED);
  assert_string_equal(d.r.refused_text, kith_refuse_text(KITH_REFUSE_REVOKED));
  assert_int_equal(a.r.trust, KITH_TRUST_REVOKED);
  assert_memory_equal(a.r.remote_pk, d.pk, 32);
  assert_true(d.r.established); /* the refusal came encrypted, after message 2 */

  /* and A never dials the revoked device */
  kith_link *l = NULL;
  assert_rc(kith_link_dial_new(a.s.st, d.pk, clock_fn, &l), KITH_EINVAL);
  assert_null(l);
  kt_store_free(&a.s), kt_store_free(&d.s);
}

/* 20 strangers, each with a fresh key and A's key in hand: each is refused. */
static void test_link_stranger(void **state)
{
  (void)state;
  struct side a, x;
  int refused = 0;
  new_side(&a, "Ana", "laptop");
  for (int i = 0; i < 20; i++) {
    new_side(&x, "Xavier", "laptop");
    knows(&x, &a, "Ana"); /* x learnt Ana's key somehow; Ana never paired with x */
    struct kt_flow f = link_run(&x, a.pk, &a, 0, -1, -1);
    assert_rc(x.r.error, KITH_EREFUSED);
    assert_rc(a.r.error, KITH_EREFUSED);
    assert_int_equal(a.r.trust, KITH_TRUST_NONE);
    assert_false(a.r.remote_known);
    assert_true(f.ba > 8); /* message 2 and the refusal */
    if (x.r.refused == KITH_REFUSE_UNTRUSTED && a.r.refused == KITH_REFUSE_UNTRUSTED)
      refused++;
    kt_store_free(&x.s);
  }
  assert_int_equal(refused, 20);
  kt_store_free(&a.s);
}

/* A partner removed with `peer rm` is a stranger again. */
static void test_link_removed_partner(void **state)
{
  (void)state;
  struct side a, b;
  uint8_t id[16];
  new_side(&a, "Ana", "laptop"), new_side(&b, "Bea", "phone");
  knows(&a, &b, "Bea"), knows(&b, &a, "Ana");
  link_run(&b, a.pk, &a, 0, -1, -1);
  expect_done(&a);
  kith_txn *t = kt_begin(a.s.st, true);
  assert_rc(kith_key_owner(t, KITH_KIND_PEER, b.pk, id), 0);
  assert_rc(kith_record_delete(t, id), 0);
  kt_commit(t);
  link_run(&b, a.pk, &a, 0, -1, -1);
  assert_rc(b.r.error, KITH_EREFUSED);
  assert_int_equal(b.r.refused, KITH_REFUSE_UNTRUSTED);
  kt_store_free(&a.s), kt_store_free(&b.s);
}

/* B dials A's address with C's key: A cannot read message 1, answers nothing after
 * its preamble, learns and stores nothing. */
static void test_link_wrong_key(void **state)
{
  (void)state;
  struct side a, b, c;
  uint8_t before[32], after[32];
  new_side(&a, "Ana", "laptop"), new_side(&b, "Bea", "phone");
  new_side(&c, "Cy", "laptop");
  knows(&a, &b, "Bea"), knows(&b, &c, "Cy");
  digest(&a, before);
  struct kt_flow f = link_run(&b, c.pk, &a, 0, -1, -1);
  assert_rc(a.r.error, KITH_EPROTO);
  assert_false(a.r.established);
  assert_false(a.r.remote_known);
  assert_int_equal(a.r.trust, KITH_TRUST_NONE);
  assert_int_equal(a.r.refused, 0);
  assert_int_equal(f.ba, 8); /* its preamble answer, nothing after */
  assert_rc(b.r.error, KITH_ECLOSED);
  assert_false(b.r.established);
  digest(&a, after);
  assert_memory_equal(before, after, 32);
  kt_store_free(&a.s), kt_store_free(&b.s), kt_store_free(&c.s);
}

/* Every byte of the dialer's stream flipped in turn, then every byte of the
 * acceptor's: neither side is ever DONE with a changed byte from the dialer, and
 * the dialer never with one from the acceptor. */
static void test_link_tamper(void **state)
{
  (void)state;
  struct side a, b;
  new_side(&a, "Ana", "laptop"), new_side(&b, "Bea", "phone");
  knows(&a, &b, "Bea"), knows(&b, &a, "Ana");
  struct kt_flow clean = link_run(&b, a.pk, &a, 0, -1, -1);
  expect_done(&a), expect_done(&b);
  assert_true(clean.ab > 100 && clean.ba > 50);
  for (long at = 0; at < clean.ab; at++) {
    link_run(&b, a.pk, &a, 0, at, -1);
    if (a.r.error == 0 || b.r.error == 0)
      fail_msg("a flip at byte %ld of the dialer's stream ended in DONE (%s / %s)", at,
               a.r.error ? "acceptor failed" : "acceptor DONE",
               b.r.error ? "dialer failed" : "dialer DONE");
  }
  for (long at = 0; at < clean.ba; at++) {
    link_run(&b, a.pk, &a, 0, -1, at);
    if (b.r.error == 0)
      fail_msg("a flip at byte %ld of the acceptor's stream left the dialer DONE", at);
  }
  kt_store_free(&a.s), kt_store_free(&b.s);
}

/* An acceptor that vanishes at any point leaves the dialer short of DONE. */
static void test_link_cut(void **state)
{
  (void)state;
  struct side a, b;
  new_side(&a, "Ana", "laptop"), new_side(&b, "Bea", "phone");
  knows(&a, &b, "Bea"), knows(&b, &a, "Ana");
  struct kt_flow clean = link_run(&b, a.pk, &a, 0, -1, -1);
  for (long cut = 0; cut < clean.ba; cut++) {
    assert_rc(kith_link_dial_new(b.s.st, a.pk, clock_fn, &b.l), 0);
    assert_rc(kith_link_accept_new(a.s.st, clock_fn, &a.l), 0);
    const uint8_t *buf;
    long moved = 0;
    for (int round = 0; round < 100; round++) {
      size_t n = kith_link_vt.pending(b.l, &buf);
      if (n) {
        assert_rc(kith_link_vt.feed(a.l, buf, n), 0);
        kith_link_vt.consumed(b.l, n);
      }
      size_t m = kith_link_vt.pending(a.l, &buf);
      if (moved + (long)m > cut)
        m = (size_t)(cut - moved);
      if (m) {
        kith_link_vt.feed(b.l, buf, m);
        kith_link_vt.consumed(a.l, m);
        moved += (long)m;
      }
      if (!n && !m)
        break;
    }
    kith_link_vt.eof(b.l); /* the acceptor is gone */
    assert_int_equal(kith_link_vt.state(b.l), KITH_SESSION_FAILED);
    kith_link_result(b.l, &b.r);
    assert_rc(b.r.error, KITH_ECLOSED);
    kith_link_free(a.l), kith_link_free(b.l);
    a.l = b.l = NULL;
  }
  kt_store_free(&a.s), kt_store_free(&b.s);
}

/* Preambles the acceptor must not take: another purpose, another magic, version 0;
 * and a dialer key that is not a point. */
static void test_link_preambles(void **state)
{
  (void)state;
  struct side a;
  kith_link *l = NULL;
  struct kith_link_result r;
  const uint8_t *buf;
  new_side(&a, "Ana", "laptop");
  static const uint8_t pair[8] = {'k', 'i', 't', 'h', 1, 2, 0, 0};
  static const uint8_t http[8] = {'G', 'E', 'T', ' ', '/', ' ', 'H', 'T'};
  static const uint8_t v0[8] = {'k', 'i', 't', 'h', 0, 1, 0, 0};
  static const uint8_t v9[8] = {'k', 'i', 't', 'h', 9, 1, 0, 0};

  assert_rc(kith_link_accept_after(a.s.st, clock_fn, pair, &l), 0);
  assert_int_equal(kith_link_vt.state(l), KITH_SESSION_FAILED);
  assert_int_equal(kith_link_vt.pending(l, &buf), 0);
  kith_link_free(l);

  assert_rc(kith_link_accept_new(a.s.st, clock_fn, &l), 0);
  assert_rc(kith_link_vt.feed(l, http, 8), KITH_ENOTKITH);
  assert_int_equal(kith_link_vt.pending(l, &buf), 0); /* not a word back */
  kith_link_result(l, &r);
  assert_rc(r.error, KITH_ENOTKITH);
  kith_link_free(l);

  assert_rc(kith_link_accept_after(a.s.st, clock_fn, v0, &l), 0);
  assert_int_equal(kith_link_vt.state(l), KITH_SESSION_FAILED);
  assert_int_equal(kith_link_vt.pending(l, &buf), 8); /* version 0: none shared */
  assert_int_equal(buf[4], 0);
  kith_link_free(l);

  /* a newer dialer gets our version back and goes on */
  assert_rc(kith_link_accept_after(a.s.st, clock_fn, v9, &l), 0);
  assert_int_equal(kith_link_vt.state(l), KITH_SESSION_RUNNING);
  assert_int_equal(kith_link_vt.pending(l, &buf), 8);
  assert_int_equal(buf[4], KITH_PROTO_VERSION);
  kith_link_free(l);

  uint8_t bogus[32];
  memset(bogus, 0xff, sizeof bogus);
  l = NULL;
  assert_rc(kith_link_dial_new(a.s.st, bogus, clock_fn, &l), KITH_EINVAL);
  assert_null(l);
  kith_link_free(NULL);
  kt_store_free(&a.s);
}

int main(void)
{
  if (sodium_init() < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_link_partner),
      cmocka_unit_test(test_link_own_device),
      cmocka_unit_test(test_link_revoked),
      cmocka_unit_test(test_link_stranger),
      cmocka_unit_test(test_link_removed_partner),
      cmocka_unit_test(test_link_wrong_key),
      cmocka_unit_test(test_link_tamper),
      cmocka_unit_test(test_link_cut),
      cmocka_unit_test(test_link_preambles),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
