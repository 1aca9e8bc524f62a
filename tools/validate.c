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

#ifndef CONV_GOLDEN_INSTALL_DIR
#define CONV_GOLDEN_INSTALL_DIR ""
#endif
#ifndef CONV_GOLDEN_SOURCE_DIR
#define CONV_GOLDEN_SOURCE_DIR ""
#endif

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
  c->err = golden_rel_error(got, ref->data, ref->count);
  c->pass = c->err <= VALIDATE_TOLERANCE;
}

/* Runs one loaded case; fills up to 4 checks, returns how many. */
static int run_case(conv_context *ctx, const golden_case *gc, check *c) {
  conv_plan *plan = NULL;
  float *y = NULL, *dx = NULL, *dw = NULL, *db = NULL;
  int n = 0;
  if (strcmp(gc->op, "conv2d") != 0) {
    fail_check(&c[n++], "op", "unsupported op '%s'%s", gc->op, "");
    return n;
  }
  conv_status st = conv_plan_create(ctx, &gc->desc, &plan);
  if (st != CONV_SUCCESS) {
    fail_check(&c[n++], "plan", "conv_plan_create: %s: %s",
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
        fprintf(stderr, "convinfo validate: option '%s' needs an argument or "
                "is unknown\n", argv[optind - 1]);
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
  return validate_run(&o, &s) ? EXIT_FAILED : EXIT_OK;
}
