/* SPDX-License-Identifier: Apache-2.0 */
/* Self-test of the cpu backend: every algorithm of every op, forced through
 * CONV_ALGO-style options, against a float64 loop nest on seeded random
 * problems (strides, dilations, groups, depthwise, asymmetric pads, every
 * padding mode, flip, bias), with outputs poisoned with NaN before each
 * run; then bit-identical results across two runs and across thread counts.
 *
 * usage: cpu_selftest [cases [seed [max_size [fixed]]]]   (default 300 1 13 1)
 * fixed = 0 skips the larger fixed shapes (for valgrind). 
 * Exit 0: all pass; 1: a failure (printed). */
#ifdef HAVE_CONFIG_H
#  include "config.h"
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_env.h"
#include "cpu_internal.h"
#include "cpu_isa.h"
#include "kernels.h"

#define TOL 1e-4

static uint64_t rng_state;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}
static int64_t irand(int64_t lo, int64_t hi) { /* [lo, hi] */
  return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}
static float frand(void) { return (float)((double)(rnd() >> 11) / 9007199254740992.0 * 2.0 - 1.0); }

static const conv_plugin *plug;
static void *backend, *device;
static int failures, checks;

/* ---------------------------------------------------------------- oracle */

static int64_t src_of(int64_t out, int64_t tap, int64_t stride, int64_t pad,
                      int64_t dil, int64_t size, conv_padding_mode mode) {
  return conv_pad_source(out * stride - pad + dil * tap, size, mode);
}

static void oracle(const conv_problem *p, const float *x, const float *w,
                   const float *b, const float *dy, double *y, double *dx,
                   double *dw, double *db) {
  const int64_t cin_g = p->c_in / p->groups, cout_g = p->c_out / p->groups;
  size_t ny = (size_t)(p->n * p->c_out * p->h_out * p->w_out);
  size_t nx = (size_t)(p->n * p->c_in * p->h * p->w);
  size_t nw = (size_t)(p->c_out * cin_g * p->kh * p->kw);
  for (size_t i = 0; i < ny; i++) y[i] = 0;
  for (size_t i = 0; i < nx; i++) dx[i] = 0;
  for (size_t i = 0; i < nw; i++) dw[i] = 0;
  for (int64_t i = 0; i < p->c_out; i++) db[i] = 0;
  for (int64_t n = 0; n < p->n; n++)
    for (int64_t co = 0; co < p->c_out; co++) {
      int64_t g = co / cout_g;
      for (int64_t oh = 0; oh < p->h_out; oh++)
        for (int64_t ow = 0; ow < p->w_out; ow++) {
          size_t yi = (size_t)(((n * p->c_out + co) * p->h_out + oh) * p->w_out + ow);
          double acc = b != NULL ? b[co] : 0.0;
          double g_out = dy[yi];
          db[co] += g_out;
          for (int64_t c = 0; c < cin_g; c++)
            for (int64_t i = 0; i < p->kh; i++)
              for (int64_t j = 0; j < p->kw; j++) {
                /* tap (i, j) uses w[.., i, j], or the rotated one if flip */
                int64_t wi = p->flip_kernel ? p->kh - 1 - i : i;
                int64_t wj = p->flip_kernel ? p->kw - 1 - j : j;
                int64_t r = src_of(oh, i, p->stride_h, p->pad_t, p->dil_h, p->h, p->padding_mode);
                int64_t s = src_of(ow, j, p->stride_w, p->pad_l, p->dil_w, p->w, p->padding_mode);
                if (r < 0 || s < 0) continue;
                size_t xi = (size_t)(((n * p->c_in + g * cin_g + c) * p->h + r) * p->w + s);
                size_t wk = (size_t)(((co * cin_g + c) * p->kh + wi) * p->kw + wj);
                acc += (double)w[wk] * x[xi];
                dx[xi] += (double)w[wk] * g_out;
                dw[wk] += (double)x[xi] * g_out;
              }
          y[yi] = acc;
        }
    }
}

/* ----------------------------------------------------------- comparison */

static double rel_err(const float *got, const double *ref, size_t count,
                      int *nan_seen) {
  double maxref = 0, maxdiff = 0;
  *nan_seen = 0;
  for (size_t i = 0; i < count; i++) {
    if (fabs(ref[i]) > maxref) maxref = fabs(ref[i]);
    if (!isfinite(got[i])) *nan_seen = 1;
    double d = fabs((double)got[i] - ref[i]);
    if (d > maxdiff) maxdiff = d;
  }
  return maxdiff / (maxref > 1e-6 ? maxref : 1e-6);
}

static void describe(const conv_problem *p, char *s, size_t cap) {
  static const char *modes[] = {"zeros", "reflect", "replicate", "circular", "symmetric"};
  snprintf(s, cap,
           "n=%lld cin=%lld cout=%lld g=%lld x=%lldx%lld k=%lldx%lld s=%lld,%lld "
           "d=%lld,%lld pad=%lld,%lld,%lld,%lld %s flip=%d bias=%d out=%lldx%lld",
           (long long)p->n, (long long)p->c_in, (long long)p->c_out,
           (long long)p->groups, (long long)p->h, (long long)p->w,
           (long long)p->kh, (long long)p->kw, (long long)p->stride_h,
           (long long)p->stride_w, (long long)p->dil_h, (long long)p->dil_w,
           (long long)p->pad_t, (long long)p->pad_b, (long long)p->pad_l,
           (long long)p->pad_r, modes[p->padding_mode], p->flip_kernel,
           p->has_bias, (long long)p->h_out, (long long)p->w_out);
}

