/* SPDX-License-Identifier: Apache-2.0 */
/* Eight threads share one context: each makes its own plans of its own
 * shapes, runs forward, backward-data and max pooling with results checked
 * against loop nests, provokes failures and reads its own reason back, and
 * opens and closes contexts of its own (the loader's lock) - all at once.
 * Run for every usable backend. .ci/sanitize runs it under ThreadSanitizer
 * (OpenMP off, so every report is the library's), where a data race fails
 * the run. CONV_TEST_THREAD_ITERS sets the rounds per thread. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "testutil.h"

#define MAX_BACKENDS 8
#define THREADS 8

static char backends[MAX_BACKENDS][64];
static int n_backends;
static int iters = 20;

typedef struct worker {
  conv_context *ctx;
  const char *backend;
  int id;
  pthread_barrier_t *barrier;
  char failure[512]; /* first failure, "" if none */
} worker;

#define FAIL_IF(w, cond, ...)                                      \
  do {                                                             \
    if ((cond) && (w)->failure[0] == '\0')                         \
      snprintf((w)->failure, sizeof (w)->failure, __VA_ARGS__);    \
    if (cond) goto out;                                            \
  } while (0)

/* y = conv(x, w) for a small problem shaped by the thread id, against a
 * float64 loop nest; then dx and a max pooling. */
static void round_trip(worker *w, tu_rng *r) {
  const int64_t c = 1 + w->id % 3, k = 1 + 2 * (w->id % 2), h = 5 + w->id,
                wd = 4 + w->id % 4;
  conv_desc d;
  conv_desc_init(&d);
  d.n = 2;
  d.c_in = c;
  d.c_out = c + 1;
  d.h = h;
  d.w = wd;
  d.kernel[0] = d.kernel[1] = k;
  d.pad[0] = d.pad[1] = d.pad[2] = d.pad[3] = k / 2;
  const int64_t ho = h, wo = wd;
  const size_t nx = (size_t)(2 * c * h * wd), nw = (size_t)((c + 1) * c * k * k),
               ny = (size_t)(2 * (c + 1) * ho * wo);
  float *x = tu_alloc(nx * 4), *wt = tu_alloc(nw * 4), *y = tu_alloc(ny * 4),
        *dx = tu_alloc(nx * 4);
  double *ref = tu_alloc(ny * 8);
  conv_plan *plan = NULL;
  conv_pool_plan *pool = NULL;
  tu_fill_random(r, x, nx);
  tu_fill_random(r, wt, nw);
  tu_poison(y, ny);
  conv_status st = conv_plan_create(w->ctx, &d, &plan);
  FAIL_IF(w, st != CONV_SUCCESS, "plan: %s", conv_last_error(w->ctx));
  st = conv_forward(plan, x, wt, NULL, y);
  FAIL_IF(w, st != CONV_SUCCESS, "forward: %s", conv_last_error(w->ctx));
  for (int64_t n = 0; n < 2; n++)
    for (int64_t co = 0; co < c + 1; co++)
      for (int64_t oh = 0; oh < ho; oh++)
        for (int64_t ow = 0; ow < wo; ow++) {
          double s = 0;
          for (int64_t ci = 0; ci < c; ci++)
            for (int64_t i = 0; i < k; i++)
              for (int64_t j = 0; j < k; j++) {
                int64_t ih = oh + i - k / 2, iw = ow + j - k / 2;
                if (ih < 0 || ih >= h || iw < 0 || iw >= wd) continue;
                s += (double)x[((n * c + ci) * h + ih) * wd + iw] *
                     wt[((co * c + ci) * k + i) * k + j];
              }
          ref[((n * (c + 1) + co) * ho + oh) * wo + ow] = s;
        }
  double e = tu_rel_error(y, ref, ny, NULL);
  FAIL_IF(w, !(e <= TU_TOLERANCE), "forward error %g", e);
  /* Backward data runs too (its own checks live in test_random). */
  tu_poison(dx, nx);
  st = conv_backward_data(plan, y, wt, dx);
  FAIL_IF(w, st != CONV_SUCCESS, "backward_data: %s", conv_last_error(w->ctx));
  for (size_t i = 0; i < nx; i++)
    FAIL_IF(w, !isfinite(dx[i]), "backward_data left dx[%zu] unwritten", i);
  /* Max pooling of x, 2x2. */
  conv_pool_desc pd;
  conv_pool_desc_init(&pd);
  pd.n = 2;
  pd.c = c;
  pd.h = h;
  pd.w = wd;
  pd.kernel[0] = pd.kernel[1] = 2;
  st = conv_pool_plan_create(w->ctx, &pd, &pool);
  if (st == CONV_ERROR_UNSUPPORTED) goto out; /* a backend without pooling */
  FAIL_IF(w, st != CONV_SUCCESS, "pool plan: %s", conv_last_error(w->ctx));
  {
    const int64_t ph = h / 2, pw = wd / 2;
    float *py = tu_alloc((size_t)(2 * c * ph * pw) * 4);
    tu_poison(py, (size_t)(2 * c * ph * pw));
    st = conv_maxpool_forward(pool, x, py, NULL);
    int bad = st != CONV_SUCCESS;
    for (int64_t p = 0; p < 2 * c && !bad; p++)
      for (int64_t i = 0; i < ph && !bad; i++)
        for (int64_t j = 0; j < pw && !bad; j++) {
          const float *q = x + p * h * wd + 2 * i * wd + 2 * j;
          float m = fmaxf(fmaxf(q[0], q[1]), fmaxf(q[wd], q[wd + 1]));
          bad = py[(p * ph + i) * pw + j] != m;
        }
    free(py);
    FAIL_IF(w, bad, "maxpool: %s", st ? conv_last_error(w->ctx) : "wrong value");
  }
out:
  conv_pool_plan_destroy(pool);
  conv_plan_destroy(plan);
  free(x);
  free(wt);
  free(y);
  free(dx);
  free(ref);
}

