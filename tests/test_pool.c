/* SPDX-License-Identifier: Apache-2.0 */
/* Max pooling (conv_pool_*, conv_maxpool_*) on every usable backend:
 *  - ~200 seeded random descriptors against a plain loop-nest reference that
 *    follows PyTorch 1.13's CPU rules (padding never wins, first maximum on
 *    ties, NaN wins and the last NaN is kept), with values drawn from a few
 *    integers (many ties), NaN and -inf. y, indices and dx must match bit for
 *    bit: dx is a float sum of dy in output raster order everywhere;
 *  - argument errors, N = 0, the output-size rule (ceil mode included, the
 *    seed shape (32,7,128,128) kernel 2 stride 2 -> 64x64);
 *  - the golden maxpool2d cases (PyTorch's answers) in $CONV_GOLDEN_DIR. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "golden.h"
#include "testutil.h"

#define MAX_BACKENDS 8
#define RANDOM_CASES 200

static char backends[MAX_BACKENDS][64];
static int n_backends;
static const char *golden_dir;

/* ------------------------------------------------------------ reference */

/* PyTorch's output size for one axis (pooling_output_shape). */
static int64_t ref_out(int64_t size, int64_t k, int64_t pad, int64_t stride,
                       int64_t dil, int ceil_mode) {
  int64_t num = size + 2 * pad - dil * (k - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  int64_t q = num / stride;
  if (num % stride != 0 && num < 0) q--; /* floor */
  int64_t out = q + 1;
  if (ceil_mode && (out - 1) * stride >= size + pad) out--;
  return out;
}

typedef struct ref_geom {
  int64_t n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo;
} ref_geom;

static void geom_of(const conv_pool_desc *d, ref_geom *g) {
  g->n = d->n; g->c = d->c; g->h = d->h; g->w = d->w;
  g->kh = d->kernel[0]; g->kw = d->kernel[1];
  g->sh = d->stride[0] ? d->stride[0] : d->kernel[0];
  g->sw = d->stride[1] ? d->stride[1] : d->kernel[1];
  g->ph = d->pad[0]; g->pw = d->pad[1];
  g->dh = d->dilation[0]; g->dw = d->dilation[1];
  g->ho = ref_out(g->h, g->kh, g->ph, g->sh, g->dh, d->ceil_mode);
  g->wo = ref_out(g->w, g->kw, g->pw, g->sw, g->dw, d->ceil_mode);
}

/* The window (oh, ow) of plane xp, tap by tap: its chosen index (PyTorch's
 * starting index when no tap is inside) and value; *empty if no tap is. */
static int64_t ref_window(const ref_geom *g, const float *xp, int64_t oh,
                          int64_t ow, float *val, int *empty) {
  int64_t h0 = oh * g->sh - g->ph, w0 = ow * g->sw - g->pw;
  int64_t fh = h0, fw = w0;
  while (fh < 0) fh += g->dh;
  while (fw < 0) fw += g->dw;
  int64_t best = fh * g->w + fw;
  float m = -INFINITY;
  *empty = 1;
  for (int64_t i = 0; i < g->kh; i++) {
    int64_t ih = h0 + i * g->dh;
    if (ih < 0 || ih >= g->h) continue;
    for (int64_t j = 0; j < g->kw; j++) {
      int64_t iw = w0 + j * g->dw;
      if (iw < 0 || iw >= g->w) continue;
      *empty = 0;
      float v = xp[ih * g->w + iw];
      if (v > m || isnan(v)) {
        m = v;
        best = ih * g->w + iw;
      }
    }
  }
  *val = m;
  return best;
}

static void ref_forward(const ref_geom *g, const float *x, float *y,
                        int64_t *idx) {
  for (int64_t pc = 0; pc < g->n * g->c; pc++)
    for (int64_t oh = 0; oh < g->ho; oh++)
      for (int64_t ow = 0; ow < g->wo; ow++) {
        int empty;
        size_t o = (size_t)((pc * g->ho + oh) * g->wo + ow);
        idx[o] = ref_window(g, x + pc * g->h * g->w, oh, ow, &y[o], &empty);
      }
}

static void ref_backward(const ref_geom *g, const float *x, const float *dy,
                         float *dx) {
  memset(dx, 0, (size_t)(g->n * g->c * g->h * g->w) * sizeof *dx);
  for (int64_t pc = 0; pc < g->n * g->c; pc++)
    for (int64_t oh = 0; oh < g->ho; oh++)
      for (int64_t ow = 0; ow < g->wo; ow++) {
        int empty;
        float v;
        int64_t k = ref_window(g, x + pc * g->h * g->w, oh, ow, &v, &empty);
        if (!empty)
          dx[pc * g->h * g->w + k] += dy[(pc * g->ho + oh) * g->wo + ow];
      }
}

/* ------------------------------------------------------------ helpers */

static float *poisoned(size_t n) {
  float *p = tu_alloc(n * sizeof(float));
  tu_poison(p, n);
  return p;
}

/* Index of the first element where got and ref differ (NaN equals NaN, but
 * a poisoned element never equals anything), or -1. */
static long first_diff(const float *got, const float *ref, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (tu_is_poison(&got[i], 1)) return (long)i;
    if (isnan(ref[i]) ? !isnan(got[i]) : memcmp(&got[i], &ref[i], 4) != 0)
      return (long)i;
  }
  return -1;
}