static double worst[CPU_NUM_OPS];
/* Worst relative error per op and algorithm (by table index). */
#define MAX_ALGOS 32
static double worst_algo[CPU_NUM_OPS][MAX_ALGOS];
static int runs_algo[CPU_NUM_OPS][MAX_ALGOS];

/* Runs op of p with algorithm name (forced) and thread count; outputs into
 * out (and out2 = db for bwd_weight), poisoned first. */
static conv_status run_one(const conv_problem *p, conv_op op, const char *name,
                           int threads, const float *x, const float *w,
                           const float *b, const float *dy, float *out,
                           size_t out_count, float *out2, conv_err *err) {
  char algo[128];
  snprintf(algo, sizeof algo, "%s=%s", cpu_op_name(op), name);
  conv_plan_options opt = {algo, threads};
  void *plan = NULL;
  conv_status st = plug->plan_create(device, p, &opt, &plan, err);
  if (st != CONV_SUCCESS) return st;
  if (strcmp(plug->plan_algorithm(plan, op), name) != 0) {
    printf("FAIL plan_algorithm(%s) = %s, forced %s\n", cpu_op_name(op),
           plug->plan_algorithm(plan, op), name);
    failures++;
  }
  for (size_t i = 0; i < out_count; i++) out[i] = NAN;
  if (out2 != NULL)
    for (int64_t i = 0; i < p->c_out; i++) out2[i] = NAN;
  switch (op) {
    case CONV_OP_FORWARD: st = plug->forward(plan, x, w, b, out, err); break;
    case CONV_OP_BACKWARD_DATA: st = plug->backward_data(plan, dy, w, out, err); break;
    case CONV_OP_BACKWARD_WEIGHT: st = plug->backward_weight(plan, x, dy, out, out2, err); break;
    case CONV_OP_BACKWARD_BIAS: st = plug->backward_bias(plan, dy, out, err); break;
  }
  plug->plan_destroy(plan);
  return st;
}

static void check_problem(const conv_problem *p, int check_threads) {
  const int64_t cin_g = p->c_in / p->groups;
  size_t nx = (size_t)(p->n * p->c_in * p->h * p->w);
  size_t ny = (size_t)(p->n * p->c_out * p->h_out * p->w_out);
  size_t nw = (size_t)(p->c_out * cin_g * p->kh * p->kw);
  size_t nb = (size_t)p->c_out;
  float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc(nb * 4),
        *dy = malloc(ny * 4);
  double *ry = malloc(ny * 8), *rdx = malloc(nx * 8), *rdw = malloc(nw * 8),
         *rdb = malloc(nb * 8);
  size_t big = nx > ny ? nx : ny;
  if (nw > big) big = nw;
  float *o1 = malloc(big * 4), *o2 = malloc(big * 4), *d1 = malloc(nb * 4),
        *d2 = malloc(nb * 4);
  for (size_t i = 0; i < nx; i++) x[i] = frand();
  for (size_t i = 0; i < nw; i++) w[i] = frand();
  for (size_t i = 0; i < nb; i++) b[i] = frand();
  for (size_t i = 0; i < ny; i++) dy[i] = frand();
  const float *bp = p->has_bias ? b : NULL;
  oracle(p, x, w, bp, dy, ry, rdx, rdw, rdb);

  char desc[512];
  describe(p, desc, sizeof desc);
  /* The bias gradient has one summation order: every weight-gradient
   * algorithm's db must be backward_bias's, bit for bit. */
  float *dbref = malloc(nb * 4);
  {
    conv_err err = {0};
    if (run_one(p, CONV_OP_BACKWARD_BIAS, "reduce", 2, x, w, bp, dy, dbref, nb,
                NULL, &err) != CONV_SUCCESS) {
      printf("FAIL bwd_bias reduce: %s\n  %s\n", err.msg, desc);
      failures++;
    }
  }
  for (int op = 0; op < CPU_NUM_OPS; op++) {
    const double *ref = op == 0 ? ry : op == 1 ? rdx : op == 2 ? rdw : rdb;
    size_t count = op == 0 ? ny : op == 1 ? nx : op == 2 ? nw : nb;
    for (const cpu_algo *const *a = cpu_algos_for((conv_op)op); *a != NULL; a++) {
      if (!(*a)->applies(p, (conv_op)op, NULL, 0)) continue;
      conv_err err = {0};
      float *db1 = op == CONV_OP_BACKWARD_WEIGHT ? d1 : NULL;
      conv_status st = run_one(p, (conv_op)op, (*a)->name, 2, x, w, bp, dy, o1,
                               count, db1, &err);
      checks++;
      if (st != CONV_SUCCESS) {
        printf("FAIL %s %s: status %d: %s\n  %s\n", cpu_op_name((conv_op)op),
               (*a)->name, (int)st, err.msg, desc);
        failures++;
        continue;
      }
      int nan_seen, nan2 = 0;
      double e = rel_err(o1, ref, count, &nan_seen);
      if (db1 != NULL) {
        double e2 = rel_err(d1, rdb, nb, &nan2);
        if (e2 > e) e = e2;
      }
      if (e > worst[op]) worst[op] = e;
      {
        int ai = (int)(a - cpu_algos_for((conv_op)op));
        if (ai < MAX_ALGOS) {
          if (e > worst_algo[op][ai]) worst_algo[op][ai] = e;
          runs_algo[op][ai]++;
        }
      }
      if (e > TOL || nan_seen || nan2) {
        printf("FAIL %s %s: rel err %.3g%s\n  %s\n", cpu_op_name((conv_op)op),
               (*a)->name, e, nan_seen || nan2 ? " (non-finite output)" : "", desc);
        failures++;
        continue;
      }
      if (db1 != NULL && memcmp(d1, dbref, nb * 4) != 0) {
        printf("FAIL bwd_weight %s: db is not bit-identical to bwd_bias's\n  %s\n",
               (*a)->name, desc);
        failures++;
        continue;
      }
      /* Same bits again, and with other thread counts. */
      int thread_counts[3] = {2, 1, 3};
      for (int ti = 0; ti < (check_threads ? 3 : 1); ti++) {
        float *db2 = db1 != NULL ? d2 : NULL;
        st = run_one(p, (conv_op)op, (*a)->name, thread_counts[ti], x, w, bp, dy,
                     o2, count, db2, &err);
        if (st != CONV_SUCCESS || memcmp(o1, o2, count * 4) != 0 ||
            (db2 != NULL && memcmp(d1, d2, nb * 4) != 0)) {
          printf("FAIL %s %s: not bit-identical with %d threads (status %d)\n  %s\n",
                 cpu_op_name((conv_op)op), (*a)->name, thread_counts[ti], (int)st,
                 desc);
          failures++;
          break;
        }
      }
    }
  }
  free(x); free(w); free(b); free(dy); free(ry); free(rdx); free(rdw);
  free(rdb); free(o1); free(o2); free(d1); free(d2); free(dbref);
}

