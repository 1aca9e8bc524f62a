/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small GEMM for convolution shapes (gemm_1x1 runs it straight on the
 * NCHW tensors; im2col_gemm and winograd_f4x4 on their staged panels), and
 * lc_sgemm, the AVX-512 level's sgemm.
 *
 * C (m x ncols) = bias + A (m x k) * B (k x ncols), ncols <= 32 per call
 * ("a panel"): A is packed once per call in blocks of 12 rows, [k][12]; B
 * and C are read and written with their row strides (the channel planes),
 * so a panel is 32 pixels of every channel. Micro-tile 12 x 32 (24 vector
 * accumulators). A partial last panel goes through a zero-padded scratch
 * copy so that nothing past the tensors is read or written.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kernels.h"
#include "simd.h"

#define GM_MR 12 /* rows of a packed block and of the register tile (24
                  * accumulators): 8 rows reached 139 GF/s a core with the
                  * panel in L2, 12 rows 163 (Xeon, AVX-512) */
#define GM_NR LC_GEMM_NR

/* Rows of the packed block starting at row r0: GM_MR, or the rows left
 * rounded up to 4 (a last block of 4 or 8 rows runs a narrower tile). */
static int64_t gm_block_rows(int64_t m, int64_t r0) {
  const int64_t left = m - r0;
  return left >= GM_MR ? GM_MR : (left + 3) / 4 * 4;
}

size_t lc_gemm_packed_a_floats(int64_t m, int64_t k) {
  return cpu_mul_size((size_t)((m + GM_MR - 1) / GM_MR * GM_MR), (size_t)k);
}

/* Block cb (rows cb * GM_MR ...) lies at ap + cb * GM_MR * k as [k][bw],
 * bw = gm_block_rows; rows past m are zero. */
void lc_gemm_pack_a(const float *a, int64_t rs, int64_t cs, int64_t m,
                    int64_t k, float *ap) {
  for (int64_t r0 = 0; r0 < m; r0 += GM_MR) {
    const int64_t bw = gm_block_rows(m, r0);
    float *blk = ap + r0 * k;
    for (int64_t kk = 0; kk < k; kk++)
      for (int64_t i = 0; i < bw; i++) {
        int64_t row = r0 + i;
        blk[kk * bw + i] = row < m ? a[row * rs + kk * cs] : 0.0f;
      }
  }
}

/* One packed block of MR rows (a constant at each call) by a full panel. */
static inline LC_INLINE void gemm_panel_tile(const float *a, int64_t r0,
                                             int64_t m, int64_t k,
                                             const float *b, int64_t ldb,
                                             float *c, int64_t ldc,
                                             const float *bias, const int MR) {
  vf acc[GM_MR][2];
  /* 0 + b (a scalar add, then one register broadcast), not vsplat: GCC 12
   * builds vsplat of a value chosen per row lane by lane (masked moves). A
   * bias of -0 starts the sum at +0, which changes no sum's value. */
  LC_UNROLL
  for (int i = 0; i < MR; i++) {
    int64_t row = r0 + i;
    float b0 = bias != NULL && row < m ? bias[row] : 0.0f;
    acc[i][0] = acc[i][1] = (vf){0} + b0;
  }
  const float *bk = b;
  for (int64_t kk = 0; kk < k; kk++, bk += ldb) {
    vf v0 = vload(bk), v1 = vload(bk + LC_VL);
    LC_UNROLL
    for (int i = 0; i < MR; i++) {
      vf ai = vsplat(a[kk * MR + i]);
      acc[i][0] += ai * v0;
      acc[i][1] += ai * v1;
    }
  }
  LC_UNROLL
  for (int i = 0; i < MR; i++) {
    int64_t row = r0 + i;
    if (row < m) {
      vstore(c + row * ldc, acc[i][0]);
      vstore(c + row * ldc + LC_VL, acc[i][1]);
    }
  }
}

static inline LC_INLINE void gemm_panel_full(const float *ap, int64_t m,
                                             int64_t k, const float *b,
                                             int64_t ldb, float *c,
                                             int64_t ldc, const float *bias) {
  for (int64_t r0 = 0; r0 < m; r0 += GM_MR) {
    const float *a = ap + r0 * k;
    switch (gm_block_rows(m, r0)) {
      case 4: gemm_panel_tile(a, r0, m, k, b, ldb, c, ldc, bias, 4); break;
      case 8: gemm_panel_tile(a, r0, m, k, b, ldb, c, ldc, bias, 8); break;
      default: gemm_panel_tile(a, r0, m, k, b, ldb, c, ldc, bias, GM_MR); break;
    }
  }
}

