/* SPDX-License-Identifier: Apache-2.0 */
/* Where a padded position reads from (helpers.h): the padding maps of the
 * loop-nest algorithms (built at plan time) and the padded planes of the
 * vector kernels (filled per task; their fill and copies are compiled per
 * ISA level). */
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "simd.h"

/* ----------------------------------------------------------------- maps */

static void axis_map(int64_t k, int64_t out, int64_t size, int64_t stride,
                     int64_t pad, int64_t dil, int flip,
                     conv_padding_mode mode, int64_t *map, int64_t *lo,
                     int64_t *hi, int64_t *off) {
  for (int64_t a = 0; a < k; a++) {
    int64_t o = dil * cpu_tap(a, k, flip) - pad;
    int64_t first = -1, last = -1;
    for (int64_t i = 0; i < out; i++) {
      int64_t pos = i * stride + o;
      map[a * out + i] = conv_pad_source(pos, size, mode);
      if (pos >= 0 && pos < size) {
        if (first < 0) first = i;
        last = i;
      }
    }
    off[a] = o;
    lo[a] = first < 0 ? 0 : first;
    hi[a] = first < 0 ? 0 : last + 1;
  }
}

conv_status cpu_maps_create(const conv_problem *p, cpu_maps **maps,
                            conv_err *err) {
  size_t n = cpu_add_size(cpu_mul_size((size_t)p->kh, (size_t)p->h_out + 3),
                          cpu_mul_size((size_t)p->kw, (size_t)p->w_out + 3));
  size_t bytes = cpu_add_size(sizeof(cpu_maps), cpu_mul_size(n, sizeof(int64_t)));
  cpu_maps *m = bytes == SIZE_MAX ? NULL : malloc(bytes);
  if (m == NULL)
    return conv_err_set(err, bytes == SIZE_MAX ? CONV_ERROR_SIZE_OVERFLOW
                                               : CONV_ERROR_OUT_OF_MEMORY,
                        "cpu: padding maps of %zu bytes: out of memory", bytes);
  int64_t *q = (int64_t *)(m + 1);
  m->row = q;
  q += p->kh * p->h_out;
  m->row_lo = q;
  q += p->kh;
  m->row_hi = q;
  q += p->kh;
  m->row_off = q;
  q += p->kh;
  m->col = q;
  q += p->kw * p->w_out;
  m->col_lo = q;
  q += p->kw;
  m->col_hi = q;
  q += p->kw;
  m->col_off = q;
  axis_map(p->kh, p->h_out, p->h, p->stride_h, p->pad_t, p->dil_h,
           p->flip_kernel, p->padding_mode, m->row, m->row_lo, m->row_hi,
           m->row_off);
  axis_map(p->kw, p->w_out, p->w, p->stride_w, p->pad_l, p->dil_w,
           p->flip_kernel, p->padding_mode, m->col, m->col_lo, m->col_hi,
           m->col_off);
  *maps = m;
  return CONV_SUCCESS;
}

void cpu_maps_destroy(cpu_maps *maps) { free(maps); }

conv_status cpu_maps_prepare(const conv_problem *p, conv_op op, int threads,
                             void **state, conv_err *err) {
  cpu_maps *m = NULL;
  conv_status st = cpu_maps_create(p, &m, err);
  *state = m;
  return st;
}

void cpu_maps_release(void *state) { cpu_maps_destroy(state); }

/* ------------------------------------------------------ padded planes */

/* d[k] = s[k] for k < n, whole vectors (the last one overlapping). */
static inline LC_INLINE void copy_floats(float *d, const float *s, int64_t n) {
  if (n < LC_VL) {
    for (int64_t k = 0; k < n; k++) d[k] = s[k];
    return;
  }
  int64_t k = 0;
  for (; k + LC_VL <= n; k += LC_VL) vstore(d + k, vload(s + k));
  if (k < n) vstore(d + n - LC_VL, vload(s + n - LC_VL));
}

/* d[j] = s[2 * j] for j < n (even lanes of pairs of vectors). */
static inline LC_INLINE void copy_even(float *d, const float *s, int64_t n) {
  int64_t j = 0;
#if defined(__clang__)
  for (; j + LC_VL <= n; j += LC_VL) {
    vf a = vload(s + 2 * j), b = vload(s + 2 * j + LC_VL);
    vstore(d + j, __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16,
                                          18, 20, 22, 24, 26, 28, 30));
  }
