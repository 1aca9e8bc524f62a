/* SPDX-License-Identifier: Apache-2.0 */
/*
 * winograd_f4x4: 3x3 stride-1 undilated convolution by Winograd F(4x4, 3x3)
 * (Lavin & Gray): each 4x4 output tile costs 36 multiplications per channel
 * pair instead of 144.
 *
 *   U[e][co][ci] = (G g G^T)[e]            weights, 36 x c_out x c_in
 *   V[e][ci][t]  = (B^T d B)[e]            input tiles, 6x6 with stride 4
 *   M[e]         = U[e] * V[e]             36 GEMMs per chunk of tiles
 *   y tile       = A^T M A (+ bias)
 *
 * Tiles are taken a chunk of tile rows at a time (all images in sequence),
 * so the workspace is U plus two chunk buffers, independent of the batch.
 * The transforms are vectorised across the (up to 16) tiles of a tile row.
 * Backward-data is the same computation on dy with the weight transposed
 * and rotated, padding 2 - pad (zero padding only).
 * Every output element is computed by one GEMM and one transform in a
 * fixed order: deterministic for any thread count.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kernels.h"
#include "simd.h"

#define WG_T_TARGET 192 /* tiles per chunk, roughly */
#define WG_MR 8          /* GEMM micro-tile: output channels */
#define WG_NR 32         /* GEMM micro-tile: tiles (two vectors) */

/* The forward-shaped problem Winograd computes. */
typedef struct wino_prob {
  int64_t n, c_in, c_out, h, w, h_out, w_out;
  int64_t pad_t, pad_l, hp, wp; /* pads before, padded extents */
  int64_t d;        /* dilation: d x d phases, each an undilated 3x3 conv */
  int64_t pa, pb;   /* the phase being computed (output rows = pa mod d) */
  conv_padding_mode mode;
  int64_t th, tw;   /* tile rows / columns per image */
  int64_t rc, t;    /* tile rows per chunk, tiles per chunk (rc * tw) */
  int64_t ts;       /* row stride of V and M: t rounded up to WG_NR */
  int64_t ncob;     /* blocks of WG_MR output channels */
  int fast;         /* 1: own AVX-512 GEMM on packed U; 0: cpu_sgemm */
  int64_t wq;       /* floats per staged input row */
} wino_prob;

static int wino_applies(const conv_problem *p, conv_op op, char *why,
                        size_t why_len) {
  if (op != CONV_OP_FORWARD && op != CONV_OP_BACKWARD_DATA) {
    snprintf(why, why_len, "only forward and backward-data");
    return 0;
  }
  if (p->kh != 3 || p->kw != 3 || p->stride_h != 1 || p->stride_w != 1 ||
      p->dil_h != p->dil_w) {
    snprintf(why, why_len, "needs a 3x3 kernel, stride 1, equal dilations");
    return 0;
  }
  if (p->groups != 1) {
    snprintf(why, why_len, "groups=%lld is not 1", (long long)p->groups);
    return 0;
  }
  if (op == CONV_OP_BACKWARD_DATA &&
      (p->padding_mode != CONV_PAD_ZEROS || p->pad_t > 2 * p->dil_h ||
       p->pad_b > 2 * p->dil_h || p->pad_l > 2 * p->dil_w ||
       p->pad_r > 2 * p->dil_w)) {
    snprintf(why, why_len,
             "backward-data needs zero padding of at most 2 x dilation per side");
    return 0;
  }
  return 1;
}

