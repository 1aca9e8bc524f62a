/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Portable 16-lane float vectors for the cpu backend's kernels (the padded
 * planes they read are helpers.h's).
 *
 * Kernels are written once with GCC/Clang vector extensions (vf below) in
 * `static inline LC_INLINE` bodies, then instantiated per instruction set by
 * LC_ISA_DISPATCH: an AVX-512 clone, an AVX2+FMA clone and a plain clone. The
 * compiler lowers a 64-byte vector to one zmm, two ymm or four xmm registers,
 * so the same source gives the fast path and the portable path; the run-time
 * choice is the kernel table chosen at backend init (cpu_isa.h), capped by
 * $CONV_CPU_ISA. No global -march.
 */
#ifndef CONV_CPU_SIMD_H
#define CONV_CPU_SIMD_H

#include <stdint.h>
#include <string.h>

#include "cpu_internal.h"
#include "cpu_isa.h"
#include "helpers.h"

#define LC_INLINE __attribute__((always_inline))
/* Fully unrolls a loop of constant trip count, so that arrays of vectors
 * indexed by its counter stay in registers. */
#if defined(__clang__)
#  define LC_UNROLL _Pragma("clang loop unroll(full)")
#else
#  define LC_UNROLL _Pragma("GCC unroll 32")
#endif

/* A vector value, and the same type for unaligned, aliasing memory access. */
typedef float vf __attribute__((vector_size(64)));
typedef float vfu __attribute__((vector_size(64), aligned(4), may_alias));

/* The helpers that take or give a vector are macros, not functions: GCC
 * notes every function with a 64-byte vector parameter ("the ABI for passing
 * parameters with 64-byte alignment has changed in GCC 4.6") and warns of
 * every one returning such a vector where AVX-512 is off (the plain and AVX2
 * clones), even when it is always inlined. No vector crosses a call. */
#define vload(p) (*(const vfu *)(p))
#define vstore(p, v) ((void)(*(vfu *)(p) = (v)))
/* A broadcast. Not `(vf){0} + s`: 0 + s cannot be folded (it maps -0 to
 * +0), so that compiles to a scalar add and a register broadcast before
 * every FMA; s - 0 is s for every s, so this is one broadcast load the FMA
 * can take from memory. */
#define vsplat(s) ((float)(s) - (vf){0})
/* GCC 12 splits such a broadcast into SSE / AVX2 halves for the lower
 * clones and then warns that the halves of accumulator arrays set from it
 * "may be used uninitialized" (a false report: every one is assigned
 * before use, and the AVX-512 clone of the same code does not warn). */
#if defined(__GNUC__) && !defined(__clang__)
#  pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#define vzero() ((vf){0})

/* Stores the first n (1..16) lanes of v. */
#define vstore_n(p, v, n)                                            \
  do {                                                               \
    float *const vsn_p_ = (p);                                       \
    const vf vsn_v_ = (v);                                           \
    const int64_t vsn_n_ = (n);                                      \
    if (vsn_n_ >= LC_VL) {                                           \
      vstore(vsn_p_, vsn_v_);                                        \
    } else {                                                         \
      for (int64_t vsn_i_ = 0; vsn_i_ < vsn_n_; vsn_i_++)            \
        vsn_p_[vsn_i_] = vsn_v_[vsn_i_];                             \
    }                                                                \
  } while (0)

/* Loads n (0..16) floats, the other lanes zero; never reads past p[n-1]. */
#define vload_n(p, n)                                                \
  ({                                                                 \
    const float *const vln_p_ = (p);                                 \
    const int64_t vln_n_ = (n);                                      \
    vf vln_v_ = vzero();                                             \
    if (vln_n_ >= LC_VL)                                             \
      vln_v_ = vload(vln_p_);                                        \
    else                                                             \
      for (int64_t vln_i_ = 0; vln_i_ < vln_n_; vln_i_++)            \
        vln_v_[vln_i_] = vln_p_[vln_i_];                             \
    vln_v_;                                                          \
  })

/* Sum of the lanes in a fixed order (pairwise), so results do not depend on
 * the instruction set's reduction order beyond the lane split. */
