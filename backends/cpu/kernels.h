/*
 * The cpu backend's fast algorithms (issue 4: speed). Each is a cpu_algo
 * (cpu_internal.h) registered in cpu_registry.c; the kernels share the
 * vector helpers of simd.h.
 *
 *   direct_dw      depthwise (groups == c_in == c_out): fwd, bwd_data,
 *                  bwd_weight; any kernel, stride, dilation, padding mode.
 *   direct_vec     small channel counts per group (c_in/groups and
 *                  c_out/groups small): vectorised over output columns with
 *                  blocks of output channels in registers.
 *   winograd_f4x4  3x3 stride 1 dilation 1: F(4x4, 3x3) tiles, batched
 *                  GEMMs per transformed element.
 */
#ifndef CONV_CPU_KERNELS_H
#define CONV_CPU_KERNELS_H

#include "cpu_internal.h"

extern const cpu_algo cpu_algo_direct_dw;     /* kernels_dw.c */
extern const cpu_algo cpu_algo_direct_vec;    /* kernels_direct.c */
extern const cpu_algo cpu_algo_winograd_f4x4; /* winograd.c */

#endif /* CONV_CPU_KERNELS_H */
