/* SPDX-License-Identifier: Apache-2.0 */
/*
 * convinfo bench: times plan creation and the three passes of each layer of
 * a suite on device tensors (conv_tensor_*), so host<->device transfers are
 * not in the figures. Each pass gets one warm-up run, then is repeated until
 * --min-time seconds or --repeat runs (at least min(3, repeat) runs); the
 * median is reported.
 *
 * --transposed also times, per layer, the transposed convolution whose
 * matching conv2d is the layer (ConvTranspose2d from the layer's output
 * shape back to its input shape) and sets each of its passes beside the
 * conv2d pass it runs: its forward is the layer's backward_data, its
 * backward_data the layer's forward, its backward_weight the layer's.
 */
#include <fnmatch.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "timing.h"
#include "tools.h"

enum { PASS_FWD, PASS_BWD_DATA, PASS_BWD_WEIGHT, PASS_COUNT };
static const char *const pass_names[PASS_COUNT] = {
    "forward", "backward_data", "backward_weight"};
static const conv_op pass_ops[PASS_COUNT] = {
    CONV_OP_FORWARD, CONV_OP_BACKWARD_DATA, CONV_OP_BACKWARD_WEIGHT};

typedef struct pass_result {
  int ok;
  const char *algorithm;
  double ms;      /* median */
  double min_ms;  /* fastest run: less hurt by a busy machine */
  double max_ms;  /* slowest run */
  double gflops;
  int runs;
  char error[512];
} pass_result;

typedef struct layer_result {
  const suite_layer *layer;
  int64_t h_out, w_out;
  double flops;   /* per pass */
  int planned;
  double plan_ms;
  size_t workspace;
  char error[512]; /* plan or allocation failure */
  pass_result pass[PASS_COUNT];
  /* --transposed: the transposed convolution's passes (tpass[PASS_FWD] is
   * its forward), or why it could not run. */
  int transposed;
  char terror[512];
  pass_result tpass[PASS_COUNT];
} layer_result;

/* The conv2d pass that serves each pass of the transposed convolution. */
static const int matching_pass[PASS_COUNT] = {PASS_BWD_DATA, PASS_FWD,
                                              PASS_BWD_WEIGHT};

typedef struct bench_tensors {
  conv_tensor *x, *w, *b, *y, *dy, *dx, *dw, *db;
} bench_tensors;

void bench_usage(FILE *f) {
  fprintf(f,
          "usage: convinfo bench [--backend B] [--device D] [--suite FILE]\n"
          "                      [--threads N] [--repeat R] [--min-time S]\n"
          "                      [--layer GLOB] [--json] [--dry-run]\n"
          "                      [--transposed]\n"
          "  --suite FILE   a suite file, or the name of an installed one\n"
          "                 (default: default.suite; see tools/suites)\n"
          "  --threads N    sets CONV_NUM_THREADS=N for this process\n"
          "  --repeat R     at most R timed runs per pass (default 50); at\n"
          "                 least min(3, R) after one warm-up run\n"
          "  --min-time S   stop repeating after S seconds (default 0.3)\n"
          "  --layer GLOB   only the layers whose name matches (fnmatch)\n"
          "  --dry-run      print the parsed layers and exit\n"
          "  --transposed   also time the ConvTranspose2d whose matching\n"
          "                 conv2d is each layer, beside the conv2d pass\n"
          "                 each of its passes runs\n");
}

static void destroy_tensors(bench_tensors *t) {
  conv_tensor **all[] = {&t->x, &t->w, &t->b, &t->y,
                         &t->dy, &t->dx, &t->dw, &t->db};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
    conv_tensor_destroy(*all[i]);
    *all[i] = NULL;
  }
}

