/* SPDX-License-Identifier: Apache-2.0 */
/* The layers beside conv2d (issue 11) on every usable backend:
 *  - transposed convolution (conv_transpose_*): 200 seeded random
 *    descriptors (stride, dilation, groups, four-sided pads, output_padding,
 *    bias, a fused activation) against a float64 scatter loop nest written
 *    from ConvTranspose2d's definition, all four operations;
 *  - fused activations on conv2d forward: 200 random descriptors against
 *    the float64 conv2d of ref.c followed by the activation in double;
 *  - average, adaptive average and four-sided max pooling: 200 random
 *    descriptors against float64 loop nests of the rules in conv.h;
 *  - the golden avgpool2d and adaptive_avgpool2d cases (PyTorch's answers);
 *  - bad input: each a named error, nothing written.
 * Every output is poisoned with NaN before its call. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "golden.h"
#include "ref.h"
#include "testutil.h"

#define MAX_BACKENDS 8
#define RANDOM_CASES 200

static char backends[MAX_BACKENDS][64];
static int n_backends;
static const char *golden_dir;

/* ------------------------------------------------------------ helpers */

static double act_ref(double v, conv_activation act, double alpha) {
  switch (act) {
    case CONV_ACT_RELU: return v < 0 ? 0 : v;
    case CONV_ACT_RELU6: return v < 0 ? 0 : (v > 6 ? 6 : v);
    case CONV_ACT_LEAKY_RELU: return v > 0 ? v : v * alpha;
    case CONV_ACT_SIGMOID: return 1.0 / (1.0 + exp(-v));
    case CONV_ACT_TANH: return tanh(v);
    case CONV_ACT_SILU: return v / (1.0 + exp(-v));
    default: return v;
  }
}

static const char *act_name(conv_activation a) {
  static const char *const names[] = {"none", "relu", "relu6", "leaky_relu",
                                      "sigmoid", "tanh", "silu"};
  return (unsigned)a <= CONV_ACT_SILU ? names[a] : "?";
}

static float *poisoned(size_t n) {
  float *p = tu_alloc((n ? n : 1) * sizeof(float));
  tu_poison(p, n ? n : 1);
  return p;
}

static void random_act(tu_rng *r, conv_activation *act, float *alpha) {
  *act = (conv_activation)tu_rng_range(r, 0, CONV_ACT_SILU);
  *alpha = *act == CONV_ACT_LEAKY_RELU ? 0.01f * (float)tu_rng_range(r, 1, 30)
                                       : 0.0f;
}

/* conv2d algorithms tried in turn (each backend knows some of them; one
 * that is unknown or does not serve the case falls back to the heuristic):
 * every fast path's own epilogue is checked, not only the default. */
static const char *const fwd_algos[] = {
    "im2col_gemm", "direct", "direct_dw", "direct_vec", "winograd_f4x4",
    "gemm_1x1", "reference", "dy_im2col_gemm", "clblast_1x1",
    "clblast_im2col", "winograd_f2x2"};
#define N_FWD_ALGOS (sizeof fwd_algos / sizeof fwd_algos[0])

/* Whether a run on backend must reach fwd_algos[a] (as the forward of a
 * fused conv2d, or as the backward data under a transposed forward): each
 * has its own bias/activation epilogue. */
static int algo_expected(const char *backend, size_t a, int transposed) {
  const char *n = fwd_algos[a];
  if (strcmp(backend, "cpu") == 0)
    return a < 7 || strcmp(n, "winograd_f2x2") == 0;
  if (strcmp(backend, "opencl") == 0)
    return strcmp(n, "im2col_gemm") == 0 || strcmp(n, "direct") == 0 ||
           strcmp(n, "gemm_1x1") == 0 || strcmp(n, "clblast_1x1") == 0 ||
           strcmp(n, "clblast_im2col") == 0 ||
           (transposed && strcmp(n, "dy_im2col_gemm") == 0) ||
           (!transposed && strcmp(n, "winograd_f2x2") == 0);
  return 0;
}

/* The shape a forced algorithm needs (0: any, 1: 3x3 stride 1, 2: 1x1
 * stride 1 unpadded, 3: depthwise, 4: stride 1 with pads within the
 * dilated kernel: opencl's dy_im2col_gemm backward data). */
static int forced_shape(const char *forced, int shape) {
  if (strcmp(forced, "winograd_f4x4") == 0 ||
      strcmp(forced, "winograd_f2x2") == 0)
    return 1;
  if (strcmp(forced, "gemm_1x1") == 0 || strcmp(forced, "clblast_1x1") == 0)
    return 2;
  if (strcmp(forced, "direct_dw") == 0) return 3;
  if (strcmp(forced, "dy_im2col_gemm") == 0) return 4;
  return shape;
}

/* --------------------------------------------- transposed convolution */

/* y, dx, dw, db of ConvTranspose2d by its definition: x[n, ci, i, j] *
 * w[ci, oc, a, c] lands on y[n, g*ocg + oc, i*s - pad_t + a*d, j*s - pad_l
 * + c*d] when that is inside the output. y is act(. + b). */
static void ref_transpose(const conv_transpose_desc *t, int64_t ho, int64_t wo,
                          conv_activation act, float alpha, const float *x,
                          const float *w, const float *b, const float *dy,
                          double *y, double *dx, double *dw, double *db) {
  const int64_t icg = t->c_in / t->groups, ocg = t->c_out / t->groups;
  const int64_t kh = t->kernel[0], kw = t->kernel[1];
  memset(y, 0, sizeof(double) * (size_t)(t->n * t->c_out * ho * wo));
  memset(dx, 0, sizeof(double) * (size_t)(t->n * t->c_in * t->h * t->w));
  memset(dw, 0, sizeof(double) * (size_t)(t->c_in * ocg * kh * kw));
  for (int64_t n = 0; n < t->n; n++)
    for (int64_t ci = 0; ci < t->c_in; ci++) {
      const int64_t g = ci / icg;
      for (int64_t i = 0; i < t->h; i++)
        for (int64_t j = 0; j < t->w; j++) {
          const int64_t xi = ((n * t->c_in + ci) * t->h + i) * t->w + j;
          for (int64_t oc = 0; oc < ocg; oc++)
            for (int64_t a = 0; a < kh; a++) {
              const int64_t oi = i * t->stride[0] - t->pad[0] + a * t->dilation[0];
              if (oi < 0 || oi >= ho) continue;
              for (int64_t c = 0; c < kw; c++) {
                const int64_t oj = j * t->stride[1] - t->pad[2] + c * t->dilation[1];
                if (oj < 0 || oj >= wo) continue;
                const int64_t co = g * ocg + oc;
                const int64_t yi = ((n * t->c_out + co) * ho + oi) * wo + oj;
                const int64_t wi = ((ci * ocg + oc) * kh + a) * kw + c;
                y[yi] += (double)x[xi] * w[wi];
                dx[xi] += (double)dy[yi] * w[wi];
                dw[wi] += (double)dy[yi] * x[xi];
              }
            }
        }
    }
  for (int64_t co = 0; co < t->c_out; co++) db[co] = 0.0;
  for (int64_t n = 0; n < t->n; n++)
    for (int64_t co = 0; co < t->c_out; co++)
      for (int64_t p = 0; p < ho * wo; p++) {
        const int64_t yi = (n * t->c_out + co) * ho * wo + p;
        db[co] += dy[yi];
        y[yi] = act_ref(y[yi] + (b != NULL ? b[co] : 0.0), act, alpha);
      }
}

/* A random transposed convolution that PyTorch accepts: output_padding
 * below the stride, or at least the stride but below the dilation (rows
 * past the last tap when output_padding - end pad >= stride). */
