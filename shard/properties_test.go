package shard

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// everyN lists the member counts the P = 271 loop covers: all of them,
// or under the race detector the small ones, a stride and the edges.
func everyN(p int) []int {
	var ns []int
	for n := 1; n <= p; n++ {
		if !raceEnabled || n <= 40 || n%9 == 0 || n >= p-2 {
			ns = append(ns, n)
		}
	}
	return ns
}

// TestAssignEveryMemberCount checks every member count from 1 to P, where
// consistent alone panics for some, and measures owner movement between
// neighbouring counts: adding node-n to n members, or removing it again.
func TestAssignEveryMemberCount(t *testing.T) {
	cfg := DefaultConfig()
	var prev Table
	worst, worstN := 0.0, 0
	for _, n := range everyN(cfg.Partitions) {
		members := nodeNames(n)
		got := Assign(members, cfg)
		checkAssign(t, got, members, cfg)
		if n >= 3 && n <= 25 && len(prev.Members) == n-1 {
			// Ideal: the joining node takes P/n shards and nothing else
			// moves; leaving is the same pair of tables read backwards.
			ideal := float64(cfg.Partitions) / float64(n)
			ratio := float64(ownersMoved(prev, got)) / ideal
			if ratio > 2 {
				t.Errorf("%d→%d members moved %d owners, ideal %.1f (%.2f×)", n-1, n, ownersMoved(prev, got), ideal, ratio)
			}
			if ratio > worst {
				worst, worstN = ratio, n
			}
		}
		prev = got
	}
	t.Logf("worst join/leave for 3..25 members: %.2f× ideal at %d members", worst, worstN)
}

func genMembers(t *rapid.T, min, max int) []string {
	return rapid.SliceOfNDistinct(rapid.StringMatching(`[a-z][a-z0-9-]{0,11}`), min, max, rapid.ID).Draw(t, "members")
}

func genConfig(t *rapid.T) Config {
	return Config{
		Partitions: rapid.IntRange(1, 1024).Draw(t, "P"),
		Backups:    rapid.IntRange(0, 3).Draw(t, "B"),
		Load:       rapid.Float64Range(1, 2).Draw(t, "load"),
	}.normalized()
}

// Members are capped at 64 (P+2 when P is smaller, to cross into more
// members than shards): consistent rebuilds its ring in O(n² log n).
func TestAssignProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := genConfig(t)
		members := genMembers(t, 1, min(cfg.Partitions+2, 64))
		got := Assign(members, cfg)
		checkAssign(t, got, members, cfg)

		shuffled := rapid.Permutation(members).Draw(t, "shuffled")
		if !Assign(shuffled, cfg).SameAssignment(got) {
			t.Fatal("the order of members changed the table")
		}
	})
}

// TestMinimalMovement: no single join or leave reshuffles the table. A
// reshuffle would move about (n-1)/n of all owners, n times the minimum
// P/n; one event stays under 3× the minimum (in 3,000 seeded draws the
// largest was 2.2×). How close to the minimum they are on average is
// TestMovementAverage's figure, which a single random draw cannot check.
// The bound holds with at least 20 shards per member; below about 10 per
// member, consistent's cap ceil(P/n×Load) is a small integer and each step
// of it reshuffles many shards (see the benchmark).
func TestMinimalMovement(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := DefaultConfig()
		cfg.Partitions = rapid.IntRange(100, 1024).Draw(t, "P")
		members := genMembers(t, 3, min(cfg.Partitions/20, 40))
		leaver := rapid.IntRange(0, len(members)-1).Draw(t, "leaver")
		joinRatio, leaveRatio := movement(members, leaver, cfg)
		if joinRatio > 3 || leaveRatio > 3 {
			t.Fatalf("n=%d P=%d: join moved %.2f× ideal, leave %.2f×", len(members), cfg.Partitions, joinRatio, leaveRatio)
		}
	})
}

// TestMovementAverage: over many joins and leaves, owners move close to the
// minimum. The draws come from a fixed seed, so the figure is the same on
// every run (mean 1.24×, p99 1.9× over 3,000 draws of this generator).
func TestMovementAverage(t *testing.T) {
	draws := 400
	if raceEnabled {
		draws = 100
	}
	r := rand.New(rand.NewPCG(11, 12))
	ratios := make([]float64, 0, 2*draws)
	for range draws {
		cfg := DefaultConfig()
		cfg.Partitions = 100 + r.IntN(925)
		members := make([]string, 3+r.IntN(min(cfg.Partitions/20, 40)-2))
		for i := range members {
			members[i] = fmt.Sprintf("m%x", r.Uint64())
		}
		j, l := movement(members, r.IntN(len(members)), cfg)
		ratios = append(ratios, j, l)
	}
	slices.Sort(ratios)
	sum := 0.0
	for _, v := range ratios {
		sum += v
	}
	mean, p99 := sum/float64(len(ratios)), ratios[len(ratios)*99/100]
	t.Logf("%d joins and leaves: mean %.2f× the minimum, p99 %.2f×", len(ratios), mean, p99)
	if mean > 1.4 || p99 > 2.3 {
		t.Errorf("owners move %.2f× the minimum on average (p99 %.2f×), want at most 1.4× (p99 2.3×)", mean, p99)
	}
}

// movement is how many owners one join (of "joiner-node") and one leave (of
// members[leaver]) move, each as a multiple of the minimum P/n.
func movement(members []string, leaver int, cfg Config) (join, leave float64) {
	before := Assign(members, cfg)
	joined := Assign(append(slices.Clone(members), "joiner-node"), cfg)
	left := Assign(slices.Delete(slices.Clone(members), leaver, leaver+1), cfg)
	n := float64(len(members))
	join = float64(ownersMoved(before, joined)) / (float64(cfg.Partitions) / (n + 1))
	leave = float64(ownersMoved(before, left)) / (float64(cfg.Partitions) / n)
	return join, leave
}