static inline LC_INLINE void gemm_panel_body(const float *ap, int64_t m,
                                             int64_t k, const float *b,
                                             int64_t ldb, float *c,
                                             int64_t ldc, int64_t ncols,
                                             const float *bias, float *tmp) {
  if (ncols == GM_NR) {
    /* A panel too big for L1, its rows strided through the planes, is
     * read from L2 at a fifth less speed (a page every few rows); where
     * several row blocks sweep it, it is copied together first. */
    if (ldb != GM_NR && k > 192 && m > 2 * GM_MR) {
      for (int64_t kk = 0; kk < k; kk++) {
        vstore(tmp + kk * GM_NR, vload(b + kk * ldb));
        vstore(tmp + kk * GM_NR + LC_VL, vload(b + kk * ldb + LC_VL));
      }
      b = tmp;
      ldb = GM_NR;
    }
    gemm_panel_full(ap, m, k, b, ldb, c, ldc, bias);
    return;
  }
  float *bt = tmp, *ct = tmp + k * GM_NR;
  for (int64_t kk = 0; kk < k; kk++) {
    int64_t j = 0;
    for (; j < ncols; j++) bt[kk * GM_NR + j] = b[kk * ldb + j];
    for (; j < GM_NR; j++) bt[kk * GM_NR + j] = 0.0f;
  }
  gemm_panel_full(ap, m, k, bt, GM_NR, ct, GM_NR, bias);
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < ncols; j++) c[i * ldc + j] = ct[i * GM_NR + j];
}

LC_ISA_DISPATCH(gemm_panel_isa,
                (const float *ap, int64_t m, int64_t k, const float *b,
                 int64_t ldb, float *c, int64_t ldc, int64_t ncols,
                 const float *bias, float *tmp),
                (ap, m, k, b, ldb, c, ldc, ncols, bias, tmp), gemm_panel_body)

void lc_gemm_panel(const float *ap, int64_t m, int64_t k, const float *b,
                   int64_t ldb, float *c, int64_t ldc, int64_t ncols,
                   const float *bias, float *tmp) {
  gemm_panel_isa(ap, m, k, b, ldb, c, ldc, ncols, bias, tmp);
}

/* ------------------------------------------------------------- lc_sgemm */

#define SG_KB 256 /* k block of a panel copy (32 KiB) */
#define SG_MC 256 /* rows of A per block */

#define SG_MR 12 /* rows of lc_sgemm's register tile (24 accumulators);
                   * a last block of <= 8 or <= 4 rows runs a tile of 8 or 4 */
/* C[i][j] (MR rows x 32 columns) = alpha * sum_kk A[i][kk] B[kk][j] +
 * beta * C[i][j]. A element (i, kk) at a[i * ars + kk * acs]; B rows of
 * stride ldb (32 readable floats each); rows of A past `rows` repeat row
 * rows - 1 (computed, not stored); columns past ncols are not stored. MR
 * is a constant at each call. */
static inline LC_INLINE void sg_tile(const float *a, int64_t ars, int64_t acs,
                                     int64_t rows, int64_t k, const float *b,
                                     int64_t ldb, float alpha, float beta,
                                     float *c, int64_t ldc, int64_t ncols,
                                     const int MR) {
  const float *ar[SG_MR];
  LC_UNROLL
  for (int i = 0; i < MR; i++) ar[i] = a + (i < rows ? i : rows - 1) * ars;
  vf acc[SG_MR][2];
  LC_UNROLL
  for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = vzero();
  const float *bk = b;
  if (acs == 1) {
    for (int64_t kk = 0; kk < k; kk++, bk += ldb) {
      vf v0 = vload(bk), v1 = vload(bk + LC_VL);
      LC_UNROLL
      for (int i = 0; i < MR; i++) {
        vf ai = vsplat(ar[i][kk]);
        acc[i][0] += ai * v0;
        acc[i][1] += ai * v1;
      }
    }
  } else {
    for (int64_t kk = 0; kk < k; kk++, bk += ldb) {
      vf v0 = vload(bk), v1 = vload(bk + LC_VL);
      LC_UNROLL
      for (int i = 0; i < MR; i++) {
        vf ai = vsplat(ar[i][kk * acs]);
        acc[i][0] += ai * v0;
        acc[i][1] += ai * v1;
      }
    }
  }
  LC_UNROLL
  for (int i = 0; i < MR; i++) {
    if (i >= rows) continue;
    float *ci = c + i * ldc;
    vf r0 = alpha * acc[i][0], r1 = alpha * acc[i][1];
    if (ncols == GM_NR) {
      if (beta != 0.0f) {
        r0 += beta * vload(ci);
        r1 += beta * vload(ci + LC_VL);
      }
      vstore(ci, r0);
      vstore(ci + LC_VL, r1);
    } else {
      for (int64_t j = 0; j < ncols; j++) {
        float v = j < LC_VL ? r0[j] : r1[j - LC_VL];
        ci[j] = beta != 0.0f ? v + beta * ci[j] : v;
      }
    }
  }
}

