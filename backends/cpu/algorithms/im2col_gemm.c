/* SPDX-License-Identifier: Apache-2.0 */
/* The im2col_gemm algorithm: lower the input to columns (one row per
 * (input channel, kernel row, kernel column), one column per output
 * position) through the padding maps, then one sgemm per task.
 *
 *   forward:         y_g[m, tile]   = w_g[m, :] . cols[:, tile]     (+ bias)
 *   backward data:   cols[rows, tile] = w_g[:, rows]^T . dy_g[:, tile], then
 *                    col2im adds cols back into dx through the padding maps
 *   backward weight: dw_g[m, rows] += dy_g[m, tile] . cols[rows, tile]^T,
 *                    over images and tiles in order
 *
 * 1x1 kernels with stride 1 and no padding skip the lowering: the columns
 * are x itself.
 *
 * Work is split into tasks by a partition that depends on the problem only
 * (tiles of output positions, chunks of channels, kernel rows or output
 * channels), so the result is the same whatever the thread count; each task
 * writes its own part of the output. The column buffer of a task is bounded
 * (COL_BUDGET floats per thread), not sized to the image or the batch. */
#ifdef HAVE_CONFIG_H
#  include "config.h"
#endif

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cpu_internal.h"
#include "helpers.h"
#include "kernels.h"
#include "simd.h"

/* Floats of column buffer per thread: about a Zen 4 / Skylake-SP L2. */
#define COL_BUDGET ((int64_t)256 * 1024)
/* The partition aims at this many tasks (fixed, not the thread count, so
 * results never depend on the thread count). */
#define MIN_TASKS 16
/* Floats of one forward column chunk (rows x tile) at most, unless a single
 * input channel's kh * kw rows need more. */
#define FWD_ROWS_BUDGET ((int64_t)2 * 1024 * 1024)
/* Floats of partial weight gradients bwd_weight may keep. */
#define PARTIAL_BUDGET ((int64_t)8 * 1024 * 1024)
/* bwd_weight: positions per step at most, and floats of a task's
 * transposed product (rows x output channels) at most. */
#define WG_TILE 256
/* forward and backward data, batched: columns of a multiplication at most
 * (images side by side; as many images as fit both), and floats of the
 * shared column buffer at most. */
#define BATCH_COLS 1024
#define BATCH_BUDGET ((int64_t)2 * 1024 * 1024)
#define BATCH_LOWER_ROWS 256
#define WG_CT_BUDGET ((int64_t)128 * 1024)

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

typedef struct geometry {
  int64_t cin_g, cout_g, khw, k, p, hw;
  int pointwise;
  int64_t pt, ntiles;  /* output positions per tile, tiles per image */
  int64_t rows, nrows; /* bwd_data: channels per chunk; bwd_weight: k rows */
  int64_t mc, nm;      /* output channels per chunk, chunks per group */
  int64_t nb;          /* bwd_weight: chunks of the reduction */
  int64_t tasks;
  size_t slice;        /* column buffer bytes per thread */
  /* bwd_data with the packed GEMM (AVX-512 level): a task is a chunk of
   * input channels over every image, its slice of W^T packed once (ap,
   * apf floats after the columns in the thread's slice, then tmpf floats
   * for lc_gemm_panel); cols_bytes is the column buffer alone. */
  int packed;
  size_t apf, tmpf, cols_bytes; /* bwd_weight: the same three parts */
  size_t partial;      /* bwd_weight: bytes of partial dw, after the slices */
  /* forward on small images: "batched" lowers ib images side by side
   * (ncols = ib * p columns) for ngrp image groups, nstep groups at a time
   * into a shared buffer (partial: its bytes), then multiplies each
   * group's columns by chunks of mc output channels into the thread's
   * slice and copies the result out per image. */
  int batched;
  int64_t ib, ngrp, nstep, ncols;
  /* bwd_weight: lc_kern->wgrad_step (AVX-512 level) or, below it, the
   * BLAS through cpu_sgemm straight into dw (our 16-float vectors split
   * into AVX2 or SSE halves measured 10 GF/s a core there, a third of
   * OpenBLAS). */
  int own_gemm;
  /* bwd_data by phases (phase_applies): the packed weights' floats, the
   * per-thread lowered dy (kmax x tcols) and product (mc x tcols), rows
   * of a phase per tile, channel chunks. */
  int phased;
  int64_t kmax, ta, tcols, nch;
  int64_t hph; /* horizontal phases a task computes: 2 at stride_w 2 (their
                * rows interleaved into dx), else 1 */
  size_t wpf;
} geometry;

/* Strided backward data with zero padding, no dilation, one group, at
 * the AVX-512 level: by phases (im2col_bwd_data_phases) where every phase
 * has taps (kernel >= stride), the products are deep enough (c_in >= 32
 * rows) and each phase has >= 256 positions (its product's columns; the
 * col2im path batches small images instead). Two threads, CPU time, two
 * alternating rounds (Xeon AVX-512), ms, phases / col2im: r50_3x3s2_56
 * 17.7-17.9 / 22.4-23.8, 64 ch 3x3 at 112x112 12.0-14.0 / 15.4-22.6, 32
 * -> 48 5x5 at 64x64 4.1-6.1 / 6.4-6.9; but 512 ch at 14x14 (49 positions
 * a phase) 27.5-28.2 / 16.7-17.5, 3 -> 64 7x7 (r50_conv1_7x7: 3 rows)
 * 62 / 15, 256 -> 512 1x1 (three phases without taps) 23.6 / 17.2-23.9,
 * and at the AVX2 level (BLAS) r50_3x3s2_56 32.0 / 30.9. */
static int phase_applies(const conv_problem *p) {
  return (p->stride_h > 1 || p->stride_w > 1) && p->dil_h == 1 &&
         p->dil_w == 1 && p->groups == 1 &&
         p->padding_mode == CONV_PAD_ZEROS && p->c_in >= 32 &&
         p->kh >= p->stride_h && p->kw >= p->stride_w &&
         (p->h / p->stride_h) * (p->w / p->stride_w) >= 256 &&
         lc_isa_level() >= LC_ISA_AVX512;
}

