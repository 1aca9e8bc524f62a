#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# make check for the tools: the C and Python suite parsers agree, argument
# errors exit 2, malformed golden cases fail cleanly, and the cpu backend
# passes a few golden cases. Run from the tools build directory.
set -u
srcdir=${srcdir:-.}
PYTHON3=${PYTHON3:-/usr/bin/python3}
CONVINFO=${CONVINFO:-./convinfo}
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
fails=0

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# Exit status of a command, its output discarded.
status() { "$@" >/dev/null 2>&1; echo $?; }

# --- the two parsers print the same layers, and reject the same lines -----
have_py=0
"$PYTHON3" -c 'import sys' 2>/dev/null && have_py=1
cat >"$tmp/ok.suite" <<'EOF'
# comment

a n=2 c_in=4 h=9 c_out=6 kernel=3,2 stride=2,1 padding=1,0 dilation=1,2 groups=2 bias=0
b n=1 c_in=3 h=8 w=5 c_out=3 kernel=3 padding=same padding_mode=circular  # tail
c n=1 c_in=3 h=8 c_out=3 kernel=3 padding=1,0,2,1 padding_mode=replicate
n=1 c_in=3 h=8 c_out=3 kernel=1 padding=valid
g32mb8ic128ih28oc128oh28kh3ph1n"resnext"
named mb2ic8ih14oc8oh7kh3sh2ph1n"ignored"
dil ic4ih10iw12oc4kh3kw1dh1oh8
sq ic4ih10oc4kh3dh1sh2ph2
EOF
"$CONVINFO" bench --suite "$tmp/ok.suite" --dry-run >"$tmp/c.out" 2>&1 ||
  fail "convinfo rejects ok.suite: $(cat "$tmp/c.out")"
grep -q '^resnext n=8 c_in=128 h=28 w=28 c_out=128 kernel=3,3 stride=1,1 padding=1,1,1,1 dilation=1,1 groups=32 ' "$tmp/c.out" ||
  fail "benchdnn string parsed wrongly: $(cat "$tmp/c.out")"
grep -q '^dil .* w=12 .* kernel=3,1 stride=1,1 padding=1,1,0,0 dilation=2,1 ' "$tmp/c.out" ||
  fail "benchdnn w axis/ph derivation wrong: $(grep '^dil' "$tmp/c.out")"
grep -q '^sq .* w=10 .* kernel=3,3 stride=2,2 padding=2,2,2,2 dilation=2,2 ' "$tmp/c.out" ||
  fail "benchdnn square shape wrong: $(grep '^sq' "$tmp/c.out")"
for s in "$tmp/ok.suite" "$srcdir/suites/default.suite" \
         "$srcdir/suites/smoke.suite"; do
  [ $have_py = 1 ] || break
  "$CONVINFO" bench --suite "$s" --dry-run >"$tmp/c.out" 2>&1
  "$PYTHON3" "$srcdir/bench_torch.py" --suite "$s" --dry-run >"$tmp/p.out" 2>&1
  cmp -s "$tmp/c.out" "$tmp/p.out" ||
    fail "parsers differ on $s: $(diff "$tmp/c.out" "$tmp/p.out")"
done
n=$("$CONVINFO" bench --suite "$srcdir/suites/default.suite" --dry-run | wc -l)
[ "$n" = 14 ] || fail "default suite has $n layers, not 14"

while IFS= read -r line; do
  printf '# x\n%s\n' "$line" >"$tmp/bad.suite"
  out=$("$CONVINFO" bench --suite "$tmp/bad.suite" --dry-run 2>&1)
  [ $? = 2 ] || fail "convinfo accepts '$line'"
  case $out in *bad.suite:2:*) ;; *) fail "no line number for '$line': $out";; esac
  if [ $have_py = 1 ]; then
    [ "$(status "$PYTHON3" "$srcdir/bench_torch.py" --suite "$tmp/bad.suite" --dry-run)" = 2 ] ||
      fail "bench_torch.py accepts '$line'"
  fi
done <<'EOF'
a n=1 c_in=3 h=8 c_out=4 kernel=3 foo=1
a n=1 c_in=3 h=8 c_out=4
a n=1 c_in=3 h=8 c_out=4 kernel=3 padding=1,2,3
a n=1 c_in=3 h=8 c_out=4 kernel=3 groups=2
a n=1 c_in=3 h=8 c_out=4 kernel=3 padding_mode=mirror
a n=1 c_in=3 h=8 c_out=4 kernel=3 bias=2
a n=1 c_in=3 h=8 c_out=4 kernel=3,
a n=1 c_in=3 h=2 c_out=4 kernel=3 padding=2 padding_mode=reflect
a n=1 c_in=3 h=8 c_out=4 kernel=3 stride=2 padding=same
b mb2ic8ih14oc8oh8kh3sh2ph1
b mb2ic8ih14oc8kh3id3
b ic8oc8kh3
a b c
EOF

# --- argument errors exit 2 -----------------------------------------------
for args in "frobnicate" "list --bogus" "validate --bogus" "validate extra" \
            "bench --threads 0" "bench --repeat x" "bench --nope" \
            "bench --suite /nonexistent/x.suite" "bench --layer no_such_layer"; do
  # shellcheck disable=SC2086
  [ "$(status "$CONVINFO" $args)" = 2 ] || fail "convinfo $args: not exit 2"
done

# --- validate: malformed cases are FAIL lines, never a crash --------------
mal="$srcdir/../tests/golden/malformed"
if [ -d "$mal" ]; then
  "$CONVINFO" validate --backend cpu --golden "$mal" >"$tmp/m.out" 2>&1
  rc=$?
  [ $rc = 1 ] || fail "validate on malformed cases: exit $rc, expected 1"
  grep -q '^0 passed' "$tmp/m.out" ||
    fail "a malformed case passed: $(cat "$tmp/m.out")"
fi
cases="$srcdir/../tests/golden/cases"
if [ -d "$cases" ]; then
  "$CONVINFO" validate --backend cpu --golden "$cases" --case 'basic*' \
    >"$tmp/v.out" 2>&1 || fail "validate basic*: $(cat "$tmp/v.out")"
  "$CONVINFO" validate --backend cpu --golden "$cases" --case 'basic*' --json \
    >"$tmp/v.json" 2>&1
  if [ $have_py = 1 ]; then
    "$PYTHON3" -m json.tool "$tmp/v.json" >/dev/null 2>&1 ||
      fail "validate --json is not JSON"
    "$CONVINFO" list --json >"$tmp/l.json" 2>&1
    "$PYTHON3" -m json.tool "$tmp/l.json" >/dev/null 2>&1 ||
      fail "list --json is not JSON"
  fi
fi

[ $fails = 0 ] && echo "all tools checks passed"
[ $fails = 0 ]
