/*
 * kith_test.h — what the unit tests share: hex literals to bytes, byte
 * comparisons that print both sides, temporary homes, an injectable clock.
 *
 * Header-only (static functions) so that each test_*.c stays one program; include
 * it after <cmocka.h>'s prerequisites.
 */
#ifndef KITH_TEST_H
#define KITH_TEST_H

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/session.h"
#include "core/store.h"
#include "proto/err.h"
#include "proto/hex.h"

/* Asserts that a kith call returned want; on failure prints both codes and their
 * meanings (cmocka's assert_int_equal shows only numbers). */
#define assert_rc(got, want) kt_assert_rc((got), (want), #got, __FILE__, __LINE__)

static inline void kt_assert_rc(int got, int want, const char *expr, const char *file,
                                int line)
{
  if (got == want)
    return;
  print_error("%s:%d: %s returned %d (%s), expected %d (%s)\n", file, line, expr, got,
              kith_strerror(got), want, kith_strerror(want));
  _fail(file, line);
}

/* Bytes from a hex literal that may contain spaces and newlines; the caller frees.
 * Aborts the test on a malformed literal (a bug in the test itself). */
static inline uint8_t *kt_unhex(const char *hex, size_t *len)
{
  size_t n = strlen(hex), k = 0;
  uint8_t *out = malloc(n / 2 + 1);
  assert_non_null(out);
  char pair[3] = {0};
  int have = 0;
  for (size_t i = 0; i < n; i++) {
    if (hex[i] == ' ' || hex[i] == '\n' || hex[i] == '\t')
      continue;
    pair[have++] = hex[i];
    if (have == 2) {
      assert_int_equal(kith_hex_decode(pair, out + k, 1), 0);
      k++;
      have = 0;
    }
  }
  assert_int_equal(have, 0);
  *len = k;
  return out;
}

/* Compares two byte strings; on a mismatch prints both in hex and the offset of
 * the first difference. */
#define assert_bytes_equal(got, got_len, want, want_len)                               \
  kt_assert_bytes((got), (got_len), (want), (want_len), __FILE__, __LINE__)

static inline void kt_print_hex(const char *label, const uint8_t *b, size_t n)
{
  print_error("%s (%zu bytes):", label, n);
  for (size_t i = 0; i < n; i++)
    print_error("%s%02x", i % 32 ? " " : "\n  ", b[i]);
  print_error("\n");
}

static inline void kt_assert_bytes(const uint8_t *got, size_t got_len,
                                   const uint8_t *want, size_t want_len,
                                   const char *file, int line)
{
  size_t i = 0;
  while (i < got_len && i < want_len && got[i] == want[i])
    i++;
  if (i == got_len && i == want_len)
    return;
  print_error("%s:%d: bytes differ at offset %zu\n", file, line, i);
  kt_print_hex("got", got, got_len);
  kt_print_hex("want", want, want_len);
  _fail(file, line);
}

/* ---- temporary homes ------------------------------------------------------ */

/* A fresh folder /tmp/kith-test-XXXXXX; path holds 64 bytes. */
static inline void kt_tmpdir(char path[64])
{
  snprintf(path, 64, "/tmp/kith-test-XXXXXX");
  assert_non_null(mkdtemp(path));
}

/* Removes a test folder and what it holds (plain files and folders). */
static inline void kt_rmtree(const char *path)
{
  char sub[512];
  DIR *d = opendir(path);
  struct dirent *e;
  assert_non_null(d);
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    int n = snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
    assert_true(n > 0 && (size_t)n < sizeof sub);
    struct stat sb;
    assert_int_equal(lstat(sub, &sb), 0);
    if (S_ISDIR(sb.st_mode))
      kt_rmtree(sub);
    else
      assert_int_equal(unlink(sub), 0);
  }
  closedir(d);
  assert_int_equal(rmdir(path), 0);
}

/* ---- stores ----------------------------------------------------------------- */

/* The injectable wall clock of kt_opts: tests move kt_now_ms as they like. */
static uint64_t kt_now_ms = 1700000000000ull;
static inline uint64_t kt_clock(void)
{
  return kt_now_ms;
}
static const struct kith_store_opts kt_opts
    __attribute__((unused)) = {kt_clock, (size_t)64 << 20};

