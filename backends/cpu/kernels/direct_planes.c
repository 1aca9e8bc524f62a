/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The direct algorithm's plane kernels (algorithms/direct.c), compiled per
 * ISA level: a forward output plane (any kernel; all nine taps of a 3x3 in
 * one pass), a backward-data input plane, and the weight gradient of one
 * (output channel, input channel) pair, as rows of partial sums or as dot
 * products. They read the input through the padding maps (helpers.h).
 */
#include <stdint.h>
#include <string.h>

#include "helpers.h"
#include "kernels.h"
#include "simd.h"

/* A row of zeros standing for a zero-padded input row, so the fused 3x3
 * kernels need no test per row. */
static const float zero_row[LC_DIRECT_3X3_MAX_W];

/* The common interior of the three column taps of a 3-wide kernel. */
static void common3(const cpu_maps *m, int64_t *lo, int64_t *hi) {
  int64_t l = m->col_lo[0], h = m->col_hi[0];
  for (int b = 1; b < 3; b++) {
    if (m->col_lo[b] > l) l = m->col_lo[b];
    if (m->col_hi[b] < h) h = m->col_hi[b];
  }
  *lo = l;
  *hi = h > l ? h : l;
}

/* y (one plane) = bias + sum over the group's channels and taps. x is the
 * group's first input channel of this image, w the output channel's
 * (cin_g, kh, kw) weights. */
static inline LC_INLINE void fwd_plane_body(const conv_problem *p, const cpu_maps *m,
                      const float *restrict x, const float *restrict w,
                      float bias, float *restrict y) {
  const int64_t cin_g = p->c_in / p->groups;
  const int64_t h_out = p->h_out, w_out = p->w_out, kh = p->kh, kw = p->kw;
  const int64_t sw = p->stride_w, wi = p->w;
  const size_t hw = (size_t)p->h * (size_t)wi;
  /* Stride-1, 3-wide kernels: the three taps of a row fused in one pass. */
  const int fuse3 = kw == 3 && sw == 1;
  int64_t lo3 = 0, hi3 = 0;
  if (fuse3) {
    lo3 = m->col_lo[0];
    hi3 = m->col_hi[0];
    for (int b = 1; b < 3; b++) {
      if (m->col_lo[b] > lo3) lo3 = m->col_lo[b];
      if (m->col_hi[b] < hi3) hi3 = m->col_hi[b];
    }
    if (hi3 < lo3) hi3 = lo3;
  }

  for (int64_t oh = 0; oh < h_out; oh++) {
    float *restrict yr = y + oh * w_out;
    for (int64_t ow = 0; ow < w_out; ow++) yr[ow] = bias;
    for (int64_t c = 0; c < cin_g; c++) {
      const float *xc = x + (size_t)c * hw;
      const float *wc = w + c * kh * kw;
      for (int64_t a = 0; a < kh; a++) {
        const int64_t r = m->row[a * h_out + oh];
        if (r < 0) continue;
        const float *restrict xr = xc + r * wi;
        const float *wr = wc + a * kw;
        if (fuse3) {
          const float w0 = wr[0], w1 = wr[1], w2 = wr[2];
          const float *restrict x0 = xr + m->col_off[0];
          const float *restrict x1 = xr + m->col_off[1];
          const float *restrict x2 = xr + m->col_off[2];
#pragma omp simd
          for (int64_t ow = lo3; ow < hi3; ow++)
            yr[ow] += w0 * x0[ow] + w1 * x1[ow] + w2 * x2[ow];
          /* The rest, tap by tap through the map. */
          for (int64_t ow = 0; ow < w_out; ow++) {
            if (ow == lo3) ow = hi3;
            if (ow >= w_out) break;
            for (int b = 0; b < 3; b++) {
              const int64_t s = m->col[b * w_out + ow];
              if (s >= 0) yr[ow] += wr[b] * xr[s];
            }
          }
          continue;
        }
        for (int64_t b = 0; b < kw; b++) {
          const float wv = wr[b];
          const int64_t lo = m->col_lo[b], hi = m->col_hi[b];
          const int64_t off = m->col_off[b];
          const int64_t *col = m->col + b * w_out;
          for (int64_t ow = 0; ow < lo; ow++)
            if (col[ow] >= 0) yr[ow] += wv * xr[col[ow]];
          if (sw == 1) {
            const float *restrict xs = xr + off;
#pragma omp simd
            for (int64_t ow = lo; ow < hi; ow++) yr[ow] += wv * xs[ow];
          } else {
            for (int64_t ow = lo; ow < hi; ow++)
              yr[ow] += wv * xr[ow * sw + off];
          }
          for (int64_t ow = hi; ow < w_out; ow++)
            if (col[ow] >= 0) yr[ow] += wv * xr[col[ow]];
        }
      }
    }
  }
}

