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
#include "tests/fuzz/fuzz_store.h"

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
  fuzz_check_text(c, false);
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
  struct kith_import_sink sink = {on_contact, on_skip, NULL};
  /* the guess always, and one layout forced (which one, from the size) */
  for (size_t i = 0; i < 2; i++) {
    contacts = 0;
    enum kith_csv_layout layout = i ? layouts[1 + size % 4] : KITH_CSV_AUTO;
    round_trip = !i;
    if (kith_txn_begin(fuzz_store(), true, &txn) != 0)
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
