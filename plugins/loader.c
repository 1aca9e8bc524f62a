/* SPDX-License-Identifier: Apache-2.0 */
/* The plugin loader: finds backend shared objects, checks their table and
 * keeps them loaded for the life of the process. A bad plugin is skipped
 * with a reason and never takes the process down. */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conv_env.h"
#include "internal.h"

#include "conv_paths.h" /* CONV_PLUGIN_DIR, CONV_BUILD_DIR (generated) */

CONV_INTERNAL const char *conv_getenv(const char *name) {
  return conv_env_raw(name);
}

/* Plugins are loaded once and kept: unloading a library that may own
 * threads (OpenMP, OpenCL runtimes) is not safe. The table grows as needed:
 * no count of paths fills it for the life of the process. */
static conv_backend **registry;
static size_t registry_count, registry_cap;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

/* The longest $CONV_PLUGIN_PATH accepted. */
#define PLUGIN_PATH_MAX_LEN 65535

/* malloc'd "dir/file", or NULL when out of memory. */
static char *path_join(const char *dir, const char *file) {
  size_t a = strlen(dir), b = strlen(file);
  char *p = malloc(a + b + 2);
  if (p == NULL) return NULL;
  memcpy(p, dir, a);
  p[a] = '/';
  memcpy(p + a + 1, file, b + 1);
  return p;
}

/* ------------------------------------------------------------ search path */

/* Every directory once, in order; held on the heap (no fixed count, and
 * nothing large on the caller's stack: the library must work on threads
 * with small stacks). */
typedef struct search_path {
  char **dirs;
  size_t count, cap;
} search_path;

static void search_path_free(search_path *sp) {
  for (size_t i = 0; i < sp->count; i++) free(sp->dirs[i]);
  free(sp->dirs);
  sp->dirs = NULL;
  sp->count = sp->cap = 0;
}

/* Adds dir[0..len) unless empty or already there; 0 when out of memory. */
static int path_add(search_path *sp, const char *dir, size_t len) {
  if (len == 0) return 1;
  for (size_t i = 0; i < sp->count; i++)
    if (strlen(sp->dirs[i]) == len && memcmp(sp->dirs[i], dir, len) == 0)
      return 1;
  if (sp->count == sp->cap) {
    size_t cap = sp->cap ? 2 * sp->cap : 8;
    char **d = realloc(sp->dirs, cap * sizeof *d);
    if (d == NULL) return 0;
    sp->dirs = d;
    sp->cap = cap;
  }
  char *copy = malloc(len + 1);
  if (copy == NULL) return 0;
  memcpy(copy, dir, len);
  copy[len] = '\0';
  sp->dirs[sp->count++] = copy;
  return 1;
}

/* True if this libconv is the one in the build tree (not installed): then
 * the freshly built plugins next to it are found without make install. */
static int running_from_build_tree(void) {
#if defined(HAVE_DLADDR) && defined(CONV_BUILD_DIR)
  Dl_info info;
  if (dladdr((void *)&conv_backend_list, &info) == 0 || info.dli_fname == NULL)
    return 0;
  char *self = realpath(info.dli_fname, NULL);
  char *expected = realpath(CONV_BUILD_DIR "/plugins/.libs", NULL);
  int same = 0;
  if (self != NULL && expected != NULL) {
    char *slash = strrchr(self, '/');
    if (slash != NULL) {
      *slash = '\0';
      same = strcmp(self, expected) == 0;
    }
  }
  free(self);
  free(expected);
  return same;
#else
  return 0;
#endif
}

/* $CONV_PLUGIN_PATH (colon-separated), the build tree's plugin folders when
 * running from it, then the install folder. An entry too long to be a path
 * is rejected, never cut or dropped. */
