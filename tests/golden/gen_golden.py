#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Generate libconv's golden reference cases.

Run from anywhere with the system Python (it needs torch and numpy):

    /usr/bin/python3 tests/golden/gen_golden.py

Each case becomes a directory tests/golden/cases/<name>/ holding a `params`
file and float32 .npy arrays (see README.md). Inputs are float32; every
reference output is computed by PyTorch in float64 from those float32 inputs
and then stored as float32. The script is deterministic: re-running it
rewrites the same bytes. It also asserts the published values of the seed
examples, and rewrites files.am (the automake list of installed files).

Adding a case means adding one entry to CASES (see `case()` below); adding
an operation means adding a reference function to REFERENCES and the keys it
needs to `params_text()`.
"""

import os
import shutil
import sys
import warnings

import numpy as np
import scipy.signal
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
CASES_DIR = os.path.join(HERE, "cases")
FILES_AM = os.path.join(HERE, "files.am")

MODES = ("zeros", "reflect", "replicate", "circular")


# ------------------------------------------------------------ case specs

def case(name, desc, x, w=None, bias=True, stride=1, padding=0, dilation=1,
         groups=1, padding_mode="zeros", dy="random", seed=0, expect=None,
         op="conv2d", flip_kernel=0, kernel=None, ceil_mode=0,
         output_padding=0, count_include_pad=1, divisor_override=None,
         output_size=None, activation=None, x_scale=1.0):
    """One golden case.

    x, w: a shape tuple (filled with seeded random float32) or an explicit
    array of values. bias: True (random), False, or explicit values.
    padding: int, (ph, pw), (t, b, l, r), "same" or "valid".
    dy: "random", "ones" or explicit values.
    expect: {"y"|"dx"|"dw"|"db": array} asserted exactly (seed examples).
    flip_kernel=1: true convolution, referenced by scipy.signal.convolve2d
    (padding "full"|"same"|"valid", padding_mode zeros|circular|symmetric).
    op="maxpool2d": kernel=(KH, KW), padding (PH, PW) or (T, B, L, R),
    ceil_mode; no w.
    op="avgpool2d": as maxpool2d without dilation, plus count_include_pad
    and divisor_override.
    op="adaptive_avgpool2d": output_size=(OH, OW) only.
    op="conv_transpose2d": w is (C_in, C_out/groups, kH, kW); padding int,
    pair or (T, B, L, R); output_padding.
    activation (conv2d, conv_transpose2d): "relu", "relu6",
    "leaky_relu:SLOPE", "sigmoid", "tanh", "silu"; y is act(conv), the
    gradients those of the plain conv for the same dy.
    x_scale multiplies a random x (to reach relu6's clamp).
    """
    return dict(name=name, desc=desc, x=x, w=w, bias=bias, stride=stride,
                padding=padding, dilation=dilation, groups=groups,
                padding_mode=padding_mode, dy=dy, seed=seed,
                expect=expect or {}, op=op, flip_kernel=flip_kernel,
                kernel=kernel, ceil_mode=ceil_mode,
                output_padding=output_padding,
                count_include_pad=count_include_pad,
                divisor_override=divisor_override, output_size=output_size,
                activation=activation, x_scale=x_scale)


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


# Seed examples. Where the tutorial input could not be found, the input was
# derived (small non-negative integers solving the published output) and the
# description says so.
EDGE_5X5 = [[1, 2, 1, 2, 0],
            [0, 0, 2, 2, 0],
            [1, 1, 1, 1, 0],
            [1, 1, 2, 1, 2],
            [1, 0, 0, 2, 0]]
VERTICAL_EDGE = [[1, 0, -1]] * 3

THREE_CH_X = [[[6, 3, 0, 6, 1], [1, 0, 6, 5, 0], [4, 6, 3, 5, 0]],
              [[3, 4, 4, 5, 6], [6, 3, 6, 4, 2], [0, 5, 1, 2, 0]],
              [[0, 0, 5, 2, 4], [0, 4, 3, 6, 1], [6, 6, 5, 4, 3]]]
THREE_CH_W = [[[1, 0, -1]] * 3,
              [[1, 1, 1], [0, 0, 0], [-1, -1, -1]],
              [[0, 0, 0], [0, 1, 0], [0, 0, 0]]]

SOBEL_X = [[0, 1, 0, 3, 4],
           [0, 2, 0, 1, 4],
           [4, 0, 3, 4, 2],
           [4, 1, 0, 3, 1],
           [1, 3, 3, 3, 4],
           [4, 4, 3, 4, 4]]
SOBEL = [[1, 0, -1], [2, 0, -2], [1, 0, -1]]

COLUMN_8X8 = [[1.0 if c == 4 else 0.0 for c in range(8)] for _ in range(8)]
RAMP_KERNEL = [[1, 2, 3]] * 3


def nchw(a):
    """A 2-D (H, W) or 3-D (C, H, W) list as a (1, C, H, W) array."""
    a = np.asarray(a, dtype=np.float32)
    while a.ndim < 4:
        a = a[None]
    return a


CASES = [
    # ---------------------------------------------------------- seeds
    case("seed_edge_5x5",
         "Seed: 5x5 image, 3x3 vertical edge kernel [[1,0,-1]]*3 gives "
         "[[-2,-2,4],[-3,-2,3],[0,-2,1]]. The tutorial's image was not found; "
         "this 5x5 image of integers 0..2 was derived to reproduce the output.",
         x=nchw(EDGE_5X5), w=nchw(VERTICAL_EDGE), bias=False, dy="ones",
         expect={"y": nchw([[-2, -2, 4], [-3, -2, 3], [0, -2, 1]])}),
    case("seed_three_channel",
         "Seed: a 3-channel 3x5 input with a 3-channel 3x3 kernel (vertical "
         "edge, horizontal edge, identity) sums the channels into one 1x3 "
         "output [11,1,26]. The tutorial's values were not found; this input "
         "(integers 0..6) was derived to reproduce the output.",
         x=nchw(THREE_CH_X), w=nchw(THREE_CH_W), bias=False, dy="ones",
         expect={"y": nchw([[11, 1, 26]])}),
    case("seed_corr2d_arange",
         "Seed (Dive into Deep Learning, corr2d): arange(9) as a 3x3 image "
         "with kernel [[0,1],[2,3]] gives [[19,25],[37,43]].",
         x=nchw(np.arange(9).reshape(3, 3)), w=nchw([[0, 1], [2, 3]]),
         bias=False, dy="ones",
         expect={"y": nchw([[19, 25], [37, 43]])}),
    case("seed_corr2d_pad1_stride2",
         "Seed (Dive into Deep Learning): the same 3x3 arange image and "
         "[[0,1],[2,3]] kernel with padding 1 and stride 2 give [[0,8],[21,43]].",
         x=nchw(np.arange(9).reshape(3, 3)), w=nchw([[0, 1], [2, 3]]),
         bias=False, stride=2, padding=1, dy="ones",
         expect={"y": nchw([[0, 8], [21, 43]])}),
    case("seed_sobel_grad",
         "Seed: Sobel kernel [[1,0,-1],[2,0,-2],[1,0,-1]] on a 6x5 image with "
         "loss = out.sum() (dy all ones): grad-weight "
         "[[15,18,25],[21,23,28],[30,31,34]], grad-input rows [1,1,0,-1,-1], "
         "[3,3,0,-3,-3], ... The tutorial's image was not found; this 6x5 image "
         "of integers 0..4 was derived to reproduce the grad-weight.",
         x=nchw(SOBEL_X), w=nchw(SOBEL), bias=False, dy="ones",
         expect={"dw": nchw([[15, 18, 25], [21, 23, 28], [30, 31, 34]]),
                 "dx": nchw([[1, 1, 0, -1, -1], [3, 3, 0, -3, -3],
                             [4, 4, 0, -4, -4], [4, 4, 0, -4, -4],
                             [3, 3, 0, -3, -3], [1, 1, 0, -1, -1]])}),
    case("seed_column_8x8",
         "Seed: 8x8 column test, every 6x6 output row is [0,0,9,6,3,0]. The "
         "original input was not found; derived as the most natural one: an "
         "8x8 zero image with a one-pixel column of ones at index 4 and the "
         "ramp kernel [[1,2,3]]*3.",
         x=nchw(COLUMN_8X8), w=nchw(RAMP_KERNEL), bias=False, dy="ones",
         expect={"y": nchw([[0, 0, 9, 6, 3, 0]] * 6)}),

    # ---------------------------------------------------------- basics
    case("basic_3x3_bias", "1 image, 1 channel, 7x7, 3x3 kernel with bias, "
         "no padding.", x=(1, 1, 7, 7), w=(1, 1, 3, 3), seed=1),
    case("multi_channel_no_bias", "3 -> 4 channels, 6x6, 3x3 kernel, no bias.",
         x=(1, 3, 6, 6), w=(4, 3, 3, 3), bias=False, seed=2),
    case("batch3_bias", "N=3 batch, 2 -> 5 channels, 5x7 input, padding 1, "
         "bias.", x=(3, 2, 5, 7), w=(5, 2, 3, 3), padding=1, seed=3),
    case("batch_empty", "N=0: empty batch; y, dy, dx are empty, dw and db "
         "are zero.", x=(0, 2, 5, 5), w=(3, 2, 3, 3), padding=1, seed=4),
    case("one_by_one", "1x1 kernel (pointwise), N=2, 5 -> 7 channels, 4x3.",
         x=(2, 5, 4, 3), w=(7, 5, 1, 1), seed=5),
    case("one_by_one_stride2_pad", "1x1 kernel with stride 2 and padding 1 "
         "(border outputs see only padding: bias only).",
         x=(1, 3, 5, 6), w=(4, 3, 1, 1), stride=2, padding=1, seed=6),
    case("prime_sizes", "Prime sizes: 3 -> 7 channels, 11x13 input, 5x3 "
         "kernel, padding (2,1).", x=(1, 3, 11, 13), w=(7, 3, 5, 3),
         padding=(2, 1), seed=7),
    case("odd_cout_13", "C_out 13 (not a multiple of anything nice), 2 input "
         "channels, N=2, 3x3 'same'.", x=(2, 2, 5, 5), w=(13, 2, 3, 3),
         padding="same", seed=8),
    case("kernel_equals_input", "Kernel as large as the input: 5x4 input, "
         "5x4 kernel, 1x1 output.", x=(2, 3, 5, 4), w=(2, 3, 5, 4), seed=9),
    case("kernel_1x5", "Non-square 1x5 kernel with padding (0,2).",
         x=(1, 2, 4, 7), w=(3, 2, 1, 5), padding=(0, 2), seed=10),
    case("kernel_4x2", "Non-square even 4x2 kernel, no padding.",
         x=(2, 2, 7, 5), w=(3, 2, 4, 2), seed=11),
    case("kernel_3x1_width1", "Width-1 input (9x1) with a 3x1 kernel, padding "
         "(1,0).", x=(1, 2, 9, 1), w=(2, 2, 3, 1), padding=(1, 0), seed=12),
    case("valid_padding", "padding='valid' (no padding), 3x5 kernel.",
         x=(1, 3, 6, 8), w=(2, 3, 3, 5), padding="valid", seed=13),

    # ---------------------------------------------------------- stride
    case("stride2", "Stride 2, 3x3 kernel, padding 1.",
         x=(2, 2, 7, 7), w=(3, 2, 3, 3), stride=2, padding=1, seed=14),
    case("stride3x2_pad1x2", "Stride (3,2) with padding (1,2).",
         x=(1, 2, 8, 7), w=(2, 2, 3, 3), stride=(3, 2), padding=(1, 2),
         seed=15),
    case("stride_gt_kernel", "Stride 3 larger than the 2x2 kernel: some "
         "input rows/cols are never read, so dx is zero there.",
         x=(1, 2, 8, 8), w=(2, 2, 2, 2), stride=3, seed=16),
    case("stride_gt_kernel_4x5", "Stride (4,5) with a 3x1 kernel and "
         "padding 1.", x=(1, 1, 9, 11), w=(3, 1, 3, 1), stride=(4, 5),
         padding=1, seed=17),
    case("stride_unused_tail", "Stride 3: floor in the output size leaves "
         "the last input rows and columns unused (dx zero there).",
         x=(1, 2, 8, 8), w=(2, 2, 3, 3), stride=3, seed=18),

    # ---------------------------------------------------------- dilation
    case("dilation2", "Dilation 2, 3x3 kernel, padding 2.",
         x=(1, 2, 9, 9), w=(3, 2, 3, 3), dilation=2, padding=2, seed=19),
    case("dilation2x3_pad", "Dilation (2,3) with padding (2,3), 3x2 kernel.",
         x=(2, 2, 8, 10), w=(2, 2, 3, 2), dilation=(2, 3), padding=(2, 3),
         seed=20),
    case("dilation_stride", "Dilation 2 and stride 2 with padding 1.",
         x=(1, 3, 9, 8), w=(2, 3, 3, 3), dilation=2, stride=2, padding=1,
         seed=21),

    # ---------------------------------------------------------- padding
    case("pad_gt_kernel", "Padding 4 larger than the 3x3 kernel: border "
         "outputs see only zeros.", x=(1, 2, 4, 5), w=(2, 2, 3, 3), padding=4,
         seed=22),
    case("pad_gt_kernel_2x2", "Padding (3,5) around a 2x2 kernel.",
         x=(1, 1, 3, 4), w=(2, 1, 2, 2), padding=(3, 5), seed=23),
    case("pad4_asym", "Four-sided explicit pads T,B,L,R = 0,2,1,3 (zeros).",
         x=(1, 2, 5, 6), w=(3, 2, 3, 3), padding=(0, 2, 1, 3), seed=24),
    case("pad4_asym_stride_dil", "Pads 2,1,0,3 with stride 2 and dilation 2.",
         x=(2, 2, 9, 8), w=(2, 2, 3, 3), padding=(2, 1, 0, 3), stride=2,
         dilation=2, seed=25),
    case("same_odd", "padding='same' with a 3x3 kernel.",
         x=(1, 2, 6, 5), w=(3, 2, 3, 3), padding="same", seed=26),
    case("same_even_4x4", "padding='same' with an even 4x4 kernel: top/left "
         "get 1, bottom/right get 2.", x=(1, 2, 6, 7), w=(2, 2, 4, 4),
         padding="same", seed=27),
    case("same_even_2x4_dil", "padding='same' with a 2x4 kernel and dilation "
         "(3,2): totals 3 and 6 split 1+2 and 3+3.", x=(1, 2, 7, 8),
         w=(2, 2, 2, 4), dilation=(3, 2), padding="same", seed=28),

    # ---------------------------------------------------------- groups
    case("groups2", "groups=2: 4 -> 6 channels.",
         x=(2, 4, 5, 5), w=(6, 2, 3, 3), groups=2, padding=1, seed=29),
    case("groups3_dil_stride", "groups=3 with dilation 2, stride 2, "
         "padding 2: 6 -> 9 channels.", x=(1, 6, 9, 9), w=(9, 2, 3, 3),
         groups=3, dilation=2, stride=2, padding=2, seed=30),
    case("groups2_one_in", "groups=2 with one input channel per group and "
         "three outputs per group.", x=(1, 2, 6, 6), w=(6, 1, 3, 3),
         groups=2, seed=31),
    case("groups_pad4_asym", "groups=2 with four-sided pads 1,0,2,1 and "
         "stride (1,2).", x=(2, 4, 6, 7), w=(4, 2, 2, 3), groups=2,
         padding=(1, 0, 2, 1), stride=(1, 2), seed=32),
    case("depthwise", "Depthwise: groups = C_in = C_out = 4, 3x3, padding 1.",
         x=(2, 4, 6, 6), w=(4, 1, 3, 3), groups=4, padding=1, seed=33),
    case("depthwise_multiplier", "Depthwise with multiplier 2: 3 -> 6 "
         "channels, groups 3, stride 2.", x=(1, 3, 7, 7), w=(6, 1, 3, 3),
         groups=3, stride=2, seed=34),
    case("depthwise_dil_stride", "Depthwise (groups 5) with dilation 2, "
         "stride 2, padding 2, no bias.", x=(1, 5, 9, 10), w=(5, 1, 3, 3),
         groups=5, dilation=2, stride=2, padding=2, bias=False, seed=35),

    # ---------------------------------------------------------- modes
    case("reflect_pad1", "padding_mode=reflect, padding 1.",
         x=(1, 2, 5, 6), w=(2, 2, 3, 3), padding=1, padding_mode="reflect",
         seed=36),
    case("reflect_stride_dil", "reflect with padding 2, stride 2, dilation 2.",
         x=(2, 2, 7, 8), w=(3, 2, 3, 3), padding=2, stride=2, dilation=2,
         padding_mode="reflect", seed=37),
    case("reflect_pad4_asym", "reflect with four-sided pads 1,3,2,0.",
         x=(1, 2, 5, 6), w=(2, 2, 3, 3), padding=(1, 3, 2, 0),
         padding_mode="reflect", seed=38),
    case("reflect_max_pad", "reflect with the largest legal pad: size-1 "
         "(pads (3,4) on a 4x5 input).", x=(1, 1, 4, 5), w=(2, 1, 3, 3),
         padding=(3, 4), padding_mode="reflect", seed=39),
    case("reflect_same_even", "reflect with padding='same' and an even 4x2 "
         "kernel.", x=(1, 2, 6, 5), w=(2, 2, 4, 2), padding="same",
         padding_mode="reflect", seed=40),
    case("replicate_pad1", "padding_mode=replicate, padding 1.",
         x=(1, 2, 5, 6), w=(2, 2, 3, 3), padding=1, padding_mode="replicate",
         seed=41),
    case("replicate_stride_dil", "replicate with padding (2,3), stride 2, "
         "dilation (2,1).", x=(2, 2, 7, 6), w=(2, 2, 3, 3), padding=(2, 3),
         stride=2, dilation=(2, 1), padding_mode="replicate", seed=42),
    case("replicate_pad4_asym", "replicate with four-sided pads 0,2,3,1.",
         x=(1, 2, 5, 6), w=(2, 2, 3, 3), padding=(0, 2, 3, 1),
         padding_mode="replicate", seed=43),
    case("replicate_big_pad", "replicate with padding 6, wider than the 3x4 "
         "input.", x=(1, 1, 3, 4), w=(1, 1, 3, 3), padding=6,
         padding_mode="replicate", seed=44),
    case("circular_pad1", "padding_mode=circular, padding 1.",
         x=(1, 2, 5, 6), w=(2, 2, 3, 3), padding=1, padding_mode="circular",
         seed=45),
    case("circular_stride_dil", "circular with padding 2, stride (2,3), "
         "dilation 2.", x=(2, 2, 7, 8), w=(3, 2, 3, 3), padding=2,
         stride=(2, 3), dilation=2, padding_mode="circular", seed=46),
    case("circular_pad4_asym", "circular with four-sided pads 2,0,1,3.",
         x=(1, 2, 5, 6), w=(2, 2, 3, 3), padding=(2, 0, 1, 3),
         padding_mode="circular", seed=47),
    case("circular_pad_eq_size", "circular with pad equal to the size "
         "(pads (3,4) on a 3x4 input: a full wrap).", x=(1, 1, 3, 4),
         w=(2, 1, 3, 3), padding=(3, 4), padding_mode="circular", seed=48),
    case("circular_same_dil", "circular with padding='same', 3x3 kernel, "
         "dilation 2.", x=(1, 2, 6, 7), w=(2, 2, 3, 3), padding="same",
         dilation=2, padding_mode="circular", seed=49),
    case("modes_groups_reflect", "reflect with groups 2, stride 2, N=2.",
         x=(2, 4, 7, 7), w=(4, 2, 3, 3), groups=2, stride=2, padding=1,
         padding_mode="reflect", seed=50),
    case("modes_depthwise_circular", "circular with a depthwise 3x3 kernel, "
         "no bias.", x=(1, 3, 5, 5), w=(3, 1, 3, 3), groups=3, padding=1,
         padding_mode="circular", bias=False, seed=51),
    case("zeros_mode_explicit", "padding_mode=zeros written out, with pads "
         "(2,1) and dilation (1,2).", x=(1, 2, 6, 7), w=(2, 2, 3, 3),
         padding=(2, 1), dilation=(1, 2), padding_mode="zeros", seed=52),
]


# ------------------------------------------------- true convolution (SciPy)

LAPLACIAN = [[0, 1, 0], [1, -4, 1], [0, 1, 0]]
# Columns 0-3 hold 3, columns 4-7 hold 0: true convolution flips
# [[-1,0,1]]*3 into the correlation kernel [[1,0,-1]]*3, so the edge gives +9.
STEP_8X8 = [[3.0 if c < 4 else 0.0 for c in range(8)] for _ in range(8)]
SCIPY_BOUNDARY = {"zeros": "fill", "circular": "wrap", "symmetric": "symm"}

CASES += [
    case("scipy_seed_laplacian_same",
         "Seed: scipy.signal.convolve2d([[1,2,3],[4,5,6],[7,8,9]], Laplacian "
         "[[0,1,0],[1,-4,1],[0,1,0]], mode='same') = "
         "[[2,1,-4],[-3,0,-7],[-16,-11,-22]] (true convolution, zero fill).",
         x=nchw(np.arange(1, 10).reshape(3, 3)), w=nchw(LAPLACIAN),
         bias=False, padding="same", flip_kernel=1, dy="ones",
         expect={"y": nchw([[2, 1, -4], [-3, 0, -7], [-16, -11, -22]])}),
    case("scipy_seed_step_valid",
         "Seed: an 8x8 step image (columns 0-3 are 3, columns 4-7 are 0) "
         "convolved (true convolution, mode='valid') with [[-1,0,1]]*3: every "
         "6x6 output row is [0,0,9,9,0,0]. The lecture's image was not found; "
         "this one reproduces the output (with 0s left and 3s right the flip "
         "gives -9).", x=nchw(STEP_8X8), w=nchw([[-1, 0, 1]] * 3),
         bias=False, padding="valid", flip_kernel=1, dy="ones",
         expect={"y": nchw([[0, 0, 9, 9, 0, 0]] * 6)}),
    case("scipy_seed_1d_numpy_full",
         "Seed: 1-D signal as H=1: numpy.convolve([1,2,3],[0,1,0.5]) "
         "(mode 'full') = [0,1,2.5,4,1.5].", x=nchw([[1, 2, 3]]),
         w=nchw([[0, 1, 0.5]]), bias=False, padding="full", flip_kernel=1,
         dy="ones", expect={"y": nchw([[0, 1, 2.5, 4, 1.5]])}),
    case("scipy_1d_same_symm", "1-D (H=1) true convolution, mode 'same', "
         "symmetric boundary, even kernel of 4 taps, N=2.",
         x=(2, 1, 1, 9), w=(1, 1, 1, 4), bias=False, padding="same",
         flip_kernel=1, padding_mode="symmetric", seed=60),
]
_SEED = 61
for _mode in ("full", "same", "valid"):
    for _pm in ("zeros", "circular", "symmetric"):
        for _kind, _k in (("odd", (3, 5)), ("even", (4, 2))):
            # Two input and two output channels (each output sums the
            # channels' convolve2d), bias on the odd kernels.
            CASES.append(case(
                "scipy_%s_%s_%s" % (_mode, SCIPY_BOUNDARY[_pm], _kind),
                "scipy.signal.convolve2d(mode='%s', boundary='%s') with an "
                "%s %dx%d kernel: flip_kernel=1, padding=%s, padding_mode=%s."
                % (_mode, SCIPY_BOUNDARY[_pm], _kind, _k[0], _k[1], _mode,
                   _pm),
                x=(2, 2, 6, 7), w=(2, 2) + _k, bias=_kind == "odd",
                padding=_mode, flip_kernel=1, padding_mode=_pm, seed=_SEED))
            _SEED += 1


# ------------------------------------------------------- max pooling

def _pool_x(shape, seed, lo=-2, hi=2, nan=0.0, neginf=0.0):
    """Small integers (many ties), some NaN / -inf, as float32."""
    rng = np.random.default_rng(seed)
    a = rng.integers(lo, hi + 1, size=shape).astype(np.float32)
    u = rng.random(shape)
    a[u < nan] = np.nan
    a[(u >= nan) & (u < nan + neginf)] = -np.inf
    return a


CASES += [
    case("pool_seed_k2s2", "Seed: MaxPool2d(2, stride 2): (32,7,128,128) -> "
         "(32,7,64,64); stored with N=2 and 16x16 planes (test_pool asserts "
         "the full shape).", x=(2, 7, 16, 16), op="maxpool2d", kernel=(2, 2),
         stride=2, seed=100),
    case("pool_ties", "Kernel 3, stride 1 on integers -2..2: many ties (the "
         "first maximum in row order wins), overlapping windows add dy.",
         x=_pool_x((1, 2, 7, 8), 101), op="maxpool2d", kernel=(3, 3),
         stride=1, seed=101),
    case("pool_nan", "NaN and -inf in the input: a window holding NaN gives "
         "NaN and routes dy to its last NaN (PyTorch's CPU rule).",
         x=_pool_x((2, 2, 6, 7), 102, nan=0.12, neginf=0.1), op="maxpool2d",
         kernel=(2, 3), stride=1, seed=102),
    case("pool_ceil_mode", "ceil_mode with padding 1: kernel 3, stride 2, "
         "7x9 input gives 4x5 (the last window starts inside the input).",
         x=(1, 3, 7, 9), op="maxpool2d", kernel=(3, 3), stride=2,
         padding=(1, 1), ceil_mode=1, seed=103),
    case("pool_ceil_drop_last", "ceil_mode where the last window would start "
         "in the right padding and is dropped: W=4, kernel 2, stride 3, "
         "pad 1.", x=(1, 2, 5, 4), op="maxpool2d", kernel=(2, 2),
         stride=3, padding=(1, 1), ceil_mode=1, seed=104),
    case("pool_padding", "Padding (1,2) with kernel (3,4), stride (2,3): "
         "padded positions never win.", x=(2, 2, 8, 9), op="maxpool2d",
         kernel=(3, 4), stride=(2, 3), padding=(1, 2), seed=105),
    case("pool_dilation", "Dilation (2,3), kernel 3, stride 1, padding 1.",
         x=(1, 2, 9, 10), op="maxpool2d", kernel=(3, 3), stride=1,
         padding=(1, 1), dilation=(2, 3), seed=106),
    case("pool_all_neg_inf", "All -inf with padding 1 and ceil_mode: every "
         "window gives -inf and chooses its first in-input element.",
         x=np.full((1, 1, 5, 5), -np.inf, np.float32), op="maxpool2d",
         kernel=(3, 3), stride=2, padding=(1, 1), ceil_mode=1, seed=107),
    case("pool_negative_pad_wins_not", "All inputs negative with padding: "
         "the padding (never a candidate) must not give 0.",
         x=_pool_x((1, 2, 6, 6), 108, lo=-9, hi=-1), op="maxpool2d",
         kernel=(2, 2), stride=2, padding=(1, 1), seed=108),
    case("pool_batch_empty", "N=0: empty batch, empty y, dy and dx.",
         x=(0, 3, 6, 6), op="maxpool2d", kernel=(2, 2), stride=2, seed=109),
]


# ------------------------------------------- transposed convolution

CASES += [
    case("tconv_basic", "ConvTranspose2d 2->3 channels, kernel 3, stride 1, "
         "no padding, bias: 4x4 -> 6x6.", x=(1, 2, 4, 4), w=(2, 3, 3, 3),
         op="conv_transpose2d", seed=200),
    case("tconv_stride2_pad1", "Stride 2, padding 1, batch 2, bias: "
         "5x4 -> 9x7.", x=(2, 3, 5, 4), w=(3, 2, 3, 3), stride=2, padding=1,
         op="conv_transpose2d", seed=201),
    case("tconv_outpad_limit", "output_padding at its limit (stride-1 on "
         "each axis): stride (3,2), padding (1,0), output_padding (2,1).",
         x=(1, 2, 4, 5), w=(2, 2, 3, 2), stride=(3, 2), padding=(1, 0),
         output_padding=(2, 1), op="conv_transpose2d", seed=202),
    case("tconv_groups_dil", "groups 2 with dilation (2,3), stride 2, "
         "padding 1, output_padding 1: 4 -> 6 channels.", x=(1, 4, 4, 4),
         w=(4, 3, 3, 3), groups=2, dilation=(2, 3), stride=2, padding=1,
         output_padding=1, op="conv_transpose2d", seed=203),
    case("tconv_depthwise_up", "Depthwise (groups = channels = 3) kernel 4, "
         "stride 2, padding 1: the 2x upsampling of DCGAN-style decoders.",
         x=(2, 3, 5, 5), w=(3, 1, 4, 4), groups=3, stride=2, padding=1,
         op="conv_transpose2d", seed=204),
    case("tconv_pad4_asym", "Four-sided padding (1,0,2,1) (ONNX pads; "
         "PyTorch reference by cropping the unpadded output), stride 2.",
         x=(1, 2, 4, 4), w=(2, 3, 3, 3), stride=2, padding=(1, 0, 2, 1),
         op="conv_transpose2d", seed=205),
    case("tconv_outpad_dilation", "output_padding 1 with stride 1 and "
         "dilation 2 (allowed because it is below the dilation), padding 1.",
         x=(1, 2, 5, 5), w=(2, 2, 3, 3), dilation=2, padding=1,
         output_padding=1, bias=False, op="conv_transpose2d", seed=206),
    case("tconv_1x1_stride2", "1x1 kernel, stride 2, output_padding 1: "
         "zeros between the inputs.", x=(1, 3, 3, 3), w=(3, 4, 1, 1),
         stride=2, output_padding=1, op="conv_transpose2d", seed=207),
    case("tconv_batch_empty", "N=0: empty x, y, dy, dx; zero dw and db.",
         x=(0, 2, 3, 3), w=(2, 2, 3, 3), stride=2, op="conv_transpose2d",
         seed=208),
    case("tconv_relu", "Transposed convolution with a fused relu (stride 2, "
         "padding 1, bias).", x=(1, 3, 4, 4), w=(3, 2, 3, 3), stride=2,
         padding=1, activation="relu", op="conv_transpose2d", seed=209),
    case("tconv_silu", "Transposed convolution with a fused silu, groups 2.",
         x=(2, 4, 3, 3), w=(4, 1, 2, 2), stride=2, groups=2,
         activation="silu", op="conv_transpose2d", seed=210),
    # output_padding >= stride (allowed below the dilation) with a smaller
    # end pad: the last output_padding - pad rows lie past every tap and
    # hold only the bias; their dy reaches no dx and no dw.
    case("tconv_past_tap_s1d2", "output_padding 1 with stride 1, dilation "
         "2 and no padding: the last row and column get only the bias.",
         x=(2, 2, 4, 5), w=(2, 3, 3, 2), dilation=2, output_padding=1,
         op="conv_transpose2d", seed=211),
    case("tconv_past_tap_s2d4", "stride (1,2), dilation (3,4), "
         "output_padding (2,3), groups 2: two rows and three columns past "
         "the last tap (the matching conv2d has 2 more rows, 1 more column).",
         x=(1, 4, 3, 4), w=(4, 2, 2, 3), stride=(1, 2), dilation=(3, 4),
         output_padding=(2, 3), groups=2, op="conv_transpose2d", seed=212),
    case("tconv_past_tap_pad4", "Four-sided padding (1,0,2,1), stride 1, "
         "dilation 3, output_padding 2: two rows past the last tap at the "
         "bottom, one column at the right.", x=(1, 3, 5, 4), w=(3, 2, 3, 3),
         stride=1, dilation=3, padding=(1, 0, 2, 1), output_padding=2,
         op="conv_transpose2d", seed=213),
    case("tconv_past_tap_leaky", "Rows past the last tap with a fused "
         "leaky_relu: they hold leaky_relu(bias) (stride 1, dilation 2, "
         "output_padding 1, padding (0,1)).", x=(1, 2, 4, 4),
         w=(2, 4, 3, 3), dilation=2, padding=(0, 1), output_padding=1,
         activation="leaky_relu:0.2", x_scale=3.0,
         op="conv_transpose2d", seed=214),
    # The configurations of PyTorch's own ConvTranspose2d module tests
    # (common_nn): stride (3,2) with output_padding (1,1); dilation 2 with
    # stride (2,3), no bias; a (2,3) kernel with groups 2; and one with
    # everything at once (padding (2,1), dilation (2,3), groups 3).
    case("tconv_torch_stride3x2", "PyTorch's ConvTranspose2d(3, 4, 3, "
         "(3, 2), 1, (1, 1)) on (1, 3, 7, 6).", x=(1, 3, 7, 6),
         w=(3, 4, 3, 3), stride=(3, 2), padding=1, output_padding=1,
         op="conv_transpose2d", seed=215),
    case("tconv_torch_dilated", "PyTorch's ConvTranspose2d(3, 4, 3, (2, 3), "
         "1, (1, 1), 1, False, (2, 2)) on (1, 3, 6, 7).", x=(1, 3, 6, 7),
         w=(3, 4, 3, 3), stride=(2, 3), padding=1, output_padding=1,
         dilation=2, bias=False, op="conv_transpose2d", seed=216),
    case("tconv_torch_groups", "PyTorch's ConvTranspose2d(2, 4, (2, 3), "
         "groups=2) on (1, 2, 4, 5).", x=(1, 2, 4, 5), w=(2, 2, 2, 3),
         groups=2, op="conv_transpose2d", seed=217),
    case("tconv_everything", "Batch 2, groups 3, kernel (3,2), stride (2,1), "
         "padding (2,1), dilation (2,3), output_padding (1,2) (the column "
         "one below the dilation, past the last tap), bias.",
         x=(2, 6, 5, 4), w=(6, 1, 3, 2), groups=3, stride=(2, 1),
         padding=(2, 1), dilation=(2, 3), output_padding=(1, 2),
         op="conv_transpose2d", seed=218),
]

# ------------------------------------------------- fused activation

for _i, _act in enumerate(("relu", "relu6", "leaky_relu:0.1", "sigmoid",
                           "tanh", "silu")):
    CASES.append(case(
        "act_" + _act.replace(":", "_").replace(".", "p"),
        "conv2d 3x3, padding 1, bias, with a fused %s (x scaled by 3 so "
        "relu6 clamps at both ends)." % _act,
        x=(2, 3, 5, 6), w=(4, 3, 3, 3), padding=1, activation=_act,
        x_scale=3.0, seed=220 + _i))
CASES.append(case("act_relu_depthwise_stride2", "Depthwise 3x3 stride 2 "
                  "with a fused relu6 (MobileNet's block).",
                  x=(1, 4, 7, 7), w=(4, 1, 3, 3), groups=4, stride=2,
                  padding=1, activation="relu6", x_scale=4.0, seed=230))

# --------------------------------------------------- average pooling

CASES += [
    case("avg_k2s2", "AvgPool2d(2, stride 2) on 8x8.", x=(2, 3, 8, 8),
         op="avgpool2d", kernel=(2, 2), stride=2, seed=300),
    case("avg_pad_include", "Kernel 3, stride 2, padding 1, "
         "count_include_pad=True (the padding counts in the divisor).",
         x=(1, 2, 7, 6), op="avgpool2d", kernel=(3, 3), stride=2, padding=1,
         seed=301),
    case("avg_pad_exclude", "Kernel 3, stride 2, padding 1, "
         "count_include_pad=False.", x=(1, 2, 7, 6), op="avgpool2d",
         kernel=(3, 3), stride=2, padding=1, count_include_pad=0, seed=302),
    case("avg_ceil_overhang_include", "ceil_mode with count_include_pad: "
         "the last window hangs past the padded input, whose part outside "
         "does not count (4x6, kernel 3, stride 2, padding 1).",
         x=(1, 2, 4, 6), op="avgpool2d", kernel=(3, 3), stride=2, padding=1,
         ceil_mode=1, seed=303),
    case("avg_ceil_overhang_exclude", "The same ceil_mode overhang with "
         "count_include_pad=False.", x=(1, 2, 4, 6), op="avgpool2d",
         kernel=(3, 3), stride=2, padding=1, ceil_mode=1,
         count_include_pad=0, seed=304),
    case("avg_ceil_start_in_pad", "ceil_mode windows that start in the "
         "padding: 5x5, kernel 2, stride 2, padding 1 (the window that "
         "would start in the bottom padding is dropped).", x=(1, 1, 5, 5),
         op="avgpool2d", kernel=(2, 2), stride=2, padding=1, ceil_mode=1,
         seed=305),
    case("avg_ceil_no_pad", "ceil_mode without padding: 7x7, kernel 3, "
         "stride 2 (the last window is clipped to the input).",
         x=(1, 2, 7, 7), op="avgpool2d", kernel=(3, 3), stride=2,
         ceil_mode=1, seed=306),
    case("avg_divisor_override", "divisor_override=3 with padding 1.",
         x=(1, 2, 6, 6), op="avgpool2d", kernel=(3, 3), stride=2, padding=1,
         divisor_override=3, seed=307),
    case("avg_rect", "Kernel (3,2), stride (1,2), padding (1,0).",
         x=(2, 2, 5, 6), op="avgpool2d", kernel=(3, 2), stride=(1, 2),
         padding=(1, 0), seed=308),
    case("avg_pad4_include", "Four-sided padding (0,1,0,1) as ONNX "
         "auto_pad=SAME_UPPER gives for kernel 2, stride 2 on 5x5; padded "
         "positions count.", x=(1, 2, 5, 5), op="avgpool2d", kernel=(2, 2),
         stride=2, padding=(0, 1, 0, 1), seed=309),
    case("avg_pad4_exclude", "Four-sided padding (1,0,1,1), kernel 3, "
         "stride 2, count_include_pad=False.", x=(1, 2, 6, 7),
         op="avgpool2d", kernel=(3, 3), stride=2, padding=(1, 0, 1, 1),
         count_include_pad=0, seed=310),
    case("avg_batch_empty", "N=0.", x=(0, 2, 4, 4), op="avgpool2d",
         kernel=(2, 2), stride=2, seed=311),
    case("adapt_global", "AdaptiveAvgPool2d(1): global average pooling.",
         x=(2, 3, 7, 5), op="adaptive_avgpool2d", output_size=(1, 1),
         seed=320),
    case("adapt_uneven", "AdaptiveAvgPool2d((3,2)) on 7x5: windows of "
         "different sizes that overlap.", x=(1, 2, 7, 5),
         op="adaptive_avgpool2d", output_size=(3, 2), seed=321),
    case("adapt_upsample", "AdaptiveAvgPool2d((5,4)) on 3x3: more outputs "
         "than inputs (windows of one element, repeated).", x=(1, 2, 3, 3),
         op="adaptive_avgpool2d", output_size=(5, 4), seed=322),
    case("adapt_identity", "AdaptiveAvgPool2d to the input size: the "
         "identity.", x=(1, 2, 4, 3), op="adaptive_avgpool2d",
         output_size=(4, 3), seed=323),
    case("adapt_batch_empty", "N=0.", x=(0, 2, 4, 4),
         op="adaptive_avgpool2d", output_size=(2, 2), seed=324),
    case("pool_pad4_same_upper", "MaxPool2d with four-sided padding "
         "(0,1,0,1): ONNX auto_pad=SAME_UPPER for kernel 3, stride 2 on "
         "6x6 (reference: -inf padding, then no padding).",
         x=(1, 2, 6, 6), op="maxpool2d", kernel=(3, 3), stride=2,
         padding=(0, 1, 0, 1), seed=330),
    case("pool_pad4_asym_dil", "MaxPool2d with four-sided padding "
         "(1,0,0,1), dilation 2, kernel 3, stride 1.", x=(1, 2, 7, 6),
         op="maxpool2d", kernel=(3, 3), stride=1, dilation=2,
         padding=(1, 0, 0, 1), seed=331),
]


# ----------------------------------------------------------- reference

def resolve_pads(spec, k, dil):
    """(t, b, l, r) for a padding spec; as torch.nn.Conv2d does for 'same'."""
    p = spec["padding"]
    if p == "valid":
        return (0, 0, 0, 0)
    if p == "full":
        return (dil[0] * (k[0] - 1),) * 2 + (dil[1] * (k[1] - 1),) * 2
    if p == "same":
        out = []
        for kk, dd in zip(k, dil):
            total = dd * (kk - 1)
            # True convolution centres like SciPy: the odd one top/left.
            first = total - total // 2 if spec.get("flip_kernel") \
                else total // 2
            out += [first, total - first]
        return tuple(out)
    if isinstance(p, int):
        return (p, p, p, p)
    if len(p) == 2:
        return (p[0], p[0], p[1], p[1])
    return tuple(p)


def conv2d_reference(spec, x, w, b, dy):
    """y, dx, dw, db in float64 by PyTorch autograd.

    Zero padding with a symmetric pad goes straight to F.conv2d (its own
    padding argument, 'same' included); any other mode, and any four-sided
    pad, goes through F.pad(mode) then F.conv2d(padding=0), which is what
    torch.nn.Conv2d does for non-zero padding modes.
    """
    xt = torch.from_numpy(x.astype(np.float64)).requires_grad_(True)
    wt = torch.from_numpy(w.astype(np.float64)).requires_grad_(True)
    bt = None
    if b is not None:
        bt = torch.from_numpy(b.astype(np.float64)).requires_grad_(True)
    stride = pair(spec["stride"])
    dil = pair(spec["dilation"])
    k = w.shape[2:]
    mode = spec["padding_mode"]
    p = spec["padding"]
    four_sided = isinstance(p, (tuple, list)) and len(p) == 4
    if mode == "zeros" and not four_sided:
        arg = p if isinstance(p, (int, str)) else tuple(p)
        yt = F.conv2d(xt, wt, bt, stride=stride, padding=arg, dilation=dil,
                      groups=spec["groups"])
    else:
        t, bo, l, r = resolve_pads(spec, k, dil)
        torch_mode = "constant" if mode == "zeros" else mode
        xp = F.pad(xt, (l, r, t, bo), mode=torch_mode)
        yt = F.conv2d(xp, wt, bt, stride=stride, padding=0, dilation=dil,
                      groups=spec["groups"])
    dyt = torch.from_numpy(dy.astype(np.float64))
    assert tuple(dyt.shape) == tuple(yt.shape), (spec["name"], dyt.shape,
                                                 yt.shape)
    yt.backward(dyt)
    out = {"y": yt.detach().numpy(), "dx": xt.grad.numpy(),
           "dw": wt.grad.numpy()}
    if bt is not None:
        out["db"] = bt.grad.numpy()
    # An empty batch gives no gradient to the weight at all in some torch
    # versions; the mathematical value is zero.
    for key, ref in (("dx", x), ("dw", w), ("db", b)):
        if key in out and out[key] is None:
            out[key] = np.zeros_like(ref, dtype=np.float64)
    return out


def pad_index(size, before, after, mode):
    """Source index of each padded position along one axis (-1: a zero),
    by numpy.pad, independently of libconv's conv_pad_source()."""
    idx = np.arange(size)
    if mode == "zeros":
        return np.pad(idx, (before, after), mode="constant",
                      constant_values=-1)
    return np.pad(idx, (before, after),
                  mode={"circular": "wrap", "symmetric": "symmetric"}[mode])


def true_conv_reference(spec, x, w, b, dy):
    """flip_kernel=1: y from scipy.signal.convolve2d in float64 (each output
    channel sums its input channels); dx, dw, db by PyTorch autograd of the
    same thing (pad by index gather, conv2d with the flipped kernel); the two
    y must agree to 1e-12."""
    assert spec["groups"] == 1 and pair(spec["stride"]) == (1, 1) and \
        pair(spec["dilation"]) == (1, 1), spec["name"]
    mode = spec["padding_mode"]
    n, c, h, wd = x.shape
    t, bo, l, r = resolve_pads(spec, w.shape[2:], (1, 1))
    ih = pad_index(h, t, bo, mode)
    iw = pad_index(wd, l, r, mode)
    xt = torch.from_numpy(x.astype(np.float64)).requires_grad_(True)
    wt = torch.from_numpy(w.astype(np.float64)).requires_grad_(True)
    bt = None
    if b is not None:
        bt = torch.from_numpy(b.astype(np.float64)).requires_grad_(True)
    # Index -1 reads the appended zero row / column.
    xz = torch.cat([xt, torch.zeros(n, c, 1, wd, dtype=torch.float64)], 2)
    xz = torch.cat([xz, torch.zeros(n, c, h + 1, 1, dtype=torch.float64)], 3)
    xp = xz[:, :, torch.from_numpy(ih)][:, :, :, torch.from_numpy(iw)]
    yt = F.conv2d(xp, torch.flip(wt, (2, 3)), bt)
    ys = np.zeros(tuple(yt.shape))
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    for i in range(n):
        for o in range(w.shape[0]):
            for ci in range(c):
                ys[i, o] += scipy.signal.convolve2d(
                    x64[i, ci], w64[o, ci], mode=spec["padding"],
                    boundary=SCIPY_BOUNDARY[mode])
            if b is not None:
                ys[i, o] += float(b[o])
    if not np.allclose(ys, yt.detach().numpy(), rtol=1e-12, atol=1e-12):
        sys.exit("gen_golden: %s: scipy and torch disagree" % spec["name"])
    dyt = torch.from_numpy(dy.astype(np.float64))
    yt.backward(dyt)
    out = {"y": ys, "dx": xt.grad.numpy(), "dw": wt.grad.numpy()}
    if bt is not None:
        out["db"] = bt.grad.numpy()
    return out


def activate(name, y):
    """The fused activation in float64, by torch.nn.functional."""
    t = torch.from_numpy(np.asarray(y, dtype=np.float64))
    if name.startswith("leaky_relu:"):
        return F.leaky_relu(t, float(name.split(":")[1])).numpy()
    return {"relu": F.relu, "relu6": F.relu6, "sigmoid": torch.sigmoid,
            "tanh": torch.tanh, "silu": F.silu}[name](t).numpy()


def with_activation(ref, spec):
    if spec["activation"]:
        ref["y"] = activate(spec["activation"], ref["y"])
    return ref


def conv2d_any(spec, x, w, b, dy):
    if spec["flip_kernel"]:
        return with_activation(true_conv_reference(spec, x, w, b, dy), spec)
    return with_activation(conv2d_reference(spec, x, w, b, dy), spec)


def conv_transpose_reference(spec, x, w, b, dy):
    """y, dx, dw, db by F.conv_transpose2d + autograd in float64. A
    four-sided padding runs padding 0 and crops (t, b, l, r) off the
    output, which is what a padding does to a transposed convolution."""
    xt = torch.from_numpy(x.astype(np.float64)).requires_grad_(True)
    wt = torch.from_numpy(w.astype(np.float64)).requires_grad_(True)
    bt = None
    if b is not None:
        bt = torch.from_numpy(b.astype(np.float64)).requires_grad_(True)
    p = spec["padding"]
    args = dict(stride=pair(spec["stride"]),
                output_padding=pair(spec["output_padding"]),
                groups=spec["groups"], dilation=pair(spec["dilation"]))
    if isinstance(p, (tuple, list)) and len(p) == 4:
        t, bo, l, r = p
        yt = F.conv_transpose2d(xt, wt, bt, padding=0, **args)
        yt = yt[:, :, t:yt.shape[2] - bo, l:yt.shape[3] - r]
    else:
        yt = F.conv_transpose2d(xt, wt, bt, padding=pair(p), **args)
    dyt = torch.from_numpy(dy.astype(np.float64))
    assert tuple(dyt.shape) == tuple(yt.shape), (spec["name"], dyt.shape,
                                                 yt.shape)
    yt.backward(dyt)
    out = {"y": yt.detach().numpy()}
    for key, t_, ref in (("dx", xt, x), ("dw", wt, w), ("db", bt, b)):
        if t_ is not None:
            out[key] = t_.grad.numpy() if t_.grad is not None \
                else np.zeros_like(ref, dtype=np.float64)
    return with_activation(out, spec)


def conv_transpose_shape(spec, x, w):
    n, _, h, wd = x.shape
    p = spec["padding"]
    pads = resolve_pads(spec, w.shape[2:], pair(spec["dilation"])) \
        if not isinstance(p, int) else (p,) * 4
    out = [n, w.shape[1] * spec["groups"]]
    for a, size in enumerate((h, wd)):
        s, d = pair(spec["stride"])[a], pair(spec["dilation"])[a]
        out.append((size - 1) * s - pads[2 * a] - pads[2 * a + 1] +
                   d * (w.shape[2 + a] - 1) + pair(spec["output_padding"])[a]
                   + 1)
    return tuple(out)


def four_sided(spec):
    p = spec["padding"]
    return isinstance(p, (tuple, list)) and len(p) == 4


def pool_args(spec):
    return dict(kernel_size=tuple(spec["kernel"]), stride=pair(spec["stride"]),
                padding=pair(spec["padding"]),
                dilation=pair(spec["dilation"]),
                ceil_mode=bool(spec["ceil_mode"]))


def pool_shape_rule(spec, x):
    """libconv's output size (PyTorch's rule with pads on four sides)."""
    t, bo, l, r = resolve_pads(spec, spec["kernel"], pair(spec["dilation"]))
    out = list(x.shape[:2])
    for a, (size, p0, p1) in enumerate(((x.shape[2], t, bo),
                                        (x.shape[3], l, r))):
        k, s = pair(spec["kernel"])[a], pair(spec["stride"])[a]
        d = pair(spec["dilation"])[a]
        num = size + p0 + p1 - d * (k - 1) - 1
        o = (num + (s - 1 if spec["ceil_mode"] else 0)) // s + 1
        if spec["ceil_mode"] and (o - 1) * s >= size + p0:
            o -= 1
        out.append(o)
    return tuple(out)


def maxpool_pad4_reference(spec, x, dy):
    """Four-sided pads: F.pad with -inf, then F.max_pool2d without padding
    (finite inputs only, so a padded -inf never wins); the shape must be
    libconv's rule (cases are chosen where PyTorch's ceil rule on the padded
    input agrees)."""
    t, bo, l, r = spec["padding"]
    xt = torch.from_numpy(x.astype(np.float64)).requires_grad_(True)
    assert np.isfinite(x).all(), spec["name"]
    xp = F.pad(xt, (l, r, t, bo), value=-np.inf)
    args = pool_args(dict(spec, padding=0))
    yt = F.max_pool2d(xp, **args)
    if tuple(yt.shape) != pool_shape_rule(spec, x):
        sys.exit("gen_golden: %s: shape %s, the rule gives %s"
                 % (spec["name"], tuple(yt.shape), pool_shape_rule(spec, x)))
    yt.backward(torch.from_numpy(dy.astype(np.float64)))
    return {"y": yt.detach().numpy(), "dx": xt.grad.numpy()}


def maxpool_reference(spec, x, w, b, dy):
    """y and dx by F.max_pool2d + autograd in float64; y and the indices
    must equal the float32 run's (same comparisons either way)."""
    if four_sided(spec):
        return maxpool_pad4_reference(spec, x, dy)
    xt = torch.from_numpy(x.astype(np.float64)).requires_grad_(True)
    yt, it = F.max_pool2d(xt, return_indices=True, **pool_args(spec))
    y32, i32 = F.max_pool2d(torch.from_numpy(x), return_indices=True,
                            **pool_args(spec))
    if not (torch.equal(it, i32) and np.array_equal(
            yt.detach().numpy(), y32.numpy().astype(np.float64),
            equal_nan=True)):
        sys.exit("gen_golden: %s: float32 and float64 pooling differ"
                 % spec["name"])
    yt.backward(torch.from_numpy(dy.astype(np.float64)))
    dx = xt.grad.numpy() if xt.grad is not None else np.zeros(x.shape)
    return {"y": yt.detach().numpy(), "dx": dx}


def avgpool_reference(spec, x, w, b, dy):
    """y and dx by F.avg_pool2d + autograd in float64. Four-sided pads:
    sums of the zero-padded input over the windows (avg_pool2d with
    divisor 1) divided by the divisor the rule in conv.h gives, counted
    the same way over a mask (1 inside the input, and inside the padding
    too for count_include_pad), all differentiable."""
    xt = torch.from_numpy(x.astype(np.float64)).requires_grad_(True)
    if not four_sided(spec):
        yt = F.avg_pool2d(xt, tuple(spec["kernel"]), pair(spec["stride"]),
                          pair(spec["padding"]), bool(spec["ceil_mode"]),
                          bool(spec["count_include_pad"]),
                          spec["divisor_override"])
    else:
        assert not spec["ceil_mode"], spec["name"]
        t, bo, l, r = spec["padding"]
        k, s = tuple(spec["kernel"]), pair(spec["stride"])
        xp = F.pad(xt, (l, r, t, bo))
        sums = F.avg_pool2d(xp, k, s, 0, False, True, 1)
        if spec["divisor_override"]:
            yt = sums / spec["divisor_override"]
        else:
            mask = torch.ones((1, 1) + x.shape[2:], dtype=torch.float64)
            mask = F.pad(mask, (l, r, t, bo),
                         value=1.0 if spec["count_include_pad"] else 0.0)
            yt = sums / F.avg_pool2d(mask, k, s, 0, False, True, 1)
    if tuple(yt.shape) != pool_shape_rule(spec, x):
        sys.exit("gen_golden: %s: shape %s, the rule gives %s"
                 % (spec["name"], tuple(yt.shape), pool_shape_rule(spec, x)))
    yt.backward(torch.from_numpy(dy.astype(np.float64)))
    dx = xt.grad.numpy() if xt.grad is not None else np.zeros(x.shape)
    return {"y": yt.detach().numpy(), "dx": dx}


def adaptive_reference(spec, x, w, b, dy):
    xt = torch.from_numpy(x.astype(np.float64)).requires_grad_(True)
    yt = F.adaptive_avg_pool2d(xt, tuple(spec["output_size"]))
    yt.backward(torch.from_numpy(dy.astype(np.float64)))
    dx = xt.grad.numpy() if xt.grad is not None else np.zeros(x.shape)
    return {"y": yt.detach().numpy(), "dx": dx}


REFERENCES = {"conv2d": conv2d_any, "maxpool2d": maxpool_reference,
              "conv_transpose2d": conv_transpose_reference,
              "avgpool2d": avgpool_reference,
              "adaptive_avgpool2d": adaptive_reference}
POOL_OPS = ("maxpool2d", "avgpool2d", "adaptive_avgpool2d")


# ------------------------------------------------------------ writing

def f32(a):
    return np.ascontiguousarray(np.asarray(a, dtype="<f4"))


def make_array(v, rng, scale=1.0):
    if isinstance(v, tuple):
        return f32(rng.standard_normal(v) * scale)
    return f32(v)


def fmt_param(v):
    if isinstance(v, (int, str)):
        return str(v)
    return ",".join(str(i) for i in v)


def params_text(spec):
    lines = ["# " + spec["desc"]]
    pad = spec["padding"]
    pad = pad if four_sided(spec) else pair(pad)
    if spec["op"] == "maxpool2d":
        lines += ["op=maxpool2d",
                  "kernel=" + fmt_param(pair(spec["kernel"])),
                  "stride=" + fmt_param(pair(spec["stride"])),
                  "padding=" + fmt_param(pad),
                  "dilation=" + fmt_param(pair(spec["dilation"])),
                  "ceil_mode=%d" % spec["ceil_mode"]]
        return "\n".join(lines) + "\n"
    if spec["op"] == "avgpool2d":
        lines += ["op=avgpool2d",
                  "kernel=" + fmt_param(pair(spec["kernel"])),
                  "stride=" + fmt_param(pair(spec["stride"])),
                  "padding=" + fmt_param(pad),
                  "ceil_mode=%d" % spec["ceil_mode"],
                  "count_include_pad=%d" % spec["count_include_pad"]]
        if spec["divisor_override"]:
            lines.append("divisor_override=%d" % spec["divisor_override"])
        return "\n".join(lines) + "\n"
    if spec["op"] == "adaptive_avgpool2d":
        lines += ["op=adaptive_avgpool2d",
                  "output_size=" + fmt_param(pair(spec["output_size"]))]
        return "\n".join(lines) + "\n"
    if spec["op"] == "conv_transpose2d":
        lines += ["op=conv_transpose2d",
                  "stride=" + fmt_param(pair(spec["stride"])),
                  "padding=" + fmt_param(pad),
                  "output_padding=" + fmt_param(pair(spec["output_padding"])),
                  "dilation=" + fmt_param(pair(spec["dilation"])),
                  "groups=%d" % spec["groups"]]
        if spec["activation"]:
            lines.append("activation=" + spec["activation"])
        return "\n".join(lines) + "\n"
    if spec["op"] != "conv2d":
        lines.append("op=" + spec["op"])
    lines += ["stride=" + fmt_param(pair(spec["stride"])),
              "padding=" + fmt_param(spec["padding"]),
              "dilation=" + fmt_param(pair(spec["dilation"])),
              "groups=%d" % spec["groups"],
              "padding_mode=" + spec["padding_mode"]]
    if spec["flip_kernel"]:
        lines.append("flip_kernel=1")
    if spec["activation"]:
        lines.append("activation=" + spec["activation"])
    return "\n".join(lines) + "\n"


def build(spec):
    rng = np.random.default_rng(spec["seed"])
    x = make_array(spec["x"], rng, spec["x_scale"])
    pool = spec["op"] in POOL_OPS
    w = None if pool else make_array(spec["w"], rng, 0.5)
    b = None
    c_out = None if pool else (w.shape[1] * spec["groups"]
                               if spec["op"] == "conv_transpose2d"
                               else w.shape[0])
    if pool:
        pass
    elif spec["bias"] is True:
        b = f32(rng.standard_normal(c_out))
    elif spec["bias"] is not False:
        b = f32(spec["bias"])
    # dy is drawn after x, w, b from the same generator.
    y_shape = forward_shape(spec, x, w)
    if isinstance(spec["dy"], str) and spec["dy"] == "ones":
        dy = f32(np.ones(y_shape))
    elif isinstance(spec["dy"], str):
        dy = f32(rng.standard_normal(y_shape))
    else:
        dy = f32(spec["dy"])
    ref = REFERENCES[spec["op"]](spec, x, w, b, dy)
    arrays = {"x": x, "dy": dy}
    if w is not None:
        arrays["w"] = w
    if b is not None:
        arrays["b"] = b
    for key, val in ref.items():
        arrays[key] = f32(val)
    for key, want in spec["expect"].items():
        got = ref[key]
        want = np.asarray(want, dtype=np.float64)
        if got.shape != want.shape or not np.array_equal(got, want):
            sys.exit("gen_golden: %s: %s is\n%s\nbut the seed example says\n%s"
                     % (spec["name"], key, got, want))
    return arrays


def forward_shape(spec, x, w):
    if spec["op"] == "maxpool2d" and not four_sided(spec):
        return tuple(F.max_pool2d(torch.from_numpy(x.astype(np.float64)),
                                  **pool_args(spec)).shape)
    if spec["op"] in ("maxpool2d", "avgpool2d"):
        return pool_shape_rule(spec, x)
    if spec["op"] == "adaptive_avgpool2d":
        return tuple(x.shape[:2]) + pair(spec["output_size"])
    if spec["op"] == "conv_transpose2d":
        return conv_transpose_shape(spec, x, w)
    n, _, h, wd = x.shape
    t, b, l, r = resolve_pads(spec, w.shape[2:], pair(spec["dilation"]))
    sh, sw = pair(spec["stride"])
    dh, dw = pair(spec["dilation"])
    kh, kw = w.shape[2:]
    ho = (h + t + b - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + l + r - dw * (kw - 1) - 1) // sw + 1
    return (n, w.shape[0], ho, wo)


ORDER = ("x", "w", "b", "y", "dy", "dx", "dw", "db")


def write_case(spec):
    arrays = build(spec)
    d = os.path.join(CASES_DIR, spec["name"])
    os.makedirs(d)
    files = ["params"]
    with open(os.path.join(d, "params"), "w", encoding="ascii") as fh:
        fh.write(params_text(spec))
    for key in ORDER:
        if key in arrays:
            a = arrays[key]
            assert a.dtype == np.dtype("<f4") and a.flags.c_contiguous
            np.save(os.path.join(d, key + ".npy"), a, allow_pickle=False)
            files.append(key + ".npy")
    return files


# ------------------------------------------------------- malformed

MALFORMED_DIR = os.path.join(HERE, "malformed")

# A small valid case that each malformed example breaks in one way.
MALFORMED_BASE = case("base", "Malformed example (see README.md).",
                      x=(1, 1, 4, 4), w=(2, 1, 3, 3), padding=1, seed=99)


def npy_bytes(a, descr="<f4", fortran="False", shape=None, magic=b"\x93NUMPY",
              version=b"\x01\x00", data=None):
    """An .npy file laid out as numpy writes version 1.0, with any field
    replaced (to build broken files byte by byte)."""
    if shape is None:
        shape = a.shape
    if isinstance(shape, str):
        shape_txt = shape
    elif len(shape) == 1:
        shape_txt = "(%d,)" % shape[0]
    else:
        shape_txt = "(" + ", ".join(str(int(s)) for s in shape) + ")"
    head = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
        descr, fortran, shape_txt)
    total = len(magic) + 2 + 2 + len(head) + 1
    head += " " * ((64 - total % 64) % 64) + "\n"
    if data is None:
        data = np.ascontiguousarray(a, dtype="<f4").tobytes()
    return magic + version + len(head).to_bytes(2, "little") + \
        head.encode("latin1") + data


