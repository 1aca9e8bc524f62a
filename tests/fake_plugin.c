/* SPDX-License-Identifier: Apache-2.0 */
/* Fake backends for test_loader, one defect each, chosen by FAKE_KIND at
 * build time (see Makefile.am). FAKE_GOOD is a complete, tiny host-memory
 * backend whose forward writes 42 everywhere, so a test can tell that a run
 * call reached it. */
#include <stdlib.h>
#include <string.h>

#include "conv_plugin.h"

#define FAKE_GOOD 1
#define FAKE_ABI_MAJOR 2
#define FAKE_ABI_MINOR 3
#define FAKE_NO_ENTRY 4
#define FAKE_NULL_FN 5
#define FAKE_INIT_FAIL 6
#define FAKE_OLD_MINOR 7    /* an ABI 1.0 plugin: smaller table, no pooling */
#define FAKE_POOL_PARTIAL 8 /* one of the four pooling entries filled */
#define FAKE_AVG_PARTIAL 9  /* ABI 1.2: one of the two avgpool entries */
#define FAKE_EPI_PARTIAL 10 /* ABI 1.2: bias_activation without channel_sum */
#define FAKE_BDE_ALONE 17   /* ABI 1.2: backward_data_bias_activation alone */
/* Hostile plugins (test_hardening): loading them takes a process down or
 * never returns, so only a program that names them may touch them. */
#define FAKE_INIT_CRASH 11   /* init dereferences NULL */
#define FAKE_INIT_ABORT 12   /* init calls abort() */
#define FAKE_INIT_HANG 13    /* init never returns */
#define FAKE_INIT_GARBAGE 14 /* init: a status out of the enum, unterminated
                                message, garbage state */
#define FAKE_CTOR_ABORT 15   /* a constructor aborts at dlopen */
#define FAKE_GARBAGE_TABLE 16 /* the entry returns random bytes */

#ifndef FAKE_KIND
#  error "FAKE_KIND must be defined"
#endif

#if FAKE_KIND == FAKE_GOOD
#  define FAKE_NAME "fakegood"
#elif FAKE_KIND == FAKE_ABI_MAJOR
#  define FAKE_NAME "fakeabimajor"
#elif FAKE_KIND == FAKE_ABI_MINOR
#  define FAKE_NAME "fakeabiminor"
#elif FAKE_KIND == FAKE_NO_ENTRY
#  define FAKE_NAME "fakenoentry"
#elif FAKE_KIND == FAKE_NULL_FN
#  define FAKE_NAME "fakenullfn"
#elif FAKE_KIND == FAKE_INIT_FAIL
#  define FAKE_NAME "fakeinitfail"
#elif FAKE_KIND == FAKE_OLD_MINOR
#  define FAKE_NAME "fakeoldminor"
#elif FAKE_KIND == FAKE_POOL_PARTIAL
#  define FAKE_NAME "fakepoolpartial"
#elif FAKE_KIND == FAKE_AVG_PARTIAL
#  define FAKE_NAME "fakeavgpartial"
#elif FAKE_KIND == FAKE_EPI_PARTIAL
#  define FAKE_NAME "fakeepipartial"
#elif FAKE_KIND == FAKE_BDE_ALONE
#  define FAKE_NAME "fakebdealone"
#elif FAKE_KIND == FAKE_INIT_CRASH
#  define FAKE_NAME "hostilecrash"
#elif FAKE_KIND == FAKE_INIT_ABORT
#  define FAKE_NAME "hostileabort"
#elif FAKE_KIND == FAKE_INIT_HANG
#  define FAKE_NAME "hostilehang"
#elif FAKE_KIND == FAKE_INIT_GARBAGE
#  define FAKE_NAME "hostilegarbage"
#elif FAKE_KIND == FAKE_CTOR_ABORT
#  define FAKE_NAME "hostilector"
#elif FAKE_KIND == FAKE_GARBAGE_TABLE
#  define FAKE_NAME "hostiletable"
#endif

#if FAKE_KIND == FAKE_INIT_HANG
#include <unistd.h>
#endif

#if FAKE_KIND == FAKE_CTOR_ABORT
__attribute__((constructor)) static void fake_ctor(void) { abort(); }
#endif

static int fake_state;

static conv_status fake_init(void **backend, conv_err *err) {
#if FAKE_KIND == FAKE_INIT_CRASH
  (void)err;
  volatile int *nowhere = NULL;
  *nowhere = 1;
  *backend = NULL;
  return CONV_SUCCESS;
#elif FAKE_KIND == FAKE_INIT_ABORT
  (void)err;
  *backend = NULL;
  abort();
#elif FAKE_KIND == FAKE_INIT_HANG
  (void)err;
  *backend = NULL;
  for (;;) pause();
  return CONV_SUCCESS; /* not reached */
#elif FAKE_KIND == FAKE_INIT_GARBAGE
  memset(err->msg, 'G', sizeof err->msg);
  *backend = (void *)(uintptr_t)0xdeadbeef;
  return (conv_status)12345;
#elif FAKE_KIND == FAKE_INIT_FAIL
  *backend = NULL;
  return conv_err_set(err, CONV_ERROR_DEVICE,
                      "fake driver: no such hardware (code 1234)");
#else
  (void)err;
  *backend = &fake_state;
  return CONV_SUCCESS;
#endif
}

