/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libconv: 2D convolution and its gradients, exactly as PyTorch defines them,
 * on whatever hardware a machine has.
 *
 * Tensors are NCHW float32, C order:
 *   x  (N, C_in, H, W)                input
 *   w  (C_out, C_in/groups, kH, kW)   weight
 *   b  (C_out)                        bias (optional)
 *   y  (N, C_out, H_out, W_out)       output
 * The operation is a cross-correlation (no kernel flip), as in
 * torch.nn.functional.conv2d, unless conv_desc.flip_kernel is set.
 *
 * Life cycle: conv_context_create() binds one backend and one device;
 * conv_plan_create() checks a descriptor, chooses algorithms, sizes the
 * workspace and compiles kernels, once; the run calls (conv_forward() and the
 * gradients) do arithmetic only and may be called any number of times.
 *
 * Errors: every call returns a conv_status. The precise reason of the last
 * failure (which argument, which value) is kept per context and read with
 * conv_last_error(); a failed call writes no output and leaves the context
 * usable.
 *
 * Thread safety: a context may be used from several threads; one plan must
 * not run two calls at the same time (it owns one workspace).
 */
#ifndef CONV_H
#define CONV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CONV_BUILDING_LIBRARY) && defined(__GNUC__)
#  define CONV_API __attribute__((visibility("default")))
#else
#  define CONV_API
#endif

#define CONV_VERSION_MAJOR 0
#define CONV_VERSION_MINOR 1
#define CONV_VERSION_PATCH 0
#define CONV_VERSION_STRING "0.1.0"
/* A single comparable number: MAJOR * 10000 + MINOR * 100 + PATCH. */
#define CONV_VERSION \
  (CONV_VERSION_MAJOR * 10000 + CONV_VERSION_MINOR * 100 + CONV_VERSION_PATCH)

/* Run-time version of the library actually loaded ("0.1.0"). */
CONV_API const char *conv_version_string(void);
/* Run-time version as MAJOR * 10000 + MINOR * 100 + PATCH. */
CONV_API int conv_version(void);

/* ---------------------------------------------------------------- status */

/* One list makes both the enum and conv_status_string()'s table, so values
 * never collide and every value has a name. */
#define CONV_STATUS_LIST(X)                                                   \
  X(CONV_SUCCESS, 0, "success")                                               \
  X(CONV_ERROR_INVALID_ARGUMENT, 1, "invalid argument")                       \
  X(CONV_ERROR_UNSUPPORTED, 2, "unsupported by this backend or algorithm")    \
  X(CONV_ERROR_OUT_OF_MEMORY, 3, "out of memory")                             \
  X(CONV_ERROR_BACKEND_NOT_FOUND, 4, "backend not found")                     \
  X(CONV_ERROR_BAD_PLUGIN, 5, "plugin rejected")                              \
  X(CONV_ERROR_DEVICE_NOT_FOUND, 6, "device not found")                       \
  X(CONV_ERROR_DEVICE, 7, "device or driver error")                           \
  X(CONV_ERROR_SIZE_OVERFLOW, 8, "size overflows")                            \
  X(CONV_ERROR_INTERNAL, 9, "internal error")

typedef enum conv_status {
#define CONV_STATUS_ENUM_(name, value, text) name = value,
  CONV_STATUS_LIST(CONV_STATUS_ENUM_)
#undef CONV_STATUS_ENUM_
} conv_status;

/* A short English description of a status; never NULL (unknown values give
 * "unknown status"). */
CONV_API const char *conv_status_string(conv_status status);

/* ------------------------------------------------------------ descriptor */

