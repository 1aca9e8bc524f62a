/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The backend plugin ABI of libconv.
 *
 * A backend is a shared object that exports one symbol, CONV_PLUGIN_ENTRY,
 * a function returning a pointer to a static conv_plugin table. The host
 * (libconv) copies at most table->size bytes of it into a zeroed table of
 * its own, rejects a table whose abi_major differs from CONV_PLUGIN_ABI_MAJOR
 * or whose abi_minor is newer than CONV_PLUGIN_ABI_MINOR, and rejects any
 * required entry left NULL, naming it.
 *
 * Backends include this header (and conv.h for the shared enums) and nothing
 * else of libconv: they do not link against libconv.
 *
 * The host has already checked every argument before it calls an entry: the
 * problem is valid and resolved (pads, output size), tensors are non-NULL
 * where required and large enough. Backends still report their own failures
 * (allocation, device errors, an algorithm that cannot serve a problem)
 * through conv_err, with a message that names the call and the value.
 *
 * Threading contract: entries may be called from several threads at once on
 * distinct plans and buffers of one device; one plan is never run by two
 * threads at the same time.
 */
#ifndef CONV_PLUGIN_H
#define CONV_PLUGIN_H

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conv.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CONV_PLUGIN_ABI_MAJOR 1
#define CONV_PLUGIN_ABI_MINOR 2
#define CONV_PLUGIN_ENTRY "conv_plugin_entry"

#if defined(__GNUC__)
#  define CONV_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#  define CONV_PLUGIN_EXPORT
#endif

/* Where a backend reports a failure: a status and a message. */
typedef struct conv_err {
  conv_status status;
  char msg[1024];
} conv_err;

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static inline conv_status conv_err_set(conv_err *err, conv_status status,
                                       const char *fmt, ...) {
  if (err != NULL) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->status = status;
  }
  return status;
}

/* A checked, resolved convolution problem. All sizes are >= 1 except n,
 * which may be 0 (the host handles n == 0 itself and never runs it). */
typedef struct conv_problem {
  int64_t n, c_in, h, w;       /* input */
  int64_t c_out, kh, kw;       /* weight is (c_out, c_in/groups, kh, kw) */
  int64_t h_out, w_out;        /* output */
  int64_t stride_h, stride_w;
  int64_t dil_h, dil_w;
  int64_t pad_t, pad_b, pad_l, pad_r;  /* resolved, >= 0 */
  int64_t groups;
  conv_padding_mode padding_mode;
  int has_bias;
  int flip_kernel;             /* true convolution: w read rotated 180 deg */
  /* ABI 1.2: forward writes act(conv + bias). A backend of minor >= 2
   * applies it or fails plan_create with CONV_ERROR_UNSUPPORTED; the host
   * never passes an activation to an older one (whose table is shorter). */
  conv_activation activation;
  float activation_alpha;      /* leaky_relu's slope, else 0 */
} conv_problem;

/* The activations of conv_activation on one float, as PyTorch computes them
 * (NaN stays NaN). One definition for every backend and the reference. */
static inline float conv_activate(float v, conv_activation act, float alpha) {
  switch (act) {
    case CONV_ACT_RELU:       return v < 0.0f ? 0.0f : v;
    case CONV_ACT_RELU6:      return v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v);
    case CONV_ACT_LEAKY_RELU: return v > 0.0f ? v : v * alpha;
    case CONV_ACT_SIGMOID:    return 1.0f / (1.0f + expf(-v));
    case CONV_ACT_TANH:       return tanhf(v);
    case CONV_ACT_SILU:       return v / (1.0f + expf(-v));
    case CONV_ACT_NONE:
    default:                  return v;
  }
}

/* Where padded coordinate i (i = position in the padded axis - pad before,
 * so i < 0 is in the top/left border and i >= size in the bottom/right one)
 * reads from, for an axis of the given size: the source index, or -1 for a
 * zero. The host guarantees the border is narrow enough for the mode (reflect:
 * pad < size; circular and symmetric: pad <= size). One definition for every
 * backend and for the reference, so they agree on the borders. */
