/* SPDX-License-Identifier: Apache-2.0 */
/*
 * winograd_f2x2: 3x3 stride-1 undilated convolution with zero padding by
 * Winograd F(2x2, 3x3) (Lavin & Gray): each 2x2 output tile costs 16
 * multiplications per channel pair instead of 36.
 *
 *   U[e][co][ci] = (G g G^T)[e]         weights, 16 x c_out x c_in
 *                                       (backward data: U[e][ci][co])
 *   V[e][ci][t]  = (B^T d B)[e]         input tiles, 4x4 with stride 2
 *   M[e]         = U[e] V[e]            16 GEMMs (cpu_sgemm) per chunk
 *   y tile       = A^T M[.][co][t] A + bias
 *
 * For small deep planes (ResNet's 7x7 stage): winograd_f4x4's 4x4 tiles
 * are there too few to reuse its transformed weights (36 c_in c_out floats,
 * each used once per tile), and im2col_gemm multiplies the zero border
 * (18% of a 7x7 plane's products). F(2x2)'s U is 16 c_in c_out floats and
 * an image gives four times as many tiles as with F(4x4).
 *
 * Backward data is the same computation on dy with the weight transposed
 * and rotated, padding 2 - pad. Tiles are taken a chunk of whole images at
 * a time, so V and M are bounded by WF2_CHUNK, not by the batch. Every
 * output element comes from one GEMM and one transform in a fixed order:
 * deterministic for any thread count. The plan applies the activation and
 * the dx epilogue (fuses_* = 0).
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"
#include "kernels.h"
#include "simd.h"

/* Floats of V and M together per chunk at most (unless one image needs
 * more): 8 MiB. */
#define WF2_CHUNK ((int64_t)2 * 1024 * 1024)

/* The forward-shaped problem computed: forward as given, backward data as
 * the correlation of dy (c_out channels) with the rotated, transposed
 * weight. */
typedef struct wf2_prob {
  int64_t n, c_in, c_out, h, w, h_out, w_out, pad_t, pad_l;
  int64_t th, tw;   /* tiles per plane: rows, columns */
  int64_t hp, wq;   /* the staged plane: 2 th + 2 rows of wq floats (its
                     * 2 tw + 2 columns and what wf2_in_row's 16-tile
                     * steps read past them) */
  int64_t ipc, nch; /* images per chunk, chunks */
  int64_t tc;       /* tiles of a full chunk (ipc th tw) */
  int64_t mb, nmb;  /* GEMM row blocks: rows each, count */
} wf2_prob;

static int64_t wf2_min(int64_t a, int64_t b) { return a < b ? a : b; }

static int wf2_applies(const conv_problem *p, conv_op op, char *why,
                       size_t why_len) {
  if (op != CONV_OP_FORWARD && op != CONV_OP_BACKWARD_DATA) {
    snprintf(why, why_len, "serves forward and backward data only");
    return 0;
  }
  if (p->kh != 3 || p->kw != 3 || p->stride_h != 1 || p->stride_w != 1 ||
      p->dil_h != 1 || p->dil_w != 1) {
    snprintf(why, why_len, "needs a 3x3 kernel, stride 1, dilation 1");
    return 0;
  }
  if (p->groups != 1) {
    snprintf(why, why_len, "groups=%lld is not 1", (long long)p->groups);
    return 0;
  }
  if (p->padding_mode != CONV_PAD_ZEROS || p->pad_t > 2 || p->pad_b > 2 ||
      p->pad_l > 2 || p->pad_r > 2) {
    snprintf(why, why_len, "needs zero padding of at most 2 per side");
    return 0;
  }
  /* The GEMMs' dimensions and leading dimensions (tiles of a chunk, at
   * least one image's) must fit the BLAS int. */
  const int64_t ho = op == CONV_OP_FORWARD ? p->h_out : p->h;
  const int64_t wo = op == CONV_OP_FORWARD ? p->w_out : p->w;
  const int64_t tpi = ((ho + 1) / 2) * ((wo + 1) / 2);
  if (tpi > INT_MAX / 16 || p->c_in > INT_MAX / 16 ||
      p->c_out > INT_MAX / 16) {
    snprintf(why, why_len, "%lld tiles a plane exceed the BLAS int range",
             (long long)tpi);
    return 0;
  }
  return 1;
}