static void fake_fini(void *backend) { (void)backend; }

static int fake_device_count(void *backend) {
  (void)backend;
  return 1;
}

static conv_status fake_device_info(void *backend, int index,
                                    conv_device_info *info, conv_err *err) {
  (void)backend;
  if (index != 0)
    return conv_err_set(err, CONV_ERROR_DEVICE_NOT_FOUND, "fake: no device %d",
                        index);
  memset(info, 0, sizeof *info);
  strcpy(info->name, "fake device");
  strcpy(info->details, "vendor: nobody\n");
  return CONV_SUCCESS;
}

static conv_status fake_device_open(void *backend, int index, void **device,
                                    conv_err *err) {
  (void)backend;
  if (index != 0)
    return conv_err_set(err, CONV_ERROR_DEVICE_NOT_FOUND, "fake: no device %d",
                        index);
  *device = &fake_state;
  return CONV_SUCCESS;
}

static void fake_device_close(void *device) { (void)device; }

typedef struct fake_plan {
  conv_problem p;
} fake_plan;

#if defined(__GNUC__)
__attribute__((unused)) /* not in the table of FAKE_NULL_FN */
#endif
static conv_status fake_plan_create(void *device, const conv_problem *problem,
                                    const conv_plan_options *options,
                                    void **plan, conv_err *err) {
  (void)device;
  (void)options;
  fake_plan *fp = malloc(sizeof *fp);
  if (fp == NULL)
    return conv_err_set(err, CONV_ERROR_OUT_OF_MEMORY, "fake: plan");
  fp->p = *problem;
  *plan = fp;
  return CONV_SUCCESS;
}

static void fake_plan_destroy(void *plan) { free(plan); }

static const char *fake_plan_algorithm(void *plan, conv_op op) {
  (void)plan;
  (void)op;
  return "fake42";
}

static size_t fake_plan_workspace(void *plan) {
  (void)plan;
  return 0;
}

static void fill(float *p, size_t n, float v) {
  for (size_t i = 0; i < n; i++) p[i] = v;
}

static conv_status fake_forward(void *plan, const void *x, const void *w,
                                const void *b, void *y, conv_err *err) {
  (void)x; (void)w; (void)b; (void)err;
  const conv_problem *p = &((fake_plan *)plan)->p;
  fill(y, (size_t)(p->n * p->c_out * p->h_out * p->w_out), 42.0f);
  return CONV_SUCCESS;
}

static conv_status fake_backward_data(void *plan, const void *dy,
                                      const void *w, void *dx, conv_err *err) {
  (void)plan; (void)dy; (void)w; (void)dx;
  return conv_err_set(err, CONV_ERROR_UNSUPPORTED, "fake: backward_data");
}

static conv_status fake_backward_weight(void *plan, const void *x,
                                        const void *dy, void *dw, void *db,
                                        conv_err *err) {
  (void)plan; (void)x; (void)dy; (void)dw; (void)db;
  return conv_err_set(err, CONV_ERROR_UNSUPPORTED, "fake: backward_weight");
}

static conv_status fake_backward_bias(void *plan, const void *dy, void *db,
                                      conv_err *err) {
  (void)plan; (void)dy; (void)db;
  return conv_err_set(err, CONV_ERROR_UNSUPPORTED, "fake: backward_bias");
}

static conv_status fake_mem_alloc(void *device, size_t bytes, void **mem,
                                  conv_err *err) {
  (void)device;
  *mem = malloc(bytes ? bytes : 1);
  if (*mem == NULL)
    return conv_err_set(err, CONV_ERROR_OUT_OF_MEMORY, "fake: %zu bytes",
                        bytes);
  return CONV_SUCCESS;
}

static void fake_mem_free(void *device, void *mem) {
  (void)device;
  free(mem);
}

static conv_status fake_mem_write(void *device, void *mem, size_t offset,
                                  size_t bytes, const void *src,
                                  conv_err *err) {
  (void)device; (void)err;
  memcpy((char *)mem + offset, src, bytes);
  return CONV_SUCCESS;
}

static conv_status fake_mem_read(void *device, const void *mem, size_t offset,
                                 size_t bytes, void *dst, conv_err *err) {
  (void)device; (void)err;
  memcpy(dst, (const char *)mem + offset, bytes);
  return CONV_SUCCESS;
}

