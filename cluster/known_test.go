package cluster

import (
	"testing"
	"time"
)

// TestKnown: live members and recently failed ones are known; a peer that
// left, one failed longer ago than ReconnectTimeout, and a name never seen
// are not.
func TestKnown(t *testing.T) {
	c := &Cluster{cfg: Config{ReconnectTimeout: time.Hour}, members: map[string]Member{"live": {Name: "live"}}, peers: newPeerBook()}
	now := time.Now()
	for _, n := range []string{"failed", "left", "old"} {
		c.peers.seen(n, n+":7946", now.Add(-3*time.Hour))
	}
	c.peers.departed("failed", false, now.Add(-time.Minute))
	c.peers.departed("left", true, now.Add(-time.Minute))
	c.peers.departed("old", false, now.Add(-2*time.Hour))
	for name, want := range map[string]bool{"live": true, "failed": true, "left": false, "old": false, "stranger": false} {
		if got := c.Known(name); got != want {
			t.Errorf("Known(%q) = %v, want %v", name, got, want)
		}
	}
}