/* One axis of a phase: input index i = s * a + r (a < ext) takes the taps
 * k = k0 + s * j (j < nj) with output index a + q - j. */
typedef struct phase_axis {
  int64_t k0, nj, q, ext;
} phase_axis;

static phase_axis phase_axis_of(int64_t r, int64_t s, int64_t pad, int64_t k,
                                int64_t in) {
  phase_axis x;
  x.k0 = (r + pad) % s;
  x.nj = x.k0 < k ? (k - 1 - x.k0) / s + 1 : 0;
  x.q = (r + pad - x.k0) / s;
  x.ext = in > r ? (in - 1 - r) / s + 1 : 0;
  return x;
}

static int64_t tile_for(int64_t rows, int64_t p) {
  int64_t pt = COL_BUDGET / max64(rows, 1);
  if (pt >= p) return p;
  pt = pt / 16 * 16;
  /* Narrower tiles would starve the GEMM; the budget is soft. */
  pt = max64(pt, 128);
  return pt >= p ? p : pt;
}

static void geometry_of(const conv_problem *p, conv_op op, geometry *g) {
  memset(g, 0, sizeof *g);
  g->cin_g = p->c_in / p->groups;
  g->cout_g = p->c_out / p->groups;
  g->khw = p->kh * p->kw;
  g->k = g->cin_g * g->khw;
  g->p = p->h_out * p->w_out;
  g->hw = p->h * p->w;
  g->pointwise = p->kh == 1 && p->kw == 1 && p->stride_h == 1 &&
                 p->stride_w == 1 && p->pad_t == 0 && p->pad_b == 0 &&
                 p->pad_l == 0 && p->pad_r == 0;
  const int64_t images_groups = p->n * p->groups;
  switch (op) {
    case CONV_OP_FORWARD:
      g->ib = min64(p->n, min64(BATCH_COLS / g->p, BATCH_BUDGET / (g->k * g->p)));
      g->batched = !g->pointwise && p->groups == 1 && g->ib >= 2;
      if (g->batched) {
        g->ngrp = ceil_div(p->n, g->ib);
        g->ib = ceil_div(p->n, g->ngrp);
        g->ncols = g->ib * g->p;
        g->nstep = max64(1, min64(g->ngrp, BATCH_BUDGET / (g->k * g->ncols)));
        /* At least 128 output channels a task where there are: each task
         * streams the whole column buffer (L3 on deep layers) through its
         * panel copies, which 64 rows do not hide (r50_3x3_7, one thread:
         * 70 GF/s at 64 channels a task, 75 at 128, 104 at 256). */
        g->mc = g->cout_g;
        while (g->nstep * ceil_div(g->cout_g, g->mc) < MIN_TASKS && g->mc >= 256)
          g->mc = ceil_div(g->mc, 2);
        g->nm = ceil_div(g->cout_g, g->mc);
        g->slice = (size_t)(g->mc * g->ncols) * sizeof(float);
        g->partial = (size_t)(g->nstep * g->k * g->ncols) * sizeof(float);
        break;
      }
      g->pt = tile_for(g->k + g->cout_g, g->p); /* columns and y tile */
      g->ntiles = ceil_div(g->p, g->pt);
      g->mc = g->cout_g;
      while (images_groups * g->ntiles * ceil_div(g->cout_g, g->mc) < MIN_TASKS &&
             g->mc >= 128)
        g->mc = ceil_div(g->mc, 2);
      g->nm = ceil_div(g->cout_g, g->mc);
      g->tasks = images_groups * g->ntiles * g->nm;
      /* Very deep columns (huge c_in * kh * kw) are lowered and multiplied
       * in chunks of rows, accumulating in order, so the buffer stays
       * bounded. */
      g->rows = min64(g->k, max64(g->khw, FWD_ROWS_BUDGET / g->pt));
      g->nrows = ceil_div(g->k, g->rows);
      g->slice = g->pointwise ? 0 : (size_t)(g->rows * g->pt) * sizeof(float);
      break;
    case CONV_OP_BACKWARD_DATA:
      if (!g->pointwise && phase_applies(p)) {
        g->phased = 1;
        g->kmax = 0;
        int64_t awmax = 1;
        for (int64_t rh = 0; rh < p->stride_h; rh++)
          for (int64_t rw = 0; rw < p->stride_w; rw++) {
            phase_axis ah = phase_axis_of(rh, p->stride_h, p->pad_t, p->kh, p->h);
            phase_axis aw = phase_axis_of(rw, p->stride_w, p->pad_l, p->kw, p->w);
            g->kmax = max64(g->kmax, p->c_out * ah.nj * aw.nj);
            awmax = max64(awmax, aw.ext);
          }
        g->kmax = max64(g->kmax, 1);
        /* Rows of a phase per tile: the lowered dy within COL_BUDGET. */
        g->ta = max64(1, COL_BUDGET / (g->kmax * awmax));
        g->tcols = g->ta * awmax;
        /* Tasks: (image, phase, chunk of input channels), at least
         * MIN_TASKS (counting phases) where chunks of >= 16 channels
         * allow; at stride_w 2 a task takes both horizontal phases of its
         * rows (not narrower chunks: their products would be shallower). */
        g->hph = p->stride_w == 2 ? 2 : 1;
        const int64_t base = p->n * p->stride_h * p->stride_w;
        g->nch = min64(ceil_div(MIN_TASKS, base), max64(1, p->c_in / 16));
        g->mc = ceil_div(p->c_in, g->nch);
        g->nch = ceil_div(p->c_in, g->mc);
        g->tasks = base / g->hph * g->nch;
        g->wpf = (size_t)(p->c_in * p->c_out * p->kh * p->kw);
        g->slice = cpu_mul_size(
            (size_t)(g->kmax + g->hph * g->mc) * (size_t)g->tcols, sizeof(float));
        g->partial = cpu_align_up(cpu_mul_size(g->wpf, sizeof(float)));
        break;
      }
      /* Chunks of input channels: each task owns its dx planes. */
      g->rows = min64(g->cin_g, max64(1, 256 / g->khw));
      /* With the packed GEMM (AVX-512) where there are enough chunks, a
       * task serves its chunk for every image: W^T's slice is packed once
       * (read in place it strides g.k floats per step: a TLB miss each)
       * and reused n times. Else a task is one image's chunk. */
      g->packed = lc_isa_level() >= LC_ISA_AVX512 && !g->pointwise &&
                  p->groups * ceil_div(g->cin_g, g->rows) >= MIN_TASKS;
      while (!g->packed &&
             images_groups * ceil_div(g->cin_g, g->rows) < MIN_TASKS &&
             g->rows > 1)
        g->rows = ceil_div(g->rows, 2);
      g->nrows = ceil_div(g->cin_g, g->rows);
      g->pt = tile_for(g->rows * g->khw, g->p);
      g->ntiles = ceil_div(g->p, g->pt);
      /* Small images with the packed GEMM: dy of ib images gathered side
       * by side (the forward's batching, geometry.batched), so a product
       * has up to BATCH_COLS columns instead of one image's few. */
      g->ib = min64(p->n,
                    min64(BATCH_COLS / g->p, BATCH_BUDGET / (g->cout_g * g->p)));
      g->batched = g->packed && p->groups == 1 && g->ib >= 2;
      if (g->batched) {
        g->ngrp = ceil_div(p->n, g->ib);
        g->ib = ceil_div(p->n, g->ngrp);
        g->ncols = g->ib * g->p;
        g->nstep = max64(1, min64(g->ngrp, BATCH_BUDGET / (g->cout_g * g->ncols)));
        g->pt = g->ncols;
        g->ntiles = 1;
        g->partial = (size_t)(g->nstep * g->cout_g * g->ncols) * sizeof(float);
      }
      g->tasks = (g->packed ? p->groups : images_groups) * g->nrows;
      if (g->pointwise) {
        /* No col2im: tiles of positions are independent tasks too. */
        g->tasks *= g->ntiles;
      }
      g->slice = g->pointwise ? 0 : (size_t)(g->rows * g->khw * g->pt) * sizeof(float);
      if (g->packed) {
        g->cols_bytes = cpu_align_up(g->slice);
        g->apf = lc_gemm_packed_a_floats(g->rows * g->khw, g->cout_g);
        g->tmpf = cpu_mul_size(cpu_add_size((size_t)(g->rows * g->khw),
                                            (size_t)g->cout_g), 32);
        g->slice = cpu_add_size(
            cpu_add_size(g->cols_bytes,
                         cpu_align_up(cpu_mul_size(g->apf, sizeof(float)))),
            cpu_mul_size(g->tmpf, sizeof(float)));
      }
      break;
    case CONV_OP_BACKWARD_WEIGHT: {
      /* Chunks of dw columns (k rows of the lowered input, at most 512)
       * and of output channels (so that the task's transposed product,
       * rows x cout floats, stays in L2), and, where that gives too few
       * tasks, chunks of the reduction over (image, tile) steps: chunk 0
       * writes dw, chunk j > 0 a partial dw in the workspace, summed in
       * chunk order at the end. Tiles of at most WG_TILE positions: the
       * packed operand of a step (WG_TILE x 32 floats a panel) stays in
       * L1. */
      const int64_t nr = ceil_div(g->k, 512);
      g->own_gemm = lc_isa_level() >= LC_ISA_AVX512;
      g->rows = ceil_div(g->k, nr);
      g->nrows = ceil_div(g->k, g->rows);
      g->mc = min64(g->cout_g,
                    max64(LC_WGRAD_NR, WG_CT_BUDGET / g->rows / LC_WGRAD_NR *
                                           LC_WGRAD_NR));
      g->nm = ceil_div(g->cout_g, g->mc);
      const int64_t nt = ceil_div(g->p, WG_TILE);
      g->pt = min64(g->p, ceil_div(ceil_div(g->p, nt), 16) * 16);
      g->ntiles = ceil_div(g->p, g->pt);
      const int64_t steps = p->n * g->ntiles;
      const int64_t base = p->groups * g->nrows * g->nm;
      const int64_t dw_count = p->c_out * g->k;
      g->nb = 1;
      if (base < MIN_TASKS) g->nb = min64(steps, ceil_div(MIN_TASKS, base));
      g->nb = max64(1, min64(g->nb, 1 + PARTIAL_BUDGET / max64(dw_count, 1)));
      g->tasks = base * g->nb;
      /* Per thread: the columns, the packed operand, the product. */
      const int64_t wide = max64(g->rows, g->mc);
      g->cols_bytes = g->pointwise ? 0 : cpu_align_up((size_t)(g->rows * g->pt) * sizeof(float));
      g->apf = lc_wgrad_pack_floats(wide, g->pt);
      g->tmpf = (size_t)lc_wgrad_ldct(wide) * (size_t)wide;
      g->slice = cpu_add_size(
          cpu_add_size(g->cols_bytes,
                       cpu_align_up(cpu_mul_size(g->apf, sizeof(float)))),
          cpu_mul_size(g->tmpf, sizeof(float)));
      g->partial = (size_t)(g->nb - 1) * (size_t)dw_count * sizeof(float);
      break;
    }
    default:
      break;
  }
}

