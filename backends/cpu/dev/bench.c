/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dev harness for the fast cpu kernels (not built by make):
 *   bench check [seed-count]      random problems, every fast algorithm and op,
 *                                 against a float64 loop nest
 *   bench suite-check             the speed suite layers (batch cut to 1)
 *   bench time LAYER OP [ALGO] [reps] [threads]
 *                                 best time in ms of one op (fwd, bwd_data,
 *                                 bwd_weight) of a suite layer
 * Build: see Makefile.dev.
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu_internal.h"
#include "kernels.h"

static const cpu_algo *const ALGOS[] = {
#ifdef HAVE_DW
    &cpu_algo_direct_dw,
#endif
#ifdef HAVE_VEC
    &cpu_algo_direct_vec,
#endif
#ifdef HAVE_WINO
    &cpu_algo_winograd_f4x4,
#endif
#ifdef HAVE_GEMM
    &cpu_algo_gemm_1x1,
#endif
    NULL};

typedef struct layer {
  const char *name;
  int n, ci, h, co, k, s, p, d, g;
  const char *mode;
} layer;

static const layer SUITE[] = {
    {"seed001_5x5", 32, 3, 128, 7, 5, 1, 2, 1, 1, "zeros"},
    {"seed003_3x3", 20, 2, 50, 28, 3, 1, 0, 1, 1, "zeros"},
    {"r50_conv1_7x7", 4, 3, 224, 64, 7, 2, 3, 1, 1, "zeros"},
    {"r50_3x3_56", 8, 64, 56, 64, 3, 1, 1, 1, 1, "zeros"},
    {"r50_1x1_56", 8, 64, 56, 256, 1, 1, 0, 1, 1, "zeros"},
    {"r50_3x3s2_56", 8, 128, 56, 128, 3, 2, 1, 1, 1, "zeros"},
    {"r50_3x3_14", 8, 256, 14, 256, 3, 1, 1, 1, 1, "zeros"},
    {"r50_3x3_7", 8, 512, 7, 512, 3, 1, 1, 1, 1, "zeros"},
    {"vgg_3x3_112", 2, 128, 112, 128, 3, 1, 1, 1, 1, "zeros"},
    {"mbv2_dw_56", 8, 144, 56, 144, 3, 1, 1, 1, 144, "zeros"},
    {"mbv2_dws2_56", 8, 144, 56, 144, 3, 2, 1, 1, 144, "zeros"},
    {"resnext_g32_28", 8, 128, 28, 128, 3, 1, 1, 1, 32, "zeros"},
    {"deeplab_d2_28", 4, 256, 28, 256, 3, 1, 2, 2, 1, "zeros"},
    {"style_reflect", 4, 64, 64, 64, 3, 1, 1, 1, 1, "reflect"},
};
#define NSUITE ((int)(sizeof SUITE / sizeof SUITE[0]))

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static conv_padding_mode parse_mode(const char *m) {
  if (!strcmp(m, "reflect")) return CONV_PAD_REFLECT;
  if (!strcmp(m, "replicate")) return CONV_PAD_REPLICATE;
  if (!strcmp(m, "circular")) return CONV_PAD_CIRCULAR;
  if (!strcmp(m, "symmetric")) return CONV_PAD_SYMMETRIC;
  return CONV_PAD_ZEROS;
}

static void finish(conv_problem *p) {
  p->h_out = (p->h + p->pad_t + p->pad_b - p->dil_h * (p->kh - 1) - 1) / p->stride_h + 1;
  p->w_out = (p->w + p->pad_l + p->pad_r - p->dil_w * (p->kw - 1) - 1) / p->stride_w + 1;
}

static conv_problem from_layer(const layer *l) {
  conv_problem p;
  memset(&p, 0, sizeof p);
  p.n = l->n; p.c_in = l->ci; p.h = p.w = l->h; p.c_out = l->co;
  p.kh = p.kw = l->k; p.stride_h = p.stride_w = l->s;
  p.dil_h = p.dil_w = l->d;
  p.pad_t = p.pad_b = p.pad_l = p.pad_r = l->p;
  p.groups = l->g; p.padding_mode = parse_mode(l->mode); p.has_bias = 1;
  finish(&p);
  return p;
}

/* ------------------------------------------------------------ reference */

