/* csv.c — contacts as CSV (being written) */
#include "core/csv.h"

int kith_csv_read(const char *buf, size_t len, enum kith_csv_layout layout,
                  const struct kith_import_sink *sink)
{
  (void)buf, (void)len, (void)layout, (void)sink;
  return KITH_EINVAL;
}

int kith_csv_write_header(FILE *f)
{
  (void)f;
  return KITH_EINVAL;
}

int kith_csv_write(FILE *f, const json_t *contact)
{
  (void)f, (void)contact;
  return KITH_EINVAL;
}
