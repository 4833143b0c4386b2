#!/usr/bin/env bash
# Runs every program in examples/ against a fresh `shardgate dev` cluster:
# builds the binary, starts dev on its own ports, waits until it is ready,
# runs the examples, stops dev. Exits non-zero (and shows dev's log) if
# dev does not start or any example fails.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d /tmp/shardgate-examples.XXXXXX)
ws_port=${SHARDGATE_EXAMPLES_WS_PORT:-18480}
go build -o "$work/shardgate" ./cmd/node
"$work/shardgate" dev --nodes 3 --data-dir "$work/data" \
  --ws-port "$ws_port" --admin-port $((ws_port + 100)) --gossip-port $((ws_port + 200)) >"$work/dev.log" 2>&1 &
dev=$!
stop() {
  kill "$dev" 2>/dev/null || true
  wait "$dev" 2>/dev/null || true
}
trap stop EXIT
fail() {
  echo "examples: $*" >&2
  echo "---- shardgate dev log (last 40 lines) ----" >&2
  tail -n 40 "$work/dev.log" >&2
  exit 1
}

for _ in $(seq 1 120); do
  grep -q "nodes ready" "$work/dev.log" && break
  kill -0 "$dev" 2>/dev/null || fail "shardgate dev exited before it was ready"
  sleep 0.5
done
grep -q "nodes ready" "$work/dev.log" || fail "shardgate dev was not ready within 60s"

nodes="http://127.0.0.1:$ws_port,http://127.0.0.1:$((ws_port + 1)),http://127.0.0.1:$((ws_port + 2))"
for ex in examples/*/; do
  name=$(basename "$ex")
  echo "---- example: $name ----"
  go run "./$ex" -nodes "$nodes" || fail "example $name failed"
done
stop
trap - EXIT
rm -rf "$work"
echo "examples: all passed"
