package node_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/internal/testutil"
	"github.com/shardgate/shardgate/node"
	"github.com/shardgate/shardgate/node/nodetest"
)

// A home crashes and gossip notices only 5 s later (fake time): its
// backups take over, and when it comes back on its data dir it catches up
// from the current homes. Through it all, nothing acknowledged is lost or
// doubled and the open connections take every message.
func TestCrashedHomeFailsOverAndRestarts(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		c := nodetest.Start(t, 3, nodetest.Options{})
		l := startLoad(t, c, []string{"n1", "n2"}, []string{"n1", "n2"}, 2, 16)
		l.waitAcked(50, 20*time.Second)
		c.Crash("n3")
		time.Sleep(5 * time.Second) // failure detection takes its time
		c.Gossip.Fail("n3")
		l.waitAcked(50, 20*time.Second)
		c.WaitSettled(30 * time.Second)
		l.checkLive("n3 failed over")

		c.Restart("n3")
		c.WaitSettled(30 * time.Second)
		l.waitAcked(50, 20*time.Second)
		l.finish()
	})
}

// Operator actions under load: a shard moved to a named node, bad
// requests refused, a rebalance.
func TestOperatorActionsUnderLoad(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		c := nodetest.Start(t, 3, nodetest.Options{})
		l := startLoad(t, c, []string{"n1", "n2"}, []string{"n1", "n2"}, 2, 16)
		l.waitAcked(50, 20*time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		api := c.Node("n1").Engine
		r, err := api.Route(ctx, "user-1")
		if err != nil {
			t.Fatal(err)
		}
		to := "n1"
		if r.Owner == "n1" {
			to = "n2"
		}
		if _, err := api.MoveShard(ctx, r.Shard, to); err != nil {
			t.Fatalf("move shard %d to %s: %v", r.Shard, to, err)
		}
		testutil.Eventually(t, 30*time.Second, "shard moved", func() bool { return c.Owner("user-1") == to })
		l.waitAcked(50, 20*time.Second)

		if _, err := api.MoveShard(ctx, 10_000, "n1"); err == nil {
			t.Fatal("moving a shard that does not exist must fail")
		}
		if _, err := api.Failover(ctx, "nobody"); err == nil {
			t.Fatal("failing over an unknown node must fail")
		}
		if _, err := api.Rebalance(ctx); err != nil {
			t.Fatalf("rebalance: %v", err)
		}
		c.WaitSettled(30 * time.Second)
		l.waitAcked(50, 20*time.Second)
		l.finish()
	})
}

// A backup that fails every commit of one shard: each send to a key of
// that shard is stored on its home and answered 1003. The engine retries
// such a send internally, and no retry may store it again under a new
// seq: N refused sends leave at most N messages, each one once.
func TestPartialCommitNotStoredTwice(t *testing.T) {
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
		victim := c.KeyOwnedBy("n2", "victim")
		r, err := c.Node("n1").Engine.Route(context.Background(), victim)
		if err != nil {
			t.Fatal(err)
		}
		failShard.Store(int64(r.Shard))
		const perPath = 3
		for i := range 2 * perPath {
			on := []string{"n1", "n2"}[i%2] // forwarded over a link, and on the home itself
			if _, err := trySend(c.Node(on), "sender", victim, map[string]int{on: i}, ""); !errors.Is(err, shardgate.ErrUnavailable) {
				t.Fatalf("send %d through %s: %v, want unavailable", i, on, err)
			}
		}
		failShard.Store(-1)
		res := send(t, c.Node("n1"), "sender", victim, "after")
		got := inbox(t, c, victim)
		if res.Seq > 2*perPath+1 || len(got) > 2*perPath+1 {
			t.Fatalf("%d refused sends and one acked left last seq %d and %d stored messages, want at most %d", 2*perPath, res.Seq, len(got), 2*perPath+1)
		}
		seen := map[string]uint64{}
		for _, m := range got {
			if prev, ok := seen[string(m.Data)]; ok {
				t.Fatalf("message %s stored twice: seqs %d and %d", m.Data, prev, m.Seq)
			}
			seen[string(m.Data)] = m.Seq
		}
	})
}

