/* SPDX-License-Identifier: Apache-2.0 */
/* A program as a user writes it: only <conv.h>, only -lconv. It reproduces
 * the seed examples by hand, exactly (small integers are exact in float32
 * whatever the summation order), with the best available backend and with
 * "cpu". Not a Check program on purpose: it must need nothing else.
 * Exit 0 on success, 1 on failure. */
#include <conv.h>
#include <stdio.h>
#include <string.h>

static int failures;

#define EXPECT(cond, ...)                   \
  do {                                      \
    if (!(cond)) {                          \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);         \
      fputc('\n', stderr);                  \
      failures++;                           \
    }                                       \
  } while (0)

/* Runs forward on one (1, C, H, W) image and compares y exactly. */
static void forward_case(conv_context *ctx, const char *label,
                         const conv_desc *d, const float *x, const float *w,
                         const float *want, int64_t want_h, int64_t want_w) {
  conv_plan *plan = NULL;
  conv_status st = conv_plan_create(ctx, d, &plan);
  EXPECT(st == CONV_SUCCESS, "%s: plan: %s", label, conv_last_error(ctx));
  if (st != CONV_SUCCESS) return;
  int64_t h = 0, w_out = 0;
  conv_plan_output_size(plan, &h, &w_out);
  EXPECT(h == want_h && w_out == want_w, "%s: output %lldx%lld", label,
         (long long)h, (long long)w_out);
  float y[64];
  for (int i = 0; i < 64; i++) y[i] = -12345.0f;
  st = conv_forward(plan, x, w, NULL, y);
  EXPECT(st == CONV_SUCCESS, "%s: forward: %s", label, conv_last_error(ctx));
  for (int64_t i = 0; st == CONV_SUCCESS && i < want_h * want_w; i++)
    EXPECT(y[i] == want[i], "%s: y[%lld] = %g, expected %g", label,
           (long long)i, (double)y[i], (double)want[i]);
  conv_plan_destroy(plan);
}

