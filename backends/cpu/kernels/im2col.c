/* SPDX-License-Identifier: Apache-2.0 */
/*
 * im2col_gemm's lowering kernels (algorithms/im2col_gemm.c), compiled per
 * ISA level: im2col_lower copies rows k0..k1 and positions p0..p1 of the
 * lowered input (one row per channel and tap, one column per output
 * position) through the padding maps (helpers.h); im2col_col2im adds such
 * a block back into the input gradient, in a fixed order.
 */
#include <stdint.h>
#include <string.h>

#include "helpers.h"
#include "simd.h"

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* cols[(k - k0) * ld + q - p0] for k in [k0, k1), q in [p0, p1) = the
 * input value that lowered row k meets at output position q (0 in a zero
 * border); ld >= p1 - p0. x is the group's first channel of one image. */
static inline LC_INLINE void lower_body(const conv_problem *p, const cpu_maps *m,
                  const float *restrict x, int64_t k0, int64_t k1, int64_t p0,
                  int64_t p1, float *restrict cols, int64_t ld) {
  const int64_t kh = p->kh, kw = p->kw, khw = kh * kw;
  const int64_t h_out = p->h_out, w_out = p->w_out, wi = p->w;
  const int64_t sw = p->stride_w;
  const size_t hw = (size_t)p->h * (size_t)wi;
  for (int64_t k = k0; k < k1; k++) {
    const int64_t c = k / khw, a = (k / kw) % kh, b = k % kw;
    const float *xc = x + (size_t)c * hw;
    float *restrict dst = cols + (k - k0) * ld;
    const int64_t lo = m->col_lo[b], hi = m->col_hi[b], off = m->col_off[b];
    const int64_t *col = m->col + b * w_out;
    int64_t q = p0, oh = p0 / w_out, ow = p0 % w_out;
    while (q < p1) {
      const int64_t end = min64(w_out, ow + (p1 - q));
      const int64_t r = m->row[a * h_out + oh];
      float *restrict d = dst - ow; /* d[j] for j in [ow, end) */
      if (r < 0) {
        for (int64_t j = ow; j < end; j++) d[j] = 0.0f;
      } else {
        const float *restrict xr = xc + r * wi;
        const int64_t e1 = min64(lo, end), s2 = max64(ow, lo),
                      e2 = min64(hi, end), s3 = max64(ow, hi);
        for (int64_t j = ow; j < e1; j++) d[j] = col[j] >= 0 ? xr[col[j]] : 0.0f;
        if (sw == 1) {
          if (e2 > s2) memcpy(d + s2, xr + s2 + off, (size_t)(e2 - s2) * sizeof *d);
        } else if (sw == 2 && e2 - s2 >= LC_VL &&
                   r * wi + 2 * e2 + off <= (int64_t)hw) {
          /* Stride 2: the even lanes of 32 floats give 16 outputs. Runs
           * of 16 from s2, the last one ending at e2 (overlapping the one
           * before: the same values again). Reads go from xr[2 s2 + off]
           * (>= 0) to xr[2 e2 + off - 1], which the condition keeps inside
           * the channel plane (it is one past the row where e2 = hi). */
          for (int64_t j = s2;; j += LC_VL) {
            if (j + LC_VL > e2) j = e2 - LC_VL;
            const vf lo_ = vload(xr + 2 * j + off);
            const vf hi_ = vload(xr + 2 * j + off + LC_VL);
            vstore(d + j, __builtin_shufflevector(lo_, hi_, 0, 2, 4, 6, 8, 10, 12,
                                                  14, 16, 18, 20, 22, 24, 26,
                                                  28, 30));
            if (j + LC_VL >= e2) break;
          }
        } else {
          for (int64_t j = s2; j < e2; j++) d[j] = xr[j * sw + off];
        }
        for (int64_t j = s3; j < end; j++) d[j] = col[j] >= 0 ? xr[col[j]] : 0.0f;
      }
      dst += end - ow;
      q += end - ow;
      oh++;
      ow = 0;
    }
  }
}

