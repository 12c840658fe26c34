/*
 * test_merge_prop.c — the merge property test: replicas that have seen the same
 * changes hold byte-identical state, whatever the order, and that state is the one
 * the rules in proto/reg.h give.
 *
 * Several replicas (separate stores, each its own device and its own wall clock,
 * some seconds apart, each jumping back now and then) make thousands of random
 * edits through the public model API, on shared records: the same fields set
 * concurrently, the same tags added on one replica and removed on another,
 * records deleted while others edit them, the same record created twice. Between
 * rounds some replicas sync with others by the store's log, as sync does: what
 * follows the last sequence number received, in bounded batches, the position
 * advanced only after each batch is committed.
 *
 * Every write each replica makes is recorded as it happens (the registers of the
 * records it touched, before and after). At the end:
 *   1. a fresh replica pulls every replica's log in small batches;
 *   2. every register of every replica is delivered to every replica, shuffled,
 *      about a fifth of them twice, in transactions of random sizes;
 * and then all digests must be equal, and replica 0's state must be the model's:
 * a plain field holds the value of its newest write (by stamp); a set element is
 * present iff some add was observed by no removal, and holds the newest add's
 * value; a record deleted anywhere holds only its tombstone; the kind and tag
 * indexes list exactly the live records. A removal "observed" every add stamped
 * up to the newest add its replica held when it removed (proto/reg.h's rem), so
 * the element is present iff its newest add is newer than every removal's rem.
 * (That is not causal observation: an older add made elsewhere and never seen by
 * the remover is cancelled too; test_reg.c pins that limit.)
 *
 * KITH_PROP_SEED=N picks the seed (printed at the start); KITH_PROP_OPS=N the
 * edits per replica and round. Device ids are random, so a seed replays the
 * same edits but not necessarily the same tie-breaks between devices.
 */
#include "kith_test.h"

#include <inttypes.h>

#include "core/model.h"

#define NREP 3
#define ROUNDS 4
#define MAXREC 4096
#define MAXNOTE 2048

/* ---- randomness ------------------------------------------------------------- */

static uint64_t rng;

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

/* ---- replicas ------------------------------------------------------------------ */

struct rep {
  char dir[64], home[96];
  kith_store *st;
  uint8_t dev[KITH_DEVICE_ID_LEN];
  uint64_t last_hlc; /* the newest stamp it wrote: its writes must increase */
};

static struct rep reps[NREP + 1]; /* NREP editors and one late joiner */
static uint64_t clocks[NREP + 1];
static uint64_t clock0(void)
{
  return clocks[0];
}
static uint64_t clock1(void)
{
  return clocks[1];
}
static uint64_t clock2(void)
{
  return clocks[2];
}
static uint64_t clock3(void)
{
  return clocks[3];
}
static uint64_t (*const clock_fns[NREP + 1])(void) = {clock0, clock1, clock2, clock3};

static void rep_init(int i)
{
  struct rep *r = &reps[i];
  struct kith_store_opts o = {clock_fns[i], (size_t)256 << 20};
  char dir[64];
  kt_tmpdir(dir);
  memcpy(r->dir, dir, sizeof dir);
  snprintf(r->home, sizeof r->home, "%s/home", dir);
  assert_rc(kith_store_init(r->home, "prop", "replica", &o, &r->st), 0);
  struct kith_identity id;
  kith_txn *t = kt_begin(r->st, false);
  assert_rc(kith_txn_identity(t, &id), 0);
  kith_txn_abort(t);
  memcpy(r->dev, id.device_id, KITH_DEVICE_ID_LEN);
  r->last_hlc = 0;
}

/* ---- the record of every write ------------------------------------------------- */

enum wtype { W_CREATE, W_TOMB, W_SET, W_ADD, W_REM };

struct write {
  uint8_t ent[16];
  uint8_t field;
  bool has_elem;
  uint8_t elem[16];
  uint8_t type;
  struct kith_stamp st;   /* the write's stamp; for W_REM, the rem */
  struct kith_value *val; /* W_SET, W_ADD, W_CREATE */
};

