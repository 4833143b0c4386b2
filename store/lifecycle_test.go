package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shardgate/shardgate"
)

func TestMeta(t *testing.T) {
	s := MustOpen(t, testConfig(t.TempDir()))
	if v, err := s.GetMeta("absent"); v != nil || err != nil {
		t.Fatalf("absent meta = %q, %v", v, err)
	}
	val := []byte("table-v1")
	if err := s.PutMeta("table", val); err != nil {
		t.Fatal(err)
	}
	val[0] = 'X' // the store must have its own copy
	v, _ := s.GetMeta("table")
	if string(v) != "table-v1" {
		t.Fatalf("meta = %q", v)
	}
	if err := s.PutMeta("empty", nil); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.GetMeta("empty"); v == nil || len(v) != 0 {
		t.Fatalf("empty meta = %#v, want a non-nil empty value", v)
	}
	if err := s.PutMeta("", []byte("x")); !errors.Is(err, shardgate.ErrInvalid) {
		t.Fatalf("empty meta key: %v", err)
	}
}

func TestDropShardAndShards(t *testing.T) {
	s := MustOpen(t, testConfig(t.TempDir()))
	MustApply(t, s, msgOp(5, "a", 1, 0), msgOp(2, "b", 1, 0), Op{Kind: OpFence, Shard: 9, Version: 1})
	// A no-op write must not make a shard appear.
	MustApply(t, s, Op{Kind: OpCursor, Shard: 4, Key: "x", Seq: 0})
	if got, _ := s.Shards(); !slices.Equal(got, []int{2, 5, 9}) {
		t.Fatalf("shards = %v", got)
	}
	if err := s.DropShard(5); err != nil {
		t.Fatal(err)
	}
	if err := s.DropShard(77); err != nil {
		t.Fatalf("dropping an empty shard: %v", err)
	}
	if got, _ := s.Shards(); !slices.Equal(got, []int{2, 9}) {
		t.Fatalf("shards after drop = %v", got)
	}
	if m, b := s.ShardStats(5); m != 0 || b != 0 {
		t.Fatalf("stats of dropped shard = %d, %d", m, b)
	}
	if msgs, last := MustRead(t, s, 5, "a", 0, 0); len(msgs) != 0 || last != 0 {
		t.Fatalf("dropped shard still reads %v last %d", msgs, last)
	}
	// The shard can be filled again from scratch.
	MustApply(t, s, msgOp(5, "a", 1, 0))
	checkStats(t, s, 5)
}

func TestSecondOpenFailsClearly(t *testing.T) {
	old := openTimeout
	openTimeout = 50 * time.Millisecond
	t.Cleanup(func() { openTimeout = old })
	cfg := testConfig(t.TempDir())
	MustOpen(t, cfg)
	_, err := Open(cfg)
	if err == nil || !strings.Contains(err.Error(), "locked by another process") || !strings.Contains(err.Error(), cfg.Path) {
		t.Fatalf("second open: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig("x.db").Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	bad := Config{MaxBatchOps: -1, MaxMessages: -1, MaxAge: -time.Second, SweepInterval: -time.Second}
	err := bad.Validate()
	for _, want := range []string{"path", "batch", "max messages", "age", "sweep"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
	if _, err := Open(bad); err == nil {
		t.Fatal("Open accepted an invalid config")
	}
}

func TestClosedStore(t *testing.T) {
	s, err := Open(testConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	MustApply(t, s, msgOp(0, "k", 1, 0))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	goleak.VerifyNone(t)

	checks := map[string]error{
		"apply":    s.Apply(context.Background(), []Op{msgOp(0, "k", 2, 0)}),
		"put meta": s.PutMeta("a", nil),
		"drop":     s.DropShard(0),
	}
	_, _, checks["read"] = s.Read(0, "k", 0, 0)
	_, checks["last seq"] = s.LastSeq(0, "k")
	_, checks["shards"] = s.Shards()
	checks["snapshot"] = s.Snapshot(context.Background(), 0, 0, func([]Op) error { return nil })
	for name, err := range checks {
		if !errors.Is(err, ErrClosed) || !errors.Is(err, shardgate.ErrUnavailable) {
			t.Errorf("%s on a closed store: %v, want ErrClosed", name, err)
		}
	}
}
