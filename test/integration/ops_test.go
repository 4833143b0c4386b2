package integration

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/internal/testutil"
	"github.com/shardgate/shardgate/shard"
)

// tableOf reads the partition view of a node.
func tableOf(t *testing.T, c *tcluster, name string) shardgate.PartitionsView {
	t.Helper()
	pv, err := c.node(name).Node().Partitions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return pv
}

// sameAssignment compares where every shard lives, not the version (log
// entries alone also make a new version).
func sameAssignment(a, b shardgate.PartitionsView) bool {
	if len(a.Partitions) != len(b.Partitions) {
		return false
	}
	for i, p := range a.Partitions {
		q := b.Partitions[i]
		if p.Owner != q.Owner || !slices.Equal(p.Backups, q.Backups) || !slices.Equal(p.Pending, q.Pending) {
			return false
		}
	}
	return true
}

// sameMoves compares two plans, ignoring bytes (traffic grows shards).
func sameMoves(a, b []shardgate.Move) bool {
	strip := func(m []shardgate.Move) []shardgate.Move {
		out := make([]shardgate.Move, len(m))
		for i, x := range m {
			x.Bytes = 0
			out[i] = x
		}
		return out
	}
	return slices.Equal(strip(a), strip(b))
}

// checkPlanCarriedOut verifies that the stable table is what the plan said:
// every move's target holds its shard in the planned role, and every shard
// the plan left alone kept its home.
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