static inline int64_t conv_pad_source(int64_t i, int64_t size,
                                      conv_padding_mode mode) {
  if (i >= 0 && i < size) return i;
  switch (mode) {
    case CONV_PAD_REFLECT:   return i < 0 ? -i : 2 * (size - 1) - i;
    case CONV_PAD_REPLICATE: return i < 0 ? 0 : size - 1;
    case CONV_PAD_CIRCULAR:  return i < 0 ? i + size : i - size;
    case CONV_PAD_SYMMETRIC: return i < 0 ? -i - 1 : 2 * size - 1 - i;
    case CONV_PAD_ZEROS:
    default:                 return -1;
  }
}

/* Choices the host passes to plan_create. */
typedef struct conv_plan_options {
  /* $CONV_ALGO, or NULL: an algorithm name the backend must use for every
   * operation it names, or "op=name[,op=name]" with op in fwd, bwd_data,
   * bwd_weight. A forced algorithm that cannot serve the problem is
   * CONV_ERROR_UNSUPPORTED, not a silent fallback. */
  const char *algo;
  /* $CONV_NUM_THREADS, or 0 for the cores this process may use. */
  int num_threads;
} conv_plan_options;

/* A checked, resolved max-pooling problem (see conv_pool_desc): stride is
 * resolved (never 0), h_out/w_out computed; n >= 1 when a backend sees it. */
typedef struct conv_pool_problem {
  int64_t n, c, h, w;
  int64_t kh, kw;
  int64_t stride_h, stride_w;
  int64_t pad_h, pad_w;
  int64_t dil_h, dil_w;
  int64_t h_out, w_out;
  int ceil_mode;
  /* ABI 1.2. pad_h and pad_w are the top and left pads; pad_b and pad_r the
   * bottom and right ones (they change only the output size, which the host
   * computed, so a 1.1 backend's max pooling stays right with them). */
  int64_t pad_b, pad_r;
  conv_pool_mode mode;         /* a 1.1 backend only ever sees CONV_POOL_MAX */
  int count_include_pad;       /* avg */
  int64_t divisor_override;    /* avg: > 0 replaces the divisor */
} conv_pool_problem;

/* The table's flags. */
enum {
  /* Buffers are plain host memory: a buffer handle is a float pointer, and
   * the host passes user pointers to the run entries directly. */
  CONV_PLUGIN_HOST_MEMORY = 1u << 0,
  /* Devices are GPUs (used to choose the default backend). */
  CONV_PLUGIN_GPU = 1u << 1
};

