/*
 * bench/relay.c — the relay server under load, on loopback (bench/README.md,
 * "Relay").
 *
 * The relay (net/relay.h, as `kith relay run` runs it, but with no per-address
 * limits: every client comes from 127.0.0.1) runs in a child process, so that its
 * peak RSS (VmHWM in /proc) is its own. The parent runs C clients on one libuv
 * loop (tests/relay_client.h): each has its own owner key and box.
 *   deposit: each client deposits N envelopes of S bytes, W in flight, with a
 *            fresh key (as kith does); time until every one is acknowledged,
 *            which the relay does only once it is on disk.
 *   fetch:   each client connects with its owner key, fetches its mailbox in pages
 *            of 1 MiB and deletes each page (R_DEL, committed before R_OK); time
 *            until every mailbox is empty.
 * Printed per bucket size: envelopes/s for each phase, commits/s and envelopes
 * per commit (the relay's counters), and the relay's RSS.
 *
 *   bench_relay [--clients C] [--n N] [--window W] [--sizes S,S...] [--dir DIR]
 *   (defaults: 100 clients, 200 envelopes each, 16 in flight, sizes 1090,4162: a
 *   1 KiB and a 4 KiB bucket's envelopes, padding and Noise framing included)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "net/relay.h"
#include "tests/relay_client.h"

/* ---- the relay, in a child process ------------------------------------------------
 */

struct child {
  uv_loop_t *loop;
  kith_relay *relay;
  uv_signal_t usr1, term;
  int stats_fd;
};

static void child_closed(uv_handle_t *h)
{
  (void)h;
}

static void child_stopped(void *arg)
{
  struct child *c = arg;
  uv_close((uv_handle_t *)&c->usr1, child_closed);
  uv_close((uv_handle_t *)&c->term, child_closed);
}

static void child_signal(uv_signal_t *s, int signum)
{
  struct child *c = s->data;
  if (signum == SIGTERM) {
    kith_relay_stop(c->relay, child_stopped, c);
    return;
  }
  struct kith_relayd_stats st;
  kith_relay_stats(c->relay, &st);
  char line[256];
  int n = snprintf(line, sizeof line, "%llu %llu %llu %llu %llu\n",
                   (unsigned long long)st.commits, (unsigned long long)st.committed,
                   (unsigned long long)st.puts, (unsigned long long)st.deleted,
                   (unsigned long long)st.queue_peak);
  if (write(c->stats_fd, line, (size_t)n) != n)
    _exit(3);
}

static int child_run(const char *dir, int port_fd, int stats_fd)
{
  struct child c = {.loop = uv_default_loop(), .stats_fd = stats_fd};
  struct kith_relay_config cfg;
  struct sockaddr_storage a;
  kith_relay_config_default(&cfg);
  cfg.dir = dir;
  cfg.relayd.per_address = 0; /* every client is 127.0.0.1 */
  cfg.relayd.rate = 0;
  if (kith_net_parse_addr("127.0.0.1:0", &a) != 0 ||
      kith_relay_start(c.loop, (struct sockaddr *)&a, &cfg, &c.relay) != 0)
    return 1;
  uint16_t port = kith_relay_port(c.relay);
  if (write(port_fd, &port, sizeof port) != sizeof port)
    return 1;
  close(port_fd);
  uv_signal_init(c.loop, &c.usr1);
  uv_signal_init(c.loop, &c.term);
  c.usr1.data = c.term.data = &c;
  uv_signal_start(&c.usr1, child_signal, SIGUSR1);
  uv_signal_start(&c.term, child_signal, SIGTERM);
  uv_run(c.loop, UV_RUN_DEFAULT);
  uv_loop_close(c.loop);
  return 0;
}

struct rstats {
  unsigned long long commits, committed, puts, deleted, queue_peak;
};

static int child_stats(pid_t pid, FILE *in, struct rstats *out)
{
  kill(pid, SIGUSR1);
  if (fscanf(in, "%llu %llu %llu %llu %llu", &out->commits, &out->committed, &out->puts,
             &out->deleted, &out->queue_peak) != 5)
    return -1;
  return 0;
}

/* From /proc/PID/status, in KiB: VmHWM (peak RSS, the map's file pages
 * included), RssAnon (the relay's own memory) and RssFile (pages of the LMDB map
 * it touched: the kernel's to evict). */
struct mem {
  long hwm, anon, file;
};

