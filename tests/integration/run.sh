#!/usr/bin/env bash
# Integration tests: real BIRD, gobgpd, ExaBGP and FRR in network namespaces.
# Usage: run.sh PATCHED_DIR STOCK_DIR [PYTEST_ARGS...]   (each dir holding bird and birdc)
#   e.g. run.sh _build/bird/patched _build/bird/stock -k switch_role
# The last line printed is pytest's summary.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "integration: needs root (network namespaces, veth links); not running" >&2
  exit 1
fi
if [ $# -lt 2 ]; then
  echo "usage: $0 PATCHED_DIR STOCK_DIR [PYTEST_ARGS...]" >&2
  exit 2
fi
for d in "$1" "$2"; do
  for b in bird birdc; do
    [ -x "$d/$b" ] || { echo "integration: $d/$b not found" >&2; exit 1; }
  done
done

BIRD_PATCHED=$(cd "$1" && pwd)
BIRD_STOCK=$(cd "$2" && pwd)
export BIRD_PATCHED BIRD_STOCK
here=$(cd "$(dirname "$0")" && pwd)

echo "integration: patched BIRD $BIRD_PATCHED, stock BIRD $BIRD_STOCK"
# No bytecode or cache in the source tree (it may be read-only, as in distcheck).
export PYTHONDONTWRITEBYTECODE=1
exec pytest-3 -v -p no:cacheprovider --durations=0 --rootdir "$here" "$here" "${@:3}"
