/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reader for the golden reference cases: .npy arrays, params files, and
 * the shape checks that tie them to one convolution. See golden.h.
 *
 * Everything read from disk is treated as hostile: header sizes are
 * bounded, every fread is checked, every product of dimensions is checked
 * for overflow, and every failure path frees what it allocated.
 */
/* opendir, fnmatch, strdup and stat are POSIX, not C11. */
#if !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE)
#  define _POSIX_C_SOURCE 200809L
#endif

#include "golden.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------ helpers */

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int fail(char *err, size_t errlen, const char *fmt, ...) {
  if (err != NULL && errlen > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* dir + "/" + file into out; -1 if it does not fit. */
static int join_path(char *out, size_t outlen, const char *dir,
                     const char *file) {
  size_t n = strlen(dir);
  int r;
  if (n > 0 && dir[n - 1] == '/')
    r = snprintf(out, outlen, "%s%s", dir, file);
  else
    r = snprintf(out, outlen, "%s/%s", dir, file);
  return (r < 0 || (size_t)r >= outlen) ? -1 : 0;
}

static int host_is_little_endian(void) {
  const uint32_t one = 1;
  unsigned char b;
  memcpy(&b, &one, 1);
  return b == 1;
}

static void swap4(float *data, size_t count) {
  for (size_t i = 0; i < count; i++) {
    unsigned char b[4], t;
    memcpy(b, &data[i], 4);
    t = b[0]; b[0] = b[3]; b[3] = t;
    t = b[1]; b[1] = b[2]; b[2] = t;
    memcpy(&data[i], b, 4);
  }
}

const char *golden_shape_string(const golden_array *a, char *buf,
                                size_t buflen) {
  size_t used = 0;
  if (buf == NULL || buflen == 0) return "";
  buf[0] = '\0';
  if (a == NULL) return buf;
  used += (size_t)snprintf(buf, buflen, "(");
  for (int i = 0; i < a->ndim && used < buflen; i++)
    used += (size_t)snprintf(buf + used, buflen - used, "%s%lld",
                             i ? ", " : "", (long long)a->shape[i]);
  if (a->ndim == 1 && used < buflen)
    used += (size_t)snprintf(buf + used, buflen - used, ",");
  if (used < buflen) snprintf(buf + used, buflen - used, ")");
  return buf;
}

void golden_array_free(golden_array *a) {
  if (a == NULL) return;
  free(a->data);
  memset(a, 0, sizeof *a);
}

/* ----------------------------------------------------------- npy header */

/* A cursor over the header text (a Python dict literal). */
typedef struct cursor {
  const char *p, *end;
} cursor;

static void skip_ws(cursor *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' ||
                           *c->p == '\r'))
    c->p++;
}

static int accept_char(cursor *c, char ch) {
  skip_ws(c);
  if (c->p < c->end && *c->p == ch) {
    c->p++;
    return 1;
  }
  return 0;
}

/* A quoted string ('...' or "...") without escapes, into out. */
static int parse_str(cursor *c, char *out, size_t outlen) {
  char q;
  size_t n = 0;
  skip_ws(c);
  if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return -1;
  q = *c->p++;
  while (c->p < c->end && *c->p != q) {
    if (*c->p == '\\' || n + 1 >= outlen) return -1;
    out[n++] = *c->p++;
  }
  if (c->p >= c->end) return -1;
  c->p++;
  out[n] = '\0';
  return 0;
}

static int accept_word(cursor *c, const char *w) {
  size_t n = strlen(w);
  skip_ws(c);
  if ((size_t)(c->end - c->p) >= n && memcmp(c->p, w, n) == 0) {
    c->p += n;
    return 1;
  }
  return 0;
}

/* Parses the header dict into descr, fortran and shape. Returns 0, or -1
 * with a message (without the file name) in msg. */
static int parse_npy_header(const char *text, size_t len, char *descr,
                            size_t descrlen, int *fortran, int *ndim,
                            int64_t shape[GOLDEN_MAX_DIMS], char *msg,
                            size_t msglen) {
  cursor c = {text, text + len};
  int have_descr = 0, have_fortran = 0, have_shape = 0;
  if (!accept_char(&c, '{'))
    return fail(msg, msglen, "header is not a dict (no '{')");
  for (;;) {
    char key[32];
    if (accept_char(&c, '}')) break;
    if (parse_str(&c, key, sizeof key) != 0)
      return fail(msg, msglen, "header: expected a quoted key or '}'");
    if (!accept_char(&c, ':'))
      return fail(msg, msglen, "header: expected ':' after '%s'", key);
    if (strcmp(key, "descr") == 0) {
      if (have_descr++)
        return fail(msg, msglen, "header: 'descr' given twice");
      if (parse_str(&c, descr, descrlen) != 0)
        return fail(msg, msglen, "header: 'descr' is not a short string");
    } else if (strcmp(key, "fortran_order") == 0) {
      if (have_fortran++)
        return fail(msg, msglen, "header: 'fortran_order' given twice");
      if (accept_word(&c, "True"))
        *fortran = 1;
      else if (accept_word(&c, "False"))
        *fortran = 0;
      else
        return fail(msg, msglen, "header: 'fortran_order' is not True/False");
    } else if (strcmp(key, "shape") == 0) {
      int n = 0;
      if (have_shape++)
        return fail(msg, msglen, "header: 'shape' given twice");
      if (!accept_char(&c, '('))
        return fail(msg, msglen, "header: 'shape' is not a tuple");
      for (;;) {
        int64_t v = 0;
        int digits = 0;
        if (accept_char(&c, ')')) break;
        skip_ws(&c);
        if (c.p < c.end && *c.p == '-')
          return fail(msg, msglen, "header: negative dimension in 'shape'");
        while (c.p < c.end && *c.p >= '0' && *c.p <= '9') {
          if (v > GOLDEN_MAX_DIM)
            return fail(msg, msglen,
                        "header: a dimension exceeds the limit %lld",
                        (long long)GOLDEN_MAX_DIM);
          v = v * 10 + (*c.p - '0');
          c.p++;
          digits++;
        }
        if (digits == 0)
          return fail(msg, msglen, "header: 'shape' holds a non-integer");
        if (v > GOLDEN_MAX_DIM)
          return fail(msg, msglen,
                      "header: dimension %lld exceeds the limit %lld",
                      (long long)v, (long long)GOLDEN_MAX_DIM);
        if (n >= GOLDEN_MAX_DIMS)
          return fail(msg, msglen,
                      "header: more than %d dimensions are not supported",
                      GOLDEN_MAX_DIMS);
        shape[n++] = v;
        if (accept_char(&c, ',')) continue;
        if (accept_char(&c, ')')) break;
        return fail(msg, msglen, "header: 'shape' tuple is malformed");
      }
      *ndim = n;
    } else {
      return fail(msg, msglen, "header: unexpected key '%s'", key);
    }
    if (accept_char(&c, ',')) continue;
    if (accept_char(&c, '}')) break;
    return fail(msg, msglen, "header: expected ',' or '}' after '%s'", key);
  }
  skip_ws(&c);
  if (c.p != c.end)
    return fail(msg, msglen, "header: text after the closing '}'");
  if (!have_descr || !have_fortran || !have_shape)
    return fail(msg, msglen, "header lacks '%s'",
                !have_descr ? "descr" : !have_fortran ? "fortran_order"
                                                       : "shape");
  return 0;
}

