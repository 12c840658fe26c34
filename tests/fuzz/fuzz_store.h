/*
 * fuzz_store.h — what the fuzz targets that import share: a store in a temporary
 * home, made on first use and removed at exit, on a fixed clock (2026-11-30, so
 * corpus stamps of 2026-11-25 are accepted); and a check that what a reader made
 * holds only valid UTF-8, in keys and strings alike.
 *
 * Header-only (static functions): each fuzz_*.c stays one program.
 */
#ifndef KITH_FUZZ_STORE_H
#define KITH_FUZZ_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/store.h"
#include "proto/reg.h"

static inline uint64_t fuzz_now(void)
{
  return 1796000000000ull;
}

static char fuzz_home[64];
static kith_store *fuzz_st;

static inline void fuzz_cleanup(void)
{
  kith_store_close(fuzz_st);
  char path[128];
  const char *files[] = {"data.mdb", "lock.mdb"};
  for (int i = 0; i < 2; i++) {
    snprintf(path, sizeof path, "%s/%s", fuzz_home, files[i]);
    unlink(path);
  }
  rmdir(fuzz_home);
}

/* The store; the first call makes it (and aborts if it can't). */
static inline kith_store *fuzz_store(void)
{
  if (fuzz_st)
    return fuzz_st;
  struct kith_store_opts o = {fuzz_now, (size_t)256 << 20};
  char dir[] = "/tmp/kith-fuzz-XXXXXX";
  if (!mkdtemp(dir))
    abort();
  snprintf(fuzz_home, sizeof fuzz_home, "%s", dir);
  if (kith_store_init(fuzz_home, "fuzz", "fuzz", &o, &fuzz_st) != 0)
    abort();
  atexit(fuzz_cleanup);
  return fuzz_st;
}

/* Aborts unless every key and string in j is valid UTF-8 without a NUL (and, with
 * no_cr_end, without a CR at its end); a reader makes strings, arrays and objects
 * only. */
static inline void fuzz_check_text(const json_t *j, bool no_cr_end)
{
  const char *key;
  json_t *v;
  size_t i;
  switch (json_typeof(j)) {
  case JSON_STRING: {
    const char *s = json_string_value(j);
    size_t n = json_string_length(j);
    if (!kith_utf8_valid(s, n) || strlen(s) != n ||
        (no_cr_end && n && s[n - 1] == '\r'))
      abort();
    break;
  }
  case JSON_ARRAY:
    json_array_foreach(j, i, v) fuzz_check_text(v, no_cr_end);
    break;
  case JSON_OBJECT:
    json_object_foreach((json_t *)j, key, v)
    {
      if (!kith_utf8_valid(key, strlen(key)))
        abort();
      fuzz_check_text(v, no_cr_end);
    }
    break;
  default:
    abort();
  }
}

#endif
