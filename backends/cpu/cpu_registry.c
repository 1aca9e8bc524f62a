/* The cpu backend's choice policy, all of it in this file: the algorithm
 * tables of each operation (their order breaks ties), the score the
 * heuristic gives each algorithm for a problem (below), and the parsing of
 * CONV_ALGO. The algorithms' own files say only what they apply to, how
 * much workspace they need and how they run. */
#ifdef HAVE_CONFIG_H
#  include "config.h"
#endif

#include <ctype.h>
#include <strings.h>
#include <stdio.h>
#include <string.h>

#include "cpu_internal.h"
#include "cpu_isa.h"

/* Per-op tables, NULL-terminated. Order breaks score ties. */
static const cpu_algo *const fwd_algos[] = {
    &cpu_algo_im2col_gemm, &cpu_algo_direct, &cpu_algo_direct_dw,
    &cpu_algo_direct_vec, &cpu_algo_winograd_f4x4, &cpu_algo_gemm_1x1,
    &cpu_algo_winograd_f2x2, &cpu_algo_reference, NULL};
static const cpu_algo *const bwd_data_algos[] = {
    &cpu_algo_im2col_gemm, &cpu_algo_direct, &cpu_algo_direct_dw,
    &cpu_algo_direct_vec, &cpu_algo_winograd_f4x4, &cpu_algo_gemm_1x1,
    &cpu_algo_winograd_f2x2, &cpu_algo_reference, NULL};
static const cpu_algo *const bwd_weight_algos[] = {
    &cpu_algo_im2col_gemm, &cpu_algo_direct, &cpu_algo_direct_dw,
    &cpu_algo_direct_vec, &cpu_algo_winograd_f4x4, &cpu_algo_reference, NULL};
static const cpu_algo *const bwd_bias_algos[] = {&cpu_algo_reduce, NULL};

/* ------------------------------------------------------------- scores */

/* How much the heuristic wants an algorithm for a problem it applies to:
 * the highest wins; < 0: never chosen unless forced. Guide: direct 20,
 * im2col_gemm 100 for dense GEMM-shaped problems, depthwise direct 200, a
 * specialised fast kernel ~300 where it beats those. */

static int im2col_gemm_score(const conv_problem *p, conv_op op) {
  (void)op;
  const int64_t cin_g = p->c_in / p->groups;
  return cin_g == 1 ? 10 : 100;
}

/* The few-channel regime of direct_vec_score: at most 4 channels per group
 * on the GEMM's inner side (c_out/groups for backward data, whose input is
 * dy) and at most 32 on the other (any number, up to direct_vec's 64, in
 * forward and the weight gradient), or at most 8 on both. Forward with 1-3
 * input channels and 40-64 output channels, one thread, CPU time, two
 * alternating rounds (Xeon AVX-512), direct_vec against im2col_gemm, ms:
 * r50_conv1_7x7 (stride 2) 7.0 / 9.6, 3x3 at 224x224 5.8-8.3 / 8.1-21,
 * 1 -> 48 5x5 1.2 / 1.9, 3 -> 40 3x3 stride 2 1.6 / 2.1-2.5. */
static int few_channels(const conv_problem *p, conv_op op) {
  int64_t cig = p->c_in / p->groups, cog = p->c_out / p->groups;
  if (op == CONV_OP_BACKWARD_DATA) {
    int64_t t = cig;
    cig = cog;
    cog = t;
  }
  return (cig <= 4 && (cog <= 32 || op != CONV_OP_BACKWARD_DATA)) ||
         (cig <= 8 && cog <= 8);
}

