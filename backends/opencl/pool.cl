/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Max pooling (torch.nn.MaxPool2d, PyTorch's CPU rules): each window scans
 * its in-range taps row by row from -inf and takes a value if it is greater
 * or NaN, so padding never wins, ties go to the first maximum, and a window
 * holding NaN gives NaN with the last NaN's index. A window with no in-range
 * tap (possible with dilation) keeps the starting index and -inf; backward
 * drops its gradient.
 */

#define POOL_PARAMS                                                          \
  int H, int W, int KH, int KW, int SH, int SW, int PH, int PW, int DH,      \
      int DW, int OH, int OW

/* Index h*W + w of the element window (oh, ow) of plane xp chooses; *value
 * its value, *empty 1 if the window has no in-range tap. */
int pool_argmax(__global const float *xp, int oh, int ow, float *value,
                int *empty, POOL_PARAMS) {
  int h0 = oh * SH - PH, w0 = ow * SW - PW;
  int h1 = h0 + (KH - 1) * DH + 1, w1 = w0 + (KW - 1) * DW + 1;
  if (h1 > H) h1 = H;
  if (w1 > W) w1 = W;
  while (h0 < 0) h0 += DH;
  while (w0 < 0) w0 += DW;
  int best = h0 * W + w0;
  float maxval = -INFINITY;
  *empty = h0 >= h1 || w0 >= w1;
  for (int ih = h0; ih < h1; ih += DH) {
    for (int iw = w0; iw < w1; iw += DW) {
      const float v = xp[ih * W + iw];
      if (v > maxval || isnan(v)) {
        maxval = v;
        best = ih * W + iw;
      }
    }
  }
  *value = maxval;
  return best;
}

/* y (and indices, if has_idx) for nc planes. Work item (q = oh*OW + ow,
 * plane). */
#if defined(KSEL_ALL) || defined(KSEL_maxpool_fwd)
__kernel void maxpool_fwd(__global const float *x, __global float *y,
                          __global long *idx, int has_idx, int nc,
                          POOL_PARAMS) {
  const int q = get_global_id(0);
  const int t = get_global_id(1);
  if (q >= OH * OW || t >= nc) return;
  float v;
  int empty;
  const int k = pool_argmax(x + (long)t * H * W, q / OW, q % OW, &v, &empty,
                            H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW);
  y[(long)t * OH * OW + q] = v;
  if (has_idx) idx[(long)t * OH * OW + q] = k;
}
#endif

/* dx: each element gathers, in output raster order, the dy of every window
 * that chose it. Work item (q = h*W + w, plane). */
#if defined(KSEL_ALL) || defined(KSEL_maxpool_bwd)
__kernel void maxpool_bwd(__global const float *x, __global const float *dy,
                          __global float *dx, int nc, POOL_PARAMS) {
  const int q = get_global_id(0);
  const int t = get_global_id(1);
  if (q >= H * W || t >= nc) return;
  const int h = q / W, w = q % W;
  __global const float *xp = x + (long)t * H * W;
  __global const float *dyp = dy + (long)t * OH * OW;
  float acc = 0.0f;
  for (int i = KH - 1; i >= 0; i--) { /* oh ascending */
    const int u = h + PH - i * DH;
    if (u < 0 || u % SH != 0) continue;
    const int oh = u / SH;
    if (oh >= OH) continue;
    for (int j = KW - 1; j >= 0; j--) { /* ow ascending */
      const int v = w + PW - j * DW;
      if (v < 0 || v % SW != 0) continue;
      const int ow = v / SW;
      if (ow >= OW) continue;
      float m;
      int empty;
      const int k = pool_argmax(xp, oh, ow, &m, &empty, H, W, KH, KW, SH, SW,
                                PH, PW, DH, DW, OH, OW);
      if (!empty && k == q) acc += dyp[oh * OW + ow];
    }
  }
  dx[(long)t * H * W + q] = acc;
}
#endif
