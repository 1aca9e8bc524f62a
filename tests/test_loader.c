/* SPDX-License-Identifier: Apache-2.0 */
/* The plugin loader's rejection paths, with fake plugins built for the
 * tests (fake_plugin.c), plus per-context, per-thread error messages.
 *
 * main() copies the fakes from $CONV_TEST_FAKE_DIR (tests/.libs) into a
 * temporary directory as conv_<name>.so, writes a text file named
 * conv_bogus.so beside them and points $CONV_PLUGIN_PATH there; the real
 * backends are still found in the build tree. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "testutil.h"

static char *plugin_dir;

static const struct {
  const char *module; /* file in CONV_TEST_FAKE_DIR */
  const char *name;   /* conv_<name>.so in plugin_dir */
} fakes[] = {
    {"fake_good.so", "fakegood"},
    {"fake_abi_major.so", "fakeabimajor"},
    {"fake_abi_minor.so", "fakeabiminor"},
    {"fake_no_entry.so", "fakenoentry"},
    {"fake_null_fn.so", "fakenullfn"},
    {"fake_init_fail.so", "fakeinitfail"},
    {"fake_old_minor.so", "fakeoldminor"},
    {"fake_pool_partial.so", "fakepoolpartial"},
    {"fake_avg_partial.so", "fakeavgpartial"},
    {"fake_epi_partial.so", "fakeepipartial"},
    {"fake_bde_alone.so", "fakebdealone"},
};

static void plugin_path(const char *name, char *buf, size_t len) {
  snprintf(buf, len, "%s/conv_%s.so", plugin_dir, name);
}

static void assert_contains(const char *msg, const char *want,
                            const char *what) {
  ck_assert_ptr_nonnull(msg);
  ck_assert_msg(strstr(msg, want) != NULL, "%s: message \"%s\" lacks \"%s\"",
                what, msg, want);
}

/* Opening name must fail with status, the message naming every word in
 * words (NULL-terminated); *ctx stays NULL. */
static void expect_reject(const char *name, conv_status status,
                          const char *const *words) {
  conv_context *ctx = (conv_context *)&ctx;
  conv_status st = conv_context_create(&ctx, name, NULL);
  const char *msg = conv_last_error(NULL);
  ck_assert_msg(st == status, "%s: status %s, expected %s (%s)", name,
                conv_status_string(st), conv_status_string(status), msg);
  ck_assert_msg(ctx == NULL, "%s: *ctx not NULL after failure", name);
  for (const char *const *w = words; *w != NULL; w++)
    assert_contains(msg, *w, name);
}

/* ------------------------------------------------------------ fakes */

START_TEST(test_good_plugin_loads) {
  conv_context *ctx = NULL;
  conv_status st = conv_context_create(&ctx, "fakegood", NULL);
  ck_assert_msg(st == CONV_SUCCESS, "fakegood: %s", conv_last_error(NULL));
  assert_contains(conv_context_backend(ctx), "fakegood", "backend label");
  assert_contains(conv_context_device(ctx), "fake device", "device name");

  conv_desc d;
  conv_desc_init(&d);
  d.n = 2;
  d.c_in = d.c_out = 1;
  d.h = d.w = 4;
  d.kernel[0] = d.kernel[1] = 3;
  conv_plan *plan = NULL;
  st = conv_plan_create(ctx, &d, &plan);
  ck_assert_msg(st == CONV_SUCCESS, "plan: %s", conv_last_error(ctx));
  ck_assert_str_eq(conv_plan_algorithm(plan, CONV_OP_FORWARD), "fake42");
  float x[32] = {0}, w[9] = {0}, y[8];
  tu_poison(y, 8);
  ck_assert_int_eq(conv_forward(plan, x, w, NULL, y), CONV_SUCCESS);
  for (int i = 0; i < 8; i++) ck_assert(y[i] == 42.0f);

  /* A backend failure comes back with the backend's message, and the
   * context stays usable. */
  float dx[32];
  st = conv_backward_data(plan, y, w, dx);
  ck_assert_int_eq(st, CONV_ERROR_UNSUPPORTED);
  assert_contains(conv_last_error(ctx), "fake: backward_data", "run failure");
  tu_poison(y, 8);
  ck_assert_int_eq(conv_forward(plan, x, w, NULL, y), CONV_SUCCESS);
  ck_assert(y[0] == 42.0f && y[7] == 42.0f);
  conv_plan_destroy(plan);
  conv_context_destroy(ctx);

  conv_device_info info[4];
  size_t count = 0;
  st = conv_device_list("fakegood", info, 4, &count);
  ck_assert_msg(st == CONV_SUCCESS, "device list: %s", conv_last_error(NULL));
  ck_assert_uint_eq(count, 1);
  ck_assert_str_eq(info[0].name, "fake device");
}
END_TEST

/* Device selection by index, by name substring and through $CONV_DEVICE;
 * an unknown device is CONV_ERROR_DEVICE_NOT_FOUND naming what exists. */
