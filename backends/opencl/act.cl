/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The activations of conv_activation, in both program sets (the base
 * kernels and every GEMM build): the fused forward's pass, and the
 * epilogue of the backward-data kernels (col2im, the direct gather, the
 * GEMM that writes dx), where a transposed convolution's forward applies
 * its bias and activation while it stores each element.
 */

/* act as conv_activation (0 none, 1 relu, 2 relu6, 3 leaky_relu with slope
 * alpha, 4 sigmoid, 5 tanh, 6 silu); NaN stays NaN (comparisons, not fmax). */
float conv_act(float v, int act, float alpha) {
  switch (act) {
    case 1: return v < 0.0f ? 0.0f : v;
    case 2: return v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v);
    case 3: return v > 0.0f ? v : v * alpha;
    case 4: return 1.0f / (1.0f + exp(-v));
    case 5: return tanh(v);
    case 6: return v / (1.0f + exp(-v));
    default: return v;
  }
}

/* A backward-data kernel's store: v, or act(v + b[c]) when it has the
 * epilogue (has_b: a bias; act != 0: an activation). */
float dx_epilogue(float v, __global const float *b, int has_b, int c, int act,
                  float alpha) {
  if (has_b) v += b[c];
  return act ? conv_act(v, act, alpha) : v;
}
