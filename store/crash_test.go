package store

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The crash test runs the store in a child process (this test binary run
// again with crashDirEnv set), kills it with SIGKILL at random moments and
// at random points of the write path, and then checks in this process that
// every write the child saw acknowledged is there, exactly once.
const (
	crashDirEnv   = "SHARDGATE_STORE_CRASH_DIR"
	crashPointEnv = "SHARDGATE_STORE_CRASH_POINT" // point:n — die at the n-th pass of point
	crashWriters  = 6
	crashKeep     = 64 // MaxMessages in the child: retention runs on append
)

func crashConfig(dir string) Config {
	cfg := DefaultConfig(filepath.Join(dir, "store.db"))
	cfg.MaxMessages = crashKeep
	cfg.WALSegmentBytes = 16 << 10 // segments rotate and are released often
	cfg.MaterializeInterval = 3 * time.Millisecond
	cfg.MaterializeOps = 300
	return cfg
}

func crashKey(w int) (shard int, key string) { return w % 4, fmt.Sprintf("key-%d", w) }

// crashChild appends until it is killed: each writer owns one key and
// sends message, idempotency record and cursor for the next seq in one
// call, and prints "ack <writer> <seq>" once the call returns.
func crashChild(dir string) {
	cfg := crashConfig(dir)
	s, err := Open(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(3)
	}
	if p := os.Getenv(crashPointEnv); p != "" {
		at, count, _ := strings.Cut(p, ":")
		var n int64
		if _, err := fmt.Sscan(count, &n); err != nil {
			fmt.Fprintln(os.Stderr, "child crash point:", err)
			os.Exit(3)
		}
		var hits atomic.Int64
		s.hookCrash = func(point string) {
			if point == at && hits.Add(1) == n {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // the signal is on its way
			}
		}
	}
	var out sync.Mutex
	var wg sync.WaitGroup
	for w := range crashWriters {
		wg.Go(func() {
			shard, key := crashKey(w)
			last, err := s.LastSeq(shard, key)
			if err != nil {
				fmt.Fprintln(os.Stderr, "child last seq:", err)
				os.Exit(3)
			}
			for seq := last + 1; seq <= last+5000; seq++ {
				op := msgOp(shard, key, seq, 0)
				op.Msg.ID = fmt.Sprintf("id-%d", seq)
				err := s.Apply(context.Background(), []Op{op,
					{Kind: OpIdem, Shard: shard, Key: key, From: op.Msg.From, ID: op.Msg.ID, Seq: seq},
					{Kind: OpCursor, Shard: shard, Key: key, Seq: seq - 1},
				})
				if err != nil {
					fmt.Fprintln(os.Stderr, "child apply:", err)
					os.Exit(3)
				}
				out.Lock()
				fmt.Fprintf(os.Stdout, "ack %d %d\n", w, seq)
				out.Unlock()
			}
		})
	}
	wg.Wait()
	_ = s.Close()
	os.Exit(0)
}

func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		crashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("starts 20 processes")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	points := []string{"log", "logged", "materialize", "materialized"}
	acked := make([]uint64, crashWriters)
	for iter := range 20 {
		point := ""
		killAfter := 1 + rng.IntN(400) // acks before an outside kill
		if iter == 0 {
			killAfter = 1 // most keys have nothing stored yet
		}
		if iter%2 == 1 {
			point = fmt.Sprintf("%s:%d", points[rng.IntN(len(points))], 1+rng.IntN(40))
		}
		got := runCrashChild(t, dir, point, killAfter)
		for w, seq := range got {
			acked[w] = max(acked[w], seq)
		}
		torn := iter%4 == 3
		if torn {
			tearLogTail(t, dir)
		}
		t.Logf("run %d: crash point %q, outside kill after %d acks, torn tail %v: acked up to %v", iter, point, killAfter, torn, acked)
		checkCrashedStore(t, dir, acked)
	}
}

