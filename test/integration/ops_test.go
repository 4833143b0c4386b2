package integration

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/app"
	"github.com/shardgate/shardgate/cluster"
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
	t.Parallel()
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
	// A drained node stays listed as left, holding nothing, on every node:
	// an operator (or a script polling for the end of a drain) sees where
	// it went instead of a node that vanished.
	for _, name := range []string{"n1", "n2"} {
		cv, err := c.node(name).Node().Cluster(ctx)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(cv.Nodes, func(v shardgate.NodeView) bool { return v.Name == "n3" })
		if i < 0 || cv.Nodes[i].State != shardgate.StateLeft || cv.Nodes[i].Owned != 0 || cv.Nodes[i].BackedUp != 0 {
			t.Errorf("%s lists n3 after its drain as %+v, want state left holding nothing", name, cv.Nodes)
		}
	}

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
	t.Parallel()
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
	// Failing it over says it already was, not that it does not exist.
	if status, body := post(t, c.node("n3").AdminURL()+"/v1/nodes/n1/failover", ""); status != http.StatusConflict || !strings.Contains(body, "n1 is dead") {
		t.Errorf("failover of dead n1 = %d %s, want 409 saying it is dead", status, body)
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

// An operator fails over a node that still runs: over the admin API the
// cluster lists it as dead, the state clients know, marked failed_over,
// and readmit makes it active again with the mark gone.
func TestFailedOverNodeReadsDeadUntilReadmitted(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, nil)
	admin := c.node("n1").AdminURL()
	view := func() map[string]map[string]any {
		var cv struct {
			Nodes []map[string]any `json:"nodes"`
		}
		if err := getJSON(context.Background(), admin+"/v1/cluster", &cv); err != nil {
			t.Fatalf("GET /v1/cluster: %v", err)
		}
		out := map[string]map[string]any{}
		for _, n := range cv.Nodes {
			name, _ := n["name"].(string)
			out[name] = n
		}
		return out
	}
	if status, body := post(t, admin+"/v1/nodes/n3/failover", ""); status != http.StatusOK {
		t.Fatalf("failover of live n3 = %d %s", status, body)
	}
	testutil.Eventually(t, 30*time.Second, "n3 listed as dead and failed over", func() bool {
		n := view()["n3"]
		return n["state"] == shardgate.StateDead && n["failed_over"] == true
	})
	for name, n := range view() {
		if name != "n3" && (n["state"] != shardgate.StateActive || n["failed_over"] != nil) {
			t.Errorf("%s is listed as %v (failed_over %v) after n3's failover", name, n["state"], n["failed_over"])
		}
	}
	if status, body := post(t, admin+"/v1/nodes/n3/readmit", ""); status != http.StatusOK {
		t.Fatalf("readmit of n3 = %d %s", status, body)
	}
	testutil.Eventually(t, 30*time.Second, "n3 active again, unmarked", func() bool {
		n := view()["n3"]
		return n["state"] == shardgate.StateActive && n["failed_over"] == nil
	})
}