static wino_prob wino_prob_for(const conv_problem *p, conv_op op) {
  wino_prob w;
  memset(&w, 0, sizeof w);
  w.n = p->n;
  if (op == CONV_OP_FORWARD) {
    w.c_in = p->c_in;
    w.c_out = p->c_out;
    w.h = p->h;
    w.w = p->w;
    w.h_out = p->h_out;
    w.w_out = p->w_out;
    w.pad_t = p->pad_t;
    w.pad_l = p->pad_l;
    w.hp = p->h + p->pad_t + p->pad_b;
    w.wp = p->w + p->pad_l + p->pad_r;
    w.mode = p->padding_mode;
  } else {
    w.c_in = p->c_out;
    w.c_out = p->c_in;
    w.h = p->h_out;
    w.w = p->w_out;
    w.h_out = p->h;
    w.w_out = p->w;
    w.pad_t = 2 * p->dil_h - p->pad_t;
    w.pad_l = 2 * p->dil_w - p->pad_l;
    w.hp = w.h + w.pad_t + 2 * p->dil_h - p->pad_b;
    w.wp = w.w + w.pad_l + 2 * p->dil_w - p->pad_r;
    w.mode = CONV_PAD_ZEROS;
  }
  w.d = p->dil_h;
  w.th = ((w.h_out + w.d - 1) / w.d + 3) / 4;
  w.tw = ((w.w_out + w.d - 1) / w.d + 3) / 4;
  w.rc = WG_T_TARGET / w.tw;
  if (w.rc < 1) w.rc = 1;
  if (w.rc > w.n * w.th) w.rc = w.n * w.th;
  w.t = w.rc * w.tw;
  w.ts = lc_round_up(w.t, WG_NR);
  w.ncob = (w.c_out + WG_MR - 1) / WG_MR;
  w.fast = lc_isa_level() >= 2;
  /* staged rows: 16-tile blocks read 4 * 16 + 2 columns */
  w.wq = lc_round_up(w.tw, 16) * 4 + 2 * LC_VL;
  return w;
}

typedef struct wino_ws {
  size_t u, v, m, stage; /* floats */
} wino_ws;

static wino_ws wino_ws_for(const wino_prob *w) {
  wino_ws s;
  s.u = cpu_mul_size(36, cpu_mul_size((size_t)(w->ncob * WG_MR), (size_t)w->c_in));
  s.v = cpu_mul_size(36, cpu_mul_size((size_t)w->c_in, (size_t)w->ts));
  s.m = cpu_mul_size(36, cpu_mul_size((size_t)w->c_out, (size_t)w->ts));
  s.stage = (size_t)(6 * w->wq + 8 * LC_VL * 6);
  return s;
}

static size_t wino_workspace(const conv_problem *p, conv_op op, int threads) {
  wino_prob w = wino_prob_for(p, op);
  wino_ws s = wino_ws_for(&w);
  size_t f = cpu_add_size(cpu_add_size(s.u, s.v), s.m);
  f = cpu_add_size(f, cpu_mul_size(s.stage, (size_t)threads));
  return cpu_mul_size(cpu_add_size(f, 64), sizeof(float));
}

/* --------------------------------------------------------- transforms */

/* U for output channel co and input channels ci0 .. ci0 + cnt - 1 (cnt <=
 * 16), vectorised over ci. g[k][lane]: tap k of each pair. U is stored
 * packed for the GEMM (fast: U[e][co / MR][ci][co % MR]) or row-major
 * (U[e][co][ci]). */
static inline LC_INLINE void wino_weight_body(const wino_prob *w,
                                              const float *gt, int64_t co,
                                              int64_t ci0, int64_t cnt,
                                              float *u) {
  vf g[9], t[6][3];
  LC_UNROLL
  for (int k = 0; k < 9; k++) g[k] = vload(gt + k * LC_VL);
  LC_UNROLL
  for (int j = 0; j < 3; j++) {
    vf a = g[j], b = g[3 + j], c = g[6 + j];
    t[0][j] = 0.25f * a;
    t[1][j] = (-1.0f / 6) * (a + b + c);
    t[2][j] = (-1.0f / 6) * (a - b + c);
    t[3][j] = (1.0f / 24) * a + (1.0f / 12) * b + (1.0f / 6) * c;
    t[4][j] = (1.0f / 24) * a - (1.0f / 12) * b + (1.0f / 6) * c;
    t[5][j] = c;
  }
  const size_t es = (size_t)(w->ncob * WG_MR) * (size_t)w->c_in;
  LC_UNROLL
  for (int i = 0; i < 6; i++) {
    vf a = t[i][0], b = t[i][1], c = t[i][2], o[6];
    o[0] = 0.25f * a;
    o[1] = (-1.0f / 6) * (a + b + c);
    o[2] = (-1.0f / 6) * (a - b + c);
    o[3] = (1.0f / 24) * a + (1.0f / 12) * b + (1.0f / 6) * c;
    o[4] = (1.0f / 24) * a - (1.0f / 12) * b + (1.0f / 6) * c;
    o[5] = c;
    LC_UNROLL
    for (int j = 0; j < 6; j++) {
      float *ue = u + (size_t)(i * 6 + j) * es;
      if (w->fast) {
        /* lanes are (ci0 + l / 8, co + l % 8): two rows of a packed block */
        vstore_n(ue + ((size_t)(co / WG_MR) * (size_t)w->c_in + (size_t)ci0) * WG_MR,
                 o[j], cnt);
      } else {
        vstore_n(ue + (size_t)co * (size_t)w->c_in + (size_t)ci0, o[j], cnt);
      }
    }
  }
}

