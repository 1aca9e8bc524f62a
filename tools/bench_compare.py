#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""libconv against PyTorch and oneDNN, layer by layer.

For each layer of a suite it runs `convinfo bench --layer NAME --json` and
then the peers on the same layer, alternately, for --rounds rounds, so that
machine noise hits all alike: PyTorch (bench_torch.py, --peer torch, the
default) and/or oneDNN (tools/bench_onednn, --peer onednn, built where
configure finds oneDNN), which reports two figures per pass: with plain
NCHW tensors in and out (its reorders timed: libconv's contract) and in its
own blocked layouts. Each side's figure is the median over rounds of its
per-run medians (--stat min: the fastest run seen, steadier when the
machine is busy). Then it prints, per layer and pass, our GFLOP/s, each
peer's and the ratio ours/peer, the geometric mean and the minimum of each
ratio per pass, and the plan workspace. --isa caps ours (CONV_CPU_ISA) and
oneDNN alike.

    tools/bench_compare.py --suite smoke.suite          (from the build tree)
    tools/bench_compare.py --peer all --threads 2 --rounds 3 --stat min
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


def run_json(cmd, what, env=None):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, env=env)
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


def find_onednn(arg):
    """--onednn, else $BENCH_ONEDNN, else tools/bench_onednn (build tree),
    else beside this script."""
    if arg:
        return arg
    cands = [os.environ.get("BENCH_ONEDNN", ""),
             os.path.join(os.getcwd(), "tools", "bench_onednn"),
             os.path.join(HERE, "bench_onednn")]
    for c in cands:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


