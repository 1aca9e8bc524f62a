/* SPDX-License-Identifier: Apache-2.0 */
/* Error handling done right: every call returns a conv_status; on failure
 * conv_last_error() says which argument and which value, nothing was
 * written, and the context is still usable. One cleanup label frees
 * whatever was made, in reverse order; destroy functions accept NULL.
 *
 * The program makes three mistakes on purpose and shows what each reports,
 * then does the right thing with the same context. */
#include <conv.h>
#include <stdio.h>
#include <string.h>

/* Reports a failure the way an application would. */
static void report(const char *what, conv_status st, const conv_context *ctx) {
  fprintf(stdout, "%s: %s (status %d: %s)\n", what, conv_last_error(ctx),
          (int)st, conv_status_string(st));
}

int main(void) {
  int rc = 1;
  conv_context *ctx = NULL;
  conv_plan *plan = NULL;
  conv_status st;

  /* 1. A backend that does not exist. No context, so the reason is the
   *    thread's: conv_last_error(NULL). */
  st = conv_context_create(&ctx, "no-such-backend", NULL);
  if (st != CONV_ERROR_BACKEND_NOT_FOUND) {
    fprintf(stderr, "errors: expected BACKEND_NOT_FOUND, got %d\n", (int)st);
    goto done;
  }
  report("unknown backend", st, NULL);

  /* The default backend. */
  st = conv_context_create(&ctx, NULL, NULL);
  if (st != CONV_SUCCESS) {
    report("context", st, NULL);
    goto done;
  }

  /* 2. groups must divide the channel counts: the plan is refused and the
   *    message names both values. */
  conv_desc d;
  conv_desc_init(&d);
  d.n = 1; d.c_in = 4; d.h = 8; d.w = 8;
  d.c_out = 6; d.kernel[0] = 3; d.kernel[1] = 3;
  d.groups = 3;
  st = conv_plan_create(ctx, &d, &plan);
  if (st != CONV_ERROR_INVALID_ARGUMENT || plan != NULL ||
      strstr(conv_last_error(ctx), "groups") == NULL) {
    fprintf(stderr, "errors: a bad groups was not refused as documented\n");
    goto done;
  }
  report("bad groups", st, ctx);

  /* 3. A NULL tensor on a good plan: refused, y left as it was. */
  d.groups = 2;
  float x[256] = {0}, w[6 * 2 * 9] = {0}, y[6 * 36];
  for (int i = 0; i < 6 * 36; i++) y[i] = -1.0f;
  if ((st = conv_plan_create(ctx, &d, &plan)) != CONV_SUCCESS) {
    report("plan", st, ctx);
    goto done;
  }
  st = conv_forward(plan, NULL, w, NULL, y);
  if (st != CONV_ERROR_INVALID_ARGUMENT || y[0] != -1.0f) {
    fprintf(stderr, "errors: a NULL input was not refused as documented\n");
    goto done;
  }
  report("NULL input", st, ctx);

  /* The context and the plan still work. */
  if ((st = conv_forward(plan, x, w, NULL, y)) != CONV_SUCCESS) {
    report("forward", st, ctx);
    goto done;
  }
  printf("after the errors: forward ran, y[0] = %g\n", y[0]);
  rc = 0;
done:
  conv_plan_destroy(plan); /* NULL is fine */
  conv_context_destroy(ctx);
  return rc;
}
