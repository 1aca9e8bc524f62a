/* SPDX-License-Identifier: Apache-2.0 */
/*
 * winograd_f2x2: 3x3 stride-1 undilated convolution with zero padding by
 * Winograd F(2x2, 3x3) (Lavin & Gray): each 2x2 output tile costs 16
 * multiplications per channel pair instead of 36.
 *
 *   U[e][co][ci] = (G g G^T)[e]         weights, 16 x c_out x c_in
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

/* Planes of at most this many tiles a row are transformed as one run of
 * all their tiles through strips (wf2_input, wf2_output): a row of tiles
 * fills at most half of the 16 lanes of a step. */
#define WF2_STRIP_TW 8

/* The forward-shaped problem computed: forward as given, backward data as
 * the correlation of dy (c_out channels) with the rotated, transposed
 * weight. */
typedef struct wf2_prob {
  int64_t n, c_in, c_out, h, w, h_out, w_out, pad_t, pad_l;
  int64_t th, tw;   /* tiles per plane: rows, columns */
  int64_t hp, wq;   /* the staged plane: 2 th + 2 rows of wq floats (its
                     * 2 tw + 2 columns and what wf2_in_row's 16-tile
                     * steps read past them) */
  int64_t sl;       /* small planes (tw <= WF2_STRIP_TW): floats of a
                     * strip, else 0 */
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
  /* A strip: th + 1 rows of 2 tw (<= 16) floats, copied 16 floats a row
   * (the rest rewritten by the next row, or slack), readable to the 2 tw +
   * 2 lc_round_up(th tw, 16) floats wf2_in_row reads from its second row
   * on. */
  if (f.tw <= WF2_STRIP_TW)
    f.sl = 2 * f.tw + 2 * lc_round_up(f.th * f.tw, 16) + 16;
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
/* Per thread: the staged plane, then for small planes 4 input strips and
 * the output's two (4 th tw floats and 32 that wf2_out_row may store past
 * them). */
static size_t wf2_stage(const wf2_prob *f) {
  size_t s = cpu_add_size(cpu_mul_size((size_t)f->hp, (size_t)f->wq), 16);
  if (f->sl > 0)
    s = cpu_add_size(s, (size_t)(4 * f->sl + 4 * f->th * f->tw + 32));
  return s;
}

static size_t wf2_workspace(const conv_problem *p, conv_op op, int threads) {
  if (op != CONV_OP_FORWARD && op != CONV_OP_BACKWARD_DATA) return 0;
  const wf2_prob f = wf2_prob_for(p, op);
  size_t fl = cpu_add_size(cpu_add_size(wf2_u(&f), wf2_v(&f)), wf2_m(&f));
  fl = cpu_add_size(fl, cpu_mul_size(wf2_stage(&f), (size_t)threads));
  return cpu_mul_size(fl, sizeof(float));
}

/* ------------------------------------------------------------ transforms */

/* V for one channel plane of one image: the plane staged in buf (hp rows
 * of wq floats, input row r at row r + pad_t, column pad_l; the zero
 * border around it, written once by the caller, stays), then B^T d B by wf2_in_row; element e of tile t at v[e * ve +
 * t]. A large plane goes a row of tiles at a time. A small one goes in one
 * run of all its tiles, from 4 strips after buf, each th + 1 rows of 2 tw
 * floats: the staged plane's even rows (2 ty) and odd rows (2 ty + 1),
 * their columns from 0 and from 2; so tile t = ty tw + tx's row r lies at
 * column 2 t of a strip's row r / 2 on. */
static void wf2_input(const wf2_prob *f, const float *xc, float *buf,
                      float *v, size_t ve) {
  for (int64_t r = 0; r < f->h; r++)
    memcpy(buf + (r + f->pad_t) * f->wq + f->pad_l, xc + r * f->w,
           (size_t)f->w * sizeof(float));
  const float *rows[8];
  if (f->sl == 0) {
    for (int64_t ty = 0; ty < f->th; ty++) {
      for (int r = 0; r < 4; r++) {
        rows[r] = buf + (2 * ty + r) * f->wq;
        rows[4 + r] = rows[r] + 2;
      }
      lc_kern->wf2_in_row(rows, f->tw, v + ty * f->tw, ve,
                          (f->th - ty) * f->tw);
    }
    return;
  }
  float *strip = buf + f->hp * f->wq + 16;
  const int64_t rl = 2 * f->tw;
  for (int q = 0; q < 4; q++)
    for (int64_t ty = 0; ty <= f->th; ty++)
      memcpy(strip + q * f->sl + ty * rl,
             buf + (2 * ty + q % 2) * f->wq + (q / 2) * 2, 16 * sizeof(float));
  for (int r = 0; r < 4; r++) {
    rows[r] = strip + (r % 2) * f->sl + (r / 2) * rl;
    rows[4 + r] = rows[r] + 2 * f->sl;
  }
  lc_kern->wf2_in_row(rows, f->th * f->tw, v, ve, f->th * f->tw);
}

/* One output plane from M (element e of tile t at m[e * me + t]): A^T m A
 * + bias by wf2_out_row, a row of tiles at a time, or for a small plane in
 * one run of all its tiles into two strips after stage (output rows 2 ty
 * and 2 ty + 1 of every tile row, one after another), copied out. */
static void wf2_output(const wf2_prob *f, const float *m, size_t me,
                       float bias, float *yc, float *stage) {
  if (f->sl == 0) {
    for (int64_t ty = 0; ty < f->th; ty++) {
      const int64_t oh = 2 * ty;
      lc_kern->wf2_out_row(m + ty * f->tw, me, f->tw, bias,
                           yc + oh * f->w_out,
                           oh + 1 < f->h_out ? yc + (oh + 1) * f->w_out : NULL,
                           f->w_out, (f->h_out - oh) * f->w_out);
    }
    return;
  }
  const int64_t nt = f->th * f->tw, rl = 2 * f->tw;
  float *y0 = stage + f->hp * f->wq + 16 + 4 * f->sl, *y1 = y0 + 2 * nt;
  lc_kern->wf2_out_row(m, me, nt, bias, y0, y1, 2 * nt, 4 * nt + 32);
  /* Rows by 16 floats (w_out <= 16) where the plane has room: the rest is
   * rewritten by the rows after. */
  const int64_t plane = f->h_out * f->w_out;
  for (int64_t oh = 0; oh < f->h_out; oh++) {
    const float *src = (oh % 2 ? y1 : y0) + oh / 2 * rl;
    float *dst = yc + oh * f->w_out;
    if (oh * f->w_out + 16 <= plane)
      memcpy(dst, src, 16 * sizeof(float));
    else
      memcpy(dst, src, (size_t)f->w_out * sizeof(float));
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
  const size_t stage_f = wf2_stage(&f);
  const size_t in_plane = (size_t)(f.h * f.w);
  const size_t out_plane = (size_t)(f.h_out * f.w_out);
  const size_t ue = (size_t)(f.c_out * f.c_in);
  const int64_t tpi = f.th * f.tw; /* tiles per image */
  /* The computed pair (co, ci)'s taps are w[co][ci] for the forward,
   * w[ci][co] rotated for backward data; a flip rotates them (again). */
  const int rev = fwd ? p->flip_kernel != 0 : p->flip_kernel == 0;
  /* U[e][co][ci] of the computed problem by blocks of 16 of its input
   * channels, the lanes of wf2_weight: the forward's pairs w[co][ci0 ..]
   * lie 9 floats apart, backward data's (w[ci0 ..][co] of the forward
   * weight, transposed) 9 c_in floats apart; either way U's rows come out
   * whole, so every GEMM multiplies it untransposed. */
  const int64_t nlb = (f.c_in + 15) / 16;
  const int64_t wfloats = p->c_out * p->c_in * 9;
  const int64_t mb = f.mb, nmb = f.nmb;
#pragma omp parallel num_threads(r->threads)
  {
    float *stage = stage0 + stage_f * (size_t)cpu_thread_id();
    /* The staged plane's border, and the input strips' slack (read into
     * lanes that are not stored), zero for every plane the thread stages:
     * wf2_input writes only the plane's rows and the strips' rows. */
    memset(stage, 0, (size_t)(f.hp * f.wq + 16 + 4 * f.sl) * sizeof(float));
#pragma omp for schedule(static)
    for (int64_t task = 0; task < f.c_out * nlb; task++) {
      const int64_t o = task / nlb, l0 = task % nlb * 16;
      const int64_t cnt = wf2_min(16, f.c_in - l0);
      const float *rows[16];
      for (int64_t l = 0; l < 16; l++) {
        const int64_t i = l0 + (l < cnt ? l : cnt - 1);
        rows[l] = t->w + (size_t)(fwd ? o * p->c_in + i : i * p->c_in + o) * 9;
      }
      lc_kern->wf2_weight(rows, t->w, wfloats, rev, cnt,
                          u + (size_t)o * (size_t)f.c_in + (size_t)l0, ue);
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
        cpu_sgemm(0, 0, rows, nt, f.c_in, 1.0f,
                  u + (size_t)e * ue + (size_t)(r0 * f.c_in), f.c_in,
                  v + (size_t)e * ve,
                  nt, 0.0f, m + (size_t)e * me + (size_t)(r0 * nt), nt);
      }
#pragma omp for schedule(dynamic, 4)
      for (int64_t task = 0; task < ni * f.c_out; task++) {
        const int64_t in = task / f.c_out, co = task % f.c_out;
        wf2_output(&f, m + (size_t)co * (size_t)nt + (size_t)(in * tpi), me,
                   bias != NULL ? bias[co] : 0.0f,
                   y + (size_t)((n0 + in) * f.c_out + co) * out_plane, stage);
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
