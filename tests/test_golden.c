/* SPDX-License-Identifier: Apache-2.0 */
/* The golden set (tests/golden/cases, PyTorch's answers) through the public
 * API, for every usable backend and all four operations, with the same
 * tolerance as the random tests; and the malformed examples
 * (tests/golden/malformed) are refused by the reader with the expected
 * message, never a crash.
 *
 * $CONV_GOLDEN_DIR: the cases (required: an empty set is a failure).
 * $CONV_GOLDEN_MALFORMED_DIR: the malformed examples. */
#include <check.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conv.h"
#include "golden.h"
#include "testutil.h"

#define MAX_BACKENDS 8

static char backends[MAX_BACKENDS][64];
static int n_backends;
static const char *golden_dir;
static const char *malformed_dir;

/* Failures are collected so one run reports every failing case. */
typedef struct report {
  char text[8192];
  int failures;
} report;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void report_fail(report *r, const char *fmt, ...) {
  r->failures++;
  size_t used = strlen(r->text);
  if (used + 2 >= sizeof r->text) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->text + used, sizeof r->text - used, fmt, ap);
  va_end(ap);
  used = strlen(r->text);
  if (used + 1 < sizeof r->text) strcat(r->text, "\n");
}

static float *poisoned(size_t n) {
  float *p = tu_alloc(n * sizeof(float));
  tu_poison(p, n);
  return p;
}

static void compare(report *r, const golden_case *c, const char *backend,
                    const char *what, const float *got,
                    const golden_array *ref) {
  double e = golden_rel_error(got, ref->data, ref->count);
  if (!(e <= TU_TOLERANCE))
    report_fail(r, "%s: case %s: %s relative error %g > %g", backend, c->name, what,
         e, TU_TOLERANCE);
}

/* The transposed convolution a conv_transpose2d case describes. */
static void transpose_desc_of(const golden_case *c, conv_transpose_desc *td) {
  const conv_desc *d = &c->desc;
  conv_transpose_desc_init(td);
  td->n = d->n; td->c_in = d->c_in; td->h = d->h; td->w = d->w;
  td->c_out = d->c_out;
  td->kernel[0] = d->kernel[0]; td->kernel[1] = d->kernel[1];
  td->stride[0] = d->stride[0]; td->stride[1] = d->stride[1];
  td->dilation[0] = d->dilation[0]; td->dilation[1] = d->dilation[1];
  td->groups = d->groups;
  for (int i = 0; i < 4; i++) td->pad[i] = c->pads[i];
  td->output_padding[0] = c->output_padding[0];
  td->output_padding[1] = c->output_padding[1];
  td->has_bias = d->has_bias;
}

/* Runs one loaded conv2d or conv_transpose2d case on ctx (a fused plan when
 * the case has an activation: y is act(conv), the gradients the plain
 * convolution's); returns 1 if it ran. */