START_TEST(test_device_selection) {
  static const char *const good[] = {"0", "fake", "FAKE DEV", "device"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    conv_context *ctx = NULL;
    conv_status st = conv_context_create(&ctx, "fakegood", good[i]);
    ck_assert_msg(st == CONV_SUCCESS, "device '%s': %s", good[i],
                  conv_last_error(NULL));
    ck_assert_str_eq(conv_context_device(ctx), "fake device");
    conv_context_destroy(ctx);
  }
  static const char *const bad[] = {"1", "-1", "99999999999999999999",
                                    "no such device"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    conv_context *ctx = (conv_context *)&ctx;
    conv_status st = conv_context_create(&ctx, "fakegood", bad[i]);
    ck_assert_msg(st == CONV_ERROR_DEVICE_NOT_FOUND,
                  "device '%s': status %s (%s)", bad[i],
                  conv_status_string(st), conv_last_error(NULL));
    ck_assert_ptr_null(ctx);
  }
  conv_context *ctx = NULL;
  ck_assert_int_eq(conv_context_create(&ctx, "fakegood", "no such device"),
                   CONV_ERROR_DEVICE_NOT_FOUND);
  assert_contains(conv_last_error(NULL), "fake device", "lists devices");
  setenv("CONV_DEVICE", "7", 1);
  ck_assert_int_eq(conv_context_create(&ctx, "fakegood", NULL),
                   CONV_ERROR_DEVICE_NOT_FOUND);
  /* An explicit argument wins over the environment. */
  ck_assert_int_eq(conv_context_create(&ctx, "fakegood", "0"), CONV_SUCCESS);
  conv_context_destroy(ctx);
  unsetenv("CONV_DEVICE");
}
END_TEST

START_TEST(test_plugin_by_path) {
  char path[4096];
  plugin_path("fakegood", path, sizeof path);
  conv_context *ctx = NULL;
  conv_status st = conv_context_create(&ctx, path, NULL);
  ck_assert_msg(st == CONV_SUCCESS, "%s: %s", path, conv_last_error(NULL));
  assert_contains(conv_context_backend(ctx), "fakegood", "by path");
  conv_context_destroy(ctx);

  /* The same through $CONV_BACKEND. */
  setenv("CONV_BACKEND", path, 1);
  ctx = NULL;
  st = conv_context_create(&ctx, NULL, NULL);
  ck_assert_msg(st == CONV_SUCCESS, "CONV_BACKEND=%s: %s", path,
                conv_last_error(NULL));
  assert_contains(conv_context_backend(ctx), "fakegood", "CONV_BACKEND path");
  conv_context_destroy(ctx);
  unsetenv("CONV_BACKEND");

  /* A path that does not exist. */
  const char *words[] = {"/nonexistent/conv_nothing.so", NULL};
  expect_reject("/nonexistent/conv_nothing.so", CONV_ERROR_BACKEND_NOT_FOUND,
                words);
}
END_TEST

START_TEST(test_abi_major_rejected) {
  const char *words[] = {"fakeabimajor", "major", NULL};
  expect_reject("fakeabimajor", CONV_ERROR_BAD_PLUGIN, words);
}
END_TEST

START_TEST(test_abi_minor_newer_rejected) {
  const char *words[] = {"fakeabiminor", "minor", NULL};
  expect_reject("fakeabiminor", CONV_ERROR_BAD_PLUGIN, words);
}
END_TEST

START_TEST(test_missing_entry_rejected) {
  const char *words[] = {"fakenoentry", "conv_plugin_entry", NULL};
  expect_reject("fakenoentry", CONV_ERROR_BAD_PLUGIN, words);
}
END_TEST

START_TEST(test_null_function_rejected) {
  const char *words[] = {"fakenullfn", "plan_create", NULL};
  expect_reject("fakenullfn", CONV_ERROR_BAD_PLUGIN, words);
}
END_TEST

START_TEST(test_init_failure_kept) {
  const char *words[] = {"fakeinitfail", "no such hardware (code 1234)", NULL};
  expect_reject("fakeinitfail", CONV_ERROR_BAD_PLUGIN, words);
}
END_TEST

/* An ABI 1.0 plugin (older minor, smaller table without the pooling
 * entries) still loads and convolves; pooling on it is unsupported. */
