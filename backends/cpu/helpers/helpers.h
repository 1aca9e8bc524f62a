/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cpu backend's shared helpers, the layer under the algorithms and the
 * kernels (helpers/padding.c, helpers/bias_grad.c): which weight tap a
 * weight index is (cpu_tap), where a padded position reads from (the
 * padding maps of the loop nests, the padded planes of the vector kernels),
 * and the bias gradient, whose one summation order every weight-gradient
 * algorithm and the per-channel sum share.
 */
#ifndef CONV_CPU_HELPERS_H
#define CONV_CPU_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "cpu_internal.h"

#define LC_VL 16 /* floats per vector of the kernels (kernels/simd.h) */

/* ------------------------------------------------------------- taps */

/* The tap of weight index a along an axis of kernel size k: the weight
 * w[.., a, ..] is applied at kernel offset cpu_tap(a, k, flip). */
static inline int64_t cpu_tap(int64_t a, int64_t k, int flip) {
  return flip ? k - 1 - a : a;
}

/* ------------------------------------------------------ padding maps */

/* Padding maps of a problem, built at plan time (prepare) and shared by the
 * loop-nest algorithms. For weight row a (0..kh-1) and output row oh:
 *   row[a * h_out + oh] = conv_pad_source(oh * stride_h - pad_t
 *                           + dil_h * cpu_tap(a, kh, flip), h, mode),
 * the source row, or -1 for a zero. Rows oh in [row_lo[a], row_hi[a]) are
 * interior: the source is oh * stride_h + row_off[a] without padding. The
 * same for columns (b, ow) with col, col_lo, col_hi, col_off. */
typedef struct cpu_maps {
  int64_t *row, *row_lo, *row_hi, *row_off;
  int64_t *col, *col_lo, *col_hi, *col_off;
} cpu_maps;

/* One allocation; cpu_maps_destroy(NULL) is a no-op. */
conv_status cpu_maps_create(const conv_problem *p, cpu_maps **maps,
                            conv_err *err);
void cpu_maps_destroy(cpu_maps *maps);
/* prepare()/release() for algorithms whose state is just the maps. */
conv_status cpu_maps_prepare(const conv_problem *p, conv_op op, int threads,
                             void **state, conv_err *err);
void cpu_maps_release(void *state);

/* ----------------------------------------------------- padded planes */

/* A "phase-split" padded plane: the input plane with its borders filled by
 * the padding mode, its columns split by the horizontal stride sw so that
 * every tap reads contiguous floats: buf[q][r][j] holds padded row r, padded
 * column j * sw + q. Rows >= the padded height and columns >= the padded
 * width are zero, so kernels may compute whole vectors past the edges. */
typedef struct lc_plane {
  int64_t sw;   /* phases (horizontal stride) */
  int64_t rows; /* rows per phase */
  int64_t wq;   /* floats per row, a multiple of 16 */
} lc_plane;

static inline int64_t lc_round_up(int64_t a, int64_t m) {
  return (a + m - 1) / m * m;
}

/* Geometry of the padded input plane for p with output rows computed in
 * blocks of row_block and columns in blocks of col_block floats. */
static inline lc_plane lc_plane_for(const conv_problem *p, int64_t row_block,
                                    int64_t col_block) {
  lc_plane g;
  int64_t hp = p->h + p->pad_t + p->pad_b;
  int64_t ho = lc_round_up(p->h_out, row_block);
  int64_t rows = (ho - 1) * p->stride_h + (p->kh - 1) * p->dil_h + 1;
  g.sw = p->stride_w;
  g.rows = rows > hp ? rows : hp;
  int64_t wo = lc_round_up(p->w_out, col_block);
  int64_t wp = p->w + p->pad_l + p->pad_r;
  int64_t need = wo + ((p->kw - 1) * p->dil_w) / p->stride_w;
  int64_t wpq = (wp + p->stride_w - 1) / p->stride_w;
  g.wq = lc_round_up(need > wpq ? need : wpq, LC_VL);
  return g;
}

static inline size_t lc_plane_floats(lc_plane g) {
  return (size_t)g.sw * (size_t)g.rows * (size_t)g.wq;
}

/* Pointer to phase q, row r of a plane buffer. */
static inline float *lc_plane_row(float *buf, lc_plane g, int64_t q,
                                  int64_t r) {
  return buf + ((size_t)q * (size_t)g.rows + (size_t)r) * (size_t)g.wq;
}

/* Fills buf (layout g) from the h x w plane src with borders pad_t, pad_l
 * (and pad_b, pad_r) of the problem's padding mode. */
void lc_plane_fill(const conv_problem *p, const float *src, lc_plane g,
                   float *buf);

/* The reverse for gradients: buf (layout g) holds the gradient with respect
 * to the padded plane; writes (overwrites) the gradient with respect to the
 * h x w plane dst, adding each border element to the element it was read
 * from (conv_pad_source), in a fixed order. */
void lc_plane_fold(const conv_problem *p, const float *buf, lc_plane g,
                   float *dst);

/* ------------------------------------------------------ bias gradient */

/* db[c] = sum of dy over n and the plane (c_out = p->c_out channels of
 * p->h_out * p->w_out floats per image), in one order whatever the ISA
 * level and thread count: per channel eight float64 lanes, lane l taking
 * the plane elements i with i % 8 == l image after image, then
 * ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)); parallel over
 * channels. */
void cpu_bias_grad(const conv_problem *p, const float *dy, float *db,
                   int threads);

/* The same over n images of c planes of hw floats: sum[c]. */
void cpu_sum_channels(const float *y, float *sum, int64_t n, int64_t c,
                     int64_t hw, int threads);

#endif /* CONV_CPU_HELPERS_H */
