/* SPDX-License-Identifier: Apache-2.0 */
/* Bad input harms nothing: NULL tensors, a bias where there is none (or
 * none where there is one), tensors of another context or too small, and
 * wrong counts are refused with CONV_ERROR_INVALID_ARGUMENT and a message
 * naming the argument; outputs are left exactly as they were (still the
 * poison), and the context keeps working. Run for every usable backend. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "testutil.h"

#define MAX_BACKENDS 8

static char backends[MAX_BACKENDS][64];
static int n_backends;
static int _i_backend; /* the loop index of the running test */

/* A small problem with a bias: x (2,2,5,4), w (3,2,3,3), y (2,3,3,2). */
#define NX (2 * 2 * 5 * 4)
#define NW (3 * 2 * 3 * 3)
#define NB 3
#define NY (2 * 3 * 3 * 2)

typedef struct fixture {
  conv_context *ctx;
  conv_plan *plan;      /* has_bias = 1 */
  conv_plan *plan_nb;   /* has_bias = 0 */
  float x[NX], w[NW], b[NB], dy[NY];
  float y[NY], dx[NX], dw[NW], db[NB];
} fixture;

static void make_desc(conv_desc *d, int bias) {
  conv_desc_init(d);
  d->n = 2;
  d->c_in = 2;
  d->h = 5;
  d->w = 4;
  d->c_out = 3;
  d->kernel[0] = d->kernel[1] = 3;
  d->has_bias = bias;
}

static void setup(fixture *f, const char *backend) {
  memset(f, 0, sizeof *f);
  conv_status st = conv_context_create(&f->ctx, backend, NULL);
  ck_assert_msg(st == CONV_SUCCESS, "%s: %s", backend, conv_last_error(NULL));
  conv_desc d;
  make_desc(&d, 1);
  st = conv_plan_create(f->ctx, &d, &f->plan);
  ck_assert_msg(st == CONV_SUCCESS, "plan: %s", conv_last_error(f->ctx));
  make_desc(&d, 0);
  st = conv_plan_create(f->ctx, &d, &f->plan_nb);
  ck_assert_msg(st == CONV_SUCCESS, "plan: %s", conv_last_error(f->ctx));
  tu_rng r;
  tu_rng_seed(&r, 7);
  tu_fill_random(&r, f->x, NX);
  tu_fill_random(&r, f->w, NW);
  tu_fill_random(&r, f->b, NB);
  tu_fill_random(&r, f->dy, NY);
}

static void poison_all(fixture *f) {
  tu_poison(f->y, NY);
  tu_poison(f->dx, NX);
  tu_poison(f->dw, NW);
  tu_poison(f->db, NB);
}

static void assert_untouched(fixture *f, const char *what) {
  ck_assert_msg(tu_is_poison(f->y, NY) && tu_is_poison(f->dx, NX) &&
                    tu_is_poison(f->dw, NW) && tu_is_poison(f->db, NB),
                "%s: an output was written by a failed call", what);
}

/* The context message names word (NULL: anything goes). */
static void assert_message(fixture *f, const char *call, const char *word) {
  if (word == NULL) return;
  const char *msg = conv_last_error(f->ctx);
  ck_assert_msg(strstr(msg, word) != NULL, "%s: message \"%s\" lacks \"%s\"",
                call, msg, word);
}

/* The call must fail with INVALID_ARGUMENT, the context message naming
 * word, and no output written. */