static int run_golden_case(report *r, conv_context *ctx, const char *backend,
                           const golden_case *c) {
  const conv_desc *d = &c->desc;
  const int transposed = strcmp(c->op, "conv_transpose2d") == 0;
  int64_t h_out = 0, w_out = 0, pads[4];
  conv_transpose_desc td;
  if (transposed) {
    transpose_desc_of(c, &td);
    if (conv_transpose_output_size(&td, &h_out, &w_out) != CONV_SUCCESS) {
      report_fail(r, "%s: case %s: conv_transpose_output_size: %s", backend,
                  c->name, conv_last_error(NULL));
      return 0;
    }
    for (int i = 0; i < 4; i++) pads[i] = c->pads[i];
  } else if (conv_output_size(d, &h_out, &w_out, pads) != CONV_SUCCESS) {
    report_fail(r, "%s: case %s: conv_output_size: %s", backend, c->name,
         conv_last_error(NULL));
    return 0;
  }
  if (h_out != c->h_out || w_out != c->w_out || pads[0] != c->pads[0] ||
      pads[1] != c->pads[1] || pads[2] != c->pads[2] || pads[3] != c->pads[3])
    report_fail(r, "%s: case %s: geometry %lldx%lld differs from the case's %lldx%lld",
         backend, c->name, (long long)h_out, (long long)w_out,
         (long long)c->h_out, (long long)c->w_out);
  conv_plan *plan = NULL;
  conv_status st =
      transposed ? conv_transpose_plan_create(ctx, &td, c->activation,
                                              c->activation_alpha, &plan)
                 : conv_plan_create_fused(ctx, d, c->activation,
                                          c->activation_alpha, &plan);
  if (st != CONV_SUCCESS) {
    report_fail(r, "%s: case %s: plan: %s (%s)", backend, c->name,
         conv_status_string(st), conv_last_error(ctx));
    return 0;
  }
  if (conv_plan_activation(plan) != c->activation)
    report_fail(r, "%s: case %s: conv_plan_activation %d, the case has %d",
                backend, c->name, (int)conv_plan_activation(plan),
                (int)c->activation);
  const int bias = d->has_bias;
  float *y = poisoned(c->y.count), *dx = poisoned(c->dx.count);
  float *dw = poisoned(c->dw.count);
  float *db = poisoned((size_t)d->c_out), *db2 = poisoned((size_t)d->c_out);

  st = conv_forward(plan, c->x.data, c->w.data, bias ? c->b.data : NULL, y);
  if (st != CONV_SUCCESS)
    report_fail(r, "%s: case %s: forward: %s", backend, c->name, conv_last_error(ctx));
  else
    compare(r, c, backend, "forward y", y, &c->y);

  st = conv_backward_data(plan, c->dy.data, c->w.data, dx);
  if (st != CONV_SUCCESS)
    report_fail(r, "%s: case %s: backward_data: %s", backend, c->name,
         conv_last_error(ctx));
  else
    compare(r, c, backend, "backward_data dx", dx, &c->dx);

  st = conv_backward_weight(plan, c->x.data, c->dy.data, dw,
                            bias ? db : NULL);
  if (st != CONV_SUCCESS) {
    report_fail(r, "%s: case %s: backward_weight: %s", backend, c->name,
         conv_last_error(ctx));
  } else {
    compare(r, c, backend, "backward_weight dw", dw, &c->dw);
    if (bias) compare(r, c, backend, "backward_weight db", db, &c->db);
  }

  if (bias) {
    st = conv_backward_bias(plan, c->dy.data, db2);
    if (st != CONV_SUCCESS)
      report_fail(r, "%s: case %s: backward_bias: %s", backend, c->name,
           conv_last_error(ctx));
    else
      compare(r, c, backend, "backward_bias db", db2, &c->db);
  }
  free(y); free(dx); free(dw); free(db); free(db2);
  conv_plan_destroy(plan);
  return 1;
}

START_TEST(test_golden_cases) {
  const char *backend = backends[_i];
  char err[1024];
  char **names = NULL;
  size_t count = 0;
  ck_assert_msg(golden_list(golden_dir, NULL, &names, &count, err,
                            sizeof err) == 0,
                "golden_list(%s): %s", golden_dir, err);
  ck_assert_msg(count > 0, "no golden cases in %s", golden_dir);

  conv_context *ctx = NULL;
  conv_status st = conv_context_create(&ctx, backend, NULL);
  ck_assert_msg(st == CONV_SUCCESS, "context %s: %s", backend,
                conv_last_error(NULL));
  report *r = calloc(1, sizeof *r);
  ck_assert_ptr_nonnull(r);
  int ran = 0, other_ops = 0;
  for (size_t i = 0; i < count; i++) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", golden_dir, names[i]);
    golden_case c;
    if (golden_load(dir, &c, err, sizeof err) != 0) {
      report_fail(r, "golden_load(%s): %s", dir, err);
      continue;
    }
    if (strcmp(c.op, "conv2d") != 0 && strcmp(c.op, "conv_transpose2d") != 0) {
      other_ops++; /* pooling cases: test_pool runs them */
    } else {
      ran += run_golden_case(r, ctx, backend, &c);
    }
    golden_free(&c);
  }
  printf("golden: backend %s: %d of %zu cases run (%d pooling cases "
         "left to test_pool), %d failures\n", backend, ran, count, other_ops,
         r->failures);
  fflush(stdout);
  golden_list_free(names, count);
  conv_context_destroy(ctx);
  ck_assert_msg(r->failures == 0, "%d failure(s):\n%s", r->failures, r->text);
  ck_assert_msg(ran > 0, "no conv2d golden case ran");
  free(r);
}
END_TEST

/* Every malformed example is refused by the reader with the message its
 * expected_error names; loading never crashes (Check runs this in a child,
 * so a crash is reported as an error, not lost). */
