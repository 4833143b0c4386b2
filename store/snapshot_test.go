package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/shardgate/shardgate"
)

var propKeys = []string{"a", "a\x00", "\x00", "b", strings.Repeat("k", 256)}

// opGen draws ops mostly for shard 0, some for shard 1, over a few keys so
// that they collide, trim and overwrite each other.
func opGen() *rapid.Generator[Op] {
	return rapid.Custom(func(t *rapid.T) Op {
		op := Op{
			Kind:  rapid.SampledFrom([]OpKind{OpMessage, OpMessage, OpMessage, OpCursor, OpIdem, OpFence, OpLastSeq, OpTrim}).Draw(t, "kind"),
			Shard: rapid.SampledFrom([]int{0, 0, 0, 1}).Draw(t, "shard"),
			Key:   rapid.SampledFrom(propKeys).Draw(t, "key"),
		}
		seq := rapid.Uint64Range(1, 16).Draw(t, "seq")
		switch op.Kind {
		case OpMessage:
			op.Msg = shardgate.Message{
				Seq:  seq,
				From: rapid.SampledFrom([]string{"", "x", "y\x00"}).Draw(t, "from"),
				ID:   rapid.SampledFrom([]string{"", "i1", "i2"}).Draw(t, "id"),
				TS:   rapid.Int64Range(-5, 1<<40).Draw(t, "ts"),
				Data: []byte(fmt.Sprintf(`{"v":%q}`, rapid.StringN(0, 40, -1).Draw(t, "data"))),
			}
		case OpIdem:
			op.From = rapid.SampledFrom([]string{"", "x", "y\x00"}).Draw(t, "from")
			op.ID = rapid.SampledFrom([]string{"i1", "i2", "\x00"}).Draw(t, "id")
			op.Seq = seq
		case OpFence:
			op.Key = ""
			op.Version = seq
		case OpTrim:
			op.Seq = rapid.Uint64Range(1, 10).Draw(t, "trim")
		default:
			op.Seq = seq
		}
		return op
	})
}

func TestSnapshotReproducesShard(t *testing.T) {
	root := t.TempDir()
	n := 0
	rapid.Check(t, func(rt *rapid.T) {
		n++
		dir, err := os.MkdirTemp(root, "case")
		if err != nil {
			rt.Fatal(err)
		}
		maxMessages := rapid.SampledFrom([]int{0, 1, 3, 6}).Draw(rt, "maxMessages")
		open := func(name string) *Store {
			cfg := testConfig(dir)
			cfg.Path = filepath.Join(dir, name)
			cfg.MaxMessages = maxMessages
			s, err := Open(cfg)
			if err != nil {
				rt.Fatal(err)
			}
			rt.Cleanup(func() { _ = s.Close() })
			return s
		}
		src, dst := open("src.db"), open("dst.db")

		ops := rapid.SliceOfN(opGen(), 1, 80).Draw(rt, "ops")
		for len(ops) > 0 {
			k := rapid.IntRange(1, len(ops)).Draw(rt, "batch")
			MustApply(rt, src, ops[:k]...)
			ops = ops[k:]
		}

		chunkBytes := rapid.IntRange(1, 4000).Draw(rt, "chunkBytes")
		err = src.Snapshot(context.Background(), 0, chunkBytes, func(chunk []Op) error {
			if len(chunk) == 0 {
				return errors.New("empty chunk")
			}
			for _, op := range chunk {
				if op.Shard != 0 {
					return fmt.Errorf("op of shard %d in a snapshot of shard 0", op.Shard)
				}
			}
			return dst.Apply(context.Background(), chunk)
		})
		if err != nil {
			rt.Fatal(err)
		}

		want, got := dumpShard(rt, src, 0), dumpShard(rt, dst, 0)
		if !maps.Equal(want, got) {
			rt.Fatalf("records differ:\nsrc %q\ndst %q", want, got)
		}
		compareReads(rt, src, dst)
		for _, s := range []*Store{src, dst} {
			checkStats(rt, s, 0)
			for _, key := range propKeys {
				checkKeyCount(rt, s, 0, key)
			}
		}
		if got, _ := dst.Shards(); len(got) > 1 || (len(got) == 1 && got[0] != 0) {
			rt.Fatalf("destination holds shards %v", got)
		}
	})
	t.Logf("%d cases", n)
}

