#include "core/cadence.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fold.h"
#include "core/json.h"

#define CADENCE_CONTEXT "kith tag cadence v1"

/* ---- days ------------------------------------------------------------------ */

/* Days from 0001-01-01 to January 1st of year y. */
static int32_t year_start(int y)
{
  int32_t p = y - 1;
  return 365 * p + p / 4 - p / 100 + p / 400;
}

#define EPOCH_OFFSET 719162 /* year_start(1970) */

int32_t kith_day_from_civil(int y, int m, int d)
{
  int32_t n = year_start(y);
  for (int i = 1; i < m; i++)
    n += kith_month_days(y, i);
  return n + d - 1 - EPOCH_OFFSET;
}

void kith_day_to_civil(int32_t day, int *y, int *m, int *d)
{
  int32_t n = day + EPOCH_OFFSET;
  /* a year is 365.2425 days on average: the estimate is off by one at most */
  int yy = (int)((int64_t)n * 400 / 146097) + 1;
  while (yy > 1 && year_start(yy) > n)
    yy--;
  while (year_start(yy + 1) <= n)
    yy++;
  n -= year_start(yy);
  int mm = 1;
  while (n >= kith_month_days(yy, mm))
    n -= kith_month_days(yy, mm++);
  *y = yy, *m = mm, *d = (int)n + 1;
}

static int digits(const char *s, int n)
{
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

bool kith_day_parse(const char *s, int32_t *day)
{
  if (!s || strlen(s) < 10 || s[4] != '-' || s[7] != '-' || (s[10] && s[10] != 'T'))
    return false;
  int y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
  if (y < 1 || m < 1 || m > 12 || d < 1 || d > kith_month_days(y, m))
    return false;
  *day = kith_day_from_civil(y, m, d);
  return true;
}

void kith_day_format(int32_t day, char out[static KITH_DAY_LEN])
{
  int y, m, d;
  kith_day_to_civil(day, &y, &m, &d);
  snprintf(out, KITH_DAY_LEN, "%04u-%02u-%02u", (unsigned)y % 10000u,
           (unsigned)m % 100u, (unsigned)d % 100u);
}

int32_t kith_day_add_months(int32_t day, int months)
{
  int y, m, d;
  kith_day_to_civil(day, &y, &m, &d);
  int total = y * 12 + (m - 1) + months;
  y = total / 12, m = total % 12 + 1;
  if (d > kith_month_days(y, m))
    d = kith_month_days(y, m);
  return kith_day_from_civil(y, m, d);
}

/* ---- cadences -------------------------------------------------------------- */

int kith_cadence_id(const char *tag, uint8_t id[static KITH_ID_LEN])
{
  char *folded = NULL;
  int rc = kith_fold(tag, &folded);
  if (rc)
    return rc;
  crypto_generichash(id, KITH_ID_LEN, (const uint8_t *)folded, strlen(folded),
                     (const uint8_t *)CADENCE_CONTEXT, sizeof CADENCE_CONTEXT - 1);
  free(folded);
  return 0;
}

static int set_text(kith_txn *txn, const uint8_t id[KITH_ID_LEN], uint8_t field,
                    const char *text)
{
  struct kith_value *v = text ? kith_value_new(1, &text) : NULL;
  if (text && !v)
    return KITH_ENOMEM;
  int rc = kith_field_set(txn, id, kith_field_by_id(field), v);
  kith_value_free(v);
  return rc;
}

int kith_cadence_set(kith_txn *txn, const char *tag, uint32_t days)
{
  uint8_t id[KITH_ID_LEN];
  struct kith_reg k = {0};
  char num[16];
  size_t len = strlen(tag);
  if (len == 0 || len > KITH_TAG_MAX || days > KITH_CADENCE_MAX_DAYS)
    return KITH_EINVAL;
  if (!kith_utf8_valid(tag, len))
    return KITH_EBADUTF8;
  int rc = kith_cadence_id(tag, id);
  if (rc)
    return rc;
  rc = kith_txn_get(txn, id, KITH_F_KIND, NULL, &k);
  bool dead = rc == 0 && !k.val;
  /* the id is the same for every user: a partner could have given it to a record
   * of another kind in our space; never write cadence fields onto that */
  bool other = rc == 0 && k.val &&
               (!k.val->p[0] || strcmp(k.val->p[0], kith_kind_name(KITH_KIND_CADENCE)));
  kith_reg_clear(&k);
  if (other)
    return KITH_EBADMSG;
  if (rc == KITH_ENOTFOUND && days == 0)
    return 0; /* off, and never on: nothing to write */
  if (rc == KITH_ENOTFOUND)
    rc = kith_record_create(txn, KITH_KIND_CADENCE, true, id);
  else if (rc == 0 && dead)
    rc = KITH_EDELETED;
  if (rc)
    return rc;
  snprintf(num, sizeof num, "%u", days);
  if (days)
    rc = set_text(txn, id, KITH_F_CADENCE_TAG, tag);
  if (rc == 0)
    rc = set_text(txn, id, KITH_F_CADENCE_DAYS, days ? num : NULL);
  return rc;
}

/* A cadence's days as stored: decimal, 1..KITH_CADENCE_MAX_DAYS; else 0 (off, or
 * a value this version does not read). */
static uint32_t parse_days(const char *s)
{
  uint32_t v = 0;
  if (!s || !*s || strlen(s) > 5)
    return 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9')
      return 0;
    v = v * 10 + (uint32_t)(*s - '0');
  }
  return v <= KITH_CADENCE_MAX_DAYS ? v : 0;
}

