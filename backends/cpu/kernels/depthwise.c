/* SPDX-License-Identifier: Apache-2.0 */
/*
 * direct_dw's plane kernels (algorithms/direct_dw.c), compiled per ISA
 * level. They work on a channel's phase-split padded plane (helpers.h):
 * a forward output plane in blocks of R rows by V vectors, a backward-data
 * plane (the taps scattered as a transposed convolution), a weight-gradient
 * pass over LC_DW_NT taps, and the row copies around them.
 */
#include <stdint.h>
#include <string.h>

#include "helpers.h"
#include "kernels.h"
#include "simd.h"

/* One plane: y[oh][ow] = b + sum_t wk[t] * buf[tap t of (oh, ow)]. R rows
 * by V vectors per block, computed whole (the buffer is zero past the
 * edges), stored clipped. */
static inline LC_INLINE void dw_fwd_plane_rv(const conv_problem *p,
                                             const float *buf, lc_plane g,
                                             const float *wk, float bias,
                                             float *y, const int R,
                                             const int V) {
  const int64_t kh = p->kh, kw = p->kw, sh = p->stride_h, sw = p->stride_w;
  const int64_t dh = p->dil_h, dw = p->dil_w, ho = p->h_out, wo = p->w_out;
  const int64_t taps = kh * kw;
  int64_t tofs[LC_DW_MAX_TAPS]; /* offset of tap t from the block's origin */
  for (int64_t t = 0; t < taps; t++) {
    int64_t i = t / kw, j = t % kw;
    tofs[t] = (int64_t)(lc_plane_row((float *)buf, g, (j * dw) % sw, i * dh) -
                        buf) + (j * dw) / sw;
  }
  const int64_t rs = sh * g.wq; /* floats between output rows */
  for (int64_t oh = 0; oh < ho; oh += R) {
    for (int64_t ow = 0; ow < wo; ow += V * LC_VL) {
      vf acc[8][LC_DW_V];
      LC_UNROLL
      for (int r = 0; r < R; r++)
        LC_UNROLL
        for (int v = 0; v < V; v++) acc[r][v] = vsplat(bias);
      const float *base = buf + oh * rs + ow;
      for (int64_t t = 0; t < taps; t++) {
        vf wv = vsplat(wk[t]);
        const float *src = base + tofs[t];
        LC_UNROLL
        for (int r = 0; r < R; r++)
          LC_UNROLL
          for (int v = 0; v < V; v++)
            acc[r][v] += wv * vload(src + r * rs + v * LC_VL);
      }
      LC_UNROLL
      for (int r = 0; r < R; r++)
        LC_UNROLL
        for (int v = 0; v < V; v++)
          if (oh + r < ho && ow + v * LC_VL < wo)
            vstore_n(y + (oh + r) * wo + ow + v * LC_VL, acc[r][v],
                     wo - ow - v * LC_VL);
    }
  }
}

/* Blocks of R rows by V vectors: wide rows take 4 vectors, narrow ones more
 * rows, so that about 8 accumulators are in flight. */
static inline LC_INLINE void dw_fwd_plane_body(const conv_problem *p,
                                               const float *buf, lc_plane g,
                                               const float *wk, float bias,
                                               float *y) {
  if (p->w_out > 2 * LC_VL)
    dw_fwd_plane_rv(p, buf, g, wk, bias, y, 2, 4);
  else if (p->w_out > LC_VL)
    dw_fwd_plane_rv(p, buf, g, wk, bias, y, 4, 2);
  else
    dw_fwd_plane_rv(p, buf, g, wk, bias, y, 8, 1);
}

LC_ISA_DISPATCH(dw_fwd_plane,
                (const conv_problem *p, const float *buf, lc_plane g,
                 const float *wk, float bias, float *y),
                (p, buf, g, wk, bias, y), dw_fwd_plane_body)

/* y[oh][j] = tmp[oh][2 j], rows of tmp of stride ts. */
static inline LC_INLINE void dw_keep_even_body(const float *tmp, int64_t ts,
                                               int64_t ho, int64_t wo,
                                               float *y) {
  for (int64_t oh = 0; oh < ho; oh++) {
    const float *s = tmp + oh * ts;
    float *d = y + oh * wo;
    int64_t j = 0;
#if defined(__clang__)
    for (; j + LC_VL <= wo; j += LC_VL) {
      vf a = vload(s + 2 * j), b = vload(s + 2 * j + LC_VL);
      vstore(d + j, __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16,
                                            18, 20, 22, 24, 26, 28, 30));
    }
#elif defined(__GNUC__)
    typedef int32_t vi __attribute__((vector_size(64)));
    const vi even = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
    for (; j + LC_VL <= wo; j += LC_VL) {
      vf a = vload(s + 2 * j), b = vload(s + 2 * j + LC_VL);
      vstore(d + j, __builtin_shuffle(a, b, even));
    }
#endif
    for (; j < wo; j++) d[j] = s[2 * j];
  }
}

LC_ISA_DISPATCH(dw_keep_even,
                (const float *tmp, int64_t ts, int64_t ho, int64_t wo, float *y),
                (tmp, ts, ho, wo, y), dw_keep_even_body)

/* One plane, as a gather: for each padded row r and column phase q, the
 * gradient buffer row is the sum over the taps that reach it of a weight
 * times a shifted dy row (dyb: rows of stride ds, zero margins). Every
 * element of buf is written once. */
