/* SPDX-License-Identifier: Apache-2.0 */
/*
 * direct_vec's kernels (algorithms/direct_vec.c), compiled per ISA level:
 * the forward of one task (every block of CB output channels by V vectors
 * of one row, over the group's padded input planes, helpers.h) and the
 * weight gradient of one image of one group (blocks of CB channels by NT
 * taps of vector accumulators, folded into the partial dw).
 */
#include <stdint.h>
#include <string.h>

#include "helpers.h"
#include "kernels.h"
#include "simd.h"

/* Output blocks of CB channels by V vectors; V chosen to waste the fewest
 * lanes. */
static int vec_pick_v(int64_t w_out) {
  int64_t nvec = (w_out + LC_VL - 1) / LC_VL;
  if (nvec <= 3) return (int)nvec;
  int64_t w2 = (nvec + 1) / 2 * 2, w3 = (nvec + 2) / 3 * 3;
  return w3 <= w2 ? 3 : 2;
}

/* One block: out[c][oh][ow..] for CB channels (the first nc of them
 * stored; the packed weights of the others are zero), V vectors, one row.
 * bsp holds each channel's bias broadcast to a whole vector: the
 * accumulators start as plain vector loads. (With a broadcast expression
 * there, GCC 12 built every accumulator lane by lane, 16 masked moves per
 * vector and row block, in the AVX-512 clone.) */
static inline LC_INLINE void vec_fwd_rows(const vec_geom *v, const float *xb,
                                          size_t xplane, const float *wpk,
                                          const int64_t *tofs,
                                          const float *bsp, float *out,
                                          size_t oplane, int64_t ostride,
                                          int64_t oh_count, int64_t ow_count,
                                          int64_t nc, const int CB,
                                          const int V) {
  const int64_t taps = v->taps, cig = v->cig;
  const int64_t rs = v->p->stride_h * v->g.wq;
  for (int64_t oh = 0; oh < oh_count; oh++) {
    for (int64_t ow = 0; ow < ow_count; ow += V * LC_VL) {
      vf acc[8][3];
      LC_UNROLL
      for (int c = 0; c < CB; c++)
        LC_UNROLL
        for (int u = 0; u < V; u++) acc[c][u] = vload(bsp + c * LC_VL);
      const float *wp = wpk;
      for (int64_t ci = 0; ci < cig; ci++) {
        const float *base = xb + ci * xplane + oh * rs + ow;
        for (int64_t t = 0; t < taps; t++, wp += CB) {
          const float *src = base + tofs[t];
          vf xv[3];
          LC_UNROLL
          for (int u = 0; u < V; u++) xv[u] = vload(src + u * LC_VL);
          LC_UNROLL
          for (int c = 0; c < CB; c++) {
            vf wv = vsplat(wp[c]);
            LC_UNROLL
            for (int u = 0; u < V; u++) acc[c][u] += wv * xv[u];
          }
        }
      }
      LC_UNROLL
      for (int c = 0; c < CB; c++) {
        if (c >= nc) break;
        float *o = out + c * oplane + oh * ostride + ow;
        LC_UNROLL
        for (int u = 0; u < V; u++)
          if (ow + u * LC_VL < ow_count)
            vstore_n(o + u * LC_VL, acc[c][u], ow_count - ow - u * LC_VL);
      }
    }
  }
}

/* vec_fwd_rows for one (CB, V), compiled as a function of its own per ISA
 * level: inlined all into one task function, the register allocator kept
 * some accumulators of the 8 x 2 block in memory inside the tap loop (GCC
 * 12, AVX-512 clone). */
typedef void vec_rows_fn(const vec_geom *v, const float *xb, size_t xplane,
                         const float *wpk, const int64_t *tofs,
                         const float *bsp, float *out, size_t oplane,
                         int64_t ostride, int64_t oh_count, int64_t ow_count,
                         int64_t nc);

