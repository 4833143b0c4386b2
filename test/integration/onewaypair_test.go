package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardgate/shardgate/app"
	"github.com/shardgate/shardgate/internal/testutil"
)

// keyOnPair finds a key whose shard has its home on owner and its backup
// on backup.
func keyOnPair(t testing.TB, c *tcluster, owner, backup, prefix string) string {
	t.Helper()
	for i := 0; i < 10000; i++ {
		k := fmt.Sprintf("%s-%d", prefix, i)
		r, err := c.live()[0].Node().Route(context.Background(), k)
		if err == nil && r.Owner == owner && slices.Contains(r.Backups, backup) {
			return k
		}
	}
	t.Fatalf("no key homed on %s and backed up on %s", owner, backup)
	return ""
}

// The node links between n1 and n2 are cut (both directions, as a
// dropped direction does to TCP) while both still reach n3 and gossip
// works. Neither end has a majority against it, yet the shards they share
// must take writes again: the younger end is failed over by the older
// one's report, and both kinds of shared key are acknowledged through n3.
func TestCutBetweenTwoOfThreeNodesHeals(t *testing.T) {
	t.Parallel()
	var cut atomic.Bool
	c := newCluster(t, 3, func(cfg *app.Config) {
		// The production write budgets: every probe below through a
		// shard that is not writable yet is refused within one of them.
		d := app.DefaultConfig()
		cfg.WriteTimeout, cfg.ReplicateTimeout = d.WriteTimeout, d.ReplicateTimeout
		cfg.LinkAllow = func(from, to string) bool {
			pair := (from == "n1" && to == "n2") || (from == "n2" && to == "n1")
			return !cut.Load() || !pair
		}
	})
	keys := []string{keyOnPair(t, c, "n1", "n2", "a"), keyOnPair(t, c, "n2", "n1", "b")}
	via := c.node("n3")
	// Only a link that worked and stopped is a cut (node/linktiebreak.go):
	// let the heartbeats (every 500 ms) cross the n1–n2 link first, as
	// they have on any cluster that has been up for a moment.
	c.waitStable(60 * time.Second)
	time.Sleep(1500 * time.Millisecond)
	cut.Store(true)
	start := time.Now()
	i := 0
	for _, key := range keys {
		testutil.Eventually(t, 30*time.Second, "writes to "+key+" acknowledged through n3", func() bool {
			i++
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, err := via.Node().Send(ctx, "probe", key, json.RawMessage(fmt.Sprint(i)), fmt.Sprintf("p%d", i))
			return err == nil
		})
	}
	t.Logf("writes to both kinds of shared key acknowledged again %v after the cut", time.Since(start).Round(10*time.Millisecond))
	cut.Store(false)
	c.waitStable(60 * time.Second)
}
