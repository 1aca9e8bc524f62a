/* SPDX-License-Identifier: Apache-2.0 */
/* Descriptor checks: conv_desc_init's defaults, conv_output_size against a
 * table of PyTorch's shape rules and of every rejected descriptor (status
 * and the words of the message), conv_status_string and the version. The
 * expected sizes of the valid rows were worked out by hand and agree with
 * torch.nn.functional.conv2d (and F.pad for the border modes). */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "testutil.h"

#define EXPL CONV_PADDING_EXPLICIT
#define SAME CONV_PADDING_SAME
#define VALID CONV_PADDING_VALID
#define FULL CONV_PADDING_FULL
#define ZEROS CONV_PAD_ZEROS
#define REFL CONV_PAD_REFLECT
#define REPL CONV_PAD_REPLICATE
#define CIRC CONV_PAD_CIRCULAR
#define SYMM CONV_PAD_SYMMETRIC
#define OK CONV_SUCCESS
#define INVAL CONV_ERROR_INVALID_ARGUMENT
#define OVERFLOW CONV_ERROR_SIZE_OVERFLOW
#define BIG ((int64_t)1 << 20)
#define HUGE64 ((int64_t)1 << 40)

typedef struct desc_case {
  const char *what;
  int64_t x[4];  /* n, c_in, h, w */
  int64_t c_out;
  int64_t k[2], s[2], d[2];
  int64_t groups;
  int padding;
  int64_t pad[4];
  int mode;
  int bias, flip;
  /* expected */
  conv_status status;
  int64_t h_out, w_out;
  int64_t pads[4];
  const char *msg; /* substring of conv_last_error(NULL), errors only */
  const char *msg2;
} desc_case;

