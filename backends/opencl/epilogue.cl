/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-channel passes over an (n, c, hw) buffer (plugin ABI 1.2): bias and
 * activation in place (a fused forward's epilogue and the transposed
 * convolution's bias), and the channel sum (its bias gradient).
 */

/* conv_act is in act.cl. */

/* y[t, p] = act(y[t, p] + (has_b ? b[t % C] : 0)) for t < NC planes of HW
 * elements. Work item (p, t). */
#if defined(KSEL_ALL) || defined(KSEL_bias_act)
__kernel void bias_act(__global float *y, __global const float *b, int has_b,
                       int NC, int C, int HW, int act, float alpha) {
  const int p = get_global_id(0);
  const int t = get_global_id(1);
  if (p >= HW || t >= NC) return;
  const long i = (long)t * HW + p;
  y[i] = conv_act(y[i] + (has_b ? b[t % C] : 0.0f), act, alpha);
}
#endif

/* sum[k] = sum over n, p of y[n, k, p]: one work-group of RED_WG items per
 * channel, each summing a fixed stride, then a fixed tree (as bias_grad). */
#if defined(KSEL_ALL) || defined(KSEL_channel_sum)
__kernel __attribute__((reqd_work_group_size(RED_WG, 1, 1)))
void channel_sum(__global const float *y, __global float *sum, int N, int C,
                 int HW) {
  __local float red[RED_WG];
  const int k = get_group_id(0);
  const int lid = get_local_id(0);
  float acc = 0.0f;
  for (int n = 0; n < N; n++) {
    __global const float *yp = y + ((long)n * C + k) * HW;
    for (int p = lid; p < HW; p += RED_WG) acc += yp[p];
  }
  red[lid] = acc;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int s = RED_WG / 2; s > 0; s >>= 1) {
    if (lid < s) red[lid] += red[lid + s];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (lid == 0) sum[k] = red[0];
}
#endif
