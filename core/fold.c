#include "core/fold.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

int kith_fold(const char *s, char **out)
{
  utf8proc_uint8_t *dst = NULL;
  utf8proc_ssize_t n = utf8proc_map(
      (const utf8proc_uint8_t *)s, 0, &dst,
      UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD |
          UTF8PROC_STRIPMARK | UTF8PROC_DECOMPOSE | UTF8PROC_IGNORE);
  if (n < 0)
    return n == UTF8PROC_ERROR_NOMEM ? KITH_ENOMEM : KITH_EBADUTF8;
  *out = (char *)dst;
  return 0;
}

int kith_fold_contains(const char *hay, const char *folded_needle)
{
  if (!hay)
    return 0;
  char *f = NULL;
  if (kith_fold(hay, &f) != 0)
    return 0;
  int hit = strstr(f, folded_needle) != NULL;
  free(f);
  return hit;
}
