/*
 * fuzz_csv.c — CSV contacts in: the bytes as a file, read with the layout guessed and
 * with one forced (GOOGLE, OUTLOOK, LINKEDIN or GENERIC, by the input's size). Each
 * contact handed over has a non-empty name and only valid UTF-8, and is accepted
 * by kith_json_import (into a store in a temporary home made once, in a write
 * transaction per read that is then aborted); the first one, written back as kith's
 * CSV, reads again as one contact of the same name. A read ends with 0, KITH_EBADMSG
 * (and then nothing was handed over) or KITH_ENOMEM; it never crashes or leaks.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/csv.h"
#include "core/json.h"
#include "core/model.h"
#include "proto/reg.h"

/* A fixed clock, 2026-11-30. */
static uint64_t fixed_now(void)
{
  return 1796000000000ull;
}

static char home[64];
static kith_store *st;

static void cleanup(void)
{
  kith_store_close(st);
  char path[128];
  const char *files[] = {"data.mdb", "lock.mdb"};
  for (int i = 0; i < 2; i++) {
    snprintf(path, sizeof path, "%s/%s", home, files[i]);
    unlink(path);
  }
  rmdir(home);
}

static void setup(void)
{
  struct kith_store_opts o = {fixed_now, (size_t)256 << 20};
  char dir[] = "/tmp/kith-fuzz-XXXXXX";
  if (!mkdtemp(dir))
    abort();
  snprintf(home, sizeof home, "%s", dir);
  if (kith_store_init(home, "fuzz", "fuzz", &o, &st) != 0)
    abort();
  atexit(cleanup);
}

static void check_text(const json_t *j)
{
  const char *key;
  json_t *v;
  size_t i;
  switch (json_typeof(j)) {
  case JSON_STRING:
    if (!kith_utf8_valid(json_string_value(j), json_string_length(j)))
      abort();
    break;
  case JSON_ARRAY:
    json_array_foreach(j, i, v) check_text(v);
    break;
  case JSON_OBJECT:
    json_object_foreach((json_t *)j, key, v)
    {
      if (!kith_utf8_valid(key, strlen(key)))
        abort();
      check_text(v);
    }
    break;
  default:
    abort(); /* a reader makes strings, arrays and objects only */
  }
}

struct again {
  const char *name;
  size_t n;
};

static int same_name(void *arg, json_t *c, size_t line)
{
  struct again *a = arg;
  (void)line;
  if (strcmp(json_string_value(json_object_get(c, "name")), a->name) != 0)
    abort();
  a->n++;
  return 0;
}

static size_t contacts;
static kith_txn *txn; /* one per read, aborted after it */
static bool round_trip;

static int on_contact(void *arg, json_t *c, size_t line)
{
  (void)arg;
  const char *name = json_string_value(json_object_get(c, "name"));
  if (!name || !*name || line == 0)
    abort();
  check_text(c);
  contacts++;

  struct kith_import_stats stats;
  char err[512];
  if (kith_json_import(txn, c, &stats, err, sizeof err) != 0) {
    fprintf(stderr, "refused: %s\n", err);
    abort();
  }
  if (!round_trip)
    return 0;
  round_trip = false; /* once per input: reading kith's header is the slow part */

  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  if (!f || kith_csv_write_header(f) != 0 || kith_csv_write(f, c) != 0 || fclose(f))
    abort();
  struct again a = {name, 0};
  struct kith_import_sink sink = {same_name, NULL, &a};
  if (kith_csv_read(out, len, KITH_CSV_AUTO, &sink) != 0 || a.n != 1)
    abort();
  free(out);
  return 0;
}

static void on_skip(void *arg, size_t line, const char *why)
{
  (void)arg;
  if (line == 0 || !why || !*why)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const enum kith_csv_layout layouts[] = {KITH_CSV_AUTO, KITH_CSV_GOOGLE,
                                                 KITH_CSV_OUTLOOK, KITH_CSV_LINKEDIN,
                                                 KITH_CSV_GENERIC};
  if (!st)
    setup();
  struct kith_import_sink sink = {on_contact, on_skip, NULL};
  /* the guess always, and one layout forced (which one, from the size) */
  for (size_t i = 0; i < 2; i++) {
    contacts = 0;
    enum kith_csv_layout layout = i ? layouts[1 + size % 4] : KITH_CSV_AUTO;
    round_trip = !i;
    if (kith_txn_begin(st, true, &txn) != 0)
      abort();
    int rc = kith_csv_read((const char *)data, size, layout, &sink);
    kith_txn_abort(txn);
    if (rc != 0 && rc != KITH_EBADMSG && rc != KITH_ENOMEM)
      abort();
    if (rc == KITH_EBADMSG && contacts)
      abort();
  }
  return 0;
}
