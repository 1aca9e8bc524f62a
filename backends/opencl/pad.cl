/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared helpers of the libconv OpenCL kernels: the padding map and the
 * geometry every kernel receives. The .cl files are concatenated, in the
 * order opencl_kernels.h lists them, into one source; each kernel is in it
 * only under -DKSEL_<its name> (or -DKSEL_ALL), so that a plan's program
 * holds just the kernels its run calls launch: drivers compile every kernel
 * of a program (PoCL: once more for its binary), and a plan needs few.
 *
 * Index math: coordinates inside one image plane fit in int (the plan checks
 * this); offsets into whole tensors are long, since N*C*H*W can pass 2^31.
 */

#ifndef RED_WG
#define RED_WG 64
#endif

/* The problem geometry, in one order for every kernel that takes it. The
 * plan sets these arguments once, at plan creation. */
#define GEOM_PARAMS                                                         \
  int C, int H, int W, int K, int KH, int KW, int OH, int OW, int SH,       \
      int SW, int DH, int DW, int PT, int PB, int PL, int PR, int G,        \
      int mode, int flip

/* padding modes, as conv_padding_mode */
#define PAD_ZEROS 0
#define PAD_REFLECT 1
#define PAD_REPLICATE 2
#define PAD_CIRCULAR 3
#define PAD_SYMMETRIC 4

/* Where padded coordinate i (i < 0: top/left border, i >= size: bottom/right
 * border) reads from, or -1 for a zero: conv_pad_source() of conv_plugin.h. */
int pad_source(int i, int size, int mode) {
  if (i >= 0 && i < size) return i;
  switch (mode) {
    case PAD_REFLECT:   return i < 0 ? -i : 2 * (size - 1) - i;
    case PAD_REPLICATE: return i < 0 ? 0 : size - 1;
    case PAD_CIRCULAR:  return i < 0 ? i + size : i - size;
    case PAD_SYMMETRIC: return i < 0 ? -i - 1 : 2 * size - 1 - i;
    default:            return -1;
  }
}

/* The inverse map: the padded coordinates in [-before, size + after) that
 * read source index s, as at most three ranges lo[k]..hi[k] (the element
 * itself first, then the before border, then the after border). Gradients are
 * gathered over these in this fixed order, so they are deterministic. */
int pad_preimages(int s, int size, int before, int after, int mode,
                  int *lo, int *hi) {
  int n = 1;
  lo[0] = s;
  hi[0] = s;
  for (int side = 0; side < 2; side++) {
    int a = 1, b = 0; /* empty */
    switch (mode) {
      case PAD_REFLECT:
        if (side == 0 && s > 0) a = b = -s;
        if (side == 1 && s < size - 1) a = b = 2 * (size - 1) - s;
        break;
      case PAD_REPLICATE:
        if (side == 0 && s == 0) { a = -before; b = -1; }
        if (side == 1 && s == size - 1) { a = size; b = size + after - 1; }
        break;
      case PAD_CIRCULAR:
        a = b = side == 0 ? s - size : s + size;
        break;
      case PAD_SYMMETRIC:
        a = b = side == 0 ? -s - 1 : 2 * size - 1 - s;
        break;
      default:
        break;
    }
    if (a < -before) a = -before;
    if (b > size + after - 1) b = size + after - 1;
    if (a <= b) {
      lo[n] = a;
      hi[n] = b;
      n++;
    }
  }
  return n;
}
