/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Suite files: one convolution layer per line, for `convinfo bench`.
 *
 *   # comment
 *   name n=8 c_in=64 h=56 w=56 c_out=64 kernel=3,3 stride=1,1 padding=1,1
 *        dilation=1,1 groups=1 padding_mode=zeros bias=1      (one line)
 *   [name] mb8ic64ih56oc64oh56kh3ph1n"resnet"                  (benchdnn)
 *
 * Key=value defaults are PyTorch's nn.Conv2d ones (stride 1, padding 0,
 * dilation 1, groups 1, zeros, bias=1 as Conv2d's bias=True), n=1 and w=h.
 * tools/bench_torch.py parses the same format the same way; keep the two in
 * step (`convinfo bench --dry-run` and `bench_torch.py --dry-run` print the
 * same lines).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tools.h"

#include "conv_paths.h" /* generated from the configured paths */
#define CONV_SUITE_INSTALL_DIR CONV_PKGDATADIR "/suites"
#define CONV_SUITE_SOURCE_DIR CONV_SOURCE_DIR "/tools/suites"

#define MAX_TOKENS 32

static const char *const mode_names[] = {"zeros", "reflect", "replicate",
                                         "circular", "symmetric"};

const char *suite_padding_mode_name(conv_padding_mode mode) {
  if ((unsigned)mode < sizeof mode_names / sizeof mode_names[0])
    return mode_names[mode];
  return "?";
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

/* A whole-string non-negative decimal integer. */
static int parse_int(const char *s, int64_t *v) {
  if (!isdigit((unsigned char)*s)) return -1;
  errno = 0;
  char *end;
  long long x = strtoll(s, &end, 10);
  if (errno != 0 || *end != '\0') return -1;
  *v = x;
  return 0;
}

/* "a" or "a,b" (or up to max comma-separated integers); returns how many. */
static int parse_list(const char *s, int64_t *v, int max) {
  char buf[128];
  if (strlen(s) >= sizeof buf) return -1;
  strcpy(buf, s);
  int n = 0;
  char *save = NULL;
  for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (n == max || parse_int(t, &v[n]) != 0) return -1;
    n++;
  }
  /* "1,,2" or a trailing comma would slip through strtok. */
  if (n == 0 || strstr(s, ",,") || s[0] == ',' || s[strlen(s) - 1] == ',')
    return -1;
  return n;
}

/* Pairs like kernel=3 or kernel=3,5. */
static int parse_pair(const char *key, const char *val, int64_t out[2],
                      char *err, size_t errlen) {
  int64_t v[2];
  int n = parse_list(val, v, 2);
  if (n < 1)
    return fail(err, errlen, "%s=%s: expected N or N,N", key, val);
  out[0] = v[0];
  out[1] = n == 2 ? v[1] : v[0];
  return 0;
}