typedef enum conv_padding {
  /* pad[0..3] = top, bottom, left, right, each >= 0. PyTorch's int padding p
   * is {p, p, p, p}; its pair (ph, pw) is {ph, ph, pw, pw}. */
  CONV_PADDING_EXPLICIT = 0,
  /* PyTorch's padding='same': per axis the total dilation*(k-1) is split,
   * top/left get total/2 and the odd one goes bottom/right. Stride must be 1
   * (as in PyTorch). For flip_kernel=1 (true convolution) the split follows
   * scipy.signal.convolve2d(mode='same') instead: the odd one goes top/left,
   * so that the output is centred like SciPy's. */
  CONV_PADDING_SAME = 1,
  /* No padding (padding='valid'). */
  CONV_PADDING_VALID = 2,
  /* Every tap that overlaps the input: dilation*(k-1) on each side
   * (scipy.signal.convolve2d(mode='full'), numpy.convolve's 'full'). */
  CONV_PADDING_FULL = 3
} conv_padding;

typedef enum conv_padding_mode {
  CONV_PAD_ZEROS = 0,     /* padded elements are 0 */
  CONV_PAD_REFLECT = 1,   /* mirror without repeating the edge; pad < size */
  CONV_PAD_REPLICATE = 2, /* repeat the edge element; any pad */
  CONV_PAD_CIRCULAR = 3,  /* wrap around; pad <= size */
  CONV_PAD_SYMMETRIC = 4  /* mirror repeating the edge (SciPy 'symm'); pad <= size */
} conv_padding_mode;

typedef struct conv_desc {
  int64_t n, c_in, h, w;  /* input shape; n may be 0 */
  int64_t c_out;          /* output channels */
  int64_t kernel[2];      /* kH, kW */
  int64_t stride[2];      /* sH, sW (>= 1) */
  int64_t dilation[2];    /* dH, dW (>= 1) */
  int64_t groups;         /* divides c_in and c_out */
  conv_padding padding;   /* how pad[] is interpreted */
  int64_t pad[4];         /* top, bottom, left, right (CONV_PADDING_EXPLICIT) */
  conv_padding_mode padding_mode;
  int has_bias;           /* 1: forward adds b; backward can return db */
  int flip_kernel;        /* 1: true convolution (kernel rotated 180 degrees) */
} conv_desc;

/* Fills *desc with PyTorch's defaults: stride 1, dilation 1, groups 1, zero
 * explicit padding, padding_mode zeros, no bias, no flip; shapes 0. */
CONV_API void conv_desc_init(conv_desc *desc);

/* Checks *desc and computes the output height and width, and the four
 * resolved pads (top, bottom, left, right) if pads is not NULL.
 * Returns CONV_SUCCESS, CONV_ERROR_INVALID_ARGUMENT or
 * CONV_ERROR_SIZE_OVERFLOW; the reason is read with conv_last_error(NULL)
 * in the same thread. */
CONV_API conv_status conv_output_size(const conv_desc *desc, int64_t *h_out,
                                      int64_t *w_out, int64_t pads[4]);

/* --------------------------------------------------------------- context */

typedef struct conv_context conv_context;

/* Opens a context. backend: a backend name ("cpu", "opencl"), a path to a
 * plugin file, a comma-separated preference list, or NULL to use
 * $CONV_BACKEND, else the best available (a GPU OpenCL device, else cpu).
 * device: an index ("0") or a substring of the device name, or NULL to use
 * $CONV_DEVICE, else device 0.
 * Returns CONV_SUCCESS, CONV_ERROR_INVALID_ARGUMENT (ctx NULL, or a bad
 * setting of the chosen backend such as $CONV_CPU_ISA: never a silent fall
 * back to another backend), CONV_ERROR_BACKEND_NOT_FOUND (the message lists the backends found), CONV_ERROR_BAD_PLUGIN, CONV_ERROR_DEVICE_NOT_FOUND,
 * CONV_ERROR_DEVICE or CONV_ERROR_OUT_OF_MEMORY. On failure *ctx is NULL and
 * the reason is read with conv_last_error(NULL) in the same thread. */
CONV_API conv_status conv_context_create(conv_context **ctx,
                                         const char *backend,
                                         const char *device);

/* Releases a context. Plans and tensors made from it must be destroyed first.
 * NULL is accepted. */
