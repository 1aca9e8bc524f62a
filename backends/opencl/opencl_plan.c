/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Plans of the libconv OpenCL backend and the four operations.
 *
 * Algorithms (per operation, chosen at plan creation, $CONV_ALGO forces):
 *   gemm_1x1     1x1 kernel, stride 1, no padding: the input is the column
 *                matrix, so each (image, group) is one GEMM through CLBlast
 *                (the weight gradient still lays a chunk out side by side).
 *   im2col_gemm  im2col into a workspace, batched GEMM per (image, group);
 *                backward data is GEMM then a gather col2im. The weight
 *                gradient lays a chunk of images side by side ([r][n][p],
 *                dy as [k][n][p]) and runs one GEMM per group over the
 *                chunk, accumulating chunks in batch order; on a device with
 *                many compute units the inner dimension is split into
 *                slices (split-K) whose partial products sum_slices adds in
 *                slice order.
 *   direct       one work item per output element (depthwise and small
 *                grouped convolutions, and problems too large for the
 *                workspace or for CLBlast's 32-bit offsets).
 * The bias gradient is a fixed-order work-group reduction ("reduce").
 * Max pooling (ABI 1.1) is in opencl_pool.c.
 *
 * Workspace: the im2col buffer, and for the weight gradient dy rearranged
 * and the split-K partials, each sized for a chunk of images so that no
 * buffer passes CL_DEVICE_MAX_MEM_ALLOC_SIZE or 256 MiB
 * ($CONV_OPENCL_MAX_CHUNK_BYTES lowers the cap, for tests).
 *
 * Everything is deterministic: no atomics, every sum in a fixed order, and
 * the same GEMM shapes on every run of a plan.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_env.h"
#include "opencl_internal.h"

enum { ALGO_NONE = 0, ALGO_GEMM1X1, ALGO_IM2COL, ALGO_DIRECT };
static const char *const algo_names[] = {"none", "gemm_1x1", "im2col_gemm",
                                         "direct"};
enum { OP_FWD = 0, OP_BWD_DATA = 1, OP_BWD_WEIGHT = 2, NOPS = 3 };

/* Grouped convolutions with at most this many input channels per group run
 * the direct kernels (a GEMM per group would be too thin to pay). */
#define DIRECT_MAX_CG 4

enum {
  K_IM2COL,
  K_COL2IM,
  K_BIAS_ADD,
  K_FWD_DIRECT,
  K_BWD_DATA_DIRECT,
  K_BWD_WEIGHT_DIRECT,
  K_BIAS_GRAD,
  K_BATCH_TRANSPOSE,
  K_SUM_SLICES,
  NKERNELS
};
static const char *const kernel_names[NKERNELS] = {
    "im2col",          "col2im",           "bias_add",  "fwd_direct",
    "bwd_data_direct", "bwd_weight_direct", "bias_grad", "batch_transpose",
    "sum_slices"};
/* Index of the first geometry argument of each kernel. */
static const cl_uint kernel_geom_arg[NKERNELS] = {5, 4, 4, 6, 4, 4, 3, 4, 5};

typedef struct ocl_plan {
  ocl_device *dev;
  conv_problem p;
  int algo[NOPS];
  int64_t cg, kg;     /* channels per group, in and out */
  size_t r, np, hw;   /* GEMM depth cg*kh*kw; output and input plane sizes */
  cl_kernel k[NKERNELS];
  size_t kmax[NKERNELS]; /* CL_KERNEL_WORK_GROUP_SIZE */
  cl_mem col;            /* im2col workspace: chunk images */
  cl_mem dyt;            /* weight gradient: dy of a chunk as [k][n][p] */
  cl_mem part;           /* weight gradient: split-K partial products */
  size_t col_bytes, dyt_bytes, part_bytes;
  int64_t slices;        /* split-K slices of the weight gradient (1: none) */
  int64_t chunk;   /* images per im2col chunk */
  int64_t chunk1;  /* images per gemm_1x1 batch */
  size_t nbatch;   /* capacity of the offset arrays */
  size_t *a_off, *b_off, *c_off;
  float *alpha, *beta;
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
      code == CLBlastOpenCLOutOfHostMemory)
    st = CONV_ERROR_OUT_OF_MEMORY;
  return conv_err_set(err, st, "%s: %s (%d)", call, ocl_clblast_name(code),
                      (int)code);
}

static size_t round_up(size_t v, size_t m) { return (v + m - 1) / m * m; }

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