static wf2_prob wf2_prob_for(const conv_problem *p, conv_op op) {
  wf2_prob f;
  memset(&f, 0, sizeof f);
  f.n = p->n;
  if (op == CONV_OP_FORWARD) {
    f.c_in = p->c_in;
    f.c_out = p->c_out;
    f.h = p->h;
    f.w = p->w;
    f.h_out = p->h_out;
    f.w_out = p->w_out;
    f.pad_t = p->pad_t;
    f.pad_l = p->pad_l;
  } else {
    f.c_in = p->c_out;
    f.c_out = p->c_in;
    f.h = p->h_out;
    f.w = p->w_out;
    f.h_out = p->h;
    f.w_out = p->w;
    f.pad_t = 2 - p->pad_t;
    f.pad_l = 2 - p->pad_l;
  }
  f.th = (f.h_out + 1) / 2;
  f.tw = (f.w_out + 1) / 2;
  /* Tile (ty, tx) reads padded rows 2 ty .. 2 ty + 3 and columns 2 tx ..
   * 2 tx + 3; the input fits (h_out = h + pad_t + pad_b - 2, pads >= 0). */
  f.hp = 2 * f.th + 2;
  f.wq = 2 * lc_round_up(f.tw, 16) + 2;
  const int64_t per_image = 16 * (f.c_in + f.c_out) * f.th * f.tw;
  f.ipc = per_image > 0 ? WF2_CHUNK / per_image : 1;
  if (f.ipc < 1) f.ipc = 1;
  if (f.ipc > f.n) f.ipc = f.n;
  f.nch = (f.n + f.ipc - 1) / f.ipc;
  f.tc = f.ipc * f.th * f.tw;
  /* GEMM row blocks: at least 128 rows each, up to 4 per product. */
  f.nmb = f.c_out / 128;
  f.nmb = f.nmb < 1 ? 1 : f.nmb > 4 ? 4 : f.nmb;
  f.mb = (f.c_out + f.nmb - 1) / f.nmb;
  f.nmb = (f.c_out + f.mb - 1) / f.mb;
  return f;
}

/* Floats: U, V, M, then a staged plane per thread. */
static size_t wf2_u(const wf2_prob *f) {
  return cpu_mul_size(16, cpu_mul_size((size_t)f->c_out, (size_t)f->c_in));
}
static size_t wf2_v(const wf2_prob *f) {
  return cpu_mul_size(16, cpu_mul_size((size_t)f->c_in, (size_t)f->tc));
}
/* M and 16 floats wf2_out_row may read past its last tile. */
static size_t wf2_m(const wf2_prob *f) {
  return cpu_add_size(
      cpu_mul_size(16, cpu_mul_size((size_t)f->c_out, (size_t)f->tc)), 16);
}
/* Per thread: the staged plane, and for backward data a row block of U
 * transposed back (mb x c_in). */
static size_t wf2_stage(const wf2_prob *f, conv_op op) {
  size_t s = cpu_add_size(cpu_mul_size((size_t)f->hp, (size_t)f->wq), 16);
  if (op == CONV_OP_BACKWARD_DATA)
    s = cpu_add_size(s, cpu_mul_size((size_t)f->mb, (size_t)f->c_in));
  return s;
}

static size_t wf2_workspace(const conv_problem *p, conv_op op, int threads) {
  if (op != CONV_OP_FORWARD && op != CONV_OP_BACKWARD_DATA) return 0;
  const wf2_prob f = wf2_prob_for(p, op);
  size_t fl = cpu_add_size(cpu_add_size(wf2_u(&f), wf2_v(&f)), wf2_m(&f));
  fl = cpu_add_size(fl, cpu_mul_size(wf2_stage(&f, op), (size_t)threads));
  return cpu_mul_size(fl, sizeof(float));
}

