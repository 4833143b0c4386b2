package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shardgate/shardgate"
)

// slowConfig never materialises on its own: what the tests read comes from
// the batch and the log unless they materialise.
func slowConfig(dir string) Config {
	cfg := testConfig(dir)
	cfg.MaterializeInterval = time.Hour
	cfg.MaterializeOps = 1 << 30
	return cfg
}

// crash stops s as a kill would: the batch is thrown away unmaterialised,
// and only the log and the file remain.
func crash(tb testing.TB, s *Store) {
	tb.Helper()
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.cancel()
		close(s.stop)
		s.wg.Wait()
		s.txMu.Lock()
		defer s.txMu.Unlock()
		if s.btx != nil {
			_ = s.btx.Rollback()
			s.btx = nil
		}
		if err := errors.Join(s.wal.Close(), s.db.Close()); err != nil {
			tb.Errorf("crash: %v", err)
		}
	})
}

// inFile reads straight from the file, past the batch.
func inFile(tb testing.TB, s *Store, shard int, key string) keyRec {
	tb.Helper()
	var rec keyRec
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := shardBucket(tx, shard); b != nil {
			var err error
			rec, err = decodeKeyRec(b.Get(prefixed(recKey, key)))
			return err
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return rec
}

func TestReadsSeeLoggedWritesBeforeTheFile(t *testing.T) {
	s := MustOpen(t, slowConfig(t.TempDir()))
	MustApply(t, s, msgOp(3, "k", 1, 5), msgOp(3, "k", 2, 5),
		Op{Kind: OpIdem, Shard: 3, Key: "k", From: "sender", ID: "i2", Seq: 2},
		Op{Kind: OpCursor, Shard: 3, Key: "k", Seq: 1},
		Op{Kind: OpFence, Shard: 3, Version: 7})
	if rec := inFile(t, s, 3, "k"); rec.last != 0 {
		t.Fatalf("the file already holds last_seq %d: the write did not wait in the batch", rec.last)
	}
	check := func(when string) {
		t.Helper()
		msgs, last := MustRead(t, s, 3, "k", 0, 0)
		if !slices.Equal(seqs(msgs), []uint64{1, 2}) || last != 2 {
			t.Fatalf("%s: read %v, last %d", when, seqs(msgs), last)
		}
		if ok, _ := s.HasSeq(3, "k", 2); !ok {
			t.Fatalf("%s: HasSeq(2) = false", when)
		}
		if seq, ok, _ := s.Idem(3, "k", "sender", "i2"); !ok || seq != 2 {
			t.Fatalf("%s: idem = %d, %v", when, seq, ok)
		}
		if c, _ := s.Cursor(3, "k"); c != 1 {
			t.Fatalf("%s: cursor = %d", when, c)
		}
		if f, _ := s.Fence(3); f != 7 {
			t.Fatalf("%s: fence = %d", when, f)
		}
		if sh, _ := s.Shards(); !slices.Equal(sh, []int{3}) {
			t.Fatalf("%s: shards = %v", when, sh)
		}
		if m, _ := s.ShardStats(3); m != 2 {
			t.Fatalf("%s: stats count %d messages", when, m)
		}
		checkStats(t, s, 3)
		checkKeyCount(t, s, 3, "k")
	}
	check("in the batch")
	if err := s.materialize(); err != nil {
		t.Fatal(err)
	}
	if rec := inFile(t, s, 3, "k"); rec.last != 2 {
		t.Fatalf("after materialising the file holds last_seq %d", rec.last)
	}
	check("in the file")
}

func TestCrashBeforeMaterialisingReplaysTheLog(t *testing.T) {
	cfg := slowConfig(t.TempDir())
	s := MustOpen(t, cfg)
	MustApply(t, s, msgOp(0, "a", 1, 0), msgOp(1, "b", 1, 0))
	if err := s.materialize(); err != nil {
		t.Fatal(err)
	}
	MustApply(t, s, msgOp(0, "a", 2, 0), Op{Kind: OpTrim, Shard: 0, Key: "a", Seq: 1})
	MustApply(t, s, msgOp(1, "b", 2, 0), Op{Kind: OpIdem, Shard: 1, Key: "b", From: "x", ID: "y", Seq: 2})
	if err := s.DropShard(2); err != nil { // materialises what came before
		t.Fatal(err)
	}
	MustApply(t, s, msgOp(1, "b", 3, 0))
	want0, want1 := dumpShard(t, s, 0), dumpShard(t, s, 1)
	crash(t, s)

	s = MustOpen(t, cfg)
	if got := dumpShard(t, s, 0); !reflect.DeepEqual(got, want0) {
		t.Fatalf("shard 0 after replay:\n got %q\nwant %q", got, want0)
	}
	if got := dumpShard(t, s, 1); !reflect.DeepEqual(got, want1) {
		t.Fatalf("shard 1 after replay:\n got %q\nwant %q", got, want1)
	}
	for shard := range 2 {
		checkStats(t, s, shard)
	}
	// Replayed writes are in the file now, and a second crash replays
	// nothing twice.
	crash(t, s)
	s = MustOpen(t, cfg)
	if got := dumpShard(t, s, 1); !reflect.DeepEqual(got, want1) {
		t.Fatalf("shard 1 after a second reopen:\n got %q\nwant %q", got, want1)
	}
	checkStats(t, s, 1)
}

func TestFullDiskInTheLogFailsOnlyThatCall(t *testing.T) {
	cfg := slowConfig(t.TempDir())
	var full atomic.Bool
	cfg.walFault = func(uint64) error {
		if full.Load() {
			return &os.PathError{Op: "write", Path: "segment", Err: syscall.ENOSPC}
		}
		return nil
	}
	s := MustOpen(t, cfg)
	MustApply(t, s, msgOp(0, "k", 1, 0))
	full.Store(true)
	err := s.Apply(context.Background(), []Op{msgOp(0, "k", 2, 0), msgOp(0, "other", 1, 0)})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("apply on a full disk: %v, want ENOSPC", err)
	}
	// Nothing of the failed call is visible; what came before is.
	if ok, _ := s.HasSeq(0, "k", 2); ok {
		t.Fatal("the failed write is visible")
	}
	if ok, _ := s.HasSeq(0, "other", 1); ok {
		t.Fatal("the failed write is visible")
	}
	if ok, _ := s.HasSeq(0, "k", 1); !ok {
		t.Fatal("the write before the failure is gone")
	}
	checkStats(t, s, 0)
	full.Store(false)
	MustApply(t, s, msgOp(0, "k", 2, 0))
	crash(t, s)
	cfg.walFault = nil
	s = MustOpen(t, cfg)
	if msgs, _ := MustRead(t, s, 0, "k", 0, 0); !slices.Equal(seqs(msgs), []uint64{1, 2}) {
		t.Fatalf("after reopen: %v", seqs(msgs))
	}
	if ok, _ := s.HasSeq(0, "other", 1); ok {
		t.Fatal("the failed write came back")
	}
	checkStats(t, s, 0)
}

