/* SPDX-License-Identifier: Apache-2.0 */
/*
 * direct_vec: direct convolution for few channels per group (small c_in like
 * the first layer of a network, or grouped layers like ResNeXt's), where
 * im2col + GEMM has too little depth to pay for its copies.
 *
 * Forward: one task per (image, group). The task copies its c_in/groups
 * input planes into phase-split padded buffers (simd.h; every padding mode,
 * stride and dilation), then computes blocks of CB output channels by V
 * vectors of 16 output columns of one row, held in registers: each loaded
 * input vector feeds CB FMAs, each weight broadcast V.
 * Backward-data (stride 1): the same kernel on dy with the weight transposed
 * and rotated, into the gradient of the padded input, then folded back
 * through the padding (lc_plane_fold).
 * Backward-weight: one task per (image chunk, group) writes a partial dw;
 * partials are added in task order, so results do not depend on threads.
 * With fewer images than chunks (zero padding), an image is split into
 * bands of output rows, each a problem of its own with the input rows it
 * reads, so one large image still gives every thread work.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"
#include "kernels.h"
#include "simd.h"

#define VEC_WG_CHUNKS 32 /* at most this many image chunks in bwd_weight */
#define VEC_WG_BAND_CHUNKS 8 /* bands while images are fewer than this */
#define VEC_WG_BAND_ROWS 64   /* output rows of a band at least */

/* bwd_weight's chunks: at most VEC_WG_CHUNKS of whole images, or, with
 * fewer than VEC_WG_BAND_CHUNKS images and zero padding, each image in
 * *bands bands of output rows (chunk = image * bands + band), as many as
 * make VEC_WG_BAND_CHUNKS chunks where each keeps VEC_WG_BAND_ROWS rows: a
 * band repeats the input rows its kernel overlaps with the next and its
 * accumulators' set-up. Fixed by the problem alone (results do not depend
 * on the thread count). */
static int64_t vec_wg_chunks(const conv_problem *p, int64_t *bands) {
  *bands = 1;
  if (p->n >= VEC_WG_CHUNKS) return VEC_WG_CHUNKS;
  if (p->n < VEC_WG_BAND_CHUNKS && p->padding_mode == CONV_PAD_ZEROS) {
    int64_t b = (VEC_WG_BAND_CHUNKS + p->n - 1) / p->n;
    if (b > p->h_out / VEC_WG_BAND_ROWS) b = p->h_out / VEC_WG_BAND_ROWS;
    if (b > 1) *bands = b;
  }
  return p->n * *bands;
}

/* Band b of nb of an image's output rows as a problem of one image: its
 * output rows (*oh0 the first; of dy for the weight gradient), the input
 * rows they read (*row0 the first), zero padding where those lie outside
 * the plane. */
static conv_problem vec_band(const conv_problem *p, int64_t b, int64_t nb,
                                int64_t *oh0, int64_t *row0) {
  conv_problem q = *p;
  q.n = 1;
  const int64_t o0 = p->h_out * b / nb, o1 = p->h_out * (b + 1) / nb;
  const int64_t first = o0 * p->stride_h - p->pad_t;
  const int64_t last = (o1 - 1) * p->stride_h - p->pad_t + (p->kh - 1) * p->dil_h;
  const int64_t r0 = first > 0 ? first : 0;
  const int64_t r1 = last + 1 < p->h ? last + 1 : p->h;
  q.h_out = o1 - o0;
  q.h = r1 - r0;
  q.pad_t = r0 - first;
  q.pad_b = last + 1 - r1;
  *oh0 = o0;
  *row0 = r0;
  return q;
}