/* ------------------------------------------------------------ transforms */

/* V for one channel plane of one image: the plane staged with its zero
 * border (buf: hp rows of wq floats, input row r at row r + pad_t, column
 * pad_l), then B^T d B per row of tiles (wf2_in_row); element e of tile t
 * at v[e * ve + t]. */
static void wf2_input(const wf2_prob *f, const float *xc, float *buf,
                      float *v, size_t ve) {
  memset(buf, 0, (size_t)(f->hp * f->wq) * sizeof(float));
  for (int64_t r = 0; r < f->h; r++)
    memcpy(buf + (r + f->pad_t) * f->wq + f->pad_l, xc + r * f->w,
           (size_t)f->w * sizeof(float));
  for (int64_t ty = 0; ty < f->th; ty++)
    lc_kern->wf2_in_row(buf + 2 * ty * f->wq, f->wq, f->tw, v + ty * f->tw,
                        ve, (f->th - ty) * f->tw);
}

/* One output plane from M (element e of tile t at m[e * me + t]), a row
 * of tiles at a time (wf2_out_row: A^T m A + bias). */
static void wf2_output(const wf2_prob *f, const float *m, size_t me,
                       float bias, float *yc) {
  for (int64_t ty = 0; ty < f->th; ty++) {
    const int64_t oh = 2 * ty;
    lc_kern->wf2_out_row(m + ty * f->tw, me, f->tw, bias, yc + oh * f->w_out,
                         oh + 1 < f->h_out ? yc + (oh + 1) * f->w_out : NULL,
                         f->w_out, (f->h_out - oh) * f->w_out);
  }
}

/* ------------------------------------------------------------------ run */