static conv_status set_geometry(ocl_plan *pl, int kk, conv_err *err) {
  const conv_problem *p = &pl->p;
  const int64_t v[] = {p->c_in,    p->h,        p->w,      p->c_out,
                       p->kh,      p->kw,       p->h_out,  p->w_out,
                       p->stride_h, p->stride_w, p->dil_h, p->dil_w,
                       p->pad_t,   p->pad_b,    p->pad_l,  p->pad_r,
                       p->groups,  (int64_t)p->padding_mode,
                       (int64_t)(p->flip_kernel != 0)};
  cl_uint first = kernel_geom_arg[kk];
  for (cl_uint i = 0; i < sizeof v / sizeof v[0]; i++)
    ARG(pl, kk, first + i, cl_int, (cl_int)v[i]);
  return CONV_SUCCESS;
}

/* Enqueues kernel kk over d0 x d1 work items; local sizes chosen here (a NULL
 * local size lets some drivers run everything on one core), global sizes
 * rounded up and guarded in the kernel. */
static conv_status launch2d(ocl_plan *pl, int kk, size_t d0, size_t d1,
                            conv_err *err) {
  size_t total = pl->kmax[kk] < 64 ? pl->kmax[kk] : 64;
  size_t l0 = total, l1 = 1;
  if (d0 < l0) {
    l0 = pow2_at_least(d0);
    l1 = total / l0;
    if (l1 > d1) l1 = pow2_at_least(d1);
    if (l0 * l1 > total) l1 = total / l0 ? total / l0 : 1;
  }
  if (l0 == 0) l0 = 1;
  size_t global[2] = {round_up(d0, l0), round_up(d1, l1)};
  size_t local[2] = {l0, l1};
  cl_int e = clEnqueueNDRangeKernel(pl->dev->queue, pl->k[kk], 2, NULL, global,
                                    local, 0, NULL, NULL);
  if (e != CL_SUCCESS) {
    char call[96];
    snprintf(call, sizeof call, "clEnqueueNDRangeKernel(%s)", kernel_names[kk]);
    return cl_fail(err, call, e);
  }
  return CONV_SUCCESS;
}

/* One work-group of OCL_RED_WG items per group index. */
static conv_status launch_groups(ocl_plan *pl, int kk, size_t groups,
                                 conv_err *err) {
  size_t global = groups * OCL_RED_WG, local = OCL_RED_WG;
  cl_int e = clEnqueueNDRangeKernel(pl->dev->queue, pl->k[kk], 1, NULL,
                                    &global, &local, 0, NULL, NULL);
  if (e != CL_SUCCESS) {
    char call[96];
    snprintf(call, sizeof call, "clEnqueueNDRangeKernel(%s)", kernel_names[kk]);
    return cl_fail(err, call, e);
  }
  return CONV_SUCCESS;
}

static conv_status finish(ocl_plan *pl, conv_err *err) {
  cl_int e = clFinish(pl->dev->queue);
  return e == CL_SUCCESS ? CONV_SUCCESS : cl_fail(err, "clFinish", e);
}

/* count GEMMs C_i = alpha_i op(A_i) op(B_i) + beta_i C_i, row-major, with the
 * offsets and scalars in the plan's arrays. */
static conv_status gemm(ocl_plan *pl, CLBlastTranspose ta, CLBlastTranspose tb,
                        size_t m, size_t n, size_t k, cl_mem a, size_t lda,
                        cl_mem b, size_t ldb, cl_mem c, size_t ldc,
                        size_t count, conv_err *err) {
  CLBlastStatusCode s;
  if (count == 1) {
    s = CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, m, n, k, pl->alpha[0], a,
                     pl->a_off[0], lda, b, pl->b_off[0], ldb, pl->beta[0], c,
                     pl->c_off[0], ldc, &pl->dev->queue, NULL);
    if (s != CLBlastSuccess) return blast_fail(err, "CLBlastSgemm", s);
  } else {
    s = CLBlastSgemmBatched(CLBlastLayoutRowMajor, ta, tb, m, n, k, pl->alpha,
                            a, pl->a_off, lda, b, pl->b_off, ldb, pl->beta, c,
                            pl->c_off, ldc, count, &pl->dev->queue, NULL);
    if (s != CLBlastSuccess) return blast_fail(err, "CLBlastSgemmBatched", s);
  }
  return CONV_SUCCESS;
}

/* ---------------------------------------------------------- algo option */

static int algo_by_name(const char *s, size_t n) {
  for (int a = ALGO_GEMM1X1; a <= ALGO_DIRECT; a++)
    if (strlen(algo_names[a]) == n && strncmp(algo_names[a], s, n) == 0)
      return a;
  return -1;
}

