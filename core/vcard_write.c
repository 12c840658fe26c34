/* vcard_write.c — vCard 4.0 out (being written) */
#include "core/vcard.h"

int kith_vcard_write(FILE *f, const json_t *contact)
{
  (void)f, (void)contact;
  return KITH_EINVAL;
}
