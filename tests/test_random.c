/* SPDX-License-Identifier: Apache-2.0 */
/* Seeded random descriptors against the float64 reference (ref.c), for
 * every usable backend and every algorithm it can be forced to, for all four
 * operations; plus: the device-tensor API gives the host API's bits, a
 * second run gives the same bits, and backends agree with each other.
 *
 * Environment: CONV_TEST_BACKENDS (a comma list: only those backends),
 * CONV_TEST_RANDOM_CASES (default 200) cases per backend,
 * CONV_TEST_RANDOM_SEED (default 20240601) to explore other cases,
 * CONV_TEST_RANDOM_WIDE=1 to make every case's rows wide (width 40-300,
 * or 1-30 columns past a 5-tap kernel dilated 60-70; a quarter with
 * horizontal dilations of 40-80: the row kernels' segments and their
 * fallback for taps wider than a line). A failure
 * names the case index, seed and descriptor, so it can be reproduced. */
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conv.h"
#include "ref.h"
#include "testutil.h"

#define MAX_BACKENDS 8
#define MAX_ALGOS 16
#define CHUNK 25 /* cases per Check test (one forked process) */

static char backends[MAX_BACKENDS][64];
static int n_backends;
static int n_cases = 200;
static int n_chunks;
static uint64_t base_seed = 20240601;
static int wide_rows;

/* ------------------------------------------------------------ cases */

/* The descriptor of case i; always valid by ref_resolve. Sizes stay small
 * so the float64 reference is quick, but cover odd and prime extents, every
 * padding kind and mode, groups (incl. depthwise), flip, bias and n = 0. */
static void random_desc(uint64_t seed, conv_desc *d, ref_geom *g) {
  tu_rng r;
  tu_rng_seed(&r, seed);
  uint64_t attempt = 0;
  for (;;) {
    conv_desc_init(d);
    d->n = tu_rng_range(&r, 0, 19) == 0 ? 0 : tu_rng_range(&r, 1, 3);
    int gk = (int)tu_rng_range(&r, 0, 5);
    if (gk <= 2) { /* dense */
      d->groups = 1;
      d->c_in = tu_rng_range(&r, 1, 5);
      d->c_out = tu_rng_range(&r, 1, 6);
    } else if (gk <= 4) { /* grouped */
      d->groups = tu_rng_range(&r, 2, 3);
      d->c_in = d->groups * tu_rng_range(&r, 1, 3);
      d->c_out = d->groups * tu_rng_range(&r, 1, 3);
    } else { /* depthwise, channel multiplier 1 or 2 */
      d->groups = tu_rng_range(&r, 1, 7);
      d->c_in = d->groups;
      d->c_out = d->groups * tu_rng_range(&r, 1, 2);
    }
    d->h = tu_rng_range(&r, 1, 17);
    d->w = tu_rng_range(&r, 1, 17);
    for (int a = 0; a < 2; a++) {
      d->kernel[a] = tu_rng_range(&r, 1, 5);
      d->stride[a] = tu_rng_range(&r, 0, 2) == 0 ? tu_rng_range(&r, 2, 3) : 1;
      d->dilation[a] = tu_rng_range(&r, 0, 3) == 0 ? tu_rng_range(&r, 2, 3) : 1;
    }
    int pk = (int)tu_rng_range(&r, 0, 19);
    d->padding = pk < 11   ? CONV_PADDING_EXPLICIT
                 : pk < 14 ? CONV_PADDING_SAME
                 : pk < 17 ? CONV_PADDING_VALID
                           : CONV_PADDING_FULL;
    if (d->padding == CONV_PADDING_SAME) d->stride[0] = d->stride[1] = 1;
    for (int i = 0; i < 4; i++) d->pad[i] = tu_rng_range(&r, 0, 3);
    d->padding_mode = (conv_padding_mode)tu_rng_range(&r, 0, 4);
    d->has_bias = (int)tu_rng_range(&r, 0, 1);
    d->flip_kernel = tu_rng_range(&r, 0, 3) == 0;
    /* Shapes the specialised algorithms want, so they run often enough:
     * 3x3 stride 1 with equal dilations (Winograd), 1x1 stride 1 without
     * padding (a single GEMM). */
    int family = (int)tu_rng_range(&r, 0, 9);
    if (family <= 1) {
      d->kernel[0] = d->kernel[1] = 3;
      d->stride[0] = d->stride[1] = 1;
      d->dilation[0] = d->dilation[1] = tu_rng_range(&r, 0, 3) == 0 ? 2 : 1;
      if (family == 0) {
        d->groups = 1;
        d->c_in = tu_rng_range(&r, 1, 5);
        d->c_out = tu_rng_range(&r, 1, 6);
        d->padding_mode = tu_rng_range(&r, 0, 2) ? CONV_PAD_ZEROS
                                                 : d->padding_mode;
      }
    } else if (family == 3 && tu_rng_range(&r, 0, 1) == 0) {
      /* Now and then a larger problem, past the register and cache tiles
       * of the GEMM and Winograd kernels (M, N and K of 30 and more). */
      d->n = tu_rng_range(&r, 1, 2);
      d->groups = tu_rng_range(&r, 0, 2) == 0 ? 2 : 1;
      d->c_in = d->groups * tu_rng_range(&r, 8, 24);
      d->c_out = d->groups * tu_rng_range(&r, 8, 24);
      d->h = tu_rng_range(&r, 12, 33);
      d->w = tu_rng_range(&r, 12, 33);
    } else if (family == 2) {
      d->kernel[0] = d->kernel[1] = 1;
      d->stride[0] = d->stride[1] = 1;
      if (d->padding == CONV_PADDING_EXPLICIT)
        d->pad[0] = d->pad[1] = d->pad[2] = d->pad[3] = 0;
    }
    if (wide_rows) {
      /* Its own stream, so the default cases stay what they are. */
      tu_rng rw;
      tu_rng_seed(&rw, (seed ^ 0x51DE) + (uint64_t)attempt++);
      d->w = tu_rng_range(&rw, 40, 300);
      d->h = tu_rng_range(&rw, 1, 4);
      if (d->n > 1) d->n = 1;
      const int64_t dil = tu_rng_range(&rw, 0, 3);
      if (dil == 1) { /* taps wider than a line, on a wide row */
        d->kernel[1] = tu_rng_range(&rw, 3, 5);
        d->dilation[1] = tu_rng_range(&rw, 40, 80);
      } else if (dil == 2) { /* the same with few outputs per row */
        d->kernel[1] = 5;
        d->dilation[1] = tu_rng_range(&rw, 60, 70);
        d->w = 4 * d->dilation[1] + tu_rng_range(&rw, 1, 30);
      }
    }
    if (ref_resolve(d, g)) return;
  }
}