static inline LC_INLINE void sg_body(int trans_a, int trans_b, int64_t m,
                                     int64_t n, int64_t k, float alpha,
                                     const float *a, int64_t lda,
                                     const float *b, int64_t ldb, float beta,
                                     float *c, int64_t ldc) {
  const int64_t ars = trans_a ? 1 : lda, acs = trans_a ? lda : 1;
  float panel[SG_KB * GM_NR];
  /* Blocks of SG_MC rows of A by SG_KB of k (256 KiB: L2) are swept by
   * every column panel, each panel's k block copied (transposed if B is)
   * and zero-padded into L1 first, unless it is already a full panel of
   * at most SG_KB rows that B holds in place. */
  const int in_place = !trans_b && k <= SG_KB;
  for (int64_t ib = 0; ib < m; ib += SG_MC) {
    const int64_t mb = m - ib < SG_MC ? m - ib : SG_MC;
    for (int64_t k0 = 0; k0 < k; k0 += SG_KB) {
      const int64_t kb = k - k0 < SG_KB ? k - k0 : SG_KB;
      const float be = k0 == 0 ? beta : 1.0f;
      for (int64_t j0 = 0; j0 < n; j0 += GM_NR) {
        const int64_t nc = n - j0 < GM_NR ? n - j0 : GM_NR;
        const float *bp = panel;
        int64_t ldp = GM_NR;
        if (in_place && nc == GM_NR) {
          bp = b + j0;
          ldp = ldb;
        } else if (trans_b) {
          for (int64_t jb = 0; jb < GM_NR; jb += LC_VL)
            for (int64_t kk = 0; kk < kb; kk += LC_VL) {
              const int64_t kc = kb - kk < LC_VL ? kb - kk : LC_VL;
              vf t[LC_VL];
              LC_UNROLL
              for (int i = 0; i < LC_VL; i++)
                t[i] = jb + i < nc
                           ? vload_n(b + (j0 + jb + i) * ldb + k0 + kk, kc)
                           : vzero();
              vtranspose16(t);
              LC_UNROLL
              for (int i = 0; i < LC_VL; i++)
                if (i < kc) vstore(panel + (kk + i) * GM_NR + jb, t[i]);
            }
        } else {
          for (int64_t kk = 0; kk < kb; kk++) {
            const float *src = b + (k0 + kk) * ldb + j0;
            vstore(panel + kk * GM_NR, vload_n(src, nc));
            vstore(panel + kk * GM_NR + LC_VL, vload_n(src + LC_VL, nc - LC_VL));
          }
        }
        /* A transposed (its rows contiguous): 8-row tiles, whose 32-byte
         * runs of A never straddle a cache line (12 rows' 48 bytes do in
         * every other tile). */
        const int64_t mr = trans_a ? 8 : SG_MR;
        for (int64_t i0 = ib; i0 < ib + mb; i0 += mr) {
          const int64_t rows = ib + mb - i0 < mr ? ib + mb - i0 : mr;
          const float *ai = a + i0 * ars + k0 * acs;
          float *ci = c + i0 * ldc + j0;
          if (rows <= 4)
            sg_tile(ai, ars, acs, rows, kb, bp, ldp, alpha, be, ci, ldc, nc, 4);
          else if (rows <= 8)
            sg_tile(ai, ars, acs, rows, kb, bp, ldp, alpha, be, ci, ldc, nc, 8);
          else
            sg_tile(ai, ars, acs, rows, kb, bp, ldp, alpha, be, ci, ldc, nc,
                    SG_MR);
        }
      }
    }
  }
}

LC_ISA_DISPATCH(sg_isa,
                (int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                 float alpha, const float *a, int64_t lda, const float *b,
                 int64_t ldb, float beta, float *c, int64_t ldc),
                (trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
                 ldc),
                sg_body)

