/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Self-test of the opencl backend, through its plugin table alone: dlopens
 * the built module, runs all four operations on seeded random problems with
 * every algorithm that can serve each, and compares with a float64 loop nest.
 *
 *   selftest [--plugin PATH] [--device N] [--cases N] [--seed S]
 *            [--time] [--no-check] [--big]
 *
 * Outputs are poisoned with NaN before each run; each op runs twice and the
 * two results must be bit-identical. Exit status 0 on success, 1 on a
 * mismatch or error, 77 (skip) when the plugin finds no OpenCL platform.
 */
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conv_plugin.h"

static const conv_plugin *T;
static void *dev;
static double worst_err[4];
static long n_runs, n_fail;

/* ------------------------------------------------------------- utilities */

static uint64_t rng_state;
static uint32_t rnd(void) {
  rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (uint32_t)(rng_state >> 33);
}
static int rint_in(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }
static float rfloat(void) { return (float)((rnd() & 0xffffff) / 8388608.0 - 1.0); }

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what, conv_err *e) {
  fprintf(stderr, "selftest: %s: %s (status %d)\n", what, e->msg, (int)e->status);
  exit(1);
}

/* A device buffer with a host copy. */
typedef struct buf {
  size_t count;
  float *host;
  void *mem;
} buf;

static void buf_make(buf *b, size_t count) {
  conv_err e = {0};
  b->count = count;
  b->host = malloc((count ? count : 1) * sizeof(float));
  if (b->host == NULL) { fprintf(stderr, "selftest: out of memory\n"); exit(1); }
  if (T->mem_alloc(dev, count * sizeof(float), &b->mem, &e) != CONV_SUCCESS)
    die("mem_alloc", &e);
}
static void buf_free(buf *b) {
  T->mem_free(dev, b->mem);
  free(b->host);
}
static void buf_random(buf *b) {
  conv_err e = {0};
  for (size_t i = 0; i < b->count; i++) b->host[i] = rfloat();
  if (T->mem_write(dev, b->mem, 0, b->count * sizeof(float), b->host, &e)) die("mem_write", &e);
}
static void buf_poison(buf *b) {
  conv_err e = {0};
  for (size_t i = 0; i < b->count; i++) b->host[i] = NAN;
  if (T->mem_write(dev, b->mem, 0, b->count * sizeof(float), b->host, &e)) die("mem_write", &e);
}
static void buf_get(buf *b) {
  conv_err e = {0};
  if (T->mem_read(dev, b->mem, 0, b->count * sizeof(float), b->host, &e)) die("mem_read", &e);
}

/* ------------------------------------------------------------- reference */

static int64_t src_of(int64_t i, int64_t size, conv_padding_mode m) {
  return conv_pad_source(i, size, m);
}

/* Weight index of tap (i, j) for (k, cl). */
static size_t widx(const conv_problem *p, int64_t k, int64_t cl, int64_t i, int64_t j) {
  int64_t cg = p->c_in / p->groups;
  int64_t ii = p->flip_kernel ? p->kh - 1 - i : i;
  int64_t jj = p->flip_kernel ? p->kw - 1 - j : j;
  return (size_t)(((k * cg + cl) * p->kh + ii) * p->kw + jj);
}

/* Calls f(n, k, c, cl, oh, ow, i, j, xindex) for every product term. */
#define FOR_TERMS(p, BODY)                                                        \
  do {                                                                            \
    int64_t cg_ = (p)->c_in / (p)->groups, kg_ = (p)->c_out / (p)->groups;        \
    for (int64_t n = 0; n < (p)->n; n++)                                          \
      for (int64_t k = 0; k < (p)->c_out; k++)                                    \
        for (int64_t cl = 0; cl < cg_; cl++) {                                    \
          int64_t c = (k / kg_) * cg_ + cl;                                       \
          for (int64_t oh = 0; oh < (p)->h_out; oh++)                             \
            for (int64_t i = 0; i < (p)->kh; i++) {                               \
              int64_t sh = src_of(oh * (p)->stride_h - (p)->pad_t + i * (p)->dil_h, \
                                  (p)->h, (p)->padding_mode);                     \
              if (sh < 0) continue;                                               \
              for (int64_t ow = 0; ow < (p)->w_out; ow++)                         \
                for (int64_t j = 0; j < (p)->kw; j++) {                           \
                  int64_t sw = src_of(ow * (p)->stride_w - (p)->pad_l + j * (p)->dil_w, \
                                      (p)->w, (p)->padding_mode);                 \
                  if (sw < 0) continue;                                           \
                  size_t xi = (size_t)(((n * (p)->c_in + c) * (p)->h + sh) * (p)->w + sw); \
                  size_t yi = (size_t)(((n * (p)->c_out + k) * (p)->h_out + oh) * (p)->w_out + ow); \
                  size_t wi = widx((p), k, cl, i, j);                             \
                  BODY;                                                           \
                }                                                                 \
            }                                                                     \
        }                                                                         \
  } while (0)

