/*
 * fuzz_json_import.c — JSON import: the bytes as a document, read by the
 * streaming reader kith_json_import_text (what `kith import` uses) and, when
 * jansson can parse them, by kith_json_import, each into a store in a temporary
 * home made once, in a write transaction that is then aborted. An import either
 * succeeds or fails with a code and a reason; it never crashes or leaks.
 */
#include <dirent.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/json.h"
#include "core/model.h"
#include "tests/fuzz/fuzz_store.h"

static kith_store *st;

/* The shared store (fuzz_store.h), with two contacts that imports can merge into. */
static void setup(void)
{
  st = fuzz_store();
  kith_txn *t = NULL;
  uint8_t a[KITH_ID_LEN] = {0x00, 0x11, 0x22, 0x33}, b[KITH_ID_LEN] = {0xab, 0xcd};
  const char *name = "Ada";
  struct kith_value *v = kith_value_new(1, &name);
  if (!v || kith_txn_begin(st, true, &t) != 0 ||
      kith_record_create(t, KITH_KIND_CONTACT, true, a) != 0 ||
      kith_record_create(t, KITH_KIND_CONTACT, true, b) != 0 ||
      kith_field_set(t, a, kith_field_by_id(KITH_F_NAME), v) != 0 ||
      kith_txn_commit(t) != 0)
    abort();
  kith_value_free(v);
}

static void check_err(int rc, const char *err)
{
  if (rc > 0)
    abort(); /* kith codes are 0 or negative */
  if (rc && !err[0])
    abort(); /* a failure always says why */
  if (strlen(err) >= 512)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (!st)
    setup();
  struct kith_import_stats stats;
  char err[512];
  kith_txn *t = NULL;

  if (kith_txn_begin(st, true, &t) != 0)
    abort();
  memset(err, 0, sizeof err);
  int rc = kith_json_import_text(t, (const char *)data, size, &stats, err, sizeof err);
  check_err(rc, err);
  kith_txn_abort(t);

  json_error_t jerr;
  json_t *doc = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);
  if (doc) {
    if (kith_txn_begin(st, true, &t) != 0)
      abort();
    memset(err, 0, sizeof err);
    rc = kith_json_import(t, doc, &stats, err, sizeof err);
    check_err(rc, err);
    kith_txn_abort(t);
    json_decref(doc);
  }
  return 0;
}