// compareReads holds dst to src through the public read API for shard 0.
func compareReads(t *rapid.T, src, dst *Store) {
	for _, key := range propKeys {
		wm, wl, err1 := src.Read(0, key, 0, MaxReadLimit)
		gm, gl, err2 := dst.Read(0, key, 0, MaxReadLimit)
		if err1 != nil || err2 != nil || wl != gl || len(wm) != len(gm) {
			t.Fatalf("key %q: read src %v last %d (%v), dst %v last %d (%v)", key, seqs(wm), wl, err1, seqs(gm), gl, err2)
		}
		for i := range wm {
			if !msgEqual(wm[i], gm[i]) {
				t.Fatalf("key %q message %d: src %+v dst %+v", key, i, wm[i], gm[i])
			}
		}
		for seq := range uint64(18) {
			a, _ := src.HasSeq(0, key, seq)
			b, _ := dst.HasSeq(0, key, seq)
			if a != b {
				t.Fatalf("key %q HasSeq(%d): src %v dst %v", key, seq, a, b)
			}
		}
		a, _ := src.Cursor(0, key)
		b, _ := dst.Cursor(0, key)
		if a != b {
			t.Fatalf("key %q cursor: src %d dst %d", key, a, b)
		}
		for _, from := range []string{"", "x", "y\x00"} {
			for _, id := range []string{"i1", "i2", "\x00"} {
				s1, f1, _ := src.Idem(0, key, from, id)
				s2, f2, _ := dst.Idem(0, key, from, id)
				if s1 != s2 || f1 != f2 {
					t.Fatalf("key %q idem (%q, %q): src %d/%v dst %d/%v", key, from, id, s1, f1, s2, f2)
				}
			}
		}
	}
	f1, _ := src.Fence(0)
	f2, _ := dst.Fence(0)
	m1, b1 := src.ShardStats(0)
	m2, b2 := dst.ShardStats(0)
	if f1 != f2 || m1 != m2 || b1 != b2 {
		t.Fatalf("fence %d/%d, stats (%d, %d)/(%d, %d)", f1, f2, m1, b1, m2, b2)
	}
}

func TestSnapshotChunksAndErrors(t *testing.T) {
	s := MustOpen(t, testConfig(t.TempDir()))
	var ops []Op
	for seq := uint64(1); seq <= 100; seq++ {
		ops = append(ops, msgOp(0, "k", seq, 0))
	}
	MustApply(t, s, ops...)

	var sizes []int
	err := s.Snapshot(context.Background(), 0, 1000, func(chunk []Op) error {
		sizes = append(sizes, len(chunk))
		return nil
	})
	if err != nil || len(sizes) < 5 {
		t.Fatalf("snapshot in 1000-byte chunks: %d chunks %v, %v", len(sizes), sizes, err)
	}

	stop := errors.New("receiver gone")
	calls := 0
	err = s.Snapshot(context.Background(), 0, 1000, func([]Op) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("snapshot with failing fn: %v after %d calls", err, calls)
	}

	ctx, cancel := context.WithCancel(context.Background())
	calls = 0
	err = s.Snapshot(ctx, 0, 1000, func([]Op) error { calls++; cancel(); return nil })
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Fatalf("cancelled snapshot: %v after %d calls", err, calls)
	}

	calls = 0
	if err := s.Snapshot(context.Background(), 42, 0, func([]Op) error { calls++; return nil }); err != nil || calls != 0 {
		t.Fatalf("snapshot of an empty shard: %v, %d calls", err, calls)
	}
	if got, _ := s.Shards(); !slices.Equal(got, []int{0}) {
		t.Fatalf("shards = %v", got)
	}
}
