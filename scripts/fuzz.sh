#!/usr/bin/env bash
# Runs every libFuzzer target of a FR_FUZZ build for a set time and prints,
# per target, executions, executions per second, coverage at start and end
# (libFuzzer's "cov:" edge count; new = end - start), corpus size, and any
# crash, leak or timeout found (the input is kept in OUT/artifacts/NAME/).
#
#   scripts/fuzz.sh BUILD_FUZZ_DIR [SECONDS_PER_TARGET] [TARGET...]
#
# The working corpus of each target starts from the committed seeds
# (tests/fuzz/corpus/NAME) and grows in BUILD_FUZZ_DIR/corpus/NAME; new
# inputs worth keeping are merged back by hand (see docs/SECURITY.md).
# Exit status 1 if any target found a defect.
set -uo pipefail

build=${1:?usage: scripts/fuzz.sh BUILD_FUZZ_DIR [SECONDS] [TARGET...]}
secs=${2:-${FUZZ_SECONDS:-60}}
shift $(( $# >= 2 ? 2 : $# ))
here=$(cd "$(dirname "$0")/.." && pwd)
seeds=$here/tests/fuzz/corpus
bin=$build/tests/fuzz

if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for d in "$seeds"/*/; do targets+=("$(basename "$d")"); done
fi

printf '%-22s %10s %8s %7s %7s %6s %6s  %s\n' target execs exec/s \
  cov0 cov new corpus findings
found=0
for t in "${targets[@]}"; do
  exe=$bin/fuzz_$t
  if [ ! -x "$exe" ]; then
    echo "fuzz: $exe is missing (did the FR_FUZZ build run?)" >&2
    found=1
    continue
  fi
  work=$build/corpus/$t art=$build/artifacts/$t log=$build/logs/$t.log
  mkdir -p "$work" "$art" "$(dirname "$log")"
  cp -n "$seeds/$t"/* "$work"/ 2>/dev/null || true
  dict=()
  [ -f "$here/tests/fuzz/$t.dict" ] && dict=(-dict="$here/tests/fuzz/$t.dict")
  # -fork would survive the first crash; we prefer to stop at it and keep
  # its input. ASan's leak check runs at exit and on each input's end.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  OPENBLAS_NUM_THREADS=1 \
    "$exe" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
      -rss_limit_mb=2048 -max_len="${FUZZ_MAX_LEN:-65536}" \
      -artifact_prefix="$art/" "${dict[@]}" "$work" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov0=$(grep -m1 -E '#[0-9]+[[:space:]]+INITED' "$log" |
         sed -n 's/.* cov: \([0-9]*\).*/\1/p')
  cov=$(grep -E '#[0-9]+[[:space:]]+(NEW|REDUCE|pulse|DONE|INITED)' "$log" |
        tail -1 | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
  ncorp=$(find "$work" -type f | wc -l)
  what=none
  if [ $rc -ne 0 ]; then
    found=1
    what="exit $rc: $(grep -m1 -E 'ERROR: |SUMMARY: |check failed' "$log" |
                      cut -c1-80) ($(ls "$art" | head -1))"
  fi
  printf '%-22s %10s %8s %7s %7s %6s %6s  %s\n' "$t" "${execs:-?}" \
    "${rate:-?}" "${cov0:-?}" "${cov:-?}" \
    "$(( ${cov:-0} - ${cov0:-0} ))" "$ncorp" "$what"
done
exit $found
