/*
 * fuzz_noise_read.c — the Noise read paths: kith_noise_read_message and
 * kith_noise_cipher_decrypt, fed with what a hostile peer sends.
 *
 * Input: one byte of choice, then frames (2-byte big-endian length, then that many
 * bytes; the last frame takes what is left if it is short).
 *
 *   (choice & 0x7f) % 10         the protocol (the table below: 5 patterns x 2
 *                                hashes)
 *   (choice & 0x7f) / 10 % (n+1) k: the first message the fuzzer writes, n being
 *                                the pattern's message count; k = n: transport only
 *   choice & 0x80                for k = n, which side receives (initiator if clear)
 *
 * Two states with fixed keys and ephemerals run messages 0..k-1 honestly; from
 * message k on, the side that reads k (the victim) reads the frames as its peer's
 * messages, writes its own turns (sent nowhere), splits, and decrypts the rest of
 * the frames as transport messages. It stops at the first refusal. Each frame is
 * copied into a buffer of exactly its size, so ASan sees any read past it.
 *
 * Checks beyond the sanitizers: a read returns 0 or KITH_EBADMSG (the buffers are
 * large enough that KITH_EINVAL would be a bug); a refused read leaves the payload
 * buffer zeroed and *len 0, and kills the state; an accepted payload is no longer
 * than the message; the victim's own writes never fail.
 *
 * Seeds (tests/fuzz/corpus/fuzz_noise_read/) are the honest peer's messages for
 * every (protocol, k, side), so mutation starts from states deep in the handshake.
 * Regenerate them with this file built as a plain program:
 *
 *   cc -DFUZZ_NOISE_MAKE_SEEDS -I. tests/fuzz/fuzz_noise_read.c build/libkith.a \
 *      $(pkg-config --libs libsodium) -o /tmp/noise_seeds &&
 *   /tmp/noise_seeds tests/fuzz/corpus/fuzz_noise_read
 */
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/err.h"
#include "proto/noise.h"

#define KEY KITH_NOISE_KEY_LEN

static const struct {
  const char *name;
  int n_msgs;
} protos[] = {
    {"Noise_NN_25519_ChaChaPoly_BLAKE2b", 2},
    {"Noise_NN_25519_ChaChaPoly_SHA256", 2},
    {"Noise_XX_25519_ChaChaPoly_BLAKE2b", 3},
    {"Noise_XX_25519_ChaChaPoly_SHA256", 3},
    {"Noise_IK_25519_ChaChaPoly_BLAKE2b", 2},
    {"Noise_IK_25519_ChaChaPoly_SHA256", 2},
    {"Noise_NNpsk0_25519_ChaChaPoly_BLAKE2b", 2},
    {"Noise_NNpsk0_25519_ChaChaPoly_SHA256", 2},
    {"Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b", 3},
    {"Noise_XXpsk3_25519_ChaChaPoly_SHA256", 3},
};
#define N_PROTOS 10

static uint8_t i_priv[KEY], r_priv[KEY], i_pub[KEY], r_pub[KEY];
static uint8_t i_eph[KEY], r_eph[KEY], psk[KEY];
static const uint8_t prologue[] = "kith fuzz";
static bool keys_ready;

static int keys_init(void)
{
  uint8_t *parts[] = {i_priv, r_priv, i_eph, r_eph, psk};
  if (keys_ready)
    return 0;
  for (size_t p = 0; p < 5; p++)
    for (size_t i = 0; i < KEY; i++)
      parts[p][i] = (uint8_t)(p * 59 + i * 7 + 3);
  if (crypto_scalarmult_base(i_pub, i_priv) != 0 ||
      crypto_scalarmult_base(r_pub, r_priv) != 0)
    return -1;
  keys_ready = true;
  return 0;
}

