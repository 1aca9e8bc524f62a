#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# make check: the filter example on the shipped picture; both outputs must
# be PNG files of the input's size (filter also checks pixels itself).
set -eu
rm -f house-blur.png house-edges.png
./filter "$srcdir/house.pgm" house-blur.png house-edges.png
for f in house-blur.png house-edges.png; do
  # Signature, then the IHDR chunk: width 128 and height 96, big-endian.
  sig=$(od -An -tx1 -N24 "$f" | tr -d ' \n')
  case "$sig" in
    89504e470d0a1a0a0000000d494844520000008000000060) ;;
    *) echo "run_filter: $f is not a 128x96 PNG ($sig)" >&2; exit 1 ;;
  esac
done
