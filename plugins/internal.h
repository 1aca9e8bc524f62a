/* SPDX-License-Identifier: Apache-2.0 */
/* Internal declarations of libconv's front end. Not installed. */
#ifndef CONV_INTERNAL_H
#define CONV_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>

#include "conv.h"
#include "conv_plugin.h"

#define CONV_INTERNAL __attribute__((visibility("hidden")))

/* ------------------------------------------------------------- errors */

/* Message of the last failure without a context, per thread. */
CONV_INTERNAL conv_status conv_fail_thread(conv_status status, const char *fmt,
                                           ...)
    __attribute__((format(printf, 2, 3)));
CONV_INTERNAL void conv_clear_thread_error(void);

/* ------------------------------------------------------------- loader */

/* One plugin that was found: loaded and initialised, or skipped. */
typedef struct conv_backend {
  char name[64];
  char *path;          /* malloc'd, the real path */
  void *handle;        /* dlopen handle, NULL if skipped before dlopen */
  conv_plugin table;   /* the host's zeroed copy */
  void *state;         /* from table.init */
  int usable;
  char reason[512];    /* why skipped */
  /* What init returned when it failed (else CONV_SUCCESS). Invalid
   * argument means a bad setting of the user's (an environment variable
   * the backend reads): choosing that backend, by name or by default, is
   * then that error, never a silent fall back to another backend. */
  conv_status init_status;
  int refcount;        /* contexts using it */
} conv_backend;

/* The longest backend spec (a name, a path or a comma-separated list of
 * them) accepted; a longer one is rejected, never cut. */
#define CONV_BACKEND_SPEC_MAX 4095

/* Opens the backend named by spec (a name, or a path with a '/'); on success
 * *out is a usable backend with one more reference. On failure returns a
 * status and writes the reason to msg. */
CONV_INTERNAL conv_status conv_backend_acquire(const char *spec,
                                               conv_backend **out, char *msg,
                                               size_t msglen);
CONV_INTERNAL void conv_backend_release(conv_backend *backend);

/* Validates a plugin table (exposed for the loader's own use and tests via
 * the public listing). */
CONV_INTERNAL int conv_plugin_table_check(const conv_plugin *src,
                                          conv_plugin *dst, char *why,
                                          size_t whylen);

/* secure_getenv where available (conv_env_raw of conv_env.h). */
CONV_INTERNAL const char *conv_getenv(const char *name);

/* ------------------------------------------------------------- env.c */

/* The longest $CONV_ALGO accepted. */
#define CONV_ALGO_MAX_LEN 255

/* Rewrites a $CONV_ALGO value in the one form every backend reads: trimmed,
 * lower case, either one algorithm name or "op=name[,op=name]" with the ops
 * in the order fwd, bwd_data, bwd_weight, bwd_bias, each at most once, and
 * "auto" or empty choices left out. out is "" when nothing is forced.
 * Unknown op keys and malformed items are CONV_ERROR_INVALID_ARGUMENT;
 * algorithm names are the backend's to accept or reject. */
CONV_INTERNAL conv_status conv_algo_canonical(const char *spec, char *out,
                                              size_t outlen, conv_err *err);

/* Fills options from $CONV_NUM_THREADS and (with_algo) $CONV_ALGO, whose
 * canonical form is written to algo (algolen bytes, at least
 * CONV_ALGO_MAX_LEN + 1 + 40). Bad values: CONV_ERROR_INVALID_ARGUMENT. */
CONV_INTERNAL conv_status conv_env_plan_options(conv_plan_options *options,
                                                char *algo, size_t algolen,
                                                int with_algo, conv_err *err);

/* ------------------------------------------------------------- descriptor */

/* Checks desc and fills the resolved problem. On failure writes msg. */
CONV_INTERNAL conv_status conv_desc_resolve(const conv_desc *desc,
                                            conv_problem *problem, char *msg,
                                            size_t msglen);

/* Checks a transposed-convolution descriptor and fills the descriptor of
 * the matching conv2d (whose backward-data is its forward) and the output
 * size. ext (may be NULL) gets the rows and columns the matching conv2d's
 * output has beyond the transposed input's H and W: nonzero only when
 * output_padding - end pad >= stride (rows past the last tap), where the
 * plan zero-extends the input and crops the input gradient. On failure
 * writes msg. */
CONV_INTERNAL conv_status conv_transpose_resolve(const conv_transpose_desc *d,
                                                 conv_desc *inner,
                                                 int64_t *h_out, int64_t *w_out,
                                                 int64_t ext[2], char *msg,
                                                 size_t msglen);

/* Checks an activation and its alpha. */
CONV_INTERNAL conv_status conv_activation_check(conv_activation act,
                                                float alpha, char *msg,
                                                size_t msglen);
CONV_INTERNAL const char *conv_activation_name(conv_activation act);

/* Checks a pooling descriptor and fills the resolved problem. */
CONV_INTERNAL conv_status conv_pool_resolve(const conv_pool_desc *desc,
                                            conv_pool_problem *problem,
                                            char *msg, size_t msglen);

/* Element counts of the tensors of a resolved problem. */
typedef struct conv_sizes {
  size_t x, w, b, y;
} conv_sizes;
CONV_INTERNAL void conv_problem_sizes(const conv_problem *p, conv_sizes *s);

/* ------------------------------------------------------------- objects */

struct conv_context {
  conv_backend *backend;
  void *device;
  int device_index;
  char device_name[256];
  char backend_label[160];  /* "cpu 0.1.0" */
  pthread_mutex_t lock;      /* guards message */
  char message[1024];        /* the latest failure of any thread */
  uint64_t id;               /* unique for the process: keys each thread's
                                own message (error.c) */
};

struct conv_plan {
  conv_context *ctx;
  void *impl;
  conv_desc desc;
  conv_problem problem;  /* what the backend runs (the matching conv2d) */
  conv_sizes sizes;      /* element counts of the user's x, w, b, y */
  /* A transposed convolution runs its ops as the matching conv2d's; its bias
   * and activation are then passes of bias_activation / channel_sum. */
  int transposed;
  int has_bias;          /* the user's: problem.has_bias is 0 when transposed */
  int64_t h_out, w_out;  /* the user's output size */
  conv_activation activation;
  float activation_alpha;
  /* Transposed with rows past the last tap (conv_transpose_resolve's ext):
   * the matching conv2d's output is the user's x grown by ext_h rows and
   * ext_w columns. stage holds one such tensor (a backend buffer); on a
   * backend without host memory, host_small (the user's x size) and
   * host_big (stage's size) carry the copies through the host. */
  int64_t ext_h, ext_w;
  void *stage;
  float *host_small, *host_big;
  size_t stage_count;
};

struct conv_tensor {
  conv_context *ctx;
  void *mem;
  size_t count;
};

/* A new context id (never 0, never reused). */
CONV_INTERNAL uint64_t conv_context_new_id(void);

/* Records a failure on ctx (thread-safe) and returns status: the calling
 * thread's own message for ctx, and ctx's latest message. */
CONV_INTERNAL conv_status conv_fail(conv_context *ctx, conv_status status,
                                    const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* CONV_INTERNAL_H */
