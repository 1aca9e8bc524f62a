/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Direct kernels: no workspace, one work item per output element. Used for
 * depthwise and small grouped convolutions, where a GEMM per group would be
 * tiny, and when one image's column buffer would not fit the device.
 */

/* y = act(conv(x, w) (+ b)) (act: a fused activation, 0 for none, as
 * conv_act). Work item (p = oh*OW + ow, n*K + k). */
#if defined(KSEL_ALL) || defined(KSEL_fwd_direct)
__kernel void fwd_direct(__global const float *x, __global const float *w,
                         __global const float *b, __global float *y, int N,
                         int has_bias, GEOM_PARAMS, int act, float alpha) {
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
  y[(long)t * P + p] = act ? conv_act(acc, act, alpha) : acc;
}
#endif

/* The same for CPUs, one work item per output row oh and block of up to 4
 * output channels of one group, in up to four float16 registers of 16
 * outputs: rows of at most 16 outputs take 4 channels at a time, of at
 * most 32 two channels of 2 blocks (a 32-output segment), wider rows one
 * channel of one block at a time (fwd_rows_channels, fwd_rows_blocks;
 * measured on PoCL: wide rows ran slower with 4-block segments, whose
 * lines are rarely inside the row). For each input channel and tap row
 * the x columns the segment reads are copied once into a private line
 * through the padding map (16 at a time inside the row), shared by the
 * item's channels; each tap is then one vector multiply-add per register.
 * Lines too wide for FLINE take x lane by lane. Per output the terms are
 * added in fwd_direct's order (c, tap row, tap column). */
#define DROW 16
#define DLINE 64
#define FLINE 256
int fwd_rows_blocks(int OW) { return OW > 16 && OW <= 32 ? 2 : 1; }
int fwd_rows_channels(int OW) { return OW <= 16 ? 4 : OW <= 32 ? 2 : 1; }

/* The source of padded column s of a row of width W with pads PL, PR
 * (pad_source), -1 (a zero) past the pads: columns only lanes that are
 * never stored read. */
int pad_col(int s, int W, int PL, int PR, int mode) {
  return s < -PL || s >= W + PR ? -1 : pad_source(s, W, mode);
}

/* Copies the columns s0 .. s0+L-1 of x row xr (width W, pads PL, PR) into
 * line, columns outside the row through the padding map (pad_col). */
void fill_line(float *line, __global const float *xr, int s0, int L, int W,
               int PL, int PR, int mode) {
  const int lo = clamp(-s0, 0, L), hi = clamp(W - s0, 0, L);
  for (int u = 0; u < lo; u++) {
    const int s2 = pad_col(s0 + u, W, PL, PR, mode);
    line[u] = s2 >= 0 ? xr[s2] : 0.0f;
  }
  if (hi - lo >= 16) {
    int u = lo;
    for (; u + 16 <= hi; u += 16) vstore16(vload16(0, xr + s0 + u), 0, line + u);
    if (u < hi) /* the last 16 again, overlapping */
      vstore16(vload16(0, xr + s0 + hi - 16), 0, line + hi - 16);
  } else {
    for (int u = lo; u < hi; u++) line[u] = xr[s0 + u];
  }
  for (int u = max(hi, lo); u < L; u++) {
    const int s2 = pad_col(s0 + u, W, PL, PR, mode);
    line[u] = s2 >= 0 ? xr[s2] : 0.0f;
  }
}

/* fwd_direct_rows for rows wider than 32 outputs: one output channel k of
 * image n, 16 outputs at a time as one float16; for each input row a tap
 * reads, the span of the row the 16 outputs need is copied once (through
 * the padding map) into a private line unless it lies inside the row, and
 * each tap is one vector multiply-add from it. */
