/* SPDX-License-Identifier: Apache-2.0 */
/* Pooling: PyTorch's nn.MaxPool2d, nn.AvgPool2d and nn.AdaptiveAvgPool2d
 * shape rules (with ONNX's four-sided pads) and the dispatch to the
 * backends' pooling entries. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct conv_pool_plan {
  conv_context *ctx;
  void *impl;               /* NULL for an empty batch */
  conv_pool_problem problem;
  size_t x_count, y_count;
};

CONV_API void conv_pool_desc_init(conv_pool_desc *desc) {
  if (desc == NULL) return;
  memset(desc, 0, sizeof *desc);
  desc->dilation[0] = desc->dilation[1] = 1;
  desc->count_include_pad = 1;
}

#define FAIL(status, ...)               \
  do {                                  \
    snprintf(msg, msglen, __VA_ARGS__); \
    return (status);                    \
  } while (0)

/* One axis of PyTorch's pooling output size rule. */
static int64_t pool_out(int64_t size, int64_t k, int64_t pad, int64_t pad_end,
                        int64_t stride, int64_t dil, int ceil_mode) {
  /* Rounded toward minus infinity, as PyTorch's div_rtn: in ceil mode the
   * dilated kernel may overhang the bottom/right padding by up to stride-1
   * (kernel 3, stride 2 on a 2x2 input gives 1x1). */
  int64_t num = size + pad + pad_end - dil * (k - 1) - 1 +
                (ceil_mode ? stride - 1 : 0);
  int64_t out = (num >= 0 ? num / stride : -((-num + stride - 1) / stride)) + 1;
  /* The last window must start inside the input or the top/left padding. */
  if (ceil_mode && (out - 1) * stride >= size + pad) out--;
  return out;
}

