// Command fanout is a notification service on a shardgate cluster, with
// the Go SDK: many users subscribe to a topic; a service publishes live
// announcements to it (at most once, not stored) and puts a personal
// notification in every user's inbox (durable: a user who is offline gets
// it when they connect). Each user checks what arrived.
//
//	shardgate dev &
//	go run ./examples/fanout -nodes http://127.0.0.1:8080,http://127.0.0.1:8081 -users 20
package main
