/*
 * test_accept.c — core/accept.h: one acceptor session that becomes a pairing host
 * or a sync link by the preamble's purpose. Sessions are wired back to back in one
 * process, fed all at once (the preamble and what follows in one feed) and one
 * byte at a time.
 */
#include "kith_test.h"

#include <sodium.h>

#include "core/accept.h"
#include "core/peer.h"

static uint64_t clock_fn(void)
{
  return kt_now_ms;
}

/* Moves bytes between the dialing session a (vt_a) and the acceptor b until both
 * end or nothing moves, `chunk` bytes per feed at most (0: all). At most 1,000
 * rounds. */
static void pump(const struct kith_session_vt *vt_a, void *a, void *b, size_t chunk)
{
  const struct kith_session_vt *vt_b = &kith_accept_vt;
  for (int rounds = 0; rounds < 1000; rounds++) {
    const uint8_t *buf;
    bool moved = false;
    size_t n = vt_a->pending(a, &buf);
    if (n && vt_b->state(b) < KITH_SESSION_DONE) {
      n = chunk && n > chunk ? chunk : n;
      vt_b->feed(b, buf, n);
      vt_a->consumed(a, n);
      moved = true;
    }
    n = vt_b->pending(b, &buf);
    if (n && vt_a->state(a) < KITH_SESSION_DONE) {
      n = chunk && n > chunk ? chunk : n;
      vt_a->feed(a, buf, n);
      vt_b->consumed(b, n);
      moved = true;
    }
    if (!moved)
      break;
  }
}

static void new_store(struct kt_store *s, const char *name, uint8_t pk[32])
{
  struct kith_identity me;
  kt_tmpdir(s->dir);
  snprintf(s->home, sizeof s->home, "%s/home", s->dir);
  assert_rc(kith_store_init(s->home, name, "laptop", &kt_opts, &s->st), 0);
  kith_txn *t = kt_begin(s->st, false);
  assert_rc(kith_txn_identity(t, &me), 0);
  kith_txn_abort(t);
  memcpy(pk, me.pk, 32);
}

static void test_accept_link_and_pair(void **state)
{
  (void)state;
  struct kt_store a, b, c;
  uint8_t pa[32], pb[32], pc[32], id[16];
  new_store(&a, "Ana", pa), new_store(&b, "Bea", pb), new_store(&c, "Cy", pc);
  kith_txn *t = kt_begin(a.st, true);
  assert_rc(kith_peer_add(t, "Bea", pb, "phone", NULL, id), 0);
  kt_commit(t);
  t = kt_begin(b.st, true);
  assert_rc(kith_peer_add(t, "Ana", pa, "laptop", NULL, id), 0);
  kt_commit(t);

  for (size_t chunk = 0; chunk <= 1; chunk++) {
    /* a sync link */
    kith_link *l = NULL;
    kith_accept *acc = NULL;
    struct kith_accept_result r;
    struct kith_link_result lr;
    assert_rc(kith_link_dial_new(b.st, pa, clock_fn, &l), 0);
    assert_rc(kith_accept_new(a.st, clock_fn, &acc), 0);
    pump(&kith_link_vt, l, acc, chunk);
    assert_int_equal(kith_accept_vt.state(acc), KITH_SESSION_DONE);
    kith_accept_result(acc, &r);
    kith_link_result(l, &lr);
    assert_int_equal(r.kind, KITH_ACCEPT_LINK);
    assert_rc(r.error, 0);
    assert_rc(lr.error, 0);
    assert_int_equal(r.link.trust, KITH_TRUST_PEER);
    assert_string_equal(r.link.remote_name, "Bea");
    kith_link_free(l);
    kith_accept_free(acc);

    /* a pairing, on the same kind of session */
    struct kith_invite inv;
    kith_pair *p = NULL;
    struct kith_pair_result pr;
    t = kt_begin(a.st, true);
    assert_rc(kith_pair_invite_create(t, false, kt_now_ms + 3600 * 1000, &inv), 0);
    kt_commit(t);
    assert_rc(kith_pair_join_new(c.st, &inv, clock_fn, &p), 0);
    assert_rc(kith_accept_new(a.st, clock_fn, &acc), 0);
    pump(&kith_pair_vt, p, acc, chunk);
    kith_accept_result(acc, &r);
    kith_pair_result(p, &pr);
    assert_int_equal(r.kind, KITH_ACCEPT_PAIR);
    if (r.error || pr.error)
      fail_msg("host: %s / joiner: %s", r.why, pr.why);
    assert_string_equal(r.pair.peer_name, "Cy");
    kith_pair_free(p);
    kith_accept_free(acc);
  }
  kt_store_free(&a), kt_store_free(&b), kt_store_free(&c);
}

