package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/internal/testutil"
	"github.com/shardgate/shardgate/node/nodetest"
	"github.com/shardgate/shardgate/shard"
)

// A dry run changes nothing, and the plan it answers is the one the real
// action then reports and carries out.
func TestDryRunPlansWhatTheActionDoes(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		c := nodetest.Start(t, 4, nodetest.Options{})
		l := startLoad(t, c, []string{"n1", "n2"}, []string{"n1", "n2"}, 2, 16)
		l.waitAcked(50, 20*time.Second)
		api := c.Node("n2").Engine // not the coordinator: the action is forwarded
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		route, err := api.Route(ctx, "user-1")
		if err != nil {
			t.Fatal(err)
		}
		to := "n4"
		if route.Owner == "n4" {
			to = "n3"
		}
		failed := ""
		for _, a := range []shardgate.Action{
			{Kind: shardgate.ActionMove, Shard: route.Shard, Node: to},
			{Kind: shardgate.ActionRebalance},
			{Kind: shardgate.ActionFailover, Node: "n4"},
			{Kind: shardgate.ActionReadmit, Node: "n4"},
			{Kind: shardgate.ActionDrain, Node: "n3"},
		} {
			if a.Kind == shardgate.ActionDrain {
				l.finish() // the drained node stops: the load's checks end first
			}
			settled(t, c, failed)
			before := tableOf(t, c, "n1")
			states, _ := api.Cluster(ctx)
			dry := a
			dry.DryRun = true
			plan, err := api.Act(ctx, dry)
			if err != nil {
				t.Fatalf("dry run of %s: %v", a.Kind, err)
			}
			if !plan.DryRun || plan.Summary == "" || plan.Version < before.Version {
				t.Fatalf("dry run of %s answered %+v", a.Kind, plan)
			}
			if len(plan.Moves) > 0 && plan.EstimateMS <= 0 {
				t.Errorf("dry run of %s: %d moves and no time estimate", a.Kind, len(plan.Moves))
			}
			// The data of a failed-over node's shards comes from their live
			// copies, and the plan names those (docs/operations.md).
			for _, m := range plan.Moves {
				if a.Kind == shardgate.ActionFailover && m.From == a.Node {
					t.Errorf("failover of %s: move %+v comes from the node being failed over", a.Node, m)
				}
			}
			// A real action publishes its table (or changes the node's
			// state) before it answers: a check right after sees it.
			if after := tableOf(t, c, "n1"); !sameAssignment(before, after) {
				t.Fatalf("dry run of %s changed the table: v%d → v%d", a.Kind, before.Version, after.Version)
			}
			cv, _ := api.Cluster(ctx)
			for _, n := range cv.Nodes {
				if was := nodeState(states, n.Name); n.State != was {
					t.Fatalf("dry run of %s turned %s from %s to %s", a.Kind, n.Name, was, n.State)
				}
			}
			rep, err := api.Act(ctx, a)
			if err != nil {
				t.Fatalf("%s: %v", a.Kind, err)
			}
			if !sameMoves(plan.Moves, rep.Moves) {
				t.Fatalf("%s: the dry run planned %v, the action reported %v", a.Kind, plan.Moves, rep.Moves)
			}
			switch a.Kind {
			case shardgate.ActionDrain:
				waitLeft(t, c, a.Node)
			case shardgate.ActionFailover:
				failed = a.Node
			case shardgate.ActionReadmit:
				failed = ""
			}
			settled(t, c, failed)
			checkPlanCarriedOut(t, before, tableOf(t, c, "n1"), rep)
			t.Logf("%s: %s (%d moves)", a.Kind, rep.Summary, len(rep.Moves))
		}
	})
}

// A live node that is failed over learns it: it shows failed, refuses
// writes, tells its clients where to go; readmit brings it back without a
// restart. A drain in progress can be undone the same way.
func TestReadmit(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		c := nodetest.Start(t, 3, nodetest.Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		api := c.Node("n1").Engine
		reader := c.KeyOwnedBy("n1", "reader")
		connect(t, c.Node("n3"), reader, nil)

		if _, err := api.Failover(ctx, "n3"); err != nil {
			t.Fatalf("failover n3: %v", err)
		}
		n3 := c.Node("n3")
		testutil.Eventually(t, 20*time.Second, "n3 to know it was failed over", func() bool {
			cv, _ := n3.Engine.Cluster(ctx)
			return failedOver(cv, "n3") && n3.Engine.Ready() != nil
		})
		testutil.Eventually(t, 20*time.Second, "the others to see n3 failed", func() bool {
			cv, _ := api.Cluster(ctx)
			return failedOver(cv, "n3") && cv.Coordinator == "n1"
		})
		if _, err := api.MoveShard(ctx, 0, "n3"); shardgate.KindOf(err) != shardgate.KindConflict || !strings.Contains(shardgate.UserMessage(err), "n3 is failed over") {
			t.Errorf("moving a shard to failed-over n3: %v, want a conflict that says why", err)
		}
		if _, err := api.MoveShard(ctx, 0, "n9"); shardgate.KindOf(err) != shardgate.KindNotFound {
			t.Errorf("moving a shard to unknown n9: %v, want not found", err)
		}
		if _, err := n3.Engine.Send(ctx, "x", "user-1", json.RawMessage(`"hi"`), ""); !errors.Is(err, shardgate.ErrUnavailable) {
			t.Errorf("a failed-over node took a write: %v", err)
		}
		testutil.Eventually(t, 10*time.Second, "a moved hint for the client on the failed-over node", func() bool {
			return slices.ContainsFunc(n3.Deliverer.MovedHints(), func(m nodetest.Moved) bool {
				return m.Key == reader && m.Reason == "failover"
			})
		})
		if _, err := api.Failover(ctx, "n3"); shardgate.KindOf(err) != shardgate.KindConflict {
			t.Errorf("a second failover of n3: %v, want a conflict", err)
		}

		if _, err := api.Readmit(ctx, "n3"); err != nil {
			t.Fatalf("readmit n3: %v", err)
		}
		c.WaitSettled(30 * time.Second) // settled includes: n3 ready and owning shards
		if _, err := n3.Engine.Send(ctx, "x", "user-1", json.RawMessage(`"hi"`), ""); err != nil {
			t.Errorf("readmitted n3 refuses writes: %v", err)
		}

		// Undo a drain while it runs: n2 stays.
		if _, err := api.Drain(ctx, "n2"); err != nil {
			t.Fatalf("drain n2: %v", err)
		}
		if _, err := api.Readmit(ctx, "n2"); err != nil {
			t.Fatalf("readmit n2 while it drains: %v", err)
		}
		c.WaitSettled(30 * time.Second)
		select {
		case <-c.Node("n2").Engine.Left():
			t.Fatal("n2 left although its drain was undone")
		default:
		}
		if _, err := api.Readmit(ctx, "n2"); shardgate.KindOf(err) != shardgate.KindConflict {
			t.Errorf("readmitting an active node: %v, want a conflict", err)
		}

	})
}