static struct write *writes;
static size_t nwrites, capwrites;

static void record_write(const struct kith_reg *r, enum wtype type,
                         const struct kith_stamp *s)
{
  if (nwrites == capwrites) {
    capwrites = capwrites ? 2 * capwrites : 4096;
    writes = realloc(writes, capwrites * sizeof *writes);
    assert_non_null(writes);
  }
  struct write *w = &writes[nwrites++];
  memset(w, 0, sizeof *w);
  memcpy(w->ent, r->ent, 16);
  w->field = r->field;
  w->has_elem = r->has_elem;
  memcpy(w->elem, r->elem, 16);
  w->type = (uint8_t)type;
  w->st = *s;
  if (type != W_REM && type != W_TOMB && r->val) {
    w->val = kith_value_dup(r->val);
    assert_non_null(w->val);
  }
}

static bool same_addr(const struct kith_reg *a, const struct kith_reg *b)
{
  return kith_reg_addr_cmp(a, b) == 0;
}

/* A local write on replica i: its stamp is this device's, after every earlier
 * one, and not behind the wall clock. */
static void check_local_stamp(int i, const struct kith_stamp *s)
{
  assert_memory_equal(s->dev, reps[i].dev, KITH_DEVICE_ID_LEN);
  if (s->hlc <= reps[i].last_hlc)
    fail_msg("replica %d wrote stamp %" PRIx64 " after %" PRIx64, i, s->hlc,
             reps[i].last_hlc);
  assert_true(kith_hlc_ms(s->hlc) >= clocks[i]);
}

/* Records what changed in a record between two loads (either may be NULL). */
static void diff_record(int i, const struct kith_record *before,
                        const struct kith_record *after)
{
  uint64_t newest = reps[i].last_hlc;
  if (!after)
    return;
  for (size_t k = 0; k < after->n; k++) {
    const struct kith_reg *r = &after->regs[k], *o = NULL;
    for (size_t m = 0; before && m < before->n && !o; m++)
      if (same_addr(&before->regs[m], r))
        o = &before->regs[m];
    bool new_stamp = !o || kith_stamp_cmp(&o->stamp, &r->stamp) != 0;
    bool new_rem =
        r->has_elem && (o ? kith_stamp_cmp(&o->rem, &r->rem) != 0 : r->rem.hlc != 0);
    if (new_stamp) {
      check_local_stamp(i, &r->stamp);
      if (r->stamp.hlc > newest)
        newest = r->stamp.hlc;
      enum wtype t = r->field == KITH_F_KIND && !r->has_elem
                         ? (r->val ? W_CREATE : W_TOMB)
                     : r->has_elem ? W_ADD
                                   : W_SET;
      record_write(r, t, &r->stamp);
    }
    if (new_rem) {
      /* a removal: rem is the newest add this replica had seen */
      assert_non_null(o);
      assert_int_equal(kith_stamp_cmp(&r->rem, &o->stamp), 0);
      assert_false(new_stamp);
      record_write(r, W_REM, &r->rem);
    }
  }
  /* registers only ever vanish when their record is deleted */
  if (before && before->n > after->n)
    assert_true(after->deleted);
  reps[i].last_hlc = newest;
}

/* ---- shared ids ------------------------------------------------------------------ */

static uint8_t contacts[MAXREC][16];
static size_t ncontacts;
static uint8_t notes[MAXNOTE][16];
static size_t nnotes;

static void new_contact_id(uint8_t id[16])
{
  assert_true(ncontacts < MAXREC);
  for (int k = 0; k < 16; k += 8) {
    uint64_t x = next();
    memcpy(id + k, &x, 8);
  }
  memcpy(contacts[ncontacts++], id, 16);
}

