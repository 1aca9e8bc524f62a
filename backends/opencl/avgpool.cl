/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Average pooling (torch.nn.AvgPool2d, AdaptiveAvgPool2d; PyTorch's rules):
 * AvgPool2d's window is clipped to the padded input (its size is the
 * count_include_pad divisor), then to the input; AdaptiveAvgPool2d's window
 * is floor(o*H/OH) .. ceil((o+1)*H/OH). An empty window gives 0.
 */

#define AVG_PARAMS                                                           \
  int H, int W, int KH, int KW, int SH, int SW, int PT, int PB, int PL,      \
      int PR, int OH, int OW, int adaptive, int include_pad, int divisor

/* The in-range window [h0, h1) x [w0, w1) of output (oh, ow); returns the
 * divisor. */
float avg_window(int oh, int ow, int *h0, int *h1, int *w0, int *w1,
                 AVG_PARAMS) {
  if (adaptive) {
    *h0 = (int)(((long)oh * H) / OH);
    *h1 = (int)((((long)oh + 1) * H + OH - 1) / OH);
    *w0 = (int)(((long)ow * W) / OW);
    *w1 = (int)((((long)ow + 1) * W + OW - 1) / OW);
    return (float)((*h1 - *h0) * (*w1 - *w0));
  }
  int a0 = oh * SH - PT, b0 = ow * SW - PL;
  int a1 = min(a0 + KH, H + PB), b1 = min(b0 + KW, W + PR);
  const int padded = (a1 - a0) * (b1 - b0);
  a0 = max(a0, 0);
  b0 = max(b0, 0);
  a1 = min(a1, H);
  b1 = min(b1, W);
  *h0 = a0; *h1 = a1; *w0 = b0; *w1 = b1;
  if (divisor > 0) return (float)divisor;
  return (float)(include_pad ? padded : (a1 - a0) * (b1 - b0));
}

/* Work item (q = oh*OW + ow, plane t). */
#if defined(KSEL_ALL) || defined(KSEL_avgpool_fwd)
__kernel void avgpool_fwd(__global const float *x, __global float *y, int nc,
                          AVG_PARAMS) {
  const int q = get_global_id(0);
  const int t = get_global_id(1);
  if (q >= OH * OW || t >= nc) return;
  int h0, h1, w0, w1;
  const float div = avg_window(q / OW, q % OW, &h0, &h1, &w0, &w1, H, W, KH,
                               KW, SH, SW, PT, PB, PL, PR, OH, OW, adaptive,
                               include_pad, divisor);
  __global const float *xp = x + (long)t * H * W;
  float sum = 0.0f;
  for (int ih = h0; ih < h1; ih++)
    for (int iw = w0; iw < w1; iw++) sum += xp[ih * W + iw];
  y[(long)t * OH * OW + q] = h0 < h1 && w0 < w1 ? sum / div : 0.0f;
}
#endif

/* dx: each element gathers dy/divisor of every window holding it, in output
 * raster order. Work item (q = h*W + w, plane t). */
#if defined(KSEL_ALL) || defined(KSEL_avgpool_bwd)
__kernel void avgpool_bwd(__global const float *dy, __global float *dx, int nc,
                          AVG_PARAMS) {
  const int q = get_global_id(0);
  const int t = get_global_id(1);
  if (q >= H * W || t >= nc) return;
  const int h = q / W, w = q % W;
  int oh0, oh1, ow0, ow1; /* candidate windows, inclusive */
  if (adaptive) {
    oh0 = (int)(((long)h * OH) / H);
    oh1 = min((int)((((long)h + 1) * OH + H - 1) / H), OH - 1);
    ow0 = (int)(((long)w * OW) / W);
    ow1 = min((int)((((long)w + 1) * OW + W - 1) / W), OW - 1);
  } else {
    const int u = h + PT - KH + 1, v = w + PL - KW + 1;
    oh0 = u <= 0 ? 0 : (u + SH - 1) / SH;
    ow0 = v <= 0 ? 0 : (v + SW - 1) / SW;
    oh1 = min((h + PT) / SH, OH - 1);
    ow1 = min((w + PL) / SW, OW - 1);
  }
  __global const float *dyp = dy + (long)t * OH * OW;
  float acc = 0.0f;
  for (int oh = oh0; oh <= oh1; oh++)
    for (int ow = ow0; ow <= ow1; ow++) {
      int h0, h1, w0, w1;
      const float div = avg_window(oh, ow, &h0, &h1, &w0, &w1, H, W, KH, KW,
                                   SH, SW, PT, PB, PL, PR, OH, OW, adaptive,
                                   include_pad, divisor);
      if (h >= h0 && h < h1 && w >= w0 && w < w1)
        acc += dyp[oh * OW + ow] / div;
    }
  dx[(long)t * H * W + q] = acc;
}
#endif