static const char *pdesc(const conv_pool_desc *d, char *buf, size_t len) {
  snprintf(buf, len,
           "n=%lld c=%lld h=%lld w=%lld k=%lld,%lld s=%lld,%lld p=%lld,%lld "
           "d=%lld,%lld ceil=%d",
           (long long)d->n, (long long)d->c, (long long)d->h, (long long)d->w,
           (long long)d->kernel[0], (long long)d->kernel[1],
           (long long)d->stride[0], (long long)d->stride[1],
           (long long)d->pad[0], (long long)d->pad[1],
           (long long)d->dilation[0], (long long)d->dilation[1], d->ceil_mode);
  return buf;
}

/* A value with many ties: small integers, sometimes NaN or -inf. */
static float tie_value(tu_rng *r, int specials) {
  int64_t u = tu_rng_range(r, 0, 99);
  if (specials && u < 3) return NAN;
  if (specials && u < 6) return -INFINITY;
  return (float)tu_rng_range(r, -3, 3);
}

/* ------------------------------------------------------------ tests */

START_TEST(test_random_pool) {
  const char *backend = backends[_i];
  conv_context *ctx = NULL;
  ck_assert_msg(conv_context_create(&ctx, backend, NULL) == CONV_SUCCESS,
                "%s: %s", backend, conv_last_error(NULL));
  tu_rng rng;
  tu_rng_seed(&rng, 0x9001);
  int ran = 0, tries = 0;
  while (ran < RANDOM_CASES && tries < 20 * RANDOM_CASES) {
    tries++;
    conv_pool_desc d;
    conv_pool_desc_init(&d);
    d.n = tu_rng_range(&rng, 1, 3);
    d.c = tu_rng_range(&rng, 1, 4);
    d.h = tu_rng_range(&rng, 1, 13);
    d.w = tu_rng_range(&rng, 1, 13);
    for (int a = 0; a < 2; a++) {
      d.kernel[a] = tu_rng_range(&rng, 1, 4);
      d.stride[a] = tu_rng_range(&rng, 0, 3);
      d.pad[a] = tu_rng_range(&rng, 0, d.kernel[a] / 2);
      d.dilation[a] = tu_rng_range(&rng, 1, 3);
    }
    d.ceil_mode = (int)tu_rng_range(&rng, 0, 1);
    ref_geom g;
    geom_of(&d, &g);
    int64_t ho = -1, wo = -1;
    conv_status st = conv_pool_output_size(&d, &ho, &wo);
    char buf[256];
    if (g.ho < 1 || g.wo < 1) {
      ck_assert_msg(st == CONV_ERROR_INVALID_ARGUMENT,
                    "%s: output %lldx%lld accepted", pdesc(&d, buf, sizeof buf),
                    (long long)g.ho, (long long)g.wo);
      continue;
    }
    ck_assert_msg(st == CONV_SUCCESS && ho == g.ho && wo == g.wo,
                  "%s: conv_pool_output_size %d %lldx%lld, PyTorch %lldx%lld: %s",
                  pdesc(&d, buf, sizeof buf), (int)st, (long long)ho,
                  (long long)wo, (long long)g.ho, (long long)g.wo,
                  conv_last_error(NULL));
    size_t xn = (size_t)(d.n * d.c * d.h * d.w);
    size_t yn = (size_t)(d.n * d.c * g.ho * g.wo);
    float *x = tu_alloc(xn * 4), *dy = tu_alloc(yn * 4);
    int specials = ran % 3 == 0;
    for (size_t i = 0; i < xn; i++) x[i] = tie_value(&rng, specials);
    tu_fill_random(&rng, dy, yn);
    float *yr = tu_alloc(yn * 4), *dxr = tu_alloc(xn * 4);
    int64_t *ir = tu_alloc(yn * 8);
    ref_forward(&g, x, yr, ir);
    ref_backward(&g, x, dy, dxr);

    conv_pool_plan *plan = NULL;
    st = conv_pool_plan_create(ctx, &d, &plan);
    ck_assert_msg(st == CONV_SUCCESS, "%s: %s: plan: %s", backend,
                  pdesc(&d, buf, sizeof buf), conv_last_error(ctx));
    float *y = poisoned(yn), *dx = poisoned(xn);
    int64_t *idx = tu_alloc(yn * 8);
    for (size_t i = 0; i < yn; i++) idx[i] = -12345;
    st = conv_maxpool_forward(plan, x, y, idx);
    ck_assert_msg(st == CONV_SUCCESS, "%s: forward: %s", backend,
                  conv_last_error(ctx));
    long e = first_diff(y, yr, yn);
    ck_assert_msg(e < 0, "%s: %s: y[%ld] = %g, expected %g", backend,
                  pdesc(&d, buf, sizeof buf), e, e >= 0 ? y[e] : 0.0,
                  e >= 0 ? yr[e] : 0.0);
    for (size_t i = 0; i < yn; i++)
      ck_assert_msg(idx[i] == ir[i], "%s: %s: indices[%zu] = %lld, expected %lld",
                    backend, pdesc(&d, buf, sizeof buf), i, (long long)idx[i],
                    (long long)ir[i]);
    /* Without indices too. */
    tu_poison(y, yn);
    ck_assert(conv_maxpool_forward(plan, x, y, NULL) == CONV_SUCCESS);
    ck_assert_msg(first_diff(y, yr, yn) < 0, "%s: %s: y without indices differs",
                  backend, pdesc(&d, buf, sizeof buf));
    st = conv_maxpool_backward(plan, x, dy, dx);
    ck_assert_msg(st == CONV_SUCCESS, "%s: backward: %s", backend,
                  conv_last_error(ctx));
    e = first_diff(dx, dxr, xn);
    ck_assert_msg(e < 0, "%s: %s: dx[%ld] = %.9g, expected %.9g", backend,
                  pdesc(&d, buf, sizeof buf), e, e >= 0 ? dx[e] : 0.0,
                  e >= 0 ? dxr[e] : 0.0);
    conv_pool_plan_destroy(plan);
    free(x); free(dy); free(yr); free(dxr); free(ir); free(y); free(dx);
    free(idx);
    ran++;
  }
  printf("pool: backend %s: %d random descriptors match the reference\n",
         backend, ran);
  fflush(stdout);
  ck_assert_int_eq(ran, RANDOM_CASES);
  conv_context_destroy(ctx);
}
END_TEST

