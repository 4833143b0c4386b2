// Package shardgate holds the domain types shared by every part of a
// shardgate node: messages, node states, the views the HTTP APIs return,
// and the one error type with its mapping to JSON-RPC codes and HTTP
// statuses.
//
// It imports nothing of ours, so every other package may depend on it and
// none of them needs to know about the others to speak the same language.
package shardgate
