/* SPDX-License-Identifier: Apache-2.0 */
/*
 * direct_dw: depthwise convolution (groups == c_in == c_out), every op.
 *
 * One task per (n, channel) plane for forward and backward-data, one per
 * channel (looping over the batch in order) for backward-weight, so the
 * partition and every sum's order depend on the problem only. Each task
 * copies its input plane into a phase-split padded buffer (simd.h), which
 * handles every padding mode, stride and dilation with contiguous vector
 * loads. Workspace: one plane buffer (+ one dy plane) per thread.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"
#include "kernels.h"
#include "simd.h"

static int dw_applies(const conv_problem *p, conv_op op, char *why,
                      size_t why_len) {
  if (op == CONV_OP_BACKWARD_BIAS) {
    snprintf(why, why_len, "backward-bias is a plain reduction");
    return 0;
  }
  if (p->groups != p->c_in || p->c_out != p->c_in) {
    snprintf(why, why_len, "not depthwise (groups=%lld, c_in=%lld, c_out=%lld)",
             (long long)p->groups, (long long)p->c_in, (long long)p->c_out);
    return 0;
  }
  if (p->kh * p->kw > LC_DW_MAX_TAPS) {
    snprintf(why, why_len, "kernel %lldx%lld has more than %d taps",
             (long long)p->kh, (long long)p->kw, LC_DW_MAX_TAPS);
    return 0;
  }
  return 1;
}

/* The padded plane of a channel, for output blocks of LC_DW_V vectors. */
static lc_plane dw_plane(const conv_problem *p) {
  return lc_plane_for(p, 8, LC_DW_V * LC_VL);
}

static int64_t dw_dy_margin(const conv_problem *p);

/* The zero-padded fast path (dw_fwd_fused, kernels/depthwise.c) computes
 * the forward of q: zero padding, dilation 1, a 3x3 or 5x5 kernel, stride
 * 1 or 2 both ways. */
static int dw_fused_ok(const conv_problem *q) {
  return q->padding_mode == CONV_PAD_ZEROS && q->dil_h == 1 &&
         q->dil_w == 1 && q->kh == q->kw && (q->kh == 3 || q->kh == 5) &&
         q->stride_h == q->stride_w &&
         (q->stride_h == 1 || q->stride_h == 2);
}

/* Backward data at stride 1 is the forward of dy with the kernel rotated
 * 180 degrees and pads k - 1 - pad (each side): q, when the fast path
 * serves it. */
static int dw_bwd_as_fwd(const conv_problem *p, conv_problem *q) {
  if (p->stride_h != 1 || p->stride_w != 1 || p->dil_h != 1 ||
      p->dil_w != 1)
    return 0;
  *q = *p;
  q->h = p->h_out;
  q->w = p->w_out;
  q->h_out = p->h;
  q->w_out = p->w;
  q->pad_t = p->kh - 1 - p->pad_t;
  q->pad_b = p->kh - 1 - p->pad_b;
  q->pad_l = p->kw - 1 - p->pad_l;
  q->pad_r = p->kw - 1 - p->pad_r;
  q->has_bias = 0;
  q->activation = CONV_ACT_NONE;
  if (q->pad_t < 0 || q->pad_b < 0 || q->pad_l < 0 || q->pad_r < 0) return 0;
  return dw_fused_ok(q);
}

/* Row stride of a dy plane copy (bwd ops): a zero margin, then the row,
 * then zeros so that whole vectors can be read up to the plane width. */
static int64_t dw_dy_stride(const conv_problem *p) {
  lc_plane g = dw_plane(p);
  return dw_dy_margin(p) + lc_round_up(g.wq, LC_DW_V * LC_VL) + LC_DW_V * LC_VL;
}

/* Forward with horizontal stride 2 runs as stride 1 along the rows (the
 * plane is copied without a phase split, which costs more than the extra
 * FMAs), into a row buffer, keeping every second column. */
static conv_problem dw_fwd_cols1(const conv_problem *p) {
  conv_problem q = *p;
  q.stride_w = 1;
  q.w_out = (p->w_out - 1) * p->stride_w + 1;
  return q;
}

/* The dy rows of the zero-padded weight gradient: whole vectors, rows up
 * to a multiple of the kernel's row block (4). */
static int64_t dw_wg_ds(const conv_problem *p) {
  return lc_round_up(p->w_out, LC_VL);
}

static size_t dw_wg_dy_floats(const conv_problem *p) {
  return cpu_mul_size((size_t)lc_round_up(p->h_out, 4), (size_t)dw_wg_ds(p));
}

