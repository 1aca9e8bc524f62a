/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The opencl backend's compiled-program cache, tuning database and
 * plan-time compilation (issue 8), on whatever OpenCL device is there
 * (PoCL in CI; exit 77 without one):
 *
 *   - plan creation compiles everything: the first run calls add no file to
 *     PoCL's kernel cache (PoCL compiles per work-group size at the first
 *     launch, so a missed warm-up shows there);
 *   - miss (progress line "compiling"), hit (none), corrupt, truncated and
 *     foreign-key files (rebuilt, results still right), an unusable cache
 *     directory and CONV_CACHE_DIR=off (no cache, no error), two processes
 *     filling one cache at once;
 *   - the tuning database: CONV_TUNE=1 records, later plans say "tuned";
 *     missing, malformed and other-device databases are ignored with a
 *     CONV_VERBOSE line, never an error.
 * Every plan's results are checked against a float64 loop nest (ref.c).
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conv.h"
#include "ref.h"
#include "testutil.h"

static int have_opencl;

/* ---------------------------------------------------------- stderr capture */

static int saved_fd = -1;
static char cap_path[256];

static void capture_begin(void) {
  snprintf(cap_path, sizeof cap_path, "%s/stderr-%ld.txt",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid());
  fflush(stderr);
  saved_fd = dup(2);
  int fd = open(cap_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ck_assert_int_ge(fd, 0);
  dup2(fd, 2);
  close(fd);
}

/* Returns what was written to stderr since capture_begin (a static buffer,
 * valid until the next capture). */
static char *capture_end(void) {
  fflush(stderr);
  dup2(saved_fd, 2);
  close(saved_fd);
  FILE *f = fopen(cap_path, "rb");
  ck_assert_ptr_nonnull(f);
  static char buf[1 << 16]; /* one capture at a time: reused, never freed */
  size_t n = fread(buf, 1, (1 << 16) - 1, f);
  buf[n] = '\0';
  fclose(f);
  remove(cap_path);
  fputs(buf, stderr); /* still visible in the test log */
  return buf;
}

/* ------------------------------------------------------------- one layer */

static void small_desc(conv_desc *d) {
  conv_desc_init(d);
  d->n = 2;
  d->c_in = 8; /* im2col_gemm by default (not few channels, not wide) */
  d->h = 9;
  d->w = 7;
  d->c_out = 24;
  d->kernel[0] = d->kernel[1] = 3;
  d->pad[0] = d->pad[1] = d->pad[2] = d->pad[3] = 1;
  d->has_bias = 1;
}

/* Plans d on opencl and checks forward, backward data and backward weight
 * (with bias) against the loop nest; returns the plan-creation stderr. */
static char *plan_and_check(const conv_desc *d) {
  conv_context *ctx = NULL;
  conv_plan *plan = NULL;
  ck_assert_int_eq(conv_context_create(&ctx, "opencl", NULL), CONV_SUCCESS);
  capture_begin();
  conv_status st = conv_plan_create(ctx, d, &plan);
  char *log = capture_end();
  ck_assert_msg(st == CONV_SUCCESS, "plan: %s", conv_last_error(ctx));

  int64_t oh, ow;
  ck_assert_int_eq(conv_output_size(d, &oh, &ow, NULL), CONV_SUCCESS);
  const size_t nx = (size_t)(d->n * d->c_in * d->h * d->w);
  const size_t nw = (size_t)(d->c_out * d->c_in / d->groups * d->kernel[0] *
                             d->kernel[1]);
  const size_t ny = (size_t)(d->n * d->c_out * oh * ow);
  float *x = tu_alloc(nx * 4), *w = tu_alloc(nw * 4), *b = tu_alloc(d->c_out * 4);
  float *y = tu_alloc(ny * 4), *dy = tu_alloc(ny * 4), *dx = tu_alloc(nx * 4);
  float *dw = tu_alloc(nw * 4), *db = tu_alloc(d->c_out * 4);
  double *ry = tu_alloc(ny * 8), *rdx = tu_alloc(nx * 8), *rdw = tu_alloc(nw * 8),
         *rdb = tu_alloc(d->c_out * 8);
  tu_rng r;
  tu_rng_seed(&r, 8);
  tu_fill_random(&r, x, nx);
  tu_fill_random(&r, w, nw);
  tu_fill_random(&r, b, (size_t)d->c_out);
  tu_fill_random(&r, dy, ny);
  tu_poison(y, ny);
  tu_poison(dx, nx);
  tu_poison(dw, nw);
  tu_poison(db, (size_t)d->c_out);
  ck_assert_int_eq(conv_forward(plan, x, w, b, y), CONV_SUCCESS);
  ck_assert_int_eq(conv_backward_data(plan, dy, w, dx), CONV_SUCCESS);
  ck_assert_int_eq(conv_backward_weight(plan, x, dy, dw, db), CONV_SUCCESS);
  ref_geom g;
  ck_assert_int_eq(ref_resolve(d, &g), 1);
  ref_forward(&g, x, w, b, ry);
  ref_backward_data(&g, dy, w, rdx);
  ref_backward_weight(&g, x, dy, rdw);
  ref_backward_bias(&g, dy, rdb);
  size_t at;
  ck_assert_double_le(tu_rel_error(y, ry, ny, &at), TU_TOLERANCE);
  ck_assert_double_le(tu_rel_error(dx, rdx, nx, &at), TU_TOLERANCE);
  ck_assert_double_le(tu_rel_error(dw, rdw, nw, &at), TU_TOLERANCE);
  ck_assert_double_le(tu_rel_error(db, rdb, (size_t)d->c_out, &at),
                      TU_TOLERANCE);
  free(x); free(w); free(b); free(y); free(dy); free(dx); free(dw); free(db);
  free(ry); free(rdx); free(rdw); free(rdb);
  conv_plan_destroy(plan);
  conv_context_destroy(ctx);
  return log;
}

/* Number of regular files under dir (recursive) and a hash of their names
 * and sizes. */
static long tree_files(const char *dir, unsigned long long *sig) {
  DIR *dd = opendir(dir);
  long n = 0;
  if (dd == NULL) return 0;
  struct dirent *e;
  while ((e = readdir(dd)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    struct stat st;
    if (lstat(path, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      n += tree_files(path, sig);
    } else {
      n++;
      for (const char *c = path; *c; c++) *sig = *sig * 131 + (unsigned char)*c;
    }
  }
  closedir(dd);
  return n;
}

/* The cl-*.bin files of the libconv cache dir, up to max. */
static int cache_files(const char *dir, char files[][4096], int max) {
  DIR *dd = opendir(dir);
  int n = 0;
  if (dd == NULL) return 0;
  struct dirent *e;
  while ((e = readdir(dd)) != NULL && n < max)
    if (strncmp(e->d_name, "cl-", 3) == 0 && strstr(e->d_name, ".bin") &&
        !strstr(e->d_name, ".tmp"))
      snprintf(files[n++], 4096, "%s/%s", dir, e->d_name);
  closedir(dd);
  return n;
}

static char *fresh_cache(void) {
  char *dir = tu_make_temp_dir("conv-cache");
  setenv("CONV_CACHE_DIR", dir, 1);
  setenv("CONV_PROGRESS", "1", 1);
  return dir;
}

static int compiled(const char *log) { return strstr(log, "compiling") != NULL; }

/* ------------------------------------------------------------------ tests */

START_TEST(plan_time_compilation) {
  /* A fresh PoCL cache too: what PoCL compiles lands there. Three layers:
   * the small one (im2col_gemm), one wide enough for Winograd and
   * dy_im2col_gemm, one with few channels (the direct row kernels). */
  char *pocl = tu_make_temp_dir("pocl");
  setenv("POCL_CACHE_DIR", pocl, 1);
  char *dir = fresh_cache();
  conv_desc d;
  small_desc(&d);
  if (_i == 1) { /* winograd_f2x2, dy_im2col_gemm */
    d.c_in = 16;
    d.c_out = 16;
  } else if (_i == 2) { /* few channels: the direct row kernels */
    d.c_in = 3;
    d.c_out = 5;
  } else if (_i == 3) {
    /* Grouped (direct kernels), with a weight-gradient reduction over
     * 128*4*9 work-groups of 64: a grid 65536 or more items wide, which
     * PoCL compiles apart from one-group grids (it did so in the first
     * backward_weight call until plans warmed both grid classes). */
    d.n = 1;
    d.c_in = d.c_out = 128;
    d.groups = 32;
  }
  conv_context *ctx = NULL;
  conv_plan *plan = NULL;
  ck_assert_int_eq(conv_context_create(&ctx, "opencl", NULL), CONV_SUCCESS);
  ck_assert_int_eq(conv_plan_create(ctx, &d, &plan), CONV_SUCCESS);
  unsigned long long s0 = 0, s1 = 0;
  const long n0 = tree_files(pocl, &s0);
  int64_t oh, ow;
  conv_output_size(&d, &oh, &ow, NULL);
  const size_t nx = (size_t)(d.n * d.c_in * d.h * d.w),
               nw = (size_t)(d.c_out * (d.c_in / d.groups) * 9),
               ny = (size_t)(d.n * d.c_out * oh * ow);
  float *x = tu_alloc(nx * 4), *w = tu_alloc(nw * 4),
        *b = tu_alloc((size_t)d.c_out * 4);
  float *y = tu_alloc(ny * 4), *dx = tu_alloc(nx * 4), *dw = tu_alloc(nw * 4);
  memset(x, 0, nx * 4);
  memset(w, 0, nw * 4);
  memset(b, 0, (size_t)d.c_out * 4);
  ck_assert_int_eq(conv_forward(plan, x, w, b, y), CONV_SUCCESS);
  ck_assert_int_eq(conv_backward_data(plan, y, w, dx), CONV_SUCCESS);
  ck_assert_int_eq(conv_backward_weight(plan, x, y, dw, b), CONV_SUCCESS);
  ck_assert_int_eq(conv_backward_bias(plan, y, b), CONV_SUCCESS);
  const long n1 = tree_files(pocl, &s1);
  ck_assert_msg(n1 == n0 && s1 == s0,
                "the run calls compiled something: %ld files in the PoCL "
                "cache after plan creation, %ld after the runs", n0, n1);
  free(x); free(w); free(b); free(y); free(dx); free(dw);
  conv_plan_destroy(plan);
  conv_context_destroy(ctx);
  tu_remove_dir(dir);
  free(dir);
  free(pocl);
}
END_TEST

/* Pooling plans compile at plan time too: max (with indices) and average,
 * run forward and backward, nothing added to a fresh PoCL cache. */
START_TEST(pool_plan_time_compilation) {
  char *pocl = tu_make_temp_dir("pocl");
  setenv("POCL_CACHE_DIR", pocl, 1);
  char *dir = fresh_cache();
  conv_context *ctx = NULL;
  ck_assert_int_eq(conv_context_create(&ctx, "opencl", NULL), CONV_SUCCESS);
  conv_pool_desc d;
  conv_pool_desc_init(&d);
  d.n = 2;
  d.c = 3;
  d.h = 9;
  d.w = 7;
  d.kernel[0] = d.kernel[1] = 2;
  d.mode = _i == 0 ? CONV_POOL_MAX : CONV_POOL_AVG;
  conv_pool_plan *plan = NULL;
  ck_assert_msg(conv_pool_plan_create(ctx, &d, &plan) == CONV_SUCCESS, "%s",
                conv_last_error(ctx));
  unsigned long long s0 = 0, s1 = 0;
  const long n0 = tree_files(pocl, &s0);
  float x[2 * 3 * 9 * 7], y[2 * 3 * 4 * 3], dx[2 * 3 * 9 * 7];
  int64_t idx[2 * 3 * 4 * 3];
  for (size_t i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = (float)(i % 11);
  for (size_t i = 0; i < sizeof y / sizeof y[0]; i++) y[i] = 1.0f;
  if (_i == 0) {
    ck_assert_int_eq(conv_maxpool_forward(plan, x, y, idx), CONV_SUCCESS);
    ck_assert_int_eq(conv_maxpool_backward(plan, x, y, dx), CONV_SUCCESS);
  } else {
    ck_assert_int_eq(conv_avgpool_forward(plan, x, y), CONV_SUCCESS);
    ck_assert_int_eq(conv_avgpool_backward(plan, y, dx), CONV_SUCCESS);
  }
  const long n1 = tree_files(pocl, &s1);
  ck_assert_msg(n1 == n0 && s1 == s0,
                "pooling run calls compiled something: %ld files in the PoCL "
                "cache after plan creation, %ld after the runs", n0, n1);
  conv_pool_plan_destroy(plan);
  conv_context_destroy(ctx);
  tu_remove_dir(dir);
  free(dir);
  free(pocl);
}
END_TEST

START_TEST(miss_then_hit) {
  char *dir = fresh_cache();
  conv_desc d;
  small_desc(&d);
  char files[16][4096];
  ck_assert_int_eq(cache_files(dir, files, 16), 0);
  ck_assert_msg(compiled(plan_and_check(&d)), "an empty cache must compile");
  ck_assert_int_ge(cache_files(dir, files, 16), 2); /* base + GEMM */
  ck_assert_msg(!compiled(plan_and_check(&d)),
                "a filled cache compiled again");
  tu_remove_dir(dir);
  free(dir);
}
END_TEST

/* Each way of damaging every cached file: the next plan rebuilds, computes
 * right, and rewrites a good file (the one after hits). */
static void damage(const char *path, int how) {
  FILE *f = fopen(path, "r+b");
  ck_assert_ptr_nonnull(f);
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  if (how == 0) { /* corrupt: flip a byte in the middle */
    fseek(f, len / 2, SEEK_SET);
    int c = fgetc(f);
    fseek(f, len / 2, SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
  } else if (how == 1) { /* truncate */
    fclose(f);
    ck_assert_int_eq(truncate(path, len / 3), 0);
  } else { /* another key under this name, checksum made valid again */
    unsigned char *buf = tu_alloc((size_t)len);
    fseek(f, 0, SEEK_SET);
    ck_assert_int_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
    const size_t ml = strlen("LIBCONV-CL-CACHE 1\n");
    /* first byte of the key text ("libconv ...") */
    buf[ml + 8] ^= 0x20;
    unsigned long long h = 14695981039346656037ULL;
    for (long i = (long)ml; i < len - 8; i++) {
      h ^= buf[i];
      h *= 1099511628211ULL;
    }
    for (int i = 0; i < 8; i++) buf[len - 8 + i] = (unsigned char)(h >> (8 * i));
    fseek(f, 0, SEEK_SET);
    fwrite(buf, 1, (size_t)len, f);
    fclose(f);
    free(buf);
  }
}

START_TEST(damaged_files_rebuild) {
  const int how = _i;
  char *dir = fresh_cache();
  conv_desc d;
  small_desc(&d);
  plan_and_check(&d);
  char files[16][4096];
  const int n = cache_files(dir, files, 16);
  ck_assert_int_ge(n, 2);
  for (int i = 0; i < n; i++) damage(files[i], how);
  ck_assert_msg(compiled(plan_and_check(&d)),
                "damaged cache files (kind %d) were used", how);
  ck_assert_msg(!compiled(plan_and_check(&d)),
                "the rebuilt files were not stored again (kind %d)", how);
  tu_remove_dir(dir);
  free(dir);
}
END_TEST

START_TEST(unusable_or_off) {
  conv_desc d;
  small_desc(&d);
  /* A directory under a regular file can never be made (even by root). */
  char *dir = tu_make_temp_dir("conv-cache");
  char file[4200], sub[4300];
  snprintf(file, sizeof file, "%s/plainfile", dir);
  FILE *f = fopen(file, "w");
  ck_assert_ptr_nonnull(f);
  fclose(f);
  snprintf(sub, sizeof sub, "%s/cache", file);
  setenv("CONV_CACHE_DIR", sub, 1);
  setenv("CONV_PROGRESS", "1", 1);
  ck_assert(compiled(plan_and_check(&d)));
  ck_assert(compiled(plan_and_check(&d))); /* no cache: compiles again */
  remove(file);
  setenv("CONV_CACHE_DIR", "off", 1);
  ck_assert(compiled(plan_and_check(&d)));
  char files[4][4096];
  ck_assert_int_eq(cache_files(dir, files, 4), 0);
  tu_remove_dir(dir);
  free(dir);
}
END_TEST

START_TEST(two_processes) {
  char *dir = fresh_cache();
  conv_desc d;
  small_desc(&d);
  pid_t kids[2];
  for (int k = 0; k < 2; k++) {
    kids[k] = fork();
    ck_assert_int_ge(kids[k], 0);
    if (kids[k] == 0) {
      plan_and_check(&d); /* aborts the child on a failed check */
      _exit(0);
    }
  }
  for (int k = 0; k < 2; k++) {
    int status = 0;
    ck_assert_int_eq(waitpid(kids[k], &status, 0), kids[k]);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "process %d filling the cache failed", k);
  }
  ck_assert_msg(!compiled(plan_and_check(&d)),
                "the cache two processes filled at once is not usable");
  tu_remove_dir(dir);
  free(dir);
}
END_TEST

START_TEST(tuning_database) {
  char *dir = fresh_cache();
  conv_desc d;
  small_desc(&d);
  setenv("CONV_VERBOSE", "1", 1);
  /* No database: the device default. */
  char *log = plan_and_check(&d);
  ck_assert_msg(strstr(log, "default for the device type") != NULL, "%s", log);
  /* Tune: candidates timed, winners recorded, later plans use them. */
  setenv("CONV_TUNE", "1", 1);
  plan_and_check(&d);
  unsetenv("CONV_TUNE");
  log = plan_and_check(&d);
  ck_assert_msg(strstr(log, "tuned (this problem)") != NULL, "%s", log);
  /* Find the database file. */
  char path[4200] = "";
  DIR *dd = opendir(dir);
  struct dirent *e;
  while ((e = readdir(dd)) != NULL)
    if (strncmp(e->d_name, "tune-", 5) == 0)
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
  closedir(dd);
  ck_assert_msg(path[0] != '\0', "no tuning database written");
  /* Malformed entries: ignored with a line, default used. */
  FILE *f = fopen(path, "r");
  char text[8192];
  size_t n = fread(text, 1, sizeof text - 1, f);
  text[n] = '\0';
  fclose(f);
  char *bad = strdup(text);
  for (char *c = strstr(bad, " vec:") ? strstr(bad, " vec:") : strstr(bad, " tiled:");
       c != NULL && *c != '\n'; c++)
    if (*c == '=') *c = '#';
  f = fopen(path, "w");
  fputs(bad, f);
  fclose(f);
  log = plan_and_check(&d);
  ck_assert_msg(strstr(log, "ignored") != NULL, "%s", log);
  /* Garbage and another device's file: ignored. */
  f = fopen(path, "w");
  fputs("this is not a tuning database\n\x01\x02\n", f);
  fclose(f);
  log = plan_and_check(&d);
  ck_assert_msg(strstr(log, "default for the device type") != NULL, "%s", log);
  char *other = strdup(text);
  char *dev = strstr(other, "device ");
  ck_assert_ptr_nonnull(dev);
  dev[7] = dev[7] == 'X' ? 'Y' : 'X';
  f = fopen(path, "w");
  fputs(other, f);
  fclose(f);
  log = plan_and_check(&d);
  ck_assert_msg(strstr(log, "not a libconv-tune 1 file for this device") !=
                    NULL, "%s", log);
  ck_assert_msg(strstr(log, "default for the device type") != NULL, "%s", log);
  free(bad);
  free(other);
  unsetenv("CONV_VERBOSE");
  tu_remove_dir(dir);
  free(dir);
}
END_TEST

START_TEST(bad_settings_are_errors) {
  static const char *const cases[][2] = {
      {"CONV_TUNE", "yes"},
      {"CONV_OPENCL_GEMM", "vec:tm=8"},
      {"CONV_OPENCL_GEMM", "tiled:mwg=64,nwg=64,kwg=16,mdimc=7,ndimc=16"},
      {"CONV_OPENCL_GEMM", "simd:tm=1"},
      {"CONV_OPENCL_LOWERING", "diagonal"},
  };
  conv_desc d;
  small_desc(&d);
  conv_context *ctx = NULL;
  ck_assert_int_eq(conv_context_create(&ctx, "opencl", NULL), CONV_SUCCESS);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    setenv(cases[i][0], cases[i][1], 1);
    conv_plan *plan = NULL;
    conv_status st = conv_plan_create(ctx, &d, &plan);
    unsetenv(cases[i][0]);
    ck_assert_msg(st == CONV_ERROR_INVALID_ARGUMENT ||
                      st == CONV_ERROR_UNSUPPORTED,
                  "%s=%s gave %s", cases[i][0], cases[i][1],
                  conv_status_string(st));
    ck_assert_ptr_null(plan);
    ck_assert_msg(strstr(conv_last_error(ctx), cases[i][0]) != NULL,
                  "message does not name %s: %s", cases[i][0],
                  conv_last_error(ctx));
  }
  conv_context_destroy(ctx);
}
END_TEST

/* Issue 12's defect 1: CLBlast failing to get its temporary buffer (a
 * 16384 x 16384 single-channel 1x1 forward on PoCL) once aborted the
 * process inside CLBlast. Its buffer is now sized and allocated at plan
 * time: the plan fails with a status and the reason, the context stays
 * usable, and the default plan (own kernels) is made. */
START_TEST(clblast_failure_is_a_status) {
  conv_context *ctx = NULL;
  ck_assert_int_eq(conv_context_create(&ctx, "opencl", NULL), CONV_SUCCESS);
  conv_desc d;
  conv_desc_init(&d);
  d.n = d.c_in = d.c_out = 1;
  d.h = d.w = 16384;
  d.kernel[0] = d.kernel[1] = 1;
  setenv("CONV_ALGO", "fwd=clblast_1x1", 1);
  conv_plan *plan = NULL;
  conv_status st = conv_plan_create(ctx, &d, &plan);
  unsetenv("CONV_ALGO");
  if (st == CONV_SUCCESS) {
    conv_plan_destroy(plan); /* a device whose limits allow it: fine */
  } else {
    ck_assert_msg(st == CONV_ERROR_DEVICE || st == CONV_ERROR_OUT_OF_MEMORY,
                  "%s: %s", conv_status_string(st), conv_last_error(ctx));
    ck_assert_msg(strstr(conv_last_error(ctx), "CLBlast") != NULL,
                  "the reason does not say CLBlast: %s", conv_last_error(ctx));
  }
  ck_assert_int_eq(conv_plan_create(ctx, &d, &plan), CONV_SUCCESS);
  conv_plan_destroy(plan);
  conv_context_destroy(ctx);
}
END_TEST

int main(void) {
  char names[8][64];
  const int n = tu_usable_backends(names, 8);
  for (int i = 0; i < n; i++) have_opencl |= strcmp(names[i], "opencl") == 0;
  if (!have_opencl) {
    fprintf(stderr, "test_opencl_cache: no usable OpenCL device: skipped\n");
    return 77;
  }
  Suite *s = suite_create("opencl_cache");
  TCase *tc = tcase_create("cache");
  tcase_set_timeout(tc, 900);
  tcase_add_loop_test(tc, plan_time_compilation, 0, 4);
  tcase_add_loop_test(tc, pool_plan_time_compilation, 0, 2);
  tcase_add_test(tc, miss_then_hit);
  tcase_add_loop_test(tc, damaged_files_rebuild, 0, 3);
  tcase_add_test(tc, unusable_or_off);
  tcase_add_test(tc, two_processes);
  tcase_add_test(tc, tuning_database);
  tcase_add_test(tc, bad_settings_are_errors);
  tcase_add_test(tc, clblast_failure_is_a_status);
  suite_add_tcase(s, tc);
  const int failed = tu_run_suite(s);
  return failed == 0 ? 0 : 1;
}
