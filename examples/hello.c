/* SPDX-License-Identifier: Apache-2.0 */
/* The shortest program: one conv_conv2d call on the 5x5 vertical-edge case
 * (golden case seed_edge_5x5). Prints the 3x3 result and checks it.
 *   cc hello.c $(pkg-config --cflags --libs conv) */
#include <conv.h>
#include <stdio.h>

int main(void) {
  const float x[25] = {1, 2, 1, 2, 0,
                       0, 0, 2, 2, 0,
                       1, 1, 1, 1, 0,
                       1, 1, 2, 1, 2,
                       1, 0, 0, 2, 0};
  const float w[9] = {1, 0, -1,
                      1, 0, -1,
                      1, 0, -1};
  const float want[9] = {-2, -2, 4, -3, -2, 3, 0, -2, 1};
  float y[9];

  conv_desc d;
  conv_desc_init(&d); /* PyTorch's defaults: stride 1, no padding, no bias */
  d.n = 1; d.c_in = 1; d.h = 5; d.w = 5;
  d.c_out = 1; d.kernel[0] = 3; d.kernel[1] = 3;
  if (conv_conv2d(&d, x, w, NULL, y) != CONV_SUCCESS) {
    fprintf(stderr, "hello: %s\n", conv_last_error(NULL));
    return 1;
  }
  for (int i = 0; i < 3; i++)
    printf("%g %g %g\n", y[3 * i], y[3 * i + 1], y[3 * i + 2]);
  for (int i = 0; i < 9; i++)
    if (y[i] != want[i]) {
      fprintf(stderr, "hello: y[%d] = %g, expected %g\n", i, y[i], want[i]);
      return 1;
    }
  return 0;
}
