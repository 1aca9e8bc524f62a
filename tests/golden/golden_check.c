/* SPDX-License-Identifier: Apache-2.0 */
/*
 * golden_check: a developer check of tools/golden.c against the golden set
 * (not built by make; the Check tests in tests/ are the real tests).
 *
 *   cc -std=c11 -Wall -Wextra -I include -I plugins -I tools \
 *      tests/golden/golden_check.c tools/golden.c -lm -o golden_check
 *   ./golden_check tests/golden          # or under valgrind
 *
 * For every case under cases/: golden_load() must succeed, a plain double
 * loop nest (padding through conv_pad_source()) must reproduce y, dx, dw,
 * db from the loaded inputs, and npy_save() must rewrite x.npy byte for
 * byte. For every example under malformed/: golden_load() must fail with a
 * message containing the text of its expected_error file. Then a few
 * direct checks of golden_list() and golden_rel_error(). Exit 0 if all
 * pass.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_plugin.h"
#include "golden.h"

static int failures;

#define CHECK(cond, ...)                  \
  do {                                    \
    if (!(cond)) {                        \
      failures++;                         \
      fprintf(stderr, "FAIL: " __VA_ARGS__); \
      fputc('\n', stderr);                \
    }                                     \
  } while (0)

/* Naive double reference of y, dx, dw, db from the loaded case. */
static void reference(const golden_case *c, double *y, double *dx,
                      double *dw, double *db) {
  const conv_desc *d = &c->desc;
  int64_t cg = d->c_in / d->groups, og = d->c_out / d->groups;
  int64_t kh = d->kernel[0], kw = d->kernel[1];
  memset(dx, 0, c->x.count * sizeof *dx);
  memset(dw, 0, c->w.count * sizeof *dw);
  for (int64_t o = 0; o < d->c_out; o++) {
    double s = 0.0;
    for (int64_t n = 0; n < d->n; n++)
      for (int64_t i = 0; i < c->h_out * c->w_out; i++)
        s += c->dy.data[(n * d->c_out + o) * c->h_out * c->w_out + i];
    db[o] = s;
  }
  for (int64_t n = 0; n < d->n; n++)
    for (int64_t o = 0; o < d->c_out; o++)
      for (int64_t oi = 0; oi < c->h_out; oi++)
        for (int64_t oj = 0; oj < c->w_out; oj++) {
          size_t yi = (size_t)(((n * d->c_out + o) * c->h_out + oi) *
                                   c->w_out + oj);
          double acc = d->has_bias ? c->b.data[o] : 0.0;
          double g = c->dy.data[yi];
          for (int64_t ci = 0; ci < cg; ci++) {
            int64_t cx = (o / og) * cg + ci;
            for (int64_t a = 0; a < kh; a++) {
              int64_t si = conv_pad_source(
                  oi * d->stride[0] - c->pads[0] + a * d->dilation[0], d->h,
                  d->padding_mode);
              if (si < 0) continue;
              for (int64_t b = 0; b < kw; b++) {
                int64_t sj = conv_pad_source(
                    oj * d->stride[1] - c->pads[2] + b * d->dilation[1],
                    d->w, d->padding_mode);
                size_t xi, wi;
                if (sj < 0) continue;
                xi = (size_t)(((n * d->c_in + cx) * d->h + si) * d->w + sj);
                wi = (size_t)(((o * cg + ci) * kh + a) * kw + b);
                acc += (double)c->x.data[xi] * c->w.data[wi];
                dx[xi] += g * c->w.data[wi];
                dw[wi] += g * c->x.data[xi];
              }
            }
          }
          y[yi] = acc;
        }
}

static double rel_d(const double *got, const float *ref, size_t count) {
  double maxdiff = 0.0, maxref = 0.0;
  for (size_t i = 0; i < count; i++) {
    double diff = fabs(got[i] - ref[i]);
    if (diff > maxdiff) maxdiff = diff;
    if (fabs(ref[i]) > maxref) maxref = fabs(ref[i]);
  }
  return count ? maxdiff / (maxref > 1e-6 ? maxref : 1e-6) : 0.0;
}

static int read_file(const char *path, unsigned char **buf, size_t *len) {
  FILE *f = fopen(path, "rb");
  long n;
  if (f == NULL) return -1;
  if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
      fseek(f, 0, SEEK_SET) != 0) {
    fclose(f);
    return -1;
  }
  *buf = malloc((size_t)n + 1);
  if (*buf == NULL || fread(*buf, 1, (size_t)n, f) != (size_t)n) {
    free(*buf);
    fclose(f);
    return -1;
  }
  fclose(f);
  *len = (size_t)n;
  return 0;
}

