#include "cli/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

#include "proto/hex.h"

int cli_exit_code(int rc)
{
  switch (rc) {
  case 0:
    return 0;
  case KITH_EINVAL:
    return EX_USAGE_;
  case KITH_ENOSTORE:
    return EX_NOINPUT_;
  case KITH_EEXISTS:
    return EX_CANTCREAT_;
  case KITH_EFULL:
  case KITH_EIO:
  case KITH_EREADONLY:
    return EX_IOERR_;
  case KITH_ENOMEM:
    return EX_OSERR_;
  case KITH_EBUSY:
    return EX_TEMPFAIL_;
  case KITH_EUNAVAIL: /* the network: a peer or relay we could not reach or keep */
  case KITH_ETIMEDOUT:
  case KITH_ECLOSED:
  case KITH_ESTALLED:
  case KITH_ENOTKITH:
    return EX_UNAVAILABLE_;
  case KITH_EREFUSED:
    return EX_NOPERM_;
  default:
    return EX_DATAERR_;
  }
}

static void vfail(int rc, const char *fmt, va_list ap)
{
  fputs("kith: ", stderr);
  vfprintf(stderr, fmt, ap);
  if (rc)
    fprintf(stderr, ": %s", kith_strerror(rc));
  if (rc == KITH_EFULL)
    fputs(" (nothing was written; free some space and try again)", stderr);
  fputc('\n', stderr);
}

int cli_fail(int rc, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vfail(rc, fmt, ap);
  va_end(ap);
  return rc ? cli_exit_code(rc) : EX_USAGE_;
}

int cli_error(int code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vfail(0, fmt, ap);
  va_end(ap);
  return code;
}

int cli_usage(const char *usage, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fputs("kith: ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  if (usage) {
    /* Errors are one line: name the command ("kith contact add", the leading
     * lowercase words of its usage) and point at its help. */
    size_t n = 0, at = 0;
    while (usage[at] >= 'a' && usage[at] <= 'z') {
      while (usage[at] && usage[at] != ' ' && usage[at] != '\n')
        at++;
      n = at;
      while (usage[at] == ' ')
        at++;
    }
    fprintf(stderr, " (see '%.*s --help')", (int)n, usage);
  }
  fputc('\n', stderr);
  return EX_USAGE_;
}

uint64_t cli_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct kith_store_opts cli_store_opts(void)
{
  struct kith_store_opts o = {cli_now_ms, 0};
  const char *m = getenv("KITH_MAP_SIZE");
  if (m && *m) {
    char *end = NULL;
    unsigned long long v = strtoull(m, &end, 10);
    if (end && *end == 0 && v >= 65536)
      o.map_size = (size_t)v;
  }
  return o;
}

int cli_open(struct cli *cli)
{
  struct kith_store_opts o = cli_store_opts();
  int rc = kith_store_open(cli->home, &o, &cli->st);
  switch (rc) {
  case 0:
    return 0;
  case KITH_ENOSTORE:
    return cli_fail(rc, "no store in %s (run 'kith init' first)", cli->home);
  case KITH_ENEWER:
    return cli_fail(rc,
                    "the store in %s was written by a newer kith; upgrade kith "
                    "to use it (it was left untouched)",
                    cli->home);
  default:
    return cli_fail(rc, "cannot open the store in %s", cli->home);
  }
}

int cli_begin(struct cli *cli, bool write, kith_txn **txn)
{
  int rc = kith_txn_begin(cli->st, write, txn);
  if (rc == KITH_EREADONLY)
    return cli_error(cli_exit_code(rc),
                     "the store in %s is read-only; nothing was "
                     "changed",
                     cli->home);
  return rc ? cli_fail(rc, "cannot begin a transaction") : 0;
}

int cli_commit(kith_txn *txn)
{
  int rc = kith_txn_commit(txn);
  return rc ? cli_fail(rc, "cannot save the change") : 0;
}

int cli_json_print(json_t *doc)
{
  int rc = doc ? json_dumpf(doc, stdout, JSON_COMPACT) : -1;
  json_decref(doc);
  if (rc == 0)
    fputc('\n', stdout);
  if (rc != 0 || fflush(stdout) != 0)
    return cli_fail(KITH_EIO, "cannot write the output");
  return 0;
}

int cli_resolve(kith_txn *txn, int kind, const char *prefix, uint8_t id[16])
{
  const char *what = kith_kind_name(kind) ? kith_kind_name(kind) : "record";
  int rc = kith_record_resolve(txn, kind, prefix, id);
  switch (rc) {
  case 0:
    return 0;
  case KITH_EINVAL:
    return cli_fail(KITH_EBADMSG, "'%s' is not a %s id (ids are hex)", prefix, what);
  case KITH_ENOTFOUND:
    return cli_error(EX_DATAERR_, "no %s with id '%s'", what, prefix);
  case KITH_EAMBIGUOUS:
    return cli_error(EX_DATAERR_, "id '%s' matches more than one %s; give more digits",
                     prefix, what);
  default:
    return cli_fail(rc, "cannot look up %s '%s'", what, prefix);
  }
}