/* ------------------------------------------------------------- problems */

static int finish(conv_problem *p) {
  int64_t eh = p->h + p->pad_t + p->pad_b - p->dil_h * (p->kh - 1);
  int64_t ew = p->w + p->pad_l + p->pad_r - p->dil_w * (p->kw - 1);
  if (eh < 1 || ew < 1) return 0;
  p->h_out = (eh - 1) / p->stride_h + 1;
  p->w_out = (ew - 1) / p->stride_w + 1;
  return 1;
}

static int64_t pad_limit(conv_padding_mode mode, int64_t size, int64_t want) {
  if (mode == CONV_PAD_REFLECT) return want < size ? want : size - 1;
  if (mode == CONV_PAD_CIRCULAR || mode == CONV_PAD_SYMMETRIC)
    return want <= size ? want : size;
  return want;
}

static void random_problem(conv_problem *p, int64_t max_size, int large) {
  do {
    memset(p, 0, sizeof *p);
    p->n = irand(1, 3);
    int kind = (int)irand(0, 5);
    if (kind == 0) { /* depthwise */
      p->groups = irand(1, 6);
      p->c_in = p->groups;
      p->c_out = p->groups * irand(1, 3);
    } else {
      p->groups = kind == 1 ? irand(2, 3) : 1;
      p->c_in = p->groups * irand(1, large ? 40 : 5);
      p->c_out = p->groups * irand(1, large ? 40 : 5);
    }
    p->h = irand(1, max_size);
    p->w = irand(1, max_size);
    p->kh = irand(1, 5);
    p->kw = irand(1, 5);
    if (irand(0, 4) == 0) p->kh = p->kw = 1;
    p->stride_h = irand(0, 2) ? 1 : irand(2, 3);
    p->stride_w = irand(0, 2) ? 1 : irand(2, 3);
    p->dil_h = irand(0, 2) ? 1 : irand(2, 3);
    p->dil_w = irand(0, 2) ? 1 : irand(2, 3);
    p->padding_mode = (conv_padding_mode)irand(0, 4);
    int64_t pmax = irand(0, 3);
    p->pad_t = pad_limit(p->padding_mode, p->h, irand(0, pmax));
    p->pad_b = pad_limit(p->padding_mode, p->h, irand(0, pmax));
    p->pad_l = pad_limit(p->padding_mode, p->w, irand(0, pmax));
    p->pad_r = pad_limit(p->padding_mode, p->w, irand(0, pmax));
    p->has_bias = (int)irand(0, 1);
    p->flip_kernel = irand(0, 3) == 0;
  } while (!finish(p));
}

static conv_problem make(int64_t n, int64_t cin, int64_t cout, int64_t g,
                         int64_t h, int64_t w, int64_t k, int64_t s,
                         int64_t pad, conv_padding_mode mode) {
  conv_problem p;
  memset(&p, 0, sizeof p);
  p.n = n; p.c_in = cin; p.c_out = cout; p.groups = g; p.h = h; p.w = w;
  p.kh = p.kw = k; p.stride_h = p.stride_w = s; p.dil_h = p.dil_w = 1;
  p.pad_t = p.pad_b = p.pad_l = p.pad_r = pad; p.padding_mode = mode;
  p.has_bias = 1;
  finish(&p);
  return p;
}