static void ref_all(const conv_problem *p, const float *x, const float *w, const float *b,
                    const float *dy, double *y, double *dx, double *dw, double *db) {
  size_t ny = (size_t)(p->n * p->c_out * p->h_out * p->w_out);
  size_t nx = (size_t)(p->n * p->c_in * p->h * p->w);
  size_t nw = (size_t)(p->c_out * (p->c_in / p->groups) * p->kh * p->kw);
  for (size_t q = 0; q < ny; q++)
    y[q] = p->has_bias ? b[(q / (size_t)(p->h_out * p->w_out)) % (size_t)p->c_out] : 0.0;
  memset(dx, 0, nx * sizeof *dx);
  memset(dw, 0, nw * sizeof *dw);
  memset(db, 0, (size_t)p->c_out * sizeof *db);
  FOR_TERMS(p, {
    y[yi] += (double)w[wi] * x[xi];
    dx[xi] += (double)w[wi] * dy[yi];
    dw[wi] += (double)dy[yi] * x[xi];
  });
  for (size_t q = 0; q < ny; q++) db[(q / (size_t)(p->h_out * p->w_out)) % (size_t)p->c_out] += dy[q];
}

/* max|got-ref| / max(max|ref|, 1e-6), or INFINITY for a NaN. */
static double rel_err(const float *got, const double *ref, size_t n) {
  double md = 0, mr = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(got[i])) return INFINITY;
    double d = fabs(got[i] - ref[i]);
    if (d > md) md = d;
    if (fabs(ref[i]) > mr) mr = fabs(ref[i]);
  }
  return md / (mr > 1e-6 ? mr : 1e-6);
}

static const char *mode_name(conv_padding_mode m) {
  static const char *n[] = {"zeros", "reflect", "replicate", "circular", "symmetric"};
  return (unsigned)m < 5 ? n[m] : "?";
}

static void describe(const conv_problem *p, char *s, size_t size) {
  snprintf(s, size,
           "n=%lld c=%lld %lldx%lld k=%lld ker=%lldx%lld s=%lldx%lld d=%lldx%lld "
           "pad=%lld,%lld,%lld,%lld g=%lld %s bias=%d flip=%d out=%lldx%lld",
           (long long)p->n, (long long)p->c_in, (long long)p->h, (long long)p->w,
           (long long)p->c_out, (long long)p->kh, (long long)p->kw, (long long)p->stride_h,
           (long long)p->stride_w, (long long)p->dil_h, (long long)p->dil_w,
           (long long)p->pad_t, (long long)p->pad_b, (long long)p->pad_l, (long long)p->pad_r,
           (long long)p->groups, mode_name(p->padding_mode), p->has_bias, p->flip_kernel,
           (long long)p->h_out, (long long)p->w_out);
}

/* ------------------------------------------------------------- one check */

/* Runs every op of problem p with algorithm spec algo (NULL: the plan's
 * choice) against the reference; returns 0 if all pass. */