CONV_API void conv_context_destroy(conv_context *ctx);

/* The message of the last failed call on ctx, or with ctx NULL of the last
 * failed call in this thread that had no context (conv_context_create,
 * conv_output_size, conv_backend_list). "" if none. The pointer is to a
 * buffer of the calling thread, valid until its next call of this function. */
CONV_API const char *conv_last_error(const conv_context *ctx);

/* Name and version of the backend, name of the device. Never NULL. */
CONV_API const char *conv_context_backend(const conv_context *ctx);
CONV_API const char *conv_context_device(const conv_context *ctx);

/* ------------------------------------------------------- discovery */

typedef struct conv_device_info {
  char name[256];
  int is_gpu;
  /* "key: value" lines (platform, vendor, driver version, memory, ...). */
  char details[2048];
} conv_device_info;

typedef struct conv_backend_info {
  char name[64];     /* "cpu", "opencl", or the plugin's own name */
  char version[64];
  char path[1024];   /* the shared object it was loaded from */
  int usable;        /* 1: loaded and initialised */
  char reason[512];  /* why it was skipped, if !usable */
  int device_count;
} conv_backend_info;

/* Scans the plugin directories (see README: $CONV_PLUGIN_PATH, the build
 * tree, the install directory). Writes up to capacity entries to infos and
 * the number found to *count (which may exceed capacity). */
CONV_API conv_status conv_backend_list(conv_backend_info *infos,
                                       size_t capacity, size_t *count);

/* Devices of a backend, by name or path as in conv_context_create(). */
CONV_API conv_status conv_device_list(const char *backend,
                                      conv_device_info *infos,
                                      size_t capacity, size_t *count);

/* ------------------------------------------------------------------ plan */

typedef struct conv_plan conv_plan;

typedef enum conv_op {
  CONV_OP_FORWARD = 0,         /* y = conv(x, w) + b */
  CONV_OP_BACKWARD_DATA = 1,   /* dx from dy and w */
  CONV_OP_BACKWARD_WEIGHT = 2, /* dw (and db) from x and dy */
  CONV_OP_BACKWARD_BIAS = 3    /* db from dy */
} conv_op;

/* Makes a plan for *desc on ctx: checks the descriptor (see
 * conv_output_size), picks an algorithm per operation ($CONV_ALGO forces
 * one), allocates the workspace and compiles kernels.
 * Returns CONV_SUCCESS, CONV_ERROR_INVALID_ARGUMENT (also for an unknown
 * $CONV_ALGO name or a bad $CONV_NUM_THREADS), CONV_ERROR_SIZE_OVERFLOW,
 * CONV_ERROR_UNSUPPORTED (a forced algorithm that cannot serve *desc),
 * CONV_ERROR_OUT_OF_MEMORY or CONV_ERROR_DEVICE. */
CONV_API conv_status conv_plan_create(conv_context *ctx, const conv_desc *desc,
                                      conv_plan **plan);

/* The activation a plan may apply to its forward output, after the bias, in
 * the same pass (PyTorch's act(conv(x))). NaN stays NaN for every one. */
typedef enum conv_activation {
  CONV_ACT_NONE = 0,
  CONV_ACT_RELU = 1,       /* max(y, 0)                  torch.relu */
  CONV_ACT_RELU6 = 2,      /* min(max(y, 0), 6)          torch.nn.ReLU6 */
  CONV_ACT_LEAKY_RELU = 3, /* y > 0 ? y : alpha * y      F.leaky_relu(y, alpha) */
  CONV_ACT_SIGMOID = 4,    /* 1 / (1 + exp(-y))          torch.sigmoid */
  CONV_ACT_TANH = 5,       /* tanh(y)                    torch.tanh */
  CONV_ACT_SILU = 6        /* y / (1 + exp(-y))          F.silu */
} conv_activation;

