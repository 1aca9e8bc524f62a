/* SPDX-License-Identifier: Apache-2.0 */
/*
 * winograd_f4x4: 3x3 stride-1 undilated convolution by Winograd F(4x4, 3x3)
 * (Lavin & Gray): each 4x4 output tile costs 36 multiplications per channel
 * pair instead of 144.
 *
 *   U[e][co][ci] = (G g G^T)[e]            weights, 36 x c_out x c_in
 *   V[e][ci][t]  = (B^T d B)[e]            input tiles, 6x6 with stride 4
 *   M[e]         = U[e] * V[e]             36 GEMMs per chunk of tiles
 *   y tile       = A^T M A (+ bias)
 *
 * Tiles are taken a chunk of tile rows at a time (all images in sequence),
 * so the workspace is U plus two chunk buffers, independent of the batch.
 * The transforms are vectorised across the (up to 16) tiles of a tile row.
 * Backward-data is the same computation on dy with the weight transposed
 * and rotated, padding 2 - pad (zero padding only).
 * Every output element is computed by one GEMM and one transform in a
 * fixed order: deterministic for any thread count.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"
#include "kernels.h"
#include "simd.h"

#define WG_T_TARGET 192 /* tiles per chunk, roughly */

static int64_t ceil_div64(int64_t a, int64_t b) { return (a + b - 1) / b; }

static int wino_applies(const conv_problem *p, conv_op op, char *why,
                        size_t why_len) {
  if (op == CONV_OP_BACKWARD_BIAS) {
    snprintf(why, why_len, "not the bias gradient");
    return 0;
  }
  if (p->kh != 3 || p->kw != 3 || p->stride_h != 1 || p->stride_w != 1 ||
      p->dil_h != p->dil_w) {
    snprintf(why, why_len, "needs a 3x3 kernel, stride 1, equal dilations");
    return 0;
  }
  if (p->groups != 1) {
    snprintf(why, why_len, "groups=%lld is not 1", (long long)p->groups);
    return 0;
  }
  if (op == CONV_OP_BACKWARD_DATA &&
      (p->padding_mode != CONV_PAD_ZEROS || p->pad_t > 2 * p->dil_h ||
       p->pad_b > 2 * p->dil_h || p->pad_l > 2 * p->dil_w ||
       p->pad_r > 2 * p->dil_w)) {
    snprintf(why, why_len,
             "backward-data needs zero padding of at most 2 x dilation per side");
    return 0;
  }
  return 1;
}

static wino_prob wino_prob_for(const conv_problem *p, conv_op op) {
  wino_prob w;
  memset(&w, 0, sizeof w);
  w.n = p->n;
  if (op == CONV_OP_FORWARD) {
    w.c_in = p->c_in;
    w.c_out = p->c_out;
    w.h = p->h;
    w.w = p->w;
    w.h_out = p->h_out;
    w.w_out = p->w_out;
    w.pad_t = p->pad_t;
    w.pad_l = p->pad_l;
    w.hp = p->h + p->pad_t + p->pad_b;
    w.wp = p->w + p->pad_l + p->pad_r;
    w.mode = p->padding_mode;
  } else {
    w.c_in = p->c_out;
    w.c_out = p->c_in;
    w.h = p->h_out;
    w.w = p->w_out;
    w.h_out = p->h;
    w.w_out = p->w;
    w.pad_t = 2 * p->dil_h - p->pad_t;
    w.pad_l = 2 * p->dil_w - p->pad_l;
    w.hp = w.h + w.pad_t + 2 * p->dil_h - p->pad_b;
    w.wp = w.w + w.pad_l + 2 * p->dil_w - p->pad_r;
    w.mode = CONV_PAD_ZEROS;
  }
  w.d = p->dil_h;
  w.th = ((w.h_out + w.d - 1) / w.d + 3) / 4;
  w.tw = ((w.w_out + w.d - 1) / w.d + 3) / 4;
  w.rc = WG_T_TARGET / w.tw;
  if (w.rc < 1) w.rc = 1;
  if (w.rc > w.n * w.th) w.rc = w.n * w.th;
  w.t = w.rc * w.tw;
  /* Row pitch of V and M: the chunk's tiles rounded up to the GEMM's
   * panel, with LC_VL floats of slack past the last tile at least (the
   * input transform stores whole vectors). */
  w.ts = lc_round_up(w.t + LC_VL, WG_NR);
  w.ncob = (w.c_out + WG_MR - 1) / WG_MR;
  w.fast = lc_isa_level() >= 2;
  /* staged rows: 16-tile blocks read 4 * 16 + 2 columns */
  w.wq = lc_round_up(w.tw, 16) * 4 + 2 * LC_VL;
  return w;
}