static int check_problem(const conv_problem *p, const char *algo, int verbose) {
  conv_err e = {0};
  conv_plan_options opt = {algo, 0};
  void *plan = NULL;
  char desc[512];
  describe(p, desc, sizeof desc);
  conv_status st = T->plan_create(dev, p, &opt, &plan, &e);
  if (st == CONV_ERROR_UNSUPPORTED && algo != NULL) return 0; /* cannot serve */
  if (st != CONV_SUCCESS) {
    fprintf(stderr, "FAIL plan_create [%s] algo=%s: %s\n", desc, algo ? algo : "-", e.msg);
    n_fail++;
    return 1;
  }
  size_t nx = (size_t)(p->n * p->c_in * p->h * p->w);
  size_t ny = (size_t)(p->n * p->c_out * p->h_out * p->w_out);
  size_t nw = (size_t)(p->c_out * (p->c_in / p->groups) * p->kh * p->kw);
  buf x, w, b, dy, y, dx, dw, db, db2;
  buf_make(&x, nx); buf_make(&w, nw); buf_make(&b, (size_t)p->c_out);
  buf_make(&dy, ny); buf_make(&y, ny); buf_make(&dx, nx); buf_make(&dw, nw);
  buf_make(&db, (size_t)p->c_out); buf_make(&db2, (size_t)p->c_out);
  buf_random(&x); buf_random(&w); buf_random(&b); buf_random(&dy);
  double *ry = malloc(ny * sizeof(double)), *rdx = malloc(nx * sizeof(double));
  double *rdw = malloc(nw * sizeof(double)), *rdb = malloc((size_t)p->c_out * sizeof(double));
  ref_all(p, x.host, w.host, b.host, dy.host, ry, rdx, rdw, rdb);

  int bad = 0;
  buf *outs[4] = {&y, &dx, &dw, &db};
  const double *refs[4] = {ry, rdx, rdw, rdb};
  static const char *opn[4] = {"forward", "backward_data", "backward_weight", "backward_bias"};
  for (int op = 0; op < 4; op++) {
    float *first = NULL;
    for (int rep = 0; rep < 2; rep++) {
      buf_poison(outs[op]);
      if (op == 2) buf_poison(&db2);
      switch (op) {
        case 0: st = T->forward(plan, x.mem, w.mem, p->has_bias ? b.mem : NULL, y.mem, &e); break;
        case 1: st = T->backward_data(plan, dy.mem, w.mem, dx.mem, &e); break;
        case 2: st = T->backward_weight(plan, x.mem, dy.mem, dw.mem, p->has_bias ? db2.mem : NULL, &e); break;
        default: st = T->backward_bias(plan, dy.mem, db.mem, &e); break;
      }
      n_runs++;
      if (st != CONV_SUCCESS) {
        fprintf(stderr, "FAIL %s [%s] algo=%s: %s\n", opn[op], desc,
                T->plan_algorithm(plan, (conv_op)op), e.msg);
        bad = 1;
        break;
      }
      buf_get(outs[op]);
      double err = rel_err(outs[op]->host, refs[op], outs[op]->count);
      if (op == 2 && p->has_bias) {
        buf_get(&db2);
        double e2 = rel_err(db2.host, rdb, db2.count);
        if (e2 > err) err = e2;
      }
      if (err > worst_err[op]) worst_err[op] = err;
      if (!(err <= 1e-4)) {
        fprintf(stderr, "FAIL %s [%s] algo=%s: relative error %g\n", opn[op], desc,
                T->plan_algorithm(plan, (conv_op)op), err);
        bad = 1;
        break;
      }
      if (rep == 0) {
        first = malloc(outs[op]->count * sizeof(float) + 1);
        memcpy(first, outs[op]->host, outs[op]->count * sizeof(float));
      } else if (memcmp(first, outs[op]->host, outs[op]->count * sizeof(float)) != 0) {
        fprintf(stderr, "FAIL %s [%s] algo=%s: repeat run not bit-identical\n", opn[op],
                desc, T->plan_algorithm(plan, (conv_op)op));
        bad = 1;
      }
    }
    free(first);
  }
  if (verbose)
    printf("  %s [%s] fwd=%s bwd_data=%s bwd_weight=%s ws=%zu%s\n", bad ? "FAIL" : "ok", desc,
           T->plan_algorithm(plan, CONV_OP_FORWARD), T->plan_algorithm(plan, CONV_OP_BACKWARD_DATA),
           T->plan_algorithm(plan, CONV_OP_BACKWARD_WEIGHT), T->plan_workspace(plan),
           algo ? " (forced)" : "");
  free(ry); free(rdx); free(rdw); free(rdb);
  buf_free(&x); buf_free(&w); buf_free(&b); buf_free(&dy); buf_free(&y);
  buf_free(&dx); buf_free(&dw); buf_free(&db); buf_free(&db2);
  T->plan_destroy(plan);
  n_fail += bad;
  return bad;
}

