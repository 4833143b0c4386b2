package cluster_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate/cluster"
	"github.com/shardgate/shardgate/internal/faultnet"
	"github.com/shardgate/shardgate/internal/testutil"
)

func TestJoinGivesUpAfterJoinTimeoutAndTheSeedIsStillChased(t *testing.T) {
	bubble(t, func(t *testing.T) {
		fn := faultnet.New()
		cb := fnConfig(fn, "b", addrB, addrA)
		b := MustStart(t, cb)

		start := time.Now()
		err := b.Join(context.Background())
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Join with nobody at the seed: %v", err)
		}
		if took := time.Since(start); took < cb.JoinTimeout || took > cb.JoinTimeout+time.Second {
			t.Errorf("Join returned after %v, JoinTimeout is %v", took, cb.JoinTimeout)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("error spans lines: %q", err)
		}
		t.Logf("Join error: %v", err)

		// The seed comes up later: b is alone, so its re-join loop finds it.
		a := MustStart(t, fnConfig(fn, "a", addrA))
		waitMembers(t, 3*cb.RejoinInterval, []string{"a", "b"}, a, b)
	})
}

func TestJoinWaitsForASeedThatStartsLate(t *testing.T) {
	bubble(t, func(t *testing.T) {
		fn := faultnet.New()
		b := MustStart(t, fnConfig(fn, "b", addrB, addrA))
		joined := make(chan error, 1)
		go func() { joined <- b.Join(context.Background()) }()

		time.Sleep(time.Second)
		a := MustStart(t, fnConfig(fn, "a", addrA))
		if err := <-joined; err != nil {
			t.Fatalf("Join: %v", err)
		}
		waitMembers(t, time.Second, []string{"a", "b"}, a, b)
	})
}

func TestCloseInterruptsJoin(t *testing.T) {
	bubble(t, func(t *testing.T) {
		fn := faultnet.New()
		b := MustStart(t, fnConfig(fn, "b", addrB, addrA))
		joined := make(chan error, 1)
		go func() { joined <- b.Join(context.Background()) }()
		time.Sleep(time.Second)
		b.Close()
		if err := <-joined; !errors.Is(err, cluster.ErrClosed) {
			t.Fatalf("Join during Close: %v", err)
		}
	})
}

