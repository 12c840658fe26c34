/*
 * kt_loop.h — a libuv loop for tests, bounded in time and iterations: every wait
 * on the network in a test runs through kl_run_until or kl_run_for, which fail
 * the test (or return) after a guard timer fires, never hang.
 */
#ifndef KT_LOOP_H
#define KT_LOOP_H

#include "kith_test.h"

#include <uv.h>

#define KL_ITERATIONS_MAX 5000000L

struct kl {
  uv_loop_t loop;
  uv_timer_t guard;
  bool fired;
};

static inline void kl_guard_cb(uv_timer_t *t)
{
  struct kl *l = t->data;
  l->fired = true;
  uv_stop(t->loop);
}

static inline void kl_init(struct kl *l)
{
  memset(l, 0, sizeof *l);
  assert_int_equal(uv_loop_init(&l->loop), 0);
  assert_int_equal(uv_timer_init(&l->loop, &l->guard), 0);
  l->guard.data = l;
}

/* Runs the loop until cond holds; fails the test after ms milliseconds or
 * KL_ITERATIONS_MAX iterations. */
#define kl_run_until(l, cond, ms)                                                      \
  do {                                                                                 \
    (l)->fired = false;                                                                \
    uv_timer_start(&(l)->guard, kl_guard_cb, (ms), 0);                                 \
    for (long it_ = 0; !(cond); it_++) {                                               \
      if ((l)->fired || it_ > KL_ITERATIONS_MAX)                                       \
        fail_msg("loop bound hit (%d ms) waiting for: %s", (int)(ms), #cond);          \
      uv_run(&(l)->loop, UV_RUN_ONCE);                                                 \
    }                                                                                  \
    uv_timer_stop(&(l)->guard);                                                        \
  } while (0)

/* Runs the loop for about ms milliseconds (no condition). */
static inline void kl_run_for(struct kl *l, unsigned ms)
{
  l->fired = false;
  uv_timer_start(&l->guard, kl_guard_cb, ms, 0);
  for (long it = 0; !l->fired && it < KL_ITERATIONS_MAX; it++)
    uv_run(&l->loop, UV_RUN_ONCE);
  assert_true(l->fired);
  l->fired = false;
}

static inline void kl_walk_cb(uv_handle_t *h, void *arg)
{
  (void)arg;
  print_error("still open: %s handle %p%s\n", uv_handle_type_name(h->type), (void *)h,
              uv_is_closing(h) ? " (closing)" : "");
}

/* Closes the guard and the loop; fails if any other handle is still there. */
static inline void kl_close(struct kl *l)
{
  uv_close((uv_handle_t *)&l->guard, NULL);
  uv_run(&l->loop, UV_RUN_NOWAIT);
  int rc = uv_loop_close(&l->loop);
  if (rc) {
    uv_walk(&l->loop, kl_walk_cb, NULL);
    fail_msg("uv_loop_close: %s", uv_strerror(rc));
  }
}

#endif
