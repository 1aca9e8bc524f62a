/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-channel passes of the OpenCL backend (plugin ABI 1.2, kernels in
 * epilogue.cl): the activation of a fused forward, run right after the
 * convolution's kernels; bias + activation in place and the channel sum,
 * which the transposed convolution runs around the conv2d operations.
 *
 * Each call makes its own cl_kernel from the device's program: the entries
 * take a plan but the kernels are not the plan's (clSetKernelArg on a kernel
 * another call uses would race).
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

static conv_status check_int(const char *what, int64_t n, int64_t c,
                             int64_t hw, conv_err *err) {
  if (n < 0 || c < 1 || hw < 1 || (n > 0 && c > INT_MAX / n) ||
      hw > INT_MAX || n * c > INT_MAX)
    return conv_err_set(err, CONV_ERROR_UNSUPPORTED,
                        "opencl: %s of n=%lld c=%lld hw=%lld: the kernel "
                        "indexes planes with int",
                        what, (long long)n, (long long)c, (long long)hw);
  return CONV_SUCCESS;
}

/* Makes kernel name, sets its arguments (count, sizes, values), launches it
 * over global[2] with local[2] (NULL: the driver picks) and waits. */
static conv_status run_kernel(ocl_device *dev, const char *name, cl_uint count,
                              const size_t *sizes, const void *const *values,
                              const size_t global[2], const size_t *local,
                              conv_err *err) {
  cl_program program;
  conv_status st = ocl_device_program(dev, &program, err);
  if (st != CONV_SUCCESS) return st;
  cl_int e;
  char call[96];
  cl_kernel k = clCreateKernel(program, name, &e);
  if (k == NULL) {
    snprintf(call, sizeof call, "clCreateKernel(%s)", name);
    return cl_fail(err, call, e);
  }
  for (cl_uint i = 0; i < count && st == CONV_SUCCESS; i++) {
    e = clSetKernelArg(k, i, sizes[i], values[i]);
    if (e != CL_SUCCESS) {
      snprintf(call, sizeof call, "clSetKernelArg(%s, %u)", name, i);
      st = cl_fail(err, call, e);
    }
  }
  if (st == CONV_SUCCESS) {
    e = clEnqueueNDRangeKernel(dev->queue, k, 2, NULL, global, local, 0, NULL,
                               NULL);
    if (e != CL_SUCCESS) {
      snprintf(call, sizeof call, "clEnqueueNDRangeKernel(%s)", name);
      st = cl_fail(err, call, e);
    }
  }
  if (st == CONV_SUCCESS) {
    e = clFinish(dev->queue);
    if (e != CL_SUCCESS) st = cl_fail(err, "clFinish", e);
  }
  clReleaseKernel(k);
  return st;
}

/* y = act(y + b) on dev. */
static conv_status bias_act_on(ocl_device *dev, void *y, const void *b,
                               int64_t n, int64_t c, int64_t hw,
                               conv_activation act, float alpha,
                               conv_err *err) {
  conv_status st = check_int("bias_activation", n, c, hw, err);
  if (st != CONV_SUCCESS || n == 0) return st;
  cl_mem ym = (cl_mem)y, bm = b != NULL ? (cl_mem)b : (cl_mem)y;
  cl_int has_b = b != NULL, nc = (cl_int)(n * c), ci = (cl_int)c,
         hwi = (cl_int)hw, a = (cl_int)act;
  cl_float al = alpha;
  const size_t sizes[] = {sizeof ym, sizeof bm, sizeof has_b, sizeof nc,
                          sizeof ci, sizeof hwi, sizeof a, sizeof al};
  const void *const values[] = {&ym, &bm, &has_b, &nc, &ci, &hwi, &a, &al};
  const size_t l0 = hw >= 64 ? 64 : 1;
  const size_t global[2] = {((size_t)hw + l0 - 1) / l0 * l0, (size_t)nc};
  const size_t local[2] = {l0, 1};
  return run_kernel(dev, "bias_act", 8, sizes, values, global, local, err);
}

conv_status ocl_bias_activation(void *plan, void *y, const void *b,
                                int64_t n, int64_t c, int64_t hw,
                                conv_activation act, float alpha,
                                conv_err *err) {
  return bias_act_on(ocl_plan_device(plan), y, b, n, c, hw, act, alpha, err);
}

conv_status ocl_channel_sum(void *plan, const void *y, void *sum, int64_t n,
                            int64_t c, int64_t hw, conv_err *err) {
  ocl_device *dev = ocl_plan_device(plan);
  conv_status st = check_int("channel_sum", n, c, hw, err);
  if (st != CONV_SUCCESS) return st;
  cl_mem ym = (cl_mem)y, sm = (cl_mem)sum;
  cl_int ni = (cl_int)n, ci = (cl_int)c, hwi = (cl_int)hw;
  const size_t sizes[] = {sizeof ym, sizeof sm, sizeof ni, sizeof ci,
                          sizeof hwi};
  const void *const values[] = {&ym, &sm, &ni, &ci, &hwi};
  const size_t global[2] = {(size_t)c * OCL_RED_WG, 1};
  const size_t local[2] = {OCL_RED_WG, 1};
  return run_kernel(dev, "channel_sum", 5, sizes, values, global, local, err);
}

/* The fused activation of a forward pass: called by ocl_forward when the
 * problem has one, over the whole (n, c_out, h_out*w_out) output. */
conv_status ocl_forward_activation(ocl_device *dev, const conv_problem *p,
                                   void *y, conv_err *err) {
  if (p->activation == CONV_ACT_NONE) return CONV_SUCCESS;
  return bias_act_on(dev, y, NULL, p->n, p->c_out, p->h_out * p->w_out,
                     p->activation, p->activation_alpha, err);
}
