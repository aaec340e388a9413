#!/usr/bin/env bash
# Configure (once) and build bird-autopilot in _build/ of the source tree.
# Extra arguments go to configure, e.g. --with-bird-tarball=FILE.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/_build}

if [ ! -x "$top/configure" ]; then
  echo "build: autoreconf -i in $top"
  (cd "$top" && autoreconf -i)
fi
mkdir -p "$build"
if [ ! -f "$build/Makefile" ] || [ $# -gt 0 ]; then
  echo "build: configure in $build $*"
  (cd "$build" && "$top/configure" "$@")
fi
echo "build: make in $build"
make -C "$build" -j"$(nproc)" bird-patched bird-stock
