/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Winograd F(2x2, 3x3) for the forward pass of 3x3, stride 1, dilation 1
 * convolutions (any padding mode, groups, flip): y tiles of 2x2 from 4x4
 * input patches, Y = A^T [ (G g G^T) .* (B^T d B) ] A, the element-wise
 * product summed over channels as 16 GEMMs (gemm.cl, batched). The same
 * kernels compute backward data (zero padding) as the convolution of dy
 * with the weight transposed per group and rotated: the plan gives them
 * that convolution's geometry, and wino_filter reads w transposed.
 *
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
 *   A^T = [1 1 1 0; 0 1 -1 -1]
 *
 * Layouts for a chunk of nb images with T = ceil(OH/2)*ceil(OW/2) tiles
 * each and Q = nb*T columns (q = n*T + t):
 *   U[e][k][c]   the transformed weight, e = 4*xi + nu (16 x K x C/G)
 *   V[e][c][q]   the transformed input, per group a block of C/G rows;
 *                when tn > 1 in gemm_vec's panels of tn columns with the
 *                16 planes interleaved row by row (an item's 16 values land
 *                within 16*tn floats): group g's block at g*(C/G)*16*QP,
 *                then (q/tn)*(C/G)*16*tn + cl*16*tn + e*tn + q%tn, QP = Q
 *                rounded up to tn; when tn = 1 plane by plane, e*C*Q +
 *                c*Q + q
 *   M[e][k][q]   the 16 products, K x Q each.
 */

/* U from w (each run; flip reads w rotated). Work item (k*Cg + cl).
 * transpose: w is the weight of the convolution whose backward data this
 * is, (C x K/G x 3 x 3) in this geometry: filter (k, cl) of group
 * g = k / (K/G) is w's (g*Cg + cl, k % (K/G)). */
#if defined(KSEL_ALL) || defined(KSEL_wino_filter)
__kernel void wino_filter(__global const float *w, __global float *U,
                          int count, int transpose, GEOM_PARAMS) {
  const int e = get_global_id(0);
  if (e >= count) return;
  const int Cg = C / G;
  long src = e;
  if (transpose) {
    const int Kg = K / G, k = e / Cg, cl = e % Cg;
    src = (long)((k / Kg) * Cg + cl) * Kg + k % Kg;
  }
  __global const float *g = w + src * 9;
  float f[3][3];
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++)
      f[i][j] = flip ? g[(2 - i) * 3 + (2 - j)] : g[i * 3 + j];
  float t[4][3]; /* G f */
  for (int j = 0; j < 3; j++) {
    t[0][j] = f[0][j];
    t[1][j] = 0.5f * (f[0][j] + f[1][j] + f[2][j]);
    t[2][j] = 0.5f * (f[0][j] - f[1][j] + f[2][j]);
    t[3][j] = f[2][j];
  }
  const long plane = (long)K * Cg;
  for (int i = 0; i < 4; i++) {
    const float u0 = t[i][0];
    const float u1 = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
    const float u2 = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
    const float u3 = t[i][2];
    U[(4 * i + 0) * plane + e] = u0;
    U[(4 * i + 1) * plane + e] = u1;
    U[(4 * i + 2) * plane + e] = u2;
    U[(4 * i + 3) * plane + e] = u3;
  }
}
#endif

/* Where V's plane 0 holds column q of channel c (group g, cl within it),
 * and the distance between planes (see the layouts above). */
long wino_v_at(int q, int c, int nb, int T, int tn, int C, int G,
               long *stride) {
  const int Cg = C / G, g = c / Cg, cl = c % Cg;
  const int Q = nb * T, QP = (Q + tn - 1) / tn * tn;
  if (tn > 1) {
    *stride = tn;
    return (long)g * Cg * 16 * QP + ((long)(q / tn) * Cg + cl) * 16 * tn +
           q % tn;
  }
  *stride = (long)C * Q;
  return (long)c * Q + q;
}

/* B^T d B of 4x4 patches d (of TYPE: one patch, or eight side by side)
 * handed to STORE(plane, value). */
#define WINO_BTDB(TYPE, d, STORE)                                           \
  do {                                                                      \
    TYPE b_[4][4]; /* B^T d */                                              \
    for (int j_ = 0; j_ < 4; j_++) {                                        \
      b_[0][j_] = d[0][j_] - d[2][j_];                                      \
      b_[1][j_] = d[1][j_] + d[2][j_];                                      \
      b_[2][j_] = d[2][j_] - d[1][j_];                                      \
      b_[3][j_] = d[1][j_] - d[3][j_];                                      \
    }                                                                       \
    for (int i_ = 0; i_ < 4; i_++) {                                        \
      STORE(4 * i_ + 0, b_[i_][0] - b_[i_][2]);                             \
      STORE(4 * i_ + 1, b_[i_][1] + b_[i_][2]);                             \
      STORE(4 * i_ + 2, b_[i_][2] - b_[i_][1]);                             \
      STORE(4 * i_ + 3, b_[i_][1] - b_[i_][3]);                             \
    }                                                                       \
  } while (0)