/* Parses $CONV_ALGO: "name" (every op) or "op=name[,op=name]". */
static conv_status parse_algo(const char *spec, int forced[NOPS],
                              conv_err *err) {
  static const char *const ops[NOPS] = {"fwd", "bwd_data", "bwd_weight"};
  for (int i = 0; i < NOPS; i++) forced[i] = ALGO_NONE;
  if (spec == NULL || spec[0] == '\0') return CONV_SUCCESS;
  if (strchr(spec, '=') == NULL) {
    int a = algo_by_name(spec, strlen(spec));
    if (a < 0)
      return conv_err_set(err, CONV_ERROR_INVALID_ARGUMENT,
                          "unknown algorithm '%s'; known: gemm_1x1, "
                          "im2col_gemm, direct", spec);
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
        if (strlen(ops[i]) == (size_t)(eq - s) &&
            strncmp(ops[i], s, (size_t)(eq - s)) == 0)
          op = i;
      a = algo_by_name(eq + 1, len - (size_t)(eq + 1 - s));
    }
    if (op < 0 || a < 0)
      return conv_err_set(err, CONV_ERROR_INVALID_ARGUMENT,
                          "algorithm choice '%.*s' in '%s': expected "
                          "fwd|bwd_data|bwd_weight=gemm_1x1|im2col_gemm|direct",
                          (int)len, s, spec);
    forced[op] = a;
    s += len;
    if (*s == ',') s++;
  }
  return CONV_SUCCESS;
}

/* ---------------------------------------------------------------- plan */

static conv_status chunk_cap_bytes(const ocl_device *dev, int64_t *out,
                                   conv_err *err) {
  int64_t env = 0;
  conv_status st = conv_env_int("CONV_OPENCL_MAX_CHUNK_BYTES", "a byte count",
                                1, INT64_MAX, &env, err);
  if (st != CONV_SUCCESS) return st;
  uint64_t cap = env > 0 ? (uint64_t)env : OCL_DEFAULT_CHUNK_CAP;
  if (cap > dev->max_alloc) cap = dev->max_alloc;
  if (cap > (uint64_t)INT_MAX * sizeof(float))
    cap = (uint64_t)INT_MAX * sizeof(float); /* CLBlast offsets are int */
  *out = (int64_t)cap;
  return CONV_SUCCESS;
}

void ocl_plan_destroy(void *plan) {
  ocl_plan *pl = plan;
  if (pl == NULL) return;
  for (int i = 0; i < NKERNELS; i++)
    if (pl->k[i] != NULL) clReleaseKernel(pl->k[i]);
  if (pl->col != NULL) clReleaseMemObject(pl->col);
  if (pl->dyt != NULL) clReleaseMemObject(pl->dyt);
  if (pl->part != NULL) clReleaseMemObject(pl->part);
  free(pl->a_off);
  free(pl->b_off);
  free(pl->c_off);
  free(pl->alpha);
  free(pl->beta);
  free(pl);
}

