#!/usr/bin/env bash
# Long fuzzing (`make fuzz`): every libFuzzer target under BUILD/tests/fuzz
# for FUZZ_SECONDS each (default 600), one after the other, starting from
# the seed corpus kept in the repo (tests/fuzz/corpus/<target>). What the
# run finds goes to fuzz-results/<timestamp>/: the grown corpus per target
# (copy the interesting inputs into tests/fuzz/corpus to keep them), crash
# inputs, logs and summary.txt (runs, corpus size, crashes per target).
# Exit 1 when a target crashed.
set -uo pipefail
BUILD=${1:-build}
SECONDS_EACH=${FUZZ_SECONDS:-600}
out=${FUZZ_OUT:-fuzz-results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
summary="$out/summary.txt"
status=0
printf '%-24s %10s %12s %8s %s\n' target seconds runs corpus result | tee "$summary"
for t in "$BUILD"/tests/fuzz/fuzz_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  seeds="tests/fuzz/corpus/${name#fuzz_}"
  work="$out/$name/corpus"
  mkdir -p "$work"
  [ -d "$seeds" ] && cp -r "$seeds"/. "$work"/
  log="$out/$name/fuzz.log"
  result=ok
  if ! "$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$out/$name/crash-" "$work" >"$log" 2>&1; then
    result="CRASH (see $out/$name)"
    status=1
  fi
  runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -1 | grep -o '[0-9]*')
  printf '%-24s %10s %12s %8s %s\n' "$name" "$SECONDS_EACH" "${runs:-?}" \
    "$(ls "$work" | wc -l)" "$result" | tee -a "$summary"
done
echo "fuzz: $out/summary.txt"
exit "$status"