/* ------------------------------------------------------------ API checks */

static void check_api(void) {
  conv_device_info info;
  conv_err err = {0};
  if (plug->device_count(backend) != 1 ||
      plug->device_info(backend, 0, &info, &err) != CONV_SUCCESS) {
    printf("FAIL device_info: %s\n", err.msg);
    failures++;
  } else {
    printf("device: %s\n%s", info.name, info.details);
  }
  if (plug->device_info(backend, 1, &info, &err) != CONV_ERROR_DEVICE_NOT_FOUND) {
    printf("FAIL device_info(1) should fail\n");
    failures++;
  }
  /* CONV_ALGO parsing. */
  conv_problem p = make(1, 4, 4, 1, 8, 8, 3, 1, 1, CONV_PAD_ZEROS);
  struct { const char *algo; conv_status want; } cases[] = {
      {NULL, CONV_SUCCESS},
      {"", CONV_SUCCESS},
      {"auto", CONV_SUCCESS},
      {"direct", CONV_SUCCESS},
      {"im2col_gemm", CONV_SUCCESS},
      {"reference", CONV_SUCCESS},
      {"fwd=direct,bwd_data=im2col_gemm, bwd_weight = reference", CONV_SUCCESS},
      {"fwd=auto", CONV_SUCCESS},
      {"nosuch", CONV_ERROR_INVALID_ARGUMENT},
      {"fwd=nosuch", CONV_ERROR_INVALID_ARGUMENT},
      {"fwd=reduce", CONV_ERROR_INVALID_ARGUMENT},
      {"up=direct", CONV_ERROR_INVALID_ARGUMENT},
      {"fwd=direct,oops", CONV_ERROR_INVALID_ARGUMENT},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    conv_plan_options opt = {cases[i].algo, 0};
    void *plan = NULL;
    err.msg[0] = '\0';
    conv_status st = plug->plan_create(device, &p, &opt, &plan, &err);
    if (st != cases[i].want) {
      printf("FAIL CONV_ALGO='%s': status %d, want %d (%s)\n",
             cases[i].algo ? cases[i].algo : "(null)", (int)st,
             (int)cases[i].want, err.msg);
      failures++;
    } else if (st != CONV_SUCCESS) {
      printf("ok CONV_ALGO='%s': %s\n", cases[i].algo, err.msg);
    } else {
      printf("ok CONV_ALGO='%s': fwd=%s bwd_data=%s bwd_weight=%s bwd_bias=%s ws=%zu\n",
             cases[i].algo ? cases[i].algo : "(null)",
             plug->plan_algorithm(plan, CONV_OP_FORWARD),
             plug->plan_algorithm(plan, CONV_OP_BACKWARD_DATA),
             plug->plan_algorithm(plan, CONV_OP_BACKWARD_WEIGHT),
             plug->plan_algorithm(plan, CONV_OP_BACKWARD_BIAS),
             plug->plan_workspace(plan));
    }
    if (plan != NULL) plug->plan_destroy(plan);
  }
  /* Memory entries. */
  void *mem = NULL;
  float src[5] = {1, 2, 3, 4, 5}, dst[5] = {0};
  if (plug->mem_alloc(device, sizeof src, &mem, &err) != CONV_SUCCESS ||
      plug->mem_write(device, mem, 0, sizeof src, src, &err) != CONV_SUCCESS ||
      plug->mem_read(device, mem, 4, 8, dst, &err) != CONV_SUCCESS ||
      dst[0] != 2 || dst[1] != 3) {
    printf("FAIL mem entries\n");
    failures++;
  }
  plug->mem_free(device, mem);
}

/* ------------------------------------------------------------ ISA table */

/* The ceiling's parser, the table init chose, and that the choice changes
 * what runs: the clones differ per level and gemm_1x1 (written for 16-lane
 * vectors) is the default 1x1 forward only at the AVX-512 level. */
