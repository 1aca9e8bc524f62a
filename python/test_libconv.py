#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""make check (and installcheck) for the Python binding: every golden case
(PyTorch's answers, $CONV_GOLDEN_DIR or the argument) through conv2d, its
three gradients, max, average and adaptive average pooling, on the backend $CONV_BACKEND picks; then the
errors. Same criterion as `convinfo validate`: max |got - ref| / max |ref|
<= 1e-4, NaN and infinities where the reference has them."""
import os
import sys

try:
    import numpy as np
except ImportError:
    print("test_libconv: NumPy is missing (python3-numpy): skipped")
    sys.exit(77)

import libconv  # noqa: E402 (after the NumPy check)

TOL = 1e-4


def rel_error(got, ref):
    if got.shape != ref.shape:
        return float("inf")
    if got.size == 0:
        return 0.0
    if not np.array_equal(np.isnan(got), np.isnan(ref)):
        return float("inf")
    fin = np.isfinite(ref)
    if not np.array_equal(got[~fin & ~np.isnan(ref)],
                          ref[~fin & ~np.isnan(ref)]):
        return float("inf")
    g, r = got[fin].astype(np.float64), ref[fin].astype(np.float64)
    if not np.all(np.isfinite(g)):
        return float("inf")
    if g.size == 0:
        return 0.0
    return float(np.max(np.abs(g - r)) / max(np.max(np.abs(r)), 1e-6))


def ints(text):
    return [int(v) for v in text.split(",")]


def read_params(path):
    params = {}
    with open(path) as fh:
        for line in fh:
            line = line.split("#", 1)[0].strip()
            if line:
                key, value = line.split("=", 1)
                params[key.strip()] = value.strip()
    return params


def pair(text):
    v = ints(text)
    return v * 2 if len(v) == 1 else v


def conv_options(p):
    pad = p.get("padding", "0")
    if pad not in ("same", "valid", "full"):
        pad = ints(pad)
        pad = pad[0] if len(pad) == 1 else pad
    return dict(stride=pair(p.get("stride", "1")), padding=pad,
                dilation=pair(p.get("dilation", "1")),
                groups=int(p.get("groups", "1")),
                padding_mode=p.get("padding_mode", "zeros"),
                flip_kernel=p.get("flip_kernel", "0") == "1")


def run_case(case_dir):
    p = read_params(os.path.join(case_dir, "params"))
    a = {}
    for name in ("x", "w", "b", "y", "dy", "dx", "dw", "db"):
        path = os.path.join(case_dir, name + ".npy")
        if os.path.exists(path):
            a[name] = np.load(path)
    errors = {}
    op = p.get("op", "conv2d")
    if (op not in ("conv2d", "maxpool2d", "avgpool2d", "adaptive_avgpool2d")
            or "activation" in p):
        return None  # an op or fused activation the binding does not wrap
    if op == "adaptive_avgpool2d":
        size = pair(p["output_size"])
        errors["y"] = rel_error(libconv.adaptive_avg_pool2d(a["x"], size),
                                a["y"])
        errors["dx"] = rel_error(libconv.adaptive_avg_pool2d_backward(
            a["x"].shape, a["dy"], size), a["dx"])
        return errors
    if op == "avgpool2d":
        pad = ints(p["padding"])
        o = dict(kernel_size=pair(p["kernel"]), stride=pair(p["stride"]),
                 padding=pad * 2 if len(pad) == 1 else pad,
                 ceil_mode=p.get("ceil_mode", "0") == "1",
                 count_include_pad=p.get("count_include_pad", "1") == "1",
                 divisor_override=int(p["divisor_override"])
                 if "divisor_override" in p else None)
        errors["y"] = rel_error(libconv.avg_pool2d(a["x"], **o), a["y"])
        errors["dx"] = rel_error(
            libconv.avg_pool2d_backward(a["x"].shape, a["dy"], **o), a["dx"])
        return errors
    if op == "maxpool2d":
        o = dict(kernel_size=pair(p["kernel"]), stride=pair(p["stride"]),
                 padding=pair(p["padding"]), dilation=pair(p["dilation"]),
                 ceil_mode=p["ceil_mode"] == "1")
        errors["y"] = rel_error(libconv.max_pool2d(a["x"], **o), a["y"])
        errors["dx"] = rel_error(
            libconv.max_pool2d_backward(a["x"], a["dy"], **o), a["dx"])
        return errors
    o = conv_options(p)
    b = a.get("b")
    errors["y"] = rel_error(libconv.conv2d(a["x"], a["w"], b, **o), a["y"])
    errors["dx"] = rel_error(
        libconv.conv2d_input(a["x"].shape, a["w"], a["dy"], **o), a["dx"])
    errors["dw"] = rel_error(
        libconv.conv2d_weight(a["x"], a["w"].shape, a["dy"], **o), a["dw"])
    if b is not None:
        errors["db"] = rel_error(
            libconv.conv2d_bias(a["x"].shape, a["w"].shape, a["dy"], **o),
            a["db"])
    return errors


def expect(exc_type, needle, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc_type as err:
        if needle not in str(err):
            raise AssertionError("%s: message %r lacks %r" %
                                 (exc_type.__name__, str(err), needle))
        return
    raise AssertionError("expected %s (%s)" % (exc_type.__name__, needle))


def check_errors():
    x = np.zeros((1, 4, 8, 8), np.float32)
    w = np.zeros((6, 2, 3, 3), np.float32)
    expect(libconv.InvalidArgument, "groups=3", libconv.conv2d, x,
           np.zeros((6, 1, 3, 3), np.float32), groups=3)
    expect(ValueError, "groups=3", libconv.conv2d, x,
           np.zeros((6, 1, 3, 3), np.float32), groups=3)
    expect(libconv.InvalidArgument, "padding_mode='mirror'", libconv.conv2d,
           x, w, groups=2, padding_mode="mirror")
    expect(libconv.InvalidArgument, "stride", libconv.conv2d, x, w,
           groups=2, stride=0)
    expect(libconv.InvalidArgument, "grad_output has shape",
           libconv.conv2d_input, x.shape, w, np.zeros((1, 6, 5, 5)),
           groups=2)
    expect(libconv.BackendNotFound, "no-such", libconv.conv2d, x, w,
           groups=2, backend="no-such")
    expect(libconv.InvalidArgument, "kernel", libconv.max_pool2d, x, 0)
    # A failed call leaves the context usable.
    y = libconv.conv2d(x, w, groups=2)
    assert y.shape == (1, 6, 6, 6) and not np.any(np.isnan(y))


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
        "CONV_GOLDEN_DIR")
    if not root or not os.path.isdir(root):
        print("test_libconv: no golden cases (set CONV_GOLDEN_DIR)")
        return 1
    ctx = libconv.Context()
    print("test_libconv: libconv %s, backend %s, device %s" %
          (libconv.version(), ctx.backend, ctx.device))
    ctx.close()
    failed = ran = 0
    other = []
    names = sorted(os.listdir(root))
    for name in names:
        try:
            errors = run_case(os.path.join(root, name))
        except libconv.Error as err:
            print("FAIL %s: %s: %s" % (name, type(err).__name__, err))
            failed += 1
            continue
        if errors is None:
            other.append(name)
            continue
        ran += 1
        worst = max(errors.values())
        bad = worst > TOL
        failed += bad
        print("%s %-32s %s" % ("FAIL" if bad else "ok  ", name,
                               " ".join("%s %.1e" % kv
                                        for kv in errors.items())))
    check_errors()
    if other:
        print("not wrapped by the binding (other ops, fused activations): "
              "%d cases: %s" % (len(other), " ".join(other)))
    print("test_libconv: %d cases, %d failed; error checks passed" %
          (ran, failed))
    return 1 if failed or ran == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
