/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The GEMM kernels of the libconv OpenCL backend, built as programs of
 * their own: each set of tuning parameters is one build of this file with
 * -D options (see ocl_gemm_params in opencl_internal.h), cached on disk.
 *
 *   C[m][n] (+)= sum_k A(m, k) * B(k, n) (+ bias[m])
 *
 * with m < M, n < N and the inner index k = kb * KP + kp (kb < KB, kp < KP):
 * the inner dimension may run over several images (the weight gradient),
 * each with its own base address (stride a_skb / b_skb).
 *
 *   A(m, k) = A[a_base + kb*a_skb + (trans_a ? kp*lda + m : m*lda + kp)]
 *   B(k, n) = B[b_base + kb*b_skb + kp*ldb + n]
 *             or, with b_panel (gemm_vec only), packed in panels of TN
 *             columns, each KP rows ldb (>= TN) apart, zero past N:
 *             B[b_base + kb*b_skb + (n/TN)*KP*ldb + kp*ldb + n%TN]
 *             (one panel is contiguous for ldb = TN: no page or cache-set
 *             walk along k; ldb = 16*TN interleaves Winograd's 16 planes)
 *   C(m, n) = C[c_base + m*ldc + n]
 *
 * Dimension 2 of the range is z = (s * NB + zb) * G + zg: image zb and group
 * zg select the bases (x_base = x_off + zb*x_sn + zg*x_sg), s the split-K
 * slice, which covers linear k in [s*klen, (s+1)*klen) and writes its own
 * block of C (c_base += s * c_ss); slices are summed later, in slice order.
 * accumulate adds the old C; bias (has_bias) adds bias[zg*M + m], after the
 * sum over k, and act (conv_act of act.cl, alpha its slope) is applied last
 * (a transposed convolution's forward: the GEMM that writes dx). Every C
 * element is summed in increasing k: deterministic.
 *
 * Two families, chosen per device by the plan (heuristic or tuning
 * database):
 *   gemm_vec    each work item computes a TM x (NV*VW) tile with VW-wide
 *               vectors straight from global memory (caches do the
 *               blocking): for CPUs (PoCL) and devices with wide SIMD lanes.
 *   gemm_tiled  a work-group computes MWG x NWG through local memory tiles
 *               of depth KWG; each of its MDIMC x NDIMC items holds
 *               (MWG/MDIMC) x (NWG/NDIMC) accumulators, strided so that
 *               neighbouring items touch neighbouring addresses: for GPUs.
 */

#define GEMM_ARGS                                                           \
  int M, int N, int KB, int KP, __global const float *A, long a_off,        \
      int lda, long a_skb, long a_sn, long a_sg, int trans_a,               \
      __global const float *B, long b_off, int ldb, long b_skb, long b_sn,  \
      long b_sg, __global float *C, long c_off, int ldc, long c_sn,         \
      long c_sg, long c_ss, int G, int NB, int klen, int accumulate,        \
      __global const float *bias, int has_bias, int b_panel, int act,     \
      float alpha

/* The slice's k range and the item's base offsets. */
#define GEMM_PROLOGUE                                                        \
  const int z = get_global_id(2);                                           \
  const int zg = z % G;                                                     \
  const int zb = (z / G) % NB;                                              \
  const int s = z / (G * NB);                                               \
  const int K = KB * KP;                                                    \
  const int k0 = s * klen;                                                  \
  const int k1 = min(k0 + klen, K);                                         \
  const long a_base = a_off + zb * a_sn + zg * a_sg;                        \
  const long b_base = b_off + zb * b_sn + zg * b_sg;                        \
  const long c_base = c_off + zb * c_sn + zg * c_sg + s * c_ss;

/* ------------------------------------------------------------- gemm_vec */
#ifdef GEMM_VEC

#if VW == 1
typedef float floatv;
#define VLOAD(p) (*(p))
#define VSTORE(v, p) (*(p) = (v))
#elif VW == 2
typedef float2 floatv;
#define VLOAD(p) vload2(0, p)
#define VSTORE(v, p) vstore2(v, 0, p)
#elif VW == 4
typedef float4 floatv;
#define VLOAD(p) vload4(0, p)
#define VSTORE(v, p) vstore4(v, 0, p)
#elif VW == 8
typedef float8 floatv;
#define VLOAD(p) vload8(0, p)
#define VSTORE(v, p) vstore8(v, 0, p)
#elif VW == 16
typedef float16 floatv;
#define VLOAD(p) vload16(0, p)
#define VSTORE(v, p) vstore16(v, 0, p)
#else
#error "VW must be 1, 2, 4, 8 or 16"
#endif

#define TN (NV * VW)

/* One step of the inner loop: B's row kp (NV vectors), A's column kp (TM
 * scalars, rows past M read row M-1 and are never stored). */
#define VEC_STEP(LOADB)                                                      \
  do {                                                                       \
    floatv bv[NV];                                                           \
    _Pragma("unroll") for (int j = 0; j < NV; j++) bv[j] = LOADB(j);         \
    _Pragma("unroll") for (int i = 0; i < TM; i++) {                         \
      const float av = trans_a ? pa[(long)kp * lda + row[i]]                 \
                               : pa[(long)row[i] * lda + kp];                \
      _Pragma("unroll") for (int j = 0; j < NV; j++)                         \
        acc[i][j] = fma((floatv)(av), bv[j], acc[i][j]);                     \
    }                                                                        \
  } while (0)

#define LOAD_FULL(j) VLOAD(pb + (long)kp * ldb + n0 + (j) * VW)
#define LOAD_PANEL(j) VLOAD(pb + (long)kp * ldb + (j) * VW)

__kernel __attribute__((reqd_work_group_size(LN, LM, 1)))
void gemm_vec(GEMM_ARGS) {
  GEMM_PROLOGUE
  const int n0 = get_global_id(0) * TN;
  const int m0 = get_global_id(1) * TM;
  if (m0 >= M || n0 >= N || z >= G * NB * ((K + klen - 1) / klen)) return;
  int row[TM];
  _Pragma("unroll") for (int i = 0; i < TM; i++) row[i] = min(m0 + i, M - 1);
  floatv acc[TM][NV];
  _Pragma("unroll") for (int i = 0; i < TM; i++)
    _Pragma("unroll") for (int j = 0; j < NV; j++) acc[i][j] = (floatv)(0.0f);
  const int full = n0 + TN <= N;
  for (int kb = k0 / KP; kb * KP < k1; kb++) {
    const int ka = max(k0 - kb * KP, 0), kz = min(k1 - kb * KP, KP);
    __global const float *pa = A + a_base + kb * a_skb;
    __global const float *pb = B + b_base + kb * b_skb;
    if (b_panel) {
      pb += (long)(n0 / TN) * KP * ldb;
      for (int kp = ka; kp < kz; kp++) VEC_STEP(LOAD_PANEL);
    } else if (full) {
      for (int kp = ka; kp < kz; kp++) VEC_STEP(LOAD_FULL);
    } else {
      for (int kp = ka; kp < kz; kp++) {
        float tmp[TN];
        for (int t = 0; t < TN; t++)
          tmp[t] = n0 + t < N ? pb[(long)kp * ldb + n0 + t] : 0.0f;
#define LOAD_EDGE(j) VLOAD(tmp + (j) * VW)
        VEC_STEP(LOAD_EDGE);
#undef LOAD_EDGE
      }
    }
  }
  _Pragma("unroll") for (int i = 0; i < TM; i++) {
    if (m0 + i >= M) break;
    __global float *pc = C + c_base + (long)(m0 + i) * ldc + n0;
    const float bi = has_bias ? bias[zg * M + m0 + i] : 0.0f;
    _Pragma("unroll") for (int j = 0; j < NV; j++) {
      floatv v = acc[i][j];
      if (full && !act) {
        if (accumulate) v += VLOAD(pc + j * VW);
        if (has_bias) v += (floatv)(bi);
        VSTORE(v, pc + j * VW);
      } else {
        float tmp[VW];
        VSTORE(v, tmp);
        for (int t = 0; t < VW; t++) {
          const int n = n0 + j * VW + t;
          if (n >= N) break;
          float e = tmp[t];
          if (accumulate) e += pc[j * VW + t];
          if (has_bias) e += bi;
          pc[j * VW + t] = act ? conv_act(e, act, alpha) : e;
        }
      }
    }
  }
}
#endif /* GEMM_VEC */

/* ----------------------------------------------------------- gemm_tiled */
#ifdef GEMM_TILED

#define MWI (MWG / MDIMC)
#define NWI (NWG / NDIMC)
#define WGS (MDIMC * NDIMC)

__kernel __attribute__((reqd_work_group_size(NDIMC, MDIMC, 1)))
void gemm_tiled(GEMM_ARGS) {
  __local float al[KWG][MWG + 1];
  __local float bl[KWG][NWG + 1];
  GEMM_PROLOGUE
  const int tn = get_local_id(0), tm = get_local_id(1);
  const int lid = tm * NDIMC + tn;
  const int n0 = get_group_id(0) * NWG;
  const int m0 = get_group_id(1) * MWG;
  float acc[MWI][NWI];
  _Pragma("unroll") for (int i = 0; i < MWI; i++)
    _Pragma("unroll") for (int j = 0; j < NWI; j++) acc[i][j] = 0.0f;
  /* Whole work-groups leave together (no barrier is skipped by some items
   * only): the range test depends on the group alone. */
  if (z >= G * NB * ((K + klen - 1) / klen)) return;
  for (int kb = k0 / KP; kb * KP < k1; kb++) {
    const int ka = max(k0 - kb * KP, 0), kz = min(k1 - kb * KP, KP);
    __global const float *pa = A + a_base + kb * a_skb;
    __global const float *pb = B + b_base + kb * b_skb;
    for (int kt = ka; kt < kz; kt += KWG) {
      /* Stage A (MWG x KWG) and B (KWG x NWG), zero outside the matrices. */
      for (int e = lid; e < MWG * KWG; e += WGS) {
        int mm, kk;
        if (trans_a) { kk = e / MWG; mm = e % MWG; }  /* m fastest */
        else { mm = e / KWG; kk = e % KWG; }          /* k fastest */
        const int m = m0 + mm, kp = kt + kk;
        float v = 0.0f;
        if (m < M && kp < kz)
          v = trans_a ? pa[(long)kp * lda + m] : pa[(long)m * lda + kp];
        al[kk][mm] = v;
      }
      for (int e = lid; e < KWG * NWG; e += WGS) {
        const int kk = e / NWG, nn = e % NWG;
        const int n = n0 + nn, kp = kt + kk;
        bl[kk][nn] = n < N && kp < kz ? pb[(long)kp * ldb + n] : 0.0f;
      }
      barrier(CLK_LOCAL_MEM_FENCE);
      _Pragma("unroll") for (int kk = 0; kk < KWG; kk++) {
        float av[MWI], bv[NWI];
        _Pragma("unroll") for (int i = 0; i < MWI; i++)
          av[i] = al[kk][tm + i * MDIMC];
        _Pragma("unroll") for (int j = 0; j < NWI; j++)
          bv[j] = bl[kk][tn + j * NDIMC];
        _Pragma("unroll") for (int i = 0; i < MWI; i++)
          _Pragma("unroll") for (int j = 0; j < NWI; j++)
            acc[i][j] = fma(av[i], bv[j], acc[i][j]);
      }
      barrier(CLK_LOCAL_MEM_FENCE);
    }
  }
  _Pragma("unroll") for (int i = 0; i < MWI; i++) {
    const int m = m0 + tm + i * MDIMC;
    if (m >= M) break;
    __global float *pc = C + c_base + (long)m * ldc;
    const float bi = has_bias ? bias[zg * M + m] : 0.0f;
    _Pragma("unroll") for (int j = 0; j < NWI; j++) {
      const int n = n0 + tn + j * NDIMC;
      if (n >= N) break;
      float v = acc[i][j];
      if (accumulate) v += pc[n];
      if (has_bias) v += bi;
      pc[n] = act ? conv_act(v, act, alpha) : v;
    }
  }
}
#endif /* GEMM_TILED */