/* ------------------------------------------------------------- npy I/O */

int npy_load(const char *path, golden_array *a, char *err, size_t errlen) {
  static const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  unsigned char pre[12];
  char *header = NULL;
  char descr[32] = "", msg[256];
  int fortran = 0, ndim = 0;
  int64_t shape[GOLDEN_MAX_DIMS] = {0, 0, 0, 0};
  size_t hlen, prelen, count = 1, got;
  float *data = NULL;
  FILE *f;

  if (a == NULL) return fail(err, errlen, "%s: no array to fill", path);
  memset(a, 0, sizeof *a);
  f = fopen(path, "rb");
  if (f == NULL)
    return fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));

  if (fread(pre, 1, 8, f) != 8) {
    fail(err, errlen, "%s: truncated header (shorter than 8 bytes)", path);
    goto error;
  }
  if (memcmp(pre, magic, 6) != 0) {
    fail(err, errlen, "%s: not a .npy file (bad magic)", path);
    goto error;
  }
  if (pre[6] == 1) {
    prelen = 2;
  } else if (pre[6] == 2 || pre[6] == 3) {
    prelen = 4;
  } else {
    fail(err, errlen, "%s: unsupported .npy format version %u.%u", path,
         (unsigned)pre[6], (unsigned)pre[7]);
    goto error;
  }
  if (fread(pre + 8, 1, prelen, f) != prelen) {
    fail(err, errlen, "%s: truncated header (no header length)", path);
    goto error;
  }
  hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
  if (prelen == 4) hlen |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
  if (hlen == 0 || hlen > GOLDEN_MAX_NPY_HEADER) {
    fail(err, errlen, "%s: header length %zu out of range (1..%d)", path,
         hlen, GOLDEN_MAX_NPY_HEADER);
    goto error;
  }
  header = malloc(hlen + 1);
  if (header == NULL) {
    fail(err, errlen, "%s: out of memory", path);
    goto error;
  }
  if (fread(header, 1, hlen, f) != hlen) {
    fail(err, errlen, "%s: truncated header (expected %zu bytes)", path,
         hlen);
    goto error;
  }
  header[hlen] = '\0';
  if (memchr(header, '\0', hlen) != NULL) {
    fail(err, errlen, "%s: header holds a NUL byte", path);
    goto error;
  }
  if (parse_npy_header(header, hlen, descr, sizeof descr, &fortran, &ndim,
                       shape, msg, sizeof msg) != 0) {
    fail(err, errlen, "%s: %s", path, msg);
    goto error;
  }
  if (strcmp(descr, "<f4") != 0) {
    fail(err, errlen,
         "%s: dtype '%s' not supported (only '<f4', little-endian float32)",
         path, descr);
    goto error;
  }
  if (fortran) {
    fail(err, errlen, "%s: fortran_order True not supported (C order only)",
         path);
    goto error;
  }
  for (int i = 0; i < ndim; i++) {
    if (shape[i] != 0 &&
        count > SIZE_MAX / sizeof(float) / (size_t)shape[i]) {
      fail(err, errlen, "%s: shape overflows the address space", path);
      goto error;
    }
    count *= (size_t)shape[i];
  }
  /* One extra float so that a present, empty array has non-NULL data. */
  data = malloc((count ? count : 1) * sizeof(float));
  if (data == NULL) {
    fail(err, errlen, "%s: out of memory for %zu floats", path, count);
    goto error;
  }
  got = fread(data, 1, count * sizeof(float), f);
  if (got != count * sizeof(float)) {
    fail(err, errlen, "%s: truncated data: expected %zu bytes, found %zu",
         path, count * sizeof(float), got);
    goto error;
  }
  if (fgetc(f) != EOF) {
    fail(err, errlen, "%s: trailing bytes after %zu bytes of data", path,
         count * sizeof(float));
    goto error;
  }
  if (ferror(f)) {
    fail(err, errlen, "%s: read error", path);
    goto error;
  }
  fclose(f);
  free(header);
  if (!host_is_little_endian()) swap4(data, count);
  a->ndim = ndim;
  for (int i = 0; i < ndim; i++) a->shape[i] = shape[i];
  a->count = count;
  a->data = data;
  return 0;

error:
  fclose(f);
  free(header);
  free(data);
  return -1;
}