static int im2col_applies(const conv_problem *p, conv_op op, char *why,
                          size_t why_len) {
  if (op == CONV_OP_BACKWARD_BIAS) {
    if (why != NULL) snprintf(why, why_len, "im2col_gemm does not serve bwd_bias");
    return 0;
  }
  /* cblas takes int dimensions and leading dimensions. */
  const int64_t k = p->c_in / p->groups * p->kh * p->kw;
  const int64_t pp = p->h_out * p->w_out, hw = p->h * p->w;
  const int64_t big = k > pp ? k : pp;
  const int64_t biggest = big > hw ? big : hw;
  if (biggest > INT_MAX || p->c_out > INT_MAX) {
    if (why != NULL)
      snprintf(why, why_len, "a GEMM dimension of %lld exceeds the BLAS int range",
               (long long)biggest);
    return 0;
  }
  return 1;
}

static size_t im2col_workspace(const conv_problem *p, conv_op op, int threads) {
  geometry g;
  geometry_of(p, op, &g);
  return cpu_add_size(cpu_mul_size(cpu_align_up(g.slice), (size_t)threads),
                      g.partial);
}

/* ------------------------------------------------------ lowering kernels */

/* ---------------------------------------------------------------- forward */

/* The forward on small images (geometry.batched): a step lowers nstep
 * groups of ib images into the shared buffer (tasks: a group's chunk of
 * rows), then multiplies them (tasks: a group's chunk of output channels,
 * into the thread's slice, copied out per image with the epilogue). */
