/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reader for libconv's golden reference cases (tests/golden/README.md).
 *
 * A case is a directory holding a `params` file (key=value lines) and
 * float32 .npy arrays: x, w, [b], y, dy, dx, dw, [db]. golden_load() reads
 * one, checks every file and every shape against the convolution it
 * describes, and fills a conv_desc ready for conv_plan_create().
 *
 * The tests and convinfo compile golden.c into themselves; it uses only the
 * types of conv.h, no libconv function, and the C library. Nothing here
 * keeps global state, so distinct cases may be loaded from several threads.
 *
 * Errors: every function that can fail returns 0 on success and -1 on
 * failure, with a one-line message written to err (errlen bytes, always
 * NUL-terminated; err may be NULL). Messages name the file and the problem:
 * "cases/foo/y.npy: shape (1, 2, 3, 3) but the convolution gives
 * (1, 2, 4, 4)". Malformed input never crashes the reader and never leaks.
 */
#ifndef CONV_GOLDEN_H
#define CONV_GOLDEN_H

#include <stddef.h>
#include <stdint.h>

#include "conv.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits on what the reader accepts (anything larger is reported). */
#define GOLDEN_MAX_DIMS 4                 /* .npy arrays have at most 4 dims */
#define GOLDEN_MAX_DIM ((int64_t)1 << 32) /* largest single dimension */
#define GOLDEN_MAX_PARAM ((int64_t)1 << 20) /* largest stride/pad/... */
#define GOLDEN_MAX_NPY_HEADER 65536       /* bytes of .npy header */
#define GOLDEN_MAX_PARAMS_FILE 65536      /* bytes of a params file */

/* One float32 array, C order. data is NULL if the array is absent; a
 * present array always has non-NULL data, even when count is 0. */
typedef struct golden_array {
  int ndim;                          /* 0..GOLDEN_MAX_DIMS */
  int64_t shape[GOLDEN_MAX_DIMS];    /* shape[0..ndim-1]; the rest 0 */
  size_t count;                      /* product of the shape (1 if ndim 0) */
  float *data;                       /* malloc'd, count floats, or NULL */
} golden_array;

typedef struct golden_case {
  char name[256];          /* the directory's last component */
  char dir[4096];          /* the directory as given */
  char description[512];   /* the first '#' comment of params, or "" */
  /* "conv2d" (default), "maxpool2d", "conv_transpose2d", "avgpool2d" or
   * "adaptive_avgpool2d". */
  char op[24];
  /* The problem. For conv2d: n, c_in, h, w from x; c_out and kernel from
   * w; stride, dilation, groups, padding, pad[], padding_mode, flip_kernel
   * from params; has_bias iff b.npy exists. For maxpool2d (planned):
   * c_out = c_in, kernel from params' kernel=, groups 1, no bias. */
  conv_desc desc;
  int64_t pads[4];         /* resolved top, bottom, left, right */
  int64_t h_out, w_out;    /* output size by the formula */
  int ceil_mode;           /* maxpool2d, avgpool2d (params' ceil_mode=) */
  /* conv_transpose2d: desc holds its shape (c_in, c_out as
   * ConvTranspose2d's, kernel, stride, dilation, groups, pad[] explicit,
   * has_bias), output_padding this; w is (C_in, C_out/groups, kH, kW). */
  int64_t output_padding[2];
  /* avgpool2d: count_include_pad (1 unless the params say 0) and
   * divisor_override (0: none). adaptive_avgpool2d: output_size. */
  int count_include_pad;
  int64_t divisor_override;
  int64_t output_size[2];
  /* conv2d and conv_transpose2d: the fused activation y went through
   * (CONV_ACT_NONE without the key); the gradients are the unfused op's. */
  conv_activation activation;
  float activation_alpha;
  /* conv2d: x, w, y, dy, dx, dw always; b and db iff the case has a bias.
   * maxpool2d: x, y, dy, dx; w, b, dw, db absent. */
  golden_array x, w, b, y, dy, dx, dw, db;
} golden_case;

/* Loads the case in directory case_dir into *c (which need not be
 * initialised). On failure every array is freed and absent (nothing to
 * free); name and dir stay set, for messages.
 *
 * params keys: stride=S|SH,SW  padding=P|PH,PW|T,B,L,R|same|valid|full
 * dilation=D|DH,DW  groups=G  padding_mode=zeros|reflect|replicate|
 * circular|symmetric  flip_kernel=0|1  op=conv2d|maxpool2d|conv_transpose2d|
 * avgpool2d|adaptive_avgpool2d  kernel=K|KH,KW  ceil_mode=0|1
 * output_padding=P|PH,PW  count_include_pad=0|1  divisor_override=D
 * output_size=S|OH,OW  activation=relu|relu6|leaky_relu:SLOPE|sigmoid|tanh|
 * silu. Each key only with the ops it belongs to. Blank lines and '#'
 * comments are skipped; an unknown or repeated key, a line without '=', or a
 * bad number is an error.
 *
 * Checks: every .npy as in npy_load(); x and w 4-D; groups divides C_in and
 * C_out and w's second dimension is C_in/groups; 'same' needs stride 1;
 * reflect needs each pad < size, circular and symmetric pad <= size; the
 * kernel fits in the padded input; y and dy are (N, C_out, H_out, W_out)
 * with H_out = (H + pad_t + pad_b - dil*(kH-1) - 1) / stride + 1; dx is
 * x's shape, dw w's shape, b and db (C_out); db only with b.
 * Returns 0, or -1 with the reason in err. */
int golden_load(const char *case_dir, golden_case *c, char *err,
                size_t errlen);

/* Frees every array of *c and marks it absent. NULL and an empty case are
 * accepted; calling it twice is harmless. */
void golden_free(golden_case *c);

/* The names of the subdirectories of root that contain a `params` file
 * or any .npy file (a case missing its params is listed, so that loading
 * it fails with a message instead of the set shrinking), sorted by strcmp,
 * keeping only those matching the fnmatch(3) pattern glob when glob is
 * neither NULL nor "". *names is a malloc'd array of
 * *count malloc'd strings (NULL when *count is 0); free it with
 * golden_list_free(). Returns 0, or -1 (root unreadable, out of memory). */
int golden_list(const char *root, const char *glob, char ***names,
                size_t *count, char *err, size_t errlen);
void golden_list_free(char **names, size_t count);

/* Reads a .npy file into *a: format version 1.0, 2.0 or 3.0, dtype '<f4'
 * only, fortran_order False, at most GOLDEN_MAX_DIMS dimensions, each at
 * most GOLDEN_MAX_DIM, and exactly count * 4 bytes of data after the
 * header. On failure *a is left empty. Free with golden_array_free(). */
int npy_load(const char *path, golden_array *a, char *err, size_t errlen);

/* Writes *a as a version 1.0 '<f4' .npy file, byte for byte as
 * numpy.save() would. */
int npy_save(const char *path, const golden_array *a, char *err,
             size_t errlen);

/* Frees a->data and empties *a. NULL is accepted. */
void golden_array_free(golden_array *a);

/* max |got - ref| / max(max |ref|, 1e-6) over count elements; 0 for
 * count 0; +inf if either holds a NaN anywhere (outputs poisoned with NaN
 * and left unwritten fail), or an infinity the other does not match. */
double golden_rel_error(const float *got, const float *ref, size_t count);

/* "(1, 2, 4, 4)" into buf (for messages). Returns buf. */
const char *golden_shape_string(const golden_array *a, char *buf,
                                size_t buflen);

#ifdef __cplusplus
}
#endif

#endif /* CONV_GOLDEN_H */
