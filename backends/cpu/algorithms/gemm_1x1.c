/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gemm_1x1: 1x1 stride-1 unpadded convolution (forward and backward data)
 * as one GEMM per image, group and panel of LC_GEMM_NR positions, straight
 * on the NCHW tensors (no copies): the weights are packed once per call
 * (lc_gemm_pack_a), then lc_gemm_panel (kernels/gemm.c) runs each panel.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cpu_internal.h"
#include "helpers.h"
#include "kernels.h"

static int g1_applies(const conv_problem *p, conv_op op, char *why,
                      size_t why_len) {
  if (op != CONV_OP_FORWARD && op != CONV_OP_BACKWARD_DATA) {
    snprintf(why, why_len, "only forward and backward-data");
    return 0;
  }
  if (p->kh != 1 || p->kw != 1 || p->stride_h != 1 || p->stride_w != 1 ||
      p->pad_t != 0 || p->pad_b != 0 || p->pad_l != 0 || p->pad_r != 0) {
    snprintf(why, why_len, "needs a 1x1 kernel, stride 1, no padding");
    return 0;
  }
  return 1;
}

/* m x k of the GEMM per group: forward c_out/g x c_in/g, backward-data the
 * transpose. */
static void g1_dims(const conv_problem *p, conv_op op, int64_t *m,
                    int64_t *k) {
  int64_t cig = p->c_in / p->groups, cog = p->c_out / p->groups;
  *m = op == CONV_OP_FORWARD ? cog : cig;
  *k = op == CONV_OP_FORWARD ? cig : cog;
}

static size_t g1_tmp_floats(int64_t m, int64_t k) {
  return (size_t)(m + k) * LC_GEMM_NR;
}

static size_t g1_workspace(const conv_problem *p, conv_op op, int threads) {
  int64_t m, k;
  g1_dims(p, op, &m, &k);
  size_t a = cpu_align_up(cpu_mul_size(
      cpu_mul_size(lc_gemm_packed_a_floats(m, k), (size_t)p->groups),
      sizeof(float)));
  size_t t = cpu_align_up(cpu_mul_size(g1_tmp_floats(m, k), sizeof(float)));
  return cpu_add_size(a, cpu_mul_size(t, (size_t)threads));
}

static conv_status g1_run(const cpu_run *r, const cpu_tensors *t,
                          conv_err *err) {
  const conv_problem *p = r->p;
  if (r->op != CONV_OP_FORWARD && r->op != CONV_OP_BACKWARD_DATA)
    return conv_err_set(err, CONV_ERROR_UNSUPPORTED,
                        "gemm_1x1: op %d is not served", (int)r->op);
  const int fwd = r->op == CONV_OP_FORWARD;
  int64_t m, k;
  g1_dims(p, r->op, &m, &k);
  const int64_t cig = p->c_in / p->groups, cog = p->c_out / p->groups;
  const int64_t hw = p->h * p->w;
  const size_t apsz = lc_gemm_packed_a_floats(m, k);
  const size_t abytes = cpu_align_up(
      cpu_mul_size(cpu_mul_size(apsz, (size_t)p->groups), sizeof(float)));
  const size_t tbytes = cpu_align_up(g1_tmp_floats(m, k) * sizeof(float));
  float *ap = (float *)r->ws;
  const int64_t panels = (hw + LC_GEMM_NR - 1) / LC_GEMM_NR;
  const int64_t tasks = p->n * p->groups * panels;
  const float *in = fwd ? t->x : t->dy;
  float *out = fwd ? t->y : t->dx;
  const int64_t c_src = fwd ? p->c_in : p->c_out;
  const int64_t c_dst = fwd ? p->c_out : p->c_in;
#pragma omp parallel num_threads(r->threads)
  {
    float *tmp = (float *)((char *)r->ws + abytes +
                           tbytes * (size_t)cpu_thread_id());
#pragma omp for schedule(static)
    for (int64_t g = 0; g < p->groups; g++) {
      /* forward A = W[g] (cog x cig); backward-data A = W[g]^T */
      const float *wg = t->w + (size_t)(g * cog * cig);
      if (fwd)
        lc_gemm_pack_a(wg, cig, 1, m, k, ap + (size_t)g * apsz);
      else
        lc_gemm_pack_a(wg, 1, cig, m, k, ap + (size_t)g * apsz);
    }
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; task++) {
      int64_t pn = task % panels, rest = task / panels;
      int64_t g = rest % p->groups, n = rest / p->groups;
      int64_t j0 = pn * LC_GEMM_NR;
      int64_t nc = hw - j0 < LC_GEMM_NR ? hw - j0 : LC_GEMM_NR;
      const float *b = in + (size_t)(n * c_src + g * k) * (size_t)hw + (size_t)j0;
      float *c = out + (size_t)(n * c_dst + g * m) * (size_t)hw + (size_t)j0;
      lc_gemm_panel(ap + (size_t)g * apsz, m, k, b, hw, c, hw, nc,
                    fwd && t->b != NULL ? t->b + g * m : NULL, tmp);
      if (fwd) {
        cpu_activate_tile(p, c, m, hw, nc, 1);
      } else if (r->dx_epilogue) {
        for (int64_t i = 0; i < m; i++)
          cpu_dx_epilogue_tile(r, t->b, g * m + i, c + (size_t)i * (size_t)hw,
                               1, 0, nc, 1);
      }
    }
  }
  return CONV_SUCCESS;
}

const cpu_algo cpu_algo_gemm_1x1 = {
    .name = "gemm_1x1",
    .applies = g1_applies,
    .workspace_bytes = g1_workspace,
    .run = g1_run,
    .fuses_activation = 1,
    .fuses_dx_epilogue = 1,
};
