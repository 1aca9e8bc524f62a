/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_clblast: the peer of libconv's opencl forward pass, CLBlast's own
 * convolution (CLBlastSconvgemm, im2col + GEMM with CLBlast's parameters
 * for the device: its defaults, or what clblast_tuner_xconvgemm and
 * clblast_tuner_xgemm stored), timed in the same run on the same device,
 * alternating layer by layer with libconv (device tensors on both sides,
 * no bias: convgemm has none). Prints per layer both times, the ratio
 * (CLBlast ms / libconv ms: above 1, libconv is faster) and the geometric
 * mean; checks that both computed the same output (1e-4).
 *
 *   bench_clblast [--suite FILE] [--layer GLOB] [--repeat R] [--device D]
 *                 [--clblast-params FILE]...
 *
 * --clblast-params gives CLBlast parameters for a kernel family, applied
 * with CLBlastOverrideParameters before any layer runs: a JSON file that a
 * CLBlast tuner wrote (clblast_tuner_xconvgemm -> clblast_xconvgemm_32.json:
 * its "kernel_family" and "best_parameters"), or a text file "Kernel NAME=V
 * NAME=V ...". Without it CLBlast uses its own database (defaults for
 * devices it does not know, such as PoCL's CPU device).
 *
 * Layers convgemm cannot run (groups, non-zero padding modes, uneven pads,
 * flip) are listed as skipped.
 */
#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <clblast_c.h>
#include <ctype.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timing.h"
#include "tools.h"

/* The OpenCL device whose name is `name` (libconv's device), else the
 * first. */
static int find_device(const char *name, cl_device_id *out) {
  cl_platform_id plats[16];
  cl_uint np = 0;
  int found = 0;
  if (clGetPlatformIDs(16, plats, &np) != CL_SUCCESS) return -1;
  for (cl_uint p = 0; p < np; p++) {
    cl_device_id devs[16];
    cl_uint nd = 0;
    if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 16, devs, &nd) !=
        CL_SUCCESS)
      continue;
    for (cl_uint d = 0; d < nd; d++) {
      char dn[256] = "";
      clGetDeviceInfo(devs[d], CL_DEVICE_NAME, sizeof dn, dn, NULL);
      if (!found || strcmp(dn, name) == 0) {
        *out = devs[d];
        if (strcmp(dn, name) == 0) return 0;
        found = 1;
      }
    }
  }
  return found ? 0 : -1;
}

/* The value of JSON string field `key` in text (no escapes), or NULL. */
static int json_field(const char *text, const char *key, char *out,
                       size_t len) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\"", key);
  const char *p = strstr(text, pat);
  if (p == NULL) return -1;
  p += strlen(pat);
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ':') p++;
  if (*p != '"') return -1;
  const char *e = strchr(++p, '"');
  if (e == NULL || (size_t)(e - p) >= len) return -1;
  memcpy(out, p, (size_t)(e - p));
  out[e - p] = '\0';
  return 0;
}

/* Reads a --clblast-params file and overrides CLBlast's parameters for
 * its kernel on dev; 0 on success, else prints why. */
static int override_params(const char *path, cl_device_id dev) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "bench_clblast: --clblast-params %s: cannot open\n", path);
    return -1;
  }
  static char text[1 << 20];
  const size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  char kernel[64], params[2048];
  if (text[0] == '{' || strchr(text, '"') != NULL) {
    /* The tuner names the family ("xconvgemm", "xgemm_direct"); CLBlast's
     * database names the kernel in camel case ("Xconvgemm",
     * "XgemmDirect"). */
    char family[64];
    if (json_field(text, "kernel_family", family, sizeof family) != 0) {
      fprintf(stderr, "bench_clblast: %s: no \"kernel_family\"\n", path);
      return -1;
    }
    size_t o = 0;
    for (size_t i = 0; family[i] != '\0' && o + 1 < sizeof kernel; i++) {
      if (family[i] == '_') continue;
      const int up = i == 0 || family[i - 1] == '_';
      kernel[o++] = up ? (char)toupper((unsigned char)family[i]) : family[i];
    }
    kernel[o] = '\0';
    if (json_field(text, "best_parameters", params, sizeof params) != 0) {
      fprintf(stderr, "bench_clblast: %s: no \"best_parameters\"\n", path);
      return -1;
    }
  } else if (sscanf(text, "%63s %2047[^\n]", kernel, params) != 2) {
    fprintf(stderr, "bench_clblast: %s: expected \"Kernel NAME=V ...\"\n", path);
    return -1;
  }
  char *names[32];
  size_t values[32], count = 0;
  char *save = NULL;
  for (char *t = strtok_r(params, " \t\n", &save); t != NULL;
       t = strtok_r(NULL, " \t\n", &save)) {
    char *eq = strchr(t, '=');
    if (eq == NULL || count == 32) {
      fprintf(stderr, "bench_clblast: %s: bad parameter '%s'\n", path, t);
      return -1;
    }
    *eq = '\0';
    if (strcmp(t, "PRECISION") == 0) continue; /* the tuner's own field */
    char *end;
    const unsigned long v = strtoul(eq + 1, &end, 10);
    if (*end != '\0' || end == eq + 1) {
      fprintf(stderr, "bench_clblast: %s: bad value '%s'\n", path, eq + 1);
      return -1;
    }
    names[count] = t;
    values[count++] = v;
  }
  const CLBlastStatusCode s = CLBlastOverrideParameters(
      dev, kernel, CLBlastPrecisionSingle, count, (const char **)names,
      values);
  if (s != CLBlastSuccess) {
    fprintf(stderr, "bench_clblast: CLBlastOverrideParameters(%s) from %s "
            "failed (%d)\n", kernel, path, (int)s);
    return -1;
  }
  printf("CLBlast %s parameters from %s:", kernel, path);
  for (size_t i = 0; i < count; i++) printf(" %s=%zu", names[i], values[i]);
  printf("\n");
  return 0;
}