typedef struct conv_plugin {
  uint32_t abi_major;  /* CONV_PLUGIN_ABI_MAJOR */
  uint32_t abi_minor;  /* CONV_PLUGIN_ABI_MINOR */
  size_t size;         /* sizeof(conv_plugin) as the backend was built */
  const char *name;    /* short name: "cpu", "opencl" (required) */
  const char *version; /* backend version string (required) */
  uint32_t flags;

  /* Backend-wide state. init may fail (no driver): the host records the
   * message and skips the backend. fini releases everything init made. */
  conv_status (*init)(void **backend, conv_err *err);
  void (*fini)(void *backend);

  /* Devices: count, description, open and close. */
  int (*device_count)(void *backend);
  conv_status (*device_info)(void *backend, int index, conv_device_info *info,
                             conv_err *err);
  conv_status (*device_open)(void *backend, int index, void **device,
                             conv_err *err);
  void (*device_close)(void *device);

  /* Plans: all allocation and compilation happens here. */
  conv_status (*plan_create)(void *device, const conv_problem *problem,
                             const conv_plan_options *options, void **plan,
                             conv_err *err);
  void (*plan_destroy)(void *plan);
  /* Name of the algorithm chosen for op; never NULL. */
  const char *(*plan_algorithm)(void *plan, conv_op op);
  /* Bytes of workspace held by the plan. */
  size_t (*plan_workspace)(void *plan);

  /* Run entries. Buffers are handles from mem_alloc (or host pointers with
   * CONV_PLUGIN_HOST_MEMORY). Outputs are overwritten, never accumulated.
   * b is NULL iff the problem has no bias; db may be NULL in
   * backward_weight (no bias gradient wanted). */
  conv_status (*forward)(void *plan, const void *x, const void *w,
                         const void *b, void *y, conv_err *err);
  conv_status (*backward_data)(void *plan, const void *dy, const void *w,
                               void *dx, conv_err *err);
  conv_status (*backward_weight)(void *plan, const void *x, const void *dy,
                                 void *dw, void *db, conv_err *err);
  conv_status (*backward_bias)(void *plan, const void *dy, void *db,
                               conv_err *err);

  /* Device memory. */
  conv_status (*mem_alloc)(void *device, size_t bytes, void **mem,
                           conv_err *err);
  void (*mem_free)(void *device, void *mem);
  conv_status (*mem_write)(void *device, void *mem, size_t offset,
                           size_t bytes, const void *src, conv_err *err);
  conv_status (*mem_read)(void *device, const void *mem, size_t offset,
                          size_t bytes, void *dst, conv_err *err);

  /* ABI 1.1: max pooling. Optional as a group: a backend leaves all four
   * NULL (the host answers CONV_ERROR_UNSUPPORTED) or fills all four.
   * indices (int64 per output element, a buffer of mem_alloc or a host
   * pointer) may be NULL. maxpool_backward overwrites dx. */
  conv_status (*pool_plan_create)(void *device, const conv_pool_problem *problem,
                                  const conv_plan_options *options, void **plan,
                                  conv_err *err);
  void (*pool_plan_destroy)(void *plan);
  conv_status (*maxpool_forward)(void *plan, const void *x, void *y,
                                 void *indices, conv_err *err);
  conv_status (*maxpool_backward)(void *plan, const void *x, const void *dy,
                                  void *dx, conv_err *err);

  /* ABI 1.2: average pooling on plans of pool_plan_create whose problem has
   * mode CONV_POOL_AVG or CONV_POOL_ADAPTIVE_AVG (the window and divisor
   * rules are in conv.h). Optional as a pair, and only with the max pooling
   * group; avgpool_backward overwrites dx. */
  conv_status (*avgpool_forward)(void *plan, const void *x, void *y,
                                 conv_err *err);
  conv_status (*avgpool_backward)(void *plan, const void *dy, void *dx,
                                  conv_err *err);

  /* ABI 1.2: per-channel passes over an (n, c, hw) buffer, which the
   * transposed convolution needs around the conv2d operations it reuses.
   * plan is a plan of plan_create (the pass runs on its device, with its
   * threads); the shape is the caller's, not the plan's. Optional as a pair.
   * bias_activation: y[i, k, p] = act(y[i, k, p] + (b ? b[k] : 0)) in place.
   * channel_sum: sum[k] = sum over i, p of y[i, k, p], in a fixed order. */
  conv_status (*bias_activation)(void *plan, void *y, const void *b,
                                 int64_t n, int64_t c, int64_t hw,
                                 conv_activation activation, float alpha,
                                 conv_err *err);
  conv_status (*channel_sum)(void *plan, const void *y, void *sum, int64_t n,
                             int64_t c, int64_t hw, conv_err *err);

  /* ABI 1.2, optional, only beside the pair above: backward_data, then
   * dx[i, k, p] = act(dx[i, k, p] + (b ? b[k] : 0)) (b has c_in entries),
   * applied by the backend on each tile while it is in cache where it can
   * (a transposed convolution's forward with its bias and activation, in
   * one sweep). Without it the host runs backward_data, then
   * bias_activation. */
  conv_status (*backward_data_bias_activation)(void *plan, const void *dy,
                                               const void *w, const void *b,
                                               void *dx,
                                               conv_activation activation,
                                               float alpha, conv_err *err);
} conv_plugin;

/* The one symbol a plugin exports. */
typedef const conv_plugin *(*conv_plugin_entry_fn)(void);
CONV_PLUGIN_EXPORT const conv_plugin *conv_plugin_entry(void);

#ifdef __cplusplus
}
#endif

#endif /* CONV_PLUGIN_H */
