#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# make check: convinfo's messages and exit codes as a new user meets them
# (issue 10, defects 4 and 5): option errors name the option; a missing
# --golden folder is a bad argument (2) like a missing --suite; a
# CONV_BACKEND an application could not open fails list and the overview;
# the overview's table does not cut device names; bench says how many runs,
# their spread and the thread count used; PoCL's CPU device is "type: cpu";
# the first OpenCL plan says it is compiling kernels (the backend's
# CONV_PROGRESS line, which convinfo turns on). Run from tools/.
set -u
srcdir=${srcdir:-.}
CONVINFO=${CONVINFO:-./convinfo}
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
cases="$srcdir/../tests/golden/cases"

# --- option errors name the option ------------------------------------------
for cmd in validate bench; do
  "$CONVINFO" $cmd --bogus >/dev/null 2>"$tmp/e"; rc=$?
  [ $rc = 2 ] || fail "$cmd --bogus: exit $rc"
  grep -q "unknown option '--bogus'" "$tmp/e" || fail "$cmd --bogus: $(head -1 "$tmp/e")"
done
"$CONVINFO" validate --golden >/dev/null 2>"$tmp/e"; rc=$?
[ $rc = 2 ] || fail "validate --golden (no argument): exit $rc"
grep -q "option '--golden' needs an argument" "$tmp/e" ||
  fail "validate --golden: $(head -1 "$tmp/e")"

# --- a path that is not there: 2 for both commands --------------------------
"$CONVINFO" validate --golden "$tmp/nonexistent" >/dev/null 2>"$tmp/e"; rc=$?
[ $rc = 2 ] || fail "validate --golden /nonexistent: exit $rc, expected 2"
grep -q -- "--golden $tmp/nonexistent" "$tmp/e" || fail "validate --golden: $(cat "$tmp/e")"
"$CONVINFO" bench --suite "$tmp/nonexistent" >/dev/null 2>&1; rc=$?
[ $rc = 2 ] || fail "bench --suite /nonexistent: exit $rc, expected 2"

# --- CONV_BACKEND that an application could not open -------------------------
CONV_BACKEND=no_such_backend "$CONVINFO" list >"$tmp/o" 2>&1; rc=$?
[ $rc = 1 ] || fail "CONV_BACKEND=no_such_backend convinfo list: exit $rc, expected 1"
grep -q "default backend (CONV_BACKEND=no_such_backend): FAILED" "$tmp/o" ||
  fail "list does not report the failing default: $(tail -2 "$tmp/o")"
"$CONVINFO" list >"$tmp/o" 2>&1 || fail "convinfo list: exit $?"
grep -q "^default backend (the best available): " "$tmp/o" ||
  fail "list does not name the default backend"

# --- the overview on one small case: the default fails it, names stay whole ---
mkdir "$tmp/one"
cp -r "$cases/basic_3x3_bias" "$tmp/one/"
CONV_GOLDEN_DIR="$tmp/one" CONV_BACKEND=no_such_backend "$CONVINFO" >"$tmp/o" 2>&1; rc=$?
[ $rc = 1 ] || fail "CONV_BACKEND=no_such_backend convinfo: exit $rc, expected 1"
CONV_GOLDEN_DIR="$tmp/one" "$CONVINFO" >"$tmp/o" 2>"$tmp/e"; rc=$?
[ $rc = 0 ] || fail "convinfo on one case: exit $rc: $(tail -5 "$tmp/o")"
sed -n '/^backend  *device/,$p' "$tmp/o" >"$tmp/table"
sed -n 's/^  device [0-9]*: //p' "$tmp/o" | sed 's/ (GPU)$//' |
  while IFS= read -r dev; do
    grep -q -F -- "$dev" "$tmp/table" || echo "$dev" >>"$tmp/cut"
  done
[ -s "$tmp/cut" ] && fail "the summary cuts device names: $(cat "$tmp/cut")"
if grep -q "^backend opencl" "$tmp/o" && ! grep -q "skipped" "$tmp/o"; then
  # The backend says it (CONV_PROGRESS, on in convinfo) unless its kernel
  # cache already holds them.
  CONV_CACHE_DIR=off CONV_GOLDEN_DIR="$tmp/one" "$CONVINFO" validate \
    --backend opencl >/dev/null 2>"$tmp/e2"
  grep -q "compiling OpenCL kernels" "$tmp/e2" ||
    fail "no note about compiling OpenCL kernels: $(cat "$tmp/e2")"
  if grep -q "platform: Portable Computing Language" "$tmp/o"; then
    grep -q "^    type: cpu" "$tmp/o" || fail "PoCL's CPU device is not type: cpu"
  fi
fi

# --- bench: runs, spread, threads actually used -------------------------------
"$CONVINFO" bench --backend cpu --suite smoke --layer smoke_3x3 --repeat 3 \
  --min-time 0 >"$tmp/b" 2>&1 || fail "bench smoke_3x3: $(cat "$tmp/b")"
grep -q "^threads: [0-9][0-9]* (" "$tmp/b" || fail "bench: no thread count: $(grep threads "$tmp/b")"
grep -q " runs  *spread " "$tmp/b" || fail "bench: no runs/spread columns"
grep -q "^smoke_3x3 .* forward  *[0-9.]*  *3 " "$tmp/b" || fail "bench: forward did not report 3 runs: $(cat "$tmp/b")"
"$CONVINFO" bench --backend cpu --suite smoke --layer smoke_3x3 --repeat 3 \
  --min-time 0 --threads 1 >"$tmp/b" 2>&1
grep -q "^threads: 1 (CONV_NUM_THREADS)" "$tmp/b" || fail "bench --threads 1: $(grep threads "$tmp/b")"

[ $fails = 0 ] && echo "all convinfo usability checks passed"
[ $fails = 0 ]
