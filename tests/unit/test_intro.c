/*
 * test_intro.c — core/intro.h with three stores in one process: Ada introduces
 * Bea and Cy (Ada is partnered with each), syncing over core/link as test_sync.c
 * does. What each party holds is checked by reading every register of its store.
 */
#include "kt_devices.h"

#include <sodium.h>

#include "core/intro.h"
#include "core/link.h"
#include "core/mycard.h"
#include "proto/hex.h"

static void sync_ok(struct dev *dialer, struct dev *acceptor)
{
  kith_link *ld = NULL, *la = NULL;
  struct kith_link_result rd, ra;
  assert_rc(kith_link_dial_sync_new(dialer->s.st, acceptor->pk, kt_clock, &ld), 0);
  assert_rc(kith_link_accept_new(acceptor->s.st, kt_clock, &la), 0);
  kt_pump(&kith_link_vt, ld, la, 0, -1, -1, -1, 100000);
  kith_link_result(ld, &rd);
  kith_link_result(la, &ra);
  kith_link_free(ld);
  kith_link_free(la);
  if (rd.error || ra.error)
    fail_msg("sync failed: dialer %s (%s); acceptor %s (%s)", kith_strerror(rd.error),
             rd.why, kith_strerror(ra.error), ra.why);
}

/* Whether a sync between them is refused (strangers, or a pending peer). */
static bool sync_refused(struct dev *dialer, struct dev *acceptor)
{
  kith_link *ld = NULL, *la = NULL;
  struct kith_link_result rd, ra;
  if (kith_link_dial_sync_new(dialer->s.st, acceptor->pk, kt_clock, &ld) != 0)
    return true; /* the dialer won't dial a key it does not trust */
  assert_rc(kith_link_accept_new(acceptor->s.st, kt_clock, &la), 0);
  kt_pump(&kith_link_vt, ld, la, 0, -1, -1, -1, 100000);
  kith_link_result(ld, &rd);
  kith_link_result(la, &ra);
  kith_link_free(ld);
  kith_link_free(la);
  return rd.error || ra.error;
}

struct world {
  struct dev a, b, c;
  uint8_t a_b[16], a_c[16], b_a[16], c_a[16]; /* peer records */
  uint8_t gid_b[16], gid_c[16];               /* Ada-Bea, Ada-Cy */
  uint8_t intro[16], pb[16], pc[16];          /* the intro, Bea's and Cy's proposals */
};

/* My card (core/mycard.h): what I give when I accept. */
static void card(struct dev *d, const char *name, const char *email, const char *phone)
{
  kith_txn *t = kt_begin(d->s.st, true);
  assert_rc(kith_mycard_set_text(t, "name", name), 0);
  assert_rc(kith_mycard_set_text(t, "emails", email), 0);
  assert_rc(kith_mycard_set_text(t, "phones", phone), 0);
  if (strncmp(name, "Bea", 3) == 0) { /* a free field and an address: Bea's only */
    assert_rc(kith_mycard_set_text(t, "x-portfolio", "https://example.org/folio"), 0);
    assert_rc(kith_mycard_set_text(t, "addresses", "work:1 Main St, Springfield, IL"),
              0);
  }
  kt_commit(t);
}

static void settle(struct world *w)
{
  for (int i = 0; i < 4; i++) {
    sync_ok(&w->b, &w->a);
    sync_ok(&w->c, &w->a);
  }
}