static void random_transpose(tu_rng *r, conv_transpose_desc *t, int shape) {
  for (;;) {
    conv_transpose_desc_init(t);
    t->groups = tu_rng_range(r, 1, 4) == 4 ? tu_rng_range(r, 2, 3) : 1;
    t->n = tu_rng_range(r, 1, 3);
    t->c_in = t->groups * tu_rng_range(r, 1, 4);
    t->c_out = t->groups * tu_rng_range(r, 1, 4);
    t->h = tu_rng_range(r, 1, 8);
    t->w = tu_rng_range(r, 1, 8);
    t->has_bias = (int)tu_rng_range(r, 0, 1);
    /* A third of the cases have output rows (or columns) past the last
     * tap on one axis: output_padding - end pad >= stride (the forced
     * shapes below drop some of them). */
    const int past_axis = tu_rng_range(r, 0, 2) == 0 ? (int)tu_rng_range(r, 0, 1)
                                                     : -1;
    int64_t out[2];
    for (int a = 0; a < 2; a++) {
      t->kernel[a] = tu_rng_range(r, 1, 4);
      t->stride[a] = tu_rng_range(r, 1, 3);
      t->dilation[a] = tu_rng_range(r, 1, 3) == 3 ? tu_rng_range(r, 2, 4) : 1;
      const int64_t ext = t->dilation[a] * (t->kernel[a] - 1);
      t->pad[2 * a] = tu_rng_range(r, 0, ext);
      t->pad[2 * a + 1] = tu_rng_range(r, 0, 2) == 0 ? tu_rng_range(r, 0, ext)
                                                     : t->pad[2 * a];
      int64_t op = 0;
      if (t->stride[a] > 1 && tu_rng_range(r, 0, 2) == 0)
        op = tu_rng_range(r, 0, t->stride[a] - 1);
      else if (t->dilation[a] > t->stride[a] && tu_rng_range(r, 0, 1))
        op = tu_rng_range(r, t->stride[a], t->dilation[a] - 1);
      if (a == past_axis) {
        t->dilation[a] = tu_rng_range(r, 2, 4);
        t->stride[a] = tu_rng_range(r, 1, t->dilation[a] - 1);
        op = tu_rng_range(r, t->stride[a], t->dilation[a] - 1);
        t->pad[2 * a + 1] = tu_rng_range(r, 0, op - t->stride[a]);
        if (t->pad[2 * a] > t->dilation[a] * (t->kernel[a] - 1))
          t->pad[2 * a] = 0;
      }
      t->output_padding[a] = op;
      const int64_t in = a ? t->w : t->h;
      out[a] = (in - 1) * t->stride[a] - t->pad[2 * a] - t->pad[2 * a + 1] +
               t->dilation[a] * (t->kernel[a] - 1) + op + 1;
    }
    if (shape == 1) { /* the matching conv2d is Winograd's 3x3 stride 1 */
      t->groups = 1;
      t->c_in = tu_rng_range(r, 1, 4);
      t->c_out = tu_rng_range(r, 1, 4);
      for (int a = 0; a < 2; a++) {
        t->kernel[a] = 3;
        t->stride[a] = 1;
        t->dilation[a] = t->dilation[0];
        t->output_padding[a] = 0;
        t->pad[2 * a + 1] = t->pad[2 * a] = tu_rng_range(r, 0, 2);
      }
      t->h += 4;
      t->w += 6;
    } else if (shape == 2) { /* 1x1 stride 1 unpadded: gemm_1x1's */
      for (int a = 0; a < 2; a++) {
        t->kernel[a] = t->stride[a] = t->dilation[a] = 1;
        t->output_padding[a] = 0;
        t->pad[2 * a] = t->pad[2 * a + 1] = 0;
      }
    } else if (shape == 3) { /* depthwise */
      t->groups = t->c_in = t->c_out = tu_rng_range(r, 1, 5);
    } else if (shape == 4) { /* stride 1 (pads are within the kernel) */
      for (int a = 0; a < 2; a++) {
        t->stride[a] = 1;
        if (t->output_padding[a] >= t->dilation[a]) t->output_padding[a] = 0;
      }
    }
    if (shape != 0) {
      for (int a = 0; a < 2; a++) {
        const int64_t in = a ? t->w : t->h;
        out[a] = (in - 1) * t->stride[a] - t->pad[2 * a] - t->pad[2 * a + 1] +
                 t->dilation[a] * (t->kernel[a] - 1) + t->output_padding[a] + 1;
      }
    }
    if (out[0] >= 1 && out[1] >= 1 && out[0] <= 24 && out[1] <= 24) return;
  }
}

static const char *tdesc_str(const conv_transpose_desc *t, conv_activation act,
                             char *buf, size_t len) {
  snprintf(buf, len,
           "n=%lld c_in=%lld %lldx%lld c_out=%lld k=%lldx%lld s=%lldx%lld "
           "d=%lldx%lld g=%lld pad=%lld,%lld,%lld,%lld op=%lldx%lld bias=%d "
           "act=%s",
           (long long)t->n, (long long)t->c_in, (long long)t->h,
           (long long)t->w, (long long)t->c_out, (long long)t->kernel[0],
           (long long)t->kernel[1], (long long)t->stride[0],
           (long long)t->stride[1], (long long)t->dilation[0],
           (long long)t->dilation[1], (long long)t->groups,
           (long long)t->pad[0], (long long)t->pad[1], (long long)t->pad[2],
           (long long)t->pad[3], (long long)t->output_padding[0],
           (long long)t->output_padding[1], t->has_bias, act_name(act));
  return buf;
}

static void check_err(const char *backend, const char *what, const char *desc,
                      const float *got, const double *ref, size_t n) {
  size_t worst = 0;
  double e = tu_rel_error(got, ref, n, &worst);
  ck_assert_msg(e <= TU_TOLERANCE,
                "%s: %s: relative error %g at %zu (got %g, want %g): %s",
                backend, what, e, worst, n ? (double)got[worst] : 0.0,
                n ? ref[worst] : 0.0, desc);
}

