package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// runSweeper trims messages older than MaxAge every SweepInterval until ctx
// ends.
func (s *Store) runSweeper(ctx context.Context) {
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := s.sweep(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("store: age sweep failed", "err", err, "trimmed", n)
		case n > 0:
			s.log.Debug("store: age sweep", "trimmed", n)
		}
	}
}

// sweep finds, per key, the run of messages at the front of the inbox whose
// TS is older than MaxAge and trims it with an OpTrim through the committer,
// so retention shares the one write path and its statistics. It stops at the
// first young message of a key: inboxes are trimmed from the front only, so
// a key's floor stays meaningful. It returns how many messages it trimmed.
func (s *Store) sweep(ctx context.Context) (int, error) {
	if s.cfg.MaxAge <= 0 {
		return 0, nil
	}
	cutoff := s.cfg.Now().Add(-s.cfg.MaxAge).UnixMilli()
	shards, err := s.Shards()
	if err != nil {
		return 0, err
	}
	total := 0
	for _, shard := range shards {
		ops, n, err := s.expired(shard, cutoff)
		if err != nil {
			return total, err
		}
		for len(ops) > 0 {
			part := ops[:min(len(ops), s.cfg.MaxBatchOps)]
			if err := s.Apply(ctx, part); err != nil {
				return total, err
			}
			ops = ops[len(part):]
		}
		total += n
	}
	return total, nil
}

// expired lists an OpTrim for every key of shard whose oldest messages have
// TS < cutoff (ms), and how many messages they cover.
func (s *Store) expired(shard int, cutoff int64) ([]Op, int, error) {
	var ops []Op
	n := 0
	err := s.view(func(tx *bolt.Tx) error {
		b := shardBucket(tx, shard)
		if b == nil {
			return nil
		}
		keys, msgs := b.Cursor(), b.Cursor()
		for k, _ := keys.Seek([]byte{recKey}); k != nil && k[0] == recKey; k, _ = keys.Next() {
			key, _, err := readLP(k[1:])
			if err != nil {
				return fmt.Errorf("record %x: %w", k, err)
			}
			var upto uint64
			p := prefixed(recMsg, key)
			for mk, mv := msgs.Seek(p); mk != nil && bytes.HasPrefix(mk, p); mk, mv = msgs.Next() {
				ts, err := msgTS(mv)
				if err != nil {
					return fmt.Errorf("record %x: %w", mk, err)
				}
				if ts >= cutoff || len(mk) != len(p)+8 {
					break
				}
				upto = binary.BigEndian.Uint64(mk[len(p):])
				n++
			}
			if upto > 0 {
				ops = append(ops, Op{Kind: OpTrim, Shard: shard, Key: key, Seq: upto})
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("store: find expired messages of shard %d: %w", shard, err)
	}
	return ops, n, nil
}
