#!/usr/bin/env bash
# make check-asan: the unit tests built against the sanitizer build of BIRD
# (clang, AddressSanitizer with leak checking, UndefinedBehaviorSanitizer),
# then the integration tests with that build's bird and birdc. Any report
# fails the run: each process writes its reports to a file of its own under
# a log directory (log_path), and the run fails if one is there at the end,
# whatever the tests said. Daemons that exit (SIGTERM, "down") are checked
# for leaks at exit; a kill -9 leaves no report.
# Usage: check-asan.sh SRCDIR SAN_BIRD_DIR STOCK_BIRD_DIR UNIT_TEST...
set -euo pipefail

src=$(cd "$1" && pwd) san=$(cd "$2" && pwd) stock=$(cd "$3" && pwd)
shift 3

logs=$(mktemp -d /tmp/check-asan.XXXXXX)
chmod 755 "$logs"
supp=$src/tests/lsan.supp
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:log_path=$logs/asan:detect_stack_use_after_return=0"
export LSAN_OPTIONS="suppressions=$supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan"
echo "check-asan: reports go to $logs; LSan suppressions: $supp"

start=$(date +%s)
rc=0
"$src/tests/unit/run.sh" "$@" || rc=$?
unit_s=$(( $(date +%s) - start ))
echo "check-asan: unit tests done in ${unit_s}s (exit $rc)"

if [ "$rc" -eq 0 ]; then
  # CHECK_ASAN_SKIP: a pytest -k expression of tests not to run here
  skip=()
  [ -n "${CHECK_ASAN_SKIP:-}" ] && skip=(-k "not ($CHECK_ASAN_SKIP)") && echo "check-asan: not run: $CHECK_ASAN_SKIP"
  "$src/tests/integration/run.sh" "$san" "$stock" "${skip[@]}" || rc=$?
fi
total_s=$(( $(date +%s) - start ))

reports=$(find "$logs" -type f | sort)
if [ -n "$reports" ]; then
  echo "check-asan: sanitizer reports:"
  for f in $reports; do
    echo "--- $f"
    head -60 "$f"
  done
  rc=1
fi

echo "check-asan: $(echo -n "$reports" | grep -c . || true) sanitizer reports; unit ${unit_s}s, all ${total_s}s; exit $rc"
[ "$rc" -eq 0 ] && rm -rf "$logs"
exit "$rc"