/* acc[c][k] += sum over rows [oh0, oh1) of dy[c] * x at tap k, for CB
 * output channels (dy planes at dys[c], rows of ds floats) and NT taps
 * (offsets tofs[k] into the x plane buffer xb). The accumulators are
 * vectors in memory (va, CB x NT), so that the rows can be walked in chunks
 * that stay in cache across blocks. */
static inline LC_INLINE void vec_wg_block(const conv_problem *p, lc_plane g,
                                          const float *xb,
                                          const float *const *dys, int64_t ds,
                                          const int64_t *tofs, float *va,
                                          int64_t oh0, int64_t oh1,
                                          const int CB, const int NT,
                                          const int PIN) {
  const int64_t rs = p->stride_h * g.wq;
  vf acc[LC_VEC_WG_MAX][LC_VEC_WG_MAX];
  LC_UNROLL
  for (int c = 0; c < CB; c++)
    LC_UNROLL
    for (int k = 0; k < NT; k++) acc[c][k] = vload(va + (c * NT + k) * LC_VL);
  for (int64_t oh = oh0; oh < oh1; oh++) {
    const float *xr = xb + oh * rs;
    for (int64_t ow = 0; ow < p->w_out; ow += LC_VL) {
      vf d[LC_VEC_WG_MAX], xv[LC_VEC_WG_MAX];
      LC_UNROLL
      for (int k = 0; k < NT; k++) xv[k] = vload(xr + tofs[k] + ow);
      LC_UNROLL
      for (int c = 0; c < CB; c++) {
        d[c] = vload(dys[c] + oh * ds + ow);
        vpin(d[c], PIN);
        LC_UNROLL
        for (int k = 0; k < NT; k++) acc[c][k] += d[c] * xv[k];
      }
    }
  }
  LC_UNROLL
  for (int c = 0; c < CB; c++)
    LC_UNROLL
    for (int k = 0; k < NT; k++) vstore(va + (c * NT + k) * LC_VL, acc[c][k]);
}

/* One image of one group: adds its dw contribution to part (cog x cig x
 * taps, taps in kernel offset order). Blocks of CB channels by NT taps;
 * partial blocks repeat their last channel/tap and drop those sums. */
static inline LC_INLINE void vec_wg_image_cn(const vec_geom *v,
                                             const float *xb,
                                             const float *dyb, int64_t ds,
                                             const int64_t *tofs, float *part,
                                             float *va, const int CB,
                                             const int NT, const int PIN) {
  const conv_problem *p = v->p;
  const size_t xplane = lc_plane_floats(v->g);
  const size_t dplane = (size_t)(p->h_out * ds);
  const int64_t taps = v->taps;
  const int64_t ostride = v->cig * taps;
  const int64_t ncb = (v->cog + CB - 1) / CB, nkb = (taps + NT - 1) / NT;
  const size_t nva = (size_t)(ncb * v->cig * nkb) * (size_t)(CB * NT * LC_VL);
  for (size_t e = 0; e < nva; e += LC_VL) vstore(va + e, vzero());
  /* Rows in chunks of about 128 KiB of dy and x. */
  int64_t row_bytes = (v->cog * ds + v->cig * v->g.wq * p->stride_h) * 4;
  int64_t rc = (128 * 1024) / (row_bytes > 0 ? row_bytes : 1);
  if (rc < 1) rc = 1;
  for (int64_t oh0 = 0; oh0 < p->h_out; oh0 += rc) {
    int64_t oh1 = oh0 + rc < p->h_out ? oh0 + rc : p->h_out;
    float *vb = va;
    for (int64_t c0 = 0; c0 < v->cog; c0 += CB) {
      int64_t nc = v->cog - c0 < CB ? v->cog - c0 : CB;
      const float *dys[LC_VEC_WG_MAX];
      for (int c = 0; c < CB; c++)
        dys[c] = dyb + (size_t)(c0 + (c < nc ? c : nc - 1)) * dplane;
      for (int64_t ci = 0; ci < v->cig; ci++) {
        for (int64_t k0 = 0; k0 < taps; k0 += NT, vb += CB * NT * LC_VL) {
          int64_t nk = taps - k0 < NT ? taps - k0 : NT;
          int64_t to[LC_VEC_WG_MAX];
          for (int k = 0; k < NT; k++) to[k] = tofs[k0 + (k < nk ? k : nk - 1)];
          vec_wg_block(p, v->g, xb + ci * xplane, dys, ds, to, vb, oh0, oh1,
                       CB, NT, PIN);
        }
      }
    }
  }
  /* Fold the vector sums into part. */
  float *vb = va;
  for (int64_t c0 = 0; c0 < v->cog; c0 += CB) {
    int64_t nc = v->cog - c0 < CB ? v->cog - c0 : CB;
    for (int64_t ci = 0; ci < v->cig; ci++) {
      for (int64_t k0 = 0; k0 < taps; k0 += NT, vb += CB * NT * LC_VL) {
        int64_t nk = taps - k0 < NT ? taps - k0 : NT;
        float *out = part + (c0 * v->cig + ci) * taps + k0;
        for (int64_t c = 0; c < nc; c++)
          for (int64_t k = 0; k < nk; k++)
            out[c * ostride + k] += vsum(vload(vb + (c * NT + k) * LC_VL));
      }
    }
  }
}

