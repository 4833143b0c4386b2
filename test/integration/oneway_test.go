package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/app"
	"github.com/shardgate/shardgate/internal/testutil"
)

// Node-link traffic into n3 is dropped while gossip still works, so
// memberlist keeps n3 alive. The two others cannot reach n3 over the links
// and say so: n3 is treated as failed for writes, its shards fail over and
// writes to its keys are acknowledged again; n3 itself refuses writes.
// When the links work again, n3 takes shards again without an operator.
func TestOneWayLinkPartition(t *testing.T) {
	var cut atomic.Bool
	c := newCluster(t, 3, func(cfg *app.Config) {
		cfg.LinkAllow = func(from, to string) bool { return !cut.Load() || to != "n3" }
	})
	key := keyHomedOn(t, c, "n3", "oneway")
	far := keyHomedOn(t, c, "n1", "far")
	api := c.node("n1").Node()
	send := func(on *app.Server, to string, i int) error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err := on.Node().Send(ctx, "probe", to, json.RawMessage(fmt.Sprint(i)), fmt.Sprintf("p%d", i))
		return err
	}

	cut.Store(true)
	start := time.Now()
	i := 0
	testutil.Eventually(t, 30*time.Second, "writes to n3's key acknowledged through n1", func() bool {
		i++
		return send(c.node("n1"), key, i) == nil
	})
	t.Logf("writes to a key of n3 acknowledged again %v after the one-way cut", time.Since(start).Round(10*time.Millisecond))
	if r, _ := api.Route(context.Background(), key); r.Owner == "n3" {
		t.Fatalf("n3 still owns the key's shard")
	}
	i++
	if err := send(c.node("n3"), far, i); shardgate.KindOf(err) != shardgate.KindUnavailable {
		t.Fatalf("write through the cut-off n3: %v, want 1003", err)
	}

	cut.Store(false)
	c.waitStable(60 * time.Second)
	i++
	if err := send(c.node("n3"), key, i); err != nil {
		t.Fatalf("write through n3 after the heal: %v", err)
	}
}