void lc_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
              float alpha, const float *a, int64_t lda, const float *b,
              int64_t ldb, float beta, float *c, int64_t ldc) {
  sg_isa(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* ------------------------------------------------------ lc_wgrad_step */

/* One step of the weight gradient's product, with the product transposed
 * so that the lowered input (rows contiguous over positions) is read in
 * place and only dy is repacked:
 *
 *   ct[r][co] (+)= sum_{kk < kn} a[r * lda + kk] * d[co * ldd + kk]
 *
 * d (cout rows) is packed into panels of WS_NR output channels,
 * pack[panel][kk][WS_NR] (zero past cout), kept in L1 for kn up to a few
 * hundred; each register tile is WS_MR rows of a (broadcast) by one panel
 * (WS_NV vectors). ct rows hold the panels' full width (ldct >= cout
 * rounded up to LC_WGRAD_NR); the first step writes, later ones add, in
 * step order. The register tile depends on the level (registers): 12 x 32
 * with AVX-512's 32 registers, 6 x 16 with AVX2's 16, 2 x 16 generic (SSE2). */
/* Array bounds: the tile in use is a constant of each clone (arrays sized
 * by the parameters would be VLAs, kept in memory). */
#define WS_MR_MAX 12
#define WS_NV_MAX 2
static inline LC_INLINE void wgrad_step_body(const float *a, int64_t lda,
                                             int64_t rows, const float *d,
                                             int64_t ldd, int64_t cout,
                                             int64_t kn, int accumulate,
                                             float *ct, int64_t ldct,
                                             float *pack, const int WS_MR,
                                             const int WS_NV) {
  const int64_t nr = (int64_t)WS_NV * LC_VL;
  const int64_t npanels = (cout + nr - 1) / nr;
  /* Pack d^T, 16 channels x 16 positions at a time: 16 row loads, one
   * register transpose, 16 stores into the panel. */
  for (int64_t pn = 0; pn < npanels; pn++) {
    float *dst = pack + pn * kn * nr;
    for (int64_t j0 = 0; j0 < nr; j0 += LC_VL) {
      const int64_t co0 = pn * nr + j0;
      for (int64_t k0 = 0; k0 < kn; k0 += LC_VL) {
        const int64_t kc = kn - k0 < LC_VL ? kn - k0 : LC_VL;
        vf t[LC_VL];
        LC_UNROLL
        for (int i = 0; i < LC_VL; i++)
          t[i] = co0 + i < cout ? vload_n(d + (co0 + i) * ldd + k0, kc) : vzero();
        vtranspose16(t);
        LC_UNROLL
        for (int i = 0; i < LC_VL; i++)
          if (i < kc) vstore(dst + (k0 + i) * nr + j0, t[i]);
      }
    }
  }
  for (int64_t pn = 0; pn < npanels; pn++) {
    const float *bp = pack + pn * kn * nr;
    for (int64_t r0 = 0; r0 < rows; r0 += WS_MR) {
      const float *ar[WS_MR_MAX];
      LC_UNROLL
      for (int i = 0; i < WS_MR; i++)
        ar[i] = a + (r0 + i < rows ? r0 + i : rows - 1) * lda;
      vf acc[WS_MR_MAX][WS_NV_MAX];
      LC_UNROLL
      for (int i = 0; i < WS_MR; i++)
        LC_UNROLL
        for (int v = 0; v < WS_NV; v++) acc[i][v] = vzero();
      const float *bk = bp;
      for (int64_t kk = 0; kk < kn; kk++, bk += nr) {
        vf b[WS_NV_MAX];
        LC_UNROLL
        for (int v = 0; v < WS_NV; v++) b[v] = vload(bk + v * LC_VL);
        LC_UNROLL
        for (int i = 0; i < WS_MR; i++) {
          const vf ai = vsplat(ar[i][kk]);
          LC_UNROLL
          for (int v = 0; v < WS_NV; v++) acc[i][v] += ai * b[v];
        }
      }
      LC_UNROLL
      for (int i = 0; i < WS_MR; i++) {
        if (r0 + i >= rows) continue;
        float *c = ct + (r0 + i) * ldct + pn * nr;
        LC_UNROLL
        for (int v = 0; v < WS_NV; v++) {
          vf s = acc[i][v];
          if (accumulate) s += vload(c + v * LC_VL);
          vstore(c + v * LC_VL, s);
        }
      }
    }
  }
}

#define WGRAD_STEP_PARAMS                                                \
  (const float *a, int64_t lda, int64_t rows, const float *d, int64_t ldd, \
   int64_t cout, int64_t kn, int accumulate, float *ct, int64_t ldct,     \
   float *pack)
#define WGRAD_STEP_ARGS a, lda, rows, d, ldd, cout, kn, accumulate, ct, ldct, pack

#if CPU_X86
CPU_TARGET_AVX512 void lc_wgrad_step_avx512 WGRAD_STEP_PARAMS {
  wgrad_step_body(WGRAD_STEP_ARGS, 12, 2);
}
CPU_TARGET_AVX2 void lc_wgrad_step_avx2 WGRAD_STEP_PARAMS {
  wgrad_step_body(WGRAD_STEP_ARGS, 6, 1);
}
#else
void lc_wgrad_step_avx512 WGRAD_STEP_PARAMS {
  wgrad_step_body(WGRAD_STEP_ARGS, 2, 1);
}
void lc_wgrad_step_avx2 WGRAD_STEP_PARAMS {
  wgrad_step_body(WGRAD_STEP_ARGS, 2, 1);
}
#endif
void lc_wgrad_step_generic WGRAD_STEP_PARAMS {
  wgrad_step_body(WGRAD_STEP_ARGS, 2, 1);
}
