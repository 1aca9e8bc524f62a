/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the environment parsing of libconv.
 *   - conv_algo_canonical (CONV_ALGO): accepts or rejects with a message;
 *     what it accepts is canonical, so parsing its output again gives the
 *     same string.
 *   - conv_env_int / conv_env_string (conv_env.h): a value that parses is in
 *     range; a string never comes back longer than its buffer.
 *   - CONV_PLUGIN_PATH and a backend spec through conv_context_create with
 *     a name no plugin has: never a success, never a crash (nothing is
 *     loaded: only conv_<name>.so files are looked for and listed).
 * The first byte picks the probe; the rest is the value. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_env.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const int probe = data[0] % 4;
  char *s = malloc(size);
  if (s == NULL) return 0;
  memcpy(s, data + 1, size - 1);
  s[size - 1] = '\0';
  conv_err err;
  memset(&err, 0, sizeof err);
  switch (probe) {
    case 0: {
      char out[2 * CONV_ALGO_MAX_LEN], again[2 * CONV_ALGO_MAX_LEN];
      conv_status st = conv_algo_canonical(s, out, sizeof out, &err);
      if (st != CONV_SUCCESS) {
        if (st != CONV_ERROR_INVALID_ARGUMENT || err.msg[0] == '\0') abort();
        if (out[0] != '\0') abort(); /* nothing half-written */
        break;
      }
      if (strlen(out) >= sizeof out) abort();
      if (conv_algo_canonical(out, again, sizeof again, &err) != CONV_SUCCESS ||
          strcmp(out, again) != 0)
        abort();
      break;
    }
    case 1: {
      if (setenv("LIBCONV_FUZZ_VALUE", s, 1) != 0) break;
      int64_t v = -12345;
      conv_status st = conv_env_int("LIBCONV_FUZZ_VALUE", "a fuzz value", -7,
                                    1000000, &v, &err);
      if (st == CONV_SUCCESS && v != -12345 && (v < -7 || v > 1000000)) abort();
      if (st != CONV_SUCCESS && err.msg[0] == '\0') abort();
      char buf[16];
      st = conv_env_string("LIBCONV_FUZZ_VALUE", buf, sizeof buf, &err);
      if (strlen(buf) >= sizeof buf) abort();
      if (st != CONV_SUCCESS && buf[0] != '\0') abort();
      break;
    }
    case 2: {
      if (setenv("CONV_PLUGIN_PATH", s, 1) != 0) break;
      conv_context *ctx = NULL;
      conv_status st = conv_context_create(&ctx, "nosuchfuzzbackend", NULL);
      if (st == CONV_SUCCESS || ctx != NULL) abort();
      unsetenv("CONV_PLUGIN_PATH");
      break;
    }
    case 3: {
      /* A spec that can only miss: every item is made a name absent from
       * the (empty) path, so no file is ever opened. */
      for (char *c = s; *c != '\0'; c++)
        if (*c == '/') *c = '_';
      setenv("CONV_PLUGIN_PATH", "/nonexistent/libconv-fuzz", 1);
      conv_context *ctx = NULL;
      char *spec = malloc(strlen(s) + 16);
      if (spec == NULL) break;
      sprintf(spec, "zz%s", s);
      /* Each comma-separated item starts with "zz" so no real backend. */
      for (char *c = spec; *c != '\0'; c++)
        if (*c == ',') *c = ';';
      conv_status st = conv_context_create(&ctx, spec, NULL);
      if (st == CONV_SUCCESS || ctx != NULL) abort();
      free(spec);
      unsetenv("CONV_PLUGIN_PATH");
      break;
    }
  }
  free(s);
  return 0;
}