static int64_t src_idx(int64_t i, int64_t size, conv_padding_mode m) {
  return conv_pad_source(i, size, m);
}

static void ref_all(const conv_problem *p, const float *x, const float *w,
                    const float *b, const float *dy, double *y, double *dx,
                    double *dw, double *db) {
  int64_t cig = p->c_in / p->groups, cog = p->c_out / p->groups;
  size_t ny = p->n * p->c_out * p->h_out * p->w_out;
  memset(dx, 0, sizeof(double) * p->n * p->c_in * p->h * p->w);
  memset(dw, 0, sizeof(double) * p->c_out * cig * p->kh * p->kw);
  for (int64_t co = 0; co < p->c_out; co++) db[co] = 0;
  for (size_t i = 0; i < ny; i++) y[i] = 0;
#pragma omp parallel for
  for (int64_t co = 0; co < p->c_out; co++) {
    int64_t g = co / cog;
    for (int64_t n = 0; n < p->n; n++)
      for (int64_t oh = 0; oh < p->h_out; oh++)
        for (int64_t ow = 0; ow < p->w_out; ow++) {
          size_t yi = ((n * p->c_out + co) * p->h_out + oh) * p->w_out + ow;
          double acc = b ? b[co] : 0;
          double d = dy[yi];
          db[co] += d;
          for (int64_t ci = 0; ci < cig; ci++)
            for (int64_t i = 0; i < p->kh; i++) {
              int64_t sr = src_idx(oh * p->stride_h + i * p->dil_h - p->pad_t, p->h, p->padding_mode);
              if (sr < 0) continue;
              for (int64_t j = 0; j < p->kw; j++) {
                int64_t sc = src_idx(ow * p->stride_w + j * p->dil_w - p->pad_l, p->w, p->padding_mode);
                if (sc < 0) continue;
                int64_t a = p->flip_kernel ? p->kh - 1 - i : i;
                int64_t c = p->flip_kernel ? p->kw - 1 - j : j;
                size_t wi = ((co * cig + ci) * p->kh + a) * p->kw + c;
                size_t xi = ((n * p->c_in + g * cig + ci) * p->h + sr) * p->w + sc;
                acc += (double)w[wi] * x[xi];
                dw[wi] += d * x[xi];
              }
            }
          y[yi] = acc;
        }
  }
  /* dx: serial over input channels' groups to avoid races */
#pragma omp parallel for
  for (int64_t cin = 0; cin < p->c_in; cin++) {
    int64_t g = cin / cig, ci = cin % cig;
    for (int64_t co = g * cog; co < (g + 1) * cog; co++)
      for (int64_t n = 0; n < p->n; n++)
        for (int64_t oh = 0; oh < p->h_out; oh++)
          for (int64_t ow = 0; ow < p->w_out; ow++) {
            double d = dy[((n * p->c_out + co) * p->h_out + oh) * p->w_out + ow];
            for (int64_t i = 0; i < p->kh; i++) {
              int64_t sr = src_idx(oh * p->stride_h + i * p->dil_h - p->pad_t, p->h, p->padding_mode);
              if (sr < 0) continue;
              for (int64_t j = 0; j < p->kw; j++) {
                int64_t sc = src_idx(ow * p->stride_w + j * p->dil_w - p->pad_l, p->w, p->padding_mode);
                if (sc < 0) continue;
                int64_t a = p->flip_kernel ? p->kh - 1 - i : i;
                int64_t c = p->flip_kernel ? p->kw - 1 - j : j;
                size_t wi = ((co * cig + ci) * p->kh + a) * p->kw + c;
                dx[((n * p->c_in + cin) * p->h + sr) * p->w + sc] += d * w[wi];
              }
            }
          }
  }
}