BASE_PARAMS = "stride=1,1\npadding=1\ndilation=1,1\ngroups=1\n" \
              "padding_mode=zeros\n"


def malformed_examples(arrays):
    """name -> (description, expected error substring, {file: bytes|None}).
    Files not named are copied from the valid base; None deletes one."""
    x = arrays["x"]
    good_x = npy_bytes(x)
    return {
        "truncated_data": ("x.npy loses its last 6 bytes of data.",
                           "x.npy", {"x.npy": good_x[:-6]}),
        "trailing_data": ("x.npy has 4 bytes more than its shape needs.",
                          "x.npy", {"x.npy": good_x + b"\0\0\0\0"}),
        "truncated_header": ("x.npy stops inside its header.", "x.npy",
                             {"x.npy": good_x[:40]}),
        "bad_magic": ("x.npy does not start with \\x93NUMPY.", "x.npy",
                      {"x.npy": b"\x93NUMPX" + good_x[6:]}),
        "bad_version": ("x.npy claims format version 9.0.", "x.npy",
                        {"x.npy": npy_bytes(x, version=b"\x09\x00")}),
        "dtype_f8": ("x.npy is float64 ('<f8').", "<f8",
                     {"x.npy": npy_bytes(x, descr="<f8",
                                         data=x.astype("<f8").tobytes())}),
        "dtype_big_endian": ("x.npy is big-endian float32 ('>f4').", ">f4",
                             {"x.npy": npy_bytes(x, descr=">f4",
                                                 data=x.astype(">f4").tobytes())}),
        "fortran_order": ("x.npy says fortran_order True.", "fortran",
                          {"x.npy": npy_bytes(x, fortran="True")}),
        "shape_overflow": ("x.npy's shape (2**32, 2**32, 2**32, 1) "
                           "multiplies past 2**64.", "x.npy",
                           {"x.npy": npy_bytes(x, shape=(2**32, 2**32, 2**32,
                                                         1))}),
        "shape_huge_dim": ("x.npy has a dimension of 2**62.", "x.npy",
                           {"x.npy": npy_bytes(x, shape=(2**62, 1, 4, 4))}),
        "shape_negative": ("x.npy has a negative dimension.", "x.npy",
                           {"x.npy": npy_bytes(x, shape="(1, -1, 4, 4)")}),
        "shape_5d": ("x.npy has five dimensions.", "x.npy",
                     {"x.npy": npy_bytes(x, shape=(1, 1, 1, 4, 4))}),
        "header_garbage": ("x.npy's header is not a dict literal.", "x.npy",
                           {"x.npy": npy_bytes(x, shape="(1, 1, 4, 4")}),
        "wrong_y_shape": ("y.npy is (1, 2, 3, 3); padding 1 gives 4x4.",
                          "y.npy",
                          {"y.npy": npy_bytes(arrays["y"][:, :, :3, :3])}),
        "wrong_w_channels": ("w.npy has 2 input channels for a 1-channel x.",
                             "w.npy",
                             {"w.npy": npy_bytes(np.concatenate(
                                 [arrays["w"], arrays["w"]], axis=1))}),
        "wrong_bias_length": ("b.npy has 3 values for 2 output channels.",
                              "b.npy",
                              {"b.npy": npy_bytes(np.zeros(3, "<f4"))}),
        "db_without_bias": ("db.npy present but b.npy missing.", "db.npy",
                            {"b.npy": None}),
        "missing_x": ("x.npy is missing.", "x.npy", {"x.npy": None}),
        "missing_params": ("The params file is missing.", "params",
                           {"params": None}),
        "unknown_key": ("params has the unknown key 'strides'.", "strides",
                        {"params": BASE_PARAMS.replace("stride=", "strides=")
                         .encode()}),
        "duplicate_key": ("params sets groups twice.", "groups",
                          {"params": (BASE_PARAMS + "groups=1\n").encode()}),
        "bad_number": ("params has stride=2x.", "stride",
                       {"params": BASE_PARAMS.replace("stride=1,1",
                                                      "stride=2x").encode()}),
        "zero_stride": ("params has stride=0.", "stride",
                        {"params": BASE_PARAMS.replace("stride=1,1",
                                                       "stride=0").encode()}),
        "huge_number": ("params has dilation=99999999999999999999.",
                        "dilation",
                        {"params": BASE_PARAMS.replace(
                            "dilation=1,1",
                            "dilation=99999999999999999999").encode()}),
        "bad_padding_mode": ("params has padding_mode=mirror.",
                             "padding_mode",
                             {"params": BASE_PARAMS.replace(
                                 "zeros", "mirror").encode()}),
        "no_equals": ("params has a line without '='.", "params",
                      {"params": (BASE_PARAMS + "groups\n").encode()}),
        "groups_mismatch": ("groups=2 does not divide C_in=1.", "groups",
                            {"params": BASE_PARAMS.replace(
                                "groups=1", "groups=2").encode()}),
        "same_with_stride": ("padding=same with stride 2.", "same",
                             {"params": BASE_PARAMS.replace(
                                 "padding=1", "padding=same").replace(
                                 "stride=1,1", "stride=2").encode()}),
        "reflect_pad_too_big": ("reflect with pad 4 on a 4x4 input "
                                "(needs pad < size).", "reflect",
                                {"params": BASE_PARAMS.replace(
                                    "padding=1", "padding=4").replace(
                                    "zeros", "reflect").encode()}),
        "bad_activation": ("params has activation=gelu (not one of the "
                           "fused activations).", "activation",
                           {"params": (BASE_PARAMS + "activation=gelu\n")
                            .encode()}),
        "outpad_on_conv2d": ("params gives output_padding to a conv2d "
                             "case (only conv_transpose2d has it).",
                             "output_padding",
                             {"params": (BASE_PARAMS + "output_padding=1\n")
                              .encode()}),
        "avgpool_with_w": ("an avgpool2d case with w.npy (pooling has no "
                           "weight).", "w, b, dw or db",
                           {"params": b"op=avgpool2d\nkernel=2\nstride=2\n"}),
        "tconv_outpad_too_big": ("a conv_transpose2d case with "
                                 "output_padding 2, stride 2, dilation 1 "
                                 "(must be below one of them).",
                                 "output_padding=2",
                                 {"params": b"op=conv_transpose2d\nstride=2"
                                  b"\npadding=1\noutput_padding=2\n",
                                  "w.npy": npy_bytes(
                                      arrays["w"].transpose(1, 0, 2, 3))}),
        "tconv_conv2d_weight": ("a conv_transpose2d case whose w.npy is in "
                                "conv2d's (C_out, C_in, kH, kW) layout.",
                                "first dimension 2",
                                {"params": b"op=conv_transpose2d\n"
                                 b"padding=1\n"}),
        "tconv_padding_same": ("a conv_transpose2d case with padding=same "
                               "(PyTorch has no such padding for it).",
                               "padding=P|PH,PW|T,B,L,R only",
                               {"params": b"op=conv_transpose2d\n"
                                b"padding=same\n",
                                "w.npy": npy_bytes(
                                    arrays["w"].transpose(1, 0, 2, 3))}),
        "maxpool_count_include_pad": ("count_include_pad on a maxpool2d "
                                      "case (an avgpool2d key).",
                                      "count_include_pad is not a key",
                                      {"params": b"op=maxpool2d\nkernel=2\n"
                                       b"count_include_pad=0\n"}),
    }


