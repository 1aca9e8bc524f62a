/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OpenCL backend's files: the program-binary cache and the tuning
 * database, both under one directory ($CONV_CACHE_DIR, else
 * $XDG_CACHE_HOME/libconv, else $HOME/.cache/libconv; CONV_CACHE_DIR=off
 * turns both off).
 *
 * Nothing here is ever fatal: an unreadable, truncated, corrupt or foreign
 * file is ignored (and rewritten later), an unwritable directory only means
 * no cache. Files are written to a temporary name and renamed into place, so
 * a reader sees a whole old file or a whole new one, and two processes
 * filling the cache at once each rename a complete file of their own.
 *
 * Binary cache file (cl-<hash of key>.bin):
 *   "LIBCONV-CL-CACHE 1\n", then three blocks each as a little-endian u64
 *   length and its bytes: the key (compared whole, so a hash collision or a
 *   stale file never loads), the warmed launch shapes, the binary; then the
 *   u64 FNV-1a hash of everything after the magic line.
 *
 * Tuning database (tune-<hash of device key>.txt), text, one entry a line:
 *   libconv-tune 1
 *   device <the device key on one line>
 *   <class> <algorithm> <gemm parameters or -> <milliseconds>
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conv_env.h"
#include "opencl_internal.h"

/* $name through the library's parser, or NULL when unset, blank or bad
 * (the cache and progress lines are never worth an error). */
static const char *env(const char *name) {
  static __thread char buf[4096];
  conv_err e;
  if (conv_env_string(name, buf, sizeof buf, &e) != CONV_SUCCESS ||
      buf[0] == '\0')
    return NULL;
  return buf;
}

uint64_t ocl_hash(const void *data, size_t len, uint64_t h) {
  const unsigned char *p = data;
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  return h;
}

int ocl_verbose(void) {
  const char *v = env("CONV_VERBOSE");
  return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

void ocl_progress(const char *fmt, ...) {
  const char *p = env("CONV_PROGRESS");
  const int want = p != NULL && strcmp(p, "0") != 0;
  if (!want && !ocl_verbose()) return;
  va_list ap;
  va_start(ap, fmt);
  fputs("libconv: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* mkdir -p for the last two levels at most (".cache/libconv"). */
static int make_dir(const char *path) {
  struct stat st;
  if (stat(path, &st) == 0) return S_ISDIR(st.st_mode) ? 0 : -1;
  char parent[4096];
  if (snprintf(parent, sizeof parent, "%s", path) >= (int)sizeof parent)
    return -1;
  char *slash = strrchr(parent, '/');
  if (slash != NULL && slash != parent) {
    *slash = '\0';
    if (stat(parent, &st) != 0 && mkdir(parent, 0700) != 0 && errno != EEXIST)
      return -1;
  }
  if (mkdir(path, 0700) != 0 && errno != EEXIST) return -1;
  return 0;
}

const char *ocl_cache_dir(int create) {
  static __thread char dir[4096];
  const char *v = env("CONV_CACHE_DIR");
  int n;
  if (v != NULL && v[0] != '\0') {
    if (strcmp(v, "off") == 0 || strcmp(v, "0") == 0 || strcmp(v, "none") == 0)
      return NULL;
    n = snprintf(dir, sizeof dir, "%s", v);
  } else if ((v = env("XDG_CACHE_HOME")) != NULL && v[0] == '/') {
    n = snprintf(dir, sizeof dir, "%s/libconv", v);
  } else if ((v = env("HOME")) != NULL && v[0] == '/') {
    n = snprintf(dir, sizeof dir, "%s/.cache/libconv", v);
  } else {
    return NULL;
  }
  if (n <= 0 || n >= (int)sizeof dir - 64) return NULL; /* too long: none */
  if (create && make_dir(dir) != 0) return NULL;
  return dir;
}

static const char magic[] = "LIBCONV-CL-CACHE 1\n";

static void put_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

static int file_path(char *buf, size_t len, const char *dir, const char *kind,
                     const char *key, const char *ext) {
  uint64_t h = ocl_hash(key, strlen(key), OCL_HASH_INIT);
  int n = snprintf(buf, len, "%s/%s-%016llx.%s", dir, kind,
                   (unsigned long long)h, ext);
  return n > 0 && (size_t)n < len ? 0 : -1;
}

/* Reads a whole file (at most 1 GiB); NULL on any failure. */
static unsigned char *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  unsigned char *buf = NULL;
  long len;
  if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
      len > (1L << 30) || fseek(f, 0, SEEK_SET) != 0)
    goto fail;
  buf = malloc((size_t)len + 1);
  if (buf == NULL || fread(buf, 1, (size_t)len, f) != (size_t)len) goto fail;
  buf[len] = '\0';
  fclose(f);
  *size = (size_t)len;
  return buf;
fail:
  free(buf);
  fclose(f);
  return NULL;
}

/* Writes data to path through a temporary file in the same directory. */
static void write_atomic(const char *path, const unsigned char *data,
                         size_t size) {
  char tmp[4200];
  static unsigned counter;
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u", path, (long)getpid(),
               __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED)) >=
      (int)sizeof tmp)
    return;
  FILE *f = fopen(tmp, "wb");
  if (f == NULL) return;
  int ok = fwrite(data, 1, size, f) == size;
  ok &= fflush(f) == 0;
  ok &= fclose(f) == 0;
  if (!ok || rename(tmp, path) != 0) remove(tmp);
}