static inline LC_INLINE float vsum_p(const vf *v) {
  float s8[8], s4[4];
  for (int i = 0; i < 8; i++) s8[i] = (*v)[i] + (*v)[i + 8];
  for (int i = 0; i < 4; i++) s4[i] = s8[i] + s8[i + 4];
  return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}
#define vsum(v) vsum_p((const vf[1]){(v)})

/* Transposes the 16 x 16 floats in r[0..15] (row i becomes column i):
 * four stages, each swapping the off-diagonal blocks of 8, 4, 2, then 1
 * lanes between rows i and i + block (two lane shuffles per row pair). */
static inline LC_INLINE void vtranspose16(vf *r) {
  LC_UNROLL
  for (int i = 0; i < 16; i++)
    if (!(i & 8)) {
      const vf a_ = r[i], b_ = r[i + 8];
      r[i] = __builtin_shufflevector(
            a_, b_, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
      r[i + 8] = __builtin_shufflevector(
            a_, b_, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    }
  LC_UNROLL
  for (int i = 0; i < 16; i++)
    if (!(i & 4)) {
      const vf a_ = r[i], b_ = r[i + 4];
      r[i] = __builtin_shufflevector(
            a_, b_, 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
      r[i + 4] = __builtin_shufflevector(
            a_, b_, 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
    }
  LC_UNROLL
  for (int i = 0; i < 16; i++)
    if (!(i & 2)) {
      const vf a_ = r[i], b_ = r[i + 2];
      r[i] = __builtin_shufflevector(
            a_, b_, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29);
      r[i + 2] = __builtin_shufflevector(
            a_, b_, 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);
    }
  LC_UNROLL
  for (int i = 0; i < 16; i++)
    if (!(i & 1)) {
      const vf a_ = r[i], b_ = r[i + 1];
      r[i] = __builtin_shufflevector(
            a_, b_, 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30);
      r[i + 1] = __builtin_shufflevector(
            a_, b_, 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
    }
}

/* vpin(v, on): where on is the constant 1 (an AVX-512 clone), ties the
 * vector v to a register at this point. GCC otherwise may fold a vector
 * loaded once and used by several FMAs back into each FMA as a memory
 * operand: a load per use, which made the weight-gradient block of
 * direct_vec load-bound. No-op where on is 0 (below AVX-512 a 64-byte
 * vector is not one register), off x86, without optimisation (GCC then
 * keeps the asm of the on = 0 clones and rejects its constraint) and with
 * clang (it checks the operand's size against each clone's target before
 * removing dead code). */
#if CPU_X86 && defined(__OPTIMIZE__) && !defined(__clang__)
#  define vpin(v, on)                      \
    do {                                   \
      if (on) __asm__("" : "+v"(v));       \
    } while (0)
#else
#  define vpin(v, on) ((void)0)
#endif

/* The level of the kernel table in use (cpu_isa.h): 2 = AVX-512 (F, BW,
 * VL, DQ), 1 = AVX2 + FMA, 0 = generic; capped by $CONV_CPU_ISA. */
#define lc_isa_level() (lc_kern->level)

/* Defines the clones lc_NAME_avx512, lc_NAME_avx2 and lc_NAME_generic of a
 * kernel listed in LC_KERNEL_LIST (cpu_isa.h) from body(ARGS), and NAME(
 * PARAMS), which calls the clone of the table in use. */
#if CPU_X86
#  define LC_ISA_DISPATCH(name, params, args, body)               \
    CPU_TARGET_AVX512 void lc_##name##_avx512 params { body args; } \
    CPU_TARGET_AVX2 void lc_##name##_avx2 params { body args; }     \
    void lc_##name##_generic params { body args; }                  \
    static inline void name params { lc_kern->name args; }
#else
/* One clone serves every level. */
#  define LC_ISA_DISPATCH(name, params, args, body)               \
    void lc_##name##_generic params { body args; }                  \
    void lc_##name##_avx2 params { body args; }                     \
    void lc_##name##_avx512 params { body args; }                   \
    static inline void name params { lc_kern->name args; }
#endif

#endif /* CONV_CPU_SIMD_H */
