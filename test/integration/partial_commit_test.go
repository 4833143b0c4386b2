package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/app"
	"github.com/shardgate/shardgate/client"
	"github.com/shardgate/shardgate/node"
)

// A backup that fails every commit of one shard: each send to a key of
// that shard is stored on its home and answered 1003. The engine retries
// such a send internally, and no retry may store it again under a new seq:
// N refused sends leave at most N messages, each one once.
func TestPartialCommitNotStoredTwice(t *testing.T) {
	var failShard atomic.Int64
	failShard.Store(-1)
	c := newCluster(t, 3, func(cfg *app.Config) {
		cfg.EngineHook = func(nc *node.Config) {
			nc.ReplicateFault = func(peer string, shard int) error {
				if int64(shard) == failShard.Load() {
					return shardgate.Errorf(shardgate.KindUnavailable, "injected: %s refuses shard %d", peer, shard)
				}
				return nil
			}
		}
	})
	victim := keyHomedOn(t, c, "n2", "victim")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := c.node("n1").Node().Route(ctx, victim)
	if err != nil {
		t.Fatal(err)
	}
	failShard.Store(int64(r.Shard))

	const perPath = 3
	sender := c.dial("n1", "sender", nil) // forwarded to the home over a link
	for i := range perPath {
		_, err := sender.Send(ctx, victim, map[string]int{"client": i}, "")
		var rpc *client.RPCError
		if !errors.As(err, &rpc) || rpc.Code != shardgate.CodeUnavailable {
			t.Fatalf("client send %d: %v, want 1003", i, err)
		}
	}
	home := c.node("n2").Node() // on the home itself
	for i := range perPath {
		_, err := home.Send(ctx, "api", victim, json.RawMessage(fmt.Sprintf(`{"home":%d}`, i)), "")
		if !errors.Is(err, shardgate.ErrUnavailable) {
			t.Fatalf("home send %d: %v, want unavailable", i, err)
		}
	}

	failShard.Store(-1)
	res, err := sender.Send(ctx, victim, "after", "")
	if err != nil {
		t.Fatalf("send after the backup recovered: %v", err)
	}
	inbox := c.inbox(victim)
	if res.Seq > 2*perPath+1 || len(inbox) > 2*perPath+1 {
		t.Fatalf("%d refused sends and one acked left last seq %d and %d stored messages, want at most %d", 2*perPath, res.Seq, len(inbox), 2*perPath+1)
	}
	seen := map[string]uint64{}
	for _, m := range inbox {
		if prev, ok := seen[string(m.Data)]; ok {
			t.Fatalf("message %s stored twice: seqs %d and %d", m.Data, prev, m.Seq)
		}
		seen[string(m.Data)] = m.Seq
	}
	// The backup holds exactly what the home holds once replication works.
	if got := c.inbox(victim); len(got) != len(inbox) {
		t.Fatalf("inbox changed between reads: %d then %d", len(inbox), len(got))
	}
}
