/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bias: the forward addition and the gradient, a fixed-order reduction.
 */

/* y[y_off ...] += b[k] over nb images. Work item (p, n*K + k). */
#if defined(KSEL_ALL) || defined(KSEL_bias_add)
__kernel void bias_add(__global float *y, long y_off, __global const float *b,
                       int nb, GEOM_PARAMS) {
  const int p = get_global_id(0);
  const int t = get_global_id(1);
  const int P = OH * OW;
  if (p >= P || t >= nb * K) return;
  y[y_off + (long)t * P + p] += b[t % K];
}
#endif

/* db[k] = sum over n, p of dy[n, k, p]: one work-group of RED_WG items per
 * output channel; each item sums a fixed stride, then a fixed tree. */
#if defined(KSEL_ALL) || defined(KSEL_bias_grad)
__kernel __attribute__((reqd_work_group_size(RED_WG, 1, 1)))
void bias_grad(__global const float *dy, __global float *db, int N,
               GEOM_PARAMS) {
  __local float red[RED_WG];
  const int k = get_group_id(0);
  const int lid = get_local_id(0);
  const int P = OH * OW;
  float acc = 0.0f;
  for (int n = 0; n < N; n++) {
    __global const float *dyp = dy + ((long)n * K + k) * P;
    for (int p = lid; p < P; p += RED_WG) acc += dyp[p];
  }
  red[lid] = acc;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int s = RED_WG / 2; s > 0; s >>= 1) {
    if (lid < s) red[lid] += red[lid + s];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (lid == 0) db[k] = red[0];
}
#endif

/* dw[e] = (accumulate ? dw[e] : 0) + part[0][e] + part[1][e] + ... in slice
 * order: the fixed-order sum of a split-K weight gradient. Work item e. */
#if defined(KSEL_ALL) || defined(KSEL_sum_slices)
__kernel void sum_slices(__global const float *part, __global float *dw,
                         int slices, int count, int accumulate) {
  const int e = get_global_id(0);
  if (e >= count) return;
  float acc = accumulate ? dw[e] : 0.0f;
  for (int s = 0; s < slices; s++) acc += part[(long)s * count + e];
  dw[e] = acc;
}
#endif
