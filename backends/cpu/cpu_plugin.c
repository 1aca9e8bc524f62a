/* SPDX-License-Identifier: Apache-2.0 */
/* The cpu backend's plugin table: one device (this machine's processor),
 * host memory, and plans that pick an algorithm per operation from the
 * registry (cpu_registry.c) and own one bounded workspace. */
#ifdef HAVE_CONFIG_H
#  include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"
#include "helpers.h"
#include "cpu_isa.h"

#ifndef CONV_BLAS_NAME
#  define CONV_BLAS_NAME "cblas"
#endif
#define CPU_BACKEND_VERSION "0.1.0"

typedef struct cpu_backend {
  const cpu_features *cpu;
  int threads; /* cpu_available_threads() at init */
} cpu_backend;

typedef struct cpu_device {
  cpu_backend *backend;
} cpu_device;

typedef struct cpu_plan {
  conv_problem p;
  int threads;
  const cpu_algo *algo[CPU_NUM_OPS];
  void *state[CPU_NUM_OPS];
  int prepared[CPU_NUM_OPS];
  void *ws;
  size_t ws_bytes;
} cpu_plan;

/* --------------------------------------------------------------- backend */

static conv_status cpu_init(void **backend, conv_err *err) {
  /* The kernel table, once: the processor's level capped by CONV_CPU_ISA. */
  conv_status st = cpu_isa_init(err);
  if (st != CONV_SUCCESS) return st;
  cpu_backend *b = calloc(1, sizeof *b);
  if (b == NULL)
    return conv_err_set(err, CONV_ERROR_OUT_OF_MEMORY,
                        "cpu: init: %zu bytes: out of memory", sizeof *b);
  b->cpu = cpu_get_features();
  b->threads = cpu_available_threads();
  cpu_blas_single_thread();
  *backend = b;
  return CONV_SUCCESS;
}

static void cpu_fini(void *backend) { free(backend); }

static int cpu_device_count(void *backend) { return 1; }

static conv_status cpu_device_info(void *backend, int index,
                                   conv_device_info *info, conv_err *err) {
  cpu_backend *b = backend;
  if (index != 0)
    return conv_err_set(err, CONV_ERROR_DEVICE_NOT_FOUND,
                        "cpu: device index %d: the cpu backend has one device (0)",
                        index);
  memset(info, 0, sizeof *info);
  snprintf(info->name, sizeof info->name, "CPU: %s", b->cpu->model);
  info->is_gpu = 0;
  /* "isa:" is the level of the kernel table in use (what runs), then what
   * the processor offers when CONV_CPU_ISA caps it lower. */
  const int hw = cpu_isa_hw(), used = lc_kern->level;
  char cap[96] = "";
  if (used < hw)
    snprintf(cap, sizeof cap, " (CONV_CPU_ISA; the processor runs %s)",
             cpu_isa_name(hw));
  snprintf(info->details, sizeof info->details,
           "CPU: %s, %d threads, %s\n"
           "model: %s\n"
           "threads: %d\n"
           "isa: %s%s\n"
           "features:%s%s%s%s%s%s%s\n"
           "blas: %s\n",
           b->cpu->model, b->threads, lc_kern->name, b->cpu->model, b->threads,
           lc_kern->name, cap, b->cpu->avx ? " AVX" : "",
           b->cpu->avx2 ? " AVX2" : "", b->cpu->fma ? " FMA" : "",
           b->cpu->avx512f ? " AVX512F" : "",
           b->cpu->avx512bw ? " AVX512BW" : "",
           b->cpu->avx512vl ? " AVX512VL" : "",
           b->cpu->avx512dq ? " AVX512DQ" : "", CONV_BLAS_NAME);
  return CONV_SUCCESS;
}

static conv_status cpu_device_open(void *backend, int index, void **device,
                                   conv_err *err) {
  if (index != 0)
    return conv_err_set(err, CONV_ERROR_DEVICE_NOT_FOUND,
                        "cpu: device index %d: the cpu backend has one device (0)",
                        index);
  cpu_device *d = calloc(1, sizeof *d);
  if (d == NULL)
    return conv_err_set(err, CONV_ERROR_OUT_OF_MEMORY,
                        "cpu: device_open: %zu bytes: out of memory", sizeof *d);
  d->backend = backend;
  *device = d;
  return CONV_SUCCESS;
}

static void cpu_device_close(void *device) { free(device); }

/* ------------------------------------------------------------------ plans */