/* conv_plan_create with a fused activation on the forward pass: conv_forward
 * then writes act(conv(x, w) + b). alpha is leaky_relu's negative slope
 * (finite); it must be 0 for the other activations. The gradient calls of the
 * plan are those of the plain convolution (no activation): a training loop
 * that needs d act/d y applies it to dy itself, or keeps an unfused plan for
 * training and a fused one for inference.
 * Returns the statuses of conv_plan_create, and CONV_ERROR_INVALID_ARGUMENT
 * for an unknown activation or a bad alpha, CONV_ERROR_UNSUPPORTED for a
 * backend older than plugin ABI 1.2. */
CONV_API conv_status conv_plan_create_fused(conv_context *ctx,
                                            const conv_desc *desc,
                                            conv_activation activation,
                                            float alpha, conv_plan **plan);
/* The activation of a plan (CONV_ACT_NONE for an unfused one). */
CONV_API conv_activation conv_plan_activation(const conv_plan *plan);
CONV_API void conv_plan_destroy(conv_plan *plan);

/* The algorithm the plan runs for op ("im2col_gemm", "direct", ...). */
CONV_API const char *conv_plan_algorithm(const conv_plan *plan, conv_op op);
/* Bytes of workspace the plan holds. */
CONV_API size_t conv_plan_workspace_size(const conv_plan *plan);
/* Resolved output height and width. */
CONV_API void conv_plan_output_size(const conv_plan *plan, int64_t *h_out,
                                    int64_t *w_out);

/* Host-pointer calls. Pointers are to C-order float32 arrays of the shapes
 * above. Inputs are not modified; outputs are fully overwritten (not
 * accumulated). b may be NULL only if the descriptor has no bias; db may be
 * NULL in conv_backward_weight to skip the bias gradient.
 * Returns CONV_SUCCESS, CONV_ERROR_INVALID_ARGUMENT (a NULL tensor),
 * CONV_ERROR_OUT_OF_MEMORY or CONV_ERROR_DEVICE. */
CONV_API conv_status conv_forward(conv_plan *plan, const float *x,
                                  const float *w, const float *b, float *y);
CONV_API conv_status conv_backward_data(conv_plan *plan, const float *dy,
                                        const float *w, float *dx);
CONV_API conv_status conv_backward_weight(conv_plan *plan, const float *x,
                                          const float *dy, float *dw,
                                          float *db);
CONV_API conv_status conv_backward_bias(conv_plan *plan, const float *dy,
                                        float *db);

/* One call for the common case, like torch.nn.functional.conv2d: opens a
 * context on the default backend ($CONV_BACKEND, else the best available),
 * makes a plan for *desc, runs conv_forward and frees both. Statuses are
 * those of conv_context_create, conv_plan_create and conv_forward; the
 * reason is read with conv_last_error(NULL) in the same thread. Each call
 * plans anew: keep a plan to run a layer many times. */
CONV_API conv_status conv_conv2d(const conv_desc *desc, const float *x,
                                 const float *w, const float *b, float *y);

/* -------------------------------------------------- transposed convolution */