static void test_accept_not_kith(void **state)
{
  (void)state;
  struct kt_store a;
  uint8_t pa[32];
  const uint8_t *buf;
  struct kith_accept_result r;
  kith_accept *acc = NULL;
  new_store(&a, "Ana", pa);

  /* an HTTP request: refused at once, nothing sent back */
  static const char http[] = "GET / HTTP/1.1\r\n\r\n";
  assert_rc(kith_accept_new(a.st, clock_fn, &acc), 0);
  assert_rc(kith_accept_vt.feed(acc, (const uint8_t *)http, sizeof http - 1),
            KITH_ENOTKITH);
  assert_int_equal(kith_accept_vt.state(acc), KITH_SESSION_FAILED);
  assert_int_equal(kith_accept_vt.pending(acc, &buf), 0);
  kith_accept_result(acc, &r);
  assert_int_equal(r.kind, KITH_ACCEPT_NONE);
  assert_rc(r.error, KITH_ENOTKITH);
  kith_accept_free(acc);

  /* an unknown purpose */
  static const uint8_t p9[8] = {'k', 'i', 't', 'h', 1, 9, 0, 0};
  assert_rc(kith_accept_new(a.st, clock_fn, &acc), 0);
  assert_rc(kith_accept_vt.feed(acc, p9, 8), KITH_ENOTKITH);
  assert_int_equal(kith_accept_vt.pending(acc, &buf), 0);
  kith_accept_free(acc);

  /* three bytes, then the end: nothing chosen */
  assert_rc(kith_accept_new(a.st, clock_fn, &acc), 0);
  assert_rc(kith_accept_vt.feed(acc, (const uint8_t *)"kit", 3), 0);
  assert_int_equal(kith_accept_vt.state(acc), KITH_SESSION_RUNNING);
  assert_rc(kith_accept_vt.eof(acc), KITH_ECLOSED);
  assert_int_equal(kith_accept_vt.state(acc), KITH_SESSION_FAILED);
  kith_accept_result(acc, &r);
  assert_int_equal(r.kind, KITH_ACCEPT_NONE);
  assert_rc(r.error, KITH_ECLOSED);
  kith_accept_free(acc);

  /* version 0: the chosen session answers "no version shared" and fails */
  static const uint8_t v0[8] = {'k', 'i', 't', 'h', 0, 1, 0, 0};
  assert_rc(kith_accept_new(a.st, clock_fn, &acc), 0);
  assert_true(kith_accept_vt.feed(acc, v0, 8) != 0);
  assert_int_equal(kith_accept_vt.state(acc), KITH_SESSION_FAILED);
  assert_int_equal(kith_accept_vt.pending(acc, &buf), 8);
  kith_accept_result(acc, &r);
  assert_int_equal(r.kind, KITH_ACCEPT_LINK);
  assert_rc(r.error, KITH_EVERSION);
  kith_accept_free(acc);
  kith_accept_free(NULL);
  kt_store_free(&a);
}

int main(void)
{
  if (sodium_init() < 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_accept_link_and_pair),
      cmocka_unit_test(test_accept_not_kith),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