static void im2col_forward_batched(const cpu_run *r, const cpu_tensors *t,
                                   const geometry *g) {
  const conv_problem *p = r->p;
  const cpu_maps *m = r->state;
  float *shared = (float *)((char *)r->ws + cpu_align_up(g->slice) * (size_t)r->threads);
  const int64_t nkc = ceil_div(g->k, BATCH_LOWER_ROWS);
#pragma omp parallel num_threads(r->threads)
  for (int64_t s0 = 0; s0 < g->ngrp; s0 += g->nstep) {
    const int64_t ns = min64(g->nstep, g->ngrp - s0);
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < ns * nkc; task++) {
      const int64_t gs = task / nkc, k0 = task % nkc * BATCH_LOWER_ROWS;
      const int64_t k1 = min64(k0 + BATCH_LOWER_ROWS, g->k);
      const int64_t n0 = (s0 + gs) * g->ib, n1 = min64(n0 + g->ib, p->n);
      float *cols = shared + (size_t)(gs * g->k) * (size_t)g->ncols;
      for (int64_t n = n0; n < n1; n++)
        lc_kern->im2col_lower(p, m, t->x + (size_t)(n * p->c_in) * (size_t)g->hw,
                              k0, k1, 0, g->p,
                              cols + (size_t)k0 * (size_t)g->ncols +
                                  (size_t)((n - n0) * g->p),
                              g->ncols);
    }
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < ns * g->nm; task++) {
      const int64_t gs = task / g->nm, m0 = task % g->nm * g->mc;
      const int64_t m1 = min64(m0 + g->mc, g->cout_g);
      const int64_t n0 = (s0 + gs) * g->ib, n1 = min64(n0 + g->ib, p->n);
      const int64_t nc = (n1 - n0) * g->p;
      const float *cols = shared + (size_t)(gs * g->k) * (size_t)g->ncols;
      float *c = cpu_ws_slice(r, g->slice, cpu_thread_id());
      cpu_sgemm(0, 0, m1 - m0, nc, g->k, 1.0f, t->w + (size_t)m0 * (size_t)g->k,
                g->k, cols, g->ncols, 0.0f, c, nc);
      for (int64_t n = n0; n < n1; n++)
        for (int64_t co = m0; co < m1; co++) {
          float *y = t->y + (size_t)(n * p->c_out + co) * (size_t)g->p;
          memcpy(y, c + (size_t)(co - m0) * (size_t)nc + (size_t)((n - n0) * g->p),
                 (size_t)g->p * sizeof(float));
          if (t->b != NULL || p->activation != CONV_ACT_NONE)
            cpu_activate(y, g->p, t->b != NULL ? t->b[co] : 0.0f,
                         p->activation, p->activation_alpha);
        }
    }
  }
}

static void im2col_forward(const cpu_run *r, const cpu_tensors *t) {
  const conv_problem *p = r->p;
  const cpu_maps *m = r->state;
  geometry g;
  geometry_of(p, CONV_OP_FORWARD, &g);
  if (g.batched) {
    im2col_forward_batched(r, t, &g);
    return;
  }
#pragma omp parallel for num_threads(r->threads) schedule(dynamic, 1)
  for (int64_t task = 0; task < g.tasks; task++) {
    const int64_t tile = task % g.ntiles;
    const int64_t mi = (task / g.ntiles) % g.nm;
    const int64_t gi = (task / (g.ntiles * g.nm)) % p->groups;
    const int64_t n = task / (g.ntiles * g.nm * p->groups);
    const int64_t p0 = tile * g.pt, p1 = min64(p0 + g.pt, g.p);
    const int64_t m0 = mi * g.mc, m1 = min64(m0 + g.mc, g.cout_g);
    const float *x = t->x + (size_t)(n * p->c_in + gi * g.cin_g) * (size_t)g.hw;
    const int64_t co0 = gi * g.cout_g + m0;
    float *y = t->y + (size_t)(n * p->c_out + co0) * (size_t)g.p + (size_t)p0;
    const float *w = t->w + (size_t)co0 * (size_t)g.k;
    if (g.pointwise) {
      cpu_sgemm(0, 0, m1 - m0, p1 - p0, g.k, 1.0f, w, g.k, x + p0, g.hw, 0.0f,
                y, g.p);
    } else {
      float *cols = cpu_ws_slice(r, g.slice, cpu_thread_id());
      for (int64_t k0 = 0; k0 < g.k; k0 += g.rows) {
        const int64_t k1 = min64(k0 + g.rows, g.k);
        lc_kern->im2col_lower(p, m, x, k0, k1, p0, p1, cols, p1 - p0);
        cpu_sgemm(0, 0, m1 - m0, p1 - p0, k1 - k0, 1.0f, w + k0, g.k, cols,
                  p1 - p0, k0 == 0 ? 0.0f : 1.0f, y, g.p);
      }
    }
    /* The epilogue, on the tile while it is in cache: bias, activation. */
    if (t->b != NULL || p->activation != CONV_ACT_NONE) {
      for (int64_t co = 0; co < m1 - m0; co++)
        cpu_activate(y + (size_t)co * (size_t)g.p, p1 - p0,
                     t->b != NULL ? t->b[co0 + co] : 0.0f, p->activation,
                     p->activation_alpha);
    }
  }
}