conv_status ocl_plan_create(void *device, const conv_problem *problem,
                            const conv_plan_options *options, void **plan,
                            conv_err *err) {
  ocl_device *dev = device;
  const conv_problem *p = problem;
  ocl_plan *pl = NULL;
  conv_status st = CONV_SUCCESS;
  int forced[NOPS];
  cl_program program;
  cl_int e;

  *plan = NULL;
  st = parse_algo(options ? options->algo : NULL, forced, err);
  if (st != CONV_SUCCESS) return st;

  /* Kernels index planes and channels with int: check that they fit. */
  const int64_t imax = INT_MAX;
  const int64_t cg = p->c_in / p->groups, kg = p->c_out / p->groups;
  const int64_t n1 = p->n > 1 ? p->n : 1;
  if (p->h + p->pad_t + p->pad_b > imax / 2 ||
      p->w + p->pad_l + p->pad_r > imax / 2 || p->h > imax / p->w ||
      p->h_out > imax / p->w_out || p->c_in > imax / (p->kh * p->kw) ||
      p->c_out > imax / (cg * p->kh * p->kw) || n1 > imax / p->c_in ||
      n1 > imax / p->c_out || p->stride_h > imax / 2 || p->stride_w > imax / 2 ||
      p->dil_h > imax / p->kh || p->dil_w > imax / p->kw)
    return conv_err_set(err, CONV_ERROR_UNSUPPORTED,
                        "opencl: a plane, channel or kernel extent passes "
                        "2^31 elements (the kernels index planes with int)");

  pl = calloc(1, sizeof *pl);
  if (pl == NULL)
    return conv_err_set(err, CONV_ERROR_OUT_OF_MEMORY,
                        "opencl plan_create: out of host memory");
  pl->dev = dev;
  pl->p = *p;
  pl->cg = cg;
  pl->kg = kg;
  pl->r = (size_t)(cg * p->kh * p->kw);
  pl->np = (size_t)(p->h_out * p->w_out);
  pl->hw = (size_t)(p->h * p->w);

  const int is1x1 = p->kh == 1 && p->kw == 1 && p->stride_h == 1 &&
                    p->stride_w == 1 && p->pad_t == 0 && p->pad_b == 0 &&
                    p->pad_l == 0 && p->pad_r == 0;
  /* CLBlast's batched GEMM takes int offsets: whole tensors must stay under
   * 2^31 elements for the GEMM algorithms. */
  const int gemm_ok = (double)p->n * p->c_in * p->h * p->w < (double)imax &&
                      (double)p->n * p->c_out * pl->np < (double)imax &&
                      (double)p->c_out * pl->r < (double)imax;
  int64_t cap = 0;
  st = chunk_cap_bytes(dev, &cap, err);
  if (st != CONV_SUCCESS) goto done;
  const double col_image = (double)p->c_in * p->kh * p->kw * pl->np * 4.0;
  const double dyt_image = (double)p->c_out * pl->np * 4.0;
  /* Images per chunk whose workspace fits the cap: the column matrix, and
   * for the weight gradient also dy in the side-by-side layout. */
  const int64_t fit_col =
      col_image <= (double)cap ? (int64_t)(cap / col_image) : 0;
  const int64_t fit_dyt =
      dyt_image <= (double)cap ? (int64_t)(cap / dyt_image) : 0;
  const int64_t fit_w = fit_col < fit_dyt ? fit_col : fit_dyt;

  for (int op = 0; op < NOPS; op++) {
    int a = forced[op];
    const int64_t fit = op == OP_BWD_WEIGHT ? fit_w : fit_col;
    if (a == ALGO_GEMM1X1 && !is1x1) {
      st = conv_err_set(err, CONV_ERROR_UNSUPPORTED,
                        "opencl: algorithm gemm_1x1 needs a 1x1 kernel, stride 1 "
                        "and no padding (kernel %lldx%lld, stride %lldx%lld)",
                        (long long)p->kh, (long long)p->kw,
                        (long long)p->stride_h, (long long)p->stride_w);
      goto done;
    }
    if ((a == ALGO_IM2COL || (a == ALGO_GEMM1X1 && op == OP_BWD_WEIGHT)) &&
        fit == 0) {
      st = conv_err_set(err, CONV_ERROR_UNSUPPORTED,
                        "opencl: %s needs %.0f bytes of workspace for one "
                        "image, over the %lld-byte buffer cap",
                        algo_names[a],
                        op == OP_BWD_WEIGHT && dyt_image > col_image
                            ? dyt_image : col_image,
                        (long long)cap);
      goto done;
    }
    if ((a == ALGO_IM2COL || a == ALGO_GEMM1X1) && !gemm_ok) {
      st = conv_err_set(err, CONV_ERROR_UNSUPPORTED,
                        "opencl: %s needs tensors under 2^31 elements (CLBlast "
                        "offsets are 32-bit)", algo_names[a]);
      goto done;
    }
    if (a == ALGO_NONE) {
      if (p->groups > 1 && cg <= DIRECT_MAX_CG)
        a = ALGO_DIRECT;
      else if (is1x1 && gemm_ok && (op != OP_BWD_WEIGHT || fit > 0))
        a = ALGO_GEMM1X1;
      else if (fit > 0 && gemm_ok)
        a = ALGO_IM2COL;
      else
        a = ALGO_DIRECT;
    }
    pl->algo[op] = a;
  }

  int need_col = 0, need_1x1 = 0;
  const int need_dyt = pl->algo[OP_BWD_WEIGHT] == ALGO_IM2COL ||
                       pl->algo[OP_BWD_WEIGHT] == ALGO_GEMM1X1;
  for (int op = 0; op < NOPS; op++) {
    need_col |= pl->algo[op] == ALGO_IM2COL;
    need_1x1 |= pl->algo[op] == ALGO_GEMM1X1 && op != OP_BWD_WEIGHT;
  }
  need_col |= need_dyt;
  {
    int64_t fit = need_dyt ? fit_w : fit_col;
    pl->chunk = need_col ? (fit < p->n ? fit : p->n) : 0;
  }
  pl->chunk1 = need_1x1 ? (p->n < 64 ? p->n : 64) : 0;
  if (pl->chunk < 1 && need_col) pl->chunk = 1;
  if (pl->chunk1 < 1 && need_1x1) pl->chunk1 = 1;
  /* Split-K for the weight gradient: its GEMMs are thin (Kg x R outputs)
   * with a long inner dimension (images x positions); CLBlast parallelises
   * over output tiles only, so the inner dimension is cut into slices whose
   * partial products are summed in slice order by sum_slices. Aim for a few
   * work-groups per compute unit, slices of at least 256. */
  pl->slices = 1;
  if (need_dyt && p->n > 0) {
    const double tiles = (double)((kg + 63) / 64) *
                         (double)((pl->r + 63) / 64) * (double)p->groups;
    const double inner = (double)pl->chunk * (double)pl->np;
    double s = 4.0 * dev->units / tiles;
    if (s > inner / 256.0) s = inner / 256.0;
    if (s > 64.0) s = 64.0;
    const double part_slice = (double)p->c_out * pl->r * 4.0;
    if (s * part_slice > (double)cap) s = (double)cap / part_slice;
    /* $CONV_OPENCL_WGRAD_SLICES forces the count (for tests). */
    int64_t forced_slices = 0;
    st = conv_env_int("CONV_OPENCL_WGRAD_SLICES", "a slice count", 1, 64,
                      &forced_slices, err);
    if (st != CONV_SUCCESS) goto done;
    if (forced_slices > 0) s = (double)forced_slices;
    if (s * part_slice > (double)cap) s = (double)cap / part_slice;
    if (s >= 2.0) pl->slices = (int64_t)s;
  }
  {
    int64_t most = pl->chunk > pl->chunk1 ? pl->chunk : pl->chunk1;
    if (most < pl->slices) most = pl->slices;
    pl->nbatch = (size_t)((most > 0 ? most : 1) * p->groups);
  }
  pl->a_off = calloc(pl->nbatch, sizeof *pl->a_off);
  pl->b_off = calloc(pl->nbatch, sizeof *pl->b_off);
  pl->c_off = calloc(pl->nbatch, sizeof *pl->c_off);
  pl->alpha = calloc(pl->nbatch, sizeof *pl->alpha);
  pl->beta = calloc(pl->nbatch, sizeof *pl->beta);
  if (!pl->a_off || !pl->b_off || !pl->c_off || !pl->alpha || !pl->beta) {
    st = conv_err_set(err, CONV_ERROR_OUT_OF_MEMORY,
                      "opencl plan_create: out of host memory");
    goto done;
  }
  if (need_col && p->n > 0) {
    pl->col_bytes = (size_t)(pl->chunk * col_image);
    pl->col = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, pl->col_bytes, NULL,
                             &e);
    if (pl->col == NULL) {
      st = cl_fail(err, "clCreateBuffer(im2col workspace)", e);
      goto done;
    }
  }
  if (pl->slices > 1) {
    pl->part_bytes = (size_t)pl->slices * (size_t)p->c_out * pl->r * 4;
    pl->part = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, pl->part_bytes,
                              NULL, &e);
    if (pl->part == NULL) {
      st = cl_fail(err, "clCreateBuffer(split-K workspace)", e);
      goto done;
    }
  }
  if (need_dyt && p->n > 0) {
    pl->dyt_bytes = (size_t)(pl->chunk * dyt_image);
    pl->dyt = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, pl->dyt_bytes, NULL,
                             &e);
    if (pl->dyt == NULL) {
      st = cl_fail(err, "clCreateBuffer(weight-gradient workspace)", e);
      goto done;
    }
  }

  st = ocl_device_program(dev, &program, err);
  if (st != CONV_SUCCESS) goto done;
  int want[NKERNELS] = {0};
  want[K_IM2COL] = need_col;
  want[K_COL2IM] = pl->algo[OP_BWD_DATA] == ALGO_IM2COL;
  want[K_BIAS_ADD] = p->has_bias && pl->algo[OP_FWD] != ALGO_DIRECT;
  want[K_FWD_DIRECT] = pl->algo[OP_FWD] == ALGO_DIRECT;
  want[K_BWD_DATA_DIRECT] = pl->algo[OP_BWD_DATA] == ALGO_DIRECT;
  want[K_BWD_WEIGHT_DIRECT] = pl->algo[OP_BWD_WEIGHT] == ALGO_DIRECT;
  want[K_BIAS_GRAD] = 1;
  want[K_BATCH_TRANSPOSE] = need_dyt;
  want[K_SUM_SLICES] = pl->slices > 1;
  for (int kk = 0; kk < NKERNELS; kk++) {
    if (!want[kk]) continue;
    pl->k[kk] = clCreateKernel(program, kernel_names[kk], &e);
    if (pl->k[kk] == NULL) {
      char call[96];
      snprintf(call, sizeof call, "clCreateKernel(%s)", kernel_names[kk]);
      st = cl_fail(err, call, e);
      goto done;
    }
    e = clGetKernelWorkGroupInfo(pl->k[kk], dev->id, CL_KERNEL_WORK_GROUP_SIZE,
                                 sizeof pl->kmax[kk], &pl->kmax[kk], NULL);
    if (e != CL_SUCCESS) {
      st = cl_fail(err, "clGetKernelWorkGroupInfo(CL_KERNEL_WORK_GROUP_SIZE)", e);
      goto done;
    }
    if ((kk == K_BIAS_GRAD || kk == K_BWD_WEIGHT_DIRECT) &&
        pl->kmax[kk] < OCL_RED_WG) {
      st = conv_err_set(err, CONV_ERROR_UNSUPPORTED,
                        "opencl: kernel %s needs work-groups of %d, the device "
                        "allows %zu", kernel_names[kk], OCL_RED_WG,
                        pl->kmax[kk]);
      goto done;
    }
    if (pl->kmax[kk] == 0) pl->kmax[kk] = 1;
    if (kk == K_SUM_SLICES) continue; /* takes no geometry */
    st = set_geometry(pl, kk, err);
    if (st != CONV_SUCCESS) goto done;
  }
  *plan = pl;
  pl = NULL;
