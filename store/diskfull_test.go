package store

import (
	"fmt"
	"os"
	"syscall"
	"testing"
)

func TestIsDiskFull(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{syscall.ENOSPC, true},
		{syscall.EDQUOT, true},
		{&os.PathError{Op: "write", Path: "/data/shardgate.db", Err: syscall.ENOSPC}, true},
		{fmt.Errorf("store: apply 3 ops: %w", &os.PathError{Op: "write", Path: "x", Err: syscall.EDQUOT}), true},
		{syscall.EIO, false},
		{fmt.Errorf("no space left on device"), false}, // text is not a cause
		{nil, false},
	} {
		if got := IsDiskFull(tc.err); got != tc.want {
			t.Errorf("IsDiskFull(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestProbeSpaceLeavesNothing(t *testing.T) {
	s := MustOpen(t, testConfig(t.TempDir()))
	if err := s.ProbeSpace(); err != nil {
		t.Fatalf("probe on a disk with room: %v", err)
	}
	entries, err := os.ReadDir(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "store.db" && e.Name() != "store.db.wal" { // the file and its log
			t.Fatalf("the probe left %s behind", e.Name())
		}
	}
}
