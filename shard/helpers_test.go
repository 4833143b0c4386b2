package shard

import (
	"fmt"
	"slices"
)

// nodeNames returns n distinct names in the style of a real cluster.
// tester is what the helpers need of *testing.T and *rapid.T alike.
type tester interface {
	Helper()
	Fatalf(format string, args ...any)
}

func nodeNames(n int) []string {
	ms := make([]string, n)
	for i := range ms {
		ms[i] = fmt.Sprintf("node-%d", i)
	}
	return ms
}

func aliveSet(nodes ...string) func(string) bool {
	return func(n string) bool { return slices.Contains(nodes, n) }
}

func allBut(dead ...string) func(string) bool {
	return func(n string) bool { return !slices.Contains(dead, n) }
}

// checkAssign holds an Assign result to its promises for members and cfg.
// Every failure names n and P so a shrunk counterexample reads on its own.
func checkAssign(tb tester, got Table, members []string, cfg Config) {
	tb.Helper()
	n, p := len(members), cfg.Partitions
	if got.Partitions != p || len(got.Shards) != p || got.Version != 0 || got.Backups != cfg.Backups {
		tb.Fatalf("n=%d P=%d: table header %d/%d shards, version %d, backups %d",
			n, p, got.Partitions, len(got.Shards), got.Version, got.Backups)
	}
	if !slices.IsSorted(got.Members) || len(got.Members) != n {
		tb.Fatalf("n=%d P=%d: members %v not the sorted set", n, p, got.Members)
	}
	wantBackups := min(cfg.Backups, n-1)
	owned := map[string]int{}
	for s, a := range got.Shards {
		if !slices.Contains(members, a.Owner) {
			tb.Fatalf("n=%d P=%d: shard %d owner %q is not a member", n, p, s, a.Owner)
		}
		owned[a.Owner]++
		if len(a.Backups) != wantBackups {
			tb.Fatalf("n=%d P=%d: shard %d has %d backups, want min(B=%d, n-1) = %d",
				n, p, s, len(a.Backups), cfg.Backups, wantBackups)
		}
		if len(a.Pending) != 0 {
			tb.Fatalf("n=%d P=%d: shard %d has pending %v in a desired table", n, p, s, a.Pending)
		}
		seen := map[string]bool{a.Owner: true}
		for _, b := range a.Backups {
			if seen[b] || !slices.Contains(members, b) {
				tb.Fatalf("n=%d P=%d: shard %d backups %v repeat the owner %q, repeat, or are not members",
					n, p, s, a.Backups, a.Owner)
			}
			seen[b] = true
		}
	}
	// consistent caps each member at ceil(P/n × Load) with the factor
	// Assign passes it (and the fallback at ceil(P/n), which is lower), so
	// this is the guarantee, tighter than ceil(P/n × Load) + 1.
	bound := int(roomFor(p, n, cfg.Load))
	for m, c := range owned {
		if c > bound {
			tb.Fatalf("n=%d P=%d Load=%g: %s owns %d shards, bound ceil(P/n×Load) = %d", n, p, cfg.Load, m, c, bound)
		}
	}
}

func ownersMoved(a, b Table) int {
	moved := 0
	for s := range a.Shards {
		if a.Shards[s].Owner != b.Shards[s].Owner {
			moved++
		}
	}
	return moved
}

// replicasMoved counts placements (shard, node) of b that a lacks: each is a
// copy a change from a to b has to make.
func replicasMoved(a, b Table) int {
	moved := 0
	for s := range b.Shards {
		for _, x := range b.Replicas(s) {
			if !a.Holds(s, x) {
				moved++
			}
		}
	}
	return moved
}

// converge drives cur toward desired as the engine does: plan a step, finish
// every copy it starts, and repeat. It returns the number of Plan calls.
func converge(tb tester, cur, desired Table, alive func(string) bool, opts PlanOptions, maxSteps int) (Table, int) {
	tb.Helper()
	for step := 1; step <= maxSteps; step++ {
		next := Plan(cur, desired, alive, opts)
		next.Members = desired.Members
		if next.SameAssignment(desired) {
			return next, step
		}
		for s, a := range next.Shards {
			for _, x := range a.Pending {
				next = Complete(next, s, x)
			}
		}
		cur = next
	}
	tb.Fatalf("no convergence in %d steps", maxSteps)
	return cur, maxSteps
}