static conv_status search_path_get(search_path *sp, char *msg, size_t msglen) {
  memset(sp, 0, sizeof *sp);
  const char *env = conv_getenv("CONV_PLUGIN_PATH");
  if (env != NULL) {
    size_t total = strlen(env);
    if (total > PLUGIN_PATH_MAX_LEN) {
      snprintf(msg, msglen,
               "CONV_PLUGIN_PATH='%.40s...' is %zu characters long; at most "
               "%d are accepted", env, total, PLUGIN_PATH_MAX_LEN);
      return CONV_ERROR_INVALID_ARGUMENT;
    }
    const char *start = env;
    for (const char *c = env;; c++) {
      if (*c == ':' || *c == '\0') {
        size_t len = (size_t)(c - start);
        if (len >= PATH_MAX) {
          snprintf(msg, msglen,
                   "CONV_PLUGIN_PATH: entry '%.40s...' is %zu characters "
                   "long; a path has at most %d",
                   start, len, PATH_MAX - 1);
          search_path_free(sp);
          return CONV_ERROR_INVALID_ARGUMENT;
        }
        if (!path_add(sp, start, len)) goto oom;
        if (*c == '\0') break;
        start = c + 1;
      }
    }
  }
#ifdef CONV_BUILD_DIR
  if (running_from_build_tree()) {
    if (!path_add(sp, CONV_BUILD_DIR "/backends/cpu/.libs",
                  strlen(CONV_BUILD_DIR "/backends/cpu/.libs")) ||
        !path_add(sp, CONV_BUILD_DIR "/backends/opencl/.libs",
                  strlen(CONV_BUILD_DIR "/backends/opencl/.libs")))
      goto oom;
  }
#endif
  if (!path_add(sp, CONV_PLUGIN_DIR, strlen(CONV_PLUGIN_DIR))) goto oom;
  return CONV_SUCCESS;
oom:
  search_path_free(sp);
  snprintf(msg, msglen, "plugin search path: out of memory");
  return CONV_ERROR_OUT_OF_MEMORY;
}

/* ------------------------------------------------------------ table check */

CONV_INTERNAL int conv_plugin_table_check(const conv_plugin *src,
                                          conv_plugin *dst, char *why,
                                          size_t whylen) {
  memset(dst, 0, sizeof *dst);
  if (src->abi_major != CONV_PLUGIN_ABI_MAJOR) {
    snprintf(why, whylen, "plugin ABI major version %u, libconv needs %u",
             (unsigned)src->abi_major, (unsigned)CONV_PLUGIN_ABI_MAJOR);
    return 0;
  }
  if (src->abi_minor > CONV_PLUGIN_ABI_MINOR) {
    snprintf(why, whylen,
             "plugin ABI minor version %u is newer than libconv's %u",
             (unsigned)src->abi_minor, (unsigned)CONV_PLUGIN_ABI_MINOR);
    return 0;
  }
  if (src->size < offsetof(conv_plugin, flags)) {
    snprintf(why, whylen, "plugin table size %zu is too small", src->size);
    return 0;
  }
  /* Copy at most what both sides know; anything we know and the plugin did
   * not fill stays NULL and is caught below. */
  memcpy(dst, src, src->size < sizeof *dst ? src->size : sizeof *dst);

  const struct { const char *name; const void *ptr; } required[] = {
      {"name", dst->name},
      {"version", dst->version},
#define REQ(field) {#field, (const void *)(dst->field)}
      REQ(init), REQ(fini), REQ(device_count), REQ(device_info),
      REQ(device_open), REQ(device_close), REQ(plan_create), REQ(plan_destroy),
      REQ(plan_algorithm), REQ(plan_workspace), REQ(forward),
      REQ(backward_data), REQ(backward_weight), REQ(backward_bias),
      REQ(mem_alloc), REQ(mem_free), REQ(mem_write), REQ(mem_read),
#undef REQ
  };
  for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
    if (required[i].ptr == NULL) {
      snprintf(why, whylen, "required entry '%s' is empty", required[i].name);
      return 0;
    }
  }
  /* Pooling (ABI 1.1) is optional, but all or nothing. */
  const int pool_entries = (dst->pool_plan_create != NULL) +
                           (dst->pool_plan_destroy != NULL) +
                           (dst->maxpool_forward != NULL) +
                           (dst->maxpool_backward != NULL);
  if (pool_entries != 0 && pool_entries != 4) {
    snprintf(why, whylen,
             "pooling entries are partly filled (%d of 4): fill all or none",
             pool_entries);
    return 0;
  }
  /* ABI 1.2: average pooling (a pair, and only beside max pooling), and the
   * per-channel passes (a pair). A 1.0 or 1.1 table leaves them NULL. */
  const int avg_entries = (dst->avgpool_forward != NULL) +
                          (dst->avgpool_backward != NULL);
  if (avg_entries == 1 || (avg_entries == 2 && pool_entries == 0)) {
    snprintf(why, whylen,
             "average pooling entries are %s: fill both, with the pooling "
             "entries, or none",
             avg_entries == 1 ? "partly filled (1 of 2)"
                              : "filled without the pooling entries");
    return 0;
  }
  if ((dst->bias_activation != NULL) != (dst->channel_sum != NULL)) {
    snprintf(why, whylen,
             "bias_activation and channel_sum are partly filled (1 of 2): "
             "fill both or none");
    return 0;
  }
  if (dst->backward_data_bias_activation != NULL &&
      dst->bias_activation == NULL) {
    snprintf(why, whylen,
             "backward_data_bias_activation is filled without "
             "bias_activation and channel_sum");
    return 0;
  }
  return 1;
}