START_TEST(test_older_minor_loads) {
  conv_context *ctx = NULL;
  conv_status st = conv_context_create(&ctx, "fakeoldminor", NULL);
  ck_assert_msg(st == CONV_SUCCESS, "fakeoldminor: %s", conv_last_error(NULL));
  conv_desc d;
  conv_desc_init(&d);
  d.n = d.c_in = d.c_out = 1;
  d.h = d.w = 2;
  d.kernel[0] = d.kernel[1] = 1;
  conv_plan *plan = NULL;
  ck_assert_int_eq(conv_plan_create(ctx, &d, &plan), CONV_SUCCESS);
  float x[4] = {0}, w[1] = {0}, y[4];
  ck_assert_int_eq(conv_forward(plan, x, w, NULL, y), CONV_SUCCESS);
  ck_assert(y[0] == 42.0f && y[3] == 42.0f);
  conv_plan_destroy(plan);
  conv_pool_desc pd;
  conv_pool_desc_init(&pd);
  pd.n = pd.c = 1;
  pd.h = pd.w = 4;
  pd.kernel[0] = pd.kernel[1] = 2;
  conv_pool_plan *pool = NULL;
  st = conv_pool_plan_create(ctx, &pd, &pool);
  ck_assert_msg(st == CONV_ERROR_UNSUPPORTED, "pooling on an ABI 1.0 plugin: %s",
                conv_status_string(st));
  /* ABI 1.2 features: a fused activation and a transposed convolution's
   * bias are refused with the reason; a plain transposed one runs on the
   * old conv2d entries. */
  st = conv_plan_create_fused(ctx, &d, CONV_ACT_RELU, 0.0f, &plan);
  ck_assert_msg(st == CONV_ERROR_UNSUPPORTED, "activation on ABI 1.0: %s",
                conv_status_string(st));
  assert_contains(conv_last_error(ctx), "ABI 1.0", "activation refusal");
  conv_transpose_desc td;
  conv_transpose_desc_init(&td);
  td.n = td.c_in = td.c_out = 1;
  td.h = td.w = 2;
  td.kernel[0] = td.kernel[1] = 1;
  td.has_bias = 1;
  st = conv_transpose_plan_create(ctx, &td, CONV_ACT_NONE, 0.0f, &plan);
  ck_assert_msg(st == CONV_ERROR_UNSUPPORTED, "transposed bias on ABI 1.0: %s",
                conv_status_string(st));
  assert_contains(conv_last_error(ctx), "bias_activation", "bias refusal");
  td.has_bias = 0;
  ck_assert_int_eq(conv_transpose_plan_create(ctx, &td, CONV_ACT_NONE, 0.0f,
                                              &plan), CONV_SUCCESS);
  conv_plan_destroy(plan);
  conv_context_destroy(ctx);
}
END_TEST

/* ABI 1.2's groups are all or nothing too. */
START_TEST(test_partial_12_groups_rejected) {
  const char *avg[] = {"fakeavgpartial", "average pooling", NULL};
  expect_reject("fakeavgpartial", CONV_ERROR_BAD_PLUGIN, avg);
  const char *epi[] = {"fakeepipartial", "channel_sum", NULL};
  expect_reject("fakeepipartial", CONV_ERROR_BAD_PLUGIN, epi);
  const char *bde[] = {"fakebdealone", "backward_data_bias_activation", NULL};
  expect_reject("fakebdealone", CONV_ERROR_BAD_PLUGIN, bde);
}
END_TEST

/* The pooling entries are all or nothing. */
START_TEST(test_partial_pool_rejected) {
  const char *words[] = {"fakepoolpartial", "pool", NULL};
  expect_reject("fakepoolpartial", CONV_ERROR_BAD_PLUGIN, words);
}
END_TEST

START_TEST(test_not_a_plugin) {
  const char *words[] = {"bogus", NULL};
  expect_reject("bogus", CONV_ERROR_BAD_PLUGIN, words);
  /* By path too. */
  char path[4096];
  plugin_path("bogus", path, sizeof path);
  expect_reject(path, CONV_ERROR_BAD_PLUGIN, words);
}
END_TEST

START_TEST(test_unknown_backend) {
  /* The message lists what does exist. */
  const char *words[] = {"nosuchbackend", "cpu", "fakegood", NULL};
  expect_reject("nosuchbackend", CONV_ERROR_BACKEND_NOT_FOUND, words);
  setenv("CONV_BACKEND", "nosuchbackend", 1);
  expect_reject(NULL, CONV_ERROR_BACKEND_NOT_FOUND, words);
  unsetenv("CONV_BACKEND");
  /* Device listing of an unknown backend fails the same way. */
  conv_device_info info[2];
  size_t count = 99;
  ck_assert_int_eq(conv_device_list("nosuchbackend", info, 2, &count),
                   CONV_ERROR_BACKEND_NOT_FOUND);
}
END_TEST

START_TEST(test_preference_list) {
  /* The first usable entry wins ... */
  conv_context *ctx = NULL;
  conv_status st =
      conv_context_create(&ctx, "nosuchbackend,fakeabimajor,fakegood,cpu", NULL);
  ck_assert_msg(st == CONV_SUCCESS, "%s", conv_last_error(NULL));
  assert_contains(conv_context_backend(ctx), "fakegood", "preference list");
  conv_context_destroy(ctx);
  /* ... and when none is, every reason is kept. */
  const char *words[] = {"nosuchbackend", "major", "code 1234", NULL};
  expect_reject("nosuchbackend,fakeabimajor,fakeinitfail",
                CONV_ERROR_BACKEND_NOT_FOUND, words);
}
END_TEST

