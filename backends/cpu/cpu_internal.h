/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the cpu backend: the algorithm registry and the helpers every
 * algorithm shares. Nothing outside backends/cpu/ includes this.
 *
 * An algorithm is a cpu_algo (below) defined in its own file, named after
 * it: algorithms/NAME.c (im2col_gemm in algorithms/im2col_gemm.c, ...). One
 * cpu_algo may serve several operations: every entry receives the conv_op.
 * The per-operation tables live in cpu_registry.c; to add an algorithm:
 *   1. define `const cpu_algo cpu_algo_NAME = {...};` in algorithms/NAME.c,
 *   2. declare it in the list below,
 *   3. add `&cpu_algo_NAME` to the tables of the ops it serves in
 *      cpu_registry.c (table order breaks score ties: earlier wins) and
 *      its score function to the scores there,
 *   4. add the file to cpu_sources in Makefile.am.
 *
 * Plan life cycle (cpu_plugin.c):
 *   plan_create: for each op the registry picks an algorithm (CONV_ALGO or
 *     the heuristic: the applicable algorithm with the highest score, the
 *     scores and tables being cpu_registry.c's policy), calls
 *     its optional prepare() (plan-time state, e.g. tables), then allocates
 *     ONE workspace of max over ops of workspace_bytes(problem, op, threads)
 *     bytes (64-byte aligned), shared by the ops (a plan never runs two calls
 *     at once).
 *   run entries: fill a cpu_run and a cpu_tensors, call algo->run(). run()
 *     does arithmetic only: no allocation, no I/O.
 *   plan_destroy: release(state) for each op, free the workspace.
 *
 * Contract of run():
 *   - Outputs are fully overwritten (never accumulated into). In
 *     CONV_OP_BACKWARD_WEIGHT run() computes dw only: the plugin's entry
 *     adds the bias gradient (cpu_bias_grad, helpers.h) for every
 *     algorithm, so t->db is always NULL there.
 *   - Deterministic: the same inputs give the same bits, whatever the thread
 *     count. So: no atomics; work is split into tasks by a partition that
 *     depends only on the problem (never on r->threads); every reduction is
 *     done in a fixed order inside one task; tasks may run on any thread.
 *   - Parallelism: OpenMP with num_threads(r->threads); thread t may use
 *     bytes [t * slice, (t + 1) * slice) of r->ws, where the algorithm's own
 *     workspace_bytes() defined the slice (use cpu_ws_slice()).
 *   - BLAS is single-threaded (set once at backend init); algorithms get
 *     their parallelism by running independent GEMMs in their tasks.
 *   - Index arithmetic in int64_t / size_t.
 */
#ifndef CONV_CPU_INTERNAL_H
#define CONV_CPU_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "conv.h"
#include "conv_plugin.h"

#define CPU_NUM_OPS 4 /* CONV_OP_FORWARD .. CONV_OP_BACKWARD_BIAS */
#define CPU_ALIGN 64  /* alignment of the workspace and of every slice */

/* ------------------------------------------------------- CPU features */

/* What the processor offers, detected once at backend init (cpuid via
 * __builtin_cpu_supports). Only cpu_isa.c reads them to choose code: it
 * fills the kernel table (cpu_isa.h) whose clones are compiled with
 * per-function target attributes (CPU_TARGET_AVX2, CPU_TARGET_AVX512
 * below); the default build targets plain x86-64. */
typedef struct cpu_features {
  int sse41, avx, avx2, fma, avx512f, avx512bw, avx512vl, avx512dq;
  char model[128]; /* "AMD EPYC 9654 96-Core Processor", or "unknown" */
} cpu_features;

const cpu_features *cpu_get_features(void);

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#  define CPU_X86 1
#  define CPU_TARGET_AVX2 __attribute__((target("avx2,fma")))
#  define CPU_TARGET_AVX512 \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))
#else
#  define CPU_X86 0
#  define CPU_TARGET_AVX2
#  define CPU_TARGET_AVX512
#endif

/* ---------------------------------------------------------- run context */

/* The tensors of one call; those the op does not use are NULL.
 *   forward:         x, w, b (NULL iff !has_bias)       -> y
 *   backward_data:   dy, w                              -> dx
 *   backward_weight: x, dy                              -> dw (db: the entry's)
 *   backward_bias:   dy                                 -> db */
typedef struct cpu_tensors {
  const float *x, *w, *b, *dy;
  float *y, *dx, *dw, *db;
} cpu_tensors;

/* Everything a run() may use. */
typedef struct cpu_run {
  const conv_problem *p;
  conv_op op;
  int threads;        /* >= 1: OpenMP threads for this call */
  void *ws;           /* >= workspace_bytes(p, op, threads) bytes, aligned */
  size_t ws_bytes;
  void *state;        /* from the algorithm's prepare(), or NULL */
  const cpu_features *cpu;
  /* Backward data of a transposed convolution's forward: dx = dx_act(dx +
   * t->b[channel]) (b may be NULL). 0 for every other call. */
  int dx_epilogue;
  conv_activation dx_act;
  float dx_alpha;
} cpu_run;

/* ------------------------------------------------------------ algorithm */

typedef struct cpu_algo {
  /* Name for CONV_ALGO and conv_plan_algorithm(): lower case, [a-z0-9_]. */
  const char *name;
  /* 1 if the algorithm computes this op of this problem correctly; else 0
   * and a reason in why ("stride 2 is not 1"), which may be NULL. */
  int (*applies)(const conv_problem *p, conv_op op, char *why, size_t why_len);
  /* Workspace bytes the run needs with this many threads (all threads
   * together); SIZE_MAX if it overflows. May be NULL (none). Keep it
   * bounded (tiles / chunks), not proportional to the batch. */
  size_t (*workspace_bytes)(const conv_problem *p, conv_op op, int threads);
  /* Optional plan-time state (tables, packed constants). NULL: none. */
  conv_status (*prepare)(const conv_problem *p, conv_op op, int threads,
                         void **state, conv_err *err);
  void (*release)(void *state);
  conv_status (*run)(const cpu_run *r, const cpu_tensors *t, conv_err *err);
  /* 1: forward applies p->activation itself, on each output tile while it
   * is in cache (the plan then adds no pass of its own). 0: the plan runs
   * cpu_activate_output after the algorithm. */
  int fuses_activation;
  /* 1: backward data applies the dx epilogue (r->dx_epilogue: bias t->b per
   * dx channel, then r->dx_act) itself, tile by tile. 0: the plan runs it as
   * a pass after the algorithm. */
  int fuses_dx_epilogue;
} cpu_algo;

/* The algorithms (defined in their files). */
/* The algorithms, each in algorithms/NAME.c:
 *   direct         loop nests over padding maps; any problem.
 *   direct_dw      depthwise (groups == c_in == c_out): fwd, bwd_data,
 *                  bwd_weight; any kernel, stride, dilation, padding mode.
 *   direct_vec     small channel counts per group (c_in/groups and
 *                  c_out/groups small): vectorised over output columns with
 *                  blocks of output channels in registers.
 *   gemm_1x1       1x1 stride 1 unpadded: one GEMM per image and group
 *                  straight on the NCHW planes (fwd, bwd_data).
 *   im2col_gemm    lowering + GEMM; any problem.
 *   winograd_f4x4  3x3 stride 1: F(4x4, 3x3) tiles, batched GEMMs per
 *                  transformed element (fwd, bwd_data; bwd_weight too).
 *   winograd_f2x2  3x3 stride 1 zero padding: F(2x2, 3x3) tiles, for small
 *                  deep planes (fwd, bwd_data).
 *   reference      float64 loop nest; never chosen unless forced.
 *   reduce         bwd_bias only: the bias gradient. */
extern const cpu_algo cpu_algo_direct;
extern const cpu_algo cpu_algo_direct_dw;
extern const cpu_algo cpu_algo_direct_vec;
extern const cpu_algo cpu_algo_gemm_1x1;
extern const cpu_algo cpu_algo_im2col_gemm;
extern const cpu_algo cpu_algo_winograd_f4x4;
extern const cpu_algo cpu_algo_winograd_f2x2;
extern const cpu_algo cpu_algo_reference;
extern const cpu_algo cpu_algo_reduce;

/* ------------------------------------------------------------- registry */

/* The table of an op: NULL-terminated, in preference order for ties. */
const cpu_algo *const *cpu_algos_for(conv_op op);

/* Short op names used by CONV_ALGO: "fwd", "bwd_data", "bwd_weight",
 * "bwd_bias". */
const char *cpu_op_name(conv_op op);

/* Chooses one algorithm per op (chosen[op]) for p, honouring the CONV_ALGO
 * string algo (NULL or "" or "auto": heuristic for all):
 *   "NAME"                 forces NAME on every op whose table has NAME;
 *                          NAME must exist in at least one table;
 *   "fwd=A,bwd_data=B,..." forces per op (keys fwd, bwd_data, bwd_weight,
 *                          bwd_bias; "auto" as a value is the heuristic).
 * Errors: unknown name or key -> CONV_ERROR_INVALID_ARGUMENT with a message
 * listing the known ones; a forced algorithm that does not apply ->
 * CONV_ERROR_UNSUPPORTED naming algorithm, op and reason. */
conv_status cpu_choose_algos(const conv_problem *p, const char *algo,
                             const cpu_algo *chosen[CPU_NUM_OPS],
                             int forced[CPU_NUM_OPS], conv_err *err);

/* The heuristic's choice for op among the algorithms whose workspace with
 * `threads` is at most budget bytes (highest score first, as pick does);
 * NULL when none applies within it. */
const cpu_algo *cpu_pick_within(const conv_problem *p, conv_op op, int threads,
                                size_t budget);

/* ------------------------------------------------------------- helpers */

/* Threads this process may use (sched_getaffinity), >= 1. */
int cpu_available_threads(void);

/* The most workspace the heuristic may choose: half the physical memory
 * (SIZE_MAX where unknown). */
size_t cpu_workspace_budget(void);

/* The calling thread's index inside the current OpenMP team (0 outside one,
 * or without OpenMP): the workspace slice it may use. */
#ifdef _OPENMP
#  include <omp.h>
static inline int cpu_thread_id(void) { return omp_get_thread_num(); }
#else
static inline int cpu_thread_id(void) { return 0; }
#endif

/* Rounds n up to a multiple of CPU_ALIGN; SIZE_MAX stays SIZE_MAX. */
size_t cpu_align_up(size_t n);
/* a * b, or SIZE_MAX on overflow (SIZE_MAX operands propagate). */
size_t cpu_mul_size(size_t a, size_t b);
size_t cpu_add_size(size_t a, size_t b);
/* The slice of thread t when each thread owns slice_bytes (aligned up). */
static inline void *cpu_ws_slice(const cpu_run *r, size_t slice_bytes, int t) {
  return (char *)r->ws + cpu_align_up(slice_bytes) * (size_t)t;
}

/* Single-threaded row-major sgemm, C = alpha * op(A) * op(B) + beta * C,
 * through the cblas_sgemm of the BLAS the backend is linked with. */
void cpu_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
               float alpha, const float *a, int64_t lda, const float *b,
               int64_t ldb, float beta, float *c, int64_t ldc);

