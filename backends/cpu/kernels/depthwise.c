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

/* ------------------------------------------------ zero-padded fast path
 *
 * For zero padding, dilation 1, kernels 3x3 and 5x5 and strides 1 and 2
 * (dw_fused_ok), a plane is computed with the padded buffer's borders left
 * zero from one plane to the next: only the interior rows are copied, and
 * they are copied as the output rows come to need them, so the loads of x
 * from memory interleave with arithmetic. Output rows of at least 16
 * floats are computed as whole vectors whose last one overlaps the one
 * before it (the same values are stored twice), so no store is partial;
 * narrower rows are one vector each, stored whole over the start of the
 * next rows (stored after it), the plane's last rows partially.
 */

/* d[0, n) = s[0, n): whole vectors, the last overlapping. */
static inline LC_INLINE void dw_copy_over(float *d, const float *s,
                                          int64_t n) {
  if (n < LC_VL) {
    for (int64_t k = 0; k < n; k++) d[k] = s[k];
    return;
  }
  int64_t k = 0;
  for (; k + LC_VL <= n; k += LC_VL) vstore(d + k, vload(s + k));
  if (k < n) vstore(d + n - LC_VL, vload(s + n - LC_VL));
}

/* Even lanes of the 32 floats at s. */
#if defined(__clang__)
#  define dw_even32(s)                                                      \
    __builtin_shufflevector(vload(s), vload((s) + LC_VL), 0, 2, 4, 6, 8, 10, \
                            12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
#else
typedef int32_t dw_vi __attribute__((vector_size(64)));
#  define dw_even32(s)                                                      \
    __builtin_shuffle(vload(s), vload((s) + LC_VL),                         \
                      (dw_vi){0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, \
                              26, 28, 30})
#endif

/* d[k] = s[2 k] for k < n, reading nothing at or past s[avail]. */
static inline LC_INLINE void dw_copy_even(float *d, const float *s, int64_t n,
                                          int64_t avail) {
  int64_t k = 0;
  if (n >= LC_VL && avail >= 2 * LC_VL) {
    for (; k + LC_VL <= n && 2 * k + 2 * LC_VL <= avail; k += LC_VL)
      vstore(d + k, dw_even32(s + 2 * k));
    if (k < n) {
      int64_t kl = n - LC_VL;
      if (2 * kl + 2 * LC_VL > avail) kl = (avail - 2 * LC_VL) / 2;
      if (kl > k - LC_VL) {
        vstore(d + kl, dw_even32(s + 2 * kl));
        k = kl + LC_VL;
      }
    }
  }
  for (; k < n; k++) d[k] = s[2 * k];
}

/* Rows this far ahead of the one being copied are prefetched: DRAM's
 * latency is several row blocks of arithmetic. */
#define DW_PF_ROWS 8

/* Prefetches row i of the h x w plane x, or row i - h of the plane next
 * (NULL: none) when i >= h. Rows of fewer than 32 floats are left to the
 * hardware (a prefetch per row would cost more than it saves). */
static inline LC_INLINE void dw_prefetch_row(const float *x, const float *next,
                                             int64_t i, int64_t h, int64_t w) {
  const float *row;
  if (w < 2 * LC_VL) return;
  if (i < h)
    row = x + i * w;
  else if (next != NULL && i - h < h)
    row = next + (i - h) * w;
  else
    return;
  const char *a = (const char *)row;
  for (int64_t b = 0; b < w * (int64_t)sizeof(float) + 63; b += 64)
    __builtin_prefetch(a + b, 0, 3);
}

/* Copies the interior of padded rows [r0, r1) of the h x w plane x into
 * buf (layout g); borders are not written. Prefetches the rows DW_PF_ROWS
 * output rows further on (in xnext past the plane's end). */
static inline LC_INLINE void dw_fill_rows(const conv_problem *p,
                                          const float *x,
                                          const float *xnext, float *buf,
                                          lc_plane g, int64_t r0,
                                          int64_t r1) {
  const int64_t pt = p->pad_t, pl = p->pad_l, h = p->h, w = p->w;
  if (r0 < pt) r0 = pt;
  if (r1 > pt + h) r1 = pt + h;
  for (int64_t r = r0; r < r1; r++) {
    dw_prefetch_row(x, xnext, r - pt + DW_PF_ROWS * p->stride_h, h, w);
    const float *s = x + (r - pt) * w;
    if (g.sw == 1) {
      dw_copy_over(lc_plane_row(buf, g, 0, r) + pl, s, w);
      continue;
    }
    for (int64_t q = 0; q < g.sw; q++) {
      /* padded columns c = j sw + q with pl <= c < pl + w */
      int64_t jlo = pl > q ? (pl - q + g.sw - 1) / g.sw : 0;
      int64_t jhi = (pl + w - q + g.sw - 1) / g.sw;
      if (jhi <= jlo) continue;
      int64_t c0 = jlo * g.sw + q - pl; /* x column of jlo */
      float *d = lc_plane_row(buf, g, q, r) + jlo;
      if (g.sw == 2)
        dw_copy_even(d, s + c0, jhi - jlo, w - c0);
      else
        for (int64_t j = 0; j < jhi - jlo; j++) d[j] = s[c0 + j * g.sw];
    }
  }
}

/* One block: R output rows from row b0 (the buffer at the block's first
 * input row) at the V column starts ow[v], taps KH x KW, strides SH, SW.
 * Input rows are loaded once per column shift and used by every output
 * row they reach. nr rows are stored, the first nfull as whole vectors;
 * the others (narrow rows only, V = 1) as their wo floats. bsp holds the
 * bias broadcast to a vector: with vsplat(bias) here GCC 12 built every
 * accumulator lane by lane (16 masked moves per vector and block). */
static inline LC_INLINE void dw_fwd_blk(const float *b0, int64_t wq,
                                        int64_t ps, const float *wk,
                                        const float *bsp, float *y,
                                        int64_t wo, const int64_t *ow,
                                        int64_t nr,
                                        int64_t nfull, const int KH,
                                        const int KW,
                                        const int SH, const int SW,
                                        const int R, const int V) {
  vf acc[4][4];
  LC_UNROLL
  for (int r = 0; r < R; r++)
    LC_UNROLL
    for (int v = 0; v < V; v++) acc[r][v] = vload(bsp);
  LC_UNROLL
  for (int ir = 0; ir < (R - 1) * SH + KH; ir++) {
    LC_UNROLL
    for (int j = 0; j < KW; j++) {
      const float *src = b0 + (j % SW) * ps + ir * wq + j / SW;
      LC_UNROLL
      for (int v = 0; v < V; v++) {
        vf xv = vload(src + ow[v]);
        LC_UNROLL
        for (int r = 0; r < R; r++) {
          const int i = ir - r * SH;
          if (i >= 0 && i < KH) acc[r][v] += vsplat(wk[i * KW + j]) * xv;
        }
      }
    }
  }
  LC_UNROLL
  for (int r = 0; r < R; r++) {
    if (r < nfull) {
      LC_UNROLL
      for (int v = 0; v < V; v++) vstore(y + r * wo + ow[v], acc[r][v]);
    } else if (r < nr) {
      vstore_n(y + r * wo, acc[r][0], wo);
    }
  }
}

#define DW_R 4

static inline LC_INLINE void dw_fwd_fused_t(const conv_problem *p,
                                            const float *x,
                                            const float *xnext, float *buf,
                                            lc_plane g, const float *wk,
                                            float bias, float *y,
                                            const int KH, const int KW,
                                            const int SH, const int SW) {
  const int64_t ho = p->h_out, wo = p->w_out, wq = g.wq;
  const int64_t ps = g.rows * g.wq;
  const int64_t nvec = (wo + LC_VL - 1) / LC_VL;
  float bsp[LC_VL];
  vstore(bsp, vsplat(bias));
  int64_t filled = 0;
  for (int64_t oh = 0; oh < ho; oh += DW_R) {
    const int64_t need = (oh + DW_R - 1) * SH + KH;
    if (need > filled) {
      dw_fill_rows(p, x, xnext, buf, g, filled, need);
      filled = need;
    }
    const int64_t nr = ho - oh < DW_R ? ho - oh : DW_R;
    const float *b0 = buf + oh * SH * wq;
    float *yr = y + oh * wo;
    int64_t k = 0, ow[4];
    for (; k + 4 <= nvec; k += 4) {
      for (int v = 0; v < 4; v++)
        ow[v] = (k + v) * LC_VL < wo - LC_VL ? (k + v) * LC_VL : wo - LC_VL;
      dw_fwd_blk(b0, wq, ps, wk, bsp, yr, wo, ow, nr, nr, KH, KW, SH, SW, DW_R, 4);
    }
    for (; k + 2 <= nvec; k += 2) {
      for (int v = 0; v < 2; v++)
        ow[v] = (k + v) * LC_VL < wo - LC_VL ? (k + v) * LC_VL : wo - LC_VL;
      dw_fwd_blk(b0, wq, ps, wk, bsp, yr, wo, ow, nr, nr, KH, KW, SH, SW, DW_R, 2);
    }
    if (wo < LC_VL) {
      /* A row's whole vector runs into the rows after it, which are
       * stored after it; rows with fewer than 16 floats of the plane from
       * their start are stored as their wo floats. */
      int64_t nfull = ho - oh - (LC_VL + wo - 1) / wo + 1;
      nfull = nfull < 0 ? 0 : nfull > nr ? nr : nfull;
      ow[0] = 0;
      dw_fwd_blk(b0, wq, ps, wk, bsp, yr, wo, ow, nr, nfull, KH, KW, SH,
                 SW, DW_R, 1);
      continue;
    }
    for (; k < nvec; k++) {
      ow[0] = k * LC_VL < wo - LC_VL ? k * LC_VL : wo - LC_VL;
      dw_fwd_blk(b0, wq, ps, wk, bsp, yr, wo, ow, nr, nr, KH, KW, SH, SW, DW_R, 1);
    }
  }
}

/* The shapes dw_fwd_fused serves (see dw_fused_ok in direct_dw.c). */
static inline LC_INLINE void dw_fwd_fused_body(const conv_problem *p,
                                               const float *x,
                                               const float *xnext, float *buf,
                                               lc_plane g, const float *wk,
                                               float bias, float *y) {
  if (p->kh == 3 && p->stride_h == 1)
    dw_fwd_fused_t(p, x, xnext, buf, g, wk, bias, y, 3, 3, 1, 1);
  else if (p->kh == 3)
    dw_fwd_fused_t(p, x, xnext, buf, g, wk, bias, y, 3, 3, 2, 2);
  else if (p->stride_h == 1)
    dw_fwd_fused_t(p, x, xnext, buf, g, wk, bias, y, 5, 5, 1, 1);
  else
    dw_fwd_fused_t(p, x, xnext, buf, g, wk, bias, y, 5, 5, 2, 2);
}

LC_ISA_DISPATCH(dw_fwd_fused,
                (const conv_problem *p, const float *x, const float *xnext,
                 float *buf, lc_plane g, const float *wk, float bias,
                 float *y),
                (p, x, xnext, buf, g, wk, bias, y), dw_fwd_fused_body)

/* Weight gradient of one plane on the zero-padded path: out[i KW + j] =
 * sum over (oh, ow) of dy[oh][ow] * xpad[oh SH + i][ow SW + j]. x's
 * interior rows are copied into buf (borders zero) and dy's rows into dyb
 * (rows of ds floats, zero past w_out and past h_out) as the row blocks
 * need them. Per tap one vector accumulator over the plane, summed in a
 * fixed order at the end; each input row vector is loaded once per column
 * shift and used by every output row of the block that it reaches. */
static inline LC_INLINE void dw_wgrad_fused_t(const conv_problem *p,
                                              const float *x,
                                              const float *xnext,
                                              const float *dy,
                                              const float *dynext, float *buf,
                                              lc_plane g, float *dyb,
                                              int64_t ds, float *out,
                                              const int KH, const int KW,
                                              const int SH, const int SW) {
  const int R = DW_R;
  const int64_t ho = p->h_out, wo = p->w_out, wq = g.wq;
  const int64_t ps = g.rows * g.wq;
  vf acc[KH * KW];
  LC_UNROLL
  for (int k = 0; k < KH * KW; k++) acc[k] = vzero();
  int64_t filled = 0;
  for (int64_t oh = 0; oh < ho; oh += R) {
    const int64_t need = (oh + R - 1) * SH + KH;
    if (need > filled) {
      dw_fill_rows(p, x, xnext, buf, g, filled, need);
      filled = need;
    }
    const int64_t nr = ho - oh < R ? ho - oh : R;
    for (int64_t r = 0; r < nr; r++) {
      dw_prefetch_row(dy, dynext, oh + r + DW_PF_ROWS, ho, wo);
      dw_copy_over(dyb + (oh + r) * ds, dy + (oh + r) * wo, wo);
    }
    const float *b0 = buf + oh * SH * wq;
    const float *d0 = dyb + oh * ds;
    for (int64_t ow = 0; ow < wo; ow += LC_VL) {
      vf d[DW_R];
      LC_UNROLL
      for (int r = 0; r < R; r++) d[r] = vload(d0 + r * ds + ow);
      LC_UNROLL
      for (int ir = 0; ir < (R - 1) * SH + KH; ir++) {
        LC_UNROLL
        for (int j = 0; j < KW; j++) {
          vf xv = vload(b0 + (j % SW) * ps + ir * wq + j / SW + ow);
          LC_UNROLL
          for (int r = 0; r < R; r++) {
            const int i = ir - r * SH;
            if (i >= 0 && i < KH) acc[i * KW + j] += d[r] * xv;
          }
        }
      }
    }
  }
  LC_UNROLL
  for (int k = 0; k < KH * KW; k++) out[k] = vsum(acc[k]);
}

static inline LC_INLINE void dw_wgrad_fused_body(const conv_problem *p,
                                                 const float *x,
                                                 const float *xnext,
                                                 const float *dy,
                                                 const float *dynext,
                                                 float *buf,
                                                 lc_plane g, float *dyb,
                                                 int64_t ds, float *out) {
  if (p->kh == 3 && p->stride_h == 1)
    dw_wgrad_fused_t(p, x, xnext, dy, dynext, buf, g, dyb, ds, out, 3, 3, 1, 1);
  else if (p->kh == 3)
    dw_wgrad_fused_t(p, x, xnext, dy, dynext, buf, g, dyb, ds, out, 3, 3, 2, 2);
  else if (p->stride_h == 1)
    dw_wgrad_fused_t(p, x, xnext, dy, dynext, buf, g, dyb, ds, out, 5, 5, 1, 1);
  else
    dw_wgrad_fused_t(p, x, xnext, dy, dynext, buf, g, dyb, ds, out, 5, 5, 2, 2);
}

LC_ISA_DISPATCH(dw_wgrad_fused,
                (const conv_problem *p, const float *x, const float *xnext,
                 const float *dy, const float *dynext, float *buf,
                 lc_plane g, float *dyb, int64_t ds, float *out),
                (p, x, xnext, dy, dynext, buf, g, dyb, ds, out),
                dw_wgrad_fused_body)

/* Backward data at stride 2 on the zero-padded path (direct_dw.c,
 * dw_bwd_s2_ok), by output phase: a
 * padded dx row r = 2 m + a takes the kernel rows a, a + 2, ... reading dy
 * rows m, m - 1, ...; in it, the even columns 2 n take the kernel's even
 * columns and the odd ones its odd columns, both reading dy columns n,
 * n - 1, ... So each dx row is two stride-1 correlations of dy with
 * sub-kernels, interleaved lane by lane: no scatter, no FMA on a zero.
 * Two rows of one phase (r, r + 2) are computed together (they share dy
 * rows). dy's rows are copied into dyb (the plane dynext, when not
 * NULL, prefetched meanwhile), whose mt rows above, ml columns
 * left and whatever lies right and below stay zero (rows of ds floats);
 * tmp receives padded columns [0, 32 nvq) of two rows. */

/* Lanes 0-7 of a and b interleaved (a0 b0 a1 b1 ...), and lanes 8-15. */
#if defined(__clang__)
#  define dw_zip_lo(a, b)                                                  \
    __builtin_shufflevector(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, \
                            6, 22, 7, 23)
#  define dw_zip_hi(a, b)                                                  \
    __builtin_shufflevector(a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, \
                            29, 14, 30, 15, 31)
#else
#  define dw_zip_lo(a, b)                                                  \
    __builtin_shuffle(a, b, (dw_vi){0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5,   \
                                    21, 6, 22, 7, 23})
#  define dw_zip_hi(a, b)                                                  \
    __builtin_shuffle(a, b, (dw_vi){8, 24, 9, 25, 10, 26, 11, 27, 12, 28,   \
                                    13, 29, 14, 30, 15, 31})
#endif

/* At the AVX2 level the 16-lane shuffle is lowered poorly: there the zip
 * goes through 8-lane halves (unpacks and a lane permute). Measured, one
 * thread: 3x3 stride 2 C144 56x56 backward data 1.5 -> 2.4 GF/s at AVX2;
 * the generic level lost with it (1.7 -> 1.3) and keeps the shuffle. */
typedef float dw_vh __attribute__((vector_size(32)));
typedef float dw_vhu __attribute__((vector_size(32), aligned(4), may_alias));
#if defined(__clang__)
#  define dw_zip8_lo(a, b) __builtin_shufflevector(a, b, 0, 8, 1, 9, 2, 10, 3, 11)
#  define dw_zip8_hi(a, b) __builtin_shufflevector(a, b, 4, 12, 5, 13, 6, 14, 7, 15)
#else
typedef int32_t dw_vi8 __attribute__((vector_size(32)));
#  define dw_zip8_lo(a, b) __builtin_shuffle(a, b, (dw_vi8){0, 8, 1, 9, 2, 10, 3, 11})
#  define dw_zip8_hi(a, b) __builtin_shuffle(a, b, (dw_vi8){4, 12, 5, 13, 6, 14, 7, 15})
#endif

/* t[0, 32) = a0 b0 a1 b1 ... a15 b15. */
#define dw_zip_store(t, a, b)                                               \
  do {                                                                      \
    float *const dzs_t_ = (t);                                              \
    if (lc_isa_level() != LC_ISA_AVX2) {                                    \
      vstore(dzs_t_, dw_zip_lo(a, b));                                      \
      vstore(dzs_t_ + LC_VL, dw_zip_hi(a, b));                              \
    } else {                                                                \
      float dzs_a_[LC_VL], dzs_b_[LC_VL];                                   \
      vstore(dzs_a_, a);                                                    \
      vstore(dzs_b_, b);                                                    \
      for (int dzs_h_ = 0; dzs_h_ < 2; dzs_h_++) {                          \
        dw_vh dzs_x_ = *(const dw_vhu *)(dzs_a_ + 8 * dzs_h_);              \
        dw_vh dzs_y_ = *(const dw_vhu *)(dzs_b_ + 8 * dzs_h_);              \
        *(dw_vhu *)(dzs_t_ + 16 * dzs_h_) = dw_zip8_lo(dzs_x_, dzs_y_);     \
        *(dw_vhu *)(dzs_t_ + 16 * dzs_h_ + 8) = dw_zip8_hi(dzs_x_, dzs_y_); \
      }                                                                     \
    }                                                                       \
  } while (0)

/* Rows r and r + 2 (phase A = r % 2) of the padded dx, V vectors of
 * phase columns from n0: d0 is dyb at the row of m = r / 2 and column ml
 * + n0. */
static inline LC_INLINE void dw_bwd_s2_blk(const float *d0, int64_t ds,
                                           const float *wk, float *t0,
                                           float *t1, const int KH,
                                           const int KW, const int A,
                                           const int V) {
  vf ea[2][4], ob[2][4];
  LC_UNROLL
  for (int u = 0; u < 2; u++)
    LC_UNROLL
    for (int v = 0; v < V; v++) ea[u][v] = ob[u][v] = vzero();
  /* dy row m + 1 - k, k = 0 .. (KH - 1 - A) / 2 + 1: row r + 2 (u = 1)
   * takes i' = k, row r (u = 0) i' = k - 1. */
  LC_UNROLL
  for (int k = 0; k <= (KH - 1 - A) / 2 + 1; k++) {
    LC_UNROLL
    for (int jj = 0; 2 * jj < KW; jj++) {
      LC_UNROLL
      for (int v = 0; v < V; v++) {
        vf dv = vload(d0 + (1 - k) * ds - jj + v * LC_VL);
        LC_UNROLL
        for (int u = 0; u < 2; u++) {
          const int ii = k - 1 + u; /* i' of row r + 2 u */
          if (ii < 0 || A + 2 * ii >= KH) continue;
          ea[u][v] += vsplat(wk[(A + 2 * ii) * KW + 2 * jj]) * dv;
          if (2 * jj + 1 < KW)
            ob[u][v] += vsplat(wk[(A + 2 * ii) * KW + 2 * jj + 1]) * dv;
        }
      }
    }
  }
  LC_UNROLL
  for (int v = 0; v < V; v++) {
    dw_zip_store(t0 + 2 * v * LC_VL, ea[0][v], ob[0][v]);
    dw_zip_store(t1 + 2 * v * LC_VL, ea[1][v], ob[1][v]);
  }
}

static inline LC_INLINE void dw_bwd_s2_rows(const float *d0, int64_t ds,
                                            const float *wk, float *t0,
                                            float *t1, int64_t nvq,
                                            const int KH, const int KW,
                                            const int A) {
  int64_t v = 0;
  for (; v + 2 <= nvq; v += 2)
    dw_bwd_s2_blk(d0 + v * LC_VL, ds, wk, t0 + 2 * v * LC_VL,
                  t1 + 2 * v * LC_VL, KH, KW, A, 2);
  for (; v < nvq; v++)
    dw_bwd_s2_blk(d0 + v * LC_VL, ds, wk, t0 + 2 * v * LC_VL,
                  t1 + 2 * v * LC_VL, KH, KW, A, 1);
}

static inline LC_INLINE void dw_bwd_s2_t(const conv_problem *p,
                                         const float *dynext,
                                         const float *dyb, int64_t ds,
                                         int64_t mt, int64_t ml,
                                         const float *wk, float *tmp,
                                         float *dx, const int KH,
                                         const int KW) {
  const int64_t h = p->h, w = p->w, pt = p->pad_t, pl = p->pad_l;
  const int64_t nvq = ((pl + w + 1) / 2 + LC_VL - 1) / LC_VL;
  float *t1 = tmp + 2 * nvq * LC_VL;
  /* Rows ih and ih + 2 for ih = 4 s, 4 s + 1. */
  for (int64_t i4 = 0; i4 < h; i4 += 4) {
    /* the next plane's dy, two rows per four dx rows */
    if (dynext != NULL)
      for (int64_t k = i4 / 2; k < i4 / 2 + 2 && k < p->h_out; k++)
        dw_prefetch_row(dynext, NULL, k, p->h_out, p->w_out);
    for (int64_t e = 0; e < 2 && i4 + e < h; e++) {
      const int64_t ih = i4 + e, r = ih + pt;
      const float *d0 = dyb + (r / 2 + mt) * ds + ml;
      if (r % 2 == 0)
        dw_bwd_s2_rows(d0, ds, wk, tmp, t1, nvq, KH, KW, 0);
      else
        dw_bwd_s2_rows(d0, ds, wk, tmp, t1, nvq, KH, KW, 1);
      dw_copy_over(dx + ih * w, tmp + pl, w);
      if (ih + 2 < h) dw_copy_over(dx + (ih + 2) * w, t1 + pl, w);
    }
  }
}

static inline LC_INLINE void dw_bwd_s2_body(const conv_problem *p,
                                            const float *dy,
                                            const float *dynext, float *dyb,
                                            int64_t ds, int64_t mt,
                                            int64_t ml, const float *wk,
                                            float *tmp, float *dx) {
  for (int64_t oh = 0; oh < p->h_out; oh++)
    dw_copy_over(dyb + (oh + mt) * ds + ml, dy + oh * p->w_out, p->w_out);
  if (p->kh == 3)
    dw_bwd_s2_t(p, dynext, dyb, ds, mt, ml, wk, tmp, dx, 3, 3);
  else
    dw_bwd_s2_t(p, dynext, dyb, ds, mt, ml, wk, tmp, dx, 5, 5);
}

LC_ISA_DISPATCH(dw_bwd_s2,
                (const conv_problem *p, const float *dy, const float *dynext,
                 float *dyb, int64_t ds, int64_t mt, int64_t ml,
                 const float *wk, float *tmp, float *dx),
                (p, dy, dynext, dyb, ds, mt, ml, wk, tmp, dx),
                dw_bwd_s2_body)
