/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Convolution plans of the libconv OpenCL backend and the four operations.
 *
 * Algorithms (one registry, algos[] below; the policy is the ordered list
 * policy[]: the first that applies to an operation wins; $CONV_ALGO forces
 * one, the tuning database may name one):
 *   direct          one work item per output element: depthwise and thin
 *                   grouped convolutions, and what no workspace can hold.
 *   gemm_1x1        1x1 kernel, stride 1, no padding: x is the column
 *                   matrix, one batched GEMM (gemm.cl) over images and
 *                   groups with the bias in its epilogue.
 *   im2col_gemm     im2col of a chunk of images into a workspace, then
 *                   gemm.cl; backward data is the GEMM then a gather col2im;
 *                   the weight gradient GEMM's inner dimension runs over
 *                   the chunk's images and positions (x transposed per
 *                   image by im2col_t, on CPU-style plans straight into
 *                   gemm_vec's B panels; dy read in place), split into
 *                   slices (split-K) when the output is too small to fill
 *                   the device, slices summed in order by sum_slices.
 *   dy_im2col_gemm  backward data with zero padding and stride 1 as the
 *                   forward convolution it is: im2col of dy (taps read
 *                   rotated, pads d*(k-1)-p), then the GEMM with the weight
 *                   transposed per group (weight_t, each run); no col2im.
 *   winograd_f2x2   forward of 3x3, stride 1, dilation 1: F(2x2,3x3)
 *                   transforms (winograd.cl) around 16 batched GEMMs of
 *                   K/G x tiles x C/G (2.25x fewer multiplications).
 *   clblast_1x1, clblast_im2col
 *                   the same lowerings with CLBlast's GEMM (one call per
 *                   image, group and, for the weight gradient, image of the
 *                   chunk, accumulating in order); the tuner keeps them
 *                   where they win.
 * The bias gradient is a fixed-order work-group reduction ("reduce").
 *
 * GEMM parameters (ocl_gemm_params) per operation come from, in order:
 * $CONV_OPENCL_GEMM, the tuning database (an entry for this exact problem,
 * then for its GEMM shape class), the device-type default. With $CONV_TUNE
 * set, plan creation times the candidates and records the winners.
 *
 * Everything a plan's run calls need is compiled here: programs (through
 * the disk cache), the work-group shapes the runs use (a warm-up launch
 * each), and CLBlast's kernels (one call of each shape on scratch buffers).
 *
 * Deterministic: no atomics, every sum in a fixed order, the same kernels
 * and shapes on every run of a plan.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "conv_env.h"
#include "opencl_internal.h"

enum { OP_FWD = 0, OP_BWD_DATA = 1, OP_BWD_WEIGHT = 2, NOPS = 3 };
static const char *const op_keys[NOPS] = {"fwd", "bwd_data", "bwd_weight"};

/* ------------------------------------------------------------ registry */

enum {
  ALGO_NONE = 0,
  ALGO_DIRECT,
  ALGO_GEMM1X1,
  ALGO_IM2COL,
  ALGO_CLBLAST1X1,
  ALGO_CLBLAST_IM2COL,
  ALGO_DY_IM2COL,
  ALGO_WINOGRAD,
  NALGOS
};

typedef struct algo_def {
  const char *name;
  int gemm;  /* 0: none, 1: gemm.cl, 2: CLBlast */
  int is1x1; /* x is the column matrix (fwd, bwd_data) */
} algo_def;

static const algo_def algos[NALGOS] = {
    [ALGO_NONE] = {"none", 0, 0},
    [ALGO_DIRECT] = {"direct", 0, 0},
    [ALGO_GEMM1X1] = {"gemm_1x1", 1, 1},
    [ALGO_IM2COL] = {"im2col_gemm", 1, 0},
    [ALGO_CLBLAST1X1] = {"clblast_1x1", 2, 1},
    [ALGO_CLBLAST_IM2COL] = {"clblast_im2col", 2, 0},
    [ALGO_DY_IM2COL] = {"dy_im2col_gemm", 1, 0},
    [ALGO_WINOGRAD] = {"winograd_f2x2", 1, 0},
};

/* The default policy: the first entry that applies wins. Rules:
 *   RULE_THIN  grouped convolutions with few channels per group;
 *   RULE_FEW   few channels both ways (<= 4 in, <= 16 out per group): the
 *              GEMMs would be too thin to pay for their lowering; forward
 *              and backward data only (the direct weight gradient has one
 *              work item per output channel, input channel and tap row:
 *              with few channels too few to fill the device; im2col_gemm
 *              measured 6.9 vs 0.9 GF/s on a 3->16 channel 512x512 layer);
 *   RULE_WIDE  both channel counts per group >= WINO_MIN_CHANNELS
 *              (Winograd's transforms cost per tile ~ C + K, its savings
 *              ~ C * K: with few channels they do not pay);
 *   RULE_DY    >= WINO_MIN_CHANNELS input channels per group (the rows of
 *              dy_im2col_gemm's GEMM). */
#define DIRECT_MAX_CG 4
#define FEW_MAX_KG 16
#define WINO_MIN_CHANNELS 16
enum { RULE_ANY, RULE_THIN, RULE_FEW, RULE_WIDE, RULE_DY };
static const struct {
  int algo, rule;
} policy[] = {
    {ALGO_DIRECT, RULE_THIN},
    {ALGO_DIRECT, RULE_FEW},
    {ALGO_GEMM1X1, RULE_ANY},
    {ALGO_WINOGRAD, RULE_WIDE},
    {ALGO_DY_IM2COL, RULE_DY},
    {ALGO_IM2COL, RULE_ANY},
    {ALGO_DIRECT, RULE_ANY},
};

/* ------------------------------------------------------------- kernels */

enum {
  K_IM2COL,
  K_IM2COL_ROWS,
  K_IM2COL_ROWS_PANEL,
  K_IM2COL_T,
  K_IM2COL_T_ROWS,
  K_IM2COL_T_PANEL,
  K_COL2IM,
  K_COL2IM_ROWS,
  K_BIAS_ADD,
  K_FWD_DIRECT,
  K_FWD_DIRECT_ROWS,
  K_BWD_DATA_DIRECT,
  K_BWD_DATA_DIRECT_ROWS,
  K_BWD_WEIGHT_DIRECT,
  K_BWD_WEIGHT_DIRECT_ROWS,
  K_BIAS_GRAD,
  K_SUM_SLICES,
  K_DY_IM2COL, /* im2col, im2col_rows or im2col_rows_panel over dy */
  K_WEIGHT_T,
  K_WINO_FILTER,
  K_WINO_INPUT,
  K_WINO_OUTPUT,
  K_WINO_FILTER_BD, /* the same three for backward data */
  K_WINO_INPUT_BD,
  K_WINO_OUTPUT_BD,
  NKERNELS
};
static const char *const kernel_names[NKERNELS] = {
    "im2col",          "im2col_rows",       "im2col_rows_panel", "im2col_t",
    "im2col_t_rows",   "im2col_t_panel",    "col2im",            "col2im_rows",
    "bias_add",        "fwd_direct",        "fwd_direct_rows",
    "bwd_data_direct", "bwd_data_direct_rows",
    "bwd_weight_direct", "bwd_weight_direct_rows", "bias_grad",
    "sum_slices", "dy_im2col", "weight_t", "wino_filter", "wino_input",
    "wino_output", "wino_filter", "wino_input", "wino_output"};
/* Index of the first geometry argument of each kernel (0: none). */
static const cl_uint kernel_geom_arg[NKERNELS] = {4, 4, 5, 4, 4, 5, 4, 4, 4, 6, 6,
                                                  4, 4, 4, 4, 3, 0, 4, 3,
                                                  4, 5, 6, 4, 5, 6};
/* The arguments a warm-up launch sets to make it a no-op: buffers to the
 * dummy, then the count argument (images, elements) to 0. */
static const struct {
  cl_uint nbuf, bufs[4], count;
  int long_arg; /* index of a long offset argument, or -1 */
} kernel_noop[NKERNELS] = {
    [K_IM2COL] = {2, {0, 2}, 3, 1},
    [K_IM2COL_ROWS] = {2, {0, 2}, 3, 1},
    [K_IM2COL_ROWS_PANEL] = {2, {0, 2}, 3, 1},
    [K_IM2COL_T] = {2, {0, 2}, 3, 1},
    [K_IM2COL_T_ROWS] = {2, {0, 2}, 3, 1},
    [K_IM2COL_T_PANEL] = {2, {0, 2}, 3, 1},
    [K_COL2IM] = {2, {0, 1}, 3, 2},
    [K_COL2IM_ROWS] = {2, {0, 1}, 3, 2},
    [K_BIAS_ADD] = {2, {0, 2}, 3, 1},
    [K_FWD_DIRECT] = {4, {0, 1, 2, 3}, 4, -1},
    [K_FWD_DIRECT_ROWS] = {4, {0, 1, 2, 3}, 4, -1},
    [K_BWD_DATA_DIRECT] = {3, {0, 1, 2}, 3, -1},
    [K_BWD_DATA_DIRECT_ROWS] = {3, {0, 1, 2}, 3, -1},
    [K_BWD_WEIGHT_DIRECT] = {3, {0, 1, 2}, 3, -1},
    [K_BWD_WEIGHT_DIRECT_ROWS] = {3, {0, 1, 2}, 3, -1},
    [K_BIAS_GRAD] = {2, {0, 1}, 2, -1},
    [K_SUM_SLICES] = {2, {0, 1}, 3, -1},
    [K_DY_IM2COL] = {2, {0, 2}, 3, 1},
    [K_WEIGHT_T] = {2, {0, 1}, 2, -1},
    [K_WINO_FILTER] = {2, {0, 1}, 2, -1},
    [K_WINO_INPUT] = {2, {0, 2}, 3, 1},
    [K_WINO_OUTPUT] = {3, {0, 1, 3}, 5, 2},
    [K_WINO_FILTER_BD] = {2, {0, 1}, 2, -1},
    [K_WINO_INPUT_BD] = {2, {0, 2}, 3, 1},
    [K_WINO_OUTPUT_BD] = {3, {0, 1, 3}, 5, 2},
};

/* What each operation's GEMM runs with. */
typedef struct op_choice {
  int algo;
  ocl_gemm_params gp;
  char source[48]; /* where gp came from */
} op_choice;

/* The environment a plan reads, once per plan_create: bad values are
 * errors that name the variable. */
typedef struct plan_env {
  int64_t cap;            /* bytes of one workspace buffer at most */
  int64_t forced_slices;  /* $CONV_OPENCL_WGRAD_SLICES, 0: none */
  int rows;               /* $CONV_OPENCL_LOWERING: -1 by device type */
  int tune;               /* $CONV_TUNE */
  char gemm[256];         /* $CONV_OPENCL_GEMM */
} plan_env;

typedef struct ocl_plan {
  ocl_device *dev;
  conv_problem p;
  op_choice ch[NOPS];
  ocl_program *gprog[NOPS];
  cl_kernel gk[NOPS];    /* gemm.cl kernel of each op (own GEMM) */
  int64_t cg, kg;        /* channels per group, in and out */
  size_t r, rt, np, hw;  /* GEMM depth cg*kh*kw, c_in*kh*kw; plane sizes */
  ocl_program *base;
  cl_kernel k[NKERNELS];
  size_t kmax[NKERNELS]; /* CL_KERNEL_WORK_GROUP_SIZE */
  cl_mem col;            /* im2col workspace: chunk images */
  cl_mem part;           /* weight gradient: split-K partial products */
  cl_mem tmp;            /* CLBlast's temporary buffer */
  size_t col_bytes, part_bytes, tmp_bytes;
  int slices;            /* split-K slices of the weight gradient */
  int rows;              /* lowering kernels loop over rows (CPUs) */
  int panel;             /* forward's im2col writes gemm_vec's B panels */
  size_t tn, pp;         /* their width; positions rounded up to it */
  int wpanel;            /* the weight gradient's im2col_t writes B panels */
  size_t wtnw, wpq;      /* their width; panels per image and group */
  cl_mem wt;             /* dy_im2col_gemm: the weight transposed per group */
  size_t wt_bytes;
  int dpanel;            /* dy's column matrix in panels too */
  size_t dtn, dpp;
  int64_t dchunk;        /* images per chunk of dy's column matrix */
  /* Winograd, [0] forward and [1] backward data: */
  cl_mem wu[2], wv[2], wm[2]; /* U, V, M */
  size_t wino_bytes;
  int64_t wchunk[2], tiles[2]; /* images per chunk; tiles per image */
  size_t wtn[2];               /* V's panel width (1: plain rows) */
  plan_env env;
  int64_t chunk;         /* images per im2col chunk */
} ocl_plan;

/* ------------------------------------------------------------- helpers */

static conv_status cl_fail(conv_err *err, const char *call, cl_int code) {
  conv_status st = CONV_ERROR_DEVICE;
  if (code == CL_OUT_OF_HOST_MEMORY || code == CL_MEM_OBJECT_ALLOCATION_FAILURE)
    st = CONV_ERROR_OUT_OF_MEMORY;
  return conv_err_set(err, st, "%s: %s (%d)", call, ocl_error_name(code),
                      (int)code);
}

static conv_status blast_fail(conv_err *err, const char *call,
                              CLBlastStatusCode code) {
  conv_status st = CONV_ERROR_DEVICE;
  if (code == CLBlastTempBufferAllocFailure ||
      code == CLBlastOpenCLOutOfHostMemory ||
      code == CLBlastOpenCLOutOfResources)
    st = CONV_ERROR_OUT_OF_MEMORY;
  return conv_err_set(err, st, "%s: %s (%d)", call, ocl_clblast_name(code),
                      (int)code);
}

static size_t round_up(size_t v, size_t m) { return (v + m - 1) / m * m; }

static double ceil_div_d(double a, double b) {
  const double q = a / b;
  const double f = (double)(int64_t)q;
  return f < q ? f + 1.0 : f;
}

static size_t pow2_at_least(size_t v) {
  size_t p = 1;
  while (p < v) p <<= 1;
  return p;
}