/* ---------------------------------------------------------- backward data */

/* One packed task: input channels [c0, c1) of group gi for every image. */
static void im2col_bwd_data_packed(const cpu_run *r, const cpu_tensors *t,
                                   const geometry *g, int64_t gi, int64_t c0,
                                   int64_t c1, float *cols) {
  const conv_problem *p = r->p;
  const cpu_maps *m = r->state;
  float *ap = (float *)((char *)cols + g->cols_bytes);
  float *tmp = ap + cpu_align_up(g->apf * sizeof(float)) / sizeof(float);
  const int64_t k0 = c0 * g->khw, k1 = c1 * g->khw, rows = k1 - k0;
  /* A = W_g^T restricted to columns [k0, k1): element (i, o) is
   * w_g[o][k0 + i]. */
  const float *w = t->w + (size_t)(gi * g->cout_g) * (size_t)g->k;
  lc_gemm_pack_a(w + k0, 1, g->k, rows, g->cout_g, ap);
  for (int64_t n = 0; n < p->n; n++) {
    const float *dy =
        t->dy + (size_t)(n * p->c_out + gi * g->cout_g) * (size_t)g->p;
    float *dx = t->dx + (size_t)(n * p->c_in + gi * g->cin_g) * (size_t)g->hw;
    memset(dx + (size_t)c0 * (size_t)g->hw, 0,
           (size_t)(c1 - c0) * (size_t)g->hw * sizeof(float));
    for (int64_t tile = 0; tile < g->ntiles; tile++) {
      const int64_t p0 = tile * g->pt, p1 = min64(p0 + g->pt, g->p);
      const int64_t pw = p1 - p0;
      for (int64_t j = 0; j < pw; j += 32)
        lc_gemm_panel(ap, rows, g->cout_g, dy + p0 + j, g->p, cols + j, pw,
                      min64(32, pw - j), NULL, tmp);
      lc_kern->im2col_col2im(p, m, cols, k0, k1, p0, p1, dx, p1 - p0);
    }
    for (int64_t c = c0; c < c1; c++)
      cpu_dx_epilogue_tile(r, t->b, gi * g->cin_g + c,
                           dx + (size_t)c * (size_t)g->hw, 1, 0, g->hw, 1);
  }
}

/* Backward data on small images (geometry.batched, groups == 1): a step
 * gathers dy of nstep groups of ib images side by side into the shared
 * buffer, then each task (a group's chunk of input channels) packs its
 * slice of W^T, multiplies all the group's columns at once and adds them
 * back into each image's dx planes. */
static void im2col_bwd_data_batched(const cpu_run *r, const cpu_tensors *t,
                                    const geometry *g) {
  const conv_problem *p = r->p;
  const cpu_maps *m = r->state;
  float *shared = (float *)((char *)r->ws + cpu_align_up(g->slice) * (size_t)r->threads);
  const size_t gsz = (size_t)(g->cout_g * g->ncols);
#pragma omp parallel num_threads(r->threads)
  for (int64_t s0 = 0; s0 < g->ngrp; s0 += g->nstep) {
    const int64_t ns = min64(g->nstep, g->ngrp - s0);
#pragma omp for schedule(static)
    for (int64_t task = 0; task < ns * g->ib; task++) {
      const int64_t gs = task / g->ib, i = task % g->ib;
      const int64_t n = (s0 + gs) * g->ib + i;
      if (n >= p->n) continue;
      for (int64_t co = 0; co < g->cout_g; co++)
        memcpy(shared + (size_t)gs * gsz + (size_t)(co * g->ncols + i * g->p),
               t->dy + (size_t)(n * p->c_out + co) * (size_t)g->p,
               (size_t)g->p * sizeof(float));
    }
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < ns * g->nrows; task++) {
      const int64_t gs = task / g->nrows, ri = task % g->nrows;
      const int64_t c0 = ri * g->rows, c1 = min64(c0 + g->rows, g->cin_g);
      const int64_t k0 = c0 * g->khw, k1 = c1 * g->khw, rows = k1 - k0;
      const int64_t n0 = (s0 + gs) * g->ib, n1 = min64(n0 + g->ib, p->n);
      const int64_t nc = (n1 - n0) * g->p;
      float *cols = cpu_ws_slice(r, g->slice, cpu_thread_id());
      float *ap = (float *)((char *)cols + g->cols_bytes);
      float *tmp = ap + cpu_align_up(g->apf * sizeof(float)) / sizeof(float);
      lc_gemm_pack_a(t->w + k0, 1, g->k, rows, g->cout_g, ap);
      const float *dyg = shared + (size_t)gs * gsz;
      for (int64_t j = 0; j < nc; j += 32)
        lc_gemm_panel(ap, rows, g->cout_g, dyg + j, g->ncols, cols + j,
                      g->ncols, min64(32, nc - j), NULL, tmp);
      for (int64_t n = n0; n < n1; n++) {
        float *dx = t->dx + (size_t)(n * p->c_in) * (size_t)g->hw;
        memset(dx + (size_t)c0 * (size_t)g->hw, 0,
               (size_t)(c1 - c0) * (size_t)g->hw * sizeof(float));
        lc_kern->im2col_col2im(p, m, cols + (n - n0) * g->p, k0, k1, 0, g->p,
                               dx, g->ncols);
        for (int64_t c = c0; c < c1; c++)
          cpu_dx_epilogue_tile(r, t->b, c, dx + (size_t)c * (size_t)g->hw, 1,
                               0, g->hw, 1);
      }
    }
  }
}

