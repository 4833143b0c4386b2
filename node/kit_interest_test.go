package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shardgate/shardgate/node/nodetest"
)

// Publish cost follows interest, at ten nodes: with subscribers of a topic
// on one node, a publication crosses the links once, to that node, from
// whichever node it is published on; once the subscribers are gone it
// crosses them not at all. The calls are counted on the kit's network, so
// a summary that says "everything" by mistake shows as extra calls.
func TestPublicationCostFollowsInterestAtTenNodes(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		const nodes = 10
		c := nodetest.Start(t, nodes, nodetest.Options{})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// Every node tells the others its (empty) interest within one
		// refresh; until then a peer is sent everything.
		time.Sleep(6 * time.Second)
		synctest.Wait()

		linkPubs := func(from string) (total int, to map[string]int) {
			to = map[string]int{}
			for i := 1; i <= nodes; i++ {
				peer := fmt.Sprintf("n%d", i)
				if n := c.Net.Calls(from, peer, "publish"); n > 0 {
					to[peer] = n
					total += n
				}
			}
			return total, to
		}
		publish := func(on string, n, wantDelivered int) {
			t.Helper()
			for i := range n {
				got, err := c.Node(on).Engine.Publish(ctx, "publisher", "news", json.RawMessage(fmt.Sprintf("%d", i)))
				if err != nil || got != wantDelivered {
					t.Fatalf("publish %d on %s: delivered to %d nodes, %v; want %d", i, on, got, err, wantDelivered)
				}
			}
		}

		sub := c.Node("n7").Engine
		sub.TopicInterest("news", true)
		sub.AwaitTopicInterest(ctx, "news")
		const pubs = 20
		for _, on := range []string{"n1", "n4"} {
			before, _ := linkPubs(on)
			// The kit's deliverer counts every node as having a local
			// subscriber: the publisher's node and n7.
			publish(on, pubs, 2)
			after, to := linkPubs(on)
			if after-before != pubs || to["n7"] < pubs {
				t.Errorf("%d publications on %s with subscribers on n7 only: %d link messages (per peer, all time: %v); want %d, all to n7", pubs, on, after-before, to, pubs)
			}
		}

		sub.TopicInterest("news", false)
		time.Sleep(6 * time.Second) // one refresh tells every peer
		synctest.Wait()
		before, _ := linkPubs("n1")
		publish("n1", pubs, 1)
		if after, to := linkPubs("n1"); after != before {
			t.Errorf("%d publications with no subscribers elsewhere: %d link messages (per peer, all time: %v); want 0", pubs, after-before, to)
		}
	})
}