LC_ISA_DISPATCH(im2col_lower,
                (const conv_problem *p, const cpu_maps *m,
                  const float *restrict x, int64_t k0, int64_t k1, int64_t p0,
                  int64_t p1, float *restrict cols, int64_t ld),
                (p, m, x, k0, k1, p0, p1, cols, ld), lower_body)

/* d[2 b] = e[b] for b < ne, d[2 b + 1] = o[b] for b < no (ne - no is 0
 * or 1): a row of the input gradient from its two horizontal phases
 * (stride 2), 32 floats a step through two shuffles. */
static inline LC_INLINE void interleave2_body(const float *restrict e,
                                              const float *restrict o,
                                              int64_t ne, int64_t no,
                                              float *restrict d) {
  int64_t b = 0;
  for (; b + LC_VL <= no; b += LC_VL) {
    const vf ev = vload(e + b), od = vload(o + b);
    vstore(d + 2 * b, __builtin_shufflevector(ev, od, 0, 16, 1, 17, 2, 18, 3,
                                              19, 4, 20, 5, 21, 6, 22, 7, 23));
    vstore(d + 2 * b + LC_VL,
           __builtin_shufflevector(ev, od, 8, 24, 9, 25, 10, 26, 11, 27, 12,
                                   28, 13, 29, 14, 30, 15, 31));
  }
  for (; b < ne; b++) {
    d[2 * b] = e[b];
    if (b < no) d[2 * b + 1] = o[b];
  }
}

LC_ISA_DISPATCH(interleave2,
                (const float *restrict e, const float *restrict o, int64_t ne,
                 int64_t no, float *restrict d),
                (e, o, ne, no, d), interleave2_body)

/* The transpose of im2col_lower(): adds cols[(k - k0) * ld + q - p0] into the input element
 * it came from (through the padding map, so borders of reflect / replicate /
 * circular / symmetric padding add into their source). Rows and positions in
 * order: a fixed summation order. dx is the group's first channel. */
static inline LC_INLINE void col2im_body(const conv_problem *p, const cpu_maps *m,
                   const float *restrict cols, int64_t k0, int64_t k1,
                   int64_t p0, int64_t p1, float *restrict dx, int64_t ld) {
  const int64_t kh = p->kh, kw = p->kw, khw = kh * kw;
  const int64_t h_out = p->h_out, w_out = p->w_out, wi = p->w;
  const int64_t sw = p->stride_w;
  const size_t hw = (size_t)p->h * (size_t)wi;
  for (int64_t k = k0; k < k1; k++) {
    const int64_t c = k / khw, a = (k / kw) % kh, b = k % kw;
    float *xc = dx + (size_t)c * hw;
    const float *restrict src = cols + (k - k0) * ld;
    const int64_t lo = m->col_lo[b], hi = m->col_hi[b], off = m->col_off[b];
    const int64_t *col = m->col + b * w_out;
    int64_t q = p0, oh = p0 / w_out, ow = p0 % w_out;
    while (q < p1) {
      const int64_t end = min64(w_out, ow + (p1 - q));
      const int64_t r = m->row[a * h_out + oh];
      const float *restrict s = src - ow;
      if (r >= 0) {
        float *restrict xr = xc + r * wi;
        const int64_t e1 = min64(lo, end), s2 = max64(ow, lo),
                      e2 = min64(hi, end), s3 = max64(ow, hi);
        for (int64_t j = ow; j < e1; j++)
          if (col[j] >= 0) xr[col[j]] += s[j];
        if (sw == 1) {
          float *restrict xs = xr + off;
#pragma omp simd
          for (int64_t j = s2; j < e2; j++) xs[j] += s[j];
        } else {
          for (int64_t j = s2; j < e2; j++) xr[j * sw + off] += s[j];
        }
        for (int64_t j = s3; j < end; j++)
          if (col[j] >= 0) xr[col[j]] += s[j];
      }
      src += end - ow;
      q += end - ow;
      oh++;
      ow = 0;
    }
  }
}

LC_ISA_DISPATCH(im2col_col2im,
                (const conv_problem *p, const cpu_maps *m,
                   const float *restrict cols, int64_t k0, int64_t k1,
                   int64_t p0, int64_t p1, float *restrict dx, int64_t ld),
                (p, m, cols, k0, k1, p0, p1, dx, ld), col2im_body)
