/* Helpers of the fast kernels: instruction-set choice and padded planes. */
#include <string.h>

#include "simd.h"

int lc_isa_level(void) {
  static int level = -1; /* benign race: every thread computes the same */
  int l = __atomic_load_n(&level, __ATOMIC_RELAXED);
  if (l < 0) {
    const cpu_features *f = cpu_get_features();
    if (f->avx512f && f->avx512bw && f->avx512vl && f->avx512dq && f->fma)
      l = 2;
    else if (f->avx2 && f->fma)
      l = 1;
    else
      l = 0;
    __atomic_store_n(&level, l, __ATOMIC_RELAXED);
  }
  return l;
}

void lc_plane_fill(const conv_problem *p, const float *src, lc_plane g,
                   float *buf) {
  const int64_t h = p->h, w = p->w;
  const int64_t hp = h + p->pad_t + p->pad_b;
  const int64_t wp = w + p->pad_l + p->pad_r;
  const conv_padding_mode mode = p->padding_mode;
  for (int64_t r = 0; r < g.rows; r++) {
    int64_t sr = r < hp ? conv_pad_source(r - p->pad_t, h, mode) : -1;
    if (sr < 0) {
      for (int64_t q = 0; q < g.sw; q++)
        memset(lc_plane_row(buf, g, q, r), 0, (size_t)g.wq * sizeof(float));
      continue;
    }
    const float *s = src + sr * w;
    if (g.sw == 1) {
      float *d = lc_plane_row(buf, g, 0, r);
      int64_t j = 0;
      for (; j < p->pad_l; j++) {
        int64_t sc = conv_pad_source(j - p->pad_l, w, mode);
        d[j] = sc < 0 ? 0.0f : s[sc];
      }
      memcpy(d + j, s, (size_t)w * sizeof(float));
      for (j += w; j < wp; j++) {
        int64_t sc = conv_pad_source(j - p->pad_l, w, mode);
        d[j] = sc < 0 ? 0.0f : s[sc];
      }
      for (; j < g.wq; j++) d[j] = 0.0f;
    } else {
      for (int64_t q = 0; q < g.sw; q++) {
        float *d = lc_plane_row(buf, g, q, r);
        for (int64_t j = 0; j < g.wq; j++) {
          int64_t c = j * g.sw + q;
          int64_t sc = c < wp ? conv_pad_source(c - p->pad_l, w, mode) : -1;
          d[j] = sc < 0 ? 0.0f : s[sc];
        }
      }
    }
  }
}

static inline float plane_at(const float *buf, lc_plane g, int64_t r,
                             int64_t c) {
  return buf[((size_t)(c % g.sw) * (size_t)g.rows + (size_t)r) *
                 (size_t)g.wq + (size_t)(c / g.sw)];
}

void lc_plane_fold(const conv_problem *p, const float *buf, lc_plane g,
                   float *dst) {
  const int64_t h = p->h, w = p->w;
  const int64_t hp = h + p->pad_t + p->pad_b;
  const int64_t wp = w + p->pad_l + p->pad_r;
  const conv_padding_mode mode = p->padding_mode;
  /* Interior: a copy. */
  for (int64_t i = 0; i < h; i++) {
    float *d = dst + i * w;
    int64_t r = i + p->pad_t;
    if (g.sw == 1) {
      memcpy(d, lc_plane_row((float *)buf, g, 0, r) + p->pad_l,
             (size_t)w * sizeof(float));
    } else {
      for (int64_t j = 0; j < w; j++) d[j] = plane_at(buf, g, r, j + p->pad_l);
    }
  }
  if (mode == CONV_PAD_ZEROS) return;
  /* Borders, row by row, left to right: each adds to its source. */
  for (int64_t r = 0; r < hp; r++) {
    int64_t sr = conv_pad_source(r - p->pad_t, h, mode);
    if (sr < 0) continue;
    int border_row = r < p->pad_t || r >= p->pad_t + h;
    for (int64_t c = 0; c < wp; c++) {
      int border_col = c < p->pad_l || c >= p->pad_l + w;
      if (!border_row && !border_col) {
        c = p->pad_l + w - 1;
        continue;
      }
      int64_t sc = conv_pad_source(c - p->pad_l, w, mode);
      if (sc < 0) continue;
      dst[sr * w + sc] += plane_at(buf, g, r, c);
    }
  }
}