static conv_status wf2_run(const cpu_run *r, const cpu_tensors *t,
                           conv_err *err) {
  const conv_problem *p = r->p;
  if (r->op != CONV_OP_FORWARD && r->op != CONV_OP_BACKWARD_DATA)
    return conv_err_set(err, CONV_ERROR_UNSUPPORTED,
                        "winograd_f2x2: op %d is not served", (int)r->op);
  const int fwd = r->op == CONV_OP_FORWARD;
  const wf2_prob f = wf2_prob_for(p, r->op);
  const float *x = fwd ? t->x : t->dy;
  const float *bias = fwd ? t->b : NULL;
  float *y = fwd ? t->y : t->dx;
  float *u = (float *)r->ws;
  float *v = u + wf2_u(&f);
  float *m = v + wf2_v(&f);
  float *stage0 = m + wf2_m(&f);
  const size_t stage_f = wf2_stage(&f, r->op);
  const size_t in_plane = (size_t)(f.h * f.w);
  const size_t out_plane = (size_t)(f.h_out * f.w_out);
  const size_t ue = (size_t)(f.c_out * f.c_in);
  const int64_t tpi = f.th * f.tw; /* tiles per image */
  /* Tap k (row-major) of the computed pair (co, ci): forward w[co][ci] with
   * flip; backward data w[ci][co] rotated (and flipped). */
  int64_t off[9];
  for (int64_t i = 0; i < 3; i++)
    for (int64_t j = 0; j < 3; j++)
      off[i * 3 + j] = fwd ? cpu_tap(i, 3, p->flip_kernel) * 3 +
                                 cpu_tap(j, 3, p->flip_kernel)
                           : cpu_tap(2 - i, 3, p->flip_kernel) * 3 +
                                 cpu_tap(2 - j, 3, p->flip_kernel);
  /* U in blocks of 16 pairs whose 9 taps lie one after another in w: the
   * forward's U[e][co][ci] by blocks of 16 input channels (w[co][ci0 ..]),
   * backward data's transposed, U[e][ci][co] (c_in x c_out of the
   * computed problem) by blocks of 16 of its output channels (w[ci][co0
   * ..]: the forward weight's input channels), multiplied transposed. */
  const int64_t lanes_dim = fwd ? f.c_in : f.c_out;  /* across a block */
  const int64_t other_dim = fwd ? f.c_out : f.c_in;
  const int64_t nlb = (lanes_dim + 15) / 16;
  const int64_t wfloats = p->c_out * p->c_in * 9;
  const int64_t mb = f.mb, nmb = f.nmb;
#pragma omp parallel num_threads(r->threads)
  {
    float *stage = stage0 + stage_f * (size_t)cpu_thread_id();
    float *ublk = stage + (size_t)(f.hp * f.wq) + 16; /* backward data */
#pragma omp for schedule(static)
    for (int64_t task = 0; task < other_dim * nlb; task++) {
      const int64_t o = task / nlb, l0 = task % nlb * 16;
      const int64_t cnt = wf2_min(16, lanes_dim - l0);
      const float *rows[16];
      for (int64_t l = 0; l < 16; l++)
        rows[l] = t->w + (size_t)(o * p->c_in + l0 + (l < cnt ? l : cnt - 1)) * 9;
      lc_kern->wf2_weight(rows, t->w, wfloats, off, cnt,
                          u + (size_t)o * (size_t)lanes_dim + (size_t)l0, ue);
    }
    for (int64_t ch = 0; ch < f.nch; ch++) {
      const int64_t n0 = ch * f.ipc, ni = wf2_min(f.ipc, f.n - n0);
      const int64_t nt = ni * tpi;
      const size_t ve = (size_t)(f.c_in * nt), me = (size_t)(f.c_out * nt);
#pragma omp for schedule(dynamic, 4)
      for (int64_t task = 0; task < ni * f.c_in; task++) {
        const int64_t in = task / f.c_in, ci = task % f.c_in;
        wf2_input(&f, x + (size_t)((n0 + in) * f.c_in + ci) * in_plane, stage,
                  v + (size_t)ci * (size_t)nt + (size_t)(in * tpi), ve);
      }
#pragma omp for schedule(dynamic, 1)
      for (int64_t task = 0; task < 16 * nmb; task++) {
        const int64_t e = task / nmb, r0 = task % nmb * mb;
        const int64_t rows = wf2_min(mb, f.c_out - r0);
        /* Backward data: the block's rows of U back from the transposed
         * U first (lc_sgemm runs A transposed with 8-row tiles only). */
        const float *a = u + (size_t)e * ue + (size_t)(r0 * f.c_in);
        if (!fwd) {
          lc_kern->wf2_transpose(u + (size_t)e * ue + (size_t)r0, f.c_out,
                                 f.c_in, rows, ublk, f.c_in);
          a = ublk;
        }
        cpu_sgemm(0, 0, rows, nt, f.c_in, 1.0f, a, f.c_in, v + (size_t)e * ve,
                  nt, 0.0f, m + (size_t)e * me + (size_t)(r0 * nt), nt);
      }
#pragma omp for schedule(dynamic, 4)
      for (int64_t task = 0; task < ni * f.c_out; task++) {
        const int64_t in = task / f.c_out, co = task % f.c_out;
        wf2_output(&f, m + (size_t)co * (size_t)nt + (size_t)(in * tpi), me,
                   bias != NULL ? bias[co] : 0.0f,
                   y + (size_t)((n0 + in) * f.c_out + co) * out_plane);
      }
    }
  }
  return CONV_SUCCESS;
}

const cpu_algo cpu_algo_winograd_f2x2 = {
    .name = "winograd_f2x2",
    .applies = wf2_applies,
    .workspace_bytes = wf2_workspace,
    .run = wf2_run,
    .fuses_activation = 0,
    .fuses_dx_epilogue = 0,
};