func TestMaterialisingReleasesLogSegments(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.WALSegmentBytes = 4 << 10
	cfg.MaterializeOps = 50
	s := MustOpen(t, cfg)
	for seq := uint64(1); seq <= 500; seq++ {
		MustApply(t, s, msgOp(int(seq%5), "k", seq, 0))
	}
	if err := s.materialize(); err != nil {
		t.Fatal(err)
	}
	// 500 records of about 40 bytes fill several segments; all but the
	// last are materialised and gone by the next release.
	MustApply(t, s, msgOp(0, "k", 501, 0))
	if err := s.materialize(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(cfg.Path+".wal", "*.wal"))
	if len(segs) > 2 {
		t.Fatalf("%d segments left after materialising everything", len(segs))
	}
}

func TestOpenRefusesALogWithMissingRecords(t *testing.T) {
	cfg := slowConfig(t.TempDir())
	cfg.WALSegmentBytes = 64
	s := MustOpen(t, cfg)
	for seq := uint64(1); seq <= 5; seq++ {
		MustApply(t, s, msgOp(0, "k", seq, 0))
	}
	segs := s.wal.Segments()
	crash(t, s)
	if err := os.Remove(segs[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(cfg); err == nil {
		t.Fatal("opened a store whose log lost acknowledged records")
	}
}

func TestGroupRecordRoundTrip(t *testing.T) {
	ops := []Op{
		msgOp(270, "k\x00ey", 9, -5),
		{Kind: OpMessage, Shard: 1, Key: "e", Msg: shardgate.Message{Seq: 1}},
		{Kind: OpCursor, Shard: 2, Key: "c", Seq: 3},
		{Kind: OpIdem, Shard: 3, Key: "i", From: "f", ID: "id", Seq: 4},
		{Kind: OpFence, Shard: 4, Version: 1 << 40},
		{Kind: OpLastSeq, Shard: 5, Key: "l", Seq: 6},
		{Kind: OpTrim, Shard: 6, Key: "t", Seq: 7},
	}
	got, err := decodeGroup(appendGroup(nil, ops))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, ops) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, ops)
	}
}

func FuzzDecodeGroup(f *testing.F) {
	f.Add(appendGroup(nil, []Op{msgOp(1, "k", 1, 2), {Kind: OpFence, Shard: 3, Version: 4}}))
	f.Add(appendGroup(nil, []Op{{Kind: OpIdem, Shard: 1, Key: "k", From: "f", ID: "i", Seq: 2}}))
	f.Add([]byte{walFormat, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		ops, err := decodeGroup(b)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("error %v is not errCorrupt", err)
			}
			return
		}
		again, err := decodeGroup(appendGroup(nil, ops))
		if err != nil || !reflect.DeepEqual(again, ops) {
			t.Fatalf("re-encoding: %v\n got %+v\nwant %+v", err, again, ops)
		}
	})
}
