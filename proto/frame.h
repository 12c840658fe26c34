/*
 * frame.h — what a kith connection carries before and around Noise: the preamble
 * each side sends in clear, the Noise prologue made from the two preambles, and the
 * length-prefixed frames every Noise message travels in (docs/PROTOCOL.md,
 * "Connections").
 *
 * Pure functions of bytes: no sockets, no clocks, no allocation. net/ feeds what it
 * reads into a kith_frame_reader and pops whole frames; it writes frames made by
 * kith_frame_write.
 *
 * The frame reader
 *
 *   A frame is a 2-byte big-endian length, 1..65535, then that many bytes. The
 *   reader holds one frame's body in a buffer embedded in its struct (about 64 KiB:
 *   put it in a connection struct or on the heap, not on a small stack), so a peer
 *   can never make it allocate. It checks each length as soon as both of its bytes
 *   have arrived, before any body byte is accepted: a zero length, or one above the
 *   reader's current maximum, fails the reader.
 *
 *   The maximum is 65,535 (KITH_FRAME_MAX) by default; a session lowers it to
 *   2,048 (KITH_FRAME_MAX_HANDSHAKE) while its handshake runs, whose messages are
 *   small, and raises it again once the handshake is done.
 *
 *   kith_frame_feed consumes bytes up to the end of one frame and no further, then
 *   stops: the caller pops that frame (kith_frame_pop) and feeds the rest. So one
 *   feed of many frames, or a frame split across any number of feeds down to one
 *   byte each, give the same frames in the same order.
 *
 * What it guarantees
 *
 *   - Never a frame longer than the maximum in force when its length was read, and
 *     never an empty one.
 *   - Fail-stop: after an error the reader stays failed and every later feed or pop
 *     returns the same error (KITH_EBADMSG). The connection is dropped; nothing on
 *     it is read again.
 *
 * What it does not do
 *
 *   - Decrypt, or know what a frame holds: that is proto/noise.h's job.
 *   - Time anything out: a peer that sends half a frame and waits is net/'s timer's
 *     business.
 */
#ifndef KITH_FRAME_H
#define KITH_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/err.h"

#define KITH_FRAME_HDR_LEN 2
#define KITH_FRAME_MAX 65535          /* any frame's body (a Noise message) */
#define KITH_FRAME_MAX_HANDSHAKE 2048 /* while a handshake runs */

#define KITH_PREAMBLE_LEN 8
#define KITH_PROTO_VERSION 1     /* the highest connection version this build speaks */
#define KITH_PROTO_VERSION_MIN 1 /* and the lowest */
#define KITH_PURPOSE_SYNC 1      /* Noise IK between known devices */
#define KITH_PURPOSE_PAIR 2      /* Noise NNpsk0 keyed by an invite code */
#define KITH_PURPOSE_RELAY 3     /* Noise XX to a relay (docs/PROTOCOL.md, "Relay") */
#define KITH_PROLOGUE_LEN 32     /* "kith prologue v1" (16) + two preambles */

/* ---- frames ----------------------------------------------------------------- */

/* One direction's frame reader. The caller's storage: initialise with
 * kith_frame_reader_init; nothing to clear (it holds no pointer and no secret:
 * frames are Noise ciphertext). Fields are private. */
struct kith_frame_reader {
  size_t max;  /* the largest body accepted when a length is read */
  size_t len;  /* the current frame's body length; 0 until its header is read */
  size_t have; /* body bytes of the current frame received so far */
  uint8_t hdr[KITH_FRAME_HDR_LEN];
  uint8_t hdr_have; /* 0..2 */
  bool ready;       /* the current frame is complete and not yet popped */
  int err;          /* 0, or the error the reader failed with, for good */
  uint8_t buf[KITH_FRAME_MAX];
};

/* Resets r to read a fresh stream with the maximum KITH_FRAME_MAX. Can't fail. */
void kith_frame_reader_init(struct kith_frame_reader *r);

/* Sets the largest body length accepted for frames whose length has not been read
 * yet. If the current frame's length is already known and exceeds max, the reader
 * fails. Returns 0; KITH_EINVAL if max is 0 or above KITH_FRAME_MAX (r unchanged);
 * KITH_EBADMSG if the reader failed, now or before. */
int kith_frame_set_max(struct kith_frame_reader *r, size_t max) KITH_MUST_CHECK;

