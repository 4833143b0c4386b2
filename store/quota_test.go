package store

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/shardgate/shardgate"
)

// History tells where the retained inbox starts: 1 with nothing trimmed,
// the oldest kept seq after trimming, last_seq+1 when all is gone.
func TestHistoryFirstSeq(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.MaxMessages = 3
	s := MustOpen(t, cfg)
	page := func(since uint64) shardgate.HistoryResult {
		t.Helper()
		p, err := s.History(0, "k", since, 0)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := page(0); p.FirstSeq != 1 || p.LastSeq != 0 || p.Messages == nil {
		t.Fatalf("unknown key: %+v", p)
	}
	MustApply(t, s, msgOp(0, "k", 1, 0), msgOp(0, "k", 2, 0))
	if p := page(0); p.FirstSeq != 1 || !slices.Equal(seqs(p.Messages), []uint64{1, 2}) {
		t.Fatalf("nothing trimmed: %+v", p)
	}
	for seq := uint64(3); seq <= 7; seq++ {
		MustApply(t, s, msgOp(0, "k", seq, 0))
	}
	for _, since := range []uint64{0, 2, 4} {
		if p := page(since); p.FirstSeq != 5 || p.Messages[0].Seq != 5 || p.LastSeq != 7 {
			t.Fatalf("since %d after trimming to 3: first %d messages %v last %d", since, p.FirstSeq, seqs(p.Messages), p.LastSeq)
		}
	}
	if first, err := s.FirstSeq(0, "k"); err != nil || first != 5 {
		t.Fatalf("FirstSeq = %d, %v", first, err)
	}
	MustApply(t, s, Op{Kind: OpTrim, Shard: 0, Key: "k", Seq: 7})
	if p := page(0); p.FirstSeq != 8 || len(p.Messages) != 0 || p.LastSeq != 7 {
		t.Fatalf("all trimmed: %+v", p)
	}
}

// A page stops at MaxReadBytes but always carries one message, so a page
// of large messages still fits a node-link frame and the reader pages on.
func TestHistoryPageBoundedByBytes(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.MaxReadBytes = 10_000
	s := MustOpen(t, cfg)
	big := func(seq uint64, n int) Op {
		op := msgOp(0, "k", seq, 0)
		op.Msg.Data = []byte(`"` + strings.Repeat("x", n) + `"`)
		return op
	}
	MustApply(t, s, big(1, 4000), big(2, 4000), big(3, 4000), big(4, 30_000), big(5, 10))
	var got [][]uint64
	for since := uint64(0); since < 5; {
		p, err := s.History(0, "k", since, 100)
		if err != nil || len(p.Messages) == 0 {
			t.Fatalf("page since %d: %+v %v", since, p, err)
		}
		got = append(got, seqs(p.Messages))
		since = p.Messages[len(p.Messages)-1].Seq
	}
	want := [][]uint64{{1, 2}, {3}, {4}, {5}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("pages %v, want %v", got, want)
	}
}

// Over MaxBytes new messages are refused with storage_full; reads go on,
// and trimming makes room again. The count survives a restart.
func TestStorageLimit(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.MaxBytes = 2000
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	seq := uint64(0)
	for s.Writable() == nil {
		seq++
		if seq > 1000 {
			t.Fatal("never full")
		}
		MustApply(t, s, msgOp(3, "k", seq, 0))
	}
	err = s.Writable()
	if !errors.Is(err, &shardgate.Error{Kind: shardgate.KindStorageFull}) || !strings.Contains(err.Error(), "--max-storage-bytes") {
		t.Fatalf("full store: %v, want storage_full naming the flag", err)
	}
	if s.UsedBytes() < cfg.MaxBytes {
		t.Fatalf("used %d under the limit %d", s.UsedBytes(), cfg.MaxBytes)
	}
	if msgs, last := MustRead(t, s, 3, "k", 0, 0); len(msgs) != int(seq) || last != seq {
		t.Fatalf("reads on a full store: %d messages, last %d", len(msgs), last)
	}
	used := s.UsedBytes()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = MustOpen(t, cfg)
	if s.UsedBytes() != used || s.Writable() == nil {
		t.Fatalf("after reopening: used %d (was %d), writable %v", s.UsedBytes(), used, s.Writable())
	}
	MustApply(t, s, Op{Kind: OpTrim, Shard: 3, Key: "k", Seq: seq / 2})
	if err := s.Writable(); err != nil {
		t.Fatalf("after trimming half: %v", err)
	}
	if err := s.DropShard(3); err != nil || s.UsedBytes() != 0 {
		t.Fatalf("after dropping the shard: used %d, %v", s.UsedBytes(), err)
	}
}