LC_ISA_DISPATCH(direct_fwd_plane,
                (const conv_problem *p, const cpu_maps *m,
                      const float *restrict x, const float *restrict w,
                      float bias, float *restrict y),
                (p, m, x, w, bias, y), fwd_plane_body)

/* fwd_plane for 3x3 kernels with stride_w 1 or 2 and w <= LC_DIRECT_3X3_MAX_W: all
 * nine taps of an input channel in one pass over the output row. */
static inline LC_INLINE void fwd_plane_3x3_body(const conv_problem *p, const cpu_maps *m,
                          const float *restrict x, const float *restrict w,
                          float bias, float *restrict y) {
  const int64_t cin_g = p->c_in / p->groups;
  const int64_t h_out = p->h_out, w_out = p->w_out;
  const int64_t sw = p->stride_w, wi = p->w;
  const size_t hw = (size_t)p->h * (size_t)wi;
  const int64_t o0 = m->col_off[0], o1 = m->col_off[1], o2 = m->col_off[2];
  int64_t lo, hi;
  common3(m, &lo, &hi);
  for (int64_t oh = 0; oh < h_out; oh++) {
    float *restrict yr = y + oh * w_out;
    for (int64_t ow = 0; ow < w_out; ow++) yr[ow] = bias;
    for (int64_t c = 0; c < cin_g; c++) {
      const float *xc = x + (size_t)c * hw;
      const float *wc = w + c * 9;
      const float *rows[3];
      for (int a = 0; a < 3; a++) {
        const int64_t r = m->row[a * h_out + oh];
        rows[a] = r < 0 ? zero_row : xc + r * wi;
      }
      const float *restrict x0 = rows[0], *restrict x1 = rows[1],
                            *restrict x2 = rows[2];
      const float w00 = wc[0], w01 = wc[1], w02 = wc[2], w10 = wc[3],
                  w11 = wc[4], w12 = wc[5], w20 = wc[6], w21 = wc[7],
                  w22 = wc[8];
      if (sw == 1) {
#pragma omp simd
        for (int64_t ow = lo; ow < hi; ow++)
          yr[ow] += w00 * x0[ow + o0] + w01 * x0[ow + o1] + w02 * x0[ow + o2] +
                    w10 * x1[ow + o0] + w11 * x1[ow + o1] + w12 * x1[ow + o2] +
                    w20 * x2[ow + o0] + w21 * x2[ow + o1] + w22 * x2[ow + o2];
      } else {
#pragma omp simd
        for (int64_t ow = lo; ow < hi; ow++) {
          const int64_t i = ow * 2;
          yr[ow] += w00 * x0[i + o0] + w01 * x0[i + o1] + w02 * x0[i + o2] +
                    w10 * x1[i + o0] + w11 * x1[i + o1] + w12 * x1[i + o2] +
                    w20 * x2[i + o0] + w21 * x2[i + o1] + w22 * x2[i + o2];
        }
      }
      for (int64_t ow = 0; ow < w_out; ow++) {
        if (ow == lo) ow = hi;
        if (ow >= w_out) break;
        for (int a = 0; a < 3; a++)
          for (int b = 0; b < 3; b++) {
            const int64_t sc = m->col[b * w_out + ow];
            if (sc >= 0) yr[ow] += wc[a * 3 + b] * rows[a][sc];
          }
      }
    }
  }
}