/* torch.nn.ConvTranspose2d (the gradient of conv2d with respect to its input,
 * used as a layer):
 *   x  (N, C_in, H, W)                     input
 *   w  (C_in, C_out/groups, kH, kW)        weight, PyTorch's transposed layout
 *   b  (C_out)                             bias (optional)
 *   y  (N, C_out, H_out, W_out)
 *   H_out = (H-1)*stride_h - pad_top - pad_bottom + dilation_h*(kH-1)
 *           + output_padding_h + 1          (W_out likewise)
 * PyTorch's int padding p is pad {p, p, p, p}; output_padding adds rows and
 * columns at the bottom and right. Zero padding only, no flip.
 *
 * ONNX ConvTranspose maps onto it: pads [x1_begin, x2_begin, x1_end, x2_end]
 * -> pad {x1_begin, x1_end, x2_begin, x2_end}; output_padding as is. With
 * output_shape (or auto_pad SAME_UPPER / SAME_LOWER, which ask for
 * output_shape = input * stride), per axis total = stride*(in-1) +
 * output_padding + (k-1)*dilation + 1 - output_shape. The ONNX
 * specification puts total/2 at the begin and the rest at the end for
 * SAME_UPPER, and the rest at the begin, total/2 at the end otherwise
 * (SAME_LOWER, or NOTSET with output_shape); onnxruntime's CPU kernel
 * splits an odd total the other way round in each case: take the split of
 * the runtime whose results must be matched. A negative total is -total
 * more output_padding (still below the stride or the dilation). Either way
 * the output is the unpadded one cropped at [begin, begin + output_shape).
 *
 * The plan is a conv_plan: the run calls below work on it with the shapes
 * above (conv_forward: y from x, w, b; conv_backward_data: dx from dy and w;
 * conv_backward_weight: dw and db from x and dy; conv_backward_bias: db).
 * No second copy of the algorithms: the forward is conv2d's backward-data of
 * the matching convolution (input C_out channels of H_out x W_out, output
 * C_in of H x W, weight (C_in, C_out/groups, kH, kW) read as conv2d's
 * (C_out', C_in'/groups, kH, kW)); the input gradient is its forward and
 * the weight gradient its weight gradient with x and dy exchanged.
 * conv_plan_algorithm() names the conv2d algorithm each op runs. */
typedef struct conv_transpose_desc {
  int64_t n, c_in, h, w;      /* input shape; n may be 0 */
  int64_t c_out;              /* output channels */
  int64_t kernel[2];          /* kH, kW */
  int64_t stride[2];          /* >= 1 */
  int64_t dilation[2];        /* >= 1 */
  int64_t groups;             /* divides c_in and c_out */
  int64_t pad[4];             /* top, bottom, left, right, >= 0 */
  /* Extra bottom rows / right columns: < stride or < dilation on its axis
   * (PyTorch's rule). Where output_padding - pad_bottom (or pad_right) >=
   * stride, the last rows lie past every kernel tap and hold only the bias
   * (and activation); the plan then keeps a staging copy of x grown by
   * (output_padding - end pad) / stride rows or columns, counted by
   * conv_plan_workspace_size (on a device backend the copy passes through
   * host memory). */
  int64_t output_padding[2];
  int has_bias;
} conv_transpose_desc;

/* PyTorch's defaults: stride 1, dilation 1, groups 1, no padding, no
 * output_padding, no bias; shapes 0. */
CONV_API void conv_transpose_desc_init(conv_transpose_desc *desc);

/* Checks *desc and computes H_out and W_out. Statuses as conv_output_size. */
CONV_API conv_status conv_transpose_output_size(const conv_transpose_desc *desc,
                                                int64_t *h_out, int64_t *w_out);

/* Makes a transposed-convolution plan; activation and alpha as in
 * conv_plan_create_fused (CONV_ACT_NONE, 0 for none). Statuses as
 * conv_plan_create_fused; a bias or an activation needs a backend of plugin
 * ABI 1.2 (CONV_ERROR_UNSUPPORTED otherwise). */
CONV_API conv_status conv_transpose_plan_create(conv_context *ctx,
                                                const conv_transpose_desc *desc,
                                                conv_activation activation,
                                                float alpha, conv_plan **plan);

/* --------------------------------------------------------------- tensors */

/* A float32 buffer that lives on the context's device (host memory for the
 * cpu backend, a cl_mem for opencl), so data can stay there across calls. */
typedef struct conv_tensor conv_tensor;

CONV_API conv_status conv_tensor_create(conv_context *ctx, size_t count,
                                        conv_tensor **tensor);
CONV_API void conv_tensor_destroy(conv_tensor *tensor);
CONV_API size_t conv_tensor_count(const conv_tensor *tensor);
/* Copies count floats from host memory into the tensor (upload) or from the
 * tensor to host memory (download); count must equal the tensor's count. */