unsigned char *ocl_cache_load(const char *key, size_t *size, char **warmed) {
  const char *dir = ocl_cache_dir(0);
  char path[4200];
  size_t len = 0;
  *warmed = NULL;
  if (dir == NULL || file_path(path, sizeof path, dir, "cl", key, "bin") != 0)
    return NULL;
  unsigned char *f = read_file(path, &len);
  if (f == NULL) return NULL;
  const size_t ml = sizeof magic - 1;
  unsigned char *out = NULL;
  size_t pos = ml, blk[3][2]; /* offset, length of key, warmed, binary */
  if (len < ml + 8 * 4 || memcmp(f, magic, ml) != 0) goto done;
  for (int b = 0; b < 3; b++) {
    if (len - pos < 8) goto done;
    uint64_t l = get_u64(f + pos);
    pos += 8;
    if (l > len - pos) goto done;
    blk[b][0] = pos;
    blk[b][1] = (size_t)l;
    pos += (size_t)l;
  }
  if (len - pos != 8 ||
      get_u64(f + pos) != ocl_hash(f + ml, pos - ml, OCL_HASH_INIT))
    goto done; /* truncated or corrupt */
  if (blk[0][1] != strlen(key) || memcmp(f + blk[0][0], key, blk[0][1]) != 0)
    goto done; /* another key with the same hash */
  out = malloc(blk[2][1] ? blk[2][1] : 1);
  *warmed = malloc(blk[1][1] + 1);
  if (out == NULL || *warmed == NULL) {
    free(out);
    free(*warmed);
    out = NULL;
    *warmed = NULL;
    goto done;
  }
  memcpy(out, f + blk[2][0], blk[2][1]);
  memcpy(*warmed, f + blk[1][0], blk[1][1]);
  (*warmed)[blk[1][1]] = '\0';
  *size = blk[2][1];
done:
  free(f);
  return out;
}

void ocl_cache_store(const char *key, const unsigned char *bin, size_t size,
                     const char *warmed) {
  const char *dir = ocl_cache_dir(1);
  char path[4200];
  if (dir == NULL || file_path(path, sizeof path, dir, "cl", key, "bin") != 0)
    return;
  const size_t ml = sizeof magic - 1, kl = strlen(key),
               wl = warmed ? strlen(warmed) : 0;
  const size_t total = ml + 8 + kl + 8 + wl + 8 + size + 8;
  unsigned char *buf = malloc(total), *p;
  if (buf == NULL) return;
  memcpy(buf, magic, ml);
  p = buf + ml;
  put_u64(p, kl);
  memcpy(p + 8, key, kl);
  p += 8 + kl;
  put_u64(p, wl);
  if (wl) memcpy(p + 8, warmed, wl);
  p += 8 + wl;
  put_u64(p, size);
  memcpy(p + 8, bin, size);
  p += 8 + size;
  put_u64(p, ocl_hash(buf + ml, (size_t)(p - buf) - ml, OCL_HASH_INIT));
  write_atomic(path, buf, total);
  free(buf);
}