static int vec_applies(const conv_problem *p, conv_op op, char *why,
                       size_t why_len) {
  int64_t cig = p->c_in / p->groups, cog = p->c_out / p->groups;
  if (op == CONV_OP_BACKWARD_BIAS) {
    snprintf(why, why_len, "backward-bias is a plain reduction");
    return 0;
  }
  if (cig > LC_VEC_MAX_CPG || cog > LC_VEC_MAX_CPG) {
    snprintf(why, why_len,
             "%lld input / %lld output channels per group exceed %d",
             (long long)cig, (long long)cog, LC_VEC_MAX_CPG);
    return 0;
  }
  if (p->kh * p->kw > LC_VEC_MAX_TAPS) {
    snprintf(why, why_len, "kernel %lldx%lld has more than %d taps",
             (long long)p->kh, (long long)p->kw, LC_VEC_MAX_TAPS);
    return 0;
  }
  if (op == CONV_OP_BACKWARD_DATA && (p->stride_h != 1 || p->stride_w != 1)) {
    snprintf(why, why_len, "backward-data needs stride 1 (stride %lldx%lld)",
             (long long)p->stride_h, (long long)p->stride_w);
    return 0;
  }
  return 1;
}

/* ------------------------------------------------------- geometry */

static int64_t vec_pick_cb(int64_t cog) {
  return cog >= 6 ? 8 : cog >= 3 ? 4 : cog;
}

static vec_geom vec_geom_for(const conv_problem *p) {
  vec_geom v;
  v.p = p;
  v.g = lc_plane_for(p, 1, 3 * LC_VL * 2);
  v.cig = p->c_in / p->groups;
  v.cog = p->c_out / p->groups;
  v.cb = vec_pick_cb(v.cog);
  v.nblk = (v.cog + v.cb - 1) / v.cb;
  /* The last block: the fewest of 1, 2, 4, 8 channels that hold the rest. */
  int64_t rest = v.cog - (v.nblk - 1) * v.cb;
  v.cbl = 1;
  while (v.cbl < rest) v.cbl *= 2;
  v.taps = p->kh * p->kw;
  return v;
}

/* Packs the weights of group grp (w: c_out x cig x kh x kw, taps in kernel
 * offset order, flip applied) as wpk[blk][ci][t][cb], zero-padded; the
 * last block has cbl channels (its blocks' start stays blk * cig * taps * cb). With
 * transpose set, w is read as the weight of the backward-data problem:
 * w[ci_fwd = out channel][co_fwd = in channel], rotated 180 degrees. */
static void vec_pack(const vec_geom *v, const float *w, int64_t grp,
                     int transpose, const conv_problem *orig, float *wpk) {
  const int64_t kh = v->p->kh, kw = v->p->kw, taps = v->taps;
  for (int64_t b = 0; b < v->nblk; b++) {
    const int64_t cb = b == v->nblk - 1 ? v->cbl : v->cb;
    float *wb = wpk + b * v->cig * taps * v->cb;
    for (int64_t ci = 0; ci < v->cig; ci++)
      for (int64_t t = 0; t < taps; t++)
        for (int64_t c = 0; c < cb; c++) {
          int64_t co = b * v->cb + c;
          float val = 0.0f;
          if (co < v->cog) {
            int64_t i = t / kw, j = t % kw;
            if (!transpose) {
              int64_t a = cpu_tap(i, kh, v->p->flip_kernel);
              int64_t e = cpu_tap(j, kw, v->p->flip_kernel);
              val = w[(((grp * v->cog + co) * v->cig + ci) * kh + a) * kw + e];
            } else {
              /* forward weight W[g*cog_f + ci][co][.][.]: the forward
               * problem has cog_f = v->cig, cig_f = v->cog. */
              int64_t a = cpu_tap(kh - 1 - i, kh, orig->flip_kernel);
              int64_t e = cpu_tap(kw - 1 - j, kw, orig->flip_kernel);
              val = w[(((grp * v->cig + ci) * v->cog + co) * kh + a) * kw + e];
            }
          }
          wb[(ci * taps + t) * cb + c] = val;
        }
  }
}

static void vec_tap_offsets(const vec_geom *v, int64_t *tofs) {
  const conv_problem *p = v->p;
  for (int64_t t = 0; t < v->taps; t++) {
    int64_t i = t / p->kw, j = t % p->kw;
    int64_t q = (j * p->dil_w) % p->stride_w;
    tofs[t] = (q * v->g.rows + i * p->dil_h) * v->g.wq +
              (j * p->dil_w) / p->stride_w;
  }
}