/* The inputs and reference outputs of one case. */
typedef struct case_data {
  conv_desc d;
  ref_geom g;
  size_t nx, nw, nb, ny;
  float *x, *w, *b, *dy;
  double *ry, *rdx, *rdw, *rdb;
} case_data;

static void case_make(case_data *c, int index) {
  uint64_t seed = base_seed * 1000003u + (uint64_t)index;
  random_desc(seed, &c->d, &c->g);
  c->nx = ref_x_count(&c->g);
  c->nw = ref_w_count(&c->g);
  c->nb = (size_t)c->d.c_out;
  c->ny = ref_y_count(&c->g);
  tu_rng r;
  tu_rng_seed(&r, seed ^ 0xDA7A);
  c->x = tu_alloc(c->nx * sizeof(float));
  c->w = tu_alloc(c->nw * sizeof(float));
  c->b = tu_alloc(c->nb * sizeof(float));
  c->dy = tu_alloc(c->ny * sizeof(float));
  tu_fill_random(&r, c->x, c->nx);
  tu_fill_random(&r, c->w, c->nw);
  tu_fill_random(&r, c->b, c->nb);
  tu_fill_random(&r, c->dy, c->ny);
  c->ry = tu_alloc(c->ny * sizeof(double));
  c->rdx = tu_alloc(c->nx * sizeof(double));
  c->rdw = tu_alloc(c->nw * sizeof(double));
  c->rdb = tu_alloc(c->nb * sizeof(double));
  ref_forward(&c->g, c->x, c->w, c->d.has_bias ? c->b : NULL, c->ry);
  ref_backward_data(&c->g, c->dy, c->w, c->rdx);
  ref_backward_weight(&c->g, c->x, c->dy, c->rdw);
  ref_backward_bias(&c->g, c->dy, c->rdb);
}

static void case_free(case_data *c) {
  free(c->x); free(c->w); free(c->b); free(c->dy);
  free(c->ry); free(c->rdx); free(c->rdw); free(c->rdb);
}

/* Outputs of one run of the four ops. */
typedef struct outputs {
  float *y, *dx, *dw, *db, *db2;
} outputs;

static void outputs_alloc(outputs *o, const case_data *c) {
  o->y = tu_alloc(c->ny * sizeof(float));
  o->dx = tu_alloc(c->nx * sizeof(float));
  o->dw = tu_alloc(c->nw * sizeof(float));
  o->db = tu_alloc(c->nb * sizeof(float));
  o->db2 = tu_alloc(c->nb * sizeof(float));
}

static void outputs_free(outputs *o) {
  free(o->y); free(o->dx); free(o->dw); free(o->db); free(o->db2);
}

static void outputs_poison(outputs *o, const case_data *c) {
  tu_poison(o->y, c->ny);
  tu_poison(o->dx, c->nx);
  tu_poison(o->dw, c->nw);
  tu_poison(o->db, c->nb);
  tu_poison(o->db2, c->nb);
}

/* ------------------------------------------------------------ running */

/* Context of failure messages. */
typedef struct where {
  const char *backend;
  const char *algo;
  int index;
  const conv_desc *d;
} where;

static const char *where_str(const where *w, char *buf, size_t len) {
  char desc[512];
  snprintf(buf, len, "backend=%s CONV_ALGO=%s case=%d seed=%llu: %s",
           w->backend, w->algo ? w->algo : "(default)", w->index,
           (unsigned long long)base_seed, tu_desc_str(w->d, desc, sizeof desc));
  return buf;
}

#define CHECK_ST(st, ctx, wh, what)                                         \
  do {                                                                      \
    char wb_[1024];                                                         \
    ck_assert_msg((st) == CONV_SUCCESS, "%s failed: %s (%s) [%s]", (what),  \
                  conv_status_string(st), conv_last_error(ctx),             \
                  where_str((wh), wb_, sizeof wb_));                        \
  } while (0)

