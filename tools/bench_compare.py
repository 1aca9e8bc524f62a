#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""libconv against PyTorch, layer by layer.

For each layer of a suite it runs `convinfo bench --layer NAME --json` and
then the PyTorch peer (bench_torch.py) on the same layer, alternately, for
--rounds rounds, so that machine noise hits both alike; each side's figure
is the median over rounds of its per-run medians (--stat min: the fastest
run seen, steadier when the machine is busy). Then it prints, per layer
and pass, our GFLOP/s, PyTorch's and the ratio ours/PyTorch, the geometric
mean and the minimum of the ratio per pass, and the plan workspace.

    tools/bench_compare.py --suite smoke.suite          (from the build tree)
    python3 /usr/local/share/libconv/bench_compare.py   (installed)
"""

import argparse
import fnmatch
import json
import math
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
import bench_torch  # noqa: E402  (the suite parser and pass names)

PASSES = bench_torch.PASSES
SHORT = {"forward": "fwd", "backward_data": "bwd_data",
         "backward_weight": "bwd_weight"}


def find_convinfo(arg):
    """--convinfo, else $CONVINFO, else ./tools/convinfo or ./convinfo
    (build tree), else beside this script, else the bin folder of the prefix
    this script is installed under ($prefix/share/libconv), else PATH."""
    if arg:
        return arg
    cands = [os.environ.get("CONVINFO", ""),
             os.path.join(os.getcwd(), "tools", "convinfo"),
             os.path.join(os.getcwd(), "convinfo"),
             os.path.join(HERE, "convinfo"),
             os.path.normpath(os.path.join(HERE, "..", "..", "bin",
                                           "convinfo"))]
    for c in cands:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return shutil.which("convinfo")


def run_json(cmd, what):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        doc = None
    if doc is None:
        raise RuntimeError("%s failed (exit %d): %s\n  command: %s"
                           % (what, p.returncode, p.stderr.strip()[-2000:],
                              " ".join(cmd)))
    return doc


def gmean(v):
    v = [x for x in v if x is not None and x > 0]
    return math.exp(sum(math.log(x) for x in v) / len(v)) if v else None


def fmt(v, spec):
    return format(v, spec) if v is not None else "-"


def human_bytes(b):
    if b is None:
        return "-"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if b >= size:
            return "%.1f %s" % (b / size, unit)
    return "%d B" % b


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Compare convinfo bench with PyTorch, layer by layer.")
    ap.add_argument("--suite", default="default.suite",
                    help="suite file or the name of an installed suite")
    ap.add_argument("--convinfo", help="path to convinfo (default: "
                    "./tools/convinfo, ./convinfo, beside this script, "
                    "$prefix/bin, PATH)")
    ap.add_argument("--python", default="/usr/bin/python3"
                    if os.path.exists("/usr/bin/python3") else sys.executable,
                    help="python with torch for the peer (default "
                    "/usr/bin/python3)")
    ap.add_argument("--backend", help="convinfo --backend")
    ap.add_argument("--device", help="convinfo --device")
    ap.add_argument("--threads", type=bench_torch.positive,
                    default=len(os.sched_getaffinity(0)),
                    help="threads for both sides (default: the CPUs this "
                    "process may use)")
    ap.add_argument("--repeat", type=bench_torch.positive, default=50,
                    help="at most R timed runs per pass and round")
    ap.add_argument("--min-time", type=float, default=0.3,
                    help="seconds per pass and round (default 0.3)")
    ap.add_argument("--rounds", type=bench_torch.positive, default=1,
                    help="alternate ours/PyTorch this many times per layer")
    ap.add_argument("--stat", choices=("median", "min"), default="median",
                    help="per side: the median over rounds of each run's "
                    "median (default), or the fastest run seen (steadier "
                    "on a busy machine)")
    ap.add_argument("--layer", help="only layers whose name matches (glob)")
    ap.add_argument("--json", action="store_true",
                    help="print the collected figures as JSON")
    args = ap.parse_args(argv)

    suite = bench_torch.find_suite(args.suite)
    if suite is None:
        ap.error("suite '%s' not found" % args.suite)
    suite = os.path.abspath(suite)
    try:
        layers = bench_torch.load_suite(suite)
    except (bench_torch.SuiteError, OSError) as e:
        print("bench_compare.py: %s" % e, file=sys.stderr)
        return 2
    if args.layer:
        layers = [L for L in layers
                  if fnmatch.fnmatchcase(L["name"], args.layer)]
        if not layers:
            ap.error("no layer of %s matches '%s'" % (suite, args.layer))
    convinfo = find_convinfo(args.convinfo)
    if convinfo is None:
        ap.error("convinfo not found: give --convinfo PATH")

    common = ["--suite", suite, "--threads", str(args.threads), "--repeat",
              str(args.repeat), "--min-time", str(args.min_time), "--json"]
    ours_cmd = [convinfo, "bench"] + common
    if args.backend:
        ours_cmd += ["--backend", args.backend]
    if args.device:
        ours_cmd += ["--device", args.device]
    peer_cmd = [args.python, os.path.join(HERE, "bench_torch.py")] + common

    rows, failed, head = [], False, {}
    tty = sys.stderr.isatty()
    for i, L in enumerate(layers):
        name = L["name"]
        ms = {"ours": {p: [] for p in PASSES}, "torch": {p: [] for p in PASSES}}
        info = {"workspace_bytes": None, "algorithms": {}, "flops": None,
                "errors": []}
        for r in range(args.rounds):
            for side, cmd in (("ours", ours_cmd), ("torch", peer_cmd)):
                if tty:
                    sys.stderr.write("\r\033[K[%d/%d] %s round %d %s"
                                     % (i + 1, len(layers), name, r + 1, side))
                    sys.stderr.flush()
                try:
                    doc = run_json(cmd + ["--layer", name], side)
                except RuntimeError as e:
                    info["errors"].append(str(e))
                    continue
                head.setdefault(side, {k: doc.get(k) for k in
                                       ("backend", "device", "threads")})
                res = doc["layers"][0]
                if res.get("error"):
                    info["errors"].append("%s: %s" % (side, res["error"]))
                    continue
                info["flops"] = res["flops"]
                if side == "ours":
                    info["workspace_bytes"] = res["workspace_bytes"]
                for p in PASSES:
                    pr = res["passes"].get(p, {})
                    if pr.get("error") or pr.get("ms") is None:
                        info["errors"].append("%s %s: %s"
                                              % (side, p, pr.get("error")))
                        continue
                    ms[side][p].append(pr["min_ms"] if args.stat == "min"
                                       else pr["ms"])
                    if side == "ours":
                        info["algorithms"][p] = pr.get("algorithm")
        row = {"name": name, "flops": info["flops"],
               "workspace_bytes": info["workspace_bytes"],
               "errors": sorted(set(info["errors"])), "passes": {}}
        combine = min if args.stat == "min" else statistics.median
        for p in PASSES:
            o = combine(ms["ours"][p]) if ms["ours"][p] else None
            t = combine(ms["torch"][p]) if ms["torch"][p] else None
            fl = info["flops"]
            og = fl / (o * 1e-3) / 1e9 if o and fl is not None else None
            tg = fl / (t * 1e-3) / 1e9 if t and fl is not None else None
            row["passes"][p] = {
                "ours_ms": o, "torch_ms": t, "ours_gflops": og,
                "torch_gflops": tg,
                "ratio": t / o if o and t else None,
                "algorithm": info["algorithms"].get(p)}
        failed |= bool(row["errors"])
        rows.append(row)
    if tty:
        sys.stderr.write("\r\033[K")

    summary = {}
    for p in PASSES:
        ratios = [r["passes"][p]["ratio"] for r in rows
                  if r["passes"][p]["ratio"] is not None]
        summary[p] = {"geomean_ratio": gmean(ratios),
                      "min_ratio": min(ratios) if ratios else None,
                      "min_layer": min(((r["passes"][p]["ratio"], r["name"])
                                        for r in rows
                                        if r["passes"][p]["ratio"]),
                                       default=(None, None))[1]}

    if args.json:
        json.dump({"suite": suite, "threads": args.threads,
                   "rounds": args.rounds, "stat": args.stat, "ours": head.get("ours"),
                   "torch": head.get("torch"), "layers": rows,
                   "summary": summary}, sys.stdout, indent=2)
        print()
        return 1 if failed else 0

    o, t = head.get("ours", {}), head.get("torch", {})
    print("ours:    %s on %s, threads %s" % (o.get("backend"), o.get("device"),
                                             o.get("threads")))
    print("PyTorch: %s on %s, threads %s" % (t.get("backend"), t.get("device"),
                                             t.get("threads")))
    print("suite:   %s\ntiming:  %s of %d round%s; ratio = ours / PyTorch "
          "GFLOP/s (> 1: libconv is faster)\n"
          % (suite, "median of medians" if args.stat == "median"
             else "fastest run", args.rounds,
             "" if args.rounds == 1 else "s"))
    print("%-16s %-10s %9s %9s %9s %9s %7s  %-14s %10s"
          % ("layer", "pass", "ours_ms", "torch_ms", "ours_GF/s", "torch_GF/s",
             "ratio", "algorithm", "workspace"))
    for r in rows:
        for k, p in enumerate(PASSES):
            x = r["passes"][p]
            print("%-16s %-10s %9s %9s %9s %9s %7s  %-14s %10s"
                  % (r["name"] if k == 0 else "", SHORT[p],
                     fmt(x["ours_ms"], ".3f"), fmt(x["torch_ms"], ".3f"),
                     fmt(x["ours_gflops"], ".2f"),
                     fmt(x["torch_gflops"], ".2f"), fmt(x["ratio"], ".2f"),
                     x["algorithm"] or "-",
                     human_bytes(r["workspace_bytes"]) if k == 0 else ""))
    print("\n%-10s %14s %10s  %s" % ("pass", "geomean ratio", "min ratio",
                                     "(layer)"))
    for p in PASSES:
        s = summary[p]
        print("%-10s %14s %10s  %s" % (SHORT[p], fmt(s["geomean_ratio"], ".3f"),
                                       fmt(s["min_ratio"], ".3f"),
                                       s["min_layer"] or ""))
    errs = [(r["name"], e) for r in rows for e in r["errors"]]
    if errs:
        print("\nfailures:")
        for name, e in errs:
            print("  %s: %s" % (name, e))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
