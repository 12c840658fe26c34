/*
 * test_sync_prop.c — the sync property test (core/sync.h over core/link.h), in
 * process and deterministic but for the stores' random keys; then the smallest
 * scenarios of what it found.
 *
 * Five replicas: Ada's laptop, phone and tablet (linked pairwise), Bea's laptop
 * and phone (linked), Ada and Bea partners (the same partnership id on both
 * sides, as pairing records it). Each seed runs STEPS random steps: edits on a
 * random replica (contacts with a private tag, names, orgs and titles set, also
 * the same field of the same contact on two replicas between syncs, e-mails
 * added and removed, follow-ups, notes, deletions, cards shared and unshared by
 * either user, leads passed as referrals by either and moved on by their
 * receiver, the clock moved on a few ms) and syncs of a random pair that may
 * sync (two devices of one user, or one of Ada's with one of Bea's), whole or cut
 * after a random number of bytes as a dropped connection would, or one way by
 * posts (core/post.h: relay or bundle mode), whose envelopes are delivered lossily
 * (some dropped, some twice, some out of order) as relays may. In some seeds one
 * of Ada's devices revokes the tablet part way through. Then posts alone over
 * every pair, both ways, delivered whole, until a pass moves nothing (after the
 * clock passes the 14 days that make a sender send again from the acknowledged
 * position): the checks below hold then already; then full syncs over every
 * pair, in a fixed order, until a pass changes nothing (at most PASSES), and:
 *   - a whole sync between two replicas that trust each other succeeds, and a cut
 *     one fails as a truncated session, never as a protocol error; an envelope
 *     between them opens and applies, or (a device its recipient does not know
 *     yet) is not recognised: never refused;
 *   - Ada's devices (less a revoked tablet) hold byte-identical stores, and so do
 *     Bea's;
 *   - Ada's laptop and Bea's laptop hold the same registers in their partnership
 *     space (canonical encodings, sorted; less what a revoked tablet shared, see
 *     partnership_regs);
 *   - no store of Bea's ever holds (checked after every sync, not only at the
 *     end) a record of Ada's that was not shared, or a register an Ada device
 *     stamped that is not part of a shared card, a referral or a card's private
 *     copy (private fields, notes, device and peer records); and the same the
 *     other way round;
 *   - after the revocation, any sync between the tablet and a device that knows
 *     of it (its store no longer trusts the tablet) leaves the tablet's store
 *     unchanged: the tablet's dial is refused (KITH_EREFUSED on both sides), and
 *     the other device does not dial it at all (KITH_EINVAL). A device the
 *     revocation has not reached yet still syncs with the tablet (it cannot know),
 *     so "receives nothing" holds per device, from the moment the revocation
 *     reached it; at the end every device knows.
 *
 * Ids of the contacts the test creates come from the seeded generator, so a seed
 * replays the same steps; device keys are random, so two writes stamped in the
 * same millisecond may break their tie the other way on a rerun.
 * KITH_PROP_SEED=N runs that one seed (else SEEDS seeds from a fixed one),
 * KITH_PROP_STEPS=N the steps per seed, KITH_PROP_TRACE=1 prints every step.
 *
 * The tests after it hold, each in its smallest form, what this test (and
 * tests/fuzz/fuzz_sync.c) found in core/: fixed since, but for the one marked
 * FAILS, left failing on purpose until core/ is fixed.
 */
#include "kith_test.h"

#include <inttypes.h>
#include <sodium.h>

#include "core/json.h"
#include "core/link.h"
#include "core/model.h"
#include "core/post.h"
#include "core/referral.h"
#include "core/space.h"
#include "core/sync.h"
#include "proto/noise.h"

#define SEEDS 6
#define STEPS 150
#define PASSES 8
#define NDEV 5
#define MAXIDS 4096

enum { A_LAP, A_PH, A_TAB, B_LAP, B_PH };
static const char *const names[NDEV] = {"Ada's laptop", "Ada's phone", "Ada's tablet",
                                        "Bea's laptop", "Bea's phone"};

/* Every pair that may sync: two devices of one user, or Ada's with Bea's. */
static const int pairs[][2] = {
    {A_LAP, B_LAP}, {A_LAP, A_PH}, {A_LAP, A_TAB}, {A_PH, A_TAB},  {B_LAP, B_PH},
    {A_LAP, B_PH},  {A_PH, B_LAP}, {A_PH, B_PH},   {A_TAB, B_LAP}, {A_TAB, B_PH},
};
#define NPAIRS (sizeof pairs / sizeof pairs[0])

/* ---- randomness ----------------------------------------------------------------- */

static uint64_t rng, seed;
static int step;

