// Package testutil holds the helpers every test package of shardgate
// shares: polling for a condition with a deadline (Eventually), a port
// never handed out twice in one test binary (FreePort), and a logger that
// writes to the test's own output (Logger).
//
// It is imported only by tests. It must never sleep for a fixed time where
// a condition can be polled, and never fail a test from a goroutine other
// than the test's own.
package testutil
