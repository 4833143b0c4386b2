package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/shardgate/shardgate/cluster"
	"github.com/shardgate/shardgate/internal/faultnet"
	"github.com/shardgate/shardgate/internal/testutil"
)

// These tests run on faultnet inside a synctest bubble: time is fake, so
// partitions that outlast GossipToTheDeadTime take well under a second of
// real time, and the assertions about timing are exact.

const (
	addrA = "10.0.0.1:7946"
	addrB = "10.0.0.2:7946"
	addrC = "10.0.0.3:7946"
)

func fnConfig(fn *faultnet.Network, name, addr string, seeds ...string) cluster.Config {
	c := cluster.DefaultLocalConfig()
	c.Name, c.BindAddr, c.Join = name, addr, seeds
	c.Transport = fn.Transport(addr)
	return c
}

// startABC starts a, b and c on fn, b and c joining through a.
func startABC(t *testing.T, fn *faultnet.Network, tweak func(*cluster.Config)) (a, b, c *node) {
	t.Helper()
	mk := func(name, addr string, seeds ...string) *node {
		cfg := fnConfig(fn, name, addr, seeds...)
		if tweak != nil {
			tweak(&cfg)
		}
		return MustStart(t, cfg)
	}
	a = mk("a", addrA, addrA, addrB) // its own address in the list is skipped
	b = mk("b", addrB, addrA)
	c = mk("c", addrC, addrA)
	MustJoin(t, a) // b does not exist yet, a's own address is skipped: no error
	MustJoin(t, b)
	MustJoin(t, c)
	waitMembers(t, 10*time.Second, []string{"a", "b", "c"}, a, b, c)
	return a, b, c
}

// partitionC cuts c off from a and b until both sides have declared the
// other dead and then waited out GossipToTheDeadTime several times over, so
// that memberlist has forgotten the other side.
func partitionC(t *testing.T, fn *faultnet.Network, a, b, c *node) {
	t.Helper()
	fn.Cut(addrC, addrA)
	fn.Cut(addrC, addrB)
	waitMembers(t, 10*time.Second, []string{"a", "b"}, a, b)
	waitMembers(t, 10*time.Second, []string{"c"}, c)
	waitEvent(t, a, cluster.EventFailed, "c", time.Second)
	waitEvent(t, c, cluster.EventFailed, "a", time.Second)
	time.Sleep(5 * cluster.DefaultLocalConfig().GossipToTheDeadTime)
}

func TestLongPartitionHealsThroughRejoin(t *testing.T) {
	bubble(t, func(t *testing.T) {
		fn := faultnet.New()
		a, b, c := startABC(t, fn, nil)
		partitionC(t, fn, a, b, c)

		healed := time.Now()
		fn.Heal()
		waitMembers(t, 10*time.Second, []string{"a", "b", "c"}, a, b, c)
		t.Logf("merged %v after the heal", time.Since(healed))
		waitEvent(t, a, cluster.EventJoin, "c", time.Second)
		testutil.EventuallyExplained(t, time.Second, "a second join of a seen by c", func() string {
			if c.rec.count(cluster.EventJoin, "a") == 2 {
				return ""
			}
			return fmt.Sprintf("c saw %v about a", c.rec.types("a"))
		})
	})
}

// TestLongPartitionStaysSplitWithoutRejoin is the control for the test
// above: with the re-join loop effectively off, memberlist alone never
// merges the halves again (hashicorp/memberlist#222).
func TestLongPartitionStaysSplitWithoutRejoin(t *testing.T) {
	bubble(t, func(t *testing.T) {
		fn := faultnet.New()
		noRejoin := func(c *cluster.Config) { c.RejoinInterval = time.Hour }
		a, b, c := startABC(t, fn, noRejoin)
		partitionC(t, fn, a, b, c)

		fn.Heal()
		time.Sleep(time.Minute) // many push/pull and probe rounds
		for _, n := range []*node{a, b} {
			if got := names(n.Members()); len(got) != 2 {
				t.Errorf("%s sees %v after the heal; memberlist merged by itself", n.LocalName(), got)
			}
		}
		if got := names(c.Members()); len(got) != 1 {
			t.Errorf("c sees %v after the heal", got)
		}
	})
}

func TestSecretKeyMismatchKeepsNodesApart(t *testing.T) {
	bubble(t, func(t *testing.T) {
		fn := faultnet.New()
		ca := fnConfig(fn, "a", addrA)
		ca.SecretKey = []byte("0123456789abcdef")
		cb := fnConfig(fn, "b", addrB, addrA)
		cb.SecretKey = []byte("fedcba9876543210")
		a, b := MustStart(t, ca), MustStart(t, cb)

		start := time.Now()
		err := b.Join(context.Background())
		if err == nil || errors.Is(err, cluster.ErrPartitionMismatch) {
			t.Fatalf("Join with the wrong key: %v", err)
		}
		if took := time.Since(start); took < cb.JoinTimeout {
			t.Errorf("Join gave up after %v, before JoinTimeout %v", took, cb.JoinTimeout)
		}
		t.Logf("Join error: %v", err)
		time.Sleep(10 * cb.RejoinInterval) // the re-join loop keeps trying the seed
		waitMembers(t, 0, []string{"a"}, a)
		waitMembers(t, 0, []string{"b"}, b)
	})
}

