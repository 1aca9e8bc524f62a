/* SPDX-License-Identifier: Apache-2.0 */
/* The float64 reference. See ref.h. */
#include <string.h>

#include "conv_plugin.h" /* conv_pad_source() */
#include "ref.h"

int ref_resolve(const conv_desc *d, ref_geom *g) {
  memset(g, 0, sizeof *g);
  g->d = *d;
  if (d->n < 0 || d->c_in < 1 || d->h < 1 || d->w < 1 || d->c_out < 1)
    return 0;
  for (int a = 0; a < 2; a++)
    if (d->kernel[a] < 1 || d->stride[a] < 1 || d->dilation[a] < 1) return 0;
  if (d->groups < 1 || d->c_in % d->groups || d->c_out % d->groups) return 0;
  int64_t ext[2];
  for (int a = 0; a < 2; a++) ext[a] = d->dilation[a] * (d->kernel[a] - 1);
  switch (d->padding) {
    case CONV_PADDING_EXPLICIT:
      for (int i = 0; i < 4; i++) {
        if (d->pad[i] < 0) return 0;
        g->pads[i] = d->pad[i];
      }
      break;
    case CONV_PADDING_SAME:
      if (d->stride[0] != 1 || d->stride[1] != 1) return 0;
      for (int a = 0; a < 2; a++) {
        int64_t small = ext[a] / 2, big = ext[a] - small;
        /* PyTorch puts the odd one after, SciPy (true convolution) before. */
        g->pads[2 * a] = d->flip_kernel ? big : small;
        g->pads[2 * a + 1] = d->flip_kernel ? small : big;
      }
      break;
    case CONV_PADDING_VALID:
      break;
    case CONV_PADDING_FULL:
      for (int a = 0; a < 2; a++) g->pads[2 * a] = g->pads[2 * a + 1] = ext[a];
      break;
    default:
      return 0;
  }
  for (int i = 0; i < 4; i++) {
    int64_t size = i < 2 ? d->h : d->w;
    switch (d->padding_mode) {
      case CONV_PAD_ZEROS:
      case CONV_PAD_REPLICATE:
        break;
      case CONV_PAD_REFLECT:
        if (g->pads[i] >= size) return 0;
        break;
      case CONV_PAD_CIRCULAR:
      case CONV_PAD_SYMMETRIC:
        if (g->pads[i] > size) return 0;
        break;
      default:
        return 0;
    }
  }
  int64_t ph = d->h + g->pads[0] + g->pads[1] - ext[0] - 1;
  int64_t pw = d->w + g->pads[2] + g->pads[3] - ext[1] - 1;
  if (ph < 0 || pw < 0) return 0;
  g->h_out = ph / d->stride[0] + 1;
  g->w_out = pw / d->stride[1] + 1;
  return 1;
}

size_t ref_x_count(const ref_geom *g) {
  return (size_t)(g->d.n * g->d.c_in * g->d.h * g->d.w);
}
size_t ref_w_count(const ref_geom *g) {
  return (size_t)(g->d.c_out * (g->d.c_in / g->d.groups) * g->d.kernel[0] *
                  g->d.kernel[1]);
}
size_t ref_y_count(const ref_geom *g) {
  return (size_t)(g->d.n * g->d.c_out * g->h_out * g->w_out);
}

/* The one loop nest all four operations share. For every output element
 * (n, co, oh, ow) and every tap (ci, kh, kw) that reads a real (non-zero
 * padded) input element, visit() gets the flat indices of x, w and y. */
typedef void (*tap_fn)(void *ctx, size_t xi, size_t wi, size_t yi);