LC_ISA_DISPATCH(wino_weight,
                (const wino_prob *w, const float *gt, int64_t co, int64_t ci0,
                 int64_t cnt, float *u),
                (w, gt, co, ci0, cnt, u), wino_weight_body)

/* M[co][t] = sum_ci U[co][ci] V[ci][t] for one transformed element: U packed
 * as [co / MR][ci][co % MR], V and M rows of stride ts; tiles tb * NR ..
 * tb * NR + NR - 1 (columns past the chunk are computed and ignored). */
static inline LC_INLINE void wino_gemm_body(const float *up, const float *v,
                                            float *m, int64_t k_dim,
                                            int64_t c_out, int64_t ncob,
                                            int64_t ts) {
  for (int64_t cb = 0; cb < ncob; cb++) {
    const float *a = up + cb * k_dim * WG_MR;
    vf acc[WG_MR][2];
    LC_UNROLL
    for (int i = 0; i < WG_MR; i++) acc[i][0] = acc[i][1] = vzero();
    for (int64_t k = 0; k < k_dim; k++) {
      vf v0 = vload(v + k * ts), v1 = vload(v + k * ts + LC_VL);
      LC_UNROLL
      for (int i = 0; i < WG_MR; i++) {
        vf ui = vsplat(a[k * WG_MR + i]);
        acc[i][0] += ui * v0;
        acc[i][1] += ui * v1;
      }
    }
    LC_UNROLL
    for (int i = 0; i < WG_MR; i++) {
      int64_t co = cb * WG_MR + i;
      if (co < c_out) {
        vstore(m + co * ts, acc[i][0]);
        vstore(m + co * ts + LC_VL, acc[i][1]);
      }
    }
  }
}

LC_ISA_DISPATCH(wino_gemm,
                (const float *up, const float *v, float *m, int64_t k_dim,
                 int64_t c_out, int64_t ncob, int64_t ts),
                (up, v, m, k_dim, c_out, ncob, ts), wino_gemm_body)

/* B^T applied to six vectors (in place semantics: out[k]). */
static inline LC_INLINE void wino_bt(const vf d[6], vf o[6]) {
  o[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];
  o[1] = -4.0f * (d[1] + d[2]) + (d[3] + d[4]);
  o[2] = 4.0f * (d[1] - d[2]) + (d[4] - d[3]);
  o[3] = 2.0f * (d[3] - d[1]) + (d[4] - d[2]);
  o[4] = 2.0f * (d[1] - d[3]) + (d[4] - d[2]);
  o[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];
}

/* A^T applied to six vectors: four outputs. */
static inline LC_INLINE void wino_at(const vf m[6], vf o[4]) {
  vf a = m[1] + m[2], b = m[1] - m[2], c = m[3] + m[4], d = m[3] - m[4];
  o[0] = m[0] + a + c;
  o[1] = b + 2.0f * d;
  o[2] = a + 4.0f * c;
  o[3] = b + 8.0f * d + m[5];
}

/* v[t] = s[4 * t] for t < 16 (s has 64 readable floats). The vector is
 * stored through v, not returned (see simd.h on vector-valued functions). */
static inline LC_INLINE void gather4(vf *v, const float *s) {
  vf a0 = vload(s), a1 = vload(s + 16), a2 = vload(s + 32), a3 = vload(s + 48);
#if defined(__clang__)
  vf lo = __builtin_shufflevector(a0, a1, 0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0,
                                  0, 0, 0, 0, 0);
  vf hi = __builtin_shufflevector(a2, a3, 0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0,
                                  0, 0, 0, 0, 0);
  *v = __builtin_shufflevector(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18,
                               19, 20, 21, 22, 23);
#else
  typedef int32_t vi __attribute__((vector_size(64)));
  const vi i4 = {0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0};
  const vi cat = {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23};
  vf lo = __builtin_shuffle(a0, a1, i4);
  vf hi = __builtin_shuffle(a2, a3, i4);
  *v = __builtin_shuffle(lo, hi, cat);
#endif
}