// runCrashChild runs one child until it dies and returns the highest seq
// each writer saw acknowledged.
func runCrashChild(t *testing.T, dir, point string, killAfter int) []uint64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKeepsAcknowledgedWrites$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashPointEnv+"="+point)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	got := make([]uint64, crashWriters)
	sc := bufio.NewScanner(stdout)
	n := 0
	for sc.Scan() {
		var w int
		var seq uint64
		if _, err := fmt.Sscanf(sc.Text(), "ack %d %d", &w, &seq); err != nil || w < 0 || w >= crashWriters {
			continue // the test framework's own output
		}
		if seq <= got[w] {
			t.Fatalf("writer %d acknowledged seq %d after %d", w, seq, got[w])
		}
		got[w] = seq
		if n++; n == killAfter {
			_ = cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		if err != nil || n < crashWriters*5000 {
			t.Fatalf("child ended without being killed: %v\n%s", err, stderr.String())
		}
	}
	return got
}

// tearLogTail appends the first part of a record to the newest segment, as
// a crash in the middle of a write leaves it.
func tearLogTail(t *testing.T, dir string) {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(dir, "store.db.wal", "*.wal"))
	if len(segs) == 0 {
		t.Fatal("no log segment")
	}
	slices.Sort(segs)
	f, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// A header promising 200 bytes, then 30 of them.
	rec := make([]byte, 0, 64)
	rec = append(rec, 200, 0, 0, 0, 1, 2, 3, 4, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0)
	rec = append(rec, make([]byte, 30)...)
	if _, err := f.Write(rec); err != nil {
		t.Fatal(err)
	}
}

// checkCrashedStore opens the store the child left and holds it to what
// was acknowledged.
func checkCrashedStore(t *testing.T, dir string, acked []uint64) {
	t.Helper()
	cfg := crashConfig(dir)
	cfg.NoSync = true
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("reopen after the crash: %v", err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	for w := range crashWriters {
		shard, key := crashKey(w)
		page, err := s.History(shard, key, 0, MaxReadLimit)
		if err != nil {
			t.Fatal(err)
		}
		last := page.LastSeq
		if last < acked[w] {
			t.Fatalf("%s: last seq %d, but %d was acknowledged", key, last, acked[w])
		}
		// Retention keeps the newest crashKeep, with no gap and nothing
		// twice.
		wantFirst := uint64(1)
		if last > crashKeep {
			wantFirst = last - crashKeep + 1
		}
		if page.FirstSeq != wantFirst || uint64(len(page.Messages)) != last-wantFirst+1 {
			t.Fatalf("%s: first seq %d and %d messages for last seq %d", key, page.FirstSeq, len(page.Messages), last)
		}
		for i, m := range page.Messages {
			if m.Seq != wantFirst+uint64(i) || string(m.Data) != fmt.Sprintf(`{"n":%d}`, m.Seq) || m.ID != fmt.Sprintf("id-%d", m.Seq) {
				t.Fatalf("%s: message %d is %+v", key, i, m)
			}
			if seq, ok, _ := s.Idem(shard, key, m.From, m.ID); !ok || seq != m.Seq {
				t.Fatalf("%s: idempotency record of seq %d = %d, %v", key, m.Seq, seq, ok)
			}
		}
		if wantFirst > 1 {
			if _, ok, _ := s.Idem(shard, key, "sender", fmt.Sprintf("id-%d", wantFirst-1)); ok {
				t.Fatalf("%s: idempotency record of trimmed seq %d kept", key, wantFirst-1)
			}
		}
		// Each write sets the cursor to the seq before its own; a key the
		// child never stored has none.
		wantCursor := uint64(0)
		if last > 0 {
			wantCursor = last - 1
		}
		if c, _ := s.Cursor(shard, key); c != wantCursor {
			t.Fatalf("%s: cursor %d, want %d", key, c, wantCursor)
		}
		checkKeyCount(t, s, shard, key)
	}
	for shard := range 4 {
		checkStats(t, s, shard)
	}
}
