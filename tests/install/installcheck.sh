#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `make installcheck`: uses an installed libconv the ways the README tells
# users to, from the install prefix alone (no build-tree paths, no
# LD_LIBRARY_PATH, no CONV_PLUGIN_PATH):
#   convinfo finds its library and the backends in the prefix, and the
#     installed golden cases pass;
#   pkg-config builds and runs examples/hello.c (installed in docdir), and
#     --static lists Libs.private;
#   CMake's find_package(libconv) and libconv::conv build and run it too;
#   the Python binding imports from the prefix and passes the golden set;
#   man convinfo and man 3 libconv render.
# Paths come from make (see tests/install/Makefile.am). A missing optional
# tool (cmake, man, NumPy) is reported as SKIP; INSTALLCHECK_STRICT=1 (CI)
# makes any SKIP a failure.
set -eu
: "${prefix:?}" "${bindir:?}" "${libdir:?}" "${mandir:?}" "${docdir:?}"
: "${pkgdatadir:?}" "${pythondir:?}" "${version:?}" "${srcdir:?}"
: "${top_srcdir:?}"
CC=${CC:-cc}
PYTHON3=${PYTHON3:-python3}
unset CONV_PLUGIN_PATH CONV_BACKEND CONV_GOLDEN_DIR LD_LIBRARY_PATH \
  LIBCONV_LIBRARY PYTHONPATH || true

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
skipped=0
ok() { echo "installcheck: ok    $*"; }
fail() { echo "installcheck: FAIL  $*" >&2; failed=$((failed + 1)); }
skip() { echo "installcheck: SKIP  $*"; skipped=$((skipped + 1)); }

# ---- convinfo: the rpath finds libconv, libconv finds its plugins.
if out=$("$bindir/convinfo" list 2>&1); then
  if printf '%s\n' "$out" | grep -q "^backend cpu .*($libdir/libconv/conv_cpu.so)"; then
    ok "convinfo list: cpu backend from $libdir/libconv"
  else
    fail "convinfo list does not show $libdir/libconv/conv_cpu.so:"
    printf '%s\n' "$out" >&2
  fi
else
  fail "convinfo list: $out"
fi
if "$bindir/convinfo" validate --backend cpu >"$work/validate.log" 2>&1 &&
   grep -q "$pkgdatadir/golden/cases" "$work/validate.log"; then
  ok "convinfo validate --backend cpu on the installed golden cases: $(tail -n 1 "$work/validate.log")"
else
  fail "convinfo validate --backend cpu:"; tail -n 20 "$work/validate.log" >&2
fi

# ---- pkg-config and the installed example.
hello_c="$docdir/examples/hello.c"
[ -f "$hello_c" ] || fail "$hello_c is not installed"
if command -v pkg-config >/dev/null 2>&1; then
  PKG_CONFIG_PATH="$libdir/pkgconfig"
  export PKG_CONFIG_PATH
  v=$(pkg-config --modversion conv 2>&1) || v="error: $v"
  if [ "$v" = "$version" ]; then ok "pkg-config --modversion conv: $v"
  else fail "pkg-config --modversion conv: '$v', expected $version"; fi
  static=$(pkg-config --static --libs conv)
  if printf '%s\n' "$static" | grep -q -- "-lconv" &&
     printf '%s\n' "$static" | grep -q -- "-lm"; then
    ok "pkg-config --static --libs conv: $static"
  else
    fail "pkg-config --static --libs conv lacks -lconv or Libs.private: $static"
  fi
  # shellcheck disable=SC2046
  if $CC -o "$work/hello" "$hello_c" $(pkg-config --cflags --libs conv) \
       -Wl,-rpath,"$libdir" 2>"$work/cc.log" &&
     "$work/hello" >"$work/hello.out" 2>&1; then
    ok "cc hello.c \$(pkg-config --cflags --libs conv) builds and runs"
  else
    fail "hello.c with pkg-config:"; cat "$work/cc.log" "$work/hello.out" >&2 2>/dev/null || true
  fi
else
  skip "pkg-config not installed"
fi

# ---- CMake.
if command -v cmake >/dev/null 2>&1; then
  if cmake -S "$srcdir/cmake" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
       -DHELLO_C="$hello_c" -DCMAKE_C_COMPILER="$CC" \
       -DCMAKE_BUILD_RPATH="$libdir" >"$work/cmake.log" 2>&1 &&
     cmake --build "$work/cmake" >>"$work/cmake.log" 2>&1 &&
     "$work/cmake/hello" >>"$work/cmake.log" 2>&1; then
    ok "CMake find_package(libconv 0.1) + libconv::conv builds and runs hello.c"
  else
    fail "CMake consumer:"; tail -n 30 "$work/cmake.log" >&2
  fi
else
  skip "cmake not installed"
fi

# ---- Python: the installed module, the installed library, the golden set.
if "$PYTHON3" -c "import numpy" 2>/dev/null; then
  cp "$top_srcdir/python/test_libconv.py" "$work/"
  if (cd "$work" && PYTHONPATH="$pythondir" "$PYTHON3" -c "
import libconv, sys
assert libconv.__file__.startswith('$pythondir'), libconv.__file__
assert libconv._lib._name.startswith('$libdir'), libconv._lib._name
") >"$work/py.log" 2>&1 &&
     (cd "$work" && PYTHONPATH="$pythondir" "$PYTHON3" test_libconv.py \
       "$pkgdatadir/golden/cases") >>"$work/py.log" 2>&1; then
    ok "python3: import libconv from $pythondir; $(tail -n 1 "$work/py.log")"
  else
    fail "Python binding:"; grep -v '^ok' "$work/py.log" | tail -n 30 >&2
  fi
else
  skip "NumPy not installed (python3-numpy): Python binding not checked"
fi

# ---- man pages.
if command -v man >/dev/null 2>&1; then
  for page in "1 convinfo" "3 libconv"; do
    # shellcheck disable=SC2086
    if MANWIDTH=80 man -M "$mandir" -P cat $page 2>"$work/man.err" |
         grep -q "libconv"; then
      ok "man -M $mandir $page"
    else
      fail "man $page:"; cat "$work/man.err" >&2
    fi
  done
else
  skip "man not installed (man-db)"
fi

if [ "$failed" -ne 0 ]; then
  echo "installcheck: $failed failed" >&2
  exit 1
fi
if [ "$skipped" -ne 0 ] && [ "${INSTALLCHECK_STRICT:-0}" = 1 ]; then
  echo "installcheck: $skipped skipped, and INSTALLCHECK_STRICT=1" >&2
  exit 1
fi
echo "installcheck: all passed ($skipped skipped)"
