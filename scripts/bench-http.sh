#!/usr/bin/env bash
# Runs the HTTP benchmark (`make bench-http`): checks the environment, runs
# build/bench/bench_http into bench-results/http/<timestamp>/ and prints the
# report. Settings come from BENCH_* variables (see usage below); nginx, wrk,
# the tracers and the measuring are driven in C by bench_http, this script
# only orchestrates.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/bench-http.sh [BUILD_DIR]   (normally: make bench-http)

Environment:
  BENCH_ROUNDS=N          rounds (default 5)
  BENCH_DURATION=S        seconds of wrk per run (default 5)
  BENCH_CONNECTIONS=N     wrk connections (default 50)
  BENCH_TRACERS=LIST      tracers to compare (default: all of none, sonde,
                          sonde-server-only, sonde-sharded (a ring buffer
                          per CPU: --ring-shards), bpftrace-peer, hook-floor
                          (an empty program on sonde's hook: what any tracer
                          there pays before its own work), hook-floor-syscalls
                          (empty programs on the syscalls' own exit
                          tracepoints: the other hook's floor); the https
                          run adds hook-floor-tls (hook-floor and empty
                          uprobes on the SSL functions sonde hooks); also
                          sonde-exported-hooks: --tls-hooks exported)
  BENCH_NGINX_CPU=N       pin nginx's worker to CPU N, -1 for none (default 0)
  BENCH_WRK_CPU=N         pin wrk to CPU N, -1 for none (default 1)
  BENCH_ATTACH_TIMEOUT=S  seconds a tracer may take to attach (default 20)
  BENCH_OUT=DIR           results directory (default bench-results/http/<timestamp>)
  BENCH_KEEP_RAW=1        keep every tracer's full output under DIR/runs
  BENCH_STRICT=1          exit 1 when sonde misses a target (100 % of requests
                          with 0 drops, <= 5 % throughput loss, <= 1 us/request
                          in the kernel)
  BENCH_TLS=both|plain|https  which runs (default both: plain HTTP into DIR,
                          then nginx over TLS into DIR/https)

EXAMPLES
  make bench-http
  BENCH_ROUNDS=1 BENCH_DURATION=2 make bench-http         quick look
  BENCH_TRACERS=none,sonde make bench-http
USAGE
}

case "${1:-}" in
  -h|--help) usage; exit 0 ;;
esac

build=${1:-build}
harness=$build/bench/bench_http
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "bench-http: needs root (BPF programs and run-time statistics)" >&2
  exit 2
fi
if [ ! -x "$harness" ] || [ ! -x "$build/sonde" ]; then
  echo "bench-http: $harness or $build/sonde is missing; run make bench-http" >&2
  exit 2
fi
for tool in nginx wrk taskset; do
  if ! command -v "$tool" >/dev/null; then
    echo "bench-http: $tool not found (apt-get install nginx wrk util-linux)" >&2
    exit 2
  fi
done
if ! mountpoint -q /sys/kernel/tracing; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || {
    echo "bench-http: tracefs is not mounted at /sys/kernel/tracing and mounting it failed" >&2
    exit 2
  }
fi

out=${BENCH_OUT:-bench-results/http/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"

args=(--build "$build" --out "$out" --peer-script bench/peers/http_bytes.bt)
[ -n "${BENCH_ROUNDS:-}" ] && args+=(--rounds "$BENCH_ROUNDS")
[ -n "${BENCH_DURATION:-}" ] && args+=(--duration "$BENCH_DURATION")
[ -n "${BENCH_CONNECTIONS:-}" ] && args+=(--connections "$BENCH_CONNECTIONS")
[ -n "${BENCH_TRACERS:-}" ] && args+=(--tracers "$BENCH_TRACERS")
[ -n "${BENCH_NGINX_CPU:-}" ] && args+=(--nginx-cpu "$BENCH_NGINX_CPU")
[ -n "${BENCH_WRK_CPU:-}" ] && args+=(--wrk-cpu "$BENCH_WRK_CPU")
[ -n "${BENCH_ATTACH_TIMEOUT:-}" ] && args+=(--attach-timeout "$BENCH_ATTACH_TIMEOUT")
[ "${BENCH_KEEP_RAW:-0}" = 1 ] && args+=(--keep-raw)
[ "${BENCH_STRICT:-0}" = 1 ] && args+=(--strict)

# system_info.txt is written by the harness (lab/sysinfo).
tls=${BENCH_TLS:-both}
case "$tls" in
  both|plain|https) ;;
  *) echo "bench-http: BENCH_TLS takes both, plain or https, not '$tls'" >&2; exit 2 ;;
esac
if [ "$tls" != plain ] && ! command -v openssl >/dev/null; then
  echo "bench-http: openssl not found (apt-get install openssl) for the https run" >&2
  exit 2
fi
status=0
run() { # DIR [--tls]
  local dir=$1; shift
  mkdir -p "$dir"
  echo "bench-http: results in $dir" >&2
  local args_run=("${args[@]}")
  args_run[3]=$dir   # --out
  "$harness" "${args_run[@]}" "$@" || status=$?
  if [ -f "$dir/report.md" ]; then
    echo
    cat "$dir/report.md"
    echo
    echo "bench-http: $dir/report.md, $dir/results.json"
  fi
}
[ "$tls" != https ] && run "$out"
[ "$tls" != plain ] && run "$out/https" --tls
exit "$status"
