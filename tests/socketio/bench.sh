#!/usr/bin/env bash
# Broadcast and idle-memory benchmark: netlab's /socket.io/ against the npm socket.io 4.x server
# (reference-server.mjs, the same chat app), with the same socket.io-client workload (bench.mjs).
# Loopback only, bounded (each run times out). Results: one JSON line per server and room size.
#
#   bash tests/socketio/bench.sh            (after: cargo build --release -p netlab)
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error >/dev/null
ulimit -n "$(ulimit -Hn)"   # 10,000 idle sockets on each side
NETLAB=${NETLAB:-../../target/release/netlab}   # another build to compare: NETLAB=/path/to/netlab
IDLE=${IDLE:-10000}

run() { # name, start command...
  local name=$1; shift
  "$@" > /tmp/bench-server.out 2>&1 &
  local pid=$!
  for _ in $(seq 50); do grep -q "listening on http" /tmp/bench-server.out && break; sleep 0.1; done
  local port
  port=$(grep -o 'listening on http 127.0.0.1:[0-9]*' /tmp/bench-server.out | grep -o '[0-9]*$')
  for n in 100 1000; do
    local m=$((20000 / n))
    printf '{"server":"%s",' "$name"
    timeout 150 node bench.mjs "http://127.0.0.1:$port" "$pid" "$n" "$m" "$([ "$n" = 1000 ] && echo "$IDLE" || echo 1000)" | sed 's/^{//'
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

run netlab "$NETLAB" events serve --port 0 --http-port 0 --max-connections 15000 --max-connections-per-peer 15000
run socket.io env PING_INTERVAL=25000 PING_TIMEOUT=20000 CONNECT_TIMEOUT=45000 node reference-server.mjs 0