/* --------------------------------------------------------------- loading */

/* Loads the plugin at path (already checked to exist) into a new record.
 * Returns NULL only when out of memory: a bad plugin gets usable=0 and a
 * reason. */
static conv_backend *load_plugin(const char *path, const char *file_name) {
  conv_backend *be = calloc(1, sizeof *be);
  if (be == NULL) return NULL;
  be->path = strdup(path);
  if (be->path == NULL) {
    free(be);
    return NULL;
  }
  /* Until the table tells us, the name is the file's: conv_<name>.so */
  const char *base = file_name;
  if (strncmp(base, "conv_", 5) == 0) base += 5;
  size_t len = strcspn(base, ".");
  if (len >= sizeof be->name) len = sizeof be->name - 1;
  memcpy(be->name, base, len);
  be->name[len] = '\0';

  dlerror();
  be->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (be->handle == NULL) {
    const char *e = dlerror();
    snprintf(be->reason, sizeof be->reason, "dlopen failed: %s",
             e != NULL ? e : "unknown error");
    return be;
  }
  conv_plugin_entry_fn entry;
  void *sym = dlsym(be->handle, CONV_PLUGIN_ENTRY);
  if (sym == NULL) {
    snprintf(be->reason, sizeof be->reason, "no entry symbol %s",
             CONV_PLUGIN_ENTRY);
    return be;
  }
  memcpy(&entry, &sym, sizeof entry);
  const conv_plugin *table = entry();
  if (table == NULL) {
    snprintf(be->reason, sizeof be->reason, "%s returned NULL",
             CONV_PLUGIN_ENTRY);
    return be;
  }
  if (!conv_plugin_table_check(table, &be->table, be->reason,
                               sizeof be->reason))
    return be;
  size_t name_len = strnlen(be->table.name, sizeof be->name);
  if (name_len == 0 || name_len >= sizeof be->name) {
    snprintf(be->reason, sizeof be->reason,
             "the table's name is %s (1 to %zu characters expected)",
             name_len == 0 ? "empty" : "too long", sizeof be->name - 1);
    return be;
  }
  memcpy(be->name, be->table.name, name_len + 1);

  conv_err err;
  memset(&err, 0, sizeof err);
  conv_status st = be->table.init(&be->state, &err);
  if (st != CONV_SUCCESS) {
    err.msg[sizeof err.msg - 1] = '\0'; /* a plugin's message, unterminated */
    snprintf(be->reason, sizeof be->reason, "init failed (%s): %s",
             conv_status_string(st), err.msg[0] ? err.msg : "no message");
    be->init_status = st;
    be->state = NULL;
    return be;
  }
  be->usable = 1;
  return be;
}

/* Returns the record for path, loading it on first use; NULL when out of
 * memory. Caller holds the registry lock. */