/* ------------------------------------------------------ workspace */

/* Backward data straight into dx: with zero padding no wider than the
 * kernel's extent, the gradient of the padded input's border is dropped,
 * so only dx's own h x w positions are computed (dy padded by extent -
 * pad a side). Else the whole padded-input gradient is computed and
 * folded back through the padding mode. */
static int vec_bwd_direct(const conv_problem *p) {
  const int64_t eh = (p->kh - 1) * p->dil_h, ew = (p->kw - 1) * p->dil_w;
  return p->padding_mode == CONV_PAD_ZEROS && p->pad_t <= eh &&
         p->pad_b <= eh && p->pad_l <= ew && p->pad_r <= ew;
}

/* The backward-data problem: dy as input, stride 1, zero padding, c_in
 * and c_out swapped, the weight transposed and rotated; its output is dx
 * (vec_bwd_direct: dy padded by extent - pad a side) or the gradient of
 * the padded input (dy padded by the full kernel extent). */
static conv_problem vec_bwd_problem(const conv_problem *p) {
  conv_problem q = *p;
  const int64_t eh = (p->kh - 1) * p->dil_h, ew = (p->kw - 1) * p->dil_w;
  const int direct = vec_bwd_direct(p);
  q.c_in = p->c_out;
  q.c_out = p->c_in;
  q.h = p->h_out;
  q.w = p->w_out;
  q.pad_t = direct ? eh - p->pad_t : eh;
  q.pad_b = direct ? eh - p->pad_b : eh;
  q.pad_l = direct ? ew - p->pad_l : ew;
  q.pad_r = direct ? ew - p->pad_r : ew;
  q.padding_mode = CONV_PAD_ZEROS;
  q.flip_kernel = 0;
  q.has_bias = 0;
  q.h_out = direct ? p->h : p->h_out + eh;
  q.w_out = direct ? p->w : p->w_out + ew;
  return q;
}

static size_t vec_wg_acc_floats(const vec_geom *v);

typedef struct vec_ws {
  size_t wpk, xbuf, obuf, dyb; /* floats */
  size_t slice;                /* bytes per thread */
  size_t shared;               /* bytes before the slices */
} vec_ws;

static vec_ws vec_ws_for(const conv_problem *p, conv_op op) {
  vec_ws s;
  memset(&s, 0, sizeof s);
  if (op == CONV_OP_BACKWARD_DATA) {
    conv_problem q = vec_bwd_problem(p);
    vec_geom v = vec_geom_for(&q);
    s.wpk = (size_t)(v.nblk * v.cb * v.cig * v.taps);
    s.xbuf = cpu_mul_size((size_t)v.cig, lc_plane_floats(v.g));
    /* the padded-input gradient, cig_fwd planes of hp x wp */
    if (!vec_bwd_direct(p))
      s.obuf = cpu_mul_size((size_t)(v.nblk * v.cb),
                            (size_t)(q.h_out * q.w_out));
  } else {
    vec_geom v = vec_geom_for(p);
    s.wpk = (size_t)(v.nblk * v.cb * v.cig * v.taps);
    s.xbuf = cpu_mul_size((size_t)v.cig, lc_plane_floats(v.g));
    if (op == CONV_OP_BACKWARD_WEIGHT) {
      s.dyb = cpu_mul_size((size_t)v.cog,
                           (size_t)(p->h_out * lc_round_up(p->w_out, LC_VL)));
      s.dyb = cpu_add_size(s.dyb, vec_wg_acc_floats(&v));
    }
  }
  size_t f = cpu_add_size(cpu_add_size(s.wpk, s.xbuf), cpu_add_size(s.obuf, s.dyb));
  s.slice = cpu_align_up(cpu_mul_size(f, sizeof(float)));
  s.shared = 0;
  if (op == CONV_OP_BACKWARD_WEIGHT) {
    /* partial dw per task */
    int64_t bands;
    const int64_t chunks = vec_wg_chunks(p, &bands);
    size_t dwsize = (size_t)(p->c_out * (p->c_in / p->groups) * p->kh * p->kw);
    s.shared = cpu_align_up(cpu_mul_size(cpu_mul_size((size_t)chunks, dwsize),
                                         sizeof(float)));
  }
  return s;
}