/* Fills out the output size; returns 0 if the geometry is invalid. */
static int resolve(conv_problem *p) {
  int64_t eh = p->h + p->pad_t + p->pad_b - p->dil_h * (p->kh - 1);
  int64_t ew = p->w + p->pad_l + p->pad_r - p->dil_w * (p->kw - 1);
  if (eh < 1 || ew < 1) return 0;
  p->h_out = (eh - 1) / p->stride_h + 1;
  p->w_out = (ew - 1) / p->stride_w + 1;
  int64_t mh = p->pad_t > p->pad_b ? p->pad_t : p->pad_b;
  int64_t mw = p->pad_l > p->pad_r ? p->pad_l : p->pad_r;
  switch (p->padding_mode) {
    case CONV_PAD_REFLECT: return mh < p->h && mw < p->w;
    case CONV_PAD_CIRCULAR:
    case CONV_PAD_SYMMETRIC: return mh <= p->h && mw <= p->w;
    default: return 1;
  }
}

static void random_problem(conv_problem *p, int index) {
  static const int sizes[] = {1, 2, 3, 5, 7, 8, 11, 13, 16, 17};
  do {
    memset(p, 0, sizeof *p);
    int kind = index % 8; /* 0-3 general, 4 depthwise, 5 1x1, 6 grouped, 7 big-ish */
    p->groups = kind == 4 ? rint_in(1, 6) : kind == 6 ? rint_in(2, 4) : rint_in(1, 3);
    int64_t cg = kind == 4 ? 1 : rint_in(1, kind == 6 ? 3 : 6);
    int64_t kg = kind == 4 ? rint_in(1, 3) : rint_in(1, 5);
    p->c_in = p->groups * cg;
    p->c_out = p->groups * kg;
    p->n = rint_in(1, 3);
    p->h = sizes[rint_in(0, 9)];
    p->w = sizes[rint_in(0, 9)];
    if (kind == 7) { p->h = rint_in(20, 37); p->w = rint_in(20, 37); p->c_in = 8 * p->groups; }
    p->kh = rint_in(1, 5);
    p->kw = rint_in(1, 5);
    p->stride_h = rint_in(1, 3);
    p->stride_w = rint_in(1, 3);
    p->dil_h = rint_in(1, 3);
    p->dil_w = rint_in(1, 3);
    p->padding_mode = (conv_padding_mode)rint_in(0, 4);
    p->pad_t = rint_in(0, 3);
    p->pad_b = rint_in(0, 3);
    p->pad_l = rint_in(0, 3);
    p->pad_r = rint_in(0, 3);
    if (kind == 5) {
      p->kh = p->kw = 1;
      p->stride_h = p->stride_w = 1;
      p->pad_t = p->pad_b = p->pad_l = p->pad_r = 0;
    }
    p->has_bias = rint_in(0, 1);
    p->flip_kernel = rint_in(0, 3) == 0;
  } while (!resolve(p));
}

/* ------------------------------------------------------------- pooling */

static int64_t ref_pool_argmax(const conv_pool_problem *p, const float *xp, int64_t oh,
                               int64_t ow, float *value, int *empty) {
  int64_t h0 = oh * p->stride_h - p->pad_h, w0 = ow * p->stride_w - p->pad_w;
  int64_t h1 = h0 + (p->kh - 1) * p->dil_h + 1, w1 = w0 + (p->kw - 1) * p->dil_w + 1;
  if (h1 > p->h) h1 = p->h;
  if (w1 > p->w) w1 = p->w;
  while (h0 < 0) h0 += p->dil_h;
  while (w0 < 0) w0 += p->dil_w;
  int64_t best = h0 * p->w + w0;
  float m = -INFINITY;
  *empty = h0 >= h1 || w0 >= w1;
  for (int64_t ih = h0; ih < h1; ih += p->dil_h)
    for (int64_t iw = w0; iw < w1; iw += p->dil_w) {
      float v = xp[ih * p->w + iw];
      if (v > m || isnan(v)) { m = v; best = ih * p->w + iw; }
    }
  *value = m;
  return best;
}

