/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal declarations of the libconv OpenCL backend: backend, device and
 * plan state, error naming, and the plan entries the plugin table points to.
 */
#ifndef CONV_OPENCL_INTERNAL_H
#define CONV_OPENCL_INTERNAL_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <clblast_c.h>
#include <pthread.h>

#include "conv_plugin.h"

/* Work-group size of the reduction kernels (bias gradient, direct weight
 * gradient); passed to the kernel compiler as -DRED_WG. */
#define OCL_RED_WG 64

/* Default cap on one workspace buffer, on top of
 * CL_DEVICE_MAX_MEM_ALLOC_SIZE; $CONV_OPENCL_MAX_CHUNK_BYTES overrides it. */
#define OCL_DEFAULT_CHUNK_CAP ((size_t)256 << 20)

typedef struct ocl_devref {
  cl_platform_id platform;
  cl_device_id id;
} ocl_devref;

typedef struct ocl_backend {
  int count;
  ocl_devref *devs; /* GPUs first, then the rest, each in platform order */
} ocl_backend;

typedef struct ocl_device {
  cl_platform_id platform;
  cl_device_id id;
  cl_context ctx;
  cl_command_queue queue; /* in-order, shared by every plan of the device */
  cl_ulong max_alloc;     /* CL_DEVICE_MAX_MEM_ALLOC_SIZE */
  cl_uint units;          /* CL_DEVICE_MAX_COMPUTE_UNITS */
  pthread_mutex_t lock;   /* guards program */
  cl_program program;     /* built on the first plan, then reused */
} ocl_device;

/* The name of an OpenCL error code ("CL_OUT_OF_RESOURCES"), never NULL. */
const char *ocl_error_name(cl_int code);
/* The name of a CLBlast status code, never NULL. */
const char *ocl_clblast_name(CLBlastStatusCode code);

/* Builds (once) and returns the device's program. */
conv_status ocl_device_program(ocl_device *dev, cl_program *program,
                               conv_err *err);

conv_status ocl_plan_create(void *device, const conv_problem *problem,
                            const conv_plan_options *options, void **plan,
                            conv_err *err);
void ocl_plan_destroy(void *plan);
const char *ocl_plan_algorithm(void *plan, conv_op op);
size_t ocl_plan_workspace(void *plan);
conv_status ocl_forward(void *plan, const void *x, const void *w,
                        const void *b, void *y, conv_err *err);
conv_status ocl_backward_data(void *plan, const void *dy, const void *w,
                              void *dx, conv_err *err);
conv_status ocl_backward_weight(void *plan, const void *x, const void *dy,
                                void *dw, void *db, conv_err *err);
conv_status ocl_backward_bias(void *plan, const void *dy, void *db,
                              conv_err *err);

conv_status ocl_pool_plan_create(void *device, const conv_pool_problem *problem,
                                 const conv_plan_options *options, void **plan,
                                 conv_err *err);
void ocl_pool_plan_destroy(void *plan);
conv_status ocl_maxpool_forward(void *plan, const void *x, void *y,
                                void *indices, conv_err *err);
conv_status ocl_maxpool_backward(void *plan, const void *x, const void *dy,
                                 void *dx, conv_err *err);

conv_status ocl_avgpool_forward(void *plan, const void *x, void *y,
                                conv_err *err);
conv_status ocl_avgpool_backward(void *plan, const void *dy, void *dx,
                                 conv_err *err);

/* opencl_epilogue.c (ABI 1.2). */
conv_status ocl_bias_activation(void *device, void *y, const void *b,
                                int64_t n, int64_t c, int64_t hw,
                                conv_activation act, float alpha,
                                conv_err *err);
conv_status ocl_channel_sum(void *device, const void *y, void *sum, int64_t n,
                            int64_t c, int64_t hw, conv_err *err);
conv_status ocl_forward_activation(ocl_device *dev, const conv_problem *p,
                                   void *y, conv_err *err);

#endif /* CONV_OPENCL_INTERNAL_H */