CONV_API conv_status conv_tensor_upload(conv_tensor *tensor, const float *src,
                                        size_t count);
CONV_API conv_status conv_tensor_download(const conv_tensor *tensor,
                                          float *dst, size_t count);

/* The run calls on device tensors. Each tensor must belong to the plan's
 * context and hold at least the shape's element count. */
CONV_API conv_status conv_forward_tensor(conv_plan *plan,
                                         const conv_tensor *x,
                                         const conv_tensor *w,
                                         const conv_tensor *b, conv_tensor *y);
CONV_API conv_status conv_backward_data_tensor(conv_plan *plan,
                                               const conv_tensor *dy,
                                               const conv_tensor *w,
                                               conv_tensor *dx);
CONV_API conv_status conv_backward_weight_tensor(conv_plan *plan,
                                                 const conv_tensor *x,
                                                 const conv_tensor *dy,
                                                 conv_tensor *dw,
                                                 conv_tensor *db);
CONV_API conv_status conv_backward_bias_tensor(conv_plan *plan,
                                               const conv_tensor *dy,
                                               conv_tensor *db);

/* ----------------------------------------------------------- max pooling */

/* torch.nn.MaxPool2d on NCHW float32: x (N, C, H, W) -> y (N, C, H_out, W_out)
 *   H_out = floor_or_ceil((H + pad_top + pad_bottom - dilation_h*(kH-1) - 1)
 *                         / stride_h) + 1
 * with ceil_mode, and then, as in PyTorch, minus one if the last window would
 * start at or past H + pad_top (it must start inside the input or the top
 * padding). pad_top = pad_bottom = pad_h unless four_sided is set. Padded positions never win. NaN propagates: a window holding NaN
 * gives NaN. Ties go to the first maximum in scan order (row by row), as in
 * PyTorch's CPU code; backward routes each dy to that element (and to the
 * last NaN of a window holding NaN, again as PyTorch's CPU code does).
 * A window that lies wholly in the padding (possible with dilation) gives
 * -inf and an index outside the plane, as PyTorch does; backward drops its
 * dy instead of writing outside the plane. */
typedef enum conv_pool_mode {
  CONV_POOL_MAX = 0,          /* nn.MaxPool2d */
  CONV_POOL_AVG = 1,          /* nn.AvgPool2d */
  CONV_POOL_ADAPTIVE_AVG = 2  /* nn.AdaptiveAvgPool2d */
} conv_pool_mode;

typedef struct conv_pool_desc {
  int64_t n, c, h, w;     /* input shape; n may be 0 */
  int64_t kernel[2];      /* kH, kW (>= 1) */
  int64_t stride[2];      /* 0 means "= kernel" (PyTorch's default) */
  int64_t pad[2];         /* pad_h, pad_w: both sides; <= kernel/2 */
  int64_t dilation[2];    /* >= 1 */
  int ceil_mode;          /* 0 or 1 */
  /* Since 0.2, all zero from conv_pool_desc_init except count_include_pad. */
  conv_pool_mode mode;    /* max (the default), avg, adaptive avg */
  /* 1: pad4 {top, bottom, left, right} replaces pad[] (ONNX pads, auto_pad
   * SAME_UPPER / SAME_LOWER with an odd total); each side <= kernel/2. */
  int four_sided;
  int64_t pad4[4];
  int count_include_pad;  /* avg: padded positions count in the divisor (1) */
  int64_t divisor_override; /* avg: > 0 divides by this instead; 0 none */
  int64_t output_size[2]; /* adaptive avg: H_out, W_out (>= 1) */
} conv_pool_desc;

/* PyTorch's defaults: stride = kernel, pad 0, dilation 1, floor mode, max
 * pooling, count_include_pad 1; shapes and kernel 0 (to be set). */
CONV_API void conv_pool_desc_init(conv_pool_desc *desc);

