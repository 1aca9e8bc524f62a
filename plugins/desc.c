/* SPDX-License-Identifier: Apache-2.0 */
/* The descriptor: PyTorch's defaults, its shape rules and argument checks.
 * Every rule lives here so every backend sees a checked, resolved problem. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

CONV_API void conv_desc_init(conv_desc *desc) {
  if (desc == NULL) return;
  memset(desc, 0, sizeof *desc);
  desc->stride[0] = desc->stride[1] = 1;
  desc->dilation[0] = desc->dilation[1] = 1;
  desc->groups = 1;
  desc->padding = CONV_PADDING_EXPLICIT;
  desc->padding_mode = CONV_PAD_ZEROS;
}

static const char *mode_name(conv_padding_mode mode) {
  switch (mode) {
    case CONV_PAD_ZEROS: return "zeros";
    case CONV_PAD_REFLECT: return "reflect";
    case CONV_PAD_REPLICATE: return "replicate";
    case CONV_PAD_CIRCULAR: return "circular";
    case CONV_PAD_SYMMETRIC: return "symmetric";
  }
  return "?";
}

/* Largest value any single size may take: keeps every intermediate product
 * of two sizes inside int64 before the explicit overflow checks below. */
#define CONV_DIM_MAX ((int64_t)1 << 31)

#define FAIL(status, ...)                    \
  do {                                       \
    snprintf(msg, msglen, __VA_ARGS__);      \
    return (status);                         \
  } while (0)

/* Product of n factors as a float count that must fit in both int64 and the
 * bytes of size_t; returns 0 on overflow. */
static int checked_count(const int64_t *factors, int n, size_t *out) {
  uint64_t acc = 1;
  for (int i = 0; i < n; i++) {
    uint64_t next;
    if (__builtin_mul_overflow(acc, (uint64_t)factors[i], &next)) return 0;
    acc = next;
  }
  if (acc > (uint64_t)INT64_MAX / 4 || acc > SIZE_MAX / sizeof(float)) return 0;
  *out = (size_t)acc;
  return 1;
}

/* Checks one axis' padding against the mode's rule. */
static conv_status check_mode_pad(conv_padding_mode mode, int64_t before,
                                  int64_t after, int64_t size,
                                  const char *axis, char *msg, size_t msglen) {
  int64_t pad = before > after ? before : after;
  const char *side = before >= after ? (axis[0] == 'h' ? "top" : "left")
                                     : (axis[0] == 'h' ? "bottom" : "right");
  if (mode == CONV_PAD_REFLECT && pad >= size)
    FAIL(CONV_ERROR_INVALID_ARGUMENT,
         "padding_mode=reflect needs pad < input %s: pad_%s=%lld, %s=%lld",
         axis, side, (long long)pad, axis, (long long)size);
  if ((mode == CONV_PAD_CIRCULAR || mode == CONV_PAD_SYMMETRIC) && pad > size)
    FAIL(CONV_ERROR_INVALID_ARGUMENT,
         "padding_mode=%s needs pad <= input %s: pad_%s=%lld, %s=%lld",
         mode_name(mode), axis, side, (long long)pad, axis, (long long)size);
  return CONV_SUCCESS;
}

