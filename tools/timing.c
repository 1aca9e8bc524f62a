/* SPDX-License-Identifier: Apache-2.0 */
/* See timing.h. */
#include "timing.h"

#include <stdlib.h>
#include <time.h>

double tool_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int tool_cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

double tool_median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, tool_cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
