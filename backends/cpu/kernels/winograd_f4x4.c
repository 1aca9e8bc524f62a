/* SPDX-License-Identifier: Apache-2.0 */
/*
 * winograd_f4x4's kernels (algorithms/winograd_f4x4.c), compiled per ISA
 * level: the weight transform G g G^T of WG_MR output channels, the input
 * transform B^T d B of a chunk of 6x6 tiles, the packed GEMM per
 * transformed element (WG_MR x WG_NR register tiles), and the output
 * transform A^T m A with bias and activation.
 */
#include <stdint.h>
#include <string.h>

#include "helpers.h"
#include "kernels.h"
#include "simd.h"

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
#define WG_COPY_MAX 512 /* V panels of up to this many rows are copied */
static inline LC_INLINE void wino_gemm_body(const float *up, const float *v,
                                            float *m, int64_t k_dim,
                                            int64_t c_out, int64_t ncob,
                                            int64_t ts) {
  /* A panel of V too big for L1 (over 192 rows), its rows ts apart, is
   * read from L2 at a fifth less speed; where several row blocks sweep it,
   * it is copied together first. */
  float panel[WG_COPY_MAX * WG_NR];
  int64_t ldv = ts;
  if (k_dim > 192 && k_dim <= WG_COPY_MAX && ncob > 2) {
    for (int64_t k = 0; k < k_dim; k++) {
      vstore(panel + k * WG_NR, vload(v + k * ts));
      vstore(panel + k * WG_NR + LC_VL, vload(v + k * ts + LC_VL));
    }
    v = panel;
    ldv = WG_NR;
  }
  for (int64_t cb = 0; cb < ncob; cb++) {
    const float *a = up + cb * k_dim * WG_MR;
    vf acc[WG_MR][2];
    LC_UNROLL
    for (int i = 0; i < WG_MR; i++) acc[i][0] = acc[i][1] = vzero();
    for (int64_t k = 0; k < k_dim; k++) {
      vf v0 = vload(v + k * ldv), v1 = vload(v + k * ldv + LC_VL);
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

/* Input transform of one tile row (image n, tile row tr) of channel ci:
 * stages its 6 padded input rows, then writes V[e][ci][t0 + t] for the
 * row's tiles t < tw in whole 16-tile vectors: the lanes past tw land in
 * the slots of the next tile row (the caller transforms a channel's tile
 * rows in order, in one task, so they are overwritten) or in the row's
 * slack (the row pitch leaves LC_VL floats past the last tile). */
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
      /* staged column c is padded column pb + d * c; the tiles read
       * columns below 4 * tw + 2 (the rest stay zero) */
      const int64_t ncol = 4 * w->tw + 2 < wq ? 4 * w->tw + 2 : wq;
      for (int64_t c = 0; c < ncol; c++) {
        int64_t pc = w->pb + w->d * c;
        if (pc >= w->wp) break;
        int64_t sc = conv_pad_source(pc - w->pad_l, w->w, w->mode);
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
        vstore(v + (size_t)(k * 6 + l) * estride + t0 + (size_t)tb, o[l]);
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

/* ------------------------------------------------- weight gradient */

/* A (6 x 4, the output transform's transpose) applied to four vectors:
 * the 6-point image of a 4-point dy column or row. */
static inline LC_INLINE void wino_a(const vf y[4], vf o[6]) {
  vf p = y[0] + y[2], q = y[1] + y[3];
  vf r = y[0] + 4.0f * y[2], s = 2.0f * y[1] + 8.0f * y[3];
  o[0] = y[0];
  o[1] = p + q;
  o[2] = p - q;
  o[3] = r + s;
  o[4] = r - s;
  o[5] = y[3];
}

/* G^T (3 x 6, the weight transform's transpose) applied to six vectors. */
static inline LC_INLINE void wino_gt(const vf m[6], vf o[3]) {
  vf a = m[1] + m[2], b = m[1] - m[2], c = m[3] + m[4], d = m[3] - m[4];
  o[0] = 0.25f * m[0] - (1.0f / 6) * a + (1.0f / 24) * c;
  o[1] = (-1.0f / 6) * b + (1.0f / 12) * d;
  o[2] = (-1.0f / 6) * a + (1.0f / 6) * c + m[5];
}

/* The dy transform A dy A^T of one tile row (image n, tile row tr) of
 * output channel co: stages the tile row's 4 dy rows of this phase (zero
 * past the plane), then writes D[e][co][t0 + t] for the row's tiles in
 * whole 16-tile vectors, spilling past tw exactly as wino_in does. */
static inline LC_INLINE void wino_dy_body(const wino_prob *w, const float *dyc,
                                          int64_t tr, float *stage, float *dd,
                                          size_t estride, size_t t0) {
  const int64_t wq = w->wq;
  for (int64_t r = 0; r < 4; r++) {
    float *d = stage + r * wq;
    for (int64_t j = 0; j < wq; j += LC_VL) vstore(d + j, vzero());
    const int64_t oh = w->pa + w->d * (tr * 4 + r);
    if (oh >= w->h_out) continue;
    const float *s = dyc + oh * w->w_out;
    if (w->d > 1) {
      for (int64_t c = 0; c < wq; c++) {
        int64_t ow = w->pb + w->d * c;
        if (ow >= w->w_out) break;
        d[c] = s[ow];
      }
      continue;
    }
    int64_t n = w->w_out < wq ? w->w_out : wq, j = 0;
    for (; j + LC_VL <= n; j += LC_VL) vstore(d + j, vload(s + j));
    for (; j < n; j++) d[j] = s[j];
  }
  float *rk = stage + 6 * wq; /* 6 rows of 64 floats (and 2 of slack) */
  for (int64_t tb = 0; tb < w->tw; tb += 16) {
    for (int64_t c = 0; c < 64; c += LC_VL) {
      vf y[4], o[6];
      LC_UNROLL
      for (int r = 0; r < 4; r++) y[r] = vload(stage + r * wq + tb * 4 + c);
      wino_a(y, o);
      LC_UNROLL
      for (int k = 0; k < 6; k++) vstore(rk + k * 64 + c, o[k]);
    }
    LC_UNROLL
    for (int k = 0; k < 6; k++) {
      vf y[4], o[6];
      LC_UNROLL
      for (int j = 0; j < 4; j++) gather4(&y[j], rk + k * 64 + j);
      wino_a(y, o);
      LC_UNROLL
      for (int l = 0; l < 6; l++)
        vstore(dd + (size_t)(k * 6 + l) * estride + t0 + (size_t)tb, o[l]);
    }
  }
}

LC_ISA_DISPATCH(wino_dy,
                (const wino_prob *w, const float *dyc, int64_t tr, float *stage,
                 float *dd, size_t estride, size_t t0),
                (w, dyc, tr, stage, dd, estride, t0), wino_dy_body)

/* The weight gradient's output transform G^T M G of up to 16 channel
 * pairs at once: lane l's 6x6 M is src[e * estride + l] (e = 6 * row +
 * column, lanes < cnt read); tap k of lane l goes to gt[k * 16 + l]. */
static inline LC_INLINE void wino_wout_body(const float *src, size_t estride,
                                            int64_t cnt, float *gt) {
  vf t[3][6];
  LC_UNROLL
  for (int l = 0; l < 6; l++) {
    vf col[6], o[3];
    LC_UNROLL
    for (int k = 0; k < 6; k++) {
      const float *s = src + (size_t)(k * 6 + l) * estride;
      col[k] = vload_n(s, cnt);
    }
    wino_gt(col, o);
    LC_UNROLL
    for (int i = 0; i < 3; i++) t[i][l] = o[i];
  }
  LC_UNROLL
  for (int i = 0; i < 3; i++) {
    vf o[3];
    wino_gt(t[i], o);
    LC_UNROLL
    for (int j = 0; j < 3; j++) vstore(gt + (i * 3 + j) * LC_VL, o[j]);
  }
}

LC_ISA_DISPATCH(wino_wout,
                (const float *src, size_t estride, int64_t cnt, float *gt),
                (src, estride, cnt, gt), wino_wout_body)
