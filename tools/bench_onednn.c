/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_onednn: oneDNN (its C API) as a peer of the cpu backend's
 * `convinfo bench`, on the same suite file: forward (with bias),
 * backward-data and backward-weight with the bias gradient, each timed on
 * its own as bench_torch.py does (one warm-up, then the median and the
 * fastest of runs repeated until --min-time seconds or --repeat runs).
 *
 * Each pass is timed twice:
 *   passes          plain tensors in and out, libconv's contract: NCHW
 *                   x / dy / dx / y, OIHW (GOIHW) weights. oneDNN picks its
 *                   layouts (format `any`) and every reorder between ours
 *                   and its own is inside the timed region.
 *   passes_blocked  oneDNN's preferred layouts (nChw16c, ...), no reorder:
 *                   what a framework that keeps oneDNN's layouts pays.
 *
 *   bench_onednn [--suite FILE] [--layer GLOB] [--threads N] [--repeat R]
 *                [--min-time S] [--isa avx512|avx2|generic] [--json]
 *
 * --isa caps oneDNN's instruction set (dnnl_set_max_cpu_isa: AVX512_CORE,
 * AVX2, SSE41 for generic, oneDNN's lowest), the peer of CONV_CPU_ISA.
 * Layers oneDNN cannot express (padding modes other than zeros, flipped
 * kernels) get an error and no times. The JSON has bench_torch.py's shape
 * (tools/bench_compare.py reads both).
 */
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>
#ifdef _OPENMP
#  include <omp.h>
#endif

#include "timing.h"
#include "tools.h"

#define MAX_RE 3 /* reorders before a pass: its inputs */

static const char *const pass_names[3] = {"forward", "backward_data",
                                          "backward_weight"};

