#!/usr/bin/env bash
# `make demo`: what this kernel offers (sonde doctor), then sonde http on an
# nginx the demo starts on a loopback port and requests it makes with curl,
# then sonde exec on processes it starts itself, then the overhead lab's
# quick run (sonde against no tracer, about a minute).
set -uo pipefail
SONDE=${SONDE:-build/sonde}
PORT=${SONDE_DEMO_PORT:-18089}

if [ "$(id -u)" -ne 0 ]; then
  echo "sonde demo: needs root to load BPF programs; run 'sudo make demo'" >&2
  exit 2
fi

dir=$(mktemp -d /tmp/sonde-demo.XXXXXX)
chmod 755 "$dir" # nginx workers run as another user
cleanup() {
  [ -f "$dir/nginx.pid" ] && kill "$(cat "$dir/nginx.pid")" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT

echo "== sonde doctor"
"$SONDE" doctor || exit $?

mkdir -p "$dir/html" "$dir/logs"
echo "hello from the sonde demo" > "$dir/html/index.html"
head -c 300000 /dev/zero > "$dir/html/big.bin"
cat > "$dir/nginx.conf" <<CONF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log;
events { worker_connections 256; }
http {
  access_log $dir/logs/access.log;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  sendfile on;
  server {
    listen 127.0.0.1:$PORT;
    root $dir/html;
    location /missing { return 404; }
    location /api/ { return 200 '{"ok":true}'; }
  }
}
CONF
nginx -c "$dir/nginx.conf" -p "$dir" || { echo "sonde demo: nginx did not start on port $PORT" >&2; exit 2; }

echo
echo "== sonde http --port $PORT (curl makes keep-alive requests meanwhile)"
"$SONDE" http --port "$PORT" --duration 5 &
tracer=$!
sleep 2
base="http://127.0.0.1:$PORT"
curl -s -o /dev/null "$base/" -o /dev/null "$base/api/users/42?token=not-shown" \
     -o /dev/null "$base/missing" -o /dev/null "$base/big.bin"
curl -s -o /dev/null -X POST --data 'name=demo' "$base/api/items"
wait "$tracer"

echo
echo "== sonde exec --duration 4 (the demo starts a few processes meanwhile)"
"$SONDE" exec --duration 4 &
tracer=$!
sleep 1.5
sh -c 'ls / >/dev/null; exit 3'
sh -c 'kill -TERM $$'
wait "$tracer"

echo
echo "== failed execs too (--impl syscalls), as JSON, for one command name"
"$SONDE" exec --impl syscalls --json --comm demo-child --duration 3 &
tracer=$!
sleep 1.5
ln -sf /bin/true "$dir/demo-child"
"$dir/demo-child" one two
wait "$tracer"

echo
echo "== sonde bench --quick (what sonde costs here: interleaved rounds against no tracer)"
"$SONDE" bench --quick --out bench-results/demo
rc=$?
[ "$rc" -le 1 ] || exit "$rc"
echo "(report.md and the charts are in bench-results/demo; the full lab: make bench-lab)"