static const desc_case cases[] = {
    /* ------------------------------------------------ valid descriptors */
    {"2x2 kernel on 3x3", {1, 1, 3, 3}, 1, {2, 2}, {1, 1}, {1, 1}, 1, EXPL,
     {0, 0, 0, 0}, ZEROS, 0, 0, OK, 2, 2, {0, 0, 0, 0}, NULL, NULL},
    {"padding 1 stride 2", {1, 1, 3, 3}, 1, {2, 2}, {2, 2}, {1, 1}, 1, EXPL,
     {1, 1, 1, 1}, ZEROS, 0, 0, OK, 2, 2, {1, 1, 1, 1}, NULL, NULL},
    {"pair padding (2,1)", {2, 3, 8, 6}, 4, {3, 3}, {1, 1}, {1, 1}, 1, EXPL,
     {2, 2, 1, 1}, ZEROS, 1, 0, OK, 10, 6, {2, 2, 1, 1}, NULL, NULL},
    {"four-sided pads, stride and dilation", {1, 2, 10, 7}, 2, {3, 3}, {3, 2},
     {2, 1}, 1, EXPL, {1, 0, 2, 3}, ZEROS, 0, 0, OK, 3, 5, {1, 0, 2, 3}, NULL,
     NULL},
    {"stride larger than input", {1, 1, 3, 3}, 1, {1, 1}, {5, 7}, {1, 1}, 1,
     EXPL, {0, 0, 0, 0}, ZEROS, 0, 0, OK, 1, 1, {0, 0, 0, 0}, NULL, NULL},
    {"kernel equals input", {1, 1, 3, 4}, 1, {3, 4}, {1, 1}, {1, 1}, 1, EXPL,
     {0, 0, 0, 0}, ZEROS, 0, 0, OK, 1, 1, {0, 0, 0, 0}, NULL, NULL},
    {"kernel fits only with padding", {1, 1, 2, 2}, 1, {4, 3}, {1, 1}, {1, 1},
     1, EXPL, {1, 1, 0, 1}, ZEROS, 0, 0, OK, 1, 1, {1, 1, 0, 1}, NULL, NULL},
    {"same, odd kernel", {1, 1, 5, 5}, 1, {3, 3}, {1, 1}, {1, 1}, 1, SAME,
     {0, 0, 0, 0}, ZEROS, 0, 0, OK, 5, 5, {1, 1, 1, 1}, NULL, NULL},
    {"same, even kernel: odd pad after", {1, 1, 5, 6}, 1, {4, 2}, {1, 1},
     {1, 1}, 1, SAME, {0, 0, 0, 0}, ZEROS, 0, 0, OK, 5, 6, {1, 2, 0, 1}, NULL,
     NULL},
    {"same, even kernel, flip: odd pad before (SciPy)", {1, 1, 5, 6}, 1,
     {4, 2}, {1, 1}, {1, 1}, 1, SAME, {0, 0, 0, 0}, ZEROS, 0, 1, OK, 5, 6,
     {2, 1, 1, 0}, NULL, NULL},
    {"same, dilated kernel", {1, 1, 9, 9}, 1, {3, 2}, {1, 1}, {2, 3}, 1, SAME,
     {0, 0, 0, 0}, ZEROS, 0, 0, OK, 9, 9, {2, 2, 1, 2}, NULL, NULL},
    {"same ignores pad[]", {1, 1, 5, 5}, 1, {3, 3}, {1, 1}, {1, 1}, 1, SAME,
     {7, 7, 7, 7}, ZEROS, 0, 0, OK, 5, 5, {1, 1, 1, 1}, NULL, NULL},
    {"same with reflect", {1, 1, 4, 4}, 1, {5, 5}, {1, 1}, {1, 1}, 1, SAME,
     {0, 0, 0, 0}, REFL, 0, 0, OK, 4, 4, {2, 2, 2, 2}, NULL, NULL},
    {"valid", {1, 1, 7, 9}, 1, {3, 2}, {1, 1}, {1, 1}, 1, VALID, {3, 3, 3, 3},
     ZEROS, 0, 0, OK, 5, 8, {0, 0, 0, 0}, NULL, NULL},
    {"valid with stride", {1, 1, 7, 9}, 1, {3, 2}, {2, 3}, {1, 1}, 1, VALID,
     {0, 0, 0, 0}, ZEROS, 0, 0, OK, 3, 3, {0, 0, 0, 0}, NULL, NULL},
    {"full", {1, 1, 5, 5}, 1, {3, 3}, {1, 1}, {1, 1}, 1, FULL, {0, 0, 0, 0},
     ZEROS, 0, 0, OK, 7, 7, {2, 2, 2, 2}, NULL, NULL},
    {"full, dilated", {1, 1, 5, 4}, 1, {3, 2}, {1, 1}, {2, 3}, 1, FULL,
     {0, 0, 0, 0}, ZEROS, 0, 0, OK, 9, 7, {4, 4, 3, 3}, NULL, NULL},
    {"full allows stride", {1, 1, 5, 5}, 1, {3, 3}, {2, 2}, {1, 1}, 1, FULL,
     {0, 0, 0, 0}, ZEROS, 0, 0, OK, 4, 4, {2, 2, 2, 2}, NULL, NULL},
    {"batch 0 is valid", {0, 3, 5, 5}, 2, {3, 3}, {1, 1}, {1, 1}, 1, EXPL,
     {0, 0, 0, 0}, ZEROS, 1, 0, OK, 3, 3, {0, 0, 0, 0}, NULL, NULL},
    {"depthwise", {2, 4, 6, 6}, 8, {3, 3}, {1, 1}, {1, 1}, 4, EXPL,
     {1, 1, 1, 1}, ZEROS, 0, 0, OK, 6, 6, {1, 1, 1, 1}, NULL, NULL},
    {"groups 3", {1, 6, 5, 5}, 9, {1, 1}, {1, 1}, {1, 1}, 3, EXPL,
     {0, 0, 0, 0}, ZEROS, 0, 0, OK, 5, 5, {0, 0, 0, 0}, NULL, NULL},
    {"reflect pad = size - 1", {1, 1, 3, 3}, 1, {3, 3}, {1, 1}, {1, 1}, 1,
     EXPL, {2, 2, 2, 2}, REFL, 0, 0, OK, 5, 5, {2, 2, 2, 2}, NULL, NULL},
    {"circular pad = size", {1, 1, 3, 2}, 1, {3, 3}, {1, 1}, {1, 1}, 1, EXPL,
     {3, 3, 2, 2}, CIRC, 0, 0, OK, 7, 4, {3, 3, 2, 2}, NULL, NULL},
    {"symmetric pad = size", {1, 1, 3, 2}, 1, {3, 3}, {1, 1}, {1, 1}, 1, EXPL,
     {3, 0, 0, 2}, SYMM, 0, 0, OK, 4, 2, {3, 0, 0, 2}, NULL, NULL},
    {"replicate allows any pad", {1, 1, 2, 2}, 1, {1, 1}, {1, 1}, {1, 1}, 1,
     EXPL, {10, 0, 0, 10}, REPL, 0, 0, OK, 12, 12, {10, 0, 0, 10}, NULL, NULL},
    {"zeros allows any pad", {1, 1, 2, 2}, 1, {1, 1}, {1, 1}, {1, 1}, 1, EXPL,
     {0, 9, 9, 0}, ZEROS, 0, 0, OK, 11, 11, {0, 9, 9, 0}, NULL, NULL},
    {"large but countable", {1, 1, BIG, BIG}, 1, {1, 1}, {1, 1}, {1, 1}, 1,
     EXPL, {0, 0, 0, 0}, ZEROS, 0, 0, OK, BIG, BIG, {0, 0, 0, 0}, NULL, NULL},

    /* ------------------------------------------------ non-positive sizes */
    {"n < 0", {-1, 1, 3, 3}, 1, {1, 1}, {1, 1}, {1, 1}, 1, EXPL, {0}, ZEROS, 0,
     0, INVAL, 0, 0, {0}, "n=-1", NULL},
    {"c_in = 0", {1, 0, 3, 3}, 1, {1, 1}, {1, 1}, {1, 1}, 1, EXPL, {0}, ZEROS,
     0, 0, INVAL, 0, 0, {0}, "in_channels=0", NULL},
    {"h = 0", {1, 1, 0, 3}, 1, {1, 1}, {1, 1}, {1, 1}, 1, EXPL, {0}, ZEROS, 0,
     0, INVAL, 0, 0, {0}, "height=0", NULL},
    {"w < 0", {1, 1, 3, -2}, 1, {1, 1}, {1, 1}, {1, 1}, 1, EXPL, {0}, ZEROS, 0,
     0, INVAL, 0, 0, {0}, "width=-2", NULL},
    {"c_out = 0", {1, 1, 3, 3}, 0, {1, 1}, {1, 1}, {1, 1}, 1, EXPL, {0}, ZEROS,
     0, 0, INVAL, 0, 0, {0}, "out_channels=0", NULL},
    {"kernel_h = 0", {1, 1, 3, 3}, 1, {0, 1}, {1, 1}, {1, 1}, 1, EXPL, {0},
     ZEROS, 0, 0, INVAL, 0, 0, {0}, "kernel_h=0", NULL},
    {"kernel_w < 0", {1, 1, 3, 3}, 1, {1, -1}, {1, 1}, {1, 1}, 1, EXPL, {0},
     ZEROS, 0, 0, INVAL, 0, 0, {0}, "kernel_w=-1", NULL},
    {"stride_h = 0", {1, 1, 3, 3}, 1, {1, 1}, {0, 1}, {1, 1}, 1, EXPL, {0},
     ZEROS, 0, 0, INVAL, 0, 0, {0}, "stride_h=0", NULL},
    {"stride_w < 0", {1, 1, 3, 3}, 1, {1, 1}, {1, -3}, {1, 1}, 1, EXPL, {0},
     ZEROS, 0, 0, INVAL, 0, 0, {0}, "stride_w=-3", NULL},
    {"dilation_h = 0", {1, 1, 3, 3}, 1, {1, 1}, {1, 1}, {0, 1}, 1, EXPL, {0},
     ZEROS, 0, 0, INVAL, 0, 0, {0}, "dilation_h=0", NULL},
    {"dilation_w = 0", {1, 1, 3, 3}, 1, {1, 1}, {1, 1}, {1, 0}, 1, EXPL, {0},
     ZEROS, 0, 0, INVAL, 0, 0, {0}, "dilation_w=0", NULL},
    {"groups = 0", {1, 1, 3, 3}, 1, {1, 1}, {1, 1}, {1, 1}, 0, EXPL, {0},
     ZEROS, 0, 0, INVAL, 0, 0, {0}, "groups=0", NULL},
    {"groups < 0", {1, 2, 3, 3}, 2, {1, 1}, {1, 1}, {1, 1}, -2, EXPL, {0},
     ZEROS, 0, 0, INVAL, 0, 0, {0}, "groups=-2", NULL},

    /* ------------------------------------------------ groups */
    {"groups not dividing c_in", {1, 4, 3, 3}, 3, {1, 1}, {1, 1}, {1, 1}, 3,
     EXPL, {0}, ZEROS, 0, 0, INVAL, 0, 0, {0}, "groups=3", "in_channels=4"},
    {"groups not dividing c_out", {1, 4, 3, 3}, 3, {1, 1}, {1, 1}, {1, 1}, 2,
     EXPL, {0}, ZEROS, 0, 0, INVAL, 0, 0, {0}, "groups=2", "out_channels=3"},
    {"groups larger than channels", {1, 2, 3, 3}, 4, {1, 1}, {1, 1}, {1, 1},
     4, EXPL, {0}, ZEROS, 0, 0, INVAL, 0, 0, {0}, "groups=4", "in_channels=2"},

    /* ------------------------------------------------ pads */
    {"negative pad top", {1, 1, 3, 3}, 1, {1, 1}, {1, 1}, {1, 1}, 1, EXPL,
     {-1, 0, 0, 0}, ZEROS, 0, 0, INVAL, 0, 0, {0}, "pad_top=-1", NULL},
    {"negative pad bottom", {1, 1, 3, 3}, 1, {1, 1}, {1, 1}, {1, 1}, 1, EXPL,
     {0, -2, 0, 0}, ZEROS, 0, 0, INVAL, 0, 0, {0}, "pad_bottom=-2", NULL},
    {"negative pad left", {1, 1, 3, 3}, 1, {1, 1}, {1, 1}, {1, 1}, 1, EXPL,
     {0, 0, -3, 0}, ZEROS, 0, 0, INVAL, 0, 0, {0}, "pad_left=-3", NULL},
    {"negative pad right", {1, 1, 3, 3}, 1, {1, 1}, {1, 1}, {1, 1}, 1, EXPL,
     {0, 0, 0, -4}, ZEROS, 0, 0, INVAL, 0, 0, {0}, "pad_right=-4", NULL},
    {"same with stride_h 2", {1, 1, 5, 5}, 1, {3, 3}, {2, 1}, {1, 1}, 1, SAME,
     {0}, ZEROS, 0, 0, INVAL, 0, 0, {0}, "same", "stride"},
    {"same with stride_w 3", {1, 1, 5, 5}, 1, {3, 3}, {1, 3}, {1, 1}, 1, SAME,
     {0}, ZEROS, 0, 0, INVAL, 0, 0, {0}, "same", "stride"},
    {"reflect pad = size (top)", {1, 1, 3, 5}, 1, {1, 1}, {1, 1}, {1, 1}, 1,
     EXPL, {3, 0, 0, 0}, REFL, 0, 0, INVAL, 0, 0, {0}, "reflect", "pad_top=3"},
    {"reflect pad > size (right)", {1, 1, 5, 3}, 1, {1, 1}, {1, 1}, {1, 1}, 1,
     EXPL, {0, 0, 1, 4}, REFL, 0, 0, INVAL, 0, 0, {0}, "reflect", "pad_right=4"},
    {"reflect via same", {1, 1, 2, 8}, 1, {5, 1}, {1, 1}, {1, 1}, 1, SAME,
     {0}, REFL, 0, 0, INVAL, 0, 0, {0}, "reflect", "height=2"},
    {"reflect via full", {1, 1, 8, 2}, 1, {1, 3}, {1, 1}, {1, 1}, 1, FULL,
     {0}, REFL, 0, 0, INVAL, 0, 0, {0}, "reflect", "width=2"},
    {"circular pad > size", {1, 1, 3, 3}, 1, {1, 1}, {1, 1}, {1, 1}, 1, EXPL,
     {0, 0, 0, 4}, CIRC, 0, 0, INVAL, 0, 0, {0}, "circular", "pad_right=4"},
    {"circular pad > size (bottom)", {1, 1, 2, 3}, 1, {1, 1}, {1, 1}, {1, 1},
     1, EXPL, {1, 3, 0, 0}, CIRC, 0, 0, INVAL, 0, 0, {0}, "circular",
     "pad_bottom=3"},
    {"symmetric pad > size", {1, 1, 2, 3}, 1, {1, 1}, {1, 1}, {1, 1}, 1, EXPL,
     {3, 0, 0, 0}, SYMM, 0, 0, INVAL, 0, 0, {0}, "symmetric", "pad_top=3"},

    /* ------------------------------------------------ output size <= 0 */
    {"kernel taller than input", {1, 1, 4, 4}, 1, {5, 1}, {1, 1}, {1, 1}, 1,
     EXPL, {0}, ZEROS, 0, 0, INVAL, 0, 0, {0}, "kernel height 5", "height 4"},
    {"dilated kernel wider than padded input", {1, 1, 4, 4}, 1, {1, 3},
     {1, 1}, {1, 3}, 1, EXPL, {0, 0, 1, 1}, ZEROS, 0, 0, INVAL, 0, 0, {0},
     "kernel width 3 (dilated 7)", "width 6"},
    {"valid with kernel larger than input", {1, 1, 3, 3}, 1, {4, 4}, {1, 1},
     {1, 1}, 1, VALID, {0}, ZEROS, 0, 0, INVAL, 0, 0, {0}, "kernel height 4",
     NULL},

    /* ------------------------------------------------ overflow */
    {"input element count overflows", {BIG, BIG, BIG, BIG}, 1, {1, 1}, {1, 1},
     {1, 1}, 1, EXPL, {0}, ZEROS, 0, 0, OVERFLOW, 0, 0, {0}, "input", NULL},
    {"weight element count overflows", {1, BIG, 1, 1}, BIG, {BIG, BIG},
     {1, 1}, {1, 1}, 1, EXPL, {BIG, BIG, BIG, BIG}, ZEROS, 0, 0, OVERFLOW, 0,
     0, {0}, "weight", NULL},
    {"output element count overflows", {BIG, 1, BIG, 2}, BIG, {1, 1}, {1, 1},
     {1, 1}, 1, EXPL, {0}, ZEROS, 0, 0, OVERFLOW, 0, 0, {0}, "output", NULL},
    {"one size beyond any limit", {1, 1, HUGE64, 3}, 1, {1, 1}, {1, 1},
     {1, 1}, 1, EXPL, {0}, ZEROS, 0, 0, OVERFLOW, 0, 0, {0}, "height", NULL},
    {"INT64_MAX width", {1, 1, 3, INT64_MAX}, 1, {1, 1}, {1, 1}, {1, 1}, 1,
     EXPL, {0}, ZEROS, 0, 0, OVERFLOW, 0, 0, {0}, "width", NULL},
    {"INT64_MAX pad", {1, 1, 3, 3}, 1, {1, 1}, {1, 1}, {1, 1}, 1, EXPL,
     {0, INT64_MAX, 0, 0}, ZEROS, 0, 0, OVERFLOW, 0, 0, {0}, "pad_bottom",
     NULL},
    {"INT64_MAX dilation", {1, 1, 3, 3}, 1, {2, 1}, {1, 1}, {INT64_MAX, 1}, 1,
     EXPL, {0}, ZEROS, 0, 0, OVERFLOW, 0, 0, {0}, "dilation_h", NULL},

    /* ------------------------------------------------ enums and flags */
    {"bad padding enum", {1, 1, 3, 3}, 1, {1, 1}, {1, 1}, {1, 1}, 1, 9, {0},
     ZEROS, 0, 0, INVAL, 0, 0, {0}, "padding=9", NULL},
    {"negative padding enum", {1, 1, 3, 3}, 1, {1, 1}, {1, 1}, {1, 1}, 1, -1,
     {0}, ZEROS, 0, 0, INVAL, 0, 0, {0}, "padding=-1", NULL},
    {"bad padding_mode enum", {1, 1, 3, 3}, 1, {1, 1}, {1, 1}, {1, 1}, 1,
     EXPL, {0}, 5, 0, 0, INVAL, 0, 0, {0}, "padding_mode=5", NULL},
    {"negative padding_mode enum", {1, 1, 3, 3}, 1, {1, 1}, {1, 1}, {1, 1}, 1,
     EXPL, {0}, -1, 0, 0, INVAL, 0, 0, {0}, "padding_mode=-1", NULL},
    {"has_bias = 2", {1, 1, 3, 3}, 1, {1, 1}, {1, 1}, {1, 1}, 1, EXPL, {0},
     ZEROS, 2, 0, INVAL, 0, 0, {0}, "has_bias=2", NULL},
    {"flip_kernel = -1", {1, 1, 3, 3}, 1, {1, 1}, {1, 1}, {1, 1}, 1, EXPL,
     {0}, ZEROS, 0, -1, INVAL, 0, 0, {0}, "flip_kernel=-1", NULL},
};