static int by_folded(const void *a, const void *b)
{
  const struct kith_cadence *x = a, *y = b;
  int c = strcmp(x->folded, y->folded);
  return c ? c : strcmp(x->tag, y->tag);
}

static int load_one(kith_txn *txn, const uint8_t id[KITH_ID_LEN],
                    struct kith_cadence_list *l)
{
  struct kith_record *rec = NULL;
  char *tag = NULL, *folded = NULL;
  int rc = kith_record_load(txn, id, &rec);
  if (rc)
    return rc == KITH_ENOTFOUND ? 0 : rc;
  uint32_t days = parse_days(kith_record_text(rec, KITH_F_CADENCE_DAYS));
  const char *t = kith_record_text(rec, KITH_F_CADENCE_TAG);
  if (rec->deleted || rec->kind != KITH_KIND_CADENCE || !days || !t)
    goto out;
  if (!(tag = strdup(t))) {
    rc = KITH_ENOMEM;
    goto out;
  }
  if ((rc = kith_fold(tag, &folded)) != 0)
    goto out;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    struct kith_cadence *v = realloc(l->v, cap * sizeof *v);
    if (!v) {
      rc = KITH_ENOMEM;
      goto out;
    }
    l->v = v, l->cap = cap;
  }
  l->v[l->n++] = (struct kith_cadence){tag, folded, days};
  tag = folded = NULL;
out:
  free(tag);
  free(folded);
  kith_record_free(rec);
  return rc;
}

int kith_cadences_load(kith_txn *txn, struct kith_cadence_list *out)
{
  struct kith_id_list ids = {0};
  int rc = kith_kind_each(txn, KITH_KIND_CADENCE, kith_id_collect, &ids);
  for (size_t i = 0; rc == 0 && i < ids.n; i++)
    rc = load_one(txn, ids.v[i], out);
  free(ids.v);
  if (rc == 0 && out->n)
    qsort(out->v, out->n, sizeof *out->v, by_folded);
  return rc;
}

uint32_t kith_cadence_find(const struct kith_cadence_list *l, const char *folded)
{
  size_t lo = 0, hi = l->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(l->v[mid].folded, folded);
    if (c == 0)
      return l->v[mid].days;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return 0;
}

void kith_cadence_list_clear(struct kith_cadence_list *l)
{
  for (size_t i = 0; i < l->n; i++) {
    free(l->v[i].tag);
    free(l->v[i].folded);
  }
  free(l->v);
  memset(l, 0, sizeof *l);
}

/* ---- what is due ------------------------------------------------------------ */

bool kith_due_of(const struct kith_due_in *in, struct kith_due_at *out)
{
  bool any = false;
  uint32_t every = 0;
  size_t which = 0;
  for (size_t i = 0; i < in->n; i++)
    if (in->every[i] && (!every || in->every[i] < every))
      every = in->every[i], which = i;
  if (every) {
    int32_t from = in->last != KITH_DAY_NONE ? in->last : in->created;
    *out = (struct kith_due_at){from + (int32_t)every, KITH_DUE_CADENCE, which, every};
    any = true;
  }
  if (in->follow_up != KITH_DAY_NONE && (!any || in->follow_up <= out->due)) {
    *out = (struct kith_due_at){in->follow_up, KITH_DUE_FOLLOW_UP, 0, 0};
    any = true;
  }
  return any;
}