static void check_close(const float *got, const double *ref, size_t n,
                        const where *wh, const char *what) {
  size_t at = 0;
  double e = tu_rel_error(got, ref, n, &at);
  char wb[1024];
  ck_assert_msg(e <= TU_TOLERANCE,
                "%s: relative error %g > %g (element %zu: got %.9g, ref %.9g) "
                "[%s]",
                what, e, TU_TOLERANCE, at, n ? (double)got[at] : 0.0,
                n ? ref[at] : 0.0, where_str(wh, wb, sizeof wb));
}

static void check_same_bits(const float *a, const float *b, size_t n,
                            const where *wh, const char *what) {
  char wb[1024];
  for (size_t i = 0; i < n; i++)
    if (memcmp(&a[i], &b[i], sizeof(float)) != 0)
      ck_abort_msg("%s: element %zu differs: %.9g vs %.9g [%s]", what, i,
                   (double)a[i], (double)b[i], where_str(wh, wb, sizeof wb));
}

/* The four ops through the host-pointer API into o (poisoned first). db2
 * gets backward_bias, db backward_weight's bias gradient. */
static void run_host(conv_context *ctx, conv_plan *plan, const case_data *c,
                     outputs *o, const where *wh) {
  conv_status st;
  outputs_poison(o, c);
  st = conv_forward(plan, c->x, c->w, c->d.has_bias ? c->b : NULL, o->y);
  CHECK_ST(st, ctx, wh, "conv_forward");
  st = conv_backward_data(plan, c->dy, c->w, o->dx);
  CHECK_ST(st, ctx, wh, "conv_backward_data");
  st = conv_backward_weight(plan, c->x, c->dy, o->dw,
                            c->d.has_bias ? o->db : NULL);
  CHECK_ST(st, ctx, wh, "conv_backward_weight");
  if (c->d.has_bias) {
    st = conv_backward_bias(plan, c->dy, o->db2);
    CHECK_ST(st, ctx, wh, "conv_backward_bias");
  }
}

static void compare_ref(const case_data *c, const outputs *o, const where *wh) {
  check_close(o->y, c->ry, c->ny, wh, "forward y");
  check_close(o->dx, c->rdx, c->nx, wh, "backward_data dx");
  check_close(o->dw, c->rdw, c->nw, wh, "backward_weight dw");
  if (c->d.has_bias) {
    check_close(o->db, c->rdb, c->nb, wh, "backward_weight db");
    check_close(o->db2, c->rdb, c->nb, wh, "backward_bias db");
  } else {
    char wb[1024];
    ck_assert_msg(tu_is_poison(o->db, c->nb) && tu_is_poison(o->db2, c->nb),
                  "bias gradient written without a bias [%s]",
                  where_str(wh, wb, sizeof wb));
  }
}

static void compare_bits(const case_data *c, const outputs *a,
                         const outputs *b, const where *wh, const char *what) {
  char label[128];
  snprintf(label, sizeof label, "%s: y", what);
  check_same_bits(a->y, b->y, c->ny, wh, label);
  snprintf(label, sizeof label, "%s: dx", what);
  check_same_bits(a->dx, b->dx, c->nx, wh, label);
  snprintf(label, sizeof label, "%s: dw", what);
  check_same_bits(a->dw, b->dw, c->nw, wh, label);
  if (c->d.has_bias) {
    snprintf(label, sizeof label, "%s: db (backward_weight)", what);
    check_same_bits(a->db, b->db, c->nb, wh, label);
    snprintf(label, sizeof label, "%s: db (backward_bias)", what);
    check_same_bits(a->db2, b->db2, c->nb, wh, label);
  }
}

static conv_tensor *tensor_with(conv_context *ctx, const float *data,
                                size_t n, const where *wh) {
  conv_tensor *t = NULL;
  conv_status st = conv_tensor_create(ctx, n, &t);
  CHECK_ST(st, ctx, wh, "conv_tensor_create");
  ck_assert_uint_eq(conv_tensor_count(t), n);
  if (data != NULL) {
    st = conv_tensor_upload(t, data, n);
    CHECK_ST(st, ctx, wh, "conv_tensor_upload");
  } else if (n > 0) {
    /* Poison the device copy of an output too. */
    float *p = tu_alloc(n * sizeof(float));
    tu_poison(p, n);
    st = conv_tensor_upload(t, p, n);
    free(p);
    CHECK_ST(st, ctx, wh, "conv_tensor_upload (poison)");
  }
  return t;
}

static void download(conv_context *ctx, conv_tensor *t, float *dst, size_t n,
                     const where *wh) {
  conv_status st = conv_tensor_download(t, dst, n);
  CHECK_ST(st, ctx, wh, "conv_tensor_download");
}

