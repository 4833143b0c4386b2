package integration

import (
	"testing"
	"time"
)

// A 4th node joins and then another node is stopped gracefully, both under
// steady traffic: every acknowledged message is found exactly once, in
// order, and no client is disconnected.
func TestJoinThenGracefulStopUnderLoad(t *testing.T) {
	c := newCluster(t, 3, nil)
	w := startWorkload(t, c, []string{"n1", "n2"}, 6, 24)
	w.waitAcked(200, 20*time.Second)

	c.add("n4")
	c.waitStable(60 * time.Second)
	if got := c.node("n4").Node().Ready(); got != nil {
		t.Fatalf("n4 not ready: %v", got)
	}
	w.waitAcked(200, 20*time.Second)

	c.stop("n3")
	c.waitStable(60 * time.Second)
	w.waitAcked(200, 20*time.Second)
	w.finish()
}