#if FAKE_KIND == FAKE_POOL_PARTIAL
static void fake_pool_plan_destroy(void *plan) { free(plan); }
#endif
#if FAKE_KIND == FAKE_AVG_PARTIAL
static conv_status fake_avgpool_backward(void *plan, const void *dy, void *dx,
                                         conv_err *err) {
  (void)plan; (void)dy; (void)dx;
  return conv_err_set(err, CONV_ERROR_UNSUPPORTED, "fake: avgpool_backward");
}
#endif
#if FAKE_KIND == FAKE_BDE_ALONE
static conv_status fake_bde(void *plan, const void *dy, const void *w,
                            const void *b, void *dx, conv_activation act,
                            float alpha, conv_err *err) {
  (void)plan; (void)dy; (void)w; (void)b; (void)dx; (void)act; (void)alpha;
  return conv_err_set(err, CONV_ERROR_UNSUPPORTED, "fake: bde");
}
#endif
#if FAKE_KIND == FAKE_EPI_PARTIAL
static conv_status fake_bias_activation(void *plan, void *y, const void *b,
                                        int64_t n, int64_t c, int64_t hw,
                                        conv_activation act, float alpha,
                                        conv_err *err) {
  (void)plan; (void)y; (void)b; (void)n; (void)c; (void)hw; (void)act;
  (void)alpha;
  return conv_err_set(err, CONV_ERROR_UNSUPPORTED, "fake: bias_activation");
}
#endif

static const conv_plugin fake_table = {
#if FAKE_KIND == FAKE_ABI_MAJOR
    .abi_major = CONV_PLUGIN_ABI_MAJOR + 1,
#else
    .abi_major = CONV_PLUGIN_ABI_MAJOR,
#endif
#if FAKE_KIND == FAKE_ABI_MINOR
    .abi_minor = CONV_PLUGIN_ABI_MINOR + 1,
#elif FAKE_KIND == FAKE_OLD_MINOR
    .abi_minor = 0,
#else
    .abi_minor = CONV_PLUGIN_ABI_MINOR,
#endif
#if FAKE_KIND == FAKE_OLD_MINOR
    /* Built against ABI 1.0, whose table ended at mem_read. */
    .size = offsetof(conv_plugin, pool_plan_create),
#else
    .size = sizeof(conv_plugin),
#endif
    .name = FAKE_NAME,
    .version = "9.9.9-fake",
    .flags = CONV_PLUGIN_HOST_MEMORY,
    .init = fake_init,
    .fini = fake_fini,
    .device_count = fake_device_count,
    .device_info = fake_device_info,
    .device_open = fake_device_open,
    .device_close = fake_device_close,
#if FAKE_KIND == FAKE_NULL_FN
    .plan_create = NULL, /* the defect: a required entry left empty */
#else
    .plan_create = fake_plan_create,
#endif
    .plan_destroy = fake_plan_destroy,
    .plan_algorithm = fake_plan_algorithm,
    .plan_workspace = fake_plan_workspace,
    .forward = fake_forward,
    .backward_data = fake_backward_data,
    .backward_weight = fake_backward_weight,
    .backward_bias = fake_backward_bias,
    .mem_alloc = fake_mem_alloc,
    .mem_free = fake_mem_free,
    .mem_write = fake_mem_write,
    .mem_read = fake_mem_read,
#if FAKE_KIND == FAKE_POOL_PARTIAL
    .pool_plan_destroy = fake_pool_plan_destroy, /* the defect: 1 of 4 */
#endif
#if FAKE_KIND == FAKE_AVG_PARTIAL
    .avgpool_backward = fake_avgpool_backward, /* the defect: 1 of 2 */
#endif
#if FAKE_KIND == FAKE_EPI_PARTIAL
    .bias_activation = fake_bias_activation, /* the defect: 1 of 2 */
#endif
#if FAKE_KIND == FAKE_BDE_ALONE
    /* the defect: the fused entry without the pair it falls back on */
    .backward_data_bias_activation = fake_bde,
#endif
};

#if FAKE_KIND == FAKE_GARBAGE_TABLE
/* Bytes that are no table: whatever the loader reads, it must not call. */
static const unsigned char garbage[sizeof(conv_plugin) * 2] = {
    0x5a, 0xa5, 0x13, 0x37, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03};
CONV_PLUGIN_EXPORT const conv_plugin *conv_plugin_entry(void) {
  (void)fake_table;
  return (const conv_plugin *)(const void *)garbage;
}
#elif FAKE_KIND == FAKE_NO_ENTRY
/* The defect: the table exists but the entry symbol has another name. */
CONV_PLUGIN_EXPORT const conv_plugin *conv_plugin_entry_misspelt(void);
CONV_PLUGIN_EXPORT const conv_plugin *conv_plugin_entry_misspelt(void) {
  return &fake_table;
}
#else
CONV_PLUGIN_EXPORT const conv_plugin *conv_plugin_entry(void) {
  return &fake_table;
}
#endif
