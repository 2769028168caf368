#!/usr/bin/env bash
# `make demo`: what this kernel offers (sonde doctor), then a few seconds of
# `sonde exec` on processes the demo starts itself.
set -uo pipefail
SONDE=${SONDE:-build/sonde}

if [ "$(id -u)" -ne 0 ]; then
  echo "sonde demo: needs root to load BPF programs; run 'sudo make demo'" >&2
  exit 2
fi

echo "== sonde doctor"
"$SONDE" doctor || exit $?
echo
echo "== sonde exec --duration 4 (the demo starts a few processes meanwhile)"
"$SONDE" exec --duration 4 &
tracer=$!
sleep 1.5
sh -c 'ls / >/dev/null; exit 3'
sh -c 'echo "argv with \"quotes\" and a tab	here" >/dev/null'
sh -c 'kill -TERM $$'
/nonexistent/program 2>/dev/null
wait "$tracer"
echo
echo "== the same as JSON lines, with failed execs (--impl syscalls), for one command name"
"$SONDE" exec --impl syscalls --json --comm demo-child --duration 3 &
tracer=$!
sleep 1.5
ln -sf /bin/true /tmp/demo-child
/tmp/demo-child one two
rm -f /tmp/demo-child
wait "$tracer"
