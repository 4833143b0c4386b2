package store

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/shardgate/shardgate"
)

func TestReadAppendSinceLimit(t *testing.T) {
	s := MustOpen(t, testConfig(t.TempDir()))
	var ops []Op
	for seq := uint64(1); seq <= 1200; seq++ {
		ops = append(ops, msgOp(3, "bob", seq, 1000+int64(seq)))
	}
	MustApply(t, s, ops...)
	MustApply(t, s, msgOp(3, "alice", 1, 5))

	tests := []struct {
		name      string
		key       string
		since     uint64
		limit     int
		wantFirst uint64
		wantN     int
	}{
		{"all default limit", "bob", 0, 0, 1, 100},
		{"negative limit", "bob", 0, -5, 1, 100},
		{"small limit", "bob", 0, 3, 1, 3},
		{"limit capped", "bob", 0, 5000, 1, 1000},
		{"since middle", "bob", 500, 10, 501, 10},
		{"tail shorter than limit", "bob", 1195, 100, 1196, 5},
		{"since last", "bob", 1200, 100, 0, 0},
		{"since beyond last", "bob", 5000, 100, 0, 0},
		{"other key", "alice", 0, 100, 1, 1},
		{"unknown key", "carol", 0, 100, 0, 0},
		{"prefix of a key", "bo", 0, 100, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, _ := MustRead(t, s, 3, tt.key, tt.since, tt.limit)
			if len(msgs) != tt.wantN {
				t.Fatalf("got %d messages, want %d", len(msgs), tt.wantN)
			}
			if msgs == nil {
				t.Fatal("messages is nil, want an empty slice")
			}
			for i, m := range msgs {
				if want := tt.wantFirst + uint64(i); m.Seq != want {
					t.Fatalf("message %d has seq %d, want %d", i, m.Seq, want)
				}
			}
		})
	}

	msgs, last := MustRead(t, s, 3, "bob", 41, 1)
	want := msgOp(3, "bob", 42, 1042).Msg
	if last != 1200 || len(msgs) != 1 || !msgEqual(msgs[0], want) {
		t.Fatalf("read = %+v last %d, want %+v last 1200", msgs, last, want)
	}
	if _, last := MustRead(t, s, 9, "bob", 0, 0); last != 0 {
		t.Fatalf("last seq in an empty shard = %d", last)
	}
	checkStats(t, s, 3)
}

func msgEqual(a, b shardgate.Message) bool {
	return a.Seq == b.Seq && a.From == b.From && a.TS == b.TS && a.ID == b.ID && bytes.Equal(a.Data, b.Data)
}

func TestMessageFieldsAndOverwrite(t *testing.T) {
	s := MustOpen(t, testConfig(t.TempDir()))
	m := shardgate.Message{Seq: 7, From: "a\x00b", TS: -3, ID: "id-1", Data: []byte(`{"x":[1,2]}`)}
	MustApply(t, s, Op{Kind: OpMessage, Shard: 1, Key: "k", Msg: m})
	msgs, last := MustRead(t, s, 1, "k", 0, 0)
	if last != 7 || len(msgs) != 1 || !msgEqual(msgs[0], m) {
		t.Fatalf("read %+v last %d, want %+v", msgs, last, m)
	}

	// Put overwrites the entry at that seq without counting it twice.
	m2 := shardgate.Message{Seq: 7, From: "c", TS: 9, Data: []byte(`"longer payload than before"`)}
	MustApply(t, s, Op{Kind: OpMessage, Shard: 1, Key: "k", Msg: m2})
	msgs, _ = MustRead(t, s, 1, "k", 0, 0)
	if len(msgs) != 1 || !msgEqual(msgs[0], m2) {
		t.Fatalf("after overwrite read %+v, want %+v", msgs, m2)
	}
	checkStats(t, s, 1)
	checkKeyCount(t, s, 1, "k")

	// Data without bytes comes back as nil.
	MustApply(t, s, Op{Kind: OpMessage, Shard: 1, Key: "k", Msg: shardgate.Message{Seq: 8}})
	if msgs, _ = MustRead(t, s, 1, "k", 7, 0); len(msgs) != 1 || msgs[0].Data != nil {
		t.Fatalf("empty message read back as %+v", msgs)
	}
}

