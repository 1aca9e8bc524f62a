/* SPDX-License-Identifier: Apache-2.0 */
/*
 * im2col and its adjoint (col2im) for the GEMM algorithms.
 *
 * The column matrix of one image is (C*KH*KW) x (OH*OW), row r = (c, ii, jj)
 * in weight order, so group g's block starts at row g*(C/G)*KH*KW and the
 * GEMM reads the weight as stored. With flip_kernel row (ii, jj) holds tap
 * (KH-1-ii, KW-1-jj): the flip lives here, never in a copy of the weight.
 *
 * im2col stacks the matrices of a chunk of nb images ([n][r][p]: forward
 * and backward data); im2col_t writes each image's matrix transposed
 * ([n][p][r]), the B operand of the weight gradient, whose inner dimension
 * runs over the positions of every image of the chunk.
 */

/* The element (row r of image-channel block t, position p) of the column
 * matrix: x through the padding map, or 0. */
float col_value(__global const float *x, long x_off, int t, int r, int p,
                int C, int H, int W, int KH, int KW, int OW, int SH, int SW,
                int DH, int DW, int PT, int PL, int mode, int flip) {
  const int jj = r % KW;
  const int ii = (r / KW) % KH;
  const int i = flip ? KH - 1 - ii : ii;
  const int j = flip ? KW - 1 - jj : jj;
  const int oh = p / OW, ow = p % OW;
  const int sh = pad_source(oh * SH - PT + i * DH, H, mode);
  const int sw = pad_source(ow * SW - PL + j * DW, W, mode);
  if (sh < 0 || sw < 0) return 0.0f;
  return x[x_off + ((long)t * H + sh) * W + sw];
}

/* col[n][r][p] (nb images) <- x[x_off ...]. Work item (p, row): row =
 * (n*C + c)*KH*KW + ii*KW + jj. (Element-parallel: for GPUs.) */
#if defined(KSEL_ALL) || defined(KSEL_im2col)
__kernel void im2col(__global const float *x, long x_off, __global float *col,
                     int nb, GEOM_PARAMS) {
  const int p = get_global_id(0);
  const int r = get_global_id(1);
  const int P = OH * OW;
  if (p >= P || r >= nb * C * KH * KW) return;
  col[(long)r * P + p] = col_value(x, x_off, r / (KH * KW), r, p, C, H, W, KH,
                                   KW, OW, SH, SW, DH, DW, PT, PL, mode, flip);
}
#endif

/* The same, one work item per output row (oh, row) looping over ow: no
 * division per element and a straight copy inside the image (for CPUs). */
#if defined(KSEL_ALL) || defined(KSEL_im2col_rows)
__kernel void im2col_rows(__global const float *x, long x_off,
                          __global float *col, int nb, GEOM_PARAMS) {
  const int oh = get_global_id(0);
  const int r = get_global_id(1);
  if (oh >= OH || r >= nb * C * KH * KW) return;
  const int jj = r % KW;
  const int ii = (r / KW) % KH;
  const int t = r / (KH * KW);
  const int i = flip ? KH - 1 - ii : ii;
  const int j = flip ? KW - 1 - jj : jj;
  __global float *dst = col + (long)r * OH * OW + oh * OW;
  const int sh = pad_source(oh * SH - PT + i * DH, H, mode);
  if (sh < 0) {
    for (int ow = 0; ow < OW; ow++) dst[ow] = 0.0f;
    return;
  }
  __global const float *src = x + x_off + ((long)t * H + sh) * W;
  const int w0 = j * DW - PL;
  for (int ow = 0; ow < OW; ow++) {
    const int sw = ow * SW + w0;
    float v;
    if (sw >= 0 && sw < W) {
      v = src[sw];
    } else {
      const int s2 = pad_source(sw, W, mode);
      v = s2 >= 0 ? src[s2] : 0.0f;
    }
    dst[ow] = v;
  }
}
#endif