static void cpu_plan_destroy(void *plan) {
  cpu_plan *pl = plan;
  if (pl == NULL) return;
  for (int op = 0; op < CPU_NUM_OPS; op++)
    if (pl->prepared[op] && pl->algo[op]->release != NULL)
      pl->algo[op]->release(pl->state[op]);
  free(pl->ws);
  free(pl);
}

static conv_status cpu_plan_create(void *device, const conv_problem *problem,
                                   const conv_plan_options *options,
                                   void **plan, conv_err *err) {
  conv_status st;
  cpu_plan *pl = calloc(1, sizeof *pl);
  if (pl == NULL)
    return conv_err_set(err, CONV_ERROR_OUT_OF_MEMORY,
                        "cpu: plan_create: %zu bytes: out of memory", sizeof *pl);
  pl->p = *problem;
  /* 0: the cores this process may use now (the affinity may have changed
   * since init). */
  pl->threads = options != NULL && options->num_threads > 0
                    ? options->num_threads
                    : cpu_available_threads();

  int forced[CPU_NUM_OPS];
  st = cpu_choose_algos(&pl->p, options != NULL ? options->algo : NULL,
                        pl->algo, forced, err);
  if (st != CONV_SUCCESS) goto fail;

  /* One workspace serves every op. The heuristic's choice for an op that
   * CONV_ALGO does not force gives way to a lesser algorithm when its
   * workspace passes the budget (half the machine's memory) or cannot be
   * allocated: the budget halves below the largest need and the choice is
   * made again, down to algorithms with no workspace. A forced algorithm
   * keeps its need and fails with its reason. */
  size_t budget = cpu_workspace_budget();
  size_t ws = 0;
  for (;;) {
    size_t need[CPU_NUM_OPS];
    ws = 0;
    for (int op = 0; op < CPU_NUM_OPS; op++) {
      const cpu_algo *a = pl->algo[op];
      need[op] = a->workspace_bytes != NULL
                     ? a->workspace_bytes(&pl->p, (conv_op)op, pl->threads)
                     : 0;
      if (!forced[op] && need[op] > budget) {
        const cpu_algo *alt =
            cpu_pick_within(&pl->p, (conv_op)op, pl->threads, budget);
        if (alt != NULL) {
          pl->algo[op] = a = alt;
          need[op] = a->workspace_bytes != NULL
                         ? a->workspace_bytes(&pl->p, (conv_op)op, pl->threads)
                         : 0;
        }
      }
      if (need[op] == SIZE_MAX) {
        st = conv_err_set(err, CONV_ERROR_SIZE_OVERFLOW,
                          "cpu: workspace of algorithm '%s' for %s with %d "
                          "threads overflows size_t",
                          a->name, cpu_op_name((conv_op)op), pl->threads);
        goto fail;
      }
      if (need[op] > ws) ws = need[op];
    }
    if (ws == 0) break;
    size_t bytes = cpu_align_up(ws);
    if (bytes == SIZE_MAX) {
      st = conv_err_set(err, CONV_ERROR_SIZE_OVERFLOW,
                        "cpu: workspace of %zu bytes overflows size_t", ws);
      goto fail;
    }
    pl->ws = aligned_alloc(CPU_ALIGN, bytes);
    if (pl->ws != NULL) {
      pl->ws_bytes = bytes;
      break;
    }
    /* Could a lesser choice do? Only if an unforced op needs the most. */
    int lesser = 0;
    for (int op = 0; op < CPU_NUM_OPS; op++)
      if (!forced[op] && need[op] == ws &&
          cpu_pick_within(&pl->p, (conv_op)op, pl->threads, ws / 2) != NULL)
        lesser = 1;
    if (!lesser) {
      st = conv_err_set(err, CONV_ERROR_OUT_OF_MEMORY,
                        "cpu: workspace of %zu bytes: out of memory", bytes);
      goto fail;
    }
    budget = ws / 2;
  }

  for (int op = 0; op < CPU_NUM_OPS; op++) {
    const cpu_algo *a = pl->algo[op];
    if (a->prepare != NULL) {
      st = a->prepare(&pl->p, (conv_op)op, pl->threads, &pl->state[op], err);
      if (st != CONV_SUCCESS) goto fail;
    }
    pl->prepared[op] = 1;
  }
  *plan = pl;
  return CONV_SUCCESS;

fail:
  cpu_plan_destroy(pl);
  return st;
}

