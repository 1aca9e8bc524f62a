/* SPDX-License-Identifier: Apache-2.0 */
/* See testutil.h. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

void tu_rng_seed(tu_rng *r, uint64_t seed) { r->state = seed; }

uint64_t tu_rng_next(tu_rng *r) {
  uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int64_t tu_rng_range(tu_rng *r, int64_t lo, int64_t hi) {
  return lo + (int64_t)(tu_rng_next(r) % (uint64_t)(hi - lo + 1));
}

float tu_rng_float(tu_rng *r) {
  return (float)((double)(tu_rng_next(r) >> 11) / 4503599627370496.0 - 1.0);
}

void tu_fill_random(tu_rng *r, float *p, size_t count) {
  for (size_t i = 0; i < count; i++) p[i] = tu_rng_float(r);
}

static const uint32_t poison_bits = 0x7fc0dead;

void tu_poison(float *p, size_t count) {
  for (size_t i = 0; i < count; i++) memcpy(&p[i], &poison_bits, sizeof(float));
}

int tu_is_poison(const float *p, size_t count) {
  for (size_t i = 0; i < count; i++)
    if (memcmp(&p[i], &poison_bits, sizeof(float)) != 0) return 0;
  return 1;
}

void *tu_alloc(size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
  if (p == NULL) {
    fprintf(stderr, "out of memory allocating %zu bytes\n", bytes);
    abort();
  }
  return p;
}

double tu_rel_error(const float *got, const double *ref, size_t count,
                    size_t *worst) {
  double max_ref = 0.0, max_diff = 0.0;
  size_t at = 0;
  for (size_t i = 0; i < count; i++) {
    double r = fabs(ref[i]);
    if (r > max_ref) max_ref = r;
    double g = (double)got[i];
    if (!isfinite(g)) {
      if (worst) *worst = i;
      return INFINITY;
    }
    double diff = fabs(g - ref[i]);
    if (diff > max_diff) {
      max_diff = diff;
      at = i;
    }
  }
  if (worst) *worst = at;
  return max_diff / (max_ref > 1e-6 ? max_ref : 1e-6);
}

double tu_rel_error_f(const float *got, const float *ref, size_t count,
                      size_t *worst) {
  double *r = tu_alloc(count * sizeof *r);
  for (size_t i = 0; i < count; i++) r[i] = (double)ref[i];
  double e = tu_rel_error(got, r, count, worst);
  free(r);
  return e;
}

static const char *padding_name(conv_padding p) {
  switch (p) {
    case CONV_PADDING_EXPLICIT: return "explicit";
    case CONV_PADDING_SAME: return "same";
    case CONV_PADDING_VALID: return "valid";
    case CONV_PADDING_FULL: return "full";
  }
  return "?";
}

static const char *mode_name(conv_padding_mode m) {
  switch (m) {
    case CONV_PAD_ZEROS: return "zeros";
    case CONV_PAD_REFLECT: return "reflect";
    case CONV_PAD_REPLICATE: return "replicate";
    case CONV_PAD_CIRCULAR: return "circular";
    case CONV_PAD_SYMMETRIC: return "symmetric";
  }
  return "?";
}

const char *tu_desc_str(const conv_desc *d, char *buf, size_t len) {
  snprintf(buf, len,
           "x=(%lld,%lld,%lld,%lld) c_out=%lld k=(%lld,%lld) s=(%lld,%lld) "
           "d=(%lld,%lld) g=%lld padding=%s pad=(%lld,%lld,%lld,%lld) mode=%s "
           "bias=%d flip=%d",
           (long long)d->n, (long long)d->c_in, (long long)d->h,
           (long long)d->w, (long long)d->c_out, (long long)d->kernel[0],
           (long long)d->kernel[1], (long long)d->stride[0],
           (long long)d->stride[1], (long long)d->dilation[0],
           (long long)d->dilation[1], (long long)d->groups,
           padding_name(d->padding), (long long)d->pad[0],
           (long long)d->pad[1], (long long)d->pad[2], (long long)d->pad[3],
           mode_name(d->padding_mode), d->has_bias, d->flip_kernel);
  return buf;
}

int tu_usable_backends(char names[][64], int max) {
  int fds[2];
  if (pipe(fds) != 0) return 0;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return 0;
  }
  if (pid == 0) {
    close(fds[0]);
    conv_backend_info infos[32];
    size_t count = 0;
    if (conv_backend_list(infos, 32, &count) == CONV_SUCCESS) {
      if (count > 32) count = 32;
      for (size_t i = 0; i < count; i++)
        if (infos[i].usable && infos[i].device_count > 0) {
          char line[80];
          int len = snprintf(line, sizeof line, "%s\n", infos[i].name);
          if (write(fds[1], line, (size_t)len) != len) break;
        } else {
          fprintf(stderr, "backend %s not usable: %s\n", infos[i].name,
                  infos[i].usable ? "no device" : infos[i].reason);
        }
    }
    close(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  FILE *f = fdopen(fds[0], "r");
  int found = 0;
  char line[128];
  while (f && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    if (found < max && line[0]) {
      snprintf(names[found], 64, "%s", line);
      found++;
    }
  }
  if (f) fclose(f);
  int status;
  waitpid(pid, &status, 0);
  return found;
}

char *tu_make_temp_dir(const char *tag) {
  const char *tmp = getenv("TMPDIR");
  if (tmp == NULL || !*tmp) tmp = "/tmp";
  size_t len = strlen(tmp) + strlen(tag) + 32;
  char *path = tu_alloc(len);
  snprintf(path, len, "%s/libconv-%s-XXXXXX", tmp, tag);
  if (mkdtemp(path) == NULL) {
    perror("mkdtemp");
    abort();
  }
  return path;
}

void tu_remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (d != NULL) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      char path[4096];
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      unlink(path);
    }
    closedir(d);
  }
  rmdir(dir);
}

int tu_require_backends(const char *prog, char names[][64], int max) {
  const int n = tu_usable_backends(names, max);
  if (n == 0) fprintf(stderr, "%s: no usable backend\n", prog);
  return n;
}

int tu_run_suite(Suite *s) {
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_ENV);
  const int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed;
}

int tu_copy_file(const char *from, const char *to) {
  FILE *in = fopen(from, "rb");
  if (in == NULL) return 0;
  FILE *out = fopen(to, "wb");
  if (out == NULL) {
    fclose(in);
    return 0;
  }
  char buf[65536];
  size_t n;
  int ok = 1;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0)
    if (fwrite(buf, 1, n, out) != n) ok = 0;
  if (ferror(in)) ok = 0;
  fclose(in);
  if (fclose(out) != 0) ok = 0;
  return ok;
}