static int same_float(float a, float b) { return (isnan(a) && isnan(b)) || a == b; }

/* Returns 0 if maxpool forward (values, indices) and backward match the
 * rules exactly. */
static int check_pool(const conv_pool_problem *p) {
  conv_err e = {0};
  conv_plan_options opt = {NULL, 0};
  void *plan;
  if (T->pool_plan_create == NULL) return 0;
  if (T->pool_plan_create(dev, p, &opt, &plan, &e) != CONV_SUCCESS) {
    fprintf(stderr, "FAIL pool_plan_create: %s\n", e.msg);
    n_fail++;
    return 1;
  }
  size_t nx = (size_t)(p->n * p->c * p->h * p->w), ny = (size_t)(p->n * p->c * p->h_out * p->w_out);
  buf x, y, dy, dx, idx;
  buf_make(&x, nx); buf_make(&y, ny); buf_make(&dy, ny); buf_make(&dx, nx);
  buf_make(&idx, 2 * ny); /* int64 per element */
  for (size_t i = 0; i < nx; i++) {
    int r = rint_in(0, 40);
    x.host[i] = r == 0 ? NAN : r == 1 ? -INFINITY : (float)rint_in(-4, 4) * 0.5f; /* ties */
  }
  conv_err we = {0};
  if (T->mem_write(dev, x.mem, 0, nx * sizeof(float), x.host, &we)) die("mem_write", &we);
  buf_random(&dy);
  int bad = 0;
  for (int rep = 0; rep < 2 && !bad; rep++) {
    buf_poison(&y); buf_poison(&dx); buf_poison(&idx);
    if (T->maxpool_forward(plan, x.mem, y.mem, idx.mem, &e) != CONV_SUCCESS ||
        T->maxpool_backward(plan, x.mem, dy.mem, dx.mem, &e) != CONV_SUCCESS) {
      fprintf(stderr, "FAIL maxpool: %s\n", e.msg);
      bad = 1;
      break;
    }
    n_runs += 2;
    buf_get(&y); buf_get(&dx); buf_get(&idx);
    const int64_t *gi = (const int64_t *)idx.host;
    float *rdx = calloc(nx, sizeof(float));
    for (int64_t pc = 0; pc < p->n * p->c; pc++)
      for (int64_t oh = 0; oh < p->h_out; oh++)
        for (int64_t ow = 0; ow < p->w_out; ow++) {
          float v;
          int empty;
          size_t q = (size_t)((pc * p->h_out + oh) * p->w_out + ow);
          int64_t k = ref_pool_argmax(p, x.host + pc * p->h * p->w, oh, ow, &v, &empty);
          if (!same_float(v, y.host[q]) || gi[q] != k) bad = 1;
          if (!empty) rdx[pc * p->h * p->w + k] += dy.host[q];
        }
    for (size_t i = 0; i < nx; i++)
      if (!same_float(rdx[i], dx.host[i])) bad = 1;
    free(rdx);
  }
  if (bad)
    fprintf(stderr, "FAIL maxpool n=%lld c=%lld %lldx%lld k=%lldx%lld s=%lldx%lld p=%lldx%lld "
            "d=%lldx%lld ceil=%d: not identical to the rules\n", (long long)p->n, (long long)p->c,
            (long long)p->h, (long long)p->w, (long long)p->kh, (long long)p->kw,
            (long long)p->stride_h, (long long)p->stride_w, (long long)p->pad_h,
            (long long)p->pad_w, (long long)p->dil_h, (long long)p->dil_w, p->ceil_mode);
  buf_free(&x); buf_free(&y); buf_free(&dy); buf_free(&dx); buf_free(&idx);
  T->pool_plan_destroy(plan);
  n_fail += bad;
  return bad;
}

static int64_t pool_out(int64_t size, int64_t k, int64_t s, int64_t pad, int64_t d, int ceil_mode) {
  int64_t span = size + 2 * pad - d * (k - 1) - 1;
  if (span < 0) return 0;
  int64_t o = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (o - 1) * s >= size + pad) o--;
  return o;
}

