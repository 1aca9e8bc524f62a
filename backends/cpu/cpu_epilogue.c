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
#include "helpers.h"

/* Below this many elements a pass runs on one thread: waking a team costs
 * more than it saves. */
#define CPU_PASS_MIN_PARALLEL 65536

void cpu_act_tile(conv_activation act, float alpha, float bias, float *y,
                  int64_t rows, int64_t row_stride, int64_t cols,
                  int64_t col_stride) {
  if (act == CONV_ACT_NONE && bias == 0.0f) return;
  for (int64_t i = 0; i < rows; i++) {
    float *yr = y + i * row_stride;
    if (col_stride == 1) {
      cpu_activate(yr, cols, bias, act, alpha);
    } else {
      for (int64_t j = 0; j < cols; j++)
        yr[j * col_stride] =
            conv_activate(yr[j * col_stride] + bias, act, alpha);
    }
  }
}

void cpu_activate_tile(const conv_problem *p, float *y, int64_t rows,
                       int64_t row_stride, int64_t cols, int64_t col_stride) {
  cpu_act_tile(p->activation, p->activation_alpha, 0.0f, y, rows, row_stride,
               cols, col_stride);
}

void cpu_dx_epilogue_tile(const cpu_run *r, const float *b, int64_t c,
                          float *dx, int64_t rows, int64_t row_stride,
                          int64_t cols, int64_t col_stride) {
  if (!r->dx_epilogue) return;
  cpu_act_tile(r->dx_act, r->dx_alpha, b != NULL ? b[c] : 0.0f, dx, rows,
               row_stride, cols, col_stride);
}

/* The activation of a fused forward over the whole output: one task per
 * (image, channel) plane. */
void cpu_activate_output(const conv_problem *p, float *y, int threads) {
  const int64_t planes = p->n * p->c_out, plane = p->h_out * p->w_out;
  const conv_activation act = p->activation;
  const float alpha = p->activation_alpha;
  if (planes * plane < CPU_PASS_MIN_PARALLEL) threads = 1;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t q = 0; q < planes; q++)
    cpu_activate(y + q * plane, plane, 0.0f, act, alpha);
}

void cpu_bias_activation_run(float *y, const float *b, int64_t n, int64_t c,
                             int64_t hw, conv_activation act, float alpha,
                             int threads) {
  if (n * c * hw < CPU_PASS_MIN_PARALLEL) threads = 1;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t q = 0; q < n * c; q++)
    cpu_activate(y + q * hw, hw, b != NULL ? b[q % c] : 0.0f, act, alpha);
}

void cpu_channel_sum_run(const float *y, float *sum, int64_t n, int64_t c,
                         int64_t hw, int threads) {
  cpu_sum_channels(y, sum, n, c, hw, threads); /* the bias gradient's order */
}