#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static void make_desc(const desc_case *c, conv_desc *d) {
  conv_desc_init(d);
  d->n = c->x[0];
  d->c_in = c->x[1];
  d->h = c->x[2];
  d->w = c->x[3];
  d->c_out = c->c_out;
  for (int a = 0; a < 2; a++) {
    d->kernel[a] = c->k[a];
    d->stride[a] = c->s[a];
    d->dilation[a] = c->d[a];
  }
  d->groups = c->groups;
  d->padding = (conv_padding)c->padding;
  for (int i = 0; i < 4; i++) d->pad[i] = c->pad[i];
  d->padding_mode = (conv_padding_mode)c->mode;
  d->has_bias = c->bias;
  d->flip_kernel = c->flip;
}

/* One row of the table through conv_output_size. */
START_TEST(test_output_size_table) {
  const desc_case *c = &cases[_i];
  conv_desc d;
  make_desc(c, &d);
  int64_t h_out = -77, w_out = -77, pads[4] = {-77, -77, -77, -77};
  conv_status st = conv_output_size(&d, &h_out, &w_out, pads);
  const char *msg = conv_last_error(NULL);
  ck_assert_ptr_nonnull(msg);
  ck_assert_msg(st == c->status, "[%s] status %d (%s), expected %d; message: %s",
                c->what, (int)st, conv_status_string(st), (int)c->status, msg);
  if (c->status == CONV_SUCCESS) {
    ck_assert_msg(h_out == c->h_out && w_out == c->w_out,
                  "[%s] output %lldx%lld, expected %lldx%lld", c->what,
                  (long long)h_out, (long long)w_out, (long long)c->h_out,
                  (long long)c->w_out);
    for (int i = 0; i < 4; i++)
      ck_assert_msg(pads[i] == c->pads[i], "[%s] pads[%d]=%lld, expected %lld",
                    c->what, i, (long long)pads[i], (long long)c->pads[i]);
    /* pads may be NULL. */
    int64_t h2 = 0, w2 = 0;
    ck_assert_int_eq(conv_output_size(&d, &h2, &w2, NULL), CONV_SUCCESS);
    ck_assert(h2 == h_out && w2 == w_out);
  } else {
    ck_assert_msg(strstr(msg, c->msg) != NULL,
                  "[%s] message \"%s\" lacks \"%s\"", c->what, msg, c->msg);
    if (c->msg2)
      ck_assert_msg(strstr(msg, c->msg2) != NULL,
                    "[%s] message \"%s\" lacks \"%s\"", c->what, msg, c->msg2);
    /* A failed call writes no output. */
    ck_assert_msg(h_out == -77 && w_out == -77, "[%s] failed call wrote sizes",
                  c->what);
    for (int i = 0; i < 4; i++)
      ck_assert_msg(pads[i] == -77, "[%s] failed call wrote pads", c->what);
  }
}
END_TEST