START_TEST(test_transpose_random) {
  const char *backend = backends[_i];
  conv_context *ctx = NULL;
  ck_assert_msg(conv_context_create(&ctx, backend, NULL) == CONV_SUCCESS,
                "%s", conv_last_error(NULL));
  tu_rng r;
  tu_rng_seed(&r, 0x7c0117);
  int per_algo[N_FWD_ALGOS] = {0};
  int past_tap = 0; /* cases with output rows past the last tap */
  for (int k = 0; k < RANDOM_CASES; k++) {
    /* The forward runs the matching conv2d's backward data: force each of
     * its algorithms in turn (their bias/activation epilogues differ). */
    const char *forced = fwd_algos[k % N_FWD_ALGOS];
    const int shape = forced_shape(forced, (int)tu_rng_range(&r, 0, 3));
    conv_transpose_desc t;
    random_transpose(&r, &t, shape);
    conv_activation act;
    float alpha;
    random_act(&r, &act, &alpha);
    char ds[512];
    tdesc_str(&t, act, ds, sizeof ds);
    for (int a = 0; a < 2; a++)
      if (t.output_padding[a] - t.pad[2 * a + 1] >= t.stride[a]) {
        past_tap++;
        break;
      }
    int64_t ho = 0, wo = 0;
    ck_assert_msg(conv_transpose_output_size(&t, &ho, &wo) == CONV_SUCCESS,
                  "%s: %s", conv_last_error(NULL), ds);
    conv_plan *plan = NULL;
    char force[64];
    snprintf(force, sizeof force, "bwd_data=%s", forced);
    setenv("CONV_ALGO", force, 1);
    conv_status st = conv_transpose_plan_create(ctx, &t, act, alpha, &plan);
    unsetenv("CONV_ALGO");
    if (st == CONV_ERROR_UNSUPPORTED || st == CONV_ERROR_INVALID_ARGUMENT)
      st = conv_transpose_plan_create(ctx, &t, act, alpha, &plan);
    ck_assert_msg(st == CONV_SUCCESS, "%s: plan: %s: %s", backend,
                  conv_last_error(ctx), ds);
    for (size_t a = 0; a < N_FWD_ALGOS; a++)
      if (strcmp(conv_plan_algorithm(plan, CONV_OP_FORWARD), fwd_algos[a]) == 0)
        per_algo[a]++;
    int64_t pho = 0, pwo = 0;
    conv_plan_output_size(plan, &pho, &pwo);
    ck_assert(pho == ho && pwo == wo);
    const int64_t ocg = t.c_out / t.groups;
    const size_t nx = (size_t)(t.n * t.c_in * t.h * t.w);
    const size_t nw = (size_t)(t.c_in * ocg * t.kernel[0] * t.kernel[1]);
    const size_t ny = (size_t)(t.n * t.c_out * ho * wo);
    const size_t nb = (size_t)t.c_out;
    float *x = tu_alloc(nx * 4), *w = tu_alloc(nw * 4), *b = tu_alloc(nb * 4);
    float *dy = tu_alloc(ny * 4);
    tu_fill_random(&r, x, nx);
    tu_fill_random(&r, w, nw);
    tu_fill_random(&r, b, nb);
    tu_fill_random(&r, dy, ny);
    double *ry = tu_alloc(ny * 8), *rdx = tu_alloc(nx * 8);
    double *rdw = tu_alloc(nw * 8), *rdb = tu_alloc(nb * 8);
    ref_transpose(&t, ho, wo, act, alpha, x, w, t.has_bias ? b : NULL, dy, ry,
                  rdx, rdw, rdb);
    float *y = poisoned(ny), *dx = poisoned(nx), *dw = poisoned(nw);
    float *db = poisoned(nb), *db2 = poisoned(nb);
    st = conv_forward(plan, x, w, t.has_bias ? b : NULL, y);
    ck_assert_msg(st == CONV_SUCCESS, "%s: forward: %s", backend,
                  conv_last_error(ctx));
    check_err(backend, "transposed forward y", ds, y, ry, ny);
    st = conv_backward_data(plan, dy, w, dx);
    ck_assert_msg(st == CONV_SUCCESS, "%s: backward_data: %s", backend,
                  conv_last_error(ctx));
    check_err(backend, "transposed backward_data dx", ds, dx, rdx, nx);
    st = conv_backward_weight(plan, x, dy, dw, t.has_bias ? db : NULL);
    ck_assert_msg(st == CONV_SUCCESS, "%s: backward_weight: %s", backend,
                  conv_last_error(ctx));
    check_err(backend, "transposed backward_weight dw", ds, dw, rdw, nw);
    if (t.has_bias) {
      check_err(backend, "transposed backward_weight db", ds, db, rdb, nb);
      st = conv_backward_bias(plan, dy, db2);
      ck_assert_msg(st == CONV_SUCCESS, "%s: backward_bias: %s", backend,
                    conv_last_error(ctx));
      check_err(backend, "transposed backward_bias db", ds, db2, rdb, nb);
    }
    free(x); free(w); free(b); free(dy); free(ry); free(rdx); free(rdw);
    free(rdb); free(y); free(dx); free(dw); free(db); free(db2);
    conv_plan_destroy(plan);
  }
  printf("layers: backend %s: %d random transposed convolutions match the "
         "float64 loop nest (forward with bias and activation, dx, dw, db); "
         "%d with output_padding - end pad >= stride; forwards per "
         "algorithm:", backend, RANDOM_CASES, past_tap);
  for (size_t a = 0; a < N_FWD_ALGOS; a++)
    if (per_algo[a]) printf(" %s %d", fwd_algos[a], per_algo[a]);
  printf("\n");
  fflush(stdout);
  for (size_t a = 0; a < N_FWD_ALGOS; a++)
    if (algo_expected(backend, a, 1))
      ck_assert_msg(per_algo[a] > 0, "%s: no transposed forward ran %s",
                    backend, fwd_algos[a]);
  ck_assert_msg(past_tap >= 20, "only %d cases with rows past the last tap",
                past_tap);
  conv_context_destroy(ctx);
}
END_TEST

/* The algorithms the transposed plan names are the conv2d ones it reuses. */
START_TEST(test_transpose_algorithms) {
  const char *backend = backends[_i];
  conv_context *ctx = NULL;
  ck_assert(conv_context_create(&ctx, backend, NULL) == CONV_SUCCESS);
  conv_transpose_desc t;
  conv_transpose_desc_init(&t);
  t.n = 2; t.c_in = 8; t.h = 6; t.w = 5; t.c_out = 4;
  t.kernel[0] = t.kernel[1] = 3;
  t.stride[0] = t.stride[1] = 2;
  t.pad[0] = t.pad[1] = t.pad[2] = t.pad[3] = 1;
  t.output_padding[0] = 1;
  t.has_bias = 1;
  conv_plan *tp = NULL, *cp = NULL;
  ck_assert(conv_transpose_plan_create(ctx, &t, CONV_ACT_NONE, 0.0f, &tp) ==
            CONV_SUCCESS);
  int64_t ho, wo;
  conv_plan_output_size(tp, &ho, &wo);
  ck_assert_int_eq(ho, 12);
  ck_assert_int_eq(wo, 9);
  conv_desc d;
  conv_desc_init(&d);
  d.n = 2; d.c_in = 4; d.h = ho; d.w = wo; d.c_out = 8;
  d.kernel[0] = d.kernel[1] = 3;
  d.stride[0] = d.stride[1] = 2;
  d.pad[0] = d.pad[1] = d.pad[2] = d.pad[3] = 1;
  ck_assert(conv_plan_create(ctx, &d, &cp) == CONV_SUCCESS);
  ck_assert_str_eq(conv_plan_algorithm(tp, CONV_OP_FORWARD),
                   conv_plan_algorithm(cp, CONV_OP_BACKWARD_DATA));
  ck_assert_str_eq(conv_plan_algorithm(tp, CONV_OP_BACKWARD_DATA),
                   conv_plan_algorithm(cp, CONV_OP_FORWARD));
  ck_assert_str_eq(conv_plan_algorithm(tp, CONV_OP_BACKWARD_WEIGHT),
                   conv_plan_algorithm(cp, CONV_OP_BACKWARD_WEIGHT));
  ck_assert_str_eq(conv_plan_algorithm(tp, CONV_OP_BACKWARD_BIAS),
                   "channel_sum");
  conv_plan_destroy(tp);
  conv_plan_destroy(cp);
  conv_context_destroy(ctx);
}
END_TEST

/* ONNX ConvTranspose with output_shape, mapped as conv.h says: per axis
 * total = stride*(in-1) + output_padding + (k-1)*dilation + 1 - output_shape,
 * split by the ONNX specification's rule (SAME_UPPER: total/2 first) or
 * onnxruntime's (the larger half first), a negative total as more
 * output_padding. Whatever the split, the result must be the full output
 * (no pads) cropped at [begin, begin + output_shape), with bias-only rows
 * past it: checked against the float64 loop nest of the full output. */
