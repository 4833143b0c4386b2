package node_test

import (
	"testing"
	"time"

	"github.com/shardgate/shardgate/internal/testutil"
	"github.com/shardgate/shardgate/node/nodetest"
)

// Three engines settle on a table; a message sent through one node to a
// key homed on another reaches the key's connection on the third.
func TestKitDeliversAcrossNodes(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		c := nodetest.Start(t, 3, nodetest.Options{})
		key := c.KeyOwnedBy("n2", "bob")
		conn := connect(t, c.Node("n1"), key, nil)
		for i := range 5 {
			send(t, c.Node("n3"), "alice", key, i)
		}
		testutil.Eventually(t, time.Second, "5 messages on bob's connection", func() bool { return conn.Delivered() == 5 })
	})
}