/* d[4 * t + c] = o[c][t] for t < 16, c < 4 (64 floats). */
static inline LC_INLINE void scatter4(float *d, const vf o[4]) {
#if defined(__clang__)
  vf p01l = __builtin_shufflevector(o[0], o[1], 0, 16, 1, 17, 2, 18, 3, 19, 4,
                                    20, 5, 21, 6, 22, 7, 23);
  vf p01h = __builtin_shufflevector(o[0], o[1], 8, 24, 9, 25, 10, 26, 11, 27,
                                    12, 28, 13, 29, 14, 30, 15, 31);
  vf p23l = __builtin_shufflevector(o[2], o[3], 0, 16, 1, 17, 2, 18, 3, 19, 4,
                                    20, 5, 21, 6, 22, 7, 23);
  vf p23h = __builtin_shufflevector(o[2], o[3], 8, 24, 9, 25, 10, 26, 11, 27,
                                    12, 28, 13, 29, 14, 30, 15, 31);
  vstore(d, __builtin_shufflevector(p01l, p23l, 0, 1, 16, 17, 2, 3, 18, 19, 4,
                                    5, 20, 21, 6, 7, 22, 23));
  vstore(d + 16, __builtin_shufflevector(p01l, p23l, 8, 9, 24, 25, 10, 11, 26,
                                         27, 12, 13, 28, 29, 14, 15, 30, 31));
  vstore(d + 32, __builtin_shufflevector(p01h, p23h, 0, 1, 16, 17, 2, 3, 18,
                                         19, 4, 5, 20, 21, 6, 7, 22, 23));
  vstore(d + 48, __builtin_shufflevector(p01h, p23h, 8, 9, 24, 25, 10, 11, 26,
                                         27, 12, 13, 28, 29, 14, 15, 30, 31));
#else
  typedef int32_t vi __attribute__((vector_size(64)));
  const vi il = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23};
  const vi ih = {8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const vi ql = {0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23};
  const vi qh = {8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31};
  vf p01l = __builtin_shuffle(o[0], o[1], il);
  vf p01h = __builtin_shuffle(o[0], o[1], ih);
  vf p23l = __builtin_shuffle(o[2], o[3], il);
  vf p23h = __builtin_shuffle(o[2], o[3], ih);
  vstore(d, __builtin_shuffle(p01l, p23l, ql));
  vstore(d + 16, __builtin_shuffle(p01l, p23l, qh));
  vstore(d + 32, __builtin_shuffle(p01h, p23h, ql));
  vstore(d + 48, __builtin_shuffle(p01h, p23h, qh));
#endif
}

/* Input transform of one tile row (image n, tile row tr) of channel ci:
 * stages its 6 padded input rows, then writes V[e][ci][t0 + t]. */
