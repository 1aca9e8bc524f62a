/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The GEMM kernels' host side: tuning parameters (text form, checks,
 * defaults per device type, the tuner's candidates) and the launch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opencl_internal.h"

void ocl_gemm_params_str(const ocl_gemm_params *gp, char *buf, size_t len) {
  if (gp->family == OCL_GEMM_VEC)
    snprintf(buf, len, "vec:tm=%d,vw=%d,nv=%d,lm=%d,ln=%d", gp->tm, gp->vw,
             gp->nv, gp->lm, gp->ln);
  else
    snprintf(buf, len, "tiled:mwg=%d,nwg=%d,kwg=%d,mdimc=%d,ndimc=%d",
             gp->mwg, gp->nwg, gp->kwg, gp->mdimc, gp->ndimc);
}

void ocl_gemm_params_options(const ocl_gemm_params *gp, char *buf,
                             size_t len) {
  if (gp->family == OCL_GEMM_VEC)
    snprintf(buf, len, "-DGEMM_VEC -DTM=%d -DVW=%d -DNV=%d -DLM=%d -DLN=%d",
             gp->tm, gp->vw, gp->nv, gp->lm, gp->ln);
  else
    snprintf(buf, len, "-DGEMM_TILED -DMWG=%d -DNWG=%d -DKWG=%d -DMDIMC=%d "
             "-DNDIMC=%d", gp->mwg, gp->nwg, gp->kwg, gp->mdimc, gp->ndimc);
}

int ocl_gemm_params_parse(const char *s, ocl_gemm_params *gp, char *why,
                          size_t why_len) {
  static const char *const vec_keys[] = {"tm", "vw", "nv", "lm", "ln"};
  static const char *const tiled_keys[] = {"mwg", "nwg", "kwg", "mdimc",
                                           "ndimc"};
  ocl_gemm_params p;
  memset(&p, 0, sizeof p);
  const char *const *keys;
  int *vals[5];
  if (strncmp(s, "vec:", 4) == 0) {
    p.family = OCL_GEMM_VEC;
    keys = vec_keys;
    vals[0] = &p.tm; vals[1] = &p.vw; vals[2] = &p.nv; vals[3] = &p.lm;
    vals[4] = &p.ln;
    s += 4;
  } else if (strncmp(s, "tiled:", 6) == 0) {
    p.family = OCL_GEMM_TILED;
    keys = tiled_keys;
    vals[0] = &p.mwg; vals[1] = &p.nwg; vals[2] = &p.kwg; vals[3] = &p.mdimc;
    vals[4] = &p.ndimc;
    s += 6;
  } else {
    snprintf(why, why_len, "GEMM parameters '%s': expected vec:... or "
             "tiled:...", s);
    return -1;
  }
  for (int i = 0; i < 5; i++) {
    size_t kl = strlen(keys[i]);
    char *end;
    if (strncmp(s, keys[i], kl) != 0 || s[kl] != '=') {
      snprintf(why, why_len, "GEMM parameters: expected %s= at '%s'", keys[i],
               s);
      return -1;
    }
    long v = strtol(s + kl + 1, &end, 10);
    if (end == s + kl + 1 || v < 1 || v > 1024 ||
        *end != (i == 4 ? '\0' : ',')) {
      snprintf(why, why_len, "GEMM parameters: bad value for %s at '%s'",
               keys[i], s);
      return -1;
    }
    *vals[i] = (int)v;
    s = end + (i == 4 ? 0 : 1);
  }
  *gp = p;
  return 0;
}

int ocl_gemm_params_check(const ocl_device *dev, const ocl_gemm_params *gp,
                          char *why, size_t why_len) {
  if (gp->family == OCL_GEMM_VEC) {
    const int vw = gp->vw;
    if (vw != 1 && vw != 2 && vw != 4 && vw != 8 && vw != 16) {
      snprintf(why, why_len, "vw=%d is not 1, 2, 4, 8 or 16", vw);
      return -1;
    }
    if (gp->tm > 16 || gp->nv > 8) {
      snprintf(why, why_len, "tm=%d (<= 16) or nv=%d (<= 8) too large",
               gp->tm, gp->nv);
      return -1;
    }
    if ((size_t)gp->lm * (size_t)gp->ln > dev->max_wg) {
      snprintf(why, why_len, "work-group %dx%d over the device's %zu",
               gp->lm, gp->ln, dev->max_wg);
      return -1;
    }
    return 0;
  }
  if (gp->mwg % gp->mdimc != 0 || gp->nwg % gp->ndimc != 0 ||
      gp->mwg / gp->mdimc > 16 || gp->nwg / gp->ndimc > 16 || gp->kwg > 64) {
    snprintf(why, why_len, "tiles %dx%d must be multiples of the items "
             "%dx%d, at most 16 per item each way, kwg=%d <= 64", gp->mwg,
             gp->nwg, gp->mdimc, gp->ndimc, gp->kwg);
    return -1;
  }
  if ((size_t)gp->mdimc * (size_t)gp->ndimc > dev->max_wg) {
    snprintf(why, why_len, "work-group %dx%d over the device's %zu",
             gp->mdimc, gp->ndimc, dev->max_wg);
    return -1;
  }
  const unsigned long lmem =
      4ul * (unsigned long)gp->kwg * (unsigned long)(gp->mwg + gp->nwg + 2);
  if (lmem > dev->local_mem) {
    snprintf(why, why_len, "%lu bytes of local memory, the device has %llu",
             lmem, (unsigned long long)dev->local_mem);
    return -1;
  }
  return 0;
}

