#include "proto/err.h"

const char *kith_strerror(int code)
{
  switch (code) {
  case 0:
    return "success";
#define KITH__ERR_CASE(name, c, text)                                                  \
  case c:                                                                              \
    return text;
    KITH_ERRORS(KITH__ERR_CASE)
#undef KITH__ERR_CASE
  }
  return "unknown error";
}
