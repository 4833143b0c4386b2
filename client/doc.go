// Package client is a Go SDK for the shardgate client protocol (SPEC §4):
// dial a node's /v1/ws endpoint, call its JSON-RPC methods, and receive
// inbox messages, topic publications and moved hints on channels.
//
// A Client runs one reader goroutine. It never drops a notification: when a
// channel is full the reader waits, the server's send queue grows, and a
// client that stays behind is eventually closed by the server with 4009. So
// drain Messages and Publications (or size Options.BufferSize for bursts).
//
// The package depends only on the module's domain types, so tools, the bench
// and the chaos workload can use it without pulling in the node.
package client