CONV_INTERNAL conv_status conv_desc_resolve(const conv_desc *d,
                                            conv_problem *p, char *msg,
                                            size_t msglen) {
  if (d == NULL) FAIL(CONV_ERROR_INVALID_ARGUMENT, "desc is NULL");
  memset(p, 0, sizeof *p);

  const struct { const char *name; int64_t value; int64_t min; } sizes[] = {
      {"batch n", d->n, 0},           {"in_channels", d->c_in, 1},
      {"height", d->h, 1},            {"width", d->w, 1},
      {"out_channels", d->c_out, 1},  {"kernel_h", d->kernel[0], 1},
      {"kernel_w", d->kernel[1], 1},  {"stride_h", d->stride[0], 1},
      {"stride_w", d->stride[1], 1},  {"dilation_h", d->dilation[0], 1},
      {"dilation_w", d->dilation[1], 1}, {"groups", d->groups, 1},
  };
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    if (sizes[i].value < sizes[i].min)
      FAIL(CONV_ERROR_INVALID_ARGUMENT, "%s=%lld must be >= %lld",
           sizes[i].name, (long long)sizes[i].value, (long long)sizes[i].min);
    if (sizes[i].value > CONV_DIM_MAX)
      FAIL(CONV_ERROR_SIZE_OVERFLOW, "%s=%lld exceeds the limit %lld",
           sizes[i].name, (long long)sizes[i].value, (long long)CONV_DIM_MAX);
  }
  if (d->c_in % d->groups != 0)
    FAIL(CONV_ERROR_INVALID_ARGUMENT, "groups=%lld does not divide in_channels=%lld",
         (long long)d->groups, (long long)d->c_in);
  if (d->c_out % d->groups != 0)
    FAIL(CONV_ERROR_INVALID_ARGUMENT,
         "groups=%lld does not divide out_channels=%lld", (long long)d->groups,
         (long long)d->c_out);
  if (d->has_bias != 0 && d->has_bias != 1)
    FAIL(CONV_ERROR_INVALID_ARGUMENT, "has_bias=%d must be 0 or 1", d->has_bias);
  if (d->flip_kernel != 0 && d->flip_kernel != 1)
    FAIL(CONV_ERROR_INVALID_ARGUMENT, "flip_kernel=%d must be 0 or 1",
         d->flip_kernel);
  if ((unsigned)d->padding_mode > CONV_PAD_SYMMETRIC)
    FAIL(CONV_ERROR_INVALID_ARGUMENT, "padding_mode=%d is not a conv_padding_mode",
         (int)d->padding_mode);

  /* Effective (dilated) kernel extent per axis. */
  const int64_t ext_h = d->dilation[0] * (d->kernel[0] - 1) + 1;
  const int64_t ext_w = d->dilation[1] * (d->kernel[1] - 1) + 1;
  int64_t pad[4];
  switch (d->padding) {
    case CONV_PADDING_EXPLICIT: {
      static const char *const side[4] = {"top", "bottom", "left", "right"};
      for (int i = 0; i < 4; i++) {
        if (d->pad[i] < 0)
          FAIL(CONV_ERROR_INVALID_ARGUMENT, "pad_%s=%lld must be >= 0", side[i],
               (long long)d->pad[i]);
        if (d->pad[i] > CONV_DIM_MAX)
          FAIL(CONV_ERROR_SIZE_OVERFLOW, "pad_%s=%lld exceeds the limit %lld",
               side[i], (long long)d->pad[i], (long long)CONV_DIM_MAX);
        pad[i] = d->pad[i];
      }
      break;
    }
    case CONV_PADDING_SAME: {
      if (d->stride[0] != 1 || d->stride[1] != 1)
        FAIL(CONV_ERROR_INVALID_ARGUMENT,
             "padding=same is not supported with stride=(%lld,%lld): stride must be 1",
             (long long)d->stride[0], (long long)d->stride[1]);
      const int64_t th = ext_h - 1, tw = ext_w - 1;
      if (d->flip_kernel) { /* SciPy: the odd one goes top/left */
        pad[0] = th - th / 2; pad[1] = th / 2;
        pad[2] = tw - tw / 2; pad[3] = tw / 2;
      } else { /* PyTorch: the odd one goes bottom/right */
        pad[0] = th / 2; pad[1] = th - th / 2;
        pad[2] = tw / 2; pad[3] = tw - tw / 2;
      }
      break;
    }
    case CONV_PADDING_VALID:
      pad[0] = pad[1] = pad[2] = pad[3] = 0;
      break;
    case CONV_PADDING_FULL:
      pad[0] = pad[1] = ext_h - 1;
      pad[2] = pad[3] = ext_w - 1;
      break;
    default:
      FAIL(CONV_ERROR_INVALID_ARGUMENT, "padding=%d is not a conv_padding",
           (int)d->padding);
  }

  conv_status st = check_mode_pad(d->padding_mode, pad[0], pad[1], d->h, "height",
                                  msg, msglen);
  if (st != CONV_SUCCESS) return st;
  st = check_mode_pad(d->padding_mode, pad[2], pad[3], d->w, "width", msg, msglen);
  if (st != CONV_SUCCESS) return st;

  const int64_t ph = d->h + pad[0] + pad[1], pw = d->w + pad[2] + pad[3];
  if (ext_h > ph)
    FAIL(CONV_ERROR_INVALID_ARGUMENT,
         "kernel height %lld (dilated %lld) is larger than the padded input "
         "height %lld",
         (long long)d->kernel[0], (long long)ext_h, (long long)ph);
  if (ext_w > pw)
    FAIL(CONV_ERROR_INVALID_ARGUMENT,
         "kernel width %lld (dilated %lld) is larger than the padded input "
         "width %lld",
         (long long)d->kernel[1], (long long)ext_w, (long long)pw);

  p->n = d->n; p->c_in = d->c_in; p->h = d->h; p->w = d->w;
  p->c_out = d->c_out; p->kh = d->kernel[0]; p->kw = d->kernel[1];
  p->stride_h = d->stride[0]; p->stride_w = d->stride[1];
  p->dil_h = d->dilation[0]; p->dil_w = d->dilation[1];
  p->pad_t = pad[0]; p->pad_b = pad[1]; p->pad_l = pad[2]; p->pad_r = pad[3];
  p->groups = d->groups;
  p->padding_mode = d->padding_mode;
  p->has_bias = d->has_bias;
  p->flip_kernel = d->flip_kernel;
  p->h_out = (ph - ext_h) / d->stride[0] + 1;
  p->w_out = (pw - ext_w) / d->stride[1] + 1;

  /* Every tensor's element count (and byte size) must fit. */
  size_t count;
  const int64_t xf[] = {d->n, d->c_in, d->h, d->w};
  const int64_t wf[] = {d->c_out, d->c_in / d->groups, d->kernel[0], d->kernel[1]};
  const int64_t yf[] = {d->n, d->c_out, p->h_out, p->w_out};
  if (!checked_count(xf, 4, &count))
    FAIL(CONV_ERROR_SIZE_OVERFLOW,
         "input of %lld x %lld x %lld x %lld elements overflows", (long long)d->n,
         (long long)d->c_in, (long long)d->h, (long long)d->w);
  if (!checked_count(wf, 4, &count))
    FAIL(CONV_ERROR_SIZE_OVERFLOW,
         "weight of %lld x %lld x %lld x %lld elements overflows",
         (long long)wf[0], (long long)wf[1], (long long)wf[2], (long long)wf[3]);
  if (!checked_count(yf, 4, &count))
    FAIL(CONV_ERROR_SIZE_OVERFLOW,
         "output of %lld x %lld x %lld x %lld elements overflows",
         (long long)yf[0], (long long)yf[1], (long long)yf[2], (long long)yf[3]);
  return CONV_SUCCESS;
}

