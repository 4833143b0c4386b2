// Command chat is two users chatting through a shardgate cluster with the
// Go SDK: alice sends, bob answers each message, and both check that what
// they received is every message once, in order. No reconnect code: the
// client.Client handles reconnects, resumes and moved hints.
//
//	shardgate dev &
//	go run ./examples/chat -nodes http://127.0.0.1:8080 -messages 20
package main