static inline LC_INLINE void wino_in_body(const wino_prob *w, const float *xc,
                                          int64_t tr, float *stage, float *v,
                                          size_t estride, size_t t0) {
  const int64_t wq = w->wq;
  for (int64_t i = 0; i < 6; i++) {
    float *d = stage + i * wq;
    /* padded row of this phase; rows past hp read zero */
    int64_t pr = w->pa + w->d * (tr * 4 + i);
    int64_t sr = pr < w->hp ? conv_pad_source(pr - w->pad_t, w->h, w->mode) : -1;
    for (int64_t j = 0; j < wq; j += LC_VL) vstore(d + j, vzero());
    if (sr < 0) continue;
    const float *s = xc + sr * w->w;
    if (w->d > 1) {
      /* staged column c is padded column pb + d * c */
      for (int64_t c = 0; c < wq; c++) {
        int64_t pc = w->pb + w->d * c;
        int64_t sc = pc < w->wp ? conv_pad_source(pc - w->pad_l, w->w, w->mode) : -1;
        d[c] = sc < 0 ? 0.0f : s[sc];
      }
      continue;
    }
    int64_t jlo = w->pad_l, n = w->w;
    if (jlo + n > wq) n = wq - jlo;
    int64_t j = 0;
    for (; j + LC_VL <= n; j += LC_VL) vstore(d + jlo + j, vload(s + j));
    for (; j < n; j++) d[jlo + j] = s[j];
    if (w->mode != CONV_PAD_ZEROS) {
      for (int64_t c = 0; c < jlo; c++) {
        int64_t sc = conv_pad_source(c - w->pad_l, w->w, w->mode);
        d[c] = sc < 0 ? 0.0f : s[sc];
      }
      for (int64_t c = jlo + w->w; c < w->wp && c < wq; c++) {
        int64_t sc = conv_pad_source(c - w->pad_l, w->w, w->mode);
        d[c] = sc < 0 ? 0.0f : s[sc];
      }
    }
  }
  float *rk = stage + 6 * wq; /* 6 rows of 80 floats */
  for (int64_t tb = 0; tb < w->tw; tb += 16) {
    int64_t cnt = w->tw - tb < 16 ? w->tw - tb : 16;
    /* vertical transform over 80 columns */
    for (int64_t c = 0; c < 80; c += LC_VL) {
      vf d[6], o[6];
      LC_UNROLL
      for (int i = 0; i < 6; i++) d[i] = vload(stage + i * wq + tb * 4 + c);
      wino_bt(d, o);
      LC_UNROLL
      for (int k = 0; k < 6; k++) vstore(rk + k * 80 + c, o[k]);
    }
    LC_UNROLL
    for (int k = 0; k < 6; k++) {
      vf d[6], o[6];
      LC_UNROLL
      for (int j = 0; j < 6; j++) gather4(&d[j], rk + k * 80 + j);
      wino_bt(d, o);
      LC_UNROLL
      for (int l = 0; l < 6; l++)
        vstore_n(v + (size_t)(k * 6 + l) * estride + t0 + (size_t)tb, o[l],
                 cnt);
    }
  }
}

LC_ISA_DISPATCH(wino_in,
                (const wino_prob *w, const float *xc, int64_t tr, float *stage,
                 float *v, size_t estride, size_t t0),
                (w, xc, tr, stage, v, estride, t0), wino_in_body)

/* Output transform of one tile row of channel co from M[e][co][t0 + t]. */
static inline LC_INLINE void wino_out_body(const wino_prob *w, const float *m,
                                           size_t estride, size_t t0,
                                           float bias, float *yc, int64_t tr,
                                           float *stage) {
  for (int64_t tb = 0; tb < w->tw; tb += 16) {
    vf s[4][6];
    LC_UNROLL
    for (int l = 0; l < 6; l++) {
      vf col[6], o[4];
      LC_UNROLL
      for (int k = 0; k < 6; k++)
        col[k] = vload(m + (size_t)(k * 6 + l) * estride + t0 + (size_t)tb);
      wino_at(col, o);
      LC_UNROLL
      for (int r = 0; r < 4; r++) s[r][l] = o[r];
    }
    LC_UNROLL
    for (int r = 0; r < 4; r++) {
      vf o[4];
      wino_at(s[r], o);
      LC_UNROLL
      for (int c = 0; c < 4; c++) o[c] += bias;
      int64_t oh = w->pa + w->d * (tr * 4 + r);
      if (oh >= w->h_out) continue;
      if (w->d > 1) {
        scatter4(stage, o);
        for (int64_t j = 0; j < 64; j++) {
          int64_t ow = w->pb + w->d * (tb * 4 + j);
          if (ow >= w->w_out) break;
          yc[oh * w->w_out + ow] = stage[j];
        }
        continue;
      }
      int64_t ow0 = tb * 4;
      int64_t n = w->w_out - ow0 < 64 ? w->w_out - ow0 : 64;
      if (n == 64) {
        scatter4(yc + oh * w->w_out + ow0, o);
      } else {
        scatter4(stage, o);
        for (int64_t j = 0; j < n; j++) yc[oh * w->w_out + ow0 + j] = stage[j];
      }
    }
  }
}

LC_ISA_DISPATCH(wino_out,
                (const wino_prob *w, const float *m, size_t estride, size_t t0,
                 float bias, float *yc, int64_t tr, float *stage),
                (w, m, estride, t0, bias, yc, tr, stage), wino_out_body)

