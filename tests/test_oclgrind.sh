#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The opencl backend's kernels under Oclgrind, a strict OpenCL simulator:
# the whole golden set (every op, small problems) through convinfo validate
# with data-race detection and API checks, once per kernel family and
# lowering variant. Any Oclgrind report (out-of-bounds access, data race,
# barrier divergence, API error) or any failed case fails the test.
# Skipped (77) where oclgrind is not installed (.ci/install-deps installs it).
set -u
command -v oclgrind >/dev/null 2>&1 || { echo "oclgrind not installed: skipped"; exit 77; }
convinfo=../tools/convinfo
golden=${CONV_GOLDEN_DIR:-$(dirname "$0")/golden/cases}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
n=0
# run [VAR=VALUE...]: the golden set (or the cases of $cases) with those
# settings.
cases='*'
run() {
  n=$((n + 1))
  echo "== oclgrind: ${*:-defaults} (cases $cases)"
  env "$@" CONV_CACHE_DIR=off oclgrind --data-races --check-api \
      --log "$tmp/log$n" "$convinfo" validate --backend opencl \
      --golden "$golden" --case "$cases" >"$tmp/out$n" 2>&1
  rc=$?
  tail -n 1 "$tmp/out$n"
  if [ "$rc" -ne 0 ] || [ -s "$tmp/log$n" ]; then
    echo "FAILED (exit $rc): ${*:-defaults}"
    grep -v PASS "$tmp/out$n" | head -n 40
    head -n 60 "$tmp/log$n"
    status=1
  fi
}
run
run CONV_OPENCL_GEMM=tiled:mwg=16,nwg=16,kwg=8,mdimc=4,ndimc=4 \
    CONV_OPENCL_LOWERING=elements
run CONV_OPENCL_GEMM=tiled:mwg=32,nwg=16,kwg=4,mdimc=8,ndimc=4 \
    CONV_OPENCL_WGRAD_SLICES=3
run CONV_OPENCL_GEMM=vec:tm=3,vw=4,nv=3,lm=2,ln=2 CONV_OPENCL_LOWERING=rows
run CONV_ALGO=direct CONV_OPENCL_LOWERING=rows
run CONV_ALGO=direct CONV_OPENCL_LOWERING=elements
# Winograd forced on 3x3, stride 1, dilation 1 cases (every padding mode,
# groups, odd sizes), with panels (vec) and plane by plane (tiled).
for cases in basic_3x3_bias batch3_bias circular_pad4_asym groups2 \
    reflect_pad4_asym replicate_big_pad odd_cout_13 seed_three_channel; do
  run CONV_ALGO=fwd=winograd_f2x2 CONV_OPENCL_LOWERING=rows \
      CONV_OPENCL_GEMM=vec:tm=3,vw=4,nv=3,lm=2,ln=2
  run CONV_ALGO=fwd=winograd_f2x2 \
      CONV_OPENCL_GEMM=tiled:mwg=16,nwg=16,kwg=8,mdimc=4,ndimc=4
done
# Winograd's backward data (zero padding, pads <= 2) forced likewise.
for cases in basic_3x3_bias batch3_bias groups2 odd_cout_13 \
    seed_three_channel; do
  run CONV_ALGO=bwd_data=winograd_f2x2 CONV_OPENCL_LOWERING=rows \
      CONV_OPENCL_GEMM=vec:tm=3,vw=4,nv=3,lm=2,ln=2
  run CONV_ALGO=bwd_data=winograd_f2x2 \
      CONV_OPENCL_GEMM=tiled:mwg=16,nwg=16,kwg=8,mdimc=4,ndimc=4
done
exit $status
