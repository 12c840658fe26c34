/* vcard_read.c — vCard 2.1, 3.0 and 4.0 in (being written) */
#include "core/vcard.h"

int kith_vcard_read(const char *buf, size_t len, const struct kith_import_sink *sink)
{
  (void)buf, (void)len, (void)sink;
  return KITH_EINVAL;
}
