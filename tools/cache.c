/* SPDX-License-Identifier: Apache-2.0 */
/*
 * convinfo tune and convinfo cache.
 *
 *   tune   plans each layer of a suite with $CONV_TUNE=1, so that backends
 *          that tune (opencl) time their candidates once and keep the
 *          winners in their tuning database; then benchmarks the tuned
 *          plans (the bench table).
 *   cache  shows the cache directory the backends use (compiled programs,
 *          tuning databases) and, with --clear, empties it.
 *
 * The directory rule is the opencl backend's (backends/opencl/
 * opencl_cache.c): $CONV_CACHE_DIR (off/0/none: no cache), else
 * $XDG_CACHE_HOME/libconv, else $HOME/.cache/libconv.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tools.h"

static const char *cache_dir(char *buf, size_t len) {
  const char *v = getenv("CONV_CACHE_DIR");
  if (v != NULL && v[0] != '\0') {
    if (strcmp(v, "off") == 0 || strcmp(v, "0") == 0 || strcmp(v, "none") == 0)
      return NULL;
    snprintf(buf, len, "%s", v);
  } else if ((v = getenv("XDG_CACHE_HOME")) != NULL && v[0] == '/') {
    snprintf(buf, len, "%s/libconv", v);
  } else if ((v = getenv("HOME")) != NULL && v[0] == '/') {
    snprintf(buf, len, "%s/.cache/libconv", v);
  } else {
    return NULL;
  }
  return buf;
}

/* libconv's own files in the cache directory. */
static int ours(const char *name) {
  return (strncmp(name, "cl-", 3) == 0 && strstr(name, ".bin") != NULL) ||
         (strncmp(name, "tune-", 5) == 0 && strstr(name, ".txt") != NULL);
}

int cmd_cache(int argc, char **argv) {
  int clear = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--clear") == 0) {
      clear = 1;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      printf("usage: convinfo cache [--clear]\n");
      return EXIT_OK;
    } else {
      fprintf(stderr, "convinfo cache: unknown argument '%s' (expected "
              "--clear)\n", argv[i]);
      return EXIT_USAGE;
    }
  }
  char buf[4096];
  const char *dir = cache_dir(buf, sizeof buf);
  if (dir == NULL) {
    printf("cache: off ($CONV_CACHE_DIR=%s, or no $HOME)\n",
           getenv("CONV_CACHE_DIR") ? getenv("CONV_CACHE_DIR") : "");
    return EXIT_OK;
  }
  DIR *d = opendir(dir);
  if (d == NULL) {
    printf("cache: %s (empty: not created yet)\n", dir);
    return EXIT_OK;
  }
  long programs = 0, tunings = 0, removed = 0, failed = 0;
  long long bytes = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!ours(e->d_name)) continue;
    char path[8192];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (e->d_name[0] == 'c') programs++;
    else tunings++;
    bytes += (long long)st.st_size;
    if (clear) {
      if (remove(path) == 0) removed++;
      else failed++;
    }
  }
  closedir(d);
  printf("cache: %s\n  compiled programs: %ld\n  tuning databases: %ld\n"
         "  bytes: %lld\n", dir, programs, tunings, bytes);
  if (clear) printf("  removed: %ld file(s)%s\n", removed,
                    failed ? ", some could not be removed" : "");
  return failed ? EXIT_FAILED : EXIT_OK;
}

int cmd_tune(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      printf("usage: convinfo tune [--backend B] [--device D] [--suite FILE]"
             " [--layer GLOB] ...\n  (the bench options; each layer is "
             "planned with CONV_TUNE=1, then timed)\n");
      return EXIT_OK;
    }
  setenv("CONV_TUNE", "1", 1);
  if (getenv("CONV_PROGRESS") == NULL) setenv("CONV_PROGRESS", "1", 1);
  char buf[4096];
  const char *dir = cache_dir(buf, sizeof buf);
  fprintf(stderr, "convinfo tune: timing candidate kernels per layer; the "
          "winners go to the tuning database in %s\n",
          dir ? dir : "(nowhere: the cache is off)");
  return cmd_bench(argc, argv);
}
