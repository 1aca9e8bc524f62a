/* SPDX-License-Identifier: Apache-2.0 */
/* The bias gradient (helpers.h): one summation order for every ISA level,
 * thread count and algorithm. */
#include "helpers.h"
#include "simd.h"

typedef double vd8 __attribute__((vector_size(64)));
typedef float vf8u __attribute__((vector_size(32), aligned(4), may_alias));

/* Channels c0 .. c0 + cnt - 1 (cnt <= SUM_CH) of n images of c_total
 * planes of hw floats. Per channel, lane l of its accumulator adds the
 * elements i % 8 == l in order, image after image: the float-to-double
 * conversion is exact, each lane does the same double adds in the same
 * order, and lanes never mix before the final fold, so every clone (and
 * any thread count) gives the bits of the plain scalar loop. The channels of a call
 * are summed side by side only so that their chains overlap in time. */
#define SUM_CH 4
static inline LC_INLINE void channel_sum_body(const float *y, float *sum,
                                              int64_t n, int64_t c_total,
                                              int64_t hw, int64_t c0,
                                              int64_t cnt) {
  vd8 acc[SUM_CH];
  const float *s[SUM_CH];
  LC_UNROLL
  for (int k = 0; k < SUM_CH; k++) acc[k] = (vd8){0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t img = 0; img < n; img++) {
    LC_UNROLL
    for (int k = 0; k < SUM_CH; k++)
      s[k] = y + ((size_t)img * (size_t)c_total +
                  (size_t)(c0 + (k < cnt ? k : cnt - 1))) * (size_t)hw;
    int64_t i = 0;
    if (cnt == SUM_CH) {
      for (; i + 8 <= hw; i += 8) {
        LC_UNROLL
        for (int k = 0; k < SUM_CH; k++)
          acc[k] += __builtin_convertvector(*(const vf8u *)(s[k] + i), vd8);
      }
    } else {
      for (; i + 8 <= hw; i += 8)
        for (int k = 0; k < cnt; k++)
          acc[k] += __builtin_convertvector(*(const vf8u *)(s[k] + i), vd8);
    }
    for (; i < hw; i++)
      for (int k = 0; k < cnt; k++) acc[k][i & 7] += (double)s[k][i];
  }
  for (int k = 0; k < cnt; k++)
    sum[c0 + k] = (float)(((acc[k][0] + acc[k][1]) + (acc[k][2] + acc[k][3])) +
                          ((acc[k][4] + acc[k][5]) + (acc[k][6] + acc[k][7])));
}

LC_ISA_DISPATCH(channel_sum_isa,
                (const float *y, float *sum, int64_t n, int64_t c_total,
                 int64_t hw, int64_t c0, int64_t cnt),
                (y, sum, n, c_total, hw, c0, cnt), channel_sum_body)

/* Below this many elements a pass runs on one thread (as the epilogue's). */
#define SUM_MIN_PARALLEL 65536

void cpu_sum_channels(const float *y, float *sum, int64_t n, int64_t c,
                      int64_t hw, int threads) {
  if (n * c * hw < SUM_MIN_PARALLEL) threads = 1;
  const int64_t tasks = (c + SUM_CH - 1) / SUM_CH;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t t = 0; t < tasks; t++) {
    const int64_t c0 = t * SUM_CH;
    channel_sum_isa(y, sum, n, c, hw, c0, c - c0 < SUM_CH ? c - c0 : SUM_CH);
  }
}

void cpu_bias_grad(const conv_problem *p, const float *dy, float *db,
                   int threads) {
  cpu_sum_channels(dy, db, p->n, p->c_out, p->h_out * p->w_out, threads);
}