static int direct_score(const conv_problem *p, conv_op op) {
  const int64_t cin_g = p->c_in / p->groups, cout_g = p->c_out / p->groups;
  /* Depthwise (with or without a channel multiplier) and tiny groups: the
   * GEMMs would be a few rows deep. */
  if (cin_g == 1 || (cin_g <= 2 && cout_g <= 4)) return 200;
  /* Below AVX-512 (no direct_vec there): few channels (<= 8 in, <= 32
   * out per group) on large planes, forward and backward data at stride 1,
   * where im2col's column buffer of one image (c_in/groups x taps x output
   * plane floats) is over 4M floats and streams through memory. Measured on beyond.suite's big_few_ch (3 ->
   * 16 channels, 512 x 512, 27 x 262144 columns), one thread, CPU time, 3
   * runs: AVX2 forward 21-24 GF/s against im2col_gemm's 11-16, backward
   * data 18-25 against 10-16; generic 13-19 / 12-19 and 11-18 / 10-17.
   * Smaller columns (seed001_5x5: 75 x 16384) measured even or slower. */
  if (lc_kern->level < LC_ISA_AVX512 && op != CONV_OP_BACKWARD_WEIGHT &&
      p->stride_h == 1 && p->stride_w == 1 && cin_g <= 8 && cout_g <= 32 &&
      (double)cin_g * (double)(p->kh * p->kw) * (double)p->h_out *
            (double)p->w_out > 4194304.0)
    return 150;
  return 20;
}

static int direct_dw_score(const conv_problem *p, conv_op op) {
  (void)p;
  (void)op;
  return 300;
}

/* Wins where channels per group are few: c_in/groups <= 4 (first layers,
 * ResNeXt's 4-channel groups), or small on both sides; at the AVX-512
 * level only. Its 16-float vectors split into AVX2 / SSE halves that GCC
 * keeps in memory: one thread, CPU time, CONV_CPU_ISA=avx2, forward and
 * backward data ran at 0.8-2.4 GF/s on seed001_5x5, seed003_3x3,
 * resnext_g32_28 and big_few_ch where im2col_gemm (OpenBLAS) and direct ran
 * at 5-25, the weight gradient at 5-10 against 8-16 (generic alike). */
static int direct_vec_score(const conv_problem *p, conv_op op) {
  if (lc_kern->level < LC_ISA_AVX512) return 5;
  const int64_t cig = p->c_in / p->groups, cog = p->c_out / p->groups;
  /* The weight gradient of a first layer (<= 4 input channels) with 32
   * output channels or more is a GEMM deep enough for im2col_gemm: two
   * threads, wall, best of 3 rounds (Xeon AVX-512), ms, direct_vec /
   * im2col_gemm, 3 input channels: 64 out 7x7 s2 224 n=4 (r50_conv1_7x7)
   * 5.1 / 4.5, 64 out 3x3 112 n=4 1.6 / 1.3, 64 out 11x11 s4 224 n=4 3.6 /
   * 3.4, 32 out 3x3 s2 224 n=4 0.95 / 0.79, 32 out 3x3 s2 112 n=8 0.47 /
   * 0.41; below 32 direct_vec stays ahead: 28 out (seed003_3x3) 0.54 /
   * 0.62, 16 out (big_few_ch, one image in bands) 2.2 / 3.5, 7 out
   * (seed001_5x5) 7.0 / 13.4. */
  if (few_channels(p, op) && !(op == CONV_OP_BACKWARD_WEIGHT && cog >= 32))
    return 250;
  /* 8 to 32 channels per group on both sides: im2col_gemm's products
   * are then at most 32 rows deep per group, too few for its panels, and
   * its columns are copied once per group and image. One thread, CPU time,
   * 3 alternating rounds (Xeon AVX-512), direct_vec against im2col_gemm:
   * grouped_5x5 (8 groups of 16) forward 60 / 35 GF/s, backward data
   * 83 / 34, weight gradient 47 / 40; k9x9 (32 channels, 9x9) forward
   * 129 / 75, backward data 80 / 70, but its weight gradient 58 / 79,
   * hence <= 16 there. At 64 channels (replicate_3x3, style_reflect)
   * direct_vec ran at 0.4-0.9 of the GEMM paths in every pass; with 2-3
   * channels on the side it computes (seed003_3x3's and big_few_ch's
   * backward data: blocks of 2 or 4 channels) at 0.5-0.7. */
  const int64_t lim = op == CONV_OP_BACKWARD_WEIGHT ? 16 : 32;
  if (cig >= 8 && cog >= 8 && cig <= lim && cog <= lim) return 250;
  return 50;
}

