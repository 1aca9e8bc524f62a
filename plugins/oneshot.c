/* SPDX-License-Identifier: Apache-2.0 */
/* One-call convenience for a first program: context, plan, forward, and
 * cleanup in one function. Programs that run a layer more than once keep a
 * plan instead (planning picks algorithms and may compile kernels). */
#include "config.h"

#include "internal.h"

CONV_API conv_status conv_conv2d(const conv_desc *desc, const float *x,
                                 const float *w, const float *b, float *y) {
  conv_context *ctx = NULL;
  conv_plan *plan = NULL;
  conv_status st = conv_context_create(&ctx, NULL, NULL);
  if (st != CONV_SUCCESS) return st; /* the reason is the thread's already */
  st = conv_plan_create(ctx, desc, &plan);
  if (st == CONV_SUCCESS) st = conv_forward(plan, x, w, b, y);
  if (st != CONV_SUCCESS) /* the context goes: keep its reason readable */
    conv_fail_thread(st, "%s", conv_last_error(ctx));
  else
    conv_clear_thread_error();
  conv_plan_destroy(plan);
  conv_context_destroy(ctx);
  return st;
}