CONV_INTERNAL void conv_problem_sizes(const conv_problem *p, conv_sizes *s) {
  s->x = (size_t)(p->n * p->c_in * p->h * p->w);
  s->w = (size_t)(p->c_out * (p->c_in / p->groups) * p->kh * p->kw);
  s->b = (size_t)p->c_out;
  s->y = (size_t)(p->n * p->c_out * p->h_out * p->w_out);
}

CONV_API conv_status conv_output_size(const conv_desc *desc, int64_t *h_out,
                                      int64_t *w_out, int64_t pads[4]) {
  conv_problem p;
  char msg[1024];
  if (h_out == NULL || w_out == NULL)
    return conv_fail_thread(CONV_ERROR_INVALID_ARGUMENT, "%s is NULL",
                            h_out == NULL ? "h_out" : "w_out");
  conv_status st = conv_desc_resolve(desc, &p, msg, sizeof msg);
  if (st != CONV_SUCCESS) return conv_fail_thread(st, "%s", msg);
  *h_out = p.h_out;
  *w_out = p.w_out;
  if (pads != NULL) {
    pads[0] = p.pad_t; pads[1] = p.pad_b; pads[2] = p.pad_l; pads[3] = p.pad_r;
  }
  return CONV_SUCCESS;
}

/* ------------------------------------------------------------ activation */

CONV_INTERNAL const char *conv_activation_name(conv_activation act) {
  switch (act) {
    case CONV_ACT_NONE: return "none";
    case CONV_ACT_RELU: return "relu";
    case CONV_ACT_RELU6: return "relu6";
    case CONV_ACT_LEAKY_RELU: return "leaky_relu";
    case CONV_ACT_SIGMOID: return "sigmoid";
    case CONV_ACT_TANH: return "tanh";
    case CONV_ACT_SILU: return "silu";
  }
  return "?";
}