struct due_ctx {
  kith_txn *txn;
  int32_t until;
  const struct kith_cadence_list *cad;
  struct kith_due_list *out;
};

static int32_t date_field(const struct kith_record *rec, uint8_t field)
{
  int32_t d;
  return kith_day_parse(kith_record_text(rec, field), &d) ? d : KITH_DAY_NONE;
}

static int due_push(struct kith_due_list *l, const struct kith_due *d)
{
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    struct kith_due *v = realloc(l->v, cap * sizeof *v);
    if (!v)
      return KITH_ENOMEM;
    l->v = v, l->cap = cap;
  }
  l->v[l->n++] = *d;
  return 0;
}

/* One contact: its tags' cadences, then kith_due_of. */
static int due_one(void *arg, const uint8_t id[KITH_ID_LEN])
{
  struct due_ctx *c = arg;
  struct kith_record *rec = NULL;
  const struct kith_reg **live = NULL;
  const char **tags = NULL;
  uint32_t *every = NULL;
  size_t nlive = 0, n = 0;
  struct kith_due d = {0};
  int rc = kith_record_load(c->txn, id, &rec);
  if (rc)
    return rc == KITH_ENOTFOUND ? 0 : rc;
  if (rec->deleted || rec->kind != KITH_KIND_CONTACT)
    goto out;
  if ((rc = kith_record_live(rec, &live, &nlive)) != 0)
    goto out;
  if (nlive && (!(tags = calloc(nlive, sizeof *tags)) ||
                !(every = calloc(nlive, sizeof *every)))) {
    rc = KITH_ENOMEM;
    goto out;
  }
  for (size_t i = 0; i < nlive; i++) {
    char *folded = NULL;
    if (live[i]->field != KITH_F_TAGS || !live[i]->val->p[0])
      continue;
    if (kith_fold(live[i]->val->p[0], &folded) != 0)
      continue; /* not UTF-8: no cadence can name it */
    tags[n] = live[i]->val->p[0];
    every[n++] = kith_cadence_find(c->cad, folded);
    free(folded);
  }
  struct kith_due_in in = {
      date_field(rec, KITH_F_FOLLOW_UP), date_field(rec, KITH_F_LAST_CONTACTED),
      (int32_t)(kith_hlc_ms(rec->created.hlc) / 86400000u), n, every};
  struct kith_due_at at;
  if (!kith_due_of(&in, &at) || at.due > c->until)
    goto out;
  const char *name = kith_record_text(rec, KITH_F_NAME);
  memcpy(d.id, id, KITH_ID_LEN);
  d.due = at.due, d.last = in.last, d.reason = at.reason, d.every = at.every;
  if (!(d.name = strdup(name ? name : "")) ||
      (at.reason == KITH_DUE_CADENCE && !(d.tag = strdup(tags[at.tag]))) ||
      (rc = due_push(c->out, &d)) != 0) {
    free(d.name);
    free(d.tag);
    rc = rc ? rc : KITH_ENOMEM;
  }
out:
  free(tags);
  free(every);
  free(live);
  kith_record_free(rec);
  return rc;
}

static int by_due(const void *a, const void *b)
{
  const struct kith_due *x = a, *y = b;
  if (x->due != y->due)
    return x->due < y->due ? -1 : 1;
  return memcmp(x->id, y->id, KITH_ID_LEN);
}

int kith_due_load(kith_txn *txn, int32_t until, const char *tag,
                  struct kith_due_list *out)
{
  struct kith_cadence_list cad = {0};
  struct kith_id_list ids = {0};
  if (tag && !kith_utf8_valid(tag, strlen(tag)))
    return KITH_EBADUTF8;
  int rc = kith_cadences_load(txn, &cad);
  if (rc == 0)
    rc = tag ? kith_tag_each(txn, tag, kith_id_collect, &ids)
             : kith_kind_each(txn, KITH_KIND_CONTACT, kith_id_collect, &ids);
  struct due_ctx c = {txn, until, &cad, out};
  for (size_t i = 0; rc == 0 && i < ids.n; i++)
    rc = due_one(&c, ids.v[i]);
  free(ids.v);
  kith_cadence_list_clear(&cad);
  if (rc == 0 && out->n)
    qsort(out->v, out->n, sizeof *out->v, by_due);
  return rc;
}

void kith_due_list_clear(struct kith_due_list *l)
{
  for (size_t i = 0; i < l->n; i++) {
    free(l->v[i].name);
    free(l->v[i].tag);
  }
  free(l->v);
  memset(l, 0, sizeof *l);
}
