/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading libconv's environment variables: one parser for the library and
 * every backend, so that each variable accepts and rejects the same things.
 *
 * - Values are read with secure_getenv (or, without it, ignored when the
 *   process runs set-user-ID or set-group-ID), so a privileged program is
 *   never steered by its caller's environment.
 * - Leading and trailing white space is trimmed; a blank value is unset.
 * - A value longer than the caller's limit is rejected, never cut: a cut
 *   value could name something that was never asked for.
 * - A bad value is CONV_ERROR_INVALID_ARGUMENT with a message that names the
 *   variable and (the start of) the value, never silently ignored.
 *
 * Header-only (static inline) so backends, which do not link against
 * libconv, use the same code. With glibc, secure_getenv is used where
 * _GNU_SOURCE is defined (configure's config.h does), else the same check
 * through getauxval(AT_SECURE).
 */
#ifndef CONV_ENV_H
#define CONV_ENV_H

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__GLIBC__) && !defined(__USE_GNU)
#include <sys/auxv.h>
#endif

#include "conv_plugin.h"

/* The longest value any variable accepts unless a caller says otherwise. */
#define CONV_ENV_MAX_LEN 4095

/* $name as the process sees it, or NULL; NULL in set-user-ID programs. */
static inline const char *conv_env_raw(const char *name) {
#if defined(__GLIBC__) && defined(__USE_GNU)
  return secure_getenv(name);
#elif defined(__GLIBC__)
  /* What secure_getenv checks: the kernel's AT_SECURE flag. */
  if (getauxval(AT_SECURE) != 0) return NULL;
  return getenv(name);
#else
  if (getuid() != geteuid() || getgid() != getegid()) return NULL;
  return getenv(name);
#endif
}

/* Returns s with the white space at both ends dropped: *len is the length
 * of what is left (s itself is not written). */
static inline const char *conv_env_trim(const char *s, size_t *len) {
  while (*s != '\0' && isspace((unsigned char)*s)) s++;
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
  *len = n;
  return s;
}

/* Copies the trimmed value of $name into buf (size bytes): "" when unset or
 * blank. A value of size or more bytes is CONV_ERROR_INVALID_ARGUMENT, with
 * buf set to "". */
static inline conv_status conv_env_string(const char *name, char *buf,
                                          size_t size, conv_err *err) {
  if (size > 0) buf[0] = '\0';
  const char *raw = conv_env_raw(name);
  if (raw == NULL) return CONV_SUCCESS;
  size_t len;
  const char *s = conv_env_trim(raw, &len);
  if (len >= size)
    return conv_err_set(err, CONV_ERROR_INVALID_ARGUMENT,
                        "%s='%.40s...' is %zu characters long; at most %zu "
                        "are accepted", name, s, len, size > 0 ? size - 1 : 0);
  memcpy(buf, s, len);
  buf[len] = '\0';
  return CONV_SUCCESS;
}

/* Parses the trimmed decimal integer $name into *value when it is set and in
 * lo..hi; leaves *value as it was when unset or blank. `what` names the kind
 * of value in the message ("a thread count"). */
static inline conv_status conv_env_int(const char *name, const char *what,
                                       int64_t lo, int64_t hi, int64_t *value,
                                       conv_err *err) {
  char buf[64];
  conv_status st = conv_env_string(name, buf, sizeof buf, err);
  if (st != CONV_SUCCESS) return st;
  if (buf[0] == '\0') return CONV_SUCCESS;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(buf, &end, 10);
  if (end == buf || *end != '\0' || errno != 0 || v < lo || v > hi)
    return conv_err_set(err, CONV_ERROR_INVALID_ARGUMENT,
                        "%s=%s is not %s in %lld..%lld", name, buf, what,
                        (long long)lo, (long long)hi);
  *value = (int64_t)v;
  return CONV_SUCCESS;
}

#endif /* CONV_ENV_H */
