/* SPDX-License-Identifier: Apache-2.0 */
/*
 * winograd_f2x2's weight transform (algorithms/winograd_f2x2.c), compiled
 * per ISA level: 16 channel pairs at a time, lanes across the pairs.
 */
#include <stdint.h>

#include "kernels.h"
#include "simd.h"

/* rows[l]: the 9 taps (row-major 3x3) of pair l; a row whose 16 floats
 * from its start lie inside [w, w + wfloats) is read with one vector load,
 * others with 9 scalar loads. Tap k of the transform is taps[off[k]]. U =
 * G g G^T, G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]; element e of
 * lane l lands at u[e * ue + l] for l < cnt. */
static inline LC_INLINE void wf2_weight_body(const float *const *rows,
                                             const float *w, int64_t wfloats,
                                             const int64_t *off, int64_t cnt,
                                             float *u, size_t ue) {
  vf t[16];
  LC_UNROLL
  for (int l = 0; l < 16; l++) {
    if (rows[l] - w + 16 <= wfloats)
      t[l] = vload(rows[l]);
    else
      t[l] = vload_n(rows[l], 9);
  }
  vtranspose16(t);
  vf g[9];
  for (int k = 0; k < 9; k++) g[k] = t[off[k]];
  vf s[4][3];
  LC_UNROLL
  for (int j = 0; j < 3; j++) {
    const vf a = g[j], b = g[3 + j], c = g[6 + j], sum = a + c;
    s[0][j] = a;
    s[1][j] = 0.5f * (sum + b);
    s[2][j] = 0.5f * (sum - b);
    s[3][j] = c;
  }
  LC_UNROLL
  for (int i = 0; i < 4; i++) {
    const vf sum = s[i][0] + s[i][2];
    const vf r[4] = {s[i][0], 0.5f * (sum + s[i][1]), 0.5f * (sum - s[i][1]),
                     s[i][2]};
    LC_UNROLL
    for (int j = 0; j < 4; j++) {
      float *dst = u + (size_t)(i * 4 + j) * ue;
      if (cnt == 16)
        vstore(dst, r[j]);
      else
        vstore_n(dst, r[j], cnt);
    }
  }
}

LC_ISA_DISPATCH(wf2_weight,
                (const float *const *rows, const float *w, int64_t wfloats,
                 const int64_t *off, int64_t cnt, float *u, size_t ue),
                (rows, w, wfloats, off, cnt, u, ue), wf2_weight_body)