done:
  ocl_plan_destroy(pl);
  return st;
}

const char *ocl_plan_algorithm(void *plan, conv_op op) {
  ocl_plan *pl = plan;
  switch (op) {
    case CONV_OP_FORWARD: return algo_names[pl->algo[OP_FWD]];
    case CONV_OP_BACKWARD_DATA: return algo_names[pl->algo[OP_BWD_DATA]];
    case CONV_OP_BACKWARD_WEIGHT: return algo_names[pl->algo[OP_BWD_WEIGHT]];
    case CONV_OP_BACKWARD_BIAS: return "reduce";
    default: return "none";
  }
}

size_t ocl_plan_workspace(void *plan) {
  const ocl_plan *pl = plan;
  return pl->col_bytes + pl->dyt_bytes + pl->part_bytes;
}

/* ------------------------------------------------------------ operations */

static conv_status run_im2col(ocl_plan *pl, cl_mem x, int64_t n0, int64_t nb,
                              int layout, conv_err *err) {
  const conv_problem *p = &pl->p;
  ARG(pl, K_IM2COL, 0, cl_mem, x);
  ARG(pl, K_IM2COL, 1, cl_long, (cl_long)(n0 * p->c_in * (int64_t)pl->hw));
  ARG(pl, K_IM2COL, 2, cl_mem, pl->col);
  ARG(pl, K_IM2COL, 3, cl_int, (cl_int)nb);
  ARG(pl, K_IM2COL, 4, cl_int, (cl_int)layout);
  return launch2d(pl, K_IM2COL, pl->np, (size_t)(nb * p->c_in * p->kh * p->kw),
                  err);
}