CONV_INTERNAL conv_status conv_pool_resolve(const conv_pool_desc *d,
                                            conv_pool_problem *p, char *msg,
                                            size_t msglen) {
  if (d == NULL) FAIL(CONV_ERROR_INVALID_ARGUMENT, "desc is NULL");
  memset(p, 0, sizeof *p);
  const struct { const char *name; int64_t value; int64_t min; } v[] = {
      {"batch n", d->n, 0},          {"channels", d->c, 1},
      {"height", d->h, 1},           {"width", d->w, 1},
      {"kernel_h", d->kernel[0], 0}, {"kernel_w", d->kernel[1], 0},
      {"stride_h", d->stride[0], 0}, {"stride_w", d->stride[1], 0},
      {"pad_h", d->pad[0], 0},       {"pad_w", d->pad[1], 0},
      {"dilation_h", d->dilation[0], 1}, {"dilation_w", d->dilation[1], 1},
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    if (v[i].value < v[i].min)
      FAIL(CONV_ERROR_INVALID_ARGUMENT, "%s=%lld must be >= %lld", v[i].name,
           (long long)v[i].value, (long long)v[i].min);
    if (v[i].value > ((int64_t)1 << 31))
      FAIL(CONV_ERROR_SIZE_OVERFLOW, "%s=%lld exceeds the limit %lld", v[i].name,
           (long long)v[i].value, (long long)((int64_t)1 << 31));
  }
  if (d->ceil_mode != 0 && d->ceil_mode != 1)
    FAIL(CONV_ERROR_INVALID_ARGUMENT, "ceil_mode=%d must be 0 or 1", d->ceil_mode);
  if ((unsigned)d->mode > CONV_POOL_ADAPTIVE_AVG)
    FAIL(CONV_ERROR_INVALID_ARGUMENT, "mode=%d is not a conv_pool_mode",
         (int)d->mode);
  if (d->four_sided != 0 && d->four_sided != 1)
    FAIL(CONV_ERROR_INVALID_ARGUMENT, "four_sided=%d must be 0 or 1",
         d->four_sided);
  if (d->count_include_pad != 0 && d->count_include_pad != 1)
    FAIL(CONV_ERROR_INVALID_ARGUMENT, "count_include_pad=%d must be 0 or 1",
         d->count_include_pad);
  p->n = d->n; p->c = d->c; p->h = d->h; p->w = d->w;
  p->mode = d->mode;
  if (d->mode == CONV_POOL_ADAPTIVE_AVG) {
    /* Only the output size matters; anything else set is a mistake. */
    const struct { const char *name; int64_t value; } unused[] = {
        {"kernel_h", d->kernel[0]}, {"kernel_w", d->kernel[1]},
        {"stride_h", d->stride[0]}, {"stride_w", d->stride[1]},
        {"pad_h", d->pad[0]},       {"pad_w", d->pad[1]},
        {"four_sided", d->four_sided}, {"ceil_mode", d->ceil_mode},
        {"divisor_override", d->divisor_override},
    };
    for (size_t i = 0; i < sizeof unused / sizeof unused[0]; i++)
      if (unused[i].value != 0)
        FAIL(CONV_ERROR_INVALID_ARGUMENT,
             "%s=%lld must be left 0 for mode=adaptive_avg (only output_size "
             "counts)", unused[i].name, (long long)unused[i].value);
    if (d->dilation[0] != 1 || d->dilation[1] != 1)
      FAIL(CONV_ERROR_INVALID_ARGUMENT,
           "dilation=%lldx%lld must be left 1x1 for mode=adaptive_avg",
           (long long)d->dilation[0], (long long)d->dilation[1]);
    for (int a = 0; a < 2; a++) {
      if (d->output_size[a] < 1)
        FAIL(CONV_ERROR_INVALID_ARGUMENT, "output_size_%c=%lld must be >= 1",
             a ? 'w' : 'h', (long long)d->output_size[a]);
      if (d->output_size[a] > ((int64_t)1 << 31))
        FAIL(CONV_ERROR_SIZE_OVERFLOW, "output_size_%c=%lld exceeds the limit %lld",
             a ? 'w' : 'h', (long long)d->output_size[a],
             (long long)((int64_t)1 << 31));
    }
    p->h_out = d->output_size[0];
    p->w_out = d->output_size[1];
    p->kh = p->kw = p->stride_h = p->stride_w = p->dil_h = p->dil_w = 1;
    p->count_include_pad = 1;
  } else {
    if (d->kernel[0] < 1 || d->kernel[1] < 1)
      FAIL(CONV_ERROR_INVALID_ARGUMENT, "kernel_%c=%lld must be >= 1",
           d->kernel[0] < 1 ? 'h' : 'w',
           (long long)(d->kernel[0] < 1 ? d->kernel[0] : d->kernel[1]));
    if (d->output_size[0] != 0 || d->output_size[1] != 0)
      FAIL(CONV_ERROR_INVALID_ARGUMENT,
           "output_size=%lldx%lld is for mode=adaptive_avg only",
           (long long)d->output_size[0], (long long)d->output_size[1]);
    int64_t pad[4] = {d->pad[0], d->pad[0], d->pad[1], d->pad[1]};
    if (d->four_sided) {
      static const char *const side[4] = {"top", "bottom", "left", "right"};
      for (int i = 0; i < 4; i++) {
        if (d->pad4[i] < 0)
          FAIL(CONV_ERROR_INVALID_ARGUMENT, "pad_%s=%lld must be >= 0", side[i],
               (long long)d->pad4[i]);
        if (d->pad4[i] > d->kernel[i / 2] / 2) /* 2*pad > kernel, no overflow */
          FAIL(CONV_ERROR_INVALID_ARGUMENT,
               "pad_%s=%lld must be at most half of kernel_%c=%lld", side[i],
               (long long)d->pad4[i], i < 2 ? 'h' : 'w',
               (long long)d->kernel[i / 2]);
        pad[i] = d->pad4[i];
      }
    } else {
      for (int a = 0; a < 2; a++) {
        if (d->pad[a] > d->kernel[a] / 2) /* 2*pad > kernel, no overflow */
          FAIL(CONV_ERROR_INVALID_ARGUMENT,
               "pad_%c=%lld must be at most half of kernel_%c=%lld", a ? 'w' : 'h',
               (long long)d->pad[a], a ? 'w' : 'h', (long long)d->kernel[a]);
      }
    }
    if (d->mode == CONV_POOL_AVG) {
      if (d->dilation[0] != 1 || d->dilation[1] != 1)
        FAIL(CONV_ERROR_INVALID_ARGUMENT,
             "dilation=%lldx%lld: average pooling has no dilation (must be 1x1)",
             (long long)d->dilation[0], (long long)d->dilation[1]);
      if (d->divisor_override < 0)
        FAIL(CONV_ERROR_INVALID_ARGUMENT,
             "divisor_override=%lld must be > 0 (or 0 for none)",
             (long long)d->divisor_override);
      if (d->divisor_override > ((int64_t)1 << 31))
        FAIL(CONV_ERROR_SIZE_OVERFLOW, "divisor_override=%lld exceeds the limit %lld",
             (long long)d->divisor_override, (long long)((int64_t)1 << 31));
    } else if (d->divisor_override != 0) {
      FAIL(CONV_ERROR_INVALID_ARGUMENT,
           "divisor_override=%lld is for average pooling only",
           (long long)d->divisor_override);
    }
    p->kh = d->kernel[0]; p->kw = d->kernel[1];
    p->stride_h = d->stride[0] ? d->stride[0] : d->kernel[0];
    p->stride_w = d->stride[1] ? d->stride[1] : d->kernel[1];
    p->pad_h = pad[0]; p->pad_b = pad[1]; p->pad_w = pad[2]; p->pad_r = pad[3];
    p->dil_h = d->dilation[0]; p->dil_w = d->dilation[1];
    p->ceil_mode = d->ceil_mode;
    p->count_include_pad = d->count_include_pad;
    p->divisor_override = d->divisor_override;
    p->h_out = pool_out(p->h, p->kh, p->pad_h, p->pad_b, p->stride_h, p->dil_h,
                        p->ceil_mode);
    p->w_out = pool_out(p->w, p->kw, p->pad_w, p->pad_r, p->stride_w, p->dil_w,
                        p->ceil_mode);
  }
  if (p->h_out < 1 || p->w_out < 1)
    FAIL(CONV_ERROR_INVALID_ARGUMENT,
         "output size %lldx%lld is too small: kernel %lldx%lld (dilation "
         "%lldx%lld) does not fit the padded input %lldx%lld",
         (long long)p->h_out, (long long)p->w_out, (long long)p->kh,
         (long long)p->kw, (long long)p->dil_h, (long long)p->dil_w,
         (long long)(p->h + p->pad_h + p->pad_b),
         (long long)(p->w + p->pad_w + p->pad_r));
  uint64_t x = 1, y = 1;
  const int64_t xf[] = {p->n, p->c, p->h, p->w};
  const int64_t yf[] = {p->n, p->c, p->h_out, p->w_out};
  for (int i = 0; i < 4; i++) {
    if (__builtin_mul_overflow(x, (uint64_t)xf[i], &x) ||
        __builtin_mul_overflow(y, (uint64_t)yf[i], &y))
      FAIL(CONV_ERROR_SIZE_OVERFLOW, "pooling tensor of %lld x %lld x %lld x %lld "
           "elements overflows", (long long)p->n, (long long)p->c,
           (long long)p->h, (long long)p->w);
  }
  if (x > (uint64_t)INT64_MAX / 8 || y > (uint64_t)INT64_MAX / 8)
    FAIL(CONV_ERROR_SIZE_OVERFLOW, "pooling tensor of %llu elements overflows",
         (unsigned long long)(x > y ? x : y));
  return CONV_SUCCESS;
}