static struct kith_record *load(kith_txn *t, const uint8_t id[16])
{
  struct kith_record *rec = NULL;
  int rc = kith_record_load(t, id, &rec);
  if (rc == KITH_ENOTFOUND)
    return NULL;
  assert_rc(rc, 0);
  return rec;
}

/* 1 live here, 0 unknown here, -1 deleted (or its kind not arrived) */
static int state_of(kith_txn *t, const uint8_t id[16])
{
  struct kith_reg k = {0};
  int rc = kith_txn_get(t, id, KITH_F_KIND, NULL, &k);
  if (rc == KITH_ENOTFOUND)
    return 0;
  assert_rc(rc, 0);
  int s = k.val ? 1 : -1;
  kith_reg_clear(&k);
  return s;
}

/* ---- edits --------------------------------------------------------------------------
 */

static const char *const names[] = {"Ada", "Ada Lovelace", "Grace", "Grace Hopper",
                                    "Zo\xc3\xab"};
static const char *const orgs[] = {"Engines", "Navy", "ACME", "Initech", ""};
static const char *const tag_pool[] = {"vip", "VIP",       "friend", "Zo\xc3\xab",
                                       "zoe", "recruiter", "coffee", "investor"};
static const char *const email_pool[] = {"ada@example.org", "Ada@Example.org",
                                         "grace@navy.mil", "zoe@example.com"};
static const char *const kind_pool[] = {NULL, "work", "home"};

static struct kith_value *v1(const char *a)
{
  struct kith_value *v = kith_value_new(1, &a);
  assert_non_null(v);
  return v;
}

static struct kith_value *v2(const char *a, const char *b)
{
  const char *p[2] = {a, b};
  struct kith_value *v = kith_value_new(2, p);
  assert_non_null(v);
  return v;
}

static const struct kith_field *F(uint8_t id)
{
  return kith_field_by_id(id);
}

static void expect_ok(int rc, const char *what)
{
  if (rc != 0 && rc != KITH_ENOTFOUND && rc != KITH_EDELETED)
    fail_msg("%s returned %d (%s)", what, rc, kith_strerror(rc));
}

struct stats {
  unsigned ops, skipped, deletes, creates, concurrent_creates, notes, aborted;
};
static struct stats stats;

/* A contact that is live on this replica, or (sometimes) one it has not seen yet,
 * which it then creates under the same id: a concurrent creation. */
static bool pick_contact(int i, kith_txn *t, uint8_t id[16])
{
  for (int tries = 0; tries < 4; tries++) {
    memcpy(id, contacts[pick((uint32_t)ncontacts)], 16);
    int s = state_of(t, id);
    if (s == 1)
      return true;
    if (s == 0 && chance(10)) {
      struct kith_record *after;
      assert_rc(kith_record_create(t, KITH_KIND_CONTACT, true, id), 0);
      after = load(t, id);
      diff_record(i, NULL, after);
      kith_record_free(after);
      stats.concurrent_creates++;
      return true;
    }
  }
  return false;
}

struct idlist {
  size_t n;
  uint8_t ids[64][16];
};

static int idlist_cb(void *arg, const uint8_t id[16])
{
  struct idlist *l = arg;
  assert_true(l->n < 64);
  memcpy(l->ids[l->n++], id, 16);
  return 0;
}

static int count_cb(void *arg, const uint8_t id[16])
{
  (void)id;
  (*(size_t *)arg)++;
  return 0;
}