START_TEST(test_bad_plugins_harm_nothing) {
  /* Touch every bad plugin first, then the real ones must still work. */
  static const char *const bad[] = {"fakeabimajor", "fakeabiminor",
                                    "fakenoentry", "fakenullfn",
                                    "fakeinitfail", "fakepoolpartial",
                                    "fakeavgpartial", "fakeepipartial",
                                    "fakebdealone",
                                    "bogus"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    conv_context *ctx = NULL;
    ck_assert_int_ne(conv_context_create(&ctx, bad[i], NULL), CONV_SUCCESS);
  }
  conv_context *ctx = NULL;
  conv_status st = conv_context_create(&ctx, "cpu", NULL);
  ck_assert_msg(st == CONV_SUCCESS, "cpu: %s", conv_last_error(NULL));
  conv_context_destroy(ctx);
  /* The default choice never lands on a broken plugin. */
  ctx = NULL;
  st = conv_context_create(&ctx, NULL, NULL);
  ck_assert_msg(st == CONV_SUCCESS, "default: %s", conv_last_error(NULL));
  const char *label = conv_context_backend(ctx);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    ck_assert_msg(strstr(label, bad[i]) == NULL, "default picked %s", label);
  conv_context_destroy(ctx);
}
END_TEST

START_TEST(test_backend_list) {
  size_t count = 0;
  ck_assert_int_eq(conv_backend_list(NULL, 0, &count), CONV_SUCCESS);
  ck_assert_uint_ge(count, 13); /* cpu + 11 fakes + bogus */
  ck_assert_int_eq(conv_backend_list(NULL, 0, NULL),
                   CONV_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(conv_backend_list(NULL, 4, &count),
                   CONV_ERROR_INVALID_ARGUMENT);

  conv_backend_info infos[64];
  memset(infos, 0, sizeof infos);
  ck_assert_int_eq(conv_backend_list(infos, 64, &count), CONV_SUCCESS);
  ck_assert_uint_le(count, 64);
  static const struct {
    const char *file, *usable_reason;
    int usable;
  } want[] = {
      {"conv_fakegood.so", NULL, 1},
      {"conv_fakeabimajor.so", "major", 0},
      {"conv_fakeabiminor.so", "minor", 0},
      {"conv_fakenoentry.so", "conv_plugin_entry", 0},
      {"conv_fakenullfn.so", "plan_create", 0},
      {"conv_fakeinitfail.so", "code 1234", 0},
      {"conv_fakeoldminor.so", NULL, 1},
      {"conv_fakepoolpartial.so", "pool", 0},
      {"conv_fakeavgpartial.so", "average pooling", 0},
      {"conv_fakeepipartial.so", "channel_sum", 0},
      {"conv_fakebdealone.so", "backward_data_bias_activation", 0},
      {"conv_bogus.so", "", 0},
  };
  for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
    int found = 0;
    for (size_t i = 0; i < count; i++) {
      const char *slash = strrchr(infos[i].path, '/');
      if (slash == NULL || strcmp(slash + 1, want[k].file) != 0) continue;
      found = 1;
      ck_assert_msg(infos[i].usable == want[k].usable, "%s usable=%d (%s)",
                    want[k].file, infos[i].usable, infos[i].reason);
      if (!want[k].usable) {
        ck_assert_msg(infos[i].reason[0] != '\0', "%s: empty reason",
                      want[k].file);
        assert_contains(infos[i].reason, want[k].usable_reason, want[k].file);
      } else {
        ck_assert_int_eq(infos[i].device_count, 1);
        ck_assert_str_eq(infos[i].version, "9.9.9-fake");
      }
    }
    ck_assert_msg(found, "%s not listed", want[k].file);
  }
  int cpu = 0;
  for (size_t i = 0; i < count; i++)
    if (strcmp(infos[i].name, "cpu") == 0 && infos[i].usable) cpu = 1;
  ck_assert_msg(cpu, "cpu backend not listed as usable");
  /* A small capacity still reports the full count. */
  size_t count2 = 0;
  ck_assert_int_eq(conv_backend_list(infos, 1, &count2), CONV_SUCCESS);
  ck_assert_uint_eq(count2, count);
}
END_TEST

/* ------------------------------------------------------------ errors */

static void small_desc(conv_desc *d) {
  conv_desc_init(d);
  d->n = 1;
  d->c_in = d->c_out = 1;
  d->h = d->w = 3;
  d->kernel[0] = d->kernel[1] = 1;
}