/* Device tensors: forward and backward through conv_maxpool_*_tensor. */
START_TEST(test_tensor_pool) {
  const char *backend = backends[_i];
  conv_context *ctx = NULL;
  ck_assert(conv_context_create(&ctx, backend, NULL) == CONV_SUCCESS);
  conv_pool_desc d;
  conv_pool_desc_init(&d);
  d.n = 2; d.c = 3; d.h = 9; d.w = 7;
  d.kernel[0] = 3; d.kernel[1] = 2; d.stride[0] = 2; d.stride[1] = 1;
  d.pad[0] = 1; d.ceil_mode = 1;
  ref_geom g;
  geom_of(&d, &g);
  size_t xn = (size_t)(d.n * d.c * d.h * d.w), yn = (size_t)(d.n * d.c * g.ho * g.wo);
  tu_rng rng;
  tu_rng_seed(&rng, 7);
  float *x = tu_alloc(xn * 4), *dy = tu_alloc(yn * 4), *yr = tu_alloc(yn * 4),
        *dxr = tu_alloc(xn * 4), *y = poisoned(yn), *dx = poisoned(xn);
  int64_t *ir = tu_alloc(yn * 8);
  for (size_t i = 0; i < xn; i++) x[i] = tie_value(&rng, 1);
  tu_fill_random(&rng, dy, yn);
  ref_forward(&g, x, yr, ir);
  ref_backward(&g, x, dy, dxr);
  conv_pool_plan *plan = NULL;
  ck_assert(conv_pool_plan_create(ctx, &d, &plan) == CONV_SUCCESS);
  conv_tensor *tx, *ty, *tdy, *tdx;
  ck_assert(conv_tensor_create(ctx, xn, &tx) == CONV_SUCCESS);
  ck_assert(conv_tensor_create(ctx, yn, &ty) == CONV_SUCCESS);
  ck_assert(conv_tensor_create(ctx, yn, &tdy) == CONV_SUCCESS);
  ck_assert(conv_tensor_create(ctx, xn, &tdx) == CONV_SUCCESS);
  ck_assert(conv_tensor_upload(tx, x, xn) == CONV_SUCCESS);
  ck_assert(conv_tensor_upload(tdy, dy, yn) == CONV_SUCCESS);
  ck_assert_msg(conv_maxpool_forward_tensor(plan, tx, ty) == CONV_SUCCESS, "%s",
                conv_last_error(ctx));
  ck_assert_msg(conv_maxpool_backward_tensor(plan, tx, tdy, tdx) == CONV_SUCCESS,
                "%s", conv_last_error(ctx));
  ck_assert(conv_tensor_download(ty, y, yn) == CONV_SUCCESS);
  ck_assert(conv_tensor_download(tdx, dx, xn) == CONV_SUCCESS);
  ck_assert_msg(first_diff(y, yr, yn) < 0, "%s: tensor y differs", backend);
  ck_assert_msg(first_diff(dx, dxr, xn) < 0, "%s: tensor dx differs", backend);
  /* A tensor too small is refused. */
  ck_assert(conv_maxpool_forward_tensor(plan, tdy, ty) ==
            CONV_ERROR_INVALID_ARGUMENT || xn <= yn);
  conv_tensor_destroy(tx); conv_tensor_destroy(ty);
  conv_tensor_destroy(tdy); conv_tensor_destroy(tdx);
  conv_pool_plan_destroy(plan);
  conv_context_destroy(ctx);
  free(x); free(dy); free(yr); free(dxr); free(y); free(dx); free(ir);
}
END_TEST