CONV_API conv_status conv_pool_output_size(const conv_pool_desc *desc,
                                           int64_t *h_out, int64_t *w_out) {
  if (h_out == NULL || w_out == NULL)
    return conv_fail_thread(CONV_ERROR_INVALID_ARGUMENT, "%s is NULL",
                            h_out == NULL ? "h_out" : "w_out");
  conv_pool_problem p;
  char msg[1024];
  conv_status st = conv_pool_resolve(desc, &p, msg, sizeof msg);
  if (st != CONV_SUCCESS) return conv_fail_thread(st, "%s", msg);
  *h_out = p.h_out;
  *w_out = p.w_out;
  return CONV_SUCCESS;
}

CONV_API conv_status conv_pool_plan_create(conv_context *ctx,
                                           const conv_pool_desc *desc,
                                           conv_pool_plan **out) {
  if (ctx == NULL)
    return conv_fail_thread(CONV_ERROR_INVALID_ARGUMENT, "ctx is NULL");
  if (out == NULL) return conv_fail(ctx, CONV_ERROR_INVALID_ARGUMENT, "plan is NULL");
  *out = NULL;
  const conv_plugin *t = &ctx->backend->table;
  conv_pool_plan *plan = calloc(1, sizeof *plan);
  if (plan == NULL)
    return conv_fail(ctx, CONV_ERROR_OUT_OF_MEMORY, "pool plan: out of memory");
  char msg[1024];
  conv_status st = conv_pool_resolve(desc, &plan->problem, msg, sizeof msg);
  if (st != CONV_SUCCESS) {
    free(plan);
    return conv_fail(ctx, st, "%s", msg);
  }
  if (t->pool_plan_create == NULL) {
    free(plan);
    return conv_fail(ctx, CONV_ERROR_UNSUPPORTED,
                     "backend '%s' has no pooling", ctx->backend->name);
  }
  if (plan->problem.mode != CONV_POOL_MAX && t->avgpool_forward == NULL) {
    free(plan);
    return conv_fail(ctx, CONV_ERROR_UNSUPPORTED,
                     "backend '%s' (plugin ABI 1.%u) has no average pooling",
                     ctx->backend->name, (unsigned)t->abi_minor);
  }
  plan->ctx = ctx;
  const conv_pool_problem *p = &plan->problem;
  plan->x_count = (size_t)(p->n * p->c * p->h * p->w);
  plan->y_count = (size_t)(p->n * p->c * p->h_out * p->w_out);
  conv_plan_options options;
  conv_err err;
  memset(&err, 0, sizeof err);
  st = conv_env_plan_options(&options, NULL, 0, 0, &err);
  if (st != CONV_SUCCESS) {
    free(plan);
    return conv_fail(ctx, st, "%s", err.msg);
  }
  if (p->n > 0) {
    st = t->pool_plan_create(ctx->device, p, &options, &plan->impl, &err);
    if (st != CONV_SUCCESS) {
      free(plan);
      return conv_fail(ctx, st, "%s: pool_plan_create: %s", ctx->backend->name,
                       err.msg[0] ? err.msg : conv_status_string(st));
    }
  }
  *out = plan;
  return CONV_SUCCESS;
}