LC_ISA_DISPATCH(direct_fwd_plane_3x3,
                (const conv_problem *p, const cpu_maps *m,
                          const float *restrict x, const float *restrict w,
                          float bias, float *restrict y),
                (p, m, x, w, bias, y), fwd_plane_3x3_body)

/* dx (one plane of input channel c of group g) = sum over the group's
 * output channels o of w[o, c] scattered over dy[o]. dy is the group's
 * first output channel of this image; w points at w[g * cout_g, c]. */
static inline LC_INLINE void bwd_data_plane_body(const conv_problem *p, const cpu_maps *m,
                           const float *restrict dy, const float *restrict w,
                           float *restrict dx) {
  const int64_t cin_g = p->c_in / p->groups, cout_g = p->c_out / p->groups;
  const int64_t h_out = p->h_out, w_out = p->w_out, kh = p->kh, kw = p->kw;
  const int64_t sw = p->stride_w, wi = p->w;
  const size_t hw = (size_t)p->h * (size_t)wi;
  const size_t ohw = (size_t)h_out * (size_t)w_out;
  /* kw == 3, stride 1: input columns s in [s_lo, s_hi) get all three taps
   * from interior output columns s - off[b]. */
  const int fuse3 = kw == 3 && sw == 1;
  int64_t s_lo = 0, s_hi = 0, o0 = 0, o1 = 0, o2 = 0;
  if (fuse3) {
    o0 = m->col_off[0];
    o1 = m->col_off[1];
    o2 = m->col_off[2];
    s_lo = m->col_lo[0] + o0;
    s_hi = m->col_hi[0] + o0;
    for (int b = 1; b < 3; b++) {
      if (m->col_lo[b] + m->col_off[b] > s_lo) s_lo = m->col_lo[b] + m->col_off[b];
      if (m->col_hi[b] + m->col_off[b] < s_hi) s_hi = m->col_hi[b] + m->col_off[b];
    }
    if (s_hi < s_lo) s_hi = s_lo;
  }
  memset(dx, 0, hw * sizeof *dx);
  for (int64_t o = 0; o < cout_g; o++) {
    const float *dyo = dy + (size_t)o * ohw;
    const float *wo = w + o * cin_g * kh * kw;
    for (int64_t oh = 0; oh < h_out; oh++) {
      const float *restrict dyr = dyo + oh * w_out;
      for (int64_t a = 0; a < kh; a++) {
        const int64_t r = m->row[a * h_out + oh];
        if (r < 0) continue;
        float *restrict dxr = dx + r * wi;
        const float *wr = wo + a * kw;
        if (fuse3) {
          /* Gather form over input columns s: the three taps that land on
           * s from the interior, then the rest tap by tap. */
          const float w0 = wr[0], w1 = wr[1], w2 = wr[2];
#pragma omp simd
          for (int64_t sc = s_lo; sc < s_hi; sc++)
            dxr[sc] += w0 * dyr[sc - o0] + w1 * dyr[sc - o1] + w2 * dyr[sc - o2];
          for (int64_t b = 0; b < 3; b++) {
            const float wv = wr[b];
            const int64_t lo = m->col_lo[b], hi = m->col_hi[b];
            const int64_t off = m->col_off[b];
            const int64_t *col = m->col + b * w_out;
            for (int64_t ow = 0; ow < lo; ow++)
              if (col[ow] >= 0) dxr[col[ow]] += wv * dyr[ow];
            /* interior columns whose target lies outside [s_lo, s_hi) */
            const int64_t e1 = s_lo - off < hi ? s_lo - off : hi;
            for (int64_t ow = lo; ow < e1; ow++) dxr[ow + off] += wv * dyr[ow];
            const int64_t s2 = s_hi - off > lo ? s_hi - off : lo;
            for (int64_t ow = s2 > e1 ? s2 : e1; ow < hi; ow++)
              dxr[ow + off] += wv * dyr[ow];
            for (int64_t ow = hi; ow < w_out; ow++)
              if (col[ow] >= 0) dxr[col[ow]] += wv * dyr[ow];
          }
          continue;
        }
        for (int64_t b = 0; b < kw; b++) {
          const float wv = wr[b];
          const int64_t lo = m->col_lo[b], hi = m->col_hi[b];
          const int64_t off = m->col_off[b];
          const int64_t *col = m->col + b * w_out;
          for (int64_t ow = 0; ow < lo; ow++)
            if (col[ow] >= 0) dxr[col[ow]] += wv * dyr[ow];
          if (sw == 1) {
            float *restrict ds = dxr + off;
#pragma omp simd
            for (int64_t ow = lo; ow < hi; ow++) ds[ow] += wv * dyr[ow];
          } else {
            for (int64_t ow = lo; ow < hi; ow++)
              dxr[ow * sw + off] += wv * dyr[ow];
          }
          for (int64_t ow = hi; ow < w_out; ow++)
            if (col[ow] >= 0) dxr[col[ow]] += wv * dyr[ow];
        }
      }
    }
  }
}

