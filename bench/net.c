/*
 * net.c — network figures on loopback (issue 3), through the real transport
 * (net/conn.h) with a server thread and a client thread, each with its own libuv
 * loop, as two devices would run:
 *
 *   handshakes  IK links (core/link.h) dialed one after another (and 8 at a time)
 *               to a server whose sessions are serve's (core/accept.h): TCP
 *               connect, preambles, both IK messages, BYE each way, close.
 *   throughput  one connection carrying M MiB as Noise transport messages of
 *               65,535 bytes (65,519 of payload) in frames, encrypted by the
 *               sender and decrypted by the receiver (proto/noise.h ciphers keyed
 *               by an in-memory NN handshake), against the same bytes sent plain
 *               through the same transport. Runs alternate; medians are printed.
 *
 * usage: bench_net [--handshakes N] [--mib M] [--runs R] [--max-write BYTES]
 *                  [--dir DIR]
 * --max-write sets net/'s max_write_bytes (default 256 KiB) on both sides.
 * Figures, never assertions: see bench/README.md for the latest.
 */
#include <ftw.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/accept.h"
#include "core/link.h"
#include "core/peer.h"
#include "net/conn.h"
#include "proto/frame.h"
#include "proto/noise.h"

#define PAYLOAD KITH_NOISE_MAX_PAYLOAD /* 65,519: one Noise message of 65,535 */
#define BATCH 4                        /* frames the sender encrypts per refill */
#define PLAIN_CHUNK (256u * 1024)

/* net/'s limits for every connection, both sides: the defaults, or --max-write */
static struct kith_net_limits limits;

static uint8_t src[PLAIN_CHUNK]; /* what is sent: random bytes */

static void die(const char *what, int rc)
{
  fprintf(stderr, "bench_net: %s: %s\n", what, rc ? kith_strerror(rc) : "failed");
  exit(1);
}

