package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/internal/testutil"
)

// commitCounter records OnCommit calls.
type commitCounter struct {
	commits, ops atomic.Int64
}

func (c *commitCounter) OnCommit(_ time.Duration, ops int) {
	c.commits.Add(1)
	c.ops.Add(int64(ops))
}

func TestConcurrentApplyAllLand(t *testing.T) {
	var cc commitCounter
	cfg := testConfig(t.TempDir())
	cfg.NoSync = false // real fsyncs are what make callers pile up
	cfg.OnCommit = cc.OnCommit
	s := MustOpen(t, cfg)

	const writers, each = 32, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			key := fmt.Sprintf("key-%d", w)
			for seq := uint64(1); seq <= each; seq++ {
				err := s.Apply(context.Background(), []Op{
					msgOp(w%4, key, seq, 0),
					{Kind: OpCursor, Shard: w % 4, Key: key, Seq: seq},
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for w := range writers {
		key := fmt.Sprintf("key-%d", w)
		msgs, last := MustRead(t, s, w%4, key, 0, 0)
		if len(msgs) != each || last != each {
			t.Fatalf("%s: %d messages, last %d", key, len(msgs), last)
		}
	}
	calls := int64(writers * each)
	if got := cc.ops.Load(); got != 2*calls {
		t.Fatalf("OnCommit saw %d ops, want %d", got, 2*calls)
	}
	t.Logf("%d calls in %d commits", calls, cc.commits.Load())
	if cc.commits.Load() >= calls {
		t.Fatalf("%d calls took %d commits: nothing was grouped", calls, cc.commits.Load())
	}
	for shard := range 4 {
		checkStats(t, s, shard)
	}
}

// holdCommitter makes the committer stop, with the first request of its
// next batch in hand, until release is called; held reports whether it is
// stopped there. Call it before any Apply runs.
func holdCommitter(s *Store) (release func(), held func() bool) {
	gate := make(chan struct{})
	var once sync.Once
	var waiting atomic.Bool
	s.hookTook = func() {
		waiting.Store(true)
		<-gate
		waiting.Store(false)
	}
	return func() { once.Do(func() { close(gate) }) }, waiting.Load
}

// TestQueuedCallsShareOneCommit holds the committer while callers queue up,
// so the grouping is certain rather than likely.
func TestQueuedCallsShareOneCommit(t *testing.T) {
	var cc commitCounter
	cfg := testConfig(t.TempDir())
	cfg.OnCommit = cc.OnCommit
	cfg.MaxBatchOps = 64
	s := MustOpen(t, cfg)
	release, _ := holdCommitter(s)
	defer release()

	const calls = 100
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() { MustApply(t, s, msgOp(0, fmt.Sprintf("k%d", i), 1, 0)) })
	}
	// The committer holds one call; the rest queue.
	testutil.Eventually(t, 5*time.Second, "the condition", func() bool { return len(s.reqs) == calls-1 })
	release()
	wg.Wait()
	// 64 calls in the first commit (MaxBatchOps), the other 36 in the next.
	if got := cc.commits.Load(); got != 2 {
		t.Fatalf("%d calls took %d commits, want 2", calls, got)
	}
	if m, _ := s.ShardStats(0); m != calls {
		t.Fatalf("stats count %d messages", m)
	}
}

func TestBigCallIsNotSplit(t *testing.T) {
	var cc commitCounter
	cfg := testConfig(t.TempDir())
	cfg.OnCommit = cc.OnCommit
	cfg.MaxBatchOps = 10
	s := MustOpen(t, cfg)
	var ops []Op
	for seq := uint64(1); seq <= 25; seq++ {
		ops = append(ops, msgOp(0, "k", seq, 0))
	}
	MustApply(t, s, ops...)
	if cc.commits.Load() != 1 || cc.ops.Load() != 25 {
		t.Fatalf("25-op call: %d commits, %d ops", cc.commits.Load(), cc.ops.Load())
	}
}

func TestOneBadCallDoesNotFailItsBatch(t *testing.T) {
	s := MustOpen(t, testConfig(t.TempDir()))
	MustApply(t, s, msgOp(0, "bad", 1, 0))
	// Corrupt the key record so applying to "bad" fails inside the
	// transaction, where validation cannot see it.
	err := s.update(func(tx *bolt.Tx) error {
		return shardBucket(tx, 0).Put(prefixed(recKey, "bad"), []byte("short"))
	})
	if err != nil {
		t.Fatal(err)
	}
	batch := []*request{
		{ops: []Op{msgOp(0, "good1", 1, 0)}, done: make(chan error, 1)},
		{ops: []Op{msgOp(0, "bad", 2, 0)}, done: make(chan error, 1)},
		{ops: []Op{msgOp(0, "good2", 1, 0)}, done: make(chan error, 1)},
	}
	s.commit(batch)
	for i, want := range []bool{true, false, true} {
		if err := <-batch[i].done; (err == nil) != want {
			t.Fatalf("request %d: err %v", i, err)
		}
	}
	for _, k := range []string{"good1", "good2"} {
		if msgs, _ := MustRead(t, s, 0, k, 0, 0); len(msgs) != 1 {
			t.Fatalf("%s did not land", k)
		}
	}
}

func TestApplyHonoursContext(t *testing.T) {
	s := MustOpen(t, testConfig(t.TempDir()))
	release, held := holdCommitter(s)
	defer release()
	// The committer takes the first call and stops; the second stays queued.
	go func() { _ = s.Apply(context.Background(), []Op{msgOp(0, "first", 1, 0)}) }()
	testutil.Eventually(t, 5*time.Second, "the committer to hold", held)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Apply(ctx, []Op{msgOp(0, "k", 1, 0)}) }()
	testutil.Eventually(t, 5*time.Second, "the condition", func() bool { return len(s.reqs) == 1 })
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) || shardgate.KindOf(err) != shardgate.KindUnavailable {
		t.Fatalf("cancelled apply: %v", err)
	}
	// The write may still land; here it does, once the committer runs.
	release()
	testutil.Eventually(t, 5*time.Second, "the condition", func() bool { ok, _ := s.HasSeq(0, "k", 1); return ok })
}

func TestCloseCommitsQueuedCalls(t *testing.T) {
	s, err := Open(testConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	release, _ := holdCommitter(s)
	const calls = 50
	var wg sync.WaitGroup
	results := make(chan error, calls)
	for i := range calls {
		wg.Go(func() { results <- s.Apply(context.Background(), []Op{msgOp(0, fmt.Sprintf("k%d", i), 1, 0)}) })
	}
	testutil.Eventually(t, 5*time.Second, "the condition", func() bool { return len(s.reqs) == calls-1 })
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	testutil.Eventually(t, 5*time.Second, "the condition", func() bool { return s.closed.Load() })
	release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Fatalf("a call queued before Close failed: %v", err)
		}
	}
	s = MustOpen(t, s.cfg)
	if m, _ := s.ShardStats(0); m != calls {
		t.Fatalf("after reopen: %d messages, want %d", m, calls)
	}
}