/* Backward data at stride 2 by output phase (dw_bwd_s2): dy with MT rows
 * above and 16 columns left (ml), rows of ds floats, zero around. */
static int dw_bwd_s2_ok(const conv_problem *p) {
  return p->stride_h == 2 && dw_fused_ok(p);
}

static int64_t dw_s2_mt(const conv_problem *p) { return (p->kh - 1) / 2; }

static int64_t dw_s2_nvq(const conv_problem *p) {
  return ((p->pad_l + p->w + 1) / 2 + LC_VL - 1) / LC_VL;
}

static int64_t dw_s2_ds(const conv_problem *p) {
  int64_t n = dw_s2_nvq(p) * LC_VL;
  return LC_VL + lc_round_up(n > p->w_out ? n : p->w_out, LC_VL);
}

static int64_t dw_s2_rows(const conv_problem *p) {
  int64_t m = (p->pad_t + p->h + 1) / 2 + 2;
  return dw_s2_mt(p) + (m > p->h_out ? m : p->h_out) + 1;
}

/* dyb, then two rows of tmp. */
static size_t dw_s2_floats(const conv_problem *p) {
  return cpu_add_size(cpu_mul_size((size_t)dw_s2_rows(p), (size_t)dw_s2_ds(p)),
                      cpu_mul_size(4, (size_t)(dw_s2_nvq(p) * LC_VL)));
}

static size_t dw_slice(const conv_problem *p, conv_op op) {
  if (op == CONV_OP_BACKWARD_DATA && dw_bwd_s2_ok(p))
    return cpu_align_up(cpu_mul_size(dw_s2_floats(p), sizeof(float)));
  conv_problem q;
  if (op == CONV_OP_FORWARD && dw_fused_ok(p))
    return cpu_align_up(cpu_mul_size(lc_plane_floats(dw_plane(p)), sizeof(float)));
  if (op == CONV_OP_BACKWARD_DATA && dw_bwd_as_fwd(p, &q))
    return cpu_align_up(cpu_mul_size(lc_plane_floats(dw_plane(&q)), sizeof(float)));
  if (op == CONV_OP_BACKWARD_WEIGHT && dw_fused_ok(p))
    return cpu_align_up(cpu_mul_size(
        cpu_add_size(lc_plane_floats(dw_plane(p)), dw_wg_dy_floats(p)),
        sizeof(float)));
  if (op == CONV_OP_FORWARD && p->stride_w == 2) {
    conv_problem q1 = dw_fwd_cols1(p);
    size_t f = cpu_add_size(lc_plane_floats(dw_plane(&q1)),
                            cpu_mul_size((size_t)q1.h_out, (size_t)q1.w_out + LC_VL));
    return cpu_align_up(cpu_mul_size(f, sizeof(float)));
  }
  size_t f = lc_plane_floats(dw_plane(p));
  if (op != CONV_OP_FORWARD)
    f = cpu_add_size(f, cpu_mul_size((size_t)p->h_out,
                                     (size_t)dw_dy_stride(p)));
  return cpu_align_up(cpu_mul_size(f, sizeof(float)));
}

static size_t dw_workspace(const conv_problem *p, conv_op op, int threads) {
  return cpu_mul_size(dw_slice(p, op), (size_t)threads);
}

/* ------------------------------------------------------------ forward */

/* The taps of channel c in kernel-offset order (flip applied). */
static void dw_taps(const conv_problem *p, const float *w, int64_t c,
                    float *wk) {
  const float *wc = w + c * p->kh * p->kw;
  for (int64_t i = 0; i < p->kh; i++)
    for (int64_t j = 0; j < p->kw; j++)
      wk[i * p->kw + j] = wc[cpu_tap(i, p->kh, p->flip_kernel) * p->kw +
                             cpu_tap(j, p->kw, p->flip_kernel)];
}

static void dw_forward_s2(const cpu_run *r, const cpu_tensors *t) {
  const conv_problem *p = r->p;
  const conv_problem q = dw_fwd_cols1(p);
  const lc_plane g = dw_plane(&q);
  const size_t slice = dw_slice(p, r->op);
  const int64_t tasks = p->n * p->c_in;
  const int64_t in_plane = p->h * p->w, out_plane = p->h_out * p->w_out;
#pragma omp parallel num_threads(r->threads)
  {
    float *buf = cpu_ws_slice(r, slice, cpu_thread_id());
    float *tmp = buf + lc_plane_floats(g);
    float wk[LC_DW_MAX_TAPS];
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < tasks; task++) {
      int64_t c = task % p->c_in;
      lc_plane_fill(&q, t->x + task * in_plane, g, buf);
      dw_taps(p, t->w, c, wk);
      /* q's output rows (q.w_out floats each) into tmp, then every
       * second column into y */
      lc_kern->dw_fwd_plane(&q, buf, g, wk, t->b != NULL ? t->b[c] : 0.0f, tmp);
      lc_kern->dw_keep_even(tmp, q.w_out, p->h_out, p->w_out, t->y + task * out_plane);
      cpu_activate_tile(p, t->y + task * out_plane, 1, 0, out_plane, 1);
    }
  }
}