/* A failed oneDNN call: the message goes to err, the caller's label runs. */
#define DN(call)                                                          \
  do {                                                                    \
    dnnl_status_t s_ = (call);                                            \
    if (s_ != dnnl_success) {                                             \
      snprintf(err, errlen, "oneDNN: %s: status %d", #call, (int)s_);     \
      goto fail;                                                          \
    }                                                                     \
  } while (0)

/* One pass: the primitive, its arguments, the reorders of its inputs from
 * plain tensors and of its output back (NULL where the layouts agree). */
typedef struct pass {
  dnnl_primitive_desc_t pd;
  dnnl_primitive_t prim;
  dnnl_exec_arg_t args[8];
  int nargs;
  dnnl_primitive_t re[MAX_RE], post, post2;
  dnnl_memory_t re_src[MAX_RE], re_dst[MAX_RE], post_src, post_dst,
      post2_src, post2_dst;
  int nre;
  dnnl_memory_t owned[8]; /* memories made for oneDNN's layouts */
  int nowned;
  char impl[64];
} pass;

static void pass_free(pass *p) {
  for (int i = 0; i < p->nre; i++) dnnl_primitive_destroy(p->re[i]);
  if (p->post != NULL) dnnl_primitive_destroy(p->post);
  if (p->post2 != NULL) dnnl_primitive_destroy(p->post2);
  for (int i = 0; i < p->nowned; i++) dnnl_memory_destroy(p->owned[i]);
  if (p->prim != NULL) dnnl_primitive_destroy(p->prim);
  if (p->pd != NULL) dnnl_primitive_desc_destroy(p->pd);
  memset(p, 0, sizeof *p);
}

/* Binds argument `arg` of p to plain memory `plain` (descriptor
 * plain_md): directly when oneDNN's layout for it (query q, index idx: 1
 * for the bias among the weights) is the same,
 * else through a memory of its layout and a reorder (in: plain -> its
 * layout before the pass; out: back after it; two outputs at most). */
static int bind(pass *p, dnnl_engine_t eng, int arg, dnnl_query_t q, int idx,
                const dnnl_memory_desc_t *plain_md, dnnl_memory_t plain,
                int is_input, char *err, size_t errlen) {
  const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(p->pd, q, idx);
  dnnl_memory_t m = plain;
  dnnl_primitive_desc_t rpd = NULL;
  if (md == NULL) {
    snprintf(err, errlen, "oneDNN: no memory descriptor for argument %d", arg);
    return -1;
  }
  if (!dnnl_memory_desc_equal(md, plain_md)) {
    DN(dnnl_memory_create(&m, md, eng, DNNL_MEMORY_ALLOCATE));
    p->owned[p->nowned++] = m;
    dnnl_primitive_t r = NULL;
    if (is_input) {
      DN(dnnl_reorder_primitive_desc_create(&rpd, plain_md, eng, md, eng,
                                            NULL));
      DN(dnnl_primitive_create(&r, rpd));
      p->re[p->nre] = r;
      p->re_src[p->nre] = plain;
      p->re_dst[p->nre] = m;
      p->nre++;
    } else {
      DN(dnnl_reorder_primitive_desc_create(&rpd, md, eng, plain_md, eng,
                                            NULL));
      DN(dnnl_primitive_create(&r, rpd));
      if (p->post == NULL) {
        p->post = r;
        p->post_src = m;
        p->post_dst = plain;
      } else {
        p->post2 = r;
        p->post2_src = m;
        p->post2_dst = plain;
      }
    }
    dnnl_primitive_desc_destroy(rpd);
    rpd = NULL;
  }
  p->args[p->nargs].arg = arg;
  p->args[p->nargs].memory = m;
  p->nargs++;
  return 0;
fail:
  if (rpd != NULL) dnnl_primitive_desc_destroy(rpd);
  return -1;
}

static int reorder(dnnl_primitive_t r, dnnl_memory_t src, dnnl_memory_t dst,
                   dnnl_stream_t st) {
  dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
  return dnnl_primitive_execute(r, st, 2, a) == dnnl_success ? 0 : -1;
}

/* One run: with plain = 1 the reorders too. */
static int run(const pass *p, dnnl_stream_t st, int plain) {
  if (plain)
    for (int i = 0; i < p->nre; i++)
      if (reorder(p->re[i], p->re_src[i], p->re_dst[i], st) != 0) return -1;
  if (dnnl_primitive_execute(p->prim, st, p->nargs, p->args) != dnnl_success)
    return -1;
  if (plain && p->post != NULL &&
      reorder(p->post, p->post_src, p->post_dst, st) != 0)
    return -1;
  if (plain && p->post2 != NULL &&
      reorder(p->post2, p->post2_src, p->post2_dst, st) != 0)
    return -1;
  return dnnl_stream_wait(st) == dnnl_success ? 0 : -1;
}

typedef struct timing {
  double ms, min_ms;
  int runs;
} timing;

static int time_pass(const pass *p, dnnl_stream_t st, int plain, int repeat,
                     double min_time_ms, timing *t) {
  double *times = malloc(sizeof *times * (size_t)repeat);
  if (times == NULL) return -1;
  if (run(p, st, plain) != 0) { /* warm-up */
    free(times);
    return -1;
  }
  int n = 0, min_runs = repeat < 3 ? repeat : 3;
  double spent = 0;
  while (n < repeat && (n < min_runs || spent < min_time_ms)) {
    double t0 = tool_now_s();
    if (run(p, st, plain) != 0) {
      free(times);
      return -1;
    }
    times[n] = 1e3 * (tool_now_s() - t0);
    spent += times[n++];
  }
  t->ms = tool_median(times, n); /* sorts times */
  t->min_ms = times[0];
  t->runs = n;
  free(times);
  return 0;
}

/* ------------------------------------------------------------- a layer */

typedef struct layer_result {
  char error[512];
  int64_t h_out, w_out;
  double flops;
  timing t[2][3]; /* [blocked][pass] */
  char pass_error[3][256];
  char impl[3][64];
} layer_result;

static void fill(float *a, size_t n, unsigned *seed) {
  for (size_t i = 0; i < n; i++) {
    *seed = *seed * 1664525u + 1013904223u;
    a[i] = (float)((*seed >> 8) * (1.0 / 16777216.0) * 2.0 - 1.0);
  }
}

static void impl_name(pass *p) {
  const char *s = NULL;
  if (dnnl_primitive_desc_query(p->pd, dnnl_query_impl_info_str, 0, &s) !=
          dnnl_success ||
      s == NULL)
    s = "?";
  snprintf(p->impl, sizeof p->impl, "%s", s);
}

static void bench_layer(const suite_layer *L, dnnl_engine_t eng,
                        dnnl_stream_t st, int repeat, double min_time_ms,
                        layer_result *res) {
  char *err = res->error;
  const size_t errlen = sizeof res->error;
  const conv_desc *d = &L->desc;
  int64_t pads[4];
  float *x = NULL, *w = NULL, *b = NULL, *dy = NULL, *y = NULL, *dx = NULL,
        *dw = NULL, *db = NULL;
  dnnl_memory_t mx = NULL, mw = NULL, mb = NULL, mdy = NULL, my = NULL,
                mdx = NULL, mdw = NULL, mdb = NULL;
  dnnl_primitive_desc_t hint = NULL;
  pass ps[3];
  memset(ps, 0, sizeof ps);

  if (conv_output_size(d, &res->h_out, &res->w_out, pads) != CONV_SUCCESS) {
    snprintf(err, errlen, "%s", conv_last_error(NULL));
    return;
  }
  res->flops = conv_pass_flops(d, res->h_out, res->w_out);
  if (d->padding_mode != CONV_PAD_ZEROS) {
    snprintf(err, errlen, "padding_mode=%s: oneDNN pads with zeros only",
             suite_padding_mode_name(d->padding_mode));
    return;
  }
  if (d->flip_kernel) {
    snprintf(err, errlen, "flip_kernel: oneDNN has no flipped kernels");
    return;
  }
  const int64_t g = d->groups, n = d->n, ci = d->c_in, co = d->c_out;
  const int64_t kh = d->kernel[0], kw = d->kernel[1];
  const int64_t ho = res->h_out, wo = res->w_out;
  dnnl_dims_t xd = {n, ci, d->h, d->w}, yd = {n, co, ho, wo}, bd = {co};
  dnnl_dims_t wd1 = {co, ci, kh, kw}, wdg = {g, co / g, ci / g, kh, kw};
  dnnl_dims_t strides = {d->stride[0], d->stride[1]};
  dnnl_dims_t dil = {d->dilation[0] - 1, d->dilation[1] - 1};
  dnnl_dims_t pl = {pads[0], pads[2]}, pr = {pads[1], pads[3]};
  const int wnd = g > 1 ? 5 : 4;
  const int64_t *wdims = g > 1 ? wdg : wd1;
  const dnnl_format_tag_t wtag = g > 1 ? dnnl_goihw : dnnl_oihw;
  dnnl_memory_desc_t x_p, y_p, w_p, b_p, x_a, y_a, w_a, b_a;
  DN(dnnl_memory_desc_init_by_tag(&x_p, 4, xd, dnnl_f32, dnnl_nchw));
  DN(dnnl_memory_desc_init_by_tag(&y_p, 4, yd, dnnl_f32, dnnl_nchw));
  DN(dnnl_memory_desc_init_by_tag(&w_p, wnd, wdims, dnnl_f32, wtag));
  DN(dnnl_memory_desc_init_by_tag(&b_p, 1, bd, dnnl_f32, dnnl_x));
  DN(dnnl_memory_desc_init_by_tag(&x_a, 4, xd, dnnl_f32, dnnl_format_tag_any));
  DN(dnnl_memory_desc_init_by_tag(&y_a, 4, yd, dnnl_f32, dnnl_format_tag_any));
  DN(dnnl_memory_desc_init_by_tag(&w_a, wnd, wdims, dnnl_f32,
                                  dnnl_format_tag_any));
  DN(dnnl_memory_desc_init_by_tag(&b_a, 1, bd, dnnl_f32, dnnl_format_tag_any));

  /* Plain tensors, random in [-1, 1). */
  const size_t nx = (size_t)(n * ci * d->h * d->w), ny = (size_t)(n * co * ho * wo);
  const size_t nw = (size_t)(co * (ci / g) * kh * kw);
  x = malloc(nx * 4), dx = malloc(nx * 4), y = malloc(ny * 4),
  dy = malloc(ny * 4), w = malloc(nw * 4), dw = malloc(nw * 4),
  b = malloc((size_t)co * 4), db = malloc((size_t)co * 4);
  if (!x || !dx || !y || !dy || !w || !dw || !b || !db) {
    snprintf(err, errlen, "out of memory");
    goto fail;
  }
  unsigned seed = 1;
  fill(x, nx, &seed);
  fill(dy, ny, &seed);
  fill(w, nw, &seed);
  fill(b, (size_t)co, &seed);
  DN(dnnl_memory_create(&mx, &x_p, eng, x));
  DN(dnnl_memory_create(&mdx, &x_p, eng, dx));
  DN(dnnl_memory_create(&my, &y_p, eng, y));
  DN(dnnl_memory_create(&mdy, &y_p, eng, dy));
  DN(dnnl_memory_create(&mw, &w_p, eng, w));
  DN(dnnl_memory_create(&mdw, &w_p, eng, dw));
  DN(dnnl_memory_create(&mb, &b_p, eng, b));
  DN(dnnl_memory_create(&mdb, &b_p, eng, db));

  const dnnl_alg_kind_t alg = dnnl_convolution_direct;
  /* Forward (inference, as bench_torch's no_grad forward). */
  {
    dnnl_convolution_desc_t cd;
    DN(dnnl_dilated_convolution_forward_desc_init(
        &cd, dnnl_forward_inference, alg, &x_a, &w_a, &b_a, &y_a, strides, dil,
        pl, pr));
    DN(dnnl_primitive_desc_create(&ps[0].pd, &cd, NULL, eng, NULL));
    DN(dnnl_primitive_create(&ps[0].prim, ps[0].pd));
    if (bind(&ps[0], eng, DNNL_ARG_SRC, dnnl_query_src_md, 0, &x_p, mx, 1, err,
             errlen) ||
        bind(&ps[0], eng, DNNL_ARG_WEIGHTS, dnnl_query_weights_md, 0, &w_p, mw, 1,
             err, errlen) ||
        bind(&ps[0], eng, DNNL_ARG_BIAS, dnnl_query_weights_md, 1, &b_p, mb,
             1, err, errlen) ||
        bind(&ps[0], eng, DNNL_ARG_DST, dnnl_query_dst_md, 0, &y_p, my, 0, err,
             errlen))
      goto fail;
    impl_name(&ps[0]);
  }
  /* The training forward is the hint of both backward passes. */
  {
    dnnl_convolution_desc_t cd;
    DN(dnnl_dilated_convolution_forward_desc_init(
        &cd, dnnl_forward_training, alg, &x_a, &w_a, &b_a, &y_a, strides, dil,
        pl, pr));
    DN(dnnl_primitive_desc_create(&hint, &cd, NULL, eng, NULL));
  }
  {
    dnnl_convolution_desc_t cd;
    DN(dnnl_dilated_convolution_backward_data_desc_init(
        &cd, alg, &x_a, &w_a, &y_a, strides, dil, pl, pr));
    DN(dnnl_primitive_desc_create(&ps[1].pd, &cd, NULL, eng, hint));
    DN(dnnl_primitive_create(&ps[1].prim, ps[1].pd));
    if (bind(&ps[1], eng, DNNL_ARG_DIFF_DST, dnnl_query_diff_dst_md, 0, &y_p, mdy,
             1, err, errlen) ||
        bind(&ps[1], eng, DNNL_ARG_WEIGHTS, dnnl_query_weights_md, 0, &w_p, mw, 1,
             err, errlen) ||
        bind(&ps[1], eng, DNNL_ARG_DIFF_SRC, dnnl_query_diff_src_md, 0, &x_p, mdx,
             0, err, errlen))
      goto fail;
    impl_name(&ps[1]);
  }
  {
    dnnl_convolution_desc_t cd;
    DN(dnnl_dilated_convolution_backward_weights_desc_init(
        &cd, alg, &x_a, &w_a, &b_a, &y_a, strides, dil, pl, pr));
    DN(dnnl_primitive_desc_create(&ps[2].pd, &cd, NULL, eng, hint));
    DN(dnnl_primitive_create(&ps[2].prim, ps[2].pd));
    if (bind(&ps[2], eng, DNNL_ARG_SRC, dnnl_query_src_md, 0, &x_p, mx, 1, err,
             errlen) ||
        bind(&ps[2], eng, DNNL_ARG_DIFF_DST, dnnl_query_diff_dst_md, 0, &y_p, mdy,
             1, err, errlen) ||
        bind(&ps[2], eng, DNNL_ARG_DIFF_WEIGHTS, dnnl_query_diff_weights_md, 0,
             &w_p, mdw, 0, err, errlen) ||
        bind(&ps[2], eng, DNNL_ARG_DIFF_BIAS, dnnl_query_diff_weights_md, 1,
             &b_p, mdb, 0, err, errlen))
      goto fail;
    impl_name(&ps[2]);
  }

  /* Plain first: its reorders also fill oneDNN's own buffers that the
   * blocked runs read. */
  for (int blocked = 0; blocked < 2; blocked++)
    for (int k = 0; k < 3; k++) {
      snprintf(res->impl[k], sizeof res->impl[k], "%s", ps[k].impl);
      if (time_pass(&ps[k], st, !blocked, repeat, min_time_ms,
                    &res->t[blocked][k]) != 0)
        snprintf(res->pass_error[k], sizeof res->pass_error[k],
                 "oneDNN: %s failed to run", pass_names[k]);
    }
  goto done;
fail:
  if (err[0] == '\0') snprintf(err, errlen, "oneDNN setup failed");
done:
  for (int k = 0; k < 3; k++) pass_free(&ps[k]);
  if (hint != NULL) dnnl_primitive_desc_destroy(hint);
  dnnl_memory_t ms[] = {mx, mw, mb, mdy, my, mdx, mdw, mdb};
  for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
    if (ms[i] != NULL) dnnl_memory_destroy(ms[i]);
  free(x), free(w), free(b), free(dy), free(y), free(dx), free(dw), free(db);
}

/* ----------------------------------------------------------------- main */

static void usage(FILE *f) {
  fprintf(f, "usage: bench_onednn [--suite FILE] [--layer GLOB] [--threads N] "
             "[--repeat R] [--min-time S] [--isa avx512|avx2|generic] "
             "[--json]\n");
}

static int positive(const char *s, long *v) {
  char *end;
  long x = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || x < 1 || x > 1000000) return -1;
  *v = x;
  return 0;
}