/* All blocks of one task. Output channel c of block b goes to
 * out + (b * CB + c) * oplane; channels past cog are not stored. The last
 * block runs as a block of cbl channels (its extra weights are zero; it was
 * one channel at a time, 1 FMA per vector load). rows is
 * the ISA level's table of vec_fwd_rows instances, [CB 8, 4, 2, 1][V - 1]. */
static inline LC_INLINE void vec_fwd_task_body(const vec_geom *v,
                                               const float *xb,
                                               const float *wpk,
                                               const int64_t *tofs,
                                               const float *bias, float *out,
                                               size_t oplane, int64_t ostride,
                                               int64_t oh_count,
                                               int64_t ow_count,
                                               vec_rows_fn *const rows[4][3]) {
  const int V = vec_pick_v(ow_count);
  const size_t xplane = lc_plane_floats(v->g);
  for (int64_t b = 0; b < v->nblk; b++) {
    const int64_t cb = b == v->nblk - 1 ? v->cbl : v->cb;
    vec_rows_fn *const fn =
          rows[cb == 8 ? 0 : cb == 4 ? 1 : cb == 2 ? 2 : 3][V - 1];
    const float *wb = wpk + b * v->cig * v->taps * v->cb;
    float bsp[8 * LC_VL];
    int64_t nc = v->cog - b * v->cb < cb ? v->cog - b * v->cb : cb;
    for (int64_t c = 0; c < cb; c++)
      vstore(bsp + c * LC_VL,
             vsplat(c < nc && bias ? bias[b * v->cb + c] : 0.0f));
    fn(v, xb, xplane, wb, tofs, bsp, out + b * v->cb * oplane, oplane,
       ostride, oh_count, ow_count, nc);
  }
}

#define VEC_ROWS_FN(attr, sfx, CB_, V_)                                       \
  static attr __attribute__((noinline)) void vec_rows_##sfx##_##CB_##_##V_(   \
        const vec_geom *v, const float *xb, size_t xplane, const float *wpk,  \
        const int64_t *tofs, const float *bsp, float *out, size_t oplane,     \
        int64_t ostride, int64_t oh_count, int64_t ow_count, int64_t nc) {    \
    vec_fwd_rows(v, xb, xplane, wpk, tofs, bsp, out, oplane, ostride,        \
                 oh_count, ow_count, nc, CB_, V_);                            \
  }
