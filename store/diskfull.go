package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// IsDiskFull reports whether err says the file system has no room left for
// a write: no space (ENOSPC) or the user's quota used up (EDQUOT). A write
// that failed so changed nothing that was acknowledged, and may succeed
// once space returns; the caller should refuse further writes until then
// rather than fail each one in the store.
func IsDiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// probeBytes is what ProbeSpace writes: more than a typical group commit,
// so that a disk that passes the probe can usually take the next commit.
const probeBytes = 512 << 10

// ProbeSpace writes probeBytes to a scratch file beside the store's file,
// syncs it and removes it: nil means the disk has room again. It does not
// touch the store itself, so it is safe beside the committer.
func (s *Store) ProbeSpace() error {
	path := filepath.Join(filepath.Dir(s.cfg.Path), ".space-probe")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("store: probe %s: %w", path, err)
	}
	defer os.Remove(path)
	_, err = f.Write(make([]byte, probeBytes))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store: probe %s: %w", path, err)
	}
	return nil
}

// Dir is the directory holding the store's file (the node's data dir).
func (s *Store) Dir() string { return filepath.Dir(s.cfg.Path) }