func TestLastSeqIsMax(t *testing.T) {
	s := MustOpen(t, testConfig(t.TempDir()))
	MustApply(t, s, msgOp(0, "k", 5, 0), msgOp(0, "k", 2, 0), Op{Kind: OpLastSeq, Shard: 0, Key: "k", Seq: 4})
	if n, err := s.LastSeq(0, "k"); err != nil || n != 5 {
		t.Fatalf("last seq = %d, %v; want 5", n, err)
	}
	MustApply(t, s, Op{Kind: OpLastSeq, Shard: 0, Key: "k", Seq: 9})
	if n, _ := s.LastSeq(0, "k"); n != 9 {
		t.Fatalf("last seq = %d, want 9", n)
	}
	for seq, want := range map[uint64]bool{0: true, 1: false, 2: true, 3: false, 5: true, 9: false} {
		if got, err := s.HasSeq(0, "k", seq); err != nil || got != want {
			t.Errorf("HasSeq(%d) = %v, %v; want %v", seq, got, err, want)
		}
	}
}

func TestIdem(t *testing.T) {
	s := MustOpen(t, testConfig(t.TempDir()))
	MustApply(t, s,
		Op{Kind: OpIdem, Shard: 2, Key: "bob", From: "alice", ID: "x", Seq: 4},
		Op{Kind: OpIdem, Shard: 2, Key: "bob", From: "", ID: "x", Seq: 5},
		Op{Kind: OpIdem, Shard: 2, Key: "bob", From: "alic", ID: "ex", Seq: 6},
	)
	tests := []struct {
		to, from, id string
		seq          uint64
		found        bool
	}{
		{"bob", "alice", "x", 4, true},
		{"bob", "", "x", 5, true},
		{"bob", "alic", "ex", 6, true},
		{"bob", "alice", "y", 0, false},
		{"bo", "alice", "x", 0, false},
		{"bob", "alicex", "", 0, false},
	}
	for _, tt := range tests {
		seq, found, err := s.Idem(2, tt.to, tt.from, tt.id)
		if err != nil || seq != tt.seq || found != tt.found {
			t.Errorf("Idem(%q, %q, %q) = %d, %v, %v; want %d, %v", tt.to, tt.from, tt.id, seq, found, err, tt.seq, tt.found)
		}
	}
	if _, found, _ := s.Idem(7, "bob", "alice", "x"); found {
		t.Error("idem record found in another shard")
	}
}

func TestCursorAndFenceKeepMax(t *testing.T) {
	s := MustOpen(t, testConfig(t.TempDir()))
	steps := []struct {
		set, want uint64
	}{{3, 3}, {1, 3}, {0, 3}, {10, 10}, {9, 10}}
	for _, st := range steps {
		MustApply(t, s, Op{Kind: OpCursor, Shard: 1, Key: "k", Seq: st.set}, Op{Kind: OpFence, Shard: 1, Version: st.set})
		if got, err := s.Cursor(1, "k"); err != nil || got != st.want {
			t.Fatalf("after cursor %d: cursor = %d, %v; want %d", st.set, got, err, st.want)
		}
		if got, err := s.Fence(1); err != nil || got != st.want {
			t.Fatalf("after fence %d: fence = %d, %v; want %d", st.set, got, err, st.want)
		}
	}
	if got, _ := s.Cursor(1, "other"); got != 0 {
		t.Fatalf("cursor of unknown key = %d", got)
	}
	if got, _ := s.Fence(2); got != 0 {
		t.Fatalf("fence of unknown shard = %d", got)
	}
}