/* The four ops through the device-tensor API. */
static void run_tensors(conv_context *ctx, conv_plan *plan,
                        const case_data *c, outputs *o, const where *wh) {
  const int bias = c->d.has_bias;
  outputs_poison(o, c);
  conv_tensor *x = tensor_with(ctx, c->x, c->nx, wh);
  conv_tensor *w = tensor_with(ctx, c->w, c->nw, wh);
  conv_tensor *b = bias ? tensor_with(ctx, c->b, c->nb, wh) : NULL;
  conv_tensor *dy = tensor_with(ctx, c->dy, c->ny, wh);
  conv_tensor *y = tensor_with(ctx, NULL, c->ny, wh);
  conv_tensor *dx = tensor_with(ctx, NULL, c->nx, wh);
  conv_tensor *dw = tensor_with(ctx, NULL, c->nw, wh);
  conv_tensor *db = bias ? tensor_with(ctx, NULL, c->nb, wh) : NULL;
  conv_tensor *db2 = bias ? tensor_with(ctx, NULL, c->nb, wh) : NULL;
  conv_status st;
  st = conv_forward_tensor(plan, x, w, b, y);
  CHECK_ST(st, ctx, wh, "conv_forward_tensor");
  st = conv_backward_data_tensor(plan, dy, w, dx);
  CHECK_ST(st, ctx, wh, "conv_backward_data_tensor");
  st = conv_backward_weight_tensor(plan, x, dy, dw, db);
  CHECK_ST(st, ctx, wh, "conv_backward_weight_tensor");
  if (bias) {
    st = conv_backward_bias_tensor(plan, dy, db2);
    CHECK_ST(st, ctx, wh, "conv_backward_bias_tensor");
  }
  download(ctx, y, o->y, c->ny, wh);
  download(ctx, dx, o->dx, c->nx, wh);
  download(ctx, dw, o->dw, c->nw, wh);
  if (bias) {
    download(ctx, db, o->db, c->nb, wh);
    download(ctx, db2, o->db2, c->nb, wh);
  }
  conv_tensor *all[] = {x, w, b, dy, y, dx, dw, db, db2};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    conv_tensor_destroy(all[i]);
}

/* Adds the identifiers of a ", "-separated list starting at k to names. */
static int parse_list(const char *k, char names[][64], int n) {
  while (*k && n < MAX_ALGOS) {
    size_t len = 0;
    while (isalnum((unsigned char)k[len]) || k[len] == '_') len++;
    if (len == 0 || len >= 64) break;
    char name[64];
    memcpy(name, k, len);
    name[len] = '\0';
    int dup = 0;
    for (int i = 0; i < n; i++) dup |= strcmp(names[i], name) == 0;
    if (!dup) snprintf(names[n++], 64, "%s", name);
    k += len;
    if (strncmp(k, ", ", 2) != 0) break;
    k += 2;
  }
  return n;
}

/* The algorithm names the backend accepts in CONV_ALGO: those its sources
 * register (backends/cpu/cpu_registry.c, backends/opencl/opencl_plan.c),
 * plus any the backend lists when it rejects an unknown name ("known: a, b"
 * or "(a, b, c)"), so algorithms added later are tested without editing
 * this file. */
static int algo_names(conv_context *ctx, const char *backend,
                      char names[][64]) {
  int n = 0;
  static const char *const cpu[] = {"im2col_gemm", "direct", "reference", NULL};
  static const char *const ocl[] = {"gemm_1x1", "im2col_gemm", "direct", NULL};
  const char *const *known = strcmp(backend, "cpu") == 0      ? cpu
                             : strcmp(backend, "opencl") == 0 ? ocl
                                                              : NULL;
  for (; known != NULL && *known != NULL; known++)
    snprintf(names[n++], 64, "%s", *known);
  conv_desc d;
  conv_desc_init(&d);
  d.n = d.c_in = d.c_out = 1;
  d.h = d.w = 4;
  d.kernel[0] = d.kernel[1] = 3;
  setenv("CONV_ALGO", "libconv_test_no_such_algorithm", 1);
  conv_plan *plan = NULL;
  conv_status st = conv_plan_create(ctx, &d, &plan);
  unsetenv("CONV_ALGO");
  if (st == CONV_SUCCESS) {
    conv_plan_destroy(plan);
    return n; /* the backend ignores CONV_ALGO */
  }
  const char *msg = conv_last_error(ctx);
  const char *k = strstr(msg, "known: ");
  if (k != NULL) n = parse_list(k + strlen("known: "), names, n);
  for (const char *p = strchr(msg, '('); p != NULL; p = strchr(p + 1, '('))
    if (strstr(p, ", ") != NULL && strchr(p, ')') > strstr(p, ", "))
      n = parse_list(p + 1, names, n);
  return n;
}

/* Case index, for every algorithm (default, then each forced one). */
static int stat_runs, stat_unsupported;
/* Plans run per algorithm and op (by what conv_plan_algorithm reports). */
static int stat_algo_op[MAX_ALGOS][4];

static const char *const op_keys[3] = {"fwd", "bwd_data", "bwd_weight"};

/* The CONV_ALGO settings tried for a case: NULL (the heuristic), then each
 * algorithm by name (every op that has it), then each algorithm for one op
 * ("fwd=NAME"), so an algorithm that serves only some ops of a problem is
 * still run on those. Returns the count; target[k] is the op a per-op
 * setting forces (-1 for the others). */
static int algo_settings(char algos[][64], int n_algos, char set[][96],
                         int *target, int max) {
  int n = 0;
  set[n][0] = '\0';
  target[n++] = -1;
  for (int a = 0; a < n_algos && n < max; a++) {
    snprintf(set[n], 96, "%s", algos[a]);
    target[n++] = -1;
  }
  for (int a = 0; a < n_algos; a++)
    for (int op = 0; op < 3 && n < max; op++) {
      snprintf(set[n], 96, "%s=%s", op_keys[op], algos[a]);
      target[n++] = op;
    }
  return n;
}

static int algo_index(char algos[][64], int n_algos, const char *name) {
  for (int a = 0; a < n_algos; a++)
    if (strcasecmp(algos[a], name) == 0) return a;
  return -1;
}

#define MAX_SETTINGS (1 + 4 * MAX_ALGOS)

