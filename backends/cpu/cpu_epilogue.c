/* SPDX-License-Identifier: Apache-2.0 */
/* Per-channel passes of the cpu backend (plugin ABI 1.2): the activation of a
 * fused forward, bias + activation and the channel sum that the transposed
 * convolution runs around the conv2d operations it reuses. */
#ifdef HAVE_CONFIG_H
#  include "config.h"
#endif

#include <math.h>
#include <string.h>

#include "cpu_internal.h"

/* y[i] = act(y[i] + bias) over count elements. The switch is outside the
 * loops so that each loop is a plain vectorisable map. */
void cpu_activate(float *restrict y, int64_t count, float bias,
                  conv_activation act, float alpha) {
  switch (act) {
    case CONV_ACT_NONE:
      if (bias != 0.0f)
        for (int64_t i = 0; i < count; i++) y[i] += bias;
      return;
    case CONV_ACT_RELU:
      for (int64_t i = 0; i < count; i++) {
        const float v = y[i] + bias;
        y[i] = v < 0.0f ? 0.0f : v;
      }
      return;
    case CONV_ACT_RELU6:
      for (int64_t i = 0; i < count; i++) {
        const float v = y[i] + bias;
        y[i] = v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v);
      }
      return;
    case CONV_ACT_LEAKY_RELU:
      for (int64_t i = 0; i < count; i++) {
        const float v = y[i] + bias;
        y[i] = v > 0.0f ? v : v * alpha;
      }
      return;
    default:
      for (int64_t i = 0; i < count; i++)
        y[i] = conv_activate(y[i] + bias, act, alpha);
      return;
  }
}

void cpu_activate_tile(const conv_problem *p, float *y, int64_t rows,
                       int64_t row_stride, int64_t cols, int64_t col_stride) {
  const conv_activation act = p->activation;
  const float alpha = p->activation_alpha;
  if (act == CONV_ACT_NONE) return;
  for (int64_t i = 0; i < rows; i++) {
    float *yr = y + i * row_stride;
    if (col_stride == 1) {
      cpu_activate(yr, cols, 0.0f, act, alpha);
    } else {
      for (int64_t j = 0; j < cols; j++)
        yr[j * col_stride] = conv_activate(yr[j * col_stride], act, alpha);
    }
  }
}

/* The activation of a fused forward over the whole output: one task per
 * (image, channel) plane. */
void cpu_activate_output(const conv_problem *p, float *y, int threads) {
  const int64_t planes = p->n * p->c_out, plane = p->h_out * p->w_out;
  const conv_activation act = p->activation;
  const float alpha = p->activation_alpha;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t q = 0; q < planes; q++)
    cpu_activate(y + q * plane, plane, 0.0f, act, alpha);
}

conv_status cpu_bias_activation(void *device, void *y, const void *b,
                                int64_t n, int64_t c, int64_t hw,
                                conv_activation act, float alpha,
                                conv_err *err) {
  (void)device;
  (void)err;
  float *ys = y;
  const float *bs = b;
  const int threads = cpu_available_threads();
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t q = 0; q < n * c; q++)
    cpu_activate(ys + q * hw, hw, bs != NULL ? bs[q % c] : 0.0f, act, alpha);
  return CONV_SUCCESS;
}

conv_status cpu_channel_sum(void *device, const void *y, void *sum, int64_t n,
                            int64_t c, int64_t hw, conv_err *err) {
  (void)device;
  (void)err;
  /* The same fixed-order reduction as conv2d's bias gradient. */
  conv_problem p;
  memset(&p, 0, sizeof p);
  p.n = n;
  p.c_out = c;
  p.h_out = hw;
  p.w_out = 1;
  cpu_bias_grad(&p, y, sum, cpu_available_threads());
  return CONV_SUCCESS;
}
