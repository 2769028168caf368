#!/usr/bin/env bash
# Installs the Debian packages sonde needs to build, test and benchmark, and
# only those that are missing: apt-get update runs once, and only if needed.
set -euo pipefail

PKGS=(
  # build
  make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config
  # unit tests and sanitizers/fuzzers (clang's runtime)
  libcmocka-dev libclang-rt-14-dev
  # lab reports (results.json, thresholds, baselines) and their checks
  libjansson-dev libxml2-utils
  # sonde agent: /metrics and /health, OTLP push, a real Prometheus in its test
  libmicrohttpd-dev libcurl4-openssl-dev prometheus
  # kernel tests and benchmarks: real servers, clients and peer tracers
  nginx wrk apache2-utils curl nodejs bpftrace libbpf-tools libcap2-bin
  procps util-linux iproute2
  # make bench-pipeline: instructions per event under callgrind
  valgrind
  # the BPF objects built by the oldest and newest clang Debian 12 offers too
  # (make test loads them: the verifier's verdict depends on the compiler)
  clang-13 clang-19
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "sonde: missing Debian packages: ${missing[*]}; run as root or install them with apt-get" >&2
  exit 2
fi

echo "sonde: installing missing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# nginx's package starts a system instance on port 80; sonde's tests start
# their own on loopback ports, so the system one is not needed.
if [[ " ${missing[*]} " == *" nginx "* ]]; then
  systemctl disable --now nginx >/dev/null 2>&1 || nginx -s quit >/dev/null 2>&1 || true
fi
# prometheus' package may start a system instance on :9090; the agent's test
# starts its own on a loopback port.
if [[ " ${missing[*]} " == *" prometheus "* ]]; then
  systemctl disable --now prometheus >/dev/null 2>&1 ||
    /etc/init.d/prometheus stop >/dev/null 2>&1 || true
fi