/* Backward data by phases (phase_applies): dx splits into stride_h x
 * stride_w phases (rows s * a + rh, columns s * b + rw), each a stride-1
 * correlation of dy with the taps of that phase (phase_axis). Per task
 * (image, phase, chunk of input channels) and tile of phase rows: dy is
 * lowered for the phase's taps (rows (co, j, l), a column per phase
 * position), multiplied by the phase's slice of W^T (packed once per
 * call: wp[ci][(co, j, l)]) and stored through the phase's stride. No
 * col2im and no zero fill: each dx element is written once, by one
 * product; a phase without taps is written zero. */
static void im2col_bwd_data_phases(const cpu_run *r, const cpu_tensors *t,
                                   const geometry *g) {
  const conv_problem *p = r->p;
  const int64_t sh = p->stride_h, sw = p->stride_w, nph = sh * sw;
  const int64_t ho = p->h_out, wo = p->w_out;
  float *wp = (float *)((char *)r->ws + cpu_align_up(g->slice) * (size_t)r->threads);
#pragma omp parallel num_threads(r->threads)
  {
    /* The packed weights of every phase, phase after phase. */
#pragma omp for schedule(static)
    for (int64_t ci = 0; ci < p->c_in; ci++) {
      size_t off = 0;
      for (int64_t ph = 0; ph < nph; ph++) {
        phase_axis ah = phase_axis_of(ph / sw, sh, p->pad_t, p->kh, p->h);
        phase_axis aw = phase_axis_of(ph % sw, sw, p->pad_l, p->kw, p->w);
        const int64_t kd = p->c_out * ah.nj * aw.nj;
        float *dst = wp + off + (size_t)(ci * kd);
        for (int64_t co = 0; co < p->c_out; co++)
          for (int64_t j = 0; j < ah.nj; j++)
            for (int64_t l = 0; l < aw.nj; l++) {
              const int64_t a = cpu_tap(ah.k0 + sh * j, p->kh, p->flip_kernel);
              const int64_t b = cpu_tap(aw.k0 + sw * l, p->kw, p->flip_kernel);
              dst[(co * ah.nj + j) * aw.nj + l] =
                  t->w[((size_t)(co * p->c_in + ci) * (size_t)p->kh + (size_t)a) *
                           (size_t)p->kw + (size_t)b];
            }
        off += (size_t)(p->c_in * kd);
      }
    }
    float *bl = cpu_ws_slice(r, g->slice, cpu_thread_id());
    float *ct0 = bl + (size_t)(g->kmax * g->tcols);
    const int64_t nphw = sw / g->hph; /* tasks' phase columns */
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < g->tasks; task++) {
      const int64_t chunk = task % g->nch, ph = (task / g->nch) % (sh * nphw);
      const int64_t n = task / (g->nch * sh * nphw);
      const int64_t c0 = chunk * g->mc, c1 = min64(c0 + g->mc, p->c_in);
      const int64_t rh = ph / nphw;
      phase_axis ah = phase_axis_of(rh, sh, p->pad_t, p->kh, p->h);
      const float *dy = t->dy + (size_t)(n * p->c_out) * (size_t)(ho * wo);
      float *dx = t->dx + (size_t)(n * p->c_in) * (size_t)(p->h * p->w);
      for (int64_t a0 = 0; a0 < ah.ext; a0 += g->ta) {
        const int64_t a1 = min64(a0 + g->ta, ah.ext);
        /* Each horizontal phase rw of the task: its product into ct[i]
         * (rows c - c0, columns (a - a0) * aw[i].ext + b). */
        phase_axis aw[2];
        float *ct[2];
        for (int64_t i = 0; i < g->hph; i++) {
          const int64_t rw = g->hph == 2 ? i : ph % nphw;
          aw[i] = phase_axis_of(rw, sw, p->pad_l, p->kw, p->w);
          ct[i] = ct0 + (size_t)(i * g->mc * g->tcols);
          const int64_t np = (a1 - a0) * aw[i].ext;
          if (np == 0) continue;
          const int64_t kd = p->c_out * ah.nj * aw[i].nj;
          if (kd == 0) {
            memset(ct[i], 0, (size_t)((c1 - c0) * np) * sizeof(float));
            continue;
          }
          size_t off = 0; /* the phase's packed weights */
          for (int64_t q = 0; q < rh * sw + rw; q++) {
            phase_axis qh = phase_axis_of(q / sw, sh, p->pad_t, p->kh, p->h);
            phase_axis qw = phase_axis_of(q % sw, sw, p->pad_l, p->kw, p->w);
            off += (size_t)(p->c_in * p->c_out * qh.nj * qw.nj);
          }
          /* bl[(co, j, l)][(a - a0) * ext + b] = dy[co][a + q - j][b + q - l] */
          for (int64_t co = 0; co < p->c_out; co++)
            for (int64_t j = 0; j < ah.nj; j++)
              for (int64_t l = 0; l < aw[i].nj; l++) {
                float *row = bl + (size_t)(((co * ah.nj + j) * aw[i].nj + l) * np);
                const int64_t ext = aw[i].ext;
                const int64_t sh0 = aw[i].q - l; /* ow = b + sh0 */
                const int64_t b0 = max64(0, -sh0), b1 = min64(ext, wo - sh0);
                for (int64_t a = a0; a < a1; a++) {
                  float *d = row + (a - a0) * ext;
                  const int64_t oh = a + ah.q - j;
                  if (oh < 0 || oh >= ho || b1 <= b0) {
                    memset(d, 0, (size_t)ext * sizeof(float));
                    continue;
                  }
                  const float *src = dy + (size_t)(co * ho + oh) * (size_t)wo;
                  if (b0 > 0) memset(d, 0, (size_t)b0 * sizeof(float));
                  memcpy(d + b0, src + b0 + sh0, (size_t)(b1 - b0) * sizeof(float));
                  if (b1 < ext)
                    memset(d + b1, 0, (size_t)(ext - b1) * sizeof(float));
                }
              }
          cpu_sgemm(0, 0, c1 - c0, np, kd, 1.0f, wp + off + (size_t)(c0 * kd), kd,
                    bl, np, 0.0f, ct[i], np);
        }
        for (int64_t c = c0; c < c1; c++) {
          float *plane = dx + (size_t)c * (size_t)(p->h * p->w);
          for (int64_t a = a0; a < a1; a++) {
            const float *s0 = ct[0] + (size_t)((c - c0) * (a1 - a0) * aw[0].ext) +
                              (size_t)((a - a0) * aw[0].ext);
            if (g->hph == 2) {
              /* Both phases of the row: its w floats in order. */
              const float *s1 = ct[1] + (size_t)((c - c0) * (a1 - a0) * aw[1].ext) +
                                (size_t)((a - a0) * aw[1].ext);
              lc_kern->interleave2(s0, s1, aw[0].ext, aw[1].ext,
                                   plane + (size_t)((sh * a + rh) * p->w));
            } else {
              const int64_t rw = ph % nphw;
              float *d = plane + (size_t)((sh * a + rh) * p->w + rw);
              for (int64_t b = 0; b < aw[0].ext; b++) d[b * sw] = s0[b];
            }
          }
        }
      }
    }
    if (r->dx_epilogue) {
#pragma omp for schedule(static)
      for (int64_t q = 0; q < p->n * p->c_in; q++)
        cpu_dx_epilogue_tile(r, t->b, q % p->c_in,
                             t->dx + (size_t)q * (size_t)(p->h * p->w), 1, 0,
                             p->h * p->w, 1);
    }
  }
}

