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
        if p.get("op", "conv2d") != "conv2d":
            print("%-28s skipped (op=%s)" % (name, p["op"]))
            continue
        arr = {}
        for k in ("x", "w", "b", "y", "dy", "dx", "dw", "db"):
            f = os.path.join(d, k + ".npy")
            if os.path.exists(f):
                arr[k] = np.load(f)
        got = naive(p, arr["x"], arr["w"], arr.get("b"), arr["dy"])
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