static void for_each_tap(const ref_geom *g, tap_fn visit, void *ctx) {
  const conv_desc *d = &g->d;
  const int64_t cig = d->c_in / d->groups, cog = d->c_out / d->groups;
  const int64_t kh_n = d->kernel[0], kw_n = d->kernel[1];
  for (int64_t n = 0; n < d->n; n++)
    for (int64_t co = 0; co < d->c_out; co++) {
      const int64_t grp = co / cog;
      for (int64_t oh = 0; oh < g->h_out; oh++)
        for (int64_t ow = 0; ow < g->w_out; ow++) {
          const size_t yi =
              (size_t)(((n * d->c_out + co) * g->h_out + oh) * g->w_out + ow);
          for (int64_t ci = 0; ci < cig; ci++)
            for (int64_t kh = 0; kh < kh_n; kh++) {
              int64_t ih = conv_pad_source(
                  oh * d->stride[0] - g->pads[0] + kh * d->dilation[0], d->h,
                  d->padding_mode);
              if (ih < 0) continue;
              for (int64_t kw = 0; kw < kw_n; kw++) {
                int64_t iw = conv_pad_source(
                    ow * d->stride[1] - g->pads[2] + kw * d->dilation[1], d->w,
                    d->padding_mode);
                if (iw < 0) continue;
                /* True convolution reads the kernel rotated 180 degrees. */
                int64_t wh = d->flip_kernel ? kh_n - 1 - kh : kh;
                int64_t ww = d->flip_kernel ? kw_n - 1 - kw : kw;
                const int64_t c = grp * cig + ci;
                const size_t xi =
                    (size_t)(((n * d->c_in + c) * d->h + ih) * d->w + iw);
                const size_t wi =
                    (size_t)(((co * cig + ci) * kh_n + wh) * kw_n + ww);
                visit(ctx, xi, wi, yi);
              }
            }
        }
    }
}

typedef struct tap_args {
  const float *a, *b; /* the two factors, indexed as the op needs */
  double *out;
} tap_args;

static void fwd_tap(void *ctx, size_t xi, size_t wi, size_t yi) {
  tap_args *t = ctx;
  t->out[yi] += (double)t->a[xi] * (double)t->b[wi];
}
static void bwd_data_tap(void *ctx, size_t xi, size_t wi, size_t yi) {
  tap_args *t = ctx; /* a = dy, b = w */
  t->out[xi] += (double)t->a[yi] * (double)t->b[wi];
}
static void bwd_weight_tap(void *ctx, size_t xi, size_t wi, size_t yi) {
  tap_args *t = ctx; /* a = x, b = dy */
  t->out[wi] += (double)t->a[xi] * (double)t->b[yi];
}

void ref_forward(const ref_geom *g, const float *x, const float *w,
                 const float *b, double *y) {
  const size_t plane = (size_t)(g->h_out * g->w_out);
  for (int64_t n = 0; n < g->d.n; n++)
    for (int64_t co = 0; co < g->d.c_out; co++)
      for (size_t i = 0; i < plane; i++)
        y[(size_t)(n * g->d.c_out + co) * plane + i] =
            (g->d.has_bias && b != NULL) ? (double)b[co] : 0.0;
  tap_args t = {x, w, y};
  for_each_tap(g, fwd_tap, &t);
}

void ref_backward_data(const ref_geom *g, const float *dy, const float *w,
                       double *dx) {
  memset(dx, 0, ref_x_count(g) * sizeof *dx);
  tap_args t = {dy, w, dx};
  for_each_tap(g, bwd_data_tap, &t);
}

void ref_backward_weight(const ref_geom *g, const float *x, const float *dy,
                         double *dw) {
  memset(dw, 0, ref_w_count(g) * sizeof *dw);
  tap_args t = {x, dy, dw};
  for_each_tap(g, bwd_weight_tap, &t);
}

void ref_backward_bias(const ref_geom *g, const float *dy, double *db) {
  const size_t plane = (size_t)(g->h_out * g->w_out);
  for (int64_t co = 0; co < g->d.c_out; co++) db[co] = 0.0;
  for (int64_t n = 0; n < g->d.n; n++)
    for (int64_t co = 0; co < g->d.c_out; co++)
      for (size_t i = 0; i < plane; i++)
        db[co] += (double)dy[(size_t)(n * g->d.c_out + co) * plane + i];
}
