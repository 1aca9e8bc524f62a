#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""PyTorch CPU timings of the speed suite, per pass (fwd, bwd-data, bwd-weight+bias).

Usage: torch_time.py [threads] [reps] [layer-substring]
Prints one line per layer and pass: name pass ms GFLOP/s; with OURS=path/to/bench
(ALGO=name optional) also times the dev harness right after, and the ratio
torch_time/our_time (> 1: we are faster).
"""
import os, subprocess, sys, time
OURS = os.environ.get("OURS", "")
ALGO = os.environ.get("ALGO", "")
import torch
import torch.nn.functional as F

SUITE = [
  # name N C_in H C_out k stride pad dil groups mode
  ("seed001_5x5", 32, 3, 128, 7, 5, 1, 2, 1, 1, "zeros"),
  ("seed003_3x3", 20, 2, 50, 28, 3, 1, 0, 1, 1, "zeros"),
  ("r50_conv1_7x7", 4, 3, 224, 64, 7, 2, 3, 1, 1, "zeros"),
  ("r50_3x3_56", 8, 64, 56, 64, 3, 1, 1, 1, 1, "zeros"),
  ("r50_1x1_56", 8, 64, 56, 256, 1, 1, 0, 1, 1, "zeros"),
  ("r50_3x3s2_56", 8, 128, 56, 128, 3, 2, 1, 1, 1, "zeros"),
  ("r50_3x3_14", 8, 256, 14, 256, 3, 1, 1, 1, 1, "zeros"),
  ("r50_3x3_7", 8, 512, 7, 512, 3, 1, 1, 1, 1, "zeros"),
  ("vgg_3x3_112", 2, 128, 112, 128, 3, 1, 1, 1, 1, "zeros"),
  ("mbv2_dw_56", 8, 144, 56, 144, 3, 1, 1, 1, 144, "zeros"),
  ("mbv2_dws2_56", 8, 144, 56, 144, 3, 2, 1, 1, 144, "zeros"),
  ("resnext_g32_28", 8, 128, 28, 128, 3, 1, 1, 1, 32, "zeros"),
  ("deeplab_d2_28", 4, 256, 28, 256, 3, 1, 2, 2, 1, "zeros"),
  ("style_reflect", 4, 64, 64, 64, 3, 1, 1, 1, 1, "reflect"),
]

def flops(l):
  name, n, ci, h, co, k, s, p, d, g, mode = l
  ho = (h + 2 * p - d * (k - 1) - 1) // s + 1
  return 2.0 * n * co * ho * ho * (ci // g) * k * k

def bench(fn, reps):
  fn()
  best = float("inf")
  for _ in range(reps):
    t = time.perf_counter(); fn(); best = min(best, time.perf_counter() - t)
  return best

def main():
  th = int(sys.argv[1]) if len(sys.argv) > 1 else 2
  reps = int(sys.argv[2]) if len(sys.argv) > 2 else 10
  sub = sys.argv[3] if len(sys.argv) > 3 else ""
  torch.set_num_threads(th)
  for l in SUITE:
    name, n, ci, h, co, k, s, p, d, g, mode = l
    if sub not in name: continue
    x = torch.rand(n, ci, h, h) * 2 - 1
    w = torch.rand(co, ci // g, k, k) * 2 - 1
    b = torch.rand(co) * 2 - 1
    if mode == "zeros":
      xp, pp = x, p
    else:
      xp, pp = F.pad(x, (p, p, p, p), mode=mode), 0
    y = F.conv2d(xp, w, b, s, pp, d, g)
    dy = torch.rand_like(y)
    fw = lambda: F.conv2d(xp, w, b, s, pp, d, g)
    bd = lambda: torch.ops.aten.convolution_backward(dy, xp, w, [co], [s, s], [pp, pp], [d, d], False, [0, 0], g, [True, False, False])
    bw = lambda: torch.ops.aten.convolution_backward(dy, xp, w, [co], [s, s], [pp, pp], [d, d], False, [0, 0], g, [False, True, True])
    f = flops(l)
    for pas, fn in (("fwd", fw), ("bwd_data", bd), ("bwd_weight", bw)):
      t = bench(fn, reps)
      line = "%-16s %-10s torch %9.3f ms %7.1f GF/s" % (name, pas, t * 1e3, f / t * 1e-9)
      if OURS:
        out = subprocess.run([OURS, "time", name, pas, ALGO, str(reps), str(th)],
                             capture_output=True, text=True).stdout.split("\n")
        for o in out:
          if "ms" in o:
            ms = float(o.split()[3])
            line += " | %-14s %9.3f ms ratio %.2f" % (o.split()[2], ms, t * 1e3 / ms)
      print(line, flush=True)

if __name__ == "__main__":
  main()