static uint64_t next(void) /* splitmix64 */
{
  uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint32_t pick(uint32_t n)
{
  return (uint32_t)(next() % n);
}

static bool chance(unsigned percent)
{
  return pick(100) < percent;
}

static bool in_property; /* prop_fail names the seed and step */

#define prop_fail(...)                                                                 \
  do {                                                                                 \
    if (in_property)                                                                   \
      print_error("seed %" PRIu64 " (KITH_PROP_SEED), step %d: ", seed, step);         \
    fail_msg(__VA_ARGS__);                                                             \
  } while (0)

/* ---- replicas ------------------------------------------------------------------- */

struct dev {
  struct kt_store s;
  uint8_t pk[32];
  uint8_t devid[KITH_DEVICE_ID_LEN];
  int user; /* 0 Ada, 1 Bea */
};

static struct dev devs[NDEV];
static uint8_t gid[16];        /* the partnership */
static uint8_t peer_of[2][16]; /* Ada's peer record for Bea, Bea's for Ada */
static uint8_t roster[16];
static bool revoked; /* the tablet, by one of Ada's devices */

static void dev_new(struct dev *d, const char *name, const char *label, int user)
{
  struct kith_identity me;
  uint8_t id[16];
  memset(d, 0, sizeof *d);
  kt_tmpdir(d->s.dir);
  snprintf(d->s.home, sizeof d->s.home, "%s/home", d->s.dir);
  assert_rc(kith_store_init(d->s.home, name, label, &kt_opts, &d->s.st), 0);
  kith_txn *t = kt_begin(d->s.st, true);
  assert_rc(kith_txn_identity(t, &me), 0);
  assert_rc(kith_device_add(t, label, me.pk, id), 0); /* as kith init does */
  kt_commit(t);
  memcpy(d->pk, me.pk, 32);
  memcpy(d->devid, me.device_id, KITH_DEVICE_ID_LEN);
  d->user = user;
}

static void link_devices(struct dev *a, struct dev *b)
{
  uint8_t id[16];
  kith_txn *t = kt_begin(a->s.st, true);
  assert_rc(kith_device_add(t, "other", b->pk, id), 0);
  kt_commit(t);
  t = kt_begin(b->s.st, true);
  assert_rc(kith_device_add(t, "other", a->pk, id), 0);
  kt_commit(t);
}

static void setup(void)
{
  dev_new(&devs[A_LAP], "Ada", "laptop", 0);
  dev_new(&devs[A_PH], "Ada", "phone", 0);
  dev_new(&devs[A_TAB], "Ada", "tablet", 0);
  dev_new(&devs[B_LAP], "Bea", "laptop", 1);
  dev_new(&devs[B_PH], "Bea", "phone", 1);
  link_devices(&devs[A_LAP], &devs[A_PH]);
  link_devices(&devs[A_LAP], &devs[A_TAB]);
  link_devices(&devs[A_PH], &devs[A_TAB]);
  link_devices(&devs[B_LAP], &devs[B_PH]);
  for (int i = 0; i < 16; i++) /* the handshake hash would give it: any 16 bytes */
    gid[i] = (uint8_t)next();
  kith_txn *t = kt_begin(devs[A_LAP].s.st, true);
  assert_rc(kith_peer_add(t, "Bea", devs[B_LAP].pk, "laptop", gid, peer_of[0]), 0);
  kt_commit(t);
  t = kt_begin(devs[B_LAP].s.st, true);
  assert_rc(kith_peer_add(t, "Ada", devs[A_LAP].pk, "laptop", gid, peer_of[1]), 0);
  kt_commit(t);
  kith_roster_id(gid, roster);
}

static void teardown(void)
{
  for (int i = 0; i < NDEV; i++)
    if (devs[i].s.st)
      kt_store_free(&devs[i].s);
}

static void digest(int i, uint8_t out[32])
{
  kith_txn *t = kt_begin(devs[i].s.st, false);
  assert_rc(kith_store_digest(t, out), 0);
  kith_txn_abort(t);
}

static enum kith_trust trust_of(int i, const uint8_t pk[32])
{
  enum kith_trust tr;
  kith_txn *t = kt_begin(devs[i].s.st, false);
  assert_rc(kith_trust_check(t, pk, &tr), 0);
  kith_txn_abort(t);
  return tr;
}

/* ---- what the test knows about ids ---------------------------------------------- */

struct idset {
  size_t n;
  uint8_t v[MAXIDS][16];
};

static struct idset created[2]; /* contacts and notes made on each user's devices */
static struct idset shared;     /* cards shared (by either), referrals and the
                                   roster: ids both users may hold */
static struct idset by_tablet;  /* cards the tablet shared (see partnership_regs) */

static bool has(const struct idset *s, const uint8_t id[16])
{
  for (size_t i = 0; i < s->n; i++)
    if (memcmp(s->v[i], id, 16) == 0)
      return true;
  return false;
}

static void add(struct idset *s, const uint8_t id[16])
{
  if (has(s, id))
    return;
  if (s->n == MAXIDS)
    prop_fail("more than %d ids", MAXIDS);
  memcpy(s->v[s->n++], id, 16);
}

/* The ids each user's devices give the private copy of a shared card when it
 * stops being shared (core/space.c, private_copy_id: the card's id and the first
 * key of the partner's peer record, so the partner's copy has another id). */
static struct idset copies[2];

static void private_copy_id(const uint8_t id[16], const uint8_t partner_pk[32],
                            uint8_t out[16])
{
  static const char what[] = "kith private copy v1";
  crypto_generichash_state h;
  crypto_generichash_init(&h, (const uint8_t *)what, strlen(what), 16);
  crypto_generichash_update(&h, id, 16);
  crypto_generichash_update(&h, partner_pk, 32);
  crypto_generichash_final(&h, out, 16);
}

static void mark_shared(const uint8_t id[16])
{
  uint8_t copy[16];
  add(&shared, id);
  private_copy_id(id, devs[B_LAP].pk, copy); /* Ada paired with Bea's laptop */
  add(&copies[0], copy);
  private_copy_id(id, devs[A_LAP].pk, copy);
  add(&copies[1], copy);
}

/* ---- the edits ------------------------------------------------------------------ */

struct ids {
  size_t n;
  uint8_t v[MAXIDS][16];
};
static struct ids live;

static int collect(void *arg, const uint8_t id[16])
{
  struct ids *l = arg;
  if (l->n < MAXIDS)
    memcpy(l->v[l->n++], id, 16);
  return 0;
}

/* The live contacts of a replica whose card lives in space `want` (0: any), in
 * id order; the ids are the seeded generator's, so the order replays. */
static size_t live_contacts(kith_txn *t, uint32_t want)
{
  static struct ids all;
  live.n = 0;
  all.n = 0;
  assert_rc(kith_kind_each(t, KITH_KIND_CONTACT, collect, &all), 0);
  for (size_t i = 0; i < all.n; i++) {
    uint32_t sp;
    assert_rc(kith_card_space(t, all.v[i], &sp), 0);
    if (!want || sp == want)
      memcpy(live.v[live.n++], all.v[i], 16);
  }
  return live.n;
}

/* The partnership's local number on a replica, or 0 if it never saw it. */
static uint32_t partnership(kith_txn *t)
{
  uint32_t local = 0;
  int rc = kith_space_local(t, gid, false, &local);
  if (rc == KITH_ENOTFOUND)
    return 0;
  assert_rc(rc, 0);
  return local;
}

static struct kith_value *text(const char *s)
{
  struct kith_value *v = kith_value_new(1, &s);
  assert_non_null(v);
  return v;
}

static void set_field(kith_txn *t, const uint8_t id[16], uint8_t field, const char *s)
{
  struct kith_value *v = text(s);
  assert_rc(kith_field_set(t, id, kith_field_by_id(field), v), 0);
  kith_value_free(v);
}

static bool is_live_contact(int r, const uint8_t id[16])
{
  struct kith_record *rec = NULL;
  kith_txn *t = kt_begin(devs[r].s.st, false);
  int rc = kith_record_load(t, id, &rec);
  bool ok = rc == 0 && !rec->deleted && rec->kind == KITH_KIND_CONTACT;
  kith_record_free(rec);
  kith_txn_abort(t);
  return ok;
}

struct tally {
  unsigned created, set, conflicts, emails, unemails, deleted, notes, follow, shared,
      unshared, referred, moved, syncs, cut, ok, refused, undialed, after_revoke_known,
      after_revoke_unknown, posts;
};
static struct tally tally;

static const uint8_t text_fields[] = {KITH_F_NAME, KITH_F_ORG, KITH_F_TITLE};

/* KITH_PROP_TRACE=1 prints every step. */
static bool tracing(void)
{
  const char *e = getenv("KITH_PROP_TRACE");
  return e && *e && *e != '0';
}

static void trace_edit(int r, const char *what, const uint8_t id[16])
{
  char hex[33];
  if (!tracing())
    return;
  kith_hex_encode(id, 16, hex);
  print_message("  %d: %s %s %s\n", step, names[r], what, hex);
}

/* The referrals replica t holds, oldest first (their ids are random, their
 * stamps replay but for ties between devices). */
static int by_created(const void *x, const void *y)
{
  const struct kith_referral *a = x, *b = y;
  return kith_stamp_cmp(&a->created, &b->created);
}

/* On replica r: passes one of its live contacts to the partner as a referral, or
 * moves one it received to a random status (core/referral.h). */
static void refer_or_move(kith_txn *t, int r)
{
  static struct ids refs;
  static struct kith_referral got[MAXIDS];
  uint8_t out[16];
  size_t n = 0;
  refs.n = 0;
  assert_rc(kith_kind_each(t, KITH_KIND_REFERRAL, collect, &refs), 0);
  for (size_t i = 0; i < refs.n; i++) {
    assert_rc(kith_referral_load(t, refs.v[i], &got[n]), 0);
    if (got[n].given) /* only the receiver moves it */
      kith_referral_clear(&got[n]);
    else
      n++;
  }
  if (n)
    qsort(got, n, sizeof got[0], by_created);
  if (n && chance(60)) {
    struct kith_referral *g = &got[pick((uint32_t)n)];
    const char *st = kith_referral_status_name((int)pick(KITH_REF_STATUSES));
    assert_rc(kith_referral_set_status(t, g->id, st, chance(50) ? "a note" : NULL), 0);
    trace_edit(r, st, g->id);
    tally.moved++;
  } else if (live_contacts(t, 0)) {
    uint8_t id[16];
    memcpy(id, live.v[pick((uint32_t)live.n)], 16);
    int rc = kith_referral_add(t, id, peer_of[devs[r].user], "a lead", "10 EUR", out);
    if (rc == 0) {
      mark_shared(id); /* its card is shared (one partnership: never a copy) */
      add(&shared, out);
      if (r == A_TAB)
        add(&by_tablet, id);
      trace_edit(r, "refers", id);
      tally.referred++;
    } else if (rc != KITH_EINVAL) { /* EINVAL: the partnership not known here yet */
      assert_rc(rc, 0);
    }
  }
  for (size_t i = 0; i < n; i++)
    kith_referral_clear(&got[i]);
}

/* One random edit on replica r. */
static void edit(int r)
{
  struct dev *d = &devs[r];
  char buf[64];
  uint8_t id[16], out[16];
  kith_txn *t = kt_begin(d->s.st, true);
  uint32_t op = pick(100);
  size_t n = live_contacts(t, 0);
  if (op < 18 || n == 0) { /* a new contact with a private tag */
    for (int i = 0; i < 16; i++)
      id[i] = (uint8_t)next();
    snprintf(buf, sizeof buf, "Person %d/%d", step, r);
    assert_rc(kith_record_create(t, KITH_KIND_CONTACT, true, id), 0);
    set_field(t, id, KITH_F_NAME, buf);
    snprintf(buf, sizeof buf, "secret-%d", pick(5));
    struct kith_value *v = text(buf);
    assert_rc(kith_set_add(t, id, kith_field_by_id(KITH_F_TAGS), v), 0);
    kith_value_free(v);
    add(&created[d->user], id);
    trace_edit(r, "creates", id);
    tally.created++;
    kt_commit(t);
    return;
  }
  memcpy(id, live.v[pick((uint32_t)n)], 16);
  uint8_t field = text_fields[pick(3)];
  snprintf(buf, sizeof buf, "v%d on %d", step, r);
  if (op < 40) {
    set_field(t, id, field, buf);
    trace_edit(r, "sets a field of", id);
    tally.set++;
  } else if (op < 48) { /* the same field on a second replica, before any sync */
    set_field(t, id, field, buf);
    kt_commit(t);
    int r2 = (int)pick(NDEV);
    if (r2 != r && is_live_contact(r2, id)) {
      t = kt_begin(devs[r2].s.st, true);
      snprintf(buf, sizeof buf, "v%d on %d too", step, r2);
      set_field(t, id, field, buf);
      trace_edit(r2, "sets the same field, before any sync, of", id);
      tally.conflicts++;
      kt_commit(t);
    }
    return;
  } else if (op < 58) {
    const char *parts[2] = {buf, "work"};
    snprintf(buf, sizeof buf, "p%u@example.org", pick(4));
    struct kith_value *v = kith_value_new(2, parts);
    assert_non_null(v);
    assert_rc(kith_set_add(t, id, kith_field_by_id(KITH_F_EMAILS), v), 0);
    kith_value_free(v);
    tally.emails++;
  } else if (op < 64) { /* remove one of its e-mails, if it has one */
    struct kith_record *rec = NULL;
    assert_rc(kith_record_load(t, id, &rec), 0);
    size_t k = rec->n;
    for (size_t i = 0; i < rec->n; i++)
      if (rec->regs[i].field == KITH_F_EMAILS && kith_reg_live(&rec->regs[i]) &&
          (k == rec->n || chance(50)))
        k = i;
    if (k < rec->n) {
      assert_rc(
          kith_set_remove(t, id, kith_field_by_id(KITH_F_EMAILS), rec->regs[k].val), 0);
      tally.unemails++;
    }
    kith_record_free(rec);
  } else if (op < 68) {
    assert_rc(kith_record_delete(t, id), 0);
    trace_edit(r, "deletes", id);
    tally.deleted++;
  } else if (op < 75) {
    uint8_t note[16];
    snprintf(buf, sizeof buf, "met on step %d", step);
    assert_rc(kith_note_create(t, id, buf, note), 0);
    add(&created[d->user], note);
    tally.notes++;
  } else if (op < 79) {
    snprintf(buf, sizeof buf, "2026-03-%02u", 1 + pick(28));
    set_field(t, id, KITH_F_FOLLOW_UP, buf);
    tally.follow++;
  } else if (op < 93 && chance(50)) { /* a referral: passed, or moved on */
    refer_or_move(t, r);
  } else if (op < 93) { /* share one of the cards in self */
    if (live_contacts(t, KITH_SPACE_SELF)) {
      memcpy(id, live.v[pick((uint32_t)live.n)], 16);
      int rc = kith_share(t, id, peer_of[d->user], out);
      if (rc == 0) {
        if (memcmp(out, id, 16) != 0)
          prop_fail("sharing with the one partner made a copy");
        mark_shared(id);
        if (r == A_TAB)
          add(&by_tablet, id);
        trace_edit(r, "shares", id);
        tally.shared++;
      } else if (rc != KITH_EINVAL) { /* EINVAL: the partnership not known here yet */
        assert_rc(rc, 0);
      }
    }
  } else { /* unshare one of the shared cards */
    uint32_t p = partnership(t);
    if (p && live_contacts(t, p)) {
      memcpy(id, live.v[pick((uint32_t)live.n)], 16);
      assert_rc(kith_unshare(t, id, peer_of[d->user], out), 0);
      trace_edit(r, "unshares", id);
      trace_edit(r, "  its private copy:", out);
      tally.unshared++;
    }
  }
  kt_commit(t);
}

/* ---- syncs ---------------------------------------------------------------------- */

struct run {
  bool dialed;
  struct kith_link_result d, a;
};

/* dialer dials acceptor; budget bytes (-1: no cut). */
static struct run sync_run(int dialer, int acceptor, long budget)
{
  kith_link *ld = NULL, *la = NULL;
  struct run r;
  memset(&r, 0, sizeof r);
  int rc = kith_link_dial_sync_new(devs[dialer].s.st, devs[acceptor].pk, kt_clock, &ld);
  if (rc == KITH_EINVAL) /* the dialer does not trust the other (yet, or any more) */
    return r;
  if (rc) /* see test_dial_a_partners_revoked_device */
    prop_fail("%s dialing %s: %s, where link.h promises KITH_EINVAL for a device "
              "it does not trust",
              names[dialer], names[acceptor], kith_strerror(rc));
  r.dialed = true;
  assert_rc(kith_link_accept_new(devs[acceptor].s.st, kt_clock, &la), 0);
  kt_pump(&kith_link_vt, ld, la, 0, -1, -1, budget, 100000);
  kith_link_result(ld, &r.d);
  kith_link_result(la, &r.a);
  kith_link_free(ld);
  kith_link_free(la);
  return r;
}

/* Checks what one user's store holds of the other's (see the top). */
struct leak {
  int user;       /* whose store this is */
  const char *at; /* which, for the message */
};

static bool stamped_by(int user, const struct kith_stamp *s)
{
  for (int i = 0; i < NDEV; i++)
    if (devs[i].user == user && memcmp(s->dev, devs[i].devid, KITH_DEVICE_ID_LEN) == 0)
      return true;
  return false;
}

static int leak_one(void *arg, const struct kith_reg *r)
{
  struct leak *l = arg;
  int other = 1 - l->user;
  char hex[33];
  kith_hex_encode(r->ent, 16, hex);
  bool allowed = has(&shared, r->ent) || has(&copies[l->user], r->ent);
  if (has(&created[other], r->ent) && !allowed)
    prop_fail("%s holds record %s of the other user's, never shared (field %u)", l->at,
              hex, r->field);
  bool theirs = stamped_by(other, &r->stamp) ||
                (r->has_elem && r->rem.hlc && stamped_by(other, &r->rem));
  if (theirs && (!kith_field_in_card(r->field) || !allowed)) {
    const char *kind = r->field == KITH_F_KIND && r->val ? r->val->p[0] : "";
    prop_fail("%s holds a register the other user wrote outside any shared card: "
              "record %s field %u %s",
              l->at, hex, r->field, kind ? kind : "");
  }
  if (r->field == KITH_F_KIND && r->val && r->val->p[0] &&
      strcmp(r->val->p[0], "device") == 0 && theirs)
    prop_fail("%s holds a device record of the other user's", l->at);
  return 0;
}

static void check_leaks(int i)
{
  struct leak l = {devs[i].user, names[i]};
  kith_txn *t = kt_begin(devs[i].s.st, false);
  assert_rc(kith_reg_each(t, leak_one, &l), 0);
  kith_txn_abort(t);
}

/* Whether the revocation reached replica i: its store no longer trusts the tablet
 * (one of Ada's devices: revoked; one of Bea's: out of the roster, or never in). */
static bool knows_revoked(int i)
{
  enum kith_trust tr = trust_of(i, devs[A_TAB].pk);
  return tr != KITH_TRUST_DEVICE && tr != KITH_TRUST_PEER;
}

static void revoke_tablet(void)
{
  /* by the laptop, which made the partnership, or by the phone, which may not have
   * heard of it yet (see test_revoke_before_partnership_reaches_partner) */
  int by = chance(50) ? A_LAP : A_PH;
  uint8_t id[16];
  kith_txn *t = kt_begin(devs[by].s.st, true);
  assert_rc(kith_key_owner(t, KITH_KIND_DEVICE, devs[A_TAB].pk, id), 0);
  assert_rc(kith_device_revoke(t, id), 0);
  kt_commit(t);
  revoked = true;
  print_message("  step %d: %s revokes the tablet\n", step, names[by]);
}

/* One sync attempt, checked. Returns true if both sides finished. */
static bool sync_checked(int dialer, int acceptor, long budget)
{
  uint8_t before[32], after[32];
  int other = dialer == A_TAB ? acceptor : acceptor == A_TAB ? dialer : -1;
  bool watched = revoked && other >= 0 && knows_revoked(other);
  if (revoked && other >= 0)
    watched ? tally.after_revoke_known++ : tally.after_revoke_unknown++;
  if (watched)
    digest(A_TAB, before);
  struct run r = sync_run(dialer, acceptor, budget);
  if (tracing())
    print_message("  %d: %s -> %s, %ld bytes: %s %s / %s %s\n", step, names[dialer],
                  names[acceptor], budget,
                  r.dialed ? kith_strerror(r.d.error) : "not dialed", r.d.why,
                  kith_strerror(r.a.error), r.a.why);
  tally.syncs++;
  tally.cut += budget >= 0;
  bool ok = r.dialed && r.d.error == 0 && r.a.error == 0;
  tally.ok += ok;
  tally.undialed += !r.dialed;
  bool refused = r.dialed && r.d.error == KITH_EREFUSED;
  tally.refused += refused;
  if (watched) {
    digest(A_TAB, after);
    if (memcmp(before, after, 32) != 0)
      prop_fail("the revoked tablet's store changed in a sync with %s, which "
                "knows of the revocation",
                names[other]);
    if (ok)
      prop_fail("%s and the revoked tablet synced", names[other]);
    if (other == dialer && r.dialed)
      prop_fail("%s dialed the tablet it knows is revoked", names[other]);
    if (other == acceptor && budget < 0 && r.dialed && /* (it may not know Bea's) */
        (r.d.error != KITH_EREFUSED || r.a.error != KITH_EREFUSED))
      prop_fail("the revoked tablet's dial to %s: %s (%s) / %s (%s), not refused",
                names[other], kith_strerror(r.d.error), r.d.why,
                kith_strerror(r.a.error), r.a.why);
  }
  /* a whole sync between honest replicas succeeds, or one side does not trust
   * the other (yet: rosters travel with syncs; or any more: the revocation) */
  if (budget < 0 && r.dialed && !ok &&
      !(r.d.error == KITH_EREFUSED && r.a.error == KITH_EREFUSED))
    prop_fail("%s -> %s failed: dialer %s (%s), acceptor %s (%s)", names[dialer],
              names[acceptor], kith_strerror(r.d.error), r.d.why,
              kith_strerror(r.a.error), r.a.why);
  /* a cut one fails as a truncated session, never as a protocol error */
  if (budget >= 0 && r.dialed && !ok &&
      (r.d.error == KITH_EPROTO || r.a.error == KITH_EPROTO ||
       r.d.error == KITH_EBADMSG || r.a.error == KITH_EBADMSG))
    prop_fail("%s -> %s cut at %ld: dialer %s (%s), acceptor %s (%s)", names[dialer],
              names[acceptor], budget, kith_strerror(r.d.error), r.d.why,
              kith_strerror(r.a.error), r.a.why);
  check_leaks(dialer);
  check_leaks(acceptor);
  return ok;
}

/* ---- posts ----------------------------------------------------------------------- */

#define POST_MAX 64

/* from posts to `to`; the envelopes are delivered (lossy: some dropped, some twice,
 * some out of order). Returns how many envelopes it made. */
static size_t post_checked(int from, int to, bool lossy)
{
  kith_poster *p = NULL;
  enum kith_post_mode mode = lossy && chance(20) ? KITH_POST_BUNDLE : KITH_POST_RELAY;
  int rc = kith_poster_new(devs[from].s.st, devs[to].pk, mode, kt_clock(), &p);
  if (rc == KITH_EREFUSED) /* it does not trust the other (yet, or any more) */
    return 0;
  assert_rc(rc, 0);
  uint8_t *env[POST_MAX], box[KITH_BOX_LEN];
  size_t len[POST_MAX], n = 0, order[POST_MAX];
  uint64_t last = 0;
  memcpy(box, kith_poster_box(p), KITH_BOX_LEN);
  for (;;) {
    uint8_t *e = NULL;
    size_t l = 0;
    uint64_t num = 0;
    if ((rc = kith_poster_next(p, &e, &l, &num)) != 0)
      prop_fail("%s posting to %s: %s (%s)", names[from], names[to], kith_strerror(rc),
                kith_poster_why(p));
    if (!e)
      break;
    if (n == POST_MAX)
      prop_fail("%s posting to %s: more than %d envelopes", names[from], names[to],
                POST_MAX);
    env[n] = e, len[n] = l, order[n] = n, last = num;
    n++;
  }
  if (n)
    assert_rc(kith_poster_commit(p, last), 0); /* as a relay that took them all */
  kith_poster_free(p);
  for (size_t i = n; lossy && i > 1; i--) /* some rounds: out of order */
    if (chance(30)) {
      size_t j = pick((uint32_t)i), t = order[i - 1];
      order[i - 1] = order[j], order[j] = t;
    }
  bool watched = revoked && from == A_TAB && knows_revoked(to);
  uint8_t before[32], after[32];
  if (watched)
    digest(to, before);
  for (size_t k = 0; k < n; k++) {
    size_t i = order[k];
    int times = lossy && chance(15) ? 0 : lossy && chance(10) ? 2 : 1;
    for (int t = 0; t < times; t++) {
      kith_inbox *ib = NULL;
      struct kith_inbox_result res;
      assert_rc(kith_inbox_new(devs[to].s.st, kt_clock, &ib), 0);
      rc = kith_inbox_take(ib, box, env[i], len[i], &res);
      if (tracing())
        print_message("  %d: %s => %s, envelope %zu: %s %s\n", step, names[from],
                      names[to], i, kith_strerror(rc), kith_inbox_why(ib));
      if (rc && rc != KITH_ENOTFOUND && !(rc == KITH_EREFUSED && revoked))
        prop_fail("%s => %s: an envelope refused: %s (%s)", names[from], names[to],
                  kith_strerror(rc), kith_inbox_why(ib));
      kith_inbox_free(ib);
    }
  }
  for (size_t i = 0; i < n; i++)
    free(env[i]);
  if (watched) {
    digest(to, after);
    if (memcmp(before, after, 32) != 0)
      prop_fail("%s took a post from the tablet it knows is revoked", names[to]);
  }
  tally.posts += n;
  check_leaks(to);
  return n;
}

/* Posts alone, whole, both ways over every pair, until a pass makes none. */
static int settle_posts(void)
{
  kt_now_ms += KITH_POST_RESEND_MS + 1000; /* in flight so long: sent again */
  for (int pass = 0; pass < 2 * PASSES; pass++) {
    size_t moved = 0;
    for (size_t k = 0; k < NPAIRS; k++)
      for (int dir = 0; dir < 2; dir++)
        moved += post_checked(pairs[k][dir], pairs[k][1 - dir], false);
    if (moved == 0)
      return pass + 1;
  }
  prop_fail("posts still moving after %d passes over every pair", 2 * PASSES);
  return 2 * PASSES;
}

/* ---- the final checks ------------------------------------------------------------ */

struct blobs {
  size_t n, cap;
  struct blob {
    uint8_t *p;
    size_t len;
  } * v;
  uint32_t space;
};

static int blob_cmp(const void *x, const void *y)
{
  const struct blob *a = x, *b = y;
  size_t n = a->len < b->len ? a->len : b->len;
  int c = memcmp(a->p, b->p, n);
  return c ? c : (a->len > b->len) - (a->len < b->len);
}

static int collect_space(void *arg, const struct kith_reg *r)
{
  struct blobs *b = arg;
  if (r->space != b->space || (revoked && has(&by_tablet, r->ent)))
    return 0;
  if (b->n == b->cap) {
    b->cap = b->cap ? 2 * b->cap : 256;
    b->v = realloc(b->v, b->cap * sizeof *b->v);
    assert_non_null(b->v);
  }
  assert_rc(kith_reg_encode_canonical(r, &b->v[b->n].p, &b->v[b->n].len), 0);
  b->n++;
  return 0;
}

/* The canonical encodings of the registers a replica holds in the partnership
 * space (stored `space` = its local number there), sorted. When the tablet is
 * revoked, the cards it shared are left out: Bea may have taken such a share from
 * the tablet before she learned of the revocation, while Ada's other devices,
 * which refuse the tablet from then on, never hear of it and keep the card in
 * self; what Bea sends of that card later (edits, her unsharing it) is then
 * skipped there as a partner's attempt to reach into a private record (sync.c,
 * place). That is where a revocation cannot reach in time, not a sync fault. */
static struct blobs partnership_regs(int i)
{
  struct blobs b = {0};
  kith_txn *t = kt_begin(devs[i].s.st, false);
  b.space = partnership(t);
  assert_true(b.space != 0);
  assert_rc(kith_reg_each(t, collect_space, &b), 0);
  kith_txn_abort(t);
  qsort(b.v, b.n, sizeof *b.v, blob_cmp);
  return b;
}

static void blobs_free(struct blobs *b)
{
  for (size_t i = 0; i < b->n; i++)
    free(b->v[i].p);
  free(b->v);
}

static void print_reg(const char *who, const struct blob *b)
{
  struct kith_reg r = {0};
  char hex[33];
  assert_rc(kith_reg_decode_canonical(b->p, b->len, &r), 0);
  kith_hex_encode(r.ent, 16, hex);
  print_error("  only on %s: record %s field %u%s %s\n", who, hex, r.field,
              r.has_elem ? " (element)" : "",
              r.val && r.val->p[0] ? r.val->p[0] : "(no value)");
  kith_reg_clear(&r);
}

static void check_partnership_equal(int a, int b)
{
  struct blobs x = partnership_regs(a), y = partnership_regs(b);
  size_t i = 0, j = 0, diff = 0;
  while (i < x.n || j < y.n) {
    int c = i == x.n ? 1 : j == y.n ? -1 : blob_cmp(&x.v[i], &y.v[j]);
    if (c == 0) {
      i++, j++;
      continue;
    }
    diff++;
    if (c < 0)
      print_reg(names[a], &x.v[i++]);
    else
      print_reg(names[b], &y.v[j++]);
  }
  size_t nx = x.n, ny = y.n;
  blobs_free(&x);
  blobs_free(&y);
  if (diff)
    prop_fail("the partnership space differs between %s (%zu registers) and %s "
              "(%zu): %zu registers",
              names[a], nx, names[b], ny, diff);
}

static void assert_same(int a, int b)
{
  uint8_t da[32], db[32];
  digest(a, da);
  digest(b, db);
  if (memcmp(da, db, 32) != 0)
    prop_fail("%s and %s differ after syncing until nothing moved", names[a], names[b]);
}

/* Full syncs over every pair until a pass changes nothing; returns the passes. */
static int settle(void)
{
  for (int pass = 0; pass < PASSES; pass++) {
    uint8_t before[NDEV][32], after[NDEV][32];
    bool all_ok = true;
    for (int i = 0; i < NDEV; i++)
      digest(i, before[i]);
    for (size_t k = 0; k < NPAIRS; k++) {
      int x = pairs[k][pass % 2], y = pairs[k][1 - pass % 2];
      bool ok = sync_checked(x, y, -1);
      bool tablet = revoked && (x == A_TAB || y == A_TAB);
      all_ok &= ok || tablet;
    }
    for (int i = 0; i < NDEV; i++)
      digest(i, after[i]);
    if (all_ok && memcmp(before, after, sizeof before) == 0)
      return pass + 1;
  }
  prop_fail("still changing after %d passes of full syncs over every pair", PASSES);
  return PASSES;
}

static void final_checks(void)
{
  assert_same(A_LAP, A_PH);
  if (!revoked)
    assert_same(A_LAP, A_TAB);
  assert_same(B_LAP, B_PH);
  for (int i = 0; i < NDEV; i++)
    check_leaks(i);
  if (revoked)
    for (int i = 0; i < NDEV; i++)
      if (i != A_TAB && !knows_revoked(i))
        prop_fail("%s still trusts the revoked tablet", names[i]);
  check_partnership_equal(A_LAP, B_LAP);
}

static void run_seed(uint64_t s, int steps)
{
  seed = rng = s;
  step = 0;
  in_property = true;
  revoked = false;
  memset(&tally, 0, sizeof tally);
  created[0].n = created[1].n = shared.n = by_tablet.n = 0;
  copies[0].n = copies[1].n = 0;
  setup();
  add(&shared, roster);
  bool will_revoke = chance(67);
  int revoke_at = steps / 3 + (int)pick((uint32_t)(steps / 2 + 1));
  print_message("sync property: seed %" PRIu64 " (KITH_PROP_SEED), %d steps%s\n", s,
                steps, will_revoke ? ", the tablet revoked" : "");
  for (step = 0; step < steps; step++) {
    if (will_revoke && step == revoke_at)
      revoke_tablet();
    kt_now_ms += pick(3);
    uint32_t what = pick(100);
    if (what < 40) {
      size_t k = pick(NPAIRS);
      bool flip = chance(50);
      int x = pairs[k][flip], y = pairs[k][!flip];
      long budget = -1;
      if (chance(30))
        budget = chance(50) ? (long)pick(2000) : (long)pick(30000);
      sync_checked(x, y, budget);
    } else if (what < 52) {
      size_t k = pick(NPAIRS);
      bool flip = chance(50);
      post_checked(pairs[k][flip], pairs[k][!flip], true);
    } else if (what < 57) {
      kt_now_ms += 1 + pick(50);
    } else {
      edit((int)pick(NDEV));
    }
  }
  step = -1; /* the checks after the random phase: by posts alone, then syncs */
  int post_passes = settle_posts();
  final_checks();
  int passes = settle();
  final_checks();
  print_message("  %u created, %u set, %u conflicting, %u/%u e-mails added/removed, "
                "%u deleted, %u notes, %u follow-ups, %u/%u shared/unshared, %u/%u "
                "referrals passed/moved; %u "
                "syncs (%u cut): %u whole, %u refused, %u not dialed; after the "
                "revocation %u with a device that knew, %u with one that did not; "
                "%u envelopes; settled by posts in %d passes, then by syncs in %d\n",
                tally.created, tally.set, tally.conflicts, tally.emails, tally.unemails,
                tally.deleted, tally.notes, tally.follow, tally.shared, tally.unshared,
                tally.referred, tally.moved, tally.syncs, tally.cut, tally.ok,
                tally.refused, tally.undialed, tally.after_revoke_known,
                tally.after_revoke_unknown, tally.posts, post_passes, passes);
  teardown();
  in_property = false;
}

/* ---- the smallest scenarios of what the property test found --------------------- */

static void sync_ok(int dialer, int acceptor)
{
  struct run r = sync_run(dialer, acceptor, -1);
  if (!r.dialed || r.d.error || r.a.error)
    fail_msg("%s -> %s: dialer %s (%s), acceptor %s (%s)", names[dialer],
             names[acceptor], r.dialed ? kith_strerror(r.d.error) : "not dialed",
             r.d.why, kith_strerror(r.a.error), r.a.why);
}

static void new_contact(int i, const char *name, uint8_t id[16])
{
  kith_txn *t = kt_begin(devs[i].s.st, true);
  assert_rc(kith_record_create(t, KITH_KIND_CONTACT, false, id), 0);
  set_field(t, id, KITH_F_NAME, name);
  kt_commit(t);
}

/* Two sync engines (core/sync.h, no link) of dialer and acceptor, messages moved
 * one at a time, until `who` acknowledges a batch: it has committed the batch, and
 * that ACK is lost with everything after it, as when the connection drops there.
 * Returns whether it came to that. */
static bool cut_after_commit(int dialer, int acceptor, int who)
{
  kith_sync *s[2] = {NULL, NULL};
  struct kith_sync_hello *hello = calloc(KITH_SYNC_HELLO_MAX, sizeof *hello);
  uint8_t buf[KITH_NOISE_MAX_PAYLOAD];
  bool lost = false;
  assert_non_null(hello);
  assert_rc(kith_sync_new(devs[dialer].s.st, devs[acceptor].pk, true, kt_clock, &s[0]),
            0);
  assert_rc(kith_sync_new(devs[acceptor].s.st, devs[dialer].pk, false, kt_clock, &s[1]),
            0);
  assert_rc(kith_sync_start(s[0]), 0);
  for (int moves = 0; moves < 10000 && !lost; moves++) {
    bool moved = false;
    for (int k = 0; k < 2 && !lost; k++) {
      size_t len = 0;
      assert_rc(kith_sync_next(s[k], buf, sizeof buf, &len), 0);
      if (!len)
        continue;
      moved = true;
      struct kith_msg m;
      struct kith_smsg sm = {.hello = hello};
      assert_rc(kith_msg_decode(buf, len, &m), 0);
      assert_rc(kith_smsg_decode(&m, &sm), 0);
      if (sm.type == KITH_SYNC_ACK && (k ? acceptor : dialer) == who) {
        lost = true;
        break;
      }
      assert_rc(kith_sync_recv(s[1 - k], &m), 0);
    }
    if (!moved)
      break;
  }
  kith_sync_free(s[0]);
  kith_sync_free(s[1]);
  free(hello);
  return lost;
}

/*
 * Found by the property test (seed 20261201, step 72, on 8f2d107): a device whose
 * log in a space was still empty received its first batch there, logged it, and
 * took the sender to hold its log through there (SKIP and `held`); the sender,
 * which had never received anything of that log, ignored the hint. The device's
 * next change there went out after a position the sender did not hold, and every
 * sync between the two failed from then on: "rejected a batch out of order (it
 * starts after 1, this side holds through 0)". Fixed in 903d9c6; SKIP is gone
 * since 07e47d0 (log entries remember who holds them).
 */
static void test_first_batch_into_an_empty_log(void **state)
{
  (void)state;
  uint8_t c[16], out[16];
  rng = seed = 1;
  setup();
  sync_ok(B_LAP, B_PH); /* the phone's first partnership batch: the roster */
  new_contact(B_PH, "Shared from the phone", c);
  kith_txn *t = kt_begin(devs[B_PH].s.st, true);
  assert_rc(kith_share(t, c, peer_of[1], out), 0);
  kt_commit(t);
  sync_ok(B_LAP, B_PH);
  teardown();
}

/*
 * Found by the property test's cut syncs (on 8f2d107): the receiver of a batch,
 * with nothing of its own to send, committed it and took the sender to hold its
 * log through the batch's end (`held`, said by SKIP), while the sender learned it
 * only when the round ended. A connection cut in between left the two disagreeing
 * for good: the receiver's next change went out after a position the sender did
 * not hold ("rejected a batch out of order"). Fixed in 903d9c6; since 07e47d0 the
 * log entry itself remembers who holds it. Here the cut comes right after the
 * phone commits the laptop's batch, before the laptop hears of it.
 */
static void test_cut_after_a_commit(void **state)
{
  (void)state;
  uint8_t a[16], b[16];
  rng = seed = 2;
  setup();
  new_contact(A_LAP, "On the laptop", a);
  new_contact(A_PH, "On the phone", b);
  sync_ok(A_PH, A_LAP);
  kt_now_ms += 10;
  kith_txn *t = kt_begin(devs[A_LAP].s.st, true);
  set_field(t, a, KITH_F_ORG, "Navy");
  kt_commit(t);
  assert_true(cut_after_commit(A_PH, A_LAP, A_PH));
  kt_now_ms += 10;
  new_contact(A_PH, "Later, on the phone", b);
  sync_ok(A_PH, A_LAP);
  teardown();
}

/*
 * Found by the property test when the revoking device was picked at random (on
 * 8f2d107): a device that revokes the tablet before it has heard of the
 * partnership took the key out of the rosters it knew, none; nothing took it out
 * later, so Bea kept accepting the tablet however long Ada's devices had known
 * (DESIGN.md: "a revocation ... syncs to my devices and, through the partnership
 * spaces, to my partners, who then refuse the revoked device"). Fixed in 903d9c6
 * (kith_rosters_reconcile after each round).
 */
static void test_revoke_before_partnership_reaches_partner(void **state)
{
  (void)state;
  uint8_t id[16];
  rng = seed = 3;
  setup();
  sync_ok(A_LAP, B_LAP); /* Bea's roster: Ada's three devices */
  assert_int_equal(trust_of(B_LAP, devs[A_TAB].pk), KITH_TRUST_PEER);
  kith_txn *t = kt_begin(devs[A_PH].s.st, true);
  assert_rc(kith_key_owner(t, KITH_KIND_DEVICE, devs[A_TAB].pk, id), 0);
  assert_rc(kith_device_revoke(t, id), 0);
  kt_commit(t);
  for (int pass = 0; pass < 3; pass++) { /* everything everywhere */
    sync_ok(A_PH, A_LAP);
    sync_ok(A_LAP, B_LAP);
    sync_ok(A_PH, B_LAP);
  }
  if (trust_of(B_LAP, devs[A_TAB].pk) == KITH_TRUST_PEER)
    fail_msg("Ada's phone revoked the tablet, every device of Ada's and Bea synced, "
             "and Bea still accepts the tablet");
  teardown();
}

/*
 * A revocation made by a device that has not synced with the others yet reaches
 * them: there is one record per device key on every device of mine (its id comes
 * from the key), so the record it marks is the one the others judge by. (With
 * random ids each device held its own record of the tablet, and the laptop kept
 * trusting it when its own record's id sorted first: about one time in two, so
 * this is tried on eight fresh sets of stores.)
 */
static void test_revoke_before_syncing_reaches_my_devices(void **state)
{
  (void)state;
  uint8_t id[16];
  for (int tries = 0; tries < 8; tries++) {
    dev_new(&devs[A_LAP], "Ada", "laptop", 0);
    dev_new(&devs[A_PH], "Ada", "phone", 0);
    dev_new(&devs[A_TAB], "Ada", "tablet", 0);
    link_devices(&devs[A_LAP], &devs[A_PH]);
    link_devices(&devs[A_LAP], &devs[A_TAB]);
    link_devices(&devs[A_PH], &devs[A_TAB]);
    kith_txn *t = kt_begin(devs[A_PH].s.st, true);
    assert_rc(kith_key_owner(t, KITH_KIND_DEVICE, devs[A_TAB].pk, id), 0);
    assert_rc(kith_device_revoke(t, id), 0);
    kt_commit(t);
    sync_ok(A_PH, A_LAP);
    enum kith_trust tr = trust_of(A_LAP, devs[A_TAB].pk);
    for (int i = A_LAP; i <= A_TAB; i++)
      kt_store_free(&devs[i].s);
    if (tr != KITH_TRUST_REVOKED)
      fail_msg("the phone revoked the tablet, synced with the laptop, and the laptop "
               "judges the tablet %d (try %d)",
               tr, tries);
  }
}

/*
 * Found by the property test (on 8f2d107): once Bea's laptop knows that Ada
 * revoked her tablet (the roster says so: KITH_TRUST_REVOKED), dialing the tablet
 * must be KITH_EINVAL (link.h: "a stranger or a revoked device: never dial it");
 * judge looked the key up among Bea's own device records and returned
 * KITH_ENOTFOUND. Fixed in 903d9c6. The tablet's own dial is refused with REFUSE
 * 2 (KITH_EREFUSED on both sides).
 */
static void test_dial_a_partners_revoked_device(void **state)
{
  (void)state;
  uint8_t id[16];
  kith_link *l = NULL;
  rng = seed = 4;
  setup();
  sync_ok(A_LAP, B_LAP);
  sync_ok(A_TAB, A_LAP); /* the tablet learns of Bea */
  kith_txn *t = kt_begin(devs[A_LAP].s.st, true);
  assert_rc(kith_key_owner(t, KITH_KIND_DEVICE, devs[A_TAB].pk, id), 0);
  assert_rc(kith_device_revoke(t, id), 0);
  kt_commit(t);
  sync_ok(A_LAP, B_LAP);
  assert_int_equal(trust_of(B_LAP, devs[A_TAB].pk), KITH_TRUST_REVOKED);
  struct run r = sync_run(A_TAB, B_LAP, -1);
  assert_true(r.dialed);
  assert_rc(r.d.error, KITH_EREFUSED);
  assert_rc(r.a.error, KITH_EREFUSED);
  assert_rc(kith_link_dial_sync_new(devs[B_LAP].s.st, devs[A_TAB].pk, kt_clock, &l),
            KITH_EINVAL);
  kith_link_free(l);
  teardown();
}

/*
 * Found by the property test (seed 20261204 on 8f2d107, with the SKIP bugs above
 * worked around): when a shared card stops being shared, each user keeps a
 * private copy; its id came from the card's id alone, so Ada's and Bea's copies
 * had the same id, and when Ada shared hers again Bea's devices skipped it as a
 * record of Bea's own self space (sync.c, place): a card shared on Ada's side that
 * never reached Bea, and partnership spaces that differed for good. Fixed in
 * 903d9c6 (the copy's id also hashes the partner's key).
 */
static void test_reshare_a_private_copy(void **state)
{
  (void)state;
  uint8_t c[16], out[16], copy[16];
  rng = seed = 5;
  setup();
  new_contact(A_LAP, "Grace Hopper", c);
  kith_txn *t = kt_begin(devs[A_LAP].s.st, true);
  assert_rc(kith_share(t, c, peer_of[0], out), 0);
  kt_commit(t);
  sync_ok(A_LAP, B_LAP);
  t = kt_begin(devs[A_LAP].s.st, true);
  assert_rc(kith_unshare(t, c, peer_of[0], copy), 0);
  kt_commit(t);
  sync_ok(A_LAP, B_LAP); /* Bea keeps a private copy too, under another id */
  assert_true(is_live_contact(A_LAP, copy));
  assert_false(is_live_contact(B_LAP, copy));
  kt_now_ms += 10;
  t = kt_begin(devs[A_LAP].s.st, true);
  set_field(t, copy, KITH_F_TITLE, "Rear Admiral");
  assert_rc(kith_share(t, copy, peer_of[0], out), 0);
  kt_commit(t);
  sync_ok(A_LAP, B_LAP);
  step = -1;
  check_partnership_equal(A_LAP, B_LAP);
  teardown();
}

/*
 * FAILS (core/json.c and core/store.c, or sync.c; left failing on purpose, found
 * by tests/fuzz/fuzz_sync.c): a kind register is last-writer-wins whatever the
 * kind, and an existing register keeps its space (kith_txn_put). Importing a JSON
 * note whose "id" is a shared card's id (a crafted or mixed-up file) makes that
 * card's kind "note", in the partnership space; every batch of that space then
 * carries it, Bea refuses each one ("a record of a kind no shared space holds"),
 * and Ada's changes never reach Bea again. The same comes from one of Ada's own
 * devices writing another kind under the card's id: her other devices refuse it
 * too. Neither the writer nor the receiver of a kind change keeps a non-card kind
 * out of a shared space.
 */
static void test_import_a_note_under_a_shared_cards_id(void **state)
{
  (void)state;
  uint8_t c[16], out[16];
  char hex[33], doc[256], err[256] = "";
  struct kith_import_stats st = {0};
  rng = seed = 6;
  setup();
  new_contact(A_LAP, "Grace Hopper", c);
  kith_txn *t = kt_begin(devs[A_LAP].s.st, true);
  assert_rc(kith_share(t, c, peer_of[0], out), 0);
  kt_commit(t);
  sync_ok(A_LAP, B_LAP);
  kith_hex_encode(c, 16, hex);
  snprintf(doc, sizeof doc,
           "[{\"name\": \"Someone\", \"notes\": [{\"id\": \"%s\", \"text\": \"hi\"}]}]",
           hex);
  kt_now_ms += 10;
  t = kt_begin(devs[A_LAP].s.st, true);
  int rc = kith_json_import_text(t, doc, strlen(doc), &st, err, sizeof err);
  if (rc == 0)
    kt_commit(t);
  else
    kith_txn_abort(t); /* refusing the file is one right answer */
  kt_now_ms += 10;
  new_contact(A_LAP, "Met later", out);
  t = kt_begin(devs[A_LAP].s.st, true);
  assert_rc(kith_share(t, out, peer_of[0], c), 0);
  kt_commit(t);
  sync_ok(A_LAP, B_LAP); /* fails: Bea refuses the batch with the "note" */
  assert_true(is_live_contact(B_LAP, out));
  teardown();
}

static void test_sync_property(void **state)
{
  (void)state;
  const char *env = getenv("KITH_PROP_STEPS");
  int steps = env ? (int)strtol(env, NULL, 10) : STEPS;
  env = getenv("KITH_PROP_SEED");
  if (env) {
    run_seed(strtoull(env, NULL, 0), steps);
    return;
  }
  for (uint64_t s = 0; s < SEEDS; s++)
    run_seed(20261201 + s, steps);
}

/* After each test, failed or not: no store left open or in /tmp. */
static int cleanup(void **state)
{
  (void)state;
  teardown();
  in_property = false;
  return 0;
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_first_batch_into_an_empty_log, cleanup),
      cmocka_unit_test_teardown(test_cut_after_a_commit, cleanup),
      cmocka_unit_test_teardown(test_revoke_before_partnership_reaches_partner,
                                cleanup),
      cmocka_unit_test_teardown(test_revoke_before_syncing_reaches_my_devices, cleanup),
      cmocka_unit_test_teardown(test_dial_a_partners_revoked_device, cleanup),
      cmocka_unit_test_teardown(test_reshare_a_private_copy, cleanup),
      cmocka_unit_test_teardown(test_import_a_note_under_a_shared_cards_id, cleanup),
      cmocka_unit_test_teardown(test_sync_property, cleanup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