START_TEST(test_context_usable_after_error) {
  conv_context *ctx = NULL;
  ck_assert_int_eq(conv_context_create(&ctx, "cpu", NULL), CONV_SUCCESS);
  ck_assert_str_eq(conv_last_error(ctx), "");
  conv_desc d;
  small_desc(&d);
  d.groups = 3;
  d.c_in = 4;
  conv_plan *plan = NULL;
  ck_assert_int_eq(conv_plan_create(ctx, &d, &plan),
                   CONV_ERROR_INVALID_ARGUMENT);
  assert_contains(conv_last_error(ctx), "groups=3 does not divide in_channels=4",
                  "plan error");
  /* The context still makes plans that compute. */
  small_desc(&d);
  d.has_bias = 1;
  ck_assert_int_eq(conv_plan_create(ctx, &d, &plan), CONV_SUCCESS);
  float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[1] = {2}, b[1] = {0.5f}, y[9];
  tu_poison(y, 9);
  ck_assert_int_eq(conv_forward(plan, x, w, b, y), CONV_SUCCESS);
  for (int i = 0; i < 9; i++) ck_assert(y[i] == 2 * x[i] + 0.5f);
  conv_plan_destroy(plan);
  conv_context_destroy(ctx);
}
END_TEST

START_TEST(test_errors_per_context) {
  conv_context *a = NULL, *b = NULL;
  ck_assert_int_eq(conv_context_create(&a, "cpu", NULL), CONV_SUCCESS);
  ck_assert_int_eq(conv_context_create(&b, "cpu", NULL), CONV_SUCCESS);
  conv_desc d;
  small_desc(&d);
  d.stride[0] = 0;
  conv_plan *plan = NULL;
  ck_assert_int_ne(conv_plan_create(a, &d, &plan), CONV_SUCCESS);
  assert_contains(conv_last_error(a), "stride_h=0", "context a");
  ck_assert_str_eq(conv_last_error(b), "");
  small_desc(&d);
  d.dilation[1] = -4;
  ck_assert_int_ne(conv_plan_create(b, &d, &plan), CONV_SUCCESS);
  assert_contains(conv_last_error(b), "dilation_w=-4", "context b");
  assert_contains(conv_last_error(a), "stride_h=0", "context a kept");
  /* A context-free failure does not touch either context. */
  int64_t h, w;
  ck_assert_int_ne(conv_output_size(&d, &h, &w, NULL), CONV_SUCCESS);
  assert_contains(conv_last_error(NULL), "dilation_w=-4", "thread");
  assert_contains(conv_last_error(a), "stride_h=0", "context a kept");
  conv_context_destroy(a);
  conv_context_destroy(b);
}
END_TEST

#define THREAD_ITERS 300

typedef struct thread_arg {
  conv_context *ctx;
  int64_t groups, c_in;   /* a distinct bad descriptor per thread */
  int64_t bad_stride;
  pthread_barrier_t *barrier;
  int failures;
  char first_failure[512];
} thread_arg;

static void *thread_main(void *p) {
  thread_arg *a = p;
  char want_ctx[128], want_thread[64];
  snprintf(want_ctx, sizeof want_ctx, "groups=%lld does not divide in_channels=%lld",
           (long long)a->groups, (long long)a->c_in);
  snprintf(want_thread, sizeof want_thread, "stride_w=%lld",
           (long long)a->bad_stride);
  for (int i = 0; i < THREAD_ITERS; i++) {
    conv_desc d;
    small_desc(&d);
    d.groups = a->groups;
    d.c_in = a->c_in;
    d.c_out = a->groups;
    conv_plan *plan = NULL;
    pthread_barrier_wait(a->barrier);
    conv_status st = conv_plan_create(a->ctx, &d, &plan);
    small_desc(&d);
    d.stride[1] = a->bad_stride;
    int64_t h, w;
    conv_status st2 = conv_output_size(&d, &h, &w, NULL);
    pthread_barrier_wait(a->barrier); /* both threads have failed now */
    const char *m1 = conv_last_error(a->ctx);
    int bad = st != CONV_ERROR_INVALID_ARGUMENT || strstr(m1, want_ctx) == NULL;
    if (bad && a->failures++ == 0)
      snprintf(a->first_failure, sizeof a->first_failure,
               "iteration %d: context message \"%s\", wanted \"%s\"", i, m1,
               want_ctx);
    const char *m2 = conv_last_error(NULL);
    bad = st2 != CONV_ERROR_INVALID_ARGUMENT || strstr(m2, want_thread) == NULL;
    if (bad && a->failures++ == 0)
      snprintf(a->first_failure, sizeof a->first_failure,
               "iteration %d: thread message \"%s\", wanted \"%s\"", i, m2,
               want_thread);
  }
  return NULL;
}

START_TEST(test_errors_thread_safe) {
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, NULL, 2);
  thread_arg args[2] = {
      {NULL, 3, 4, -3, &barrier, 0, ""},
      {NULL, 5, 7, -5, &barrier, 0, ""},
  };
  for (int i = 0; i < 2; i++)
    ck_assert_int_eq(conv_context_create(&args[i].ctx, "cpu", NULL),
                     CONV_SUCCESS);
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    ck_assert_int_eq(pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < 2; i++) {
    ck_assert_msg(args[i].failures == 0, "thread %d: %d failures; first: %s",
                  i, args[i].failures, args[i].first_failure);
    conv_context_destroy(args[i].ctx);
  }
  pthread_barrier_destroy(&barrier);
}
END_TEST

