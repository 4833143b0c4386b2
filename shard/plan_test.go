package shard

import (
	"slices"
	"testing"

	"github.com/shardgate/shardgate"
)

func one(a Assignment) Table { return Table{Partitions: 1, Shards: []Assignment{a}} }

func as(owner string, backups []string, pending ...string) Assignment {
	if backups == nil {
		backups = []string{}
	}
	return Assignment{Owner: owner, Backups: backups, Pending: pending}
}

func TestPlanSteps(t *testing.T) {
	cases := []struct {
		name    string
		cur     Assignment
		desired Assignment
		alive   []string
		want    Assignment
	}{
		{"failover promotes the backup",
			as("a", []string{"b"}), as("b", []string{"c"}), []string{"b", "c"},
			as("b", nil, "c")},
		{"failover prefers a backup desired keeps",
			as("a", []string{"b", "c"}), as("d", []string{"c"}), []string{"b", "c", "d"},
			as("c", []string{"b"}, "d")},
		{"failover then cut-over when the survivors are desired",
			as("a", []string{"b", "c"}), as("c", []string{"b"}), []string{"b", "c"},
			as("c", []string{"b"})},
		{"no live holder leaves the owner as it is",
			as("a", []string{"b"}, "c"), as("c", []string{"d"}), []string{"c", "d"},
			as("a", nil)},
		{"an unowned shard is not homed on a node without its data",
			as("", nil), as("c", []string{"d"}), []string{"c", "d"},
			as("", nil)},
		{"missing replicas become pending",
			as("a", []string{"b"}), as("c", []string{"a"}), []string{"a", "b", "c"},
			as("a", []string{"b"}, "c")},
		{"cut-over once desired's holders have copies; extra holders go",
			as("a", []string{"b", "c"}), as("c", []string{"a"}), []string{"a", "b", "c"},
			as("c", []string{"a"})},
		{"dead backups and dead pending nodes are removed",
			as("a", []string{"b", "x"}, "y"), as("a", []string{"y"}), []string{"a", "b"},
			as("a", []string{"b"})},
		{"stable shard stays",
			as("a", []string{"b"}), as("a", []string{"b"}), []string{"a", "b"},
			as("a", []string{"b"})},
		{"desired with no owner never drops the data",
			as("a", []string{"b"}), as("", nil), []string{"a", "b"},
			as("a", []string{"b"})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cur := one(tc.cur)
			cur.Version, cur.Coordinator, cur.Members = 5, "a", []string{"a", "b"}
			got := Plan(cur, one(tc.desired), aliveSet(tc.alive...), PlanOptions{})
			if !got.Shards[0].equal(tc.want) {
				t.Fatalf("got %+v, want %+v", got.Shards[0], tc.want)
			}
			if got.Version != 5 || got.Coordinator != "a" || !slices.Equal(got.Members, cur.Members) {
				t.Fatalf("Plan changed the header: %d %q %v", got.Version, got.Coordinator, got.Members)
			}
		})
	}
}

func TestPlanCompleteCutOver(t *testing.T) {
	cur := one(as("a", []string{"b"}))
	desired := one(as("c", []string{"a"}))
	all := aliveSet("a", "b", "c")
	next := Plan(cur, desired, all, PlanOptions{})
	if !next.Migrating(0) || next.Shards[0].Owner != "a" {
		t.Fatalf("first step %+v: want owner a copying to c", next.Shards[0])
	}
	done := Complete(next, 0, "c")
	if !done.Holds(0, "c") || done.Migrating(0) || next.Holds(0, "c") {
		t.Fatalf("Complete: %+v (and must not write into its argument: %+v)", done.Shards[0], next.Shards[0])
	}
	final := Plan(done, desired, all, PlanOptions{})
	if !final.Shards[0].equal(as("c", []string{"a"})) {
		t.Fatalf("after the copy: %+v, want the cut-over to c", final.Shards[0])
	}
	if got := Complete(next, 0, "b"); !got.SameAssignment(next) {
		t.Fatal("completing a node that is not pending must change nothing")
	}
	if got := Complete(next, 9, "c"); !got.SameAssignment(next) {
		t.Fatal("completing an unknown shard must change nothing")
	}
}