void fwd_row_wide(__global const float *x, __global const float *w,
                  __global const float *b, __global float *y, int has_bias,
                  int n, int k, int oh, GEOM_PARAMS, int act, float alpha) {
  const int Cg = C / G, Kg = K / G;
  const int g = k / Kg;
  __global float *yp = y + ((long)n * K + k) * OH * OW + oh * OW;
  const int span = (DROW - 1) * SW + (KW - 1) * DW + 1;
  const int vec = span + (SW == 2 ? DROW : 0) <= DLINE && SW <= 2;
  /* Elements past what the valid outputs need feed only lanes that are
   * never stored: zeroed once so that they are defined. */
  float line[DLINE];
  for (int e = 0; e < DLINE; e++) line[e] = 0.0f;
  for (int ow0 = 0; ow0 < OW; ow0 += DROW) {
    const int valid = min(DROW, OW - ow0);
    /* Line elements the valid outputs read; the rest stay 0. */
    const int need = (valid - 1) * SW + (KW - 1) * DW + 1;
    float16 acc = (float16)(0.0f);
    float out[DROW];
    if (!vec) {
      for (int u = 0; u < DROW; u++) out[u] = 0.0f;
    }
    for (int cl = 0; cl < Cg; cl++) {
      __global const float *xp = x + ((long)n * C + g * Cg + cl) * H * W;
      __global const float *wp = w + ((long)k * Cg + cl) * KH * KW;
      for (int ii = 0; ii < KH; ii++) {
        const int i = flip ? KH - 1 - ii : ii;
        const int sh = pad_source(oh * SH - PT + i * DH, H, mode);
        if (sh < 0) continue;
        __global const float *row = xp + sh * W;
        const int base = ow0 * SW - PL;
        if (vec && base >= 0 && base + span + (SW == 2 ? DROW : 0) <= W) {
          /* Every lane inside the row: vectors straight from memory. */
          for (int jj = 0; jj < KW; jj++) {
            const int j = flip ? KW - 1 - jj : jj;
            __global const float *src = row + base + j * DW;
            float16 v;
            if (SW == 1)
              v = vload16(0, src);
            else
              v = (float16)(vload16(0, src).even, vload16(0, src + DROW).even);
            acc = fma((float16)(wp[ii * KW + jj]), v, acc);
          }
        } else if (vec) {
          if (base >= 0 && base + need <= W) {
            for (int e = 0; e < need; e++) line[e] = row[base + e];
          } else {
            for (int e = 0; e < need; e++) {
              const int sw = base + e;
              const int s2 = sw >= 0 && sw < W ? sw : pad_source(sw, W, mode);
              line[e] = s2 >= 0 ? row[s2] : 0.0f;
            }
          }
          for (int jj = 0; jj < KW; jj++) {
            const int j = flip ? KW - 1 - jj : jj;
            const int off = j * DW;
            float16 v;
            if (SW == 1)
              v = vload16(0, line + off);
            else
              v = (float16)(vload16(0, line + off).even,
                            vload16(0, line + off + DROW).even);
            acc = fma((float16)(wp[ii * KW + jj]), v, acc);
          }
        } else {
          for (int jj = 0; jj < KW; jj++) {
            const int j = flip ? KW - 1 - jj : jj;
            const float wv = wp[ii * KW + jj];
            for (int u = 0; u < valid; u++) {
              const int sw = (ow0 + u) * SW + j * DW - PL;
              const int s2 = sw >= 0 && sw < W ? sw : pad_source(sw, W, mode);
              if (s2 >= 0) out[u] += wv * row[s2];
            }
          }
        }
      }
    }
    if (vec) vstore16(acc, 0, out);
    const float bk = has_bias ? b[k] : 0.0f;
    for (int u = 0; u < valid; u++) {
      const float v = has_bias ? out[u] + bk : out[u];
      yp[ow0 + u] = act ? conv_act(v, act, alpha) : v;
    }
  }
}

