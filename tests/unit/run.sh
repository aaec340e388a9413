#!/usr/bin/env bash
# Run the cmocka unit test binaries given as arguments; print one summary line.
set -euo pipefail

passed=0 failed=0
for t in "$@"; do
  echo "unit: $t"
  out=$(CMOCKA_MESSAGE_OUTPUT=stdout "$t" 2>&1) && rc=0 || rc=$?
  printf '%s\n' "$out"
  p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s += $1} END {print s + 0}')
  f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{s += $1} END {print s + 0}')
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # crashed before its summary
  passed=$((passed + p)) failed=$((failed + f))
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
