/* SPDX-License-Identifier: Apache-2.0 */
/* Rough timing of the cpu backend's algorithms on a few layers (not built by
 * default: `make -C backends/cpu bench_cpu`).
 * usage: bench_cpu [algo [threads]]   algo as CONV_ALGO (default: heuristic) */
#ifdef HAVE_CONFIG_H
#  include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu_internal.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU seconds of the process: on a loaded machine, wall time measures the
 * other processes too; CPU time (with OMP_WAIT_POLICY=passive, so idle
 * threads do not spin) measures our own work. */
static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct layer {
  const char *name;
  int64_t n, cin, cout, g, h, w, k, s, pad;
} layer;

int main(int argc, char **argv) {
  const char *algo = argc > 1 && strcmp(argv[1], "auto") != 0 ? argv[1] : NULL;
  int threads = argc > 2 ? atoi(argv[2]) : 0;
  const layer layers[] = {
      {"conv3x3 N8 64->64 56x56", 8, 64, 64, 1, 56, 56, 3, 1, 1},
      {"dw3x3 N8 C144 56x56", 8, 144, 144, 144, 56, 56, 3, 1, 1},
      {"conv1x1 N8 64->256 56x56", 8, 64, 256, 1, 56, 56, 1, 1, 0},
      {"conv7x7s2 N8 3->64 224x224", 8, 3, 64, 1, 224, 224, 7, 2, 3},
      {"conv3x3 N1 512->512 7x7", 1, 512, 512, 1, 7, 7, 3, 1, 1},
      {"conv3x3s2 N2 128->256 28x28", 2, 128, 256, 1, 28, 28, 3, 2, 1},
  };
  const conv_plugin *plug = conv_plugin_entry();
  void *backend, *device;
  conv_err err = {0};
  if (plug->init(&backend, &err) || plug->device_open(backend, 0, &device, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
    if (argc > 3 && strstr(layers[li].name, argv[3]) == NULL) continue;
    const layer *L = &layers[li];
    conv_problem p;
    memset(&p, 0, sizeof p);
    p.n = L->n; p.c_in = L->cin; p.c_out = L->cout; p.groups = L->g;
    p.h = L->h; p.w = L->w; p.kh = p.kw = L->k; p.stride_h = p.stride_w = L->s;
    p.dil_h = p.dil_w = 1; p.pad_t = p.pad_b = p.pad_l = p.pad_r = L->pad;
    p.h_out = (p.h + 2 * L->pad - L->k) / L->s + 1;
    p.w_out = (p.w + 2 * L->pad - L->k) / L->s + 1;
    p.has_bias = 1;
    size_t nx = (size_t)(p.n * p.c_in * p.h * p.w);
    size_t ny = (size_t)(p.n * p.c_out * p.h_out * p.w_out);
    size_t nw = (size_t)(p.c_out * (p.c_in / p.groups) * p.kh * p.kw);
    float *x = malloc(nx * 4), *dx = malloc(nx * 4), *y = malloc(ny * 4),
          *dy = malloc(ny * 4), *w = malloc(nw * 4), *dw = malloc(nw * 4),
          *b = malloc(p.c_out * 4), *db = malloc(p.c_out * 4);
    for (size_t i = 0; i < nx; i++) x[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < ny; i++) dy[i] = (float)(i % 5) * 0.1f;
    for (size_t i = 0; i < nw; i++) w[i] = (float)(i % 3) * 0.1f;
    for (int64_t i = 0; i < p.c_out; i++) b[i] = 0.5f;
    conv_plan_options opt = {algo, threads};
    void *plan;
    if (plug->plan_create(device, &p, &opt, &plan, &err) != CONV_SUCCESS) {
      printf("%-28s plan: %s\n", L->name, err.msg);
      continue;
    }
    double flops = 2.0 * (double)ny * (double)(p.c_in / p.groups * p.kh * p.kw);
    printf("%-27s", L->name);
    for (int op = 0; op < 3; op++) {
      double best = 1e30, best_cpu = 1e30;
      for (int rep = 0; rep < 6; rep++) {
        double t0 = now(), c0 = cpu_now();
        if (op == 0) plug->forward(plan, x, w, b, y, &err);
        if (op == 1) plug->backward_data(plan, dy, w, dx, &err);
        if (op == 2) plug->backward_weight(plan, x, dy, dw, db, &err);
        double t = now() - t0, c = cpu_now() - c0;
        if (rep > 0 && t < best) best = t;
        if (rep > 0 && c < best_cpu) best_cpu = c;
      }
      printf("  %s %-11s %7.2f ms %6.1f GF/s (%6.1f GF/cpu-s)",
             cpu_op_name((conv_op)op), plug->plan_algorithm(plan, (conv_op)op),
             best * 1e3, flops / best * 1e-9, flops / best_cpu * 1e-9);
    }
    printf("\n");
    plug->plan_destroy(plan);
    free(x); free(dx); free(y); free(dy); free(w); free(dw); free(b); free(db);
  }
  return 0;
}
