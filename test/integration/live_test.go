package integration

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardgate/shardgate/app"
	"github.com/shardgate/shardgate/internal/testutil"
	"github.com/shardgate/shardgate/node"
)

// Connections that stay open on n1 and n2 keep receiving every message
// acknowledged to their keys, live, in order and once, while the homes of
// those keys change under load: a node joins, a shard is moved, a node is
// drained, a node fails. After each change sending pauses and every
// acknowledged message must have reached its connection with no further
// traffic to trigger gap filling.
func TestLiveDeliveryAcrossOwnershipChanges(t *testing.T) {
	c := newCluster(t, 3, nil)
	w := startWorkload(t, c, []string{"n1", "n2"}, 6, 120)
	w.waitAcked(200, 20*time.Second)
	w.checkLive("steady load")

	c.add("n4")
	c.waitStable(60 * time.Second)
	w.checkLive("n4 joined")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	api := c.node("n1").Node()
	moved := 0
	for _, k := range w.keys {
		r, err := api.Route(ctx, k)
		if err != nil || r.Owner != "n3" {
			continue
		}
		if _, err := api.MoveShard(ctx, r.Shard, "n4"); err != nil {
			t.Fatalf("move shard %d to n4: %v", r.Shard, err)
		}
		testutil.Eventually(t, 30*time.Second, "shard moved", func() bool {
			r2, _ := api.Route(ctx, k)
			return r2.Owner == "n4"
		})
		if moved++; moved == 3 {
			break
		}
	}
	w.waitAcked(100, 20*time.Second)
	w.checkLive("shards moved to n4")

	c.stop("n3")
	c.waitStable(60 * time.Second)
	w.waitAcked(100, 20*time.Second)
	w.checkLive("n3 drained")

	c.kill("n4")
	w.waitAcked(100, 30*time.Second)
	c.waitStable(60 * time.Second)
	w.checkLive("n4 failed")
	w.finish()
}

// The node holding a connection cannot reach its key's new home for longer
// than one re-registration attempt lasts (a new node whose links are not
// up yet). Once the link works, the connection must receive everything
// acknowledged by the new home, without reconnecting.
func TestLiveDeliveryAfterSlowReregistration(t *testing.T) {
	var cut atomic.Bool
	c := newCluster(t, 3, func(cfg *app.Config) {
		cfg.LinkAllow = func(from, to string) bool {
			return !cut.Load() || !((from == "n1" && to == "n4") || (from == "n4" && to == "n1"))
		}
	})
	w := startWorkload(t, c, []string{"n1"}, 6, 120)
	w.waitAcked(100, 20*time.Second)
	cut.Store(true)
	c.add("n4")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	api := c.node("n2").Node()
	testutil.Eventually(t, 30*time.Second, "a receiver's key homed on n4", func() bool {
		for _, k := range w.keys {
			if r, err := api.Route(ctx, k); err == nil && r.Owner == "n4" {
				return true
			}
		}
		return false
	})
	time.Sleep(7 * time.Second) // hold the fault past one re-registration attempt
	cut.Store(false)
	c.waitStable(60 * time.Second)
	w.waitAcked(200, 20*time.Second)
	w.checkLive("n4 joined while unreachable from n1")
	w.finish()
}

// With push queues of one message, most pushes between nodes are dropped:
// the drops are counted, and every open connection still receives every
// acknowledged message, through the catch-up hints and gap filling.
func TestDroppedPushesAreRecovered(t *testing.T) {
	c := newCluster(t, 3, func(cfg *app.Config) {
		cfg.EngineHook = func(nc *node.Config) { nc.PushQueueMessages = 1 }
	})
	w := startWorkload(t, c, []string{"n1", "n2"}, 8, 40)
	w.waitAcked(400, 30*time.Second)
	w.checkLive("pushes dropped")
	dropped := 0.0
	for _, s := range c.live() {
		dropped += scrapeMetrics(t, s.AdminURL()+"/metrics")["shardgate_delivery_push_dropped_total"].value
	}
	if dropped == 0 {
		t.Fatal("no push was dropped with queues of one message: the test proves nothing")
	}
	t.Logf("%v pushes dropped", dropped)
	w.finish()
}