/* im2col_rows writing the GEMM's packed B (gemm.cl's b_panel): per image
 * and group a block of R = C/G*KH*KW rows x PP = P rounded up to tn
 * columns, stored as PP/tn panels of R x tn; columns P..PP-1 are zero.
 * Work item (oh, row) as im2col_rows. */
#if defined(KSEL_ALL) || defined(KSEL_im2col_rows_panel)
__kernel void im2col_rows_panel(__global const float *x, long x_off,
                                __global float *col, int nb, int tn,
                                GEOM_PARAMS) {
  const int oh = get_global_id(0);
  const int r = get_global_id(1);
  if (oh >= OH || r >= nb * C * KH * KW) return;
  const int jj = r % KW;
  const int ii = (r / KW) % KH;
  const int t = r / (KH * KW); /* n*C + c */
  const int n = t / C, c = t % C, Cg = C / G;
  const int g = c / Cg;
  const int R = Cg * KH * KW, rl = r - (n * C + g * Cg) * KH * KW;
  const int P = OH * OW, PP = (P + tn - 1) / tn * tn;
  __global float *blk = col + ((long)n * G + g) * R * PP + (long)rl * tn;
  const int i = flip ? KH - 1 - ii : ii;
  const int j = flip ? KW - 1 - jj : jj;
  const int sh = pad_source(oh * SH - PT + i * DH, H, mode);
  __global const float *src = x + x_off + ((long)t * H + (sh < 0 ? 0 : sh)) * W;
  const int w0 = j * DW - PL;
  int p = oh * OW;
  int tile = p / tn, lane = p % tn;
  for (int ow = 0; ow < OW; ow++) {
    float v = 0.0f;
    if (sh >= 0) {
      const int sw = ow * SW + w0;
      if (sw >= 0 && sw < W) {
        v = src[sw];
      } else {
        const int s2 = pad_source(sw, W, mode);
        if (s2 >= 0) v = src[s2];
      }
    }
    blk[(long)tile * R * tn + lane] = v;
    if (++lane == tn) { lane = 0; tile++; }
  }
  if (oh == OH - 1) /* the zero columns past P */
    for (int q = P; q < PP; q++)
      blk[(long)(q / tn) * R * tn + q % tn] = 0.0f;
}
#endif

/* col[n][p][r] (nb images) <- x[x_off ...], r over all C*KH*KW rows. Work
 * item (r, n*P + p): neighbouring items write neighbouring addresses (for
 * GPUs). */
#if defined(KSEL_ALL) || defined(KSEL_im2col_t)
__kernel void im2col_t(__global const float *x, long x_off,
                       __global float *col, int nb, GEOM_PARAMS) {
  const int r = get_global_id(0);
  const int q = get_global_id(1);
  const int P = OH * OW, R = C * KH * KW;
  if (r >= R || q >= nb * P) return;
  const int n = q / P, p = q % P;
  col[(long)q * R + r] =
      col_value(x, x_off, n * C + r / (KH * KW), r, p, C, H, W, KH, KW, OW,
                SH, SW, DH, DW, PT, PL, mode, flip);
}
#endif

/* The same, one work item per output position (ow, n*OH + oh) writing its
 * C*KH*KW values in a loop, taps found without division (for CPUs). */
#if defined(KSEL_ALL) || defined(KSEL_im2col_t_rows)
__kernel void im2col_t_rows(__global const float *x, long x_off,
                            __global float *col, int nb, GEOM_PARAMS) {
  const int ow = get_global_id(0);
  const int q = get_global_id(1);
  if (ow >= OW || q >= nb * OH) return;
  const int n = q / OH, oh = q % OH;
  const int R = C * KH * KW;
  __global float *dst = col + ((long)q * OW + ow) * R;
  int r = 0;
  for (int c = 0; c < C; c++) {
    __global const float *xp = x + x_off + (long)(n * C + c) * H * W;
    for (int ii = 0; ii < KH; ii++) {
      const int i = flip ? KH - 1 - ii : ii;
      const int sh = pad_source(oh * SH - PT + i * DH, H, mode);
      for (int jj = 0; jj < KW; jj++, r++) {
        const int j = flip ? KW - 1 - jj : jj;
        const int sw = pad_source(ow * SW - PL + j * DW, W, mode);
        dst[r] = sh >= 0 && sw >= 0 ? xp[sh * W + sw] : 0.0f;
      }
    }
  }
}
#endif