static uint64_t wall_ms(void)
{
  uv_timeval64_t tv;
  uv_gettimeofday(&tv);
  return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

/* ---- the bulk sender: frames of encrypted (or plain) bytes -------------------- */

struct bulk_tx {
  kith_noise_cipher *tx; /* NULL: plain */
  uint64_t left;         /* payload bytes still to produce */
  uint8_t *buf;          /* BATCH frames, encrypted; or src, plain */
  size_t len, off;       /* produced / taken */
  int err;
};

static void tx_refill(struct bulk_tx *t)
{
  t->len = t->off = 0;
  if (!t->tx) {
    t->buf = src;
    t->len = t->left < PLAIN_CHUNK ? (size_t)t->left : PLAIN_CHUNK;
    t->left -= t->len;
    return;
  }
  for (int i = 0; i < BATCH && t->left; i++) {
    size_t p = t->left < PAYLOAD ? (size_t)t->left : PAYLOAD, clen = 0;
    uint8_t *at = t->buf + t->len;
    int rc = kith_noise_cipher_encrypt(t->tx, src, p, at + KITH_FRAME_HDR_LEN,
                                       KITH_NOISE_MAX_MSG, &clen);
    if (rc == 0)
      rc = kith_frame_header(clen, at);
    if (rc) {
      t->err = rc;
      return;
    }
    t->len += KITH_FRAME_HDR_LEN + clen;
    t->left -= p;
  }
}

static int tx_feed(void *s, const uint8_t *in, size_t len)
{
  (void)s, (void)in, (void)len;
  return 0; /* the receiver says nothing */
}

static size_t tx_pending(void *s, const uint8_t **out)
{
  struct bulk_tx *t = s;
  if (t->off == t->len && t->left && !t->err)
    tx_refill(t);
  *out = t->buf + t->off;
  return t->len - t->off;
}

static void tx_consumed(void *s, size_t n)
{
  struct bulk_tx *t = s;
  t->off += n;
}

static int tx_eof(void *s)
{
  struct bulk_tx *t = s;
  return t->left || t->off < t->len ? KITH_ECLOSED : 0;
}

static enum kith_session_state tx_state(void *s)
{
  struct bulk_tx *t = s;
  if (t->err)
    return KITH_SESSION_FAILED;
  return !t->left && t->off == t->len ? KITH_SESSION_DONE : KITH_SESSION_ESTABLISHED;
}

static const struct kith_session_vt tx_vt = {tx_feed, tx_pending, tx_consumed, tx_eof,
                                             tx_state};

/* ---- the bulk receiver ----------------------------------------------------------- */

struct bulk_rx {
  kith_noise_cipher *rx; /* NULL: plain */
  uint64_t want, got;
  uint64_t t_end; /* uv_hrtime when the last byte was taken */
  int err;
  uint8_t pt[KITH_NOISE_MAX_MSG];
  struct kith_frame_reader fr;
};

static int rx_feed(void *s, const uint8_t *in, size_t len)
{
  struct bulk_rx *r = s;
  if (!r->rx) {
    r->got += len;
  } else {
    while (len && !r->err) {
      size_t used = 0, plen = 0, blen = 0;
      const uint8_t *body = NULL;
      r->err = kith_frame_feed(&r->fr, in, len, &used);
      in += used, len -= used;
      if (!r->err)
        r->err = kith_frame_pop(&r->fr, &body, &blen);
      if (!r->err && body)
        r->err =
            kith_noise_cipher_decrypt(r->rx, body, blen, r->pt, sizeof r->pt, &plen);
      r->got += plen;
    }
  }
  if (r->got >= r->want && !r->t_end)
    r->t_end = uv_hrtime();
  return r->err;
}

static size_t rx_pending(void *s, const uint8_t **out)
{
  (void)s;
  *out = NULL;
  return 0;
}

static void rx_consumed(void *s, size_t n)
{
  (void)s, (void)n;
}

static int rx_eof(void *s)
{
  struct bulk_rx *r = s;
  return r->got == r->want ? 0 : KITH_ECLOSED;
}

static enum kith_session_state rx_state(void *s)
{
  struct bulk_rx *r = s;
  if (r->err)
    return KITH_SESSION_FAILED;
  return r->got >= r->want ? KITH_SESSION_DONE : KITH_SESSION_ESTABLISHED;
}

static const struct kith_session_vt rx_vt = {rx_feed, rx_pending, rx_consumed, rx_eof,
                                             rx_state};

/* ---- the server thread ----------------------------------------------------------- */

enum mode { M_LINK, M_BULK };

struct server {
  uv_thread_t thread;
  uv_loop_t loop;
  uv_async_t stop;
  kith_net_server *srv;
  uv_sem_t ready, bulk_done;
  uv_mutex_t mu; /* guards what follows */
  enum mode mode;
  kith_store *st;
  uint16_t port;
  /* M_BULK: the next connection's receiver and, once it ended, its outcome */
  kith_noise_cipher *rx;
  uint64_t want;
  struct bulk_rx done;
  /* M_LINK: accepted links that did not end in DONE */
  unsigned link_failed;
  unsigned live; /* sessions not yet freed: the mode changes only at 0 */
};

static uint64_t store_now(void)
{
  return wall_ms();
}

static int srv_new(void *arg, const struct kith_session_vt **vt, void **s)
{
  struct server *sv = arg;
  int rc = 0;
  uv_mutex_lock(&sv->mu);
  if (sv->mode == M_LINK) {
    kith_accept *a = NULL;
    rc = kith_accept_new(sv->st, store_now, &a);
    *vt = &kith_accept_vt, *s = a;
  } else {
    struct bulk_rx *r = calloc(1, sizeof *r);
    if (!r) {
      rc = KITH_ENOMEM;
    } else {
      kith_frame_reader_init(&r->fr);
      r->rx = sv->rx, r->want = sv->want;
      sv->rx = NULL;
      *vt = &rx_vt, *s = r;
    }
  }
  if (rc == 0)
    sv->live++;
  uv_mutex_unlock(&sv->mu);
  return rc;
}

static void srv_free(void *arg, void *s)
{
  struct server *sv = arg;
  uv_mutex_lock(&sv->mu);
  sv->live--;
  if (sv->mode == M_LINK) {
    struct kith_accept_result *r = malloc(sizeof *r);
    if (r) {
      kith_accept_result(s, r);
      if (r->error || r->kind != KITH_ACCEPT_LINK)
        sv->link_failed++;
    }
    free(r);
    kith_accept_free(s);
    uv_mutex_unlock(&sv->mu);
    return;
  }
  struct bulk_rx *r = s;
  sv->done.got = r->got, sv->done.t_end = r->t_end, sv->done.err = r->err;
  kith_noise_cipher_free(r->rx);
  free(r);
  uv_mutex_unlock(&sv->mu);
  uv_sem_post(&sv->bulk_done);
}

/* Waits (10 s at most) until the server has freed every session, so that the next
 * connection's mode is not applied to a previous one's. */
static void srv_quiet(struct server *sv)
{
  for (int i = 0; i < 10000; i++) {
    uv_mutex_lock(&sv->mu);
    unsigned live = sv->live;
    uv_mutex_unlock(&sv->mu);
    if (!live)
      return;
    uv_sleep(1);
  }
  die("the server kept a session", 0);
}

static void srv_on_stop(uv_async_t *a)
{
  struct server *sv = a->data;
  kith_net_server_stop(sv->srv, NULL);
  uv_close((uv_handle_t *)&sv->stop, NULL);
}

static void srv_main(void *arg)
{
  struct server *sv = arg;
  struct sockaddr_storage addr;
  struct kith_net_factory f = {srv_new, srv_free};
  if (uv_loop_init(&sv->loop) != 0 || kith_net_parse_addr("127.0.0.1:0", &addr) != 0)
    die("server loop", 0);
  uv_async_init(&sv->loop, &sv->stop, srv_on_stop);
  sv->stop.data = sv;
  int rc = kith_net_server_start(&sv->loop, (struct sockaddr *)&addr, &limits, &f, sv,
                                 &sv->srv);
  if (rc)
    die("listen", rc);
  sv->port = kith_net_server_port(sv->srv);
  uv_sem_post(&sv->ready);
  uv_run(&sv->loop, UV_RUN_DEFAULT);
  uv_loop_close(&sv->loop);
}

/* ---- the client ------------------------------------------------------------------ */

struct dialer {
  uv_loop_t *loop;
  struct sockaddr_storage addr;
  kith_store *st;
  uint8_t pk[32]; /* the server's */
  unsigned left, inflight, failed;
};

struct dial {
  struct dialer *d;
  kith_link *l;
};

static void dial_start(struct dialer *d);

static void dial_done(void *arg, int result)
{
  struct dial *x = arg;
  struct dialer *d = x->d;
  struct kith_link_result r;
  kith_link_result(x->l, &r);
  if (result || r.error)
    d->failed++;
  kith_link_free(x->l);
  free(x);
  d->inflight--;
  dial_start(d);
}

/* Starts links until `left` is spent or `width` are in flight. */
static unsigned width = 1;
static void dial_start(struct dialer *d)
{
  while (d->left && d->inflight < width) {
    struct dial *x = calloc(1, sizeof *x);
    if (!x)
      die("dial", KITH_ENOMEM);
    x->d = d;
    int rc = kith_link_dial_new(d->st, d->pk, store_now, &x->l);
    if (rc == 0)
      rc = kith_net_connect(d->loop, (struct sockaddr *)&d->addr, &limits,
                            &kith_link_vt, x->l, dial_done, x);
    if (rc)
      die("dial", rc);
    d->left--, d->inflight++;
  }
}

/* n links, `w` at a time; returns links per second. */
static double run_links(struct dialer *d, unsigned n, unsigned w)
{
  width = w;
  d->left = n, d->failed = 0;
  uint64_t t0 = uv_hrtime();
  dial_start(d);
  uv_run(d->loop, UV_RUN_DEFAULT);
  uint64_t t1 = uv_hrtime();
  if (d->failed)
    die("some links failed", 0);
  return n / ((double)(t1 - t0) / 1e9);
}

static void bulk_client_done(void *arg, int result)
{
  *(int *)arg = result;
}

/* One connection carrying mib MiB, encrypted or plain; returns MiB/s measured from
 * the connect to the receiver's last byte. */
static double run_bulk(struct server *sv, uv_loop_t *loop, const struct sockaddr *addr,
                       unsigned mib, bool enc)
{
  kith_noise_hs *hi = NULL, *hr = NULL;
  kith_noise_cipher *itx = NULL, *irx = NULL, *rtx = NULL, *rrx = NULL;
  uint8_t m[256], p[64];
  size_t mlen, plen;
  struct kith_noise_config ci = {.protocol = "Noise_NN_25519_ChaChaPoly_BLAKE2b",
                                 .role = KITH_NOISE_INITIATOR};
  struct kith_noise_config cr = ci;
  cr.role = KITH_NOISE_RESPONDER;
  if (kith_noise_hs_new(&ci, &hi) || kith_noise_hs_new(&cr, &hr) ||
      kith_noise_write_message(hi, NULL, 0, m, sizeof m, &mlen) ||
      kith_noise_read_message(hr, m, mlen, p, sizeof p, &plen) ||
      kith_noise_write_message(hr, NULL, 0, m, sizeof m, &mlen) ||
      kith_noise_read_message(hi, m, mlen, p, sizeof p, &plen) ||
      kith_noise_split(hi, &itx, &irx) || kith_noise_split(hr, &rtx, &rrx))
    die("noise keys", 0);
  kith_noise_hs_free(hi), kith_noise_hs_free(hr);
  kith_noise_cipher_free(irx), kith_noise_cipher_free(rtx);

  uint64_t want = (uint64_t)mib << 20;
  srv_quiet(sv);
  uv_mutex_lock(&sv->mu);
  sv->mode = M_BULK;
  sv->rx = enc ? rrx : NULL;
  sv->want = want;
  memset(&sv->done, 0, sizeof sv->done);
  uv_mutex_unlock(&sv->mu);
  if (!enc)
    kith_noise_cipher_free(rrx);

  struct bulk_tx t = {.tx = enc ? itx : NULL, .left = want};
  static uint8_t frames[BATCH * (KITH_FRAME_HDR_LEN + KITH_NOISE_MAX_MSG)];
  t.buf = frames;
  int result = -1;
  uint64_t t0 = uv_hrtime();
  int rc = kith_net_connect(loop, addr, &limits, &tx_vt, &t, bulk_client_done, &result);
  if (rc)
    die("connect", rc);
  uv_run(loop, UV_RUN_DEFAULT);
  if (result)
    die("bulk sender", result);
  uv_sem_wait(&sv->bulk_done);
  uv_mutex_lock(&sv->mu);
  struct bulk_rx got = sv->done;
  uv_mutex_unlock(&sv->mu);
  kith_noise_cipher_free(itx);
  if (got.err || got.got != want || t.err)
    die("bulk transfer", got.err ? got.err : t.err);
  srv_quiet(sv);
  return (double)mib / ((double)(got.t_end - t0) / 1e9);
}

/* The cipher alone, in this thread: MiB/s of kith_noise_cipher_encrypt over
 * 65,519-byte payloads, for scale (a connection encrypts on one side and decrypts
 * on the other, each at about this rate). */
static double run_cipher(unsigned mib)
{
  kith_noise_hs *hi = NULL, *hr = NULL;
  kith_noise_cipher *tx = NULL, *rx = NULL;
  uint8_t m[256];
  size_t mlen, clen;
  static uint8_t out[KITH_NOISE_MAX_MSG];
  struct kith_noise_config ci = {.protocol = "Noise_NN_25519_ChaChaPoly_BLAKE2b",
                                 .role = KITH_NOISE_INITIATOR};
  struct kith_noise_config cr = ci;
  cr.role = KITH_NOISE_RESPONDER;
  if (kith_noise_hs_new(&ci, &hi) || kith_noise_hs_new(&cr, &hr) ||
      kith_noise_write_message(hi, NULL, 0, m, sizeof m, &mlen) ||
      kith_noise_read_message(hr, m, mlen, NULL, 0, &clen) ||
      kith_noise_write_message(hr, NULL, 0, m, sizeof m, &mlen) ||
      kith_noise_read_message(hi, m, mlen, NULL, 0, &clen) ||
      kith_noise_split(hi, &tx, &rx))
    die("noise keys", 0);
  uint64_t total = (uint64_t)mib << 20, done = 0, t0 = uv_hrtime();
  while (done < total) {
    if (kith_noise_cipher_encrypt(tx, src, PAYLOAD, out, sizeof out, &clen))
      die("encrypt", 0);
    done += PAYLOAD;
  }
  double secs = (double)(uv_hrtime() - t0) / 1e9;
  kith_noise_hs_free(hi), kith_noise_hs_free(hr);
  kith_noise_cipher_free(tx), kith_noise_cipher_free(rx);
  return (double)done / (1 << 20) / secs;
}

/* ---- main ------------------------------------------------------------------------ */

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void print_runs(const char *what, const double *v, int n, const char *unit)
{
  printf("  %-34s", what);
  for (int i = 0; i < n; i++)
    printf(" %8.1f", v[i]);
  printf("  %s\n", unit);
}

static kith_store *new_store(const char *dir, const char *name, uint8_t pk[32])
{
  char home[4200];
  kith_store *st = NULL;
  kith_txn *txn = NULL;
  struct kith_identity me;
  struct kith_store_opts o = {store_now, 0};
  snprintf(home, sizeof home, "%s/%s", dir, name);
  int rc = kith_store_init(home, name, "bench", &o, &st);
  if (rc == 0)
    rc = kith_txn_begin(st, false, &txn);
  if (rc == 0)
    rc = kith_txn_identity(txn, &me);
  kith_txn_abort(txn);
  if (rc)
    die("store", rc);
  memcpy(pk, me.pk, 32);
  return st;
}

static void add_peer(kith_store *st, const char *name, const uint8_t pk[32])
{
  kith_txn *txn = NULL;
  uint8_t id[16];
  int rc = kith_txn_begin(st, true, &txn);
  if (rc == 0)
    rc = kith_peer_add(txn, name, pk, "bench", NULL, id);
  if (rc == 0) {
    rc = kith_txn_commit(txn);
    txn = NULL;
  }
  kith_txn_abort(txn);
  if (rc)
    die("peer", rc);
}

int main(int argc, char **argv)
{
  static const struct option opts[] = {{"handshakes", required_argument, NULL, 'n'},
                                       {"mib", required_argument, NULL, 'm'},
                                       {"runs", required_argument, NULL, 'r'},
                                       {"dir", required_argument, NULL, 'd'},
                                       {"max-write", required_argument, NULL, 'w'},
                                       {NULL, 0, NULL, 0}};
  unsigned n = 500, mib = 256;
  int runs = 5, c;
  limits = kith_net_limits_default();
  char dir[4096] = "";
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'n':
      n = (unsigned)strtoul(optarg, NULL, 10);
      break;
    case 'm':
      mib = (unsigned)strtoul(optarg, NULL, 10);
      break;
    case 'r':
      runs = (int)strtol(optarg, NULL, 10);
      break;
    case 'w':
      limits.max_write_bytes = strtoul(optarg, NULL, 10);
      break;
    case 'd':
      snprintf(dir, sizeof dir, "%s/kith-bench-net.XXXXXX", optarg);
      break;
    default:
      fprintf(stderr, "usage: bench_net [--handshakes N] [--mib M] [--runs R] "
                      "[--max-write BYTES] [--dir DIR]\n");
      return 64;
    }
  }
  if (n < 1 || mib < 1 || runs < 1 || runs > 99 || limits.max_write_bytes < 1 ||
      limits.max_write_bytes > KITH_NET_BUF_MAX)
    die("bad arguments", KITH_EINVAL);
  if (!dir[0])
    snprintf(dir, sizeof dir, "/tmp/kith-bench-net.XXXXXX");
  if (sodium_init() < 0 || !mkdtemp(dir))
    die("setup", 0);
  randombytes_buf(src, sizeof src);

  struct server sv;
  memset(&sv, 0, sizeof sv);
  uint8_t pk_a[32], pk_b[32];
  sv.st = new_store(dir, "ana", pk_a);
  kith_store *st_b = new_store(dir, "bea", pk_b);
  add_peer(sv.st, "Bea", pk_b);
  add_peer(st_b, "Ana", pk_a);
  uv_sem_init(&sv.ready, 0);
  uv_sem_init(&sv.bulk_done, 0);
  uv_mutex_init(&sv.mu);
  sv.mode = M_LINK;
  if (uv_thread_create(&sv.thread, srv_main, &sv) != 0)
    die("thread", 0);
  uv_sem_wait(&sv.ready);

  uv_loop_t loop;
  uv_loop_init(&loop);
  struct dialer d = {.loop = &loop, .st = st_b};
  memcpy(d.pk, pk_a, 32);
  char addr_text[32];
  snprintf(addr_text, sizeof addr_text, "127.0.0.1:%u", sv.port);
  if (kith_net_parse_addr(addr_text, &d.addr) != 0)
    die("address", 0);

  printf("bench_net: loopback, server and client threads; %d runs each, medians; "
         "max_write_bytes %zu\n",
         runs, limits.max_write_bytes);
  double one[99], eight[99], enc[99], plain[99], cipher[99];
  run_links(&d, 50, 1); /* warm-up */
  for (int r = 0; r < runs; r++) {
    one[r] = run_links(&d, n, 1);
    eight[r] = run_links(&d, n, 8);
  }
  srv_quiet(&sv);
  uv_mutex_lock(&sv.mu);
  unsigned srv_failed = sv.link_failed;
  uv_mutex_unlock(&sv.mu);
  if (srv_failed)
    die("the server saw failed links", 0);
  printf("IK links (dial + accept + BYE each way), %u per run:\n", n);
  print_runs("one at a time", one, runs, "links/s");
  print_runs("8 at a time", eight, runs, "links/s");

  run_bulk(&sv, &loop, (struct sockaddr *)&d.addr, 16, true); /* warm-up */
  for (int r = 0; r < runs; r++) {
    enc[r] = run_bulk(&sv, &loop, (struct sockaddr *)&d.addr, mib, true);
    plain[r] = run_bulk(&sv, &loop, (struct sockaddr *)&d.addr, mib, false);
  }
  for (int r = 0; r < runs; r++)
    cipher[r] = run_cipher(mib);
  printf("one connection, %u MiB per run:\n", mib);
  print_runs("Noise frames of 65,535 bytes", enc, runs, "MiB/s");
  print_runs("plain TCP, same transport", plain, runs, "MiB/s");
  print_runs("(the cipher alone, one thread)", cipher, runs, "MiB/s");

  double m1 = median(one, runs), m8 = median(eight, runs);
  double me = median(enc, runs), mp = median(plain, runs), mc = median(cipher, runs);
  printf("medians: links/s %.0f (one at a time), %.0f (8 at a time); "
         "MiB/s %.0f encrypted, %.0f plain (%.0f%%), cipher alone %.0f\n",
         m1, m8, me, mp, 100 * me / mp, mc);

  uv_async_send(&sv.stop);
  uv_thread_join(&sv.thread);
  uv_loop_close(&loop);
  kith_store_close(st_b);
  kith_store_close(sv.st);
  uv_mutex_destroy(&sv.mu);
  uv_sem_destroy(&sv.ready);
  uv_sem_destroy(&sv.bulk_done);
  nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
  return 0;
}