/* Sets argument idx of kernel kk to value. */
#define ARG(pl, kk, idx, type, value)                                        \
  do {                                                                       \
    type arg_ = (value);                                                     \
    cl_int e_ = clSetKernelArg((pl)->k[kk], (idx), sizeof arg_, &arg_);      \
    if (e_ != CL_SUCCESS) {                                                  \
      char call_[96];                                                        \
      snprintf(call_, sizeof call_, "clSetKernelArg(%s, %d)",                \
               kernel_names[kk], (int)(idx));                                \
      return cl_fail(err, call_, e_);                                        \
    }                                                                        \
  } while (0)

/* The function dy_im2col runs, and the index of its first geometry
 * argument. */
static int cmp_name(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *dy_im2col_fn(const ocl_plan *pl, cl_uint *geom) {
  *geom = pl->dpanel ? 5 : 4;
  return pl->dpanel ? "im2col_rows_panel" : pl->rows ? "im2col_rows" : "im2col";
}

/* The OpenCL function kernel kk of the plan runs: dy_im2col's variant,
 * and the Winograd transforms by tile rows on CPU-style plans. */
static const char *kernel_fn(const ocl_plan *pl, int kk) {
  cl_uint geom;
  if (kk == K_DY_IM2COL) return dy_im2col_fn(pl, &geom);
  if (pl->rows && (kk == K_WINO_INPUT || kk == K_WINO_INPUT_BD))
    return "wino_input_rows";
  if (pl->rows && (kk == K_WINO_OUTPUT || kk == K_WINO_OUTPUT_BD))
    return "wino_output_rows";
  return kernel_names[kk];
}

/* Work items along dimension 0 of Winograd's transforms of side (0
 * forward, 1 backward data): tiles, or tile rows on CPU-style plans. */
static size_t wino_d0(const ocl_plan *pl, int side) {
  const int64_t oh = side ? pl->p.h : pl->p.h_out;
  return pl->rows ? (size_t)((oh + 1) / 2) : (size_t)pl->tiles[side];
}

static conv_status set_geometry(ocl_plan *pl, int kk, conv_err *err) {
  const conv_problem *p = &pl->p;
  const int64_t v0[] = {p->c_in,    p->h,        p->w,      p->c_out,
                        p->kh,      p->kw,       p->h_out,  p->w_out,
                        p->stride_h, p->stride_w, p->dil_h, p->dil_w,
                        p->pad_t,   p->pad_b,    p->pad_l,  p->pad_r,
                        p->groups,  (int64_t)p->padding_mode,
                        (int64_t)(p->flip_kernel != 0)};
  /* Backward data as a convolution over dy (stride 1, zero padding): dy
   * is the input, dx the output, taps read rotated, pads d*(k-1)-p. */
  const int64_t v1[] = {p->c_out,   p->h_out,    p->w_out,  p->c_in,
                        p->kh,      p->kw,       p->h,      p->w,
                        1,          1,           p->dil_h,  p->dil_w,
                        p->dil_h * (p->kh - 1) - p->pad_t,
                        p->dil_h * (p->kh - 1) - p->pad_b,
                        p->dil_w * (p->kw - 1) - p->pad_l,
                        p->dil_w * (p->kw - 1) - p->pad_r,
                        p->groups,  (int64_t)CONV_PAD_ZEROS,
                        (int64_t)(p->flip_kernel == 0)};
  const int64_t *v = kk == K_DY_IM2COL || kk == K_WINO_FILTER_BD ||
                             kk == K_WINO_INPUT_BD || kk == K_WINO_OUTPUT_BD
                         ? v1 : v0;
  cl_uint first = kernel_geom_arg[kk];
  if (kk == K_DY_IM2COL) (void)dy_im2col_fn(pl, &first);
  for (cl_uint i = 0; i < sizeof v0 / sizeof v0[0]; i++)
    ARG(pl, kk, first + i, cl_int, (cl_int)v[i]);
  return CONV_SUCCESS;
}

/* The kernels that store dx (col2im and the direct backward data) take a
 * transposed convolution's bias and activation after their geometry:
 * b, has_b, act, alpha (dx_epilogue in act.cl). Set on every run: a plain
 * backward data passes none. */
/* The forward kernels that store y (fwd_direct[_rows], wino_output) take
 * the plan's fused activation after their geometry: act, alpha. Constant
 * per plan, so set once, at plan time. */
static int has_fwd_act(int kk) {
  return kk == K_FWD_DIRECT || kk == K_FWD_DIRECT_ROWS || kk == K_WINO_OUTPUT;
}

/* Whether the kernels that store an output apply activation act as they
 * store it, or leave it to the bias_act pass after them. On plans with the
 * CPU-style row kernels (pl->rows: CPU devices, or $CONV_OPENCL_LOWERING=
 * rows) sigmoid, tanh and silu take the pass: PoCL vectorises the exp of
 * the small bias_act kernel across work items but not inside the store
 * loops of the convolution kernels, where they cost more than the sweep
 * (silu on a 3x3 transposed forward: 1.2-1.75x the bias_act way). A
 * compare-and-select activation (relu, relu6, leaky_relu) is always
 * applied in the store, as on GPU-style plans every activation is. */
static int act_in_kernel(const ocl_plan *pl, conv_activation act) {
  if (act == CONV_ACT_SIGMOID || act == CONV_ACT_TANH || act == CONV_ACT_SILU)
    return !pl->rows;
  return 1;
}

/* Whether the forward applies the fused activation in its own kernels:
 * not after CLBlast's GEMMs, nor an activation act_in_kernel leaves to
 * the bias_act pass. */
static int fwd_fuses_act(const ocl_plan *pl) {
  return algos[pl->ch[OP_FWD].algo].gemm != 2 &&
         act_in_kernel(pl, pl->p.activation);
}

static int has_dx_epilogue(int kk) {
  return kk == K_COL2IM || kk == K_COL2IM_ROWS || kk == K_BWD_DATA_DIRECT ||
         kk == K_BWD_DATA_DIRECT_ROWS;
}

static conv_status set_dx_epilogue(ocl_plan *pl, int kk, cl_mem b,
                                   conv_activation act, float alpha,
                                   conv_err *err) {
  const cl_uint first = kernel_geom_arg[kk] + 19; /* GEOM_PARAMS: 19 ints */
  ARG(pl, kk, first, cl_mem, b != NULL ? b : pl->dev->dummy);
  ARG(pl, kk, first + 1, cl_int, b != NULL);
  ARG(pl, kk, first + 2, cl_int, (cl_int)act);
  ARG(pl, kk, first + 3, cl_float, alpha);
  return CONV_SUCCESS;
}

/* The row kernel of the direct backward data: the rows variant, zero
 * padding only (any stride: strides above 1 go phase by phase). */
static int bwd_data_rows(const ocl_plan *pl) {
  return pl->rows && pl->p.padding_mode == CONV_PAD_ZEROS;
}

/* The second grid dimension of fwd_direct_rows: images x groups x blocks
 * of 4, 2 or 1 output channels of a group (4 / fwd_rows_blocks(w_out) in
 * direct.cl). */
static size_t fwd_rows_d1(const ocl_plan *pl) {
  const conv_problem *p = &pl->p;
  const int64_t kb = p->w_out <= 16 ? 4 : p->w_out <= 32 ? 2 : 1;
  return (size_t)p->n * (size_t)p->groups * (size_t)((pl->kg + kb - 1) / kb);
}

/* The second grid dimension of bwd_data_direct_rows: with horizontal
 * stride 1 images x groups x blocks of 4, 2 or 1 input channels of a group
 * (by the input width, as fwd_rows_d1), else images x input channels. */
static size_t bwd_rows_d1(const ocl_plan *pl) {
  const conv_problem *p = &pl->p;
  if (p->stride_w != 1) return (size_t)(p->n * p->c_in);
  const int64_t cb = p->w <= 16 ? 4 : p->w <= 32 ? 2 : 1;
  return (size_t)p->n * (size_t)p->groups * (size_t)((pl->cg + cb - 1) / cb);
}

/* The work items of bwd_weight_direct_rows: one per (output channel,
 * input channel of its group, tap row, group of up to 4 taps of the row:
 * WTAPS in direct.cl). */
static size_t wgrad_rows_items(const ocl_plan *pl) {
  const conv_problem *p = &pl->p;
  return (size_t)p->c_out * (size_t)pl->cg * (size_t)p->kh *
         (size_t)((p->kw + 3) / 4);
}

/* $CONV_OPENCL_PROFILE=1 (a developer's tool): every launch waits for its
 * kernel and prints the kernel's wall time on stderr. */
static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int profiling(void) {
  static int on = -1;
  if (on < 0) {
    char v[8];
    conv_err e;
    on = conv_env_string("CONV_OPENCL_PROFILE", v, sizeof v, &e) ==
             CONV_SUCCESS && strcmp(v, "1") == 0;
  }
  return on;
}

static double prof_start(ocl_plan *pl) {
  if (!profiling()) return 0.0;
  clFinish(pl->dev->queue);
  return now_ms();
}

static void prof_end(ocl_plan *pl, double t0, const char *what) {
  if (!profiling()) return;
  clFinish(pl->dev->queue);
  fprintf(stderr, "libconv: opencl profile: %-18s %9.3f ms\n", what,
          now_ms() - t0);
}

/* The local size of kernel kk for a first dimension of d0 items: it
 * depends on d0 alone, so every launch of a plan (chunks of any size) uses
 * the shape its warm-up compiled. Reduction kernels use RED_WG. */
static void local_size(const ocl_plan *pl, int kk, size_t d0, size_t l[2]) {
  if (kk == K_BWD_WEIGHT_DIRECT || kk == K_BIAS_GRAD) {
    l[0] = OCL_RED_WG;
    l[1] = 1;
    return;
  }
  size_t total = pl->kmax[kk] < 64 ? pl->kmax[kk] : 64;
  size_t l0 = d0 < total ? pow2_at_least(d0 ? d0 : 1) : total;
  if (l0 > total) l0 = total;
  l[0] = l0;
  l[1] = total / l0 ? total / l0 : 1;
}

/* Enqueues kernel kk over d0 x d1 work items (reduction kernels: d0 groups
 * of RED_WG items); global sizes rounded up and guarded in the kernels. */
static conv_status launch(ocl_plan *pl, int kk, size_t d0, size_t d1,
                          conv_err *err) {
  size_t l[2], g[2];
  local_size(pl, kk, d0, l);
  if (kk == K_BWD_WEIGHT_DIRECT || kk == K_BIAS_GRAD) {
    g[0] = d0 * OCL_RED_WG;
    g[1] = 1;
  } else {
    g[0] = round_up(d0, l[0]);
    g[1] = round_up(d1, l[1]);
  }
  if (g[0] == 0 || g[1] == 0) return CONV_SUCCESS;
  const double t0 = prof_start(pl);
  cl_int e = clEnqueueNDRangeKernel(pl->dev->queue, pl->k[kk], 2, NULL, g, l,
                                    0, NULL, NULL);
  prof_end(pl, t0, kernel_fn(pl, kk));
  if (e != CL_SUCCESS) {
    char call[96];
    snprintf(call, sizeof call, "clEnqueueNDRangeKernel(%s)", kernel_names[kk]);
    return cl_fail(err, call, e);
  }
  return CONV_SUCCESS;
}

static conv_status finish_queue(ocl_device *dev, conv_err *err) {
  cl_int e = clFinish(dev->queue);
  return e == CL_SUCCESS ? CONV_SUCCESS : cl_fail(err, "clFinish", e);
}

static conv_status finish(ocl_plan *pl, conv_err *err) {
  cl_int e = clFinish(pl->dev->queue);
  return e == CL_SUCCESS ? CONV_SUCCESS : cl_fail(err, "clFinish", e);
}

/* ----------------------------------------------------------------- GEMM */

/* One GEMM call through CLBlast: a single GEMM per (image, group, image of
 * the inner dimension), in that order, with the plan's temporary buffer. */
static conv_status gemm_clblast(ocl_plan *pl, const ocl_gemm_call *c,
                                conv_err *err) {
  const CLBlastTranspose ta = c->trans_a ? CLBlastTransposeYes
                                         : CLBlastTransposeNo;
  for (int zb = 0; zb < c->nb; zb++) {
    for (int zg = 0; zg < c->g; zg++) {
      for (int kb = 0; kb < c->kb; kb++) {
        const size_t a = (size_t)(c->a_off + zb * c->a_sn + zg * c->a_sg +
                                  kb * c->a_skb);
        const size_t b = (size_t)(c->b_off + zb * c->b_sn + zg * c->b_sg +
                                  kb * c->b_skb);
        const size_t cc = (size_t)(c->c_off + zb * c->c_sn + zg * c->c_sg);
        const float beta = kb > 0 || c->accumulate ? 1.0f : 0.0f;
        CLBlastStatusCode s = CLBlastSgemmWithTempBuffer(
            CLBlastLayoutRowMajor, ta, CLBlastTransposeNo, (size_t)c->m,
            (size_t)c->n, (size_t)c->kp, 1.0f, c->a, a, (size_t)c->lda, c->b,
            b, (size_t)c->ldb, beta, c->c, cc, (size_t)c->ldc,
            &pl->dev->queue, NULL, pl->tmp);
        if (s != CLBlastSuccess)
          return blast_fail(err, "CLBlastSgemmWithTempBuffer", s);
      }
    }
  }
  return CONV_SUCCESS;
}

static conv_status gemm(ocl_plan *pl, int op, const ocl_gemm_call *c,
                        conv_err *err) {
  const double t0 = prof_start(pl);
  conv_status st = algos[pl->ch[op].algo].gemm == 2
                       ? gemm_clblast(pl, c, err)
                       : ocl_gemm_enqueue(pl->dev, pl->gk[op], &pl->ch[op].gp,
                                          c, err);
  prof_end(pl, t0, "gemm");
  return st;
}

/* The GEMM of each operation, for images n0 .. n0+nb-1 (a chunk, or all of
 * them for gemm_1x1's forward and backward data). */
static ocl_gemm_call fwd_call(const ocl_plan *pl, cl_mem x, cl_mem w,
                              cl_mem y, cl_mem b, int64_t n0, int64_t nb) {
  const conv_problem *p = &pl->p;
  const int one = algos[pl->ch[OP_FWD].algo].is1x1;
  ocl_gemm_call c;
  memset(&c, 0, sizeof c);
  c.m = (int)pl->kg;
  c.n = (int)pl->np;
  c.kb = 1;
  c.kp = (int)pl->r;
  c.a = w;
  c.lda = (int)pl->r;
  c.a_sg = (long)(pl->kg * (int64_t)pl->r);
  if (one) {
    c.b = x;
    c.b_off = (long)(n0 * p->c_in * (int64_t)pl->hw);
    c.b_sn = (long)(p->c_in * (int64_t)pl->hw);
    c.b_sg = (long)(pl->cg * (int64_t)pl->hw);
  } else {
    c.b = pl->col;
    c.b_sn = (long)(pl->rt * pl->pp);
    c.b_sg = (long)(pl->r * pl->pp);
    c.b_panel = pl->panel;
  }
  c.ldb = c.b_panel ? (int)pl->tn : (int)pl->np;
  c.c = y;
  c.c_off = (long)(n0 * p->c_out * (int64_t)pl->np);
  c.ldc = (int)pl->np;
  c.c_sn = (long)(p->c_out * (int64_t)pl->np);
  c.c_sg = (long)(pl->kg * (int64_t)pl->np);
  c.g = (int)p->groups;
  c.nb = (int)nb;
  c.slices = 1;
  c.bias = b;
  /* The fused activation (own GEMM only; see fwd_fuses_act). */
  c.act = fwd_fuses_act(pl) ? (int)p->activation : 0;
  c.alpha = p->activation_alpha;
  return c;
}

static ocl_gemm_call bwd_data_call(const ocl_plan *pl, cl_mem dy, cl_mem w,
                                   cl_mem dx, int64_t n0, int64_t nb) {
  const conv_problem *p = &pl->p;
  const int one = algos[pl->ch[OP_BWD_DATA].algo].is1x1;
  ocl_gemm_call c;
  memset(&c, 0, sizeof c);
  c.m = (int)pl->r;
  c.n = (int)pl->np;
  c.kb = 1;
  c.kp = (int)pl->kg;
  c.a = w;
  c.lda = (int)pl->r;
  c.a_sg = (long)(pl->kg * (int64_t)pl->r);
  c.trans_a = 1;
  c.b = dy;
  c.b_off = (long)(n0 * p->c_out * (int64_t)pl->np);
  c.ldb = (int)pl->np;
  c.b_sn = (long)(p->c_out * (int64_t)pl->np);
  c.b_sg = (long)(pl->kg * (int64_t)pl->np);
  if (one) {
    c.c = dx;
    c.c_off = (long)(n0 * p->c_in * (int64_t)pl->hw);
    c.c_sn = (long)(p->c_in * (int64_t)pl->hw);
    c.c_sg = (long)(pl->cg * (int64_t)pl->hw);
  } else {
    c.c = pl->col;
    c.c_sn = (long)(pl->rt * pl->np);
    c.c_sg = (long)(pl->r * pl->np);
  }
  c.ldc = (int)pl->np;
  c.g = (int)p->groups;
  c.nb = (int)nb;
  c.slices = 1;
  return c;
}

/* dw (+)= dy_chunk (Kg x nb*P) * col_t (nb*P x R) per group; into the
 * split-K partials when the plan has slices. */
static ocl_gemm_call bwd_weight_call(const ocl_plan *pl, cl_mem dy, cl_mem dw,
                                     int64_t n0, int64_t nb) {
  const conv_problem *p = &pl->p;
  ocl_gemm_call c;
  memset(&c, 0, sizeof c);
  c.m = (int)pl->kg;
  c.n = (int)pl->r;
  c.kb = (int)nb;
  c.kp = (int)pl->np;
  c.a = dy;
  c.a_off = (long)(n0 * p->c_out * (int64_t)pl->np);
  c.lda = (int)pl->np;
  c.a_skb = (long)(p->c_out * (int64_t)pl->np);
  c.a_sg = (long)(pl->kg * (int64_t)pl->np);
  c.b = pl->col;
  if (pl->wpanel) { /* per image and group wpq panels of np x wtnw */
    c.b_panel = 1;
    c.ldb = (int)pl->wtnw;
    c.b_sg = (long)(pl->wpq * pl->np * pl->wtnw);
    c.b_skb = c.b_sg * (long)p->groups;
  } else {
    c.ldb = (int)pl->rt;
    c.b_skb = (long)(pl->np * pl->rt);
    c.b_sg = (long)pl->r;
  }
  c.ldc = (int)pl->r;
  c.c_sg = (long)(pl->kg * (int64_t)pl->r);
  c.g = (int)p->groups;
  c.nb = 1;
  if (pl->slices > 1) {
    c.c = pl->part;
    c.c_ss = (long)(p->c_out * (int64_t)pl->r);
    c.slices = pl->slices;
  } else {
    c.c = dw;
    c.slices = 1;
    c.accumulate = n0 > 0;
  }
  return c;
}

/* ---------------------------------------------------------- algo option */

static int algo_by_name(const char *s, size_t n) {
  for (int a = ALGO_DIRECT; a < NALGOS; a++)
    if (strlen(algos[a].name) == n && strncasecmp(algos[a].name, s, n) == 0)
      return a;
  return -1;
}

static void known_algos(char *buf, size_t len) {
  size_t at = 0;
  buf[0] = '\0';
  for (int a = ALGO_DIRECT; a < NALGOS && at < len; a++)
    at += (size_t)snprintf(buf + at, len - at, "%s%s", a > ALGO_DIRECT ? ", "
                           : "", algos[a].name);
}

/* Parses $CONV_ALGO: "name" (every op) or "op=name[,op=name]". */
static conv_status parse_algo(const char *spec, int forced[NOPS],
                              conv_err *err) {
  char known[256];
  known_algos(known, sizeof known);
  for (int i = 0; i < NOPS; i++) forced[i] = ALGO_NONE;
  if (spec == NULL || spec[0] == '\0') return CONV_SUCCESS;
  if (strchr(spec, '=') == NULL) {
    int a = algo_by_name(spec, strlen(spec));
    if (a < 0)
      return conv_err_set(err, CONV_ERROR_INVALID_ARGUMENT,
                          "unknown algorithm '%s'; known: %s", spec, known);
    for (int i = 0; i < NOPS; i++) forced[i] = a;
    return CONV_SUCCESS;
  }
  const char *s = spec;
  while (*s != '\0') {
    const char *end = strchr(s, ',');
    size_t len = end ? (size_t)(end - s) : strlen(s);
    const char *eq = memchr(s, '=', len);
    int op = -1, a = -1;
    if (eq != NULL) {
      for (int i = 0; i < NOPS; i++)
        if (strlen(op_keys[i]) == (size_t)(eq - s) &&
            strncasecmp(op_keys[i], s, (size_t)(eq - s)) == 0)
          op = i;
      a = algo_by_name(eq + 1, len - (size_t)(eq + 1 - s));
    }
    if (op < 0 || a < 0)
      return conv_err_set(err, CONV_ERROR_INVALID_ARGUMENT,
                          "algorithm choice '%.*s' in '%s': expected "
                          "fwd|bwd_data|bwd_weight=NAME; known: %s",
                          (int)len, s, spec, known);
    forced[op] = a;
    s += len;
    if (*s == ',') s++;
  }
  return CONV_SUCCESS;
}

/* ---------------------------------------------------------------- plan */

static conv_status read_env(const ocl_device *dev, plan_env *pe,
                            conv_err *err) {
  int64_t v = 0;
  char buf[32];
  conv_status st = conv_env_int("CONV_OPENCL_MAX_CHUNK_BYTES", "a byte count",
                                1, INT64_MAX, &v, err);
  if (st != CONV_SUCCESS) return st;
  uint64_t cap = v > 0 ? (uint64_t)v : OCL_DEFAULT_CHUNK_CAP;
  if (cap > dev->max_alloc) cap = dev->max_alloc;
  if (cap > (uint64_t)INT_MAX * sizeof(float))
    cap = (uint64_t)INT_MAX * sizeof(float); /* int row counts in kernels */
  pe->cap = (int64_t)cap;
  pe->forced_slices = 0;
  st = conv_env_int("CONV_OPENCL_WGRAD_SLICES", "a slice count", 1, 64,
                    &pe->forced_slices, err);
  if (st != CONV_SUCCESS) return st;
  st = conv_env_string("CONV_OPENCL_LOWERING", buf, sizeof buf, err);
  if (st != CONV_SUCCESS) return st;
  if (buf[0] == '\0') pe->rows = -1;
  else if (strcmp(buf, "rows") == 0) pe->rows = 1;
  else if (strcmp(buf, "elements") == 0) pe->rows = 0;
  else
    return conv_err_set(err, CONV_ERROR_INVALID_ARGUMENT,
                        "CONV_OPENCL_LOWERING=%s: expected rows or elements",
                        buf);
  st = conv_env_string("CONV_TUNE", buf, sizeof buf, err);
  if (st != CONV_SUCCESS) return st;
  if (buf[0] == '\0' || strcmp(buf, "0") == 0) pe->tune = 0;
  else if (strcmp(buf, "1") == 0) pe->tune = 1;
  else
    return conv_err_set(err, CONV_ERROR_INVALID_ARGUMENT,
                        "CONV_TUNE=%s: expected 0 or 1", buf);
  return conv_env_string("CONV_OPENCL_GEMM", pe->gemm, sizeof pe->gemm, err);
}

void ocl_plan_destroy(void *plan) {
  ocl_plan *pl = plan;
  if (pl == NULL) return;
  for (int i = 0; i < NKERNELS; i++)
    if (pl->k[i] != NULL) clReleaseKernel(pl->k[i]);
  for (int i = 0; i < NOPS; i++)
    if (pl->gk[i] != NULL) clReleaseKernel(pl->gk[i]);
  if (pl->col != NULL) clReleaseMemObject(pl->col);
  if (pl->part != NULL) clReleaseMemObject(pl->part);
  if (pl->tmp != NULL) clReleaseMemObject(pl->tmp);
  if (pl->wt != NULL) clReleaseMemObject(pl->wt);
  for (int i = 0; i < 2; i++) {
    if (pl->wu[i] != NULL) clReleaseMemObject(pl->wu[i]);
    if (pl->wv[i] != NULL) clReleaseMemObject(pl->wv[i]);
    if (pl->wm[i] != NULL) clReleaseMemObject(pl->wm[i]);
  }
  free(pl);
}

/* Facts about a problem the choice needs. */
typedef struct shape_facts {
  int is1x1, gemm_ok, thin, few, wide, dy_wide;
  int dy_ok;           /* backward data as a convolution over dy applies */
  int wino_ok;         /* 3x3, stride 1, dilation 1 */
  int64_t wino_fit;    /* images per Winograd chunk */
  double wino_image;
  int wino_bd_ok;      /* Winograd applies to backward data too */
  int64_t wino_bd_fit; /* images per chunk of its backward data */
  double wino_bd_image;
  int64_t dy_fit;      /* images per chunk of dy's column matrix */
  double dy_image;
  int64_t cap, fit; /* images per chunk whose column matrix fits the cap */
  double col_image;
} shape_facts;

/* Bytes of Winograd's larger per-image buffer for a convolution with
 * out_h x out_w outputs, cin channels in and cout out: V (16 x cin x
 * tiles, plus panel rounding) or M (16 x cout x tiles). */
static double wino_image(int64_t out_h, int64_t out_w, int64_t cin,
                         int64_t cout) {
  const double tiles = (double)((out_h + 1) / 2) * ((out_w + 1) / 2);
  const double v = 16.0 * cin * (tiles + 64.0) * 4.0;
  const double m = 16.0 * cout * tiles * 4.0;
  return v > m ? v : m;
}

/* Images of `image` bytes each that fit in a buffer of cap bytes. */
static int64_t images_fit(double image, int64_t cap) {
  return image <= (double)cap ? (int64_t)((double)cap / image) : 0;
}

static void facts(const plan_env *pe, const conv_problem *p,
                  shape_facts *f) {
  const int64_t imax = INT_MAX;
  const int64_t cg = p->c_in / p->groups;
  const double np = (double)p->h_out * (double)p->w_out;
  f->is1x1 = p->kh == 1 && p->kw == 1 && p->stride_h == 1 &&
             p->stride_w == 1 && p->pad_t == 0 && p->pad_b == 0 &&
             p->pad_l == 0 && p->pad_r == 0 && p->dil_h >= 1;
  /* The GEMM kernels take int leading dimensions and row counts; CLBlast
   * takes int offsets: whole tensors stay under 2^31 elements. */
  f->gemm_ok = (double)p->n * p->c_in * p->h * p->w < (double)imax &&
               (double)p->n * p->c_out * np < (double)imax &&
               (double)p->c_out * cg * p->kh * p->kw < (double)imax;
  f->thin = p->groups > 1 && cg <= DIRECT_MAX_CG;
  f->wide = cg >= WINO_MIN_CHANNELS &&
            p->c_out / p->groups >= WINO_MIN_CHANNELS;
  f->few = cg <= DIRECT_MAX_CG && p->c_out / p->groups <= FEW_MAX_KG;
  f->dy_wide = cg >= WINO_MIN_CHANNELS;
  f->cap = pe->cap;
  f->col_image = (double)p->c_in * p->kh * p->kw * np * 4.0;
  f->fit = f->col_image <= (double)f->cap ? (int64_t)(f->cap / f->col_image)
                                          : 0;
  f->dy_ok = p->padding_mode == CONV_PAD_ZEROS && p->stride_h == 1 &&
             p->stride_w == 1 && p->pad_t <= p->dil_h * (p->kh - 1) &&
             p->pad_b <= p->dil_h * (p->kh - 1) &&
             p->pad_l <= p->dil_w * (p->kw - 1) &&
             p->pad_r <= p->dil_w * (p->kw - 1);
  f->dy_image = (double)p->c_out * p->kh * p->kw * (double)p->h * p->w * 4.0;
  f->wino_ok = p->kh == 3 && p->kw == 3 && p->stride_h == 1 &&
               p->stride_w == 1 && p->dil_h == 1 && p->dil_w == 1;
  f->wino_image = wino_image(p->h_out, p->w_out, p->c_in, p->c_out);
  f->wino_fit = images_fit(f->wino_image, f->cap);
  f->dy_fit = f->dy_image <= (double)f->cap ? (int64_t)(f->cap / f->dy_image)
                                            : 0;
  /* Backward data as Winograd's convolution of dy: zero padding and pads
   * <= 2, so that dy's pads (2 - pad) are not negative. */
  f->wino_bd_ok = f->wino_ok && p->padding_mode == CONV_PAD_ZEROS &&
                  p->pad_t <= 2 && p->pad_b <= 2 && p->pad_l <= 2 &&
                  p->pad_r <= 2;
  f->wino_bd_image = wino_image(p->h, p->w, p->c_out, p->c_in);
  f->wino_bd_fit = images_fit(f->wino_bd_image, f->cap);
}

/* NULL if algorithm a can serve op of the problem, else why not. */
static const char *why_not(int a, int op, const shape_facts *f, char *buf,
                           size_t len) {
  if (a == ALGO_DIRECT) return NULL;
  if (!f->gemm_ok) return "it needs tensors under 2^31 elements";
  if (a == ALGO_WINOGRAD) {
    if (op == OP_BWD_WEIGHT)
      return "it computes the forward pass and backward data only";
    if (!f->wino_ok) return "it needs a 3x3 kernel, stride 1 and dilation 1";
    if (op == OP_BWD_DATA && !f->wino_bd_ok)
      return "its backward data needs zero padding of at most 2";
    const double img = op == OP_FWD ? f->wino_image : f->wino_bd_image;
    if ((op == OP_FWD ? f->wino_fit : f->wino_bd_fit) == 0) {
      snprintf(buf, len, "it needs %.0f bytes of workspace for one image, "
               "over the %lld-byte buffer cap", img, (long long)f->cap);
      return buf;
    }
    return NULL;
  }
  if (a == ALGO_DY_IM2COL) {
    if (op != OP_BWD_DATA) return "it computes backward data only";
    if (!f->dy_ok)
      return "it needs zero padding, stride 1 and pads <= dilation*(k-1)";
    if (f->dy_fit == 0) {
      snprintf(buf, len, "it needs %.0f bytes of workspace for one image, "
               "over the %lld-byte buffer cap", f->dy_image,
               (long long)f->cap);
      return buf;
    }
    return NULL;
  }
  if (algos[a].is1x1 && !f->is1x1)
    return "it needs a 1x1 kernel, stride 1 and no padding";
  /* Workspace: the column matrix of one image (every op but the 1x1
   * forward and backward data). */
  if ((!algos[a].is1x1 || op == OP_BWD_WEIGHT) && f->fit == 0) {
    snprintf(buf, len, "it needs %.0f bytes of workspace for one image, over "
             "the %lld-byte buffer cap", f->col_image, (long long)f->cap);
    return buf;
  }
  return NULL;
}

/* The class keys of the tuning database for op: the exact problem, and the
 * GEMM shape rounded to powers of two. */
static void class_keys(const conv_problem *p, int op, int64_t m, int64_t n,
                       int64_t k, char exact[256], char shape[128]) {
  snprintf(exact, 256,
           "%s:n%lld:c%lld:h%lld:w%lld:k%lld:%lldx%lld:s%lldx%lld:"
           "d%lldx%lld:p%lld,%lld,%lld,%lld:g%lld:m%d:f%d",
           op_keys[op], (long long)p->n, (long long)p->c_in, (long long)p->h,
           (long long)p->w, (long long)p->c_out, (long long)p->kh,
           (long long)p->kw, (long long)p->stride_h, (long long)p->stride_w,
           (long long)p->dil_h, (long long)p->dil_w, (long long)p->pad_t,
           (long long)p->pad_b, (long long)p->pad_l, (long long)p->pad_r,
           (long long)p->groups, (int)p->padding_mode, p->flip_kernel != 0);
  snprintf(shape, 128, "%s-gemm:m%zu:n%zu:k%zu", op_keys[op],
           pow2_at_least((size_t)(m > 0 ? m : 1)),
           pow2_at_least((size_t)(n > 0 ? n : 1)),
           pow2_at_least((size_t)(k > 0 ? k : 1)));
}

/* The GEMM shape of op (rows, columns, depth) for the defaults and keys. */
static void gemm_shape(const conv_problem *p, int op, int64_t *m, int64_t *n,
                       int64_t *k) {
  const int64_t cg = p->c_in / p->groups, kg = p->c_out / p->groups;
  const int64_t r = cg * p->kh * p->kw, np = p->h_out * p->w_out;
  if (op == OP_FWD) { *m = kg; *n = np; *k = r; }
  else if (op == OP_BWD_DATA) { *m = r; *n = np; *k = kg; }
  else { *m = kg; *n = r; *k = np * p->n; }
}

/* ------------------------------------------------ warm-up grid classes */

static size_t widest(size_t a, size_t b) { return a > b ? a : b; }

/* The grid classes (ocl_grid_classes) base kernel kk's runs can launch:
 * dimension 0 is fixed by the plan (d0, or d0 groups of RED_WG for the
 * reductions), dimension 1 at most n times the largest per-image factor of
 * any launch (chunks only make it smaller), 1 for the kernels over one
 * dimension. Over-counting only costs a compile at plan time; missing a
 * class would compile inside a run call. */
static int base_classes(const ocl_plan *pl, int kk, size_t d0,
                        const size_t l[2]) {
  const conv_problem *p = &pl->p;
  const size_t n = (size_t)(p->n > 1 ? p->n : 1);
  size_t g0, d1max;
  switch (kk) {
    case K_BIAS_GRAD:
      return ocl_grid_classes((size_t)p->c_out * OCL_RED_WG,
                              (size_t)p->c_out * OCL_RED_WG);
    case K_BWD_WEIGHT_DIRECT:
      return ocl_grid_classes((size_t)p->c_out * pl->r * OCL_RED_WG,
                              (size_t)p->c_out * pl->r * OCL_RED_WG);
    case K_WEIGHT_T: case K_BWD_WEIGHT_DIRECT_ROWS: case K_WINO_FILTER: case K_WINO_FILTER_BD:
    case K_SUM_SLICES:
      d1max = 1;
      break;
    default: {
      size_t f = pl->rt;
      const size_t taps = (size_t)(p->kh * p->kw);
      const size_t more[] = {pl->np, (size_t)p->h_out, (size_t)p->c_in,
                             (size_t)p->c_out, (size_t)p->c_out * taps,
                             (size_t)p->c_in * taps};
      for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        f = widest(f, more[i]);
      d1max = n * f;
    }
  }
  g0 = round_up(d0, l[0]);
  return ocl_grid_classes(g0, widest(g0, round_up(d1max, l[1])));
}

/* The same for operation op's own GEMM, from its calls for one image and
 * for all n (chunks lie between). */
static ocl_gemm_call gemm_call_of(const ocl_plan *pl, int op, int64_t nb) {
  const conv_problem *p = &pl->p;
  ocl_gemm_call c;
  memset(&c, 0, sizeof c);
  if (op != OP_BWD_WEIGHT && pl->ch[op].algo == ALGO_WINOGRAD) {
    const int side = op == OP_BWD_DATA;
    const int64_t w = nb < pl->wchunk[side] ? nb : pl->wchunk[side];
    c.m = (int)(side ? pl->cg : pl->kg);
    c.n = (int)(w * pl->tiles[side]);
    c.kb = 1;
    c.kp = (int)(side ? pl->kg : pl->cg);
    c.g = (int)p->groups;
    c.nb = 16;
    c.slices = 1;
  } else if (op == OP_FWD) {
    c = fwd_call(pl, NULL, NULL, NULL, NULL, 0, nb);
  } else if (op == OP_BWD_DATA && pl->ch[op].algo == ALGO_DY_IM2COL) {
    c.m = (int)pl->cg;
    c.n = (int)pl->hw;
    c.kb = 1;
    c.kp = (int)(pl->kg * p->kh * p->kw);
    c.g = (int)p->groups;
    c.nb = (int)nb;
    c.slices = 1;
  } else if (op == OP_BWD_DATA) {
    c = bwd_data_call(pl, NULL, NULL, NULL, 0, nb);
  } else {
    c = bwd_weight_call(pl, NULL, NULL, 0, nb);
  }
  return c;
}

static int gemm_classes(const ocl_plan *pl, int op) {
  const int64_t n = pl->p.n > 1 ? pl->p.n : 1;
  size_t w[2];
  for (int i = 0; i < 2; i++) {
    const ocl_gemm_call c = gemm_call_of(pl, op, i == 0 ? 1 : n);
    size_t g[3], l[3];
    ocl_gemm_grid(&pl->ch[op].gp, &c, g, l);
    w[i] = widest(widest(g[0], g[1]), g[2]);
  }
  return ocl_grid_classes(w[0] < w[1] ? w[0] : w[1], widest(w[0], w[1]));
}

/* Creates the kernels, workspace and compiled code of a plan whose choices
 * are made (pl->ch). */
static conv_status plan_setup(ocl_plan *pl, conv_err *err) {
  ocl_device *dev = pl->dev;
  const conv_problem *p = &pl->p;
  shape_facts f;
  conv_status st;
  cl_int e;
  facts(&pl->env, p, &f);

  int need_col = 0, need_blast = 0;
  for (int op = 0; op < NOPS; op++) {
    const int a = pl->ch[op].algo;
    if (a != ALGO_DIRECT && a != ALGO_WINOGRAD &&
        (!algos[a].is1x1 || op == OP_BWD_WEIGHT))
      need_col = 1;
    need_blast |= algos[a].gemm == 2;
  }
  /* Forward through gemm_vec on a rows device: im2col writes B packed in
   * panels of the tile width (one contiguous panel per tile). */
  const ocl_gemm_params *fg = &pl->ch[OP_FWD].gp;
  pl->panel = pl->rows && pl->ch[OP_FWD].algo == ALGO_IM2COL &&
              algos[ALGO_IM2COL].gemm == 1 && fg->family == OCL_GEMM_VEC;
  pl->tn = pl->panel ? (size_t)fg->nv * (size_t)fg->vw : 1;
  pl->pp = (pl->np + pl->tn - 1) / pl->tn * pl->tn;
  /* The weight gradient through gemm_vec likewise: im2col_t writes B in
   * panels of the tile width (rows of each group rounded up to it). */
  const ocl_gemm_params *bg = &pl->ch[OP_BWD_WEIGHT].gp;
  pl->wpanel = pl->rows && pl->ch[OP_BWD_WEIGHT].algo == ALGO_IM2COL &&
               algos[ALGO_IM2COL].gemm == 1 && bg->family == OCL_GEMM_VEC;
  pl->wtnw = pl->wpanel ? (size_t)bg->nv * (size_t)bg->vw : 1;
  pl->wpq = (pl->r + pl->wtnw - 1) / pl->wtnw;
  /* One image's column matrix in the largest layout in use; where the
   * panel padding tips it over the cap, plain layouts instead. */
  for (;;) {
    double img = (double)pl->rt * (double)pl->np * 4.0;
    if (pl->panel) img = (double)pl->rt * (double)pl->pp * 4.0;
    const double wimg = (double)p->groups * (double)pl->wpq *
                        (double)pl->wtnw * (double)pl->np * 4.0;
    if (pl->wpanel && wimg > img) img = wimg;
    f.col_image = img;
    f.fit = img <= (double)f.cap ? (int64_t)(f.cap / img) : 0;
    if (f.fit > 0 || (!pl->panel && !pl->wpanel)) break;
    if (pl->wpanel) {
      pl->wpanel = 0;
      pl->wtnw = 1;
      pl->wpq = pl->r;
    } else {
      pl->panel = 0;
      pl->tn = 1;
      pl->pp = pl->np;
    }
  }
  pl->chunk = need_col ? (f.fit < p->n ? f.fit : p->n) : 0;
  /* dy_im2col_gemm: dy's column matrix (c_out*KH*KW rows by H*W) in the
   * same buffer, panels of its GEMM's tile width on rows devices. */
  double col_bytes = (double)pl->chunk * f.col_image;
  if (pl->ch[OP_BWD_DATA].algo == ALGO_DY_IM2COL) {
    const ocl_gemm_params *dg = &pl->ch[OP_BWD_DATA].gp;
    pl->dpanel = pl->rows && dg->family == OCL_GEMM_VEC;
    pl->dtn = pl->dpanel ? (size_t)dg->nv * (size_t)dg->vw : 1;
    pl->dpp = (pl->hw + pl->dtn - 1) / pl->dtn * pl->dtn;
    const double img = (double)p->c_out * p->kh * p->kw * (double)pl->dpp * 4.0;
    int64_t fit = img <= (double)f.cap ? (int64_t)(f.cap / img) : 0;
    if (fit == 0) {
      pl->dpanel = 0;
      pl->dtn = 1;
      pl->dpp = pl->hw;
      fit = (int64_t)(f.cap / f.dy_image);
    }
    pl->dchunk = fit < p->n ? fit : p->n;
    if (pl->dchunk < 1) pl->dchunk = 1;
    const double need = (double)pl->dchunk *
                        ((double)p->c_out * p->kh * p->kw * (double)pl->dpp * 4.0);
    if (need > col_bytes) col_bytes = need;
  }
  if (need_col && pl->chunk < 1) pl->chunk = 1;

  /* Split-K for the weight gradient when its output tiles are too few to
   * keep the device busy: a few work-groups per compute unit, slices of at
   * least 256 inner steps, at most 64 slices. */
  pl->slices = 1;
  const int bw = pl->ch[OP_BWD_WEIGHT].algo;
  if (algos[bw].gemm == 1 && p->n > 0) {
    const ocl_gemm_params *gp = &pl->ch[OP_BWD_WEIGHT].gp;
    double groups;
    if (gp->family == OCL_GEMM_VEC)
      groups = ceil_div_d((double)pl->kg, gp->tm * (double)gp->lm) *
               ceil_div_d((double)pl->r, (double)gp->nv * gp->vw * gp->ln);
    else
      groups = ceil_div_d((double)pl->kg, gp->mwg) *
               ceil_div_d((double)pl->r, gp->nwg);
    groups *= (double)p->groups;
    const double inner = (double)pl->chunk * (double)pl->np;
    double s = 4.0 * dev->units / groups;
    if (s > inner / 256.0) s = inner / 256.0;
    if (s > 64.0) s = 64.0;
    if (pl->env.forced_slices > 0) s = (double)pl->env.forced_slices;
    const double part_slice = (double)p->c_out * pl->r * 4.0;
    if (s * part_slice > (double)f.cap) s = (double)f.cap / part_slice;
    if (s >= 2.0) pl->slices = (int)s;
  }

  if (need_col && p->n > 0) {
    pl->col_bytes = (size_t)col_bytes;
    pl->col = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, pl->col_bytes, NULL,
                             &e);
    if (pl->col == NULL) return cl_fail(err, "clCreateBuffer(im2col workspace)", e);
  }
  for (int side = 0; side < 2; side++) {
    const int op = side == 0 ? OP_FWD : OP_BWD_DATA;
    if (pl->ch[op].algo != ALGO_WINOGRAD || p->n == 0) continue;
    const ocl_gemm_params *wg = &pl->ch[op].gp;
    /* Backward data: the convolution of dy (c_out channels in, c_in out)
     * with dx's tiles. */
    const int64_t oh = side ? p->h : p->h_out, ow = side ? p->w : p->w_out;
    const int64_t cin = side ? p->c_out : p->c_in;
    const int64_t cout = side ? p->c_in : p->c_out;
    const int64_t fit = side ? f.wino_bd_fit : f.wino_fit;
    pl->tiles[side] = ((oh + 1) / 2) * ((ow + 1) / 2);
    pl->wtn[side] = pl->rows && wg->family == OCL_GEMM_VEC
                        ? (size_t)wg->nv * (size_t)wg->vw : 1;
    pl->wchunk[side] = fit < p->n ? fit : p->n;
    if (pl->wchunk[side] < 1) pl->wchunk[side] = 1;
    const size_t q = (size_t)(pl->wchunk[side] * pl->tiles[side]);
    const size_t qp = (q + pl->wtn[side] - 1) / pl->wtn[side] * pl->wtn[side];
    const size_t ub = 16 * (size_t)cout * (size_t)(cin / p->groups) * 4;
    const size_t vb = 16 * (size_t)cin * qp * 4;
    const size_t mb = 16 * (size_t)cout * q * 4;
    pl->wu[side] = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, ub, NULL, &e);
    if (pl->wu[side] != NULL)
      pl->wv[side] = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, vb, NULL, &e);
    if (pl->wv[side] != NULL)
      pl->wm[side] = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, mb, NULL, &e);
    if (pl->wm[side] == NULL)
      return cl_fail(err, "clCreateBuffer(Winograd workspace)", e);
    pl->wino_bytes += ub + vb + mb;
  }
  if (pl->ch[OP_BWD_DATA].algo == ALGO_DY_IM2COL) {
    pl->wt_bytes = (size_t)p->c_out * pl->r * 4;
    pl->wt = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE,
                            pl->wt_bytes ? pl->wt_bytes : 4, NULL, &e);
    if (pl->wt == NULL)
      return cl_fail(err, "clCreateBuffer(transposed weight)", e);
  }
  if (pl->slices > 1) {
    pl->part_bytes = (size_t)pl->slices * (size_t)p->c_out * pl->r * 4;
    pl->part = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, pl->part_bytes,
                              NULL, &e);
    if (pl->part == NULL)
      return cl_fail(err, "clCreateBuffer(split-K workspace)", e);
  }

  /* Base kernels: a program of just the kernels the run calls launch. */
  int want[NKERNELS] = {0};
  const int fa = pl->ch[OP_FWD].algo, da = pl->ch[OP_BWD_DATA].algo;
  const int lower = fa != ALGO_DIRECT && fa != ALGO_WINOGRAD &&
                    !algos[fa].is1x1;
  want[pl->panel ? K_IM2COL_ROWS_PANEL
                 : pl->rows ? K_IM2COL_ROWS : K_IM2COL] = lower;
  want[pl->wpanel ? K_IM2COL_T_PANEL
                  : pl->rows ? K_IM2COL_T_ROWS : K_IM2COL_T] =
      bw != ALGO_DIRECT;
  want[pl->rows ? K_COL2IM_ROWS : K_COL2IM] =
      da == ALGO_IM2COL || da == ALGO_CLBLAST_IM2COL;
  want[K_DY_IM2COL] = want[K_WEIGHT_T] = da == ALGO_DY_IM2COL;
  want[K_WINO_FILTER] = want[K_WINO_INPUT] = want[K_WINO_OUTPUT] =
      fa == ALGO_WINOGRAD;
  want[K_WINO_FILTER_BD] = want[K_WINO_INPUT_BD] = want[K_WINO_OUTPUT_BD] =
      da == ALGO_WINOGRAD;
  want[K_BIAS_ADD] = p->has_bias && algos[fa].gemm == 2;
  want[pl->rows ? K_FWD_DIRECT_ROWS : K_FWD_DIRECT] = fa == ALGO_DIRECT;
  want[bwd_data_rows(pl) ? K_BWD_DATA_DIRECT_ROWS : K_BWD_DATA_DIRECT] =
      da == ALGO_DIRECT;
  want[pl->rows ? K_BWD_WEIGHT_DIRECT_ROWS : K_BWD_WEIGHT_DIRECT] =
      bw == ALGO_DIRECT;
  want[K_BIAS_GRAD] = 1;
  want[K_SUM_SLICES] = pl->slices > 1;
  const char *names[NKERNELS];
  int nnames = 0;
  for (int kk = 0; kk < NKERNELS; kk++) {
    if (!want[kk]) continue;
    const char *fn = kernel_fn(pl, kk);
    int seen = 0;
    for (int i = 0; i < nnames; i++) seen |= strcmp(names[i], fn) == 0;
    if (!seen) names[nnames++] = fn;
  }
  qsort(names, (size_t)nnames, sizeof names[0], cmp_name); /* one key per set */
  st = ocl_device_select(dev, names, nnames, &pl->base, err);
  if (st != CONV_SUCCESS) return st;
  for (int kk = 0; kk < NKERNELS; kk++) {
    if (!want[kk]) continue;
    const char *fn = kernel_fn(pl, kk);
    pl->k[kk] = clCreateKernel(pl->base->prog, fn, &e);
    if (pl->k[kk] == NULL) {
      char call[96];
      snprintf(call, sizeof call, "clCreateKernel(%s)", kernel_names[kk]);
      return cl_fail(err, call, e);
    }
    e = clGetKernelWorkGroupInfo(pl->k[kk], dev->id, CL_KERNEL_WORK_GROUP_SIZE,
                                 sizeof pl->kmax[kk], &pl->kmax[kk], NULL);
    if (e != CL_SUCCESS)
      return cl_fail(err, "clGetKernelWorkGroupInfo(CL_KERNEL_WORK_GROUP_SIZE)",
                     e);
    if ((kk == K_BIAS_GRAD || kk == K_BWD_WEIGHT_DIRECT) &&
        pl->kmax[kk] < OCL_RED_WG)
      return conv_err_set(err, CONV_ERROR_UNSUPPORTED,
                          "opencl: kernel %s needs work-groups of %d, the "
                          "device allows %zu", kernel_names[kk], OCL_RED_WG,
                          pl->kmax[kk]);
    if (pl->kmax[kk] == 0) pl->kmax[kk] = 1;
    /* Warm-up: the per-run arguments made a no-op, one launch of the local
     * size every run of this plan will use. */
    for (cl_uint b = 0; b < kernel_noop[kk].nbuf; b++)
      ARG(pl, kk, kernel_noop[kk].bufs[b], cl_mem, dev->dummy);
    if (kernel_noop[kk].long_arg >= 0)
      ARG(pl, kk, (cl_uint)kernel_noop[kk].long_arg, cl_long, 0);
    ARG(pl, kk, kernel_noop[kk].count, cl_int, 0);
    if (kk == K_FWD_DIRECT || kk == K_FWD_DIRECT_ROWS)
      ARG(pl, kk, 5, cl_int, 0);
    if (kk == K_IM2COL_ROWS_PANEL) ARG(pl, kk, 4, cl_int, (cl_int)pl->tn);
    if (kk == K_IM2COL_T_PANEL) ARG(pl, kk, 4, cl_int, (cl_int)pl->wtnw);
    if (kk == K_DY_IM2COL && pl->dpanel) ARG(pl, kk, 4, cl_int, (cl_int)pl->dtn);
    if (kk == K_WINO_FILTER) ARG(pl, kk, 3, cl_int, 0);
    if (kk == K_WINO_FILTER_BD) ARG(pl, kk, 3, cl_int, 1);
    if (kk == K_WINO_INPUT) ARG(pl, kk, 4, cl_int, (cl_int)pl->wtn[0]);
    if (kk == K_WINO_INPUT_BD) ARG(pl, kk, 4, cl_int, (cl_int)pl->wtn[1]);
    if (kk == K_WINO_OUTPUT || kk == K_WINO_OUTPUT_BD) {
      ARG(pl, kk, 4, cl_int, 0);
      ARG(pl, kk, kernel_geom_arg[kk] + 19, cl_int, 0); /* act */
      ARG(pl, kk, kernel_geom_arg[kk] + 20, cl_float, 0.0f);
    }
    if (has_dx_epilogue(kk)) {
      st = set_dx_epilogue(pl, kk, NULL, CONV_ACT_NONE, 0.0f, err);
      if (st != CONV_SUCCESS) return st;
    }
    if (has_fwd_act(kk)) {
      ARG(pl, kk, kernel_geom_arg[kk] + 19, cl_int,
          fwd_fuses_act(pl) ? (cl_int)p->activation : 0);
      ARG(pl, kk, kernel_geom_arg[kk] + 20, cl_float, p->activation_alpha);
    }
    if (kk == K_SUM_SLICES) {
      ARG(pl, kk, 2, cl_int, 1);
      ARG(pl, kk, 4, cl_int, 0);
    } else {
      st = set_geometry(pl, kk, err);
      if (st != CONV_SUCCESS) return st;
    }
    size_t d0 = 1;
    switch (kk) {
      case K_IM2COL: case K_BIAS_ADD: case K_FWD_DIRECT: d0 = pl->np; break;
      case K_IM2COL_T: d0 = pl->rt; break;
      case K_IM2COL_ROWS: case K_IM2COL_ROWS_PANEL: case K_FWD_DIRECT_ROWS:
      case K_IM2COL_T_PANEL:
        d0 = (size_t)p->h_out;
        break;
      case K_IM2COL_T_ROWS: d0 = (size_t)p->w_out; break;
      case K_COL2IM: case K_BWD_DATA_DIRECT: d0 = pl->hw; break;
      case K_COL2IM_ROWS: d0 = (size_t)p->h; break;
      case K_BWD_DATA_DIRECT_ROWS: d0 = (size_t)p->h; break;
      case K_BWD_WEIGHT_DIRECT_ROWS: d0 = wgrad_rows_items(pl); break;
      case K_DY_IM2COL: d0 = pl->rows ? (size_t)p->h : pl->hw; break;
      case K_WEIGHT_T: d0 = (size_t)p->c_out * pl->r; break;
      case K_WINO_FILTER: d0 = (size_t)p->c_out * (size_t)pl->cg; break;
      case K_WINO_FILTER_BD: d0 = (size_t)p->c_in * (size_t)pl->kg; break;
      case K_WINO_INPUT: case K_WINO_OUTPUT: d0 = wino_d0(pl, 0); break;
      case K_WINO_INPUT_BD: case K_WINO_OUTPUT_BD: d0 = wino_d0(pl, 1); break;
      case K_SUM_SLICES: d0 = (size_t)p->c_out * pl->r; break;
      default: d0 = 1; break;
    }
    size_t l[3];
    local_size(pl, kk, d0, l);
    l[2] = 1;
    st = ocl_warm_launch(dev, pl->base, pl->k[kk], kernel_names[kk], 2, l,
                         base_classes(pl, kk, d0, l), err);
    if (st != CONV_SUCCESS) return st;
  }

  /* The fused activation's kernel after a CLBlast forward
   * (opencl_epilogue.c launches bias_act over (h_out*w_out, n*c_out) with
   * groups of 64 or 1 by the plane size): its work-group shape compiled
   * now, by a launch over no channel. */
  if (p->activation != CONV_ACT_NONE && !fwd_fuses_act(pl)) {
    static const char *const epi[] = {"bias_act", "channel_sum"};
    ocl_program *ep = NULL;
    st = ocl_device_select(dev, epi, 2, &ep, err);
    if (st != CONV_SUCCESS) return st;
    cl_kernel k = clCreateKernel(ep->prog, "bias_act", &e);
    if (k == NULL) return cl_fail(err, "clCreateKernel(bias_act)", e);
    const cl_int zero = 0, one = 1;
    const cl_float a0 = 0.0f;
    e = clSetKernelArg(k, 0, sizeof(cl_mem), &dev->dummy);
    if (e == CL_SUCCESS) e = clSetKernelArg(k, 1, sizeof(cl_mem), &dev->dummy);
    if (e == CL_SUCCESS) e = clSetKernelArg(k, 2, sizeof zero, &zero);
    if (e == CL_SUCCESS) e = clSetKernelArg(k, 3, sizeof zero, &zero); /* NC */
    if (e == CL_SUCCESS) e = clSetKernelArg(k, 4, sizeof one, &one);
    if (e == CL_SUCCESS) e = clSetKernelArg(k, 5, sizeof one, &one);
    if (e == CL_SUCCESS) e = clSetKernelArg(k, 6, sizeof zero, &zero);
    if (e == CL_SUCCESS) e = clSetKernelArg(k, 7, sizeof a0, &a0);
    if (e != CL_SUCCESS) {
      clReleaseKernel(k);
      return cl_fail(err, "clSetKernelArg(bias_act, warm-up)", e);
    }
    const size_t l[3] = {pl->np >= 64 ? 64 : 1, 1, 1};
    ocl_program_keep(dev, ep);
    st = ocl_warm_launch(dev, ep, k, "bias_act", 2, l,
                         ocl_grid_classes(round_up(pl->np, l[0]),
                                          widest(round_up(pl->np, l[0]),
                                                 (size_t)(p->n * p->c_out))),
                         err);
    clReleaseKernel(k);
    if (st != CONV_SUCCESS) return st;
  }

  /* Own GEMM kernels, one program per parameter set. */
  for (int op = 0; op < NOPS; op++) {
    if (algos[pl->ch[op].algo].gemm != 1) continue;
    const ocl_gemm_params *gp = &pl->ch[op].gp;
    char why[160];
    if (ocl_gemm_params_check(dev, gp, why, sizeof why) != 0)
      return conv_err_set(err, CONV_ERROR_UNSUPPORTED,
                          "opencl: GEMM parameters for %s: %s", op_keys[op],
                          why);
    char gopt[160];
    ocl_gemm_params_options(gp, gopt, sizeof gopt);
    pthread_mutex_lock(&dev->lock);
    st = ocl_device_build(dev, OCL_SRC_GEMM, gopt, &pl->gprog[op], err);
    pthread_mutex_unlock(&dev->lock);
    if (st != CONV_SUCCESS) return st;
    const char *kname = gp->family == OCL_GEMM_VEC ? "gemm_vec" : "gemm_tiled";
    pl->gk[op] = clCreateKernel(pl->gprog[op]->prog, kname, &e);
    if (pl->gk[op] == NULL) return cl_fail(err, "clCreateKernel(gemm)", e);
    size_t kmax = 0;
    e = clGetKernelWorkGroupInfo(pl->gk[op], dev->id, CL_KERNEL_WORK_GROUP_SIZE,
                                 sizeof kmax, &kmax, NULL);
    const size_t need = gp->family == OCL_GEMM_VEC
                            ? (size_t)gp->lm * gp->ln
                            : (size_t)gp->mdimc * gp->ndimc;
    if (e == CL_SUCCESS && kmax < need)
      return conv_err_set(err, CONV_ERROR_UNSUPPORTED,
                          "opencl: GEMM kernel for %s needs work-groups of "
                          "%zu, the device allows %zu for it", op_keys[op],
                          need, kmax);
    ocl_gemm_call c;
    memset(&c, 0, sizeof c);
    c.kp = 1;
    c.g = c.nb = c.slices = 1;
    c.a = c.b = c.c = dev->dummy;
    st = ocl_gemm_enqueue(dev, pl->gk[op], gp, &c, err); /* m = 0: args only */
    if (st != CONV_SUCCESS) return st;
    size_t l[3] = {gp->family == OCL_GEMM_VEC ? (size_t)gp->ln
                                              : (size_t)gp->ndimc,
                   gp->family == OCL_GEMM_VEC ? (size_t)gp->lm
                                              : (size_t)gp->mdimc,
                   1};
    st = ocl_warm_launch(dev, pl->gprog[op], pl->gk[op], kname, 3, l,
                         gemm_classes(pl, op), err);
    if (st != CONV_SUCCESS) return st;
  }

  /* CLBlast: its temporary buffer sized here, and each GEMM shape run once
   * on scratch buffers so that its kernels are compiled now. */
  if (need_blast) {
    size_t most = 0;
    for (int op = 0; op < NOPS; op++) {
      if (algos[pl->ch[op].algo].gemm != 2) continue;
      ocl_gemm_call c = op == OP_FWD ? fwd_call(pl, NULL, NULL, NULL, NULL, 0, 1)
                      : op == OP_BWD_DATA ? bwd_data_call(pl, NULL, NULL, NULL, 0, 1)
                      : bwd_weight_call(pl, NULL, NULL, 0, 1);
      size_t size = 0;
      CLBlastStatusCode s = CLBlastSGemmTempBufferSize(
          CLBlastLayoutRowMajor,
          c.trans_a ? CLBlastTransposeYes : CLBlastTransposeNo,
          CLBlastTransposeNo, (size_t)c.m, (size_t)c.n, (size_t)c.kp, 0,
          (size_t)c.lda, 0, (size_t)c.ldb, 0, (size_t)c.ldc, &dev->queue,
          &size);
      if (s != CLBlastSuccess)
        return blast_fail(err, "CLBlastSGemmTempBufferSize", s);
      if (size > most) most = size;
    }
    pl->tmp_bytes = most > 0 ? most : 4;
    pl->tmp = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, pl->tmp_bytes, NULL,
                             &e);
    if (pl->tmp == NULL)
      return cl_fail(err, "clCreateBuffer(CLBlast temporary buffer)", e);
    for (int op = 0; op < NOPS; op++) {
      if (algos[pl->ch[op].algo].gemm != 2) continue;
      ocl_gemm_call c = op == OP_FWD ? fwd_call(pl, NULL, NULL, NULL, NULL, 0, 1)
                      : op == OP_BWD_DATA ? bwd_data_call(pl, NULL, NULL, NULL, 0, 1)
                      : bwd_weight_call(pl, NULL, NULL, 0, 1);
      const size_t abytes = 4 * (size_t)c.lda * (size_t)(c.trans_a ? c.kp : c.m);
      const size_t bbytes = 4 * (size_t)c.ldb * (size_t)c.kp;
      const size_t cbytes = 4 * (size_t)c.ldc * (size_t)c.m;
      cl_mem a = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, abytes, NULL, &e);
      cl_mem b = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, bbytes, NULL, &e);
      cl_mem cc = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, cbytes, NULL, &e);
      if (a != NULL && b != NULL && cc != NULL) {
        const float zero = 0.0f;
        clEnqueueFillBuffer(dev->queue, a, &zero, 4, 0, abytes, 0, NULL, NULL);
        clEnqueueFillBuffer(dev->queue, b, &zero, 4, 0, bbytes, 0, NULL, NULL);
        c.nb = c.g = c.kb = 1;
        c.a = a; c.b = b; c.c = cc;
        c.a_off = c.b_off = c.c_off = 0;
        c.accumulate = 0;
        st = gemm_clblast(pl, &c, err);
        if (st == CONV_SUCCESS) st = finish(pl, err);
      }
      if (a) clReleaseMemObject(a);
      if (b) clReleaseMemObject(b);
      if (cc) clReleaseMemObject(cc);
      if (st != CONV_SUCCESS) return st;
    }
  }
  return CONV_SUCCESS;
}

