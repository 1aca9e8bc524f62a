/* SPDX-License-Identifier: Apache-2.0 */
/* Grey-scale image files for the examples: read a binary PGM (P5, 8 bits),
 * write PGM or PNG (8-bit grey, uncompressed deflate: no zlib needed).
 * Pixels are floats in [0, 255]; writers clamp and round. Each function
 * returns 0 on success, else prints why to stderr and returns -1. */
#ifndef EXAMPLES_IMAGE_H
#define EXAMPLES_IMAGE_H

#include <stdint.h>

/* *pixels is malloc'ed (h * w floats, row by row); the caller frees it. */
int image_read_pgm(const char *path, float **pixels, int64_t *h, int64_t *w);
int image_write_pgm(const char *path, const float *pixels, int64_t h,
                    int64_t w);
int image_write_png(const char *path, const float *pixels, int64_t h,
                    int64_t w);
/* Writes PNG if path ends in ".png", else PGM. */
int image_write(const char *path, const float *pixels, int64_t h, int64_t w);

#endif