int npy_save(const char *path, const golden_array *a, char *err,
             size_t errlen) {
  char dict[256], shape[160];
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
  size_t dlen, total, pad;
  FILE *f;
  int ok;

  if (a == NULL || (a->data == NULL && a->count > 0) || a->ndim < 0 ||
      a->ndim > GOLDEN_MAX_DIMS)
    return fail(err, errlen, "%s: invalid array", path);
  golden_shape_string(a, shape, sizeof shape);
  dlen = (size_t)snprintf(dict, sizeof dict,
                          "{'descr': '<f4', 'fortran_order': False, "
                          "'shape': %s, }",
                          shape);
  if (dlen >= sizeof dict) return fail(err, errlen, "%s: shape too long", path);
  /* numpy pads with spaces and a final newline to a multiple of 64. */
  total = sizeof pre + dlen + 1;
  pad = (64 - total % 64) % 64;
  pre[8] = (unsigned char)((dlen + pad + 1) & 0xff);
  pre[9] = (unsigned char)((dlen + pad + 1) >> 8);

  f = fopen(path, "wb");
  if (f == NULL)
    return fail(err, errlen, "%s: cannot create: %s", path, strerror(errno));
  ok = fwrite(pre, 1, sizeof pre, f) == sizeof pre &&
       fwrite(dict, 1, dlen, f) == dlen;
  for (size_t i = 0; ok && i < pad; i++) ok = fputc(' ', f) != EOF;
  if (ok) ok = fputc('\n', f) != EOF;
  if (ok && a->count > 0) {
    if (host_is_little_endian()) {
      ok = fwrite(a->data, sizeof(float), a->count, f) == a->count;
    } else {
      for (size_t i = 0; ok && i < a->count; i++) {
        float v = a->data[i];
        swap4(&v, 1);
        ok = fwrite(&v, sizeof v, 1, f) == 1;
      }
    }
  }
  if (fclose(f) != 0) ok = 0;
  if (!ok) return fail(err, errlen, "%s: write error: %s", path,
                       strerror(errno));
  return 0;
}

/* ------------------------------------------------------------- params */

enum {
  KEY_STRIDE = 1 << 0,
  KEY_PADDING = 1 << 1,
  KEY_DILATION = 1 << 2,
  KEY_GROUPS = 1 << 3,
  KEY_MODE = 1 << 4,
  KEY_FLIP = 1 << 5,
  KEY_OP = 1 << 6,
  KEY_KERNEL = 1 << 7,
  KEY_CEIL = 1 << 8,
  KEY_OUTPAD = 1 << 9,
  KEY_INCLUDE_PAD = 1 << 10,
  KEY_DIVISOR = 1 << 11,
  KEY_OUTSIZE = 1 << 12,
  KEY_ACT = 1 << 13
};

/* The ops a params file may name. */
static const char *const golden_ops[] = {"conv2d", "maxpool2d",
                                         "conv_transpose2d", "avgpool2d",
                                         "adaptive_avgpool2d"};

typedef struct params {
  int seen;
  int64_t stride[2], dilation[2], groups, kernel[2];
  conv_padding padding;
  int64_t pad[4];
  conv_padding_mode mode;
  int flip, ceil_mode;
  char op[24];
  char description[512];
  int64_t output_padding[2], divisor, output_size[2];
  int include_pad;
  conv_activation act;
  float act_alpha;
} params;

/* Comma-separated integers in [lo, GOLDEN_MAX_PARAM]; 1..maxn of them. */
static int parse_ints(const char *path, int line, const char *key,
                      const char *value, int64_t lo, int64_t *out, int maxn,
                      int *n, char *err, size_t errlen) {
  const char *p = value;
  *n = 0;
  for (;;) {
    char *end;
    long long v;
    while (*p == ' ' || *p == '\t') p++;
    if (*n >= maxn)
      return fail(err, errlen, "%s:%d: %s=%s: at most %d values", path, line,
                  key, value, maxn);
    if (!(*p >= '0' && *p <= '9') && *p != '-' && *p != '+')
      return fail(err, errlen, "%s:%d: %s=%s: expected an integer", path,
                  line, key, value);
    errno = 0;
    v = strtoll(p, &end, 10);
    if (errno == ERANGE || v > GOLDEN_MAX_PARAM)
      return fail(err, errlen, "%s:%d: %s=%s: value too large (limit %lld)",
                  path, line, key, value, (long long)GOLDEN_MAX_PARAM);
    if (end == p)
      return fail(err, errlen, "%s:%d: %s=%s: expected an integer", path,
                  line, key, value);
    if (v < lo)
      return fail(err, errlen, "%s:%d: %s=%s: must be >= %lld", path, line,
                  key, value, (long long)lo);
    out[(*n)++] = v;
    p = end;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '\0') return 0;
    if (*p != ',')
      return fail(err, errlen, "%s:%d: %s=%s: expected an integer", path,
                  line, key, value);
    p++;
  }
}

/* Exactly 1 or 2 values; one is used for both axes. */
static int parse_pair(const char *path, int line, const char *key,
                      const char *value, int64_t lo, int64_t out[2],
                      char *err, size_t errlen) {
  int n;
  if (parse_ints(path, line, key, value, lo, out, 2, &n, err, errlen) != 0)
    return -1;
  if (n == 1) out[1] = out[0];
  return 0;
}

static int parse_flag(const char *path, int line, const char *key,
                      const char *value, int *out, char *err, size_t errlen) {
  if (strcmp(value, "0") == 0) {
    *out = 0;
  } else if (strcmp(value, "1") == 0) {
    *out = 1;
  } else {
    return fail(err, errlen, "%s:%d: %s=%s: expected 0 or 1", path, line,
                key, value);
  }
  return 0;
}

static char *trim(char *s) {
  char *e;
  while (*s && isspace((unsigned char)*s)) s++;
  e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
  return s;
}