/* The choice for each op: forced, else the tuning database, else the
 * policy; GEMM parameters from $CONV_OPENCL_GEMM, the database or the
 * device default. */
static conv_status choose(ocl_device *dev, const plan_env *pe,
                          const conv_problem *p, const int forced[NOPS],
                          const ocl_gemm_params *env_gp, op_choice ch[NOPS],
                          conv_err *err) {
  shape_facts f;
  char buf[160];
  facts(pe, p, &f);
  for (int op = 0; op < NOPS; op++) {
    op_choice *c = &ch[op];
    int64_t m, n, k;
    gemm_shape(p, op, &m, &n, &k);
    memset(c, 0, sizeof *c);
    c->algo = forced[op];
    int tuned = 0;
    if (c->algo != ALGO_NONE) {
      const char *why = why_not(c->algo, op, &f, buf, sizeof buf);
      if (why != NULL)
        return conv_err_set(err, CONV_ERROR_UNSUPPORTED,
                            "opencl: algorithm %s cannot serve %s of this "
                            "problem: %s", algos[c->algo].name, op_keys[op],
                            why);
    } else {
      char exact[256], shape[128], an[64], pr[256];
      class_keys(p, op, m, n, k, exact, shape);
      const char *keys[2] = {exact, shape};
      for (int i = 0; i < 2 && !tuned; i++) {
        if (ocl_tune_lookup(dev, keys[i], an, sizeof an, pr, sizeof pr) != 0)
          continue;
        const int a = algo_by_name(an, strlen(an));
        ocl_gemm_params gp;
        char why[160];
        if (a < 0 || why_not(a, op, &f, buf, sizeof buf) != NULL ||
            (algos[a].gemm == 1 &&
             (ocl_gemm_params_parse(pr, &gp, why, sizeof why) != 0 ||
              ocl_gemm_params_check(dev, &gp, why, sizeof why) != 0))) {
          if (ocl_verbose())
            fprintf(stderr, "libconv: opencl: tuning entry '%s %s %s' does "
                    "not fit this problem or device: ignored\n", keys[i], an,
                    pr);
          continue;
        }
        c->algo = a;
        if (algos[a].gemm == 1) c->gp = gp;
        snprintf(c->source, sizeof c->source, "tuned (%s)",
                 i == 0 ? "this problem" : "GEMM shape class");
        tuned = 1;
      }
      for (size_t i = 0; c->algo == ALGO_NONE && i < sizeof policy /
                                                           sizeof policy[0];
           i++) {
        const int r = policy[i].rule;
        if ((r == RULE_THIN && !f.thin) ||
            (r == RULE_FEW && (!f.few || op == OP_BWD_WEIGHT)) ||
            (r == RULE_WIDE && !f.wide) || (r == RULE_DY && !f.dy_wide))
          continue;
        if (why_not(policy[i].algo, op, &f, buf, sizeof buf) == NULL)
          c->algo = policy[i].algo;
      }
    }
    if (algos[c->algo].gemm != 1) {
      snprintf(c->source, sizeof c->source, "-");
    } else if (env_gp != NULL) {
      c->gp = *env_gp;
      snprintf(c->source, sizeof c->source, "CONV_OPENCL_GEMM");
    } else if (!tuned) {
      ocl_gemm_params_default(dev, (long)m, (long)n, &c->gp);
      snprintf(c->source, sizeof c->source, "default for the device type");
    }
  }
  return CONV_SUCCESS;
}

