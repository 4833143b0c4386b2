package store

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shardgate/shardgate/internal/testutil"
)

func TestRetentionByCount(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.MaxMessages = 5
	s := MustOpen(t, cfg)

	// One message per call, then a burst in one call: both paths trim.
	for seq := uint64(1); seq <= 8; seq++ {
		op := msgOp(0, "k", seq, 0)
		op.Msg.ID = "id" + string(rune('a'+seq))
		MustApply(t, s, op, Op{Kind: OpIdem, Shard: 0, Key: "k", From: op.Msg.From, ID: op.Msg.ID, Seq: seq})
	}
	msgs, last := MustRead(t, s, 0, "k", 0, 0)
	if got := seqs(msgs); !slices.Equal(got, []uint64{4, 5, 6, 7, 8}) || last != 8 {
		t.Fatalf("kept %v last %d, want 4..8 last 8", got, last)
	}
	// Idempotency records of trimmed messages go with them.
	if _, ok, _ := s.Idem(0, "k", "sender", "id"+string(rune('a'+3))); ok {
		t.Error("idem record of trimmed seq 3 is still there")
	}
	if seq, ok, _ := s.Idem(0, "k", "sender", "id"+string(rune('a'+4))); !ok || seq != 4 {
		t.Errorf("idem record of kept seq 4 = %d, %v", seq, ok)
	}

	var burst []Op
	for seq := uint64(9); seq <= 30; seq++ {
		burst = append(burst, msgOp(0, "k", seq, 0))
	}
	MustApply(t, s, burst...)
	msgs, last = MustRead(t, s, 0, "k", 0, 0)
	if got := seqs(msgs); !slices.Equal(got, []uint64{26, 27, 28, 29, 30}) || last != 30 {
		t.Fatalf("kept %v last %d, want 26..30", got, last)
	}
	for seq, want := range map[uint64]bool{1: true, 25: true, 26: true, 30: true, 31: false} {
		if got, _ := s.HasSeq(0, "k", seq); got != want {
			t.Errorf("HasSeq(%d) = %v, want %v", seq, got, want)
		}
	}
	// A late message below the floor is not brought back.
	MustApply(t, s, msgOp(0, "k", 3, 0))
	if msgs, _ = MustRead(t, s, 0, "k", 0, 0); len(msgs) != 5 || msgs[0].Seq != 26 {
		t.Fatalf("late message changed the inbox: %v", seqs(msgs))
	}
	checkStats(t, s, 0)
	checkKeyCount(t, s, 0, "k")
	if m, _ := s.ShardStats(0); m != 5 {
		t.Fatalf("stats count %d messages, want 5", m)
	}
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestRetentionByAge(t *testing.T) {
	clock := &fakeClock{now: time.UnixMilli(1_000_000)}
	cfg := testConfig(t.TempDir())
	cfg.MaxAge = time.Minute
	cfg.SweepInterval = time.Hour // the test sweeps by hand
	cfg.Now = clock.Now
	s := MustOpen(t, cfg)

	base := clock.Now().UnixMilli()
	for seq := uint64(1); seq <= 10; seq++ {
		MustApply(t, s, msgOp(1, "old", seq, base+int64(seq)*1000)) // 1s apart
	}
	MustApply(t, s, msgOp(1, "young", 1, base+100_000),
		Op{Kind: OpIdem, Shard: 1, Key: "old", From: "sender", ID: "first", Seq: 1},
		Op{Kind: OpIdem, Shard: 1, Key: "old", From: "sender", ID: "last", Seq: 10},
	)

	// 65.5 s later the cutoff is base+5.5 s: seqs 1..5 are over a minute old.
	clock.Advance(65500 * time.Millisecond)
	n, err := s.sweep(context.Background())
	if err != nil || n != 5 {
		t.Fatalf("sweep trimmed %d, %v; want 5", n, err)
	}
	msgs, last := MustRead(t, s, 1, "old", 0, 0)
	if got := seqs(msgs); !slices.Equal(got, []uint64{6, 7, 8, 9, 10}) || last != 10 {
		t.Fatalf("after sweep kept %v last %d", got, last)
	}
	if _, ok, _ := s.Idem(1, "old", "sender", "first"); ok {
		t.Error("idem record of a trimmed message survived")
	}
	if _, ok, _ := s.Idem(1, "old", "sender", "last"); !ok {
		t.Error("idem record of a kept message was dropped")
	}

	// Everything of "old" expires; last_seq and the floor stay.
	clock.Advance(time.Hour)
	if _, err := s.sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	msgs, last = MustRead(t, s, 1, "old", 0, 0)
	if len(msgs) != 0 || last != 10 {
		t.Fatalf("after full expiry: %v last %d, want nothing and last 10", seqs(msgs), last)
	}
	for seq, want := range map[uint64]bool{1: true, 10: true, 11: false} {
		if got, _ := s.HasSeq(1, "old", seq); got != want {
			t.Errorf("HasSeq(%d) = %v, want %v", seq, got, want)
		}
	}
	if got, _ := s.LastSeq(1, "old"); got != 10 {
		t.Fatalf("last seq after trim = %d", got)
	}
	if msgs, _ := MustRead(t, s, 1, "young", 0, 0); len(msgs) != 0 {
		t.Fatalf("young key expired too: %v", seqs(msgs))
	}
	checkStats(t, s, 1)
	checkKeyCount(t, s, 1, "old")

	// The next seq is never one already used.
	MustApply(t, s, msgOp(1, "old", 11, clock.Now().UnixMilli()))
	if msgs, last := MustRead(t, s, 1, "old", 0, 0); !slices.Equal(seqs(msgs), []uint64{11}) || last != 11 {
		t.Fatalf("after new message: %v last %d", seqs(msgs), last)
	}
}

func TestSweeperRunsOnItsOwn(t *testing.T) {
	clock := &fakeClock{now: time.UnixMilli(5_000_000)}
	cfg := testConfig(t.TempDir())
	cfg.MaxAge = time.Second
	cfg.SweepInterval = 5 * time.Millisecond
	cfg.Now = clock.Now
	s := MustOpen(t, cfg)
	MustApply(t, s, msgOp(0, "k", 1, clock.Now().UnixMilli()), msgOp(0, "k", 2, clock.Now().UnixMilli()))
	clock.Advance(time.Minute)
	testutil.Eventually(t, 5*time.Second, "the condition", func() bool {
		msgs, _ := MustRead(t, s, 0, "k", 0, 0)
		return len(msgs) == 0
	})
	if m, _ := s.ShardStats(0); m != 0 {
		t.Fatalf("stats after sweep: %d messages", m)
	}
}

func TestExplicitTrim(t *testing.T) {
	s := MustOpen(t, testConfig(t.TempDir()))
	for seq := uint64(1); seq <= 6; seq++ {
		MustApply(t, s, msgOp(0, "k", seq, 0))
	}
	MustApply(t, s, Op{Kind: OpTrim, Shard: 0, Key: "k", Seq: 3}, Op{Kind: OpTrim, Shard: 0, Key: "k", Seq: 2})
	if msgs, last := MustRead(t, s, 0, "k", 0, 0); !slices.Equal(seqs(msgs), []uint64{4, 5, 6}) || last != 6 {
		t.Fatalf("after trim: %v last %d", seqs(msgs), last)
	}
	// A trim past last_seq moves last_seq along: those seqs are used up.
	MustApply(t, s, Op{Kind: OpTrim, Shard: 0, Key: "fresh", Seq: 4})
	if got, _ := s.LastSeq(0, "fresh"); got != 4 {
		t.Fatalf("last seq after trim of a fresh key = %d", got)
	}
	checkStats(t, s, 0)
}