/* cpu_sgemm's contract (m, n, k >= 1) through the linked BLAS's
 * cblas_sgemm. */
void cpu_blas_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                    float alpha, const float *a, int64_t lda, const float *b,
                    int64_t ldb, float beta, float *c, int64_t ldc);

/* Makes the BLAS single-threaded (BLIS: bli_thread_set_num_threads(1);
 * OpenBLAS: openblas_set_num_threads(1)); called once at backend init. */
void cpu_blas_single_thread(void);

/* cpu_epilogue.c: y[i] = act(y[i] + bias) over count elements; the
 * activation of a fused forward over the whole output; the ABI 1.2 per-channel
 * entries. */
void cpu_activate(float *restrict y, int64_t count, float bias,
                  conv_activation act, float alpha);
void cpu_activate_output(const conv_problem *p, float *y, int threads);
/* The epilogue of a forward tile: act over rows x cols floats, rows
 * row_stride apart, columns col_stride apart; nothing without an
 * activation. */
void cpu_activate_tile(const conv_problem *p, float *y, int64_t rows,
                       int64_t row_stride, int64_t cols, int64_t col_stride);
/* The same with the activation and a bias given. */
void cpu_act_tile(conv_activation act, float alpha, float bias, float *y,
                  int64_t rows, int64_t row_stride, int64_t cols,
                  int64_t col_stride);
/* The dx epilogue of a backward-data tile of dx channel c (see cpu_run). */
void cpu_dx_epilogue_tile(const struct cpu_run *r, const float *b, int64_t c,
                          float *dx, int64_t rows, int64_t row_stride,
                          int64_t cols, int64_t col_stride);
void cpu_bias_activation_run(float *y, const float *b, int64_t n, int64_t c,
                             int64_t hw, conv_activation act, float alpha,
                             int threads);
void cpu_channel_sum_run(const float *y, float *sum, int64_t n, int64_t c,
                         int64_t hw, int threads);

#endif /* CONV_CPU_INTERNAL_H */