#elif defined(__GNUC__)
  typedef int32_t vi __attribute__((vector_size(64)));
  const vi even = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
  for (; j + LC_VL <= n; j += LC_VL) {
    vf a = vload(s + 2 * j), b = vload(s + 2 * j + LC_VL);
    vstore(d + j, __builtin_shuffle(a, b, even));
  }
  if (j < n && n >= LC_VL) { /* last vector overlapping the previous one */
    j = n - LC_VL;
    vf a = vload(s + 2 * j), b = vload(s + 2 * j + LC_VL);
    vstore(d + j, __builtin_shuffle(a, b, even));
    j = n;
  }
#endif
  for (; j < n; j++) d[j] = s[2 * j];
}

static inline LC_INLINE void plane_fill_body(const conv_problem *p,
                                             const float *src, lc_plane g,
                                             float *buf) {
  const int64_t h = p->h, w = p->w, pl = p->pad_l;
  const int64_t hp = h + p->pad_t + p->pad_b;
  const int64_t wp = w + pl + p->pad_r;
  const conv_padding_mode mode = p->padding_mode;
  for (int64_t r = 0; r < g.rows; r++) {
    int64_t sr = r < hp ? conv_pad_source(r - p->pad_t, h, mode) : -1;
    for (int64_t q = 0; q < g.sw; q++) {
      float *d = lc_plane_row(buf, g, q, r);
      if (sr < 0) {
        for (int64_t j = 0; j < g.wq; j += LC_VL) vstore(d + j, vzero());
        continue;
      }
      const float *s = src + sr * w;
      /* Interior: padded columns c = j * sw + q with 0 <= c - pl < w. */
      int64_t jlo = pl > q ? (pl - q + g.sw - 1) / g.sw : 0;
      int64_t jhi = (pl + w - q + g.sw - 1) / g.sw; /* first j past */
      /* Zero what the interior copy leaves: [0, jlo) and [jhi, wq). */
      for (int64_t j = 0; j < jlo; j++) d[j] = 0.0f;
      {
        int64_t j = jhi > jlo ? jhi : jlo;
        for (; j < g.wq && (j & (LC_VL - 1)) != 0; j++) d[j] = 0.0f;
        for (; j < g.wq; j += LC_VL) vstore(d + j, vzero());
      }
      if (jhi > jlo) {
        const float *s0 = s + jlo * g.sw + q - pl;
        if (g.sw == 1)
          copy_floats(d + jlo, s0, jhi - jlo);
        else if (g.sw == 2)
          copy_even(d + jlo, s0, jhi - jlo - 1), d[jhi - 1] = s0[2 * (jhi - 1 - jlo)];
        else
          for (int64_t j = jlo; j < jhi; j++) d[j] = s0[(j - jlo) * g.sw];
      }
      /* Borders. */
      if (mode != CONV_PAD_ZEROS) {
        for (int64_t j = 0; j < jlo; j++) {
          int64_t sc = conv_pad_source(j * g.sw + q - pl, w, mode);
          d[j] = sc < 0 ? 0.0f : s[sc];
        }
        for (int64_t j = jhi > jlo ? jhi : jlo; j * g.sw + q < wp; j++) {
          int64_t sc = conv_pad_source(j * g.sw + q - pl, w, mode);
          d[j] = sc < 0 ? 0.0f : s[sc];
        }
      }
    }
  }
}

LC_ISA_DISPATCH(plane_fill_isa,
                (const conv_problem *p, const float *src, lc_plane g,
                 float *buf),
                (p, src, g, buf), plane_fill_body)

void lc_plane_fill(const conv_problem *p, const float *src, lc_plane g,
                   float *buf) {
  plane_fill_isa(p, src, g, buf);
}

static inline LC_INLINE void copy_row_body(float *d, const float *s,
                                           int64_t n) {
  copy_floats(d, s, n);
}

LC_ISA_DISPATCH(copy_row_isa, (float *d, const float *s, int64_t n),
                (d, s, n), copy_row_body)

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
      copy_row_isa(d, lc_plane_row((float *)buf, g, 0, r) + p->pad_l, w);
    } else {
      for (int64_t q = 0; q < g.sw; q++) {
        const float *srow = lc_plane_row((float *)buf, g, q, r);
        /* columns c = jj * sw + q, interior when pad_l <= c < pad_l + w */
        int64_t jj = p->pad_l > q ? (p->pad_l - q + g.sw - 1) / g.sw : 0;
        for (int64_t c = jj * g.sw + q; c < p->pad_l + w; c += g.sw, jj++)
          d[c - p->pad_l] = srow[jj];
      }
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
