#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Doxygen INPUT_FILTER for conv.h: its plain comments become Doxygen ones
# for rendering only (a comment above a declaration documents it; one after
# a member, on the same line, documents that member).
sed -e 's|^\([ ]*\)/\*\([^*]\)|\1/**\2|' \
    -e 's|\([;,{]\)\([ ]*\)/\*\([^*]\)|\1\2/**<\3|' "$1"
