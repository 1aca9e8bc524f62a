#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The opencl backend's kernel variants that its defaults do not pick on
# this device, each through test_random (random descriptors x four ops
# against float64 loop nests, every algorithm forced): the other GEMM
# family and odd tile shapes (edge tiles everywhere), the other lowering
# kernels, and a forced split-K weight gradient. Skipped (77) without an
# OpenCL device.
set -u
cases=${CONV_TEST_VARIANT_CASES:-40}
out=$(CONV_TEST_BACKENDS=opencl CONV_TEST_RANDOM_CASES=1 ./test_random 2>&1)
case "$out" in
  *"backend opencl"*) ;;
  *) echo "no usable opencl backend: skipped"; exit 77 ;;
esac
status=0
run() {
  echo "== $*"
  if ! env CONV_TEST_BACKENDS=opencl CONV_TEST_RANDOM_CASES="$cases" "$@" \
      ./test_random; then
    echo "FAILED: $*"
    status=1
  fi
}
run CONV_OPENCL_GEMM=tiled:mwg=32,nwg=32,kwg=8,mdimc=8,ndimc=8 \
    CONV_OPENCL_LOWERING=elements
run CONV_OPENCL_GEMM=tiled:mwg=64,nwg=32,kwg=16,mdimc=16,ndimc=8 \
    CONV_OPENCL_WGRAD_SLICES=3
run CONV_OPENCL_GEMM=vec:tm=3,vw=4,nv=3,lm=2,ln=2 CONV_OPENCL_LOWERING=rows
run CONV_OPENCL_GEMM=vec:tm=5,vw=2,nv=3,lm=1,ln=3 CONV_OPENCL_LOWERING=rows \
    CONV_OPENCL_WGRAD_SLICES=5
# Wide rows (the CPU row kernels' segments, and their lane-by-lane
# fallback for taps wider than a line).
run CONV_TEST_RANDOM_WIDE=1 CONV_TEST_RANDOM_CASES=20
run CONV_OPENCL_GEMM=vec:tm=5,vw=1,nv=2,lm=1,ln=3 \
    CONV_OPENCL_LOWERING=elements CONV_OPENCL_WGRAD_SLICES=5
# The epilogues (bias, fused activation) of the GPU-style kernels and of
# the tiled GEMM, which the defaults do not pick on a CPU device: the
# element-wise direct and col2im stores, and sigmoid/tanh/silu applied in
# the store rather than by the bias_act pass. test_layers runs every
# forward and backward-data path with them (and the cpu backend again).
echo "== test_layers with CONV_OPENCL_LOWERING=elements and a tiled GEMM"
if ! env CONV_OPENCL_LOWERING=elements \
    CONV_OPENCL_GEMM=tiled:mwg=32,nwg=32,kwg=8,mdimc=8,ndimc=8 ./test_layers \
    >test_opencl_variants_layers.out 2>&1; then
  tail -n 20 test_opencl_variants_layers.out
  echo "FAILED: test_layers with elements lowering and a tiled GEMM"
  status=1
fi
grep "backend opencl" test_opencl_variants_layers.out
exit $status