static void *worker_main(void *p) {
  worker *w = p;
  tu_rng r;
  tu_rng_seed(&r, 1000 + (uint64_t)w->id);
  for (int it = 0; it < iters && w->failure[0] == '\0'; it++) {
    pthread_barrier_wait(w->barrier);
    round_trip(w, &r);
    /* A failure of this thread's own on the shared context. */
    conv_desc d;
    conv_desc_init(&d);
    d.n = 1;
    d.c_in = d.c_out = 1;
    d.h = d.w = 4;
    d.kernel[0] = d.kernel[1] = 1;
    d.stride[1] = -(100 + w->id);
    conv_plan *plan = NULL;
    conv_status st = conv_plan_create(w->ctx, &d, &plan);
    char want[64];
    snprintf(want, sizeof want, "stride_w=%d", -(100 + w->id));
    const char *msg = conv_last_error(w->ctx);
    if ((st != CONV_ERROR_INVALID_ARGUMENT || strstr(msg, want) == NULL) &&
        w->failure[0] == '\0')
      snprintf(w->failure, sizeof w->failure, "own message: \"%s\", wanted %s",
               msg, want);
    /* A context of its own, opened and closed while the others run. */
    conv_context *mine = NULL;
    if (conv_context_create(&mine, w->backend, NULL) != CONV_SUCCESS &&
        w->failure[0] == '\0')
      snprintf(w->failure, sizeof w->failure, "own context: %s",
               conv_last_error(NULL));
    conv_context_destroy(mine);
  }
  return NULL;
}

START_TEST(test_eight_threads_one_context) {
  conv_context *ctx = NULL;
  ck_assert_msg(conv_context_create(&ctx, backends[_i], NULL) == CONV_SUCCESS,
                "%s: %s", backends[_i], conv_last_error(NULL));
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, NULL, THREADS);
  worker w[THREADS];
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) {
    w[i] = (worker){ctx, backends[_i], i, &barrier, ""};
  }
  for (int i = 0; i < THREADS; i++)
    ck_assert_int_eq(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  pthread_barrier_destroy(&barrier);
  conv_context_destroy(ctx);
  for (int i = 0; i < THREADS; i++)
    ck_assert_msg(w[i].failure[0] == '\0', "%s: thread %d: %s", backends[_i], i,
                  w[i].failure);
}
END_TEST

int main(void) {
  const char *env = getenv("CONV_TEST_THREAD_ITERS");
  if (env != NULL && atoi(env) > 0) iters = atoi(env);
  n_backends = tu_require_backends("test_threads", backends, MAX_BACKENDS);
  if (n_backends == 0) return EXIT_FAILURE;
  Suite *s = suite_create("threads");
  TCase *tc = tcase_create("threads");
  tcase_set_timeout(tc, 600);
  tcase_add_loop_test(tc, test_eight_threads_one_context, 0, n_backends);
  suite_add_tcase(s, tc);
  const int failed = tu_run_suite(s);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
