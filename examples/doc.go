// Package examples holds runnable programs built on the Go SDK
// (github.com/shardgate/shardgate/client), each in its own directory:
//
//	chat     two users chatting: every message arrives once, in order
//	fanout   a service notifying many users: durable inbox messages plus
//	         live topic publications
//
// Start a local cluster with `shardgate dev`, then run one:
//
//	go run ./examples/chat -nodes http://127.0.0.1:8080,http://127.0.0.1:8081
//
// Each exits non-zero when something it expected did not happen, so CI
// runs them against `shardgate dev` as end-to-end checks.
package examples
