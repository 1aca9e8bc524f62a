/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cpu backend's fast algorithms (issue 4: speed). Each is a cpu_algo
 * (cpu_internal.h) registered in cpu_registry.c; the kernels share the
 * vector helpers of simd.h.
 *
 *   direct_dw      depthwise (groups == c_in == c_out): fwd, bwd_data,
 *                  bwd_weight; any kernel, stride, dilation, padding mode.
 *   direct_vec     small channel counts per group (c_in/groups and
 *                  c_out/groups small): vectorised over output columns with
 *                  blocks of output channels in registers.
 *   winograd_f4x4  3x3 stride 1 dilation 1: F(4x4, 3x3) tiles, batched
 *                  GEMMs per transformed element (fwd, bwd_data).
 *   gemm_1x1       1x1 stride 1 unpadded: one GEMM per image and group
 *                  straight on the NCHW planes (fwd, bwd_data).
 */
#ifndef CONV_CPU_KERNELS_H
#define CONV_CPU_KERNELS_H

#include "cpu_internal.h"

extern const cpu_algo cpu_algo_direct_dw;     /* kernels_dw.c */
extern const cpu_algo cpu_algo_direct_vec;    /* kernels_direct.c */
extern const cpu_algo cpu_algo_winograd_f4x4; /* winograd.c */
extern const cpu_algo cpu_algo_gemm_1x1;      /* kernels_gemm.c */

/* The packed-A GEMM of kernels_gemm.c (AVX-512 speed; portable code):
 * A (m x k, element (i, kk) at a[i * rs + kk * cs]) packed into ap
 * (lc_gemm_packed_a_floats(m, k) floats); then per panel of ncols <= 32
 * columns C = bias + A * B with B and C rows of stride ldb and ldc; tmp
 * holds (m + k) * 32 floats. */
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

#endif /* CONV_CPU_KERNELS_H */
