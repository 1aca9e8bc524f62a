/* SPDX-License-Identifier: Apache-2.0 */
/* The backend-neutral front: contexts, plans, tensors and the run calls.
 * Arguments are checked here, once, before any backend sees them. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "conv_env.h"
#include "internal.h"

/* ---------------------------------------------------------------- helpers */

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int verbose(void) {
  const char *v = conv_getenv("CONV_VERBOSE");
  return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

static const char *op_name(conv_op op) {
  switch (op) {
    case CONV_OP_FORWARD: return "forward";
    case CONV_OP_BACKWARD_DATA: return "backward_data";
    case CONV_OP_BACKWARD_WEIGHT: return "backward_weight";
    case CONV_OP_BACKWARD_BIAS: return "backward_bias";
  }
  return "?";
}

static const char *mode_name(conv_padding_mode m) {
  static const char *const names[] = {"zeros", "reflect", "replicate",
                                      "circular", "symmetric"};
  return (unsigned)m <= CONV_PAD_SYMMETRIC ? names[m] : "?";
}

/* A benchdnn-like one-line description of a problem. */
static void problem_string(const conv_problem *p, char *buf, size_t len) {
  snprintf(buf, len,
           "mb%lldic%lldih%lldiw%lldoc%lldoh%lldow%lldkh%lldkw%lldsh%lldsw%lld"
           "pt%lldpb%lldpl%lldpr%llddh%llddw%lldg%lld mode=%s bias=%d flip=%d",
           (long long)p->n, (long long)p->c_in, (long long)p->h, (long long)p->w,
           (long long)p->c_out, (long long)p->h_out, (long long)p->w_out,
           (long long)p->kh, (long long)p->kw, (long long)p->stride_h,
           (long long)p->stride_w, (long long)p->pad_t, (long long)p->pad_b,
           (long long)p->pad_l, (long long)p->pad_r, (long long)p->dil_h,
           (long long)p->dil_w, (long long)p->groups, mode_name(p->padding_mode),
           p->has_bias, p->flip_kernel);
}

/* CONV_VERBOSE: one line per call, like ONEDNN_VERBOSE. */
static void log_call(const conv_plan *plan, const char *what, const char *algo,
                     double ms, conv_status st) {
  char desc[512];
  problem_string(&plan->problem, desc, sizeof desc);
  fprintf(stderr, "conv_verbose,%s,%s,%s,%s,%s,%.4f ms,%s\n",
          plan->ctx->backend->name, plan->ctx->device_name, what, algo, desc, ms,
          conv_status_string(st));
}

/* --------------------------------------------------------------- context */

/* Picks the device index from spec: a number or a name substring. */
static conv_status pick_device(conv_backend *be, const char *spec, int *index,
                               char *msg, size_t msglen) {
  int count = be->table.device_count(be->state);
  if (count <= 0) {
    snprintf(msg, msglen, "backend '%s' has no devices", be->name);
    return CONV_ERROR_DEVICE_NOT_FOUND;
  }
  if (spec == NULL || spec[0] == '\0') {
    *index = 0; /* prefer a GPU when one exists */
    for (int i = 0; i < count; i++) {
      conv_device_info info;
      conv_err err;
      memset(&info, 0, sizeof info);
      if (be->table.device_info(be->state, i, &info, &err) == CONV_SUCCESS &&
          info.is_gpu) {
        *index = i;
        break;
      }
    }
    return CONV_SUCCESS;
  }
  char *end = NULL;
  errno = 0;
  long v = strtol(spec, &end, 10);
  if (end != spec && *end == '\0' && errno == 0) {
    if (v < 0 || v >= count) {
      snprintf(msg, msglen, "device=%s out of range: backend '%s' has %d device%s",
               spec, be->name, count, count == 1 ? "" : "s");
      return CONV_ERROR_DEVICE_NOT_FOUND;
    }
    *index = (int)v;
    return CONV_SUCCESS;
  }
  int off = snprintf(msg, msglen, "no device of backend '%s' matches '%s'; devices:",
                     be->name, spec);
  for (int i = 0; i < count; i++) {
    conv_device_info info;
    conv_err err;
    memset(&info, 0, sizeof info);
    if (be->table.device_info(be->state, i, &info, &err) != CONV_SUCCESS) continue;
    /* Case-insensitive substring match. */
    size_t nl = strlen(spec);
    for (const char *s = info.name; *s; s++) {
      if (strncasecmp(s, spec, nl) == 0) {
        *index = i;
        return CONV_SUCCESS;
      }
    }
    if (off > 0 && (size_t)off < msglen)
      off += snprintf(msg + off, msglen - (size_t)off, " [%d] %s", i, info.name);
  }
  return CONV_ERROR_DEVICE_NOT_FOUND;
}

CONV_API conv_status conv_context_create(conv_context **out,
                                         const char *backend,
                                         const char *device) {
  if (out == NULL)
    return conv_fail_thread(CONV_ERROR_INVALID_ARGUMENT, "ctx is NULL");
  *out = NULL;
  /* The variables are trimmed and length-checked like every other one. */
  char backend_env[CONV_BACKEND_SPEC_MAX + 1], device_env[256];
  conv_err env_err;
  memset(&env_err, 0, sizeof env_err);
  if (backend == NULL) {
    if (conv_env_string("CONV_BACKEND", backend_env, sizeof backend_env,
                        &env_err) != CONV_SUCCESS)
      return conv_fail_thread(CONV_ERROR_INVALID_ARGUMENT, "%s", env_err.msg);
    backend = backend_env;
  }
  if (device == NULL) {
    if (conv_env_string("CONV_DEVICE", device_env, sizeof device_env,
                        &env_err) != CONV_SUCCESS)
      return conv_fail_thread(CONV_ERROR_INVALID_ARGUMENT, "%s", env_err.msg);
    device = device_env;
  }

  char msg[2048];
  conv_backend *be = NULL;
  conv_status st = conv_backend_acquire(backend, &be, msg, sizeof msg);
  if (st != CONV_SUCCESS) return conv_fail_thread(st, "%s", msg);

  int index = 0;
  st = pick_device(be, device, &index, msg, sizeof msg);
  if (st != CONV_SUCCESS) {
    conv_backend_release(be);
    return conv_fail_thread(st, "%s", msg);
  }
  conv_context *ctx = calloc(1, sizeof *ctx);
  if (ctx == NULL) {
    conv_backend_release(be);
    return conv_fail_thread(CONV_ERROR_OUT_OF_MEMORY, "context: out of memory");
  }
  pthread_mutex_init(&ctx->lock, NULL);
  ctx->id = conv_context_new_id();
  ctx->backend = be;
  ctx->device_index = index;
  conv_device_info info;
  conv_err err;
  memset(&info, 0, sizeof info);
  memset(&err, 0, sizeof err);
  if (be->table.device_info(be->state, index, &info, &err) == CONV_SUCCESS)
    snprintf(ctx->device_name, sizeof ctx->device_name, "%s", info.name);
  else
    snprintf(ctx->device_name, sizeof ctx->device_name, "device %d", index);
  snprintf(ctx->backend_label, sizeof ctx->backend_label, "%s %s", be->name,
           be->table.version);
  memset(&err, 0, sizeof err);
  st = be->table.device_open(be->state, index, &ctx->device, &err);
  if (st != CONV_SUCCESS) {
    conv_fail_thread(st, "%s: opening device %d (%s): %s", be->name, index,
                     ctx->device_name, err.msg);
    pthread_mutex_destroy(&ctx->lock);
    free(ctx);
    conv_backend_release(be);
    return st;
  }
  *out = ctx;
  return CONV_SUCCESS;
}

CONV_API void conv_context_destroy(conv_context *ctx) {
  if (ctx == NULL) return;
  ctx->backend->table.device_close(ctx->device);
  conv_backend_release(ctx->backend);
  pthread_mutex_destroy(&ctx->lock);
  free(ctx);
}

CONV_API const char *conv_context_backend(const conv_context *ctx) {
  return ctx != NULL ? ctx->backend_label : "";
}

CONV_API const char *conv_context_device(const conv_context *ctx) {
  return ctx != NULL ? ctx->device_name : "";
}

CONV_API conv_status conv_device_list(const char *backend,
                                      conv_device_info *infos, size_t capacity,
                                      size_t *count) {
  if (count == NULL)
    return conv_fail_thread(CONV_ERROR_INVALID_ARGUMENT, "count is NULL");
  if (infos == NULL && capacity > 0)
    return conv_fail_thread(CONV_ERROR_INVALID_ARGUMENT,
                            "infos is NULL with capacity=%zu", capacity);
  char msg[2048];
  conv_backend *be = NULL;
  conv_status st = conv_backend_acquire(backend, &be, msg, sizeof msg);
  if (st != CONV_SUCCESS) return conv_fail_thread(st, "%s", msg);
  int n = be->table.device_count(be->state);
  if (n < 0) n = 0;
  for (int i = 0; i < n && (size_t)i < capacity; i++) {
    conv_err err;
    memset(&infos[i], 0, sizeof infos[i]);
    memset(&err, 0, sizeof err);
    if (be->table.device_info(be->state, i, &infos[i], &err) != CONV_SUCCESS)
      snprintf(infos[i].name, sizeof infos[i].name, "device %d: %s", i, err.msg);
  }
  *count = (size_t)n;
  conv_backend_release(be);
  return CONV_SUCCESS;
}

/* ------------------------------------------------------------------ plan */

/* Allocates the staging buffers of a transposed plan whose matching
 * conv2d's output is larger than the user's x (plan->ext_h/ext_w). */
static conv_status stage_alloc(conv_plan *plan, conv_err *err) {
  const conv_plugin *t = &plan->ctx->backend->table;
  const conv_problem *p = &plan->problem;
  /* conv_desc_resolve checked that this count fits (the conv2d's y). */
  plan->stage_count = (size_t)(p->n * p->c_out * p->h_out * p->w_out);
  conv_status st = t->mem_alloc(plan->ctx->device,
                                plan->stage_count * sizeof(float),
                                &plan->stage, err);
  if (st != CONV_SUCCESS) {
    plan->stage = NULL;
    return st;
  }
  if ((t->flags & CONV_PLUGIN_HOST_MEMORY) == 0) {
    plan->host_small = malloc(plan->sizes.x * sizeof(float));
    plan->host_big = malloc(plan->stage_count * sizeof(float));
    if (plan->host_small == NULL || plan->host_big == NULL)
      return conv_err_set(err, CONV_ERROR_OUT_OF_MEMORY,
                          "staging of %zu floats for output_padding past the "
                          "last tap: out of memory",
                          plan->stage_count);
  }
  return CONV_SUCCESS;
}

static void stage_free(conv_plan *plan) {
  if (plan->stage != NULL)
    plan->ctx->backend->table.mem_free(plan->ctx->device, plan->stage);
  free(plan->host_small);
  free(plan->host_big);
  plan->stage = NULL;
  plan->host_small = plan->host_big = NULL;
}

/* The common path of the plan constructors. desc is the conv2d the backend
 * runs; tdesc, if not NULL, the transposed convolution the user asked for
 * (desc is then its matching conv2d, whose output is tdesc's input grown by
 * ext[0] rows and ext[1] columns). */
static conv_status plan_make(conv_context *ctx, const conv_desc *desc,
                             const conv_transpose_desc *tdesc, int64_t t_h_out,
                             int64_t t_w_out, const int64_t *ext,
                             conv_activation act, float alpha,
                             conv_plan **out) {
  double t0 = now_ms();
  char msg[1024];
  const conv_plugin *t = &ctx->backend->table;
  conv_status st = conv_activation_check(act, alpha, msg, sizeof msg);
  if (st != CONV_SUCCESS) return conv_fail(ctx, st, "%s", msg);
  conv_plan *plan = calloc(1, sizeof *plan);
  if (plan == NULL)
    return conv_fail(ctx, CONV_ERROR_OUT_OF_MEMORY, "plan: out of memory");
  st = conv_desc_resolve(desc, &plan->problem, msg, sizeof msg);
  if (st != CONV_SUCCESS) {
    free(plan);
    return conv_fail(ctx, st, "%s", msg);
  }
  plan->ctx = ctx;
  plan->desc = *desc;
  plan->activation = act;
  plan->activation_alpha = alpha;
  if (tdesc != NULL) {
    const conv_problem *p = &plan->problem;
    if (p->h_out != tdesc->h + ext[0] || p->w_out != tdesc->w + ext[1]) {
      st = conv_fail(ctx, CONV_ERROR_INTERNAL,
                     "transposed convolution: the matching conv2d gives "
                     "%lldx%lld, not %lldx%lld grown by %lldx%lld",
                     (long long)p->h_out, (long long)p->w_out,
                     (long long)tdesc->h, (long long)tdesc->w,
                     (long long)ext[0], (long long)ext[1]);
      free(plan);
      return st;
    }
    plan->transposed = 1;
    plan->has_bias = tdesc->has_bias;
    plan->h_out = t_h_out;
    plan->w_out = t_w_out;
    plan->ext_h = ext[0];
    plan->ext_w = ext[1];
    /* The user's tensors: x is the conv2d's y (less the grown rows), y its
     * x. Both counts were checked not to overflow (the grown one is the
     * larger). */
    conv_problem_sizes(p, &plan->sizes);
    size_t y = plan->sizes.x;
    plan->sizes.x = (size_t)(tdesc->n * tdesc->c_in * tdesc->h * tdesc->w);
    plan->sizes.y = y;
    plan->sizes.b = (size_t)tdesc->c_out;
    if ((tdesc->has_bias || act != CONV_ACT_NONE) && p->n > 0 &&
        t->bias_activation == NULL) {
      free(plan);
      return conv_fail(ctx, CONV_ERROR_UNSUPPORTED,
                       "backend '%s' (plugin ABI 1.%u) has no bias_activation "
                       "entry: a transposed convolution with %s needs ABI 1.2",
                       ctx->backend->name, (unsigned)t->abi_minor,
                       tdesc->has_bias ? "has_bias=1" : "an activation");
    }
  } else {
    plan->has_bias = desc->has_bias;
    plan->h_out = plan->problem.h_out;
    plan->w_out = plan->problem.w_out;
    conv_problem_sizes(&plan->problem, &plan->sizes);
    if (act != CONV_ACT_NONE) {
      if (t->abi_minor < 2) {
        free(plan);
        return conv_fail(ctx, CONV_ERROR_UNSUPPORTED,
                         "backend '%s' (plugin ABI 1.%u) has no fused "
                         "activation: activation=%s needs ABI 1.2",
                         ctx->backend->name, (unsigned)t->abi_minor,
                         conv_activation_name(act));
      }
      plan->problem.activation = act;
      plan->problem.activation_alpha = alpha;
    }
  }

  conv_plan_options options;
  char algo[2 * CONV_ALGO_MAX_LEN];
  {
    conv_err err;
    memset(&err, 0, sizeof err);
    st = conv_env_plan_options(&options, algo, sizeof algo, 1, &err);
    if (st != CONV_SUCCESS) {
      free(plan);
      return conv_fail(ctx, st, "%s", err.msg);
    }
  }

  /* An empty batch needs no backend plan: the front end writes the zero
   * gradients itself. */
  if (plan->problem.n > 0) {
    conv_err err;
    memset(&err, 0, sizeof err);
    st = t->plan_create(ctx->device, &plan->problem, &options, &plan->impl, &err);
    if (st != CONV_SUCCESS) {
      free(plan);
      return conv_fail(ctx, st, "%s: plan_create%s: %s", ctx->backend->name,
                       tdesc != NULL ? " (transposed convolution)" : "",
                       err.msg[0] ? err.msg : conv_status_string(st));
    }
    if (plan->ext_h > 0 || plan->ext_w > 0) {
      st = stage_alloc(plan, &err);
      if (st != CONV_SUCCESS) {
        stage_free(plan);
        t->plan_destroy(plan->impl);
        free(plan);
        return conv_fail(ctx, st, "%s: transposed convolution: %s",
                         ctx->backend->name,
                         err.msg[0] ? err.msg : conv_status_string(st));
      }
    }
  }
  if (verbose()) {
    char algos[256];
    snprintf(algos, sizeof algos, "fwd=%s;bwd_data=%s;bwd_weight=%s%s%s",
             conv_plan_algorithm(plan, CONV_OP_FORWARD),
             conv_plan_algorithm(plan, CONV_OP_BACKWARD_DATA),
             conv_plan_algorithm(plan, CONV_OP_BACKWARD_WEIGHT),
             act != CONV_ACT_NONE ? ";act=" : "",
             act != CONV_ACT_NONE ? conv_activation_name(act) : "");
    log_call(plan, tdesc != NULL ? "transpose_plan_create" : "plan_create",
             algos, now_ms() - t0, CONV_SUCCESS);
  }
  *out = plan;
  return CONV_SUCCESS;
}

CONV_API conv_status conv_plan_create_fused(conv_context *ctx,
                                            const conv_desc *desc,
                                            conv_activation activation,
                                            float alpha, conv_plan **out) {
  if (ctx == NULL)
    return conv_fail_thread(CONV_ERROR_INVALID_ARGUMENT, "ctx is NULL");
  if (out == NULL) return conv_fail(ctx, CONV_ERROR_INVALID_ARGUMENT, "plan is NULL");
  *out = NULL;
  if (desc == NULL) return conv_fail(ctx, CONV_ERROR_INVALID_ARGUMENT, "desc is NULL");
  return plan_make(ctx, desc, NULL, 0, 0, NULL, activation, alpha, out);
}

CONV_API conv_status conv_plan_create(conv_context *ctx, const conv_desc *desc,
                                      conv_plan **out) {
  return conv_plan_create_fused(ctx, desc, CONV_ACT_NONE, 0.0f, out);
}

CONV_API conv_status conv_transpose_plan_create(conv_context *ctx,
                                                const conv_transpose_desc *desc,
                                                conv_activation activation,
                                                float alpha, conv_plan **out) {
  if (ctx == NULL)
    return conv_fail_thread(CONV_ERROR_INVALID_ARGUMENT, "ctx is NULL");
  if (out == NULL) return conv_fail(ctx, CONV_ERROR_INVALID_ARGUMENT, "plan is NULL");
  *out = NULL;
  if (desc == NULL) return conv_fail(ctx, CONV_ERROR_INVALID_ARGUMENT, "desc is NULL");
  conv_desc inner;
  int64_t h_out = 0, w_out = 0, ext[2] = {0, 0};
  char msg[1024];
  conv_status st = conv_transpose_resolve(desc, &inner, &h_out, &w_out, ext,
                                          msg, sizeof msg);
  if (st != CONV_SUCCESS) return conv_fail(ctx, st, "%s", msg);
  return plan_make(ctx, &inner, desc, h_out, w_out, ext, activation, alpha,
                   out);
}

CONV_API conv_activation conv_plan_activation(const conv_plan *plan) {
  return plan != NULL ? plan->activation : CONV_ACT_NONE;
}

CONV_API void conv_plan_destroy(conv_plan *plan) {
  if (plan == NULL) return;
  stage_free(plan);
  if (plan->impl != NULL) plan->ctx->backend->table.plan_destroy(plan->impl);
  free(plan);
}

CONV_API const char *conv_plan_algorithm(const conv_plan *plan, conv_op op) {
  if (plan == NULL) return "";
  if ((unsigned)op > CONV_OP_BACKWARD_BIAS) return "";
  if (plan->impl == NULL) return "empty";
  if (plan->transposed) {
    /* The conv2d op that serves each op of the transposed convolution. */
    static const conv_op inner[] = {CONV_OP_BACKWARD_DATA, CONV_OP_FORWARD,
                                    CONV_OP_BACKWARD_WEIGHT,
                                    CONV_OP_BACKWARD_BIAS};
    if (op == CONV_OP_BACKWARD_BIAS) return "channel_sum";
    op = inner[op];
  }
  const char *name = plan->ctx->backend->table.plan_algorithm(plan->impl, op);
  return name != NULL ? name : "";
}

CONV_API size_t conv_plan_workspace_size(const conv_plan *plan) {
  if (plan == NULL || plan->impl == NULL) return 0;
  size_t bytes = plan->ctx->backend->table.plan_workspace(plan->impl);
  if (plan->stage != NULL) bytes += plan->stage_count * sizeof(float);
  if (plan->host_big != NULL)
    bytes += (plan->stage_count + plan->sizes.x) * sizeof(float);
  return bytes;
}

CONV_API void conv_plan_output_size(const conv_plan *plan, int64_t *h_out,
                                    int64_t *w_out) {
  if (plan == NULL) return;
  if (h_out != NULL) *h_out = plan->h_out;
  if (w_out != NULL) *w_out = plan->w_out;
}

/* ------------------------------------------------------------- run calls */

/* One operand of a run call: either a host pointer or a device tensor. */
typedef struct operand {
  const char *name;
  const void *host;         /* host-pointer call */
  const conv_tensor *tensor; /* tensor call */
  size_t count;             /* elements the shape needs */
  int output;
  int present;              /* given (non-NULL) */
  void *mem;                /* what the backend gets */
  int staged;               /* mem allocated here for a host call */
} operand;

/* The planes of a transposed plan's x (the user's H x W) and of its stage
 * (the matching conv2d's output, grown by ext_h rows and ext_w columns). */
static void stage_shape(const conv_plan *plan, int64_t *planes, int64_t *h,
                        int64_t *w) {
  const conv_problem *p = &plan->problem;
  *planes = p->n * p->c_out;
  *h = p->h_out - plan->ext_h;
  *w = p->w_out - plan->ext_w;
}

/* stage = src (the user's x or a tensor of its shape) with zero rows and
 * columns added at the bottom and right. Every element of stage is
 * written. */
static conv_status stage_grow(conv_plan *plan, const void *src,
                              conv_err *err) {
  const conv_plugin *t = &plan->ctx->backend->table;
  int64_t planes, h, w;
  stage_shape(plan, &planes, &h, &w);
  const int64_t gw = w + plan->ext_w, gh = h + plan->ext_h;
  const float *in = src;
  float *outp = plan->stage;
  if (plan->host_big != NULL) { /* a device backend: through the host */
    conv_status st = t->mem_read(plan->ctx->device, src, 0,
                                 plan->sizes.x * sizeof(float),
                                 plan->host_small, err);
    if (st != CONV_SUCCESS) return st;
    in = plan->host_small;
    outp = plan->host_big;
  }
  for (int64_t q = 0; q < planes; q++) {
    const float *ip = in + q * h * w;
    float *op = outp + q * gh * gw;
    for (int64_t i = 0; i < h; i++) {
      memcpy(op + i * gw, ip + i * w, (size_t)w * sizeof(float));
      memset(op + i * gw + w, 0, (size_t)plan->ext_w * sizeof(float));
    }
    memset(op + h * gw, 0, (size_t)(plan->ext_h * gw) * sizeof(float));
  }
  if (plan->host_big != NULL)
    return t->mem_write(plan->ctx->device, plan->stage, 0,
                        plan->stage_count * sizeof(float), plan->host_big,
                        err);
  return CONV_SUCCESS;
}

/* dst (the user's dx) = stage without its grown rows and columns. */
static conv_status stage_crop(conv_plan *plan, void *dst, conv_err *err) {
  const conv_plugin *t = &plan->ctx->backend->table;
  int64_t planes, h, w;
  stage_shape(plan, &planes, &h, &w);
  const int64_t gw = w + plan->ext_w, gh = h + plan->ext_h;
  const float *in = plan->stage;
  float *outp = dst;
  if (plan->host_big != NULL) {
    conv_status st = t->mem_read(plan->ctx->device, plan->stage, 0,
                                 plan->stage_count * sizeof(float),
                                 plan->host_big, err);
    if (st != CONV_SUCCESS) return st;
    in = plan->host_big;
    outp = plan->host_small;
  }
  for (int64_t q = 0; q < planes; q++)
    for (int64_t i = 0; i < h; i++)
      memcpy(outp + (q * h + i) * w, in + (q * gh + i) * gw,
             (size_t)w * sizeof(float));
  if (plan->host_big != NULL)
    return t->mem_write(plan->ctx->device, dst, 0,
                        plan->sizes.x * sizeof(float), plan->host_small, err);
  return CONV_SUCCESS;
}

/* Runs op on the backend with the operands resolved to backend buffers.
 * ops: x w b y dy dx dw db as the op needs, in a fixed order per op. */
static conv_status dispatch(conv_plan *plan, conv_op op, operand *o,
                            conv_err *err) {
  const conv_plugin *t = &plan->ctx->backend->table;
  if (plan->transposed) {
    /* The matching conv2d has x' = our y, y' = our x, and the same w. With
     * rows past the last tap, y' is our x grown (stage). */
    const conv_problem *p = &plan->problem;
    const int64_t hw = p->h * p->w;
    const int grown = plan->stage != NULL;
    conv_status st;
    switch (op) {
      case CONV_OP_FORWARD: {
        const void *x = o[0].mem;
        if (grown) {
          st = stage_grow(plan, x, err);
          if (st != CONV_SUCCESS) return st;
          x = plan->stage;
        }
        if ((o[2].mem != NULL || plan->activation) &&
            t->backward_data_bias_activation != NULL)
          return t->backward_data_bias_activation(
              plan->impl, x, o[1].mem, o[2].mem, o[3].mem,
              plan->activation, plan->activation_alpha, err);
        st = t->backward_data(plan->impl, x, o[1].mem, o[3].mem, err);
        if (st == CONV_SUCCESS && (o[2].mem != NULL || plan->activation))
          st = t->bias_activation(plan->impl, o[3].mem, o[2].mem, p->n,
                                  p->c_in, hw, plan->activation,
                                  plan->activation_alpha, err);
        return st;
      }
      case CONV_OP_BACKWARD_DATA:
        if (!grown)
          return t->forward(plan->impl, o[0].mem, o[1].mem, NULL, o[2].mem,
                            err);
        st = t->forward(plan->impl, o[0].mem, o[1].mem, NULL, plan->stage, err);
        if (st == CONV_SUCCESS) st = stage_crop(plan, o[2].mem, err);
        return st;
      case CONV_OP_BACKWARD_WEIGHT:
        if (grown) {
          st = stage_grow(plan, o[0].mem, err);
          if (st != CONV_SUCCESS) return st;
        }
        st = t->backward_weight(plan->impl, o[1].mem,
                                grown ? plan->stage : o[0].mem, o[2].mem, NULL,
                                err);
        if (st == CONV_SUCCESS && o[3].mem != NULL)
          st = t->channel_sum(plan->impl, o[1].mem, o[3].mem, p->n,
                              p->c_in, hw, err);
        return st;
      case CONV_OP_BACKWARD_BIAS:
        return t->channel_sum(plan->impl, o[0].mem, o[1].mem, p->n,
                              p->c_in, hw, err);
    }
    return conv_err_set(err, CONV_ERROR_INTERNAL, "bad op %d", (int)op);
  }
  switch (op) {
    case CONV_OP_FORWARD:
      return t->forward(plan->impl, o[0].mem, o[1].mem, o[2].mem, o[3].mem, err);
    case CONV_OP_BACKWARD_DATA:
      return t->backward_data(plan->impl, o[0].mem, o[1].mem, o[2].mem, err);
    case CONV_OP_BACKWARD_WEIGHT:
      return t->backward_weight(plan->impl, o[0].mem, o[1].mem, o[2].mem,
                                o[3].mem, err);
    case CONV_OP_BACKWARD_BIAS:
      return t->backward_bias(plan->impl, o[0].mem, o[1].mem, err);
  }
  return conv_err_set(err, CONV_ERROR_INTERNAL, "bad op %d", (int)op);
}

static const float zeros_block[1024];

/* Writes zeros into an output operand (empty batch gradients). */
static conv_status write_zeros(conv_plan *plan, operand *o, conv_err *err) {
  if (!o->present || o->count == 0) return CONV_SUCCESS;
  if (o->tensor == NULL) {
    memset((void *)o->host, 0, o->count * sizeof(float));
    return CONV_SUCCESS;
  }
  const conv_plugin *t = &plan->ctx->backend->table;
  for (size_t off = 0; off < o->count; off += 1024) {
    size_t n = o->count - off < 1024 ? o->count - off : 1024;
    conv_status st = t->mem_write(plan->ctx->device, o->tensor->mem,
                                  off * sizeof(float), n * sizeof(float),
                                  zeros_block, err);
    if (st != CONV_SUCCESS) return st;
  }
  return CONV_SUCCESS;
}

/* The common path of every run call: checks, staging, dispatch, logging. */
static conv_status run(conv_plan *plan, conv_op op, operand *o, int count,
                       int tensors) {
  if (plan == NULL)
    return conv_fail_thread(CONV_ERROR_INVALID_ARGUMENT, "plan is NULL");
  conv_context *ctx = plan->ctx;
  const conv_plugin *t = &ctx->backend->table;
  const int has_bias = plan->has_bias;

  /* Check everything before anything is written. */
  for (int i = 0; i < count; i++) {
    int is_bias = strcmp(o[i].name, "b") == 0 || strcmp(o[i].name, "db") == 0;
    o[i].present = tensors ? o[i].tensor != NULL : o[i].host != NULL;
    if (is_bias) {
      if (o[i].present && !has_bias)
        return conv_fail(ctx, CONV_ERROR_INVALID_ARGUMENT,
                         "%s: %s given but the descriptor has has_bias=0",
                         op_name(op), o[i].name);
      /* forward needs b with a bias; backward_weight's db is optional;
       * backward_bias needs db and a bias. */
      if (!o[i].present && has_bias &&
          (op == CONV_OP_FORWARD || op == CONV_OP_BACKWARD_BIAS))
        return conv_fail(ctx, CONV_ERROR_INVALID_ARGUMENT,
                         "%s: %s is NULL but the descriptor has has_bias=1",
                         op_name(op), o[i].name);
      if (!o[i].present && op == CONV_OP_BACKWARD_BIAS)
        return conv_fail(ctx, CONV_ERROR_INVALID_ARGUMENT,
                         "%s: the descriptor has has_bias=0", op_name(op));
      if (!o[i].present) continue;
    } else if (!o[i].present) {
      return conv_fail(ctx, CONV_ERROR_INVALID_ARGUMENT, "%s: %s is NULL",
                       op_name(op), o[i].name);
    }
    if (tensors) {
      if (o[i].tensor->ctx != ctx)
        return conv_fail(ctx, CONV_ERROR_INVALID_ARGUMENT,
                         "%s: tensor %s belongs to another context", op_name(op),
                         o[i].name);
      if (o[i].tensor->count < o[i].count)
        return conv_fail(ctx, CONV_ERROR_INVALID_ARGUMENT,
                         "%s: tensor %s holds %zu elements, the shape needs %zu",
                         op_name(op), o[i].name, o[i].tensor->count, o[i].count);
    }
  }

  double t0 = verbose() ? now_ms() : 0.0;
  conv_err err;
  memset(&err, 0, sizeof err);
  conv_status st = CONV_SUCCESS;

  if (plan->impl == NULL) {
    /* Empty batch: x, y, dy, dx are empty; dw and db are zero. */
    for (int i = 0; i < count && st == CONV_SUCCESS; i++)
      if (o[i].output) st = write_zeros(plan, &o[i], &err);
    goto done;
  }

  const int host_memory = (t->flags & CONV_PLUGIN_HOST_MEMORY) != 0;
  for (int i = 0; i < count; i++) {
    if (!o[i].present) { o[i].mem = NULL; continue; }
    if (tensors) { o[i].mem = o[i].tensor->mem; continue; }
    if (host_memory) { o[i].mem = (void *)o[i].host; continue; }
    /* A host call on a device backend: stage through device buffers. */
    size_t bytes = (o[i].count ? o[i].count : 1) * sizeof(float);
    st = t->mem_alloc(ctx->device, bytes, &o[i].mem, &err);
    if (st != CONV_SUCCESS) goto done;
    o[i].staged = 1;
    if (!o[i].output && o[i].count > 0) {
      st = t->mem_write(ctx->device, o[i].mem, 0, o[i].count * sizeof(float),
                        o[i].host, &err);
      if (st != CONV_SUCCESS) goto done;
    }
  }
  st = dispatch(plan, op, o, &err);
  if (st == CONV_SUCCESS && !tensors && !host_memory) {
    for (int i = 0; i < count && st == CONV_SUCCESS; i++)
      if (o[i].output && o[i].present && o[i].count > 0)
        st = t->mem_read(ctx->device, o[i].mem, 0, o[i].count * sizeof(float),
                         (void *)o[i].host, &err);
  }

done:
  for (int i = 0; i < count; i++)
    if (o[i].staged) {
      t->mem_free(ctx->device, o[i].mem);
      o[i].staged = 0;
    }
  if (verbose()) {
    char what[64];
    snprintf(what, sizeof what, "%s%s", op_name(op), tensors ? "(tensors)" : "");
    log_call(plan, what, conv_plan_algorithm(plan, op), now_ms() - t0, st);
  }
  if (st != CONV_SUCCESS)
    return conv_fail(ctx, st, "%s: %s: %s", ctx->backend->name, op_name(op),
                     err.msg[0] ? err.msg : conv_status_string(st));
  return CONV_SUCCESS;
}

#define OPERAND_IN(n, p, c) {n, p, NULL, c, 0, 0, NULL, 0}
#define OPERAND_OUT(n, p, c) {n, p, NULL, c, 1, 0, NULL, 0}
#define TENSOR_IN(n, t, c) {n, NULL, t, c, 0, 0, NULL, 0}
#define TENSOR_OUT(n, t, c) {n, NULL, t, c, 1, 0, NULL, 0}
#define SZ(field) (plan != NULL ? plan->sizes.field : 0)

CONV_API conv_status conv_forward(conv_plan *plan, const float *x,
                                  const float *w, const float *b, float *y) {
  operand o[] = {OPERAND_IN("x", x, SZ(x)), OPERAND_IN("w", w, SZ(w)),
                 OPERAND_IN("b", b, SZ(b)), OPERAND_OUT("y", y, SZ(y))};
  return run(plan, CONV_OP_FORWARD, o, 4, 0);
}

CONV_API conv_status conv_backward_data(conv_plan *plan, const float *dy,
                                        const float *w, float *dx) {
  operand o[] = {OPERAND_IN("dy", dy, SZ(y)), OPERAND_IN("w", w, SZ(w)),
                 OPERAND_OUT("dx", dx, SZ(x))};
  return run(plan, CONV_OP_BACKWARD_DATA, o, 3, 0);
}

CONV_API conv_status conv_backward_weight(conv_plan *plan, const float *x,
                                          const float *dy, float *dw,
                                          float *db) {
  operand o[] = {OPERAND_IN("x", x, SZ(x)), OPERAND_IN("dy", dy, SZ(y)),
                 OPERAND_OUT("dw", dw, SZ(w)), OPERAND_OUT("db", db, SZ(b))};
  return run(plan, CONV_OP_BACKWARD_WEIGHT, o, 4, 0);
}

CONV_API conv_status conv_backward_bias(conv_plan *plan, const float *dy,
                                        float *db) {
  operand o[] = {OPERAND_IN("dy", dy, SZ(y)), OPERAND_OUT("db", db, SZ(b))};
  return run(plan, CONV_OP_BACKWARD_BIAS, o, 2, 0);
}

CONV_API conv_status conv_forward_tensor(conv_plan *plan, const conv_tensor *x,
                                         const conv_tensor *w,
                                         const conv_tensor *b, conv_tensor *y) {
  operand o[] = {TENSOR_IN("x", x, SZ(x)), TENSOR_IN("w", w, SZ(w)),
                 TENSOR_IN("b", b, SZ(b)), TENSOR_OUT("y", y, SZ(y))};
  return run(plan, CONV_OP_FORWARD, o, 4, 1);
}

CONV_API conv_status conv_backward_data_tensor(conv_plan *plan,
                                               const conv_tensor *dy,
                                               const conv_tensor *w,
                                               conv_tensor *dx) {
  operand o[] = {TENSOR_IN("dy", dy, SZ(y)), TENSOR_IN("w", w, SZ(w)),
                 TENSOR_OUT("dx", dx, SZ(x))};
  return run(plan, CONV_OP_BACKWARD_DATA, o, 3, 1);
}

CONV_API conv_status conv_backward_weight_tensor(conv_plan *plan,
                                                 const conv_tensor *x,
                                                 const conv_tensor *dy,
                                                 conv_tensor *dw,
                                                 conv_tensor *db) {
  operand o[] = {TENSOR_IN("x", x, SZ(x)), TENSOR_IN("dy", dy, SZ(y)),
                 TENSOR_OUT("dw", dw, SZ(w)), TENSOR_OUT("db", db, SZ(b))};
  return run(plan, CONV_OP_BACKWARD_WEIGHT, o, 4, 1);
}

CONV_API conv_status conv_backward_bias_tensor(conv_plan *plan,
                                               const conv_tensor *dy,
                                               conv_tensor *db) {
  operand o[] = {TENSOR_IN("dy", dy, SZ(y)), TENSOR_OUT("db", db, SZ(b))};
  return run(plan, CONV_OP_BACKWARD_BIAS, o, 2, 1);
}

/* --------------------------------------------------------------- tensors */

CONV_API conv_status conv_tensor_create(conv_context *ctx, size_t count,
                                        conv_tensor **out) {
  if (ctx == NULL)
    return conv_fail_thread(CONV_ERROR_INVALID_ARGUMENT, "ctx is NULL");
  if (out == NULL)
    return conv_fail(ctx, CONV_ERROR_INVALID_ARGUMENT, "tensor is NULL");
  *out = NULL;
  if (count > SIZE_MAX / sizeof(float) - 1)
    return conv_fail(ctx, CONV_ERROR_SIZE_OVERFLOW,
                     "tensor of count=%zu floats overflows", count);
  conv_tensor *t = calloc(1, sizeof *t);
  if (t == NULL)
    return conv_fail(ctx, CONV_ERROR_OUT_OF_MEMORY, "tensor: out of memory");
  conv_err err;
  memset(&err, 0, sizeof err);
  /* Zero-sized buffers are not portable (OpenCL rejects them). */
  size_t bytes = (count ? count : 1) * sizeof(float);
  conv_status st = ctx->backend->table.mem_alloc(ctx->device, bytes, &t->mem, &err);
  if (st != CONV_SUCCESS) {
    free(t);
    return conv_fail(ctx, st, "%s: tensor of %zu bytes: %s", ctx->backend->name,
                     bytes, err.msg);
  }
  t->ctx = ctx;
  t->count = count;
  *out = t;
  return CONV_SUCCESS;
}

CONV_API void conv_tensor_destroy(conv_tensor *t) {
  if (t == NULL) return;
  t->ctx->backend->table.mem_free(t->ctx->device, t->mem);
  free(t);
}

CONV_API size_t conv_tensor_count(const conv_tensor *t) {
  return t != NULL ? t->count : 0;
}

CONV_API conv_status conv_tensor_upload(conv_tensor *t, const float *src,
                                        size_t count) {
  if (t == NULL)
    return conv_fail_thread(CONV_ERROR_INVALID_ARGUMENT, "tensor is NULL");
  if (src == NULL && count > 0)
    return conv_fail(t->ctx, CONV_ERROR_INVALID_ARGUMENT, "upload: src is NULL");
  if (count != t->count)
    return conv_fail(t->ctx, CONV_ERROR_INVALID_ARGUMENT,
                     "upload: count=%zu but the tensor holds %zu", count, t->count);
  if (count == 0) return CONV_SUCCESS;
  conv_err err;
  memset(&err, 0, sizeof err);
  conv_status st = t->ctx->backend->table.mem_write(
      t->ctx->device, t->mem, 0, count * sizeof(float), src, &err);
  if (st != CONV_SUCCESS)
    return conv_fail(t->ctx, st, "%s: upload: %s", t->ctx->backend->name, err.msg);
  return CONV_SUCCESS;
}

CONV_API conv_status conv_tensor_download(const conv_tensor *t, float *dst,
                                          size_t count) {
  if (t == NULL)
    return conv_fail_thread(CONV_ERROR_INVALID_ARGUMENT, "tensor is NULL");
  if (dst == NULL && count > 0)
    return conv_fail(t->ctx, CONV_ERROR_INVALID_ARGUMENT, "download: dst is NULL");
  if (count != t->count)
    return conv_fail(t->ctx, CONV_ERROR_INVALID_ARGUMENT,
                     "download: count=%zu but the tensor holds %zu", count,
                     t->count);
  if (count == 0) return CONV_SUCCESS;
  conv_err err;
  memset(&err, 0, sizeof err);
  conv_status st = t->ctx->backend->table.mem_read(
      t->ctx->device, t->mem, 0, count * sizeof(float), dst, &err);
  if (st != CONV_SUCCESS)
    return conv_fail(t->ctx, st, "%s: download: %s", t->ctx->backend->name,
                     err.msg);
  return CONV_SUCCESS;
}