def write_malformed():
    """tests/golden/malformed/<name>/: broken variants of one valid case,
    each with an `expected_error` file holding a substring the reader's
    message must contain. Returns the file list for files.am."""
    base = MALFORMED_BASE
    arrays = build(base)
    valid = {"params": params_text(base).encode("ascii")}
    for key in ORDER:
        if key in arrays:
            valid[key + ".npy"] = npy_bytes(arrays[key])
    if os.path.isdir(MALFORMED_DIR):
        shutil.rmtree(MALFORMED_DIR)
    listed = []
    for name, (desc, expect, changes) in sorted(
            malformed_examples(arrays).items()):
        d = os.path.join(MALFORMED_DIR, name)
        os.makedirs(d)
        files = dict(valid)
        files["params"] = ("# Malformed: %s\n" % desc).encode("ascii") + \
            valid["params"].split(b"\n", 1)[1]
        for fname, content in changes.items():
            if content is None:
                files.pop(fname, None)
            elif fname == "params":
                files[fname] = ("# Malformed: %s\n" % desc).encode("ascii") \
                    + content
            else:
                files[fname] = content
        if name == "db_without_bias":
            files.pop("b.npy", None)
        files["expected_error"] = (expect + "\n").encode("ascii")
        for fname in sorted(files):
            with open(os.path.join(d, fname), "wb") as fh:
                fh.write(files[fname])
            listed.append("malformed/%s/%s" % (name, fname))
    return listed


