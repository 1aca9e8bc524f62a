/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the cpu algorithms: CPU features, thread count, size
 * arithmetic, the BLAS wrapper and the bias gradient. */
#ifdef HAVE_CONFIG_H
#  include "config.h"
#endif
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE 1
#endif

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "cpu_internal.h"
#include "cpu_isa.h"

#if CPU_X86
#  include <cpuid.h>
#endif

/* ------------------------------------------------------------ features */

static cpu_features g_features;
static pthread_once_t g_features_once = PTHREAD_ONCE_INIT;

static void trim(char *s) {
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t'))
    s[--n] = '\0';
  size_t i = 0;
  while (s[i] == ' ' || s[i] == '\t') i++;
  if (i > 0) memmove(s, s + i, n - i + 1);
}

static void detect_model(char *out, size_t cap) {
  out[0] = '\0';
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f != NULL) {
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
      if (strncmp(line, "model name", 10) == 0) {
        const char *colon = strchr(line, ':');
        if (colon != NULL) {
          snprintf(out, cap, "%s", colon + 1);
          trim(out);
        }
        break;
      }
    }
    fclose(f);
  }
#if CPU_X86
  if (out[0] == '\0') {
    unsigned int r[12];
    if (__get_cpuid(0x80000000u, &r[0], &r[1], &r[2], &r[3]) &&
        r[0] >= 0x80000004u) {
      char brand[49];
      for (unsigned int i = 0; i < 3; i++)
        __get_cpuid(0x80000002u + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2],
                    &r[4 * i + 3]);
      memcpy(brand, r, 48);
      brand[48] = '\0';
      snprintf(out, cap, "%s", brand);
      trim(out);
    }
  }
#endif
  if (out[0] == '\0') snprintf(out, cap, "unknown");
}

static void detect_features(void) {
  cpu_features *f = &g_features;
  memset(f, 0, sizeof *f);
#if CPU_X86
  __builtin_cpu_init();
  f->sse41 = __builtin_cpu_supports("sse4.1") != 0;
  f->avx = __builtin_cpu_supports("avx") != 0;
  f->avx2 = __builtin_cpu_supports("avx2") != 0;
  f->fma = __builtin_cpu_supports("fma") != 0;
  f->avx512f = __builtin_cpu_supports("avx512f") != 0;
  f->avx512bw = __builtin_cpu_supports("avx512bw") != 0;
  f->avx512vl = __builtin_cpu_supports("avx512vl") != 0;
  f->avx512dq = __builtin_cpu_supports("avx512dq") != 0;
#endif
  detect_model(f->model, sizeof f->model);
}

const cpu_features *cpu_get_features(void) {
  pthread_once(&g_features_once, detect_features);
  return &g_features;
}

int cpu_available_threads(void) {
#ifdef CPU_COUNT
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n >= 1) return n;
  }
#endif
  return 1;
}

/* ---------------------------------------------------------------- sizes */

size_t cpu_mul_size(size_t a, size_t b) {
  if (a == SIZE_MAX || b == SIZE_MAX) return SIZE_MAX;
  if (a != 0 && b > SIZE_MAX / a) return SIZE_MAX;
  return a * b;
}

size_t cpu_add_size(size_t a, size_t b) {
  if (a == SIZE_MAX || b == SIZE_MAX || b > SIZE_MAX - a) return SIZE_MAX;
  return a + b;
}

size_t cpu_workspace_budget(void) {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return SIZE_MAX;
  if ((unsigned long)pages > SIZE_MAX / 2 / (unsigned long)page) return SIZE_MAX;
  return (size_t)pages * (size_t)page / 2;
}

size_t cpu_align_up(size_t n) {
  if (n > SIZE_MAX - (CPU_ALIGN - 1)) return SIZE_MAX;
  return (n + (CPU_ALIGN - 1)) & ~(size_t)(CPU_ALIGN - 1);
}

/* ----------------------------------------------------------------- BLAS */

/* Thread controls of the two BLAS we may be linked with; weak so that the
 * other one's absence is no link error. */
void bli_thread_set_num_threads(long n_threads) __attribute__((weak));
#pragma weak openblas_set_num_threads

void cpu_blas_single_thread(void) {
  if (bli_thread_set_num_threads != NULL) bli_thread_set_num_threads(1);
  if (openblas_set_num_threads != NULL) openblas_set_num_threads(1);
}

void cpu_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
               float alpha, const float *a, int64_t lda, const float *b,
               int64_t ldb, float beta, float *c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    /* cblas handles k == 0 as C = beta * C; do it here for clarity. */
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++)
        c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    return;
  }
  /* The table's choice (cpu_isa.c): at AVX-512 our own kernel
   * (kernels/gemm.c) beats the BLAS we are likely linked with (BLIS 0.9
   * does not know Zen 5 and falls back to a generic configuration: ~30
   * GFLOP/s a core there, 100-185 for lc_sgemm); below it, the BLAS. */
  lc_kern->sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
                 ldc);
}

void cpu_blas_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                    float alpha, const float *a, int64_t lda, const float *b,
                    int64_t ldb, float beta, float *c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
              alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}
