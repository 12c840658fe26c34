/*
 * sync.c — sync figures on loopback (the sync issue's targets), through the real
 * transport (net/conn.h) and real links (core/link.h), between two devices of one
 * user, so that all of self syncs:
 *
 *   initial  the acceptor's store holds N generated contacts (like bench/gen.py's:
 *            name, one or two e-mails, phone, org, title, a tag; made through
 *            core/model.h in one write transaction per 10,000, not timed); the
 *            dialer's is empty. Timed: from the dial to both sides DONE, every
 *            batch encrypted, sent, applied and committed on the dialer's side.
 *   delta    then, R times: each side sets the org of 10 random contacts, and one
 *            sync runs (timed the same way; bytes on the wire both ways). The
 *            first delta after the initial sync is summed up apart from the
 *            median of the later ones: it has more to pass over.
 *
 * Memory: the peak RssAnon (anonymous memory: malloc, stacks; not the store's
 * file-backed map) during the sync, sampled from /proc/self/status by a thread
 * every --sample-ms. By default both sides run in one process (the acceptor on a
 * thread with its own loop, as bench_net does), so the figure is the process's
 * peak minus its baseline just before the dial. With --fork the acceptor runs in
 * a child process forked for each sync, and each side reports its own.
 *
 * bench_sync_split is the same program linked with `ld --wrap` around core/'s and
 * LMDB's calls (bench/CMakeLists.txt): it prints where each side's time went (store
 * reads, encoding, ciphers, merges, commits). Its clocks cost time: its totals run
 * slower than bench_sync's; take the totals from bench_sync.
 *
 * usage: bench_sync [--n N] [--delta-runs R] [--changes K] [--fork] [--dir DIR]
 *                   [--sample-ms MS] [--map-gib G] [--no-verify]
 * Figures, never assertions: see bench/README.md for the latest.
 */
#include <ftw.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "core/link.h"
#include "core/model.h"
#include "core/peer.h"
#include "core/sync.h"
#include "net/conn.h"
#include "proto/msg.h"
#include "proto/noise.h"
#include "proto/syncmsg.h"

#define GEN_TXN 10000u /* contacts per write transaction when generating */

static unsigned n_contacts = 100000;
static int delta_runs = 5;
static unsigned changes = 10;
static bool use_fork, verify = true;
static unsigned sample_ms = 10;
static size_t map_size = (size_t)8 << 30;

static void die(const char *what, int rc)
{
  fprintf(stderr, "bench_sync: %s: %s\n", what, rc ? kith_strerror(rc) : "failed");
  exit(1);
}

