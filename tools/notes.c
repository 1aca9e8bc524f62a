/* SPDX-License-Identifier: Apache-2.0 */
/* Small user-facing notes shared by convinfo's commands: option errors that
 * name the option, and which thread count a context really runs with.
 * (What a slow first OpenCL plan is doing is said by the backend itself,
 * CONV_PROGRESS, which convinfo turns on.) Public API only. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "tools.h"

void note_option_error(const char *cmd, char **argv,
                       const struct option *longopts) {
  const char *arg = argv[optind - 1];
  for (const struct option *o = longopts; optopt != 0 && o->name; o++)
    if (o->val == optopt && o->has_arg == required_argument) {
      fprintf(stderr, "convinfo %s: option '--%s' needs an argument\n", cmd,
              o->name);
      return;
    }
  fprintf(stderr, "convinfo %s: unknown option '%s'\n", cmd, arg);
}

int context_threads(conv_context *ctx, char *how, size_t len) {
  /* An explicit count is what the cpu backend uses. */
  const char *env = getenv("CONV_NUM_THREADS");
  const char *backend = conv_context_backend(ctx);
  size_t name_len = strcspn(backend, " ");
  char name[64];
  snprintf(name, sizeof name, "%.*s", (int)name_len, backend);
  conv_device_info *devs = NULL;
  size_t count = 0;
  int threads = 0;
  if (conv_device_list(name, NULL, 0, &count) == CONV_SUCCESS && count > 0 &&
      (devs = calloc(count, sizeof *devs)) != NULL &&
      conv_device_list(name, devs, count, &count) == CONV_SUCCESS) {
    for (size_t i = 0; i < count; i++) {
      if (strcmp(devs[i].name, conv_context_device(ctx)) != 0) continue;
      const char *t = strstr(devs[i].details, "threads: ");
      if (t != NULL && (t == devs[i].details || t[-1] == '\n'))
        threads = atoi(t + 9);
    }
  }
  free(devs);
  if (threads <= 0) {
    snprintf(how, len, "- (%s runs no CPU threads of its own)", name);
    return 0;
  }
  if (env != NULL && env[0] != '\0' && atoi(env) > 0) {
    snprintf(how, len, "%d (CONV_NUM_THREADS)", atoi(env));
    return atoi(env);
  }
  snprintf(how, len, "%d (the backend's default: the CPUs this process may "
           "use)", threads);
  return threads;
}
