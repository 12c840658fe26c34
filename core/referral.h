/*
 * referral.h — closed-loop referrals (DESIGN.md, "Introductions and referrals").
 *
 * A passes a lead to partner B: the contact's card is shared with B (kith_share:
 * the card moves into their partnership space, or a copy goes if it is shared
 * elsewhere; A's tags and notes stay in A's self) and a referral record is made in
 * that partnership space, so both users' devices hold it after any sync (LAN,
 * relay, bundle). B, the receiver, moves it through the statuses and may thank A
 * for closed business; each change is a register change in the same space, so A
 * sees the outcome with the next sync.
 *
 * The record: kind "referral", fields 120-127 (core/model.h), every one shared
 * data of the partnership, none private:
 *   contact       the shared card's id (hex)
 *   contact_name  the card's name when referred: what both still see if the card
 *                 stops being shared
 *   reason        why; free text
 *   value         what the lead may be worth: an amount (kith_amount_parse)
 *   from          the giver's device key (hex). A store reads the referral as
 *                 "given" when that key is one of its user's devices (a revoked
 *                 one too), as "received" otherwise: a partnership has two users.
 *   events        the history: a set of [event id hex, status, note], one element
 *                 per status change, never removed. An event's time is its
 *                 register's stamp; the current status (and note) is the newest
 *                 event's, so concurrent changes from two of B's devices both stay
 *                 in the history and the later one is the status everywhere
 *                 (last writer wins, by stamp). Adding is "offered".
 *   thanked       when the receiver thanked (ISO 8601 time); thank_value, the
 *                 closed business, an amount.
 *
 * Rules (the honest client's; registers are not signed, so a partner's modified
 * kith could write any register of our space, as it could edit a shared card):
 *   - only the receiver sets the status and thanks: the giver gets KITH_EREFUSED;
 *   - thanking needs the status won (KITH_EINVAL otherwise);
 *   - a referral is never deleted, only closed (won, lost, declined): kith has no
 *     way to delete one, and a partnership batch that deletes one is refused
 *     whole (core/batch.c);
 *   - unsharing the card (or the partner deleting it) leaves the referral as it
 *     is, its contact shown by contact_name; the card's fields are each side's
 *     own private copy from then on (core/space.h).
 */
#ifndef KITH_REFERRAL_H
#define KITH_REFERRAL_H

#include <jansson.h>

#include "core/space.h"

enum kith_referral_status {
  KITH_REF_OFFERED,
  KITH_REF_ACCEPTED,
  KITH_REF_CONTACTED,
  KITH_REF_MET,
  KITH_REF_WON,
  KITH_REF_LOST,
  KITH_REF_DECLINED,
  KITH_REF_STATUSES
};

/* "offered", "accepted"... for a status; NULL out of range. */
const char *kith_referral_status_name(int status);
/* The status named s, or -1. */
int kith_referral_status_parse(const char *s);

/* ---- amounts ---------------------------------------------------------------- */

/* An amount: a decimal number (up to 13 digits, then up to 4 decimals after a
 * '.'), then optionally a 3-letter currency code ("1500", "1500.50 EUR",
 * "99eur"). Exact: units are ten-thousandths. */
#define KITH_AMOUNT_SCALE 10000
#define KITH_AMOUNT_TEXT 48
struct kith_amount {
  int64_t units;
  char currency[4]; /* upper case, or "" */
};

/* Parses an amount; canon (may be NULL) gets its stored form: the number as typed
 * and the currency upper case after one space. KITH_EBADMSG if it is not one. */
int kith_amount_parse(const char *text, struct kith_amount *out,
                      char canon[KITH_AMOUNT_TEXT]) KITH_MUST_CHECK;
/* "1750.50" (two decimals at least when there is a fraction) for the number
 * alone. Can't fail. */
void kith_amount_format(int64_t units, char out[KITH_AMOUNT_TEXT]);

/* Sums per currency, in currency order ("" first). */
#define KITH_AMOUNT_SUMS_MAX 32
struct kith_amount_sum {
  size_t n;
  struct kith_amount v[KITH_AMOUNT_SUMS_MAX];
};
/* Adds a to its currency's sum. KITH_ETOOBIG on overflow or past
 * KITH_AMOUNT_SUMS_MAX currencies (s unchanged). */
int kith_amount_add(struct kith_amount_sum *s,
                    const struct kith_amount *a) KITH_MUST_CHECK;

/* ---- writes ------------------------------------------------------------------ */