static const char *cpu_plan_algorithm(void *plan, conv_op op) {
  cpu_plan *pl = plan;
  if (pl == NULL || (int)op < 0 || (int)op >= CPU_NUM_OPS) return "none";
  return pl->algo[op]->name;
}

static size_t cpu_plan_workspace(void *plan) {
  cpu_plan *pl = plan;
  return pl != NULL ? pl->ws_bytes : 0;
}

/* -------------------------------------------------------------------- run */

static conv_status run_op(cpu_plan *pl, conv_op op, const cpu_tensors *t,
                          conv_err *err) {
  cpu_run r;
  r.p = &pl->p;
  r.op = op;
  r.threads = pl->threads;
  r.ws = pl->ws;
  r.ws_bytes = pl->ws_bytes;
  r.state = pl->state[op];
  r.cpu = cpu_get_features();
  r.dx_epilogue = 0;
  r.dx_act = CONV_ACT_NONE;
  r.dx_alpha = 0.0f;
  return pl->algo[op]->run(&r, t, err);
}

static conv_status cpu_forward(void *plan, const void *x, const void *w,
                               const void *b, void *y, conv_err *err) {
  cpu_tensors t = {0};
  t.x = x;
  t.w = w;
  t.b = b;
  t.y = y;
  cpu_plan *pl = plan;
  conv_status st = run_op(pl, CONV_OP_FORWARD, &t, err);
  if (st == CONV_SUCCESS && pl->p.activation != CONV_ACT_NONE &&
      !pl->algo[CONV_OP_FORWARD]->fuses_activation)
    cpu_activate_output(&pl->p, y, pl->threads);
  return st;
}

static conv_status cpu_backward_data(void *plan, const void *dy, const void *w,
                                     void *dx, conv_err *err) {
  cpu_tensors t = {0};
  t.dy = dy;
  t.w = w;
  t.dx = dx;
  return run_op(plan, CONV_OP_BACKWARD_DATA, &t, err);
}

static conv_status cpu_backward_weight(void *plan, const void *x,
                                       const void *dy, void *dw, void *db,
                                       conv_err *err) {
  cpu_tensors t = {0};
  t.x = x;
  t.dy = dy;
  t.dw = dw;
  cpu_plan *pl = plan;
  conv_status st = run_op(pl, CONV_OP_BACKWARD_WEIGHT, &t, err);
  /* The bias gradient of every weight-gradient algorithm: this one call,
   * in the one summation order backward_bias uses too. */
  if (st == CONV_SUCCESS && db != NULL)
    cpu_bias_grad(&pl->p, dy, db, pl->threads);
  return st;
}

static conv_status cpu_backward_bias(void *plan, const void *dy, void *db,
                                     conv_err *err) {
  cpu_tensors t = {0};
  t.dy = dy;
  t.db = db;
  return run_op(plan, CONV_OP_BACKWARD_BIAS, &t, err);
}

/* ABI 1.2: backward data with the dx epilogue (a transposed convolution's
 * forward): fused into the algorithms that can, else one pass after. */
static conv_status cpu_backward_data_bias_activation(
    void *plan, const void *dy, const void *w, const void *b, void *dx,
    conv_activation act, float alpha, conv_err *err) {
  cpu_plan *pl = plan;
  const cpu_algo *a = pl->algo[CONV_OP_BACKWARD_DATA];
  cpu_tensors t = {0};
  t.dy = dy;
  t.w = w;
  t.dx = dx;
  t.b = b;
  cpu_run r;
  r.p = &pl->p;
  r.op = CONV_OP_BACKWARD_DATA;
  r.threads = pl->threads;
  r.ws = pl->ws;
  r.ws_bytes = pl->ws_bytes;
  r.state = pl->state[CONV_OP_BACKWARD_DATA];
  r.cpu = cpu_get_features();
  r.dx_epilogue = a->fuses_dx_epilogue;
  r.dx_act = act;
  r.dx_alpha = alpha;
  conv_status st = a->run(&r, &t, err);
  if (st == CONV_SUCCESS && !a->fuses_dx_epilogue)
    cpu_bias_activation_run(dx, b, pl->p.n, pl->p.c_in, pl->p.h * pl->p.w, act,
                            alpha, pl->threads);
  return st;
}