/* B^T d B of one 4x4 patch into V's 16 planes. */
void wino_v_store(float d[4][4], __global float *V, long base, long stride) {
#define STORE1(e, v) (V[(e) * stride + base] = (v))
  WINO_BTDB(float, d, STORE1);
#undef STORE1
}

/* The same for eight patches side by side (columns q..q+7 of one panel
 * or plane). */
void wino_v_store8(float8 d[4][4], __global float *V, long base,
                   long stride) {
#define STORE8(e, v) vstore8((v), 0, V + (e) * stride + base)
  WINO_BTDB(float8, d, STORE8);
#undef STORE8
}

/* V from x[x_off ...] (nb images). Work item (t, n*C + c). */
#if defined(KSEL_ALL) || defined(KSEL_wino_input)
__kernel void wino_input(__global const float *x, long x_off,
                         __global float *V, int nb, int tn, GEOM_PARAMS) {
  const int t = get_global_id(0);
  const int r = get_global_id(1);
  const int TW = (OW + 1) / 2, T = ((OH + 1) / 2) * TW;
  if (t >= T || r >= nb * C) return;
  const int n = r / C, c = r % C;
  const int th = t / TW, tw = t % TW;
  __global const float *xp = x + x_off + (long)r * H * W;
  float d[4][4];
  for (int i = 0; i < 4; i++) {
    const int sh = pad_source(2 * th - PT + i, H, mode);
    for (int j = 0; j < 4; j++) {
      const int sw = pad_source(2 * tw - PL + j, W, mode);
      d[i][j] = sh >= 0 && sw >= 0 ? xp[sh * W + sw] : 0.0f;
    }
  }
  long stride;
  const long base = wino_v_at(n * T + t, c, nb, T, tn, C, G, &stride);
  wino_v_store(d, V, base, stride);
}
#endif

/* The same by tile rows (for CPUs): work item (th, n*C + c) walks its row
 * of tiles left to right, the four x rows found once; eight interior
 * patches at a time (two 16-float loads per x row, even and odd columns
 * split) where their columns of V lie in one panel, else one patch, read
 * without the padding map inside x. Same arithmetic either way. */
#if defined(KSEL_ALL) || defined(KSEL_wino_input_rows)
__kernel void wino_input_rows(__global const float *x, long x_off,
                              __global float *V, int nb, int tn,
                              GEOM_PARAMS) {
  const int th = get_global_id(0);
  const int r = get_global_id(1);
  const int TH = (OH + 1) / 2, TW = (OW + 1) / 2, T = TH * TW;
  if (th >= TH || r >= nb * C) return;
  const int n = r / C, c = r % C;
  __global const float *xp = x + x_off + (long)r * H * W;
  int sh[4];
  for (int i = 0; i < 4; i++) sh[i] = pad_source(2 * th - PT + i, H, mode);
  long stride;
  long base = wino_v_at(n * T + th * TW, c, nb, T, tn, C, G, &stride);
  int q = n * T + th * TW;
  for (int tw = 0; tw < TW;) {
    const int w0 = 2 * tw - PL;
    if (tw + 8 <= TW && w0 >= 0 && w0 + 17 < W &&
        (tn == 1 || q % tn + 8 <= tn)) {
      float8 d8[4][4];
      for (int i = 0; i < 4; i++) {
        if (sh[i] >= 0) {
          __global const float *xr = xp + sh[i] * W + w0;
          const float16 a = vload16(0, xr), b = vload16(0, xr + 2);
          d8[i][0] = a.even;
          d8[i][1] = a.odd;
          d8[i][2] = b.even;
          d8[i][3] = b.odd;
        } else {
          d8[i][0] = d8[i][1] = d8[i][2] = d8[i][3] = (float8)(0.0f);
        }
      }
      wino_v_store8(d8, V, base, stride);
      tw += 8;
      q += 8;
      base += 8;
      if (tn > 1 && q % tn == 0)
        base = wino_v_at(q, c, nb, T, tn, C, G, &stride);
      continue;
    }
    float d[4][4];
    if (w0 >= 0 && w0 + 3 < W) {
      for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
          d[i][j] = sh[i] >= 0 ? xp[sh[i] * W + w0 + j] : 0.0f;
    } else {
      for (int j = 0; j < 4; j++) {
        const int sw = pad_source(w0 + j, W, mode);
        for (int i = 0; i < 4; i++)
          d[i][j] = sh[i] >= 0 && sw >= 0 ? xp[sh[i] * W + sw] : 0.0f;
      }
    }
    wino_v_store(d, V, base, stride);
    tw++;
    q++;
    base++;
    if (tn > 1 && q % tn == 0)
      base = wino_v_at(q, c, nb, T, tn, C, G, &stride);
  }
}
#endif

/* One 2x2 tile of y (rows oh0, oh0+1 and columns ow0, ow0+1 that lie
 * inside) from the 16 products m[e] = M[e*plane + at]: A^T m A, plus bk,
 * through the activation. */