static inline LC_INLINE void dw_bwd_plane_body(const conv_problem *p,
                                               const float *dyb, int64_t ds,
                                               int64_t margin, const float *wk,
                                               float *buf, lc_plane g) {
  const int64_t kh = p->kh, kw = p->kw, sh = p->stride_h, sw = p->stride_w;
  const int64_t dh = p->dil_h, dw = p->dil_w, ho = p->h_out;
  const int64_t hp = p->h + p->pad_t + p->pad_b;
  int64_t tofs[LC_DW_MAX_TAPS];
  float tw[LC_DW_MAX_TAPS];
  /* Column taps per phase q: j with j * dw = q (mod sw), read at column
   * shift (j * dw - q) / sw to the left. */
  int64_t jcount[LC_DW_MAX_TAPS], jlist[LC_DW_MAX_TAPS], jshift[LC_DW_MAX_TAPS];
  int64_t jfirst[LC_DW_MAX_TAPS];
  {
    int64_t n = 0;
    for (int64_t q = 0; q < sw && q < LC_DW_MAX_TAPS; q++) {
      jfirst[q] = n;
      for (int64_t j = 0; j < kw; j++) {
        int64_t cj = j * dw - q;
        if (cj < 0 || cj % sw != 0) continue;
        jlist[n] = j;
        jshift[n] = cj / sw;
        n++;
      }
      jcount[q] = n - jfirst[q];
    }
  }
  for (int64_t r = 0; r < g.rows; r++) {
    for (int64_t q = 0; q < sw; q++) {
      float *dst = lc_plane_row(buf, g, q, r);
      if (r >= hp || q >= LC_DW_MAX_TAPS) {
        memset(dst, 0, (size_t)g.wq * sizeof(float));
        continue;
      }
      /* The taps reaching row r, phase q. */
      int64_t nt = 0;
      for (int64_t i = 0; i < kh; i++) {
        int64_t ro = r - i * dh;
        if (ro < 0 || ro % sh != 0 || ro / sh >= ho) continue;
        const float *wr = wk + i * kw;
        int64_t rbase = (ro / sh) * ds + margin;
        for (int64_t e = jfirst[q]; e < jfirst[q] + jcount[q]; e++) {
          tofs[nt] = rbase - jshift[e];
          tw[nt] = wr[jlist[e]];
          nt++;
        }
      }
      for (int64_t jj = 0; jj < g.wq; jj += LC_DW_V * LC_VL) {
        vf acc[LC_DW_V];
        LC_UNROLL
        for (int v = 0; v < LC_DW_V; v++) acc[v] = vzero();
        for (int64_t t = 0; t < nt; t++) {
          vf wv = vsplat(tw[t]);
          const float *src = dyb + tofs[t] + jj;
          LC_UNROLL
          for (int v = 0; v < LC_DW_V; v++) acc[v] += wv * vload(src + v * LC_VL);
        }
        LC_UNROLL
        for (int v = 0; v < LC_DW_V; v++)
          if (jj + v * LC_VL < g.wq) vstore(dst + jj + v * LC_VL, acc[v]);
      }
    }
  }
}

LC_ISA_DISPATCH(dw_bwd_plane,
                (const conv_problem *p, const float *dyb, int64_t ds,
                 int64_t margin, const float *wk, float *buf, lc_plane g),
                (p, dyb, ds, margin, wk, buf, g), dw_bwd_plane_body)

/* d[0, ds) = zeros with s[0, n) at d + margin (ds and margin multiples of
 * 16, margin + n <= ds). */
static inline LC_INLINE void dw_copy_row_body(float *d, const float *s,
                                              int64_t ds, int64_t margin,
                                              int64_t n) {
  for (int64_t j = 0; j < ds; j += LC_VL) vstore(d + j, vzero());
  int64_t k = 0;
  for (; k + LC_VL <= n; k += LC_VL) vstore(d + margin + k, vload(s + k));
  for (; k < n; k++) d[margin + k] = s[k];
}

LC_ISA_DISPATCH(dw_copy_row,
                (float *d, const float *s, int64_t ds, int64_t margin,
                 int64_t n),
                (d, s, ds, margin, n), dw_copy_row_body)

/* acc[k] += sum over the plane of dy * x at tap taps[k] (row offset rofs,
 * phase q, column offset cofs). dyb rows have stride ds, zero-tailed. */
static inline LC_INLINE void dw_wgrad_plane_body(
    const conv_problem *p, const float *dyb, int64_t ds, const float *buf,
    lc_plane g, const int64_t *rofs, const int64_t *q, const int64_t *cofs,
    float *out) {
  const int64_t sh = p->stride_h, ho = p->h_out, wo = p->w_out;
  vf acc[LC_DW_NT];
  LC_UNROLL
  for (int k = 0; k < LC_DW_NT; k++) acc[k] = vzero();
  for (int64_t oh = 0; oh < ho; oh++) {
    const float *dyr = dyb + oh * ds;
    const float *rows[LC_DW_NT];
    LC_UNROLL
    for (int k = 0; k < LC_DW_NT; k++)
      rows[k] = lc_plane_row((float *)buf, g, q[k], oh * sh + rofs[k]) + cofs[k];
    for (int64_t ow = 0; ow < wo; ow += LC_VL) {
      vf d = vload(dyr + ow);
      LC_UNROLL
      for (int k = 0; k < LC_DW_NT; k++) acc[k] += d * vload(rows[k] + ow);
    }
  }
  LC_UNROLL
  for (int k = 0; k < LC_DW_NT; k++) out[k] = vsum(acc[k]);
}

LC_ISA_DISPATCH(dw_wgrad_plane,
                (const conv_problem *p, const float *dyb, int64_t ds,
                 const float *buf, lc_plane g, const int64_t *rofs,
                 const int64_t *q, const int64_t *cofs, float *out),
                (p, dyb, ds, buf, g, rofs, q, cofs, out), dw_wgrad_plane_body)