/* Two threads sharing one context, each with its own plan, both computing:
 * the documented "a context may be used from several threads". */
typedef struct share_arg {
  conv_context *ctx;
  float scale;
  int ok;
} share_arg;

static void *share_main(void *p) {
  share_arg *a = p;
  conv_desc d;
  small_desc(&d);
  conv_plan *plan = NULL;
  a->ok = 0;
  for (int i = 0; i < 100; i++) {
    if (conv_plan_create(a->ctx, &d, &plan) != CONV_SUCCESS) return NULL;
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[1] = {a->scale}, y[9];
    conv_status st = conv_forward(plan, x, w, NULL, y);
    conv_plan_destroy(plan);
    if (st != CONV_SUCCESS) return NULL;
    for (int k = 0; k < 9; k++)
      if (y[k] != a->scale * x[k]) return NULL;
  }
  a->ok = 1;
  return NULL;
}

START_TEST(test_context_shared_by_threads) {
  conv_context *ctx = NULL;
  ck_assert_int_eq(conv_context_create(&ctx, "cpu", NULL), CONV_SUCCESS);
  share_arg args[2] = {{ctx, 2.0f, 0}, {ctx, -3.0f, 0}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    ck_assert_int_eq(pthread_create(&th[i], NULL, share_main, &args[i]), 0);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  ck_assert_msg(args[0].ok && args[1].ok, "a thread failed: %s",
                conv_last_error(ctx));
  conv_context_destroy(ctx);
}
END_TEST

/* ------------------------------------------------------------ limits */

/* The loader and a small run work on a thread with a 64 KiB stack. */
typedef struct stack_arg {
  int ok;
  char why[512];
} stack_arg;

static void *small_stack_main(void *p) {
  stack_arg *a = p;
  conv_context *ctx = NULL;
  a->ok = 0;
  if (conv_context_create(&ctx, "nosuchbackend", NULL) !=
      CONV_ERROR_BACKEND_NOT_FOUND) {
    snprintf(a->why, sizeof a->why, "unknown name: %s", conv_last_error(NULL));
    return NULL;
  }
  if (conv_context_create(&ctx, "cpu", NULL) != CONV_SUCCESS) {
    snprintf(a->why, sizeof a->why, "cpu: %s", conv_last_error(NULL));
    return NULL;
  }
  conv_desc d;
  small_desc(&d);
  conv_plan *plan = NULL;
  float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[1] = {3}, y[9];
  tu_poison(y, 9);
  if (conv_plan_create(ctx, &d, &plan) != CONV_SUCCESS ||
      conv_forward(plan, x, w, NULL, y) != CONV_SUCCESS) {
    snprintf(a->why, sizeof a->why, "run: %s", conv_last_error(ctx));
  } else {
    a->ok = 1;
    for (int i = 0; i < 9; i++)
      if (y[i] != 3 * x[i]) a->ok = 0;
    if (!a->ok) snprintf(a->why, sizeof a->why, "wrong result");
  }
  conv_plan_destroy(plan);
  conv_context_destroy(ctx);
  return NULL;
}

START_TEST(test_small_stack) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  ck_assert_int_eq(pthread_attr_setstacksize(&attr, 64 * 1024), 0);
  stack_arg arg = {0, ""};
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, &attr, small_stack_main, &arg), 0);
  pthread_join(th, NULL);
  pthread_attr_destroy(&attr);
  ck_assert_msg(arg.ok, "64 KiB stack: %s", arg.why);
}
END_TEST

/* Every entry of a long CONV_PLUGIN_PATH is searched, and the built-in
 * directories after it; an entry too long to be a path is rejected. */
START_TEST(test_long_plugin_path) {
  size_t cap = 64 * 64 + strlen(plugin_dir) + 1;
  char *path = tu_alloc(cap);
  size_t off = 0;
  for (int i = 0; i < 60; i++)
    off += (size_t)snprintf(path + off, cap - off, "/nonexistent/dir%02d:", i);
  snprintf(path + off, cap - off, "%s", plugin_dir);
  setenv("CONV_PLUGIN_PATH", path, 1);
  conv_context *ctx = NULL;
  conv_status st = conv_context_create(&ctx, "fakegood", NULL);
  ck_assert_msg(st == CONV_SUCCESS, "61st entry: %s", conv_last_error(NULL));
  conv_context_destroy(ctx);
  st = conv_context_create(&ctx, "cpu", NULL); /* the build tree, after */
  ck_assert_msg(st == CONV_SUCCESS, "built-in after 61: %s",
                conv_last_error(NULL));
  conv_context_destroy(ctx);
  free(path);
  /* An entry of 5000 characters. */
  path = tu_alloc(6000);
  memset(path, 'd', 5000);
  path[0] = '/';
  snprintf(path + 5000, 1000, ":%s", plugin_dir);
  setenv("CONV_PLUGIN_PATH", path, 1);
  const char *words[] = {"CONV_PLUGIN_PATH", "5000", NULL};
  expect_reject("fakegood", CONV_ERROR_INVALID_ARGUMENT, words);
  setenv("CONV_PLUGIN_PATH", plugin_dir, 1);
  free(path);
}
END_TEST

