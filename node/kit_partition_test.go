package node_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/internal/testutil"
	"github.com/shardgate/shardgate/node"
	"github.com/shardgate/shardgate/node/nodetest"
)

// From the moment its links are cut, before gossip or the link heartbeats
// notice anything, a node answers every write with a 1003 that says why,
// within a second, and acknowledges nothing; after the heal no refused
// write is stored twice. The budgets are the defaults, and the second is
// measured on the bubble's fake clock, so the load of the machine cannot
// stretch it. The heartbeats are off so that no failover starts while the
// cut calls wait (see inBubble).
func TestCutNodeRefusesWritesWithinASecond(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		c := nodetest.Start(t, 3, nodetest.Options{Engine: func(_ string, cfg *node.Config) {
			cfg.LinkFailAfter = 0
		}})
		local, remote := c.KeyOwnedBy("n3", "own"), c.KeyOwnedBy("n1", "far")
		c.Net.Cut("n3", "n1")
		c.Net.Cut("n3", "n2")
		cut := time.Now()
		slowest := map[string]time.Duration{}
		for i := 0; time.Since(cut) < 5*time.Second; i++ {
			to := []string{local, remote}[i%2]
			start := time.Now()
			_, err := trySend(c.Node("n3"), "prober", to, fmt.Sprintf("probe-%d", i), "")
			took := time.Since(start)
			if shardgate.KindOf(err) != shardgate.KindUnavailable || err.Error() == "" {
				t.Fatalf("write %d to %s on the cut node %v after the cut: %v, want 1003 with a reason", i, to, time.Since(cut), err)
			}
			if took > slowest[to] {
				slowest[to] = took
				t.Logf("write %d to %s refused after %v (fake time): %v", i, to, took, err)
			}
		}
		// A write forwarded from the cut node, and a write the cut node
		// is home of (its retry after a backup failed to confirm included),
		// are refused within the write budget.
		for _, key := range []string{remote, local} {
			if slowest[key] > time.Second {
				t.Errorf("writes to %s on the cut node took up to %v (fake time) to be refused, want at most 1 s", key, slowest[key])
			}
		}
		// A write refused by its home after the home committed it stays
		// stored there, at most once (docs/ARCHITECTURE.md, "Sends that
		// fail half-way"); a write that never reached its home is not.
		c.Heal()
		c.WaitSettled(30 * time.Second)
		for _, m := range inbox(t, c, remote) {
			t.Errorf("%s holds %s (seq %d), refused on the cut node before reaching the home", remote, m.Data, m.Seq)
		}
		seen := map[string]bool{}
		for _, m := range inbox(t, c, local) {
			if seen[string(m.Data)] {
				t.Errorf("%s holds %s twice", local, m.Data)
			}
			seen[string(m.Data)] = true
		}
	})
}

// A 2|1 partition of links and gossip. The minority node acknowledges
// nothing and answers every write with 1003; the majority takes its shards
// over and keeps acknowledging; after the heal everything converges,
// nothing the minority refused is stored and no acknowledged message is
// lost. Real clock: each refusal must come within its 5 s context.
func TestSplitBrainMinorityRefusesWrites(t *testing.T) {
	inRealTime(t, func(t *testing.T) {
		c := nodetest.Start(t, 3, nodetest.Options{Engine: func(name string, cfg *node.Config) {
			fastFailure(name, cfg)
			cfg.ForwardRetry, cfg.ReplicateTimeout = 800*time.Millisecond, 500*time.Millisecond
		}})
		local, remote := c.KeyOwnedBy("n3", "own"), c.KeyOwnedBy("n1", "far")
		l := startLoad(t, c, []string{"n1", "n2"}, []string{"n1", "n2"}, 2, 16)
		l.waitAcked(20, 20*time.Second)

		c.Partition([]string{"n1", "n2"}, []string{"n3"})
		for i := range 6 {
			to := []string{local, remote}[i%2]
			if _, err := trySend(c.Node("n3"), "prober", to, fmt.Sprintf("probe-%d", i), ""); shardgate.KindOf(err) != shardgate.KindUnavailable {
				t.Fatalf("write %d to %s on the minority: %v, want 1003", i, to, err)
			}
		}
		testutil.Eventually(t, 30*time.Second, "the majority took over n3's shards", func() bool {
			pv, _ := c.Node("n1").Engine.Partitions(context.Background())
			for _, p := range pv.Partitions {
				if p.Owner == "n3" {
					return false
				}
			}
			return true
		})
		l.waitAcked(20, 20*time.Second)

		c.Heal()
		c.WaitSettled(60 * time.Second)
		l.waitAcked(20, 20*time.Second)
		for _, k := range []string{local, remote} {
			for _, m := range inbox(t, c, k) {
				if strings.Contains(string(m.Data), "probe") {
					t.Errorf("%s holds %s (seq %d), refused on the minority", k, m.Data, m.Seq)
				}
			}
		}
		l.finish()
	})
}