/* Makes one tensor and, if fill, uploads uniform values in [-1, 1). */
static conv_status make_tensor(conv_context *ctx, size_t count, int fill,
                               uint64_t *seed, conv_tensor **t) {
  if (count == 0) count = 1; /* n == 0: a placeholder the plan never reads */
  conv_status st = conv_tensor_create(ctx, count, t);
  if (st != CONV_SUCCESS || !fill) return st;
  float *h = malloc(count * sizeof *h);
  if (h == NULL) return CONV_ERROR_OUT_OF_MEMORY;
  for (size_t i = 0; i < count; i++) {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    h[i] = (float)((double)(*seed >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
  }
  st = conv_tensor_upload(*t, h, count);
  free(h);
  return st;
}

static conv_status alloc_tensors(conv_context *ctx, const conv_desc *d,
                                 int64_t ho, int64_t wo, bench_tensors *t) {
  size_t nx = (size_t)(d->n * d->c_in * d->h * d->w);
  size_t nw = (size_t)(d->c_out * (d->c_in / d->groups) * d->kernel[0] *
                       d->kernel[1]);
  size_t ny = (size_t)(d->n * d->c_out * ho * wo);
  size_t nb = (size_t)d->c_out;
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  conv_status st;
  memset(t, 0, sizeof *t);
  if ((st = make_tensor(ctx, nx, 1, &seed, &t->x)) ||
      (st = make_tensor(ctx, nw, 1, &seed, &t->w)) ||
      (st = make_tensor(ctx, ny, 1, &seed, &t->dy)) ||
      (st = make_tensor(ctx, ny, 0, &seed, &t->y)) ||
      (st = make_tensor(ctx, nx, 0, &seed, &t->dx)) ||
      (st = make_tensor(ctx, nw, 0, &seed, &t->dw)))
    return st;
  if (d->has_bias && ((st = make_tensor(ctx, nb, 1, &seed, &t->b)) ||
                      (st = make_tensor(ctx, nb, 0, &seed, &t->db))))
    return st;
  return CONV_SUCCESS;
}

/* The transposed convolution's tensors: x and dy of the layer's y shape
 * swap with y and dx of its x shape; b and db have the layer's c_in. */
static conv_status alloc_transposed(conv_context *ctx, const conv_desc *d,
                                    int64_t ho, int64_t wo, bench_tensors *t) {
  conv_desc swapped = *d;
  swapped.c_in = d->c_out;
  swapped.c_out = d->c_in;
  swapped.h = ho;
  swapped.w = wo;
  swapped.groups = d->groups;
  /* alloc_tensors sizes w as c_out * c_in/groups * k: the same count. */
  return alloc_tensors(ctx, &swapped, d->h, d->w, t);
}

static conv_status run_pass(conv_plan *plan, int pass, bench_tensors *t) {
  switch (pass) {
    case PASS_FWD: return conv_forward_tensor(plan, t->x, t->w, t->b, t->y);
    case PASS_BWD_DATA:
      return conv_backward_data_tensor(plan, t->dy, t->w, t->dx);
    default:
      return conv_backward_weight_tensor(plan, t->x, t->dy, t->dw, t->db);
  }
}

typedef struct bench_opts {
  int repeat;
  double min_time;
  int progress;
} bench_opts;

static void progress(const bench_opts *o, size_t i, size_t n,
                     const char *layer, const char *what) {
  if (!o->progress) return;
  fprintf(stderr, "\r\033[K[%zu/%zu] %s %s", i + 1, n, layer, what);
  fflush(stderr);
}

/* One warm-up run, then runs until o->repeat or o->min_time; fills pr. */
static void time_pass(conv_context *ctx, const bench_opts *o, conv_plan *plan,
                      int p, bench_tensors *t, double *times, double flops,
                      pass_result *pr) {
  int min_runs = o->repeat < 3 ? o->repeat : 3;
  conv_status st = run_pass(plan, p, t); /* warm-up */
  int runs = 0;
  double spent = 0;
  while (st == CONV_SUCCESS && runs < o->repeat &&
         (runs < min_runs || spent < o->min_time)) {
    double a = tool_now_s();
    st = run_pass(plan, p, t);
    double dt = tool_now_s() - a;
    times[runs++] = dt;
    spent += dt;
  }
  if (st != CONV_SUCCESS) {
    snprintf(pr->error, sizeof pr->error, "%s: %s", conv_status_string(st),
             conv_last_error(ctx));
    return;
  }
  pr->ok = 1;
  pr->runs = runs;
  pr->ms = 1e3 * tool_median(times, runs); /* sorts times */
  pr->min_ms = 1e3 * times[0];
  pr->max_ms = 1e3 * times[runs - 1];
  pr->gflops = pr->ms > 0 ? flops / (pr->ms * 1e-3) / 1e9 : 0;
}

/* --transposed: the ConvTranspose2d from the layer's output back to its
 * input (output_padding makes up what the layer's stride dropped). */
static void bench_transposed(conv_context *ctx, const bench_opts *o,
                             double *times, layer_result *r) {
  const conv_desc *d = &r->layer->desc;
  int64_t pads[4];
  conv_plan *plan = NULL;
  bench_tensors t = {0};
  if (conv_output_size(d, &r->h_out, &r->w_out, pads) != CONV_SUCCESS ||
      d->padding_mode != CONV_PAD_ZEROS || d->flip_kernel) {
    snprintf(r->terror, sizeof r->terror,
             "no transposed convolution (padding_mode must be zeros)");
    return;
  }
  conv_transpose_desc td;
  conv_transpose_desc_init(&td);
  td.n = d->n; td.c_in = d->c_out; td.h = r->h_out; td.w = r->w_out;
  td.c_out = d->c_in; td.groups = d->groups; td.has_bias = d->has_bias;
  for (int a = 0; a < 2; a++) {
    td.kernel[a] = d->kernel[a];
    td.stride[a] = d->stride[a];
    td.dilation[a] = d->dilation[a];
    const int64_t in = a ? d->w : d->h, out = a ? r->w_out : r->h_out;
    td.output_padding[a] = in - ((out - 1) * d->stride[a] - pads[2 * a] -
                                 pads[2 * a + 1] +
                                 d->dilation[a] * (d->kernel[a] - 1) + 1);
  }
  for (int i = 0; i < 4; i++) td.pad[i] = pads[i];
  conv_status st = conv_transpose_plan_create(ctx, &td, CONV_ACT_NONE, 0.0f,
                                              &plan);
  if (st == CONV_SUCCESS) st = alloc_transposed(ctx, d, r->h_out, r->w_out, &t);
  if (st != CONV_SUCCESS) {
    snprintf(r->terror, sizeof r->terror, "conv_transpose_plan_create: %s: %s",
             conv_status_string(st), conv_last_error(ctx));
  } else {
    for (int p = 0; p < PASS_COUNT; p++) {
      r->tpass[p].algorithm = conv_plan_algorithm(plan, pass_ops[p]);
      time_pass(ctx, o, plan, p, &t, times, r->flops, &r->tpass[p]);
    }
  }
  destroy_tensors(&t);
  conv_plan_destroy(plan);
}

static void bench_layer(conv_context *ctx, const bench_opts *o, size_t index,
                        size_t total, layer_result *r) {
  const conv_desc *d = &r->layer->desc;
  conv_plan *plan = NULL;
  bench_tensors t = {0};
  double *times = NULL;

  conv_output_size(d, &r->h_out, &r->w_out, NULL); /* checked at load */
  r->flops = conv_pass_flops(d, r->h_out, r->w_out);
  progress(o, index, total, r->layer->name, "plan");
  double t0 = tool_now_s();
  conv_status st = conv_plan_create(ctx, d, &plan);
  r->plan_ms = 1e3 * (tool_now_s() - t0);
  if (st != CONV_SUCCESS) {
    snprintf(r->error, sizeof r->error, "conv_plan_create: %s: %s",
             conv_status_string(st), conv_last_error(ctx));
    goto done;
  }
  r->planned = 1;
  r->workspace = conv_plan_workspace_size(plan);
  st = alloc_tensors(ctx, d, r->h_out, r->w_out, &t);
  if (st != CONV_SUCCESS) {
    snprintf(r->error, sizeof r->error, "tensors: %s: %s",
             conv_status_string(st), conv_last_error(ctx));
    goto done;
  }
  times = malloc((size_t)o->repeat * sizeof *times);
  if (times == NULL) {
    snprintf(r->error, sizeof r->error, "out of memory");
    goto done;
  }
  for (int p = 0; p < PASS_COUNT; p++) {
    pass_result *pr = &r->pass[p];
    pr->algorithm = conv_plan_algorithm(plan, pass_ops[p]);
    progress(o, index, total, r->layer->name, pass_names[p]);
    time_pass(ctx, o, plan, p, &t, times, r->flops, pr);
  }
  if (r->transposed) {
    /* Free the conv2d's tensors first: only one set lives at a time. */
    destroy_tensors(&t);
    progress(o, index, total, r->layer->name, "transposed");
    bench_transposed(ctx, o, times, r);
  }
done:
  free(times);
  destroy_tensors(&t);
  conv_plan_destroy(plan);
}

static int layer_failed(const layer_result *r) {
  if (r->error[0]) return 1;
  for (int p = 0; p < PASS_COUNT; p++)
    if (!r->pass[p].ok) return 1;
  if (r->transposed && !r->terror[0])
    for (int p = 0; p < PASS_COUNT; p++)
      if (!r->tpass[p].ok) return 1;
  return 0;
}

static void print_bytes(char *buf, size_t len, size_t b) {
  if (b < 1024) snprintf(buf, len, "%zu B", b);
  else if (b < (size_t)1 << 20) snprintf(buf, len, "%.1f KiB", b / 1024.0);
  else if (b < (size_t)1 << 30) snprintf(buf, len, "%.1f MiB", b / 1048576.0);
  else snprintf(buf, len, "%.2f GiB", b / 1073741824.0);
}

static void print_text(conv_context *ctx, const char *suite,
                       const char *threads, const layer_result *r, size_t n) {
  char how[160];
  (void)threads;
  context_threads(ctx, how, sizeof how);
  printf("backend: %s\ndevice:  %s\nthreads: %s\nsuite:   %s\n",
         conv_context_backend(ctx), conv_context_device(ctx), how, suite);
  printf("ms is the median of runs; spread is (slowest - fastest) / median\n"
         "\n");
  printf("%-16s %9s %10s  %-15s %10s %5s %7s %9s  %s\n", "layer", "plan_ms",
         "workspace", "pass", "ms", "runs", "spread", "GFLOP/s", "algorithm");
  for (size_t i = 0; i < n; i++) {
    char ws[32];
    print_bytes(ws, sizeof ws, r[i].workspace);
    if (r[i].error[0]) {
      printf("%-16s %9.2f %10s  FAILED: %s\n", r[i].layer->name, r[i].plan_ms,
             "-", r[i].error);
      continue;
    }
    for (int p = 0; p < PASS_COUNT; p++) {
      const pass_result *pr = &r[i].pass[p];
      if (p == 0)
        printf("%-16s %9.2f %10s  ", r[i].layer->name, r[i].plan_ms, ws);
      else
        printf("%-16s %9s %10s  ", "", "", "");
      const char *name = p == PASS_BWD_WEIGHT && r[i].layer->desc.has_bias
                             ? "backward_w+b" : pass_names[p];
      if (pr->ok)
        printf("%-15s %10.3f %5d %6.0f%% %9.2f  %s\n", name, pr->ms,
               pr->runs,
               pr->ms > 0 ? 100.0 * (pr->max_ms - pr->min_ms) / pr->ms : 0.0,
               pr->gflops, pr->algorithm);
      else
        printf("%-15s FAILED: %s\n", name, pr->error);
    }
  }
  if (n == 0 || !r[0].transposed) return;
  printf("\ntransposed convolution (ConvTranspose2d from each layer's output "
         "back to its input) beside the conv2d pass it runs:\n");
  printf("%-16s %-15s %10s %9s  %-15s %10s %6s  %s\n", "layer", "pass", "ms",
         "GFLOP/s", "conv2d pass", "conv2d ms", "ratio", "algorithm");
  for (size_t i = 0; i < n; i++) {
    if (r[i].error[0]) continue;
    if (r[i].terror[0]) {
      printf("%-16s FAILED: %s\n", r[i].layer->name, r[i].terror);
      continue;
    }
    for (int p = 0; p < PASS_COUNT; p++) {
      const pass_result *tp = &r[i].tpass[p], *cp = &r[i].pass[matching_pass[p]];
      printf("%-16s ", p == 0 ? r[i].layer->name : "");
      if (!tp->ok) {
        printf("%-15s FAILED: %s\n", pass_names[p], tp->error);
        continue;
      }
      printf("%-15s %10.3f %9.2f  %-15s ", pass_names[p], tp->ms, tp->gflops,
             pass_names[matching_pass[p]]);
      if (cp->ok)
        printf("%10.3f %6.2f  %s\n", cp->ms, tp->ms / cp->ms, tp->algorithm);
      else
        printf("%10s %6s  %s\n", "-", "-", tp->algorithm);
    }
  }
}

static void print_json(conv_context *ctx, const char *suite,
                       const char *threads, const layer_result *r, size_t n) {
  printf("{\n  \"tool\": \"convinfo\",\n  \"version\": ");
  json_string(stdout, conv_version_string());
  printf(",\n  \"backend\": ");
  json_string(stdout, conv_context_backend(ctx));
  printf(",\n  \"device\": ");
  json_string(stdout, conv_context_device(ctx));
  char how[160];
  const int used = context_threads(ctx, how, sizeof how);
  printf(",\n  \"threads\": %s,\n  \"threads_used\": ",
         threads ? threads : "null");
  if (used > 0) printf("%d", used);
  else printf("null");
  printf(",\n  \"suite\": ");
  json_string(stdout, suite);
  printf(",\n  \"layers\": [");
  for (size_t i = 0; i < n; i++) {
    char desc[512];
    suite_describe(&r[i].layer->desc, desc, sizeof desc);
    printf("%s\n    {\"name\": ", i ? "," : "");
    json_string(stdout, r[i].layer->name);
    printf(", \"problem\": ");
    json_string(stdout, desc);
    printf(", \"h_out\": %lld, \"w_out\": %lld, \"flops\": %.0f, "
           "\"plan_ms\": %.4f, \"workspace_bytes\": %zu, \"error\": ",
           (long long)r[i].h_out, (long long)r[i].w_out, r[i].flops,
           r[i].plan_ms, r[i].workspace);
    if (r[i].error[0]) json_string(stdout, r[i].error);
    else printf("null");
    printf(", \"passes\": {");
    for (int p = 0; p < PASS_COUNT && !r[i].error[0]; p++) {
      const pass_result *pr = &r[i].pass[p];
      printf("%s\n      \"%s\": {", p ? "," : "", pass_names[p]);
      if (pr->ok) {
        printf("\"ms\": %.6f, \"min_ms\": %.6f, \"max_ms\": %.6f, "
               "\"gflops\": %.4f, \"runs\": %d, \"algorithm\": ", pr->ms,
               pr->min_ms, pr->max_ms, pr->gflops, pr->runs);
        json_string(stdout, pr->algorithm);
        printf(", \"error\": null}");
      } else {
        printf("\"ms\": null, \"min_ms\": null, \"max_ms\": null, "
               "\"gflops\": null, "
               "\"runs\": 0, \"algorithm\": ");
        json_string(stdout, pr->algorithm ? pr->algorithm : "");
        printf(", \"error\": ");
        json_string(stdout, pr->error);
        printf("}");
      }
    }
    printf("}");
    if (r[i].transposed) {
      printf(", \"transposed\": {\"error\": ");
      if (r[i].terror[0]) json_string(stdout, r[i].terror);
      else printf("null");
      for (int p = 0; p < PASS_COUNT && !r[i].terror[0] && !r[i].error[0]; p++) {
        const pass_result *tp = &r[i].tpass[p];
        printf(",\n      \"%s\": {\"conv2d_pass\": \"%s\", ", pass_names[p],
               pass_names[matching_pass[p]]);
        if (tp->ok)
          printf("\"ms\": %.6f, \"min_ms\": %.6f, \"gflops\": %.4f, "
                 "\"runs\": %d, \"error\": null, \"algorithm\": ",
                 tp->ms, tp->min_ms, tp->gflops, tp->runs);
        else {
          printf("\"ms\": null, \"error\": ");
          json_string(stdout, tp->error);
          printf(", \"algorithm\": ");
        }
        json_string(stdout, tp->algorithm ? tp->algorithm : "");
        printf("}");
      }
      printf("}");
    }
    printf("}");
  }
  printf("\n  ]\n}\n");
}

static int parse_positive(const char *opt, const char *s, int *v) {
  char *end;
  long x = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || x < 1 || x > 1000000) {
    fprintf(stderr, "convinfo bench: %s %s: expected a positive integer\n",
            opt, s);
    return -1;
  }
  *v = (int)x;
  return 0;
}

int cmd_bench(int argc, char **argv) {
  static const struct option longopts[] = {
      {"backend", required_argument, NULL, 'b'},
      {"device", required_argument, NULL, 'd'},
      {"suite", required_argument, NULL, 's'},
      {"threads", required_argument, NULL, 't'},
      {"repeat", required_argument, NULL, 'r'},
      {"min-time", required_argument, NULL, 'm'},
      {"layer", required_argument, NULL, 'l'},
      {"json", no_argument, NULL, 'j'},
      {"dry-run", no_argument, NULL, 'n'},
      {"transposed", no_argument, NULL, 'T'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *backend = NULL, *device = NULL, *suite_arg = "default.suite";
  const char *layer_glob = NULL, *threads = NULL;
  int json = 0, dry = 0, nthreads = 0, transposed = 0;
  bench_opts o = {50, 0.3, 0};
  int c;
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
    switch (c) {
      case 'b': backend = optarg; break;
      case 'd': device = optarg; break;
      case 's': suite_arg = optarg; break;
      case 't':
        if (parse_positive("--threads", optarg, &nthreads)) goto usage;
        threads = optarg;
        break;
      case 'r':
        if (parse_positive("--repeat", optarg, &o.repeat)) goto usage;
        break;
      case 'm': {
        char *end;
        o.min_time = strtod(optarg, &end);
        if (*optarg == '\0' || *end != '\0' || !(o.min_time >= 0) ||
            o.min_time > 3600) {
          fprintf(stderr, "convinfo bench: --min-time %s: expected seconds\n",
                  optarg);
          goto usage;
        }
        break;
      }
      case 'l': layer_glob = optarg; break;
      case 'j': json = 1; break;
      case 'n': dry = 1; break;
      case 'T': transposed = 1; break;
      case 'h': bench_usage(stdout); return EXIT_OK;
      default:
        note_option_error("bench", argv, longopts);
        goto usage;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "convinfo bench: unexpected argument '%s'\n", argv[optind]);
    goto usage;
  }

  char suite_path[4096], err[1024];
  if (suite_find(suite_arg, suite_path, sizeof suite_path) == NULL) {
    fprintf(stderr, "convinfo bench: suite '%s' not found\n", suite_arg);
    return EXIT_USAGE;
  }
  suite_layer *all = NULL;
  size_t nall = 0;
  if (suite_load(suite_path, &all, &nall, err, sizeof err) != 0) {
    fprintf(stderr, "convinfo bench: %s\n", err);
    return EXIT_USAGE;
  }
  layer_result *res = calloc(nall, sizeof *res);
  if (res == NULL) {
    free(all);
    fprintf(stderr, "convinfo bench: out of memory\n");
    return EXIT_FAILED;
  }
  size_t n = 0;
  for (size_t i = 0; i < nall; i++)
    if (layer_glob == NULL || fnmatch(layer_glob, all[i].name, 0) == 0) {
      res[n].transposed = transposed;
      res[n++].layer = &all[i];
    }
  int rc = EXIT_OK;
  conv_context *ctx = NULL;
  if (n == 0) {
    fprintf(stderr, "convinfo bench: no layer of %s matches '%s'\n",
            suite_path, layer_glob);
    rc = EXIT_USAGE;
    goto done;
  }
  if (dry) {
    for (size_t i = 0; i < n; i++) {
      char desc[512];
      suite_describe(&res[i].layer->desc, desc, sizeof desc);
      printf("%s %s\n", res[i].layer->name, desc);
    }
    goto done;
  }
  if (threads != NULL && setenv("CONV_NUM_THREADS", threads, 1) != 0) {
    fprintf(stderr, "convinfo bench: setenv CONV_NUM_THREADS failed\n");
    rc = EXIT_FAILED;
    goto done;
  }
  if (threads == NULL) {
    const char *env = getenv("CONV_NUM_THREADS");
    if (env != NULL && parse_positive("CONV_NUM_THREADS", env, &nthreads) == 0)
      threads = env;
  }
  conv_status st = conv_context_create(&ctx, backend, device);
  if (st != CONV_SUCCESS) {
    fprintf(stderr, "convinfo bench: conv_context_create: %s: %s\n",
            conv_status_string(st), conv_last_error(NULL));
    rc = EXIT_FAILED;
    goto done;
  }
  o.progress = isatty(STDERR_FILENO);
  for (size_t i = 0; i < n; i++) {
    bench_layer(ctx, &o, i, n, &res[i]);
    if (layer_failed(&res[i])) rc = EXIT_FAILED;
  }
  if (o.progress) fprintf(stderr, "\r\033[K");
  if (json) print_json(ctx, suite_path, threads, res, n);
  else print_text(ctx, suite_path, threads, res, n);
done:
  conv_context_destroy(ctx);
  free(res);
  free(all);
  return rc;
usage:
  bench_usage(stderr);
  return EXIT_USAGE;
}