static conv_status bias_grad(ocl_plan *pl, cl_mem dy, cl_mem db,
                             conv_err *err) {
  ARG(pl, K_BIAS_GRAD, 0, cl_mem, dy);
  ARG(pl, K_BIAS_GRAD, 1, cl_mem, db);
  ARG(pl, K_BIAS_GRAD, 2, cl_int, (cl_int)pl->p.n);
  return launch_groups(pl, K_BIAS_GRAD, (size_t)pl->p.c_out, err);
}

static conv_status forward_conv(void *plan, const void *xv, const void *wv,
                                const void *bv, void *yv, conv_err *err) {
  ocl_plan *pl = plan;
  const conv_problem *p = &pl->p;
  cl_mem x = (cl_mem)xv, w = (cl_mem)wv, b = (cl_mem)bv, y = (cl_mem)yv;
  const int algo = pl->algo[OP_FWD];
  const int has_bias = p->has_bias && b != NULL;
  conv_status st;

  if (algo == ALGO_DIRECT) {
    ARG(pl, K_FWD_DIRECT, 0, cl_mem, x);
    ARG(pl, K_FWD_DIRECT, 1, cl_mem, w);
    ARG(pl, K_FWD_DIRECT, 2, cl_mem, has_bias ? b : w);
    ARG(pl, K_FWD_DIRECT, 3, cl_mem, y);
    ARG(pl, K_FWD_DIRECT, 4, cl_int, (cl_int)p->n);
    ARG(pl, K_FWD_DIRECT, 5, cl_int, has_bias);
    st = launch2d(pl, K_FWD_DIRECT, pl->np, (size_t)(p->n * p->c_out), err);
    if (st != CONV_SUCCESS) return st;
    return finish(pl, err);
  }
  const int64_t chunk = algo == ALGO_IM2COL ? pl->chunk : pl->chunk1;
  const int64_t G = p->groups;
  for (int64_t n0 = 0; n0 < p->n; n0 += chunk) {
    const int64_t nb = p->n - n0 < chunk ? p->n - n0 : chunk;
    if (algo == ALGO_IM2COL) {
      st = run_im2col(pl, x, n0, nb, 0, err);
      if (st != CONV_SUCCESS) return st;
    }
    size_t i = 0;
    for (int64_t n = 0; n < nb; n++) {
      for (int64_t g = 0; g < G; g++, i++) {
        pl->a_off[i] = (size_t)(g * pl->kg) * pl->r;
        pl->b_off[i] = algo == ALGO_IM2COL
                           ? (size_t)(n * G + g) * pl->r * pl->np
                           : (size_t)((n0 + n) * p->c_in + g * pl->cg) * pl->hw;
        pl->c_off[i] = (size_t)((n0 + n) * p->c_out + g * pl->kg) * pl->np;
        pl->alpha[i] = 1.0f;
        pl->beta[i] = 0.0f;
      }
    }
    st = gemm(pl, CLBlastTransposeNo, CLBlastTransposeNo, (size_t)pl->kg,
              pl->np, pl->r, w, pl->r, algo == ALGO_IM2COL ? pl->col : x,
              pl->np, y, pl->np, i, err);
    if (st != CONV_SUCCESS) return st;
    if (has_bias) {
      ARG(pl, K_BIAS_ADD, 0, cl_mem, y);
      ARG(pl, K_BIAS_ADD, 1, cl_long, (cl_long)(n0 * p->c_out * (int64_t)pl->np));
      ARG(pl, K_BIAS_ADD, 2, cl_mem, b);
      ARG(pl, K_BIAS_ADD, 3, cl_int, (cl_int)nb);
      st = launch2d(pl, K_BIAS_ADD, pl->np, (size_t)(nb * p->c_out), err);
      if (st != CONV_SUCCESS) return st;
    }
  }
  return finish(pl, err);
}

