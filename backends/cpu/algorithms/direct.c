/* SPDX-License-Identifier: Apache-2.0 */
/* The direct algorithm: loop nests over output (forward), input (backward
 * data) or weight (backward weight) planes, valid for every problem. Each
 * task owns its output plane, so no two threads ever write one element, and
 * every element is accumulated in a fixed order. It is the default where a
 * GEMM is a poor fit: depthwise and other groups with few channels each.
 *
 * The inner loops are axpys / dot products over a row, split per tap into
 * the interior range (no padding: source column ow * stride + off) and the
 * border (through the padding map): the plane kernels of
 * kernels/direct_planes.c, compiled once per ISA level (a clone per level
 * of the kernel table, cpu_isa.h). */
#ifdef HAVE_CONFIG_H
#  include "config.h"
#endif

#include <stdio.h>
#include <string.h>

#include "cpu_internal.h"
#include "cpu_isa.h"
#include "helpers.h"
#include "kernels.h"

static int direct_applies(const conv_problem *p, conv_op op, char *why,
                          size_t why_len) {
  if (op == CONV_OP_BACKWARD_BIAS) {
    if (why != NULL) snprintf(why, why_len, "direct does not serve bwd_bias");
    return 0;
  }
  return 1;
}

static size_t bwd_weight_slice(const conv_problem *p);

static size_t direct_workspace(const conv_problem *p, conv_op op,
                               int threads) {
  if (op != CONV_OP_BACKWARD_WEIGHT) return 0;
  return cpu_mul_size(cpu_align_up(bwd_weight_slice(p)), (size_t)threads);
}

/* ---------------------------------------------------------------- forward */

static int use_fwd_3x3(const conv_problem *p) {
  return p->kh == 3 && p->kw == 3 && (p->stride_w == 1 || p->stride_w == 2) &&
         p->w <= LC_DIRECT_3X3_MAX_W;
}

static void direct_forward(const cpu_run *r, const cpu_tensors *t) {
  const conv_problem *p = r->p;
  const cpu_maps *m = r->state;
  const int64_t cin_g = p->c_in / p->groups, cout_g = p->c_out / p->groups;
  const int64_t planes = p->n * p->c_out;
  const size_t hw = (size_t)(p->h * p->w), ohw = (size_t)(p->h_out * p->w_out);
  const size_t wsz = (size_t)(cin_g * p->kh * p->kw);
  const int fused = use_fwd_3x3(p);
#pragma omp parallel for num_threads(r->threads) schedule(dynamic, 1)
  for (int64_t nc = 0; nc < planes; nc++) {
    const int64_t n = nc / p->c_out, co = nc % p->c_out, g = co / cout_g;
    const float *x = t->x + (size_t)(n * p->c_in + g * cin_g) * hw;
    const float *w = t->w + (size_t)co * wsz;
    const float bias = t->b != NULL ? t->b[co] : 0.0f;
    float *y = t->y + (size_t)nc * ohw;
    if (fused)
      lc_kern->direct_fwd_plane_3x3(p, m, x, w, bias, y);
    else
      lc_kern->direct_fwd_plane(p, m, x, w, bias, y);
    cpu_activate_tile(p, y, 1, 0, (int64_t)ohw, 1);
  }
}

/* ---------------------------------------------------------- backward data */