#if defined(KSEL_ALL) || defined(KSEL_fwd_direct_rows)
__kernel void fwd_direct_rows(__global const float *x,
                              __global const float *w,
                              __global const float *b, __global float *y,
                              int N, int has_bias, GEOM_PARAMS, int act,
                              float alpha) {
  const int oh = get_global_id(0);
  const int t = get_global_id(1);
  const int Cg = C / G, Kg = K / G;
  const int NB = fwd_rows_blocks(OW);   /* 16-output blocks per segment */
  const int KB = fwd_rows_channels(OW); /* channels per item */
  const int kbs = (Kg + KB - 1) / KB; /* channel blocks per group */
  if (oh >= OH || t >= N * G * kbs) return;
  const int n = t / (G * kbs);
  const int g = t / kbs % G;
  const int k0 = g * Kg + t % kbs * KB;
  const int nk = min(KB, g * Kg + Kg - k0);
  if (KB == 1) {
    fwd_row_wide(x, w, b, y, has_bias, n, k0, oh, C, H, W, K, KH, KW, OH, OW,
                 SH, SW, DH, DW, PT, PB, PL, PR, G, mode, flip, act, alpha);
    return;
  }
  const int SEG = NB * DROW;
  const int L = (SEG - 1) * SW + (KW - 1) * DW + 1 + (SW == 2);
  const int lines = L <= FLINE;
  float line[FLINE];
  for (int ow0 = 0; ow0 < OW; ow0 += SEG) {
    float16 a0 = (float16)(0.0f), a1 = a0, a2 = a0, a3 = a0;
    for (int cl = 0; cl < Cg; cl++) {
      __global const float *xp = x + ((long)n * C + g * Cg + cl) * H * W;
      __global const float *wp = w + ((long)k0 * Cg + cl) * KH * KW;
      const long wk = (long)Cg * KH * KW; /* next output channel */
      for (int ii = 0; ii < KH; ii++) {
        const int i = flip ? KH - 1 - ii : ii;
        const int sh = pad_source(oh * SH - PT + i * DH, H, mode);
        if (sh < 0) continue;
        __global const float *row = xp + sh * W;
        const int s0 = ow0 * SW - PL; /* x column of line[0] */
        /* A segment whose columns all lie inside the row reads it in
         * place; others through the line. */
        const int inside = lines && s0 >= 0 && s0 + L <= W;
        if (lines && !inside) fill_line(line, row, s0, L, W, PL, PR, mode);
        for (int jj = 0; jj < KW; jj++) {
          const int j = flip ? KW - 1 - jj : jj;
          float wv[4];
          for (int q = 0; q < 4; q++)
            wv[q] = q < nk ? wp[min(q, nk - 1) * wk + ii * KW + jj] : 0.0f;
          for (int q = 0; q < 4; q++) {
            const int kq = q / NB, bq = q % NB; /* channel, block */
            if (kq >= nk) break;
            float16 v;
            const int u0 = bq * DROW * SW + j * DW;
            if (inside && SW == 1) {
              v = vload16(0, row + s0 + u0);
            } else if (inside && SW == 2) {
              v = (float16)(vload16(0, row + s0 + u0).even,
                            vload16(0, row + s0 + u0 + DROW).even);
            } else if (lines && SW == 1) {
              v = vload16(0, line + u0);
            } else if (lines && SW == 2) {
              v = (float16)(vload16(0, line + u0).even,
                            vload16(0, line + u0 + DROW).even);
            } else {
              float tmp[DROW];
              for (int e = 0; e < DROW; e++) {
                if (inside) {
                  tmp[e] = row[s0 + u0 + e * SW];
                } else if (lines) {
                  tmp[e] = line[u0 + e * SW];
                } else {
                  const int s2 = pad_col(s0 + u0 + e * SW, W, PL, PR, mode);
                  tmp[e] = s2 >= 0 ? row[s2] : 0.0f;
                }
              }
              v = vload16(0, tmp);
            }
            const float16 wq = (float16)(wv[kq]);
            if (q == 0) a0 = fma(wq, v, a0);
            else if (q == 1) a1 = fma(wq, v, a1);
            else if (q == 2) a2 = fma(wq, v, a2);
            else a3 = fma(wq, v, a3);
          }
        }
      }
    }
    for (int q = 0; q < 4; q++) {
      const int kq = q / NB, bq = q % NB;
      if (kq >= nk) break;
      const int o0 = ow0 + bq * DROW;
      const int valid = min(DROW, OW - o0);
      if (valid <= 0) continue;
      const float16 a = q == 0 ? a0 : q == 1 ? a1 : q == 2 ? a2 : a3;
      float out[DROW];
      vstore16(a, 0, out);
      const int k = k0 + kq;
      const float bk = has_bias ? b[k] : 0.0f;
      __global float *yp = y + ((long)n * K + k) * OH * OW + oh * OW + o0;
      for (int e = 0; e < valid; e++) {
        const float v = has_bias ? out[e] + bk : out[e];
        yp[e] = act ? conv_act(v, act, alpha) : v;
      }
    }
  }
}
#endif