static conv_status plan_make(ocl_device *dev, const plan_env *pe,
                             const conv_problem *p, const op_choice ch[NOPS],
                             ocl_plan **out, conv_err *err) {
  ocl_plan *pl = calloc(1, sizeof *pl);
  *out = NULL;
  if (pl == NULL)
    return conv_err_set(err, CONV_ERROR_OUT_OF_MEMORY,
                        "opencl plan_create: out of host memory");
  pl->dev = dev;
  pl->p = *p;
  pl->env = *pe;
  memcpy(pl->ch, ch, sizeof pl->ch);
  pl->cg = p->c_in / p->groups;
  pl->kg = p->c_out / p->groups;
  pl->r = (size_t)(pl->cg * p->kh * p->kw);
  pl->rt = (size_t)(p->c_in * p->kh * p->kw);
  pl->np = (size_t)(p->h_out * p->w_out);
  pl->hw = (size_t)(p->h * p->w);
  /* Lowering kernels: loops over rows on CPUs, one item per element
   * elsewhere; $CONV_OPENCL_LOWERING=rows|elements forces (for tests). */
  pl->rows = pe->rows >= 0 ? pe->rows : (dev->type & CL_DEVICE_TYPE_CPU) != 0;
  conv_status st = plan_setup(pl, err);
  if (st != CONV_SUCCESS) {
    ocl_plan_destroy(pl);
    return st;
  }
  *out = pl;
  return CONV_SUCCESS;
}