static conv_backend *get_plugin(const char *path, const char *file_name) {
  char *real = realpath(path, NULL);
  const char *key = real != NULL ? real : path;
  conv_backend *be = NULL;
  for (size_t i = 0; i < registry_count && be == NULL; i++)
    if (strcmp(registry[i]->path, key) == 0) be = registry[i];
  if (be == NULL && registry_count == registry_cap) {
    size_t cap = registry_cap ? 2 * registry_cap : 16;
    conv_backend **r = realloc(registry, cap * sizeof *r);
    if (r == NULL) goto done;
    registry = r;
    registry_cap = cap;
  }
  if (be == NULL) {
    be = load_plugin(key, file_name);
    if (be != NULL) registry[registry_count++] = be;
  }
done:
  free(real);
  return be;
}

static int is_plugin_file_name(const char *name) {
  size_t len = strlen(name);
  return len > 8 && strncmp(name, "conv_", 5) == 0 &&
         strcmp(name + len - 3, ".so") == 0;
}

/* 1 if path is a regular file; else 0 with the reason in msg. */
static int plugin_file_ok(const char *path, char *msg, size_t msglen) {
  struct stat st;
  if (stat(path, &st) != 0) {
    snprintf(msg, msglen, "backend plugin file '%s': %s", path,
             strerror(errno));
    return 0;
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(msg, msglen, "backend plugin file '%s' is %s, not a plugin file",
             path, S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
    return 0;
  }
  return 1;
}

static int file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The plugin file names (conv_*.so) of one directory, sorted; malloc'd
 * array of malloc'd strings. Returns 0 when out of memory. */
static int dir_plugin_files(const char *dirname, char ***out, size_t *count) {
  *out = NULL;
  *count = 0;
  DIR *dir = opendir(dirname);
  if (dir == NULL) return 1;
  char **names = NULL;
  size_t n = 0, cap = 0;
  int ok = 1;
  struct dirent *ent;
  while ((ent = readdir(dir)) != NULL) {
    if (!is_plugin_file_name(ent->d_name)) continue;
    if (n == cap) {
      size_t c = cap ? 2 * cap : 16;
      char **nn = realloc(names, c * sizeof *nn);
      if (nn == NULL) { ok = 0; break; }
      names = nn;
      cap = c;
    }
    if ((names[n] = strdup(ent->d_name)) == NULL) { ok = 0; break; }
    n++;
  }
  closedir(dir);
  if (!ok) {
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return 0;
  }
  if (n > 1) qsort(names, n, sizeof *names, cmp_names);
  *out = names;
  *count = n;
  return 1;
}

static void free_names(char **names, size_t n) {
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
}

/* A list of records, on the heap. */
typedef struct backend_list {
  conv_backend **items;
  size_t count, cap;
} backend_list;

static int list_push(backend_list *l, conv_backend *be) {
  if (l->count == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    conv_backend **it = realloc(l->items, cap * sizeof *it);
    if (it == NULL) return 0;
    l->items = it;
    l->cap = cap;
  }
  l->items[l->count++] = be;
  return 1;
}

/* Discovery: loads every plugin in the search path, first directory wins
 * for a name. Only the listing calls this; opening a backend never does.
 * Caller holds the lock and frees out->items. */
static conv_status scan_all(backend_list *out, char *msg, size_t msglen) {
  memset(out, 0, sizeof *out);
  search_path sp;
  conv_status st = search_path_get(&sp, msg, msglen);
  if (st != CONV_SUCCESS) return st;
  for (size_t d = 0; d < sp.count && st == CONV_SUCCESS; d++) {
    char **names;
    size_t count;
    if (!dir_plugin_files(sp.dirs[d], &names, &count)) {
      st = CONV_ERROR_OUT_OF_MEMORY;
      break;
    }
    for (size_t i = 0; i < count && st == CONV_SUCCESS; i++) {
      char *path = path_join(sp.dirs[d], names[i]);
      if (path == NULL) { st = CONV_ERROR_OUT_OF_MEMORY; break; }
      conv_backend *be = file_exists(path) ? get_plugin(path, names[i]) : NULL;
      if (be == NULL && file_exists(path)) st = CONV_ERROR_OUT_OF_MEMORY;
      free(path);
      if (be == NULL) continue;
      int duplicate = 0;
      for (size_t k = 0; k < out->count; k++)
        if (out->items[k] == be || strcmp(out->items[k]->name, be->name) == 0)
          duplicate = 1;
      if (!duplicate && !list_push(out, be)) st = CONV_ERROR_OUT_OF_MEMORY;
    }
    free_names(names, count);
  }
  search_path_free(&sp);
  if (st == CONV_ERROR_OUT_OF_MEMORY)
    snprintf(msg, msglen, "listing the plugins: out of memory");
  if (st != CONV_SUCCESS) {
    free(out->items);
    memset(out, 0, sizeof *out);
  }
  return st;
}

/* Appends to msg at *off (snprintf-style, never past msglen). */
static void msg_append(char *msg, size_t msglen, size_t *off, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));
static void msg_append(char *msg, size_t msglen, size_t *off, const char *fmt,
                       ...) {
  if (*off >= msglen) return;
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(msg + *off, msglen - *off, fmt, ap);
  va_end(ap);
  if (w > 0) *off += (size_t)w;
}

