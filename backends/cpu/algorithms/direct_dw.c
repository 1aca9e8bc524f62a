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

#include "kernels.h"
#include "simd.h"

#define DW_MAX_TAPS 121 /* 11 x 11 */

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
  if (p->kh * p->kw > DW_MAX_TAPS) {
    snprintf(why, why_len, "kernel %lldx%lld has more than %d taps",
             (long long)p->kh, (long long)p->kw, DW_MAX_TAPS);
    return 0;
  }
  return 1;
}

/* Output blocks: V vectors wide, R rows high. */
#define DW_V 4
#define DW_R 2

static lc_plane dw_plane(const conv_problem *p) {
  return lc_plane_for(p, 8, DW_V * LC_VL);
}

static int64_t dw_dy_margin(const conv_problem *p);

/* Row stride of a dy plane copy (bwd ops): a zero margin, then the row,
 * then zeros so that whole vectors can be read up to the plane width. */
static int64_t dw_dy_stride(const conv_problem *p) {
  lc_plane g = dw_plane(p);
  return dw_dy_margin(p) + lc_round_up(g.wq, DW_V * LC_VL) + DW_V * LC_VL;
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

static size_t dw_slice(const conv_problem *p, conv_op op) {
  if (op == CONV_OP_FORWARD && p->stride_w == 2) {
    conv_problem q = dw_fwd_cols1(p);
    size_t f = cpu_add_size(lc_plane_floats(dw_plane(&q)),
                            cpu_mul_size((size_t)q.h_out, (size_t)q.w_out + LC_VL));
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

/* One plane: y[oh][ow] = b + sum_t wk[t] * buf[tap t of (oh, ow)]. R rows
 * by V vectors per block, computed whole (the buffer is zero past the
 * edges), stored clipped. */
static inline LC_INLINE void dw_fwd_plane_rv(const conv_problem *p,
                                             const float *buf, lc_plane g,
                                             const float *wk, float bias,
                                             float *y, const int R,
                                             const int V) {
  const int64_t kh = p->kh, kw = p->kw, sh = p->stride_h, sw = p->stride_w;
  const int64_t dh = p->dil_h, dw = p->dil_w, ho = p->h_out, wo = p->w_out;
  const int64_t taps = kh * kw;
  int64_t tofs[DW_MAX_TAPS]; /* offset of tap t from the block's origin */
  for (int64_t t = 0; t < taps; t++) {
    int64_t i = t / kw, j = t % kw;
    tofs[t] = (int64_t)(lc_plane_row((float *)buf, g, (j * dw) % sw, i * dh) -
                        buf) + (j * dw) / sw;
  }
  const int64_t rs = sh * g.wq; /* floats between output rows */
  for (int64_t oh = 0; oh < ho; oh += R) {
    for (int64_t ow = 0; ow < wo; ow += V * LC_VL) {
      vf acc[8][DW_V];
      LC_UNROLL
      for (int r = 0; r < R; r++)
        LC_UNROLL
        for (int v = 0; v < V; v++) acc[r][v] = vsplat(bias);
      const float *base = buf + oh * rs + ow;
      for (int64_t t = 0; t < taps; t++) {
        vf wv = vsplat(wk[t]);
        const float *src = base + tofs[t];
        LC_UNROLL
        for (int r = 0; r < R; r++)
          LC_UNROLL
          for (int v = 0; v < V; v++)
            acc[r][v] += wv * vload(src + r * rs + v * LC_VL);
      }
      LC_UNROLL
      for (int r = 0; r < R; r++)
        LC_UNROLL
        for (int v = 0; v < V; v++)
          if (oh + r < ho && ow + v * LC_VL < wo)
            vstore_n(y + (oh + r) * wo + ow + v * LC_VL, acc[r][v],
                     wo - ow - v * LC_VL);
    }
  }
}

/* Blocks of R rows by V vectors: wide rows take 4 vectors, narrow ones more
 * rows, so that about 8 accumulators are in flight. */
static inline LC_INLINE void dw_fwd_plane_body(const conv_problem *p,
                                               const float *buf, lc_plane g,
                                               const float *wk, float bias,
                                               float *y) {
  if (p->w_out > 2 * LC_VL)
    dw_fwd_plane_rv(p, buf, g, wk, bias, y, 2, 4);
  else if (p->w_out > LC_VL)
    dw_fwd_plane_rv(p, buf, g, wk, bias, y, 4, 2);
  else
    dw_fwd_plane_rv(p, buf, g, wk, bias, y, 8, 1);
}

LC_ISA_DISPATCH(dw_fwd_plane,
                (const conv_problem *p, const float *buf, lc_plane g,
                 const float *wk, float bias, float *y),
                (p, buf, g, wk, bias, y), dw_fwd_plane_body)

/* The taps of channel c in kernel-offset order (flip applied). */
static void dw_taps(const conv_problem *p, const float *w, int64_t c,
                    float *wk) {
  const float *wc = w + c * p->kh * p->kw;
  for (int64_t i = 0; i < p->kh; i++)
    for (int64_t j = 0; j < p->kw; j++)
      wk[i * p->kw + j] = wc[lc_widx(i, p->kh, p->flip_kernel) * p->kw +
                             lc_widx(j, p->kw, p->flip_kernel)];
}

/* y[oh][j] = tmp[oh][2 j], rows of tmp of stride ts. */
static inline LC_INLINE void dw_keep_even_body(const float *tmp, int64_t ts,
                                               int64_t ho, int64_t wo,
                                               float *y) {
  for (int64_t oh = 0; oh < ho; oh++) {
    const float *s = tmp + oh * ts;
    float *d = y + oh * wo;
    int64_t j = 0;
#if defined(__clang__)
    for (; j + LC_VL <= wo; j += LC_VL) {
      vf a = vload(s + 2 * j), b = vload(s + 2 * j + LC_VL);
      vstore(d + j, __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16,
                                            18, 20, 22, 24, 26, 28, 30));
    }
#elif defined(__GNUC__)
    typedef int32_t vi __attribute__((vector_size(64)));
    const vi even = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
    for (; j + LC_VL <= wo; j += LC_VL) {
      vf a = vload(s + 2 * j), b = vload(s + 2 * j + LC_VL);
      vstore(d + j, __builtin_shuffle(a, b, even));
    }
#endif
    for (; j < wo; j++) d[j] = s[2 * j];
  }
}

LC_ISA_DISPATCH(dw_keep_even,
                (const float *tmp, int64_t ts, int64_t ho, int64_t wo, float *y),
                (tmp, ts, ho, wo, y), dw_keep_even_body)

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
    float wk[DW_MAX_TAPS];
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < tasks; task++) {
      int64_t c = task % p->c_in;
      lc_plane_fill(&q, t->x + task * in_plane, g, buf);
      dw_taps(p, t->w, c, wk);
      /* q's output rows (q.w_out floats each) into tmp, then every
       * second column into y */
      dw_fwd_plane(&q, buf, g, wk, t->b != NULL ? t->b[c] : 0.0f, tmp);
      dw_keep_even(tmp, q.w_out, p->h_out, p->w_out, t->y + task * out_plane);
      cpu_activate_tile(p, t->y + task * out_plane, 1, 0, out_plane, 1);
    }
  }
}