// A shard whose writer queue is full answers 1002 at once instead of
// queueing without bound, and a refused write is not stored: the inbox
// holds exactly the acknowledged sends.
func TestOverloadedShardAnswersRateLimited(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		c := nodetest.Start(t, 3, nodetest.Options{Engine: func(_ string, cfg *node.Config) { cfg.WriterQueue = 4 }})
		key := c.KeyOwnedBy("n2", "hot")
		var mu sync.Mutex
		acked, limited := map[uint64]bool{}, 0
		var wg sync.WaitGroup
		for _, on := range []string{"n1", "n2"} {
			for i := range 200 {
				wg.Go(func() {
					res, err := trySend(c.Node(on), "load", key, fmt.Sprintf("%s-%d", on, i), "")
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						acked[res.Seq] = true
					case shardgate.KindOf(err) == shardgate.KindRateLimited:
						limited++
					default:
						t.Errorf("send: %v, want a seq or 1002", err)
					}
				})
			}
		}
		wg.Wait()
		t.Logf("%d acknowledged, %d answered 1002", len(acked), limited)
		if limited == 0 {
			t.Fatal("400 concurrent sends into a writer queue of 4: none was answered 1002")
		}
		got := inbox(t, c, key)
		if len(got) != len(acked) {
			t.Fatalf("inbox holds %d messages, %d were acknowledged: refused writes were stored", len(got), len(acked))
		}
		for _, m := range got {
			if !acked[m.Seq] {
				t.Fatalf("seq %d stored but never acknowledged", m.Seq)
			}
		}
	})
}

// With push queues of one message, most pushes between nodes are
// dropped: the drops are counted, and every open connection still takes
// every acknowledged message, through the catch-up hints and gap filling.
func TestDroppedPushesAreRecovered(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		c := nodetest.Start(t, 3, nodetest.Options{Engine: func(_ string, cfg *node.Config) { cfg.PushQueueMessages = 1 }})
		l := startLoad(t, c, []string{"n1", "n2"}, []string{"n1", "n2"}, 6, 30)
		l.waitAcked(200, 30*time.Second)
		l.checkLive("pushes dropped")
		dropped := 0.0
		for _, nd := range c.Live() {
			var m dto.Metric
			if err := nd.Metrics.DeliveryPushDropped.Write(&m); err != nil {
				t.Fatal(err)
			}
			dropped += m.GetCounter().GetValue()
		}
		if dropped == 0 {
			t.Fatal("no push was dropped with queues of one message: the test proves nothing")
		}
		t.Logf("%v pushes dropped", dropped)
		l.finish()
	})
}

// The read cursor: an ack beyond the inbox's last seq is refused as
// invalid (-32602), through the home and forwarded to it; an ack within
// it is stored, replicated, survives the loss of the home, and never
// moves back.
func TestAckBeyondLastSeqRefused(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		c := nodetest.Start(t, 3, nodetest.Options{})
		key := c.KeyOwnedBy("n2", "reader")
		for i := range 3 {
			send(t, c.Node("n1"), "alice", key, i)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cursor := func(on string) uint64 {
			t.Helper()
			seq, err := c.Node(on).Engine.Cursor(ctx, key)
			if err != nil {
				t.Fatalf("cursor of %s through %s: %v", key, on, err)
			}
			return seq
		}
		for _, on := range []string{"n2", "n1"} {
			err := c.Node(on).Engine.Ack(ctx, key, 4)
			if shardgate.KindOf(err) != shardgate.KindInvalid || shardgate.KindOf(err).RPCCode() != shardgate.CodeInvalidParams {
				t.Fatalf("ack of seq 4 of 3 through %s: %v, want invalid params", on, err)
			}
		}
		if got := cursor("n3"); got != 0 {
			t.Fatalf("cursor after refused acks is %d, want 0", got)
		}
		if err := c.Node("n1").Engine.Ack(ctx, key, 2); err != nil {
			t.Fatalf("ack of seq 2: %v", err)
		}
		if err := c.Node("n3").Engine.Ack(ctx, key, 1); err != nil {
			t.Fatalf("ack of seq 1 after 2: %v", err)
		}
		if got := cursor("n1"); got != 2 {
			t.Fatalf("cursor after acks of 2 then 1 is %d, want 2 (it never moves back)", got)
		}
		c.Kill("n2")
		c.WaitSettled(30 * time.Second)
		if got := cursor("n3"); got != 2 {
			t.Fatalf("cursor after the loss of the home is %d, want 2", got)
		}
	})
}