/* ------------------------------------------------------------------ run */

/* The 3x3 taps (kernel-offset order) of pair (co, ci) of the computed
 * problem: flip applied; for backward-data transposed and rotated. */
static void wino_taps(const conv_problem *p, conv_op op, const float *wt,
                      int64_t co, int64_t ci, float g[9]) {
  const int flip = p->flip_kernel;
  for (int64_t i = 0; i < 3; i++)
    for (int64_t j = 0; j < 3; j++) {
      if (op == CONV_OP_FORWARD)
        g[i * 3 + j] = wt[((co * p->c_in + ci) * 3 + lc_widx(i, 3, flip)) * 3 +
                          lc_widx(j, 3, flip)];
      else
        g[i * 3 + j] = wt[((ci * p->c_in + co) * 3 + lc_widx(2 - i, 3, flip)) * 3 +
                          lc_widx(2 - j, 3, flip)];
    }
}

static void wino_run_prob(const cpu_run *r, const wino_prob *wall,
                          const float *x, const float *wt,
                          const float *bias, float *y, float *u, float *v,
                          float *m, float *stage_base, size_t stage_floats) {
  const wino_prob *w0 = wall;
  const size_t in_plane = (size_t)(w0->h * w0->w);
  const size_t out_plane = (size_t)(w0->h_out * w0->w_out);
  const int64_t rows = w0->n * w0->th;
  const size_t vt = (size_t)w0->c_in * (size_t)w0->ts;  /* V stride per e */
  const size_t mt = (size_t)w0->c_out * (size_t)w0->ts; /* M stride per e */
  const size_t ut = (size_t)(w0->ncob * WG_MR) * (size_t)w0->c_in;
  const int64_t ncib = (w0->c_in + LC_VL - 1) / LC_VL;
#pragma omp parallel num_threads(r->threads)
  {
    float *stage = stage_base + stage_floats * (size_t)cpu_thread_id();
    if (w0->fast) {
      /* Lanes: 2 input channels x 8 output channels, so that each
       * transformed element is one contiguous 16-float store. */
      const int64_t ncp = (w0->c_in + 1) / 2;
#pragma omp for schedule(static)
      for (int64_t task = 0; task < w0->ncob * ncp; task++) {
        int64_t cb = task / ncp, ci0 = (task % ncp) * 2;
        float gt[9 * LC_VL];
        for (int64_t l = 0; l < LC_VL; l++) {
          int64_t co = cb * WG_MR + l % WG_MR, ci = ci0 + l / WG_MR;
          float g[9];
          if (co < w0->c_out && ci < w0->c_in)
            wino_taps(r->p, r->op, wt, co, ci, g);
          else
            for (int k = 0; k < 9; k++) g[k] = 0.0f;
          for (int k = 0; k < 9; k++) gt[k * LC_VL + l] = g[k];
        }
        wino_weight(w0, gt, cb * WG_MR, ci0, ci0 + 1 < w0->c_in ? 16 : 8, u);
      }
    } else {
#pragma omp for schedule(static)
      for (int64_t task = 0; task < w0->c_out * ncib; task++) {
        int64_t co = task / ncib, ci0 = (task % ncib) * LC_VL;
        int64_t cnt = w0->c_in - ci0 < LC_VL ? w0->c_in - ci0 : LC_VL;
        float gt[9 * LC_VL];
        for (int64_t l = 0; l < LC_VL; l++) {
          float g[9];
          if (l < cnt)
            wino_taps(r->p, r->op, wt, co, ci0 + l, g);
          else
            for (int k = 0; k < 9; k++) g[k] = 0.0f;
          for (int k = 0; k < 9; k++) gt[k * LC_VL + l] = g[k];
        }
        wino_weight(w0, gt, co, ci0, cnt, u);
      }
    }
    for (int64_t ph = 0; ph < wall->d * wall->d; ph++) {
    wino_prob wph = *wall;
    wph.pa = ph / wall->d;
    wph.pb = ph % wall->d;
    const wino_prob *w = &wph;
    for (int64_t row0 = 0; row0 < rows; row0 += w->rc) {
      int64_t nr = rows - row0 < w->rc ? rows - row0 : w->rc;
      int64_t nt = nr * w->tw;
#pragma omp for schedule(dynamic, 4)
      for (int64_t task = 0; task < w->c_in * nr; task++) {
        int64_t ci = task / nr, rr = task % nr;
        int64_t row = row0 + rr, n = row / w->th, tr = row % w->th;
        wino_in(w, x + (size_t)(n * w->c_in + ci) * in_plane, tr, stage,
                v + (size_t)ci * (size_t)w->ts, vt, (size_t)(rr * w->tw));
      }
      if (w->fast) {
        int64_t ntb = (nt + WG_NR - 1) / WG_NR;
#pragma omp for schedule(dynamic, 1)
        for (int64_t task = 0; task < 36 * ntb; task++) {
          int64_t e = task / ntb, tb = task % ntb;
          wino_gemm(u + (size_t)e * ut, v + (size_t)e * vt + (size_t)(tb * WG_NR),
                    m + (size_t)e * mt + (size_t)(tb * WG_NR), w->c_in, w->c_out,
                    w->ncob, w->ts);
        }
      } else {
#pragma omp for schedule(dynamic, 1)
        for (int64_t e = 0; e < 36; e++)
          cpu_sgemm(0, 0, w->c_out, nt, w->c_in, 1.0f, u + (size_t)e * ut,
                    w->c_in, v + (size_t)e * vt, w->ts, 0.0f,
                    m + (size_t)e * mt, w->ts);
      }
#pragma omp for schedule(dynamic, 4)
      for (int64_t task = 0; task < w->c_out * nr; task++) {
        int64_t co = task / nr, rr = task % nr;
        int64_t row = row0 + rr, n = row / w->th, tr = row % w->th;
        float *yc = y + (size_t)(n * w->c_out + co) * out_plane;
        wino_out(w, m + (size_t)co * (size_t)w->ts, mt, (size_t)(rr * w->tw),
                 bias ? bias[co] : 0.0f, yc, tr, stage);
        const conv_activation act =
            r->op == CONV_OP_FORWARD ? r->p->activation
            : r->dx_epilogue         ? r->dx_act
                                     : CONV_ACT_NONE;
        if (act != CONV_ACT_NONE) {
          /* The epilogue on the rows just written: output rows pa + d*(4tr
           * + i), columns pb + d*j (this phase's only). */
          const int64_t oh0 = w->pa + w->d * tr * 4;
          int64_t nrow = 0;
          while (nrow < 4 && oh0 + w->d * nrow < w->h_out) nrow++;
          const int64_t ncol = (w->w_out - w->pb + w->d - 1) / w->d;
          cpu_act_tile(act,
                       r->op == CONV_OP_FORWARD ? r->p->activation_alpha
                                                : r->dx_alpha,
                       0.0f, yc + oh0 * w->w_out + w->pb, nrow,
                       w->d * w->w_out, ncol, w->d);
        }
      }
    }
    }
  }
}