START_TEST(test_transpose_onnx_output_shape) {
  const char *backend = backends[_i];
  conv_context *ctx = NULL;
  ck_assert(conv_context_create(&ctx, backend, NULL) == CONV_SUCCESS);
  tu_rng r;
  tu_rng_seed(&r, 0x0e1e);
  int odd = 0, grown = 0;
  for (int k = 0; k < 60; k++) {
    conv_transpose_desc full;
    conv_transpose_desc_init(&full);
    full.n = tu_rng_range(&r, 1, 2);
    full.c_in = tu_rng_range(&r, 1, 3);
    full.c_out = tu_rng_range(&r, 1, 3);
    full.h = tu_rng_range(&r, 1, 6);
    full.w = tu_rng_range(&r, 1, 6);
    full.has_bias = 1;
    int64_t fo[2], want[2], begin[2], end[2], op[2];
    for (int a = 0; a < 2; a++) {
      full.kernel[a] = tu_rng_range(&r, 1, 4);
      full.stride[a] = tu_rng_range(&r, 1, 3);
      full.dilation[a] = tu_rng_range(&r, 1, 3);
      const int64_t in = a ? full.w : full.h;
      fo[a] = full.stride[a] * (in - 1) +
              full.dilation[a] * (full.kernel[a] - 1) + 1;
      /* output_shape: from the full size less a few rows to a few more
       * (as many more as the output_padding rule lets through). */
      const int64_t more = (full.stride[a] > full.dilation[a]
                                ? full.stride[a] : full.dilation[a]) - 1;
      want[a] = tu_rng_range(&r, fo[a] > 4 ? fo[a] - 4 : 1, fo[a] + more);
    }
    const int ort = (int)tu_rng_range(&r, 0, 1); /* which split */
    conv_transpose_desc t = full;
    for (int a = 0; a < 2; a++) {
      const int64_t total = fo[a] - want[a];
      if (total < 0) {
        begin[a] = end[a] = 0;
        op[a] = -total;
        if (op[a] >= t.stride[a]) grown++;
      } else {
        const int64_t small = total / 2, large = total - total / 2;
        begin[a] = ort ? large : small; /* SAME_UPPER */
        end[a] = total - begin[a];
        op[a] = 0;
        if (total % 2) odd++;
      }
      t.pad[2 * a] = begin[a];
      t.pad[2 * a + 1] = end[a];
      t.output_padding[a] = op[a];
    }
    int64_t ho = 0, wo = 0;
    ck_assert_msg(conv_transpose_output_size(&t, &ho, &wo) == CONV_SUCCESS,
                  "%s", conv_last_error(NULL));
    ck_assert_int_eq(ho, want[0]);
    ck_assert_int_eq(wo, want[1]);
    conv_plan *plan = NULL;
    ck_assert_msg(conv_transpose_plan_create(ctx, &t, CONV_ACT_NONE, 0.0f,
                                             &plan) == CONV_SUCCESS,
                  "%s: %s", backend, conv_last_error(ctx));
    const size_t nx = (size_t)(t.n * t.c_in * t.h * t.w);
    const size_t nw = (size_t)(t.c_in * t.c_out * t.kernel[0] * t.kernel[1]);
    const size_t nf = (size_t)(t.n * t.c_out * fo[0] * fo[1]);
    const size_t ny = (size_t)(t.n * t.c_out * ho * wo);
    float *x = tu_alloc(nx * 4), *w = tu_alloc(nw * 4);
    float *b = tu_alloc((size_t)t.c_out * 4), *dyf = tu_alloc(nf * 4);
    tu_fill_random(&r, x, nx);
    tu_fill_random(&r, w, nw);
    tu_fill_random(&r, b, (size_t)t.c_out);
    memset(dyf, 0, nf * 4);
    double *yf = tu_alloc(nf * 8), *dxf = tu_alloc(nx * 8);
    double *dwf = tu_alloc(nw * 8), *dbf = tu_alloc((size_t)t.c_out * 8);
    ref_transpose(&full, fo[0], fo[1], CONV_ACT_NONE, 0.0f, x, w, b, dyf, yf,
                  dxf, dwf, dbf);
    /* The crop of the full output; rows and columns past it hold b. */
    double *want_y = tu_alloc(ny * 8);
    for (int64_t n = 0; n < t.n; n++)
      for (int64_t c = 0; c < t.c_out; c++)
        for (int64_t i = 0; i < ho; i++)
          for (int64_t j = 0; j < wo; j++) {
            const int64_t fi = i + begin[0], fj = j + begin[1];
            want_y[((n * t.c_out + c) * ho + i) * wo + j] =
                fi < fo[0] && fj < fo[1]
                    ? yf[((n * t.c_out + c) * fo[0] + fi) * fo[1] + fj]
                    : (double)b[c];
          }
    float *y = poisoned(ny);
    ck_assert(conv_forward(plan, x, w, b, y) == CONV_SUCCESS);
    char ds[512];
    tdesc_str(&t, CONV_ACT_NONE, ds, sizeof ds);
    check_err(backend, ort ? "ONNX output_shape (onnxruntime's split)"
                           : "ONNX output_shape (the specification's split)",
              ds, y, want_y, ny);
    free(x); free(w); free(b); free(dyf); free(yf); free(dxf); free(dwf);
    free(dbf); free(want_y); free(y);
    conv_plan_destroy(plan);
  }
  ck_assert_msg(odd >= 10 && grown >= 3, "odd totals %d, grown %d", odd,
                grown);
  conv_context_destroy(ctx);
}
END_TEST

/* N = 0: forward writes nothing, dw and db are zero. */
START_TEST(test_transpose_empty_batch) {
  const char *backend = backends[_i];
  conv_context *ctx = NULL;
  ck_assert(conv_context_create(&ctx, backend, NULL) == CONV_SUCCESS);
  conv_transpose_desc t;
  conv_transpose_desc_init(&t);
  t.n = 0; t.c_in = 2; t.h = 3; t.w = 3; t.c_out = 3;
  t.kernel[0] = t.kernel[1] = 2;
  t.has_bias = 1;
  conv_plan *plan = NULL;
  ck_assert(conv_transpose_plan_create(ctx, &t, CONV_ACT_RELU, 0.0f, &plan) ==
            CONV_SUCCESS);
  float x[1] = {0}, w[24], b[3] = {1, 2, 3}, dy[1] = {0}, y[1];
  float *dw = poisoned(24), *db = poisoned(3);
  for (int i = 0; i < 24; i++) w[i] = 1.0f;
  ck_assert(conv_forward(plan, x, w, b, y) == CONV_SUCCESS);
  ck_assert(conv_backward_weight(plan, x, dy, dw, db) == CONV_SUCCESS);
  for (int i = 0; i < 24; i++) ck_assert(dw[i] == 0.0f);
  for (int i = 0; i < 3; i++) ck_assert(db[i] == 0.0f);
  free(dw);
  free(db);
  conv_plan_destroy(plan);
  conv_context_destroy(ctx);
}
END_TEST

/* ----------------------------------------------------- fused activation */

