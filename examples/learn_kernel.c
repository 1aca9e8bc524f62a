/* SPDX-License-Identifier: Apache-2.0 */
/* Learning a kernel by gradient descent: the loop a training framework runs,
 * with libconv's forward and weight gradient.
 *
 * A hidden 3x3 kernel (a vertical-edge detector plus a bias) makes targets
 * t = conv(x, w_true) + b_true from random images x. Starting from w = 0,
 * each step computes y = conv(x, w) + b, the mean squared error
 * L = mean((y - t)^2), its gradient dL/dy = 2 (y - t) / count, and from it
 * dL/dw and dL/db with conv_backward_weight; then w -= lr * dL/dw. The loss
 * falls towards 0 and w towards w_true. One plan serves every step. */
#include <conv.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define N 8
#define H 16
#define W 16
#define K 3
#define HO (H - K + 1)
#define WO (W - K + 1)
#define STEPS 300

static uint64_t rng = 0x9e3779b97f4a7c15u;
static float uniform(void) { /* [-1, 1), xorshift64 */
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (float)((rng >> 40) / (double)(1u << 24)) * 2.0f - 1.0f;
}

int main(void) {
  static float x[N * H * W], t[N * HO * WO], y[N * HO * WO], dy[N * HO * WO];
  const float w_true[K * K] = {1, 0, -1, 2, 0, -2, 1, 0, -1};
  const float b_true = 0.5f;
  float w[K * K] = {0}, b = 0.0f, dw[K * K], db;
  int rc = 1;

  conv_desc d;
  conv_desc_init(&d);
  d.n = N; d.c_in = 1; d.h = H; d.w = W;
  d.c_out = 1; d.kernel[0] = K; d.kernel[1] = K;
  d.has_bias = 1;

  conv_context *ctx = NULL;
  conv_plan *plan = NULL;
  if (conv_context_create(&ctx, NULL, NULL) != CONV_SUCCESS) {
    fprintf(stderr, "learn_kernel: %s\n", conv_last_error(NULL));
    return 1;
  }
  if (conv_plan_create(ctx, &d, &plan) != CONV_SUCCESS) goto fail;

  for (int i = 0; i < N * H * W; i++) x[i] = uniform();
  if (conv_forward(plan, x, w_true, &b_true, t) != CONV_SUCCESS) goto fail;

  const float lr = 0.1f;
  const int count = N * HO * WO;
  double loss = 0.0;
  for (int step = 0; step <= STEPS; step++) {
    if (conv_forward(plan, x, w, &b, y) != CONV_SUCCESS) goto fail;
    loss = 0.0;
    for (int i = 0; i < count; i++) {
      const float e = y[i] - t[i];
      loss += (double)e * e;
      dy[i] = 2.0f * e / (float)count;
    }
    loss /= count;
    if (step % 50 == 0) printf("step %3d  loss %.3e\n", step, loss);
    if (step == STEPS) break;
    if (conv_backward_weight(plan, x, dy, dw, &db) != CONV_SUCCESS) goto fail;
    for (int i = 0; i < K * K; i++) w[i] -= lr * dw[i];
    b -= lr * db;
  }

  printf("learned w:");
  double err = fabs(b - b_true);
  for (int i = 0; i < K * K; i++) {
    printf(" %.3f", w[i]);
    err = fmax(err, fabs(w[i] - w_true[i]));
  }
  printf("  b: %.3f\n", b);
  if (!(loss < 1e-6) || !(err < 1e-3)) {
    fprintf(stderr, "learn_kernel: did not converge (loss %g, max error %g)\n",
            loss, err);
    goto done;
  }
  rc = 0;
  goto done;
fail:
  fprintf(stderr, "learn_kernel: %s\n", conv_last_error(ctx));
done:
  conv_plan_destroy(plan);
  conv_context_destroy(ctx);
  return rc;
}