CONV_INTERNAL conv_status conv_activation_check(conv_activation act,
                                                float alpha, char *msg,
                                                size_t msglen) {
  if ((unsigned)act > CONV_ACT_SILU)
    FAIL(CONV_ERROR_INVALID_ARGUMENT, "activation=%d is not a conv_activation",
         (int)act);
  if (act == CONV_ACT_LEAKY_RELU && !isfinite(alpha))
    FAIL(CONV_ERROR_INVALID_ARGUMENT, "alpha=%g of leaky_relu must be finite",
         (double)alpha);
  if (act != CONV_ACT_LEAKY_RELU && alpha != 0.0f)
    FAIL(CONV_ERROR_INVALID_ARGUMENT,
         "alpha=%g must be 0 for activation=%s (only leaky_relu has one)",
         (double)alpha, conv_activation_name(act));
  return CONV_SUCCESS;
}

/* ------------------------------------------------- transposed convolution */

CONV_API void conv_transpose_desc_init(conv_transpose_desc *desc) {
  if (desc == NULL) return;
  memset(desc, 0, sizeof *desc);
  desc->stride[0] = desc->stride[1] = 1;
  desc->dilation[0] = desc->dilation[1] = 1;
  desc->groups = 1;
}

CONV_INTERNAL conv_status conv_transpose_resolve(const conv_transpose_desc *d,
                                                 conv_desc *inner,
                                                 int64_t *h_out, int64_t *w_out,
                                                 int64_t ext[2], char *msg,
                                                 size_t msglen) {
  if (d == NULL) FAIL(CONV_ERROR_INVALID_ARGUMENT, "desc is NULL");
  const struct { const char *name; int64_t value; int64_t min; } sizes[] = {
      {"batch n", d->n, 0},           {"in_channels", d->c_in, 1},
      {"height", d->h, 1},            {"width", d->w, 1},
      {"out_channels", d->c_out, 1},  {"kernel_h", d->kernel[0], 1},
      {"kernel_w", d->kernel[1], 1},  {"stride_h", d->stride[0], 1},
      {"stride_w", d->stride[1], 1},  {"dilation_h", d->dilation[0], 1},
      {"dilation_w", d->dilation[1], 1}, {"groups", d->groups, 1},
      {"pad_top", d->pad[0], 0},      {"pad_bottom", d->pad[1], 0},
      {"pad_left", d->pad[2], 0},     {"pad_right", d->pad[3], 0},
      {"output_padding_h", d->output_padding[0], 0},
      {"output_padding_w", d->output_padding[1], 0},
  };
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    if (sizes[i].value < sizes[i].min)
      FAIL(CONV_ERROR_INVALID_ARGUMENT, "%s=%lld must be >= %lld",
           sizes[i].name, (long long)sizes[i].value, (long long)sizes[i].min);
    if (sizes[i].value > CONV_DIM_MAX)
      FAIL(CONV_ERROR_SIZE_OVERFLOW, "%s=%lld exceeds the limit %lld",
           sizes[i].name, (long long)sizes[i].value, (long long)CONV_DIM_MAX);
  }
  if (d->has_bias != 0 && d->has_bias != 1)
    FAIL(CONV_ERROR_INVALID_ARGUMENT, "has_bias=%d must be 0 or 1", d->has_bias);
  if (d->c_in % d->groups != 0)
    FAIL(CONV_ERROR_INVALID_ARGUMENT, "groups=%lld does not divide in_channels=%lld",
         (long long)d->groups, (long long)d->c_in);
  if (d->c_out % d->groups != 0)
    FAIL(CONV_ERROR_INVALID_ARGUMENT,
         "groups=%lld does not divide out_channels=%lld", (long long)d->groups,
         (long long)d->c_out);
  int64_t out[2], pad_end[2], grow[2];
  for (int a = 0; a < 2; a++) {
    const char ax = a ? 'w' : 'h';
    const int64_t in = a ? d->w : d->h, s = d->stride[a], dil = d->dilation[a];
    const int64_t op = d->output_padding[a];
    const int64_t pb = d->pad[2 * a], pe = d->pad[2 * a + 1];
    if (op >= s && op >= dil)
      FAIL(CONV_ERROR_INVALID_ARGUMENT,
           "output_padding_%c=%lld must be smaller than stride_%c=%lld or "
           "dilation_%c=%lld",
           ax, (long long)op, ax, (long long)s, ax, (long long)dil);
    /* Every term is below 2^31, so this cannot overflow int64. */
    out[a] = (in - 1) * s - pb - pe + dil * (d->kernel[a] - 1) + op + 1;
    if (out[a] < 1)
      FAIL(CONV_ERROR_INVALID_ARGUMENT,
           "output %s %lld is not positive: (%c-1)*stride - pads + "
           "dilation*(kernel-1) + output_padding + 1 with %c=%lld, "
           "stride=%lld, pads=%lld+%lld, dilation=%lld, kernel=%lld, "
           "output_padding=%lld",
           a ? "width" : "height", (long long)out[a], ax, ax, (long long)in,
           (long long)s, (long long)pb, (long long)pe, (long long)dil,
           (long long)d->kernel[a], (long long)op);
    /* The output is the matching conv2d's input: the same size limit. */
    if (out[a] > CONV_DIM_MAX)
      FAIL(CONV_ERROR_SIZE_OVERFLOW,
           "output %s %lld exceeds the limit %lld",
           a ? "width" : "height", (long long)out[a], (long long)CONV_DIM_MAX);
    /* The matching conv2d reads an input of out[a] rows padded with pb
     * before and pad_end after; its output must have `in` rows:
     * 0 <= op + pad_end - pe <= s - 1. The end pad changes nothing else.
     * When op - pe >= s (output_padding >= stride, allowed below the
     * dilation, with a small end pad) no pad_end >= 0 fits: the last
     * op - pe output rows lie past the last tap. The conv2d with pad_end 0
     * then has in + grow[a] output rows, grow[a] = (op - pe) / s; the plan
     * runs it with the input zero-extended by grow[a] rows (forward, weight
     * gradient) and crops its input gradient back to `in` rows. */
    grow[a] = 0;
    if (op < s) pad_end[a] = pe;
    else if (pe >= op) pad_end[a] = pe - op;
    else {
      pad_end[a] = 0;
      grow[a] = (op - pe) / s;
    }
  }
  conv_desc_init(inner);
  inner->n = d->n;
  inner->c_in = d->c_out;
  inner->h = out[0];
  inner->w = out[1];
  inner->c_out = d->c_in;
  inner->kernel[0] = d->kernel[0]; inner->kernel[1] = d->kernel[1];
  inner->stride[0] = d->stride[0]; inner->stride[1] = d->stride[1];
  inner->dilation[0] = d->dilation[0]; inner->dilation[1] = d->dilation[1];
  inner->groups = d->groups;
  inner->padding = CONV_PADDING_EXPLICIT;
  inner->pad[0] = d->pad[0]; inner->pad[1] = pad_end[0];
  inner->pad[2] = d->pad[2]; inner->pad[3] = pad_end[1];
  inner->has_bias = 0;
  /* What the plan will run must pass the conv2d checks too (tensor sizes
   * that overflow, say): refuse it here, not at plan time. */
  {
    conv_problem check;
    conv_status st = conv_desc_resolve(inner, &check, msg, msglen);
    if (st != CONV_SUCCESS) return st;
  }
  *h_out = out[0];
  *w_out = out[1];
  if (ext != NULL) {
    ext[0] = grow[0];
    ext[1] = grow[1];
  }
  return CONV_SUCCESS;
}

CONV_API conv_status conv_transpose_output_size(const conv_transpose_desc *desc,
                                                int64_t *h_out, int64_t *w_out) {
  if (h_out == NULL || w_out == NULL)
    return conv_fail_thread(CONV_ERROR_INVALID_ARGUMENT, "%s is NULL",
                            h_out == NULL ? "h_out" : "w_out");
  conv_desc inner;
  conv_problem p;
  char msg[1024];
  int64_t oh, ow, ext[2];
  conv_status st = conv_transpose_resolve(desc, &inner, &oh, &ow, ext, msg,
                                          sizeof msg);
  if (st == CONV_SUCCESS) st = conv_desc_resolve(&inner, &p, msg, sizeof msg);
  if (st != CONV_SUCCESS) return conv_fail_thread(st, "%s", msg);
  if (p.h_out != desc->h + ext[0] || p.w_out != desc->w + ext[1])
    return conv_fail_thread(CONV_ERROR_INTERNAL,
                            "transposed convolution: the matching conv2d gives "
                            "%lldx%lld, not %lldx%lld",
                            (long long)p.h_out, (long long)p.w_out,
                            (long long)desc->h, (long long)desc->w);
  *h_out = oh;
  *w_out = ow;
  return CONV_SUCCESS;
}
