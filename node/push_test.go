package node

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/metrics"
	"go.uber.org/goleak"
)

// stuckLinks is a peer that takes every push and then hangs until released.
type stuckLinks struct {
	release chan struct{}
	mu      sync.Mutex
	got     []deliverMsg
}

func (l *stuckLinks) SetPeer(string, string)      {}
func (l *stuckLinks) RemovePeer(string)           {}
func (l *stuckLinks) QueueDepths() map[string]int { return nil }
func (l *stuckLinks) Call(context.Context, string, string, any, any) error {
	return shardgate.Errorf(shardgate.KindUnavailable, "not in this test")
}

func (l *stuckLinks) Notify(ctx context.Context, peer, method string, req any) error {
	select {
	case <-l.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	b, _ := json.Marshal(req)
	var d deliverMsg
	json.Unmarshal(b, &d)
	l.mu.Lock()
	l.got = append(l.got, d)
	l.mu.Unlock()
	return nil
}

// A peer that does not answer never holds up the caller of push: pushes
// beyond the queue's bound are dropped and counted, and the peer still
// hears the highest seq of every key once it answers, so its connections
// can read what they missed.
func TestPushNeverBlocksAndAnnouncesDrops(t *testing.T) {
	defer goleak.VerifyNone(t)
	links := &stuckLinks{release: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{ctx: ctx, cancel: cancel, links: links, m: metrics.New(), log: slog.New(slog.DiscardHandler),
		cfg: Config{PushQueueMessages: 8, PushQueueBytes: 1 << 20}}
	ps, err := newPushers(pusherDeps{ctx: ctx, links: links, m: n.m, log: n.log,
		maxMsgs: n.cfg.PushQueueMessages, maxBytes: n.cfg.PushQueueBytes, goFunc: n.goFunc})
	if err != nil {
		t.Fatal(err)
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		for seq := uint64(1); seq <= 1000; seq++ {
			ps.push("peer", "bob", []shardgate.Message{{Seq: seq, From: "a", Data: json.RawMessage(`1`)}})
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("push blocked on a peer that does not answer")
	}
	var dropped dto.Metric
	n.m.DeliveryPushDropped.Write(&dropped)
	if got := dropped.GetCounter().GetValue(); got < 900 {
		t.Fatalf("dropped %v pushes, want at least 900 of 1000 with a queue of 8", got)
	}
	close(links.release)
	deadline := time.Now().Add(10 * time.Second)
	for {
		links.mu.Lock()
		var last uint64
		for _, d := range links.got {
			if d.Key == "bob" {
				last = max(last, d.LastSeq)
				for _, m := range d.Msgs {
					last = max(last, m.Seq)
				}
			}
		}
		links.mu.Unlock()
		if last == 1000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the peer heard of seqs up to %d, want 1000", last)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	n.wg.Wait()
}