// tableOf reads the partition view of a node.
func tableOf(t *testing.T, c *nodetest.Cluster, name string) shardgate.PartitionsView {
	t.Helper()
	pv, err := c.Node(name).Engine.Partitions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return pv
}

func nodeState(cv shardgate.ClusterView, name string) string {
	for _, n := range cv.Nodes {
		if n.Name == name {
			return n.State
		}
	}
	return ""
}

// failedOver tells whether the view shows name as failed over: dead, the
// state clients know, and marked.
func failedOver(cv shardgate.ClusterView, name string) bool {
	for _, n := range cv.Nodes {
		if n.Name == name {
			return n.State == shardgate.StateDead && n.FailedOver
		}
	}
	return false
}

// settled waits until every running node has one table in which no shard
// is migrating or under-replicated and skip holds nothing (a failed-over
// node owns no shard, which WaitSettled would wait for).
func settled(t *testing.T, c *nodetest.Cluster, skip string) {
	t.Helper()
	if skip == "" {
		c.WaitSettled(30 * time.Second)
		return
	}
	testutil.Eventually(t, 30*time.Second, "a settled table without "+skip, func() bool {
		var version uint64
		for i, nd := range c.Live() {
			pv, _ := nd.Engine.Partitions(context.Background())
			if i > 0 && pv.Version != version {
				return false
			}
			version = pv.Version
			for _, p := range pv.Partitions {
				if p.State != shardgate.ShardStable || p.UnderReplicated || p.Owner == skip || slices.Contains(p.Backups, skip) {
					return false
				}
			}
		}
		return true
	})
}

// waitLeft waits until a drained node has left, then stops it, as
// cmd/node does when its engine reports Left.
func waitLeft(t *testing.T, c *nodetest.Cluster, name string) {
	t.Helper()
	select {
	case <-c.Node(name).Engine.Left():
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not finish draining", name)
	}
	c.StopNode(name)
}

// sameAssignment compares where every shard lives, not the version (log
// entries alone also make a new version).
func sameAssignment(a, b shardgate.PartitionsView) bool {
	return slices.EqualFunc(a.Partitions, b.Partitions, func(p, q shardgate.PartitionView) bool {
		return p.Owner == q.Owner && slices.Equal(p.Backups, q.Backups) && slices.Equal(p.Pending, q.Pending)
	})
}

// sameMoves compares two plans, ignoring bytes (traffic grows shards).
func sameMoves(a, b []shardgate.Move) bool {
	return slices.EqualFunc(a, b, func(x, y shardgate.Move) bool {
		x.Bytes, y.Bytes = 0, 0
		return x == y
	})
}

// checkPlanCarriedOut verifies that the settled table is what the plan
// said: every move's target holds its shard in the planned role, and
// every shard the plan left alone kept its home.
func checkPlanCarriedOut(t *testing.T, before, after shardgate.PartitionsView, rep shardgate.MoveReport) {
	t.Helper()
	planned := map[int]bool{}
	for _, m := range rep.Moves {
		planned[m.Shard] = true
		p := after.Partitions[m.Shard]
		switch m.Role {
		case shard.RoleOwner:
			if p.Owner != m.To {
				t.Errorf("%s: shard %d is home on %s, the plan said %s", rep.Action, m.Shard, p.Owner, m.To)
			}
		case shard.RoleBackup:
			if !slices.Contains(p.Backups, m.To) {
				t.Errorf("%s: shard %d is backed up on %v, the plan said %s too", rep.Action, m.Shard, p.Backups, m.To)
			}
		}
	}
	for id, p := range after.Partitions {
		if !planned[id] && p.Owner != before.Partitions[id].Owner {
			t.Errorf("%s: shard %d moved from %s to %s but the plan did not say so", rep.Action, id, before.Partitions[id].Owner, p.Owner)
		}
	}
}