/* Passes contact to partner peer: shares its card with them and makes the
 * referral, status offered, in our partnership. reason and value may be NULL;
 * value must be an amount. *id gets the referral's id. KITH_EBADMSG (value),
 * KITH_EBADUTF8, KITH_ETOOBIG (reason), and kith_share's errors: KITH_EINVAL (not
 * a contact, or a peer paired without a space), KITH_ENOTFOUND, KITH_EDELETED. */
int kith_referral_add(kith_txn *txn, const uint8_t contact[static KITH_ID_LEN],
                      const uint8_t peer[static KITH_ID_LEN], const char *reason,
                      const char *value,
                      uint8_t id[static KITH_ID_LEN]) KITH_MUST_CHECK;

/* The receiver moves the referral to status (a name), with a note (may be NULL).
 * The same status again without a note changes nothing. KITH_EBADMSG (not a
 * status), KITH_EREFUSED (I gave it), KITH_ENOTFOUND, KITH_EINVAL (not a
 * referral). */
int kith_referral_set_status(kith_txn *txn, const uint8_t id[static KITH_ID_LEN],
                             const char *status, const char *note) KITH_MUST_CHECK;

/* The receiver thanks the giver for closed business: thanked = now, and
 * thank_value = value if given (may be NULL: an earlier one stays). Again later
 * moves the time. KITH_EREFUSED (I gave it), KITH_EINVAL (not won, or not a
 * referral), KITH_EBADMSG (value), KITH_ENOTFOUND. */
int kith_referral_thank(kith_txn *txn, const uint8_t id[static KITH_ID_LEN],
                        const char *value) KITH_MUST_CHECK;

/* ---- reads ------------------------------------------------------------------- */

struct kith_referral_event {
  struct kith_stamp at;
  int status;       /* enum kith_referral_status */
  const char *note; /* borrowed from the record, or NULL */
};

/* A referral as this store sees it. Text pointers borrow from rec and live as
 * long as the struct (kith_referral_clear). */
struct kith_referral {
  uint8_t id[KITH_ID_LEN];
  bool given;                        /* one of my devices gave it */
  uint32_t space;                    /* its partnership's local number */
  bool has_peer;                     /* the partner is one of my peers here */
  uint8_t peer[KITH_ID_LEN];         /* their peer record */
  char peer_name[KITH_TEXT_MAX + 1]; /* "" without a peer */
  uint8_t contact[KITH_ID_LEN];      /* the shared card's id */
  bool contact_shared;               /* the card still lives in the partnership */
  char *contact_name;                /* the card's name now, else when referred */
  const char *reason, *value, *thanked, *thank_value; /* or NULL */
  int status;       /* the newest event's; -1 with no event (never from kith) */
  const char *note; /* the newest event's note, or NULL */
  struct kith_referral_event *events; /* oldest first; unknown statuses left out */
  size_t nevents;
  struct kith_stamp created, updated;
  struct kith_record *rec;
};

/* Loads a referral. KITH_ENOTFOUND, KITH_EINVAL (another kind, or deleted). */
int kith_referral_load(kith_txn *txn, const uint8_t id[static KITH_ID_LEN],
                       struct kith_referral *out) KITH_MUST_CHECK;
void kith_referral_clear(struct kith_referral *r); /* NULL-safe; reusable */

/* The JSON of `kith referral list/show --json`: {"id", "direction" ("given" |
 * "received"), "peer" (name or null), "peer_id", "contact": {"id", "name",
 * "shared"}, "reason", "value", "status", "note", "history": [{"at", "status",
 * "note"}], "thanked", "thank_value", "created", "updated"}; absent values null.
 * NULL if out of memory. */
json_t *kith_referral_json(const struct kith_referral *r);

/* ---- stats -------------------------------------------------------------------- */

/* What `kith referral stats` counts over a set of referrals (one partner, one
 * direction): how many, how many in each current status, the won value (the sum
 * of the values of the referrals now won) and the thanked ones and their thank
 * values. Values that are not amounts (a partner's client may write anything)
 * are not summed. */
struct kith_referral_tally {
  unsigned count, by_status[KITH_REF_STATUSES], thanked;
  struct kith_amount_sum won_value, thank_value;
};
/* Counts r in t. KITH_ETOOBIG (sums, see kith_amount_add). */
int kith_referral_tally_add(struct kith_referral_tally *t,
                            const struct kith_referral *r) KITH_MUST_CHECK;
/* {"count", "by_status": {status: n...}, "won", "closed" (won + lost + declined),
 * "conversion": {"closed": won / closed, "all": won / count} (null when the
 * divisor is 0), "won_value": [{"amount": "1750.50", "currency": "EUR" | null}],
 * "thanked", "thank_value": [...]}. NULL if out of memory. */
json_t *kith_referral_tally_json(const struct kith_referral_tally *t);

#endif
