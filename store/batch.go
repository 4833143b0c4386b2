package store

import (
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/shardgate/shardgate/store/wal"
)

// bucketWAL holds the index of the last log record the file has applied
// (walAppliedKey), written in the same transaction as the record's ops, so
// that reopening replays exactly the records after it.
var (
	bucketWAL     = []byte("wal")
	walAppliedKey = []byte("applied")
)

// The write path. Each group commit is applied to one long-lived bbolt
// read-write transaction (the batch), appended to the write-ahead log as
// one record and synced once; then its callers are answered. The batch is
// committed to the file (materialised) every MaterializeInterval or
// MaterializeOps, and after that the log's segments up to it are released.
// Readers read the batch itself under txMu, so they see every acknowledged
// write and nothing that is not acknowledged (txMu is held from applying a
// group until its record is synced).

// beginLocked opens the batch if none is open. txMu is held.
func (s *Store) beginLocked() error {
	if s.btx != nil {
		return nil
	}
	tx, err := s.db.Begin(true)
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	if err != nil {
		return fmt.Errorf("begin batch: %w", err)
	}
	s.btx, s.btxSince = tx, time.Now()
	return nil
}

// materializeLocked commits the batch, with the index of its last log
// record, and releases the log up to it. On failure the batch is rebuilt
// from the log records it held, so nothing acknowledged is lost, and the
// error is kept: Apply refuses new writes until a retry succeeds. txMu is
// held.
func (s *Store) materializeLocked() error {
	if s.btx == nil {
		return nil
	}
	if s.hookCrash != nil {
		s.hookCrash("materialize")
	}
	start := time.Now()
	err := s.btx.Bucket(bucketWAL).Put(walAppliedKey, encodeU64(s.applied))
	if err == nil {
		err = s.btx.Commit()
	} else {
		_ = s.btx.Rollback()
	}
	s.btx = nil
	if err != nil {
		err = fmt.Errorf("materialise log records up to %d: %w", s.applied, err)
		s.matErr = err
		if rerr := s.rebuildLocked(); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	s.matErr = nil
	n := len(s.pending)
	s.pending, s.pendingOps, s.pendingBytes = nil, 0, 0
	if s.hookCrash != nil {
		s.hookCrash("materialized")
	}
	if err := s.wal.Release(s.applied); err != nil {
		s.log.Warn("store: release log segments", "upto", s.applied, "err", err)
	}
	s.log.Debug("store: materialised", "records", n, "took", time.Since(start))
	return nil
}

// rebuildLocked throws the batch away and applies again the log records it
// held: the state after a group or update that failed half-way. If that
// fails too the store is broken until it is opened again (the log still
// holds every acknowledged write). txMu is held.
func (s *Store) rebuildLocked() error {
	if s.btx != nil {
		_ = s.btx.Rollback()
		s.btx = nil
	}
	if len(s.pending) == 0 {
		return nil
	}
	if err := s.beginLocked(); err != nil {
		s.broken = fmt.Errorf("rebuild the batch: %w", err)
		return s.broken
	}
	for _, rec := range s.pending {
		if _, err := applyRecord(s.btx, s.cfg.MaxMessages, rec); err != nil {
			_ = s.btx.Rollback()
			s.btx = nil
			s.broken = fmt.Errorf("rebuild the batch: %w", err)
			return s.broken
		}
	}
	return nil
}

// applyRecord applies the ops of one log record in tx and returns the
// statistics of the shards it touched.
func applyRecord(tx *bolt.Tx, maxMessages int, rec []byte) (map[int]shardStats, error) {
	ops, err := decodeGroup(rec)
	if err != nil {
		return nil, err
	}
	w := newTxWriter(tx, maxMessages)
	for i := range ops {
		if err := w.apply(&ops[i]); err != nil {
			return nil, fmt.Errorf("op %d (%s, shard %d): %w", i, ops[i].Kind, ops[i].Shard, err)
		}
	}
	if err := w.flush(); err != nil {
		return nil, err
	}
	return w.stats(), nil
}

// writableLocked refuses writes while the store is broken or the last
// materialisation failed (retrying it first). txMu is held.
func (s *Store) writableLocked() error {
	if s.broken != nil {
		return fmt.Errorf("store needs reopening: %w", s.broken)
	}
	if s.matErr != nil {
		if err := s.materializeLocked(); err != nil {
			return err
		}
	}
	return nil
}

// dueLocked reports whether the batch should be materialised now.
func (s *Store) dueLocked() bool {
	return s.btx != nil && (s.pendingOps >= s.cfg.MaterializeOps ||
		s.pendingBytes >= materializeBytes ||
		time.Since(s.btxSince) >= s.cfg.MaterializeInterval)
}

// materializeBytes bounds the log records a batch holds in memory.
const materializeBytes = 64 << 20

// materialize commits the batch now, if there is one.
func (s *Store) materialize() error {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	return s.materializeLocked()
}

// replayLog opens the write-ahead log and applies, in one transaction,
// every record after the one the file last applied. It runs in Open before
// the store is shared.
func (s *Store) replayLog() error {
	var applied uint64
	if err := s.db.View(func(tx *bolt.Tx) error {
		applied = decodeU64(tx.Bucket(bucketWAL).Get(walAppliedKey))
		return nil
	}); err != nil {
		return err
	}
	tx, err := s.db.Begin(true)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	replayed := 0
	l, err := wal.Open(wal.Options{Dir: s.cfg.WALDir, SegmentBytes: s.cfg.WALSegmentBytes, NoSync: s.cfg.NoSync, BeforeWrite: s.cfg.walFault},
		applied, func(index uint64, payload []byte) error {
			if _, err := applyRecord(tx, s.cfg.MaxMessages, payload); err != nil {
				return fmt.Errorf("replay log record %d: %w", index, err)
			}
			applied, replayed = index, replayed+1
			return nil
		})
	if err != nil {
		return err
	}
	if replayed > 0 {
		err = tx.Bucket(bucketWAL).Put(walAppliedKey, encodeU64(applied))
		if err == nil {
			err = tx.Commit()
		}
		if err != nil {
			_ = l.Close()
			return fmt.Errorf("commit %d replayed log records: %w", replayed, err)
		}
		s.log.Info("store: replayed the write-ahead log", "records", replayed, "upto", applied)
	}
	s.wal, s.applied = l, applied
	if err := l.Release(applied); err != nil {
		s.log.Warn("store: release log segments", "upto", applied, "err", err)
	}
	return nil
}