def am_list(var, paths):
    out = ["%s = \\" % var]
    out += ["\t%s%s" % (p, " \\" if i + 1 < len(paths) else "")
            for i, p in enumerate(paths)]
    return out


def write_files_am(listing, malformed):
    paths = []
    for name, files in listing:
        paths += ["cases/%s/%s" % (name, f) for f in files]
    out = ["# SPDX-License-Identifier: Apache-2.0",
           "# Generated by gen_golden.py: do not edit.",
           "# Installed golden cases."]
    out += am_list("nobase_dist_golden_DATA", paths)
    out += ["", "# Malformed examples for the reader's tests (dist only)."]
    out += am_list("golden_malformed_files", malformed)
    with open(FILES_AM, "w", encoding="ascii") as fh:
        fh.write("\n".join(out) + "\n")


def main():
    names = [c["name"] for c in CASES]
    if len(set(names)) != len(names):
        sys.exit("gen_golden: duplicate case names")
    torch.set_num_threads(1)  # fixed reduction order
    # PyTorch warns that even kernels with 'same' copy the input: harmless.
    warnings.filterwarnings("ignore", message=".*padding='same'.*")
    if os.path.isdir(CASES_DIR):
        shutil.rmtree(CASES_DIR)
    os.makedirs(CASES_DIR)
    listing = []
    for spec in sorted(CASES, key=lambda c: c["name"]):
        listing.append((spec["name"], write_case(spec)))
    malformed = write_malformed()
    write_files_am(listing, malformed)
    print("gen_golden: wrote %d cases to %s and %d malformed examples"
          % (len(listing), CASES_DIR,
             len({p.split("/")[1] for p in malformed})))


if __name__ == "__main__":
    main()
