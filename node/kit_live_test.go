package node_test

import (
	"context"
	"testing"
	"time"

	"github.com/shardgate/shardgate/internal/testutil"
	"github.com/shardgate/shardgate/node/nodetest"
)

// Connections that stay open on n1 and n2 take every message acknowledged
// to their keys, in order and once, while the homes of those keys change
// under load: a node joins, shards are moved by hand, a node is drained, a
// node fails. After each change sending pauses, and every acknowledged
// message must have reached its connection with no further traffic to set
// off gap filling.
func TestLiveDeliveryAcrossOwnershipChanges(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		c := nodetest.Start(t, 3, nodetest.Options{})
		l := startLoad(t, c, []string{"n1", "n2"}, []string{"n1", "n2"}, 4, 40)
		l.waitAcked(100, 20*time.Second)
		l.checkLive("steady load")

		c.AddNode("n4")
		c.WaitSettled(30 * time.Second)
		l.waitAcked(50, 20*time.Second)
		l.checkLive("n4 joined")

		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		api := c.Node("n1").Engine
		moved := 0
		for _, k := range l.keys {
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
		l.waitAcked(50, 20*time.Second)
		l.checkLive("shards moved to n4")

		c.StopNode("n3")
		c.WaitSettled(30 * time.Second)
		l.waitAcked(50, 20*time.Second)
		l.checkLive("n3 drained")

		c.Kill("n4")
		l.waitAcked(50, 30*time.Second)
		c.WaitSettled(30 * time.Second)
		l.checkLive("n4 failed")
		l.finish()
	})
}

// The node holding connections cannot reach their key's new home for
// longer than one re-registration attempt lasts (a new node whose links
// are not up yet: its dials are refused). Once the link works, the
// connections must take everything the new home acknowledged, with no
// reconnect.
func TestLiveDeliveryAfterSlowReregistration(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		const attempt = 3 * time.Second // cfg.ReadRetry, which registrations get
		c := nodetest.Start(t, 3, nodetest.Options{})
		l := startLoad(t, c, []string{"n1"}, []string{"n1"}, 3, 40)
		l.waitAcked(50, 20*time.Second)
		c.Net.Refuse("n1", "n4")
		c.AddNode("n4")
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		testutil.Eventually(t, 30*time.Second, "a connected key homed on n4", func() bool {
			for _, k := range l.keys {
				if r, err := c.Node("n2").Engine.Route(ctx, k); err == nil && r.Owner == "n4" {
					return true
				}
			}
			return false
		})
		time.Sleep(3 * attempt) // hold the cut past one re-registration attempt
		c.Net.Heal()
		c.WaitSettled(60 * time.Second)
		l.waitAcked(100, 20*time.Second)
		l.checkLive("n4 joined while unreachable from n1")
		l.finish()
	})
}

// A node holding connections is killed (its peers are refused at once,
// failure detection reports it only later), and its clients reconnect to
// another node at once, each resuming after the last seq it took, while
// the cluster does not yet know the node is gone and sends go on. The
// reconnected connections must then take every message acknowledged to
// their keys, through the failover that follows, and through n1 seeing n2
// fail for a moment at the same time (it forgets n2's registrations and
// asks for them again, while the two tables may still differ).
func TestLiveDeliveryOfConnectionsMovedOffAKilledNode(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		c := nodetest.Start(t, 3, nodetest.Options{})
		l := startLoad(t, c, []string{"n1", "n2", "n3"}, []string{"n1", "n2", "n3"}, 4, 30)
		l.waitAcked(100, 20*time.Second)
		l.checkLive("steady load")

		c.Crash("n3")
		l.reconnect("n3", "n2")
		l.waitAcked(20, 30*time.Second)
		time.Sleep(2 * time.Second) // failure detection takes its time
		c.Gossip.Fail("n3")
		c.Gossip.Hide("n1", "n2")
		time.Sleep(time.Second) // failure detection that is wrong for a while
		c.Gossip.Show("n1", "n2")
		c.WaitSettled(30 * time.Second)
		l.waitAcked(100, 30*time.Second)
		l.checkLive("n3 killed, its connections moved to n2")
		l.finish()
	})
}