static void world_new(struct world *w, uint64_t expires_in)
{
  memset(w, 0, sizeof *w);
  dev_new(&w->a, "Ada", "laptop");
  dev_new(&w->b, "Bea", "laptop");
  dev_new(&w->c, "Cy", "laptop");
  partner(&w->a, "Ada", &w->b, "Bea", w->a_b, w->b_a);
  partner(&w->a, "Ada", &w->c, "Cy", w->a_c, w->c_a);
  card(&w->b, "Bea Lopez", "work:bea@example.org", "+1 555 0100");
  card(&w->c, "Cy Young", "cy@example.org", "+1 555 0199");
  settle(w);
  kith_txn *t = kt_begin(w->a.s.st, true);
  assert_rc(kith_peer_space(t, w->a_b, w->gid_b), 0);
  assert_rc(kith_peer_space(t, w->a_c, w->gid_c), 0);
  struct kith_intro_party p[2] = {{false, {0}}, {false, {0}}};
  memcpy(p[0].id, w->a_b, 16);
  memcpy(p[1].id, w->a_c, 16);
  const char *msg[2] = {"Cy hires designers", "Bea designs"};
  assert_rc(kith_intro_propose(t, p, msg, kt_now_ms + expires_in, kt_now_ms, w->intro),
            0);
  kt_commit(t);
  kith_intro_proposal_id(w->intro, w->gid_b, w->pb);
  kith_intro_proposal_id(w->intro, w->gid_c, w->pc);
  settle(w);
}

static void world_free(struct world *w)
{
  dev_free(&w->a);
  dev_free(&w->b);
  dev_free(&w->c);
}

static int answer(struct dev *d, const uint8_t prop[16], bool accept, const char *share)
{
  kith_txn *t = kt_begin(d->s.st, true);
  int rc = kith_intro_answer(t, prop, accept, share, kt_now_ms);
  if (rc == 0)
    kt_commit(t);
  else
    kith_txn_abort(t);
  return rc;
}

static void view(struct dev *d, const uint8_t id[16], struct kith_intro_view *v)
{
  struct kith_record *rec = NULL;
  kith_txn *t = kt_begin(d->s.st, false);
  assert_rc(kith_record_load(t, id, &rec), 0);
  assert_rc(kith_intro_view(t, rec, kt_now_ms, v), 0);
  v->message[0] = v->message[1] = v->other_name = v->my_message = v->share = NULL;
  kith_record_free(rec);
  kith_txn_abort(t);
}

/* How many registers of d hold any of the needles in a value part. */
struct needles {
  const char *s[4];
  int hits;
};

static int find_one(void *arg, const struct kith_reg *r)
{
  struct needles *n = arg;
  for (int i = 0; r->val && i < r->val->n; i++)
    for (int j = 0; j < 4 && n->s[j]; j++)
      if (r->val->p[i] && strstr(r->val->p[i], n->s[j]))
        n->hits++;
  return 0;
}

/* Nothing of other's in d: its key, its e-mail, its phone, its card's name. */
static int holds_of(struct dev *d, struct dev *other, const char *email,
                    const char *full_name)
{
  char hex[65];
  kith_hex_encode(other->pk, 32, hex);
  const char *phone = strncmp(email, "bea", 3) == 0 ? "555 0100" : "555 0199";
  struct needles n = {{hex, email, full_name, phone}, 0};
  kith_txn *t = kt_begin(d->s.st, false);
  assert_rc(kith_reg_each(t, find_one, &n), 0);
  kith_txn_abort(t);
  return n.hits;
}

static void peer_of(struct dev *d, const uint8_t pk[32], char status[32],
                    uint8_t id[16])
{
  struct kith_record *rec = NULL;
  kith_txn *t = kt_begin(d->s.st, false);
  status[0] = 0;
  if (kith_key_owner(t, KITH_KIND_PEER, pk, id) == 0 &&
      kith_record_load(t, id, &rec) == 0) {
    const char *s = kith_record_text(rec, KITH_F_PEER_STATUS);
    snprintf(status, 32, "%s", s ? s : "");
  }
  kith_record_free(rec);
  kith_txn_abort(t);
}

static void nonce_of(struct world *w, uint8_t nonce[16])
{
  char buf[256];
  assert_non_null(get_text(&w->a, w->intro, KITH_F_INTRO_NONCE, buf));
  assert_rc(kith_hex_decode(buf, nonce, 16), 0);
}

