/* SPDX-License-Identifier: Apache-2.0 */
/*
 * convinfo: what libconv finds on this machine, whether it computes what
 * PyTorch computes, and how fast.
 *
 *   convinfo                  list backends and devices, validate each
 *                             usable one against the golden set, summarise
 *   convinfo list [--json]    backends, devices and their details
 *   convinfo validate ...     per case and tensor: error against the golden set
 *   convinfo bench ...        timings of a suite of layers (bench.c)
 *   convinfo tune ...         bench with kernel tuning on (cache.c)
 *   convinfo cache [--clear]  the compiled-kernel and tuning cache (cache.c)
 *
 * It uses only the public API (conv.h) and links only libconv.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "tools.h"
#include "validate.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: convinfo                 list backends, validate each usable "
          "one\n"
          "       convinfo list [--json]\n"
          "       convinfo validate [--backend B] [--device D] [--golden DIR]\n"
          "                         [--case GLOB] [--json]\n"
          "       convinfo bench [--backend B] [--device D] [--suite FILE]\n"
          "                      [--threads N] [--repeat R] [--layer GLOB] "
          "[--json]\n"
          "       convinfo tune [bench options]   (time kernel candidates, keep "
          "the best)\n"
          "       convinfo cache [--clear]        (compiled kernels and tuning "
          "data)\n"
          "       convinfo help | --help | --version\n"
          "Backends are found as libconv finds them ($CONV_PLUGIN_PATH, the "
          "build\ntree, the install directory). Exit status: 0 all good, 1 a "
          "failure,\n2 bad arguments.\n");
}

/* ---------------------------------------------------------------- list */

typedef struct found {
  conv_backend_info *b;
  size_t nb;
  conv_device_info **dev; /* per backend; NULL if not usable */
  size_t *ndev;
  char (*dev_error)[512];
} found;

static const char *backend_ref(const conv_backend_info *b) {
  return b->path[0] ? b->path : b->name;
}

static void found_free(found *f) {
  for (size_t i = 0; f->dev && i < f->nb; i++) free(f->dev[i]);
  free(f->dev);
  free(f->ndev);
  free(f->dev_error);
  free(f->b);
  memset(f, 0, sizeof *f);
}

/* Lists every backend and, for the usable ones, every device. */
static int discover(found *f, char *err, size_t errlen) {
  memset(f, 0, sizeof *f);
  size_t count = 0;
  conv_status st = conv_backend_list(NULL, 0, &count);
  if (st != CONV_SUCCESS) {
    snprintf(err, errlen, "conv_backend_list: %s: %s", conv_status_string(st),
             conv_last_error(NULL));
    return -1;
  }
  size_t cap = count + 4;
  f->b = calloc(cap, sizeof *f->b);
  f->dev = calloc(cap, sizeof *f->dev);
  f->ndev = calloc(cap, sizeof *f->ndev);
  f->dev_error = calloc(cap, sizeof *f->dev_error);
  if (!f->b || !f->dev || !f->ndev || !f->dev_error) goto oom;
  st = conv_backend_list(f->b, cap, &count);
  if (st != CONV_SUCCESS) {
    snprintf(err, errlen, "conv_backend_list: %s: %s", conv_status_string(st),
             conv_last_error(NULL));
    found_free(f);
    return -1;
  }
  f->nb = count < cap ? count : cap;
  for (size_t i = 0; i < f->nb; i++) {
    if (!f->b[i].usable) continue;
    size_t nd = 0;
    st = conv_device_list(backend_ref(&f->b[i]), NULL, 0, &nd);
    if (st == CONV_SUCCESS) {
      f->dev[i] = calloc(nd ? nd : 1, sizeof **f->dev);
      if (f->dev[i] == NULL) goto oom;
      st = conv_device_list(backend_ref(&f->b[i]), f->dev[i], nd, &nd);
    }
    if (st != CONV_SUCCESS) {
      snprintf(f->dev_error[i], sizeof f->dev_error[i], "%s: %s",
               conv_status_string(st), conv_last_error(NULL));
      nd = 0;
    }
    f->ndev[i] = nd;
  }
  return 0;
oom:
  snprintf(err, errlen, "out of memory");
  found_free(f);
  return -1;
}

/* With no backend at all, where libconv looked: the loader names the
 * folders it searched when a named backend is missing. */
static void print_search_path(void) {
  conv_context *ctx = NULL;
  if (conv_context_create(&ctx, "cpu", NULL) == CONV_SUCCESS) {
    conv_context_destroy(ctx);
    return;
  }
  const char *msg = conv_last_error(NULL);
  const char *dirs = strstr(msg, "(searched:");
  if (dirs != NULL)
    printf("  searched:%.*s\n", (int)strcspn(dirs + 10, ")"), dirs + 10);
  else
    printf("  %s\n", msg);
  printf("  (put conv_<name>.so plugins there, or name their folder in "
         "CONV_PLUGIN_PATH)\n");
}