static void check_case(const char *root, const char *name) {
  char dir[8200], err[1024], path[8300];
  golden_case c;
  double *y, *dx, *dw, db[4096];
  unsigned char *orig = NULL, *again = NULL;
  size_t olen = 0, alen = 0;

  snprintf(dir, sizeof dir, "%s/%s", root, name);
  if (golden_load(dir, &c, err, sizeof err) != 0) {
    CHECK(0, "%s: %s", name, err);
    return;
  }
  CHECK(strcmp(c.name, name) == 0, "%s: name '%s'", name, c.name);
  CHECK(c.description[0] != '\0', "%s: no description", name);
  CHECK(c.desc.c_out <= 4096, "%s: c_out too large for the check", name);
  y = calloc(c.y.count + 1, sizeof *y);
  dx = calloc(c.x.count + 1, sizeof *dx);
  dw = calloc(c.w.count + 1, sizeof *dw);
  if (y && dx && dw && c.desc.c_out <= 4096) {
    double e;
    reference(&c, y, dx, dw, db);
    e = rel_d(y, c.y.data, c.y.count);
    CHECK(e < 1e-5, "%s: y off by %g", name, e);
    e = rel_d(dx, c.dx.data, c.dx.count);
    CHECK(e < 1e-5, "%s: dx off by %g", name, e);
    e = rel_d(dw, c.dw.data, c.dw.count);
    CHECK(e < 1e-5, "%s: dw off by %g", name, e);
    if (c.desc.has_bias) {
      e = rel_d(db, c.db.data, c.db.count);
      CHECK(e < 1e-5, "%s: db off by %g", name, e);
    }
    CHECK(golden_rel_error(c.y.data, c.y.data, c.y.count) == 0.0,
          "%s: rel_error(y, y) != 0", name);
  }
  /* npy_save reproduces numpy's bytes. */
  snprintf(path, sizeof path, "%s/x.npy", dir);
  if (npy_save("golden_check.tmp.npy", &c.x, err, sizeof err) != 0) {
    CHECK(0, "%s: npy_save: %s", name, err);
  } else if (read_file(path, &orig, &olen) != 0 ||
             read_file("golden_check.tmp.npy", &again, &alen) != 0) {
    CHECK(0, "%s: cannot reread x.npy", name);
  } else {
    CHECK(olen == alen && memcmp(orig, again, olen) == 0,
          "%s: npy_save bytes differ from numpy's", name);
  }
  remove("golden_check.tmp.npy");
  free(orig);
  free(again);
  free(y);
  free(dx);
  free(dw);
  golden_free(&c);
  golden_free(&c); /* twice is harmless */
}

static void check_malformed(const char *root, const char *name) {
  char dir[8200], err[1024], path[8300], want[256] = "";
  golden_case c;
  FILE *f;
  snprintf(dir, sizeof dir, "%s/%s", root, name);
  snprintf(path, sizeof path, "%s/expected_error", dir);
  f = fopen(path, "r");
  if (f != NULL) {
    if (fgets(want, sizeof want, f) == NULL) want[0] = '\0';
    fclose(f);
  }
  want[strcspn(want, "\n")] = '\0';
  err[0] = '\0';
  if (golden_load(dir, &c, err, sizeof err) == 0) {
    CHECK(0, "malformed %s: loaded without error", name);
    golden_free(&c);
    return;
  }
  CHECK(want[0] != '\0' && strstr(err, want) != NULL,
        "malformed %s: message '%s' lacks '%s'", name, err, want);
  CHECK(c.x.data == NULL && c.y.data == NULL,
        "malformed %s: arrays left after failure", name);
  printf("  %-22s %s\n", name, err);
}

int main(int argc, char **argv) {
  const char *top = argc > 1 ? argv[1] : "tests/golden";
  char cases[4096], malformed[4096], err[1024];
  char **names = NULL;
  size_t count = 0;
  golden_case c;
  golden_array a;
  float got[3] = {1.0f, 2.0f, 3.0f}, ref[3] = {1.0f, 2.0f, 4.0f};

  snprintf(cases, sizeof cases, "%s/cases", top);
  snprintf(malformed, sizeof malformed, "%s/malformed", top);

  if (golden_list(cases, NULL, &names, &count, err, sizeof err) != 0) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  CHECK(count >= 40, "only %zu cases", count);
  for (size_t i = 0; i < count; i++) check_case(cases, names[i]);
  printf("%zu cases loaded and recomputed\n", count);
  for (size_t i = 1; i < count; i++)
    CHECK(strcmp(names[i - 1], names[i]) < 0, "list not sorted");
  golden_list_free(names, count);

  CHECK(golden_list(cases, "seed_*", &names, &count, err, sizeof err) == 0 &&
            count == 6,
        "glob seed_* gave %zu", count);
  golden_list_free(names, count);
  CHECK(golden_list(cases, "no_such_*", &names, &count, err, sizeof err) ==
                0 &&
            count == 0 && names == NULL,
        "empty glob");
  CHECK(golden_list("/nonexistent/golden", NULL, &names, &count, err,
                    sizeof err) == -1 &&
            strstr(err, "/nonexistent/golden") != NULL,
        "missing root: '%s'", err);

  if (golden_list(malformed, NULL, &names, &count, err, sizeof err) != 0) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  printf("%zu malformed examples:\n", count + 1);
  for (size_t i = 0; i < count; i++) check_malformed(malformed, names[i]);
  golden_list_free(names, count);
  /* Not listed (no params file): load it by name. */
  check_malformed(malformed, "missing_params");

  CHECK(golden_load("/nonexistent/case", &c, err, sizeof err) == -1 &&
            strstr(err, "params") != NULL,
        "missing dir: '%s'", err);
  CHECK(golden_load("/nonexistent/case", &c, NULL, 0) == -1, "NULL err");
  CHECK(npy_load("/nonexistent.npy", &a, err, sizeof err) == -1 &&
            a.data == NULL,
        "npy_load missing");
  CHECK(fabs(golden_rel_error(got, ref, 3) - 0.25) < 1e-12, "rel 0.25");
  got[1] = NAN;
  CHECK(isinf(golden_rel_error(got, ref, 3)), "NaN -> inf");
  CHECK(golden_rel_error(got, ref, 0) == 0.0, "count 0");

  if (failures) {
    fprintf(stderr, "golden_check: %d failures\n", failures);
    return 1;
  }
  printf("golden_check: all passed\n");
  return 0;
}
