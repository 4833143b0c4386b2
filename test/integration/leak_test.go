package integration

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestNoGoroutineLeftAfterClose runs a cluster with traffic, closes every
// node (one gracefully, the others abruptly) and checks no goroutine of
// ours survives. memberlist does not wait for its own in-flight probes at
// shutdown, so the check polls for a while before failing.
func TestNoGoroutineLeftAfterClose(t *testing.T) {
	before := goleak.IgnoreCurrent()
	func() {
		c := newCluster(t, 3, nil)
		a := c.dial("n1", "alice", nil)
		b := c.dial("n2", "bob", nil)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for i := 0; i < 20; i++ {
			if _, err := a.Send(ctx, "bob", i, ""); err != nil {
				t.Fatal(err)
			}
		}
		recvN(t, b, 20)
		a.Close()
		b.Close()
		c.stop("n3")
		c.closeAll()
	}()
	var err error
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err = goleak.Find(before); err == nil {
			return
		}
	}
	t.Fatalf("goroutines left after every node closed: %v", err)
}