START_TEST(test_activation_random) {
  const char *backend = backends[_i];
  conv_context *ctx = NULL;
  ck_assert(conv_context_create(&ctx, backend, NULL) == CONV_SUCCESS);
  tu_rng r;
  tu_rng_seed(&r, 0xac71);
  int per_act[CONV_ACT_SILU + 1] = {0};
  int per_algo[N_FWD_ALGOS] = {0};
  for (int k = 0; k < RANDOM_CASES; k++) {
    conv_desc d;
    ref_geom g;
    /* The shapes of the specialised algorithms when one is forced. */
    const char *forced = fwd_algos[k % N_FWD_ALGOS];
    const int shape = forced_shape(forced, (int)tu_rng_range(&r, 0, 3));
    do {
      conv_desc_init(&d);
      d.groups = tu_rng_range(&r, 0, 3) == 0 ? tu_rng_range(&r, 2, 4) : 1;
      d.n = tu_rng_range(&r, 1, 3);
      d.c_in = d.groups * tu_rng_range(&r, 1, 4);
      d.c_out = d.groups * tu_rng_range(&r, 1, 5);
      d.h = tu_rng_range(&r, 1, 12);
      d.w = tu_rng_range(&r, 1, 12);
      for (int a = 0; a < 2; a++) {
        d.kernel[a] = tu_rng_range(&r, 1, 5);
        d.stride[a] = tu_rng_range(&r, 1, 2);
        d.dilation[a] = tu_rng_range(&r, 1, 4) == 4 ? 2 : 1;
      }
      for (int i = 0; i < 4; i++) d.pad[i] = tu_rng_range(&r, 0, 2);
      d.has_bias = (int)tu_rng_range(&r, 0, 1);
      if (shape == 1) { /* 3x3 stride 1: Winograd's */
        d.kernel[0] = d.kernel[1] = 3;
        d.stride[0] = d.stride[1] = 1;
        d.h += 4;
        d.w += 6;
      } else if (shape == 2) { /* 1x1 stride 1 unpadded: gemm_1x1's */
        d.kernel[0] = d.kernel[1] = 1;
        d.stride[0] = d.stride[1] = 1;
        d.dilation[0] = d.dilation[1] = 1;
        d.pad[0] = d.pad[1] = d.pad[2] = d.pad[3] = 0;
      } else if (shape == 3) { /* depthwise */
        d.groups = d.c_in = d.c_out = tu_rng_range(&r, 1, 6);
      }
    } while (!ref_resolve(&d, &g));
    conv_activation act;
    float alpha;
    do random_act(&r, &act, &alpha); while (act == CONV_ACT_NONE);
    per_act[act]++;
    char ds[512];
    tu_desc_str(&d, ds, sizeof ds);
    conv_plan *plan = NULL;
    char force[64];
    snprintf(force, sizeof force, "fwd=%s", forced);
    setenv("CONV_ALGO", force, 1);
    conv_status st = conv_plan_create_fused(ctx, &d, act, alpha, &plan);
    unsetenv("CONV_ALGO");
    if (st == CONV_ERROR_UNSUPPORTED || st == CONV_ERROR_INVALID_ARGUMENT)
      st = conv_plan_create_fused(ctx, &d, act, alpha, &plan);
    ck_assert_msg(st == CONV_SUCCESS, "%s: %s: %s", backend,
                  conv_last_error(ctx), ds);
    for (size_t a = 0; a < N_FWD_ALGOS; a++)
      if (strcmp(conv_plan_algorithm(plan, CONV_OP_FORWARD), fwd_algos[a]) == 0)
        per_algo[a]++;
    ck_assert_int_eq(conv_plan_activation(plan), act);
    const size_t nx = ref_x_count(&g), nw = ref_w_count(&g);
    const size_t ny = ref_y_count(&g);
    float *x = tu_alloc(nx * 4), *w = tu_alloc(nw * 4);
    float *b = tu_alloc((size_t)d.c_out * 4);
    tu_fill_random(&r, x, nx);
    for (size_t i = 0; i < nx; i++) x[i] *= 4.0f; /* reach relu6's clamp */
    tu_fill_random(&r, w, nw);
    tu_fill_random(&r, b, (size_t)d.c_out);
    double *ry = tu_alloc(ny * 8);
    ref_forward(&g, x, w, d.has_bias ? b : NULL, ry);
    for (size_t i = 0; i < ny; i++) ry[i] = act_ref(ry[i], act, alpha);
    float *y = poisoned(ny);
    ck_assert_msg(conv_forward(plan, x, w, d.has_bias ? b : NULL, y) ==
                  CONV_SUCCESS, "%s: %s", backend, conv_last_error(ctx));
    char what[96];
    snprintf(what, sizeof what, "fused %s forward (%s)", act_name(act),
             conv_plan_algorithm(plan, CONV_OP_FORWARD));
    check_err(backend, what, ds, y, ry, ny);
    free(x); free(w); free(b); free(ry); free(y);
    conv_plan_destroy(plan);
  }
  printf("layers: backend %s: %d random fused forwards match conv2d + "
         "activation in float64 (relu %d, relu6 %d, leaky_relu %d, sigmoid "
         "%d, tanh %d, silu %d)\n", backend, RANDOM_CASES,
         per_act[CONV_ACT_RELU], per_act[CONV_ACT_RELU6],
         per_act[CONV_ACT_LEAKY_RELU], per_act[CONV_ACT_SIGMOID],
         per_act[CONV_ACT_TANH], per_act[CONV_ACT_SILU]);
  printf("layers: backend %s: fused forwards per algorithm:", backend);
  for (size_t a = 0; a < N_FWD_ALGOS; a++)
    if (per_algo[a]) printf(" %s %d", fwd_algos[a], per_algo[a]);
  printf("\n");
  fflush(stdout);
  for (size_t a = 0; a < N_FWD_ALGOS; a++) /* every forward path reached */
    if (algo_expected(backend, a, 0))
      ck_assert_msg(per_algo[a] > 0, "%s: no fused case ran %s", backend,
                    fwd_algos[a]);
  conv_context_destroy(ctx);
}
END_TEST

/* Winograd's epilogue on a dilated 3x3 (d x d phases, each writing every
 * d-th row and column): each element activated once. */
START_TEST(test_activation_winograd_dilated) {
  const char *backend = backends[_i];
  conv_context *ctx = NULL;
  ck_assert(conv_context_create(&ctx, backend, NULL) == CONV_SUCCESS);
  conv_desc d;
  ref_geom g;
  conv_desc_init(&d);
  d.n = 2; d.c_in = 3; d.h = 13; d.w = 11; d.c_out = 5; d.has_bias = 1;
  d.kernel[0] = d.kernel[1] = 3;
  d.dilation[0] = d.dilation[1] = 2;
  d.pad[0] = d.pad[1] = 2; d.pad[2] = 1; d.pad[3] = 3;
  ck_assert(ref_resolve(&d, &g));
  const size_t nx = ref_x_count(&g), nw = ref_w_count(&g), ny = ref_y_count(&g);
  tu_rng r;
  tu_rng_seed(&r, 5);
  float *x = tu_alloc(nx * 4), *w = tu_alloc(nw * 4), b[5];
  tu_fill_random(&r, x, nx);
  tu_fill_random(&r, w, nw);
  tu_fill_random(&r, b, 5);
  double *ry = tu_alloc(ny * 8);
  ref_forward(&g, x, w, b, ry);
  /* leaky_relu applied twice would square the slope: a double application
   * fails. */
  for (size_t i = 0; i < ny; i++) ry[i] = act_ref(ry[i], CONV_ACT_LEAKY_RELU, 0.25);
  float *y = poisoned(ny);
  setenv("CONV_ALGO", "fwd=winograd_f4x4", 1);
  conv_plan *plan = NULL;
  conv_status st = conv_plan_create_fused(ctx, &d, CONV_ACT_LEAKY_RELU, 0.25f,
                                          &plan);
  unsetenv("CONV_ALGO");
  if (st == CONV_SUCCESS) {
    ck_assert(conv_forward(plan, x, w, b, y) == CONV_SUCCESS);
    check_err(backend, "winograd dilated leaky_relu", "13x11 d=2", y, ry, ny);
    conv_plan_destroy(plan);
  } else {
    /* Only the cpu backend has Winograd. */
    ck_assert_msg(strcmp(backend, "cpu") != 0, "cpu: %s", conv_last_error(ctx));
  }
  free(x); free(w); free(ry); free(y);
  conv_context_destroy(ctx);
}
END_TEST

/* NaN stays NaN through every activation (PyTorch's), on a 1x1 conv. */
START_TEST(test_activation_nan) {
  const char *backend = backends[_i];
  conv_context *ctx = NULL;
  ck_assert(conv_context_create(&ctx, backend, NULL) == CONV_SUCCESS);
  conv_desc d;
  conv_desc_init(&d);
  d.n = 1; d.c_in = 1; d.h = 1; d.w = 4; d.c_out = 1;
  d.kernel[0] = d.kernel[1] = 1;
  float x[4] = {NAN, -10.0f, 3.0f, 10.0f}, w[1] = {1.0f}, y[4];
  for (int a = CONV_ACT_RELU; a <= CONV_ACT_SILU; a++) {
    conv_plan *plan = NULL;
    float alpha = a == CONV_ACT_LEAKY_RELU ? 0.5f : 0.0f;
    ck_assert(conv_plan_create_fused(ctx, &d, (conv_activation)a, alpha,
                                     &plan) == CONV_SUCCESS);
    tu_poison(y, 4);
    ck_assert(conv_forward(plan, x, w, NULL, y) == CONV_SUCCESS);
    ck_assert_msg(isnan(y[0]), "%s: %s(NaN) = %g", backend,
                  act_name((conv_activation)a), y[0]);
    for (int i = 1; i < 4; i++) {
      double want = act_ref(x[i], (conv_activation)a, alpha);
      ck_assert_msg(fabs(y[i] - want) <= 1e-6 * (1 + fabs(want)),
                    "%s: %s(%g) = %g, want %g", backend,
                    act_name((conv_activation)a), x[i], y[i], want);
    }
    conv_plan_destroy(plan);
  }
  conv_context_destroy(ctx);
}
END_TEST

/* -------------------------------------------------------------- pooling */

typedef struct pool_geom {
  int64_t pt, pb, pl, pr, sh, sw, ho, wo;
} pool_geom;