static int parse_kv(char **tok, int ntok, suite_layer *out, char *err,
                    size_t errlen) {
  conv_desc *d = &out->desc;
  int have_w = 0, have_cin = 0, have_h = 0, have_cout = 0, have_k = 0;
  d->n = 1;
  d->has_bias = 1; /* nn.Conv2d's default */
  for (int i = 0; i < ntok; i++) {
    char *eq = strchr(tok[i], '=');
    if (eq == NULL)
      return fail(err, errlen,
                  "'%s': expected key=value (the name comes first)", tok[i]);
    *eq = '\0';
    const char *key = tok[i], *val = eq + 1;
    int64_t *scalar = NULL;
    if (strcmp(key, "n") == 0) scalar = &d->n;
    else if (strcmp(key, "c_in") == 0) { scalar = &d->c_in; have_cin = 1; }
    else if (strcmp(key, "h") == 0) { scalar = &d->h; have_h = 1; }
    else if (strcmp(key, "w") == 0) { scalar = &d->w; have_w = 1; }
    else if (strcmp(key, "c_out") == 0) { scalar = &d->c_out; have_cout = 1; }
    else if (strcmp(key, "groups") == 0) scalar = &d->groups;
    if (scalar != NULL) {
      if (parse_int(val, scalar) != 0)
        return fail(err, errlen, "%s=%s: expected a non-negative integer", key,
                    val);
    } else if (strcmp(key, "kernel") == 0) {
      if (parse_pair(key, val, d->kernel, err, errlen)) return -1;
      have_k = 1;
    } else if (strcmp(key, "stride") == 0) {
      if (parse_pair(key, val, d->stride, err, errlen)) return -1;
    } else if (strcmp(key, "dilation") == 0) {
      if (parse_pair(key, val, d->dilation, err, errlen)) return -1;
    } else if (strcmp(key, "padding") == 0) {
      int64_t p[4];
      int n;
      if (strcmp(val, "same") == 0) {
        d->padding = CONV_PADDING_SAME;
      } else if (strcmp(val, "valid") == 0) {
        d->padding = CONV_PADDING_VALID;
      } else if ((n = parse_list(val, p, 4)) == 1 || n == 2 || n == 4) {
        d->padding = CONV_PADDING_EXPLICIT;
        if (n == 1) p[1] = p[2] = p[3] = p[0];
        if (n == 2) { p[2] = p[3] = p[1]; p[1] = p[0]; }
        memcpy(d->pad, p, sizeof p);
      } else {
        return fail(err, errlen,
                    "padding=%s: expected P, PH,PW, T,B,L,R, same or valid",
                    val);
      }
    } else if (strcmp(key, "padding_mode") == 0) {
      size_t m, nm = sizeof mode_names / sizeof mode_names[0];
      for (m = 0; m < nm && strcmp(val, mode_names[m]) != 0; m++) {}
      if (m == nm)
        return fail(err, errlen,
                    "padding_mode=%s: expected zeros, reflect, replicate, "
                    "circular or symmetric", val);
      d->padding_mode = (conv_padding_mode)m;
    } else if (strcmp(key, "bias") == 0) {
      if (strcmp(val, "0") != 0 && strcmp(val, "1") != 0)
        return fail(err, errlen, "bias=%s: expected 0 or 1", val);
      d->has_bias = val[0] == '1';
    } else {
      return fail(err, errlen,
                  "unknown key '%s' (known: n c_in h w c_out kernel stride "
                  "padding dilation groups padding_mode bias)", key);
    }
  }
  if (!have_cin || !have_h || !have_cout || !have_k)
    return fail(err, errlen, "missing %s (c_in, h, c_out and kernel are "
                "required)", !have_cin ? "c_in" : !have_h ? "h"
                : !have_cout ? "c_out" : "kernel");
  if (!have_w) d->w = d->h;
  return 0;
}

/* benchdnn's problem string, e.g. g32mb8ic128ih28oc128oh28kh3ph1n"resnext".
 * As benchdnn: mb defaults to 2, g to 1; dh is the extra dilation
 * (dilation = dh + 1); a missing ph is computed from oh (else 0); a given
 * oh/ow must match the computed size. */
enum { BD_G, BD_MB, BD_IC, BD_IH, BD_IW, BD_OC, BD_OH, BD_OW, BD_KH, BD_KW,
       BD_SH, BD_SW, BD_PH, BD_PW, BD_DH, BD_DW, BD_COUNT };
static const char *const bd_keys[BD_COUNT] = {
    "g", "mb", "ic", "ih", "iw", "oc", "oh", "ow",
    "kh", "kw", "sh", "sw", "ph", "pw", "dh", "dw"};

#define BD_MAX_VALUE ((int64_t)1 << 30)

static int64_t bd_out(int64_t i, int64_t k, int64_t s, int64_t p, int64_t d) {
  return (i - ((k - 1) * (d + 1) + 1) + 2 * p) / s + 1;
}

static int64_t bd_pad(int64_t o, int64_t i, int64_t k, int64_t s, int64_t d) {
  return ((o - 1) * s - i + ((k - 1) * (d + 1) + 1)) / 2;
}

