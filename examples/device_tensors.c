/* SPDX-License-Identifier: Apache-2.0 */
/* Keeping data on the device across calls: a convolution followed by max
 * pooling, run on conv_tensors so that the intermediate result never comes
 * back to the host. Only the final output is downloaded. With the opencl
 * backend the tensors are cl_mem buffers; with cpu they are host memory and
 * the same code runs unchanged.
 *
 *   device_tensors [BACKEND]     (default: $CONV_BACKEND, else the best)
 *
 * The result is checked against the same two layers run with host pointers. */
#include <conv.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define N 2
#define C_IN 3
#define C_OUT 8
#define H 32
#define W 32
#define RUNS 5

int main(int argc, char **argv) {
  int rc = 1;
  conv_context *ctx = NULL;
  conv_plan *conv = NULL;
  conv_pool_plan *pool = NULL;
  conv_tensor *tx = NULL, *tw = NULL, *tb = NULL, *ty = NULL, *tz = NULL;
  float *x = NULL, *wt = NULL, *b = NULL, *y = NULL, *z = NULL, *z_host = NULL;

  if (conv_context_create(&ctx, argc > 1 ? argv[1] : NULL, NULL) !=
      CONV_SUCCESS) {
    fprintf(stderr, "device_tensors: %s\n", conv_last_error(NULL));
    return 1;
  }
  printf("device_tensors: %s on %s\n", conv_context_backend(ctx),
         conv_context_device(ctx));

  conv_desc d; /* 3x3, padding 1: the output keeps H x W */
  conv_desc_init(&d);
  d.n = N; d.c_in = C_IN; d.h = H; d.w = W;
  d.c_out = C_OUT; d.kernel[0] = 3; d.kernel[1] = 3;
  d.pad[0] = d.pad[1] = d.pad[2] = d.pad[3] = 1;
  d.has_bias = 1;
  conv_pool_desc p; /* 2x2, stride 2 */
  conv_pool_desc_init(&p);
  p.n = N; p.c = C_OUT; p.h = H; p.w = W;
  p.kernel[0] = 2; p.kernel[1] = 2;

  const size_t nx = N * C_IN * H * W, nw = C_OUT * C_IN * 9, nb = C_OUT;
  const size_t ny = N * C_OUT * H * W, nz = N * C_OUT * (H / 2) * (W / 2);
  x = malloc(nx * sizeof *x);
  wt = malloc(nw * sizeof *wt);
  b = malloc(nb * sizeof *b);
  y = malloc(ny * sizeof *y);
  z = malloc(nz * sizeof *z);
  z_host = malloc(nz * sizeof *z_host);
  if (!x || !wt || !b || !y || !z || !z_host) {
    fprintf(stderr, "device_tensors: out of memory\n");
    goto done;
  }
  for (size_t i = 0; i < nx; i++) x[i] = (float)((i * 37) % 101) / 50.0f - 1;
  for (size_t i = 0; i < nw; i++) wt[i] = (float)((i * 13) % 17) / 8.0f - 1;
  for (size_t i = 0; i < nb; i++) b[i] = 0.1f * (float)i;

  if (conv_plan_create(ctx, &d, &conv) != CONV_SUCCESS ||
      conv_pool_plan_create(ctx, &p, &pool) != CONV_SUCCESS)
    goto fail;

  /* Upload the input and the parameters once. */
  if (conv_tensor_create(ctx, nx, &tx) != CONV_SUCCESS ||
      conv_tensor_create(ctx, nw, &tw) != CONV_SUCCESS ||
      conv_tensor_create(ctx, nb, &tb) != CONV_SUCCESS ||
      conv_tensor_create(ctx, ny, &ty) != CONV_SUCCESS ||
      conv_tensor_create(ctx, nz, &tz) != CONV_SUCCESS ||
      conv_tensor_upload(tx, x, nx) != CONV_SUCCESS ||
      conv_tensor_upload(tw, wt, nw) != CONV_SUCCESS ||
      conv_tensor_upload(tb, b, nb) != CONV_SUCCESS)
    goto fail;

  /* Several passes, as a program serving a stream would run them: nothing
   * crosses to the host between the two layers. */
  for (int run = 0; run < RUNS; run++)
    if (conv_forward_tensor(conv, tx, tw, tb, ty) != CONV_SUCCESS ||
        conv_maxpool_forward_tensor(pool, ty, tz) != CONV_SUCCESS)
      goto fail;
  if (conv_tensor_download(tz, z, nz) != CONV_SUCCESS) goto fail;

  /* The same with host pointers. */
  if (conv_forward(conv, x, wt, b, y) != CONV_SUCCESS ||
      conv_maxpool_forward(pool, y, z_host, NULL) != CONV_SUCCESS)
    goto fail;
  for (size_t i = 0; i < nz; i++)
    if (!(fabsf(z[i] - z_host[i]) <= 1e-5f * (1.0f + fabsf(z_host[i])))) {
      fprintf(stderr, "device_tensors: z[%zu] = %g on the device, %g by host "
              "calls\n", i, z[i], z_host[i]);
      goto done;
    }
  printf("device_tensors: %d passes of conv 3x3 (%s) + max pool 2x2 on the "
         "device; %zu outputs match the host calls\n",
         RUNS, conv_plan_algorithm(conv, CONV_OP_FORWARD), nz);
  rc = 0;
  goto done;
fail:
  fprintf(stderr, "device_tensors: %s\n", conv_last_error(ctx));
done:
  conv_tensor_destroy(tx);
  conv_tensor_destroy(tw);
  conv_tensor_destroy(tb);
  conv_tensor_destroy(ty);
  conv_tensor_destroy(tz);
  conv_pool_plan_destroy(pool);
  conv_plan_destroy(conv);
  conv_context_destroy(ctx);
  free(x);
  free(wt);
  free(b);
  free(y);
  free(z);
  free(z_host);
  return rc;
}