LC_ISA_DISPATCH(direct_bwd_data_plane,
                (const conv_problem *p, const cpu_maps *m,
                           const float *restrict dy, const float *restrict w,
                           float *restrict dx),
                (p, m, dy, w, dx), bwd_data_plane_body)

/* dw[co, c] (kh * kw floats) = sum over images, rows and columns of
 * dy[n, co] times the shifted x[n, g * cin_g + c]. x and dy point at image
 * 0's planes; acc is bwd_weight_slice() bytes of scratch. */
static inline LC_INLINE void bwd_weight_pair_rows_body(const conv_problem *p, const cpu_maps *m,
                                 const float *restrict x,
                                 const float *restrict dy,
                                 float *restrict dw, float *restrict acc) {
  const int64_t h_out = p->h_out, w_out = p->w_out, kh = p->kh, kw = p->kw;
  const int64_t sw = p->stride_w, wi = p->w;
  const size_t hw = (size_t)p->h * (size_t)wi;
  const size_t ohw = (size_t)h_out * (size_t)w_out;
  const int fuse3 = kw == 3 && sw == 1;
  int64_t lo3 = 0, hi3 = 0;
  if (fuse3) common3(m, &lo3, &hi3);
  const int64_t o0 = m->col_off[0];
  const int64_t o1 = kw > 1 ? m->col_off[1] : 0;
  const int64_t o2 = kw > 2 ? m->col_off[2] : 0;
  memset(acc, 0, (size_t)(kh * kw * w_out) * sizeof *acc);
  for (int64_t n = 0; n < p->n; n++) {
    const float *xn = x + (size_t)n * (size_t)p->c_in * hw;
    const float *dyn = dy + (size_t)n * (size_t)p->c_out * ohw;
    for (int64_t oh = 0; oh < h_out; oh++) {
      const float *restrict dyr = dyn + oh * w_out;
      for (int64_t a = 0; a < kh; a++) {
        const int64_t r = m->row[a * h_out + oh];
        if (r < 0) continue;
        const float *restrict xr = xn + r * wi;
        float *restrict acc_a = acc + a * kw * w_out;
        if (fuse3) {
          float *restrict t0 = acc_a, *restrict t1 = acc_a + w_out,
                          *restrict t2 = acc_a + 2 * w_out;
#pragma omp simd
          for (int64_t ow = lo3; ow < hi3; ow++) {
            const float d = dyr[ow];
            t0[ow] += d * xr[ow + o0];
            t1[ow] += d * xr[ow + o1];
            t2[ow] += d * xr[ow + o2];
          }
          for (int64_t ow = 0; ow < w_out; ow++) {
            if (ow == lo3) ow = hi3;
            if (ow >= w_out) break;
            for (int b = 0; b < 3; b++) {
              const int64_t sc = m->col[b * w_out + ow];
              if (sc >= 0) acc_a[b * w_out + ow] += dyr[ow] * xr[sc];
            }
          }
          continue;
        }
        for (int64_t b = 0; b < kw; b++) {
          const int64_t lo = m->col_lo[b], hi = m->col_hi[b];
          const int64_t off = m->col_off[b];
          const int64_t *col = m->col + b * w_out;
          float *restrict tb = acc_a + b * w_out;
          for (int64_t ow = 0; ow < lo; ow++)
            if (col[ow] >= 0) tb[ow] += dyr[ow] * xr[col[ow]];
          if (sw == 1) {
#pragma omp simd
            for (int64_t ow = lo; ow < hi; ow++) tb[ow] += dyr[ow] * xr[ow + off];
          } else {
            for (int64_t ow = lo; ow < hi; ow++) tb[ow] += dyr[ow] * xr[ow * sw + off];
          }
          for (int64_t ow = hi; ow < w_out; ow++)
            if (col[ow] >= 0) tb[ow] += dyr[ow] * xr[col[ow]];
        }
      }
    }
  }
  for (int64_t i = 0; i < kh * kw; i++) {
    const float *t = acc + i * w_out;
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    int64_t ow = 0;
    for (; ow + 4 <= w_out; ow += 4) {
      s0 += t[ow];
      s1 += t[ow + 1];
      s2 += t[ow + 2];
      s3 += t[ow + 3];
    }
    for (; ow < w_out; ow++) s0 += t[ow];
    dw[i] = (float)((s0 + s1) + (s2 + s3));
  }
}