/* A store in a fresh temporary folder; dir gets the folder, home the store's
 * home inside it (created by kith_store_init). */
struct kt_store {
  char dir[64];
  char home[96];
  kith_store *st;
};

static inline void kt_store_new(struct kt_store *s)
{
  kt_tmpdir(s->dir);
  snprintf(s->home, sizeof s->home, "%s/home", s->dir);
  assert_rc(kith_store_init(s->home, "Ada", "laptop", &kt_opts, &s->st), 0);
}

static inline void kt_store_free(struct kt_store *s)
{
  kith_store_close(s->st);
  s->st = NULL;
  kt_rmtree(s->dir);
}

static inline kith_txn *kt_begin(kith_store *st, bool write)
{
  kith_txn *t = NULL;
  assert_rc(kith_txn_begin(st, write, &t), 0);
  return t;
}

static inline void kt_commit(kith_txn *t)
{
  assert_rc(kith_txn_commit(t), 0);
}

/* ---- sessions back to back ------------------------------------------------------ */

/* How a pump run went: bytes each way. */
struct kt_flow {
  long ab, ba;
};

/* Moves bytes both ways between sessions a and b (driven through vt) until both end
 * or nothing moves: `chunk` bytes per feed at most (0: all at once); flips the byte
 * at offset flip_ab of the stream a -> b and flip_ba of b -> a (-1: none); stops
 * moving once `budget` bytes moved in all (-1: no budget), as a connection cut
 * there would. A side that ended with nothing left to send closes: the other reads
 * EOF. At most max_rounds rounds. */
static inline struct kt_flow kt_pump(const struct kith_session_vt *vt, void *a, void *b,
                                     size_t chunk, long flip_ab, long flip_ba,
                                     long budget, int max_rounds)
{
  struct kt_flow f = {0, 0};
  bool a_eof = false, b_eof = false;
  for (int rounds = 0; rounds < max_rounds; rounds++) {
    bool moved = false;
    void *from[2] = {a, b}, *to[2] = {b, a};
    bool *to_eof[2] = {&b_eof, &a_eof};
    long *sent[2] = {&f.ab, &f.ba}, flip[2] = {flip_ab, flip_ba};
    for (int d = 0; d < 2; d++) {
      const uint8_t *buf;
      size_t n = vt->pending(from[d], &buf);
      if (!n || *to_eof[d])
        continue;
      if (chunk && n > chunk)
        n = chunk;
      if (budget >= 0 && f.ab + f.ba + (long)n > budget)
        n = (size_t)(budget - f.ab - f.ba > 0 ? budget - f.ab - f.ba : 0);
      if (!n)
        continue;
      uint8_t *copy = malloc(n);
      assert_non_null(copy);
      memcpy(copy, buf, n);
      if (flip[d] >= *sent[d] && flip[d] < *sent[d] + (long)n)
        copy[flip[d] - *sent[d]] ^= 0x40;
      vt->consumed(from[d], n);
      enum kith_session_state st = vt->state(to[d]);
      if (st != KITH_SESSION_DONE && st != KITH_SESSION_FAILED)
        vt->feed(to[d], copy, n); /* a transport stops feeding an ended session */
      free(copy);
      *sent[d] += (long)n;
      moved = true;
    }
    if (budget >= 0 && f.ab + f.ba >= budget)
      break; /* the cut: neither side hears from the other again */
    enum kith_session_state sa = vt->state(a), sb = vt->state(b);
    bool a_end = sa == KITH_SESSION_DONE || sa == KITH_SESSION_FAILED;
    bool b_end = sb == KITH_SESSION_DONE || sb == KITH_SESSION_FAILED;
    const uint8_t *buf;
    if (a_end && !b_eof && !vt->pending(a, &buf)) {
      if (!b_end)
        vt->eof(b);
      b_eof = moved = true;
    }
    if (b_end && !a_eof && !vt->pending(b, &buf)) {
      if (!a_end)
        vt->eof(a);
      a_eof = moved = true;
    }
    if ((a_end && b_end) || !moved)
      break;
  }
  return f;
}

#endif