typedef struct wino_ws {
  size_t u, v, m, stage; /* floats */
} wino_ws;

static wino_ws wino_ws_for(const wino_prob *w) {
  wino_ws s;
  s.u = cpu_mul_size(36, cpu_mul_size((size_t)(w->ncob * WG_MR), (size_t)w->c_in));
  s.v = cpu_mul_size(36, cpu_mul_size((size_t)w->c_in, (size_t)w->ts));
  s.m = cpu_mul_size(36, cpu_mul_size((size_t)w->c_out, (size_t)w->ts));
  s.stage = (size_t)(6 * w->wq + 8 * LC_VL * 6);
  return s;
}

/* The weight gradient's workspace: M (36 products of c_in x c_out, summed
 * over every chunk of tiles), V and D (the chunk's transformed input and
 * dy), and per thread the staging rows and the GEMM's packed operand. */
typedef struct wino_wg_ws {
  int own;         /* AVX-512 level: lc_kern->wgrad_step; below: cpu_sgemm */
  int64_t ldm;     /* own: M[e][ci][co], rows of ldm; else M[e][co][ci] */
  size_t m, v, d, stage, pack; /* floats */
} wino_wg_ws;

static wino_wg_ws wino_wg_ws_for(const wino_prob *w) {
  wino_wg_ws s;
  s.own = lc_isa_level() >= LC_ISA_AVX512;
  s.ldm = s.own ? lc_wgrad_ldct(w->c_out) : w->c_in;
  s.m = cpu_mul_size(36, cpu_mul_size((size_t)(s.own ? w->c_in : w->c_out),
                                      (size_t)s.ldm));
  s.v = cpu_mul_size(36, cpu_mul_size((size_t)w->c_in, (size_t)w->ts));
  s.d = cpu_mul_size(36, cpu_mul_size((size_t)w->c_out, (size_t)w->ts));
  s.stage = (size_t)(6 * w->wq + 8 * LC_VL * 6);
  s.pack = s.own ? lc_wgrad_pack_floats(w->c_out, w->ts) : 0;
  return s;
}

static size_t wino_workspace(const conv_problem *p, conv_op op, int threads) {
  if (op == CONV_OP_BACKWARD_WEIGHT) {
    wino_prob w = wino_prob_for(p, CONV_OP_FORWARD);
    wino_wg_ws s = wino_wg_ws_for(&w);
    size_t f = cpu_add_size(cpu_add_size(s.m, s.v), s.d);
    f = cpu_add_size(f, cpu_mul_size(cpu_add_size(s.stage, s.pack), (size_t)threads));
    return cpu_mul_size(cpu_add_size(f, 64), sizeof(float));
  }
  wino_prob w = wino_prob_for(p, op);
  wino_ws s = wino_ws_for(&w);
  size_t f = cpu_add_size(cpu_add_size(s.u, s.v), s.m);
  f = cpu_add_size(f, cpu_mul_size(s.stage, (size_t)threads));
  return cpu_mul_size(cpu_add_size(f, 64), sizeof(float));
}

/* --------------------------------------------------------- transforms */

/* ------------------------------------------------------------------ run */

/* Where the 3x3 taps (kernel-offset order) of a pair (co, ci) of the
 * computed problem lie: tap k of the pair is wt[wino_pair(...) + off[k]]
 * (flip applied; for backward-data transposed and rotated). */
static void wino_tap_offsets(const conv_problem *p, conv_op op, int64_t off[9]) {
  const int flip = p->flip_kernel;
  for (int64_t i = 0; i < 3; i++)
    for (int64_t j = 0; j < 3; j++)
      off[i * 3 + j] = op == CONV_OP_FORWARD
                           ? cpu_tap(i, 3, flip) * 3 + cpu_tap(j, 3, flip)
                           : cpu_tap(2 - i, 3, flip) * 3 + cpu_tap(2 - j, 3, flip);
}

static size_t wino_pair(const conv_problem *p, conv_op op, int64_t co,
                        int64_t ci) {
  return op == CONV_OP_FORWARD ? (size_t)(co * p->c_in + ci) * 9
                               : (size_t)(ci * p->c_in + co) * 9;
}