static void random_pool(conv_problem *unused, conv_pool_problem *p) {
  (void)unused;
  do {
    memset(p, 0, sizeof *p);
    p->n = rint_in(1, 3); p->c = rint_in(1, 5); p->h = rint_in(1, 19); p->w = rint_in(1, 19);
    p->kh = rint_in(1, 4); p->kw = rint_in(1, 4);
    p->stride_h = rint_in(1, 3); p->stride_w = rint_in(1, 3);
    p->pad_h = rint_in(0, (int)(p->kh / 2)); p->pad_w = rint_in(0, (int)(p->kw / 2));
    p->dil_h = rint_in(1, 3); p->dil_w = rint_in(1, 3);
    p->ceil_mode = rint_in(0, 1);
    p->h_out = pool_out(p->h, p->kh, p->stride_h, p->pad_h, p->dil_h, p->ceil_mode);
    p->w_out = pool_out(p->w, p->kw, p->stride_w, p->pad_w, p->dil_w, p->ceil_mode);
  } while (p->h_out < 1 || p->w_out < 1);
}

/* ------------------------------------------------------------- timing */

static void time_layer(int64_t n, int64_t c, int64_t hw, int64_t k, int64_t ker, int64_t stride,
                       int64_t pad, int64_t groups, const char *algo) {
  conv_problem p;
  memset(&p, 0, sizeof p);
  p.n = n; p.c_in = c; p.h = p.w = hw; p.c_out = k; p.kh = p.kw = ker;
  p.stride_h = p.stride_w = stride; p.dil_h = p.dil_w = 1;
  p.pad_t = p.pad_b = p.pad_l = p.pad_r = pad; p.groups = groups; p.has_bias = 1;
  resolve(&p);
  conv_err e = {0};
  conv_plan_options opt = {algo, 0};
  void *plan;
  if (T->plan_create(dev, &p, &opt, &plan, &e) != CONV_SUCCESS) {
    printf("  layer n=%lld c=%lld %lldx%lld k=%lld %lldx%lld: %s\n", (long long)n, (long long)c,
           (long long)hw, (long long)hw, (long long)k, (long long)ker, (long long)ker, e.msg);
    return;
  }
  size_t nx = (size_t)(n * c * hw * hw), ny = (size_t)(n * k * p.h_out * p.w_out);
  size_t nw = (size_t)(k * (c / groups) * ker * ker);
  buf x, w, b, y, dx, dw, db;
  buf_make(&x, nx); buf_make(&w, nw); buf_make(&b, (size_t)k); buf_make(&y, ny);
  buf_make(&dx, nx); buf_make(&dw, nw); buf_make(&db, (size_t)k);
  buf_random(&x); buf_random(&w); buf_random(&b); buf_random(&y);
  double flops = 2.0 * n * k * p.h_out * p.w_out * (c / groups) * ker * ker;
  double best[4];
  for (int op = 0; op < 4; op++) {
    best[op] = 1e30;
    for (int rep = 0; rep < 4; rep++) {
      double t0 = now();
      conv_status st;
      switch (op) {
        case 0: st = T->forward(plan, x.mem, w.mem, b.mem, y.mem, &e); break;
        case 1: st = T->backward_data(plan, y.mem, w.mem, dx.mem, &e); break;
        case 2: st = T->backward_weight(plan, x.mem, y.mem, dw.mem, NULL, &e); break;
        default: st = T->backward_bias(plan, y.mem, db.mem, &e); break;
      }
      double t = now() - t0;
      if (st != CONV_SUCCESS) die("timing run", &e);
      if (rep > 0 && t < best[op]) best[op] = t; /* rep 0 warms up (CLBlast compiles) */
    }
  }
  printf("  n=%lld c=%lld %lldx%lld k=%lld %lldx%lld s%lld p%lld g=%lld [%s/%s/%s]: "
         "fwd %.2f ms (%.1f GFLOP/s), bwd_data %.2f ms, bwd_weight %.2f ms, bias %.3f ms\n",
         (long long)n, (long long)c, (long long)hw, (long long)hw, (long long)k, (long long)ker,
         (long long)ker, (long long)stride, (long long)pad, (long long)groups,
         T->plan_algorithm(plan, CONV_OP_FORWARD), T->plan_algorithm(plan, CONV_OP_BACKWARD_DATA),
         T->plan_algorithm(plan, CONV_OP_BACKWARD_WEIGHT), best[0] * 1e3, flops / best[0] * 1e-9,
         best[1] * 1e3, best[2] * 1e3, best[3] * 1e3);
  fflush(stdout);
  buf_free(&x); buf_free(&w); buf_free(&b); buf_free(&y); buf_free(&dx); buf_free(&dw);
  buf_free(&db);
  T->plan_destroy(plan);
}