static int winograd_f4x4_score(const conv_problem *p, conv_op op) {
  /* Pays off once the GEMMs dominate the transforms, and while the
   * transformed weights (4x the weights) are reused by enough tiles. */
  /* The forward-shaped problem computed (the weight gradient uses the
   * forward's tiles; backward data is a forward convolution of dy). */
  const int bd = op == CONV_OP_BACKWARD_DATA;
  int64_t ho = bd ? p->h : p->h_out;
  int64_t wo = bd ? p->w : p->w_out;
  int64_t c_out = bd ? p->c_in : p->c_out;
  int64_t d = p->dil_h;
  int64_t tiles = p->n * d * d * (((ho + d - 1) / d + 3) / 4) *
                  (((wo + d - 1) / d + 3) / 4);
  /* The 4x4 tiles of each of the d x d sub-grids cover at least the plane;
   * where they cover over 1.7 times its area, the transforms and products
   * of the padding cost more than the saving. aspp_d4 (33x33, dilation 4:
   * 9x9 sub-grids in 12x12 of tiles, 2.1 times the area) ran forward at
   * 57 GF/s against im2col_gemm's 119 and backward data 55 / 79 (one
   * thread, CPU time, Xeon AVX-512); deeplab_d2_28 (1.31 times) and
   * r50_3x3_14 (1.31) stay faster with Winograd. */
  double cover = (double)(d * 4 * (((ho + d - 1) / d + 3) / 4)) *
                 (double)(d * 4 * (((wo + d - 1) / d + 3) / 4));
  if (cover > 1.7 * (double)ho * (double)wo) return 10;
  if (op == CONV_OP_BACKWARD_WEIGHT) {
    /* The tiles of the batch are the GEMMs' inner dimension; M (36 x c_in
     * x c_out floats) is read and written once per chunk of them. Two
     * threads, ms, against im2col_gemm (Xeon AVX-512):
     * 512 -> 512 at 7x7, 64 tiles (n = 16) 18.7 / 25.0, 32 tiles (n = 8,
     * r50_3x3_7) 11.4 / 8.6; 256 -> 256 at 14x14, 64 tiles 4.3 / 6.7, 32
     * tiles 4.0 / 3.2. M is kept under 40 MiB (512 x 512 channels). */
    if (p->c_in >= 32 && p->c_out >= 32 && tiles >= 64 &&
        (double)p->c_in * (double)p->c_out * 36.0 * 4.0 <= 40.0 * 1048576.0)
      return 320;
    return 10;
  }
  if (p->c_in >= 32 && p->c_out >= 32 && 2 * tiles >= c_out) return 320;
  return 10;
}