static void json_timing(FILE *f, const layer_result *r, int blocked, int k) {
  const timing *t = &r->t[blocked][k];
  const char *e = r->pass_error[k][0] ? r->pass_error[k] : r->error;
  fprintf(f, "\"%s\": {", pass_names[k]);
  if (e[0] != '\0' || t->runs == 0) {
    fprintf(f, "\"ms\": null, \"min_ms\": null, \"gflops\": null, \"runs\": 0, "
               "\"algorithm\": ");
    json_string(f, r->impl[k]);
    fprintf(f, ", \"error\": ");
    json_string(f, e[0] ? e : "not run");
    fprintf(f, "}");
    return;
  }
  fprintf(f, "\"ms\": %.6f, \"min_ms\": %.6f, \"gflops\": %.4f, \"runs\": %d, "
             "\"algorithm\": ",
          t->ms, t->min_ms, r->flops / (t->ms * 1e-3) / 1e9, t->runs);
  json_string(f, r->impl[k]);
  fprintf(f, ", \"error\": null}");
}

int main(int argc, char **argv) {
  const char *suite_arg = "default", *glob = NULL, *isa = NULL;
  long threads = 0, repeat = 50;
  double min_time = 0.3;
  int json = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--json") == 0) {
      json = 1;
      continue;
    }
    if (strcmp(a, "--help") == 0) {
      usage(stdout);
      return EXIT_OK;
    }
    if (v == NULL) {
      fprintf(stderr, "bench_onednn: %s: unknown option or missing value\n", a);
      usage(stderr);
      return EXIT_USAGE;
    }
    i++;
    if (strcmp(a, "--suite") == 0) {
      suite_arg = v;
    } else if (strcmp(a, "--layer") == 0) {
      glob = v;
    } else if (strcmp(a, "--isa") == 0) {
      isa = v;
    } else if (strcmp(a, "--threads") == 0 || strcmp(a, "--repeat") == 0) {
      long *dst = a[2] == 't' ? &threads : &repeat;
      if (positive(v, dst) != 0) {
        fprintf(stderr, "bench_onednn: %s %s: expected a positive integer\n", a,
                v);
        return EXIT_USAGE;
      }
    } else if (strcmp(a, "--min-time") == 0) {
      char *end;
      min_time = strtod(v, &end);
      if (*v == '\0' || *end != '\0' || !(min_time >= 0 && min_time <= 3600)) {
        fprintf(stderr, "bench_onednn: --min-time %s: expected seconds in "
                        "0..3600\n", v);
        return EXIT_USAGE;
      }
    } else {
      fprintf(stderr, "bench_onednn: unknown option %s\n", a);
      usage(stderr);
      return EXIT_USAGE;
    }
  }
  if (isa != NULL) {
    dnnl_cpu_isa_t cap = strcmp(isa, "avx512") == 0   ? dnnl_cpu_isa_avx512_core
                         : strcmp(isa, "avx2") == 0    ? dnnl_cpu_isa_avx2
                         : strcmp(isa, "generic") == 0 ? dnnl_cpu_isa_sse41
                                                       : dnnl_cpu_isa_all;
    if (cap == dnnl_cpu_isa_all) {
      fprintf(stderr, "bench_onednn: --isa %s: expected avx512, avx2 or "
                      "generic\n", isa);
      return EXIT_USAGE;
    }
    if (dnnl_set_max_cpu_isa(cap) != dnnl_success) {
      fprintf(stderr, "bench_onednn: oneDNN refused --isa %s\n", isa);
      return EXIT_FAILED;
    }
  }