/* Planes per scheduling chunk on the zero-padded paths: about 32K floats
 * of the larger plane, 2 to 32 planes, so that the plane a task prefetches
 * (the next one) is mostly its own thread's next task and small planes do
 * not pay a scheduling step each. The partition does not change results:
 * each plane is computed alone. */
static int dw_chunk(int64_t in_plane, int64_t out_plane) {
  int64_t f = in_plane > out_plane ? in_plane : out_plane;
  int64_t c = 32768 / (f > 0 ? f : 1);
  return (int)(c < 2 ? 2 : c > 32 ? 32 : c);
}

/* The fast path over the planes of a (forward-shaped) problem q: plane
 * `task` of x into plane `task` of y, with the taps of channel task % c
 * and bias b (or none); when rev (the backward data), the taps reversed
 * and dx's epilogue after (with the bias eb), else the activation. */
static void dw_fused_planes(const cpu_run *r, const conv_problem *q,
                            const float *x, const float *w, const float *b,
                            const float *eb, float *y, int rev) {
  const lc_plane g = dw_plane(q);
  const size_t slice = dw_slice(r->p, r->op);
  const int64_t tasks = q->n * q->c_in, taps = q->kh * q->kw;
  const int64_t in_plane = q->h * q->w, out_plane = q->h_out * q->w_out;
  const int chunk = dw_chunk(in_plane, out_plane);
#pragma omp parallel num_threads(r->threads)
  {
    float *buf = cpu_ws_slice(r, slice, cpu_thread_id());
    float wk[LC_DW_MAX_TAPS], wt[LC_DW_MAX_TAPS];
    /* Borders stay zero from plane to plane: only interiors are copied. */
    memset(buf, 0, lc_plane_floats(g) * sizeof(float));
#pragma omp for schedule(dynamic, chunk)
    for (int64_t task = 0; task < tasks; task++) {
      int64_t c = task % q->c_in;
      dw_taps(q, w, c, wk);
      if (rev)
        for (int64_t k = 0; k < taps; k++) wt[k] = wk[taps - 1 - k];
      lc_kern->dw_fwd_fused(q, x + task * in_plane,
                            task + 1 < tasks ? x + (task + 1) * in_plane : NULL,
                            buf, g, rev ? wt : wk,
                            b != NULL ? b[c] : 0.0f, y + task * out_plane);
      if (rev)
        cpu_dx_epilogue_tile(r, eb, c, y + task * out_plane, 1,
                             0, out_plane, 1);
      else
        cpu_activate_tile(r->p, y + task * out_plane, 1, 0, out_plane, 1);
    }
  }
}

static void dw_forward(const cpu_run *r, const cpu_tensors *t) {
  const conv_problem *p = r->p;
  if (dw_fused_ok(p)) {
    dw_fused_planes(r, p, t->x, t->w, t->b, NULL, t->y, 0);
    return;
  }
  if (p->stride_w == 2) {
    dw_forward_s2(r, t);
    return;
  }
  const lc_plane g = dw_plane(p);
  const size_t slice = dw_slice(p, r->op);
  const int64_t tasks = p->n * p->c_in;
  const int64_t in_plane = p->h * p->w, out_plane = p->h_out * p->w_out;
#pragma omp parallel num_threads(r->threads)
  {
    float *buf = cpu_ws_slice(r, slice, cpu_thread_id());
    float wk[LC_DW_MAX_TAPS];
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < tasks; task++) {
      int64_t c = task % p->c_in;
      lc_plane_fill(p, t->x + task * in_plane, g, buf);
      dw_taps(p, t->w, c, wk);
      lc_kern->dw_fwd_plane(p, buf, g, wk, t->b != NULL ? t->b[c] : 0.0f,
                   t->y + task * out_plane);
      cpu_activate_tile(p, t->y + task * out_plane, 1, 0, out_plane, 1);
    }
  }
}

/* ------------------------------------------------------- backward data */

/* Left margin of a dy row copy: zeros so that every tap's shifted read
 * starts inside the row buffer. */
static int64_t dw_dy_margin(const conv_problem *p) {
  return lc_round_up(((p->kw - 1) * p->dil_w) / p->stride_w + 1, LC_VL);
}

