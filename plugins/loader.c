/* SPDX-License-Identifier: Apache-2.0 */
/* The plugin loader: finds backend shared objects, checks their table and
 * keeps them loaded for the life of the process. A bad plugin is skipped
 * with a reason and never takes the process down. */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conv_env.h"
#include "internal.h"

#ifndef CONV_PLUGIN_DIR
#define CONV_PLUGIN_DIR "/usr/local/lib/libconv"
#endif

CONV_INTERNAL const char *conv_getenv(const char *name) {
  return conv_env_raw(name);
}

/* Plugins are loaded once and kept: unloading a library that may own
 * threads (OpenMP, OpenCL runtimes) is not safe. */
#define MAX_BACKENDS 64
static conv_backend *registry[MAX_BACKENDS];
static size_t registry_count;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

/* ------------------------------------------------------------ search path */

#define MAX_DIRS 32
typedef struct search_path {
  char dirs[MAX_DIRS][PATH_MAX];
  size_t count;
} search_path;

static void path_add(search_path *sp, const char *dir, size_t len) {
  if (len == 0 || len >= PATH_MAX || sp->count >= MAX_DIRS) return;
  for (size_t i = 0; i < sp->count; i++)
    if (strlen(sp->dirs[i]) == len && memcmp(sp->dirs[i], dir, len) == 0) return;
  memcpy(sp->dirs[sp->count], dir, len);
  sp->dirs[sp->count][len] = '\0';
  sp->count++;
}

/* True if this libconv is the one in the build tree (not installed): then
 * the freshly built plugins next to it are found without make install. */
static int running_from_build_tree(void) {
#if defined(HAVE_DLADDR) && defined(CONV_BUILD_DIR)
  Dl_info info;
  if (dladdr((void *)&conv_backend_list, &info) == 0 || info.dli_fname == NULL)
    return 0;
  char self[PATH_MAX], expected[PATH_MAX];
  if (realpath(info.dli_fname, self) == NULL) return 0;
  char *slash = strrchr(self, '/');
  if (slash == NULL) return 0;
  *slash = '\0';
  if (realpath(CONV_BUILD_DIR "/plugins/.libs", expected) == NULL) return 0;
  return strcmp(self, expected) == 0;
#else
  return 0;
#endif
}

static void search_path_get(search_path *sp) {
  sp->count = 0;
  const char *env = conv_getenv("CONV_PLUGIN_PATH");
  if (env != NULL) {
    const char *start = env;
    for (const char *c = env;; c++) {
      if (*c == ':' || *c == '\0') {
        path_add(sp, start, (size_t)(c - start));
        if (*c == '\0') break;
        start = c + 1;
      }
    }
  }
#ifdef CONV_BUILD_DIR
  if (running_from_build_tree()) {
    static const char *const built[] = {"/backends/cpu/.libs",
                                        "/backends/opencl/.libs"};
    for (size_t i = 0; i < sizeof built / sizeof built[0]; i++) {
      char dir[PATH_MAX];
      int n = snprintf(dir, sizeof dir, "%s%s", CONV_BUILD_DIR, built[i]);
      if (n > 0 && (size_t)n < sizeof dir) path_add(sp, dir, (size_t)n);
    }
  }
#endif
  path_add(sp, CONV_PLUGIN_DIR, strlen(CONV_PLUGIN_DIR));
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
  return 1;
}

/* --------------------------------------------------------------- loading */

/* Loads the plugin at path (already checked to exist) into a new record.
 * Never fails to return a record: a bad plugin gets usable=0 and a reason. */
static conv_backend *load_plugin(const char *path, const char *file_name) {
  conv_backend *be = calloc(1, sizeof *be);
  if (be == NULL) return NULL;
  snprintf(be->path, sizeof be->path, "%s", path);
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
  snprintf(be->name, sizeof be->name, "%s", be->table.name);

  conv_err err;
  memset(&err, 0, sizeof err);
  conv_status st = be->table.init(&be->state, &err);
  if (st != CONV_SUCCESS) {
    snprintf(be->reason, sizeof be->reason, "init failed (%s): %s",
             conv_status_string(st), err.msg[0] ? err.msg : "no message");
    be->state = NULL;
    return be;
  }
  be->usable = 1;
  return be;
}

/* Returns the record for path, loading it on first use. Caller holds the
 * registry lock. */