static void check_isa(void) {
  static const struct {
    const char *value;
    int hw, want; /* want -1: rejected */
  } cases[] = {
      {NULL, 2, 2},          {"", 1, 1},          {"avx512", 2, 2},
      {"AVX2", 2, 1},        {"generic", 2, 0},   {"Generic", 0, 0},
      {"avx2", 1, 1},        {"avx512", 1, -1},   {"avx2", 0, -1},
      {"avx512", 0, -1},     {"avx", 2, -1},      {"sse", 2, -1},
      {"avx512 ", 2, -1},    {"x86-64-v3", 2, -1}, {"0", 2, -1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    conv_err err = {0};
    int level = -7;
    conv_status st = cpu_isa_resolve(cases[i].value, cases[i].hw, &level, &err);
    int got = st == CONV_SUCCESS ? level : -1;
    const char *v = cases[i].value != NULL ? cases[i].value : "(null)";
    if (got != cases[i].want ||
        (st != CONV_SUCCESS &&
         (st != CONV_ERROR_INVALID_ARGUMENT ||
          strstr(err.msg, "CONV_CPU_ISA=") == NULL ||
          strstr(err.msg, v) == NULL))) {
      printf("FAIL cpu_isa_resolve('%s', hw %d): status %d level %d (%s)\n",
             v, cases[i].hw, (int)st, level, err.msg);
      failures++;
    } else if (st != CONV_SUCCESS) {
      printf("ok CONV_CPU_ISA='%s' on %s: %s\n", v,
             cpu_isa_name(cases[i].hw), err.msg);
    }
  }
  /* The table in use is the one $CONV_CPU_ISA asks for (else the
   * processor's level), and its entries are that level's clones. */
  char env[32];
  conv_err err = {0};
  int hw = cpu_isa_hw_level(cpu_get_features()), want = hw;
  if (conv_env_string("CONV_CPU_ISA", env, sizeof env, &err) != CONV_SUCCESS ||
      cpu_isa_resolve(env, hw, &want, &err) != CONV_SUCCESS) {
    printf("FAIL CONV_CPU_ISA: %s\n", err.msg);
    failures++;
    return;
  }
  printf("isa: table %s (processor %s, CONV_CPU_ISA='%s')\n", lc_kern->name,
         cpu_isa_name(hw), env);
  const lc_kernels *t[LC_ISA_LEVELS];
  for (int l = 0; l < LC_ISA_LEVELS; l++) t[l] = lc_kernels_for(l);
  if (lc_kern != t[want] || lc_kern->level != want ||
      strcmp(lc_kern->name, cpu_isa_name(want)) != 0) {
    printf("FAIL isa: the table in use is %s, want %s\n", lc_kern->name,
           cpu_isa_name(want));
    failures++;
  }
#if CPU_X86
  if (t[0]->dw_fwd_plane != lc_dw_fwd_plane_generic ||
      t[1]->dw_fwd_plane != lc_dw_fwd_plane_avx2 ||
      t[2]->dw_fwd_plane != lc_dw_fwd_plane_avx512 ||
      t[0]->direct_fwd_plane == t[1]->direct_fwd_plane ||
      t[1]->direct_fwd_plane == t[2]->direct_fwd_plane ||
      t[0]->sgemm == t[2]->sgemm) {
    printf("FAIL isa: the tables do not hold their own level's clones\n");
    failures++;
  }
#endif
  /* A plan sees the level: gemm_1x1 is the default 1x1 forward at AVX-512
   * only (its score reads the table's level). */
  conv_problem p = make(1, 32, 32, 1, 8, 8, 1, 1, 0, CONV_PAD_ZEROS);
  void *plan = NULL;
  if (plug->plan_create(device, &p, NULL, &plan, &err) != CONV_SUCCESS) {
    printf("FAIL isa: plan: %s\n", err.msg);
    failures++;
    return;
  }
  const char *fwd = plug->plan_algorithm(plan, CONV_OP_FORWARD);
  int g1 = strcmp(fwd, "gemm_1x1") == 0;
  printf("isa: 1x1 forward at %s: %s\n", lc_kern->name, fwd);
  if (g1 != (want == LC_ISA_AVX512)) {
    printf("FAIL isa: 1x1 forward at %s chose %s\n", lc_kern->name, fwd);
    failures++;
  }
  plug->plan_destroy(plan);
}

/* The GEMM kernels against a float64 loop: lc_sgemm (every transpose
 * pair, alpha and beta, leading dimensions past the width, m not a
 * multiple of the register tile, k past one copied block, partial panels),
 * the packed panel GEMM (lc_gemm_pack_a, lc_gemm_panel), and every
 * level's wgrad_step (first and accumulating steps, the product's padding
 * columns untouched past cout). NaN-poisoned outputs. */
static void check_gemm_kernels(void) {
  for (int it = 0; it < 24; it++) {
    const int ta = it & 1, tb = (it >> 1) & 1;
    const int64_t m = irand(1, 70), n = irand(1, 75), k = irand(1, 600);
    const int64_t lda = (ta ? m : k) + irand(0, 3), ldb = (tb ? k : n) + irand(0, 3);
    const int64_t ldc = n + irand(0, 3);
    const float alpha = it % 3 ? 1.0f : 0.5f, beta = it % 4 < 2 ? 0.0f : 1.0f;
    float *a = malloc(sizeof(float) * (size_t)(lda * (ta ? k : m)));
    float *b = malloc(sizeof(float) * (size_t)(ldb * (tb ? n : k)));
    float *c = malloc(sizeof(float) * (size_t)(ldc * m));
    double *ref = malloc(sizeof(double) * (size_t)(m * n));
    float *got = malloc(sizeof(float) * (size_t)(m * n));
    for (int64_t i = 0; i < lda * (ta ? k : m); i++) a[i] = frand();
    for (int64_t i = 0; i < ldb * (tb ? n : k); i++) b[i] = frand();
    for (int64_t i = 0; i < ldc * m; i++) c[i] = beta != 0.0f ? frand() : NAN;
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        double acc = 0;
        for (int64_t kk = 0; kk < k; kk++)
          acc += (double)(ta ? a[kk * lda + i] : a[i * lda + kk]) *
                 (double)(tb ? b[j * ldb + kk] : b[kk * ldb + j]);
        ref[i * n + j] = alpha * acc + (beta != 0.0f ? beta * (double)c[i * ldc + j] : 0.0);
      }
    lc_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) got[i * n + j] = c[i * ldc + j];
    int nan_seen;
    double e = rel_err(got, ref, (size_t)(m * n), &nan_seen);
    checks++;
    if (nan_seen || e > 1e-5) {
      printf("FAIL lc_sgemm ta=%d tb=%d m=%lld n=%lld k=%lld: rel err %.3g%s\n", ta,
             tb, (long long)m, (long long)n, (long long)k, e, nan_seen ? " (NaN)" : "");
      failures++;
    }
    free(a), free(b), free(c), free(ref), free(got);
  }
  /* lc_gemm_pack_a + lc_gemm_panel: A read transposed or not, m across
   * the 12 / 8 / 4-row blocks, k past the copied-panel threshold, B rows
   * strided (ldb > 32) or packed, partial panels, with and without bias. */
  for (int it = 0; it < 16; it++) {
    const int64_t m = irand(1, 80), k = irand(1, 420), ncols = it < 12 ? 32 : irand(1, 31);
    const int trans = it & 1;
    const int64_t ldb = it % 4 == 2 ? 32 : 32 + irand(0, 70);
    const int64_t ldc = ncols + irand(0, 9);
    float *a = malloc(sizeof(float) * (size_t)(m * k));
    float *ap = malloc(sizeof(float) * lc_gemm_packed_a_floats(m, k));
    float *tmp = malloc(sizeof(float) * (size_t)((m + k) * 32));
    float *b = malloc(sizeof(float) * (size_t)(k * ldb));
    float *bias = malloc(sizeof(float) * (size_t)m);
    float *c = malloc(sizeof(float) * (size_t)(m * ldc));
    double *ref = malloc(sizeof(double) * (size_t)(m * ncols));
    float *got = malloc(sizeof(float) * (size_t)(m * ncols));
    const int with_bias = it % 3 != 0;
    for (int64_t i = 0; i < m * k; i++) a[i] = frand();
    for (int64_t i = 0; i < k * ldb; i++) b[i] = frand();
    for (int64_t i = 0; i < m; i++) bias[i] = frand();
    for (int64_t i = 0; i < m * ldc; i++) c[i] = NAN;
    /* trans: element (i, kk) at a[kk * m + i] (W^T read in place). */
    lc_gemm_pack_a(a, trans ? 1 : k, trans ? m : 1, m, k, ap);
    lc_gemm_panel(ap, m, k, b, ldb, c, ldc, ncols, with_bias ? bias : NULL, tmp);
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < ncols; j++) {
        double acc = with_bias ? bias[i] : 0.0;
        for (int64_t kk = 0; kk < k; kk++)
          acc += (double)(trans ? a[kk * m + i] : a[i * k + kk]) * (double)b[kk * ldb + j];
        ref[i * ncols + j] = acc;
        got[i * ncols + j] = c[i * ldc + j];
      }
    int nan_seen;
    double e = rel_err(got, ref, (size_t)(m * ncols), &nan_seen);
    checks++;
    if (nan_seen || e > 1e-5) {
      printf("FAIL lc_gemm_panel m=%lld k=%lld ncols=%lld ldb=%lld: rel err %.3g%s\n",
             (long long)m, (long long)k, (long long)ncols, (long long)ldb, e,
             nan_seen ? " (NaN)" : "");
      failures++;
    }
    free(a), free(ap), free(tmp), free(b), free(bias), free(c), free(ref), free(got);
  }
  for (int l = 0; l < LC_ISA_LEVELS; l++) {
    const lc_kernels *t = lc_kernels_for(l);
    if (l > lc_kern->level) break; /* the processor may not run it */
    for (int it = 0; it < 6; it++) {
      const int64_t rows = irand(1, 40), cout = irand(1, 70), kn = irand(1, 300);
      const int64_t lda = kn + irand(0, 5), ldd = kn + irand(0, 5);
      const int64_t ldct = lc_wgrad_ldct(cout);
      float *a = malloc(sizeof(float) * (size_t)(rows * lda));
      float *d = malloc(sizeof(float) * (size_t)(cout * ldd));
      float *ct = malloc(sizeof(float) * (size_t)(rows * ldct));
      float *pack = malloc(sizeof(float) * lc_wgrad_pack_floats(cout, kn));
      double *ref = malloc(sizeof(double) * (size_t)(rows * cout));
      float *got = malloc(sizeof(float) * (size_t)(rows * cout));
      for (int64_t i = 0; i < rows * lda; i++) a[i] = frand();
      for (int64_t i = 0; i < cout * ldd; i++) d[i] = frand();
      for (int64_t i = 0; i < rows * ldct; i++) ct[i] = NAN;
      /* Two steps: the second adds the same product again. */
      t->wgrad_step(a, lda, rows, d, ldd, cout, kn, 0, ct, ldct, pack);
      t->wgrad_step(a, lda, rows, d, ldd, cout, kn, 1, ct, ldct, pack);
      for (int64_t r = 0; r < rows; r++)
        for (int64_t co = 0; co < cout; co++) {
          double acc = 0;
          for (int64_t kk = 0; kk < kn; kk++)
            acc += (double)a[r * lda + kk] * (double)d[co * ldd + kk];
          ref[r * cout + co] = 2.0 * acc;
          got[r * cout + co] = ct[r * ldct + co];
        }
      int nan_seen;
      double e = rel_err(got, ref, (size_t)(rows * cout), &nan_seen);
      checks++;
      if (nan_seen || e > 1e-5) {
        printf("FAIL wgrad_step (%s) rows=%lld cout=%lld kn=%lld: rel err %.3g%s\n",
               t->name, (long long)rows, (long long)cout, (long long)kn, e,
               nan_seen ? " (NaN)" : "");
        failures++;
      }
      free(a), free(d), free(ct), free(pack), free(ref), free(got);
    }
  }
}