/* Copies a dy plane into rows of stride ds starting at column margin, zero
 * elsewhere. */
static void dw_copy_dy(const conv_problem *p, const float *dy, int64_t ds,
                       int64_t margin, float *dst) {
  for (int64_t oh = 0; oh < p->h_out; oh++) {
    float *d = dst + oh * ds;
    const float *s = dy + oh * p->w_out;
    lc_kern->dw_copy_row(d, s, ds, margin, p->w_out);
  }
}

/* The zero-padded stride-2 path: one task per (n, channel) plane. */
static void dw_backward_data_s2(const cpu_run *r, const cpu_tensors *t) {
  const conv_problem *p = r->p;
  const size_t slice = dw_slice(p, r->op);
  const int64_t ds = dw_s2_ds(p), mt = dw_s2_mt(p);
  const int64_t tasks = p->n * p->c_in;
  const int64_t in_plane = p->h * p->w, out_plane = p->h_out * p->w_out;
  const int chunk = dw_chunk(in_plane, out_plane);
#pragma omp parallel num_threads(r->threads)
  {
    float *dyb = cpu_ws_slice(r, slice, cpu_thread_id());
    float *tmp = dyb + dw_s2_rows(p) * ds;
    float wk[LC_DW_MAX_TAPS];
    /* Margins stay zero: only dy's rows are copied. */
    memset(dyb, 0, dw_s2_floats(p) * sizeof(float));
#pragma omp for schedule(dynamic, chunk)
    for (int64_t task = 0; task < tasks; task++) {
      int64_t c = task % p->c_in;
      dw_taps(p, t->w, c, wk);
      lc_kern->dw_bwd_s2(p, t->dy + task * out_plane,
                         task + 1 < tasks ? t->dy + (task + 1) * out_plane
                                          : NULL,
                         dyb, ds, mt, LC_VL, wk, tmp, t->dx + task * in_plane);
      cpu_dx_epilogue_tile(r, t->b, c, t->dx + task * in_plane, 1, 0,
                           in_plane, 1);
    }
  }
}

static void dw_backward_data(const cpu_run *r, const cpu_tensors *t) {
  const conv_problem *p = r->p;
  conv_problem q;
  if (dw_bwd_as_fwd(p, &q)) {
    dw_fused_planes(r, &q, t->dy, t->w, NULL, t->b, t->dx, 1);
    return;
  }
  if (dw_bwd_s2_ok(p)) {
    dw_backward_data_s2(r, t);
    return;
  }
  const lc_plane g = dw_plane(p);
  const size_t slice = dw_slice(p, r->op);
  const int64_t ds = dw_dy_stride(p), margin = dw_dy_margin(p);
  const int64_t tasks = p->n * p->c_in;
  const int64_t in_plane = p->h * p->w, out_plane = p->h_out * p->w_out;
#pragma omp parallel num_threads(r->threads)
  {
    float *buf = cpu_ws_slice(r, slice, cpu_thread_id());
    float *dyb = buf + lc_plane_floats(g);
    float wk[LC_DW_MAX_TAPS];
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < tasks; task++) {
      int64_t c = task % p->c_in;
      dw_copy_dy(p, t->dy + task * out_plane, ds, margin, dyb);
      dw_taps(p, t->w, c, wk);
      lc_kern->dw_bwd_plane(p, dyb, ds, margin, wk, buf, g);
      lc_plane_fold(p, buf, g, t->dx + task * in_plane);
      cpu_dx_epilogue_tile(r, t->b, c, t->dx + task * in_plane, 1, 0,
                           in_plane, 1);
    }
  }
}

/* ----------------------------------------------------- backward weight */

/* The zero-padded path: per channel, the images in order, each plane's
 * per-tap sums (dw_wgrad_fused) added in float64. */
