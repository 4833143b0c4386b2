#!/usr/bin/env bash
# latency-curve.sh: ack latency against offered load, as a PNG. It runs
# scripts/perf.sh with one open-loop run per offered rate (three node
# processes on loopback, B = 1, fsync on) and draws the reports with
# scripts/latencyplot.
#
#   scripts/latency-curve.sh [label]        # writes build/perf-<label>/latency.png
#   RATES="500 1000 2000 4000" DURATION=8s scripts/latency-curve.sh after
#   NODE_BIN=/tmp/shardgate-old scripts/latency-curve.sh before
set -euo pipefail
cd "$(dirname "$0")/.."

label=${1:-curve}
rates=${RATES:-"250 500 1000 2000 4000 8000"}
out=${OUT:-build/perf-$label}
runs=""
for r in $rates; do runs+="rate$r "; done
OUT="$out" RUNS="$runs" scripts/perf.sh "$label"
go run ./scripts/latencyplot -o "$out/latency.png" \
	-title "shardgate ack latency against offered load ($label, $(nproc) cores)" "$out"/rate*.json
echo "latency-curve: wrote $out/latency.png"