static int handle_key(const char *path, int line, const char *key,
                      const char *value, params *pp, char *err,
                      size_t errlen) {
  static const struct {
    const char *name;
    int bit;
  } keys[] = {{"stride", KEY_STRIDE},   {"padding", KEY_PADDING},
              {"dilation", KEY_DILATION}, {"groups", KEY_GROUPS},
              {"padding_mode", KEY_MODE}, {"flip_kernel", KEY_FLIP},
              {"op", KEY_OP},           {"kernel", KEY_KERNEL},
              {"ceil_mode", KEY_CEIL},  {"output_padding", KEY_OUTPAD},
              {"count_include_pad", KEY_INCLUDE_PAD},
              {"divisor_override", KEY_DIVISOR},
              {"output_size", KEY_OUTSIZE}, {"activation", KEY_ACT}};
  int bit = 0;
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (strcmp(key, keys[i].name) == 0) bit = keys[i].bit;
  if (bit == 0)
    return fail(err, errlen,
                "%s:%d: unknown key '%s' (known: stride, padding, dilation, "
                "groups, padding_mode, flip_kernel, op, kernel, ceil_mode, "
                "output_padding, count_include_pad, divisor_override, "
                "output_size, activation)",
                path, line, key);
  if (pp->seen & bit)
    return fail(err, errlen, "%s:%d: key '%s' given twice", path, line, key);
  pp->seen |= bit;
  if (*value == '\0')
    return fail(err, errlen, "%s:%d: key '%s' has no value", path, line, key);

  switch (bit) {
    case KEY_STRIDE:
      return parse_pair(path, line, key, value, 1, pp->stride, err, errlen);
    case KEY_DILATION:
      return parse_pair(path, line, key, value, 1, pp->dilation, err, errlen);
    case KEY_KERNEL:
      return parse_pair(path, line, key, value, 1, pp->kernel, err, errlen);
    case KEY_GROUPS: {
      int n;
      return parse_ints(path, line, key, value, 1, &pp->groups, 1, &n, err,
                        errlen);
    }
    case KEY_PADDING: {
      int64_t v[4];
      int n;
      if (strcmp(value, "same") == 0) {
        pp->padding = CONV_PADDING_SAME;
        return 0;
      }
      if (strcmp(value, "valid") == 0) {
        pp->padding = CONV_PADDING_VALID;
        return 0;
      }
      if (strcmp(value, "full") == 0) {
        pp->padding = CONV_PADDING_FULL;
        return 0;
      }
      if (parse_ints(path, line, key, value, 0, v, 4, &n, err, errlen) != 0)
        return -1;
      pp->padding = CONV_PADDING_EXPLICIT;
      if (n == 1) {
        pp->pad[0] = pp->pad[1] = pp->pad[2] = pp->pad[3] = v[0];
      } else if (n == 2) {
        pp->pad[0] = pp->pad[1] = v[0];
        pp->pad[2] = pp->pad[3] = v[1];
      } else if (n == 4) {
        for (int i = 0; i < 4; i++) pp->pad[i] = v[i];
      } else {
        return fail(err, errlen,
                    "%s:%d: padding=%s: expected P, PH,PW, T,B,L,R, same, "
                    "valid or full",
                    path, line, value);
      }
      return 0;
    }
    case KEY_MODE: {
      static const struct {
        const char *name;
        conv_padding_mode mode;
      } modes[] = {{"zeros", CONV_PAD_ZEROS},
                   {"reflect", CONV_PAD_REFLECT},
                   {"replicate", CONV_PAD_REPLICATE},
                   {"circular", CONV_PAD_CIRCULAR},
                   {"symmetric", CONV_PAD_SYMMETRIC}};
      for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (strcmp(value, modes[i].name) == 0) {
          pp->mode = modes[i].mode;
          return 0;
        }
      return fail(err, errlen,
                  "%s:%d: padding_mode=%s: expected zeros, reflect, "
                  "replicate, circular or symmetric",
                  path, line, value);
    }
    case KEY_FLIP:
      return parse_flag(path, line, key, value, &pp->flip, err, errlen);
    case KEY_CEIL:
      return parse_flag(path, line, key, value, &pp->ceil_mode, err, errlen);
    case KEY_OP:
      for (size_t i = 0; i < sizeof golden_ops / sizeof golden_ops[0]; i++)
        if (strcmp(value, golden_ops[i]) == 0) {
          snprintf(pp->op, sizeof pp->op, "%s", value);
          return 0;
        }
      return fail(err, errlen,
                  "%s:%d: op=%s: expected conv2d, maxpool2d, "
                  "conv_transpose2d, avgpool2d or adaptive_avgpool2d",
                  path, line, value);
    case KEY_OUTPAD:
      return parse_pair(path, line, key, value, 0, pp->output_padding, err,
                        errlen);
    case KEY_OUTSIZE:
      return parse_pair(path, line, key, value, 1, pp->output_size, err,
                        errlen);
    case KEY_INCLUDE_PAD:
      return parse_flag(path, line, key, value, &pp->include_pad, err, errlen);
    case KEY_DIVISOR: {
      int n;
      return parse_ints(path, line, key, value, 1, &pp->divisor, 1, &n, err,
                        errlen);
    }
    case KEY_ACT: {
      static const struct {
        const char *name;
        conv_activation act;
      } acts[] = {{"none", CONV_ACT_NONE},       {"relu", CONV_ACT_RELU},
                  {"relu6", CONV_ACT_RELU6},     {"sigmoid", CONV_ACT_SIGMOID},
                  {"tanh", CONV_ACT_TANH},       {"silu", CONV_ACT_SILU}};
      for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
        if (strcmp(value, acts[i].name) == 0) {
          pp->act = acts[i].act;
          return 0;
        }
      if (strncmp(value, "leaky_relu:", 11) == 0) {
        char *end = NULL;
        errno = 0;
        double a = strtod(value + 11, &end);
        if (end != value + 11 && *end == '\0' && errno == 0 && isfinite(a) &&
            fabs(a) < 1e6) {
          pp->act = CONV_ACT_LEAKY_RELU;
          pp->act_alpha = (float)a;
          return 0;
        }
      }
      return fail(err, errlen,
                  "%s:%d: activation=%s: expected relu, relu6, "
                  "leaky_relu:SLOPE, sigmoid, tanh or silu",
                  path, line, value);
    }
    default:
      return fail(err, errlen, "%s:%d: internal error", path, line);
  }
}