/* Checks *desc and computes H_out and W_out. Statuses as conv_output_size. */
CONV_API conv_status conv_pool_output_size(const conv_pool_desc *desc,
                                           int64_t *h_out, int64_t *w_out);

typedef struct conv_pool_plan conv_pool_plan;

/* Makes a pooling plan on ctx. Returns CONV_SUCCESS,
 * CONV_ERROR_INVALID_ARGUMENT, CONV_ERROR_SIZE_OVERFLOW,
 * CONV_ERROR_UNSUPPORTED (a backend without pooling), CONV_ERROR_DEVICE or
 * CONV_ERROR_OUT_OF_MEMORY. */
CONV_API conv_status conv_pool_plan_create(conv_context *ctx,
                                           const conv_pool_desc *desc,
                                           conv_pool_plan **plan);
CONV_API void conv_pool_plan_destroy(conv_pool_plan *plan);
CONV_API void conv_pool_plan_output_size(const conv_pool_plan *plan,
                                         int64_t *h_out, int64_t *w_out);

/* y = maxpool(x). indices (N, C, H_out, W_out) int64, may be NULL: the flat
 * index h * W + w of the chosen element in its (n, c) plane, as PyTorch's
 * return_indices. */
CONV_API conv_status conv_maxpool_forward(conv_pool_plan *plan, const float *x,
                                          float *y, int64_t *indices);
/* dx from x and dy: each dy element is added to the element its window
 * chose (recomputed from x by the forward rule); dx is overwritten. */
CONV_API conv_status conv_maxpool_backward(conv_pool_plan *plan,
                                           const float *x, const float *dy,
                                           float *dx);
/* The same on device tensors. */
CONV_API conv_status conv_maxpool_forward_tensor(conv_pool_plan *plan,
                                                 const conv_tensor *x,
                                                 conv_tensor *y);
CONV_API conv_status conv_maxpool_backward_tensor(conv_pool_plan *plan,
                                                  const conv_tensor *x,
                                                  const conv_tensor *dy,
                                                  conv_tensor *dx);

/* ------------------------------------------------------- average pooling */

/* torch.nn.AvgPool2d (mode CONV_POOL_AVG): the windows and H_out as max
 * pooling above with dilation 1 (the only value allowed). Each output is the
 * sum of the window's in-range inputs divided by divisor_override if set,
 * else, with count_include_pad, by the window's size clipped to the padded
 * input (H + pad_top + pad_bottom; a ceil_mode window that hangs past it
 * counts only its part inside), else by its in-range count.
 *
 * torch.nn.AdaptiveAvgPool2d (mode CONV_POOL_ADAPTIVE_AVG): output_size
 * gives H_out, W_out; window oh covers rows floor(oh*H/H_out) up to
 * ceil((oh+1)*H/H_out) (exclusive), likewise for columns; kernel, stride,
 * pads, ceil_mode, count_include_pad and divisor_override must be left 0
 * (count_include_pad may stay 1). Global average pooling is output_size 1x1.
 *
 * Backward spreads each dy over its window with the same divisor. Both need
 * a plan of the matching mode (CONV_ERROR_INVALID_ARGUMENT otherwise) and a
 * backend of plugin ABI 1.2 with average pooling (CONV_ERROR_UNSUPPORTED at
 * plan creation otherwise). Statuses as the max pooling calls. */
CONV_API conv_status conv_avgpool_forward(conv_pool_plan *plan, const float *x,
                                          float *y);
CONV_API conv_status conv_avgpool_backward(conv_pool_plan *plan,
                                           const float *dy, float *dx);
CONV_API conv_status conv_avgpool_forward_tensor(conv_pool_plan *plan,
                                                 const conv_tensor *x,
                                                 conv_tensor *y);
CONV_API conv_status conv_avgpool_backward_tensor(conv_pool_plan *plan,
                                                  const conv_tensor *dy,
                                                  conv_tensor *dx);

#ifdef __cplusplus
}
#endif

#endif /* CONV_H */
