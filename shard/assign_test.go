package shard

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/shardgate/shardgate"
)

func TestAssignNoMembers(t *testing.T) {
	got := Assign(nil, DefaultConfig())
	if len(got.Shards) != 271 {
		t.Fatalf("%d shards, want 271", len(got.Shards))
	}
	for s, a := range got.Shards {
		if a.Owner != "" || len(a.Backups) != 0 {
			t.Fatalf("shard %d = %+v, want no owner and no backups", s, a)
		}
	}
	b, _ := json.Marshal(got.Shards[0])
	if string(b) != `{"owner":"","backups":[]}` {
		t.Fatalf("JSON %s: backups must be [] for clients, not null", b)
	}
}

func TestAssignIgnoresOrderRepeatsAndEmptyNames(t *testing.T) {
	cfg := DefaultConfig()
	want := Assign([]string{"a", "b", "c"}, cfg)
	got := Assign([]string{"c", "", "a", "b", "a"}, cfg)
	if !got.SameAssignment(want) {
		t.Fatal("repeated or empty names, or their order, changed the table")
	}
	if !slices.Equal(got.Members, []string{"a", "b", "c"}) {
		t.Fatalf("members %v", got.Members)
	}
}

func TestAssignSingleMemberHasNoBackups(t *testing.T) {
	got := Assign([]string{"solo"}, DefaultConfig())
	if got.Owned("solo") != 271 || got.BackedUp("solo") != 0 {
		t.Fatalf("solo owns %d and backs up %d", got.Owned("solo"), got.BackedUp("solo"))
	}
}

// A hash that collides everything leaves consistent no room at any load
// factor; Assign must still hand back a valid table.
func TestAssignSurvivesDegenerateHash(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Hash = func(string) uint64 { return 42 }
	members := nodeNames(5)
	checkAssign(t, Assign(members, cfg), members, cfg)
}

func TestAssignMoreMembersThanShards(t *testing.T) {
	cfg := Config{Partitions: 7, Backups: 2, Load: 1.25}.normalized()
	members := nodeNames(20)
	got := Assign(members, cfg)
	checkAssign(t, got, members, cfg)
	for _, m := range members {
		if got.Owned(m) > 1 {
			t.Fatalf("%s owns %d of 7 shards with 20 members", m, got.Owned(m))
		}
	}
}

func TestAssignTightLoadFactor(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Load = 1 // consistent alone panics whenever n does not divide P
	for _, n := range []int{2, 3, 7, 10, 100} {
		members := nodeNames(n)
		checkAssign(t, Assign(members, cfg), members, cfg)
	}
}

func TestAssignZeroConfigUsesDefaults(t *testing.T) {
	members := nodeNames(3)
	got := Assign(members, Config{})
	if got.Partitions != 271 || got.Backups != 0 {
		t.Fatalf("zero config gave P=%d B=%d, want 271 and 0", got.Partitions, got.Backups)
	}
}

// An injected hash lets a test work the owner out by hand: with one member
// it owns everything, and ShardOf follows the injected function.
func TestAssignUsesInjectedHash(t *testing.T) {
	calls := 0
	cfg := DefaultConfig()
	cfg.Hash = func(s string) uint64 { calls++; return uint64(len(s)) * 2654435761 }
	Assign(nodeNames(4), cfg)
	if calls == 0 {
		t.Fatal("Assign never called the injected hash")
	}
}

func TestWithOwner(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Backups = 2
	desired := Assign(nodeNames(5), cfg)
	before := desired.Clone()
	s := 17
	target := desired.Shards[s].Backups[0]
	got, err := WithOwner(desired, s, target, cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := got.Shards[s]
	if a.Owner != target || len(a.Backups) != 2 || slices.Contains(a.Backups, target) {
		t.Fatalf("shard %d = %+v, want owner %s and two other backups", s, a, target)
	}
	for i := range got.Shards {
		if i != s && !got.Shards[i].equal(desired.Shards[i]) {
			t.Fatalf("shard %d changed too", i)
		}
	}
	if !desired.SameAssignment(before) {
		t.Fatal("WithOwner wrote into its argument")
	}

	for _, tc := range []struct {
		shard int
		node  string
		kind  shardgate.Kind
		msg   string
	}{
		{271, "node-1", shardgate.KindNotFound, "shard 271 does not exist: shards are numbered 0 to 270"},
		{-1, "node-1", shardgate.KindNotFound, "does not exist"},
		{3, "ghost", shardgate.KindNotFound, `node "ghost" is not an active member`},
		{3, "", shardgate.KindInvalid, "a node name is required"},
	} {
		_, err := WithOwner(desired, tc.shard, tc.node, cfg)
		if shardgate.KindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("WithOwner(%d, %q) = %v (%v), want %v %q", tc.shard, tc.node, err, shardgate.KindOf(err), tc.kind, tc.msg)
		}
		if tc.kind == shardgate.KindNotFound && !errors.Is(err, shardgate.ErrNotFound) {
			t.Errorf("errors.Is(%v, ErrNotFound) is false", err)
		}
	}
}

func TestTableAccessors(t *testing.T) {
	tbl := Table{Partitions: 2, Shards: []Assignment{
		{Owner: "a", Backups: []string{"b", "c"}, Pending: []string{"d"}},
		{Owner: "b", Backups: []string{"a"}},
	}}
	if got := tbl.Replicas(0); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("Replicas(0) = %v", got)
	}
	if tbl.Replicas(5) == nil || len(tbl.Replicas(5)) != 0 {
		t.Errorf("Replicas of an unknown shard = %v, want empty", tbl.Replicas(5))
	}
	if !tbl.Holds(0, "c") || tbl.Holds(0, "d") || tbl.Holds(9, "a") || tbl.Holds(0, "") {
		t.Error("Holds: pending nodes, unknown shards and empty names hold nothing")
	}
	if tbl.Owned("a") != 1 || tbl.BackedUp("a") != 1 || tbl.BackedUp("d") != 0 {
		t.Error("Owned/BackedUp miscount")
	}
	if !tbl.Migrating(0) || tbl.Migrating(1) || tbl.Migrating(-1) {
		t.Error("Migrating")
	}
	c := tbl.Clone()
	c.Shards[0].Backups[0] = "x"
	c.Shards[0].Pending[0] = "x"
	if tbl.Shards[0].Backups[0] != "b" || tbl.Shards[0].Pending[0] != "d" {
		t.Fatal("Clone shares slices with the original")
	}
	c = tbl.Clone()
	c.Version, c.Coordinator = 9, "z"
	if !c.SameAssignment(tbl) {
		t.Error("SameAssignment must ignore Version and Coordinator")
	}
	c.Shards[1].Backups = nil
	tbl.Shards[1].Backups = []string{}
	if !c.SameAssignment(tbl) {
		t.Error("SameAssignment must treat nil and empty backups alike")
	}
	c.Members = []string{"a"}
	if c.SameAssignment(tbl) {
		t.Error("SameAssignment must compare members: they decide the quorum")
	}
}