/* PyTorch's output size with pads before/after, independently of libconv. */
static int64_t pool_len(int64_t size, int64_t k, int64_t p0, int64_t p1,
                        int64_t s, int64_t d, int ceil_mode) {
  int64_t num = size + p0 + p1 - d * (k - 1) - 1;
  int64_t out = (ceil_mode ? (num + s - 1) / s : num / s) + 1;
  if (num < 0) return 0;
  if (ceil_mode && (out - 1) * s >= size + p0) out--;
  return out;
}

static void pool_geometry(const conv_pool_desc *d, pool_geom *g) {
  if (d->mode == CONV_POOL_ADAPTIVE_AVG) {
    memset(g, 0, sizeof *g);
    g->ho = d->output_size[0];
    g->wo = d->output_size[1];
    return;
  }
  g->pt = d->four_sided ? d->pad4[0] : d->pad[0];
  g->pb = d->four_sided ? d->pad4[1] : d->pad[0];
  g->pl = d->four_sided ? d->pad4[2] : d->pad[1];
  g->pr = d->four_sided ? d->pad4[3] : d->pad[1];
  g->sh = d->stride[0] ? d->stride[0] : d->kernel[0];
  g->sw = d->stride[1] ? d->stride[1] : d->kernel[1];
  g->ho = pool_len(d->h, d->kernel[0], g->pt, g->pb, g->sh, d->dilation[0],
                   d->ceil_mode);
  g->wo = pool_len(d->w, d->kernel[1], g->pl, g->pr, g->sw, d->dilation[1],
                   d->ceil_mode);
}

/* y and dx (dy given) of the pooling in float64, window by window. Max
 * pooling: inputs are distinct, so the maximum is unique. */
static void ref_pool(const conv_pool_desc *d, const pool_geom *g,
                     const float *x, const float *dy, double *y, double *dx) {
  const int64_t H = d->h, W = d->w;
  memset(dx, 0, sizeof(double) * (size_t)(d->n * d->c * H * W));
  for (int64_t pc = 0; pc < d->n * d->c; pc++) {
    const float *xp = x + pc * H * W;
    double *dxp = dx + pc * H * W;
    for (int64_t oh = 0; oh < g->ho; oh++)
      for (int64_t ow = 0; ow < g->wo; ow++) {
        const int64_t o = (pc * g->ho + oh) * g->wo + ow;
        if (d->mode == CONV_POOL_MAX) {
          double best = -INFINITY;
          int64_t at = -1;
          for (int64_t i = 0; i < d->kernel[0]; i++)
            for (int64_t j = 0; j < d->kernel[1]; j++) {
              int64_t ih = oh * g->sh - g->pt + i * d->dilation[0];
              int64_t iw = ow * g->sw - g->pl + j * d->dilation[1];
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              if (xp[ih * W + iw] > best) {
                best = xp[ih * W + iw];
                at = ih * W + iw;
              }
            }
          y[o] = best;
          if (at >= 0) dxp[at] += dy[o];
          continue;
        }
        int64_t h0, h1, w0, w1;
        double div;
        if (d->mode == CONV_POOL_ADAPTIVE_AVG) {
          h0 = (oh * H) / g->ho;
          h1 = ((oh + 1) * H + g->ho - 1) / g->ho;
          w0 = (ow * W) / g->wo;
          w1 = ((ow + 1) * W + g->wo - 1) / g->wo;
          div = (double)((h1 - h0) * (w1 - w0));
        } else {
          h0 = oh * g->sh - g->pt;
          w0 = ow * g->sw - g->pl;
          h1 = h0 + d->kernel[0] < H + g->pb ? h0 + d->kernel[0] : H + g->pb;
          w1 = w0 + d->kernel[1] < W + g->pr ? w0 + d->kernel[1] : W + g->pr;
          const double padded = (double)((h1 - h0) * (w1 - w0));
          if (h0 < 0) h0 = 0;
          if (w0 < 0) w0 = 0;
          if (h1 > H) h1 = H;
          if (w1 > W) w1 = W;
          div = d->divisor_override > 0 ? (double)d->divisor_override
                : d->count_include_pad  ? padded
                                        : (double)((h1 - h0) * (w1 - w0));
        }
        double sum = 0.0;
        for (int64_t ih = h0; ih < h1; ih++)
          for (int64_t iw = w0; iw < w1; iw++) {
            sum += xp[ih * W + iw];
            dxp[ih * W + iw] += dy[o] / div;
          }
        y[o] = h0 < h1 && w0 < w1 ? sum / div : 0.0;
      }
  }
}

static void random_pool(tu_rng *r, conv_pool_desc *d, pool_geom *g) {
  for (;;) {
    conv_pool_desc_init(d);
    d->mode = (conv_pool_mode)tu_rng_range(r, 0, 2);
    d->n = tu_rng_range(r, 1, 3);
    d->c = tu_rng_range(r, 1, 3);
    d->h = tu_rng_range(r, 1, 12);
    d->w = tu_rng_range(r, 1, 12);
    if (d->mode == CONV_POOL_ADAPTIVE_AVG) {
      d->output_size[0] = tu_rng_range(r, 1, 8);
      d->output_size[1] = tu_rng_range(r, 1, 8);
    } else {
      for (int a = 0; a < 2; a++) {
        d->kernel[a] = tu_rng_range(r, 1, 4);
        d->stride[a] = tu_rng_range(r, 0, 3);
        if (d->mode == CONV_POOL_MAX)
          d->dilation[a] = tu_rng_range(r, 1, 3) == 3 ? 2 : 1;
        d->pad[a] = tu_rng_range(r, 0, d->kernel[a] / 2);
      }
      /* Max pooling here is the four-sided kind (test_pool covers the
       * symmetric one); average pooling both. */
      d->four_sided = d->mode == CONV_POOL_MAX || tu_rng_range(r, 0, 1);
      for (int i = 0; i < 4; i++)
        d->pad4[i] = tu_rng_range(r, 0, d->kernel[i / 2] / 2);
      d->ceil_mode = (int)tu_rng_range(r, 0, 1);
      if (d->mode == CONV_POOL_AVG) {
        d->count_include_pad = (int)tu_rng_range(r, 0, 1);
        d->divisor_override = tu_rng_range(r, 0, 4) == 0 ? tu_rng_range(r, 1, 5) : 0;
      }
    }
    pool_geometry(d, g);
    if (g->ho >= 1 && g->wo >= 1) return;
  }
}