/* ---------------------------------------------------------------- tuning */

typedef struct tune_bufs {
  cl_mem x, w, b, y, dy, dx, dw, db;
} tune_bufs;

static void tune_bufs_free(tune_bufs *t) {
  cl_mem *m = &t->x;
  for (int i = 0; i < 8; i++)
    if (m[i] != NULL) clReleaseMemObject(m[i]);
}

static conv_status tune_bufs_make(ocl_device *dev, const conv_problem *p,
                                  tune_bufs *t, conv_err *err) {
  const size_t sz[8] = {
      (size_t)(p->n * p->c_in * p->h * p->w),
      (size_t)(p->c_out * (p->c_in / p->groups) * p->kh * p->kw),
      (size_t)p->c_out,
      (size_t)(p->n * p->c_out * p->h_out * p->w_out),
      (size_t)(p->n * p->c_out * p->h_out * p->w_out),
      (size_t)(p->n * p->c_in * p->h * p->w),
      (size_t)(p->c_out * (p->c_in / p->groups) * p->kh * p->kw),
      (size_t)p->c_out};
  cl_mem *m = &t->x;
  memset(t, 0, sizeof *t);
  for (int i = 0; i < 8; i++) {
    cl_int e;
    const size_t bytes = 4 * (sz[i] ? sz[i] : 1);
    m[i] = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, bytes, NULL, &e);
    if (m[i] == NULL) {
      tune_bufs_free(t);
      return cl_fail(err, "clCreateBuffer(tuning tensors)", e);
    }
    const float v = 0.25f; /* normal numbers: no denormal slow paths */
    clEnqueueFillBuffer(dev->queue, m[i], &v, 4, 0, bytes, 0, NULL, NULL);
  }
  return finish_queue(dev, err);
}


