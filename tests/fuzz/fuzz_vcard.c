/*
 * fuzz_vcard.c — the vCard reader: any bytes go to kith_vcard_read, whose sink
 * checks every contact it is given: a non-empty name, every string valid UTF-8
 * without a CR at its end, and an object kith_json_import accepts (into a store
 * in a temporary home made once, in a write transaction that is then aborted).
 * Notes name a line inside the input. A read never fails but for a sink's code.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/json.h"
#include "core/model.h"
#include "core/vcard.h"
#include "proto/reg.h"
#include "tests/fuzz/fuzz_store.h"

struct run {
  size_t lines; /* lines in the input, at most */
  size_t contacts;
  kith_txn *txn; /* one per input, aborted at its end */
};

static int on_contact(void *arg, json_t *c, size_t line)
{
  struct run *r = arg;
  const char *name = json_string_value(json_object_get(c, "name"));
  if (!name || !*name || line < 1 || line > r->lines)
    abort();
  fuzz_check_text(c, true);
  struct kith_import_stats stats;
  char err[512] = "";
  if (!r->txn && kith_txn_begin(fuzz_store(), true, &r->txn) != 0)
    abort();
  int rc = kith_json_import(r->txn, c, &stats, err, sizeof err);
  if (rc != 0) {
    fprintf(stderr, "refused: %s\n", err);
    abort(); /* the reader gave a contact the store does not take */
  }
  r->contacts++;
  return 0;
}

static void on_skip(void *arg, size_t line, const char *why)
{
  struct run *r = arg;
  if (line < 1 || line > r->lines || !why || !*why ||
      !kith_utf8_valid(why, strlen(why)))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  /* a UTF-16 file has as many lines as its UTF-8 text; a CR-only file as CRs */
  struct run r = {1, 0, NULL};
  for (size_t i = 0; i < size; i++)
    r.lines += data[i] == '\n' || data[i] == '\r';
  struct kith_import_sink sink = {on_contact, on_skip, &r};
  int rc = kith_vcard_read((const char *)data, size, &sink);
  if (rc != 0 && rc != KITH_ENOMEM)
    abort();
  kith_txn_abort(r.txn);
  return 0;
}