START_TEST(test_pool_random) {
  const char *backend = backends[_i];
  conv_context *ctx = NULL;
  ck_assert(conv_context_create(&ctx, backend, NULL) == CONV_SUCCESS);
  tu_rng r;
  tu_rng_seed(&r, 0xa7b0);
  int per_mode[3] = {0, 0, 0};
  for (int k = 0; k < RANDOM_CASES; k++) {
    conv_pool_desc d;
    pool_geom g;
    random_pool(&r, &d, &g);
    per_mode[d.mode]++;
    char ds[512];
    snprintf(ds, sizeof ds,
             "mode=%d n=%lld c=%lld %lldx%lld k=%lldx%lld s=%lldx%lld "
             "d=%lldx%lld pads=%lld,%lld,%lld,%lld ceil=%d incl=%d div=%lld "
             "out=%lldx%lld", (int)d.mode, (long long)d.n, (long long)d.c,
             (long long)d.h, (long long)d.w, (long long)d.kernel[0],
             (long long)d.kernel[1], (long long)g.sh, (long long)g.sw,
             (long long)d.dilation[0], (long long)d.dilation[1],
             (long long)g.pt, (long long)g.pb, (long long)g.pl,
             (long long)g.pr, d.ceil_mode, d.count_include_pad,
             (long long)d.divisor_override, (long long)g.ho, (long long)g.wo);
    int64_t ho = 0, wo = 0;
    ck_assert_msg(conv_pool_output_size(&d, &ho, &wo) == CONV_SUCCESS, "%s: %s",
                  conv_last_error(NULL), ds);
    ck_assert_msg(ho == g.ho && wo == g.wo, "output %lldx%lld: %s",
                  (long long)ho, (long long)wo, ds);
    conv_pool_plan *plan = NULL;
    ck_assert_msg(conv_pool_plan_create(ctx, &d, &plan) == CONV_SUCCESS,
                  "%s: %s: %s", backend, conv_last_error(ctx), ds);
    const size_t nx = (size_t)(d.n * d.c * d.h * d.w);
    const size_t ny = (size_t)(d.n * d.c * ho * wo);
    float *x = tu_alloc(nx * 4), *dy = tu_alloc(ny * 4);
    /* Distinct values (a shuffled ramp) so a maximum is never tied. */
    for (size_t i = 0; i < nx; i++) x[i] = (float)i / (float)nx - 0.5f;
    for (size_t i = nx; i > 1; i--) {
      size_t j = (size_t)tu_rng_range(&r, 0, (int64_t)i - 1);
      float t = x[i - 1]; x[i - 1] = x[j]; x[j] = t;
    }
    tu_fill_random(&r, dy, ny);
    double *ry = tu_alloc(ny * 8), *rdx = tu_alloc(nx * 8);
    ref_pool(&d, &g, x, dy, ry, rdx);
    float *y = poisoned(ny), *dx = poisoned(nx);
    if (d.mode == CONV_POOL_MAX) {
      ck_assert(conv_maxpool_forward(plan, x, y, NULL) == CONV_SUCCESS);
      ck_assert(conv_maxpool_backward(plan, x, dy, dx) == CONV_SUCCESS);
    } else {
      ck_assert_msg(conv_avgpool_forward(plan, x, y) == CONV_SUCCESS, "%s",
                    conv_last_error(ctx));
      ck_assert_msg(conv_avgpool_backward(plan, dy, dx) == CONV_SUCCESS, "%s",
                    conv_last_error(ctx));
    }
    check_err(backend, "pool y", ds, y, ry, ny);
    check_err(backend, "pool dx", ds, dx, rdx, nx);
    free(x); free(dy); free(ry); free(rdx); free(y); free(dx);
    conv_pool_plan_destroy(plan);
  }
  printf("layers: backend %s: %d random poolings match the float64 loop "
         "nests (four-sided max %d, avg %d, adaptive avg %d)\n", backend,
         RANDOM_CASES, per_mode[0], per_mode[1], per_mode[2]);
  fflush(stdout);
  conv_context_destroy(ctx);
}
END_TEST

/* The golden avgpool2d and adaptive_avgpool2d cases: PyTorch's y and dx. */
START_TEST(test_golden_avgpool) {
  const char *backend = backends[_i];
  char err[1024];
  char **names = NULL;
  size_t count = 0;
  ck_assert_msg(golden_list(golden_dir, NULL, &names, &count, err, sizeof err) == 0,
                "%s", err);
  conv_context *ctx = NULL;
  ck_assert(conv_context_create(&ctx, backend, NULL) == CONV_SUCCESS);
  int ran = 0;
  for (size_t i = 0; i < count; i++) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", golden_dir, names[i]);
    golden_case c;
    ck_assert_msg(golden_load(dir, &c, err, sizeof err) == 0, "%s", err);
    const int adaptive = strcmp(c.op, "adaptive_avgpool2d") == 0;
    if (!adaptive && strcmp(c.op, "avgpool2d") != 0) {
      golden_free(&c);
      continue;
    }
    conv_pool_desc d;
    conv_pool_desc_init(&d);
    d.n = c.desc.n; d.c = c.desc.c_in; d.h = c.desc.h; d.w = c.desc.w;
    if (adaptive) {
      d.mode = CONV_POOL_ADAPTIVE_AVG;
      d.output_size[0] = c.output_size[0];
      d.output_size[1] = c.output_size[1];
    } else {
      d.mode = CONV_POOL_AVG;
      d.kernel[0] = c.desc.kernel[0]; d.kernel[1] = c.desc.kernel[1];
      d.stride[0] = c.desc.stride[0]; d.stride[1] = c.desc.stride[1];
      d.four_sided = 1;
      for (int k = 0; k < 4; k++) d.pad4[k] = c.pads[k];
      d.ceil_mode = c.ceil_mode;
      d.count_include_pad = c.count_include_pad;
      d.divisor_override = c.divisor_override;
    }
    conv_pool_plan *plan = NULL;
    ck_assert_msg(conv_pool_plan_create(ctx, &d, &plan) == CONV_SUCCESS,
                  "%s: %s: %s", backend, c.name, conv_last_error(ctx));
    int64_t ho, wo;
    conv_pool_plan_output_size(plan, &ho, &wo);
    ck_assert_msg(ho == c.h_out && wo == c.w_out, "%s: %s: output %lldx%lld, "
                  "case %lldx%lld", backend, c.name, (long long)ho,
                  (long long)wo, (long long)c.h_out, (long long)c.w_out);
    float *y = poisoned(c.y.count), *dx = poisoned(c.dx.count);
    ck_assert_msg(conv_avgpool_forward(plan, c.x.data, y) == CONV_SUCCESS,
                  "%s: %s: %s", backend, c.name, conv_last_error(ctx));
    ck_assert_msg(conv_avgpool_backward(plan, c.dy.data, dx) == CONV_SUCCESS,
                  "%s: %s: %s", backend, c.name, conv_last_error(ctx));
    double ey = golden_rel_error(y, c.y.data, c.y.count);
    double edx = golden_rel_error(dx, c.dx.data, c.dx.count);
    ck_assert_msg(ey <= TU_TOLERANCE && edx <= TU_TOLERANCE,
                  "%s: %s: y error %g, dx error %g", backend, c.name, ey, edx);
    conv_pool_plan_destroy(plan);
    free(y); free(dx);
    golden_free(&c);
    ran++;
  }
  golden_list_free(names, count);
  conv_context_destroy(ctx);
  printf("layers: backend %s: %d golden average pooling cases match PyTorch\n",
         backend, ran);
  fflush(stdout);
  ck_assert_msg(ran > 0, "no avgpool2d golden case in %s", golden_dir);
}
END_TEST

/* ------------------------------------------------------------ bad input */

