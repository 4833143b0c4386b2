package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fillStore writes messages to a few shards and closes the store, leaving
// the file and its log behind.
func fillStore(t *testing.T, cfg Config) {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= 50; seq++ {
		if err := s.Apply(context.Background(), []Op{msgOp(int(seq%7), "k", seq, 1)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// A store whose file or log is damaged is refused with one sentence that
// says what to do, never opened as if nothing had happened. (Damage to the
// file's data pages, rather than its meta pages, still ends in bbolt's own
// panic while it walks the pages on open: it panics in a goroutine of its
// own, out of reach of a recover.)
func TestDamagedStoreIsRefusedWithAWayOut(t *testing.T) {
	const advice = "move its data dir aside and start it again on an empty one"
	t.Run("file meta pages zeroed", func(t *testing.T) {
		cfg := testConfig(t.TempDir())
		cfg.MaterializeInterval = 1 // every write reaches the file
		fillStore(t, cfg)
		b, err := os.ReadFile(cfg.Path)
		if err != nil {
			t.Fatal(err)
		}
		clear(b[:2*4096]) // both meta pages
		if err := os.WriteFile(cfg.Path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(cfg)
		if err == nil {
			s.Close()
			t.Fatal("a store without meta pages opened")
		}
		if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), advice) || strings.Contains(err.Error(), "\n") {
			t.Fatalf("open: %q, want one line that marks the damage and says what to do", err)
		}
	})
	t.Run("log record in the middle", func(t *testing.T) {
		cfg := testConfig(t.TempDir())
		cfg.MaterializeInterval = 1 << 40 // nothing leaves the log
		fillStore(t, cfg)
		segs, _ := filepath.Glob(filepath.Join(cfg.withDefaults().WALDir, "*.wal"))
		slices.Sort(segs)
		if len(segs) == 0 {
			t.Fatalf("no log segment in %s", cfg.WALDir)
		}
		seg := segs[len(segs)-1]
		b, err := os.ReadFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/3] ^= 0x40 // well before the last record
		if err := os.WriteFile(seg, b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(cfg)
		if err == nil {
			s.Close()
			t.Fatal("a store whose log is damaged before its last records opened")
		}
		if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), advice) {
			t.Fatalf("open: %v, want the damage marked and what to do", err)
		}
	})
}