static void run_case(conv_context *ctx, const char *backend, int index,
                     char algos[][64], int n_algos) {
  case_data c;
  case_make(&c, index);
  where wh = {backend, NULL, index, &c.d};
  char wb[1024];

  /* The library's geometry must be the reference's. */
  int64_t h_out = 0, w_out = 0, pads[4];
  conv_status st = conv_output_size(&c.d, &h_out, &w_out, pads);
  CHECK_ST(st, NULL, &wh, "conv_output_size");
  ck_assert_msg(h_out == c.g.h_out && w_out == c.g.w_out && pads[0] == c.g.pads[0] &&
                    pads[1] == c.g.pads[1] && pads[2] == c.g.pads[2] &&
                    pads[3] == c.g.pads[3],
                "geometry %lldx%lld pads (%lld,%lld,%lld,%lld), reference "
                "%lldx%lld pads (%lld,%lld,%lld,%lld) [%s]",
                (long long)h_out, (long long)w_out, (long long)pads[0],
                (long long)pads[1], (long long)pads[2], (long long)pads[3],
                (long long)c.g.h_out, (long long)c.g.w_out,
                (long long)c.g.pads[0], (long long)c.g.pads[1],
                (long long)c.g.pads[2], (long long)c.g.pads[3],
                where_str(&wh, wb, sizeof wb));

  outputs host, again, tens;
  outputs_alloc(&host, &c);
  outputs_alloc(&again, &c);
  outputs_alloc(&tens, &c);
  static char set[MAX_SETTINGS][96];
  int target[MAX_SETTINGS];
  int n_set = algo_settings(algos, n_algos, set, target, MAX_SETTINGS);
  /* Which (algorithm, op) pairs this case has run, so a per-op setting
   * that adds nothing new is skipped. */
  int done[MAX_ALGOS][4];
  memset(done, 0, sizeof done);
  int forced_ran = 0;
  for (int k = 0; k < n_set; k++) {
    const int forced = set[k][0] != '\0';
    if (target[k] >= 0) {
      int a = algo_index(algos, n_algos, strchr(set[k], '=') + 1);
      if (a >= 0 && done[a][target[k]]) continue;
    }
    wh.algo = forced ? set[k] : NULL;
    if (forced)
      setenv("CONV_ALGO", set[k], 1);
    else
      unsetenv("CONV_ALGO");
    conv_plan *plan = NULL;
    st = conv_plan_create(ctx, &c.d, &plan);
    unsetenv("CONV_ALGO");
    if (forced && st == CONV_ERROR_UNSUPPORTED) {
      stat_unsupported++;
      continue;
    }
    /* "fwd=reduce" and the like name an algorithm an op does not have:
     * the backend refuses the setting itself. */
    if (target[k] >= 0 && st == CONV_ERROR_INVALID_ARGUMENT) continue;
    CHECK_ST(st, ctx, &wh, "conv_plan_create");
    stat_runs++;
    if (forced) {
      forced_ran++;
      /* The forced algorithm is the one the plan reports: for the op a
       * per-op setting names, or for some op (an empty batch makes no
       * kernels and reports none). */
      int named = c.d.n == 0;
      for (int op = 0; op <= CONV_OP_BACKWARD_BIAS; op++)
        if (target[k] < 0 || target[k] == op)
          named |= strcasecmp(conv_plan_algorithm(plan, (conv_op)op),
                              target[k] < 0 ? set[k]
                                            : strchr(set[k], '=') + 1) == 0;
      ck_assert_msg(named, "forced algorithm not reported by the plan "
                    "(fwd=%s bwd_data=%s bwd_weight=%s) [%s]",
                    conv_plan_algorithm(plan, CONV_OP_FORWARD),
                    conv_plan_algorithm(plan, CONV_OP_BACKWARD_DATA),
                    conv_plan_algorithm(plan, CONV_OP_BACKWARD_WEIGHT),
                    where_str(&wh, wb, sizeof wb));
    }
    if (c.d.n > 0)
      for (int op = 0; op <= CONV_OP_BACKWARD_BIAS; op++) {
        int a = algo_index(algos, n_algos,
                           conv_plan_algorithm(plan, (conv_op)op));
        if (a >= 0) {
          if (!done[a][op]) stat_algo_op[a][op]++;
          done[a][op] = 1;
        }
      }
    run_host(ctx, plan, &c, &host, &wh);
    compare_ref(&c, &host, &wh);
    /* Determinism: the same call again gives the same bits. */
    run_host(ctx, plan, &c, &again, &wh);
    compare_bits(&c, &host, &again, &wh, "second run");
    /* Device tensors give the host API's bits. */
    run_tensors(ctx, plan, &c, &tens, &wh);
    compare_bits(&c, &host, &tens, &wh, "tensor API vs host API");
    /* db is optional in backward_weight: dw is unchanged without it. */
    if (c.d.has_bias) {
      tu_poison(again.dw, c.nw);
      st = conv_backward_weight(plan, c.x, c.dy, again.dw, NULL);
      CHECK_ST(st, ctx, &wh, "conv_backward_weight (db NULL)");
      check_same_bits(host.dw, again.dw, c.nw, &wh, "dw without db");
    }
    /* The thread count changes no bit (checked on every 4th case; the
     * plan takes $CONV_NUM_THREADS when it is made). */
    if (index % 4 == 0) {
      static const char *const threads[] = {"1", "3"};
      for (int t = 0; t < 2; t++) {
        setenv("CONV_NUM_THREADS", threads[t], 1);
        if (forced) setenv("CONV_ALGO", set[k], 1);
        conv_plan *plan_t = NULL;
        st = conv_plan_create(ctx, &c.d, &plan_t);
        unsetenv("CONV_NUM_THREADS");
        unsetenv("CONV_ALGO");
        CHECK_ST(st, ctx, &wh, "conv_plan_create (CONV_NUM_THREADS)");
        run_host(ctx, plan_t, &c, &again, &wh);
        char what[64];
        snprintf(what, sizeof what, "CONV_NUM_THREADS=%s vs default",
                 threads[t]);
        compare_bits(&c, &host, &again, &wh, what);
        conv_plan_destroy(plan_t);
      }
    }
    conv_plan_destroy(plan);
  }
  wh.algo = NULL;
  ck_assert_msg(n_algos == 0 || forced_ran > 0,
                "no forced algorithm could serve the case [%s]",
                where_str(&wh, wb, sizeof wb));
  outputs_free(&host);
  outputs_free(&again);
  outputs_free(&tens);
  case_free(&c);
}