/* dx from dy and w. Gather as col2im does, over the output channels of the
 * element's group. Work item (q = h*W + w, n*C + c). The epilogue (b,
 * has_b, act, alpha: dx_epilogue) is a transposed convolution's bias and
 * activation, applied as each element is stored. */
#if defined(KSEL_ALL) || defined(KSEL_bwd_data_direct)
__kernel void bwd_data_direct(__global const float *dy,
                              __global const float *w, __global float *dx,
                              int N, GEOM_PARAMS, __global const float *b,
                              int has_b, int act, float alpha) {
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
  dx[(long)t * H * W + q] = dx_epilogue(acc, b, has_b, c, act, alpha);
}
#endif

/* dx for zero padding, for CPUs, rows of 16-element float16 blocks.
 * Horizontal stride 1: one work item per input row h and block of up to 4
 * input channels of one group, in float16 registers as fwd_direct_rows
 * (4 channels of one block, 2 of 2, or one of one by the width W); for
 * each output channel of the
 * group and tap row the dy columns the segment reads are copied once into
 * a private line with zeros outside the row (read in place when inside),
 * shared by the item's channels, and each tap is one vector multiply-add
 * per register. Stride SW > 1: one item per input row and channel; the
 * row's elements are taken by phase (w = r + SW*e, one residue r at a
 * time), so that a tap either feeds all 16 lanes of a phase from 16
 * consecutive dy elements or none of them, and the taps that feed none
 * are never visited. Per element the terms are added in the order (output
 * channel, tap row, tap column). Other padding modes take
 * bwd_data_direct. */
/* bwd_data_direct_rows for rows wider than 32 elements, stride 1: input
 * channel c (cl of group g) of image n, 16 elements at a time as one
 * float16; for each output channel of the group and tap row, the dy
 * segment all taps of the 16 elements read is loaded straight where it
 * lies inside the row, else copied once into a private line with zeros
 * outside; each tap is then one vector multiply-add. */
