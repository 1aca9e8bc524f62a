#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The cpu backend at every ISA level this machine can run, below the one it
# picks by itself (that one is what the rest of `make check` tests): for
# each level, CONV_CPU_ISA=<level> caps the kernel table, convinfo must
# report that level in use, and the backend's self-test, test_random and
# test_golden must pass there. A level the processor lacks (by
# /proc/cpuinfo) must be refused with a message naming the variable; bad
# values must be refused the same way, never ignored.
#
# CONV_TEST_ISA_CASES: random cases per level for test_random and the
# self-test (default 100). The BLAS the backend calls below AVX-512 picks
# its own kernels: OpenBLAS is pinned to the level with OPENBLAS_CORETYPE
# (Haswell for avx2, Prescott for generic) unless that is set already.
set -u
cases=${CONV_TEST_ISA_CASES:-100}
convinfo=../tools/convinfo
selftest=../backends/cpu/cpu_selftest
for prog in "$convinfo" "$selftest" ./test_random ./test_golden; do
  if [ ! -x "$prog" ]; then
    echo "FAIL: $prog is not built"
    exit 1
  fi
done
status=0
fail() {
  echo "FAIL: $*"
  status=1
}

# What the processor offers, read independently of the backend.
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
has() {
  for f in "$@"; do
    case " $flags " in *" $f "*) ;; *) return 1 ;; esac
  done
  return 0
}
if [ -z "$flags" ]; then
  echo "no /proc/cpuinfo flags: levels cannot be checked; skipped"
  exit 77
fi
hw=generic
if has avx2 fma; then hw=avx2; fi
if has avx2 fma avx512f avx512bw avx512vl avx512dq; then hw=avx512; fi
echo "processor: $hw ($(grep -m1 '^model name' /proc/cpuinfo | sed 's/.*: //'))"

# The level the backend uses by itself is the processor's.
out=$(env -u CONV_CPU_ISA "$convinfo" list 2>&1)
echo "$out" | grep -q "^ *isa: $hw\$" ||
  fail "convinfo list without CONV_CPU_ISA does not show 'isa: $hw': $(echo "$out" | grep isa:)"

rank() {
  case $1 in generic) echo 0 ;; avx2) echo 1 ;; avx512) echo 2 ;; esac
}
for level in avx512 avx2 generic; do
  if [ "$(rank $level)" -gt "$(rank $hw)" ]; then
    # Above the processor: refused, naming the variable and the value.
    out=$(CONV_CPU_ISA=$level "$convinfo" validate --backend cpu 2>&1)
    rc=$?
    if [ $rc -eq 0 ] ||
      ! echo "$out" | grep -q "CONV_CPU_ISA=$level: this processor cannot run"; then
      fail "CONV_CPU_ISA=$level on a $hw processor was not refused: $out"
    else
      echo "ok: CONV_CPU_ISA=$level refused on this $hw processor"
    fi
    continue
  fi
  out=$(CONV_CPU_ISA=$level "$convinfo" list 2>&1)
  if ! echo "$out" | grep -q "^ *isa: $level\( (CONV_CPU_ISA; the processor runs $hw)\)\{0,1\}\$"; then
    fail "CONV_CPU_ISA=$level: convinfo list shows $(echo "$out" | grep 'isa:')"
    continue
  fi
  echo "ok: CONV_CPU_ISA=$level: $(echo "$out" | grep 'isa:' | sed 's/^ *//')"
  # The processor's own level is tested by the rest of make check.
  [ "$level" = "$hw" ] && continue
  case $level in
    avx2) core=Haswell ;;
    *) core=Prescott ;;
  esac
  echo "== CONV_CPU_ISA=$level: cpu_selftest $cases"
  CONV_CPU_ISA=$level OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-$core} \
    "$selftest" "$cases" >selftest-isa-$level.out 2>&1 ||
    fail "CONV_CPU_ISA=$level: cpu_selftest (selftest-isa-$level.out): $(grep FAIL selftest-isa-$level.out | head -5)"
  tail -n 1 selftest-isa-$level.out
  grep -q "^isa: table $level " selftest-isa-$level.out ||
    fail "CONV_CPU_ISA=$level: the self-test did not run the $level table"
  rm -f selftest-isa-$level.out
  echo "== CONV_CPU_ISA=$level: test_random ($cases cases), test_golden"
  # Each must have run the cpu backend (a backend it cannot open is left
  # out of their lists, not failed).
  for t in test_random test_golden; do
    CONV_CPU_ISA=$level OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-$core} \
      CONV_TEST_BACKENDS=cpu CONV_TEST_RANDOM_CASES=$cases ./$t \
      >$t-isa-$level.out 2>&1 || fail "CONV_CPU_ISA=$level: $t"
    cat $t-isa-$level.out
    grep -q "backend cpu" $t-isa-$level.out ||
      fail "CONV_CPU_ISA=$level: $t did not run the cpu backend"
    rm -f $t-isa-$level.out
  done
done

# Bad values: refused by name (the backend is never used with a setting
# dropped), by name and by default.
for bad in bogus avx 3 "avx2,generic" \
  "$(printf '%040d' 0)"; do
  hows="cpu"
  # The default backend too, where it is cpu (no GPU): it must not fall
  # back to another backend past a bad setting.
  if env -u CONV_CPU_ISA "$convinfo" list 2>/dev/null |
    grep -q '^default backend.*: cpu '; then
    hows="$hows default"
  fi
  for how in $hows; do
    if [ "$how" = cpu ]; then
      out=$(CONV_CPU_ISA=$bad "$convinfo" validate --backend cpu 2>&1)
    else
      out=$(CONV_CPU_ISA=$bad "$convinfo" validate 2>&1)
    fi
    rc=$?
    if [ $rc -eq 0 ] || ! echo "$out" | grep -q "CONV_CPU_ISA="; then
      fail "CONV_CPU_ISA='$bad' (backend: $how) was not refused: $(echo "$out" | head -3)"
    fi
  done
done
# Blank is unset; white space around a word is trimmed.
for ok in "" " " " avx2 " "GENERIC"; do
  CONV_CPU_ISA=$ok "$convinfo" list >/dev/null 2>&1 ||
    fail "CONV_CPU_ISA='$ok' was refused"
done
[ $status -eq 0 ] && echo "all ISA levels this machine runs: pass"
exit $status