static int read_params(const char *path, params *pp, char *err,
                       size_t errlen) {
  FILE *f;
  char *text = NULL, *line, *next;
  size_t len;
  int lineno = 0, rc = -1;

  memset(pp, 0, sizeof *pp);
  pp->stride[0] = pp->stride[1] = 1;
  pp->dilation[0] = pp->dilation[1] = 1;
  pp->groups = 1;
  pp->padding = CONV_PADDING_EXPLICIT;
  pp->mode = CONV_PAD_ZEROS;
  pp->include_pad = 1;
  snprintf(pp->op, sizeof pp->op, "conv2d");

  f = fopen(path, "rb");
  if (f == NULL)
    return fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
  text = malloc(GOLDEN_MAX_PARAMS_FILE + 1);
  if (text == NULL) {
    fail(err, errlen, "%s: out of memory", path);
    goto done;
  }
  len = fread(text, 1, GOLDEN_MAX_PARAMS_FILE + 1, f);
  if (ferror(f)) {
    fail(err, errlen, "%s: read error", path);
    goto done;
  }
  if (len > GOLDEN_MAX_PARAMS_FILE) {
    fail(err, errlen, "%s: larger than %d bytes", path,
         GOLDEN_MAX_PARAMS_FILE);
    goto done;
  }
  if (memchr(text, '\0', len) != NULL) {
    fail(err, errlen, "%s: holds a NUL byte (not a text file)", path);
    goto done;
  }
  text[len] = '\0';

  for (line = text; line != NULL; line = next) {
    char *s, *eq;
    next = strchr(line, '\n');
    if (next != NULL) *next++ = '\0';
    lineno++;
    s = trim(line);
    if (*s == '\0') continue;
    if (*s == '#') {
      if (pp->description[0] == '\0')
        snprintf(pp->description, sizeof pp->description, "%s",
                 trim(s + 1));
      continue;
    }
    eq = strchr(s, '=');
    if (eq == NULL) {
      fail(err, errlen, "%s:%d: expected key=value, found '%.60s'", path,
           lineno, s);
      goto done;
    }
    *eq = '\0';
    if (handle_key(path, lineno, trim(s), trim(eq + 1), pp, err, errlen) != 0)
      goto done;
  }
  rc = 0;

done:
  fclose(f);
  free(text);
  return rc;
}

/* ------------------------------------------------------------- checks */

static int same_shape(const golden_array *a, int ndim, const int64_t *want) {
  if (a->ndim != ndim) return 0;
  for (int i = 0; i < ndim; i++)
    if (a->shape[i] != want[i]) return 0;
  return 1;
}

/* Checks that array `a` (file `file` of case dir `dir`) is present and has
 * shape want[0..ndim-1]. */
static int check_shape(const char *dir, const char *file,
                       const golden_array *a, int ndim, const int64_t *want,
                       const char *why, char *err, size_t errlen) {
  char got[160], exp[160];
  golden_array w;
  if (same_shape(a, ndim, want)) return 0;
  memset(&w, 0, sizeof w);
  w.ndim = ndim;
  for (int i = 0; i < ndim; i++) w.shape[i] = want[i];
  return fail(err, errlen, "%s/%s: shape %s but %s gives %s", dir, file,
              golden_shape_string(a, got, sizeof got), why,
              golden_shape_string(&w, exp, sizeof exp));
}

/* One axis: resolves the two pads and the output size. Returns 0 or -1. */
static int resolve_axis(const char *dir, const char *axis, int64_t size,
                        int64_t k, int64_t stride, int64_t dil,
                        const params *pp, int64_t pad_in0, int64_t pad_in1,
                        int64_t *p0, int64_t *p1, int64_t *out, char *err,
                        size_t errlen) {
  int64_t span = dil * (k - 1); /* <= 2^20 * 2^32: no overflow */
  int64_t num;
  switch (pp->padding) {
    case CONV_PADDING_SAME:
      if (stride != 1)
        return fail(err, errlen,
                    "%s/params: padding=same needs stride 1 (stride %s is "
                    "%lld)",
                    dir, axis, (long long)stride);
      /* PyTorch puts the odd one bottom/right; true convolution centres
       * like SciPy and puts it top/left (see conv.h). */
      *p0 = pp->flip ? span - span / 2 : span / 2;
      *p1 = span - *p0;
      break;
    case CONV_PADDING_VALID:
      *p0 = *p1 = 0;
      break;
    case CONV_PADDING_FULL:
      *p0 = *p1 = span;
      break;
    case CONV_PADDING_EXPLICIT:
    default:
      *p0 = pad_in0;
      *p1 = pad_in1;
      break;
  }
  if ((pp->mode == CONV_PAD_REFLECT && (*p0 >= size || *p1 >= size)) ||
      ((pp->mode == CONV_PAD_CIRCULAR || pp->mode == CONV_PAD_SYMMETRIC) &&
       (*p0 > size || *p1 > size)))
    return fail(err, errlen,
                "%s/params: padding_mode=%s with pads %lld,%lld on %s size "
                "%lld: needs pad %s size",
                dir,
                pp->mode == CONV_PAD_REFLECT    ? "reflect"
                : pp->mode == CONV_PAD_CIRCULAR ? "circular"
                                                : "symmetric",
                (long long)*p0, (long long)*p1, axis, (long long)size,
                pp->mode == CONV_PAD_REFLECT ? "<" : "<=");
  num = size + *p0 + *p1 - span - 1;
  if (num < 0)
    return fail(err, errlen,
                "%s: the kernel (%s extent %lld) is larger than the padded "
                "input (%lld)",
                dir, axis, (long long)(span + 1),
                (long long)(size + *p0 + *p1));
  if ((strcmp(pp->op, "maxpool2d") == 0 || strcmp(pp->op, "avgpool2d") == 0) &&
      pp->ceil_mode) {
    *out = (num + stride - 1) / stride + 1;
    /* PyTorch: the last window must start inside the input or the
     * leading pad. */
    if ((*out - 1) * stride >= size + *p0) (*out)--;
  } else {
    *out = num / stride + 1;
  }
  return 0;
}

