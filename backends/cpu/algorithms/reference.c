/* SPDX-License-Identifier: Apache-2.0 */
/* The reference algorithm: a plain loop nest accumulating in float64, valid
 * for every problem, never chosen by the heuristic (score < 0) but available
 * through CONV_ALGO=reference as a slow oracle. */
#ifdef HAVE_CONFIG_H
#  include "config.h"
#endif

#include <stdio.h>
#include <string.h>

#include "cpu_internal.h"
#include "helpers.h"

static int ref_applies(const conv_problem *p, conv_op op, char *why,
                       size_t why_len) {
  return op != CONV_OP_BACKWARD_BIAS;
}

/* backward_data keeps one float64 plane per thread. */
static size_t ref_workspace(const conv_problem *p, conv_op op, int threads) {
  if (op != CONV_OP_BACKWARD_DATA) return 0;
  size_t plane = cpu_align_up(
      cpu_mul_size(cpu_mul_size((size_t)p->h, (size_t)p->w), sizeof(double)));
  return cpu_mul_size(plane, (size_t)threads);
}

static void ref_forward(const conv_problem *p, const cpu_maps *m,
                        const cpu_tensors *t, int threads) {
  const int64_t cin_g = p->c_in / p->groups, cout_g = p->c_out / p->groups;
  const int64_t planes = p->n * p->c_out;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t nc = 0; nc < planes; nc++) {
    const int64_t n = nc / p->c_out, co = nc % p->c_out, g = co / cout_g;
    float *y = t->y + (size_t)nc * (size_t)(p->h_out * p->w_out);
    for (int64_t oh = 0; oh < p->h_out; oh++) {
      for (int64_t ow = 0; ow < p->w_out; ow++) {
        double acc = 0.0;
        for (int64_t c = 0; c < cin_g; c++) {
          const float *x =
              t->x + (size_t)(n * p->c_in + g * cin_g + c) * (size_t)(p->h * p->w);
          const float *w = t->w + (size_t)(co * cin_g + c) * (size_t)(p->kh * p->kw);
          for (int64_t a = 0; a < p->kh; a++) {
            int64_t r = m->row[a * p->h_out + oh];
            if (r < 0) continue;
            for (int64_t b = 0; b < p->kw; b++) {
              int64_t s = m->col[b * p->w_out + ow];
              if (s < 0) continue;
              acc += (double)w[a * p->kw + b] * (double)x[r * p->w + s];
            }
          }
        }
        if (t->b != NULL) acc += (double)t->b[co];
        y[oh * p->w_out + ow] = (float)acc;
      }
    }
  }
}

static void ref_backward_data(const conv_problem *p, const cpu_maps *m,
                              const cpu_tensors *t, const cpu_run *r) {
  const int64_t cin_g = p->c_in / p->groups, cout_g = p->c_out / p->groups;
  const int64_t planes = p->n * p->c_in;
  const size_t hw = (size_t)(p->h * p->w);
  const size_t slice = hw * sizeof(double);
#pragma omp parallel for num_threads(r->threads) schedule(dynamic, 1)
  for (int64_t nc = 0; nc < planes; nc++) {
    const int64_t n = nc / p->c_in, ci = nc % p->c_in, g = ci / cin_g,
                  c = ci % cin_g;
    double *acc = cpu_ws_slice(r, slice, cpu_thread_id());
    for (size_t i = 0; i < hw; i++) acc[i] = 0.0;
    for (int64_t o = 0; o < cout_g; o++) {
      const int64_t co = g * cout_g + o;
      const float *dy =
          t->dy + (size_t)(n * p->c_out + co) * (size_t)(p->h_out * p->w_out);
      const float *w = t->w + (size_t)(co * cin_g + c) * (size_t)(p->kh * p->kw);
      for (int64_t oh = 0; oh < p->h_out; oh++)
        for (int64_t ow = 0; ow < p->w_out; ow++)
          for (int64_t a = 0; a < p->kh; a++) {
            int64_t rr = m->row[a * p->h_out + oh];
            if (rr < 0) continue;
            for (int64_t b = 0; b < p->kw; b++) {
              int64_t s = m->col[b * p->w_out + ow];
              if (s < 0) continue;
              acc[rr * p->w + s] +=
                  (double)w[a * p->kw + b] * (double)dy[oh * p->w_out + ow];
            }
          }
    }
    float *dx = t->dx + (size_t)nc * hw;
    for (size_t i = 0; i < hw; i++) dx[i] = (float)acc[i];
  }
}

static void ref_backward_weight(const conv_problem *p, const cpu_maps *m,
                                const cpu_tensors *t, int threads) {
  const int64_t cin_g = p->c_in / p->groups, cout_g = p->c_out / p->groups;
  const int64_t count = p->c_out * cin_g * p->kh * p->kw;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 16)
  for (int64_t idx = 0; idx < count; idx++) {
    const int64_t b = idx % p->kw, a = (idx / p->kw) % p->kh,
                  c = (idx / (p->kw * p->kh)) % cin_g,
                  co = idx / (p->kw * p->kh * cin_g), g = co / cout_g;
    double acc = 0.0;
    for (int64_t n = 0; n < p->n; n++) {
      const float *x =
          t->x + (size_t)(n * p->c_in + g * cin_g + c) * (size_t)(p->h * p->w);
      const float *dy =
          t->dy + (size_t)(n * p->c_out + co) * (size_t)(p->h_out * p->w_out);
      for (int64_t oh = 0; oh < p->h_out; oh++) {
        int64_t rr = m->row[a * p->h_out + oh];
        if (rr < 0) continue;
        for (int64_t ow = 0; ow < p->w_out; ow++) {
          int64_t s = m->col[b * p->w_out + ow];
          if (s < 0) continue;
          acc += (double)dy[oh * p->w_out + ow] * (double)x[rr * p->w + s];
        }
      }
    }
    t->dw[idx] = (float)acc;
  }
}

static conv_status ref_run(const cpu_run *r, const cpu_tensors *t,
                           conv_err *err) {
  const cpu_maps *m = r->state;
  switch (r->op) {
    case CONV_OP_FORWARD:
      ref_forward(r->p, m, t, r->threads);
      break;
    case CONV_OP_BACKWARD_DATA:
      ref_backward_data(r->p, m, t, r);
      break;
    case CONV_OP_BACKWARD_WEIGHT:
      ref_backward_weight(r->p, m, t, r->threads);
      break;
    default:
      return conv_err_set(err, CONV_ERROR_INTERNAL,
                          "cpu: reference: op %d not served", (int)r->op);
  }
  return CONV_SUCCESS;
}

const cpu_algo cpu_algo_reference = {
    .name = "reference",
    .applies = ref_applies,
    .workspace_bytes = ref_workspace,
    .prepare = cpu_maps_prepare,
    .release = cpu_maps_release,
    .run = ref_run,
};
