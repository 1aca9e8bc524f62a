/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Timing pieces every benchmark program in tools/ shares (convinfo bench,
 * bench_clblast, bench_onednn): one clock and one median, so the figures
 * the programs print side by side are taken the same way.
 */
#ifndef CONV_TOOLS_TIMING_H
#define CONV_TOOLS_TIMING_H

/* Seconds on the monotonic clock (an arbitrary origin: use differences). */
double tool_now_s(void);

/* qsort comparator for doubles, ascending. */
int tool_cmp_double(const void *a, const void *b);

/* Sorts v[0..n) ascending and returns its median (the mean of the two
 * middle values for even n). n must be at least 1. */
double tool_median(double *v, int n);

#endif /* CONV_TOOLS_TIMING_H */