int cli_open_record(struct cli *cli, int argc, char **argv, const char *usage, int kind,
                    bool write, kith_txn **txn, uint8_t id[16])
{
  if (argc < 2)
    return cli_usage(usage, "missing the %s id", kith_kind_name(kind));
  if (argv[1][0] == '-') /* ids are hex: this is an option these commands lack */
    return cli_usage(usage, "unknown option '%s'", argv[1]);
  int rc = cli_open(cli);
  if (rc == 0)
    rc = cli_begin(cli, write, txn);
  if (rc == 0)
    rc = cli_resolve(*txn, kind, argv[1], id);
  return rc;
}

void cli_relative(uint64_t ms, uint64_t now, char *out, size_t n)
{
  bool future = ms > now;
  uint64_t d = (future ? ms - now : now - ms) / 1000;
  static const struct {
    uint64_t secs;
    const char *unit;
  } u[] = {{365 * 86400, "year"}, {30 * 86400, "month"}, {7 * 86400, "week"},
           {86400, "day"},        {3600, "hour"},        {60, "minute"}};
  if (d < 60) {
    snprintf(out, n, "just now");
    return;
  }
  for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
    if (d >= u[i].secs) {
      uint64_t k = d / u[i].secs;
      snprintf(out, n, future ? "in %llu %s%s" : "%llu %s%s ago", (unsigned long long)k,
               u[i].unit, k == 1 ? "" : "s");
      return;
    }
  }
}

size_t cli_width(const char *s)
{
  size_t w = 0;
  const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
  utf8proc_int32_t cp;
  while (*p) {
    utf8proc_ssize_t k = utf8proc_iterate(p, -1, &cp);
    if (k <= 0) {
      p++;
      w++;
      continue;
    }
    int cw = utf8proc_charwidth(cp);
    w += cw > 0 ? (size_t)cw : 0;
    p += k;
  }
  return w;
}

void cli_pad(FILE *f, const char *s, size_t width)
{
  size_t w = 0;
  const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
  utf8proc_int32_t cp;
  bool cut = cli_width(s) > width;
  while (*p) {
    utf8proc_ssize_t k = utf8proc_iterate(p, -1, &cp);
    if (k <= 0)
      break;
    int cw = utf8proc_charwidth(cp);
    size_t c = cw > 0 ? (size_t)cw : 0;
    if (cut && w + c > width - 1)
      break;
    fwrite(p, 1, (size_t)k, f);
    w += c;
    p += k;
  }
  if (cut) {
    fputs("…", f);
    w++;
  }
  for (; w < width; w++)
    fputc(' ', f);
}

bool cli_wants_help(int argc, char **argv)
{
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0)
      return false;
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
      return true;
  }
  return false;
}

int cli_read_file(const char *path, size_t max, char **out, size_t *len)
{
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (!f)
    return KITH_EIO;
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  int rc = 0;
  while (buf) {
    if (n + 1 >= cap) {
      if (cap > max) {
        rc = KITH_ETOOBIG;
        break;
      }
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        rc = KITH_ENOMEM;
        break;
      }
      buf = nb, cap *= 2;
    }
    size_t k = fread(buf + n, 1, cap - n - 1, f);
    n += k;
    if (k == 0) {
      if (ferror(f))
        rc = KITH_EIO;
      break;
    }
  }
  if (!buf)
    rc = KITH_ENOMEM;
  if (f != stdin)
    fclose(f);
  if (rc == 0 && n > max)
    rc = KITH_ETOOBIG;
  if (rc) {
    free(buf);
    return rc;
  }
  buf[n] = 0;
  *out = buf;
  *len = n;
  return 0;
}

uint64_t cli_parse_duration_ms(const char *s, uint64_t max_ms)
{
  char *end = NULL;
  if (!isdigit((unsigned char)s[0]))
    return 0;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  uint64_t unit = 1000;
  switch (*end) {
  case 's':
    end++;
    break;
  case 'm':
    unit = 60000, end++;
    break;
  case 'h':
    unit = 3600000, end++;
    break;
  case 'd':
    unit = 86400000, end++;
    break;
  }
  if (errno || *end || v == 0 || v > max_ms / unit)
    return 0;
  return (uint64_t)v * unit;
}

void cli_addr_text(const struct sockaddr *sa, char *out, size_t n)
{
  char ip[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const void *)sa;
    inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
    snprintf(out, n, "[%s]:%u", ip, ntohs(s6->sin6_port));
  } else {
    const struct sockaddr_in *s4 = (const void *)sa;
    inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
    snprintf(out, n, "%s:%u", ip, ntohs(s4->sin_port));
  }
}
