/* SPDX-License-Identifier: Apache-2.0 */
/* Stand-ins for the cpu backend's helpers (cpu_util.c) so the dev harness
 * builds from the kernel files alone. */
#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"

const cpu_features *cpu_get_features(void) {
  static cpu_features f;
  static int done;
  if (!done) {
    __builtin_cpu_init();
    f.avx2 = __builtin_cpu_supports("avx2") != 0;
    f.fma = __builtin_cpu_supports("fma") != 0;
    f.avx512f = __builtin_cpu_supports("avx512f") != 0;
    f.avx512bw = __builtin_cpu_supports("avx512bw") != 0;
    f.avx512vl = __builtin_cpu_supports("avx512vl") != 0;
    f.avx512dq = __builtin_cpu_supports("avx512dq") != 0;
    strcpy(f.model, "dev");
    /* DEV_ISA=0 (plain) or 1 (AVX2) exercises the other kernel clones. */
    const char *isa = getenv("DEV_ISA");
    if (isa != NULL && atoi(isa) < 2) f.avx512f = f.avx512bw = f.avx512vl = f.avx512dq = 0;
    if (isa != NULL && atoi(isa) < 1) f.avx2 = f.fma = 0;
    done = 1;
  }
  return &f;
}
size_t cpu_mul_size(size_t a, size_t b) {
  if (a == SIZE_MAX || b == SIZE_MAX) return SIZE_MAX;
  if (a != 0 && b > SIZE_MAX / a) return SIZE_MAX;
  return a * b;
}
size_t cpu_add_size(size_t a, size_t b) {
  if (a == SIZE_MAX || b == SIZE_MAX || b > SIZE_MAX - a) return SIZE_MAX;
  return a + b;
}
size_t cpu_align_up(size_t n) {
  if (n > SIZE_MAX - (CPU_ALIGN - 1)) return SIZE_MAX;
  return (n + (CPU_ALIGN - 1)) & ~(size_t)(CPU_ALIGN - 1);
}
void cpu_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
               float alpha, const float *a, int64_t lda, const float *b,
               int64_t ldb, float beta, float *c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
              alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}
void cpu_bias_grad(const conv_problem *p, const float *dy, float *db,
                   int threads) {
  const int64_t plane = p->h_out * p->w_out;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t co = 0; co < p->c_out; co++) {
    double acc = 0;
    for (int64_t n = 0; n < p->n; n++) {
      const float *src = dy + ((size_t)n * (size_t)p->c_out + (size_t)co) * (size_t)plane;
      for (int64_t i = 0; i < plane; i++) acc += src[i];
    }
    db[co] = (float)acc;
  }
}