/* A long backend string is never cut: what it names is what is opened. */
START_TEST(test_long_backend_spec) {
  char *spec = tu_alloc(8000);
  memset(spec, 'x', 1019);
  strcpy(spec + 1019, ",cpuXYZ");
  const char *words[] = {"cpuXYZ", NULL};
  expect_reject(spec, CONV_ERROR_BACKEND_NOT_FOUND, words);
  setenv("CONV_BACKEND", spec, 1);
  expect_reject(NULL, CONV_ERROR_BACKEND_NOT_FOUND, words);
  /* Past the longest accepted spec: rejected as such, by argument and by
   * variable. */
  memset(spec, 'x', 7000);
  strcpy(spec + 7000, ",cpu");
  const char *too_long[] = {"7004", NULL};
  expect_reject(spec, CONV_ERROR_INVALID_ARGUMENT, too_long);
  setenv("CONV_BACKEND", spec, 1);
  const char *too_long_env[] = {"CONV_BACKEND", "7004", NULL};
  expect_reject(NULL, CONV_ERROR_INVALID_ARGUMENT, too_long_env);
  unsetenv("CONV_BACKEND");
  /* A name longer than any plugin's. */
  memset(spec, 'y', 100);
  spec[100] = '\0';
  const char *long_name[] = {"100 characters", NULL};
  expect_reject(spec, CONV_ERROR_BACKEND_NOT_FOUND, long_name);
  free(spec);
}
END_TEST

/* Names and lists are trimmed at both ends; a directory is named as one. */
START_TEST(test_backend_spec_forms) {
  static const char *const fine[] = {" cpu", "cpu ", "\tcpu\n", " cpu , fakegood ",
                                     ",cpu", "nosuchbackend , cpu"};
  for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
    conv_context *ctx = NULL;
    ck_assert_msg(conv_context_create(&ctx, fine[i], NULL) == CONV_SUCCESS,
                  "'%s': %s", fine[i], conv_last_error(NULL));
    assert_contains(conv_context_backend(ctx), "cpu", fine[i]);
    conv_context_destroy(ctx);
    setenv("CONV_BACKEND", fine[i], 1);
    ck_assert_msg(conv_context_create(&ctx, NULL, NULL) == CONV_SUCCESS,
                  "CONV_BACKEND='%s': %s", fine[i], conv_last_error(NULL));
    conv_context_destroy(ctx);
    unsetenv("CONV_BACKEND");
  }
  const char *dir_words[] = {"/tmp", "directory", NULL};
  expect_reject("/tmp", CONV_ERROR_BACKEND_NOT_FOUND, dir_words);
  const char *missing[] = {"/nonexistent/conv_x.so", "No such file", NULL};
  expect_reject("/nonexistent/conv_x.so", CONV_ERROR_BACKEND_NOT_FOUND, missing);
  const char *empty[] = {"empty backend list", NULL};
  expect_reject(" , ,", CONV_ERROR_BACKEND_NOT_FOUND, empty);
}
END_TEST

/* More plugin files than the loader once had room for, each opened by its
 * path: every one loads (the table grows). */
START_TEST(test_many_plugin_paths) {
  char from[4096];
  plugin_path("fakegood", from, sizeof from);
  char *dir = tu_make_temp_dir("many");
  enum { MANY = 80 };
  for (int i = 0; i < MANY; i++) {
    char to[4096];
    snprintf(to, sizeof to, "%s/conv_copy%02d.so", dir, i);
    ck_assert_msg(tu_copy_file(from, to), "copy %s", to);
  }
  for (int i = 0; i < MANY; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/conv_copy%02d.so", dir, i);
    conv_context *ctx = NULL;
    conv_status st = conv_context_create(&ctx, path, NULL);
    ck_assert_msg(st == CONV_SUCCESS, "copy %d: %s", i, conv_last_error(NULL));
    conv_context_destroy(ctx);
  }
  tu_remove_dir(dir);
  free(dir);
}
END_TEST

/* Two threads fail on one shared context at the same time: each reads its
 * own reason from conv_last_error(ctx). */
typedef struct own_arg {
  conv_context *ctx;
  int64_t bad_stride;
  pthread_barrier_t *barrier;
  int failures;
  char first_failure[512];
} own_arg;

