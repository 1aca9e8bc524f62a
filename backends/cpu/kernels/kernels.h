/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The microkernels of the cpu backend that are plain functions (the ones
 * compiled per ISA level are reached through the kernel table, cpu_isa.h).
 */
#ifndef CONV_CPU_KERNELS_H
#define CONV_CPU_KERNELS_H

#include "helpers.h"

/* kernels/direct_planes.c: direct_fwd_plane_3x3 serves input rows up to
 * this wide. */
#define LC_DIRECT_3X3_MAX_W 4096

/* kernels/depthwise.c: direct_dw's kernels take at most LC_DW_MAX_TAPS
 * taps (11 x 11), compute output blocks LC_DW_V vectors wide and the weight
 * gradient LC_DW_NT taps per pass. */
#define LC_DW_MAX_TAPS 121
#define LC_DW_V 4
#define LC_DW_NT 9

/* kernels/direct_vec.c: direct_vec's kernels, for at most LC_VEC_MAX_CPG
 * channels per group (in and out) and LC_VEC_MAX_TAPS taps; register
 * blocks of at most LC_VEC_WG_MAX channels by LC_VEC_WG_MAX taps. */
#define LC_VEC_MAX_CPG 64
#define LC_VEC_MAX_TAPS 121
#define LC_VEC_WG_MAX 8
typedef struct vec_geom {
  const conv_problem *p; /* the (forward-shaped) problem computed */
  lc_plane g;            /* input plane buffer layout */
  int64_t cig, cog;      /* channels per group */
  int64_t cb, nblk;      /* output channels per block, blocks */
  int64_t cbl;           /* channels of the last block (1, 2, 4 or 8) */
  int64_t taps;
} vec_geom;

/* kernels/winograd_f4x4.c: F(4x4, 3x3) transforms and GEMM. */
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

/* The packed-A GEMM of kernels/gemm.c (AVX-512 speed; portable code):
 * A (m x k, element (i, kk) at a[i * rs + kk * cs]) packed into ap
 * (lc_gemm_packed_a_floats(m, k) floats); then per panel of ncols <= 32
 * columns C = bias + A * B with B and C rows of stride ldb and ldc; tmp
 * holds (m + k) * 32 floats. */
#define LC_GEMM_NR 32 /* columns of a panel */
size_t lc_gemm_packed_a_floats(int64_t m, int64_t k);
void lc_gemm_pack_a(const float *a, int64_t rs, int64_t cs, int64_t m,
                    int64_t k, float *ap);
void lc_gemm_panel(const float *ap, int64_t m, int64_t k, const float *b,
                   int64_t ldb, float *c, int64_t ldc, int64_t ncols,
                   const float *bias, float *tmp);

/* Single-threaded row-major sgemm with cpu_sgemm's contract (m, n, k >= 1),
 * no allocation (a 32 KiB stack panel). Written for AVX-512: the AVX-512
 * kernel table's sgemm (cpu_isa.c), BLAS below that level. */
void lc_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
              float alpha, const float *a, int64_t lda, const float *b,
              int64_t ldb, float beta, float *c, int64_t ldc);

/* The weight gradient's GEMM step (lc_kern->wgrad_step, kernels/gemm.c):
 * ct[r][co] (+)= sum_kk a[r][kk] d[co][kk]; ct rows of ldct >= cout rounded
 * up to LC_WGRAD_NR floats (panel width at the widest level); pack holds
 * lc_wgrad_pack_floats(cout, kn). */
#define LC_WGRAD_NR 32
#define lc_wgrad_ldct(cout) \
  (((cout) + LC_WGRAD_NR - 1) / LC_WGRAD_NR * LC_WGRAD_NR)
#define lc_wgrad_pack_floats(cout, kn) ((size_t)lc_wgrad_ldct(cout) * (size_t)(kn))

#endif /* CONV_CPU_KERNELS_H */
