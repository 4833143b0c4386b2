package node_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/shardgate/shardgate/internal/testutil"
	"github.com/shardgate/shardgate/node/nodetest"
)

// Many connections of one key, held by a node that is not the key's
// home, close at once. Each close changes the count the home keeps of
// them; however those reports cross, the home must end with none, and
// presence must say the key is offline.
func TestPresenceAfterManyConnectionsCloseAtOnce(t *testing.T) {
	inRealTime(t, func(t *testing.T) {
		c := nodetest.Start(t, 3, nodetest.Options{})
		key := c.KeyOwnedBy("n2", "crowd")
		on := c.Node("n1")
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		presence := func() int {
			p, err := c.Node("n3").Engine.Presence(ctx, []string{key})
			if err != nil {
				t.Fatalf("presence of %s: %v", key, err)
			}
			return p[key].Connections
		}
		for round := range 5 {
			conns := make([]*nodetest.Conn, 30)
			for i := range conns {
				conns[i] = connect(t, on, key, nil)
			}
			if n := presence(); n != len(conns) {
				t.Fatalf("round %d: presence counts %d connections, want %d", round, n, len(conns))
			}
			var wg sync.WaitGroup
			for _, cn := range conns {
				wg.Go(cn.Close)
			}
			wg.Wait()
			testutil.Eventually(t, 10*time.Second, "the key offline", func() bool { return presence() == 0 })
			// It stays so: no late report brings a closed connection back.
			time.Sleep(200 * time.Millisecond)
			if n := presence(); n != 0 {
				t.Fatalf("round %d: presence counts %d connections after all closed", round, n)
			}
		}
	})
}