/* ABI 1.2 per-channel passes, with the plan's threads (cpu_epilogue.c). */
static conv_status cpu_bias_activation(void *plan, void *y, const void *b,
                                       int64_t n, int64_t c, int64_t hw,
                                       conv_activation act, float alpha,
                                       conv_err *err) {
  (void)err;
  cpu_bias_activation_run(y, b, n, c, hw, act, alpha,
                          ((cpu_plan *)plan)->threads);
  return CONV_SUCCESS;
}

static conv_status cpu_channel_sum(void *plan, const void *y, void *sum,
                                   int64_t n, int64_t c, int64_t hw,
                                   conv_err *err) {
  (void)err;
  cpu_channel_sum_run(y, sum, n, c, hw, ((cpu_plan *)plan)->threads);
  return CONV_SUCCESS;
}

/* ----------------------------------------------------------------- memory */

static conv_status cpu_mem_alloc(void *device, size_t bytes, void **mem,
                                 conv_err *err) {
  size_t rounded = cpu_align_up(bytes > 0 ? bytes : 1);
  void *m = rounded == SIZE_MAX ? NULL : aligned_alloc(CPU_ALIGN, rounded);
  if (m == NULL)
    return conv_err_set(err, CONV_ERROR_OUT_OF_MEMORY,
                        "cpu: mem_alloc of %zu bytes: out of memory", bytes);
  *mem = m;
  return CONV_SUCCESS;
}

static void cpu_mem_free(void *device, void *mem) { free(mem); }

static conv_status cpu_mem_write(void *device, void *mem, size_t offset,
                                 size_t bytes, const void *src, conv_err *err) {
  if (bytes > 0) memcpy((char *)mem + offset, src, bytes);
  return CONV_SUCCESS;
}

static conv_status cpu_mem_read(void *device, const void *mem, size_t offset,
                                size_t bytes, void *dst, conv_err *err) {
  if (bytes > 0) memcpy(dst, (const char *)mem + offset, bytes);
  return CONV_SUCCESS;
}

/* ------------------------------------------------------------------ table */

/* Pooling (cpu_pool.c). */
conv_status cpu_pool_plan_create(void *device, const conv_pool_problem *problem,
                                 const conv_plan_options *options, void **plan,
                                 conv_err *err);
void cpu_pool_plan_destroy(void *plan);
conv_status cpu_maxpool_forward(void *plan, const void *x, void *y,
                                void *indices, conv_err *err);
conv_status cpu_maxpool_backward(void *plan, const void *x, const void *dy,
                                 void *dx, conv_err *err);
conv_status cpu_avgpool_forward(void *plan, const void *x, void *y,
                                conv_err *err);
conv_status cpu_avgpool_backward(void *plan, const void *dy, void *dx,
                                 conv_err *err);

static const conv_plugin cpu_plugin_table = {
    .abi_major = CONV_PLUGIN_ABI_MAJOR,
    .abi_minor = CONV_PLUGIN_ABI_MINOR,
    .size = sizeof(conv_plugin),
    .name = "cpu",
    .version = CPU_BACKEND_VERSION " (" CONV_BLAS_NAME ")",
    .flags = CONV_PLUGIN_HOST_MEMORY,
    .init = cpu_init,
    .fini = cpu_fini,
    .device_count = cpu_device_count,
    .device_info = cpu_device_info,
    .device_open = cpu_device_open,
    .device_close = cpu_device_close,
    .plan_create = cpu_plan_create,
    .plan_destroy = cpu_plan_destroy,
    .plan_algorithm = cpu_plan_algorithm,
    .plan_workspace = cpu_plan_workspace,
    .forward = cpu_forward,
    .backward_data = cpu_backward_data,
    .backward_weight = cpu_backward_weight,
    .backward_bias = cpu_backward_bias,
    .mem_alloc = cpu_mem_alloc,
    .mem_free = cpu_mem_free,
    .mem_write = cpu_mem_write,
    .mem_read = cpu_mem_read,
    .pool_plan_create = cpu_pool_plan_create,
    .pool_plan_destroy = cpu_pool_plan_destroy,
    .maxpool_forward = cpu_maxpool_forward,
    .maxpool_backward = cpu_maxpool_backward,
    .avgpool_forward = cpu_avgpool_forward,
    .avgpool_backward = cpu_avgpool_backward,
    .bias_activation = cpu_bias_activation,
    .channel_sum = cpu_channel_sum,
    .backward_data_bias_activation = cpu_backward_data_bias_activation,
};

CONV_PLUGIN_EXPORT const conv_plugin *conv_plugin_entry(void) {
  return &cpu_plugin_table;
}