static void one_edit(int i, kith_txn *t)
{
  uint8_t id[16], nid[16];
  uint32_t r = pick(1000);
  struct kith_record *before = NULL, *after = NULL, *na = NULL;
  struct kith_value *v = NULL;
  int rc;
  stats.ops++;

  if (r < 40 || ncontacts == 0) { /* a new contact */
    new_contact_id(id);
    assert_rc(kith_record_create(t, KITH_KIND_CONTACT, true, id), 0);
    after = load(t, id);
    diff_record(i, NULL, after);
    kith_record_free(after);
    stats.creates++;
    return;
  }
  if (r >= 960 && nnotes) { /* edit a note's text */
    memcpy(nid, notes[pick((uint32_t)nnotes)], 16);
    if (state_of(t, nid) != 1) {
      stats.skipped++;
      return;
    }
    before = load(t, nid);
    v = v1(names[pick(5)]);
    expect_ok(kith_field_set(t, nid, F(KITH_F_NOTE_TEXT), v), "note edit");
    after = load(t, nid);
    diff_record(i, before, after);
    goto out;
  }
  if (!pick_contact(i, t, id)) {
    stats.skipped++;
    return;
  }
  before = load(t, id);
  if (r < 330) { /* a one-value field, often the same one elsewhere */
    static const uint8_t fields[] = {KITH_F_NAME, KITH_F_ORG, KITH_F_TITLE,
                                     KITH_F_NEEDS};
    uint8_t f = fields[pick(4)];
    if (!chance(8))
      v = v1(f == KITH_F_NAME ? names[pick(5)] : orgs[pick(5)]);
    expect_ok(kith_field_set(t, id, F(f), v), "field set");
  } else if (r < 380) { /* a date */
    static const char *const dates[] = {"2024-01-01", "--12-10", "2025-06-30T10:00Z"};
    v = v1(dates[pick(3)]);
    expect_ok(kith_field_set(t, id, F(KITH_F_FOLLOW_UP), v), "date set");
  } else if (r < 580) { /* add a tag */
    v = v1(tag_pool[pick(8)]);
    expect_ok(kith_set_add(t, id, F(KITH_F_TAGS), v), "tag add");
  } else if (r < 720) { /* remove a tag */
    v = v1(tag_pool[pick(8)]);
    expect_ok(kith_set_remove(t, id, F(KITH_F_TAGS), v), "tag remove");
  } else if (r < 750) { /* replace the tags */
    struct kith_value *vals[2] = {v1(tag_pool[pick(8)]), v1(tag_pool[pick(8)])};
    size_t n = pick(3);
    expect_ok(kith_set_replace(t, id, F(KITH_F_TAGS), vals, n), "tag replace");
    kith_value_free(vals[0]);
    kith_value_free(vals[1]);
  } else if (r < 820) { /* e-mails: add, or remove */
    v = v2(email_pool[pick(4)], kind_pool[pick(3)]);
    if (chance(70))
      expect_ok(kith_set_add(t, id, F(KITH_F_EMAILS), v), "email add");
    else
      expect_ok(kith_set_remove(t, id, F(KITH_F_EMAILS), v), "email remove");
  } else if (r < 860) { /* a free field, keyed by its name */
    static const char *const handles[] = {"ada", "lovelace", "countess"};
    v = v2(chance(50) ? "github" : "GitHub", handles[pick(3)]);
    expect_ok(kith_set_add(t, id, F(KITH_F_X), v), "x add");
  } else if (r < 940) { /* a note */
    if (nnotes < MAXNOTE) {
      rc = kith_note_create(t, id, names[pick(5)], nid);
      assert_rc(rc, 0);
      memcpy(notes[nnotes++], nid, 16);
      na = load(t, nid);
      diff_record(i, NULL, na);
      stats.notes++;
    }
  } else { /* delete the contact (and the notes this replica knows of) */
    struct idlist known = {0};
    assert_rc(kith_notes_each(t, id, idlist_cb, &known), 0);
    struct kith_record *nbs[64] = {0};
    for (size_t k = 0; k < known.n; k++)
      nbs[k] = load(t, known.ids[k]);
    assert_rc(kith_record_delete(t, id), 0);
    for (size_t k = 0; k < known.n; k++) {
      struct kith_record *x = load(t, known.ids[k]);
      diff_record(i, nbs[k], x);
      kith_record_free(nbs[k]);
      kith_record_free(x);
    }
    stats.deletes++;
  }
  after = load(t, id);
  diff_record(i, before, after);
out:
  kith_value_free(v);
  kith_record_free(before);
  kith_record_free(after);
  kith_record_free(na);
}

