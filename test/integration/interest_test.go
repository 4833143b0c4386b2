package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shardgate/shardgate/client"
	"github.com/shardgate/shardgate/internal/testutil"
)

// Topic interest: a publication crosses the node links only to the nodes
// that have subscribers of its topic, one link message each, and a
// subscriber whose subscribe was answered receives every publication made
// after it, wherever it is published.
func TestPublicationsGoOnlyWhereSubscribed(t *testing.T) {
	t.Parallel()
	const nodes = 5
	c := newCluster(t, nodes, nil)
	// A subscribe waits for the peers its node sees alive, and a
	// publication goes to the peers the publisher's node sees alive
	// (node/interest.go): the publisher missing from the subscriber's
	// node's view for a moment (memberlist or link health; a stable table
	// does not say the views agree) lets a publication miss a subscriber
	// whose subscribe was answered. Every subscribe below is made once
	// every node sees every other.
	c.waitAllSeeAll(30 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pub := c.dial("n1", "publisher", nil)
	sent := func() (sent, skipped float64) {
		m := scrapeMetrics(t, c.node("n1").AdminURL()+"/metrics")
		return m["shardgate_link_publications_sent_total"].value, m["shardgate_link_publications_skipped_total"].value
	}

	// Until n1 holds every peer's summary it sends to the peers it knows
	// nothing of. Every node sends its summary within one refresh.
	testutil.Eventually(t, 30*time.Second, "n1 to know every peer's (empty) interest", func() bool {
		before, _ := sent()
		if _, err := pub.Publish(ctx, "probe", 1); err != nil {
			t.Fatal(err)
		}
		after, _ := sent()
		return after == before
	})

	c.waitAllSeeAll(30 * time.Second)
	sub3 := c.dial("n3", "sub3", nil)
	if err := sub3.Subscribe(ctx, "news"); err != nil {
		t.Fatal(err)
	}
	sent0, skipped0 := sent()
	const pubs = 10
	for i := range pubs {
		got, err := pub.Publish(ctx, "news", i)
		if err != nil || got != 1 {
			t.Fatalf("publish %d: delivered_nodes %d, %v; want 1", i, got, err)
		}
	}
	recvPubs(t, sub3, pubs)
	sent1, skipped1 := sent()
	if d := sent1 - sent0; d != pubs {
		t.Errorf("n1 sent %g publications over the links for %d publications to 1 subscribed node; want %d", d, pubs, pubs)
	}
	// A peer the links count as failed for a moment is neither sent to
	// nor skipped, so only the upper bound is exact.
	if d := skipped1 - skipped0; d == 0 || d > pubs*(nodes-2) {
		t.Errorf("n1 skipped %g sends, want up to %d (the %d nodes without subscribers)", d, pubs*(nodes-2), nodes-2)
	}

	// A subscribe answered is a subscribe every node knows of: the very
	// next publication reaches it.
	for i, on := range []string{"n4", "n1", "n5"} {
		c.waitAllSeeAll(30 * time.Second)
		s := c.dial(on, fmt.Sprintf("late%d", i), nil)
		if err := s.Subscribe(ctx, "news"); err != nil {
			t.Fatal(err)
		}
		got, err := pub.Publish(ctx, "news", "right after")
		if err != nil || got != 2+i {
			t.Fatalf("publish right after a subscribe on %s: delivered_nodes %d, %v; want %d", on, got, err, 2+i)
		}
		recvPubs(t, s, 1)
	}
}

func recvPubs(t *testing.T, s *client.Conn, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-s.Publications():
		case <-time.After(10 * time.Second):
			t.Fatalf("publication %d of %d not delivered", i+1, n)
		}
	}
}
