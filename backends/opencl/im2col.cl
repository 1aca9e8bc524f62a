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
 * (n*C + c)*KH*KW + ii*KW + jj. */
__kernel void im2col(__global const float *x, long x_off, __global float *col,
                     int nb, GEOM_PARAMS) {
  const int p = get_global_id(0);
  const int r = get_global_id(1);
  const int P = OH * OW;
  if (p >= P || r >= nb * C * KH * KW) return;
  col[(long)r * P + p] = col_value(x, x_off, r / (KH * KW), r, p, C, H, W, KH,
                                   KW, OW, SH, SW, DH, DW, PT, PL, mode, flip);
}

/* col[n][p][r] (nb images) <- x[x_off ...], r over all C*KH*KW rows. Work
 * item (r, n*P + p): neighbouring items write neighbouring addresses. */
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

/* dx[dx_off ...] (nb images) <- the adjoint of im2col applied to col.
 * Gather: each dx element sums, in a fixed order, every column entry that
 * read it, through the border map too. Work item (q = h*W + w, n*C + c). */
__kernel void col2im(__global const float *col, __global float *dx,
                     long dx_off, int nb, GEOM_PARAMS) {
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
        if (u % SH != 0) continue;
        const int oh = u / SH;
        if (oh >= OH) continue;
        const int ii = flip ? KH - 1 - i : i;
        for (int b = 0; b < nw; b++) {
          for (int pw = wlo[b]; pw <= whi[b]; pw++) {
            for (int j = 0; j < KW; j++) {
              const int v = pw + PL - j * DW;
              if (v < 0) break;
              if (v % SW != 0) continue;
              const int ow = v / SW;
              if (ow >= OW) continue;
              const int jj = flip ? KW - 1 - j : j;
              acc += base[(long)(ii * KW + jj) * P + oh * OW + ow];
            }
          }
        }
      }
    }
  }
  dx[dx_off + (long)t * H * W + q] = acc;
}
