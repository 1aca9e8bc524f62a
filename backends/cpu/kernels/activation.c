/* SPDX-License-Identifier: Apache-2.0 */
/* The activation kernel (compiled per ISA level): y = act(y + bias) over a
 * row, for the fused forward, the dx epilogue and the ABI 1.2 passes
 * (cpu_epilogue.c). */
#include <stdint.h>

#include "helpers.h"
#include "simd.h"

/* y[i] = act(y[i] + bias) over count elements, 16 lanes at a time in the
 * best instruction set (simd.h). Selects go through comparison masks, so
 * NaN stays NaN; exp is Cephes' expf polynomial (range reduction by ln 2,
 * degree 6, input clamped to [-87, 88]): within 2 ulp of expf, which is all
 * sigmoid, tanh and silu need. */
typedef int32_t vi __attribute__((vector_size(64)));
#define VSEL(m, a, b) ((vf)(((vi)(a) & (m)) | ((vi)(b) & ~(m))))
#define VEXP(xin)                                                          \
  ({                                                                       \
    vf x_ = (xin);                                                         \
    x_ = VSEL(x_ < vsplat(-87.0f), vsplat(-87.0f), x_);                    \
    x_ = VSEL(x_ > vsplat(88.0f), vsplat(88.0f), x_);                      \
    const vf t_ = x_ * vsplat(1.44269504088896341f) + vsplat(0.5f);        \
    vf fn_ = __builtin_convertvector(__builtin_convertvector(t_, vi), vf); \
    fn_ = VSEL(fn_ > t_, fn_ - vsplat(1.0f), fn_); /* floor */             \
    const vf r_ = x_ - fn_ * vsplat(0.693359375f) +                        \
                  fn_ * vsplat(2.12194440e-4f);                            \
    vf q_ = vsplat(1.9875691500e-4f);                                      \
    q_ = q_ * r_ + vsplat(1.3981999507e-3f);                               \
    q_ = q_ * r_ + vsplat(8.3334519073e-3f);                               \
    q_ = q_ * r_ + vsplat(4.1665795894e-2f);                               \
    q_ = q_ * r_ + vsplat(1.6666665459e-1f);                               \
    q_ = q_ * r_ + vsplat(5.0000001201e-1f);                               \
    q_ = q_ * r_ * r_ + r_ + vsplat(1.0f);                                 \
    const vi e_ = (__builtin_convertvector(fn_, vi) + 127) << 23;          \
    q_ * (vf)e_;                                                           \
  })

/* One loop per activation: EXPR maps vector v (bias added) to the result. */
#define ACT_LOOP(EXPR)                                           \
  do {                                                           \
    for (; i + LC_VL <= count; i += LC_VL) {                     \
      const vf v = vload(y + i) + vb;                            \
      vstore(y + i, (EXPR));                                     \
    }                                                            \
  } while (0)

static inline LC_INLINE void activate_body(float *y, int64_t count, float bias,
                                           int act, float alpha) {
  const vf vb = vsplat(bias), zero = vzero(), one = vsplat(1.0f);
  const vf six = vsplat(6.0f), va = vsplat(alpha);
  int64_t i = 0;
  switch (act) {
    case CONV_ACT_NONE: ACT_LOOP(v); break;
    case CONV_ACT_RELU: ACT_LOOP(VSEL(v < zero, zero, v)); break;
    case CONV_ACT_RELU6:
      ACT_LOOP(VSEL(v < zero, zero, VSEL(v > six, six, v)));
      break;
    case CONV_ACT_LEAKY_RELU: ACT_LOOP(VSEL(v > zero, v, v * va)); break;
    case CONV_ACT_SIGMOID: ACT_LOOP(one / (one + VEXP(-v))); break;
    case CONV_ACT_TANH:
      ACT_LOOP(one - vsplat(2.0f) / (one + VEXP(v + v)));
      break;
    case CONV_ACT_SILU: ACT_LOOP(v / (one + VEXP(-v))); break;
    default: break;
  }
  for (; i < count; i++)
    y[i] = conv_activate(y[i] + bias, (conv_activation)act, alpha);
}

LC_ISA_DISPATCH(activate_isa,
                (float *y, int64_t count, float bias, int act, float alpha),
                (y, count, bias, act, alpha), activate_body)

void cpu_activate(float *restrict y, int64_t count, float bias,
                  conv_activation act, float alpha) {
  if (act == CONV_ACT_NONE && bias == 0.0f) return;
  activate_isa(y, count, bias, (int)act, alpha);
}