static int parse_benchdnn(const char *s, suite_layer *out, char *err,
                          size_t errlen) {
  int64_t v[BD_COUNT];
  int have[BD_COUNT] = {0};
  const char *p = s;
  while (*p) {
    if (*p == '_') { p++; continue; }
    if (!isalpha((unsigned char)*p))
      return fail(err, errlen, "benchdnn string '%s': unexpected '%c'", s, *p);
    if (*p == 'n') { /* the name: n"quoted" or the rest of the string */
      const char *name = p + 1, *end;
      if (*name == '"') {
        end = strchr(++name, '"');
        if (end == NULL)
          return fail(err, errlen, "benchdnn string '%s': unterminated name",
                      s);
        p = end + 1;
      } else {
        end = p = name + strlen(name);
      }
      size_t len = (size_t)(end - name);
      if (len >= sizeof out->name) len = sizeof out->name - 1;
      if (out->name[0] == '\0') { /* a name before the string wins */
        memcpy(out->name, name, len);
        out->name[len] = '\0';
      }
      continue;
    }
    const char *k0 = p;
    while (isalpha((unsigned char)*p)) p++;
    size_t klen = (size_t)(p - k0);
    int k;
    for (k = 0; k < BD_COUNT; k++)
      if (strlen(bd_keys[k]) == klen && strncmp(bd_keys[k], k0, klen) == 0)
        break;
    if (k == BD_COUNT)
      return fail(err, errlen,
                  "benchdnn string '%s': unknown key '%.*s' (known: g mb ic ih "
                  "iw oc oh ow kh kw sh sw ph pw dh dw n)", s, (int)klen, k0);
    if (!isdigit((unsigned char)*p))
      return fail(err, errlen, "benchdnn string '%s': key '%s' needs a number",
                  s, bd_keys[k]);
    errno = 0;
    char *end;
    v[k] = strtoll(p, &end, 10);
    /* Bounded so that the size arithmetic below (products of two values,
     * sums of a few) stays far inside int64; no layer comes near it. */
    if (errno != 0 || v[k] > BD_MAX_VALUE)
      return fail(err, errlen, "benchdnn string '%s': %s%.*s is larger than "
                  "%lld", s, bd_keys[k], (int)(end - p), p,
                  (long long)BD_MAX_VALUE);
    if (have[k])
      return fail(err, errlen, "benchdnn string '%s': key '%s' given twice", s,
                  bd_keys[k]);
    have[k] = 1;
    p = end;
  }
  if (!have[BD_IC] || !have[BD_OC] || !have[BD_IH] || !have[BD_KH])
    return fail(err, errlen, "benchdnn string '%s': ic, oc, ih and kh are "
                "required", s);
  if (!have[BD_G]) v[BD_G] = 1;
  if (!have[BD_MB]) v[BD_MB] = 2;
  if (!have[BD_SH]) v[BD_SH] = 1;
  if (!have[BD_DH]) v[BD_DH] = 0;
  if (!have[BD_PH])
    v[BD_PH] = have[BD_OH] ? bd_pad(v[BD_OH], v[BD_IH], v[BD_KH], v[BD_SH],
                                    v[BD_DH]) : 0;
  /* As benchdnn: with no w key at all the shape is square (every w value
   * is its h one); otherwise the w axis stands alone (stride 1, no extra
   * dilation, pw from ow or 0), except that iw and kw default to ih, kh. */
  int square = !have[BD_IW] && !have[BD_KW] && !have[BD_OW] &&
               !have[BD_SW] && !have[BD_PW] && !have[BD_DW];
  if (!have[BD_IW]) v[BD_IW] = v[BD_IH];
  if (!have[BD_KW]) v[BD_KW] = v[BD_KH];
  if (!have[BD_SW]) v[BD_SW] = square ? v[BD_SH] : 1;
  if (!have[BD_DW]) v[BD_DW] = square ? v[BD_DH] : 0;
  if (v[BD_SH] < 1 || v[BD_SW] < 1)
    return fail(err, errlen, "benchdnn string '%s': strides must be >= 1", s);
  if (!have[BD_PW])
    v[BD_PW] = square ? v[BD_PH]
               : have[BD_OW] ? bd_pad(v[BD_OW], v[BD_IW], v[BD_KW], v[BD_SW],
                                      v[BD_DW])
               : 0;
  if (v[BD_PH] < 0 || v[BD_PW] < 0)
    return fail(err, errlen, "benchdnn string '%s': oh/ow larger than the "
                "input allows", s);
  int64_t oh = bd_out(v[BD_IH], v[BD_KH], v[BD_SH], v[BD_PH], v[BD_DH]);
  int64_t ow = bd_out(v[BD_IW], v[BD_KW], v[BD_SW], v[BD_PW], v[BD_DW]);
  if (have[BD_OH] && v[BD_OH] != oh)
    return fail(err, errlen, "benchdnn string '%s': oh%lld given, but the "
                "shape gives oh%lld", s, (long long)v[BD_OH], (long long)oh);
  if (have[BD_OW] && v[BD_OW] != ow)
    return fail(err, errlen, "benchdnn string '%s': ow%lld given, but the "
                "shape gives ow%lld", s, (long long)v[BD_OW], (long long)ow);
  conv_desc *d = &out->desc;
  d->n = v[BD_MB];
  d->c_in = v[BD_IC];
  d->h = v[BD_IH];
  d->w = v[BD_IW];
  d->c_out = v[BD_OC];
  d->kernel[0] = v[BD_KH];
  d->kernel[1] = v[BD_KW];
  d->stride[0] = v[BD_SH];
  d->stride[1] = v[BD_SW];
  d->dilation[0] = v[BD_DH] + 1;
  d->dilation[1] = v[BD_DW] + 1;
  d->groups = v[BD_G];
  d->padding = CONV_PADDING_EXPLICIT;
  d->pad[0] = d->pad[1] = v[BD_PH];
  d->pad[2] = d->pad[3] = v[BD_PW];
  d->has_bias = 1;
  return 0;
}