/* The convolution, then the fused activation if any (opencl_epilogue.c). */
conv_status ocl_forward(void *plan, const void *xv, const void *wv,
                        const void *bv, void *yv, conv_err *err) {
  ocl_plan *pl = plan;
  conv_status st = forward_conv(plan, xv, wv, bv, yv, err);
  if (st != CONV_SUCCESS) return st;
  return ocl_forward_activation(pl->dev, &pl->p, yv, err);
}

conv_status ocl_backward_data(void *plan, const void *dyv, const void *wv,
                              void *dxv, conv_err *err) {
  ocl_plan *pl = plan;
  const conv_problem *p = &pl->p;
  cl_mem dy = (cl_mem)dyv, w = (cl_mem)wv, dx = (cl_mem)dxv;
  const int algo = pl->algo[OP_BWD_DATA];
  conv_status st;

  if (algo == ALGO_DIRECT) {
    ARG(pl, K_BWD_DATA_DIRECT, 0, cl_mem, dy);
    ARG(pl, K_BWD_DATA_DIRECT, 1, cl_mem, w);
    ARG(pl, K_BWD_DATA_DIRECT, 2, cl_mem, dx);
    ARG(pl, K_BWD_DATA_DIRECT, 3, cl_int, (cl_int)p->n);
    st = launch2d(pl, K_BWD_DATA_DIRECT, pl->hw, (size_t)(p->n * p->c_in), err);
    if (st != CONV_SUCCESS) return st;
    return finish(pl, err);
  }
  const int64_t chunk = algo == ALGO_IM2COL ? pl->chunk : pl->chunk1;
  const int64_t G = p->groups;
  for (int64_t n0 = 0; n0 < p->n; n0 += chunk) {
    const int64_t nb = p->n - n0 < chunk ? p->n - n0 : chunk;
    size_t i = 0;
    for (int64_t n = 0; n < nb; n++) {
      for (int64_t g = 0; g < G; g++, i++) {
        pl->a_off[i] = (size_t)(g * pl->kg) * pl->r;
        pl->b_off[i] = (size_t)((n0 + n) * p->c_out + g * pl->kg) * pl->np;
        pl->c_off[i] = algo == ALGO_IM2COL
                           ? (size_t)(n * G + g) * pl->r * pl->np
                           : (size_t)((n0 + n) * p->c_in + g * pl->cg) * pl->hw;
        pl->alpha[i] = 1.0f;
        pl->beta[i] = 0.0f;
      }
    }
    st = gemm(pl, CLBlastTransposeYes, CLBlastTransposeNo, pl->r, pl->np,
              (size_t)pl->kg, w, pl->r, dy, pl->np,
              algo == ALGO_IM2COL ? pl->col : dx, pl->np, i, err);
    if (st != CONV_SUCCESS) return st;
    if (algo == ALGO_IM2COL) {
      ARG(pl, K_COL2IM, 0, cl_mem, pl->col);
      ARG(pl, K_COL2IM, 1, cl_mem, dx);
      ARG(pl, K_COL2IM, 2, cl_long, (cl_long)(n0 * p->c_in * (int64_t)pl->hw));
      ARG(pl, K_COL2IM, 3, cl_int, (cl_int)nb);
      st = launch2d(pl, K_COL2IM, pl->hw, (size_t)(nb * p->c_in), err);
      if (st != CONV_SUCCESS) return st;
    }
  }
  return finish(pl, err);
}

