/*
 * hlc.h — hybrid logical clocks and stamps.
 *
 * A stamp orders every write in kith. It is a hybrid logical clock value (the upper
 * 48 bits: milliseconds since the Unix epoch; the lower 16 bits: a counter that
 * breaks ties within one millisecond) and the 128-bit id of the device that wrote,
 * which breaks ties between devices. Two stamps compare by clock first, then by
 * device id, bytewise; so every replica orders the same two writes the same way.
 *
 * The functions here are pure: the caller passes the wall clock in. A clock never
 * goes backwards (kith_hlc_next), and a received stamp moves it forwards
 * (kith_hlc_observe) unless it is more than KITH_HLC_MAX_SKEW_MS ahead of the wall
 * clock: a peer whose clock says 2100 must not win every conflict forever.
 */
#ifndef KITH_HLC_H
#define KITH_HLC_H

#include <stdint.h>

#include "proto/err.h"

#define KITH_DEVICE_ID_LEN 16
#define KITH_HLC_MAX_SKEW_MS (5u * 60u * 1000u)

struct kith_stamp {
  uint64_t hlc;                    /* 0: no stamp */
  uint8_t dev[KITH_DEVICE_ID_LEN]; /* writer's device id */
};

static inline uint64_t kith_hlc_ms(uint64_t hlc)
{
  return hlc >> 16;
}

/* <0, 0, >0 as a orders before, with, after b. A zero stamp orders first. */
int kith_stamp_cmp(const struct kith_stamp *a, const struct kith_stamp *b);

/* The next clock value after last, at wall-clock now_ms: strictly greater than
 * last, and at least now_ms in its upper bits. When the wall clock is behind the
 * clock (it went back, or a peer's stamp moved the clock ahead) and the 16-bit
 * counter is full, the counter carries into the milliseconds: a large import never
 * fails for want of counter values, and the clock runs ahead by a millisecond per
 * 65,536 writes until the wall clock catches up. KITH_EFUTURE only at the end of
 * time (last = 2^64 - 1). */
int kith_hlc_next(uint64_t last, uint64_t now_ms, uint64_t *out) KITH_MUST_CHECK;

/* Folds a received clock value into last: *out = max(last, remote). Returns
 * KITH_EFUTURE, leaving *out unset, if remote is more than KITH_HLC_MAX_SKEW_MS
 * ahead of now_ms. */
int kith_hlc_observe(uint64_t last, uint64_t remote, uint64_t now_ms,
                     uint64_t *out) KITH_MUST_CHECK;

/* "2026-11-25T21:40:00.123Z" for the wall-clock part of hlc; out holds 25 bytes. */
void kith_hlc_iso(uint64_t hlc, char out[25]);

/* Stamp as text: 16 hex digits of hlc, '-', 32 hex digits of the device; 50 bytes. */
void kith_stamp_format(const struct kith_stamp *s, char out[50]);
/* Parses kith_stamp_format's text. Returns 0 or KITH_EBADMSG. */
int kith_stamp_parse(const char *text, struct kith_stamp *out);

#endif
