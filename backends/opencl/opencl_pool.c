/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pooling plans of the libconv OpenCL backend (ABI 1.1 max pooling, ABI 1.2
 * average pooling); the kernels are in pool.cl and avgpool.cl. Kept apart from the convolution plans so either
 * can change without touching the other.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opencl_internal.h"

static conv_status cl_fail(conv_err *err, const char *call, cl_int code) {
  conv_status st = CONV_ERROR_DEVICE;
  if (code == CL_OUT_OF_HOST_MEMORY || code == CL_MEM_OBJECT_ALLOCATION_FAILURE)
    st = CONV_ERROR_OUT_OF_MEMORY;
  return conv_err_set(err, st, "%s: %s (%d)", call, ocl_error_name(code),
                      (int)code);
}

static size_t round_up(size_t v, size_t m) { return (v + m - 1) / m * m; }

static size_t pow2_at_least(size_t v) {
  size_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

/* ------------------------------------------------------------ max pooling */

typedef struct ocl_pool_plan {
  ocl_device *dev;
  conv_pool_problem p;
  cl_kernel fwd, bwd;
  size_t fwd_max, bwd_max; /* CL_KERNEL_WORK_GROUP_SIZE */
} ocl_pool_plan;

void ocl_pool_plan_destroy(void *plan) {
  ocl_pool_plan *pl = plan;
  if (pl == NULL) return;
  if (pl->fwd != NULL) clReleaseKernel(pl->fwd);
  if (pl->bwd != NULL) clReleaseKernel(pl->bwd);
  free(pl);
}

static conv_status pool_kernel(ocl_pool_plan *pl, cl_program program,
                               const char *name, cl_uint first, cl_kernel *k,
                               size_t *kmax, conv_err *err) {
  const conv_pool_problem *p = &pl->p;
  const int64_t vmax[] = {p->h,        p->w,        p->kh,    p->kw,
                          p->stride_h, p->stride_w, p->pad_h, p->pad_w,
                          p->dil_h,    p->dil_w,    p->h_out, p->w_out};
  const int64_t vavg[] = {p->h,        p->w,        p->kh,
                          p->kw,       p->stride_h, p->stride_w,
                          p->pad_h,    p->pad_b,    p->pad_w,
                          p->pad_r,    p->h_out,    p->w_out,
                          p->mode == CONV_POOL_ADAPTIVE_AVG,
                          p->count_include_pad, p->divisor_override};
  const int avg = p->mode != CONV_POOL_MAX;
  const int64_t *v = avg ? vavg : vmax;
  const cl_uint nv = avg ? sizeof vavg / sizeof vavg[0] : sizeof vmax / sizeof vmax[0];
  cl_int e;
  char call[96];
  *k = clCreateKernel(program, name, &e);
  if (*k == NULL) {
    snprintf(call, sizeof call, "clCreateKernel(%s)", name);
    return cl_fail(err, call, e);
  }
  e = clGetKernelWorkGroupInfo(*k, pl->dev->id, CL_KERNEL_WORK_GROUP_SIZE,
                               sizeof *kmax, kmax, NULL);
  if (e != CL_SUCCESS)
    return cl_fail(err, "clGetKernelWorkGroupInfo(CL_KERNEL_WORK_GROUP_SIZE)", e);
  if (*kmax == 0) *kmax = 1;
  for (cl_uint i = 0; i < nv; i++) {
    cl_int a = (cl_int)v[i];
    e = clSetKernelArg(*k, first + i, sizeof a, &a);
    if (e != CL_SUCCESS) {
      snprintf(call, sizeof call, "clSetKernelArg(%s, %u)", name, first + i);
      return cl_fail(err, call, e);
    }
  }
  return CONV_SUCCESS;
}

/* Local sizes as launch2d. */
static void pool_local(size_t kmax, size_t d0, size_t d1, size_t local[2]) {
  size_t total = kmax < 64 ? kmax : 64;
  size_t l0 = total, l1 = 1;
  if (d0 < l0) {
    l0 = pow2_at_least(d0);
    l1 = total / l0 ? total / l0 : 1;
    if (l1 > d1) l1 = pow2_at_least(d1);
  }
  local[0] = l0;
  local[1] = l1;
}

conv_status ocl_pool_plan_create(void *device, const conv_pool_problem *problem,
                                 const conv_plan_options *options, void **plan,
                                 conv_err *err) {
  ocl_device *dev = device;
  const conv_pool_problem *p = problem;
  const int64_t imax = INT_MAX;
  ocl_pool_plan *pl;
  cl_program program;
  conv_status st;
  (void)options;

  *plan = NULL;
  if (p->h + p->pad_h + p->pad_b > imax / 2 ||
      p->w + p->pad_w + p->pad_r > imax / 2 || p->divisor_override > imax ||
      p->h > imax / p->w || p->h_out > imax / p->w_out ||
      (p->n > 1 ? p->n : 1) > imax / p->c ||
      (p->kh - 1) * p->dil_h > imax / 4 || (p->kw - 1) * p->dil_w > imax / 4 ||
      p->stride_h > imax / 4 || p->stride_w > imax / 4)
    return conv_err_set(err, CONV_ERROR_UNSUPPORTED,
                        "opencl: a pooling plane or extent passes 2^31 "
                        "elements (the kernels index planes with int)");
  pl = calloc(1, sizeof *pl);
  if (pl == NULL)
    return conv_err_set(err, CONV_ERROR_OUT_OF_MEMORY,
                        "opencl pool_plan_create: out of host memory");
  pl->dev = dev;
  pl->p = *p;
  static const char *const max_names[] = {"maxpool_fwd", "maxpool_bwd"};
  static const char *const avg_names[] = {"avgpool_fwd", "avgpool_bwd"};
  ocl_program *pg = NULL;
  st = ocl_device_select(dev, p->mode == CONV_POOL_MAX ? max_names : avg_names,
                         2, &pg, err);
  program = pg ? pg->prog : NULL;
  if (p->mode == CONV_POOL_MAX) {
    if (st == CONV_SUCCESS)
      st = pool_kernel(pl, program, "maxpool_fwd", 5, &pl->fwd, &pl->fwd_max, err);
    if (st == CONV_SUCCESS)
      st = pool_kernel(pl, program, "maxpool_bwd", 4, &pl->bwd, &pl->bwd_max, err);
  } else {
    if (st == CONV_SUCCESS)
      st = pool_kernel(pl, program, "avgpool_fwd", 3, &pl->fwd, &pl->fwd_max, err);
    if (st == CONV_SUCCESS)
      st = pool_kernel(pl, program, "avgpool_bwd", 3, &pl->bwd, &pl->bwd_max, err);
  }
  /* Compile now what the run calls launch (PoCL compiles per work-group
   * size at the first launch): each kernel once with its runs' local size
   * and no-op arguments (nc = 0, buffers the device's dummy). */
  if (st == CONV_SUCCESS) {
    const int mx = p->mode == CONV_POOL_MAX;
    const struct {
      cl_kernel k;
      size_t kmax, d0;
      cl_uint nbuf, count;
      const char *name;
    } w[2] = {
        {pl->fwd, pl->fwd_max, (size_t)(p->h_out * p->w_out), mx ? 3u : 2u,
         mx ? 4u : 2u, mx ? "maxpool_fwd" : "avgpool_fwd"},
        {pl->bwd, pl->bwd_max, (size_t)(p->h * p->w), mx ? 3u : 2u,
         mx ? 3u : 2u, mx ? "maxpool_bwd" : "avgpool_bwd"}};
    for (int i = 0; i < 2 && st == CONV_SUCCESS; i++) {
      cl_int e = CL_SUCCESS;
      const cl_int zero = 0;
      for (cl_uint b = 0; b < w[i].nbuf && e == CL_SUCCESS; b++)
        e = clSetKernelArg(w[i].k, b, sizeof(cl_mem), &dev->dummy);
      if (e == CL_SUCCESS && mx && i == 0)
        e = clSetKernelArg(w[i].k, 3, sizeof zero, &zero); /* has_idx */
      if (e == CL_SUCCESS)
        e = clSetKernelArg(w[i].k, w[i].count, sizeof zero, &zero);
      if (e != CL_SUCCESS) {
        st = cl_fail(err, "clSetKernelArg(pooling warm-up)", e);
        break;
      }
      size_t l[3] = {1, 1, 1};
      pool_local(w[i].kmax, w[i].d0, (size_t)(p->n * p->c), l);
      /* Grid: the plane over d0, then n*c over dimension 1. */
      const size_t g0 = (w[i].d0 + l[0] - 1) / l[0] * l[0];
      const size_t nc = (size_t)(p->n > 1 ? p->n : 1) * (size_t)p->c;
      const size_t g1 = (nc + l[1] - 1) / l[1] * l[1];
      st = ocl_warm_launch(dev, pg, w[i].k, w[i].name, 2, l,
                           ocl_grid_classes(g0 > g1 ? g0 : g1,
                                            g0 > g1 ? g0 : g1),
                           err);
    }
    if (st == CONV_SUCCESS) ocl_program_keep(dev, pg);
  }
  if (st != CONV_SUCCESS) {
    ocl_pool_plan_destroy(pl);
    return st;
  }
  *plan = pl;
  return CONV_SUCCESS;
}

static conv_status pool_launch(ocl_pool_plan *pl, cl_kernel k, size_t kmax,
                               const char *name, size_t d0, size_t d1,
                               conv_err *err) {
  size_t local[2];
  pool_local(kmax, d0, d1, local);
  const size_t l0 = local[0], l1 = local[1];
  size_t global[2] = {round_up(d0, l0), round_up(d1, l1)};
  cl_int e = clEnqueueNDRangeKernel(pl->dev->queue, k, 2, NULL, global, local,
                                    0, NULL, NULL);
  if (e != CL_SUCCESS) {
    char call[96];
    snprintf(call, sizeof call, "clEnqueueNDRangeKernel(%s)", name);
    return cl_fail(err, call, e);
  }
  e = clFinish(pl->dev->queue);
  return e == CL_SUCCESS ? CONV_SUCCESS : cl_fail(err, "clFinish", e);
}

#define PARG(k, name, idx, type, value)                                      \
  do {                                                                       \
    type arg_ = (value);                                                     \
    cl_int e_ = clSetKernelArg((k), (idx), sizeof arg_, &arg_);              \
    if (e_ != CL_SUCCESS) {                                                  \
      char call_[96];                                                        \
      snprintf(call_, sizeof call_, "clSetKernelArg(%s, %d)", name,          \
               (int)(idx));                                                  \
      return cl_fail(err, call_, e_);                                        \
    }                                                                        \
  } while (0)

conv_status ocl_maxpool_forward(void *plan, const void *x, void *y,
                                void *indices, conv_err *err) {
  ocl_pool_plan *pl = plan;
  const conv_pool_problem *p = &pl->p;
  PARG(pl->fwd, "maxpool_fwd", 0, cl_mem, (cl_mem)x);
  PARG(pl->fwd, "maxpool_fwd", 1, cl_mem, (cl_mem)y);
  PARG(pl->fwd, "maxpool_fwd", 2, cl_mem,
       (cl_mem)(indices != NULL ? indices : y));
  PARG(pl->fwd, "maxpool_fwd", 3, cl_int, indices != NULL);
  PARG(pl->fwd, "maxpool_fwd", 4, cl_int, (cl_int)(p->n * p->c));
  return pool_launch(pl, pl->fwd, pl->fwd_max, "maxpool_fwd",
                     (size_t)(p->h_out * p->w_out), (size_t)(p->n * p->c),
                     err);
}

conv_status ocl_maxpool_backward(void *plan, const void *x, const void *dy,
                                 void *dx, conv_err *err) {
  ocl_pool_plan *pl = plan;
  const conv_pool_problem *p = &pl->p;
  PARG(pl->bwd, "maxpool_bwd", 0, cl_mem, (cl_mem)x);
  PARG(pl->bwd, "maxpool_bwd", 1, cl_mem, (cl_mem)dy);
  PARG(pl->bwd, "maxpool_bwd", 2, cl_mem, (cl_mem)dx);
  PARG(pl->bwd, "maxpool_bwd", 3, cl_int, (cl_int)(p->n * p->c));
  return pool_launch(pl, pl->bwd, pl->bwd_max, "maxpool_bwd",
                     (size_t)(p->h * p->w), (size_t)(p->n * p->c), err);
}

conv_status ocl_avgpool_forward(void *plan, const void *x, void *y,
                                conv_err *err) {
  ocl_pool_plan *pl = plan;
  const conv_pool_problem *p = &pl->p;
  PARG(pl->fwd, "avgpool_fwd", 0, cl_mem, (cl_mem)x);
  PARG(pl->fwd, "avgpool_fwd", 1, cl_mem, (cl_mem)y);
  PARG(pl->fwd, "avgpool_fwd", 2, cl_int, (cl_int)(p->n * p->c));
  return pool_launch(pl, pl->fwd, pl->fwd_max, "avgpool_fwd",
                     (size_t)(p->h_out * p->w_out), (size_t)(p->n * p->c),
                     err);
}

conv_status ocl_avgpool_backward(void *plan, const void *dy, void *dx,
                                 conv_err *err) {
  ocl_pool_plan *pl = plan;
  const conv_pool_problem *p = &pl->p;
  PARG(pl->bwd, "avgpool_bwd", 0, cl_mem, (cl_mem)dy);
  PARG(pl->bwd, "avgpool_bwd", 1, cl_mem, (cl_mem)dx);
  PARG(pl->bwd, "avgpool_bwd", 2, cl_int, (cl_int)(p->n * p->c));
  return pool_launch(pl, pl->bwd, pl->bwd_max, "avgpool_bwd",
                     (size_t)(p->h * p->w), (size_t)(p->n * p->c), err);
}