static size_t vec_workspace(const conv_problem *p, conv_op op, int threads) {
  vec_ws s = vec_ws_for(p, op);
  return cpu_add_size(s.shared, cpu_mul_size(s.slice, (size_t)threads));
}

static float *vec_slice(const cpu_run *r, const vec_ws *s, int t) {
  return (float *)((char *)r->ws + s->shared + s->slice * (size_t)t);
}

/* ------------------------------------------------------------ forward */

/* The forward's bands of output rows per image: with fewer than
 * VEC_WG_BAND_CHUNKS (image, group) tasks and zero padding, as many as
 * make that many tasks where each band keeps VEC_WG_BAND_ROWS rows (one
 * large image then still gives every thread work), else 1. */
static int64_t vec_fwd_bands(const conv_problem *p) {
  const int64_t base = p->n * p->groups;
  if (base >= VEC_WG_BAND_CHUNKS || p->padding_mode != CONV_PAD_ZEROS) return 1;
  int64_t b = (VEC_WG_BAND_CHUNKS + base - 1) / base;
  if (b > p->h_out / VEC_WG_BAND_ROWS) b = p->h_out / VEC_WG_BAND_ROWS;
  return b > 1 ? b : 1;
}

static void vec_forward(const cpu_run *r, const cpu_tensors *t) {
  const conv_problem *p = r->p;
  const vec_geom v = vec_geom_for(p);
  const vec_ws s = vec_ws_for(p, r->op);
  const int64_t bands = vec_fwd_bands(p);
  const int64_t tasks = p->groups * p->n * bands;
  const size_t in_plane = (size_t)(p->h * p->w);
  const size_t out_plane = (size_t)(p->h_out * p->w_out);
#pragma omp parallel num_threads(r->threads)
  {
    float *wpk = vec_slice(r, &s, cpu_thread_id());
    float *xb = wpk + s.wpk;
    int64_t last_g = -1;
    /* Tasks group by group, a contiguous run of them a thread, so that a
     * thread packs each of its groups' weights once. */
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; task++) {
      const int64_t grp = task / (p->n * bands), n = task / bands % p->n;
      if (grp != last_g) {
        vec_pack(&v, t->w, grp, 0, p, wpk);
        last_g = grp;
      }
      /* The image, or its band: a problem of its own (q, geometry vq),
       * its input from row row0, its output from row oh0. */
      conv_problem q = *p;
      int64_t oh0 = 0, row0 = 0;
      if (bands > 1) q = vec_band(p, task % bands, bands, &oh0, &row0);
      const vec_geom vq = vec_geom_for(&q);
      int64_t tofs[LC_VEC_MAX_TAPS];
      vec_tap_offsets(&vq, tofs);
      float *y = t->y + (size_t)(n * p->c_out + grp * v.cog) * out_plane +
                 (size_t)(oh0 * p->w_out);
      if (q.h <= 0) {
        /* Rows reading only padding: bias (and activation) alone. */
        for (int64_t c = 0; c < v.cog; c++)
          for (int64_t i = 0; i < q.h_out * p->w_out; i++)
            y[(size_t)c * out_plane + (size_t)i] = t->b ? t->b[grp * v.cog + c] : 0.0f;
      } else {
        for (int64_t ci = 0; ci < v.cig; ci++)
          lc_plane_fill(&q, t->x + (size_t)(n * p->c_in + grp * v.cig + ci) * in_plane +
                                (size_t)(row0 * p->w),
                        vq.g, xb + (size_t)ci * lc_plane_floats(vq.g));
        lc_kern->vec_fwd_task(&vq, xb, wpk, tofs, t->b ? t->b + grp * v.cog : NULL,
                              y, out_plane, p->w_out, q.h_out, p->w_out);
      }
      cpu_activate_tile(p, y, v.cog, (int64_t)out_plane, q.h_out * p->w_out, 1);
    }
  }
}