conv_status ocl_backward_weight(void *plan, const void *xv, const void *dyv,
                                void *dwv, void *dbv, conv_err *err) {
  ocl_plan *pl = plan;
  const conv_problem *p = &pl->p;
  cl_mem x = (cl_mem)xv, dy = (cl_mem)dyv, dw = (cl_mem)dwv, db = (cl_mem)dbv;
  const int algo = pl->algo[OP_BWD_WEIGHT];
  conv_status st;

  if (algo == ALGO_DIRECT) {
    ARG(pl, K_BWD_WEIGHT_DIRECT, 0, cl_mem, x);
    ARG(pl, K_BWD_WEIGHT_DIRECT, 1, cl_mem, dy);
    ARG(pl, K_BWD_WEIGHT_DIRECT, 2, cl_mem, dw);
    ARG(pl, K_BWD_WEIGHT_DIRECT, 3, cl_int, (cl_int)p->n);
    st = launch_groups(pl, K_BWD_WEIGHT_DIRECT, (size_t)p->c_out * pl->r, err);
    if (st != CONV_SUCCESS) return st;
  } else {
    /* Per chunk: the column matrices and dy side by side over the chunk's
     * images, then one GEMM per group, dw_g (+)= dy_g (Kg x nb*P) *
     * col_g^T (nb*P x R), accumulating chunk after chunk in batch order. The
     * same shapes on every run: the sum's order is fixed. */
    const int64_t G = p->groups;
    for (int64_t n0 = 0; n0 < p->n; n0 += pl->chunk) {
      const int64_t nb = p->n - n0 < pl->chunk ? p->n - n0 : pl->chunk;
      const size_t inner = (size_t)nb * pl->np;
      st = run_im2col(pl, x, n0, nb, 1, err);
      if (st != CONV_SUCCESS) return st;
      ARG(pl, K_BATCH_TRANSPOSE, 0, cl_mem, dy);
      ARG(pl, K_BATCH_TRANSPOSE, 1, cl_long,
          (cl_long)(n0 * p->c_out * (int64_t)pl->np));
      ARG(pl, K_BATCH_TRANSPOSE, 2, cl_mem, pl->dyt);
      ARG(pl, K_BATCH_TRANSPOSE, 3, cl_int, (cl_int)nb);
      st = launch2d(pl, K_BATCH_TRANSPOSE, pl->np, (size_t)(nb * p->c_out),
                    err);
      if (st != CONV_SUCCESS) return st;
      if (pl->slices <= 1) {
        for (int64_t g = 0; g < G; g++) {
          pl->a_off[g] = (size_t)(g * pl->kg) * inner;
          pl->b_off[g] = (size_t)g * pl->r * inner;
          pl->c_off[g] = (size_t)(g * pl->kg) * pl->r;
          pl->alpha[g] = 1.0f;
          pl->beta[g] = n0 == 0 ? 0.0f : 1.0f;
        }
        st = gemm(pl, CLBlastTransposeNo, CLBlastTransposeYes, (size_t)pl->kg,
                  pl->r, inner, pl->dyt, inner, pl->col, inner, dw, pl->r,
                  (size_t)G, err);
        if (st != CONV_SUCCESS) return st;
        continue;
      }
      /* Split-K: slices of len inner positions (the last one shorter, as
       * its own GEMM) into part[s], then summed in slice order. */
      const size_t len = (inner + (size_t)pl->slices - 1) / (size_t)pl->slices;
      const size_t full = inner / len, rest = inner - full * len;
      const size_t kr = (size_t)p->c_out * pl->r;
      for (int pass = 0; pass < 2; pass++) {
        const size_t s0 = pass == 0 ? 0 : full;
        const size_t ns = pass == 0 ? full : (rest > 0 ? 1 : 0);
        const size_t k = pass == 0 ? len : rest;
        size_t i = 0;
        for (size_t sl = s0; sl < s0 + ns; sl++) {
          for (int64_t g = 0; g < G; g++, i++) {
            pl->a_off[i] = (size_t)(g * pl->kg) * inner + sl * len;
            pl->b_off[i] = (size_t)g * pl->r * inner + sl * len;
            pl->c_off[i] = sl * kr + (size_t)(g * pl->kg) * pl->r;
            pl->alpha[i] = 1.0f;
            pl->beta[i] = 0.0f;
          }
        }
        if (i == 0) continue;
        st = gemm(pl, CLBlastTransposeNo, CLBlastTransposeYes, (size_t)pl->kg,
                  pl->r, k, pl->dyt, inner, pl->col, inner, pl->part, pl->r,
                  i, err);
        if (st != CONV_SUCCESS) return st;
      }
      ARG(pl, K_SUM_SLICES, 0, cl_mem, pl->part);
      ARG(pl, K_SUM_SLICES, 1, cl_mem, dw);
      ARG(pl, K_SUM_SLICES, 2, cl_int, (cl_int)(full + (rest > 0)));
      ARG(pl, K_SUM_SLICES, 3, cl_int, (cl_int)kr);
      ARG(pl, K_SUM_SLICES, 4, cl_int, n0 > 0);
      st = launch2d(pl, K_SUM_SLICES, kr, 1, err);
      if (st != CONV_SUCCESS) return st;
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