#define EXPECT_INVALID(f, call, word)                                        \
  do {                                                                       \
    poison_all(f);                                                           \
    conv_status st_ = (call);                                                \
    ck_assert_msg(st_ == CONV_ERROR_INVALID_ARGUMENT,                        \
                  "%s: status %s, expected invalid argument", #call,         \
                  conv_status_string(st_));                                  \
    assert_message((f), #call, (word));                                      \
    assert_untouched(f, #call);                                              \
  } while (0)

/* The context still computes correctly: forward against a float64 sum. */
static void assert_still_works(fixture *f) {
  tu_poison(f->y, NY);
  conv_status st = conv_forward(f->plan, f->x, f->w, f->b, f->y);
  ck_assert_msg(st == CONV_SUCCESS, "forward after errors: %s",
                conv_last_error(f->ctx));
  double ref[NY];
  for (int n = 0; n < 2; n++)
    for (int co = 0; co < 3; co++)
      for (int oh = 0; oh < 3; oh++)
        for (int ow = 0; ow < 2; ow++) {
          double s = f->b[co];
          for (int ci = 0; ci < 2; ci++)
            for (int kh = 0; kh < 3; kh++)
              for (int kw = 0; kw < 3; kw++)
                s += (double)f->x[((n * 2 + ci) * 5 + oh + kh) * 4 + ow + kw] *
                     f->w[((co * 2 + ci) * 3 + kh) * 3 + kw];
          ref[((n * 3 + co) * 3 + oh) * 2 + ow] = s;
        }
  ck_assert(tu_rel_error(f->y, ref, NY, NULL) <= TU_TOLERANCE);
}

static void teardown(fixture *f) {
  conv_plan_destroy(f->plan);
  conv_plan_destroy(f->plan_nb);
  conv_context_destroy(f->ctx);
}

START_TEST(test_null_host_pointers) {
  fixture *f = tu_alloc(sizeof *f);
  setup(f, backends[_i]);
  EXPECT_INVALID(f, conv_forward(NULL, f->x, f->w, f->b, f->y), NULL);
  EXPECT_INVALID(f, conv_forward(f->plan, NULL, f->w, f->b, f->y), "x");
  EXPECT_INVALID(f, conv_forward(f->plan, f->x, NULL, f->b, f->y), "w");
  EXPECT_INVALID(f, conv_forward(f->plan, f->x, f->w, NULL, f->y), "b");
  EXPECT_INVALID(f, conv_forward(f->plan, f->x, f->w, f->b, NULL), "y");
  EXPECT_INVALID(f, conv_forward(f->plan_nb, f->x, f->w, f->b, f->y), "b");
  EXPECT_INVALID(f, conv_backward_data(NULL, f->dy, f->w, f->dx), NULL);
  EXPECT_INVALID(f, conv_backward_data(f->plan, NULL, f->w, f->dx), "dy");
  EXPECT_INVALID(f, conv_backward_data(f->plan, f->dy, NULL, f->dx), "w");
  EXPECT_INVALID(f, conv_backward_data(f->plan, f->dy, f->w, NULL), "dx");
  EXPECT_INVALID(f, conv_backward_weight(NULL, f->x, f->dy, f->dw, f->db),
                 NULL);
  EXPECT_INVALID(f, conv_backward_weight(f->plan, NULL, f->dy, f->dw, f->db),
                 "x");
  EXPECT_INVALID(f, conv_backward_weight(f->plan, f->x, NULL, f->dw, f->db),
                 "dy");
  EXPECT_INVALID(f, conv_backward_weight(f->plan, f->x, f->dy, NULL, f->db),
                 "dw");
  EXPECT_INVALID(f,
                 conv_backward_weight(f->plan_nb, f->x, f->dy, f->dw, f->db),
                 "db");
  EXPECT_INVALID(f, conv_backward_bias(NULL, f->dy, f->db), NULL);
  EXPECT_INVALID(f, conv_backward_bias(f->plan, NULL, f->db), "dy");
  EXPECT_INVALID(f, conv_backward_bias(f->plan, f->dy, NULL), "db");
  EXPECT_INVALID(f, conv_backward_bias(f->plan_nb, f->dy, f->db), NULL);
  assert_still_works(f);
  teardown(f);
  free(f);
}
END_TEST

/* A tensor of count n holding data (or the poison when data is NULL). */
static conv_tensor *tensor(conv_context *ctx, size_t n, const float *data) {
  conv_tensor *t = NULL;
  conv_status st = conv_tensor_create(ctx, n, &t);
  ck_assert_msg(st == CONV_SUCCESS, "tensor_create(%zu): %s", n,
                conv_last_error(ctx));
  float *tmp = tu_alloc(n * sizeof(float));
  if (data != NULL)
    memcpy(tmp, data, n * sizeof(float));
  else
    tu_poison(tmp, n);
  st = conv_tensor_upload(t, tmp, n);
  ck_assert_msg(st == CONV_SUCCESS, "upload: %s", conv_last_error(ctx));
  free(tmp);
  return t;
}

static void assert_tensor_poison(conv_tensor *t, const char *what) {
  size_t n = conv_tensor_count(t);
  float *tmp = tu_alloc(n * sizeof(float));
  ck_assert_int_eq(conv_tensor_download(t, tmp, n), CONV_SUCCESS);
  ck_assert_msg(tu_is_poison(tmp, n), "%s: output tensor written", what);
  free(tmp);
}

#define EXPECT_INVALID_T(f, call, word, out)                                 \
  do {                                                                       \
    conv_status st_ = (call);                                                \
    ck_assert_msg(st_ == CONV_ERROR_INVALID_ARGUMENT,                        \
                  "%s: status %s, expected invalid argument", #call,         \
                  conv_status_string(st_));                                  \
    assert_message((f), #call, (word));                                      \
    assert_tensor_poison((out), #call);                                      \
  } while (0)

START_TEST(test_bad_tensors) {
  fixture *f = tu_alloc(sizeof *f);
  setup(f, backends[_i]);
  conv_context *other = NULL;
  ck_assert_int_eq(conv_context_create(&other, backends[_i], NULL),
                   CONV_SUCCESS);
  conv_tensor *x = tensor(f->ctx, NX, f->x), *w = tensor(f->ctx, NW, f->w);
  conv_tensor *b = tensor(f->ctx, NB, f->b), *dy = tensor(f->ctx, NY, f->dy);
  conv_tensor *y = tensor(f->ctx, NY, NULL), *dx = tensor(f->ctx, NX, NULL);
  conv_tensor *dw = tensor(f->ctx, NW, NULL), *db = tensor(f->ctx, NB, NULL);
  conv_tensor *x_small = tensor(f->ctx, NX - 1, f->x);
  conv_tensor *w_small = tensor(f->ctx, NW - 1, f->w);
  conv_tensor *y_small = tensor(f->ctx, NY - 1, NULL);
  conv_tensor *x_other = tensor(other, NX, f->x);
  conv_tensor *w_other = tensor(other, NW, f->w);
  conv_tensor *dy_other = tensor(other, NY, f->dy);

  /* NULL tensors. */
  EXPECT_INVALID_T(f, conv_forward_tensor(f->plan, NULL, w, b, y), "x", y);
  EXPECT_INVALID_T(f, conv_forward_tensor(f->plan, x, NULL, b, y), "w", y);
  EXPECT_INVALID_T(f, conv_forward_tensor(f->plan, x, w, NULL, y), "b", y);
  EXPECT_INVALID_T(f, conv_forward_tensor(f->plan_nb, x, w, b, y), "b", y);
  EXPECT_INVALID_T(f, conv_backward_data_tensor(f->plan, NULL, w, dx), "dy",
                   dx);
  EXPECT_INVALID_T(f, conv_backward_weight_tensor(f->plan, x, NULL, dw, db),
                   "dy", dw);
  EXPECT_INVALID_T(f, conv_backward_bias_tensor(f->plan, NULL, db), "dy", db);
  ck_assert_int_eq(conv_forward_tensor(f->plan, x, w, b, NULL),
                   CONV_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(conv_backward_data_tensor(f->plan, dy, w, NULL),
                   CONV_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(conv_backward_weight_tensor(f->plan, x, dy, NULL, db),
                   CONV_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(conv_backward_bias_tensor(f->plan, dy, NULL),
                   CONV_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(conv_forward_tensor(NULL, x, w, b, y),
                   CONV_ERROR_INVALID_ARGUMENT);

  /* Too small. */
  EXPECT_INVALID_T(f, conv_forward_tensor(f->plan, x_small, w, b, y), "x", y);
  EXPECT_INVALID_T(f, conv_forward_tensor(f->plan, x, w_small, b, y), "w", y);
  EXPECT_INVALID_T(f, conv_backward_data_tensor(f->plan, dy, w_small, dx),
                   "w", dx);
  EXPECT_INVALID_T(f, conv_backward_weight_tensor(f->plan, x_small, dy, dw, db),
                   "x", dw);
  ck_assert_int_eq(conv_forward_tensor(f->plan, x, w, b, y_small),
                   CONV_ERROR_INVALID_ARGUMENT);
  assert_tensor_poison(y_small, "too small y");

  /* From another context. */
  EXPECT_INVALID_T(f, conv_forward_tensor(f->plan, x_other, w, b, y),
                   "another context", y);
  EXPECT_INVALID_T(f, conv_backward_data_tensor(f->plan, dy, w_other, dx),
                   "another context", dx);
  EXPECT_INVALID_T(f, conv_backward_weight_tensor(f->plan, x, dy_other, dw, db),
                   "another context", dw);
  assert_tensor_poison(db, "db after failed backward_weight");
  EXPECT_INVALID_T(f, conv_backward_bias_tensor(f->plan, dy_other, db),
                   "another context", db);

  /* Upload and download counts must match. */
  float tmp[NX];
  ck_assert_int_eq(conv_tensor_upload(x, f->x, NX - 1),
                   CONV_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(conv_tensor_upload(x, f->x, NX + 1),
                   CONV_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(conv_tensor_upload(x, NULL, NX),
                   CONV_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(conv_tensor_upload(NULL, f->x, NX),
                   CONV_ERROR_INVALID_ARGUMENT);
  tu_poison(tmp, NX);
  ck_assert_int_eq(conv_tensor_download(x, tmp, NX - 1),
                   CONV_ERROR_INVALID_ARGUMENT);
  ck_assert(tu_is_poison(tmp, NX));
  ck_assert_int_eq(conv_tensor_download(x, NULL, NX),
                   CONV_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(conv_tensor_download(NULL, tmp, NX),
                   CONV_ERROR_INVALID_ARGUMENT);
  ck_assert(tu_is_poison(tmp, NX));
  /* The failed uploads left x as it was. */
  ck_assert_int_eq(conv_tensor_download(x, tmp, NX), CONV_SUCCESS);
  ck_assert(memcmp(tmp, f->x, sizeof tmp) == 0);

  /* Creation arguments. */
  conv_tensor *t = NULL;
  ck_assert_int_eq(conv_tensor_create(NULL, 4, &t),
                   CONV_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(conv_tensor_create(f->ctx, 4, NULL),
                   CONV_ERROR_INVALID_ARGUMENT);
  ck_assert_int_ne(conv_tensor_create(f->ctx, SIZE_MAX, &t), CONV_SUCCESS);
  ck_assert_ptr_null(t);
  ck_assert_uint_eq(conv_tensor_count(NULL), 0);

  /* The good calls work with the same tensors afterwards. */
  ck_assert_int_eq(conv_forward_tensor(f->plan, x, w, b, y), CONV_SUCCESS);
  float host_y[NY];
  ck_assert_int_eq(conv_tensor_download(y, host_y, NY), CONV_SUCCESS);
  ck_assert_int_eq(conv_forward(f->plan, f->x, f->w, f->b, f->y),
                   CONV_SUCCESS);
  ck_assert(memcmp(host_y, f->y, sizeof host_y) == 0);
  assert_still_works(f);

  conv_tensor *all[] = {x, w, b, dy, y, dx, dw, db, x_small, w_small,
                        y_small, x_other, w_other, dy_other};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    conv_tensor_destroy(all[i]);
  conv_context_destroy(other);
  teardown(f);
  free(f);
}
END_TEST

/* Accessors take NULL without crashing and never return NULL strings. */
START_TEST(test_null_accessors) {
  ck_assert_ptr_nonnull(conv_last_error(NULL));
  ck_assert_ptr_nonnull(conv_context_backend(NULL));
  ck_assert_ptr_nonnull(conv_context_device(NULL));
  ck_assert_ptr_nonnull(conv_plan_algorithm(NULL, CONV_OP_FORWARD));
  ck_assert_uint_eq(conv_plan_workspace_size(NULL), 0);
  int64_t h = 5, w = 6;
  conv_plan_output_size(NULL, &h, &w);
  fixture *f = tu_alloc(sizeof *f);
  setup(f, backends[_i]);
  ck_assert_ptr_nonnull(conv_plan_algorithm(f->plan, (conv_op)99));
  ck_assert_ptr_nonnull(conv_plan_algorithm(f->plan, (conv_op)-1));
  conv_plan_output_size(f->plan, NULL, NULL);
  conv_plan_output_size(f->plan, &h, &w);
  ck_assert(h == 3 && w == 2);
  ck_assert_ptr_nonnull(conv_context_backend(f->ctx));
  ck_assert_ptr_nonnull(conv_context_device(f->ctx));
  ck_assert_str_ne(conv_context_device(f->ctx), "");
  assert_still_works(f);
  teardown(f);
  free(f);
}
END_TEST

/* Bad settings in the environment make plan creation fail with a message
 * naming the variable and the value, never a crash or a silently ignored
 * value; the context stays usable. One row per probe: the variable, its
 * value, the call it reaches, the backend it applies to (NULL: all), the
 * expected status and words of the message (NULL: none asked). */
enum env_call { ENV_PLAN, ENV_POOL_PLAN, ENV_CONTEXT };
typedef struct env_case {
  const char *var, *value;
  enum env_call call;
  const char *backend;
  conv_status status;
  const char *words[3];
} env_case;

#define BAD CONV_ERROR_INVALID_ARGUMENT
#define OK CONV_SUCCESS
static const env_case env_cases[] = {
    /* CONV_NUM_THREADS: a count in 1..4096, for conv and pooling plans. */
    {"CONV_NUM_THREADS", "abc", ENV_PLAN, NULL, BAD, {"CONV_NUM_THREADS", "abc"}},
    {"CONV_NUM_THREADS", "0", ENV_PLAN, NULL, BAD, {"CONV_NUM_THREADS", "1..4096"}},
    {"CONV_NUM_THREADS", "-2", ENV_PLAN, NULL, BAD, {"CONV_NUM_THREADS", "-2"}},
    {"CONV_NUM_THREADS", "4097", ENV_PLAN, NULL, BAD, {"CONV_NUM_THREADS", "4097"}},
    {"CONV_NUM_THREADS", "3x", ENV_PLAN, NULL, BAD, {"CONV_NUM_THREADS", "3x"}},
    {"CONV_NUM_THREADS", "99999999999999999999", ENV_PLAN, NULL, BAD,
     {"CONV_NUM_THREADS"}},
    {"CONV_NUM_THREADS", " 2 ", ENV_PLAN, NULL, OK, {NULL}},
    {"CONV_NUM_THREADS", "abc", ENV_POOL_PLAN, NULL, BAD, {"CONV_NUM_THREADS", "abc"}},
    {"CONV_NUM_THREADS", "-5", ENV_POOL_PLAN, NULL, BAD, {"CONV_NUM_THREADS", "-5"}},
    {"CONV_NUM_THREADS", "2", ENV_POOL_PLAN, NULL, OK, {NULL}},
    /* CONV_ALGO: parsed once by the library, the same for every backend. */
    {"CONV_ALGO", "no_such_algorithm", ENV_PLAN, NULL, BAD, {"no_such_algorithm"}},
    {"CONV_ALGO", "fwd=nonsense", ENV_PLAN, NULL, BAD, {"nonsense"}},
    {"CONV_ALGO", "bogus_op=direct", ENV_PLAN, NULL, BAD, {"CONV_ALGO", "bogus_op"}},
    {"CONV_ALGO", "fwd=direct,fwd=direct", ENV_PLAN, NULL, BAD, {"CONV_ALGO", "twice"}},
    {"CONV_ALGO", "fwd=direct,gemm", ENV_PLAN, NULL, BAD, {"CONV_ALGO", "gemm"}},
    {"CONV_ALGO", "fwd=di rect", ENV_PLAN, NULL, BAD, {"CONV_ALGO", "di rect"}},
    {"CONV_ALGO", "", ENV_PLAN, NULL, OK, {NULL}},
    {"CONV_ALGO", "auto", ENV_PLAN, NULL, OK, {NULL}},
    {"CONV_ALGO", "fwd=", ENV_PLAN, NULL, OK, {NULL}},
    {"CONV_ALGO", "FWD=DIRECT", ENV_PLAN, NULL, OK, {NULL}},
    {"CONV_ALGO", " fwd = direct , bwd_data=Direct, ", ENV_PLAN, NULL, OK, {NULL}},
    {"CONV_ALGO", "  DIRECT  ", ENV_PLAN, NULL, OK, {NULL}},
    /* The opencl backend's own knobs go through the same parser. */
    {"CONV_OPENCL_MAX_CHUNK_BYTES", "abc", ENV_PLAN, "opencl", BAD,
     {"CONV_OPENCL_MAX_CHUNK_BYTES", "abc"}},
    {"CONV_OPENCL_MAX_CHUNK_BYTES", "-5", ENV_PLAN, "opencl", BAD,
     {"CONV_OPENCL_MAX_CHUNK_BYTES", "-5"}},
    {"CONV_OPENCL_MAX_CHUNK_BYTES", "0", ENV_PLAN, "opencl", BAD,
     {"CONV_OPENCL_MAX_CHUNK_BYTES"}},
    {"CONV_OPENCL_MAX_CHUNK_BYTES", " 1048576 ", ENV_PLAN, "opencl", OK, {NULL}},
    {"CONV_OPENCL_WGRAD_SLICES", "abc", ENV_PLAN, "opencl", BAD,
     {"CONV_OPENCL_WGRAD_SLICES", "abc"}},
    {"CONV_OPENCL_WGRAD_SLICES", "-5", ENV_PLAN, "opencl", BAD,
     {"CONV_OPENCL_WGRAD_SLICES", "-5"}},
    {"CONV_OPENCL_WGRAD_SLICES", "65", ENV_PLAN, "opencl", BAD,
     {"CONV_OPENCL_WGRAD_SLICES", "1..64"}},
    {"CONV_OPENCL_WGRAD_SLICES", "3", ENV_PLAN, "opencl", OK, {NULL}},
    /* CONV_DEVICE and CONV_BACKEND: trimmed at both ends, length-checked. */
    {"CONV_DEVICE", " 0 ", ENV_CONTEXT, NULL, OK, {NULL}},
    {"CONV_DEVICE", "0\t", ENV_CONTEXT, NULL, OK, {NULL}},
    {"CONV_DEVICE", "7", ENV_CONTEXT, NULL, CONV_ERROR_DEVICE_NOT_FOUND, {"7"}},
    {"CONV_DEVICE", "no such device", ENV_CONTEXT, NULL,
     CONV_ERROR_DEVICE_NOT_FOUND, {"no such device"}},
};
#undef BAD
#undef OK

static conv_status env_call(fixture *f, enum env_call call) {
  conv_status st = CONV_SUCCESS;
  if (call == ENV_PLAN) {
    conv_desc d;
    make_desc(&d, 1);
    conv_plan *plan = NULL;
    st = conv_plan_create(f->ctx, &d, &plan);
    conv_plan_destroy(plan);
  } else if (call == ENV_POOL_PLAN) {
    conv_pool_desc d;
    conv_pool_desc_init(&d);
    d.n = 1;
    d.c = 2;
    d.h = d.w = 4;
    d.kernel[0] = d.kernel[1] = 2;
    conv_pool_plan *plan = NULL;
    st = conv_pool_plan_create(f->ctx, &d, &plan);
    conv_pool_plan_destroy(plan);
  } else {
    conv_context *ctx = NULL;
    st = conv_context_create(&ctx, backends[_i_backend], NULL);
    conv_context_destroy(ctx);
  }
  return st;
}

START_TEST(test_bad_environment) {
  fixture *f = tu_alloc(sizeof *f);
  setup(f, backends[_i]);
  _i_backend = _i;
  for (size_t i = 0; i < sizeof env_cases / sizeof env_cases[0]; i++) {
    const env_case *c = &env_cases[i];
    if (c->backend != NULL && strcmp(c->backend, backends[_i]) != 0) continue;
    setenv(c->var, c->value, 1);
    conv_status st = env_call(f, c->call);
    unsetenv(c->var);
    const char *msg = c->call == ENV_CONTEXT ? conv_last_error(NULL)
                                             : conv_last_error(f->ctx);
    ck_assert_msg(st == c->status, "%s: %s='%s': status %s, expected %s (%s)",
                  backends[_i], c->var, c->value, conv_status_string(st),
                  conv_status_string(c->status), msg);
    for (int k = 0; k < 3 && c->words[k] != NULL; k++)
      ck_assert_msg(strstr(msg, c->words[k]) != NULL,
                    "%s: %s='%s': message \"%s\" lacks \"%s\"", backends[_i],
                    c->var, c->value, msg, c->words[k]);
  }
  assert_still_works(f);
  teardown(f);
  free(f);
}
END_TEST

int main(void) {
  n_backends = tu_require_backends("test_badinput", backends, MAX_BACKENDS);
  if (n_backends == 0) return EXIT_FAILURE;
  Suite *s = suite_create("badinput");
  TCase *tc = tcase_create("badinput");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, test_null_host_pointers, 0, n_backends);
  tcase_add_loop_test(tc, test_bad_tensors, 0, n_backends);
  tcase_add_loop_test(tc, test_null_accessors, 0, n_backends);
  tcase_add_loop_test(tc, test_bad_environment, 0, n_backends);
  suite_add_tcase(s, tc);
  const int failed = tu_run_suite(s);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