CONV_API void conv_pool_plan_destroy(conv_pool_plan *plan) {
  if (plan == NULL) return;
  if (plan->impl != NULL) plan->ctx->backend->table.pool_plan_destroy(plan->impl);
  free(plan);
}

CONV_API void conv_pool_plan_output_size(const conv_pool_plan *plan,
                                         int64_t *h_out, int64_t *w_out) {
  if (plan == NULL) return;
  if (h_out != NULL) *h_out = plan->problem.h_out;
  if (w_out != NULL) *w_out = plan->problem.w_out;
}

/* A buffer of a pooling call: a host pointer or a tensor. */
typedef struct pool_arg {
  const char *name;
  const void *host;
  const conv_tensor *tensor;
  size_t bytes;
  int output;
  void *mem;
  int staged;
} pool_arg;

/* Shared path: check, stage (host calls on device backends), run, copy
 * back. forward: a = {x, y, indices}; backward: a = {x, dy, dx}. */
static conv_status pool_run(conv_pool_plan *plan, int backward, pool_arg *a,
                            int count, int tensors, int avg) {
  if (plan == NULL)
    return conv_fail_thread(CONV_ERROR_INVALID_ARGUMENT, "plan is NULL");
  conv_context *ctx = plan->ctx;
  const conv_plugin *t = &ctx->backend->table;
  const char *what = avg ? (backward ? "avgpool_backward" : "avgpool_forward")
                         : (backward ? "maxpool_backward" : "maxpool_forward");
  static const char *const mode_names[] = {"max", "avg", "adaptive_avg"};
  if ((plan->problem.mode != CONV_POOL_MAX) != avg)
    return conv_fail(ctx, CONV_ERROR_INVALID_ARGUMENT,
                     "%s: the plan was made for mode=%s pooling", what,
                     mode_names[plan->problem.mode]);
  for (int i = 0; i < count; i++) {
    int optional = strcmp(a[i].name, "indices") == 0;
    int present = tensors ? a[i].tensor != NULL : a[i].host != NULL;
    if (!present && !optional)
      return conv_fail(ctx, CONV_ERROR_INVALID_ARGUMENT, "%s: %s is NULL", what,
                       a[i].name);
    if (tensors && present) {
      if (a[i].tensor->ctx != ctx)
        return conv_fail(ctx, CONV_ERROR_INVALID_ARGUMENT,
                         "%s: tensor %s belongs to another context", what,
                         a[i].name);
      if (a[i].tensor->count * sizeof(float) < a[i].bytes)
        return conv_fail(ctx, CONV_ERROR_INVALID_ARGUMENT,
                         "%s: tensor %s holds %zu elements, the shape needs %zu",
                         what, a[i].name, a[i].tensor->count,
                         a[i].bytes / sizeof(float));
    }
  }
  if (plan->impl == NULL) return CONV_SUCCESS; /* empty batch: nothing to do */

  conv_err err;
  memset(&err, 0, sizeof err);
  conv_status st = CONV_SUCCESS;
  const int host_memory = (t->flags & CONV_PLUGIN_HOST_MEMORY) != 0;
  for (int i = 0; i < count; i++) {
    int present = tensors ? a[i].tensor != NULL : a[i].host != NULL;
    if (!present) { a[i].mem = NULL; continue; }
    if (tensors) { a[i].mem = a[i].tensor->mem; continue; }
    if (host_memory) { a[i].mem = (void *)a[i].host; continue; }
    st = t->mem_alloc(ctx->device, a[i].bytes ? a[i].bytes : 4, &a[i].mem, &err);
    if (st != CONV_SUCCESS) goto done;
    a[i].staged = 1;
    if (!a[i].output) {
      st = t->mem_write(ctx->device, a[i].mem, 0, a[i].bytes, a[i].host, &err);
      if (st != CONV_SUCCESS) goto done;
    }
  }
  if (avg)
    st = backward ? t->avgpool_backward(plan->impl, a[0].mem, a[1].mem, &err)
                  : t->avgpool_forward(plan->impl, a[0].mem, a[1].mem, &err);
  else
    st = backward ? t->maxpool_backward(plan->impl, a[0].mem, a[1].mem, a[2].mem, &err)
                  : t->maxpool_forward(plan->impl, a[0].mem, a[1].mem, a[2].mem, &err);
  for (int i = 0; i < count && st == CONV_SUCCESS; i++)
    if (a[i].staged && a[i].output)
      st = t->mem_read(ctx->device, a[i].mem, 0, a[i].bytes, (void *)a[i].host,
                       &err);
done:
  for (int i = 0; i < count; i++)
    if (a[i].staged) t->mem_free(ctx->device, a[i].mem);
  if (st != CONV_SUCCESS)
    return conv_fail(ctx, st, "%s: %s: %s", ctx->backend->name, what,
                     err.msg[0] ? err.msg : conv_status_string(st));
  return CONV_SUCCESS;
}