static conv_status run_op(ocl_plan *pl, int op, const tune_bufs *t,
                          conv_err *err) {
  if (op == OP_FWD)
    return ocl_forward(pl, t->x, t->w, pl->p.has_bias ? t->b : NULL, t->y,
                       err);
  if (op == OP_BWD_DATA) return ocl_backward_data(pl, t->dy, t->w, t->dx, err);
  return ocl_backward_weight(pl, t->x, t->dy, t->dw, NULL, err);
}

/* Times each candidate for every op not forced, keeps the fastest in ch
 * and records it in the tuning database. */
static conv_status tune(ocl_device *dev, const plan_env *pe,
                        const conv_problem *p, const int forced[NOPS],
                        op_choice ch[NOPS], conv_err *err) {
  tune_bufs t;
  shape_facts f;
  char buf[160];
  conv_status st = tune_bufs_make(dev, p, &t, err);
  if (st != CONV_SUCCESS) return st;
  facts(pe, p, &f);
  ocl_gemm_params cands[32];
  const int ncand = ocl_gemm_candidates(dev, cands, 32);
  for (int op = 0; op < NOPS && st == CONV_SUCCESS; op++) {
    if (forced[op] != ALGO_NONE) continue;
    ocl_progress("tuning %s of the problem on %s (once; results kept in the "
                 "tuning database)", op_keys[op], dev->name);
    double best = -1.0;
    op_choice win = ch[op];
    for (int a = ALGO_DIRECT; a < NALGOS; a++) {
      if (why_not(a, op, &f, buf, sizeof buf) != NULL) continue;
      if (a == ALGO_DIRECT && !f.thin) continue; /* too slow to bother */
      const int nc = algos[a].gemm == 1 ? ncand : 1;
      for (int i = 0; i < nc; i++) {
        op_choice trial[NOPS];
        memcpy(trial, ch, sizeof trial);
        trial[op].algo = a;
        if (algos[a].gemm == 1) {
          trial[op].gp = cands[i];
          snprintf(trial[op].source, sizeof trial[op].source, "tuned now");
        } else {
          snprintf(trial[op].source, sizeof trial[op].source, "-");
        }
        ocl_plan *pl = NULL;
        conv_err e2;
        e2.status = CONV_SUCCESS;
        e2.msg[0] = '\0';
        if (plan_make(dev, pe, p, trial, &pl, &e2) != CONV_SUCCESS) continue;
        double ms = -1.0;
        if (run_op(pl, op, &t, &e2) == CONV_SUCCESS) {
          for (int rep = 0; rep < 3; rep++) {
            const double t0 = now_ms();
            if (run_op(pl, op, &t, &e2) != CONV_SUCCESS) {
              ms = -1.0;
              break;
            }
            const double dt = now_ms() - t0;
            if (ms < 0 || dt < ms) ms = dt;
          }
        }
        ocl_plan_destroy(pl);
        if (ocl_verbose()) {
          char gs[128] = "-";
          if (algos[a].gemm == 1) ocl_gemm_params_str(&cands[i], gs, sizeof gs);
          fprintf(stderr, "libconv: opencl tune %s: %s %s: %.3f ms\n",
                  op_keys[op], algos[a].name, gs, ms);
        }
        if (ms >= 0 && (best < 0 || ms < best)) {
          best = ms;
          win = trial[op];
        }
      }
    }
    if (best >= 0) {
      char exact[256], shape[128], gs[128] = "-";
      int64_t m, n, k;
      gemm_shape(p, op, &m, &n, &k);
      class_keys(p, op, m, n, k, exact, shape);
      if (algos[win.algo].gemm == 1) ocl_gemm_params_str(&win.gp, gs, sizeof gs);
      ocl_tune_record(dev, exact, algos[win.algo].name, gs, best);
      ocl_tune_record(dev, shape, algos[win.algo].name, gs, best);
      ch[op] = win;
    }
  }
  tune_bufs_free(&t);
  return st;
}

