/* SPDX-License-Identifier: Apache-2.0 */
/*
 * im2col and its adjoint (col2im) for the GEMM algorithms.
 *
 * The column matrix of one image is (C*KH*KW) x (OH*OW), row r = (c, ii, jj)
 * in weight order, so group g's block starts at row g*(C/G)*KH*KW and the
 * GEMM reads the weight as stored. With flip_kernel row (ii, jj) holds tap
 * (KH-1-ii, KW-1-jj): the flip lives here, never in a copy of the weight.
 *
 * Two layouts for a chunk of nb images: layout 0 stacks the images' matrices
 * ([n][r][p], one GEMM per image and group); layout 1 puts the images side
 * by side ([r][n][p], a (C*KH*KW) x (nb*OH*OW) matrix), so the weight
 * gradient is one GEMM per group whose inner dimension runs over the batch.
 */
/* col (nb images) <- x[x_off ...]. Work item (p, row): p = output position,
 * row = (n*C + c)*KH*KW + ii*KW + jj. */
__kernel void im2col(__global const float *x, long x_off, __global float *col,
                     int nb, int layout, GEOM_PARAMS) {
  const int p = get_global_id(0);
  const int r = get_global_id(1);
  const int P = OH * OW;
  if (p >= P || r >= nb * C * KH * KW) return;
  const int jj = r % KW;
  int t = r / KW;
  const int ii = t % KH;
  t /= KH; /* n*C + c */
  const int i = flip ? KH - 1 - ii : ii;
  const int j = flip ? KW - 1 - jj : jj;
  const int oh = p / OW, ow = p % OW;
  const int sh = pad_source(oh * SH - PT + i * DH, H, mode);
  const int sw = pad_source(ow * SW - PL + j * DW, W, mode);
  float v = 0.0f;
  if (sh >= 0 && sw >= 0) v = x[x_off + ((long)t * H + sh) * W + sw];
  if (layout == 0) {
    col[(long)r * P + p] = v;
  } else {
    const int rows = C * KH * KW;
    const int n = r / rows;
    col[((long)(r - n * rows) * nb + n) * P + p] = v;
  }
}

/* dst[k][n][p] <- src[src_off + (n*K + k)*P + p] for nb images: the output
 * gradient in the side-by-side layout. Work item (p, n*K + k). */
__kernel void batch_transpose(__global const float *src, long src_off,
                              __global float *dst, int nb, GEOM_PARAMS) {
  const int p = get_global_id(0);
  const int t = get_global_id(1);
  const int P = OH * OW;
  if (p >= P || t >= nb * K) return;
  const int n = t / K, k = t % K;
  dst[((long)k * nb + n) * P + p] = src[src_off + (long)t * P + p];
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