/* The same rows through conv_plan_create on the cpu backend: the plan must
 * apply exactly the checks conv_output_size does, with the message on the
 * context. Rows too large to allocate are skipped. */
START_TEST(test_plan_table) {
  conv_context *ctx = NULL;
  conv_status st = conv_context_create(&ctx, "cpu", NULL);
  ck_assert_msg(st == CONV_SUCCESS, "cpu context: %s", conv_last_error(NULL));
  for (int i = 0; i < NCASES; i++) {
    const desc_case *c = &cases[i];
    conv_desc d;
    make_desc(c, &d);
    if (c->status == CONV_SUCCESS &&
        (c->x[2] >= BIG || c->x[3] >= BIG))
      continue;
    conv_plan *plan = NULL;
    st = conv_plan_create(ctx, &d, &plan);
    const char *msg = conv_last_error(ctx);
    ck_assert_msg(st == c->status, "[%s] plan status %d (%s), expected %d: %s",
                  c->what, (int)st, conv_status_string(st), (int)c->status,
                  msg);
    if (st == CONV_SUCCESS) {
      int64_t h_out = 0, w_out = 0;
      conv_plan_output_size(plan, &h_out, &w_out);
      ck_assert_msg(h_out == c->h_out && w_out == c->w_out,
                    "[%s] plan output %lldx%lld", c->what, (long long)h_out,
                    (long long)w_out);
      conv_plan_destroy(plan);
    } else {
      ck_assert_msg(strstr(msg, c->msg) != NULL,
                    "[%s] context message \"%s\" lacks \"%s\"", c->what, msg,
                    c->msg);
    }
  }
  conv_context_destroy(ctx);
}
END_TEST

