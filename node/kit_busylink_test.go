package node_test

import (
	"context"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/node/nodetest"
)

// A busy link is a working link. Every ping fails from some moment on (as
// when pings wait behind a shard copy for longer than LinkFailAfter) while
// writes keep flowing between every pair of nodes: the answered calls
// prove the links work, so every node keeps its quorum, none is failed
// over, and writes go on being acknowledged.
func TestAnsweredCallsKeepBusyLinksAlive(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		c := nodetest.Start(t, 3, nodetest.Options{})
		all := []string{"n1", "n2", "n3"}
		l := startLoad(t, c, all, all, 6, 64)
		l.waitAcked(100, 20*time.Second)
		c.Net.RefuseIf(func(_, _, method string) bool { return method == "ping" })
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for range 10 { // 10 s: four times the default LinkFailAfter
			time.Sleep(time.Second)
			for _, name := range all {
				cv, err := c.Node(name).Engine.Cluster(ctx)
				if err != nil {
					t.Fatalf("cluster view of %s: %v", name, err)
				}
				if !cv.Quorum || len(cv.Nodes) != len(all) {
					t.Fatalf("%s: quorum %v, %d nodes, with no ping answered but writes flowing", name, cv.Quorum, len(cv.Nodes))
				}
				for _, nd := range cv.Nodes {
					if nd.State != shardgate.StateActive {
						t.Fatalf("%s sees %s %s with no ping answered but writes flowing", name, nd.Name, nd.State)
					}
				}
			}
		}
		l.waitAcked(100, 20*time.Second)
		l.finish()
	})
}