/* ------------------------------------------------------------- tuning */

/* The device key of the tuning database: name, vendor, device and driver
 * version, platform. Newlines would break the format: replaced. */
static void device_key(const ocl_device *dev, char *buf, size_t len) {
  snprintf(buf, len, "%s | %s | %s | driver %s | %s %s", dev->name,
           dev->vendor, dev->version, dev->driver, dev->platform_name,
           dev->platform_version);
  for (char *c = buf; *c; c++)
    if (*c == '\n' || *c == '\r') *c = ' ';
}

static const char tune_magic[] = "libconv-tune 1\n";

/* Reads the database of dev; NULL when absent or not for this device. */
static char *tune_read(const ocl_device *dev, char *path, size_t path_len) {
  const char *dir = ocl_cache_dir(0);
  char key[1024];
  size_t len;
  device_key(dev, key, sizeof key);
  if (dir == NULL || file_path(path, path_len, dir, "tune", key, "txt") != 0)
    return NULL;
  char *f = (char *)read_file(path, &len);
  if (f == NULL) return NULL;
  const size_t ml = sizeof tune_magic - 1;
  char *line2 = f + ml;
  size_t kl = strlen(key);
  if (len < ml || memcmp(f, tune_magic, ml) != 0 ||
      strncmp(line2, "device ", 7) != 0 || strncmp(line2 + 7, key, kl) != 0 ||
      line2[7 + kl] != '\n') {
    if (ocl_verbose())
      fprintf(stderr, "libconv: opencl: tuning database %s is not a "
              "libconv-tune 1 file for this device: ignored\n", path);
    free(f);
    return NULL;
  }
  return f;
}

int ocl_tune_lookup(const ocl_device *dev, const char *klass, char *algo,
                    size_t algo_len, char *params, size_t params_len) {
  char path[4200];
  char *f = tune_read(dev, path, sizeof path);
  int found = -1;
  if (f == NULL) return -1;
  const size_t kl = strlen(klass);
  for (char *line = strchr(f, '\n'); line != NULL; line = strchr(line, '\n')) {
    line++;
    if (strncmp(line, klass, kl) != 0 || line[kl] != ' ') continue;
    char a[64], pr[256];
    double ms;
    if (sscanf(line + kl, " %63s %255s %lf", a, pr, &ms) == 3) {
      snprintf(algo, algo_len, "%s", a);
      snprintf(params, params_len, "%s", pr);
      found = 0;
    } else if (ocl_verbose()) {
      fprintf(stderr, "libconv: opencl: malformed entry for %s in %s: "
              "ignored\n", klass, path);
    }
  }
  free(f);
  return found;
}

void ocl_tune_record(const ocl_device *dev, const char *klass,
                     const char *algo, const char *params, double ms) {
  char path[4200], key[1024];
  const char *dir = ocl_cache_dir(1);
  if (dir == NULL) return;
  device_key(dev, key, sizeof key);
  if (file_path(path, sizeof path, dir, "tune", key, "txt") != 0) return;
  char *old = tune_read(dev, path, sizeof path);
  size_t cap = (old ? strlen(old) : 0) + strlen(key) + 512;
  char *out = malloc(cap);
  if (out == NULL) {
    free(old);
    return;
  }
  size_t n = (size_t)snprintf(out, cap, "%sdevice %s\n", tune_magic, key);
  if (old != NULL) {
    const size_t kl = strlen(klass);
    char *line = strchr(old, '\n');
    line = line ? strchr(line + 1, '\n') : NULL; /* past the device line */
    while (line != NULL && line[1] != '\0') {
      line++;
      char *end = strchr(line, '\n');
      size_t ll = end ? (size_t)(end - line) : strlen(line);
      if (!(strncmp(line, klass, kl) == 0 && line[kl] == ' ')) {
        memcpy(out + n, line, ll);
        n += ll;
        out[n++] = '\n';
      }
      line = end;
    }
  }
  n += (size_t)snprintf(out + n, cap - n, "%s %s %s %.4f\n", klass, algo,
                        params, ms);
  write_atomic(path, (const unsigned char *)out, n);
  free(out);
  free(old);
}