static void wino_run_prob(const cpu_run *r, const wino_prob *wall,
                          const float *x, const float *wt,
                          const float *bias, float *y, float *u, float *v,
                          float *m, float *stage_base, size_t stage_floats) {
  const wino_prob *w0 = wall;
  const size_t in_plane = (size_t)(w0->h * w0->w);
  const size_t out_plane = (size_t)(w0->h_out * w0->w_out);
  const int64_t rows = w0->n * w0->th;
  const size_t vt = (size_t)w0->c_in * (size_t)w0->ts;  /* V stride per e */
  const size_t mt = (size_t)w0->c_out * (size_t)w0->ts; /* M stride per e */
  const size_t ut = (size_t)(w0->ncob * WG_MR) * (size_t)w0->c_in;
  const int64_t ncib = (w0->c_in + LC_VL - 1) / LC_VL;
  int64_t off[9];
  wino_tap_offsets(r->p, r->op, off);
#pragma omp parallel num_threads(r->threads)
  {
    float *stage = stage_base + stage_floats * (size_t)cpu_thread_id();
    if (w0->fast) {
      /* Lanes: 2 input channels x 8 output channels, so that each
       * transformed element is one contiguous 16-float store. */
      const int64_t ncp = (w0->c_in + 1) / 2;
#pragma omp for schedule(static)
      for (int64_t task = 0; task < w0->ncob * ncp; task++) {
        int64_t cb = task / ncp, ci0 = (task % ncp) * 2;
        float gt[9 * LC_VL];
        for (int64_t l = 0; l < LC_VL; l++) {
          int64_t co = cb * WG_MR + l % WG_MR, ci = ci0 + l / WG_MR;
          const int in = co < w0->c_out && ci < w0->c_in;
          const float *g = in ? wt + wino_pair(r->p, r->op, co, ci) : NULL;
          for (int k = 0; k < 9; k++) gt[k * LC_VL + l] = in ? g[off[k]] : 0.0f;
        }
        lc_kern->wino_weight(w0, gt, cb * WG_MR, ci0, ci0 + 1 < w0->c_in ? 16 : 8, u);
      }
    } else {
#pragma omp for schedule(static)
      for (int64_t task = 0; task < w0->c_out * ncib; task++) {
        int64_t co = task / ncib, ci0 = (task % ncib) * LC_VL;
        int64_t cnt = w0->c_in - ci0 < LC_VL ? w0->c_in - ci0 : LC_VL;
        float gt[9 * LC_VL];
        for (int64_t l = 0; l < LC_VL; l++) {
          const float *g = l < cnt ? wt + wino_pair(r->p, r->op, co, ci0 + l) : NULL;
          for (int k = 0; k < 9; k++) gt[k * LC_VL + l] = l < cnt ? g[off[k]] : 0.0f;
        }
        lc_kern->wino_weight(w0, gt, co, ci0, cnt, u);
      }
    }
    for (int64_t ph = 0; ph < wall->d * wall->d; ph++) {
    wino_prob wph = *wall;
    wph.pa = ph / wall->d;
    wph.pb = ph % wall->d;
    const wino_prob *w = &wph;
    for (int64_t row0 = 0; row0 < rows; row0 += w->rc) {
      int64_t nr = rows - row0 < w->rc ? rows - row0 : w->rc;
      int64_t nt = nr * w->tw;
      /* A channel's tile rows in order, in one task (wino_in's stores
       * spill into the next row's slots). */
#pragma omp for schedule(dynamic, 1)
      for (int64_t ci = 0; ci < w->c_in; ci++)
        for (int64_t rr = 0; rr < nr; rr++) {
          int64_t row = row0 + rr, n = row / w->th, tr = row % w->th;
          lc_kern->wino_in(w, x + (size_t)(n * w->c_in + ci) * in_plane, tr,
                           stage, v + (size_t)ci * (size_t)w->ts, vt,
                           (size_t)(rr * w->tw));
        }
      if (w->fast) {
        int64_t ntb = (nt + WG_NR - 1) / WG_NR;
#pragma omp for schedule(dynamic, 1)
        for (int64_t task = 0; task < 36 * ntb; task++) {
          int64_t e = task / ntb, tb = task % ntb;
          lc_kern->wino_gemm(u + (size_t)e * ut, v + (size_t)e * vt + (size_t)(tb * WG_NR),
                    m + (size_t)e * mt + (size_t)(tb * WG_NR), w->c_in, w->c_out,
                    w->ncob, w->ts);
        }
      } else {
#pragma omp for schedule(dynamic, 1)
        for (int64_t e = 0; e < 36; e++)
          cpu_sgemm(0, 0, w->c_out, nt, w->c_in, 1.0f, u + (size_t)e * ut,
                    w->c_in, v + (size_t)e * vt, w->ts, 0.0f,
                    m + (size_t)e * mt, w->ts);
      }
#pragma omp for schedule(dynamic, 4)
      for (int64_t task = 0; task < w->c_out * nr; task++) {
        int64_t co = task / nr, rr = task % nr;
        int64_t row = row0 + rr, n = row / w->th, tr = row % w->th;
        float *yc = y + (size_t)(n * w->c_out + co) * out_plane;
        lc_kern->wino_out(w, m + (size_t)co * (size_t)w->ts, mt, (size_t)(rr * w->tw),
                 bias ? bias[co] : 0.0f, yc, tr, stage);
        const conv_activation act =
            r->op == CONV_OP_FORWARD ? r->p->activation
            : r->dx_epilogue         ? r->dx_act
                                     : CONV_ACT_NONE;
        if (act != CONV_ACT_NONE) {
          /* The epilogue on the rows just written: output rows pa + d*(4tr
           * + i), columns pb + d*j (this phase's only). */
          const int64_t oh0 = w->pa + w->d * tr * 4;
          int64_t nrow = 0;
          while (nrow < 4 && oh0 + w->d * nrow < w->h_out) nrow++;
          const int64_t ncol = (w->w_out - w->pb + w->d - 1) / w->d;
          cpu_act_tile(act,
                       r->op == CONV_OP_FORWARD ? r->p->activation_alpha
                                                : r->dx_alpha,
                       0.0f, yc + oh0 * w->w_out + w->pb, nrow,
                       w->d * w->w_out, ncol, w->d);
        }
      }
    }
    }
  }
}