func TestPlanCapsPendingPerNode(t *testing.T) {
	cur := Table{Partitions: 4, Shards: []Assignment{
		as("a", nil), as("a", nil), as("a", nil), as("a", nil, "c"),
	}}
	desired := Table{Partitions: 4, Shards: []Assignment{
		as("a", []string{"c"}), as("a", []string{"c"}), as("a", []string{"c"}), as("a", []string{"c"}),
	}}
	got := Plan(cur, desired, nil, PlanOptions{MaxPendingPerNode: 2})
	var pending []int
	for s := range got.Shards {
		if got.Migrating(s) {
			pending = append(pending, s)
		}
	}
	// The copy already running to shard 3 keeps its place; then lowest first.
	if !slices.Equal(pending, []int{0, 3}) {
		t.Fatalf("pending shards %v, want [0 3]", pending)
	}
	if got := Plan(cur, desired, nil, PlanOptions{}); got.Shards[2].Pending == nil {
		t.Fatal("no cap: every shard should be copying")
	}
}

func TestPlanDoesNotAliasInputs(t *testing.T) {
	cur := one(as("a", []string{"b"}))
	desired := one(as("a", []string{"b"}))
	got := Plan(cur, desired, nil, PlanOptions{})
	got.Shards[0].Backups[0] = "z"
	if cur.Shards[0].Backups[0] != "b" || desired.Shards[0].Backups[0] != "b" {
		t.Fatal("Plan's result shares slices with its inputs")
	}
}

func TestMoves(t *testing.T) {
	cur := Table{Partitions: 2, Shards: []Assignment{as("a", []string{"b"}, "c"), as("b", []string{"a"})}}
	desired := Table{Partitions: 2, Shards: []Assignment{as("c", []string{"d"}), as("b", []string{"c"})}}
	next := Plan(cur, desired, nil, PlanOptions{})
	got := Moves(cur, next, desired)
	want := []shardgate.Move{
		{Shard: 0, From: "a", To: "d", Role: RoleBackup},
		{Shard: 1, From: "b", To: "c", Role: RoleBackup},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Moves = %+v, want %+v (c was already copying shard 0)", got, want)
	}
	fresh := Moves(Table{}, next, desired)
	if len(fresh) != 3 || fresh[0] != (shardgate.Move{Shard: 0, From: "a", To: "c", Role: RoleOwner}) {
		t.Fatalf("Moves from nothing = %+v", fresh)
	}
	if m := Moves(next, next, desired); m == nil || len(m) != 0 {
		t.Fatalf("no new copies: %v, want an empty list", m)
	}
}

// TestJoinThenFailure walks a realistic sequence on the default config:
// a node joins and receives copies, then an old node dies mid-way.
func TestJoinThenFailure(t *testing.T) {
	cfg := DefaultConfig()
	cur := Assign(nodeNames(3), cfg)
	desired := Assign(nodeNames(4), cfg)
	next := Plan(cur, desired, nil, PlanOptions{MaxPendingPerNode: 16})
	for s, a := range next.Shards {
		// Swapping owner and backup needs no copy; anything else waits.
		if a.Owner != cur.Shards[s].Owner && !cur.Holds(s, a.Owner) {
			t.Fatalf("shard %d moved to %s before its copy finished", s, a.Owner)
		}
	}
	perTarget := map[string]int{}
	for _, m := range Moves(cur, next, desired) {
		perTarget[m.To]++
	}
	if perTarget["node-3"] != 16 {
		t.Fatalf("copies per target %v: the joiner should get exactly the cap, 16", perTarget)
	}
	dead := "node-1"
	survivors := Assign([]string{"node-0", "node-2", "node-3"}, cfg)
	got, _ := converge(t, next, survivors, allBut(dead), PlanOptions{MaxPendingPerNode: 16}, 40)
	if got.Owned(dead) != 0 || got.BackedUp(dead) != 0 {
		t.Fatal("the dead node still holds shards")
	}
}