static struct mem child_mem(pid_t pid)
{
  char path[64], line[256];
  struct mem m = {-1, -1, -1};
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return m;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "VmHWM:", 6) == 0)
      m.hwm = strtol(line + 6, NULL, 10);
    if (strncmp(line, "RssAnon:", 8) == 0)
      m.anon = strtol(line + 8, NULL, 10);
    if (strncmp(line, "RssFile:", 8) == 0)
      m.file = strtol(line + 8, NULL, 10);
  }
  fclose(f);
  return m;
}

/* RssAnon sampled every 10 ms while the clients run: its peak. */
static pid_t sampled;
static long anon_peak;

static void on_sample(uv_timer_t *t)
{
  (void)t;
  struct mem m = child_mem(sampled);
  if (m.anon > anon_peak)
    anon_peak = m.anon;
}

/* ---- the clients -------------------------------------------------------------------
 */

struct owner {
  uint8_t sk[32], pk[32], box[16];
  size_t size;
  uint8_t *data;
};

static const uint8_t *bench_put(void *arg, size_t i, size_t *len, uint8_t owner[32],
                                uint8_t box[16])
{
  struct owner *o = arg;
  (void)i; /* every deposit the same bytes: the relay does not look */
  *len = o->size;
  memcpy(owner, o->pk, 32);
  memcpy(box, o->box, 16);
  return o->data;
}

struct client {
  struct rcl *c;
  int result;
  bool done;
};

static size_t ndone;

static void client_done(void *arg, int result)
{
  struct client *cl = arg;
  cl->result = result;
  cl->done = true;
  ndone++;
}

/* Runs one phase: every client at once; returns seconds, or -1 if one failed. */
static double phase(uv_loop_t *loop, const struct sockaddr *addr, struct owner *owners,
                    size_t nclients, size_t n, size_t window, bool fetch,
                    uint64_t *count)
{
  struct client *cl = calloc(nclients, sizeof *cl);
  struct kith_net_limits lim = kith_net_limits_default();
  lim.idle_ms = 60000;
  ndone = 0;
  *count = 0;
  uint64_t t0 = uv_hrtime();
  for (size_t i = 0; i < nclients; i++) {
    struct rcl_config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (fetch) {
      cfg.sk = owners[i].sk;
      cfg.fetch = true;
      cfg.del = true;
      cfg.page = 1u << 20;
    } else {
      cfg.puts = n;
      cfg.put = bench_put;
      cfg.arg = &owners[i];
      cfg.window = window;
    }
    cl[i].c = rcl_new(&cfg);
    if (!cl[i].c || kith_net_connect(loop, addr, &lim, &rcl_vt, cl[i].c, client_done,
                                     &cl[i]) != 0) {
      fprintf(stderr, "bench_relay: cannot start client %zu\n", i);
      exit(1);
    }
  }
  while (ndone < nclients)
    uv_run(loop, UV_RUN_ONCE);
  double secs = (double)(uv_hrtime() - t0) / 1e9;
  bool ok = true;
  for (size_t i = 0; i < nclients; i++) {
    struct rcl *c = cl[i].c;
    if (cl[i].result != 0 || (fetch ? c->deleted != n : c->puts_ok != n)) {
      fprintf(stderr,
              "bench_relay: client %zu: %s (puts ok %zu, mails %zu, deleted %llu)\n", i,
              kith_strerror(cl[i].result), c->puts_ok, c->nmails,
              (unsigned long long)c->deleted);
      ok = false;
    }
    *count += fetch ? c->nmails : c->puts_ok;
    rcl_free(c);
  }
  free(cl);
  return ok ? secs : -1;
}

static size_t parse_sizes(const char *s, size_t *out, size_t max)
{
  size_t n = 0;
  while (*s && n < max) {
    char *end;
    out[n++] = strtoul(s, &end, 10);
    s = *end == ',' ? end + 1 : end;
    if (*end && *end != ',')
      return 0;
  }
  return n;
}