static void vec_backward_data(const cpu_run *r, const cpu_tensors *t) {
  const conv_problem *p = r->p;
  const conv_problem q = vec_bwd_problem(p);
  const vec_geom v = vec_geom_for(&q);
  const vec_ws s = vec_ws_for(p, r->op);
  const int64_t tasks = p->n * p->groups;
  const size_t in_plane = (size_t)(p->h * p->w);
  const size_t dy_plane = (size_t)(p->h_out * p->w_out);
  const size_t g_plane = (size_t)(q.h_out * q.w_out);
  const int direct = vec_bwd_direct(p);
  /* The padded-input gradient as a plane layout for lc_plane_fold: one
   * phase, rows hp, row length w_out of q (= wp). */
  lc_plane og;
  og.sw = 1;
  og.rows = q.h_out;
  og.wq = q.w_out;
  int64_t tofs[LC_VEC_MAX_TAPS];
  vec_tap_offsets(&v, tofs);
#pragma omp parallel num_threads(r->threads)
  {
    float *wpk = vec_slice(r, &s, cpu_thread_id());
    float *xb = wpk + s.wpk;
    float *ob = xb + s.xbuf;
    int64_t last_g = -1;
    /* Tasks group by group, a contiguous run of them a thread, so that a
     * thread packs each of its groups' weights once. */
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; task++) {
      int64_t grp = task / p->n, n = task % p->n;
      if (grp != last_g) {
        vec_pack(&v, t->w, grp, 1, p, wpk);
        last_g = grp;
      }
      for (int64_t c = 0; c < v.cig; c++)
        lc_plane_fill(&q, t->dy + (size_t)(n * p->c_out + grp * v.cig + c) * dy_plane,
                      v.g, xb + (size_t)c * lc_plane_floats(v.g));
      float *dxg = t->dx + (size_t)(n * p->c_in + grp * v.cog) * in_plane;
      if (direct) {
        lc_kern->vec_fwd_task(&v, xb, wpk, tofs, NULL, dxg, in_plane, p->w,
                              p->h, p->w);
        continue;
      }
      lc_kern->vec_fwd_task(&v, xb, wpk, tofs, NULL, ob, g_plane, q.w_out, q.h_out,
                   q.w_out);
      for (int64_t c = 0; c < v.cog; c++)
        lc_plane_fold(p, ob + (size_t)c * g_plane, og,
                      t->dx + (size_t)(n * p->c_in + grp * v.cog + c) * in_plane);
    }
  }
}

/* ----------------------------------------------------- backward weight */

/* The weight gradient's block of channels (cb) x taps (nt): the choice
 * vec_wg_image makes (kernels/direct_vec.c). */
static void vec_wg_pick(const vec_geom *v, int *cb, int *nt) {
  if (v->cog >= 8) {
    *cb = 8;
    *nt = 2;
  } else if (v->cog >= 6) {
    *cb = 7;
    *nt = 3;
  } else {
    *cb = 4;
    *nt = 5;
  }
}

/* Floats of vector accumulators an image needs (all blocks). */
static size_t vec_wg_acc_floats(const vec_geom *v) {
  int cb, nt;
  vec_wg_pick(v, &cb, &nt);
  size_t blocks = (size_t)((v->cog + cb - 1) / cb) * (size_t)v->cig *
                  (size_t)((v->taps + nt - 1) / nt);
  return blocks * (size_t)(cb * nt * LC_VL);
}