// Fencing: a node an operator failed over that never heard of it (the
// tables sent to it are lost) still takes itself for the home of its
// shards. A write it takes must not be acknowledged: it answers 1003, and
// the write is not readable anywhere. Which guard answers (the former home's own check
// for a newer table gossip announced, or the new home's fence on the
// replicated batch) depends on timing; either must refuse. Real clock:
// the lost calls end at their deadlines (see inBubble).
func TestFormerHomeIsFenced(t *testing.T) {
	inRealTime(t, func(t *testing.T) {
		c := nodetest.Start(t, 3, nodetest.Options{Engine: func(_ string, cfg *node.Config) {
			cfg.ForwardRetry, cfg.ReplicateTimeout = 800*time.Millisecond, 500*time.Millisecond
			cfg.LinkFailAfter = 0
		}})
		key := c.KeyOwnedBy("n3", "fenced")
		send(t, c.Node("n1"), "alice", key, "before")
		c.Net.DropIf(func(_, to, method string) bool { return to == "n3" && (method == "table" || method == "get_table") })
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if _, err := c.Node("n1").Engine.Failover(ctx, "n3"); err != nil {
			t.Fatalf("fail n3 over: %v", err)
		}
		testutil.Eventually(t, 10*time.Second, "n3's shard re-homed on the others", func() bool {
			r, err := c.Node("n1").Engine.Route(ctx, key)
			return err == nil && r.Owner != "n3"
		})
		if r, _ := c.Node("n3").Engine.Route(ctx, key); r.Owner != "n3" {
			t.Fatalf("n3 learnt the new table (owner %s): the test proves nothing", r.Owner)
		}
		_, err := trySend(c.Node("n3"), "mallory", key, "stale", "")
		if shardgate.KindOf(err) != shardgate.KindUnavailable {
			r3, _ := c.Node("n3").Engine.Route(ctx, key)
			t.Fatalf("write taken by the former home: %v, want 1003 (n3 routes the key to %s)", err, r3.Owner)
		}
		t.Logf("former home answered: %v", err)
		send(t, c.Node("n1"), "alice", key, "after")
		for _, m := range inbox(t, c, key) {
			if string(m.Data) == `"stale"` {
				t.Fatalf("the former home's write is readable at seq %d", m.Seq)
			}
		}
	})
}

// Gap repair: a batch that never reached the backup leaves it one seq
// short; the next batch finds the gap, and the home sends what the backup
// lacks, so the backup holds the same inbox as the home with no hole.
func TestBackupGapIsRepaired(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		c := nodetest.Start(t, 3, nodetest.Options{Engine: func(_ string, cfg *node.Config) {
			cfg.ForwardRetry, cfg.ReplicateTimeout = 800*time.Millisecond, 300*time.Millisecond
		}})
		key := c.KeyOwnedBy("n1", "gap")
		r, err := c.Node("n1").Engine.Route(context.Background(), key)
		if err != nil || len(r.Backups) == 0 {
			t.Fatalf("route of %s: %+v, %v", key, r, err)
		}
		backup := r.Backups[0]
		var lose atomic.Bool
		c.Net.RefuseIf(func(from, to, method string) bool {
			return lose.Load() && from == "n1" && to == backup && method == "replicate"
		})
		send(t, c.Node("n1"), "alice", key, 1)
		lose.Store(true)
		if _, err := trySend(c.Node("n1"), "alice", key, 2, ""); shardgate.KindOf(err) != shardgate.KindUnavailable {
			t.Fatalf("send while the backup's batches are lost: %v, want 1003", err)
		}
		lose.Store(false)
		last := send(t, c.Node("n1"), "alice", key, 3)
		home := inbox(t, c, key)
		held, err := c.Node(backup).Store.History(r.Shard, key, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(held.Messages) != len(home) || held.LastSeq != last.Seq {
			t.Fatalf("backup %s holds %d messages up to seq %d, the home %d up to seq %d", backup, len(held.Messages), held.LastSeq, len(home), last.Seq)
		}
		for i, m := range held.Messages {
			if m.Seq != uint64(i+1) || string(m.Data) != string(home[i].Data) {
				t.Fatalf("backup holds seq %d (%s) where the home holds seq %d (%s)", m.Seq, m.Data, home[i].Seq, home[i].Data)
			}
		}
	})
}