/* Consumes bytes from in (len bytes; in may be NULL if len is 0), up to the end of
 * the first frame that completes, and sets *used to how many it took (the caller
 * feeds in + *used again after popping). While a complete frame waits to be popped
 * it takes nothing. Returns 0, or KITH_EBADMSG (and *used = 0) if a length is 0 or
 * above the maximum, or if the reader failed before; the reader then stays failed. */
int kith_frame_feed(struct kith_frame_reader *r, const uint8_t *in, size_t len,
                    size_t *used) KITH_MUST_CHECK;

/* Pops the complete frame, if there is one: *body points at its len bytes, which
 * are borrowed from r and stay valid until the next kith_frame_feed,
 * kith_frame_set_max or kith_frame_reader_init on r. If no frame is complete yet,
 * *body is NULL and *len 0. Returns 0, or KITH_EBADMSG if the reader failed. */
int kith_frame_pop(struct kith_frame_reader *r, const uint8_t **body,
                   size_t *len) KITH_MUST_CHECK;

/* True if the reader holds no byte of an unfinished frame: the stream may end
 * here without cutting a frame in half. */
bool kith_frame_idle(const struct kith_frame_reader *r);

/* Writes the 2-byte big-endian header of a frame of len body bytes into hdr.
 * Returns 0, or KITH_EINVAL if len is 0 or above KITH_FRAME_MAX. */
int kith_frame_header(size_t len,
                      uint8_t hdr[static KITH_FRAME_HDR_LEN]) KITH_MUST_CHECK;

/* Writes one frame, header then body (len bytes), into out (cap bytes) and sets
 * *out_len to len + 2. body may overlap out: a caller can build the body at
 * out + KITH_FRAME_HDR_LEN and then frame it in place. Returns 0; KITH_EINVAL if
 * len is 0 or above KITH_FRAME_MAX, or cap is below len + 2 (nothing written). */
int kith_frame_write(const uint8_t *body, size_t len, uint8_t *out, size_t cap,
                     size_t *out_len) KITH_MUST_CHECK;

/* ---- preamble ----------------------------------------------------------------- */

/* The 8 clear bytes each side sends first: "kith" | version | purpose | caps
 * (big-endian). */
struct kith_preamble {
  uint8_t version; /* 1; 0 in an answer means "no version shared" */
  uint8_t purpose; /* KITH_PURPOSE_SYNC, _PAIR or _RELAY */
  uint16_t caps;   /* capability bits; none defined yet */
};

/* Writes p's 8 bytes into out. Can't fail: it writes whatever p holds. */
void kith_preamble_encode(const struct kith_preamble *p,
                          uint8_t out[static KITH_PREAMBLE_LEN]);

/* Reads 8 bytes into *p. Returns 0; KITH_ENOTKITH if the magic is not "kith" or
 * the purpose is not one of KITH_PURPOSE_* (*p is zeroed); KITH_EVERSION if the
 * version is 0, an answer that shares no version (*p is filled). Higher versions
 * are not refused here: kith_preamble_answer picks the version to speak. */
int kith_preamble_decode(const uint8_t in[static KITH_PREAMBLE_LEN],
                         struct kith_preamble *p) KITH_MUST_CHECK;

/* The responder's answer to the initiator's preamble in: the lower of the two
 * versions (0 if that is below KITH_PROTO_VERSION_MIN), the same purpose, and
 * the intersection of the capabilities. Returns 0, or KITH_EVERSION if no version
 * is shared: *out is still filled (version 0) so that the responder can send it
 * before it closes. */
int kith_preamble_answer(const struct kith_preamble *in, uint8_t my_max_version,
                         uint16_t my_caps, struct kith_preamble *out) KITH_MUST_CHECK;

/* The initiator's check of the responder's answer to what it sent: 0 if answer
 * names a version from KITH_PROTO_VERSION_MIN to sent->version, the same purpose
 * and no capability sent lacks; KITH_EVERSION if the version is not one of those;
 * KITH_EBADMSG otherwise. */
int kith_preamble_check_answer(const struct kith_preamble *sent,
                               const struct kith_preamble *answer) KITH_MUST_CHECK;

/* The Noise prologue of a connection: "kith prologue v1" | init | resp, the two
 * preambles as sent on the wire. Sets *len to KITH_PROLOGUE_LEN. Can't fail. */
void kith_prologue(const uint8_t init[static KITH_PREAMBLE_LEN],
                   const uint8_t resp[static KITH_PREAMBLE_LEN],
                   uint8_t out[static KITH_PROLOGUE_LEN], size_t *len);

#endif
