/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The microkernels of the cpu backend that are plain functions (the ones
 * compiled per ISA level are reached through the kernel table, cpu_isa.h).
 */
#ifndef CONV_CPU_KERNELS_H
#define CONV_CPU_KERNELS_H

#include "cpu_internal.h"

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

#endif /* CONV_CPU_KERNELS_H */
