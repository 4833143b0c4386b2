package node

import (
	"reflect"
	"slices"
	"testing"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/cluster"
	"github.com/shardgate/shardgate/shard"
)

func viewOf(self string, names ...string) clusterView {
	v := clusterView{self: self, members: map[string]cluster.Member{}, departed: map[string]string{}}
	for i, n := range names {
		v.members[n] = cluster.Member{Name: n, Status: "alive",
			Meta: cluster.Meta{State: shardgate.StateActive, StartedAt: int64(i + 1)}}
	}
	return v
}

// nextTable is a pure function: the same input gives the same output, and
// the input (the completions in particular) is left as it was.
func TestNextTableIsPure(t *testing.T) {
	cfg := shard.DefaultConfig()
	cfg.Partitions = 31
	first := nextTable(planInput{view: viewOf("a", "a", "b"), shard: cfg, maxPending: 4})
	if !first.changed || len(first.next.Shards) != cfg.Partitions {
		t.Fatalf("the first table of two members: changed %v, %d shards", first.changed, len(first.next.Shards))
	}
	cur := first.next
	cur.Version = 1
	// c joins: the next step adds it as a pending holder somewhere.
	in := planInput{cur: cur, view: viewOf("a", "a", "b", "c"), shard: cfg, maxPending: 4}
	step := nextTable(in)
	pend := -1
	for id, a := range step.next.Shards {
		if slices.Contains(a.Pending, "c") {
			pend = id
			break
		}
	}
	if pend < 0 {
		t.Fatal("a join started no copy to the new member")
	}
	cur2 := step.next
	cur2.Version = 2
	done := []copiedReq{{Shard: pend, Node: "c", Version: 2}, {Shard: (pend + 1) % cfg.Partitions, Node: "nobody", Version: 2}}
	in2 := planInput{cur: cur2, view: viewOf("a", "a", "b", "c"), completed: slices.Clone(done), shard: cfg, maxPending: 4}
	out1 := nextTable(in2)
	out2 := nextTable(in2)
	if !reflect.DeepEqual(out1, out2) {
		t.Fatal("two steps on the same input differ")
	}
	if !reflect.DeepEqual(in2.completed, done) {
		t.Fatalf("the step changed its input's completions: %v", in2.completed)
	}
	if len(out1.completed) != 1 || out1.completed[0] != done[0] {
		t.Fatalf("completions still waiting: %v, want only the one the table lists as pending", out1.completed)
	}
	if slices.Contains(out1.next.Shards[pend].Pending, "c") {
		t.Fatalf("shard %d: the completed copy to c is still pending", pend)
	}

	// A copy made by a node that is no longer the shard's home does not
	// count: the home now copies again, and c holds only part of it.
	owner := cur2.Shards[pend].Owner
	former := "b"
	if owner == "b" {
		former = "a"
	}
	stale := []copiedReq{{Shard: pend, Node: "c", Version: 2, From: former}}
	out3 := nextTable(planInput{cur: cur2, view: viewOf("a", "a", "b", "c"), completed: stale, shard: cfg, maxPending: 4})
	if !slices.Contains(out3.next.Shards[pend].Pending, "c") || len(out3.completed) != 0 {
		t.Fatalf("shard %d (home %s): a copy reported by %s completed c (pending %v, kept %v)", pend, owner, former, out3.next.Shards[pend].Pending, out3.completed)
	}
	fresh := []copiedReq{{Shard: pend, Node: "c", Version: 2, From: owner}}
	out4 := nextTable(planInput{cur: cur2, view: viewOf("a", "a", "b", "c"), completed: fresh, shard: cfg, maxPending: 4})
	if slices.Contains(out4.next.Shards[pend].Pending, "c") {
		t.Fatalf("shard %d: the home's own report did not complete the copy to c", pend)
	}
}

// An operator's action on a node that was failed over, is dead, is
// leaving, or needs nothing is refused with a sentence that calls each node
// what /v1/cluster and the dashboard call it ("failed over", not the
// table's internal "failed"; "dead", not unknown) and says the way out.
func TestRefusalsNameTheNodesState(t *testing.T) {
	v := viewOf("n1", "n1", "n2", "n3", "n4")
	n4 := v.members["n4"]
	n4.Meta.State = shardgate.StateLeft
	v.members["n4"] = n4
	ops := shard.Ops{Failed: map[string]int64{"n3": v.members["n3"].Meta.StartedAt}, Dead: []string{"n5"}}
	tests := []struct {
		action shardgate.Action
		want   string
	}{
		{shardgate.Action{Kind: shardgate.ActionDrain, Node: "n3"}, "n3 is failed over: its shards are already on other nodes; readmit it to drain it, or stop its process and remove it"},
		{shardgate.Action{Kind: shardgate.ActionMove, Shard: 1, Node: "n3"}, "n3 is failed over, not active: shards can only be moved to an active node"},
		{shardgate.Action{Kind: shardgate.ActionRemove, Node: "n3"}, "n3 is failed over but its process still runs: stop it, and remove it once it is dead; or readmit it"},
		{shardgate.Action{Kind: shardgate.ActionFailover, Node: "n3"}, "n3 is already failed over; readmit it to undo that"},
		{shardgate.Action{Kind: shardgate.ActionReadmit, Node: "n2"}, "n2 is active: it was neither failed over nor drained, so there is nothing to undo"},
		{shardgate.Action{Kind: shardgate.ActionRemove, Node: "n2"}, "n2 is active, not dead: drain it to take it out of the cluster"},
		{shardgate.Action{Kind: shardgate.ActionReadmit, Node: "n4"}, "n4 finished its drain and is leaving the cluster: it can no longer be readmitted; start it again to bring it back"},
		{shardgate.Action{Kind: shardgate.ActionDrain, Node: "n5"}, "n5 is dead: there is nothing to drain; remove it to forget it"},
		{shardgate.Action{Kind: shardgate.ActionMove, Shard: 1, Node: "n5"}, "n5 is dead: shards can only be moved to an active node"},
		{shardgate.Action{Kind: shardgate.ActionReadmit, Node: "n5"}, "n5 is dead: only a running node can be readmitted; start it again and it readmits itself"},
		{shardgate.Action{Kind: shardgate.ActionDrain, Node: "n9"}, `no live node named "n9"`},
	}
	for _, tc := range tests {
		o := ops.Clone()
		_, _, err := applyToOps(tc.action, &o, v)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s of %s: %v, want %q", tc.action.Kind, tc.action.Node, err, tc.want)
		}
	}
}