/* Loop index = backend * n_chunks + chunk. */
START_TEST(test_random_cases) {
  const char *backend = backends[_i / n_chunks];
  int chunk = _i % n_chunks;
  conv_context *ctx = NULL;
  conv_status st = conv_context_create(&ctx, backend, NULL);
  ck_assert_msg(st == CONV_SUCCESS, "context %s: %s", backend,
                conv_last_error(NULL));
  char algos[MAX_ALGOS][64];
  int n_algos = algo_names(ctx, backend, algos);
  int first = chunk * CHUNK, last = first + CHUNK;
  if (last > n_cases) last = n_cases;
  for (int i = first; i < last; i++) run_case(ctx, backend, i, algos, n_algos);
  char list[MAX_ALGOS * 96] = "";
  for (int a = 0; a < n_algos; a++)
    snprintf(list + strlen(list), sizeof list - strlen(list),
             "%s%s(%d/%d/%d/%d)", a ? " " : "", algos[a], stat_algo_op[a][0],
             stat_algo_op[a][1], stat_algo_op[a][2], stat_algo_op[a][3]);
  printf("backend %s cases %d..%d: %d plans run, %d forced settings "
         "unsupported; cases per algorithm (fwd/bwd_data/bwd_weight/bwd_bias): "
         "%s\n",
         backend, first, last - 1, stat_runs, stat_unsupported, list);
  fflush(stdout);
  conv_context_destroy(ctx);
}
END_TEST

/* Every algorithm a backend registers is run by some case on some op: the
 * generator must reach them all (plans only, no arithmetic). */
START_TEST(test_algorithm_coverage) {
  const char *backend = backends[_i];
  conv_context *ctx = NULL;
  conv_status st = conv_context_create(&ctx, backend, NULL);
  ck_assert_msg(st == CONV_SUCCESS, "context %s: %s", backend,
                conv_last_error(NULL));
  char algos[MAX_ALGOS][64];
  int n_algos = algo_names(ctx, backend, algos);
  int served[MAX_ALGOS] = {0};
  for (int i = 0; i < n_cases; i++) {
    conv_desc d;
    ref_geom g;
    random_desc(base_seed * 1000003u + (uint64_t)i, &d, &g);
    if (d.n == 0) continue;
    for (int a = 0; a < n_algos; a++) {
      if (served[a]) continue;
      setenv("CONV_ALGO", algos[a], 1);
      conv_plan *plan = NULL;
      st = conv_plan_create(ctx, &d, &plan);
      unsetenv("CONV_ALGO");
      if (st == CONV_SUCCESS) served[a] = 1;
      for (int op = 0; op < 3 && !served[a]; op++) {
        char set[96];
        snprintf(set, sizeof set, "%s=%s", op_keys[op], algos[a]);
        setenv("CONV_ALGO", set, 1);
        st = conv_plan_create(ctx, &d, &plan);
        unsetenv("CONV_ALGO");
        if (st == CONV_SUCCESS) served[a] = 1;
      }
      if (served[a]) conv_plan_destroy(plan);
    }
  }
  char missing[MAX_ALGOS * 66] = "";
  for (int a = 0; a < n_algos; a++)
    if (!served[a])
      snprintf(missing + strlen(missing), sizeof missing - strlen(missing),
               " %s", algos[a]);
  conv_context_destroy(ctx);
  ck_assert_msg(missing[0] == '\0',
                "backend %s: no case among %d reaches:%s", backend, n_cases,
                missing);
}
END_TEST

/* Every backend against the first ("cpu" when present), default
 * algorithms, host API: relative to the first's largest magnitude. */
