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

static void check_strings(const json_t *v)
{
  if (json_is_string(v)) {
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (!kith_utf8_valid(s, n) || strlen(s) != n || (n && s[n - 1] == '\r'))
      abort();
  } else if (json_is_array(v)) {
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) check_strings(e);
  } else if (json_is_object(v)) {
    const char *k;
    json_t *e;
    json_object_foreach((json_t *)v, k, e)
    {
      if (!kith_utf8_valid(k, strlen(k)))
        abort();
      check_strings(e);
    }
  }
}

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
  check_strings(c);
  struct kith_import_stats stats;
  char err[512] = "";
  if (!r->txn && kith_txn_begin(st, true, &r->txn) != 0)
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
  if (!st)
    setup();
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
