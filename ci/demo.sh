#!/usr/bin/env bash
# Demo POP in network namespaces: two transits (stock BIRD, gobgpd), a patched
# switch and two patched hosts. Feeds generated tables, waits for them to
# reach the hosts with their egress labels, prints what an operator looks at
# (egress table, a host's labeled route, the LFIB), moves one prefix to the
# other egress with an override, then tears down.
# Usage: ci/demo.sh PATCHED_DIR STOCK_DIR [--keep]
#        ci/demo.sh --teardown        (remove a demo left by --keep)
# Exits non-zero if a step does not happen.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
export PYTHONDONTWRITEBYTECODE=1

if [ "$(id -u)" -ne 0 ]; then
  echo "demo: needs root (network namespaces, veth links)" >&2
  exit 1
fi
if [ "${1:-}" = "--teardown" ]; then
  echo "demo: tearing down kept demos"
  exec python3 "$root/tests/integration/demo.py" --teardown
fi
if [ $# -lt 2 ]; then
  echo "usage: $0 PATCHED_DIR STOCK_DIR [--keep] | $0 --teardown" >&2
  exit 2
fi

echo "demo: patched BIRD $1, stock BIRD $2"
exec python3 "$root/tests/integration/demo.py" --patched "$1" --stock "$2" "${@:3}"
