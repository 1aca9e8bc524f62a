/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cpu backend's one dispatch mechanism: every kernel that is compiled
 * per instruction set is listed once below (LC_KERNEL_LIST), defined in its
 * file with LC_ISA_DISPATCH (kernels/simd.h) as three clones, NAME_avx512,
 * NAME_avx2 and NAME_generic, and reached only through the table lc_kern.
 *
 * The table is chosen once, when the backend is initialised
 * (cpu_isa_init, from cpu_init): the highest level the processor runs,
 * capped by $CONV_CPU_ISA (avx512 | avx2 | generic). Nothing else reads the
 * CPU's features to choose code: algorithms that prefer another path at a
 * lower level ask lc_kern->level. So CONV_CPU_ISA=generic on an AVX-512
 * machine runs exactly the code a machine without AVX would run (our own
 * code: the BLAS the backend is linked with picks its kernels itself;
 * OpenBLAS honours OPENBLAS_CORETYPE).
 */
#ifndef CONV_CPU_ISA_H
#define CONV_CPU_ISA_H

#include <stddef.h>
#include <stdint.h>

#include "helpers.h"

/* The levels, lowest first. */
enum {
  LC_ISA_GENERIC = 0, /* the compiler's baseline (x86-64: SSE2) */
  LC_ISA_AVX2 = 1,    /* AVX2 + FMA */
  LC_ISA_AVX512 = 2,  /* AVX-512 F, BW, VL, DQ (+ AVX2, FMA) */
  LC_ISA_LEVELS = 3
};

/* Types of kernel parameters defined in the kernels' own files. */
typedef struct vec_geom vec_geom;   /* kernels/kernels.h */
typedef struct wino_prob wino_prob; /* kernels/kernels.h */
struct lc_plane;

/* X(name, params): each kernel compiled per ISA. */
#define LC_KERNEL_LIST(X)                                                     \
  /* kernels/activation.c: y = act(y + bias) */                                     \
  X(activate_isa, (float *y, int64_t count, float bias, int act, float alpha)) \
  /* kernels/direct_planes.c: the direct algorithm's planes */                        \
  X(direct_fwd_plane, (const conv_problem *p, const cpu_maps *m,              \
                       const float *restrict x, const float *restrict w,      \
                       float bias, float *restrict y))                        \
  X(direct_fwd_plane_3x3, (const conv_problem *p, const cpu_maps *m,          \
                           const float *restrict x, const float *restrict w,  \
                           float bias, float *restrict y))                    \
  X(direct_bwd_data_plane, (const conv_problem *p, const cpu_maps *m,         \
                            const float *restrict dy,                         \
                            const float *restrict w, float *restrict dx))     \
  X(direct_bwd_weight_pair_rows, (const conv_problem *p, const cpu_maps *m,   \
                                  const float *restrict x,                    \
                                  const float *restrict dy,                   \
                                  float *restrict dw, float *restrict acc))   \
  X(direct_bwd_weight_pair_dot, (const conv_problem *p, const cpu_maps *m,    \
                                 const float *restrict x,                     \
                                 const float *restrict dy,                    \
                                 float *restrict dw, double *restrict acc))   \
  /* kernels/im2col.c: lowering and its transpose */                              \
  X(im2col_lower, (const conv_problem *p, const cpu_maps *m,                  \
                   const float *restrict x, int64_t k0, int64_t k1,           \
                   int64_t p0, int64_t p1, float *restrict cols, int64_t ld)) \
  X(im2col_col2im, (const conv_problem *p, const cpu_maps *m,                 \
                    const float *restrict cols, int64_t k0, int64_t k1,       \
                    int64_t p0, int64_t p1, float *restrict dx, int64_t ld))  \
  X(interleave2, (const float *restrict e, const float *restrict o,           \
                  int64_t ne, int64_t no, float *restrict d))                 \
  /* kernels/direct_vec.c */                                                  \
  X(vec_fwd_task, (const vec_geom *v, const float *xb, const float *wpk,      \
                   const int64_t *tofs, const float *bias, float *out,        \
                   size_t oplane, int64_t ostride, int64_t oh_count,          \
                   int64_t ow_count))                                         \
  X(vec_wg_image, (const vec_geom *v, const float *xb, const float *dyb,      \
                   int64_t ds, const int64_t *tofs, float *part, float *va))  \
  /* kernels/depthwise.c */                                                     \
  X(dw_fwd_plane, (const conv_problem *p, const float *buf, struct lc_plane g,       \
                   const float *wk, float bias, float *y))                    \
  X(dw_keep_even, (const float *tmp, int64_t ts, int64_t ho, int64_t wo,      \
                   float *y))                                                 \
  X(dw_bwd_plane, (const conv_problem *p, const float *dyb, int64_t ds,       \
                   int64_t margin, const float *wk, float *buf, struct lc_plane g))  \
  X(dw_copy_row, (float *d, const float *s, int64_t ds, int64_t margin,       \
                  int64_t n))                                                 \
  X(dw_wgrad_plane, (const conv_problem *p, const float *dyb, int64_t ds,     \
                     const float *buf, struct lc_plane g, const int64_t *rofs,       \
                     const int64_t *q, const int64_t *cofs, float *out))      \
  X(dw_fwd_fused, (const conv_problem *p, const float *x, const float *xnext, \
                   float *buf, struct lc_plane g, const float *wk, float bias, \
                   float *y))                                                 \
  X(dw_wgrad_fused, (const conv_problem *p, const float *x,                   \
                     const float *xnext, const float *dy, const float *dynext, \
                     float *buf, struct lc_plane g, float *dyb, int64_t ds,   \
                     float *out))                                             \
  X(dw_bwd_s2, (const conv_problem *p, const float *dy, const float *dynext, \
                float *dyb, int64_t ds, int64_t mt, int64_t ml,              \
                const float *wk, float *tmp, float *dx))                     \
  /* kernels/gemm.c: the packed-A panel GEMM and lc_sgemm */                  \
  X(gemm_panel_isa, (const float *ap, int64_t m, int64_t k, const float *b,   \
                     int64_t ldb, float *c, int64_t ldc, int64_t ncols,       \
                     const float *bias, float *tmp))                          \
  X(sg_isa, (int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,       \
             float alpha, const float *a, int64_t lda, const float *b,        \
             int64_t ldb, float beta, float *c, int64_t ldc))                 \
  X(wgrad_step, (const float *a, int64_t lda, int64_t rows, const float *d, \
                 int64_t ldd, int64_t cout, int64_t kn, int accumulate,       \
                 float *ct, int64_t ldct, float *pack))                       \
  /* helpers/padding.c: padded planes */                                      \
  X(plane_fill_isa, (const conv_problem *p, const float *src, struct lc_plane g,     \
                     float *buf))                                             \
  X(copy_row_isa, (float *d, const float *s, int64_t n))                      \
  /* helpers/bias_grad.c: the bias gradient's one order */                    \
  X(channel_sum_isa, (const float *y, float *sum, int64_t n, int64_t c_total, \
                      int64_t hw, int64_t c0, int64_t cnt))                   \
  /* kernels/winograd_f4x4.c */                                             \
  X(wino_weight, (const wino_prob *w, const float *gt, int64_t co,            \
                  int64_t ci0, int64_t cnt, float *u))                        \
  X(wino_gemm, (const float *up, const float *v, float *m, int64_t k_dim,     \
                int64_t c_out, int64_t ncob, int64_t ts))                     \
  X(wino_in, (const wino_prob *w, const float *xc, int64_t tr, float *stage,  \
              float *v, size_t estride, size_t t0))                           \
  X(wino_out, (const wino_prob *w, const float *m, size_t estride, size_t t0, \
               float bias, float *yc, int64_t tr, float *stage))             \
  X(wino_dy, (const wino_prob *w, const float *dyc, int64_t tr, float *stage, \
              float *dd, size_t estride, size_t t0))                          \
  X(wino_wout, (const float *src, size_t estride, int64_t cnt, float *gt))   \
  /* kernels/winograd_f2x2.c */                                             \
  X(wf2_weight, (const float *const *rows, const float *w, int64_t wfloats,  \
                 int rev, int64_t cnt, float *u, size_t ue))                 \
  X(wf2_in_row, (const float *const *rows, int64_t nt, float *v, size_t ve, \
                 int64_t room))                                              \
  X(wf2_out_row, (const float *m, size_t me, int64_t tw, float bias,         \
                  float *y0, float *y1, int64_t w_out, int64_t room))