/* N = 0 succeeds and writes nothing; bad descriptors and NULLs fail. */
START_TEST(test_errors_and_empty) {
  const char *backend = backends[_i];
  conv_context *ctx = NULL;
  ck_assert(conv_context_create(&ctx, backend, NULL) == CONV_SUCCESS);
  conv_pool_desc d;
  conv_pool_desc_init(&d);
  d.n = 0; d.c = 2; d.h = 5; d.w = 5; d.kernel[0] = d.kernel[1] = 2;
  conv_pool_plan *plan = NULL;
  ck_assert_msg(conv_pool_plan_create(ctx, &d, &plan) == CONV_SUCCESS, "%s",
                conv_last_error(ctx));
  int64_t ho, wo;
  conv_pool_plan_output_size(plan, &ho, &wo);
  ck_assert(ho == 2 && wo == 2);
  float dummy = 1.5f;
  int64_t idummy = 7;
  ck_assert(conv_maxpool_forward(plan, &dummy, &dummy, &idummy) == CONV_SUCCESS);
  ck_assert(conv_maxpool_backward(plan, &dummy, &dummy, &dummy) == CONV_SUCCESS);
  ck_assert(dummy == 1.5f && idummy == 7);
  ck_assert(conv_maxpool_forward(plan, NULL, &dummy, NULL) ==
            CONV_ERROR_INVALID_ARGUMENT);
  ck_assert(conv_maxpool_backward(plan, &dummy, NULL, &dummy) ==
            CONV_ERROR_INVALID_ARGUMENT);
  conv_pool_plan_destroy(plan);

  conv_pool_desc b;
  /* pad > kernel/2 */
  b = d; b.n = 1; b.kernel[0] = 3; b.pad[0] = 2;
  ck_assert(conv_pool_plan_create(ctx, &b, &plan) == CONV_ERROR_INVALID_ARGUMENT);
  ck_assert_ptr_null(plan);
  ck_assert_ptr_nonnull(strstr(conv_last_error(ctx), "pad_h"));
  b = d; b.n = 1; b.kernel[1] = 2; b.pad[1] = 2;
  ck_assert(conv_pool_plan_create(ctx, &b, &plan) == CONV_ERROR_INVALID_ARGUMENT);
  /* output < 1: kernel larger than the padded input */
  b = d; b.n = 1; b.kernel[0] = 6;
  ck_assert(conv_pool_plan_create(ctx, &b, &plan) == CONV_ERROR_INVALID_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(conv_last_error(ctx), "output size"));
  b = d; b.n = 1; b.kernel[1] = 3; b.dilation[1] = 3;
  ck_assert(conv_pool_plan_create(ctx, &b, &plan) == CONV_ERROR_INVALID_ARGUMENT);
  /* bad ceil_mode, kernel 0, negative stride / pad / n */
  b = d; b.ceil_mode = 2;
  ck_assert(conv_pool_plan_create(ctx, &b, &plan) == CONV_ERROR_INVALID_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(conv_last_error(ctx), "ceil_mode"));
  b = d; b.kernel[0] = 0;
  ck_assert(conv_pool_plan_create(ctx, &b, &plan) == CONV_ERROR_INVALID_ARGUMENT);
  b = d; b.stride[1] = -1;
  ck_assert(conv_pool_plan_create(ctx, &b, &plan) == CONV_ERROR_INVALID_ARGUMENT);
  b = d; b.pad[0] = -1;
  ck_assert(conv_pool_plan_create(ctx, &b, &plan) == CONV_ERROR_INVALID_ARGUMENT);
  b = d; b.n = -1;
  ck_assert(conv_pool_plan_create(ctx, &b, &plan) == CONV_ERROR_INVALID_ARGUMENT);
  b = d; b.dilation[0] = 0;
  ck_assert(conv_pool_plan_create(ctx, &b, &plan) == CONV_ERROR_INVALID_ARGUMENT);
  ck_assert(conv_pool_plan_create(ctx, NULL, &plan) == CONV_ERROR_INVALID_ARGUMENT);
  ck_assert(conv_pool_plan_create(ctx, &d, NULL) == CONV_ERROR_INVALID_ARGUMENT);
  ck_assert(conv_maxpool_forward(NULL, &dummy, &dummy, NULL) ==
            CONV_ERROR_INVALID_ARGUMENT);
  conv_context_destroy(ctx);
}
END_TEST