START_TEST(test_output_size_null) {
  conv_desc d;
  conv_desc_init(&d);
  d.n = d.c_in = d.c_out = 1;
  d.h = d.w = 3;
  d.kernel[0] = d.kernel[1] = 1;
  int64_t h = -5, w = -5;
  ck_assert_int_eq(conv_output_size(NULL, &h, &w, NULL),
                   CONV_ERROR_INVALID_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(conv_last_error(NULL), "desc"));
  ck_assert_int_eq(conv_output_size(&d, NULL, &w, NULL),
                   CONV_ERROR_INVALID_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(conv_last_error(NULL), "h_out"));
  ck_assert_int_eq(conv_output_size(&d, &h, NULL, NULL),
                   CONV_ERROR_INVALID_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(conv_last_error(NULL), "w_out"));
  ck_assert(h == -5 && w == -5);
  ck_assert_int_eq(conv_output_size(&d, &h, &w, NULL), CONV_SUCCESS);
  ck_assert(h == 3 && w == 3);
}
END_TEST

START_TEST(test_plan_null) {
  conv_context *ctx = NULL;
  ck_assert_int_eq(conv_context_create(&ctx, "cpu", NULL), CONV_SUCCESS);
  conv_desc d;
  conv_desc_init(&d);
  d.n = d.c_in = d.c_out = 1;
  d.h = d.w = 3;
  d.kernel[0] = d.kernel[1] = 1;
  conv_plan *plan = NULL;
  ck_assert_int_eq(conv_plan_create(ctx, NULL, &plan),
                   CONV_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(conv_plan_create(ctx, &d, NULL),
                   CONV_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(conv_plan_create(NULL, &d, &plan),
                   CONV_ERROR_INVALID_ARGUMENT);
  ck_assert_int_eq(conv_context_create(NULL, "cpu", NULL),
                   CONV_ERROR_INVALID_ARGUMENT);
  /* Destroying NULL handles is allowed. */
  conv_plan_destroy(NULL);
  conv_context_destroy(NULL);
  conv_tensor_destroy(NULL);
  /* The context still works. */
  ck_assert_int_eq(conv_plan_create(ctx, &d, &plan), CONV_SUCCESS);
  conv_plan_destroy(plan);
  conv_context_destroy(ctx);
}
END_TEST

START_TEST(test_desc_init) {
  conv_desc d;
  memset(&d, 0x5a, sizeof d);
  conv_desc_init(&d);
  ck_assert(d.n == 0 && d.c_in == 0 && d.h == 0 && d.w == 0 && d.c_out == 0);
  ck_assert(d.kernel[0] == 0 && d.kernel[1] == 0);
  ck_assert(d.stride[0] == 1 && d.stride[1] == 1);
  ck_assert(d.dilation[0] == 1 && d.dilation[1] == 1);
  ck_assert(d.groups == 1);
  ck_assert(d.padding == CONV_PADDING_EXPLICIT);
  for (int i = 0; i < 4; i++) ck_assert(d.pad[i] == 0);
  ck_assert(d.padding_mode == CONV_PAD_ZEROS);
  ck_assert(d.has_bias == 0 && d.flip_kernel == 0);
  conv_desc_init(NULL); /* no crash */
}
END_TEST

START_TEST(test_status_strings) {
  static const struct {
    conv_status status;
    int value;
    const char *text;
  } expected[] = {
#define ROW_(name, value, text) {name, value, text},
      CONV_STATUS_LIST(ROW_)
#undef ROW_
  };
  const size_t n = sizeof expected / sizeof expected[0];
  ck_assert_uint_eq(n, 10);
  for (size_t i = 0; i < n; i++) {
    ck_assert_int_eq((int)expected[i].status, expected[i].value);
    const char *s = conv_status_string(expected[i].status);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, expected[i].text);
    for (size_t j = 0; j < i; j++)
      ck_assert_int_ne(expected[i].value, expected[j].value);
  }
  const int unknown[] = {-1, 10, 11, 100, INT_MAX, INT_MIN};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    const char *s = conv_status_string((conv_status)unknown[i]);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, "unknown status");
  }
}
END_TEST

