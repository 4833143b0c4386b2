package cluster_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/cluster"
)

// These tests run on real UDP and TCP on 127.0.0.1.

func localConfig(name string, seeds ...string) cluster.Config {
	c := cluster.DefaultLocalConfig()
	c.Name = name
	c.Join = seeds
	c.Meta.WSAddr = "127.0.0.1:8080"
	return c
}

// startThree starts n1, then n2 and n3 joining through n1, and waits until
// all three see each other.
func startThree(t *testing.T, mk func(name string, seeds ...string) cluster.Config) (n1, n2, n3 *node) {
	t.Helper()
	checkLeaks(t)
	n1 = MustStart(t, mk("n1"))
	n2 = MustStart(t, mk("n2", n1.AdvertiseAddr()))
	n3 = MustStart(t, mk("n3", n1.AdvertiseAddr()))
	MustJoin(t, n2)
	MustJoin(t, n3)
	waitMembers(t, 10*time.Second, []string{"n1", "n2", "n3"}, n1, n2, n3)
	return n1, n2, n3
}

func TestThreeNodesFormAClusterAndShareMeta(t *testing.T) {
	n1, n2, n3 := startThree(t, localConfig)

	if e, ok := n1.rec.find(cluster.EventJoin, "n1", 0); !ok || e.Member.Meta.Partitions != 271 {
		t.Errorf("first event should be n1's own join with its meta, got %+v", e)
	}
	m, ok := n3.Member("n1")
	if !ok || m.GossipAddr != n1.AdvertiseAddr() || m.Status != cluster.StatusAlive || m.Meta.WSAddr != "127.0.0.1:8080" {
		t.Fatalf("n3's view of n1: %+v", m)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := n2.UpdateMeta(ctx, func(m *cluster.Meta) {
		m.State = shardgate.StateActive
		m.TableVersion = 7
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := n2.LocalMeta(); got.TableVersion != 7 || got.State != shardgate.StateActive || got.Name != "n2" {
		t.Fatalf("LocalMeta = %+v", got)
	}
	for _, n := range []*node{n1, n3} {
		e := waitEvent(t, n, cluster.EventUpdate, "n2", 5*time.Second)
		if e.Member.Meta.TableVersion != 7 || e.Member.Meta.State != shardgate.StateActive {
			t.Errorf("%s got update %+v", n.LocalName(), e.Member.Meta)
		}
		if m, _ := n.Member("n2"); m.Meta.TableVersion != 7 {
			t.Errorf("%s: Member(n2) = %+v", n.LocalName(), m.Meta)
		}
	}

	if err := n2.UpdateMeta(ctx, func(m *cluster.Meta) { m.Partitions = 64 }); err == nil {
		t.Error("UpdateMeta changed the partition count")
	}
	if err := n2.UpdateMeta(ctx, func(m *cluster.Meta) { m.WSAddr = strings.Repeat("x", 600) }); !errors.Is(err, cluster.ErrMetaTooLarge) {
		t.Errorf("oversized meta: %v", err)
	}
	if got := n2.LocalMeta().WSAddr; got != "127.0.0.1:8080" {
		t.Errorf("a refused update changed the meta: %q", got)
	}
	if s := n1.HealthScore(); s < 0 {
		t.Errorf("HealthScore = %d", s)
	}
}

// TestCrashedNodeIsReportedFailed measures failure detection with the
// production timings (DefaultConfig): the others must report the crash well
// within the 5 s failover budget.
func TestCrashedNodeIsReportedFailed(t *testing.T) {
	defaultTimings := func(name string, seeds ...string) cluster.Config {
		c := cluster.DefaultConfig()
		c.Name, c.Join, c.BindAddr = name, seeds, "127.0.0.1:0"
		return c
	}
	n1, n2, n3 := startThree(t, defaultTimings)

	crashed := time.Now()
	n3.Close() // no Leave: to the others this is a crash
	for _, n := range []*node{n1, n2} {
		e := waitEvent(t, n, cluster.EventFailed, "n3", 8*time.Second)
		took := e.at.Sub(crashed)
		t.Logf("%s reported n3 failed after %v", n.LocalName(), took.Round(time.Millisecond))
		if took > 5*time.Second {
			t.Errorf("%s needed %v to report the crash, the budget is 5s", n.LocalName(), took)
		}
		if e.Member.Status != cluster.StatusDead {
			t.Errorf("failed member status %q", e.Member.Status)
		}
	}
	waitMembers(t, time.Second, []string{"n1", "n2"}, n1, n2)
}

func TestLeaveIsReportedAsLeave(t *testing.T) {
	n1, n2, n3 := startThree(t, localConfig)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n3.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	n3.Close()
	for _, n := range []*node{n1, n2} {
		e := waitEvent(t, n, cluster.EventLeave, "n3", 5*time.Second)
		if e.Member.Status != cluster.StatusLeft || e.Member.Meta.State != shardgate.StateLeft {
			t.Errorf("%s: leave event %+v", n.LocalName(), e.Member)
		}
	}
	// Long enough for several re-join rounds: a node that left is not
	// chased, and it was never reported as failed.
	time.Sleep(3 * cluster.DefaultLocalConfig().RejoinInterval)
	for _, n := range []*node{n1, n2} {
		if k := n.rec.count(cluster.EventFailed, "n3"); k != 0 {
			t.Errorf("%s reported the leaving node as failed", n.LocalName())
		}
	}
	waitMembers(t, time.Second, []string{"n1", "n2"}, n1, n2)
	if err := n3.Leave(ctx); !errors.Is(err, cluster.ErrClosed) {
		t.Errorf("Leave after Close: %v", err)
	}
}

func TestPartitionCountMismatchIsRefused(t *testing.T) {
	checkLeaks(t)
	n1 := MustStart(t, localConfig("n1"))
	cfg := localConfig("n2", n1.AdvertiseAddr())
	cfg.Meta.Partitions = 64
	n2 := MustStart(t, cfg)

	start := time.Now()
	err := n2.Join(context.Background())
	if !errors.Is(err, cluster.ErrPartitionMismatch) {
		t.Fatalf("Join: %v, want ErrPartitionMismatch", err)
	}
	if !strings.Contains(err.Error(), "partition count 64 differs from the cluster's 271") {
		t.Errorf("unclear error: %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("a mismatch is permanent, yet Join retried for %v", took)
	}
	t.Logf("Join error: %v", err)
	time.Sleep(2 * cluster.DefaultLocalConfig().RejoinInterval)
	waitMembers(t, time.Second, []string{"n1"}, n1)
	waitMembers(t, time.Second, []string{"n2"}, n2)
}

// A node restarted on a data dir that holds messages of one cluster
// (Meta.Data) must not merge into another: it would take that cluster's
// table and its messages would be gone. Whichever side starts the join,
// the two stay apart, and Join says why at once. A node of that data's own
// cluster, and a node that holds no data, join as before.
func TestDataOfAnotherClusterIsRefused(t *testing.T) {
	checkLeaks(t)
	member := func(name, clusterID string, seeds ...string) cluster.Config {
		cfg := localConfig(name, seeds...)
		cfg.Meta.Cluster = clusterID
		return cfg
	}
	withData := func(name, clusterID string, seeds ...string) cluster.Config {
		cfg := member(name, clusterID, seeds...)
		cfg.Meta.Data = clusterID
		return cfg
	}
	b1 := MustStart(t, member("b1", "bbbb"))

	// A node with data of cluster aaaa joins a member of bbbb.
	a1 := MustStart(t, withData("a1", "aaaa", b1.AdvertiseAddr()))
	start := time.Now()
	err := a1.Join(context.Background())
	if !errors.Is(err, cluster.ErrClusterMismatch) {
		t.Fatalf("Join of data of another cluster: %v, want ErrClusterMismatch", err)
	}
	for _, want := range []string{"b1 at " + b1.AdvertiseAddr(), "belongs to cluster bbbb", "data dir belong to cluster aaaa", "would discard them"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Join error %q does not say %q", err, want)
		}
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("a cluster mismatch is permanent, yet Join retried for %v", took)
	}

	// A member of bbbb joins a node holding data of cccc.
	c1 := MustStart(t, withData("c1", "cccc"))
	b2 := MustStart(t, member("b2", "bbbb", c1.AdvertiseAddr()))
	err = b2.Join(context.Background())
	if !errors.Is(err, cluster.ErrClusterMismatch) || !strings.Contains(err.Error(), "c1 at "+c1.AdvertiseAddr()+" holds messages of cluster cccc, and this node is a member of cluster bbbb") {
		t.Fatalf("Join of a member of bbbb to data of cccc: %v", err)
	}

	// Data of bbbb's own, and a node not yet in any cluster, join b1.
	b3 := MustStart(t, withData("b3", "bbbb", b1.AdvertiseAddr()))
	if err := b3.Join(context.Background()); err != nil {
		t.Fatalf("Join of data of the same cluster: %v", err)
	}
	fresh := MustStart(t, localConfig("fresh", b1.AdvertiseAddr()))
	if err := fresh.Join(context.Background()); err != nil {
		t.Fatalf("Join of a node in no cluster yet: %v", err)
	}

	time.Sleep(2 * cluster.DefaultLocalConfig().RejoinInterval)
	waitMembers(t, 5*time.Second, []string{"b1", "b3", "fresh"}, b1, b3, fresh)
	waitMembers(t, time.Second, []string{"a1"}, a1)
	waitMembers(t, time.Second, []string{"c1"}, c1)
	waitMembers(t, time.Second, []string{"b2"}, b2)
}

// Nodes that check client tokens otherwise (Meta.Auth) still form one
// cluster, since a new secret is rolled out node by node, but each can
// tell which members differ from it. A node that does not say differs
// from nobody.
func TestMembersThatCheckTokensOtherwiseAreMarked(t *testing.T) {
	checkLeaks(t)
	withAuth := func(name, auth string, seeds ...string) cluster.Config {
		cfg := localConfig(name, seeds...)
		cfg.Meta.Auth = auth
		return cfg
	}
	n1 := MustStart(t, withAuth("n1", "aaaa"))
	n2 := MustStart(t, withAuth("n2", "bbbb", n1.AdvertiseAddr()))
	n3 := MustStart(t, withAuth("n3", "aaaa", n1.AdvertiseAddr()))
	n4 := MustStart(t, withAuth("n4", "", n1.AdvertiseAddr()))
	for _, n := range []*node{n2, n3, n4} {
		if err := n.Join(context.Background()); err != nil {
			t.Fatalf("Join of %s: %v", n.LocalName(), err)
		}
	}
	all := []string{"n1", "n2", "n3", "n4"}
	waitMembers(t, 5*time.Second, all, n1, n2, n3, n4)
	want := map[string]map[string]bool{
		"n1": {"n2": true},
		"n2": {"n1": true, "n3": true},
		"n3": {"n2": true},
		"n4": {},
	}
	for _, n := range []*node{n1, n2, n3, n4} {
		for _, m := range n.Members() {
			if got := n.AuthDiffers(m); got != want[n.LocalName()][m.Name] {
				t.Errorf("%s: AuthDiffers(%s) = %v", n.LocalName(), m.Name, got)
			}
		}
	}
}

func TestNewReportsAddressInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := localConfig("n1")
	cfg.BindAddr = l.Addr().String()
	_, err = cluster.New(cfg)
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("New: %v, want address in use", err)
	}
	want := "cluster: listen on " + cfg.BindAddr + ": address already in use"
	if err.Error() != want {
		t.Errorf("New: %q, want %q", err, want)
	}
}

func TestJoinWithoutSeedsAndCloseTwice(t *testing.T) {
	checkLeaks(t)
	n1 := MustStart(t, localConfig("n1"))
	if err := n1.Join(context.Background()); err != nil {
		t.Fatalf("Join without seeds: %v", err)
	}
	if err := n1.Cluster.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n1.Cluster.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := n1.UpdateMeta(context.Background(), func(*cluster.Meta) {}); !errors.Is(err, cluster.ErrClosed) {
		t.Errorf("UpdateMeta after Close: %v", err)
	}
}

// A second node given a live node's name, on data of its own, is refused
// at once when it joins, and the cluster keeps the first one. (The same
// name on the same data is that node's own restart, which memberlist lets
// in once the old address is declared dead: TestRestartAtNewAddress.)
func TestSecondNodeWithATakenNameIsRefused(t *testing.T) {
	checkLeaks(t)
	mk := func(name, id string, seeds ...string) cluster.Config {
		c := localConfig(name, seeds...)
		c.Meta.ID = id
		return c
	}
	n1 := MustStart(t, mk("n1", "a1"))
	n2 := MustStart(t, mk("n2", "b2", n1.AdvertiseAddr()))
	MustJoin(t, n2)
	waitMembers(t, 5*time.Second, []string{"n1", "n2"}, n1, n2)

	impostor := MustStart(t, mk("n2", "c3", n1.AdvertiseAddr()))
	start := time.Now()
	err := impostor.Join(context.Background())
	if !errors.Is(err, cluster.ErrNameTaken) || !strings.Contains(err.Error(), n2.AdvertiseAddr()) {
		t.Fatalf("Join of a second n2: %v, want ErrNameTaken naming %s", err, n2.AdvertiseAddr())
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("a taken name is permanent, yet Join retried for %v", took)
	}
	t.Logf("Join error: %v", err)
	impostor.Close()
	if m, ok := n1.Member("n2"); !ok || m.GossipAddr != n2.AdvertiseAddr() {
		t.Errorf("n1 sees n2 as %+v, want the first n2 at %s", m, n2.AdvertiseAddr())
	}
}