/* Splits a line at blanks; a double-quoted run (benchdnn's n"...") stays in
 * its token. Stops at '#' outside quotes. */
static int tokenize(char *s, char **tok, char *err, size_t errlen) {
  int n = 0;
  for (;;) {
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') s++;
    if (*s == '\0' || *s == '#') break;
    if (n == MAX_TOKENS) return fail(err, errlen, "too many fields");
    tok[n++] = s;
    int quoted = 0;
    while (*s && (quoted || !(*s == ' ' || *s == '\t' || *s == '\r' ||
                              *s == '\n' || *s == '#'))) {
      if (*s == '"') quoted = !quoted;
      s++;
    }
    if (quoted) return fail(err, errlen, "unterminated quote");
    if (*s == '#') { *s = '\0'; break; }
    if (*s) *s++ = '\0';
  }
  return n;
}

int suite_parse_line(const char *line, suite_layer *out, int *is_layer,
                     char *err, size_t errlen) {
  char buf[4096];
  char *tok[MAX_TOKENS];
  *is_layer = 0;
  if (strlen(line) >= sizeof buf) return fail(err, errlen, "line too long");
  strcpy(buf, line);
  int n = tokenize(buf, tok, err, errlen);
  if (n <= 0) return n;
  memset(out, 0, sizeof *out);
  conv_desc_init(&out->desc);
  int any_eq = 0;
  for (int i = 0; i < n; i++) any_eq |= strchr(tok[i], '=') != NULL;
  int first = 0;
  if (strchr(tok[0], '=') == NULL && (any_eq || n == 2)) {
    if (strlen(tok[0]) >= sizeof out->name)
      return fail(err, errlen, "name '%s' too long", tok[0]);
    strcpy(out->name, tok[0]);
    first = 1;
  }
  if (any_eq) {
    if (parse_kv(tok + first, n - first, out, err, errlen)) return -1;
  } else if (n - first == 1) {
    if (parse_benchdnn(tok[first], out, err, errlen)) return -1;
  } else {
    return fail(err, errlen, "expected 'name key=value...' or '[name] "
                "benchdnn-string'");
  }
  *is_layer = 1;
  return 0;
}

void suite_describe(const conv_desc *d, char *buf, size_t len) {
  char pad[96];
  if (d->padding == CONV_PADDING_SAME) snprintf(pad, sizeof pad, "same");
  else if (d->padding == CONV_PADDING_VALID) snprintf(pad, sizeof pad, "valid");
  else if (d->padding == CONV_PADDING_FULL) snprintf(pad, sizeof pad, "full");
  else
    snprintf(pad, sizeof pad, "%lld,%lld,%lld,%lld", (long long)d->pad[0],
             (long long)d->pad[1], (long long)d->pad[2], (long long)d->pad[3]);
  snprintf(buf, len,
           "n=%lld c_in=%lld h=%lld w=%lld c_out=%lld kernel=%lld,%lld "
           "stride=%lld,%lld padding=%s dilation=%lld,%lld groups=%lld "
           "padding_mode=%s bias=%d",
           (long long)d->n, (long long)d->c_in, (long long)d->h,
           (long long)d->w, (long long)d->c_out, (long long)d->kernel[0],
           (long long)d->kernel[1], (long long)d->stride[0],
           (long long)d->stride[1], pad, (long long)d->dilation[0],
           (long long)d->dilation[1], (long long)d->groups,
           suite_padding_mode_name(d->padding_mode), d->has_bias);
}