/* The clones, defined by LC_ISA_DISPATCH in the kernels' files. */
#define LC_KERNEL_DECLARE(name, params) \
  void lc_##name##_avx512 params;       \
  void lc_##name##_avx2 params;         \
  void lc_##name##_generic params;
LC_KERNEL_LIST(LC_KERNEL_DECLARE)
#undef LC_KERNEL_DECLARE

/* The table of one level. */
typedef struct lc_kernels {
  int level;        /* LC_ISA_* */
  const char *name; /* "avx512", "avx2", "generic": CONV_CPU_ISA's words */
  /* Matrix products of the algorithms (cpu_sgemm): our AVX-512 kernel at
   * that level, the linked BLAS below it. */
  void (*sgemm)(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                float alpha, const float *a, int64_t lda, const float *b,
                int64_t ldb, float beta, float *c, int64_t ldc);
#define LC_KERNEL_MEMBER(name, params) void(*name) params;
  LC_KERNEL_LIST(LC_KERNEL_MEMBER)
#undef LC_KERNEL_MEMBER
} lc_kernels;

/* The table in use: the generic one until cpu_isa_init() runs. */
extern const lc_kernels *lc_kern;

/* The table of a level (LC_ISA_GENERIC .. LC_ISA_AVX512). */
const lc_kernels *lc_kernels_for(int level);

/* The highest level the processor (and its operating system) runs. */
int cpu_isa_hw_level(const cpu_features *f);

/* The level to use for the value of $CONV_CPU_ISA (NULL or "": hw) on a
 * processor of level hw, in *level. Words are case-insensitive.
 * CONV_ERROR_INVALID_ARGUMENT for an unknown word or a level above hw, with
 * a message that names the variable and the value. */
conv_status cpu_isa_resolve(const char *value, int hw, int *level,
                            conv_err *err);

/* Reads $CONV_CPU_ISA (through conv_env.h) and sets lc_kern once for the
 * backend; on error lc_kern is left as it was. */
conv_status cpu_isa_init(conv_err *err);

/* The level's word ("avx512", ...), "?" out of range. */
const char *cpu_isa_name(int level);

/* What cpu_isa_init chose: the hardware level and whether a ceiling cut it. */
int cpu_isa_hw(void);

#endif /* CONV_CPU_ISA_H */