/* im2col_t writing gemm_vec's packed B for the weight gradient (b_panel):
 * per image n and group g, PQ = ceil(R/tn) panels (R = C/G*KH*KW), each
 * P positions x tn rows r, position-major; rows past R are zero. Work
 * item (oh, (n*G + g)*PQ + panel) fills its panel's OW x tn block of
 * output row oh: lane by lane, each lane a row of x read left to right
 * into a block that stays in cache (for CPUs). */
#if defined(KSEL_ALL) || defined(KSEL_im2col_t_panel)
__kernel void im2col_t_panel(__global const float *x, long x_off,
                             __global float *col, int nb, int tn,
                             GEOM_PARAMS) {
  const int oh = get_global_id(0);
  const int q = get_global_id(1);
  const int T = KH * KW, Cg = C / G, R = Cg * T;
  const int PQ = (R + tn - 1) / tn;
  if (oh >= OH || q >= nb * G * PQ) return;
  const int ng = q / PQ, pan = q % PQ; /* ng = n*G + g */
  const int n = ng / G, g = ng % G;
  __global float *dst = col + ((long)q * OH * OW + (long)oh * OW) * tn;
  int r = pan * tn;
  int jj = r % KW, ii = (r / KW) % KH, c = r / T;
  for (int lane = 0; lane < tn; lane++, r++) {
    if (r >= R) {
      for (int ow = 0; ow < OW; ow++) dst[(long)ow * tn + lane] = 0.0f;
      continue;
    }
    const int i = flip ? KH - 1 - ii : ii;
    const int j = flip ? KW - 1 - jj : jj;
    const int sh = pad_source(oh * SH - PT + i * DH, H, mode);
    if (sh < 0) {
      for (int ow = 0; ow < OW; ow++) dst[(long)ow * tn + lane] = 0.0f;
    } else {
      __global const float *src =
          x + x_off + ((long)(n * C + g * Cg + c) * H + sh) * W;
      const int w0 = j * DW - PL;
      for (int ow = 0; ow < OW; ow++) {
        const int sw = ow * SW + w0;
        float v;
        if (sw >= 0 && sw < W) {
          v = src[sw];
        } else {
          const int s2 = pad_source(sw, W, mode);
          v = s2 >= 0 ? src[s2] : 0.0f;
        }
        dst[(long)ow * tn + lane] = v;
      }
    }
    if (++jj == KW) {
      jj = 0;
      if (++ii == KH) { ii = 0; c++; }
    }
  }
}
#endif

/* dx[dx_off ...] (nb images) <- the adjoint of im2col applied to col.
 * Gather: each dx element sums, in a fixed order, every column entry that
 * read it, through the border map too. Work item (q = h*W + w, n*C + c).
 * The epilogue (dx_epilogue) adds a transposed convolution's bias and
 * activation as each element is stored. */
#if defined(KSEL_ALL) || defined(KSEL_col2im)
__kernel void col2im(__global const float *col, __global float *dx,
                     long dx_off, int nb, GEOM_PARAMS,
                     __global const float *b, int has_b, int act,
                     float alpha) {
  const int q = get_global_id(0);
  const int t = get_global_id(1);
  if (q >= H * W || t >= nb * C) return;
  const int h = q / W, w = q % W;
  const int P = OH * OW;
  int hlo[3], hhi[3], wlo[3], whi[3];
  const int nh = pad_preimages(h, H, PT, PB, mode, hlo, hhi);
  const int nw = pad_preimages(w, W, PL, PR, mode, wlo, whi);
  __global const float *base = col + (long)t * KH * KW * P;
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
              acc += base[(long)(ii * KW + jj) * P + oh * OW + ow];
            }
          }
        }
      }
    }
  }
  dx[dx_off + (long)t * H * W + q] = dx_epilogue(acc, b, has_b, t % C, act,
                                                 alpha);
}
#endif

