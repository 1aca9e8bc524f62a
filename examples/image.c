/* SPDX-License-Identifier: Apache-2.0 */
/* See image.h. Small and strict: no comments inside the PGM header beyond
 * the common "# ..." lines, 8-bit only. */
#include "image.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Next header integer of a PGM, skipping white space and # comments. */
static int pgm_int(FILE *f, long *out) {
  int c = fgetc(f);
  for (;;) {
    while (c == ' ' || c == '\t' || c == '\r' || c == '\n') c = fgetc(f);
    if (c != '#') break;
    while (c != '\n' && c != EOF) c = fgetc(f);
  }
  if (c < '0' || c > '9') return -1;
  long v = 0;
  while (c >= '0' && c <= '9') {
    if (v > 100000) return -1;
    v = v * 10 + (c - '0');
    c = fgetc(f);
  }
  /* Exactly one white-space character ends the header's last number. */
  *out = v;
  return 0;
}

int image_read_pgm(const char *path, float **pixels, int64_t *h, int64_t *w) {
  int rc = -1;
  unsigned char *raw = NULL;
  float *px = NULL;
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "%s: %s\n", path, strerror(errno));
    return -1;
  }
  long width, height, maxval;
  if (fgetc(f) != 'P' || fgetc(f) != '5' || pgm_int(f, &width) != 0 ||
      pgm_int(f, &height) != 0 || pgm_int(f, &maxval) != 0 || width < 1 ||
      height < 1 || maxval != 255) {
    fprintf(stderr, "%s: not an 8-bit binary PGM (P5, maxval 255)\n", path);
    goto done;
  }
  size_t count = (size_t)width * (size_t)height;
  raw = malloc(count);
  px = malloc(count * sizeof *px);
  if (raw == NULL || px == NULL) {
    fprintf(stderr, "%s: out of memory\n", path);
    goto done;
  }
  if (fread(raw, 1, count, f) != count) {
    fprintf(stderr, "%s: truncated: expected %ldx%ld pixels\n", path, width,
            height);
    goto done;
  }
  for (size_t i = 0; i < count; i++) px[i] = raw[i];
  *pixels = px;
  *h = height;
  *w = width;
  px = NULL;
  rc = 0;
done:
  free(raw);
  free(px);
  fclose(f);
  return rc;
}

static unsigned char to_byte(float v) {
  if (!(v > 0.0f)) return 0; /* NaN too */
  if (v >= 255.0f) return 255;
  return (unsigned char)lrintf(v);
}

/* Writes the file under a temporary name and renames it at the end, so a
 * failure leaves no partial image. */
static FILE *open_tmp(const char *path, char *tmp, size_t len) {
  snprintf(tmp, len, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  if (f == NULL) fprintf(stderr, "%s: %s\n", tmp, strerror(errno));
  return f;
}

static int close_tmp(FILE *f, const char *tmp, const char *path, int ok) {
  if (fclose(f) != 0) ok = 0;
  if (ok && rename(tmp, path) == 0) return 0;
  fprintf(stderr, "%s: write failed: %s\n", path, strerror(errno));
  remove(tmp);
  return -1;
}

int image_write_pgm(const char *path, const float *pixels, int64_t h,
                    int64_t w) {
  char tmp[4096];
  FILE *f = open_tmp(path, tmp, sizeof tmp);
  if (f == NULL) return -1;
  int ok = fprintf(f, "P5\n%lld %lld\n255\n", (long long)w, (long long)h) > 0;
  for (int64_t i = 0; ok && i < h * w; i++)
    ok = fputc(to_byte(pixels[i]), f) != EOF;
  return close_tmp(f, tmp, path, ok);
}

/* ---------------------------------------------------------------- PNG */

static uint32_t crc_table[256];

static void crc_init(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    crc_table[n] = c;
  }
}

static uint32_t crc_update(uint32_t crc, const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return crc;
}

static void put32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

/* One chunk: length, type, data, CRC of type and data. */
static int chunk(FILE *f, const char *type, const unsigned char *data,
                 size_t n) {
  unsigned char head[8], tail[4];
  put32(head, (uint32_t)n);
  memcpy(head + 4, type, 4);
  uint32_t crc = crc_update(0xffffffffu, head + 4, 4);
  crc = crc_update(crc, data, n) ^ 0xffffffffu;
  put32(tail, crc);
  return fwrite(head, 1, 8, f) == 8 && fwrite(data, 1, n, f) == n &&
         fwrite(tail, 1, 4, f) == 4;
}

int image_write_png(const char *path, const float *pixels, int64_t h,
                    int64_t w) {
  /* The image data: each row is a filter byte (0, none) and w pixels. The
   * zlib stream holds it in stored (uncompressed) deflate blocks of at most
   * 65535 bytes, then the Adler-32 of the data. */
  const size_t raw_len = (size_t)h * (size_t)(w + 1);
  const size_t blocks = raw_len / 65535 + 1;
  const size_t z_len = 2 + raw_len + 5 * blocks + 4;
  unsigned char *z = malloc(z_len);
  if (z == NULL) {
    fprintf(stderr, "%s: out of memory\n", path);
    return -1;
  }
  crc_init();
  size_t o = 0, done = 0;
  uint32_t a = 1, b = 0;
  z[o++] = 0x78; /* deflate, 32K window */
  z[o++] = 0x01; /* no preset dictionary; (0x78 * 256 + 1) % 31 == 0 */
  for (size_t blk = 0; blk < blocks; blk++) {
    size_t n = raw_len - done < 65535 ? raw_len - done : 65535;
    z[o++] = blk + 1 == blocks; /* BFINAL on the last, BTYPE 00 */
    z[o++] = (unsigned char)(n & 0xff);
    z[o++] = (unsigned char)(n >> 8);
    z[o++] = (unsigned char)(~n & 0xff);
    z[o++] = (unsigned char)((~n >> 8) & 0xff);
    for (size_t i = 0; i < n; i++, done++) {
      size_t row = done / (size_t)(w + 1), col = done % (size_t)(w + 1);
      unsigned char v =
          col == 0 ? 0 : to_byte(pixels[row * (size_t)w + col - 1]);
      z[o++] = v;
      a = (a + v) % 65521;
      b = (b + a) % 65521;
    }
  }
  put32(z + o, (b << 16) | a);
  o += 4;

  unsigned char ihdr[13];
  put32(ihdr, (uint32_t)w);
  put32(ihdr + 4, (uint32_t)h);
  ihdr[8] = 8;   /* bits per sample */
  ihdr[9] = 0;   /* grey */
  ihdr[10] = 0;  /* deflate */
  ihdr[11] = 0;  /* adaptive filtering (we use filter 0 on every row) */
  ihdr[12] = 0;  /* no interlace */
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a,
                                       '\n'};
  char tmp[4096];
  FILE *f = open_tmp(path, tmp, sizeof tmp);
  if (f == NULL) {
    free(z);
    return -1;
  }
  int ok = fwrite(sig, 1, 8, f) == 8 && chunk(f, "IHDR", ihdr, 13) &&
           chunk(f, "IDAT", z, o) && chunk(f, "IEND", ihdr, 0);
  free(z);
  return close_tmp(f, tmp, path, ok);
}

int image_write(const char *path, const float *pixels, int64_t h, int64_t w) {
  size_t n = strlen(path);
  if (n > 4 && strcmp(path + n - 4, ".png") == 0)
    return image_write_png(path, pixels, h, w);
  return image_write_pgm(path, pixels, h, w);
}