/* What an application gets from conv_context_create(NULL, NULL): the
 * backend $CONV_BACKEND names, else the best available. Returns 0 if that
 * works, else prints why and returns -1. */
static int print_default(void) {
  const char *env = getenv("CONV_BACKEND");
  char from[300];
  if (env != NULL && env[0] != '\0')
    snprintf(from, sizeof from, "CONV_BACKEND=%s", env);
  else
    snprintf(from, sizeof from, "the best available");
  conv_context *ctx = NULL;
  conv_status st = conv_context_create(&ctx, NULL, NULL);
  if (st != CONV_SUCCESS) {
    printf("default backend (%s): FAILED: %s: %s\n", from,
           conv_status_string(st), conv_last_error(NULL));
    return -1;
  }
  printf("default backend (%s): %s on %s\n", from, conv_context_backend(ctx),
         conv_context_device(ctx));
  conv_context_destroy(ctx);
  return 0;
}

static void print_found_text(const found *f) {
  printf("libconv %s\n", conv_version_string());
  if (f->nb == 0) {
    printf("no backends found\n");
    print_search_path();
  }
  for (size_t i = 0; i < f->nb; i++) {
    const conv_backend_info *b = &f->b[i];
    printf("backend %s %s  (%s)\n", b->name, b->version, b->path);
    if (!b->usable) {
      printf("  skipped: %s\n", b->reason);
      continue;
    }
    if (f->dev_error[i][0]) printf("  devices: %s\n", f->dev_error[i]);
    else if (f->ndev[i] == 0) printf("  no devices\n");
    for (size_t d = 0; d < f->ndev[i]; d++) {
      const conv_device_info *di = &f->dev[i][d];
      printf("  device %zu: %s%s\n", d, di->name, di->is_gpu ? " (GPU)" : "");
      const char *p = di->details;
      while (*p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len) printf("    %.*s\n", (int)len, p);
        p += len + (e != NULL);
      }
    }
  }
}

static void print_found_json(const found *f) {
  printf("{\n  \"version\": ");
  json_string(stdout, conv_version_string());
  printf(",\n  \"backends\": [");
  for (size_t i = 0; i < f->nb; i++) {
    const conv_backend_info *b = &f->b[i];
    printf("%s\n    {\"name\": ", i ? "," : "");
    json_string(stdout, b->name);
    printf(", \"version\": ");
    json_string(stdout, b->version);
    printf(", \"path\": ");
    json_string(stdout, b->path);
    printf(", \"usable\": %s, \"reason\": ", b->usable ? "true" : "false");
    if (b->usable) printf("null");
    else json_string(stdout, b->reason);
    printf(", \"device_error\": ");
    if (f->dev_error[i][0]) json_string(stdout, f->dev_error[i]);
    else printf("null");
    printf(",\n     \"devices\": [");
    for (size_t d = 0; d < f->ndev[i]; d++) {
      const conv_device_info *di = &f->dev[i][d];
      printf("%s\n       {\"index\": %zu, \"name\": ", d ? "," : "", d);
      json_string(stdout, di->name);
      printf(", \"is_gpu\": %s, \"details\": [", di->is_gpu ? "true" : "false");
      const char *p = di->details;
      int first = 1;
      while (*p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len) {
          char line[sizeof di->details];
          memcpy(line, p, len);
          line[len] = '\0';
          printf("%s", first ? "" : ", ");
          json_string(stdout, line);
          first = 0;
        }
        p += len + (e != NULL);
      }
      printf("]}");
    }
    printf("%s]}", f->ndev[i] ? "\n     " : "");
  }
  printf("\n  ]\n}\n");
}

static int cmd_list(int argc, char **argv) {
  int json = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) {
      json = 1;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      printf("usage: convinfo list [--json]\n");
      return EXIT_OK;
    } else {
      fprintf(stderr, "convinfo list: unexpected argument '%s'\n", argv[i]);
      fprintf(stderr, "usage: convinfo list [--json]\n");
      return EXIT_USAGE;
    }
  }
  found f;
  char err[1024];
  if (discover(&f, err, sizeof err) != 0) {
    fprintf(stderr, "convinfo list: %s\n", err);
    return EXIT_FAILED;
  }
  int rc = EXIT_OK;
  if (json) {
    print_found_json(&f);
  } else {
    print_found_text(&f);
    if (print_default() != 0) rc = EXIT_FAILED;
  }
  found_free(&f);
  return rc;
}

/* ----------------------------------------------------------- overview */

/* No arguments: the list, then every device of every usable backend
 * against the golden set (only failures printed), then a summary table. */