# The peers' columns: (side, label, what its ratio means).
SIDES = {
    "torch": ("PyTorch", "ours / PyTorch"),
    "onednn": ("oneDNN plain", "ours / oneDNN with NCHW tensors, reorders "
               "timed"),
    "onednn_blocked": ("oneDNN blocked", "ours / oneDNN in its own layouts, "
                       "no reorders"),
}
SHORT_SIDE = {"torch": "torch", "onednn": "dnnl", "onednn_blocked": "dnnl_blk"}


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Compare convinfo bench with PyTorch and/or oneDNN, "
        "layer by layer.")
    ap.add_argument("--suite", default="default.suite",
                    help="suite file or the name of an installed suite")
    ap.add_argument("--convinfo", help="path to convinfo (default: "
                    "./tools/convinfo, ./convinfo, beside this script, "
                    "$prefix/bin, PATH)")
    ap.add_argument("--peer", choices=("torch", "onednn", "all"),
                    default="torch",
                    help="torch (bench_torch.py, default), onednn "
                    "(tools/bench_onednn: with plain NCHW tensors and in "
                    "its own layouts) or all")
    ap.add_argument("--onednn", help="path to bench_onednn (default: "
                    "$BENCH_ONEDNN, ./tools/bench_onednn, beside this script)")
    ap.add_argument("--isa", choices=("avx512", "avx2", "generic"),
                    help="cap both sides' instruction set: CONV_CPU_ISA for "
                    "ours, bench_onednn --isa for oneDNN (PyTorch is not "
                    "capped); below avx512 OpenBLAS is pinned to it with "
                    "OPENBLAS_CORETYPE unless that is set")
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
                    help="alternate ours/the peers this many times per layer")
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
    # runners: (name, command, environment, [(side, JSON key of its passes)])
    env = dict(os.environ)
    if args.isa:
        env["CONV_CPU_ISA"] = args.isa
        if args.isa != "avx512":
            env.setdefault("OPENBLAS_CORETYPE", "Haswell" if args.isa ==
                           "avx2" else "Prescott")
    runners = [("ours", ours_cmd, env, [("ours", "passes")])]
    peers = []
    if args.peer in ("torch", "all"):
        runners.append(("torch", [args.python, os.path.join(
            HERE, "bench_torch.py")] + common, None, [("torch", "passes")]))
        peers.append("torch")
    if args.peer in ("onednn", "all"):
        onednn = find_onednn(args.onednn)
        if onednn is None:
            ap.error("bench_onednn not found (configure builds it where it "
                     "finds oneDNN): give --onednn PATH")
        cmd = [onednn] + common + (["--isa", args.isa] if args.isa else [])
        runners.append(("onednn", cmd, None, [("onednn", "passes"),
                                              ("onednn_blocked",
                                               "passes_blocked")]))
        peers += ["onednn", "onednn_blocked"]
    sides = ["ours"] + peers

    rows, failed, head = [], False, {}
    tty = sys.stderr.isatty()
    for i, L in enumerate(layers):
        name = L["name"]
        ms = {sd: {p: [] for p in PASSES} for sd in sides}
        info = {"workspace_bytes": None, "algorithms": {sd: {} for sd in sides},
                "flops": None, "errors": []}
        for r in range(args.rounds):
            for runner, cmd, renv, outs in runners:
                if tty:
                    sys.stderr.write("\r\033[K[%d/%d] %s round %d %s"
                                     % (i + 1, len(layers), name, r + 1,
                                        runner))
                    sys.stderr.flush()
                try:
                    doc = run_json(cmd + ["--layer", name], runner, renv)
                except RuntimeError as e:
                    info["errors"].append(str(e))
                    continue
                for sd, _ in outs:
                    head.setdefault(sd, {k: doc.get(k) for k in
                                         ("backend", "device", "threads")})
                res = doc["layers"][0]
                if res.get("error"):
                    info["errors"].append("%s: %s" % (runner, res["error"]))
                    continue
                info["flops"] = res["flops"]
                if runner == "ours":
                    info["workspace_bytes"] = res["workspace_bytes"]
                for sd, key in outs:
                    for p in PASSES:
                        pr = res.get(key, {}).get(p, {})
                        if pr.get("error") or pr.get("ms") is None:
                            info["errors"].append("%s %s: %s"
                                                  % (sd, p, pr.get("error")))
                            continue
                        ms[sd][p].append(pr["min_ms"] if args.stat == "min"
                                         else pr["ms"])
                        info["algorithms"][sd][p] = pr.get("algorithm")
        row = {"name": name, "flops": info["flops"],
               "workspace_bytes": info["workspace_bytes"],
               "errors": sorted(set(info["errors"])), "passes": {}}
        combine = min if args.stat == "min" else statistics.median
        fl = info["flops"]
        for p in PASSES:
            t = {sd: (combine(ms[sd][p]) if ms[sd][p] else None)
                 for sd in sides}
            gf = {sd: (fl / (t[sd] * 1e-3) / 1e9 if t[sd] and fl is not None
                       else None) for sd in sides}
            o = t["ours"]
            x = {"ours_ms": o, "ours_gflops": gf["ours"],
                 "algorithm": info["algorithms"]["ours"].get(p)}
            for sd in peers:
                x[sd + "_ms"] = t[sd]
                x[sd + "_gflops"] = gf[sd]
                x[sd + "_ratio"] = t[sd] / o if o and t[sd] else None
                x[sd + "_algorithm"] = info["algorithms"][sd].get(p)
            if "torch" in peers:  # the names this script always had
                x["ratio"] = x["torch_ratio"]
            row["passes"][p] = x
        failed |= bool(row["errors"])
        rows.append(row)
    if tty:
        sys.stderr.write("\r\033[K")

    summary = {}
    for sd in peers:
        summary[sd] = {}
        for p in PASSES:
            rs = [(r["passes"][p][sd + "_ratio"], r["name"]) for r in rows
                  if r["passes"][p][sd + "_ratio"] is not None]
            summary[sd][p] = {
                "geomean_ratio": gmean([v for v, _ in rs]),
                "min_ratio": min(rs)[0] if rs else None,
                "min_layer": min(rs)[1] if rs else None}
    if "torch" in peers:  # the shape this script always had
        summary.update(summary["torch"])

    if args.json:
        json.dump({"suite": suite, "threads": args.threads, "isa": args.isa,
                   "rounds": args.rounds, "stat": args.stat,
                   "peers": peers,
                   **{sd: head.get(sd) for sd in sides},
                   "layers": rows, "summary": summary}, sys.stdout, indent=2)
        print()
        return 1 if failed else 0

    o = head.get("ours", {})
    print("ours:    %s on %s, threads %s%s" % (
        o.get("backend"), o.get("device"), o.get("threads"),
        ", CONV_CPU_ISA=%s" % args.isa if args.isa else ""))
    for sd in peers:
        t = head.get(sd, {})
        print("%-8s %s on %s, threads %s" % (SHORT_SIDE[sd] + ":",
                                             t.get("backend"), t.get("device"),
                                             t.get("threads")))
    print("suite:   %s\ntiming:  %s of %d round%s; ratio = ours GFLOP/s / "
          "the peer's (> 1: libconv is faster)"
          % (suite, "median of medians" if args.stat == "median"
             else "fastest run", args.rounds,
             "" if args.rounds == 1 else "s"))
    for sd in peers:
        print("         %s: %s" % (SHORT_SIDE[sd], SIDES[sd][1]))
    print()
    cols = "".join(" %9s %6s" % (SHORT_SIDE[sd][:9], "ratio") for sd in peers)
    print("%-16s %-10s %9s %9s%s  %-14s %10s"
          % ("layer", "pass", "ours_ms", "ours_GF/s", cols, "algorithm",
             "workspace"))
    for r in rows:
        for k, p in enumerate(PASSES):
            x = r["passes"][p]
            cells = "".join(" %9s %6s" % (fmt(x[sd + "_gflops"], ".2f"),
                                          fmt(x[sd + "_ratio"], ".2f"))
                            for sd in peers)
            print("%-16s %-10s %9s %9s%s  %-14s %10s"
                  % (r["name"] if k == 0 else "", SHORT[p],
                     fmt(x["ours_ms"], ".3f"), fmt(x["ours_gflops"], ".2f"),
                     cells, x["algorithm"] or "-",
                     human_bytes(r["workspace_bytes"]) if k == 0 else ""))
    for sd in peers:
        print("\nagainst %s (%s)" % (SIDES[sd][0], SIDES[sd][1]))
        print("%-10s %14s %10s  %s" % ("pass", "geomean ratio", "min ratio",
                                       "(layer)"))
        for p in PASSES:
            s = summary[sd][p]
            print("%-10s %14s %10s  %s" % (SHORT[p],
                                           fmt(s["geomean_ratio"], ".3f"),
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
