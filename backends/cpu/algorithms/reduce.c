/* SPDX-License-Identifier: Apache-2.0 */
/* reduce: backward bias alone, the bias gradient (cpu_bias_grad's one
 * summation order). */
#include <stdio.h>

#include "cpu_internal.h"
#include "helpers.h"

static int reduce_applies(const conv_problem *p, conv_op op, char *why,
                          size_t why_len) {
  if (op == CONV_OP_BACKWARD_BIAS) return 1;
  if (why != NULL) snprintf(why, why_len, "reduce only computes the bias gradient");
  return 0;
}

static conv_status reduce_run(const cpu_run *r, const cpu_tensors *t,
                              conv_err *err) {
  cpu_bias_grad(r->p, t->dy, t->db, r->threads);
  return CONV_SUCCESS;
}

const cpu_algo cpu_algo_reduce = {
    .name = "reduce",
    .applies = reduce_applies,
    .run = reduce_run,
};