static kith_noise_hs *side_new(const char *name, enum kith_noise_role role)
{
  bool ini = role == KITH_NOISE_INITIATOR;
  unsigned needs;
  kith_noise_hs *hs = NULL;
  struct kith_noise_config c = {0};
  if (kith_noise_needs(name, role, &needs) != 0)
    abort();
  c.protocol = name;
  c.role = role;
  c.prologue = prologue;
  c.prologue_len = sizeof prologue;
  c.local_static = (needs & KITH_NOISE_NEED_STATIC) ? (ini ? i_priv : r_priv) : NULL;
  c.remote_static =
      (needs & KITH_NOISE_NEED_REMOTE_STATIC) ? (ini ? r_pub : i_pub) : NULL;
  c.psk = (needs & KITH_NOISE_NEED_PSK) ? psk : NULL;
  c.ephemeral = ini ? i_eph : r_eph;
  if (kith_noise_hs_new(&c, &hs) != 0)
    abort();
  return hs;
}

static void payload_for(int m, uint8_t out[16], size_t *len)
{
  *len = (size_t)(3 + 4 * m);
  for (size_t i = 0; i < *len; i++)
    out[i] = (uint8_t)('A' + m + i);
}

static bool all_zero(const uint8_t *b, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (b[i])
      return false;
  return true;
}

/* Reads the frame at *pos into a malloc'd buffer of exactly its size. */
static uint8_t *next_frame(const uint8_t *data, size_t size, size_t *pos, size_t *len)
{
  if (size - *pos < 2)
    return NULL;
  size_t n = (size_t)data[*pos] << 8 | data[*pos + 1];
  *pos += 2;
  if (n > size - *pos)
    n = size - *pos;
  uint8_t *f = malloc(n ? n : 1);
  if (!f)
    abort();
  if (n)
    memcpy(f, data + *pos, n);
  *pos += n;
  *len = n;
  return f;
}

static uint8_t out[KITH_NOISE_MAX_MSG], pt[KITH_NOISE_MAX_MSG];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  kith_noise_hs *hi = NULL, *hr = NULL;
  kith_noise_cipher *send = NULL, *recv = NULL;
  uint8_t payload[16], *frame = NULL;
  size_t n, pn, plen, flen, pos = 1;

  if (size < 1 || keys_init() != 0)
    return 0;
  int p = (data[0] & 0x7f) % N_PROTOS, n_msgs = protos[p].n_msgs;
  int k = (data[0] & 0x7f) / N_PROTOS % (n_msgs + 1);
  hi = side_new(protos[p].name, KITH_NOISE_INITIATOR);
  hr = side_new(protos[p].name, KITH_NOISE_RESPONDER);

  /* Messages before k, honestly; all of them if k = n. */
  for (int m = 0; m < k; m++) {
    kith_noise_hs *tx = m % 2 == 0 ? hi : hr, *rx = m % 2 == 0 ? hr : hi;
    payload_for(m, payload, &plen);
    if (kith_noise_write_message(tx, payload, plen, out, sizeof out, &n) != 0 ||
        kith_noise_read_message(rx, out, n, pt, sizeof pt, &pn) != 0)
      abort();
  }
  kith_noise_hs *victim;
  if (k < n_msgs)
    victim = k % 2 == 0 ? hr : hi;
  else
    victim = (data[0] & 0x80) ? hr : hi;

  for (int m = k;; m++) {
    enum kith_noise_next next = kith_noise_next(victim);
    if (next == KITH_NOISE_SPLIT)
      break;
    if (next == KITH_NOISE_WRITE) {
      payload_for(m, payload, &plen);
      if (kith_noise_write_message(victim, payload, plen, out, sizeof out, &n) != 0)
        abort();
      continue;
    }
    if (next != KITH_NOISE_READ || !(frame = next_frame(data, size, &pos, &flen)))
      goto out;
    memset(pt, 0xa5, sizeof pt);
    pn = 77;
    int rc = kith_noise_read_message(victim, frame, flen, pt, sizeof pt, &pn);
    free(frame);
    frame = NULL;
    if (rc == 0 && pn > flen)
      abort();
    if (rc != 0) {
      if (rc != KITH_EBADMSG || pn != 0 || !all_zero(pt, sizeof pt) ||
          kith_noise_next(victim) != KITH_NOISE_FAILED)
        abort();
      goto out;
    }
  }
  if (kith_noise_split(victim, &send, &recv) != 0)
    abort();
  while ((frame = next_frame(data, size, &pos, &flen)) != NULL) {
    memset(pt, 0xa5, sizeof pt);
    pn = 77;
    int rc = kith_noise_cipher_decrypt(recv, frame, flen, pt, sizeof pt, &pn);
    free(frame);
    frame = NULL;
    if (rc == 0 && pn + KITH_NOISE_TAG_LEN != flen)
      abort();
    if (rc != 0) {
      if (rc != KITH_EBADMSG || pn != 0 || !all_zero(pt, sizeof pt))
        abort();
      break;
    }
    /* The victim answers; its own sends must keep working. */
    if (kith_noise_cipher_encrypt(send, pt, pn, out, sizeof out, &n) != 0)
      abort();
  }