static void *own_main(void *p) {
  own_arg *a = p;
  char want[64];
  snprintf(want, sizeof want, "stride_h=%lld", (long long)a->bad_stride);
  for (int i = 0; i < THREAD_ITERS; i++) {
    conv_desc d;
    small_desc(&d);
    d.stride[0] = a->bad_stride;
    conv_plan *plan = NULL;
    pthread_barrier_wait(a->barrier);
    conv_status st = conv_plan_create(a->ctx, &d, &plan);
    pthread_barrier_wait(a->barrier); /* both have failed on ctx now */
    const char *m = conv_last_error(a->ctx);
    if ((st != CONV_ERROR_INVALID_ARGUMENT || strstr(m, want) == NULL) &&
        a->failures++ == 0)
      snprintf(a->first_failure, sizeof a->first_failure,
               "iteration %d: message \"%s\", wanted \"%s\"", i, m, want);
  }
  return NULL;
}

START_TEST(test_errors_shared_context_per_thread) {
  conv_context *ctx = NULL;
  ck_assert_int_eq(conv_context_create(&ctx, "cpu", NULL), CONV_SUCCESS);
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, NULL, 2);
  own_arg args[2] = {{ctx, -3, &barrier, 0, ""}, {ctx, -7, &barrier, 0, ""}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    ck_assert_int_eq(pthread_create(&th[i], NULL, own_main, &args[i]), 0);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < 2; i++)
    ck_assert_msg(args[i].failures == 0, "thread %d: %d of %d reads wrong; "
                  "first: %s", i, args[i].failures, THREAD_ITERS,
                  args[i].first_failure);
  /* A thread that never failed on ctx reads the latest failure of any. */
  ck_assert_msg(strstr(conv_last_error(ctx), "stride_h=-") != NULL,
                "main thread reads \"%s\"", conv_last_error(ctx));
  pthread_barrier_destroy(&barrier);
  conv_context_destroy(ctx);
}
END_TEST

static Suite *loader_suite(void) {
  Suite *s = suite_create("loader");
  TCase *tf = tcase_create("fakes");
  tcase_set_timeout(tf, 60);
  tcase_add_test(tf, test_good_plugin_loads);
  tcase_add_test(tf, test_plugin_by_path);
  tcase_add_test(tf, test_device_selection);
  tcase_add_test(tf, test_abi_major_rejected);
  tcase_add_test(tf, test_abi_minor_newer_rejected);
  tcase_add_test(tf, test_missing_entry_rejected);
  tcase_add_test(tf, test_null_function_rejected);
  tcase_add_test(tf, test_init_failure_kept);
  tcase_add_test(tf, test_older_minor_loads);
  tcase_add_test(tf, test_partial_pool_rejected);
  tcase_add_test(tf, test_partial_12_groups_rejected);
  tcase_add_test(tf, test_not_a_plugin);
  tcase_add_test(tf, test_unknown_backend);
  tcase_add_test(tf, test_preference_list);
  tcase_add_test(tf, test_bad_plugins_harm_nothing);
  tcase_add_test(tf, test_backend_list);
  tcase_add_test(tf, test_small_stack);
  tcase_add_test(tf, test_long_plugin_path);
  tcase_add_test(tf, test_long_backend_spec);
  tcase_add_test(tf, test_backend_spec_forms);
  tcase_add_test(tf, test_many_plugin_paths);
  suite_add_tcase(s, tf);
  TCase *te = tcase_create("errors");
  tcase_set_timeout(te, 60);
  tcase_add_test(te, test_context_usable_after_error);
  tcase_add_test(te, test_errors_per_context);
  tcase_add_test(te, test_errors_thread_safe);
  tcase_add_test(te, test_context_shared_by_threads);
  tcase_add_test(te, test_errors_shared_context_per_thread);
  suite_add_tcase(s, te);
  return s;
}

int main(void) {
  const char *fake_dir = getenv("CONV_TEST_FAKE_DIR");
  if (fake_dir == NULL || !*fake_dir) fake_dir = ".libs";
  plugin_dir = tu_make_temp_dir("plugins");
  int ok = 1;
  for (size_t i = 0; i < sizeof fakes / sizeof fakes[0]; i++) {
    char from[4096], to[4096];
    snprintf(from, sizeof from, "%s/%s", fake_dir, fakes[i].module);
    plugin_path(fakes[i].name, to, sizeof to);
    if (!tu_copy_file(from, to)) {
      fprintf(stderr, "test_loader: cannot copy %s to %s\n", from, to);
      ok = 0;
    }
  }
  char bogus[4096];
  plugin_path("bogus", bogus, sizeof bogus);
  FILE *f = fopen(bogus, "w");
  if (f != NULL) {
    fputs("This is a text file, not a shared object.\n", f);
    fclose(f);
  } else {
    ok = 0;
  }
  setenv("CONV_PLUGIN_PATH", plugin_dir, 1);
  unsetenv("CONV_BACKEND");

  int failed = 1;
  if (ok) {
    failed = tu_run_suite(loader_suite());
  }
  tu_remove_dir(plugin_dir);
  free(plugin_dir);
  return ok && failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
