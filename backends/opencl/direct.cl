/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Direct kernels: no workspace, one work item per output element. Used for
 * depthwise and small grouped convolutions, where a GEMM per group would be
 * tiny, and when one image's column buffer would not fit the device.
 */

/* y = conv(x, w) (+ b). Work item (p = oh*OW + ow, n*K + k). */
__kernel void fwd_direct(__global const float *x, __global const float *w,
                         __global const float *b, __global float *y, int N,
                         int has_bias, GEOM_PARAMS) {
  const int p = get_global_id(0);
  const int t = get_global_id(1);
  const int P = OH * OW;
  if (p >= P || t >= N * K) return;
  const int n = t / K, k = t % K;
  const int Cg = C / G, Kg = K / G;
  const int g = k / Kg;
  const int oh = p / OW, ow = p % OW;
  float acc = 0.0f;
  for (int cl = 0; cl < Cg; cl++) {
    __global const float *xp = x + ((long)n * C + g * Cg + cl) * H * W;
    __global const float *wp = w + ((long)k * Cg + cl) * KH * KW;
    for (int ii = 0; ii < KH; ii++) {
      const int i = flip ? KH - 1 - ii : ii;
      const int sh = pad_source(oh * SH - PT + i * DH, H, mode);
      if (sh < 0) continue;
      for (int jj = 0; jj < KW; jj++) {
        const int j = flip ? KW - 1 - jj : jj;
        const int sw = pad_source(ow * SW - PL + j * DW, W, mode);
        if (sw < 0) continue;
        acc += wp[ii * KW + jj] * xp[sh * W + sw];
      }
    }
  }
  if (has_bias) acc += b[k];
  y[(long)t * P + p] = acc;
}

/* The same, one work item per output row (oh, n*K + k), 16 outputs of the
 * row at a time: the taps' row and weight found once per 16 outputs, the
 * inner loop a straight run along the input row (for CPUs). Per output,
 * the same order of terms as fwd_direct. */
#define DROW 16
__kernel void fwd_direct_rows(__global const float *x,
                              __global const float *w,
                              __global const float *b, __global float *y,
                              int N, int has_bias, GEOM_PARAMS) {
  const int oh = get_global_id(0);
  const int t = get_global_id(1);
  if (oh >= OH || t >= N * K) return;
  const int n = t / K, k = t % K;
  const int Cg = C / G, Kg = K / G;
  const int g = k / Kg;
  __global float *yp = y + (long)t * OH * OW + oh * OW;
  for (int ow0 = 0; ow0 < OW; ow0 += DROW) {
    float acc[DROW];
    for (int u = 0; u < DROW; u++) acc[u] = 0.0f;
    for (int cl = 0; cl < Cg; cl++) {
      __global const float *xp = x + ((long)n * C + g * Cg + cl) * H * W;
      __global const float *wp = w + ((long)k * Cg + cl) * KH * KW;
      for (int ii = 0; ii < KH; ii++) {
        const int i = flip ? KH - 1 - ii : ii;
        const int sh = pad_source(oh * SH - PT + i * DH, H, mode);
        if (sh < 0) continue;
        __global const float *row = xp + sh * W;
        for (int jj = 0; jj < KW; jj++) {
          const int j = flip ? KW - 1 - jj : jj;
          const float wv = wp[ii * KW + jj];
          const int w0 = j * DW - PL;
          for (int u = 0; u < DROW; u++) {
            const int sw = (ow0 + u) * SW + w0;
            if (ow0 + u >= OW) break;
            if (sw >= 0 && sw < W) {
              acc[u] += wv * row[sw];
            } else {
              const int s2 = pad_source(sw, W, mode);
              if (s2 >= 0) acc[u] += wv * row[s2];
            }
          }
        }
      }
    }
    for (int u = 0; u < DROW && ow0 + u < OW; u++)
      yp[ow0 + u] = has_bias ? acc[u] + b[k] : acc[u];
  }
}

/* dx from dy and w. Gather as col2im does, over the output channels of the
 * element's group. Work item (q = h*W + w, n*C + c). */