static void dw_backward_weight_fused(const cpu_run *r, const cpu_tensors *t) {
  const conv_problem *p = r->p;
  const lc_plane g = dw_plane(p);
  const size_t slice = dw_slice(p, r->op);
  const int64_t ds = dw_wg_ds(p), taps = p->kh * p->kw;
  const int64_t in_plane = p->h * p->w, out_plane = p->h_out * p->w_out;
#pragma omp parallel num_threads(r->threads)
  {
    float *buf = cpu_ws_slice(r, slice, cpu_thread_id());
    float *dyb = buf + lc_plane_floats(g);
    /* Borders and tails stay zero: only interiors are copied. */
    memset(buf, 0, (lc_plane_floats(g) + dw_wg_dy_floats(p)) * sizeof(float));
#pragma omp for schedule(dynamic, 1)
    for (int64_t c = 0; c < p->c_in; c++) {
      double sum[LC_DW_MAX_TAPS];
      float part[LC_DW_MAX_TAPS];
      for (int64_t k = 0; k < taps; k++) sum[k] = 0.0;
      for (int64_t n = 0; n < p->n; n++) {
        int64_t plane = n * p->c_in + c;
        /* the plane this thread most likely takes next */
        int64_t next = n + 1 < p->n ? plane + p->c_in
                       : c + 1 < p->c_in ? c + 1 : -1;
        lc_kern->dw_wgrad_fused(
            p, t->x + plane * in_plane,
            next >= 0 ? t->x + next * in_plane : NULL,
            t->dy + plane * out_plane,
            next >= 0 ? t->dy + next * out_plane : NULL, buf, g, dyb, ds,
            part);
        for (int64_t k = 0; k < taps; k++) sum[k] += part[k];
      }
      float *dwc = t->dw + c * taps;
      for (int64_t k = 0; k < taps; k++) {
        int64_t i = k / p->kw, j = k % p->kw;
        dwc[cpu_tap(i, p->kh, p->flip_kernel) * p->kw +
            cpu_tap(j, p->kw, p->flip_kernel)] = (float)sum[k];
      }
    }
  }
}

static void dw_backward_weight(const cpu_run *r, const cpu_tensors *t) {
  const conv_problem *p = r->p;
  if (dw_fused_ok(p)) {
    dw_backward_weight_fused(r, t);
    return;
  }
  const lc_plane g = dw_plane(p);
  const size_t slice = dw_slice(p, r->op);
  const int64_t ds = dw_dy_stride(p), margin = dw_dy_margin(p);
  const int64_t taps = p->kh * p->kw;
  const int64_t in_plane = p->h * p->w, out_plane = p->h_out * p->w_out;
#pragma omp parallel num_threads(r->threads)
  {
    float *buf = cpu_ws_slice(r, slice, cpu_thread_id());
    float *dyb = buf + lc_plane_floats(g);
#pragma omp for schedule(dynamic, 1)
    for (int64_t c = 0; c < p->c_in; c++) {
      double sum[LC_DW_MAX_TAPS];
      for (int64_t k = 0; k < taps; k++) sum[k] = 0.0;
      for (int64_t n = 0; n < p->n; n++) {
        int64_t plane = n * p->c_in + c;
        lc_plane_fill(p, t->x + plane * in_plane, g, buf);
        dw_copy_dy(p, t->dy + plane * out_plane, ds, margin, dyb);
        for (int64_t k0 = 0; k0 < taps; k0 += LC_DW_NT) {
          int64_t rofs[LC_DW_NT], q[LC_DW_NT], cofs[LC_DW_NT];
          float part[LC_DW_NT];
          LC_UNROLL
          for (int k = 0; k < LC_DW_NT; k++) {
            int64_t tk = k0 + k < taps ? k0 + k : taps - 1;
            int64_t i = tk / p->kw, j = tk % p->kw;
            rofs[k] = i * p->dil_h;
            q[k] = (j * p->dil_w) % p->stride_w;
            cofs[k] = (j * p->dil_w) / p->stride_w;
          }
          lc_kern->dw_wgrad_plane(p, dyb + margin, ds, buf, g, rofs, q, cofs, part);
          for (int k = 0; k < LC_DW_NT && k0 + k < taps; k++) sum[k0 + k] += part[k];
        }
      }
      float *dwc = t->dw + c * taps;
      for (int64_t k = 0; k < taps; k++) {
        int64_t i = k / p->kw, j = k % p->kw;
        dwc[cpu_tap(i, p->kh, p->flip_kernel) * p->kw +
            cpu_tap(j, p->kw, p->flip_kernel)] = (float)sum[k];
      }
    }
  }
}

static conv_status dw_run(const cpu_run *r, const cpu_tensors *t,
                          conv_err *err) {
  (void)err;
  switch (r->op) {
    case CONV_OP_FORWARD: dw_forward(r, t); break;
    case CONV_OP_BACKWARD_DATA: dw_backward_data(r, t); break;
    case CONV_OP_BACKWARD_WEIGHT: dw_backward_weight(r, t); break;
    default:
      return conv_err_set(err, CONV_ERROR_UNSUPPORTED,
                          "direct_dw: op %d is not served", (int)r->op);
  }
  return CONV_SUCCESS;
}

const cpu_algo cpu_algo_direct_dw = {
    .name = "direct_dw",
    .applies = dw_applies,
    .workspace_bytes = dw_workspace,
    .run = dw_run,
    .fuses_activation = 1,
    .fuses_dx_epilogue = 1,
};
