/* SPDX-License-Identifier: Apache-2.0 */
/* Pooling on the cpu backend: PyTorch 1.13's CPU rules (nn.MaxPool2d,
 * nn.AvgPool2d, nn.AdaptiveAvgPool2d).
 *
 * Max pooling:
 * Each window scans its valid positions row by row from maxval = -inf and
 * takes a value if (val > maxval || isnan(val)): padded positions never win,
 * ties go to the first maximum, a window holding NaN gives NaN and the last
 * NaN's index. A window whose taps all fall in the padding (possible only with
 * dilation) keeps PyTorch's starting index (first row/column at or past 0)
 * and -inf; its index may point outside the window (even the plane), and
 * backward drops its dy (PyTorch would add it there).
 *
 * Forward runs one task per (plane, output row); backward one task per plane,
 * adding dy in output raster order (as PyTorch's scatter does), so results are
 * the same bits whatever the thread count. */
#ifdef HAVE_CONFIG_H
#  include "config.h"
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"

typedef struct cpu_pool_plan {
  conv_pool_problem p;
  int threads;
} cpu_pool_plan;

conv_status cpu_pool_plan_create(void *device, const conv_pool_problem *problem,
                                 const conv_plan_options *options, void **plan,
                                 conv_err *err);
void cpu_pool_plan_destroy(void *plan);
conv_status cpu_maxpool_forward(void *plan, const void *x, void *y,
                                void *indices, conv_err *err);
conv_status cpu_maxpool_backward(void *plan, const void *x, const void *dy,
                                 void *dx, conv_err *err);
conv_status cpu_avgpool_forward(void *plan, const void *x, void *y,
                                conv_err *err);
conv_status cpu_avgpool_backward(void *plan, const void *dy, void *dx,
                                 conv_err *err);

conv_status cpu_pool_plan_create(void *device, const conv_pool_problem *problem,
                                 const conv_plan_options *options, void **plan,
                                 conv_err *err) {
  (void)device;
  cpu_pool_plan *pl = calloc(1, sizeof *pl);
  if (pl == NULL)
    return conv_err_set(err, CONV_ERROR_OUT_OF_MEMORY,
                        "cpu: pool_plan_create: %zu bytes: out of memory",
                        sizeof *pl);
  pl->p = *problem;
  pl->threads = options != NULL && options->num_threads > 0
                    ? options->num_threads
                    : cpu_available_threads();
  *plan = pl;
  return CONV_SUCCESS;
}

void cpu_pool_plan_destroy(void *plan) { free(plan); }

/* The chosen element of window (oh, ow) of plane xp: its flat index h*W+w
 * (PyTorch's rule, see above) and value; *empty is 1 if no tap of the window
 * is inside the input. */
static inline int64_t pool_argmax(const conv_pool_problem *p, const float *xp,
                                  int64_t oh, int64_t ow, float *value,
                                  int *empty) {
  int64_t h0 = oh * p->stride_h - p->pad_h;
  int64_t w0 = ow * p->stride_w - p->pad_w;
  int64_t h1 = h0 + (p->kh - 1) * p->dil_h + 1;
  int64_t w1 = w0 + (p->kw - 1) * p->dil_w + 1;
  if (h1 > p->h) h1 = p->h;
  if (w1 > p->w) w1 = p->w;
  while (h0 < 0) h0 += p->dil_h;
  while (w0 < 0) w0 += p->dil_w;
  int64_t best = h0 * p->w + w0;
  *empty = h0 >= h1 || w0 >= w1;
  float maxval = -INFINITY;
  for (int64_t ih = h0; ih < h1; ih += p->dil_h)
    for (int64_t iw = w0; iw < w1; iw += p->dil_w) {
      float v = xp[ih * p->w + iw];
      if (v > maxval || isnan(v)) {
        maxval = v;
        best = ih * p->w + iw;
      }
    }
  *value = maxval;
  return best;
}

conv_status cpu_maxpool_forward(void *plan, const void *x, void *y,
                                void *indices, conv_err *err) {
  (void)err;
  const cpu_pool_plan *pl = plan;
  const conv_pool_problem *p = &pl->p;
  const float *xs = x;
  float *ys = y;
  int64_t *is = indices;
  const int64_t rows = p->n * p->c * p->h_out;
  const int64_t plane = p->h * p->w;
#ifdef _OPENMP
#  pragma omp parallel for num_threads(pl->threads) schedule(static)
#endif
  for (int64_t r = 0; r < rows; r++) {
    const int64_t pc = r / p->h_out, oh = r % p->h_out;
    const float *xp = xs + pc * plane;
    float *yr = ys + r * p->w_out;
    int64_t *ir = is != NULL ? is + r * p->w_out : NULL;
    for (int64_t ow = 0; ow < p->w_out; ow++) {
      float v;
      int empty;
      int64_t k = pool_argmax(p, xp, oh, ow, &v, &empty);
      (void)empty;
      yr[ow] = v;
      if (ir != NULL) ir[ow] = k;
    }
  }
  return CONV_SUCCESS;
}

