package node_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/internal/testutil"
	"github.com/shardgate/shardgate/node"
	"github.com/shardgate/shardgate/node/nodetest"
)

// A send stored on its home but on no backup (in doubt, answered
// unavailable) leaves the home an idempotency record. The home hands the
// shard to its backup, which never got the send and stores another send at
// the same seq; replicated back, that message replaces the first one on
// the former home, but the record stays. When the shard comes home again,
// a retry of the first send must be stored, not answered with the seq that
// now holds the other send's message: that answer acknowledges a message
// no inbox holds ("acked seq N is not in the inbox (found [])").
func TestRetryAfterHomeChangesTwiceIsStored(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		var failShard atomic.Int64
		failShard.Store(-1)
		c := nodetest.Start(t, 3, nodetest.Options{Engine: func(_ string, cfg *node.Config) {
			cfg.ReplicateFault = func(peer string, shard int) error {
				if int64(shard) == failShard.Load() {
					return shardgate.Errorf(shardgate.KindUnavailable, "injected: %s refuses shard %d", peer, shard)
				}
				return nil
			}
		}})
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		api := c.Node("n1").Engine
		key := c.KeyOwnedBy("n1", "victim")
		r, err := api.Route(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Backups) != 1 {
			t.Fatalf("shard %d has backups %v, want one", r.Shard, r.Backups)
		}
		first, backup := r.Owner, r.Backups[0]
		send(t, c.Node(first), "earlier", key, "earlier") // seq 1

		// The send is stored on its home alone and answered unavailable.
		failShard.Store(int64(r.Shard))
		if _, err := trySend(c.Node(first), "a", key, "first", "a-1"); !errors.Is(err, shardgate.ErrUnavailable) {
			t.Fatalf("send a-1 with its backup refusing: %v, want unavailable", err)
		}
		failShard.Store(-1)

		// The backup, which lacks it, becomes the home and stores another
		// send at that seq; the former home stays a backup and takes it.
		moveTo := func(to string) {
			t.Helper()
			if _, err := api.MoveShard(ctx, r.Shard, to); err != nil {
				t.Fatalf("move shard %d to %s: %v", r.Shard, to, err)
			}
			testutil.Eventually(t, 30*time.Second, "shard moved to "+to, func() bool { return c.Owner(key) == to })
			c.WaitSettled(30 * time.Second)
		}
		moveTo(backup)
		other := send(t, c.Node(backup), "b", key, "other")
		if other.Seq != 2 {
			t.Logf("the other send got seq %d (the in-doubt send had seq 2)", other.Seq)
		}

		// Home again on the node that keeps the first send's record.
		moveTo(first)
		var res shardgate.SendResult
		testutil.Eventually(t, 30*time.Second, "the retry of a-1 acknowledged", func() bool {
			res, err = trySend(c.Node(first), "a", key, "first", "a-1")
			return err == nil
		})
		for _, m := range inbox(t, c, key) {
			if m.Seq == res.Seq && (m.From != "a" || m.ID != "a-1") {
				t.Fatalf("the retry of a-1 was acknowledged with seq %d, which holds %s's message %s (id %q)", res.Seq, m.From, m.Data, m.ID)
			}
			if m.Seq == res.Seq {
				return
			}
		}
		t.Fatalf("the retry of a-1 was acknowledged with seq %d, which is not in the inbox", res.Seq)
	})
}

// A gap a backup reports is filled with the messages it lacks; their
// idempotency records must come along. Otherwise a former home that got a
// retried send only through such a fill keeps the record of that send's
// first attempt, whose message another send replaced at that seq, and when
// the shard comes home again the next retry is answered with that seq (an
// acknowledged message no inbox holds) or stored a second time.
func TestGapFillCarriesIdempotencyRecords(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		var failShard atomic.Int64
		failShard.Store(-1)
		var failPeer atomic.Value // "" fails every peer
		failPeer.Store("")
		c := nodetest.Start(t, 3, nodetest.Options{Engine: func(_ string, cfg *node.Config) {
			cfg.ReplicateFault = func(peer string, shard int) error {
				if p := failPeer.Load().(string); int64(shard) == failShard.Load() && (p == "" || p == peer) {
					return shardgate.Errorf(shardgate.KindUnavailable, "injected: %s refuses shard %d", peer, shard)
				}
				return nil
			}
		}})
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		api := c.Node("n1").Engine
		key := c.KeyOwnedBy("n1", "victim")
		r, err := api.Route(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Backups) != 1 {
			t.Fatalf("shard %d has backups %v, want one", r.Shard, r.Backups)
		}
		first, backup := r.Owner, r.Backups[0]
		moveTo := func(to string) {
			t.Helper()
			if _, err := api.MoveShard(ctx, r.Shard, to); err != nil {
				t.Fatalf("move shard %d to %s: %v", r.Shard, to, err)
			}
			testutil.Eventually(t, 30*time.Second, "shard moved to "+to, func() bool { return c.Owner(key) == to })
			c.WaitSettled(30 * time.Second)
		}
		send(t, c.Node(first), "earlier", key, "earlier") // seq 1

		// a-1 in doubt on the first home at seq 2, replaced there by b at
		// seq 2 once the backup is home.
		failShard.Store(int64(r.Shard))
		if _, err := trySend(c.Node(first), "a", key, "first", "a-1"); !errors.Is(err, shardgate.ErrUnavailable) {
			t.Fatalf("send a-1 with its backup refusing: %v, want unavailable", err)
		}
		failShard.Store(-1)
		moveTo(backup)
		send(t, c.Node(backup), "b", key, "other")

		// The retry of a-1 is stored at the new home but does not reach
		// the former home; the next send fills that gap there.
		failPeer.Store(first)
		failShard.Store(int64(r.Shard))
		if _, err := trySend(c.Node(backup), "a", key, "first", "a-1"); !errors.Is(err, shardgate.ErrUnavailable) {
			t.Fatalf("retry of a-1 with the former home refusing: %v, want unavailable", err)
		}
		failShard.Store(-1)
		send(t, c.Node(backup), "c", key, "next")

		moveTo(first)
		var res shardgate.SendResult
		testutil.Eventually(t, 30*time.Second, "the retry of a-1 acknowledged", func() bool {
			res, err = trySend(c.Node(first), "a", key, "first", "a-1")
			return err == nil
		})
		var at []uint64
		for _, m := range inbox(t, c, key) {
			if m.From == "a" && m.ID == "a-1" {
				at = append(at, m.Seq)
			}
		}
		if len(at) != 1 || at[0] != res.Seq {
			t.Fatalf("a-1 acknowledged with seq %d is stored at seqs %v, want once, at that seq", res.Seq, at)
		}
	})
}
