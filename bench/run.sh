#!/usr/bin/env bash
# Benchmark: patched BIRD with autopilot against stock BIRD 2.17.5, and the
# override front ends against GoBGP and ExaBGP (bench/bench.py says what).
# Usage: run.sh PATCHED_DIR STOCK_DIR [README] [bench.py options]
# Sizes: BENCH_V4, BENCH_V6, BENCH_RUNS, BENCH_OVERRIDES, ... or options;
# --quick for a small run. With README, the table goes into its
# Performance section (between <!-- bench:start --> and <!-- bench:end -->).
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "bench: needs root (network namespaces, veth links)" >&2
  exit 1
fi
if [ $# -lt 2 ]; then
  echo "usage: $0 PATCHED_DIR STOCK_DIR [README] [options]" >&2
  exit 2
fi
patched=$1 stock=$2
shift 2
readme=()
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  readme=(--readme "$1")
  shift
fi
here=$(cd "$(dirname "$0")" && pwd)
# No bytecode or cache in the source tree (it may be read-only).
export PYTHONDONTWRITEBYTECODE=1
echo "bench: patched BIRD $patched, stock BIRD $stock${readme:+, table into ${readme[1]}}"
exec python3 "$here/bench.py" --patched "$patched" --stock "$stock" "${readme[@]}" "$@"
