package node

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/metrics"
	"github.com/shardgate/shardgate/shard"
	"github.com/shardgate/shardgate/store"
)

// callLog is a Links whose marks calls fail while down is set, and which
// records every other call.
type callLog struct {
	mu    sync.Mutex
	down  bool
	calls []string
}

func (l *callLog) SetPeer(string, string)      {}
func (l *callLog) RemovePeer(string)           {}
func (l *callLog) QueueDepths() map[string]int { return nil }
func (l *callLog) Notify(context.Context, string, string, any) error {
	return nil
}
func (l *callLog) Call(_ context.Context, peer, method string, _, resp any) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if method == methodMarks {
		if l.down {
			return errors.New("connection refused")
		}
		*resp.(*marksResp) = marksResp{Marks: []store.Mark{}}
		return nil
	}
	l.calls = append(l.calls, peer+" "+method)
	return nil
}

// A home that has not compared its store with its backups (a backup it
// cannot reach) does not copy the shard to a new holder: the copy would
// hold only what its store kept, and once cut over the backups' full copy
// could be dropped.
func TestAHomeCopiesNothingBeforeItHasCaughtUp(t *testing.T) {
	st, ctx := openStore(t)
	table := shard.Table{Version: 3, Shards: []shard.Assignment{{Owner: "h", Backups: []string{"b"}, Pending: []string{"n"}}}}
	links := &callLog{down: true}
	var shardLock sync.Mutex
	d := &homeDeps{
		name: "h", ctx: ctx, store: st, m: metrics.New(), links: links,
		cfg:         Config{Now: time.Now, ReplicateTimeout: time.Second},
		commitLocal: st.Apply,
		table:       func() shard.Table { return table },
		canWrite:    func(int, shard.Table) error { return nil },
		deliver:     func(string, []shardgate.Message) {},
		publish:     func(shardgate.Event) {},
		fence:       func(int) (uint64, error) { return 3, nil },
		lockShard:   func(int) func() { shardLock.Lock(); return shardLock.Unlock },
	}
	p := newPrimary(d, 0)
	if err := p.ensureCaughtUp(); err == nil {
		t.Fatal("caught up without reaching the backup")
	}
	if err := p.copyTo(ctx, "n"); shardgate.KindOf(err) != shardgate.KindUnavailable {
		t.Fatalf("a copy before the catch-up: %v; want 1003", err)
	}
	if len(links.calls) != 0 {
		t.Fatalf("the copy reached the holder: %v", links.calls)
	}
	links.mu.Lock()
	links.down = false
	links.mu.Unlock()
	if err := p.ensureCaughtUp(); err != nil {
		t.Fatal(err)
	}
	if err := p.copyTo(ctx, "n"); err != nil {
		t.Fatalf("a copy after the catch-up: %v", err)
	}
	if len(links.calls) == 0 || links.calls[0] != "n "+methodSnapshot {
		t.Fatalf("the copy did not start with a reset of the holder: %v", links.calls)
	}
}
