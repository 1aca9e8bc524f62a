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
#include <stdint.h>

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

/* The two kernel sources a device builds: the base program (every .cl file
 * but gemm.cl, built once) and gemm.cl, built once per set of GEMM tuning
 * parameters (its -D options). */
enum { OCL_SRC_BASE = 0, OCL_SRC_GEMM = 1 };

/* One built program of a device, kept for the device's life. */
typedef struct ocl_program {
  int set;               /* OCL_SRC_BASE or OCL_SRC_GEMM */
  char *options;         /* the build options */
  cl_program prog;
  char *warmed;          /* "name:l0xl1xl2\n" launch shapes compiled so far */
  int dirty;             /* new shapes since the disk cache was written */
  int keep;              /* used by a plan (not only by tuning trials): the
                            device writes it to the disk cache at close */
  struct ocl_program *next;
} ocl_program;

typedef struct ocl_device {
  cl_platform_id platform;
  cl_device_id id;
  cl_context ctx;
  cl_command_queue queue; /* in-order, shared by every plan of the device */
  cl_ulong max_alloc;     /* CL_DEVICE_MAX_MEM_ALLOC_SIZE */
  cl_ulong local_mem;     /* CL_DEVICE_LOCAL_MEM_SIZE */
  size_t max_wg;          /* CL_DEVICE_MAX_WORK_GROUP_SIZE */
  cl_uint units;          /* CL_DEVICE_MAX_COMPUTE_UNITS */
  cl_uint vec_width;      /* CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT (>= 1) */
  cl_device_type type;
  char name[256], vendor[128], version[128], driver[128], platform_name[128],
      platform_version[256];
  pthread_mutex_t lock;   /* guards programs, the dummy buffer and tuning */
  ocl_program *programs;  /* built on demand, then reused */
  cl_mem dummy;           /* OCL_DUMMY_BYTES: arguments of warm-ups */
} ocl_device;

/* ---------------------------------------------------------------- GEMM */

enum { OCL_GEMM_VEC = 0, OCL_GEMM_TILED = 1 };

/* Tuning parameters of the GEMM kernels (gemm.cl). */
typedef struct ocl_gemm_params {
  int family;                      /* OCL_GEMM_VEC or OCL_GEMM_TILED */
  int tm, vw, nv, lm, ln;          /* vec: TM rows x NV*VW columns per item,
                                      work-groups of lm x ln items */
  int mwg, nwg, kwg, mdimc, ndimc; /* tiled: MWG x NWG per group, depth KWG,
                                      MDIMC x NDIMC items */
} ocl_gemm_params;

/* Writes "vec:tm=8,vw=16,nv=2,lm=8,ln=1" or "tiled:mwg=64,...". */
void ocl_gemm_params_str(const ocl_gemm_params *gp, char *buf, size_t len);
/* Parses that form; 0 on success, -1 (and a reason in why) otherwise. */
int ocl_gemm_params_parse(const char *s, ocl_gemm_params *gp, char *why,
                          size_t why_len);
/* 0 if the device can run gp, else -1 with the reason. */
int ocl_gemm_params_check(const ocl_device *dev, const ocl_gemm_params *gp,
                          char *why, size_t why_len);
/* The build options of gp ("-DGEMM_VEC -DTM=8 ..."). */
void ocl_gemm_params_options(const ocl_gemm_params *gp, char *buf,
                             size_t len);
/* The default for a device and a GEMM of m rows and n columns. */
void ocl_gemm_params_default(const ocl_device *dev, long m, long n,
                             ocl_gemm_params *gp);
/* Candidates the tuner times for a device; returns how many (<= max). */
int ocl_gemm_candidates(const ocl_device *dev, ocl_gemm_params *out, int max);

/* One (batched, split-K) GEMM as gemm.cl describes it. */
typedef struct ocl_gemm_call {
  int m, n, kb, kp;
  cl_mem a; long a_off; int lda; long a_skb, a_sn, a_sg; int trans_a;
  cl_mem b; long b_off; int ldb; long b_skb, b_sn, b_sg;
  cl_mem c; long c_off; int ldc; long c_sn, c_sg, c_ss;
  int g, nb, slices; /* slices: split-K count asked for */
  int accumulate;
  cl_mem bias;       /* NULL: none */
  int b_panel;       /* B packed in panels of nv*vw columns (gemm_vec) */
  int act;           /* conv_activation applied last (0: none) */
  float alpha;       /* its slope (leaky_relu) */
} ocl_gemm_call;

/* The number of slices a call really has (the last may not be short of
 * work) and their length. */
int ocl_gemm_slices(const ocl_gemm_call *c, int *klen);
/* The work sizes ocl_gemm_enqueue launches c with. */
void ocl_gemm_grid(const ocl_gemm_params *gp, const ocl_gemm_call *c,
                   size_t global[3], size_t local[3]);
/* Sets kernel k's arguments from c and enqueues it with gp's shape. */
conv_status ocl_gemm_enqueue(ocl_device *dev, cl_kernel k,
                             const ocl_gemm_params *gp, const ocl_gemm_call *c,
                             conv_err *err);

/* ------------------------------------------------------------ programs */