static void test_both_accept(void **state)
{
  (void)state;
  struct world w;
  struct kith_intro_view v;
  char buf[256], st[32];
  uint8_t nonce[16], cid[16], peer[16];
  world_new(&w, 7 * 86400000ull);
  /* each party sees the other's name and Ada's message for it, nothing else */
  view(&w.b, w.pb, &v);
  assert_string_equal(v.status, "proposed");
  assert_string_equal(v.introducer, "Ada");
  assert_string_equal(get_text(&w.b, w.pb, KITH_F_PROP_OTHER_NAME, buf), "Cy");
  assert_string_equal(get_text(&w.b, w.pb, KITH_F_PROP_MESSAGE, buf),
                      "Cy hires designers");
  assert_string_equal(get_text(&w.c, w.pc, KITH_F_PROP_MESSAGE, buf), "Bea designs");
  assert_null(get_text(&w.b, w.pc, KITH_F_PROP_MESSAGE, buf)); /* not Cy's proposal */
  assert_int_equal(holds_of(&w.b, &w.c, "cy@example.org", "Cy Young"), 0);

  /* Ada can't answer her own proposal; an unknown field is refused */
  kith_txn *t = kt_begin(w.a.s.st, true);
  assert_rc(kith_intro_answer(t, w.pb, true, NULL, kt_now_ms), KITH_EINVAL);
  kith_txn_abort(t);
  assert_rc(answer(&w.b, w.pb, true, "emails,tags"), KITH_EUNKFIELD);

  assert_rc(answer(&w.b, w.pb, true, "emails,phones,x-portfolio,addresses"), 0);
  settle(&w);
  view(&w.b, w.pb, &v);
  assert_string_equal(v.status, "accepted");
  view(&w.a, w.intro, &v);
  assert_string_equal(v.status, "proposed");
  assert_string_equal(v.answer[0], "accepted");
  assert_string_equal(v.answer[1], "pending");
  /* Cy holds nothing of Bea's yet: no key, no e-mail, no phone */
  assert_int_equal(holds_of(&w.c, &w.b, "bea@example.org", "Bea Lopez"), 0);

  assert_rc(answer(&w.c, w.pc, true, "emails"), 0);
  settle(&w);
  view(&w.a, w.intro, &v);
  assert_string_equal(v.status, "completed");
  view(&w.b, w.pb, &v);
  assert_string_equal(v.status, "completed");
  assert_true(v.contact_made);
  view(&w.c, w.pc, &v);
  assert_string_equal(v.status, "completed");

  /* each holds the other's chosen details as a contact, with where it came from */
  nonce_of(&w, nonce);
  kith_intro_contact_id(nonce, w.b.pk, cid);
  assert_string_equal(get_text(&w.c, cid, KITH_F_NAME, buf), "Bea Lopez");
  struct kith_record_list notes = {0};
  t = kt_begin(w.c.s.st, false);
  assert_rc(kith_notes_load(t, cid, &notes), 0);
  kith_txn_abort(t);
  assert_int_equal(notes.n, 1);
  const char *text = kith_record_text(notes.v[0], KITH_F_NOTE_TEXT);
  assert_non_null(strstr(text, "Introduced by Ada, on "));
  assert_non_null(strstr(text, "because Bea designs"));
  kith_record_list_clear(&notes);
  struct needles got = {{"bea@example.org", NULL, NULL, NULL}, 0};
  t = kt_begin(w.c.s.st, false);
  assert_rc(kith_reg_each(t, find_one, &got), 0);
  got.s[0] = "555 0100"; /* Bea gave her phone too */
  assert_rc(kith_reg_each(t, find_one, &got), 0);
  kith_txn_abort(t);
  assert_int_equal(got.hits, 2);
  struct kith_record *rec = NULL; /* with the kind Bea gave her e-mail */
  t = kt_begin(w.c.s.st, false);
  assert_rc(kith_record_load(t, cid, &rec), 0);
  kith_txn_abort(t);
  int work = 0;
  for (size_t i = 0; i < rec->n; i++)
    work += rec->regs[i].field == KITH_F_EMAILS && kith_reg_live(&rec->regs[i]) &&
            rec->regs[i].val->p[1] && strcmp(rec->regs[i].val->p[1], "work") == 0;
  kith_record_free(rec);
  assert_int_equal(work, 1);
  struct needles folio = {{"https://example.org/folio", NULL, NULL, NULL}, 0};
  t = kt_begin(w.c.s.st, false);
  assert_rc(kith_reg_each(t, find_one, &folio), 0);
  kith_txn_abort(t);
  assert_int_equal(folio.hits, 1); /* her free field too, as she chose */
  struct needles town = {{"Springfield", NULL, NULL, NULL}, 0};
  t = kt_begin(w.c.s.st, false);
  assert_rc(kith_reg_each(t, find_one, &town), 0);
  kith_txn_abort(t);
  assert_int_equal(town.hits, 1); /* and her address */
  kith_intro_contact_id(nonce, w.c.pk, cid);
  assert_string_equal(get_text(&w.b, cid, KITH_F_NAME, buf), "Cy Young");
  /* Cy gave the e-mail only: Bea has no phone of Cy's */
  struct needles n = {{"555 0199", NULL, NULL, NULL}, 0};
  t = kt_begin(w.b.s.st, false);
  assert_rc(kith_reg_each(t, find_one, &n), 0);
  kith_txn_abort(t);
  assert_int_equal(n.hits, 0);

  /* and a pending peer each, not trusted until both confirm */
  peer_of(&w.c, w.b.pk, st, peer);
  assert_string_equal(st, "pending");
  peer_of(&w.b, w.c.pk, st, peer);
  assert_string_equal(st, "pending");
  assert_true(sync_refused(&w.b, &w.c));
  t = kt_begin(w.b.s.st, true);
  assert_rc(kith_peer_confirm(t, peer), 0);
  kt_commit(t);
  enum kith_trust tr; /* Cy has not confirmed yet: Bea is no one to Cy */
  t = kt_begin(w.c.s.st, false);
  assert_rc(kith_trust_check(t, w.b.pk, &tr), 0);
  kith_txn_abort(t);
  assert_int_equal(tr, KITH_TRUST_NONE);
  peer_of(&w.c, w.b.pk, st, peer);
  t = kt_begin(w.c.s.st, true);
  assert_rc(kith_peer_confirm(t, peer), 0);
  kt_commit(t);
  peer_of(&w.c, w.b.pk, st, peer);
  assert_string_equal(st, "confirmed");
  sync_ok(&w.b, &w.c); /* directly, no invite */

  /* the steps are idempotent: more syncs change nothing */
  uint8_t d1[32], d2[32];
  settle(&w);
  digest(&w.a, d1);
  settle(&w);
  digest(&w.a, d2);
  assert_bytes_equal(d1, 32, d2, 32);
  world_free(&w);
}

