// Package metrics defines every Prometheus metric a shardgate node exports.
// Each node owns one Registry, never the process-global one, so several nodes
// can run in one process (tests, `shardgate dev`).
package metrics