static int winograd_f2x2_score(const conv_problem *p, conv_op op) {
  /* Deep planes too small for winograd_f4x4's tiles (its score above wins
   * where it applies): at least 128 channels a side and 64 2x2 tiles in
   * the batch to reuse U (16 c_in c_out floats) in GEMMs of that many
   * columns. Two threads, wall, best of 4 alternating rounds (Xeon
   * AVX-512, a loaded host), winograd_f2x2 / im2col_gemm, ms, forward and
   * backward data: 512 -> 512 at 7x7 n = 8 (128 tiles over 1.31 times the
   * plane) 6.9 / 8.9 and 8.2 / 8.6; 384 at 10x10 n = 4 (100 tiles) 3.8 /
   * 4.6 and 4.1 / 6.4; 256 at 14x14 n = 2 (98) 1.7 / 2.2 and 1.9 / 2.7;
   * 512 at 7x7 n = 2 (32 tiles, not chosen) 2.5 / 2.5 and 2.7 / 3.0.
   * At the AVX2 and generic levels (the GEMMs then the BLAS's, about a
   * quarter as fast here) the same holds, best of 2 rounds, AVX2 / generic
   * forward: 7x7 n = 8 22.6 / 31.1 and 22.9 / 30.5, 10x10 11.1 / 17.4 and
   * 10.7 / 17.2, 14x14 4.7 / 7.7 and 4.7 / 7.6; backward data 24.5 / 33.0
   * and 23.6 / 33.1, 11.0 / 17.6 and 11.2 / 17.9, 4.9 / 7.5 and 4.8 / 7.5;
   * 7x7 n = 2 (not chosen) 8.1 / 8.1 and 8.3 / 8.0. */
  const int bd = op == CONV_OP_BACKWARD_DATA;
  if (op != CONV_OP_FORWARD && !bd) return 10;
  const int64_t ho = bd ? p->h : p->h_out, wo = bd ? p->w : p->w_out;
  const int64_t th = (ho + 1) / 2, tw = (wo + 1) / 2;
  if (p->c_in < 128 || p->c_out < 128 || p->n * th * tw < 64) return 10;
  /* U (16 c_in c_out floats, rebuilt every call) up to 32 MiB: 512 x 1024
   * channels; wider layers keep im2col_gemm's bounded workspace. */
  if ((double)p->c_in * (double)p->c_out * 64.0 > 32.0 * 1048576.0) return 10;
  return 310;
}

static int gemm_1x1_score(const conv_problem *p, conv_op op) {
  (void)p;
  (void)op;
  /* The packed kernel is written for 16-float vectors: only AVX-512 runs it
   * at speed; elsewhere im2col_gemm's BLAS call is as good. */
  return lc_kern->level >= LC_ISA_AVX512 ? 300 : 10;
}

static int reference_score(const conv_problem *p, conv_op op) {
  (void)p;
  (void)op;
  return -1;
}

static const struct {
  const cpu_algo *algo;
  int (*score)(const conv_problem *p, conv_op op);
} scores[] = {
    {&cpu_algo_im2col_gemm, im2col_gemm_score},
    {&cpu_algo_direct, direct_score},
    {&cpu_algo_direct_dw, direct_dw_score},
    {&cpu_algo_direct_vec, direct_vec_score},
    {&cpu_algo_winograd_f4x4, winograd_f4x4_score},
    {&cpu_algo_gemm_1x1, gemm_1x1_score},
    {&cpu_algo_winograd_f2x2, winograd_f2x2_score},
    {&cpu_algo_reference, reference_score},
};

/* An algorithm without a score function (reduce: the only one of its op)
 * scores 0. */
static int algo_score(const cpu_algo *a, const conv_problem *p, conv_op op) {
  for (size_t i = 0; i < sizeof scores / sizeof scores[0]; i++)
    if (scores[i].algo == a) return scores[i].score(p, op);
  return 0;
}

/* ------------------------------------------------------------- tables */

const cpu_algo *const *cpu_algos_for(conv_op op) {
  switch (op) {
    case CONV_OP_FORWARD: return fwd_algos;
    case CONV_OP_BACKWARD_DATA: return bwd_data_algos;
    case CONV_OP_BACKWARD_WEIGHT: return bwd_weight_algos;
    case CONV_OP_BACKWARD_BIAS: return bwd_bias_algos;
    default: return NULL;
  }
}

const char *cpu_op_name(conv_op op) {
  switch (op) {
    case CONV_OP_FORWARD: return "fwd";
    case CONV_OP_BACKWARD_DATA: return "bwd_data";
    case CONV_OP_BACKWARD_WEIGHT: return "bwd_weight";
    case CONV_OP_BACKWARD_BIAS: return "bwd_bias";
    default: return "?";
  }
}

static const cpu_algo *find_in(conv_op op, const char *name, size_t len) {
  for (const cpu_algo *const *a = cpu_algos_for(op); *a != NULL; a++)
    if (strlen((*a)->name) == len && strncasecmp((*a)->name, name, len) == 0)
      return *a;
  return NULL;
}