/* The live fields of d's proposal, as a sorted list of field ids, and its state. */
static void prop_shape(struct dev *d, const uint8_t id[16], char out[256])
{
  struct kith_record *rec = NULL;
  kith_txn *t = kt_begin(d->s.st, false);
  assert_rc(kith_record_load(t, id, &rec), 0);
  size_t at = 0;
  for (size_t i = 0; i < rec->n; i++)
    if (kith_reg_live(&rec->regs[i]))
      at += (size_t)snprintf(out + at, 256 - at, "%u,", rec->regs[i].field);
  snprintf(out + at, 256 - at, "%s", kith_record_text(rec, KITH_F_PROP_STATE));
  kith_record_free(rec);
  kith_txn_abort(t);
}

static void test_decline_looks_like_expiry(void **state)
{
  (void)state;
  struct world w;
  struct kith_intro_view v;
  char declined[256], expired[256];
  world_new(&w, 7 * 86400000ull);
  assert_rc(answer(&w.b, w.pb, true, "emails"), 0);
  assert_rc(answer(&w.c, w.pc, false, NULL), 0);
  settle(&w);
  view(&w.a, w.intro, &v);
  assert_string_equal(v.status, "declined");
  assert_string_equal(v.answer[1], "declined");
  view(&w.b, w.pb, &v);
  assert_string_equal(v.status, "not_going_ahead");
  view(&w.c, w.pc, &v);
  assert_string_equal(v.status, "not_going_ahead");
  /* Bea holds nothing of Cy's beyond the name and Ada's message */
  assert_int_equal(holds_of(&w.b, &w.c, "cy@example.org", "Cy Young"), 0);
  assert_int_equal(holds_of(&w.c, &w.b, "bea@example.org", "Bea Lopez"), 0);
  prop_shape(&w.b, w.pb, declined);
  assert_rc(answer(&w.b, w.pb, true, "emails"), KITH_EINVAL); /* closed */
  world_free(&w);

  world_new(&w, 2000);
  assert_rc(answer(&w.b, w.pb, true, "emails"), 0);
  kt_now_ms += 3000;
  assert_rc(answer(&w.c, w.pc, true, "emails"), KITH_EEXPIRED);
  settle(&w);
  view(&w.a, w.intro, &v);
  assert_string_equal(v.status, "expired");
  view(&w.b, w.pb, &v);
  assert_string_equal(v.status, "not_going_ahead");
  prop_shape(&w.b, w.pb, expired);
  assert_string_equal(declined, expired); /* Bea can't tell the two apart */
  assert_int_equal(holds_of(&w.b, &w.c, "cy@example.org", "Cy Young"), 0);
  world_free(&w);
}

