/*
 * cadence.h — how often the contacts with a tag want touching, and what is due.
 *
 * A cadence ("see my climate people every 30 days") is one record of its own kind,
 * `cadence`, in my `self` space: my devices sync it, a partnership never holds it
 * (core/batch.c refuses the kind, and its fields are private, so no card carries
 * them). Its id is BLAKE2b-128 of the folded tag keyed with a fixed context, the
 * same on every device: two devices that set the same tag's cadence offline write
 * the same record, and the later write wins field by field. Turning a cadence off
 * clears its days rather than deleting the record (a tombstone is final, and the
 * tag could never get a cadence again).
 *
 * Dates here are whole days: a day number counts days since 1970-01-01 in the
 * proleptic Gregorian calendar (years 1 to 9999), with no time zone: "today" is
 * the caller's business (the command line takes the local date).
 *
 * What is due for a contact is the earlier of
 *   - its follow_up date, if set;
 *   - last_contacted (else the day it was created) plus the smallest cadence among
 *     its tags, if any of them has one.
 * On a tie the follow-up is the reason given. A contact with neither is never due.
 */
#ifndef KITH_CADENCE_H
#define KITH_CADENCE_H

#include "core/model.h"

#define KITH_CADENCE_MAX_DAYS 3650u /* ten years */
#define KITH_DAY_NONE INT32_MIN
#define KITH_DAY_LEN 11 /* "YYYY-MM-DD" and its NUL */

/* ---- days ------------------------------------------------------------------ */

/* The day number of a calendar date; the date must be real (y 1-9999). */
int32_t kith_day_from_civil(int y, int m, int d);
/* The calendar date of a day number from kith_day_from_civil. */
void kith_day_to_civil(int32_t day, int *y, int *m, int *d);
/* Parses "YYYY-MM-DD" (a real date), ignoring a "T..." time after it as a DATE
 * field may carry. False for anything else (including a birthday's --MM-DD). */
bool kith_day_parse(const char *s, int32_t *day);
/* Writes "YYYY-MM-DD". */
void kith_day_format(int32_t day, char out[static KITH_DAY_LEN]);
/* The same day months later (or earlier, months < 0), on the month's last day if
 * it is shorter: Jan 31 + 1 month is Feb 28 (29 in a leap year). */
int32_t kith_day_add_months(int32_t day, int months);

/* ---- cadences -------------------------------------------------------------- */

/* The cadence record's id for tag (case and accents ignored). KITH_EBADUTF8,
 * KITH_ENOMEM. */
int kith_cadence_id(const char *tag, uint8_t id[static KITH_ID_LEN]) KITH_MUST_CHECK;

/* Sets how often (days, 1..KITH_CADENCE_MAX_DAYS) the contacts tagged tag want
 * touching; days 0 turns it off (nothing is written if it was never set). In a
 * write transaction. KITH_EINVAL for an empty or too long tag or days out of
 * range, KITH_EBADUTF8, KITH_EDELETED, KITH_EBADMSG if the id holds a record of
 * another kind (nothing written), or a store error. */
int kith_cadence_set(kith_txn *txn, const char *tag, uint32_t days) KITH_MUST_CHECK;

/* The cadences that are on, sorted by folded tag. tag is as last set, folded its
 * folded form; both owned by the list. */
struct kith_cadence {
  char *tag, *folded;
  uint32_t days;
};
struct kith_cadence_list {
  struct kith_cadence *v;
  size_t n, cap;
};
int kith_cadences_load(kith_txn *txn, struct kith_cadence_list *out) KITH_MUST_CHECK;
/* The cadence of a folded tag in l, or 0. */
uint32_t kith_cadence_find(const struct kith_cadence_list *l, const char *folded);
void kith_cadence_list_clear(struct kith_cadence_list *l); /* frees all; reusable */

/* ---- what is due ------------------------------------------------------------ */

enum kith_due_reason { KITH_DUE_FOLLOW_UP, KITH_DUE_CADENCE };

/* One contact's facts, for kith_due_of: follow_up or KITH_DAY_NONE; last, the day
 * last contacted (KITH_DAY_NONE if never: then created stands in); and for each
 * of its n tags, the cadence in days (0: none). */
struct kith_due_in {
  int32_t follow_up, last, created;
  size_t n;
  const uint32_t *every;
};
/* When it is due and why: tag is the index (in the input) of the tag whose
 * cadence made it due, the first of the smallest. */
struct kith_due_at {
  int32_t due;
  enum kith_due_reason reason;
  size_t tag;
  uint32_t every;
};
/* False if the contact is never due (no follow-up, no tag with a cadence). Pure;
 * can't fail. */
bool kith_due_of(const struct kith_due_in *in, struct kith_due_at *out);

/* A due contact, as kith_due_load gathers it. Strings owned by the list; tag is
 * NULL for a follow-up; last is KITH_DAY_NONE if never contacted. */
struct kith_due {
  uint8_t id[KITH_ID_LEN];
  char *name, *tag;
  int32_t due, last;
  enum kith_due_reason reason;
  uint32_t every;
};
struct kith_due_list {
  struct kith_due *v;
  size_t n, cap;
};
/* The live contacts due on or before until (only those tagged tag, if tag is not
 * NULL), sorted by due day then id. KITH_EBADUTF8 for a bad tag, KITH_ENOMEM, or a
 * store error. A DATE field holding something other than YYYY-MM-DD (a value
 * merged from elsewhere) counts as unset. */
int kith_due_load(kith_txn *txn, int32_t until, const char *tag,
                  struct kith_due_list *out) KITH_MUST_CHECK;
void kith_due_list_clear(struct kith_due_list *l); /* frees all; reusable */

#endif
