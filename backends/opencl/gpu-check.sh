#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Checks the opencl backend on a machine with an NVIDIA GPU (or any OpenCL
# device): finds the vendor's OpenCL library, lists devices, runs the
# backend's self-test on the GPU and prints layer timings.
#
#   gpu-check.sh BUILD [LIBDIR...]
#
# BUILD: a configured build tree (uses backends/opencl/.libs/conv_opencl.so,
#   backends/opencl/selftest, tools/convinfo), or a folder holding
#   conv_opencl.so and selftest.
# LIBDIR: folders with libraries this machine lacks, e.g. Debian packages
#   unpacked with dpkg -x (ocl-icd-libopencl1, libclblast1); DIR,
#   DIR/usr/lib/x86_64-linux-gnu and DIR/lib/x86_64-linux-gnu are searched.
# Environment: OCL_ICD_FILENAMES, OCL_ICD_VENDORS (extended or made), SELFTEST_CASES (default 200),
#   SELFTEST_ARGS (extra arguments), POCL_CACHE_DIR.
set -u
build=${1:-.}
[ $# -gt 0 ] && shift

for d in "$@"; do
  d=$(cd "$d" && pwd) || continue
  for sub in "" /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib /usr/lib64; do
    if [ -d "$d$sub" ]; then
      LD_LIBRARY_PATH="$d$sub${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
  done
done
export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}"

# The NVIDIA OpenCL driver, put first in OCL_ICD_FILENAMES (by absolute path,
# ahead of anything the environment already lists there).
nv=
for f in /usr/lib/x86_64-linux-gnu/libnvidia-opencl.so.1 \
         /usr/local/nvidia/lib64/libnvidia-opencl.so.1 \
         /usr/local/nvidia/lib/libnvidia-opencl.so.1 \
         /usr/lib64/libnvidia-opencl.so.1; do
  if [ -e "$f" ]; then nv=$f; break; fi
done
if [ -z "$nv" ] && command -v ldconfig >/dev/null 2>&1; then
  nv=$(ldconfig -p 2>/dev/null | sed -n 's/.*libnvidia-opencl\.so\.1.*=> *//p' | head -n 1)
fi
if [ -z "$nv" ]; then
  nv=$(find /usr/local/nvidia /usr/lib /usr/lib64 -name 'libnvidia-opencl.so.1' 2>/dev/null | head -n 1)
fi
if [ -n "$nv" ]; then
  case ":${OCL_ICD_FILENAMES:-}:" in
    *":$nv:"*) ;;
    *) OCL_ICD_FILENAMES="$nv${OCL_ICD_FILENAMES:+:$OCL_ICD_FILENAMES}" ;;
  esac
  export OCL_ICD_FILENAMES
  # OCL_ICD_FILENAMES is the Khronos loader's; ocl-icd (Debian's
  # libOpenCL.so.1) reads only OCL_ICD_VENDORS, a folder of .icd files.
  if [ -z "${OCL_ICD_VENDORS:-}" ]; then
    vend=${TMPDIR:-/tmp}/gpu-check-vendors.$$
    mkdir -p "$vend" && echo "$nv" > "$vend/nvidia.icd"
    for f in /etc/OpenCL/vendors/*.icd; do
      [ -e "$f" ] && [ "$(basename "$f")" != nvidia.icd ] && cp "$f" "$vend/"
    done
    OCL_ICD_VENDORS=$vend
    export OCL_ICD_VENDORS
    trap 'rm -rf "$vend"' EXIT
  fi
  # The driver's own folder holds what it loads (libnvidia-ptxjitcompiler...).
  LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$(dirname "$nv")"
  echo "gpu-check: NVIDIA OpenCL driver $nv"
  ldd "$nv" 2>/dev/null | grep 'not found'
else
  echo "gpu-check: no libnvidia-opencl.so.1 found; using the ICD loader's vendors"
fi
echo "gpu-check: OCL_ICD_FILENAMES=${OCL_ICD_FILENAMES:-} OCL_ICD_VENDORS=${OCL_ICD_VENDORS:-}"
echo "gpu-check: LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L
clinfo=$(command -v clinfo 2>/dev/null)
for d in "$@"; do
  [ -z "$clinfo" ] && [ -x "$d/usr/bin/clinfo" ] && clinfo=$d/usr/bin/clinfo
done
if [ -n "$clinfo" ]; then
  echo "== clinfo -l"
  "$clinfo" -l
fi

plugin=
for f in "$build/backends/opencl/.libs/conv_opencl.so" "$build/conv_opencl.so"; do
  [ -e "$f" ] && { plugin=$f; break; }
done
selftest=
for f in "$build/backends/opencl/selftest" "$build/selftest"; do
  [ -x "$f" ] && { selftest=$f; break; }
done
if [ -z "$selftest" ] && [ -f "$build/backends/opencl/Makefile" ]; then
  make -C "$build/backends/opencl" selftest >/dev/null && selftest="$build/backends/opencl/selftest"
fi
if [ -z "$plugin" ] || [ -z "$selftest" ]; then
  echo "gpu-check: conv_opencl.so or selftest not found under $build" >&2
  exit 1
fi
echo "gpu-check: plugin $plugin"
ldd "$plugin" | grep -E 'OpenCL|clblast|not found'

if [ -x "$build/tools/convinfo" ]; then
  echo "== convinfo list"
  CONV_PLUGIN_PATH="$(dirname "$plugin")" "$build/tools/convinfo" list || true
fi

echo "== selftest (device 0: GPUs are listed first)"
status=0
"$selftest" --plugin "$plugin" --cases "${SELFTEST_CASES:-200}" --time ${SELFTEST_ARGS:-} || status=$?
echo "gpu-check: selftest exit status $status"
exit $status