static uint64_t wall_ms(void)
{
  uv_timeval64_t tv;
  uv_gettimeofday(&tv);
  return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

static struct kith_store_opts store_opts(void)
{
  struct kith_store_opts o = {wall_ms, map_size};
  return o;
}

static double mb(uint64_t bytes)
{
  return (double)bytes / 1e6;
}

static kith_store *open_store(const char *home)
{
  kith_store *st = NULL;
  struct kith_store_opts o = store_opts();
  int rc = kith_store_open(home, &o, &st);
  if (rc)
    die(home, rc);
  return st;
}

/* ---- where the time goes (bench_sync_split only) ------------------------------ */

enum {
  SP_LOG,        /* kith_log_records: the sender's walk of its log, whole */
  SP_REC_DEC,    /*   kith_rec_decode: stored records decoded (reads and merges) */
  SP_ENC,        /*   kith_reg_encode_canonical: registers encoded for the wire */
  SP_WENC,       /*   kith_rec_wire_encode: records encoded for the wire */
  SP_SMSG_ENC,   /* kith_smsg_encode: sync messages (chunks copied) */
  SP_ENCRYPT,    /* kith_noise_cipher_encrypt */
  SP_DECRYPT,    /* kith_noise_cipher_decrypt */
  SP_MSG_DEC,    /* kith_msg_decode */
  SP_SMSG_DEC,   /* kith_smsg_decode */
  SP_REG_DEC,    /* kith_reg_decode_canonical: registers received */
  SP_WDEC,       /* kith_rec_wire_decode: records received */
  SP_GET,        /* kith_txn_get: the receiver's look-up of a received card */
  SP_PUT,        /* kith_txn_put: merge into the store */
  SP_REC_ENC,    /* kith_rec_encode: records re-encoded for the store */
  SP_TAG,        /* kith_txn_tag_log: applied records marked as the sender's */
  SP_COMMIT,     /* kith_txn_commit, whole */
  SP_MDB_COMMIT, /*  mdb_txn_commit: LMDB's write-out and fsync */
  SP_MDB_GET,    /* mdb_get */
  SP_MDB_PUT,    /* mdb_put */
  SP_MDB_CUR,    /* mdb_cursor_get */
  SP_BEGIN,      /* kith_txn_begin */
  SP_SPACES,     /* kith_remote_spaces: membership, checked per batch */
  SP_N
};

static const char *const sp_name[SP_N] = {
    "kith_log_records (sender's log walk)",
    "  kith_rec_decode (stored records)",
    "  kith_reg_encode_canonical",
    "  kith_rec_wire_encode",
    "kith_smsg_encode",
    "kith_noise_cipher_encrypt",
    "kith_noise_cipher_decrypt",
    "kith_msg_decode",
    "kith_smsg_decode",
    "kith_reg_decode_canonical",
    "kith_rec_wire_decode",
    "kith_txn_get (place: card lookup)",
    "kith_txn_put (merge)",
    "  kith_rec_encode (stored records)",
    "kith_txn_tag_log (mark as held)",
    "kith_txn_commit",
    "  mdb_txn_commit (write + fsync)",
    "  mdb_get",
    "  mdb_put",
    "  mdb_cursor_get",
    "kith_txn_begin",
    "kith_remote_spaces",
};

struct split {
  uint64_t ns[SP_N], n[SP_N];
};

#ifdef BENCH_SPLIT
#include <lmdb.h>

/* The split the calling thread counts into, while it runs a sync; else NULL. */
static _Thread_local struct split *split_cur;

static inline uint64_t sp_t0(void)
{
  return split_cur ? uv_hrtime() : 0;
}

static inline void sp_add(int k, uint64_t t0)
{
  if (split_cur && t0) {
    split_cur->ns[k] += uv_hrtime() - t0;
    split_cur->n[k]++;
  }
}

/* __real_NAME and __wrap_NAME get NAME's type from its header, so that a wrapper
 * whose parameters no longer match core/'s fails to compile rather than run. */
#define WRAP(RET, NAME, SLOT, PARAMS, ARGS)                                            \
  __typeof__(NAME) __real_##NAME, __wrap_##NAME;                                       \
  RET __wrap_##NAME PARAMS                                                             \
  {                                                                                    \
    uint64_t t0_ = sp_t0();                                                            \
    RET ret_ = __real_##NAME ARGS;                                                     \
    sp_add(SLOT, t0_);                                                                 \
    return ret_;                                                                       \
  }

/* The calls timed; bench/CMakeLists.txt lists the same names for the linker. */
WRAP(int, kith_log_records, SP_LOG,
     (kith_txn * t, uint32_t sp, uint64_t after, const uint8_t *tag_skip,
      kith_rec_cb cb, void *arg),
     (t, sp, after, tag_skip, cb, arg))
WRAP(int, kith_rec_decode, SP_REC_DEC,
     (const uint8_t *b, size_t len, const uint8_t ent[KITH_ID_LEN],
      struct kith_reg **regs, size_t *n),
     (b, len, ent, regs, n))
WRAP(int, kith_reg_encode_canonical, SP_ENC,
     (const struct kith_reg *r, uint8_t **out, size_t *len), (r, out, len))
WRAP(int, kith_rec_wire_encode, SP_WENC,
     (const struct kith_reg *regs, size_t n, uint8_t **out, size_t *len),
     (regs, n, out, len))
WRAP(int, kith_smsg_encode, SP_SMSG_ENC,
     (const struct kith_smsg *s, uint8_t *out, size_t cap, size_t *len),
     (s, out, cap, len))
WRAP(int, kith_noise_cipher_encrypt, SP_ENCRYPT,
     (kith_noise_cipher * c, const uint8_t *pt, size_t len, uint8_t *out, size_t cap,
      size_t *olen),
     (c, pt, len, out, cap, olen))
WRAP(int, kith_noise_cipher_decrypt, SP_DECRYPT,
     (kith_noise_cipher * c, const uint8_t *m, size_t len, uint8_t *out, size_t cap,
      size_t *olen),
     (c, m, len, out, cap, olen))
WRAP(int, kith_msg_decode, SP_MSG_DEC,
     (const uint8_t *b, size_t len, struct kith_msg *m), (b, len, m))
WRAP(int, kith_smsg_decode, SP_SMSG_DEC,
     (const struct kith_msg *m, struct kith_smsg *s), (m, s))
WRAP(int, kith_reg_decode_canonical, SP_REG_DEC,
     (const uint8_t *b, size_t len, struct kith_reg *r), (b, len, r))
WRAP(int, kith_rec_wire_decode, SP_WDEC,
     (const uint8_t *b, size_t len, struct kith_reg **regs, size_t *n),
     (b, len, regs, n))
WRAP(int, kith_txn_get, SP_GET,
     (kith_txn * t, const uint8_t ent[KITH_ID_LEN], uint8_t field, const uint8_t *elem,
      struct kith_reg *out),
     (t, ent, field, elem, out))
WRAP(int, kith_txn_put, SP_PUT, (kith_txn * t, const struct kith_reg *r, bool *ch),
     (t, r, ch))
WRAP(int, kith_rec_encode, SP_REC_ENC,
     (const struct kith_reg *regs, size_t n, uint8_t **out, size_t *len),
     (regs, n, out, len))
WRAP(int, kith_txn_tag_log, SP_TAG,
     (kith_txn * t, const uint8_t ent[KITH_ID_LEN], uint32_t sp,
      const uint8_t tag[KITH_LOG_TAG_LEN]),
     (t, ent, sp, tag))
WRAP(int, kith_txn_commit, SP_COMMIT, (kith_txn * t), (t))
WRAP(int, mdb_txn_commit, SP_MDB_COMMIT, (MDB_txn * t), (t))
WRAP(int, mdb_get, SP_MDB_GET, (MDB_txn * t, MDB_dbi d, MDB_val *k, MDB_val *v),
     (t, d, k, v))
WRAP(int, mdb_put, SP_MDB_PUT,
     (MDB_txn * t, MDB_dbi d, MDB_val *k, MDB_val *v, unsigned f), (t, d, k, v, f))
WRAP(int, mdb_cursor_get, SP_MDB_CUR,
     (MDB_cursor * c, MDB_val *k, MDB_val *v, MDB_cursor_op op), (c, k, v, op))
WRAP(int, kith_txn_begin, SP_BEGIN, (kith_store * st, bool w, kith_txn **out),
     (st, w, out))
WRAP(int, kith_remote_spaces, SP_SPACES,
     (kith_txn * t, const uint8_t pk[KITH_ED25519_PK_LEN], enum kith_trust *trust,
      struct kith_space_list *out),
     (t, pk, trust, out))

static void split_on(struct split *s)
{
  memset(s, 0, sizeof *s);
  split_cur = s;
}
static void split_off(void)
{
  split_cur = NULL;
}
#else
static void split_on(struct split *s)
{
  memset(s, 0, sizeof *s);
}
static void split_off(void) {}
#endif

/* ---- anonymous memory --------------------------------------------------------- */

/* RssAnon of this process, in kB (0 if unreadable). */
static uint64_t rss_anon_kb(void)
{
  char buf[4096];
  FILE *f = fopen("/proc/self/status", "r");
  uint64_t kb = 0;
  if (!f)
    return 0;
  while (fgets(buf, sizeof buf, f))
    if (strncmp(buf, "RssAnon:", 8) == 0) {
      kb = strtoull(buf + 8, NULL, 10);
      break;
    }
  fclose(f);
  return kb;
}

struct sampler {
  uv_thread_t th;
  atomic_int stop;
  atomic_uint_fast64_t peak;
  uint64_t base;
};

static void sampler_main(void *arg)
{
  struct sampler *s = arg;
  while (!atomic_load(&s->stop)) {
    uint64_t v = rss_anon_kb();
    if (v > atomic_load(&s->peak))
      atomic_store(&s->peak, v);
    uv_sleep(sample_ms);
  }
}

static void sampler_start(struct sampler *s)
{
  s->base = rss_anon_kb();
  atomic_init(&s->stop, 0);
  atomic_init(&s->peak, s->base);
  if (uv_thread_create(&s->th, sampler_main, s) != 0)
    die("sampler thread", 0);
}

static uint64_t sampler_stop(struct sampler *s)
{
  uint64_t v = rss_anon_kb();
  atomic_store(&s->stop, 1);
  uv_thread_join(&s->th);
  uint64_t p = atomic_load(&s->peak);
  return v > p ? v : p;
}

/* ---- what one side measured --------------------------------------------------- */

struct side {
  int error; /* the link's result, else the transport's */
  char why[256];
  uint64_t t_done;            /* uv_hrtime when the session first said DONE */
  uint64_t wire_in, wire_out; /* bytes read from / handed to TCP */
  uint64_t t_feed, t_pending, n_feed, n_pending; /* ns inside the session */
  uint64_t cpu_user_us, cpu_sys_us;              /* the loop's thread */
  uint64_t disk_write; /* bytes the loop's thread wrote to files: its store */
  uint64_t rss_base_kb, rss_peak_kb; /* this side's process (both, without --fork) */
  uint64_t sent, received, changed, sync_in, sync_out;
  uint32_t rounds;
  struct split split;
};

/* A kith_link with meters around it: bytes each way and time inside. */
struct meter {
  kith_link *l;
  struct side *r;
};

static int m_feed(void *s, const uint8_t *in, size_t len)
{
  struct meter *m = s;
  uint64_t t = uv_hrtime();
  int rc = kith_link_vt.feed(m->l, in, len);
  m->r->t_feed += uv_hrtime() - t;
  m->r->n_feed++;
  m->r->wire_in += len;
  return rc;
}

static size_t m_pending(void *s, const uint8_t **out)
{
  struct meter *m = s;
  uint64_t t = uv_hrtime();
  size_t n = kith_link_vt.pending(m->l, out);
  m->r->t_pending += uv_hrtime() - t;
  m->r->n_pending++;
  return n;
}

static void m_consumed(void *s, size_t n)
{
  struct meter *m = s;
  m->r->wire_out += n;
  kith_link_vt.consumed(m->l, n);
}

static int m_eof(void *s)
{
  struct meter *m = s;
  return kith_link_vt.eof(m->l);
}

static enum kith_session_state m_state(void *s)
{
  struct meter *m = s;
  enum kith_session_state st = kith_link_vt.state(m->l);
  if (st == KITH_SESSION_DONE && !m->r->t_done)
    m->r->t_done = uv_hrtime();
  return st;
}

static const struct kith_session_vt meter_vt = {m_feed, m_pending, m_consumed, m_eof,
                                                m_state};

/* The link's outcome into r; frees the link. */
static void meter_finish(struct meter *m, int transport_rc)
{
  struct kith_link_result res;
  kith_link_result(m->l, &res);
  m->r->error = res.error ? res.error : transport_rc;
  snprintf(m->r->why, sizeof m->r->why, "%s", res.error ? res.why : "");
  const struct kith_sync_stats *ss = kith_link_sync_stats(m->l);
  if (ss) {
    m->r->sent = ss->sent, m->r->received = ss->received, m->r->changed = ss->changed;
    m->r->sync_in = ss->bytes_in, m->r->sync_out = ss->bytes_out;
    m->r->rounds = ss->rounds;
  }
  kith_link_free(m->l);
  m->l = NULL;
}

/* wchar of /proc/thread-self/io: the bytes this thread passed to write(2) and its
 * kin, files and sockets alike (the caller subtracts what went to TCP). */
static uint64_t bytes_written(void)
{
  char buf[256];
  FILE *f = fopen("/proc/thread-self/io", "r");
  uint64_t b = 0;
  if (!f)
    return 0;
  while (fgets(buf, sizeof buf, f))
    if (strncmp(buf, "wchar:", 6) == 0) {
      b = strtoull(buf + 6, NULL, 10);
      break;
    }
  fclose(f);
  return b;
}

static void cpu_now(uint64_t *user_us, uint64_t *sys_us)
{
  struct rusage ru;
  getrusage(RUSAGE_THREAD, &ru);
  *user_us = (uint64_t)ru.ru_utime.tv_sec * 1000000 + (uint64_t)ru.ru_utime.tv_usec;
  *sys_us = (uint64_t)ru.ru_stime.tv_sec * 1000000 + (uint64_t)ru.ru_stime.tv_usec;
}

/* ---- the acceptor: serves one sync link, then stops --------------------------- */

struct acceptor {
  char home[4200];
  kith_store *st;
  uv_loop_t loop;
  uv_async_t stop;
  kith_net_server *srv;
  uint16_t port;
  bool taken;
  struct meter m;
  struct side r;
  uv_sem_t ready;
};

static int acc_new(void *arg, const struct kith_session_vt **vt, void **s)
{
  struct acceptor *a = arg;
  if (a->taken)
    return KITH_EBUSY; /* one link per sync */
  int rc = kith_link_accept_new(a->st, wall_ms, &a->m.l);
  if (rc)
    return rc;
  a->taken = true;
  a->m.r = &a->r;
  *vt = &meter_vt, *s = &a->m;
  return 0;
}

static void acc_free(void *arg, void *s)
{
  struct acceptor *a = arg;
  (void)s;
  meter_finish(&a->m, 0);
  uv_async_send(&a->stop);
}

static void acc_on_stop(uv_async_t *h)
{
  struct acceptor *a = h->data;
  kith_net_server_stop(a->srv, NULL);
  a->srv = NULL;
  uv_close((uv_handle_t *)&a->stop, NULL);
}

/* Listens on 127.0.0.1 (a->port is then set). */
static void acc_listen(struct acceptor *a)
{
  struct sockaddr_storage addr;
  struct kith_net_factory f = {acc_new, acc_free};
  memset(&a->r, 0, sizeof a->r);
  a->taken = false;
  if (uv_loop_init(&a->loop) != 0 || kith_net_parse_addr("127.0.0.1:0", &addr) != 0)
    die("acceptor loop", 0);
  uv_async_init(&a->loop, &a->stop, acc_on_stop);
  a->stop.data = a;
  int rc =
      kith_net_server_start(&a->loop, (struct sockaddr *)&addr, NULL, &f, a, &a->srv);
  if (rc)
    die("listen", rc);
  a->port = kith_net_server_port(a->srv);
}

/* Runs the acceptor's loop until its link ended. */
static void acc_run(struct acceptor *a)
{
  uint64_t u0, s0, u1, s1, w0 = bytes_written();
  cpu_now(&u0, &s0);
  split_on(&a->r.split);
  uv_run(&a->loop, UV_RUN_DEFAULT);
  split_off();
  cpu_now(&u1, &s1);
  a->r.cpu_user_us = u1 - u0, a->r.cpu_sys_us = s1 - s0;
  a->r.disk_write = bytes_written() - w0 - a->r.wire_out;
  uv_loop_close(&a->loop);
}

static void acc_thread(void *arg)
{
  struct acceptor *a = arg;
  acc_listen(a);
  uv_sem_post(&a->ready);
  acc_run(a);
}

/* ---- one sync: dial to both sides DONE ---------------------------------------- */

struct phase {
  struct side d, a;
  double secs; /* from the dial to both sides DONE */
};

static void dial_done(void *arg, int result)
{
  *(int *)arg = result;
}

static void write_all(int fd, const void *p, size_t n)
{
  const uint8_t *b = p;
  while (n) {
    ssize_t w = write(fd, b, n);
    if (w <= 0)
      die("pipe write", 0);
    b += w, n -= (size_t)w;
  }
}

static bool read_all(int fd, void *p, size_t n)
{
  uint8_t *b = p;
  while (n) {
    ssize_t r = read(fd, b, n);
    if (r <= 0)
      return false;
    b += r, n -= (size_t)r;
  }
  return true;
}

/* One sync, dialer (this thread) to acceptor (a thread, or a forked child). */
static struct phase run_sync(const char *home_d, const char *home_a,
                             const uint8_t pk_a[32])
{
  struct phase ph;
  static struct acceptor a; /* large; one at a time */
  struct sampler smp;
  uv_thread_t th;
  pid_t child = -1;
  int fds[2] = {-1, -1};
  memset(&ph, 0, sizeof ph);
  memset(&a, 0, sizeof a);
  snprintf(a.home, sizeof a.home, "%s", home_a);

  if (use_fork) {
    malloc_trim(0); /* fewer pages for the child to copy on write */
    if (pipe(fds) != 0)
      die("pipe", 0);
    fflush(stdout);
    fflush(stderr);
    child = fork();
    if (child < 0)
      die("fork", 0);
    if (child == 0) { /* the acceptor's own process */
      close(fds[0]);
      a.st = open_store(a.home);
      acc_listen(&a);
      sampler_start(&smp);
      write_all(fds[1], &a.port, sizeof a.port);
      acc_run(&a);
      a.r.rss_base_kb = smp.base;
      a.r.rss_peak_kb = sampler_stop(&smp);
      kith_store_close(a.st);
      write_all(fds[1], &a.r, sizeof a.r);
      _exit(0);
    }
    close(fds[1]);
    if (!read_all(fds[0], &a.port, sizeof a.port))
      die("the acceptor process did not start", 0);
  }

  kith_store *st_d = open_store(home_d);
  if (!use_fork)
    a.st = open_store(a.home);
  uv_loop_t loop;
  if (uv_loop_init(&loop) != 0)
    die("loop", 0);
  sampler_start(&smp); /* the baseline: both stores open, nothing else yet */
  if (!use_fork) {
    uv_sem_init(&a.ready, 0);
    if (uv_thread_create(&th, acc_thread, &a) != 0)
      die("acceptor thread", 0);
    uv_sem_wait(&a.ready);
    uv_sem_destroy(&a.ready);
  }

  struct sockaddr_storage addr;
  char text[32];
  snprintf(text, sizeof text, "127.0.0.1:%u", a.port);
  if (kith_net_parse_addr(text, &addr) != 0)
    die("address", 0);
  struct meter m = {NULL, &ph.d};
  int result = -1;
  uint64_t u0, s0, u1, s1, w0 = bytes_written();
  cpu_now(&u0, &s0);
  split_on(&ph.d.split);
  uint64_t t0 = uv_hrtime();
  int rc = kith_link_dial_sync_new(st_d, pk_a, wall_ms, &m.l);
  if (rc == 0)
    rc = kith_net_connect(&loop, (struct sockaddr *)&addr, NULL, &meter_vt, &m,
                          dial_done, &result);
  if (rc) {
    if (child > 0)
      kill(child, SIGTERM);
    die("dial", rc);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  split_off();
  cpu_now(&u1, &s1);
  ph.d.cpu_user_us = u1 - u0, ph.d.cpu_sys_us = s1 - s0;
  ph.d.disk_write = bytes_written() - w0 - ph.d.wire_out;
  meter_finish(&m, result);
  if (ph.d.error) { /* the acceptor may never have seen a connection: don't wait */
    fprintf(stderr, "bench_sync: sync failed: dialer %s (%s)\n",
            kith_strerror(ph.d.error), ph.d.why);
    if (child > 0)
      kill(child, SIGTERM);
    exit(1);
  }

  if (use_fork) {
    ph.d.rss_base_kb = smp.base;
    ph.d.rss_peak_kb = sampler_stop(&smp);
    bool got = read_all(fds[0], &ph.a, sizeof ph.a);
    close(fds[0]);
    int status = 0;
    if (!got)
      kill(child, SIGTERM);
    if (waitpid(child, &status, 0) != child || !got || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0)
      die("the acceptor process failed", 0);
  } else {
    uv_thread_join(&th);
    ph.a = a.r;
    ph.a.rss_base_kb = ph.d.rss_base_kb = smp.base; /* one process: both sides */
    ph.a.rss_peak_kb = ph.d.rss_peak_kb = sampler_stop(&smp);
    kith_store_close(a.st);
  }
  uv_loop_close(&loop);
  kith_store_close(st_d);
  if (ph.d.error || ph.a.error || !ph.d.t_done || !ph.a.t_done) {
    fprintf(stderr, "bench_sync: sync failed: dialer %s (%s); acceptor %s (%s)\n",
            kith_strerror(ph.d.error), ph.d.why, kith_strerror(ph.a.error), ph.a.why);
    exit(1);
  }
  uint64_t end = ph.d.t_done > ph.a.t_done ? ph.d.t_done : ph.a.t_done;
  ph.secs = (double)(end - t0) / 1e9;
  return ph;
}

/* ---- the stores --------------------------------------------------------------- */

/* A new store at home, with its own device record (as kith init makes). */
static void make_home(const char *home, const char *label, uint8_t pk[32])
{
  kith_store *st = NULL;
  kith_txn *txn = NULL;
  struct kith_identity me;
  uint8_t id[KITH_ID_LEN];
  struct kith_store_opts o = store_opts();
  int rc = kith_store_init(home, "Ada", label, &o, &st);
  if (rc == 0)
    rc = kith_txn_begin(st, true, &txn);
  if (rc == 0)
    rc = kith_txn_identity(txn, &me);
  if (rc == 0)
    rc = kith_device_add(txn, label, me.pk, id);
  if (rc == 0) {
    rc = kith_txn_commit(txn);
    txn = NULL;
  }
  kith_txn_abort(txn);
  kith_store_close(st);
  if (rc)
    die("new store", rc);
  memcpy(pk, me.pk, 32);
}

/* Records the other device in home (as a device link does). */
static void add_device(const char *home, const char *label, const uint8_t pk[32])
{
  kith_store *st = open_store(home);
  kith_txn *txn = NULL;
  uint8_t id[KITH_ID_LEN];
  int rc = kith_txn_begin(st, true, &txn);
  if (rc == 0)
    rc = kith_device_add(txn, label, pk, id);
  if (rc == 0) {
    rc = kith_txn_commit(txn);
    txn = NULL;
  }
  kith_txn_abort(txn);
  kith_store_close(st);
  if (rc)
    die("device link", rc);
}

/* Contact i's id: the same on every run, spread like random ones. */
static void contact_id(unsigned i, uint8_t id[KITH_ID_LEN])
{
  char in[32];
  int n = snprintf(in, sizeof in, "bench contact %u", i);
  crypto_generichash(id, KITH_ID_LEN, (const uint8_t *)in, (size_t)n, NULL, 0);
}

static uint64_t rng_next(uint64_t *s) /* xorshift64* */
{
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 0x2545F4914F6CDD1DULL;
}

static int put_field(kith_txn *txn, const uint8_t id[KITH_ID_LEN], uint8_t field,
                     const char *a, const char *b, int parts)
{
  const char *p[2] = {a, b};
  const struct kith_field *f = kith_field_by_id(field);
  struct kith_value *v = kith_value_new(parts, p);
  if (!v)
    return KITH_ENOMEM;
  int rc = f->shape == KITH_SHAPE_TEXT ? kith_field_set(txn, id, f, v)
                                       : kith_set_add(txn, id, f, v);
  kith_value_free(v);
  return rc;
}

static const char *const first[] = {"Ada", "Zoë",  "Bob",  "Chidi", "Mei",  "Olu",
                                    "Ana", "Ravi", "Lena", "Tomás", "Yuki", "Sam"};
static const char *const first_lc[] = {"ada", "zoë",  "bob",  "chidi", "mei",  "olu",
                                       "ana", "ravi", "lena", "tomás", "yuki", "sam"};
static const char *const last[] = {"Lovelace", "Keller", "Li",    "Okafor", "Chen",
                                   "Adeyemi",  "Silva",  "Patel", "Novak",  "García"};
static const char *const last_lc[] = {"lovelace", "keller",  "li",    "okafor",
                                      "chen",     "adeyemi", "silva", "patel",
                                      "novak",    "garcía"};
static const char *const orgs[] = {"Acme",  "Globex", "Initech", "Umbrella",
                                   "Hooli", "Stark",  "Wayne",   "Tyrell"};
static const char *const tags[] = {"climate",  "design", "fintech", "founder",
                                   "investor", "hiring", "mentor",  "friend"};

/* Contact i as bench/gen.py writes it, with a second e-mail on every other one. */
static int gen_contact(kith_txn *txn, unsigned i, uint64_t *rng)
{
  uint8_t id[KITH_ID_LEN];
  char name[96], mail[128], mail2[128], phone[32];
  unsigned f = (unsigned)(rng_next(rng) % 12), l = (unsigned)(rng_next(rng) % 10);
  contact_id(i, id);
  snprintf(name, sizeof name, "%s %s %u", first[f], last[l], i);
  snprintf(mail, sizeof mail, "%s.%s%u@example.com", first_lc[f], last_lc[l], i);
  snprintf(mail2, sizeof mail2, "%s%u@work.example.org", first_lc[f], i);
  snprintf(phone, sizeof phone, "+1 555 %07u", i);
  int rc = kith_record_create(txn, KITH_KIND_CONTACT, true, id);
  if (rc == 0)
    rc = put_field(txn, id, KITH_F_NAME, name, NULL, 1);
  if (rc == 0)
    rc = put_field(txn, id, KITH_F_EMAILS, mail, NULL, 2);
  if (rc == 0 && i % 2)
    rc = put_field(txn, id, KITH_F_EMAILS, mail2, "work", 2);
  if (rc == 0)
    rc = put_field(txn, id, KITH_F_PHONES, phone, NULL, 2);
  if (rc == 0)
    rc = put_field(txn, id, KITH_F_ORG, orgs[rng_next(rng) % 8], NULL, 1);
  if (rc == 0)
    rc = put_field(txn, id, KITH_F_TITLE, "Engineer", NULL, 1);
  if (rc == 0)
    rc = put_field(txn, id, KITH_F_TAGS, tags[rng_next(rng) % 8], NULL, 1);
  return rc;
}

/* N contacts into home, GEN_TXN per write transaction, in a child process (so that
 * this one's memory does not carry the generation's). */
static void generate(const char *home, unsigned n)
{
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0)
    die("fork", 0);
  if (pid == 0) {
    kith_store *st = open_store(home);
    uint64_t rng = 42;
    int rc = 0;
    for (unsigned i = 0; rc == 0 && i < n;) {
      kith_txn *txn = NULL;
      rc = kith_txn_begin(st, true, &txn);
      for (unsigned k = 0; rc == 0 && k < GEN_TXN && i < n; k++, i++)
        rc = gen_contact(txn, i, &rng);
      if (rc == 0) {
        rc = kith_txn_commit(txn);
        txn = NULL;
      }
      kith_txn_abort(txn);
    }
    kith_store_close(st);
    if (rc)
      die("generate", rc);
    _exit(0);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
    die("generating the contacts failed", 0);
}

/* k changes in home: the org of k random contacts. */
static void change_some(const char *home, unsigned n, unsigned k, uint64_t seed,
                        const char *who)
{
  kith_store *st = open_store(home);
  kith_txn *txn = NULL;
  uint64_t rng = seed;
  int rc = kith_txn_begin(st, true, &txn);
  for (unsigned j = 0; rc == 0 && j < k; j++) {
    uint8_t id[KITH_ID_LEN];
    char org[64];
    unsigned i = (unsigned)(rng_next(&rng) % n);
    contact_id(i, id);
    snprintf(org, sizeof org, "%s %llu/%u", who, (unsigned long long)seed, j);
    rc = put_field(txn, id, KITH_F_ORG, org, NULL, 1);
  }
  if (rc == 0) {
    rc = kith_txn_commit(txn);
    txn = NULL;
  }
  kith_txn_abort(txn);
  kith_store_close(st);
  if (rc)
    die("change", rc);
}

static void digest_of(const char *home, uint8_t out[32])
{
  kith_store *st = open_store(home);
  kith_txn *txn = NULL;
  int rc = kith_txn_begin(st, false, &txn);
  if (rc == 0)
    rc = kith_store_digest(txn, out);
  kith_txn_abort(txn);
  kith_store_close(st);
  if (rc)
    die("digest", rc);
}

/* The size of home's LMDB file, in MB. */
static double store_mb(const char *home)
{
  char path[4300];
  struct stat sb;
  snprintf(path, sizeof path, "%s/data.mdb", home);
  return stat(path, &sb) == 0 ? mb((uint64_t)sb.st_size) : 0;
}

static void same_state(const char *home_d, const char *home_a)
{
  uint8_t x[32], y[32];
  if (!verify)
    return;
  digest_of(home_d, x);
  digest_of(home_a, y);
  if (memcmp(x, y, 32) != 0)
    die("the two stores differ after the sync", 0);
}

/* ---- printing ----------------------------------------------------------------- */

static void print_side(const char *who, const struct side *s, double secs)
{
  double cpu = (double)(s->cpu_user_us + s->cpu_sys_us) / 1e3;
  printf("  %-9s in the session %.1f ms (feed %.1f ms in %llu calls, pending %.1f ms "
         "in %llu); its thread on CPU %.1f ms (user %.1f, sys %.1f), off CPU %.1f ms; "
         "store writes %.1f MB\n",
         who, (double)(s->t_feed + s->t_pending) / 1e6, (double)s->t_feed / 1e6,
         (unsigned long long)s->n_feed, (double)s->t_pending / 1e6,
         (unsigned long long)s->n_pending, cpu, (double)s->cpu_user_us / 1e3,
         (double)s->cpu_sys_us / 1e3, secs * 1e3 - cpu, mb(s->disk_write));
#ifdef BENCH_SPLIT
  for (int k = 0; k < SP_N; k++)
    if (s->split.n[k])
      printf("      %-40s %9.1f ms  %10llu calls\n", sp_name[k],
             (double)s->split.ns[k] / 1e6, (unsigned long long)s->split.n[k]);
#else
  (void)sp_name;
#endif
}

static void print_rss(const struct phase *ph)
{
  const struct side *d = &ph->d, *a = &ph->a;
  if (use_fork)
    printf("  RssAnon, each side's own process: dialer peak %.1f MiB (baseline %.1f, "
           "+%.1f), acceptor peak %.1f MiB (baseline %.1f, +%.1f)\n",
           d->rss_peak_kb / 1024.0, d->rss_base_kb / 1024.0,
           (d->rss_peak_kb - d->rss_base_kb) / 1024.0, a->rss_peak_kb / 1024.0,
           a->rss_base_kb / 1024.0, (a->rss_peak_kb - a->rss_base_kb) / 1024.0);
  else
    printf("  RssAnon, one process holding both sides: peak %.1f MiB, baseline %.1f, "
           "+%.1f MiB during the sync\n",
           d->rss_peak_kb / 1024.0, d->rss_base_kb / 1024.0,
           (d->rss_peak_kb - d->rss_base_kb) / 1024.0);
}

static void print_phase(const char *what, const struct phase *ph)
{
  printf("%s: %.3f s, dial to both sides DONE\n", what, ph->secs);
  printf(
      "  records: acceptor sent %llu, dialer sent %llu; rounds %u; registers changed: "
      "dialer %llu, acceptor %llu\n",
      (unsigned long long)ph->a.sent, (unsigned long long)ph->d.sent, ph->d.rounds,
      (unsigned long long)ph->d.changed, (unsigned long long)ph->a.changed);
  printf(
      "  on the wire: acceptor->dialer %llu B, dialer->acceptor %llu B, total %.3f MB "
      "(sync messages: %llu B + %llu B before Noise and frames)\n",
      (unsigned long long)ph->a.wire_out, (unsigned long long)ph->d.wire_out,
      mb(ph->a.wire_out + ph->d.wire_out), (unsigned long long)ph->a.sync_out,
      (unsigned long long)ph->d.sync_out);
  print_rss(ph);
  print_side("dialer:", &ph->d, ph->secs);
  print_side("acceptor:", &ph->a, ph->secs);
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

/* ---- main --------------------------------------------------------------------- */

int main(int argc, char **argv)
{
  static const struct option opts[] = {{"n", required_argument, NULL, 'n'},
                                       {"delta-runs", required_argument, NULL, 'r'},
                                       {"changes", required_argument, NULL, 'k'},
                                       {"fork", no_argument, NULL, 'f'},
                                       {"dir", required_argument, NULL, 'd'},
                                       {"sample-ms", required_argument, NULL, 's'},
                                       {"map-gib", required_argument, NULL, 'm'},
                                       {"no-verify", no_argument, NULL, 'v'},
                                       {NULL, 0, NULL, 0}};
  char dir[4096] = "";
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'n':
      n_contacts = (unsigned)strtoul(optarg, NULL, 10);
      break;
    case 'r':
      delta_runs = (int)strtol(optarg, NULL, 10);
      break;
    case 'k':
      changes = (unsigned)strtoul(optarg, NULL, 10);
      break;
    case 'f':
      use_fork = true;
      break;
    case 'd':
      snprintf(dir, sizeof dir, "%s/kith-bench-sync.XXXXXX", optarg);
      break;
    case 's':
      sample_ms = (unsigned)strtoul(optarg, NULL, 10);
      break;
    case 'm':
      map_size = (size_t)strtoul(optarg, NULL, 10) << 30;
      break;
    case 'v':
      verify = false;
      break;
    default:
      fprintf(stderr,
              "usage: bench_sync [--n N] [--delta-runs R] [--changes K] [--fork] "
              "[--dir DIR] [--sample-ms MS] [--map-gib G] [--no-verify]\n");
      return 64;
    }
  }
  if (n_contacts < 1 || delta_runs < 0 || delta_runs > 99 || changes < 1 ||
      sample_ms < 1 || map_size < ((size_t)1 << 30))
    die("bad arguments", KITH_EINVAL);
  if (!dir[0])
    snprintf(dir, sizeof dir, "/tmp/kith-bench-sync.XXXXXX");
  signal(SIGPIPE, SIG_IGN);
  if (sodium_init() < 0 || !mkdtemp(dir))
    die("setup", 0);

  char home_a[4200], home_d[4200];
  uint8_t pk_a[32], pk_d[32];
  snprintf(home_a, sizeof home_a, "%s/laptop", dir);
  snprintf(home_d, sizeof home_d, "%s/phone", dir);
  make_home(home_a, "laptop", pk_a);
  make_home(home_d, "phone", pk_d);
  add_device(home_a, "phone", pk_d);
  add_device(home_d, "laptop", pk_a);

  printf("bench_sync%s: %u contacts; two devices of one user over 127.0.0.1; acceptor "
         "%s; RssAnon sampled every %u ms\n",
#ifdef BENCH_SPLIT
         "_split (timed calls: totals run slow)",
#else
         "",
#endif
         n_contacts, use_fork ? "in a forked process" : "on a thread of this process",
         sample_ms);
  uint64_t t = uv_hrtime();
  generate(home_a, n_contacts);
  printf("setup (not timed below): %u contacts generated in %.1f s, %u per "
         "transaction\n",
         n_contacts, (double)(uv_hrtime() - t) / 1e9, GEN_TXN);

  struct phase init = run_sync(home_d, home_a, pk_a);
  char what[128];
  snprintf(what, sizeof what, "initial sync of %u contacts", n_contacts);
  print_phase(what, &init);
  printf("  %.0f contacts/s; store files after it: acceptor %.1f MB, dialer %.1f MB\n",
         n_contacts / init.secs, store_mb(home_a), store_mb(home_d));
  same_state(home_d, home_a);

  double dsecs[99], dbytes[99];
  struct phase dl;
  memset(&dl, 0, sizeof dl);
  for (int r = 0; r < delta_runs; r++) {
    change_some(home_a, n_contacts, changes, 1000 + (uint64_t)r, "laptop");
    change_some(home_d, n_contacts, changes, 2000 + (uint64_t)r, "phone");
    dl = run_sync(home_d, home_a, pk_a);
    dsecs[r] = dl.secs * 1e3;
    dbytes[r] = (double)(dl.a.wire_out + dl.d.wire_out);
    printf("delta %d: %.2f ms, %.0f B on the wire (acceptor->dialer %llu, "
           "dialer->acceptor %llu), records %llu + %llu\n",
           r + 1, dsecs[r], dbytes[r], (unsigned long long)dl.a.wire_out,
           (unsigned long long)dl.d.wire_out, (unsigned long long)dl.a.sent,
           (unsigned long long)dl.d.sent);
  }
  if (delta_runs) {
    same_state(home_d, home_a);
    snprintf(what, sizeof what, "the last delta (%u changes each side)", changes);
    print_phase(what, &dl);
  }
  /* The first delta after the initial sync is reported apart: each side still
   * has to pass over the log entries it received and holds for the other. */
  int m = delta_runs - 1;
  if (m > 0) {
    qsort(dsecs + 1, (size_t)m, sizeof *dsecs, cmp_double);
    qsort(dbytes + 1, (size_t)m, sizeof *dbytes, cmp_double);
  }
  uint64_t peak_d = init.d.rss_peak_kb - init.d.rss_base_kb,
           peak_a = init.a.rss_peak_kb - init.a.rss_base_kb;
  printf("summary n=%u %s: initial %.3f s, %.0f contacts/s, %.2f MB on the wire, "
         "RssAnon +%.1f MiB dialer / +%.1f MiB acceptor (peak %.1f / %.1f MiB); "
         "first delta %.2f ms, %.0f B; later deltas (median of %d) %.2f ms "
         "(%.2f-%.2f), %.0f B on the wire\n",
         n_contacts, use_fork ? "fork" : "one-process", init.secs,
         n_contacts / init.secs, mb(init.a.wire_out + init.d.wire_out), peak_d / 1024.0,
         peak_a / 1024.0, init.d.rss_peak_kb / 1024.0, init.a.rss_peak_kb / 1024.0,
         delta_runs ? dsecs[0] : 0, delta_runs ? dbytes[0] : 0, m > 0 ? m : 0,
         m > 0 ? dsecs[1 + m / 2] : 0, m > 0 ? dsecs[1] : 0, m > 0 ? dsecs[m] : 0,
         m > 0 ? dbytes[1 + m / 2] : 0);
  nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
  return 0;
}