/* Finds one backend by name (the file conv_<name>.so in the search path,
 * first directory wins; no other plugin is loaded) or by path (with a '/').
 * Caller holds the lock. */
static conv_status find_one(const char *spec, conv_backend **out, char *msg,
                            size_t msglen) {
  if (strchr(spec, '/') != NULL) {
    if (!plugin_file_ok(spec, msg, msglen)) return CONV_ERROR_BACKEND_NOT_FOUND;
    const char *base = strrchr(spec, '/') + 1;
    conv_backend *be = get_plugin(spec, base);
    if (be == NULL) {
      snprintf(msg, msglen, "cannot record plugin '%s': out of memory", spec);
      return CONV_ERROR_OUT_OF_MEMORY;
    }
    *out = be;
    return CONV_SUCCESS;
  }
  if (strlen(spec) >= sizeof((conv_backend *)0)->name) {
    snprintf(msg, msglen,
             "backend name '%.40s...' is %zu characters long; names have at "
             "most %zu", spec, strlen(spec),
             sizeof((conv_backend *)0)->name - 1);
    return CONV_ERROR_BACKEND_NOT_FOUND;
  }
  search_path sp;
  conv_status st = search_path_get(&sp, msg, msglen);
  if (st != CONV_SUCCESS) return st;
  char file[80];
  snprintf(file, sizeof file, "conv_%s.so", spec);
  for (size_t d = 0; d < sp.count; d++) {
    char *path = path_join(sp.dirs[d], file);
    if (path == NULL) {
      st = CONV_ERROR_OUT_OF_MEMORY;
      snprintf(msg, msglen, "finding backend '%s': out of memory", spec);
      break;
    }
    if (!file_exists(path)) {
      free(path);
      continue;
    }
    conv_backend *be = get_plugin(path, file);
    if (be == NULL) {
      snprintf(msg, msglen, "cannot record plugin '%s': out of memory", path);
      free(path);
      st = CONV_ERROR_OUT_OF_MEMORY;
      break;
    }
    free(path);
    if (be->usable && strcmp(be->name, spec) != 0) {
      snprintf(msg, msglen, "plugin %s calls itself '%s', not '%s'", be->path,
               be->name, spec);
      st = CONV_ERROR_BAD_PLUGIN;
      break;
    }
    *out = be;
    search_path_free(&sp);
    return CONV_SUCCESS;
  }
  if (st == CONV_SUCCESS) {
    /* Not found: name the plugin files there are (without loading them)
     * and the directories searched. */
    size_t off = 0;
    msg_append(msg, msglen, &off, "backend '%s' not found; available:", spec);
    int any = 0;
    for (size_t d = 0; d < sp.count; d++) {
      char **names;
      size_t count;
      if (!dir_plugin_files(sp.dirs[d], &names, &count)) break;
      for (size_t i = 0; i < count; i++) {
        const char *nm = names[i] + 5;
        msg_append(msg, msglen, &off, "%s %.*s", any ? "," : "",
                   (int)(strlen(nm) - 3), nm);
        any = 1;
      }
      free_names(names, count);
    }
    if (!any) msg_append(msg, msglen, &off, " none");
    msg_append(msg, msglen, &off, " (searched:");
    for (size_t d = 0; d < sp.count; d++)
      msg_append(msg, msglen, &off, " %s", sp.dirs[d]);
    msg_append(msg, msglen, &off, ")");
    st = CONV_ERROR_BACKEND_NOT_FOUND;
  }
  search_path_free(&sp);
  return st;
}