/* The weight gradient: the forward's tiles (per dilation phase), for each
 * chunk of tile rows V = B^T x B (wino_in, as forward) and D = A dy A^T
 * (wino_dy), then M[e] += D[e] V[e]^T over the chunk's tiles; at the end
 * dw = G^T M G per channel pair. Each element of M belongs to one GEMM
 * task per chunk and takes the chunks in order: deterministic for any
 * thread count. */
static void wino_wgrad_run(const cpu_run *r, const wino_prob *wall,
                           const float *x, const float *dy, float *dw,
                           const wino_wg_ws *s, float *mt, float *v, float *dd,
                           float *tbase) {
  const wino_prob *w0 = wall;
  const size_t in_plane = (size_t)(w0->h * w0->w);
  const size_t out_plane = (size_t)(w0->h_out * w0->w_out);
  const int64_t rows = w0->n * w0->th;
  const int64_t c_in = w0->c_in, c_out = w0->c_out;
  const size_t vt = (size_t)c_in * (size_t)w0->ts;
  const size_t dt = (size_t)c_out * (size_t)w0->ts;
  const size_t es = (size_t)(s->own ? c_in : c_out) * (size_t)s->ldm;
  /* GEMM tasks: the 36 elements, each split into row blocks of c_in (at
   * most 240 rows: the in-place operand, rows x chunk tiles, stays in L2
   * while every panel of D sweeps it), more where 36 tasks would leave
   * threads idle. The split changes no sum. */
  int64_t nrb = ceil_div64(4 * (int64_t)r->threads, 36);
  if (nrb < ceil_div64(c_in, 240)) nrb = ceil_div64(c_in, 240);
  int64_t rb = lc_round_up(ceil_div64(c_in, nrb), 12);
  nrb = ceil_div64(c_in, rb);
  int64_t off[9];
  wino_tap_offsets(r->p, CONV_OP_FORWARD, off);
#pragma omp parallel num_threads(r->threads)
  {
    float *stage = tbase + (s->stage + s->pack) * (size_t)cpu_thread_id();
    float *pack = stage + s->stage;
    int first = 1;
    for (int64_t ph = 0; ph < wall->d * wall->d; ph++) {
      wino_prob wph = *wall;
      wph.pa = ph / wall->d;
      wph.pb = ph % wall->d;
      const wino_prob *w = &wph;
      for (int64_t row0 = 0; row0 < rows; row0 += w->rc) {
        const int64_t nr = rows - row0 < w->rc ? rows - row0 : w->rc;
        const int64_t nt = nr * w->tw;
        /* A channel's tile rows in order, in one task (the transforms'
         * stores spill into the next row's slots). */
#pragma omp for schedule(dynamic, 1)
        for (int64_t c = 0; c < c_in + c_out; c++)
          for (int64_t rr = 0; rr < nr; rr++) {
            const int64_t row = row0 + rr, n = row / w->th, tr = row % w->th;
            if (c < c_in)
              lc_kern->wino_in(w, x + (size_t)(n * c_in + c) * in_plane, tr,
                               stage, v + (size_t)c * (size_t)w->ts, vt,
                               (size_t)(rr * w->tw));
            else
              lc_kern->wino_dy(w, dy + (size_t)(n * c_out + c - c_in) * out_plane,
                               tr, stage, dd + (size_t)(c - c_in) * (size_t)w->ts,
                               dt, (size_t)(rr * w->tw));
          }
        if (s->own) {
#pragma omp for schedule(dynamic, 1)
          for (int64_t task = 0; task < 36 * nrb; task++) {
            const int64_t e = task / nrb, r0 = (task % nrb) * rb;
            const int64_t nrows = c_in - r0 < rb ? c_in - r0 : rb;
            lc_kern->wgrad_step(v + (size_t)e * vt + (size_t)r0 * (size_t)w->ts,
                                w->ts, nrows, dd + (size_t)e * dt, w->ts, c_out,
                                nt, !first,
                                mt + (size_t)e * es + (size_t)r0 * (size_t)s->ldm,
                                s->ldm, pack);
          }
        } else {
#pragma omp for schedule(dynamic, 1)
          for (int64_t e = 0; e < 36; e++)
            cpu_sgemm(0, 1, c_out, c_in, nt, 1.0f, dd + (size_t)e * dt, w->ts,
                      v + (size_t)e * vt, w->ts, first ? 0.0f : 1.0f,
                      mt + (size_t)e * es, c_in);
        }
        first = 0;
      }
    }
    /* dw = G^T M G, 16 pairs at a time along M's rows. */
    const int64_t lanes = s->own ? c_out : c_in, other = s->own ? c_in : c_out;
    const int64_t nlb = ceil_div64(lanes, LC_VL);
    float gt[9 * LC_VL];
#pragma omp for schedule(static)
    for (int64_t task = 0; task < other * nlb; task++) {
      const int64_t o = task / nlb, l0 = (task % nlb) * LC_VL;
      const int64_t cnt = lanes - l0 < LC_VL ? lanes - l0 : LC_VL;
      lc_kern->wino_wout(mt + (size_t)o * (size_t)s->ldm + (size_t)l0, es, cnt, gt);
      for (int64_t l = 0; l < cnt; l++) {
        const int64_t co = s->own ? l0 + l : o, ci = s->own ? o : l0 + l;
        float *g = dw + (size_t)(co * c_in + ci) * 9;
        for (int k = 0; k < 9; k++) g[off[k]] = gt[k * LC_VL + l];
      }
    }
  }
}