START_TEST(test_version) {
  ck_assert_int_eq(conv_version(), CONV_VERSION);
  ck_assert_int_eq(CONV_VERSION, CONV_VERSION_MAJOR * 10000 +
                                     CONV_VERSION_MINOR * 100 +
                                     CONV_VERSION_PATCH);
  ck_assert_ptr_nonnull(conv_version_string());
  ck_assert_str_eq(conv_version_string(), CONV_VERSION_STRING);
  char buf[64];
  snprintf(buf, sizeof buf, "%d.%d.%d", CONV_VERSION_MAJOR, CONV_VERSION_MINOR,
           CONV_VERSION_PATCH);
  ck_assert_str_eq(buf, CONV_VERSION_STRING);
}
END_TEST

/* conv_last_error(NULL) is "" before any failure and never NULL. */
START_TEST(test_last_error_initial) {
  const char *m = conv_last_error(NULL);
  ck_assert_ptr_nonnull(m);
  ck_assert_str_eq(m, "");
}
END_TEST

static Suite *desc_suite(void) {
  Suite *s = suite_create("desc");
  TCase *tc = tcase_create("output_size");
  tcase_add_test(tc, test_last_error_initial);
  tcase_add_loop_test(tc, test_output_size_table, 0, NCASES);
  tcase_add_test(tc, test_output_size_null);
  tcase_add_test(tc, test_desc_init);
  suite_add_tcase(s, tc);
  TCase *tp = tcase_create("plan");
  tcase_set_timeout(tp, 120);
  tcase_add_test(tp, test_plan_table);
  tcase_add_test(tp, test_plan_null);
  suite_add_tcase(s, tp);
  TCase *tv = tcase_create("status_version");
  tcase_add_test(tv, test_status_strings);
  tcase_add_test(tv, test_version);
  suite_add_tcase(s, tv);
  return s;
}

int main(void) {
  const int failed = tu_run_suite(desc_suite());
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