#define XB (plan != NULL ? plan->x_count * sizeof(float) : 0)
#define YB (plan != NULL ? plan->y_count * sizeof(float) : 0)
#define IB (plan != NULL ? plan->y_count * sizeof(int64_t) : 0)

CONV_API conv_status conv_maxpool_forward(conv_pool_plan *plan, const float *x,
                                          float *y, int64_t *indices) {
  pool_arg a[] = {{"x", x, NULL, XB, 0, NULL, 0},
                  {"y", y, NULL, YB, 1, NULL, 0},
                  {"indices", indices, NULL, IB, 1, NULL, 0}};
  return pool_run(plan, 0, a, 3, 0, 0);
}

CONV_API conv_status conv_maxpool_backward(conv_pool_plan *plan,
                                           const float *x, const float *dy,
                                           float *dx) {
  pool_arg a[] = {{"x", x, NULL, XB, 0, NULL, 0},
                  {"dy", dy, NULL, YB, 0, NULL, 0},
                  {"dx", dx, NULL, XB, 1, NULL, 0}};
  return pool_run(plan, 1, a, 3, 0, 0);
}

CONV_API conv_status conv_maxpool_forward_tensor(conv_pool_plan *plan,
                                                 const conv_tensor *x,
                                                 conv_tensor *y) {
  pool_arg a[] = {{"x", NULL, x, XB, 0, NULL, 0},
                  {"y", NULL, y, YB, 1, NULL, 0},
                  {"indices", NULL, NULL, IB, 1, NULL, 0}};
  return pool_run(plan, 0, a, 3, 1, 0);
}