__kernel void bwd_data_direct(__global const float *dy,
                              __global const float *w, __global float *dx,
                              int N, GEOM_PARAMS) {
  const int q = get_global_id(0);
  const int t = get_global_id(1);
  if (q >= H * W || t >= N * C) return;
  const int n = t / C, c = t % C;
  const int Cg = C / G, Kg = K / G;
  const int g = c / Cg, cl = c % Cg;
  const int h = q / W, wq = q % W;
  const int P = OH * OW;
  int hlo[3], hhi[3], wlo[3], whi[3];
  const int nh = pad_preimages(h, H, PT, PB, mode, hlo, hhi);
  const int nw = pad_preimages(wq, W, PL, PR, mode, wlo, whi);
  __global const float *dyp = dy + ((long)n * K + g * Kg) * P;
  __global const float *wp = w + ((long)g * Kg * Cg + cl) * KH * KW;
  const long wstride = (long)Cg * KH * KW; /* next output channel */
  float acc = 0.0f;
  for (int a = 0; a < nh; a++) {
    for (int ph = hlo[a]; ph <= hhi[a]; ph++) {
      for (int i = 0; i < KH; i++) {
        const int u = ph + PT - i * DH;
        if (u < 0) break;
        if (SH != 1 && u % SH != 0) continue;
        const int oh = SH == 1 ? u : u / SH;
        if (oh >= OH) continue;
        const int ii = flip ? KH - 1 - i : i;
        for (int b = 0; b < nw; b++) {
          for (int pw = wlo[b]; pw <= whi[b]; pw++) {
            for (int j = 0; j < KW; j++) {
              const int v = pw + PL - j * DW;
              if (v < 0) break;
              if (SW != 1 && v % SW != 0) continue;
              const int ow = SW == 1 ? v : v / SW;
              if (ow >= OW) continue;
              const int jj = flip ? KW - 1 - j : j;
              const int o = oh * OW + ow;
              for (int kk = 0; kk < Kg; kk++)
                acc += wp[kk * wstride + ii * KW + jj] * dyp[(long)kk * P + o];
            }
          }
        }
      }
    }
  }
  dx[(long)t * H * W + q] = acc;
}

/* dw from x and dy: one work-group of RED_WG items per weight element
 * e = ((k*Cg + cl)*KH + ii)*KW + jj; each item sums a fixed stride of the
 * (n, p) positions, then a fixed tree adds the partial sums. */
__kernel __attribute__((reqd_work_group_size(RED_WG, 1, 1)))
void bwd_weight_direct(__global const float *x, __global const float *dy,
                       __global float *dw, int N, GEOM_PARAMS) {
  __local float red[RED_WG];
  const int e = get_group_id(0);
  const int lid = get_local_id(0);
  const int Cg = C / G, Kg = K / G;
  const int jj = e % KW;
  int t = e / KW;
  const int ii = t % KH;
  t /= KH;
  const int cl = t % Cg, k = t / Cg;
  const int c = (k / Kg) * Cg + cl;
  const int i = flip ? KH - 1 - ii : ii;
  const int j = flip ? KW - 1 - jj : jj;
  const int P = OH * OW;
  float acc = 0.0f;
  if (k < K) {
    for (int n = 0; n < N; n++) {
      __global const float *dyp = dy + ((long)n * K + k) * P;
      __global const float *xp = x + ((long)n * C + c) * H * W;
      for (int p = lid; p < P; p += RED_WG) {
        const int oh = p / OW, ow = p % OW;
        const int sh = pad_source(oh * SH - PT + i * DH, H, mode);
        const int sw = pad_source(ow * SW - PL + j * DW, W, mode);
        if (sh >= 0 && sw >= 0) acc += dyp[p] * xp[sh * W + sw];
      }
    }
  }
  red[lid] = acc;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int s = RED_WG / 2; s > 0; s >>= 1) {
    if (lid < s) red[lid] += red[lid + s];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (lid == 0 && k < K) dw[e] = red[0];
}
