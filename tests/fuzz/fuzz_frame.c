/*
 * fuzz_frame.c — the frame reader (proto/frame.h) fed a hostile stream in chunks of
 * every size. Input: byte 0 picks how many frames are read under the handshake
 * maximum (bits 0-1: 0..3) before it is raised to 65,535, byte 1 seeds the chunk
 * sizes, the rest is the stream.
 *
 * A reference parser, written as plainly as possible, walks the same stream; the
 * reader must pop exactly its frames, byte for byte, never one that is empty or
 * longer than the maximum in force, and must fail exactly where it does and stay
 * failed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"

static struct kith_frame_reader reader;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 2)
    return 0;
  unsigned handshake_frames = data[0] & 3;
  uint32_t seed = data[1] * 2654435761u + 1;
  const uint8_t *in = data + 2;
  size_t len = size - 2;

  kith_frame_reader_init(&reader);
  if (handshake_frames && kith_frame_set_max(&reader, KITH_FRAME_MAX_HANDSHAKE) != 0)
    abort();

  size_t ref = 0; /* the reference parser's position: the next frame's header */
  unsigned nframes = 0;
  bool failed = false;
  size_t off = 0;
  while (off < len) {
    seed = seed * 1103515245u + 12345u;
    size_t chunk = 1 + (seed >> 16) % (seed & 0x100 ? 5 : 70000);
    if (chunk > len - off)
      chunk = len - off;
    size_t used = 7;
    int rc = kith_frame_feed(&reader, in + off, chunk, &used);
    if (rc != 0) {
      if (rc != KITH_EBADMSG || used != 0)
        abort();
      failed = true;
      break;
    }
    if (used > chunk)
      abort();
    off += used;
    const uint8_t *body;
    size_t n;
    if (kith_frame_pop(&reader, &body, &n) != 0)
      abort();
    if (!body) {
      if (n != 0 || used != chunk)
        abort(); /* no frame yet: the whole chunk was taken */
      continue;
    }
    /* the reference frame at ref */
    size_t max = nframes < handshake_frames ? KITH_FRAME_MAX_HANDSHAKE : KITH_FRAME_MAX;
    if (len - ref < 2)
      abort();
    size_t want = (size_t)in[ref] << 8 | in[ref + 1];
    if (want == 0 || want > max || n != want || len - ref - 2 < want ||
        memcmp(body, in + ref + 2, n) != 0 || off != ref + 2 + want)
      abort();
    ref += 2 + want;
    nframes++;
    if (nframes == handshake_frames && kith_frame_set_max(&reader, KITH_FRAME_MAX) != 0)
      abort();
  }

  /* where the reader stopped, the reference stops too, for the same reason */
  size_t max = nframes < handshake_frames ? KITH_FRAME_MAX_HANDSHAKE : KITH_FRAME_MAX;
  bool ref_fails = len - ref >= 2 && (((size_t)in[ref] << 8 | in[ref + 1]) == 0 ||
                                      ((size_t)in[ref] << 8 | in[ref + 1]) > max);
  if (failed != ref_fails)
    abort();
  if (failed) {
    size_t used = 9;
    const uint8_t *body = in;
    size_t n = 9;
    if (kith_frame_feed(&reader, in, len, &used) != KITH_EBADMSG || used != 0 ||
        kith_frame_pop(&reader, &body, &n) != KITH_EBADMSG || body || n ||
        kith_frame_idle(&reader))
      abort();
  } else if (kith_frame_idle(&reader) != (ref == len)) {
    abort();
  }
  return 0;
}
