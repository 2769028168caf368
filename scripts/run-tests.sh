#!/usr/bin/env bash
# Runs every test sonde has: unit tests (plain, then under ASan+UBSan), kernel
# tests (root and BPF; under CI a kernel test that cannot run fails), and each
# fuzz target for a bounded time. Ends with one summary line CI can read:
#   N passed, N failed, N skipped
set -uo pipefail
BUILD=${1:-build}
FUZZ_SECONDS=${SONDE_FUZZ_SECONDS:-20}
LOG_DIR="$BUILD/test-logs"
mkdir -p "$LOG_DIR"
rm -f "$LOG_DIR/failures.txt"

passed=0 failed=0 skipped=0
failures=()

# Count the per-test lines of a cmocka run; a binary that died without
# reporting a failure (a crash, a sanitizer abort) counts as one failure.
run_cmocka() {
  local bin=$1 label=$2 log rc p f s
  log="$LOG_DIR/$(echo "$label" | tr '/ ' '__').log"
  "$bin" >"$log" 2>&1
  rc=$?
  # cmocka's summary line, "[  PASSED  ] N test(s).": a test's own output
  # without a newline at its end glues the per-test "[ OK ]" to it
  p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test(s)\.$/\1/p' "$log" | tail -1)
  [ -n "$p" ] || p=$(grep -c '^\[       OK \] ' "$log")
  # cmocka names a failed test twice (when it fails, and in the list at the
  # end): count the names once
  f=$(grep '^\[  FAILED  \] ' "$log" | grep -v 'test(s)' | sort -u | wc -l)
  s=$(grep '^\[  SKIPPED \] ' "$log" | grep -v 'test(s)' | sort -u | wc -l)
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    f=1
  fi
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  printf '%-44s %3d passed %3d failed %3d skipped\n' "$label" "$p" "$f" "$s"
  if [ "$f" -gt 0 ]; then
    failures+=("$label")
    grep -E 'FAILED|ERROR|LINE|error|SUMMARY|runtime error' "$log" | head -20 |
      sed "s|^|    $label: |" | tee -a "$LOG_DIR/failures.txt" | sed "s|$label: ||"
  fi
  if [ "$s" -gt 0 ]; then
    grep '^SKIP:' "$log" | sort -u | head -5 | sed 's/^/    /'
  fi
}

echo "== unit tests"
for t in "$BUILD"/tests/unit/test_*; do
  [ -x "$t" ] && run_cmocka "$t" "unit/$(basename "$t")"
done
echo "== unit tests under ASan+UBSan"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "$BUILD"/tests/unit-asan/test_*; do
  [ -x "$t" ] && run_cmocka "$t" "asan/$(basename "$t")"
done
unset ASAN_OPTIONS UBSAN_OPTIONS

echo "== kernel tests"
for t in "$BUILD"/tests/kernel/test_*; do
  [ -x "$t" ] && run_cmocka "$t" "kernel/$(basename "$t")"
done

# The BPF objects built by other compilers: the verifier judges the code a
# compiler emits (clang 19's once passed the 1M-instruction limit where
# clang 14's took 42k), so the programs are loaded and exercised with the
# oldest and newest clang Debian offers.
echo "== BPF built by ${TEST_CLANGS:=clang-13 clang-19}"
for cc in $TEST_CLANGS; do
  dir="$BUILD/$cc"
  if ! command -v "$cc" >/dev/null; then
    if [ -n "${CI:-}" ] && [ "${CI}" != 0 ]; then
      failed=$((failed + 1)); failures+=("$cc")
      printf '%-44s FAILED: %s is not installed\n' "$cc" "$cc"
    else
      skipped=$((skipped + 1))
      printf '%-44s skipped: %s is not installed\n' "$cc" "$cc"
    fi
    continue
  fi
  if ! make --no-print-directory BUILD="$dir" CLANG="$cc" \
       "$dir/sonde" "$dir/tests/kernel/test_verifier_budget" "$dir/tests/kernel/test_http" \
       >"$LOG_DIR/build-$cc.log" 2>&1; then
    failed=$((failed + 1)); failures+=("$cc")
    printf '%-44s FAILED: build, see %s\n' "$cc" "$LOG_DIR/build-$cc.log"
    continue
  fi
  for t in test_verifier_budget test_http; do
    run_cmocka "$dir/tests/kernel/$t" "$cc/$t"
  done
done

echo "== fuzz targets (${FUZZ_SECONDS}s each, ASan+UBSan)"
for t in "$BUILD"/tests/fuzz/fuzz_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  seeds="tests/fuzz/corpus/${name#fuzz_}"
  work=$(mktemp -d)
  [ -d "$seeds" ] && cp -r "$seeds"/. "$work"/
  log="$LOG_DIR/fuzz_$name.log"
  if "$t" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$LOG_DIR/$name-" "$work" >"$log" 2>&1; then
    passed=$((passed + 1))
    printf '%-44s ok (%s)\n' "fuzz/$name" "$(grep -o 'Done [0-9]* runs' "$log" | tail -1)"
  else
    failed=$((failed + 1)); failures+=("fuzz/$name")
    printf '%-44s FAILED, see %s\n' "fuzz/$name" "$log"
    grep -E 'ERROR|SUMMARY|runtime error' "$log" | head -5 | sed 's/^/    /'
  fi
  rm -rf "$work"
done

# CI shows only the end of this output: repeat why each test failed here
if [ ${#failures[@]} -gt 0 ]; then
  if [ -f "$LOG_DIR/failures.txt" ]; then
    echo "== why"
    head -40 "$LOG_DIR/failures.txt"
  fi
  echo "failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
