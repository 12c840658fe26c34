/*
 * relay_tool.c — a raw relay client for end-to-end scripts (tests/e2e/relay_*.sh),
 * on tests/relay_client.h. Not part of kith: it speaks the relay protocol with
 * keys and boxes given on the command line, and prints one JSON object a line.
 *
 *   relay_tool keygen                      {"sk":HEX,"pk":HEX} (X25519)
 *   relay_tool put ADDR OWNER BOX N SIZE   N deposits of SIZE bytes (the i-th
 *                                          filled with byte i % 256) for OWNER
 *                                          (pk hex) in BOX (16 bytes hex), 16 in
 *                                          flight; one line per acknowledged one,
 *                                          flushed: {"i":..,"eid":..}; refused:
 *                                          {"i":..,"code":..}
 *   relay_tool fetch ADDR SK [--del]       the mail of SK's owner, one line each:
 *                                          {"eid":..,"box":HEX,"size":..,
 *                                           "byte":first byte or -1,"ok":bool (all
 *                                           bytes equal)}; --del deletes them
 *
 * Exit 0 when the session ended cleanly; 1 on a failure (printed on stderr); 2
 * usage.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "net/conn.h"
#include "proto/hex.h"
#include "tests/relay_client.h"

struct put_arg {
  uint8_t owner[32], box[16];
  size_t size;
  uint8_t *buf;
};

static const uint8_t *tool_put(void *arg, size_t i, size_t *len, uint8_t owner[32],
                               uint8_t box[16])
{
  struct put_arg *p = arg;
  /* One buffer: with one deposit in flight (window 1), deposit i is streamed and
   * answered before deposit i + 1 is made. */
  memset(p->buf, (int)(i % 256), p->size);
  *len = p->size;
  memcpy(owner, p->owner, 32);
  memcpy(box, p->box, 16);
  return p->buf;
}

struct done {
  int result;
  bool over;
};

static void on_done(void *arg, int result)
{
  struct done *d = arg;
  d->result = result;
  d->over = true;
}

static int usage(void)
{
  fputs(
      "usage: relay_tool keygen | put ADDR OWNER BOX N SIZE | fetch ADDR SK [--del]\n",
      stderr);
  return 2;
}

static int hex_arg(const char *s, uint8_t *out, size_t n)
{
  return strlen(s) == 2 * n && kith_hex_decode(s, out, n) == 0 ? 0 : -1;
}

/* Prints each put's answer as soon as it came (the relay may be killed any time). */
struct watch {
  uv_timer_t t;
  struct rcl *c;
  size_t printed;
};

static void print_new(struct watch *w)
{
  for (; w->printed < w->c->puts_sent; w->printed++) {
    uint32_t code = w->c->put_code[w->printed];
    if (code == UINT32_MAX)
      break; /* answers come in order: the rest later */
    if (code == 0)
      printf("{\"i\":%zu,\"eid\":%llu}\n", w->printed,
             (unsigned long long)w->c->put_eid[w->printed]);
    else
      printf("{\"i\":%zu,\"code\":%u}\n", w->printed, code);
    fflush(stdout);
  }
}

static void on_watch(uv_timer_t *t)
{
  print_new((struct watch *)t->data);
}

static int run(struct rcl *c, const char *addr_text, bool watch_puts)
{
  struct sockaddr_storage addr;
  struct done d = {0};
  struct watch w = {.c = c};
  uv_loop_t *loop = uv_default_loop();
  struct kith_net_limits lim = kith_net_limits_default();
  lim.idle_ms = 20000;
  if (kith_net_parse_addr(addr_text, &addr) != 0) {
    fprintf(stderr, "relay_tool: bad address '%s'\n", addr_text);
    return 2;
  }
  if (kith_net_connect(loop, (struct sockaddr *)&addr, &lim, &rcl_vt, c, on_done, &d)) {
    fputs("relay_tool: cannot connect\n", stderr);
    return 1;
  }
  if (watch_puts) {
    uv_timer_init(loop, &w.t);
    w.t.data = &w;
    uv_timer_start(&w.t, on_watch, 1, 1);
  }
  while (!d.over)
    uv_run(loop, UV_RUN_ONCE);
  if (watch_puts) {
    print_new(&w);
    uv_close((uv_handle_t *)&w.t, NULL);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  if (d.result) {
    fprintf(stderr, "relay_tool: %s%s%s\n", kith_strerror(d.result),
            c->refused ? ": " : "", c->refused ? c->refused_text : "");
    return 1;
  }
  return 0;
}

int main(int argc, char **argv)
{
  if (sodium_init() < 0)
    return 1;
  signal(SIGPIPE, SIG_IGN);
  if (argc == 2 && strcmp(argv[1], "keygen") == 0) {
    uint8_t sk[32], pk[32];
    char hs[65], hp[65];
    crypto_box_keypair(pk, sk);
    kith_hex_encode(sk, 32, hs);
    kith_hex_encode(pk, 32, hp);
    printf("{\"sk\":\"%s\",\"pk\":\"%s\"}\n", hs, hp);
    return 0;
  }
  if (argc == 7 && strcmp(argv[1], "put") == 0) {
    struct put_arg p;
    char *end;
    unsigned long long n = strtoull(argv[5], &end, 10);
    unsigned long long size = strtoull(argv[6], &end, 10);
    if (hex_arg(argv[3], p.owner, 32) || hex_arg(argv[4], p.box, 16) || n == 0 ||
        n > 1000000 || size == 0 || size > (64u << 20))
      return usage();
    p.size = (size_t)size;
    struct rcl_config cfg = {
        .puts = (size_t)n, .put = tool_put, .arg = &p, .window = 1};
    p.buf = malloc(p.size);
    struct rcl *c = rcl_new(&cfg);
    if (!p.buf || !c)
      return 1;
    int rc = run(c, argv[2], true);
    size_t ok = c->puts_ok;
    rcl_free(c);
    free(p.buf);
    return rc ? rc : ok == n ? 0 : 1;
  }
  if ((argc == 4 || argc == 5) && strcmp(argv[1], "fetch") == 0) {
    uint8_t sk[32];
    if (hex_arg(argv[3], sk, 32) || (argc == 5 && strcmp(argv[4], "--del") != 0))
      return usage();
    struct rcl_config cfg = {
        .sk = sk, .fetch = true, .del = argc == 5, .keep_mail = true};
    struct rcl *c = rcl_new(&cfg);
    if (!c)
      return 1;
    int rc = run(c, argv[2], false);
    for (size_t i = 0; rc == 0 && i < c->nmails; i++) {
      const struct rcl_mail *m = &c->mails[i];
      bool same = true;
      for (uint64_t k = 1; k < m->size; k++)
        same &= m->data[k] == m->data[0];
      char box[33];
      kith_hex_encode(m->box, 16, box);
      printf("{\"eid\":%llu,\"box\":\"%s\",\"size\":%llu,\"byte\":%d,\"ok\":%s}\n",
             (unsigned long long)m->eid, box, (unsigned long long)m->size,
             m->size ? m->data[0] : -1, same ? "true" : "false");
    }
    rcl_free(c);
    sodium_memzero(sk, sizeof sk);
    return rc;
  }
  return usage();
}