/* Has the backend a GPU device? */
static int has_gpu(conv_backend *be) {
  int count = be->table.device_count(be->state);
  for (int i = 0; i < count; i++) {
    conv_device_info info;
    conv_err err;
    memset(&info, 0, sizeof info);
    if (be->table.device_info(be->state, i, &info, &err) == CONV_SUCCESS &&
        info.is_gpu)
      return 1;
  }
  return 0;
}

/* 1 if be is unusable because of a bad setting (its init's status). */
static int bad_setting(const conv_backend *be) {
  return !be->usable && be->init_status == CONV_ERROR_INVALID_ARGUMENT;
}

/* The default: the opencl backend when it has a GPU, else cpu, else
 * opencl on whatever devices it has. Only those two files are opened:
 * other plugins on the path are never loaded unless named. */
static conv_status acquire_default(conv_backend **out, char *msg,
                                   size_t msglen) {
  conv_backend *gpu = NULL, *cpu = NULL;
  char *why = malloc(msglen);
  if (why == NULL) {
    snprintf(msg, msglen, "backend choice: out of memory");
    return CONV_ERROR_OUT_OF_MEMORY;
  }
  conv_status st_gpu = find_one("opencl", &gpu, why, msglen);
  if (st_gpu == CONV_SUCCESS && gpu->usable && has_gpu(gpu)) {
    *out = gpu;
    free(why);
    return CONV_SUCCESS;
  }
  conv_status st = find_one("cpu", &cpu, msg, msglen);
  if (st == CONV_SUCCESS && cpu->usable) {
    *out = cpu;
  } else if (st == CONV_SUCCESS && bad_setting(cpu)) {
    snprintf(msg, msglen, "backend 'cpu' at %s is unusable: %s", cpu->path,
             cpu->reason);
    st = CONV_ERROR_INVALID_ARGUMENT;
  } else if (st_gpu == CONV_SUCCESS && gpu->usable) {
    *out = gpu;
    st = CONV_SUCCESS;
  } else if (st == CONV_SUCCESS) {
    snprintf(msg, msglen, "backend 'cpu' at %s is unusable: %s", cpu->path,
             cpu->reason);
    st = CONV_ERROR_BAD_PLUGIN;
  }
  free(why);
  return st;
}

