package nodetest

import (
	"context"
	"fmt"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/internal/testutil"
)

// WaitSettled waits until every running node is ready and holds the same
// table, in which every running node owns a shard and every shard is
// stable, fully replicated and held by running nodes only. It fails the
// test when that takes longer than within.
func (c *Cluster) WaitSettled(within time.Duration) {
	c.t.Helper()
	testutil.EventuallyExplained(c.t, within, "a settled table", c.Unsettled)
}

// Unsettled says why the cluster is not settled, or "" when it is.
func (c *Cluster) Unsettled() string {
	nodes := c.Live()
	if len(nodes) == 0 {
		return "no node runs"
	}
	live := map[string]bool{}
	for _, nd := range nodes {
		live[nd.Name] = true
	}
	first, err := nodes[0].Engine.Partitions(context.Background())
	if err != nil {
		return nodes[0].Name + ": " + err.Error()
	}
	owned := map[string]bool{}
	for _, p := range first.Partitions {
		owned[p.Owner] = true
		if !live[p.Owner] || p.State != shardgate.ShardStable || p.UnderReplicated {
			return fmt.Sprintf("shard %d: owner %s, state %s, under-replicated %v", p.ID, p.Owner, p.State, p.UnderReplicated)
		}
		for _, b := range p.Backups {
			if !live[b] {
				return fmt.Sprintf("shard %d is backed up on %s, which is not running", p.ID, b)
			}
		}
	}
	for _, nd := range nodes {
		if !owned[nd.Name] {
			return nd.Name + " owns no shard yet"
		}
		if err := nd.Engine.Ready(); err != nil {
			return nd.Name + " is not ready: " + err.Error()
		}
		pv, err := nd.Engine.Partitions(context.Background())
		if err != nil {
			return nd.Name + ": " + err.Error()
		}
		if pv.Version != first.Version {
			return fmt.Sprintf("%s has table v%d, %s has v%d", nd.Name, pv.Version, nodes[0].Name, first.Version)
		}
	}
	return ""
}

// Owner is the home of key in the table of the first running node.
func (c *Cluster) Owner(key string) string {
	c.t.Helper()
	r, err := c.Live()[0].Engine.Route(context.Background(), key)
	if err != nil {
		c.t.Fatalf("nodetest: route %s: %v", key, err)
	}
	return r.Owner
}

// KeyOwnedBy returns the first key prefix-0, prefix-1, … whose home is
// the named node.
func (c *Cluster) KeyOwnedBy(name, prefix string) string {
	c.t.Helper()
	for i := range 100_000 {
		k := fmt.Sprintf("%s-%d", prefix, i)
		if c.Owner(k) == name {
			return k
		}
	}
	c.t.Fatalf("nodetest: no key with prefix %q is homed on %s", prefix, name)
	return ""
}