static void im2col_backward_data(const cpu_run *r, const cpu_tensors *t) {
  const conv_problem *p = r->p;
  const cpu_maps *m = r->state;
  geometry g;
  geometry_of(p, CONV_OP_BACKWARD_DATA, &g);
  if (g.phased) {
    im2col_bwd_data_phases(r, t, &g);
    return;
  }
  if (g.batched) {
    im2col_bwd_data_batched(r, t, &g);
    return;
  }
  const int64_t tiles_per_task = g.pointwise ? 1 : g.ntiles;
  const int64_t task_tiles = g.pointwise ? g.ntiles : 1;
#pragma omp parallel for num_threads(r->threads) schedule(dynamic, 1)
  for (int64_t task = 0; task < g.tasks; task++) {
    /* Packed tasks are (group, chunk): n below is 0 and unused. */
    const int64_t tile0 = task % task_tiles;
    const int64_t ri = (task / task_tiles) % g.nrows;
    const int64_t gi = (task / (task_tiles * g.nrows)) % p->groups;
    const int64_t n = task / (task_tiles * g.nrows * p->groups);
    const int64_t c0 = ri * g.rows, c1 = min64(c0 + g.rows, g.cin_g);
    const float *dy =
        t->dy + (size_t)(n * p->c_out + gi * g.cout_g) * (size_t)g.p;
    /* w_g is (cout_g, k); its columns [c0 * khw, c1 * khw) are ours. */
    const float *w = t->w + (size_t)(gi * g.cout_g) * (size_t)g.k;
    float *dx = t->dx + (size_t)(n * p->c_in + gi * g.cin_g) * (size_t)g.hw;
    if (g.pointwise) {
      const int64_t p0 = tile0 * g.pt, p1 = min64(p0 + g.pt, g.p);
      cpu_sgemm(1, 0, c1 - c0, p1 - p0, g.cout_g, 1.0f, w + c0, g.k, dy + p0,
                g.p, 0.0f, dx + (size_t)c0 * (size_t)g.hw + (size_t)p0, g.hw);
      for (int64_t c = c0; c < c1; c++)
        cpu_dx_epilogue_tile(r, t->b, gi * g.cin_g + c,
                             dx + (size_t)c * (size_t)g.hw + (size_t)p0, 1, 0,
                             p1 - p0, 1);
      continue;
    }
    float *cols = cpu_ws_slice(r, g.slice, cpu_thread_id());
    if (g.packed) {
      im2col_bwd_data_packed(r, t, &g, gi, c0, c1, cols);
      continue;
    }
    memset(dx + (size_t)c0 * (size_t)g.hw, 0,
           (size_t)(c1 - c0) * (size_t)g.hw * sizeof(float));
    const int64_t k0 = c0 * g.khw, k1 = c1 * g.khw;
    for (int64_t tile = 0; tile < tiles_per_task; tile++) {
      const int64_t p0 = tile * g.pt, p1 = min64(p0 + g.pt, g.p);
      cpu_sgemm(1, 0, k1 - k0, p1 - p0, g.cout_g, 1.0f, w + k0, g.k, dy + p0,
                g.p, 0.0f, cols, p1 - p0);
      lc_kern->im2col_col2im(p, m, cols, k0, k1, p0, p1, dx, p1 - p0);
    }
    /* The task's channels are complete: the epilogue while they are warm. */
    for (int64_t c = c0; c < c1; c++)
      cpu_dx_epilogue_tile(r, t->b, gi * g.cin_g + c,
                           dx + (size_t)c * (size_t)g.hw, 1, 0, g.hw, 1);
  }
}

/* -------------------------------------------------------- backward weight */

/* One task of the weight gradient: dw[co0 + m, k0 + r] (m < mc, r < rows)
 * over steps [s0, s1). Each step is lc_kern->wgrad_step on the task's
 * product, transposed so that the larger operand (the lowered input, or
 * dy where the chunk has more output channels than rows) is read in
 * place and the smaller one is packed; the product, r-major or m-major,
 * is copied into dst once at the end. */