int main(int argc, char **argv) {
  const char *suite_arg = "default", *glob = NULL, *device = NULL;
  const char *params[8];
  int repeat = 5, nparams = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--suite") == 0 && i + 1 < argc) suite_arg = argv[++i];
    else if (strcmp(argv[i], "--layer") == 0 && i + 1 < argc) glob = argv[++i];
    else if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) device = argv[++i];
    else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) repeat = atoi(argv[++i]);
    else if (strcmp(argv[i], "--clblast-params") == 0 && i + 1 < argc &&
             nparams < 8)
      params[nparams++] = argv[++i];
    else {
      fprintf(stderr, "usage: bench_clblast [--suite FILE] [--layer GLOB] "
              "[--repeat R] [--device D] [--clblast-params FILE]...\n");
      return EXIT_USAGE;
    }
  }
  if (repeat < 1) repeat = 1;
  char path[4096], err[512];
  suite_layer *layers = NULL;
  size_t nl = 0;
  if (suite_find(suite_arg, path, sizeof path) == NULL ||
      suite_load(path, &layers, &nl, err, sizeof err) != 0) {
    fprintf(stderr, "bench_clblast: suite '%s': %s\n", suite_arg,
            suite_find(suite_arg, path, sizeof path) ? err : "not found");
    return EXIT_USAGE;
  }
  conv_context *ctx = NULL;
  if (conv_context_create(&ctx, "opencl", device) != CONV_SUCCESS) {
    fprintf(stderr, "bench_clblast: %s\n", conv_last_error(NULL));
    return EXIT_FAILED;
  }
  cl_device_id dev;
  if (find_device(conv_context_device(ctx), &dev) != 0) {
    fprintf(stderr, "bench_clblast: no OpenCL device\n");
    return EXIT_FAILED;
  }
  for (int i = 0; i < nparams; i++)
    if (override_params(params[i], dev) != 0) return EXIT_USAGE;
  cl_int e;
  cl_context cctx = clCreateContext(NULL, 1, &dev, NULL, NULL, &e);
  cl_command_queue q = clCreateCommandQueue(cctx, dev, 0, &e);
  printf("device: %s\n%-16s %12s %12s %8s  %s\n", conv_context_device(ctx),
         "layer", "clblast_ms", "libconv_ms", "ratio", "check");
  double logsum = 0.0;
  int counted = 0, failed = 0;
  for (size_t li = 0; li < nl; li++) {
    conv_desc d = layers[li].desc;
    if (glob != NULL && fnmatch(glob, layers[li].name, 0) != 0) continue;
    int64_t oh, ow, pads[4];
    conv_output_size(&d, &oh, &ow, pads);
    if (d.groups != 1 || d.padding_mode != CONV_PAD_ZEROS || d.flip_kernel ||
        pads[0] != pads[1] || pads[2] != pads[3]) {
      printf("%-16s %12s\n", layers[li].name, "skipped (convgemm cannot)");
      continue;
    }
    d.has_bias = 0;
    const size_t nx = (size_t)(d.n * d.c_in * d.h * d.w);
    const size_t nw = (size_t)(d.c_out * d.c_in * d.kernel[0] * d.kernel[1]);
    const size_t ny = (size_t)(d.n * d.c_out * oh * ow);
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *y0 = malloc(ny * 4),
          *y1 = malloc(ny * 4);
    for (size_t i = 0; i < nx; i++) x[i] = (float)((i * 7919) % 1000) / 500.0f - 1;
    for (size_t i = 0; i < nw; i++) w[i] = (float)((i * 104729) % 1000) / 500.0f - 1;
    /* libconv */
    conv_plan *plan = NULL;
    conv_tensor *tx = NULL, *tw = NULL, *ty = NULL;
    if (conv_plan_create(ctx, &d, &plan) != CONV_SUCCESS ||
        conv_tensor_create(ctx, nx, &tx) != CONV_SUCCESS ||
        conv_tensor_create(ctx, nw, &tw) != CONV_SUCCESS ||
        conv_tensor_create(ctx, ny ? ny : 1, &ty) != CONV_SUCCESS) {
      fprintf(stderr, "bench_clblast: %s: %s\n", layers[li].name,
              conv_last_error(ctx));
      return EXIT_FAILED;
    }
    conv_tensor_upload(tx, x, nx);
    conv_tensor_upload(tw, w, nw);
    /* CLBlast */
    cl_mem cx = clCreateBuffer(cctx, CL_MEM_COPY_HOST_PTR | CL_MEM_READ_WRITE,
                               nx * 4, x, &e);
    cl_mem cw = clCreateBuffer(cctx, CL_MEM_COPY_HOST_PTR | CL_MEM_READ_WRITE,
                               nw * 4, w, &e);
    cl_mem cy = clCreateBuffer(cctx, CL_MEM_READ_WRITE, ny * 4, NULL, &e);
    double tb[64], tl[64];
    if (repeat > 63) repeat = 63;
    int ok = 1;
    for (int r = -1; r < repeat && ok; r++) { /* r = -1: warm-up */
      double t0 = tool_now_s();
      CLBlastStatusCode s = CLBlastSconvgemm(
          CLBlastKernelModeCrossCorrelation, (size_t)d.c_in, (size_t)d.h,
          (size_t)d.w, (size_t)d.kernel[0], (size_t)d.kernel[1],
          (size_t)pads[0], (size_t)pads[2], (size_t)d.stride[0],
          (size_t)d.stride[1], (size_t)d.dilation[0], (size_t)d.dilation[1],
          (size_t)d.c_out, (size_t)d.n, cx, 0, cw, 0, cy, 0, &q, NULL);
      clFinish(q);
      if (s != CLBlastSuccess) {
        printf("%-16s CLBlastSconvgemm failed (%d)\n", layers[li].name, (int)s);
        ok = 0;
        break;
      }
      if (r >= 0) tb[r] = 1e3 * (tool_now_s() - t0);
      t0 = tool_now_s();
      if (conv_forward_tensor(plan, tx, tw, NULL, ty) != CONV_SUCCESS) {
        printf("%-16s libconv failed: %s\n", layers[li].name, conv_last_error(ctx));
        ok = 0;
        break;
      }
      if (r >= 0) tl[r] = 1e3 * (tool_now_s() - t0);
    }
    if (ok) {
      clEnqueueReadBuffer(q, cy, CL_TRUE, 0, ny * 4, y0, 0, NULL, NULL);
      conv_tensor_download(ty, y1, ny);
      double maxref = 1e-6, maxdiff = 0.0;
      for (size_t i = 0; i < ny; i++) {
        if (fabs(y0[i]) > maxref) maxref = fabs(y0[i]);
        const double df = fabs((double)y0[i] - y1[i]);
        if (!(df <= maxdiff)) maxdiff = df;
      }
      const double mb = tool_median(tb, repeat), ml = tool_median(tl, repeat);
      const int same = maxdiff / maxref <= 1e-4;
      failed |= !same;
      printf("%-16s %12.3f %12.3f %8.2f  %s (%.1e of max |y| %.3g)\n",
             layers[li].name, mb, ml, mb / ml, same ? "same" : "DIFFERENT",
             maxdiff / maxref, maxref);
      logsum += log(mb / ml);
      counted++;
    }
    clReleaseMemObject(cx);
    clReleaseMemObject(cw);
    clReleaseMemObject(cy);
    conv_tensor_destroy(tx);
    conv_tensor_destroy(tw);
    conv_tensor_destroy(ty);
    conv_plan_destroy(plan);
    free(x); free(w); free(y0); free(y1);
  }
  if (counted > 0)
    printf("geometric mean of clblast_ms / libconv_ms over %d layers: %.2f\n",
           counted, exp(logsum / counted));
  clReleaseCommandQueue(q);
  clReleaseContext(cctx);
  conv_context_destroy(ctx);
  free(layers);
  return failed ? EXIT_FAILED : EXIT_OK;
}