static void run_examples(const char *backend) {
  conv_context *ctx = NULL;
  conv_status st = conv_context_create(&ctx, backend, NULL);
  EXPECT(st == CONV_SUCCESS, "context %s: %s (%s)",
         backend ? backend : "(best available)", conv_status_string(st),
         conv_last_error(NULL));
  if (st != CONV_SUCCESS) return;
  printf("backend %s -> %s on %s\n", backend ? backend : "(best available)",
         conv_context_backend(ctx), conv_context_device(ctx));

  conv_desc d;
  float x9[9];
  for (int i = 0; i < 9; i++) x9[i] = (float)i; /* arange(9) as 3x3 */
  const float k2[4] = {0, 1, 2, 3};             /* [[0,1],[2,3]] */

  conv_desc_init(&d);
  d.n = d.c_in = d.c_out = 1;
  d.h = d.w = 3;
  d.kernel[0] = d.kernel[1] = 2;
  const float want1[4] = {19, 25, 37, 43};
  forward_case(ctx, "arange(9) * [[0,1],[2,3]]", &d, x9, k2, want1, 2, 2);

  d.pad[0] = d.pad[1] = d.pad[2] = d.pad[3] = 1;
  d.stride[0] = d.stride[1] = 2;
  const float want2[4] = {0, 8, 21, 43};
  forward_case(ctx, "padding 1 stride 2", &d, x9, k2, want2, 2, 2);

  /* 5x5 image with the vertical edge kernel [[1,0,-1]]*3; the image is the
   * one tests/golden/gen_golden.py uses (EDGE_5X5). */
  const float edge_x[25] = {1, 2, 1, 2, 0,
                            0, 0, 2, 2, 0,
                            1, 1, 1, 1, 0,
                            1, 1, 2, 1, 2,
                            1, 0, 0, 2, 0};
  const float edge_w[9] = {1, 0, -1, 1, 0, -1, 1, 0, -1};
  const float want3[9] = {-2, -2, 4, -3, -2, 3, 0, -2, 1};
  conv_desc_init(&d);
  d.n = d.c_in = d.c_out = 1;
  d.h = d.w = 5;
  d.kernel[0] = d.kernel[1] = 3;
  forward_case(ctx, "5x5 vertical edge", &d, edge_x, edge_w, want3, 3, 3);

  /* Three channels summed into one 1x3 output: [11, 1, 26] (gen_golden.py's
   * THREE_CH_X / THREE_CH_W). */
  const float tx[45] = {6, 3, 0, 6, 1, 1, 0, 6, 5, 0, 4, 6, 3, 5, 0,
                        3, 4, 4, 5, 6, 6, 3, 6, 4, 2, 0, 5, 1, 2, 0,
                        0, 0, 5, 2, 4, 0, 4, 3, 6, 1, 6, 6, 5, 4, 3};
  const float tw[27] = {1, 0, -1, 1, 0, -1, 1, 0, -1,
                        1, 1, 1, 0, 0, 0, -1, -1, -1,
                        0, 0, 0, 0, 1, 0, 0, 0, 0};
  const float want4[3] = {11, 1, 26};
  conv_desc_init(&d);
  d.n = 1;
  d.c_in = 3;
  d.c_out = 1;
  d.h = 3;
  d.w = 5;
  d.kernel[0] = d.kernel[1] = 3;
  forward_case(ctx, "three channels", &d, tx, tw, want4, 1, 3);

  /* The gradients of the first example with dy = ones: dx is the sum of
   * the taps reaching each pixel, dw the sum of the windows, db = 4. */
  conv_desc_init(&d);
  d.n = d.c_in = d.c_out = 1;
  d.h = d.w = 3;
  d.kernel[0] = d.kernel[1] = 2;
  d.has_bias = 1;
  conv_plan *plan = NULL;
  st = conv_plan_create(ctx, &d, &plan);
  EXPECT(st == CONV_SUCCESS, "gradient plan: %s", conv_last_error(ctx));
  if (st == CONV_SUCCESS) {
    const float dy[4] = {1, 1, 1, 1};
    float dx[9], dw[4], db[1], db2[1];
    const float want_dx[9] = {0, 1, 1, 2, 6, 4, 2, 5, 3};
    const float want_dw[4] = {8, 12, 20, 24};
    EXPECT(conv_backward_data(plan, dy, k2, dx) == CONV_SUCCESS, "bwd data: %s",
           conv_last_error(ctx));
    EXPECT(conv_backward_weight(plan, x9, dy, dw, db) == CONV_SUCCESS,
           "bwd weight: %s", conv_last_error(ctx));
    EXPECT(conv_backward_bias(plan, dy, db2) == CONV_SUCCESS, "bwd bias: %s",
           conv_last_error(ctx));
    for (int i = 0; i < 9; i++)
      EXPECT(dx[i] == want_dx[i], "dx[%d] = %g, expected %g", i, (double)dx[i],
             (double)want_dx[i]);
    for (int i = 0; i < 4; i++)
      EXPECT(dw[i] == want_dw[i], "dw[%d] = %g, expected %g", i, (double)dw[i],
             (double)want_dw[i]);
    EXPECT(db[0] == 4 && db2[0] == 4, "db = %g, %g, expected 4", (double)db[0],
           (double)db2[0]);
    conv_plan_destroy(plan);
  }
  conv_context_destroy(ctx);
}

int main(void) {
  printf("libconv %s (built against %s)\n", conv_version_string(),
         CONV_VERSION_STRING);
  EXPECT(conv_version() == CONV_VERSION, "version %d vs header %d",
         conv_version(), CONV_VERSION);
  run_examples(NULL);
  run_examples("cpu");
  if (failures) fprintf(stderr, "%d failure(s)\n", failures);
  return failures ? 1 : 0;
}
