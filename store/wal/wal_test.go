package wal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type rec struct {
	index   uint64
	payload string
}

// mustOpen opens the log in dir and returns what it replayed after after.
func mustOpen(t *testing.T, opts Options, after uint64) (*Log, []rec) {
	t.Helper()
	var got []rec
	l, err := Open(opts, after, func(index uint64, payload []byte) error {
		got = append(got, rec{index, string(payload)})
		return nil
	})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l, got
}

func mustAppend(t *testing.T, l *Log, payload string) uint64 {
	t.Helper()
	i, err := l.Append([]byte(payload))
	if err != nil {
		t.Fatalf("append %q: %v", payload, err)
	}
	return i
}

func wantRecs(t *testing.T, got []rec, from, to uint64) {
	t.Helper()
	if len(got) != int(to-from+1) {
		t.Fatalf("replayed %d records %v, want %d..%d", len(got), got, from, to)
	}
	for i, r := range got {
		if r.index != from+uint64(i) || !strings.HasPrefix(r.payload+"-", fmt.Sprintf("p%d-", r.index)) {
			t.Fatalf("record %d = %+v", i, r)
		}
	}
}

// closedSegment appends records p1…pN (each with suffix) to a new log in
// opts.Dir, closes it and returns its one segment's path.
func closedSegment(t *testing.T, opts Options, n uint64, suffix string) string {
	t.Helper()
	l, _ := mustOpen(t, opts, 0)
	for i := uint64(1); i <= n; i++ {
		mustAppend(t, l, fmt.Sprintf("p%d%s", i, suffix))
	}
	seg := l.Segments()[0]
	_ = l.Close()
	return seg
}

func TestAppendReopenReplaysAfter(t *testing.T) {
	opts := Options{Dir: t.TempDir()}
	l, got := mustOpen(t, opts, 0)
	if len(got) != 0 {
		t.Fatalf("new log replayed %v", got)
	}
	for i := uint64(1); i <= 10; i++ {
		if idx := mustAppend(t, l, fmt.Sprintf("p%d", i)); idx != i {
			t.Fatalf("append %d got index %d", i, idx)
		}
	}
	_ = l.Close()
	_, got = mustOpen(t, opts, 0)
	wantRecs(t, got, 1, 10)
	l, got = mustOpen(t, opts, 7)
	wantRecs(t, got, 8, 10)
	if idx := mustAppend(t, l, "p11"); idx != 11 {
		t.Fatalf("append after reopen got index %d", idx)
	}
}

// mustRotate appends n records of 60 bytes to a new log of 100-byte
// segments and checks they made at least minSegs segments.
func mustRotate(t *testing.T, n uint64, minSegs int) (Options, *Log, []string) {
	t.Helper()
	opts := Options{Dir: t.TempDir(), SegmentBytes: 100}
	l, _ := mustOpen(t, opts, 0)
	for i := uint64(1); i <= n; i++ {
		mustAppend(t, l, fmt.Sprintf("p%d-%s", i, bytes.Repeat([]byte("x"), 40)))
	}
	segs := l.Segments()
	if len(segs) < minSegs {
		t.Fatalf("%d records of 60 bytes in 100-byte segments made %d segments", n, len(segs))
	}
	return opts, l, segs
}