/* Output sizes as PyTorch computes them (values checked with torch 1.13). */
START_TEST(test_output_size) {
  static const struct {
    int64_t h, k, s, p, d;
    int ceil;
    int64_t out; /* < 1: refused */
  } t[] = {
      {128, 2, 2, 0, 1, 0, 64}, {5, 2, 2, 0, 1, 0, 2}, {5, 2, 2, 0, 1, 1, 3},
      {6, 3, 2, 1, 1, 1, 4},    {2, 3, 2, 0, 1, 1, 1}, /* kernel overhangs */
      {2, 3, 1, 0, 1, 1, 0},    {7, 3, 3, 1, 2, 0, 2}, {7, 3, 3, 1, 2, 1, 3},
      {1, 1, 1, 0, 1, 0, 1},    {4, 2, 3, 1, 1, 1, 2}, {2, 2, 1, 1, 3, 0, 1},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    conv_pool_desc d;
    conv_pool_desc_init(&d);
    d.n = 32; d.c = 7; d.h = t[i].h; d.w = 128;
    d.kernel[0] = t[i].k; d.kernel[1] = 2;
    d.stride[0] = t[i].s; d.stride[1] = 2;
    d.pad[0] = t[i].p; d.dilation[0] = t[i].d; d.ceil_mode = t[i].ceil;
    int64_t ho = -1, wo = -1;
    conv_status st = conv_pool_output_size(&d, &ho, &wo);
    ck_assert_int_eq(ref_out(t[i].h, t[i].k, t[i].p, t[i].s, t[i].d, t[i].ceil),
                     t[i].out);
    if (t[i].out < 1) {
      ck_assert_msg(st == CONV_ERROR_INVALID_ARGUMENT, "row %zu accepted", i);
    } else {
      ck_assert_msg(st == CONV_SUCCESS && ho == t[i].out && wo == 64,
                    "row %zu: %d %lldx%lld, expected %lldx64: %s", i, (int)st,
                    (long long)ho, (long long)wo, (long long)t[i].out,
                    conv_last_error(NULL));
    }
  }
  /* The seed: (32, 7, 128, 128), kernel 2, stride 2 -> (32, 7, 64, 64). */
  conv_pool_desc d;
  conv_pool_desc_init(&d);
  d.n = 32; d.c = 7; d.h = d.w = 128; d.kernel[0] = d.kernel[1] = 2;
  d.stride[0] = d.stride[1] = 2;
  int64_t ho, wo;
  ck_assert(conv_pool_output_size(&d, &ho, &wo) == CONV_SUCCESS);
  ck_assert(ho == 64 && wo == 64);
  d.stride[0] = d.stride[1] = 0; /* PyTorch's default stride = kernel */
  ck_assert(conv_pool_output_size(&d, &ho, &wo) == CONV_SUCCESS);
  ck_assert(ho == 64 && wo == 64);
  ck_assert(conv_pool_output_size(&d, NULL, &wo) == CONV_ERROR_INVALID_ARGUMENT);
}
END_TEST