static void dw_forward(const cpu_run *r, const cpu_tensors *t) {
  const conv_problem *p = r->p;
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
    float wk[DW_MAX_TAPS];
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < tasks; task++) {
      int64_t c = task % p->c_in;
      lc_plane_fill(p, t->x + task * in_plane, g, buf);
      dw_taps(p, t->w, c, wk);
      dw_fwd_plane(p, buf, g, wk, t->b != NULL ? t->b[c] : 0.0f,
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

/* One plane, as a gather: for each padded row r and column phase q, the
 * gradient buffer row is the sum over the taps that reach it of a weight
 * times a shifted dy row (dyb: rows of stride ds, zero margins). Every
 * element of buf is written once. */
static inline LC_INLINE void dw_bwd_plane_body(const conv_problem *p,
                                               const float *dyb, int64_t ds,
                                               int64_t margin, const float *wk,
                                               float *buf, lc_plane g) {
  const int64_t kh = p->kh, kw = p->kw, sh = p->stride_h, sw = p->stride_w;
  const int64_t dh = p->dil_h, dw = p->dil_w, ho = p->h_out;
  const int64_t hp = p->h + p->pad_t + p->pad_b;
  int64_t tofs[DW_MAX_TAPS];
  float tw[DW_MAX_TAPS];
  /* Column taps per phase q: j with j * dw = q (mod sw), read at column
   * shift (j * dw - q) / sw to the left. */
  int64_t jcount[DW_MAX_TAPS], jlist[DW_MAX_TAPS], jshift[DW_MAX_TAPS];
  int64_t jfirst[DW_MAX_TAPS];
  {
    int64_t n = 0;
    for (int64_t q = 0; q < sw && q < DW_MAX_TAPS; q++) {
      jfirst[q] = n;
      for (int64_t j = 0; j < kw; j++) {
        int64_t cj = j * dw - q;
        if (cj < 0 || cj % sw != 0) continue;
        jlist[n] = j;
        jshift[n] = cj / sw;
        n++;
      }
      jcount[q] = n - jfirst[q];
    }
  }
  for (int64_t r = 0; r < g.rows; r++) {
    for (int64_t q = 0; q < sw; q++) {
      float *dst = lc_plane_row(buf, g, q, r);
      if (r >= hp || q >= DW_MAX_TAPS) {
        memset(dst, 0, (size_t)g.wq * sizeof(float));
        continue;
      }
      /* The taps reaching row r, phase q. */
      int64_t nt = 0;
      for (int64_t i = 0; i < kh; i++) {
        int64_t ro = r - i * dh;
        if (ro < 0 || ro % sh != 0 || ro / sh >= ho) continue;
        const float *wr = wk + i * kw;
        int64_t rbase = (ro / sh) * ds + margin;
        for (int64_t e = jfirst[q]; e < jfirst[q] + jcount[q]; e++) {
          tofs[nt] = rbase - jshift[e];
          tw[nt] = wr[jlist[e]];
          nt++;
        }
      }
      for (int64_t jj = 0; jj < g.wq; jj += DW_V * LC_VL) {
        vf acc[DW_V];
        LC_UNROLL
        for (int v = 0; v < DW_V; v++) acc[v] = vzero();
        for (int64_t t = 0; t < nt; t++) {
          vf wv = vsplat(tw[t]);
          const float *src = dyb + tofs[t] + jj;
          LC_UNROLL
          for (int v = 0; v < DW_V; v++) acc[v] += wv * vload(src + v * LC_VL);
        }
        LC_UNROLL
        for (int v = 0; v < DW_V; v++)
          if (jj + v * LC_VL < g.wq) vstore(dst + jj + v * LC_VL, acc[v]);
      }
    }
  }
}

LC_ISA_DISPATCH(dw_bwd_plane,
                (const conv_problem *p, const float *dyb, int64_t ds,
                 int64_t margin, const float *wk, float *buf, lc_plane g),
                (p, dyb, ds, margin, wk, buf, g), dw_bwd_plane_body)

/* d[0, ds) = zeros with s[0, n) at d + margin (ds and margin multiples of
 * 16, margin + n <= ds). */
static inline LC_INLINE void dw_copy_row_body(float *d, const float *s,
                                              int64_t ds, int64_t margin,
                                              int64_t n) {
  for (int64_t j = 0; j < ds; j += LC_VL) vstore(d + j, vzero());
  int64_t k = 0;
  for (; k + LC_VL <= n; k += LC_VL) vstore(d + margin + k, vload(s + k));
  for (; k < n; k++) d[margin + k] = s[k];
}

LC_ISA_DISPATCH(dw_copy_row,
                (float *d, const float *s, int64_t ds, int64_t margin,
                 int64_t n),
                (d, s, ds, margin, n), dw_copy_row_body)

/* Copies a dy plane into rows of stride ds starting at column margin, zero
 * elsewhere. */
static void dw_copy_dy(const conv_problem *p, const float *dy, int64_t ds,
                       int64_t margin, float *dst) {
  for (int64_t oh = 0; oh < p->h_out; oh++) {
    float *d = dst + oh * ds;
    const float *s = dy + oh * p->w_out;
    dw_copy_row(d, s, ds, margin, p->w_out);
  }
}

static void dw_backward_data(const cpu_run *r, const cpu_tensors *t) {
  const conv_problem *p = r->p;
  const lc_plane g = dw_plane(p);
  const size_t slice = dw_slice(p, r->op);
  const int64_t ds = dw_dy_stride(p), margin = dw_dy_margin(p);
  const int64_t tasks = p->n * p->c_in;
  const int64_t in_plane = p->h * p->w, out_plane = p->h_out * p->w_out;
#pragma omp parallel num_threads(r->threads)
  {
    float *buf = cpu_ws_slice(r, slice, cpu_thread_id());
    float *dyb = buf + lc_plane_floats(g);
    float wk[DW_MAX_TAPS];
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < tasks; task++) {
      int64_t c = task % p->c_in;
      dw_copy_dy(p, t->dy + task * out_plane, ds, margin, dyb);
      dw_taps(p, t->w, c, wk);
      dw_bwd_plane(p, dyb, ds, margin, wk, buf, g);
      lc_plane_fold(p, buf, g, t->dx + task * in_plane);
      cpu_dx_epilogue_tile(r, t->b, c, t->dx + task * in_plane, 1, 0,
                           in_plane, 1);
    }
  }
}

/* ----------------------------------------------------- backward weight */

#define DW_NT 9 /* taps per pass */

/* acc[k] += sum over the plane of dy * x at tap taps[k] (row offset rofs,
 * phase q, column offset cofs). dyb rows have stride ds, zero-tailed. */
static inline LC_INLINE void dw_wgrad_plane_body(
    const conv_problem *p, const float *dyb, int64_t ds, const float *buf,
    lc_plane g, const int64_t *rofs, const int64_t *q, const int64_t *cofs,
    float *out) {
  const int64_t sh = p->stride_h, ho = p->h_out, wo = p->w_out;
  vf acc[DW_NT];
  LC_UNROLL
  for (int k = 0; k < DW_NT; k++) acc[k] = vzero();
  for (int64_t oh = 0; oh < ho; oh++) {
    const float *dyr = dyb + oh * ds;
    const float *rows[DW_NT];
    LC_UNROLL
    for (int k = 0; k < DW_NT; k++)
      rows[k] = lc_plane_row((float *)buf, g, q[k], oh * sh + rofs[k]) + cofs[k];
    for (int64_t ow = 0; ow < wo; ow += LC_VL) {
      vf d = vload(dyr + ow);
      LC_UNROLL
      for (int k = 0; k < DW_NT; k++) acc[k] += d * vload(rows[k] + ow);
    }
  }
  LC_UNROLL
  for (int k = 0; k < DW_NT; k++) out[k] = vsum(acc[k]);
}

LC_ISA_DISPATCH(dw_wgrad_plane,
                (const conv_problem *p, const float *dyb, int64_t ds,
                 const float *buf, lc_plane g, const int64_t *rofs,
                 const int64_t *q, const int64_t *cofs, float *out),
                (p, dyb, ds, buf, g, rofs, q, cofs, out), dw_wgrad_plane_body)

static void dw_backward_weight(const cpu_run *r, const cpu_tensors *t) {
  const conv_problem *p = r->p;
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
      double sum[DW_MAX_TAPS];
      for (int64_t k = 0; k < taps; k++) sum[k] = 0.0;
      for (int64_t n = 0; n < p->n; n++) {
        int64_t plane = n * p->c_in + c;
        lc_plane_fill(p, t->x + plane * in_plane, g, buf);
        dw_copy_dy(p, t->dy + plane * out_plane, ds, margin, dyb);
        for (int64_t k0 = 0; k0 < taps; k0 += DW_NT) {
          int64_t rofs[DW_NT], q[DW_NT], cofs[DW_NT];
          float part[DW_NT];
          LC_UNROLL
          for (int k = 0; k < DW_NT; k++) {
            int64_t tk = k0 + k < taps ? k0 + k : taps - 1;
            int64_t i = tk / p->kw, j = tk % p->kw;
            rofs[k] = i * p->dil_h;
            q[k] = (j * p->dil_w) % p->stride_w;
            cofs[k] = (j * p->dil_w) / p->stride_w;
          }
          dw_wgrad_plane(p, dyb + margin, ds, buf, g, rofs, q, cofs, part);
          for (int k = 0; k < DW_NT && k0 + k < taps; k++) sum[k0 + k] += part[k];
        }
      }
      float *dwc = t->dw + c * taps;
      for (int64_t k = 0; k < taps; k++) {
        int64_t i = k / p->kw, j = k % p->kw;
        dwc[lc_widx(i, p->kh, p->flip_kernel) * p->kw +
            lc_widx(j, p->kw, p->flip_kernel)] = (float)sum[k];
      }
    }
  }
  if (t->db != NULL) lc_bias_grad(p, t->dy, t->db, r->threads);
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
