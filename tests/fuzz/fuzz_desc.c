/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the descriptor checks (conv, transposed conv, pooling).
 * Each field takes one byte: below 224 it indexes a table of edge values
 * (0, 1, -1, 2^31, INT64_MAX, ...), otherwise the next 8 bytes are the raw
 * value. A descriptor the checks accept must give a consistent problem:
 * output sizes >= 1 that match the shape rule, pads >= 0, and element
 * counts whose products did not overflow; the public conv_output_size must
 * agree with the internal resolve. A rejection must carry a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int64_t edges[] = {
    0, 1, 2, 3, 4, 5, 7, 8, 13, 64, 255, 1024, -1, -2, -7,
    (int64_t)1 << 15, (int64_t)1 << 16, ((int64_t)1 << 31) - 1,
    (int64_t)1 << 31, ((int64_t)1 << 31) + 1, (int64_t)1 << 32,
    (int64_t)1 << 40, (int64_t)1 << 62, INT64_MAX, INT64_MAX - 1, INT64_MIN,
    INT64_MIN + 1, -((int64_t)1 << 31), 131073, 16385, 8192, 4096};
#define N_EDGES (sizeof edges / sizeof edges[0])

typedef struct reader {
  const uint8_t *p;
  size_t left;
} reader;

static int64_t next(reader *r) {
  if (r->left == 0) return 1;
  uint8_t b = *r->p++;
  r->left--;
  if (b < 224) return edges[b % N_EDGES];
  uint64_t v = 0;
  for (int i = 0; i < 8 && r->left > 0; i++, r->left--) v = v << 8 | *r->p++;
  return (int64_t)v;
}

static void check_conv(reader *r) {
  conv_desc d;
  conv_desc_init(&d);
  d.n = next(r); d.c_in = next(r); d.h = next(r); d.w = next(r);
  d.c_out = next(r);
  d.kernel[0] = next(r); d.kernel[1] = next(r);
  d.stride[0] = next(r); d.stride[1] = next(r);
  d.dilation[0] = next(r); d.dilation[1] = next(r);
  d.groups = next(r);
  d.padding = (conv_padding)next(r);
  for (int i = 0; i < 4; i++) d.pad[i] = next(r);
  d.padding_mode = (conv_padding_mode)next(r);
  d.has_bias = (int)next(r);
  d.flip_kernel = (int)next(r);

  conv_problem p;
  char msg[1024] = "";
  conv_status st = conv_desc_resolve(&d, &p, msg, sizeof msg);
  int64_t h_out = -1, w_out = -1, pads[4] = {-1, -1, -1, -1};
  conv_status st2 = conv_output_size(&d, &h_out, &w_out, pads);
  if (st != st2) abort();
  if (st != CONV_SUCCESS) {
    if (msg[0] == '\0') abort();
    return;
  }
  if (p.h_out < 1 || p.w_out < 1 || p.h_out != h_out || p.w_out != w_out)
    abort();
  if (p.pad_t < 0 || p.pad_b < 0 || p.pad_l < 0 || p.pad_r < 0) abort();
  if (p.pad_t != pads[0] || p.pad_b != pads[1] || p.pad_l != pads[2] ||
      p.pad_r != pads[3])
    abort();
  if (p.n < 0 || p.c_in < 1 || p.c_out < 1 || p.groups < 1 ||
      p.c_in % p.groups != 0 || p.c_out % p.groups != 0)
    abort();
  /* The shape rule, in 128-bit arithmetic. */
  __int128 span_h = (__int128)p.h + p.pad_t + p.pad_b -
                    (__int128)p.dil_h * (p.kh - 1) - 1;
  __int128 span_w = (__int128)p.w + p.pad_l + p.pad_r -
                    (__int128)p.dil_w * (p.kw - 1) - 1;
  if (span_h < 0 || span_w < 0) abort();
  if (span_h / p.stride_h + 1 != p.h_out || span_w / p.stride_w + 1 != p.w_out)
    abort();
  conv_sizes s;
  conv_problem_sizes(&p, &s);
  __int128 x = (__int128)p.n * p.c_in * p.h * p.w;
  __int128 y = (__int128)p.n * p.c_out * p.h_out * p.w_out;
  __int128 w = (__int128)p.c_out * (p.c_in / p.groups) * p.kh * p.kw;
  if (x != (__int128)s.x || y != (__int128)s.y || w != (__int128)s.w) abort();
}

static void check_transpose(reader *r) {
  conv_transpose_desc d;
  conv_transpose_desc_init(&d);
  d.n = next(r); d.c_in = next(r); d.h = next(r); d.w = next(r);
  d.c_out = next(r);
  d.kernel[0] = next(r); d.kernel[1] = next(r);
  d.stride[0] = next(r); d.stride[1] = next(r);
  d.dilation[0] = next(r); d.dilation[1] = next(r);
  d.groups = next(r);
  for (int i = 0; i < 4; i++) d.pad[i] = next(r);
  d.output_padding[0] = next(r); d.output_padding[1] = next(r);
  d.has_bias = (int)next(r);
  conv_desc inner;
  int64_t h_out = -1, w_out = -1, ext[2] = {-1, -1};
  char msg[1024] = "";
  conv_status st = conv_transpose_resolve(&d, &inner, &h_out, &w_out, ext, msg,
                                          sizeof msg);
  if (st != CONV_SUCCESS) {
    if (msg[0] == '\0') abort();
    return;
  }
  if (h_out < 1 || w_out < 1) abort();
  /* The matching convolution maps the output back to the input. */
  conv_problem p;
  if (conv_desc_resolve(&inner, &p, msg, sizeof msg) != CONV_SUCCESS) abort();
  if (ext[0] < 0 || ext[1] < 0 || p.h_out != d.h + ext[0] ||
      p.w_out != d.w + ext[1] || p.h != h_out || p.w != w_out)
    abort();
  /* Rows are added only past the last tap: output_padding - end pad >=
   * stride, which PyTorch allows only below the dilation. */
  for (int a = 0; a < 2; a++)
    if (ext[a] > 0 && (d.output_padding[a] - d.pad[2 * a + 1] < d.stride[a] ||
                       d.output_padding[a] >= d.dilation[a]))
      abort();
}

static void check_pool(reader *r) {
  conv_pool_desc d;
  conv_pool_desc_init(&d);
  d.n = next(r); d.c = next(r); d.h = next(r); d.w = next(r);
  d.kernel[0] = next(r); d.kernel[1] = next(r);
  d.stride[0] = next(r); d.stride[1] = next(r);
  d.pad[0] = next(r); d.pad[1] = next(r);
  d.dilation[0] = next(r); d.dilation[1] = next(r);
  d.ceil_mode = (int)next(r);
  d.mode = (conv_pool_mode)next(r);
  d.four_sided = (int)next(r);
  for (int i = 0; i < 4; i++) d.pad4[i] = next(r);
  conv_pool_problem p;
  char msg[1024] = "";
  conv_status st = conv_pool_resolve(&d, &p, msg, sizeof msg);
  if (st != CONV_SUCCESS) {
    if (msg[0] == '\0') abort();
    return;
  }
  if (p.h_out < 1 || p.w_out < 1 || p.stride_h < 1 || p.stride_w < 1) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  reader r = {data + 1, size - 1};
  switch (data[0] % 3) {
    case 0: check_conv(&r); break;
    case 1: check_transpose(&r); break;
    case 2: check_pool(&r); break;
  }
  return 0;
}