/* Builds (once per device and options) the program of source set `set`,
 * through the on-disk binary cache. */
conv_status ocl_device_build(ocl_device *dev, int set, const char *options,
                             ocl_program **program, conv_err *err);
/* Compiles what a launch of kernel k with this local size needs, by an
 * empty launch (drivers such as PoCL compile per work-group size at the
 * first launch), so that run calls compile nothing. The kernel's per-run
 * arguments must already be set to make the launch a no-op. */
conv_status ocl_warm_launch(ocl_device *dev, ocl_program *program,
                            cl_kernel k, const char *name, cl_uint dims,
                            const size_t *local, int classes, conv_err *err);
/* PoCL compiles one work-group function for grids whose widest dimension
 * is narrower than this many work items ("smallgrid") and another for wider
 * ones; a warm-up launch compiles the class of its own grid. The classes a
 * warm-up covers (bits; a plan asks for every class its runs can use): */
#define OCL_GRID_SPLIT ((size_t)65536)
enum { OCL_WARM_SMALL = 1, OCL_WARM_LARGE = 2 };
/* The classes of launches whose widest dimension is at least `lo` and at
 * most `hi` work items. */
int ocl_grid_classes(size_t lo, size_t hi);
/* Bytes of the device's dummy buffer: warm-up launches of the reduction
 * kernels over a large grid write one float per work-group into it. */
#define OCL_DUMMY_BYTES ((size_t)16384)
/* Writes the kept programs with new launch shapes to the disk cache (never
 * fails). The device does it when it is closed: fetching a program's binary
 * makes some drivers compile every kernel of it once more (PoCL: a
 * work-group function for any local size), work that plan creation need
 * not wait for. */
void ocl_device_save_programs(ocl_device *dev);
/* Marks a program as used by a plan (dev->lock not held). */
void ocl_program_keep(ocl_device *dev, ocl_program *pg);
/* Prints a progress line on stderr when $CONV_VERBOSE or $CONV_PROGRESS is
 * set (for long work: compiling, tuning). */
void ocl_progress(const char *fmt, ...);
/* 1 when $CONV_VERBOSE asks for plan details. */
int ocl_verbose(void);

/* ----------------------------------------------------- disk cache, tuning */

/* The cache directory ($CONV_CACHE_DIR, else $XDG_CACHE_HOME/libconv, else
 * $HOME/.cache/libconv), or NULL when off ($CONV_CACHE_DIR=off) or unknown.
 * Creates it when asked. */
const char *ocl_cache_dir(int create);
/* Loads a program binary (and its warmed shapes) stored under key; NULL
 * when absent, corrupt, truncated or for another key. Caller frees. */
unsigned char *ocl_cache_load(const char *key, size_t *size, char **warmed);
/* Stores it atomically (temporary file + rename); failures are ignored. */
void ocl_cache_store(const char *key, const unsigned char *bin, size_t size,
                     const char *warmed);
/* 64-bit FNV-1a. */
uint64_t ocl_hash(const void *data, size_t len, uint64_t h);
#define OCL_HASH_INIT 14695981039346656037ULL

/* The tuning database: the best algorithm and GEMM parameters per device
 * and problem class. Looks up class (a short text) for the device; returns
 * 0 and fills algo/params when found. */
int ocl_tune_lookup(const ocl_device *dev, const char *klass, char *algo,
                    size_t algo_len, char *params, size_t params_len);
/* Records a winner (replacing an older entry of the class). */
void ocl_tune_record(const ocl_device *dev, const char *klass,
                     const char *algo, const char *params, double ms);

/* The name of an OpenCL error code ("CL_OUT_OF_RESOURCES"), never NULL. */
const char *ocl_error_name(cl_int code);
/* The name of a CLBlast status code, never NULL. */
const char *ocl_clblast_name(CLBlastStatusCode code);

/* Builds (once per device and kernel list) the base program holding only
 * the named kernels (count names): build options -DRED_WG=.. -DKSEL_<name>. */
conv_status ocl_device_select(ocl_device *dev, const char *const *names,
                              int count, ocl_program **program, conv_err *err);
/* Builds (once) and returns the program of the per-channel passes
 * (bias_act, channel_sum: opencl_epilogue.c). */
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
conv_status ocl_bias_activation(void *plan, void *y, const void *b,
                                int64_t n, int64_t c, int64_t hw,
                                conv_activation act, float alpha,
                                conv_err *err);
conv_status ocl_channel_sum(void *plan, const void *y, void *sum, int64_t n,
                            int64_t c, int64_t hw, conv_err *err);
/* backward_data with a transposed convolution's bias and activation in
 * the kernel that stores dx (opencl_plan.c). */
conv_status ocl_backward_data_bias_activation(void *plan, const void *dy,
                                              const void *w, const void *b,
                                              void *dx, conv_activation act,
                                              float alpha, conv_err *err);
/* The device of a convolution plan (opencl_plan.c). */
ocl_device *ocl_plan_device(void *plan);
conv_status ocl_forward_activation(ocl_device *dev, const conv_problem *p,
                                   void *y, conv_err *err);

#endif /* CONV_OPENCL_INTERNAL_H */