static void direct_backward_data(const cpu_run *r, const cpu_tensors *t) {
  const conv_problem *p = r->p;
  const cpu_maps *m = r->state;
  const int64_t cin_g = p->c_in / p->groups, cout_g = p->c_out / p->groups;
  const int64_t planes = p->n * p->c_in;
  const size_t hw = (size_t)(p->h * p->w), ohw = (size_t)(p->h_out * p->w_out);
  const size_t khw = (size_t)(p->kh * p->kw);
#pragma omp parallel for num_threads(r->threads) schedule(dynamic, 1)
  for (int64_t nc = 0; nc < planes; nc++) {
    const int64_t n = nc / p->c_in, ci = nc % p->c_in, g = ci / cin_g,
                  c = ci % cin_g;
    lc_kern->direct_bwd_data_plane(p, m, t->dy + (size_t)(n * p->c_out + g * cout_g) * ohw,
                   t->w + ((size_t)(g * cout_g) * (size_t)cin_g + (size_t)c) * khw,
                   t->dx + (size_t)nc * hw);
    cpu_dx_epilogue_tile(r, t->b, ci, t->dx + (size_t)nc * hw, 1, 0,
                         (int64_t)hw, 1);
  }
}

/* -------------------------------------------------------- backward weight */

/* Backward weight keeps, per thread, one float row of partial sums per tap
 * (kh * kw * w_out floats) when that is at most ROW_ACC_MAX floats: the
 * products are added element-wise (vectorised, no horizontal sum per row)
 * and each tap's row is summed in float64 at the end. Larger problems fall
 * back to one dot product per row and tap, summed in float64. */
#define ROW_ACC_MAX ((int64_t)256 * 1024)

static int use_row_acc(const conv_problem *p) {
  return p->kh * p->kw * p->w_out <= ROW_ACC_MAX;
}

static size_t bwd_weight_slice(const conv_problem *p) {
  if (use_row_acc(p))
    return cpu_mul_size(cpu_mul_size((size_t)p->kh, (size_t)p->kw),
                        cpu_mul_size((size_t)p->w_out, sizeof(float)));
  return cpu_mul_size(cpu_mul_size((size_t)p->kh, (size_t)p->kw), sizeof(double));
}

static void direct_backward_weight(const cpu_run *r, const cpu_tensors *t) {
  const conv_problem *p = r->p;
  const cpu_maps *m = r->state;
  const int64_t cin_g = p->c_in / p->groups, cout_g = p->c_out / p->groups;
  const int64_t pairs = p->c_out * cin_g;
  const size_t hw = (size_t)(p->h * p->w), ohw = (size_t)(p->h_out * p->w_out);
  const size_t khw = (size_t)(p->kh * p->kw);
  const size_t slice = bwd_weight_slice(p);
  const int rows = use_row_acc(p);
#pragma omp parallel for num_threads(r->threads) schedule(dynamic, 1)
  for (int64_t pc = 0; pc < pairs; pc++) {
    const int64_t co = pc / cin_g, c = pc % cin_g, g = co / cout_g;
    const float *x = t->x + (size_t)(g * cin_g + c) * hw;
    const float *dy = t->dy + (size_t)co * ohw;
    void *scratch = cpu_ws_slice(r, slice, cpu_thread_id());
    if (rows)
      lc_kern->direct_bwd_weight_pair_rows(p, m, x, dy, t->dw + (size_t)pc * khw, scratch);
    else
      lc_kern->direct_bwd_weight_pair_dot(p, m, x, dy, t->dw + (size_t)pc * khw, scratch);
  }
}

static conv_status direct_run(const cpu_run *r, const cpu_tensors *t,
                              conv_err *err) {
  switch (r->op) {
    case CONV_OP_FORWARD:
      direct_forward(r, t);
      break;
    case CONV_OP_BACKWARD_DATA:
      direct_backward_data(r, t);
      break;
    case CONV_OP_BACKWARD_WEIGHT:
      direct_backward_weight(r, t);
      break;
    default:
      return conv_err_set(err, CONV_ERROR_INTERNAL,
                          "cpu: direct: op %d not served", (int)r->op);
  }
  return CONV_SUCCESS;
}

const cpu_algo cpu_algo_direct = {
    .name = "direct",
    .applies = direct_applies,
    .workspace_bytes = direct_workspace,
    .prepare = cpu_maps_prepare,
    .release = cpu_maps_release,
    .run = direct_run,
    .fuses_activation = 1,
    .fuses_dx_epilogue = 1,
};