#define EXPECT(call, status, word)                                           \
  do {                                                                       \
    conv_status st_ = (call);                                                \
    ck_assert_msg(st_ == (status), "%s gave %s (%s)", #call,                 \
                  conv_status_string(st_), conv_last_error(ctx));            \
    const char *m_ = ctx ? conv_last_error(ctx) : conv_last_error(NULL);     \
    ck_assert_msg(strstr(m_, (word)) != NULL, "%s: message '%s' lacks '%s'", \
                  #call, m_, (word));                                        \
  } while (0)

START_TEST(test_bad_input) {
  conv_context *ctx = NULL;
  ck_assert(conv_context_create(&ctx, backends[0], NULL) == CONV_SUCCESS);
  conv_plan *plan = NULL;
  conv_transpose_desc t;
  conv_transpose_desc_init(&t);
  t.n = 1; t.c_in = 4; t.h = 4; t.w = 4; t.c_out = 2;
  t.kernel[0] = t.kernel[1] = 3;
  t.stride[0] = t.stride[1] = 2;
  t.output_padding[0] = 2; /* not < stride 2 nor < dilation 1 */
  EXPECT(conv_transpose_plan_create(ctx, &t, CONV_ACT_NONE, 0, &plan),
         CONV_ERROR_INVALID_ARGUMENT, "output_padding_h=2");
  ck_assert_ptr_null(plan);
  t.output_padding[0] = 0;
  t.groups = 3;
  EXPECT(conv_transpose_plan_create(ctx, &t, CONV_ACT_NONE, 0, &plan),
         CONV_ERROR_INVALID_ARGUMENT, "groups=3");
  t.groups = 1;
  t.pad[0] = t.pad[1] = 4; /* output (4-1)*2 - 8 + 2 + 1 = 1 */
  t.pad[1] = 5;
  EXPECT(conv_transpose_plan_create(ctx, &t, CONV_ACT_NONE, 0, &plan),
         CONV_ERROR_INVALID_ARGUMENT, "not positive");
  t.pad[0] = t.pad[1] = 0;
  t.pad[2] = -1;
  EXPECT(conv_transpose_plan_create(ctx, &t, CONV_ACT_NONE, 0, &plan),
         CONV_ERROR_INVALID_ARGUMENT, "pad_left=-1");
  t.pad[2] = 0;
  /* output_padding 1 with stride 1, dilation 2: PyTorch accepts it, with
   * or without an end pad; 2 is refused (not below the dilation). */
  t.stride[0] = 1;
  t.dilation[0] = 2;
  t.output_padding[0] = 2;
  EXPECT(conv_transpose_plan_create(ctx, &t, CONV_ACT_NONE, 0, &plan),
         CONV_ERROR_INVALID_ARGUMENT, "output_padding_h=2");
  t.output_padding[0] = 1;
  ck_assert(conv_transpose_plan_create(ctx, &t, CONV_ACT_NONE, 0, &plan) ==
            CONV_SUCCESS);
  conv_plan_destroy(plan);
  plan = NULL;
  t.pad[1] = 1;
  ck_assert(conv_transpose_plan_create(ctx, &t, CONV_ACT_NONE, 0, &plan) ==
            CONV_SUCCESS);
  conv_plan_destroy(plan);
  plan = NULL;
  EXPECT(conv_transpose_plan_create(ctx, NULL, CONV_ACT_NONE, 0, &plan),
         CONV_ERROR_INVALID_ARGUMENT, "desc is NULL");
  int64_t ho, wo;
  ck_assert(conv_transpose_output_size(&t, NULL, &wo) ==
            CONV_ERROR_INVALID_ARGUMENT);
  ck_assert(conv_transpose_output_size(&t, &ho, &wo) == CONV_SUCCESS);
  ck_assert_int_eq(ho, (4 - 1) * 1 - 0 - 1 + 2 * 2 + 1 + 1);

  /* Activations. */
  conv_desc d;
  conv_desc_init(&d);
  d.n = 1; d.c_in = 1; d.h = 3; d.w = 3; d.c_out = 1;
  d.kernel[0] = d.kernel[1] = 1;
  EXPECT(conv_plan_create_fused(ctx, &d, (conv_activation)7, 0, &plan),
         CONV_ERROR_INVALID_ARGUMENT, "activation=7");
  EXPECT(conv_plan_create_fused(ctx, &d, CONV_ACT_RELU, 0.5f, &plan),
         CONV_ERROR_INVALID_ARGUMENT, "alpha=0.5");
  EXPECT(conv_plan_create_fused(ctx, &d, CONV_ACT_LEAKY_RELU, NAN, &plan),
         CONV_ERROR_INVALID_ARGUMENT, "finite");
  ck_assert_ptr_null(plan);
  ck_assert_int_eq(conv_plan_activation(NULL), CONV_ACT_NONE);

  /* Pooling descriptors. */
  conv_pool_desc p;
  conv_pool_desc_init(&p);
  p.n = 1; p.c = 1; p.h = 6; p.w = 6;
  p.kernel[0] = p.kernel[1] = 2;
  p.mode = CONV_POOL_AVG;
  p.dilation[0] = 2;
  conv_pool_plan *pp = NULL;
  EXPECT(conv_pool_plan_create(ctx, &p, &pp), CONV_ERROR_INVALID_ARGUMENT,
         "dilation=2x1");
  p.dilation[0] = 1;
  p.divisor_override = -1;
  EXPECT(conv_pool_plan_create(ctx, &p, &pp), CONV_ERROR_INVALID_ARGUMENT,
         "divisor_override=-1");
  p.divisor_override = 0;
  p.count_include_pad = 2;
  EXPECT(conv_pool_plan_create(ctx, &p, &pp), CONV_ERROR_INVALID_ARGUMENT,
         "count_include_pad=2");
  p.count_include_pad = 1;
  p.four_sided = 1;
  p.pad4[3] = 2;
  EXPECT(conv_pool_plan_create(ctx, &p, &pp), CONV_ERROR_INVALID_ARGUMENT,
         "pad_right=2");
  p.pad4[2] = p.pad4[3] = 1;
  ck_assert(conv_pool_output_size(&p, &ho, &wo) == CONV_SUCCESS);
  ck_assert_int_eq(ho, 3); /* (6 + 0 + 0 - 2) / 2 + 1 */
  ck_assert_int_eq(wo, 4); /* (6 + 1 + 1 - 2) / 2 + 1 */
  p.mode = (conv_pool_mode)3;
  EXPECT(conv_pool_plan_create(ctx, &p, &pp), CONV_ERROR_INVALID_ARGUMENT,
         "mode=3");
  p.mode = CONV_POOL_ADAPTIVE_AVG;
  p.four_sided = 0;
  EXPECT(conv_pool_plan_create(ctx, &p, &pp), CONV_ERROR_INVALID_ARGUMENT,
         "kernel_h=2");
  p.kernel[0] = p.kernel[1] = 0;
  EXPECT(conv_pool_plan_create(ctx, &p, &pp), CONV_ERROR_INVALID_ARGUMENT,
         "output_size_h=0");
  p.output_size[0] = p.output_size[1] = 2;
  ck_assert(conv_pool_plan_create(ctx, &p, &pp) == CONV_SUCCESS);
  /* An adaptive plan does not run max pooling, nor a max plan average. */
  float x[36], y[4], dx[36];
  for (int i = 0; i < 4; i++) y[i] = 7.0f;
  EXPECT(conv_maxpool_forward(pp, x, y, NULL), CONV_ERROR_INVALID_ARGUMENT,
         "mode=adaptive_avg");
  ck_assert(y[0] == 7.0f);
  EXPECT(conv_avgpool_forward(pp, NULL, y), CONV_ERROR_INVALID_ARGUMENT,
         "x is NULL");
  conv_pool_plan_destroy(pp);
  pp = NULL;
  conv_pool_desc_init(&p);
  p.n = 1; p.c = 1; p.h = 6; p.w = 6;
  p.kernel[0] = p.kernel[1] = 2;
  p.divisor_override = 2;
  EXPECT(conv_pool_plan_create(ctx, &p, &pp), CONV_ERROR_INVALID_ARGUMENT,
         "divisor_override=2");
  p.divisor_override = 0;
  ck_assert(conv_pool_plan_create(ctx, &p, &pp) == CONV_SUCCESS);
  EXPECT(conv_avgpool_backward(pp, y, dx), CONV_ERROR_INVALID_ARGUMENT,
         "mode=max");
  conv_pool_plan_destroy(pp);
  conv_context_destroy(ctx);
}
END_TEST

int main(void) {
  golden_dir = getenv("CONV_GOLDEN_DIR");
  n_backends = tu_require_backends("test_layers", backends, MAX_BACKENDS);
  if (n_backends == 0) return EXIT_FAILURE;
  Suite *s = suite_create("layers");
  TCase *tc = tcase_create("random");
  tcase_set_timeout(tc, 900);
  tcase_add_loop_test(tc, test_transpose_random, 0, n_backends);
  tcase_add_loop_test(tc, test_transpose_algorithms, 0, n_backends);
  tcase_add_loop_test(tc, test_transpose_empty_batch, 0, n_backends);
  tcase_add_loop_test(tc, test_transpose_onnx_output_shape, 0, n_backends);
  tcase_add_loop_test(tc, test_activation_random, 0, n_backends);
  tcase_add_loop_test(tc, test_activation_nan, 0, n_backends);
  tcase_add_loop_test(tc, test_activation_winograd_dilated, 0, n_backends);
  tcase_add_loop_test(tc, test_pool_random, 0, n_backends);
  if (golden_dir != NULL && *golden_dir)
    tcase_add_loop_test(tc, test_golden_avgpool, 0, n_backends);
  tcase_add_test(tc, test_bad_input);
  suite_add_tcase(s, tc);
  const int failed = tu_run_suite(s);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