static conv_status wino_run(const cpu_run *r, const cpu_tensors *t,
                            conv_err *err) {
  const conv_problem *p = r->p;
  if (r->op == CONV_OP_BACKWARD_WEIGHT) {
    const wino_prob w = wino_prob_for(p, CONV_OP_FORWARD);
    const wino_wg_ws s = wino_wg_ws_for(&w);
    float *mt = (float *)r->ws;
    float *v = mt + s.m;
    float *dd = v + s.v;
    wino_wgrad_run(r, &w, t->x, t->dy, t->dw, &s, mt, v, dd, dd + s.d);
    return CONV_SUCCESS;
  }
  if (r->op != CONV_OP_FORWARD && r->op != CONV_OP_BACKWARD_DATA)
    return conv_err_set(err, CONV_ERROR_UNSUPPORTED,
                        "winograd_f4x4: op %d is not served", (int)r->op);
  const wino_prob w = wino_prob_for(p, r->op);
  const wino_ws s = wino_ws_for(&w);
  float *u = (float *)r->ws;
  float *v = u + s.u;
  float *m = v + s.v;
  float *stage = m + s.m;
  if (r->op == CONV_OP_FORWARD)
    wino_run_prob(r, &w, t->x, t->w, t->b, t->y, u, v, m, stage, s.stage);
  else
    wino_run_prob(r, &w, t->dy, t->w, r->dx_epilogue ? t->b : NULL, t->dx, u,
                  v, m, stage, s.stage);
  return CONV_SUCCESS;
}

const cpu_algo cpu_algo_winograd_f4x4 = {
    .name = "winograd_f4x4",
    .applies = wino_applies,
    .workspace_bytes = wino_workspace,
    .run = wino_run,
    .fuses_activation = 1,
    .fuses_dx_epilogue = 1,
};