START_TEST(test_cross_backend) {
  int first = 0;
  for (int i = 0; i < n_backends; i++)
    if (strcmp(backends[i], "cpu") == 0) first = i;
  conv_context *ctx[MAX_BACKENDS] = {NULL};
  for (int b = 0; b < n_backends; b++) {
    conv_status st = conv_context_create(&ctx[b], backends[b], NULL);
    ck_assert_msg(st == CONV_SUCCESS, "context %s: %s", backends[b],
                  conv_last_error(NULL));
  }
  int cases = n_cases < 60 ? n_cases : 60;
  for (int i = 0; i < cases; i++) {
    case_data c;
    case_make(&c, 100000 + i);
    outputs o[MAX_BACKENDS];
    for (int b = 0; b < n_backends; b++) {
      where wh = {backends[b], NULL, 100000 + i, &c.d};
      outputs_alloc(&o[b], &c);
      conv_plan *plan = NULL;
      conv_status st = conv_plan_create(ctx[b], &c.d, &plan);
      CHECK_ST(st, ctx[b], &wh, "conv_plan_create");
      run_host(ctx[b], plan, &c, &o[b], &wh);
      conv_plan_destroy(plan);
    }
    for (int b = 0; b < n_backends; b++) {
      if (b == first) continue;
      where wh = {backends[b], NULL, 100000 + i, &c.d};
      char what[160];
      snprintf(what, sizeof what, "%s vs %s: y", backends[b], backends[first]);
      double e = tu_rel_error_f(o[b].y, o[first].y, c.ny, NULL);
      char wb[1024];
      ck_assert_msg(e <= TU_TOLERANCE, "%s %g [%s]", what, e,
                    where_str(&wh, wb, sizeof wb));
      e = tu_rel_error_f(o[b].dx, o[first].dx, c.nx, NULL);
      ck_assert_msg(e <= TU_TOLERANCE, "%s vs %s: dx %g [%s]", backends[b],
                    backends[first], e, where_str(&wh, wb, sizeof wb));
      e = tu_rel_error_f(o[b].dw, o[first].dw, c.nw, NULL);
      ck_assert_msg(e <= TU_TOLERANCE, "%s vs %s: dw %g [%s]", backends[b],
                    backends[first], e, where_str(&wh, wb, sizeof wb));
      if (c.d.has_bias) {
        e = tu_rel_error_f(o[b].db2, o[first].db2, c.nb, NULL);
        ck_assert_msg(e <= TU_TOLERANCE, "%s vs %s: db %g [%s]", backends[b],
                      backends[first], e, where_str(&wh, wb, sizeof wb));
      }
    }
    for (int b = 0; b < n_backends; b++) outputs_free(&o[b]);
    case_free(&c);
  }
  for (int b = 0; b < n_backends; b++) conv_context_destroy(ctx[b]);
}
END_TEST

/* The generator covers every option within the cases run: each feature
 * below appears in at least one of the n_cases descriptors. */
START_TEST(test_generator_coverage) {
  enum {
    F_N0, F_N3, F_DENSE, F_GROUPED, F_DEPTHWISE, F_STRIDE, F_DILATION,
    F_EXPLICIT_ASYM, F_SAME, F_SAME_EVEN, F_VALID, F_FULL, F_ZEROS, F_REFLECT,
    F_REPLICATE, F_CIRCULAR, F_SYMMETRIC, F_FLIP, F_FLIP_SAME_EVEN, F_BIAS,
    F_NO_BIAS, F_EVEN_KERNEL, F_PRIME_SIZE, F_OUT_1, F_K_GT_INPUT, F_LARGE,
    F_WINOGRAD_SHAPE, F_1X1, F_COUNT
  };
  static const char *const names[F_COUNT] = {
      "n=0", "n=3", "dense", "grouped", "depthwise", "stride>1", "dilation>1",
      "asymmetric explicit pads", "same", "same with an even kernel", "valid",
      "full", "zeros", "reflect", "replicate", "circular", "symmetric", "flip",
      "flip with same and an even kernel", "bias", "no bias", "even kernel",
      "prime size >= 11", "output extent 1", "kernel extent > input",
      "a large problem (>= 8 channels per group, >= 12x12)",
      "3x3 stride 1 groups 1", "1x1 stride 1"};
  int seen[F_COUNT] = {0};
  for (int i = 0; i < n_cases; i++) {
    conv_desc d;
    ref_geom g;
    random_desc(base_seed * 1000003u + (uint64_t)i, &d, &g);
    seen[F_N0] |= d.n == 0;
    seen[F_N3] |= d.n == 3;
    seen[F_DENSE] |= d.groups == 1;
    seen[F_GROUPED] |= d.groups > 1 && d.c_in != d.groups;
    seen[F_DEPTHWISE] |= d.groups > 1 && d.c_in == d.groups;
    seen[F_STRIDE] |= d.stride[0] > 1 || d.stride[1] > 1;
    seen[F_DILATION] |= d.dilation[0] > 1 || d.dilation[1] > 1;
    seen[F_EXPLICIT_ASYM] |= d.padding == CONV_PADDING_EXPLICIT &&
                             (d.pad[0] != d.pad[1] || d.pad[2] != d.pad[3]);
    int even = d.kernel[0] % 2 == 0 || d.kernel[1] % 2 == 0;
    seen[F_SAME] |= d.padding == CONV_PADDING_SAME;
    seen[F_SAME_EVEN] |= d.padding == CONV_PADDING_SAME && even;
    seen[F_VALID] |= d.padding == CONV_PADDING_VALID;
    seen[F_FULL] |= d.padding == CONV_PADDING_FULL;
    seen[F_ZEROS + (int)d.padding_mode] = 1;
    seen[F_FLIP] |= d.flip_kernel;
    seen[F_FLIP_SAME_EVEN] |=
        d.flip_kernel && d.padding == CONV_PADDING_SAME && even;
    seen[F_BIAS] |= d.has_bias;
    seen[F_NO_BIAS] |= !d.has_bias;
    seen[F_EVEN_KERNEL] |= even;
    seen[F_PRIME_SIZE] |= d.h == 11 || d.h == 13 || d.h == 17 || d.w == 11 ||
                          d.w == 13 || d.w == 17;
    seen[F_OUT_1] |= g.h_out == 1 || g.w_out == 1;
    seen[F_LARGE] |= d.c_in / d.groups >= 8 && d.c_out / d.groups >= 8 &&
                     d.h >= 12 && d.w >= 12;
    seen[F_WINOGRAD_SHAPE] |= d.kernel[0] == 3 && d.kernel[1] == 3 &&
                              d.stride[0] == 1 && d.stride[1] == 1 &&
                              d.groups == 1;
    seen[F_1X1] |= d.kernel[0] == 1 && d.kernel[1] == 1 && d.stride[0] == 1 &&
                   d.stride[1] == 1;
    seen[F_K_GT_INPUT] |= d.dilation[0] * (d.kernel[0] - 1) + 1 > d.h ||
                          d.dilation[1] * (d.kernel[1] - 1) + 1 > d.w;
  }
  for (int f = 0; f < F_COUNT; f++)
    ck_assert_msg(seen[f], "no case with %s among the %d cases (seed %llu)",
                  names[f], n_cases, (unsigned long long)base_seed);
}
END_TEST