/* One round of edits on replica i, in transactions of random sizes; the wall
 * clock moves on a little each edit and now and then jumps back. A few
 * transactions are aborted: their writes never happened. */
static void edit_round(int i, unsigned ops)
{
  unsigned done = 0;
  while (done < ops) {
    unsigned n = 1 + pick(25);
    size_t mark = nwrites;
    uint64_t last = reps[i].last_hlc;
    kith_txn *t = kt_begin(reps[i].st, true);
    for (unsigned k = 0; k < n && done < ops; k++, done++) {
      if (chance(2))
        clocks[i] -= pick(1500);
      else
        clocks[i] += pick(20);
      one_edit(i, t);
    }
    if (chance(4)) {
      kith_txn_abort(t);
      while (nwrites > mark)
        kith_value_free(writes[--nwrites].val);
      reps[i].last_hlc = last;
      stats.aborted++;
    } else {
      kt_commit(t);
    }
  }
}

/* ---- sync by the log ----------------------------------------------------------------
 */

struct batch {
  size_t n, cap, limit;
  struct kith_reg *r;
  uint8_t last_ent[16];
  bool stopped;
};

static void batch_push(struct batch *b, const struct kith_reg *r)
{
  if (b->n == b->cap) {
    b->cap = b->cap ? 2 * b->cap : 256;
    b->r = realloc(b->r, b->cap * sizeof *b->r);
    assert_non_null(b->r);
  }
  assert_rc(kith_reg_copy(&b->r[b->n++], r), 0);
}

static void batch_clear(struct batch *b)
{
  for (size_t k = 0; k < b->n; k++)
    kith_reg_clear(&b->r[k]);
  b->n = 0;
  b->stopped = false;
}

/* Takes registers until the batch is full, and then stops only between records,
 * so that a position is only ever advanced over whole records. */
static int batch_cb(void *arg, const struct kith_reg *r)
{
  struct batch *b = arg;
  if (b->n >= b->limit && memcmp(r->ent, b->last_ent, 16) != 0) {
    b->stopped = true;
    return 1;
  }
  memcpy(b->last_ent, r->ent, 16);
  batch_push(b, r);
  return 0;
}

static void put_all(int dst, struct kith_reg *r, size_t n)
{
  kith_txn *t = kt_begin(reps[dst].st, true);
  for (size_t k = 0; k < n; k++) {
    int rc = kith_txn_put(t, &r[k], NULL);
    if (rc != 0)
      fail_msg("replica %d: put of a register from the log returned %d (%s)", dst, rc,
               kith_strerror(rc));
  }
  kt_commit(t);
}

/* dst pulls what src has logged after *pos, in batches of about limit
 * registers, each committed before the position moves. */
static void pull(int dst, int src, uint64_t *pos, size_t limit)
{
  struct batch b = {.limit = limit};
  for (;;) {
    uint64_t top = 0;
    kith_txn *t = kt_begin(reps[src].st, false);
    int rc = kith_log_each(t, KITH_SPACE_SELF, *pos, batch_cb, &b);
    assert_true(rc == 0 || (rc == 1 && b.stopped));
    assert_rc(kith_txn_seq(t, KITH_SPACE_SELF, &top), 0);
    kith_txn_abort(t);
    if (b.n == 0)
      break;
    uint64_t upto = 0;
    for (size_t k = 0; k < b.n; k++) {
      assert_true(b.r[k].seq <= top);
      if (b.r[k].seq > upto)
        upto = b.r[k].seq;
    }
    assert_true(upto > *pos);
    put_all(dst, b.r, b.n);
    *pos = b.stopped ? upto : top;
    bool more = b.stopped;
    batch_clear(&b);
    if (!more)
      break;
  }
  free(b.r);
}

/* ---- checks
 * ---------------------------------------------------------------------------- */