#define VEC_ROWS_CB(attr, sfx, CB_)                                           \
  VEC_ROWS_FN(attr, sfx, CB_, 1)                                              \
  VEC_ROWS_FN(attr, sfx, CB_, 2) VEC_ROWS_FN(attr, sfx, CB_, 3)
#define VEC_ROWS_ROW(sfx, CB_)                                                \
  { vec_rows_##sfx##_##CB_##_1, vec_rows_##sfx##_##CB_##_2,                   \
    vec_rows_##sfx##_##CB_##_3 }
/* lc_vec_fwd_task_SFX (cpu_isa.h's table) and its row functions. */
#define VEC_FWD_ISA(attr, sfx)                                                \
  VEC_ROWS_CB(attr, sfx, 8)                                                   \
  VEC_ROWS_CB(attr, sfx, 4)                                                   \
  VEC_ROWS_CB(attr, sfx, 2)                                                   \
  VEC_ROWS_CB(attr, sfx, 1)                                                   \
  static vec_rows_fn *const vec_rows_##sfx[4][3] = {                          \
        VEC_ROWS_ROW(sfx, 8), VEC_ROWS_ROW(sfx, 4), VEC_ROWS_ROW(sfx, 2),     \
        VEC_ROWS_ROW(sfx, 1)};                                                \
  attr void lc_vec_fwd_task_##sfx(                                            \
        const vec_geom *v, const float *xb, const float *wpk,                 \
        const int64_t *tofs, const float *bias, float *out, size_t oplane,    \
        int64_t ostride, int64_t oh_count, int64_t ow_count) {                \
    vec_fwd_task_body(v, xb, wpk, tofs, bias, out, oplane, ostride,          \
                      oh_count, ow_count, vec_rows_##sfx);                    \
  }

VEC_FWD_ISA(CPU_TARGET_AVX512, avx512)
VEC_FWD_ISA(CPU_TARGET_AVX2, avx2)
VEC_FWD_ISA(, generic)

static inline LC_INLINE void vec_wg_image_body(const vec_geom *v,
                                               const float *xb,
                                               const float *dyb, int64_t ds,
                                               const int64_t *tofs,
                                               float *part, float *va,
                                               const int PIN) {
  /* Blocks of output channels x taps (algorithms/direct_vec.c's
   * vec_wg_pick sizes va for the same choice): 8 x 2 from 8 channels; 6
   * or 7 channels take 7 x 3 (21 accumulators, 7 pinned dy, 3 x vectors:
   * 31 of AVX-512's 32 registers; a load per 2.1 FMAs against 8 x 2's
   * 1.6, and no eighth channel computed for nothing): seed001_5x5's
   * weight gradient (7 channels), two threads, 3 alternating runs, 7.1-7.5
   * -> 5.3-6.2 ms. */
  if (v->cog >= 8)
    vec_wg_image_cn(v, xb, dyb, ds, tofs, part, va, 8, 2, PIN);
  else if (v->cog >= 6)
    vec_wg_image_cn(v, xb, dyb, ds, tofs, part, va, 7, 3, PIN);
  else
    vec_wg_image_cn(v, xb, dyb, ds, tofs, part, va, 4, 5, PIN);
}

/* Clones by hand: only the AVX-512 one pins the dy vectors (vpin). */
#define VEC_WG_PARAMS                                                      \
  (const vec_geom *v, const float *xb, const float *dyb, int64_t ds,       \
   const int64_t *tofs, float *part, float *va)
CPU_TARGET_AVX512 void lc_vec_wg_image_avx512 VEC_WG_PARAMS {
  vec_wg_image_body(v, xb, dyb, ds, tofs, part, va, 1);
}
CPU_TARGET_AVX2 void lc_vec_wg_image_avx2 VEC_WG_PARAMS {
  vec_wg_image_body(v, xb, dyb, ds, tofs, part, va, 0);
}
void lc_vec_wg_image_generic VEC_WG_PARAMS {
  vec_wg_image_body(v, xb, dyb, ds, tofs, part, va, 0);
}
