/* SPDX-License-Identifier: Apache-2.0 */
/*
 * convinfo validate: every golden case through the host-pointer API of one
 * backend and device. Each output is poisoned with NaN before its call, so
 * an element the backend leaves unwritten fails. A case that cannot be read
 * or asks for something the API lacks is a failure with the reason, never a
 * skip.
 */
#include <limits.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "golden.h"
#include "tools.h"
#include "validate.h"

#include "conv_paths.h" /* generated from the configured paths */
#define CONV_GOLDEN_INSTALL_DIR CONV_PKGDATADIR "/golden/cases"
#define CONV_GOLDEN_SOURCE_DIR CONV_SOURCE_DIR "/tests/golden/cases"

void validate_opts_init(validate_opts *o) { memset(o, 0, sizeof *o); }

static int is_dir(const char *path) {
  struct stat st;
  return path[0] != '\0' && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* --golden, else $CONV_GOLDEN_DIR, else the installed cases if there are
 * any, else the source tree's. */
static const char *golden_root(const validate_opts *o, char buf[PATH_MAX]) {
  if (o->golden_dir != NULL) return o->golden_dir;
  const char *env = getenv("CONV_GOLDEN_DIR");
  if (env != NULL && env[0] != '\0') return env;
  if (is_dir(CONV_GOLDEN_INSTALL_DIR)) return CONV_GOLDEN_INSTALL_DIR;
  /* The source dir is "<builddir>/../tests/golden/cases": say it plainly. */
  return realpath(CONV_GOLDEN_SOURCE_DIR, buf) ? buf : CONV_GOLDEN_SOURCE_DIR;
}

/* One checked tensor (or a failure before any tensor could be checked). */
typedef struct check {
  const char *tensor; /* "y", "dx", "dw", "db"; or "load", "op", "plan" */
  double err;         /* NAN when no comparison was made */
  int pass;
  char msg[1200];     /* why it failed, when no err says it */
} check;

typedef struct printer {
  const validate_opts *o;
  int first_case;
} printer;

static void json_number(double v) {
  if (isfinite(v)) printf("%.3e", v);
  else printf("null");
}

static void print_case(printer *p, const char *name, const check *c, int n,
                       int case_pass) {
  if (p->o->json) {
    printf("%s\n    {\"name\": ", p->first_case ? "" : ",");
    json_string(stdout, name);
    printf(", \"pass\": %s, \"checks\": [", case_pass ? "true" : "false");
    for (int i = 0; i < n; i++) {
      printf("%s{\"tensor\": ", i ? ", " : "");
      json_string(stdout, c[i].tensor);
      printf(", \"err\": ");
      json_number(c[i].err);
      printf(", \"pass\": %s, \"message\": ", c[i].pass ? "true" : "false");
      if (c[i].msg[0]) json_string(stdout, c[i].msg);
      else printf("null");
      printf("}");
    }
    printf("]}");
  } else {
    for (int i = 0; i < n; i++) {
      if (p->o->quiet && c[i].pass) continue;
      printf("%-28s %-4s ", name, c[i].tensor);
      if (!isnan(c[i].err)) printf("err=%.1e  ", c[i].err);
      printf("%s", c[i].pass ? "PASS" : "FAIL");
      if (c[i].msg[0]) printf("  %s", c[i].msg);
      printf("\n");
    }
  }
  p->first_case = 0;
  fflush(stdout);
}

static void fail_check(check *c, const char *tensor, const char *fmt,
                       const char *a, const char *b) {
  c->tensor = tensor;
  c->err = NAN;
  c->pass = 0;
  snprintf(c->msg, sizeof c->msg, fmt, a, b);
}

/* A NaN-poisoned output buffer of the reference's size (at least 1). */
static float *poisoned(const golden_array *ref) {
  size_t n = ref->count ? ref->count : 1;
  float *v = malloc(n * sizeof *v);
  if (v != NULL)
    for (size_t i = 0; i < n; i++) v[i] = NAN;
  return v;
}

/* golden_rel_error, with a NaN in the same place in both arrays counted as
 * equal, as golden.h documents it (golden.c 9b00f6f returns +inf for any
 * NaN, which would fail PyTorch's own NaN-propagating answers, e.g. the
 * pool_nan case). Only arrays holding a NaN pay for the copy. */
static double rel_error(const float *got, const golden_array *ref) {
  size_t n = ref->count, i;
  for (i = 0; i < n && !isnan(got[i]) && !isnan(ref->data[i]); i++) {}
  if (i == n) return golden_rel_error(got, ref->data, n);
  float *g = malloc(n * sizeof *g), *r = malloc(n * sizeof *r);
  double e = INFINITY;
  if (g != NULL && r != NULL) {
    for (i = 0; i < n; i++) {
      int same_nan = isnan(got[i]) && isnan(ref->data[i]);
      g[i] = same_nan ? 0.0f : got[i];
      r[i] = same_nan ? 0.0f : ref->data[i];
    }
    e = golden_rel_error(g, r, n);
  }
  free(g);
  free(r);
  return e;
}

/* Where a failing output is worst: the first element whose NaN-ness or
 * infinity differs from the reference, else the largest |got - ref|, as a
 * flat index and its (n, c, h, w) or shorter coordinates. */
static void describe_worst(char *buf, size_t len, const float *got,
                           const golden_array *ref) {
  size_t worst = 0;
  double worst_diff = -1;
  int special = 0;
  for (size_t i = 0; i < ref->count; i++) {
    float g = got[i], r = ref->data[i];
    if (isnan(g) || isnan(r) || isinf(g) || isinf(r)) {
      if ((isnan(g) && isnan(r)) || g == r) continue; /* the same special */
      worst = i;
      special = 1;
      break;
    }
    double d = fabs((double)g - (double)r);
    if (d > worst_diff) {
      worst_diff = d;
      worst = i;
    }
  }
  if (ref->count == 0) return;
  char at[128];
  size_t rest = worst;
  int off = 0;
  int64_t idx[GOLDEN_MAX_DIMS];
  for (int k = ref->ndim - 1; k >= 0; k--) {
    idx[k] = ref->shape[k] ? (int64_t)(rest % (size_t)ref->shape[k]) : 0;
    rest = ref->shape[k] ? rest / (size_t)ref->shape[k] : 0;
  }
  off += snprintf(at + off, sizeof at - (size_t)off, "(");
  for (int k = 0; k < ref->ndim && off < (int)sizeof at; k++)
    off += snprintf(at + off, sizeof at - (size_t)off, "%s%lld", k ? ", " : "",
                    (long long)idx[k]);
  if (off < (int)sizeof at) snprintf(at + off, sizeof at - (size_t)off, ")");
  snprintf(buf, len, "%s at %s: got %.9g, expected %.9g",
           special ? "first NaN/inf mismatch" : "largest difference", at,
           (double)got[worst], (double)ref->data[worst]);
}

static void compare(check *c, const char *tensor, conv_status st,
                    const char *call, conv_context *ctx, const float *got,
                    const golden_array *ref) {
  c->tensor = tensor;
  c->err = NAN;
  c->msg[0] = '\0';
  if (st != CONV_SUCCESS) {
    c->pass = 0;
    snprintf(c->msg, sizeof c->msg, "%s: %s: %s", call,
             conv_status_string(st), conv_last_error(ctx));
    return;
  }
  c->err = rel_error(got, ref);
  c->pass = c->err <= VALIDATE_TOLERANCE;
  if (!c->pass) describe_worst(c->msg, sizeof c->msg, got, ref);
}

/* A pooling case (maxpool2d, avgpool2d, adaptive_avgpool2d): y by the
 * forward call, dx by the backward one. Fills up to 2 checks, returns how
 * many. */
static int run_pool_case(conv_context *ctx, const golden_case *gc, check *c) {
  const conv_desc *d = &gc->desc;
  conv_pool_plan *plan = NULL;
  float *y = NULL, *dx = NULL;
  int n = 0;
  const int avg = strcmp(gc->op, "maxpool2d") != 0;
  if (d->padding_mode != CONV_PAD_ZEROS) {
    fail_check(&c[n++], "op", "unsupported %s padding_mode%s (padded "
               "positions never count)", gc->op, "");
    return n;
  }
  conv_pool_desc pd;
  conv_pool_desc_init(&pd);
  pd.n = d->n;
  pd.c = d->c_in;
  pd.h = d->h;
  pd.w = d->w;
  if (strcmp(gc->op, "adaptive_avgpool2d") == 0) {
    pd.mode = CONV_POOL_ADAPTIVE_AVG;
    pd.output_size[0] = gc->output_size[0];
    pd.output_size[1] = gc->output_size[1];
  } else {
    pd.mode = avg ? CONV_POOL_AVG : CONV_POOL_MAX;
    pd.kernel[0] = d->kernel[0];
    pd.kernel[1] = d->kernel[1];
    pd.stride[0] = d->stride[0];
    pd.stride[1] = d->stride[1];
    if (gc->pads[0] != gc->pads[1] || gc->pads[2] != gc->pads[3]) {
      pd.four_sided = 1;
      for (int i = 0; i < 4; i++) pd.pad4[i] = gc->pads[i];
    } else {
      pd.pad[0] = gc->pads[0];
      pd.pad[1] = gc->pads[2];
    }
    pd.dilation[0] = d->dilation[0];
    pd.dilation[1] = d->dilation[1];
    pd.ceil_mode = gc->ceil_mode;
    if (avg) {
      pd.count_include_pad = gc->count_include_pad;
      pd.divisor_override = gc->divisor_override;
    }
  }
  conv_status st = conv_pool_plan_create(ctx, &pd, &plan);
  if (st != CONV_SUCCESS) {
    fail_check(&c[n++], "plan", "conv_pool_plan_create: %s: %s",
               conv_status_string(st), conv_last_error(ctx));
    return n;
  }
  int64_t ho, wo;
  conv_pool_plan_output_size(plan, &ho, &wo);
  if (ho != gc->h_out || wo != gc->w_out) {
    char a[64], b[64];
    snprintf(a, sizeof a, "%lldx%lld", (long long)ho, (long long)wo);
    snprintf(b, sizeof b, "%lldx%lld", (long long)gc->h_out,
             (long long)gc->w_out);
    fail_check(&c[n++], "y", "output size %s, the case has %s", a, b);
    goto done;
  }
  y = poisoned(&gc->y);
  dx = poisoned(&gc->dx);
  if (!y || !dx) {
    fail_check(&c[n++], "mem", "out of memory%s%s", "", "");
    goto done;
  }
  if (avg) {
    st = conv_avgpool_forward(plan, gc->x.data, y);
    compare(&c[n++], "y", st, "conv_avgpool_forward", ctx, y, &gc->y);
    st = conv_avgpool_backward(plan, gc->dy.data, dx);
    compare(&c[n++], "dx", st, "conv_avgpool_backward", ctx, dx, &gc->dx);
  } else {
    st = conv_maxpool_forward(plan, gc->x.data, y, NULL);
    compare(&c[n++], "y", st, "conv_maxpool_forward", ctx, y, &gc->y);
    st = conv_maxpool_backward(plan, gc->x.data, gc->dy.data, dx);
    compare(&c[n++], "dx", st, "conv_maxpool_backward", ctx, dx, &gc->dx);
  }
done:
  free(y);
  free(dx);
  conv_pool_plan_destroy(plan);
  return n;
}

/* Runs one loaded case; fills up to 4 checks, returns how many. */
static int run_case(conv_context *ctx, const golden_case *gc, check *c) {
  conv_plan *plan = NULL;
  float *y = NULL, *dx = NULL, *dw = NULL, *db = NULL;
  int n = 0;
  if (strcmp(gc->op, "maxpool2d") == 0 || strcmp(gc->op, "avgpool2d") == 0 ||
      strcmp(gc->op, "adaptive_avgpool2d") == 0)
    return run_pool_case(ctx, gc, c);
  const int transposed = strcmp(gc->op, "conv_transpose2d") == 0;
  if (strcmp(gc->op, "conv2d") != 0 && !transposed) {
    fail_check(&c[n++], "op", "unsupported op '%s'%s", gc->op, "");
    return n;
  }
  conv_status st;
  if (transposed) {
    /* The golden reader fills desc with ConvTranspose2d's shape. */
    const conv_desc *d = &gc->desc;
    conv_transpose_desc td;
    conv_transpose_desc_init(&td);
    td.n = d->n; td.c_in = d->c_in; td.h = d->h; td.w = d->w;
    td.c_out = d->c_out;
    td.kernel[0] = d->kernel[0]; td.kernel[1] = d->kernel[1];
    td.stride[0] = d->stride[0]; td.stride[1] = d->stride[1];
    td.dilation[0] = d->dilation[0]; td.dilation[1] = d->dilation[1];
    td.groups = d->groups;
    for (int i = 0; i < 4; i++) td.pad[i] = gc->pads[i];
    td.output_padding[0] = gc->output_padding[0];
    td.output_padding[1] = gc->output_padding[1];
    td.has_bias = d->has_bias;
    st = conv_transpose_plan_create(ctx, &td, gc->activation,
                                    gc->activation_alpha, &plan);
  } else {
    st = conv_plan_create_fused(ctx, &gc->desc, gc->activation,
                                gc->activation_alpha, &plan);
  }
  if (st != CONV_SUCCESS) {
    fail_check(&c[n++], "plan", "%s: %s",
               transposed ? "conv_transpose_plan_create: %s"
                          : "conv_plan_create_fused: %s",
               conv_status_string(st));
    snprintf(c[n - 1].msg, sizeof c[n - 1].msg, "%s: %s: %s",
             transposed ? "conv_transpose_plan_create"
                        : "conv_plan_create_fused",
             conv_status_string(st), conv_last_error(ctx));
    return n;
  }
  y = poisoned(&gc->y);
  dx = poisoned(&gc->dx);
  dw = poisoned(&gc->dw);
  if (gc->desc.has_bias) db = poisoned(&gc->db);
  if (!y || !dx || !dw || (gc->desc.has_bias && !db)) {
    fail_check(&c[n++], "mem", "out of memory%s%s", "", "");
    goto done;
  }
  st = conv_forward(plan, gc->x.data, gc->w.data, gc->b.data, y);
  compare(&c[n++], "y", st, "conv_forward", ctx, y, &gc->y);
  st = conv_backward_data(plan, gc->dy.data, gc->w.data, dx);
  compare(&c[n++], "dx", st, "conv_backward_data", ctx, dx, &gc->dx);
  st = conv_backward_weight(plan, gc->x.data, gc->dy.data, dw, db);
  compare(&c[n++], "dw", st, "conv_backward_weight", ctx, dw, &gc->dw);
  if (gc->desc.has_bias)
    compare(&c[n++], "db", st, "conv_backward_weight", ctx, db, &gc->db);
done:
  free(y);
  free(dx);
  free(dw);
  free(db);
  conv_plan_destroy(plan);
  return n;
}

int validate_run(const validate_opts *o, validate_summary *s) {
  memset(s, 0, sizeof *s);
  char rootbuf[PATH_MAX];
  const char *root = golden_root(o, rootbuf);
  char **names = NULL;
  size_t count = 0;
  conv_context *ctx = NULL;
  char err[1024];
  printer p = {o, 1};

  if (golden_list(root, o->case_glob, &names, &count, err, sizeof err) != 0) {
    snprintf(s->note, sizeof s->note, "golden cases: %s", err);
  } else if (count == 0) {
    snprintf(s->note, sizeof s->note, "no golden case in %s%s%s", root,
             o->case_glob ? " matches " : "", o->case_glob ? o->case_glob : "");
  } else {
    conv_status st = conv_context_create(&ctx, o->backend, o->device);
    if (st != CONV_SUCCESS)
      snprintf(s->note, sizeof s->note, "conv_context_create: %s: %s",
               conv_status_string(st), conv_last_error(NULL));
  }
  if (ctx == NULL) {
    s->setup_failed = 1;
    if (o->json) {
      printf("{\n  \"backend\": null, \"device\": null, \"golden_dir\": ");
      json_string(stdout, root);
      printf(",\n  \"error\": ");
      json_string(stdout, s->note);
      printf(",\n  \"cases\": [],\n  \"passed\": 0,\n  \"failed\": 0\n}\n");
    } else {
      printf("FAIL: %s\n", s->note);
    }
    golden_list_free(names, count);
    return 1;
  }

  if (o->json) {
    printf("{\n  \"backend\": ");
    json_string(stdout, conv_context_backend(ctx));
    printf(",\n  \"device\": ");
    json_string(stdout, conv_context_device(ctx));
    printf(",\n  \"golden_dir\": ");
    json_string(stdout, root);
    printf(",\n  \"tolerance\": %g,\n  \"error\": null,\n  \"cases\": [",
           VALIDATE_TOLERANCE);
  } else if (!o->quiet) {
    printf("backend: %s\ndevice:  %s\ngolden:  %s (%zu cases)\n",
           conv_context_backend(ctx), conv_context_device(ctx), root, count);
  }
  for (size_t i = 0; i < count; i++) {
    char dir[4096];
    golden_case gc;
    check c[4];
    int n;
    snprintf(dir, sizeof dir, "%s/%s", root, names[i]);
    if (golden_load(dir, &gc, err, sizeof err) != 0) {
      fail_check(&c[0], "load", "%s%s", err, "");
      n = 1;
    } else {
      n = run_case(ctx, &gc, c);
      golden_free(&gc);
    }
    int pass = 1;
    for (int k = 0; k < n; k++) pass &= c[k].pass;
    if (pass) s->passed++;
    else s->failed++;
    print_case(&p, names[i], c, n, pass);
  }
  if (o->json)
    printf("\n  ],\n  \"passed\": %d,\n  \"failed\": %d\n}\n", s->passed,
           s->failed);
  else if (!o->quiet)
    printf("%d passed, %d failed\n", s->passed, s->failed);
  conv_context_destroy(ctx);
  golden_list_free(names, count);
  return s->failed != 0;
}

static void validate_usage(FILE *f) {
  fprintf(f,
          "usage: convinfo validate [--backend B] [--device D] [--golden DIR]\n"
          "                         [--case GLOB] [--json]\n"
          "  --backend B   name or plugin path (default: libconv's choice:\n"
          "                $CONV_BACKEND, else the best available)\n"
          "  --device D    index or name substring (default: $CONV_DEVICE, "
          "else 0)\n"
          "  --golden DIR  the cases folder (default: $CONV_GOLDEN_DIR, else\n"
          "                %s if it exists,\n"
          "                else %s)\n"
          "  --case GLOB   only cases whose name matches (fnmatch)\n"
          "Per case and output tensor: err = max|got-ref| / max(max|ref|, "
          "1e-6),\nPASS iff err <= %g. Exit status 1 if any case fails.\n",
          CONV_GOLDEN_INSTALL_DIR, CONV_GOLDEN_SOURCE_DIR, VALIDATE_TOLERANCE);
}

int cmd_validate(int argc, char **argv) {
  static const struct option longopts[] = {
      {"backend", required_argument, NULL, 'b'},
      {"device", required_argument, NULL, 'd'},
      {"golden", required_argument, NULL, 'g'},
      {"case", required_argument, NULL, 'c'},
      {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  validate_opts o;
  validate_summary s;
  validate_opts_init(&o);
  int c;
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
    switch (c) {
      case 'b': o.backend = optarg; break;
      case 'd': o.device = optarg; break;
      case 'g': o.golden_dir = optarg; break;
      case 'c': o.case_glob = optarg; break;
      case 'j': o.json = 1; break;
      case 'h': validate_usage(stdout); return EXIT_OK;
      default:
        note_option_error("validate", argv, longopts);
        validate_usage(stderr);
        return EXIT_USAGE;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "convinfo validate: unexpected argument '%s'\n",
            argv[optind]);
    validate_usage(stderr);
    return EXIT_USAGE;
  }
  /* A folder named on the command line that is not there is a bad
   * argument (2), as bench's --suite is. */
  if (o.golden_dir != NULL && !is_dir(o.golden_dir)) {
    fprintf(stderr, "convinfo validate: --golden %s: not a directory\n",
            o.golden_dir);
    return EXIT_USAGE;
  }
  return validate_run(&o, &s) ? EXIT_FAILED : EXIT_OK;
}