void ocl_gemm_params_default(const ocl_device *dev, long m, long n,
                             ocl_gemm_params *gp) {
  (void)n;
  memset(gp, 0, sizeof *gp);
  if (dev->type & CL_DEVICE_TYPE_CPU) {
    /* Register tiles of TM x 2 vectors: 16 accumulators with AVX-512's 32
     * registers, 8 with AVX2's 16; a work-group shares B's panel across
     * 8 row tiles while it sits in cache. */
    gp->family = OCL_GEMM_VEC;
    gp->vw = dev->vec_width >= 16 ? 16 : dev->vec_width >= 8 ? 8 : 4;
    gp->nv = 2;
    gp->tm = dev->vec_width >= 16 ? 8 : 4;
    if (m < gp->tm) gp->tm = m < 1 ? 1 : (int)m;
    gp->lm = 8;
    gp->ln = 1;
    return;
  }
  /* GPUs and accelerators: 64x64 tiles of 16x16 items (4x4 each), depth 16;
   * smaller where the device's work-groups or local memory are. */
  gp->family = OCL_GEMM_TILED;
  gp->mwg = 64;
  gp->nwg = 64;
  gp->kwg = 16;
  gp->mdimc = 16;
  gp->ndimc = 16;
  if (m <= 32) gp->mwg = 32, gp->mdimc = 8;
  char why[128];
  if (ocl_gemm_params_check(dev, gp, why, sizeof why) != 0) {
    gp->mwg = gp->nwg = 32;
    gp->mdimc = gp->ndimc = 8;
    gp->kwg = 8;
    if (ocl_gemm_params_check(dev, gp, why, sizeof why) != 0) {
      gp->family = OCL_GEMM_VEC; /* no usable local memory: items alone */
      gp->tm = 4;
      gp->vw = 4;
      gp->nv = 1;
      gp->lm = gp->ln = 1;
    }
  }
}

int ocl_gemm_candidates(const ocl_device *dev, ocl_gemm_params *out, int max) {
  int n = 0;
  char why[128];
#define ADD(p)                                                               \
  do {                                                                       \
    ocl_gemm_params c_ = (p);                                                \
    if (n < max && ocl_gemm_params_check(dev, &c_, why, sizeof why) == 0)    \
      out[n++] = c_;                                                         \
  } while (0)
  if (dev->type & CL_DEVICE_TYPE_CPU) {
    static const int shapes[][5] = {
        /* tm, vw, nv, lm, ln */
        {8, 16, 2, 8, 1}, {4, 16, 2, 8, 1}, {6, 16, 2, 8, 1},
        {8, 16, 1, 8, 1}, {8, 16, 2, 16, 1}, {8, 16, 2, 4, 2},
        {4, 8, 2, 8, 1},  {8, 8, 2, 8, 1},  {4, 8, 4, 8, 1},
        {6, 8, 2, 8, 1},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
      ocl_gemm_params p = {OCL_GEMM_VEC, shapes[i][0], shapes[i][1],
                           shapes[i][2], shapes[i][3], shapes[i][4],
                           0, 0, 0, 0, 0};
      if ((cl_uint)p.vw > 2 * dev->vec_width && dev->vec_width < 16) continue;
      ADD(p);
    }
  } else {
    static const int shapes[][5] = {
        /* mwg, nwg, kwg, mdimc, ndimc */
        {64, 64, 16, 16, 16}, {128, 128, 16, 16, 16}, {128, 64, 16, 16, 16},
        {64, 128, 16, 16, 16}, {64, 64, 32, 16, 16},  {128, 128, 8, 16, 16},
        {32, 32, 16, 8, 8},   {64, 64, 16, 8, 8},     {32, 64, 16, 8, 16},
        {128, 128, 16, 32, 8},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
      ocl_gemm_params p = {OCL_GEMM_TILED, 0, 0, 0, 0, 0, shapes[i][0],
                           shapes[i][1], shapes[i][2], shapes[i][3],
                           shapes[i][4]};
      ADD(p);
    }
  }
  /* The other family too, once: devices differ more than their type says. */
  {
    ocl_gemm_params p;
    memset(&p, 0, sizeof p);
    if (dev->type & CL_DEVICE_TYPE_CPU) {
      p.family = OCL_GEMM_TILED;
      p.mwg = 64; p.nwg = 64; p.kwg = 16; p.mdimc = 8; p.ndimc = 8;
    } else {
      p.family = OCL_GEMM_VEC;
      p.tm = 4; p.vw = 4; p.nv = 1; p.lm = 16; p.ln = 16;
    }
    ADD(p);
  }
#undef ADD
  return n;
}