static conv_backend *get_plugin(const char *path, const char *file_name) {
  char real[PATH_MAX];
  const char *key = realpath(path, real) != NULL ? real : path;
  for (size_t i = 0; i < registry_count; i++)
    if (strcmp(registry[i]->path, key) == 0) return registry[i];
  if (registry_count >= MAX_BACKENDS) return NULL;
  conv_backend *be = load_plugin(key, file_name);
  if (be != NULL) registry[registry_count++] = be;
  return be;
}

static int is_plugin_file_name(const char *name) {
  size_t len = strlen(name);
  return len > 8 && strncmp(name, "conv_", 5) == 0 &&
         strcmp(name + len - 3, ".so") == 0;
}

static int file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Every plugin in the search path, first directory wins for a name. Caller
 * holds the lock. Returns the count written to out. */
static size_t scan_all(conv_backend **out, size_t capacity) {
  search_path sp;
  search_path_get(&sp);
  size_t n = 0;
  for (size_t d = 0; d < sp.count; d++) {
    DIR *dir = opendir(sp.dirs[d]);
    if (dir == NULL) continue;
    /* Sorted for a stable order. */
    char names[MAX_BACKENDS][256];
    size_t count = 0;
    struct dirent *ent;
    while ((ent = readdir(dir)) != NULL && count < MAX_BACKENDS) {
      if (!is_plugin_file_name(ent->d_name) || strlen(ent->d_name) >= 256)
        continue;
      snprintf(names[count++], 256, "%s", ent->d_name);
    }
    closedir(dir);
    qsort(names, count, sizeof names[0],
          (int (*)(const void *, const void *))strcmp);
    for (size_t i = 0; i < count && n < capacity; i++) {
      char path[PATH_MAX + 256];
      snprintf(path, sizeof path, "%s/%s", sp.dirs[d], names[i]);
      if (!file_exists(path)) continue;
      conv_backend *be = get_plugin(path, names[i]);
      if (be == NULL) continue;
      int duplicate = 0;
      for (size_t k = 0; k < n; k++)
        if (out[k] == be || strcmp(out[k]->name, be->name) == 0) duplicate = 1;
      if (!duplicate) out[n++] = be;
    }
  }
  return n;
}

