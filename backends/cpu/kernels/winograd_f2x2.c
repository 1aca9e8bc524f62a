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
 * others with 9 scalar loads. Tap k of the transform is taps[k], or
 * taps[8 - k] with rev (the kernel rotated by 180 degrees: a flip, or
 * backward data's rotation). U = G g G^T, G = [1 0 0; 1/2 1/2 1/2; 1/2
 * -1/2 1/2; 0 0 1]; element e of lane l lands at u[e * ue + l] for l <
 * cnt. rev is a constant in each inlined copy, so the taps stay in
 * registers. */
static inline LC_INLINE void wf2_weight_taps(const float *const *rows,
                                             const float *w, int64_t wfloats,
                                             const int rev, int64_t cnt,
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
  LC_UNROLL
  for (int k = 0; k < 9; k++) g[k] = t[rev ? 8 - k : k];
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

static inline LC_INLINE void wf2_weight_body(const float *const *rows,
                                             const float *w, int64_t wfloats,
                                             int rev, int64_t cnt, float *u,
                                             size_t ue) {
  if (rev)
    wf2_weight_taps(rows, w, wfloats, 1, cnt, u, ue);
  else
    wf2_weight_taps(rows, w, wfloats, 0, cnt, u, ue);
}

LC_ISA_DISPATCH(wf2_weight,
                (const float *const *rows, const float *w, int64_t wfloats,
                 int rev, int64_t cnt, float *u, size_t ue),
                (rows, w, wfloats, rev, cnt, u, ue), wf2_weight_body)

/* Even (p = 0) or odd (p = 1) lanes of the 32 floats at a, a + 16. */
#define wf2_half(a, b, p)                                                    \
  ((p) ? __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, \
                                 23, 25, 27, 29, 31)                         \
       : __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, \
                                 22, 24, 26, 28, 30))

/* V of nt tiles in a row: tile tx's 4x4 input is rows[r][2 tx + j] for
 * j < 2 and rows[4 + r][2 tx + j - 2] for j >= 2 (r < 4; each row
 * readable to 2 nt + 32 floats). For a row of tiles of the staged plane
 * rows[4 + r] is rows[r] + 2; for a small plane the caller lays all its
 * tiles out this way in strips (algorithms/winograd_f2x2.c). B^T = [1 0
 * -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]; element e of tile tx lands at v[e *
 * ve + tx]. 16 tiles a step; a short last step stores whole vectors where
 * room (tiles from v on that the caller writes again afterwards or owns)
 * allows, else only its tiles. */
static inline LC_INLINE void wf2_in_row_body(const float *const *rows,
                                             int64_t nt, float *v, size_t ve,
                                             int64_t room) {
  for (int64_t tx = 0; tx < nt; tx += 16) {
    const int64_t cnt = nt - tx < 16 ? nt - tx : 16;
    vf c[4][4]; /* c[r][j]: row r, column 2 tx + j of each tile */
    LC_UNROLL
    for (int r = 0; r < 4; r++) {
      const float *da = rows[r] + 2 * tx, *db = rows[4 + r] + 2 * tx;
      const vf a0 = vload(da), a1 = vload(da + 16);
      const vf b0 = vload(db), b1 = vload(db + 16);
      c[r][0] = wf2_half(a0, a1, 0);
      c[r][1] = wf2_half(a0, a1, 1);
      c[r][2] = wf2_half(b0, b1, 0);
      c[r][3] = wf2_half(b0, b1, 1);
    }
    vf t[4][4];
    LC_UNROLL
    for (int j = 0; j < 4; j++) {
      t[0][j] = c[0][j] - c[2][j];
      t[1][j] = c[1][j] + c[2][j];
      t[2][j] = c[2][j] - c[1][j];
      t[3][j] = c[1][j] - c[3][j];
    }
    LC_UNROLL
    for (int i = 0; i < 4; i++) {
      const vf o[4] = {t[i][0] - t[i][2], t[i][1] + t[i][2], t[i][2] - t[i][1],
                       t[i][1] - t[i][3]};
      LC_UNROLL
      for (int j = 0; j < 4; j++) {
        float *dst = v + (size_t)(i * 4 + j) * ve + (size_t)tx;
        if (cnt == 16 || tx + 16 <= room)
          vstore(dst, o[j]);
        else
          vstore_n(dst, o[j], cnt);
      }
    }
  }
}

LC_ISA_DISPATCH(wf2_in_row,
                (const float *const *rows, int64_t nt, float *v, size_t ve,
                 int64_t room),
                (rows, nt, v, ve, room), wf2_in_row_body)

/* One row of tiles of an output plane from M (element e of tile tx at
 * m[e * me + tx]; up to 15 floats past a row's last tile are read): A^T m
 * A with A^T = [1 1 1 0; 0 1 -1 -1], plus bias, into y0 (output row 2 ty)
 * and y1 (the next, or NULL past the plane), w_out columns. 16 tiles (32
 * columns) a step, all of y0 before y1: a short last step stores whole
 * vectors where room (floats from y0 on that the caller writes again
 * afterwards or owns) allows, the garbage past y0's end then lying in y1,
 * and y1's in the rows the next call writes. */
static inline LC_INLINE void wf2_out_row_body(const float *m, size_t me,
                                              int64_t tw, float bias,
                                              float *y0, float *y1,
                                              int64_t w_out, int64_t room) {
  LC_UNROLL
  for (int i = 0; i < 2; i++) {
    float *yr = i ? y1 : y0;
    if (yr == NULL) continue;
    const int64_t yroom = room - i * w_out;
    for (int64_t tx = 0; tx < tw; tx += 16) {
      vf a[12];
      LC_UNROLL
      for (int e = 0; e < 12; e++)
        a[e] = vload(m + (size_t)(e + 4 * i) * me + (size_t)tx);
      vf q[4];
      LC_UNROLL
      for (int j = 0; j < 4; j++)
        q[j] = i ? a[j] - a[4 + j] - a[8 + j] : a[j] + a[4 + j] + a[8 + j];
      const vf ev = (q[0] + q[1] + q[2]) + bias;
      const vf od = (q[1] - q[2] - q[3]) + bias;
      const vf lo = __builtin_shufflevector(ev, od, 0, 16, 1, 17, 2, 18, 3, 19,
                                            4, 20, 5, 21, 6, 22, 7, 23);
      const vf hi = __builtin_shufflevector(ev, od, 8, 24, 9, 25, 10, 26, 11,
                                            27, 12, 28, 13, 29, 14, 30, 15, 31);
      const int64_t ncol = w_out - 2 * tx < 32 ? w_out - 2 * tx : 32;
      float *dst = yr + 2 * tx;
      if (ncol == 32 || 2 * tx + 32 <= yroom) {
        vstore(dst, lo);
        vstore(dst + 16, hi);
      } else {
        vstore_n(dst, lo, ncol);
        if (ncol > 16) vstore_n(dst + 16, hi, ncol - 16);
      }
    }
  }
}

LC_ISA_DISPATCH(wf2_out_row,
                (const float *m, size_t me, int64_t tw, float bias, float *y0,
                 float *y1, int64_t w_out, int64_t room),
                (m, me, tw, bias, y0, y1, w_out, room), wf2_out_row_body)
