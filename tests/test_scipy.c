/* SPDX-License-Identifier: Apache-2.0 */
/* True convolution through the public API on every usable backend, against
 * published SciPy / NumPy answers: flip_kernel=1 with padding full, same,
 * valid and padding_mode zeros (SciPy 'fill'), circular ('wrap') and
 * symmetric ('symm'); 1-D signals as H=1 (numpy.convolve). The values were
 * computed with scipy 1.10 / numpy (see doc/scipy-and-pooling.md); all are
 * small integers or halves, exact in float32 whatever the summation order,
 * so the comparison is exact. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "testutil.h"

#define MAX_BACKENDS 8

static char backends[MAX_BACKENDS][64];
static int n_backends;

typedef struct example {
  const char *what;
  int h, w, kh, kw;
  conv_padding padding;
  conv_padding_mode mode;
  float x[64], k[16];
  int ho, wo;
  float y[64];
} example;

#define X3 {1, 2, 3, 4, 5, 6, 7, 8, 9}
#define LAPLACE {0, 1, 0, 1, -4, 1, 0, 1, 0}
#define K2 {1, 2, 3, -1}
#define STEP_ROW 3, 3, 3, 3, 0, 0, 0, 0
#define STEP {STEP_ROW, STEP_ROW, STEP_ROW, STEP_ROW, STEP_ROW, STEP_ROW, \
              STEP_ROW, STEP_ROW}
#define ROW6 0, 0, 9, 9, 0, 0

static const example examples[] = {
    {"convolve2d(X, laplacian, 'same')", 3, 3, 3, 3, CONV_PADDING_SAME,
     CONV_PAD_ZEROS, X3, LAPLACE, 3, 3, {2, 1, -4, -3, 0, -7, -16, -11, -22}},
    {"convolve2d(X, laplacian, 'same', boundary='wrap')", 3, 3, 3, 3,
     CONV_PADDING_SAME, CONV_PAD_CIRCULAR, X3, LAPLACE, 3, 3,
     {12, 9, 6, 3, 0, -3, -6, -9, -12}},
    {"convolve2d(X, laplacian, 'same', boundary='symm')", 3, 3, 3, 3,
     CONV_PADDING_SAME, CONV_PAD_SYMMETRIC, X3, LAPLACE, 3, 3,
     {4, 3, 2, 1, 0, -1, -2, -3, -4}},
    {"convolve2d(X, [[1,2],[3,-1]], 'full')", 3, 3, 2, 2, CONV_PADDING_FULL,
     CONV_PAD_ZEROS, X3, K2, 4, 4,
     {1, 4, 7, 6, 7, 18, 23, 9, 19, 33, 38, 12, 21, 17, 19, -9}},
    {"convolve2d(X, [[1,2],[3,-1]], 'full', boundary='wrap')", 3, 3, 2, 2,
     CONV_PADDING_FULL, CONV_PAD_CIRCULAR, X3, K2, 4, 4,
     {19, 21, 26, 19, 16, 18, 23, 16, 31, 33, 38, 31, 19, 21, 26, 19}},
    {"convolve2d(X, [[1,2],[3,-1]], 'full', boundary='symm')", 3, 3, 2, 2,
     CONV_PADDING_FULL, CONV_PAD_SYMMETRIC, X3, K2, 4, 4,
     {5, 9, 14, 15, 14, 18, 23, 24, 29, 33, 38, 39, 35, 39, 44, 45}},
    {"convolve2d(X, [[1,2],[3,-1]], 'same') (even kernel)", 3, 3, 2, 2,
     CONV_PADDING_SAME, CONV_PAD_ZEROS, X3, K2, 3, 3,
     {1, 4, 7, 7, 18, 23, 19, 33, 38}},
    {"convolve2d(X, [[1,2],[3,-1]], 'same', boundary='wrap')", 3, 3, 2, 2,
     CONV_PADDING_SAME, CONV_PAD_CIRCULAR, X3, K2, 3, 3,
     {19, 21, 26, 16, 18, 23, 31, 33, 38}},
    {"convolve2d(X, [[1,2],[3,-1]], 'same', boundary='symm')", 3, 3, 2, 2,
     CONV_PADDING_SAME, CONV_PAD_SYMMETRIC, X3, K2, 3, 3,
     {5, 9, 14, 14, 18, 23, 29, 33, 38}},
    {"8x8 step image, [[-1,0,1]]*3, 'valid'", 8, 8, 3, 3, CONV_PADDING_VALID,
     CONV_PAD_ZEROS, STEP, {-1, 0, 1, -1, 0, 1, -1, 0, 1}, 6, 6,
     {ROW6, ROW6, ROW6, ROW6, ROW6, ROW6}},
    {"numpy.convolve([1,2,3], [0,1,0.5], 'full')", 1, 3, 1, 3,
     CONV_PADDING_FULL, CONV_PAD_ZEROS, {1, 2, 3}, {0, 1, 0.5f}, 1, 5,
     {0, 1, 2.5f, 4, 1.5f}},
    {"numpy.convolve([1,2,3], [0,1,0.5], 'same')", 1, 3, 1, 3,
     CONV_PADDING_SAME, CONV_PAD_ZEROS, {1, 2, 3}, {0, 1, 0.5f}, 1, 3,
     {1, 2.5f, 4}},
    {"numpy.convolve([1,2,3], [0,1,0.5], 'valid')", 1, 3, 1, 3,
     CONV_PADDING_VALID, CONV_PAD_ZEROS, {1, 2, 3}, {0, 1, 0.5f}, 1, 1,
     {2.5f}},
    {"numpy.convolve([1,2,3,4,5], [1,-1,2,0.5], 'full')", 1, 5, 1, 4,
     CONV_PADDING_FULL, CONV_PAD_ZEROS, {1, 2, 3, 4, 5}, {1, -1, 2, 0.5f}, 1,
     8, {1, 1, 3, 5.5f, 8, 4.5f, 12, 2.5f}},
    {"numpy.convolve([1,2,3,4,5], [1,-1,2,0.5], 'same') (even kernel)", 1, 5,
     1, 4, CONV_PADDING_SAME, CONV_PAD_ZEROS, {1, 2, 3, 4, 5},
     {1, -1, 2, 0.5f}, 1, 5, {1, 3, 5.5f, 8, 4.5f}},
    {"numpy.convolve([1,2,3,4,5], [1,-1,2,0.5], 'valid')", 1, 5, 1, 4,
     CONV_PADDING_VALID, CONV_PAD_ZEROS, {1, 2, 3, 4, 5}, {1, -1, 2, 0.5f},
     1, 2, {5.5f, 8}},
};

#define N_EXAMPLES (sizeof examples / sizeof examples[0])

static void example_desc(const example *e, conv_desc *d) {
  conv_desc_init(d);
  d->n = 1; d->c_in = 1; d->c_out = 1; d->h = e->h; d->w = e->w;
  d->kernel[0] = e->kh; d->kernel[1] = e->kw;
  d->padding = e->padding;
  d->padding_mode = e->mode;
  d->flip_kernel = 1;
}

START_TEST(test_examples) {
  const char *backend = backends[_i];
  conv_context *ctx = NULL;
  ck_assert_msg(conv_context_create(&ctx, backend, NULL) == CONV_SUCCESS,
                "%s: %s", backend, conv_last_error(NULL));
  for (size_t i = 0; i < N_EXAMPLES; i++) {
    const example *e = &examples[i];
    conv_desc d;
    example_desc(e, &d);
    conv_plan *plan = NULL;
    ck_assert_msg(conv_plan_create(ctx, &d, &plan) == CONV_SUCCESS, "%s: %s: %s",
                  backend, e->what, conv_last_error(ctx));
    int64_t ho, wo;
    conv_plan_output_size(plan, &ho, &wo);
    ck_assert_msg(ho == e->ho && wo == e->wo, "%s: %s: output %lldx%lld", backend,
                  e->what, (long long)ho, (long long)wo);
    float y[64];
    tu_poison(y, 64);
    ck_assert_msg(conv_forward(plan, e->x, e->k, NULL, y) == CONV_SUCCESS,
                  "%s: %s: %s", backend, e->what, conv_last_error(ctx));
    for (int k = 0; k < e->ho * e->wo; k++)
      ck_assert_msg(y[k] == e->y[k], "%s: %s: y[%d] = %g, SciPy/NumPy %g", backend,
                    e->what, k, y[k], e->y[k]);
    conv_plan_destroy(plan);
  }
  printf("scipy: backend %s: %zu SciPy/NumPy examples exact\n", backend,
         N_EXAMPLES);
  fflush(stdout);
  conv_context_destroy(ctx);
}
END_TEST

/* The gradients of a true convolution are those of the cross-correlation
 * with the kernel rotated: check backward_data and backward_weight of
 * flip_kernel=1 against flip_kernel=0 with w rotated (same backend), for
 * full/same/valid and the three SciPy boundaries. */
