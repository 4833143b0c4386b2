// Package app wires one shardgate node together: store, membership, node
// links, engine, client connections and the admin API, with their
// listeners. cmd/node parses flags into a Config; tests and `shardgate dev`
// build Servers directly, several in one process.
package app
