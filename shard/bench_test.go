package shard

import (
	"fmt"
	"strconv"
	"testing"
)

func BenchmarkAssign(b *testing.B) {
	cfg := DefaultConfig()
	for _, n := range []int{3, 10, 25, 50} {
		members := nodeNames(n)
		b.Run("members="+strconv.Itoa(n), func(b *testing.B) {
			for b.Loop() {
				Assign(members, cfg)
			}
		})
	}
}

func BenchmarkShardOf(b *testing.B) {
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("user-%d@example.com", i)
	}
	i, sink := 0, 0
	for b.Loop() {
		sink += ShardOf(keys[i&1023], 271)
		i++
	}
	_ = sink
}

// BenchmarkMovedOnJoin measures what one join costs: the fraction of owners
// that change and the fraction of (shard, node) placements that are new
// copies, against the ideal 1/(n+1) for both.
func BenchmarkMovedOnJoin(b *testing.B) {
	cfg := DefaultConfig()
	for _, n := range []int{3, 10, 25} {
		b.Run(fmt.Sprintf("%dto%d", n, n+1), func(b *testing.B) {
			var owners, replicas float64
			for b.Loop() {
				before := Assign(nodeNames(n), cfg)
				after := Assign(nodeNames(n+1), cfg)
				owners = float64(ownersMoved(before, after)) / float64(cfg.Partitions)
				replicas = float64(replicasMoved(before, after)) / float64(cfg.Partitions*(1+cfg.Backups))
			}
			b.ReportMetric(owners, "owners-moved")
			b.ReportMetric(replicas, "replicas-moved")
			b.ReportMetric(1/float64(n+1), "ideal")
		})
	}
}

func BenchmarkPlan(b *testing.B) {
	cfg := DefaultConfig()
	cur := Assign(nodeNames(10), cfg)
	desired := Assign(nodeNames(11), cfg)
	for b.Loop() {
		Plan(cur, desired, nil, PlanOptions{MaxPendingPerNode: 16})
	}
}

// BenchmarkTableChange is the whole computation a coordinator runs when a
// member joins a large cluster: the desired assignment for the new member
// set and the next table toward it. The aim is 50 members and P = 1,024
// well under 50 ms per change.
func BenchmarkTableChange(b *testing.B) {
	for _, tc := range []struct{ members, partitions int }{{12, 271}, {50, 1024}} {
		cfg := DefaultConfig()
		cfg.Partitions = tc.partitions
		cur := Assign(nodeNames(tc.members-1), cfg)
		b.Run(fmt.Sprintf("members=%d/P=%d", tc.members, tc.partitions), func(b *testing.B) {
			for b.Loop() {
				desired := Assign(nodeNames(tc.members), cfg)
				Plan(cur, desired, nil, PlanOptions{MaxPendingPerNode: 16})
			}
		})
	}
}

// BenchmarkKeysShardOf is ShardOf through consistent's FindPartitionID, as
// the node maps keys.
func BenchmarkKeysShardOf(b *testing.B) {
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("user-%d@example.com", i)
	}
	k := NewKeys(DefaultConfig())
	i, sink := 0, 0
	for b.Loop() {
		sink += k.ShardOf(keys[i&1023])
		i++
	}
	_ = sink
}