/* Loads dir/<name>.npy into *a. If the file does not exist: an error when
 * required, else *a stays absent. */
static int load_member(const char *dir, const char *name, int required,
                       golden_array *a, char *err, size_t errlen) {
  char path[4200];
  struct stat st;
  if (join_path(path, sizeof path, dir, name) != 0)
    return fail(err, errlen, "%s: path too long", dir);
  if (stat(path, &st) != 0 && errno == ENOENT) {
    if (required) return fail(err, errlen, "%s: missing", path);
    return 0;
  }
  return npy_load(path, a, err, errlen);
}

void golden_free(golden_case *c) {
  if (c == NULL) return;
  golden_array_free(&c->x);
  golden_array_free(&c->w);
  golden_array_free(&c->b);
  golden_array_free(&c->y);
  golden_array_free(&c->dy);
  golden_array_free(&c->dx);
  golden_array_free(&c->dw);
  golden_array_free(&c->db);
}

int golden_load(const char *case_dir, golden_case *c, char *err,
                size_t errlen) {
  char path[4200];
  params pp;
  const char *dir = case_dir, *base, *end;
  conv_desc *d;
  int pool;

  if (c == NULL) return fail(err, errlen, "golden_load: no case to fill");
  memset(c, 0, sizeof *c);
  if (case_dir == NULL || *case_dir == '\0')
    return fail(err, errlen, "golden_load: empty case directory");
  if (strlen(case_dir) >= sizeof c->dir)
    return fail(err, errlen, "%.100s...: path too long", case_dir);
  snprintf(c->dir, sizeof c->dir, "%s", case_dir);

  /* name: the last non-empty path component */
  end = dir + strlen(dir);
  while (end > dir + 1 && end[-1] == '/') end--;
  base = end;
  while (base > dir && base[-1] != '/') base--;
  snprintf(c->name, sizeof c->name, "%.*s", (int)(end - base), base);

  if (join_path(path, sizeof path, dir, "params") != 0)
    return fail(err, errlen, "%s: path too long", dir);
  if (read_params(path, &pp, err, errlen) != 0) goto error;
  snprintf(c->op, sizeof c->op, "%s", pp.op);
  snprintf(c->description, sizeof c->description, "%s", pp.description);
  {
    const int is_conv = strcmp(pp.op, "conv2d") == 0;
    const int is_tconv = strcmp(pp.op, "conv_transpose2d") == 0;
    const int is_avg = strcmp(pp.op, "avgpool2d") == 0;
    const int is_adapt = strcmp(pp.op, "adaptive_avgpool2d") == 0;
    const int is_max = strcmp(pp.op, "maxpool2d") == 0;
    /* Which keys each op takes (op itself always). */
    const struct { int bit; const char *name; int ok; } only[] = {
        {KEY_CEIL, "ceil_mode", is_max || is_avg},
        {KEY_OUTPAD, "output_padding", is_tconv},
        {KEY_INCLUDE_PAD, "count_include_pad", is_avg},
        {KEY_DIVISOR, "divisor_override", is_avg},
        {KEY_OUTSIZE, "output_size", is_adapt},
        {KEY_ACT, "activation", is_conv || is_tconv},
        {KEY_MODE, "padding_mode", is_conv || is_max},
        {KEY_FLIP, "flip_kernel", is_conv},
        {KEY_GROUPS, "groups", is_conv || is_tconv || is_max},
        {KEY_DILATION, "dilation", !is_avg && !is_adapt},
        {KEY_STRIDE, "stride", !is_adapt},
        {KEY_PADDING, "padding", !is_adapt},
        {KEY_KERNEL, "kernel", !is_adapt},
    };
    for (size_t i = 0; i < sizeof only / sizeof only[0]; i++)
      if ((pp.seen & only[i].bit) && !only[i].ok) {
        fail(err, errlen, "%s: %s is not a key of op=%s", path, only[i].name,
             pp.op);
        goto error;
      }
    if ((is_max || is_avg) && !(pp.seen & KEY_KERNEL)) {
      fail(err, errlen, "%s: op=%s needs kernel=KH,KW", path, pp.op);
      goto error;
    }
    if (is_adapt && !(pp.seen & KEY_OUTSIZE)) {
      fail(err, errlen, "%s: op=%s needs output_size=OH,OW", path, pp.op);
      goto error;
    }
    if (is_tconv && pp.padding != CONV_PADDING_EXPLICIT) {
      fail(err, errlen,
           "%s: op=conv_transpose2d takes padding=P|PH,PW|T,B,L,R only", path);
      goto error;
    }
  }
  pool = strcmp(pp.op, "maxpool2d") == 0 || strcmp(pp.op, "avgpool2d") == 0 ||
         strcmp(pp.op, "adaptive_avgpool2d") == 0;
  c->count_include_pad = pp.include_pad;
  c->divisor_override = pp.divisor;
  c->output_size[0] = pp.output_size[0];
  c->output_size[1] = pp.output_size[1];
  c->output_padding[0] = pp.output_padding[0];
  c->output_padding[1] = pp.output_padding[1];
  c->activation = pp.act;
  c->activation_alpha = pp.act_alpha;

  if (load_member(dir, "x.npy", 1, &c->x, err, errlen) != 0 ||
      load_member(dir, "w.npy", !pool, &c->w, err, errlen) != 0 ||
      load_member(dir, "b.npy", 0, &c->b, err, errlen) != 0 ||
      load_member(dir, "y.npy", 1, &c->y, err, errlen) != 0 ||
      load_member(dir, "dy.npy", 1, &c->dy, err, errlen) != 0 ||
      load_member(dir, "dx.npy", 1, &c->dx, err, errlen) != 0 ||
      load_member(dir, "dw.npy", !pool, &c->dw, err, errlen) != 0 ||
      load_member(dir, "db.npy", 0, &c->db, err, errlen) != 0)
    goto error;

  if (pool && (c->w.data || c->b.data || c->dw.data || c->db.data)) {
    fail(err, errlen, "%s: op=%s takes no w, b, dw or db", dir, pp.op);
    goto error;
  }
  if (c->db.data != NULL && c->b.data == NULL) {
    fail(err, errlen, "%s/db.npy: present but b.npy is missing", dir);
    goto error;
  }
  if (c->b.data != NULL && c->db.data == NULL) {
    fail(err, errlen, "%s/db.npy: missing (the case has b.npy)", dir);
    goto error;
  }
  if (c->x.ndim != 4) {
    fail(err, errlen, "%s/x.npy: %d dimensions, expected 4 (N, C, H, W)",
         dir, c->x.ndim);
    goto error;
  }
  d = &c->desc;
  d->n = c->x.shape[0];
  d->c_in = c->x.shape[1];
  d->h = c->x.shape[2];
  d->w = c->x.shape[3];
  if (d->c_in < 1 || d->h < 1 || d->w < 1) {
    fail(err, errlen, "%s/x.npy: C, H and W must be >= 1", dir);
    goto error;
  }
  d->stride[0] = pp.stride[0];
  d->stride[1] = pp.stride[1];
  d->dilation[0] = pp.dilation[0];
  d->dilation[1] = pp.dilation[1];
  d->groups = pp.groups;
  d->padding = pp.padding;
  for (int i = 0; i < 4; i++) d->pad[i] = pp.pad[i];
  d->padding_mode = pp.mode;
  d->flip_kernel = pp.flip;
  d->has_bias = c->b.data != NULL;
  c->ceil_mode = pp.ceil_mode;

  if (pool) {
    d->c_out = d->c_in;
    d->kernel[0] = pp.kernel[0];
    d->kernel[1] = pp.kernel[1];
    if (d->groups != 1) {
      fail(err, errlen, "%s/params: groups is not used by %s", dir, pp.op);
      goto error;
    }
  } else if (strcmp(pp.op, "conv_transpose2d") == 0) {
    /* w (C_in, C_out/groups, kH, kW) */
    if (c->w.ndim != 4) {
      fail(err, errlen,
           "%s/w.npy: %d dimensions, expected 4 (C_in, C_out/groups, kH, kW)",
           dir, c->w.ndim);
      goto error;
    }
    d->kernel[0] = c->w.shape[2];
    d->kernel[1] = c->w.shape[3];
    if (c->w.shape[1] < 1 || d->kernel[0] < 1 || d->kernel[1] < 1) {
      fail(err, errlen, "%s/w.npy: C_out/groups, kH and kW must be >= 1", dir);
      goto error;
    }
    if (c->w.shape[0] != d->c_in || d->c_in % d->groups != 0) {
      fail(err, errlen,
           "%s/w.npy: first dimension %lld, but x has C_in=%lld (groups=%lld "
           "must divide it)",
           dir, (long long)c->w.shape[0], (long long)d->c_in,
           (long long)d->groups);
      goto error;
    }
    d->c_out = c->w.shape[1] * d->groups;
    if ((pp.seen & KEY_KERNEL) &&
        (pp.kernel[0] != d->kernel[0] || pp.kernel[1] != d->kernel[1])) {
      fail(err, errlen,
           "%s/params: kernel=%lld,%lld but w.npy's kernel is %lldx%lld",
           dir, (long long)pp.kernel[0], (long long)pp.kernel[1],
           (long long)d->kernel[0], (long long)d->kernel[1]);
      goto error;
    }
    for (int a = 0; a < 2; a++) {
      const int64_t op = pp.output_padding[a];
      if (op >= d->stride[a] && op >= d->dilation[a]) {
        fail(err, errlen,
             "%s/params: output_padding=%lld must be smaller than stride "
             "(%lld) or dilation (%lld)",
             dir, (long long)op, (long long)d->stride[a],
             (long long)d->dilation[a]);
        goto error;
      }
    }
  } else {
    if (c->w.ndim != 4) {
      fail(err, errlen,
           "%s/w.npy: %d dimensions, expected 4 (C_out, C_in/groups, kH, kW)",
           dir, c->w.ndim);
      goto error;
    }
    d->c_out = c->w.shape[0];
    d->kernel[0] = c->w.shape[2];
    d->kernel[1] = c->w.shape[3];
    if (d->c_out < 1 || d->kernel[0] < 1 || d->kernel[1] < 1) {
      fail(err, errlen, "%s/w.npy: C_out, kH and kW must be >= 1", dir);
      goto error;
    }
    if (d->c_in % d->groups != 0 || d->c_out % d->groups != 0) {
      fail(err, errlen,
           "%s/params: groups=%lld does not divide C_in=%lld and "
           "C_out=%lld",
           dir, (long long)d->groups, (long long)d->c_in,
           (long long)d->c_out);
      goto error;
    }
    if (c->w.shape[1] != d->c_in / d->groups) {
      fail(err, errlen,
           "%s/w.npy: %lld input channels per group, but x has C_in=%lld "
           "and groups=%lld (expected %lld)",
           dir, (long long)c->w.shape[1], (long long)d->c_in,
           (long long)d->groups, (long long)(d->c_in / d->groups));
      goto error;
    }
    if ((pp.seen & KEY_KERNEL) &&
        (pp.kernel[0] != d->kernel[0] || pp.kernel[1] != d->kernel[1])) {
      fail(err, errlen,
           "%s/params: kernel=%lld,%lld but w.npy's kernel is %lldx%lld",
           dir, (long long)pp.kernel[0], (long long)pp.kernel[1],
           (long long)d->kernel[0], (long long)d->kernel[1]);
      goto error;
    }
  }

  if (strcmp(pp.op, "adaptive_avgpool2d") == 0) {
    c->h_out = pp.output_size[0];
    c->w_out = pp.output_size[1];
  } else if (strcmp(pp.op, "conv_transpose2d") == 0) {
    for (int a = 0; a < 2; a++) {
      const int64_t in = a ? d->w : d->h;
      int64_t *out = a ? &c->w_out : &c->h_out;
      c->pads[2 * a] = pp.pad[2 * a];
      c->pads[2 * a + 1] = pp.pad[2 * a + 1];
      /* Each term < 2^53: no overflow. */
      *out = (in - 1) * d->stride[a] - pp.pad[2 * a] - pp.pad[2 * a + 1] +
             d->dilation[a] * (d->kernel[a] - 1) + pp.output_padding[a] + 1;
      if (*out < 1) {
        fail(err, errlen, "%s: the transposed convolution's output %s is %lld",
             dir, a ? "width" : "height", (long long)*out);
        goto error;
      }
    }
  } else if (resolve_axis(dir, "height", d->h, d->kernel[0], d->stride[0],
                          d->dilation[0], &pp, pp.pad[0], pp.pad[1],
                          &c->pads[0], &c->pads[1], &c->h_out, err,
                          errlen) != 0 ||
             resolve_axis(dir, "width", d->w, d->kernel[1], d->stride[1],
                          d->dilation[1], &pp, pp.pad[2], pp.pad[3],
                          &c->pads[2], &c->pads[3], &c->w_out, err,
                          errlen) != 0) {
    goto error;
  }

  {
    const int64_t yshape[4] = {d->n, d->c_out, c->h_out, c->w_out};
    const int64_t bshape[1] = {d->c_out};
    const char *why = pool ? "the pooling" : "the convolution";
    if (check_shape(dir, "y.npy", &c->y, 4, yshape, why, err, errlen) ||
        check_shape(dir, "dy.npy", &c->dy, 4, yshape, why, err, errlen) ||
        check_shape(dir, "dx.npy", &c->dx, 4, c->x.shape, "x.npy", err,
                    errlen))
      goto error;
    if (!pool && check_shape(dir, "dw.npy", &c->dw, 4, c->w.shape, "w.npy",
                             err, errlen))
      goto error;
    if (c->b.data != NULL &&
        (check_shape(dir, "b.npy", &c->b, 1, bshape, "C_out of w.npy", err,
                     errlen) ||
         check_shape(dir, "db.npy", &c->db, 1, bshape, "C_out of w.npy",
                     err, errlen)))
      goto error;
  }
  return 0;

error:
  golden_free(c);
  return -1;
}