int main(int argc, char **argv) {
  int cases = argc > 1 ? atoi(argv[1]) : 300;
  rng_state = argc > 2 ? strtoull(argv[2], NULL, 0) : 1;
  if (rng_state == 0) rng_state = 1;
  int64_t max_size = argc > 3 ? atoll(argv[3]) : 13;
  conv_err err = {0};
  plug = conv_plugin_entry();
  if (plug->abi_major != CONV_PLUGIN_ABI_MAJOR || strcmp(plug->name, "cpu") != 0 ||
      plug->init(&backend, &err) != CONV_SUCCESS ||
      plug->device_open(backend, 0, &device, &err) != CONV_SUCCESS) {
    printf("FAIL init: %s\n", err.msg);
    return 1;
  }
  check_api();
  check_isa();
  check_gemm_kernels();

  /* Shapes that reach the tiling paths (several tiles, channel and output
   * chunks, pointwise), then random ones. */
  conv_problem fixed[] = {
      make(2, 64, 48, 1, 23, 29, 3, 1, 1, CONV_PAD_ZEROS),
      make(1, 70, 33, 1, 31, 17, 3, 2, 2, CONV_PAD_REFLECT),
      make(2, 40, 80, 1, 19, 19, 1, 1, 0, CONV_PAD_ZEROS),
      make(1, 8, 8, 8, 37, 41, 3, 1, 1, CONV_PAD_CIRCULAR),
      make(3, 12, 24, 12, 16, 16, 5, 2, 2, CONV_PAD_SYMMETRIC),
      make(1, 3, 40, 1, 45, 45, 7, 2, 3, CONV_PAD_REPLICATE),
      make(2, 96, 16, 2, 12, 12, 3, 1, 1, CONV_PAD_ZEROS),
      make(16, 32, 4, 1, 36, 36, 3, 1, 1, CONV_PAD_REFLECT),
      make(1, 16, 200, 1, 9, 9, 3, 1, 1, CONV_PAD_ZEROS),
      make(1, 2, 2, 1, 3, 30001, 3, 1, 1, CONV_PAD_SYMMETRIC),
      make(1, 2, 4, 2, 3, 5000, 3, 2, 1, CONV_PAD_ZEROS),
      make(1, 1900, 3, 1, 12, 12, 3, 1, 1, CONV_PAD_REPLICATE), /* k chunks */
      /* im2col_gemm's packed backward data (AVX-512 level: >= 16 chunks
       * of input channels): groups, a reflected border, stride 2, a panel
       * of 10 columns after a full one; then two tiles of positions. */
      make(3, 64, 48, 16, 13, 11, 3, 2, 1, CONV_PAD_REFLECT),
      make(2, 448, 8, 1, 36, 36, 3, 1, 1, CONV_PAD_ZEROS),
      /* Small images batched side by side (forward and packed backward
       * data): 3 images of 14x14 in groups of 2, the last one short. */
      make(3, 448, 4, 1, 14, 14, 3, 1, 1, CONV_PAD_REPLICATE),
      /* Winograd's GEMM copies V panels of 193..512 rows (c_in forward,
       * c_out backward data). */
      make(1, 200, 210, 1, 10, 9, 3, 1, 1, CONV_PAD_ZEROS),
      /* Winograd's weight gradient: two chunks of tile rows, c_in split
       * into GEMM row blocks (over 240), a reflected border; then
       * dilation 2 (four phases) with asymmetric zero pads, flipped. */
      make(2, 250, 20, 1, 40, 38, 3, 1, 1, CONV_PAD_REFLECT),
      make(2, 33, 35, 1, 41, 45, 3, 1, 2, CONV_PAD_ZEROS),
      /* direct_vec's weight gradient in blocks of 7 channels by 3 taps (6 or
       * 7 output channels): 7 channels, 5x5 (25 taps: the last block one
       * tap); 6 channels (one repeated), 3x3 stride 2, reflect padding. */
      make(2, 3, 7, 1, 20, 23, 5, 1, 2, CONV_PAD_ZEROS),
      make(3, 2, 6, 1, 17, 19, 3, 2, 1, CONV_PAD_REFLECT),
      /* im2col_gemm's backward data by phases (AVX-512 level, stride > 1,
       * >= 32 input channels, >= 256 positions a phase): stride 2 with
       * odd extents and channel chunks; stride 3 with a 4x5 kernel,
       * asymmetric pads, flipped (below). */
      make(1, 40, 24, 1, 35, 33, 3, 2, 1, CONV_PAD_ZEROS),
      make(1, 36, 10, 1, 50, 52, 4, 3, 1, CONV_PAD_ZEROS),
  };
  {
    conv_problem *q = &fixed[sizeof fixed / sizeof fixed[0] - 1];
    q->kw = 5;
    q->pad_t = 2;
    q->pad_r = 3;
    q->flip_kernel = 1;
    finish(q);
    q = &fixed[sizeof fixed / sizeof fixed[0] - 3];
    q->dil_h = q->dil_w = 2;
    q->pad_b = 3;
    q->pad_l = 1;
    q->flip_kernel = 1;
    finish(q);
  }
  int nfixed = argc > 4 && atoi(argv[4]) == 0 ? 0 : (int)(sizeof fixed / sizeof fixed[0]);
  for (int i = 0; i < nfixed; i++) check_problem(&fixed[i], 1);
  for (int i = 0; i < cases; i++) {
    conv_problem p;
    random_problem(&p, max_size, irand(0, 9) == 0);
    check_problem(&p, i % 4 == 0);
  }
  /* direct_dw's zero-padded paths (3x3 and 5x5 at strides 1 and 2):
   * rows narrower than a vector, of one vector and wider, even and odd
   * widths, asymmetric pads up to k - 1 and past it, flip, no bias; after
   * the random cases, so that those stay as they were. */
  if (nfixed > 0) {
    static const int64_t widths[] = {16, 17, 31, 40, 57, 70, 5, 14};
    for (int i = 0; i < 32; i++) {
      int64_t k = (i / 8) % 2 ? 5 : 3, s = i / 16 + 1;
      int64_t w = widths[i % 8] * s;
      conv_problem p = make(2, 3, 3, 3, irand(k, 2 * k + 3), w, k, s, 0,
                            CONV_PAD_ZEROS);
      p.pad_t = irand(0, k);
      p.pad_b = irand(0, k - 1);
      p.pad_l = irand(0, k - 1);
      p.pad_r = irand(0, k);
      p.flip_kernel = i % 3 == 0;
      p.has_bias = i % 4 != 1;
      if (!finish(&p)) continue;
      check_problem(&p, i % 4 == 0);
      nfixed++;
    }
  }
  /* winograd_f2x2: three images of 37x37 (odd: edge tiles store one
   * row or column) in chunks of two; asymmetric pads from 0 to 2 with the
   * kernel flipped (backward data then pads 2 - pad: 0 to 2 again). */
  if (nfixed > 0) {
    conv_problem q = make(3, 64, 64, 1, 37, 37, 3, 1, 1, CONV_PAD_ZEROS);
    check_problem(&q, 1);
    nfixed++;
    q = make(2, 20, 24, 1, 9, 12, 3, 1, 0, CONV_PAD_ZEROS);
    q.pad_t = 2;
    q.pad_l = 1;
    q.pad_r = 2;
    q.flip_kernel = 1;
    if (finish(&q)) {
      check_problem(&q, 1);
      nfixed++;
    }
  }
  /* direct_vec's weight gradient in bands of output rows (fewer than 8
   * images, >= 128 output rows): one image of 130 rows in 2 bands, and two
   * of 128 rows (stride 2, dilation 2, uneven pads) in 2 bands each, the
   * second band's first input row then inside the plane. */
  if (nfixed > 0) {
    conv_problem q = make(1, 3, 16, 1, 130, 37, 3, 1, 1, CONV_PAD_ZEROS);
    check_problem(&q, 1);
    nfixed++;
    q = make(2, 2, 5, 1, 260, 20, 5, 2, 0, CONV_PAD_ZEROS);
    q.dil_h = 2;
    q.pad_t = 3;
    q.pad_b = 1;
    q.pad_l = q.pad_r = 2;
    if (finish(&q)) {
      check_problem(&q, 1);
      nfixed++;
    }
  }
  /* im2col_gemm's backward data by phases (AVX-512 level): stride 2 with
   * an odd width (the horizontal phases 23 and 22 columns, interleaved by
   * a vector step and a scalar tail), and stride 2 x 3 (one phase a task,
   * scattered). */
  if (nfixed > 0) {
    conv_problem q = make(1, 32, 8, 1, 40, 45, 3, 2, 1, CONV_PAD_ZEROS);
    if (finish(&q)) {
      check_problem(&q, 1);
      nfixed++;
    }
    q = make(1, 32, 8, 1, 40, 70, 3, 2, 1, CONV_PAD_ZEROS);
    q.stride_w = 3;
    if (finish(&q)) {
      check_problem(&q, 1);
      nfixed++;
    }
  }
  for (int op = 0; op < CPU_NUM_OPS; op++) {
    printf("%-10s", cpu_op_name((conv_op)op));
    int ai = 0;
    for (const cpu_algo *const *a = cpu_algos_for((conv_op)op); *a != NULL && ai < MAX_ALGOS; a++, ai++)
      printf(" %s %d runs %.2g;", (*a)->name, runs_algo[op][ai], worst_algo[op][ai]);
    printf("\n");
  }
  plug->device_close(device);
  plug->fini(backend);
  printf("%d problems (%d fixed + %d random), %d algorithm runs checked; worst "
         "rel err fwd %.3g bwd_data %.3g bwd_weight %.3g bwd_bias %.3g; "
         "%d failures\n",
         nfixed + cases, nfixed, cases, checks, worst[0], worst[1], worst[2],
         worst[3], failures);
  return failures ? 1 : 0;
}