static void digest_of(int i, uint8_t out[32])
{
  kith_txn *t = kt_begin(reps[i].st, false);
  assert_rc(kith_store_digest(t, out), 0);
  kith_txn_abort(t);
}

static int addr_order(const uint8_t ea[16], const struct kith_reg *a,
                      const uint8_t eb[16], const struct kith_reg *b)
{
  int c = memcmp(ea, eb, 16);
  return c ? c : kith_reg_addr_cmp(a, b);
}

static int write_cmp(const void *x, const void *y)
{
  const struct write *a = x, *b = y;
  struct kith_reg ra = {.field = a->field, .has_elem = a->has_elem};
  struct kith_reg rb = {.field = b->field, .has_elem = b->has_elem};
  memcpy(ra.elem, a->elem, 16);
  memcpy(rb.elem, b->elem, 16);
  return addr_order(a->ent, &ra, b->ent, &rb);
}

/* The model's registers, in key order, from the writes. */
static struct kith_reg *model_state(size_t *out_n)
{
  qsort(writes, nwrites, sizeof *writes, write_cmp);
  struct kith_reg *m = calloc(nwrites + 1, sizeof *m);
  size_t n = 0;
  assert_non_null(m);
  for (size_t a = 0; a < nwrites;) {
    size_t rec_end = a;
    bool deleted = false;
    while (rec_end < nwrites && memcmp(writes[rec_end].ent, writes[a].ent, 16) == 0) {
      deleted |= writes[rec_end].type == W_TOMB;
      rec_end++;
    }
    for (size_t g = a; g < rec_end;) {
      size_t e = g;
      while (e < rec_end && write_cmp(&writes[e], &writes[g]) == 0)
        e++;
      const struct write *w0 = &writes[g];
      if (deleted && !(w0->field == KITH_F_KIND && !w0->has_elem)) {
        g = e;
        continue;
      }
      struct kith_reg *r = &m[n++];
      memcpy(r->ent, w0->ent, 16);
      r->field = w0->field;
      r->has_elem = w0->has_elem;
      memcpy(r->elem, w0->elem, 16);
      const struct write *best = NULL;
      for (size_t k = g; k < e; k++) {
        const struct write *w = &writes[k];
        if (w->type == W_REM) {
          if (kith_stamp_cmp(&w->st, &r->rem) > 0)
            r->rem = w->st;
          continue;
        }
        if (deleted && w->type != W_TOMB)
          continue; /* a tombstone beats any kind */
        if (!best || kith_stamp_cmp(&w->st, &best->st) > 0)
          best = w;
      }
      assert_non_null(best);
      r->stamp = best->st;
      bool present = !r->has_elem || kith_stamp_cmp(&r->stamp, &r->rem) > 0;
      r->val = present && best->val ? kith_value_dup(best->val) : NULL;
      g = e;
    }
    a = rec_end;
  }
  *out_n = n;
  return m;
}

struct regs {
  size_t n, cap;
  struct kith_reg *r;
};

static int regs_cb(void *arg, const struct kith_reg *r)
{
  struct regs *l = arg;
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 1024;
    l->r = realloc(l->r, l->cap * sizeof *l->r);
    assert_non_null(l->r);
  }
  assert_rc(kith_reg_copy(&l->r[l->n++], r), 0);
  return 0;
}

static void describe(const char *label, const struct kith_reg *r)
{
  char ent[33], st[50], rem[50];
  kith_hex_encode(r->ent, 16, ent);
  kith_stamp_format(&r->stamp, st);
  kith_stamp_format(&r->rem, rem);
  print_error("%s: ent %s field %d%s stamp %s rem %s value %s\n", label, ent, r->field,
              r->has_elem ? " (element)" : "", st, rem,
              r->val ? (r->val->p[0] ? r->val->p[0] : "[nil...]") : "(none)");
}