conv_status cpu_maxpool_backward(void *plan, const void *x, const void *dy,
                                 void *dx, conv_err *err) {
  (void)err;
  const cpu_pool_plan *pl = plan;
  const conv_pool_problem *p = &pl->p;
  const float *xs = x;
  const float *dys = dy;
  float *dxs = dx;
  const int64_t planes = p->n * p->c;
  const int64_t plane = p->h * p->w;
  const int64_t oplane = p->h_out * p->w_out;
#ifdef _OPENMP
#  pragma omp parallel for num_threads(pl->threads) schedule(static)
#endif
  for (int64_t pc = 0; pc < planes; pc++) {
    const float *xp = xs + pc * plane;
    const float *dyp = dys + pc * oplane;
    float *dxp = dxs + pc * plane;
    memset(dxp, 0, (size_t)plane * sizeof *dxp);
    for (int64_t oh = 0; oh < p->h_out; oh++)
      for (int64_t ow = 0; ow < p->w_out; ow++) {
        float v;
        int empty;
        int64_t k = pool_argmax(p, xp, oh, ow, &v, &empty);
        if (!empty) dxp[k] += dyp[oh * p->w_out + ow];
      }
  }
  return CONV_SUCCESS;
}

/* ---------------------------------------------------------- average pooling */

/* The in-range rows [*h0, *h1) and columns [*w0, *w1) of window (oh, ow) and
 * its divisor, by PyTorch's rules: AvgPool2d clips the window to the padded
 * input for count_include_pad, then to the input; AdaptiveAvgPool2d's window
 * is floor(o*H/OH) .. ceil((o+1)*H/OH). The window may be empty (then the
 * output is 0, as PyTorch). */
static inline float avg_window(const conv_pool_problem *p, int64_t oh,
                               int64_t ow, int64_t *h0, int64_t *h1,
                               int64_t *w0, int64_t *w1) {
  if (p->mode == CONV_POOL_ADAPTIVE_AVG) {
    *h0 = oh * p->h / p->h_out;
    *h1 = ((oh + 1) * p->h + p->h_out - 1) / p->h_out;
    *w0 = ow * p->w / p->w_out;
    *w1 = ((ow + 1) * p->w + p->w_out - 1) / p->w_out;
    return (float)((*h1 - *h0) * (*w1 - *w0));
  }
  int64_t a0 = oh * p->stride_h - p->pad_h, b0 = ow * p->stride_w - p->pad_w;
  int64_t a1 = a0 + p->kh, b1 = b0 + p->kw;
  if (a1 > p->h + p->pad_b) a1 = p->h + p->pad_b;
  if (b1 > p->w + p->pad_r) b1 = p->w + p->pad_r;
  const int64_t padded = (a1 - a0) * (b1 - b0);
  if (a0 < 0) a0 = 0;
  if (b0 < 0) b0 = 0;
  if (a1 > p->h) a1 = p->h;
  if (b1 > p->w) b1 = p->w;
  *h0 = a0; *h1 = a1; *w0 = b0; *w1 = b1;
  if (p->divisor_override > 0) return (float)p->divisor_override;
  if (p->count_include_pad) return (float)padded;
  return (float)((a1 - a0) * (b1 - b0));
}

conv_status cpu_avgpool_forward(void *plan, const void *x, void *y,
                                conv_err *err) {
  (void)err;
  const cpu_pool_plan *pl = plan;
  const conv_pool_problem *p = &pl->p;
  const float *xs = x;
  float *ys = y;
  const int64_t rows = p->n * p->c * p->h_out;
  const int64_t plane = p->h * p->w;
#ifdef _OPENMP
#  pragma omp parallel for num_threads(pl->threads) schedule(static)
#endif
  for (int64_t r = 0; r < rows; r++) {
    const int64_t pc = r / p->h_out, oh = r % p->h_out;
    const float *xp = xs + pc * plane;
    float *yr = ys + r * p->w_out;
    for (int64_t ow = 0; ow < p->w_out; ow++) {
      int64_t h0, h1, w0, w1;
      const float div = avg_window(p, oh, ow, &h0, &h1, &w0, &w1);
      if (h0 >= h1 || w0 >= w1) {
        yr[ow] = 0.0f;
        continue;
      }
      float sum = 0.0f;
      for (int64_t ih = h0; ih < h1; ih++)
        for (int64_t iw = w0; iw < w1; iw++) sum += xp[ih * p->w + iw];
      yr[ow] = sum / div;
    }
  }
  return CONV_SUCCESS;
}

conv_status cpu_avgpool_backward(void *plan, const void *dy, void *dx,
                                 conv_err *err) {
  (void)err;
  const cpu_pool_plan *pl = plan;
  const conv_pool_problem *p = &pl->p;
  const float *dys = dy;
  float *dxs = dx;
  const int64_t planes = p->n * p->c;
  const int64_t plane = p->h * p->w;
  const int64_t oplane = p->h_out * p->w_out;
#ifdef _OPENMP
#  pragma omp parallel for num_threads(pl->threads) schedule(static)
#endif
  for (int64_t pc = 0; pc < planes; pc++) {
    const float *dyp = dys + pc * oplane;
    float *dxp = dxs + pc * plane;
    memset(dxp, 0, (size_t)plane * sizeof *dxp);
    for (int64_t oh = 0; oh < p->h_out; oh++)
      for (int64_t ow = 0; ow < p->w_out; ow++) {
        int64_t h0, h1, w0, w1;
        const float div = avg_window(p, oh, ow, &h0, &h1, &w0, &w1);
        const float g = dyp[oh * p->w_out + ow] / div;
        for (int64_t ih = h0; ih < h1; ih++)
          for (int64_t iw = w0; iw < w1; iw++) dxp[ih * p->w + iw] += g;
      }
  }
  return CONV_SUCCESS;
}
