/* SPDX-License-Identifier: Apache-2.0 */
/* The environment variables that shape a plan, read once by the library
 * (through conv_env.h, the parser backends share) and handed to backends
 * in canonical form. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "conv_env.h"
#include "internal.h"

/* The op keys of $CONV_ALGO, in the order of the canonical string. */
static const char *const algo_ops[] = {"fwd", "bwd_data", "bwd_weight",
                                       "bwd_bias"};
#define ALGO_OPS (sizeof algo_ops / sizeof algo_ops[0])

/* Copies s[0..len) lower-cased with both ends trimmed into out; returns the
 * length written (out has room for len + 1). */
static size_t trimmed_lower(const char *s, size_t len, char *out) {
  while (len > 0 && isspace((unsigned char)*s)) s++, len--;
  while (len > 0 && isspace((unsigned char)s[len - 1])) len--;
  for (size_t i = 0; i < len; i++) out[i] = (char)tolower((unsigned char)s[i]);
  out[len] = '\0';
  return len;
}

static int is_auto(const char *name) {
  return name[0] == '\0' || strcmp(name, "auto") == 0;
}

/* A name is what backends register: letters, digits, '_' (checked here so
 * that a canonical string never carries ',', '=' or blanks). */
static int is_name(const char *name) {
  for (const char *c = name; *c != '\0'; c++)
    if (!isalnum((unsigned char)*c) && *c != '_') return 0;
  return 1;
}

CONV_INTERNAL conv_status conv_algo_canonical(const char *spec, char *out,
                                              size_t outlen, conv_err *err) {
  if (outlen > 0) out[0] = '\0';
  if (spec == NULL) return CONV_SUCCESS;
  const size_t len = strlen(spec);
  if (len > CONV_ALGO_MAX_LEN)
    return conv_err_set(err, CONV_ERROR_INVALID_ARGUMENT,
                        "CONV_ALGO='%.40s...' is %zu characters long; at most "
                        "%d are accepted", spec, len, CONV_ALGO_MAX_LEN);
  char item[CONV_ALGO_MAX_LEN + 1];
  if (memchr(spec, '=', len) == NULL) {
    /* One name for every op that has it. */
    trimmed_lower(spec, len, item);
    if (is_auto(item)) return CONV_SUCCESS;
    if (!is_name(item))
      return conv_err_set(err, CONV_ERROR_INVALID_ARGUMENT,
                          "CONV_ALGO='%s': '%s' is not an algorithm name "
                          "(letters, digits, '_')", spec, item);
    if (strlen(item) >= outlen)
      return conv_err_set(err, CONV_ERROR_INVALID_ARGUMENT,
                          "CONV_ALGO='%s' is too long", spec);
    memcpy(out, item, strlen(item) + 1);
    return CONV_SUCCESS;
  }
  /* op=name[,op=name]...: each op at most once. */
  char names[ALGO_OPS][CONV_ALGO_MAX_LEN + 1];
  int given[ALGO_OPS] = {0};
  const char *s = spec, *end = spec + len;
  while (s <= end) {
    const char *comma = memchr(s, ',', (size_t)(end - s));
    const char *item_end = comma != NULL ? comma : end;
    const char *eq = memchr(s, '=', (size_t)(item_end - s));
    char key[CONV_ALGO_MAX_LEN + 1];
    size_t klen = trimmed_lower(s, (size_t)((eq ? eq : item_end) - s), key);
    if (eq == NULL) {
      if (klen != 0)
        return conv_err_set(err, CONV_ERROR_INVALID_ARGUMENT,
                            "CONV_ALGO='%s': item '%s' is not op=name (ops: "
                            "fwd, bwd_data, bwd_weight, bwd_bias)", spec, key);
      /* An empty item (a doubled or trailing comma) is skipped. */
    } else {
      size_t op = 0;
      while (op < ALGO_OPS && strcmp(algo_ops[op], key) != 0) op++;
      if (op == ALGO_OPS)
        return conv_err_set(err, CONV_ERROR_INVALID_ARGUMENT,
                            "CONV_ALGO='%s': unknown op '%s'; known: fwd, "
                            "bwd_data, bwd_weight, bwd_bias", spec, key);
      if (given[op])
        return conv_err_set(err, CONV_ERROR_INVALID_ARGUMENT,
                            "CONV_ALGO='%s': op '%s' is given twice", spec, key);
      given[op] = 1;
      trimmed_lower(eq + 1, (size_t)(item_end - eq - 1), names[op]);
      if (!is_name(names[op]))
        return conv_err_set(err, CONV_ERROR_INVALID_ARGUMENT,
                            "CONV_ALGO='%s': '%s' for %s is not an algorithm "
                            "name (letters, digits, '_')", spec, names[op], key);
    }
    if (comma == NULL) break;
    s = comma + 1;
  }
  size_t used = 0;
  for (size_t op = 0; op < ALGO_OPS; op++) {
    if (!given[op] || is_auto(names[op])) continue;
    int w = snprintf(out + used, outlen - used, "%s%s=%s", used ? "," : "",
                     algo_ops[op], names[op]);
    if (w < 0 || (size_t)w >= outlen - used) {
      out[0] = '\0';
      return conv_err_set(err, CONV_ERROR_INVALID_ARGUMENT,
                          "CONV_ALGO='%s' is too long", spec);
    }
    used += (size_t)w;
  }
  return CONV_SUCCESS;
}

CONV_INTERNAL conv_status conv_env_plan_options(conv_plan_options *options,
                                                char *algo, size_t algolen,
                                                int with_algo, conv_err *err) {
  memset(options, 0, sizeof *options);
  int64_t threads = 0;
  conv_status st = conv_env_int("CONV_NUM_THREADS", "a thread count", 1, 4096,
                                &threads, err);
  if (st != CONV_SUCCESS) return st;
  options->num_threads = (int)threads;
  if (!with_algo) return CONV_SUCCESS;
  char raw[CONV_ALGO_MAX_LEN + 1];
  st = conv_env_string("CONV_ALGO", raw, sizeof raw, err);
  if (st != CONV_SUCCESS) return st;
  st = conv_algo_canonical(raw, algo, algolen, err);
  if (st != CONV_SUCCESS) return st;
  options->algo = algo[0] != '\0' ? algo : NULL;
  return CONV_SUCCESS;
}