func TestSameKeyJoins(t *testing.T) {
	bubble(t, func(t *testing.T) {
		fn := faultnet.New()
		ca, cb := fnConfig(fn, "a", addrA), fnConfig(fn, "b", addrB, addrA)
		ca.SecretKey = []byte("0123456789abcdef")
		cb.SecretKey = ca.SecretKey
		a, b := MustStart(t, ca), MustStart(t, cb)
		MustJoin(t, b)
		waitMembers(t, 5*time.Second, []string{"a", "b"}, a, b)
	})
}

// TestQuickRestartIsFailureThenJoin: c dies and comes back at the same
// address before anyone declared it dead. memberlist only sees new metadata
// (the restarted node refutes its old incarnation); we report it as the
// failure of the old process and the join of the new one.
func TestQuickRestartIsFailureThenJoin(t *testing.T) {
	bubble(t, func(t *testing.T) {
		fn := faultnet.New()
		a, b, c := startABC(t, fn, nil)
		oldStart := c.LocalMeta().StartedAt
		c.Close()

		time.Sleep(10 * time.Millisecond) // a new StartedAt, well before detection
		c2 := MustStart(t, fnConfig(fn, "c", addrC, addrA))
		MustJoin(t, c2)
		for _, n := range []*node{a, b} {
			want := []cluster.EventType{cluster.EventJoin, cluster.EventFailed, cluster.EventJoin}
			testutil.EventuallyExplained(t, 5*time.Second, fmt.Sprintf("events %v about c", want), func() string {
				if got := n.rec.types("c"); !slices.Equal(got, want) {
					return fmt.Sprintf("%s saw %v", n.LocalName(), got)
				}
				return ""
			})
			if e, _ := n.rec.find(cluster.EventFailed, "c", 0); e.Member.Meta.StartedAt != oldStart || e.Member.Status != cluster.StatusDead {
				t.Errorf("%s: the failure should be about the old process: %+v", n.LocalName(), e.Member)
			}
			if e, _ := n.rec.find(cluster.EventJoin, "c", 1); e.Member.Meta.StartedAt == oldStart {
				t.Errorf("%s: the second join should be about the new process", n.LocalName())
			}
		}
		waitMembers(t, 5*time.Second, []string{"a", "b", "c"}, a, b, c2)
	})
}

// TestRestartAtNewAddress: c crashes, is declared dead, and comes back
// under its name at another address, as a rescheduled container would.
func TestRestartAtNewAddress(t *testing.T) {
	bubble(t, func(t *testing.T) {
		fn := faultnet.New()
		a, b, c := startABC(t, fn, nil)
		c.Close()
		waitEvent(t, a, cluster.EventFailed, "c", 5*time.Second)

		const addrC2 = "10.0.0.4:7946"
		c2 := MustStart(t, fnConfig(fn, "c", addrC2, addrA))
		MustJoin(t, c2)
		waitMembers(t, 10*time.Second, []string{"a", "b", "c"}, a, b, c2)
		for _, n := range []*node{a, b} {
			if m, _ := n.Member("c"); m.GossipAddr != addrC2 {
				t.Errorf("%s sees c at %s, want %s", n.LocalName(), m.GossipAddr, addrC2)
			}
		}
	})
}

// TestSilentHostIsDeclaredDeadWithinBudget uses the production timings on
// fake time: c's host stops answering anything (no refused connections, as
// after a power cut), and the others must declare it dead within 5 s.
func TestSilentHostIsDeclaredDeadWithinBudget(t *testing.T) {
	bubble(t, func(t *testing.T) {
		fn := faultnet.New()
		production := func(c *cluster.Config) {
			d := cluster.DefaultConfig()
			c.ProbeInterval, c.ProbeTimeout = d.ProbeInterval, d.ProbeTimeout
			c.GossipInterval, c.PushPullInterval = d.GossipInterval, d.PushPullInterval
			c.SuspicionMult, c.SuspicionMaxTimeoutMult = d.SuspicionMult, d.SuspicionMaxTimeoutMult
			c.TCPTimeout = d.TCPTimeout
		}
		a, b, _ := startABC(t, fn, production)
		time.Sleep(10 * time.Second) // settle: any probe order

		silent := time.Now()
		fn.Isolate("10.0.0.3")
		for _, n := range []*node{a, b} {
			e := waitEvent(t, n, cluster.EventFailed, "c", 10*time.Second)
			took := e.at.Sub(silent)
			t.Logf("%s declared c dead after %v (fake time)", n.LocalName(), took)
			if took > 5*time.Second {
				t.Errorf("%s needed %v, the budget is 5s", n.LocalName(), took)
			}
		}
	})
}