// An operator starts a second node with a running node's name on a data
// dir of its own. It is refused with one sentence and ends, and the first
// node keeps its place: the second one once joined, took the first's
// shards in its own view and acknowledged writes that overwrote theirs.
func TestSecondNodeWithATakenNameIsRefused(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, nil)
	c.mu.Lock()
	cfg := c.cfgs["n2"]
	c.mu.Unlock()
	cfg.DataDir = filepath.Join(t.TempDir(), "copy")
	cfg.GossipAddr, cfg.WSAddr, cfg.AdminAddr = testutil.FreeAddr(t), testutil.FreeAddr(t), testutil.FreeAddr(t)
	cfg.Join = []string{c.node("n1").GossipAddr()}
	s, err := app.New(cfg)
	if err != nil {
		t.Fatalf("new second n2: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = s.Start(ctx)
	s.Kill()
	if !errors.Is(err, cluster.ErrNameTaken) || !strings.Contains(err.Error(), `"n2"`) {
		t.Fatalf("start of a second n2: %v, want a refusal naming the taken name", err)
	}
	t.Logf("refused: %v", err)
	cv, err := c.node("n1").Node().Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if nodeState(cv, "n2") != shardgate.StateActive {
		t.Errorf("n2 is %q after the second n2 was refused", nodeState(cv, "n2"))
	}
	// The first n2 still serves its keys.
	key := keyHomedOn(t, c, "n2", "k")
	if _, err := c.node("n2").Node().Send(ctx, "x", key, json.RawMessage(`"hi"`), ""); err != nil {
		t.Errorf("the first n2 refuses a write after the second was refused: %v", err)
	}
}

// A node that ran a cluster of its own, and holds messages, is restarted
// with --join into another cluster. Joining would replace its table by
// theirs, and its inbox would be gone without a word: it is refused with one
// sentence and ends, the other cluster does not count it, and its messages
// are still there when it is started on its own again. A node that ran
// alone but holds no message joins the other cluster.
func TestNodeWithMessagesOfAnotherClusterIsRefused(t *testing.T) {
	t.Parallel()
	other := newCluster(t, 2, func(cfg *app.Config) { cfg.Name = "b" + cfg.Name })
	seed := other.node("n1").GossipAddr()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	lone := newCluster(t, 1, nil)
	if _, err := lone.node("n1").Node().Send(ctx, "x", "k", json.RawMessage(`"kept"`), ""); err != nil {
		t.Fatalf("send on the lone node: %v", err)
	}
	lone.kill("n1")
	lone.mu.Lock()
	cfg := lone.cfgs["n1"]
	lone.mu.Unlock()
	cfg.Join = []string{seed}
	var s *app.Server
	var err error
	for range 20 { // the killed node's gossip port may linger briefly
		if s, err = app.New(cfg); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("new n1: %v", err)
	}
	err = s.Start(ctx)
	s.Kill()
	if !errors.Is(err, cluster.ErrClusterMismatch) || !strings.Contains(err.Error(), "would discard them") {
		t.Fatalf("start of n1 with messages of its own cluster, joining another: %v, want a refusal", err)
	}
	t.Logf("refused: %v", err)
	for _, srv := range other.live() {
		cv, err2 := srv.Node().Cluster(ctx)
		if err2 != nil {
			t.Fatal(err2)
		}
		if cv.Cluster == "" || !strings.Contains(err.Error(), "belongs to cluster "+cv.Cluster) {
			t.Errorf("%s's view names cluster %q, the refusal does not: %v", srv.Name(), cv.Cluster, err)
		}
		if st := nodeState(cv, "n1"); st == shardgate.StateActive || st == shardgate.StateJoining {
			t.Errorf("%s lists the refused n1 as %s", srv.Name(), st)
		}
	}
	cfg.Join = nil
	lone.mu.Lock()
	lone.cfgs["n1"] = cfg
	lone.mu.Unlock()
	lone.start("n1")
	lone.waitStable(30 * time.Second)
	if got := lone.inbox("k"); len(got) != 1 || string(got[0].Data) != `"kept"` {
		t.Errorf("the refused node's inbox, started alone again: %v, want the one message", got)
	}

	empty := newCluster(t, 1, func(cfg *app.Config) { cfg.Name = "e" + cfg.Name })
	empty.kill("n1")
	empty.mu.Lock()
	ecfg := empty.cfgs["n1"]
	ecfg.Join = []string{seed}
	empty.cfgs["n1"] = ecfg
	empty.mu.Unlock()
	empty.start("n1") // fails the test if the node is refused
}

// A node given another --auth-secret than the others still joins (a new
// secret is rolled out node by node), and GET /v1/cluster marks it from
// every side: a client whose token one node accepts would be refused by it.
func TestNodeWithAnotherAuthSecretIsMarked(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, func(cfg *app.Config) {
		cfg.Insecure, cfg.AuthSecret = false, strings.Repeat("a", 32)
		if cfg.Name == "n3" {
			cfg.AuthSecret = strings.Repeat("b", 32)
		}
	})
	view := func(on string) map[string]bool {
		var cv struct {
			Nodes []struct {
				Name        string `json:"name"`
				AuthDiffers bool   `json:"auth_differs"`
			} `json:"nodes"`
		}
		if err := getJSON(context.Background(), c.node(on).AdminURL()+"/v1/cluster", &cv); err != nil {
			t.Fatalf("GET /v1/cluster on %s: %v", on, err)
		}
		out := map[string]bool{}
		for _, n := range cv.Nodes {
			out[n.Name] = n.AuthDiffers
		}
		return out
	}
	want := map[string]map[string]bool{
		"n1": {"n1": false, "n2": false, "n3": true},
		"n2": {"n1": false, "n2": false, "n3": true},
		"n3": {"n1": true, "n2": true, "n3": false},
	}
	for on, w := range want {
		if got := view(on); !maps.Equal(got, w) {
			t.Errorf("auth_differs seen from %s: %v, want %v", on, got, w)
		}
	}
}

// The first node of a cluster is started without --join. It is stopped with
// SIGTERM (it drains and says goodbye, so its peers stop re-joining it) and
// started again as before: it must find its cluster by itself, from the
// peers it saved, instead of staying alone and ready but without a quorum.
func TestSeedRestartedAfterALeaveFindsItsCluster(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, nil)
	c.mu.Lock()
	seedJoin := c.cfgs["n1"].Join
	c.mu.Unlock()
	if len(seedJoin) != 0 {
		t.Fatalf("n1 was started with --join %v; the test needs the seed", seedJoin)
	}
	time.Sleep(6 * time.Second) // the peers' addresses are saved every 5 s
	c.stop("n1")
	c.start("n1")
	c.waitAllSeeAll(60 * time.Second)
	cv, err := c.node("n1").Node().Cluster(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !cv.Quorum {
		t.Errorf("the restarted seed sees no quorum: %+v", cv)
	}
}