START_TEST(test_malformed) {
  DIR *dir = opendir(malformed_dir);
  ck_assert_msg(dir != NULL, "cannot open the malformed examples in %s",
                malformed_dir);
  report *r = calloc(1, sizeof *r);
  ck_assert_ptr_nonnull(r);
  int seen = 0;
  struct dirent *e;
  while ((e = readdir(dir)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char path[4096], expected[512] = "", err[1024];
    snprintf(path, sizeof path, "%s/%s/expected_error", malformed_dir,
             e->d_name);
    FILE *f = fopen(path, "r");
    if (f == NULL) continue; /* not a malformed example directory */
    if (fgets(expected, sizeof expected, f) == NULL) expected[0] = '\0';
    fclose(f);
    expected[strcspn(expected, "\r\n")] = '\0';
    snprintf(path, sizeof path, "%s/%s", malformed_dir, e->d_name);
    seen++;
    golden_case c;
    memset(err, 0, sizeof err);
    int rc = golden_load(path, &c, err, sizeof err);
    if (rc == 0) {
      report_fail(r, "malformed %s was accepted", e->d_name);
      golden_free(&c);
      continue;
    }
    if (err[0] == '\0')
      report_fail(r, "malformed %s: empty message", e->d_name);
    else if (expected[0] != '\0' && strstr(err, expected) == NULL)
      report_fail(r, "malformed %s: message \"%s\" lacks \"%s\"", e->d_name, err,
           expected);
    golden_free(&c); /* harmless on a failed load */
    golden_free(&c);
  }
  closedir(dir);
  printf("golden: %d malformed examples refused\n", seen);
  ck_assert_msg(seen > 0, "no malformed examples in %s", malformed_dir);
  ck_assert_msg(r->failures == 0, "%d failure(s):\n%s", r->failures, r->text);
  free(r);
}
END_TEST

/* A missing or empty golden directory is an error, never zero cases
 * passing quietly. */
START_TEST(test_missing_dir) {
  char **names = NULL;
  size_t count = 7;
  char err[512] = "";
  int rc = golden_list("/nonexistent/libconv/golden", NULL, &names, &count,
                       err, sizeof err);
  ck_assert_int_eq(rc, -1);
  ck_assert_str_ne(err, "");
  char *empty = tu_make_temp_dir("golden-empty");
  rc = golden_list(empty, NULL, &names, &count, err, sizeof err);
  ck_assert_int_eq(rc, 0);
  ck_assert_uint_eq(count, 0);
  golden_list_free(names, count);
  tu_remove_dir(empty);
  free(empty);
}
END_TEST

/* A case directory with arrays but no params is listed, and loading it
 * fails naming params: a test set cannot shrink unnoticed. */
START_TEST(test_case_without_params) {
  char *root = tu_make_temp_dir("golden-noparams");
  char sub[4096], file[4200];
  snprintf(sub, sizeof sub, "%s/lost_case", root);
  ck_assert_int_eq(mkdir(sub, 0700), 0);
  snprintf(file, sizeof file, "%s/x.npy", sub);
  FILE *f = fopen(file, "wb");
  ck_assert_ptr_nonnull(f);
  fputs("not really an array", f);
  fclose(f);
  char **names = NULL;
  size_t count = 0;
  char err[512] = "";
  ck_assert_int_eq(golden_list(root, NULL, &names, &count, err, sizeof err), 0);
  ck_assert_uint_eq(count, 1);
  ck_assert_str_eq(names[0], "lost_case");
  golden_list_free(names, count);
  golden_case gc;
  ck_assert_int_eq(golden_load(sub, &gc, err, sizeof err), -1);
  ck_assert_msg(strstr(err, "params") != NULL, "message \"%s\"", err);
  remove(file);
  rmdir(sub);
  tu_remove_dir(root);
  free(root);
}
END_TEST

int main(void) {
  golden_dir = getenv("CONV_GOLDEN_DIR");
  if (golden_dir == NULL || !*golden_dir) {
    fprintf(stderr, "test_golden: CONV_GOLDEN_DIR is not set\n");
    return EXIT_FAILURE;
  }
  malformed_dir = getenv("CONV_GOLDEN_MALFORMED_DIR");
  n_backends = tu_require_backends("test_golden", backends, MAX_BACKENDS);
  if (n_backends == 0) return EXIT_FAILURE;
  Suite *s = suite_create("golden");
  TCase *tc = tcase_create("cases");
  tcase_set_timeout(tc, 600);
  tcase_add_loop_test(tc, test_golden_cases, 0, n_backends);
  suite_add_tcase(s, tc);
  TCase *tm = tcase_create("reader");
  tcase_set_timeout(tm, 60);
  if (malformed_dir != NULL && *malformed_dir)
    tcase_add_test(tm, test_malformed);
  tcase_add_test(tm, test_missing_dir);
  tcase_add_test(tm, test_case_without_params);
  suite_add_tcase(s, tm);
  const int failed = tu_run_suite(s);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
