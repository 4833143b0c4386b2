package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// DefaultSnapshotChunk is the chunk size Snapshot uses when given <= 0.
const DefaultSnapshotChunk = 1 << 20

// Snapshot streams every op needed to rebuild shard on another store, read
// from one read transaction, in chunks of about chunkBytes. Applying the
// chunks in order with Apply to a store that holds nothing of the shard
// reproduces it exactly: messages, cursors, idempotency records, the fence,
// and each key's last_seq and trimmed floor (as OpLastSeq and OpTrim, which
// come before the key's idempotency records and messages).
//
// fn runs inside the read transaction and may keep the chunk. It should not
// stall for long: bbolt cannot remap the file while the transaction is
// open, and a remap would then make the committer wait. ctx is checked
// between chunks.
func (s *Store) Snapshot(ctx context.Context, shard int, chunkBytes int, fn func([]Op) error) error {
	if chunkBytes <= 0 {
		chunkBytes = DefaultSnapshotChunk
	}
	var chunk []Op
	size := 0
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		err := fn(chunk)
		chunk, size = nil, 0
		return err
	}
	emit := func(op Op) error {
		chunk = append(chunk, op)
		if size += opBytes(&op); size >= chunkBytes {
			return flush()
		}
		return nil
	}
	err := s.snapshotView(func(tx *bolt.Tx) error {
		b := shardBucket(tx, shard)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if err := recordOps(shard, k, v, emit); err != nil {
				return err
			}
		}
		return flush()
	})
	if err != nil {
		return fmt.Errorf("store: snapshot shard %d: %w", shard, err)
	}
	return nil
}

// snapshotView materialises the batch and runs fn in a read transaction
// of its own that begins before any later write: fn may take long, and a
// reader of the batch would stop every writer for as long.
func (s *Store) snapshotView(fn func(tx *bolt.Tx) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	s.txMu.Lock()
	err := s.materializeLocked()
	var tx *bolt.Tx
	if err == nil {
		tx, err = s.db.Begin(false)
	}
	s.txMu.Unlock()
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	return fn(tx)
}

// recordOps turns one record of a shard bucket into the ops that recreate it.
func recordOps(shard int, k, v []byte, emit func(Op) error) error {
	if len(k) == 0 {
		return errCorrupt
	}
	switch k[0] {
	case recStats:
		return nil // rebuilt by the receiving store as it applies messages
	case recFence:
		return emit(Op{Kind: OpFence, Shard: shard, Version: decodeU64(v)})
	}
	key, rest, err := readLP(k[1:])
	if err != nil {
		return fmt.Errorf("record %x: %w", k, err)
	}
	switch k[0] {
	case recKey:
		rec, err := decodeKeyRec(v)
		if err != nil {
			return err
		}
		if rec.floor > 0 {
			if err := emit(Op{Kind: OpTrim, Shard: shard, Key: key, Seq: rec.floor}); err != nil {
				return err
			}
		}
		if rec.last > 0 {
			return emit(Op{Kind: OpLastSeq, Shard: shard, Key: key, Seq: rec.last})
		}
		return nil
	case recCursor:
		return emit(Op{Kind: OpCursor, Shard: shard, Key: key, Seq: decodeU64(v)})
	case recIdem:
		from, id, err := readLP(rest)
		if err != nil {
			return fmt.Errorf("record %x: %w", k, err)
		}
		return emit(Op{Kind: OpIdem, Shard: shard, Key: key, From: from, ID: string(id), Seq: decodeU64(v)})
	case recMsg:
		if len(rest) != 8 {
			return fmt.Errorf("record %x: %w", k, errCorrupt)
		}
		m, err := decodeMsg(binary.BigEndian.Uint64(rest), v)
		if err != nil {
			return fmt.Errorf("record %x: %w", k, err)
		}
		return emit(Op{Kind: OpMessage, Shard: shard, Key: key, Msg: m})
	}
	return fmt.Errorf("record %x: unknown kind: %w", k, errCorrupt)
}

// DropShard deletes everything the shard holds. Dropping a shard that holds
// nothing is not an error. The file does not shrink; its pages are reused.
func (s *Store) DropShard(shard int) error {
	if shard < 0 || shard > maxShard {
		return nil
	}
	if s.closed.Load() {
		return fmt.Errorf("store: drop shard %d: %w", shard, ErrClosed)
	}
	// txMu is held across the commit and the statistics, so the counters
	// follow the commit order.
	s.txMu.Lock()
	defer s.txMu.Unlock()
	err := s.updateLocked(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketShards).DeleteBucket(shardName(shard))
		if errors.Is(err, berrors.ErrBucketNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("store: drop shard %d: %w", shard, err)
	}
	s.statsMu.Lock()
	s.setStatsLocked(shard, shardStats{})
	s.statsMu.Unlock()
	return nil
}
