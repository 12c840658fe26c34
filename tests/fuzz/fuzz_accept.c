/*
 * fuzz_accept.c — what `kith serve` does with a stranger's bytes: a kith_accept
 * session (core/accept.h) fed a hostile stream in chunks, over a store with one
 * open invite and one partner. Byte 0 seeds the chunk sizes; the rest is the
 * stream. Whatever comes, the session must stay within its contract: never DONE
 * (nobody holds the store's key nor the invite's secret), pending output bounded,
 * nothing written to the store, and a result once it has ended.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/accept.h"
#include "core/pair.h"
#include "core/peer.h"

static kith_store *st;
static uint8_t digest0[32];
static char dir[] = "/tmp/kith-fuzz-accept-XXXXXX", home[64];

/* The store lives in /tmp for the fuzzer's run only. */
static void teardown(void)
{
  char path[96];
  kith_store_close(st);
  snprintf(path, sizeof path, "%s/data.mdb", home);
  remove(path);
  snprintf(path, sizeof path, "%s/lock.mdb", home);
  remove(path);
  remove(home);
  remove(dir);
}

static uint64_t clock_ms(void)
{
  return 1700000000000ull;
}

static void setup(void)
{
  struct kith_store_opts o = {clock_ms, (size_t)64 << 20};
  struct kith_invite inv;
  kith_txn *txn = NULL;
  uint8_t pk[32], sk[64], id[16];
  if (sodium_init() < 0 || !mkdtemp(dir))
    abort();
  snprintf(home, sizeof home, "%s/home", dir);
  crypto_sign_keypair(pk, sk);
  if (kith_store_init(home, "Ana", "laptop", &o, &st) != 0 ||
      kith_txn_begin(st, true, &txn) != 0 ||
      kith_pair_invite_create(txn, false, clock_ms() + 3600000, &inv) != 0 ||
      kith_peer_add(txn, "Bea", pk, "phone", NULL, id) != 0 ||
      kith_txn_commit(txn) != 0 || kith_txn_begin(st, false, &txn) != 0 ||
      kith_store_digest(txn, digest0) != 0)
    abort();
  kith_txn_abort(txn);
  atexit(teardown);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (!st)
    setup();
  if (size < 1)
    return 0;
  uint32_t seed = data[0] * 2654435761u + 1;
  const uint8_t *in = data + 1;
  size_t len = size - 1, off = 0;
  const struct kith_session_vt *vt = &kith_accept_vt;
  kith_accept *a = NULL;
  if (kith_accept_new(st, clock_ms, &a) != 0)
    abort();
  while (off < len) {
    enum kith_session_state s = vt->state(a);
    if (s == KITH_SESSION_DONE || s == KITH_SESSION_FAILED)
      break;
    seed = seed * 1103515245u + 12345u;
    size_t chunk = 1 + (seed >> 16) % 300;
    if (chunk > len - off)
      chunk = len - off;
    (void)vt->feed(a, in + off, chunk);
    off += chunk;
    const uint8_t *out;
    size_t n = vt->pending(a, &out);
    if (n > 4096) /* a preamble and one handshake message at most */
      abort();
    vt->consumed(a, n);
  }
  if (vt->state(a) != KITH_SESSION_DONE && vt->state(a) != KITH_SESSION_FAILED)
    (void)vt->eof(a);
  if (vt->state(a) == KITH_SESSION_DONE)
    abort();
  struct kith_accept_result r;
  kith_accept_result(a, &r);
  if (r.error == 0)
    abort();
  kith_accept_free(a);

  kith_txn *txn = NULL;
  uint8_t digest[32];
  if (kith_txn_begin(st, false, &txn) != 0 || kith_store_digest(txn, digest) != 0 ||
      memcmp(digest, digest0, 32) != 0)
    abort();
  kith_txn_abort(txn);
  return 0;
}