/* "im2col_gemm, direct, reference, reduce": every name once. */
static void known_names(char *out, size_t cap) {
  size_t used = 0;
  out[0] = '\0';
  for (int op = 0; op < CPU_NUM_OPS; op++) {
    for (const cpu_algo *const *a = cpu_algos_for((conv_op)op); *a != NULL; a++) {
      int seen = 0;
      for (int prev = 0; prev < op && !seen; prev++)
        if (find_in((conv_op)prev, (*a)->name, strlen((*a)->name)) != NULL) seen = 1;
      for (const cpu_algo *const *b = cpu_algos_for((conv_op)op); b != a && !seen; b++)
        if (strcmp((*b)->name, (*a)->name) == 0) seen = 1;
      if (seen) continue;
      int w = snprintf(out + used, cap - used, "%s%s", used ? ", " : "", (*a)->name);
      if (w < 0 || (size_t)w >= cap - used) return;
      used += (size_t)w;
    }
  }
}

/* The heuristic: the applicable algorithm with the highest score >= 0. */
static const cpu_algo *pick(const conv_problem *p, conv_op op) {
  const cpu_algo *best = NULL;
  int best_score = -1;
  for (const cpu_algo *const *a = cpu_algos_for(op); *a != NULL; a++) {
    if (!(*a)->applies(p, op, NULL, 0)) continue;
    int s = algo_score(*a, p, op);
    if (s >= 0 && s > best_score) {
      best = *a;
      best_score = s;
    }
  }
  if (best == NULL) /* only score < 0 ones apply: take the first of those */
    for (const cpu_algo *const *a = cpu_algos_for(op); *a != NULL; a++)
      if ((*a)->applies(p, op, NULL, 0)) return *a;
  return best;
}

const cpu_algo *cpu_pick_within(const conv_problem *p, conv_op op, int threads,
                                size_t budget) {
  const cpu_algo *best = NULL, *fallback = NULL;
  int best_score = -1;
  for (const cpu_algo *const *a = cpu_algos_for(op); *a != NULL; a++) {
    if (!(*a)->applies(p, op, NULL, 0)) continue;
    size_t need = (*a)->workspace_bytes != NULL
                      ? (*a)->workspace_bytes(p, op, threads)
                      : 0;
    if (need > budget) continue; /* SIZE_MAX (overflow) included */
    int s = algo_score(*a, p, op);
    if (s >= 0 && s > best_score) {
      best = *a;
      best_score = s;
    }
    if (fallback == NULL) fallback = *a;
  }
  return best != NULL ? best : fallback;
}

static int is_auto(const char *s, size_t len) {
  return len == 0 || (len == 4 && strncasecmp(s, "auto", 4) == 0);
}

static conv_status force(const conv_problem *p, conv_op op, const cpu_algo *a,
                         const cpu_algo *chosen[CPU_NUM_OPS], conv_err *err) {
  char why[256] = "";
  if (!a->applies(p, op, why, sizeof why))
    return conv_err_set(err, CONV_ERROR_UNSUPPORTED,
                        "cpu: CONV_ALGO forces algorithm '%s' for %s, which "
                        "cannot serve this problem: %s",
                        a->name, cpu_op_name(op), why[0] ? why : "not applicable");
  chosen[op] = a;
  return CONV_SUCCESS;
}