/* The golden maxpool2d cases: y exactly (NaN where PyTorch has NaN), dx to
 * 1e-6 relative (PyTorch's float64 sum rounded once, ours summed in float). */
START_TEST(test_golden_pool) {
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
    if (strcmp(c.op, "maxpool2d") != 0) {
      golden_free(&c); /* avgpool2d, adaptive_avgpool2d: test_layers */
      continue;
    }
    conv_pool_desc d;
    conv_pool_desc_init(&d);
    d.n = c.desc.n; d.c = c.desc.c_in; d.h = c.desc.h; d.w = c.desc.w;
    d.kernel[0] = c.desc.kernel[0]; d.kernel[1] = c.desc.kernel[1];
    d.stride[0] = c.desc.stride[0]; d.stride[1] = c.desc.stride[1];
    if (c.pads[0] == c.pads[1] && c.pads[2] == c.pads[3]) {
      d.pad[0] = c.pads[0]; d.pad[1] = c.pads[2];
    } else { /* ONNX's four-sided pads */
      d.four_sided = 1;
      for (int k = 0; k < 4; k++) d.pad4[k] = c.pads[k];
    }
    d.dilation[0] = c.desc.dilation[0]; d.dilation[1] = c.desc.dilation[1];
    d.ceil_mode = c.ceil_mode;
    conv_pool_plan *plan = NULL;
    ck_assert_msg(conv_pool_plan_create(ctx, &d, &plan) == CONV_SUCCESS,
                  "%s: %s: %s", backend, c.name, conv_last_error(ctx));
    int64_t ho, wo;
    conv_pool_plan_output_size(plan, &ho, &wo);
    ck_assert_msg(ho == c.h_out && wo == c.w_out, "%s: %s: output %lldx%lld, "
                  "case %lldx%lld", backend, c.name, (long long)ho,
                  (long long)wo, (long long)c.h_out, (long long)c.w_out);
    float *y = poisoned(c.y.count), *dx = poisoned(c.dx.count);
    ck_assert_msg(conv_maxpool_forward(plan, c.x.data, y, NULL) == CONV_SUCCESS,
                  "%s: %s: %s", backend, c.name, conv_last_error(ctx));
    long e = first_diff(y, c.y.data, c.y.count);
    ck_assert_msg(e < 0, "%s: %s: y[%ld] = %g, PyTorch %g", backend, c.name, e,
                  e >= 0 ? y[e] : 0.0, e >= 0 ? c.y.data[e] : 0.0);
    ck_assert_msg(conv_maxpool_backward(plan, c.x.data, c.dy.data, dx) ==
                  CONV_SUCCESS, "%s: %s: %s", backend, c.name,
                  conv_last_error(ctx));
    double maxref = 1e-6, maxdiff = 0.0;
    for (size_t k = 0; k < c.dx.count; k++) {
      ck_assert_msg(!tu_is_poison(&dx[k], 1) && isnan(dx[k]) == isnan(c.dx.data[k]),
                    "%s: %s: dx[%zu] = %g, PyTorch %g", backend, c.name, k,
                    dx[k], c.dx.data[k]);
      if (isnan(dx[k])) continue;
      double r = fabs(c.dx.data[k]), df = fabs((double)dx[k] - c.dx.data[k]);
      if (r > maxref) maxref = r;
      if (df > maxdiff) maxdiff = df;
    }
    ck_assert_msg(maxdiff / maxref <= 1e-6, "%s: %s: dx relative error %g",
                  backend, c.name, maxdiff / maxref);
    conv_pool_plan_destroy(plan);
    free(y); free(dx);
    golden_free(&c);
    ran++;
  }
  golden_list_free(names, count);
  conv_context_destroy(ctx);
  printf("pool: backend %s: %d golden maxpool2d cases match PyTorch\n", backend,
         ran);
  fflush(stdout);
  ck_assert_msg(ran > 0, "no maxpool2d golden case in %s", golden_dir);
}
END_TEST

int main(void) {
  golden_dir = getenv("CONV_GOLDEN_DIR");
  n_backends = tu_require_backends("test_pool", backends, MAX_BACKENDS);
  if (n_backends == 0) return EXIT_FAILURE;
  Suite *s = suite_create("pool");
  TCase *tc = tcase_create("pool");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_output_size);
  tcase_add_loop_test(tc, test_random_pool, 0, n_backends);
  tcase_add_loop_test(tc, test_tensor_pool, 0, n_backends);
  tcase_add_loop_test(tc, test_errors_and_empty, 0, n_backends);
  if (golden_dir != NULL && *golden_dir)
    tcase_add_loop_test(tc, test_golden_pool, 0, n_backends);
  suite_add_tcase(s, tc);
  const int failed = tu_run_suite(s);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
