package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/internal/testutil"
	"github.com/shardgate/shardgate/node/nodetest"
)

// The coordinator can be failed over like any other node: the next oldest
// active node takes over the coordination, the failed node's backups are
// promoted, and readmit brings it back. Nothing acknowledged before is lost.
func TestFailoverOfTheCoordinator(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		c := nodetest.Start(t, 3, nodetest.Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		api := c.Node("n2").Engine
		cv, err := api.Cluster(ctx)
		if err != nil {
			t.Fatal(err)
		}
		coord := cv.Coordinator
		if coord == "" {
			t.Fatal("no coordinator")
		}
		key := c.KeyOwnedBy(coord, "user")
		other := c.Node("n2")
		if coord == "n2" {
			other = c.Node("n3")
		}
		acked := send(t, other, "x", key, "before")

		dry, err := other.Engine.Act(ctx, shardgate.Action{Kind: shardgate.ActionFailover, Node: coord, DryRun: true})
		if err != nil {
			t.Fatalf("dry run of the failover of the coordinator %s: %v", coord, err)
		}
		if len(dry.Moves) == 0 {
			t.Fatalf("the failover of %s plans no moves: %+v", coord, dry)
		}
		if _, err := other.Engine.Failover(ctx, coord); err != nil {
			t.Fatalf("failover of the coordinator %s: %v", coord, err)
		}
		testutil.Eventually(t, 30*time.Second, "another coordinator and "+coord+" failed", func() bool {
			cv, _ := other.Engine.Cluster(ctx)
			return failedOver(cv, coord) && cv.Coordinator != "" && cv.Coordinator != coord
		})
		settled(t, c, coord)
		if _, err := c.Node(coord).Engine.Send(ctx, "x", key, json.RawMessage(`"hi"`), ""); !errors.Is(err, shardgate.ErrUnavailable) {
			t.Errorf("the failed-over former coordinator took a write: %v", err)
		}
		res := send(t, other, "x", key, "after")
		if res.Seq != acked.Seq+1 {
			t.Errorf("the send after the failover got seq %d, want %d", res.Seq, acked.Seq+1)
		}

		if _, err := other.Engine.Readmit(ctx, coord); err != nil {
			t.Fatalf("readmit %s: %v", coord, err)
		}
		c.WaitSettled(30 * time.Second)
		if _, err := c.Node(coord).Engine.Send(ctx, "x", key, json.RawMessage(`"again"`), ""); err != nil {
			t.Errorf("the readmitted node refuses writes: %v", err)
		}
	})
}