/* The same adjoint by rows (for CPUs): work item (h, n*C + c) owns dx's
 * row h of that channel and adds into it every column entry whose tap
 * reads it, walking col's rows left to right (stride-aware: no test per
 * tap and element, the interior of each tap row without any). Each element
 * sums its entries in one fixed order: deterministic. */
#if defined(KSEL_ALL) || defined(KSEL_col2im_rows)
__kernel void col2im_rows(__global const float *col, __global float *dx,
                          long dx_off, int nb, GEOM_PARAMS,
                          __global const float *b, int has_b, int act,
                          float alpha) {
  const int h = get_global_id(0);
  const int t = get_global_id(1);
  if (h >= H || t >= nb * C) return;
  const int P = OH * OW;
  __global float *dxr = dx + dx_off + ((long)t * H + h) * W;
  for (int w = 0; w < W; w++) dxr[w] = 0.0f;
  int hlo[3], hhi[3];
  const int nh = pad_preimages(h, H, PT, PB, mode, hlo, hhi);
  __global const float *base = col + (long)t * KH * KW * P;
  for (int a = 0; a < nh; a++) {
    for (int ph = hlo[a]; ph <= hhi[a]; ph++) {
      for (int i = 0; i < KH; i++) {
        const int u = ph + PT - i * DH;
        if (u < 0) break;
        if (SH != 1 && u % SH != 0) continue;
        const int oh = SH == 1 ? u : u / SH;
        if (oh >= OH) continue;
        const int ii = flip ? KH - 1 - i : i;
        for (int jj = 0; jj < KW; jj++) {
          const int j = flip ? KW - 1 - jj : jj;
          __global const float *cr = base + (long)(ii * KW + jj) * P + oh * OW;
          const int w0 = j * DW - PL; /* dx column of ow = 0 */
          /* ow with 0 <= ow*SW + w0 < W: [o0, o1) */
          const int o0 = w0 >= 0 ? 0 : (-w0 + SW - 1) / SW;
          int o1 = W - w0 <= 0 ? 0 : (W - w0 + SW - 1) / SW;
          if (o1 > OW) o1 = OW;
          if (mode != PAD_ZEROS) /* border taps: through the padding map */
            for (int ow = 0; ow < OW; ow++) {
              if (ow == o0 && o0 < o1) ow = o1;
              if (ow >= OW) break;
              const int sw = pad_source(ow * SW + w0, W, mode);
              if (sw >= 0) dxr[sw] += cr[ow];
            }
          for (int ow = o0; ow < o1; ow++) dxr[ow * SW + w0] += cr[ow];
        }
      }
    }
  }
  const int c = t % C;
  for (int w = 0; w < W; w++)
    dxr[w] = dx_epilogue(dxr[w], b, has_b, c, act, alpha);
}
#endif

/* wt[g][c][k][tap] <- w[g*K/G + k][c][tap] for count = K*(C/G)*KH*KW
 * elements: the weight of backward data computed as a convolution over dy
 * (per group, input and output channels swapped). Work item e. */
#if defined(KSEL_ALL) || defined(KSEL_weight_t)
__kernel void weight_t(__global const float *w, __global float *wt, int count,
                       GEOM_PARAMS) {
  const int e = get_global_id(0);
  if (e >= count) return;
  const int T = KH * KW, Cg = C / G, Kg = K / G;
  const int tap = e % T;
  int r = e / T;
  const int k = r % Kg;
  r /= Kg;
  const int cl = r % Cg, g = r / Cg;
  wt[e] = w[((long)(g * Kg + k) * Cg + cl) * T + tap];
}
#endif
