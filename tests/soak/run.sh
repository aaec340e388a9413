#!/usr/bin/env bash
# Soaks: crash, flap and memory soaks of the switch (README, "Reliability").
# Usage: run.sh crash|flap|memory PATCHED_DIR STOCK_DIR OUTDIR [SOAK_ARGS...]
# Root (network namespaces). Not part of make check: minutes to an hour each.
# Figures go to OUTDIR/<soak>.json (and memory-samples.csv); exit 1 on a failure.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "soak: needs root (network namespaces, veth links); not running" >&2
  exit 1
fi
if [ $# -lt 4 ]; then
  echo "usage: $0 crash|flap|memory PATCHED_DIR STOCK_DIR OUTDIR [ARGS...]" >&2
  exit 2
fi
soak=$1
case "$soak" in crash|flap|memory) ;; *) echo "soak: unknown soak '$soak'" >&2; exit 2 ;; esac
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$4"
export PYTHONDONTWRITEBYTECODE=1
echo "soak: $soak, patched BIRD $2, stock BIRD $3, figures in $4 (started $(date -u '+%F %T') UTC)"
exec python3 -u "$here/soak_$soak.py" "$2" "$3" "$4" "${@:5}"