static int cmd_overview(void) {
  found f;
  char err[1024];
  if (discover(&f, err, sizeof err) != 0) {
    fprintf(stderr, "convinfo: %s\n", err);
    return EXIT_FAILED;
  }
  print_found_text(&f);
  /* An application opening the default backend would fail: so does this. */
  int default_failed = print_default() != 0;
  printf("\n");
  validate_opts o;
  validate_opts_init(&o);
  o.quiet = 1;
  typedef struct row {
    char backend[140];
    char device[300];
    validate_summary s;
    int skipped;
  } row;
  size_t nrows = 0, cap = 0;
  row *rows = NULL;
  int rc = EXIT_OK, any_usable = 0;
  for (size_t i = 0; i < f.nb; i++) {
    any_usable |= f.b[i].usable;
    if (f.b[i].usable && f.ndev[i] == 0) rc = EXIT_FAILED;
    /* A skipped backend gets one row (with its reason), not a failure. */
    size_t nd = f.b[i].usable ? f.ndev[i] : 1;
    for (size_t d = 0; d < nd; d++) {
      if (nrows == cap) {
        cap = cap ? 2 * cap : 8;
        row *nr = realloc(rows, cap * sizeof *nr);
        if (nr == NULL) {
          fprintf(stderr, "convinfo: out of memory\n");
          rc = EXIT_FAILED;
          goto done;
        }
        rows = nr;
      }
      row *r = &rows[nrows++];
      memset(r, 0, sizeof *r);
      snprintf(r->backend, sizeof r->backend, "%s %s", f.b[i].name,
               f.b[i].version);
      if (!f.b[i].usable) {
        r->skipped = 1;
        snprintf(r->device, sizeof r->device, "-");
        snprintf(r->s.note, sizeof r->s.note, "skipped: %s", f.b[i].reason);
        continue;
      }
      snprintf(r->device, sizeof r->device, "%zu: %s", d, f.dev[i][d].name);
      char dev_index[32];
      snprintf(dev_index, sizeof dev_index, "%zu", d);
      printf("validating %s on %s ...\n", r->backend, r->device);
      fflush(stdout);
      o.backend = backend_ref(&f.b[i]);
      o.device = dev_index;
      validate_run(&o, &r->s);
      if (r->s.failed || r->s.setup_failed || r->s.passed == 0)
        rc = EXIT_FAILED;
    }
  }
  if (!any_usable) {
    printf("no usable backend\n");
    rc = EXIT_FAILED;
  }
  if (default_failed) rc = EXIT_FAILED;
  if (nrows) {
    /* Columns as wide as their longest entry: no name is cut. */
    int wb = 7, wd = 6;
    for (size_t i = 0; i < nrows; i++) {
      if ((int)strlen(rows[i].backend) > wb) wb = (int)strlen(rows[i].backend);
      if ((int)strlen(rows[i].device) > wd) wd = (int)strlen(rows[i].device);
    }
    printf("\n%-*s  %-*s %7s %7s  %s\n", wb, "backend", wd, "device",
           "passed", "failed", "note");
    for (size_t i = 0; i < nrows; i++) {
      const row *r = &rows[i];
      if (r->skipped) {
        printf("%-*s  %-*s %7s %7s  %s\n", wb, r->backend, wd, r->device,
               "-", "-", r->s.note);
        continue;
      }
      printf("%-*s  %-*s %7d %7d  %s\n", wb, r->backend, wd, r->device,
             r->s.passed, r->s.failed,
             r->s.setup_failed ? r->s.note
             : r->s.passed == 0 ? "no golden cases ran" : "");
    }
  }
done:
  free(rows);
  found_free(&f);
  return rc;
}

int main(int argc, char **argv) {
  /* Backends say on stderr when they compile kernels or tune (once per
   * device; cached afterwards), so a cold first run is not silent. */
  if (getenv("CONV_PROGRESS") == NULL) setenv("CONV_PROGRESS", "1", 1);
  if (argc < 2) return cmd_overview();
  const char *cmd = argv[1];
  if (strcmp(cmd, "list") == 0) return cmd_list(argc - 1, argv + 1);
  if (strcmp(cmd, "validate") == 0) return cmd_validate(argc - 1, argv + 1);
  if (strcmp(cmd, "bench") == 0) return cmd_bench(argc - 1, argv + 1);
  if (strcmp(cmd, "tune") == 0) return cmd_tune(argc - 1, argv + 1);
  if (strcmp(cmd, "cache") == 0) return cmd_cache(argc - 1, argv + 1);
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
      strcmp(cmd, "-h") == 0) {
    usage(stdout);
    return EXIT_OK;
  }
  if (strcmp(cmd, "--version") == 0) {
    printf("convinfo (libconv) %s\n", conv_version_string());
    return EXIT_OK;
  }
  fprintf(stderr, "convinfo: unknown command '%s'\n", cmd);
  usage(stderr);
  return EXIT_USAGE;
}
