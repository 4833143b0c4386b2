package cluster_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/shardgate/shardgate/cluster"
	"github.com/shardgate/shardgate/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// node is a Cluster with a recorder of its events.
type node struct {
	*cluster.Cluster
	rec *recorder
}

// MustStart creates a node, records its events and closes it when the test
// ends (closing twice is fine, so tests may crash nodes earlier).
func MustStart(tb testing.TB, cfg cluster.Config) *node {
	tb.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testutil.Logger(tb)
	}
	c, err := cluster.New(cfg)
	if err != nil {
		tb.Fatalf("New(%s): %v", cfg.Name, err)
	}
	n := &node{Cluster: c, rec: record(c)}
	tb.Cleanup(func() { n.Close() })
	return n
}

// Close closes the cluster and waits until its event stream has ended.
func (n *node) Close() {
	_ = n.Cluster.Close()
	<-n.rec.done
}

// MustJoin joins within the config's JoinTimeout.
func MustJoin(tb testing.TB, n *node) {
	tb.Helper()
	if err := n.Join(context.Background()); err != nil {
		tb.Fatalf("%s: Join: %v", n.LocalName(), err)
	}
}

type stamped struct {
	cluster.Event
	at time.Time
}

// recorder keeps every event a node delivered, with its arrival time.
type recorder struct {
	mu     sync.Mutex
	events []stamped
	done   chan struct{}
}

func record(c *cluster.Cluster) *recorder {
	r := &recorder{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for e := range c.Events() {
			r.mu.Lock()
			r.events = append(r.events, stamped{e, time.Now()})
			r.mu.Unlock()
		}
	}()
	return r
}

// find returns the first event of typ about member, after skipping n of them.
func (r *recorder) find(typ cluster.EventType, member string, skip int) (stamped, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e.Type == typ && e.Member.Name == member {
			if skip == 0 {
				return e, true
			}
			skip--
		}
	}
	return stamped{}, false
}

func (r *recorder) count(typ cluster.EventType, member string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Type == typ && e.Member.Name == member {
			n++
		}
	}
	return n
}

// types lists the event types seen about member, in order.
func (r *recorder) types(member string) []cluster.EventType {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []cluster.EventType
	for _, e := range r.events {
		if e.Member.Name == member {
			out = append(out, e.Type)
		}
	}
	return out
}

// waitEvent polls until the node has delivered an event of typ about member.
func waitEvent(tb testing.TB, n *node, typ cluster.EventType, member string, within time.Duration) stamped {
	tb.Helper()
	var e stamped
	testutil.EventuallyExplained(tb, within, fmt.Sprintf("a %v event about %s", typ, member), func() string {
		var ok bool
		if e, ok = n.rec.find(typ, member, 0); ok {
			return ""
		}
		return fmt.Sprintf("%s saw %v", n.LocalName(), n.rec.types(member))
	})
	return e
}

func names(ms []cluster.Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return out
}

// waitMembers polls until every node sees exactly want (names, sorted).
func waitMembers(tb testing.TB, within time.Duration, want []string, nodes ...*node) {
	tb.Helper()
	for _, n := range nodes {
		testutil.EventuallyExplained(tb, within, fmt.Sprintf("members %v", want), func() string {
			if got := names(n.Members()); !slices.Equal(got, want) {
				return fmt.Sprintf("%s sees %v", n.LocalName(), got)
			}
			return ""
		})
	}
}

// settleTime is how long memberlist's own goroutines may need to notice a
// shutdown: a probe in flight waits out its timers (at most ProbeInterval
// scaled by the health multiplier) and a push/pull its TCPTimeout.
// memberlist offers no way to wait for them.
const settleTime = time.Minute

// bubble runs f in a synctest bubble on fake time. Its first cleanup, which
// runs last, after the nodes' Close, lets fake time pass so that
// memberlist's lingering goroutines finish before the bubble ends.
func bubble(t *testing.T, f func(t *testing.T)) {
	synctest.Test(t, func(t *testing.T) {
		t.Cleanup(func() { time.Sleep(settleTime) })
		f(t)
	})
}

// checkLeaks makes the test fail if goroutines remain once its cleanups,
// which close the nodes, have run. It polls because memberlist's goroutines
// stop on their own shortly after Close.
func checkLeaks(t *testing.T) {
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := goleak.Find()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("goroutines left after Close: %v", err)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