static conv_status wino_run(const cpu_run *r, const cpu_tensors *t,
                            conv_err *err) {
  const conv_problem *p = r->p;
  if (r->op != CONV_OP_FORWARD && r->op != CONV_OP_BACKWARD_DATA)
    return conv_err_set(err, CONV_ERROR_UNSUPPORTED,
                        "winograd_f4x4: op %d is not served", (int)r->op);
  const wino_prob w = wino_prob_for(p, r->op);
  const wino_ws s = wino_ws_for(&w);
  float *u = (float *)r->ws;
  float *v = u + s.u;
  float *m = v + s.v;
  float *stage = m + s.m;
  if (r->op == CONV_OP_FORWARD)
    wino_run_prob(r, &w, t->x, t->w, t->b, t->y, u, v, m, stage, s.stage);
  else
    wino_run_prob(r, &w, t->dy, t->w, r->dx_epilogue ? t->b : NULL, t->dx, u,
                  v, m, stage, s.stage);
  return CONV_SUCCESS;
}

const cpu_algo cpu_algo_winograd_f4x4 = {
    .name = "winograd_f4x4",
    .applies = wino_applies,
    .workspace_bytes = wino_workspace,
    .run = wino_run,
    .fuses_activation = 1,
    .fuses_dx_epilogue = 1,
};