conv_status ocl_plan_create(void *device, const conv_problem *problem,
                            const conv_plan_options *options, void **plan,
                            conv_err *err) {
  ocl_device *dev = device;
  const conv_problem *p = problem;
  int forced[NOPS];
  op_choice ch[NOPS];
  ocl_gemm_params env_gp, *egp = NULL;
  plan_env pe;
  conv_status st;

  *plan = NULL;
  st = parse_algo(options ? options->algo : NULL, forced, err);
  if (st != CONV_SUCCESS) return st;
  st = read_env(dev, &pe, err);
  if (st != CONV_SUCCESS) return st;
  const char *gs = pe.gemm;
  if (gs[0] != '\0') {
    char why[200];
    if (ocl_gemm_params_parse(gs, &env_gp, why, sizeof why) != 0)
      return conv_err_set(err, CONV_ERROR_INVALID_ARGUMENT,
                          "CONV_OPENCL_GEMM='%s': %s", gs, why);
    if (ocl_gemm_params_check(dev, &env_gp, why, sizeof why) != 0)
      return conv_err_set(err, CONV_ERROR_UNSUPPORTED,
                          "CONV_OPENCL_GEMM='%s': %s", gs, why);
    egp = &env_gp;
  }

  /* Kernels index planes and channels with int: check that they fit. */
  const int64_t imax = INT_MAX;
  const int64_t cg = p->c_in / p->groups;
  const int64_t n1 = p->n > 1 ? p->n : 1;
  if (p->h + p->pad_t + p->pad_b > imax / 2 ||
      p->w + p->pad_l + p->pad_r > imax / 2 || p->h > imax / p->w ||
      p->h_out > imax / p->w_out || p->c_in > imax / (p->kh * p->kw) ||
      p->c_out > imax / (cg * p->kh * p->kw) || n1 > imax / p->c_in ||
      n1 > imax / p->c_out || p->stride_h > imax / 2 || p->stride_w > imax / 2 ||
      p->dil_h > imax / p->kh || p->dil_w > imax / p->kw ||
      (double)n1 * (double)p->h_out * (double)p->w_out > (double)imax)
    return conv_err_set(err, CONV_ERROR_UNSUPPORTED,
                        "opencl: a plane, channel or kernel extent passes "
                        "2^31 elements (the kernels index planes with int)");

  st = choose(dev, &pe, p, forced, egp, ch, err);
  if (st != CONV_SUCCESS) return st;
  if (pe.tune && egp == NULL && p->n > 0) {
    st = tune(dev, &pe, p, forced, ch, err);
    if (st != CONV_SUCCESS) return st;
  }
  ocl_plan *pl = NULL;
  st = plan_make(dev, &pe, p, ch, &pl, err);
  if (st != CONV_SUCCESS) return st;
  ocl_program_keep(dev, pl->base);
  for (int op = 0; op < NOPS; op++) ocl_program_keep(dev, pl->gprog[op]);
  if (ocl_verbose()) {
    for (int op = 0; op < NOPS; op++) {
      char g[128] = "-";
      if (algos[ch[op].algo].gemm == 1) ocl_gemm_params_str(&ch[op].gp, g, sizeof g);
      fprintf(stderr, "libconv: opencl plan on %s: %s %s gemm %s (%s)%s\n",
              dev->name, op_keys[op], algos[ch[op].algo].name, g,
              ch[op].source,
              op == OP_BWD_WEIGHT && pl->slices > 1 ? ", split-K" : "");
    }
  }
  *plan = pl;
  return CONV_SUCCESS;
}

const char *ocl_plan_algorithm(void *plan, conv_op op) {
  ocl_plan *pl = plan;
  switch (op) {
    case CONV_OP_FORWARD: return algos[pl->ch[OP_FWD].algo].name;
    case CONV_OP_BACKWARD_DATA: return algos[pl->ch[OP_BWD_DATA].algo].name;
    case CONV_OP_BACKWARD_WEIGHT: return algos[pl->ch[OP_BWD_WEIGHT].algo].name;
    case CONV_OP_BACKWARD_BIAS: return "reduce";
    default: return "none";
  }
}

size_t ocl_plan_workspace(void *plan) {
  const ocl_plan *pl = plan;
  return pl->col_bytes + pl->part_bytes + pl->tmp_bytes + pl->wt_bytes +
         pl->wino_bytes;
}

/* ------------------------------------------------------------ operations */

/* Winograd F(2x2,3x3): side 0 the forward pass (in x, out y, bias b or
 * NULL), side 1 backward data as the convolution of dy (in) into dx (out)
 * with w transposed per group and rotated (the kernels' geometry says so:
 * set_geometry's v1). Per chunk: input transform, 16 batched GEMMs
 * U (cout/G x cin/G) . V (cin/G x tiles), output transform. */
static conv_status run_winograd(ocl_plan *pl, int side, cl_mem in, cl_mem w,
                                cl_mem b, conv_activation act, float alpha,
                                cl_mem out, conv_err *err) {
  const conv_problem *p = &pl->p;
  const int kf = side ? K_WINO_FILTER_BD : K_WINO_FILTER;
  const int ki = side ? K_WINO_INPUT_BD : K_WINO_INPUT;
  const int ko = side ? K_WINO_OUTPUT_BD : K_WINO_OUTPUT;
  const int64_t cin = side ? p->c_out : p->c_in;
  const int64_t cout = side ? p->c_in : p->c_out;
  const int64_t cing = cin / p->groups, coutg = cout / p->groups;
  const int64_t in_plane = side ? (int64_t)pl->np : (int64_t)pl->hw;
  const int64_t out_plane = side ? (int64_t)pl->hw : (int64_t)pl->np;
  const int64_t tiles = pl->tiles[side], chunk = pl->wchunk[side];
  const int64_t tn = (int64_t)pl->wtn[side];
  conv_status st;
  const size_t count = (size_t)(cout * cing);
  ARG(pl, kf, 0, cl_mem, w);
  ARG(pl, kf, 1, cl_mem, pl->wu[side]);
  ARG(pl, kf, 2, cl_int, (cl_int)count);
  st = launch(pl, kf, count, 1, err);
  if (st != CONV_SUCCESS) return st;
  for (int64_t n0 = 0; n0 < p->n; n0 += chunk) {
    const int64_t nb = p->n - n0 < chunk ? p->n - n0 : chunk;
    const int64_t q = nb * tiles;
    const int64_t qp = (q + tn - 1) / tn * tn;
    ARG(pl, ki, 0, cl_mem, in);
    ARG(pl, ki, 1, cl_long, (cl_long)(n0 * cin * in_plane));
    ARG(pl, ki, 2, cl_mem, pl->wv[side]);
    ARG(pl, ki, 3, cl_int, (cl_int)nb);
    st = launch(pl, ki, wino_d0(pl, side), (size_t)(nb * cin), err);
    if (st != CONV_SUCCESS) return st;
    ocl_gemm_call c;
    memset(&c, 0, sizeof c);
    c.m = (int)coutg;
    c.n = (int)q;
    c.kb = 1;
    c.kp = (int)cing;
    c.a = pl->wu[side];
    c.lda = (int)cing;
    c.a_sn = (long)(cout * cing);
    c.a_sg = (long)(coutg * cing);
    c.b = pl->wv[side];
    c.b_panel = tn > 1;
    if (c.b_panel) { /* the 16 planes interleaved by panel rows */
      c.ldb = 16 * (int)tn;
      c.b_sn = (long)tn;
      c.b_sg = (long)(cing * 16 * qp);
    } else {
      c.ldb = (int)q;
      c.b_sn = (long)(cin * qp);
      c.b_sg = (long)(cing * qp);
    }
    c.c = pl->wm[side];
    c.ldc = (int)q;
    c.c_sn = (long)(cout * q);
    c.c_sg = (long)(coutg * q);
    c.g = (int)p->groups;
    c.nb = 16;
    c.slices = 1;
    st = gemm(pl, side ? OP_BWD_DATA : OP_FWD, &c, err);
    if (st != CONV_SUCCESS) return st;
    ARG(pl, ko, 0, cl_mem, pl->wm[side]);
    ARG(pl, ko, 1, cl_mem, out);
    ARG(pl, ko, 2, cl_long, (cl_long)(n0 * cout * out_plane));
    ARG(pl, ko, 3, cl_mem, b != NULL ? b : pl->wm[side]);
    ARG(pl, ko, 4, cl_int, b != NULL);
    ARG(pl, ko, 5, cl_int, (cl_int)nb);
    ARG(pl, ko, kernel_geom_arg[ko] + 19, cl_int, (cl_int)act);
    ARG(pl, ko, kernel_geom_arg[ko] + 20, cl_float, alpha);
    st = launch(pl, ko, wino_d0(pl, side), (size_t)(nb * cout), err);
    if (st != CONV_SUCCESS) return st;
  }
  return CONV_SUCCESS;
}

/* kk: K_IM2COL (col[n][r][p]) or K_IM2COL_T (col[n][p][r]); the plan's
 * variant of it runs. */
static conv_status run_im2col(ocl_plan *pl, int kk, cl_mem x, int64_t n0,
                              int64_t nb, conv_err *err) {
  const conv_problem *p = &pl->p;
  if (pl->rows) kk = kk == K_IM2COL ? K_IM2COL_ROWS : K_IM2COL_T_ROWS;
  if (pl->panel && kk == K_IM2COL_ROWS) kk = K_IM2COL_ROWS_PANEL;
  if (pl->wpanel && kk == K_IM2COL_T_ROWS) kk = K_IM2COL_T_PANEL;
  ARG(pl, kk, 0, cl_mem, x);
  ARG(pl, kk, 1, cl_long, (cl_long)(n0 * p->c_in * (int64_t)pl->hw));
  ARG(pl, kk, 2, cl_mem, pl->col);
  ARG(pl, kk, 3, cl_int, (cl_int)nb);
  switch (kk) {
    case K_IM2COL:
      return launch(pl, kk, pl->np, (size_t)nb * pl->rt, err);
    case K_IM2COL_ROWS:
    case K_IM2COL_ROWS_PANEL:
      return launch(pl, kk, (size_t)p->h_out, (size_t)nb * pl->rt, err);
    case K_IM2COL_T:
      return launch(pl, kk, pl->rt, (size_t)nb * pl->np, err);
    case K_IM2COL_T_PANEL:
      return launch(pl, kk, (size_t)p->h_out,
                    (size_t)nb * (size_t)p->groups * pl->wpq, err);
    default:
      return launch(pl, kk, (size_t)p->w_out, (size_t)(nb * p->h_out), err);
  }
}

static conv_status bias_grad(ocl_plan *pl, cl_mem dy, cl_mem db,
                             conv_err *err) {
  ARG(pl, K_BIAS_GRAD, 0, cl_mem, dy);
  ARG(pl, K_BIAS_GRAD, 1, cl_mem, db);
  ARG(pl, K_BIAS_GRAD, 2, cl_int, (cl_int)pl->p.n);
  return launch(pl, K_BIAS_GRAD, (size_t)pl->p.c_out, 1, err);
}