void bwd_data_row_wide(__global const float *dy, __global const float *w,
                       __global float *dx, int n, int c, int h, GEOM_PARAMS,
                       __global const float *b, int has_b, int act,
                       float alpha) {
  const int Cg = C / G, Kg = K / G;
  const int g = c / Cg, cl = c % Cg;
  const int P = OH * OW;
  __global const float *dyp = dy + ((long)n * K + g * Kg) * P;
  __global const float *wp = w + ((long)g * Kg * Cg + cl) * KH * KW;
  const long wstride = (long)Cg * KH * KW; /* next output channel */
  __global float *dxp = dx + ((long)n * C + c) * H * W + h * W;
  const int span = DROW + (KW - 1) * DW;
  float line[DLINE];
  for (int w0 = 0; w0 < W; w0 += DROW) {
    const int valid = min(DROW, W - w0);
    const int lo = w0 + PL - (KW - 1) * DW;
    float16 acc = (float16)(0.0f);
    for (int kk = 0; kk < Kg; kk++) {
      for (int i = 0; i < KH; i++) {
        const int u = h + PT - i * DH;
        if (u < 0) break;
        if (SH != 1 && u % SH != 0) continue;
        const int oh = SH == 1 ? u : u / SH;
        if (oh >= OH) continue;
        const int ii = flip ? KH - 1 - i : i;
        __global const float *dyr = dyp + (long)kk * P + oh * OW;
        __global const float *wr = wp + kk * wstride + ii * KW;
        if (span <= DLINE && lo >= 0 && lo + span <= OW) {
          /* Every lane of every tap inside the row: straight loads. */
          for (int j = 0; j < KW; j++) {
            const int jj = flip ? KW - 1 - j : j;
            const float16 v = vload16(0, dyr + lo + (KW - 1 - j) * DW);
            acc = fma((float16)(wr[jj]), v, acc);
          }
        } else if (span <= DLINE) {
          /* The segment every tap reads copied once, zeros outside the
           * row; tap j's lanes start (KW-1-j)*DW into it. */
          for (int e = 0; e < span; e++) {
            const int o = lo + e;
            line[e] = o >= 0 && o < OW ? dyr[o] : 0.0f;
          }
          for (int j = 0; j < KW; j++) {
            const int jj = flip ? KW - 1 - j : j;
            const float16 v = vload16(0, line + (KW - 1 - j) * DW);
            acc = fma((float16)(wr[jj]), v, acc);
          }
        } else {
          for (int j = 0; j < KW; j++) { /* wide taps: one copy each */
            const int jj = flip ? KW - 1 - j : j;
            const int start = w0 + PL - j * DW; /* ow of lane 0 */
            float16 v;
            if (start >= 0 && start + DROW <= OW) {
              v = vload16(0, dyr + start);
            } else {
              for (int e = 0; e < DROW; e++) {
                const int o = start + e;
                line[e] = o >= 0 && o < OW && e < valid ? dyr[o] : 0.0f;
              }
              v = vload16(0, line);
            }
            acc = fma((float16)(wr[jj]), v, acc);
          }
        }
      }
    }
    float out[DROW];
    vstore16(acc, 0, out);
    for (int e = 0; e < valid; e++)
      dxp[w0 + e] = dx_epilogue(out[e], b, has_b, c, act, alpha);
  }
}