START_TEST(test_flip_equals_rotated) {
  const char *backend = backends[_i];
  conv_context *ctx = NULL;
  ck_assert(conv_context_create(&ctx, backend, NULL) == CONV_SUCCESS);
  static const conv_padding pads[] = {CONV_PADDING_FULL, CONV_PADDING_SAME,
                                      CONV_PADDING_VALID};
  static const conv_padding_mode modes[] = {CONV_PAD_ZEROS, CONV_PAD_CIRCULAR,
                                            CONV_PAD_SYMMETRIC};
  tu_rng rng;
  tu_rng_seed(&rng, 5);
  int checked = 0;
  for (int pi = 0; pi < 3; pi++)
    for (int mi = 0; mi < 3; mi++)
      for (int even = 0; even < 2; even++) {
        conv_desc d;
        conv_desc_init(&d);
        d.n = 2; d.c_in = 2; d.c_out = 3; d.h = 6; d.w = 7;
        d.kernel[0] = even ? 4 : 3; d.kernel[1] = even ? 2 : 5;
        d.padding = pads[pi];
        d.padding_mode = modes[mi];
        d.has_bias = 1;
        int64_t ho, wo, p1[4], p0[4];
        d.flip_kernel = 1;
        ck_assert(conv_output_size(&d, &ho, &wo, p1) == CONV_SUCCESS);
        /* The same problem as a correlation: explicit pads, rotated w. */
        conv_desc c = d;
        c.flip_kernel = 0;
        c.padding = CONV_PADDING_EXPLICIT;
        memcpy(c.pad, p1, sizeof c.pad);
        int64_t ho0, wo0;
        ck_assert(conv_output_size(&c, &ho0, &wo0, p0) == CONV_SUCCESS);
        ck_assert(ho0 == ho && wo0 == wo);
        if (d.padding == CONV_PADDING_SAME) /* SciPy: the odd one top/left */
          for (int a = 0; a < 2; a++)
            ck_assert(p1[2 * a] - p1[2 * a + 1] == (d.kernel[a] - 1) % 2);
        size_t xn = 2 * 2 * 6 * 7, wn = (size_t)(3 * 2 * d.kernel[0] * d.kernel[1]);
        size_t yn = (size_t)(2 * 3 * ho * wo);
        float *x = tu_alloc(xn * 4), *w = tu_alloc(wn * 4), *wr = tu_alloc(wn * 4),
              *b = tu_alloc(12), *dy = tu_alloc(yn * 4);
        tu_fill_random(&rng, x, xn);
        tu_fill_random(&rng, w, wn);
        tu_fill_random(&rng, b, 3);
        tu_fill_random(&rng, dy, yn);
        size_t kk = (size_t)(d.kernel[0] * d.kernel[1]);
        for (size_t f = 0; f < wn / kk; f++)
          for (size_t t = 0; t < kk; t++) wr[f * kk + t] = w[f * kk + kk - 1 - t];
        conv_plan *pf = NULL, *pc = NULL;
        ck_assert_msg(conv_plan_create(ctx, &d, &pf) == CONV_SUCCESS, "%s",
                      conv_last_error(ctx));
        ck_assert_msg(conv_plan_create(ctx, &c, &pc) == CONV_SUCCESS, "%s",
                      conv_last_error(ctx));
        float *y1 = tu_alloc(yn * 4), *y0 = tu_alloc(yn * 4);
        float *dx1 = tu_alloc(xn * 4), *dx0 = tu_alloc(xn * 4);
        float *dw1 = tu_alloc(wn * 4), *dw0 = tu_alloc(wn * 4), *dwr = tu_alloc(wn * 4);
        float db1[3], db0[3];
        ck_assert(conv_forward(pf, x, w, b, y1) == CONV_SUCCESS);
        ck_assert(conv_forward(pc, x, wr, b, y0) == CONV_SUCCESS);
        ck_assert(conv_backward_data(pf, dy, w, dx1) == CONV_SUCCESS);
        ck_assert(conv_backward_data(pc, dy, wr, dx0) == CONV_SUCCESS);
        ck_assert(conv_backward_weight(pf, x, dy, dw1, db1) == CONV_SUCCESS);
        ck_assert(conv_backward_weight(pc, x, dy, dw0, db0) == CONV_SUCCESS);
        for (size_t f = 0; f < wn / kk; f++)
          for (size_t t = 0; t < kk; t++) dwr[f * kk + t] = dw0[f * kk + kk - 1 - t];
        size_t worst;
        ck_assert_msg(tu_rel_error_f(y1, y0, yn, &worst) <= TU_TOLERANCE,
                      "%s: y pad %d mode %d even %d", backend, pi, mi, even);
        ck_assert_msg(tu_rel_error_f(dx1, dx0, xn, &worst) <= TU_TOLERANCE,
                      "%s: dx pad %d mode %d even %d", backend, pi, mi, even);
        ck_assert_msg(tu_rel_error_f(dw1, dwr, wn, &worst) <= TU_TOLERANCE,
                      "%s: dw pad %d mode %d even %d", backend, pi, mi, even);
        ck_assert_msg(tu_rel_error_f(db1, db0, 3, &worst) <= TU_TOLERANCE,
                      "%s: db pad %d mode %d even %d", backend, pi, mi, even);
        conv_plan_destroy(pf);
        conv_plan_destroy(pc);
        free(x); free(w); free(wr); free(b); free(dy); free(y1); free(y0);
        free(dx1); free(dx0); free(dw1); free(dw0); free(dwr);
        checked++;
      }
  printf("scipy: backend %s: %d flip/rotated problems agree in all ops\n",
         backend, checked);
  fflush(stdout);
  conv_context_destroy(ctx);
}
END_TEST

int main(void) {
  n_backends = tu_require_backends("test_scipy", backends, MAX_BACKENDS);
  if (n_backends == 0) return EXIT_FAILURE;
  Suite *s = suite_create("scipy");
  TCase *tc = tcase_create("scipy");
  tcase_set_timeout(tc, 600);
  tcase_add_loop_test(tc, test_examples, 0, n_backends);
  tcase_add_loop_test(tc, test_flip_equals_rotated, 0, n_backends);
  suite_add_tcase(s, tc);
  const int failed = tu_run_suite(s);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
