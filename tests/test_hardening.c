/* SPDX-License-Identifier: Apache-2.0 */
/* Hardening probes that need their own process setup.
 *
 * hostile: a plugin directory of plugins that crash, abort, hang or return
 * garbage when loaded (fake_plugin.c, FAKE_INIT_* and friends) is put first
 * on $CONV_PLUGIN_PATH, beside the real backends of the build tree. A
 * program that asks for `cpu` (or an unknown name, or the default) never
 * loads them: each test would die or time out if it did. Those that are
 * named are refused with a reason, never fatal, when the harm is a return
 * value.
 *
 * limits: the cpu backend's default choice falls back to an algorithm whose
 * workspace fits when the heuristic's first choice asks for more memory
 * than the machine has. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "testutil.h"

static char *hostile_dir;

static const struct {
  const char *module; /* file in CONV_TEST_FAKE_DIR */
  const char *name;   /* conv_<name>.so in hostile_dir */
} hostile[] = {
    {"hostile_crash.so", "hostilecrash"},
    {"hostile_abort.so", "hostileabort"},
    {"hostile_hang.so", "hostilehang"},
    {"hostile_garbage.so", "hostilegarbage"},
    {"hostile_ctor.so", "hostilector"},
    {"hostile_table.so", "hostiletable"},
};
#define N_HOSTILE (sizeof hostile / sizeof hostile[0])

/* y = 3 x through a 1x1 convolution on ctx. */
static void assert_computes(conv_context *ctx, const char *what) {
  conv_desc d;
  conv_desc_init(&d);
  d.n = 1;
  d.c_in = d.c_out = 1;
  d.h = d.w = 3;
  d.kernel[0] = d.kernel[1] = 1;
  conv_plan *plan = NULL;
  ck_assert_msg(conv_plan_create(ctx, &d, &plan) == CONV_SUCCESS, "%s: %s",
                what, conv_last_error(ctx));
  float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[1] = {3}, y[9];
  tu_poison(y, 9);
  ck_assert_msg(conv_forward(plan, x, w, NULL, y) == CONV_SUCCESS, "%s: %s",
                what, conv_last_error(ctx));
  for (int i = 0; i < 9; i++)
    ck_assert_msg(y[i] == 3 * x[i], "%s: y[%d]=%g", what, i, (double)y[i]);
  conv_plan_destroy(plan);
}

START_TEST(test_cpu_by_name) {
  conv_context *ctx = NULL;
  ck_assert_msg(conv_context_create(&ctx, "cpu", NULL) == CONV_SUCCESS, "cpu: %s",
                conv_last_error(NULL));
  assert_computes(ctx, "cpu");
  conv_context_destroy(ctx);
  size_t count = 0;
  conv_device_info info[4];
  ck_assert_msg(conv_device_list("cpu", info, 4, &count) == CONV_SUCCESS,
                "device list: %s", conv_last_error(NULL));
  ck_assert_uint_ge(count, 1);
}
END_TEST

START_TEST(test_unknown_name) {
  conv_context *ctx = NULL;
  ck_assert_int_eq(conv_context_create(&ctx, "nosuchbackend", NULL),
                   CONV_ERROR_BACKEND_NOT_FOUND);
  /* The message names what is there without having loaded it. */
  const char *msg = conv_last_error(NULL);
  ck_assert_msg(strstr(msg, "hostilecrash") != NULL, "message \"%s\"", msg);
  ck_assert_msg(strstr(msg, "cpu") != NULL, "message \"%s\"", msg);
}
END_TEST

START_TEST(test_default_choice) {
  conv_context *ctx = NULL;
  ck_assert_msg(conv_context_create(&ctx, NULL, NULL) == CONV_SUCCESS,
                "default: %s", conv_last_error(NULL));
  const char *label = conv_context_backend(ctx);
  ck_assert_msg(strncmp(label, "cpu", 3) == 0 || strncmp(label, "opencl", 6) == 0,
                "default picked %s", label);
  assert_computes(ctx, label);
  conv_context_destroy(ctx);
  ck_assert_msg(conv_context_create(&ctx, "", NULL) == CONV_SUCCESS,
                "empty name: %s", conv_last_error(NULL));
  conv_context_destroy(ctx);
  ck_assert_msg(conv_context_create(&ctx, "nosuchbackend, cpu", NULL) ==
                    CONV_SUCCESS,
                "list: %s", conv_last_error(NULL));
  conv_context_destroy(ctx);
}
END_TEST