/* The model's register at (ent, key's address), or NULL. */
static const struct kith_reg *find_model(const struct kith_reg *m, size_t n,
                                         const uint8_t ent[16],
                                         const struct kith_reg *key)
{
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = addr_order(m[mid].ent, &m[mid], ent, key);
    if (c == 0)
      return &m[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

static void check_model(int i)
{
  size_t nm = 0;
  struct kith_reg *m = model_state(&nm);
  struct regs got = {0};
  kith_txn *t = kt_begin(reps[i].st, false);
  assert_rc(kith_reg_each(t, regs_cb, &got), 0);

  size_t a = 0, b = 0, bad = 0, live_fields = 0, live_elems = 0, removed = 0, dead = 0;
  while (a < got.n || b < nm) {
    int c = a == got.n ? 1
            : b == nm  ? -1
                       : addr_order(got.r[a].ent, &got.r[a], m[b].ent, &m[b]);
    if (c != 0) {
      if (bad++ < 10)
        describe(c < 0 ? "held but not in the model" : "in the model but not held",
                 c < 0 ? &got.r[a] : &m[b]);
      if (c < 0)
        a++;
      else
        b++;
      continue;
    }
    const struct kith_reg *x = &got.r[a++], *y = &m[b++];
    if (kith_stamp_cmp(&x->stamp, &y->stamp) != 0 ||
        kith_stamp_cmp(&x->rem, &y->rem) != 0 || !kith_value_equal(x->val, y->val)) {
      if (bad++ < 10) {
        describe("held ", x);
        describe("model", y);
      }
    }
    if (y->field == KITH_F_KIND && !y->has_elem)
      dead += y->val == NULL;
    else if (y->has_elem)
      kith_reg_live(y) ? live_elems++ : removed++;
    else
      live_fields += y->val != NULL;
  }
  if (bad)
    fail_msg("replica %d differs from the model in %zu registers", i, bad);
  print_message(
      "model: %zu registers (%zu fields set, %zu elements present, %zu removed, "
      "%zu records deleted)\n",
      nm, live_fields, live_elems, removed, dead);
  /* the test must have exercised what it claims to */
  assert_true(live_fields > 50 && live_elems > 50 && removed > 20 && dead > 5);

  /* the indexes list exactly the live records */
  size_t live_contacts = 0, listed = 0;
  for (size_t k = 0; k < nm; k++)
    if (m[k].field == KITH_F_KIND && !m[k].has_elem && m[k].val &&
        strcmp(m[k].val->p[0], "contact") == 0)
      live_contacts++;
  assert_rc(kith_kind_each(t, KITH_KIND_CONTACT, count_cb, &listed), 0);
  assert_int_equal(listed, live_contacts);
  for (size_t tg = 0; tg < sizeof tag_pool / sizeof tag_pool[0]; tg++) {
    size_t want = 0, have = 0;
    struct kith_value *v = v1(tag_pool[tg]);
    for (size_t c = 0; c < ncontacts; c++) {
      uint8_t e[16];
      assert_rc(kith_elem_id(contacts[c], F(KITH_F_TAGS), v, e), 0);
      struct kith_reg key = {.field = KITH_F_TAGS, .has_elem = true};
      memcpy(key.elem, e, 16);
      const struct kith_reg *x = find_model(m, nm, contacts[c], &key);
      want += x && kith_reg_live(x);
    }
    assert_rc(kith_tag_each(t, tag_pool[tg], count_cb, &have), 0);
    if (have != want)
      fail_msg("tag \"%s\": the index lists %zu records, the model %zu", tag_pool[tg],
               have, want);
    kith_value_free(v);
  }
  kith_txn_abort(t);
  for (size_t k = 0; k < got.n; k++)
    kith_reg_clear(&got.r[k]);
  free(got.r);
  for (size_t k = 0; k < nm; k++)
    kith_reg_clear(&m[k]);
  free(m);
}

/* ---- the test
 * ------------------------------------------------------------------------------ */

static void test_merge_property(void **state)
{
  (void)state;
  const char *env = getenv("KITH_PROP_SEED");
  uint64_t seed = env ? strtoull(env, NULL, 0) : 20261125;
  env = getenv("KITH_PROP_OPS");
  unsigned ops = env ? (unsigned)strtoul(env, NULL, 0) : 1000;
  print_message("merge property: seed %" PRIu64
                " (KITH_PROP_SEED), %u edits per replica "
                "and round (KITH_PROP_OPS), %d replicas, %d rounds\n",
                seed, ops, NREP, ROUNDS);
  rng = seed;
  static const int64_t skew[NREP + 1] = {0, 4000, -3000, 0};
  for (int i = 0; i <= NREP; i++) {
    clocks[i] = (uint64_t)(1764000000000ll + skew[i]);
    rep_init(i);
  }
  uint64_t pos[NREP + 1][NREP + 1] = {{0}}; /* pos[dst][src] */

  for (int round = 0; round < ROUNDS; round++) {
    for (int i = 0; i < NREP; i++)
      edit_round(i, ops);
    if (round == ROUNDS - 1)
      break;
    /* some replicas catch up with some others */
    for (int d = 0; d < NREP; d++)
      for (int s = 0; s < NREP; s++)
        if (d != s && chance(50))
          pull(d, s, &pos[d][s], 1 + pick(200));
  }
  print_message("edits: %u (%u skipped), %u contacts created (%u twice), %u notes, "
                "%u deletes, %u transactions aborted, %zu writes recorded\n",
                stats.ops, stats.skipped, stats.creates, stats.concurrent_creates,
                stats.notes, stats.deletes, stats.aborted, nwrites);

  /* 1. a late joiner pulls every replica's log in small batches */
  int late = NREP;
  for (int i = 0; i < NREP; i++)
    if (clocks[i] > clocks[late])
      clocks[late] = clocks[i];
  for (int s = 0; s < NREP; s++)
    pull(late, s, &pos[late][s], 1 + pick(50));

  /* 2. everything to everyone, shuffled, some twice */
  struct regs all = {0};
  for (int i = 0; i < NREP; i++) {
    kith_txn *t = kt_begin(reps[i].st, false);
    assert_rc(kith_log_each(t, KITH_SPACE_SELF, 0, regs_cb, &all), 0);
    kith_txn_abort(t);
  }
  size_t base = all.n;
  for (size_t k = 0; k < base; k++)
    if (chance(20)) {
      struct kith_reg dup;
      assert_rc(kith_reg_copy(&dup, &all.r[k]), 0);
      regs_cb(&all, &dup); /* may move all.r: copy first */
      kith_reg_clear(&dup);
    }
  for (int d = 0; d < NREP; d++) {
    for (size_t k = all.n; k > 1; k--) { /* Fisher-Yates */
      size_t j = pick((uint32_t)k);
      struct kith_reg tmp = all.r[k - 1];
      all.r[k - 1] = all.r[j];
      all.r[j] = tmp;
    }
    for (size_t k = 0; k < all.n;) {
      size_t n = 1 + pick(300);
      if (n > all.n - k)
        n = all.n - k;
      put_all(d, all.r + k, n);
      k += n;
    }
  }
  print_message("delivered %zu registers (%zu repeated) to each replica\n", all.n,
                all.n - base);

  uint8_t d0[32], di[32];
  digest_of(0, d0);
  for (int i = 1; i <= NREP; i++) {
    digest_of(i, di);
    if (memcmp(d0, di, 32) != 0)
      fail_msg("replica %d's digest differs from replica 0's", i);
  }
  check_model(0);

  for (size_t k = 0; k < all.n; k++)
    kith_reg_clear(&all.r[k]);
  free(all.r);
  for (size_t k = 0; k < nwrites; k++)
    kith_value_free(writes[k].val);
  free(writes);
  for (int i = 0; i <= NREP; i++) {
    kith_store_close(reps[i].st);
    kt_rmtree(reps[i].dir);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_merge_property),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