static unsigned long long rng = 88172645463325252ULL;
static float frand(void) {
  rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
  return (float)((rng >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
}
static int irand(int lo, int hi) { frand(); return lo + (int)((rng >> 20) % (unsigned)(hi - lo + 1)); }

static float *falloc(size_t n) {
  float *f = aligned_alloc(64, ((n * 4 + 63) / 64) * 64 + 64);
  return f;
}

static double relerr(const float *got, const double *ref, size_t n) {
  double mx = 0, mr = 0;
  for (size_t i = 0; i < n; i++) {
    double e = fabs((double)got[i] - ref[i]);
    if (!(e <= mx)) mx = e; /* NaN propagates */
    if (fabs(ref[i]) > mr) mr = fabs(ref[i]);
  }
  return mx / (mr > 1e-6 ? mr : 1e-6);
}

static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}
static double g_cpu_best;

static int run_algo(const cpu_algo *a, const conv_problem *p, conv_op op,
                    int threads, cpu_tensors *t, double *secs, int reps) {
  char why[256] = "";
  if (!a->applies(p, op, why, sizeof why)) return -1;
  size_t ws = a->workspace_bytes ? a->workspace_bytes(p, op, threads) : 0;
  void *wsp = ws ? aligned_alloc(64, cpu_align_up(ws)) : NULL;
  void *state = NULL;
  conv_err err;
  memset(&err, 0, sizeof err);
  if (a->prepare && a->prepare(p, op, threads, &state, &err) != CONV_SUCCESS) {
    fprintf(stderr, "prepare failed: %s\n", err.msg);
    return -2;
  }
  cpu_run r = {p, op, threads, wsp, ws, state, cpu_get_features()};
  double best = 1e30;
  g_cpu_best = 1e30;
  for (int i = 0; i < reps; i++) {
    double t0 = now(), c0 = cpu_now();
    conv_status st = a->run(&r, t, &err);
    double dt = now() - t0, dc = cpu_now() - c0;
    if (dc < g_cpu_best) g_cpu_best = dc;
    if (st != CONV_SUCCESS) { fprintf(stderr, "run failed: %s\n", err.msg); return -2; }
    if (dt < best) best = dt;
  }
  if (secs) *secs = best;
  if (a->release) a->release(state);
  free(wsp);
  return 0;
}

static const char *OPN[] = {"fwd", "bwd_data", "bwd_weight"};

static int check_problem(const conv_problem *p, int threads, int verbose, double *worst) {
  int64_t cig = p->c_in / p->groups;
  size_t nx = p->n * p->c_in * p->h * p->w, nw = p->c_out * cig * p->kh * p->kw;
  size_t ny = p->n * p->c_out * p->h_out * p->w_out;
  float *x = falloc(nx), *w = falloc(nw), *b = falloc(p->c_out), *dy = falloc(ny);
  float *y = falloc(ny), *dx = falloc(nx), *dw = falloc(nw), *db = falloc(p->c_out);
  double *ry = malloc(8 * ny), *rdx = malloc(8 * nx), *rdw = malloc(8 * nw), *rdb = malloc(8 * p->c_out);
  for (size_t i = 0; i < nx; i++) x[i] = frand();
  for (size_t i = 0; i < nw; i++) w[i] = frand();
  for (int64_t i = 0; i < p->c_out; i++) b[i] = frand();
  for (size_t i = 0; i < ny; i++) dy[i] = frand();
  ref_all(p, x, w, p->has_bias ? b : NULL, dy, ry, rdx, rdw, rdb);
  int fails = 0;
  for (int ai = 0; ALGOS[ai]; ai++) {
    for (int op = 0; op < 3; op++) {
      cpu_tensors t;
      memset(&t, 0, sizeof t);
      float *out; size_t no; double *ref;
      if (op == 0) { t.x = x; t.w = w; t.b = p->has_bias ? b : NULL; t.y = y; out = y; no = ny; ref = ry; }
      else if (op == 1) { t.dy = dy; t.w = w; t.dx = dx; out = dx; no = nx; ref = rdx; }
      else { t.x = x; t.dy = dy; t.dw = dw; t.db = db; out = dw; no = nw; ref = rdw; }
      for (size_t i = 0; i < no; i++) out[i] = NAN;
      for (int64_t i = 0; i < p->c_out; i++) db[i] = NAN;
      int rc = run_algo(ALGOS[ai], p, (conv_op)op, threads, &t, NULL, 1);
      if (rc == -1) continue;
      double e = rc ? INFINITY : relerr(out, ref, no);
      if (op == 2 && rc == 0) { double e2 = relerr(db, rdb, p->c_out); if (!(e2 <= e)) e = e2; }
      /* determinism: run again, same bits */
      if (rc == 0) {
        float *copy = falloc(no);
        memcpy(copy, out, no * 4);
        run_algo(ALGOS[ai], p, (conv_op)op, threads == 1 ? 2 : 1, &t, NULL, 1);
        if (memcmp(copy, out, no * 4)) { fprintf(stderr, "NONDETERMINISTIC\n"); e = INFINITY; }
        free(copy);
      }
      int idx = ai * 3 + op;
      if (!(e <= worst[idx])) worst[idx] = e;
      if (!(e <= 1e-4) || verbose)
        printf("%s %-13s %-10s n%lld ci%lld h%lldx%lld co%lld k%lldx%lld s%lld,%lld d%lld,%lld p%lld,%lld,%lld,%lld g%lld m%d f%d: err %.3g\n",
               e <= 1e-4 ? "ok  " : "FAIL", ALGOS[ai]->name, OPN[op], (long long)p->n,
               (long long)p->c_in, (long long)p->h, (long long)p->w, (long long)p->c_out,
               (long long)p->kh, (long long)p->kw, (long long)p->stride_h, (long long)p->stride_w,
               (long long)p->dil_h, (long long)p->dil_w, (long long)p->pad_t, (long long)p->pad_b,
               (long long)p->pad_l, (long long)p->pad_r, (long long)p->groups, p->padding_mode,
               p->flip_kernel, e);
      if (!(e <= 1e-4)) fails++;
    }
  }
  free(x); free(w); free(b); free(dy); free(y); free(dx); free(dw); free(db);
  free(ry); free(rdx); free(rdw); free(rdb);
  return fails;
}

static void random_problem(conv_problem *p) {
  for (;;) {
    memset(p, 0, sizeof *p);
    int kind = irand(0, 3);
    p->groups = 1;
    p->n = irand(1, 3);
    if (kind == 0) { /* depthwise */
      p->c_in = p->c_out = p->groups = irand(1, 6);
    } else if (kind == 1) { /* grouped small */
      p->groups = irand(1, 4);
      p->c_in = p->groups * irand(1, 5);
      p->c_out = p->groups * irand(1, 9);
    } else if (kind == 2) { /* 3x3 s1 dense */
      p->c_in = irand(1, 40); p->c_out = irand(1, 40);
    } else {
      p->c_in = irand(1, 12); p->c_out = irand(1, 20);
    }
    p->kh = irand(1, 5); p->kw = irand(1, 5);
    if (kind == 2 || irand(0, 2) == 0) p->kh = p->kw = 3;
    if (kind == 3 && irand(0, 1)) p->kh = p->kw = 1;
    p->stride_h = irand(1, 3); p->stride_w = irand(1, 3);
    p->dil_h = irand(1, 2); p->dil_w = irand(1, 2);
    if (kind == 2 || irand(0, 1)) { p->stride_h = p->stride_w = 1; p->dil_h = p->dil_w = 1; }
    p->h = irand(1, 40); p->w = irand(1, 70);
    p->padding_mode = (conv_padding_mode)irand(0, 4);
    if (irand(0, 1)) p->padding_mode = CONV_PAD_ZEROS;
    int64_t mp = p->padding_mode == CONV_PAD_REFLECT ? 1 : 0;
    int64_t lim = p->padding_mode == CONV_PAD_ZEROS ? 4 : 3;
    int64_t maxh = p->h - mp, maxw = p->w - mp;
    if (p->padding_mode == CONV_PAD_ZEROS || p->padding_mode == CONV_PAD_REPLICATE) maxh = maxw = lim;
    if (maxh > lim) maxh = lim;
    if (maxw > lim) maxw = lim;
    if (maxh < 0 || maxw < 0) continue;
    p->pad_t = irand(0, maxh); p->pad_b = irand(0, maxh);
    p->pad_l = irand(0, maxw); p->pad_r = irand(0, maxw);
    if (p->kh == 1 && p->kw == 1 && irand(0, 1)) { p->pad_t = p->pad_b = p->pad_l = p->pad_r = 0; p->stride_h = p->stride_w = 1; }
    p->has_bias = irand(0, 1);
    p->flip_kernel = irand(0, 3) == 0;
    int64_t eh = p->dil_h * (p->kh - 1) + 1, ew = p->dil_w * (p->kw - 1) + 1;
    if (p->h + p->pad_t + p->pad_b < eh || p->w + p->pad_l + p->pad_r < ew) continue;
    finish(p);
    return;
  }
}

int main(int argc, char **argv) {
  const char *cmd = argc > 1 ? argv[1] : "check";
  int nalg = 0;
  while (ALGOS[nalg]) nalg++;
  if (!strcmp(cmd, "check")) {
    int count = argc > 2 ? atoi(argv[2]) : 300;
    double worst[64];
    for (int i = 0; i < 64; i++) worst[i] = 0;
    int fails = 0;
    for (int i = 0; i < count; i++) {
      conv_problem p;
      random_problem(&p);
      fails += check_problem(&p, 1 + (i & 1), 0, worst);
    }
    for (int a = 0; a < nalg; a++)
      for (int op = 0; op < 3; op++)
        printf("%-14s %-10s worst err %.3g\n", ALGOS[a]->name, OPN[op], worst[a * 3 + op]);
    printf("%d failures\n", fails);
    return fails != 0;
  }
  if (!strcmp(cmd, "suite-check")) {
    double worst[64];
    for (int i = 0; i < 64; i++) worst[i] = 0;
    int fails = 0;
    for (int l = 0; l < NSUITE; l++) {
      if (argc > 2 && !strstr(SUITE[l].name, argv[2])) continue;
      conv_problem p = from_layer(&SUITE[l]);
      p.n = 1;
      printf("-- %s\n", SUITE[l].name);
      fails += check_problem(&p, 2, 1, worst);
    }
    printf("%d failures\n", fails);
    return fails != 0;
  }
  if (!strcmp(cmd, "time") && argc >= 4) {
    const layer *l = NULL;
    for (int i = 0; i < NSUITE; i++) if (!strcmp(SUITE[i].name, argv[2])) l = &SUITE[i];
    if (!l) { fprintf(stderr, "no layer %s\n", argv[2]); return 2; }
    int op = -1;
    for (int i = 0; i < 3; i++) if (!strcmp(OPN[i], argv[3])) op = i;
    const char *an = argc > 4 ? argv[4] : "";
    int reps = argc > 5 ? atoi(argv[5]) : 10;
    int threads = argc > 6 ? atoi(argv[6]) : 2;
    conv_problem p = from_layer(l);
    if (getenv("BENCH_N")) p.n = atoi(getenv("BENCH_N"));
    int64_t cig = p.c_in / p.groups;
    size_t nx = p.n * p.c_in * p.h * p.w, nw = p.c_out * cig * p.kh * p.kw;
    size_t ny = p.n * p.c_out * p.h_out * p.w_out;
    float *x = falloc(nx), *w = falloc(nw), *b = falloc(p.c_out), *dy = falloc(ny);
    float *y = falloc(ny), *dx = falloc(nx), *dw = falloc(nw), *db = falloc(p.c_out);
    for (size_t i = 0; i < nx; i++) x[i] = frand();
    for (size_t i = 0; i < nw; i++) w[i] = frand();
    for (int64_t i = 0; i < p.c_out; i++) b[i] = frand();
    for (size_t i = 0; i < ny; i++) dy[i] = frand();
    cpu_tensors t;
    memset(&t, 0, sizeof t);
    if (op == 0) { t.x = x; t.w = w; t.b = b; t.y = y; }
    else if (op == 1) { t.dy = dy; t.w = w; t.dx = dx; }
    else { t.x = x; t.dy = dy; t.dw = dw; t.db = db; }
    double flops = 2.0 * p.n * p.c_out * p.h_out * p.w_out * cig * p.kh * p.kw;
    int any = 0;
    for (int a = 0; a < nalg; a++) {
      if (*an && strcmp(an, ALGOS[a]->name)) continue;
      double s;
      if (run_algo(ALGOS[a], &p, (conv_op)op, threads, &t, &s, reps) == 0) {
        size_t ws = ALGOS[a]->workspace_bytes ? ALGOS[a]->workspace_bytes(&p, (conv_op)op, threads) : 0;
        printf("%-16s %-10s %-14s %9.3f ms %7.1f GFLOP/s ws %zu cpu/thread %.3f ms\n", l->name, OPN[op], ALGOS[a]->name,
               s * 1e3, flops / s * 1e-9, ws, g_cpu_best * 1e3 / threads);
        any = 1;
      }
    }
    if (!any) printf("%-16s %-10s none\n", l->name, OPN[op]);
    return 0;
  }
  fprintf(stderr, "usage: bench check [n] | suite-check [layer] | time LAYER OP [ALGO] [reps] [threads]\n");
  return 2;
}