/* The reference itself on a case small enough to check by hand:
 * arange(9) as 3x3, kernel [[0,1],[2,3]] -> [[19,25],[37,43]]. */
START_TEST(test_reference_sanity) {
  conv_desc d;
  conv_desc_init(&d);
  d.n = d.c_in = d.c_out = 1;
  d.h = d.w = 3;
  d.kernel[0] = d.kernel[1] = 2;
  ref_geom g;
  ck_assert(ref_resolve(&d, &g));
  float x[9], w[4] = {0, 1, 2, 3};
  for (int i = 0; i < 9; i++) x[i] = (float)i;
  double y[4];
  ref_forward(&g, x, w, NULL, y);
  ck_assert(y[0] == 19 && y[1] == 25 && y[2] == 37 && y[3] == 43);
  /* Padding 1, stride 2 -> [[0,8],[21,43]]. */
  d.pad[0] = d.pad[1] = d.pad[2] = d.pad[3] = 1;
  d.stride[0] = d.stride[1] = 2;
  ck_assert(ref_resolve(&d, &g));
  ref_forward(&g, x, w, NULL, y);
  ck_assert(y[0] == 0 && y[1] == 8 && y[2] == 21 && y[3] == 43);
  /* Backward data of all-ones dy with the unpadded kernel: each x element
   * receives the sum of the taps that read it. */
  conv_desc_init(&d);
  d.n = d.c_in = d.c_out = 1;
  d.h = d.w = 3;
  d.kernel[0] = d.kernel[1] = 2;
  ck_assert(ref_resolve(&d, &g));
  float dy[4] = {1, 1, 1, 1};
  double dx[9];
  ref_backward_data(&g, dy, w, dx);
  const double want[9] = {0, 1, 1, 2, 6, 4, 2, 5, 3};
  for (int i = 0; i < 9; i++) ck_assert(dx[i] == want[i]);
}
END_TEST

int main(void) {
  const char *env = getenv("CONV_TEST_RANDOM_CASES");
  if (env != NULL && atoi(env) > 0) n_cases = atoi(env);
  env = getenv("CONV_TEST_RANDOM_SEED");
  if (env != NULL && *env) base_seed = strtoull(env, NULL, 10);
  n_chunks = (n_cases + CHUNK - 1) / CHUNK;
  n_backends = tu_usable_backends(backends, MAX_BACKENDS);
  /* CONV_TEST_BACKENDS=a,b keeps only those (the opencl variant runs). */
  env = getenv("CONV_TEST_RANDOM_WIDE");
  wide_rows = env != NULL && strcmp(env, "1") == 0;
  env = getenv("CONV_TEST_BACKENDS");
  if (env != NULL && *env) {
    int kept = 0;
    for (int i = 0; i < n_backends; i++) {
      const size_t len = strlen(backends[i]);
      for (const char *p = env; p != NULL; p = strchr(p, ','), p = p ? p + 1 : p)
        if (strncmp(p, backends[i], len) == 0 && (p[len] == ',' || p[len] == '\0')) {
          memmove(backends[kept++], backends[i], sizeof backends[i]);
          break;
        }
    }
    n_backends = kept;
  }

  Suite *s = suite_create("random");
  TCase *tr = tcase_create("reference");
  tcase_add_test(tr, test_reference_sanity);
  /* Fewer cases (a quick run) may legitimately miss a feature. */
  if (n_cases >= 200) tcase_add_test(tr, test_generator_coverage);
  suite_add_tcase(s, tr);
  if (n_backends == 0) {
    fprintf(stderr, "test_random: no usable backend\n");
    /* cpu is always built: no backend at all is a failure, not a skip. */
  }
  TCase *tc = tcase_create("backends");
  tcase_set_timeout(tc, 900);
  tcase_add_loop_test(tc, test_random_cases, 0, n_backends * n_chunks);
  if (n_cases >= 200)
    tcase_add_loop_test(tc, test_algorithm_coverage, 0, n_backends);
  suite_add_tcase(s, tc);
  if (n_backends > 1) {
    TCase *tx = tcase_create("cross_backend");
    tcase_set_timeout(tx, 900);
    tcase_add_test(tx, test_cross_backend);
    suite_add_tcase(s, tx);
  }
  for (int i = 0; i < n_backends; i++)
    printf("test_random: backend %s, %d cases\n", backends[i], n_cases);

  const int failed = tu_run_suite(s);
  if (n_backends == 0) return EXIT_FAILURE;
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
