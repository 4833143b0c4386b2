// Package admin is a node's operator-facing HTTP listener: the JSON admin API
// under /v1 (docs/PROTOCOL.md), the server-sent event stream, the embedded dashboard
// (the dashboard is self-contained), /metrics, /healthz and /readyz.
//
// It owns no cluster state. Every answer comes from the engine through the
// small Backend interface declared here, so the package can be tested with a
// fake and the engine never learns about HTTP. What it does own is the edge:
// bearer authentication, input validation (a bad request is refused here and
// never reaches the engine), the one JSON error shape, and the lifetime of its
// own goroutines (SSE streams end when Shutdown is called).
//
// It must never cache or compute cluster state, import the engine, or block
// the engine: SSE subscribers read from a channel the engine feeds without
// waiting.
package admin