CONV_API conv_status conv_maxpool_backward_tensor(conv_pool_plan *plan,
                                                  const conv_tensor *x,
                                                  const conv_tensor *dy,
                                                  conv_tensor *dx) {
  pool_arg a[] = {{"x", NULL, x, XB, 0, NULL, 0},
                  {"dy", NULL, dy, YB, 0, NULL, 0},
                  {"dx", NULL, dx, XB, 1, NULL, 0}};
  return pool_run(plan, 1, a, 3, 1, 0);
}

CONV_API conv_status conv_avgpool_forward(conv_pool_plan *plan, const float *x,
                                          float *y) {
  pool_arg a[] = {{"x", x, NULL, XB, 0, NULL, 0},
                  {"y", y, NULL, YB, 1, NULL, 0}};
  return pool_run(plan, 0, a, 2, 0, 1);
}

CONV_API conv_status conv_avgpool_backward(conv_pool_plan *plan,
                                           const float *dy, float *dx) {
  pool_arg a[] = {{"dy", dy, NULL, YB, 0, NULL, 0},
                  {"dx", dx, NULL, XB, 1, NULL, 0}};
  return pool_run(plan, 1, a, 2, 0, 1);
}

CONV_API conv_status conv_avgpool_forward_tensor(conv_pool_plan *plan,
                                                 const conv_tensor *x,
                                                 conv_tensor *y) {
  pool_arg a[] = {{"x", NULL, x, XB, 0, NULL, 0},
                  {"y", NULL, y, YB, 1, NULL, 0}};
  return pool_run(plan, 0, a, 2, 1, 1);
}

CONV_API conv_status conv_avgpool_backward_tensor(conv_pool_plan *plan,
                                                  const conv_tensor *dy,
                                                  conv_tensor *dx) {
  pool_arg a[] = {{"dy", NULL, dy, YB, 0, NULL, 0},
                  {"dx", NULL, dx, XB, 1, NULL, 0}};
  return pool_run(plan, 1, a, 2, 1, 1);
}