static void test_withdraw(void **state)
{
  (void)state;
  struct world w;
  struct kith_intro_view v;
  world_new(&w, 7 * 86400000ull);
  assert_rc(answer(&w.b, w.pb, true, "emails"), 0);
  kith_txn *t = kt_begin(w.a.s.st, true);
  assert_rc(kith_intro_withdraw(t, w.intro), 0);
  kt_commit(t);
  settle(&w);
  view(&w.a, w.intro, &v);
  assert_string_equal(v.status, "withdrawn");
  view(&w.b, w.pb, &v);
  assert_string_equal(v.status, "not_going_ahead");
  assert_rc(answer(&w.c, w.pc, true, "emails"), KITH_EINVAL);
  t = kt_begin(w.a.s.st, true);
  assert_rc(kith_intro_withdraw(t, w.intro), KITH_EINVAL); /* once */
  kith_txn_abort(t);
  assert_int_equal(holds_of(&w.c, &w.b, "bea@example.org", "Bea Lopez"), 0);
  world_free(&w);
}

static void test_forged_vouch_ignored(void **state)
{
  (void)state;
  struct world w;
  uint8_t pk[32], sk[64], nonce[16], sig[64];
  char khex[65], vouch[65 + 129], shex[129], buf[256];
  world_new(&w, 7 * 86400000ull);
  assert_rc(answer(&w.c, w.pc, true, "emails"), 0);
  nonce_of(&w, nonce);
  /* a key and a vouch Ada never wrote, signed by a key not hers */
  crypto_sign_keypair(pk, sk);
  uint8_t m[13 + 16 + 32 + 3];
  memcpy(m, "kith intro v1", 13);
  memcpy(m + 13, nonce, 16);
  memcpy(m + 29, pk, 32);
  memcpy(m + 61, "Bea", 3);
  crypto_sign_detached(sig, NULL, m, sizeof m, sk);
  kith_hex_encode(pk, 32, khex);
  kith_hex_encode(sig, 64, shex);
  snprintf(vouch, sizeof vouch, "%s.%s", khex, shex);
  set_text(&w.c, w.pc, KITH_F_PROP_PEER_KEY, khex);
  set_text(&w.c, w.pc, KITH_F_PROP_VOUCH, vouch);
  kith_txn *t = kt_begin(w.c.s.st, true);
  assert_rc(kith_intros_step(t, kt_now_ms), 0);
  kt_commit(t);
  assert_null(get_text(&w.c, w.pc, KITH_F_PROP_SEALED, buf)); /* nothing sealed */
  assert_int_equal(holds_of(&w.c, &w.b, "bea@example.org", "Bea Lopez"), 0);

  /* malformed fields, as a hostile writer in the space could leave them: skipped */
  const char *bad[] = {"", ".", "zz", "x.y", khex, vouch};
  const uint8_t fields[] = {KITH_F_PROP_PEER_KEY, KITH_F_PROP_VOUCH,
                            KITH_F_PROP_FORWARD, KITH_F_PROP_NONCE,
                            KITH_F_PROP_EXPIRES};
  for (size_t f = 0; f < sizeof fields; f++)
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      t = kt_begin(w.c.s.st, true);
      const char *v = bad[i];
      struct kith_value *val = kith_value_new(1, &v);
      int rc = kith_field_set(t, w.pc, kith_field_by_id(fields[f]), val);
      kith_value_free(val);
      if (rc == 0)
        assert_rc(kith_intros_step(t, kt_now_ms), 0);
      kith_txn_abort(t);
    }
  for (int i = 0; i < 3; i++) /* and the others' steps with whatever Cy wrote */
    sync_ok(&w.c, &w.a);
  assert_int_equal(holds_of(&w.c, &w.b, "bea@example.org", "Bea Lopez"), 0);
  world_free(&w);
}

