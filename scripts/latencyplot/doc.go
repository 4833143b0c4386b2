// Command latencyplot draws ack latency against offered load from the JSON
// reports of `shardgate bench` open-loop runs (one report per offered
// rate), as a PNG. scripts/latency-curve.sh produces the reports and calls
// it; docs/PERFORMANCE.md shows the result.
//
//	go run ./scripts/latencyplot -o latency.png build/perf-curve/rate*.json
package main