#if defined(KSEL_ALL) || defined(KSEL_bwd_data_direct_rows)
__kernel void bwd_data_direct_rows(__global const float *dy,
                                   __global const float *w,
                                   __global float *dx, int N, GEOM_PARAMS,
                                   __global const float *b, int has_b,
                                   int act, float alpha) {
  const int h = get_global_id(0);
  const int t = get_global_id(1);
  const int Cg = C / G, Kg = K / G;
  const int P = OH * OW;
  const long wstride = (long)Cg * KH * KW; /* next output channel */
  float line[FLINE];
  if (SW != 1) {
    if (h >= H || t >= N * C) return;
    const int n = t / C, c = t % C;
    const int g = c / Cg, cl = c % Cg;
    __global const float *dyp = dy + ((long)n * K + g * Kg) * P;
    __global const float *wp = w + ((long)g * Kg * Cg + cl) * KH * KW;
    __global float *dxp = dx + (long)t * H * W + h * W;
    for (int r = 0; r < SW && r < W; r++) {
      const int nr = (W - r + SW - 1) / SW; /* elements of this phase */
      for (int e0 = 0; e0 < nr; e0 += DROW) {
        const int valid = min(DROW, nr - e0);
        const int wb = r + SW * e0; /* w of lane 0 */
        float16 acc = (float16)(0.0f);
        for (int kk = 0; kk < Kg; kk++) {
          for (int i = 0; i < KH; i++) {
            const int u = h + PT - i * DH;
            if (u < 0) break;
            if (SH != 1 && u % SH != 0) continue;
            const int oh = SH == 1 ? u : u / SH;
            if (oh >= OH) continue;
            const int ii = flip ? KH - 1 - i : i;
            __global const float *dyr = dyp + (long)kk * P + oh * OW;
            __global const float *wr = wp + kk * wstride + ii * KW;
            for (int j = 0; j < KW; j++) {
              const int v = wb + PL - j * DW; /* SW * (ow of lane 0) */
              if (v % SW != 0) continue;    /* feeds no lane of this phase */
              const int jj = flip ? KW - 1 - j : j;
              const int start = v / SW;     /* exact, also below 0 */
              float16 dv;
              if (start >= 0 && start + DROW <= OW) {
                dv = vload16(0, dyr + start);
              } else {
                for (int e = 0; e < DROW; e++) {
                  const int o = start + e;
                  line[e] = o >= 0 && o < OW && e < valid ? dyr[o] : 0.0f;
                }
                dv = vload16(0, line);
              }
              acc = fma((float16)(wr[jj]), dv, acc);
            }
          }
        }
        float out[DROW];
        vstore16(acc, 0, out);
        for (int e = 0; e < valid; e++)
          dxp[wb + SW * e] = dx_epilogue(out[e], b, has_b, c, act, alpha);
      }
    }
    return;
  }
  const int NB = fwd_rows_blocks(W);   /* 16-element blocks per segment */
  const int KB = fwd_rows_channels(W); /* input channels per item */
  const int cbs = (Cg + KB - 1) / KB;
  if (h >= H || t >= N * G * cbs) return;
  const int n = t / (G * cbs);
  const int g = t / cbs % G;
  const int cl0 = t % cbs * KB;
  const int nc = min(KB, Cg - cl0);
  if (KB == 1) {
    bwd_data_row_wide(dy, w, dx, n, g * Cg + cl0, h, C, H, W, K, KH, KW, OH,
                      OW, SH, SW, DH, DW, PT, PB, PL, PR, G, mode, flip, b,
                      has_b, act, alpha);
    return;
  }
  __global const float *dyp = dy + ((long)n * K + g * Kg) * P;
  __global const float *wp = w + ((long)g * Kg * Cg + cl0) * KH * KW;
  const int SEG = NB * DROW;
  const int L = SEG + (KW - 1) * DW; /* dy columns a segment reads */
  const int lines = L <= FLINE;
  for (int w0 = 0; w0 < W; w0 += SEG) {
    float16 a0 = (float16)(0.0f), a1 = a0, a2 = a0, a3 = a0;
    for (int kk = 0; kk < Kg; kk++) {
      for (int i = 0; i < KH; i++) {
        const int u = h + PT - i * DH;
        if (u < 0) break;
        if (SH != 1 && u % SH != 0) continue;
        const int oh = SH == 1 ? u : u / SH;
        if (oh >= OH) continue;
        const int ii = flip ? KH - 1 - i : i;
        __global const float *dyr = dyp + (long)kk * P + oh * OW;
        const int s0 = w0 + PL - (KW - 1) * DW; /* ow of line[0] */
        const int inside = lines && s0 >= 0 && s0 + L <= OW;
        if (lines && !inside) fill_line(line, dyr, s0, L, OW, 0, 0, 0);
        for (int j = 0; j < KW; j++) {
          const int jj = flip ? KW - 1 - j : j;
          float wv[4];
          for (int q = 0; q < 4; q++)
            wv[q] = wp[kk * wstride + min(q, nc - 1) * KH * KW + ii * KW + jj];
          for (int q = 0; q < 4; q++) {
            const int cq = q / NB, bq = q % NB; /* channel, block */
            if (cq >= nc) break;
            const int u0 = (KW - 1 - j) * DW + bq * DROW;
            float16 v;
            if (inside) {
              v = vload16(0, dyr + s0 + u0);
            } else if (lines) {
              v = vload16(0, line + u0);
            } else {
              float tmp[DROW];
              for (int e = 0; e < DROW; e++) {
                const int o = s0 + u0 + e;
                tmp[e] = o >= 0 && o < OW ? dyr[o] : 0.0f;
              }
              v = vload16(0, tmp);
            }
            const float16 wq = (float16)(wv[cq]);
            if (q == 0) a0 = fma(wq, v, a0);
            else if (q == 1) a1 = fma(wq, v, a1);
            else if (q == 2) a2 = fma(wq, v, a2);
            else a3 = fma(wq, v, a3);
          }
        }
      }
    }
    for (int q = 0; q < 4; q++) {
      const int cq = q / NB, bq = q % NB;
      if (cq >= nc) break;
      const int e0 = w0 + bq * DROW;
      const int valid = min(DROW, W - e0);
      if (valid <= 0) continue;
      const float16 a = q == 0 ? a0 : q == 1 ? a1 : q == 2 ? a2 : a3;
      float out[DROW];
      vstore16(a, 0, out);
      const int c = g * Cg + cl0 + cq;
      __global float *dxp = dx + ((long)n * C + c) * H * W + h * W + e0;
      for (int e = 0; e < valid; e++)
        dxp[e] = dx_epilogue(out[e], b, has_b, c, act, alpha);
    }
  }
}
#endif