/* --------------------------------------------------------------- list */

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void golden_list_free(char **names, size_t count) {
  if (names == NULL) return;
  for (size_t i = 0; i < count; i++) free(names[i]);
  free(names);
}

/* 1 if dir holds a file named *.npy. */
static int has_npy(const char *dir) {
  DIR *dp = opendir(dir);
  if (dp == NULL) return 0;
  struct dirent *e;
  int found = 0;
  while (!found && (e = readdir(dp)) != NULL) {
    size_t len = strlen(e->d_name);
    found = len > 4 && strcmp(e->d_name + len - 4, ".npy") == 0;
  }
  closedir(dp);
  return found;
}

int golden_list(const char *root, const char *glob, char ***names,
                size_t *count, char *err, size_t errlen) {
  DIR *dp;
  struct dirent *e;
  char **list = NULL;
  size_t n = 0, cap = 0;

  if (names == NULL || count == NULL)
    return fail(err, errlen, "golden_list: no output");
  *names = NULL;
  *count = 0;
  if (root == NULL) return fail(err, errlen, "golden_list: no directory");
  dp = opendir(root);
  if (dp == NULL)
    return fail(err, errlen, "%s: cannot open directory: %s", root,
                strerror(errno));
  while ((e = readdir(dp)) != NULL) {
    char path[4200], sub[4200];
    struct stat st;
    if (e->d_name[0] == '.') continue;
    if (glob != NULL && *glob != '\0' && fnmatch(glob, e->d_name, 0) != 0)
      continue;
    if (join_path(sub, sizeof sub, root, e->d_name) != 0 ||
        join_path(path, sizeof path, sub, "params") != 0) {
      closedir(dp);
      golden_list_free(list, n);
      return fail(err, errlen, "%s/%s: path too long", root, e->d_name);
    }
    /* A case has params; a directory with arrays but no params is listed
     * too, so that loading it reports the missing file instead of the set
     * silently shrinking. */
    if (stat(sub, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    if ((stat(path, &st) != 0 || !S_ISREG(st.st_mode)) && !has_npy(sub))
      continue;
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : 64;
      char **grown = realloc(list, ncap * sizeof *grown);
      if (grown == NULL) goto oom;
      list = grown;
      cap = ncap;
    }
    list[n] = strdup(e->d_name);
    if (list[n] == NULL) goto oom;
    n++;
  }
  closedir(dp);
  if (n > 0) qsort(list, n, sizeof *list, cmp_names);
  if (n == 0) {
    free(list);
    list = NULL;
  }
  *names = list;
  *count = n;
  return 0;

oom:
  closedir(dp);
  golden_list_free(list, n);
  return fail(err, errlen, "%s: out of memory listing cases", root);
}

/* -------------------------------------------------------------- error */

double golden_rel_error(const float *got, const float *ref, size_t count) {
  double maxdiff = 0.0, maxref = 0.0;
  if (count == 0) return 0.0;
  if (got == NULL || ref == NULL) return INFINITY;
  for (size_t i = 0; i < count; i++) {
    double g = got[i], r = ref[i], diff;
    if (isnan(g) || isnan(r)) return INFINITY;
    if (isinf(g) || isinf(r)) {
      if (g == r) continue;
      return INFINITY;
    }
    diff = fabs(g - r);
    if (diff > maxdiff) maxdiff = diff;
    if (fabs(r) > maxref) maxref = fabs(r);
  }
  return maxdiff / (maxref > 1e-6 ? maxref : 1e-6);
}
