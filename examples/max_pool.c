/* SPDX-License-Identifier: Apache-2.0 */
/* Max pooling as torch.nn.MaxPool2d(2, return_indices=True) and its
 * backward, on one 4x4 plane. Prints y, the indices and dx, and checks them
 * against the values PyTorch gives:
 *
 *   x = torch.tensor([[[[1, 3, 2, 0], [4, 2, 1, 5], [0, 1, 7, 6],
 *                       [2, 8, 3, 3]]]], dtype=torch.float32,
 *                    requires_grad=True)
 *   y, idx = torch.nn.functional.max_pool2d(x, 2, return_indices=True)
 *   y.backward(torch.tensor([[[[10., 20.], [30., 40.]]]]))
 *   # y = [[4, 5], [8, 7]], idx = [[4, 7], [13, 10]], x.grad has 10 at 4,
 *   # 20 at 7, 30 at 13, 40 at 10 */
#include <conv.h>
#include <stdio.h>

int main(void) {
  const float x[16] = {1, 3, 2, 0,
                       4, 2, 1, 5,
                       0, 1, 7, 6,
                       2, 8, 3, 3};
  const float dy[4] = {10, 20, 30, 40};
  const float y_want[4] = {4, 5, 8, 7};
  const int64_t idx_want[4] = {4, 7, 13, 10};
  float y[4], dx[16];
  int64_t idx[4];
  int rc = 1;

  conv_pool_desc p;
  conv_pool_desc_init(&p); /* stride = kernel, no padding, floor mode */
  p.n = 1; p.c = 1; p.h = 4; p.w = 4;
  p.kernel[0] = 2; p.kernel[1] = 2;

  conv_context *ctx = NULL;
  conv_pool_plan *plan = NULL;
  if (conv_context_create(&ctx, NULL, NULL) != CONV_SUCCESS) {
    fprintf(stderr, "max_pool: %s\n", conv_last_error(NULL));
    return 1;
  }
  if (conv_pool_plan_create(ctx, &p, &plan) != CONV_SUCCESS ||
      conv_maxpool_forward(plan, x, y, idx) != CONV_SUCCESS ||
      conv_maxpool_backward(plan, x, dy, dx) != CONV_SUCCESS) {
    fprintf(stderr, "max_pool: %s\n", conv_last_error(ctx));
    goto done;
  }
  printf("y       = [[%g, %g], [%g, %g]]\n", y[0], y[1], y[2], y[3]);
  printf("indices = [[%lld, %lld], [%lld, %lld]]\n", (long long)idx[0],
         (long long)idx[1], (long long)idx[2], (long long)idx[3]);
  printf("dx      =");
  for (int i = 0; i < 16; i++) printf(" %g", dx[i]);
  printf("\n");
  for (int i = 0; i < 4; i++)
    if (y[i] != y_want[i] || idx[i] != idx_want[i] ||
        dx[idx_want[i]] != dy[i]) {
      fprintf(stderr, "max_pool: window %d differs from PyTorch's answer\n", i);
      goto done;
    }
  float sum = 0;
  for (int i = 0; i < 16; i++) sum += dx[i];
  if (sum != 100) {
    fprintf(stderr, "max_pool: dx sums to %g, expected 100\n", sum);
    goto done;
  }
  rc = 0;
done:
  conv_pool_plan_destroy(plan);
  conv_context_destroy(ctx);
  return rc;
}