#ifdef _OPENMP
  if (threads > 0) omp_set_num_threads((int)threads);
  threads = omp_get_max_threads();
#else
  if (threads > 0)
    fprintf(stderr, "bench_onednn: built without OpenMP: --threads ignored "
                    "(set OMP_NUM_THREADS)\n");
#endif
  char path[4096];
  if (suite_find(suite_arg, path, sizeof path) == NULL) {
    fprintf(stderr, "bench_onednn: suite '%s' not found\n", suite_arg);
    return EXIT_USAGE;
  }
  suite_layer *layers = NULL;
  size_t count = 0;
  char err[512];
  if (suite_load(path, &layers, &count, err, sizeof err) != 0) {
    fprintf(stderr, "bench_onednn: %s\n", err);
    return EXIT_USAGE;
  }
  dnnl_engine_t eng = NULL;
  dnnl_stream_t st = NULL;
  if (dnnl_engine_create(&eng, dnnl_cpu, 0) != dnnl_success ||
      dnnl_stream_create(&st, eng, dnnl_stream_default_flags) != dnnl_success) {
    fprintf(stderr, "bench_onednn: cannot make a oneDNN cpu engine\n");
    free(layers);
    return EXIT_FAILED;
  }
  const dnnl_version_t *ver = dnnl_version();
  char version[64];
  snprintf(version, sizeof version, "%d.%d.%d", ver->major, ver->minor,
           ver->patch);
  const char *isa_used = isa != NULL ? isa : "best";

  int failed = 0, any = 0;
  if (json)
    printf("{\"tool\": \"onednn\", \"version\": \"%s\", \"backend\": "
           "\"onednn %s\", \"device\": \"cpu (isa %s)\", \"threads\": %ld, "
           "\"suite\": ",
           version, version, isa_used, threads);
  else
    printf("backend: onednn %s (isa %s)\nthreads: %ld\nsuite:   %s\n\n"
           "%-16s %-15s %10s %9s %10s %9s  %s\n",
           version, isa_used, threads, path, "layer", "pass", "plain_ms",
           "GFLOP/s", "blocked_ms", "GFLOP/s", "implementation");
  if (json) {
    json_string(stdout, path);
    printf(", \"layers\": [");
  }
  for (size_t i = 0; i < count; i++) {
    const suite_layer *L = &layers[i];
    if (glob != NULL && fnmatch(glob, L->name, 0) != 0) continue;
    layer_result r;
    memset(&r, 0, sizeof r);
    bench_layer(L, eng, st, (int)repeat, min_time * 1e3, &r);
    failed |= r.error[0] != '\0';
    for (int k = 0; k < 3; k++) failed |= r.pass_error[k][0] != '\0';
    if (json) {
      char problem[512];
      suite_describe(&L->desc, problem, sizeof problem);
      printf("%s\n  {\"name\": ", any ? "," : "");
      json_string(stdout, L->name);
      printf(", \"problem\": ");
      json_string(stdout, problem);
      printf(", \"h_out\": %lld, \"w_out\": %lld, \"flops\": %.0f, "
             "\"plan_ms\": null, \"workspace_bytes\": null, \"error\": ",
             (long long)r.h_out, (long long)r.w_out, r.flops);
      if (r.error[0])
        json_string(stdout, r.error);
      else
        printf("null");
      for (int blocked = 0; blocked < 2; blocked++) {
        printf(", \"%s\": {", blocked ? "passes_blocked" : "passes");
        for (int k = 0; k < 3; k++) {
          if (k) printf(", ");
          json_timing(stdout, &r, blocked, k);
        }
        printf("}");
      }
      printf("}");
    } else if (r.error[0]) {
      printf("%-16s FAILED: %s\n", L->name, r.error);
    } else {
      for (int k = 0; k < 3; k++) {
        const timing *p = &r.t[0][k], *q = &r.t[1][k];
        if (r.pass_error[k][0]) {
          printf("%-16s %-15s FAILED: %s\n", k ? "" : L->name, pass_names[k],
                 r.pass_error[k]);
          continue;
        }
        printf("%-16s %-15s %10.3f %9.2f %10.3f %9.2f  %s\n",
               k ? "" : L->name, pass_names[k], p->ms,
               r.flops / (p->ms * 1e-3) / 1e9, q->ms,
               r.flops / (q->ms * 1e-3) / 1e9, r.impl[k]);
      }
    }
    any = 1;
  }
  if (json) printf("\n]}\n");
  dnnl_stream_destroy(st);
  dnnl_engine_destroy(eng);
  free(layers);
  if (!any) {
    fprintf(stderr, "bench_onednn: no layer of %s matches '%s'\n", path,
            glob != NULL ? glob : "*");
    return EXIT_USAGE;
  }
  return failed ? EXIT_FAILED : EXIT_OK;
}