int main(int argc, char **argv)
{
  size_t nclients = 100, n = 200, window = 16, sizes[8] = {1090, 4162}, nsizes = 2;
  const char *base = "/tmp";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--clients") == 0)
      nclients = strtoul(argv[i + 1], NULL, 10);
    else if (strcmp(argv[i], "--n") == 0)
      n = strtoul(argv[i + 1], NULL, 10);
    else if (strcmp(argv[i], "--window") == 0)
      window = strtoul(argv[i + 1], NULL, 10);
    else if (strcmp(argv[i], "--sizes") == 0)
      nsizes = parse_sizes(argv[i + 1], sizes, 8);
    else if (strcmp(argv[i], "--dir") == 0)
      base = argv[i + 1];
    else
      nsizes = 0;
  }
  if (nclients == 0 || n == 0 || window == 0 || nsizes == 0) {
    fputs("usage: bench_relay [--clients C] [--n N] [--window W] [--sizes S,S...] "
          "[--dir DIR]\n",
          stderr);
    return 64;
  }
  if (sodium_init() < 0)
    return 1;
  signal(SIGPIPE, SIG_IGN);
  char dir[512];
  snprintf(dir, sizeof dir, "%s/kith-bench-relay-XXXXXX", base);
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }

  int pp[2], sp[2];
  if (pipe(pp) || pipe(sp))
    return 1;
  pid_t pid = fork();
  if (pid == 0) {
    close(pp[0]);
    close(sp[0]);
    _exit(child_run(dir, pp[1], sp[1]));
  }
  close(pp[1]);
  close(sp[1]);
  uint16_t port = 0;
  if (read(pp[0], &port, sizeof port) != sizeof port) {
    fputs("bench_relay: the relay did not start\n", stderr);
    return 1;
  }
  FILE *stats_in = fdopen(sp[0], "r");
  char text[32];
  struct sockaddr_storage addr;
  snprintf(text, sizeof text, "127.0.0.1:%u", (unsigned)port);
  if (kith_net_parse_addr(text, &addr) != 0)
    return 1;

  uv_loop_t *loop = uv_default_loop();
  uv_timer_t sampler;
  uv_timer_init(loop, &sampler);
  sampled = pid;
  uv_timer_start(&sampler, on_sample, 10, 10);
  struct owner *owners = calloc(nclients, sizeof *owners);
  int status = 0;
  printf("relay on %s, data in %s; %zu clients, %zu envelopes each, %zu in flight\n",
         text, dir, nclients, n, window);
  for (size_t k = 0; k < nsizes; k++) {
    for (size_t i = 0; i < nclients; i++) {
      crypto_box_keypair(owners[i].pk, owners[i].sk);
      randombytes_buf(owners[i].box, 16);
      owners[i].size = sizes[k];
      free(owners[i].data);
      owners[i].data = malloc(sizes[k]);
      randombytes_buf(owners[i].data, sizes[k]);
    }
    struct rstats s0, s1, s2;
    uint64_t put_count, fetch_count;
    if (child_stats(pid, stats_in, &s0))
      return 1;
    double tput = phase(loop, (struct sockaddr *)&addr, owners, nclients, n, window,
                        false, &put_count);
    if (child_stats(pid, stats_in, &s1))
      return 1;
    double tfetch = phase(loop, (struct sockaddr *)&addr, owners, nclients, n, window,
                          true, &fetch_count);
    if (child_stats(pid, stats_in, &s2))
      return 1;
    struct mem m = child_mem(pid);
    if (tput < 0 || tfetch < 0) {
      status = 1;
      continue;
    }
    unsigned long long c1 = s1.commits - s0.commits, c2 = s2.commits - s1.commits;
    printf("size %zu: deposit %llu in %.2f s = %.0f envelopes/s acknowledged durable; "
           "%llu commits (%.0f/s, %.1f envelopes each)\n",
           sizes[k], (unsigned long long)put_count, tput, (double)put_count / tput, c1,
           (double)c1 / tput,
           c1 ? (double)(s1.committed - s0.committed) / (double)c1 : 0);
    printf("size %zu: fetch+delete %llu in %.2f s = %.0f envelopes/s; %llu commits "
           "(%.0f/s)\n",
           sizes[k], (unsigned long long)fetch_count, tfetch,
           (double)fetch_count / tfetch, c2, (double)c2 / tfetch);
    printf("size %zu: relay RssAnon peak %ld KiB (now %ld), RssFile now %ld KiB (map "
           "pages), VmHWM %ld KiB; commit queue peak %llu bytes\n",
           sizes[k], anon_peak, m.anon, m.file, m.hwm, s2.queue_peak);
    printf(
        "summary size=%zu deposit_per_s=%.0f fetch_del_per_s=%.0f commits_per_s=%.0f "
        "per_commit=%.1f anon_peak_kib=%ld hwm_kib=%ld\n",
        sizes[k], (double)put_count / tput, (double)fetch_count / tfetch,
        (double)c1 / tput, c1 ? (double)(s1.committed - s0.committed) / (double)c1 : 0,
        anon_peak, m.hwm);
    fflush(stdout);
  }
  uv_close((uv_handle_t *)&sampler, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  kill(pid, SIGTERM);
  int st;
  waitpid(pid, &st, 0);
  for (size_t i = 0; i < nclients; i++)
    free(owners[i].data);
  free(owners);
  uv_loop_close(loop);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "bench_relay: could not remove %s\n", dir);
  return status || !WIFEXITED(st) || WEXITSTATUS(st) ? 1 : 0;
}