int suite_load(const char *path, suite_layer **layers, size_t *count,
               char *err, size_t errlen) {
  *layers = NULL;
  *count = 0;
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return fail(err, errlen, "%s: %s", path, strerror(errno));
  suite_layer *v = NULL;
  size_t n = 0, cap = 0;
  char line[4096], msg[512];
  int lineno = 0, rc = -1;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    suite_layer layer;
    int is_layer;
    if (strchr(line, '\n') == NULL && !feof(f)) {
      fail(err, errlen, "%s:%d: line too long", path, lineno);
      goto done;
    }
    if (suite_parse_line(line, &layer, &is_layer, msg, sizeof msg) != 0) {
      fail(err, errlen, "%s:%d: %s", path, lineno, msg);
      goto done;
    }
    if (!is_layer) continue;
    layer.line = lineno;
    if (layer.name[0] == '\0')
      snprintf(layer.name, sizeof layer.name, "line%d", lineno);
    int64_t ho, wo;
    if (conv_output_size(&layer.desc, &ho, &wo, NULL) != CONV_SUCCESS) {
      fail(err, errlen, "%s:%d: %s: %s", path, lineno, layer.name,
           conv_last_error(NULL));
      goto done;
    }
    for (size_t i = 0; i < n; i++)
      if (strcmp(v[i].name, layer.name) == 0) {
        fail(err, errlen, "%s:%d: layer name '%s' already used on line %d",
             path, lineno, layer.name, v[i].line);
        goto done;
      }
    if (n == cap) {
      size_t ncap = cap ? 2 * cap : 16;
      suite_layer *nv = realloc(v, ncap * sizeof *nv);
      if (nv == NULL) {
        fail(err, errlen, "%s: out of memory", path);
        goto done;
      }
      v = nv;
      cap = ncap;
    }
    v[n++] = layer;
  }
  if (ferror(f)) {
    fail(err, errlen, "%s: read error", path);
    goto done;
  }
  if (n == 0) {
    fail(err, errlen, "%s: no layers", path);
    goto done;
  }
  rc = 0;
done:
  fclose(f);
  if (rc == 0) {
    *layers = v;
    *count = n;
  } else {
    free(v);
  }
  return rc;
}

static int is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

const char *suite_find(const char *arg, char *buf, size_t len) {
  if (is_file(arg)) {
    snprintf(buf, len, "%s", arg);
    return buf;
  }
  char full[PATH_MAX];
  if (strchr(arg, '/') != NULL) return NULL;
  const char *dirs[] = {CONV_SUITE_INSTALL_DIR, CONV_SUITE_SOURCE_DIR};
  const char *sfx[] = {"", ".suite"};
  for (size_t i = 0; i < 2; i++) {
    if (dirs[i][0] == '\0') continue;
    for (size_t j = 0; j < 2; j++) {
      snprintf(buf, len, "%s/%s%s", dirs[i], arg, sfx[j]);
      if (!is_file(buf)) continue;
      /* The source dir is "<builddir>/../tools/suites": say it plainly. */
      if (realpath(buf, full) != NULL) snprintf(buf, len, "%s", full);
      return buf;
    }
  }
  return NULL;
}

void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
      case '"': fputs("\\\"", f); break;
      case '\\': fputs("\\\\", f); break;
      case '\n': fputs("\\n", f); break;
      case '\r': fputs("\\r", f); break;
      case '\t': fputs("\\t", f); break;
      default:
        if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
  }
  fputc('"', f);
}

double conv_pass_flops(const conv_desc *d, int64_t h_out, int64_t w_out) {
  return 2.0 * (double)d->n * (double)d->c_out * (double)h_out *
         (double)w_out * (double)(d->c_in / d->groups) *
         (double)d->kernel[0] * (double)d->kernel[1];
}