func TestSegmentsRotateAndRelease(t *testing.T) {
	opts, l, segs := mustRotate(t, 20, 5)
	if err := l.Release(9); err != nil {
		t.Fatal(err)
	}
	left := l.Segments()
	_ = l.Close()
	// Every record above 9 is still there, in order.
	var got []uint64
	l2, err := Open(opts, 9, func(index uint64, _ []byte) error {
		got = append(got, index)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if len(got) != 11 || got[0] != 10 || got[10] != 20 {
		t.Fatalf("after release replayed %v", got)
	}
	if len(left) >= len(segs) {
		t.Fatalf("release kept all %d segments", len(segs))
	}
	// Releasing everything keeps the active segment.
	if err := l2.Release(20); err != nil {
		t.Fatal(err)
	}
	if n := len(l2.Segments()); n != 1 {
		t.Fatalf("%d segments after releasing all", n)
	}
}

// TestTornTailIsCut writes a record and then the first part of another, as
// a crash during a write leaves it.
func TestTornTailIsCut(t *testing.T) {
	for _, tc := range []struct {
		name string
		tail func(full []byte) []byte
	}{
		{"header only", func(full []byte) []byte { return full[:10] }},
		{"half the payload", func(full []byte) []byte { return full[:len(full)-3] }},
		{"bad checksum", func(full []byte) []byte { c := bytes.Clone(full); c[len(c)-1] ^= 0xff; return c }},
		{"zeros", func(full []byte) []byte { return make([]byte, len(full)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{Dir: t.TempDir()}
			seg := closedSegment(t, opts, 3, "")
			before, _ := os.ReadFile(seg)
			torn := tc.tail(appendRecord(nil, 4, []byte("p4-torn")))
			if err := os.WriteFile(seg, append(bytes.Clone(before), torn...), 0o600); err != nil {
				t.Fatal(err)
			}
			l, got := mustOpen(t, opts, 0)
			wantRecs(t, got, 1, 3)
			if after, _ := os.ReadFile(seg); !bytes.Equal(after, before) {
				t.Fatalf("torn tail not cut: %d bytes, want %d", len(after), len(before))
			}
			if idx := mustAppend(t, l, "p4"); idx != 4 {
				t.Fatalf("append after torn tail got index %d", idx)
			}
			_ = l.Close()
			_, got = mustOpen(t, opts, 0)
			wantRecs(t, got, 1, 4)
		})
	}
}

func TestDamageBeforeTheLastSegmentIsRefused(t *testing.T) {
	opts := Options{Dir: t.TempDir(), SegmentBytes: 30}
	l, _ := mustOpen(t, opts, 0)
	for i := uint64(1); i <= 4; i++ {
		mustAppend(t, l, fmt.Sprintf("p%d-padding", i))
	}
	segs := l.Segments()
	_ = l.Close()
	b, _ := os.ReadFile(segs[0])
	b[len(b)-1] ^= 1
	if err := os.WriteFile(segs[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(opts, 0, func(uint64, []byte) error { return nil })
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open over a damaged first segment: %v", err)
	}
}

func TestMissingRecordsAreRefused(t *testing.T) {
	opts := Options{Dir: t.TempDir(), SegmentBytes: 30}
	l, _ := mustOpen(t, opts, 0)
	for i := uint64(1); i <= 4; i++ {
		mustAppend(t, l, fmt.Sprintf("p%d-padding", i))
	}
	segs := l.Segments()
	_ = l.Close()
	if err := os.Remove(segs[0]); err != nil {
		t.Fatal(err)
	}
	// The store applied nothing, but record 1 is gone.
	_, err := Open(opts, 0, func(uint64, []byte) error { return nil })
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open with record 1 missing: %v", err)
	}
	// Having applied the records it held, they are not needed.
	var second uint64
	if _, err := fmt.Sscanf(filepath.Base(segs[1]), "%x.wal", &second); err != nil {
		t.Fatal(err)
	}
	_, got := mustOpen(t, opts, second-1)
	wantRecs(t, got, second, 4)
}

func TestStoreAheadOfLogStartsANewSegment(t *testing.T) {
	opts := Options{Dir: t.TempDir()}
	l, _ := mustOpen(t, opts, 0)
	mustAppend(t, l, "p1")
	_ = l.Close()
	l, got := mustOpen(t, opts, 50)
	if len(got) != 0 {
		t.Fatalf("replayed %v", got)
	}
	if idx := mustAppend(t, l, "p51"); idx != 51 {
		t.Fatalf("first append got %d, want 51", idx)
	}
	_ = l.Close()
	_, got = mustOpen(t, opts, 50)
	wantRecs(t, got, 51, 51)
}

func TestFailedWriteLeavesNoRecord(t *testing.T) {
	var fail bool
	opts := Options{Dir: t.TempDir(), BeforeWrite: func(uint64) error {
		if fail {
			return &os.PathError{Op: "write", Path: "segment", Err: syscall.ENOSPC}
		}
		return nil
	}}
	l, _ := mustOpen(t, opts, 0)
	mustAppend(t, l, "p1")
	fail = true
	_, err := l.Append([]byte("lost"))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("append on a full disk: %v, want ENOSPC", err)
	}
	fail = false
	if idx := mustAppend(t, l, "p2"); idx != 2 {
		t.Fatalf("append after the failure got %d", idx)
	}
	_ = l.Close()
	_, got := mustOpen(t, Options{Dir: opts.Dir}, 0)
	wantRecs(t, got, 1, 2)
}

func TestReplayErrorStopsOpen(t *testing.T) {
	opts := Options{Dir: t.TempDir()}
	l, _ := mustOpen(t, opts, 0)
	mustAppend(t, l, "p1")
	_ = l.Close()
	boom := errors.New("boom")
	if _, err := Open(opts, 0, func(uint64, []byte) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("open = %v", err)
	}
}

func TestDirectoryHoldsOnlySegments(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "zz.wal"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Options{Dir: dir}, 0, func(uint64, []byte) error { return nil }); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open with a badly named segment: %v", err)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(appendRecord(nil, 1, []byte("hello")))
	f.Add(appendRecord(nil, 1<<40, nil))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		index, payload, n, err := DecodeRecord(b)
		if err != nil {
			if !errors.Is(err, ErrTorn) {
				t.Fatalf("error %v is not ErrTorn", err)
			}
			return
		}
		if n > len(b) || n != headerSize+len(payload) {
			t.Fatalf("size %d of %d bytes, payload %d", n, len(b), len(payload))
		}
		if again := appendRecord(nil, index, payload); !bytes.Equal(again, b[:n]) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// TestReservedSpaceIsReadAsTheEnd: the active segment's file is longer
// than its records (space reserved for the next ones); Close gives that
// back, and zeros a crash left after the records of any segment are read
// as its end, not as damage.
func TestReservedSpaceIsReadAsTheEnd(t *testing.T) {
	opts, l, segs := mustRotate(t, 6, 3)
	active := segs[len(segs)-1]
	if runtime.GOOS == "linux" && freeOn(t, opts.Dir) >= reserveRoom {
		if st, _ := os.Stat(active); st == nil || st.Size() < reserveBytes {
			t.Fatalf("active segment holds %v bytes, want at least the %d reserved", st.Size(), reserveBytes)
		}
	}
	_ = l.Close()
	for _, seg := range segs {
		b, _ := os.ReadFile(seg)
		if _, _, n, err := DecodeRecord(b); err != nil || len(b)%n != 0 || len(b) > 2*n {
			t.Fatalf("%s after close: %d bytes, want whole records only (%d each, %v)", seg, len(b), n, err)
		}
	}
	// A crash leaves reserved zeros after the records, in the segment
	// that was active then and is not the last one now.
	for _, seg := range segs[:2] {
		f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(make([]byte, 300)); err != nil {
			t.Fatal(err)
		}
		_ = f.Close()
	}
	l, got := mustOpen(t, opts, 0)
	wantRecs(t, got, 1, 6)
	if idx := mustAppend(t, l, "p7"); idx != 7 {
		t.Fatalf("append after reopen got index %d", idx)
	}
	_ = l.Close()
	_, got = mustOpen(t, opts, 0)
	wantRecs(t, got, 1, 7)
}

func freeOn(t *testing.T, dir string) int64 {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return freeBytes(f)
}

// Damage in the last segment with intact records after it is not a torn
// write: each record is synced before the next is written, so the damaged
// one was acknowledged. Cutting the log there dropped it and every later
// record, and the store then handed their seqs out again. Open refuses.
// Damage with nothing intact after it (garbage, zeros) is still a torn tail.
func TestDamageFollowedByIntactRecordsIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name    string
		damage  func(b []byte, rec2 int)
		refused bool
	}{
		{"a payload byte of record 2", func(b []byte, rec2 int) { b[rec2+headerSize+1] ^= 0x40 }, true},
		{"the length of record 2", func(b []byte, rec2 int) { b[rec2] ^= 0x7f }, true},
		{"the index of record 2", func(b []byte, rec2 int) { b[rec2+9] ^= 1 }, true},
		{"record 2 to the end replaced by garbage", func(b []byte, rec2 int) {
			for i := rec2; i < len(b); i++ {
				b[i] = byte(i*7 + 3)
			}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{Dir: t.TempDir()}
			seg := closedSegment(t, opts, 4, "-some-payload")
			b, _ := os.ReadFile(seg)
			rec2 := len(appendRecord(nil, 1, []byte("p1-some-payload")))
			tc.damage(b, rec2)
			if err := os.WriteFile(seg, b, 0o600); err != nil {
				t.Fatal(err)
			}
			var got []rec
			l, err := Open(opts, 0, func(index uint64, payload []byte) error {
				got = append(got, rec{index, string(payload)})
				return nil
			})
			if tc.refused {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("open: %v (replayed %v), want ErrCorrupt", err, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("open over a torn tail: %v", err)
			}
			_ = l.Close()
			wantRecs(t, got, 1, 1)
		})
	}
}