/* o[i][j] = (A^T m A)[i][j] + bk for m of TYPE (one tile or eight). */
#define WINO_ATMA(TYPE, m, bk, o)                                           \
  do {                                                                      \
    TYPE a_[2][4]; /* A^T m */                                              \
    for (int j_ = 0; j_ < 4; j_++) {                                        \
      a_[0][j_] = m[0][j_] + m[1][j_] + m[2][j_];                           \
      a_[1][j_] = m[1][j_] - m[2][j_] - m[3][j_];                           \
    }                                                                       \
    for (int i_ = 0; i_ < 2; i_++) {                                        \
      o[i_][0] = a_[i_][0] + a_[i_][1] + a_[i_][2] + (bk);                  \
      o[i_][1] = a_[i_][1] - a_[i_][2] - a_[i_][3] + (bk);                  \
    }                                                                       \
  } while (0)

void wino_y_store(__global const float *M, long plane, long at,
                  __global float *yp, int oh0, int ow0, int OH, int OW,
                  float bk, int act, float alpha) {
  float m[4][4], o[2][2];
  for (int e = 0; e < 16; e++) m[e / 4][e % 4] = M[e * plane + at];
  WINO_ATMA(float, m, bk, o);
  for (int i = 0; i < 2; i++) {
    const int oh = oh0 + i;
    if (oh >= OH) break;
    yp[oh * OW + ow0] = act ? conv_act(o[i][0], act, alpha) : o[i][0];
    if (ow0 + 1 < OW)
      yp[oh * OW + ow0 + 1] = act ? conv_act(o[i][1], act, alpha) : o[i][1];
  }
}

/* Eight tiles side by side (columns ow0..ow0+15 inside y): 16 vector
 * loads, two 16-float stores per row. */
void wino_y_store8(__global const float *M, long plane, long at,
                   __global float *yp, int oh0, int ow0, int OH, int OW,
                   float bk, int act, float alpha) {
  float8 m[4][4], o[2][2];
  for (int e = 0; e < 16; e++) m[e / 4][e % 4] = vload8(0, M + e * plane + at);
  WINO_ATMA(float8, m, bk, o);
  const uint16 mix = (uint16)(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14,
                              7, 15);
  for (int i = 0; i < 2; i++) {
    const int oh = oh0 + i;
    if (oh >= OH) break;
    float16 v = shuffle2(o[i][0], o[i][1], mix); /* columns interleaved */
    if (act) {
      float t[16];
      vstore16(v, 0, t);
      for (int l = 0; l < 16; l++) t[l] = conv_act(t[l], act, alpha);
      v = vload16(0, t);
    }
    vstore16(v, 0, yp + oh * OW + ow0);
  }
}

/* y[y_off ...] (nb images) from M, plus the bias, through the activation
 * act (0: none): the forward's fused one, or a transposed convolution's
 * through backward data. Work item (t, n*K + k). */
#if defined(KSEL_ALL) || defined(KSEL_wino_output)
__kernel void wino_output(__global const float *M, __global float *y,
                          long y_off, __global const float *bias,
                          int has_bias, int nb, GEOM_PARAMS, int act,
                          float alpha) {
  const int t = get_global_id(0);
  const int r = get_global_id(1);
  const int TW = (OW + 1) / 2, T = ((OH + 1) / 2) * TW;
  if (t >= T || r >= nb * K) return;
  const int n = r / K, k = r % K;
  const int Q = nb * T, q = n * T + t;
  const float bk = has_bias ? bias[k] : 0.0f;
  wino_y_store(M, (long)K * Q, (long)k * Q + q,
               y + y_off + (long)r * OH * OW, 2 * (t / TW), 2 * (t % TW), OH,
               OW, bk, act, alpha);
}
#endif

/* The same by tile rows (for CPUs): work item (th, n*K + k), eight tiles
 * at a time while they lie inside y. */
#if defined(KSEL_ALL) || defined(KSEL_wino_output_rows)
__kernel void wino_output_rows(__global const float *M, __global float *y,
                               long y_off, __global const float *bias,
                               int has_bias, int nb, GEOM_PARAMS, int act,
                               float alpha) {
  const int th = get_global_id(0);
  const int r = get_global_id(1);
  const int TH = (OH + 1) / 2, TW = (OW + 1) / 2, T = TH * TW;
  if (th >= TH || r >= nb * K) return;
  const int n = r / K, k = r % K;
  const int Q = nb * T;
  const float bk = has_bias ? bias[k] : 0.0f;
  __global float *yp = y + y_off + (long)r * OH * OW;
  const long at = (long)k * Q + n * T + th * TW;
  int tw = 0;
  for (; tw + 8 <= TW && 2 * tw + 16 <= OW; tw += 8)
    wino_y_store8(M, (long)K * Q, at + tw, yp, 2 * th, 2 * tw, OH, OW, bk,
                  act, alpha);
  for (; tw < TW; tw++)
    wino_y_store(M, (long)K * Q, at + tw, yp, 2 * th, 2 * tw, OH, OW, bk,
                 act, alpha);
}
#endif