/* ------------------------------------------------------------- main */

int main(int argc, char **argv) {
  const char *path = getenv("CONV_OPENCL_PLUGIN");
  int device = 0, cases = 200, timing = 0, check = 1, big = 1, verbose = 0;
  unsigned long long seed = 12345;
  if (path == NULL) path = ".libs/conv_opencl.so";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--plugin") && i + 1 < argc) path = argv[++i];
    else if (!strcmp(argv[i], "--device") && i + 1 < argc) device = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--cases") && i + 1 < argc) cases = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--time")) timing = 1;
    else if (!strcmp(argv[i], "--no-check")) check = 0;
    else if (!strcmp(argv[i], "--no-big")) big = 0;
    else if (!strcmp(argv[i], "-v")) verbose = 1;
    else { fprintf(stderr, "usage: %s [--plugin PATH] [--device N] [--cases N] [--seed S] [--time] [--no-check] [--no-big] [-v]\n", argv[0]); return 2; }
  }
  void *so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (so == NULL) { fprintf(stderr, "selftest: dlopen: %s\n", dlerror()); return 1; }
  conv_plugin_entry_fn entry = (conv_plugin_entry_fn)(uintptr_t)dlsym(so, CONV_PLUGIN_ENTRY);
  if (entry == NULL) { fprintf(stderr, "selftest: no %s in %s\n", CONV_PLUGIN_ENTRY, path); return 1; }
  T = entry();
  if (T->abi_major != CONV_PLUGIN_ABI_MAJOR) { fprintf(stderr, "selftest: ABI mismatch\n"); return 1; }
  conv_err e = {0};
  void *backend;
  if (T->init(&backend, &e) != CONV_SUCCESS) {
    printf("selftest: skipped: init: %s\n", e.msg);
    return 77;
  }
  int ndev = T->device_count(backend);
  for (int d = 0; d < ndev; d++) {
    conv_device_info info;
    if (T->device_info(backend, d, &info, &e) == CONV_SUCCESS)
      printf("device %d: %s (is_gpu=%d)\n%s", d, info.name, info.is_gpu, d == device ? info.details : "");
  }
  if (T->device_open(backend, device, &dev, &e) != CONV_SUCCESS) die("device_open", &e);
  double t0 = now();

  if (check) {
    rng_state = seed;
    static const char *algos[] = {NULL, "direct", "im2col_gemm", "gemm_1x1"};
    for (int c = 0; c < cases; c++) {
      conv_problem p;
      random_problem(&p, c);
      for (int a = 0; a < 4; a++) check_problem(&p, algos[a], verbose);
    }
    /* A few fixed edge cases: every mode at the widest border it allows. */
    for (int m = 0; m < 5; m++) {
      conv_problem p = {0};
      p.n = 2; p.c_in = 3; p.h = 5; p.w = 4; p.c_out = 2; p.kh = 3; p.kw = 2;
      p.stride_h = p.stride_w = 1; p.dil_h = 1; p.dil_w = 2; p.groups = 1;
      p.padding_mode = (conv_padding_mode)m;
      p.pad_t = p.pad_b = m == CONV_PAD_REFLECT ? 4 : 5;
      p.pad_l = p.pad_r = m == CONV_PAD_REFLECT ? 3 : 4;
      p.has_bias = 1; p.flip_kernel = m & 1;
      if (resolve(&p))
        for (int a = 0; a < 3; a++) check_problem(&p, algos[a], verbose);
    }
    /* The weight gradient's split-K path (on a small device the plan
     * rarely picks it): the same kind of problems with slices forced. */
    setenv("CONV_OPENCL_WGRAD_SLICES", "5", 1);
    for (int c = 0; c < cases / 4; c++) {
      conv_problem p;
      random_problem(&p, c);
      check_problem(&p, "bwd_weight=im2col_gemm", verbose);
      if (p.kh == 1 && p.kw == 1) check_problem(&p, "bwd_weight=gemm_1x1", verbose);
    }
    unsetenv("CONV_OPENCL_WGRAD_SLICES");
    long pool_fail = n_fail;
    for (int c = 0; c < cases; c++) {
      conv_pool_problem pp;
      random_pool(NULL, &pp);
      check_pool(&pp);
    }
    if (T->pool_plan_create != NULL)
      printf("maxpool: %d random cases, %ld failures (values, indices and dx compared "
             "bit for bit)\n", cases, n_fail - pool_fail);
    printf("random + edge cases: %ld runs, %ld failures, worst relative error: fwd %.2g, "
           "bwd_data %.2g, bwd_weight %.2g, bias %.2g (%.1f s)\n",
           n_runs, n_fail, worst_err[0], worst_err[1], worst_err[2], worst_err[3], now() - t0);
    fflush(stdout);
  }
  if (check && big) {
    /* Batch chunking: cap the workspace so the batch runs in 3 chunks. */
    conv_problem p = {0};
    p.n = 7; p.c_in = 16; p.h = 37; p.w = 41; p.c_out = 12; p.kh = p.kw = 3;
    p.stride_h = p.stride_w = 1; p.dil_h = p.dil_w = 1; p.groups = 1;
    p.pad_t = p.pad_b = p.pad_l = p.pad_r = 1; p.padding_mode = CONV_PAD_REFLECT;
    p.has_bias = 1;
    resolve(&p);
    size_t per_image = (size_t)(p.c_in * p.kh * p.kw * p.h_out * p.w_out) * 4;
    char cap[32];
    snprintf(cap, sizeof cap, "%zu", per_image * 3);
    setenv("CONV_OPENCL_MAX_CHUNK_BYTES", cap, 1);
    check_problem(&p, "im2col_gemm", 1);
    snprintf(cap, sizeof cap, "%zu", per_image / 2);
    setenv("CONV_OPENCL_MAX_CHUNK_BYTES", cap, 1);
    check_problem(&p, NULL, 1); /* one image does not fit: direct */
    unsetenv("CONV_OPENCL_MAX_CHUNK_BYTES");
    /* GEMMs large enough for CLBlast's indirect (padded, tiled) kernels. */
    conv_problem q = {0};
    q.n = 2; q.c_in = 128; q.h = 31; q.w = 33; q.c_out = 96; q.kh = q.kw = 3;
    q.stride_h = q.stride_w = 1; q.dil_h = q.dil_w = 1; q.groups = 1;
    q.pad_t = q.pad_b = q.pad_l = q.pad_r = 1; q.has_bias = 1;
    resolve(&q);
    check_problem(&q, NULL, 1);
    q.kh = q.kw = 1; q.pad_t = q.pad_b = q.pad_l = q.pad_r = 0; q.c_in = 512;
    resolve(&q);
    check_problem(&q, NULL, 1);
    printf("chunking cases done: %ld failures so far\n", n_fail);
  }
  if (timing) {
    printf("timings (best of 3 after a warm-up, ms per call incl. clFinish):\n");
    time_layer(8, 64, 56, 64, 3, 1, 1, 1, NULL);
    time_layer(8, 128, 28, 128, 3, 1, 1, 1, NULL);
    time_layer(8, 256, 14, 256, 3, 1, 1, 1, NULL);
    time_layer(8, 256, 56, 64, 1, 1, 0, 1, NULL);
    time_layer(8, 64, 56, 128, 3, 2, 1, 1, NULL);
    time_layer(8, 128, 56, 128, 3, 1, 1, 128, NULL);
    time_layer(8, 3, 224, 64, 7, 2, 3, 1, NULL);
  }
  T->device_close(dev);
  T->fini(backend);
  printf("selftest: %s (%.1f s)\n", n_fail ? "FAILED" : "passed", now() - t0);
  return n_fail ? 1 : 0;
}