static void vec_backward_weight(const cpu_run *r, const cpu_tensors *t) {
  const conv_problem *p = r->p;
  const vec_geom v = vec_geom_for(p);
  const vec_ws s = vec_ws_for(p, r->op);
  int64_t bands;
  const int64_t chunks = vec_wg_chunks(p, &bands);
  const int64_t per = bands > 1 ? 1 : (p->n + chunks - 1) / chunks;
  const int64_t tasks = chunks * p->groups;
  const size_t in_plane = (size_t)(p->h * p->w);
  const size_t out_plane = (size_t)(p->h_out * p->w_out);
  const int64_t ds = lc_round_up(p->w_out, LC_VL);
  const size_t gsize = (size_t)(v.cog * v.cig * v.taps);
  const size_t dwsize = gsize * (size_t)p->groups;
  float *parts = (float *)r->ws;
#pragma omp parallel num_threads(r->threads)
  {
    float *xb = vec_slice(r, &s, cpu_thread_id()) + s.wpk;
    float *dyb = xb + s.xbuf;
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < tasks; task++) {
      int64_t ch = task / p->groups, grp = task % p->groups;
      float *part = parts + (size_t)ch * dwsize + (size_t)grp * gsize;
      memset(part, 0, gsize * sizeof(float));
      const int64_t n_end = bands > 1 ? ch / bands + 1 : (ch + 1) * per;
      for (int64_t n = bands > 1 ? ch / bands : ch * per; n < n_end && n < p->n; n++) {
        /* The image, or its band: a problem of its own (q, geometry vq),
         * its input from row row0, its dy from row oh0. */
        conv_problem q = *p;
        int64_t oh0 = 0, row0 = 0;
        if (bands > 1) q = vec_band(p, ch % bands, bands, &oh0, &row0);
        if (q.h <= 0) continue; /* rows reading only padding: dw gets 0 */
        vec_geom vq = vec_geom_for(&q);
        int64_t tofs[LC_VEC_MAX_TAPS]; /* its plane's rows per phase */
        vec_tap_offsets(&vq, tofs);
        const float *xn = t->x + (size_t)(n * p->c_in + grp * v.cig) * in_plane +
                          (size_t)(row0 * p->w);
        for (int64_t ci = 0; ci < v.cig; ci++)
          lc_plane_fill(&q, xn + (size_t)ci * in_plane, vq.g,
                        xb + (size_t)ci * lc_plane_floats(vq.g));
        for (int64_t c = 0; c < v.cog; c++) {
          const float *src = t->dy + (size_t)(n * p->c_out + grp * v.cog + c) * out_plane +
                             (size_t)(oh0 * p->w_out);
          float *dst = dyb + (size_t)c * (size_t)(q.h_out * ds);
          for (int64_t oh = 0; oh < q.h_out; oh++) {
            memcpy(dst + oh * ds, src + oh * p->w_out, (size_t)p->w_out * sizeof(float));
            for (int64_t k = p->w_out; k < ds; k++) dst[oh * ds + k] = 0.0f;
          }
        }
        lc_kern->vec_wg_image(&vq, xb, dyb, ds, tofs, part,
                     dyb + (size_t)v.cog * (size_t)(q.h_out * ds));
      }
    }
    /* Sum the chunks in order, in double; write dw with flip applied. */
#pragma omp for schedule(static)
    for (int64_t e = 0; e < (int64_t)dwsize; e++) {
      double acc = 0.0;
      for (int64_t ch = 0; ch < chunks; ch++) acc += parts[(size_t)ch * dwsize + (size_t)e];
      int64_t k = e % v.taps, rest = e / v.taps;
      int64_t i = k / p->kw, j = k % p->kw;
      t->dw[rest * v.taps + cpu_tap(i, p->kh, p->flip_kernel) * p->kw +
            cpu_tap(j, p->kw, p->flip_kernel)] = (float)acc;
    }
  }
}

static conv_status vec_run(const cpu_run *r, const cpu_tensors *t,
                           conv_err *err) {
  switch (r->op) {
    case CONV_OP_FORWARD: vec_forward(r, t); break;
    case CONV_OP_BACKWARD_DATA: vec_backward_data(r, t); break;
    case CONV_OP_BACKWARD_WEIGHT: vec_backward_weight(r, t); break;
    default:
      return conv_err_set(err, CONV_ERROR_UNSUPPORTED,
                          "direct_vec: op %d is not served", (int)r->op);
  }
  return CONV_SUCCESS;
}

const cpu_algo cpu_algo_direct_vec = {
    .name = "direct_vec",
    .applies = vec_applies,
    .workspace_bytes = vec_workspace,
    .run = vec_run,
    .fuses_activation = 1,
    .fuses_dx_epilogue = 0,
};