// TestBackupSpread: when a node fails, Plan promotes its shards' backups;
// rendezvous placement must share them among the survivors.
func TestBackupSpread(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := DefaultConfig()
		cfg.Backups = rapid.IntRange(1, 2).Draw(t, "B")
		members := genMembers(t, 4, 20)
		cur := Assign(members, cfg)
		dead := rapid.SampledFrom(members).Draw(t, "dead")
		survivors := slices.DeleteFunc(slices.Clone(members), func(m string) bool { return m == dead })
		next := Plan(cur, Assign(survivors, cfg), allBut(dead), PlanOptions{})

		inherited := map[string]int{}
		for s, a := range cur.Shards {
			if a.Owner == dead {
				inherited[next.Shards[s].Owner]++
			}
		}
		// No survivor takes most of them. The backups of one node's shards
		// spread less evenly than independent draws would, so a binomial
		// bound (six deviations) is crossed now and then: in 100,000 seeded
		// draws of 4–20 members the largest share one survivor inherited
		// was 58%, and random search has found 60%. A node owns at
		// least 13 of the 271 shards here (the balance band at 20 members),
		// so three quarters is no small-count accident, and a placement that
		// piles the shards on one survivor still crosses it.
		lost := float64(cur.Owned(dead))
		limit := 0.75 * lost
		for node, c := range inherited {
			if node == dead || float64(c) > limit {
				t.Fatalf("%s inherited %d of the %.0f shards %s owned (at most %.1f)", node, c, lost, dead, limit)
			}
		}
	})
}

// TestPlanSafety: whatever the tables and whoever is alive, Plan's owner is
// cur's owner or a live node that held a committed copy in cur, and no dead
// node is left as a backup or a copy target.
func TestPlanSafety(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		nodes := genMembers(t, 1, 8)
		pick := rapid.SampledFrom(append(slices.Clone(nodes), ""))
		p := rapid.IntRange(1, 12).Draw(t, "P")
		genTable := func(label string) Table {
			tbl := Table{Partitions: p, Shards: make([]Assignment, p)}
			for s := range tbl.Shards {
				tbl.Shards[s] = Assignment{
					Owner:   pick.Draw(t, fmt.Sprintf("%s owner %d", label, s)),
					Backups: rapid.SliceOfNDistinct(rapid.SampledFrom(nodes), 0, 3, rapid.ID).Draw(t, fmt.Sprintf("%s backups %d", label, s)),
					Pending: rapid.SliceOfNDistinct(rapid.SampledFrom(nodes), 0, 2, rapid.ID).Draw(t, fmt.Sprintf("%s pending %d", label, s)),
				}
			}
			return tbl
		}
		cur, desired := genTable("cur"), genTable("desired")
		live := rapid.SliceOfDistinct(rapid.SampledFrom(nodes), rapid.ID).Draw(t, "alive")
		alive := aliveSet(live...)
		curCopy := cur.Clone()
		limit := rapid.IntRange(0, 3).Draw(t, "limit")
		next := Plan(cur, desired, alive, PlanOptions{MaxPendingPerNode: limit})

		if !cur.SameAssignment(curCopy) {
			t.Fatal("Plan wrote into cur")
		}
		targets := map[string]int{}
		for s, a := range next.Shards {
			c := cur.Shards[s]
			if a.Owner != c.Owner && !(alive(a.Owner) && c.holds(a.Owner)) {
				t.Fatalf("shard %d: owner %q → %q, which held no live copy", s, c.Owner, a.Owner)
			}
			for _, b := range a.Backups {
				if !alive(b) || b == a.Owner {
					t.Fatalf("shard %d: backup %q is dead or the owner", s, b)
				}
			}
			for _, x := range a.Pending {
				targets[x]++
				if !alive(x) || a.holds(x) || !desired.Holds(s, x) {
					t.Fatalf("shard %d: pending %q is dead, already a holder, or not wanted", s, x)
				}
			}
		}
		for x, c := range targets {
			if limit > 0 && c > limit {
				t.Fatalf("%s is the target of %d copies, cap %d", x, c, limit)
			}
		}
	})
}

// TestConvergence: from any table Assign gives, after one node joins and
// one fails or leaves, Plan and Complete reach desired in a few steps.
func TestConvergence(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := DefaultConfig()
		cfg.Partitions = rapid.IntRange(1, 300).Draw(t, "P")
		cfg.Backups = rapid.IntRange(1, 2).Draw(t, "B")
		members := genMembers(t, 2, 12)
		cur := Assign(members, cfg)
		cur.Version = 7

		next := slices.Clone(members)
		var dead []string
		if rapid.Bool().Draw(t, "someone leaves") {
			i := rapid.IntRange(0, len(next)-1).Draw(t, "leaver")
			if rapid.Bool().Draw(t, "it fails") {
				dead = append(dead, next[i])
			}
			next = slices.Delete(next, i, i+1)
		}
		if rapid.Bool().Draw(t, "someone joins") {
			next = append(next, "joiner-node")
		}
		desired := Assign(next, cfg)
		limit := rapid.IntRange(0, 8).Draw(t, "limit")
		maxSteps := 3
		if limit > 0 {
			maxSteps = cfg.Partitions/limit + 3
		}
		got, steps := converge(t, cur, desired, allBut(dead...), PlanOptions{MaxPendingPerNode: limit}, maxSteps)
		if got.Version != 7 {
			t.Fatalf("Plan changed the version to %d", got.Version)
		}
		if limit == 0 && steps > 2 {
			t.Fatalf("took %d steps without a cap, want at most 2", steps)
		}
	})
}
