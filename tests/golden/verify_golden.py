#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Check the golden cases against a naive float64 loop nest (numpy only).

    /usr/bin/python3 tests/golden/verify_golden.py [cases_dir]

An independent second opinion on gen_golden.py's PyTorch references: it
reads each case's params and arrays, recomputes y, dx, dw, db with plain
loops that read padded elements through the same rule as conv_pad_source()
in plugins/conv_plugin.h, and reports the largest relative error per case.
Exit status 1 if any case is off by more than 1e-5 (relative to the
largest reference magnitude). Developer tool; not run by make check.
"""

import os
import sys

import numpy as np


def pad_source(i, size, mode):
    if 0 <= i < size:
        return i
    if mode == "reflect":
        return -i if i < 0 else 2 * (size - 1) - i
    if mode == "replicate":
        return 0 if i < 0 else size - 1
    if mode == "circular":
        return i + size if i < 0 else i - size
    if mode == "symmetric":
        return -i - 1 if i < 0 else 2 * size - 1 - i
    return -1


def ints(v, n):
    parts = [int(p) for p in v.split(",")]
    return parts * n if len(parts) == 1 else parts


def read_params(path):
    p = {"stride": "1", "padding": "0", "dilation": "1", "groups": "1",
         "padding_mode": "zeros", "flip_kernel": "0"}
    with open(path, encoding="ascii") as fh:
        for line in fh:
            line = line.strip()
            if line and not line.startswith("#"):
                k, v = line.split("=", 1)
                p[k.strip()] = v.strip()
    return p


def pads_of(p, kh, kw, dh, dw):
    v = p["padding"]
    if v == "valid":
        return 0, 0, 0, 0
    th, tw = dh * (kh - 1), dw * (kw - 1)
    if v == "full":
        return th, th, tw, tw
    if v == "same" and p["flip_kernel"] == "1":  # SciPy: odd one top/left
        return th - th // 2, th // 2, tw - tw // 2, tw // 2
    if v == "same":
        return th // 2, th - th // 2, tw // 2, tw - tw // 2
    parts = [int(q) for q in v.split(",")]
    if len(parts) == 1:
        return parts * 4
    if len(parts) == 2:
        return parts[0], parts[0], parts[1], parts[1]
    return parts


def naive(p, x, w, b, dy):
    if p["flip_kernel"] == "1":  # true convolution: correlate with w rotated
        got = naive(dict(p, flip_kernel="0", padding=",".join(
            str(v) for v in pads_of(p, *w.shape[2:], *ints(p["dilation"], 2)))),
            x, w[:, :, ::-1, ::-1], b, dy)
        got["dw"] = got["dw"][:, :, ::-1, ::-1]
        return got
    n, cin, h, wd = x.shape
    cout, cg, kh, kw = w.shape
    sh, sw = ints(p["stride"], 2)
    dh, dw_ = ints(p["dilation"], 2)
    g = int(p["groups"])
    mode = p["padding_mode"]
    t, bo, l, r = pads_of(p, kh, kw, dh, dw_)
    ho = (h + t + bo - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + l + r - dw_ * (kw - 1) - 1) // sw + 1
    ocg = cout // g
    y = np.zeros((n, cout, ho, wo))
    dx = np.zeros(x.shape)
    dwt = np.zeros(w.shape)
    rows = [[pad_source(oi * sh - t + a * dh, h, mode) for a in range(kh)]
            for oi in range(ho)]
    cols = [[pad_source(oj * sw - l + c * dw_, wd, mode) for c in range(kw)]
            for oj in range(wo)]
    for bi in range(n):
        for co in range(cout):
            gi = co // ocg
            for oi in range(ho):
                for oj in range(wo):
                    acc = 0.0 if b is None else float(b[co])
                    gy = float(dy[bi, co, oi, oj])
                    for ci in range(cg):
                        cx = gi * cg + ci
                        for a in range(kh):
                            si = rows[oi][a]
                            if si < 0:
                                continue
                            for c in range(kw):
                                sj = cols[oj][c]
                                if sj < 0:
                                    continue
                                acc += float(x[bi, cx, si, sj]) * \
                                    float(w[co, ci, a, c])
                                dx[bi, cx, si, sj] += gy * float(w[co, ci, a, c])
                                dwt[co, ci, a, c] += gy * float(x[bi, cx, si, sj])
                    y[bi, co, oi, oj] = acc
    db = None if b is None else dy.astype(np.float64).sum(axis=(0, 2, 3))
    return {"y": y, "dx": dx, "dw": dwt, "db": db}


def act(name, y):
    """The fused activation, in numpy."""
    if name.startswith("leaky_relu:"):
        return np.where(y > 0, y, y * float(name.split(":")[1]))
    return {"relu": lambda v: np.maximum(v, 0),
            "relu6": lambda v: np.minimum(np.maximum(v, 0), 6),
            "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
            "tanh": np.tanh,
            "silu": lambda v: v / (1 + np.exp(-v))}[name](y)


def naive_transpose(p, x, w, b, dy):
    """ConvTranspose2d as the scatter of every x * w product into the
    output, cropped by the pads; gradients as its adjoint."""
    n, cin, h, wd = x.shape
    _, ocg, kh, kw = w.shape
    g = int(p["groups"])
    sh, sw = ints(p["stride"], 2)
    dh, dw_ = ints(p["dilation"], 2)
    oph, opw = ints(p.get("output_padding", "0"), 2)
    t, bo, l, r = pads_of(p, kh, kw, dh, dw_)
    ho = (h - 1) * sh - t - bo + dh * (kh - 1) + oph + 1
    wo = (wd - 1) * sw - l - r + dw_ * (kw - 1) + opw + 1
    cout = ocg * g
    icg = cin // g
    y = np.zeros((n, cout, ho, wo))
    dx = np.zeros(x.shape)
    dwt = np.zeros(w.shape)
    for bi in range(n):
        for ci in range(cin):
            gi = ci // icg
            for i in range(h):
                for j in range(wd):
                    xv = float(x[bi, ci, i, j])
                    for oc in range(ocg):
                        co = gi * ocg + oc
                        for a in range(kh):
                            oi = i * sh - t + a * dh
                            if oi < 0 or oi >= ho:
                                continue
                            for c in range(kw):
                                oj = j * sw - l + c * dw_
                                if oj < 0 or oj >= wo:
                                    continue
                                wv = float(w[ci, oc, a, c])
                                gy = float(dy[bi, co, oi, oj])
                                y[bi, co, oi, oj] += xv * wv
                                dx[bi, ci, i, j] += gy * wv
                                dwt[ci, oc, a, c] += gy * xv
    if b is not None:
        y += b.astype(np.float64)[None, :, None, None]
    db = None if b is None else dy.astype(np.float64).sum(axis=(0, 2, 3))
    return {"y": y, "dx": dx, "dw": dwt, "db": db}


def naive_avgpool(p, x, dy):
    """AvgPool2d / AdaptiveAvgPool2d window by window (rules in conv.h)."""
    n, c, h, wd = x.shape
    adaptive = p["op"] == "adaptive_avgpool2d"
    if adaptive:
        ho, wo = ints(p["output_size"], 2)
    else:
        kh, kw = ints(p["kernel"], 2)
        sh, sw = ints(p["stride"], 2)
        t, bo, l, r = pads_of(p, kh, kw, 1, 1)
        ceil = p.get("ceil_mode", "0") == "1"
        incl = p.get("count_include_pad", "1") == "1"
        div = int(p.get("divisor_override", "0"))

        def out(size, k, s, p0, p1):
            num = size + p0 + p1 - k + (s - 1 if ceil else 0)
            o = num // s + 1
            if ceil and (o - 1) * s >= size + p0:
                o -= 1
            return o
        ho, wo = out(h, kh, sh, t, bo), out(wd, kw, sw, l, r)
    y = np.zeros((n, c, ho, wo))
    dx = np.zeros(x.shape)
    for oi in range(ho):
        for oj in range(wo):
            if adaptive:
                h0, h1 = oi * h // ho, -(-(oi + 1) * h // ho)
                w0, w1 = oj * wd // wo, -(-(oj + 1) * wd // wo)
                d = (h1 - h0) * (w1 - w0)
            else:
                h0, w0 = oi * sh - t, oj * sw - l
                h1, w1 = min(h0 + kh, h + bo), min(w0 + kw, wd + r)
                padded = (h1 - h0) * (w1 - w0)
                h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, h), min(w1, wd)
                d = div if div else (padded if incl else
                                     (h1 - h0) * (w1 - w0))
            if h1 <= h0 or w1 <= w0:
                continue
            y[:, :, oi, oj] = x[:, :, h0:h1, w0:w1].astype(
                np.float64).sum(axis=(2, 3)) / d
            dx[:, :, h0:h1, w0:w1] += dy[:, :, oi:oi + 1, oj:oj + 1].astype(
                np.float64) / d
    return {"y": y, "dx": dx}


def rel(got, ref):
    ref = ref.astype(np.float64)
    if ref.size == 0:
        return 0.0
    return float(np.max(np.abs(got - ref)) / max(np.max(np.abs(ref)), 1e-6))


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "cases")
    worst = 0.0
    bad = 0
    for name in sorted(os.listdir(root)):
        d = os.path.join(root, name)
        if not os.path.isfile(os.path.join(d, "params")):
            continue
        p = read_params(os.path.join(d, "params"))
        op = p.get("op", "conv2d")
        if op not in ("conv2d", "conv_transpose2d", "avgpool2d",
                      "adaptive_avgpool2d"):
            print("%-28s skipped (op=%s)" % (name, p["op"]))
            continue
        arr = {}
        for k in ("x", "w", "b", "y", "dy", "dx", "dw", "db"):
            f = os.path.join(d, k + ".npy")
            if os.path.exists(f):
                arr[k] = np.load(f)
        if op == "conv2d":
            got = naive(p, arr["x"], arr["w"], arr.get("b"), arr["dy"])
        elif op == "conv_transpose2d":
            got = naive_transpose(p, arr["x"], arr["w"], arr.get("b"),
                                  arr["dy"])
        else:
            got = naive_avgpool(p, arr["x"], arr["dy"])
        if "activation" in p:
            got["y"] = act(p["activation"], got["y"])
        errs = {k: rel(got[k], arr[k]) for k in ("y", "dx", "dw", "db")
                if k in arr}
        e = max(errs.values())
        worst = max(worst, e)
        flag = "ok" if e <= 1e-5 else "MISMATCH"
        if e > 1e-5:
            bad += 1
        print("%-28s %s  %s" % (name, flag, " ".join(
            "%s=%.1e" % kv for kv in sorted(errs.items()))))
    print("worst relative error %.2e, %d mismatching" % (worst, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
