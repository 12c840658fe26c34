/*
 * chan.h — the byte-level half of a connection session, shared by pairing
 * (core/pair.h) and sync links (core/link.h): the peer's 8-byte preamble, the frame
 * reader, the two Noise transport ciphers once the handshake is split, and the
 * output waiting for the transport. Pure: no sockets, no clocks, no store.
 *
 * A session embeds a kith_chan (last in its struct: the frame reader and the two
 * message buffers make it about 200 KiB), feeds it bytes with a handler, and keeps
 * every protocol decision (steps, results, refusals) to itself.
 */
#ifndef KITH_CHAN_H
#define KITH_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/noise.h"

#define KITH_CHAN_OUT_MAX (256u * 1024u) /* bytes waiting to be sent, at most */

struct kith_chan {
  uint8_t pre_in[KITH_PREAMBLE_LEN]; /* the peer's preamble, as it arrives */
  size_t pre_have;
  kith_noise_cipher *tx, *rx; /* set by the session's split */
  uint8_t *out;
  size_t out_len, out_cap;
  uint8_t pt[KITH_NOISE_MAX_MSG]; /* plaintext of one message, in or out */
  uint8_t ct[KITH_NOISE_MAX_MSG]; /* ciphertext of one message out */
  struct kith_frame_reader fr;
};

/* What feed calls back into the session. preamble: all 8 bytes are in pre_in.
 * frame: one complete frame (borrowed until the next feed). A non-zero return, or
 * ended() turning true, stops the feed. */
struct kith_chan_handler {
  int (*preamble)(void *s);
  int (*frame)(void *s, const uint8_t *body, size_t len);
  bool (*ended)(void *s);
};

/* Ready for a handshake: frames capped at KITH_FRAME_MAX_HANDSHAKE. 0, or the frame
 * reader's KITH_EINVAL (never, with that bound). */
int kith_chan_init(struct kith_chan *c) KITH_MUST_CHECK;
/* Frees the ciphers and the output, wipes the buffers. */
void kith_chan_clear(struct kith_chan *c);

/* Appends bytes to send. KITH_ENOMEM past KITH_CHAN_OUT_MAX or out of memory. */
int kith_chan_out(struct kith_chan *c, const uint8_t *b, size_t n) KITH_MUST_CHECK;
/* Appends one frame around body. KITH_EINVAL (size), KITH_ENOMEM. */
int kith_chan_send_frame(struct kith_chan *c, const uint8_t *body,
                         size_t len) KITH_MUST_CHECK;
/* Encodes m, encrypts it with tx and appends it as one frame. */
int kith_chan_send_msg(struct kith_chan *c, const struct kith_msg *m) KITH_MUST_CHECK;
/* Encrypts an already encoded message (len bytes at pt, at most
 * KITH_NOISE_MAX_PAYLOAD) with tx and appends it as one frame. */
int kith_chan_send_plain(struct kith_chan *c, const uint8_t *pt,
                         size_t len) KITH_MUST_CHECK;
/* Decrypts a transport frame with rx and decodes it into m: KITH_EPROTO if its MAC
 * fails, KITH_EVERSION or KITH_EBADMSG from the decoder. The plaintext is wiped,
 * except a sync message's, whose body m borrows until the next call on c that
 * sends or opens a message: decode it first. */
int kith_chan_open(struct kith_chan *c, const uint8_t *body, size_t len,
                   struct kith_msg *m) KITH_MUST_CHECK;

/* Feeds received bytes: the preamble first, then frames, one at a time, to h.
 * Returns 0, or KITH_EPROTO for a malformed frame (the session then fails). */
int kith_chan_feed(struct kith_chan *c, const uint8_t *in, size_t len,
                   const struct kith_chan_handler *h, void *s) KITH_MUST_CHECK;

/* The transport's side: what waits to be sent, and how much of it went. */
size_t kith_chan_pending(const struct kith_chan *c, const uint8_t **out);
void kith_chan_consumed(struct kith_chan *c, size_t n);

#endif
