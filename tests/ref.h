/* SPDX-License-Identifier: Apache-2.0 */
/* The test oracle: convolution and its gradients as plain float64 loop nests.
 *
 * Nothing here is clever on purpose. Every output element is the sum over
 * every tap that reaches it, read through conv_pad_source() (the same border
 * rule the backends use), so the reference can be checked by reading it.
 * Backward passes are written as the adjoint of the forward loop nest: each
 * forward product x*w scatters dy into the x (or w) element it read. */
#ifndef CONV_TEST_REF_H
#define CONV_TEST_REF_H

#include <stddef.h>
#include <stdint.h>

#include "conv.h"

/* A descriptor with its resolved geometry, as the reference sees it. */
typedef struct ref_geom {
  conv_desc d;
  int64_t pads[4]; /* top, bottom, left, right */
  int64_t h_out, w_out;
} ref_geom;

/* Resolves d the way PyTorch does (independently of libconv): pads for
 * explicit/same/valid/full and the output size. Returns 0 if the
 * descriptor is invalid by the rules in conv.h, 1 otherwise. */
int ref_resolve(const conv_desc *d, ref_geom *g);

/* Element counts of x, w, b (c_out) and y. */
size_t ref_x_count(const ref_geom *g);
size_t ref_w_count(const ref_geom *g);
size_t ref_y_count(const ref_geom *g);

/* y = conv(x, w) (+ b if has_bias and b != NULL). */
void ref_forward(const ref_geom *g, const float *x, const float *w,
                 const float *b, double *y);
/* dx = d(sum y*dy)/dx. */
void ref_backward_data(const ref_geom *g, const float *dy, const float *w,
                       double *dx);
/* dw = d(sum y*dy)/dw. */
void ref_backward_weight(const ref_geom *g, const float *x, const float *dy,
                         double *dw);
/* db[co] = sum of dy over n, h_out, w_out. */
void ref_backward_bias(const ref_geom *g, const float *dy, double *db);

#endif /* CONV_TEST_REF_H */
