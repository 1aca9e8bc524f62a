/* SPDX-License-Identifier: Apache-2.0 */
/* The kernel tables of the three ISA levels and the choice of one at
 * backend init: the processor's highest level capped by $CONV_CPU_ISA
 * (cpu_isa.h). */
#ifdef HAVE_CONFIG_H
#  include "config.h"
#endif

#include <stdio.h>
#include <strings.h>

#include "conv_env.h"
#include "cpu_isa.h"
#include "kernels.h"

#define LC_KERNEL_ENTRY_AVX512(name, params) .name = lc_##name##_avx512,
#define LC_KERNEL_ENTRY_AVX2(name, params) .name = lc_##name##_avx2,
#define LC_KERNEL_ENTRY_GENERIC(name, params) .name = lc_##name##_generic,

static const lc_kernels tables[LC_ISA_LEVELS] = {
    {.level = LC_ISA_GENERIC,
     .name = "generic",
     .sgemm = cpu_blas_sgemm,
     LC_KERNEL_LIST(LC_KERNEL_ENTRY_GENERIC)},
    {.level = LC_ISA_AVX2,
     .name = "avx2",
     .sgemm = cpu_blas_sgemm,
     LC_KERNEL_LIST(LC_KERNEL_ENTRY_AVX2)},
    {.level = LC_ISA_AVX512,
     .name = "avx512",
     .sgemm = lc_sgemm,
     LC_KERNEL_LIST(LC_KERNEL_ENTRY_AVX512)},
};

const lc_kernels *lc_kern = &tables[LC_ISA_GENERIC];
static int hw_level = -1;

const lc_kernels *lc_kernels_for(int level) {
  if (level < 0 || level >= LC_ISA_LEVELS) return NULL;
  return &tables[level];
}

const char *cpu_isa_name(int level) {
  return level >= 0 && level < LC_ISA_LEVELS ? tables[level].name : "?";
}

int cpu_isa_hw_level(const cpu_features *f) {
#if CPU_X86
  if (f->avx512f && f->avx512bw && f->avx512vl && f->avx512dq && f->avx2 &&
      f->fma)
    return LC_ISA_AVX512;
  if (f->avx2 && f->fma) return LC_ISA_AVX2;
#else
  (void)f;
#endif
  return LC_ISA_GENERIC;
}

conv_status cpu_isa_resolve(const char *value, int hw, int *level,
                            conv_err *err) {
  if (value == NULL || value[0] == '\0') {
    *level = hw;
    return CONV_SUCCESS;
  }
  int want = -1;
  for (int l = 0; l < LC_ISA_LEVELS; l++)
    if (strcasecmp(value, tables[l].name) == 0) want = l;
  if (want < 0)
    return conv_err_set(err, CONV_ERROR_INVALID_ARGUMENT,
                        "CONV_CPU_ISA=%s is not an ISA level (avx512, avx2 or "
                        "generic)", value);
  if (want > hw)
    return conv_err_set(err, CONV_ERROR_INVALID_ARGUMENT,
                        "CONV_CPU_ISA=%s: this processor cannot run %s code; "
                        "the highest level it runs is %s", value,
                        tables[want].name, tables[hw].name);
  *level = want;
  return CONV_SUCCESS;
}

conv_status cpu_isa_init(conv_err *err) {
  char value[32];
  conv_status st = conv_env_string("CONV_CPU_ISA", value, sizeof value, err);
  if (st != CONV_SUCCESS) return st;
  int hw = cpu_isa_hw_level(cpu_get_features()), level;
  st = cpu_isa_resolve(value, hw, &level, err);
  if (st != CONV_SUCCESS) return st;
  hw_level = hw;
  lc_kern = &tables[level];
  return CONV_SUCCESS;
}

int cpu_isa_hw(void) {
  return hw_level >= 0 ? hw_level : cpu_isa_hw_level(cpu_get_features());
}