/* Finds one backend by name or path. Caller holds the lock. */
static conv_status find_one(const char *spec, conv_backend **out, char *msg,
                            size_t msglen) {
  if (strchr(spec, '/') != NULL) {
    if (!file_exists(spec)) {
      snprintf(msg, msglen, "backend plugin file '%s' does not exist", spec);
      return CONV_ERROR_BACKEND_NOT_FOUND;
    }
    const char *base = strrchr(spec, '/') + 1;
    conv_backend *be = get_plugin(spec, base);
    if (be == NULL) {
      snprintf(msg, msglen, "cannot record plugin '%s'", spec);
      return CONV_ERROR_OUT_OF_MEMORY;
    }
    *out = be;
    return CONV_SUCCESS;
  }
  /* The file conv_<name>.so first, so that asking for one backend does not
   * load (and initialise the drivers of) every other one. */
  search_path sp;
  search_path_get(&sp);
  for (size_t d = 0; d < sp.count; d++) {
    char file[300], path[PATH_MAX + 300];
    snprintf(file, sizeof file, "conv_%s.so", spec);
    snprintf(path, sizeof path, "%s/%s", sp.dirs[d], file);
    if (!file_exists(path)) continue;
    conv_backend *be = get_plugin(path, file);
    if (be != NULL && strcmp(be->name, spec) == 0) {
      *out = be;
      return CONV_SUCCESS;
    }
  }
  conv_backend *all[MAX_BACKENDS];
  size_t n = scan_all(all, MAX_BACKENDS);
  for (size_t i = 0; i < n; i++) {
    if (strcmp(all[i]->name, spec) == 0) {
      *out = all[i];
      return CONV_SUCCESS;
    }
  }
  /* Name the directories searched and what exists. */
  int off = snprintf(msg, msglen, "backend '%s' not found; available:", spec);
  for (size_t i = 0; i < n && off > 0 && (size_t)off < msglen; i++)
    off += snprintf(msg + off, msglen - (size_t)off, "%s %s%s", i ? "," : "",
                    all[i]->name, all[i]->usable ? "" : " (unusable)");
  if (n == 0 && off > 0 && (size_t)off < msglen)
    off += snprintf(msg + off, msglen - (size_t)off, " none");
  if (off > 0 && (size_t)off < msglen)
    off += snprintf(msg + off, msglen - (size_t)off, " (searched:");
  for (size_t d = 0; d < sp.count && off > 0 && (size_t)off < msglen; d++)
    off += snprintf(msg + off, msglen - (size_t)off, " %s", sp.dirs[d]);
  if (off > 0 && (size_t)off < msglen)
    snprintf(msg + off, msglen - (size_t)off, ")");
  return CONV_ERROR_BACKEND_NOT_FOUND;
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

CONV_INTERNAL conv_status conv_backend_acquire(const char *spec,
                                               conv_backend **out, char *msg,
                                               size_t msglen) {
  conv_status st = CONV_ERROR_BACKEND_NOT_FOUND;
  pthread_mutex_lock(&registry_lock);
  if (spec == NULL || spec[0] == '\0') {
    /* Best available: a backend with a GPU device, else cpu, else any. */
    conv_backend *all[MAX_BACKENDS], *pick = NULL;
    size_t n = scan_all(all, MAX_BACKENDS);
    for (size_t i = 0; i < n && pick == NULL; i++)
      if (all[i]->usable && has_gpu(all[i])) pick = all[i];
    for (size_t i = 0; i < n && pick == NULL; i++)
      if (all[i]->usable && strcmp(all[i]->name, "cpu") == 0) pick = all[i];
    for (size_t i = 0; i < n && pick == NULL; i++)
      if (all[i]->usable) pick = all[i];
    if (pick == NULL) {
      st = find_one("cpu", &pick, msg, msglen);
      if (st == CONV_SUCCESS) {
        snprintf(msg, msglen, "backend 'cpu' at %s is unusable: %s", pick->path,
                 pick->reason);
        st = CONV_ERROR_BAD_PLUGIN;
      }
    } else {
      *out = pick;
      pick->refcount++;
      st = CONV_SUCCESS;
    }
    pthread_mutex_unlock(&registry_lock);
    return st;
  }
  /* A comma-separated preference list: the first usable one wins; the
   * message keeps every reason. */
  char list[1024];
  snprintf(list, sizeof list, "%s", spec);
  char reasons[2048] = "";
  size_t roff = 0;
  char *save = NULL;
  for (char *item = strtok_r(list, ",", &save); item != NULL;
       item = strtok_r(NULL, ",", &save)) {
    while (*item == ' ') item++;
    if (*item == '\0') continue;
    char one[1024];
    conv_backend *be = NULL;
    conv_status s = find_one(item, &be, one, sizeof one);
    if (s == CONV_SUCCESS && !be->usable) {
      snprintf(one, sizeof one, "backend '%s' (%s) is unusable: %s", be->name,
               be->path, be->reason);
      s = CONV_ERROR_BAD_PLUGIN;
    }
    if (s == CONV_SUCCESS) {
      be->refcount++;
      *out = be;
      pthread_mutex_unlock(&registry_lock);
      return CONV_SUCCESS;
    }
    /* The first failure's status is the one reported. */
    if (roff == 0) st = s;
    if (roff < sizeof reasons) {
      int w = snprintf(reasons + roff, sizeof reasons - roff, "%s%s",
                       roff ? "; " : "", one);
      if (w > 0) roff += (size_t)w;
    }
  }
  pthread_mutex_unlock(&registry_lock);
  snprintf(msg, msglen, "%s", roff ? reasons : "empty backend list");
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
  pthread_mutex_lock(&registry_lock);
  conv_backend *all[MAX_BACKENDS];
  size_t n = scan_all(all, MAX_BACKENDS);
  for (size_t i = 0; i < n && i < capacity; i++) {
    conv_backend_info *info = &infos[i];
    memset(info, 0, sizeof *info);
    snprintf(info->name, sizeof info->name, "%s", all[i]->name);
    snprintf(info->path, sizeof info->path, "%s", all[i]->path);
    snprintf(info->version, sizeof info->version, "%s",
             all[i]->table.version != NULL ? all[i]->table.version : "");
    info->usable = all[i]->usable;
    snprintf(info->reason, sizeof info->reason, "%s", all[i]->reason);
    info->device_count =
        all[i]->usable ? all[i]->table.device_count(all[i]->state) : 0;
  }
  pthread_mutex_unlock(&registry_lock);
  *count = n;
  return CONV_SUCCESS;
}
