/* SPDX-License-Identifier: Apache-2.0 */
/* Status strings, version queries and the error messages of libconv. */
#include "config.h"

#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

CONV_API const char *conv_status_string(conv_status status) {
  switch (status) {
#define CONV_STATUS_CASE_(name, value, text) \
  case name:                                 \
    return text;
    CONV_STATUS_LIST(CONV_STATUS_CASE_)
#undef CONV_STATUS_CASE_
  }
  return "unknown status";
}

CONV_API const char *conv_version_string(void) { return CONV_VERSION_STRING; }

CONV_API int conv_version(void) { return CONV_VERSION; }

/* Failures that have no context (conv_context_create, conv_output_size, the
 * listing calls) are kept per thread. */
static _Thread_local char thread_message[1024];
/* conv_last_error() copies a message here so the caller reads a stable
 * string even while another thread records a new failure. */
static _Thread_local char thread_copy[1024];

/* Each thread's own latest failure on the last few contexts it failed on,
 * so that on a context shared by threads each reads its own reason. A
 * context not found here (this thread never failed on it, or failed on
 * more than OWN_SLOTS others since) reads the context's latest message. */
#define OWN_SLOTS 8
typedef struct own_message {
  uint64_t ctx_id; /* 0: free */
  char text[1024];
} own_message;
static _Thread_local own_message own[OWN_SLOTS];
static _Thread_local unsigned own_next;

static _Atomic uint64_t next_context_id = 1;

CONV_INTERNAL uint64_t conv_context_new_id(void) {
  return next_context_id++;
}

static own_message *own_find(uint64_t id) {
  for (unsigned i = 0; i < OWN_SLOTS; i++)
    if (own[i].ctx_id == id) return &own[i];
  return NULL;
}

CONV_INTERNAL conv_status conv_fail_thread(conv_status status, const char *fmt,
                                           ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(thread_message, sizeof thread_message, fmt, ap);
  va_end(ap);
  return status;
}

CONV_INTERNAL void conv_clear_thread_error(void) { thread_message[0] = '\0'; }

CONV_INTERNAL conv_status conv_fail(conv_context *ctx, conv_status status,
                                    const char *fmt, ...) {
  char *buffer = ctx != NULL ? NULL : thread_message;
  own_message *slot = NULL;
  if (ctx != NULL) {
    slot = own_find(ctx->id);
    if (slot == NULL) {
      slot = &own[own_next];
      own_next = (own_next + 1) % OWN_SLOTS;
      slot->ctx_id = ctx->id;
    }
    buffer = slot->text;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buffer, sizeof thread_message, fmt, ap);
  va_end(ap);
  if (ctx == NULL) return status;
  pthread_mutex_lock(&ctx->lock);
  memcpy(ctx->message, slot->text, sizeof ctx->message);
  pthread_mutex_unlock(&ctx->lock);
  return status;
}

CONV_API const char *conv_last_error(const conv_context *ctx) {
  if (ctx == NULL) {
    memcpy(thread_copy, thread_message, sizeof thread_copy);
    return thread_copy;
  }
  const own_message *slot = own_find(ctx->id);
  if (slot != NULL) {
    memcpy(thread_copy, slot->text, sizeof thread_copy);
    return thread_copy;
  }
  conv_context *mutable_ctx = (conv_context *)ctx;
  pthread_mutex_lock(&mutable_ctx->lock);
  memcpy(thread_copy, ctx->message, sizeof thread_copy);
  pthread_mutex_unlock(&mutable_ctx->lock);
  return thread_copy;
}
