#include "cli/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <qrencode.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <utf8proc.h>

#include "core/cadence.h"
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

bool cli_color(FILE *f)
{
  const char *term = getenv("TERM"), *no = getenv("NO_COLOR");
  return isatty(fileno(f)) && !(no && *no) && !(term && strcmp(term, "dumb") == 0);
}

static const char *const style_on[] = {[CLI_BOLD] = "\033[1m",
                                       [CLI_RED] = "\033[31m",
                                       [CLI_YELLOW] = "\033[33m",
                                       [CLI_DIM] = "\033[2m"};

void cli_paint(FILE *f, enum cli_style style, const char *text)
{
  bool on = cli_color(f);
  fprintf(f, "%s%s%s", on ? style_on[style] : "", text, on ? "\033[0m" : "");
}

void cli_paint_pad(FILE *f, enum cli_style style, const char *text, size_t width)
{
  size_t w = cli_width(text);
  if (w > width) { /* cut: cli_pad knows how */
    bool on = cli_color(f);
    fputs(on ? style_on[style] : "", f);
    cli_pad(f, text, width);
    fputs(on ? "\033[0m" : "", f);
    return;
  }
  cli_paint(f, style, text);
  for (; w < width; w++)
    fputc(' ', f);
}

int cli_today(int32_t *day)
{
  /* the one place kith reads "today": tests pin it with KITH_TODAY */
  const char *pin = getenv("KITH_TODAY");
  if (pin && *pin) {
    if (!kith_day_parse(pin, day) || strlen(pin) != 10)
      return cli_error(EX_USAGE_, "KITH_TODAY='%s' is not a date (YYYY-MM-DD)", pin);
    return 0;
  }
  time_t t = time(NULL);
  struct tm tm;
  if (!localtime_r(&t, &tm))
    return cli_error(EX_OSERR_, "cannot read the local date");
  *day = kith_day_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  return 0;
}

/* 45000 -> "45,000" */
static void thousands(uint64_t v, char *out, size_t n)
{
  char digits[24];
  int len = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
  size_t at = 0;
  for (int i = 0; i < len && at + 2 < n; i++) {
    if (i && (len - i) % 3 == 0)
      out[at++] = ',';
    out[at++] = digits[i];
  }
  out[at] = 0;
}

void cli_progress_text(const struct cli_progress *p, char *out, size_t n)
{
  enum { BAR = 24 };
  char done[32], total[32], bar[BAR + 1];
  thousands(p->done, done, sizeof done);
  if (!p->total) {
    snprintf(out, n, "%s  %s", p->what, done);
    return;
  }
  uint64_t d = p->done < p->total ? p->done : p->total;
  size_t fill = (size_t)(d * BAR / p->total);
  memset(bar, '#', fill);
  memset(bar + fill, '.', BAR - fill);
  bar[BAR] = 0;
  thousands(p->total, total, sizeof total);
  snprintf(out, n, "%s  [%s]  %s/%s", p->what, bar, done, total);
}

static void progress_draw(struct cli_progress *p)
{
  char line[160];
  cli_progress_text(p, line, sizeof line);
  size_t w = strlen(line);
  fprintf(stderr, "\r%s", line);
  for (size_t i = w; i < p->drawn; i++) /* a shorter line must not leave a tail */
    fputc(' ', stderr);
  fflush(stderr);
  p->drawn = w > p->drawn ? w : p->drawn;
}

void cli_progress_start(struct cli_progress *p, const char *what, uint64_t total)
{
  *p = (struct cli_progress){.what = what, .total = total};
  p->on = isatty(STDERR_FILENO) != 0;
  if (p->on) {
    p->last_ms = cli_now_ms();
    progress_draw(p);
  }
}

void cli_progress_update(struct cli_progress *p, uint64_t done)
{
  p->done = done;
  if (!p->on)
    return;
  uint64_t now = cli_now_ms();
  if (now - p->last_ms < 100 && done != p->total)
    return;
  p->last_ms = now;
  progress_draw(p);
}

void cli_progress_end(struct cli_progress *p)
{
  if (!p->on || !p->drawn)
    return;
  fputc('\r', stderr);
  for (size_t i = 0; i < p->drawn; i++)
    fputc(' ', stderr);
  fputc('\r', stderr);
  fflush(stderr);
  p->drawn = 0;
}

void cli_day_relative(int32_t day, int32_t today, char *out, size_t n)
{
  int64_t d = (int64_t)day - today;
  if (d == 0)
    snprintf(out, n, "today");
  else if (d == 1)
    snprintf(out, n, "tomorrow");
  else if (d == -1)
    snprintf(out, n, "yesterday");
  else if (d > 0)
    snprintf(out, n, "in %lld days", (long long)d);
  else
    snprintf(out, n, "%lld days ago", (long long)-d);
}

int cli_print_qr(FILE *f, const char *text, int level)
{
  errno = 0;
  QRcode *q = QRcode_encodeString(text, 0, (QRecLevel)level, QR_MODE_8, 1);
  if (!q)
    return errno == ERANGE ? KITH_ETOOBIG : KITH_ENOMEM;
  if (!f) {
    QRcode_free(q);
    return 0;
  }
  int w = q->width, quiet = 2;
  for (int y = -quiet; y < w + quiet; y += 2) {
    for (int x = -quiet; x < w + quiet; x++) {
      bool top = y >= 0 && y < w && x >= 0 && x < w && (q->data[y * w + x] & 1);
      bool bot =
          y + 1 >= 0 && y + 1 < w && x >= 0 && x < w && (q->data[(y + 1) * w + x] & 1);
      /* dark modules print as spaces on a light block background: draw light */
      fputs(top ? (bot ? " " : "▄") : (bot ? "▀" : "█"), f);
    }
    fputc('\n', f);
  }
  QRcode_free(q);
  fflush(f);
  return 0;
}
