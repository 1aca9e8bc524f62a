/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the Check programs: random numbers, poisoning, error
 * measures, descriptor printing and backend discovery. */
#ifndef CONV_TEST_UTIL_H
#define CONV_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <check.h>

#include "conv.h"

/* Relative error bound every backend must meet against the float64
 * reference: max|got - ref| / max(max|ref|, 1e-6). */
#define TU_TOLERANCE 1e-4

/* A small deterministic generator (splitmix64), so a failing case can be
 * reproduced from its seed on any platform. */
typedef struct tu_rng {
  uint64_t state;
} tu_rng;

void tu_rng_seed(tu_rng *r, uint64_t seed);
uint64_t tu_rng_next(tu_rng *r);
/* Uniform integer in [lo, hi]. */
int64_t tu_rng_range(tu_rng *r, int64_t lo, int64_t hi);
/* Uniform float in [-1, 1). */
float tu_rng_float(tu_rng *r);

/* Fills p[0..count) with uniform values in [-1, 1). */
void tu_fill_random(tu_rng *r, float *p, size_t count);
/* Fills p[0..count) with quiet NaNs, so an element a backend forgets to
 * write cannot pass a comparison. */
void tu_poison(float *p, size_t count);
/* 1 if every element of p is the poison bit pattern. */
int tu_is_poison(const float *p, size_t count);

/* malloc that never returns NULL for count 0 (returns a 1-element block);
 * aborts on failure. */
void *tu_alloc(size_t bytes);

/* max|got - ref| / max(max|ref|, 1e-6), computed in float64. NaN or Inf in
 * got gives +Inf. *worst receives the index of the largest difference. */
double tu_rel_error(const float *got, const double *ref, size_t count,
                    size_t *worst);
/* Same against a float array. */
double tu_rel_error_f(const float *got, const float *ref, size_t count,
                      size_t *worst);

/* One line describing a descriptor, for failure messages. */
const char *tu_desc_str(const conv_desc *d, char *buf, size_t len);

/* Names of the backends conv_backend_list() reports usable with at least
 * one device. Runs the discovery in a forked child so the test process
 * itself never initialises a driver before Check forks its tests (OpenCL
 * implementations do not survive fork). Returns the number found. */
int tu_usable_backends(char names[][64], int max);

/* Names of the usable backends as tu_usable_backends; when there is none,
 * says so on stderr as "PROG: no usable backend" (a test program that
 * needs one then fails). */
int tu_require_backends(const char *prog, char names[][64], int max);

/* Runs every test of s (verbosity from $CK_VERBOSITY), frees the runner
 * and the suite; returns the number of tests that failed. */
int tu_run_suite(Suite *s);

/* Copies the file from to the file to; 1 on success, 0 on any error. */
int tu_copy_file(const char *from, const char *to);

/* Creates a directory under $TMPDIR (or /tmp); returns a malloc'd path. */
char *tu_make_temp_dir(const char *tag);
/* Removes the files in dir (one level) and dir itself. */
void tu_remove_dir(const char *dir);

#endif /* CONV_TEST_UTIL_H */
