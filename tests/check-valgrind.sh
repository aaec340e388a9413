#!/usr/bin/env bash
# make check-valgrind: each unit test binary under valgrind's memcheck; an
# error (invalid read or write, use of uninitialised memory, a definite
# leak) fails it (--error-exitcode). Usage: check-valgrind.sh UNIT_TEST...
set -euo pipefail

failed=0
for t in "$@"; do
  echo "valgrind: $t"
  start=$(date +%s)
  if CMOCKA_MESSAGE_OUTPUT=stdout valgrind -q --error-exitcode=1 --leak-check=full \
       --errors-for-leak-kinds=definite --show-leak-kinds=definite "$t" > "$t.valgrind" 2>&1; then
    echo "valgrind: $t ok ($(( $(date +%s) - start ))s)"
  else
    echo "valgrind: $t FAILED:"
    grep -v '^\[' "$t.valgrind" | head -60
    failed=$((failed + 1))
  fi
done
echo "valgrind: $# binaries, $failed failed"
[ "$failed" -eq 0 ]