CONV_INTERNAL conv_status conv_backend_acquire(const char *spec,
                                               conv_backend **out, char *msg,
                                               size_t msglen) {
  conv_status st = CONV_ERROR_BACKEND_NOT_FOUND;
  if (spec != NULL && strlen(spec) > CONV_BACKEND_SPEC_MAX) {
    snprintf(msg, msglen,
             "backend '%.40s...' is %zu characters long; at most %d are "
             "accepted", spec, strlen(spec), CONV_BACKEND_SPEC_MAX);
    return CONV_ERROR_INVALID_ARGUMENT;
  }
  size_t trimmed_len = 0;
  const char *trimmed = spec != NULL ? conv_env_trim(spec, &trimmed_len) : "";
  pthread_mutex_lock(&registry_lock);
  if (trimmed_len == 0) {
    st = acquire_default(out, msg, msglen);
    if (st == CONV_SUCCESS) (*out)->refcount++;
    pthread_mutex_unlock(&registry_lock);
    return st;
  }
  /* A comma-separated preference list: the first usable one wins; the
   * message keeps every reason. Items are trimmed at both ends. */
  char *list = malloc(trimmed_len + 1);
  char *reasons = malloc(msglen);
  char *one = malloc(msglen);
  if (list == NULL || reasons == NULL || one == NULL) {
    free(list);
    free(reasons);
    free(one);
    pthread_mutex_unlock(&registry_lock);
    snprintf(msg, msglen, "backend '%.40s': out of memory", trimmed);
    return CONV_ERROR_OUT_OF_MEMORY;
  }
  memcpy(list, trimmed, trimmed_len);
  list[trimmed_len] = '\0';
  size_t roff = 0;
  reasons[0] = '\0';
  char *save = NULL;
  for (char *item = strtok_r(list, ",", &save); item != NULL;
       item = strtok_r(NULL, ",", &save)) {
    size_t len;
    item = (char *)conv_env_trim(item, &len);
    item[len] = '\0';
    if (len == 0) continue;
    conv_backend *be = NULL;
    conv_status s = find_one(item, &be, one, msglen);
    if (s == CONV_SUCCESS && !be->usable) {
      snprintf(one, msglen, "backend '%s' (%s) is unusable: %s", be->name,
               be->path, be->reason);
      s = bad_setting(be) ? CONV_ERROR_INVALID_ARGUMENT : CONV_ERROR_BAD_PLUGIN;
    }
    if (s == CONV_ERROR_INVALID_ARGUMENT && be != NULL && bad_setting(be)) {
      /* A bad setting is an error, not a reason to try the next one. */
      st = s;
      roff = 0;
      reasons[0] = '\0';
      msg_append(reasons, msglen, &roff, "%s", one);
      break;
    }
    if (s == CONV_SUCCESS) {
      be->refcount++;
      *out = be;
      st = CONV_SUCCESS;
      break;
    }
    /* The first failure's status is the one reported. */
    if (roff == 0) st = s;
    msg_append(reasons, msglen, &roff, "%s%s", roff ? "; " : "", one);
  }
  pthread_mutex_unlock(&registry_lock);
  if (st != CONV_SUCCESS)
    snprintf(msg, msglen, "%s", roff ? reasons : "empty backend list");
  free(list);
  free(reasons);
  free(one);
  return st;
}

CONV_INTERNAL void conv_backend_release(conv_backend *backend) {
  if (backend == NULL) return;
  pthread_mutex_lock(&registry_lock);
  backend->refcount--;
  pthread_mutex_unlock(&registry_lock);
}

CONV_API conv_status conv_backend_list(conv_backend_info *infos,
                                       size_t capacity, size_t *count) {
  if (count == NULL)
    return conv_fail_thread(CONV_ERROR_INVALID_ARGUMENT, "count is NULL");
  if (infos == NULL && capacity > 0)
    return conv_fail_thread(CONV_ERROR_INVALID_ARGUMENT,
                            "infos is NULL with capacity=%zu", capacity);
  char msg[512];
  backend_list all;
  pthread_mutex_lock(&registry_lock);
  conv_status st = scan_all(&all, msg, sizeof msg);
  if (st != CONV_SUCCESS) {
    pthread_mutex_unlock(&registry_lock);
    return conv_fail_thread(st, "%s", msg);
  }
  for (size_t i = 0; i < all.count && i < capacity; i++) {
    conv_backend_info *info = &infos[i];
    const conv_backend *be = all.items[i];
    memset(info, 0, sizeof *info);
    snprintf(info->name, sizeof info->name, "%s", be->name);
    /* A path longer than the field keeps its end (the file name). */
    size_t plen = strlen(be->path);
    if (plen < sizeof info->path)
      memcpy(info->path, be->path, plen + 1);
    else
      snprintf(info->path, sizeof info->path, "...%s",
               be->path + plen - (sizeof info->path - 4));
    snprintf(info->version, sizeof info->version, "%s",
             be->table.version != NULL ? be->table.version : "");
    info->usable = be->usable;
    snprintf(info->reason, sizeof info->reason, "%s", be->reason);
    info->device_count = be->usable ? be->table.device_count(be->state) : 0;
  }
  pthread_mutex_unlock(&registry_lock);
  *count = all.count;
  free(all.items);
  return CONV_SUCCESS;
}