/* The plugins whose harm is a return value are refused when named. */
START_TEST(test_named_garbage_refused) {
  static const struct {
    const char *name, *word;
  } named[] = {{"hostilegarbage", "unknown status"},
               {"hostiletable", "ABI"}};
  for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
    conv_context *ctx = NULL;
    conv_status st = conv_context_create(&ctx, named[i].name, NULL);
    ck_assert_msg(st == CONV_ERROR_BAD_PLUGIN, "%s: %s (%s)", named[i].name,
                  conv_status_string(st), conv_last_error(NULL));
    ck_assert_msg(strstr(conv_last_error(NULL), named[i].word) != NULL,
                  "%s: message \"%s\"", named[i].name, conv_last_error(NULL));
  }
  /* And the process goes on with a real backend. */
  conv_context *ctx = NULL;
  ck_assert_int_eq(conv_context_create(&ctx, "cpu", NULL), CONV_SUCCESS);
  assert_computes(ctx, "cpu after garbage");
  conv_context_destroy(ctx);
}
END_TEST

/* ---------------------------------------------------------------- limits */

/* n=1, c=1, 131073 x 16385 input, 1x1 kernel, stride 8192x4096: the
 * heuristic's first choice wanted ~395 GB of workspace; a plan must still
 * be made (direct needs none). Only the plan: x alone is 8.6 GB. */
START_TEST(test_cpu_workspace_fallback) {
  conv_context *ctx = NULL;
  ck_assert_int_eq(conv_context_create(&ctx, "cpu", NULL), CONV_SUCCESS);
  conv_desc d;
  conv_desc_init(&d);
  d.n = 1;
  d.c_in = d.c_out = 1;
  d.h = 131073;
  d.w = 16385;
  d.kernel[0] = d.kernel[1] = 1;
  d.stride[0] = 8192;
  d.stride[1] = 4096;
  conv_plan *plan = NULL;
  conv_status st = conv_plan_create(ctx, &d, &plan);
  ck_assert_msg(st == CONV_SUCCESS, "plan: %s: %s", conv_status_string(st),
                conv_last_error(ctx));
  ck_assert_msg(conv_plan_workspace_size(plan) < ((size_t)1 << 30),
                "workspace %zu bytes (fwd %s, bwd_data %s, bwd_weight %s)",
                conv_plan_workspace_size(plan),
                conv_plan_algorithm(plan, CONV_OP_FORWARD),
                conv_plan_algorithm(plan, CONV_OP_BACKWARD_DATA),
                conv_plan_algorithm(plan, CONV_OP_BACKWARD_WEIGHT));
  conv_plan_destroy(plan);
  conv_context_destroy(ctx);
}
END_TEST

int main(void) {
  const char *fake_dir = getenv("CONV_TEST_FAKE_DIR");
  if (fake_dir == NULL || !*fake_dir) fake_dir = ".libs";
  hostile_dir = tu_make_temp_dir("hostile");
  int ok = 1;
  for (size_t i = 0; i < N_HOSTILE; i++) {
    char from[4096], to[4096];
    snprintf(from, sizeof from, "%s/%s", fake_dir, hostile[i].module);
    snprintf(to, sizeof to, "%s/conv_%s.so", hostile_dir, hostile[i].name);
    if (!tu_copy_file(from, to)) {
      fprintf(stderr, "test_hardening: cannot copy %s to %s\n", from, to);
      ok = 0;
    }
  }
  setenv("CONV_PLUGIN_PATH", hostile_dir, 1);
  unsetenv("CONV_BACKEND");

  int failed = 1;
  if (ok) {
    Suite *s = suite_create("hardening");
    TCase *th = tcase_create("hostile");
    tcase_set_timeout(th, 60);
    tcase_add_test(th, test_cpu_by_name);
    tcase_add_test(th, test_unknown_name);
    tcase_add_test(th, test_default_choice);
    tcase_add_test(th, test_named_garbage_refused);
    suite_add_tcase(s, th);
    TCase *tl = tcase_create("limits");
    tcase_set_timeout(tl, 60);
    tcase_add_test(tl, test_cpu_workspace_fallback);
    suite_add_tcase(s, tl);
    failed = tu_run_suite(s);
  }
  tu_remove_dir(hostile_dir);
  free(hostile_dir);
  return ok && failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
