/* SPDX-License-Identifier: Apache-2.0 */
/* Blur and edge detection on a grey-scale picture.
 *
 *   filter IN.pgm BLUR.(png|pgm) EDGES.(png|pgm)
 *
 * The blur is a 5x5 Gaussian, one conv_conv2d call: the one-call form for a
 * layer run once. The edges are the Sobel operator: one plan with two output
 * channels (d/dx and d/dy) whose magnitude is the edge image. Both pad with
 * replicated border pixels and padding 'same', so the outputs have the
 * input's size and no dark frame. Like torch.nn.functional.conv2d, libconv
 * computes cross-correlation (the kernel is not flipped).
 *
 * The program checks one pixel of each result against a loop written out
 * here, so `make check` fails if the library's answer changes. */
#include <conv.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "image.h"

/* y[cy, cx] of channel k by the definition (replicate padding, 'same'). */
static float at(const float *x, int64_t h, int64_t w, const float *kern,
                int k, int64_t cy, int64_t cx) {
  const int r = k / 2;
  double s = 0.0;
  for (int i = 0; i < k; i++)
    for (int j = 0; j < k; j++) {
      int64_t y = cy + i - r, xx = cx + j - r;
      y = y < 0 ? 0 : y >= h ? h - 1 : y;
      xx = xx < 0 ? 0 : xx >= w ? w - 1 : xx;
      s += (double)kern[i * k + j] * x[y * w + xx];
    }
  return (float)s;
}

static int close_to(float got, float want, const char *what) {
  if (fabsf(got - want) <= 1e-3f * (1.0f + fabsf(want))) return 1;
  fprintf(stderr, "filter: %s is %g, expected %g\n", what, got, want);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: filter IN.pgm BLUR.png EDGES.png\n");
    return 2;
  }
  int rc = 1;
  float *x = NULL, *blur = NULL, *grad = NULL, *edges = NULL;
  conv_context *ctx = NULL;
  conv_plan *plan = NULL;
  int64_t h, w;
  if (image_read_pgm(argv[1], &x, &h, &w) != 0) return 1;

  /* ---- blur: 5x5 Gaussian (binomial weights 1 4 6 4 1, normalised). */
  float gauss[25];
  static const float b5[5] = {1, 4, 6, 4, 1};
  for (int i = 0; i < 5; i++)
    for (int j = 0; j < 5; j++) gauss[i * 5 + j] = b5[i] * b5[j] / 256.0f;

  conv_desc d;
  conv_desc_init(&d);
  d.n = 1; d.c_in = 1; d.h = h; d.w = w;
  d.c_out = 1; d.kernel[0] = 5; d.kernel[1] = 5;
  d.padding = CONV_PADDING_SAME;
  d.padding_mode = CONV_PAD_REPLICATE;
  blur = malloc((size_t)(h * w) * sizeof *blur);
  if (blur == NULL) goto done;
  if (conv_conv2d(&d, x, gauss, NULL, blur) != CONV_SUCCESS) {
    fprintf(stderr, "filter: blur: %s\n", conv_last_error(NULL));
    goto done;
  }

  /* ---- edges: Sobel x and y as the two output channels of one layer. */
  static const float sobel[2][9] = {{-1, 0, 1, -2, 0, 2, -1, 0, 1},
                                    {-1, -2, -1, 0, 0, 0, 1, 2, 1}};
  d.c_out = 2; d.kernel[0] = 3; d.kernel[1] = 3;
  grad = malloc((size_t)(2 * h * w) * sizeof *grad);
  edges = malloc((size_t)(h * w) * sizeof *edges);
  if (grad == NULL || edges == NULL) goto done;
  if (conv_context_create(&ctx, NULL, NULL) != CONV_SUCCESS) {
    fprintf(stderr, "filter: %s\n", conv_last_error(NULL));
    goto done;
  }
  if (conv_plan_create(ctx, &d, &plan) != CONV_SUCCESS ||
      conv_forward(plan, x, &sobel[0][0], NULL, grad) != CONV_SUCCESS) {
    fprintf(stderr, "filter: edges: %s\n", conv_last_error(ctx));
    goto done;
  }
  printf("filter: %lldx%lld image on %s (%s), Sobel with %s\n", (long long)w,
         (long long)h, conv_context_backend(ctx), conv_context_device(ctx),
         conv_plan_algorithm(plan, CONV_OP_FORWARD));
  for (int64_t i = 0; i < h * w; i++) {
    float gx = grad[i], gy = grad[h * w + i];
    edges[i] = sqrtf(gx * gx + gy * gy) / 2.0f; /* writers clamp */
  }

  /* ---- one pixel of each, by the definition. */
  const int64_t cy = h / 2, cx = w / 3;
  if (!close_to(blur[cy * w + cx], at(x, h, w, gauss, 5, cy, cx), "blur") ||
      !close_to(grad[cy * w + cx], at(x, h, w, sobel[0], 3, cy, cx), "d/dx") ||
      !close_to(grad[h * w + cy * w + cx], at(x, h, w, sobel[1], 3, cy, cx),
                "d/dy") ||
      !close_to(blur[0], at(x, h, w, gauss, 5, 0, 0), "blur corner"))
    goto done;

  if (image_write(argv[2], blur, h, w) != 0 ||
      image_write(argv[3], edges, h, w) != 0)
    goto done;
  printf("filter: wrote %s and %s\n", argv[2], argv[3]);
  rc = 0;
done:
  conv_plan_destroy(plan);
  conv_context_destroy(ctx);
  free(x);
  free(blur);
  free(grad);
  free(edges);
  return rc;
}