int ocl_gemm_slices(const ocl_gemm_call *c, int *klen) {
  const long k = (long)c->kb * c->kp;
  long s = c->slices < 1 ? 1 : c->slices;
  if (s > k) s = k > 0 ? k : 1;
  long len = k > 0 ? (k + s - 1) / s : 1;
  *klen = (int)len;
  return k > 0 ? (int)((k + len - 1) / len) : 1;
}

#define SET(idx, type, value)                                                \
  do {                                                                       \
    type v_ = (value);                                                       \
    cl_int e_ = clSetKernelArg(k, (idx), sizeof v_, &v_);                    \
    if (e_ != CL_SUCCESS) {                                                  \
      char call_[64];                                                        \
      snprintf(call_, sizeof call_, "clSetKernelArg(gemm, %d)", (int)(idx)); \
      return conv_err_set(err, CONV_ERROR_DEVICE, "%s: %s (%d)", call_,      \
                          ocl_error_name(e_), (int)e_);                      \
    }                                                                        \
  } while (0)

static size_t up(size_t v, size_t m) { return (v + m - 1) / m * m; }

void ocl_gemm_grid(const ocl_gemm_params *gp, const ocl_gemm_call *c,
                   size_t global[3], size_t local[3]) {
  int klen;
  const int slices = ocl_gemm_slices(c, &klen);
  if (gp->family == OCL_GEMM_VEC) {
    const size_t tn = (size_t)gp->nv * (size_t)gp->vw;
    local[0] = (size_t)gp->ln;
    local[1] = (size_t)gp->lm;
    global[0] = up(((size_t)c->n + tn - 1) / tn, local[0]);
    global[1] = up(((size_t)c->m + gp->tm - 1) / gp->tm, local[1]);
  } else {
    local[0] = (size_t)gp->ndimc;
    local[1] = (size_t)gp->mdimc;
    global[0] = ((size_t)c->n + gp->nwg - 1) / gp->nwg * local[0];
    global[1] = ((size_t)c->m + gp->mwg - 1) / gp->mwg * local[1];
  }
  local[2] = 1;
  global[2] = (size_t)slices * (size_t)c->nb * (size_t)c->g;
}

conv_status ocl_gemm_enqueue(ocl_device *dev, cl_kernel k,
                             const ocl_gemm_params *gp, const ocl_gemm_call *c,
                             conv_err *err) {
  int klen;
  (void)ocl_gemm_slices(c, &klen);
  SET(0, cl_int, c->m);
  SET(1, cl_int, c->n);
  SET(2, cl_int, c->kb);
  SET(3, cl_int, c->kp);
  SET(4, cl_mem, c->a);
  SET(5, cl_long, c->a_off);
  SET(6, cl_int, c->lda);
  SET(7, cl_long, c->a_skb);
  SET(8, cl_long, c->a_sn);
  SET(9, cl_long, c->a_sg);
  SET(10, cl_int, c->trans_a);
  SET(11, cl_mem, c->b);
  SET(12, cl_long, c->b_off);
  SET(13, cl_int, c->ldb);
  SET(14, cl_long, c->b_skb);
  SET(15, cl_long, c->b_sn);
  SET(16, cl_long, c->b_sg);
  SET(17, cl_mem, c->c);
  SET(18, cl_long, c->c_off);
  SET(19, cl_int, c->ldc);
  SET(20, cl_long, c->c_sn);
  SET(21, cl_long, c->c_sg);
  SET(22, cl_long, c->c_ss);
  SET(23, cl_int, c->g);
  SET(24, cl_int, c->nb);
  SET(25, cl_int, klen);
  SET(26, cl_int, c->accumulate);
  SET(27, cl_mem, c->bias != NULL ? c->bias : c->c);
  SET(28, cl_int, c->bias != NULL);
  SET(29, cl_int, c->b_panel);
  SET(30, cl_int, c->act);
  SET(31, cl_float, c->alpha);
  size_t global[3], local[3];
  ocl_gemm_grid(gp, c, global, local);
  if (c->m == 0 || c->n == 0 || global[2] == 0) return CONV_SUCCESS;
  cl_int e = clEnqueueNDRangeKernel(dev->queue, k, 3, NULL, global, local, 0,
                                    NULL, NULL);
  if (e != CL_SUCCESS)
    return conv_err_set(err, e == CL_OUT_OF_HOST_MEMORY ||
                                     e == CL_MEM_OBJECT_ALLOCATION_FAILURE
                                 ? CONV_ERROR_OUT_OF_MEMORY
                                 : CONV_ERROR_DEVICE,
                        "clEnqueueNDRangeKernel(gemm %dx%dx%d): %s (%d)",
                        c->m, c->n, c->kb * c->kp, ocl_error_name(e), (int)e);
  return CONV_SUCCESS;
}
