#!/usr/bin/env bash
# make fuzz: run each libFuzzer target for SECONDS, from the seeds in the
# repository plus what earlier runs kept in WORKDIR/corpus/TARGET; fail on a
# crash, a leak, a timeout or a sanitizer report (libFuzzer exits non-zero
# and writes the input to WORKDIR/artifacts/TARGET/).
# Usage: run.sh SRCDIR/fuzz BINDIR WORKDIR SECONDS TARGET...
# FUZZ_ARGS adds libFuzzer options (e.g. -runs=N, -jobs=1 -workers=1).
set -euo pipefail

src=$1 bin=$2 work=$3 seconds=$4
shift 4

# Which dictionary a target's grammar uses
dict_of() {
  case $1 in
    request|ctl|state|load) echo "$src/dict/request.dict" ;;
    config) echo "$src/dict/config.dict" ;;
    bgp) echo "$src/dict/bgp.dict" ;;
    *) echo "" ;;
  esac
}

# Inputs at most this long: lines of 1024 bytes and a few more, batches of a few hundred lines
max_len_of() {
  case $1 in
    rank) echo 600 ;;
    bgp) echo 8192 ;;
    *) echo 16384 ;;
  esac
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

# What libFuzzer and the sanitizers print on a finding; the exit code we ask
# of libFuzzer for SIGINT or SIGTERM (a long run stopped by hand)
findings='ERROR|SUMMARY|check failed|runtime error|Test unit written'
interrupted=72

failed=()
for t in "$@"; do
  corpus=$work/corpus/$t artifacts=$work/artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  dict=$(dict_of "$t")
  seeds=()
  for d in "$src/corpus/$t" "$src/regress/$t"; do
    [ -d "$d" ] && seeds+=("$d")
  done
  echo "fuzz: $t for ${seconds}s (corpus $corpus, seeds ${seeds[*]:-none}${dict:+, dictionary $dict})"
  log=$work/$t.log
  rc=0
  "$bin/${t}_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len="$(max_len_of "$t")" ${dict:+-dict="$dict"} -print_final_stats=1 -interrupt_exit_code=$interrupted \
    -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} "$corpus" "${seeds[@]}" > "$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  if [ "$rc" -eq "$interrupted" ] && ! grep -q -E "$findings" "$log"; then
    echo "fuzz: $t interrupted after ${runs:-?} runs (${rate:-?}/s), nothing found; the log is in $log"
    failed+=("$t")
  elif [ "$rc" -ne 0 ]; then
    echo "fuzz: $t FAILED (exit $rc) after ${runs:-?} runs; the input is in $artifacts, the log in $log:"
    grep -E "$findings" "$log" | head -20 || tail -20 "$log"
    failed+=("$t")
  else
    echo "fuzz: $t ok: ${runs:-?} runs, ${rate:-?}/s, $(ls "$corpus" | wc -l) inputs in its corpus"
  fi
done

if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: failed: ${failed[*]}"
  exit 1
fi
echo "fuzz: all ${#} targets ok"