static void test_contact_party(void **state)
{
  (void)state;
  struct dev a, b;
  uint8_t a_b[16], b_a[16], contact[16], intro[16], gid[16], pb[16], nonce[16], cid[16];
  char buf[256];
  dev_new(&a, "Ada", "laptop");
  dev_new(&b, "Bea", "laptop");
  partner(&a, "Ada", &b, "Bea", a_b, b_a);
  card(&b, "Bea Lopez", "bea@example.org", "+1 555 0100");
  add_contact(&a, "Dee Offline", NULL, contact);
  kith_txn *t = kt_begin(a.s.st, true);
  assert_rc(kith_contact_set_text(t, contact, "emails", "dee@example.org"), 0);
  assert_rc(kith_peer_space(t, a_b, gid), 0);
  struct kith_intro_party p[2] = {{false, {0}}, {true, {0}}};
  memcpy(p[0].id, a_b, 16);
  memcpy(p[1].id, contact, 16);
  const char *msg[2] = {"Dee needs a designer", NULL};
  assert_rc(kith_intro_propose(t, p, msg, kt_now_ms + 86400000, kt_now_ms, intro), 0);
  kt_commit(t);
  kith_intro_proposal_id(intro, gid, pb);
  sync_ok(&b, &a);
  assert_rc(answer(&b, pb, true, "emails"), 0);
  t = kt_begin(a.s.st, true);
  assert_rc(kith_intro_consent(t, intro, 0, true, "emails", kt_now_ms), KITH_EINVAL);
  assert_rc(kith_intro_consent(t, intro, 1, true, "emails", kt_now_ms), 0);
  kt_commit(t);
  for (int i = 0; i < 4; i++)
    sync_ok(&b, &a);
  assert_string_equal(get_text(&b, pb, KITH_F_PROP_STATE, buf), "completed");
  assert_non_null(get_text(&a, intro, KITH_F_INTRO_NONCE, buf));
  assert_rc(kith_hex_decode(buf, nonce, 16), 0);
  kith_intro_contact_id(nonce, a.pk, cid);
  assert_string_equal(get_text(&b, cid, KITH_F_NAME, buf), "Dee Offline");
  dev_free(&a);
  dev_free(&b);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_both_accept),
      cmocka_unit_test(test_decline_looks_like_expiry),
      cmocka_unit_test(test_withdraw),
      cmocka_unit_test(test_forged_vouch_ignored),
      cmocka_unit_test(test_contact_party),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
