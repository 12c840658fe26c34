/*
 * noise_vectors — replays every vector of a Noise test vector file through
 * proto/noise.h and prints one line per vector:
 *
 *   N PROTOCOL_NAME ok
 *   N PROTOCOL_NAME FAIL: reason
 *   N PROTOCOL_NAME skip            (a protocol kith does not implement)
 *
 * Usage: noise_vectors FILE.json. Exits 0 if no vector failed, 1 if one did, 2 if
 * the file cannot be read. The format is described in tests/noise_vec.h.
 */
#include <stdio.h>

#include "tests/noise_vec.h"

int main(int argc, char **argv)
{
  struct nv_vector *v = NULL;
  size_t n = 0, ok = 0, skip = 0, fail = 0;
  char why[256];

  if (argc != 2) {
    fprintf(stderr, "usage: noise_vectors FILE.json\n");
    return 2;
  }
  if (sodium_init() < 0) {
    fprintf(stderr, "noise_vectors: libsodium cannot start\n");
    return 2;
  }
  if (nv_load(argv[1], &v, &n, why, sizeof why) != 0) {
    fprintf(stderr, "noise_vectors: %s\n", why);
    return 2;
  }
  for (size_t i = 0; i < n; i++) {
    switch (nv_run(&v[i], why, sizeof why)) {
    case NV_OK:
      printf("%zu %s ok\n", i, v[i].name);
      ok++;
      break;
    case NV_SKIP:
      printf("%zu %s skip\n", i, v[i].name);
      skip++;
      break;
    default:
      printf("%zu %s FAIL: %s\n", i, v[i].name, why);
      fail++;
    }
  }
  printf("%zu ok, %zu skipped, %zu failed\n", ok, skip, fail);
  nv_free(v, n);
  return fail ? 1 : 0;
}