/* Weight element e = ((k*Cg + cl)*KH + ii)*KW + jj: its output channel k,
 * input channel c and (flip-aware) tap (i, j). */
typedef struct wgrad_elem {
  int k, c, i, j;
} wgrad_elem;

wgrad_elem wgrad_decompose(int e, int C, int K, int G, int KH, int KW,
                           int flip) {
  const int Cg = C / G, Kg = K / G;
  const int jj = e % KW;
  int t = e / KW;
  const int ii = t % KH;
  t /= KH;
  const int cl = t % Cg, k = t / Cg;
  wgrad_elem r;
  r.k = k;
  r.c = (k / Kg) * Cg + cl;
  r.i = flip ? KH - 1 - ii : ii;
  r.j = flip ? KW - 1 - jj : jj;
  return r;
}

/* dw from x and dy: one work-group of RED_WG items per weight element
 * e = ((k*Cg + cl)*KH + ii)*KW + jj; each item sums a fixed stride of the
 * (n, p) positions, then a fixed tree adds the partial sums. */
#if defined(KSEL_ALL) || defined(KSEL_bwd_weight_direct)
__kernel __attribute__((reqd_work_group_size(RED_WG, 1, 1)))
void bwd_weight_direct(__global const float *x, __global const float *dy,
                       __global float *dw, int N, GEOM_PARAMS) {
  __local float red[RED_WG];
  const int e = get_group_id(0);
  const int lid = get_local_id(0);
  const wgrad_elem q = wgrad_decompose(e, C, K, G, KH, KW, flip);
  const int k = q.k, c = q.c, i = q.i, j = q.j;
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
#endif

/* The weight gradient for CPUs, no work-group reduction: one work item per
 * (output channel k, input channel of its group, tap row, group of up to
 * WTAPS taps of that row), each tap's sum in a float16 register of
 * partial sums over output columns. For each output row (n, oh) the x row
 * its taps read is copied once into a private line through the padding
 * map (line[u] is x's column u - PL), and each block of 16 output columns
 * is, per tap, one vector multiply-add of dy's 16 values with the line's
 * (stride SW apart); a row's last block overlaps the one before with the
 * lanes already counted masked to 0 in dy. Rows too wide for the line
 * take x lane by lane. The order is fixed (n, oh, blocks, then the 16
 * lanes added in order), so every run gives the same bits. */
#define WTAPS 4
#define WLINE 256
#if defined(KSEL_ALL) || defined(KSEL_bwd_weight_direct_rows)
__kernel void bwd_weight_direct_rows(__global const float *x,
                                     __global const float *dy,
                                     __global float *dw, int N, GEOM_PARAMS) {
  const int Cg = C / G, Kg = K / G;
  const int JG = (KW + WTAPS - 1) / WTAPS;
  const int id = get_global_id(0);
  if (id >= K * Cg * KH * JG) return;
  const int jg = id % JG;
  int t = id / JG;
  const int ii = t % KH;
  t /= KH;
  const int cl = t % Cg, k = t / Cg;
  const int c = (k / Kg) * Cg + cl;
  const int i = flip ? KH - 1 - ii : ii;
  const int nt = min(WTAPS, KW - jg * WTAPS);
  int off[WTAPS]; /* line offset of each tap: j*DW */
  for (int q = 0; q < WTAPS; q++) {
    const int jj = jg * WTAPS + min(q, nt - 1);
    off[q] = (flip ? KW - 1 - jj : jj) * DW;
  }
  const int OWv = max(OW, 16);
  /* Line elements any lane of any tap reads (one more for SW = 2's pair
   * of loads). */
  const int L = (OWv - 1) * SW + (KW - 1) * DW + SW + 1;
  const int lines = L <= WLINE;
  const int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                             14, 15);
  float line[WLINE];
  float16 a0 = (float16)(0.0f), a1 = a0, a2 = a0, a3 = a0;
  for (int n = 0; n < N; n++) {
    for (int oh = 0; oh < OH; oh++) {
      const int sh = pad_source(oh * SH - PT + i * DH, H, mode);
      if (sh < 0) continue;
      __global const float *xr = x + ((long)n * C + c) * H * W + sh * W;
      __global const float *dyr = dy + ((long)n * K + k) * OH * OW + oh * OW;
      if (lines) fill_line(line, xr, -PL, L, W, PL, PR, mode);
      for (int ow0 = 0; ow0 < OW; ow0 += 16) {
        /* The block's first column and the lanes already counted. */
        const int b0 = ow0 + 16 > OW && OW >= 16 ? OW - 16 : ow0;
        const int done = ow0 - b0;
        float16 dv;
        if (b0 + 16 <= OW) {
          dv = vload16(0, dyr + b0);
          if (done > 0) dv = select(dv, (float16)(0.0f), lane < (int16)(done));
        } else {
          float tmp[16];
          for (int e = 0; e < 16; e++) tmp[e] = b0 + e < OW ? dyr[b0 + e] : 0.0f;
          dv = vload16(0, tmp);
        }
        for (int q = 0; q < nt; q++) {
          float16 xv;
          if (lines) {
            const float *src = line + b0 * SW + off[q];
            if (SW == 1) {
              xv = vload16(0, src);
            } else if (SW == 2) {
              xv = (float16)(vload16(0, src).even, vload16(0, src + 16).even);
            } else {
              float tmp[16];
              for (int e = 0; e < 16; e++) tmp[e] = src[e * SW];
              xv = vload16(0, tmp);
            }
          } else {
            float tmp[16];
            for (int e = 0; e < 16; e++) {
              const int s2 = pad_col((b0 + e) * SW + off[q] - PL, W, PL, PR, mode);
              tmp[e] = s2 >= 0 && b0 + e < OW ? xr[s2] : 0.0f;
            }
            xv = vload16(0, tmp);
          }
          if (q == 0) a0 = fma(dv, xv, a0);
          else if (q == 1) a1 = fma(dv, xv, a1);
          else if (q == 2) a2 = fma(dv, xv, a2);
          else a3 = fma(dv, xv, a3);
        }
      }
    }
  }
  const long e0 = (((long)k * Cg + cl) * KH + ii) * KW + jg * WTAPS;
  for (int q = 0; q < nt; q++) {
    const float16 a = q == 0 ? a0 : q == 1 ? a1 : q == 2 ? a2 : a3;
    float part[16];
    vstore16(a, 0, part);
    float sum = 0.0f;
    for (int e = 0; e < 16; e++) sum += part[e];
    dw[e0 + q] = sum;
  }
}
#endif
