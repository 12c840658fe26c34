/*
 * fuzz_post.c — kith_post_decode (proto/syncmsg.h) on any bytes: a post an
 * envelope carried. A refused input leaves nothing decoded; an accepted one
 * encodes within kith_post_size's bound to bytes that decode to the same post.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/syncmsg.h"

static struct kith_sync_hello hello[KITH_SYNC_HELLO_MAX];
static struct kith_post_batch batch[KITH_POST_BATCH_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct kith_post p = {.hello = hello, .batch = batch};
  int rc = kith_post_decode(data, size, &p);
  if (rc) {
    if (rc != KITH_EBADMSG || p.nhello || p.nbatch || p.n)
      abort();
    return 0;
  }
  size_t bytes = 0;
  for (size_t i = 0; i < p.nbatch; i++)
    bytes += batch[i].len;
  size_t cap = kith_post_size(p.nhello, p.nbatch, bytes);
  uint8_t *out = malloc(cap);
  size_t len = 0;
  if (!out)
    return 0;
  /* msgpack has several encodings of one integer, so compare posts, not bytes */
  if (kith_post_encode(&p, out, cap, &len) != 0)
    abort();
  static struct kith_sync_hello h2[KITH_SYNC_HELLO_MAX];
  static struct kith_post_batch b2[KITH_POST_BATCH_MAX];
  struct kith_post q = {.hello = h2, .batch = b2};
  if (kith_post_decode(out, len, &q) != 0 || q.n != p.n || q.seen != p.seen ||
      q.nhello != p.nhello || q.nbatch != p.nbatch)
    abort();
  for (size_t i = 0; i < q.nbatch; i++)
    if (b2[i].len != batch[i].len || b2[i].to != batch[i].to ||
        (b2[i].len && memcmp(b2[i].bytes, batch[i].bytes, b2[i].len) != 0))
      abort();
  free(out);
  return 0;
}