conv_status cpu_choose_algos(const conv_problem *p, const char *algo,
                             const cpu_algo *chosen[CPU_NUM_OPS],
                             int forced_out[CPU_NUM_OPS], conv_err *err) {
  const cpu_algo *forced[CPU_NUM_OPS] = {NULL, NULL, NULL, NULL};
  char known[512];

  if (algo != NULL) {
    const char *s = algo;
    while (isspace((unsigned char)*s)) s++;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1])) len--;

    if (memchr(s, '=', len) == NULL) {
      /* One name for every op that has it. */
      if (!is_auto(s, len)) {
        int found = 0;
        for (int op = 0; op < CPU_NUM_OPS; op++) {
          forced[op] = find_in((conv_op)op, s, len);
          if (forced[op] != NULL) found = 1;
        }
        if (!found) {
          known_names(known, sizeof known);
          return conv_err_set(err, CONV_ERROR_INVALID_ARGUMENT,
                              "cpu: CONV_ALGO='%.*s': unknown algorithm; "
                              "known: %s",
                              (int)(len > 200 ? 200 : len), s, known);
        }
      }
    } else {
      /* op=name[,op=name]... */
      const char *end = s + len;
      const char *item = s;
      while (item < end) {
        const char *comma = memchr(item, ',', (size_t)(end - item));
        const char *item_end = comma != NULL ? comma : end;
        const char *eq = memchr(item, '=', (size_t)(item_end - item));
        const char *k = item, *k_end = eq != NULL ? eq : item_end;
        while (k < k_end && isspace((unsigned char)*k)) k++;
        while (k_end > k && isspace((unsigned char)k_end[-1])) k_end--;
        if (eq == NULL) {
          if (k_end == k) { /* empty item, e.g. trailing comma */
            item = item_end + 1;
            continue;
          }
          return conv_err_set(err, CONV_ERROR_INVALID_ARGUMENT,
                              "cpu: CONV_ALGO='%.200s': item '%.*s' is not "
                              "op=name (ops: fwd, bwd_data, bwd_weight, "
                              "bwd_bias)",
                              algo, (int)(k_end - k), k);
        }
        const char *v = eq + 1, *v_end = item_end;
        while (v < v_end && isspace((unsigned char)*v)) v++;
        while (v_end > v && isspace((unsigned char)v_end[-1])) v_end--;
        int op = -1;
        for (int o = 0; o < CPU_NUM_OPS; o++) {
          const char *nm = cpu_op_name((conv_op)o);
          if (strlen(nm) == (size_t)(k_end - k) &&
              strncasecmp(nm, k, (size_t)(k_end - k)) == 0)
            op = o;
        }
        if (op < 0)
          return conv_err_set(err, CONV_ERROR_INVALID_ARGUMENT,
                              "cpu: CONV_ALGO='%.200s': unknown op '%.*s'; "
                              "known: fwd, bwd_data, bwd_weight, bwd_bias",
                              algo, (int)(k_end - k), k);
        if (is_auto(v, (size_t)(v_end - v))) {
          forced[op] = NULL;
        } else {
          forced[op] = find_in((conv_op)op, v, (size_t)(v_end - v));
          if (forced[op] == NULL) {
            char op_known[256];
            size_t used = 0;
            op_known[0] = '\0';
            for (const cpu_algo *const *a = cpu_algos_for((conv_op)op); *a != NULL; a++) {
              int w = snprintf(op_known + used, sizeof op_known - used, "%s%s",
                               used ? ", " : "", (*a)->name);
              if (w < 0 || (size_t)w >= sizeof op_known - used) break;
              used += (size_t)w;
            }
            return conv_err_set(err, CONV_ERROR_INVALID_ARGUMENT,
                                "cpu: CONV_ALGO='%.200s': unknown algorithm "
                                "'%.*s' for %s; known for %s: %s",
                                algo, (int)(v_end - v), v,
                                cpu_op_name((conv_op)op),
                                cpu_op_name((conv_op)op), op_known);
          }
        }
        item = item_end + 1;
      }
    }
  }

  for (int op = 0; op < CPU_NUM_OPS; op++) {
    forced_out[op] = forced[op] != NULL;
    if (forced[op] != NULL) {
      conv_status st = force(p, (conv_op)op, forced[op], chosen, err);
      if (st != CONV_SUCCESS) return st;
    } else {
      chosen[op] = pick(p, (conv_op)op);
      if (chosen[op] == NULL)
        return conv_err_set(err, CONV_ERROR_INTERNAL,
                            "cpu: no algorithm applies to %s",
                            cpu_op_name((conv_op)op));
    }
  }
  return CONV_SUCCESS;
}