static void im2col_bwd_weight_task(const cpu_run *r, const cpu_tensors *t,
                                   const geometry *g, int64_t gi, int64_t k0,
                                   int64_t k1, int64_t m0, int64_t m1,
                                   int64_t s0, int64_t s1, float *dst,
                                   char *slice) {
  const conv_problem *p = r->p;
  const cpu_maps *m = r->state;
  const int64_t rows = k1 - k0, mc = m1 - m0;
  const int64_t co0 = gi * g->cout_g + m0;
  float *cols = (float *)slice;
  float *pack = (float *)(slice + g->cols_bytes);
  float *ct = pack + cpu_align_up(g->apf * sizeof(float)) / sizeof(float);
  /* swap: ct is m-major (dy broadcast, the columns packed). */
  const int swap = rows < mc;
  const int64_t ldct = lc_wgrad_ldct(swap ? rows : mc);
  for (int64_t step = s0; step < s1; step++) {
    const int64_t n = step / g->ntiles, tile = step % g->ntiles;
    const float *x = t->x + (size_t)(n * p->c_in + gi * g->cin_g) * (size_t)g->hw;
    const float *dy = t->dy + (size_t)(n * p->c_out + co0) * (size_t)g->p;
    const int64_t p0 = tile * g->pt, p1 = min64(p0 + g->pt, g->p);
    const float *bmat;
    int64_t ldb;
    if (g->pointwise) {
      bmat = x + (size_t)k0 * (size_t)g->hw + (size_t)p0;
      ldb = g->hw;
    } else {
      lc_kern->im2col_lower(p, m, x, k0, k1, p0, p1, cols, p1 - p0);
      bmat = cols;
      ldb = p1 - p0;
    }
    if (!g->own_gemm)
      cpu_sgemm(0, 1, mc, rows, p1 - p0, 1.0f, dy + p0, g->p, bmat, ldb,
                step == s0 ? 0.0f : 1.0f,
                dst + (size_t)co0 * (size_t)g->k + (size_t)k0, g->k);
    else if (swap)
      lc_kern->wgrad_step(dy + p0, g->p, mc, bmat, ldb, rows, p1 - p0,
                          step > s0, ct, ldct, pack);
    else
      lc_kern->wgrad_step(bmat, ldb, rows, dy + p0, g->p, mc, p1 - p0,
                          step > s0, ct, ldct, pack);
  }
  if (!g->own_gemm) return;
  float *dw = dst + (size_t)co0 * (size_t)g->k + (size_t)k0;
  if (swap) {
    for (int64_t co = 0; co < mc; co++)
      memcpy(dw + (size_t)co * (size_t)g->k, ct + (size_t)co * (size_t)ldct,
             (size_t)rows * sizeof(float));
    return;
  }
  /* dw[co][i] = ct[i][co] in 16 x 16 blocks: reading ct a column at a
   * time (a line per element) cost more than the last steps' products. */
  for (int64_t c0 = 0; c0 < mc; c0 += 16) {
    const int64_t c1 = min64(c0 + 16, mc);
    for (int64_t i0 = 0; i0 < rows; i0 += 16) {
      const int64_t i1 = min64(i0 + 16, rows);
      for (int64_t co = c0; co < c1; co++) {
        float *d = dw + (size_t)co * (size_t)g->k;
        for (int64_t i = i0; i < i1; i++) d[i] = ct[(size_t)i * (size_t)ldct + (size_t)co];
      }
    }
  }
}

static void im2col_backward_weight(const cpu_run *r, const cpu_tensors *t) {
  const conv_problem *p = r->p;
  geometry g;
  geometry_of(p, CONV_OP_BACKWARD_WEIGHT, &g);
  const int64_t steps = p->n * g.ntiles;
  const size_t dw_count = (size_t)(p->c_out * g.k);
  float *partial = (float *)((char *)r->ws + cpu_align_up(g.slice) * (size_t)r->threads);
#pragma omp parallel num_threads(r->threads)
  {
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < g.tasks; task++) {
      const int64_t ri = task % g.nrows;
      const int64_t mi = (task / g.nrows) % g.nm;
      const int64_t gi = (task / (g.nrows * g.nm)) % p->groups;
      const int64_t chunk = task / (g.nrows * g.nm * p->groups);
      const int64_t k0 = ri * g.rows, k1 = min64(k0 + g.rows, g.k);
      const int64_t m0 = mi * g.mc, m1 = min64(m0 + g.mc, g.cout_g);
      float *dst = chunk == 0 ? t->dw : partial + (size_t)(chunk - 1) * dw_count;
      const int64_t s0 = steps * chunk / g.nb, s1 = steps * (chunk + 1) / g.nb;
      im2col_bwd_weight_task(r, t, &g, gi, k0, k1, m0, m1, s0, s1, dst,
                             cpu_ws_slice(r, g.slice, cpu_thread_id()));
    }
    /* dw += partial chunks, in chunk order. */
    if (g.nb > 1) {
      /* In blocks, each chunk's partial added over the block in turn (the
       * same order per element, and vector adds). */
      const size_t blk = 4096, nblk = (dw_count + blk - 1) / blk;
#pragma omp for schedule(static)
      for (size_t b = 0; b < nblk; b++) {
        const size_t i0 = b * blk, i1 = i0 + blk < dw_count ? i0 + blk : dw_count;
        for (int64_t j = 0; j < g.nb - 1; j++) {
          const float *pj = partial + (size_t)j * dw_count;
          for (size_t i = i0; i < i1; i++) t->dw[i] += pj[i];
        }
      }
    }
  }
}

static conv_status im2col_run(const cpu_run *r, const cpu_tensors *t,
                              conv_err *err) {
  switch (r->op) {
    case CONV_OP_FORWARD:
      im2col_forward(r, t);
      break;
    case CONV_OP_BACKWARD_DATA:
      im2col_backward_data(r, t);
      break;
    case CONV_OP_BACKWARD_WEIGHT:
      im2col_backward_weight(r, t);
      break;
    default:
      return conv_err_set(err, CONV_ERROR_INTERNAL,
                          "cpu: im2col_gemm: op %d not served", (int)r->op);
  }
  return CONV_SUCCESS;
}

const cpu_algo cpu_algo_im2col_gemm = {
    .name = "im2col_gemm",
    .applies = im2col_applies,
    .workspace_bytes = im2col_workspace,
    .prepare = cpu_maps_prepare,
    .release = cpu_maps_release,
    .run = im2col_run,
    .fuses_activation = 1,
    .fuses_dx_epilogue = 1,
};
