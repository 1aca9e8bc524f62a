#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The PyTorch peer of `convinfo bench`.

Times the same passes of the same suite layers with PyTorch on the CPU:
forward, backward-data (dx only) and backward-weight (dw, plus db when the
layer has a bias), each on its own, one warm-up run, then the median of runs
repeated until --min-time seconds or --repeat runs (at least min(3, repeat)).

    /usr/bin/python3 tools/bench_torch.py --suite smoke --threads 2 [--json]

The suite parser mirrors tools/suite.c (`--dry-run` prints the same lines as
`convinfo bench --dry-run`). Layers with padding_mode other than zeros, or
with asymmetric padding, run as nn.Conv2d runs them: F.pad, then a conv with
no padding; their backward passes go through autograd on a graph built once
(only the tensor whose gradient is wanted requires grad). The others call
aten's convolution and convolution_backward directly, as torch.nn.grad does.
"""

import argparse
import fnmatch
import json
import os
import re
import statistics
import sys
import time

PASSES = ("forward", "backward_data", "backward_weight")
MODES = ("zeros", "reflect", "replicate", "circular", "symmetric")
HERE = os.path.dirname(os.path.abspath(__file__))


class SuiteError(Exception):
    pass


# ------------------------------------------------------------------ suites

def new_layer():
    return dict(name="", n=1, c_in=None, h=None, w=None, c_out=None,
                kernel=None, stride=(1, 1), dilation=(1, 1), groups=1,
                padding="explicit", pad=(0, 0, 0, 0), padding_mode="zeros",
                bias=1)


def parse_int(s):
    if not re.fullmatch(r"[0-9]+", s):
        raise ValueError(s)
    return int(s)


def parse_list(s, most):
    parts = s.split(",")
    if len(parts) > most:
        raise ValueError(s)
    return [parse_int(p) for p in parts]


def parse_pair(key, val):
    try:
        v = parse_list(val, 2)
    except ValueError:
        raise SuiteError("%s=%s: expected N or N,N" % (key, val))
    return (v[0], v[-1])


def parse_kv(tokens, L):
    have = set()
    for tok in tokens:
        if "=" not in tok:
            raise SuiteError("'%s': expected key=value (the name comes first)"
                             % tok)
        key, val = tok.split("=", 1)
        if key in ("n", "c_in", "h", "w", "c_out", "groups"):
            try:
                L[key] = parse_int(val)
            except ValueError:
                raise SuiteError("%s=%s: expected a non-negative integer"
                                 % (key, val))
        elif key in ("kernel", "stride", "dilation"):
            L[key] = parse_pair(key, val)
        elif key == "padding":
            if val in ("same", "valid"):
                L["padding"] = val
            else:
                try:
                    p = parse_list(val, 4)
                    if len(p) == 3:
                        raise ValueError(val)
                except ValueError:
                    raise SuiteError("padding=%s: expected P, PH,PW, T,B,L,R, "
                                     "same or valid" % val)
                if len(p) == 1:
                    p = p * 4
                elif len(p) == 2:
                    p = [p[0], p[0], p[1], p[1]]
                L["padding"] = "explicit"
                L["pad"] = tuple(p)
        elif key == "padding_mode":
            if val not in MODES:
                raise SuiteError("padding_mode=%s: expected zeros, reflect, "
                                 "replicate, circular or symmetric" % val)
            L["padding_mode"] = val
        elif key == "bias":
            if val not in ("0", "1"):
                raise SuiteError("bias=%s: expected 0 or 1" % val)
            L["bias"] = int(val)
        else:
            raise SuiteError("unknown key '%s' (known: n c_in h w c_out kernel "
                             "stride padding dilation groups padding_mode "
                             "bias)" % key)
        have.add(key)
    for req in ("c_in", "h", "c_out", "kernel"):
        if req not in have:
            raise SuiteError("missing %s (c_in, h, c_out and kernel are "
                             "required)" % req)
    if "w" not in have:
        L["w"] = L["h"]


BD_KEYS = ("g", "mb", "ic", "ih", "iw", "oc", "oh", "ow", "kh", "kw", "sh",
           "sw", "ph", "pw", "dh", "dw")


def bd_out(i, k, s, p, d):
    # C's truncating division, as benchdnn computes it.
    num = i - ((k - 1) * (d + 1) + 1) + 2 * p
    return int(num / s) + 1


def bd_pad(o, i, k, s, d):
    num = (o - 1) * s - i + ((k - 1) * (d + 1) + 1)
    return int(num / 2)


def parse_benchdnn(s, L):
    v = {}
    pos = 0
    while pos < len(s):
        c = s[pos]
        if c == "_":
            pos += 1
            continue
        if not c.isalpha():
            raise SuiteError("benchdnn string '%s': unexpected '%s'" % (s, c))
        if c == "n":
            pos += 1
            if pos < len(s) and s[pos] == '"':
                end = s.find('"', pos + 1)
                if end < 0:
                    raise SuiteError("benchdnn string '%s': unterminated name"
                                     % s)
                name = s[pos + 1:end]
                pos = end + 1
            else:
                name = s[pos:]
                pos = len(s)
            if not L["name"]:
                L["name"] = name[:127]
            continue
        m = re.match(r"[A-Za-z]+", s[pos:])
        key = m.group(0)
        pos += len(key)
        if key not in BD_KEYS:
            raise SuiteError("benchdnn string '%s': unknown key '%s' (known: g "
                             "mb ic ih iw oc oh ow kh kw sh sw ph pw dh dw n)"
                             % (s, key))
        m = re.match(r"[0-9]+", s[pos:])
        if not m:
            raise SuiteError("benchdnn string '%s': key '%s' needs a number"
                             % (s, key))
        if key in v:
            raise SuiteError("benchdnn string '%s': key '%s' given twice"
                             % (s, key))
        v[key] = int(m.group(0))
        pos += len(m.group(0))
    for req in ("ic", "oc", "ih", "kh"):
        if req not in v:
            raise SuiteError("benchdnn string '%s': ic, oc, ih and kh are "
                             "required" % s)
    g = v.get("g", 1)
    mb = v.get("mb", 2)
    sh = v.get("sh", 1)
    dh = v.get("dh", 0)
    ph = v["ph"] if "ph" in v else (
        bd_pad(v["oh"], v["ih"], v["kh"], sh, dh) if "oh" in v else 0)
    # As benchdnn: with no w key the shape is square; otherwise the w axis
    # stands alone (stride 1, no extra dilation, pw from ow or 0), except
    # that iw and kw default to ih and kh.
    square = not any(k in v for k in ("iw", "kw", "ow", "sw", "pw", "dw"))
    iw = v.get("iw", v["ih"])
    kw = v.get("kw", v["kh"])
    sw = v.get("sw", sh if square else 1)
    dw = v.get("dw", dh if square else 0)
    if sh < 1 or sw < 1:
        raise SuiteError("benchdnn string '%s': strides must be >= 1" % s)
    if "pw" in v:
        pw = v["pw"]
    elif square:
        pw = ph
    else:
        pw = bd_pad(v["ow"], iw, kw, sw, dw) if "ow" in v else 0
    if ph < 0 or pw < 0:
        raise SuiteError("benchdnn string '%s': oh/ow larger than the input "
                         "allows" % s)
    oh = bd_out(v["ih"], v["kh"], sh, ph, dh)
    ow = bd_out(iw, kw, sw, pw, dw)
    if "oh" in v and v["oh"] != oh:
        raise SuiteError("benchdnn string '%s': oh%d given, but the shape "
                         "gives oh%d" % (s, v["oh"], oh))
    if "ow" in v and v["ow"] != ow:
        raise SuiteError("benchdnn string '%s': ow%d given, but the shape "
                         "gives ow%d" % (s, v["ow"], ow))
    L.update(n=mb, c_in=v["ic"], h=v["ih"], w=iw, c_out=v["oc"],
             kernel=(v["kh"], kw), stride=(sh, sw),
             dilation=(dh + 1, dw + 1), groups=g, padding="explicit",
             pad=(ph, ph, pw, pw), bias=1)


def tokenize(line):
    """Blank-separated fields; a double-quoted run stays in its field; '#'
    outside quotes ends the line."""
    tokens, cur, quoted, i = [], None, False, 0
    while i < len(line):
        c = line[i]
        if not quoted and c in " \t\r\n#":
            if cur is not None:
                tokens.append(cur)
                cur = None
            if c == "#":
                break
        else:
            if c == '"':
                quoted = not quoted
            cur = (cur or "") + c
        i += 1
    if quoted:
        raise SuiteError("unterminated quote")
    if cur is not None:
        tokens.append(cur)
    return tokens


def parse_line(line):
    """A layer dict, or None for a blank or comment line."""
    tokens = tokenize(line)
    if not tokens:
        return None
    if len(tokens) > 32:
        raise SuiteError("too many fields")
    L = new_layer()
    any_eq = any("=" in t for t in tokens)
    first = 0
    if "=" not in tokens[0] and (any_eq or len(tokens) == 2):
        if len(tokens[0]) >= 128:
            raise SuiteError("name '%s' too long" % tokens[0])
        L["name"] = tokens[0]
        first = 1
    if any_eq:
        parse_kv(tokens[first:], L)
    elif len(tokens) - first == 1:
        parse_benchdnn(tokens[first], L)
    else:
        raise SuiteError("expected 'name key=value...' or '[name] "
                         "benchdnn-string'")
    return L


def resolve(L):
    """(h_out, w_out, (top, bottom, left, right)) as libconv resolves them;
    raises SuiteError for a problem libconv would reject."""
    kh, kw = L["kernel"]
    sh, sw = L["stride"]
    dh, dw = L["dilation"]
    for what, val, low in (("n", L["n"], 0), ("c_in", L["c_in"], 1),
                           ("h", L["h"], 1), ("w", L["w"], 1),
                           ("c_out", L["c_out"], 1), ("kernel", kh, 1),
                           ("kernel", kw, 1), ("stride", sh, 1),
                           ("stride", sw, 1), ("dilation", dh, 1),
                           ("dilation", dw, 1), ("groups", L["groups"], 1)):
        if val < low:
            raise SuiteError("%s=%d must be >= %d" % (what, val, low))
    if L["c_in"] % L["groups"] or L["c_out"] % L["groups"]:
        raise SuiteError("groups=%d must divide c_in=%d and c_out=%d"
                         % (L["groups"], L["c_in"], L["c_out"]))
    if L["padding"] == "same":
        if sh != 1 or sw != 1:
            raise SuiteError("padding=same needs stride 1")
        th, tw = dh * (kh - 1), dw * (kw - 1)
        pads = (th // 2, th - th // 2, tw // 2, tw - tw // 2)
    elif L["padding"] == "valid":
        pads = (0, 0, 0, 0)
    else:
        pads = tuple(L["pad"])
    mode = L["padding_mode"]
    for pad, size, axis in ((pads[0], L["h"], "height"),
                            (pads[1], L["h"], "height"),
                            (pads[2], L["w"], "width"),
                            (pads[3], L["w"], "width")):
        if (mode == "reflect" and pad >= size) or (
                mode in ("circular", "symmetric") and pad > size):
            raise SuiteError("padding_mode=%s: pad %d too large for input %s "
                             "%d" % (mode, pad, axis, size))
    eh = L["h"] + pads[0] + pads[1] - dh * (kh - 1) - 1
    ew = L["w"] + pads[2] + pads[3] - dw * (kw - 1) - 1
    if eh < 0 or ew < 0:
        raise SuiteError("the kernel does not fit the padded input")
    return eh // sh + 1, ew // sw + 1, pads


def describe(L):
    if L["padding"] in ("same", "valid"):
        pad = L["padding"]
    else:
        pad = ",".join(str(p) for p in L["pad"])
    return ("n=%d c_in=%d h=%d w=%d c_out=%d kernel=%d,%d stride=%d,%d "
            "padding=%s dilation=%d,%d groups=%d padding_mode=%s bias=%d"
            % (L["n"], L["c_in"], L["h"], L["w"], L["c_out"], L["kernel"][0],
               L["kernel"][1], L["stride"][0], L["stride"][1], pad,
               L["dilation"][0], L["dilation"][1], L["groups"],
               L["padding_mode"], L["bias"]))


def find_suite(arg):
    """A file as given; else a bare name (with or without .suite) in the
    suites folder beside this script (tools/suites, or the installed
    $(pkgdatadir)/suites)."""
    if os.path.isfile(arg):
        return arg
    if "/" not in arg:
        for name in (arg, arg + ".suite"):
            path = os.path.join(HERE, "suites", name)
            if os.path.isfile(path):
                return path
    return None


def load_suite(path):
    layers, names = [], {}
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            try:
                L = parse_line(line)
                if L is None:
                    continue
                if not L["name"]:
                    L["name"] = "line%d" % lineno
                resolve(L)
                if L["name"] in names:
                    raise SuiteError("layer name '%s' already used on line %d"
                                     % (L["name"], names[L["name"]]))
            except SuiteError as e:
                raise SuiteError("%s:%d: %s" % (path, lineno, e))
            names[L["name"]] = lineno
            layers.append(L)
    if not layers:
        raise SuiteError("%s: no layers" % path)
    return layers


# ---------------------------------------------------------------- timing

def flops(L, h_out, w_out):
    return (2.0 * L["n"] * L["c_out"] * h_out * w_out
            * (L["c_in"] // L["groups"]) * L["kernel"][0] * L["kernel"][1])


def time_pass(fn, repeat, min_time, sync=lambda: None):
    fn()  # warm-up
    sync()
    times, spent = [], 0.0
    min_runs = min(3, repeat)
    while len(times) < repeat and (len(times) < min_runs or spent < min_time):
        t0 = time.perf_counter()
        fn()
        sync()  # a GPU pass counts until it has finished
        dt = time.perf_counter() - t0
        times.append(dt)
        spent += dt
    return statistics.median(times) * 1e3, min(times) * 1e3, len(times)


def make_passes(torch, L, device="cpu"):
    """Three closures, one per pass, each doing only that pass's work."""
    F = torch.nn.functional
    g = torch.Generator().manual_seed(0)
    h_out, w_out, pads = resolve(L)
    n, ci, co, grp = L["n"], L["c_in"], L["c_out"], L["groups"]
    kh, kw = L["kernel"]

    def rand(*shape):
        return (torch.rand(*shape, generator=g) * 2 - 1).to(device)

    x = rand(n, ci, L["h"], L["w"])
    w = rand(co, ci // grp, kh, kw)
    b = rand(co) if L["bias"] else None
    dy = rand(n, co, h_out, w_out)
    stride, dil = tuple(L["stride"]), tuple(L["dilation"])
    t, bo, le, r = pads
    direct = L["padding_mode"] == "zeros" and t == bo and le == r
    if not direct and L["padding_mode"] == "symmetric":
        raise SuiteError("padding_mode=symmetric: PyTorch has no such mode")
    mode = "constant" if L["padding_mode"] == "zeros" else L["padding_mode"]

    if direct:
        padding = (t, le)
        conv_bwd = torch.ops.aten.convolution_backward

        def fwd():
            with torch.no_grad():
                F.conv2d(x, w, b, stride, padding, dil, grp)

        def bwd_data():
            conv_bwd(dy, x, w, None, stride, padding, dil, False, [0], grp,
                     (True, False, False))

        bias_sizes = [co] if b is not None else None

        def bwd_weight():
            conv_bwd(dy, x, w, bias_sizes, stride, padding, dil, False, [0],
                     grp, (False, True, b is not None))
        return fwd, bwd_data, bwd_weight, h_out, w_out

    def conv(xx, ww, bb):
        # What nn.Conv2d does for padding_mode != zeros.
        return F.conv2d(F.pad(xx, (le, r, t, bo), mode=mode), ww, bb, stride,
                        0, dil, grp)

    def fwd():
        with torch.no_grad():
            conv(x, w, b)

    xg = x.clone().requires_grad_(True)
    y_d = conv(xg, w, b)

    def bwd_data():
        torch.autograd.grad(y_d, (xg,), dy, retain_graph=True)

    wg = w.clone().requires_grad_(True)
    bg = b.clone().requires_grad_(True) if b is not None else None
    y_w = conv(x, wg, bg)
    wanted = (wg, bg) if bg is not None else (wg,)

    def bwd_weight():
        torch.autograd.grad(y_w, wanted, dy, retain_graph=True)
    return fwd, bwd_data, bwd_weight, h_out, w_out


def bench_layer(torch, L, args):
    res = dict(name=L["name"], problem=describe(L), h_out=None, w_out=None,
               flops=None, plan_ms=None, workspace_bytes=None, error=None,
               passes={})
    try:
        fns = make_passes(torch, L, args.device)
    except (SuiteError, RuntimeError) as e:
        res["error"] = str(e)
        return res
    h_out, w_out = fns[3], fns[4]
    fl = flops(L, h_out, w_out)
    res.update(h_out=h_out, w_out=w_out, flops=fl)
    for name, fn in zip(PASSES, fns[:3]):
        if args.progress:
            sys.stderr.write("\r\033[K%s %s" % (L["name"], name))
            sys.stderr.flush()
        try:
            ms, min_ms, runs = time_pass(fn, args.repeat, args.min_time,
                                         args.sync)
        except RuntimeError as e:
            res["passes"][name] = dict(ms=None, min_ms=None, gflops=None,
                                       runs=0, algorithm="aten",
                                       error=str(e))
            continue
        res["passes"][name] = dict(
            ms=ms, min_ms=min_ms,
            gflops=fl / (ms * 1e-3) / 1e9 if ms > 0 else 0.0,
            runs=runs, algorithm="aten", error=None)
    return res


def positive(s):
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError("expected a positive integer")
    return v


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Time the suite's conv passes with PyTorch (the peer of "
                    "`convinfo bench`).")
    ap.add_argument("--suite", default="default.suite",
                    help="suite file or installed suite name")
    ap.add_argument("--threads", type=positive,
                    help="torch.set_num_threads(N) (default: torch's)")
    ap.add_argument("--repeat", type=positive, default=50,
                    help="at most R timed runs per pass (default 50)")
    ap.add_argument("--min-time", type=float, default=0.3,
                    help="stop repeating after S seconds (default 0.3)")
    ap.add_argument("--layer", help="only layers whose name matches (glob)")
    ap.add_argument("--device", default="cpu",
                    help="torch device: cpu (default) or cuda (GPU peer of "
                         "the opencl backend)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--dry-run", action="store_true",
                    help="print the parsed layers and exit")
    args = ap.parse_args(argv)

    path = find_suite(args.suite)
    if path is None:
        ap.error("suite '%s' not found" % args.suite)
    try:
        layers = load_suite(path)
    except (SuiteError, OSError) as e:
        print("bench_torch.py: %s" % e, file=sys.stderr)
        return 2
    if args.layer:
        layers = [L for L in layers if fnmatch.fnmatchcase(L["name"],
                                                           args.layer)]
        if not layers:
            print("bench_torch.py: no layer of %s matches '%s'"
                  % (path, args.layer), file=sys.stderr)
            return 2
    if args.dry_run:
        for L in layers:
            print("%s %s" % (L["name"], describe(L)))
        return 0

    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    args.progress = sys.stderr.isatty()
    args.sync = (torch.cuda.synchronize if args.device.startswith("cuda")
                 else (lambda: None))
    results = [bench_layer(torch, L, args) for L in layers]
    if args.progress:
        sys.stderr.write("\r\033[K")
    failed = any(r["error"] or any(p["error"] for p in r["passes"].values())
                 for r in results)
    if args.json:
        json.dump(dict(tool="pytorch", version=torch.__version__,
                       backend="pytorch " + torch.__version__, device=args.device,
                       threads=torch.get_num_threads(), suite=path,
                       layers=results), sys.stdout, indent=2)
        print()
    else:
        print("backend: pytorch %s\ndevice:  %s\nthreads: %d\nsuite:   %s\n"
              % (torch.__version__, args.device, torch.get_num_threads(), path))
        print("%-16s %-15s %10s %9s" % ("layer", "pass", "ms", "GFLOP/s"))
        for r in results:
            if r["error"]:
                print("%-16s FAILED: %s" % (r["name"], r["error"]))
                continue
            for i, name in enumerate(PASSES):
                p = r["passes"][name]
                label = r["name"] if i == 0 else ""
                if p["error"]:
                    print("%-16s %-15s FAILED: %s" % (label, name, p["error"]))
                else:
                    print("%-16s %-15s %10.3f %9.2f" % (label, name, p["ms"],
                                                         p["gflops"]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
