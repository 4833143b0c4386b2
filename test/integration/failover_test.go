package integration

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardgate/shardgate/internal/testutil"
	"github.com/shardgate/shardgate/test/checker"
)

// A node dies and never returns: its backups take over and every
// acknowledged message survives.
func TestFailoverNodeKilled(t *testing.T) {
	c := newCluster(t, 3, nil)
	w := startWorkload(t, c, []string{"n1", "n2"}, 6, 24)
	w.waitAcked(300, 20*time.Second)
	killed := time.Now()
	c.kill("n3")
	w.waitAcked(50, 20*time.Second)
	t.Logf("writes acknowledged again within %v of the kill (all shards)", time.Since(killed))
	c.waitStable(60 * time.Second)
	w.waitAcked(200, 20*time.Second)
	w.finish()
}

// A node dies and comes back with its data dir: it catches up from the
// current homes and nothing acknowledged is lost or doubled.
func TestKillAndRestart(t *testing.T) {
	c := newCluster(t, 3, nil)
	w := startWorkload(t, c, []string{"n1", "n3"}, 6, 24)
	w.waitAcked(300, 20*time.Second)
	c.kill("n2")
	w.waitAcked(100, 20*time.Second)
	c.start("n2")
	c.waitStable(60 * time.Second)
	w.waitAcked(200, 20*time.Second)
	w.finish()
}

// Operator actions under load: a shard moved to a named node, a node
// failed over by hand, and a rebalance.
func TestOperatorActionsUnderLoad(t *testing.T) {
	c := newCluster(t, 3, nil)
	w := startWorkload(t, c, []string{"n1", "n2"}, 6, 24)
	w.waitAcked(200, 20*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	api := c.node("n1").Node()

	r, _ := api.Route(ctx, "user-1")
	to := "n1"
	if r.Owner == "n1" {
		to = "n2"
	}
	if _, err := api.MoveShard(ctx, r.Shard, to); err != nil {
		t.Fatalf("move shard %d to %s: %v", r.Shard, to, err)
	}
	testutil.Eventually(t, 30*time.Second, "shard moved", func() bool {
		r2, _ := api.Route(ctx, "user-1")
		return r2.Owner == to
	})
	w.waitAcked(200, 20*time.Second)

	if _, err := api.MoveShard(ctx, 10_000, "n1"); err == nil {
		t.Fatal("moving a shard that does not exist must fail")
	}
	if _, err := api.Failover(ctx, "nobody"); err == nil {
		t.Fatal("failing over an unknown node must fail")
	}
	if _, err := api.Rebalance(ctx); err != nil {
		t.Fatalf("rebalance: %v", err)
	}
	c.waitStable(60 * time.Second)
	w.waitAcked(200, 20*time.Second)
	w.finish()
}

// A symmetric 2|1 partition: the minority node acknowledges nothing while
// cut off; the majority takes its shards over; after healing everything
// converges and no acknowledged message is lost.
func TestPartitionMinorityRefusesWrites(t *testing.T) {
	c := newFaultyCluster(t, 3)
	w := startWorkload(t, c, []string{"n1", "n2"}, 4, 24)
	w.waitAcked(200, 20*time.Second)

	// A client on the minority side keeps trying to write.
	minority := c.dial("n3", "probe", nil)
	var cutAt, healAt atomic.Int64
	var ackedWhileCut atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			sent := time.Now().UnixNano()
			res, err := minority.Send(ctx, fmt.Sprintf("user-%d", i%24), "from-minority", fmt.Sprintf("probe-%d", i))
			cancel()
			if err == nil {
				w.rec.Attempt(fmt.Sprintf("user-%d", i%24), "probe", fmt.Sprintf("probe-%d", i), checker.Acked, res.Seq)
				if c0 := cutAt.Load(); c0 != 0 && sent > c0 && healAt.Load() == 0 {
					ackedWhileCut.Add(1)
				}
			} else {
				w.rec.Attempt(fmt.Sprintf("user-%d", i%24), "probe", fmt.Sprintf("probe-%d", i), checker.Unknown, 0)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()

	cutAt.Store(time.Now().UnixNano())
	c.net.Isolate(c.ips["n3"])
	w.waitAcked(300, 30*time.Second)
	testutil.Eventually(t, 30*time.Second, "majority took over n3's shards", func() bool {
		pv, _ := c.node("n1").Node().Partitions(context.Background())
		for _, p := range pv.Partitions {
			if p.Owner == "n3" {
				return false
			}
		}
		return true
	})
	w.waitAcked(200, 20*time.Second)
	healAt.Store(time.Now().UnixNano())
	c.net.Heal()
	c.waitStable(90 * time.Second)
	close(stop)
	<-done
	if n := ackedWhileCut.Load(); n != 0 {
		t.Errorf("the minority node acknowledged %d writes while cut off", n)
	}
	w.waitAcked(100, 20*time.Second)
	w.finish()
}