static conv_status forward_conv(void *plan, const void *xv, const void *wv,
                                const void *bv, void *yv, conv_err *err) {
  ocl_plan *pl = plan;
  const conv_problem *p = &pl->p;
  cl_mem x = (cl_mem)xv, w = (cl_mem)wv, b = (cl_mem)bv, y = (cl_mem)yv;
  const int algo = pl->ch[OP_FWD].algo;
  const int has_bias = p->has_bias && b != NULL;
  conv_status st;

  if (algo == ALGO_DIRECT) {
    const int kk = pl->rows ? K_FWD_DIRECT_ROWS : K_FWD_DIRECT;
    ARG(pl, kk, 0, cl_mem, x);
    ARG(pl, kk, 1, cl_mem, w);
    ARG(pl, kk, 2, cl_mem, has_bias ? b : w);
    ARG(pl, kk, 3, cl_mem, y);
    ARG(pl, kk, 4, cl_int, (cl_int)p->n);
    ARG(pl, kk, 5, cl_int, has_bias);
    st = launch(pl, kk, pl->rows ? (size_t)p->h_out : pl->np,
                pl->rows ? fwd_rows_d1(pl) : (size_t)(p->n * p->c_out), err);
    if (st != CONV_SUCCESS) return st;
    return finish(pl, err);
  }
  if (algo == ALGO_WINOGRAD) {
    st = run_winograd(pl, 0, x, w, has_bias ? b : NULL,
                      fwd_fuses_act(pl) ? p->activation : CONV_ACT_NONE,
                      p->activation_alpha, y, err);
    if (st != CONV_SUCCESS) return st;
    return finish(pl, err);
  }
  const int own = algos[algo].gemm == 1;
  const int64_t chunk = algos[algo].is1x1 ? p->n : pl->chunk;
  for (int64_t n0 = 0; n0 < p->n; n0 += chunk) {
    const int64_t nb = p->n - n0 < chunk ? p->n - n0 : chunk;
    if (!algos[algo].is1x1) {
      st = run_im2col(pl, K_IM2COL, x, n0, nb, err);
      if (st != CONV_SUCCESS) return st;
    }
    ocl_gemm_call c = fwd_call(pl, x, w, y, own && has_bias ? b : NULL, n0, nb);
    st = gemm(pl, OP_FWD, &c, err);
    if (st != CONV_SUCCESS) return st;
    if (has_bias && !own) {
      ARG(pl, K_BIAS_ADD, 0, cl_mem, y);
      ARG(pl, K_BIAS_ADD, 1, cl_long, (cl_long)(n0 * p->c_out * (int64_t)pl->np));
      ARG(pl, K_BIAS_ADD, 2, cl_mem, b);
      ARG(pl, K_BIAS_ADD, 3, cl_int, (cl_int)nb);
      st = launch(pl, K_BIAS_ADD, pl->np, (size_t)(nb * p->c_out), err);
      if (st != CONV_SUCCESS) return st;
    }
  }
  return finish(pl, err);
}

/* The convolution with its fused activation, if any, applied where y is
 * stored (fwd_direct[_rows], wino_output, gemm.cl's GEMM); after a CLBlast
 * GEMM, as the bias_act pass (opencl_epilogue.c). */
conv_status ocl_forward(void *plan, const void *xv, const void *wv,
                        const void *bv, void *yv, conv_err *err) {
  ocl_plan *pl = plan;
  conv_status st = forward_conv(plan, xv, wv, bv, yv, err);
  if (st != CONV_SUCCESS || fwd_fuses_act(pl)) return st;
  return ocl_forward_activation(pl->dev, &pl->p, yv, err);
}

/* dx from dy and w, then dx = act(dx + b) (b may be NULL, act none) in the
 * kernel that stores dx: col2im, the direct gather, or gemm.cl's GEMM where
 * it writes dx (a CLBlast GEMM writing dx ignores b and act). */
static conv_status backward_data_store(ocl_plan *pl, cl_mem dy, cl_mem w,
                                       cl_mem b, cl_mem dx,
                                       conv_activation act, float alpha,
                                       conv_err *err) {
  const conv_problem *p = &pl->p;
  const int algo = pl->ch[OP_BWD_DATA].algo;
  conv_status st;

  if (algo == ALGO_DIRECT) {
    const int rows = bwd_data_rows(pl);
    const int kk = rows ? K_BWD_DATA_DIRECT_ROWS : K_BWD_DATA_DIRECT;
    ARG(pl, kk, 0, cl_mem, dy);
    ARG(pl, kk, 1, cl_mem, w);
    ARG(pl, kk, 2, cl_mem, dx);
    ARG(pl, kk, 3, cl_int, (cl_int)p->n);
    st = set_dx_epilogue(pl, kk, b, act, alpha, err);
    if (st != CONV_SUCCESS) return st;
    st = launch(pl, kk, rows ? (size_t)p->h : pl->hw,
                rows ? bwd_rows_d1(pl) : (size_t)(p->n * p->c_in), err);
    if (st != CONV_SUCCESS) return st;
    return finish(pl, err);
  }
  if (algo == ALGO_WINOGRAD) {
    st = run_winograd(pl, 1, dy, w, b, act, alpha, dx, err);
    if (st != CONV_SUCCESS) return st;
    return finish(pl, err);
  }
  if (algo == ALGO_DY_IM2COL) {
    /* dx = conv(dy, w transposed per group), taps rotated: weight_t, then
     * per chunk im2col of dy and one batched GEMM straight into dx. */
    const size_t count = (size_t)p->c_out * pl->r;
    ARG(pl, K_WEIGHT_T, 0, cl_mem, w);
    ARG(pl, K_WEIGHT_T, 1, cl_mem, pl->wt);
    ARG(pl, K_WEIGHT_T, 2, cl_int, (cl_int)count);
    st = launch(pl, K_WEIGHT_T, count, 1, err);
    if (st != CONV_SUCCESS) return st;
    const int64_t rk = pl->kg * p->kh * p->kw; /* GEMM depth */
    for (int64_t n0 = 0; n0 < p->n; n0 += pl->dchunk) {
      const int64_t nb = p->n - n0 < pl->dchunk ? p->n - n0 : pl->dchunk;
      ARG(pl, K_DY_IM2COL, 0, cl_mem, dy);
      ARG(pl, K_DY_IM2COL, 1, cl_long, (cl_long)(n0 * p->c_out * (int64_t)pl->np));
      ARG(pl, K_DY_IM2COL, 2, cl_mem, pl->col);
      ARG(pl, K_DY_IM2COL, 3, cl_int, (cl_int)nb);
      const size_t rows = (size_t)(nb * p->c_out * p->kh * p->kw);
      st = launch(pl, K_DY_IM2COL, pl->rows ? (size_t)p->h : pl->hw, rows, err);
      if (st != CONV_SUCCESS) return st;
      ocl_gemm_call c;
      memset(&c, 0, sizeof c);
      c.m = (int)pl->cg;
      c.n = (int)pl->hw;
      c.kb = 1;
      c.kp = (int)rk;
      c.a = pl->wt;
      c.lda = (int)rk;
      c.a_sg = (long)(pl->cg * rk);
      c.b = pl->col;
      c.ldb = pl->dpanel ? (int)pl->dtn : (int)pl->hw;
      c.b_sn = (long)(p->c_out * p->kh * p->kw * (int64_t)pl->dpp);
      c.b_sg = (long)(rk * (int64_t)pl->dpp);
      c.b_panel = pl->dpanel;
      c.c = dx;
      c.c_off = (long)(n0 * p->c_in * (int64_t)pl->hw);
      c.ldc = (int)pl->hw;
      c.c_sn = (long)(p->c_in * (int64_t)pl->hw);
      c.c_sg = (long)(pl->cg * (int64_t)pl->hw);
      c.g = (int)p->groups;
      c.nb = (int)nb;
      c.slices = 1;
      c.bias = b; /* row m of group g is channel g*cg + m */
      c.act = (int)act;
      c.alpha = alpha;
      st = gemm(pl, OP_BWD_DATA, &c, err);
      if (st != CONV_SUCCESS) return st;
    }
    return finish(pl, err);
  }
  const int64_t chunk = algos[algo].is1x1 ? p->n : pl->chunk;
  for (int64_t n0 = 0; n0 < p->n; n0 += chunk) {
    const int64_t nb = p->n - n0 < chunk ? p->n - n0 : chunk;
    ocl_gemm_call c = bwd_data_call(pl, dy, w, dx, n0, nb);
    if (algos[algo].is1x1) { /* the GEMM writes dx: its epilogue */
      c.bias = b;
      c.act = (int)act;
      c.alpha = alpha;
    }
    st = gemm(pl, OP_BWD_DATA, &c, err);
    if (st != CONV_SUCCESS) return st;
    if (!algos[algo].is1x1) {
      const int kk = pl->rows ? K_COL2IM_ROWS : K_COL2IM;
      ARG(pl, kk, 0, cl_mem, pl->col);
      ARG(pl, kk, 1, cl_mem, dx);
      ARG(pl, kk, 2, cl_long, (cl_long)(n0 * p->c_in * (int64_t)pl->hw));
      ARG(pl, kk, 3, cl_int, (cl_int)nb);
      st = set_dx_epilogue(pl, kk, b, act, alpha, err);
      if (st != CONV_SUCCESS) return st;
      st = launch(pl, kk, pl->rows ? (size_t)p->h : pl->hw,
                  (size_t)(nb * p->c_in), err);
      if (st != CONV_SUCCESS) return st;
    }
  }
  return finish(pl, err);
}

/* backward_data_store with the bias and activation split between the
 * kernels' store and the bias_act pass: the pass takes what a CLBlast GEMM
 * writing dx cannot apply, and what act_in_kernel leaves to it. */
static conv_status backward_data_epi(ocl_plan *pl, cl_mem dy, cl_mem w,
                                     cl_mem b, cl_mem dx, conv_activation act,
                                     float alpha, conv_err *err) {
  const int algo = pl->ch[OP_BWD_DATA].algo;
  const int blast_dx = algos[algo].is1x1 && algos[algo].gemm == 2;
  const conv_activation ka =
      blast_dx || !act_in_kernel(pl, act) ? CONV_ACT_NONE : act;
  cl_mem pass_b = blast_dx ? b : NULL;
  const conv_activation pass_act = ka == act ? CONV_ACT_NONE : act;
  conv_status st = backward_data_store(pl, dy, w, blast_dx ? NULL : b, dx, ka,
                                       alpha, err);
  if (st == CONV_SUCCESS && (pass_b != NULL || pass_act != CONV_ACT_NONE))
    st = ocl_bias_activation(pl, dx, pass_b, pl->p.n, pl->p.c_in,
                             (int64_t)pl->hw, pass_act, alpha, err);
  return st;
}

conv_status ocl_backward_data(void *plan, const void *dyv, const void *wv,
                              void *dxv, conv_err *err) {
  return backward_data_epi(plan, (cl_mem)dyv, (cl_mem)wv, NULL, (cl_mem)dxv,
                           CONV_ACT_NONE, 0.0f, err);
}

conv_status ocl_backward_data_bias_activation(void *plan, const void *dyv,
                                              const void *wv, const void *bv,
                                              void *dxv, conv_activation act,
                                              float alpha, conv_err *err) {
  return backward_data_epi(plan, (cl_mem)dyv, (cl_mem)wv, (cl_mem)bv,
                           (cl_mem)dxv, act, alpha, err);
}

conv_status ocl_backward_weight(void *plan, const void *xv, const void *dyv,
                                void *dwv, void *dbv, conv_err *err) {
  ocl_plan *pl = plan;
  const conv_problem *p = &pl->p;
  cl_mem x = (cl_mem)xv, dy = (cl_mem)dyv, dw = (cl_mem)dwv, db = (cl_mem)dbv;
  const int algo = pl->ch[OP_BWD_WEIGHT].algo;
  conv_status st;

  if (algo == ALGO_DIRECT) {
    const int kk = pl->rows ? K_BWD_WEIGHT_DIRECT_ROWS : K_BWD_WEIGHT_DIRECT;
    ARG(pl, kk, 0, cl_mem, x);
    ARG(pl, kk, 1, cl_mem, dy);
    ARG(pl, kk, 2, cl_mem, dw);
    ARG(pl, kk, 3, cl_int, (cl_int)p->n);
    st = launch(pl, kk,
                pl->rows ? wgrad_rows_items(pl) : (size_t)p->c_out * pl->r, 1,
                err);
    if (st != CONV_SUCCESS) return st;
  } else {
    /* Per chunk: x transposed per image (col_t), then dw (+)= dy * col_t
     * per group with the inner dimension over the chunk's images and
     * positions, chunk after chunk in batch order; split-K partials are
     * summed in slice order. The same shapes on every run: fixed order. */
    for (int64_t n0 = 0; n0 < p->n; n0 += pl->chunk) {
      const int64_t nb = p->n - n0 < pl->chunk ? p->n - n0 : pl->chunk;
      st = run_im2col(pl, K_IM2COL_T, x, n0, nb, err);
      if (st != CONV_SUCCESS) return st;
      ocl_gemm_call c = bwd_weight_call(pl, dy, dw, n0, nb);
      if (algos[algo].gemm == 2) {
        c.c = dw;
        c.c_ss = 0;
        c.slices = 1;
        c.accumulate = n0 > 0;
      }
      st = gemm(pl, OP_BWD_WEIGHT, &c, err);
      if (st != CONV_SUCCESS) return st;
      if (algos[algo].gemm == 1 && pl->slices > 1) {
        int klen;
        const int ns = ocl_gemm_slices(&c, &klen);
        const size_t kr = (size_t)p->c_out * pl->r;
        ARG(pl, K_SUM_SLICES, 0, cl_mem, pl->part);
        ARG(pl, K_SUM_SLICES, 1, cl_mem, dw);
        ARG(pl, K_SUM_SLICES, 2, cl_int, (cl_int)ns);
        ARG(pl, K_SUM_SLICES, 3, cl_int, (cl_int)kr);
        ARG(pl, K_SUM_SLICES, 4, cl_int, n0 > 0);
        st = launch(pl, K_SUM_SLICES, kr, 1, err);
        if (st != CONV_SUCCESS) return st;
      }
    }
  }
  if (db != NULL) {
    st = bias_grad(pl, dy, db, err);
    if (st != CONV_SUCCESS) return st;
  }
  return finish(pl, err);
}

conv_status ocl_backward_bias(void *plan, const void *dyv, void *dbv,
                              conv_err *err) {
  ocl_plan *pl = plan;
  conv_status st = bias_grad(pl, (cl_mem)dyv, (cl_mem)dbv, err);
  if (st != CONV_SUCCESS) return st;
  return finish(pl, err);
}

ocl_device *ocl_plan_device(void *plan) { return ((ocl_plan *)plan)->dev; }