LC_ISA_DISPATCH(direct_bwd_weight_pair_rows,
                (const conv_problem *p, const cpu_maps *m,
                                 const float *restrict x,
                                 const float *restrict dy,
                                 float *restrict dw, float *restrict acc),
                (p, m, x, dy, dw, acc), bwd_weight_pair_rows_body)

/* The fallback for wide rows: a float dot product per row and tap, summed
 * in float64 (acc: kh * kw doubles). */
static inline LC_INLINE void bwd_weight_pair_dot_body(const conv_problem *p, const cpu_maps *m,
                                const float *restrict x,
                                const float *restrict dy,
                                float *restrict dw, double *restrict acc) {
  const int64_t h_out = p->h_out, w_out = p->w_out, kh = p->kh, kw = p->kw;
  const int64_t sw = p->stride_w, wi = p->w;
  const size_t hw = (size_t)p->h * (size_t)wi;
  const size_t ohw = (size_t)h_out * (size_t)w_out;
  for (int64_t i = 0; i < kh * kw; i++) acc[i] = 0.0;
  for (int64_t n = 0; n < p->n; n++) {
    const float *xn = x + (size_t)n * (size_t)p->c_in * hw;
    const float *dyn = dy + (size_t)n * (size_t)p->c_out * ohw;
    for (int64_t oh = 0; oh < h_out; oh++) {
      const float *restrict dyr = dyn + oh * w_out;
      for (int64_t a = 0; a < kh; a++) {
        const int64_t r = m->row[a * h_out + oh];
        if (r < 0) continue;
        const float *restrict xr = xn + r * wi;
        for (int64_t b = 0; b < kw; b++) {
          const int64_t lo = m->col_lo[b], hi = m->col_hi[b];
          const int64_t off = m->col_off[b];
          const int64_t *col = m->col + b * w_out;
          float s = 0.0f;
          if (sw == 1) {
            const float *restrict xs = xr + off;
#pragma omp simd reduction(+ : s)
            for (int64_t ow = lo; ow < hi; ow++) s += dyr[ow] * xs[ow];
          } else {
            for (int64_t ow = lo; ow < hi; ow++) s += dyr[ow] * xr[ow * sw + off];
          }
          for (int64_t ow = 0; ow < lo; ow++)
            if (col[ow] >= 0) s += dyr[ow] * xr[col[ow]];
          for (int64_t ow = hi; ow < w_out; ow++)
            if (col[ow] >= 0) s += dyr[ow] * xr[col[ow]];
          acc[a * kw + b] += (double)s;
        }
      }
    }
  }
  for (int64_t i = 0; i < kh * kw; i++) dw[i] = (float)acc[i];
}

LC_ISA_DISPATCH(direct_bwd_weight_pair_dot,
                (const conv_problem *p, const cpu_maps *m,
                                const float *restrict x,
                                const float *restrict dy,
                                float *restrict dw, double *restrict acc),
                (p, m, x, dy, dw, acc), bwd_weight_pair_dot_body)
