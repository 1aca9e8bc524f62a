/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the golden-case reader (tools/golden.c), which reads
 * files anyone can put in a case directory.
 *   first byte even: the rest is a .npy file for npy_load;
 *   first byte odd:  the rest is a `params` file, loaded with golden_load
 *                    beside small valid arrays (x 1x2x5x5, w 2x2x3x3, ...).
 * A load either succeeds with consistent arrays or fails with a message;
 * it never crashes, leaks (LeakSanitizer) or reads out of bounds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "golden.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char dir[256];

static void put_array(const char *name, int64_t n, int64_t c, int64_t h,
                      int64_t w) {
  golden_array a;
  memset(&a, 0, sizeof a);
  a.ndim = 4;
  a.shape[0] = n; a.shape[1] = c; a.shape[2] = h; a.shape[3] = w;
  a.count = (size_t)(n * c * h * w);
  a.data = calloc(a.count ? a.count : 1, sizeof(float));
  char path[512], err[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (a.data == NULL || npy_save(path, &a, err, sizeof err) != 0) abort();
  free(a.data);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/libconv-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) abort();
  /* stride 1, no padding: y is 3x3. */
  put_array("x.npy", 1, 2, 5, 5);
  put_array("w.npy", 2, 2, 3, 3);
  put_array("b.npy", 1, 1, 1, 2); /* wrong rank on purpose for some params */
  put_array("y.npy", 1, 2, 3, 3);
  put_array("dy.npy", 1, 2, 3, 3);
  put_array("dx.npy", 1, 2, 5, 5);
  put_array("dw.npy", 2, 2, 3, 3);
  return 0;
}

static void write_file(const char *path, const uint8_t *p, size_t n) {
  FILE *f = fopen(path, "wb");
  if (f == NULL) abort();
  if (n > 0 && fwrite(p, 1, n, f) != n) abort();
  fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  char path[512], err[1024];
  if (data[0] % 2 == 0) {
    snprintf(path, sizeof path, "%s/fuzz.npy", dir);
    write_file(path, data + 1, size - 1);
    golden_array a;
    err[0] = '\0';
    if (npy_load(path, &a, err, sizeof err) == 0) {
      size_t count = 1;
      for (int i = 0; i < a.ndim; i++) count *= (size_t)a.shape[i];
      if (a.data == NULL || count != a.count || a.ndim > GOLDEN_MAX_DIMS)
        abort();
      /* Touch every element: the buffer must hold them all. */
      volatile float sum = 0;
      for (size_t i = 0; i < a.count; i++) sum += a.data[i];
      (void)sum;
      golden_array_free(&a);
    } else if (err[0] == '\0' || a.data != NULL) {
      abort();
    }
  } else {
    snprintf(path, sizeof path, "%s/params", dir);
    write_file(path, data + 1, size - 1);
    golden_case c;
    err[0] = '\0';
    if (golden_load(dir, &c, err, sizeof err) == 0) {
      if (c.x.data == NULL || c.y.data == NULL) abort();
      golden_free(&c);
    } else if (err[0] == '\0') {
      abort();
    }
  }
  return 0;
}