// A dry run changes nothing, and the plan it answers is the one the real
// action then reports and carries out.
func TestDryRunPlansWhatTheActionDoes(t *testing.T) {
	c := newCluster(t, 4, nil)
	w := startWorkload(t, c, []string{"n1", "n2"}, 4, 24)
	w.waitAcked(100, 20*time.Second)
	api := c.node("n2").Node() // not the coordinator: the action is forwarded
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	route, _ := api.Route(ctx, "user-1")
	to := "n4"
	if route.Owner == "n4" {
		to = "n3"
	}
	actions := []shardgate.Action{
		{Kind: shardgate.ActionMove, Shard: route.Shard, Node: to},
		{Kind: shardgate.ActionRebalance},
		{Kind: shardgate.ActionFailover, Node: "n4"},
		{Kind: shardgate.ActionReadmit, Node: "n4"},
		{Kind: shardgate.ActionDrain, Node: "n3"},
	}
	failed := ""
	for _, a := range actions {
		if a.Kind == shardgate.ActionDrain {
			// The drain's node stops at the end: the workload's checks end
			// first (delivery across a graceful stop under load is
			// node.TestLiveDeliveryAcrossOwnershipChanges's, on the node test kit).
			w.finish()
			w = nil
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
		// Nothing changed: a real action publishes its table (or changes
		// the node's state) before it answers, so a check right after the
		// dry run would see it.
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
}

// settled waits until every live node but skip has one table in which
// no shard is migrating or under-replicated and skip holds nothing (a
// failed-over node owns no shard, which waitStable would wait for).
func settled(t *testing.T, c *tcluster, skip string) {
	t.Helper()
	if skip == "" {
		c.waitStable(60 * time.Second)
		return
	}
	testutil.Eventually(t, 60*time.Second, "a settled table without "+skip, func() bool {
		var version uint64
		for i, s := range c.live() {
			pv, _ := s.Node().Partitions(context.Background())
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

// waitLeft waits until a drained node has left and shuts it down, as
// cmd/node does when its engine reports Left.
func waitLeft(t *testing.T, c *tcluster, name string) {
	t.Helper()
	select {
	case <-c.node(name).Node().Left():
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not finish draining", name)
	}
	c.stop(name)
}

// The sequence that once left a cluster with no coordinator: drain n3,
// fail over n2, drain n1. The last two are refused with a reason, a dry
// run says so too, and the cluster stays healthy.
func TestGuardsRefuseTheStuckSequence(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	api := c.node("n1").Node()
	if _, err := api.Drain(ctx, "n3"); err != nil {
		t.Fatalf("drain n3: %v", err)
	}
	waitLeft(t, c, "n3")
	c.waitStable(60 * time.Second)
	before := tableOf(t, c, "n1")

	admin := c.node("n2").AdminURL()
	for _, step := range []struct{ path, want string }{
		{"/v1/nodes/n2/failover?dry_run=1", "fewer than the 2 copies"},
		{"/v1/nodes/n2/failover", "quorum"},
		{"/v1/nodes/n1/drain", "fewer than the 2 copies"},
	} {
		status, body := post(t, admin+step.path, "")
		if status != http.StatusConflict || !strings.Contains(body, step.want) || !strings.Contains(body, "force") {
			t.Errorf("POST %s = %d %s, want 409 saying %q", step.path, status, body, step.want)
		}
	}
	c.waitStable(30 * time.Second)
	if after := tableOf(t, c, "n1"); !sameAssignment(before, after) {
		t.Errorf("refused actions changed the table: v%d → v%d", before.Version, after.Version)
	}
	cv, _ := api.Cluster(ctx)
	if cv.Coordinator == "" || !cv.Quorum {
		t.Errorf("after the refusals: coordinator %q, quorum %v", cv.Coordinator, cv.Quorum)
	}
	// Force overrides a guard; it is the operator's call, and the plan
	// says what was overridden.
	status, body := post(t, admin+"/v1/nodes/n2/failover", `{"force": true, "dry_run": true}`)
	if status != http.StatusOK || !strings.Contains(body, `"forced":true`) {
		t.Errorf("forced dry run = %d %s", status, body)
	}
	if r, _ := api.Send(ctx, "a", "b", json.RawMessage(`1`), ""); r.Seq == 0 {
		t.Error("the cluster does not take writes after the refusals")
	}
}

// post sends a POST to the admin API (no token in tests) and returns the
// status and body.
func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Shardgate-Actor", "ops-test")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A live node that is failed over learns it: it shows failed, refuses
// writes, tells its clients where to go; readmit brings it back without a
// restart. A drain in progress can be undone the same way.
func TestReadmit(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	api := c.node("n1").Node()
	cl := c.dial("n3", "reader-on-n3", nil)

	if _, err := api.Failover(ctx, "n3"); err != nil {
		t.Fatalf("failover n3: %v", err)
	}
	n3 := c.node("n3").Node()
	testutil.Eventually(t, 20*time.Second, "n3 to know it was failed over", func() bool {
		cv, _ := n3.Cluster(ctx)
		return nodeState(cv, "n3") == shardgate.StateFailed && n3.Ready() != nil
	})
	testutil.Eventually(t, 20*time.Second, "the others to see n3 failed", func() bool {
		cv, _ := api.Cluster(ctx)
		return nodeState(cv, "n3") == shardgate.StateFailed && cv.Coordinator == "n1"
	})
	if _, err := n3.Send(ctx, "x", "user-1", json.RawMessage(`"hi"`), ""); !errors.Is(err, shardgate.ErrUnavailable) {
		t.Errorf("a failed-over node took a write: %v", err)
	}
	select {
	case h := <-cl.Moved():
		if h.Reason != "failover" {
			t.Errorf("moved hint says %q", h.Reason)
		}
	case <-time.After(10 * time.Second):
		t.Error("the client on the failed-over node got no moved hint")
	}
	if _, err := api.Failover(ctx, "n3"); shardgate.KindOf(err) != shardgate.KindConflict {
		t.Errorf("a second failover of n3: %v, want a conflict", err)
	}

	if _, err := api.Readmit(ctx, "n3"); err != nil {
		t.Fatalf("readmit n3: %v", err)
	}
	c.waitStable(60 * time.Second) // stable includes: n3 ready and owning shards
	if _, err := n3.Send(ctx, "x", "user-1", json.RawMessage(`"hi"`), ""); err != nil {
		t.Errorf("readmitted n3 refuses writes: %v", err)
	}

	// Undo a drain while it runs: n2 stays.
	if _, err := api.Drain(ctx, "n2"); err != nil {
		t.Fatalf("drain n2: %v", err)
	}
	if _, err := api.Readmit(ctx, "n2"); err != nil {
		t.Fatalf("readmit n2 while it drains: %v", err)
	}
	c.waitStable(60 * time.Second)
	select {
	case <-c.node("n2").Node().Left():
		t.Fatal("n2 left although its drain was undone")
	default:
	}
	if _, err := api.Readmit(ctx, "n2"); shardgate.KindOf(err) != shardgate.KindConflict {
		t.Errorf("readmitting an active node: %v, want a conflict", err)
	}
}

func nodeState(cv shardgate.ClusterView, name string) string {
	for _, n := range cv.Nodes {
		if n.Name == name {
			return n.State
		}
	}
	return ""
}

// Operator state lives in the table: a shard moved by an operator stays
// where it was put when the coordinator changes.
func TestOverridesSurviveACoordinatorChange(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A shard that n2 would own among {n2, n3}: the override puts it on n3.
	cfg := shard.DefaultConfig()
	cfg.Partitions = 64
	after := shard.Assign([]string{"n2", "n3"}, cfg)
	id := slices.IndexFunc(after.Shards, func(a shard.Assignment) bool { return a.Owner == "n2" })
	if _, err := c.node("n2").Node().MoveShard(ctx, id, "n3"); err != nil {
		t.Fatalf("move shard %d to n3: %v", id, err)
	}
	c.waitStable(60 * time.Second)
	if o := tableOf(t, c, "n2").Partitions[id].Owner; o != "n3" {
		t.Fatalf("shard %d is on %s after the move", id, o)
	}
	c.kill("n1") // the coordinator
	testutil.Eventually(t, 30*time.Second, "a new coordinator", func() bool {
		cv, _ := c.node("n2").Node().Cluster(ctx)
		return cv.Coordinator == "n2" && nodeState(cv, "n1") == shardgate.StateDead && tableOf(t, c, "n2").Partitions[id].Owner != "n1"
	})
	c.waitStable(60 * time.Second)
	if o := tableOf(t, c, "n2").Partitions[id].Owner; o != "n3" {
		t.Errorf("shard %d went back to %s when the coordinator changed", id, o)
	}
	cv, _ := c.node("n3").Node().Cluster(ctx)
	if nodeState(cv, "n1") != shardgate.StateDead {
		t.Errorf("the killed node is listed as %q, want dead", nodeState(cv, "n1"))
	}
	// Until an operator removes it; a live node cannot be removed.
	if status, body := post(t, c.node("n3").AdminURL()+"/v1/nodes/n2/remove", ""); status != http.StatusConflict {
		t.Errorf("remove of live n2 = %d %s", status, body)
	}
	if status, body := post(t, c.node("n3").AdminURL()+"/v1/nodes/n1/remove", ""); status != http.StatusOK {
		t.Fatalf("remove of dead n1 = %d %s", status, body)
	}
	testutil.Eventually(t, 10*time.Second, "n1 no longer listed", func() bool {
		for _, s := range c.live() {
			cv, _ := s.Node().Cluster(ctx)
			if nodeState(cv, "n1") != "" {
				return false
			}
		}
		return true
	})
}