func TestOddKeys(t *testing.T) {
	s := MustOpen(t, testConfig(t.TempDir()))
	long := strings.Repeat("é", 128) // 256 bytes
	keys := []string{"a", "a\x00", "\x00a", "a\x00b", "\x00", "\x00\x00", long, long[:254] + "\x00\x00", "ab"}
	for i, k := range keys {
		for seq := uint64(1); seq <= uint64(i+1); seq++ {
			MustApply(t, s, msgOp(0, k, seq, 1), Op{Kind: OpIdem, Shard: 0, Key: k, From: k, ID: k, Seq: seq})
		}
		MustApply(t, s, Op{Kind: OpCursor, Shard: 0, Key: k, Seq: uint64(i + 1)})
	}
	for i, k := range keys {
		msgs, last := MustRead(t, s, 0, k, 0, 0)
		if want := uint64(i + 1); last != want || len(msgs) != i+1 {
			t.Errorf("key %q: %d messages, last %d; want %d", k, len(msgs), last, want)
		}
		if c, _ := s.Cursor(0, k); c != uint64(i+1) {
			t.Errorf("key %q: cursor %d", k, c)
		}
		if seq, ok, _ := s.Idem(0, k, k, k); !ok || seq != uint64(i+1) {
			t.Errorf("key %q: idem %d %v", k, seq, ok)
		}
	}
	checkStats(t, s, 0)

	// A key too long to store reads as empty rather than as a key its
	// wrapped length prefix might alias.
	huge := "a" + strings.Repeat("x", 1<<16)
	if msgs, last := MustRead(t, s, 0, huge, 0, 0); len(msgs) != 0 || last != 0 {
		t.Fatalf("oversized key reads %d messages, last %d", len(msgs), last)
	}
	if ok, _ := s.HasSeq(0, huge, 1); ok {
		t.Fatal("oversized key has seq 1")
	}
}

func TestInvalidOps(t *testing.T) {
	s := MustOpen(t, testConfig(t.TempDir()))
	bad := []Op{
		{Kind: 0, Key: "k"},
		{Kind: 99, Key: "k"},
		{Kind: OpMessage, Key: "", Msg: shardgate.Message{Seq: 1}},
		{Kind: OpMessage, Key: "k", Msg: shardgate.Message{Seq: 0}},
		{Kind: OpCursor, Shard: -1, Key: "k"},
		{Kind: OpIdem, Key: "k", From: "f"},
		{Kind: OpLastSeq, Key: strings.Repeat("k", maxPart+1)},
	}
	for _, op := range bad {
		err := s.Apply(context.Background(), []Op{msgOp(0, "fine", 1, 0), op})
		if !errors.Is(err, shardgate.ErrInvalid) {
			t.Errorf("Apply(%+v) = %v, want an invalid-argument error", op, err)
		}
	}
	// Nothing of a rejected call lands.
	if shards, _ := s.Shards(); len(shards) != 0 {
		t.Fatalf("shards after rejected calls: %v", shards)
	}
	if err := s.Apply(context.Background(), nil); err != nil {
		t.Fatalf("empty apply: %v", err)
	}
}

func TestRestartFindsEverything(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.NoSync = false
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for shard := range 3 {
		for seq := uint64(1); seq <= 20; seq++ {
			MustApply(t, s, msgOp(shard, "k", seq, 1))
		}
		MustApply(t, s,
			Op{Kind: OpCursor, Shard: shard, Key: "k", Seq: 7},
			Op{Kind: OpIdem, Shard: shard, Key: "k", From: "f", ID: "i", Seq: 3},
			Op{Kind: OpFence, Shard: shard, Version: 11},
		)
	}
	if err := s.PutMeta("node", []byte("n1")); err != nil {
		t.Fatal(err)
	}
	before := map[int][2]int64{}
	for shard := range 3 {
		m, b := s.ShardStats(shard)
		before[shard] = [2]int64{m, b}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = MustOpen(t, cfg)
	for shard := range 3 {
		msgs, last := MustRead(t, s, shard, "k", 0, 0)
		if len(msgs) != 20 || last != 20 {
			t.Fatalf("shard %d after restart: %d messages, last %d", shard, len(msgs), last)
		}
		c, _ := s.Cursor(shard, "k")
		seq, ok, _ := s.Idem(shard, "k", "f", "i")
		f, _ := s.Fence(shard)
		if c != 7 || seq != 3 || !ok || f != 11 {
			t.Fatalf("shard %d after restart: cursor %d idem %d/%v fence %d", shard, c, seq, ok, f)
		}
		if m, b := s.ShardStats(shard); [2]int64{m, b} != before[shard] || m != 20 {
			t.Fatalf("shard %d stats after restart = %d, %d; before %v", shard, m, b, before[shard])
		}
		checkStats(t, s, shard)
	}
	if v, err := s.GetMeta("node"); err != nil || string(v) != "n1" {
		t.Fatalf("meta after restart = %q, %v", v, err)
	}
	if s.Size() <= 0 {
		t.Fatalf("size = %d", s.Size())
	}
}