out:
  free(frame);
  kith_noise_cipher_free(send);
  kith_noise_cipher_free(recv);
  kith_noise_hs_free(hi);
  kith_noise_hs_free(hr);
  return 0;
}

#ifdef FUZZ_NOISE_MAKE_SEEDS
/* Writes one seed per (protocol, k, side): the honest peer's messages from k on,
 * then two transport messages from the peer. */
static void put_frame(FILE *f, const uint8_t *b, size_t n)
{
  fputc((int)(n >> 8), f);
  fputc((int)(n & 0xff), f);
  fwrite(b, 1, n, f);
}

int main(int argc, char **argv)
{
  if (argc != 2 || sodium_init() < 0 || keys_init() != 0)
    return 2;
  for (int p = 0; p < N_PROTOS; p++) {
    int n_msgs = protos[p].n_msgs;
    for (int k = 0; k <= n_msgs; k++) {
      for (int side = 0; side < (k == n_msgs ? 2 : 1); side++) {
        uint8_t payload[16];
        size_t n, pn, plen;
        kith_noise_cipher *is = NULL, *ir = NULL, *rs = NULL, *rr = NULL;
        kith_noise_hs *hi = side_new(protos[p].name, KITH_NOISE_INITIATOR);
        kith_noise_hs *hr = side_new(protos[p].name, KITH_NOISE_RESPONDER);
        int choice = p + N_PROTOS * k + (side ? 0x80 : 0);
        /* Victim: the reader of k, or for k = n the chosen side. */
        bool victim_is_r = k < n_msgs ? k % 2 == 0 : side == 1;
        char path[512];
        snprintf(path, sizeof path, "%s/seed-%s-k%d%s", argv[1], protos[p].name + 6, k,
                 k == n_msgs ? (side ? "-resp" : "-init") : "");
        FILE *f = fopen(path, "wb");
        if (!f)
          return 1;
        fputc(choice, f);
        for (int m = 0; m < n_msgs; m++) {
          bool from_i = m % 2 == 0;
          kith_noise_hs *tx = from_i ? hi : hr, *rx = from_i ? hr : hi;
          payload_for(m, payload, &plen);
          if (kith_noise_write_message(tx, payload, plen, out, sizeof out, &n) != 0 ||
              kith_noise_read_message(rx, out, n, pt, sizeof pt, &pn) != 0)
            return 1;
          if (m >= k && from_i == victim_is_r)
            put_frame(f, out, n);
        }
        if (kith_noise_split(hi, &is, &ir) != 0 || kith_noise_split(hr, &rs, &rr) != 0)
          return 1;
        for (int t = 0; t < 2; t++) {
          static const uint8_t msg[] = "transport from the peer";
          if (kith_noise_cipher_encrypt(victim_is_r ? is : rs, msg, sizeof msg - t * 10,
                                        out, sizeof out, &n) != 0)
            return 1;
          put_frame(f, out, n);
        }
        fclose(f);
        kith_noise_cipher_free(is);
        kith_noise_cipher_free(ir);
        kith_noise_cipher_free(rs);
        kith_noise_cipher_free(rr);
        kith_noise_hs_free(hi);
        kith_noise_hs_free(hr);
      }
    }
  }
  return 0;
}
#endif