// TestUnreadEventsDoNotStallGossip: nobody reads either node's Events, yet
// membership and metadata keep flowing.
func TestUnreadEventsDoNotStallGossip(t *testing.T) {
	bubble(t, func(t *testing.T) {
		fn := faultnet.New()
		start := func(cfg cluster.Config) *cluster.Cluster {
			cfg.Logger = testutil.Logger(t)
			c, err := cluster.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		a := start(fnConfig(fn, "a", addrA))
		b := start(fnConfig(fn, "b", addrB, addrA))
		defer a.Close()
		defer b.Close()
		if err := b.Join(context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for v := range uint64(200) {
			if err := b.UpdateMeta(ctx, func(m *cluster.Meta) { m.TableVersion = v + 1 }); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			if m, ok := a.Member("b"); ok && m.Meta.TableVersion == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("a never saw b's last metadata")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// A --join list that names only this node starts a cluster of its own, and
// says so: an operator who meant to join another node's cluster would
// otherwise not know.
func TestJoinNamingOnlyItselfWarns(t *testing.T) {
	checkLeaks(t)
	var logs testutil.Buffer
	cfg := localConfig("n1")
	cfg.BindAddr = testutil.FreeAddr(t)
	cfg.Join = []string{cfg.BindAddr}
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	n := MustStart(t, cfg)
	if err := n.Join(context.Background()); err != nil {
		t.Fatalf("Join: %v", err)
	}
	if !strings.Contains(logs.String(), "--join names only this node") {
		t.Errorf("no warning that --join names only this node:\n%s", logs.String())
	}
}

// An operator gives a node's HTTP listener as --join. memberlist only
// times out on it (the server waits for a request line); Join asks the
// address whether it speaks HTTP and says so at once, instead of retrying
// until JoinTimeout with "i/o timeout". An HTTP seed beside a real one
// does not stop the join.
func TestJoinToAnHTTPListenerSaysSo(t *testing.T) {
	checkLeaks(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	web := strings.TrimPrefix(srv.URL, "http://")

	cfg := localConfig("n1", web)
	cfg.TCPTimeout = 300 * time.Millisecond
	cfg.JoinTimeout = 20 * time.Second
	n1 := MustStart(t, cfg)
	start := time.Now()
	err := n1.Join(context.Background())
	if err == nil || !strings.Contains(err.Error(), "--join "+web+" answers HTTP") || !strings.Contains(err.Error(), "not its gossip port") {
		t.Fatalf("Join to an HTTP listener: %v", err)
	}
	if took := time.Since(start); took > cfg.JoinTimeout/2 {
		t.Errorf("Join took %v to find out", took)
	}

	n2 := MustStart(t, localConfig("n2"))
	cfg3 := localConfig("n3", web, n2.AdvertiseAddr())
	cfg3.TCPTimeout = 300 * time.Millisecond
	n3 := MustStart(t, cfg3)
	if err := n3.Join(context.Background()); err != nil {
		t.Fatalf("Join with an HTTP seed beside a gossip one: %v", err)
	}
	waitMembers(t, 5*time.Second, []string{"n2", "n3"}, n2, n3)
}

// A node given the peers of its earlier run (Config.Peers) and no seeds
// starts at once, and finds those peers by itself while it is alone.
func TestPeersOfAnEarlierRunAreRejoined(t *testing.T) {
	checkLeaks(t)
	n2 := MustStart(t, localConfig("n2"))
	cfg := localConfig("n1")
	cfg.Peers = []string{n2.AdvertiseAddr()}
	n1 := MustStart(t, cfg)
	start := time.Now()
	if err := n1.Join(context.Background()); err != nil {
		t.Fatalf("Join without seeds: %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Join waited %v for the saved peers", took)
	}
	waitMembers(t, 10*time.Second, []string{"n1", "n2"}, n1, n2)
}

// A restarted node whose --join seed is down joins through a peer of its
// last run. Before, Join waited for the seeds alone and the node gave up
// (and exited) while its peers were up.
func TestJoinGoesThroughAPeerOfTheLastRunWhenTheSeedIsDown(t *testing.T) {
	bubble(t, func(t *testing.T) {
		fn := faultnet.New()
		c := MustStart(t, fnConfig(fn, "c", addrC))
		cb := fnConfig(fn, "b", addrB, addrA) // nobody at addrA
		cb.Peers = []string{addrC}
		b := MustStart(t, cb)
		if err := b.Join(context.Background()); err != nil {
			t.Fatalf("Join with the seed down and a peer of the last run up: %v", err)
		}
		waitMembers(t, time.Second, []string{"b", "c"}, b, c)
	})
}

// Join ends as soon as this node is no longer alone, whoever made the
// first contact: a peer of the last run may reach it before any seed
// answers.
func TestJoinEndsWhenAPeerReachesThisNode(t *testing.T) {
	bubble(t, func(t *testing.T) {
		fn := faultnet.New()
		cb := fnConfig(fn, "b", addrB, addrA) // nobody at addrA
		b := MustStart(t, cb)
		joined := make(chan error, 1)
		start := time.Now()
		go func() { joined <- b.Join(context.Background()) }()
		time.Sleep(time.Second)
		c := MustStart(t, fnConfig(fn, "c", addrC, addrB))
		MustJoin(t, c)
		if err := <-joined; err != nil {
			t.Fatalf("Join after a peer reached this node: %v", err)
		}
		if took := time.Since(start); took >= cb.JoinTimeout {
			t.Errorf("Join returned after %v, when JoinTimeout ran out", took)
		}
		waitMembers(t, time.Second, []string{"b", "c"}, b, c)
	})
}