// Node-link traffic into n3 is dropped while gossip still works, so the
// membership keeps n3 alive. The others cannot reach n3 over the links
// and say so: n3 is treated as failed for writes, its shards fail over
// and writes to its keys are acknowledged again within 5 s (a deadline on
// the real clock, generous with heartbeats that notice a cut in 0.5 s);
// n3 itself refuses writes. When the links work again, n3 takes shards
// again without an operator.
func TestOneWayLinkCutTreatedAsFailed(t *testing.T) {
	inRealTime(t, func(t *testing.T) {
		c := nodetest.Start(t, 3, nodetest.Options{Engine: func(name string, cfg *node.Config) {
			fastFailure(name, cfg)
			cfg.ForwardRetry = 800 * time.Millisecond
		}})
		key, far := c.KeyOwnedBy("n3", "oneway"), c.KeyOwnedBy("n1", "far")
		c.Net.CutOneWay("n1", "n3")
		c.Net.CutOneWay("n2", "n3")
		cut := time.Now()
		i := 0
		testutil.Eventually(t, 5*time.Second, "writes to n3's key acknowledged through n1", func() bool {
			i++
			_, err := trySend(c.Node("n1"), "probe", key, i, fmt.Sprintf("p%d", i))
			return err == nil
		})
		t.Logf("writes to a key of n3 acknowledged again %v after the one-way cut", time.Since(cut))
		if owner := c.Owner(key); owner == "n3" {
			t.Fatalf("n3 still owns the key's shard")
		}
		i++
		if _, err := trySend(c.Node("n3"), "probe", far, i, fmt.Sprintf("p%d", i)); shardgate.KindOf(err) != shardgate.KindUnavailable {
			t.Fatalf("write through the cut-off n3: %v, want 1003", err)
		}

		c.Net.Heal()
		c.WaitSettled(60 * time.Second)
		// A settled table is not yet n3 seeing a majority: that takes
		// heartbeats over the healed links, and until then n3 refuses
		// writes at once.
		testutil.Eventually(t, 10*time.Second, "n3 to see a majority again", func() bool {
			cv, err := c.Node("n3").Engine.Cluster(context.Background())
			return err == nil && cv.Quorum
		})
		i++
		if _, err := trySend(c.Node("n3"), "probe", key, i, fmt.Sprintf("p%d", i)); err != nil {
			t.Fatalf("write through n3 after the heal: %v", err)
		}
	})
}

// A node that has lost sight of a majority (gossip and links both gone)
// answers every write with 1003 at once, naming the reason, instead of
// spending its write budget on a home it cannot reach or on its own
// shards it may not write. Default budgets; fake time.
func TestMinorityRefusesWritesAtOnce(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		c := nodetest.Start(t, 3, nodetest.Options{Engine: func(_ string, cfg *node.Config) {
			cfg.LinkFailAfter = 0 // the gossip view alone decides here
		}})
		local, remote := c.KeyOwnedBy("n3", "own"), c.KeyOwnedBy("n1", "far")
		for _, peer := range []string{"n1", "n2"} {
			c.Net.Refuse("n3", peer)
			c.Gossip.Hide("n3", peer)
		}
		testutil.Eventually(t, 5*time.Second, "n3 sees no majority", func() bool {
			pv, err := c.Node("n3").Engine.Cluster(context.Background())
			return err == nil && !pv.Quorum
		})
		for i := range 6 {
			to := []string{local, remote}[i%2]
			start := time.Now()
			_, err := trySend(c.Node("n3"), "prober", to, fmt.Sprintf("probe-%d", i), "")
			took := time.Since(start)
			if shardgate.KindOf(err) != shardgate.KindUnavailable || !strings.Contains(err.Error(), "majority") {
				t.Fatalf("write %d to %s on the minority: %v, want 1003 saying it sees no majority", i, to, err)
			}
			if took > 100*time.Millisecond {
				t.Errorf("write %d to %s on the minority was refused after %v (fake time), want at once", i, to, took)
			}
		}
	})
}
